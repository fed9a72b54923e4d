/* Streaming MySQL/MariaDB results into DuckDB chunks, against the real
 * MariaDB test server (scripts/testdb.sh): every type of the all_types
 * fixture decoded exactly, the business tables, the read-only session,
 * single statements, a 3,000,000-row stream in bounded memory, cancel and
 * the statement time limit. The pure value parsers (sources/myrow.c) are
 * tested first, without a server. */
/* vec.h first: it includes duckdb.h without the strict-prototypes warning. */
#include "extract/vec.h"

#include "testutil.h"

#include <float.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "core/util.h"
#include "extract/stream.h"
#include "sources/myrow.h"
#include "sources/source.h"
#include "sources/source_internal.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static i128 mk128(int64_t hi, uint64_t lo)
{
    return (i128)(((u128)(uint64_t)hi << 64) | lo);
}

/* ---- environment ---- */

struct env {
    const char *host, *db, *ro, *ro_pw, *admin, *admin_pw;
    int port;
};

static struct env need_env(void)
{
    struct env e;
    e.host = vzt_env("VZ_MY_HOST");
    e.port = atoi(vzt_env("VZ_MY_PORT"));
    e.db = vzt_env("VZ_MY_DB");
    e.ro = vzt_env("VZ_MY_RO_USER");
    e.ro_pw = vzt_env("VZ_MY_RO_PASSWORD");
    e.admin = vzt_env("VZ_MY_ADMIN_USER");
    e.admin_pw = vzt_env("VZ_MY_ADMIN_PASSWORD");
    return e;
}

static struct vz_source *open_as(const struct env *e, int admin, int stmt_timeout_ms)
{
    struct vz_conn_cfg c;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = NULL;
    int rc;

    memset(&c, 0, sizeof(c));
    c.type = VZ_DB_MYSQL;
    c.host = e->host;
    c.port = e->port;
    c.database = e->db;
    c.username = admin ? e->admin : e->ro;
    c.password = admin ? e->admin_pw : e->ro_pw;
    c.connect_timeout_s = 5;
    c.statement_timeout_ms = stmt_timeout_ms;
    rc = vz_source_open(&c, &s, &err);
    if (rc != 0)
        fail_msg("vz_source_open: %s (%s)", err.msg, vz_err_name(rc));
    return s;
}

static struct vz_source *open_reader(void)
{
    struct env e = need_env();
    return open_as(&e, 0, 0);
}

/* ---- chunks and values ---- */

static duckdb_data_chunk make_chunk(const struct vz_stream *st)
{
    duckdb_logical_type types[256];
    duckdb_data_chunk ch;

    assert_true(st->nout > 0 && st->nout <= 256);
    for (size_t i = 0; i < st->ncols; i++) {
        const struct vz_stream_col *c = &st->cols[i];
        if (c->out_index < 0)
            continue;
        types[c->out_index] = vz_stream_logical_type(c);
        assert_non_null(types[c->out_index]);
    }
    ch = duckdb_create_data_chunk(types, st->nout);
    for (size_t i = 0; i < st->nout; i++)
        duckdb_destroy_logical_type(&types[i]);
    assert_non_null(ch);
    return ch;
}

/* One whole (small) result: open, fill once into a fresh chunk, check it is
 * the end. */
struct result {
    struct vz_stream st;
    duckdb_data_chunk ch;
    size_t n;
};

static void run_small(struct vz_source *s, const char *sql, enum vz_decimal_mode dm,
                      struct result *r)
{
    struct vz_err err = VZ_ERR_INIT;
    size_t more = 1;
    int rc;

    memset(r, 0, sizeof(*r));
    r->st.decimal_mode = dm;
    rc = vz_source_stream_open(s, sql, &r->st, &err);
    if (rc != 0)
        fail_msg("stream_open(%s): %s (%s)", sql, err.msg, vz_err_name(rc));
    r->ch = r->st.nout ? make_chunk(&r->st) : NULL;
    rc = vz_source_stream_fill(s, &r->st, r->ch, &r->n, &err);
    if (rc != 0)
        fail_msg("stream_fill(%s): %s (%s)", sql, err.msg, vz_err_name(rc));
    if (r->n) {
        rc = vz_source_stream_fill(s, &r->st, r->ch, &more, &err);
        assert_int_equal(rc, 0);
        assert_int_equal(more, 0);
    }
}

static void result_free(struct vz_source *s, struct result *r)
{
    vz_source_stream_close(s, &r->st);
    vz_stream_release(&r->st);
    if (r->ch)
        duckdb_destroy_data_chunk(&r->ch);
}

static const struct vz_stream_col *col(const struct result *r, const char *name)
{
    for (size_t i = 0; i < r->st.ncols; i++)
        if (strcmp(r->st.cols[i].name, name) == 0)
            return &r->st.cols[i];
    fail_msg("no column %s", name);
    return NULL;
}

static duckdb_vector vec(const struct result *r, const char *name)
{
    const struct vz_stream_col *c = col(r, name);
    assert_true(c->out_index >= 0);
    return duckdb_data_chunk_get_vector(r->ch, (idx_t)c->out_index);
}

static int is_null(duckdb_vector v, idx_t row)
{
    uint64_t *validity = duckdb_vector_get_validity(v);
    return validity && !duckdb_validity_row_is_valid(validity, row);
}

#define VAL(r, name, ctype, row) (((ctype *)duckdb_vector_get_data(vec(r, name)))[row])

static void check_null(const struct result *r, const char *name, idx_t row)
{
    if (!is_null(vec(r, name), row))
        fail_msg("%s row %d: expected NULL", name, (int)row);
}

static void check_not_null(const struct result *r, const char *name, idx_t row)
{
    if (is_null(vec(r, name), row))
        fail_msg("%s row %d: unexpected NULL", name, (int)row);
}

static void check_i64(const struct result *r, const char *name, idx_t row, int64_t want)
{
    duckdb_vector v = vec(r, name);
    duckdb_logical_type t = duckdb_vector_get_column_type(v);
    duckdb_type id = duckdb_get_type_id(t);
    void *d = duckdb_vector_get_data(v);
    int64_t got;

    duckdb_destroy_logical_type(&t);
    check_not_null(r, name, row);
    switch (id) {
    case DUCKDB_TYPE_TINYINT:
        got = ((int8_t *)d)[row];
        break;
    case DUCKDB_TYPE_SMALLINT:
        got = ((int16_t *)d)[row];
        break;
    case DUCKDB_TYPE_INTEGER:
        got = ((int32_t *)d)[row];
        break;
    case DUCKDB_TYPE_BIGINT:
        got = ((int64_t *)d)[row];
        break;
    case DUCKDB_TYPE_UTINYINT:
        got = ((uint8_t *)d)[row];
        break;
    case DUCKDB_TYPE_USMALLINT:
        got = ((uint16_t *)d)[row];
        break;
    case DUCKDB_TYPE_UINTEGER:
        got = ((uint32_t *)d)[row];
        break;
    default:
        fail_msg("%s: not a small integer vector (type %d)", name, (int)id);
        return;
    }
    if (got != want)
        fail_msg("%s row %d: got %lld, want %lld", name, (int)row, (long long)got, (long long)want);
}

