#include "extract/typemap.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define D_PG (1u << VZ_DB_POSTGRES)
#define D_MY (1u << VZ_DB_MYSQL)
#define D_ANY (D_PG | D_MY)

/* Rows whose result is not a fixed type. */
enum special {
    SP_NONE,
    SP_DECIMAL, /* type and warning depend on precision, scale and decimal mode */
    SP_BINARY,  /* skipped, with a warning */
    SP_UNKNOWN  /* VARCHAR, with a warning */
};

struct rule {
    unsigned dialects;
    const char *type_class; /* NULL: any class */
    const char *source;     /* NULL: any; "x": source_type is x; "x*": x or x(...) */
    int min_prec, max_prec; /* inclusive precision range; 0, 0: any (even unknown) */
    const char *duckdb;     /* NULL for SP_DECIMAL and SP_BINARY */
    enum vz_conv conv;
    enum special sp;
};

/* The whole M2 mapping. First matching row wins, so rows keyed on a
 * source_type come before the class rows they refine, and the last row
 * catches everything. */
static const struct rule rules[] = {
    /* MySQL has no boolean type: BOOLEAN is an alias of TINYINT(1), which is
       how the column reads back; the backend may class it int8 or bool.
       "tinyint(1) unsigned" is not matched on purpose: nobody spells a flag so. */
    {D_MY, NULL, "tinyint(1)", 0, 0, "BOOLEAN", VZ_CONV_INT_TO_BOOL, SP_NONE},
    /* MySQL TIMESTAMP is stored in UTC and converted to the session zone on
       read, so it is an instant; the engine reads it with time_zone='+00:00'.
       (DATETIME is a wall-clock value: the "timestamp" class row below.) */
    {D_MY, NULL, "timestamp*", 0, 0, "TIMESTAMP WITH TIME ZONE", VZ_CONV_TO_UTC, SP_NONE},
    /* PG money prints per lc_monetary ("$1,234.50", "1.234,50 EUR"); the
       engine selects money::numeric instead, which is locale-free. DOUBLE
       rather than DECIMAL: the number of fraction digits also depends on the
       locale, so no DECIMAL(p,s) is right for every server. */
    {D_PG, NULL, "money", 0, 0, "DOUBLE", VZ_CONV_MONEY_TO_DOUBLE, SP_NONE},
    /* Any other MySQL column classed bool ("tinyint(1) zerofill") is a
       TINYINT underneath too, holding any value -128..127. */
    {D_MY, "bool", NULL, 0, 0, "BOOLEAN", VZ_CONV_INT_TO_BOOL, SP_NONE},
    /* PG boolean. */
    {D_ANY, "bool", NULL, 0, 0, "BOOLEAN", VZ_CONV_AS_IS, SP_NONE},
    /* Signed integers by width in bits (PG smallint/integer/bigint, MySQL
       TINYINT/SMALLINT/MEDIUMINT/INT/BIGINT). */
    {D_ANY, "int8", NULL, 0, 0, "TINYINT", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "int16", NULL, 0, 0, "SMALLINT", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "int32", NULL, 0, 0, "INTEGER", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "int64", NULL, 0, 0, "BIGINT", VZ_CONV_AS_IS, SP_NONE},
    /* MySQL UNSIGNED integers keep their full range. */
    {D_ANY, "uint8", NULL, 0, 0, "UTINYINT", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "uint16", NULL, 0, 0, "USMALLINT", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "uint32", NULL, 0, 0, "UINTEGER", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "uint64", NULL, 0, 0, "UBIGINT", VZ_CONV_AS_IS, SP_NONE},
    /* IEEE floats: real/FLOAT and double precision/DOUBLE. */
    {D_ANY, "float32", NULL, 0, 0, "FLOAT", VZ_CONV_AS_IS, SP_NONE},
    {D_ANY, "float64", NULL, 0, 0, "DOUBLE", VZ_CONV_AS_IS, SP_NONE},
    /* DECIMAL/NUMERIC: DOUBLE by default (spec M2), DECIMAL(p,s) in exact
       mode; see map_decimal(). */
    {D_ANY, "decimal", NULL, 0, 0, NULL, VZ_CONV_TO_DOUBLE, SP_DECIMAL},
    /* text, varchar, char, MySQL TEXT family. */
    {D_ANY, "text", NULL, 0, 0, "VARCHAR", VZ_CONV_AS_IS, SP_NONE},
    /* UUID: 36-character canonical text (spec: VARCHAR(36); DuckDB's VARCHAR
       has no length, the conversion guarantees it). */
    {D_ANY, "uuid", NULL, 0, 0, "VARCHAR", VZ_CONV_UUID_TEXT, SP_NONE},
    /* json, jsonb, MySQL JSON: the document as text. */
    {D_ANY, "json", NULL, 0, 0, "VARCHAR", VZ_CONV_JSON_TEXT, SP_NONE},
    /* PG arrays of any element type and depth: a JSON array, so '{1,2}'
       becomes "[1,2]" and text elements are properly quoted. */
    {D_ANY, "array", NULL, 0, 0, "VARCHAR", VZ_CONV_ARRAY_JSON, SP_NONE},
    /* PG hstore: a JSON object {"key": "value"}. */
    {D_ANY, "hstore", NULL, 0, 0, "VARCHAR", VZ_CONV_HSTORE_JSON, SP_NONE},
    /* Enums: the label. A Parquet dictionary column would need the label
       list up front and gains nothing for search. */
    {D_ANY, "enum", NULL, 0, 0, "VARCHAR", VZ_CONV_ENUM_TEXT, SP_NONE},
    /* MySQL SET: members as MySQL prints them, "a,b". */
    {D_ANY, "set", NULL, 0, 0, "VARCHAR", VZ_CONV_SET_TEXT, SP_NONE},
    /* Calendar date. */
    {D_ANY, "date", NULL, 0, 0, "DATE", VZ_CONV_AS_IS, SP_NONE},
    /* Time of day without zone. */
    {D_ANY, "time", NULL, 0, 0, "TIME", VZ_CONV_AS_IS, SP_NONE},
    /* PG timetz: DuckDB's TIMETZ is written to Parquet as a UTC-adjusted
       TIME, which drops the offset and reads back as a different wall time
       in most tools; the text "12:30:00+02" keeps all of it. */
    {D_ANY, "timetz", NULL, 0, 0, "VARCHAR", VZ_CONV_TIMETZ_TEXT, SP_NONE},
    /* Wall-clock timestamps (PG timestamp, MySQL DATETIME): unchanged, no
       zone invented. */
    {D_ANY, "timestamp", NULL, 0, 0, "TIMESTAMP", VZ_CONV_AS_IS, SP_NONE},
    /* PG timestamptz: an instant, normalised to UTC (spec M2). */
    {D_ANY, "timestamptz", NULL, 0, 0, "TIMESTAMP WITH TIME ZONE", VZ_CONV_TO_UTC, SP_NONE},
    /* PG interval: as the server's text ("1 year 2 mons -3 days 04:05:06").
       DuckDB's INTERVAL has the same parts, but its Parquet writer refuses
       negative intervals and keeps only milliseconds, so a table holding
       '-1 day' could not be extracted at all. */
    {D_ANY, "interval", NULL, 0, 0, "VARCHAR", VZ_CONV_INTERVAL_TEXT, SP_NONE},
    /* MySQL YEAR: 1901..2155 or 0. */
    {D_ANY, "year", NULL, 0, 0, "SMALLINT", VZ_CONV_AS_IS, SP_NONE},
    /* MySQL BIT(1) is how ORMs (Hibernate, ...) store a boolean. */
    {D_MY, "bit", NULL, 1, 1, "BOOLEAN", VZ_CONV_BIT_TO_BOOL, SP_NONE},
    /* MySQL BIT(2..63): flags as a number, fits a signed BIGINT, which more
       Parquet readers handle than an unsigned one. */
    {D_MY, "bit", NULL, 2, 63, "BIGINT", VZ_CONV_BIT_INT, SP_NONE},
    /* MySQL BIT(64) (or width unknown, at most 64): needs all 64 bits. */
    {D_MY, "bit", NULL, 0, 0, "UBIGINT", VZ_CONV_BIT_INT, SP_NONE},
    /* PG bit(n)/varbit can be any length: '0'/'1' digits, as PG prints them. */
    {D_ANY, "bit", NULL, 0, 0, "VARCHAR", VZ_CONV_BIT_TEXT, SP_NONE},
    /* bytea, BLOB, BINARY, VARBINARY: left out with a warning (spec M2);
       raw bytes are neither searchable nor embeddable. */
    {D_ANY, "binary", NULL, 0, 0, NULL, VZ_CONV_SKIP, SP_BINARY},
    /* MySQL spatial types (and PostGIS, should a backend class it so):
       Well-Known Text, e.g. "POINT(1 2)", readable and parsable anywhere. */
    {D_ANY, "geometry", NULL, 0, 0, "VARCHAR", VZ_CONV_WKT_TEXT, SP_NONE},
    /* Everything else ("other": inet, cidr, macaddr, xml, tsvector, point,
       composite and range types..., or a class this table does not know):
       the server's text form, with a warning (spec M2). */
    {D_ANY, NULL, NULL, 0, 0, "VARCHAR", VZ_CONV_TEXT_FALLBACK, SP_UNKNOWN},
};

