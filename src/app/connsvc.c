#include "app/connsvc.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "extract/typemap.h"
#include "sources/rolesql.h"
#include "sources/source.h"

#define MAX_NAME 255
#define MAX_HOST 255
#define MAX_EXTRA 8192

/* Fields a client may set, and fields of the view it may send back. */
static const char *const settable[] = {"name",     "db_type",  "host",
                                       "port",     "database", "username",
                                       "password", "ssl_mode", "extra_options"};
static const char *const read_only[] = {
    "id",           "status",     "error_message", "table_count", "last_connected_at",
    "last_sync_at", "created_at", "updated_at"};

static int in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A string field: present → must be a string of 1..max bytes without control
 * characters (or 0..max when allow_empty). Absent → *out untouched. */
static int take_str(json_t *fields, const char *key, size_t max, int allow_empty, char **out,
                    struct vz_err *err)
{
    json_t *v = json_object_get(fields, key);
    const char *s;
    size_t n;
    char *d;
    if (!v)
        return VZ_OK;
    if (!json_is_string(v))
        return vz_err_set(err, VZ_EINVAL, "field '%s' must be a string", key);
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 && !allow_empty)
        return vz_err_set(err, VZ_EINVAL, "field '%s' must not be empty", key);
    if (n > max)
        return vz_err_set(err, VZ_EINVAL, "field '%s' is longer than %zu bytes", key, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return vz_err_set(err, VZ_EINVAL, "field '%s' contains a control character", key);
    d = strdup(s);
    if (!d)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (*out) {
        memset(*out, 0, strlen(*out));
        free(*out);
    }
    *out = d;
    return VZ_OK;
}

/* Apply fields onto c. creating: every required field must be present. */
static int apply_fields(struct vz_connection *c, json_t *fields, int creating, struct vz_err *err)
{
    const char *key;
    json_t *v;
    enum vz_db_type type;
    int rc;

    json_object_foreach(fields, key, v)
    {
        if (!in_list(key, settable, N_OF(settable)) &&
            (creating || !in_list(key, read_only, N_OF(read_only))))
            return vz_err_set(err, VZ_EINVAL, "unknown field '%s'", key);
    }
    if ((rc = take_str(fields, "name", MAX_NAME, 0, &c->name, err)) < 0 ||
        (rc = take_str(fields, "db_type", 32, 0, &c->db_type, err)) < 0 ||
        (rc = take_str(fields, "host", MAX_HOST, 0, &c->host, err)) < 0 ||
        (rc = take_str(fields, "database", MAX_NAME, 0, &c->database, err)) < 0 ||
        (rc = take_str(fields, "username", MAX_NAME, 0, &c->username, err)) < 0 ||
        (rc = take_str(fields, "ssl_mode", 32, 0, &c->ssl_mode, err)) < 0)
        return rc;
    v = json_object_get(fields, "password");
    if (v &&
        !(json_is_string(v) && strcmp(json_string_value(v), VZ_PASSWORD_MASK) == 0 && !creating)) {
        if (json_is_string(v) && strcmp(json_string_value(v), VZ_PASSWORD_MASK) == 0)
            return vz_err_set(err, VZ_EINVAL,
                              "field 'password' is the mask \"****\"; send the real password");
        rc = take_str(fields, "password", 1024, 1, &c->password, err);
        if (rc < 0)
            return rc;
    }
    if (creating) {
        static const char *const required[] = {"name",     "db_type",  "host",
                                               "database", "username", "password"};
        for (size_t i = 0; i < N_OF(required); i++)
            if (!json_object_get(fields, required[i]))
                return vz_err_set(err, VZ_EINVAL, "field '%s' is required", required[i]);
    }
    if (vz_db_type_parse(c->db_type, &type) < 0)
        return vz_err_set(err, VZ_EINVAL, "field 'db_type' must be \"postgresql\" or \"mysql\"");
    v = json_object_get(fields, "port");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
            return vz_err_set(err, VZ_EINVAL, "field 'port' must be an integer from 1 to 65535");
        c->port = (int)json_integer_value(v);
    } else if (creating) {
        c->port = vz_db_default_port(type);
    }
    if (!c->ssl_mode && !(c->ssl_mode = strdup("prefer")))
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (!vz_source_ssl_mode_valid(type, c->ssl_mode))
        return vz_err_set(err, VZ_EINVAL, "field 'ssl_mode' must be one of %s",
                          type == VZ_DB_POSTGRES
                              ? "disable, allow, prefer, require, verify-ca, verify-full"
                              : "disable, preferred, required, verify_ca, verify_identity "
                                "(or prefer, require)");
    v = json_object_get(fields, "extra_options");
    if (v) {
        char *text = NULL;
        if (!json_is_object(v) && !json_is_null(v))
            return vz_err_set(err, VZ_EINVAL, "field 'extra_options' must be a JSON object");
        if (json_is_object(v)) {
            text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            if (!text)
                return vz_err_set(err, VZ_ENOMEM, NULL);
            if (strlen(text) > MAX_EXTRA) {
                free(text);
                return vz_err_set(err, VZ_EINVAL, "field 'extra_options' is larger than %d bytes",
                                  MAX_EXTRA);
            }
        }
        free(c->extra_options);
        c->extra_options = text;
    }
    return VZ_OK;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *vz_connsvc_view(const struct vz_connection *c)
{
    json_t *extra = c->extra_options ? json_loads(c->extra_options, 0, NULL) : NULL;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, "
        "s:s, s:s}",
        "id", c->id, "name", c->name, "db_type", c->db_type, "host", c->host, "port", c->port,
        "database", c->database, "username", c->username, "password", VZ_PASSWORD_MASK, "ssl_mode",
        c->ssl_mode ? c->ssl_mode : "prefer", "extra_options", extra ? extra : json_null(),
        "status", c->status ? c->status : "configured", "error_message",
        str_or_null(c->error_message), "last_connected_at", str_or_null(c->last_connected_at),
        "last_sync_at", str_or_null(c->last_sync_at), "table_count",
        c->table_count >= 0 ? json_integer(c->table_count) : json_null(), "created_at",
        c->created_at ? c->created_at : "", "updated_at", c->updated_at ? c->updated_at : "");
}

