/* Search and ask over indexed datasets (issue 8). Shared by the HTTP API
 * and the CLI.
 *
 * search: {query, dataset_ids?, k (1-100, default 10), mode: hybrid | vector
 * | keyword (default hybrid)} -> {"results": [{dataset_id, dataset_name,
 * source_table, row_id, text, score, highlights, ranks: {vector, keyword}}]}.
 * Hybrid is reciprocal-rank fusion (k0 = 60) of the vector list (cosine of
 * the query's embedding) and the BM25 list, across all chosen datasets.
 *
 * ask: {question, dataset_ids?, k (default 5)} -> {answer, citations,
 * results, note}: retrieval as above; with no chat model configured the
 * answer is null and note says so. */
#ifndef VZ_APP_SEARCHSVC_H
#define VZ_APP_SEARCHSVC_H

#include <jansson.h>

#include "app/app.h"
#include "core/err.h"

/* Errors: VZ_EINVAL (empty query, k out of range, bad mode or ids),
 * VZ_ENOTFOUND (unknown dataset), VZ_ECONFLICT (dataset not ready). */
int vz_searchsvc_search(struct vz_app *app, json_t *body, json_t **out,
                        struct vz_err *err) VZ_MUST_CHECK;
int vz_searchsvc_ask(struct vz_app *app, json_t *body, json_t **out,
                     struct vz_err *err) VZ_MUST_CHECK;

#endif
