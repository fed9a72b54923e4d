#include "pipeline/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <duckdb.h>

#include "core/buf.h"
#include "core/util.h"
#include "pipeline/embed.h"
#include "search/index.h"

#define PIPELINE_MEMORY_LIMIT "512MB"
#define PROFILE_TOP_K 5
#define PROFILE_TEXT_MAX 200 /* min/max/top values of text are cut to this many characters */

static double secs_since(int64_t t0)
{
    return (double)(vz_mono_ms() - t0) / 1000.0;
}

const char *vz_pipeline_phase_name(int phase)
{
    switch (phase) {
    case VZ_PHASE_PROCESSING:
        return "processing";
    case VZ_PHASE_EMBEDDING:
        return "embedding";
    case VZ_PHASE_INDEXING:
        return "indexing";
    default:
        return "unknown";
    }
}

void vz_pipeline_result_release(struct vz_pipeline_result *res)
{
    if (!res)
        return;
    json_decref(res->profile);
    memset(res, 0, sizeof(*res));
}

int vz_pipeline_processed_path(const char *data_dir, const char *dataset_id, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/datasets/%s.processed.parquet", data_dir, dataset_id);
    return k < 0 || (size_t)k + 8 >= n ? VZ_ETOOBIG : VZ_OK; /* room for ".tmp" */
}

int vz_pipeline_index_dir(const char *data_dir, const char *dataset_id, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/datasets/%s", data_dir, dataset_id);
    return k < 0 || (size_t)k + 8 >= n ? VZ_ETOOBIG : VZ_OK;
}

int vz_pipeline_has_index(const char *data_dir, const char *dataset_id)
{
    char dir[PATH_MAX];
    struct stat sb;
    return vz_pipeline_index_dir(data_dir, dataset_id, dir, sizeof(dir)) == 0 &&
           stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ---- removing files ---- */

int vz_pipeline_remove_files(const char *data_dir, const char *dataset_id, struct vz_err *err)
{
    static const char *const fmt[] = {
        "%s/datasets/%s", "%s/datasets/%s.tmp", "%s/datasets/%s.processed.parquet",
        "%s/datasets/%s.processed.parquet.tmp", "%s/datasets/%s.duckdb.tmp"};
    int rc = VZ_OK;
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), fmt[i], data_dir, dataset_id) >= (int)sizeof(path))
            continue;
        if (vz_rm_rf(path) != 0 && rc == VZ_OK)
            rc = vz_err_set(err, VZ_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    return rc;
}

