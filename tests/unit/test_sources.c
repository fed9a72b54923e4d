/* Source backends against the real PostgreSQL and MariaDB test servers
 * (scripts/testdb.sh): connecting, the errors users meet, read-only
 * sessions, schema browsing, introspection at scale, cancel.
 *
 * Most tests run once per database: the cmocka prestate is the struct db
 * that describes the server. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "core/util.h"
#include "sources/source.h"
#include "sources/source_internal.h"

#define WRONG_PASSWORD "wrong-Pa55word-xyzzy"
#define ODD_PASSWORD "p'w d=\"x\" \\ =;% é"

struct db {
    enum vz_db_type type;
    const char *env;          /* variable prefix: "VZ_PG_" or "VZ_MY_" */
    const char *schema;       /* the default schema */
    const char *other_schema; /* a second one with a table and a view */
    const char *empty_schema;
    const char *sleep_sql;
    /* From the environment. */
    const char *host, *database, *admin, *admin_pw, *ro, *ro_pw, *super, *sock;
    int port;
    /* Per-test scratch object (schema, database, role) for teardown. */
    char scratch[64];
};

static struct db pg_db = {VZ_DB_POSTGRES, "VZ_PG_",       "public",
                          "sales",        "empty_schema", "SELECT pg_sleep(30)"};
static struct db my_db = {VZ_DB_MYSQL, "VZ_MY_",   "vz_test",
                          "vz_sales",  "vz_empty", "SELECT SLEEP(30)"};

/* ---- environment ---- */

static const char *env_req(const struct db *d, const char *name)
{
    char var[64];
    const char *v;
    snprintf(var, sizeof(var), "%s%s", d->env, name);
    v = getenv(var);
    if (!v || !*v)
        fail_msg("%s is not set. These tests need the test database servers: run them via "
                 "`make test`, or first run: eval \"$(scripts/testdb.sh start)\"",
                 var);
    return v;
}

static struct db *need(void **state)
{
    struct db *d = *state;
    d->host = env_req(d, "HOST");
    d->port = atoi(env_req(d, "PORT"));
    d->database = env_req(d, "DB");
    d->admin = env_req(d, "ADMIN_USER");
    d->admin_pw = env_req(d, "ADMIN_PASSWORD");
    d->ro = env_req(d, "RO_USER");
    d->ro_pw = env_req(d, "RO_PASSWORD");
    d->super = env_req(d, "SUPERUSER");
    d->sock = env_req(d, d->type == VZ_DB_POSTGRES ? "SOCKET_DIR" : "SOCKET");
    return d;
}

static struct vz_conn_cfg cfg_for(const struct db *d, const char *user, const char *password)
{
    struct vz_conn_cfg c;
    memset(&c, 0, sizeof(c));
    c.type = d->type;
    c.host = d->host;
    c.port = d->port;
    c.database = d->database;
    c.username = user;
    c.password = password;
    c.connect_timeout_s = 5;
    return c;
}

static struct vz_source *open_ok(const struct vz_conn_cfg *c)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = NULL;
    int rc = vz_source_open(c, &s, &err);
    if (rc != 0)
        fail_msg("vz_source_open: %s (%s)", err.msg, vz_err_name(rc));
    assert_non_null(s);
    return s;
}

static struct vz_source *open_reader(const struct db *d)
{
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    return open_ok(&c);
}

/* A failed open: returns the code, checks that *out stayed NULL and that
 * neither the real nor the wrong password leaked into the message. */
static int open_fails(const struct db *d, const struct vz_conn_cfg *c, struct vz_err *err,
                      int64_t *elapsed_ms)
{
    struct vz_source *s = (struct vz_source *)&s; /* must be reset to NULL */
    int64_t t0 = vz_mono_ms();
    int rc = vz_source_open(c, &s, err);
    if (elapsed_ms)
        *elapsed_ms = vz_mono_ms() - t0;
    if (rc == 0)
        vz_source_close(s);
    assert_true(rc < 0);
    assert_null(s);
    assert_int_equal(err->code, rc);
    assert_true(err->msg[0] != '\0');
    assert_null(strstr(err->msg, d->ro_pw));
    assert_null(strstr(err->msg, d->admin_pw));
    assert_null(strstr(err->msg, WRONG_PASSWORD));
    return rc;
}

/* ---- sockets that misbehave ---- */

/* A port on 127.0.0.1 nothing listens on: bind, read the port, close. */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A listening socket that never accepts: the kernel completes the TCP
 * handshake, then nobody ever says a word. */
static int silent_listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- JSON lookups ---- */

static json_t *find_named(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && strcmp(n, name) == 0)
            return v;
    }
    return NULL;
}

static json_t *table_of(json_t *tables, const char *name)
{
    json_t *t = find_named(tables, name);
    if (!t)
        fail_msg("table \"%s\" missing from the introspection", name);
    return t;
}

static json_t *column_of(json_t *table, const char *name)
{
    json_t *c = find_named(json_object_get(table, "columns"), name);
    if (!c)
        fail_msg("column \"%s\" missing from table %s", name,
                 json_string_value(json_object_get(table, "name")));
    return c;
}

static const char *str_of(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    assert_non_null(s);
    return s;
}

