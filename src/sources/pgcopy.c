/* Binary COPY decoding. Every read goes through rd16/rd32/rd64 after an
 * explicit length check against what is left of the message; no struct is
 * ever laid over the input, so alignment and endianness never matter. */
#include "sources/pgcopy.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define PG_EPOCH_DAYS 10957                  /* 1970-01-01 to 2000-01-01 */
#define PG_EPOCH_US INT64_C(946684800000000) /* the same in microseconds */
#define USECS_PER_DAY INT64_C(86400000000)

/* numeric sign words (PostgreSQL's NUMERIC_POS ... NUMERIC_NINF) */
#define NUM_POS 0x0000
#define NUM_NEG 0x4000
#define NUM_NAN 0xC000
#define NUM_PINF 0xD000
#define NUM_NINF 0xF000
#define NUM_DSCALE_MAX 0x3FFF
#define NUM_BASE 10000

static const unsigned char copy_signature[11] = {'P',  'G',  'C',  'O',  'P', 'Y',
                                                 '\n', 0xff, '\r', '\n', 0};

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* ---- header ---- */

int vz_pgcopy_decode_header(const char *buf, size_t len, size_t *hdr_len, struct vz_err *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    uint32_t flags, ext;

    *hdr_len = 0;
    if (len < VZ_PGCOPY_HEADER_MIN)
        return vz_err_set(err, VZ_ESOURCE, "binary COPY header truncated (%zu bytes)", len);
    if (memcmp(p, copy_signature, sizeof(copy_signature)) != 0)
        return vz_err_set(err, VZ_ESOURCE, "binary COPY data without the PGCOPY signature");
    flags = rd32(p + 11);
    /* Bit 16 means each tuple carries an OID we never asked for; the other
     * high bits are "critical": a reader must stop on ones it does not know.
     * The low 16 bits may be ignored. */
    if (flags & 0xffff0000u)
        return vz_err_set(err, VZ_ESOURCE, "binary COPY header has unsupported flags 0x%08x",
                          (unsigned)flags);
    ext = rd32(p + 15);
    if (ext > len - VZ_PGCOPY_HEADER_MIN)
        return vz_err_set(err, VZ_ESOURCE, "binary COPY header extension runs past the data");
    *hdr_len = VZ_PGCOPY_HEADER_MIN + (size_t)ext;
    return 0;
}

/* ---- which decoding a column gets ---- */

static const struct {
    const char *duckdb;
    enum vz_pgcopy_wire wire;
} as_is_wires[] = {
    {"BOOLEAN", VZ_PGW_BOOL}, {"SMALLINT", VZ_PGW_INT2},       {"INTEGER", VZ_PGW_INT4},
    {"BIGINT", VZ_PGW_INT8},  {"UINTEGER", VZ_PGW_UINT4},      {"UBIGINT", VZ_PGW_UINT8},
    {"FLOAT", VZ_PGW_FLOAT4}, {"DOUBLE", VZ_PGW_FLOAT8},       {"DATE", VZ_PGW_DATE},
    {"TIME", VZ_PGW_TIME},    {"TIMESTAMP", VZ_PGW_TIMESTAMP}, {"INTERVAL", VZ_PGW_INTERVAL},
    {"VARCHAR", VZ_PGW_TEXT},
};

enum vz_pgcopy_wire vz_pgcopy_wire(const struct vz_stream_col *c)
{
    const char *t = c->map.duckdb_type;
    int w, s;

