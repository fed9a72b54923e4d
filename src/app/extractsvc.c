#include "app/extractsvc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/connsvc.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "extract/stream.h"
#include "extract/typemap.h"
#include "extract/writer.h"
#include "jobs/runner.h"
#include "pipeline/pipeline.h"
#include "sources/source.h"
#include "sqlguard/sqlguard.h"
#include "store/datasets.h"

#define LARGE_TABLE_HINT_ROWS 1000000LL

/* One planned dataset: what to run and how it is recorded. */
struct plan {
    char *label;        /* "schema.table" or "custom_query" */
    char *name;         /* dataset name */
    char *sql;          /* the statement that runs (our text, or guarded custom SQL) */
    json_t *options;    /* this dataset's part of the request */
    long long estimate; /* rows, -1 unknown */
    long long est_bytes;
    json_t *skip_warnings; /* warnings of columns left out of sql (M2 skips) */
};

struct extract_job {
    struct vz_app *app;
    char job_id[40], dataset_id[40], conn_id[40];
    char *sql, *label;
    json_t *skip_warnings; /* owned */
    enum vz_decimal_mode dm;
    int had_previous; /* an earlier version of the dataset is on disk */
    struct vz_extract_progress progress;
    /* The pipeline after the extraction (or alone: reprocess). */
    int run_pipeline, pipeline_only;
    json_t *primary_key;  /* owned; NULL: row numbers */
    char *embed_provider; /* owned; NULL: "local" */
    long long bytes;      /* of the raw file, kept in the job record */
    struct vz_pipeline_progress pp;
    atomic_int in_pipeline;
    _Atomic int64_t phase_ms; /* when the current pipeline phase started */
};

static void extract_job_free(void *arg)
{
    struct extract_job *j = arg;
    if (!j)
        return;
    free(j->sql);
    free(j->label);
    json_decref(j->skip_warnings);
    json_decref(j->primary_key);
    free(j->embed_provider);
    free(j);
}

static void plan_release(struct plan *p)
{
    free(p->label);
    free(p->name);
    free(p->sql);
    json_decref(p->options);
    json_decref(p->skip_warnings);
}

/* Quote an identifier for the dialect: "x""y" or `x``y`. */
static int quote_ident(struct vz_buf *b, enum vz_db_type t, const char *id)
{
    char q = t == VZ_DB_POSTGRES ? '"' : '`';
    int rc = vz_buf_addc(b, q);
    for (const char *p = id; rc == 0 && *p; p++) {
        if (*p == q)
            rc = vz_buf_addc(b, q);
        if (rc == 0)
            rc = vz_buf_addc(b, *p);
    }
    return rc == 0 ? vz_buf_addc(b, q) : rc;
}

