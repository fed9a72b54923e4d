/* The read-only layers proven on the live servers (issue 6, "Proof").
 *
 * Three claims, each checked against the throwaway servers of
 * scripts/testdb.sh:
 *
 *  1. sqlguard rejects every record of tests/sqlguard/attacks-pg.sql and
 *     attacks-mysql.sql (a quick re-check: test_sqlguard.c also checks the
 *     reasons).
 *
 *  2. The guard is not the only wall. Every attack is sent again, with the
 *     guard bypassed, through the session layer exactly as an extraction sends
 *     custom SQL: a fresh vz_source_open() as the admin user that OWNS the
 *     fixtures (so privileges alone would let most attacks through), then
 *     vz_source_stream_open(), every chunk filled until the end,
 *     vz_source_stream_close(). Around each attack a separate superuser
 *     connection over the unix socket takes a snapshot of what an attack could
 *     change, and the two snapshots must be equal:
 *       PostgreSQL: the rows of every table of every non-system schema (md5 of
 *       the sorted md5s of each row's text), sequences, large objects, the
 *       catalogs (classes with owners and ACLs, columns, functions, schemas,
 *       roles with their attributes and password hashes, memberships,
 *       databases, per-role/database settings, default ACLs, triggers, views,
 *       extensions, comments, replication slots, prepared transactions), the
 *       settings that differ from boot and the config files' contents, and no
 *       new file name in the data directory, base/, global/ and the database
 *       directory.
 *       MySQL/MariaDB: CHECKSUM TABLE of every table of vz_test, vz_sales and
 *       vz_empty, information_schema listings (schemata, tables with
 *       AUTO_INCREMENT, columns, routines, views, triggers, events),
 *       mysql.global_priv rows and checksums of the other grant tables, global
 *       variables, and no new file name in the data directory and the three
 *       database directories.
 *       Both: every path quoted in either corpus (absolute ones as they are,
 *       bare file names under the servers' data directories) keeps its state:
 *       absent, or the same size, mtime and inode.
 *     A difference fails the test naming the attack and the changed lines.
 *     User variables, session settings, advisory locks and the like die with
 *     the session; the snapshot is taken only once the attack's session has
 *     left the server, and every attack gets a new session so a broken one
 *     cannot hide the next attack's effect. The statement timeout is short so
 *     that sleeps end quickly. How each attack was stopped is counted and
 *     printed (VZ_PROOF_VERBOSE=1 prints one line per attack).
 *
 *  3. Every record of legit-pg.sql / legit-mysql.sql passes the guard and,
 *     streamed as the READ-ONLY user, gives the rows the server gives for the
 *     same text run directly (PQexec / mysql_query on a connection of its
 *     own). See "legitimate queries" below for what is compared.
 *
 * Environment: the VZ_PG_* / VZ_MY_* variables of scripts/testdb.sh; without
 * them the tests fail and say how to start the servers. The corpus directory
 * is $VZ_SQLGUARD_CORPUS or found by walking up from the current directory. */
/* vec.h first: it includes duckdb.h without the strict-prototypes warning. */
#include "extract/vec.h"

#include "corpus.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <time.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "core/buf.h"
#include "core/util.h"
#include "extract/stream.h"
#include "sources/source.h"
#include "sqlguard/sqlguard.h"

/* Short enough that the sleep attacks (about 20 per dialect) keep the whole
 * test quick, long enough for every real statement of the session layer. */
#define PROOF_STMT_TIMEOUT_MS 2000
/* application_name of the attack sessions, to find them in server logs. */
#define PROOF_APP "vz-proof-attack"
/* How long a closed session may take to leave the server. */
#define PROOF_IDLE_WAIT_MS 10000

/* ---- small helpers ------------------------------------------------------ */

static void bputf(struct vz_buf *b, const char *fmt, ...) VZ_PRINTF(2, 3);
static void bputf(struct vz_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vz_buf_vaddf(b, fmt, ap);
    va_end(ap);
    assert_int_equal(rc, 0);
}

static void bput(struct vz_buf *b, const void *p, size_t n)
{
    assert_int_equal(vz_buf_add(b, p, n), 0);
}

/* A value inside a one-line record: line breaks escaped. */
static void bput_value(struct vz_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            bput(b, "\\n", 2);
        else if (s[i] == '\r')
            bput(b, "\\r", 2);
        else
            bput(b, s + i, 1);
    }
}

static int verbose(void)
{
    const char *v = getenv("VZ_PROOF_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* The first line of sql, at most 70 bytes, for messages. */
static void first_line(const char *sql, char *out, size_t n)
{
    size_t len = strcspn(sql, "\n");
    if (len > 70)
        len = 70;
    if (len > n - 1)
        len = n - 1;
    memcpy(out, sql, len);
    out[len] = '\0';
}

/* ---- paths named in the corpora ----------------------------------------- */

/* Quoted text that looks like a file: absolute paths, checked as they are,
 * and bare names ('x', 'postgresql.conf'), checked under the directories a
 * server resolves relative paths against. Most bare words are not file
 * names at all; checking that they stay absent costs nothing. */
struct paths {
    char **abs, **rel;
    size_t nabs, nrel;
};

static void paths_push(char ***v, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0)
            return;
    *v = realloc(*v, (*n + 1) * sizeof(**v));
    assert_non_null(*v);
    (*v)[*n] = strndup(s, len);
    assert_non_null((*v)[*n]);
    (*n)++;
}

static int bare_name(const char *s, size_t len)
{
    if (len == 0 || len > 64 || (len <= 2 && s[0] == '.' && (len == 1 || s[1] == '.')))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            ch != '.' && ch != '_' && ch != '-')
            return 0;
    }
    return 1;
}

static void paths_scan(struct paths *p, const struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->v[i].sql, *end = s + c->v[i].len;
        while (s < end) {
            char q = *s++;
            const char *start, *close;
            if (q != '\'' && q != '"')
                continue;
            start = s;
            close = memchr(start, q, (size_t)(end - start));
            if (!close)
                break;
            s = close + 1;
            if (close - start > 1 && start[0] == '/' &&
                !memchr(start, ' ', (size_t)(close - start)))
                paths_push(&p->abs, &p->nabs, start, (size_t)(close - start));
            else if (q == '\'' && bare_name(start, (size_t)(close - start)))
                paths_push(&p->rel, &p->nrel, start, (size_t)(close - start));
        }
    }
}

static void paths_free(struct paths *p)
{
    for (size_t i = 0; i < p->nabs; i++)
        free(p->abs[i]);
    for (size_t i = 0; i < p->nrel; i++)
        free(p->rel[i]);
    free(p->abs);
    free(p->rel);
    memset(p, 0, sizeof(*p));
}

static void snap_file(struct vz_buf *b, const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        bputf(b, "file:%s|%s\n", path, errno == ENOENT ? "absent" : strerror(errno));
        return;
    }
    bputf(b, "file:%s|mode=%o|size=%lld|mtime=%lld.%09ld|ino=%llu\n", path, (unsigned)sb.st_mode,
          (long long)sb.st_size, (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
          (unsigned long long)sb.st_ino);
}

/* The state of every corpus path: absolute ones, and bare names under each
 * of dirs. */
static void snap_paths(struct vz_buf *b, const struct paths *p, const char *const *dirs,
                       size_t ndirs)
{
    char full[PATH_MAX];
    for (size_t i = 0; i < p->nabs; i++)
        snap_file(b, p->abs[i]);
    for (size_t d = 0; d < ndirs; d++) {
        for (size_t i = 0; i < p->nrel; i++) {
            assert_true((size_t)snprintf(full, sizeof(full), "%s/%s", dirs[d], p->rel[i]) <
                        sizeof(full));
            snap_file(b, full);
        }
    }
}

