#include "store/connections.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void vz_connection_free(struct vz_connection *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->db_type);
    wipe_free(c->host);
    wipe_free(c->database);
    wipe_free(c->username);
    wipe_free(c->password);
    free(c->ssl_mode);
    free(c->extra_options);
    free(c->last_connected_at);
    free(c->last_sync_at);
    free(c->status);
    wipe_free(c->error_message);
    free(c->created_at);
    free(c->updated_at);
    free(c);
}

void vz_connection_list_free(struct vz_connection **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        vz_connection_free(list[i]);
    free(list);
}

/* Encrypt s into a new NUL-terminated token (free()). */
static int seal(const struct vz_keyring *ring, const char *s, char **out, struct vz_err *err)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    int rc = vz_keyring_encrypt(ring, s, strlen(s), &b, err);
    *out = NULL;
    if (rc < 0) {
        vz_buf_release(&b);
        return rc;
    }
    *out = vz_buf_take(&b, NULL);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

/* Decrypt a column into a new string and register it with the redactor. */
static int unseal(const struct vz_keyring *ring, sqlite3_stmt *q, int col, char **out,
                  struct vz_err *err)
{
    const char *tok = (const char *)sqlite3_column_text(q, col);
    struct vz_buf b = VZ_BUF_INIT(0);
    int rc;
    *out = NULL;
    if (!tok)
        return VZ_OK;
    rc = vz_keyring_decrypt(ring, tok, strlen(tok), 0, &b, err);
    if (rc < 0) {
        vz_buf_release(&b);
        return vz_err_set(err, VZ_ECRYPTO,
                          "stored credentials cannot be decrypted with the configured key; check "
                          "VECTORAIZ_APIKEY_HMAC_SECRET (and _OLD) or the data directory's "
                          "secret.key");
    }
    *out = vz_buf_take(&b, NULL);
    if (!*out)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (vz_log_add_secret(*out) < 0)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    return VZ_OK;
}

static int dup_col(sqlite3_stmt *q, int col, char **out, struct vz_err *err)
{
    const char *s = (const char *)sqlite3_column_text(q, col);
    *out = NULL;
    if (!s)
        return VZ_OK;
    *out = strdup(s);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

#define CONN_COLUMNS                                                                               \
    "id, name, db_type, host, port, database, username, ssl_mode, extra_options, "                 \
    "last_connected_at, last_sync_at, table_count, status, error_message, created_at, "            \
    "updated_at, password_encrypted"

static int row_to_conn(const struct vz_keyring *ring, sqlite3_stmt *q, unsigned flags,
                       struct vz_connection **out, struct vz_err *err)
{
    struct vz_connection *c = calloc(1, sizeof(*c));
    int rc;
    *out = NULL;
    if (!c)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    snprintf(c->id, sizeof(c->id), "%s", (const char *)sqlite3_column_text(q, 0));
    c->port = sqlite3_column_int(q, 4);
    c->table_count = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 11);
    if ((rc = dup_col(q, 1, &c->name, err)) < 0 || (rc = dup_col(q, 2, &c->db_type, err)) < 0 ||
        (rc = unseal(ring, q, 3, &c->host, err)) < 0 ||
        (rc = unseal(ring, q, 5, &c->database, err)) < 0 ||
        (rc = unseal(ring, q, 6, &c->username, err)) < 0 ||
        (rc = dup_col(q, 7, &c->ssl_mode, err)) < 0 ||
        (rc = dup_col(q, 8, &c->extra_options, err)) < 0 ||
        (rc = dup_col(q, 9, &c->last_connected_at, err)) < 0 ||
        (rc = dup_col(q, 10, &c->last_sync_at, err)) < 0 ||
        (rc = dup_col(q, 12, &c->status, err)) < 0 ||
        (rc = unseal(ring, q, 13, &c->error_message, err)) < 0 ||
        (rc = dup_col(q, 14, &c->created_at, err)) < 0 ||
        (rc = dup_col(q, 15, &c->updated_at, err)) < 0)
        goto fail;
    if (flags & VZ_CONN_WITH_PASSWORD) {
        rc = unseal(ring, q, 16, &c->password, err);
        if (rc < 0)
            goto fail;
    }
    *out = c;
    return VZ_OK;
fail:
    vz_connection_free(c);
    return rc;
}

