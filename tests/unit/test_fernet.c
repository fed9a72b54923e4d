/* Fernet tokens and base64: the official spec vectors, round trips,
 * tampering, time rules, keyrings, and interop with Python's cryptography. */
#include <ctype.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "testutil.h"

#include "crypto/b64.h"
#include "crypto/fernet.h"

#define PY "/usr/bin/python3"
#define VEC_KEY "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
#define TOKEN_ERR "invalid or expired token"

/* ---- helpers ---- */

/* The first of the working directory and its parents that holds
 * tests/unit/fernet_interop.py: the repository root. */
/* $VZ_TEST_VECTORS may name tests/vectors or tests/vectors/fernet. */
static void vectors_dir(char *out, size_t n)
{
    const char *env = getenv("VZ_TEST_VECTORS");
    char root[PATH_MAX], probe[PATH_MAX + 64];
    if (env && *env) {
        vzt_pathf(probe, sizeof(probe), "%s/fernet/generate.json", env);
        if (access(probe, R_OK) == 0) {
            vzt_pathf(out, n, "%s/fernet", env);
            return;
        }
        vzt_pathf(out, n, "%s", env);
        return;
    }
    vzt_repo_root(root, sizeof(root));
    vzt_pathf(out, n, "%s/tests/vectors/fernet", root);
}

static json_t *load_vectors(const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    json_error_t jerr;
    json_t *j;
    vectors_dir(dir, sizeof(dir));
    vzt_pathf(path, sizeof(path), "%s/%s", dir, name);
    j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    assert_true(json_is_array(j));
    assert_true(json_array_size(j) > 0);
    return j;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 date-time ("1985-10-26T01:20:00-07:00", "...Z", optional
 * fraction, which is dropped) to seconds since the epoch. 0 or -1. */
static int parse_rfc3339(const char *s, int64_t *out)
{
    static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    static const int month_len[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, n = 0, sign = 0;
    int64_t days = 0;
    const char *p;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + n;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (sscanf(p, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
        return -1;
    p += n;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
            return -1;
        p += 1 + n;
    } else {
        return -1;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > month_len[mo - 1] ||
        (mo == 2 && d == 29 && !is_leap(y)) || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        return -1;
    for (int k = 1970; k < y; k++)
        days += 365 + is_leap(k);
    for (int k = y; k < 1970; k++)
        days -= 365 + is_leap(k);
    days += before_month[mo - 1] + (mo > 2 && is_leap(y)) + d - 1;
    *out = days * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    return 0;
}

static uint64_t vec_now(const json_t *v)
{
    int64_t t = 0;
    const char *s = json_string_value(json_object_get(v, "now"));
    assert_non_null(s);
    assert_int_equal(parse_rfc3339(s, &t), 0);
    assert_true(t >= 0);
    return (uint64_t)t;
}

static struct vz_fernet_key key_of(const char *text)
{
    struct vz_fernet_key k;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_fernet_key_parse(text, strlen(text), &k, &err), 0);
    return k;
}

static struct vz_fernet_key random_key(void)
{
    char text[VZ_FERNET_KEY_TEXT_LEN + 1];
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_fernet_key_generate(text, &err), 0);
    return key_of(text);
}

/* Decrypt expecting a rejection, and check that it looks like every other. */
static void assert_rejected_at(const struct vz_fernet_key *k, const char *tok, size_t len,
                               int64_t ttl, uint64_t now)
{
    struct vz_buf out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_fernet_decrypt_at(k, tok, len, ttl, now, &out, &err);
    assert_int_equal(rc, VZ_ETOKEN);
    assert_int_equal(err.code, VZ_ETOKEN);
    assert_string_equal(err.msg, TOKEN_ERR);
    assert_int_equal(out.len, 0);
    vz_buf_release(&out);
}

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

static unsigned char *hex_decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *p = malloc(len / 2 + 1);
    assert_non_null(p);
    assert_int_equal(len % 2, 0);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        p[i] = (unsigned char)v;
    }
    *n = len / 2;
    return p;
}

/* Run tests/unit/fernet_interop.py in mode with a JSON request; returns its
 * reply (a JSON array). A missing python3 or python3-cryptography is a test
 * failure, not a skip: scripts/setup.sh installs both. */
static json_t *py_run(const char *mode, json_t *req)
{
    char root[PATH_MAX], dir[PATH_MAX], in[PATH_MAX + 16], cmd[3 * PATH_MAX];
    json_error_t jerr;
    json_t *reply;
    FILE *p;
    int st;

    if (access(PY, X_OK) != 0)
        fail_msg(PY " is missing: install python3 and python3-cryptography (scripts/setup.sh)");
    vzt_repo_root(root, sizeof(root));
    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(in, sizeof(in), "%s/req.json", dir);
    assert_int_equal(json_dump_file(req, in, 0), 0);
    vzt_pathf(cmd, sizeof(cmd), PY " '%s/tests/unit/fernet_interop.py' %s < '%s'", root, mode, in);
    p = popen(cmd, "r");
    assert_non_null(p);
    reply = json_loadf(p, 0, &jerr);
    st = pclose(p);
    vzt_rmrf(dir);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("fernet_interop.py %s failed (status %d); is python3-cryptography installed?",
                 mode, st);
    if (!reply || !json_is_array(reply))
        fail_msg("fernet_interop.py %s: bad reply: %s", mode, jerr.text);
    return reply;
}

