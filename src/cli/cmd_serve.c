#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "app/app.h"
#include "cli/cli.h"
#include "core/log.h"
#include "http/server.h"

/* Signals are taken synchronously with sigwait() in the main thread, so no
 * handler runs in the middle of a libmicrohttpd or SQLite call. They are
 * blocked before any thread starts; every thread inherits the mask. */
static int block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, set, NULL);
}

int vz_cmd_serve(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_app app;
    struct vz_http *http = NULL;
    struct vz_err err = VZ_ERR_INIT;
    sigset_t set;
    int sig = 0;

    (void)argv;
    if (argc > 1) {
        vz_cli_fail("serve takes no arguments (settings come from flags before the command)");
        return VZ_EXIT_USAGE;
    }
    if (block_signals(&set) != 0) {
        vz_cli_fail("cannot block signals: %s", strerror(errno));
        return VZ_EXIT_FAIL;
    }
    if (cfg->secret && vz_log_add_secret(cfg->secret) < 0)
        return VZ_EXIT_FAIL;
    if (vz_app_open(&app, cfg, VZ_APP_WITH_AUTH | VZ_APP_WITH_JOBS, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_CONFIG;
    }
    if (app.new_token[0]) {
        /* Shown once, on stdout (not in the log): only its hash is kept. */
        printf("admin token (shown once; `vectoraiz token reset` makes a new one): %s\n",
               app.new_token);
        fflush(stdout);
        OPENSSL_cleanse(app.new_token, sizeof(app.new_token));
    }
    if (vz_http_start(&app, &http, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        vz_app_close(&app);
        return VZ_EXIT_FAIL;
    }
    if (!vz_config_host_is_loopback(cfg->listen_host))
        vz_warn("listening on %s, which is reachable from other machines; the API is protected "
                "by the admin token only",
                cfg->listen_host);
    vz_info("vectoraiz %s listening on http://%s%s%s:%d/ (data: %s)", VZ_VERSION,
            strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
            strchr(cfg->listen_host, ':') ? "]" : "", vz_http_port(http), cfg->data_dir);
    while (sigwait(&set, &sig) != 0)
        ;
    vz_info("signal %d: shutting down", sig);
    vz_http_stop(http);
    vz_app_close(&app);
    vz_info("stopped");
    return VZ_EXIT_OK;
}
