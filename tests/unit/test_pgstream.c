/* PostgreSQL streaming (sources/pg_stream.c + sources/pgcopy.c) against the
 * real test server (scripts/testdb.sh), and the binary COPY decoder alone.
 *
 * Values are checked against what the server itself says about the same
 * rows (a text query on the same connection after the stream), so every
 * type of tests/fixtures/pg.sql's all_types is compared exactly: NULLs,
 * NaN and infinities, extreme dates, intervals, numeric as DOUBLE and as
 * exact DECIMAL, arrays and hstore as JSON text. Then what users do wrong or
 * what goes wrong: several statements, writes, cancel, statement timeout,
 * corrupt COPY data; and 3 million rows in bounded memory. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "extract/vec.h"

#include "core/util.h"
#include "extract/stream.h"
#include "sources/pgcopy.h"
#include "sources/source.h"
#include "sources/source_internal.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#ifdef __SANITIZE_ADDRESS__
/* Freed row buffers would sit in ASan's quarantine (256 MB by default) and
 * look like growth to the memory test. ASAN_OPTIONS still wins. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=8";
}
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

#define BIG_ROWS 3000000

/* ---- environment and connections ---- */

struct env {
    const char *host, *db, *ro, *ro_pw, *admin, *admin_pw;
    int port;
};

static struct env get_env(void)
{
    struct env e;
    e.host = vzt_env("VZ_PG_HOST");
    e.port = atoi(vzt_env("VZ_PG_PORT"));
    e.db = vzt_env("VZ_PG_DB");
    e.ro = vzt_env("VZ_PG_RO_USER");
    e.ro_pw = vzt_env("VZ_PG_RO_PASSWORD");
    e.admin = vzt_env("VZ_PG_ADMIN_USER");
    e.admin_pw = vzt_env("VZ_PG_ADMIN_PASSWORD");
    return e;
}

static struct vz_source *open_as(int admin, int stmt_timeout_ms)
{
    struct env e = get_env();
    struct vz_conn_cfg c;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = NULL;
    int rc;

    memset(&c, 0, sizeof(c));
    c.type = VZ_DB_POSTGRES;
    c.host = e.host;
    c.port = e.port;
    c.database = e.db;
    c.username = admin ? e.admin : e.ro;
    c.password = admin ? e.admin_pw : e.ro_pw;
    c.connect_timeout_s = 5;
    c.statement_timeout_ms = stmt_timeout_ms;
    rc = vz_source_open(&c, &s, &err);
    if (rc != 0)
        fail_msg("vz_source_open: %s (%s)", err.msg, vz_err_name(rc));
    return s;
}

/* The server's text for sql's first value ("NULL" for a null). */
static void server_value(struct vz_source *s, const char *sql, char *out, size_t n)
{
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_source_query_value_for_test(s, sql, out, n, &err);
    if (rc != 0)
        fail_msg("%s: %s", sql, err.msg);
}

static void server_valuef(struct vz_source *s, char *out, size_t n, const char *fmt, ...)
    VZ_PRINTF(4, 5);
static void server_valuef(struct vz_source *s, char *out, size_t n, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    server_value(s, sql, out, n);
}

/* ---- streams into one chunk ---- */

struct fetched {
    struct vz_stream st;
    duckdb_data_chunk chunk;
    size_t rows;
};

static duckdb_data_chunk make_chunk(const struct vz_stream *st)
{
    duckdb_logical_type types[256];
    duckdb_data_chunk ch;
    size_t k = 0;

    assert_true(st->nout <= 256);
    for (size_t i = 0; i < st->ncols; i++) {
        if (st->cols[i].map.skip)
            continue;
        types[k] = vz_stream_logical_type(&st->cols[i]);
        assert_non_null(types[k]);
        k++;
    }
    assert_int_equal(k, st->nout);
    ch = duckdb_create_data_chunk(types, k);
    for (size_t i = 0; i < k; i++)
        duckdb_destroy_logical_type(&types[i]);
    assert_non_null(ch);
    return ch;
}

/* Open sql and read it whole into f->chunk (at most one chunk of rows); the
 * stream is closed, the chunk stays. */
static int fetch_all(struct vz_source *s, const char *sql, enum vz_decimal_mode dm,
                     struct fetched *f, struct vz_err *err)
{
    size_t n = 0;
    int rc;

    memset(f, 0, sizeof(*f));
    f->st.decimal_mode = dm;
    rc = vz_source_stream_open(s, sql, &f->st, err);
    if (rc < 0) {
        assert_null(f->st.priv);
        assert_int_equal(err->code, rc);
        return rc;
    }
    f->chunk = make_chunk(&f->st);
    rc = vz_source_stream_fill(s, &f->st, f->chunk, &n, err);
    if (rc == 0) {
        duckdb_data_chunk extra;
        size_t more = 99;
        f->rows = n;
        assert_int_equal(duckdb_data_chunk_get_size(f->chunk), n);
        assert_true(n < VZ_STREAM_CHUNK);
        /* The end is reported once more, with 0 rows. */
        extra = make_chunk(&f->st);
        rc = vz_source_stream_fill(s, &f->st, extra, &more, err);
        duckdb_destroy_data_chunk(&extra);
        if (rc == 0)
            assert_int_equal(more, 0);
    }
    vz_source_stream_close(s, &f->st);
    assert_null(f->st.priv);
    return rc;
}

static void fetched_free(struct fetched *f)
{
    if (f->chunk)
        duckdb_destroy_data_chunk(&f->chunk);
    vz_stream_release(&f->st);
}

static const struct vz_stream_col *col_named(const struct fetched *f, const char *name)
{
    for (size_t i = 0; i < f->st.ncols; i++)
        if (strcmp(f->st.cols[i].name, name) == 0)
            return &f->st.cols[i];
    fail_msg("no column %s", name);
    return NULL;
}

static duckdb_vector vec_of(const struct fetched *f, const char *name)
{
    const struct vz_stream_col *c = col_named(f, name);
    assert_true(c->out_index >= 0);
    return duckdb_data_chunk_get_vector(f->chunk, (idx_t)c->out_index);
}

static int is_null(duckdb_vector v, idx_t row)
{
    uint64_t *validity = duckdb_vector_get_validity(v);
    return validity && !duckdb_validity_row_is_valid(validity, row);
}

/* The text in a VARCHAR vector, NUL-terminated into out. */
static const char *vtext(duckdb_vector v, idx_t row, char *out, size_t n)
{
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + row;
    uint32_t len = duckdb_string_t_length(*s);
    assert_true(len < n);
    memcpy(out, duckdb_string_t_data(s), len);
    out[len] = '\0';
    return out;
}

#define VDATA(type, v, row) (((type *)duckdb_vector_get_data(v))[row])

/* DECIMAL(width, s) as a 128-bit unscaled integer. */
static i128 vdecimal(duckdb_vector v, idx_t row, int width)
{
    if (width <= 4)
        return VDATA(int16_t, v, row);
    if (width <= 9)
        return VDATA(int32_t, v, row);
    if (width <= 18)
        return VDATA(int64_t, v, row);
    return (i128)(((u128)(uint64_t)VDATA(duckdb_hugeint, v, row).upper << 64) |
                  VDATA(duckdb_hugeint, v, row).lower);
}

static i128 parse_i128(const char *s)
{
    i128 v = 0;
    int neg = *s == '-';
    if (neg || *s == '+')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    return neg ? -v : v;
}