/* ---- base64 ---- */

static void check_b64(enum vz_b64_alphabet a, const char *raw, size_t n, const char *enc)
{
    char buf[128];
    unsigned char dec[128];
    size_t got = 99;
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;

    assert_int_equal(vz_b64_encoded_len(n), strlen(enc));
    assert_int_equal(vz_b64_encode_to(a, raw, n, buf), strlen(enc));
    assert_string_equal(buf, enc);
    assert_int_equal(vz_b64_encode(a, raw, n, &b), 0);
    assert_string_equal(vz_buf_cstr(&b), enc);
    vz_buf_release(&b);
    assert_int_equal(vz_b64_decode_to(a, enc, strlen(enc), dec, sizeof(dec), &got, &err), 0);
    assert_int_equal(got, n);
    assert_memory_equal(dec, raw, n);
    assert_int_equal(vz_b64_decode(a, enc, strlen(enc), &b, &err), 0);
    assert_int_equal(b.len, n);
    if (n)
        assert_memory_equal(b.p, raw, n);
    vz_buf_release(&b);
}

static void test_b64_rfc4648_vectors(void **state)
{
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    (void)state;
    for (size_t n = 0; n <= 6; n++) {
        check_b64(VZ_B64_STD, "foobar", n, enc[n]);
        check_b64(VZ_B64_URL, "foobar", n, enc[n]);
    }
    /* The two alphabets differ in exactly two characters. */
    check_b64(VZ_B64_STD, "\xfb\xff\xbf", 3, "+/+/");
    check_b64(VZ_B64_URL, "\xfb\xff\xbf", 3, "-_-_");
    check_b64(VZ_B64_URL, "\xfb\xf0", 2, "-_A=");
}

/* Compare with OpenSSL's encoder over all lengths and many contents. */
static void test_b64_matches_openssl(void **state)
{
    unsigned char raw[300], dec[300];
    char ours[401], ref[401];
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    for (size_t n = 0; n <= sizeof(raw); n++) {
        size_t got = 0;
        assert_int_equal(RAND_bytes(raw, (int)sizeof(raw)), 1);
        EVP_EncodeBlock((unsigned char *)ref, raw, (int)n);
        vz_b64_encode_to(VZ_B64_STD, raw, n, ours);
        assert_string_equal(ours, ref);
        assert_int_equal(vz_b64_decode_to(VZ_B64_STD, ours, strlen(ours), dec, n, &got, &err), 0);
        assert_int_equal(got, n);
        assert_memory_equal(dec, raw, n);
        /* Same bits through the URL alphabet. */
        for (char *c = ours; *c; c++)
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        vz_b64_encode_to(VZ_B64_URL, raw, n, ref);
        assert_string_equal(ours, ref);
    }
    /* Every byte value in every position of a 3-byte group. */
    for (int v = 0; v < 256; v++) {
        for (int pos = 0; pos < 3; pos++) {
            unsigned char in[3] = {0x5a, 0xa5, 0x3c}, out[3];
            size_t got = 0;
            in[pos] = (unsigned char)v;
            EVP_EncodeBlock((unsigned char *)ref, in, 3);
            vz_b64_encode_to(VZ_B64_STD, in, 3, ours);
            assert_string_equal(ours, ref);
            assert_int_equal(vz_b64_decode_to(VZ_B64_STD, ours, 4, out, 3, &got, &err), 0);
            assert_memory_equal(out, in, 3);
        }
    }
}

static void test_b64_rejects_malformed(void **state)
{
    static const char *bad[] = {
        "Zm9",      /* length */
        "Zm9v=",    /* length */
        "Zg=",      /* length */
        "Z===",     /* too much padding */
        "====",     /* only padding */
        "Zm=v",     /* '=' inside */
        "Zg==Zg==", /* padding before the end */
        "Zm9v\n",   /* whitespace */
        " Zm9",     /* whitespace */
        "Zm 9",     /* whitespace */
        "Zm9*",     /* not in either alphabet */
        "Zm9.",     /* not in either alphabet */
        "Zg\x80=",  /* high byte */
    };
    unsigned char dec[16];
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    size_t got;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int a = VZ_B64_STD; a <= VZ_B64_URL; a++) {
            got = 7;
            assert_int_equal(
                vz_b64_decode_to(a, bad[i], strlen(bad[i]), dec, sizeof(dec), &got, &err),
                VZ_EINVAL);
            assert_int_equal(got, 0);
            assert_int_equal(vz_b64_decode(a, bad[i], strlen(bad[i]), &b, &err), VZ_EINVAL);
            assert_int_equal(b.len, 0);
        }
    }
    /* An embedded NUL is a bad character, not an end of string. */
    assert_int_equal(vz_b64_decode_to(VZ_B64_URL, "Zm\0v", 4, dec, sizeof(dec), &got, &err),
                     VZ_EINVAL);
    /* Each alphabet rejects the other's two characters. */
    assert_int_equal(vz_b64_decode_to(VZ_B64_URL, "+/8=", 4, dec, sizeof(dec), &got, &err),
                     VZ_EINVAL);
    assert_int_equal(vz_b64_decode_to(VZ_B64_STD, "-_8=", 4, dec, sizeof(dec), &got, &err),
                     VZ_EINVAL);
    /* Messages give an offset, never the text. */
    assert_int_equal(vz_b64_decode_to(VZ_B64_URL, "abcdSEC*", 8, dec, sizeof(dec), &got, &err),
                     VZ_EINVAL);
    assert_non_null(strstr(err.msg, "offset 7"));
    assert_null(strstr(err.msg, "SEC"));
    /* Non-canonical trailing bits are accepted, as Python does. */
    assert_int_equal(vz_b64_decode_to(VZ_B64_URL, "Zh==", 4, dec, sizeof(dec), &got, &err), 0);
    assert_int_equal(got, 1);
    assert_int_equal(dec[0], 'f');
    /* Too small a destination. */
    assert_int_equal(vz_b64_decode_to(VZ_B64_URL, "Zm9vYmFy", 8, dec, 5, &got, &err), VZ_ETOOBIG);
    assert_int_equal(got, 0);
    vz_buf_release(&b);
}

