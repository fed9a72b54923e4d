#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "auth/auth.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "http/routes.h"

#define MAX_PARAMS 4
#define MAX_PARAM_LEN 256
#define MAX_EXTRA_HEADERS 8

struct vz_http {
    struct MHD_Daemon *d;
    struct vz_app *app;
    int port;
};

struct vz_req {
    struct vz_app *app;
    struct MHD_Connection *conn;
    const char *method, *url; /* borrowed from MHD for the request */
    char params[MAX_PARAMS][MAX_PARAM_LEN];
    size_t nparams;
    struct vz_buf body;
    int body_too_big;
    size_t body_seen;
    json_t *json;
    /* the reply */
    unsigned status;
    char *reply; /* JSON text, owned */
    size_t reply_len;
    char *hdr_name[MAX_EXTRA_HEADERS], *hdr_value[MAX_EXTRA_HEADERS];
    size_t nhdr;
    int64_t started_ms;
    /* a file reply instead of JSON (fd >= 0) */
    int file_fd;
    uint64_t file_size;
    char file_type[64];
    /* static bytes instead of JSON (vz_reply_bytes) */
    const void *static_body;
    size_t static_len;
    const char *static_type;
};

/* ---- error mapping: one table from VZ_E* code to status and JSON code ---- */

static const struct {
    int code;
    unsigned status;
    const char *name;
} status_map[] = {
    {VZ_EINVAL, 400, "invalid_request"},
    {VZ_ENOT_READONLY, 400, "not_read_only"},
    {VZ_ELIMIT, 400, "limit_exceeded"},
    {VZ_EAUTH, 401, "unauthorized"},
    {VZ_EPERM, 403, "forbidden"},
    {VZ_ENOTFOUND, 404, "not_found"},
    {VZ_EEXISTS, 409, "already_exists"},
    {VZ_ECONFLICT, 409, "conflict"},
    {VZ_ETOOBIG, 413, "payload_too_large"},
    {VZ_EUNSUPPORTED, 422, "unsupported"},
    {VZ_ECONNECT, 502, "source_unreachable"},
    {VZ_ESOURCE, 502, "source_error"},
    {VZ_ETIMEOUT, 504, "timeout"},
    {VZ_ENOSPACE, 507, "no_space"},
    {VZ_ECANCELLED, 409, "cancelled"},
};

unsigned vz_http_status_for(int code, const char **code_name)
{
    for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++) {
        if (status_map[i].code == code) {
            *code_name = status_map[i].name;
            return status_map[i].status;
        }
    }
    *code_name = "internal_error";
    return 500;
}

/* ---- accessors ---- */

struct vz_app *vz_req_app(struct vz_req *r)
{
    return r->app;
}

const char *vz_req_method(struct vz_req *r)
{
    return r->method;
}

const char *vz_req_param(struct vz_req *r, size_t n)
{
    return n < r->nparams ? r->params[n] : NULL;
}

const char *vz_req_query(struct vz_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *vz_req_header(struct vz_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

const char *vz_req_cookie(struct vz_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, key);
}

void vz_req_client(struct vz_req *r, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, n, "unknown");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

const char *vz_req_body(struct vz_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return vz_buf_cstr(&r->body);
}

/* ---- replies ---- */

static void set_reply_text(struct vz_req *r, unsigned status, char *text)
{
    free(r->reply);
    r->status = status;
    r->reply = text;
    r->reply_len = text ? strlen(text) : 0;
}

void vz_reply_json(struct vz_req *r, unsigned status, json_t *body)
{
    char *text;
    if (!body) {
        vz_reply_error(r, 500, "internal_error", "out of memory building the response");
        return;
    }
    text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(body);
    if (!text) {
        vz_reply_error(r, 500, "internal_error", "out of memory building the response");
        return;
    }
    set_reply_text(r, status, text);
}

void vz_reply_error(struct vz_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[VZ_ERR_MSG_MAX * 2];
    char *text;
    json_t *j;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!text) /* last resort: a fixed body that needs no allocation to build */
        text = strdup("{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}");
    set_reply_text(r, status, text);
}

void vz_reply_err(struct vz_req *r, const struct vz_err *err)
{
    const char *name;
    unsigned status = vz_http_status_for(err->code, &name);
    if (status >= 500)
        vz_warn("%s %s -> %u: %s", r->method, r->url, status, err->msg);
    vz_reply_error(r, status, name, "%s", err->msg[0] ? err->msg : vz_strerror(err->code));
}

void vz_reply_file(struct vz_req *r, int fd, uint64_t size, const char *content_type,
                   const char *filename)
{
    char disp[300];
    if (r->file_fd >= 0)
        close(r->file_fd);
    r->file_fd = fd;
    r->file_size = size;
    snprintf(r->file_type, sizeof(r->file_type), "%s", content_type);
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
    if (vz_reply_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp) < 0) {
        /* the body is still right; only the suggested name is lost */
    }
    set_reply_text(r, 200, strdup(""));
}

