/* Base64 (RFC 4648): the standard alphabet (section 4) and the URL- and
 * filename-safe one (section 5, "base64url", used by Fernet keys and tokens).
 *
 * Encoding always pads with '='. Decoding is strict: the input length must be
 * a multiple of 4, every character must belong to the chosen alphabet, and
 * '=' may appear only as one or two trailing padding characters. No
 * whitespace, no missing padding, no mixing of the two alphabets.
 * Non-canonical trailing bits (e.g. "QR==" where "QQ==" is canonical) are
 * accepted, as Python's base64 module accepts them, so any Fernet key Python
 * takes is taken here too.
 *
 * The character mapping runs without data-dependent branches or table
 * lookups, because key material passes through it. All functions are pure
 * and thread-safe. Layer: core/ plus OPENSSL_cleanse() from libcrypto. */
#ifndef VZ_CRYPTO_B64_H
#define VZ_CRYPTO_B64_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

enum vz_b64_alphabet {
    VZ_B64_STD, /* A-Z a-z 0-9 + / */
    VZ_B64_URL  /* A-Z a-z 0-9 - _ */
};

/* Number of characters in the padded encoding of n bytes (no NUL counted),
 * or SIZE_MAX when that number would not fit in a size_t. */
size_t vz_b64_encoded_len(size_t n);

/* Largest number of bytes n characters can decode to (n / 4 * 3). */
size_t vz_b64_decoded_max(size_t n);

/* Encode n bytes of src into dst, which must hold vz_b64_encoded_len(n) + 1
 * bytes; dst is NUL-terminated. Returns the number of characters written
 * (excluding the NUL). src may be NULL when n is 0. */
size_t vz_b64_encode_to(enum vz_b64_alphabet a, const void *src, size_t n, char *dst);

/* Append the encoding of n bytes of src to out.
 * 0, VZ_ENOMEM or VZ_ETOOBIG (out's ceiling, or n too large); out is
 * unchanged on failure. */
int vz_b64_encode(enum vz_b64_alphabet a, const void *src, size_t n,
                  struct vz_buf *out) VZ_MUST_CHECK;

/* Decode the n characters at src into dst (cap bytes) and set *outlen.
 * VZ_EINVAL for malformed input (the message gives the offset, never the
 * text), VZ_ETOOBIG when the result needs more than cap bytes. On failure
 * *outlen is 0 and no decoded byte is left in dst. src may be NULL when n
 * is 0. */
int vz_b64_decode_to(enum vz_b64_alphabet a, const char *src, size_t n, void *dst, size_t cap,
                     size_t *outlen, struct vz_err *err) VZ_MUST_CHECK;

/* Decode and append the bytes to out. VZ_EINVAL as above, VZ_ENOMEM or
 * VZ_ETOOBIG (out's ceiling); out is unchanged on failure. The temporary
 * copy is wiped before it is freed. */
int vz_b64_decode(enum vz_b64_alphabet a, const char *src, size_t n, struct vz_buf *out,
                  struct vz_err *err) VZ_MUST_CHECK;

#endif
