#include "store/store.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "core/log.h"
#include "core/util.h"
#include "store/migrations.h"

struct vz_store {
    sqlite3 *db;
    pthread_mutex_t mu;
};

sqlite3 *vz_store_db(struct vz_store *st)
{
    return st->db;
}

void vz_store_lock(struct vz_store *st)
{
    pthread_mutex_lock(&st->mu);
}

void vz_store_unlock(struct vz_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

int vz_store_fail(struct vz_store *st, const char *what, struct vz_err *err)
{
    int ext = sqlite3_extended_errcode(st->db);
    int code = VZ_ESTORE;
    if ((ext & 0xff) == SQLITE_FULL)
        code = VZ_ENOSPACE;
    else if ((ext & 0xff) == SQLITE_READONLY || (ext & 0xff) == SQLITE_PERM)
        code = VZ_EPERM;
    else if ((ext & 0xff) == SQLITE_CONSTRAINT)
        code = VZ_ECONFLICT;
    return vz_err_set(err, code, "metadata store: %s: %s", what, sqlite3_errmsg(st->db));
}

int vz_store_exec(struct vz_store *st, const char *sql, struct vz_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = vz_store_fail(st, "statement failed", err);
        sqlite3_free(msg);
        return rc;
    }
    return VZ_OK;
}

int vz_store_open_path(const char *path, struct vz_store **out, struct vz_err *err)
{
    struct vz_store *st;
    int rc;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (!st)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    pthread_mutex_init(&st->mu, NULL);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                            SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK) {
        rc = vz_err_set(err, VZ_ESTORE, "cannot open metadata store %s: %s", path,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    /* The store holds ciphertext only, but still nobody else's business. */
    (void)chmod(path, 0600);
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    rc = vz_store_exec(st,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                       " PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
                       err);
    if (rc < 0)
        goto fail;
    *out = st;
    return VZ_OK;
fail:
    vz_store_close(st);
    return rc;
}

int vz_store_open(const char *data_dir, struct vz_store **out, struct vz_err *err)
{
    char path[PATH_MAX];
    int rc = vz_mkdir_p(data_dir, 0700, err);
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    if (snprintf(path, sizeof(path), "%s/%s", data_dir, VZ_STORE_FILE) >= (int)sizeof(path)) {
        *out = NULL;
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    }
    return vz_store_open_path(path, out, err);
}

void vz_store_close(struct vz_store *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close_v2(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* SHA-256 of the migration's SQL, lower-case hex. */
static int sql_checksum(const char *sql, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(sql, strlen(sql), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return VZ_ECRYPTO;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return VZ_OK;
}

static const char create_migrations_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                            " version INTEGER NOT NULL PRIMARY KEY,"
                                            " name TEXT NOT NULL,"
                                            " checksum TEXT NOT NULL,"
                                            " applied_at DATETIME NOT NULL)";

int vz_store_schema_version(struct vz_store *st, int *version, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;
    *version = 0;
    rc = vz_store_exec(st, create_migrations_sql, err);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                           &q, NULL) != SQLITE_OK)
        return vz_store_fail(st, "reading schema version", err);
    if (sqlite3_step(q) == SQLITE_ROW) {
        *version = sqlite3_column_int(q, 0);
        rc = VZ_OK;
    } else {
        rc = vz_store_fail(st, "reading schema version", err);
    }
    sqlite3_finalize(q);
    return rc;
}

/* Compare every recorded migration with the compiled one. */
static int check_recorded(struct vz_store *st, const struct vz_migration *m, size_t n,
                          struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc = VZ_OK, step;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT version, checksum FROM schema_migrations ORDER BY version", -1,
                           &q, NULL) != SQLITE_OK)
        return vz_store_fail(st, "reading migrations", err);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        int v = sqlite3_column_int(q, 0);
        const char *sum = (const char *)sqlite3_column_text(q, 1);
        char want[65];
        if (v < 1 || (size_t)v > n) {
            rc = vz_err_set(err, VZ_ESCHEMA,
                            "metadata store has schema version %d but this vectoraiz knows only "
                            "up to %zu; it was written by a newer vectoraiz: upgrade vectoraiz "
                            "(or restore a backup of the data directory)",
                            v, n);
            goto out;
        }
        rc = sql_checksum(m[v - 1].sql, want);
        if (rc < 0) {
            vz_err_set(err, rc, "cannot checksum migration %d", v);
            goto out;
        }
        if (!sum || strcmp(sum, want) != 0) {
            rc = vz_err_set(err, VZ_ESCHEMA,
                            "migration %d (%s) recorded in the metadata store differs from the "
                            "one in this build (checksum mismatch); refusing to start",
                            v, m[v - 1].name);
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = vz_store_fail(st, "reading migrations", err);
out:
    sqlite3_finalize(q);
    return rc;
}

static int apply_one(struct vz_store *st, const struct vz_migration *m, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char sum[65], now[32];
    int rc;

    if (sql_checksum(m->sql, sum) < 0)
        return vz_err_set(err, VZ_ECRYPTO, "cannot checksum migration %d", m->version);
    rc = vz_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    rc = vz_store_exec(st, m->sql, err);
    if (rc < 0) {
        vz_err_set(err, rc, "migration %d (%s) failed: %s", m->version, m->name, err->msg);
        goto out;
    }
    vz_now_iso(now);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO schema_migrations(version, name, checksum, applied_at)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = vz_store_fail(st, "recording migration", err);
        goto out;
    }
    sqlite3_bind_int(q, 1, m->version);
    sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, sum, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, now, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = vz_store_fail(st, "recording migration", err);
        goto out;
    }
    rc = vz_store_exec(st, "COMMIT", err);
out:
    sqlite3_finalize(q);
    if (rc < 0)
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL); /* keep the first error */
    return rc;
}

int vz_store_migrate(struct vz_store *st, int *applied, struct vz_err *err)
{
    size_t n;
    const struct vz_migration *m = vz_migrations(&n);
    return vz_store_migrate_with(st, m, n, applied, err);
}

int vz_store_migrate_with(struct vz_store *st, const struct vz_migration *m, size_t n, int *applied,
                          struct vz_err *err)
{
    int current, rc, count = 0;

    if (applied)
        *applied = 0;
    vz_store_lock(st);
    rc = vz_store_schema_version(st, &current, err);
    if (rc < 0)
        goto out;
    rc = check_recorded(st, m, n, err);
    if (rc < 0)
        goto out;
    for (size_t i = (size_t)current; i < n; i++) {
        rc = apply_one(st, &m[i], err);
        if (rc < 0)
            goto out;
        vz_info("metadata store: applied migration %d (%s)", m[i].version, m[i].name);
        count++;
    }
    if (applied)
        *applied = count;
out:
    vz_store_unlock(st);
    return rc;
}