int vz_pipeline_clean_tmp(const char *data_dir, int *removed, struct vz_err *err)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int rc = VZ_OK;

    *removed = 0;
    if (snprintf(dir, sizeof(dir), "%s/datasets", data_dir) >= (int)sizeof(dir))
        return vz_err_set(err, VZ_ETOOBIG, "data directory path too long");
    d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? VZ_OK
                   : vz_err_set(err, VZ_EIO, "cannot list %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[PATH_MAX + 300];
        if (len < 5 || strcmp(e->d_name + len - 4, ".tmp") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (vz_rm_rf(path) == 0)
            (*removed)++;
        else if (rc == VZ_OK)
            rc = vz_err_set(err, VZ_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    return rc;
}

/* ---- DuckDB helpers ---- */

static int add_literal(struct vz_buf *b, const char *s)
{
    int rc = vz_buf_addc(b, '\'');
    for (; rc == 0 && *s; s++)
        rc = *s == '\'' ? vz_buf_adds(b, "''") : vz_buf_addc(b, *s);
    return rc == 0 ? vz_buf_addc(b, '\'') : rc;
}

static int add_ident(struct vz_buf *b, const char *s)
{
    int rc = vz_buf_addc(b, '"');
    for (; rc == 0 && *s; s++)
        rc = *s == '"' ? vz_buf_adds(b, "\"\"") : vz_buf_addc(b, *s);
    return rc == 0 ? vz_buf_addc(b, '"') : rc;
}

/* DuckDB's message as a VZ_E* code; only its first line (the rest quotes
 * our SQL back). */
static int duck_fail(const char *what, const char *msg, duckdb_error_type type, struct vz_err *err)
{
    size_t n;
    int code = VZ_EIO;
    if (!msg)
        msg = "unknown DuckDB error";
    n = strcspn(msg, "\n");
    if (strstr(msg, "No space left on device"))
        code = VZ_ENOSPACE;
    else if (type == DUCKDB_ERROR_OUT_OF_MEMORY)
        code = VZ_ENOMEM;
    else if (type == DUCKDB_ERROR_INTERRUPT)
        code = VZ_ECANCELLED;
    return vz_err_set(err, code, "%s: %.*s", what, (int)(n > 200 ? 200 : n), msg);
}

static int cancelled(const struct vz_pipeline_progress *pr)
{
    return pr && pr->cancel && atomic_load(pr->cancel);
}

/* Run sql to completion, polling the cancel flag between DuckDB's tasks
 * (a COPY of a large file may take a while). *out is a materialised result
 * to destroy on success. progress_total > 0: pr->done follows DuckDB's
 * progress estimate, scaled to it. */
static int run_sql(duckdb_connection con, const char *sql, const char *what,
                   struct vz_pipeline_progress *pr, uint64_t progress_total, duckdb_result *out,
                   struct vz_err *err)
{
    duckdb_prepared_statement ps = NULL;
    duckdb_pending_result pend = NULL;
    duckdb_pending_state s;
    int rc = VZ_OK;

    if (duckdb_prepare(con, sql, &ps) == DuckDBError) {
        rc = duck_fail(what, duckdb_prepare_error(ps), DUCKDB_ERROR_INVALID, err);
        goto out;
    }
    if (duckdb_pending_prepared(ps, &pend) == DuckDBError) {
        rc = duck_fail(what, duckdb_pending_error(pend), DUCKDB_ERROR_INVALID, err);
        goto out;
    }
    for (;;) {
        s = duckdb_pending_execute_task(pend);
        if (s == DUCKDB_PENDING_RESULT_READY || s == DUCKDB_PENDING_ERROR)
            break;
        if (cancelled(pr)) {
            rc = vz_err_set(err, VZ_ECANCELLED, "cancelled by request");
            goto out;
        }
        if (pr && progress_total) {
            duckdb_query_progress_type p = duckdb_query_progress(con);
            if (p.percentage > 0)
                atomic_store(&pr->done, (uint64_t)(p.percentage / 100.0 * (double)progress_total));
        }
    }
    if (s == DUCKDB_PENDING_ERROR) {
        rc = duck_fail(what, duckdb_pending_error(pend), DUCKDB_ERROR_UNKNOWN_TYPE, err);
        goto out;
    }
    if (duckdb_execute_pending(pend, out) == DuckDBError) {
        rc = duck_fail(what, duckdb_result_error(out), duckdb_result_error_type(out), err);
        duckdb_destroy_result(out);
    }
out:
    duckdb_destroy_pending(&pend);
    duckdb_destroy_prepare(&ps);
    return rc;
}

static int open_duck(const char *spill_dir, duckdb_database *db, duckdb_connection *con,
                     struct vz_err *err)
{
    duckdb_config cfg = NULL;
    char *oerr = NULL;
    int rc = VZ_OK;
    if (duckdb_create_config(&cfg) == DuckDBError)
        return vz_err_set(err, VZ_ENOMEM, "cannot configure DuckDB");
    /* In-memory DuckDB spills to ".tmp" in the working directory unless
     * told otherwise; ours goes next to the dataset and is cleaned with it. */
    if (duckdb_set_config(cfg, "memory_limit", PIPELINE_MEMORY_LIMIT) == DuckDBError ||
        duckdb_set_config(cfg, "temp_directory", spill_dir) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot configure DuckDB");
        goto out;
    }
    if (duckdb_open_ext(NULL, db, cfg, &oerr) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot start DuckDB: %s", oerr ? oerr : "?");
        goto out;
    }
    if (duckdb_connect(*db, con) == DuckDBError) {
        duckdb_close(db);
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot connect to DuckDB");
    }
out:
    if (oerr)
        duckdb_free(oerr);
    duckdb_destroy_config(&cfg);
    return rc;
}

static int fsync_path(const char *path, struct vz_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = VZ_OK;
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot open %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rc = vz_err_set(err, vz_errno_code(errno), "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* ---- process (M1) and the profile ---- */

struct colinfo {
    char *name, *type;
    int numeric, floating, text, nested;
};

struct run {
    const char *data_dir, *id;
    char raw[PATH_MAX], processed[PATH_MAX], processed_tmp[PATH_MAX + 8], index_dir[PATH_MAX],
        spill[PATH_MAX + 16];
    duckdb_database db;
    duckdb_connection con;
    struct colinfo *cols;
    size_t ncols;
    size_t *key; /* indexes of the primary-key columns */
    size_t nkey;
    uint64_t rows;
    struct vz_pipeline_progress *pr;
};

static void run_release(struct run *r)
{
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].type);
    }
    free(r->cols);
    free(r->key);
    if (r->con)
        duckdb_disconnect(&r->con);
    if (r->db)
        duckdb_close(&r->db);
    (void)vz_rm_rf(r->spill); /* DuckDB's spill files; nothing of ours */
}

static void set_phase(struct vz_pipeline_progress *pr, int phase, uint64_t total)
{
    if (!pr)
        return;
    atomic_store(&pr->done, 0);
    atomic_store(&pr->total, total);
    atomic_store(&pr->phase, phase);
    if (pr->on_phase)
        pr->on_phase(pr->ud, phase);
}

static int type_has(const char *t, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(t, *list) == 0)
            return 1;
    return 0;
}

