/* The extraction engine without a database: a fake source (built with
 * vz_source_open_with()) streams deterministic rows of every type class into
 * the writer, and a second DuckDB reads the Parquet file back.
 *
 * Covered: values, NULLs, names and types as users see them in the file;
 * UTF-8 repair; zstd; row order; failures at every chunk (like SQLite's
 * ioerr tests: each one leaves no .tmp and the previous file byte-identical);
 * the M3 row cap; cancel (flag, another thread, the source's own cancel); a
 * full disk (tmpfs, when the test may mount one); and 5 million rows in
 * bounded memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare(), CLONE_NEWNS: also when CFLAGS is overridden */
#endif
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "extract/vec.h"

#include "core/buf.h"
#include "extract/stream.h"
#include "extract/typemap.h"
#include "extract/writer.h"
#include "sources/source.h"

__extension__ typedef __int128 i128;

#ifdef __SANITIZE_ADDRESS__
/* ASan keeps up to 256 MB of freed memory in quarantine by default, which
 * would show as RSS growth and hide what the memory tests look for. Options
 * in ASAN_OPTIONS still win. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=8";
}
#endif

/* ---- the fake source ---- */

enum kind {
    K_FULL,   /* one column per type class, NULLs, odd names */
    K_BIG,    /* 4 plain columns, for volume */
    K_NEGIV,  /* K_FULL with one negative interval (Parquet cannot hold it) */
    K_BINARY, /* only a binary column: nothing to extract */
    K_WIDE,   /* an id and 4 KB of text per row */
};

struct plan {
    enum kind kind;
    uint64_t nrows;    /* UINT64_MAX: endless */
    int fail_at;       /* fill call (0-based) that fails, -1: none */
    int fail_code;     /* its code */
    int cancel_at;     /* fill call that sets progress->cancel (as another thread would) */
    unsigned sleep_us; /* per fill, to give a cancelling thread time */
    struct vz_extract_progress *progress;
};

struct fake {
    struct plan p;
    int calls;
    uint64_t next;     /* next row number */
    atomic_int cancel; /* set by vz_source_cancel() */
    struct vz_buf scratch, json;
    long rss_kb_at_1m; /* K_BIG: peak RSS after the first million rows */
};

/* Read by fake_open(): the only way to hand a plan through
 * vz_source_open_with(). Single-threaded test setup. */
static struct plan next_plan;

static int fake_open(struct vz_source *s, const struct vz_conn_cfg *cfg, struct vz_err *err)
{
    struct fake *f = vz_source_priv(s);
    (void)cfg;
    (void)err;
    f->p = next_plan;
    vz_buf_init(&f->scratch, 0);
    vz_buf_init(&f->json, 0);
    return 0;
}

static void fake_close(struct vz_source *s)
{
    struct fake *f = vz_source_priv(s);
    vz_buf_release(&f->scratch);
    vz_buf_release(&f->json);
}

static int fake_cancel(struct vz_source *s, struct vz_err *err)
{
    struct fake *f = vz_source_priv(s);
    (void)err;
    atomic_store(&f->cancel, 1);
    return 0;
}

static const char *fake_schema(struct vz_source *s)
{
    (void)s;
    return "fake";
}

struct coldef {
    const char *name, *type_class, *source_type;
    int precision, scale;
};

/* K_FULL's columns. "blob" is skipped; the last four test naming. */
static const struct coldef full_cols[] = {
    {"id", "int64", "bigint", -1, -1},
    {"i32", "int32", "integer", -1, -1},
    {"u64", "uint64", "bigint unsigned", -1, -1},
    {"f64", "float64", "double precision", -1, -1},
    {"dec", "decimal", "numeric(10,2)", 10, 2},
    {"bigdec", "decimal", "numeric(30,5)", 30, 5},
    {"txt", "text", "text", -1, -1},
    {"flag", "bool", "boolean", -1, -1},
    {"d", "date", "date", -1, -1},
    {"t", "time", "time", -1, -1},
    {"ts", "timestamp", "timestamp", -1, -1},
    {"tstz", "timestamptz", "timestamp with time zone", -1, -1},
    {"iv", "interval", "interval", -1, -1},
    {"doc", "json", "jsonb", -1, -1},
    {"blob", "binary", "bytea", -1, -1},
    {"count", "int32", "integer", -1, -1},
    {"count", "int32", "integer", -1, -1},
    {"COUNT", "int32", "integer", -1, -1},
    {"", "text", "text", -1, -1},
};
#define FULL_NCOLS (sizeof(full_cols) / sizeof(full_cols[0]))

static const struct coldef big_cols[] = {
    {"id", "int64", "bigint", -1, -1},
    {"val", "float64", "double precision", -1, -1},
    {"name", "text", "text", -1, -1},
    {"ts", "timestamp", "timestamp", -1, -1},
};

static const struct coldef wide_cols[] = {
    {"id", "int64", "bigint", -1, -1},
    {"body", "text", "text", -1, -1},
};

static const struct coldef binary_cols[] = {{"b", "binary", "bytea", -1, -1}};

static int fake_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                            struct vz_err *err)
{
    struct fake *f = vz_source_priv(s);
    const struct coldef *defs = full_cols;
    size_t n = FULL_NCOLS;
    int rc;
    (void)sql;

    if (f->p.kind == K_BIG) {
        defs = big_cols;
        n = sizeof(big_cols) / sizeof(big_cols[0]);
    } else if (f->p.kind == K_WIDE) {
        defs = wide_cols;
        n = 2;
    } else if (f->p.kind == K_BINARY) {
        defs = binary_cols;
        n = 1;
    }
    st->cols = calloc(n, sizeof(*st->cols));
    if (!st->cols)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    st->ncols = n;
    for (size_t i = 0; i < n; i++) {
        struct vz_stream_col *c = &st->cols[i];
        c->name = strdup(defs[i].name);
        if (!c->name)
            return vz_err_set(err, VZ_ENOMEM, NULL);
        snprintf(c->type_class, sizeof(c->type_class), "%s", defs[i].type_class);
        snprintf(c->source_type, sizeof(c->source_type), "%s", defs[i].source_type);
        c->precision = defs[i].precision;
        c->scale = defs[i].scale;
    }
    f->calls = 0;
    f->next = 0;
    rc = vz_stream_map_columns(st, VZ_DB_POSTGRES, err);
    /* The M2 table sends intervals as text (Parquet cannot hold negative
     * ones); the writer must still handle a real INTERVAL column, and the
     * negative one is how these tests make DuckDB itself refuse a value. */
    for (size_t i = 0; rc == 0 && i < st->ncols; i++)
        if (strcmp(st->cols[i].type_class, "interval") == 0) {
            snprintf(st->cols[i].map.duckdb_type, sizeof(st->cols[i].map.duckdb_type), "INTERVAL");
            st->cols[i].map.conv = VZ_CONV_AS_IS;
        }
    return rc;
}

