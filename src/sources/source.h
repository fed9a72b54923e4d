/* Source databases behind one table of function pointers.
 *
 * Generic code (HTTP handlers, CLI, extraction) only calls the vz_source_*
 * functions below; only source.c calls through struct vz_source_ops. A new
 * database (SQL Server, ...) is a new file with one const ops table and an
 * entry in source.c's backend list.
 *
 * Every session a backend opens is read-only (PostgreSQL:
 * default_transaction_read_only=on, statement_timeout, application_name;
 * MySQL/MariaDB: SET SESSION TRANSACTION READ ONLY and a statement time
 * limit; no multi-statement support). Connection settings are passed as
 * keyword arrays / option calls, never pasted into a connection string.
 * Every call has a deadline: connecting gives up after cfg->connect_timeout_s
 * (default 10 s) whatever the server does after accepting the TCP connection
 * (only the host name lookup is left to the system resolver's own timeouts);
 * the server ends statements after statement_timeout_ms (VZ_ETIMEOUT), and a
 * server that stays silent well beyond that is given up on, which ends the
 * session.
 *
 * Only TCP: a PostgreSQL host starting with '/' or '@' (a local socket) is
 * refused, and MySQL's "localhost" means 127.0.0.1/::1, not the socket. A
 * host containing ',' (libpq: a list of hosts) is refused, and so is, for
 * MySQL, one containing '=', ';' or blanks (libmariadb would read it as
 * "key=value;..." connection options).
 *
 * Error messages never contain the password. A source object is used by one
 * thread at a time; vz_source_cancel() is the exception and may be called
 * from any thread while another one is inside a call. */
#ifndef VZ_SOURCES_SOURCE_H
#define VZ_SOURCES_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

enum vz_db_type { VZ_DB_POSTGRES = 0, VZ_DB_MYSQL = 1 };

/* Connection settings. All strings are borrowed for the duration of
 * vz_source_open() only (backends copy what they keep). */
struct vz_conn_cfg {
    enum vz_db_type type;
    const char *host;
    int port;
    const char *database;
    const char *username;
    const char *password;
    const char *ssl_mode;         /* as accepted by vz_source_ssl_mode_valid(); NULL = "prefer" */
    const json_t *extra;          /* extra_options object or NULL: sslrootcert, sslcert, sslkey,
                                     (MySQL: ssl_ca, ssl_cert, ssl_key), schema, ... */
    int connect_timeout_s;        /* 0 = 10 */
    int statement_timeout_ms;     /* 0 = 300000 */
    const char *application_name; /* NULL = "vectoraiz" */
};

struct vz_test_result {
    int64_t latency_ms;       /* connect + one round trip */
    char server_version[128]; /* e.g. "PostgreSQL 15.18" or "10.11.19-MariaDB" */
    int can_write;            /* 1 if the connected user could write (warn!), 0 if not,
                                 -1 unknown */
    char write_reason[256];   /* why can_write is 1, e.g. "role is superuser" */
};

struct vz_source;

/* "postgresql" / "mysql" → type; VZ_EINVAL otherwise. */
int vz_db_type_parse(const char *s, enum vz_db_type *out);
const char *vz_db_type_name(enum vz_db_type t);
int vz_db_default_port(enum vz_db_type t);

/* 1 if mode is accepted for type. PostgreSQL: disable, allow, prefer,
 * require, verify-ca, verify-full. MySQL: disable, preferred, required,
 * verify_ca, verify_identity. Both also take the spec's disable / prefer /
 * require, mapped to the backend's own names. */
int vz_source_ssl_mode_valid(enum vz_db_type type, const char *mode);

/* Connect. On success *out is new; free with vz_source_close(). Errors:
 * VZ_ECONNECT (refused, unreachable, DNS, SSL required but not offered),
 * VZ_ETIMEOUT ("could not connect to H:P within 10 s"), VZ_EAUTH (wrong
 * user or password: the server's message, e.g. password authentication
 * failed for user "x"), VZ_ENOTFOUND (unknown database), VZ_ESOURCE. */
int vz_source_open(const struct vz_conn_cfg *cfg, struct vz_source **out,
                   struct vz_err *err) VZ_MUST_CHECK;
void vz_source_close(struct vz_source *s); /* NULL is ok */

/* One round trip, the server version and whether the user can write.
 * PostgreSQL: superuser, or any INSERT/UPDATE/DELETE/TRUNCATE privilege on a
 * table or view outside the system schemas, or CREATE on the database or a
 * schema. MySQL: a write privilege (INSERT, UPDATE, DELETE, CREATE, DROP,
 * ALTER, INDEX, TRIGGER, EVENT, FILE, SUPER, ALL) in SHOW GRANTS on any
 * object; privileges reached only through roles are not seen. On failure
 * out->can_write is -1. */
int vz_source_test(struct vz_source *s, struct vz_test_result *out,
                   struct vz_err *err) VZ_MUST_CHECK;

/* The schema to browse when none is given: "public" on PostgreSQL, the
 * connection's database on MySQL. Borrowed for the source's lifetime. */
const char *vz_source_default_schema(struct vz_source *s);

/* Schemas (MySQL: databases) the user can see, system ones left out
 * (PostgreSQL: pg_*, information_schema, and schemas without USAGE; MySQL:
 * information_schema, performance_schema, mysql, sys). *out is a new JSON
 * array of strings, sorted bytewise. */
