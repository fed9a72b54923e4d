/* POST /api/v1/search and /api/v1/ask: thin wrappers over app/searchsvc. */
#include "app/searchsvc.h"
#include "http/handlers.h"

void vz_h_search(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    if (vz_req_json_object(r, &body) < 0)
        return;
    if (vz_searchsvc_search(vz_req_app(r), body, &out, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 200, out);
}

void vz_h_ask(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *body, *out = NULL;
    if (vz_req_json_object(r, &body) < 0)
        return;
    if (vz_searchsvc_ask(vz_req_app(r), body, &out, &err) < 0)
        vz_reply_err(r, &err);
    else
        vz_reply_json(r, 200, out);
}
