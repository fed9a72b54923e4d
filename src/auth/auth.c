#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/util.h"

#define TOKEN_PREFIX "vzt_"
#define MAX_SESSIONS 256
#define MAX_CLIENTS 256

struct session {
    char id_hash[65]; /* SHA-256 of the cookie value: a memory dump shows no live cookie */
    char csrf[VZ_AUTH_ID_LEN + 1];
    time_t expires;
};

struct client {
    char addr[64];
    int failures;
    time_t window_start;
};

struct vz_auth {
    pthread_mutex_t mu;
    char token_hash[65];
    char path[PATH_MAX];   /* the token file, re-read when it changes */
    struct timespec mtime; /* of the token file when last read */
    ino_t ino;             /* a reset renames a new file in: new inode */
    struct session sessions[MAX_SESSIONS];
    struct client clients[MAX_CLIENTS];
};

static int random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    size_t got = 0;
    if (nbytes > sizeof(b))
        return VZ_EINVAL;
    while (got < nbytes) {
        ssize_t n = getrandom(b + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return VZ_EIO;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    OPENSSL_cleanse(b, sizeof(b));
    return VZ_OK;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL))
        memset(md, 0, sizeof(md)); /* cannot happen with the default provider */
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int token_path(const char *data_dir, char *path, size_t n, struct vz_err *err)
{
    if (snprintf(path, n, "%s/%s", data_dir, VZ_AUTH_TOKEN_FILE) >= (int)n)
        return vz_err_set(err, VZ_EINVAL, "data directory path too long");
    return VZ_OK;
}

int vz_auth_reset_token(const char *data_dir, char *token, struct vz_err *err)
{
    char path[PATH_MAX], hash[65], line[80];
    int rc;

    rc = token_path(data_dir, path, sizeof(path), err);
    if (rc < 0)
        return rc;
    rc = vz_mkdir_p(data_dir, 0700, err);
    if (rc < 0)
        return rc;
    memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    if (random_hex(token + sizeof(TOKEN_PREFIX) - 1, 24) < 0)
        return vz_err_set(err, VZ_EIO, "no randomness available for the admin token");
    sha256_hex(token, hash);
    snprintf(line, sizeof(line), "sha256:%s\n", hash);
    return vz_write_file_atomic(path, line, strlen(line), 0600, err);
}

static int read_token_hash(const char *path, char out[65], struct vz_err *err)
{
    char buf[128];
    struct stat sb;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot read %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return vz_err_set(err, VZ_EPERM, "%s is not a regular file", path);
    }
    if (sb.st_mode & 077) {
        close(fd);
        return vz_err_set(err, VZ_EPERM,
                          "%s is readable by other users; run: chmod 600 %s (or reset it with "
                          "vectoraiz token reset)",
                          path, path);
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return vz_err_set(err, VZ_EIO, "cannot read %s", path);
    buf[n] = '\0';
    if (n < 7 + 64 || strncmp(buf, "sha256:", 7) != 0 || strspn(buf + 7, "0123456789abcdef") != 64)
        return vz_err_set(err, VZ_EINVAL,
                          "%s is not a vectoraiz admin token file; reset it with "
                          "vectoraiz token reset",
                          path);
    memcpy(out, buf + 7, 64);
    out[64] = '\0';
    return VZ_OK;
}

