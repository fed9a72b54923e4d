/* sources/rolesql: the read-only role wizard's SQL. Exact text for a normal
 * database, quoting of hostile names, and live runs against the throwaway
 * servers of scripts/testdb.sh: the generated SQL creates a role that can
 * read but not write. */
#include "testutil.h"

#include <time.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "sources/rolesql.h"

/* ---- offline ---------------------------------------------------------- */

static const char *pg_expected =
    "-- Read-only PostgreSQL role for vectoraiz.\n"
    "-- Run as a superuser (or a role with CREATEROLE that owns the tables), connected\n"
    "-- to the database named in step 2: schema grants apply to the current database.\n"
    "-- Replace the role name and the password first.\n"
    "\n"
    "-- 1. A login role with no privileges of its own. (In psql, \\password sets the\n"
    "--    password later without it reaching the server log.)\n"
    "CREATE ROLE \"vectoraiz_reader\" LOGIN PASSWORD 'change-me';\n"
    "\n"
    "-- 2. Allow it to connect to the database.\n"
    "GRANT CONNECT ON DATABASE \"shop\" TO \"vectoraiz_reader\";\n"
    "\n"
    "-- 3. Allow it to look up objects in the schema (USAGE cannot create any).\n"
    "GRANT USAGE ON SCHEMA \"public\" TO \"vectoraiz_reader\";\n"
    "\n"
    "-- 4. Read every table, view and materialized view the schema has now.\n"
    "GRANT SELECT ON ALL TABLES IN SCHEMA \"public\" TO \"vectoraiz_reader\";\n"
    "\n"
    "-- 5. Read tables created there later, too. This covers tables created by the\n"
    "--    role running this script; if another role creates them, write\n"
    "--    FOR ROLE <that role> after ALTER DEFAULT PRIVILEGES.\n"
    "ALTER DEFAULT PRIVILEGES IN SCHEMA \"public\" GRANT SELECT ON TABLES TO "
    "\"vectoraiz_reader\";\n"
    "\n"
    "-- 6. Start its sessions read-only. Defence in depth only (a session can turn it\n"
    "--    off again); the grants above are the real boundary.\n"
    "ALTER ROLE \"vectoraiz_reader\" SET default_transaction_read_only = on;\n"
    "\n"
    "-- PostgreSQL 14+: one role that can read every table in every schema\n"
    "-- (of every database it may connect to), now and later. To use it instead\n"
    "-- of steps 3 to 5, remove the leading \"-- \" from the next line:\n"
    "-- GRANT pg_read_all_data TO \"vectoraiz_reader\";\n";

static const char *my_expected =
    "-- Read-only MySQL/MariaDB user for vectoraiz.\n"
    "-- Run as an administrator (e.g. root). Replace the user name and the password\n"
    "-- first.\n"
    "\n"
    "-- 1. A login with no privileges of its own. The part after @ says where it may\n"
    "--    connect from ('%' = any host): narrow it to vectoraiz's address\n"
    "--    (e.g. '10.0.0.5') or network (e.g. '10.0.0.%') where you can.\n"
    "CREATE USER 'vectoraiz_reader'@'%' IDENTIFIED BY 'change-me';\n"
    "\n"
    "-- 2. Read the tables and views of one database (SHOW VIEW: view definitions),\n"
    "--    nothing else.\n"
    "GRANT SELECT, SHOW VIEW ON `shop`.* TO 'vectoraiz_reader'@'%';\n"
    "\n"
    "-- No FLUSH PRIVILEGES needed: CREATE USER and GRANT take effect at once.\n";

static char *pg_sql(const char *db, const char *schema, const char *owner, const char *role,
                    const char *pw, int version)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_rolesql_postgres(db, schema, owner, role, pw, version, &b, &err), 0);
    return vz_buf_take(&b, NULL);
}

static char *my_sql(const char *db, const char *role, const char *pw, const char *host)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_rolesql_mysql(db, role, pw, host, &b, &err), 0);
    return vz_buf_take(&b, NULL);
}

/* Count the statements of an SQL text the way a server's lexer sees it:
 * semicolons outside comments, quoted identifiers and string literals.
 * PostgreSQL: "..." with "" inside, '...' with '' inside, E'...' also with
 * \x escapes. MySQL: `...` with `` inside, '...' with '' and \x inside. */