static void fake_stream_close(struct vz_source *s, struct vz_stream *st)
{
    (void)s;
    vz_stream_release(st);
}

/* K_FULL's values, shared by the fill and the checks. */
static int i32_null(uint64_t i)
{
    return i % 10 == 3;
}
static int32_t i32_of(uint64_t i)
{
    return (int32_t)(i * 7) - 1000;
}
static int f64_null(uint64_t i)
{
    return i % 7 == 0;
}
static int txt_null(uint64_t i)
{
    return i % 13 == 0;
}
static int flag_null(uint64_t i)
{
    return i % 17 == 5;
}
static int32_t days_of(uint64_t i)
{
    return (int32_t)(i % 40000) - 20000;
}
static int64_t time_of(uint64_t i)
{
    return (int64_t)((i * 1000003u) % 86400000000u);
}
static int64_t ts_of(uint64_t i)
{
    return (int64_t)i * 1000000 - 1000000000000000LL;
}
static int64_t tstz_of(uint64_t i)
{
    return 1700000000000000LL + (int64_t)i * 1000;
}
static i128 bigdec_of(uint64_t i)
{
    i128 v = (i128)10000000000000LL * 1000000000000LL + (i128)i; /* 10^25 + i */
    return i % 2 ? -v : v;
}

#define SET_OR_FAIL(expr)                                                                          \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0)                                                                               \
            return vz_err_set(err, rc_, "fake: value rejected");                                   \
    } while (0)

static int fill_full_row(struct fake *f, struct vz_stream *st, duckdb_data_chunk chunk, idx_t r,
                         uint64_t i, struct vz_err *err)
{
    for (size_t c = 0; c < st->ncols; c++) {
        const struct vz_stream_col *col = &st->cols[c];
        duckdb_vector v;
        const char *name = col->name;
        if (col->out_index < 0)
            continue;
        v = duckdb_data_chunk_get_vector(chunk, (idx_t)col->out_index);
        if (strcmp(name, "id") == 0) {
            vz_vec_set_i64(v, r, (int64_t)i);
        } else if (strcmp(name, "i32") == 0) {
            if (i32_null(i))
                vz_vec_set_null(v, r);
            else
                vz_vec_set_i32(v, r, i32_of(i));
        } else if (strcmp(name, "u64") == 0) {
            vz_vec_set_u64(v, r, UINT64_MAX - i);
        } else if (strcmp(name, "f64") == 0) {
            if (f64_null(i))
                vz_vec_set_null(v, r);
            else
                vz_vec_set_f64(v, r, (double)i * 0.5);
        } else if (strcmp(name, "dec") == 0) {
            int w, s;
            SET_OR_FAIL(vz_vec_decimal_dims(col->map.duckdb_type, &w, &s));
            SET_OR_FAIL(vz_vec_set_decimal(v, r, w, (int64_t)i * 101));
        } else if (strcmp(name, "bigdec") == 0) {
            i128 x = bigdec_of(i);
            SET_OR_FAIL(vz_vec_set_decimal128(v, r, 30, (int64_t)(x >> 64), (uint64_t)x));
        } else if (strcmp(name, "txt") == 0) {
            char buf[64];
            size_t n;
            if (txt_null(i)) {
                vz_vec_set_null(v, r);
                continue;
            }
            if (i % 5 == 1) {
                n = (size_t)snprintf(buf, sizeof(buf), "a%cb%llu", 0, (unsigned long long)i);
            } else if (i % 11 == 4) {
                n = (size_t)snprintf(buf, sizeof(buf), "bad\xff\xfe");
            } else {
                n = (size_t)snprintf(buf, sizeof(buf), "h\xc3\xa9llo \xe2\x9c\x93 %llu",
                                     (unsigned long long)i);
            }
            SET_OR_FAIL(vz_vec_set_text(v, r, buf, n, &f->scratch));
        } else if (strcmp(name, "flag") == 0) {
            if (flag_null(i))
                vz_vec_set_null(v, r);
            else
                vz_vec_set_bool(v, r, i % 2 == 0);
        } else if (strcmp(name, "d") == 0) {
            vz_vec_set_date(v, r, days_of(i));
        } else if (strcmp(name, "t") == 0) {
            vz_vec_set_time(v, r, time_of(i));
        } else if (strcmp(name, "ts") == 0) {
            vz_vec_set_timestamp(v, r, ts_of(i));
        } else if (strcmp(name, "tstz") == 0) {
            vz_vec_set_timestamptz(v, r, tstz_of(i));
        } else if (strcmp(name, "iv") == 0) {
            int neg = f->p.kind == K_NEGIV && i == 5000;
            vz_vec_set_interval(v, r, (int32_t)(i % 12), neg ? -1 : (int32_t)(i % 30),
                                (int64_t)(i % 1000) * 1000);
        } else if (strcmp(name, "doc") == 0) {
            static const char s[] = "q\"\\\n\x01\xc3\xa9";
            vz_buf_reset(&f->json);
            SET_OR_FAIL(vz_buf_addf(&f->json, "{\"i\":%llu,\"s\":", (unsigned long long)i));
            SET_OR_FAIL(vz_json_add_str(&f->json, s, sizeof(s) - 1));
            SET_OR_FAIL(vz_buf_addc(&f->json, '}'));
            SET_OR_FAIL(vz_vec_set_text(v, r, f->json.p, f->json.len, &f->scratch));
        } else if (col->out_index == (int)st->nout - 1) {
            SET_OR_FAIL(vz_vec_set_text(v, r, "e", 1, &f->scratch));
        } else {
            /* count, count, COUNT: i, -i, i */
            vz_vec_set_i32(v, r, col->out_index == 15 ? -(int32_t)i : (int32_t)i);
        }
    }
    return 0;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int fake_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk,
                            size_t *nrows, struct vz_err *err)
{
    struct fake *f = vz_source_priv(s);
    duckdb_data_chunk chunk = duckdb_chunk;
    int call = f->calls++;
    size_t n = 0;

    *nrows = 0;
    if (f->p.sleep_us)
        usleep(f->p.sleep_us);
    if (atomic_load(&f->cancel))
        return vz_err_set(err, VZ_ECANCELLED, "fake: canceling statement due to user request");
    if (call == f->p.fail_at)
        return vz_err_set(err, f->p.fail_code, "fake: connection lost at chunk %d", call);
    if (call == f->p.cancel_at && f->p.progress)
        atomic_store(&f->p.progress->cancel, 1);

    if (f->p.kind == K_BIG) {
        duckdb_vector vid = duckdb_data_chunk_get_vector(chunk, 0);
        duckdb_vector vval = duckdb_data_chunk_get_vector(chunk, 1);
        duckdb_vector vname = duckdb_data_chunk_get_vector(chunk, 2);
        duckdb_vector vts = duckdb_data_chunk_get_vector(chunk, 3);
        for (; n < VZ_STREAM_CHUNK && f->next < f->p.nrows; n++, f->next++) {
            char name[32];
            int len = snprintf(name, sizeof(name), "name-%llu", (unsigned long long)f->next);
            vz_vec_set_i64(vid, n, (int64_t)f->next);
            vz_vec_set_f64(vval, n, (double)(f->next % 1000) / 8.0);
            SET_OR_FAIL(vz_vec_set_text(vname, n, name, (size_t)len, &f->scratch));
            vz_vec_set_timestamp(vts, n, 1600000000000000LL + (int64_t)f->next * 1000);
            if (f->next == 1000000)
                f->rss_kb_at_1m = peak_rss_kb();
        }
    } else if (f->p.kind == K_WIDE) {
        duckdb_vector vid = duckdb_data_chunk_get_vector(chunk, 0);
        duckdb_vector vbody = duckdb_data_chunk_get_vector(chunk, 1);
        char body[4096];
        for (; n < VZ_STREAM_CHUNK && f->next < f->p.nrows; n++, f->next++) {
            /* Different on every row. It still compresses well, which does
               not matter: a row group is buffered before compression. */
            for (size_t k = 0; k < sizeof(body); k++)
                body[k] = (char)('a' + (f->next * 31 + k * 7 + k / 13) % 26);
            vz_vec_set_i64(vid, n, (int64_t)f->next);
            SET_OR_FAIL(vz_vec_set_text(vbody, n, body, sizeof(body), &f->scratch));
        }
    } else {
        for (; n < VZ_STREAM_CHUNK && f->next < f->p.nrows; n++, f->next++) {
            int rc = fill_full_row(f, st, chunk, n, f->next, err);
            if (rc < 0)
                return rc;
        }
    }
    st->rows += n;
    st->bytes += n * 100;
    *nrows = n;
    return 0;
}

