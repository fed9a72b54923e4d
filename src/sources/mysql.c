/* MySQL / MariaDB source backend (libmariadb).
 *
 * Connecting uses libmariadb's non-blocking API with poll() against our own
 * deadline: the library's connect timeout covers the TCP connect and the
 * server greeting, but the authentication exchange after it waits for the
 * read timeout, which must be long enough for real statements. Statements
 * after that use the ordinary blocking calls (the two APIs mix on one
 * connection), bounded by the read timeout and by the server-side statement
 * limit set at connect.
 *
 * Never set: CLIENT_MULTI_STATEMENTS (one statement per call, whatever the
 * text), CLIENT_LOCAL_FILES / local infile (a hostile server could otherwise
 * ask for any file this process can read), automatic reconnect (a new
 * session would silently lose READ ONLY). */
#include "sources/source.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysql.h>

#include "core/util.h"
#include "sources/mysql_internal.h"
#include "sources/source_internal.h"

/* Server error numbers (mysqld_error.h) and client ones (errmsg.h) we map. */
enum {
    MY_ER_DBACCESS_DENIED = 1044,
    MY_ER_ACCESS_DENIED = 1045,
    MY_ER_BAD_DB = 1049,
    MY_ER_UNKNOWN_THREAD = 1094,
    MY_ER_HOST_NOT_PRIVILEGED = 1130,
    MY_ER_TABLEACCESS_DENIED = 1142,
    MY_ER_COLUMNACCESS_DENIED = 1143,
    MY_ER_NO_SUCH_TABLE = 1146,
    MY_ER_UNKNOWN_SYSTEM_VARIABLE = 1193,
    MY_ER_LOCK_WAIT_TIMEOUT = 1205,
    MY_ER_SPECIFIC_ACCESS_DENIED = 1227,
    MY_ER_NOT_SUPPORTED_AUTH_MODE = 1251,
    MY_ER_QUERY_INTERRUPTED = 1317,
    MY_ER_PARSE_ERROR = 1064,
    MY_ER_UNKNOWN_TABLE = 1109,
    MY_ER_ACCESS_DENIED_NO_PASSWORD = 1698,
    MY_ER_READ_ONLY_TRANSACTION = 1792,
    MY_ER_MUST_CHANGE_PASSWORD_LOGIN = 1862,
    MY_ER_STATEMENT_TIMEOUT = 1969, /* MariaDB max_statement_time */
    MY_ER_QUERY_TIMEOUT = 3024,     /* MySQL MAX_EXECUTION_TIME */
    MY_CR_SOCKET_CREATE_ERROR = 2001,
    MY_CR_CONNECTION_ERROR = 2002,
    MY_CR_CONN_HOST_ERROR = 2003,
    MY_CR_UNKNOWN_HOST = 2005,
    MY_CR_SERVER_GONE = 2006,
    MY_CR_SERVER_LOST = 2013,
    MY_CR_SSL_CONNECTION_ERROR = 2026,
    MY_CR_AUTH_PLUGIN_CANNOT_LOAD = 2059,
    MY_CR_AUTH_PLUGIN_ERR = 2061,
};

/* ---- errors ---- */

static int mys_contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* libmariadb ends socket errors with the errno: "Can't connect to server on
 * 'h' (111)". 0 when there is none. */
static int trailing_errno(const char *msg)
{
    const char *open = strrchr(msg, '(');
    int e;
    if (!open || sscanf(open, "(%d)", &e) != 1)
        return 0;
    return e > 0 ? e : 0;
}

static int mys_connect_error(const struct mys *m, MYSQL *c, int64_t elapsed_ms, struct vz_err *err)
{
    unsigned e = mysql_errno(c);
    char msg[512];
    int sys;

    vz_source_scrub(mysql_error(c), m->password, msg, sizeof(msg));
    switch (e) {
    case MY_ER_ACCESS_DENIED:
    case MY_ER_ACCESS_DENIED_NO_PASSWORD:
    case MY_ER_NOT_SUPPORTED_AUTH_MODE:
    case MY_ER_MUST_CHANGE_PASSWORD_LOGIN:
    case MY_ER_HOST_NOT_PRIVILEGED:
    case MY_CR_AUTH_PLUGIN_CANNOT_LOAD:
    case MY_CR_AUTH_PLUGIN_ERR:
        return vz_err_set(err, VZ_EAUTH, "%s", msg);
    case MY_ER_BAD_DB:
        return vz_err_set(err, VZ_ENOTFOUND, "%s", msg);
    case MY_ER_DBACCESS_DENIED:
        /* The server will not say whether a database it refuses exists. */
        return vz_err_set(err, VZ_ENOTFOUND,
                          "%s (the database does not exist or this user may not use it)", msg);
    case MY_CR_SSL_CONNECTION_ERROR:
        if (mys_contains(msg, "not support"))
            return vz_err_set(err, VZ_ECONNECT, "SSL required but the server does not offer it");
        return vz_err_set(err, VZ_ECONNECT, "SSL error with %s: %s", m->hostport, msg);
    case MY_CR_UNKNOWN_HOST:
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: unknown host", m->hostport);
    case MY_CR_SOCKET_CREATE_ERROR:
    case MY_CR_CONNECTION_ERROR:
    case MY_CR_CONN_HOST_ERROR:
        sys = trailing_errno(msg);
        if (sys == ETIMEDOUT || elapsed_ms >= (int64_t)m->connect_timeout_s * 1000)
            break;
        if (sys == ECONNREFUSED)
            return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: connection refused",
                              m->hostport);
        if (sys)
            return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: %s", m->hostport,
                              strerror(sys));
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: %s", m->hostport, msg);
    case MY_CR_SERVER_GONE:
    case MY_CR_SERVER_LOST:
        if (trailing_errno(msg) == ETIMEDOUT || mys_contains(msg, "system error: 110") ||
            elapsed_ms >= (int64_t)m->connect_timeout_s * 1000)
            break;
        return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: %s", m->hostport, msg);
    default:
        return vz_err_set(err, e >= 2000 ? VZ_ECONNECT : VZ_ESOURCE, "%s", msg);
    }
    return vz_err_set(err, VZ_ETIMEOUT, "could not connect to %s within %d s", m->hostport,
                      m->connect_timeout_s);
}

