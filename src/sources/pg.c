/* PostgreSQL source backend (libpq).
 *
 * Every setting goes to libpq as its own keyword/value pair with
 * expand_dbname = 0, so no value (host, database name, user...) can smuggle
 * in other settings the way a pasted conninfo string could. The read-only
 * guard and the time limits travel in the startup packet's `options`, so
 * they are in force before the first statement. Connecting and every
 * statement are driven by poll() against a deadline of our own: libpq's
 * connect_timeout only covers each single wait, and a blocking PQexec has
 * none at all. */
#include "sources/source.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/util.h"
#include "sources/pg_internal.h"
#include "sources/source_internal.h"

/* Nothing reaches stderr behind the caller's back: server notices are not
 * errors and the caller never asked for them. */
static void pg_quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* ---- errors ---- */

/* Copy libpq's text without secrets and without the trailing newline. */
static void pg_clean_msg(const char *in, const char *password, char *out, size_t n)
{
    size_t len;
    vz_source_scrub(in ? in : "", password, out, n);
    len = strlen(out);
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' ' || out[len - 1] == '\t'))
        out[--len] = '\0';
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Turn libpq's connection failure text into a code and a short message.
 *
 * libpq gives no SQLSTATE for a failed connection, only text such as
 *   connection to server at "h" (addr), port 5432 failed: FATAL:  password
 *   authentication failed for user "x"
 * possibly once per address tried, with hint lines. The last attempt's first
 * line is the one that matters. Server texts are matched in English (the
 * server's lc_messages); anything unrecognised stays VZ_ECONNECT with the
 * server's own words. */
static int pg_connect_error(const char *raw, const char *password, const char *hostport,
                            struct vz_err *err)
{
    char msg[1024];
    char *detail = msg, *p, *nl;
    int server = 0;

    pg_clean_msg(raw, password, msg, sizeof(msg));
    for (p = msg; (p = strstr(p, "connection to server ")) != NULL; p++) {
        char *f = strstr(p, " failed: ");
        if (f)
            detail = f + strlen(" failed: ");
    }
    nl = strchr(detail, '\n');
    if (nl)
        *nl = '\0';
    /* "FATAL:  text" (the severity may be translated): keep the text. */
    p = strstr(detail, ":  ");
    if (p && p - detail < 24) {
        detail = p + 3;
        server = 1;
    }
    if (!*detail)
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s", hostport);

    if (server) {
        if (contains(detail, "authentication failed") || contains(detail, "no pg_hba.conf entry") ||
            (contains(detail, "role \"") && contains(detail, "does not exist")))
            return vz_err_set(err, VZ_EAUTH, "%s", detail);
        if (contains(detail, "database \"") && contains(detail, "does not exist"))
            return vz_err_set(err, VZ_ENOTFOUND, "%s", detail);
        if (contains(detail, "permission denied"))
            return vz_err_set(err, VZ_EPERM, "%s", detail);
        return vz_err_set(err, VZ_ECONNECT, "%s", detail);
    }
    if (contains(detail, "no password supplied") || contains(detail, "password authentication"))
        return vz_err_set(err, VZ_EAUTH, "the server asked for a password but none was given");
    if (contains(detail, "root certificate file"))
        return vz_err_set(err, VZ_ECONNECT, "%s (give the CA file as sslrootcert in extra_options)",
                          detail);
    if (contains(detail, "SSL") || contains(detail, "certificate"))
        return vz_err_set(err, VZ_ECONNECT, "%s", detail);
    if (contains(detail, "Connection refused"))
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: connection refused",
                          hostport);
    if (contains(detail, "could not translate host name")) {
        p = strstr(detail, "to address: ");
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: unknown host (%s)", hostport,
                          p ? p + strlen("to address: ") : "name lookup failed");
    }
    if (detail[0] >= 'A' && detail[0] <= 'Z' && detail[1] >= 'a' && detail[1] <= 'z')
        detail[0] = (char)(detail[0] - 'A' + 'a');
    return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: %s", hostport, detail);
}

/* SQLSTATE → code. Class 57014 is both our cancel and the server's
 * statement_timeout; the flag set by pg_cancel() tells them apart. */
