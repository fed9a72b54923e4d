/* Loading the credentials key: from the secret (Fernet key or HKDF), from
 * the key file (created, reused, refused), and old secrets for rotation. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

#include "core/limits.h"
#include "crypto/b64.h"
#include "crypto/fernet.h"
#include "crypto/keys.h"

#define PY "/usr/bin/python3"
#define KEY_A "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
/* HKDF-SHA256(secret, VZ_KEYS_HKDF_SALT, VZ_KEYS_HKDF_INFO, 32) as a Fernet
 * key, computed with python3-cryptography 38.0.4's HKDF. */
#define PASS_1 "correct horse battery staple"
#define PASS_1_KEY "nop8Mu4fUgaZemEybZCCJ8LifN9OoqwpDzpHmvuIrQo="

/* ---- helpers ---- */

/* Run tests/unit/fernet_interop.py (see there) and return its JSON reply.
 * A missing python3 or python3-cryptography fails the test. */
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

static void write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static struct vz_fernet_key key_of(const char *text)
{
    struct vz_fernet_key k;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_fernet_key_parse(text, strlen(text), &k, &err), 0);
    return k;
}

static void key_text(const struct vz_fernet_key *k, char out[VZ_FERNET_KEY_TEXT_LEN + 1])
{
    unsigned char raw[VZ_FERNET_KEY_LEN];
    memcpy(raw, k->sign, 16);
    memcpy(raw + 16, k->enc, 16);
    vz_b64_encode_to(VZ_B64_URL, raw, sizeof(raw), out);
}

static void load_ok(const char *dir, const char *secret, const char *old, struct vz_keyring *ring,
                    struct vz_keys_info *info)
{
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_keys_load(dir, secret, old, ring, info, &err);
    if (rc != 0)
        fail_msg("vz_keys_load: %d %s", rc, err.msg);
}