static int mys_error_code(struct mys *m, unsigned e)
{
    switch (e) {
    case MY_ER_READ_ONLY_TRANSACTION:
        return VZ_ENOT_READONLY;
    case MY_ER_QUERY_INTERRUPTED:
        return atomic_load(&m->cancel_requested) ? VZ_ECANCELLED : VZ_ESOURCE;
    case MY_ER_STATEMENT_TIMEOUT:
    case MY_ER_QUERY_TIMEOUT:
    case MY_ER_LOCK_WAIT_TIMEOUT:
        return VZ_ETIMEOUT;
    case MY_ER_DBACCESS_DENIED:
    case MY_ER_TABLEACCESS_DENIED:
    case MY_ER_COLUMNACCESS_DENIED:
    case MY_ER_SPECIFIC_ACCESS_DENIED:
        return VZ_EPERM;
    case MY_ER_NO_SUCH_TABLE:
    case MY_ER_BAD_DB:
        return VZ_ENOTFOUND;
    case MY_ER_PARSE_ERROR:
        return VZ_EINVAL;
    case MY_CR_SERVER_GONE:
    case MY_CR_SERVER_LOST:
        /* A killed statement can also surface as a lost connection. */
        return atomic_load(&m->cancel_requested) ? VZ_ECANCELLED : VZ_ECONNECT;
    default:
        return e >= 2000 ? VZ_ECONNECT : VZ_ESOURCE;
    }
}

static int mys_set_error(struct mys *m, unsigned e, const char *text, struct vz_err *err)
{
    char msg[512];
    int code = mys_error_code(m, e);

    m->last_errno = e;
    vz_source_scrub(text, m->password, msg, sizeof(msg));
    if (code == VZ_ECANCELLED)
        return vz_err_set(err, code, "statement cancelled: %s", msg);
    return vz_err_set(err, code, "%s (MySQL error %u)", msg, e);
}

static int mys_conn_error(struct mys *m, struct vz_err *err)
{
    return mys_set_error(m, mysql_errno(m->conn), mysql_error(m->conn), err);
}

/* ---- connecting ---- */

static int mys_ssl_mode(const char *mode, enum mys_ssl *out)
{
    static const struct {
        const char *name;
        enum mys_ssl ssl;
    } modes[] = {
        {"disable", MY_SSL_DISABLE},        {"preferred", MY_SSL_PREFERRED},
        {"prefer", MY_SSL_PREFERRED},       {"required", MY_SSL_REQUIRED},
        {"require", MY_SSL_REQUIRED},       {"verify_ca", MY_SSL_VERIFY},
        {"verify_identity", MY_SSL_VERIFY},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(modes[i].name, mode) == 0) {
            *out = modes[i].ssl;
            return 0;
        }
    }
    return VZ_EINVAL;
}

/* A new handle with every option set, not yet connected.
 *
 * SSL with libmariadb 3.3: MYSQL_OPT_SSL_ENFORCE asks for TLS but quietly
 * goes on in plain text when the server has none, which is "preferred";
 * "required" adds a check after connecting (mys_open). Only
 * MYSQL_OPT_SSL_VERIFY_SERVER_CERT refuses a server without TLS before
 * authenticating, and it checks the host name as well, so verify_ca is as
 * strict as verify_identity. */
