/* MySQL / MariaDB: streaming one result into DuckDB chunks (extract/stream.h).
 *
 * The query runs in its own READ ONLY transaction on the source's session
 * (which is already READ ONLY, has the statement time limit, time_zone
 * '+00:00' and net_write_timeout = 600 from connect: see mys_session_setup()
 * in mysql.c). mysql_use_result reads rows as the server sends them, so
 * memory holds one row plus the socket buffer whatever the table size;
 * mysql_store_result would hold the whole result.
 *
 * The text protocol is used, not prepared statements: custom SQL runs once,
 * so preparing buys nothing, and the text forms are exact (DECIMAL digits,
 * DATETIME fractions) where binary results would need one more conversion.
 * myrow.c turns each value's text into its DuckDB value.
 *
 * MySQL oddities that must not fail a run become NULL with a note appended
 * to the column's warning (st->cols[i].map.warning, which the extraction
 * stores with the dataset), once per column: zero or impossible dates, TIME
 * durations outside a day, geometry bytes that are not SRID + WKB (kept as
 * hex text), text that is not UTF-8 (bytes replaced by U+FFFD). */
/* vec.h first: it includes duckdb.h without the strict-prototypes warning. */
#include "extract/vec.h"

#include "extract/stream.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mysql.h>

#include "sources/myrow.h"
#include "sources/mysql_internal.h"
#include "sources/source_internal.h"

/* Notes added to a column's warning, each at most once per stream. */
enum { W_ZERO_DATE = 1, W_TIME_RANGE = 2, W_NOT_WKB = 4, W_UTF8 = 8 };

struct mys_col {
    struct vz_myconv conv;
    duckdb_type out; /* type of the output vector; DUCKDB_TYPE_INVALID when skipped */
    unsigned warned; /* W_* already noted */
};

struct mys_stream {
    MYSQL_RES *res;
    struct mys_col *cols; /* one per result column */
    duckdb_vector *vecs;  /* one per result column: this fill's vector, NULL when skipped */
    struct vz_buf text;   /* decoded text (WKT, long numbers) */
    struct vz_buf utf8;   /* vz_vec_set_text()'s repaired copies */
    int in_txn;           /* START TRANSACTION succeeded: close rolls back */
    int server_done;      /* the server ended the result (last row or an error) */
    int at_end;           /* ... and it was the last row: fill returns 0 rows */
    int failed;           /* a fill failed: only close is left */
};

/* ---- describing columns ---- */

static void set_type(struct vz_stream_col *c, const char *cls, const char *fmt, ...)
    VZ_PRINTF(3, 4);
static void set_type(struct vz_stream_col *c, const char *cls, const char *fmt, ...)
{
    va_list ap;
    snprintf(c->type_class, sizeof(c->type_class), "%s", cls);
    va_start(ap, fmt);
    vsnprintf(c->source_type, sizeof(c->source_type), fmt, ap);
    va_end(ap);
}

static void set_int(struct vz_stream_col *c, const char *name, int uns, const char *cls,
                    const char *ucls)
{
    set_type(c, uns ? ucls : cls, "%s%s", name, uns ? " unsigned" : "");
}

/* ".. (n)" for types with fractional seconds. */
static void set_fsp(struct vz_stream_col *c, const char *cls, const char *name, unsigned dec)
{
    if (dec >= 1 && dec <= 6)
        set_type(c, cls, "%s(%u)", name, dec);
    else
        set_type(c, cls, "%s", name);
}

/* A MariaDB extended-metadata attribute ("json", "uuid", "point"...) as a
 * C string, "" when the server sent none (MySQL, MariaDB < 10.5). */
static void field_attr(const MYSQL_FIELD *f, enum mariadb_field_attr_t which, char *out, size_t n)
{
    MARIADB_CONST_STRING a = {NULL, 0};
    out[0] = '\0';
    if (mariadb_field_attr(&a, f, which) == 0 && a.str && a.length)
        snprintf(out, n, "%.*s", (int)(a.length < 64 ? a.length : 64), a.str);
}

/* The decimal's precision from the display length: digits, plus one for
 * the point when there are decimals, plus one for the sign unless
 * UNSIGNED. */
static void set_decimal(struct vz_stream_col *c, const MYSQL_FIELD *f, int uns)
{
    long p = (long)f->length - (f->decimals > 0) - !uns;
    int s = (int)f->decimals;

    if (f->length > 1000 || s > 65) {
        set_type(c, "decimal", "decimal");
        return;
    }
    if (p < s)
        p = s;
    if (p < 1)
        p = 1;
    c->precision = (int)p;
    c->scale = s;
    set_type(c, "decimal", "decimal(%d,%d)%s", c->precision, s, uns ? " unsigned" : "");
}

