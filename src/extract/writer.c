/* Parquet writing for one extraction: a private in-memory DuckDB, one table
 * function that pulls chunks from the source stream, and COPY ... TO a .tmp
 * file that becomes the dataset only once it is complete and on disk. */
#include "extract/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "extract/vec.h"

#define VZ_EXTRACT_FUNC "vz_stream_src"

/* State shared by vz_extract_write() and the table function callbacks, which
 * DuckDB runs on the calling thread (threads=1). */
struct wctx {
    struct vz_source *src;
    struct vz_stream *st;
    const struct vz_extract_opts *o;
    char **names;               /* nout Parquet column names */
    duckdb_logical_type *types; /* nout types */
    uint64_t rows;              /* rows handed to DuckDB */
    int done;                   /* the source reported its end */
    int code;                   /* first failure inside a callback, or 0 */
    struct vz_err err;          /* its message */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cancelled(const struct vz_extract_opts *o)
{
    return o->progress && atomic_load(&o->progress->cancel) != 0;
}

/* ---- column names ---- */

void vz_extract_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int name_taken(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcasecmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* A column's name before de-duplication: invalid UTF-8 repaired (Parquet
 * names are UTF-8), an empty name replaced by its position. */
static char *base_name(const struct vz_stream_col *c, size_t pos)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    const char *s = c->name ? c->name : "";
    size_t len = strlen(s);
    int rc;

    if (!len)
        rc = vz_buf_addf(&b, "column%zu", pos + 1);
    else
        rc = vz_utf8_repair(&b, s, len);
    if (rc < 0) {
        vz_buf_release(&b);
        return NULL;
    }
    return vz_buf_take(&b, NULL);
}

