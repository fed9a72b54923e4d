/* pipeline: a raw Parquet file becomes processed.parquet, a column profile
 * and a search index whose chunks cite rows by their primary key; a failed
 * or cancelled run leaves the previous version as it was.
 *
 * The "local" runs need deps/ from scripts/setup.sh (llama.cpp and the
 * MiniLM model). VZ_PIPELINE_BENCH=1 also embeds the 20k-row table. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include <duckdb.h>

#include "core/err.h"
#include "core/util.h"
#include "pipeline/embed.h"
#include "pipeline/pipeline.h"
#include "search/index.h"

#define ID "11111111-2222-4333-8444-555555555555"

struct fx {
    char dir[PATH_MAX];
    char raw[PATH_MAX + 64];
    char index[PATH_MAX + 64];
    char processed[PATH_MAX + 64];
};

static void duck_exec(const char *sql)
{
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_result r;
    assert_int_equal(duckdb_open(NULL, &db), DuckDBSuccess);
    assert_int_equal(duckdb_connect(db, &con), DuckDBSuccess);
    if (duckdb_query(con, sql, &r) == DuckDBError)
        fail_msg("duckdb: %s", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

static long long duck_count(const char *path)
{
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_result r;
    char sql[PATH_MAX + 100];
    long long n;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_parquet('%s')", path);
    assert_int_equal(duckdb_open(NULL, &db), DuckDBSuccess);
    assert_int_equal(duckdb_connect(db, &con), DuckDBSuccess);
    if (duckdb_query(con, sql, &r) == DuckDBError)
        fail_msg("duckdb: %s", duckdb_result_error(&r));
    n = (long long)duckdb_value_int64(&r, 0, 0);
    duckdb_destroy_result(&r);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return n;
}

/* 10 people; id 7 has the zebra note, id 3 a ~3000-character note, NULLs
 * in city and notes. */
static void make_small(const struct fx *f)
{
    char sql[PATH_MAX + 2048];
    snprintf(sql, sizeof(sql),
             "COPY (SELECT i AS id, 'person ' || i AS name, "
             "CASE WHEN i %% 4 = 0 THEN NULL ELSE 'city' || (i %% 3) END AS city, "
             "CASE WHEN i = 7 THEN 'the zebra escaped from the zoo last night' "
             "WHEN i = 3 THEN (SELECT string_agg('word' || g || ' lorem ipsum', ' ') "
             "FROM range(150) t(g)) WHEN i %% 2 = 0 THEN NULL ELSE 'ordinary note ' || i END "
             "AS notes, i * 1.5 AS score, DATE '2024-01-01' + i::INTEGER AS born "
             "FROM range(1, 11) t(i)) TO '%s' (FORMAT parquet)",
             f->raw);
    duck_exec(sql);
}

static void make_rows(const struct fx *f, int n)
{
    char sql[PATH_MAX + 2048];
    snprintf(sql, sizeof(sql),
             "COPY (SELECT i AS id, 'customer ' || i AS name, "
             "['Paris','Lyon','Berlin','Madrid','Oslo'][1 + i %% 5] AS city, "
             "'ordered ' || (i %% 17) || ' lamps and ' || (i %% 7) || ' chairs, note ' || "
             "md5(i::VARCHAR) "
             "AS notes FROM range(1, %d) t(i)) TO '%s' (FORMAT parquet)",
             n + 1, f->raw);
    duck_exec(sql);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    vzt_tmpdir(f->dir, sizeof(f->dir));
    snprintf(f->raw, sizeof(f->raw), "%s/%s.parquet", f->dir, ID);
    snprintf(f->index, sizeof(f->index), "%s/datasets/%s", f->dir, ID);
    snprintf(f->processed, sizeof(f->processed), "%s/datasets/%s.processed.parquet", f->dir, ID);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vzt_rmrf(f->dir);
    free(f);
    return 0;
}

/* Names in <dir>/datasets ending in .tmp. */
static int count_tmp(const struct fx *f)
{
    char d[PATH_MAX + 16];
    DIR *dir;
    struct dirent *e;
    int n = 0;
    snprintf(d, sizeof(d), "%s/datasets", f->dir);
    dir = opendir(d);
    if (!dir)
        return 0;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;
    }
    closedir(dir);
    return n;
}

static json_t *pk_id(void)
{
    return json_pack("[s]", "id");
}

