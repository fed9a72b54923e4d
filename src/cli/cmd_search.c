/* vectoraiz search "..." / vectoraiz ask "...": the API's search and ask on
 * the same data directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/searchsvc.h"
#include "cli/cli.h"

static int run(struct vz_config *cfg, int argc, char **argv, int ask)
{
    struct vz_app app;
    struct vz_err err = VZ_ERR_INIT;
    json_t *body = json_object(), *ids = json_array(), *out = NULL, *r;
    const char *text = NULL;
    int as_json = 0, rc = VZ_EXIT_FAIL;
    size_t i;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--json") == 0) {
            as_json = 1;
        } else if ((strcmp(argv[a], "--dataset") == 0 || strcmp(argv[a], "--k") == 0 ||
                    strcmp(argv[a], "--mode") == 0) &&
                   a + 1 < argc) {
            const char *v = argv[++a];
            if (argv[a - 1][2] == 'd')
                json_array_append_new(ids, json_string(v));
            else if (argv[a - 1][2] == 'k')
                json_object_set_new(body, "k", json_integer(strtol(v, NULL, 10)));
            else
                json_object_set_new(body, "mode", json_string(v));
        } else if (argv[a][0] != '-' && !text) {
            text = argv[a];
        } else {
            fprintf(stderr, "usage: vectoraiz %s \"TEXT\" [--dataset ID]... [--k N]%s [--json]\n",
                    ask ? "ask" : "search", ask ? "" : " [--mode hybrid|vector|keyword]");
            json_decref(body);
            json_decref(ids);
            return VZ_EXIT_USAGE;
        }
    }
    if (!text) {
        fprintf(stderr, "vectoraiz %s: what should I look for?\n", ask ? "ask" : "search");
        json_decref(body);
        json_decref(ids);
        return VZ_EXIT_USAGE;
    }
    json_object_set_new(body, ask ? "question" : "query", json_string(text));
    if (json_array_size(ids))
        json_object_set(body, "dataset_ids", ids);
    if (vz_app_open(&app, cfg, 0, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        json_decref(body);
        json_decref(ids);
        return VZ_EXIT_CONFIG;
    }
    if ((ask ? vz_searchsvc_ask(&app, body, &out, &err)
             : vz_searchsvc_search(&app, body, &out, &err)) < 0) {
        vz_cli_fail("%s", err.msg);
        goto done;
    }
    rc = VZ_EXIT_OK;
    if (as_json) {
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        goto done;
    }
    if (ask)
        printf("%s\n\n", json_is_string(json_object_get(out, "answer"))
                             ? json_string_value(json_object_get(out, "answer"))
                             : json_string_value(json_object_get(out, "note")));
    if (json_array_size(json_object_get(out, "results")) == 0)
        printf("no matches\n");
    json_array_foreach(json_object_get(out, "results"), i, r)
    {
        printf("%zu. %s  row %s  (score %.4f)\n   %s\n", i + 1,
               json_string_value(json_object_get(r, "source_table")),
               json_string_value(json_object_get(r, "row_id")),
               json_real_value(json_object_get(r, "score")),
               json_string_value(json_object_get(r, "text")));
    }
done:
    json_decref(out);
    json_decref(body);
    json_decref(ids);
    vz_app_close(&app);
    return rc;
}

int vz_cmd_search(struct vz_config *cfg, int argc, char **argv)
{
    return run(cfg, argc, argv, 0);
}

int vz_cmd_ask(struct vz_config *cfg, int argc, char **argv)
{
    return run(cfg, argc, argv, 1);
}
