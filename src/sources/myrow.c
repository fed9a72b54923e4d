/* MySQL text-protocol values: strict parsers for what the server prints.
 *
 * Strict on purpose: the server's output has one spelling per value, so
 * anything else (spaces, "0x..", "inf", a stray byte) means we misread the
 * column's type, and failing loudly beats storing a wrong number. The two
 * tolerated oddities are MySQL's own: zero/impossible dates and TIME values
 * that are durations rather than times of day. */
#include "sources/myrow.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define MICROS_PER_DAY (86400LL * 1000000LL)
#define WKB_MAX_DEPTH 32 /* nested GEOMETRYCOLLECTIONs; real data nests one or two */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- integers ---- */

/* One or more ASCII digits, nothing else, value <= UINT64_MAX. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0)
        return VZ_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (!is_digit(s[i]))
            return VZ_EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return VZ_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    int neg = len > 0 && s[0] == '-';
    uint64_t mag;
    int64_t v;

    if (parse_u64(s + neg, len - (size_t)neg, &mag) < 0)
        return VZ_EINVAL;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return VZ_EINVAL;
        /* -(INT64_MAX + 1) cannot be written as a negated int64_t. */
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return VZ_EINVAL;
        v = (int64_t)mag;
    }
    if (v < min || v > max)
        return VZ_EINVAL;
    *out = v;
    return 0;
}

/* BIT(n) arrives as ceil(n/8) raw bytes, most significant first. */
static int parse_bits(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len > 8)
        return VZ_EINVAL;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | (unsigned char)s[i];
    *out = v;
    return 0;
}

/* ---- floating point ---- */

/* [+-]digits[.digits][e[+-]digits] with at least one mantissa digit: what
 * MySQL prints for FLOAT, DOUBLE and DECIMAL. strtod alone would also take
 * leading blanks, hex, "inf" and "nan". */
static int float_syntax_ok(const char *s, size_t len)
{
    size_t i = 0, digits = 0, e0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len && is_digit(s[i]); i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit(s[i]); i++)
            digits++;
    if (!digits)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        for (e0 = i; i < len && is_digit(s[i]); i++)
            ;
        if (i == e0)
            return 0;
    }
    return i == len;
}

/* strtod/strtof need a terminated string; values are short, except
 * DECIMAL(65,30) read as DOUBLE, which goes through text. */
static int parse_float(const char *s, size_t len, int single, struct vz_myval *out,
                       struct vz_buf *text)
{
    char small[64];
    const char *z;
    char *end;

    if (!float_syntax_ok(s, len))
        return VZ_EINVAL;
    if (len < sizeof(small)) {
        memcpy(small, s, len);
        small[len] = '\0';
        z = small;
    } else {
        int rc;
        vz_buf_reset(text);
        rc = vz_buf_add(text, s, len);
        if (rc < 0)
            return rc;
        z = vz_buf_cstr(text);
    }
    errno = 0;
    if (single) {
        out->f = strtof(z, &end);
        /* ERANGE with a tiny result is underflow (kept); with inf, overflow. */
        if (errno == ERANGE && isinf(out->f))
            return VZ_EINVAL;
    } else {
        out->d = strtod(z, &end);
        if (errno == ERANGE && isinf(out->d))
            return VZ_EINVAL;
    }
    return *end == '\0' ? 0 : VZ_EINVAL;
}

/* ---- exact decimals ---- */

/* Append digit d to v, counting significant digits against width. Leading
 * zeros are free, so "0.05" in DECIMAL(3,2) uses one digit. With at most 38
 * digits v stays below 10^38 < 2^127: no overflow. */
static int push_digit(u128 *v, int *sig, int width, unsigned d)
{
    if (*v == 0 && d == 0)
        return 0;
    if (++*sig > width)
        return VZ_EINVAL;
    *v = *v * 10 + d;
    return 0;
}