static int mys_handle(const struct mys *m, MYSQL **out, struct vz_err *err)
{
    MYSQL *c = mysql_init(NULL);
    unsigned connect_s = (unsigned)m->connect_timeout_s;
    unsigned rw_s = (unsigned)((m->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS) / 1000 + 1);
    unsigned proto = MYSQL_PROTOCOL_TCP, zero = 0;
    my_bool yes = 1, no = 0;
    size_t stack = 256 * 1024; /* room for a TLS handshake on the async stack */
    int bad = 0;

    *out = NULL;
    if (!c)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    bad |= mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
    bad |= mysql_options(c, MYSQL_OPT_READ_TIMEOUT, &rw_s);
    bad |= mysql_options(c, MYSQL_OPT_WRITE_TIMEOUT, &rw_s);
    /* TCP even for "localhost", which would otherwise mean the local socket. */
    bad |= mysql_options(c, MYSQL_OPT_PROTOCOL, &proto);
    bad |= mysql_options(c, MYSQL_OPT_LOCAL_INFILE, &zero);
    bad |= mysql_options(c, MYSQL_OPT_RECONNECT, &no);
    bad |= mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    bad |= mysql_options(c, MYSQL_OPT_NONBLOCK, &stack);
    if (m->ssl != MY_SSL_DISABLE) {
        bad |= mysql_options(c, MYSQL_OPT_SSL_ENFORCE, &yes);
        if (m->ssl_ca)
            bad |= mysql_options(c, MYSQL_OPT_SSL_CA, m->ssl_ca);
        if (m->ssl_cert)
            bad |= mysql_options(c, MYSQL_OPT_SSL_CERT, m->ssl_cert);
        if (m->ssl_key)
            bad |= mysql_options(c, MYSQL_OPT_SSL_KEY, m->ssl_key);
    }
    if (m->ssl == MY_SSL_VERIFY)
        bad |= mysql_options(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    if (bad) {
        mysql_close(c);
        return vz_err_set(err, VZ_ENOMEM, "could not set the MySQL client options");
    }
    *out = c;
    return 0;
}

/* Connect c within the connect timeout (our own clock, not libmariadb's
 * per-read waits). Name lookup happens inside libmariadb and is bounded by
 * the system resolver only. */
static int mys_connect(const struct mys *m, MYSQL *c, struct vz_err *err)
{
    int64_t t0 = vz_mono_ms(), deadline = t0 + (int64_t)m->connect_timeout_s * 1000;
    MYSQL *ret = NULL;
    int st;

    st = mysql_real_connect_start(&ret, c, m->host, m->user, m->password,
                                  *m->database ? m->database : NULL, (unsigned)m->port, NULL, 0);
    while (st) {
        struct pollfd pfd = {.fd = mysql_get_socket(c), .events = 0};
        int64_t left = deadline - vz_mono_ms(), wait = left;
        int r, ev = 0;

        if (left <= 0)
            return vz_err_set(err, VZ_ETIMEOUT, "could not connect to %s within %d s", m->hostport,
                              m->connect_timeout_s);
        if (st & MYSQL_WAIT_READ)
            pfd.events |= POLLIN;
        if (st & MYSQL_WAIT_WRITE)
            pfd.events |= POLLOUT;
        if (st & MYSQL_WAIT_EXCEPT)
            pfd.events |= POLLPRI;
        if ((st & MYSQL_WAIT_TIMEOUT) && (int64_t)mysql_get_timeout_value_ms(c) < wait)
            wait = mysql_get_timeout_value_ms(c);
        r = poll(&pfd, 1, (int)wait);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return vz_err_set(err, VZ_ECONNECT, "could not connect to %s: poll failed",
                              m->hostport);
        }
        if (r == 0) {
            if (!(st & MYSQL_WAIT_TIMEOUT) || wait == left)
                continue; /* our deadline: reported at the top */
            ev = MYSQL_WAIT_TIMEOUT;
        } else {
            if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
                ev |= MYSQL_WAIT_READ;
            if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
                ev |= MYSQL_WAIT_WRITE;
            if (pfd.revents & POLLPRI)
                ev |= MYSQL_WAIT_EXCEPT;
            ev &= st | MYSQL_WAIT_TIMEOUT;
            if (!ev)
                ev = st & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
        }
        st = mysql_real_connect_cont(&ret, c, ev);
    }
    if (!ret)
        return mys_connect_error(m, c, vz_mono_ms() - t0, err);
    return 0;
}

/* Run a statement with no result set we need. */
static int mys_exec(struct mys *m, const char *sql, struct vz_err *err)
{
    MYSQL_RES *res;
    if (mysql_real_query(m->conn, sql, strlen(sql)) != 0)
        return mys_conn_error(m, err);
    res = mysql_store_result(m->conn);
    if (res)
        mysql_free_result(res);
    else if (mysql_errno(m->conn))
        return mys_conn_error(m, err);
    return 0;
}

int vz_mys_exec(struct mys *m, const char *sql, struct vz_err *err)
{
    return mys_exec(m, sql, err);
}

int vz_mys_conn_error(struct mys *m, struct vz_err *err)
{
    return mys_conn_error(m, err);
}

/* Session settings, all fixed text. READ ONLY must hold; the statement time
 * limit is skipped on servers too old to know it (the read timeout still
 * bounds every wait). time_zone UTC makes TIMESTAMP values come back as the
 * UTC instants they are stored as. */