/* The names in one directory (not recursive). */
static void snap_dir(struct vz_buf *b, const char *label, const char *dir)
{
    DIR *d = opendir(dir);
    const struct dirent *e;
    if (!d)
        fail_msg("cannot list %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bputf(b, "dir:%s/%s\n", label, e->d_name);
    }
    closedir(d);
}

/* ---- snapshots and their difference ------------------------------------- */

/* A snapshot is a set of one-line records "section:fields"; two snapshots
 * are compared as sorted line sets, so a difference names the exact rows. */
struct lines {
    char *text;
    char **v;
    size_t n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes over b's memory. */
static void lines_take(struct lines *l, struct vz_buf *b)
{
    size_t len = 0, cap = 0;
    char *p;

    memset(l, 0, sizeof(*l));
    l->text = vz_buf_take(b, &len);
    assert_non_null(l->text);
    for (p = l->text; *p;) {
        char *nl = strchr(p, '\n');
        if (l->n == cap) {
            cap = cap ? cap * 2 : 1024;
            l->v = realloc(l->v, cap * sizeof(*l->v));
            assert_non_null(l->v);
        }
        l->v[l->n++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

static void lines_free(struct lines *l)
{
    free(l->text);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Directory listings count only new names. A file can vanish on its own:
 * PostgreSQL unlinks the files of relations dropped earlier (by other tests)
 * at the next checkpoint, whenever that comes. A statement that dropped
 * something shows in the catalog and checksum sections anyway. */
static int removal_ignored(const char *line)
{
    return strncmp(line, "datadir", 7) == 0 || strncmp(line, "dir:", 4) == 0;
}

/* Lines only in a ("-") or only in b ("+"); the first 12 go to report. */
static size_t lines_diff(const struct lines *a, const struct lines *b, struct vz_buf *report)
{
    size_t i = 0, j = 0, ndiff = 0;

    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        const char *line;
        char sign;
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        sign = c < 0 ? '-' : '+';
        line = c < 0 ? a->v[i++] : b->v[j++];
        if (sign == '-' && removal_ignored(line))
            continue;
        if (ndiff++ < 12)
            bputf(report, "      %c %.300s\n", sign, line);
    }
    if (ndiff > 12)
        bputf(report, "      ... %zu more\n", ndiff - 12);
    return ndiff;
}

/* ---- PostgreSQL checker -------------------------------------------------- */

static PGconn *pg_connect(const char *host, const char *user, const char *password, const char *app)
{
    const char *kw[10], *val[10];
    size_t n = 0;
    PGconn *c;

#define KV(k, v) (kw[n] = (k), val[n] = (v), n++)
    KV("host", host);
    KV("port", vzt_env("VZ_PG_PORT"));
    KV("dbname", vzt_env("VZ_PG_DB"));
    KV("user", user);
    if (password) /* none for the superuser on the unix socket */
        KV("password", password);
    KV("sslmode", "disable");
    KV("connect_timeout", "10");
    KV("application_name", app);
#undef KV
    kw[n] = NULL;
    val[n] = NULL;
    c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        PQfinish(c);
        fail_msg("PostgreSQL connect as %s via %s failed: %s", user, host, msg);
    }
    return c;
}

static PGresult *pg_query(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("checker query failed: %s\n%.400s", msg, sql);
    }
    return r;
}

/* Every row of sql as "section:v1|v2|...". */
static void pg_section(PGconn *c, const char *section, const char *sql, struct vz_buf *b)
{
    PGresult *r = pg_query(c, sql);
    for (int i = 0; i < PQntuples(r); i++) {
        bputf(b, "%s:", section);
        for (int j = 0; j < PQnfields(r); j++) {
            if (j)
                bput(b, "|", 1);
            if (PQgetisnull(r, i, j))
                bput(b, "NULL", 4);
            else
                bput_value(b, PQgetvalue(r, i, j), (size_t)PQgetlength(r, i, j));
        }
        bput(b, "\n", 1);
    }
    PQclear(r);
}

/* Tables, materialized views and partitioned tables outside the system
 * schemas. ROW(r.*) is the whole row even if a column is called r. */
static const char pg_tables_sql[] =
    "SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(h, '','' ORDER BY h), ''''))"
    " FROM (SELECT md5(CAST(ROW(r.*) AS text)) AS h FROM %I.%I AS r) AS x',"
    " n.nspname || '.' || c.relname, n.nspname, c.relname)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p', 'm') AND c.relispopulated"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
    " ORDER BY 1";

static void pg_tables(PGconn *c, struct vz_buf *b)
{
    struct vz_buf q = VZ_BUF_INIT(0);
    PGresult *r = pg_query(c, pg_tables_sql);
    assert_true(PQntuples(r) > 5);
    for (int i = 0; i < PQntuples(r); i++)
        bputf(&q, "%s%s", i ? " UNION ALL " : "", PQgetvalue(r, i, 0));
    PQclear(r);
    pg_section(c, "rows", vz_buf_cstr(&q), b);
    vz_buf_release(&q);
}

/* Catalog sections: what a statement that escaped the read-only transaction
 * could leave behind. OIDs identify objects; ::regrole names owners. */
static const struct {
    const char *name, *sql;
} pg_catalog_sections[] = {
    {"namespace", "SELECT oid, nspname, nspowner::regrole, nspacl FROM pg_namespace"},
    {"class", "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relowner::regrole, c.relacl,"
              " c.relpersistence, c.relfilenode, c.relhastriggers, c.relrowsecurity"
              " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"},
    {"attribute", "SELECT a.attrelid, a.attnum, a.attname, a.atttypid::regtype, a.attnotnull,"
                  " a.atthasdef, a.attisdropped, a.attacl FROM pg_attribute a"
                  " JOIN pg_class c ON c.oid = a.attrelid"
                  " JOIN pg_namespace n ON n.oid = c.relnamespace"
                  " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"},
    {"attrdef", "SELECT adrelid, adnum, md5(pg_get_expr(adbin, adrelid)) FROM pg_attrdef"},
    {"proc", "SELECT p.oid, p.pronamespace, p.proname, p.prokind, p.proowner::regrole,"
             " p.prosecdef, p.proacl, md5(p.prosrc) FROM pg_proc p"},
    {"role", "SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
             " rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, md5(rolpassword),"
             " rolvaliduntil FROM pg_authid"},
    {"member", "SELECT roleid::regrole, member::regrole, grantor::regrole, admin_option"
               " FROM pg_auth_members"},
    {"database", "SELECT oid, datname, datdba::regrole, encoding, datallowconn, datconnlimit,"
                 " datistemplate, dattablespace, datacl FROM pg_database"},
    {"db_role_setting", "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting"},
    {"default_acl", "SELECT defaclrole::regrole, defaclnamespace, defaclobjtype, defaclacl"
                    " FROM pg_default_acl"},
    {"sequence", "SELECT schemaname, sequencename, last_value, start_value, increment_by,"
                 " min_value, max_value, cycle FROM pg_sequences"},
    {"largeobject_metadata", "SELECT oid, lomowner::regrole, lomacl FROM pg_largeobject_metadata"},
    {"largeobject", "SELECT count(*), md5(coalesce(string_agg(loid || ':' || pageno || ':' ||"
                    " md5(data), ',' ORDER BY loid, pageno), '')) FROM pg_largeobject"},
    {"trigger", "SELECT tgrelid, tgname, tgenabled, tgfoid FROM pg_trigger"},
    {"event_trigger", "SELECT evtname, evtevent, evtenabled, evtfoid FROM pg_event_trigger"},
    {"rewrite", "SELECT ev_class, rulename, ev_type, ev_enabled, md5(ev_action::text)"
                " FROM pg_rewrite"},
    {"policy", "SELECT polrelid, polname, polcmd FROM pg_policy"},
    {"extension", "SELECT extname, extversion, extowner::regrole FROM pg_extension"},
    {"description", "SELECT count(*), md5(coalesce(string_agg(objoid || ':' || classoid || ':'"
                    " || objsubid || ':' || md5(description), ',' ORDER BY objoid, classoid,"
                    " objsubid), '')) FROM pg_description"},
    {"tablespace", "SELECT spcname, spcowner::regrole, spcacl FROM pg_tablespace"},
    {"publication", "SELECT pubname FROM pg_publication"},
    {"subscription", "SELECT subname FROM pg_subscription"},
    {"replication_slot", "SELECT slot_name, plugin, slot_type, database FROM pg_replication_slots"},
    {"prepared_xact", "SELECT gid, owner, database FROM pg_prepared_xacts"},
    {"setting", "SELECT name, setting FROM pg_settings WHERE setting IS DISTINCT FROM boot_val"},
    {"file_setting", "SELECT sourcefile, sourceline, name, setting, applied, error"
                     " FROM pg_file_settings"},
    /* File names only: sizes of live relation files move with hint bits
     * and vacuum, names move only when files are created or removed. */
    {"datadir", "SELECT f FROM pg_ls_dir('.') AS f"},
    {"datadir_global", "SELECT f FROM pg_ls_dir('global') AS f"},
    {"datadir_base", "SELECT f FROM pg_ls_dir('base') AS f"},
    {"datadir_db", "SELECT f FROM pg_ls_dir('base/' || (SELECT oid FROM pg_database"
                   " WHERE datname = current_database())) AS f"},
    {"datadir_replslot", "SELECT f FROM pg_ls_dir('pg_replslot') AS f"},
    {"datadir_tblspc", "SELECT f FROM pg_ls_dir('pg_tblspc') AS f"},
};

/* ---- MySQL checker ------------------------------------------------------- */

static MYSQL *my_connect(const char *host, int port, const char *user, const char *password,
                         const char *socket, const char *db)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int timeout = 10;
    assert_non_null(m);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, host, user, password, db, (unsigned)port, socket, 0)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", mysql_error(m));
        mysql_close(m);
        fail_msg("MariaDB connect as %s failed: %s", user, msg);
    }
    return m;
}