int vz_conn_get(struct vz_store *st, const struct vz_keyring *ring, const char *id, unsigned flags,
                struct vz_connection **out, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, step;
    *out = NULL;
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "SELECT " CONN_COLUMNS " FROM database_connections WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "reading connection", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    step = sqlite3_step(q);
    if (step == SQLITE_ROW)
        rc = row_to_conn(ring, q, flags, out, err);
    else if (step == SQLITE_DONE)
        rc = vz_err_set(err, VZ_ENOTFOUND, "no connection with id %s", id);
    else
        rc = vz_store_fail(st, "reading connection", err);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    return rc;
}

int vz_conn_list(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection ***list,
                 size_t *n, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    struct vz_connection **v = NULL;
    size_t count = 0, cap = 0;
    int rc = VZ_OK, step;

    *list = NULL;
    *n = 0;
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "SELECT " CONN_COLUMNS
                           " FROM database_connections ORDER BY name COLLATE NOCASE, id",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "listing connections", err);
        goto out;
    }
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct vz_connection **nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        rc = row_to_conn(ring, q, 0, &v[count], err);
        if (rc < 0)
            goto out;
        count++;
    }
    if (step != SQLITE_DONE)
        rc = vz_store_fail(st, "listing connections", err);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    if (rc < 0) {
        vz_connection_list_free(v, count);
        return rc;
    }
    *list = v;
    *n = count;
    return VZ_OK;
}

/* The encrypted columns of c, sealed. */
struct sealed {
    char *host, *database, *username, *password;
};

static void sealed_release(struct sealed *s)
{
    free(s->host);
    free(s->database);
    free(s->username);
    free(s->password);
}

static int seal_conn(const struct vz_keyring *ring, const struct vz_connection *c, struct sealed *s,
                     struct vz_err *err)
{
    int rc;
    memset(s, 0, sizeof(*s));
    if ((rc = seal(ring, c->host, &s->host, err)) < 0 ||
        (rc = seal(ring, c->database, &s->database, err)) < 0 ||
        (rc = seal(ring, c->username, &s->username, err)) < 0 ||
        (c->password && (rc = seal(ring, c->password, &s->password, err)) < 0)) {
        sealed_release(s);
        return rc;
    }
    return VZ_OK;
}

static int register_secrets(const struct vz_connection *c, struct vz_err *err)
{
    if (vz_log_add_secret(c->host) < 0 || vz_log_add_secret(c->database) < 0 ||
        vz_log_add_secret(c->username) < 0 || vz_log_add_secret(c->password) < 0)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    return VZ_OK;
}

static int replace_str(char **dst, const char *src, struct vz_err *err)
{
    char *d = src ? strdup(src) : NULL;
    if (src && !d)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    free(*dst);
    *dst = d;
    return VZ_OK;
}

int vz_conn_insert(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection *c,
                   struct vz_err *err)
{
    struct sealed s;
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;

    if (!c->password)
        return vz_err_set(err, VZ_EINVAL, "password is required");
    rc = register_secrets(c, err);
    if (rc < 0)
        return rc;
    rc = seal_conn(ring, c, &s, err);
    if (rc < 0)
        return rc;
    vz_now_iso(now);
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "INSERT INTO database_connections(id, name, db_type, host, port, "
                           "database, username, password_encrypted, ssl_mode, extra_options, "
                           "status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "'configured', ?, ?)",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "saving connection", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, c->db_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, s.host, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, c->port);
    sqlite3_bind_text(q, 6, s.database, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, s.username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, s.password, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 9, c->ssl_mode ? c->ssl_mode : "prefer", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 10, c->extra_options, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 11, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 12, now, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = vz_store_fail(st, "saving connection", err);
        goto out;
    }
    if ((rc = replace_str(&c->created_at, now, err)) < 0 ||
        (rc = replace_str(&c->updated_at, now, err)) < 0 ||
        (rc = replace_str(&c->status, "configured", err)) < 0)
        goto out;
    c->table_count = -1;
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    sealed_release(&s);
    return rc;
}