static void assert_class(json_t *table, const char *column, const char *cls)
{
    json_t *c = column_of(table, column);
    if (strcmp(str_of(c, "type_class"), cls) != 0)
        fail_msg("%s: type_class %s (source_type %s), expected %s", column, str_of(c, "type_class"),
                 str_of(c, "source_type"), cls);
}

static int has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

static void assert_sorted_by_name(json_t *tables)
{
    for (size_t i = 1; i < json_array_size(tables); i++)
        assert_true(strcmp(str_of(json_array_get(tables, i - 1), "name"),
                           str_of(json_array_get(tables, i), "name")) < 0);
}

/* ---- admin connections for setup (outside the code under test) ---- */

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* PostgreSQL bootstrap superuser over the private unix socket. */
static PGconn *pg_super(const struct db *d)
{
    const char *kw[] = {"host", "port", "user", "dbname", NULL};
    char port[16];
    const char *val[5];
    PGconn *c;
    snprintf(port, sizeof(port), "%d", d->port);
    val[0] = d->sock;
    val[1] = port;
    val[2] = d->super;
    val[3] = d->database;
    val[4] = NULL;
    c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("superuser connection: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

static PGconn *pg_admin(const struct db *d)
{
    const char *kw[] = {"host", "port", "user", "password", "dbname", "sslmode", NULL};
    char port[16];
    const char *val[7];
    PGconn *c;
    snprintf(port, sizeof(port), "%d", d->port);
    val[0] = d->host;
    val[1] = port;
    val[2] = d->admin;
    val[3] = d->admin_pw;
    val[4] = d->database;
    val[5] = "disable";
    val[6] = NULL;
    c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("admin connection: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

static void pg_do(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    PQclear(r);
}

/* MariaDB root over the private unix socket. */
static MYSQL *my_super(const struct db *d)
{
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    if (!mysql_real_connect(m, NULL, d->super, NULL, NULL, 0, d->sock, 0))
        fail_msg("root connection: %s", mysql_error(m));
    return m;
}

static void my_do(MYSQL *m, const char *sql)
{
    MYSQL_RES *r;
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

/* ---- configuration (no server needed) ---- */

static void test_types_ports_and_ssl_modes(void **state)
{
    enum vz_db_type t;
    (void)state;
    assert_int_equal(vz_db_type_parse("postgresql", &t), 0);
    assert_int_equal(t, VZ_DB_POSTGRES);
    assert_int_equal(vz_db_type_parse("mysql", &t), 0);
    assert_int_equal(t, VZ_DB_MYSQL);
    assert_int_equal(vz_db_type_parse("oracle", &t), VZ_EINVAL);
    assert_int_equal(vz_db_type_parse(NULL, &t), VZ_EINVAL);
    assert_string_equal(vz_db_type_name(VZ_DB_POSTGRES), "postgresql");
    assert_string_equal(vz_db_type_name(VZ_DB_MYSQL), "mysql");
    assert_int_equal(vz_db_default_port(VZ_DB_POSTGRES), 5432);
    assert_int_equal(vz_db_default_port(VZ_DB_MYSQL), 3306);

    static const char *const pg_ok[] = {"disable", "allow",     "prefer",
                                        "require", "verify-ca", "verify-full"};
    static const char *const my_ok[] = {"disable",         "preferred", "required", "verify_ca",
                                        "verify_identity", "prefer",    "require"};
    for (size_t i = 0; i < sizeof(pg_ok) / sizeof(pg_ok[0]); i++)
        assert_true(vz_source_ssl_mode_valid(VZ_DB_POSTGRES, pg_ok[i]));
    for (size_t i = 0; i < sizeof(my_ok) / sizeof(my_ok[0]); i++)
        assert_true(vz_source_ssl_mode_valid(VZ_DB_MYSQL, my_ok[i]));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_POSTGRES, "verify_ca"));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_POSTGRES, "required"));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_MYSQL, "verify-full"));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_MYSQL, "allow"));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_MYSQL, NULL));
    assert_false(vz_source_ssl_mode_valid(VZ_DB_MYSQL, "REQUIRED"));
}

static void test_bad_settings_are_refused_before_connecting(void **state)
{
    struct vz_conn_cfg c;
    struct vz_source *s = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;

    memset(&c, 0, sizeof(c));
    c.type = VZ_DB_POSTGRES;
    c.username = "u";
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL); /* no host */
    assert_null(s);
    c.host = "127.0.0.1,10.1.2.3"; /* libpq would try both */
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL);
    c.host = "/var/run/postgresql"; /* a local socket, not a server */
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL);
    c.host = "127.0.0.1";
    c.port = 70000;
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL);
    c.port = 0;
    c.ssl_mode = "required"; /* MySQL's spelling */
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL);
    assert_non_null(strstr(err.msg, "ssl_mode"));
    c.ssl_mode = NULL;
    c.username = "";
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EINVAL);
    c.type = (enum vz_db_type)7;
    c.username = "u";
    assert_int_equal(vz_source_open(&c, &s, &err), VZ_EUNSUPPORTED);
    assert_null(s);
}