static void test_b64_appends_and_respects_ceiling(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(8);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_buf_adds(&b, "ab"), 0);
    assert_int_equal(vz_b64_encode(VZ_B64_URL, "foo", 3, &b), 0);
    assert_string_equal(vz_buf_cstr(&b), "abZm9v");
    assert_int_equal(vz_b64_encode(VZ_B64_URL, "foo", 3, &b), VZ_ETOOBIG);
    assert_string_equal(vz_buf_cstr(&b), "abZm9v");
    assert_int_equal(vz_b64_decode(VZ_B64_URL, "Zm9v", 4, &b, &err), VZ_ETOOBIG);
    assert_int_equal(err.code, VZ_ETOOBIG);
    assert_string_equal(vz_buf_cstr(&b), "abZm9v");
    vz_buf_release(&b);
}

/* ---- the test helpers themselves ---- */

static void test_rfc3339_parser(void **state)
{
    int64_t t = 0;
    (void)state;
    assert_int_equal(parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(parse_rfc3339("1985-10-26T01:20:00-07:00", &t), 0);
    assert_int_equal(t, 499162800);
    assert_int_equal(parse_rfc3339("2000-03-01T00:00:00+00:00", &t), 0);
    assert_int_equal(t, 951868800);
    assert_int_equal(parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(parse_rfc3339("2024-02-29T12:34:56.789+05:30", &t), 0);
    assert_int_equal(t, 1709190296);
    assert_int_equal(parse_rfc3339("2023-02-29T00:00:00Z", &t), -1);
    assert_int_equal(parse_rfc3339("1985-10-26 01:20:00", &t), -1);
    assert_int_equal(parse_rfc3339("1985-10-26T01:20:00+0700", &t), -1);
}

/* ---- spec vectors ---- */

static void test_vectors_generate(void **state)
{
    json_t *vecs = load_vectors("generate.json"), *v;
    size_t i;
    (void)state;
    json_array_foreach(vecs, i, v)
    {
        struct vz_fernet_key k = key_of(json_string_value(json_object_get(v, "secret")));
        const char *src = json_string_value(json_object_get(v, "src"));
        const char *tok = json_string_value(json_object_get(v, "token"));
        json_t *ivj = json_object_get(v, "iv");
        unsigned char iv[VZ_FERNET_IV_LEN];
        struct vz_buf out = VZ_BUF_INIT(0);
        struct vz_err err = VZ_ERR_INIT;

        assert_non_null(src);
        assert_non_null(tok);
        assert_int_equal(json_array_size(ivj), VZ_FERNET_IV_LEN);
        for (size_t j = 0; j < VZ_FERNET_IV_LEN; j++)
            iv[j] = (unsigned char)json_integer_value(json_array_get(ivj, j));
        assert_int_equal(vz_fernet_encrypt_at(&k, src, strlen(src), vec_now(v), iv, &out, &err), 0);
        assert_string_equal(vz_buf_cstr(&out), tok);
        vz_buf_release(&out);
    }
    json_decref(vecs);
}

static void test_vectors_verify(void **state)
{
    json_t *vecs = load_vectors("verify.json"), *v;
    size_t i;
    (void)state;
    json_array_foreach(vecs, i, v)
    {
        struct vz_fernet_key k = key_of(json_string_value(json_object_get(v, "secret")));
        const char *src = json_string_value(json_object_get(v, "src"));
        const char *tok = json_string_value(json_object_get(v, "token"));
        int64_t ttl = json_integer_value(json_object_get(v, "ttl_sec"));
        struct vz_buf out = VZ_BUF_INIT(0);
        struct vz_err err = VZ_ERR_INIT;

        assert_non_null(src);
        assert_int_equal(vz_fernet_decrypt_at(&k, tok, strlen(tok), ttl, vec_now(v), &out, &err),
                         0);
        assert_int_equal(out.len, strlen(src));
        assert_string_equal(vz_buf_cstr(&out), src);
        vz_buf_release(&out);
    }
    json_decref(vecs);
}

static void test_vectors_invalid(void **state)
{
    json_t *vecs = load_vectors("invalid.json"), *v;
    size_t i;
    (void)state;
    json_array_foreach(vecs, i, v)
    {
        struct vz_fernet_key k = key_of(json_string_value(json_object_get(v, "secret")));
        const char *tok = json_string_value(json_object_get(v, "token"));
        int64_t ttl = json_integer_value(json_object_get(v, "ttl_sec"));
        struct vz_buf out = VZ_BUF_INIT(0);
        struct vz_err err = VZ_ERR_INIT;
        int rc = vz_fernet_decrypt_at(&k, tok, strlen(tok), ttl, vec_now(v), &out, &err);
        if (rc != VZ_ETOKEN)
            fail_msg("invalid vector \"%s\" gave %d, want VZ_ETOKEN",
                     json_string_value(json_object_get(v, "desc")), rc);
        assert_string_equal(err.msg, TOKEN_ERR);
        assert_int_equal(out.len, 0);
    }
    json_decref(vecs);
}

/* ---- round trips ---- */

static void roundtrip(const struct vz_fernet_key *k, const unsigned char *msg, size_t n)
{
    struct vz_buf tok = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    size_t blocks = n / 16 + 1;

    assert_int_equal(vz_fernet_encrypt(k, msg, n, &tok, &err), 0);
    assert_int_equal(tok.len, vz_b64_encoded_len(25 + 16 * blocks + 32));
    assert_int_equal(tok.p[0], 'g'); /* 0x80 in base64 */
    assert_int_equal(vz_fernet_decrypt(k, tok.p, tok.len, 60, &out, &err), 0);
    assert_int_equal(out.len, n);
    if (n)
        assert_memory_equal(out.p, msg, n);
    vz_buf_release(&tok);
    vz_buf_release(&out);
}

static void test_roundtrip_lengths(void **state)
{
    struct vz_fernet_key k = random_key();
    unsigned char msg[101];
    (void)state;
    assert_int_equal(RAND_bytes(msg, (int)sizeof(msg)), 1);
    for (size_t n = 0; n <= 100; n++)
        roundtrip(&k, msg, n);
    roundtrip(&k, NULL, 0);
}

static void test_roundtrip_1mb(void **state)
{
    struct vz_fernet_key k = random_key();
    size_t n = 1024 * 1024;
    unsigned char *msg = malloc(n);
    (void)state;
    assert_non_null(msg);
    assert_int_equal(RAND_bytes(msg, (int)n), 1);
    roundtrip(&k, msg, n);
    roundtrip(&k, msg, n - 1);
    free(msg);
}

static void test_tokens_differ_each_time(void **state)
{
    struct vz_fernet_key k = random_key();
    struct vz_buf a = VZ_BUF_INIT(0), b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_fernet_encrypt(&k, "same", 4, &a, &err), 0);
    assert_int_equal(vz_fernet_encrypt(&k, "same", 4, &b, &err), 0);
    assert_string_not_equal(a.p, b.p); /* fresh IV */
    vz_buf_release(&a);
    vz_buf_release(&b);
}

/* ---- tampering ---- */

static void assert_raw_rejected(const struct vz_fernet_key *k, const unsigned char *raw, size_t n)
{
    struct vz_buf tok = VZ_BUF_INIT(0);
    assert_int_equal(vz_b64_encode(VZ_B64_URL, raw, n, &tok), 0);
    assert_rejected_at(k, vz_buf_cstr(&tok), tok.len, 0, 0);
    vz_buf_release(&tok);
}

static void test_tampering_rejected(void **state)
{
    struct vz_fernet_key k = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0), raw = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    unsigned char *r;
    const char *msg = "postgres password: hunter2, tamper me";
    (void)state;

    assert_int_equal(vz_fernet_encrypt(&k, msg, strlen(msg), &tok, &err), 0);
    assert_int_equal(vz_b64_decode(VZ_B64_URL, tok.p, tok.len, &raw, &err), 0);
    r = (unsigned char *)raw.p;
    /* Sanity: the untouched bytes still decrypt, also at time 0 with no TTL. */
    assert_int_equal(vz_fernet_decrypt_at(&k, tok.p, tok.len, 0, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), msg);

    /* Every byte flipped, one at a time. */
    for (size_t i = 0; i < raw.len; i++) {
        r[i] ^= 0xff;
        assert_raw_rejected(&k, r, raw.len);
        r[i] ^= 0xff;
    }
    /* Every bit of the version, a timestamp, an IV, a ciphertext and a MAC
     * byte, and of the last ciphertext byte (the padding). */
    {
        size_t at[] = {0, 1, 8, 9, 24, 25, raw.len - 33, raw.len - 32, raw.len - 1};
        for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
            for (int bit = 0; bit < 8; bit++) {
                r[at[j]] ^= (unsigned char)(1u << bit);
                assert_raw_rejected(&k, r, raw.len);
                r[at[j]] ^= (unsigned char)(1u << bit);
            }
        }
    }
    /* Every truncation, and extra bytes at the end. */
    for (size_t n = 0; n < raw.len; n++)
        assert_raw_rejected(&k, r, n);
    assert_int_equal(vz_buf_add(&raw, "0123456789abcdef", 16), 0);
    r = (unsigned char *)raw.p;
    assert_raw_rejected(&k, r, raw.len);
    assert_raw_rejected(&k, r, raw.len - 15);

    /* Token text damage that base64 must catch. */
    assert_rejected_at(&k, tok.p, tok.len - 1, 0, 0);
    tok.p[tok.len - 1] = '.';
    assert_rejected_at(&k, tok.p, tok.len, 0, 0);
    assert_rejected_at(&k, "", 0, 0, 0);
    assert_rejected_at(&k, NULL, 0, 0, 0);

    vz_buf_release(&tok);
    vz_buf_release(&raw);
    vz_buf_release(&out);
}