void vz_reply_bytes(struct vz_req *r, unsigned status, const char *content_type, const void *bytes,
                    size_t len)
{
    r->static_body = bytes;
    r->static_len = len;
    r->static_type = content_type;
    set_reply_text(r, status, strdup(""));
}

int vz_reply_header(struct vz_req *r, const char *name, const char *value)
{
    if (r->nhdr == MAX_EXTRA_HEADERS)
        return VZ_ETOOBIG;
    r->hdr_name[r->nhdr] = strdup(name);
    r->hdr_value[r->nhdr] = strdup(value);
    if (!r->hdr_name[r->nhdr] || !r->hdr_value[r->nhdr]) {
        free(r->hdr_name[r->nhdr]);
        free(r->hdr_value[r->nhdr]);
        return VZ_ENOMEM;
    }
    r->nhdr++;
    return VZ_OK;
}

int vz_req_json_object(struct vz_req *r, json_t **out)
{
    const char *ct = vz_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_error_t jerr;

    *out = NULL;
    if (r->json) {
        *out = r->json;
        return VZ_OK;
    }
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        vz_reply_error(r, 415, "unsupported_media_type",
                       "request body must be JSON (Content-Type: application/json)");
        return VZ_EINVAL;
    }
    if (r->body.len == 0) {
        vz_reply_error(r, 400, "bad_json", "request body is empty; a JSON object is expected");
        return VZ_EINVAL;
    }
    r->json = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->json) {
        vz_reply_error(r, 400, "bad_json",
                       "request body is not valid JSON: %s at line %d column %d", jerr.text,
                       jerr.line, jerr.column);
        return VZ_EINVAL;
    }
    if (!json_is_object(r->json)) {
        vz_reply_error(r, 400, "bad_json", "request body must be a JSON object");
        return VZ_EINVAL;
    }
    *out = r->json;
    return VZ_OK;
}

/* ---- authentication ---- */

/* Bearer token, or session cookie plus CSRF header for anything but reads.
 * 0 if the request may go on; otherwise the 401/403 reply is set. */
static int authorize(struct vz_req *r)
{
    struct vz_auth *a = r->app->auth;
    const char *h = vz_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *cookie;
    char csrf[VZ_AUTH_ID_LEN + 1];

    if (h) {
        if (strncasecmp(h, "Bearer ", 7) == 0 && vz_auth_token_ok(a, h + 7))
            return 0;
        vz_reply_error(r, 401, "unauthorized", "invalid token in the Authorization header");
        return -1;
    }
    cookie = vz_req_cookie(r, VZ_AUTH_COOKIE);
    if (cookie && vz_auth_session_ok(a, cookie, csrf)) {
        const char *sent = vz_req_header(r, VZ_AUTH_CSRF_HEADER);
        if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
            return 0;
        if (sent && strlen(sent) == VZ_AUTH_ID_LEN &&
            CRYPTO_memcmp(sent, csrf, VZ_AUTH_ID_LEN) == 0)
            return 0;
        vz_reply_error(r, 403, "csrf_failed",
                       "missing or wrong " VZ_AUTH_CSRF_HEADER " header for a cookie session");
        return -1;
    }
    vz_reply_error(r, 401, "unauthorized",
                   "authentication required: log in, or send Authorization: Bearer <admin token>");
    return -1;
}

/* ---- routing ---- */

/* Match path against pattern, capturing {x} segments into r->params.
 * Segments are compared raw: ids never need percent-decoding. */
static int route_match(const char *pattern, const char *path, struct vz_req *r)
{
    size_t np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pend = strchr(p, '}');
            const char *send = strchr(s, '/');
            size_t n = send ? (size_t)(send - s) : strlen(s);
            if (!pend || n == 0 || n >= MAX_PARAM_LEN || np == MAX_PARAMS)
                return 0;
            memcpy(r->params[np], s, n);
            r->params[np][n] = '\0';
            np++;
            p = pend + 1;
            s += n;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return 0;
        }
    }
    if (*p || *s)
        return 0;
    r->nparams = np;
    return 1;
}

