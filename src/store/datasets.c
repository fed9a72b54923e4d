#include "store/datasets.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

void vz_dataset_free(struct vz_dataset *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->source_type);
    free(d->source_connection_id);
    free(d->source_table);
    free(d->source_sql);
    free(d->options);
    free(d->status);
    free(d->warnings);
    free(d->raw_path);
    free(d->processed_path);
    free(d->error_message);
    free(d->last_job_id);
    free(d->created_at);
    free(d->updated_at);
    free(d->profile);
    free(d->embed_provider);
    free(d->embed_model);
    free(d->index_path);
    free(d);
}

void vz_job_free(struct vz_job *j)
{
    if (!j)
        return;
    free(j->dataset_id);
    free(j->kind);
    free(j->state);
    free(j->phase);
    free(j->error);
    free(j->created_at);
    free(j->started_at);
    free(j->finished_at);
    free(j->updated_at);
    free(j);
}

void vz_dataset_list_free(struct vz_dataset **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        vz_dataset_free(v[i]);
    free(v);
}

/* strdup of a column, NULL for SQL NULL; *oom set on allocation failure. */
static char *col_dup(sqlite3_stmt *q, int c, int *oom)
{
    const char *s = (const char *)sqlite3_column_text(q, c);
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static long long col_ll(sqlite3_stmt *q, int c)
{
    return sqlite3_column_type(q, c) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, c);
}

#define DS_COLS                                                                                    \
    "id, name, source_type, source_connection_id, source_table, source_sql, options, status, "     \
    "row_count, byte_size, extract_seconds, warnings, raw_path, processed_path, error_message, "   \
    "last_job_id, created_at, updated_at, profile, embed_provider, embed_model, embed_dim, "       \
    "chunk_count, index_path"

static struct vz_dataset *ds_row(sqlite3_stmt *q)
{
    struct vz_dataset *d = calloc(1, sizeof(*d));
    int oom = 0;
    if (!d)
        return NULL;
    snprintf(d->id, sizeof(d->id), "%s", (const char *)sqlite3_column_text(q, 0));
    d->name = col_dup(q, 1, &oom);
    d->source_type = col_dup(q, 2, &oom);
    d->source_connection_id = col_dup(q, 3, &oom);
    d->source_table = col_dup(q, 4, &oom);
    d->source_sql = col_dup(q, 5, &oom);
    d->options = col_dup(q, 6, &oom);
    d->status = col_dup(q, 7, &oom);
    d->row_count = col_ll(q, 8);
    d->byte_size = col_ll(q, 9);
    d->extract_seconds =
        sqlite3_column_type(q, 10) == SQLITE_NULL ? -1 : sqlite3_column_double(q, 10);
    d->warnings = col_dup(q, 11, &oom);
    d->raw_path = col_dup(q, 12, &oom);
    d->processed_path = col_dup(q, 13, &oom);
    d->error_message = col_dup(q, 14, &oom);
    d->last_job_id = col_dup(q, 15, &oom);
    d->created_at = col_dup(q, 16, &oom);
    d->updated_at = col_dup(q, 17, &oom);
    d->profile = col_dup(q, 18, &oom);
    d->embed_provider = col_dup(q, 19, &oom);
    d->embed_model = col_dup(q, 20, &oom);
    d->embed_dim = col_ll(q, 21);
    d->chunk_count = col_ll(q, 22);
    d->index_path = col_dup(q, 23, &oom);
    if (oom) {
        vz_dataset_free(d);
        return NULL;
    }
    return d;
}

#define JOB_COLS                                                                                   \
    "id, dataset_id, kind, state, phase, progress, rows_done, rows_total, bytes, rate, error, "    \
    "created_at, started_at, finished_at, updated_at"