static int describe(struct run *r, struct vz_err *err)
{
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER",   "BIGINT",
                                       "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                                       "UBIGINT", "UHUGEINT", NULL};
    static const char *const floats[] = {"FLOAT", "DOUBLE", NULL};
    struct vz_buf sql = VZ_BUF_INIT(0);
    duckdb_result res;
    int rc;

    if (vz_buf_adds(&sql, "DESCRIBE SELECT * FROM read_parquet(") < 0 ||
        add_literal(&sql, r->processed_tmp) < 0 || vz_buf_addc(&sql, ')') < 0) {
        vz_buf_release(&sql);
        return vz_err_set(err, VZ_ENOMEM, NULL);
    }
    rc = run_sql(r->con, vz_buf_cstr(&sql), "reading the processed file", NULL, 0, &res, err);
    vz_buf_release(&sql);
    if (rc < 0)
        return rc;
    r->ncols = duckdb_row_count(&res);
    r->cols = calloc(r->ncols ? r->ncols : 1, sizeof(*r->cols));
    if (!r->cols) {
        r->ncols = 0;
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
    }
    for (size_t i = 0; rc == 0 && i < r->ncols; i++) {
        struct colinfo *c = &r->cols[i];
        char *n = duckdb_value_varchar(&res, 0, i), *t = duckdb_value_varchar(&res, 1, i);
        c->name = n ? strdup(n) : NULL;
        c->type = t ? strdup(t) : NULL;
        duckdb_free(n);
        duckdb_free(t);
        if (!c->name || !c->type) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            break;
        }
        c->floating = type_has(c->type, floats);
        c->numeric = c->floating || type_has(c->type, ints) || strncmp(c->type, "DECIMAL", 7) == 0;
        c->text = strcmp(c->type, "VARCHAR") == 0;
        c->nested = strchr(c->type, '[') || strncmp(c->type, "STRUCT", 6) == 0 ||
                    strncmp(c->type, "MAP", 3) == 0 || strncmp(c->type, "UNION", 5) == 0;
    }
    duckdb_destroy_result(&res);
    return rc;
}

/* A JSON value from to_json(...)::VARCHAR text; null when DuckDB gave NULL
 * or something jansson cannot take (NaN, a 128-bit integer). */
static json_t *json_cell(duckdb_result *res, idx_t col)
{
    char *s = duckdb_value_varchar(res, col, 0);
    json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    duckdb_free(s);
    return v ? v : json_null();
}

/* One aggregate query over the processed file for every column at once:
 * a single scan, whatever the column count. approx_top_k keeps a bounded
 * sketch, so top values cost no GROUP BY per column. */