int vz_source_list_schemas(struct vz_source *s, json_t **out, struct vz_err *err) VZ_MUST_CHECK;

/* Every table and view of one schema (NULL: the default schema), a constant
 * number of catalog queries whatever the table count (never COUNT(*)); the
 * schema name is always a bound parameter. PostgreSQL partitions are left
 * out (their parent stands for them). *out is a new JSON array, sorted by
 * name bytewise, of:
 *   {"name": str, "schema": str, "kind": "table"|"view"|"materialized_view"|"partitioned_table",
 *    "estimated_rows": int|null,   (PG pg_class.reltuples, MySQL TABLE_ROWS; null if unknown)
 *    "estimated_bytes": int|null,  (PG pg_total_relation_size, MySQL DATA_LENGTH)
 *    "primary_key": [column names in key order],
 *    "columns": [{"name": str, "position": int (1-based), "source_type": str (as the
 *                 database spells it, e.g. "numeric(30,20)", "integer[]", "enum('a','b')"),
 *                 "type_class": str (see below), "nullable": bool, "default": str|null,
 *                 "precision": int|null, "scale": int|null}]}
 * type_class is the backend's normalised category used by the type mapping:
 * one of "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
 * "uint64", "float32", "float64", "decimal", "text", "uuid", "json", "array",
 * "hstore", "enum", "set", "date", "time", "timetz", "timestamp", "timestamptz",
 * "interval", "year", "bit", "binary", "geometry", "other".
 * "text" means the value is best read as its text form (varchar, inet, xml...);
 * "other" means no better class is known (composite, range, ...): read it as
 * text too. Array columns also carry "element_type_class" (the class of one
 * element). "precision"/"scale" are set for decimal columns with a declared
 * precision, null otherwise.
 * An unknown schema gives an empty array. */
int vz_source_introspect(struct vz_source *s, const char *schema, json_t **out,
                         struct vz_err *err) VZ_MUST_CHECK;

/* Ask the server to stop the statement running on s (PQcancel / KILL QUERY
 * on a second connection). Safe from any thread while another thread is
 * inside a call on s, but not concurrently with vz_source_close(). The
 * interrupted call fails with VZ_ECANCELLED; with nothing running this is
 * harmless. 0 when the request was delivered, else VZ_ECONNECT/VZ_ESOURCE. */
int vz_source_cancel(struct vz_source *s, struct vz_err *err) VZ_MUST_CHECK;

/* --- streaming a result (extraction); see extract/stream.h --- */

struct vz_stream;
/* Start sql (already validated: our own SELECT, or custom SQL that passed
 * sqlguard) inside a READ ONLY transaction, describe its columns into st
 * and map them (M2). */
int vz_source_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                          struct vz_err *err) VZ_MUST_CHECK;
/* Decode up to VZ_STREAM_CHUNK rows into chunk (typed as the kept columns
 * of st, in order); *nrows = 0 at the end. */
int vz_source_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk,
                          size_t *nrows, struct vz_err *err) VZ_MUST_CHECK;
/* End the query and the transaction (also mid-stream). Never fails. */
void vz_source_stream_close(struct vz_source *s, struct vz_stream *st);

/* --- for backends --- */

/* vz_source_open() checks cfg and fills in the defaults (port, timeouts,
 * ssl_mode, application_name) before ops->open sees it; on failure of
 * ops->open it calls ops->close and frees the object. */
struct vz_source_ops {
    const char *name;
    enum vz_db_type type;
    size_t priv_size; /* bytes of private state that source.c allocates, zeroed */
    int (*open)(struct vz_source *s, const struct vz_conn_cfg *cfg, struct vz_err *err);
    int (*test)(struct vz_source *s, struct vz_test_result *out, struct vz_err *err);
    int (*list_schemas)(struct vz_source *s, json_t **out, struct vz_err *err);
    int (*introspect)(struct vz_source *s, const char *schema, json_t **out, struct vz_err *err);
    int (*cancel)(struct vz_source *s, struct vz_err *err);
    void (*close)(struct vz_source *s); /* cannot fail; frees only what open made */
    const char *(*default_schema)(struct vz_source *s);
    /* Tests only (see source_internal.h): run one fixed statement, copy the
     * first column of its first row (if any) to out. May be NULL. */
    int (*query_for_test)(struct vz_source *s, const char *sql, char *out, size_t n,
                          struct vz_err *err);
    /* streaming (optional: NULL = VZ_EUNSUPPORTED); see extract/stream.h */
    int (*stream_open)(struct vz_source *s, const char *sql, struct vz_stream *st,
                       struct vz_err *err);
    int (*stream_fill)(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk, size_t *nrows,
                       struct vz_err *err);
    void (*stream_close)(struct vz_source *s, struct vz_stream *st);
};

/* Like vz_source_open() with a caller-supplied ops table: test sources and
 * fault injection (tests/unit). */
int vz_source_open_with(const struct vz_source_ops *ops, const struct vz_conn_cfg *cfg,
                        struct vz_source **out, struct vz_err *err) VZ_MUST_CHECK;

/* The backend's private state (priv_size bytes). */
void *vz_source_priv(struct vz_source *s);

extern const struct vz_source_ops vz_pg_ops;
extern const struct vz_source_ops vz_mysql_ops;

#endif
