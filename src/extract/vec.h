/* Writing one value into one row of a DuckDB output vector.
 *
 * Backends decode a row and store each kept column with these helpers, into
 * duckdb_data_chunk_get_vector(chunk, col->out_index) at row r (0 <= r <
 * VZ_STREAM_CHUNK). The caller makes sure the vector's DuckDB type is the one
 * the helper writes (see the table below, from the column's map.duckdb_type);
 * a mismatch is undefined behaviour, DuckDB checks nothing.
 *
 *   BOOLEAN vz_vec_set_bool         TINYINT..BIGINT vz_vec_set_i8..i64
 *   UTINYINT..UBIGINT vz_vec_set_u8..u64   FLOAT/DOUBLE vz_vec_set_f32/f64
 *   VARCHAR vz_vec_set_text         DATE vz_vec_set_date
 *   TIME vz_vec_set_time            TIMESTAMP vz_vec_set_timestamp
 *   TIMESTAMP WITH TIME ZONE vz_vec_set_timestamptz   INTERVAL vz_vec_set_interval
 *   DECIMAL(p,s) vz_vec_set_decimal / vz_vec_set_decimal128 (p from vz_vec_decimal_dims)
 *
 * A row left unwritten holds garbage, so every kept column of every row gets
 * either a value or vz_vec_set_null(). DuckDB resets the validity of the
 * output chunk between fills, so a NULL does not carry over to the next chunk.
 *
 * Ownership: strings are copied into the vector by DuckDB when assigned
 * (short ones inline, longer ones into the vector's own string heap), so the
 * bytes passed to vz_vec_set_text() may be reused as soon as it returns.
 *
 * Not thread-safe per vector (one fill runs at a time). Layer: DuckDB's C API
 * and core/buf. */
#ifndef VZ_EXTRACT_VEC_H
#define VZ_EXTRACT_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckdb.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- NULL ---- */

static inline void vz_vec_set_null(duckdb_vector v, idx_t row)
{
    uint64_t *validity;
    /* The validity mask is allocated lazily: a chunk without NULLs has none. */
    duckdb_vector_ensure_validity_writable(v);
    validity = duckdb_vector_get_validity(v);
    validity[row / 64] &= ~((uint64_t)1 << (row % 64));
}

/* ---- fixed-width values ---- */

#define VZ_VEC_SETTER_(suffix, ctype)                                                              \
    static inline void vz_vec_set_##suffix(duckdb_vector v, idx_t row, ctype x)                    \
    {                                                                                              \
        ((ctype *)duckdb_vector_get_data(v))[row] = x;                                             \
    }
VZ_VEC_SETTER_(bool, bool)
VZ_VEC_SETTER_(i8, int8_t)
VZ_VEC_SETTER_(i16, int16_t)
VZ_VEC_SETTER_(i32, int32_t)
VZ_VEC_SETTER_(i64, int64_t)
VZ_VEC_SETTER_(u8, uint8_t)
VZ_VEC_SETTER_(u16, uint16_t)
VZ_VEC_SETTER_(u32, uint32_t)
VZ_VEC_SETTER_(u64, uint64_t)
VZ_VEC_SETTER_(f32, float)
VZ_VEC_SETTER_(f64, double)
#undef VZ_VEC_SETTER_

/* DATE: days since 1970-01-01 (negative before). */
static inline void vz_vec_set_date(duckdb_vector v, idx_t row, int32_t days)
{
    ((duckdb_date *)duckdb_vector_get_data(v))[row].days = days;
}

/* TIME: microseconds since midnight, 0 ..= 86400000000 (24:00:00 is valid). */
static inline void vz_vec_set_time(duckdb_vector v, idx_t row, int64_t micros)
{
    ((duckdb_time *)duckdb_vector_get_data(v))[row].micros = micros;
}

/* TIMESTAMP: wall-clock microseconds since 1970-01-01 00:00:00, no zone. */
static inline void vz_vec_set_timestamp(duckdb_vector v, idx_t row, int64_t micros)
{
    ((duckdb_timestamp *)duckdb_vector_get_data(v))[row].micros = micros;
}