static int count_statements(const char *sql, int mysql)
{
    const char *s = sql;
    int n = 0;
    while (*s) {
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (*s == (mysql ? '`' : '"')) {
            char q = *s++;
            for (; *s; s++) {
                if (*s == q && s[1] == q)
                    s++;
                else if (*s == q)
                    break;
            }
            assert_true(*s); /* unterminated */
            s++;
        } else if (*s == '\'') {
            int backslash = mysql || (s > sql && s[-1] == 'E');
            for (s++; *s; s++) {
                if (backslash && *s == '\\' && s[1])
                    s++;
                else if (*s == '\'' && s[1] == '\'')
                    s++;
                else if (*s == '\'')
                    break;
            }
            assert_true(*s);
            s++;
        } else {
            if (*s == ';')
                n++;
            s++;
        }
    }
    return n;
}

static void test_pg_exact_output_for_a_normal_database(void **state)
{
    char *sql = pg_sql("shop", NULL, NULL, NULL, NULL, 150000);
    (void)state;
    assert_string_equal(sql, pg_expected);
    assert_int_equal(count_statements(sql, 0), 6);
    free(sql);
    /* "" means the same as NULL for every optional argument */
    sql = pg_sql("shop", "", "", "", "", 150000);
    assert_string_equal(sql, pg_expected);
    free(sql);
}

static void test_mysql_exact_output_for_a_normal_database(void **state)
{
    char *sql = my_sql("shop", NULL, NULL, NULL);
    (void)state;
    assert_string_equal(sql, my_expected);
    assert_int_equal(count_statements(sql, 1), 2);
    free(sql);
    sql = my_sql("shop", "", "", "");
    assert_string_equal(sql, my_expected);
    free(sql);
}

static void test_pg_named_owner_gets_for_role(void **state)
{
    char *sql = pg_sql("shop", "sales", "app_owner", "reader", "s3cret", 150000);
    (void)state;
    assert_non_null(strstr(sql, "CREATE ROLE \"reader\" LOGIN PASSWORD 's3cret';\n"));
    assert_non_null(strstr(sql, "GRANT USAGE ON SCHEMA \"sales\" TO \"reader\";\n"));
    assert_non_null(strstr(sql, "GRANT SELECT ON ALL TABLES IN SCHEMA \"sales\" TO \"reader\";\n"));
    assert_non_null(strstr(sql, "-- 5. Read the tables the owning role creates there later, too.\n"
                                "ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA "
                                "\"sales\" GRANT SELECT ON TABLES TO \"reader\";\n"));
    assert_null(strstr(sql, "FOR ROLE <that role>"));
    assert_int_equal(count_statements(sql, 0), 6);
    free(sql);
}

static void test_pg_read_all_data_only_from_14_or_unknown(void **state)
{
    const char *line = "-- GRANT pg_read_all_data TO \"vectoraiz_reader\";\n";
    char *sql;
    (void)state;
    sql = pg_sql("shop", NULL, NULL, NULL, NULL, 0);
    assert_non_null(strstr(sql, line));
    free(sql);
    sql = pg_sql("shop", NULL, NULL, NULL, NULL, 140000);
    assert_non_null(strstr(sql, line));
    free(sql);
    sql = pg_sql("shop", NULL, NULL, NULL, NULL, 130012);
    assert_null(strstr(sql, "pg_read_all_data"));
    free(sql);
}

static void test_pg_hostile_names_stay_one_identifier(void **state)
{
    const char *evil = "x\"; DROP ROLE postgres; --";
    char *sql = pg_sql(evil, "s\"; DROP SCHEMA public; --", "o\"; --", "r\"; DROP TABLE t; --",
                       "p'; DROP ROLE postgres; --", 150000);
    (void)state;
    assert_non_null(
        strstr(sql, "GRANT CONNECT ON DATABASE \"x\"\"; DROP ROLE postgres; --\" TO \"r\"\"; "
                    "DROP TABLE t; --\";\n"));
    assert_non_null(strstr(sql, "LOGIN PASSWORD 'p''; DROP ROLE postgres; --';\n"));
    assert_non_null(strstr(sql, "IN SCHEMA \"s\"\"; DROP SCHEMA public; --\" GRANT"));
    assert_non_null(strstr(sql, "FOR ROLE \"o\"\"; --\" IN SCHEMA"));
    /* still exactly the six statements, whatever the names hold */
    assert_int_equal(count_statements(sql, 0), 6);
    free(sql);

    /* it's: a quote in a name is plain inside "..."; a newline cannot break
       out of a comment because names never appear in comments */
    sql = pg_sql("it's", "a\nDROP ROLE postgres; --", NULL, "we\"ird", "it's", 0);
    assert_non_null(strstr(sql, "GRANT CONNECT ON DATABASE \"it's\" TO \"we\"\"ird\";\n"));
    assert_non_null(strstr(sql, "PASSWORD 'it''s';"));
    assert_non_null(strstr(sql, "SCHEMA \"a\nDROP ROLE postgres; --\" TO"));
    assert_int_equal(count_statements(sql, 0), 6);
    free(sql);
}