static MYSQL_RES *my_query(MYSQL *m, const char *sql)
{
    MYSQL_RES *res;
    if (mysql_query(m, sql) != 0)
        fail_msg("checker query failed: %s\n%.400s", mysql_error(m), sql);
    res = mysql_store_result(m);
    if (!res && mysql_field_count(m) != 0)
        fail_msg("checker query gave no result: %s\n%.400s", mysql_error(m), sql);
    return res;
}

static void my_exec(MYSQL *m, const char *sql)
{
    MYSQL_RES *res = my_query(m, sql);
    if (res)
        mysql_free_result(res);
}

static void my_section(MYSQL *m, const char *section, const char *sql, struct vz_buf *b)
{
    MYSQL_RES *res = my_query(m, sql);
    MYSQL_ROW row;
    unsigned nf;

    assert_non_null(res);
    nf = mysql_num_fields(res);
    while ((row = mysql_fetch_row(res)) != NULL) {
        const unsigned long *lens = mysql_fetch_lengths(res);
        bputf(b, "%s:", section);
        for (unsigned j = 0; j < nf; j++) {
            if (j)
                bput(b, "|", 1);
            if (!row[j])
                bput(b, "NULL", 4);
            else
                bput_value(b, row[j], lens[j]);
        }
        bput(b, "\n", 1);
    }
    mysql_free_result(res);
}

/* `name` with backticks doubled. */
static void my_ident(struct vz_buf *b, const char *s)
{
    bput(b, "`", 1);
    for (; *s; s++) {
        if (*s == '`')
            bput(b, "``", 2);
        else
            bput(b, s, 1);
    }
    bput(b, "`", 1);
}

#define MY_SCHEMAS "('vz_test', 'vz_sales', 'vz_empty')"

/* CHECKSUM TABLE of every table and sequence of the three fixture schemas,
 * in one statement. */
static void my_tables(MYSQL *m, struct vz_buf *b)
{
    struct vz_buf q = VZ_BUF_INIT(0);
    MYSQL_RES *res = my_query(m, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
                                 " WHERE TABLE_SCHEMA IN " MY_SCHEMAS
                                 " AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE')"
                                 " ORDER BY 1, 2");
    MYSQL_ROW row;
    int n = 0;

    bputf(&q, "CHECKSUM TABLE ");
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (n++)
            bput(&q, ", ", 2);
        my_ident(&q, row[0]);
        bput(&q, ".", 1);
        my_ident(&q, row[1]);
    }
    mysql_free_result(res);
    assert_true(n > 5);
    bputf(&q, " EXTENDED");
    my_section(m, "checksum", vz_buf_cstr(&q), b);
    vz_buf_release(&q);
}

static const struct {
    const char *name, *sql;
} my_catalog_sections[] = {
    {"schema", "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
               " FROM information_schema.SCHEMATA"},
    {"table", "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, AUTO_INCREMENT,"
              " TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT FROM information_schema.TABLES"
              " WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema')"},
    {"column", "SELECT TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE,"
               " IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS"
               " WHERE TABLE_SCHEMA IN " MY_SCHEMAS},
    {"routine", "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, DEFINER, SECURITY_TYPE,"
                " MD5(ROUTINE_DEFINITION) FROM information_schema.ROUTINES"},
    {"view", "SELECT TABLE_SCHEMA, TABLE_NAME, DEFINER, SECURITY_TYPE, MD5(VIEW_DEFINITION)"
             " FROM information_schema.VIEWS"},
    {"trigger", "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, EVENT_MANIPULATION,"
                " MD5(ACTION_STATEMENT) FROM information_schema.TRIGGERS"},
    {"event", "SELECT EVENT_SCHEMA, EVENT_NAME, STATUS, DEFINER, MD5(EVENT_DEFINITION)"
              " FROM information_schema.EVENTS"},
    {"global_priv", "SELECT Host, User, Priv FROM mysql.global_priv"},
    {"grant_tables", "CHECKSUM TABLE mysql.global_priv, mysql.db, mysql.tables_priv,"
                     " mysql.columns_priv, mysql.procs_priv, mysql.proxies_priv,"
                     " mysql.roles_mapping EXTENDED"},
    {"variable", "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES"},
};

/* ---- the checkers, one per dialect -------------------------------------- */

struct checker {
    enum vz_db_type db;
    enum vz_dialect dialect;
    const char *name;   /* "PostgreSQL" */
    const char *corpus; /* attack file */
    struct vz_conn_cfg admin;
    PGconn *pg; /* superuser over the unix socket */
    MYSQL *my;  /* root over the unix socket */
    char datadir[PATH_MAX];
    struct paths paths;
};

static void checker_paths(struct checker *k)
{
    struct corpus a, b;
    corpus_load(&a, "attacks-pg.sql");
    corpus_load(&b, "attacks-mysql.sql");
    paths_scan(&k->paths, &a);
    paths_scan(&k->paths, &b);
    corpus_free(&a);
    corpus_free(&b);
    assert_true(k->paths.nabs >= 4);
}

