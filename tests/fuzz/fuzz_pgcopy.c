/* libFuzzer target for the binary COPY decoder (sources/pgcopy.c); no server.
 *
 * One fixed stream description holds a column of every decoding a
 * PostgreSQL stream can have (every wire kind, DOUBLE and exact DECIMAL of
 * both widths, money, a skipped bytea), mapped by the real M2 rules in exact
 * decimal mode. The first input byte picks what the rest is fed to:
 *   0  one tuple, into row 0
 *   1  a header followed by a tuple (the server's first message)
 *   2  a numeric value, to double and to DECIMAL at scale data[1] % 39
 *   3  one tuple, into row data[1] * 8 (the last rows of the chunk)
 * Besides "never crash, leak or trip UBSan", results must be consistent:
 * known codes only, err->code equal to the return value, a message exactly
 * on failure, warnings valid UTF-8, DECIMAL values below 10^38. A broken
 * invariant aborts, which libFuzzer reports as a crash.
 *
 * The tuple seeds in corpus/pgcopy/ are real server rows of this layout
 * (see the query in stream_setup's column list), split per message. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract/vec.h"

#include "core/err.h"
#include "extract/stream.h"
#include "sources/pgcopy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* type_class, source_type, precision, scale: the same column list as
 *   SELECT c_boolean, c_smallint, c_integer, c_bigint, 4000000000::oid,
 *          '18000000000000000000'::xid8, c_real, c_double, c_numeric,
 *          c_numeric_10_2, c_numeric_30_20, c_money::numeric, c_date, c_time,
 *          c_timestamp, c_timestamptz, c_interval, c_uuid, c_text,
 *          c_json::text, to_json(c_int_2d), to_json(c_hstore), c_enum::text,
 *          c_timetz::text, c_bit::text, c_composite::text
 *   FROM all_types
 * with a bytea column (skipped) in the middle. */