static void dispatch(struct vz_req *r, char *allow, size_t allow_len)
{
    size_t n;
    const struct vz_route *routes = vz_routes(&n);
    const struct vz_route *hit = NULL;
    int path_matched = 0;

    for (size_t i = 0; i < n; i++) {
        if (!route_match(routes[i].pattern, r->url, r))
            continue;
        path_matched = 1;
        if (strcmp(routes[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            hit = &routes[i];
            break;
        }
        {
            size_t used = strlen(allow);
            snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", routes[i].method);
        }
    }
    if (!hit) {
        if (path_matched)
            vz_reply_error(r, 405, "method_not_allowed", "method %s is not allowed on %s",
                           r->method, r->url);
        else
            vz_reply_error(r, 404, "not_found", "no such endpoint: %s %s", r->method, r->url);
        return;
    }
    if (!(hit->flags & VZ_ROUTE_PUBLIC) && authorize(r) < 0)
        return;
    hit->fn(r);
    if (!r->reply)
        vz_reply_error(r, 500, "internal_error", "handler set no reply");
}

/* ---- libmicrohttpd glue ---- */

static int has_header(const struct vz_req *r, const char *name)
{
    for (size_t i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr_name[i], name) == 0)
            return 1;
    return 0;
}

static enum MHD_Result send_reply(struct vz_req *r, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    if (r->file_fd >= 0) {
        /* MHD owns the fd from here and closes it with the response. */
        resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
        if (!resp)
            return MHD_NO;
        r->file_fd = -1;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->file_type);
    } else if (r->static_body) {
        /* PERSISTENT: the bytes are compiled in, MHD may send them as is. */
        resp = MHD_create_response_from_buffer(r->static_len, (void *)r->static_body,
                                               MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->static_type);
    } else {
        resp = MHD_create_response_from_buffer(r->reply_len, r->reply, MHD_RESPMEM_MUST_COPY);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!has_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow && *allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    for (size_t i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    vz_debug("%s %s -> %u (%lld ms)", r->method, r->url, r->status,
             (long long)(vz_mono_ms() - r->started_ms));
    return ret;
}

static void req_free(struct vz_req *r)
{
    if (!r)
        return;
    vz_buf_release(&r->body);
    json_decref(r->json);
    if (r->file_fd >= 0)
        close(r->file_fd);
    free(r->reply);
    for (size_t i = 0; i < r->nhdr; i++) {
        free(r->hdr_name[i]);
        free(r->hdr_value[i]);
    }
    free(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct vz_http *h = cls;
    struct vz_req *r = *req_cls;
    char allow[128] = "";
    (void)version;

    if (!r) {
        const char *cl;
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->app = h->app;
        r->conn = conn;
        r->method = method;
        r->url = url;
        r->started_ms = vz_mono_ms();
        r->file_fd = -1;
        vz_buf_init(&r->body, VZ_MAX_HTTP_BODY);
        *req_cls = r;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > VZ_MAX_HTTP_DISCARD) {
            /* Far too big to read and throw away: answer now; MHD then
             * closes the connection. */
            vz_reply_error(r, 413, "payload_too_large", "request body is larger than %u bytes",
                           VZ_MAX_HTTP_BODY);
            return send_reply(r, NULL);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body over the limit is read and dropped (up to a second, larger
         * limit) so that the client, still sending, gets a clean 413 rather
         * than a reset connection. */
        if (!r->body_too_big && vz_buf_add(&r->body, upload, *upload_size) < 0) {
            r->body_too_big = 1;
            vz_buf_release(&r->body);
        }
        r->body_seen += *upload_size;
        *upload_size = 0;
        if (r->body_seen > VZ_MAX_HTTP_DISCARD && !r->reply) {
            vz_reply_error(r, 413, "payload_too_large", "request body is larger than %u bytes",
                           VZ_MAX_HTTP_BODY);
            return send_reply(r, NULL);
        }
        return MHD_YES;
    }
    if (r->reply) /* already answered (413 up front) */
        return MHD_YES;
    if (r->body_too_big)
        vz_reply_error(r, 413, "payload_too_large", "request body is larger than %u bytes",
                       VZ_MAX_HTTP_BODY);
    else
        dispatch(r, allow, sizeof(allow));
    return send_reply(r, allow);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    req_free(*req_cls);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    vz_debug("http: %s", msg);
}

int vz_http_start(struct vz_app *app, struct vz_http **out, struct vz_err *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct vz_http *h = NULL;
    char portstr[16];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    int rc = VZ_OK, gai;

    *out = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", app->cfg->listen_port);
    gai = getaddrinfo(app->cfg->listen_host, portstr, &hints, &ai);
    if (gai != 0)
        return vz_err_set(err, VZ_EINVAL, "cannot resolve listen address %s: %s",
                          app->cfg->listen_host, gai_strerror(gai));
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = calloc(1, sizeof(*h));
    if (!h) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    h->app = app;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)app->cfg->http_threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1000u,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 200u,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
    if (!h->d) {
        rc = vz_err_set(err, VZ_EIO, "cannot listen on %s:%d (in use, or not an address here)",
                        app->cfg->listen_host, app->cfg->listen_port);
        goto out;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : app->cfg->listen_port;
    *out = h;
    h = NULL;
out:
    if (ai)
        freeaddrinfo(ai);
    free(h);
    return rc;
}

void vz_http_stop(struct vz_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
}

int vz_http_port(const struct vz_http *h)
{
    return h->port;
}