static void test_scrub_hostport_and_json_text(void **state)
{
    char out[64];
    json_t *j;
    (void)state;

    vz_source_scrub("pw=s3cret and s3cret again", "s3cret", out, sizeof(out));
    assert_string_equal(out, "pw=**** and **** again");
    vz_source_scrub("nothing here", NULL, out, sizeof(out));
    assert_string_equal(out, "nothing here");
    vz_source_scrub("abcdef", "", out, 4);
    assert_string_equal(out, "abc");
    vz_source_hostport("db.example.com", 5432, out, sizeof(out));
    assert_string_equal(out, "db.example.com:5432");
    vz_source_hostport("::1", 3306, out, sizeof(out));
    assert_string_equal(out, "[::1]:3306");

    j = vz_source_jstr("caf\xc3\xa9", 5);
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    /* latin1 'é' and a stray continuation byte become U+FFFD. */
    j = vz_source_jstr("caf\xe9\x80!", 6);
    assert_string_equal(json_string_value(j), "caf\xef\xbf\xbd\xef\xbf\xbd!");
    json_decref(j);
}

/* ---- connecting ---- */

static void test_reader_connects_and_cannot_write(void **state)
{
    struct db *d = need(state);
    struct vz_test_result tr;
    struct vz_err err = VZ_ERR_INIT;
    int64_t t0 = vz_mono_ms();
    struct vz_source *s = open_reader(d);
    int64_t open_ms = vz_mono_ms() - t0;

    assert_int_equal(vz_source_test(s, &tr, &err), 0);
    assert_int_equal(tr.can_write, 0);
    assert_string_equal(tr.write_reason, "");
    assert_true(tr.latency_ms >= 0 && tr.latency_ms < 5000);
    if (d->type == VZ_DB_POSTGRES)
        assert_int_equal(strncmp(tr.server_version, "PostgreSQL ", 11), 0);
    else
        assert_non_null(strstr(tr.server_version, "MariaDB"));
    print_message("%s: %s, open %lld ms, latency_ms %lld\n", vz_db_type_name(d->type),
                  tr.server_version, (long long)open_ms, (long long)tr.latency_ms);
    assert_string_equal(vz_source_default_schema(s), d->schema);
    vz_source_close(s);
}

static void test_admin_can_write_and_says_why(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->admin, d->admin_pw);
    struct vz_test_result tr;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = open_ok(&c);

    assert_int_equal(vz_source_test(s, &tr, &err), 0);
    assert_int_equal(tr.can_write, 1);
    assert_true(tr.write_reason[0] != '\0');
    print_message("%s admin: %s\n", vz_db_type_name(d->type), tr.write_reason);
    vz_source_close(s);
}

static void test_wrong_password_is_auth_error_without_secrets(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, WRONG_PASSWORD);
    struct vz_err err = VZ_ERR_INIT;

    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_EAUTH);
    assert_non_null(strstr(err.msg, d->ro)); /* the server names the user */
    if (d->type == VZ_DB_POSTGRES)
        assert_non_null(strstr(err.msg, "password authentication failed for user"));
    else
        assert_non_null(strstr(err.msg, "Access denied for user"));
    /* Unknown user: the same code, and no hint whether the user exists. */
    c.username = "vz_nobody";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_EAUTH);
}

static void test_unknown_database_is_not_found(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;

    c.database = "vz_no_such_db";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_ENOTFOUND);
    assert_non_null(strstr(err.msg, "vz_no_such_db"));
}

static void test_closed_port_fails_fast(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;
    char want[64];
    int64_t ms;

    c.port = closed_port();
    assert_int_equal(open_fails(d, &c, &err, &ms), VZ_ECONNECT);
    snprintf(want, sizeof(want), "could not connect to 127.0.0.1:%d: connection refused", c.port);
    assert_string_equal(err.msg, want);
    assert_true(ms < 1000);
}

static void test_silent_server_times_out_on_time(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;
    char want[80];
    int64_t ms;
    int fd = silent_listener(&c.port);

    c.connect_timeout_s = 2;
    assert_int_equal(open_fails(d, &c, &err, &ms), VZ_ETIMEOUT);
    close(fd);
    snprintf(want, sizeof(want), "could not connect to 127.0.0.1:%d within 2 s", c.port);
    assert_string_equal(err.msg, want);
    print_message("%s: silent server gave up after %lld ms (limit 2000)\n",
                  vz_db_type_name(d->type), (long long)ms);
    assert_true(ms >= 1900 && ms < 3000);
}

static void test_ssl_required_but_server_has_none(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s;

    c.ssl_mode = "require";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_ECONNECT);
    assert_non_null(strstr(err.msg, "SSL"));
    print_message("%s: %s\n", vz_db_type_name(d->type), err.msg);
    c.ssl_mode = d->type == VZ_DB_POSTGRES ? "verify-full" : "verify_identity";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_ECONNECT);
    /* "prefer" falls back to plain text on this server. */
    c.ssl_mode = "prefer";
    s = open_ok(&c);
    vz_source_close(s);
    c.ssl_mode = "disable";
    s = open_ok(&c);
    vz_source_close(s);
}

/* Values that would change the connection if they were pasted into a
 * connection string stay what they are: a strange host name that does not
 * resolve, a database that does not exist. On MySQL, libmariadb itself would
 * read "k=v;..." in the host, so such hosts are refused. */