static json_t *col_profile(json_t *profile, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(profile, "columns"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    fail_msg("no profile for column %s", name);
    return NULL;
}

static void chunk_of(struct vz_index *ix, int64_t id, char **row_id, char **col, char **text)
{
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_index_chunk(ix, id, row_id, col, text, &err);
    if (rc < 0)
        fail_msg("chunk %lld: %s", (long long)id, err.msg);
}

static void test_keyword_run(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_index *ix = NULL;
    struct vz_hit hits[5];
    size_t nh = 0;
    json_t *pk = pk_id(), *c;
    char *row_id, *col, *text;
    int rc;

    make_small(f);
    rc = vz_pipeline_run(f->dir, ID, pk, "keyword", NULL, &res, &err);
    if (rc < 0)
        fail_msg("%s: %s", vz_err_name(rc), err.msg);
    assert_int_equal(res.rows, 10);
    assert_int_equal(res.dim, 0);
    assert_string_equal(res.provider, "keyword");
    /* 10 rows + the ~3000-byte note of row 3 in >= 3 windows */
    assert_true(res.chunks >= 13 && res.chunks <= 16);
    assert_int_equal(duck_count(f->processed), 10);
    assert_int_equal(count_tmp(f), 0);

    /* The profile: one entry per column, with the per-type fields. */
    assert_int_equal(json_integer_value(json_object_get(res.profile, "rows")), 10);
    assert_int_equal(json_array_size(json_object_get(res.profile, "columns")), 6);
    c = col_profile(res.profile, "id");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "BIGINT");
    assert_true(json_real_value(json_object_get(c, "mean")) == 5.5);
    assert_true(json_real_value(json_object_get(c, "stddev")) > 2.9);
    assert_int_equal(json_integer_value(json_object_get(c, "min")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "max")), 10);
    assert_true(json_real_value(json_object_get(c, "null_fraction")) == 0.0);
    c = col_profile(res.profile, "notes");
    assert_true(json_real_value(json_object_get(c, "null_fraction")) == 0.5);
    assert_true(json_real_value(json_object_get(c, "avg_length")) > 300);
    assert_true(json_is_array(json_object_get(c, "top_values")));
    c = col_profile(res.profile, "city");
    assert_true(json_real_value(json_object_get(c, "null_fraction")) == 0.2);
    assert_true(json_integer_value(json_object_get(c, "distinct_approx")) >= 2);
    assert_true(json_array_size(json_object_get(c, "top_values")) >= 2);
    c = col_profile(res.profile, "born");
    assert_string_equal(json_string_value(json_object_get(c, "min")), "2024-01-02");
    assert_null(json_object_get(c, "mean"));

    rc = vz_index_open(f->index, &ix, &err);
    if (rc < 0)
        fail_msg("index: %s", err.msg);
    assert_int_equal(vz_index_count(ix), res.chunks);
    assert_int_equal(vz_index_keyword_search(ix, "zebra", 5, hits, &nh, &err), 0);
    assert_true(nh >= 1);
    chunk_of(ix, hits[0].chunk_id, &row_id, &col, &text);
    assert_string_equal(row_id, "7");
    assert_null(col);
    assert_non_null(strstr(text, "notes: the zebra escaped"));
    assert_non_null(strstr(text, "id: 7\nname: person 7\n"));
    assert_non_null(strstr(text, "\ncity: city1\n"));
    free(row_id);
    free(col);
    free(text);
    /* Row 2: its NULL note is left out. */
    chunk_of(ix, 2, &row_id, &col, &text);
    assert_string_equal(row_id, "2");
    assert_null(strstr(text, "notes:"));
    assert_non_null(strstr(text, "score: 3.0"));
    free(row_id);
    free(col);
    free(text);
    /* A word deep inside the long note: found in one of its windows. */
    assert_int_equal(vz_index_keyword_search(ix, "word120", 5, hits, &nh, &err), 0);
    assert_true(nh >= 1);
    chunk_of(ix, hits[0].chunk_id, &row_id, &col, &text);
    assert_string_equal(row_id, "3");
    assert_string_equal(col, "notes");
    assert_true(strncmp(text, "notes: ", 7) == 0);
    assert_true(strlen(text) <= VZ_CHUNK_WINDOW + 8);
    free(row_id);
    free(col);
    free(text);
    vz_index_close(ix);
    vz_pipeline_result_release(&res);
    json_decref(pk);
}