static int profile(struct run *r, json_t **out, struct vz_err *err)
{
    struct vz_buf sql = VZ_BUF_INIT(0);
    duckdb_result res;
    json_t *cols = NULL;
    idx_t k = 1;
    int rc = vz_buf_adds(&sql, "SELECT count(*)");

    *out = NULL;
    for (size_t i = 0; rc == 0 && i < r->ncols; i++) {
        const struct colinfo *c = &r->cols[i];
        struct vz_buf id = VZ_BUF_INIT(0);
        const char *q;
        if ((rc = add_ident(&id, c->name)) < 0)
            break;
        q = vz_buf_cstr(&id);
        if (c->nested)
            rc = vz_buf_addf(&sql, ", count(%s), approx_count_distinct(CAST(%s AS VARCHAR))", q, q);
        else if (c->text)
            rc = vz_buf_addf(&sql,
                             ", count(%1$s), approx_count_distinct(%1$s), to_json(left(min(%1$s), "
                             "%2$d))::VARCHAR, to_json(left(max(%1$s), %2$d))::VARCHAR, "
                             "to_json(approx_top_k(left(%1$s, %2$d), %3$d))::VARCHAR, "
                             "avg(length(%1$s))::DOUBLE",
                             q, PROFILE_TEXT_MAX, PROFILE_TOP_K);
        else
            rc = vz_buf_addf(
                &sql,
                ", count(%1$s), approx_count_distinct(%1$s), to_json(min(%1$s))::VARCHAR,"
                " to_json(max(%1$s))::VARCHAR",
                q);
        if (rc == 0 && !c->nested && !c->text && !c->floating)
            rc = vz_buf_addf(&sql, ", to_json(approx_top_k(%s, %d))::VARCHAR", q, PROFILE_TOP_K);
        if (rc == 0 && c->numeric)
            /* DuckDB's stddev fails the whole query ("out of range") when
             * the squares overflow, e.g. on DOUBLE's extremes: it runs on
             * the values that cannot overflow, and the count of the others
             * (when not 0) turns it into null. */
            rc =
                vz_buf_addf(&sql,
                            ", avg(CAST(%1$s AS DOUBLE)), stddev_samp(CAST(%1$s AS DOUBLE)) "
                            "FILTER (WHERE isfinite(CAST(%1$s AS DOUBLE)) AND "
                            "abs(CAST(%1$s AS DOUBLE)) < 1e150), count(%1$s) FILTER (WHERE NOT "
                            "isfinite(CAST(%1$s AS DOUBLE)) OR abs(CAST(%1$s AS DOUBLE)) >= 1e150)",
                            q);
        vz_buf_release(&id);
    }
    if (rc == 0 && (rc = vz_buf_adds(&sql, " FROM read_parquet(")) == 0 &&
        (rc = add_literal(&sql, r->processed_tmp)) == 0)
        rc = vz_buf_addc(&sql, ')');
    if (rc < 0) {
        vz_buf_release(&sql);
        return vz_err_set(err, rc, "profile query");
    }
    rc = run_sql(r->con, vz_buf_cstr(&sql), "profiling the columns", r->pr, 0, &res, err);
    vz_buf_release(&sql);
    if (rc < 0)
        return rc;
    cols = json_array();
    for (size_t i = 0; cols && i < r->ncols; i++) {
        const struct colinfo *c = &r->cols[i];
        json_t *o;
        uint64_t nonnull = (uint64_t)duckdb_value_int64(&res, k++, 0);
        o = json_pack("{s:s, s:s, s:f, s:I}", "name", c->name, "type", c->type, "null_fraction",
                      r->rows ? (double)(r->rows - nonnull) / (double)r->rows : 0.0,
                      "distinct_approx", (json_int_t)duckdb_value_int64(&res, k++, 0));
        if (!o)
            break;
        if (!c->nested) {
            json_object_set_new(o, "min", json_cell(&res, k++));
            json_object_set_new(o, "max", json_cell(&res, k++));
        }
        if (c->text) {
            json_object_set_new(o, "top_values", json_cell(&res, k++));
            json_object_set_new(o, "avg_length",
                                duckdb_value_is_null(&res, k, 0)
                                    ? json_null()
                                    : json_real(duckdb_value_double(&res, k, 0)));
            k++;
        } else if (!c->nested && !c->floating) {
            json_object_set_new(o, "top_values", json_cell(&res, k++));
        }
        if (c->numeric) {
            int huge = duckdb_value_int64(&res, k + 2, 0) > 0;
            for (int m = 0; m < 2; m++, k++) {
                double d = duckdb_value_double(&res, k, 0);
                json_object_set_new(o, m == 0 ? "mean" : "stddev",
                                    duckdb_value_is_null(&res, k, 0) || d != d || d - d != 0 ||
                                            (m == 1 && huge)
                                        ? json_null()
                                        : json_real(d));
            }
            k++;
        }
        json_array_append_new(cols, o);
    }
    duckdb_destroy_result(&res);
    if (cols && json_array_size(cols) == r->ncols)
        *out = json_pack("{s:I, s:o}", "rows", (json_int_t)r->rows, "columns", cols);
    else
        json_decref(cols);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

static int process(struct run *r, json_t **prof, struct vz_err *err)
{
    struct vz_buf sql = VZ_BUF_INIT(0);
    duckdb_result res;
    int rc;

    *prof = NULL;
    if (vz_buf_adds(&sql, "SELECT count(*) FROM read_parquet(") < 0 ||
        add_literal(&sql, r->raw) < 0 || vz_buf_addc(&sql, ')') < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    /* Parquet keeps row counts in its footer: no scan. */
    rc = run_sql(r->con, vz_buf_cstr(&sql), "reading the raw file", r->pr, 0, &res, err);
    if (rc < 0)
        goto out;
    r->rows = (uint64_t)duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    set_phase(r->pr, VZ_PHASE_PROCESSING, r->rows);
    vz_buf_reset(&sql);
    /* Today processing is a faithful copy (row order kept: DuckDB's
     * preserve_insertion_order is on); it is the place for the cleaning
     * steps to come, and the pipeline never reads the raw file after it. */
    if (vz_buf_adds(&sql, "COPY (SELECT * FROM read_parquet(") < 0 ||
        add_literal(&sql, r->raw) < 0 || vz_buf_adds(&sql, ")) TO ") < 0 ||
        add_literal(&sql, r->processed_tmp) < 0 ||
        vz_buf_adds(&sql, " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)") < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    (void)unlink(r->processed_tmp); /* left by a crash; COPY would overwrite it anyway */
    rc =
        run_sql(r->con, vz_buf_cstr(&sql), "writing the processed file", r->pr, r->rows, &res, err);
    if (rc < 0)
        goto out;
    duckdb_destroy_result(&res);
    if ((rc = fsync_path(r->processed_tmp, err)) < 0 || (rc = describe(r, err)) < 0)
        goto out;
    {
        /* The profile describes the data; it must not stand between the
         * data and its search index. A failure is recorded in it instead. */
        struct vz_err perr = VZ_ERR_INIT;
        rc = profile(r, prof, &perr);
        if (rc == VZ_ECANCELLED || rc == VZ_ENOMEM) {
            *err = perr;
            goto out;
        }
        if (rc < 0) {
            *prof = json_pack("{s:I, s:[], s:s}", "rows", (json_int_t)r->rows, "columns", "error",
                              perr.msg);
            rc = *prof ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
        }
    }
    if (rc == 0 && r->pr)
        atomic_store(&r->pr->done, r->rows);
out:
    vz_buf_release(&sql);
    return rc;
}

/* ---- chunk, embed, index ---- */

struct item {
    char *row_id, *col, *text;
    uint64_t row; /* 1-based row it belongs to */
};

struct batcher {
    struct item items[VZ_PIPELINE_BATCH];
    size_t n;
    struct vz_embedder *emb;
    struct vz_index_writer *w;
    int dim;
    float *vecs;
    uint64_t chunks;
    int64_t embed_ms, index_ms;
    struct vz_pipeline_progress *pr;
};

static void batch_clear(struct batcher *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].row_id);
        free(b->items[i].col);
        free(b->items[i].text);
    }
    b->n = 0;
}