static const struct {
    const char *cls, *src;
    int p, s;
} cols[] = {
    {"bool", "boolean", -1, -1},
    {"int16", "smallint", -1, -1},
    {"int32", "integer", -1, -1},
    {"int64", "bigint", -1, -1},
    {"uint32", "oid", -1, -1},
    {"uint64", "xid8", -1, -1},
    {"float32", "real", -1, -1},
    {"float64", "double precision", -1, -1},
    {"decimal", "numeric", -1, -1},
    {"binary", "bytea", -1, -1},
    {"decimal", "numeric(10,2)", 10, 2},
    {"decimal", "numeric(30,20)", 30, 20},
    {"text", "money", -1, -1},
    {"date", "date", -1, -1},
    {"time", "time without time zone", -1, -1},
    {"timestamp", "timestamp without time zone", -1, -1},
    {"timestamptz", "timestamp with time zone", -1, -1},
    {"interval", "interval", -1, -1},
    {"uuid", "uuid", -1, -1},
    {"text", "text", -1, -1},
    {"json", "json", -1, -1},
    {"array", "integer[]", -1, -1},
    {"hstore", "hstore", -1, -1},
    {"enum", "mood", -1, -1},
    {"timetz", "time with time zone", -1, -1},
    {"bit", "bit(4)", -1, -1},
    {"other", "address", -1, -1},
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static struct vz_stream st;
static duckdb_data_chunk chunk;

static void broken(const char *what, int rc, const struct vz_err *err)
{
    fprintf(stderr, "pgcopy invariant broken: %s (rc %d, code %d: %s)\n", what, rc, err->code,
            err->msg);
    abort();
}

static void stream_setup(void)
{
    struct vz_err err = VZ_ERR_INIT;
    duckdb_logical_type types[NCOLS];
    size_t k = 0;

    st.decimal_mode = VZ_DECIMAL_EXACT;
    st.ncols = NCOLS;
    st.cols = calloc(NCOLS, sizeof(*st.cols));
    if (!st.cols)
        abort();
    for (size_t i = 0; i < NCOLS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%zu", i + 1);
        st.cols[i].name = strdup(name);
        snprintf(st.cols[i].type_class, sizeof(st.cols[i].type_class), "%s", cols[i].cls);
        snprintf(st.cols[i].source_type, sizeof(st.cols[i].source_type), "%s", cols[i].src);
        st.cols[i].precision = cols[i].p;
        st.cols[i].scale = cols[i].s;
    }
    if (vz_stream_map_columns(&st, VZ_DB_POSTGRES, &err) < 0 || st.nout != NCOLS - 1)
        broken("stream setup", -1, &err);
    for (size_t i = 0; i < NCOLS; i++) {
        if (st.cols[i].map.skip)
            continue;
        if (vz_pgcopy_wire(&st.cols[i]) == VZ_PGW_INVALID)
            broken("a column without decoding", -1, &err);
        types[k++] = vz_stream_logical_type(&st.cols[i]);
    }
    chunk = duckdb_create_data_chunk(types, k);
    for (size_t i = 0; i < k; i++)
        duckdb_destroy_logical_type(&types[i]);
    if (!chunk)
        abort();
}

static void check_result(int rc, const struct vz_err *err, int trailer_ok)
{
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
        broken("message not terminated", rc, err);
    if (rc == 0 || (trailer_ok && rc == VZ_PGCOPY_TRAILER))
        return;
    if (rc != VZ_ESOURCE && rc != VZ_ENOMEM)
        broken("unexpected code", rc, err);
    if (err->code != rc)
        broken("return value and err->code differ", rc, err);
    if (!err->msg[0])
        broken("failure without a message", rc, err);
}

static void check_warnings(void)
{
    for (size_t i = 0; i < st.ncols; i++) {
        const char *w = st.cols[i].map.warning;
        if (!vz_utf8_valid(w, strlen(w)))
            broken("warning is not UTF-8", 0, &(struct vz_err){0, {0}});
    }
}

static void fuzz_numeric(const char *p, size_t n, int scale)
{
    __extension__ typedef unsigned __int128 u128;
    struct vz_err err = VZ_ERR_INIT;
    enum vz_pgnum_kind kind;
    int64_t hi;
    uint64_t lo;
    double d;
    int rc;

    rc = vz_pgcopy_numeric_double(p, n, &d, &err);
    check_result(rc, &err, 0);
    rc = vz_pgcopy_numeric_decimal(p, n, scale, &kind, &hi, &lo, &err);
    check_result(rc, &err, 0);
    if (rc == 0 && kind == VZ_PGNUM_FINITE) {
        u128 bits = ((u128)(uint64_t)hi << 64) | lo, mag = hi < 0 ? (u128)0 - bits : bits, b = 1;
        for (int i = 0; i < 38; i++)
            b *= 10;
        if (mag >= b)
            broken("DECIMAL value of 39 digits", rc, &err);
    }
    if (rc == 0 && kind != VZ_PGNUM_FINITE && (hi || lo))
        broken("NaN/Infinity with a value", rc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vz_err err = VZ_ERR_INIT;
    const char *p = (const char *)data + 1;
    size_t n = size ? size - 1 : 0, hl = 0;
    idx_t row = 0;
    int rc;

    if (!chunk)
        stream_setup();
    if (size < 1)
        return 0;
    duckdb_data_chunk_reset(chunk); /* frees the strings of the last input */
    switch (data[0] % 4) {
    case 1:
        rc = vz_pgcopy_decode_header(p, n, &hl, &err);
        check_result(rc, &err, 0);
        if (rc < 0)
            return 0;
        if (hl > n)
            broken("header longer than the data", rc, &err);
        p += hl;
        n -= hl;
        break;
    case 2:
        if (n < 1)
            return 0;
        fuzz_numeric(p + 1, n - 1, (uint8_t)p[0] % 39);
        return 0;
    case 3:
        if (n < 1)
            return 0;
        row = (idx_t)(uint8_t)p[0] * 8;
        p++;
        n--;
        break;
    default:
        break;
    }
    rc = vz_pgcopy_decode_tuple(p, n, &st, chunk, row, &err);
    check_result(rc, &err, 1);
    check_warnings();
    return 0;
}
