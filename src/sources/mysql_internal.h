/* Internals shared by the MySQL/MariaDB backend's two files: mysql.c
 * (connecting, sessions, schema browsing, cancel) and mysql_stream.c
 * (streaming a result into DuckDB chunks). No other file includes this.
 *
 * Layer: libmariadb, core/, sources/source_internal.h. */
#ifndef VZ_SOURCES_MYSQL_INTERNAL_H
#define VZ_SOURCES_MYSQL_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <mysql.h>

#include "core/err.h"
#include "sources/source.h"

/* What the spec and MySQL call the SSL modes, reduced to what we do. */
enum mys_ssl { MY_SSL_DISABLE, MY_SSL_PREFERRED, MY_SSL_REQUIRED, MY_SSL_VERIFY };

/* The backend's private state (vz_source_priv()). */
struct mys {
    MYSQL *conn;
    /* Copies kept for the second connection vz_source_cancel() opens. */
    char *host, *user, *password, *database, *ssl_ca, *ssl_cert, *ssl_key;
    enum mys_ssl ssl;
    int port, connect_timeout_s, stmt_timeout_ms;
    unsigned long thread_id;
    int mariadb;
    unsigned last_errno; /* of the last failed statement, 0 if none */
    int64_t connect_ms;
    char hostport[300];
    char version[128];
    atomic_int cancel_requested;
};

/* Run one fixed statement on m->conn and discard any result. 0, or the
 * mapped VZ_E* code with the server's message (password scrubbed). Does not
 * touch m->cancel_requested. */
int vz_mys_exec(struct mys *m, const char *sql, struct vz_err *err) VZ_MUST_CHECK;

/* Map the connection's current error (mysql_errno/mysql_error of m->conn) to
 * a VZ_E* code and message: VZ_ECANCELLED after vz_source_cancel(),
 * VZ_ETIMEOUT for the statement time limit, VZ_ENOT_READONLY for a write
 * refused by the read-only transaction, ... Returns the code. */
int vz_mys_conn_error(struct mys *m, struct vz_err *err);

/* The stream ops of vz_mysql_ops (mysql_stream.c); see extract/stream.h. */
int vz_mys_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                       struct vz_err *err);
int vz_mys_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk, size_t *nrows,
                       struct vz_err *err);
void vz_mys_stream_close(struct vz_source *s, struct vz_stream *st);

#endif