/* Two doubles are the same value (NaN equals NaN, -0 is not 0). */
static int same_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- all_types: every column, every row, against the server ---- */

#define ALL_TYPES_SQL "SELECT * FROM all_types ORDER BY id"
#define ALL_ROWS 7

/* Text-like columns: the server's output of expr must equal our VARCHAR. */
static void check_text_col(struct vz_source *s, const struct fetched *f, const char *col,
                           const char *expr)
{
    duckdb_vector v = vec_of(f, col);
    char want[4096], got[4096];
    for (idx_t r = 0; r < f->rows; r++) {
        server_valuef(s, want, sizeof(want), "SELECT %s FROM all_types WHERE id = %d", expr,
                      (int)r + 1);
        if (strcmp(want, "NULL") == 0) {
            if (!is_null(v, r))
                fail_msg("%s row %d: want NULL, got '%s'", col, (int)r + 1,
                         vtext(v, r, got, sizeof(got)));
            continue;
        }
        if (is_null(v, r))
            fail_msg("%s row %d: want '%s', got NULL", col, (int)r + 1, want);
        if (strcmp(vtext(v, r, got, sizeof(got)), want) != 0)
            fail_msg("%s row %d: want '%s', got '%s'", col, (int)r + 1, want, got);
    }
}

enum num_kind { N_I16, N_I32, N_I64, N_F32, N_F64 };

/* Numeric columns: the server's text parsed the C way must equal ours
 * bit for bit (PostgreSQL 12+ prints floats round-trip exactly). */
static void check_num_col(struct vz_source *s, const struct fetched *f, const char *col,
                          const char *expr, enum num_kind k)
{
    duckdb_vector v = vec_of(f, col);
    char want[512];
    for (idx_t r = 0; r < f->rows; r++) {
        int ok;
        server_valuef(s, want, sizeof(want), "SELECT %s FROM all_types WHERE id = %d", expr,
                      (int)r + 1);
        if (strcmp(want, "NULL") == 0) {
            if (!is_null(v, r))
                fail_msg("%s row %d: want NULL", col, (int)r + 1);
            continue;
        }
        assert_false(is_null(v, r));
        switch (k) {
        case N_I16:
            ok = VDATA(int16_t, v, r) == strtol(want, NULL, 10);
            break;
        case N_I32:
            ok = VDATA(int32_t, v, r) == strtol(want, NULL, 10);
            break;
        case N_I64:
            ok = VDATA(int64_t, v, r) == strtoll(want, NULL, 10);
            break;
        case N_F32: {
            float a = VDATA(float, v, r), b = strtof(want, NULL);
            ok = isnan(a) ? isnan(b) : memcmp(&a, &b, sizeof(a)) == 0;
            break;
        }
        default:
            ok = same_double(VDATA(double, v, r), strtod(want, NULL));
            break;
        }
        if (!ok)
            fail_msg("%s row %d: server says %s", col, (int)r + 1, want);
    }
}

/* Microsecond/day columns: the server computes the value since 1970. */
static void check_i64_col(struct vz_source *s, const struct fetched *f, const char *col,
                          const char *expr, int is_date)
{
    duckdb_vector v = vec_of(f, col);
    char want[128];
    for (idx_t r = 0; r < f->rows; r++) {
        server_valuef(s, want, sizeof(want), "SELECT %s FROM all_types WHERE id = %d", expr,
                      (int)r + 1);
        /* M2: 'infinity' and '-infinity' become NULL (counted, warned). */
        if (strcmp(want, "NULL") == 0 || strcmp(want, "infinity") == 0 ||
            strcmp(want, "-infinity") == 0) {
            assert_true(is_null(v, r));
            continue;
        }
        assert_false(is_null(v, r));
        if (is_date) {
            if (VDATA(int32_t, v, r) != strtol(want, NULL, 10))
                fail_msg("%s row %d: want %s days, got %d", col, (int)r + 1, want,
                         (int)VDATA(int32_t, v, r));
        } else if (VDATA(int64_t, v, r) != strtoll(want, NULL, 10)) {
            fail_msg("%s row %d: want %s us, got %lld", col, (int)r + 1, want,
                     (long long)VDATA(int64_t, v, r));
        }
    }
}

/* Epoch microseconds of a timestamp[tz] column as the server computes it;
 * 'infinity' stays a word. */
#define TS_US(c)                                                                                   \
    "CASE WHEN isfinite(" c ") THEN (extract(epoch FROM " c ") * 1000000)::bigint::text"           \
    " ELSE " c "::text END"