static int parse_decimal(const char *s, size_t len, int width, int scale, struct vz_myval *out)
{
    size_t i = 0;
    int neg = 0, any = 0, sig = 0, frac = 0;
    u128 v = 0;

    if (width < 1 || width > 38 || scale < 0 || scale > width)
        return VZ_EINVAL;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < len && is_digit(s[i]); i++) {
        any = 1;
        if (push_digit(&v, &sig, width, (unsigned)(s[i] - '0')) < 0)
            return VZ_EINVAL;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++) {
            any = 1;
            /* More fraction digits than the scale: only zeros may go. */
            if (frac == scale) {
                if (s[i] != '0')
                    return VZ_EINVAL;
                continue;
            }
            frac++;
            if (push_digit(&v, &sig, width, (unsigned)(s[i] - '0')) < 0)
                return VZ_EINVAL;
        }
    }
    if (!any || i != len)
        return VZ_EINVAL;
    for (; frac < scale; frac++)
        if (push_digit(&v, &sig, width, 0) < 0)
            return VZ_EINVAL;
    if (neg)
        v = (u128)0 - v;
    out->hi = (int64_t)(uint64_t)(v >> 64);
    out->lo = (uint64_t)v;
    return 0;
}

/* ---- dates and times ---- */

int32_t vz_myrow_days_from_civil(int y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil: years start in March, so the leap
     * day is the last day of the year; eras of 400 years repeat. */
    int era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

static int digits_at(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* "YYYY-MM-DD" (exactly 10 bytes at s). 0, VZ_MYROW_ZERO_DATE or VZ_EINVAL. */
static int parse_ymd(const char *s, int32_t *days)
{
    unsigned y, m, d;

    if (digits_at(s, 4, &y) < 0 || s[4] != '-' || digits_at(s + 5, 2, &m) < 0 || s[7] != '-' ||
        digits_at(s + 8, 2, &d) < 0)
        return VZ_EINVAL;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return VZ_MYROW_ZERO_DATE;
    *days = vz_myrow_days_from_civil((int)y, m, d);
    return 0;
}

/* ".f" .. ".ffffff" (or nothing) at s: microseconds. */
static int parse_fraction(const char *s, size_t len, int64_t *micros)
{
    int64_t v = 0;
    size_t i;

    *micros = 0;
    if (len == 0)
        return 0;
    if (s[0] != '.' || len < 2 || len > 7)
        return VZ_EINVAL;
    for (i = 1; i < len; i++) {
        if (!is_digit(s[i]))
            return VZ_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    for (; i < 7; i++)
        v *= 10;
    *micros = v;
    return 0;
}

/* "MM:SS[.ffffff]" at s: minutes and seconds 0..59. */
static int parse_mmss(const char *s, size_t len, int64_t *micros)
{
    unsigned mi, se;
    int64_t f;

    if (len < 5 || digits_at(s, 2, &mi) < 0 || s[2] != ':' || digits_at(s + 3, 2, &se) < 0 ||
        mi > 59 || se > 59 || parse_fraction(s + 5, len - 5, &f) < 0)
        return VZ_EINVAL;
    *micros = ((int64_t)mi * 60 + se) * 1000000 + f;
    return 0;
}

static int parse_date(const char *s, size_t len, struct vz_myval *out)
{
    if (len != 10)
        return VZ_EINVAL;
    return parse_ymd(s, &out->days);
}

/* A DATETIME's time of day must be one; a zero date makes the whole value
 * zero, whatever its time part. */
static int parse_datetime(const char *s, size_t len, struct vz_myval *out)
{
    int32_t days = 0;
    unsigned h;
    int64_t rest;
    int rc;

    if (len < 19 || s[10] != ' ' || digits_at(s + 11, 2, &h) < 0 || s[13] != ':' || h > 23 ||
        parse_mmss(s + 14, len - 14, &rest) < 0)
        return VZ_EINVAL;
    rc = parse_ymd(s, &days);
    if (rc != 0)
        return rc;
    out->micros = (int64_t)days * MICROS_PER_DAY + (int64_t)h * 3600000000LL + rest;
    return 0;
}

/* MySQL TIME is a signed duration up to 838:59:59.999999; DuckDB's TIME is a
 * time of day, 00:00:00..24:00:00. Outside that the value has no faithful
 * TIME form: VZ_MYROW_TIME_RANGE. */
static int parse_time(const char *s, size_t len, struct vz_myval *out)
{
    size_t i = 0, h0;
    int neg = 0;
    int64_t hours = 0, rest;

    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (h0 = i; i < len && is_digit(s[i]); i++) {
        if (i - h0 >= 9) /* far beyond any TIME; keeps the arithmetic small */
            return VZ_EINVAL;
        hours = hours * 10 + (s[i] - '0');
    }
    if (i == h0 || i >= len || s[i] != ':' || parse_mmss(s + i + 1, len - i - 1, &rest) < 0)
        return VZ_EINVAL;
    out->micros = hours * 3600000000LL + rest;
    if ((neg && out->micros != 0) || out->micros > MICROS_PER_DAY)
        return VZ_MYROW_TIME_RANGE;
    return 0;
}

/* ---- geometry ---- */

struct wkb {
    const unsigned char *p;
    size_t len, pos;
};

static int wkb_u8(struct wkb *r, unsigned *out)
{
    if (r->pos >= r->len)
        return VZ_EINVAL;
    *out = r->p[r->pos++];
    return 0;
}

static int wkb_u32(struct wkb *r, int le, uint32_t *out)
{
    const unsigned char *b = r->p + r->pos;
    if (r->len - r->pos < 4)
        return VZ_EINVAL;
    *out = le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
              : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
    r->pos += 4;
    return 0;
}

static int wkb_f64(struct wkb *r, int le, double *out)
{
    uint64_t bits = 0;
    if (r->len - r->pos < 8)
        return VZ_EINVAL;
    for (int i = 0; i < 8; i++) {
        unsigned shift = (unsigned)(le ? i : 7 - i) * 8;
        bits |= (uint64_t)r->p[r->pos + (size_t)i] << shift;
    }
    r->pos += 8;
    memcpy(out, &bits, sizeof(*out));
    return 0;
}

/* The shortest of %.15g/%.16g/%.17g that reads back as the same double:
 * "1.5", "0.1", not "0.10000000000000001". */
static int add_coord(struct vz_buf *b, double x)
{
    char tmp[40];

    if (x == 0)
        return vz_buf_addc(b, '0'); /* also -0 */
    if (!isfinite(x))
        return vz_buf_adds(b, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
        if (prec == 17 || strtod(tmp, NULL) == x)
            break;
    }
    return vz_buf_adds(b, tmp);
}

static int add_point(struct wkb *r, int le, struct vz_buf *b)
{
    double x, y;
    int rc;

    if (wkb_f64(r, le, &x) < 0 || wkb_f64(r, le, &y) < 0)
        return VZ_EINVAL;
    rc = add_coord(b, x);
    if (rc == 0)
        rc = vz_buf_addc(b, ' ');
    if (rc == 0)
        rc = add_coord(b, y);
    return rc;
}

/* "(x y,x y,...)" of a count-prefixed point list, or the text empty. */
static int add_point_list(struct wkb *r, int le, struct vz_buf *b, const char *empty)
{
    uint32_t n;
    int rc;

    if (wkb_u32(r, le, &n) < 0 || n > (r->len - r->pos) / 16)
        return VZ_EINVAL;
    if (n == 0)
        return vz_buf_adds(b, empty);
    rc = vz_buf_addc(b, '(');
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (i)
            rc = vz_buf_addc(b, ',');
        if (rc == 0)
            rc = add_point(r, le, b);
    }
    return rc == 0 ? vz_buf_addc(b, ')') : rc;
}

static int add_polygon_body(struct wkb *r, int le, struct vz_buf *b, const char *empty)
{
    uint32_t n;
    int rc;

    if (wkb_u32(r, le, &n) < 0 || n > (r->len - r->pos) / 4)
        return VZ_EINVAL;
    if (n == 0)
        return vz_buf_adds(b, empty);
    rc = vz_buf_addc(b, '(');
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (i)
            rc = vz_buf_addc(b, ',');
        if (rc == 0)
            rc = add_point_list(r, le, b, "EMPTY");
    }
    return rc == 0 ? vz_buf_addc(b, ')') : rc;
}

static const char *const wkb_names[8] = {
    NULL,         "POINT",           "LINESTRING",   "POLYGON",
    "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"};

/* One WKB geometry at r as WKT. want: the type a MULTI* member must have (0:
 * any). Members of MULTI* are written without their type name, as WKT
 * spells them: MULTIPOINT(1 1,2 2), MULTILINESTRING((0 0,1 1),(2 2,3 3)). */
static int add_geometry(struct wkb *r, struct vz_buf *b, uint32_t want, int depth)
{
    unsigned order;
    uint32_t type, n;
    int le, rc, named = want == 0;
    /* "LINESTRING EMPTY" when named, a bare "EMPTY" as a member. */
    const char *empty = named ? " EMPTY" : "EMPTY";

    if (depth > WKB_MAX_DEPTH || wkb_u8(r, &order) < 0 || order > 1)
        return VZ_EINVAL;
    le = order == 1;
    if (wkb_u32(r, le, &type) < 0 || type < 1 || type > 7 || (want && type != want))
        return VZ_EINVAL;
    if (named) {
        rc = vz_buf_adds(b, wkb_names[type]);
        if (rc < 0)
            return rc;
    }
    switch (type) {
    case 1:
        if (!named)
            return add_point(r, le, b);
        rc = vz_buf_addc(b, '(');
        if (rc == 0)
            rc = add_point(r, le, b);
        return rc == 0 ? vz_buf_addc(b, ')') : rc;
    case 2:
        return add_point_list(r, le, b, empty);
    case 3:
        return add_polygon_body(r, le, b, empty);
    default:
        /* Each member needs at least its 5-byte header. */
        if (wkb_u32(r, le, &n) < 0 || n > (r->len - r->pos) / 5)
            return VZ_EINVAL;
        if (n == 0)
            return vz_buf_adds(b, empty);
        rc = vz_buf_addc(b, '(');
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            if (i)
                rc = vz_buf_addc(b, ',');
            if (rc == 0)
                rc = add_geometry(r, b, type == 7 ? 0 : type - 3, depth + 1);
        }
        return rc == 0 ? vz_buf_addc(b, ')') : rc;
    }
}

