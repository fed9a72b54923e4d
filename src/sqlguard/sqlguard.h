/* sqlguard: is this custom SQL exactly one read-only SELECT?
 *
 * The guard is the first of three walls (the others are the read-only
 * transaction and the SELECT-only role on the server). It decides from the
 * text alone and never contacts a database.
 *
 * PostgreSQL text is parsed with libpg_query (the PostgreSQL 15 parser) and
 * the whole parse tree is inspected. The verdict assumes the server parses
 * like a default-configured PostgreSQL: standard_conforming_strings = on, so
 * the connection that runs the query must keep that setting on.
 *
 * MySQL/MariaDB text is tokenized by a hand-written lexer that follows the
 * server's rules for strings, identifiers and comments; rules then run on the
 * tokens. The verdict holds whatever sql_mode the server uses (ANSI_QUOTES,
 * NO_BACKSLASH_ESCAPES) provided the connection character set is utf8mb4 (or
 * another ASCII-compatible one): constructs that would tokenize differently
 * under those modes are rejected.
 *
 * All functions are pure and thread-safe. Each call may use up to about
 * 1 MiB of the calling thread's stack (the PostgreSQL parser's tree printer
 * recurses; the guard bounds the nesting it will hand to it). */
#ifndef VZ_SQLGUARD_SQLGUARD_H
#define VZ_SQLGUARD_SQLGUARD_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

enum vz_dialect { VZ_DIALECT_POSTGRES, VZ_DIALECT_MYSQL };

/* 0 if the len bytes at sql are exactly one read-only SELECT (WITH, UNION,
 * VALUES, subqueries and a single trailing ';' included). Otherwise:
 *   VZ_ENOT_READONLY  anything else, including syntax errors; err->msg names
 *                     the offending construct in plain words, e.g.
 *                     "only one statement is allowed",
 *                     "data-modifying CTE: DELETE",
 *                     "function pg_sleep is not allowed (...)"
 *   VZ_ETOOBIG        len > VZ_MAX_SQL, or nesting too deep to check safely
 *   VZ_EINVAL         empty (only whitespace/comments), NUL bytes, invalid
 *                     UTF-8, unknown dialect, sql NULL with len > 0
 *   VZ_ENOMEM         out of memory
 *   VZ_EINTERNAL      libpg_query answered in a shape the guard cannot read
 *                     (the query is refused, never waved through)
 * sql need not be NUL-terminated. err may be NULL. */
int vz_sqlguard_check(enum vz_dialect d, const char *sql, size_t len,
                      struct vz_err *err) VZ_MUST_CHECK;

/* Wrap a query with a row limit without editing the user's text:
 *     "SELECT * FROM (\n<q>\n) AS vz_q LIMIT <limit>"
 * where <q> is sql with its trailing ';', whitespace and comments removed
 * (the newlines keep a line comment inside <q> from swallowing the closing
 * parenthesis).
 *
 * sql is checked with vz_sqlguard_check() first and its error returned if it
 * is not accepted; the wrapped text is checked again before it is handed
 * out, so on success out holds a query the guard accepts. limit must be
 * >= 0 (VZ_EINVAL otherwise). out is reset first; on success it holds the
 * wrapped query (NUL-terminated), on failure it is left empty. Codes as for
 * vz_sqlguard_check(), plus VZ_ETOOBIG when out's ceiling (or VZ_MAX_SQL) is
 * too small for the wrapped text.
 *
 * Server-side caveat: MySQL/MariaDB require unique column names in a derived
 * table, so a query whose result repeats a name (SELECT a.id, b.id ...) runs
 * alone but fails once wrapped ("Duplicate column name"); PostgreSQL accepts
 * it. */
int vz_sqlguard_wrap_limit(enum vz_dialect d, const char *sql, size_t len, long long limit,
                           struct vz_buf *out, struct vz_err *err) VZ_MUST_CHECK;

#endif