static int batch_flush(struct batcher *b, struct vz_err *err)
{
    const char *ids[VZ_PIPELINE_BATCH], *cols[VZ_PIPELINE_BATCH], *texts[VZ_PIPELINE_BATCH];
    int64_t t0;
    int rc = VZ_OK;

    if (b->n == 0)
        return VZ_OK;
    if (cancelled(b->pr))
        return vz_err_set(err, VZ_ECANCELLED, "cancelled by request");
    for (size_t i = 0; i < b->n; i++) {
        ids[i] = b->items[i].row_id;
        cols[i] = b->items[i].col;
        texts[i] = b->items[i].text;
    }
    if (b->emb) {
        t0 = vz_mono_ms();
        rc = vz_embed_batch(b->emb, texts, NULL, b->n, b->vecs, err);
        b->embed_ms += vz_mono_ms() - t0;
        if (rc < 0)
            return rc;
    }
    t0 = vz_mono_ms();
    rc = vz_index_writer_add(b->w, b->n, ids, cols, texts, b->emb ? b->vecs : NULL, err);
    b->index_ms += vz_mono_ms() - t0;
    if (rc < 0)
        return rc;
    b->chunks += b->n;
    if (b->pr) /* the last row may have windows still to come: count rows before it */
        atomic_store(&b->pr->done, b->items[b->n - 1].row - 1);
    batch_clear(b);
    return VZ_OK;
}

