/* Run-time settings: defaults, then environment, then command-line flags.
 *
 * Every setting is listed once in the table in config.c with its
 * environment variable, flag, default and help text; the README and
 * `vectoraiz --help` are generated from the same facts. */
#ifndef VZ_CORE_CONFIG_H
#define VZ_CORE_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

struct vz_config {
    char data_dir[PATH_MAX];     /* VECTORAIZ_DATA_DIR, --data-dir */
    char listen_host[256];       /* host part of VECTORAIZ_LISTEN, --listen */
    int listen_port;             /* port part of VECTORAIZ_LISTEN */
    long long extract_max_rows;  /* DB_EXTRACT_MAX_ROWS */
    char *secret;                /* VECTORAIZ_APIKEY_HMAC_SECRET: owned, may be NULL */
    char *secret_old;            /* VECTORAIZ_APIKEY_HMAC_SECRET_OLD: owned, may be NULL */
    enum vz_log_level log_level; /* VECTORAIZ_LOG_LEVEL, --log-level */
    int http_threads;            /* VECTORAIZ_HTTP_THREADS */
    int extract_workers;         /* VECTORAIZ_EXTRACT_WORKERS */
};

/* A getenv-like lookup so tests can supply their own environment.
 * Returns a borrowed string or NULL. */
typedef const char *(*vz_getenv_fn)(const char *name);

/* Fill c with defaults. Never fails. */
void vz_config_init(struct vz_config *c);
/* Free owned strings (secrets are wiped first). c is left as after init. */
void vz_config_release(struct vz_config *c);

/* Apply the environment over the current values. 0 or VZ_EINVAL with a
 * message naming the variable and the accepted form. */
int vz_config_load_env(struct vz_config *c, vz_getenv_fn get, struct vz_err *err) VZ_MUST_CHECK;

/* Apply one setting by name (the flag name without dashes, e.g.
 * "data-dir", "listen", "log-level"). 0, VZ_EINVAL for a bad value, or
 * VZ_ENOTFOUND for an unknown name. */
int vz_config_set(struct vz_config *c, const char *name, const char *value,
                  struct vz_err *err) VZ_MUST_CHECK;

/* Parse "host:port", "[v6]:port" or ":port" (host defaults to 127.0.0.1).
 * Port 0 asks the system for a free port. */
int vz_config_parse_listen(const char *s, char *host, size_t hostlen, int *port,
                           struct vz_err *err) VZ_MUST_CHECK;

/* 1 if host is a loopback address or "localhost". */
int vz_config_host_is_loopback(const char *host);

/* Print the settings table (env var, flag, default, meaning) for --help. */
void vz_config_print_help(FILE *out);

#endif