int vz_auth_open(const char *data_dir, struct vz_auth **out, char *new_token, struct vz_err *err)
{
    struct vz_auth *a;
    char path[PATH_MAX];
    int rc;

    *out = NULL;
    new_token[0] = '\0';
    rc = token_path(data_dir, path, sizeof(path), err);
    if (rc < 0)
        return rc;
    if (access(path, F_OK) != 0) {
        rc = vz_auth_reset_token(data_dir, new_token, err);
        if (rc < 0)
            return rc;
    }
    a = calloc(1, sizeof(*a));
    if (!a)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    rc = read_token_hash(path, a->token_hash, err);
    if (rc < 0) {
        free(a);
        return rc;
    }
    snprintf(a->path, sizeof(a->path), "%s", path);
    {
        struct stat sb;
        if (stat(path, &sb) == 0) {
            a->mtime = sb.st_mtim;
            a->ino = sb.st_ino;
        }
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return VZ_OK;
}

void vz_auth_free(struct vz_auth *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

/* `vectoraiz token reset` on a running server's data directory takes effect
 * at once: the file is replaced atomically (a new inode), so a changed inode
 * or mtime means a new, complete hash. A file that cannot be read keeps the hash in memory. */
static void reload_if_changed(struct vz_auth *a)
{
    struct stat sb;
    char hash[65];
    if (stat(a->path, &sb) != 0 || (sb.st_ino == a->ino && sb.st_mtim.tv_sec == a->mtime.tv_sec &&
                                    sb.st_mtim.tv_nsec == a->mtime.tv_nsec))
        return;
    if (read_token_hash(a->path, hash, NULL) == 0) {
        memcpy(a->token_hash, hash, sizeof(hash));
        a->mtime = sb.st_mtim;
        a->ino = sb.st_ino;
    }
}

int vz_auth_token_ok(struct vz_auth *a, const char *token)
{
    char hash[65];
    int ok;
    if (!token || strlen(token) > VZ_AUTH_TOKEN_TEXT_MAX)
        return 0;
    sha256_hex(token, hash);
    pthread_mutex_lock(&a->mu);
    reload_if_changed(a);
    /* Hashes have a fixed length, so the compare leaks nothing about the token. */
    ok = CRYPTO_memcmp(hash, a->token_hash, 64) == 0;
    pthread_mutex_unlock(&a->mu);
    return ok;
}

/* Caller holds a->mu. */
static struct client *client_slot(struct vz_auth *a, const char *addr, int create)
{
    struct client *oldest = &a->clients[0];
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (a->clients[i].addr[0] && strcmp(a->clients[i].addr, addr) == 0)
            return &a->clients[i];
        if (a->clients[i].window_start < oldest->window_start)
            oldest = &a->clients[i];
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
    oldest->window_start = time(NULL);
    return oldest;
}

int vz_auth_login_allowed(struct vz_auth *a, const char *client, int64_t *retry_after_s)
{
    int rc = VZ_OK;
    time_t now = time(NULL);
    struct client *c;
    pthread_mutex_lock(&a->mu);
    c = client_slot(a, client, 0);
    if (c && now - c->window_start >= VZ_AUTH_FAILURE_WINDOW_S) {
        c->failures = 0;
        c->window_start = now;
    }
    if (c && c->failures >= VZ_AUTH_MAX_FAILURES) {
        *retry_after_s = VZ_AUTH_FAILURE_WINDOW_S - (now - c->window_start);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
        rc = VZ_ELIMIT;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void vz_auth_login_failed(struct vz_auth *a, const char *client)
{
    struct client *c;
    pthread_mutex_lock(&a->mu);
    c = client_slot(a, client, 1);
    if (c->failures == 0)
        c->window_start = time(NULL);
    c->failures++;
    pthread_mutex_unlock(&a->mu);
}

void vz_auth_login_succeeded(struct vz_auth *a, const char *client)
{
    struct client *c;
    pthread_mutex_lock(&a->mu);
    c = client_slot(a, client, 0);
    if (c)
        memset(c, 0, sizeof(*c));
    pthread_mutex_unlock(&a->mu);
}

int vz_auth_session_new(struct vz_auth *a, char *session_id, char *csrf, struct vz_err *err)
{
    struct session *slot = NULL;
    time_t now = time(NULL);
    if (random_hex(session_id, VZ_AUTH_ID_LEN / 2) < 0 || random_hex(csrf, VZ_AUTH_ID_LEN / 2) < 0)
        return vz_err_set(err, VZ_EIO, "no randomness available for a session");
    pthread_mutex_lock(&a->mu);
    /* A free or expired slot, else the one closest to expiry. */
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        struct session *s = &a->sessions[i];
        if (!s->id_hash[0] || s->expires <= now) {
            slot = s;
            break;
        }
        if (!slot || s->expires < slot->expires)
            slot = s;
    }
    sha256_hex(session_id, slot->id_hash);
    memcpy(slot->csrf, csrf, VZ_AUTH_ID_LEN + 1);
    slot->expires = now + VZ_AUTH_SESSION_TTL_S;
    pthread_mutex_unlock(&a->mu);
    return VZ_OK;
}

/* Caller holds a->mu. */
static struct session *find_session(struct vz_auth *a, const char *session_id)
{
    char hash[65];
    time_t now = time(NULL);
    if (!session_id || strlen(session_id) != VZ_AUTH_ID_LEN)
        return NULL;
    sha256_hex(session_id, hash);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        struct session *s = &a->sessions[i];
        if (s->id_hash[0] && s->expires > now && CRYPTO_memcmp(s->id_hash, hash, 64) == 0)
            return s;
    }
    return NULL;
}

int vz_auth_session_ok(struct vz_auth *a, const char *session_id, char *csrf)
{
    struct session *s;
    pthread_mutex_lock(&a->mu);
    s = find_session(a, session_id);
    if (s && csrf)
        memcpy(csrf, s->csrf, VZ_AUTH_ID_LEN + 1);
    pthread_mutex_unlock(&a->mu);
    return s != NULL;
}

void vz_auth_session_end(struct vz_auth *a, const char *session_id)
{
    struct session *s;
    pthread_mutex_lock(&a->mu);
    s = find_session(a, session_id);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&a->mu);
}
