/* vectoraiz extract CONN ... and vectoraiz datasets: extraction from the
 * command line, run in this process with the same service the API uses. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/connsvc.h"
#include "app/extractsvc.h"
#include "cli/cli.h"
#include "core/util.h"
#include "store/datasets.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: vectoraiz extract CONN --table [SCHEMA.]TABLE [--table ...] [--row-limit N]\n"
            "                              [--columns a,b] [--exclude c,d]\n"
            "       vectoraiz extract CONN --sql \"SELECT ...\" --name NAME [--row-limit N]\n"
            "       common: [--dry-run] [--decimal double|exact] [--json]\n");
}

static json_t *split_list(const char *s)
{
    json_t *arr = json_array();
    const char *p = s;
    while (arr && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n)
            json_array_append_new(arr, json_stringn(p, n));
        p += n + (comma ? 1 : 0);
    }
    return arr;
}

/* Build the request body from the command line; NULL after printing why. */
static json_t *parse_args(int argc, char **argv, int *as_json)
{
    json_t *body = json_object(), *tables = json_array(), *last = NULL;
    long long row_limit = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            *as_json = 1;
            continue;
        }
        if (strcmp(a, "--dry-run") == 0) {
            json_object_set_new(body, "dry_run", json_true());
            continue;
        }
        if (!v) {
            vz_cli_fail("%s needs a value", a);
            goto fail;
        }
        i++;
        if (strcmp(a, "--table") == 0) {
            const char *dot = strchr(v, '.');
            last = dot ? json_pack("{s:s%, s:s}", "schema", v, (size_t)(dot - v), "table", dot + 1)
                       : json_pack("{s:s}", "table", v);
            json_array_append_new(tables, last);
        } else if (strcmp(a, "--row-limit") == 0) {
            char *end;
            row_limit = strtoll(v, &end, 10);
            if (*end || row_limit < 1) {
                vz_cli_fail("--row-limit must be a positive integer");
                goto fail;
            }
            if (last)
                json_object_set_new(last, "row_limit", json_integer(row_limit));
            else
                json_object_set_new(body, "row_limit", json_integer(row_limit));
        } else if (strcmp(a, "--columns") == 0 || strcmp(a, "--exclude") == 0) {
            if (!last) {
                vz_cli_fail("%s goes after the --table it applies to", a);
                goto fail;
            }
            json_object_set_new(last, a[2] == 'c' ? "columns" : "exclude_columns", split_list(v));
        } else if (strcmp(a, "--sql") == 0) {
            json_object_set_new(body, "custom_sql", json_string(v));
        } else if (strcmp(a, "--name") == 0) {
            json_object_set_new(body, "dataset_name", json_string(v));
        } else if (strcmp(a, "--decimal") == 0) {
            json_object_set_new(body, "decimal", json_string(v));
        } else {
            vz_cli_fail("extract: unknown option %s", a);
            goto fail;
        }
    }
    if (json_array_size(tables)) {
        /* a --row-limit given before any --table applies to all of them */
        json_t *rl = json_object_get(body, "row_limit"), *t;
        size_t k;
        json_array_foreach(tables, k, t)
        {
            if (rl && !json_object_get(t, "row_limit"))
                json_object_set(t, "row_limit", rl);
        }
        json_object_del(body, "row_limit");
        json_object_set_new(body, "tables", tables);
    } else {
        json_decref(tables);
    }
    return body;
fail:
    json_decref(tables);
    json_decref(body);
    return NULL;
}

static void show_progress(const struct vz_job *j, const char *label, int tty)
{
    if (tty) {
        int width = 30, filled = 0;
        if (j->rows_total > 0)
            filled = (int)(width * (double)j->rows_done / (double)j->rows_total);
        if (filled > width)
            filled = width;
        fprintf(stderr, "\r%-32.32s [%.*s%*s] %lld rows  %.0f rows/s ", label, filled,
                "##############################", width - filled, "", j->rows_done, j->rate);
    } else {
        fprintf(stderr, "%s: %s %lld rows\n", label, j->state, j->rows_done);
    }
}

