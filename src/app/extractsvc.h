/* Extraction requests (spec 2.6 `POST /db/connections/{id}/extract`) and the
 * jobs that carry them out. Shared by the HTTP API and the CLI.
 *
 * Request: {"tables": [{"table", "schema"?, "row_limit"?, "columns"?,
 * "exclude_columns"?}], ...} or {"custom_sql", "dataset_name"}, plus
 * "dry_run"?, "pipeline"? (default true: process, chunk, embed and index
 * after the extraction, pipeline/pipeline.h), "embed_provider"? ("local" |
 * "keyword"), "decimal"? ("double" | "exact").
 *
 * One dataset per table or query; re-extracting the same table (or the same
 * custom query name) reuses the dataset id and replaces its file atomically.
 * The raw Parquet file is <data>/<dataset_id>.parquet (M1). */
#ifndef VZ_APP_EXTRACTSVC_H
#define VZ_APP_EXTRACTSVC_H

#include <jansson.h>

#include "app/app.h"
#include "core/err.h"

/* Validate and plan. dry_run: *out = {"dry_run": true, "tables": [...]}
 * with estimates, column mapping, warnings and hints; nothing is queued.
 * Otherwise datasets and jobs are created and queued on app->runner and
 * *out = {"datasets": [{dataset_id, job_id, table}]}. Errors: VZ_EINVAL
 * (bad request, unknown table or column), VZ_ELIMIT (estimate over
 * DB_EXTRACT_MAX_ROWS: the message has the estimate, the cap and the fix),
 * VZ_ENOT_READONLY (custom SQL refused by sqlguard), VZ_ECONFLICT (that
 * table is being extracted right now), connection errors. */
int vz_extractsvc_request(struct vz_app *app, const char *conn_id, json_t *body, json_t **out,
                          struct vz_err *err) VZ_MUST_CHECK;

/* Queue a pipeline-only job (process, chunk, embed, index) on the dataset's
 * current raw file. body (may be NULL): {"embed_provider"?: "local" |
 * "keyword"}, kept in the dataset's options. *out = {dataset_id, job_id}.
 * VZ_ENOTFOUND (no such dataset), VZ_ECONFLICT (a job is queued or running
 * for it, or it has no raw file), VZ_EINVAL (bad body). */
int vz_extractsvc_reprocess(struct vz_app *app, const char *id, json_t *body, json_t **out,
                            struct vz_err *err) VZ_MUST_CHECK;

/* Ask a queued or running job to stop. VZ_ENOTFOUND for unknown ids,
 * VZ_ECONFLICT when it already ended. */
int vz_extractsvc_cancel(struct vz_app *app, const char *job_id, struct vz_err *err) VZ_MUST_CHECK;

/* Delete a dataset: its record, raw file, processed file and search index
 * (pipeline/pipeline.h lists the files). VZ_ECONFLICT while a job for it
 * is queued or running. */
int vz_extractsvc_delete_dataset(struct vz_app *app, const char *id,
                                 struct vz_err *err) VZ_MUST_CHECK;

/* At start: fail jobs a previous process left unfinished and remove stray
 * temp files from the data directory. */
int vz_extractsvc_recover(struct vz_app *app, struct vz_err *err) VZ_MUST_CHECK;

#endif
