#include "store/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/util.h"
#include "crypto/keys.h"

/* The Fernet columns, in the order every query here selects them after id. */
static const char *const fernet_cols[] = {"host", "database", "username", "password_encrypted",
                                          "error_message"};
#define N_COLS (sizeof(fernet_cols) / sizeof(fernet_cols[0]))
#define SELECT_ROWS                                                                                \
    "SELECT id, name, host, database, username, password_encrypted, error_message "                \
    "FROM database_connections ORDER BY id"

/* One row read in full before anything is written: updating a table while
 * a SELECT on it is still stepping may revisit rows. */
struct row {
    char *id, *name;
    char *tok[N_COLS]; /* NULL for SQL NULL */
};

static void rows_free(struct row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].name);
        for (size_t c = 0; c < N_COLS; c++)
            free(v[i].tok[c]);
    }
    free(v);
}

static char *dup_text(sqlite3_stmt *q, int col, int *oom)
{
    const char *s = (const char *)sqlite3_column_text(q, col);
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Read every row; the caller holds the store lock. */
static int read_rows(struct vz_store *st, struct row **out, size_t *n, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    struct row *v = NULL;
    size_t count = 0, cap = 0;
    int rc = VZ_OK, step, oom = 0;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(vz_store_db(st), SELECT_ROWS, -1, &q, NULL) != SQLITE_OK)
        return vz_store_fail(st, "reading connections", err);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct row *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        memset(&v[count], 0, sizeof(v[count]));
        v[count].id = dup_text(q, 0, &oom);
        v[count].name = dup_text(q, 1, &oom);
        for (size_t c = 0; c < N_COLS; c++)
            v[count].tok[c] = dup_text(q, (int)c + 2, &oom);
        count++;
        if (oom) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = vz_store_fail(st, "reading connections", err);
out:
    sqlite3_finalize(q);
    if (rc < 0) {
        rows_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return VZ_OK;
}

/* The key hint first: a long connection name must not push it out of the
 * message buffer. */
static int unreadable_err(const struct row *r, const char *col, struct vz_err *err)
{
    return vz_err_set(
        err, VZ_ECRYPTO,
        "no configured key decrypts the stored %s of connection '%.40s': list "
        "the key it was stored with in " VZ_KEYS_ENV_OLD_SECRETS " (beside " VZ_KEYS_ENV_SECRET
        ") or restore the data directory's " VZ_KEYS_FILE_NAME "; nothing was changed",
        col, r->name ? r->name : "?");
}

int vz_store_rotate_credentials_n(struct vz_store *st, const struct vz_keyring *ring, int *rows,
                                  int *values, struct vz_err *err)
{
    struct row *v = NULL;
    size_t n = 0;
    sqlite3_stmt *u = NULL;
    int rc, in_tx = 0, nvals = 0;

    if (rows)
        *rows = 0;
    if (values)
        *values = 0;
    if (!ring || ring->n == 0)
        return vz_err_set(err, VZ_EINVAL, "no credentials key to rotate to");
    vz_store_lock(st);
    /* IMMEDIATE: take the write lock before reading, so no other process
     * can add a row under the old key between our read and our commit. */
    rc = vz_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    in_tx = 1;
    rc = read_rows(st, &v, &n, err);
    if (rc < 0)
        goto out;
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "UPDATE database_connections SET host = ?1, database = ?2, "
                           "username = ?3, password_encrypted = ?4, error_message = ?5 "
                           "WHERE id = ?6",
                           -1, &u, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "re-encrypting connections", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct vz_buf nt[N_COLS];
        for (size_t c = 0; c < N_COLS; c++)
            nt[c] = (struct vz_buf)VZ_BUF_INIT(0);
        sqlite3_reset(u);
        sqlite3_clear_bindings(u);
        for (size_t c = 0; c < N_COLS && rc == VZ_OK; c++) {
            if (!v[i].tok[c])
                continue;
            if (vz_keyring_rotate_token(ring, v[i].tok[c], strlen(v[i].tok[c]), &nt[c], err) < 0) {
                rc = unreadable_err(&v[i], fernet_cols[c], err);
                break;
            }
            nvals++;
            sqlite3_bind_text(u, (int)c + 1, vz_buf_cstr(&nt[c]), (int)nt[c].len, SQLITE_TRANSIENT);
        }
        if (rc == VZ_OK) {
            sqlite3_bind_text(u, 6, v[i].id, -1, SQLITE_STATIC);
            if (sqlite3_step(u) != SQLITE_DONE)
                rc = vz_store_fail(st, "re-encrypting connections", err);
        }
        for (size_t c = 0; c < N_COLS; c++)
            vz_buf_release(&nt[c]);
        if (rc < 0)
            goto out;
    }
    sqlite3_finalize(u);
    u = NULL;
    rc = vz_store_exec(st, "COMMIT", err);
    if (rc < 0)
        goto out;
    in_tx = 0;
    if (rows)
        *rows = (int)n;
    if (values)
        *values = nvals;
out:
    sqlite3_finalize(u);
    if (in_tx) {
        /* Keep the first error; a failed ROLLBACK is rolled back by SQLite. */
        sqlite3_exec(vz_store_db(st), "ROLLBACK", NULL, NULL, NULL);
    }
    vz_store_unlock(st);
    rows_free(v, n);
    return rc;
}