static int view_or_nomem(const struct vz_connection *c, json_t **out, struct vz_err *err)
{
    *out = vz_connsvc_view(c);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
}

int vz_connsvc_create(struct vz_app *app, json_t *fields, json_t **out, struct vz_err *err)
{
    struct vz_connection *c = calloc(1, sizeof(*c));
    int rc;
    *out = NULL;
    if (!c)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    c->table_count = -1;
    rc = apply_fields(c, fields, 1, err);
    if (rc < 0)
        goto out;
    if (vz_uuid4(c->id) < 0) {
        rc = vz_err_set(err, VZ_EIO, "no randomness available for an id");
        goto out;
    }
    rc = vz_conn_insert(app->store, &app->keys, c, err);
    if (rc < 0)
        goto out;
    vz_info("connection %s (%s) created", c->id, c->db_type);
    rc = view_or_nomem(c, out, err);
out:
    vz_connection_free(c);
    return rc;
}

int vz_connsvc_update(struct vz_app *app, const char *id, json_t *fields, json_t **out,
                      struct vz_err *err)
{
    struct vz_connection *c = NULL;
    int rc;
    *out = NULL;
    rc = vz_conn_get(app->store, &app->keys, id, 0, &c, err);
    if (rc < 0)
        return rc;
    rc = apply_fields(c, fields, 0, err);
    if (rc < 0)
        goto out;
    rc = vz_conn_update(app->store, &app->keys, c, err);
    if (rc < 0)
        goto out;
    vz_info("connection %s updated", c->id);
    rc = view_or_nomem(c, out, err);
out:
    vz_connection_free(c);
    return rc;
}

int vz_connsvc_get(struct vz_app *app, const char *id, json_t **out, struct vz_err *err)
{
    struct vz_connection *c = NULL;
    int rc = vz_conn_get(app->store, &app->keys, id, 0, &c, err);
    *out = NULL;
    if (rc < 0)
        return rc;
    rc = view_or_nomem(c, out, err);
    vz_connection_free(c);
    return rc;
}

