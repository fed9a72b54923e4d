/* Internals of sources/: helpers shared by source.c and the backends (pg.c,
 * mysql.c), and two hooks for the unit tests. No other module includes this.
 *
 * Layer: depends only on core/ and jansson. */
#ifndef VZ_SOURCES_SOURCE_INTERNAL_H
#define VZ_SOURCES_SOURCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "sources/source.h"

/* Defaults vz_source_open() fills in before a backend sees the config. */
#define VZ_SOURCE_CONNECT_TIMEOUT_S 10
#define VZ_SOURCE_STATEMENT_TIMEOUT_MS 300000
#define VZ_SOURCE_APP_NAME "vectoraiz"
/* Extra time a client waits for a statement beyond the server's own limit
 * before giving up on the server. */
#define VZ_SOURCE_QUERY_MARGIN_MS 10000

/* ---- messages ---- */

/* Copy in to out (size n > 0, always NUL-terminated) with every occurrence of
 * secret replaced by "****". NULL or empty secret: plain copy. Scrub the
 * library's full message before formatting it into a struct vz_err, so that
 * truncation cannot leave part of a secret behind. */
void vz_source_scrub(const char *in, const char *secret, char *out, size_t n);

/* "host:port", or "[addr]:port" when host contains ':' (IPv6). Truncated to
 * n - 1 bytes. */
void vz_source_hostport(const char *host, int port, char *out, size_t n);

/* ---- JSON ---- */

/* A JSON string from len bytes of s. Bytes that are not valid UTF-8 (a
 * SQL_ASCII database, a latin1 column name) become U+FFFD instead of failing.
 * New reference; NULL only when out of memory. */
json_t *vz_source_jstr(const char *s, size_t len);

/* Sort a JSON array of strings bytewise (strcmp order), in place. 0 or
 * VZ_ENOMEM. */
int vz_source_sort_strings(json_t *arr) VZ_MUST_CHECK;

/* One introspection result under construction: tables are added first, then
 * columns and primary key columns are attached to them by table name, in
 * the order they arrive (so queries only need to order by position). */
struct vz_intro_table;
struct vz_intro {
    const char *schema;       /* borrowed */
    struct vz_intro_table *v; /* tables, sorted by name after vz_intro_seal() */
    size_t n, cap;
    int sealed;
};

void vz_intro_init(struct vz_intro *in, const char *schema);
void vz_intro_release(struct vz_intro *in);

/* Add one table. kind is one of the kinds in source.h; rows/bytes < 0 mean
 * unknown (null). 0 or VZ_ENOMEM. Only before vz_intro_seal(). */
int vz_intro_add_table(struct vz_intro *in, const char *name, size_t name_len, const char *kind,
                       int64_t rows, int64_t bytes) VZ_MUST_CHECK;

/* Sort the tables by name; needed before columns or keys are attached. */
void vz_intro_seal(struct vz_intro *in);

/* Attach a column object (reference taken over, even on failure) to the
 * table called table, setting its "position" to the next number (1, 2...):
 * add a table's columns in their order. A name that matches no table drops
 * the column and returns 0: catalogs change between two queries. 0 or
 * VZ_ENOMEM (also when column is NULL). */
int vz_intro_add_column(struct vz_intro *in, const char *table, json_t *column) VZ_MUST_CHECK;

/* Append a key column name to table's primary key. Same rules. */
int vz_intro_add_pk(struct vz_intro *in, const char *table, const char *column,
                    size_t column_len) VZ_MUST_CHECK;

/* The column object of table/column, or NULL. Borrowed. */
json_t *vz_intro_find_column(struct vz_intro *in, const char *table, const char *column);

/* A new column object with the fields source.h lists except "position"
 * (see vz_intro_add_column()). dflt may be NULL; precision < 0 makes both
 * precision and scale null. NULL when out of memory. */
json_t *vz_intro_column(const char *name, size_t name_len, const char *source_type,
                        const char *type_class, int nullable, const char *dflt, int precision,
                        int scale);

/* The finished array (new reference; the builder is left empty), or NULL
 * when out of memory. */
json_t *vz_intro_take(struct vz_intro *in);

/* ---- test hooks ---- */

/* Tests only. Run sql (a fixed statement written by the test) on s and
 * discard its result. 0, or the mapped VZ_E* code of the failure
 * (VZ_ENOT_READONLY when the read-only session refused a write,
 * VZ_ECANCELLED after vz_source_cancel(), ...). */
int vz_source_exec_for_test(struct vz_source *s, const char *sql, struct vz_err *err) VZ_MUST_CHECK;

/* Tests only. Like vz_source_exec_for_test() but copies the first column of
 * the first row as text into out (size n; "" when there is no row, "NULL"
 * for a null). */
int vz_source_query_value_for_test(struct vz_source *s, const char *sql, char *out, size_t n,
                                   struct vz_err *err) VZ_MUST_CHECK;

#endif
