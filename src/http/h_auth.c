#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "http/handlers.h"

/* POST /api/v1/auth/login {"token": "..."} → session cookie + CSRF token. */
void vz_h_login(struct vz_req *r)
{
    struct vz_auth *a = vz_req_app(r)->auth;
    struct vz_err err = VZ_ERR_INIT;
    char client[64], sid[VZ_AUTH_ID_LEN + 1], csrf[VZ_AUTH_ID_LEN + 1], cookie[256];
    int64_t retry = 0;
    json_t *body;
    const char *token;

    vz_req_client(r, client, sizeof(client));
    if (vz_auth_login_allowed(a, client, &retry) < 0) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%lld", (long long)retry);
        if (vz_reply_header(r, "Retry-After", ra) < 0) {
            /* the 429 below still says when to retry */
        }
        vz_reply_error(r, 429, "too_many_attempts",
                       "too many failed logins from this address; try again in %lld s",
                       (long long)retry);
        return;
    }
    if (vz_req_json_object(r, &body) < 0)
        return;
    token = json_string_value(json_object_get(body, "token"));
    if (!token) {
        vz_reply_error(r, 400, "invalid_request", "field 'token' (string) is required");
        return;
    }
    if (!vz_auth_token_ok(a, token)) {
        vz_auth_login_failed(a, client);
        vz_reply_error(r, 401, "unauthorized", "wrong admin token");
        return;
    }
    vz_auth_login_succeeded(a, client);
    if (vz_auth_session_new(a, sid, csrf, &err) < 0) {
        vz_reply_err(r, &err);
        return;
    }
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
             VZ_AUTH_COOKIE, sid, VZ_AUTH_SESSION_TTL_S);
    if (vz_reply_header(r, "Set-Cookie", cookie) < 0) {
        vz_auth_session_end(a, sid);
        vz_reply_error(r, 500, "internal_error", "out of memory");
        return;
    }
    vz_reply_json(r, 200, json_pack("{s:b, s:s}", "authenticated", 1, "csrf_token", csrf));
}

/* POST /api/v1/auth/logout: ends the cookie session (idempotent). */
void vz_h_logout(struct vz_req *r)
{
    const char *sid = vz_req_cookie(r, VZ_AUTH_COOKIE);
    if (sid)
        vz_auth_session_end(vz_req_app(r)->auth, sid);
    if (vz_reply_header(r, "Set-Cookie",
                        VZ_AUTH_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0") < 0) {
        /* the session is gone server-side either way */
    }
    vz_reply_json(r, 200, json_pack("{s:b}", "authenticated", 0));
}

/* GET /api/v1/auth/session: whether the cookie is a live session, and its
 * CSRF token so a reloaded page can go on writing. */
void vz_h_session(struct vz_req *r)
{
    char csrf[VZ_AUTH_ID_LEN + 1];
    const char *sid = vz_req_cookie(r, VZ_AUTH_COOKIE);
    if (sid && vz_auth_session_ok(vz_req_app(r)->auth, sid, csrf))
        vz_reply_json(r, 200, json_pack("{s:b, s:s}", "authenticated", 1, "csrf_token", csrf));
    else
        vz_reply_json(r, 200, json_pack("{s:b}", "authenticated", 0));
}
