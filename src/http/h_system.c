#include <string.h>

#include "http/handlers.h"
#include "store/store.h"

void vz_h_health(struct vz_req *r)
{
    struct vz_err err = VZ_ERR_INIT;
    int version = 0;
    if (vz_store_schema_version(vz_req_app(r)->store, &version, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    vz_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:i}", "status", "ok", "version", VZ_VERSION,
                            "schema_version", version));
}
