/* libFuzzer target for sources/myrow.c (MySQL text-protocol values).
 *
 * Input: byte 0 picks the kind (enum vz_myrow_kind, modulo the count),
 * bytes 1 and 2 its parameters (integer target type; DECIMAL width and
 * scale; BIT maximum), the rest is the value as the server would send it.
 * Besides "never crash, leak, read past len or trip UBSan", each result
 * must satisfy:
 *   - the code is one the kind may return, and the same input gives the
 *     same answer twice;
 *   - accepted numbers are inside the target's range and read back the
 *     same after printing (integers, decimals at their scale);
 *   - accepted dates, times and datetimes are in range and a printed date
 *     reads back as the same day;
 *   - WKT is printable ASCII; the non-WKB fallback is exactly the hex of
 *     the input; text is the input unchanged.
 * A broken invariant aborts, which libFuzzer reports as a crash. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "sources/myrow.h"

__extension__ typedef unsigned __int128 u128;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, int kind, const char *s, size_t len)
{
    fprintf(stderr, "myrow invariant broken: %s (kind %d)\n--- input (%zu bytes) ---\n", what, kind,
            len);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, "%02x", (unsigned char)s[i]);
    fprintf(stderr, "\n---\n");
    abort();
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static void setup(struct vz_myconv *c, const uint8_t *h)
{
    static const struct {
        int64_t min, max;
        uint64_t umax;
    } ranges[] = {
        {INT8_MIN, INT8_MAX, UINT8_MAX},    {INT16_MIN, INT16_MAX, UINT16_MAX},
        {INT32_MIN, INT32_MAX, UINT32_MAX}, {INT64_MIN, INT64_MAX, UINT64_MAX},
        {INT64_MIN, INT64_MAX, INT64_MAX},
    };
    unsigned r = h[1] % (sizeof(ranges) / sizeof(ranges[0]));

    memset(c, 0, sizeof(*c));
    c->kind = (enum vz_myrow_kind)(h[0] % (VZ_MYROW_WKT + 1));
    c->min = ranges[r].min;
    c->max = ranges[r].max;
    c->umax = ranges[r].umax;
    c->width = 1 + h[1] % 38;
    c->scale = h[2] % (c->width + 1);
}

/* Unscaled 128-bit value at scale -> "[-]int.frac". */
static void print_decimal(char *out, size_t n, int64_t hi, uint64_t lo, int scale)
{
    u128 v = ((u128)(uint64_t)hi << 64) | lo, mag;
    char digits[64];
    int k = 0, neg = hi < 0;
    size_t p = 0;

    mag = neg ? (u128)0 - v : v;
    do {
        digits[k++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag);
    while (k <= scale)
        digits[k++] = '0';
    if (neg)
        out[p++] = '-';
    for (int i = k - 1; i >= 0 && p + 2 < n; i--) {
        out[p++] = digits[i];
        if (i == scale && scale > 0)
            out[p++] = '.';
    }
    out[p] = '\0';
}

static void check(const struct vz_myconv *c, const char *s, size_t len, int rc,
                  const struct vz_myval *v, const struct vz_buf *text)
{
    int kind = (int)c->kind;
    char tmp[128];
    struct vz_myval v2;
    struct vz_buf b2 = VZ_BUF_INIT(0);

    if (rc == VZ_ENOMEM)
        return;
    switch (c->kind) {
    case VZ_MYROW_TEXT:
        if (rc != 0 || text->len != len || (len && memcmp(text->p, s, len) != 0))
            broken("text changed", kind, s, len);
        return;
    case VZ_MYROW_WKT:
        if (rc == 0) {
            for (size_t i = 0; i < text->len; i++)
                if (text->p[i] < 0x20 || text->p[i] > 0x7e)
                    broken("WKT not printable ASCII", kind, s, len);
            if (!text->len)
                broken("empty WKT", kind, s, len);
        } else if (rc == VZ_MYROW_NOT_WKB) {
            if (text->len != 2 * len)
                broken("hex fallback has the wrong length", kind, s, len);
            for (size_t i = 0; i < len; i++) {
                snprintf(tmp, sizeof(tmp), "%02X", (unsigned char)s[i]);
                if (memcmp(text->p + 2 * i, tmp, 2) != 0)
                    broken("hex fallback differs", kind, s, len);
            }
        } else {
            broken("unexpected code for WKT", kind, s, len);
        }
        return;
    default:
        break;
    }
    if (rc == VZ_MYROW_NOT_WKB ||
        (rc == VZ_MYROW_ZERO_DATE && c->kind != VZ_MYROW_DATE && c->kind != VZ_MYROW_DATETIME))
        broken("code for another kind", kind, s, len);
    if (rc == VZ_MYROW_TIME_RANGE && c->kind != VZ_MYROW_TIME)
        broken("time range code outside TIME", kind, s, len);
    if (rc != 0 && rc != VZ_EINVAL && rc != VZ_MYROW_ZERO_DATE && rc != VZ_MYROW_TIME_RANGE)
        broken("unexpected code", kind, s, len);
    if (rc != 0)
        return;

    switch (c->kind) {
    case VZ_MYROW_INT:
        if (v->i < c->min || v->i > c->max)
            broken("integer out of range", kind, s, len);
        snprintf(tmp, sizeof(tmp), "%" PRId64, v->i);
        if (vz_myrow_convert(c, tmp, strlen(tmp), &v2, &b2) != 0 || v2.i != v->i)
            broken("integer does not read back", kind, s, len);
        break;
    case VZ_MYROW_UINT:
    case VZ_MYROW_BIT_INT:
        if (v->u > c->umax)
            broken("unsigned out of range", kind, s, len);
        if (c->kind == VZ_MYROW_UINT) {
            snprintf(tmp, sizeof(tmp), "%" PRIu64, v->u);
            if (vz_myrow_convert(c, tmp, strlen(tmp), &v2, &b2) != 0 || v2.u != v->u)
                broken("unsigned does not read back", kind, s, len);
        }
        break;
    case VZ_MYROW_FLOAT:
        if (!isfinite(v->f))
            broken("float not finite", kind, s, len);
        break;
    case VZ_MYROW_DOUBLE:
        if (!isfinite(v->d))
            broken("double not finite", kind, s, len);
        break;
    case VZ_MYROW_DECIMAL: {
        u128 val = ((u128)(uint64_t)v->hi << 64) | v->lo, mag, bound = 1;
        mag = v->hi < 0 ? (u128)0 - val : val;
        for (int i = 0; i < c->width; i++)
            bound *= 10;
        if (mag >= bound)
            broken("decimal wider than its width", kind, s, len);
        print_decimal(tmp, sizeof(tmp), v->hi, v->lo, c->scale);
        if (vz_myrow_convert(c, tmp, strlen(tmp), &v2, &b2) != 0 || v2.hi != v->hi ||
            v2.lo != v->lo)
            broken("decimal does not read back", kind, s, len);
        break;
    }
    case VZ_MYROW_DATE: {
        int y;
        unsigned m, d;
        if (v->days < vz_myrow_days_from_civil(0, 1, 1) ||
            v->days > vz_myrow_days_from_civil(9999, 12, 31))
            broken("date out of range", kind, s, len);
        civil_from_days(v->days, &y, &m, &d);
        snprintf(tmp, sizeof(tmp), "%04d-%02u-%02u", y, m, d);
        if (vz_myrow_convert(c, tmp, strlen(tmp), &v2, &b2) != 0 || v2.days != v->days)
            broken("date does not read back", kind, s, len);
        break;
    }
    case VZ_MYROW_TIME:
        if (v->micros < 0 || v->micros > 86400LL * 1000000)
            broken("time outside a day", kind, s, len);
        break;
    case VZ_MYROW_DATETIME:
        if (v->micros < (int64_t)vz_myrow_days_from_civil(0, 1, 1) * 86400000000LL ||
            v->micros >= ((int64_t)vz_myrow_days_from_civil(9999, 12, 31) + 1) * 86400000000LL)
            broken("datetime out of range", kind, s, len);
        break;
    default:
        break;
    }
    vz_buf_release(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vz_myconv c;
    struct vz_myval v, again;
    struct vz_buf text = VZ_BUF_INIT(0), text2 = VZ_BUF_INIT(0);
    const char *s;
    size_t len;
    int rc, rc2;

    if (size < 3)
        return 0;
    setup(&c, data);
    s = (const char *)data + 3;
    len = size - 3;
    memset(&v, 0, sizeof(v));
    memset(&again, 0, sizeof(again));
    rc = vz_myrow_convert(&c, s, len, &v, &text);
    rc2 = vz_myrow_convert(&c, s, len, &again, &text2);
    if (rc != rc2 || text.len != text2.len || (text.len && memcmp(text.p, text2.p, text.len)))
        broken("not repeatable", (int)c.kind, s, len);
    check(&c, s, len, rc, &v, &text);
    vz_buf_release(&text);
    vz_buf_release(&text2);
    return 0;
}