static void test_all_types_every_column(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    duckdb_vector v;
    char buf[256];
    (void)state;

    assert_int_equal(fetch_all(s, ALL_TYPES_SQL, VZ_DECIMAL_DOUBLE, &f, &err), 0);
    assert_int_equal(f.rows, ALL_ROWS);
    assert_int_equal(f.st.rows, ALL_ROWS);
    assert_true(f.st.bytes > 0);
    /* 32 columns + hstore; bytea is the only one left out (spec M2). */
    assert_int_equal(f.st.ncols, 33);
    assert_int_equal(f.st.nout, 32);
    assert_true(col_named(&f, "c_bytea")->map.skip);
    assert_int_equal(col_named(&f, "c_bytea")->out_index, -1);
    assert_non_null(strstr(col_named(&f, "c_bytea")->map.warning, "skipped"));

    /* What the description says (source type, class, mapping). */
    assert_string_equal(col_named(&f, "c_numeric_30_20")->source_type, "numeric(30,20)");
    assert_int_equal(col_named(&f, "c_numeric_30_20")->precision, 30);
    assert_int_equal(col_named(&f, "c_numeric_30_20")->scale, 20);
    assert_string_equal(col_named(&f, "c_numeric_30_20")->map.duckdb_type, "DOUBLE");
    assert_non_null(strstr(col_named(&f, "c_numeric_30_20")->map.warning, "scale 20 > 15"));
    assert_string_equal(col_named(&f, "c_timestamptz")->map.duckdb_type,
                        "TIMESTAMP WITH TIME ZONE");
    assert_string_equal(col_named(&f, "c_enum")->type_class, "enum");
    assert_string_equal(col_named(&f, "c_int_2d")->type_class, "array");
    assert_int_equal(col_named(&f, "c_int_2d")->pg_elem_oid, 23);
    assert_string_equal(col_named(&f, "c_hstore")->type_class, "hstore");
    assert_string_equal(col_named(&f, "c_money")->map.conversion, "money_to_double");
    assert_string_equal(col_named(&f, "c_composite")->type_class, "other");
    assert_string_equal(col_named(&f, "c_composite")->map.conversion, "text_fallback");
    assert_non_null(strstr(col_named(&f, "c_composite")->map.warning, "unknown type"));

    /* Row 2 is NULL everywhere but the key. */
    for (size_t i = 0; i < f.st.ncols; i++) {
        const struct vz_stream_col *c = &f.st.cols[i];
        if (c->out_index < 0 || strcmp(c->name, "id") == 0)
            continue;
        if (!is_null(duckdb_data_chunk_get_vector(f.chunk, (idx_t)c->out_index), 1))
            fail_msg("%s: row 2 should be NULL", c->name);
    }

    check_num_col(s, &f, "id", "id", N_I32);
    check_num_col(s, &f, "c_smallint", "c_smallint", N_I16);
    check_num_col(s, &f, "c_integer", "c_integer", N_I32);
    check_num_col(s, &f, "c_bigint", "c_bigint", N_I64);
    check_num_col(s, &f, "c_real", "c_real", N_F32);
    check_num_col(s, &f, "c_double", "c_double", N_F64);
    check_num_col(s, &f, "c_numeric_10_2", "c_numeric_10_2", N_F64);
    check_num_col(s, &f, "c_numeric_30_20", "c_numeric_30_20", N_F64);
    check_num_col(s, &f, "c_numeric", "c_numeric", N_F64);
    check_num_col(s, &f, "c_money", "c_money::numeric", N_F64);

    /* NaN and the infinities, in each floating column. */
    v = vec_of(&f, "c_real");
    assert_true(isnan(VDATA(float, v, 4)) && isinf(VDATA(float, v, 5)) && VDATA(float, v, 5) < 0);
    v = vec_of(&f, "c_numeric");
    assert_true(isnan(VDATA(double, v, 4)));
    assert_true(isinf(VDATA(double, v, 5)) && VDATA(double, v, 5) < 0);
    assert_true(isinf(VDATA(double, v, 6)) && VDATA(double, v, 6) > 0);
    v = vec_of(&f, "c_numeric_30_20");
    assert_true(isnan(VDATA(double, v, 6)));
    assert_true(same_double(VDATA(double, v, 0), 3.14159265358979323846));

    v = vec_of(&f, "c_boolean");
    assert_true(VDATA(bool, v, 0) && !VDATA(bool, v, 2) && VDATA(bool, v, 3));
    assert_true(is_null(v, 4));

    check_text_col(s, &f, "c_text", "c_text");
    check_text_col(s, &f, "c_varchar", "c_varchar");
    check_text_col(s, &f, "c_char", "c_char"); /* with its padding: 'abc  ' */
    assert_string_equal(vtext(vec_of(&f, "c_char"), 0, buf, sizeof(buf)), "abc  ");
    check_text_col(s, &f, "c_timetz", "c_timetz");
    check_text_col(s, &f, "c_uuid", "c_uuid");
    check_text_col(s, &f, "c_json", "c_json");
    check_text_col(s, &f, "c_jsonb", "c_jsonb");
    check_text_col(s, &f, "c_enum", "c_enum");
    check_text_col(s, &f, "c_inet", "c_inet");
    check_text_col(s, &f, "c_bit", "c_bit");
    check_text_col(s, &f, "c_point", "c_point");
    check_text_col(s, &f, "c_composite", "c_composite");
    check_text_col(s, &f, "c_int_array", "to_json(c_int_array)");
    check_text_col(s, &f, "c_text_array", "to_json(c_text_array)");
    check_text_col(s, &f, "c_int_2d", "to_json(c_int_2d)");
    check_text_col(s, &f, "c_hstore", "to_json(c_hstore)");

    /* The same, spelled out: what a user finds in the Parquet file. */
    assert_string_equal(vtext(vec_of(&f, "c_int_array"), 4, buf, sizeof(buf)), "[1,null,3]");
    assert_string_equal(vtext(vec_of(&f, "c_int_2d"), 0, buf, sizeof(buf)), "[[1,2],[3,4]]");
    assert_string_equal(vtext(vec_of(&f, "c_int_2d"), 4, buf, sizeof(buf)), "[[1,null],[null,4]]");
    assert_string_equal(vtext(vec_of(&f, "c_text_array"), 3, buf, sizeof(buf)),
                        "[\"with space\",\"with,comma\",\"with\\\"quote\"]");
    assert_string_equal(vtext(vec_of(&f, "c_text_array"), 5, buf, sizeof(buf)), "[null,\"\"]");
    assert_string_equal(vtext(vec_of(&f, "c_hstore"), 0, buf, sizeof(buf)),
                        "{\"a\": \"1\", \"b\": \"two words\"}");
    assert_string_equal(vtext(vec_of(&f, "c_hstore"), 3, buf, sizeof(buf)),
                        "{\"key\": null, \"ünï\": \"cödé\"}");
    assert_string_equal(vtext(vec_of(&f, "c_uuid"), 0, buf, sizeof(buf)),
                        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_string_equal(vtext(vec_of(&f, "c_enum"), 3, buf, sizeof(buf)), "très content 😀");
    assert_string_equal(vtext(vec_of(&f, "c_varchar"), 4, buf, sizeof(buf)), "ünïcödé");
    assert_string_equal(vtext(vec_of(&f, "c_timetz"), 0, buf, sizeof(buf)), "13:45:30+02");

    /* Dates as days since 1970, times and timestamps as microseconds. */
    check_i64_col(s, &f, "c_date", "(c_date - date '1970-01-01')::text", 1);
    v = vec_of(&f, "c_date");
    assert_int_equal(VDATA(int32_t, v, 2), -719162); /* 0001-01-01 */
    assert_int_equal(VDATA(int32_t, v, 3), 2932896); /* 9999-12-31 */
    assert_int_equal(VDATA(int32_t, v, 5), 0);       /* 1970-01-01 */
    check_i64_col(s, &f, "c_time", "(extract(epoch FROM c_time) * 1000000)::bigint::text", 0);
    assert_int_equal(VDATA(int64_t, vec_of(&f, "c_time"), 3), INT64_C(86400000000)); /* 24:00 */
    check_i64_col(s, &f, "c_timestamp", TS_US("c_timestamp"), 0);
    check_i64_col(s, &f, "c_timestamptz", TS_US("c_timestamptz"), 0);
    v = vec_of(&f, "c_timestamp");
    assert_true(is_null(v, 4) && is_null(v, 6)); /* 'infinity', '-infinity' */
    {
        const struct vz_stream_col *c = col_named(&f, "c_timestamp");
        assert_true(c->nulled >= 2);
        assert_non_null(strstr(c->map.warning, "'infinity'"));
        assert_non_null(strstr(c->map.warning, "c_timestamp"));
    }
    /* '2024-06-15 12:00:00-07:00' is 19:00 UTC. */
    assert_true(VDATA(int64_t, vec_of(&f, "c_timestamptz"), 4) == INT64_C(1718478000000000));

    /* Intervals are the server's text (Parquet cannot hold negative ones):
     * months, days and microseconds, negative parts and 1 µs all kept. */
    check_text_col(s, &f, "c_interval", "c_interval::text");
    assert_string_equal(vtext(vec_of(&f, "c_interval"), 5, buf, sizeof(buf)), "00:00:00.000001");

    fetched_free(&f);
    vz_source_close(s);
}

/* Exact mode: numeric(p,s) becomes DECIMAL(p,s) holding the very digits;
 * NaN cannot, so it becomes NULL with a warning. */
static void test_all_types_exact_decimal(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    const char *cols[] = {"c_numeric_10_2", "c_numeric_30_20"};
    const int widths[] = {10, 30};
    (void)state;

    assert_int_equal(fetch_all(s, ALL_TYPES_SQL, VZ_DECIMAL_EXACT, &f, &err), 0);
    assert_string_equal(col_named(&f, "c_numeric_10_2")->map.duckdb_type, "DECIMAL(10,2)");
    assert_string_equal(col_named(&f, "c_numeric_30_20")->map.duckdb_type, "DECIMAL(30,20)");
    /* No precision: DOUBLE even in exact mode, keeping NaN and infinities. */
    assert_string_equal(col_named(&f, "c_numeric")->map.duckdb_type, "DOUBLE");
    assert_true(isnan(VDATA(double, vec_of(&f, "c_numeric"), 4)));

    for (int k = 0; k < 2; k++) {
        duckdb_vector v = vec_of(&f, cols[k]);
        int scale = k == 0 ? 2 : 20;
        for (idx_t r = 0; r < f.rows; r++) {
            char want[128];
            server_valuef(s, want, sizeof(want),
                          "SELECT CASE WHEN %s = 'NaN' THEN 'NaN'"
                          " ELSE (%s * 1e%d)::numeric(38,0)::text END"
                          " FROM all_types WHERE id = %d",
                          cols[k], cols[k], scale, (int)r + 1);
            if (strcmp(want, "NULL") == 0 || strcmp(want, "NaN") == 0) {
                if (!is_null(v, r))
                    fail_msg("%s row %d: want NULL for %s", cols[k], (int)r + 1, want);
                continue;
            }
            assert_false(is_null(v, r));
            if (vdecimal(v, r, widths[k]) != parse_i128(want))
                fail_msg("%s row %d: want unscaled %s", cols[k], (int)r + 1, want);
        }
        assert_non_null(strstr(col_named(&f, cols[k])->map.warning, "NaN"));
    }
    /* 3.14159265358979323846 needs more than 64 bits unscaled. */
    assert_true(vdecimal(vec_of(&f, "c_numeric_30_20"), 0, 30) ==
                (i128)314159265358979323LL * 1000 + 846);
    assert_true(vdecimal(vec_of(&f, "c_numeric_30_20"), 5, 30) == -1);
    assert_true(vdecimal(vec_of(&f, "c_numeric_10_2"), 0, 10) == 1234567);
    fetched_free(&f);
    vz_source_close(s);
}

/* Infinite and extreme dates and timestamps; timestamptz comes out in UTC
 * whatever the session's time zone. */
static void test_dates_infinity_and_time_zones(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    duckdb_vector v;
    char want[64];
    (void)state;

    assert_int_equal(vz_source_exec_for_test(s, "SET TimeZone = 'Asia/Kolkata'", &err), 0);
    assert_int_equal(fetch_all(s,
                               "SELECT date 'infinity' AS d_inf, date '-infinity' AS d_ninf,"
                               " date '0001-01-01' AS d_min, date '9999-12-31' AS d_max,"
                               " date '4713-01-01 BC' AS d_bc,"
                               " timestamp 'infinity' AS t_inf, timestamptz '-infinity' AS tz_ninf,"
                               " timestamp '294276-12-31 23:59:59' AS t_far,"
                               " timestamptz '2024-06-15 12:00:00+09:00' AS tz,"
                               " timestamptz '2024-01-01 00:00:00' AS tz_local,"
                               " time '00:00:00.000001' AS t_small",
                               VZ_DECIMAL_DOUBLE, &f, &err),
                     0);
    assert_int_equal(f.rows, 1);
    /* M2: infinities become NULL, counted on the column, with a warning. */
    assert_true(is_null(vec_of(&f, "d_inf"), 0) && is_null(vec_of(&f, "d_ninf"), 0));
    assert_int_equal(col_named(&f, "d_inf")->nulled, 1);
    assert_non_null(strstr(col_named(&f, "d_inf")->map.warning, "extracted as NULL"));
    assert_int_equal(VDATA(int32_t, vec_of(&f, "d_min"), 0), -719162);
    assert_int_equal(VDATA(int32_t, vec_of(&f, "d_max"), 0), 2932896);
    server_value(s, "SELECT date '4713-01-01 BC' - date '1970-01-01'", want, sizeof(want));
    assert_int_equal(VDATA(int32_t, vec_of(&f, "d_bc"), 0), strtol(want, NULL, 10));
    assert_true(is_null(vec_of(&f, "t_inf"), 0) && is_null(vec_of(&f, "tz_ninf"), 0));
    /* PostgreSQL reaches 294276 AD, DuckDB stops in 294247 AD. */
    v = vec_of(&f, "t_far");
    assert_true(is_null(v, 0));
    assert_non_null(strstr(col_named(&f, "t_far")->map.warning, "294247"));
    assert_true(VDATA(int64_t, vec_of(&f, "tz"), 0) == INT64_C(1718420400000000));
    /* Midnight in Kolkata is 18:30 UTC the day before. */
    assert_true(VDATA(int64_t, vec_of(&f, "tz_local"), 0) == INT64_C(1704047400000000));
    assert_true(VDATA(int64_t, vec_of(&f, "t_small"), 0) == 1);
    fetched_free(&f);
    vz_source_close(s);
}

/* ---- the business tables ---- */

struct agg {
    uint64_t rows;
    i128 sum_a; /* first column as integer (or unscaled decimal) */
    i128 sum_b; /* second column */
};

/* Read a whole stream chunk by chunk (any size), summing the first two
 * columns when they are integers or decimals of width <= 18. */
static int stream_sum(struct vz_source *s, const char *sql, enum vz_decimal_mode dm, struct agg *a,
                      struct vz_err *err)
{
    struct vz_stream st;
    duckdb_data_chunk ch;
    size_t n;
    int rc;

    memset(a, 0, sizeof(*a));
    memset(&st, 0, sizeof(st));
    st.decimal_mode = dm;
    rc = vz_source_stream_open(s, sql, &st, err);
    if (rc < 0)
        return rc;
    ch = make_chunk(&st);
    for (;;) {
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(s, &st, ch, &n, err);
        if (rc < 0 || n == 0)
            break;
        for (idx_t c = 0; c < 2 && c < st.nout; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
            duckdb_logical_type t = duckdb_vector_get_column_type(v);
            duckdb_type id = duckdb_get_type_id(t);
            uint8_t width = id == DUCKDB_TYPE_DECIMAL ? duckdb_decimal_width(t) : 0;
            i128 sum = 0;
            duckdb_destroy_logical_type(&t);
            for (idx_t r = 0; r < n; r++) {
                if (is_null(v, r))
                    continue;
                if (id == DUCKDB_TYPE_INTEGER)
                    sum += VDATA(int32_t, v, r);
                else if (id == DUCKDB_TYPE_BIGINT)
                    sum += VDATA(int64_t, v, r);
                else if (id == DUCKDB_TYPE_DECIMAL)
                    sum += vdecimal(v, r, width);
            }
            if (c == 0)
                a->sum_a += sum;
            else
                a->sum_b += sum;
        }
        a->rows += n;
    }
    assert_int_equal(st.rows, a->rows);
    vz_source_stream_close(s, &st);
    duckdb_destroy_data_chunk(&ch);
    vz_stream_release(&st);
    return rc;
}

static void test_business_tables_counts_and_sums(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct agg a;
    struct fetched f;
    char want[64], buf[128];
    (void)state;

    assert_int_equal(stream_sum(s, "SELECT id, id FROM customers", VZ_DECIMAL_EXACT, &a, &err), 0);
    assert_int_equal(a.rows, 50);
    assert_true(a.sum_a == 1275);

    assert_int_equal(stream_sum(s, "SELECT id, total, status, placed_at FROM orders",
                                VZ_DECIMAL_EXACT, &a, &err),
                     0);
    assert_int_equal(a.rows, 200);
    assert_true(a.sum_a == 20100);
    server_value(s, "SELECT (sum(total) * 100)::bigint FROM orders", want, sizeof(want));
    assert_true(a.sum_b == parse_i128(want));

    /* Unicode survives as it is. */
    assert_int_equal(
        fetch_all(s, "SELECT name, city FROM customers WHERE id = 8", VZ_DECIMAL_DOUBLE, &f, &err),
        0);
    assert_string_equal(vtext(vec_of(&f, "city"), 0, buf, sizeof(buf)), "東京");
    fetched_free(&f);
    vz_source_close(s);
}

static void test_empty_result(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    (void)state;

    assert_int_equal(
        fetch_all(s, "SELECT * FROM customers WHERE false", VZ_DECIMAL_DOUBLE, &f, &err), 0);
    assert_int_equal(f.rows, 0);
    assert_int_equal(f.st.ncols, 6);
    assert_string_equal(f.st.cols[1].name, "name");
    fetched_free(&f);

    assert_int_equal(
        fetch_all(s, "SELECT * FROM empty_schema_none_such LIMIT 0", VZ_DECIMAL_DOUBLE, &f, &err),
        VZ_ENOTFOUND);
    fetched_free(&f);
    vz_source_close(s);
}

/* Result names do not have to be unique (or meaningful): columns are
 * renamed by position inside the COPY. */
static void test_duplicate_and_unnamed_columns(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    (void)state;

    assert_int_equal(fetch_all(s, "SELECT 1, 1 AS a, 2 AS a, NULL AS \"q\"\"uote\"",
                               VZ_DECIMAL_DOUBLE, &f, &err),
                     0);
    assert_int_equal(f.st.ncols, 4);
    assert_string_equal(f.st.cols[0].name, "?column?");
    assert_string_equal(f.st.cols[1].name, "a");
    assert_string_equal(f.st.cols[2].name, "a");
    assert_string_equal(f.st.cols[3].name, "q\"uote");
    assert_int_equal(VDATA(int32_t, duckdb_data_chunk_get_vector(f.chunk, 0), 0), 1);
    assert_int_equal(VDATA(int32_t, duckdb_data_chunk_get_vector(f.chunk, 1), 0), 1);
    assert_int_equal(VDATA(int32_t, duckdb_data_chunk_get_vector(f.chunk, 2), 0), 2);
    assert_true(is_null(duckdb_data_chunk_get_vector(f.chunk, 3), 0));
    fetched_free(&f);

    /* PostgreSQL itself refuses an empty name. */
    assert_int_equal(fetch_all(s, "SELECT 1 AS \"\"", VZ_DECIMAL_DOUBLE, &f, &err), VZ_EINVAL);
    fetched_free(&f);
    vz_source_close(s);
}

/* Custom SQL as users write it: a CTE, a trailing semicolon, a trailing
 * comment, a binary column that is left out. */
static void test_custom_sql_shapes(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    char want[64];
    (void)state;

    server_value(s, "SELECT count(*) FROM orders WHERE total > 500", want, sizeof(want));
    assert_int_equal(fetch_all(s,
                               "WITH big AS (SELECT * FROM orders WHERE total > 500)\n"
                               "SELECT count(*) AS n FROM big ;\n  ",
                               VZ_DECIMAL_DOUBLE, &f, &err),
                     0);
    assert_int_equal(f.rows, 1);
    assert_true(VDATA(int64_t, vec_of(&f, "n"), 0) == strtoll(want, NULL, 10));
    fetched_free(&f);

    assert_int_equal(
        fetch_all(s, "SELECT 7 AS seven -- the answer, almost", VZ_DECIMAL_DOUBLE, &f, &err), 0);
    assert_int_equal(VDATA(int32_t, vec_of(&f, "seven"), 0), 7);
    fetched_free(&f);

    assert_int_equal(fetch_all(s, "SELECT id, c_bytea, c_text FROM all_types ORDER BY id",
                               VZ_DECIMAL_DOUBLE, &f, &err),
                     0);
    assert_int_equal(f.st.nout, 2);
    assert_int_equal(f.rows, ALL_ROWS);
    assert_int_equal(VDATA(int32_t, vec_of(&f, "id"), 6), 7);
    fetched_free(&f);

    /* Only a binary column: nothing to send, still a clean stream. */
    assert_int_equal(fetch_all(s, "SELECT c_bytea FROM all_types", VZ_DECIMAL_DOUBLE, &f, &err), 0);
    assert_int_equal(f.st.nout, 0);
    assert_int_equal(f.rows, ALL_ROWS);
    fetched_free(&f);
    vz_source_close(s);
}

/* ---- what must be refused ---- */

static void assert_usable(struct vz_source *s)
{
    char out[16];
    server_value(s, "SELECT 1", out, sizeof(out));
    assert_string_equal(out, "1");
}

static void test_multiple_statements_refused(void **state)
{
    /* The admin could delete: only the single-statement rule stops it. */
    struct vz_source *s = open_as(1, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    char before[32], after[32];
    (void)state;

    server_value(s, "SELECT count(*) FROM no_pk_table", before, sizeof(before));
    assert_int_equal(fetch_all(s, "SELECT 1; DELETE FROM no_pk_table", VZ_DECIMAL_DOUBLE, &f, &err),
                     VZ_EINVAL);
    assert_non_null(strstr(err.msg, "42601"));
    fetched_free(&f);
    assert_int_equal(fetch_all(s, "SELECT 1; SELECT 2", VZ_DECIMAL_DOUBLE, &f, &err), VZ_EINVAL);
    fetched_free(&f);
    server_value(s, "SELECT count(*) FROM no_pk_table", after, sizeof(after));
    assert_string_equal(before, after);
    assert_usable(s);
    vz_source_close(s);
}

static void test_writes_refused_by_the_read_only_transaction(void **state)
{
    struct vz_source *s = open_as(1, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct fetched f;
    char seq_before[32], seq_after[32], rows_before[32], rows_after[32];
    (void)state;

    server_value(s, "SELECT last_value FROM customers_id_seq", seq_before, sizeof(seq_before));
    server_value(s, "SELECT count(*) FROM no_pk_table", rows_before, sizeof(rows_before));

    /* These pass any parser as a SELECT; the session refuses them (25006). */
    assert_int_equal(
        fetch_all(s, "SELECT nextval('customers_id_seq')", VZ_DECIMAL_DOUBLE, &f, &err),
        VZ_ENOT_READONLY);
    assert_non_null(strstr(err.msg, "25006"));
    fetched_free(&f);
    assert_int_equal(
        fetch_all(s, "SELECT * FROM customers FOR UPDATE", VZ_DECIMAL_DOUBLE, &f, &err),
        VZ_ENOT_READONLY);
    fetched_free(&f);

    /* Writes in other shapes never run either. */
    assert_true(fetch_all(s, "WITH d AS (DELETE FROM no_pk_table RETURNING *) SELECT * FROM d",
                          VZ_DECIMAL_DOUBLE, &f, &err) < 0);
    fetched_free(&f);
    assert_true(fetch_all(s, "INSERT INTO no_pk_table VALUES (9, 'x', 1) RETURNING id",
                          VZ_DECIMAL_DOUBLE, &f, &err) < 0);
    fetched_free(&f);
    assert_int_equal(
        fetch_all(s, "UPDATE no_pk_table SET label = 'y'", VZ_DECIMAL_DOUBLE, &f, &err), VZ_EINVAL);
    fetched_free(&f);

    server_value(s, "SELECT last_value FROM customers_id_seq", seq_after, sizeof(seq_after));
    server_value(s, "SELECT count(*) FROM no_pk_table", rows_after, sizeof(rows_after));
    assert_string_equal(seq_before, seq_after);
    assert_string_equal(rows_before, rows_after);
    server_value(s, "SELECT count(*) FROM no_pk_table WHERE label = 'y'", rows_after,
                 sizeof(rows_after));
    assert_string_equal(rows_after, "0");
    assert_usable(s);
    vz_source_close(s);
}

/* ---- volume, cancel, timeout ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* CPU seconds this process has used (user + system). */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#define BIG_SQL_BODY                                                                               \
    "SELECT g AS id, 'row ' || g AS label, g * 0.5 AS half FROM generate_series(1, 3000000) AS g"

/* psql's own \copy of the same rows in binary, as a yardstick; -1 if psql
 * cannot be run. */
static double psql_copy_seconds(void)
{
    struct env e = get_env();
    char cmd[1024];
    double t0;
    int rc;

    snprintf(cmd, sizeof(cmd),
             "psql -X -q -h '%s' -p %d -U '%s' -d '%s' -c "
             "\"\\copy (" BIG_SQL_BODY ") TO '/dev/null' (FORMAT binary)\" >/dev/null 2>&1",
             e.host, e.port, e.ro, e.db);
    setenv("PGPASSWORD", e.ro_pw, 1);
    t0 = now_s();
    rc = system(cmd);
    unsetenv("PGPASSWORD");
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        return -1;
    return now_s() - t0;
}

static void test_three_million_rows_bounded_memory(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_stream st;
    duckdb_data_chunk ch;
    uint64_t rows = 0, sum = 0, bad = 0;
    long rss0, rss1;
    double t0, c0, secs, cpu, ref;
    size_t n;
    char buf[64];
    int rc;
    (void)state;

    memset(&st, 0, sizeof(st));
    t0 = now_s();
    c0 = cpu_s();
    rc = vz_source_stream_open(s, BIG_SQL_BODY, &st, &err);
    if (rc != 0)
        fail_msg("open: %s", err.msg);
    ch = make_chunk(&st);
    /* One chunk in, the baseline after it has been touched once. */
    rc = vz_source_stream_fill(s, &st, ch, &n, &err);
    assert_int_equal(rc, 0);
    rss0 = maxrss_kb();
    while (rc == 0 && n > 0) {
        duckdb_vector vid = duckdb_data_chunk_get_vector(ch, 0);
        duckdb_vector vlabel = duckdb_data_chunk_get_vector(ch, 1);
        duckdb_vector vhalf = duckdb_data_chunk_get_vector(ch, 2);
        for (idx_t r = 0; r < n; r++) {
            int32_t id = VDATA(int32_t, vid, r);
            sum += (uint64_t)id;
            if (VDATA(double, vhalf, r) != id * 0.5)
                bad++;
            if (id % 100000 == 0) {
                char want[32];
                snprintf(want, sizeof(want), "row %d", id);
                if (strcmp(vtext(vlabel, r, buf, sizeof(buf)), want) != 0)
                    bad++;
            }
        }
        rows += n;
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(s, &st, ch, &n, &err);
    }
    secs = now_s() - t0;
    cpu = cpu_s() - c0;
    rss1 = maxrss_kb();
    if (rc != 0)
        fail_msg("fill: %s", err.msg);
    vz_source_stream_close(s, &st);
    assert_int_equal(rows, BIG_ROWS);
    assert_int_equal(st.rows, BIG_ROWS);
    assert_true(sum == (uint64_t)BIG_ROWS * (BIG_ROWS + 1) / 2);
    assert_int_equal(bad, 0);

    ref = psql_copy_seconds();
    print_message("[ pgstream ] %d rows in %.2f s: %.0f rows/s, %.1f MB on the wire, "
                  "client CPU %.2f s, peak RSS %ld -> %ld MB%s\n",
                  BIG_ROWS, secs, BIG_ROWS / secs, (double)st.bytes / 1e6, cpu, rss0 / 1024,
                  rss1 / 1024, UNDER_ASAN ? " (ASan build)" : "");
    if (ref > 0)
        print_message("[ pgstream ] psql \\copy binary to /dev/null: %.2f s, %.0f rows/s; "
                      "ours / psql time = %.2f\n",
                      ref, BIG_ROWS / ref, secs / ref);
    else
        print_message("[ pgstream ] psql not available: no reference timing\n");
    /* Bounded: one chunk and one row message at a time, whatever the count. */
    assert_true(rss1 - rss0 < 48 * 1024);

    duckdb_destroy_data_chunk(&ch);
    vz_stream_release(&st);
    vz_source_close(s);
}

struct canceller {
    struct vz_source *s;
    _Atomic uint64_t rows; /* rows the reader has seen */
    _Atomic int64_t cancelled_at;
    int rc;
};

static void *cancel_thread(void *arg)
{
    struct canceller *c = arg;
    struct vz_err err = VZ_ERR_INIT;
    int64_t give_up = vz_mono_ms() + 20000;

    while (atomic_load(&c->rows) < 100000 && vz_mono_ms() < give_up) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&c->cancelled_at, vz_mono_ms());
    c->rc = vz_source_cancel(c->s, &err);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    struct canceller c;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_stream st;
    duckdb_data_chunk ch;
    pthread_t th;
    size_t n = 0;
    int64_t ended;
    int rc;
    (void)state;

    memset(&c, 0, sizeof(c));
    c.s = open_as(0, 0);
    memset(&st, 0, sizeof(st));
    /* A set-returning function in the select list streams row by row; two
     * billion rows would take minutes. */
    rc = vz_source_stream_open(
        c.s, "SELECT generate_series(1, 2000000000) AS g, repeat('x', 50) AS pad", &st, &err);
    assert_int_equal(rc, 0);
    ch = make_chunk(&st);
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &c), 0);
    for (;;) {
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(c.s, &st, ch, &n, &err);
        if (rc < 0 || n == 0)
            break;
        atomic_fetch_add(&c.rows, n);
    }
    ended = vz_mono_ms();
    pthread_join(th, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(rc, VZ_ECANCELLED);
    assert_int_equal(err.code, VZ_ECANCELLED);
    assert_true(atomic_load(&c.rows) >= 100000);
    print_message("[ pgstream ] cancel after %llu rows returned in %lld ms\n",
                  (unsigned long long)atomic_load(&c.rows),
                  (long long)(ended - atomic_load(&c.cancelled_at)));
    assert_true(ended - atomic_load(&c.cancelled_at) < 2000);
    /* A failed stream stays failed; closing it leaves a usable session. */
    assert_int_equal(vz_source_stream_fill(c.s, &st, ch, &n, &err), VZ_ESOURCE);
    vz_source_stream_close(c.s, &st);
    assert_usable(c.s);
    duckdb_destroy_data_chunk(&ch);
    vz_stream_release(&st);
    vz_source_close(c.s);
}

/* Closing in the middle of a stream stops the server's work. */
static void test_close_mid_stream(void **state)
{
    struct vz_source *s = open_as(0, 0);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_stream st;
    duckdb_data_chunk ch;
    size_t n = 0;
    int64_t t0;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_int_equal(
        vz_source_stream_open(s, "SELECT generate_series(1, 2000000000) AS g", &st, &err), 0);
    ch = make_chunk(&st);
    assert_int_equal(vz_source_stream_fill(s, &st, ch, &n, &err), 0);
    assert_int_equal(n, VZ_STREAM_CHUNK);
    t0 = vz_mono_ms();
    vz_source_stream_close(s, &st);
    assert_true(vz_mono_ms() - t0 < 2000);
    assert_null(st.priv);
    assert_usable(s);
    /* And the next stream on the same connection works. */
    vz_stream_release(&st);
    duckdb_destroy_data_chunk(&ch);
    {
        struct fetched f;
        assert_int_equal(fetch_all(s, "SELECT 42 AS x", VZ_DECIMAL_DOUBLE, &f, &err), 0);
        assert_int_equal(VDATA(int32_t, vec_of(&f, "x"), 0), 42);
        fetched_free(&f);
    }
    vz_source_close(s);
}

static void test_statement_timeout(void **state)
{
    struct vz_source *s = open_as(0, 300);
    struct vz_err err = VZ_ERR_INIT;
    struct agg a;
    int64_t t0 = vz_mono_ms();
    (void)state;

    /* Rows come, then the server's statement_timeout ends the COPY: the
     * stream fails, it does not end short. */
    assert_int_equal(stream_sum(s,
                                "SELECT g, pg_sleep(0.01) IS NULL AS z"
                                " FROM generate_series(1, 1000) AS g",
                                VZ_DECIMAL_DOUBLE, &a, &err),
                     VZ_ETIMEOUT);
    assert_non_null(strstr(err.msg, "57014"));
    assert_true(vz_mono_ms() - t0 < 5000);
    assert_true(a.rows < 1000);
    assert_usable(s);
    vz_source_close(s);
}

/* ---- the decoder alone ---- */

/* A stream description built by hand: the column classes a PostgreSQL
 * stream can have, mapped the way the backend maps them. */
static void decoder_stream(struct vz_stream *st, enum vz_decimal_mode dm)
{
    static const struct {
        const char *cls, *src;
        int p, s;
    } defs[] = {
        {"int32", "integer", -1, -1},
        {"text", "text", -1, -1},
        {"decimal", "numeric(10,2)", 10, 2},
        {"timestamptz", "timestamp with time zone", -1, -1},
        {"uuid", "uuid", -1, -1},
        {"binary", "bytea", -1, -1},
        {"date", "date", -1, -1},
    };
    struct vz_err err = VZ_ERR_INIT;
    memset(st, 0, sizeof(*st));
    st->decimal_mode = dm;
    st->ncols = sizeof(defs) / sizeof(defs[0]);
    st->cols = calloc(st->ncols, sizeof(*st->cols));
    assert_non_null(st->cols);
    for (size_t i = 0; i < st->ncols; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%zu", i);
        st->cols[i].name = strdup(name);
        snprintf(st->cols[i].type_class, sizeof(st->cols[i].type_class), "%s", defs[i].cls);
        snprintf(st->cols[i].source_type, sizeof(st->cols[i].source_type), "%s", defs[i].src);
        st->cols[i].precision = defs[i].p;
        st->cols[i].scale = defs[i].s;
    }
    assert_int_equal(vz_stream_map_columns(st, VZ_DB_POSTGRES, &err), 0);
    assert_int_equal(st->nout, 6);
}

struct wbuf {
    unsigned char b[512];
    size_t n;
};

static void put16(struct wbuf *w, int v)
{
    w->b[w->n++] = (unsigned char)((unsigned)v >> 8);
    w->b[w->n++] = (unsigned char)v;
}

static void put32(struct wbuf *w, int64_t v)
{
    for (int i = 3; i >= 0; i--)
        w->b[w->n++] = (unsigned char)((uint64_t)v >> (8 * i));
}

static void put64(struct wbuf *w, int64_t v)
{
    for (int i = 7; i >= 0; i--)
        w->b[w->n++] = (unsigned char)((uint64_t)v >> (8 * i));
}

static void putb(struct wbuf *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* numeric 12345.67: weight 1, digits 1 2345 6700, dscale 2 */
static void put_numeric_field(struct wbuf *w)
{
    put32(w, 8 + 6);
    put16(w, 3);
    put16(w, 1);
    put16(w, 0);
    put16(w, 2);
    put16(w, 1);
    put16(w, 2345);
    put16(w, 6700);
}

static void good_tuple(struct wbuf *w)
{
    static const unsigned char uuid[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                                           0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
    w->n = 0;
    put16(w, 6);
    put32(w, 4);
    put32(w, 42);
    put32(w, 5);
    putb(w, "hello", 5);
    put_numeric_field(w);
    put32(w, 8);
    put64(w, 0); /* 2000-01-01 00:00 UTC */
    put32(w, 16);
    putb(w, uuid, 16);
    put32(w, -1); /* date NULL */
}

static void test_decoder_values_and_corrupt_input(void **state)
{
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    struct wbuf w, bad;
    duckdb_data_chunk ch;
    char txt[64];
    size_t hl;
    (void)state;

    decoder_stream(&st, VZ_DECIMAL_EXACT);
    ch = make_chunk(&st);

    good_tuple(&w);
    assert_int_equal(vz_pgcopy_decode_tuple((char *)w.b, w.n, &st, ch, 3, &err), 0);
    assert_int_equal(VDATA(int32_t, duckdb_data_chunk_get_vector(ch, 0), 3), 42);
    assert_string_equal(vtext(duckdb_data_chunk_get_vector(ch, 1), 3, txt, sizeof(txt)), "hello");
    assert_true(VDATA(int64_t, duckdb_data_chunk_get_vector(ch, 2), 3) == 1234567);
    assert_true(VDATA(int64_t, duckdb_data_chunk_get_vector(ch, 3), 3) == INT64_C(946684800000000));
    assert_string_equal(vtext(duckdb_data_chunk_get_vector(ch, 4), 3, txt, sizeof(txt)),
                        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_true(is_null(duckdb_data_chunk_get_vector(ch, 5), 3));

    /* Every truncation of a good tuple is an error, never a read past it. */
    for (size_t cut = 0; cut < w.n; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, w.b, cut);
        assert_int_equal(vz_pgcopy_decode_tuple(copy, cut, &st, ch, 0, &err), VZ_ESOURCE);
        free(copy);
    }
    /* A byte too many. */
    w.b[w.n++] = 0;
    assert_int_equal(vz_pgcopy_decode_tuple((char *)w.b, w.n, &st, ch, 0, &err), VZ_ESOURCE);

    /* Field counts: too few, too many, negative other than the trailer. */
    good_tuple(&bad);
    bad.b[1] = 5;
    assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err), VZ_ESOURCE);
    bad.b[1] = 7;
    assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err), VZ_ESOURCE);
    bad.b[0] = 0xff;
    bad.b[1] = 0xfe;
    assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err), VZ_ESOURCE);

    /* The trailer, alone and with bytes after it. */
    bad.n = 0;
    put16(&bad, -1);
    assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                     VZ_PGCOPY_TRAILER);
    put16(&bad, 0);
    assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err), VZ_ESOURCE);

    /* Lengths: -2, INT32_MIN, huge, one past the end, wrong size for int4. */
    {
        const int64_t lens[] = {-2, INT32_MIN, INT32_MAX, 0x7fff0000, 5, 3, 0};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            good_tuple(&bad);
            bad.n = 2;
            put32(&bad, lens[i]);
            bad.n = w.n - 1;
            assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                             VZ_ESOURCE);
            assert_true(err.msg[0] != '\0');
        }
    }
    /* numeric: bad digit, bad sign, digit count that disagrees. */
    {
        size_t num_at = 2 + 8 + 4 + 5; /* count, int field, text field */
        good_tuple(&bad);
        bad.b[num_at + 4 + 8] = 0x27; /* first digit 0x2701 = 9985: fine */
        assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err), 0);
        bad.b[num_at + 4 + 8] = 0x28; /* 0x2801 = 10241: not a base-10000 digit */
        assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                         VZ_ESOURCE);
        good_tuple(&bad);
        bad.b[num_at + 4 + 4] = 0x12; /* sign 0x1200 */
        assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                         VZ_ESOURCE);
        good_tuple(&bad);
        bad.b[num_at + 4 + 1] = 4; /* 4 digits claimed, 3 there */
        assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                         VZ_ESOURCE);
        good_tuple(&bad);
        bad.b[num_at + 4] = 0x80; /* negative digit count */
        assert_int_equal(vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err),
                         VZ_ESOURCE);
    }
    /* A row outside the chunk. */
    assert_int_equal(vz_pgcopy_decode_tuple((char *)w.b, w.n - 1, &st, ch, VZ_STREAM_CHUNK, &err),
                     VZ_EINVAL);

    /* Headers. */
    {
        static const unsigned char sig[11] = {'P',  'G',  'C',  'O',  'P', 'Y',
                                              '\n', 0xff, '\r', '\n', 0};
        struct wbuf h;
        h.n = 0;
        putb(&h, sig, 11);
        put32(&h, 0);
        put32(&h, 3);
        putb(&h, "abc", 3);
        put16(&h, -1);
        assert_int_equal(vz_pgcopy_decode_header((char *)h.b, h.n, &hl, &err), 0);
        assert_int_equal(hl, 22);
        for (size_t cut = 0; cut < 22; cut++)
            assert_int_equal(vz_pgcopy_decode_header((char *)h.b, cut, &hl, &err), VZ_ESOURCE);
        h.b[15] = 0x7f; /* extension longer than the data */
        assert_int_equal(vz_pgcopy_decode_header((char *)h.b, h.n, &hl, &err), VZ_ESOURCE);
        h.b[15] = 0;
        h.b[12] = 1; /* flag bit 16: OIDs */
        assert_int_equal(vz_pgcopy_decode_header((char *)h.b, h.n, &hl, &err), VZ_ESOURCE);
        h.b[12] = 0;
        h.b[0] = 'X';
        assert_int_equal(vz_pgcopy_decode_header((char *)h.b, h.n, &hl, &err), VZ_ESOURCE);
    }

    /* Random bytes: errors or rows, never a crash (ASan/UBSan build). */
    {
        unsigned seed = 12345;
        for (int it = 0; it < 20000; it++) {
            size_t len = (size_t)(rand_r(&seed) % 80);
            good_tuple(&bad);
            for (size_t k = 0; k < 3; k++)
                bad.b[rand_r(&seed) % bad.n] = (unsigned char)rand_r(&seed);
            if (len < bad.n && it % 2)
                bad.n = len;
            int rc = vz_pgcopy_decode_tuple((char *)bad.b, bad.n, &st, ch, 0, &err);
            assert_true(rc == 0 || rc == VZ_PGCOPY_TRAILER || rc == VZ_ESOURCE);
        }
    }
    duckdb_destroy_data_chunk(&ch);
    vz_stream_release(&st);
}