static int in_str_array(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* Every element a string naming a column of table. */
static int check_column_list(json_t *list, const char *key, json_t *table, const char *label,
                             struct vz_err *err)
{
    size_t i, k;
    json_t *v, *c;
    if (!list)
        return VZ_OK;
    if (!json_is_array(list))
        return vz_err_set(err, VZ_EINVAL, "'%s' of %s must be an array of column names", key,
                          label);
    json_array_foreach(list, i, v)
    {
        int found = 0;
        if (!json_is_string(v))
            return vz_err_set(err, VZ_EINVAL, "'%s' of %s must hold strings", key, label);
        json_array_foreach(json_object_get(table, "columns"), k, c)
        {
            found |=
                strcmp(json_string_value(json_object_get(c, "name")), json_string_value(v)) == 0;
        }
        if (!found)
            return vz_err_set(err, VZ_EINVAL, "%s has no column '%s'", label, json_string_value(v));
    }
    return VZ_OK;
}

static json_t *find_table(json_t *tables, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

/* SELECT <kept columns> FROM <schema>.<table> [LIMIT n]: our own text, every
 * name quoted. Binary columns are left out here already (M2: skipped), so
 * they never cross the network. */
static int build_table_sql(enum vz_db_type type, const char *schema, json_t *table, json_t *columns,
                           json_t *exclude, long long limit, char **out, int *ncols,
                           struct vz_err *err)
{
    struct vz_buf b = VZ_BUF_INIT(VZ_MAX_SQL);
    size_t i;
    json_t *c;
    int rc = vz_buf_adds(&b, "SELECT ");
    *ncols = 0;
    json_array_foreach(json_object_get(table, "columns"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (rc < 0)
            break;
        if (json_is_true(json_object_get(c, "skipped")))
            continue;
        if (columns && !in_str_array(columns, name))
            continue;
        if (exclude && in_str_array(exclude, name))
            continue;
        if (*ncols && (rc = vz_buf_adds(&b, ", ")) < 0)
            break;
        rc = quote_ident(&b, type, name);
        (*ncols)++;
    }
    if (rc == 0)
        rc = vz_buf_adds(&b, " FROM ");
    if (rc == 0)
        rc = quote_ident(&b, type, schema);
    if (rc == 0)
        rc = vz_buf_addc(&b, '.');
    if (rc == 0)
        rc = quote_ident(&b, type, json_string_value(json_object_get(table, "name")));
    if (rc == 0 && limit > 0)
        rc = vz_buf_addf(&b, " LIMIT %lld", limit);
    if (rc < 0) {
        vz_buf_release(&b);
        return vz_err_set(err, rc, "the column list is too long");
    }
    *out = vz_buf_take(&b, NULL);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

static long long json_ll(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* The M3 check before starting: refuse when the estimate is over the cap
 * and no row limit brings it under. */
static int check_cap(const char *label, long long estimate, long long row_limit, long long cap,
                     struct vz_err *err)
{
    if (row_limit > 0 && row_limit <= cap)
        return VZ_OK;
    if (row_limit > cap)
        return vz_err_set(err, VZ_ELIMIT,
                          "%s: row_limit %lld is above the extraction cap of %lld rows "
                          "(DB_EXTRACT_MAX_ROWS); use a row_limit of at most %lld",
                          label, row_limit, cap, cap);
    if (estimate > cap)
        return vz_err_set(err, VZ_ELIMIT,
                          "%s has about %lld rows, more than the extraction cap of %lld "
                          "(DB_EXTRACT_MAX_ROWS); set a row_limit of at most %lld for this table, "
                          "or raise DB_EXTRACT_MAX_ROWS",
                          label, estimate, cap, cap);
    return VZ_OK;
}

static int get_row_limit(json_t *o, const char *label, long long *out, struct vz_err *err)
{
    json_t *v = json_object_get(o, "row_limit");
    *out = -1;
    if (!v || json_is_null(v))
        return VZ_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return vz_err_set(err, VZ_EINVAL, "row_limit of %s must be a positive integer", label);
    *out = (long long)json_integer_value(v);
    return VZ_OK;
}

/* "embed_provider", when given: "local" or "keyword". */
static int check_provider(json_t *v, struct vz_err *err)
{
    const char *s = json_string_value(v);
    if (!v || (s && (strcmp(s, "local") == 0 || strcmp(s, "keyword") == 0)))
        return VZ_OK;
    return vz_err_set(err, VZ_EINVAL, "'embed_provider' must be \"local\" or \"keyword\"");
}

/* Plan one table entry of the request. */
static int plan_table(struct vz_app *app, struct vz_source *src, enum vz_db_type type,
                      json_t *entry, json_t *schema_cache, enum vz_decimal_mode dm, struct plan *p,
                      json_t **dry, struct vz_err *err)
{
    const char *tname, *schema;
    json_t *tables, *table, *columns, *exclude;
    long long row_limit;
    char label[600];
    int rc, ncols;

    if (!json_is_object(entry))
        return vz_err_set(err, VZ_EINVAL, "each entry of 'tables' must be an object");
    tname = json_string_value(json_object_get(entry, "table"));
    if (!tname || !*tname)
        return vz_err_set(err, VZ_EINVAL, "each entry of 'tables' needs a 'table' name");
    schema = json_string_value(json_object_get(entry, "schema"));
    if (json_object_get(entry, "schema") && !schema)
        return vz_err_set(err, VZ_EINVAL, "'schema' of %s must be a string", tname);
    if (!schema || !*schema)
        schema = vz_source_default_schema(src);
    snprintf(label, sizeof(label), "%s.%s", schema, tname);
    tables = json_object_get(schema_cache, schema);
    if (!tables) {
        rc = vz_source_introspect(src, schema, &tables, err);
        if (rc < 0)
            return rc;
        json_object_set_new(schema_cache, schema, tables);
    }
    table = find_table(tables, tname);
    if (!table)
        return vz_err_set(err, VZ_EINVAL, "no table or view %s on this connection", label);
    rc = vz_typemap_annotate_table((int)type, table, dm, err);
    if (rc < 0)
        return rc;
    columns = json_object_get(entry, "columns");
    exclude = json_object_get(entry, "exclude_columns");
    p->skip_warnings = json_array();
    {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(table, "columns"), i, c)
        {
            json_t *w = json_object_get(c, "warning");
            if (json_is_true(json_object_get(c, "skipped")) && json_is_string(w))
                json_array_append(p->skip_warnings, w);
        }
    }
    if ((rc = check_column_list(columns, "columns", table, label, err)) < 0 ||
        (rc = check_column_list(exclude, "exclude_columns", table, label, err)) < 0 ||
        (rc = get_row_limit(entry, label, &row_limit, err)) < 0)
        return rc;
    p->estimate = json_ll(table, "estimated_rows");
    p->est_bytes = json_ll(table, "estimated_bytes");
    rc = build_table_sql(type, schema, table, columns, exclude, row_limit, &p->sql, &ncols, err);
    if (rc < 0)
        return rc;
    if (ncols == 0)
        return vz_err_set(err, VZ_EINVAL, "%s: no columns left to extract", label);
    p->label = strdup(label);
    p->name = strdup(label);
    p->options = json_deep_copy(entry);
    if (!p->label || !p->name || !p->options)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    /* The pipeline cites rows by their key; introspection found it. */
    if (json_is_array(json_object_get(table, "primary_key")) &&
        json_object_set(p->options, "primary_key", json_object_get(table, "primary_key")) < 0)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (row_limit > 0 && (p->estimate < 0 || p->estimate > row_limit))
        p->estimate = row_limit;
    if (dry) {
        json_t *cols = json_array();
        size_t i;
        json_t *c;
        long long est = p->estimate;
        json_array_foreach(json_object_get(table, "columns"), i, c)
        {
            const char *n = json_string_value(json_object_get(c, "name"));
            int excluded =
                (columns && !in_str_array(columns, n)) || (exclude && in_str_array(exclude, n));
            json_array_append_new(cols,
                                  json_pack("{s:s, s:O, s:O, s:O, s:b}", "name", n, "source_type",
                                            json_object_get(c, "source_type"), "parquet_type",
                                            json_object_get(c, "parquet_type"), "skipped",
                                            json_object_get(c, "skipped"), "excluded", excluded));
        }
        *dry = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:O, s:o, s:s}", "table", tname, "schema",
                         schema, "label", label, "estimated_rows",
                         est >= 0 ? json_integer(est) : json_null(), "estimated_bytes",
                         p->est_bytes >= 0 ? json_integer(p->est_bytes) : json_null(), "columns",
                         cols, "warnings", json_object_get(table, "warnings"), "hint",
                         row_limit < 0 && est > LARGE_TABLE_HINT_ROWS
                             ? json_sprintf("about %lld rows: consider a row_limit", est)
                             : json_null(),
                         "sql", p->sql);
    }
    return check_cap(label, p->estimate, row_limit, app->cfg->extract_max_rows, err);
}

static int plan_custom(struct vz_app *app, enum vz_db_type type, json_t *body, struct plan *p,
                       json_t **dry, struct vz_err *err)
{
    json_t *v = json_object_get(body, "custom_sql");
    const char *sql = json_string_value(v), *name;
    enum vz_dialect d = type == VZ_DB_POSTGRES ? VZ_DIALECT_POSTGRES : VZ_DIALECT_MYSQL;
    struct vz_buf wrapped = VZ_BUF_INIT(VZ_MAX_SQL + 256);
    long long row_limit;
    int rc;

    if (!sql)
        return vz_err_set(err, VZ_EINVAL, "'custom_sql' must be a string");
    name = json_string_value(json_object_get(body, "dataset_name"));
    if (!name || !*name)
        return vz_err_set(err, VZ_EINVAL, "'dataset_name' is required with custom_sql");
    if (strlen(name) > 255)
        return vz_err_set(err, VZ_EINVAL, "'dataset_name' is longer than 255 bytes");
    rc = vz_sqlguard_check(d, sql, json_string_length(v), err);
    if (rc < 0)
        return rc;
    rc = get_row_limit(body, "the query", &row_limit, err);
    if (rc < 0)
        return rc;
    /* Limits are added around the user's text, never into it. The cap is
     * enforced while streaming anyway; on PostgreSQL a LIMIT of cap+1 also
     * lets the server stop early. MySQL refuses derived tables with
     * duplicate column names (SELECT a.id, b.id ...), so there the query is
     * wrapped only when the user asked for a row_limit. */
    if (row_limit > 0 || type == VZ_DB_POSTGRES)
        rc = vz_sqlguard_wrap_limit(d, sql, json_string_length(v),
                                    row_limit > 0 && row_limit <= app->cfg->extract_max_rows
                                        ? row_limit
                                        : app->cfg->extract_max_rows + 1,
                                    &wrapped, err);
    else if ((rc = vz_buf_add(&wrapped, sql, json_string_length(v))) < 0)
        vz_err_set(err, rc, "the query is too long");
    if (rc < 0) {
        vz_buf_release(&wrapped);
        return rc;
    }
    rc = check_cap("the query", -1, row_limit, app->cfg->extract_max_rows, err);
    if (rc < 0) {
        vz_buf_release(&wrapped);
        return rc;
    }
    p->sql = vz_buf_take(&wrapped, NULL);
    p->label = strdup("custom_query");
    p->name = strdup(name);
    p->options = json_pack("{s:O, s:s, s:O}", "custom_sql", v, "dataset_name", name, "row_limit",
                           row_limit > 0 ? json_integer(row_limit) : json_null());
    p->estimate = row_limit > 0 ? row_limit : -1;
    p->est_bytes = -1;
    if (!p->sql || !p->label || !p->name || !p->options)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (dry)
        *dry = json_pack("{s:s, s:s, s:o, s:n, s:s}", "table", "custom_query", "dataset_name", name,
                         "estimated_rows", row_limit > 0 ? json_integer(row_limit) : json_null(),
                         "estimated_bytes", "sql", p->sql);
    return VZ_OK;
}

/* ---- the job ---- */

static void job_tick(void *arg, struct vz_job_ctl *ctl)
{
    struct extract_job *j = arg;
    struct vz_err err = VZ_ERR_INIT;
    uint64_t rows = atomic_load(&j->progress.rows), bytes = atomic_load(&j->progress.bytes);
    double secs = (double)(vz_mono_ms() - ctl->started_ms) / 1000.0;
    if (atomic_load(&ctl->cancel))
        atomic_store(&j->progress.cancel, 1);
    if (atomic_load(&j->in_pipeline)) {
        uint64_t done = atomic_load(&j->pp.done), total = atomic_load(&j->pp.total);
        double ps = (double)(vz_mono_ms() - atomic_load(&j->phase_ms)) / 1000.0;
        if (vz_job_progress(j->app->store, j->job_id, (long long)done, (long long)total, j->bytes,
                            ps > 0 ? (double)done / ps : 0, &err) < 0)
            vz_debug("job %s: progress not recorded: %s", j->job_id, err.msg);
        return;
    }
    if (vz_job_progress(j->app->store, j->job_id, (long long)rows, ctl->rows_total,
                        (long long)bytes, secs > 0 ? (double)rows / secs : 0, &err) < 0)
        vz_debug("job %s: progress not recorded: %s", j->job_id, err.msg);
}

/* Record the end of a job on the job and its dataset. A failed or
 * cancelled re-extraction leaves the earlier file in place, so the dataset
 * stays ready with the error noted; without one it is failed/cancelled. */
static void job_finish(struct extract_job *j, const char *state, const char *error)
{
    struct vz_err err = VZ_ERR_INIT;
    char note[VZ_ERR_MSG_MAX + 64];
    if (vz_job_set_state(j->app->store, j->job_id, state, NULL, error, &err) < 0)
        vz_error("job %s: cannot record its end: %s", j->job_id, err.msg);
    if (strcmp(state, "succeeded") == 0)
        return;
    if (j->had_previous)
        snprintf(note, sizeof(note), "re-extraction %s: %s (the earlier version is kept)",
                 strcmp(state, "cancelled") == 0 ? "cancelled" : "failed", error ? error : "");
    else
        snprintf(note, sizeof(note), "%s", error ? error : state);
    if (vz_dataset_set_status(j->app->store, j->dataset_id, j->had_previous ? "ready" : state, note,
                              &err) < 0)
        vz_error("dataset %s: cannot record its status: %s", j->dataset_id, err.msg);
}

static char *warnings_of(const struct vz_stream *st, json_t *skip_warnings)
{
    json_t *arr = skip_warnings ? json_deep_copy(skip_warnings) : json_array();
    char *s;
    for (size_t i = 0; arr && i < st->ncols; i++) {
        const struct vz_stream_col *c = &st->cols[i];
        if (!c->map.warning[0])
            continue;
        if (c->nulled)
            json_array_append_new(arr, json_sprintf("%s (%llu value%s)", c->map.warning,
                                                    (unsigned long long)c->nulled,
                                                    c->nulled == 1 ? "" : "s"));
        else
            json_array_append_new(arr, json_string(c->map.warning));
    }
    s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

/* ---- the pipeline stage ---- */

/* Called on the job's thread as each pipeline phase starts: the job and
 * the dataset show the phase from its first moment. */
static void on_phase(void *ud, int phase)
{
    struct extract_job *j = ud;
    struct vz_err err = VZ_ERR_INIT;
    const char *name = vz_pipeline_phase_name(phase);
    atomic_store(&j->phase_ms, vz_mono_ms());
    if (vz_job_set_state(j->app->store, j->job_id, "running", name, NULL, &err) < 0 ||
        vz_dataset_set_status(j->app->store, j->dataset_id, name, NULL, &err) < 0)
        vz_warn("job %s: phase %s not recorded: %s", j->job_id, name, err.msg);
}

/* A failed or cancelled pipeline: the job says why; the dataset stays
 * "ready" on its previous index when there is one. */
static void pipeline_fail(struct extract_job *j, const char *state, const char *error,
                          int had_index)
{
    struct vz_err err = VZ_ERR_INIT;
    char note[VZ_ERR_MSG_MAX + 96];
    if (vz_job_set_state(j->app->store, j->job_id, state, NULL, error, &err) < 0)
        vz_error("job %s: cannot record its end: %s", j->job_id, err.msg);
    if (had_index)
        snprintf(note, sizeof(note), "processing %s: %s (the earlier index is kept)",
                 strcmp(state, "cancelled") == 0 ? "cancelled" : "failed", error ? error : "");
    else
        snprintf(note, sizeof(note), "processing %s: %s",
                 strcmp(state, "cancelled") == 0 ? "cancelled" : "failed", error ? error : "");
    if (vz_dataset_set_status(j->app->store, j->dataset_id, had_index ? "ready" : state, note,
                              &err) < 0)
        vz_error("dataset %s: cannot record its status: %s", j->dataset_id, err.msg);
}

static void run_pipeline(struct extract_job *j, struct vz_job_ctl *ctl)
{
    struct vz_app *app = j->app;
    struct vz_pipeline_result res;
    struct vz_dataset_pipeline rec;
    struct vz_err err = VZ_ERR_INIT, e2 = VZ_ERR_INIT;
    char processed[PATH_MAX], index_dir[PATH_MAX], *profile = NULL;
    int had_index = vz_pipeline_has_index(app->cfg->data_dir, j->dataset_id), rc;

    memset(&rec, 0, sizeof(rec));
    j->pp.cancel = &ctl->cancel;
    j->pp.on_phase = on_phase;
    j->pp.ud = j;
    atomic_store(&j->phase_ms, vz_mono_ms());
    atomic_store(&j->in_pipeline, 1);
    rc = vz_pipeline_run(app->cfg->data_dir, j->dataset_id, j->primary_key, j->embed_provider,
                         &j->pp, &res, &err);
    atomic_store(&j->in_pipeline, 0);
    if (rc < 0) {
        int cancel = rc == VZ_ECANCELLED || atomic_load(&ctl->cancel);
        if (cancel)
            vz_info("job %s: pipeline cancelled", j->job_id);
        else
            vz_warn("job %s: pipeline failed: %s", j->job_id, err.msg);
        pipeline_fail(j, cancel ? "cancelled" : "failed", cancel ? "cancelled by request" : err.msg,
                      had_index);
        return;
    }
    profile = json_dumps(res.profile, JSON_COMPACT);
    if (vz_pipeline_processed_path(app->cfg->data_dir, j->dataset_id, processed,
                                   sizeof(processed)) < 0 ||
        vz_pipeline_index_dir(app->cfg->data_dir, j->dataset_id, index_dir, sizeof(index_dir)) <
            0 ||
        !profile) {
        pipeline_fail(j, "failed", "out of memory recording the result", 1);
        goto out;
    }
    rec.profile_json = profile;
    rec.embed_provider = res.provider;
    rec.embed_model = res.model;
    rec.embed_dim = res.dim;
    rec.chunk_count = (long long)res.chunks;
    rec.processed_path = processed;
    rec.index_path = index_dir;
    if (vz_job_progress(app->store, j->job_id, (long long)res.rows, (long long)res.rows, j->bytes,
                        res.embed_seconds > 0 ? (double)res.rows / res.embed_seconds : 0,
                        &e2) < 0 ||
        vz_dataset_set_pipeline(app->store, j->dataset_id, "ready", &rec, &e2) < 0 ||
        vz_job_set_state(app->store, j->job_id, "succeeded", NULL, NULL, &e2) < 0) {
        /* The new index is committed: whatever the record says, it is there. */
        pipeline_fail(j, "failed", e2.msg, 1);
        goto out;
    }
    vz_info("job %s: pipeline %llu rows, %llu chunks (%s%s%s): process %.2f s, chunk %.2f s, "
            "embed %.2f s, index %.2f s",
            j->job_id, (unsigned long long)res.rows, (unsigned long long)res.chunks, res.provider,
            res.model[0] ? " " : "", res.model, res.process_seconds, res.chunk_seconds,
            res.embed_seconds, res.index_seconds);
out:
    free(profile);
    vz_pipeline_result_release(&res);
}

/* A reprocess job: the pipeline alone, on the raw file already there. */
static void job_run_pipeline(void *arg, struct vz_job_ctl *ctl)
{
    struct extract_job *j = arg;
    int had_index = vz_pipeline_has_index(j->app->cfg->data_dir, j->dataset_id);
    if (atomic_load(&ctl->cancel)) {
        pipeline_fail(j, "cancelled", "cancelled before it started", had_index);
        return;
    }
    run_pipeline(j, ctl);
}

static void job_run(void *arg, struct vz_job_ctl *ctl)
{
    struct extract_job *j = arg;
    struct vz_app *app = j->app;
    struct vz_connection *conn = NULL;
    struct vz_source *src = NULL;
    struct vz_stream st;
    struct vz_extract_opts o;
    struct vz_extract_result res;
    struct vz_err err = VZ_ERR_INIT;
    char path[PATH_MAX + 64], *warnings = NULL;
    int rc, stream_open = 0;

    memset(&st, 0, sizeof(st));
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    if (atomic_load(&ctl->cancel)) {
        job_finish(j, "cancelled", "cancelled before it started");
        return;
    }
    if (vz_job_set_state(app->store, j->job_id, "running", "extracting", NULL, &err) < 0 ||
        vz_dataset_set_status(app->store, j->dataset_id, "extracting", NULL, &err) < 0) {
        job_finish(j, "failed", err.msg);
        return;
    }
    vz_info("job %s: extracting %s into dataset %s", j->job_id, j->label, j->dataset_id);
    snprintf(path, sizeof(path), "%s/%s.parquet", app->cfg->data_dir, j->dataset_id);
    rc = vz_connsvc_open_source(app, j->conn_id, &conn, &src, &err);
    if (rc < 0)
        goto out;
    vz_job_ctl_set_source(ctl, src);
    st.decimal_mode = j->dm;
    rc = vz_source_stream_open(src, j->sql, &st, &err);
    if (rc < 0)
        goto out;
    stream_open = 1;
    o.out_path = path;
    o.max_rows = (uint64_t)app->cfg->extract_max_rows;
    o.progress = &j->progress;
    rc = vz_extract_write(src, &st, &o, &res, &err);
out:
    if (stream_open)
        vz_source_stream_close(src, &st);
    vz_job_ctl_set_source(ctl, NULL);
    vz_source_close(src);
    vz_connection_free(conn);
    if (rc < 0 && (atomic_load(&ctl->cancel) || rc == VZ_ECANCELLED)) {
        vz_info("job %s: cancelled", j->job_id);
        job_finish(j, "cancelled", "cancelled by request");
    } else if (rc < 0) {
        vz_warn("job %s: failed: %s", j->job_id, err.msg);
        job_finish(j, "failed", err.msg);
    } else {
        struct vz_err e2 = VZ_ERR_INIT;
        warnings = warnings_of(&st, j->skip_warnings);
        if (vz_job_progress(app->store, j->job_id, (long long)res.rows, (long long)res.rows,
                            (long long)res.bytes_written,
                            res.seconds > 0 ? (double)res.rows / res.seconds : 0, &e2) < 0 ||
            vz_dataset_set_result(app->store, j->dataset_id,
                                  j->run_pipeline ? "processing" : "ready", (long long)res.rows,
                                  (long long)res.bytes_written, res.seconds, path, warnings,
                                  &e2) < 0 ||
            vz_conn_touch_sync(app->store, j->conn_id, &e2) < 0) {
            job_finish(j, "failed", e2.msg);
        } else {
            vz_info("job %s: %llu rows, %llu bytes in %.2f s", j->job_id,
                    (unsigned long long)res.rows, (unsigned long long)res.bytes_written,
                    res.seconds);
            j->bytes = (long long)res.bytes_written;
            if (j->run_pipeline)
                run_pipeline(j, ctl);
            else
                job_finish(j, "succeeded", NULL);
        }
    }
    free(warnings);
    vz_stream_release(&st);
}

/* Create or reuse the dataset for p, create its job and queue it. */
static int queue_plan(struct vz_app *app, const char *conn_id, struct plan *p,
                      enum vz_decimal_mode dm, json_t *out_list, struct vz_err *err)
{
    struct vz_dataset *prev = NULL, d;
    struct vz_job job;
    struct extract_job *j = NULL;
    char active[40], *opts = NULL;
    int rc, custom = strcmp(p->label, "custom_query") == 0;

    memset(&d, 0, sizeof(d));
    memset(&job, 0, sizeof(job));
    rc = vz_dataset_find_source(app->store, conn_id, p->label, custom ? p->name : NULL, &prev, err);
    if (rc < 0)
        return rc;
    if (prev && vz_job_active_for(app->store, prev->id, active, err)) {
        rc = vz_err_set(err, VZ_ECONFLICT, "%s is being extracted right now (job %s)", p->name,
                        active);
        goto out;
    }
    j = calloc(1, sizeof(*j));
    opts = json_dumps(p->options, JSON_COMPACT);
    if (!j || !opts) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if (prev)
        snprintf(d.id, sizeof(d.id), "%s", prev->id);
    else if (vz_uuid4(d.id) < 0) {
        rc = vz_err_set(err, VZ_EIO, "no randomness for an id");
        goto out;
    }
    if (vz_uuid4(job.id) < 0) {
        rc = vz_err_set(err, VZ_EIO, "no randomness for an id");
        goto out;
    }
    d.name = p->name;
    d.source_type = "database";
    d.source_connection_id = (char *)conn_id;
    d.source_table = p->label;
    d.source_sql = p->sql;
    d.options = opts;
    d.status = "queued";
    d.last_job_id = job.id;
    rc = vz_dataset_upsert(app->store, &d, err);
    if (rc < 0)
        goto out;
    job.dataset_id = d.id;
    job.kind = "extract";
    job.phase = "extracting";
    job.rows_total = p->estimate;
    rc = vz_job_insert(app->store, &job, err);
    if (rc < 0)
        goto out;
    j->app = app;
    snprintf(j->job_id, sizeof(j->job_id), "%s", job.id);
    snprintf(j->dataset_id, sizeof(j->dataset_id), "%s", d.id);
    snprintf(j->conn_id, sizeof(j->conn_id), "%s", conn_id);
    j->sql = strdup(p->sql);
    j->label = strdup(p->label);
    j->skip_warnings = json_incref(p->skip_warnings);
    j->dm = dm;
    j->had_previous = prev && prev->row_count >= 0 && prev->raw_path;
    j->run_pipeline = !json_is_false(json_object_get(p->options, "pipeline"));
    j->primary_key = json_incref(json_object_get(p->options, "primary_key"));
    if (json_is_string(json_object_get(p->options, "embed_provider")) &&
        !(j->embed_provider =
              strdup(json_string_value(json_object_get(p->options, "embed_provider"))))) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if (!j->sql || !j->label) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    json_array_append_new(out_list, json_pack("{s:s, s:s, s:s, s:s}", "dataset_id", d.id, "job_id",
                                              job.id, "table", p->label, "name", p->name));
    rc = vz_runner_submit(app->runner, job.id, p->estimate, job_run, job_tick, j, extract_job_free,
                          err);
    j = NULL; /* the runner owns it now, also on failure */
    if (rc < 0) {
        struct vz_err e2 = VZ_ERR_INIT;
        if (vz_job_set_state(app->store, job.id, "failed", NULL, err->msg, &e2) < 0)
            vz_error("job %s: %s", job.id, e2.msg);
    }
out:
    extract_job_free(j);
    free(opts);
    vz_dataset_free(prev);
    return rc;
}

int vz_extractsvc_request(struct vz_app *app, const char *conn_id, json_t *body, json_t **out,
                          struct vz_err *err)
{
    struct vz_connection *conn = NULL;
    struct vz_source *src = NULL;
    json_t *tables = json_object_get(body, "tables"), *custom = json_object_get(body, "custom_sql");
    json_t *dry_v = json_object_get(body, "dry_run"), *dec = json_object_get(body, "decimal");
    json_t *cache = json_object(), *result = json_array();
    struct plan *plans = NULL;
    size_t nplans = 0, i;
    enum vz_decimal_mode dm = VZ_DECIMAL_DOUBLE;
    enum vz_db_type type;
    int rc, dry = json_is_true(dry_v);
    const char *key;
    json_t *v;

    *out = NULL;
    json_object_foreach(body, key, v)
    {
        static const char *const known[] = {"tables",    "custom_sql",    "dataset_name",
                                            "dry_run",   "pipeline",      "decimal",
                                            "row_limit", "embed_provider"};
        int ok = 0;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok |= strcmp(key, known[k]) == 0;
        if (!ok) {
            rc = vz_err_set(err, VZ_EINVAL, "unknown field '%s'", key);
            goto out;
        }
    }
    if (!cache || !result) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if ((tables != NULL) == (custom != NULL)) {
        rc = vz_err_set(err, VZ_EINVAL,
                        "give either 'tables' or 'custom_sql' (with "
                        "'dataset_name')");
        goto out;
    }
    if (tables &&
        (!json_is_array(tables) || json_array_size(tables) == 0 || json_array_size(tables) > 500)) {
        rc = vz_err_set(err, VZ_EINVAL, "'tables' must be a non-empty array (at most 500)");
        goto out;
    }
    if (dry_v && !json_is_boolean(dry_v)) {
        rc = vz_err_set(err, VZ_EINVAL, "'dry_run' must be true or false");
        goto out;
    }
    if (json_object_get(body, "pipeline") && !json_is_boolean(json_object_get(body, "pipeline"))) {
        rc = vz_err_set(err, VZ_EINVAL, "'pipeline' must be true or false");
        goto out;
    }
    if ((rc = check_provider(json_object_get(body, "embed_provider"), err)) < 0)
        goto out;
    if (dec) {
        const char *s = json_string_value(dec);
        if (s && strcmp(s, "exact") == 0)
            dm = VZ_DECIMAL_EXACT;
        else if (!s || strcmp(s, "double") != 0) {
            rc = vz_err_set(err, VZ_EINVAL, "'decimal' must be \"double\" or \"exact\"");
            goto out;
        }
    }
    if (!dry && !app->runner) {
        rc = vz_err_set(err, VZ_EINTERNAL, "no job workers are running");
        goto out;
    }
    rc = vz_connsvc_open_source(app, conn_id, &conn, &src, err);
    if (rc < 0)
        goto out;
    (void)vz_db_type_parse(conn->db_type, &type); /* validated when saved */
    nplans = tables ? json_array_size(tables) : 1;
    plans = calloc(nplans, sizeof(*plans));
    if (!plans) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    /* Plan everything before queuing anything: a bad entry fails the whole
     * request, so a client never has to find out which half ran. */
    for (i = 0; i < nplans; i++) {
        json_t *d = NULL;
        rc = tables ? plan_table(app, src, type, json_array_get(tables, i), cache, dm, &plans[i],
                                 dry ? &d : NULL, err)
                    : plan_custom(app, type, body, &plans[i], dry ? &d : NULL, err);
        if (d)
            json_array_append_new(result, d);
        if (rc < 0)
            goto out;
        /* Request-wide pipeline settings go with each dataset, so a
         * reprocess later runs the same way. */
        for (size_t k = 0; k < 2; k++) {
            const char *key_k = k == 0 ? "pipeline" : "embed_provider";
            json_t *val = json_object_get(body, key_k);
            if (val && json_object_set(plans[i].options, key_k, val) < 0) {
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
                goto out;
            }
        }
    }
    vz_source_close(src);
    src = NULL;
    if (dry) {
        *out = json_pack("{s:b, s:I, s:O}", "dry_run", 1, "max_rows",
                         (json_int_t)app->cfg->extract_max_rows, "tables", result);
        rc = *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    for (i = 0; i < nplans; i++) {
        rc = queue_plan(app, conn_id, &plans[i], dm, result, err);
        if (rc < 0)
            goto out;
    }
    *out = json_pack("{s:O}", "datasets", result);
    rc = *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
out:
    for (i = 0; plans && i < nplans; i++)
        plan_release(&plans[i]);
    free(plans);
    vz_source_close(src);
    vz_connection_free(conn);
    json_decref(cache);
    json_decref(result);
    return rc;
}

int vz_extractsvc_reprocess(struct vz_app *app, const char *id, json_t *body, json_t **out,
                            struct vz_err *err)
{
    struct vz_dataset *d = NULL, upd;
    struct vz_job job;
    struct extract_job *j = NULL;
    json_t *opts = NULL, *prov = body ? json_object_get(body, "embed_provider") : NULL;
    char active[40], path[PATH_MAX + 64], *opts_text = NULL;
    const char *key;
    json_t *v;
    int rc;

    *out = NULL;
    memset(&job, 0, sizeof(job));
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "embed_provider") != 0)
            return vz_err_set(err, VZ_EINVAL, "unknown field '%s'", key);
    }
    if ((rc = check_provider(prov, err)) < 0)
        return rc;
    if (!app->runner)
        return vz_err_set(err, VZ_EINTERNAL, "no job workers are running");
    rc = vz_dataset_get(app->store, id, &d, err);
    if (rc < 0)
        return rc;
    if (vz_job_active_for(app->store, id, active, err)) {
        rc = vz_err_set(err, VZ_ECONFLICT, "dataset %s has a job in progress (%s)", id, active);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s.parquet", app->cfg->data_dir, d->id);
    if (access(path, R_OK) != 0) {
        rc = vz_err_set(err, VZ_ECONFLICT,
                        "dataset %s has no extracted file to process (status %s)", id, d->status);
        goto out;
    }
    opts = d->options ? json_loads(d->options, 0, NULL) : NULL;
    if (!json_is_object(opts)) {
        json_decref(opts);
        opts = json_object();
    }
    /* Asking for a reprocess turns the pipeline on for later extractions. */
    if (opts)
        (void)json_object_del(opts, "pipeline"); /* absent is fine */
    if (!opts || (prov && json_object_set(opts, "embed_provider", prov) < 0) ||
        !(opts_text = json_dumps(opts, JSON_COMPACT)) || !(j = calloc(1, sizeof(*j)))) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if (vz_uuid4(job.id) < 0) {
        rc = vz_err_set(err, VZ_EIO, "no randomness for an id");
        goto out;
    }
    upd = *d;
    upd.options = opts_text;
    upd.status = "queued";
    upd.last_job_id = job.id;
    rc = vz_dataset_upsert(app->store, &upd, err);
    if (rc < 0)
        goto out;
    job.dataset_id = d->id;
    job.kind = "pipeline";
    job.phase = "processing";
    job.rows_total = d->row_count;
    rc = vz_job_insert(app->store, &job, err);
    if (rc < 0)
        goto out;
    j->app = app;
    snprintf(j->job_id, sizeof(j->job_id), "%s", job.id);
    snprintf(j->dataset_id, sizeof(j->dataset_id), "%s", d->id);
    j->run_pipeline = j->pipeline_only = 1;
    j->bytes = d->byte_size > 0 ? d->byte_size : 0;
    j->primary_key = json_incref(json_object_get(opts, "primary_key"));
    if (json_is_string(json_object_get(opts, "embed_provider")) &&
        !(j->embed_provider = strdup(json_string_value(json_object_get(opts, "embed_provider"))))) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    *out = json_pack("{s:s, s:s}", "dataset_id", d->id, "job_id", job.id);
    if (!*out) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    rc = vz_runner_submit(app->runner, job.id, d->row_count, job_run_pipeline, job_tick, j,
                          extract_job_free, err);
    j = NULL; /* the runner owns it now, also on failure */
    if (rc < 0) {
        struct vz_err e2 = VZ_ERR_INIT;
        if (vz_job_set_state(app->store, job.id, "failed", NULL, err->msg, &e2) < 0)
            vz_error("job %s: %s", job.id, e2.msg);
        json_decref(*out);
        *out = NULL;
    }
out:
    extract_job_free(j);
    free(opts_text);
    json_decref(opts);
    vz_dataset_free(d);
    return rc;
}

int vz_extractsvc_cancel(struct vz_app *app, const char *job_id, struct vz_err *err)
{
    struct vz_job *job = NULL;
    int rc = vz_job_get(app->store, job_id, &job, err);
    if (rc < 0)
        return rc;
    if (strcmp(job->state, "queued") != 0 && strcmp(job->state, "running") != 0)
        rc = vz_err_set(err, VZ_ECONFLICT, "job %s already ended (%s)", job_id, job->state);
    else if (!app->runner || vz_runner_cancel(app->runner, job_id) < 0)
        rc = vz_err_set(err, VZ_ECONFLICT, "job %s is not running in this process", job_id);
    vz_job_free(job);
    return rc;
}

int vz_extractsvc_delete_dataset(struct vz_app *app, const char *id, struct vz_err *err)
{
    struct vz_dataset *d = NULL;
    char active[40], path[PATH_MAX + 64];
    int rc = vz_dataset_get(app->store, id, &d, err);
    if (rc < 0)
        return rc;
    if (vz_job_active_for(app->store, id, active, err)) {
        rc = vz_err_set(err, VZ_ECONFLICT, "dataset %s has a job in progress (%s); cancel it first",
                        id, active);
        goto out;
    }
    rc = vz_dataset_delete(app->store, id, err);
    if (rc < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/%s.parquet", app->cfg->data_dir, d->id);
    if (unlink(path) != 0 && errno != ENOENT)
        vz_warn("dataset %s: cannot remove %s: %s", id, path, strerror(errno));
    snprintf(path, sizeof(path), "%s/%s.parquet.tmp", app->cfg->data_dir, d->id);
    (void)unlink(path); /* only there after a crash; recovery removes it too */
    {
        struct vz_err e2 = VZ_ERR_INIT;
        /* The record is gone already: a file left here is logged, and the
         * next start's temp sweep or a manual rm finishes the job. */
        if (vz_pipeline_remove_files(app->cfg->data_dir, d->id, &e2) < 0)
            vz_warn("dataset %s: %s", id, e2.msg);
    }
    vz_info("dataset %s deleted", id);
out:
    vz_dataset_free(d);
    return rc;
}

int vz_extractsvc_recover(struct vz_app *app, struct vz_err *err)
{
    DIR *dir;
    struct dirent *e;
    int n = 0, rc;

    rc = vz_job_fail_interrupted(app->store,
                                 "interrupted: vectoraiz stopped while this job was running; "
                                 "extract again",
                                 &n, err);
    if (rc < 0)
        return rc;
    if (n)
        vz_warn("marked %d interrupted job%s as failed", n, n == 1 ? "" : "s");
    {
        struct vz_err e2 = VZ_ERR_INIT;
        int removed = 0;
        if (vz_pipeline_clean_tmp(app->cfg->data_dir, &removed, &e2) < 0)
            vz_warn("%s", e2.msg);
        if (removed)
            vz_info("removed %d leftover pipeline temp file%s", removed, removed == 1 ? "" : "s");
    }
    /* Half-written files of interrupted runs: never visible under the final
     * name, removed here. */
    dir = opendir(app->cfg->data_dir);
    if (!dir)
        return VZ_OK;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[PATH_MAX + 300];
        int tmp = len > 12 && strcmp(e->d_name + len - 12, ".parquet.tmp") == 0;
        int spill = len > 14 && strcmp(e->d_name + len - 14, ".parquet.spill") == 0;
        if (!tmp && !spill)
            continue;
        snprintf(path, sizeof(path), "%s/%s", app->cfg->data_dir, e->d_name);
        if (tmp && unlink(path) == 0)
            vz_info("removed leftover temp file %s", path);
        if (spill && vz_rm_rf(path) == 0)
            vz_info("removed leftover spill directory %s", path);
    }
    closedir(dir);
    return VZ_OK;
}
