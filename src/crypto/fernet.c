#include "crypto/fernet.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto/b64.h"

#define FERNET_VERSION 0x80
#define TS_OFF 1
#define IV_OFF 9
#define HDR_LEN 25 /* version + timestamp + IV */
#define MAC_LEN 32
#define BLOCK 16
/* The shortest token: one block of ciphertext (an empty message still gets
 * a full block of padding). */
#define MIN_RAW (HDR_LEN + BLOCK + MAC_LEN)
/* EVP's update calls take an int length, so large messages go in slices. */
#define SLICE (1 << 30)

/* One message for every rejection: telling "bad MAC" from "bad padding" or
 * "expired" would help an attacker more than it helps a user. OpenSSL may
 * have queued an error (bad padding does); drop it so that it does not
 * surface later in an unrelated TLS or libpq call on this thread. */
static int token_error(struct vz_err *err)
{
    ERR_clear_error();
    return vz_err_set(err, VZ_ETOKEN, "invalid or expired token");
}

static uint64_t now_secs(void)
{
    time_t t = time(NULL);
    return t < 0 ? 0 : (uint64_t)t;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Run n bytes through an initialised cipher context including the final
 * (padding) step; *outlen gets the bytes written. 0 or -1. */
static int cipher_all(EVP_CIPHER_CTX *c, const unsigned char *in, size_t n, unsigned char *out,
                      size_t *outlen)
{
    size_t o = 0;
    int k;

    while (n > 0) {
        int part = n > SLICE ? SLICE : (int)n;
        if (EVP_CipherUpdate(c, out + o, &k, in, part) != 1)
            return -1;
        o += (size_t)k;
        in += part;
        n -= (size_t)part;
    }
    if (EVP_CipherFinal_ex(c, out + o, &k) != 1)
        return -1;
    *outlen = o + (size_t)k;
    return 0;
}

static int mac_compute(const struct vz_fernet_key *k, const unsigned char *data, size_t n,
                       unsigned char mac[MAC_LEN])
{
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), k->sign, (int)sizeof(k->sign), data, n, mac, &maclen) ||
        maclen != MAC_LEN)
        return -1;
    return 0;
}

/* ---- keys ---- */

