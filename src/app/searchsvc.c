#include "app/searchsvc.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/util.h"
#include "pipeline/embed.h"
#include "search/index.h"
#include "store/datasets.h"

#define MAX_QUERY 2000
#define MAX_DATASETS 64
#define RRF_K0 60.0

/* One dataset taking part in a search. */
struct target {
    struct vz_dataset *d;
    struct vz_index *ix;
};

/* A hit across datasets. */
struct ghit {
    size_t t;         /* index into targets */
    int64_t chunk_id; /* within that dataset */
    double vscore, kscore, fused;
    int vrank, krank; /* 1-based, 0 = not in that list */
};

static void targets_release(struct target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vz_index_close(t[i].ix);
        vz_dataset_free(t[i].d);
    }
    free(t);
}

static int index_dir(struct vz_app *app, const char *id, char *out, size_t n)
{
    return snprintf(out, n, "%s/datasets/%s", app->cfg->data_dir, id) < (int)n ? 0 : -1;
}

static int add_target(struct vz_app *app, struct vz_dataset *d, int explicit_id, struct target *t,
                      size_t *n, struct vz_err *err)
{
    char dir[PATH_MAX + 64];
    struct stat sb;
    int rc;
    if (index_dir(app, d->id, dir, sizeof(dir)) < 0 || stat(dir, &sb) != 0) {
        if (!explicit_id) {
            vz_dataset_free(d);
            return VZ_OK; /* not indexed (yet): simply not searched */
        }
        rc = vz_err_set(err, VZ_ECONFLICT,
                        "dataset %s is not searchable yet (status %s); wait until it is ready",
                        d->id, d->status);
        vz_dataset_free(d);
        return rc;
    }
    rc = vz_index_open(dir, &t[*n].ix, err);
    if (rc < 0) {
        vz_dataset_free(d);
        return rc;
    }
    t[*n].d = d;
    (*n)++;
    return VZ_OK;
}

/* The datasets to search: the ones named, or every indexed one. */
static int pick_targets(struct vz_app *app, json_t *ids, struct target **out, size_t *n,
                        struct vz_err *err)
{
    struct target *t = calloc(MAX_DATASETS, sizeof(*t));
    int rc = VZ_OK;
    *out = NULL;
    *n = 0;
    if (!t)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (ids && !json_is_null(ids)) {
        size_t i;
        json_t *v;
        if (!json_is_array(ids) || json_array_size(ids) > MAX_DATASETS) {
            rc = vz_err_set(err, VZ_EINVAL, "dataset_ids must be an array of at most %d ids",
                            MAX_DATASETS);
            goto fail;
        }
        json_array_foreach(ids, i, v)
        {
            struct vz_dataset *d = NULL;
            const char *id = json_string_value(v);
            if (!id || !vz_uuid_valid(id)) {
                rc = vz_err_set(err, VZ_EINVAL, "dataset_ids holds a value that is not an id");
                goto fail;
            }
            rc = vz_dataset_get(app->store, id, &d, err);
            if (rc < 0)
                goto fail;
            rc = add_target(app, d, 1, t, n, err);
            if (rc < 0)
                goto fail;
        }
    } else {
        struct vz_dataset **all = NULL;
        size_t na = 0;
        rc = vz_dataset_list(app->store, &all, &na, err);
        if (rc < 0)
            goto fail;
        for (size_t i = 0; i < na; i++) {
            if (*n < MAX_DATASETS && rc == 0) {
                rc = add_target(app, all[i], 0, t, n, err);
                all[i] = NULL;
            }
        }
        vz_dataset_list_free(all, na);
        if (rc < 0)
            goto fail;
    }
    *out = t;
    return VZ_OK;
fail:
    targets_release(t, *n);
    *n = 0;
    return rc;
}

/* The process's query embedder, opened on first use. One search embeds at a
 * time: an embedder is single-threaded, and queries take ~3 ms. */
static int embed_query(struct vz_app *app, const char *q, float *vec, int dim, struct vz_err *err)
{
    size_t len = strlen(q);
    int rc;
    pthread_mutex_lock(&app->embed_mu);
    if (!app->embedder) {
        rc = vz_embed_open("local", NULL, &app->embedder, err);
        if (rc < 0)
            goto out;
    }
    if (vz_embed_dim(app->embedder) != dim) {
        rc = vz_err_set(err, VZ_EUNSUPPORTED,
                        "a dataset was embedded with %d dimensions, the local model has %d; "
                        "reprocess it",
                        dim, vz_embed_dim(app->embedder));
        goto out;
    }
    rc = vz_embed_batch(app->embedder, &q, &len, 1, vec, err);
out:
    pthread_mutex_unlock(&app->embed_mu);
    return rc;
}

/* Fused score first; on a tie the hit with the better vector rank wins
 * (meaning over shared words), then the better keyword rank. */