static int add_hex(struct vz_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char tmp[256];
    size_t k = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < len; i++) {
        tmp[k++] = hex[(unsigned char)s[i] >> 4];
        tmp[k++] = hex[(unsigned char)s[i] & 15];
        if (k == sizeof(tmp)) {
            rc = vz_buf_add(b, tmp, k);
            k = 0;
        }
    }
    return rc == 0 && k ? vz_buf_add(b, tmp, k) : rc;
}

/* MySQL's internal geometry format: a little-endian 4-byte SRID, then one
 * WKB geometry and nothing after it. */
static int parse_wkt(const char *s, size_t len, struct vz_buf *text)
{
    struct wkb r = {(const unsigned char *)s, len, 4};
    int rc = VZ_EINVAL;

    if (len >= 4 + 5)
        rc = add_geometry(&r, text, 0, 0);
    if (rc == 0 && r.pos == len)
        return 0;
    if (rc == VZ_ENOMEM || rc == VZ_ETOOBIG)
        return rc;
    vz_buf_reset(text);
    rc = add_hex(text, s, len);
    return rc < 0 ? rc : VZ_MYROW_NOT_WKB;
}

/* ---- dispatch ---- */

int vz_myrow_convert(const struct vz_myconv *c, const char *s, size_t len, struct vz_myval *out,
                     struct vz_buf *text)
{
    uint64_t u;
    int rc;