#define CONV_NAME_(name, str, doc) str,
static const char *const conv_names[] = {VZ_CONV_MAP(CONV_NAME_)};
#undef CONV_NAME_

const char *vz_conv_name(enum vz_conv c)
{
    if ((unsigned)c >= sizeof(conv_names) / sizeof(conv_names[0]))
        return "unknown";
    return conv_names[c];
}

/* A column as the rules see it. */
struct col {
    const char *name, *type_class, *source;
    int precision, scale;
};

/* source_type against a rule's pattern, case-insensitively. */
static int source_matches(const char *pattern, const char *source)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        n--;
        return strncasecmp(source, pattern, n) == 0 && (source[n] == '\0' || source[n] == '(');
    }
    return strcasecmp(source, pattern) == 0;
}

static int rule_matches(const struct rule *r, enum vz_db_type db, const struct col *c)
{
    if ((unsigned)db > VZ_DB_MYSQL || !(r->dialects & (1u << db)))
        return 0;
    if (r->type_class && (!c->type_class || strcmp(r->type_class, c->type_class) != 0))
        return 0;
    if (r->source && (!c->source || !source_matches(r->source, c->source)))
        return 0;
    if (r->min_prec || r->max_prec)
        return c->precision >= r->min_prec && c->precision <= r->max_prec;
    return 1;
}