static void check_str(const struct result *r, const char *name, idx_t row, const char *want)
{
    duckdb_string_t *d = duckdb_vector_get_data(vec(r, name));
    size_t n = duckdb_string_t_length(d[row]);
    const char *p = duckdb_string_t_data(&d[row]);

    check_not_null(r, name, row);
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("%s row %d: got \"%.*s\" (%zu bytes), want \"%s\"", name, (int)row,
                 (int)(n > 200 ? 200 : n), p, n, want);
}

static void check_type(const struct result *r, const char *name, const char *cls, const char *src,
                       const char *duck)
{
    const struct vz_stream_col *c = col(r, name);
    if (strcmp(c->type_class, cls) != 0 || strcmp(c->source_type, src) != 0 ||
        strcmp(c->map.duckdb_type, duck) != 0)
        fail_msg("%s: class %s, source %s, duckdb %s; want %s, %s, %s", name, c->type_class,
                 c->source_type, c->map.duckdb_type, cls, src, duck);
}

static char *repeat(const char *s, int n)
{
    size_t k = strlen(s);
    char *p = malloc(k * (size_t)n + 1);
    assert_non_null(p);
    for (int i = 0; i < n; i++)
        memcpy(p + k * (size_t)i, s, k);
    p[k * (size_t)n] = '\0';
    return p;
}

static int64_t ts(int y, unsigned mo, unsigned d, int h, int mi, int s, int us)
{
    return (int64_t)vz_myrow_days_from_civil(y, mo, d) * 86400000000LL +
           ((int64_t)h * 3600 + mi * 60 + s) * 1000000LL + us;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ==== sources/myrow.c, no server ==== */

static int conv(enum vz_myrow_kind kind, const char *s, struct vz_myval *out)
{
    struct vz_myconv c = {kind, INT64_MIN, INT64_MAX, UINT64_MAX, 38, 20};
    struct vz_buf b = VZ_BUF_INIT(0);
    int rc = vz_myrow_convert(&c, s, strlen(s), out, &b);
    vz_buf_release(&b);
    return rc;
}

static void test_myrow_integers(void **state)
{
    struct vz_myconv c = {VZ_MYROW_INT, INT8_MIN, INT8_MAX, 0, 0, 0};
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_myval v;
    (void)state;

    assert_int_equal(conv(VZ_MYROW_INT, "-9223372036854775808", &v), 0);
    assert_true(v.i == INT64_MIN);
    assert_int_equal(conv(VZ_MYROW_INT, "9223372036854775807", &v), 0);
    assert_true(v.i == INT64_MAX);
    assert_int_equal(conv(VZ_MYROW_INT, "9223372036854775808", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_INT, "-9223372036854775809", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_UINT, "18446744073709551615", &v), 0);
    assert_true(v.u == UINT64_MAX);
    assert_int_equal(conv(VZ_MYROW_UINT, "18446744073709551616", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_UINT, "-1", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_INT, "0042", &v), 0); /* ZEROFILL */
    assert_int_equal(v.i, 42);
    const char *bad[] = {"", "-", " 1", "1 ", "+1", "1e3", "0x10", "1.0", "١"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (conv(VZ_MYROW_INT, bad[i], &v) != VZ_EINVAL)
            fail_msg("\"%s\" accepted as an integer", bad[i]);
    assert_int_equal(vz_myrow_convert(&c, "127", 3, &v, &b), 0);
    assert_int_equal(vz_myrow_convert(&c, "128", 3, &v, &b), VZ_EINVAL);
    assert_int_equal(vz_myrow_convert(&c, "-128", 4, &v, &b), 0);
    assert_int_equal(vz_myrow_convert(&c, "-129", 4, &v, &b), VZ_EINVAL);
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(vz_myrow_convert(&c, "12345", 2, &v, &b), 0);
    assert_int_equal(v.i, 12);
    assert_int_equal(conv(VZ_MYROW_BOOL, "0", &v), 0);
    assert_false(v.b);
    assert_int_equal(conv(VZ_MYROW_BOOL, "-5", &v), 0);
    assert_true(v.b);
    vz_buf_release(&b);
}

static void test_myrow_bits_floats(void **state)
{
    struct vz_myconv c = {VZ_MYROW_BIT_INT, 0, 0, INT64_MAX, 0, 0};
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_myval v;
    (void)state;

    assert_int_equal(vz_myrow_convert(&c, "\x01\x02", 2, &v, &b), 0);
    assert_true(v.u == 0x102);
    assert_int_equal(vz_myrow_convert(&c, "\x80\0\0\0\0\0\0\0", 8, &v, &b), VZ_EINVAL);
    c.umax = UINT64_MAX;
    assert_int_equal(vz_myrow_convert(&c, "\x80\0\0\0\0\0\0\0", 8, &v, &b), 0);
    assert_true(v.u == 0x8000000000000000ull);
    assert_int_equal(vz_myrow_convert(&c, "123456789", 9, &v, &b), VZ_EINVAL);
    c.kind = VZ_MYROW_BIT_BOOL;
    assert_int_equal(vz_myrow_convert(&c, "\0", 1, &v, &b), 0);
    assert_false(v.b);
    assert_int_equal(vz_myrow_convert(&c, "\x01", 1, &v, &b), 0);
    assert_true(v.b);

    assert_int_equal(conv(VZ_MYROW_DOUBLE, "-1.7976931348623157e308", &v), 0);
    assert_true(v.d == -DBL_MAX);
    assert_int_equal(conv(VZ_MYROW_DOUBLE, "2.718281828459045", &v), 0);
    assert_true(v.d == 2.718281828459045);
    assert_int_equal(conv(VZ_MYROW_FLOAT, "3.14", &v), 0);
    assert_true(v.f == 3.14f);
    assert_int_equal(conv(VZ_MYROW_FLOAT, "1e39", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_DOUBLE, "1e400", &v), VZ_EINVAL);
    const char *bad[] = {"", ".", "-", "e5", "1e", "nan", "inf", "0x1p3", " 1", "1 ", "1..2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (conv(VZ_MYROW_DOUBLE, bad[i], &v) != VZ_EINVAL)
            fail_msg("\"%s\" accepted as a double", bad[i]);
    /* A long DECIMAL(65,30) text read as DOUBLE goes through the buffer. */
    assert_int_equal(conv(VZ_MYROW_DOUBLE,
                          "12345678901234567890123456789012345.123456789012345678901234567890", &v),
                     0);
    assert_true(v.d == 12345678901234567890123456789012345.123456789012345678901234567890);
    vz_buf_release(&b);
}

static i128 dec_of(const struct vz_myval *v)
{
    return mk128(v->hi, v->lo);
}

static void test_myrow_decimals(void **state)
{
    struct vz_myconv c = {VZ_MYROW_DECIMAL, 0, 0, 0, 38, 20};
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_myval v;
    i128 max38 = 1;
    const char *s;
    (void)state;

    for (int i = 0; i < 38; i++)
        max38 *= 10;
    max38 -= 1;
    s = "999999999999999999.99999999999999999999";
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == max38);
    s = "-999999999999999999.99999999999999999999";
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == -max38);
    s = "3.14159265358979323846";
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == (i128)31415926535897932ll * 10000 + 3846);
    s = "1000000000000000000.00000000000000000000"; /* 39 digits */
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), VZ_EINVAL);
    c.width = 10;
    c.scale = 2;
    s = "-99999999.99";
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == -9999999999LL);
    s = "0.5"; /* fewer fraction digits than the scale: padded */
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == 50);
    s = "1.230"; /* trailing zero beyond the scale: fine */
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == 123);
    s = "1.235"; /* a digit beyond the scale would be lost */
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), VZ_EINVAL);
    s = "123456789.00"; /* 11 digits in DECIMAL(10,2) */
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), VZ_EINVAL);
    s = "-0.00";
    assert_int_equal(vz_myrow_convert(&c, s, strlen(s), &v, &b), 0);
    assert_true(dec_of(&v) == 0);
    const char *bad[] = {"", "-", ".", "1.2.3", "1e5", "+1", " 1", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (vz_myrow_convert(&c, bad[i], strlen(bad[i]), &v, &b) != VZ_EINVAL)
            fail_msg("\"%s\" accepted as a decimal", bad[i]);
    vz_buf_release(&b);
}

