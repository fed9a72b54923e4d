/* The generic half of sources/: configuration checks and defaults, the
 * backend list, the calls through the ops table, and helpers the backends
 * share (message scrubbing, JSON building). */
#include "sources/source.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sources/source_internal.h"

struct vz_source {
    const struct vz_source_ops *ops;
    void *priv; /* priv_size bytes right after this struct, in the same allocation */
};

/* Rounded so the private block that follows is aligned for any type. */
#define VZ_SOURCE_HDR                                                                              \
    ((sizeof(struct vz_source) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

static const struct vz_source_ops *const backends[] = {&vz_pg_ops, &vz_mysql_ops};

/* Accepted ssl_mode spellings. The spec's disable/prefer/require are valid
 * for both; each backend maps them to its own names. */
static const char *const pg_ssl_modes[] = {"disable",   "allow",       "prefer", "require",
                                           "verify-ca", "verify-full", NULL};
static const char *const my_ssl_modes[] = {"disable",         "preferred", "required", "verify_ca",
                                           "verify_identity", "prefer",    "require",  NULL};

int vz_db_type_parse(const char *s, enum vz_db_type *out)
{
    if (s && strcmp(s, "postgresql") == 0) {
        *out = VZ_DB_POSTGRES;
        return 0;
    }
    if (s && strcmp(s, "mysql") == 0) {
        *out = VZ_DB_MYSQL;
        return 0;
    }
    return VZ_EINVAL;
}

const char *vz_db_type_name(enum vz_db_type t)
{
    return t == VZ_DB_MYSQL ? "mysql" : "postgresql";
}

int vz_db_default_port(enum vz_db_type t)
{
    return t == VZ_DB_MYSQL ? 3306 : 5432;
}

int vz_source_ssl_mode_valid(enum vz_db_type type, const char *mode)
{
    const char *const *list = type == VZ_DB_MYSQL ? my_ssl_modes : pg_ssl_modes;
    if (!mode)
        return 0;
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], mode) == 0)
            return 1;
    return 0;
}

static const struct vz_source_ops *find_ops(enum vz_db_type type)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (backends[i]->type == type)
            return backends[i];
    return NULL;
}

/* Reject what no backend could use, before any network traffic. A comma in
 * the host would make libpq try a list of hosts, so it is refused too. */
static int check_cfg(const struct vz_conn_cfg *cfg, struct vz_err *err)
{
    if (!cfg->host || !*cfg->host)
        return vz_err_set(err, VZ_EINVAL, "host is required");
    if (strchr(cfg->host, ',') || strlen(cfg->host) > 255)
        return vz_err_set(err, VZ_EINVAL, "host must be a single host name or address");
    if (cfg->port < 0 || cfg->port > 65535)
        return vz_err_set(err, VZ_EINVAL, "port must be between 1 and 65535");
    if (!cfg->username || !*cfg->username)
        return vz_err_set(err, VZ_EINVAL, "username is required");
    if (cfg->ssl_mode && !vz_source_ssl_mode_valid(cfg->type, cfg->ssl_mode))
        return vz_err_set(err, VZ_EINVAL, "ssl_mode \"%s\" is not valid for %s", cfg->ssl_mode,
                          vz_db_type_name(cfg->type));
    if (cfg->connect_timeout_s < 0 || cfg->connect_timeout_s > 3600)
        return vz_err_set(err, VZ_EINVAL, "connect timeout must be between 0 and 3600 s");
    if (cfg->statement_timeout_ms < 0)
        return vz_err_set(err, VZ_EINVAL, "statement timeout must not be negative");
    if (cfg->extra && !json_is_object(cfg->extra))
        return vz_err_set(err, VZ_EINVAL, "extra options must be a JSON object");
    return 0;
}

int vz_source_open(const struct vz_conn_cfg *cfg, struct vz_source **out, struct vz_err *err)
{
    const struct vz_source_ops *ops;
    *out = NULL;
    if (!cfg)
        return vz_err_set(err, VZ_EINVAL, "no connection settings");
    ops = find_ops(cfg->type);
    if (!ops)
        return vz_err_set(err, VZ_EUNSUPPORTED, "unsupported database type");
    return vz_source_open_with(ops, cfg, out, err);
}