static void test_injection_in_settings_stays_literal(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;
    static const char *const hosts[] = {"x' password='y", "host=evil", "127.0.0.1 port=1",
                                        "x;host=127.0.0.1"};
    int rc;

    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        c.host = hosts[i];
        rc = open_fails(d, &c, &err, NULL);
        if (d->type == VZ_DB_POSTGRES) {
            assert_int_equal(rc, VZ_ECONNECT);
            assert_non_null(strstr(err.msg, "unknown host"));
        } else {
            assert_int_equal(rc, VZ_EINVAL);
        }
    }
    c.host = d->host;
    c.database = d->type == VZ_DB_POSTGRES ? "host=127.0.0.1 dbname=postgres"
                                           : "host=127.0.0.1;database=vz_sales";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_ENOTFOUND);
    c.database = "host=evil";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_ENOTFOUND);
    c.database = d->database;
    c.username = d->type == VZ_DB_POSTGRES ? "vz_reader dbname=postgres" : "vz_reader;host=evil";
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_EAUTH);
}

/* A role whose password holds quotes, spaces, '=' and a backslash logs in:
 * nothing is parsed out of it. */
static int odd_role_setup(void **state)
{
    struct db *d = need(state);
    char sql[512];
    snprintf(d->scratch, sizeof(d->scratch), "vz_odd_%d", (int)getpid());
    if (d->type == VZ_DB_POSTGRES) {
        PGconn *c = pg_super(d);
        char *lit = PQescapeLiteral(c, ODD_PASSWORD, strlen(ODD_PASSWORD));
        snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN PASSWORD %s", d->scratch, lit);
        PQfreemem(lit);
        pg_do(c, sql);
        snprintf(sql, sizeof(sql), "GRANT CONNECT ON DATABASE %s TO %s", d->database, d->scratch);
        pg_do(c, sql);
        PQfinish(c);
    } else {
        MYSQL *m = my_super(d);
        char esc[64];
        mysql_real_escape_string(m, esc, ODD_PASSWORD, strlen(ODD_PASSWORD));
        snprintf(sql, sizeof(sql), "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", d->scratch, esc);
        my_do(m, sql);
        snprintf(sql, sizeof(sql), "GRANT SELECT ON %s.* TO '%s'@'%%'", d->database, d->scratch);
        my_do(m, sql);
        mysql_close(m);
    }
    return 0;
}

static int odd_role_teardown(void **state)
{
    struct db *d = *state;
    char sql[256];
    if (!d->scratch[0])
        return 0;
    if (d->type == VZ_DB_POSTGRES) {
        PGconn *c = pg_super(d);
        snprintf(sql, sizeof(sql), "REVOKE CONNECT ON DATABASE %s FROM %s", d->database,
                 d->scratch);
        pg_do(c, sql);
        snprintf(sql, sizeof(sql), "DROP ROLE %s", d->scratch);
        pg_do(c, sql);
        PQfinish(c);
    } else {
        MYSQL *m = my_super(d);
        snprintf(sql, sizeof(sql), "DROP USER '%s'@'%%'", d->scratch);
        my_do(m, sql);
        mysql_close(m);
    }
    d->scratch[0] = '\0';
    return 0;
}

static void test_password_with_quotes_spaces_and_equals(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->scratch, ODD_PASSWORD);
    struct vz_test_result tr;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = open_ok(&c);

    assert_int_equal(vz_source_test(s, &tr, &err), 0);
    assert_int_equal(tr.can_write, 0);
    vz_source_close(s);
    c.password = "p'w d=\"x\" \\ =;% "; /* one character short */
    assert_int_equal(open_fails(d, &c, &err, NULL), VZ_EAUTH);
    assert_null(strstr(err.msg, "p'w d="));
}

/* ---- the session ---- */

static void assert_value(struct vz_source *s, const char *sql, const char *want)
{
    struct vz_err err = VZ_ERR_INIT;
    char got[256];
    int rc = vz_source_query_value_for_test(s, sql, got, sizeof(got), &err);
    if (rc != 0)
        fail_msg("%s: %s", sql, err.msg);
    if (strcmp(got, want) != 0)
        fail_msg("%s gave \"%s\", expected \"%s\"", sql, got, want);
}