static void test_myrow_dates_times(void **state)
{
    struct vz_myval v;
    (void)state;

    assert_int_equal(vz_myrow_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(vz_myrow_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(vz_myrow_days_from_civil(1000, 1, 1), -354285);
    assert_int_equal(vz_myrow_days_from_civil(9999, 12, 31), 2932896);
    assert_int_equal(conv(VZ_MYROW_DATE, "2024-02-29", &v), 0);
    assert_int_equal(v.days, 19782);
    assert_int_equal(conv(VZ_MYROW_DATE, "0000-00-00", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATE, "2024-00-10", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATE, "2024-05-00", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATE, "2023-02-29", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATE, "1900-02-29", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATE, "2000-02-29", &v), 0);
    assert_int_equal(conv(VZ_MYROW_DATE, "0000-01-01", &v), 0); /* year 0 is a real year */
    assert_int_equal(conv(VZ_MYROW_DATE, "2024-2-29", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_DATE, "2024-02-29 ", &v), VZ_EINVAL);

    assert_int_equal(conv(VZ_MYROW_TIME, "13:45:30", &v), 0);
    assert_true(v.micros == 49530000000LL);
    assert_int_equal(conv(VZ_MYROW_TIME, "13:45:30.5", &v), 0);
    assert_true(v.micros == 49530500000LL);
    assert_int_equal(conv(VZ_MYROW_TIME, "24:00:00", &v), 0);
    assert_true(v.micros == 86400000000LL);
    assert_int_equal(conv(VZ_MYROW_TIME, "24:00:00.000001", &v), VZ_MYROW_TIME_RANGE);
    assert_int_equal(conv(VZ_MYROW_TIME, "838:59:59", &v), VZ_MYROW_TIME_RANGE);
    assert_int_equal(conv(VZ_MYROW_TIME, "-838:59:59", &v), VZ_MYROW_TIME_RANGE);
    assert_int_equal(conv(VZ_MYROW_TIME, "-00:00:00", &v), 0);
    assert_int_equal(conv(VZ_MYROW_TIME, "12:60:00", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_TIME, "12:00", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_TIME, "12:00:00.1234567", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_TIME, "1234567890:00:00", &v), VZ_EINVAL);

    assert_int_equal(conv(VZ_MYROW_DATETIME, "2024-02-29 13:45:30.123456", &v), 0);
    assert_true(v.micros == ts(2024, 2, 29, 13, 45, 30, 123456));
    assert_int_equal(conv(VZ_MYROW_DATETIME, "1970-01-01 00:00:01", &v), 0);
    assert_true(v.micros == 1000000);
    assert_int_equal(conv(VZ_MYROW_DATETIME, "0000-00-00 00:00:00.000000", &v), VZ_MYROW_ZERO_DATE);
    assert_int_equal(conv(VZ_MYROW_DATETIME, "2024-02-29 24:00:00", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_DATETIME, "2024-02-29T13:45:30", &v), VZ_EINVAL);
    assert_int_equal(conv(VZ_MYROW_DATETIME, "2024-02-29 13:45", &v), VZ_EINVAL);
}

static void wkt_is(const char *wkb, size_t len, int want_rc, const char *want)
{
    struct vz_myconv c = {VZ_MYROW_WKT, 0, 0, 0, 0, 0};
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_myval v;
    int rc = vz_myrow_convert(&c, wkb, len, &v, &b);
    if (rc != want_rc || strcmp(vz_buf_cstr(&b), want) != 0)
        fail_msg("WKT: got %d \"%s\", want %d \"%s\"", rc, vz_buf_cstr(&b), want_rc, want);
    vz_buf_release(&b);
}

static void test_myrow_wkt(void **state)
{
    /* SRID 0, little-endian POINT(1.5 -2.25) */
    static const char pt_le[] = "\0\0\0\0\x01\x01\0\0\0"
                                "\0\0\0\0\0\0\xf8\x3f"
                                "\0\0\0\0\0\0\x02\xc0";
    /* the same point big-endian, SRID 4326 */
    static const char pt_be[] = "\xe6\x10\0\0\x00\0\0\0\x01"
                                "\x3f\xf8\0\0\0\0\0\0"
                                "\xc0\x02\0\0\0\0\0\0";
    /* GEOMETRYCOLLECTION EMPTY */
    static const char gc_empty[] = "\0\0\0\0\x01\x07\0\0\0\0\0\0\0";
    /* LINESTRING with 0 points */
    static const char ls_empty[] = "\0\0\0\0\x01\x02\0\0\0\0\0\0\0";
    /* POINT with a count that promises more than there is: not WKB */
    static const char truncated[] = "\0\0\0\0\x01\x01\0\0\0\0\0";
    (void)state;

    wkt_is(pt_le, sizeof(pt_le) - 1, 0, "POINT(1.5 -2.25)");
    wkt_is(pt_be, sizeof(pt_be) - 1, 0, "POINT(1.5 -2.25)");
    wkt_is(gc_empty, sizeof(gc_empty) - 1, 0, "GEOMETRYCOLLECTION EMPTY");
    wkt_is(ls_empty, sizeof(ls_empty) - 1, 0, "LINESTRING EMPTY");
    wkt_is(truncated, sizeof(truncated) - 1, VZ_MYROW_NOT_WKB, "0000000001010000000000");
    wkt_is("\xde\xad", 2, VZ_MYROW_NOT_WKB, "DEAD");
    {
        /* GEOMETRYCOLLECTION nested n deep around POINT(1.5 -2.25): MySQL
           reads nesting, MariaDB does not; we take up to 32 levels. */
        char buf[4 + 40 * 9 + 21];
        struct vz_myconv c = {VZ_MYROW_WKT, 0, 0, 0, 0, 0};
        struct vz_buf b = VZ_BUF_INIT(0);
        struct vz_myval v;
        for (int depth = 2; depth <= 40; depth += 38) {
            size_t k = 4;
            memset(buf, 0, 4);
            for (int i = 0; i < depth; i++) {
                memcpy(buf + k, "\x01\x07\0\0\0\x01\0\0\0", 9);
                k += 9;
            }
            memcpy(buf + k, pt_le + 4, 21);
            k += 21;
            int rc = vz_myrow_convert(&c, buf, k, &v, &b);
            if (depth == 2) {
                assert_int_equal(rc, 0);
                assert_string_equal(vz_buf_cstr(&b), "GEOMETRYCOLLECTION(GEOMETRYCOLLECTION("
                                                     "POINT(1.5 -2.25)))");
            } else {
                assert_int_equal(rc, VZ_MYROW_NOT_WKB);
            }
        }
        vz_buf_release(&b);
    }
    wkt_is("", 0, VZ_MYROW_NOT_WKB, "");
    /* trailing garbage after a valid point */
    {
        char buf[64];
        memcpy(buf, pt_le, sizeof(pt_le) - 1);
        buf[sizeof(pt_le) - 1] = 'x';
        struct vz_myconv c = {VZ_MYROW_WKT, 0, 0, 0, 0, 0};
        struct vz_buf b = VZ_BUF_INIT(0);
        struct vz_myval v;
        assert_int_equal(vz_myrow_convert(&c, buf, sizeof(pt_le), &v, &b), VZ_MYROW_NOT_WKB);
        vz_buf_release(&b);
    }
}

/* ==== against MariaDB ==== */

static void test_all_types_every_column(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    char *longtext1 = repeat("long text ", 1000), *longtext4 = repeat("ünïcödé 🎉 ", 500);
    (void)state;

    run_small(s, "SELECT * FROM all_types ORDER BY id", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.st.rows, 5);
    assert_true(r.st.bytes > 10000 + 500 * 16);

    check_type(&r, "c_tinyint", "int8", "tinyint", "TINYINT");
    check_type(&r, "c_bool", "bool", "tinyint(1)", "BOOLEAN");
    check_type(&r, "c_int_unsigned", "uint32", "int unsigned", "UINTEGER");
    check_type(&r, "c_bigint_unsigned", "uint64", "bigint unsigned", "UBIGINT");
    check_type(&r, "c_decimal_10_2", "decimal", "decimal(10,2)", "DOUBLE");
    check_type(&r, "c_decimal_38_20", "decimal", "decimal(38,20)", "DOUBLE");
    check_type(&r, "c_bit", "bit", "bit(4)", "BIGINT");
    check_type(&r, "c_year", "year", "year", "SMALLINT");
    check_type(&r, "c_time", "time", "time", "TIME");
    check_type(&r, "c_datetime", "timestamp", "datetime(6)", "TIMESTAMP");
    check_type(&r, "c_timestamp", "timestamptz", "timestamp", "TIMESTAMP WITH TIME ZONE");
    check_type(&r, "c_enum", "enum", "enum", "VARCHAR");
    check_type(&r, "c_set", "set", "set", "VARCHAR");
    /* MariaDB's JSON is LONGTEXT; its extended metadata says format json. */
    check_type(&r, "c_json", "json", "json", "VARCHAR");
    check_type(&r, "c_point", "geometry", "point", "VARCHAR");
    check_type(&r, "c_geometry", "geometry", "geometry", "VARCHAR");
    check_type(&r, "c_text", "text", "text", "VARCHAR");
    assert_int_equal(col(&r, "c_blob")->out_index, -1);
    assert_int_equal(col(&r, "c_varbinary")->out_index, -1);
    assert_int_equal(col(&r, "c_binary")->out_index, -1);
    assert_non_null(strstr(col(&r, "c_blob")->map.warning, "skipped"));
    assert_int_equal(r.st.nout, r.st.ncols - 3);

    /* row 2 (index 1) is NULL everywhere but id */
    check_i64(&r, "id", 1, 2);
    for (size_t i = 1; i < r.st.ncols; i++)
        if (r.st.cols[i].out_index >= 0)
            check_null(&r, r.st.cols[i].name, 1);

    /* integers */
    check_i64(&r, "c_tinyint", 0, 42);
    check_i64(&r, "c_tinyint", 2, -128);
    check_i64(&r, "c_tinyint", 3, 127);
    check_i64(&r, "c_tinyint", 4, 0);
    assert_true(VAL(&r, "c_bool", bool, 0));
    assert_false(VAL(&r, "c_bool", bool, 2));
    assert_true(VAL(&r, "c_bool", bool, 3));
    assert_false(VAL(&r, "c_bool", bool, 4));
    check_i64(&r, "c_smallint", 2, -32768);
    check_i64(&r, "c_smallint", 3, 32767);
    check_i64(&r, "c_mediumint", 0, 123456);
    check_i64(&r, "c_mediumint", 2, -8388608);
    check_i64(&r, "c_mediumint", 3, 8388607);
    check_i64(&r, "c_int", 2, INT32_MIN);
    check_i64(&r, "c_int", 3, INT32_MAX);
    check_i64(&r, "c_int_unsigned", 0, 3000000000LL);
    check_i64(&r, "c_int_unsigned", 3, 4294967295LL);
    check_i64(&r, "c_bigint", 0, 123456789012LL);
    check_i64(&r, "c_bigint", 2, INT64_MIN);
    check_i64(&r, "c_bigint", 3, INT64_MAX);
    assert_true(VAL(&r, "c_bigint_unsigned", uint64_t, 0) == 12345678901234567890ull);
    assert_true(VAL(&r, "c_bigint_unsigned", uint64_t, 2) == 0);
    assert_true(VAL(&r, "c_bigint_unsigned", uint64_t, 3) == UINT64_MAX);

    /* floats and decimals as DOUBLE */
    assert_true(VAL(&r, "c_float", float, 0) == 3.14f);
    assert_true(VAL(&r, "c_float", float, 2) == -3.40282e38f);
    assert_true(VAL(&r, "c_float", float, 3) == 3.40282e38f);
    assert_true(VAL(&r, "c_double", double, 0) == 2.718281828459045);
    assert_true(VAL(&r, "c_double", double, 2) == -DBL_MAX);
    assert_true(VAL(&r, "c_double", double, 3) == DBL_MAX);
    assert_true(VAL(&r, "c_double", double, 4) == 0);
    assert_true(VAL(&r, "c_decimal_10_2", double, 0) == 12345.67);
    assert_true(VAL(&r, "c_decimal_10_2", double, 2) == -99999999.99);
    assert_true(VAL(&r, "c_decimal_38_20", double, 0) == 3.14159265358979323846);
    assert_true(VAL(&r, "c_decimal_38_20", double, 3) == 999999999999999999.99999999999999999999);
    assert_non_null(strstr(col(&r, "c_decimal_38_20")->map.warning, "scale 20 > 15"));

    /* bit(4), year */
    check_i64(&r, "c_bit", 0, 10);
    check_i64(&r, "c_bit", 2, 0);
    check_i64(&r, "c_bit", 3, 15);
    check_i64(&r, "c_year", 0, 2024);
    check_i64(&r, "c_year", 2, 1901);
    check_i64(&r, "c_year", 3, 2155);
    check_i64(&r, "c_year", 4, 0);

    /* dates: the zero row is NULL, with one warning per column */
    assert_int_equal(VAL(&r, "c_date", duckdb_date, 0).days, 19782);
    assert_int_equal(VAL(&r, "c_date", duckdb_date, 2).days, -354285);
    assert_int_equal(VAL(&r, "c_date", duckdb_date, 3).days, 2932896);
    check_null(&r, "c_date", 4);
    assert_int_equal(count_of(col(&r, "c_date")->map.warning, "0000-00-00"), 1);
    assert_true(VAL(&r, "c_time", duckdb_time, 0).micros == 49530000000LL);
    check_null(&r, "c_time", 2); /* -838:59:59 */
    check_null(&r, "c_time", 3); /* 838:59:59 */
    assert_true(VAL(&r, "c_time", duckdb_time, 4).micros == 0);
    assert_int_equal(count_of(col(&r, "c_time")->map.warning, "outside 00:00:00..24:00:00"), 1);
    assert_true(VAL(&r, "c_datetime", duckdb_timestamp, 0).micros ==
                ts(2024, 2, 29, 13, 45, 30, 123456));
    assert_true(VAL(&r, "c_datetime", duckdb_timestamp, 2).micros == ts(1000, 1, 1, 0, 0, 0, 0));
    assert_true(VAL(&r, "c_datetime", duckdb_timestamp, 3).micros ==
                ts(9999, 12, 31, 23, 59, 59, 999999));
    check_null(&r, "c_datetime", 4);
    /* TIMESTAMP comes back in UTC whatever the server's zone */
    assert_true(VAL(&r, "c_timestamp", duckdb_timestamp, 0).micros ==
                ts(2024, 2, 29, 13, 45, 30, 0));
    assert_true(VAL(&r, "c_timestamp", duckdb_timestamp, 2).micros == 1000000);
    assert_true(VAL(&r, "c_timestamp", duckdb_timestamp, 3).micros == 2147483647LL * 1000000);
    check_null(&r, "c_timestamp", 4);
    assert_int_equal(count_of(col(&r, "c_timestamp")->map.warning, "0000-00-00"), 1);

    /* text */
    check_str(&r, "c_char", 0, "abc");
    check_str(&r, "c_char", 2, "");
    check_str(&r, "c_char", 3, "zzzzz");
    check_str(&r, "c_char", 4, "ñ");
    check_str(&r, "c_varchar", 3, "exactly twenty chars");
    check_str(&r, "c_varchar", 4, "ünïcödé");
    check_str(&r, "c_text", 0, "plain ascii text");
    check_str(&r, "c_text", 3, "Grüße, 世界! Ωμέγα «quotes» \"double\" 'single' back\\slash");
    check_str(&r, "c_text", 4, "line one\nline two\ttabbed");
    check_str(&r, "c_longtext", 0, longtext1);
    check_str(&r, "c_longtext", 3, longtext4);
    check_str(&r, "c_longtext", 4, "");
    check_str(&r, "c_enum", 0, "happy");
    check_str(&r, "c_enum", 3, "très content 😀");
    check_str(&r, "c_set", 0, "red,blue");
    check_str(&r, "c_set", 2, "");
    check_str(&r, "c_set", 3, "red,green,blue");
    check_str(&r, "c_json", 0, "{\"a\": 1, \"b\": [true, null, \"x\"]}");
    check_str(&r, "c_json", 2, "[]");
    check_str(&r, "c_json", 4,
              "{\"emoji\": \"🎉\", \"text\": \"日本語\", \"arr\": [1, null, \"two\"]}");

    /* geometry as WKT */
    check_str(&r, "c_point", 0, "POINT(1.5 -2.25)");
    check_str(&r, "c_point", 2, "POINT(0 0)");
    check_str(&r, "c_point", 3, "POINT(-180 90)");
    check_null(&r, "c_point", 4);
    check_str(&r, "c_geometry", 0, "LINESTRING(0 0,1 1,2 0)");
    check_str(&r, "c_geometry", 2, "POLYGON((0 0,4 0,4 4,0 4,0 0))");
    check_str(&r, "c_geometry", 3, "MULTIPOINT(1 1,2 2)");

    result_free(s, &r);
    vz_source_close(s);
    free(longtext1);
    free(longtext4);
}

static void test_all_types_exact_decimals(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    i128 max38 = 1;
    (void)state;

    for (int i = 0; i < 38; i++)
        max38 *= 10;
    max38 -= 1;
    run_small(s, "SELECT id, c_decimal_10_2, c_decimal_38_20 FROM all_types ORDER BY id",
              VZ_DECIMAL_EXACT, &r);
    assert_int_equal(r.n, 5);
    check_type(&r, "c_decimal_10_2", "decimal", "decimal(10,2)", "DECIMAL(10,2)");
    check_type(&r, "c_decimal_38_20", "decimal", "decimal(38,20)", "DECIMAL(38,20)");
    assert_string_equal(col(&r, "c_decimal_38_20")->map.warning, "");
    assert_true(VAL(&r, "c_decimal_10_2", int64_t, 0) == 1234567);
    check_null(&r, "c_decimal_10_2", 1);
    assert_true(VAL(&r, "c_decimal_10_2", int64_t, 2) == -9999999999LL);
    assert_true(VAL(&r, "c_decimal_10_2", int64_t, 3) == 9999999999LL);
    assert_true(VAL(&r, "c_decimal_10_2", int64_t, 4) == 0);
    {
        duckdb_hugeint *h = duckdb_vector_get_data(vec(&r, "c_decimal_38_20"));
        i128 v0 = mk128(h[0].upper, h[0].lower);
        i128 v2 = mk128(h[2].upper, h[2].lower);
        i128 v3 = mk128(h[3].upper, h[3].lower);
        assert_true(v0 == (i128)31415926535897932ll * 10000 + 3846);
        assert_true(v2 == -max38);
        assert_true(v3 == max38);
        assert_true(h[4].lower == 0 && h[4].upper == 0);
    }
    result_free(s, &r);
    vz_source_close(s);
}

/* Our WKB reader against the server's own ST_AsText, shape by shape. */
static void test_geometry_matches_st_astext(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    static const char *const wkts[] = {
        "POINT(1.5 -2.25)",
        "LINESTRING(0 0,1 1,2 0)",
        "POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))",
        "MULTIPOINT(1 1,2 2,-3.5 4)",
        "MULTILINESTRING((0 0,1 1),(2 2,3 3))",
        "MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))",
        "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1),POLYGON((0 0,1 0,1 1,0 0)))",
        "GEOMETRYCOLLECTION EMPTY",
        "POINT(0.1 123456.789)",
    };
    char sql[4096];
    size_t k = 0;
    (void)state;

    k += (size_t)snprintf(sql + k, sizeof(sql) - k, "SELECT g, ST_AsText(g) AS t FROM (");
    for (size_t i = 0; i < sizeof(wkts) / sizeof(wkts[0]); i++)
        k += (size_t)snprintf(sql + k, sizeof(sql) - k,
                              "%sSELECT %zu AS i, ST_GeomFromText('%s') AS g",
                              i ? " UNION ALL " : "", i, wkts[i]);
    snprintf(sql + k, sizeof(sql) - k, ") x ORDER BY i");
    run_small(s, sql, VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, sizeof(wkts) / sizeof(wkts[0]));
    check_type(&r, "g", "geometry", "geometry", "VARCHAR");
    check_type(&r, "t", "text", "text", "VARCHAR");
    for (size_t i = 0; i < r.n; i++) {
        duckdb_string_t *t = duckdb_vector_get_data(vec(&r, "t"));
        char want[512];
        snprintf(want, sizeof(want), "%.*s", (int)duckdb_string_t_length(t[i]),
                 duckdb_string_t_data(&t[i]));
        check_str(&r, "g", i, want);
    }
    assert_string_equal(col(&r, "g")->map.warning, "");
    result_free(s, &r);
    vz_source_close(s);
}

/* The same business data as the PostgreSQL fixture (tests/fixtures/pg.sql). */
static void test_customers_and_orders(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    int64_t sum = 0, want_cents = 0, cents = 0;
    double dsum = 0;
    (void)state;

    run_small(s, "SELECT * FROM customers ORDER BY id", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 50);
    for (size_t i = 0; i < r.n; i++)
        sum += VAL(&r, "id", int32_t, i);
    assert_int_equal(sum, 1275);
    check_str(&r, "name", 2, "Chloé Dubois");
    check_str(&r, "city", 7, "東京");
    check_null(&r, "notes", 1);
    check_null(&r, "email", 14);
    assert_int_equal(VAL(&r, "signup_date", duckdb_date, 0).days,
                     vz_myrow_days_from_civil(2021, 4, 11));
    result_free(s, &r);

    for (int g = 1; g <= 200; g++)
        want_cents += ((g * 37) % 1000) * 100 + (g % 7) * 13 + 500;
    assert_int_equal(want_cents, 10077774); /* 100777.74, as in PostgreSQL */

    run_small(s, "SELECT id, status, total, placed_at, shipped_on FROM orders ORDER BY id",
              VZ_DECIMAL_EXACT, &r);
    assert_int_equal(r.n, 200);
    check_type(&r, "total", "decimal", "decimal(10,2)", "DECIMAL(10,2)");
    for (size_t i = 0; i < r.n; i++)
        cents += VAL(&r, "total", int64_t, i);
    assert_int_equal(cents, want_cents);
    check_str(&r, "status", 0, "shipped");
    /* g = 1: 2023-01-01 + 1 day + 7 h + 13 min */
    assert_true(VAL(&r, "placed_at", duckdb_timestamp, 0).micros == ts(2023, 1, 2, 7, 13, 0, 0));
    result_free(s, &r);

    run_small(s, "SELECT total FROM orders", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 200);
    for (size_t i = 0; i < r.n; i++)
        dsum += VAL(&r, "total", double, i);
    assert_true(dsum > 100777.73 && dsum < 100777.75);
    result_free(s, &r);
    vz_source_close(s);
}

static void test_empty_result(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    (void)state;

    run_small(s, "SELECT id, name FROM customers WHERE id < 0", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.st.ncols, 2);
    assert_int_equal(r.st.nout, 2);
    assert_int_equal(r.st.rows, 0);
    result_free(s, &r);
    vz_source_close(s);
}

static void test_missing_table(void **state)
{
    struct vz_source *s = open_reader();
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_int_equal(vz_source_stream_open(s, "SELECT * FROM no_such_table_xyz", &st, &err),
                     VZ_ENOTFOUND);
    assert_null(st.priv);
    assert_null(st.cols);
    vz_source_stream_close(s, &st); /* harmless after a failed open */
    vz_stream_release(&st);
    vz_source_close(s);
}

static void test_duplicate_column_names(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    duckdb_vector v;
    (void)state;

    run_small(s, "SELECT 1, 1 AS a, 2 AS a, NULL AS n", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.st.ncols, 4);
    assert_string_equal(r.st.cols[0].name, "1");
    assert_string_equal(r.st.cols[1].name, "a");
    assert_string_equal(r.st.cols[2].name, "a");
    v = duckdb_data_chunk_get_vector(r.ch, 1);
    assert_int_equal(((int32_t *)duckdb_vector_get_data(v))[0], 1);
    v = duckdb_data_chunk_get_vector(r.ch, 2);
    assert_int_equal(((int32_t *)duckdb_vector_get_data(v))[0], 2);
    assert_true(is_null(duckdb_data_chunk_get_vector(r.ch, 3), 0));
    result_free(s, &r);
    vz_source_close(s);
}

/* No CLIENT_MULTI_STATEMENTS: the server sees one statement with a syntax
 * error, and the second half never runs. */
static void test_multi_statement_refused(void **state)
{
    struct env e = need_env();
    struct vz_source *s = open_as(&e, 1, 0);
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    struct result r;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_int_equal(vz_source_stream_open(s, "SELECT 1; SET @vz_probe = 42", &st, &err),
                     VZ_EINVAL);
    assert_non_null(strstr(err.msg, "1064"));
    assert_null(st.priv);
    run_small(s, "SELECT @vz_probe IS NULL AS p", VZ_DECIMAL_DOUBLE, &r);
    assert_int_equal(r.n, 1);
    check_i64(&r, "p", 0, 1);
    result_free(s, &r);
    vz_stream_release(&st);
    vz_source_close(s);
}

/* The session holds even without the SQL guard, for a user who may write. */
static void test_write_refused_by_session(void **state)
{
    struct env e = need_env();
    struct vz_source *s = open_as(&e, 1, 0);
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    struct result r;
    static const char *const writes[] = {
        "INSERT INTO customers (name) VALUES ('mallory')",
        "UPDATE customers SET name = 'mallory' WHERE id = 1",
        "DELETE FROM order_lines",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        memset(&st, 0, sizeof(st));
        int rc = vz_source_stream_open(s, writes[i], &st, &err);
        if (rc != VZ_ENOT_READONLY || !strstr(err.msg, "1792"))
            fail_msg("%s: %s (%s)", writes[i], err.msg, vz_err_name(rc));
        vz_stream_release(&st);
    }
    run_small(s, "SELECT COUNT(*) AS n, SUM(name = 'mallory') AS m FROM customers",
              VZ_DECIMAL_DOUBLE, &r);
    check_i64(&r, "n", 0, 50);
    assert_true(VAL(&r, "m", double, 0) == 0);
    result_free(s, &r);
    vz_source_close(s);
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#define BIG_SQL "SELECT seq, MD5(seq) AS h FROM seq_1_to_3000000"

/* Time the mariadb command-line client reading the same rows; -1 if it
 * cannot run. The password goes through the environment, not argv. */
static double reference_client_s(const struct env *e)
{
    char cmd[1024];
    int64_t t0;
    int rc;

    if (system("command -v mariadb >/dev/null 2>&1") != 0)
        return -1;
    setenv("MYSQL_PWD", e->ro_pw, 1);
    snprintf(cmd, sizeof(cmd),
             "mariadb --protocol=tcp --quick --batch --raw -h '%s' -P %d -u '%s' '%s' "
             "-e '" BIG_SQL "' > /dev/null",
             e->host, e->port, e->ro, e->db);
    t0 = vz_mono_ms();
    rc = system(cmd);
    unsetenv("MYSQL_PWD");
    return rc == 0 ? (double)(vz_mono_ms() - t0) / 1000.0 : -1;
}

static void test_three_million_rows_bounded_memory(void **state)
{
    struct env e = need_env();
    struct vz_source *s = open_as(&e, 0, 0);
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    duckdb_data_chunk ch;
    uint64_t sum = 0, rows = 0;
    size_t n;
    long rss0, rss1;
    int64_t t0, ms;
    double ref;
    (void)state;

    memset(&st, 0, sizeof(st));
    rss0 = maxrss_kb();
    t0 = vz_mono_ms();
    assert_int_equal(vz_source_stream_open(s, BIG_SQL, &st, &err), 0);
    assert_string_equal(st.cols[0].source_type, "bigint unsigned");
    assert_string_equal(st.cols[0].map.duckdb_type, "UBIGINT");
    ch = make_chunk(&st);
    for (;;) {
        duckdb_data_chunk_reset(ch);
        int rc = vz_source_stream_fill(s, &st, ch, &n, &err);
        if (rc != 0)
            fail_msg("fill after %llu rows: %s", (unsigned long long)rows, err.msg);
        if (n == 0)
            break;
        assert_true(n <= VZ_STREAM_CHUNK);
        const uint64_t *seq = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0));
        if (rows == 0) {
            duckdb_string_t *h = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 1));
            assert_int_equal(duckdb_string_t_length(h[0]), 32);
            assert_memory_equal(duckdb_string_t_data(&h[0]), "c4ca4238a0b923820dcc509a6f75849b",
                                32);
        }
        for (size_t i = 0; i < n; i++)
            sum += seq[i];
        rows += n;
    }
    ms = vz_mono_ms() - t0;
    rss1 = maxrss_kb();
    assert_true(rows == 3000000);
    assert_true(st.rows == 3000000);
    assert_true(sum == 3000000ull * 3000001ull / 2);
    assert_true(st.bytes > 3000000ull * 32);
    vz_source_stream_close(s, &st);
    vz_stream_release(&st);
    duckdb_destroy_data_chunk(&ch);

    ref = reference_client_s(&e);
    printf("    3,000,000 rows in %.2f s = %.0f rows/s; peak RSS %ld -> %ld KiB (+%ld KiB)\n",
           (double)ms / 1000.0, 3e6 / ((double)(ms ? ms : 1) / 1000.0), rss0, rss1, rss1 - rss0);
    if (ref > 0)
        printf("    reference `mariadb --quick --batch --raw`: %.2f s = %.0f rows/s; "
               "ratio ours/client = %.2f\n",
               ref, 3e6 / ref, ((double)ms / 1000.0) / ref);
    else
        printf("    reference client not available\n");
    /* Bounded: one chunk and the socket buffers, not 3M rows (~150 MB). */
    assert_true(rss1 - rss0 < 64 * 1024);
    vz_source_close(s);
}