static void checker_open(struct checker *k, enum vz_db_type db)
{
    memset(k, 0, sizeof(*k));
    k->db = db;
    k->admin.type = db;
    k->admin.connect_timeout_s = 10;
    k->admin.statement_timeout_ms = PROOF_STMT_TIMEOUT_MS;
    k->admin.application_name = PROOF_APP;
    if (db == VZ_DB_POSTGRES) {
        PGresult *r;
        k->dialect = VZ_DIALECT_POSTGRES;
        k->name = "PostgreSQL";
        k->corpus = "attacks-pg.sql";
        k->admin.host = vzt_env("VZ_PG_HOST");
        k->admin.port = atoi(vzt_env("VZ_PG_PORT"));
        k->admin.database = vzt_env("VZ_PG_DB");
        k->admin.username = vzt_env("VZ_PG_ADMIN_USER");
        k->admin.password = vzt_env("VZ_PG_ADMIN_PASSWORD");
        k->pg = pg_connect(vzt_env("VZ_PG_SOCKET_DIR"), vzt_env("VZ_PG_SUPERUSER"), NULL,
                           "vz-proof-checker");
        r = pg_query(k->pg, "SELECT current_setting('data_directory'), rolsuper FROM pg_roles"
                            " WHERE rolname = current_user");
        snprintf(k->datadir, sizeof(k->datadir), "%s", PQgetvalue(r, 0, 0));
        if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
            fail_msg("%s is not a superuser", vzt_env("VZ_PG_SUPERUSER"));
        PQclear(r);
    } else {
        MYSQL_RES *res;
        MYSQL_ROW row;
        k->dialect = VZ_DIALECT_MYSQL;
        k->name = "MySQL";
        k->corpus = "attacks-mysql.sql";
        k->admin.host = vzt_env("VZ_MY_HOST");
        k->admin.port = atoi(vzt_env("VZ_MY_PORT"));
        k->admin.database = vzt_env("VZ_MY_DB");
        k->admin.username = vzt_env("VZ_MY_ADMIN_USER");
        k->admin.password = vzt_env("VZ_MY_ADMIN_PASSWORD");
        k->my = my_connect("localhost", 0, vzt_env("VZ_MY_SUPERUSER"), NULL,
                           vzt_env("VZ_MY_SOCKET"), NULL);
        res = my_query(k->my, "SELECT @@datadir");
        row = mysql_fetch_row(res);
        assert_non_null(row);
        snprintf(k->datadir, sizeof(k->datadir), "%s", row[0]);
        mysql_free_result(res);
        /* Drop a trailing '/' so that paths print cleanly. */
        if (strlen(k->datadir) > 1 && k->datadir[strlen(k->datadir) - 1] == '/')
            k->datadir[strlen(k->datadir) - 1] = '\0';
    }
    checker_paths(k);
}

static void checker_close(struct checker *k)
{
    if (k->pg)
        PQfinish(k->pg);
    if (k->my)
        mysql_close(k->my);
    paths_free(&k->paths);
    memset(k, 0, sizeof(*k));
}

static void snapshot(struct checker *k, struct lines *out)
{
    struct vz_buf b = VZ_BUF_INIT(0);

    if (k->db == VZ_DB_POSTGRES) {
        const char *dirs[] = {k->datadir};
        pg_tables(k->pg, &b);
        for (size_t i = 0; i < sizeof(pg_catalog_sections) / sizeof(pg_catalog_sections[0]); i++)
            pg_section(k->pg, pg_catalog_sections[i].name, pg_catalog_sections[i].sql, &b);
        snap_paths(&b, &k->paths, dirs, 1);
    } else {
        static const char *const dbs[] = {"vz_test", "vz_sales", "vz_empty"};
        char sub[3][PATH_MAX];
        const char *dirs[4] = {k->datadir, sub[0], sub[1], sub[2]};

        my_tables(k->my, &b);
        for (size_t i = 0; i < sizeof(my_catalog_sections) / sizeof(my_catalog_sections[0]); i++)
            my_section(k->my, my_catalog_sections[i].name, my_catalog_sections[i].sql, &b);
        snap_dir(&b, ".", k->datadir);
        for (size_t i = 0; i < 3; i++) {
            assert_true((size_t)snprintf(sub[i], sizeof(sub[i]), "%s/%s", k->datadir, dbs[i]) <
                        sizeof(sub[i]));
            snap_dir(&b, dbs[i], sub[i]);
        }
        snap_paths(&b, &k->paths, dirs, 4);
    }
    lines_take(out, &b);
}

/* Wait until no session of the admin user is left on the server: a closed
 * client's backend may still be finishing (releasing locks, rolling back). */
static void wait_sessions_gone(struct checker *k)
{
    int64_t deadline = vz_mono_ms() + PROOF_IDLE_WAIT_MS;
    char sql[256];

    for (;;) {
        long n;
        if (k->db == VZ_DB_POSTGRES) {
            PGresult *r;
            char *user = PQescapeLiteral(k->pg, k->admin.username, strlen(k->admin.username));
            assert_non_null(user);
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                     user);
            PQfreemem(user);
            r = pg_query(k->pg, sql);
            n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
        } else {
            MYSQL_RES *res;
            MYSQL_ROW row;
            char user[128];
            assert_true(strlen(k->admin.username) < sizeof(user) / 2);
            mysql_real_escape_string(k->my, user, k->admin.username,
                                     (unsigned long)strlen(k->admin.username));
            snprintf(sql, sizeof(sql),
                     "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s'", user);
            res = my_query(k->my, sql);
            row = mysql_fetch_row(res);
            n = row && row[0] ? strtol(row[0], NULL, 10) : -1;
            mysql_free_result(res);
        }
        if (n == 0)
            return;
        if (vz_mono_ms() > deadline)
            fail_msg("%s: %ld session(s) of %s still on the server after %d ms", k->name, n,
                     k->admin.username, PROOF_IDLE_WAIT_MS);
        usleep(5000);
    }
}

/* ---- running one attack the way an extraction runs custom SQL ----------- */

enum outcome {
    O_SINGLE,   /* the server refused a second statement */
    O_READONLY, /* the read-only transaction refused a write (25006 / 1792) */
    O_PERM,     /* the user lacks a privilege (42501, MySQL 1044/1045/1142/1227...) */
    O_TIMEOUT,  /* the statement timeout ended it */
    O_OPEN,     /* another error before any row: parse, describe, no result set... */
    O_FILL,     /* another error while rows were read */
    O_NOCOLS,   /* opened, but every column is skipped: the extraction stops there */
    O_RAN,      /* ran to the end and returned its rows */
    O_COUNT_
};

static const char *const outcome_text[O_COUNT_] = {
    "refused by the single-statement rule",
    "refused by the read-only transaction",
    "refused for lack of privileges",
    "ended by the statement timeout",
    "failed at prepare/describe/start (syntax, no result, unknown object...)",
    "failed while streaming",
    "opened with every column skipped (extraction stops)",
    "ran to the end harmlessly",
};

/* The server's error number in a backend message: "(SQLSTATE 25006)" or
 * "(MySQL error 1792)"; "" if none. */
static void server_code(const char *msg, char *out, size_t n)
{
    const char *p = strstr(msg, "(SQLSTATE ");
    size_t skip = strlen("(SQLSTATE ");
    out[0] = '\0';
    if (!p) {
        p = strstr(msg, "(MySQL error ");
        skip = strlen("(MySQL error ");
    }
    if (p)
        snprintf(out, n, "%.*s", (int)strcspn(p + skip, ")"), p + skip);
}

static enum outcome classify(const struct checker *k, int rc, const char *msg,
                             const char *guard_reason, int in_fill)
{
    static const char *const my_perm[] = {"1044", "1045", "1142", "1143", "1227", "1370"};
    char code[16];

    server_code(msg, code, sizeof(code));
    if (rc == VZ_ENOT_READONLY)
        return O_READONLY;
    if (rc == VZ_ETIMEOUT)
        return O_TIMEOUT;
    /* PostgreSQL names the rule; MySQL without CLIENT_MULTI_STATEMENTS sees
     * "a; b" as one statement with a syntax error at the second one. */
    if (k->db == VZ_DB_POSTGRES && strstr(msg, "cannot insert multiple commands"))
        return O_SINGLE;
    if (k->db == VZ_DB_MYSQL && strcmp(code, "1064") == 0 &&
        strstr(guard_reason, "only one statement"))
        return O_SINGLE;
    if (rc == VZ_EPERM || strcmp(code, "42501") == 0)
        return O_PERM;
    for (size_t i = 0; k->db == VZ_DB_MYSQL && i < sizeof(my_perm) / sizeof(my_perm[0]); i++)
        if (strcmp(code, my_perm[i]) == 0)
            return O_PERM;
    return in_fill ? O_FILL : O_OPEN;
}

