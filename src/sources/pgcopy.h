/* Decoder for PostgreSQL's binary COPY format, straight into DuckDB vectors.
 *
 * pg_stream.c runs COPY (SELECT ...) TO STDOUT (FORMAT binary) and hands each
 * CopyData message to these functions; they never touch the network, so a
 * fuzzer or a unit test can drive them with any bytes. Every length and
 * count in the input is checked against the bytes actually there: malformed
 * input gives VZ_ESOURCE, never a read outside buf.
 *
 * The stream (all integers big-endian):
 *   header  "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length, extension
 *   tuple   int16 field count, then per field int32 length (-1: NULL) + bytes
 *   trailer int16 -1
 * The server sends the header in front of the first tuple (or of the trailer,
 * for an empty result) in one message, and then exactly one tuple per message.
 *
 * Which binary representation a field has is decided by the column's M2
 * mapping (vz_pgcopy_wire()); pg_stream.c writes the COPY's select list so
 * that the server sends exactly that (casting to text, numeric or json where
 * needed). Skipped columns (map.skip) are not in the tuples at all.
 *
 * Values the Parquet column cannot hold become NULL, and the column's
 * map.warning (when still empty) says so: NaN and +-Infinity of a numeric
 * read as DECIMAL, timestamps and dates past DuckDB's range. Infinite dates
 * and timestamps are kept as DuckDB's own infinities.
 *
 * Pure functions; thread-safe as long as each thread has its own stream and
 * chunk. Layer: extract/stream.h, extract/vec.h, core/. */
#ifndef VZ_SOURCES_PGCOPY_H
#define VZ_SOURCES_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

/* vec.h first: it includes duckdb.h without the strict-prototypes warning. */
#include "extract/vec.h"

#include "core/err.h"
#include "extract/stream.h"

#define VZ_PGCOPY_HEADER_MIN 19 /* signature 11 + flags 4 + extension length 4 */
#define VZ_PGCOPY_TRAILER 1     /* vz_pgcopy_decode_tuple(): the end-of-data marker */

/* What the decoder expects on the wire for one column. */
enum vz_pgcopy_wire {
    VZ_PGW_INVALID = 0, /* the mapping has no PostgreSQL decoding (a MySQL conversion) */
    VZ_PGW_SKIP,        /* not in the COPY output */
    VZ_PGW_BOOL,        /* bool: 1 byte */
    VZ_PGW_INT2,        /* int2 → SMALLINT */
    VZ_PGW_INT4,        /* int4 → INTEGER */
    VZ_PGW_INT8,        /* int8 → BIGINT */
    VZ_PGW_UINT4,       /* oid, xid, cid → UINTEGER */
    VZ_PGW_UINT8,       /* xid8 → UBIGINT */
    VZ_PGW_FLOAT4,      /* real → FLOAT */
    VZ_PGW_FLOAT8,      /* double precision → DOUBLE */
    VZ_PGW_NUMERIC,     /* numeric → DOUBLE, or DECIMAL(p,s) in exact mode */
    VZ_PGW_DATE,        /* int32 days since 2000-01-01 → DATE */
    VZ_PGW_TIME,        /* int64 microseconds since midnight → TIME */
    VZ_PGW_TIMESTAMP,   /* int64 microseconds since 2000-01-01 → TIMESTAMP [WITH TIME ZONE] */
    VZ_PGW_INTERVAL,    /* int64 microseconds, int32 days, int32 months → INTERVAL */
    VZ_PGW_UUID,        /* 16 bytes → 36-character text */
    VZ_PGW_TEXT         /* the bytes are the text (text, varchar, json, anything cast ::text) */
};

/* The wire representation for a mapped column (after vz_stream_map_columns()). */
enum vz_pgcopy_wire vz_pgcopy_wire(const struct vz_stream_col *c);

/* The header at the start of the first message. On success *hdr_len is its
 * size (19 + the extension), the bytes after it are the first tuple or the
 * trailer. VZ_ESOURCE for a wrong signature, a truncated header or flags
 * this decoder does not understand (OIDs included, unknown critical bits). */
int vz_pgcopy_decode_header(const char *buf, size_t len, size_t *hdr_len,
                            struct vz_err *err) VZ_MUST_CHECK;

/* Decode one tuple (exactly len bytes, no more, no less) into row `row` of
 * chunk, whose vectors are typed as st's kept columns (vz_stream_logical_type)
 * in out_index order; every kept column gets a value or NULL. row must be
 * below VZ_STREAM_CHUNK. The caller sets the chunk's size.
 * 0 for a row, VZ_PGCOPY_TRAILER when buf is the trailer (nothing written),
 * VZ_ESOURCE for malformed data (wrong field count, a length that is
 * negative or runs past the end, a value of the wrong size or out of its
 * type's range, bytes left over), VZ_EINVAL when st has a column with no
 * PostgreSQL decoding or row is out of range, VZ_ENOMEM. After a failure the
 * row is partly written: fail the chunk. May set map.warning (see above). */
int vz_pgcopy_decode_tuple(const char *buf, size_t len, struct vz_stream *st,
                           duckdb_data_chunk chunk, idx_t row, struct vz_err *err) VZ_MUST_CHECK;

/* ---- single values (also used by the tuple decoder) ---- */

enum vz_pgnum_kind { VZ_PGNUM_FINITE = 0, VZ_PGNUM_NAN, VZ_PGNUM_PINF, VZ_PGNUM_NINF };

/* A binary numeric as the nearest double (correctly rounded); NaN and
 * +-Infinity as themselves; magnitudes beyond a double's range become
 * +-Infinity or 0. 0 or VZ_ESOURCE (malformed), VZ_ENOMEM. */
int vz_pgcopy_numeric_double(const char *buf, size_t len, double *out,
                             struct vz_err *err) VZ_MUST_CHECK;

/* A binary numeric as the unscaled integer of a DECIMAL with `scale`
 * (0..38) fraction digits, two's complement hi:lo; a value with more
 * fraction digits is rounded half away from zero, as PostgreSQL does.
 * *kind tells NaN/+-Infinity apart (then hi:lo is 0). 0, or VZ_ESOURCE
 * (malformed, or |unscaled| >= 10^38). */
int vz_pgcopy_numeric_decimal(const char *buf, size_t len, int scale, enum vz_pgnum_kind *kind,
                              int64_t *hi, uint64_t *lo, struct vz_err *err) VZ_MUST_CHECK;

/* 16 uuid bytes as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lower case, 36
 * characters, no NUL). */
void vz_pgcopy_uuid_text(const unsigned char b[16], char out[36]);

#endif