static void test_session_is_read_only_even_for_admin(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->admin, d->admin_pw);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = open_ok(&c);
    int rc;

    if (d->type == VZ_DB_POSTGRES) {
        assert_value(s, "SHOW default_transaction_read_only", "on");
        assert_value(s, "SHOW transaction_read_only", "on");
        assert_value(s, "SHOW statement_timeout", "5min");
        assert_value(s, "SHOW lock_timeout", "30s");
        assert_value(s, "SHOW application_name", "vectoraiz");
        assert_value(s, "SHOW client_encoding", "UTF8");
        rc = vz_source_exec_for_test(s, "CREATE TABLE vz_must_not_exist (a int)", &err);
        assert_int_equal(rc, VZ_ENOT_READONLY);
        assert_non_null(strstr(err.msg, "read-only transaction"));
        rc = vz_source_exec_for_test(s, "DELETE FROM no_pk_table", &err);
        assert_int_equal(rc, VZ_ENOT_READONLY);
    } else {
        assert_value(s, "SELECT @@session.tx_read_only", "1");
        assert_value(s, "SELECT @@session.max_statement_time", "300.000000");
        assert_value(s, "SELECT @@session.time_zone", "+00:00");
        assert_value(s, "SELECT @@character_set_client", "utf8mb4");
        rc = vz_source_exec_for_test(s, "INSERT INTO no_pk_table VALUES (9, 'x', 1)", &err);
        assert_int_equal(rc, VZ_ENOT_READONLY);
        rc = vz_source_exec_for_test(s, "DELETE FROM no_pk_table", &err);
        assert_int_equal(rc, VZ_ENOT_READONLY);
    }
    /* One statement per call, whatever the text. */
    rc = vz_source_exec_for_test(s, "SELECT 1; DELETE FROM no_pk_table", &err);
    assert_int_equal(rc, VZ_EINVAL);
    vz_source_close(s);
    /* Nothing was deleted. */
    s = open_reader(d);
    assert_value(s, "SELECT COUNT(*) FROM no_pk_table", "5");
    vz_source_close(s);
}

static void test_statement_time_limit_is_enforced(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s;
    int64_t t0;
    int rc;

    c.statement_timeout_ms = 500;
    s = open_ok(&c);
    t0 = vz_mono_ms();
    rc = vz_source_exec_for_test(
        s, d->type == VZ_DB_POSTGRES ? "SELECT pg_sleep(5)" : "SELECT SLEEP(5) FROM customers",
        &err);
    assert_int_equal(rc, VZ_ETIMEOUT);
    assert_true(vz_mono_ms() - t0 < 2500);
    /* The session is still usable. */
    assert_value(s, "SELECT 42", "42");
    vz_source_close(s);
}

/* ---- schemas ---- */

static void test_list_schemas_leaves_out_system_ones(void **state)
{
    struct db *d = need(state);
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = open_reader(d);
    json_t *arr = NULL;

    assert_int_equal(vz_source_list_schemas(s, &arr, &err), 0);
    assert_true(json_is_array(arr));
    assert_true(has_string(arr, d->schema));
    assert_true(has_string(arr, d->other_schema));
    assert_true(has_string(arr, d->empty_schema));
    assert_false(has_string(arr, "information_schema"));
    if (d->type == VZ_DB_POSTGRES) {
        assert_false(has_string(arr, "pg_catalog"));
        assert_false(has_string(arr, "pg_toast"));
    } else {
        assert_false(has_string(arr, "mysql"));
        assert_false(has_string(arr, "performance_schema"));
        assert_false(has_string(arr, "sys"));
    }
    for (size_t i = 1; i < json_array_size(arr); i++)
        assert_true(strcmp(json_string_value(json_array_get(arr, i - 1)),
                           json_string_value(json_array_get(arr, i))) < 0);
    json_decref(arr);
    vz_source_close(s);
}

static json_t *introspect(struct vz_source *s, const char *schema)
{
    struct vz_err err = VZ_ERR_INIT;
    json_t *tables = NULL;
    int rc = vz_source_introspect(s, schema, &tables, &err);
    if (rc != 0)
        fail_msg("introspect %s: %s", schema ? schema : "(default)", err.msg);
    assert_true(json_is_array(tables));
    return tables;
}

static void test_introspect_keys_views_and_counts(void **state)
{
    struct db *d = need(state);
    struct vz_source *s = open_reader(d);
    json_t *tables = introspect(s, NULL), *t, *pk, *c;

    assert_sorted_by_name(tables);
    t = table_of(tables, "order_lines");
    assert_string_equal(str_of(t, "kind"), "table");
    assert_string_equal(str_of(t, "schema"), d->schema);
    pk = json_object_get(t, "primary_key");
    assert_int_equal(json_array_size(pk), 2);
    assert_string_equal(json_string_value(json_array_get(pk, 0)), "order_id");
    assert_string_equal(json_string_value(json_array_get(pk, 1)), "line_no");
    assert_int_equal(
        json_array_size(json_object_get(table_of(tables, "no_pk_table"), "primary_key")), 0);

    t = table_of(tables, "customer_order_totals");
    assert_string_equal(str_of(t, "kind"), "view");
    assert_true(json_is_null(json_object_get(t, "estimated_rows")));
    assert_int_equal(json_array_size(json_object_get(t, "columns")), 4);

    t = table_of(tables, "customers");
    assert_true(json_is_integer(json_object_get(t, "estimated_rows")));
    assert_true(json_integer_value(json_object_get(t, "estimated_rows")) > 0);
    assert_true(json_is_integer(json_object_get(t, "estimated_bytes")));
    c = column_of(t, "name");
    assert_false(json_is_true(json_object_get(c, "nullable")));
    assert_int_equal(json_integer_value(json_object_get(c, "position")), 2);
    assert_true(json_is_true(json_object_get(column_of(t, "email"), "nullable")));
    c = column_of(t, "id");
    if (d->type == VZ_DB_POSTGRES)
        assert_non_null(strstr(str_of(c, "default"), "nextval("));
    else
        assert_true(json_is_null(json_object_get(c, "default")));
    assert_true(json_is_null(json_object_get(column_of(t, "notes"), "default")));
    json_decref(tables);
    vz_source_close(s);
}

