#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct command {
    const char *name;
    int (*run)(struct vz_config *cfg, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", vz_cmd_serve, "run the HTTP API and web UI"},
    {"migrate", vz_cmd_migrate, "create or upgrade the metadata store, then exit"},
    {"conn", vz_cmd_conn, "add, list, show, test or remove database connections"},
    {"schema", vz_cmd_schema, "show the tables and columns of a connection's schema"},
    {"extract", vz_cmd_extract, "extract tables or one SELECT to Parquet datasets"},
    {"datasets", vz_cmd_datasets, "list or remove datasets"},
    {"search", vz_cmd_search, "search the indexed datasets (hybrid, vector or keyword)"},
    {"ask", vz_cmd_ask, "ask a question: the best matching rows (and an answer with a chat model)"},
    {"token", vz_cmd_token, "reset the admin token (prints the new one)"},
    {"keys", vz_cmd_keys, "rotate the credentials key, or show which key reads what"},
};

void vz_cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("vectoraiz: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vectoraiz [options] COMMAND [args]\n\n"
                 "Connects read-only to PostgreSQL and MySQL/MariaDB, extracts tables to\n"
                 "Parquet and makes them searchable.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\noptions:\n  -h, --help     show this help\n"
                 "  -V, --version  show the version\n"
                 "\nsettings (environment variable, flag, meaning; flags win):\n");
    vz_config_print_help(out);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

int vz_cli_main(int argc, char **argv)
{
    struct vz_config cfg;
    struct vz_err err = VZ_ERR_INIT;
    int i, rc = VZ_EXIT_USAGE;

    vz_config_init(&cfg);
    if (vz_config_load_env(&cfg, env_get, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        rc = VZ_EXIT_CONFIG;
        goto out;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq;
        char name[64];
        size_t nl;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            rc = VZ_EXIT_OK;
            goto out;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("vectoraiz %s\n", VZ_VERSION);
            rc = VZ_EXIT_OK;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0)
            break;
        /* --name=value or --name value */
        eq = strchr(a + 2, '=');
        nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof(name)) {
            vz_cli_fail("unknown option %s", a);
            goto out;
        }
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        if (!eq && i + 1 >= argc) {
            vz_cli_fail("option --%s needs a value", name);
            goto out;
        }
        if (vz_config_set(&cfg, name, eq ? eq + 1 : argv[++i], &err) < 0) {
            vz_cli_fail("%s (see vectoraiz --help)", err.msg);
            goto out;
        }
    }
    if (i >= argc) {
        usage(stderr);
        goto out;
    }
    vz_log_set_level(cfg.log_level);
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[i], commands[c].name) == 0) {
            rc = commands[c].run(&cfg, argc - i, argv + i);
            goto out;
        }
    }
    vz_cli_fail("unknown command '%s' (see vectoraiz --help)", argv[i]);
out:
    vz_config_release(&cfg);
    return rc;
}