    if (c->map.skip)
        return VZ_PGW_SKIP;
    switch (c->map.conv) {
    case VZ_CONV_AS_IS:
        for (size_t i = 0; i < sizeof(as_is_wires) / sizeof(as_is_wires[0]); i++)
            if (strcmp(t, as_is_wires[i].duckdb) == 0)
                return as_is_wires[i].wire;
        return VZ_PGW_INVALID;
    case VZ_CONV_TO_DOUBLE:
    case VZ_CONV_MONEY_TO_DOUBLE:
        return strcmp(t, "DOUBLE") == 0 ? VZ_PGW_NUMERIC : VZ_PGW_INVALID;
    case VZ_CONV_DECIMAL:
        return vz_vec_decimal_dims(t, &w, &s) == 0 ? VZ_PGW_NUMERIC : VZ_PGW_INVALID;
    case VZ_CONV_TO_UTC:
        return strcmp(t, "TIMESTAMP WITH TIME ZONE") == 0 ? VZ_PGW_TIMESTAMP : VZ_PGW_INVALID;
    case VZ_CONV_UUID_TEXT:
        return strcmp(t, "VARCHAR") == 0 ? VZ_PGW_UUID : VZ_PGW_INVALID;
    case VZ_CONV_TIMETZ_TEXT:
    case VZ_CONV_INTERVAL_TEXT:
    case VZ_CONV_JSON_TEXT:
    case VZ_CONV_ARRAY_JSON:
    case VZ_CONV_HSTORE_JSON:
    case VZ_CONV_ENUM_TEXT:
    case VZ_CONV_SET_TEXT:
    case VZ_CONV_WKT_TEXT:
    case VZ_CONV_BIT_TEXT:
    case VZ_CONV_TEXT_FALLBACK:
        return strcmp(t, "VARCHAR") == 0 ? VZ_PGW_TEXT : VZ_PGW_INVALID;
    default:
        /* INT_TO_BOOL, BIT_TO_BOOL, BIT_INT: MySQL only. */
        return VZ_PGW_INVALID;
    }
}

/* ---- numeric ---- */

struct pgnum {
    int ndigits, weight; /* value = sum d[i] * 10000^(weight - i) */
    unsigned sign;
    const unsigned char *d; /* ndigits big-endian uint16, each 0..9999 */
};

static unsigned num_digit(const struct pgnum *n, int i)
{
    return rd16(n->d + 2 * (size_t)i);
}

