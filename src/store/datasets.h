/* datasets and jobs rows. Thread-safe (store lock). Strings in the structs
 * are owned by them; free with the matching _free(). */
#ifndef VZ_STORE_DATASETS_H
#define VZ_STORE_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "store/store.h"

struct vz_dataset {
    char id[40];
    char *name;
    char *source_type;          /* file | database */
    char *source_connection_id; /* NULL when file or orphaned */
    char *source_table;         /* schema.table | custom_query */
    char *source_sql;
    char *options; /* JSON text of the extract request for this dataset */
    char *status;  /* queued | extracting | processing | ... | ready | failed | cancelled */
    long long row_count, byte_size; /* -1 when unknown */
    double extract_seconds;         /* < 0 when unknown */
    char *warnings;                 /* JSON array text */
    char *raw_path, *processed_path, *error_message, *last_job_id;
    char *created_at, *updated_at;
    /* Set by the pipeline (NULL / -1 until it has run once). */
    char *profile; /* JSON object text */
    char *embed_provider, *embed_model, *index_path;
    long long embed_dim, chunk_count;
};

/* What a finished pipeline run records (all borrowed). */
struct vz_dataset_pipeline {
    const char *profile_json;                 /* JSON object text */
    const char *embed_provider, *embed_model; /* model NULL or "" for keyword */
    int embed_dim;                            /* 0 for keyword */
    long long chunk_count;
    const char *processed_path, *index_path;
};

struct vz_job {
    char id[40];
    char *dataset_id;
    char *kind;  /* extract */
    char *state; /* queued | running | succeeded | failed | cancelled */
    char *phase; /* extracting | processing | embedding | indexing */
    double progress;
    long long rows_done, rows_total, bytes; /* rows_total -1 when unknown */
    double rate;                            /* rows per second */
    char *error;
    char *created_at, *started_at, *finished_at, *updated_at;
};

void vz_dataset_free(struct vz_dataset *d);
void vz_job_free(struct vz_job *j);

/* Insert d, or when d->id exists update its source fields and options and
 * set status (re-extraction keeps the id). */
int vz_dataset_upsert(struct vz_store *st, const struct vz_dataset *d,
                      struct vz_err *err) VZ_MUST_CHECK;
int vz_dataset_get(struct vz_store *st, const char *id, struct vz_dataset **out,
                   struct vz_err *err) VZ_MUST_CHECK;
/* The dataset extracted from (connection, source_table[, name for custom
 * queries]), if any: *out NULL when none. */
int vz_dataset_find_source(struct vz_store *st, const char *conn_id, const char *source_table,
                           const char *name, struct vz_dataset **out,
                           struct vz_err *err) VZ_MUST_CHECK;
int vz_dataset_list(struct vz_store *st, struct vz_dataset ***out, size_t *n,
                    struct vz_err *err) VZ_MUST_CHECK;
void vz_dataset_list_free(struct vz_dataset **v, size_t n);
int vz_dataset_delete(struct vz_store *st, const char *id, struct vz_err *err) VZ_MUST_CHECK;
/* Set status and, when not NULL/negative, error, counts, paths, warnings. */
int vz_dataset_set_status(struct vz_store *st, const char *id, const char *status,
                          const char *error, struct vz_err *err) VZ_MUST_CHECK;
int vz_dataset_set_result(struct vz_store *st, const char *id, const char *status, long long rows,
                          long long bytes, double seconds, const char *raw_path,
                          const char *warnings_json, struct vz_err *err) VZ_MUST_CHECK;
/* Record a finished pipeline run and set status (error_message cleared). */
int vz_dataset_set_pipeline(struct vz_store *st, const char *id, const char *status,
                            const struct vz_dataset_pipeline *p, struct vz_err *err) VZ_MUST_CHECK;

int vz_job_insert(struct vz_store *st, const struct vz_job *j, struct vz_err *err) VZ_MUST_CHECK;
int vz_job_get(struct vz_store *st, const char *id, struct vz_job **out,
               struct vz_err *err) VZ_MUST_CHECK;
/* Live counters (cheap; called about once a second while running). */
int vz_job_progress(struct vz_store *st, const char *id, long long rows, long long rows_total,
                    long long bytes, double rate, struct vz_err *err) VZ_MUST_CHECK;
/* state "running" sets started_at; a final state sets finished_at. */
int vz_job_set_state(struct vz_store *st, const char *id, const char *state, const char *phase,
                     const char *error, struct vz_err *err) VZ_MUST_CHECK;
/* 1 if the dataset has a queued or running job (its id into job_id). */
int vz_job_active_for(struct vz_store *st, const char *dataset_id, char job_id[40],
                      struct vz_err *err);
/* At start: every queued/running job is failed with reason; returns how
 * many. Their datasets go back to "ready" when their raw file is still
 * there from an earlier run, else "failed". */
int vz_job_fail_interrupted(struct vz_store *st, const char *reason, int *count,
                            struct vz_err *err) VZ_MUST_CHECK;

/* JSON views (new references; NULL on allocation failure). */
json_t *vz_dataset_view(const struct vz_dataset *d);
json_t *vz_job_view(const struct vz_job *j);

#endif
