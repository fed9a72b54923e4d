/* Single-user authentication: one admin token, cookie sessions, CSRF and a
 * login rate limit.
 *
 * The admin token is 32 random bytes shown once; only its SHA-256 is kept,
 * in <data>/admin-token (mode 0600). API clients send
 * "Authorization: Bearer <token>"; the browser logs in with the token and
 * gets an HttpOnly, SameSite=Strict session cookie plus a CSRF token that
 * every cookie-authenticated write must echo in X-CSRF-Token. Sessions live
 * in memory (a restart logs everyone out). Thread-safe. */
#ifndef VZ_AUTH_AUTH_H
#define VZ_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define VZ_AUTH_TOKEN_FILE "admin-token"
#define VZ_AUTH_COOKIE "vz_session"
#define VZ_AUTH_CSRF_HEADER "X-CSRF-Token"
#define VZ_AUTH_TOKEN_TEXT_MAX 64
#define VZ_AUTH_ID_LEN 64 /* hex of 32 random bytes */
#define VZ_AUTH_SESSION_TTL_S (12 * 3600)
#define VZ_AUTH_MAX_FAILURES 5       /* failed logins per client ... */
#define VZ_AUTH_FAILURE_WINDOW_S 300 /* ... within this many seconds */

struct vz_auth;

/* Load <data_dir>/admin-token, creating it with a new token when missing.
 * When a token was created, new_token (size >= VZ_AUTH_TOKEN_TEXT_MAX) gets
 * its text so the caller can show it once; otherwise new_token[0] = 0.
 * Refuses a token file readable by group or others. */
int vz_auth_open(const char *data_dir, struct vz_auth **out, char *new_token,
                 struct vz_err *err) VZ_MUST_CHECK;
void vz_auth_free(struct vz_auth *a);

/* Replace the token (file written atomically); token gets the new text.
 * Works on a data directory without a running server. */
int vz_auth_reset_token(const char *data_dir, char *token, struct vz_err *err) VZ_MUST_CHECK;

/* 1 if token is the admin token (constant-time compare), else 0. */
int vz_auth_token_ok(struct vz_auth *a, const char *token);

/* Login rate limit by client address: 0 if the client may try, else
 * VZ_ELIMIT with *retry_after_s set. */
int vz_auth_login_allowed(struct vz_auth *a, const char *client, int64_t *retry_after_s);
void vz_auth_login_failed(struct vz_auth *a, const char *client);
void vz_auth_login_succeeded(struct vz_auth *a, const char *client);

/* A new session: session_id and csrf get VZ_AUTH_ID_LEN chars + NUL. */
int vz_auth_session_new(struct vz_auth *a, char *session_id, char *csrf,
                        struct vz_err *err) VZ_MUST_CHECK;
/* 1 if the session exists and has not expired; csrf (may be NULL) gets its
 * CSRF token. */
int vz_auth_session_ok(struct vz_auth *a, const char *session_id, char *csrf);
void vz_auth_session_end(struct vz_auth *a, const char *session_id);

#endif