/* A token whose MAC is right but whose ciphertext length is not a multiple
 * of 16, or which is empty, or with a wrong version: rejected before any
 * decryption even though an attacker with the key could make one. */
static void test_well_signed_but_malformed(void **state)
{
    struct vz_fernet_key k = random_key();
    unsigned char raw[25 + 40 + 32];
    unsigned int maclen = 0;
    size_t shapes[] = {0, 15, 17, 31};
    (void)state;

    for (size_t j = 0; j < sizeof(shapes) / sizeof(shapes[0]); j++) {
        size_t ct = shapes[j];
        memset(raw, 0x11, sizeof(raw));
        raw[0] = 0x80;
        HMAC(EVP_sha256(), k.sign, 16, raw, 25 + ct, raw + 25 + ct, &maclen);
        assert_raw_rejected(&k, raw, 25 + ct + 32);
    }
    /* Valid layout signed correctly, but version 0x81. */
    {
        struct vz_buf tok = VZ_BUF_INIT(0), dec = VZ_BUF_INIT(0);
        struct vz_err err = VZ_ERR_INIT;
        unsigned char *r;
        assert_int_equal(vz_fernet_encrypt(&k, "x", 1, &tok, &err), 0);
        assert_int_equal(vz_b64_decode(VZ_B64_URL, tok.p, tok.len, &dec, &err), 0);
        r = (unsigned char *)dec.p;
        r[0] = 0x81;
        HMAC(EVP_sha256(), k.sign, 16, r, dec.len - 32, r + dec.len - 32, &maclen);
        assert_raw_rejected(&k, r, dec.len);
        vz_buf_release(&tok);
        vz_buf_release(&dec);
    }
}