static void test_pg_backslash_password_uses_escape_string(void **state)
{
    char *sql = pg_sql("shop", NULL, NULL, NULL, "a\\'b", 150000);
    (void)state;
    assert_non_null(strstr(sql, "LOGIN PASSWORD E'a\\\\''b';\n"));
    assert_int_equal(count_statements(sql, 0), 6);
    free(sql);
}

static void test_mysql_hostile_names_stay_one_identifier(void **state)
{
    char *sql = my_sql("x`; DROP USER root; --", "r'; DROP USER root; --",
                       "p\\'; DROP USER root; --", "h'@'%");
    (void)state;
    assert_non_null(strstr(sql, "ON `x``; DROP USER root; --`.* TO"));
    assert_non_null(strstr(sql, "CREATE USER 'r''; DROP USER root; --'@'h''@''%' IDENTIFIED BY "
                                "'p\\\\''; DROP USER root; --';\n"));
    /* the backslash makes the script pin the escaping mode first */
    assert_non_null(strstr(sql, "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, "
                                "'NO_BACKSLASH_ESCAPES', '');\n"));
    assert_int_equal(count_statements(sql, 1), 3);
    free(sql);

    sql = my_sql("it's", "we\"ird", "it's", NULL);
    assert_non_null(strstr(sql, "ON `it's`.* TO 'we\"ird'@'%';\n"));
    assert_non_null(strstr(sql, "IDENTIFIED BY 'it''s';\n"));
    assert_null(strstr(sql, "sql_mode"));
    assert_int_equal(count_statements(sql, 1), 2);
    free(sql);
}

static void test_mysql_wildcards_in_database_are_escaped(void **state)
{
    char *sql = my_sql("vz_test%1\\", NULL, NULL, "10.0.0.%");
    (void)state;
    assert_non_null(strstr(sql, "GRANT SELECT, SHOW VIEW ON `vz\\_test\\%1\\\\`.* TO "
                                "'vectoraiz_reader'@'10.0.0.%';\n"));
    assert_non_null(strstr(sql, "--    In GRANT, _ and % in a database name are wildcards"));
    assert_non_null(strstr(sql, "CREATE USER 'vectoraiz_reader'@'10.0.0.%' IDENTIFIED BY"));
    free(sql);
}

static void test_missing_database_is_einval(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_rolesql_postgres(NULL, NULL, NULL, NULL, NULL, 0, &b, &err), VZ_EINVAL);
    assert_int_equal(err.code, VZ_EINVAL);
    assert_int_equal(vz_rolesql_postgres("", NULL, NULL, NULL, NULL, 0, &b, &err), VZ_EINVAL);
    assert_int_equal(vz_rolesql_mysql(NULL, NULL, NULL, NULL, &b, &err), VZ_EINVAL);
    assert_int_equal(vz_rolesql_mysql("", NULL, NULL, NULL, &b, &err), VZ_EINVAL);
    assert_int_equal(b.len, 0);
}

/* Output is appended; a failure half way leaves the buffer as it was. */
static void test_appends_and_failure_leaves_buffer_unchanged(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(600);
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_buf_adds(&b, "before\n"), 0);
    assert_int_equal(vz_rolesql_postgres("shop", NULL, NULL, NULL, NULL, 0, &b, &err), VZ_ETOOBIG);
    assert_int_equal(err.code, VZ_ETOOBIG);
    assert_string_equal(vz_buf_cstr(&b), "before\n");
    assert_int_equal(vz_rolesql_mysql("shop", NULL, NULL, NULL, &b, &err), VZ_ETOOBIG);
    assert_string_equal(vz_buf_cstr(&b), "before\n");
    b.max = 0;
    assert_int_equal(vz_rolesql_mysql("shop", NULL, NULL, NULL, &b, &err), 0);
    assert_int_equal(strncmp(vz_buf_cstr(&b), "before\n-- Read-only MySQL", 25), 0);
    assert_string_equal(vz_buf_cstr(&b) + 7, my_expected);
    vz_buf_release(&b);
}

