/* The dataset pipeline: process -> chunk -> embed -> index.
 *
 * Files, all under the data directory (<data>):
 *   <data>/<id>.parquet                        the raw extraction (input, never modified)
 *   <data>/datasets/<id>.processed.parquet     processed rows (M1), written as
 *                                              <...>.processed.parquet.tmp and renamed
 *                                              only once the new index is committed
 *   <data>/datasets/<id>/                      the search index (search/index.h), built
 *                                              in <id>.tmp/ and renamed over the old one
 * A failed or cancelled run removes its temp files and leaves the previous
 * processed file and index as they were.
 *
 * Chunks: one per row, "column: value" lines in column order, NULLs left out;
 * text values longer than VZ_CHUNK_WINDOW bytes appear in the row chunk as
 * their first VZ_CHUNK_HEAD bytes plus "…" and are also cut into windows of
 * about VZ_CHUNK_WINDOW bytes overlapping by VZ_CHUNK_OVERLAP, cut at
 * whitespace; each window is a chunk "column: window" with the row's id and
 * col = the column. The row id is the primary key value(s) as text joined
 * with "|", or the 1-based row number when there is no key. */
#ifndef VZ_PIPELINE_PIPELINE_H
#define VZ_PIPELINE_PIPELINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define VZ_CHUNK_WINDOW 1000 /* bytes, about 250 MiniLM tokens */
#define VZ_CHUNK_OVERLAP 100
#define VZ_CHUNK_HEAD 200
#define VZ_PIPELINE_BATCH 32 /* chunks per embed call and index append */

enum { VZ_PHASE_PROCESSING = 0, VZ_PHASE_EMBEDDING = 1, VZ_PHASE_INDEXING = 2 };

/* Live progress, written by the pipeline's thread and read by others (the
 * job ticker). done/total count rows of the current phase. cancel (may be
 * NULL) is polled between steps: set it to nonzero to stop the run with
 * VZ_ECANCELLED. on_phase (may be NULL) is called on the pipeline's thread
 * when a phase starts, before any work of it. */
struct vz_pipeline_progress {
    _Atomic int phase;
    _Atomic uint64_t done, total;
    _Atomic int *cancel;
    void (*on_phase)(void *ud, int phase);
    void *ud;
};

struct vz_pipeline_result {
    uint64_t rows, chunks;
    int dim;           /* 0 for "keyword" */
    char provider[16]; /* "local" | "keyword" */
    char model[128];   /* "" for "keyword" */
    json_t *profile;   /* new reference (json_decref), {"rows": n, "columns": [...]} */
    double process_seconds, chunk_seconds, embed_seconds, index_seconds;
};

/* "processing" | "embedding" | "indexing" for a VZ_PHASE_*. Static. */
const char *vz_pipeline_phase_name(int phase);

/* Run the whole pipeline for dataset_id on <data_dir>/<dataset_id>.parquet.
 * primary_key: array of column names (borrowed), NULL or [] for row numbers;
 * names that are not columns of the file fall back to row numbers too.
 * embed_provider: "local" (NULL means "local") or "keyword" (no vectors).
 * pr may be NULL. On success res is filled (release with
 * vz_pipeline_result_release()); on failure res holds nothing to release.
 *
 * Codes: VZ_ENOTFOUND (no raw file, or the model is missing), VZ_EINVAL
 * (unknown provider), VZ_ECANCELLED, VZ_EIO/VZ_ENOSPACE (files, DuckDB),
 * VZ_ENOMEM, VZ_EINTERNAL, or what the embedder and index writer return.
 * Blocks for the whole run; uses DuckDB and one embedder of its own, so
 * runs for different datasets may go on in parallel. Two runs for the same
 * dataset at once are not allowed (the caller's job rules prevent it). */
int vz_pipeline_run(const char *data_dir, const char *dataset_id, const json_t *primary_key,
                    const char *embed_provider, struct vz_pipeline_progress *pr,
                    struct vz_pipeline_result *res, struct vz_err *err) VZ_MUST_CHECK;

void vz_pipeline_result_release(struct vz_pipeline_result *res);

/* Paths of a dataset's pipeline files into out (size n). 0, or VZ_ETOOBIG. */
int vz_pipeline_processed_path(const char *data_dir, const char *dataset_id, char *out,
                               size_t n) VZ_MUST_CHECK;
int vz_pipeline_index_dir(const char *data_dir, const char *dataset_id, char *out,
                          size_t n) VZ_MUST_CHECK;

/* 1 if the dataset has a committed index folder. */
int vz_pipeline_has_index(const char *data_dir, const char *dataset_id);

/* Remove the dataset's processed file, index folder and their temp files.
 * Missing files are fine. 0, or the first failure as VZ_EIO (the rest is
 * still attempted). */
int vz_pipeline_remove_files(const char *data_dir, const char *dataset_id,
                             struct vz_err *err) VZ_MUST_CHECK;

/* At start: remove every <data>/datasets/ *.tmp file or folder left by an
 * interrupted run; *removed gets how many. */
int vz_pipeline_clean_tmp(const char *data_dir, int *removed, struct vz_err *err) VZ_MUST_CHECK;

#endif