int vz_connsvc_list(struct vz_app *app, json_t **out, struct vz_err *err)
{
    struct vz_connection **list = NULL;
    size_t n = 0;
    json_t *arr;
    int rc = vz_conn_list(app->store, &app->keys, &list, &n, err);
    *out = NULL;
    if (rc < 0)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *v = vz_connsvc_view(list[i]);
        if (!v || json_array_append_new(arr, v) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    vz_connection_list_free(list, n);
    if (!arr)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    *out = arr;
    return VZ_OK;
}

int vz_connsvc_delete(struct vz_app *app, const char *id, struct vz_err *err)
{
    int rc = vz_conn_delete(app->store, id, err);
    if (rc == 0)
        vz_info("connection %s deleted", id);
    return rc;
}

/* Load a connection with its password and connect to it. */
int vz_connsvc_open_source(struct vz_app *app, const char *id, struct vz_connection **conn,
                           struct vz_source **src, struct vz_err *err)
{
    struct vz_conn_cfg cfg;
    json_t *extra = NULL;
    int rc;

    *src = NULL;
    *conn = NULL;
    rc = vz_conn_get(app->store, &app->keys, id, VZ_CONN_WITH_PASSWORD, conn, err);
    if (rc < 0)
        return rc;
    memset(&cfg, 0, sizeof(cfg));
    if (vz_db_type_parse((*conn)->db_type, &cfg.type) < 0)
        return vz_err_set(err, VZ_EINVAL, "connection has an unknown db_type");
    if ((*conn)->extra_options)
        extra = json_loads((*conn)->extra_options, 0, NULL);
    cfg.host = (*conn)->host;
    cfg.port = (*conn)->port;
    cfg.database = (*conn)->database;
    cfg.username = (*conn)->username;
    cfg.password = (*conn)->password;
    cfg.ssl_mode = (*conn)->ssl_mode;
    cfg.extra = extra;
    rc = vz_source_open(&cfg, src, err);
    json_decref(extra);
    return rc;
}

int vz_connsvc_test(struct vz_app *app, const char *id, json_t **out, struct vz_err *err)
{
    struct vz_connection *c = NULL;
    struct vz_source *src = NULL;
    struct vz_test_result tr;
    struct vz_err cerr = VZ_ERR_INIT;
    int64_t t0 = vz_mono_ms();
    int rc;

    *out = NULL;
    memset(&tr, 0, sizeof(tr));
    rc = vz_connsvc_open_source(app, id, &c, &src, &cerr);
    if (rc == 0)
        rc = vz_source_test(src, &tr, &cerr);
    vz_source_close(src);
    if (!c) /* the record itself could not be read: unknown id, wrong key */
        return vz_err_set(err, rc, "%s", cerr.msg);
    if (rc < 0) {
        vz_info("connection %s test failed: %s", id, cerr.msg);
        if (vz_conn_set_status(app->store, &app->keys, id, 0, cerr.msg, -1, err) < 0)
            goto fail;
        *out = json_pack("{s:b, s:I, s:n, s:s, s:s}", "ok", 0, "latency_ms",
                         (json_int_t)(vz_mono_ms() - t0), "server_version", "error", cerr.msg,
                         "error_code", vz_err_name(rc));
    } else {
        if (vz_conn_set_status(app->store, &app->keys, id, 1, NULL, -1, err) < 0)
            goto fail;
        *out = json_pack(
            "{s:b, s:I, s:s, s:n, s:o, s:o}", "ok", 1, "latency_ms", (json_int_t)tr.latency_ms,
            "server_version", tr.server_version, "error", "can_write",
            tr.can_write < 0 ? json_null() : json_boolean(tr.can_write), "warning",
            tr.can_write > 0 ? json_sprintf("this user can write (%s); vectoraiz only reads, but "
                                            "a SELECT-only role is the real safety boundary",
                                            tr.write_reason)
                             : json_null());
    }
    vz_connection_free(c);
    return *out ? VZ_OK : vz_err_set(err, VZ_ENOMEM, NULL);
fail:
    vz_connection_free(c);
    return err->code;
}

int vz_connsvc_schema(struct vz_app *app, const char *id, const char *schema, json_t **out,
                      struct vz_err *err)
{
    struct vz_connection *c = NULL;
    struct vz_source *src = NULL;
    json_t *schemas = NULL, *tables = NULL, *table;
    enum vz_db_type type;
    size_t i;
    int rc;

    *out = NULL;
    rc = vz_connsvc_open_source(app, id, &c, &src, err);
    if (rc < 0) {
        if (c) {
            struct vz_err serr = VZ_ERR_INIT;
            if (vz_conn_set_status(app->store, &app->keys, id, 0, err->msg, -1, &serr) < 0)
                vz_warn("cannot record status of connection %s: %s", id, serr.msg);
        }
        goto out;
    }
    if (!schema || !*schema)
        schema = vz_source_default_schema(src);
    if ((rc = vz_source_list_schemas(src, &schemas, err)) < 0 ||
        (rc = vz_source_introspect(src, schema, &tables, err)) < 0)
        goto out;
    (void)vz_db_type_parse(c->db_type, &type); /* validated when the record was saved */
    json_array_foreach(tables, i, table)
    {
        rc = vz_typemap_annotate_table((int)type, table, VZ_DECIMAL_DOUBLE, err);
        if (rc < 0)
            goto out;
    }
    rc = vz_conn_set_status(app->store, &app->keys, id, 1, NULL, (long long)json_array_size(tables),
                            err);
    if (rc < 0)
        goto out;
    *out = json_pack("{s:s, s:s, s:s, s:O, s:O}", "connection_id", id, "db_type", c->db_type,
                     "schema", schema, "schemas", schemas, "tables", tables);
    if (!*out)
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
out:
    json_decref(schemas);
    json_decref(tables);
    vz_source_close(src);
    vz_connection_free(c);
    return rc;
}

int vz_connsvc_resolve(struct vz_app *app, const char *ref, char *id, size_t idlen,
                       struct vz_err *err)
{
    struct vz_connection **list = NULL;
    size_t n = 0;
    int hits = 0, rc;
    if (vz_uuid_valid(ref)) {
        snprintf(id, idlen, "%s", ref);
        return VZ_OK;
    }
    rc = vz_conn_list(app->store, &app->keys, &list, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i]->name, ref) == 0) {
            snprintf(id, idlen, "%s", list[i]->id);
            hits++;
        }
    }
    vz_connection_list_free(list, n);
    if (hits == 1)
        return VZ_OK;
    return hits ? vz_err_set(err, VZ_ECONFLICT,
                             "more than one connection is named '%s'; use its id", ref)
                : vz_err_set(err, VZ_ENOTFOUND, "no connection with id or name '%s'", ref);
}