int vz_extract_column_names(const struct vz_stream *st, char ***out, struct vz_err *err)
{
    char **base = NULL, **names = NULL;
    size_t k = 0;
    int rc = 0;

    *out = NULL;
    base = calloc(st->nout ? st->nout : 1, sizeof(*base));
    names = calloc(st->nout ? st->nout : 1, sizeof(*names));
    if (!base || !names) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    for (size_t i = 0; i < st->ncols && k < st->nout; i++) {
        if (st->cols[i].out_index < 0)
            continue;
        base[k] = base_name(&st->cols[i], i);
        if (!base[k]) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
        k++;
    }
    /* The first column to use a name keeps it; a later one gets the first
       free "_<n>" that matches neither a name given so far nor any column's
       own name, so "a", "a", "a_1" become "a", "a_2", "a_1". */
    for (size_t i = 0; i < k; i++) {
        if (!name_taken(names, i, base[i])) {
            names[i] = strdup(base[i]);
        } else {
            for (unsigned n = 1;; n++) {
                struct vz_buf b = VZ_BUF_INIT(0);
                if (vz_buf_addf(&b, "%s_%u", base[i], n) < 0) {
                    vz_buf_release(&b);
                    break;
                }
                if (!name_taken(names, i, vz_buf_cstr(&b)) &&
                    !name_taken(base, k, vz_buf_cstr(&b))) {
                    names[i] = vz_buf_take(&b, NULL);
                    break;
                }
                vz_buf_release(&b);
            }
        }
        if (!names[i]) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    *out = names;
    names = NULL;
out:
    vz_extract_names_free(base, st->nout);
    vz_extract_names_free(names, st->nout);
    return rc;
}

/* ---- the table function ---- */

/* Record the first failure; DuckDB gets the same message so its own error
 * text stays meaningful, but vz_extract_write() returns ours. */
static void fail(struct wctx *w, int code, const char *msg)
{
    if (!w->code) {
        w->code = code;
        if (msg != w->err.msg)
            snprintf(w->err.msg, sizeof(w->err.msg), "%s", msg && *msg ? msg : vz_strerror(code));
        else if (!*w->err.msg)
            snprintf(w->err.msg, sizeof(w->err.msg), "%s", vz_strerror(code));
        w->err.code = code;
    }
}

static void tf_bind(duckdb_bind_info info)
{
    struct wctx *w = duckdb_bind_get_extra_info(info);
    for (size_t i = 0; i < w->st->nout; i++)
        duckdb_bind_add_result_column(info, w->names[i], w->types[i]);
}

static void tf_init(duckdb_init_info info)
{
    /* The source is one connection read in order: never in parallel. */
    duckdb_init_set_max_threads(info, 1);
}

static void tf_fill(duckdb_function_info info, duckdb_data_chunk out)
{
    struct wctx *w = duckdb_function_get_extra_info(info);
    const struct vz_extract_opts *o = w->o;
    size_t n = 0;
    int rc;

    if (w->done || w->code) {
        duckdb_data_chunk_set_size(out, 0);
        return;
    }
    if (cancelled(o)) {
        fail(w, VZ_ECANCELLED, "extraction cancelled");
        goto error;
    }
    vz_err_clear(&w->err);
    rc = vz_source_stream_fill(w->src, w->st, out, &n, &w->err);
    if (rc < 0) {
        /* A cancel often surfaces as the server's "statement cancelled". */
        if (cancelled(o))
            fail(w, VZ_ECANCELLED, "extraction cancelled");
        else
            fail(w, rc, w->err.msg);
        goto error;
    }
    if (n > VZ_STREAM_CHUNK) {
        fail(w, VZ_EINTERNAL, "source returned more rows than a chunk holds");
        goto error;
    }
    if (o->max_rows && w->rows + n > o->max_rows) {
        char msg[VZ_ERR_MSG_MAX];
        snprintf(msg, sizeof(msg),
                 "extraction stopped: more than %llu rows (DB_EXTRACT_MAX_ROWS); set a "
                 "row_limit on the extraction or raise DB_EXTRACT_MAX_ROWS",
                 (unsigned long long)o->max_rows);
        fail(w, VZ_ELIMIT, msg);
        goto error;
    }
    if (n == 0)
        w->done = 1;
    w->rows += n;
    if (o->progress) {
        atomic_store(&o->progress->rows, w->rows);
        atomic_store(&o->progress->bytes, w->st->bytes);
    }
    duckdb_data_chunk_set_size(out, n);
    return;

error:
    duckdb_data_chunk_set_size(out, 0);
    duckdb_function_set_error(info, w->err.msg);
}

/* ---- DuckDB setup ---- */

static int set_cfg(duckdb_config cfg, const char *key, const char *val, struct vz_err *err)
{
    if (duckdb_set_config(cfg, key, val) == DuckDBError)
        return vz_err_set(err, VZ_EINVAL, "DuckDB setting %s = '%s' rejected", key, val);
    return 0;
}

static int open_duckdb(const struct vz_extract_opts *o, const char *spill_dir, duckdb_database *db,
                       duckdb_connection *con, struct vz_err *err)
{
    duckdb_config cfg = NULL;
    char *oerr = NULL;
    int rc;

    if (duckdb_create_config(&cfg) == DuckDBError)
        return vz_err_set(err, VZ_ENOMEM, "cannot create a DuckDB configuration");
    /* One thread: the table function then runs on this thread, where the
       source connection lives, and rows keep their order even with
       preserve_insertion_order off (which ROW_GROUP_SIZE_BYTES requires).
       No extension may be fetched or loaded from disk at run time. */
    if ((rc = set_cfg(cfg, "threads", "1", err)) < 0 ||
        (rc = set_cfg(cfg, "memory_limit",
                      o->duckdb_memory_limit ? o->duckdb_memory_limit : VZ_EXTRACT_MEMORY_LIMIT,
                      err)) < 0 ||
        (rc = set_cfg(cfg, "temp_directory", spill_dir, err)) < 0 ||
        (rc = set_cfg(cfg, "preserve_insertion_order", "false", err)) < 0 ||
        (rc = set_cfg(cfg, "autoinstall_known_extensions", "false", err)) < 0 ||
        (rc = set_cfg(cfg, "autoload_known_extensions", "false", err)) < 0)
        goto out;
    if (duckdb_open_ext(NULL, db, cfg, &oerr) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINVAL, "cannot start DuckDB: %s", oerr ? oerr : "unknown error");
        *db = NULL;
        goto out;
    }
    if (duckdb_connect(*db, con) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot connect to DuckDB");
        duckdb_close(db);
        goto out;
    }
    rc = 0;
out:
    if (oerr)
        duckdb_free(oerr);
    duckdb_destroy_config(&cfg);
    return rc;
}

static int register_source(duckdb_connection con, struct wctx *w, struct vz_err *err)
{
    duckdb_table_function tf = duckdb_create_table_function();
    duckdb_state s;

    if (!tf)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    duckdb_table_function_set_name(tf, VZ_EXTRACT_FUNC);
    duckdb_table_function_set_extra_info(tf, w, NULL);
    duckdb_table_function_set_bind(tf, tf_bind);
    duckdb_table_function_set_init(tf, tf_init);
    duckdb_table_function_set_function(tf, tf_fill);
    s = duckdb_register_table_function(con, tf);
    duckdb_destroy_table_function(&tf);
    return s == DuckDBError ? vz_err_set(err, VZ_EINTERNAL, "cannot register the stream source")
                            : 0;
}