static int mys_session_setup(struct mys *m, struct vz_err *err)
{
    char sql[128];
    int rc = mys_exec(m, "SET SESSION TRANSACTION READ ONLY", err);

    if (rc < 0)
        return rc;
    if (m->mariadb)
        snprintf(sql, sizeof(sql), "SET SESSION max_statement_time = %d.%03d",
                 m->stmt_timeout_ms / 1000, m->stmt_timeout_ms % 1000);
    else
        snprintf(sql, sizeof(sql), "SET SESSION MAX_EXECUTION_TIME = %d", m->stmt_timeout_ms);
    rc = mys_exec(m, sql, err);
    if (rc < 0 && m->last_errno != MY_ER_UNKNOWN_SYSTEM_VARIABLE)
        return rc;
    rc = mys_exec(m, "SET SESSION net_write_timeout = 600", err);
    if (rc < 0)
        return rc;
    return mys_exec(m, "SET SESSION time_zone = '+00:00'", err);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static const char *extra_str(const json_t *extra, const char *key)
{
    const char *v = json_string_value(json_object_get(extra, key));
    return v && *v ? v : NULL;
}

static int mys_open(struct vz_source *s, const struct vz_conn_cfg *cfg, struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    int64_t t0 = vz_mono_ms();
    int rc;

    atomic_init(&m->cancel_requested, 0);
    vz_source_hostport(cfg->host, cfg->port, m->hostport, sizeof(m->hostport));
    /* libmariadb reads a host containing '=' as "key=value;..." connection
     * options (init-command, local-infile, plugin-dir...), so such a value
     * is refused outright rather than passed on. */
    if (strpbrk(cfg->host, "=; \t\r\n"))
        return vz_err_set(err, VZ_EINVAL, "host must be a host name or IP address");
    if (mys_ssl_mode(cfg->ssl_mode, &m->ssl) < 0)
        return vz_err_set(err, VZ_EINVAL, "ssl_mode \"%s\" is not valid for mysql", cfg->ssl_mode);
    m->port = cfg->port;
    m->connect_timeout_s = cfg->connect_timeout_s;
    m->stmt_timeout_ms = cfg->statement_timeout_ms;
    m->host = strdup(cfg->host);
    m->user = strdup(cfg->username);
    m->password = strdup(cfg->password);
    m->database = strdup(cfg->database);
    m->ssl_ca = dup_or_null(extra_str(cfg->extra, "ssl_ca"));
    m->ssl_cert = dup_or_null(extra_str(cfg->extra, "ssl_cert"));
    m->ssl_key = dup_or_null(extra_str(cfg->extra, "ssl_key"));
    if (!m->host || !m->user || !m->password || !m->database ||
        (extra_str(cfg->extra, "ssl_ca") && !m->ssl_ca) ||
        (extra_str(cfg->extra, "ssl_cert") && !m->ssl_cert) ||
        (extra_str(cfg->extra, "ssl_key") && !m->ssl_key))
        return vz_err_set(err, VZ_ENOMEM, NULL);

    rc = mys_handle(m, &m->conn, err);
    if (rc < 0)
        return rc;
    rc = mys_connect(m, m->conn, err);
    if (rc < 0)
        return rc;
    if (m->ssl == MY_SSL_REQUIRED && !mysql_get_ssl_cipher(m->conn))
        return vz_err_set(err, VZ_ECONNECT, "SSL required but the server does not offer it");
    m->thread_id = mysql_thread_id(m->conn);
    snprintf(m->version, sizeof(m->version), "%s", mysql_get_server_info(m->conn));
    m->mariadb = strstr(m->version, "MariaDB") != NULL;
    rc = mys_session_setup(m, err);
    if (rc < 0)
        return rc;
    m->connect_ms = vz_mono_ms() - t0;
    return 0;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void mys_close(struct vz_source *s)
{
    struct mys *m = vz_source_priv(s);
    if (m->conn)
        mysql_close(m->conn);
    m->conn = NULL;
    free(m->host);
    free(m->user);
    free_secret(m->password);
    free(m->database);
    free(m->ssl_ca);
    free(m->ssl_cert);
    free(m->ssl_key);
    m->host = m->user = m->password = m->database = NULL;
    m->ssl_ca = m->ssl_cert = m->ssl_key = NULL;
}

static const char *mys_default_schema(struct vz_source *s)
{
    struct mys *m = vz_source_priv(s);
    return m->database ? m->database : "";
}

/* ---- prepared statements ---- */

/* One row: vals[i] is NUL-terminated text or NULL for SQL NULL, lens[i] its
 * length. Borrowed until the callback returns. Return < 0 to stop. */
typedef int (*mys_row_fn)(void *ud, char **vals, const unsigned long *lens, unsigned n);

struct mys_cols {
    unsigned n;
    MYSQL_BIND *bind;
    char **buf;
    char **vals;
    size_t *cap;
    unsigned long *len;
    my_bool *null;
    my_bool *error;
};

static void mys_cols_free(struct mys_cols *c)
{
    for (unsigned i = 0; c->buf && i < c->n; i++)
        free(c->buf[i]);
    free(c->bind);
    free(c->buf);
    free(c->vals);
    free(c->cap);
    free(c->len);
    free(c->null);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

static int mys_cols_init(struct mys_cols *c, unsigned n)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->bind = calloc(n, sizeof(*c->bind));
    c->buf = calloc(n, sizeof(*c->buf));
    c->vals = calloc(n, sizeof(*c->vals));
    c->cap = calloc(n, sizeof(*c->cap));
    c->len = calloc(n, sizeof(*c->len));
    c->null = calloc(n, sizeof(*c->null));
    c->error = calloc(n, sizeof(*c->error));
    if (!c->bind || !c->buf || !c->vals || !c->cap || !c->len || !c->null || !c->error)
        return VZ_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        c->cap[i] = 256;
        c->buf[i] = malloc(c->cap[i]);
        if (!c->buf[i])
            return VZ_ENOMEM;
        /* Every column as text; one byte is kept for our own NUL. */
        c->bind[i].buffer_type = MYSQL_TYPE_STRING;
        c->bind[i].buffer = c->buf[i];
        c->bind[i].buffer_length = c->cap[i] - 1;
        c->bind[i].length = &c->len[i];
        c->bind[i].is_null = &c->null[i];
        c->bind[i].error = &c->error[i];
    }
    return 0;
}

/* Fetch the columns that did not fit again, into buffers grown to size. */
static int mys_cols_refetch(struct mys_cols *c, MYSQL_STMT *st)
{
    int grown = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->null[i] || c->len[i] < c->cap[i])
            continue;
        char *p = realloc(c->buf[i], c->len[i] + 1);
        if (!p)
            return VZ_ENOMEM;
        c->buf[i] = p;
        c->cap[i] = c->len[i] + 1;
        c->bind[i].buffer = p;
        c->bind[i].buffer_length = c->cap[i] - 1;
        if (mysql_stmt_fetch_column(st, &c->bind[i], i, 0) != 0)
            return VZ_ESOURCE;
        grown = 1;
    }
    if (grown && mysql_stmt_bind_result(st, c->bind) != 0)
        return VZ_ESOURCE;
    return 0;
}

