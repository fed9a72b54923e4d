/* The web UI, compiled into the binary.
 *
 * scripts/embed-assets.sh turns every file of web/ (and the vendored SQL
 * highlighter) into build/gen/assets.c: one const table, built at compile
 * time. Requests are answered from that table by exact name only, so no URL
 * (with "..", "%2e%2e", encoded slashes or anything else) ever reaches the
 * filesystem. */
#ifndef VZ_HTTP_STATIC_H
#define VZ_HTTP_STATIC_H

#include <stddef.h>

#include "http/server.h"

struct vz_asset {
    const char *name;         /* "app.js": a file name, no directory */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong, quoted: "\"<sha256 prefix>\"" */
};

/* The generated table (build/gen/assets.c), sorted by name. Static. */
extern const struct vz_asset vz_assets[];
extern const size_t vz_assets_count;

/* The asset called exactly name, or NULL. Borrowed, static. */
const struct vz_asset *vz_asset_find(const char *name);

/* GET /: index.html, revalidated on every load (Cache-Control: no-cache). */
void vz_h_static_index(struct vz_req *r);
/* GET /assets/{name}: one file of the table, with its ETag; If-None-Match
 * that names it gets a 304. */
void vz_h_static_asset(struct vz_req *r);

#endif