int vz_store_rotate_credentials(struct vz_store *st, const struct vz_keyring *ring, int *rows,
                                struct vz_err *err)
{
    return vz_store_rotate_credentials_n(st, ring, rows, NULL, err);
}

/* Can key k alone decrypt tok? The plaintext is wiped at once. */
static int key_reads(const struct vz_fernet_key *k, const char *tok)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    int ok = vz_fernet_decrypt(k, tok, strlen(tok), 0, &b, NULL) == 0;
    if (b.p)
        OPENSSL_cleanse(b.p, b.len);
    vz_buf_release(&b);
    return ok;
}

int vz_store_credential_status(struct vz_store *st, const struct vz_keyring *ring, size_t *rows,
                               size_t *per_key, size_t *unreadable, struct vz_err *err)
{
    struct row *v = NULL;
    size_t n = 0;
    int rc;

    *rows = 0;
    *unreadable = 0;
    for (size_t k = 0; k < ring->n; k++)
        per_key[k] = 0;
    vz_store_lock(st);
    rc = read_rows(st, &v, &n, err);
    vz_store_unlock(st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int all_ok = 1;
        for (size_t k = 0; k < ring->n; k++) {
            int ok = 1;
            for (size_t c = 0; c < N_COLS && ok; c++)
                ok = !v[i].tok[c] || key_reads(&ring->keys[k], v[i].tok[c]);
            per_key[k] += (size_t)ok;
        }
        for (size_t c = 0; c < N_COLS && all_ok; c++) {
            int any = !v[i].tok[c];
            for (size_t k = 0; k < ring->n && !any; k++)
                any = key_reads(&ring->keys[k], v[i].tok[c]);
            all_ok = any;
        }
        *unreadable += (size_t)!all_ok;
    }
    *rows = n;
    rows_free(v, n);
    return VZ_OK;
}

