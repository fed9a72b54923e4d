#include "core/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

enum setting_id {
    S_DATA_DIR,
    S_LISTEN,
    S_MAX_ROWS,
    S_SECRET,
    S_SECRET_OLD,
    S_LOG_LEVEL,
    S_THREADS,
    S_WORKERS
};

struct setting {
    enum setting_id id;
    const char *env;  /* environment variable */
    const char *flag; /* long flag without dashes, NULL if env only */
    const char *def;  /* default shown in help */
    const char *help;
};

static const struct setting settings[] = {
    {S_DATA_DIR, "VECTORAIZ_DATA_DIR", "data-dir", "./vectoraiz-data",
     "where the metadata store, key file and datasets live"},
    {S_LISTEN, "VECTORAIZ_LISTEN", "listen", "127.0.0.1:8420",
     "address the server binds (host:port); non-loopback prints a warning"},
    {S_MAX_ROWS, "DB_EXTRACT_MAX_ROWS", "max-rows", "5000000",
     "most rows one extraction may write (spec M3)"},
    {S_SECRET, "VECTORAIZ_APIKEY_HMAC_SECRET", NULL, "(unset: <data>/secret.key)",
     "credentials key: a Fernet key, or any string (HKDF-derived)"},
    {S_SECRET_OLD, "VECTORAIZ_APIKEY_HMAC_SECRET_OLD", NULL, "(unset)",
     "comma-separated earlier keys, accepted for reading during rotation"},
    {S_LOG_LEVEL, "VECTORAIZ_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
    {S_THREADS, "VECTORAIZ_HTTP_THREADS", "http-threads", "4", "HTTP worker threads (1-64)"},
    {S_WORKERS, "VECTORAIZ_EXTRACT_WORKERS", "extract-workers", "2",
     "extractions that run at once (1-16); more wait in a queue"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void vz_config_init(struct vz_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", "./vectoraiz-data");
    snprintf(c->listen_host, sizeof(c->listen_host), "%s", "127.0.0.1");
    c->listen_port = 8420;
    c->extract_max_rows = 5000000;
    c->log_level = VZ_LOG_INFO;
    c->http_threads = 4;
    c->extract_workers = 2;
}

static void free_secret(char **p)
{
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void vz_config_release(struct vz_config *c)
{
    free_secret(&c->secret);
    free_secret(&c->secret_old);
    vz_config_init(c);
}

int vz_config_host_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

int vz_config_parse_listen(const char *s, char *host, size_t hostlen, int *port, struct vz_err *err)
{
    const char *colon;
    size_t hl;
    char *end;
    long p;

    if (!s || !*s)
        return vz_err_set(err, VZ_EINVAL, "listen address is empty; expected host:port");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return vz_err_set(err, VZ_EINVAL, "bad listen address; expected [v6addr]:port");
        hl = (size_t)(close - s - 1);
        colon = close + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return vz_err_set(err, VZ_EINVAL, "bad listen address; expected host:port");
        hl = (size_t)(colon - s);
    }
    if (hl >= hostlen)
        return vz_err_set(err, VZ_EINVAL, "listen host is too long");
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return vz_err_set(err, VZ_EINVAL, "listen port must be 0-65535 (0 picks a free port)");
    if (hl == 0) {
        snprintf(host, hostlen, "127.0.0.1");
    } else {
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    *port = (int)p;
    return VZ_OK;
}

static int parse_ll(const char *name, const char *v, long long lo, long long hi, long long *out,
                    struct vz_err *err)
{
    char *end;
    long long x;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return vz_err_set(err, VZ_EINVAL, "%s must be an integer from %lld to %lld", name, lo, hi);
    *out = x;
    return VZ_OK;
}

static int apply(struct vz_config *c, const struct setting *s, const char *name, const char *v,
                 struct vz_err *err)
{
    long long x;
    int rc;
    char *dup;

    switch (s->id) {
    case S_DATA_DIR:
        if (!*v || strlen(v) >= sizeof(c->data_dir) - 64)
            return vz_err_set(err, VZ_EINVAL, "%s must be a non-empty path", name);
        snprintf(c->data_dir, sizeof(c->data_dir), "%s", v);
        return VZ_OK;
    case S_LISTEN: {
        struct vz_err perr = VZ_ERR_INIT;
        rc = vz_config_parse_listen(v, c->listen_host, sizeof(c->listen_host), &c->listen_port,
                                    &perr);
        if (rc < 0)
            return vz_err_set(err, rc, "%s: %s", name, perr.msg);
        return VZ_OK;
    }
    case S_MAX_ROWS:
        rc = parse_ll(name, v, 1, 1000000000000LL, &x, err);
        if (rc == 0)
            c->extract_max_rows = x;
        return rc;
    case S_THREADS:
        rc = parse_ll(name, v, 1, 64, &x, err);
        if (rc == 0)
            c->http_threads = (int)x;
        return rc;
    case S_WORKERS:
        rc = parse_ll(name, v, 1, 16, &x, err);
        if (rc == 0)
            c->extract_workers = (int)x;
        return rc;
    case S_LOG_LEVEL:
        if (vz_log_level_parse(v, &c->log_level) < 0)
            return vz_err_set(err, VZ_EINVAL, "%s must be debug, info, warn or error", name);
        return VZ_OK;
    case S_SECRET:
    case S_SECRET_OLD:
        if (!*v)
            return VZ_OK; /* empty means unset */
        dup = strdup(v);
        if (!dup)
            return vz_err_set(err, VZ_ENOMEM, NULL);
        free_secret(s->id == S_SECRET ? &c->secret : &c->secret_old);
        *(s->id == S_SECRET ? &c->secret : &c->secret_old) = dup;
        return VZ_OK;
    }
    return vz_err_set(err, VZ_EINTERNAL, "unhandled setting");
}

int vz_config_load_env(struct vz_config *c, vz_getenv_fn get, struct vz_err *err)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = get(settings[i].env);
        int rc;
        if (!v)
            continue;
        rc = apply(c, &settings[i], settings[i].env, v, err);
        if (rc < 0)
            return rc;
    }
    return VZ_OK;
}

int vz_config_set(struct vz_config *c, const char *name, const char *value, struct vz_err *err)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (settings[i].flag && strcmp(settings[i].flag, name) == 0) {
            char label[64];
            snprintf(label, sizeof(label), "--%s", name);
            return apply(c, &settings[i], label, value, err);
        }
    }
    return vz_err_set(err, VZ_ENOTFOUND, "unknown option --%s", name);
}

void vz_config_print_help(FILE *out)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char flag[48] = "";
        if (s->flag)
            snprintf(flag, sizeof(flag), "--%s", s->flag);
        fprintf(out, "  %-34s %-16s %s\n      default: %s\n", s->env, flag, s->help, s->def);
    }
}