static duckdb_data_chunk make_chunk(const struct vz_stream *st)
{
    duckdb_logical_type types[256];
    duckdb_data_chunk ch;

    assert_true(st->nout > 0 && st->nout <= 256);
    for (size_t i = 0; i < st->ncols; i++) {
        const struct vz_stream_col *c = &st->cols[i];
        if (c->out_index < 0)
            continue;
        types[c->out_index] = vz_stream_logical_type(c);
        assert_non_null(types[c->out_index]);
    }
    ch = duckdb_create_data_chunk(types, st->nout);
    for (size_t i = 0; i < st->nout; i++)
        duckdb_destroy_logical_type(&types[i]);
    assert_non_null(ch);
    return ch;
}

struct attack_result {
    enum outcome o;
    uint64_t rows;
    char msg[VZ_ERR_MSG_MAX];
};

static void run_attack(const struct checker *k, const char *sql, const char *guard_reason,
                       struct attack_result *res)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *src = NULL;
    struct vz_stream st;
    duckdb_data_chunk ch = NULL;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&st, 0, sizeof(st));
    st.decimal_mode = VZ_DECIMAL_DOUBLE;
    rc = vz_source_open(&k->admin, &src, &err);
    if (rc != 0)
        fail_msg("%s: connecting as %s failed: %s (%s)", k->name, k->admin.username, err.msg,
                 vz_err_name(rc));
    rc = vz_source_stream_open(src, sql, &st, &err);
    if (rc != 0) {
        assert_true(rc < 0);
        res->o = classify(k, rc, err.msg, guard_reason, 0);
        snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
        goto out;
    }
    if (st.nout == 0) {
        /* The extraction refuses before the first fill: so do we. */
        res->o = O_NOCOLS;
        vz_source_stream_close(src, &st);
        goto out;
    }
    ch = make_chunk(&st);
    for (;;) {
        size_t n = 0;
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(src, &st, ch, &n, &err);
        if (rc != 0) {
            res->o = classify(k, rc, err.msg, guard_reason, 1);
            snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
            break;
        }
        if (n == 0) {
            res->o = O_RAN;
            break;
        }
        res->rows += n;
    }
    vz_source_stream_close(src, &st);
out:
    vz_stream_release(&st);
    if (ch)
        duckdb_destroy_data_chunk(&ch);
    vz_source_close(src);
}

/* ---- 1. the guard rejects every attack ---------------------------------- */

static void guard_rejects_all(enum vz_dialect d, const char *file)
{
    struct corpus c;
    corpus_load(&c, file);
    assert_true(c.n >= 30);
    for (size_t i = 0; i < c.n; i++) {
        struct vz_err err = VZ_ERR_INIT;
        int rc = vz_sqlguard_check(d, c.v[i].sql, c.v[i].len, &err);
        if (rc != VZ_ENOT_READONLY)
            fail_msg("%s:%d: the guard answered %s (%s) for:\n%s", c.path, c.v[i].line,
                     vz_err_name(rc), err.msg, c.v[i].sql);
    }
    corpus_free(&c);
}

static void test_pg_guard_rejects_every_attack(void **state)
{
    (void)state;
    guard_rejects_all(VZ_DIALECT_POSTGRES, "attacks-pg.sql");
}

static void test_mysql_guard_rejects_every_attack(void **state)
{
    (void)state;
    guard_rejects_all(VZ_DIALECT_MYSQL, "attacks-mysql.sql");
}

/* ---- 2. without the guard, the sessions still change nothing ----------- */

static void attacks_change_nothing(enum vz_db_type db)
{
    struct checker k;
    struct corpus c;
    struct lines before, after;
    struct vz_buf findings = VZ_BUF_INIT(0);
    size_t count[O_COUNT_] = {0}, changed = 0;
    int64_t t0 = vz_mono_ms();

    checker_open(&k, db);
    corpus_load(&c, k.corpus);
    assert_true(c.n >= 30);
    for (size_t i = 0; i < k.paths.nabs; i++) {
        struct stat sb;
        if (strncmp(k.paths.abs[i], "/tmp/", 5) == 0 && lstat(k.paths.abs[i], &sb) == 0)
            printf("  note: %s exists before the attacks; it must stay unchanged\n",
                   k.paths.abs[i]);
    }

    wait_sessions_gone(&k);
    snapshot(&k, &before);
    for (size_t i = 0; i < c.n; i++) {
        const struct rec *r = &c.v[i];
        struct vz_err guard = VZ_ERR_INIT;
        struct attack_result res;
        struct vz_buf diff = VZ_BUF_INIT(0);
        char head[80];
        size_t ndiff;

        /* The guard's reason only tells the single-statement rule from other
         * syntax errors; whether it refuses is checked by test 1. */
        if (vz_sqlguard_check(k.dialect, r->sql, r->len, &guard) == 0)
            snprintf(guard.msg, sizeof(guard.msg), "accepted");
        run_attack(&k, r->sql, guard.msg, &res);
        count[res.o]++;
        wait_sessions_gone(&k);
        snapshot(&k, &after);
        ndiff = lines_diff(&before, &after, &diff);
        first_line(r->sql, head, sizeof(head));
        if (verbose())
            printf("  %s:%d %-40.40s -> %s%s%s (%llu rows)\n", k.corpus, r->line, head,
                   outcome_text[res.o], res.msg[0] ? ": " : "", res.msg,
                   (unsigned long long)res.rows);
        if (ndiff) {
            changed++;
            bputf(&findings,
                  "  FINDING %s:%d: %s\n    session layer: %s%s%s\n    %zu line(s) changed:\n%s",
                  k.corpus, r->line, head, outcome_text[res.o], res.msg[0] ? ": " : "", res.msg,
                  ndiff, vz_buf_cstr(&diff));
        }
        vz_buf_release(&diff);
        lines_free(&before);
        before = after;
    }
    lines_free(&before);

    printf("  %s: %zu attacks sent as %s without the guard (%.1f s):\n", k.name, c.n,
           k.admin.username, (double)(vz_mono_ms() - t0) / 1000.0);
    for (int o = 0; o < O_COUNT_; o++)
        if (count[o])
            printf("    %3zu %s\n", count[o], outcome_text[o]);
    printf("    %3zu changed something\n", changed);
    if (changed) {
        printf("%s", vz_buf_cstr(&findings));
        fflush(stdout);
    }
    vz_buf_release(&findings);
    corpus_free(&c);
    checker_close(&k);
    if (changed)
        fail_msg("%zu %s attack(s) changed the server (listed above)", changed,
                 db == VZ_DB_POSTGRES ? "PostgreSQL" : "MySQL");
}

static void test_pg_attacks_change_nothing_without_the_guard(void **state)
{
    (void)state;
    attacks_change_nothing(VZ_DB_POSTGRES);
}

static void test_mysql_attacks_change_nothing_without_the_guard(void **state)
{
    (void)state;
    attacks_change_nothing(VZ_DB_MYSQL);
}

/* The snapshots must see what they are meant to see: a row, a role
 * attribute and a file changed (inside a transaction that is rolled back, so
 * the fixtures stay as they are). */