static int mys_stmt_error(struct mys *m, MYSQL_STMT *st, struct vz_err *err)
{
    return mys_set_error(m, mysql_stmt_errno(st), mysql_stmt_error(st), err);
}

/* Run a fixed SELECT with one text parameter as a server-side prepared
 * statement (the parameter never becomes SQL text) and hand each row to fn.
 * Rows stream from the server; fn must not use the connection. */
static int mys_select(struct mys *m, const char *sql, const char *param, mys_row_fn fn, void *ud,
                      struct vz_err *err)
{
    MYSQL_STMT *st = mysql_stmt_init(m->conn);
    MYSQL_BIND pb;
    unsigned long plen = (unsigned long)strlen(param);
    struct mys_cols cols;
    int rc = 0, r;

    memset(&cols, 0, sizeof(cols));
    atomic_store(&m->cancel_requested, 0);
    if (!st)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = mys_stmt_error(m, st, err);
        goto out;
    }
    memset(&pb, 0, sizeof(pb));
    pb.buffer_type = MYSQL_TYPE_STRING;
    pb.buffer = (void *)param;
    pb.buffer_length = plen;
    pb.length = &plen;
    if (mysql_stmt_bind_param(st, &pb) != 0 || mysql_stmt_execute(st) != 0) {
        rc = mys_stmt_error(m, st, err);
        goto out;
    }
    if (mys_cols_init(&cols, mysql_stmt_field_count(st)) < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    if (mysql_stmt_bind_result(st, cols.bind) != 0) {
        rc = mys_stmt_error(m, st, err);
        goto out;
    }
    while ((r = mysql_stmt_fetch(st)) == 0 || r == MYSQL_DATA_TRUNCATED) {
        if (r == MYSQL_DATA_TRUNCATED) {
            rc = mys_cols_refetch(&cols, st);
            if (rc == VZ_ENOMEM) {
                rc = vz_err_set(err, VZ_ENOMEM, NULL);
                goto out;
            }
            if (rc < 0) {
                rc = mys_stmt_error(m, st, err);
                goto out;
            }
        }
        for (unsigned i = 0; i < cols.n; i++) {
            if (cols.null[i]) {
                cols.vals[i] = NULL;
                cols.len[i] = 0;
            } else {
                cols.buf[i][cols.len[i]] = '\0';
                cols.vals[i] = cols.buf[i];
            }
        }
        rc = fn(ud, cols.vals, cols.len, cols.n);
        if (rc < 0) {
            rc = vz_err_set(err, rc, NULL);
            goto out;
        }
    }
    if (r != MYSQL_NO_DATA)
        rc = mys_stmt_error(m, st, err);
out:
    mys_cols_free(&cols);
    mysql_stmt_close(st);
    return rc;
}

/* Text-protocol query for fixed statements without parameters. On success
 * *out is the whole result (mysql_free_result()). */
static int mys_query(struct mys *m, const char *sql, MYSQL_RES **out, struct vz_err *err)
{
    *out = NULL;
    atomic_store(&m->cancel_requested, 0);
    if (mysql_real_query(m->conn, sql, strlen(sql)) != 0)
        return mys_conn_error(m, err);
    *out = mysql_store_result(m->conn);
    if (!*out && mysql_errno(m->conn))
        return mys_conn_error(m, err);
    return 0;
}