static int num_parse(const char *buf, size_t len, struct pgnum *n, struct vz_err *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    unsigned dscale;

    if (len < 8)
        return vz_err_set(err, VZ_ESOURCE, "numeric value of %zu bytes", len);
    n->ndigits = (int16_t)rd16(p);
    n->weight = (int16_t)rd16(p + 2);
    n->sign = rd16(p + 4);
    dscale = rd16(p + 6);
    n->d = p + 8;
    if (n->ndigits < 0 || len - 8 != 2 * (size_t)n->ndigits)
        return vz_err_set(err, VZ_ESOURCE, "numeric value with %d digits in %zu bytes", n->ndigits,
                          len);
    if (n->sign != NUM_POS && n->sign != NUM_NEG && n->sign != NUM_NAN && n->sign != NUM_PINF &&
        n->sign != NUM_NINF)
        return vz_err_set(err, VZ_ESOURCE, "numeric value with invalid sign 0x%04x", n->sign);
    if (dscale > NUM_DSCALE_MAX)
        return vz_err_set(err, VZ_ESOURCE, "numeric value with invalid scale %u", dscale);
    for (int i = 0; i < n->ndigits; i++)
        if (num_digit(n, i) >= NUM_BASE)
            return vz_err_set(err, VZ_ESOURCE, "numeric value with invalid digit %u",
                              num_digit(n, i));
    return 0;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int vz_pgcopy_numeric_double(const char *buf, size_t len, double *out, struct vz_err *err)
{
    struct pgnum n;
    int first, last, cnt, exp10, rc;
    char stack[320], *s = stack, *w;
    size_t need;

    *out = 0;
    rc = num_parse(buf, len, &n, err);
    if (rc < 0)
        return rc;
    switch (n.sign) {
    case NUM_NAN:
        *out = (double)NAN;
        return 0;
    case NUM_PINF:
        *out = (double)INFINITY;
        return 0;
    case NUM_NINF:
        *out = -(double)INFINITY;
        return 0;
    default:
        break;
    }
    /* Only the significant base-10000 digits: the rest are zeros. */
    first = 0;
    while (first < n.ndigits && num_digit(&n, first) == 0)
        first++;
    if (first == n.ndigits)
        return 0;
    last = n.ndigits;
    while (num_digit(&n, last - 1) == 0)
        last--;
    cnt = last - first;
    exp10 = 4 * (n.weight - last + 1); /* power of ten of the last kept digit's units */

    /* Clinger's fast path: an integer below 2^53 and a power of ten up to
     * 10^22 are both exact doubles, so one IEEE multiply or divide rounds
     * correctly. It covers nearly every money-like value. */
    if (cnt <= 4) {
        uint64_t m = 0;
        for (int i = first; i < last; i++)
            m = m * NUM_BASE + num_digit(&n, i);
        if (m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
            double v =
                exp10 >= 0 ? (double)m * pow10_exact[exp10] : (double)m / pow10_exact[-exp10];
            *out = n.sign == NUM_NEG ? -v : v;
            return 0;
        }
    }

    /* Otherwise let strtod round the exact decimal text "-DDDD...e<exp>". */
    need = 1 + 4 * (size_t)cnt + 16;
    if (need > sizeof(stack)) {
        s = malloc(need);
        if (!s)
            return vz_err_set(err, VZ_ENOMEM, NULL);
    }
    w = s;
    if (n.sign == NUM_NEG)
        *w++ = '-';
    for (int i = first; i < last; i++) {
        unsigned d = num_digit(&n, i);
        w[0] = (char)('0' + d / 1000);
        w[1] = (char)('0' + d / 100 % 10);
        w[2] = (char)('0' + d / 10 % 10);
        w[3] = (char)('0' + d % 10);
        w += 4;
    }
    snprintf(w, 16, "e%d", exp10);
    /* Out of range gives +-HUGE_VAL (infinity) or 0 with ERANGE: both are
     * the nearest double, which is what the column promises. */
    *out = strtod(s, NULL);
    if (s != stack)
        free(s);
    return 0;
}

int vz_pgcopy_numeric_decimal(const char *buf, size_t len, int scale, enum vz_pgnum_kind *kind,
                              int64_t *hi, uint64_t *lo, struct vz_err *err)
{
    /* acc * 10 + 9 must not wrap; |unscaled| must stay below 10^38. */
    const u128 acc_max = (~(u128)0 - 9) / 10;
    u128 acc = 0, bound = 1, bits;
    struct pgnum n;
    int round_digit = 0, done = 0, rc;

    *kind = VZ_PGNUM_FINITE;
    *hi = 0;
    *lo = 0;
    if (scale < 0 || scale > 38)
        return vz_err_set(err, VZ_EINVAL, "DECIMAL scale %d out of range", scale);
    rc = num_parse(buf, len, &n, err);
    if (rc < 0)
        return rc;
    if (n.sign == NUM_NAN || n.sign == NUM_PINF || n.sign == NUM_NINF) {
        *kind = n.sign == NUM_NAN    ? VZ_PGNUM_NAN
                : n.sign == NUM_PINF ? VZ_PGNUM_PINF
                                     : VZ_PGNUM_NINF;
        return 0;
    }
    for (int i = 0; i < 38; i++)
        bound *= 10;

    /* Walk the decimal digits from the most significant down. pos is the
     * power of ten a digit has in the unscaled integer; positions fall by one
     * per digit, so acc = acc * 10 + digit builds it. The digit at pos -1
     * decides the rounding; anything below it cannot matter. */
    for (int i = 0; i < n.ndigits && !done; i++) {
        unsigned d = num_digit(&n, i);
        static const unsigned p10[4] = {1, 10, 100, 1000};
        for (int k = 3; k >= 0; k--) {
            long pos = 4L * (n.weight - i) + k + scale;
            unsigned dec = d / p10[k] % 10;
            if (pos >= 0) {
                if (acc > acc_max)
                    goto overflow;
                acc = acc * 10 + dec;
            } else {
                if (pos == -1)
                    round_digit = (int)dec;
                done = 1;
                break;
            }
        }
    }
    if (!done && n.ndigits > 0) {
        /* The digits stop above the units of the unscaled integer: the rest
         * are zeros. */
        long pos = 4L * (n.weight - n.ndigits + 1) + scale;
        for (long z = 0; z < pos && acc != 0; z++) {
            if (acc > acc_max)
                goto overflow;
            acc *= 10;
        }
    }
    if (round_digit >= 5)
        acc += 1;
    if (acc >= bound)
        goto overflow;
    bits = n.sign == NUM_NEG ? (u128)0 - acc : acc;
    *hi = (int64_t)(uint64_t)(bits >> 64);
    *lo = (uint64_t)bits;
    return 0;
overflow:
    return vz_err_set(err, VZ_ESOURCE, "numeric value has more than 38 digits at scale %d", scale);
}

/* ---- other values ---- */

void vz_pgcopy_uuid_text(const unsigned char b[16], char out[36])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
}

