#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vz_uuid4(char out[VZ_UUID_LEN + 1])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return VZ_EIO;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, VZ_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return VZ_OK;
}

int vz_uuid_valid(const char *s)
{
    if (!s || strlen(s) != VZ_UUID_LEN)
        return 0;
    for (int i = 0; i < VZ_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

void vz_now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    size_t n;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L));
}

int64_t vz_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vz_errno_code(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return VZ_ENOSPACE;
    case EACCES:
    case EPERM:
    case EROFS:
        return VZ_EPERM;
    case ENOENT:
        return VZ_ENOTFOUND;
    case ENOMEM:
        return VZ_ENOMEM;
    case EEXIST:
        return VZ_EEXISTS;
    default:
        return VZ_EIO;
    }
}

int vz_mkdir_p(const char *path, mode_t mode, struct vz_err *err)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return vz_err_set(err, VZ_EINVAL, "bad directory path");
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
                int e = errno;
                return vz_err_set(err, vz_errno_code(e), "cannot create directory %s: %s", tmp,
                                  strerror(e));
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return VZ_OK;
}

int vz_fsync_parent(const char *path, struct vz_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rc = VZ_OK;
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir))
            return vz_err_set(err, VZ_EINVAL, "path too long");
        memcpy(dir, path, n ? n : 1);
        dir[n ? n : 1] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot open %s: %s", dir, strerror(errno));
    if (fsync(fd) != 0)
        rc = vz_err_set(err, vz_errno_code(errno), "fsync %s: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int vz_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct vz_err *err)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd = -1, rc = VZ_OK;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return vz_err_set(err, VZ_EINVAL, "path too long");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return vz_err_set(err, vz_errno_code(errno), "cannot create %s: %s", tmp, strerror(errno));
    /* The umask may have dropped bits; secrets must never get extra ones. */
    if (fchmod(fd, mode) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "chmod %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = vz_err_set(err, vz_errno_code(errno), "write %s: %s", tmp, strerror(errno));
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = vz_err_set(err, vz_errno_code(errno), "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = vz_err_set(err, vz_errno_code(errno), "rename to %s: %s", path, strerror(errno));
        goto out;
    }
    rc = vz_fsync_parent(path, err);
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int vz_rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