int vz_source_open_with(const struct vz_source_ops *ops, const struct vz_conn_cfg *cfg,
                        struct vz_source **out, struct vz_err *err)
{
    struct vz_conn_cfg c;
    struct vz_source *s = NULL;
    int rc;

    *out = NULL;
    if (!cfg || !ops)
        return vz_err_set(err, VZ_EINVAL, "no connection settings");
    rc = check_cfg(cfg, err);
    if (rc < 0)
        return rc;
    c = *cfg;
    if (!c.port)
        c.port = vz_db_default_port(c.type);
    if (!c.connect_timeout_s)
        c.connect_timeout_s = VZ_SOURCE_CONNECT_TIMEOUT_S;
    if (!c.statement_timeout_ms)
        c.statement_timeout_ms = VZ_SOURCE_STATEMENT_TIMEOUT_MS;
    if (!c.ssl_mode)
        c.ssl_mode = "prefer";
    if (!c.application_name || !*c.application_name)
        c.application_name = VZ_SOURCE_APP_NAME;
    if (!c.database)
        c.database = "";
    if (!c.password)
        c.password = "";

    s = calloc(1, VZ_SOURCE_HDR + ops->priv_size);
    if (!s)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    s->ops = ops;
    s->priv = (char *)s + VZ_SOURCE_HDR;
    rc = ops->open(s, &c, err);
    if (rc < 0) {
        ops->close(s);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void vz_source_close(struct vz_source *s)
{
    if (!s)
        return;
    s->ops->close(s);
    free(s);
}

void *vz_source_priv(struct vz_source *s)
{
    return s->priv;
}

int vz_source_test(struct vz_source *s, struct vz_test_result *out, struct vz_err *err)
{
    memset(out, 0, sizeof(*out));
    out->can_write = -1;
    return s->ops->test(s, out, err);
}

const char *vz_source_default_schema(struct vz_source *s)
{
    return s->ops->default_schema(s);
}

int vz_source_list_schemas(struct vz_source *s, json_t **out, struct vz_err *err)
{
    *out = NULL;
    return s->ops->list_schemas(s, out, err);
}

int vz_source_introspect(struct vz_source *s, const char *schema, json_t **out, struct vz_err *err)
{
    *out = NULL;
    if (!schema)
        schema = s->ops->default_schema(s);
    return s->ops->introspect(s, schema, out, err);
}

int vz_source_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                          struct vz_err *err)
{
    if (!s->ops->stream_open)
        return vz_err_set(err, VZ_EUNSUPPORTED, "%s cannot stream results", s->ops->name);
    return s->ops->stream_open(s, sql, st, err);
}

int vz_source_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk,
                          size_t *nrows, struct vz_err *err)
{
    *nrows = 0;
    if (!s->ops->stream_fill)
        return vz_err_set(err, VZ_EUNSUPPORTED, "%s cannot stream results", s->ops->name);
    return s->ops->stream_fill(s, st, duckdb_chunk, nrows, err);
}

void vz_source_stream_close(struct vz_source *s, struct vz_stream *st)
{
    if (s && s->ops->stream_close)
        s->ops->stream_close(s, st);
}

int vz_source_cancel(struct vz_source *s, struct vz_err *err)
{
    if (!s->ops->cancel)
        return vz_err_set(err, VZ_EUNSUPPORTED, "%s sources cannot cancel", s->ops->name);
    return s->ops->cancel(s, err);
}

int vz_source_exec_for_test(struct vz_source *s, const char *sql, struct vz_err *err)
{
    if (!s->ops->query_for_test)
        return vz_err_set(err, VZ_EUNSUPPORTED, NULL);
    return s->ops->query_for_test(s, sql, NULL, 0, err);
}

