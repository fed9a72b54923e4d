/* vectoraiz conn add|list|show|test|rm, vectoraiz schema, vectoraiz token:
 * the same operations as the API, on the same data directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "app/connsvc.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "core/util.h"

/* Flags of `conn add` and the JSON field each one sets. */
static const struct {
    const char *flag, *field;
    int is_int;
} add_flags[] = {
    {"--name", "name", 0},         {"--type", "db_type", 0},      {"--host", "host", 0},
    {"--port", "port", 1},         {"--database", "database", 0}, {"--user", "username", 0},
    {"--ssl-mode", "ssl_mode", 0},
};

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        return VZ_EXIT_FAIL;
    puts(s);
    free(s);
    return VZ_EXIT_OK;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_conn(json_t *c)
{
    json_t *tc = json_object_get(c, "table_count");
    printf("id:             %s\nname:           %s\ntype:           %s\nhost:           %s:%lld\n"
           "database:       %s\nusername:       %s\npassword:       ****\nssl_mode:       %s\n"
           "status:         %s\n",
           jstr(c, "id"), jstr(c, "name"), jstr(c, "db_type"), jstr(c, "host"),
           (long long)json_integer_value(json_object_get(c, "port")), jstr(c, "database"),
           jstr(c, "username"), jstr(c, "ssl_mode"), jstr(c, "status"));
    if (json_is_string(json_object_get(c, "error_message")))
        printf("error:          %s\n", jstr(c, "error_message"));
    printf("last_connected: %s\n", jstr(c, "last_connected_at"));
    if (json_is_integer(tc))
        printf("tables:         %lld\n", (long long)json_integer_value(tc));
}

/* Read one line from stdin as the password (trailing newline removed). */
static char *read_password_stdin(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static int conn_add(struct vz_app *app, int argc, char **argv, int as_json)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *fields = json_object(), *out = NULL;
    char *pw = NULL;
    int rc = VZ_EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t f;
        if (strcmp(a, "--json") == 0)
            continue;
        if (strcmp(a, "--password-stdin") == 0) {
            pw = read_password_stdin();
            if (!pw) {
                vz_cli_fail("--password-stdin: no password on standard input");
                goto out;
            }
            continue;
        }
        if (i + 1 >= argc) {
            vz_cli_fail("%s needs a value", a);
            goto out;
        }
        if (strcmp(a, "--password-env") == 0) {
            const char *v = getenv(argv[++i]);
            if (!v) {
                vz_cli_fail("--password-env: variable %s is not set", argv[i]);
                goto out;
            }
            pw = strdup(v);
            continue;
        }
        if (strcmp(a, "--extra") == 0) {
            json_t *x = json_loads(argv[++i], 0, NULL);
            if (!x) {
                vz_cli_fail("--extra must be a JSON object");
                goto out;
            }
            json_object_set_new(fields, "extra_options", x);
            continue;
        }
        for (f = 0; f < sizeof(add_flags) / sizeof(add_flags[0]); f++)
            if (strcmp(a, add_flags[f].flag) == 0)
                break;
        if (f == sizeof(add_flags) / sizeof(add_flags[0])) {
            vz_cli_fail("conn add: unknown option %s", a);
            goto out;
        }
        i++;
        if (add_flags[f].is_int) {
            char *end;
            long v = strtol(argv[i], &end, 10);
            json_object_set_new(fields, add_flags[f].field,
                                *end ? json_string(argv[i]) : json_integer(v));
        } else {
            json_object_set_new(fields, add_flags[f].field, json_string(argv[i]));
        }
    }
    if (!pw) {
        vz_cli_fail("conn add: give the password with --password-stdin or --password-env VAR "
                    "(never on the command line)");
        goto out;
    }
    json_object_set_new(fields, "password", json_string(pw));
    if (vz_connsvc_create(app, fields, &out, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        rc = VZ_EXIT_FAIL;
        goto out;
    }
    if (as_json) {
        rc = print_json(out);
    } else {
        printf("created connection %s\n", jstr(out, "id"));
        rc = VZ_EXIT_OK;
    }
out:
    if (pw) {
        OPENSSL_cleanse(pw, strlen(pw));
        free(pw);
    }
    json_decref(fields);
    json_decref(out);
    return rc;
}