/* Encrypt with the ring, decrypt with k alone: the ring's primary is k. */
static void assert_primary_is(const struct vz_keyring *ring, const struct vz_fernet_key *k)
{
    struct vz_buf tok = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    assert_true(ring->n >= 1);
    assert_memory_equal(&ring->keys[0], k, sizeof(*k));
    assert_int_equal(vz_keyring_encrypt(ring, "cred", 4, &tok, &err), 0);
    assert_int_equal(vz_fernet_decrypt(k, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "cred");
    vz_buf_release(&tok);
    vz_buf_release(&out);
}

/* ---- secrets ---- */

static void test_secret_that_is_a_fernet_key_is_used_directly(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_fernet_key k = key_of(KEY_A);
    char dir[PATH_MAX], keyfile[PATH_MAX + 32];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    load_ok(dir, KEY_A, NULL, &ring, &info);
    assert_int_equal(info.source, VZ_KEYS_ENV_FERNET_KEY);
    assert_string_equal(vz_keys_source_name(info.source), "env-fernet-key");
    assert_string_equal(info.path, "");
    assert_int_equal(info.n_old, 0);
    assert_int_equal(ring.n, 1);
    assert_primary_is(&ring, &k);
    vz_keyring_release(&ring);

    /* Surrounding whitespace (a trailing newline from a secrets file) does
     * not turn the key into a passphrase. */
    load_ok(dir, "  " KEY_A "\r\n", NULL, &ring, &info);
    assert_int_equal(info.source, VZ_KEYS_ENV_FERNET_KEY);
    assert_primary_is(&ring, &k);
    vz_keyring_release(&ring);

    /* The secret wins: no key file is made. */
    vzt_pathf(keyfile, sizeof(keyfile), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    assert_int_equal(access(keyfile, F_OK), -1);
    vzt_rmrf(dir);
}

static void test_other_secret_is_derived_deterministically(void **state)
{
    struct vz_keyring r1, r2, r3;
    struct vz_keys_info info;
    struct vz_fernet_key k = key_of(PASS_1_KEY);
    char text[VZ_FERNET_KEY_TEXT_LEN + 1];
    (void)state;

    load_ok(NULL, PASS_1, NULL, &r1, &info);
    assert_int_equal(info.source, VZ_KEYS_ENV_DERIVED);
    assert_string_equal(vz_keys_source_name(info.source), "env-derived");
    assert_primary_is(&r1, &k); /* the independently computed value */
    load_ok(NULL, PASS_1, NULL, &r2, &info);
    assert_memory_equal(&r1.keys[0], &r2.keys[0], sizeof(r1.keys[0]));
    load_ok(NULL, PASS_1 "!", NULL, &r3, &info);
    assert_memory_not_equal(&r1.keys[0], &r3.keys[0], sizeof(r1.keys[0]));
    key_text(&r3.keys[0], text);
    assert_string_not_equal(text, PASS_1_KEY);

    /* Almost-keys are passphrases: standard alphabet, missing padding. */
    vz_keyring_release(&r3);
    load_ok(NULL, "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=", NULL, &r3, &info);
    assert_int_equal(info.source, VZ_KEYS_ENV_DERIVED);
    vz_keyring_release(&r3);
    load_ok(NULL, "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4", NULL, &r3, &info);
    assert_int_equal(info.source, VZ_KEYS_ENV_DERIVED);

    vz_keyring_release(&r1);
    vz_keyring_release(&r2);
    vz_keyring_release(&r3);
}

/* Our HKDF against Python's for a spread of secrets. */
static void test_derivation_matches_python_hkdf(void **state)
{
    static const char *secrets[] = {
        PASS_1,
        "x",
        "p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91",
        "a secret with , a comma is fine here",
    };
    size_t n = sizeof(secrets) / sizeof(secrets[0]) + 1;
    char longsec[VZ_MAX_SECRET_LEN + 1], hex[2 * VZ_MAX_SECRET_LEN + 1];
    json_t *items = json_array(), *req, *reply;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    for (size_t i = 0; i < VZ_MAX_SECRET_LEN; i++)
        longsec[i] = (char)('!' + i % 90);
    longsec[VZ_MAX_SECRET_LEN] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *s = i < n - 1 ? secrets[i] : longsec;
        size_t len = strlen(s);
        for (size_t j = 0; j < len; j++)
            sprintf(hex + 2 * j, "%02x", (unsigned char)s[j]);
        hex[2 * len] = '\0';
        json_array_append_new(items, json_string(hex));
    }
    req = json_pack("{s:s, s:s, s:o}", "salt", VZ_KEYS_HKDF_SALT, "info", VZ_KEYS_HKDF_INFO,
                    "items", items);
    reply = py_run("hkdf", req);
    assert_int_equal(json_array_size(reply), n);
    assert_string_equal(json_string_value(json_array_get(reply, 0)), PASS_1_KEY);
    for (size_t i = 0; i < n; i++) {
        const char *s = i < n - 1 ? secrets[i] : longsec;
        struct vz_fernet_key k;
        char text[VZ_FERNET_KEY_TEXT_LEN + 1];
        int derived = -1;
        assert_int_equal(vz_keys_from_secret(s, strlen(s), &k, &derived, &err), 0);
        assert_int_equal(derived, 1);
        key_text(&k, text);
        assert_string_equal(text, json_string_value(json_array_get(reply, i)));
    }
    json_decref(reply);
    json_decref(req);
}

static void test_bad_secrets(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    char longsec[VZ_MAX_SECRET_LEN + 2];
    struct vz_fernet_key k;
    (void)state;

    /* Blank but set: an error, not a silent fall-back to the key file. */
    assert_int_equal(vz_keys_load("/nonexistent", " \n", NULL, &ring, &info, &err), VZ_EINVAL);
    assert_non_null(strstr(err.msg, VZ_KEYS_ENV_SECRET));
    assert_int_equal(ring.n, 0);

    memset(longsec, 'k', sizeof(longsec) - 1);
    longsec[sizeof(longsec) - 1] = '\0';
    assert_int_equal(vz_keys_load(NULL, longsec, NULL, &ring, &info, &err), VZ_EINVAL);
    assert_null(strstr(err.msg, "kkkk"));
    assert_int_equal(vz_keys_from_secret("", 0, &k, NULL, &err), VZ_EINVAL);

    /* Neither a secret nor a data directory. */
    assert_int_equal(vz_keys_load(NULL, NULL, NULL, &ring, &info, &err), VZ_EINVAL);
    assert_int_equal(vz_keys_load("", "", NULL, &ring, &info, &err), VZ_EINVAL);
}

/* ---- the key file ---- */

static void test_key_file_created_then_reused(void **state)
{
    struct vz_keyring r1, r2;
    struct vz_keys_info info;
    char dir[PATH_MAX], data[PATH_MAX + 16], path[PATH_MAX + 32];
    struct stat st;
    size_t len = 0;
    char *content;
    mode_t old_umask;
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(data, sizeof(data), "%s/a/data", dir); /* does not exist yet */
    vzt_pathf(path, sizeof(path), "%s/%s", data, VZ_KEYS_FILE_NAME);

    /* A permissive umask must not leak into the file's or directory's mode. */
    old_umask = umask(0);
    load_ok(data, NULL, NULL, &r1, &info);
    umask(old_umask);
    assert_int_equal(info.source, VZ_KEYS_FILE_CREATED);
    assert_string_equal(vz_keys_source_name(info.source), "key-file-created");
    assert_string_equal(info.path, path);
    assert_int_equal(r1.n, 1);

    assert_int_equal(stat(data, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    /* The file is the key text and a newline; it is the ring's key. */
    content = vzt_slurp(path, &len);
    assert_non_null(content);
    assert_int_equal(len, VZ_FERNET_KEY_TEXT_LEN + 1);
    assert_int_equal(content[VZ_FERNET_KEY_TEXT_LEN], '\n');
    content[VZ_FERNET_KEY_TEXT_LEN] = '\0';
    {
        struct vz_fernet_key k = key_of(content);
        assert_primary_is(&r1, &k);
    }
    free(content);

    /* Second start: same key, file untouched, no temporary files left. */
    load_ok(data, NULL, "", &r2, &info);
    assert_int_equal(info.source, VZ_KEYS_FILE_EXISTING);
    assert_string_equal(vz_keys_source_name(info.source), "key-file-existing");
    assert_string_equal(info.path, path);
    assert_memory_equal(&r1.keys[0], &r2.keys[0], sizeof(r1.keys[0]));
    {
        char cmd[PATH_MAX + 64];
        FILE *p;
        char line[64];
        int count = 0;
        vzt_pathf(cmd, sizeof(cmd), "ls -A '%s'", data);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p))
            count++;
        pclose(p);
        assert_int_equal(count, 1);
    }

    vz_keyring_release(&r1);
    vz_keyring_release(&r2);

    /* A umask that takes the owner's write bit still gives exactly 0600. */
    assert_int_equal(unlink(path), 0);
    old_umask = umask(0277);
    load_ok(data, NULL, NULL, &r1, &info);
    umask(old_umask);
    assert_int_equal(info.source, VZ_KEYS_FILE_CREATED);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    vz_keyring_release(&r1);
    vzt_rmrf(dir);
}

static void test_key_file_written_by_hand(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_fernet_key k = key_of(KEY_A);
    char dir[PATH_MAX], path[PATH_MAX + 32];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(path, sizeof(path), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    write_file(path, KEY_A "\n\n \t\r\n", 0600);
    load_ok(dir, NULL, NULL, &ring, &info);
    assert_int_equal(info.source, VZ_KEYS_FILE_EXISTING);
    assert_primary_is(&ring, &k);
    vz_keyring_release(&ring);
    /* 0400 is fine too: only group and other bits matter. */
    assert_int_equal(chmod(path, 0400), 0);
    load_ok(dir, NULL, NULL, &ring, &info);
    vz_keyring_release(&ring);
    vzt_rmrf(dir);
}

static void test_key_file_with_loose_mode_refused(void **state)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0601, 0610};
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    char dir[PATH_MAX], path[PATH_MAX + 32], hint[PATH_MAX + 64];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(path, sizeof(path), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    vzt_pathf(hint, sizeof(hint), "chmod 600 %s", path);
    write_file(path, KEY_A "\n", 0600);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        vz_err_clear(&err);
        assert_int_equal(vz_keys_load(dir, NULL, NULL, &ring, &info, &err), VZ_EPERM);
        assert_int_equal(err.code, VZ_EPERM);
        assert_non_null(strstr(err.msg, hint));
        assert_null(strstr(err.msg, "cw_0x"));
        assert_int_equal(ring.n, 0);
    }
    vzt_rmrf(dir);
}