int vz_source_query_value_for_test(struct vz_source *s, const char *sql, char *out, size_t n,
                                   struct vz_err *err)
{
    if (!s->ops->query_for_test)
        return vz_err_set(err, VZ_EUNSUPPORTED, NULL);
    if (n)
        out[0] = '\0';
    return s->ops->query_for_test(s, sql, out, n, err);
}

/* ---- messages ---- */

void vz_source_scrub(const char *in, const char *secret, char *out, size_t n)
{
    size_t k = secret ? strlen(secret) : 0, o = 0;

    if (!n)
        return;
    while (*in && o + 1 < n) {
        if (k && strncmp(in, secret, k) == 0) {
            for (const char *r = "****"; *r && o + 1 < n; r++)
                out[o++] = *r;
            in += k;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

void vz_source_hostport(const char *host, int port, char *out, size_t n)
{
    if (strchr(host, ':'))
        snprintf(out, n, "[%s]:%d", host, port);
    else
        snprintf(out, n, "%s:%d", host, port);
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid.
 * Rejects overlong forms, surrogates and values above U+10FFFF, as jansson
 * does. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

json_t *vz_source_jstr(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *fixed;
    size_t i = 0, o = 0, k;
    json_t *j;

    for (i = 0; i < len; i += k) {
        k = utf8_seq(u + i, len - i);
        if (!k || !u[i])
            break;
    }
    if (i == len)
        return json_stringn(s, len);
    /* Slow path: each bad byte (or NUL) becomes the 3-byte U+FFFD. */
    fixed = malloc(len * 3 + 1);
    if (!fixed)
        return NULL;
    for (i = 0; i < len; i += k) {
        k = utf8_seq(u + i, len - i);
        if (!k || !u[i]) {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            k = 1;
        } else {
            memcpy(fixed + o, s + i, k);
            o += k;
        }
    }
    j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

static int cmp_json_str(const void *a, const void *b)
{
    const char *x = json_string_value(*(json_t *const *)a);
    const char *y = json_string_value(*(json_t *const *)b);
    return strcmp(x ? x : "", y ? y : "");
}

int vz_source_sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v;
    int rc = 0;

    if (n < 2)
        return 0;
    v = malloc(n * sizeof(*v));
    if (!v)
        return VZ_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_json_str);
    for (size_t i = 0; i < n; i++)
        if (json_array_set(arr, i, v[i]) < 0)
            rc = VZ_ENOMEM;
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    return rc;
}

struct vz_intro_table {
    char *name;   /* raw bytes as the catalog gave them, for lookups */
    json_t *obj;  /* the table object; owns columns and pk */
    json_t *cols; /* borrowed from obj */
    json_t *pk;   /* borrowed from obj */
};

void vz_intro_init(struct vz_intro *in, const char *schema)
{
    memset(in, 0, sizeof(*in));
    in->schema = schema;
}

void vz_intro_release(struct vz_intro *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].name);
        json_decref(in->v[i].obj);
    }
    free(in->v);
    vz_intro_init(in, in->schema);
}

/* json_object_set_new() that reports a NULL value (failed allocation) too. */
static int jset(json_t *obj, const char *key, json_t *val)
{
    if (!val)
        return -1;
    return json_object_set_new(obj, key, val);
}

static json_t *jint_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

int vz_intro_add_table(struct vz_intro *in, const char *name, size_t name_len, const char *kind,
                       int64_t rows, int64_t bytes)
{
    struct vz_intro_table *t;
    json_t *obj = NULL, *cols = NULL, *pk = NULL;
    char *copy = NULL;

    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 64;
        struct vz_intro_table *v = realloc(in->v, cap * sizeof(*v));
        if (!v)
            return VZ_ENOMEM;
        in->v = v;
        in->cap = cap;
    }
    copy = strndup(name, name_len);
    obj = json_object();
    cols = json_array();
    pk = json_array();
    if (!copy || !obj || !cols || !pk || jset(obj, "name", vz_source_jstr(name, name_len)) < 0 ||
        jset(obj, "schema", vz_source_jstr(in->schema, strlen(in->schema))) < 0 ||
        jset(obj, "kind", json_string(kind)) < 0 ||
        jset(obj, "estimated_rows", jint_or_null(rows)) < 0 ||
        jset(obj, "estimated_bytes", jint_or_null(bytes)) < 0 ||
        json_object_set(obj, "primary_key", pk) < 0 || json_object_set(obj, "columns", cols) < 0) {
        free(copy);
        json_decref(obj);
        json_decref(cols);
        json_decref(pk);
        return VZ_ENOMEM;
    }
    t = &in->v[in->n++];
    t->name = copy;
    t->obj = obj;
    t->cols = cols;
    t->pk = pk;
    /* obj holds the only references we need. */
    json_decref(cols);
    json_decref(pk);
    return 0;
}

