#include "http/routes.h"

#include "http/handlers.h"

static const struct vz_route routes[] = {
    {"GET", "/api/v1/health", vz_h_health, VZ_ROUTE_PUBLIC},
    {"GET", "/", vz_h_index, VZ_ROUTE_PUBLIC},
};

const struct vz_route *vz_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