/* ---- test ---- */

/* Privileges that let the user change data (or the server). The reason
 * names the first one found with its object, e.g. "ALL PRIVILEGES on
 * `shop`.*". */
static int is_write_priv(const char *p, size_t n)
{
    static const char *const words[] = {"ALL",   "INSERT", "UPDATE", "DELETE", "CREATE",  "DROP",
                                        "ALTER", "FILE",   "SUPER",  "INDEX",  "TRIGGER", "EVENT"};
    while (n && *p == ' ')
        p++, n--;
    /* Temporary tables live only in the session: no customer data changes. */
    if (n >= 23 && strncasecmp(p, "CREATE TEMPORARY TABLES", 23) == 0)
        return 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t k = strlen(words[i]);
        if (n >= k && strncasecmp(p, words[i], k) == 0 && (n == k || p[k] == ' ' || p[k] == '('))
            return 1;
    }
    return 0;
}

/* One line of SHOW GRANTS: "GRANT a, b (col), c ON obj TO user ...". Role
 * grants ("GRANT role TO user") have no ON and give nothing by themselves.
 * Returns 1 and fills reason if a write privilege is granted. */
static int grant_line_writes(const char *line, char *reason, size_t n)
{
    const char *p, *privs, *on = NULL, *obj, *to;
    int depth = 0, tick = 0;

    if (strncasecmp(line, "GRANT ", 6) != 0)
        return 0;
    privs = line + 6;
    for (p = privs; *p; p++) {
        if (*p == '`')
            tick = !tick;
        else if (!tick && *p == '(')
            depth++;
        else if (!tick && *p == ')')
            depth--;
        else if (!tick && !depth && strncasecmp(p, " ON ", 4) == 0) {
            on = p;
            break;
        }
    }
    if (!on)
        return 0;
    obj = on + 4;
    to = strstr(obj, " TO ");
    if (!to)
        to = obj + strlen(obj);
    for (p = privs; p < on;) {
        const char *end = p;
        depth = 0;
        tick = 0;
        while (end < on && (tick || depth || *end != ',')) {
            if (*end == '`')
                tick = !tick;
            else if (!tick && *end == '(')
                depth++;
            else if (!tick && *end == ')')
                depth--;
            end++;
        }
        if (is_write_priv(p, (size_t)(end - p))) {
            while (*p == ' ')
                p++;
            snprintf(reason, n, "%.*s on %.*s", (int)(end - p), p, (int)(to - obj), obj);
            return 1;
        }
        p = end < on ? end + 1 : on;
    }
    return 0;
}

static int mys_test(struct vz_source *s, struct vz_test_result *out, struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int64_t t0 = vz_mono_ms();
    int rc;

    rc = mys_query(m, "SELECT 1", &res, err);
    if (rc < 0)
        goto out;
    out->latency_ms = m->connect_ms + (vz_mono_ms() - t0);
    mysql_free_result(res);
    res = NULL;
    snprintf(out->server_version, sizeof(out->server_version), "%s", m->version);

    rc = mys_query(m, "SHOW GRANTS", &res, err);
    if (rc < 0)
        goto out;
    out->can_write = 0;
    while (res && (row = mysql_fetch_row(res)) != NULL) {
        if (row[0] && grant_line_writes(row[0], out->write_reason, sizeof(out->write_reason))) {
            out->can_write = 1;
            break;
        }
    }
out:
    if (rc < 0)
        out->can_write = -1;
    if (res)
        mysql_free_result(res);
    return rc;
}

/* ---- schemas ---- */

static int is_system_db(const char *name)
{
    static const char *const sys[] = {"information_schema", "performance_schema", "mysql", "sys"};
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (strcasecmp(name, sys[i]) == 0)
            return 1;
    return 0;
}