/* Take over row_id? No: copies all three (the row's strings are reused). */
static int batch_add(struct batcher *b, const char *row_id, const char *col, const char *text,
                     size_t text_len, uint64_t row, struct vz_err *err)
{
    struct item *it;
    if (b->n == VZ_PIPELINE_BATCH) {
        int rc = batch_flush(b, err);
        if (rc < 0)
            return rc;
    }
    it = &b->items[b->n];
    it->row_id = strdup(row_id);
    it->col = col ? strdup(col) : NULL;
    it->text = strndup(text, text_len);
    it->row = row;
    b->n++; /* counted even when half-made so batch_clear frees it */
    if (!it->row_id || (col && !it->col) || !it->text)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    return VZ_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Back end off to a UTF-8 character boundary (never below lo). */
static size_t utf8_back(const char *s, size_t end, size_t lo)
{
    while (end > lo && ((unsigned char)s[end] & 0xC0) == 0x80)
        end--;
    return end;
}

/* Overlapping windows of a long value, each cut at whitespace when there is
 * some in the window's last half, else at a character boundary. */
static int add_windows(struct batcher *b, const char *row_id, const char *col, const char *v,
                       size_t len, uint64_t row, struct vz_buf *tmp, struct vz_err *err)
{
    size_t start = 0;
    int rc = VZ_OK;
    while (rc == 0 && start < len) {
        size_t end = start + VZ_CHUNK_WINDOW, next;
        if (end >= len) {
            end = len;
        } else {
            size_t e = end;
            while (e > start + VZ_CHUNK_WINDOW / 2 && !is_space(v[e]))
                e--;
            end = is_space(v[e]) ? e : utf8_back(v, end, start + 1);
        }
        vz_buf_reset(tmp);
        if ((rc = vz_buf_adds(tmp, col)) < 0 || (rc = vz_buf_adds(tmp, ": ")) < 0 ||
            (rc = vz_buf_add(tmp, v + start, end - start)) < 0) {
            rc = vz_err_set(err, rc, NULL);
            break;
        }
        rc = batch_add(b, row_id, col, tmp->p, tmp->len, row, err);
        if (end == len)
            break;
        /* Step back by the overlap, then forward to the next word. */
        next = end - VZ_CHUNK_OVERLAP;
        while (next < end && !is_space(v[next]))
            next++;
        while (next < end && is_space(v[next]))
            next++;
        if (next >= end) /* no whitespace in the overlap */
            next = utf8_back(v, end - VZ_CHUNK_OVERLAP, start + 1);
        start = next > start ? next : end;
    }
    return rc;
}

static const char *str_of(duckdb_string_t *s, uint32_t *len)
{
    *len = duckdb_string_t_length(*s);
    return duckdb_string_t_data(s);
}

/* Every column as text, streamed: DuckDB hands over one vector of rows at a
 * time, so memory stays bounded whatever the table size. */
static int chunk_rows(struct run *r, struct batcher *b, struct vz_err *err)
{
    struct vz_buf sql = VZ_BUF_INIT(0), text = VZ_BUF_INIT(0), rid = VZ_BUF_INIT(0),
                  win = VZ_BUF_INIT(0);
    duckdb_prepared_statement ps = NULL;
    duckdb_pending_result pend = NULL;
    duckdb_result res;
    duckdb_pending_state s;
    duckdb_string_t **data = calloc(r->ncols ? r->ncols : 1, sizeof(*data));
    uint64_t **valid = calloc(r->ncols ? r->ncols : 1, sizeof(*valid));
    size_t nc = r->ncols;
    int rc = VZ_OK, have_res = 0;
    uint64_t row = 0;

    memset(&res, 0, sizeof(res));
    if (!data || !valid) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    /* One thread: the embedder wants the cores, and a streamed scan with
     * more threads only buffers ahead. */
    if (duckdb_query(r->con, "SET threads = 1", NULL) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot configure DuckDB");
        goto out;
    }
    rc = vz_buf_adds(&sql, "SELECT ");
    for (size_t i = 0; rc == 0 && i < r->ncols; i++) {
        if (i)
            rc = vz_buf_adds(&sql, ", ");
        if (rc == 0)
            rc = vz_buf_adds(&sql, "CAST(");
        if (rc == 0)
            rc = add_ident(&sql, r->cols[i].name);
        if (rc == 0)
            rc = vz_buf_adds(&sql, " AS VARCHAR)");
    }
    if (rc < 0 || vz_buf_adds(&sql, " FROM read_parquet(") < 0 ||
        add_literal(&sql, r->processed_tmp) < 0 || vz_buf_addc(&sql, ')') < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if (duckdb_prepare(r->con, vz_buf_cstr(&sql), &ps) == DuckDBError) {
        rc = duck_fail("reading the processed file", duckdb_prepare_error(ps), DUCKDB_ERROR_INVALID,
                       err);
        goto out;
    }
    if (duckdb_pending_prepared_streaming(ps, &pend) == DuckDBError) {
        rc = duck_fail("reading the processed file", duckdb_pending_error(pend),
                       DUCKDB_ERROR_INVALID, err);
        goto out;
    }
    do
        s = duckdb_pending_execute_task(pend);
    while (s != DUCKDB_PENDING_RESULT_READY && s != DUCKDB_PENDING_ERROR);
    have_res = 1;
    if (s == DUCKDB_PENDING_ERROR || duckdb_execute_pending(pend, &res) == DuckDBError) {
        rc = duck_fail("reading the processed file",
                       s == DUCKDB_PENDING_ERROR ? duckdb_pending_error(pend)
                                                 : duckdb_result_error(&res),
                       DUCKDB_ERROR_IO, err);
        goto out;
    }
    for (;;) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(res);
        idx_t n;
        if (!ch)
            break;
        n = duckdb_data_chunk_get_size(ch);
        if (n == 0) {
            duckdb_destroy_data_chunk(&ch);
            break;
        }
        for (size_t c = 0; c < nc; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
            data[c] = duckdb_vector_get_data(v);
            valid[c] = duckdb_vector_get_validity(v);
        }
        for (idx_t i = 0; rc == 0 && i < n; i++) {
            uint32_t len;
            const char *val;
            row++;
            vz_buf_reset(&text);
            vz_buf_reset(&rid);
            for (size_t k = 0; rc == 0 && k < r->nkey; k++) {
                size_t c = r->key[k];
                if (k)
                    rc = vz_buf_addc(&rid, '|');
                if (rc == 0 && duckdb_validity_row_is_valid(valid[c], i)) {
                    val = str_of(&data[c][i], &len);
                    rc = vz_buf_add(&rid, val, len);
                }
            }
            if (rc == 0 && r->nkey == 0)
                rc = vz_buf_addf(&rid, "%llu", (unsigned long long)row);
            for (size_t c = 0; rc == 0 && c < nc; c++) {
                if (!duckdb_validity_row_is_valid(valid[c], i))
                    continue;
                val = str_of(&data[c][i], &len);
                if (text.len && (rc = vz_buf_addc(&text, '\n')) < 0)
                    break;
                if ((rc = vz_buf_adds(&text, r->cols[c].name)) < 0 ||
                    (rc = vz_buf_adds(&text, ": ")) < 0)
                    break;
                if (len > VZ_CHUNK_WINDOW) {
                    rc = vz_buf_add(&text, val, utf8_back(val, VZ_CHUNK_HEAD, 1));
                    if (rc == 0)
                        rc = vz_buf_adds(&text, "\xE2\x80\xA6"); /* … */
                } else {
                    rc = vz_buf_add(&text, val, len);
                }
            }
            if (rc < 0) {
                rc = vz_err_set(err, rc, "row %llu is too large", (unsigned long long)row);
                break;
            }
            rc = batch_add(b, vz_buf_cstr(&rid), NULL, vz_buf_cstr(&text), text.len, row, err);
            for (size_t c = 0; rc == 0 && c < nc; c++) {
                if (!duckdb_validity_row_is_valid(valid[c], i))
                    continue;
                val = str_of(&data[c][i], &len);
                if (len > VZ_CHUNK_WINDOW)
                    rc = add_windows(b, vz_buf_cstr(&rid), r->cols[c].name, val, len, row, &win,
                                     err);
            }
        }
        duckdb_destroy_data_chunk(&ch);
        if (rc < 0)
            goto out;
    }
    if (duckdb_result_error(&res)) {
        rc = duck_fail("reading the processed file", duckdb_result_error(&res),
                       duckdb_result_error_type(&res), err);
        goto out;
    }
    rc = batch_flush(b, err);
out:
    if (have_res)
        duckdb_destroy_result(&res);
    free(data);
    free(valid);
    duckdb_destroy_pending(&pend);
    duckdb_destroy_prepare(&ps);
    vz_buf_release(&sql);
    vz_buf_release(&text);
    vz_buf_release(&rid);
    vz_buf_release(&win);
    return rc;
}

/* Resolve key names to column indexes; any unknown name means row numbers. */
static int resolve_key(struct run *r, const json_t *pk, struct vz_err *err)
{
    size_t n = json_is_array(pk) ? json_array_size(pk) : 0;
    if (n == 0)
        return VZ_OK;
    r->key = calloc(n, sizeof(*r->key));
    if (!r->key)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_string_value(json_array_get(pk, k));
        size_t c = 0;
        while (name && c < r->ncols && strcmp(r->cols[c].name, name) != 0)
            c++;
        if (!name || c == r->ncols) {
            r->nkey = 0;
            return VZ_OK;
        }
        r->key[r->nkey++] = c;
    }
    return VZ_OK;
}