/* ---- time ---- */

static void make_token_at(const struct vz_fernet_key *k, uint64_t ts, struct vz_buf *tok)
{
    unsigned char iv[VZ_FERNET_IV_LEN] = {1, 2, 3};
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_fernet_encrypt_at(k, "t", 1, ts, iv, tok, &err), 0);
}

static void assert_accepted_at(const struct vz_fernet_key *k, const struct vz_buf *tok, int64_t ttl,
                               uint64_t now)
{
    struct vz_buf out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_fernet_decrypt_at(k, tok->p, tok->len, ttl, now, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "t");
    vz_buf_release(&out);
}

static void test_ttl(void **state)
{
    struct vz_fernet_key k = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0);
    uint64_t t = 1700000000;
    (void)state;

    make_token_at(&k, t, &tok);
    assert_accepted_at(&k, &tok, 60, t);
    assert_accepted_at(&k, &tok, 60, t + 60); /* timestamp + ttl == now: still fine */
    assert_rejected_at(&k, tok.p, tok.len, 60, t + 61);
    assert_rejected_at(&k, tok.p, tok.len, 1, t + 1000000);
    /* No TTL: age does not matter. */
    assert_accepted_at(&k, &tok, 0, t + 100000000);
    assert_accepted_at(&k, &tok, -5, t + 100000000);
    vz_buf_release(&tok);

    /* A huge TTL must not overflow timestamp + ttl. */
    make_token_at(&k, UINT64_MAX - 10, &tok);
    assert_accepted_at(&k, &tok, INT64_MAX, UINT64_MAX - 10);
    vz_buf_release(&tok);
    make_token_at(&k, 5, &tok);
    assert_accepted_at(&k, &tok, INT64_MAX, 5 + (uint64_t)INT64_MAX);
    assert_rejected_at(&k, tok.p, tok.len, INT64_MAX, 6 + (uint64_t)INT64_MAX);
    vz_buf_release(&tok);
}

static void test_future_clock_skew(void **state)
{
    struct vz_fernet_key k = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0);
    uint64_t now = 1700000000;
    (void)state;

    make_token_at(&k, now + 59, &tok);
    assert_accepted_at(&k, &tok, 60, now);
    vz_buf_release(&tok);
    make_token_at(&k, now + 60, &tok);
    assert_accepted_at(&k, &tok, 60, now);
    vz_buf_release(&tok);
    make_token_at(&k, now + 61, &tok);
    assert_rejected_at(&k, tok.p, tok.len, 60, now);
    /* As in Python, the skew rule comes with a TTL: without one the
     * timestamp is not looked at (stored credentials survive a clock that
     * was set back). */
    assert_accepted_at(&k, &tok, 0, now);
    vz_buf_release(&tok);
    make_token_at(&k, UINT64_MAX, &tok);
    assert_rejected_at(&k, tok.p, tok.len, 60, now);
    vz_buf_release(&tok);
}

