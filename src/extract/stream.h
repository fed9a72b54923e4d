/* A result set streamed from a source database into DuckDB data chunks.
 *
 * Contract between the source backends (which start the query and decode
 * rows, straight from the wire format into DuckDB vectors) and the
 * extraction writer (which pulls chunks through a DuckDB table function into
 * COPY ... TO '....parquet.tmp'). Memory stays bounded: at most one chunk
 * (VZ_STREAM_CHUNK rows) is decoded at a time.
 *
 * Life cycle, all on one thread:
 *   vz_source_stream_open(src, sql, &st, err)   -- read-only txn, query started,
 *                                                  st.cols described and mapped (M2)
 *   repeat vz_source_stream_fill(src, &st, chunk, &n, err) until n == 0
 *   vz_source_stream_close(src, &st)            -- always, also after errors
 * vz_source_cancel() may be called from another thread at any time; the
 * running fill then fails with VZ_ECANCELLED (or the server's error).
 *
 * After the last row a backend checks the query really ended without error
 * (MySQL: mysql_errno after the final fetch; PG: the COPY's final result):
 * a truncated stream is an error, never a short success. */
#ifndef VZ_EXTRACT_STREAM_H
#define VZ_EXTRACT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <duckdb.h>

#include "extract/typemap.h"

#define VZ_STREAM_CHUNK 2048 /* rows per fill; DuckDB's standard vector size */

struct vz_stream_col {
    char *name;             /* result column name (owned) */
    char type_class[24];    /* as in source.h's introspection */
    char source_type[96];   /* the source's spelling, for warnings */
    int precision, scale;   /* -1 when unknown */
    struct vz_type_map map; /* M2: DuckDB type, skip, conversion, warning */
    int out_index;          /* index in the DuckDB chunk, -1 when skipped */
    uint64_t nulled;        /* values that could not be represented and were
                               stored as NULL (M2: 'infinity', zero dates...);
                               the decoder also sets map.warning once */
    /* backend-private type facts */
    uint32_t pg_oid, pg_elem_oid;
    int32_t pg_typmod;
    int pg_wire_plus1;  /* cached wire decoding + 1 (0: not computed yet) */
    int my_type;        /* enum enum_field_types */
    unsigned my_flags;  /* UNSIGNED_FLAG, BINARY_FLAG, ... */
    unsigned my_length; /* display length (tinyint(1), bit(n)) */
};

struct vz_stream {
    struct vz_stream_col *cols; /* every result column, in order (owned) */
    size_t ncols;
    size_t nout;                       /* columns that reach the chunk (not skipped) */
    enum vz_decimal_mode decimal_mode; /* set by the caller before open */
    uint64_t rows;                     /* rows decoded so far */
    uint64_t bytes;                    /* wire bytes received so far */
    void *priv;                        /* backend state (owned by the backend) */
};

/* Free the column descriptions (names). The backend's priv is freed by
 * vz_source_stream_close(). */
void vz_stream_release(struct vz_stream *st);

/* Set cols[i].map from type_class etc. and number the kept columns
 * (out_index). Backends call it at the end of open. */
int vz_stream_map_columns(struct vz_stream *st, int db_type, struct vz_err *err) VZ_MUST_CHECK;

/* The DuckDB logical type for a mapped column (caller destroys it), or
 * NULL for an unknown type name. */
duckdb_logical_type vz_stream_logical_type(const struct vz_stream_col *c);

#endif
