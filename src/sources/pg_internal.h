/* Internals of the PostgreSQL backend, shared by pg.c (connection, schema,
 * cancel) and pg_stream.c (streaming a result as binary COPY). No other file
 * includes this.
 *
 * Every call below runs on the thread that owns the source, except that
 * cancel_requested is also written by pg_cancel() from any thread.
 *
 * Layer: libpq, core/, sources/source.h. */
#ifndef VZ_SOURCES_PG_INTERNAL_H
#define VZ_SOURCES_PG_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "sources/source.h"

/* The backend's private state (vz_source_priv()). */
struct pg {
    PGconn *conn;
    PGcancel *cancel; /* made once after connecting; PQcancel() on it is thread-safe */
    char *schema;     /* default schema */
    char hostport[300];
    int stmt_timeout_ms;
    int64_t connect_ms;
    int broken;                  /* a statement overran our deadline: the session is unusable */
    atomic_int cancel_requested; /* set by pg_cancel(), read when a statement fails */
};

/* The failed result r as a VZ_E* code (SQLSTATE mapping: 57014 is
 * VZ_ECANCELLED after a cancel request, else VZ_ETIMEOUT; 25006 is
 * VZ_ENOT_READONLY, ...) and a message without the password. */
int vz_pg_result_error(struct pg *p, const PGresult *r, struct vz_err *err);

/* The connection failed (libpq's message): marks the session broken and
 * returns VZ_ECONNECT. */
int vz_pg_lost(struct pg *p, struct vz_err *err);

/* Wait until libpq can hand out a result without blocking (PQisBusy() is
 * false), until the monotonic deadline (vz_mono_ms()); past it the session is
 * marked broken and VZ_ETIMEOUT returned. */
int vz_pg_wait(struct pg *p, int64_t deadline, struct vz_err *err);

/* After a PQsend*() call: read every result of the command before the
 * deadline. On success *out is the (first) command or tuples result, to be
 * PQclear()ed; a failed command gives its mapped error. Not for COPY, whose
 * PGRES_COPY_OUT result never ends the result list. */
int vz_pg_collect(struct pg *p, int64_t deadline, PGresult **out, struct vz_err *err);

/* Run one fixed statement with text parameters (never several: this is the
 * extended protocol) within the statement timeout plus a margin. Clears
 * cancel_requested first. On success *out is the result (PQclear() it). */
int vz_pg_run(struct pg *p, const char *sql, int nparams, const char *const *params, PGresult **out,
              struct vz_err *err);

/* The type class (see source.h) of a base type: its pg_type typname, typtype
 * and typcategory. Static string. */
const char *vz_pg_type_class(const char *name, char typtype, char category);

/* Streaming (pg_stream.c): the stream_* operations of vz_pg_ops. */
struct vz_stream;
int vz_pg_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                      struct vz_err *err);
int vz_pg_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk, size_t *nrows,
                      struct vz_err *err);
void vz_pg_stream_close(struct vz_source *s, struct vz_stream *st);

#endif