static int pg_sqlstate_code(const char *state, int cancelled)
{
    if (!state)
        return VZ_ESOURCE;
    if (strcmp(state, "57014") == 0)
        return cancelled ? VZ_ECANCELLED : VZ_ETIMEOUT;
    if (strcmp(state, "25006") == 0)
        return VZ_ENOT_READONLY;
    if (strcmp(state, "42501") == 0)
        return VZ_EPERM;
    if (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0 || strcmp(state, "3D000") == 0 ||
        strcmp(state, "42883") == 0)
        return VZ_ENOTFOUND;
    if (strcmp(state, "55P03") == 0 || strcmp(state, "25P03") == 0)
        return VZ_ETIMEOUT;
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)
        return VZ_ECONNECT;
    if (strncmp(state, "28", 2) == 0)
        return VZ_EAUTH;
    if (strncmp(state, "42", 2) == 0)
        return VZ_EINVAL;
    return VZ_ESOURCE;
}

int vz_pg_result_error(struct pg *p, const PGresult *r, struct vz_err *err)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    char msg[512];
    int code = pg_sqlstate_code(state, atomic_load(&p->cancel_requested));

    pg_clean_msg(primary ? primary : PQresultErrorMessage(r), PQpass(p->conn), msg, sizeof(msg));
    if (code == VZ_ECANCELLED)
        return vz_err_set(err, code, "statement cancelled: %s", msg);
    if (state)
        return vz_err_set(err, code, "%s (SQLSTATE %s)", msg, state);
    return vz_err_set(err, code, "%s", msg);
}

int vz_pg_lost(struct pg *p, struct vz_err *err)
{
    char msg[512];
    pg_clean_msg(PQerrorMessage(p->conn), PQpass(p->conn), msg, sizeof(msg));
    p->broken = 1;
    return vz_err_set(err, VZ_ECONNECT, "lost the connection to %s: %s", p->hostport,
                      *msg ? msg : "no reason given");
}

/* ---- statements ---- */

int vz_pg_wait(struct pg *p, int64_t deadline, struct vz_err *err)
{
    while (PQisBusy(p->conn)) {
        struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
        int64_t left = deadline - vz_mono_ms();
        int r;

        if (left <= 0) {
            /* The server's statement_timeout should have ended the statement
             * long ago, so the server or the network is gone: no cancel
             * request (it could hang as well), the session is finished. */
            p->broken = 1;
            return vz_err_set(err, VZ_ETIMEOUT, "no answer from %s within %d s", p->hostport,
                              (int)((p->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS) / 1000));
        }
        r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r < 0 && errno != EINTR)
            return vz_pg_lost(p, err);
        if (r > 0 && !PQconsumeInput(p->conn))
            return vz_pg_lost(p, err);
    }
    return 0;
}

int vz_pg_collect(struct pg *p, int64_t deadline, PGresult **out, struct vz_err *err)
{
    PGresult *keep = NULL, *r;
    int rc = 0;

    *out = NULL;
    for (;;) {
        rc = vz_pg_wait(p, deadline, err);
        if (rc < 0)
            goto out;
        r = PQgetResult(p->conn);
        if (!r)
            break;
        /* Keep the first error, else the first result; drain the rest so
         * the connection is ready for the next statement. */
        if (!keep) {
            keep = r;
        } else if (PQresultStatus(r) == PGRES_FATAL_ERROR &&
                   PQresultStatus(keep) != PGRES_FATAL_ERROR) {
            PQclear(keep);
            keep = r;
        } else {
            PQclear(r);
        }
    }
    if (!keep) {
        rc = vz_pg_lost(p, err);
        goto out;
    }
    switch (PQresultStatus(keep)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        *out = keep;
        keep = NULL;
        break;
    default:
        rc = vz_pg_result_error(p, keep, err);
        break;
    }
out:
    PQclear(keep);
    return rc;
}

int vz_pg_run(struct pg *p, const char *sql, int nparams, const char *const *params, PGresult **out,
              struct vz_err *err)
{
    *out = NULL;
    if (p->broken)
        return vz_err_set(err, VZ_ECONNECT, "the connection to %s is no longer usable",
                          p->hostport);
    atomic_store(&p->cancel_requested, 0);
    if (!PQsendQueryParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0))
        return vz_pg_lost(p, err);
    return vz_pg_collect(p, vz_mono_ms() + p->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS, out,
                         err);
}

/* ---- connecting ---- */

/* The spec's three modes have the same names in libpq; the other three are
 * libpq's own. */