/* CONN is an id or a unique name. */
static int resolve(struct vz_app *app, const char *ref, char *id, size_t idlen)
{
    struct vz_err err = VZ_ERR_INIT;
    if (vz_connsvc_resolve(app, ref, id, idlen, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return -1;
    }
    return 0;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

/* The first argument that is not an option (or an option's value). */
static const char *positional(int argc, char **argv, const char *const *valued, size_t nvalued)
{
    for (int i = 1; i < argc; i++) {
        int takes_value = 0;
        if (argv[i][0] != '-')
            return argv[i];
        for (size_t k = 0; k < nvalued; k++)
            takes_value |= strcmp(argv[i], valued[k]) == 0;
        i += takes_value;
    }
    return NULL;
}

static int conn_one(struct vz_app *app, const char *verb, int argc, char **argv, int as_json)
{
    struct vz_err err = VZ_ERR_INIT;
    const char *ref = positional(argc, argv, NULL, 0);
    char id[64];
    json_t *out = NULL;
    int rc;

    if (!ref) {
        vz_cli_fail("conn %s: which connection? (id or name)", verb);
        return VZ_EXIT_USAGE;
    }
    if (resolve(app, ref, id, sizeof(id)) < 0)
        return VZ_EXIT_FAIL;
    if (strcmp(verb, "show") == 0)
        rc = vz_connsvc_get(app, id, &out, &err);
    else if (strcmp(verb, "role-sql") == 0)
        rc = vz_connsvc_role_sql(app, id, NULL, NULL, &out, &err);
    else if (strcmp(verb, "test") == 0)
        rc = vz_connsvc_test(app, id, &out, &err);
    else
        rc = vz_connsvc_delete(app, id, &err);
    if (rc < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (strcmp(verb, "rm") == 0) {
        if (as_json) {
            json_t *j = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
            rc = print_json(j);
            json_decref(j);
            return rc;
        }
        printf("deleted connection %s (datasets extracted from it stay, marked orphaned)\n", id);
        return VZ_EXIT_OK;
    }
    if (as_json) {
        rc = print_json(out);
    } else if (strcmp(verb, "show") == 0) {
        print_conn(out);
        rc = VZ_EXIT_OK;
    } else if (strcmp(verb, "role-sql") == 0) {
        printf("%s\n-- %s\n", jstr(out, "sql"), jstr(out, "notes"));
        rc = VZ_EXIT_OK;
    } else if (json_is_true(json_object_get(out, "ok"))) {
        printf("ok: %s, %lld ms\n", jstr(out, "server_version"),
               (long long)json_integer_value(json_object_get(out, "latency_ms")));
        if (json_is_string(json_object_get(out, "warning")))
            printf("warning: %s\n", jstr(out, "warning"));
        rc = VZ_EXIT_OK;
    } else {
        printf("failed: %s\n", jstr(out, "error"));
    }
    if (strcmp(verb, "test") == 0 && !json_is_true(json_object_get(out, "ok")))
        rc = VZ_EXIT_FAIL;
    json_decref(out);
    return rc;
}

static int conn_list(struct vz_app *app, int as_json)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *all = NULL, *c;
    size_t i;
    if (vz_connsvc_list(app, &all, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (as_json) {
        int rc = print_json(all);
        json_decref(all);
        return rc;
    }
    if (json_array_size(all) == 0)
        printf("no connections (add one with: vectoraiz conn add ...)\n");
    json_array_foreach(all, i, c)
    {
        printf("%s  %-24s %-10s %s:%lld/%s  %s\n", jstr(c, "id"), jstr(c, "name"),
               jstr(c, "db_type"), jstr(c, "host"),
               (long long)json_integer_value(json_object_get(c, "port")), jstr(c, "database"),
               jstr(c, "status"));
    }
    json_decref(all);
    return VZ_EXIT_OK;
}

static int with_app(struct vz_config *cfg, struct vz_app *app)
{
    struct vz_err err = VZ_ERR_INIT;
    if (vz_app_open(app, cfg, 0, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return -1;
    }
    return 0;
}

int vz_cmd_conn(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_app app;
    const char *verb = argc > 1 ? argv[1] : NULL;
    int as_json = has_flag(argc, argv, "--json"), rc;

    if (!verb || (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "show") &&
                  strcmp(verb, "test") && strcmp(verb, "rm") && strcmp(verb, "role-sql"))) {
        fprintf(stderr,
                "usage: vectoraiz conn add --name N --type postgresql|mysql --host H [--port P]\n"
                "                          --database D --user U (--password-stdin | "
                "--password-env VAR)\n"
                "                          [--ssl-mode M] [--extra JSON] [--json]\n"
                "       vectoraiz conn list [--json]\n"
                "       vectoraiz conn show|test|rm|role-sql CONN [--json]   (CONN: id or "
                "name)\n");
        return VZ_EXIT_USAGE;
    }
    if (with_app(cfg, &app) < 0)
        return VZ_EXIT_CONFIG;
    if (strcmp(verb, "add") == 0)
        rc = conn_add(&app, argc - 1, argv + 1, as_json);
    else if (strcmp(verb, "list") == 0)
        rc = conn_list(&app, as_json);
    else
        rc = conn_one(&app, verb, argc - 1, argv + 1, as_json);
    vz_app_close(&app);
    return rc;
}

static void print_schema(json_t *s)
{
    json_t *t, *col;
    size_t i, k;
    printf("schema %s (schemas: ", jstr(s, "schema"));
    json_array_foreach(json_object_get(s, "schemas"), i, t)
        printf("%s%s", i ? ", " : "", json_string_value(t));
    printf(")\n");
    json_array_foreach(json_object_get(s, "tables"), i, t)
    {
        json_t *rows = json_object_get(t, "estimated_rows");
        printf("\n%s %s  (~%lld rows)\n", jstr(t, "kind"), jstr(t, "name"),
               json_is_integer(rows) ? (long long)json_integer_value(rows) : -1LL);
        json_array_foreach(json_object_get(t, "columns"), k, col)
        {
            printf("  %-32s %-28s -> %s%s\n", jstr(col, "name"), jstr(col, "source_type"),
                   jstr(col, "parquet_type"),
                   json_is_true(json_object_get(col, "skipped")) ? "  (skipped)" : "");
        }
    }
}

int vz_cmd_schema(struct vz_config *cfg, int argc, char **argv)
{
    static const char *const valued[] = {"--schema"};
    struct vz_app app;
    struct vz_err err = VZ_ERR_INIT;
    const char *ref = positional(argc, argv, valued, 1), *schema = NULL;
    json_t *out = NULL;
    char id[64];
    int rc = VZ_EXIT_FAIL;

    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--schema") == 0)
            schema = argv[i + 1];
    if (!ref) {
        fprintf(stderr, "usage: vectoraiz schema CONN [--schema S] [--json]\n");
        return VZ_EXIT_USAGE;
    }
    if (with_app(cfg, &app) < 0)
        return VZ_EXIT_CONFIG;
    if (resolve(&app, ref, id, sizeof(id)) == 0) {
        if (vz_connsvc_schema(&app, id, schema, &out, &err) < 0) {
            vz_cli_fail("%s", err.msg);
        } else if (has_flag(argc, argv, "--json")) {
            rc = print_json(out);
        } else {
            print_schema(out);
            rc = VZ_EXIT_OK;
        }
    }
    json_decref(out);
    vz_app_close(&app);
    return rc;
}

int vz_cmd_token(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_err err = VZ_ERR_INIT;
    char token[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    if (argc != 2 || strcmp(argv[1], "reset") != 0) {
        fprintf(stderr, "usage: vectoraiz token reset\n");
        return VZ_EXIT_USAGE;
    }
    if (vz_auth_reset_token(cfg->data_dir, token, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    printf("%s\n", token);
    fprintf(stderr,
            "new admin token written (hashed) to %s/%s; a running server accepts it at "
            "once (the old one stops working; logged-in browser sessions stay)\n",
            cfg->data_dir, VZ_AUTH_TOKEN_FILE);
    OPENSSL_cleanse(token, sizeof(token));
    return VZ_EXIT_OK;
}