static void test_key_file_not_regular_refused(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(path, sizeof(path), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    /* A directory... */
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(vz_keys_load(dir, NULL, NULL, &ring, &info, &err), VZ_EPERM);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(rmdir(path), 0);
    /* ...and a FIFO, which must not hang the start-up. */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(vz_keys_load(dir, NULL, NULL, &ring, &info, &err), VZ_EPERM);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(unlink(path), 0);
    /* A dangling symlink is an error, not something to write through. */
    assert_int_equal(symlink("/nonexistent/vz-key", path), 0);
    assert_true(vz_keys_load(dir, NULL, NULL, &ring, &info, &err) < 0);
    assert_int_equal(access("/nonexistent/vz-key", F_OK), -1);
    assert_int_equal(unlink(path), 0);
    vzt_rmrf(dir);
}

static void test_corrupted_key_file_refused(void **state)
{
    static const char *bodies[] = {
        "SUPERSECRETCONTENT-not-a-key\n",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e\n", /* truncated key */
        "",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=cw_0x689RpI\n",
        " cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n", /* leading space */
    };
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(path, sizeof(path), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        write_file(path, bodies[i], 0600);
        assert_int_equal(vz_keys_load(dir, NULL, NULL, &ring, &info, &err), VZ_ECRYPTO);
        assert_non_null(strstr(err.msg, path));
        assert_null(strstr(err.msg, "SUPERSECRET"));
        assert_null(strstr(err.msg, "cw_0x"));
        assert_null(strstr(err.msg, "689Rp"));
        assert_int_equal(ring.n, 0);
        /* The broken file is left alone for the operator to restore. */
        {
            size_t len = 0;
            char *c = vzt_slurp(path, &len);
            assert_non_null(c);
            assert_string_equal(c, bodies[i]);
            free(c);
        }
    }
    /* Far too large. */
    {
        char *big = malloc(VZ_MAX_KEYFILE * 2);
        assert_non_null(big);
        memset(big, 'A', VZ_MAX_KEYFILE * 2 - 1);
        big[VZ_MAX_KEYFILE * 2 - 1] = '\0';
        write_file(path, big, 0600);
        free(big);
        assert_int_equal(vz_keys_load(dir, NULL, NULL, &ring, &info, &err), VZ_ECRYPTO);
        assert_null(strstr(err.msg, "AAAA"));
    }
    vzt_rmrf(dir);
}

static void test_data_dir_problems(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    char dir[PATH_MAX], file[PATH_MAX + 32], sub[PATH_MAX + 64];
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(file, sizeof(file), "%s/plain", dir);
    write_file(file, "x", 0600);
    /* The data directory is a file, or below one. */
    assert_true(vz_keys_load(file, NULL, NULL, &ring, &info, &err) < 0);
    assert_non_null(strstr(err.msg, file));
    vzt_pathf(sub, sizeof(sub), "%s/below", file);
    assert_true(vz_keys_load(sub, NULL, NULL, &ring, &info, &err) < 0);
    assert_int_equal(ring.n, 0);
    /* A directory we may not write to (root ignores modes: skip that part). */
    if (geteuid() != 0) {
        vzt_pathf(sub, sizeof(sub), "%s/ro", dir);
        assert_int_equal(mkdir(sub, 0500), 0);
        assert_int_equal(vz_keys_load(sub, NULL, NULL, &ring, &info, &err), VZ_EPERM);
        assert_int_equal(chmod(sub, 0700), 0);
    }
    vzt_rmrf(dir);
}

/* Several processes starting at once on an empty data directory must all
 * end up with the same key: none may replace another's file. */
static void test_concurrent_first_start_agrees(void **state)
{
    enum { N = 8 };
    char dir[PATH_MAX], data[PATH_MAX + 16];
    int fds[N][2];
    pid_t pids[N];
    struct vz_fernet_key keys[N];
    int created = 0;
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    vzt_pathf(data, sizeof(data), "%s/data", dir);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct vz_keyring ring;
            struct vz_keys_info info;
            struct vz_err err = VZ_ERR_INIT;
            unsigned char rec[sizeof(struct vz_fernet_key) + 1];
            int rc = vz_keys_load(data, NULL, NULL, &ring, &info, &err);
            if (rc < 0)
                _exit(2);
            memcpy(rec, &ring.keys[0], sizeof(ring.keys[0]));
            rec[sizeof(rec) - 1] = info.source == VZ_KEYS_FILE_CREATED;
            if (write(fds[i][1], rec, sizeof(rec)) != (ssize_t)sizeof(rec))
                _exit(3);
            _exit(0);
        }
        close(fds[i][1]);
    }
    for (int i = 0; i < N; i++) {
        unsigned char rec[sizeof(struct vz_fernet_key) + 1];
        int st;
        assert_int_equal(read(fds[i][0], rec, sizeof(rec)), (ssize_t)sizeof(rec));
        close(fds[i][0]);
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        memcpy(&keys[i], rec, sizeof(keys[i]));
        created += rec[sizeof(rec) - 1];
    }
    assert_int_equal(created, 1);
    for (int i = 1; i < N; i++)
        assert_memory_equal(&keys[0], &keys[i], sizeof(keys[0]));
    vzt_rmrf(dir);
}

