/* database_connections rows: encrypted at rest, plaintext only in memory.
 *
 * host, database, username, password and error_message are stored as Fernet
 * tokens (the spec's "Encrypted" columns, plus error messages, which quote
 * user and host names); the other columns are plain. Every function that
 * decrypts a row also registers its secrets with the log redactor, so no
 * later log line can show them. Thread-safe (store lock). */
#ifndef VZ_STORE_CONNECTIONS_H
#define VZ_STORE_CONNECTIONS_H

#include <stddef.h>

#include "core/err.h"
#include "crypto/fernet.h"
#include "store/store.h"

struct vz_connection {
    char id[40];
    char *name;
    char *db_type; /* "postgresql" | "mysql" */
    char *host;
    int port;
    char *database;
    char *username;
    char *password; /* NULL unless asked for (VZ_CONN_WITH_PASSWORD) */
    char *ssl_mode;
    char *extra_options;                    /* JSON object text or NULL */
    char *last_connected_at, *last_sync_at; /* NULL when never */
    long long table_count;                  /* -1 when unknown */
    char *status;                           /* configured | connected | error */
    char *error_message;                    /* NULL when none */
    char *created_at, *updated_at;
};

#define VZ_CONN_WITH_PASSWORD 0x1u

/* Free c and every string in it; the password is wiped first. NULL ok. */
void vz_connection_free(struct vz_connection *c);
void vz_connection_list_free(struct vz_connection **list, size_t n);

/* Insert c (id, name, db_type, host, port, database, username, password,
 * ssl_mode, extra_options must be set; the rest is defaulted). Sets
 * created_at/updated_at in c. */
int vz_conn_insert(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection *c,
                   struct vz_err *err) VZ_MUST_CHECK;

/* On success *out is new (vz_connection_free()). VZ_ENOTFOUND for an
 * unknown id; VZ_ECRYPTO when the row cannot be decrypted with any key
 * (message says which key setting to check). */
int vz_conn_get(struct vz_store *st, const struct vz_keyring *ring, const char *id, unsigned flags,
                struct vz_connection **out, struct vz_err *err) VZ_MUST_CHECK;

/* Every connection ordered by name, without passwords. *list is new
 * (vz_connection_list_free()). */
int vz_conn_list(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection ***list,
                 size_t *n, struct vz_err *err) VZ_MUST_CHECK;

/* Write every settable column of c (name, db_type, host, port, database,
 * username, ssl_mode, extra_options; the password only when c->password is
 * not NULL). Changing settings resets status to "configured". */
int vz_conn_update(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection *c,
                   struct vz_err *err) VZ_MUST_CHECK;

/* VZ_ENOTFOUND if there was no such row. Datasets extracted from it stay,
 * with source_connection_id set to NULL (orphaned). */
int vz_conn_delete(struct vz_store *st, const char *id, struct vz_err *err) VZ_MUST_CHECK;

/* Record a test or schema result: status "connected" (error cleared,
 * last_connected_at = now) or "error" with a message. table_count < 0
 * leaves it unchanged. */
int vz_conn_set_status(struct vz_store *st, const struct vz_keyring *ring, const char *id, int ok,
                       const char *error_message, long long table_count,
                       struct vz_err *err) VZ_MUST_CHECK;

/* last_sync_at = now (after a successful extraction). */
int vz_conn_touch_sync(struct vz_store *st, const char *id, struct vz_err *err) VZ_MUST_CHECK;

#endif
