/* Connections as a service: validation, JSON views, and the operations the
 * HTTP API and the CLI share (test, schema). Handlers and commands stay thin:
 * they parse their input into JSON, call here, and print or send the result.
 *
 * JSON view of a connection (password always "****"):
 *   {id, name, db_type, host, port, database, username, password, ssl_mode,
 *    extra_options, status, error_message, last_connected_at, last_sync_at,
 *    table_count, created_at, updated_at} */
#ifndef VZ_APP_CONNSVC_H
#define VZ_APP_CONNSVC_H

#include <jansson.h>

#include "app/app.h"
#include "core/err.h"
#include "store/connections.h"

#define VZ_PASSWORD_MASK "****"

/* Create from a JSON object of fields. On success *out is the new record's
 * JSON view (new reference). VZ_EINVAL with a field-specific message on bad
 * input. */
int vz_connsvc_create(struct vz_app *app, json_t *fields, json_t **out,
                      struct vz_err *err) VZ_MUST_CHECK;

/* Partial update: absent fields keep their value; a password that is absent
 * or "****" keeps the stored one. Read-only fields (id, status, ...) sent
 * back from a GET are ignored. */
int vz_connsvc_update(struct vz_app *app, const char *id, json_t *fields, json_t **out,
                      struct vz_err *err) VZ_MUST_CHECK;

int vz_connsvc_get(struct vz_app *app, const char *id, json_t **out,
                   struct vz_err *err) VZ_MUST_CHECK;
/* JSON array of views. */
int vz_connsvc_list(struct vz_app *app, json_t **out, struct vz_err *err) VZ_MUST_CHECK;
int vz_connsvc_delete(struct vz_app *app, const char *id, struct vz_err *err) VZ_MUST_CHECK;

/* Connect and report {ok, latency_ms, server_version, error, can_write,
 * warning}; records the outcome on the connection (status,
 * last_connected_at, error_message). A failed connection is a result
 * (ok=false), not an error; errors are for unknown ids and the like. */
int vz_connsvc_test(struct vz_app *app, const char *id, json_t **out,
                    struct vz_err *err) VZ_MUST_CHECK;

/* {connection_id, db_type, schema, schemas: [...], tables: [...]} for one
 * schema (NULL = the backend's default), every column annotated with its
 * Parquet type. */
int vz_connsvc_schema(struct vz_app *app, const char *id, const char *schema, json_t **out,
                      struct vz_err *err) VZ_MUST_CHECK;

struct vz_source;
/* Load connection id (with its password) and connect to it. On success
 * *conn and *src are new (vz_connection_free(), vz_source_close()); on
 * failure *src is NULL and *conn may be set (when the record was read) so
 * the caller can record the error on it. */
int vz_connsvc_open_source(struct vz_app *app, const char *id, struct vz_connection **conn,
                           struct vz_source **src, struct vz_err *err) VZ_MUST_CHECK;

/* The SQL a DBA runs to create a SELECT-only role for this connection's
 * database (and schema on PostgreSQL; NULL = public): {db_type, role, sql,
 * notes}. role/password NULL = placeholders. Nothing is sent to the server. */
int vz_connsvc_role_sql(struct vz_app *app, const char *id, const char *schema, const char *role,
                        json_t **out, struct vz_err *err) VZ_MUST_CHECK;

/* ref is a connection id or a unique name: its id into id. VZ_ENOTFOUND,
 * or VZ_ECONFLICT when several connections have that name. */
int vz_connsvc_resolve(struct vz_app *app, const char *ref, char *id, size_t idlen,
                       struct vz_err *err) VZ_MUST_CHECK;

/* The connection's JSON view (new reference, NULL on allocation failure). */
json_t *vz_connsvc_view(const struct vz_connection *c);

#endif