static void test_row_numbers_without_key(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_index *ix = NULL;
    char *row_id, *col, *text;
    json_t *bad = json_pack("[s]", "no_such_column");

    make_small(f);
    assert_int_equal(vz_pipeline_run(f->dir, ID, NULL, "keyword", NULL, &res, &err), 0);
    assert_int_equal(vz_index_open(f->index, &ix, &err), 0);
    chunk_of(ix, 1, &row_id, &col, &text);
    assert_string_equal(row_id, "1");
    free(row_id);
    free(col);
    free(text);
    vz_index_close(ix);
    vz_pipeline_result_release(&res);
    /* A key column that is not in the file: row numbers too. */
    assert_int_equal(vz_pipeline_run(f->dir, ID, bad, "keyword", NULL, &res, &err), 0);
    vz_pipeline_result_release(&res);
    json_decref(bad);
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_pipeline_run(f->dir, ID, NULL, "keyword", NULL, &res, &err), VZ_ENOTFOUND);
    make_small(f);
    assert_int_equal(vz_pipeline_run(f->dir, ID, NULL, "openai", NULL, &res, &err), VZ_EINVAL);
    /* A file that is not Parquet fails cleanly, leaving nothing. */
    assert_int_equal(vz_write_file_atomic(f->raw, "not parquet", 11, 0600, &err), 0);
    assert_true(vz_pipeline_run(f->dir, ID, NULL, "keyword", NULL, &res, &err) < 0);
    assert_int_equal(count_tmp(f), 0);
    assert_int_equal(access(f->index, F_OK), -1);
    assert_int_equal(access(f->processed, F_OK), -1);
}

/* Extreme numbers: no overflow fails the run; what cannot be computed is
 * null in the profile. */
static void test_profile_extremes(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    char sql[PATH_MAX + 512];
    json_t *c;
    snprintf(
        sql, sizeof(sql),
        "COPY (SELECT * FROM (VALUES (1.7e308::DOUBLE, 170141183460469231731687303715884105727::"
        "HUGEINT, [1, 2]), (-1.7e308::DOUBLE, -170141183460469231731687303715884105727::HUGEINT,"
        " NULL), ('nan'::DOUBLE, 0::HUGEINT, [3])) t(d, h, l)) TO '%s' (FORMAT parquet)",
        f->raw);
    duck_exec(sql);
    assert_int_equal(vz_pipeline_run(f->dir, ID, NULL, "keyword", NULL, &res, &err), 0);
    assert_null(json_object_get(res.profile, "error"));
    c = col_profile(res.profile, "d");
    assert_true(json_is_null(json_object_get(c, "stddev")));
    assert_true(json_is_null(json_object_get(c, "mean")));
    c = col_profile(res.profile, "l");
    assert_true(json_real_value(json_object_get(c, "null_fraction")) > 0.3);
    assert_int_equal(res.chunks, 3);
    vz_pipeline_result_release(&res);
}

static void test_local_vector_search(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_embedder *emb = NULL;
    struct vz_index *ix = NULL;
    struct vz_hit hits[3];
    size_t nh = 0;
    float q[384];
    const char *query = "an animal ran away from the zoo";
    json_t *pk = pk_id();
    char *row_id, *col, *text;
    int rc;

    make_small(f);
    rc = vz_pipeline_run(f->dir, ID, pk, "local", NULL, &res, &err);
    if (rc < 0)
        fail_msg("%s: %s (run scripts/setup.sh?)", vz_err_name(rc), err.msg);
    assert_int_equal(res.dim, 384);
    assert_string_equal(res.provider, "local");
    assert_true(strlen(res.model) > 0);
    assert_int_equal(vz_embed_open("local", NULL, &emb, &err), 0);
    assert_int_equal(vz_embed_batch(emb, &query, NULL, 1, q, &err), 0);
    assert_int_equal(vz_index_open(f->index, &ix, &err), 0);
    assert_int_equal(vz_index_dim(ix), 384);
    assert_int_equal(vz_index_vector_search(ix, q, 3, hits, &nh, &err), 0);
    assert_true(nh >= 1);
    chunk_of(ix, hits[0].chunk_id, &row_id, &col, &text);
    assert_string_equal(row_id, "7");
    free(row_id);
    free(col);
    free(text);
    vz_index_close(ix);
    vz_embed_close(emb);
    vz_pipeline_result_release(&res);
    json_decref(pk);
}

struct watcher {
    struct vz_pipeline_progress *pr;
    atomic_int stop;
    uint64_t at;
};