/* ---- keys ---- */

static void test_key_parse(void **state)
{
    struct vz_fernet_key k, k2;
    struct vz_err err = VZ_ERR_INIT;
    char text[VZ_FERNET_KEY_TEXT_LEN + 1], bad[64];
    (void)state;

    k = key_of(VEC_KEY);
    /* The signing half comes first. */
    assert_int_equal(k.sign[0], 0x73);
    assert_int_equal(k.enc[15], 0xee);

    assert_int_equal(vz_fernet_key_generate(text, &err), 0);
    assert_int_equal(strlen(text), VZ_FERNET_KEY_TEXT_LEN);
    k = key_of(text);
    assert_int_equal(vz_fernet_key_generate(text, &err), 0);
    k2 = key_of(text);
    assert_memory_not_equal(&k, &k2, sizeof(k));

    static const char *bads[] = {
        "",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4",   /* no padding */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4==", /* 45 */
        "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=",  /* standard alphabet */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4==",   /* 31 bytes */
        " cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", /* whitespace */
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n",
        "SECRETSECRETSECRETSECRETSECRETSECRETSECRET!=",
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        memset(&k, 0xaa, sizeof(k));
        assert_int_equal(vz_fernet_key_parse(bads[i], strlen(bads[i]), &k, &err), VZ_EINVAL);
        memset(&k2, 0, sizeof(k2));
        assert_memory_equal(&k, &k2, sizeof(k)); /* wiped */
        assert_null(strstr(err.msg, "SECRET"));
        assert_null(strstr(err.msg, "cw_0x"));
    }
    /* A NUL inside the 44 characters. */
    memcpy(bad, VEC_KEY, sizeof(VEC_KEY));
    bad[10] = '\0';
    assert_int_equal(vz_fernet_key_parse(bad, VZ_FERNET_KEY_TEXT_LEN, &k, &err), VZ_EINVAL);
}

static void test_wrong_key_rejected(void **state)
{
    struct vz_fernet_key a = random_key(), b = random_key(), mixed = a;
    struct vz_buf tok = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_fernet_encrypt(&a, "secret", 6, &tok, &err), 0);
    assert_rejected_at(&b, tok.p, tok.len, 0, 0);
    /* Right encryption key, wrong signing key, and the reverse. */
    memcpy(mixed.sign, b.sign, 16);
    assert_rejected_at(&mixed, tok.p, tok.len, 0, 0);
    mixed = a;
    memcpy(mixed.enc, b.enc, 16);
    assert_rejected_at(&mixed, tok.p, tok.len, 0, 0);
    vz_buf_release(&tok);
}

/* ---- outputs on failure ---- */

static void test_out_untouched_on_failure(void **state)
{
    struct vz_fernet_key k = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0), small = VZ_BUF_INIT(10);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    assert_int_equal(vz_buf_adds(&out, "prefix:"), 0);
    assert_int_equal(vz_fernet_encrypt(&k, "hello", 5, &out, &err), 0);
    assert_true(out.len > 7);
    assert_memory_equal(out.p, "prefix:", 7);
    assert_int_equal(vz_fernet_decrypt(&k, out.p + 7, out.len - 7, 0, &tok, &err), 0);
    assert_string_equal(vz_buf_cstr(&tok), "hello");
    assert_int_equal(vz_fernet_decrypt(&k, "gAAAA", 5, 0, &tok, &err), VZ_ETOKEN);
    assert_string_equal(vz_buf_cstr(&tok), "hello");

    /* A ceiling too small for the token or the plaintext. */
    assert_int_equal(vz_fernet_encrypt(&k, "hello", 5, &small, &err), VZ_ETOOBIG);
    assert_int_equal(err.code, VZ_ETOOBIG);
    assert_int_equal(small.len, 0);
    vz_buf_reset(&tok);
    assert_int_equal(vz_fernet_encrypt(&k, "0123456789abc", 13, &tok, &err), 0);
    assert_int_equal(vz_fernet_decrypt(&k, tok.p, tok.len, 0, &small, &err), VZ_ETOOBIG);
    assert_int_equal(small.len, 0);

    vz_buf_release(&tok);
    vz_buf_release(&out);
    vz_buf_release(&small);
}

/* ---- keyrings ---- */