/* path as an SQL string literal: quotes doubled. Backslashes are plain
 * characters in DuckDB's standard strings. */
static int add_sql_string(struct vz_buf *b, const char *s)
{
    int rc = vz_buf_addc(b, '\'');
    for (; rc == 0 && *s; s++)
        rc = *s == '\'' ? vz_buf_add(b, "''", 2) : vz_buf_addc(b, *s);
    if (rc == 0)
        rc = vz_buf_addc(b, '\'');
    return rc;
}

/* DuckDB's error for the COPY as a VZ_E* code. Only the first line of its
 * text is kept: the rest quotes our SQL back. */
static int duckdb_failure(duckdb_result *r, struct vz_err *err)
{
    const char *m = duckdb_result_error(r);
    size_t n;
    int code;

    if (!m)
        m = "unknown DuckDB error";
    n = strcspn(m, "\n");
    if (strstr(m, "No space left on device") || strstr(m, "ENOSPC"))
        code = VZ_ENOSPACE;
    else {
        switch (duckdb_result_error_type(r)) {
        case DUCKDB_ERROR_OUT_OF_MEMORY:
            code = VZ_ENOMEM;
            break;
        case DUCKDB_ERROR_INTERRUPT:
            code = VZ_ECANCELLED;
            break;
        case DUCKDB_ERROR_IO:
        case DUCKDB_ERROR_PERMISSION:
            code = VZ_EIO;
            break;
        default:
            code = VZ_EINTERNAL;
        }
    }
    return vz_err_set(err, code, "writing Parquet failed: %.*s", (int)(n > 200 ? 200 : n), m);
}

/* ---- files ---- */

/* out_path made absolute: DuckDB gives a leading "~" or "scheme://" a
 * meaning of its own, and the spill directory is derived from it. */
static int abs_path(const char *in, struct vz_buf *out, struct vz_err *err)
{
    char cwd[PATH_MAX];
    int rc;

    if (in[0] != '/') {
        if (!getcwd(cwd, sizeof(cwd)))
            return vz_err_set(err, vz_errno_code(errno), "cannot get the working directory: %s",
                              strerror(errno));
        rc = vz_buf_addf(out, "%s/%s", cwd, in);
    } else {
        rc = vz_buf_adds(out, in);
    }
    if (rc < 0 || out->len + 16 >= PATH_MAX)
        return vz_err_set(err, VZ_EINVAL, "output path too long");
    return 0;
}