/* ---- live: the throwaway servers of scripts/testdb.sh ------------------- */

static void need_env(const char *const *names)
{
    static char missing[512];
    missing[0] = '\0';
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (!v || !*v) {
            strncat(missing, " ", sizeof(missing) - strlen(missing) - 1);
            strncat(missing, *names, sizeof(missing) - strlen(missing) - 1);
        }
    }
    if (missing[0])
        fail_msg("test databases not configured (missing:%s); run "
                 "eval \"$(scripts/testdb.sh start)\" first, or use `make test`",
                 missing);
}

/* A name part unique to this run, so parallel or leftover runs never meet. */
static void run_tag(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "%ld%03ld", (long)getpid() % 100000, (long)(ts.tv_nsec / 1000000));
}

/* -- PostgreSQL -- */

struct pg_live {
    char role[64], password[64], table[64];
    PGconn *su;
};

static PGconn *pg_connect(const char *host, const char *user, const char *password)
{
    const char *keys[] = {"host",     "port",    "dbname",          "user",
                          "password", "sslmode", "connect_timeout", NULL};
    const char *vals[] = {
        host, getenv("VZ_PG_PORT"), getenv("VZ_PG_DB"), user, password, "disable", "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        PQfinish(c);
        fail_msg("PostgreSQL connect as %s failed: %s", user, msg);
    }
    return c;
}

/* Run sql; return the SQLSTATE ("" on success, which also checks the
 * command ran). */
static const char *pg_try(PGconn *c, const char *sql)
{
    static char state[8];
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof(state), "%s",
             st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? ""
             : s                                             ? s
                                                             : "?");
    PQclear(r);
    return state;
}

static void pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("PostgreSQL: %s failed: %s", sql, msg);
    }
    PQclear(r);
}

static long pg_count(PGconn *c, const char *table)
{
    char sql[128];
    PGresult *r;
    long n;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("PostgreSQL: %s failed: %s", sql, msg);
    }
    n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static int pg_setup(void **state)
{
    static const char *const vars[] = {"VZ_PG_HOST",
                                       "VZ_PG_PORT",
                                       "VZ_PG_DB",
                                       "VZ_PG_SUPERUSER",
                                       "VZ_PG_SOCKET_DIR",
                                       "VZ_PG_ADMIN_USER",
                                       "VZ_PG_ADMIN_PASSWORD",
                                       NULL};
    struct pg_live *L = calloc(1, sizeof(*L));
    char tag[32];
    assert_non_null(L);
    *state = L;
    need_env(vars);
    run_tag(tag, sizeof(tag));
    /* A quote and a space in the role name, a quote, a double quote and a
       backslash in the password: the quoting has to hold on a real server. */
    snprintf(L->role, sizeof(L->role), "vz rolesql \"%s\"", tag);
    snprintf(L->password, sizeof(L->password), "pw'\"\\%s", tag);
    snprintf(L->table, sizeof(L->table), "rolesql_after_%s", tag);
    L->su = pg_connect(getenv("VZ_PG_SOCKET_DIR"), getenv("VZ_PG_SUPERUSER"), NULL);
    return 0;
}

/* Drop what the test made, even after a failed assertion. */
static int pg_teardown(void **state)
{
    struct pg_live *L = *state;
    if (L && L->su) {
        const char *params[1] = {L->role};
        char sql[512], *ident;
        PGresult *r;
        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", L->table);
        pg_try(L->su, sql);
        r = PQexecParams(L->su, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL, params, NULL,
                         NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            ident = PQescapeIdentifier(L->su, L->role, strlen(L->role));
            /* DROP OWNED also revokes the grants and default privileges
               naming the role, which DROP ROLE would otherwise refuse. */
            snprintf(sql, sizeof(sql), "REASSIGN OWNED BY %s TO %s; DROP OWNED BY %s; DROP ROLE %s",
                     ident, getenv("VZ_PG_SUPERUSER"), ident, ident);
            PQfreemem(ident);
            pg_ok(L->su, sql);
        }
        PQclear(r);
        PQfinish(L->su);
    }
    free(L);
    return 0;
}