/* Cancel once some rows went through the embedder. */
static void *watch(void *arg)
{
    struct watcher *w = arg;
    while (!atomic_load(&w->stop)) {
        if (atomic_load(&w->pr->phase) == VZ_PHASE_EMBEDDING && atomic_load(&w->pr->done) >= 64) {
            w->at = atomic_load(&w->pr->done);
            atomic_store(w->pr->cancel, 1);
            break;
        }
        usleep(1000);
    }
    return NULL;
}

static void test_cancel_keeps_old_version(void **state)
{
    struct fx *f = *state;
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_pipeline_progress pr;
    struct vz_index *ix = NULL;
    struct watcher w;
    pthread_t th;
    _Atomic int cancel = 0;
    json_t *pk = pk_id();
    uint64_t old_chunks;
    int rc;

    make_small(f);
    assert_int_equal(vz_pipeline_run(f->dir, ID, pk, "keyword", NULL, &res, &err), 0);
    old_chunks = res.chunks;
    vz_pipeline_result_release(&res);

    make_rows(f, 3000);
    memset(&pr, 0, sizeof(pr));
    pr.cancel = &cancel;
    memset(&w, 0, sizeof(w));
    w.pr = &pr;
    assert_int_equal(pthread_create(&th, NULL, watch, &w), 0);
    rc = vz_pipeline_run(f->dir, ID, pk, "local", &pr, &res, &err);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(rc, VZ_ECANCELLED);
    assert_true(w.at >= 64 && w.at < 3000);
    assert_int_equal(count_tmp(f), 0);
    /* The old version is intact: index and processed file. */
    assert_int_equal(vz_index_open(f->index, &ix, &err), 0);
    assert_int_equal(vz_index_count(ix), old_chunks);
    assert_int_equal(vz_index_dim(ix), 0);
    vz_index_close(ix);
    assert_int_equal(duck_count(f->processed), 10);
    /* And the removal helpers take everything away. */
    assert_int_equal(vz_pipeline_remove_files(f->dir, ID, &err), 0);
    assert_int_equal(access(f->index, F_OK), -1);
    assert_int_equal(access(f->processed, F_OK), -1);
    json_decref(pk);
}

static void test_clean_tmp(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    char p[PATH_MAX + 100];
    int removed = -1;
    snprintf(p, sizeof(p), "%s/datasets/%s.tmp", f->dir, ID);
    assert_int_equal(vz_mkdir_p(p, 0700, &err), 0);
    snprintf(p, sizeof(p), "%s/datasets/%s.tmp/chunks.db", f->dir, ID);
    assert_int_equal(vz_write_file_atomic(p, "x", 1, 0600, &err), 0);
    snprintf(p, sizeof(p), "%s/datasets/%s.processed.parquet.tmp", f->dir, ID);
    assert_int_equal(vz_write_file_atomic(p, "x", 1, 0600, &err), 0);
    assert_int_equal(vz_pipeline_clean_tmp(f->dir, &removed, &err), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(count_tmp(f), 0);
}

/* Throughput figures (printed, not asserted): process and
 * chunk+embed+index rows/s. */
static void bench(struct fx *f, int rows, const char *provider)
{
    struct vz_pipeline_result res;
    struct vz_err err = VZ_ERR_INIT;
    json_t *pk = pk_id();
    int64_t t0;
    double total;
    int rc;

    make_rows(f, rows);
    t0 = vz_mono_ms();
    rc = vz_pipeline_run(f->dir, ID, pk, provider, NULL, &res, &err);
    total = (double)(vz_mono_ms() - t0) / 1000.0;
    if (rc < 0)
        fail_msg("%s: %s", vz_err_name(rc), err.msg);
    assert_int_equal(res.rows, (uint64_t)rows);
    assert_int_equal(res.chunks, (uint64_t)rows);
    {
        double cei = res.chunk_seconds + res.embed_seconds + res.index_seconds;
        printf("# %d rows, %s: process %.3f s (%.0f rows/s); chunk %.3f + embed %.3f + index "
               "%.3f s = %.0f rows/s; total %.2f s\n",
               rows, provider, res.process_seconds, rows / res.process_seconds, res.chunk_seconds,
               res.embed_seconds, res.index_seconds, cei > 0 ? rows / cei : 0, total);
    }
    vz_pipeline_result_release(&res);
    json_decref(pk);
}

static void test_bench_20k(void **state)
{
    struct fx *f = *state;
    const char *b = getenv("VZ_PIPELINE_BENCH");
    bench(f, 20000, "keyword");
    bench(f, 2000, "local");
    if (b && *b == '1')
        bench(f, 20000, "local");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keyword_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_numbers_without_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_extremes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_vector_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keeps_old_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_20k, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