static void test_keyring_encrypt_first_decrypt_any(void **state)
{
    struct vz_keyring ring, only_first, only_second;
    struct vz_fernet_key k0 = random_key(), k1 = random_key(), k2 = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    vz_keyring_init(&ring);
    vz_keyring_init(&only_first);
    vz_keyring_init(&only_second);
    assert_int_equal(vz_keyring_encrypt(&ring, "x", 1, &tok, &err), VZ_EINVAL);
    assert_int_equal(vz_keyring_decrypt(&ring, "x", 1, 0, &out, &err), VZ_ETOKEN);
    assert_int_equal(vz_keyring_add(&ring, &k0, &err), 0);
    assert_int_equal(vz_keyring_add(&ring, &k1, &err), 0);
    assert_int_equal(vz_keyring_add(&only_first, &k0, &err), 0);
    assert_int_equal(vz_keyring_add(&only_second, &k1, &err), 0);

    /* Encrypts with keys[0] only. */
    assert_int_equal(vz_keyring_encrypt(&ring, "new", 3, &tok, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&only_first, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "new");
    vz_buf_reset(&out);
    assert_int_equal(vz_keyring_decrypt(&only_second, tok.p, tok.len, 0, &out, &err), VZ_ETOKEN);
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "new");
    vz_buf_reset(&out);
    vz_buf_reset(&tok);

    /* Decrypts with any key. */
    assert_int_equal(vz_fernet_encrypt(&k1, "old", 3, &tok, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 60, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "old");
    vz_buf_reset(&out);
    vz_buf_reset(&tok);

    /* An unknown key's token is rejected like any other bad token. */
    assert_int_equal(vz_fernet_encrypt(&k2, "stranger", 8, &tok, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 0, &out, &err), VZ_ETOKEN);
    assert_string_equal(err.msg, TOKEN_ERR);
    assert_int_equal(out.len, 0);

    /* Capacity. */
    for (size_t i = ring.n; i < VZ_KEYRING_MAX; i++)
        assert_int_equal(vz_keyring_add(&ring, &k2, &err), 0);
    assert_int_equal(vz_keyring_add(&ring, &k2, &err), VZ_ELIMIT);
    assert_int_equal(ring.n, VZ_KEYRING_MAX);
    /* The last slot works too. */
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "stranger");

    vz_keyring_release(&ring);
    assert_int_equal(ring.n, 0);
    vz_keyring_release(&only_first);
    vz_keyring_release(&only_second);
    vz_buf_release(&tok);
    vz_buf_release(&out);
}

static void test_keyring_rotate(void **state)
{
    struct vz_keyring ring, first, old_only;
    struct vz_fernet_key knew = random_key(), kold = random_key(), kother = random_key();
    struct vz_buf tok = VZ_BUF_INIT(0), rot = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0);
    struct vz_buf a = VZ_BUF_INIT(0), b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    unsigned char iv[VZ_FERNET_IV_LEN] = {9};
    uint64_t ts = 1600000000;
    (void)state;

    vz_keyring_init(&ring);
    vz_keyring_init(&first);
    vz_keyring_init(&old_only);
    assert_int_equal(vz_keyring_rotate_token(&ring, "x", 1, &rot, &err), VZ_EINVAL);
    assert_int_equal(vz_keyring_add(&ring, &knew, &err), 0);
    assert_int_equal(vz_keyring_add(&ring, &kold, &err), 0);
    assert_int_equal(vz_keyring_add(&first, &knew, &err), 0);
    assert_int_equal(vz_keyring_add(&old_only, &kold, &err), 0);

    /* An old token, long expired by any TTL: rotation itself has no TTL. */
    assert_int_equal(vz_fernet_encrypt_at(&kold, "pw", 2, ts, iv, &tok, &err), 0);
    assert_int_equal(vz_keyring_rotate_token(&ring, tok.p, tok.len, &rot, &err), 0);
    assert_string_not_equal(vz_buf_cstr(&rot), vz_buf_cstr(&tok));
    assert_int_equal(vz_keyring_decrypt(&first, rot.p, rot.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "pw");
    assert_int_equal(vz_keyring_decrypt(&old_only, rot.p, rot.len, 0, &out, &err), VZ_ETOKEN);
    /* The timestamp is kept (bytes 1..8 of the raw token). */
    assert_int_equal(vz_b64_decode(VZ_B64_URL, tok.p, tok.len, &a, &err), 0);
    assert_int_equal(vz_b64_decode(VZ_B64_URL, rot.p, rot.len, &b, &err), 0);
    assert_memory_equal(a.p + 1, b.p + 1, 8);
    assert_memory_not_equal(a.p + 9, b.p + 9, 16); /* fresh IV */

    /* Rotating a token of an unknown key, or garbage, fails and adds nothing. */
    vz_buf_reset(&tok);
    vz_buf_reset(&rot);
    assert_int_equal(vz_fernet_encrypt(&kother, "pw", 2, &tok, &err), 0);
    assert_int_equal(vz_keyring_rotate_token(&ring, tok.p, tok.len, &rot, &err), VZ_ETOKEN);
    assert_int_equal(vz_keyring_rotate_token(&ring, "%%%%", 4, &rot, &err), VZ_ETOKEN);
    assert_int_equal(rot.len, 0);

    vz_keyring_release(&ring);
    vz_keyring_release(&first);
    vz_keyring_release(&old_only);
    vz_buf_release(&tok);
    vz_buf_release(&rot);
    vz_buf_release(&out);
    vz_buf_release(&a);
    vz_buf_release(&b);
}

