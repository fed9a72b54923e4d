/* The generic half of a result stream: column descriptions, the M2 mapping of
 * each column, and the DuckDB type of a mapped column. Backends fill in
 * st->cols; nothing here knows PostgreSQL or MySQL. */
#include "extract/stream.h"

#include <stdlib.h>
#include <string.h>

void vz_stream_release(struct vz_stream *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ncols; i++)
        free(st->cols[i].name);
    free(st->cols);
    st->cols = NULL;
    st->ncols = 0;
    st->nout = 0;
    st->rows = 0;
    st->bytes = 0;
    /* decimal_mode is the caller's choice and priv the backend's: both stay. */
}

/* typemap treats NULL as "unknown"; an empty fixed-size field means the same. */
static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

int vz_stream_map_columns(struct vz_stream *st, int db_type, struct vz_err *err)
{
    if (db_type != VZ_DB_POSTGRES && db_type != VZ_DB_MYSQL)
        return vz_err_set(err, VZ_EINVAL, "unknown database type %d", db_type);
    if (st->ncols && !st->cols)
        return vz_err_set(err, VZ_EINVAL, "stream has %zu columns but no descriptions", st->ncols);
    st->nout = 0;
    for (size_t i = 0; i < st->ncols; i++) {
        struct vz_stream_col *c = &st->cols[i];
        vz_typemap_column((enum vz_db_type)db_type, c->name, or_null(c->type_class),
                          or_null(c->source_type), c->precision, c->scale, st->decimal_mode,
                          &c->map);
        c->out_index = c->map.skip ? -1 : (int)st->nout++;
    }
    return 0;
}

/* Every spelling typemap.c can produce, besides DECIMAL(p,s). */
static const struct {
    const char *name;
    duckdb_type type;
} simple_types[] = {
    {"VARCHAR", DUCKDB_TYPE_VARCHAR},
    {"BOOLEAN", DUCKDB_TYPE_BOOLEAN},
    {"TINYINT", DUCKDB_TYPE_TINYINT},
    {"SMALLINT", DUCKDB_TYPE_SMALLINT},
    {"INTEGER", DUCKDB_TYPE_INTEGER},
    {"BIGINT", DUCKDB_TYPE_BIGINT},
    {"HUGEINT", DUCKDB_TYPE_HUGEINT},
    {"UTINYINT", DUCKDB_TYPE_UTINYINT},
    {"USMALLINT", DUCKDB_TYPE_USMALLINT},
    {"UINTEGER", DUCKDB_TYPE_UINTEGER},
    {"UBIGINT", DUCKDB_TYPE_UBIGINT},
    {"FLOAT", DUCKDB_TYPE_FLOAT},
    {"DOUBLE", DUCKDB_TYPE_DOUBLE},
    {"DATE", DUCKDB_TYPE_DATE},
    {"TIME", DUCKDB_TYPE_TIME},
    {"TIMESTAMP", DUCKDB_TYPE_TIMESTAMP},
    {"TIMESTAMP WITH TIME ZONE", DUCKDB_TYPE_TIMESTAMP_TZ},
    {"INTERVAL", DUCKDB_TYPE_INTERVAL},
};

/* "DECIMAL(p,s)" with 1 <= p <= 38, 0 <= s <= p, nothing after the ")". */
static int parse_decimal(const char *t, int *p, int *s)
{
    char *end;
    long lp, ls;

    if (strncmp(t, "DECIMAL(", 8) != 0)
        return -1;
    lp = strtol(t + 8, &end, 10);
    if (end == t + 8 || *end != ',')
        return -1;
    t = end + 1;
    ls = strtol(t, &end, 10);
    if (end == t || strcmp(end, ")") != 0)
        return -1;
    if (lp < 1 || lp > 38 || ls < 0 || ls > lp)
        return -1;
    *p = (int)lp;
    *s = (int)ls;
    return 0;
}

duckdb_logical_type vz_stream_logical_type(const struct vz_stream_col *c)
{
    const char *t = c->map.duckdb_type;
    int p, s;

    if (c->map.skip || !*t)
        return NULL;
    for (size_t i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]); i++)
        if (strcmp(t, simple_types[i].name) == 0)
            return duckdb_create_logical_type(simple_types[i].type);
    if (parse_decimal(t, &p, &s) == 0)
        return duckdb_create_decimal_type((uint8_t)p, (uint8_t)s);
    return NULL;
}