/* Parse "(p)" or "(p,s)" after the type name in source_type. Sets the ones
 * found; leaves the outputs alone otherwise. */
static void parse_typmod(const char *source, int *precision, int *scale)
{
    const char *s = source ? strchr(source, '(') : NULL;
    char *end;
    long p, sc;
    if (!s)
        return;
    p = strtol(s + 1, &end, 10);
    if (end == s + 1 || p < 0 || p > INT_MAX)
        return;
    if (*end == ')') {
        *precision = (int)p;
        *scale = 0; /* numeric(p) and DECIMAL(p) mean scale 0 */
        return;
    }
    if (*end != ',')
        return;
    s = end + 1;
    sc = strtol(s, &end, 10);
    if (end == s || *end != ')' || sc < INT_MIN || sc > INT_MAX)
        return;
    *precision = (int)p;
    *scale = (int)sc;
}

/* Format the warning into out->warning. When it does not fit, end it with
 * "..." at a UTF-8 character boundary, so it is always valid UTF-8 (jansson
 * refuses anything else). */
static void warnf(struct vz_type_map *out, const char *fmt, ...) VZ_PRINTF(2, 3);
static void warnf(struct vz_type_map *out, const char *fmt, ...)
{
    char *w = out->warning;
    size_t cap = sizeof(out->warning), len, start;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(w, cap, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w[0] = '\0';
        return;
    }
    if ((size_t)n < cap)
        return;
    len = cap - 4; /* room for "..." and the NUL */
    /* Back up over continuation bytes to the lead byte of the last
       character; drop that character if it is not complete. */
    start = len;
    while (start > 0 && ((unsigned char)w[start - 1] & 0xC0) == 0x80)
        start--;
    if (start > 0 && ((unsigned char)w[start - 1] & 0x80)) {
        unsigned char lead = (unsigned char)w[start - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (len - (start - 1) < need)
            len = start - 1;
    }
    memcpy(w + len, "...", 4);
}

static void set_type(struct vz_type_map *out, const char *t)
{
    snprintf(out->duckdb_type, sizeof(out->duckdb_type), "%s", t);
}

/* DuckDB's DECIMAL holds at most 38 digits with 0 <= scale <= precision;
 * anything else must go to DOUBLE. In DOUBLE mode the spec asks for a
 * warning only when scale > 15 (a double has 15-17 significant digits);
 * an unconstrained numeric gets one too, since its values can carry any
 * number of digits. Columns like numeric(20,2) get none: warning on every
 * money column would bury the warnings that matter, and exact mode exists
 * for them. */
static void map_decimal(const struct col *c, enum vz_decimal_mode dm, struct vz_type_map *out)
{
    int p = c->precision, s = c->scale;
    const char *name = c->name ? c->name : "?";
    const char *src = c->source ? c->source : "decimal";

    if (dm == VZ_DECIMAL_EXACT && p >= 1 && p <= 38 && s >= 0 && s <= p) {
        snprintf(out->duckdb_type, sizeof(out->duckdb_type), "DECIMAL(%d,%d)", p, s);
        out->conv = VZ_CONV_DECIMAL;
        return;
    }
    set_type(out, "DOUBLE");
    out->conv = VZ_CONV_TO_DOUBLE;
    if (p < 0)
        warnf(out,
              "column %s (%s): no declared precision, converted to DOUBLE; digits beyond "
              "about 15 significant ones are lost",
              name, src);
    else if (dm == VZ_DECIMAL_EXACT && p > 38)
        warnf(out, "column %s (%s): precision %d > 38, converted to DOUBLE with precision loss",
              name, src, p);
    else if (s > 15)
        warnf(out, "column %s (%s): scale %d > 15, converted to DOUBLE with precision loss", name,
              src, s);
    else if (dm == VZ_DECIMAL_EXACT)
        warnf(out,
              "column %s (%s): scale outside 0..precision, converted to DOUBLE with "
              "precision loss",
              name, src);
}

void vz_typemap_column(enum vz_db_type db, const char *column_name, const char *type_class,
                       const char *source_type, int precision, int scale, enum vz_decimal_mode dm,
                       struct vz_type_map *out)
{
    struct col c = {column_name, type_class, source_type, precision, scale};
    const struct rule *r = &rules[sizeof(rules) / sizeof(rules[0]) - 1];
    const char *name = column_name ? column_name : "?";
    const char *shown = source_type ? source_type : type_class ? type_class : "unknown type";

    memset(out, 0, sizeof(*out));
    if (c.precision < 0 || c.scale < 0) {
        /* Fill only what the caller did not know. */
        int p = c.precision, s = c.scale;
        parse_typmod(source_type, &p, &s);
        if (c.precision < 0)
            c.precision = p;
        if (c.scale < 0)
            c.scale = s;
    }

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (rule_matches(&rules[i], db, &c)) {
            r = &rules[i];
            break;
        }
    }

    out->conv = r->conv;
    switch (r->sp) {
    case SP_NONE:
        set_type(out, r->duckdb);
        break;
    case SP_DECIMAL:
        map_decimal(&c, dm, out);
        break;
    case SP_BINARY:
        out->skip = 1;
        warnf(out, "column %s (%s) skipped: binary data is not extracted", name, shown);
        break;
    case SP_UNKNOWN:
        set_type(out, r->duckdb);
        warnf(out, "column %s (%s): unknown type, extracted as text", name, shown);
        break;
    }
    out->conversion = vz_conv_name(out->conv);
}