/* ---- interop with Python's cryptography ---- */

struct msg {
    const unsigned char *p;
    size_t n;
};

static void test_interop_python(void **state)
{
    static const char unicode[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 "
                                  "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xf0\x9f\x94\x91";
    unsigned char big[1000], bin[17];
    struct msg msgs[] = {
        {(const unsigned char *)"", 0},
        {(const unsigned char *)"hello", 5},
        {(const unsigned char *)unicode, sizeof(unicode) - 1},
        {big, sizeof(big)},
        {bin, 16},
        {bin, 17},
    };
    size_t nmsg = sizeof(msgs) / sizeof(msgs[0]);
    char key_text[VZ_FERNET_KEY_TEXT_LEN + 1], hex[2 * sizeof(big) + 1];
    struct vz_fernet_key k;
    struct vz_err err = VZ_ERR_INIT;
    json_t *req, *items, *reply;
    (void)state;

    assert_int_equal(RAND_bytes(big, (int)sizeof(big)), 1);
    memset(bin, 0, sizeof(bin));
    assert_int_equal(vz_fernet_key_generate(key_text, &err), 0);
    k = key_of(key_text);

    /* vectoraiz -> Python */
    items = json_array();
    for (size_t i = 0; i < nmsg; i++) {
        struct vz_buf tok = VZ_BUF_INIT(0);
        assert_int_equal(vz_fernet_encrypt(&k, msgs[i].p, msgs[i].n, &tok, &err), 0);
        json_array_append_new(items, json_string(vz_buf_cstr(&tok)));
        vz_buf_release(&tok);
    }
    req = json_pack("{s:s, s:o, s:i}", "key", key_text, "items", items, "ttl", 60);
    reply = py_run("decrypt", req);
    assert_int_equal(json_array_size(reply), nmsg);
    for (size_t i = 0; i < nmsg; i++) {
        const char *h = json_string_value(json_array_get(reply, i));
        if (!h)
            fail_msg("Python rejected vectoraiz token %zu", i);
        hex_encode(msgs[i].p, msgs[i].n, hex);
        assert_string_equal(h, hex);
    }
    json_decref(reply);
    json_decref(req);

    /* Python -> vectoraiz */
    items = json_array();
    for (size_t i = 0; i < nmsg; i++) {
        hex_encode(msgs[i].p, msgs[i].n, hex);
        json_array_append_new(items, json_string(hex));
    }
    req = json_pack("{s:s, s:o}", "key", key_text, "items", items);
    reply = py_run("encrypt", req);
    assert_int_equal(json_array_size(reply), nmsg);
    for (size_t i = 0; i < nmsg; i++) {
        const char *t = json_string_value(json_array_get(reply, i));
        struct vz_buf out = VZ_BUF_INIT(0);
        assert_non_null(t);
        assert_int_equal(vz_fernet_decrypt(&k, t, strlen(t), 60, &out, &err), 0);
        assert_int_equal(out.len, msgs[i].n);
        if (msgs[i].n)
            assert_memory_equal(out.p, msgs[i].p, msgs[i].n);
        vz_buf_release(&out);
    }
    json_decref(reply);
    json_decref(req);

    /* Python rejects what we reject: a token under another key. */
    {
        struct vz_fernet_key other = random_key();
        struct vz_buf tok = VZ_BUF_INIT(0);
        size_t n = 0;
        unsigned char *back;
        assert_int_equal(vz_fernet_encrypt(&other, "x", 1, &tok, &err), 0);
        req = json_pack("{s:s, s:[s]}", "key", key_text, "items", vz_buf_cstr(&tok));
        reply = py_run("decrypt", req);
        assert_true(json_is_null(json_array_get(reply, 0)));
        json_decref(reply);
        json_decref(req);
        vz_buf_release(&tok);
        /* And the hex helper round-trips (guards the checks above). */
        back = hex_decode("00ff10", &n);
        assert_int_equal(n, 3);
        assert_int_equal(back[1], 0xff);
        free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_rfc4648_vectors),
        cmocka_unit_test(test_b64_matches_openssl),
        cmocka_unit_test(test_b64_rejects_malformed),
        cmocka_unit_test(test_b64_appends_and_respects_ceiling),
        cmocka_unit_test(test_rfc3339_parser),
        cmocka_unit_test(test_vectors_generate),
        cmocka_unit_test(test_vectors_verify),
        cmocka_unit_test(test_vectors_invalid),
        cmocka_unit_test(test_roundtrip_lengths),
        cmocka_unit_test(test_roundtrip_1mb),
        cmocka_unit_test(test_tokens_differ_each_time),
        cmocka_unit_test(test_tampering_rejected),
        cmocka_unit_test(test_well_signed_but_malformed),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_future_clock_skew),
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_wrong_key_rejected),
        cmocka_unit_test(test_out_untouched_on_failure),
        cmocka_unit_test(test_keyring_encrypt_first_decrypt_any),
        cmocka_unit_test(test_keyring_rotate),
        cmocka_unit_test(test_interop_python),
    };
    return cmocka_run_group_tests_name("fernet", tests, NULL, NULL);
}