/* Wait for every job of the response; 0 if all succeeded. */
static int wait_jobs(struct vz_app *app, json_t *datasets, int as_json)
{
    int tty = isatty(2) && !as_json, failed = 0, cancel_sent = 0;
    size_t i, done = 0, n = json_array_size(datasets);
    int *finished = calloc(n ? n : 1, sizeof(int));
    int64_t last_line = 0;
    json_t *d;
    while (finished && done < n) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        if (interrupted && !cancel_sent) {
            struct vz_err err = VZ_ERR_INIT;
            fprintf(stderr, "\ncancelling...\n");
            json_array_foreach(datasets, i, d)
            {
                if (vz_extractsvc_cancel(app, json_string_value(json_object_get(d, "job_id")),
                                         &err) < 0) {
                    /* it may have just ended; the loop reports its state */
                }
            }
            cancel_sent = 1;
        }
        json_array_foreach(datasets, i, d)
        {
            struct vz_err err = VZ_ERR_INIT;
            struct vz_job *j = NULL;
            const char *label = json_string_value(json_object_get(d, "name"));
            if (finished[i] ||
                vz_job_get(app->store, json_string_value(json_object_get(d, "job_id")), &j, &err) <
                    0)
                continue;
            if (strcmp(j->state, "queued") && strcmp(j->state, "running")) {
                finished[i] = 1;
                done++;
                if (tty)
                    fputc('\r', stderr);
                if (strcmp(j->state, "succeeded") == 0) {
                    if (!as_json)
                        printf("%s: %lld rows -> dataset %s\n", label, j->rows_done,
                               json_string_value(json_object_get(d, "dataset_id")));
                } else {
                    failed = 1;
                    fprintf(stderr, "%s: %s: %s\n", label, j->state, j->error ? j->error : "");
                }
            } else if (tty || vz_mono_ms() - last_line > 5000) {
                show_progress(j, label, tty);
                if (!tty)
                    last_line = vz_mono_ms();
            }
            vz_job_free(j);
        }
    }
    free(finished);
    return failed;
}

int vz_cmd_extract(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_app app;
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    char id[64];
    int as_json = 0, rc = VZ_EXIT_FAIL;
    struct sigaction sa;

    if (argc < 3 || argv[1][0] == '-') {
        usage();
        return VZ_EXIT_USAGE;
    }
    body = parse_args(argc, argv, &as_json);
    if (!body)
        return VZ_EXIT_USAGE;
    if (vz_app_open(&app, cfg, VZ_APP_WITH_JOBS, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        json_decref(body);
        return VZ_EXIT_CONFIG;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (vz_connsvc_resolve(&app, argv[1], id, sizeof(id), &err) < 0 ||
        vz_extractsvc_request(&app, id, body, &out, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        goto out;
    }
    if (json_is_true(json_object_get(body, "dry_run"))) {
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        rc = VZ_EXIT_OK;
        goto out;
    }
    rc = wait_jobs(&app, json_object_get(out, "datasets"), as_json) ? VZ_EXIT_FAIL : VZ_EXIT_OK;
    if (as_json) {
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
    }
out:
    json_decref(out);
    json_decref(body);
    vz_app_close(&app);
    return rc;
}

int vz_cmd_datasets(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_app app;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_dataset **v = NULL;
    size_t n = 0;
    int as_json = argc > 2 && strcmp(argv[2], "--json") == 0, rc = VZ_EXIT_OK;
    if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "rm"))) {
        fprintf(stderr, "usage: vectoraiz datasets list [--json]\n"
                        "       vectoraiz datasets rm ID\n");
        return VZ_EXIT_USAGE;
    }
    if (vz_app_open(&app, cfg, 0, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_CONFIG;
    }
    if (strcmp(argv[1], "rm") == 0) {
        if (argc < 3 || vz_extractsvc_delete_dataset(&app, argv[2], &err) < 0) {
            vz_cli_fail("%s", argc < 3 ? "datasets rm: which dataset?" : err.msg);
            rc = VZ_EXIT_FAIL;
        } else {
            printf("deleted dataset %s\n", argv[2]);
        }
        vz_app_close(&app);
        return rc;
    }
    if (vz_dataset_list(app.store, &v, &n, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        vz_app_close(&app);
        return VZ_EXIT_FAIL;
    }
    if (as_json) {
        json_t *arr = json_array();
        char *s;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, vz_dataset_view(v[i]));
        s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(arr);
    } else {
        if (n == 0)
            printf("no datasets (extract one with: vectoraiz extract CONN --table T)\n");
        for (size_t i = 0; i < n; i++)
            printf("%s  %-30s %-10s %10lld rows  %s\n", v[i]->id, v[i]->name, v[i]->status,
                   v[i]->row_count < 0 ? 0 : v[i]->row_count,
                   v[i]->source_table ? v[i]->source_table : "");
    }
    vz_dataset_list_free(v, n);
    vz_app_close(&app);
    return rc;
}
