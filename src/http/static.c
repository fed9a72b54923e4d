#include "http/static.h"

#include <string.h>

/* The UI loads nothing but its own files: no inline script or style, no
 * other origin, no framing. connect-src 'self' covers the API. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

const struct vz_asset *vz_asset_find(const char *name)
{
    size_t lo = 0, hi = vz_assets_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, vz_assets[mid].name);
        if (c == 0)
            return &vz_assets[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* If-None-Match holds "*" or a list of entity tags, possibly weak (W/"x");
 * for GET the comparison is the weak one (RFC 9110 13.1.2), so finding our
 * quoted tag anywhere in the list is a match. */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return 0;
    while (*inm == ' ' || *inm == '\t')
        inm++;
    return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static void reply_asset(struct vz_req *r, const struct vz_asset *a, const char *cache)
{
    /* No assets are hashed into their names, so every load revalidates;
     * with the ETag that costs a 304 and no body. */
    if (vz_reply_header(r, "Content-Security-Policy", CSP) < 0 ||
        vz_reply_header(r, "X-Frame-Options", "DENY") < 0 ||
        vz_reply_header(r, "Referrer-Policy", "no-referrer") < 0 ||
        vz_reply_header(r, "Cross-Origin-Opener-Policy", "same-origin") < 0 ||
        vz_reply_header(r, "Cache-Control", cache) < 0 || vz_reply_header(r, "ETag", a->etag) < 0) {
        /* Never serve the page without its security headers. */
        vz_reply_error(r, 500, "internal_error", "out of memory");
        return;
    }
    if (etag_matches(vz_req_header(r, "If-None-Match"), a->etag))
        vz_reply_bytes(r, 304, a->content_type, "", 0);
    else
        vz_reply_bytes(r, 200, a->content_type, a->data, a->len);
}

void vz_h_static_index(struct vz_req *r)
{
    const struct vz_asset *a = vz_asset_find("index.html");
    if (!a) {
        vz_reply_error(r, 404, "not_found", "this build has no web UI");
        return;
    }
    reply_asset(r, a, "no-cache");
}

void vz_h_static_asset(struct vz_req *r)
{
    const char *name = vz_req_param(r, 0);
    const struct vz_asset *a = name ? vz_asset_find(name) : NULL;
    if (!a) {
        vz_reply_error(r, 404, "not_found", "no such asset");
        return;
    }
    reply_asset(r, a, "no-cache");
}