/* Strings and blobs: ENUM/SET by flag, then what MariaDB's extended
 * metadata says (JSON is LONGTEXT with format "json"; UUID and INET6 are
 * type plugins), then binary (charset 63, "binary") vs text. BINARY_FLAG
 * alone says nothing: utf8mb4_bin text and JSON carry it too. */
static void set_string(struct vz_stream_col *c, const MYSQL_FIELD *f)
{
    int bin = f->charsetnr == 63;
    char tname[72], fmt[72];

    field_attr(f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME, tname, sizeof(tname));
    field_attr(f, MARIADB_FIELD_ATTR_FORMAT_NAME, fmt, sizeof(fmt));
    if (f->flags & ENUM_FLAG)
        set_type(c, "enum", "enum");
    else if (f->flags & SET_FLAG)
        set_type(c, "set", "set");
    else if (strcmp(fmt, "json") == 0)
        set_type(c, "json", "json");
    else if (strcmp(tname, "uuid") == 0)
        set_type(c, "uuid", "uuid");
    else if (tname[0])
        set_type(c, "text", "%s", tname);
    else if (f->type == MYSQL_TYPE_STRING)
        set_type(c, bin ? "binary" : "text", bin ? "binary" : "char");
    else if (f->type == MYSQL_TYPE_VAR_STRING || f->type == MYSQL_TYPE_VARCHAR)
        set_type(c, bin ? "binary" : "text", bin ? "varbinary" : "varchar");
    else
        set_type(c, bin ? "binary" : "text", bin ? "blob" : "text");
}

/* type_class and source_type (source.h's vocabulary) from the result
 * metadata, as introspection would class the same column. */
static void classify(struct vz_stream_col *c, const MYSQL_FIELD *f)
{
    int uns = (f->flags & UNSIGNED_FLAG) != 0;
    char tname[72];

    switch (f->type) {
    case MYSQL_TYPE_TINY:
        /* BOOLEAN is TINYINT(1); literals and comparisons are wider ints. */
        if (f->length == 1 && !uns)
            set_type(c, "bool", "tinyint(1)");
        else
            set_int(c, "tinyint", uns, "int8", "uint8");
        break;
    case MYSQL_TYPE_SHORT:
        set_int(c, "smallint", uns, "int16", "uint16");
        break;
    case MYSQL_TYPE_INT24:
        set_int(c, "mediumint", uns, "int32", "uint32");
        break;
    case MYSQL_TYPE_LONG:
        set_int(c, "int", uns, "int32", "uint32");
        break;
    case MYSQL_TYPE_LONGLONG:
        set_int(c, "bigint", uns, "int64", "uint64");
        break;
    case MYSQL_TYPE_FLOAT:
        set_type(c, "float32", "float");
        break;
    case MYSQL_TYPE_DOUBLE:
        set_type(c, "float64", "double");
        break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        set_decimal(c, f, uns);
        break;
    case MYSQL_TYPE_YEAR:
        set_type(c, "year", "year");
        break;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        set_type(c, "date", "date");
        break;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
        set_fsp(c, "time", "time", f->decimals);
        break;
    /* DATETIME is wall-clock time; TIMESTAMP an instant, which the session's
       '+00:00' time zone prints in UTC. */
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
        set_fsp(c, "timestamp", "datetime", f->decimals);
        break;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
        set_fsp(c, "timestamptz", "timestamp", f->decimals);
        break;
    case MYSQL_TYPE_BIT:
        c->precision = f->length >= 1 && f->length <= 64 ? (int)f->length : -1;
        set_type(c, "bit", "bit(%lu)", f->length);
        break;
    case MYSQL_TYPE_JSON: /* MySQL 8 */
        set_type(c, "json", "json");
        break;
    case MYSQL_TYPE_GEOMETRY:
        field_attr(f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME, tname, sizeof(tname));
        set_type(c, "geometry", "%s", tname[0] ? tname : "geometry");
        break;
    case MYSQL_TYPE_ENUM:
        set_type(c, "enum", "enum");
        break;
    case MYSQL_TYPE_SET:
        set_type(c, "set", "set");
        break;
    case MYSQL_TYPE_NULL: /* SELECT NULL: every value is NULL */
        set_type(c, "text", "null");
        break;
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
        set_string(c, f);
        break;
    default:
        set_type(c, "other", "type %d", (int)f->type);
        break;
    }
}