static const struct vz_source_ops fake_ops = {
    .name = "fake",
    .type = VZ_DB_POSTGRES,
    .priv_size = sizeof(struct fake),
    .open = fake_open,
    .cancel = fake_cancel,
    .close = fake_close,
    .default_schema = fake_schema,
    .stream_open = fake_stream_open,
    .stream_fill = fake_stream_fill,
    .stream_close = fake_stream_close,
};

/* ---- running an extraction ---- */

struct run {
    struct plan plan;
    uint64_t max_rows;
    const char *memory_limit;
    int no_progress; /* pass no progress struct at all */
    struct vz_extract_progress progress;
    struct vz_extract_result res;
    struct vz_err err;
    long rss_kb_at_1m;
    struct vz_source *src; /* during the run, for a cancelling thread */
    pthread_t *join_first; /* joined before the source is closed */
};

static struct plan plan_of(enum kind k, uint64_t nrows)
{
    struct plan p = {k, nrows, -1, VZ_ESOURCE, -1, 0, NULL};
    return p;
}

static int run_extract(struct run *r, const char *out_path)
{
    struct vz_conn_cfg cfg = {.type = VZ_DB_POSTGRES, .host = "fake", .username = "u"};
    struct vz_stream st = {0};
    struct vz_extract_opts o = {0};
    struct vz_source *src = NULL;
    int rc;

    memset(&r->progress, 0, sizeof(r->progress));
    vz_err_clear(&r->err);
    if (r->plan.cancel_at >= 0)
        r->plan.progress = &r->progress;
    next_plan = r->plan;
    rc = vz_source_open_with(&fake_ops, &cfg, &src, &r->err);
    assert_int_equal(rc, 0);
    st.decimal_mode = VZ_DECIMAL_EXACT;
    rc = vz_source_stream_open(src, "SELECT fake", &st, &r->err);
    assert_int_equal(rc, 0);
    o.out_path = out_path;
    o.max_rows = r->max_rows;
    o.progress = r->no_progress ? NULL : &r->progress;
    o.duckdb_memory_limit = r->memory_limit;
    r->src = src;
    rc = vz_extract_write(src, &st, &o, &r->res, &r->err);
    r->rss_kb_at_1m = ((struct fake *)vz_source_priv(src))->rss_kb_at_1m;
    assert_int_equal(rc, r->err.code);
    if (rc < 0 && getenv("VZ_TEST_VERBOSE"))
        fprintf(stderr, "  extract: %s: %s\n", vz_err_name(rc), r->err.msg);
    /* vz_source_cancel() must not overlap vz_source_close(). */
    if (r->join_first)
        assert_int_equal(pthread_join(*r->join_first, NULL), 0);
    vz_source_stream_close(src, &st);
    vz_source_close(src);
    r->src = NULL;
    return rc;
}

/* ---- reading the file back ---- */

struct reader {
    duckdb_database db;
    duckdb_connection con;
};

static void reader_open(struct reader *rd)
{
    assert_int_equal(duckdb_open(NULL, &rd->db), DuckDBSuccess);
    assert_int_equal(duckdb_connect(rd->db, &rd->con), DuckDBSuccess);
}

static void reader_close(struct reader *rd)
{
    duckdb_disconnect(&rd->con);
    duckdb_close(&rd->db);
}

/* The whole result as text: values joined by '|', rows by '\n'. NULL
 * values print as "NULL". */
static char *query_text(struct reader *rd, const char *fmt, ...)
{
    char sql[4096];
    struct vz_buf b = VZ_BUF_INIT(0);
    duckdb_result res;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (duckdb_query(rd->con, sql, &res) == DuckDBError)
        fail_msg("query failed: %s\n%s", duckdb_result_error(&res), sql);
    for (idx_t row = 0; row < duckdb_row_count(&res); row++) {
        for (idx_t c = 0; c < duckdb_column_count(&res); c++) {
            char *v =
                duckdb_value_is_null(&res, c, row) ? NULL : duckdb_value_varchar(&res, c, row);
            assert_int_equal(vz_buf_adds(&b, c ? "|" : (row ? "\n" : "")), 0);
            assert_int_equal(vz_buf_adds(&b, v ? v : "NULL"), 0);
            duckdb_free(v);
        }
    }
    duckdb_destroy_result(&res);
    return vz_buf_take(&b, NULL);
}