static void test_pg_live_role_reads_but_cannot_write(void **state)
{
    struct pg_live *L = *state;
    PGconn *admin, *ro;
    char *sql, buf[256];
    long customers;

    admin = pg_connect(getenv("VZ_PG_HOST"), getenv("VZ_PG_ADMIN_USER"),
                       getenv("VZ_PG_ADMIN_PASSWORD"));
    customers = pg_count(admin, "customers");
    assert_true(customers > 0);

    /* The DBA's step: the whole script, as the superuser, in the database. */
    sql = pg_sql(getenv("VZ_PG_DB"), "public", getenv("VZ_PG_ADMIN_USER"), L->role, L->password,
                 PQserverVersion(L->su));
    pg_ok(L->su, sql);
    free(sql);

    /* A table the admin creates after the grants: default privileges. */
    snprintf(buf, sizeof(buf), "CREATE TABLE %s AS SELECT 1 AS id", L->table);
    pg_ok(admin, buf);

    /* The new role logs in over TCP with its password and reads. */
    ro = pg_connect(getenv("VZ_PG_HOST"), L->role, L->password);
    assert_int_equal(pg_count(ro, "customers"), customers);
    assert_int_equal(pg_count(ro, L->table), 1);
    {
        PGresult *r = PQexec(ro, "SHOW default_transaction_read_only");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), "on");
        PQclear(r);
    }

    /* Sessions start read-only: 25006 read_only_sql_transaction. */
    assert_string_equal(pg_try(ro, "INSERT INTO customers (name) VALUES ('x')"), "25006");

    /* The real boundary: with read-only switched off, the grants refuse
       every write with 42501 insufficient_privilege. */
    pg_ok(ro, "SET default_transaction_read_only = off");
    assert_string_equal(pg_try(ro, "INSERT INTO customers (name) VALUES ('x')"), "42501");
    assert_string_equal(pg_try(ro, "UPDATE customers SET name = name"), "42501");
    assert_string_equal(pg_try(ro, "DELETE FROM customers"), "42501");
    assert_string_equal(pg_try(ro, "TRUNCATE customers"), "42501");
    assert_string_equal(pg_try(ro, "CREATE TABLE rolesql_nope (i int)"), "42501");
    snprintf(buf, sizeof(buf), "INSERT INTO %s VALUES (2)", L->table);
    assert_string_equal(pg_try(ro, buf), "42501");
    snprintf(buf, sizeof(buf), "DROP TABLE %s", L->table);
    assert_string_equal(pg_try(ro, buf), "42501");
    PQfinish(ro);

    /* Nothing changed. */
    assert_int_equal(pg_count(admin, "customers"), customers);
    assert_int_equal(pg_count(admin, L->table), 1);
    PQfinish(admin);
}

/* -- MySQL / MariaDB -- */

struct my_live {
    char user[64], password[64];
    MYSQL *root;
};

static MYSQL *my_connect(const char *host, const char *user, const char *password,
                         const char *socket, const char *db, unsigned long flags)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int timeout = 10;
    assert_non_null(m);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(m, host, user, password, db, socket ? 0 : atoi(getenv("VZ_MY_PORT")),
                            socket, flags)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", mysql_error(m));
        mysql_close(m);
        fail_msg("MariaDB connect as %s failed: %s", user, msg);
    }
    return m;
}

static MYSQL *my_root(unsigned long flags)
{
    return my_connect("localhost", getenv("VZ_MY_SUPERUSER"), NULL, getenv("VZ_MY_SOCKET"), NULL,
                      flags);
}

/* Run a (possibly multi-statement) text; 0 or the first error number. */
static unsigned my_try(MYSQL *m, const char *sql)
{
    int status;
    if (mysql_query(m, sql) != 0)
        return mysql_errno(m);
    do {
        MYSQL_RES *res = mysql_store_result(m);
        if (res)
            mysql_free_result(res);
        else if (mysql_field_count(m) != 0)
            return mysql_errno(m);
        status = mysql_next_result(m);
        if (status > 0)
            return mysql_errno(m);
    } while (status == 0);
    return 0;
}

static long my_count(MYSQL *m, const char *table)
{
    char sql[128];
    MYSQL_RES *res;
    MYSQL_ROW row;
    long n;
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    if (mysql_query(m, sql) != 0)
        fail_msg("MariaDB: %s failed: %s", sql, mysql_error(m));
    res = mysql_store_result(m);
    assert_non_null(res);
    row = mysql_fetch_row(res);
    assert_non_null(row);
    n = atol(row[0]);
    mysql_free_result(res);
    return n;
}