static void test_pg_snapshot_sees_changes(void **state)
{
    struct checker k;
    struct lines a, b;
    struct vz_buf diff = VZ_BUF_INIT(0);
    (void)state;

    checker_open(&k, VZ_DB_POSTGRES);
    snapshot(&k, &a);
    PQclear(pg_query(k.pg, "BEGIN"));
    PQclear(pg_query(k.pg, "UPDATE customers SET name = name || '.' WHERE id = 1"));
    PQclear(pg_query(k.pg, "ALTER ROLE vz_reader CONNECTION LIMIT 7"));
    snapshot(&k, &b);
    PQclear(pg_query(k.pg, "ROLLBACK"));
    assert_int_equal(lines_diff(&a, &b, &diff), 4);
    assert_non_null(strstr(vz_buf_cstr(&diff), "rows:public.customers|"));
    assert_non_null(strstr(vz_buf_cstr(&diff), "|vz_reader|"));
    lines_free(&b);
    snapshot(&k, &b);
    assert_int_equal(lines_diff(&a, &b, &diff), 0);
    lines_free(&a);
    lines_free(&b);
    vz_buf_release(&diff);
    checker_close(&k);
}

static void test_mysql_snapshot_sees_changes(void **state)
{
    struct checker k;
    struct lines a, b;
    struct vz_buf diff = VZ_BUF_INIT(0);
    (void)state;

    checker_open(&k, VZ_DB_MYSQL);
    snapshot(&k, &a);
    my_exec(k.my, "START TRANSACTION");
    my_exec(k.my, "UPDATE vz_test.customers SET name = CONCAT(name, '.') WHERE id = 1");
    snapshot(&k, &b);
    my_exec(k.my, "ROLLBACK");
    assert_int_equal(lines_diff(&a, &b, &diff), 2);
    assert_non_null(strstr(vz_buf_cstr(&diff), "checksum:vz_test.customers|"));
    lines_free(&b);
    snapshot(&k, &b);
    assert_int_equal(lines_diff(&a, &b, &diff), 0);
    lines_free(&a);
    lines_free(&b);
    vz_buf_release(&diff);
    checker_close(&k);
}

/* The control for test 2: the attacks run as a user that may write, so what
 * stops them is the session layer, not a lack of privileges. Outside it the
 * same user changes a row (rolled back at once). */
static void test_admin_could_write_outside_the_session_layer(void **state)
{
    PGconn *pg;
    MYSQL *my;
    PGresult *r;
    (void)state;

    pg = pg_connect(vzt_env("VZ_PG_HOST"), vzt_env("VZ_PG_ADMIN_USER"),
                    vzt_env("VZ_PG_ADMIN_PASSWORD"), "vz-proof-control");
    PQclear(pg_query(pg, "BEGIN"));
    r = pg_query(pg, "UPDATE customers SET name = name || '.' WHERE id = 1");
    assert_string_equal(PQcmdTuples(r), "1");
    PQclear(r);
    PQclear(pg_query(pg, "ROLLBACK"));
    PQfinish(pg);

    my = my_connect(vzt_env("VZ_MY_HOST"), atoi(vzt_env("VZ_MY_PORT")), vzt_env("VZ_MY_ADMIN_USER"),
                    vzt_env("VZ_MY_ADMIN_PASSWORD"), NULL, vzt_env("VZ_MY_DB"));
    my_exec(my, "START TRANSACTION");
    my_exec(my, "UPDATE customers SET name = CONCAT(name, '.') WHERE id = 1");
    assert_int_equal(mysql_affected_rows(my), 1);
    my_exec(my, "ROLLBACK");
    mysql_close(my);
}

static void test_path_snapshot_sees_a_new_file(void **state)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], sql[2 * PATH_MAX];
    const char *dirs[1];
    struct paths p;
    struct vz_buf x = VZ_BUF_INIT(0), y = VZ_BUF_INIT(0), diff = VZ_BUF_INIT(0);
    struct lines a, b;
    struct corpus c;
    FILE *f;
    (void)state;

    vzt_tmpdir(dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/out.txt", dir);
    snprintf(sql, sizeof(sql), "SELECT 1 INTO OUTFILE '%s', pg_file_write('x2.log', 'a b')", file);
    memset(&p, 0, sizeof(p));
    memset(&c, 0, sizeof(c));
    corpus_add(&c, sql, strlen(sql), "", 1);
    paths_scan(&p, &c);
    assert_int_equal(p.nabs, 1);
    assert_int_equal(p.nrel, 1);
    assert_string_equal(p.rel[0], "x2.log");
    dirs[0] = dir;
    snap_paths(&x, &p, dirs, 1);
    lines_take(&a, &x);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snap_paths(&y, &p, dirs, 1);
    lines_take(&b, &y);
    assert_int_equal(lines_diff(&a, &b, &diff), 2);
    lines_free(&a);
    lines_free(&b);
    vz_buf_release(&diff);
    paths_free(&p);
    corpus_free(&c);
    vzt_rmrf(dir);
}

/* ---- 3. legitimate queries: same rows as the server gives directly ------ */

/* What is compared, per column of the stream's DuckDB type:
 *   integers        the server's text read as an integer
 *   BOOLEAN         t/f (PostgreSQL) or 0/non-0 (MySQL TINYINT(1))
 *   DOUBLE / FLOAT  the server's text through strtod/strtof, both printed
 *                   "%.17g" / "%.9g" (NaN spelled one way: its sign is noise);
 *                   NUMERIC/DECIMAL stream as DOUBLE in the default decimal
 *                   mode, so the server's exact digits go through strtod
 *   VARCHAR         byte for byte: for these columns the stream carries the
 *                   server's own text form (text, enum, json, uuid, ...)
 * Not compared, counted as such: types whose Parquet value is not the text
 * the server prints (dates and times as numbers, arrays and hstore as JSON,
 * geometry as WKT, money, bit strings as numbers, binary). test_pgstream.c
 * and test_mystream.c check those values one by one against the server.
 * Rows are compared as a sorted multiset: a query without ORDER BY may
 * come back in another order once wrapped (LIMIT, COPY (...)). The stream
 * gets the text the extraction would send; the direct run gets the user's
 * text as written. Column names and counts must match too. */
#define LEGIT_ROW_CAP 1000001

enum kind { K_SKIP, K_INT, K_UINT, K_BOOL, K_F32, K_F64, K_TEXT };

static enum kind col_kind(const struct vz_stream_col *c)
{
    duckdb_logical_type t;
    duckdb_type id;

    if (c->out_index < 0)
        return K_SKIP;
    switch (c->map.conv) {
    case VZ_CONV_ARRAY_JSON:
    case VZ_CONV_HSTORE_JSON:
    case VZ_CONV_WKT_TEXT:
    case VZ_CONV_BIT_INT:
    case VZ_CONV_BIT_TO_BOOL:
    case VZ_CONV_MONEY_TO_DOUBLE:
        return K_SKIP;
    default:
        break;
    }
    t = vz_stream_logical_type(c);
    assert_non_null(t);
    id = duckdb_get_type_id(t);
    duckdb_destroy_logical_type(&t);
    switch (id) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
        return K_INT;
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
        return K_UINT;
    case DUCKDB_TYPE_BOOLEAN:
        return K_BOOL;
    case DUCKDB_TYPE_FLOAT:
        return K_F32;
    case DUCKDB_TYPE_DOUBLE:
        return K_F64;
    case DUCKDB_TYPE_VARCHAR:
        return K_TEXT;
    default:
        return K_SKIP;
    }
}

static void put_double(struct vz_buf *b, double v)
{
    if (isnan(v))
        bputf(b, "F:nan;");
    else
        bputf(b, "F:%.17g;", v);
}