static struct vz_job *job_row(sqlite3_stmt *q)
{
    struct vz_job *j = calloc(1, sizeof(*j));
    int oom = 0;
    if (!j)
        return NULL;
    snprintf(j->id, sizeof(j->id), "%s", (const char *)sqlite3_column_text(q, 0));
    j->dataset_id = col_dup(q, 1, &oom);
    j->kind = col_dup(q, 2, &oom);
    j->state = col_dup(q, 3, &oom);
    j->phase = col_dup(q, 4, &oom);
    j->progress = sqlite3_column_double(q, 5);
    j->rows_done = col_ll(q, 6);
    j->rows_total = col_ll(q, 7);
    j->bytes = col_ll(q, 8);
    j->rate = sqlite3_column_double(q, 9);
    j->error = col_dup(q, 10, &oom);
    j->created_at = col_dup(q, 11, &oom);
    j->started_at = col_dup(q, 12, &oom);
    j->finished_at = col_dup(q, 13, &oom);
    j->updated_at = col_dup(q, 14, &oom);
    if (oom) {
        vz_job_free(j);
        return NULL;
    }
    return j;
}

/* Prepare under the store lock (held by the caller). */
static int prep(struct vz_store *st, const char *sql, sqlite3_stmt **q, struct vz_err *err)
{
    if (sqlite3_prepare_v2(vz_store_db(st), sql, -1, q, NULL) != SQLITE_OK)
        return vz_store_fail(st, "preparing a statement", err);
    return VZ_OK;
}