#define assert_query(rd, expect, ...)                                                              \
    do {                                                                                           \
        char *got_ = query_text((rd), __VA_ARGS__);                                                \
        assert_string_equal(got_, (expect));                                                       \
        free(got_);                                                                                \
    } while (0)

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

struct dirs {
    char dir[PATH_MAX];
    char out[PATH_MAX + 32];
    char tmp[PATH_MAX + 64];
    char spill[PATH_MAX + 64];
};

static void dirs_init(struct dirs *d, const char *sub)
{
    vzt_tmpdir(d->dir, sizeof(d->dir));
    if (sub) {
        strncat(d->dir, sub, sizeof(d->dir) - strlen(d->dir) - 1);
        assert_int_equal(mkdir(d->dir, 0700), 0);
    }
    snprintf(d->out, sizeof(d->out), "%s/ds.parquet", d->dir);
    snprintf(d->tmp, sizeof(d->tmp), "%s.tmp", d->out);
    snprintf(d->spill, sizeof(d->spill), "%s.spill", d->out);
}

static void dirs_release(struct dirs *d, const char *sub)
{
    if (sub)
        d->dir[strlen(d->dir) - strlen(sub)] = '\0';
    vzt_rmrf(d->dir);
}

/* After a failed run: no trace, and the previous file unchanged. */
static void assert_untouched(const struct dirs *d, const char *prev, size_t prev_len)
{
    size_t len = 0;
    char *now;
    assert_false(exists(d->tmp));
    assert_false(exists(d->spill));
    if (!prev) {
        assert_false(exists(d->out));
        return;
    }
    now = vzt_slurp(d->out, &len);
    assert_non_null(now);
    assert_int_equal(len, prev_len);
    assert_memory_equal(now, prev, len);
    free(now);
}

/* ---- tests: what users see in the file ---- */

/* Decimal text of a 128-bit integer. */
static void i128_str(i128 v, char *out, size_t n)
{
    char tmp[48];
    size_t k = 0, o = 0;
    int neg = v < 0;
    __extension__ unsigned __int128 u =
        neg ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg && o + 1 < n)
        out[o++] = '-';
    while (k && o + 1 < n)
        out[o++] = tmp[--k];
    out[o] = '\0';
}

static void check_full_file(struct reader *rd, const char *path, uint64_t n)
{
    uint64_t nn_i32 = 0, nn_f64 = 0, nn_txt = 0, nn_flag = 0, flags = 0;
    int64_t sum_i32 = 0, sum_days = 0;
    i128 sum_time = 0, sum_ts = 0, sum_tstz = 0;
    double sum_f64 = 0;
    char expect[512], s1[64], s2[64], s3[64];

    for (uint64_t i = 0; i < n; i++) {
        if (!i32_null(i))
            nn_i32++, sum_i32 += i32_of(i);
        if (!f64_null(i))
            nn_f64++, sum_f64 += (double)i * 0.5;
        if (!txt_null(i))
            nn_txt++;
        if (!flag_null(i))
            nn_flag++, flags += i % 2 == 0;
        sum_days += days_of(i);
        sum_time += time_of(i);
        sum_ts += ts_of(i);
        sum_tstz += tstz_of(i);
    }

    /* Names and DuckDB types as written: the binary column is gone,
       duplicates numbered, the empty name replaced. */
    assert_query(rd,
                 "id|BIGINT\ni32|INTEGER\nu64|UBIGINT\nf64|DOUBLE\ndec|DECIMAL(10,2)\n"
                 "bigdec|DECIMAL(30,5)\ntxt|VARCHAR\nflag|BOOLEAN\nd|DATE\nt|TIME\n"
                 "ts|TIMESTAMP\ntstz|TIMESTAMP WITH TIME ZONE\niv|INTERVAL\ndoc|VARCHAR\n"
                 "count|INTEGER\ncount_1|INTEGER\nCOUNT_2|INTEGER\ncolumn19|VARCHAR",
                 "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s'))",
                 path);

    snprintf(expect, sizeof(expect), "%llu|%llu|%llu|%lld|%llu|%llu", (unsigned long long)n,
             (unsigned long long)(n * (n - 1) / 2), (unsigned long long)nn_i32, (long long)sum_i32,
             (unsigned long long)(UINT64_MAX - (n - 1)), (unsigned long long)UINT64_MAX);
    assert_query(rd, expect,
                 "SELECT count(*), sum(id), count(i32), sum(i32), min(u64), max(u64) "
                 "FROM read_parquet('%s')",
                 path);

    snprintf(expect, sizeof(expect), "%llu|%.1f|%llu.%02llu", (unsigned long long)nn_f64, sum_f64,
             (unsigned long long)(n * (n - 1) / 2 * 101 / 100),
             (unsigned long long)(n * (n - 1) / 2 * 101 % 100));
    assert_query(rd, expect,
                 "SELECT count(f64), round(sum(f64), 1), sum(dec) FROM read_parquet('%s')", path);

    /* 128-bit decimals, both signs. */
    assert_query(rd, "100000000000000000000.00002|-100000000000000000000.00003",
                 "SELECT (SELECT bigdec FROM read_parquet('%s') WHERE id = 2)::VARCHAR, "
                 "(SELECT bigdec FROM read_parquet('%s') WHERE id = 3)::VARCHAR",
                 path, path);

    /* Text: unicode kept, an embedded NUL kept, invalid bytes -> U+FFFD. */
    snprintf(expect, sizeof(expect), "%llu|h\xc3\xa9llo \xe2\x9c\x93 2|61006231|626164EFBFBDEFBFBD",
             (unsigned long long)nn_txt);
    assert_query(rd, expect,
                 "SELECT count(txt), (SELECT txt FROM read_parquet('%s') WHERE id = 2), "
                 "(SELECT hex(txt) FROM read_parquet('%s') WHERE id = 1), "
                 "(SELECT hex(txt) FROM read_parquet('%s') WHERE id = 4) FROM read_parquet('%s')",
                 path, path, path, path);
    assert_query(rd, "NULL", "SELECT txt FROM read_parquet('%s') WHERE id = 26", path);

    snprintf(expect, sizeof(expect), "%llu|%llu|%lld", (unsigned long long)nn_flag,
             (unsigned long long)flags, (long long)sum_days);
    assert_query(rd, expect,
                 "SELECT count(flag), sum(flag::INTEGER), sum(d - DATE '1970-01-01') "
                 "FROM read_parquet('%s')",
                 path);

    /* Time values, summed exactly as microseconds. */
    i128_str(sum_time, s1, sizeof(s1));
    i128_str(sum_ts, s2, sizeof(s2));
    i128_str(sum_tstz, s3, sizeof(s3));
    snprintf(expect, sizeof(expect), "%s|%s|%s", s1, s2, s3);
    assert_query(
        rd, expect,
        "SELECT sum(epoch_us(DATE '1970-01-01' + t))::VARCHAR, sum(epoch_us(ts))::VARCHAR, "
        "sum(epoch_us(tstz))::VARCHAR FROM read_parquet('%s')",
        path);
    assert_query(rd, "10 months 4 days 00:00:00.234",
                 "SELECT iv::VARCHAR FROM read_parquet('%s') WHERE id = 1234", path);

    /* JSON text: escaped by vz_json_add_str(), valid for DuckDB's parser. */
    assert_query(rd, "{\"i\":7,\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\"}|true",
                 "SELECT (SELECT doc FROM read_parquet('%s') WHERE id = 7), "
                 "bool_and(json_valid(doc)) FROM read_parquet('%s')",
                 path, path);

    snprintf(expect, sizeof(expect), "%lld|%lld|%lld|%llu", (long long)(n * (n - 1) / 2),
             -(long long)(n * (n - 1) / 2), (long long)(n * (n - 1) / 2), (unsigned long long)n);
    assert_query(rd, expect,
                 "SELECT sum(count), sum(count_1), sum(COUNT_2), count(*) FILTER (column19 = 'e') "
                 "FROM read_parquet('%s')",
                 path);

    /* Source order kept; zstd everywhere. */
    assert_query(rd, "0",
                 "SELECT count(*) FROM read_parquet('%s', file_row_number = true) "
                 "WHERE id <> file_row_number",
                 path);
    assert_query(rd, "ZSTD",
                 "SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata('%s')", path);
}