static void put_float(struct vz_buf *b, float v)
{
    if (isnan(v))
        bputf(b, "F:nan;");
    else
        bputf(b, "F:%.9g;", (double)v);
}

/* One value of the chunk in the canonical form above. */
static void put_chunk_value(struct vz_buf *b, duckdb_vector v, idx_t r, enum kind k)
{
    const uint64_t *validity = duckdb_vector_get_validity(v);
    const void *d = duckdb_vector_get_data(v);
    duckdb_logical_type t;
    duckdb_type id;

    if (validity && !duckdb_validity_row_is_valid((uint64_t *)validity, r)) {
        bputf(b, "NULL;");
        return;
    }
    t = duckdb_vector_get_column_type(v);
    id = duckdb_get_type_id(t);
    duckdb_destroy_logical_type(&t);
    switch (id) {
    case DUCKDB_TYPE_TINYINT:
        bputf(b, "I:%lld;", (long long)((const int8_t *)d)[r]);
        break;
    case DUCKDB_TYPE_SMALLINT:
        bputf(b, "I:%lld;", (long long)((const int16_t *)d)[r]);
        break;
    case DUCKDB_TYPE_INTEGER:
        bputf(b, "I:%lld;", (long long)((const int32_t *)d)[r]);
        break;
    case DUCKDB_TYPE_BIGINT:
        bputf(b, "I:%lld;", (long long)((const int64_t *)d)[r]);
        break;
    case DUCKDB_TYPE_UTINYINT:
        bputf(b, "I:%llu;", (unsigned long long)((const uint8_t *)d)[r]);
        break;
    case DUCKDB_TYPE_USMALLINT:
        bputf(b, "I:%llu;", (unsigned long long)((const uint16_t *)d)[r]);
        break;
    case DUCKDB_TYPE_UINTEGER:
        bputf(b, "I:%llu;", (unsigned long long)((const uint32_t *)d)[r]);
        break;
    case DUCKDB_TYPE_UBIGINT:
        bputf(b, "I:%llu;", (unsigned long long)((const uint64_t *)d)[r]);
        break;
    case DUCKDB_TYPE_BOOLEAN:
        bputf(b, "B:%d;", ((const bool *)d)[r] ? 1 : 0);
        break;
    case DUCKDB_TYPE_FLOAT:
        put_float(b, ((const float *)d)[r]);
        break;
    case DUCKDB_TYPE_DOUBLE:
        put_double(b, ((const double *)d)[r]);
        break;
    case DUCKDB_TYPE_VARCHAR: {
        duckdb_string_t *s = (duckdb_string_t *)d + r;
        uint32_t len = duckdb_string_t_length(*s);
        bputf(b, "T%u:", (unsigned)len);
        bput(b, duckdb_string_t_data(s), len);
        bput(b, ";", 1);
        break;
    }
    default:
        fail_msg("unexpected DuckDB type %d for a compared column (kind %d)", (int)id, (int)k);
    }
}

/* One value of the server's text result in the same form. */
static void put_server_value(struct vz_buf *b, const char *s, size_t n, enum kind k)
{
    if (!s) {
        bputf(b, "NULL;");
        return;
    }
    switch (k) {
    case K_INT:
        bputf(b, "I:%lld;", strtoll(s, NULL, 10));
        break;
    case K_UINT:
        bputf(b, "I:%llu;", strtoull(s, NULL, 10));
        break;
    case K_BOOL:
        bputf(b, "B:%d;",
              strcmp(s, "t") == 0 || strcmp(s, "true") == 0 ||
                  (s[0] >= '0' && s[0] <= '9' && strtoll(s, NULL, 10) != 0) ||
                  (s[0] == '-' && strtoll(s, NULL, 10) != 0));
        break;
    case K_F32:
        put_float(b, strtof(s, NULL));
        break;
    case K_F64:
        put_double(b, strtod(s, NULL));
        break;
    case K_TEXT:
        bputf(b, "T%zu:", n);
        bput(b, s, n);
        bput(b, ";", 1);
        break;
    default:
        fail_msg("kind %d is not compared", (int)k);
    }
}

/* A multiset of rows, each the canonical text of its compared values. */
struct rowset {
    struct vz_buf *v;
    size_t n, cap;
};

static struct vz_buf *rowset_new_row(struct rowset *rs)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
        assert_non_null(rs->v);
    }
    vz_buf_init(&rs->v[rs->n], 0);
    /* An empty row (nothing compared) still counts as a row. */
    bput(&rs->v[rs->n], "", 0);
    return &rs->v[rs->n++];
}