static int describe(struct vz_stream_col *c, const MYSQL_FIELD *f)
{
    c->name = strndup(f->name ? f->name : "", f->name_length);
    if (!c->name)
        return VZ_ENOMEM;
    c->precision = c->scale = -1;
    c->out_index = -1;
    c->my_type = (int)f->type;
    c->my_flags = f->flags;
    c->my_length = f->length > UINT_MAX ? UINT_MAX : (unsigned)f->length;
    classify(c, f);
    return 0;
}

/* How fill reads a mapped column: the decoder kind from the DuckDB type
 * the mapping chose (and its conversion, where one type has two sources). */
static int plan_column(const struct vz_stream_col *c, struct mys_col *mc, struct vz_err *err)
{
    struct vz_myconv *v = &mc->conv;
    duckdb_logical_type lt;
    enum vz_conv conv = c->map.conv;

    memset(mc, 0, sizeof(*mc));
    mc->out = DUCKDB_TYPE_INVALID;
    if (c->map.skip)
        return 0;
    lt = vz_stream_logical_type(c);
    if (!lt)
        return vz_err_set(err, VZ_EINTERNAL, "column %s: no DuckDB type for %s", c->name,
                          c->map.duckdb_type);
    mc->out = duckdb_get_type_id(lt);
    duckdb_destroy_logical_type(&lt);
    v->min = INT64_MIN;
    v->max = INT64_MAX;
    v->umax = UINT64_MAX;
    switch (mc->out) {
    case DUCKDB_TYPE_BOOLEAN:
        v->kind = conv == VZ_CONV_BIT_TO_BOOL ? VZ_MYROW_BIT_BOOL : VZ_MYROW_BOOL;
        break;
    case DUCKDB_TYPE_TINYINT:
        v->kind = VZ_MYROW_INT;
        v->min = INT8_MIN;
        v->max = INT8_MAX;
        break;
    case DUCKDB_TYPE_SMALLINT:
        v->kind = VZ_MYROW_INT;
        v->min = INT16_MIN;
        v->max = INT16_MAX;
        break;
    case DUCKDB_TYPE_INTEGER:
        v->kind = VZ_MYROW_INT;
        v->min = INT32_MIN;
        v->max = INT32_MAX;
        break;
    case DUCKDB_TYPE_BIGINT:
        v->kind = conv == VZ_CONV_BIT_INT ? VZ_MYROW_BIT_INT : VZ_MYROW_INT;
        v->umax = INT64_MAX;
        break;
    case DUCKDB_TYPE_UTINYINT:
        v->kind = VZ_MYROW_UINT;
        v->umax = UINT8_MAX;
        break;
    case DUCKDB_TYPE_USMALLINT:
        v->kind = VZ_MYROW_UINT;
        v->umax = UINT16_MAX;
        break;
    case DUCKDB_TYPE_UINTEGER:
        v->kind = VZ_MYROW_UINT;
        v->umax = UINT32_MAX;
        break;
    case DUCKDB_TYPE_UBIGINT:
        v->kind = conv == VZ_CONV_BIT_INT ? VZ_MYROW_BIT_INT : VZ_MYROW_UINT;
        break;
    case DUCKDB_TYPE_FLOAT:
        v->kind = VZ_MYROW_FLOAT;
        break;
    case DUCKDB_TYPE_DOUBLE:
        v->kind = VZ_MYROW_DOUBLE;
        break;
    case DUCKDB_TYPE_DECIMAL:
        v->kind = VZ_MYROW_DECIMAL;
        if (vz_vec_decimal_dims(c->map.duckdb_type, &v->width, &v->scale) < 0)
            return vz_err_set(err, VZ_EINTERNAL, "column %s: bad decimal type %s", c->name,
                              c->map.duckdb_type);
        break;
    case DUCKDB_TYPE_DATE:
        v->kind = VZ_MYROW_DATE;
        break;
    case DUCKDB_TYPE_TIME:
        v->kind = VZ_MYROW_TIME;
        break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        v->kind = VZ_MYROW_DATETIME;
        break;
    case DUCKDB_TYPE_VARCHAR:
        v->kind = conv == VZ_CONV_WKT_TEXT && c->my_type == MYSQL_TYPE_GEOMETRY ? VZ_MYROW_WKT
                                                                                : VZ_MYROW_TEXT;
        break;
    default:
        return vz_err_set(err, VZ_EINTERNAL, "column %s: cannot decode MySQL values into %s",
                          c->name, c->map.duckdb_type);
    }
    return 0;
}