static const char *pg_sslmode(const char *mode)
{
    return mode && *mode ? mode : "prefer";
}

static const char *extra_str(const json_t *extra, const char *key)
{
    const char *v = json_string_value(json_object_get(extra, key));
    return v && *v ? v : NULL;
}

/* Drive PQconnectPoll() until connected, failed or past the deadline. */
static int pg_connect_loop(PGconn *conn, const struct vz_conn_cfg *cfg, const char *hostport,
                           struct vz_err *err)
{
    int64_t deadline = vz_mono_ms() + (int64_t)cfg->connect_timeout_s * 1000;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    if (PQstatus(conn) == CONNECTION_BAD)
        return pg_connect_error(PQerrorMessage(conn), cfg->password, hostport, err);
    while (st != PGRES_POLLING_OK) {
        struct pollfd pfd;
        int64_t left;
        int r;

        if (st == PGRES_POLLING_FAILED)
            return pg_connect_error(PQerrorMessage(conn), cfg->password, hostport, err);
        left = deadline - vz_mono_ms();
        if (left <= 0)
            return vz_err_set(err, VZ_ETIMEOUT, "could not connect to %s within %d s", hostport,
                              cfg->connect_timeout_s);
        pfd.fd = PQsocket(conn);
        pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        pfd.revents = 0;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: poll failed", hostport);
        if (r == 0)
            continue; /* the deadline check above reports it */
        st = PQconnectPoll(conn);
    }
    return 0;
}

/* Check that the session really is read-only. Servers since 14 report the
 * setting at startup; older ones are asked. */
static int pg_check_readonly(struct pg *p, struct vz_err *err)
{
    const char *v = PQparameterStatus(p->conn, "default_transaction_read_only");
    PGresult *r = NULL;
    int rc = 0;

    if (!v) {
        rc = vz_pg_run(p, "SELECT current_setting('default_transaction_read_only')", 0, NULL, &r,
                       err);
        if (rc < 0)
            return rc;
        v = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
    }
    if (strcmp(v, "on") != 0)
        rc = vz_err_set(err, VZ_ESOURCE,
                        "the server did not accept default_transaction_read_only=on");
    PQclear(r);
    return rc;
}

static int pg_open(struct vz_source *s, const struct vz_conn_cfg *cfg, struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    const char *kw[24], *val[24];
    char port[16], ctimeout[16], options[256];
    const char *schema = extra_str(cfg->extra, "schema");
    int n = 0, lock_ms, idle_ms, rc;
    int64_t t0 = vz_mono_ms();

    atomic_init(&p->cancel_requested, 0);
    p->stmt_timeout_ms = cfg->statement_timeout_ms;
    vz_source_hostport(cfg->host, cfg->port, p->hostport, sizeof(p->hostport));
    /* A leading '/' or '@' would make libpq use a local socket, where peer or
     * trust authentication could let anyone in as a local role. */
    if (cfg->host[0] == '/' || cfg->host[0] == '@')
        return vz_err_set(err, VZ_EINVAL, "host must be a host name or IP address");
    p->schema = strdup(schema ? schema : "public");
    if (!p->schema)
        return vz_err_set(err, VZ_ENOMEM, NULL);

    /* A lock wait should fail long before the statement limit; an abandoned
     * transaction must not hold a snapshot (and block vacuum) for long. */
    lock_ms = cfg->statement_timeout_ms < 30000 ? cfg->statement_timeout_ms : 30000;
    idle_ms = cfg->statement_timeout_ms > 600000 ? cfg->statement_timeout_ms : 600000;
    snprintf(port, sizeof(port), "%d", cfg->port);
    snprintf(ctimeout, sizeof(ctimeout), "%d", cfg->connect_timeout_s);
    snprintf(options, sizeof(options),
             "-c default_transaction_read_only=on -c statement_timeout=%d -c lock_timeout=%d "
             "-c idle_in_transaction_session_timeout=%d",
             cfg->statement_timeout_ms, lock_ms, idle_ms);

#define KV(k, v)                                                                                   \
    do {                                                                                           \
        kw[n] = (k);                                                                               \
        val[n] = (v);                                                                              \
        n++;                                                                                       \
    } while (0)
    KV("host", cfg->host);
    KV("port", port);
    if (*cfg->database)
        KV("dbname", cfg->database);
    KV("user", cfg->username);
    KV("password", cfg->password);
    /* Passwords come from us only, never from a ~/.pgpass of the service
     * account. libpq warns on stderr about a passfile that is not a regular
     * file (so not /dev/null) and stays silent about one that cannot exist:
     * nothing can be created below /dev/null. Kerberos (GSS) encryption is
     * not part of our setup. */
    KV("passfile", "/dev/null/no-pgpass");
    KV("gssencmode", "disable");
    KV("sslmode", pg_sslmode(cfg->ssl_mode));
    if (extra_str(cfg->extra, "sslrootcert"))
        KV("sslrootcert", extra_str(cfg->extra, "sslrootcert"));
    if (extra_str(cfg->extra, "sslcert"))
        KV("sslcert", extra_str(cfg->extra, "sslcert"));
    if (extra_str(cfg->extra, "sslkey"))
        KV("sslkey", extra_str(cfg->extra, "sslkey"));
    KV("connect_timeout", ctimeout);
    KV("application_name", cfg->application_name);
    KV("client_encoding", "UTF8");
    KV("options", options);
#undef KV
    kw[n] = NULL;
    val[n] = NULL;

    p->conn = PQconnectStartParams(kw, val, 0);
    if (!p->conn)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    PQsetNoticeProcessor(p->conn, pg_quiet_notice, NULL);
    rc = pg_connect_loop(p->conn, cfg, p->hostport, err);
    if (rc < 0)
        return rc;
    p->cancel = PQgetCancel(p->conn);
    if (!p->cancel)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    rc = pg_check_readonly(p, err);
    if (rc < 0)
        return rc;
    p->connect_ms = vz_mono_ms() - t0;
    return 0;
}