static int rank_or_max(int r)
{
    return r ? r : INT_MAX;
}

static int cmp_fused(const void *a, const void *b)
{
    const struct ghit *x = a, *y = b;
    if (x->fused != y->fused)
        return x->fused < y->fused ? 1 : -1;
    if (rank_or_max(x->vrank) != rank_or_max(y->vrank))
        return rank_or_max(x->vrank) < rank_or_max(y->vrank) ? -1 : 1;
    if (rank_or_max(x->krank) != rank_or_max(y->krank))
        return rank_or_max(x->krank) < rank_or_max(y->krank) ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static int cmp_vscore(const void *a, const void *b)
{
    const struct ghit *x = a, *y = b;
    return x->vscore < y->vscore ? 1 : x->vscore > y->vscore ? -1 : 0;
}

static int cmp_kscore(const void *a, const void *b)
{
    const struct ghit *x = a, *y = b;
    return x->kscore < y->kscore ? 1 : x->kscore > y->kscore ? -1 : 0;
}

/* Collect per-dataset top-k lists into one candidate set (dedup by
 * dataset+chunk), rank each list globally, fuse. */
static int run_search(struct vz_app *app, const char *q, size_t k, int use_v, int use_k,
                      struct target *t, size_t nt, struct ghit **out, size_t *nout,
                      struct vz_err *err)
{
    struct ghit *g = calloc(nt * k * 2 + 1, sizeof(*g));
    struct vz_hit *hits = calloc(k, sizeof(*hits));
    float *qv = NULL;
    int qdim = 0, rc = VZ_OK;
    size_t ng = 0;

    if (!g || !hits) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        size_t nh = 0;
        int dim = vz_index_dim(t[i].ix);
        if (use_v && dim > 0) {
            if (!qv || qdim != dim) {
                float *nq = realloc(qv, (size_t)dim * sizeof(float));
                if (!nq) {
                    rc = vz_err_set(err, VZ_ENOMEM, NULL);
                    goto out;
                }
                qv = nq;
                qdim = dim;
                rc = embed_query(app, q, qv, dim, err);
                if (rc < 0)
                    goto out;
            }
            rc = vz_index_vector_search(t[i].ix, qv, k, hits, &nh, err);
            if (rc < 0)
                goto out;
            for (size_t h = 0; h < nh; h++) {
                g[ng].t = i;
                g[ng].chunk_id = hits[h].chunk_id;
                g[ng].vscore = hits[h].score;
                g[ng].kscore = -1e300;
                ng++;
            }
        }
        if (use_k) {
            rc = vz_index_keyword_search(t[i].ix, q, k, hits, &nh, err);
            if (rc < 0)
                goto out;
            for (size_t h = 0; h < nh; h++) {
                size_t j;
                /* Chunks that match only words in most chunks (column names)
                 * come with score 0: they say nothing about relevance, and in
                 * a fusion they would push real vector hits down. */
                if (hits[h].score <= 0)
                    continue;
                for (j = 0; j < ng; j++)
                    if (g[j].t == i && g[j].chunk_id == hits[h].chunk_id)
                        break;
                if (j == ng) {
                    g[ng].t = i;
                    g[ng].chunk_id = hits[h].chunk_id;
                    g[ng].vscore = -1e300;
                    ng++;
                }
                g[j].kscore = hits[h].score;
            }
        }
    }
    /* Global ranks per list, then reciprocal-rank fusion. */
    if (use_v) {
        qsort(g, ng, sizeof(*g), cmp_vscore);
        for (size_t i = 0, r = 0; i < ng; i++)
            if (g[i].vscore > -1e299 && r < k)
                g[i].vrank = (int)++r;
    }
    if (use_k) {
        qsort(g, ng, sizeof(*g), cmp_kscore);
        for (size_t i = 0, r = 0; i < ng; i++)
            if (g[i].kscore > -1e299 && r < k)
                g[i].krank = (int)++r;
    }
    for (size_t i = 0; i < ng; i++)
        g[i].fused = (g[i].vrank ? 1.0 / (RRF_K0 + g[i].vrank) : 0) +
                     (g[i].krank ? 1.0 / (RRF_K0 + g[i].krank) : 0);
    qsort(g, ng, sizeof(*g), cmp_fused);
    while (ng > 0 && g[ng - 1].fused <= 0)
        ng--;
    *out = g;
    *nout = ng < k ? ng : k;
    g = NULL;
out:
    free(g);
    free(hits);
    free(qv);
    return rc;
}