static int mys_list_schemas(struct vz_source *s, json_t **out, struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    json_t *arr = json_array();
    int rc;

    if (!arr)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    rc = mys_query(m, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", &res, err);
    if (rc < 0)
        goto out;
    while (res && (row = mysql_fetch_row(res)) != NULL) {
        unsigned long *lens = mysql_fetch_lengths(res);
        if (!row[0] || is_system_db(row[0]))
            continue;
        if (json_array_append_new(arr, vz_source_jstr(row[0], lens[0])) < 0) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    /* information_schema sorts case-insensitively; strcmp order is the
     * same for every backend. */
    if (vz_source_sort_strings(arr) < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    *out = arr;
    arr = NULL;
out:
    if (res)
        mysql_free_result(res);
    json_decref(arr);
    return rc;
}

/* ---- introspection ---- */

/* MariaDB lists system-versioned tables as their own type; sequences are
 * left out (they hold no data to extract). */
static const char mys_tables_sql[] =
    "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED')";

static const char mys_columns_sql[] =
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT,"
    " NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS"
    " WHERE TABLE_SCHEMA = ? ORDER BY ORDINAL_POSITION";

static const char mys_pkeys_sql[] =
    "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
    " WHERE TABLE_SCHEMA = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX";

/* MariaDB's JSON is LONGTEXT plus a column CHECK (json_valid(`col`)); MySQL
 * 8 has a real json type and a CHECK_CONSTRAINTS table without TABLE_NAME,
 * so this query runs on MariaDB only. */
static const char mys_json_checks_sql[] =
    "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
    " WHERE CONSTRAINT_SCHEMA = ? AND CHECK_CLAUSE LIKE 'json\\_valid(%'";

/* Type classes by DATA_TYPE (COLUMN_TYPE for the details):
 *
 *   tinyint(1) → bool (the BOOLEAN spelling; other widths are numbers)
 *   tinyint/smallint → int8/int16, mediumint/int → int32, bigint → int64,
 *     each u-prefixed when UNSIGNED
 *   float → float32, double/real → float64, decimal/numeric → decimal
 *   char, varchar, tinytext...longtext → text (MariaDB JSON: see above)
 *   json → json, enum → enum, set → set, uuid (MariaDB 10.7+) → uuid,
 *   inet4/inet6 (MariaDB 10.10+) → text
 *   date → date, time → time, year → year
 *   datetime → timestamp (no time zone: stored as written)
 *   timestamp → timestamptz (stored as UTC, shown in the session zone,
 *     which we set to UTC)
 *   bit → bit, binary, varbinary, blobs → binary, spatial types → geometry
 *   anything else → other */
static const struct {
    const char *name, *cls, *ucls;
} mys_types[] = {
    {"tinyint", "int8", "uint8"},
    {"smallint", "int16", "uint16"},
    {"mediumint", "int32", "uint32"},
    {"int", "int32", "uint32"},
    {"integer", "int32", "uint32"},
    {"bigint", "int64", "uint64"},
    {"float", "float32", NULL},
    {"double", "float64", NULL},
    {"double precision", "float64", NULL},
    {"real", "float64", NULL},
    {"decimal", "decimal", NULL},
    {"numeric", "decimal", NULL},
    {"char", "text", NULL},
    {"varchar", "text", NULL},
    {"tinytext", "text", NULL},
    {"text", "text", NULL},
    {"mediumtext", "text", NULL},
    {"longtext", "text", NULL},
    {"inet4", "text", NULL},
    {"inet6", "text", NULL},
    {"json", "json", NULL},
    {"enum", "enum", NULL},
    {"set", "set", NULL},
    {"uuid", "uuid", NULL},
    {"date", "date", NULL},
    {"time", "time", NULL},
    {"year", "year", NULL},
    {"datetime", "timestamp", NULL},
    {"timestamp", "timestamptz", NULL},
    {"bit", "bit", NULL},
    {"binary", "binary", NULL},
    {"varbinary", "binary", NULL},
    {"tinyblob", "binary", NULL},
    {"blob", "binary", NULL},
    {"mediumblob", "binary", NULL},
    {"longblob", "binary", NULL},
    {"geometry", "geometry", NULL},
    {"point", "geometry", NULL},
    {"linestring", "geometry", NULL},
    {"polygon", "geometry", NULL},
    {"multipoint", "geometry", NULL},
    {"multilinestring", "geometry", NULL},
    {"multipolygon", "geometry", NULL},
    {"geometrycollection", "geometry", NULL},
    {"geomcollection", "geometry", NULL},
};

static const char *mys_type_class(const char *data_type, const char *column_type)
{
    int is_unsigned = strstr(column_type, "unsigned") != NULL;
    if (strcasecmp(data_type, "tinyint") == 0 && strncasecmp(column_type, "tinyint(1)", 10) == 0 &&
        !is_unsigned)
        return "bool";
    for (size_t i = 0; i < sizeof(mys_types) / sizeof(mys_types[0]); i++)
        if (strcasecmp(mys_types[i].name, data_type) == 0)
            return is_unsigned && mys_types[i].ucls ? mys_types[i].ucls : mys_types[i].cls;
    return "other";
}

struct mys_intro {
    struct mys *m;
    struct vz_intro *in;
};

static int mys_table_row(void *ud, char **v, const unsigned long *len, unsigned n)
{
    struct mys_intro *x = ud;
    if (n < 4 || !v[0])
        return 0;
    return vz_intro_add_table(
        x->in, v[0], len[0], v[1] && strcmp(v[1], "VIEW") == 0 ? "view" : "table",
        v[2] ? strtoll(v[2], NULL, 10) : -1, v[3] ? strtoll(v[3], NULL, 10) : -1);
}

static int mys_column_row(void *ud, char **v, const unsigned long *len, unsigned n)
{
    struct mys_intro *x = ud;
    const char *cls, *dflt;
    int prec = -1, scale = -1;

    if (n < 8 || !v[0] || !v[1] || !v[2] || !v[3])
        return 0;
    cls = mys_type_class(v[3], v[2]);
    /* MariaDB (10.2.7+) writes defaults as SQL: 'text' quoted, and NULL for
     * "no default" as the word NULL. MySQL gives a SQL NULL and bare text. */
    dflt = v[5];
    if (dflt && x->m->mariadb && strcmp(dflt, "NULL") == 0)
        dflt = NULL;
    if (strcmp(cls, "decimal") == 0 && v[6]) {
        prec = (int)strtol(v[6], NULL, 10);
        scale = v[7] ? (int)strtol(v[7], NULL, 10) : 0;
    }
    return vz_intro_add_column(x->in, v[0],
                               vz_intro_column(v[1], len[1], v[2], cls,
                                               v[4] && strcmp(v[4], "YES") == 0, dflt, prec,
                                               scale));
}

static int mys_pk_row(void *ud, char **v, const unsigned long *len, unsigned n)
{
    struct mys_intro *x = ud;
    if (n < 2 || !v[0] || !v[1])
        return 0;
    return vz_intro_add_pk(x->in, v[0], v[1], len[1]);
}

/* "json_valid(`c``x`)" → mark column c`x of the table as json if it is a
 * text column. Anything else is some other CHECK: ignored. */
static int mys_json_row(void *ud, char **v, const unsigned long *len, unsigned n)
{
    struct mys_intro *x = ud;
    const char *p;
    char name[256];
    size_t k = 0;
    json_t *col;

    (void)len;
    if (n < 2 || !v[0] || !v[1] || strncmp(v[1], "json_valid(`", 12) != 0)
        return 0;
    for (p = v[1] + 12; *p && k + 1 < sizeof(name); p++) {
        if (*p == '`') {
            if (p[1] != '`')
                break;
            p++;
        }
        name[k++] = *p;
    }
    name[k] = '\0';
    if (*p != '`' || strcmp(p, "`)") != 0)
        return 0;
    col = vz_intro_find_column(x->in, v[0], name);
    if (col && strcmp(json_string_value(json_object_get(col, "type_class")), "text") == 0)
        return json_object_set_new(col, "type_class", json_string("json")) < 0 ? VZ_ENOMEM : 0;
    return 0;
}

static int mys_introspect(struct vz_source *s, const char *schema, json_t **out, struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    struct vz_intro in;
    struct mys_intro x = {m, &in};
    int rc;

    vz_intro_init(&in, schema);
    rc = mys_select(m, mys_tables_sql, schema, mys_table_row, &x, err);
    if (rc < 0)
        goto out;
    vz_intro_seal(&in);
    rc = mys_select(m, mys_columns_sql, schema, mys_column_row, &x, err);
    if (rc < 0)
        goto out;
    rc = mys_select(m, mys_pkeys_sql, schema, mys_pk_row, &x, err);
    if (rc < 0)
        goto out;
    if (m->mariadb) {
        rc = mys_select(m, mys_json_checks_sql, schema, mys_json_row, &x, err);
        /* Servers before 10.2.22 have no CHECK_CONSTRAINTS: plain text then. */
        if (rc < 0 && m->last_errno == MY_ER_UNKNOWN_TABLE)
            rc = 0;
        if (rc < 0)
            goto out;
    }
    *out = vz_intro_take(&in);
    if (!*out)
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
out:
    vz_intro_release(&in);
    return rc;
}

/* ---- cancel ---- */

/* MySQL has no out-of-band cancel: a second session of the same user asks
 * the server to KILL QUERY the first one's thread. The thread id is a plain
 * number, so the statement text holds no user input. */
static int mys_cancel(struct vz_source *s, struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    MYSQL *c = NULL;
    char sql[64];
    int rc;

    atomic_store(&m->cancel_requested, 1);
    rc = mys_handle(m, &c, err);
    if (rc < 0)
        return rc;
    rc = mys_connect(m, c, err);
    if (rc < 0)
        goto out;
    snprintf(sql, sizeof(sql), "KILL QUERY %lu", m->thread_id);
    if (mysql_real_query(c, sql, strlen(sql)) != 0 && mysql_errno(c) != MY_ER_UNKNOWN_THREAD) {
        char msg[512];
        vz_source_scrub(mysql_error(c), m->password, msg, sizeof(msg));
        rc = vz_err_set(err, VZ_ESOURCE, "could not cancel the statement: %s", msg);
    }
out:
    mysql_close(c);
    return rc;
}

static int mys_query_for_test(struct vz_source *s, const char *sql, char *out, size_t n,
                              struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = mys_query(m, sql, &res, err);

    if (rc == 0 && out && n) {
        row = res ? mysql_fetch_row(res) : NULL;
        if (row && mysql_num_fields(res) > 0)
            snprintf(out, n, "%s", row[0] ? row[0] : "NULL");
        else
            out[0] = '\0';
    }
    if (res)
        mysql_free_result(res);
    return rc;
}

const struct vz_source_ops vz_mysql_ops = {
    .name = "mysql",
    .type = VZ_DB_MYSQL,
    .priv_size = sizeof(struct mys),
    .open = mys_open,
    .test = mys_test,
    .list_schemas = mys_list_schemas,
    .introspect = mys_introspect,
    .cancel = mys_cancel,
    .close = mys_close,
    .default_schema = mys_default_schema,
    .query_for_test = mys_query_for_test,
    .stream_open = vz_mys_stream_open,
    .stream_fill = vz_mys_stream_fill,
    .stream_close = vz_mys_stream_close,
};