int vz_conn_update(struct vz_store *st, const struct vz_keyring *ring, struct vz_connection *c,
                   struct vz_err *err)
{
    struct sealed s;
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;

    rc = register_secrets(c, err);
    if (rc < 0)
        return rc;
    rc = seal_conn(ring, c, &s, err);
    if (rc < 0)
        return rc;
    vz_now_iso(now);
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "UPDATE database_connections SET name = ?, db_type = ?, host = ?, "
                           "port = ?, database = ?, username = ?, "
                           "password_encrypted = COALESCE(?, password_encrypted), ssl_mode = ?, "
                           "extra_options = ?, status = 'configured', error_message = NULL, "
                           "updated_at = ? WHERE id = ?",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "updating connection", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, c->db_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, s.host, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, c->port);
    sqlite3_bind_text(q, 5, s.database, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, s.username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, s.password, -1, SQLITE_STATIC); /* NULL keeps the stored one */
    sqlite3_bind_text(q, 8, c->ssl_mode ? c->ssl_mode : "prefer", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 9, c->extra_options, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 10, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 11, c->id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = vz_store_fail(st, "updating connection", err);
        goto out;
    }
    if (sqlite3_changes(vz_store_db(st)) == 0) {
        rc = vz_err_set(err, VZ_ENOTFOUND, "no connection with id %s", c->id);
        goto out;
    }
    if ((rc = replace_str(&c->updated_at, now, err)) < 0 ||
        (rc = replace_str(&c->status, "configured", err)) < 0 ||
        (rc = replace_str(&c->error_message, NULL, err)) < 0)
        goto out;
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    sealed_release(&s);
    return rc;
}

int vz_conn_delete(struct vz_store *st, const char *id, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = VZ_OK;
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st), "DELETE FROM database_connections WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "deleting connection", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = vz_store_fail(st, "deleting connection", err);
    else if (sqlite3_changes(vz_store_db(st)) == 0)
        rc = vz_err_set(err, VZ_ENOTFOUND, "no connection with id %s", id);
    /* secure_delete zeroes the freed row in the database page, but the WAL
     * still holds older copies of that page until a checkpoint copies the
     * new one back and truncates it. */
    if (rc == VZ_OK)
        (void)sqlite3_wal_checkpoint_v2(vz_store_db(st), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                        NULL); /* best effort: busy readers retry it next time */
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    return rc;
}

int vz_conn_set_status(struct vz_store *st, const struct vz_keyring *ring, const char *id, int ok,
                       const char *error_message, long long table_count, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char *sealed_msg = NULL;
    char now[32];
    int rc = VZ_OK;

    if (!ok && error_message && (rc = seal(ring, error_message, &sealed_msg, err)) < 0)
        return rc;
    vz_now_iso(now);
    vz_store_lock(st);
    if (sqlite3_prepare_v2(
            vz_store_db(st),
            "UPDATE database_connections SET status = ?, error_message = ?, "
            "last_connected_at = CASE WHEN ? THEN ? ELSE last_connected_at END, "
            "table_count = CASE WHEN ? >= 0 THEN ? ELSE table_count END WHERE id = ?",
            -1, &q, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "updating connection status", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, ok ? "connected" : "error", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, sealed_msg, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, ok);
    sqlite3_bind_text(q, 4, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, table_count);
    sqlite3_bind_int64(q, 6, table_count);
    sqlite3_bind_text(q, 7, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = vz_store_fail(st, "updating connection status", err);
    else if (sqlite3_changes(vz_store_db(st)) == 0)
        rc = vz_err_set(err, VZ_ENOTFOUND, "no connection with id %s", id);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    free(sealed_msg);
    return rc;
}

int vz_conn_touch_sync(struct vz_store *st, const char *id, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc = VZ_OK;
    vz_now_iso(now);
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "UPDATE database_connections SET last_sync_at = ? WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "updating connection", err);
        goto out;
    }
    sqlite3_bind_text(q, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = vz_store_fail(st, "updating connection", err);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    return rc; /* a deleted connection is not an error: nothing to touch */
}