/* An int member of a column object; -1 when missing, null or out of range. */
static int json_int_or_unknown(const json_t *col, const char *key)
{
    const json_t *v = json_object_get(col, key);
    json_int_t n;
    if (!json_is_integer(v))
        return -1;
    n = json_integer_value(v);
    return n < 0 || n > INT_MAX ? -1 : (int)n;
}

int vz_typemap_annotate_table(enum vz_db_type db, json_t *table, enum vz_decimal_mode dm,
                              struct vz_err *err)
{
    json_t *cols, *col, *warnings = NULL;
    size_t i;

    if (db != VZ_DB_POSTGRES && db != VZ_DB_MYSQL)
        return vz_err_set(err, VZ_EINVAL, "unknown database type %d", (int)db);
    if (!json_is_object(table))
        return vz_err_set(err, VZ_EINVAL, "table is not a JSON object");
    cols = json_object_get(table, "columns");
    if (!json_is_array(cols))
        return vz_err_set(err, VZ_EINVAL, "table has no \"columns\" array");
    warnings = json_array();
    if (!warnings)
        return vz_err_set(err, VZ_ENOMEM, NULL);

    json_array_foreach(cols, i, col)
    {
        struct vz_type_map m;
        const char *name = json_string_value(json_object_get(col, "name"));
        if (!json_is_object(col) || !name) {
            json_decref(warnings);
            return vz_err_set(err, VZ_EINVAL, "column %zu has no \"name\"", i + 1);
        }
        /* A negative scale (PG 15 allows numeric(5,-2)) reads as unknown
           here; vz_typemap_column() then takes it from source_type. */
        vz_typemap_column(db, name, json_string_value(json_object_get(col, "type_class")),
                          json_string_value(json_object_get(col, "source_type")),
                          json_int_or_unknown(col, "precision"), json_int_or_unknown(col, "scale"),
                          dm, &m);
        if (json_object_set_new(col, "parquet_type",
                                m.skip ? json_null() : json_string(m.duckdb_type)) < 0 ||
            json_object_set_new(col, "skipped", json_boolean(m.skip)) < 0 ||
            json_object_set_new(col, "conversion", json_string(m.conversion)) < 0)
            goto nomem;
        if (m.warning[0]) {
            if (json_object_set_new(col, "warning", json_string(m.warning)) < 0 ||
                json_array_append_new(warnings, json_string(m.warning)) < 0)
                goto nomem;
        } else if (json_object_get(col, "warning") && json_object_del(col, "warning") < 0) {
            goto nomem;
        }
    }
    /* json_object_set_new() takes the reference even when it fails. */
    if (json_object_set_new(table, "warnings", warnings) < 0)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    return 0;

nomem:
    json_decref(warnings);
    return vz_err_set(err, VZ_ENOMEM, NULL);
}
