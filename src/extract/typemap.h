/* Type mapping (spec M2): which Parquet column type each source column gets.
 *
 * One rule table in typemap.c decides, per column, the DuckDB type written to
 * Parquet, how the value is converted on the way, whether the column is left
 * out, and the warning recorded on the dataset. The schema API shows the
 * result before an extract; the extraction engine follows it during one, so
 * both always agree.
 *
 * Input is a column as vz_source_introspect() describes it (type_class,
 * source_type, precision, scale). Unknown or missing classes never fail: they
 * become VARCHAR holding the server's text form, with a warning.
 *
 * Decisions on the less obvious types (reasons in typemap.c):
 *   - time with time zone (PG timetz)  -> VARCHAR "12:30:00+02" (offset kept)
 *   - PG bit / bit varying             -> VARCHAR of '0'/'1' digits
 *   - MySQL BIT(1)                     -> BOOLEAN; BIT(2..63) -> BIGINT; BIT(64) -> UBIGINT
 *   - PG money                         -> DOUBLE (read as numeric, never as locale text)
 *   - geometry (MySQL spatial types)   -> VARCHAR holding Well-Known Text
 *   - numeric without precision        -> DOUBLE with a warning (both decimal modes)
 *
 * The extraction engine also owns two MySQL details no mapping can express:
 * zero dates ('0000-00-00') become NULL, and a TIME value outside
 * 00:00:00..24:00:00 (MySQL allows +-838:59:59 durations) becomes NULL with a
 * warning rather than failing the run.
 *
 * Layer: core/, jansson and the vz_db_type enum of sources/source.h. Pure
 * functions over constant data: thread-safe. */
#ifndef VZ_EXTRACT_TYPEMAP_H
#define VZ_EXTRACT_TYPEMAP_H

#include <jansson.h>

#include "core/err.h"
#include "sources/source.h"

enum vz_decimal_mode {
    VZ_DECIMAL_DOUBLE = 0, /* spec default: DECIMAL/NUMERIC -> DOUBLE */
    VZ_DECIMAL_EXACT       /* keep DECIMAL(p,s) when 1 <= p <= 38 and 0 <= s <= p */
};

/* How a value is turned into the Parquet value: X(enum suffix, machine name,
 * meaning). The machine name is stable; the API and dataset metadata show it. */
#define VZ_CONV_MAP(X)                                                                             \
    X(AS_IS, "as_is", "value kept as it is (same type family)")                                    \
    X(INT_TO_BOOL, "int_to_bool", "MySQL TINYINT(1): 0 is false, any other value true")            \
    X(BIT_TO_BOOL, "bit_to_bool", "MySQL BIT(1): b'1' is true")                                    \
    X(BIT_INT, "bit_int", "MySQL BIT(n): the bits as an unsigned number")                          \
    X(BIT_TEXT, "bit_text", "bit string as '0'/'1' digits")                                        \
    X(TO_DOUBLE, "to_double", "DECIMAL/NUMERIC to the nearest DOUBLE")                             \
    X(MONEY_TO_DOUBLE, "money_to_double", "PG money read as numeric, then DOUBLE")                 \
    X(DECIMAL, "decimal", "exact DECIMAL(p,s)")                                                    \
    X(TO_UTC, "to_utc", "instant normalised to UTC")                                               \
    X(TIMETZ_TEXT, "timetz_text", "time of day with its UTC offset as text")                       \
    X(INTERVAL_TEXT, "interval_text", "interval as the server's text form")                        \
    X(JSON_TEXT, "json_text", "JSON document as text")                                             \
    X(ARRAY_JSON, "array_json", "array as JSON array text; nested arrays nest")                    \
    X(HSTORE_JSON, "hstore_json", "hstore as JSON object text")                                    \
    X(UUID_TEXT, "uuid_text", "UUID as 36-character text")                                         \
    X(ENUM_TEXT, "enum_text", "enum label as text")                                                \
    X(SET_TEXT, "set_text", "MySQL SET members as comma-separated text")                           \
    X(WKT_TEXT, "wkt_text", "geometry as Well-Known Text")                                         \
    X(TEXT_FALLBACK, "text_fallback", "unknown type: the server's text form")                      \
    X(SKIP, "skip", "column not extracted")

#define VZ_CONV_ENUM_(name, str, doc) VZ_CONV_##name,
enum vz_conv { VZ_CONV_MAP(VZ_CONV_ENUM_) VZ_CONV_COUNT_ };
#undef VZ_CONV_ENUM_

#define VZ_TYPEMAP_TYPE_MAX 32  /* longest: "TIMESTAMP WITH TIME ZONE" */
#define VZ_TYPEMAP_WARN_MAX 320 /* a 64-character column name fits */

struct vz_type_map {
    char duckdb_type[VZ_TYPEMAP_TYPE_MAX]; /* e.g. "VARCHAR", "DECIMAL(10,2)"; "" if skip */
    int skip;                              /* 1: column left out of the Parquet file */
    enum vz_conv conv;
    const char *conversion;            /* vz_conv_name(conv): static, never NULL */
    char warning[VZ_TYPEMAP_WARN_MAX]; /* "" or one sentence naming the column and
                                          its source type, valid UTF-8 */
};

/* Stable machine name of a conversion ("as_is", "json_text", ...); static,
 * "unknown" for an out-of-range value. */
const char *vz_conv_name(enum vz_conv c);

/* Map one column. column_name, type_class and source_type may be NULL
 * (shown as "?" / treated as unknown). precision and scale are < 0 when
 * unknown; when they are unknown but source_type spells them
 * ("numeric(30,20)", "bit(8)"), those are used. Never fails: *out is always
 * filled. */
void vz_typemap_column(enum vz_db_type db, const char *column_name, const char *type_class,
                       const char *source_type, int precision, int scale, enum vz_decimal_mode dm,
                       struct vz_type_map *out);

/* Annotate one table object of vz_source_introspect()'s result in place:
 * each element of its "columns" array gets "parquet_type" (string, or null
 * when skipped), "skipped" (bool), "conversion" (string) and, when there is
 * one, "warning" (string); the table gets "warnings", an array of every
 * column warning in column order (replacing any existing one).
 * 0, VZ_EINVAL (db unknown, table not an object, "columns" missing or not an
 * array, a column not an object or without a string "name") or VZ_ENOMEM;
 * on failure the table may be partly annotated. */
int vz_typemap_annotate_table(enum vz_db_type db, json_t *table, enum vz_decimal_mode dm,
                              struct vz_err *err) VZ_MUST_CHECK;

#endif
