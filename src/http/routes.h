/* The route table: every endpoint of the REST API in one place. */
#ifndef VZ_HTTP_ROUTES_H
#define VZ_HTTP_ROUTES_H

#include <stddef.h>

#include "http/server.h"

/* Borrowed, static. */
const struct vz_route *vz_routes(size_t *n);

#endif
