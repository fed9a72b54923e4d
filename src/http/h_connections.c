/* /api/v1/db/connections: thin wrappers over app/connsvc. */
#include <string.h>

#include "app/connsvc.h"
#include "core/util.h"
#include "http/handlers.h"

/* Note: every handler calls the service before reply_result(), never inside
 * its argument list, where `out` could be read before the call fills it. */

/* Ids are UUIDs; anything else is a 404 without touching the store. */
static const char *id_or_reply(struct vz_req *r)
{
    const char *id = vz_req_param(r, 0);
    if (!id || !vz_uuid_valid(id)) {
        vz_reply_error(r, 404, "not_found", "no connection with that id");
        return NULL;
    }
    return id;
}

static void reply_result(struct vz_req *r, int rc, unsigned ok_status, json_t *out,
                         const struct vz_err *err)
{
    if (rc < 0)
        vz_reply_err(r, err);
    else
        vz_reply_json(r, ok_status, out);
}

void vz_h_conn_create(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    int rc;
    if (vz_req_json_object(r, &body) < 0)
        return;
    rc = vz_connsvc_create(vz_req_app(r), body, &out, &err);
    reply_result(r, rc, 201, out, &err);
}

void vz_h_conn_list(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *out = NULL;
    int rc = vz_connsvc_list(vz_req_app(r), &out, &err);
    reply_result(r, rc, 200, rc < 0 ? NULL : json_pack("{s:o}", "connections", out), &err);
}

void vz_h_conn_get(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *out = NULL;
    const char *id = id_or_reply(r);
    int rc;
    if (!id)
        return;
    rc = vz_connsvc_get(vz_req_app(r), id, &out, &err);
    reply_result(r, rc, 200, out, &err);
}

void vz_h_conn_update(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    const char *id = id_or_reply(r);
    int rc;
    if (!id || vz_req_json_object(r, &body) < 0)
        return;
    rc = vz_connsvc_update(vz_req_app(r), id, body, &out, &err);
    reply_result(r, rc, 200, out, &err);
}

void vz_h_conn_delete(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    const char *id = id_or_reply(r);
    int rc;
    if (!id)
        return;
    rc = vz_connsvc_delete(vz_req_app(r), id, &err);
    reply_result(r, rc, 200, rc < 0 ? NULL : json_pack("{s:s, s:b}", "id", id, "deleted", 1), &err);
}

void vz_h_conn_test(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *out = NULL;
    const char *id = id_or_reply(r);
    int rc;
    if (!id)
        return;
    rc = vz_connsvc_test(vz_req_app(r), id, &out, &err);
    reply_result(r, rc, 200, out, &err);
}

void vz_h_conn_schema(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *out = NULL;
    const char *id = id_or_reply(r);
    int rc;
    if (!id)
        return;
    rc = vz_connsvc_schema(vz_req_app(r), id, vz_req_query(r, "schema"), &out, &err);
    reply_result(r, rc, 200, out, &err);
}

void vz_h_conn_role_sql(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *out = NULL;
    const char *id = id_or_reply(r);
    int rc;
    if (!id)
        return;
    rc = vz_connsvc_role_sql(vz_req_app(r), id, vz_req_query(r, "schema"), vz_req_query(r, "role"),
                             &out, &err);
    reply_result(r, rc, 200, out, &err);
}
