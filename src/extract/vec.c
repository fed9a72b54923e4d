/* The out-of-line vector helpers: decimals (range checks, physical width),
 * text (UTF-8 repair) and JSON string literals. */
#include "extract/vec.h"

#include <stdlib.h>
#include <string.h>

int vz_vec_decimal_dims(const char *t, int *width, int *scale)
{
    char *end;
    long w, s;

    if (!t || strncmp(t, "DECIMAL(", 8) != 0)
        return VZ_EINVAL;
    w = strtol(t + 8, &end, 10);
    if (end == t + 8 || *end != ',')
        return VZ_EINVAL;
    t = end + 1;
    s = strtol(t, &end, 10);
    if (end == t || strcmp(end, ")") != 0 || w < 1 || w > 38 || s < 0 || s > w)
        return VZ_EINVAL;
    *width = (int)w;
    *scale = (int)s;
    return 0;
}

/* 10^0 .. 10^18: the exclusive bound of a value of each width that fits
 * 64 bits. */
static const uint64_t pow10_u64[19] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull};

int vz_vec_set_decimal(duckdb_vector v, idx_t row, int width, int64_t unscaled)
{
    /* Magnitude without overflowing on INT64_MIN. */
    uint64_t mag = unscaled < 0 ? 0 - (uint64_t)unscaled : (uint64_t)unscaled;
    void *data;

    if (width < 1 || width > 38)
        return VZ_EINVAL;
    if (width <= 18 && mag >= pow10_u64[width])
        return VZ_EINVAL;
    data = duckdb_vector_get_data(v);
    /* DuckDB's physical storage for DECIMAL(width, s). */
    if (width <= 4) {
        ((int16_t *)data)[row] = (int16_t)unscaled;
    } else if (width <= 9) {
        ((int32_t *)data)[row] = (int32_t)unscaled;
    } else if (width <= 18) {
        ((int64_t *)data)[row] = unscaled;
    } else {
        duckdb_hugeint *h = (duckdb_hugeint *)data + row;
        h->lower = (uint64_t)unscaled;
        h->upper = unscaled < 0 ? -1 : 0;
    }
    return 0;
}

int vz_vec_set_decimal128(duckdb_vector v, idx_t row, int width, int64_t hi, uint64_t lo)
{
    __extension__ typedef unsigned __int128 u128;
    u128 bits = ((u128)(uint64_t)hi << 64) | lo, mag, bound = 1;
    duckdb_hugeint *h;

    if (width < 19 || width > 38)
        return VZ_EINVAL;
    mag = hi < 0 ? (u128)0 - bits : bits;
    for (int i = 0; i < width; i++)
        bound *= 10;
    if (mag >= bound)
        return VZ_EINVAL;
    h = (duckdb_hugeint *)duckdb_vector_get_data(v) + row;
    h->lower = lo;
    h->upper = hi;
    return 0;
}

/* Length of the valid UTF-8 sequence starting at s (n > 0 bytes left), or 0
 * when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0; /* continuation byte, overlong 2-byte lead, or > U+10FFFF */
    if (c < 0xe0)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        /* E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates). */
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    {
        /* F0 needs 90..BF (no overlong), F4 needs 80..8F (<= U+10FFFF). */
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
}

/* Bytes of s that are ASCII from the start, eight at a time where possible:
 * most text is, and this keeps validation off the profile. */
static size_t ascii_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

int vz_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k;

    while (i < len) {
        i += ascii_prefix(u + i, len - i);
        if (i == len)
            break;
        k = utf8_seq(u + i, len - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

#define VZ_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

int vz_utf8_repair(struct vz_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0, k;
    int rc = 0, replaced = 0;

    while (rc == 0 && i < len) {
        i += ascii_prefix(u + i, len - i);
        if (i == len)
            break;
        k = utf8_seq(u + i, len - i);
        if (k) {
            i += k;
            continue;
        }
        if (i > run)
            rc = vz_buf_add(b, s + run, i - run);
        if (rc == 0)
            rc = vz_buf_add(b, VZ_REPLACEMENT, 3);
        replaced = 1;
        run = ++i;
    }
    if (rc == 0 && len > run)
        rc = vz_buf_add(b, s + run, len - run);
    return rc < 0 ? rc : replaced;
}

int vz_vec_set_text(duckdb_vector v, idx_t row, const char *s, size_t len, struct vz_buf *scratch)
{
    int rc;

    if (vz_utf8_valid(s, len)) {
        duckdb_vector_assign_string_element_len(v, row, len ? s : "", len);
        return 0;
    }
    /* Rare: a SQL_ASCII database or a latin1 column read as UTF-8. Replace
       byte by byte, as most decoders do, rather than fail the whole run. */
    vz_buf_reset(scratch);
    rc = vz_utf8_repair(scratch, s, len);
    if (rc < 0)
        return rc;
    duckdb_vector_assign_string_element_len(v, row, vz_buf_cstr(scratch), scratch->len);
    return 1;
}

int vz_json_add_str(struct vz_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0, k;
    int rc = vz_buf_addc(b, '"');

    while (rc == 0 && i < len) {
        unsigned c = u[i];
        char esc[7];
        const char *rep = NULL;
        size_t rlen = 0;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        k = c >= 0x80 ? utf8_seq(u + i, len - i) : 1;
        if (c >= 0x80 && k) {
            i += k; /* valid multi-byte character: part of the run */
            continue;
        }
        switch (c) {
        case '"':
            rep = "\\\"", rlen = 2;
            break;
        case '\\':
            rep = "\\\\", rlen = 2;
            break;
        case '\n':
            rep = "\\n", rlen = 2;
            break;
        case '\r':
            rep = "\\r", rlen = 2;
            break;
        case '\t':
            rep = "\\t", rlen = 2;
            break;
        case '\b':
            rep = "\\b", rlen = 2;
            break;
        case '\f':
            rep = "\\f", rlen = 2;
            break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                rep = esc, rlen = 6;
            } else {
                rep = VZ_REPLACEMENT, rlen = 3; /* a byte that starts no valid sequence */
            }
        }
        if (i > run)
            rc = vz_buf_add(b, s + run, i - run);
        if (rc == 0)
            rc = vz_buf_add(b, rep, rlen);
        i++;
        run = i;
    }
    if (rc == 0 && len > run)
        rc = vz_buf_add(b, s + run, len - run);
    if (rc == 0)
        rc = vz_buf_addc(b, '"');
    return rc;
}