int vz_connsvc_role_sql(struct vz_app *app, const char *id, const char *schema, const char *role,
                        json_t **out, struct vz_err *err)
{
    struct vz_connection *c = NULL;
    struct vz_buf sql = VZ_BUF_INIT(0);
    int rc, pg;

    *out = NULL;
    rc = vz_conn_get(app->store, &app->keys, id, 0, &c, err);
    if (rc < 0)
        return rc;
    pg = strcmp(c->db_type, "postgresql") == 0;
    rc = pg ? vz_rolesql_postgres(c->database, schema && *schema ? schema : "public", NULL, role,
                                  NULL, 0, &sql, err)
            : vz_rolesql_mysql(c->database, role, NULL, NULL, &sql, err);
    if (rc == 0) {
        *out = json_pack(
            "{s:s, s:s, s:s, s:s}", "db_type", c->db_type, "role",
            role && *role ? role : VZ_ROLESQL_DEFAULT_ROLE, "sql", vz_buf_cstr(&sql), "notes",
            pg ? "Run as a superuser or the database owner, replace the password, then use the "
                 "new role in this connection. The ALTER DEFAULT PRIVILEGES line covers tables "
                 "created later by the role that runs it."
               : "Run as an administrator, replace the password, then use the new user in this "
                 "connection. Narrow the host pattern '%' to vectoraiz's address if you can.");
        if (!*out)
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
    }
    vz_buf_release(&sql);
    vz_connection_free(c);
    return rc;
}