static int cmp_table(const void *a, const void *b)
{
    return strcmp(((const struct vz_intro_table *)a)->name,
                  ((const struct vz_intro_table *)b)->name);
}

void vz_intro_seal(struct vz_intro *in)
{
    if (in->n > 1)
        qsort(in->v, in->n, sizeof(in->v[0]), cmp_table);
    in->sealed = 1;
}

static struct vz_intro_table *find_table(struct vz_intro *in, const char *name)
{
    struct vz_intro_table key = {0};
    if (!in->sealed || !in->n)
        return NULL;
    key.name = (char *)name;
    return bsearch(&key, in->v, in->n, sizeof(in->v[0]), cmp_table);
}

int vz_intro_add_column(struct vz_intro *in, const char *table, json_t *column)
{
    struct vz_intro_table *t = find_table(in, table);
    if (!column)
        return VZ_ENOMEM;
    if (!t) {
        json_decref(column);
        return 0;
    }
    if (json_object_set_new(column, "position",
                            json_integer((json_int_t)json_array_size(t->cols) + 1)) < 0) {
        json_decref(column);
        return VZ_ENOMEM;
    }
    return json_array_append_new(t->cols, column) < 0 ? VZ_ENOMEM : 0;
}

int vz_intro_add_pk(struct vz_intro *in, const char *table, const char *column, size_t column_len)
{
    struct vz_intro_table *t = find_table(in, table);
    if (!t)
        return 0;
    return json_array_append_new(t->pk, vz_source_jstr(column, column_len)) < 0 ? VZ_ENOMEM : 0;
}

json_t *vz_intro_find_column(struct vz_intro *in, const char *table, const char *column)
{
    struct vz_intro_table *t = find_table(in, table);
    size_t i;
    json_t *c;

    if (!t)
        return NULL;
    json_array_foreach(t->cols, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name && strcmp(name, column) == 0)
            return c;
    }
    return NULL;
}

json_t *vz_intro_column(const char *name, size_t name_len, const char *source_type,
                        const char *type_class, int nullable, const char *dflt, int precision,
                        int scale)
{
    json_t *c = json_object();
    if (!c)
        return NULL;
    /* "position" is a placeholder here so that it keeps its place in the
     * object's key order; vz_intro_add_column() sets it. */
    if (jset(c, "name", vz_source_jstr(name, name_len)) < 0 ||
        jset(c, "position", json_integer(0)) < 0 ||
        jset(c, "source_type", vz_source_jstr(source_type, strlen(source_type))) < 0 ||
        jset(c, "type_class", json_string(type_class)) < 0 ||
        jset(c, "nullable", json_boolean(nullable)) < 0 ||
        jset(c, "default", dflt ? vz_source_jstr(dflt, strlen(dflt)) : json_null()) < 0 ||
        jset(c, "precision", precision < 0 ? json_null() : json_integer(precision)) < 0 ||
        jset(c, "scale", precision < 0 ? json_null() : json_integer(scale)) < 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *vz_intro_take(struct vz_intro *in)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    if (!in->sealed)
        vz_intro_seal(in);
    for (size_t i = 0; i < in->n; i++) {
        if (json_array_append(arr, in->v[i].obj) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    vz_intro_release(in);
    return arr;
}
