/* Extraction, jobs and datasets: thin wrappers over app/extractsvc and the
 * datasets store. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>

#include "app/extractsvc.h"
#include "extract/preview.h"
#include "core/util.h"
#include "http/handlers.h"
#include "store/datasets.h"

static const char *uuid_param_or_reply(struct vz_req *r, const char *what)
{
    const char *id = vz_req_param(r, 0);
    if (!id || !vz_uuid_valid(id)) {
        vz_reply_error(r, 404, "not_found", "no %s with that id", what);
        return NULL;
    }
    return id;
}

void vz_h_extract(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    const char *id = uuid_param_or_reply(r, "connection");
    int rc;
    if (!id || vz_req_json_object(r, &body) < 0)
        return;
    rc = vz_extractsvc_request(vz_req_app(r), id, body, &out, &err);
    if (rc < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, json_is_true(json_object_get(body, "dry_run")) ? 200 : 202, out);
}

void vz_h_job_get(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_job *j = NULL;
    const char *id = uuid_param_or_reply(r, "job");
    if (!id)
        return;
    if (vz_job_get(vz_req_app(r)->store, id, &j, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    vz_reply_json(r, 200, vz_job_view(j));
    vz_job_free(j);
}

void vz_h_job_cancel(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    const char *id = uuid_param_or_reply(r, "job");
    if (!id)
        return;
    if (vz_extractsvc_cancel(vz_req_app(r), id, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 202, json_pack("{s:s, s:b}", "id", id, "cancel_requested", 1));
}

void vz_h_dataset_list(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_dataset **v = NULL;
    size_t n = 0;
    json_t *arr;
    if (vz_dataset_list(vz_req_app(r)->store, &v, &n, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, vz_dataset_view(v[i]));
    vz_dataset_list_free(v, n);
    vz_reply_json(r, 200, arr ? json_pack("{s:o}", "datasets", arr) : NULL);
}

/* The dataset, with its latest job inlined (progress at a glance). */
void vz_h_dataset_get(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_dataset *d = NULL;
    struct vz_job *j = NULL;
    json_t *view;
    const char *id = uuid_param_or_reply(r, "dataset");
    if (!id)
        return;
    if (vz_dataset_get(vz_req_app(r)->store, id, &d, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    view = vz_dataset_view(d);
    if (view && d->last_job_id && vz_job_get(vz_req_app(r)->store, d->last_job_id, &j, &err) == 0)
        json_object_set_new(view, "job", vz_job_view(j));
    vz_job_free(j);
    vz_dataset_free(d);
    vz_reply_json(r, 200, view);
}

void vz_h_dataset_delete(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    const char *id = uuid_param_or_reply(r, "dataset");
    if (!id)
        return;
    if (vz_extractsvc_delete_dataset(vz_req_app(r), id, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 200, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
}

/* POST /api/v1/datasets/{id}/reprocess: the pipeline again on the current
 * raw file. The body is optional ({"embed_provider": ...}). */
void vz_h_dataset_reprocess(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body = NULL, *out = NULL;
    size_t len = 0;
    const char *id = uuid_param_or_reply(r, "dataset");
    if (!id)
        return;
    (void)vz_req_body(r, &len);
    if (len && vz_req_json_object(r, &body) < 0)
        return;
    if (vz_extractsvc_reprocess(vz_req_app(r), id, body, &out, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 202, out);
}

/* The raw Parquet file, streamed from disk (never loaded into memory). */
void vz_h_dataset_download(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_dataset *d = NULL;
    char path[PATH_MAX + 64], fname[300];
    struct stat sb;
    int fd;
    const char *id = uuid_param_or_reply(r, "dataset");
    if (!id)
        return;
    if (vz_dataset_get(vz_req_app(r)->store, id, &d, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    /* The path is built from the id, never taken from the record or the URL. */
    snprintf(path, sizeof(path), "%s/%s.parquet", vz_req_app(r)->cfg->data_dir, d->id);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        vz_reply_error(r, 404, "not_found", "dataset %s has no extracted file yet (status %s)", id,
                       d->status);
        vz_dataset_free(d);
        return;
    }
    snprintf(fname, sizeof(fname), "%s.parquet", d->id);
    vz_dataset_free(d);
    vz_reply_file(r, fd, (uint64_t)sb.st_size, "application/vnd.apache.parquet", fname);
}

/* GET /api/v1/datasets/{id}/rows?offset=&limit=: page through the rows of
 * the dataset's file (the raw extraction until processing exists). */
void vz_h_dataset_rows(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_dataset *d = NULL;
    char path[PATH_MAX + 64], *end;
    const char *id = uuid_param_or_reply(r, "dataset");
    const char *qo = vz_req_query(r, "offset"), *ql = vz_req_query(r, "limit");
    unsigned long long offset = 0, limit = 50;
    json_t *out = NULL;
    if (!id)
        return;
    if (qo) {
        errno = 0;
        offset = strtoull(qo, &end, 10);
        if (errno || *end || !*qo || qo[0] == '-') {
            vz_reply_error(r, 400, "invalid_request", "offset must be a non-negative integer");
            return;
        }
    }
    if (ql) {
        errno = 0;
        limit = strtoull(ql, &end, 10);
        if (errno || *end || !*ql || ql[0] == '-' || limit < 1 || limit > VZ_PREVIEW_MAX_LIMIT) {
            vz_reply_error(r, 400, "invalid_request", "limit must be an integer from 1 to %d",
                           VZ_PREVIEW_MAX_LIMIT);
            return;
        }
    }
    if (vz_dataset_get(vz_req_app(r)->store, id, &d, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s.parquet", vz_req_app(r)->cfg->data_dir, d->id);
    if (access(path, R_OK) != 0) {
        vz_reply_error(r, 409, "not_ready", "dataset %s has no extracted file yet (status %s)", id,
                       d->status);
        vz_dataset_free(d);
        return;
    }
    vz_dataset_free(d);
    if (vz_parquet_rows(path, offset, limit, &out, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 200, out);
}