int vz_fernet_key_parse(const char *text, size_t len, struct vz_fernet_key *out, struct vz_err *err)
{
    unsigned char raw[VZ_FERNET_KEY_LEN + 3];
    size_t got = 0;
    int rc = VZ_EINVAL;

    vz_fernet_key_wipe(out);
    if (len != VZ_FERNET_KEY_TEXT_LEN) {
        vz_err_set(err, VZ_EINVAL,
                   "invalid Fernet key: expected %d characters of base64url, got %zu",
                   VZ_FERNET_KEY_TEXT_LEN, len);
        goto out;
    }
    /* The scratch space is larger than a key so that 44 characters without
     * padding (33 bytes) fail on the length check below, not as ETOOBIG. */
    if (vz_b64_decode_to(VZ_B64_URL, text, len, raw, sizeof(raw), &got, NULL) < 0 ||
        got != VZ_FERNET_KEY_LEN) {
        vz_err_set(err, VZ_EINVAL, "invalid Fernet key: not base64url of %d bytes",
                   VZ_FERNET_KEY_LEN);
        goto out;
    }
    vz_fernet_key_from_raw(raw, out);
    rc = VZ_OK;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

void vz_fernet_key_from_raw(const unsigned char raw[VZ_FERNET_KEY_LEN], struct vz_fernet_key *out)
{
    memcpy(out->sign, raw, sizeof(out->sign));
    memcpy(out->enc, raw + sizeof(out->sign), sizeof(out->enc));
}

int vz_fernet_key_generate(char out[VZ_FERNET_KEY_TEXT_LEN + 1], struct vz_err *err)
{
    unsigned char raw[VZ_FERNET_KEY_LEN];
    int rc = VZ_OK;

    out[0] = '\0';
    if (RAND_bytes(raw, (int)sizeof(raw)) != 1) {
        ERR_clear_error();
        rc = vz_err_set(err, VZ_ECRYPTO, "random number generator failed");
        goto out;
    }
    vz_b64_encode_to(VZ_B64_URL, raw, sizeof(raw), out);
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

void vz_fernet_key_wipe(struct vz_fernet_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

/* ---- tokens ---- */

int vz_fernet_encrypt_at(const struct vz_fernet_key *k, const void *msg, size_t len, uint64_t now,
                         const unsigned char iv[VZ_FERNET_IV_LEN], struct vz_buf *out,
                         struct vz_err *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *raw = NULL;
    size_t ctlen, got = 0;
    int rc = VZ_OK;

    if (len > SIZE_MAX / 2 - HDR_LEN - MAC_LEN - BLOCK)
        return vz_err_set(err, VZ_ETOOBIG, "message too large to encrypt");
    ctlen = (len / BLOCK + 1) * BLOCK;
    raw = malloc(HDR_LEN + ctlen + MAC_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (!raw || !ctx) {
        rc = vz_err_set(err, VZ_ENOMEM, "%s", vz_strerror(VZ_ENOMEM));
        goto out;
    }
    raw[0] = FERNET_VERSION;
    put_be64(raw + TS_OFF, now);
    memcpy(raw + IV_OFF, iv, VZ_FERNET_IV_LEN);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, k->enc, iv) != 1 ||
        cipher_all(ctx, msg, len, raw + HDR_LEN, &got) < 0 || got != ctlen ||
        mac_compute(k, raw, HDR_LEN + ctlen, raw + HDR_LEN + ctlen) < 0) {
        ERR_clear_error();
        rc = vz_err_set(err, VZ_ECRYPTO, "encryption failed");
        goto out;
    }
    rc = vz_b64_encode(VZ_B64_URL, raw, HDR_LEN + ctlen + MAC_LEN, out);
    if (rc < 0)
        vz_err_set(err, rc, "%s", vz_strerror(rc));
out:
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    return rc;
}

int vz_fernet_encrypt(const struct vz_fernet_key *k, const void *msg, size_t len,
                      struct vz_buf *out, struct vz_err *err)
{
    unsigned char iv[VZ_FERNET_IV_LEN];

    if (RAND_bytes(iv, (int)sizeof(iv)) != 1) {
        ERR_clear_error();
        return vz_err_set(err, VZ_ECRYPTO, "random number generator failed");
    }
    return vz_fernet_encrypt_at(k, msg, len, now_secs(), iv, out, err);
}

/* base64url text -> raw token bytes in a new buffer (*raw, free()). Any
 * decoding problem is a token rejection. */
static int token_decode(const char *tok, size_t len, unsigned char **raw, size_t *rawlen,
                        struct vz_err *err)
{
    size_t cap = vz_b64_decoded_max(len);

    *raw = NULL;
    *rawlen = 0;
    if (cap < MIN_RAW)
        return token_error(err);
    *raw = malloc(cap);
    if (!*raw)
        return vz_err_set(err, VZ_ENOMEM, "%s", vz_strerror(VZ_ENOMEM));
    if (vz_b64_decode_to(VZ_B64_URL, tok, len, *raw, cap, rawlen, NULL) < 0) {
        free(*raw);
        *raw = NULL;
        return token_error(err);
    }
    return VZ_OK;
}

/* Verify raw token bytes with one key and append the plaintext to out.
 * With check_time, apply the TTL and clock-skew rules at now. *ts gets the
 * token's timestamp on success. */
static int token_open(const struct vz_fernet_key *k, const unsigned char *raw, size_t rawlen,
                      int check_time, int64_t ttl, uint64_t now, struct vz_buf *out, uint64_t *ts,
                      struct vz_err *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char mac[MAC_LEN], *pt = NULL;
    size_t ctlen, ptlen = 0;
    uint64_t t;
    int rc;

    if (rawlen < MIN_RAW || raw[0] != FERNET_VERSION || (rawlen - HDR_LEN - MAC_LEN) % BLOCK)
        return token_error(err);
    ctlen = rawlen - HDR_LEN - MAC_LEN;

    /* Authenticate before touching the ciphertext: the padding check below
     * would otherwise be a padding oracle. */
    if (mac_compute(k, raw, HDR_LEN + ctlen, mac) < 0 ||
        CRYPTO_memcmp(mac, raw + HDR_LEN + ctlen, MAC_LEN) != 0)
        return token_error(err);

    t = get_be64(raw + TS_OFF);
    if (check_time && ttl > 0) {
        if (t > now && t - now > VZ_FERNET_MAX_CLOCK_SKEW)
            return token_error(err);
        /* Written as a difference: timestamp + ttl may overflow. */
        if (now > t && now - t > (uint64_t)ttl)
            return token_error(err);
    }

    pt = malloc(ctlen);
    ctx = EVP_CIPHER_CTX_new();
    if (!pt || !ctx) {
        rc = vz_err_set(err, VZ_ENOMEM, "%s", vz_strerror(VZ_ENOMEM));
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, k->enc, raw + IV_OFF) != 1 ||
        cipher_all(ctx, raw + HDR_LEN, ctlen, pt, &ptlen) < 0) {
        rc = token_error(err);
        goto out;
    }
    rc = vz_buf_add(out, pt, ptlen);
    if (rc < 0) {
        vz_err_set(err, rc, "%s", vz_strerror(rc));
        goto out;
    }
    if (ts)
        *ts = t;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (pt)
        OPENSSL_cleanse(pt, ctlen);
    free(pt);
    return rc;
}

/* Try each of n keys in order. Errors other than a rejection (out of
 * memory, out's ceiling) stop the search: another key would not help. */
static int open_any(const struct vz_fernet_key *keys, size_t n, const char *tok, size_t len,
                    int check_time, int64_t ttl, uint64_t now, struct vz_buf *out, uint64_t *ts,
                    struct vz_err *err)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    int rc = token_decode(tok, len, &raw, &rawlen, err);

    if (rc < 0)
        return rc;
    rc = VZ_ETOKEN;
    for (size_t i = 0; i < n && rc == VZ_ETOKEN; i++)
        rc = token_open(&keys[i], raw, rawlen, check_time, ttl, now, out, ts, err);
    if (rc == VZ_ETOKEN)
        token_error(err);
    free(raw);
    return rc;
}