static void pg_close(struct vz_source *s)
{
    struct pg *p = vz_source_priv(s);
    if (p->cancel)
        PQfreeCancel(p->cancel);
    if (p->conn)
        PQfinish(p->conn);
    free(p->schema);
    p->cancel = NULL;
    p->conn = NULL;
    p->schema = NULL;
}

static const char *pg_default_schema(struct vz_source *s)
{
    struct pg *p = vz_source_priv(s);
    return p->schema;
}

/* ---- test ---- */

/* Could this role change data? Superuser; any write privilege on any table
 * or view outside the system schemas (has_table_privilege() also counts
 * ownership, inherited roles and pg_write_all_data); CREATE on the database
 * or on a schema. The first table found is named in the reason. */
static const char pg_can_write_sql[] =
    "SELECT r.rolsuper,"
    " (SELECT concat_ws(', ',"
    "    CASE WHEN has_table_privilege(c.oid, 'INSERT') THEN 'INSERT' END,"
    "    CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,"
    "    CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END,"
    "    CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'TRUNCATE' END)"
    "    || ' privilege on ' || format('%I.%I', n.nspname, c.relname)"
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE c.relkind IN ('r', 'p', 'v', 'f')"
    "    AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
    "    AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"
    "  ORDER BY n.nspname, c.relname LIMIT 1),"
    " has_database_privilege(current_database(), 'CREATE'),"
    " (SELECT format('%I', n.nspname) FROM pg_catalog.pg_namespace n"
    "  WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
    "    AND has_schema_privilege(n.oid, 'CREATE')"
    "  ORDER BY n.nspname LIMIT 1)"
    " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

static int pg_test(struct vz_source *s, struct vz_test_result *out, struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    PGresult *r = NULL;
    int64_t t0 = vz_mono_ms();
    int v = PQserverVersion(p->conn), rc;

    rc = vz_pg_run(p, "SELECT 1", 0, NULL, &r, err);
    if (rc < 0)
        goto out;
    out->latency_ms = p->connect_ms + (vz_mono_ms() - t0);
    PQclear(r);
    r = NULL;
    if (v >= 100000)
        snprintf(out->server_version, sizeof(out->server_version), "PostgreSQL %d.%d", v / 10000,
                 v % 10000);
    else
        snprintf(out->server_version, sizeof(out->server_version), "PostgreSQL %d.%d.%d", v / 10000,
                 v / 100 % 100, v % 100);

    rc = vz_pg_run(p, pg_can_write_sql, 0, NULL, &r, err);
    if (rc < 0)
        goto out;
    out->can_write = 0;
    if (PQntuples(r) != 1)
        goto out; /* current_user vanished: leave "cannot tell" */
    if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        out->can_write = 1;
        snprintf(out->write_reason, sizeof(out->write_reason), "role is superuser");
    } else if (!PQgetisnull(r, 0, 1)) {
        out->can_write = 1;
        snprintf(out->write_reason, sizeof(out->write_reason), "%s", PQgetvalue(r, 0, 1));
    } else if (strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
        out->can_write = 1;
        snprintf(out->write_reason, sizeof(out->write_reason), "CREATE privilege on the database");
    } else if (!PQgetisnull(r, 0, 3)) {
        out->can_write = 1;
        snprintf(out->write_reason, sizeof(out->write_reason), "CREATE privilege on schema %s",
                 PQgetvalue(r, 0, 3));
    }