/* TIMESTAMP WITH TIME ZONE: the instant as microseconds since the Unix epoch
 * in UTC (the backend converts from the session zone first). */
static inline void vz_vec_set_timestamptz(duckdb_vector v, idx_t row, int64_t micros_utc)
{
    /* Same physical layout as TIMESTAMP; the logical type tells them apart. */
    ((duckdb_timestamp *)duckdb_vector_get_data(v))[row].micros = micros_utc;
}

/* INTERVAL: kept as three fields, like PostgreSQL, never normalised. */
static inline void vz_vec_set_interval(duckdb_vector v, idx_t row, int32_t months, int32_t days,
                                       int64_t micros)
{
    duckdb_interval *p = (duckdb_interval *)duckdb_vector_get_data(v) + row;
    p->months = months;
    p->days = days;
    p->micros = micros;
}

/* ---- DECIMAL ---- */

/* Width and scale of a "DECIMAL(p,s)" type name (struct vz_type_map's
 * duckdb_type). 0, or VZ_EINVAL when t is not such a name. */
int vz_vec_decimal_dims(const char *t, int *width, int *scale) VZ_MUST_CHECK;

/* DECIMAL(width, s): store the unscaled value (123.45 in DECIMAL(10,2) is
 * 12345). DuckDB stores a decimal in 16, 32, 64 or 128 bits depending on its
 * width; this picks the right one. 0, or VZ_EINVAL when |unscaled| needs more
 * than width digits (the vector is not touched: store NULL or fail the run). */
int vz_vec_set_decimal(duckdb_vector v, idx_t row, int width, int64_t unscaled) VZ_MUST_CHECK;

/* The same for a 128-bit unscaled value (two's complement, hi:lo) into a
 * DECIMAL of width 19..38. VZ_EINVAL when width is not in 19..38 or the value
 * needs more than width digits. */
int vz_vec_set_decimal128(duckdb_vector v, idx_t row, int width, int64_t hi,
                          uint64_t lo) VZ_MUST_CHECK;

/* ---- text ---- */

/* VARCHAR from len bytes of s. DuckDB requires valid UTF-8 (anything else is
 * undefined behaviour later, in Parquet writing or in any reader), so each
 * byte that does not start a valid UTF-8 sequence is replaced by U+FFFD, the
 * rest is kept as it is; NUL bytes are valid UTF-8 and kept. scratch (any
 * vz_buf, reused between calls by the caller, released by it) holds the
 * repaired copy. 1 when something was replaced, 0 when s was stored
 * unchanged, VZ_ENOMEM or VZ_ETOOBIG (scratch's ceiling) on failure. */
int vz_vec_set_text(duckdb_vector v, idx_t row, const char *s, size_t len,
                    struct vz_buf *scratch) VZ_MUST_CHECK;

/* Append len bytes of s to b with every byte that does not start a valid
 * UTF-8 sequence replaced by U+FFFD. 1 when something was replaced, 0 when
 * not, VZ_ENOMEM or VZ_ETOOBIG. */
int vz_utf8_repair(struct vz_buf *b, const char *s, size_t len) VZ_MUST_CHECK;

/* 1 if len bytes of s are valid UTF-8 (no overlong forms, surrogates or
 * values above U+10FFFF), else 0. */
int vz_utf8_valid(const char *s, size_t len);

/* Append s (len bytes) to b as a JSON string literal, quotes included:
 * '"', '\\' and control characters are escaped, invalid UTF-8 becomes
 * U+FFFD (JSON text must be UTF-8), U+0000 becomes \u0000. Used for arrays
 * and hstore, which become JSON text (M2). 0, VZ_ENOMEM or VZ_ETOOBIG; on
 * failure b may hold part of the literal. */
int vz_json_add_str(struct vz_buf *b, const char *s, size_t len) VZ_MUST_CHECK;

#endif