static int my_setup(void **state)
{
    static const char *const vars[] = {"VZ_MY_HOST",      "VZ_MY_PORT",   "VZ_MY_DB",
                                       "VZ_MY_SUPERUSER", "VZ_MY_SOCKET", NULL};
    struct my_live *L = calloc(1, sizeof(*L));
    char tag[32];
    assert_non_null(L);
    *state = L;
    need_env(vars);
    run_tag(tag, sizeof(tag));
    /* Quotes and a backslash in both: the backslash also makes the script
       pin sql_mode, which must not break anything. */
    snprintf(L->user, sizeof(L->user), "vz_rs'q\"\\%s", tag);
    snprintf(L->password, sizeof(L->password), "pw'\"\\%s", tag);
    L->root = my_root(CLIENT_MULTI_STATEMENTS);
    return 0;
}

static int my_teardown(void **state)
{
    struct my_live *L = *state;
    if (L && L->root) {
        char sql[256], esc[160];
        mysql_real_escape_string(L->root, esc, L->user, strlen(L->user));
        snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'%%'", esc);
        if (my_try(L->root, sql) != 0)
            print_error("cleanup failed: %s\n", mysql_error(L->root));
        mysql_close(L->root);
    }
    free(L);
    return 0;
}

static void test_mysql_live_user_reads_but_cannot_write(void **state)
{
    struct my_live *L = *state;
    MYSQL *ro;
    char *sql;
    long customers = 0;
    unsigned e;

    assert_int_equal(mysql_select_db(L->root, getenv("VZ_MY_DB")), 0);
    customers = my_count(L->root, "customers");
    assert_true(customers > 0);

    /* The DBA's step: the whole script in one go, as root. */
    sql = my_sql(getenv("VZ_MY_DB"), L->user, L->password, NULL);
    e = my_try(L->root, sql);
    free(sql);
    if (e)
        fail_msg("running the generated SQL failed: %u %s", e, mysql_error(L->root));

    /* The new user logs in over TCP with its password and reads. */
    ro = my_connect(getenv("VZ_MY_HOST"), L->user, L->password, NULL, getenv("VZ_MY_DB"), 0);
    assert_int_equal(my_count(ro, "customers"), customers);

    /* Every write is refused by the grants: 1142 table access denied. */
    assert_int_equal(my_try(ro, "INSERT INTO customers (name) VALUES ('x')"), 1142);
    assert_int_equal(my_try(ro, "UPDATE customers SET name = name"), 1142);
    assert_int_equal(my_try(ro, "DELETE FROM customers"), 1142);
    assert_int_equal(my_try(ro, "TRUNCATE customers"), 1142);
    assert_int_equal(my_try(ro, "CREATE TABLE rolesql_nope (i INT)"), 1142);
    assert_int_equal(my_try(ro, "DROP TABLE customers"), 1142);
    /* ... and other databases stay out of reach. */
    e = my_try(ro, "SELECT COUNT(*) FROM vz_sales.regions");
    assert_true(e == 1142 || e == 1044);
    mysql_close(ro);

    assert_int_equal(my_count(L->root, "customers"), customers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_exact_output_for_a_normal_database),
        cmocka_unit_test(test_mysql_exact_output_for_a_normal_database),
        cmocka_unit_test(test_pg_named_owner_gets_for_role),
        cmocka_unit_test(test_pg_read_all_data_only_from_14_or_unknown),
        cmocka_unit_test(test_pg_hostile_names_stay_one_identifier),
        cmocka_unit_test(test_pg_backslash_password_uses_escape_string),
        cmocka_unit_test(test_mysql_hostile_names_stay_one_identifier),
        cmocka_unit_test(test_mysql_wildcards_in_database_are_escaped),
        cmocka_unit_test(test_missing_database_is_einval),
        cmocka_unit_test(test_appends_and_failure_leaves_buffer_unchanged),
        cmocka_unit_test_setup_teardown(test_pg_live_role_reads_but_cannot_write, pg_setup,
                                        pg_teardown),
        cmocka_unit_test_setup_teardown(test_mysql_live_user_reads_but_cannot_write, my_setup,
                                        my_teardown),
    };
    int rc = cmocka_run_group_tests_name("rolesql", tests, NULL, NULL);
    mysql_library_end();
    return rc;
}