static int cmp_row(const void *a, const void *b)
{
    const struct vz_buf *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void rowset_free(struct rowset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        vz_buf_release(&rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

/* Compare as sorted multisets; describe the first difference in msg. */
static int rowsets_equal(struct rowset *a, struct rowset *b, char *msg, size_t n)
{
    if (a->n)
        qsort(a->v, a->n, sizeof(*a->v), cmp_row);
    if (b->n)
        qsort(b->v, b->n, sizeof(*b->v), cmp_row);
    if (a->n != b->n) {
        snprintf(msg, n, "%zu rows streamed, %zu from the server", a->n, b->n);
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (cmp_row(&a->v[i], &b->v[i]) != 0) {
            snprintf(msg, n, "sorted row %zu differs:\n  stream: %.300s\n  server: %.300s", i,
                     vz_buf_cstr(&a->v[i]), vz_buf_cstr(&b->v[i]));
            return 0;
        }
    }
    return 1;
}

struct legit_stats {
    size_t queries, rows, values, skipped_cols;
    struct vz_buf skipped; /* "name (type)" of columns not compared */
};

/* Stream sql as the reader into rows of canonical values; kinds[] gets
 * each column's kind (ncols entries, allocated). */
static void stream_rows(struct vz_source *src, const char *sql, const char *where,
                        struct vz_stream *st, enum kind **kinds, struct rowset *rs,
                        struct legit_stats *ls)
{
    struct vz_err err = VZ_ERR_INIT;
    duckdb_data_chunk ch;
    int rc;

    memset(st, 0, sizeof(*st));
    st->decimal_mode = VZ_DECIMAL_DOUBLE;
    rc = vz_source_stream_open(src, sql, st, &err);
    if (rc != 0)
        fail_msg("%s: stream_open failed: %s (%s)", where, err.msg, vz_err_name(rc));
    *kinds = calloc(st->ncols ? st->ncols : 1, sizeof(**kinds));
    assert_non_null(*kinds);
    for (size_t i = 0; i < st->ncols; i++) {
        (*kinds)[i] = col_kind(&st->cols[i]);
        if ((*kinds)[i] == K_SKIP) {
            ls->skipped_cols++;
            bputf(&ls->skipped, "%s%s (%s)", ls->skipped.len ? ", " : "", st->cols[i].name,
                  st->cols[i].source_type);
        }
    }
    ch = make_chunk(st);
    for (;;) {
        size_t n = 0;
        duckdb_data_chunk_reset(ch);
        rc = vz_source_stream_fill(src, st, ch, &n, &err);
        if (rc != 0)
            fail_msg("%s: stream_fill failed: %s (%s)", where, err.msg, vz_err_name(rc));
        if (n == 0)
            break;
        for (idx_t r = 0; r < n; r++) {
            struct vz_buf *row = rowset_new_row(rs);
            for (size_t i = 0; i < st->ncols; i++) {
                if ((*kinds)[i] == K_SKIP)
                    continue;
                put_chunk_value(row, duckdb_data_chunk_get_vector(ch, (idx_t)st->cols[i].out_index),
                                r, (*kinds)[i]);
                ls->values++;
            }
        }
    }
    duckdb_destroy_data_chunk(&ch);
    vz_source_stream_close(src, st);
}

static struct vz_source *open_reader(enum vz_db_type db)
{
    struct vz_conn_cfg c;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_source *s = NULL;
    const char *pfx = db == VZ_DB_POSTGRES ? "VZ_PG_" : "VZ_MY_";
    char name[64];
    int rc;

    memset(&c, 0, sizeof(c));
    c.type = db;
#define ENV(suffix) (snprintf(name, sizeof(name), "%s%s", pfx, suffix), vzt_env(name))
    c.host = ENV("HOST");
    c.port = atoi(ENV("PORT"));
    c.database = ENV("DB");
    c.username = ENV("RO_USER");
    c.password = ENV("RO_PASSWORD");
#undef ENV
    c.connect_timeout_s = 10;
    rc = vz_source_open(&c, &s, &err);
    if (rc != 0)
        fail_msg("vz_source_open as the reader: %s (%s)", err.msg, vz_err_name(rc));
    return s;
}

static void legit_queries_match(enum vz_db_type db)
{
    enum vz_dialect d = db == VZ_DB_POSTGRES ? VZ_DIALECT_POSTGRES : VZ_DIALECT_MYSQL;
    struct legit_stats ls;
    struct vz_source *src = open_reader(db);
    struct vz_buf wrapped = VZ_BUF_INIT(0);
    PGconn *pg = NULL;
    MYSQL *my = NULL;
    struct corpus c;

    memset(&ls, 0, sizeof(ls));
    vz_buf_init(&ls.skipped, 0);
    if (db == VZ_DB_POSTGRES) {
        pg = pg_connect(vzt_env("VZ_PG_HOST"), vzt_env("VZ_PG_RO_USER"),
                        vzt_env("VZ_PG_RO_PASSWORD"), "vz-proof-direct");
        corpus_load(&c, "legit-pg.sql");
    } else {
        my =
            my_connect(vzt_env("VZ_MY_HOST"), atoi(vzt_env("VZ_MY_PORT")), vzt_env("VZ_MY_RO_USER"),
                       vzt_env("VZ_MY_RO_PASSWORD"), NULL, vzt_env("VZ_MY_DB"));
        /* The source's session uses UTC too (sources/mysql.c). */
        my_exec(my, "SET time_zone = '+00:00'");
        corpus_load(&c, "legit-mysql.sql");
    }
    assert_true(c.n >= 13);

    for (size_t q = 0; q < c.n; q++) {
        const struct rec *r = &c.v[q];
        struct vz_err err = VZ_ERR_INIT;
        struct rowset got = {0}, want = {0};
        struct vz_stream st;
        enum kind *kinds = NULL;
        char where[PATH_MAX + 32], msg[800];
        int rc = vz_sqlguard_check(d, r->sql, r->len, &err);

        snprintf(where, sizeof(where), "%s:%d", c.path, r->line);
        if (rc != 0)
            fail_msg("%s: the guard refused a legitimate query (%s): %s", where, err.msg, r->sql);
        /* What the extraction streams (app/extractsvc.c): on PostgreSQL the
         * text wrapped by vz_sqlguard_wrap_limit() (the cap is far above any
         * fixture result), on MySQL the text itself. */
        if (d == VZ_DIALECT_POSTGRES) {
            rc = vz_sqlguard_wrap_limit(d, r->sql, r->len, LEGIT_ROW_CAP, &wrapped, &err);
            if (rc != 0)
                fail_msg("%s: wrap_limit failed (%s)", where, err.msg);
        } else {
            vz_buf_reset(&wrapped);
            bput(&wrapped, r->sql, r->len);
        }
        stream_rows(src, vz_buf_cstr(&wrapped), where, &st, &kinds, &got, &ls);

        if (pg) {
            PGresult *res = PQexec(pg, r->sql);
            if (PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%s: run directly: %s", where, PQresultErrorMessage(res));
            if ((size_t)PQnfields(res) != st.ncols)
                fail_msg("%s: %zu columns streamed, %d from the server", where, st.ncols,
                         PQnfields(res));
            for (size_t i = 0; i < st.ncols; i++)
                if (strcmp(st.cols[i].name, PQfname(res, (int)i)) != 0)
                    fail_msg("%s: column %zu is \"%s\" streamed, \"%s\" directly", where, i + 1,
                             st.cols[i].name, PQfname(res, (int)i));
            for (int i = 0; i < PQntuples(res); i++) {
                struct vz_buf *row = rowset_new_row(&want);
                for (size_t j = 0; j < st.ncols; j++)
                    if (kinds[j] != K_SKIP)
                        put_server_value(
                            row, PQgetisnull(res, i, (int)j) ? NULL : PQgetvalue(res, i, (int)j),
                            (size_t)PQgetlength(res, i, (int)j), kinds[j]);
            }
            PQclear(res);
        } else {
            MYSQL_RES *res = my_query(my, r->sql);
            const MYSQL_FIELD *f;
            MYSQL_ROW row;
            assert_non_null(res);
            if (mysql_num_fields(res) != st.ncols)
                fail_msg("%s: %zu columns streamed, %u from the server", where, st.ncols,
                         mysql_num_fields(res));
            f = mysql_fetch_fields(res);
            for (size_t i = 0; i < st.ncols; i++)
                if (strcmp(st.cols[i].name, f[i].name) != 0)
                    fail_msg("%s: column %zu is \"%s\" streamed, \"%s\" directly", where, i + 1,
                             st.cols[i].name, f[i].name);
            while ((row = mysql_fetch_row(res)) != NULL) {
                const unsigned long *lens = mysql_fetch_lengths(res);
                struct vz_buf *out = rowset_new_row(&want);
                for (size_t j = 0; j < st.ncols; j++)
                    if (kinds[j] != K_SKIP)
                        put_server_value(out, row[j], lens[j], kinds[j]);
            }
            mysql_free_result(res);
        }
        if (!rowsets_equal(&got, &want, msg, sizeof(msg)))
            fail_msg("%s: %s\n%s", where, msg, r->sql);
        ls.queries++;
        ls.rows += got.n;
        rowset_free(&got);
        rowset_free(&want);
        free(kinds);
        vz_stream_release(&st);
    }
    printf("  %s: %zu legitimate queries streamed as the reader match the server: %zu rows, "
           "%zu values compared; %zu column(s) not compared (type not kept as server text)%s%s\n",
           db == VZ_DB_POSTGRES ? "PostgreSQL" : "MySQL", ls.queries, ls.rows, ls.values,
           ls.skipped_cols, ls.skipped_cols ? ": " : "", vz_buf_cstr(&ls.skipped));
    vz_buf_release(&ls.skipped);
    vz_buf_release(&wrapped);
    corpus_free(&c);
    if (pg)
        PQfinish(pg);
    if (my)
        mysql_close(my);
    vz_source_close(src);
}

static void test_pg_legit_queries_match_the_server(void **state)
{
    (void)state;
    legit_queries_match(VZ_DB_POSTGRES);
}

static void test_mysql_legit_queries_match_the_server(void **state)
{
    (void)state;
    legit_queries_match(VZ_DB_MYSQL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_guard_rejects_every_attack),
        cmocka_unit_test(test_mysql_guard_rejects_every_attack),
        cmocka_unit_test(test_path_snapshot_sees_a_new_file),
        cmocka_unit_test(test_admin_could_write_outside_the_session_layer),
        cmocka_unit_test(test_pg_snapshot_sees_changes),
        cmocka_unit_test(test_mysql_snapshot_sees_changes),
        cmocka_unit_test(test_pg_attacks_change_nothing_without_the_guard),
        cmocka_unit_test(test_mysql_attacks_change_nothing_without_the_guard),
        cmocka_unit_test(test_pg_legit_queries_match_the_server),
        cmocka_unit_test(test_mysql_legit_queries_match_the_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
