/* struct vz_app: everything a running vectoraiz owns, passed explicitly to
 * the HTTP handlers and CLI commands (no globals). */
#ifndef VZ_APP_APP_H
#define VZ_APP_APP_H

#include <pthread.h>

#include "auth/auth.h"
#include "core/config.h"
#include "core/err.h"
#include "crypto/fernet.h"
#include "store/store.h"

struct vz_app {
    struct vz_config *cfg;        /* borrowed from the caller */
    struct vz_store *store;       /* owned */
    struct vz_keyring keys;       /* credentials keys; wiped on close */
    struct vz_auth *auth;         /* owned */
    struct vz_runner *runner;     /* owned: background jobs (extraction) */
    int jobs_lock_fd;             /* flock on <data>/jobs.lock while running jobs, else -1 */
    struct vz_embedder *embedder; /* query embedder, opened on first search */
    pthread_mutex_t embed_mu;
    /* Set when this start created the admin token: shown once, then wiped. */
    char new_token[VZ_AUTH_TOKEN_TEXT_MAX + 1];
};

/* Create the data directory, load the credentials key (creating the key
 * file on first start), open the metadata store and apply migrations.
 * On failure everything opened is closed again and err says what to fix. */
#define VZ_APP_WITH_AUTH 0x1u /* also load (or create) the admin token: the server */
#define VZ_APP_WITH_JOBS 0x2u /* also start the job workers (and recover old jobs) */

int vz_app_open(struct vz_app *app, struct vz_config *cfg, unsigned flags,
                struct vz_err *err) VZ_MUST_CHECK;
void vz_app_close(struct vz_app *app);

#endif