int vz_store_credential_rows(struct vz_store *st, size_t *rows, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = VZ_OK;

    *rows = 0;
    vz_store_lock(st);
    if (sqlite3_prepare_v2(vz_store_db(st),
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                           "'database_connections'",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        rc = vz_store_fail(st, "counting connections", err);
        goto out;
    }
    if (sqlite3_column_int(q, 0) == 0)
        goto out;
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(vz_store_db(st), "SELECT count(*) FROM database_connections", -1, &q,
                           NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        rc = vz_store_fail(st, "counting connections", err);
        goto out;
    }
    *rows = (size_t)sqlite3_column_int64(q, 0);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    return rc;
}

/* ---- the key file ---- */

static int dir_path(char *out, size_t n, const char *dir, const char *name, struct vz_err *err)
{
    int len = snprintf(out, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n)
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    return VZ_OK;
}

static int sync_dir(const char *dir, struct vz_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = VZ_OK;
    if (fd < 0 || fsync(fd) < 0)
        rc = vz_err_set(err, vz_errno_code(errno), "cannot sync directory %s: %s", dir,
                        strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write text to a new 0600 temporary file in dir, fsync it and rename it
 * over path: a crash leaves the old file or the new one, never half. */
static int write_key_atomic(const char *dir, const char *path, const char *text, struct vz_err *err)
{
    char tmp[PATH_MAX];
    unsigned char rnd[8];
    size_t len = strlen(text), off = 0;
    int fd = -1, rc = VZ_OK, n;

    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
        ERR_clear_error();
        return vz_err_set(err, VZ_ECRYPTO, "random number generator failed");
    }
    n = snprintf(tmp, sizeof(tmp), "%s/.%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", dir,
                 VZ_KEYS_FILE_NAME, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot create a key file in %s: %s", dir,
                          strerror(errno));
    if (fchmod(fd, 0600) < 0)
        goto io;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto io;
        off += (size_t)w;
    }
    if (fsync(fd) < 0)
        goto io;
    if (close(fd) < 0) {
        fd = -1;
        goto io;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto io;
    return sync_dir(dir, err);
io:
    rc = vz_err_set(err, vz_errno_code(errno), "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
    return rc;
}

int vz_rotate_keyfile_prepare(const char *data_dir, struct vz_fernet_key *new_key,
                              struct vz_err *err)
{
    char path[PATH_MAX], old[PATH_MAX], text[VZ_FERNET_KEY_TEXT_LEN + 2];
    int rc;

    vz_fernet_key_wipe(new_key);
    if ((rc = dir_path(path, sizeof(path), data_dir, VZ_KEYS_FILE_NAME, err)) < 0 ||
        (rc = dir_path(old, sizeof(old), data_dir, VZ_KEYS_OLD_FILE_NAME, err)) < 0)
        return rc;
    if (access(old, F_OK) == 0)
        return vz_err_set(err, VZ_ECONFLICT,
                          "%s exists: an earlier key rotation was interrupted; run `vectoraiz "
                          "keys rotate` (without --new-key-file) to finish it first",
                          old);
    rc = vz_fernet_key_generate(text, err);
    if (rc < 0)
        goto out;
    /* A hard link keeps the old key's bytes and mode 0600 without copying
     * them; it must be durable before secret.key changes. */
    if (link(path, old) < 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "cannot keep the old key as %s: %s", old,
                        strerror(errno));
        goto out;
    }
    rc = sync_dir(data_dir, err);
    if (rc < 0)
        goto undo;
    rc = vz_fernet_key_parse(text, VZ_FERNET_KEY_TEXT_LEN, new_key, err);
    if (rc < 0)
        goto undo;
    strcat(text, "\n");
    rc = write_key_atomic(data_dir, path, text, err);
    if (rc < 0)
        goto undo;
    goto out;
undo:
    vz_fernet_key_wipe(new_key);
    (void)unlink(old); /* secret.key still holds the old key */
out:
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

int vz_rotate_keyfile_finish(const char *data_dir, struct vz_err *err)
{
    char old[PATH_MAX];
    int rc = dir_path(old, sizeof(old), data_dir, VZ_KEYS_OLD_FILE_NAME, err);
    if (rc < 0)
        return rc;
    if (unlink(old) < 0) {
        if (errno == ENOENT)
            return VZ_OK;
        return vz_err_set(err, vz_errno_code(errno), "cannot remove %s: %s", old, strerror(errno));
    }
    return sync_dir(data_dir, err);
}

int vz_rotate_keyfile_abort(const char *data_dir, struct vz_err *err)
{
    char path[PATH_MAX], old[PATH_MAX];
    int rc;
    if ((rc = dir_path(path, sizeof(path), data_dir, VZ_KEYS_FILE_NAME, err)) < 0 ||
        (rc = dir_path(old, sizeof(old), data_dir, VZ_KEYS_OLD_FILE_NAME, err)) < 0)
        return rc;
    if (rename(old, path) < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot restore %s from %s: %s", path, old,
                          strerror(errno));
    return sync_dir(data_dir, err);
}
