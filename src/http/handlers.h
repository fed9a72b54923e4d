/* Request handlers, one per endpoint, grouped in files by resource. */
#ifndef VZ_HTTP_HANDLERS_H
#define VZ_HTTP_HANDLERS_H

#include "http/server.h"

/* h_system.c */
void vz_h_health(struct vz_req *r);
void vz_h_index(struct vz_req *r);

#endif