static void test_introspect_type_classes(void **state)
{
    struct db *d = need(state);
    struct vz_source *s = open_reader(d);
    json_t *tables = introspect(s, d->schema);
    json_t *t = table_of(tables, "all_types"), *c;

    if (d->type == VZ_DB_POSTGRES) {
        static const char *const want[][2] = {
            {"id", "int32"},
            {"c_smallint", "int16"},
            {"c_integer", "int32"},
            {"c_bigint", "int64"},
            {"c_real", "float32"},
            {"c_double", "float64"},
            {"c_numeric_10_2", "decimal"},
            {"c_numeric", "decimal"},
            {"c_boolean", "bool"},
            {"c_text", "text"},
            {"c_varchar", "text"},
            {"c_char", "text"},
            {"c_date", "date"},
            {"c_time", "time"},
            {"c_timetz", "timetz"},
            {"c_timestamp", "timestamp"},
            {"c_timestamptz", "timestamptz"},
            {"c_interval", "interval"},
            {"c_uuid", "uuid"},
            {"c_json", "json"},
            {"c_jsonb", "json"},
            {"c_int_array", "array"},
            {"c_text_array", "array"},
            {"c_int_2d", "array"},
            {"c_bytea", "binary"},
            {"c_enum", "enum"},
            {"c_inet", "text"},
            {"c_money", "text"},
            {"c_bit", "bit"},
            {"c_point", "text"},
            {"c_composite", "other"},
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            assert_class(t, want[i][0], want[i][1]);
        if (find_named(json_object_get(t, "columns"), "c_hstore"))
            assert_class(t, "c_hstore", "hstore");
        c = column_of(t, "c_numeric_30_20");
        assert_string_equal(str_of(c, "source_type"), "numeric(30,20)");
        assert_int_equal(json_integer_value(json_object_get(c, "precision")), 30);
        assert_int_equal(json_integer_value(json_object_get(c, "scale")), 20);
        c = column_of(t, "c_numeric");
        assert_true(json_is_null(json_object_get(c, "precision")));
        c = column_of(t, "c_int_array");
        assert_string_equal(str_of(c, "source_type"), "integer[]");
        assert_string_equal(str_of(c, "element_type_class"), "int32");
        assert_string_equal(str_of(column_of(t, "c_enum"), "source_type"), "mood");
        assert_string_equal(str_of(column_of(t, "c_timestamptz"), "source_type"),
                            "timestamp with time zone");
    } else {
        static const char *const want[][2] = {
            {"id", "int32"},
            {"c_tinyint", "int8"},
            {"c_bool", "bool"},
            {"c_smallint", "int16"},
            {"c_mediumint", "int32"},
            {"c_int", "int32"},
            {"c_int_unsigned", "uint32"},
            {"c_bigint", "int64"},
            {"c_bigint_unsigned", "uint64"},
            {"c_float", "float32"},
            {"c_double", "float64"},
            {"c_decimal_10_2", "decimal"},
            {"c_bit", "bit"},
            {"c_year", "year"},
            {"c_date", "date"},
            {"c_time", "time"},
            {"c_datetime", "timestamp"},
            {"c_timestamp", "timestamptz"},
            {"c_char", "text"},
            {"c_varchar", "text"},
            {"c_text", "text"},
            {"c_longtext", "text"},
            {"c_enum", "enum"},
            {"c_set", "set"},
            {"c_json", "json"},
            {"c_blob", "binary"},
            {"c_varbinary", "binary"},
            {"c_binary", "binary"},
            {"c_point", "geometry"},
            {"c_geometry", "geometry"},
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            assert_class(t, want[i][0], want[i][1]);
        c = column_of(t, "c_decimal_38_20");
        assert_string_equal(str_of(c, "type_class"), "decimal");
        assert_string_equal(str_of(c, "source_type"), "decimal(38,20)");
        assert_int_equal(json_integer_value(json_object_get(c, "precision")), 38);
        assert_int_equal(json_integer_value(json_object_get(c, "scale")), 20);
        /* MariaDB's information_schema is utf8mb3: the emoji arrives as '?'. */
        assert_int_equal(strncmp(str_of(column_of(t, "c_enum"), "source_type"),
                                 "enum('sad','ok','happy','très content ", 39),
                         0);
        assert_string_equal(str_of(column_of(t, "c_int_unsigned"), "source_type"),
                            "int(10) unsigned");
    }
    assert_true(json_is_null(json_object_get(column_of(t, "c_text"), "precision")));
    json_decref(tables);
    vz_source_close(s);
}

static void test_introspect_wide_table_and_awkward_names(void **state)
{
    struct db *d = need(state);
    struct vz_source *s = open_reader(d);
    json_t *tables = introspect(s, d->schema), *cols, *t;
    static const char *const items_cols[] = {"Item ID", "order_id", "Unit Price", "quote\"col",
                                             "ünïcödé", "delete",   "select"};
    /* The fixtures quote with each database's own quote character. */
    const char *quote_col = d->type == VZ_DB_POSTGRES ? "quote\"col" : "quote`col";
    char name[8];

    cols = json_object_get(table_of(tables, "wide_table"), "columns");
    assert_int_equal(json_array_size(cols), 120);
    for (size_t i = 0; i < 120; i++) {
        json_t *c = json_array_get(cols, i);
        snprintf(name, sizeof(name), "c%03zu", i + 1);
        assert_string_equal(str_of(c, "name"), name);
        assert_int_equal(json_integer_value(json_object_get(c, "position")), (int)i + 1);
        assert_string_equal(str_of(c, "type_class"), i % 2 == 0 ? "int32" : "text");
    }

    t = table_of(tables, "Order Items");
    cols = json_object_get(t, "columns");
    assert_int_equal(json_array_size(cols), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(str_of(json_array_get(cols, i), "name"),
                            i == 3 ? quote_col : items_cols[i]);
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "primary_key"), 0)),
                        "Item ID");
    assert_class(t, "delete", "bool");
    assert_non_null(str_of(column_of(t, "delete"), "default"));
    table_of(tables, "weird\"name");
    column_of(table_of(tables, "weird\"name"), "dot.col");
    column_of(table_of(tables, "café_ménu"), "prix");
    t = table_of(tables, "MixedCase");
    column_of(t, "CamelName");
    assert_null(find_named(tables, "mixedcase"));
    json_decref(tables);
    vz_source_close(s);
}