static void test_all_types_round_trip(void **state)
{
    struct dirs d;
    struct run r = {0};
    struct reader rd;
    uint64_t n = 10000;
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_FULL, n);
    assert_int_equal(run_extract(&r, d.out), 0);
    assert_int_equal(r.res.rows, n);
    assert_int_equal(atomic_load(&r.progress.rows), n);
    assert_int_equal(atomic_load(&r.progress.bytes), n * 100);
    assert_true(r.res.bytes_written > 0);
    assert_false(exists(d.tmp));
    assert_false(exists(d.spill));

    reader_open(&rd);
    check_full_file(&rd, d.out, n);
    reader_close(&rd);
    dirs_release(&d, NULL);
}

static void test_empty_result(void **state)
{
    struct dirs d;
    struct run r = {0};
    struct reader rd;
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_FULL, 0);
    r.no_progress = 1;
    assert_int_equal(run_extract(&r, d.out), 0);
    assert_int_equal(r.res.rows, 0);
    reader_open(&rd);
    assert_query(&rd, "0|18",
                 "SELECT (SELECT count(*) FROM read_parquet('%s')), "
                 "(SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet('%s')))",
                 d.out, d.out);
    reader_close(&rd);
    dirs_release(&d, NULL);
}

/* A directory name with a quote and a relative path both reach DuckDB as
 * one well-formed string literal. */
static void test_odd_paths(void **state)
{
    struct dirs d;
    struct run r = {0};
    char cwd[PATH_MAX];
    (void)state;

    dirs_init(&d, "/it's a dir");
    r.plan = plan_of(K_FULL, 100);
    assert_int_equal(run_extract(&r, d.out), 0);
    assert_true(exists(d.out));
    assert_false(exists(d.tmp));

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(d.dir), 0);
    assert_int_equal(run_extract(&r, "rel.parquet"), 0);
    assert_true(exists("rel.parquet"));
    assert_int_equal(chdir(cwd), 0);
    dirs_release(&d, "/it's a dir");
}

static void test_nothing_to_extract(void **state)
{
    struct dirs d;
    struct run r = {0};
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_BINARY, 10);
    assert_int_equal(run_extract(&r, d.out), VZ_EUNSUPPORTED);
    assert_untouched(&d, NULL, 0);
    dirs_release(&d, NULL);
}

static void test_bad_memory_limit(void **state)
{
    struct dirs d;
    struct run r = {0};
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_FULL, 10);
    r.memory_limit = "lots";
    assert_int_equal(run_extract(&r, d.out), VZ_EINVAL);
    assert_untouched(&d, NULL, 0);
    dirs_release(&d, NULL);
}

/* ---- tests: failures leave the previous version ---- */

/* Write the "previous version" and return its bytes. */
static char *write_previous(const struct dirs *d, size_t *len)
{
    struct run r = {0};
    r.plan = plan_of(K_FULL, 3000);
    assert_int_equal(run_extract(&r, d->out), 0);
    return vzt_slurp(d->out, len);
}

/* Fail at fill 0, 1, 2, ... until a run gets through; the code and message
 * are the source's own. */
static void test_fail_at_every_chunk(void **state)
{
    struct dirs d;
    struct reader rd;
    size_t prev_len;
    char *prev;
    int k, rc;
    (void)state;

    dirs_init(&d, NULL);
    prev = write_previous(&d, &prev_len);
    for (k = 0;; k++) {
        struct run r = {0};
        char want[64];
        r.plan = plan_of(K_FULL, 10000);
        r.plan.fail_at = k;
        r.plan.fail_code = k % 2 ? VZ_ETIMEOUT : VZ_ESOURCE;
        rc = run_extract(&r, d.out);
        if (rc == 0)
            break;
        assert_int_equal(rc, r.plan.fail_code);
        snprintf(want, sizeof(want), "fake: connection lost at chunk %d", k);
        assert_string_equal(r.err.msg, want);
        assert_int_equal(r.res.rows, 0);
        assert_untouched(&d, prev, prev_len);
    }
    /* 10000 rows: 5 chunks of 2048 rows (the last one short), then the
       empty fill that ends the stream. */
    assert_int_equal(k, 6);
    reader_open(&rd);
    assert_query(&rd, "10000", "SELECT count(*) FROM read_parquet('%s')", d.out);
    reader_close(&rd);
    free(prev);
    dirs_release(&d, NULL);
}

