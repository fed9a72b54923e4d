/* The read-only role wizard (spec 4.1, layer 3): the exact SQL a DBA runs to
 * create a login that can only read one database (and schema on
 * PostgreSQL). Session settings are defence in depth; these grants are the
 * real read-only boundary, so the UI shows this text next to every
 * connection form.
 *
 * Every name and literal is quoted for its dialect, so any database, schema,
 * role or password text yields one identifier or one literal, never extra
 * SQL; no input text is copied into an SQL comment. The output is plain
 * text with "--" comments explaining each step.
 *
 * Layer: core/ only. Pure, thread-safe; never contacts a database. */
#ifndef VZ_SOURCES_ROLESQL_H
#define VZ_SOURCES_ROLESQL_H

#include "core/buf.h"
#include "core/err.h"

/* Placeholders shown when the caller has no name or password yet; the SQL
 * comments ask the DBA to replace them. */
#define VZ_ROLESQL_DEFAULT_ROLE "vectoraiz_reader"
#define VZ_ROLESQL_DEFAULT_PASSWORD "change-me"

/* PostgreSQL: CREATE ROLE ... LOGIN PASSWORD, GRANT CONNECT on the database,
 * USAGE on the schema, SELECT on all its tables, default privileges for
 * tables created later, ALTER ROLE ... SET default_transaction_read_only =
 * on, and, when server_version_num is 0 (unknown) or >= 140000, a
 * commented-out alternative: GRANT pg_read_all_data.
 *
 * database is required (non-empty). schema NULL or "" means "public".
 * table_owner is the role that creates tables in the schema: default
 * privileges only cover tables created by a named role, so with table_owner
 * the statement reads ALTER DEFAULT PRIVILEGES FOR ROLE <table_owner>; NULL
 * or "" covers the role that runs the script and says in a comment how to
 * name another. role and password NULL or "" use the placeholders above.
 * A password with a backslash is written as E'...' so it reads the same
 * whatever standard_conforming_strings is.
 *
 * Appends to out (the text ends with a newline). 0, VZ_EINVAL (no
 * database), VZ_ENOMEM or VZ_ETOOBIG; on failure out is as it was. */
int vz_rolesql_postgres(const char *database, const char *schema, const char *table_owner,
                        const char *role, const char *password, int server_version_num,
                        struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

/* MySQL / MariaDB: CREATE USER 'role'@'host' IDENTIFIED BY '...', GRANT
 * SELECT, SHOW VIEW ON `database`.* and comments on FLUSH PRIVILEGES (not
 * needed) and on narrowing the host pattern.
 *
 * database is required (non-empty); role and password as above;
 * host_pattern NULL or "" means "%". In GRANT, '_' and '%' in a database
 * name are wildcards, so they are written as "\_" and "\%" to grant exactly
 * that database. String literals double quotes and backslashes; when any
 * literal holds a backslash, the text first clears NO_BACKSLASH_ESCAPES for
 * the session so the escapes mean what they say.
 *
 * Appends to out. 0, VZ_EINVAL, VZ_ENOMEM or VZ_ETOOBIG; on failure out is
 * as it was. */
int vz_rolesql_mysql(const char *database, const char *role, const char *password,
                     const char *host_pattern, struct vz_buf *out,
                     struct vz_err *err) VZ_MUST_CHECK;

#endif
