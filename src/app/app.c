#include "app/app.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"
#include "app/extractsvc.h"
#include "crypto/keys.h"
#include "jobs/runner.h"
#include "pipeline/embed.h"
#include "store/rotate.h"

/* One process at a time runs jobs on a data directory: recovery marks every
 * unfinished job as interrupted, which is only true when nobody else runs
 * them. The kernel drops the lock when the process dies, so a crash never
 * leaves it behind. */
static int lock_jobs(struct vz_app *app, struct vz_err *err)
{
    char path[PATH_MAX + 16];
    int fd;
    snprintf(path, sizeof(path), "%s/jobs.lock", app->cfg->data_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return vz_err_set(err, VZ_ECONFLICT,
                          "another vectoraiz process (a server or an extract) is running jobs on "
                          "%s; use its API, or stop it first",
                          app->cfg->data_dir);
    }
    app->jobs_lock_fd = fd;
    return VZ_OK;
}

/* Refuse to start when the key file is missing but credentials are stored:
 * vz_keys_load() would make a new key and every stored credential would be
 * unreadable. */
static int check_key_file(struct vz_app *app, struct vz_err *err)
{
    char path[PATH_MAX + 16];
    size_t rows = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", app->cfg->data_dir, VZ_KEYS_FILE_NAME);
    if (access(path, F_OK) == 0 || errno != ENOENT)
        return VZ_OK; /* vz_keys_load() reports anything else */
    rc = vz_store_credential_rows(app->store, &rows, err);
    if (rc < 0 || rows == 0)
        return rc;
    return vz_err_set(err, VZ_ECRYPTO,
                      "key file %s is missing but the metadata store holds %zu stored "
                      "connection%s encrypted with it; restore %s from a backup (or set "
                      "%s to the secret they were stored with). No new key was generated",
                      path, rows, rows == 1 ? "" : "s", VZ_KEYS_FILE_NAME, VZ_KEYS_ENV_SECRET);
}

int vz_app_open(struct vz_app *app, struct vz_config *cfg, unsigned flags, struct vz_err *err)
{
    struct vz_keys_info info;
    int rc;

    memset(app, 0, sizeof(*app));
    app->jobs_lock_fd = -1;
    pthread_mutex_init(&app->embed_mu, NULL);
    app->cfg = cfg;
    vz_keyring_init(&app->keys);
    rc = vz_mkdir_p(cfg->data_dir, 0700, err);
    if (rc < 0)
        goto fail;
    if (flags & VZ_APP_WITH_AUTH) {
        rc = vz_auth_open(cfg->data_dir, &app->auth, app->new_token, err);
        if (rc < 0)
            goto fail;
    }
    rc = vz_store_open(cfg->data_dir, &app->store, err);
    if (rc < 0)
        goto fail;
    rc = vz_store_migrate(app->store, NULL, err);
    if (rc < 0)
        goto fail;
    /* The store before the key: a key file created next to stored
     * credentials would hide their loss until the first connection test. */
    if (!(cfg->secret && *cfg->secret)) {
        rc = check_key_file(app, err);
        if (rc < 0)
            goto fail;
    }
    rc = vz_keys_load(cfg->data_dir, cfg->secret, cfg->secret_old, &app->keys, &info, err);
    if (rc < 0)
        goto fail;
    if (info.source == VZ_KEYS_FILE_CREATED)
        vz_warn("generated credentials key %s (mode 0600); back it up: losing it loses every "
                "stored database password",
                info.path);
    if (flags & VZ_APP_WITH_JOBS) {
        rc = lock_jobs(app, err);
        if (rc < 0)
            goto fail;
        rc = vz_extractsvc_recover(app, err);
        if (rc < 0)
            goto fail;
        rc = vz_runner_start(cfg->extract_workers, &app->runner, err);
        if (rc < 0)
            goto fail;
    }
    return VZ_OK;
fail:
    vz_app_close(app);
    return rc;
}

void vz_app_close(struct vz_app *app)
{
    vz_embed_close(app->embedder);
    app->embedder = NULL;
    /* Workers first: they use the store. */
    vz_runner_stop(app->runner);
    app->runner = NULL;
    vz_store_close(app->store);
    app->store = NULL;
    if (app->jobs_lock_fd >= 0)
        close(app->jobs_lock_fd);
    app->jobs_lock_fd = -1;
    vz_auth_free(app->auth);
    app->auth = NULL;
    OPENSSL_cleanse(app->new_token, sizeof(app->new_token));
    vz_keyring_release(&app->keys);
}