out:
    if (rc < 0)
        out->can_write = -1;
    PQclear(r);
    return rc;
}

/* ---- schemas ---- */

/* pg_toast*, pg_temp_* and pg_catalog all start with "pg_", which user
 * schemas may not. Schemas without USAGE are left out: nothing in them could
 * be read. "C" collation orders by bytes, as strcmp() does. */
static int pg_list_schemas(struct vz_source *s, json_t **out, struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    PGresult *r = NULL;
    json_t *arr = NULL;
    int rc;

    rc = vz_pg_run(p,
                   "SELECT n.nspname FROM pg_catalog.pg_namespace n"
                   " WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
                   "   AND has_schema_privilege(n.oid, 'USAGE')"
                   " ORDER BY n.nspname COLLATE \"C\"",
                   0, NULL, &r, err);
    if (rc < 0)
        goto out;
    arr = json_array();
    if (!arr) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (json_array_append_new(
                arr, vz_source_jstr(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0))) < 0) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    PQclear(r);
    return rc;
}

/* ---- introspection ---- */

/* Partitions are left out: their parent (kind partitioned_table) stands for
 * them. reltuples is -1 before the first ANALYZE/VACUUM (PostgreSQL 14+). */
static const char pg_tables_sql[] =
    "SELECT c.relname, c.relkind,"
    " CASE WHEN c.relkind IN ('r', 'm', 'p', 'f') AND c.reltuples >= 0"
    "      THEN c.reltuples::bigint END,"
    " CASE WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid) END"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition";

/* Domains are followed down to their base type (dom), keeping the innermost
 * declared type modifier; the row whose base is no longer a domain is kept.
 * Defaults of generated columns are their expression, not a default, so
 * they are left out where the server knows generated columns (12+). */
#define PG_COLUMNS_SQL(GENERATED)                                                                  \
    "WITH RECURSIVE dom(oid, base, typmod) AS ("                                                   \
    "  SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_catalog.pg_type t WHERE t.typtype = 'd'"   \
    "  UNION ALL"                                                                                  \
    "  SELECT dom.oid, t.typbasetype, CASE WHEN dom.typmod >= 0 THEN dom.typmod"                   \
    "                                      ELSE t.typtypmod END"                                   \
    "  FROM dom JOIN pg_catalog.pg_type t ON t.oid = dom.base WHERE t.typtype = 'd')"              \
    " SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,"        \
    "  CASE WHEN " GENERATED " THEN pg_get_expr(d.adbin, d.adrelid) END,"                          \
    "  bt.typname, bt.typtype, bt.typcategory,"                                                    \
    "  CASE WHEN a.atttypmod >= 0 THEN a.atttypmod ELSE coalesce(dom.typmod, -1) END,"             \
    "  et.typname, et.typtype, et.typcategory"                                                     \
    " FROM pg_catalog.pg_attribute a"                                                              \
    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"                                            \
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"                                    \
    " LEFT JOIN dom ON dom.oid = a.atttypid"                                                       \
    " JOIN pg_catalog.pg_type bt ON bt.oid = coalesce(dom.base, a.atttypid)"                       \
    " LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'"             \
    " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"          \
    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition"    \
    "   AND a.attnum > 0 AND NOT a.attisdropped AND bt.typtype <> 'd'"                             \
    " ORDER BY a.attnum"

static const char pg_columns_sql[] = PG_COLUMNS_SQL("a.attgenerated = ''");
static const char pg_columns_sql_old[] = PG_COLUMNS_SQL("true");

static const char pg_pkeys_sql[] =
    "SELECT c.relname, a.attname"
    " FROM pg_catalog.pg_constraint k"
    " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
    " WHERE n.nspname = $1 AND k.contype = 'p'"
    " ORDER BY u.ord";

