/* The HTTP server: libmicrohttpd with a thread pool, JSON in and out.
 *
 * Requests are matched against one route table (routes.c). A handler gets a
 * struct vz_req, reads its inputs through the vz_req_* accessors and sets
 * exactly one reply with vz_reply_json() or vz_reply_error(); the server
 * sends it after the handler returns. Errors always have the shape
 * {"error":{"code":"...","message":"..."}}. */
#ifndef VZ_HTTP_SERVER_H
#define VZ_HTTP_SERVER_H

#include <stdint.h>

#include <jansson.h>

#include "app/app.h"
#include "core/buf.h"
#include "core/err.h"

struct vz_http;
struct vz_req;

typedef void (*vz_handler_fn)(struct vz_req *r);

/* Route flags. */
#define VZ_ROUTE_PUBLIC 0x1u /* no authentication needed */

struct vz_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/db/connections/{id}": {x} matches one segment */
    vz_handler_fn fn;
    unsigned flags;
};

/* Start serving on cfg->listen_host:listen_port (port 0 picks a free
 * one). On success *out is new; stop and free with vz_http_stop(). */
int vz_http_start(struct vz_app *app, struct vz_http **out, struct vz_err *err) VZ_MUST_CHECK;
/* Stop accepting, finish or abort requests in flight, free. NULL is ok. */
void vz_http_stop(struct vz_http *h);
/* The port actually bound. */
int vz_http_port(const struct vz_http *h);

/* --- for handlers --- */

struct vz_app *vz_req_app(struct vz_req *r);
const char *vz_req_method(struct vz_req *r);
/* The n-th {param} of the matched pattern, borrowed for the request. */
const char *vz_req_param(struct vz_req *r, size_t n);
/* Query-string argument or header, borrowed for the request, or NULL. */
const char *vz_req_query(struct vz_req *r, const char *key);
const char *vz_req_header(struct vz_req *r, const char *key);
/* A cookie value, borrowed for the request, or NULL. */
const char *vz_req_cookie(struct vz_req *r, const char *key);
/* The client's IP address as text ("unknown" if not known). */
void vz_req_client(struct vz_req *r, char *out, size_t n);
/* The raw body (never NULL; empty when none). */
const char *vz_req_body(struct vz_req *r, size_t *len);

/* Parse the body as a JSON object. On failure the 4xx reply is already set
 * (415 wrong content type, 400 bad JSON / not an object) and it returns <0.
 * On success *out is borrowed until the request ends. */
int vz_req_json_object(struct vz_req *r, json_t **out);

/* Set the reply. body is taken over (decref'd by the server). */
void vz_reply_json(struct vz_req *r, unsigned status, json_t *body);
void vz_reply_error(struct vz_req *r, unsigned status, const char *code, const char *fmt, ...)
    VZ_PRINTF(4, 5);
/* Reply with the status and code that belong to err->code, and err->msg. */
void vz_reply_err(struct vz_req *r, const struct vz_err *err);
/* Reply with the contents of an open file (taken over: closed by the
 * server) as an attachment called filename. */
void vz_reply_file(struct vz_req *r, int fd, uint64_t size, const char *content_type,
                   const char *filename);
/* Reply with bytes that outlive the server (the compiled-in web assets):
 * never copied, never freed. content_type must be static too. Unlike the
 * JSON replies, a Cache-Control header set with vz_reply_header() replaces
 * the default "no-store". */
void vz_reply_bytes(struct vz_req *r, unsigned status, const char *content_type, const void *bytes,
                    size_t len);
/* Any extra response header (e.g. Set-Cookie); at most 8 per reply. Copied. */
int vz_reply_header(struct vz_req *r, const char *name, const char *value) VZ_MUST_CHECK;

/* HTTP status and error.code string for a VZ_E* code. */
unsigned vz_http_status_for(int code, const char **code_name);

#endif
