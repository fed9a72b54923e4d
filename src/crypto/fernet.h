/* Fernet tokens (spec version 0x80), interoperable with Python
 * `cryptography`'s Fernet and MultiFernet.
 *
 * A key is 32 bytes: a 16-byte HMAC-SHA256 signing key followed by a 16-byte
 * AES-128 encryption key; as text it is their base64url encoding (44
 * characters with padding). A token is base64url(version 0x80 | 64-bit
 * big-endian timestamp | 16-byte IV | AES-128-CBC/PKCS7 ciphertext |
 * HMAC-SHA256 of everything before it).
 *
 * Decryption checks the MAC in constant time before it decrypts anything.
 * Every rejection (malformed text, wrong version, bad length, bad MAC, bad
 * padding, expired, too far in the future) is VZ_ETOKEN with the same
 * message, "invalid or expired token", so a caller cannot tell which check
 * failed. No message ever contains key material, tokens or plaintext.
 *
 * Time checks follow Python: with a TTL (ttl > 0) a token is rejected when
 * timestamp + ttl < now, or when its timestamp is more than
 * VZ_FERNET_MAX_CLOCK_SKEW seconds after now. Without a TTL (ttl <= 0) the
 * timestamp is not looked at, so credentials stored with no TTL stay
 * readable after the clock has been set back.
 *
 * Output buffers: results are appended to the caller's vz_buf. Plaintext
 * lands only in out; internal copies are wiped with OPENSSL_cleanse(). A
 * caller holding a secret should pass an empty out (then it is allocated
 * once, with no stale copy left by a realloc) and wipe out->p before
 * vz_buf_release().
 *
 * Thread safety: all functions are thread-safe; keys and keyrings are only
 * read, so one keyring may be shared by threads once loaded.
 * Layer: core/, crypto/b64, OpenSSL libcrypto. */
#ifndef VZ_CRYPTO_FERNET_H
#define VZ_CRYPTO_FERNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define VZ_FERNET_KEY_LEN 32      /* raw key bytes */
#define VZ_FERNET_KEY_TEXT_LEN 44 /* base64url characters of a key */
#define VZ_FERNET_IV_LEN 16
#define VZ_FERNET_MAX_CLOCK_SKEW 60 /* seconds a token may be ahead of now */
#define VZ_KEYRING_MAX 8

struct vz_fernet_key {
    unsigned char sign[16]; /* HMAC-SHA256 key: first half of the raw key */
    unsigned char enc[16];  /* AES-128 key: second half */
};

/* ---- keys ---- */

/* Parse a key from its text: exactly 44 characters of padded base64url
 * decoding to 32 bytes (no surrounding whitespace). 0 or VZ_EINVAL; the
 * message never quotes the text. On failure *out is wiped. */
int vz_fernet_key_parse(const char *text, size_t len, struct vz_fernet_key *out,
                        struct vz_err *err) VZ_MUST_CHECK;

/* Split 32 raw bytes into a key (signing half first). */
void vz_fernet_key_from_raw(const unsigned char raw[VZ_FERNET_KEY_LEN], struct vz_fernet_key *out);

/* Write a new random key as NUL-terminated text into out (45 bytes).
 * 0, or VZ_ECRYPTO when the random generator fails (out is then ""). */
int vz_fernet_key_generate(char out[VZ_FERNET_KEY_TEXT_LEN + 1], struct vz_err *err) VZ_MUST_CHECK;

/* Overwrite a key with zeros in a way the compiler cannot drop. */
void vz_fernet_key_wipe(struct vz_fernet_key *k);

/* ---- tokens with one key ---- */

/* Encrypt len bytes of msg (msg may be NULL when len is 0) with the current
 * time and a random IV, and append the token text to out.
 * 0, VZ_ECRYPTO (random generator or cipher failure), VZ_ENOMEM, or
 * VZ_ETOOBIG (out's ceiling). out is unchanged on failure. */
int vz_fernet_encrypt(const struct vz_fernet_key *k, const void *msg, size_t len,
                      struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

/* Same with the timestamp and IV given: for test vectors and rotation.
 * Never reuse an IV with the same key for real data. */
int vz_fernet_encrypt_at(const struct vz_fernet_key *k, const void *msg, size_t len, uint64_t now,
                         const unsigned char iv[VZ_FERNET_IV_LEN], struct vz_buf *out,
                         struct vz_err *err) VZ_MUST_CHECK;

/* Verify and decrypt the len characters of token text tok, appending the
 * plaintext to out. ttl is the maximum age in seconds, ttl <= 0 for none.
 * 0, VZ_ETOKEN (any rejection, see above), VZ_ENOMEM or VZ_ETOOBIG (out's
 * ceiling). out is unchanged on failure. */
int vz_fernet_decrypt(const struct vz_fernet_key *k, const char *tok, size_t len, int64_t ttl,
                      struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

/* Same with "now" (seconds since the Unix epoch) given. */
int vz_fernet_decrypt_at(const struct vz_fernet_key *k, const char *tok, size_t len, int64_t ttl,
                         uint64_t now, struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

/* ---- keyrings (MultiFernet) ---- */

/* keys[0] encrypts; every key decrypts, tried in order. Extra keys are old
 * keys kept so that data written under them stays readable. */
struct vz_keyring {
    struct vz_fernet_key keys[VZ_KEYRING_MAX];
    size_t n;
};

/* Empty keyring. */
void vz_keyring_init(struct vz_keyring *r);

/* Wipe every key and leave r empty; safe on an initialised or empty ring. */
void vz_keyring_release(struct vz_keyring *r);

/* Append a copy of k. 0, or VZ_ELIMIT when r already holds VZ_KEYRING_MAX. */
int vz_keyring_add(struct vz_keyring *r, const struct vz_fernet_key *k,
                   struct vz_err *err) VZ_MUST_CHECK;

/* Encrypt with keys[0]. VZ_EINVAL on an empty ring, else as
 * vz_fernet_encrypt(). */
int vz_keyring_encrypt(const struct vz_keyring *r, const void *msg, size_t len, struct vz_buf *out,
                       struct vz_err *err) VZ_MUST_CHECK;

/* Decrypt with the first key that accepts the token; VZ_ETOKEN when none
 * does (or the ring is empty), else as vz_fernet_decrypt(). */
int vz_keyring_decrypt(const struct vz_keyring *r, const char *tok, size_t len, int64_t ttl,
                       struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

int vz_keyring_decrypt_at(const struct vz_keyring *r, const char *tok, size_t len, int64_t ttl,
                          uint64_t now, struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

/* Re-encrypt a token under keys[0] and append the new token text to out:
 * decrypt with any key (no TTL), then encrypt with keys[0], a fresh IV and
 * the token's original timestamp, so a TTL keeps counting from the first
 * encryption (as Python's MultiFernet.rotate does). Errors as
 * vz_keyring_decrypt() and vz_keyring_encrypt(). */
int vz_keyring_rotate_token(const struct vz_keyring *r, const char *tok, size_t len,
                            struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

#endif