int vz_pipeline_run(const char *data_dir, const char *dataset_id, const json_t *primary_key,
                    const char *embed_provider, struct vz_pipeline_progress *pr,
                    struct vz_pipeline_result *res, struct vz_err *err)
{
    struct run r;
    struct batcher b;
    struct stat sb;
    char dsdir[PATH_MAX];
    json_t *prof = NULL;
    int64_t t0 = vz_mono_ms(), t1;
    int rc, keyword;

    memset(&r, 0, sizeof(r));
    memset(&b, 0, sizeof(b));
    memset(res, 0, sizeof(*res));
    r.data_dir = data_dir;
    r.id = dataset_id;
    r.pr = pr;
    b.pr = pr;
    if (!embed_provider)
        embed_provider = "local";
    keyword = strcmp(embed_provider, "keyword") == 0;
    if (!keyword && strcmp(embed_provider, "local") != 0)
        return vz_err_set(err, VZ_EINVAL, "unknown embedding provider '%s' (local or keyword)",
                          embed_provider);
    if (snprintf(r.raw, sizeof(r.raw), "%s/%s.parquet", data_dir, dataset_id) >=
            (int)sizeof(r.raw) ||
        snprintf(dsdir, sizeof(dsdir), "%s/datasets", data_dir) >= (int)sizeof(dsdir) ||
        vz_pipeline_processed_path(data_dir, dataset_id, r.processed, sizeof(r.processed)) < 0 ||
        vz_pipeline_index_dir(data_dir, dataset_id, r.index_dir, sizeof(r.index_dir)) < 0)
        return vz_err_set(err, VZ_ETOOBIG, "data directory path too long");
    snprintf(r.processed_tmp, sizeof(r.processed_tmp), "%s.tmp", r.processed);
    snprintf(r.spill, sizeof(r.spill), "%s/%s.duckdb.tmp", dsdir, dataset_id);
    if (stat(r.raw, &sb) != 0)
        return vz_err_set(err, VZ_ENOTFOUND, "dataset %s has no extracted file", dataset_id);
    if ((rc = vz_mkdir_p(dsdir, 0700, err)) < 0)
        return rc;
    if (cancelled(pr)) {
        rc = vz_err_set(err, VZ_ECANCELLED, "cancelled by request");
        goto out;
    }
    if ((rc = open_duck(r.spill, &r.db, &r.con, err)) < 0 || (rc = process(&r, &prof, err)) < 0 ||
        (rc = resolve_key(&r, primary_key, err)) < 0)
        goto out;
    res->process_seconds = secs_since(t0);

