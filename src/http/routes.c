#include "http/routes.h"

#include "http/handlers.h"
#include "http/static.h"

static const struct vz_route routes[] = {
    {"GET", "/api/v1/health", vz_h_health, VZ_ROUTE_PUBLIC},
    {"GET", "/api/v1/system", vz_h_system_info, 0},
    {"POST", "/api/v1/auth/login", vz_h_login, VZ_ROUTE_PUBLIC},
    {"POST", "/api/v1/auth/logout", vz_h_logout, VZ_ROUTE_PUBLIC},
    {"GET", "/api/v1/auth/session", vz_h_session, VZ_ROUTE_PUBLIC},
    {"POST", "/api/v1/db/connections", vz_h_conn_create, 0},
    {"GET", "/api/v1/db/connections", vz_h_conn_list, 0},
    {"GET", "/api/v1/db/connections/{id}", vz_h_conn_get, 0},
    {"PUT", "/api/v1/db/connections/{id}", vz_h_conn_update, 0},
    {"DELETE", "/api/v1/db/connections/{id}", vz_h_conn_delete, 0},
    {"POST", "/api/v1/db/connections/{id}/test", vz_h_conn_test, 0},
    {"GET", "/api/v1/db/connections/{id}/schema", vz_h_conn_schema, 0},
    {"GET", "/api/v1/db/connections/{id}/readonly-role", vz_h_conn_role_sql, 0},
    {"POST", "/api/v1/db/connections/{id}/extract", vz_h_extract, 0},
    {"GET", "/api/v1/jobs/{id}", vz_h_job_get, 0},
    {"POST", "/api/v1/jobs/{id}/cancel", vz_h_job_cancel, 0},
    {"POST", "/api/v1/search", vz_h_search, 0},
    {"POST", "/api/v1/ask", vz_h_ask, 0},
    {"GET", "/api/v1/datasets", vz_h_dataset_list, 0},
    {"GET", "/api/v1/datasets/{id}", vz_h_dataset_get, 0},
    {"DELETE", "/api/v1/datasets/{id}", vz_h_dataset_delete, 0},
    {"GET", "/api/v1/datasets/{id}/download", vz_h_dataset_download, 0},
    {"GET", "/api/v1/datasets/{id}/rows", vz_h_dataset_rows, 0},
    {"POST", "/api/v1/datasets/{id}/reprocess", vz_h_dataset_reprocess, 0},
    {"GET", "/", vz_h_static_index, VZ_ROUTE_PUBLIC},
    {"GET", "/assets/{name}", vz_h_static_asset, VZ_ROUTE_PUBLIC},
};

const struct vz_route *vz_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