/* ---- warnings ---- */

/* Append "; note" (or note) to w, cutting note at a UTF-8 character
 * boundary with "..." when it does not fit. The mapping's own warning comes
 * first and is never cut. */
static void append_note(char *w, size_t cap, const char *note)
{
    size_t have = strlen(w), sep = have ? 2 : 0, n = strlen(note), room;

    if (have + sep + 4 >= cap)
        return;
    room = cap - have - sep - 1;
    if (sep)
        memcpy(w + have, "; ", 2);
    if (n <= room) {
        memcpy(w + have + sep, note, n + 1);
        return;
    }
    n = room - 3;
    while (n > 0 && ((unsigned char)note[n] & 0xC0) == 0x80)
        n--;
    memcpy(w + have + sep, note, n);
    memcpy(w + have + sep + n, "...", 4);
}

static void note_once(struct vz_stream_col *c, struct mys_col *mc, unsigned what)
{
    char note[VZ_TYPEMAP_WARN_MAX];
    const char *text;

    if (mc->warned & what)
        return;
    mc->warned |= what;
    switch (what) {
    case W_ZERO_DATE:
        text = "zero or invalid dates (such as '0000-00-00') were extracted as NULL";
        break;
    case W_TIME_RANGE:
        text = "TIME values outside 00:00:00..24:00:00 were extracted as NULL";
        break;
    case W_NOT_WKB:
        text = "values that are not MySQL geometry (SRID + WKB) were extracted as hex text";
        break;
    default:
        text = "bytes that are not valid UTF-8 were replaced by U+FFFD";
        break;
    }
    snprintf(note, sizeof(note), "column %s (%s): %s", c->name, c->source_type, text);
    append_note(c->map.warning, sizeof(c->map.warning), note);
}

/* ---- decoding ---- */

static int store(struct mys_col *mc, duckdb_vector v, idx_t r, const struct vz_myval *x)
{
    switch (mc->out) {
    case DUCKDB_TYPE_BOOLEAN:
        vz_vec_set_bool(v, r, x->b);
        return 0;
    case DUCKDB_TYPE_TINYINT:
        vz_vec_set_i8(v, r, (int8_t)x->i);
        return 0;
    case DUCKDB_TYPE_SMALLINT:
        vz_vec_set_i16(v, r, (int16_t)x->i);
        return 0;
    case DUCKDB_TYPE_INTEGER:
        vz_vec_set_i32(v, r, (int32_t)x->i);
        return 0;
    case DUCKDB_TYPE_BIGINT:
        vz_vec_set_i64(v, r, mc->conv.kind == VZ_MYROW_BIT_INT ? (int64_t)x->u : x->i);
        return 0;
    case DUCKDB_TYPE_UTINYINT:
        vz_vec_set_u8(v, r, (uint8_t)x->u);
        return 0;
    case DUCKDB_TYPE_USMALLINT:
        vz_vec_set_u16(v, r, (uint16_t)x->u);
        return 0;
    case DUCKDB_TYPE_UINTEGER:
        vz_vec_set_u32(v, r, (uint32_t)x->u);
        return 0;
    case DUCKDB_TYPE_UBIGINT:
        vz_vec_set_u64(v, r, x->u);
        return 0;
    case DUCKDB_TYPE_FLOAT:
        vz_vec_set_f32(v, r, x->f);
        return 0;
    case DUCKDB_TYPE_DOUBLE:
        vz_vec_set_f64(v, r, x->d);
        return 0;
    case DUCKDB_TYPE_DECIMAL:
        /* Up to 18 digits the value fits lo, read as two's complement. */
        if (mc->conv.width <= 18)
            return vz_vec_set_decimal(v, r, mc->conv.width, (int64_t)x->lo);
        return vz_vec_set_decimal128(v, r, mc->conv.width, x->hi, x->lo);
    case DUCKDB_TYPE_DATE:
        vz_vec_set_date(v, r, x->days);
        return 0;
    case DUCKDB_TYPE_TIME:
        vz_vec_set_time(v, r, x->micros);
        return 0;
    case DUCKDB_TYPE_TIMESTAMP:
        vz_vec_set_timestamp(v, r, x->micros);
        return 0;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        vz_vec_set_timestamptz(v, r, x->micros);
        return 0;
    default:
        return VZ_EINTERNAL;
    }
}

