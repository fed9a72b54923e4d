/* Reading rows back from a dataset's Parquet file (preview, paging). */
#ifndef VZ_EXTRACT_PREVIEW_H
#define VZ_EXTRACT_PREVIEW_H

#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define VZ_PREVIEW_MAX_LIMIT 1000

/* *out = {"columns": [{name, type}], "rows": [[...]], "offset", "limit",
 * "total"} for rows [offset, offset+limit) of the Parquet file at path.
 * Numbers and booleans come as JSON numbers and booleans, everything else
 * as text. Opens a private in-memory DuckDB per call: safe from any thread. */
int vz_parquet_rows(const char *path, uint64_t offset, uint64_t limit, json_t **out,
                    struct vz_err *err) VZ_MUST_CHECK;

#endif