static void test_introspect_other_empty_and_unknown_schemas(void **state)
{
    struct db *d = need(state);
    struct vz_source *s = open_reader(d);
    json_t *tables = introspect(s, d->other_schema), *t;

    assert_int_equal(json_array_size(tables), 2);
    assert_string_equal(str_of(json_array_get(tables, 0), "name"), "active_regions");
    assert_string_equal(str_of(json_array_get(tables, 0), "kind"), "view");
    t = json_array_get(tables, 1);
    assert_string_equal(str_of(t, "name"), "regions");
    assert_string_equal(str_of(t, "schema"), d->other_schema);
    assert_class(t, "active", "bool");
    assert_class(t, "code", "text");
    json_decref(tables);

    tables = introspect(s, d->empty_schema);
    assert_int_equal(json_array_size(tables), 0);
    json_decref(tables);
    tables = introspect(s, "vz_no_such_schema");
    assert_int_equal(json_array_size(tables), 0);
    json_decref(tables);
    tables = introspect(s, "x' OR '1'='1");
    assert_int_equal(json_array_size(tables), 0);
    json_decref(tables);
    vz_source_close(s);
}

static void test_default_schema_from_extra_options(void **state)
{
    struct db *d = need(state);
    struct vz_conn_cfg c = cfg_for(d, d->ro, d->ro_pw);
    json_t *extra = json_pack("{s:s}", "schema", "sales");
    struct vz_source *s;

    c.extra = extra;
    s = open_ok(&c);
    assert_string_equal(vz_source_default_schema(s),
                        d->type == VZ_DB_POSTGRES ? "sales" : d->database);
    vz_source_close(s);
    json_decref(extra);
}

/* ---- introspection at scale ---- */

#define MANY_TABLES 1000

static int many_tables_setup(void **state)
{
    struct db *d = need(state);
    char sql[512];
    int64_t t0 = vz_mono_ms();

    snprintf(d->scratch, sizeof(d->scratch), "vz_scratch_%d", (int)getpid());
    if (d->type == VZ_DB_POSTGRES) {
        PGconn *c = pg_admin(d);
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", d->scratch);
        pg_do(c, sql);
        /* 100 tables per transaction: each one takes several locks (table,
         * TOAST, indexes) and the server's lock table is small. */
        for (int i = 1; i <= MANY_TABLES; i += 100) {
            snprintf(sql, sizeof(sql),
                     "DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format("
                     "'CREATE TABLE %s.t%%s (id bigint PRIMARY KEY, name text NOT NULL,"
                     " amount numeric(12,2), created timestamptz DEFAULT now(), tags text[])', i);"
                     " END LOOP; END $$",
                     i, i + 99, d->scratch);
            pg_do(c, sql);
        }
        PQfinish(c);
    } else {
        MYSQL *m = my_super(d);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", d->scratch);
        my_do(m, sql);
        snprintf(sql, sizeof(sql), "GRANT SELECT ON %s.* TO '%s'@'%%'", d->scratch, d->ro);
        my_do(m, sql);
        for (int i = 1; i <= MANY_TABLES; i++) {
            snprintf(sql, sizeof(sql),
                     "CREATE TABLE %s.t%d (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL,"
                     " amount DECIMAL(12,2), created TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,"
                     " tags JSON)",
                     d->scratch, i);
            my_do(m, sql);
        }
        mysql_close(m);
    }
    print_message("%s: created %d tables in %lld ms\n", vz_db_type_name(d->type), MANY_TABLES,
                  (long long)(vz_mono_ms() - t0));
    return 0;
}

