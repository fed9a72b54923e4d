#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"

/* Process-wide by nature: stderr is one stream for the whole process. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum vz_log_level log_level = VZ_LOG_INFO;
static int log_fd = 2;
static char *secrets[VZ_MAX_SECRETS];
static size_t n_secrets;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void vz_log_set_level(enum vz_log_level level)
{
    pthread_mutex_lock(&log_mu);
    log_level = level;
    pthread_mutex_unlock(&log_mu);
}

enum vz_log_level vz_log_get_level(void)
{
    enum vz_log_level l;
    pthread_mutex_lock(&log_mu);
    l = log_level;
    pthread_mutex_unlock(&log_mu);
    return l;
}

int vz_log_level_parse(const char *s, enum vz_log_level *out)
{
    for (size_t i = 0; s && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum vz_log_level)i;
            return VZ_OK;
        }
    }
    if (s && strcasecmp(s, "warning") == 0) {
        *out = VZ_LOG_WARN;
        return VZ_OK;
    }
    return VZ_EINVAL;
}

void vz_log_set_fd(int fd)
{
    pthread_mutex_lock(&log_mu);
    log_fd = fd;
    pthread_mutex_unlock(&log_mu);
}

int vz_log_add_secret(const char *s)
{
    char *copy;
    if (!s || !*s)
        return VZ_OK;
    copy = strdup(s);
    if (!copy)
        return VZ_ENOMEM;
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < n_secrets; i++) {
        if (strcmp(secrets[i], s) == 0) {
            pthread_mutex_unlock(&log_mu);
            free(copy);
            return VZ_OK;
        }
    }
    if (n_secrets == VZ_MAX_SECRETS) {
        free(secrets[0]);
        memmove(secrets, secrets + 1, (VZ_MAX_SECRETS - 1) * sizeof(secrets[0]));
        n_secrets--;
    }
    secrets[n_secrets++] = copy;
    pthread_mutex_unlock(&log_mu);
    return VZ_OK;
}

void vz_log_clear_secrets(void)
{
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < n_secrets; i++)
        free(secrets[i]);
    n_secrets = 0;
    pthread_mutex_unlock(&log_mu);
}

/* Caller holds log_mu. At each position, the longest registered secret that
 * starts there wins, so a secret that contains another is hidden whole. */
static size_t redact_locked(const char *in, char *out, size_t n)
{
    size_t o = 0, i = 0, len = strlen(in);
    while (i < len) {
        size_t best = 0;
        for (size_t k = 0; k < n_secrets; k++) {
            size_t sl = strlen(secrets[k]);
            if (sl > best && sl <= len - i && memcmp(in + i, secrets[k], sl) == 0)
                best = sl;
        }
        if (best) {
            for (const char *m = "****"; *m; m++, o++)
                if (o + 1 < n)
                    out[o] = *m;
            i += best;
        } else {
            if (o + 1 < n)
                out[o] = in[i];
            o++;
            i++;
        }
    }
    if (n)
        out[o < n ? o : n - 1] = '\0';
    return o;
}

size_t vz_log_redact(const char *in, char *out, size_t n)
{
    size_t r;
    pthread_mutex_lock(&log_mu);
    r = redact_locked(in, out, n);
    pthread_mutex_unlock(&log_mu);
    return r;
}

void vz_log(enum vz_log_level level, const char *fmt, ...)
{
    char msg[VZ_MAX_LOG_LINE], line[VZ_MAX_LOG_LINE + 64], red[VZ_MAX_LOG_LINE + 64];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t n;
    int fd;

    if (level < VZ_LOG_DEBUG || level >= VZ_LOG_OFF)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
             level_names[level], msg);

    pthread_mutex_lock(&log_mu);
    if (level < log_level) {
        pthread_mutex_unlock(&log_mu);
        return;
    }
    n = redact_locked(line, red, sizeof(red) - 1);
    if (n > sizeof(red) - 2)
        n = sizeof(red) - 2;
    /* Control characters from user input must not forge extra log lines. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)red[i] < 0x20 && red[i] != '\t')
            red[i] = ' ';
    red[n++] = '\n';
    fd = log_fd;
    {
        const char *p = red;
        while (n > 0) {
            ssize_t w = write(fd, p, n);
            if (w <= 0)
                break;
            p += w;
            n -= (size_t)w;
        }
    }
    pthread_mutex_unlock(&log_mu);
}