struct canceller {
    struct vz_source *s;
    int delay_ms;
    int64_t at_ms;
    int rc;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct vz_err err = VZ_ERR_INIT;
    struct timespec d = {c->delay_ms / 1000, (long)(c->delay_ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
    c->at_ms = vz_mono_ms();
    c->rc = vz_source_cancel(c->s, &err);
    return NULL;
}

/* Read chunks until a fill fails; returns its code and the rows read. */
static int drain(struct vz_source *s, struct vz_stream *st, duckdb_data_chunk ch, uint64_t *rows,
                 struct vz_err *err)
{
    size_t n;
    int rc;
    *rows = 0;
    for (;;) {
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(s, st, ch, &n, err);
        if (rc != 0 || n == 0)
            return rc;
        *rows += n;
    }
}

static void test_cancel_mid_stream(void **state)
{
    struct vz_source *s = open_reader();
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    struct canceller c = {s, 700, 0, -99};
    struct result r;
    duckdb_data_chunk ch;
    pthread_t t;
    uint64_t rows;
    int64_t t_err, t0;
    int rc;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_int_equal(
        vz_source_stream_open(s, "SELECT seq, MD5(seq) FROM seq_1_to_1000000000", &st, &err), 0);
    ch = make_chunk(&st);
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    rc = drain(s, &st, ch, &rows, &err);
    t_err = vz_mono_ms();
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(c.rc, 0);
    if (rc != VZ_ECANCELLED)
        fail_msg("fill: %s (%s) after %llu rows", err.msg, vz_err_name(rc),
                 (unsigned long long)rows);
    assert_true(rows > 0);
    printf("    cancelled after %llu rows; fill returned %lld ms after the cancel\n",
           (unsigned long long)rows, (long long)(t_err - c.at_ms));
    assert_true(t_err - c.at_ms < 2000);
    /* a failed stream stays failed */
    {
        size_t n = 7;
        assert_true(vz_source_stream_fill(s, &st, ch, &n, &err) < 0);
        assert_int_equal(n, 0);
    }
    t0 = vz_mono_ms();
    vz_source_stream_close(s, &st);
    assert_true(vz_mono_ms() - t0 < 2000);
    vz_source_stream_close(s, &st); /* twice is harmless */
    vz_stream_release(&st);
    duckdb_destroy_data_chunk(&ch);
    /* the session is still usable */
    run_small(s, "SELECT 7 AS x", VZ_DECIMAL_DOUBLE, &r);
    check_i64(&r, "x", 0, 7);
    result_free(s, &r);
    vz_source_close(s);
}

/* Closing a stream half-way must not read the rest of a huge result. */
static void test_close_mid_stream_is_quick(void **state)
{
    struct vz_source *s = open_reader();
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    struct result r;
    duckdb_data_chunk ch;
    size_t n;
    int64_t t0;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_int_equal(
        vz_source_stream_open(s, "SELECT seq, MD5(seq) FROM seq_1_to_1000000000", &st, &err), 0);
    ch = make_chunk(&st);
    assert_int_equal(vz_source_stream_fill(s, &st, ch, &n, &err), 0);
    assert_int_equal(n, VZ_STREAM_CHUNK);
    t0 = vz_mono_ms();
    vz_source_stream_close(s, &st);
    printf("    close after one chunk of 1e9 rows: %lld ms\n", (long long)(vz_mono_ms() - t0));
    assert_true(vz_mono_ms() - t0 < 2000);
    vz_stream_release(&st);
    duckdb_destroy_data_chunk(&ch);
    run_small(s, "SELECT 8 AS x", VZ_DECIMAL_DOUBLE, &r);
    check_i64(&r, "x", 0, 8);
    result_free(s, &r);
    vz_source_close(s);
}

/* max_statement_time ends the statement; the stream fails with
 * VZ_ETIMEOUT, both before the first row and in the middle of rows. */
static void test_statement_time_limit(void **state)
{
    struct env e = need_env();
    struct vz_source *s = open_as(&e, 0, 1000);
    struct vz_stream st;
    struct vz_err err = VZ_ERR_INIT;
    duckdb_data_chunk ch;
    uint64_t rows;
    int64_t t0 = vz_mono_ms();
    int rc;
    (void)state;

    memset(&st, 0, sizeof(st));
    rc = vz_source_stream_open(s, "SELECT SLEEP(5) AS z", &st, &err);
    if (rc == 0) {
        ch = make_chunk(&st);
        rc = drain(s, &st, ch, &rows, &err);
        duckdb_destroy_data_chunk(&ch);
    }
    if (rc != VZ_ETIMEOUT)
        fail_msg("SLEEP(5) with a 1 s limit: %s (%s)", err.msg, vz_err_name(rc));
    assert_true(vz_mono_ms() - t0 < 4000);
    vz_source_stream_close(s, &st);
    vz_stream_release(&st);

    /* cut mid-stream: never a short success */
    memset(&st, 0, sizeof(st));
    t0 = vz_mono_ms();
    assert_int_equal(
        vz_source_stream_open(s, "SELECT seq, MD5(seq) FROM seq_1_to_1000000000", &st, &err), 0);
    ch = make_chunk(&st);
    rc = drain(s, &st, ch, &rows, &err);
    if (rc != VZ_ETIMEOUT)
        fail_msg("1e9 rows with a 1 s limit: %s (%s) after %llu rows", err.msg, vz_err_name(rc),
                 (unsigned long long)rows);
    printf("    statement limit cut the stream after %llu rows, %lld ms\n",
           (unsigned long long)rows, (long long)(vz_mono_ms() - t0));
    assert_true(rows > 0);
    assert_non_null(strstr(err.msg, "1969"));
    vz_source_stream_close(s, &st);
    vz_stream_release(&st);
    duckdb_destroy_data_chunk(&ch);
    vz_source_close(s);
}

/* Values MySQL itself produces that are not in the fixture. */
static void test_expressions_and_oddities(void **state)
{
    struct vz_source *s = open_reader();
    struct result r;
    (void)state;

    run_small(s,
              "SELECT CAST('2024-02-30' AS DATE) AS bad_date, TIME'-00:00:01' AS neg,"
              " CAST(1 AS DECIMAL(65,30)) AS wide, b'1' + 0 AS bitnum,"
              " CAST(b'101' AS UNSIGNED) AS u, X'C328' AS rawbin,"
              " CONVERT(X'C328' USING latin1) AS latin, 1.5 AS lit, TRUE AS t, 1 > 0 AS cmp,"
              " CAST('12:34:56.5' AS TIME(1)) AS tfrac, NOW(6) IS NOT NULL AS nn",
              VZ_DECIMAL_EXACT, &r);
    assert_int_equal(r.n, 1);
    check_null(&r, "bad_date", 0); /* CAST of an impossible date is NULL already */
    check_null(&r, "neg", 0);
    assert_non_null(strstr(col(&r, "neg")->map.warning, "outside"));
    /* precision 65 > 38: DOUBLE even in exact mode, with a warning */
    check_type(&r, "wide", "decimal", "decimal(65,30)", "DOUBLE");
    assert_true(VAL(&r, "wide", double, 0) == 1.0);
    assert_int_equal(col(&r, "rawbin")->out_index, -1);
    check_str(&r, "latin", 0, "Ã(");
    check_type(&r, "lit", "decimal", "decimal(2,1)", "DECIMAL(2,1)");
    assert_int_equal(VAL(&r, "lit", int16_t, 0), 15);
    assert_true(VAL(&r, "tfrac", duckdb_time, 0).micros ==
                (12 * 3600 + 34 * 60 + 56) * 1000000LL + 500000);
    result_free(s, &r);
    vz_source_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_myrow_integers),
        cmocka_unit_test(test_myrow_bits_floats),
        cmocka_unit_test(test_myrow_decimals),
        cmocka_unit_test(test_myrow_dates_times),
        cmocka_unit_test(test_myrow_wkt),
        cmocka_unit_test(test_all_types_every_column),
        cmocka_unit_test(test_all_types_exact_decimals),
        cmocka_unit_test(test_geometry_matches_st_astext),
        cmocka_unit_test(test_customers_and_orders),
        cmocka_unit_test(test_empty_result),
        cmocka_unit_test(test_missing_table),
        cmocka_unit_test(test_duplicate_column_names),
        cmocka_unit_test(test_multi_statement_refused),
        cmocka_unit_test(test_write_refused_by_session),
        cmocka_unit_test(test_expressions_and_oddities),
        cmocka_unit_test(test_three_million_rows_bounded_memory),
        cmocka_unit_test(test_cancel_mid_stream),
        cmocka_unit_test(test_close_mid_stream_is_quick),
        cmocka_unit_test(test_statement_time_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
