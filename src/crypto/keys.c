#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core/limits.h"
#include "crypto/b64.h"

const char *vz_keys_source_name(enum vz_keys_source s)
{
    switch (s) {
    case VZ_KEYS_ENV_FERNET_KEY:
        return "env-fernet-key";
    case VZ_KEYS_ENV_DERIVED:
        return "env-derived";
    case VZ_KEYS_FILE_EXISTING:
        return "key-file-existing";
    case VZ_KEYS_FILE_CREATED:
        return "key-file-created";
    }
    return "unknown";
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

static int errno_code(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS:
        return VZ_EPERM;
    case ENOSPC:
    case EDQUOT:
        return VZ_ENOSPACE;
    case ENOMEM:
        return VZ_ENOMEM;
    default:
        return VZ_EIO;
    }
}

static int hkdf_sha256(const char *secret, size_t len, unsigned char out[VZ_FERNET_KEY_LEN])
{
    char digest[] = "SHA256", salt[] = VZ_KEYS_HKDF_SALT, info[] = VZ_KEYS_HKDF_INFO;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    ok = ctx && EVP_KDF_derive(ctx, out, VZ_FERNET_KEY_LEN, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (!ok) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* what names the secret in messages (a variable name, never the value). */
static int secret_to_key(const char *what, const char *secret, size_t len,
                         struct vz_fernet_key *out, int *derived, struct vz_err *err)
{
    unsigned char raw[VZ_FERNET_KEY_LEN];
    int rc = VZ_OK;

    vz_fernet_key_wipe(out);
    trim(&secret, &len);
    if (len == 0)
        return vz_err_set(err, VZ_EINVAL, "%s is blank", what);
    if (len > VZ_MAX_SECRET_LEN)
        return vz_err_set(err, VZ_EINVAL, "%s is longer than %u bytes", what, VZ_MAX_SECRET_LEN);
    if (vz_fernet_key_parse(secret, len, out, NULL) == 0) {
        if (derived)
            *derived = 0;
        return VZ_OK;
    }
    if (hkdf_sha256(secret, len, raw) < 0) {
        rc = vz_err_set(err, VZ_ECRYPTO, "could not derive a key from %s (HKDF failed)", what);
        goto out;
    }
    vz_fernet_key_from_raw(raw, out);
    if (derived)
        *derived = 1;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

int vz_keys_from_secret(const char *secret, size_t len, struct vz_fernet_key *out, int *derived,
                        struct vz_err *err)
{
    return secret_to_key("secret", secret, len, out, derived, err);
}

/* ---- the key file ---- */

/* mkdir -p with mode 0700 for what it creates. */
static int ensure_dir(const char *dir, struct vz_err *err)
{
    char p[PATH_MAX];
    struct stat st;
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(p))
        return vz_err_set(err, VZ_EINVAL, "data directory path is empty or too long");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return vz_err_set(err, errno_code(errno), "cannot create directory %s: %s", p,
                              strerror(errno));
        p[i] = dir[i];
    }
    if (stat(dir, &st) < 0)
        return vz_err_set(err, errno_code(errno), "cannot access %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return vz_err_set(err, VZ_EINVAL, "data directory %s is not a directory", dir);
    return VZ_OK;
}

/* Check and read an open key file. The file's bytes never reach a
 * message: a half-pasted key is still most of a key. */
static int key_file_read(const char *path, int fd, struct vz_fernet_key *k, struct vz_err *err)
{
    char text[VZ_MAX_KEYFILE + 1];
    size_t len = 0;
    struct stat st;
    ssize_t got;
    int rc = VZ_OK;

    if (fstat(fd, &st) < 0)
        return vz_err_set(err, errno_code(errno), "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vz_err_set(err, VZ_EPERM, "key file %s is not a regular file", path);
    if (st.st_mode & 077)
        return vz_err_set(err, VZ_EPERM,
                          "key file %s is accessible by group or others (mode %03o); "
                          "run: chmod 600 %s",
                          path, (unsigned)(st.st_mode & 0777), path);
    do {
        got = read(fd, text + len, sizeof(text) - len);
        if (got > 0)
            len += (size_t)got;
    } while ((got > 0 && len < sizeof(text)) || (got < 0 && errno == EINTR));
    if (got < 0) {
        rc = vz_err_set(err, errno_code(errno), "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    while (len && is_space(text[len - 1]))
        len--;
    if (len > VZ_FERNET_KEY_TEXT_LEN || vz_fernet_key_parse(text, len, k, NULL) < 0) {
        rc = vz_err_set(err, VZ_ECRYPTO,
                        "key file %s does not hold a valid Fernet key (%d characters of "
                        "base64url); restore it from a backup: stored credentials need it",
                        path, VZ_FERNET_KEY_TEXT_LEN);
        goto out;
    }
out:
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

/* Open the key file for key_file_read(). O_NONBLOCK so that a FIFO planted
 * under that name fails the regular-file check instead of hanging the
 * start-up. -1 with errno set on failure. */
static int key_file_open(const char *path)
{
    return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir, struct vz_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = VZ_OK;

    if (fd < 0 || fsync(fd) < 0)
        rc = vz_err_set(err, errno_code(errno), "cannot sync directory %s: %s", dir,
                        strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write a fresh key to a private temporary file and link it into place.
 * link() rather than rename(): rename would silently replace a key file
 * that another vectoraiz process created a moment ago, and whichever key
 * lost would leave its credentials unreadable. On EEXIST *created is 0 and
 * the caller reads the winner's file instead. */
static int key_file_create(const char *dir, const char *path, struct vz_fernet_key *k, int *created,
                           struct vz_err *err)
{
    char text[VZ_FERNET_KEY_TEXT_LEN + 2], tmp[PATH_MAX], hex[17];
    unsigned char rnd[8];
    int fd = -1, rc, n, tmp_exists = 0;

    *created = 0;
    rc = vz_fernet_key_generate(text, err);
    if (rc < 0)
        goto out;
    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
        ERR_clear_error();
        rc = vz_err_set(err, VZ_ECRYPTO, "random number generator failed");
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    n = snprintf(tmp, sizeof(tmp), "%s/.%s.%s.tmp", dir, VZ_KEYS_FILE_NAME, hex);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        rc = vz_err_set(err, VZ_EINVAL, "data directory path too long");
        goto out;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = vz_err_set(err, errno_code(errno), "cannot create a key file in %s: %s", dir,
                        strerror(errno));
        goto out;
    }
    tmp_exists = 1;
    /* The umask only narrows the mode open() used; fchmod makes it exact. */
    strcat(text, "\n");
    if (fchmod(fd, 0600) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
        rc = vz_err_set(err, errno_code(errno), "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = vz_err_set(err, errno_code(errno), "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;

    if (link(tmp, path) == 0) {
        *created = 1;
    } else if (errno == EEXIST) {
        *created = 0;
    } else if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
        /* A file system without hard links (vfat, some FUSE mounts). rename
         * is the best left; the race above needs two first starts at once. */
        if (rename(tmp, path) < 0) {
            rc = vz_err_set(err, errno_code(errno), "cannot create %s: %s", path, strerror(errno));
            goto out;
        }
        tmp_exists = 0;
        *created = 1;
    } else {
        rc = vz_err_set(err, errno_code(errno), "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    if (tmp_exists) {
        (void)unlink(tmp); /* only a leftover; the key is safe under path */
        tmp_exists = 0;
    }
    rc = fsync_dir(dir, err);
    if (rc < 0)
        goto out;
    if (*created) {
        text[VZ_FERNET_KEY_TEXT_LEN] = '\0';
        rc = vz_fernet_key_parse(text, VZ_FERNET_KEY_TEXT_LEN, k, err);
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp_exists)
        (void)unlink(tmp); /* failed half-way: do not leave a key lying around */
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

static int key_file_load(const char *dir, struct vz_fernet_key *k, struct vz_keys_info *info,
                         struct vz_err *err)
{
    int fd = -1, rc, n, created = 0;

    if (!dir || !*dir)
        return vz_err_set(err, VZ_EINVAL, "no data directory for the key file");
    n = snprintf(info->path, sizeof(info->path), "%s/%s", dir, VZ_KEYS_FILE_NAME);
    if (n < 0 || (size_t)n >= sizeof(info->path)) {
        info->path[0] = '\0';
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    }
    rc = ensure_dir(dir, err);
    if (rc < 0)
        return rc;

    fd = key_file_open(info->path);
    if (fd < 0 && errno == ENOENT) {
        rc = key_file_create(dir, info->path, k, &created, err);
        if (rc < 0)
            return rc;
        if (created) {
            info->source = VZ_KEYS_FILE_CREATED;
            return VZ_OK;
        }
        fd = key_file_open(info->path);
    }
    if (fd < 0)
        return vz_err_set(err, errno_code(errno), "cannot open key file %s: %s", info->path,
                          strerror(errno));
    rc = key_file_read(info->path, fd, k, err);
    close(fd);
    if (rc == VZ_OK)
        info->source = VZ_KEYS_FILE_EXISTING;
    return rc;
}

/* <data_dir>/secret.key.old, left by `vectoraiz keys rotate --new-key-file`
 * until its transaction commits: while it exists the credentials may still
 * be under it, so it is a decrypt-only key (same checks as secret.key). */
static int add_old_key_file(const char *dir, struct vz_keyring *ring, struct vz_keys_info *info,
                            struct vz_err *err)
{
    struct vz_fernet_key k;
    char path[PATH_MAX];
    int fd, rc, n = snprintf(path, sizeof(path), "%s/%s.old", dir, VZ_KEYS_FILE_NAME);

    if (n < 0 || (size_t)n >= sizeof(path))
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    fd = key_file_open(path);
    if (fd < 0)
        return errno == ENOENT ? VZ_OK
                               : vz_err_set(err, errno_code(errno), "cannot open key file %s: %s",
                                            path, strerror(errno));
    rc = key_file_read(path, fd, &k, err);
    close(fd);
    if (rc == VZ_OK)
        rc = vz_keyring_add(ring, &k, err);
    if (rc == VZ_OK)
        info->n_old++;
    vz_fernet_key_wipe(&k);
    return rc;
}

/* ---- putting it together ---- */

static int add_old_secrets(const char *list, struct vz_keyring *ring, struct vz_keys_info *info,
                           struct vz_err *err)
{
    struct vz_fernet_key k;
    const char *p = list;
    int rc = VZ_OK;

    for (size_t entry = 1; *p; entry++) {
        const char *comma = strchr(p, ',');
        const char *s = p;
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char what[64];

        p = comma ? comma + 1 : p + len;
        trim(&s, &len);
        if (len == 0)
            continue;
        snprintf(what, sizeof(what), "entry %zu of %s", entry, VZ_KEYS_ENV_OLD_SECRETS);
        rc = secret_to_key(what, s, len, &k, NULL, err);
        if (rc < 0)
            goto out;
        if (ring->n >= VZ_KEYRING_MAX) {
            rc = vz_err_set(err, VZ_ELIMIT, "%s lists more than %d keys", VZ_KEYS_ENV_OLD_SECRETS,
                            VZ_KEYRING_MAX - 1);
            goto out;
        }
        rc = vz_keyring_add(ring, &k, err);
        if (rc < 0)
            goto out;
        info->n_old++;
    }
out:
    vz_fernet_key_wipe(&k);
    return rc;
}

int vz_keys_load(const char *data_dir, const char *secret, const char *old_secrets,
                 struct vz_keyring *ring, struct vz_keys_info *info, struct vz_err *err)
{
    struct vz_fernet_key k;
    int rc, derived = 0;

    vz_keyring_init(ring);
    memset(info, 0, sizeof(*info));
    vz_fernet_key_wipe(&k);

    if (secret && *secret) {
        rc = secret_to_key(VZ_KEYS_ENV_SECRET, secret, strlen(secret), &k, &derived, err);
        if (rc < 0)
            goto out;
        info->source = derived ? VZ_KEYS_ENV_DERIVED : VZ_KEYS_ENV_FERNET_KEY;
    } else {
        rc = key_file_load(data_dir, &k, info, err);
        if (rc < 0)
            goto out;
    }
    rc = vz_keyring_add(ring, &k, err);
    if (rc < 0)
        goto out;
    if (!(secret && *secret)) {
        rc = add_old_key_file(data_dir, ring, info, err);
        if (rc < 0)
            goto out;
    }
    if (old_secrets)
        rc = add_old_secrets(old_secrets, ring, info, err);
out:
    vz_fernet_key_wipe(&k);
    if (rc < 0)
        vz_keyring_release(ring);
    return rc;
}