/* Step a statement that returns no rows; finalize it. */
static int run_done(struct vz_store *st, sqlite3_stmt *q, const char *what, struct vz_err *err)
{
    int rc = sqlite3_step(q) == SQLITE_DONE ? VZ_OK : vz_store_fail(st, what, err);
    sqlite3_finalize(q);
    return rc;
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

int vz_dataset_upsert(struct vz_store *st, const struct vz_dataset *d, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc =
        prep(st,
             "INSERT INTO datasets(id, name, source_type, source_connection_id, source_table, "
             "source_sql, options, status, warnings, raw_path, last_job_id, created_at, "
             "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]', ?9, ?10, ?11, ?11) "
             "ON CONFLICT(id) DO UPDATE SET name = ?2, source_sql = ?6, options = ?7, status = ?8, "
             "error_message = NULL, last_job_id = ?10, updated_at = ?11",
             &q, err);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(q, 1, d->id, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 2, d->name);
    bind_text_or_null(q, 3, d->source_type ? d->source_type : "database");
    bind_text_or_null(q, 4, d->source_connection_id);
    bind_text_or_null(q, 5, d->source_table);
    bind_text_or_null(q, 6, d->source_sql);
    bind_text_or_null(q, 7, d->options ? d->options : "{}");
    bind_text_or_null(q, 8, d->status ? d->status : "queued");
    bind_text_or_null(q, 9, d->raw_path);
    bind_text_or_null(q, 10, d->last_job_id);
    sqlite3_bind_text(q, 11, now, -1, SQLITE_TRANSIENT);
    rc = run_done(st, q, "saving dataset", err);
out:
    vz_store_unlock(st);
    return rc;
}

static int ds_query_one(struct vz_store *st, sqlite3_stmt *q, struct vz_dataset **out,
                        struct vz_err *err)
{
    int step = sqlite3_step(q), rc = VZ_OK;
    if (step == SQLITE_ROW) {
        *out = ds_row(q);
        if (!*out)
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
    } else if (step != SQLITE_DONE) {
        rc = vz_store_fail(st, "reading dataset", err);
    }
    sqlite3_finalize(q);
    return rc;
}

int vz_dataset_get(struct vz_store *st, const char *id, struct vz_dataset **out, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;
    *out = NULL;
    vz_store_lock(st);
    rc = prep(st, "SELECT " DS_COLS " FROM datasets WHERE id = ?", &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
        rc = ds_query_one(st, q, out, err);
        if (rc == 0 && !*out)
            rc = vz_err_set(err, VZ_ENOTFOUND, "no dataset with id %s", id);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_dataset_find_source(struct vz_store *st, const char *conn_id, const char *source_table,
                           const char *name, struct vz_dataset **out, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;
    *out = NULL;
    vz_store_lock(st);
    rc = prep(st,
              "SELECT " DS_COLS " FROM datasets WHERE source_type = 'database' AND "
              "source_connection_id = ?1 AND source_table = ?2 AND (?3 IS NULL OR name = ?3) "
              "ORDER BY created_at LIMIT 1",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, conn_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, source_table, -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 3, name);
        rc = ds_query_one(st, q, out, err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_dataset_list(struct vz_store *st, struct vz_dataset ***out, size_t *n, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    struct vz_dataset **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, step;
    *out = NULL;
    *n = 0;
    vz_store_lock(st);
    rc = prep(st, "SELECT " DS_COLS " FROM datasets ORDER BY created_at DESC, id", &q, err);
    if (rc < 0)
        goto out;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct vz_dataset **nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
                goto out;
            }
            v = nv;
            cap = nc;
        }
        v[cnt] = ds_row(q);
        if (!v[cnt]) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
        cnt++;
    }
    if (step != SQLITE_DONE)
        rc = vz_store_fail(st, "listing datasets", err);
out:
    sqlite3_finalize(q);
    vz_store_unlock(st);
    if (rc < 0) {
        vz_dataset_list_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return VZ_OK;
}

int vz_dataset_delete(struct vz_store *st, const char *id, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;
    vz_store_lock(st);
    rc = prep(st, "DELETE FROM datasets WHERE id = ?", &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "deleting dataset", err);
        if (rc == 0 && sqlite3_changes(vz_store_db(st)) == 0)
            rc = vz_err_set(err, VZ_ENOTFOUND, "no dataset with id %s", id);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_dataset_set_status(struct vz_store *st, const char *id, const char *status,
                          const char *error, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st, "UPDATE datasets SET status = ?, error_message = ?, updated_at = ? WHERE id = ?",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 2, error);
        sqlite3_bind_text(q, 3, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 4, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "updating dataset", err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_dataset_set_result(struct vz_store *st, const char *id, const char *status, long long rows,
                          long long bytes, double seconds, const char *raw_path,
                          const char *warnings_json, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st,
              "UPDATE datasets SET status = ?, error_message = NULL, row_count = ?, byte_size = ?,"
              " extract_seconds = ?, raw_path = ?, warnings = ?, updated_at = ? WHERE id = ?",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, rows);
        sqlite3_bind_int64(q, 3, bytes);
        sqlite3_bind_double(q, 4, seconds);
        bind_text_or_null(q, 5, raw_path);
        sqlite3_bind_text(q, 6, warnings_json ? warnings_json : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 7, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 8, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "updating dataset", err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_dataset_set_pipeline(struct vz_store *st, const char *id, const char *status,
                            const struct vz_dataset_pipeline *p, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st,
              "UPDATE datasets SET status = ?1, error_message = NULL, profile = ?2, "
              "embed_provider = ?3, embed_model = ?4, embed_dim = ?5, chunk_count = ?6, "
              "processed_path = ?7, index_path = ?8, updated_at = ?9 WHERE id = ?10",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 2, p->profile_json);
        bind_text_or_null(q, 3, p->embed_provider);
        bind_text_or_null(q, 4, p->embed_model && *p->embed_model ? p->embed_model : NULL);
        sqlite3_bind_int(q, 5, p->embed_dim);
        sqlite3_bind_int64(q, 6, p->chunk_count);
        bind_text_or_null(q, 7, p->processed_path);
        bind_text_or_null(q, 8, p->index_path);
        sqlite3_bind_text(q, 9, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 10, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "updating dataset", err);
        if (rc == 0 && sqlite3_changes(vz_store_db(st)) == 0)
            rc = vz_err_set(err, VZ_ENOTFOUND, "no dataset with id %s", id);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_job_insert(struct vz_store *st, const struct vz_job *j, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st,
              "INSERT INTO jobs(id, dataset_id, kind, state, phase, rows_total, created_at, "
              "updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, j->id, -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 2, j->dataset_id);
        sqlite3_bind_text(q, 3, j->kind ? j->kind : "extract", -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 4, j->phase);
        if (j->rows_total >= 0)
            sqlite3_bind_int64(q, 5, j->rows_total);
        else
            sqlite3_bind_null(q, 5);
        sqlite3_bind_text(q, 6, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 7, now, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "saving job", err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_job_get(struct vz_store *st, const char *id, struct vz_job **out, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, step;
    *out = NULL;
    vz_store_lock(st);
    rc = prep(st, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
        step = sqlite3_step(q);
        if (step == SQLITE_ROW) {
            *out = job_row(q);
            if (!*out)
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
        } else if (step == SQLITE_DONE) {
            rc = vz_err_set(err, VZ_ENOTFOUND, "no job with id %s", id);
        } else {
            rc = vz_store_fail(st, "reading job", err);
        }
        sqlite3_finalize(q);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_job_progress(struct vz_store *st, const char *id, long long rows, long long rows_total,
                    long long bytes, double rate, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st,
              "UPDATE jobs SET rows_done = ?1, rows_total = CASE WHEN ?2 >= 0 THEN ?2 ELSE "
              "rows_total END, bytes = ?3, rate = ?4, progress = CASE WHEN ?2 > 0 THEN "
              "MIN(1.0, CAST(?1 AS REAL) / ?2) ELSE progress END, updated_at = ?5 WHERE id = ?6",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, rows);
        sqlite3_bind_int64(q, 2, rows_total);
        sqlite3_bind_int64(q, 3, bytes);
        sqlite3_bind_double(q, 4, rate);
        sqlite3_bind_text(q, 5, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 6, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "updating job", err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_job_set_state(struct vz_store *st, const char *id, const char *state, const char *phase,
                     const char *error, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = prep(st,
              "UPDATE jobs SET state = ?1, phase = COALESCE(?2, phase), error = ?3, "
              "started_at = CASE WHEN ?1 = 'running' THEN COALESCE(started_at, ?4) ELSE "
              "started_at END, finished_at = CASE WHEN ?1 IN ('succeeded', 'failed', "
              "'cancelled') THEN ?4 ELSE finished_at END, progress = CASE WHEN ?1 = "
              "'succeeded' THEN 1.0 ELSE progress END, updated_at = ?4 WHERE id = ?5",
              &q, err);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, state, -1, SQLITE_TRANSIENT);
        bind_text_or_null(q, 2, phase);
        bind_text_or_null(q, 3, error);
        sqlite3_bind_text(q, 4, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 5, id, -1, SQLITE_TRANSIENT);
        rc = run_done(st, q, "updating job", err);
    }
    vz_store_unlock(st);
    return rc;
}

int vz_job_active_for(struct vz_store *st, const char *dataset_id, char job_id[40],
                      struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    int found = 0;
    vz_store_lock(st);
    if (prep(st,
             "SELECT id FROM jobs WHERE dataset_id = ? AND state IN ('queued', 'running') "
             "LIMIT 1",
             &q, err) == 0) {
        sqlite3_bind_text(q, 1, dataset_id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) == SQLITE_ROW) {
            snprintf(job_id, 40, "%s", (const char *)sqlite3_column_text(q, 0));
            found = 1;
        }
        sqlite3_finalize(q);
    }
    vz_store_unlock(st);
    return found;
}

int vz_job_fail_interrupted(struct vz_store *st, const char *reason, int *count, struct vz_err *err)
{
    sqlite3_stmt *q = NULL;
    char now[32];
    int rc;
    *count = 0;
    vz_now_iso(now);
    vz_store_lock(st);
    rc = vz_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        goto out;
    /* Datasets first: whether the raw file of an earlier run is there is
     * decided by the caller's cleanup; here a recorded row_count means an
     * earlier run completed and its file was kept (writes are atomic). */
    rc = prep(st,
              "UPDATE datasets SET status = CASE WHEN row_count IS NOT NULL AND raw_path IS NOT "
              "NULL THEN 'ready' ELSE 'failed' END, error_message = ?1, updated_at = ?2 WHERE id "
              "IN (SELECT dataset_id FROM jobs WHERE state IN ('queued', 'running'))",
              &q, err);
    if (rc < 0)
        goto rollback;
    sqlite3_bind_text(q, 1, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, now, -1, SQLITE_TRANSIENT);
    rc = run_done(st, q, "marking datasets", err);
    if (rc < 0)
        goto rollback;
    rc = prep(st,
              "UPDATE jobs SET state = 'failed', error = ?1, finished_at = ?2, updated_at = ?2 "
              "WHERE state IN ('queued', 'running')",
              &q, err);
    if (rc < 0)
        goto rollback;
    sqlite3_bind_text(q, 1, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, now, -1, SQLITE_TRANSIENT);
    rc = run_done(st, q, "marking jobs", err);
    if (rc < 0)
        goto rollback;
    *count = sqlite3_changes(vz_store_db(st));
    rc = vz_store_exec(st, "COMMIT", err);
    goto out;
rollback:
    (void)sqlite3_exec(vz_store_db(st), "ROLLBACK", NULL, NULL, NULL); /* keep the first error */
out:
    vz_store_unlock(st);
    return rc;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *ll_or_null(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *vz_dataset_view(const struct vz_dataset *d)
{
    json_t *warnings = d->warnings ? json_loads(d->warnings, 0, NULL) : NULL;
    json_t *options = d->options ? json_loads(d->options, 0, NULL) : NULL;
    json_t *profile = d->profile ? json_loads(d->profile, 0, NULL) : NULL;
    int orphaned =
        d->source_type && strcmp(d->source_type, "database") == 0 && !d->source_connection_id;
    json_t *v = json_pack(
        "{s:s, s:s?, s:s?, s:o, s:s?, s:o, s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:b, s:s?, s:s?}",
        "id", d->id, "name", d->name, "source_type", d->source_type, "source_connection_id",
        str_or_null(d->source_connection_id), "source_table", d->source_table, "source_sql",
        str_or_null(d->source_sql), "status", d->status, "row_count", ll_or_null(d->row_count),
        "byte_size", ll_or_null(d->byte_size), "extract_seconds",
        d->extract_seconds >= 0 ? json_real(d->extract_seconds) : json_null(), "warnings",
        warnings ? warnings : json_array(), "options", options ? options : json_object(),
        "error_message", str_or_null(d->error_message), "last_job_id", str_or_null(d->last_job_id),
        "orphaned", orphaned, "created_at", d->created_at, "updated_at", d->updated_at);
    /* Server paths stay private (as raw_path does); "indexed" tells whether
     * a search index exists. */
    if (v &&
        json_object_update_new(
            v, json_pack("{s:o, s:o, s:o, s:o, s:o, s:b}", "profile",
                         profile ? profile : json_null(), "embed_provider",
                         str_or_null(d->embed_provider), "embed_model", str_or_null(d->embed_model),
                         "embed_dim", ll_or_null(d->embed_dim), "chunk_count",
                         ll_or_null(d->chunk_count), "indexed", d->index_path != NULL)) < 0) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

json_t *vz_job_view(const struct vz_job *j)
{
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:o, s:f, s:I, s:o, s:I, s:f, s:o, s:s?, s:o, s:o, "
                     "s:s?}",
                     "id", j->id, "dataset_id", j->dataset_id, "kind", j->kind, "state", j->state,
                     "phase", str_or_null(j->phase), "progress", j->progress, "rows_done",
                     (json_int_t)(j->rows_done < 0 ? 0 : j->rows_done), "rows_total",
                     ll_or_null(j->rows_total), "bytes", (json_int_t)(j->bytes < 0 ? 0 : j->bytes),
                     "rate", j->rate, "error", str_or_null(j->error), "created_at", j->created_at,
                     "started_at", str_or_null(j->started_at), "finished_at",
                     str_or_null(j->finished_at), "updated_at", j->updated_at);
}