int vz_fernet_decrypt_at(const struct vz_fernet_key *k, const char *tok, size_t len, int64_t ttl,
                         uint64_t now, struct vz_buf *out, struct vz_err *err)
{
    return open_any(k, 1, tok, len, 1, ttl, now, out, NULL, err);
}

int vz_fernet_decrypt(const struct vz_fernet_key *k, const char *tok, size_t len, int64_t ttl,
                      struct vz_buf *out, struct vz_err *err)
{
    return vz_fernet_decrypt_at(k, tok, len, ttl, now_secs(), out, err);
}

/* ---- keyrings ---- */

void vz_keyring_init(struct vz_keyring *r)
{
    memset(r, 0, sizeof(*r));
}

void vz_keyring_release(struct vz_keyring *r)
{
    OPENSSL_cleanse(r, sizeof(*r));
}

int vz_keyring_add(struct vz_keyring *r, const struct vz_fernet_key *k, struct vz_err *err)
{
    if (r->n >= VZ_KEYRING_MAX)
        return vz_err_set(err, VZ_ELIMIT, "a keyring holds at most %d keys", VZ_KEYRING_MAX);
    r->keys[r->n++] = *k;
    return VZ_OK;
}

int vz_keyring_encrypt(const struct vz_keyring *r, const void *msg, size_t len, struct vz_buf *out,
                       struct vz_err *err)
{
    if (r->n == 0)
        return vz_err_set(err, VZ_EINVAL, "keyring is empty");
    return vz_fernet_encrypt(&r->keys[0], msg, len, out, err);
}

int vz_keyring_decrypt_at(const struct vz_keyring *r, const char *tok, size_t len, int64_t ttl,
                          uint64_t now, struct vz_buf *out, struct vz_err *err)
{
    return open_any(r->keys, r->n, tok, len, 1, ttl, now, out, NULL, err);
}

int vz_keyring_decrypt(const struct vz_keyring *r, const char *tok, size_t len, int64_t ttl,
                       struct vz_buf *out, struct vz_err *err)
{
    return vz_keyring_decrypt_at(r, tok, len, ttl, now_secs(), out, err);
}

int vz_keyring_rotate_token(const struct vz_keyring *r, const char *tok, size_t len,
                            struct vz_buf *out, struct vz_err *err)
{
    struct vz_buf pt = VZ_BUF_INIT(0);
    unsigned char iv[VZ_FERNET_IV_LEN];
    uint64_t ts = 0;
    int rc;

    if (r->n == 0)
        return vz_err_set(err, VZ_EINVAL, "keyring is empty");
    rc = open_any(r->keys, r->n, tok, len, 0, 0, 0, &pt, &ts, err);
    if (rc < 0)
        goto out;
    if (RAND_bytes(iv, (int)sizeof(iv)) != 1) {
        ERR_clear_error();
        rc = vz_err_set(err, VZ_ECRYPTO, "random number generator failed");
        goto out;
    }
    rc = vz_fernet_encrypt_at(&r->keys[0], pt.p, pt.len, ts, iv, out, err);
out:
    if (pt.p)
        OPENSSL_cleanse(pt.p, pt.cap);
    vz_buf_release(&pt);
    return rc;
}