/* numeric → double and DECIMAL, digit by digit. */
static void num_bytes(struct wbuf *w, int weight, int sign, int dscale, const int *digits, int nd)
{
    w->n = 0;
    put16(w, nd);
    put16(w, weight);
    put16(w, sign);
    put16(w, dscale);
    for (int i = 0; i < nd; i++)
        put16(w, digits[i]);
}

static void test_decoder_numeric(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    struct wbuf w;
    double d;
    enum vz_pgnum_kind k;
    int64_t hi;
    uint64_t lo;
    (void)state;

    {
        const int dg[] = {1, 2345, 6700};
        num_bytes(&w, 1, 0, 2, dg, 3);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(d == 12345.67);
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 2, &k, &hi, &lo, &err), 0);
        assert_true(hi == 0 && lo == 1234567);
        /* Fewer fraction digits: rounded half away from zero. */
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 1, &k, &hi, &lo, &err), 0);
        assert_true(lo == 123457);
        num_bytes(&w, 1, 0x4000, 2, dg, 3);
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 0, &k, &hi, &lo, &err), 0);
        assert_true(hi == -1 && (int64_t)lo == -12346);
    }
    {
        /* 0.005 at scale 2 rounds to 0.01; 0.004 to 0. */
        const int five[] = {50}, four[] = {40};
        num_bytes(&w, -1, 0, 3, five, 1);
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 2, &k, &hi, &lo, &err), 0);
        assert_true(lo == 1);
        num_bytes(&w, -1, 0, 3, four, 1);
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 2, &k, &hi, &lo, &err), 0);
        assert_true(lo == 0);
    }
    {
        /* 10^40 does not fit any DECIMAL; as a double it is 1e40. */
        const int one[] = {1};
        num_bytes(&w, 10, 0, 0, one, 1);
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 0, &k, &hi, &lo, &err),
                         VZ_ESOURCE);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(d == 1e40);
        /* 10^(4*32767) is beyond any double. */
        num_bytes(&w, 32767, 0, 0, one, 1);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(isinf(d) && d > 0);
    }
    {
        /* 0.1 + many digits: the slow path must still round correctly. */
        int dg[40];
        char want[200];
        dg[0] = 1000;
        for (int i = 1; i < 40; i++)
            dg[i] = 1234;
        num_bytes(&w, -1, 0, 160, dg, 40);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        strcpy(want, "0.1000");
        for (int i = 1; i < 40; i++)
            strcat(want, "1234");
        assert_true(d == strtod(want, NULL));
    }
    {
        const int none[] = {0};
        num_bytes(&w, 0, 0xC000, 0, none, 0);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(isnan(d));
        assert_int_equal(vz_pgcopy_numeric_decimal((char *)w.b, w.n, 2, &k, &hi, &lo, &err), 0);
        assert_int_equal(k, VZ_PGNUM_NAN);
        num_bytes(&w, 0, 0xF000, 0, none, 0);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(isinf(d) && d < 0);
        num_bytes(&w, 0, 0, 0, none, 0); /* zero */
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), 0);
        assert_true(d == 0);
        num_bytes(&w, 0, 0, 0x4000, none, 0); /* scale beyond 0x3FFF */
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, w.n, &d, &err), VZ_ESOURCE);
        assert_int_equal(vz_pgcopy_numeric_double((char *)w.b, 7, &d, &err), VZ_ESOURCE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_values_and_corrupt_input),
        cmocka_unit_test(test_decoder_numeric),
        cmocka_unit_test(test_all_types_every_column),
        cmocka_unit_test(test_all_types_exact_decimal),
        cmocka_unit_test(test_dates_infinity_and_time_zones),
        cmocka_unit_test(test_business_tables_counts_and_sums),
        cmocka_unit_test(test_empty_result),
        cmocka_unit_test(test_duplicate_and_unnamed_columns),
        cmocka_unit_test(test_custom_sql_shapes),
        cmocka_unit_test(test_multiple_statements_refused),
        cmocka_unit_test(test_writes_refused_by_the_read_only_transaction),
        cmocka_unit_test(test_three_million_rows_bounded_memory),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_close_mid_stream),
        cmocka_unit_test(test_statement_timeout),
    };
    return cmocka_run_group_tests_name("pgstream", tests, NULL, NULL);
}