static json_t *result_json(struct target *t, const struct ghit *h, const char *q, int mode,
                           struct vz_err *err)
{
    char *row_id = NULL, *col = NULL, *text = NULL, **hl;
    size_t nhl = 0;
    json_t *o, *harr;
    double score = mode == 1 ? h->vscore : mode == 2 ? h->kscore : h->fused;
    if (vz_index_chunk(t->ix, h->chunk_id, &row_id, &col, &text, err) < 0)
        return NULL;
    harr = json_array();
    hl = vz_highlights(q, text, &nhl);
    for (size_t i = 0; i < nhl; i++) {
        json_array_append_new(harr, json_string(hl[i]));
        free(hl[i]);
    }
    free(hl);
    o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:f, s:o, s:{s:o, s:o}}", "dataset_id",
                  t->d->id, "dataset_name", t->d->name, "source_table", t->d->source_table,
                  "row_id", row_id, "column", col, "text", text, "score", score, "highlights", harr,
                  "ranks", "vector", h->vrank ? json_integer(h->vrank) : json_null(), "keyword",
                  h->krank ? json_integer(h->krank) : json_null());
    free(row_id);
    free(col);
    free(text);
    if (!o)
        vz_err_set(err, VZ_ENOMEM, NULL);
    return o;
}

/* Shared by search and ask: validated inputs -> results array. */
static int retrieve(struct vz_app *app, const char *q, json_t *ids, size_t k, int mode,
                    json_t **results, struct vz_err *err)
{
    struct target *t = NULL;
    struct ghit *g = NULL;
    size_t nt = 0, ng = 0;
    json_t *arr = json_array();
    int rc = pick_targets(app, ids, &t, &nt, err);
    *results = NULL;
    if (rc < 0)
        goto out;
    rc = run_search(app, q, k, mode != 2, mode != 1, t, nt, &g, &ng, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; arr && i < ng; i++) {
        json_t *o = result_json(&t[g[i].t], &g[i], q, mode, err);
        if (!o) {
            rc = err->code ? err->code : VZ_ENOMEM;
            goto out;
        }
        json_array_append_new(arr, o);
    }
    *results = arr;
    arr = NULL;
out:
    json_decref(arr);
    free(g);
    targets_release(t, nt);
    return rc;
}

static int parse_common(json_t *body, const char *qkey, size_t kdef, const char **q, size_t *k,
                        struct vz_err *err)
{
    json_t *kv = json_object_get(body, "k");
    *q = json_string_value(json_object_get(body, qkey));
    if (!*q || !**q || strspn(*q, " \t\r\n") == strlen(*q))
        return vz_err_set(err, VZ_EINVAL, "'%s' must be a non-empty string", qkey);
    if (strlen(*q) > MAX_QUERY)
        return vz_err_set(err, VZ_EINVAL, "'%s' is longer than %d bytes", qkey, MAX_QUERY);
    *k = kdef;
    if (kv) {
        if (!json_is_integer(kv) || json_integer_value(kv) < 1 || json_integer_value(kv) > 100)
            return vz_err_set(err, VZ_EINVAL, "'k' must be an integer from 1 to 100");
        *k = (size_t)json_integer_value(kv);
    }
    return VZ_OK;
}

int vz_searchsvc_search(struct vz_app *app, json_t *body, json_t **out, struct vz_err *err)
{
    const char *q, *m = json_string_value(json_object_get(body, "mode"));
    json_t *results = NULL, *filters = json_object_get(body, "filters");
    size_t k;
    int mode = 0, rc;
    *out = NULL;
    rc = parse_common(body, "query", 10, &q, &k, err);
    if (rc < 0)
        return rc;
    if (json_object_get(body, "mode")) {
        if (m && strcmp(m, "hybrid") == 0)
            mode = 0;
        else if (m && strcmp(m, "vector") == 0)
            mode = 1;
        else if (m && strcmp(m, "keyword") == 0)
            mode = 2;
        else
            return vz_err_set(err, VZ_EINVAL, "'mode' must be hybrid, vector or keyword");
    }
    if (filters && !json_is_null(filters) &&
        !(json_is_object(filters) && !json_object_size(filters)))
        return vz_err_set(err, VZ_EUNSUPPORTED, "'filters' are not supported yet");
    rc = retrieve(app, q, json_object_get(body, "dataset_ids"), k, mode, &results, err);
    if (rc < 0)
        return rc;
    *out = json_pack("{s:o, s:s}", "results", results, "mode",
                     mode == 0   ? "hybrid"
                     : mode == 1 ? "vector"
                                 : "keyword");
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

int vz_searchsvc_ask(struct vz_app *app, json_t *body, json_t **out, struct vz_err *err)
{
    const char *q;
    json_t *results = NULL;
    size_t k;
    int rc;
    *out = NULL;
    rc = parse_common(body, "question", 5, &q, &k, err);
    if (rc < 0)
        return rc;
    rc = retrieve(app, q, json_object_get(body, "dataset_ids"), k, 0, &results, err);
    if (rc < 0)
        return rc;
    *out = json_pack("{s:n, s:[], s:o, s:s}", "answer", "citations", "results", results, "note",
                     "no chat model is configured: these are the rows that best match the "
                     "question");
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}