static int put_text(struct vz_stream *st, struct mys_stream *ms, size_t i, idx_t r, const char *s,
                    size_t len, struct vz_err *err)
{
    int rc = vz_vec_set_text(ms->vecs[i], r, s, len, &ms->utf8);
    if (rc == 1)
        note_once(&st->cols[i], &ms->cols[i], W_UTF8);
    if (rc < 0)
        return vz_err_set(err, rc, "column %s, row %llu: value of %zu bytes does not fit in memory",
                          st->cols[i].name, (unsigned long long)(st->rows + r + 1), len);
    return 0;
}

static int put_value(struct vz_stream *st, struct mys_stream *ms, size_t i, idx_t r, const char *s,
                     size_t len, struct vz_err *err)
{
    struct vz_stream_col *c = &st->cols[i];
    struct mys_col *mc = &ms->cols[i];
    struct vz_myval x;
    int rc;

    if (mc->conv.kind == VZ_MYROW_TEXT)
        return put_text(st, ms, i, r, s, len, err);
    rc = vz_myrow_convert(&mc->conv, s, len, &x, &ms->text);
    if (rc == VZ_MYROW_ZERO_DATE || rc == VZ_MYROW_TIME_RANGE) {
        note_once(c, mc, rc == VZ_MYROW_ZERO_DATE ? W_ZERO_DATE : W_TIME_RANGE);
        c->nulled++;
        vz_vec_set_null(ms->vecs[i], r);
        return 0;
    }
    if (rc == VZ_MYROW_NOT_WKB) /* the hex text is the value */
        note_once(c, mc, W_NOT_WKB);
    else if (rc == VZ_ENOMEM || rc == VZ_ETOOBIG)
        return vz_err_set(err, rc, "column %s, row %llu: value of %zu bytes does not fit", c->name,
                          (unsigned long long)(st->rows + r + 1), len);
    else if (rc < 0)
        goto bad;
    if (mc->conv.kind == VZ_MYROW_WKT)
        return put_text(st, ms, i, r, ms->text.p ? ms->text.p : "", ms->text.len, err);
    if (store(mc, ms->vecs[i], r, &x) == 0)
        return 0;
bad:
    /* Not the value: it is customer data, and the type says enough. */
    return vz_err_set(
        err, VZ_ESOURCE, "column %s, row %llu: the server sent a value that is not a valid %s (%s)",
        c->name, (unsigned long long)(st->rows + r + 1), c->source_type, c->map.duckdb_type);
}

/* ---- the ops ---- */

int vz_mys_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                       struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    struct mys_stream *ms;
    MYSQL_FIELD *f;
    unsigned n;
    int rc;

    if (!sql || !*sql)
        return vz_err_set(err, VZ_EINVAL, "no SQL to run");
    if (st->priv)
        return vz_err_set(err, VZ_EINVAL, "the stream is already open");
    ms = calloc(1, sizeof(*ms));
    if (!ms)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    vz_buf_init(&ms->text, 0);
    vz_buf_init(&ms->utf8, 0);
    st->priv = ms;
    st->rows = st->bytes = 0;
    atomic_store(&m->cancel_requested, 0);

    /* Fixed text. Without CLIENT_MULTI_STATEMENTS the server runs one
       statement per call, so sql cannot smuggle a second one in after it. */
    rc = vz_mys_exec(m, "START TRANSACTION READ ONLY", err);
    if (rc < 0)
        goto fail;
    ms->in_txn = 1;
    if (mysql_real_query(m->conn, sql, strlen(sql)) != 0) {
        rc = vz_mys_conn_error(m, err);
        goto fail;
    }
    ms->res = mysql_use_result(m->conn);
    if (!ms->res) {
        if (mysql_errno(m->conn))
            rc = vz_mys_conn_error(m, err);
        else
            rc = vz_err_set(err, VZ_EINVAL, "the statement returned no result set");
        goto fail;
    }

    n = mysql_num_fields(ms->res);
    f = mysql_fetch_fields(ms->res);
    st->cols = calloc(n ? n : 1, sizeof(*st->cols));
    ms->cols = calloc(n ? n : 1, sizeof(*ms->cols));
    ms->vecs = calloc(n ? n : 1, sizeof(*ms->vecs));
    if (!st->cols || !ms->cols || !ms->vecs || !f) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto fail;
    }
    st->ncols = n;
    for (unsigned i = 0; i < n; i++) {
        if (describe(&st->cols[i], &f[i]) < 0) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto fail;
        }
    }
    rc = vz_stream_map_columns(st, VZ_DB_MYSQL, err);
    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = plan_column(&st->cols[i], &ms->cols[i], err);
    if (rc < 0)
        goto fail;
    return 0;