    t1 = vz_mono_ms();
    set_phase(pr, VZ_PHASE_EMBEDDING, r.rows);
    if (!keyword) {
        if ((rc = vz_embed_open("local", NULL, &b.emb, err)) < 0)
            goto out;
        b.dim = vz_embed_dim(b.emb);
        b.vecs = malloc(sizeof(float) * (size_t)b.dim * VZ_PIPELINE_BATCH);
        if (!b.vecs) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    if ((rc = vz_index_writer_open(r.index_dir, b.dim, &b.w, err)) < 0 ||
        (rc = chunk_rows(&r, &b, err)) < 0)
        goto out;
    if (pr)
        atomic_store(&pr->done, r.rows);

    set_phase(pr, VZ_PHASE_INDEXING, r.rows);
    if (cancelled(pr)) {
        rc = vz_err_set(err, VZ_ECANCELLED, "cancelled by request");
        goto out;
    }
    {
        int64_t t2 = vz_mono_ms();
        rc = vz_index_writer_commit(b.w, err);
        b.w = NULL; /* commit frees it, also on failure */
        b.index_ms += vz_mono_ms() - t2;
    }
    if (rc < 0)
        goto out;
    /* The index is in place; the processed file follows it. A crash between
     * the two renames leaves the new index with the previous processed
     * file, which the next run replaces. */
    if (rename(r.processed_tmp, r.processed) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "cannot rename %s: %s", r.processed_tmp,
                        strerror(errno));
        goto out;
    }
    if ((rc = vz_fsync_parent(r.processed, err)) < 0)
        goto out;
    if (pr)
        atomic_store(&pr->done, r.rows);
    res->rows = r.rows;
    res->chunks = b.chunks;
    res->dim = b.dim;
    snprintf(res->provider, sizeof(res->provider), "%s", embed_provider);
    snprintf(res->model, sizeof(res->model), "%s", b.emb ? vz_embed_model_name(b.emb) : "");
    res->profile = prof;
    prof = NULL;
    res->embed_seconds = (double)b.embed_ms / 1000.0;
    res->index_seconds = (double)b.index_ms / 1000.0;
    res->chunk_seconds = secs_since(t1) - res->embed_seconds - res->index_seconds;
    if (res->chunk_seconds < 0)
        res->chunk_seconds = 0;
out:
    batch_clear(&b);
    vz_index_writer_abort(b.w);
    vz_embed_close(b.emb);
    free(b.vecs);
    json_decref(prof);
    run_release(&r);
    if (rc < 0)
        (void)unlink(r.processed_tmp); /* the previous processed file stays */
    return rc;
}
