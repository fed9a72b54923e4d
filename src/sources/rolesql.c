#include "sources/rolesql.h"

#include <string.h>

/* A writer with a sticky status: the first failing append is remembered and
 * the rest become no-ops, so the text reads top to bottom and the status is
 * checked once at the end. */
struct w {
    struct vz_buf *b;
    int rc;
};

static void put(struct w *w, const char *s)
{
    if (w->rc == 0)
        w->rc = vz_buf_adds(w->b, s);
}

static void putc_(struct w *w, char c)
{
    if (w->rc == 0)
        w->rc = vz_buf_addc(w->b, c);
}

static const char *or_default(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* PostgreSQL identifier: always double-quoted, so case is kept and no
 * keyword list is needed; an embedded " is doubled. */
static void pg_ident(struct w *w, const char *s)
{
    putc_(w, '"');
    for (; *s; s++) {
        if (*s == '"')
            putc_(w, '"');
        putc_(w, *s);
    }
    putc_(w, '"');
}

/* PostgreSQL string literal. With standard_conforming_strings off (legal,
 * if rare) a backslash in '...' is an escape, so a text holding one is
 * written as E'...' with backslashes doubled, which reads the same under
 * either setting. ' is doubled in both forms. */
static void pg_literal(struct w *w, const char *s)
{
    int esc = strchr(s, '\\') != NULL;
    put(w, esc ? "E'" : "'");
    for (; *s; s++) {
        if (*s == '\'' || (esc && *s == '\\'))
            putc_(w, *s);
        putc_(w, *s);
    }
    putc_(w, '\'');
}

/* MySQL identifier in backticks (` doubled). As a GRANT database pattern,
 * '_' and '%' are wildcards and '\' their escape: all three get a '\'. */
static void my_ident(struct w *w, const char *s, int grant_pattern)
{
    putc_(w, '`');
    for (; *s; s++) {
        if (*s == '`')
            putc_(w, '`');
        else if (grant_pattern && (*s == '_' || *s == '%' || *s == '\\'))
            putc_(w, '\\');
        putc_(w, *s);
    }
    putc_(w, '`');
}

/* MySQL string literal: ' doubled (valid in every sql_mode), \ doubled
 * (the default mode treats it as an escape; see the sql_mode line). */
static void my_literal(struct w *w, const char *s)
{
    putc_(w, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            putc_(w, *s);
        putc_(w, *s);
    }
    putc_(w, '\'');
}

/* Keep the caller's buffer as it was when writing failed half way. */
static int finish(struct w *w, size_t start_len, struct vz_err *err)
{
    if (w->rc == 0)
        return 0;
    w->b->len = start_len;
    if (w->b->p)
        w->b->p[start_len] = '\0';
    return vz_err_set(err, w->rc, "role SQL: %s", vz_strerror(w->rc));
}

int vz_rolesql_postgres(const char *database, const char *schema, const char *table_owner,
                        const char *role, const char *password, int server_version_num,
                        struct vz_buf *out, struct vz_err *err)
{
    struct w w = {out, 0};
    size_t start = out->len;

    if (!database || !*database)
        return vz_err_set(err, VZ_EINVAL, "a database name is required");
    schema = or_default(schema, "public");
    role = or_default(role, VZ_ROLESQL_DEFAULT_ROLE);
    password = or_default(password, VZ_ROLESQL_DEFAULT_PASSWORD);

    put(&w, "-- Read-only PostgreSQL role for vectoraiz.\n"
            "-- Run as a superuser (or a role with CREATEROLE that owns the tables), connected\n"
            "-- to the database named in step 2: schema grants apply to the current database.\n"
            "-- Replace the role name and the password first.\n"
            "\n"
            "-- 1. A login role with no privileges of its own. (In psql, \\password sets the\n"
            "--    password later without it reaching the server log.)\n"
            "CREATE ROLE ");
    pg_ident(&w, role);
    put(&w, " LOGIN PASSWORD ");
    pg_literal(&w, password);
    put(&w, ";\n"
            "\n"
            "-- 2. Allow it to connect to the database.\n"
            "GRANT CONNECT ON DATABASE ");
    pg_ident(&w, database);
    put(&w, " TO ");
    pg_ident(&w, role);
    put(&w, ";\n"
            "\n"
            "-- 3. Allow it to look up objects in the schema (USAGE cannot create any).\n"
            "GRANT USAGE ON SCHEMA ");
    pg_ident(&w, schema);
    put(&w, " TO ");
    pg_ident(&w, role);
    put(&w, ";\n"
            "\n"
            "-- 4. Read every table, view and materialized view the schema has now.\n"
            "GRANT SELECT ON ALL TABLES IN SCHEMA ");
    pg_ident(&w, schema);
    put(&w, " TO ");
    pg_ident(&w, role);
    put(&w, ";\n\n");
    if (table_owner && *table_owner) {
        put(&w, "-- 5. Read the tables the owning role creates there later, too.\n"
                "ALTER DEFAULT PRIVILEGES FOR ROLE ");
        pg_ident(&w, table_owner);
        put(&w, " IN SCHEMA ");
    } else {
        put(&w, "-- 5. Read tables created there later, too. This covers tables created by the\n"
                "--    role running this script; if another role creates them, write\n"
                "--    FOR ROLE <that role> after ALTER DEFAULT PRIVILEGES.\n"
                "ALTER DEFAULT PRIVILEGES IN SCHEMA ");
    }
    pg_ident(&w, schema);
    put(&w, " GRANT SELECT ON TABLES TO ");
    pg_ident(&w, role);
    put(&w, ";\n"
            "\n"
            "-- 6. Start its sessions read-only. Defence in depth only (a session can turn it\n"
            "--    off again); the grants above are the real boundary.\n"
            "ALTER ROLE ");
    pg_ident(&w, role);
    put(&w, " SET default_transaction_read_only = on;\n");
    if (server_version_num == 0 || server_version_num >= 140000) {
        put(&w, "\n"
                "-- PostgreSQL 14+: one role that can read every table in every schema\n"
                "-- (of every database it may connect to), now and later. To use it instead\n"
                "-- of steps 3 to 5, remove the leading \"-- \" from the next line:\n"
                "-- GRANT pg_read_all_data TO ");
        pg_ident(&w, role);
        put(&w, ";\n");
    }
    return finish(&w, start, err);
}

int vz_rolesql_mysql(const char *database, const char *role, const char *password,
                     const char *host_pattern, struct vz_buf *out, struct vz_err *err)
{
    struct w w = {out, 0};
    size_t start = out->len;

    if (!database || !*database)
        return vz_err_set(err, VZ_EINVAL, "a database name is required");
    role = or_default(role, VZ_ROLESQL_DEFAULT_ROLE);
    password = or_default(password, VZ_ROLESQL_DEFAULT_PASSWORD);
    host_pattern = or_default(host_pattern, "%");

    put(&w, "-- Read-only MySQL/MariaDB user for vectoraiz.\n"
            "-- Run as an administrator (e.g. root). Replace the user name and the password\n"
            "-- first.\n"
            "\n");
    /* Under NO_BACKSLASH_ESCAPES a doubled backslash would stay doubled and
       the password would silently differ from the one the user typed. */
    if (strchr(role, '\\') || strchr(password, '\\') || strchr(host_pattern, '\\'))
        put(&w, "-- The quoted text below escapes backslashes: make sure the session reads\n"
                "-- them as escapes.\n"
                "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');\n"
                "\n");
    put(&w, "-- 1. A login with no privileges of its own. The part after @ says where it may\n"
            "--    connect from ('%' = any host): narrow it to vectoraiz's address\n"
            "--    (e.g. '10.0.0.5') or network (e.g. '10.0.0.%') where you can.\n"
            "CREATE USER ");
    my_literal(&w, role);
    putc_(&w, '@');
    my_literal(&w, host_pattern);
    put(&w, " IDENTIFIED BY ");
    my_literal(&w, password);
    put(&w, ";\n"
            "\n"
            "-- 2. Read the tables and views of one database (SHOW VIEW: view definitions),\n"
            "--    nothing else.\n");
    if (strpbrk(database, "_%\\"))
        put(&w, "--    In GRANT, _ and % in a database name are wildcards; the backslash\n"
                "--    before them keeps this grant to exactly this database.\n");
    put(&w, "GRANT SELECT, SHOW VIEW ON ");
    my_ident(&w, database, 1);
    put(&w, ".* TO ");
    my_literal(&w, role);
    putc_(&w, '@');
    my_literal(&w, host_pattern);
    put(&w, ";\n"
            "\n"
            "-- No FLUSH PRIVILEGES needed: CREATE USER and GRANT take effect at once.\n");
    return finish(&w, start, err);
}
