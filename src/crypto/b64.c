#include "crypto/b64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Mask arithmetic instead of a lookup table: a table indexed by a key byte
 * leaks that byte through the cache, and Fernet keys are decoded here. The
 * inputs are below 256, so a subtraction that goes negative sets bit 31. */

/* 1 when lo <= c <= hi, else 0. */
static uint32_t in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
    return (((c - lo) | (hi - c)) >> 31) ^ 1u;
}

static uint32_t mask_if(uint32_t bit)
{
    return 0u - bit;
}

/* The two characters after the 62 letters and digits. */
static uint32_t sym62(enum vz_b64_alphabet a)
{
    return a == VZ_B64_URL ? '-' : '+';
}

static uint32_t sym63(enum vz_b64_alphabet a)
{
    return a == VZ_B64_URL ? '_' : '/';
}

/* 6-bit value -> character. */
static char enc_char(enum vz_b64_alphabet a, uint32_t v)
{
    uint32_t c = v + 'A';                                        /* 0..25  -> A..Z */
    c += 6u & mask_if(in_range(v, 26, 63));                      /* 26..51 -> a..z */
    c -= 75u & mask_if(in_range(v, 52, 63));                     /* 52..61 -> 0..9 */
    c += (sym62(a) - (62u - 4u)) & mask_if(in_range(v, 62, 62)); /* 62 */
    c += (sym63(a) - (63u - 4u)) & mask_if(in_range(v, 63, 63)); /* 63 */
    return (char)c;
}

/* Character -> 6-bit value, or -1 when it is not in the alphabet. */
static int dec_char(enum vz_b64_alphabet a, unsigned char ch)
{
    uint32_t c = ch, v = 0, ok = 0, m;

    m = in_range(c, 'A', 'Z');
    v |= (c - 'A') & mask_if(m);
    ok |= m;
    m = in_range(c, 'a', 'z');
    v |= (c - 'a' + 26u) & mask_if(m);
    ok |= m;
    m = in_range(c, '0', '9');
    v |= (c - '0' + 52u) & mask_if(m);
    ok |= m;
    m = in_range(c, sym62(a), sym62(a));
    v |= 62u & mask_if(m);
    ok |= m;
    m = in_range(c, sym63(a), sym63(a));
    v |= 63u & mask_if(m);
    ok |= m;
    return (int)v | -(int)(ok ^ 1u);
}

size_t vz_b64_encoded_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return SIZE_MAX;
    return groups * 4;
}

size_t vz_b64_decoded_max(size_t n)
{
    return n / 4 * 3;
}

size_t vz_b64_encode_to(enum vz_b64_alphabet a, const void *src, size_t n, char *dst)
{
    const unsigned char *s = src;
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        dst[o++] = enc_char(a, w >> 18);
        dst[o++] = enc_char(a, (w >> 12) & 63u);
        dst[o++] = enc_char(a, (w >> 6) & 63u);
        dst[o++] = enc_char(a, w & 63u);
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)s[i] << 16;
        dst[o++] = enc_char(a, w >> 18);
        dst[o++] = enc_char(a, (w >> 12) & 63u);
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        dst[o++] = enc_char(a, w >> 18);
        dst[o++] = enc_char(a, (w >> 12) & 63u);
        dst[o++] = enc_char(a, (w >> 6) & 63u);
        dst[o++] = '=';
    }
    dst[o] = '\0';
    return o;
}

int vz_b64_encode(enum vz_b64_alphabet a, const void *src, size_t n, struct vz_buf *out)
{
    size_t len = vz_b64_encoded_len(n);
    char *tmp;
    int rc;

    if (len == SIZE_MAX)
        return VZ_ETOOBIG;
    tmp = malloc(len + 1);
    if (!tmp)
        return VZ_ENOMEM;
    vz_b64_encode_to(a, src, n, tmp);
    rc = vz_buf_add(out, tmp, len);
    OPENSSL_cleanse(tmp, len);
    free(tmp);
    return rc;
}

/* Offset of the first character before the padding that is not in the
 * alphabet; only called once decoding has already failed. */
static size_t first_bad(enum vz_b64_alphabet a, const char *src, size_t n, size_t pad)
{
    for (size_t i = 0; i < n - pad; i++)
        if (dec_char(a, (unsigned char)src[i]) < 0)
            return i;
    return n;
}

int vz_b64_decode_to(enum vz_b64_alphabet a, const char *src, size_t n, void *dst, size_t cap,
                     size_t *outlen, struct vz_err *err)
{
    unsigned char *d = dst;
    size_t pad = 0, need, o = 0;
    int bad = 0;

    *outlen = 0;
    if (n % 4 != 0)
        return vz_err_set(err, VZ_EINVAL, "invalid base64: length %zu is not a multiple of 4", n);
    if (n == 0)
        return VZ_OK;
    if (src[n - 1] == '=')
        pad = src[n - 2] == '=' ? 2 : 1;
    need = n / 4 * 3 - pad;
    if (need > cap)
        return vz_err_set(err, VZ_ETOOBIG, "base64 input decodes to %zu bytes, more than %zu", need,
                          cap);

    /* Collect the error bits and look at them once at the end, so valid
     * input takes the same path whatever its content. */
    for (size_t i = 0; i < n; i += 4) {
        size_t nchar = i + 4 == n ? 4 - pad : 4;
        uint32_t w = 0;
        for (size_t j = 0; j < 4; j++) {
            int v = j < nchar ? dec_char(a, (unsigned char)src[i + j]) : 0;
            bad |= v;
            w = w << 6 | ((uint32_t)v & 63u);
        }
        d[o++] = (unsigned char)(w >> 16);
        if (nchar > 2)
            d[o++] = (unsigned char)(w >> 8);
        if (nchar > 3)
            d[o++] = (unsigned char)w;
    }
    if (bad < 0) {
        /* Misplaced '=' shows up here too: it is not in the alphabet. */
        memset(d, 0, need);
        return vz_err_set(err, VZ_EINVAL, "invalid base64: unexpected character at offset %zu",
                          first_bad(a, src, n, pad));
    }
    *outlen = o;
    return VZ_OK;
}

int vz_b64_decode(enum vz_b64_alphabet a, const char *src, size_t n, struct vz_buf *out,
                  struct vz_err *err)
{
    size_t cap = vz_b64_decoded_max(n), len = 0;
    unsigned char *tmp = malloc(cap ? cap : 1);
    int rc;

    if (!tmp)
        return vz_err_set(err, VZ_ENOMEM, "%s", vz_strerror(VZ_ENOMEM));
    rc = vz_b64_decode_to(a, src, n, tmp, cap, &len, err);
    if (rc < 0)
        goto out;
    rc = vz_buf_add(out, tmp, len);
    if (rc < 0)
        vz_err_set(err, rc, "%s", vz_strerror(rc));
out:
    OPENSSL_cleanse(tmp, cap);
    free(tmp);
    return rc;
}