/* Record on the column (once) that some values became NULL. The name is cut
 * at a character boundary: warnings end up in JSON, which must be UTF-8. */
static void col_warn(struct vz_stream_col *c, const char *what)
{
    char name[101];
    size_t n = 0;

    if (c->map.warning[0])
        return;
    if (c->name) {
        n = strlen(c->name);
        if (n > sizeof(name) - 1) {
            n = sizeof(name) - 1;
            while (n > 0 && ((unsigned char)c->name[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(name, c->name, n);
    }
    name[n] = '\0';
    snprintf(c->map.warning, sizeof(c->map.warning), "column %s (%s): %s", n ? name : "?",
             c->source_type[0] ? c->source_type : c->type_class, what);
}

static int bad_size(int colno, const char *what, size_t got, struct vz_err *err)
{
    return vz_err_set(err, VZ_ESOURCE, "COPY data, column %d: %s value of %zu bytes", colno, what,
                      got);
}

static int put_numeric(struct vz_stream_col *c, int colno, const char *p, size_t n, duckdb_vector v,
                       idx_t row, struct vz_err *err)
{
    enum vz_pgnum_kind kind;
    int64_t hi;
    uint64_t lo;
    int width, scale, rc;

    if (vz_vec_decimal_dims(c->map.duckdb_type, &width, &scale) < 0) {
        double d;
        rc = vz_pgcopy_numeric_double(p, n, &d, err);
        if (rc < 0)
            return rc;
        vz_vec_set_f64(v, row, d);
        return 0;
    }
    rc = vz_pgcopy_numeric_decimal(p, n, scale, &kind, &hi, &lo, err);
    if (rc < 0)
        return rc;
    if (kind != VZ_PGNUM_FINITE) {
        /* DECIMAL has no NaN or infinity; the DOUBLE mapping keeps them. */
        vz_vec_set_null(v, row);
        c->nulled++;
        col_warn(c, "NaN and Infinity cannot be stored as DECIMAL and were extracted as NULL "
                    "(the default DOUBLE mapping keeps them)");
        return 0;
    }
    if (width > 18)
        rc = vz_vec_set_decimal128(v, row, width, hi, lo);
    else if ((hi == 0 && lo <= (uint64_t)INT64_MAX) || (hi == -1 && lo > (uint64_t)INT64_MAX))
        rc = vz_vec_set_decimal(v, row, width, (int64_t)lo);
    else
        rc = VZ_EINVAL;
    if (rc < 0)
        return vz_err_set(err, VZ_ESOURCE, "COPY data, column %d: value does not fit %s", colno,
                          c->map.duckdb_type);
    return 0;
}

/* 'infinity' has no meaning for most Parquet readers (DuckDB's own
 * infinities read back as huge dates elsewhere), so M2 turns it into NULL
 * and says so on the dataset, with a count. */
static void put_timestamp(struct vz_stream_col *c, int64_t t, duckdb_vector v, idx_t row)
{
    if (t == INT64_MAX || t == INT64_MIN) {
        vz_vec_set_null(v, row);
        c->nulled++;
        col_warn(c, "'infinity' and '-infinity' were extracted as NULL");
        return;
    } else if (t > INT64_MAX - 1 - PG_EPOCH_US) {
        /* PostgreSQL goes to 294276 AD, DuckDB only to 294247 AD. */
        vz_vec_set_null(v, row);
        c->nulled++;
        col_warn(c, "timestamps after 294247 AD are beyond DuckDB's range and were "
                    "extracted as NULL");
        return;
    } else {
        t += PG_EPOCH_US;
    }
    /* Same physical layout for both; the vector's logical type decides. */
    vz_vec_set_timestamp(v, row, t);
}

static void put_date(struct vz_stream_col *c, int32_t d, duckdb_vector v, idx_t row)
{
    if (d == INT32_MAX || d == INT32_MIN) {
        vz_vec_set_null(v, row);
        c->nulled++;
        col_warn(c, "'infinity' and '-infinity' were extracted as NULL");
        return;
    } else if (d > INT32_MAX - 1 - PG_EPOCH_DAYS) {
        vz_vec_set_null(v, row);
        c->nulled++;
        col_warn(c, "dates beyond DuckDB's range were extracted as NULL");
        return;
    } else {
        d += PG_EPOCH_DAYS;
    }
    vz_vec_set_date(v, row, d);
}

/* One non-NULL field of n bytes at p. */
static int put_value(struct vz_stream_col *c, enum vz_pgcopy_wire wire, int colno,
                     const unsigned char *p, size_t n, duckdb_vector v, idx_t row,
                     struct vz_buf *scratch, struct vz_err *err)
{
    union {
        uint32_t u;
        float f;
    } f4;
    union {
        uint64_t u;
        double f;
    } f8;
    char uuid[36];
    int64_t t;
    int rc;

    switch (wire) {
    case VZ_PGW_BOOL:
        if (n != 1)
            return bad_size(colno, "boolean", n, err);
        vz_vec_set_bool(v, row, p[0] != 0);
        return 0;
    case VZ_PGW_INT2:
        if (n != 2)
            return bad_size(colno, "smallint", n, err);
        vz_vec_set_i16(v, row, (int16_t)rd16(p));
        return 0;
    case VZ_PGW_INT4:
        if (n != 4)
            return bad_size(colno, "integer", n, err);
        vz_vec_set_i32(v, row, (int32_t)rd32(p));
        return 0;
    case VZ_PGW_INT8:
        if (n != 8)
            return bad_size(colno, "bigint", n, err);
        vz_vec_set_i64(v, row, (int64_t)rd64(p));
        return 0;
    case VZ_PGW_UINT4:
        if (n != 4)
            return bad_size(colno, "32-bit unsigned", n, err);
        vz_vec_set_u32(v, row, rd32(p));
        return 0;
    case VZ_PGW_UINT8:
        if (n != 8)
            return bad_size(colno, "64-bit unsigned", n, err);
        vz_vec_set_u64(v, row, rd64(p));
        return 0;
    case VZ_PGW_FLOAT4:
        if (n != 4)
            return bad_size(colno, "real", n, err);
        f4.u = rd32(p);
        vz_vec_set_f32(v, row, f4.f);
        return 0;
    case VZ_PGW_FLOAT8:
        if (n != 8)
            return bad_size(colno, "double precision", n, err);
        f8.u = rd64(p);
        vz_vec_set_f64(v, row, f8.f);
        return 0;
    case VZ_PGW_NUMERIC:
        return put_numeric(c, colno, (const char *)p, n, v, row, err);
    case VZ_PGW_DATE:
        if (n != 4)
            return bad_size(colno, "date", n, err);
        put_date(c, (int32_t)rd32(p), v, row);
        return 0;
    case VZ_PGW_TIME:
        if (n != 8)
            return bad_size(colno, "time", n, err);
        t = (int64_t)rd64(p);
        if (t < 0 || t > USECS_PER_DAY)
            return vz_err_set(err, VZ_ESOURCE, "COPY data, column %d: time of day out of range",
                              colno);
        vz_vec_set_time(v, row, t);
        return 0;
    case VZ_PGW_TIMESTAMP:
        if (n != 8)
            return bad_size(colno, "timestamp", n, err);
        put_timestamp(c, (int64_t)rd64(p), v, row);
        return 0;
    case VZ_PGW_INTERVAL:
        if (n != 16)
            return bad_size(colno, "interval", n, err);
        vz_vec_set_interval(v, row, (int32_t)rd32(p + 12), (int32_t)rd32(p + 8), (int64_t)rd64(p));
        return 0;
    case VZ_PGW_UUID:
        if (n != 16)
            return bad_size(colno, "uuid", n, err);
        vz_pgcopy_uuid_text(p, uuid);
        rc = vz_vec_set_text(v, row, uuid, sizeof(uuid), scratch);
        break;
    case VZ_PGW_TEXT:
        rc = vz_vec_set_text(v, row, (const char *)p, n, scratch);
        break;
    default:
        return vz_err_set(err, VZ_EINVAL, "column %d (%s → %s) has no PostgreSQL decoding", colno,
                          c->type_class, c->map.duckdb_type);
    }
    if (rc < 0)
        return vz_err_set(err, rc, "COPY data, column %d: cannot store %zu bytes of text", colno,
                          n);
    return 0;
}

/* ---- tuples ---- */

int vz_pgcopy_decode_tuple(const char *buf, size_t len, struct vz_stream *st,
                           duckdb_data_chunk chunk, idx_t row, struct vz_err *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    struct vz_buf scratch = VZ_BUF_INIT(0);
    size_t off = 2;
    int nfields, rc = 0;

    if (len < 2)
        return vz_err_set(err, VZ_ESOURCE, "COPY data: tuple of %zu bytes", len);
    nfields = (int16_t)rd16(p);
    if (nfields == -1) {
        if (len != 2)
            return vz_err_set(err, VZ_ESOURCE, "COPY data: %zu bytes after the end marker",
                              len - 2);
        return VZ_PGCOPY_TRAILER;
    }
    if (nfields < 0 || (size_t)nfields != st->nout)
        return vz_err_set(err, VZ_ESOURCE, "COPY data: tuple has %d fields, expected %zu", nfields,
                          st->nout);
    if (row >= VZ_STREAM_CHUNK)
        return vz_err_set(err, VZ_EINVAL, "row %llu is past the chunk", (unsigned long long)row);

    for (size_t i = 0; i < st->ncols; i++) {
        struct vz_stream_col *c = &st->cols[i];
        enum vz_pgcopy_wire wire;
        int colno = (int)i + 1;
        duckdb_vector v;
        int32_t flen;

        /* The wire decoding depends only on the column: found once (string
         * compares), then reused for every row. */
        if (!c->pg_wire_plus1)
            c->pg_wire_plus1 = (int)vz_pgcopy_wire(c) + 1;
        wire = (enum vz_pgcopy_wire)(c->pg_wire_plus1 - 1);
        if (wire == VZ_PGW_SKIP)
            continue;
        if (wire == VZ_PGW_INVALID || c->out_index < 0 || (size_t)c->out_index >= st->nout) {
            rc = vz_err_set(err, VZ_EINVAL, "column %d (%s → %s) has no PostgreSQL decoding", colno,
                            c->type_class, c->map.duckdb_type);
            goto out;
        }
        if (len - off < 4) {
            rc = vz_err_set(err, VZ_ESOURCE, "COPY data: tuple ends before column %d", colno);
            goto out;
        }
        flen = (int32_t)rd32(p + off);
        off += 4;
        v = duckdb_data_chunk_get_vector(chunk, (idx_t)c->out_index);
        if (flen == -1) {
            vz_vec_set_null(v, row);
            continue;
        }
        if (flen < 0 || (size_t)flen > len - off) {
            rc = vz_err_set(err, VZ_ESOURCE, "COPY data, column %d: length %ld with %zu bytes left",
                            colno, (long)flen, len - off);
            goto out;
        }
        rc = put_value(c, wire, colno, p + off, (size_t)flen, v, row, &scratch, err);
        if (rc < 0)
            goto out;
        off += (size_t)flen;
    }
    if (off != len)
        rc = vz_err_set(err, VZ_ESOURCE, "COPY data: %zu bytes after the last field", len - off);
out:
    vz_buf_release(&scratch);
    return rc;
}