static int fsync_file(const char *path, struct vz_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot open %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rc = vz_err_set(err, vz_errno_code(errno), "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* ---- the run ---- */

int vz_extract_write(struct vz_source *src, struct vz_stream *st, const struct vz_extract_opts *o,
                     struct vz_extract_result *res, struct vz_err *err)
{
    struct wctx w = {.src = src, .st = st, .o = o};
    struct vz_buf out = VZ_BUF_INIT(0), tmp = VZ_BUF_INIT(0), spill = VZ_BUF_INIT(0),
                  sql = VZ_BUF_INIT(0);
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_result r;
    int have_result = 0, tmp_made = 0, rc;
    double t0 = now_s();
    struct stat sb;

    if (res)
        memset(res, 0, sizeof(*res));
    if (!o || !o->out_path || !*o->out_path)
        return vz_err_set(err, VZ_EINVAL, "no output path");
    if (!st->nout)
        return vz_err_set(err, VZ_EUNSUPPORTED,
                          "nothing to extract: every column of the result is skipped");
    if (duckdb_vector_size() < VZ_STREAM_CHUNK)
        return vz_err_set(err, VZ_EINTERNAL, "DuckDB's vector size is below %d rows",
                          VZ_STREAM_CHUNK);

    rc = abs_path(o->out_path, &out, err);
    if (rc < 0)
        goto out;
    if (vz_buf_addf(&tmp, "%s.tmp", vz_buf_cstr(&out)) < 0 ||
        vz_buf_adds(&spill, o->tmp_dir ? o->tmp_dir : "") < 0 ||
        (!o->tmp_dir && vz_buf_addf(&spill, "%s.spill", vz_buf_cstr(&out)) < 0)) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }

    rc = vz_extract_column_names(st, &w.names, err);
    if (rc < 0)
        goto out;
    w.types = calloc(st->nout, sizeof(*w.types));
    if (!w.types) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    for (size_t i = 0, k = 0; i < st->ncols && k < st->nout; i++) {
        if (st->cols[i].out_index < 0)
            continue;
        w.types[k] = vz_stream_logical_type(&st->cols[i]);
        if (!w.types[k]) {
            rc = vz_err_set(err, VZ_EINTERNAL, "column %s: no DuckDB type for \"%s\"", w.names[k],
                            st->cols[i].map.duckdb_type);
            goto out;
        }
        k++;
    }

    /* COPY ... TO overwrites: a .tmp left by a crash goes first, so a
       failure below cannot be mistaken for its leftovers. */
    if (unlink(vz_buf_cstr(&tmp)) != 0 && errno != ENOENT) {
        rc = vz_err_set(err, vz_errno_code(errno), "cannot remove %s: %s", vz_buf_cstr(&tmp),
                        strerror(errno));
        goto out;
    }
    if (cancelled(o)) {
        rc = vz_err_set(err, VZ_ECANCELLED, "extraction cancelled");
        goto out;
    }

    rc = open_duckdb(o, vz_buf_cstr(&spill), &db, &con, err);
    if (rc < 0)
        goto out;
    rc = register_source(con, &w, err);
    if (rc < 0)
        goto out;
    if (vz_buf_adds(&sql, "COPY (SELECT * FROM " VZ_EXTRACT_FUNC "()) TO ") < 0 ||
        add_sql_string(&sql, vz_buf_cstr(&tmp)) < 0 ||
        vz_buf_adds(&sql, " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
                          "ROW_GROUP_SIZE_BYTES '" VZ_EXTRACT_ROW_GROUP_BYTES "')") < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }

    tmp_made = 1;
    have_result = 1;
    if (duckdb_query(con, vz_buf_cstr(&sql), &r) == DuckDBError) {
        if (w.code)
            rc = vz_err_set(err, w.code, "%s", w.err.msg);
        else if (cancelled(o))
            rc = vz_err_set(err, VZ_ECANCELLED, "extraction cancelled");
        else
            rc = duckdb_failure(&r, err);
        goto out;
    }
    /* COPY reports the rows it wrote: it must be every row we handed over. */
    if (duckdb_row_count(&r) != 1 || (uint64_t)duckdb_value_int64(&r, 0, 0) != w.rows) {
        rc =
            vz_err_set(err, VZ_EINTERNAL, "Parquet writer reported %lld rows, the source gave %llu",
                       (long long)duckdb_value_int64(&r, 0, 0), (unsigned long long)w.rows);
        goto out;
    }
    duckdb_destroy_result(&r);
    have_result = 0;
    /* Close DuckDB before touching the file: nothing may still write to it. */
    duckdb_disconnect(&con);
    duckdb_close(&db);

    /* fsync, then rename: a crash must leave the old file or the new, never
       half of one; the directory fsync makes the rename itself durable. */
    rc = fsync_file(vz_buf_cstr(&tmp), err);
    if (rc < 0)
        goto out;
    if (cancelled(o)) {
        rc = vz_err_set(err, VZ_ECANCELLED, "extraction cancelled");
        goto out;
    }
    if (rename(vz_buf_cstr(&tmp), vz_buf_cstr(&out)) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "cannot rename %s: %s", vz_buf_cstr(&tmp),
                        strerror(errno));
        goto out;
    }
    tmp_made = 0;
    rc = vz_fsync_parent(vz_buf_cstr(&out), err);
    if (rc < 0)
        goto out; /* the new file is in place; only its durability is in doubt */
    if (stat(vz_buf_cstr(&out), &sb) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "cannot stat %s: %s", vz_buf_cstr(&out),
                        strerror(errno));
        goto out;
    }
    if (res) {
        res->rows = w.rows;
        res->bytes_written = (uint64_t)sb.st_size;
        res->seconds = now_s() - t0;
    }

out:
    if (have_result)
        duckdb_destroy_result(&r);
    if (con)
        duckdb_disconnect(&con);
    if (db)
        duckdb_close(&db);
    /* After DuckDB is closed, so no handle still points at the file. */
    if (tmp_made)
        (void)unlink(vz_buf_cstr(&tmp)); /* best effort: already failing */
    if (w.types)
        for (size_t i = 0; i < st->nout; i++)
            if (w.types[i])
                duckdb_destroy_logical_type(&w.types[i]);
    free(w.types);
    vz_extract_names_free(w.names, st->nout);
    vz_buf_release(&out);
    vz_buf_release(&tmp);
    vz_buf_release(&spill);
    vz_buf_release(&sql);
    if (rc < 0 && res)
        memset(res, 0, sizeof(*res));
    return rc;
}