/* DuckDB itself refusing a value (Parquet has no negative intervals) is a
 * failure like any other. */
static void test_writer_error_keeps_previous(void **state)
{
    struct dirs d;
    struct run r = {0};
    size_t prev_len;
    char *prev;
    (void)state;

    dirs_init(&d, NULL);
    prev = write_previous(&d, &prev_len);
    r.plan = plan_of(K_NEGIV, 10000);
    assert_int_equal(run_extract(&r, d.out), VZ_EIO);
    assert_non_null(strstr(r.err.msg, "negative intervals"));
    assert_null(strchr(r.err.msg, '\n'));
    assert_untouched(&d, prev, prev_len);
    free(prev);
    dirs_release(&d, NULL);
}

/* M3: more rows than the cap stops the run; exactly the cap is fine. */
static void test_row_cap(void **state)
{
    struct dirs d;
    struct run r = {0};
    size_t prev_len;
    char *prev;
    (void)state;

    dirs_init(&d, NULL);
    prev = write_previous(&d, &prev_len);
    r.plan = plan_of(K_FULL, 10000);
    r.max_rows = 5000;
    assert_int_equal(run_extract(&r, d.out), VZ_ELIMIT);
    assert_non_null(strstr(r.err.msg, "more than 5000 rows"));
    assert_non_null(strstr(r.err.msg, "DB_EXTRACT_MAX_ROWS"));
    assert_non_null(strstr(r.err.msg, "row_limit"));
    assert_untouched(&d, prev, prev_len);

    r.max_rows = 9999;
    assert_int_equal(run_extract(&r, d.out), VZ_ELIMIT);
    assert_untouched(&d, prev, prev_len);

    r.max_rows = 10000;
    assert_int_equal(run_extract(&r, d.out), 0);
    assert_int_equal(r.res.rows, 10000);
    free(prev);
    dirs_release(&d, NULL);
}

static void test_cancel_flag(void **state)
{
    struct dirs d;
    struct run r = {0};
    size_t prev_len;
    char *prev;
    (void)state;

    dirs_init(&d, NULL);
    prev = write_previous(&d, &prev_len);
    /* Set during the fill of chunk 3: the writer sees it before chunk 4. */
    r.plan = plan_of(K_FULL, 100000);
    r.plan.cancel_at = 3;
    assert_int_equal(run_extract(&r, d.out), VZ_ECANCELLED);
    assert_int_equal(atomic_load(&r.progress.rows), 4 * VZ_STREAM_CHUNK);
    assert_untouched(&d, prev, prev_len);
    /* Set on the very first chunk. */
    r.plan.cancel_at = 0;
    assert_int_equal(run_extract(&r, d.out), VZ_ECANCELLED);
    assert_untouched(&d, prev, prev_len);
    free(prev);
    dirs_release(&d, NULL);
}

struct canceller {
    struct run *r;
    uint64_t after_rows;
};

/* What the job runner does when a user cancels: raise the flag, then stop
 * the statement on the server so a blocked fill returns. */
static void *cancel_thread(void *arg)
{
    struct canceller *c = arg;
    struct vz_err err = VZ_ERR_INIT;
    while (atomic_load(&c->r->progress.rows) < c->after_rows)
        sched_yield();
    atomic_store(&c->r->progress.cancel, 1);
    if (vz_source_cancel(c->r->src, &err) < 0)
        fprintf(stderr, "cancel: %s\n", err.msg);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    struct dirs d;
    struct run r = {0};
    struct canceller c = {&r, 50000};
    pthread_t th;
    size_t prev_len;
    char *prev;
    (void)state;

    dirs_init(&d, NULL);
    prev = write_previous(&d, &prev_len);
    r.plan = plan_of(K_FULL, UINT64_MAX); /* endless */
    r.plan.sleep_us = 200;
    r.join_first = &th;
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &c), 0);
    assert_int_equal(run_extract(&r, d.out), VZ_ECANCELLED);
    assert_true(atomic_load(&r.progress.rows) >= 50000);
    assert_untouched(&d, prev, prev_len);
    free(prev);
    dirs_release(&d, NULL);
}

/* A full disk: a 1 MB tmpfs in a private mount namespace (a child process,
 * so the mount goes away with it). Skipped where mounting is not allowed. */
static int enospc_child(const char *dir)
{
    struct dirs d;
    struct run r = {0};
    size_t prev_len = 0, len = 0;
    char *prev, *now;

    snprintf(d.dir, sizeof(d.dir), "%s", dir);
    snprintf(d.out, sizeof(d.out), "%s/ds.parquet", d.dir);
    snprintf(d.tmp, sizeof(d.tmp), "%s.tmp", d.out);
    snprintf(d.spill, sizeof(d.spill), "%s.spill", d.out);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", d.dir, "tmpfs", 0, "size=1m") != 0)
        return 77;
    r.plan = plan_of(K_FULL, 1000);
    if (run_extract(&r, d.out) != 0)
        return 10;
    prev = vzt_slurp(d.out, &prev_len);
    r.plan = plan_of(K_FULL, 300000);
    if (run_extract(&r, d.out) != VZ_ENOSPACE) {
        fprintf(stderr, "enospc child: got %s: %s\n", vz_err_name(r.err.code), r.err.msg);
        return 11;
    }
    now = vzt_slurp(d.out, &len);
    if (!prev || !now || len != prev_len || memcmp(prev, now, len) != 0)
        return 12;
    if (exists(d.tmp) || exists(d.spill))
        return 13;
    free(prev);
    free(now);
    return 0;
}