static int many_tables_teardown(void **state)
{
    struct db *d = *state;
    char sql[256];
    if (!d->scratch[0])
        return 0;
    if (d->type == VZ_DB_POSTGRES) {
        PGconn *c = pg_admin(d);
        for (int i = 1; i <= MANY_TABLES; i += 100) {
            snprintf(sql, sizeof(sql),
                     "DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format("
                     "'DROP TABLE IF EXISTS %s.t%%s', i); END LOOP; END $$",
                     i, i + 99, d->scratch);
            pg_do(c, sql);
        }
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", d->scratch);
        pg_do(c, sql);
        PQfinish(c);
    } else {
        MYSQL *m = my_super(d);
        snprintf(sql, sizeof(sql), "REVOKE SELECT ON %s.* FROM '%s'@'%%'", d->scratch, d->ro);
        my_do(m, sql);
        snprintf(sql, sizeof(sql), "DROP DATABASE %s", d->scratch);
        my_do(m, sql);
        mysql_close(m);
    }
    d->scratch[0] = '\0';
    return 0;
}

static void test_introspect_a_thousand_tables(void **state)
{
    struct db *d = need(state);
    struct vz_source *s = open_reader(d);
    int64_t t0 = vz_mono_ms(), ms;
    json_t *tables = introspect(s, d->scratch), *t;

    ms = vz_mono_ms() - t0;
    print_message("%s: introspected %d tables in %lld ms\n", vz_db_type_name(d->type), MANY_TABLES,
                  (long long)ms);
    assert_int_equal(json_array_size(tables), MANY_TABLES);
    assert_sorted_by_name(tables);
    t = table_of(tables, "t999");
    assert_int_equal(json_array_size(json_object_get(t, "columns")), 5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "primary_key"), 0)),
                        "id");
    assert_class(t, "amount", "decimal");
    assert_class(t, "tags", d->type == VZ_DB_POSTGRES ? "array" : "json");
    assert_true(ms < 10000);
    json_decref(tables);
    vz_source_close(s);
}

/* ---- cancel ---- */

struct sleeper {
    struct vz_source *s;
    const char *sql;
    int rc;
    int64_t done_at;
    struct vz_err err;
};

static void *sleeper_run(void *arg)
{
    struct sleeper *sl = arg;
    sl->rc = vz_source_exec_for_test(sl->s, sl->sql, &sl->err);
    sl->done_at = vz_mono_ms();
    return NULL;
}

static void test_cancel_stops_a_running_statement(void **state)
{
    struct db *d = need(state);
    struct sleeper sl;
    struct vz_err err = VZ_ERR_INIT;
    pthread_t th;
    int64_t t_cancel;

    memset(&sl, 0, sizeof(sl));
    sl.s = open_reader(d);
    sl.sql = d->sleep_sql;
    assert_int_equal(pthread_create(&th, NULL, sleeper_run, &sl), 0);
    usleep(500 * 1000); /* let the statement start */
    t_cancel = vz_mono_ms();
    assert_int_equal(vz_source_cancel(sl.s, &err), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("%s: cancelled statement returned %lld ms after the cancel: %s\n",
                  vz_db_type_name(d->type), (long long)(sl.done_at - t_cancel), sl.err.msg);
    assert_int_equal(sl.rc, VZ_ECANCELLED);
    assert_true(sl.done_at - t_cancel < 2000);
    /* The session goes on. */
    assert_value(sl.s, "SELECT 7", "7");
    /* Cancelling with nothing running is harmless. */
    assert_int_equal(vz_source_cancel(sl.s, &err), 0);
    assert_value(sl.s, "SELECT 8", "8");
    vz_source_close(sl.s);
}

static int group_teardown(void **state)
{
    (void)state;
    mysql_library_end();
    return 0;
}

#define BOTH(f) cmocka_unit_test_prestate(f, &pg_db), cmocka_unit_test_prestate(f, &my_db)
#define BOTH_ST(f, su, td)                                                                         \
    cmocka_unit_test_prestate_setup_teardown(f, su, td, &pg_db),                                   \
        cmocka_unit_test_prestate_setup_teardown(f, su, td, &my_db)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_ports_and_ssl_modes),
        cmocka_unit_test(test_bad_settings_are_refused_before_connecting),
        cmocka_unit_test(test_scrub_hostport_and_json_text),
        BOTH(test_reader_connects_and_cannot_write),
        BOTH(test_admin_can_write_and_says_why),
        BOTH(test_wrong_password_is_auth_error_without_secrets),
        BOTH(test_unknown_database_is_not_found),
        BOTH(test_closed_port_fails_fast),
        BOTH(test_silent_server_times_out_on_time),
        BOTH(test_ssl_required_but_server_has_none),
        BOTH(test_injection_in_settings_stays_literal),
        BOTH_ST(test_password_with_quotes_spaces_and_equals, odd_role_setup, odd_role_teardown),
        BOTH(test_session_is_read_only_even_for_admin),
        BOTH(test_statement_time_limit_is_enforced),
        BOTH(test_list_schemas_leaves_out_system_ones),
        BOTH(test_introspect_keys_views_and_counts),
        BOTH(test_introspect_type_classes),
        BOTH(test_introspect_wide_table_and_awkward_names),
        BOTH(test_introspect_other_empty_and_unknown_schemas),
        BOTH(test_default_schema_from_extra_options),
        BOTH_ST(test_introspect_a_thousand_tables, many_tables_setup, many_tables_teardown),
        BOTH(test_cancel_stops_a_running_statement),
    };
    return cmocka_run_group_tests_name("sources", tests, NULL, group_teardown);
}