/* Type classes by base type name.
 *
 *   bool → bool          int2/int4/int8 → int16/int32/int64
 *   oid, xid, cid → uint32 (unsigned 32-bit counters), xid8 → uint64
 *   float4/float8 → float32/float64      numeric → decimal
 *   money → text: its output is locale-formatted ("$1,234.56"), so no
 *     number parser can be trusted with it
 *   text, varchar, bpchar, "char", name, citext → text
 *   inet, cidr, macaddr(8), xml, tsvector, tsquery, pg_lsn, reg* → text
 *   point, line, lseg, box, path, polygon, circle → text (their text form
 *     is the only portable one; "geometry" is kept for PostGIS geometry and
 *     geography, which are real GIS values)
 *   uuid → uuid, json/jsonb → json, hstore → hstore
 *   date, time, timetz, timestamp, timestamptz, interval → same name
 *   bytea → binary, bit/varbit → bit
 *   enums → enum, arrays → array, domains → their base type's class
 *   composite, range, multirange and anything unknown → other */
static const struct {
    const char *name, *cls;
} pg_types[] = {
    {"bool", "bool"},
    {"int2", "int16"},
    {"int4", "int32"},
    {"int8", "int64"},
    {"oid", "uint32"},
    {"xid", "uint32"},
    {"cid", "uint32"},
    {"xid8", "uint64"},
    {"float4", "float32"},
    {"float8", "float64"},
    {"numeric", "decimal"},
    {"money", "text"},
    {"text", "text"},
    {"varchar", "text"},
    {"bpchar", "text"},
    {"char", "text"},
    {"name", "text"},
    {"citext", "text"},
    {"inet", "text"},
    {"cidr", "text"},
    {"macaddr", "text"},
    {"macaddr8", "text"},
    {"xml", "text"},
    {"tsvector", "text"},
    {"tsquery", "text"},
    {"pg_lsn", "text"},
    {"point", "text"},
    {"line", "text"},
    {"lseg", "text"},
    {"box", "text"},
    {"path", "text"},
    {"polygon", "text"},
    {"circle", "text"},
    {"uuid", "uuid"},
    {"json", "json"},
    {"jsonb", "json"},
    {"hstore", "hstore"},
    {"date", "date"},
    {"time", "time"},
    {"timetz", "timetz"},
    {"timestamp", "timestamp"},
    {"timestamptz", "timestamptz"},
    {"interval", "interval"},
    {"bytea", "binary"},
    {"bit", "bit"},
    {"varbit", "bit"},
    {"geometry", "geometry"},
    {"geography", "geometry"},
};

const char *vz_pg_type_class(const char *name, char typtype, char category)
{
    if (typtype == 'e')
        return "enum";
    if (category == 'A')
        return "array";
    if (typtype == 'c' || typtype == 'r' || typtype == 'm' || typtype == 'p')
        return "other";
    for (size_t i = 0; i < sizeof(pg_types) / sizeof(pg_types[0]); i++)
        if (strcmp(pg_types[i].name, name) == 0)
            return pg_types[i].cls;
    if (strncmp(name, "reg", 3) == 0 || category == 'S')
        return "text";
    return "other";
}

static int pg_add_tables(struct vz_intro *in, const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        const char *kind;
        switch (PQgetvalue(r, i, 1)[0]) {
        case 'v':
            kind = "view";
            break;
        case 'm':
            kind = "materialized_view";
            break;
        case 'p':
            kind = "partitioned_table";
            break;
        default:
            kind = "table"; /* ordinary and foreign tables */
            break;
        }
        if (vz_intro_add_table(in, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), kind,
                               PQgetisnull(r, i, 2) ? -1 : strtoll(PQgetvalue(r, i, 2), NULL, 10),
                               PQgetisnull(r, i, 3) ? -1 : strtoll(PQgetvalue(r, i, 3), NULL, 10)) <
            0)
            return VZ_ENOMEM;
    }
    vz_intro_seal(in);
    return 0;
}