fail:
    vz_mys_stream_close(s, st);
    vz_stream_release(st);
    return rc;
}

int vz_mys_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk, size_t *nrows,
                       struct vz_err *err)
{
    struct mys *m = vz_source_priv(s);
    struct mys_stream *ms = st->priv;
    duckdb_data_chunk chunk = duckdb_chunk;
    idx_t r;
    int rc;

    *nrows = 0;
    if (!ms || !ms->res)
        return vz_err_set(err, VZ_EINVAL, "the stream is not open");
    if (ms->failed)
        return vz_err_set(err, VZ_EINVAL, "the stream has failed; close it");
    if (ms->at_end)
        return 0;
    /* A cancel that came while rows were still arriving from the socket
       buffers must not read as success. */
    if (atomic_load(&m->cancel_requested)) {
        ms->failed = 1;
        return vz_err_set(err, VZ_ECANCELLED, "statement cancelled");
    }
    if (!chunk && st->nout)
        return vz_err_set(err, VZ_EINVAL, "no chunk to fill");
    for (size_t i = 0; i < st->ncols; i++)
        ms->vecs[i] = st->cols[i].out_index < 0
                          ? NULL
                          : duckdb_data_chunk_get_vector(chunk, (idx_t)st->cols[i].out_index);

    for (r = 0; r < VZ_STREAM_CHUNK; r++) {
        MYSQL_ROW row = mysql_fetch_row(ms->res);
        unsigned long *lens;

        if (!row) {
            ms->server_done = 1;
            /* NULL is both "no more rows" and "the stream broke": only the
               error number tells them apart. */
            if (mysql_errno(m->conn)) {
                rc = vz_mys_conn_error(m, err);
                goto fail;
            }
            ms->at_end = 1;
            break;
        }
        lens = mysql_fetch_lengths(ms->res);
        for (size_t i = 0; i < st->ncols; i++) {
            st->bytes += lens[i];
            if (!ms->vecs[i])
                continue;
            if (!row[i]) {
                vz_vec_set_null(ms->vecs[i], r);
                continue;
            }
            rc = put_value(st, ms, i, r, row[i], lens[i], err);
            if (rc < 0)
                goto fail;
        }
    }
    st->rows += r;
    *nrows = (size_t)r;
    return 0;

fail:
    ms->failed = 1;
    return rc;
}

/* Rows the server is still sending must be read or discarded before the
 * session can run anything else, and mysql_free_result() reads them all:
 * for a half-read billion-row table that is hours. So the statement is
 * killed first (KILL QUERY from a second session), which ends the result
 * with an error packet after what is already in flight. If even that fails,
 * the socket is shut down: the session is lost (later calls fail cleanly)
 * rather than the close hanging. */
static void end_result(struct vz_source *s, struct mys *m, struct mys_stream *ms)
{
    struct vz_err e = VZ_ERR_INIT;

    if (!ms->server_done) {
        if (vz_source_cancel(s, &e) < 0)
            shutdown(mysql_get_socket(m->conn), SHUT_RDWR);
    }
    mysql_free_result(ms->res);
    ms->res = NULL;
    /* A CALL can leave further results; none may stay pending. */
    while (mysql_more_results(m->conn) && mysql_next_result(m->conn) == 0) {
        MYSQL_RES *more = mysql_use_result(m->conn);
        if (more)
            mysql_free_result(more);
    }
}

void vz_mys_stream_close(struct vz_source *s, struct vz_stream *st)
{
    struct mys *m;
    struct mys_stream *ms;
    struct vz_err e = VZ_ERR_INIT;

    if (!s || !st || !st->priv)
        return;
    m = vz_source_priv(s);
    ms = st->priv;
    if (ms->res)
        end_result(s, m, ms);
    if (ms->in_txn && vz_mys_exec(m, "ROLLBACK", &e) < 0) {
        /* Nothing to undo in a READ ONLY transaction; a session that cannot
           even roll back is broken and its next call will say so. */
    }
    /* The stream is over: a cancel aimed at it must not hit the next call. */
    atomic_store(&m->cancel_requested, 0);
    vz_buf_release(&ms->text);
    vz_buf_release(&ms->utf8);
    free(ms->cols);
    free(ms->vecs);
    free(ms);
    st->priv = NULL;
}