/* ---- old secrets ---- */

static void test_old_secrets_decrypt_only(void **state)
{
    struct vz_keyring ring, old_ring, prim_ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_fernet_key kb, kc, primary;
    struct vz_buf tok = VZ_BUF_INIT(0), out = VZ_BUF_INIT(0), rot = VZ_BUF_INIT(0);
    char kb_text[VZ_FERNET_KEY_TEXT_LEN + 1], old[256];
    int derived = -1;
    (void)state;

    assert_int_equal(vz_fernet_key_generate(kb_text, &err), 0);
    kb = key_of(kb_text);
    assert_int_equal(vz_keys_from_secret("old passphrase", 14, &kc, &derived, &err), 0);
    assert_int_equal(derived, 1);
    primary = key_of(KEY_A);

    /* A Fernet key and a passphrase, with spaces and empty entries. */
    vzt_pathf(old, sizeof(old), " %s , ,old passphrase,", kb_text);
    load_ok(NULL, KEY_A, old, &ring, &info);
    assert_int_equal(ring.n, 3);
    assert_int_equal(info.n_old, 2);
    assert_memory_equal(&ring.keys[1], &kb, sizeof(kb));
    assert_memory_equal(&ring.keys[2], &kc, sizeof(kc));
    assert_primary_is(&ring, &primary);

    /* Data written under either old secret is readable. */
    assert_int_equal(vz_fernet_encrypt(&kb, "under b", 7, &tok, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "under b");
    vz_buf_reset(&out);
    vz_buf_reset(&tok);
    assert_int_equal(vz_fernet_encrypt(&kc, "under c", 7, &tok, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&ring, tok.p, tok.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "under c");
    vz_buf_reset(&out);

    /* ...and never written: new tokens are not readable with old keys. */
    vz_keyring_init(&old_ring);
    assert_int_equal(vz_keyring_add(&old_ring, &kb, &err), 0);
    assert_int_equal(vz_keyring_add(&old_ring, &kc, &err), 0);
    assert_int_equal(vz_keyring_rotate_token(&ring, tok.p, tok.len, &rot, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&old_ring, rot.p, rot.len, 0, &out, &err), VZ_ETOKEN);
    vz_keyring_init(&prim_ring);
    assert_int_equal(vz_keyring_add(&prim_ring, &primary, &err), 0);
    assert_int_equal(vz_keyring_decrypt(&prim_ring, rot.p, rot.len, 0, &out, &err), 0);
    assert_string_equal(vz_buf_cstr(&out), "under c");

    /* A secret moved from primary to old keeps its key (same trimming). */
    vz_keyring_release(&ring);
    load_ok(NULL, KEY_A, "  old passphrase\n", &ring, &info);
    assert_memory_equal(&ring.keys[1], &kc, sizeof(kc));
    vz_keyring_release(&ring);

    /* Old secrets also follow a key file. */
    {
        char dir[PATH_MAX];
        vzt_tmpdir(dir, sizeof(dir));
        load_ok(dir, NULL, kb_text, &ring, &info);
        assert_int_equal(info.source, VZ_KEYS_FILE_CREATED);
        assert_int_equal(ring.n, 2);
        assert_memory_equal(&ring.keys[1], &kb, sizeof(kb));
        vz_keyring_release(&ring);
        vzt_rmrf(dir);
    }

    vz_keyring_release(&old_ring);
    vz_keyring_release(&prim_ring);
    vz_buf_release(&tok);
    vz_buf_release(&out);
    vz_buf_release(&rot);
}

static void test_too_many_old_secrets(void **state)
{
    struct vz_keyring ring;
    struct vz_keys_info info;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    /* 1 primary + 7 old fills the ring exactly. */
    load_ok(NULL, KEY_A, "s1,s2,s3,s4,s5,s6,s7", &ring, &info);
    assert_int_equal(ring.n, VZ_KEYRING_MAX);
    vz_keyring_release(&ring);
    assert_int_equal(
        vz_keys_load(NULL, KEY_A, "s1,s2,s3,s4,s5,s6,s7,s8-secret", &ring, &info, &err), VZ_ELIMIT);
    assert_int_equal(ring.n, 0);
    assert_null(strstr(err.msg, "s8-secret"));
    /* A bad entry names its position, not its value. */
    {
        char big[VZ_MAX_SECRET_LEN + 16];
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        big[0] = 'a';
        big[1] = ',';
        assert_int_equal(vz_keys_load(NULL, KEY_A, big, &ring, &info, &err), VZ_EINVAL);
        assert_non_null(strstr(err.msg, "entry 2"));
        assert_null(strstr(err.msg, "zzzz"));
        assert_int_equal(ring.n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_that_is_a_fernet_key_is_used_directly),
        cmocka_unit_test(test_other_secret_is_derived_deterministically),
        cmocka_unit_test(test_derivation_matches_python_hkdf),
        cmocka_unit_test(test_bad_secrets),
        cmocka_unit_test(test_key_file_created_then_reused),
        cmocka_unit_test(test_key_file_written_by_hand),
        cmocka_unit_test(test_key_file_with_loose_mode_refused),
        cmocka_unit_test(test_key_file_not_regular_refused),
        cmocka_unit_test(test_corrupted_key_file_refused),
        cmocka_unit_test(test_data_dir_problems),
        cmocka_unit_test(test_concurrent_first_start_agrees),
        cmocka_unit_test(test_old_secrets_decrypt_only),
        cmocka_unit_test(test_too_many_old_secrets),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