static int pg_add_columns(struct vz_intro *in, const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cls =
            vz_pg_type_class(PQgetvalue(r, i, 5), PQgetvalue(r, i, 6)[0], PQgetvalue(r, i, 7)[0]);
        long typmod = strtol(PQgetvalue(r, i, 8), NULL, 10);
        int prec = -1, scale = -1;
        json_t *col;

        /* numeric(p,s) packs both into typmod - 4 (VARHDRSZ); the scale is
         * an 11-bit signed field since PostgreSQL 15 (numeric(3,-2)). */
        if (strcmp(cls, "decimal") == 0 && typmod >= 4) {
            prec = (int)(((typmod - 4) >> 16) & 0xffff);
            scale = (int)((((typmod - 4) & 0x7ff) ^ 1024) - 1024);
        }
        col = vz_intro_column(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
                              PQgetvalue(r, i, 2), cls, PQgetvalue(r, i, 3)[0] == 't',
                              PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4), prec, scale);
        if (col && strcmp(cls, "array") == 0 && !PQgetisnull(r, i, 9) &&
            json_object_set_new(
                col, "element_type_class",
                json_string(vz_pg_type_class(PQgetvalue(r, i, 9), PQgetvalue(r, i, 10)[0],
                                             PQgetvalue(r, i, 11)[0]))) < 0) {
            json_decref(col);
            return VZ_ENOMEM;
        }
        if (vz_intro_add_column(in, PQgetvalue(r, i, 0), col) < 0)
            return VZ_ENOMEM;
    }
    return 0;
}

static int pg_introspect(struct vz_source *s, const char *schema, json_t **out, struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    const char *params[1] = {schema};
    PGresult *r = NULL;
    struct vz_intro in;
    int rc;

    vz_intro_init(&in, schema);
    rc = vz_pg_run(p, pg_tables_sql, 1, params, &r, err);
    if (rc < 0)
        goto out;
    if (pg_add_tables(&in, r) < 0)
        goto nomem;
    PQclear(r);
    r = NULL;

    rc = vz_pg_run(p, PQserverVersion(p->conn) >= 120000 ? pg_columns_sql : pg_columns_sql_old, 1,
                   params, &r, err);
    if (rc < 0)
        goto out;
    if (pg_add_columns(&in, r) < 0)
        goto nomem;
    PQclear(r);
    r = NULL;

    rc = vz_pg_run(p, pg_pkeys_sql, 1, params, &r, err);
    if (rc < 0)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        if (vz_intro_add_pk(&in, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                            (size_t)PQgetlength(r, i, 1)) < 0)
            goto nomem;
    *out = vz_intro_take(&in);
    if (!*out)
        goto nomem;
    goto out;
nomem:
    rc = vz_err_set(err, VZ_ENOMEM, NULL);
out:
    PQclear(r);
    vz_intro_release(&in);
    return rc;
}

/* ---- cancel ---- */

/* PQcancel() opens its own short connection and is safe to call from any
 * thread while another one waits in vz_pg_run(). (libpq 15 gives that
 * connection no timeout of its own.) */
static int pg_cancel(struct vz_source *s, struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    char buf[256];

    if (!p->cancel)
        return vz_err_set(err, VZ_EINVAL, "not connected");
    atomic_store(&p->cancel_requested, 1);
    if (!PQcancel(p->cancel, buf, sizeof(buf))) {
        size_t len = strlen(buf);
        while (len && buf[len - 1] == '\n')
            buf[--len] = '\0';
        return vz_err_set(err, VZ_ECONNECT, "could not send the cancel request to %s: %s",
                          p->hostport, buf);
    }
    return 0;
}

static int pg_query_for_test(struct vz_source *s, const char *sql, char *out, size_t n,
                             struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    PGresult *r = NULL;
    int rc = vz_pg_run(p, sql, 0, NULL, &r, err);

    if (rc == 0 && out && n) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0)
            snprintf(out, n, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
        else
            out[0] = '\0';
    }
    PQclear(r);
    return rc;
}

const struct vz_source_ops vz_pg_ops = {
    .name = "postgresql",
    .type = VZ_DB_POSTGRES,
    .priv_size = sizeof(struct pg),
    .open = pg_open,
    .test = pg_test,
    .list_schemas = pg_list_schemas,
    .introspect = pg_introspect,
    .cancel = pg_cancel,
    .close = pg_close,
    .default_schema = pg_default_schema,
    .query_for_test = pg_query_for_test,
    .stream_open = vz_pg_stream_open,
    .stream_fill = vz_pg_stream_fill,
    .stream_close = vz_pg_stream_close,
};