    switch (c->kind) {
    case VZ_MYROW_TEXT:
        vz_buf_reset(text);
        return vz_buf_add(text, s, len);
    case VZ_MYROW_BOOL:
        /* Any TINYINT value: BOOLEAN columns hold -128..127 like any other. */
        rc = parse_i64(s, len, INT64_MIN, INT64_MAX, &out->i);
        out->b = rc == 0 && out->i != 0;
        return rc;
    case VZ_MYROW_BIT_BOOL:
        rc = parse_bits(s, len, &u);
        out->b = rc == 0 && u != 0;
        return rc;
    case VZ_MYROW_BIT_INT:
        rc = parse_bits(s, len, &u);
        if (rc < 0 || u > c->umax)
            return VZ_EINVAL;
        out->u = u;
        return 0;
    case VZ_MYROW_INT:
        return parse_i64(s, len, c->min, c->max, &out->i);
    case VZ_MYROW_UINT:
        rc = parse_u64(s, len, &u);
        if (rc < 0 || u > c->umax)
            return VZ_EINVAL;
        out->u = u;
        return 0;
    case VZ_MYROW_FLOAT:
        return parse_float(s, len, 1, out, text);
    case VZ_MYROW_DOUBLE:
        return parse_float(s, len, 0, out, text);
    case VZ_MYROW_DECIMAL:
        return parse_decimal(s, len, c->width, c->scale, out);
    case VZ_MYROW_DATE:
        return parse_date(s, len, out);
    case VZ_MYROW_TIME:
        return parse_time(s, len, out);
    case VZ_MYROW_DATETIME:
        return parse_datetime(s, len, out);
    case VZ_MYROW_WKT:
        vz_buf_reset(text);
        return parse_wkt(s, len, text);
    }
    return VZ_EINVAL;
}