static void test_disk_full(void **state)
{
    char dir[PATH_MAX];
    pid_t pid;
    int status;
    (void)state;

    if (geteuid() != 0) {
        printf("  disk-full test skipped: needs root to mount a tmpfs\n");
        skip();
    }
    vzt_tmpdir(dir, sizeof(dir));
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(enospc_child(dir));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    vzt_rmrf(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        printf("  disk-full test skipped: cannot mount a tmpfs here\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- tests: volume ---- */

static void test_five_million_rows(void **state)
{
    struct dirs d;
    struct run r = {0};
    struct reader rd;
    long rss_before = peak_rss_kb(), rss_after;
    uint64_t n = 5000000;
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_BIG, n);
    r.max_rows = n; /* the spec's default cap, reached exactly */
    assert_int_equal(run_extract(&r, d.out), 0);
    rss_after = peak_rss_kb();
    printf("  5M rows x 4 columns: %.2f s, %.0f rows/s, file %.1f MB, peak RSS %ld MB before, "
           "%ld MB after 1M rows, %ld MB after 5M rows\n",
           r.res.seconds, (double)n / r.res.seconds, (double)r.res.bytes_written / 1e6,
           rss_before / 1024, r.rss_kb_at_1m / 1024, rss_after / 1024);
    assert_int_equal(r.res.rows, n);
    assert_true(rss_after < 600 * 1024);

    reader_open(&rd);
    assert_query(&rd, "5000000|12499997500000|name-4999999",
                 "SELECT count(*), sum(id), max_by(name, id) FROM read_parquet('%s')", d.out);
    reader_close(&rd);
    dirs_release(&d, NULL);
}

/* Wide rows: a Parquet row group is buffered before it is written, so it is
 * capped in bytes, not only in rows: 122880 rows of 4 KB would be 480 MB. */
static void test_wide_rows(void **state)
{
    struct dirs d;
    struct run r = {0};
    struct reader rd;
    long rss_before = peak_rss_kb(), rss_after;
    uint64_t n = 250000;
    (void)state;

    dirs_init(&d, NULL);
    r.plan = plan_of(K_WIDE, n);
    r.memory_limit = "256MB";
    assert_int_equal(run_extract(&r, d.out), 0);
    rss_after = peak_rss_kb();
    printf("  250k rows of 4 KB text (1 GB): %.2f s, file %.1f MB, peak RSS %ld MB before, %ld MB "
           "after\n",
           r.res.seconds, (double)r.res.bytes_written / 1e6, rss_before / 1024, rss_after / 1024);
    /* Below the memory limit given to DuckDB; without the byte cap on row
       groups this run peaks at about 400 MB. */
    assert_true(rss_after < 256 * 1024);
    reader_open(&rd);
    assert_query(&rd, "250000|4096", "SELECT count(*), max(strlen(body)) FROM read_parquet('%s')",
                 d.out);
    reader_close(&rd);
    dirs_release(&d, NULL);
}

/* ---- tests: pieces ---- */

/* Every DuckDB type name the type mapping can produce has a logical type. */
static void test_every_mapped_type_has_a_logical_type(void **state)
{
    static const char *classes[] = {
        "bool",     "int8",      "int16",       "int32",    "int64",   "uint8", "uint16",
        "uint32",   "uint64",    "float32",     "float64",  "decimal", "text",  "uuid",
        "json",     "array",     "hstore",      "enum",     "set",     "date",  "time",
        "timetz",   "timestamp", "timestamptz", "interval", "year",    "bit",   "binary",
        "geometry", "other",     "nonsense"};
    static const struct coldef specials[] = {
        {"a", "int8", "tinyint(1)", -1, -1},
        {"a", "timestamp", "timestamp", -1, -1},
        {"a", "decimal", "money", -1, -1},
        {"a", "bit", "bit(1)", 1, -1},
        {"a", "bit", "bit(5)", 5, -1},
        {"a", "bit", "bit(64)", 64, -1},
        {"a", "decimal", "numeric(38,38)", 38, 38},
        {"a", "decimal", "numeric(4,0)", 4, 0},
        {"a", "decimal", "numeric(39,2)", 39, 2},
        {"a", "decimal", "numeric", -1, -1},
    };
    (void)state;

    for (int db = VZ_DB_POSTGRES; db <= VZ_DB_MYSQL; db++) {
        for (int dm = VZ_DECIMAL_DOUBLE; dm <= VZ_DECIMAL_EXACT; dm++) {
            size_t nc = sizeof(classes) / sizeof(classes[0]);
            size_t ns = sizeof(specials) / sizeof(specials[0]);
            for (size_t i = 0; i < nc + ns; i++) {
                struct vz_stream_col c = {0};
                duckdb_logical_type t;
                const struct coldef *sp = i >= nc ? &specials[i - nc] : NULL;
                vz_typemap_column((enum vz_db_type)db, "a", sp ? sp->type_class : classes[i],
                                  sp ? sp->source_type : NULL, sp ? sp->precision : 12,
                                  sp ? sp->scale : 3, (enum vz_decimal_mode)dm, &c.map);
                t = vz_stream_logical_type(&c);
                if (c.map.skip) {
                    assert_null(t);
                    continue;
                }
                if (!t)
                    fail_msg("no logical type for %s", c.map.duckdb_type);
                duckdb_destroy_logical_type(&t);
            }
        }
    }
}

static void test_map_columns(void **state)
{
    struct vz_stream st = {0};
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    st.cols = calloc(3, sizeof(*st.cols));
    assert_non_null(st.cols);
    st.ncols = 3;
    st.cols[0].name = strdup("a");
    st.cols[1].name = strdup("b");
    st.cols[2].name = strdup("c");
    snprintf(st.cols[0].type_class, sizeof(st.cols[0].type_class), "binary");
    snprintf(st.cols[1].type_class, sizeof(st.cols[1].type_class), "decimal");
    /* cols[2]: no class at all -> text fallback with a warning */
    for (int i = 0; i < 3; i++) {
        st.cols[i].precision = i == 1 ? 12 : -1;
        st.cols[i].scale = i == 1 ? 3 : -1;
    }

    assert_int_equal(vz_stream_map_columns(&st, 7, &err), VZ_EINVAL);
    st.decimal_mode = VZ_DECIMAL_EXACT;
    assert_int_equal(vz_stream_map_columns(&st, VZ_DB_MYSQL, &err), 0);
    assert_int_equal(st.nout, 2);
    assert_int_equal(st.cols[0].out_index, -1);
    assert_int_equal(st.cols[1].out_index, 0);
    assert_int_equal(st.cols[2].out_index, 1);
    assert_string_equal(st.cols[1].map.duckdb_type, "DECIMAL(12,3)");
    assert_string_equal(st.cols[2].map.duckdb_type, "VARCHAR");
    assert_true(st.cols[2].map.warning[0] != '\0');
    vz_stream_release(&st);
    assert_null(st.cols);
    assert_int_equal(st.ncols, 0);
    assert_int_equal(st.decimal_mode, VZ_DECIMAL_EXACT);
    vz_stream_release(&st); /* twice is fine */
}

static void test_column_names(void **state)
{
    static const char *in[] = {"a", "A", "a_1", "", "x\xff", "a", "column5"};
    struct vz_stream st = {0};
    struct vz_err err = VZ_ERR_INIT;
    char **names = NULL;
    (void)state;

    st.ncols = st.nout = sizeof(in) / sizeof(in[0]);
    st.cols = calloc(st.ncols, sizeof(*st.cols));
    assert_non_null(st.cols);
    for (size_t i = 0; i < st.ncols; i++) {
        st.cols[i].name = strdup(in[i]);
        st.cols[i].out_index = (int)i;
    }
    assert_int_equal(vz_extract_column_names(&st, &names, &err), 0);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "A_2"); /* a_1 belongs to column 3 */
    assert_string_equal(names[2], "a_1");
    assert_string_equal(names[3], "column4");
    assert_string_equal(names[4], "x\xef\xbf\xbd");
    assert_string_equal(names[5], "a_3");
    assert_string_equal(names[6], "column5");
    vz_extract_names_free(names, st.nout);
    vz_stream_release(&st);
}

static void test_utf8(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    (void)state;

    assert_true(vz_utf8_valid("", 0));
    assert_true(vz_utf8_valid("plain ascii text, long enough for words", 39));
    assert_true(vz_utf8_valid("a\0b", 3));
    assert_true(vz_utf8_valid("\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", 9));
    assert_true(vz_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(vz_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(vz_utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
    assert_false(vz_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(vz_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(vz_utf8_valid("\xe2\x9c", 2));         /* cut short */
    assert_false(vz_utf8_valid("abcdefgh\x80", 9));

    assert_int_equal(vz_utf8_repair(&b, "ok\xe2\x9c", 4), 1);
    assert_string_equal(vz_buf_cstr(&b), "ok\xef\xbf\xbd\xef\xbf\xbd");
    vz_buf_reset(&b);
    assert_int_equal(vz_utf8_repair(&b, "\xc3\xa9", 2), 0);
    assert_string_equal(vz_buf_cstr(&b), "\xc3\xa9");
    vz_buf_release(&b);
}

static void test_json_string(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    (void)state;

    assert_int_equal(vz_json_add_str(&b, "", 0), 0);
    assert_string_equal(vz_buf_cstr(&b), "\"\"");
    vz_buf_reset(&b);
    assert_int_equal(vz_json_add_str(&b, "a\"b\\c\n\r\t\b\f\x1f\x7f", 12), 0);
    assert_string_equal(vz_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u001f\x7f\"");
    vz_buf_reset(&b);
    assert_int_equal(vz_json_add_str(&b, "\xc3\xa9\0\xff!", 5), 0);
    assert_memory_equal(vz_buf_cstr(&b), "\"\xc3\xa9\\u0000\xef\xbf\xbd!\"", b.len);
    assert_int_equal(b.len, 14);
    vz_buf_release(&b);

    /* The ceiling is reported, not overrun. */
    vz_buf_init(&b, 4);
    assert_int_equal(vz_json_add_str(&b, "abcdef", 6), VZ_ETOOBIG);
    vz_buf_release(&b);
}

static void test_decimal_helpers(void **state)
{
    duckdb_logical_type t;
    duckdb_data_chunk chunk;
    duckdb_vector v;
    int w = 0, s = 0;
    (void)state;

    assert_int_equal(vz_vec_decimal_dims("DECIMAL(10,2)", &w, &s), 0);
    assert_int_equal(w, 10);
    assert_int_equal(s, 2);
    assert_int_equal(vz_vec_decimal_dims("DECIMAL(39,2)", &w, &s), VZ_EINVAL);
    assert_int_equal(vz_vec_decimal_dims("DECIMAL(4,5)", &w, &s), VZ_EINVAL);
    assert_int_equal(vz_vec_decimal_dims("DOUBLE", &w, &s), VZ_EINVAL);
    assert_int_equal(vz_vec_decimal_dims("DECIMAL(4,2) ", &w, &s), VZ_EINVAL);

    /* DECIMAL(4,2) is stored in 16 bits: 99.99 fits, 100.00 does not. */
    t = duckdb_create_decimal_type(4, 2);
    chunk = duckdb_create_data_chunk(&t, 1);
    v = duckdb_data_chunk_get_vector(chunk, 0);
    assert_int_equal(vz_vec_set_decimal(v, 0, 4, 9999), 0);
    assert_int_equal(vz_vec_set_decimal(v, 1, 4, -9999), 0);
    assert_int_equal(((int16_t *)duckdb_vector_get_data(v))[1], -9999);
    assert_int_equal(vz_vec_set_decimal(v, 2, 4, 10000), VZ_EINVAL);
    assert_int_equal(vz_vec_set_decimal(v, 2, 4, INT64_MIN), VZ_EINVAL);
    assert_int_equal(vz_vec_set_decimal128(v, 2, 4, 0, 1), VZ_EINVAL);
    duckdb_destroy_data_chunk(&chunk);
    duckdb_destroy_logical_type(&t);

    /* DECIMAL(38,0): 10^38 - 1 fits, 10^38 does not. */
    t = duckdb_create_decimal_type(38, 0);
    chunk = duckdb_create_data_chunk(&t, 1);
    v = duckdb_data_chunk_get_vector(chunk, 0);
    {
        i128 max = 1;
        for (int i = 0; i < 38; i++)
            max *= 10;
        max -= 1;
        assert_int_equal(vz_vec_set_decimal128(v, 0, 38, (int64_t)(max >> 64), (uint64_t)max), 0);
        assert_int_equal(vz_vec_set_decimal128(v, 0, 38, (int64_t)(-max >> 64), (uint64_t)-max), 0);
        max += 1;
        assert_int_equal(vz_vec_set_decimal128(v, 0, 38, (int64_t)(max >> 64), (uint64_t)max),
                         VZ_EINVAL);
    }
    assert_int_equal(vz_vec_set_decimal(v, 1, 38, INT64_MIN), 0);
    assert_int_equal(((duckdb_hugeint *)duckdb_vector_get_data(v))[1].upper, -1);
    duckdb_destroy_data_chunk(&chunk);
    duckdb_destroy_logical_type(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, so its peak RSS is its own. */
        cmocka_unit_test(test_five_million_rows),
        cmocka_unit_test(test_wide_rows),
        cmocka_unit_test(test_all_types_round_trip),
        cmocka_unit_test(test_empty_result),
        cmocka_unit_test(test_odd_paths),
        cmocka_unit_test(test_nothing_to_extract),
        cmocka_unit_test(test_bad_memory_limit),
        cmocka_unit_test(test_fail_at_every_chunk),
        cmocka_unit_test(test_writer_error_keeps_previous),
        cmocka_unit_test(test_row_cap),
        cmocka_unit_test(test_cancel_flag),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_every_mapped_type_has_a_logical_type),
        cmocka_unit_test(test_map_columns),
        cmocka_unit_test(test_column_names),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_decimal_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
