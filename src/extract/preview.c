#include "extract/preview.h"

#include <stdio.h>
#include <string.h>

#include <duckdb.h>

#include "core/buf.h"

/* path is built by the caller from the data directory and a dataset id;
 * quoting it as a literal still guards against a quote in the directory. */
static int quote_literal(struct vz_buf *b, const char *s)
{
    int rc = vz_buf_addc(b, '\'');
    for (; rc == 0 && *s; s++)
        rc = *s == '\'' ? vz_buf_adds(b, "''") : vz_buf_addc(b, *s);
    return rc == 0 ? vz_buf_addc(b, '\'') : rc;
}

static int quote_ident(struct vz_buf *b, const char *s)
{
    int rc = vz_buf_addc(b, '"');
    for (; rc == 0 && *s; s++)
        rc = *s == '"' ? vz_buf_adds(b, "\"\"") : vz_buf_addc(b, *s);
    return rc == 0 ? vz_buf_addc(b, '"') : rc;
}

static json_t *cell(duckdb_result *res, idx_t col, idx_t row)
{
    json_t *v;
    char *s;
    if (duckdb_value_is_null(res, col, row))
        return json_null();
    switch (duckdb_column_type(res, col)) {
    case DUCKDB_TYPE_BOOLEAN:
        return json_boolean(duckdb_value_boolean(res, col, row));
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
        return json_integer((json_int_t)duckdb_value_int64(res, col, row));
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: {
        double d = duckdb_value_double(res, col, row);
        if (d == d && d - d == 0) /* finite: NaN and infinities have no JSON number */
            return json_real(d);
        break;
    }
    default:
        break;
    }
    s = duckdb_value_varchar(res, col, row);
    v = s ? json_string(s) : json_null();
    if (s && !v) /* not UTF-8: show it escaped rather than drop the row */
        v = json_string("(invalid UTF-8)");
    duckdb_free(s);
    return v;
}

int vz_parquet_rows(const char *path, uint64_t offset, uint64_t limit, json_t **out,
                    struct vz_err *err)
{
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_result res, cnt, desc;
    struct vz_buf sql = VZ_BUF_INIT(8192);
    json_t *cols = NULL, *rows = NULL;
    int rc = VZ_OK, have_res = 0, have_cnt = 0, have_desc = 0;
    idx_t nc, nr;
    long long total;

    *out = NULL;
    if (limit > VZ_PREVIEW_MAX_LIMIT)
        limit = VZ_PREVIEW_MAX_LIMIT;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) {
        rc = vz_err_set(err, VZ_EINTERNAL, "cannot start DuckDB");
        goto out;
    }
    if (vz_buf_adds(&sql, "SELECT count(*) FROM read_parquet(") < 0 ||
        quote_literal(&sql, path) < 0 || vz_buf_adds(&sql, ")") < 0) {
        rc = vz_err_set(err, VZ_ETOOBIG, "path too long");
        goto out;
    }
    have_cnt = 1;
    if (duckdb_query(con, vz_buf_cstr(&sql), &cnt) == DuckDBError) {
        rc = vz_err_set(err, VZ_EIO, "cannot read the dataset file: %s", duckdb_result_error(&cnt));
        goto out;
    }
    total = (long long)duckdb_value_int64(&cnt, 0, 0);
    /* duckdb_value_varchar() gives NULL for some types (TIMESTAMP WITH TIME
     * ZONE among them), so everything but numbers and booleans is cast to
     * text by DuckDB itself, with the column's type kept for the client. */
    vz_buf_reset(&sql);
    if (vz_buf_adds(&sql, "DESCRIBE SELECT * FROM read_parquet(") < 0 ||
        quote_literal(&sql, path) < 0 || vz_buf_adds(&sql, ")") < 0) {
        rc = vz_err_set(err, VZ_ETOOBIG, "path too long");
        goto out;
    }
    have_desc = 1;
    if (duckdb_query(con, vz_buf_cstr(&sql), &desc) == DuckDBError) {
        rc =
            vz_err_set(err, VZ_EIO, "cannot read the dataset file: %s", duckdb_result_error(&desc));
        goto out;
    }
    vz_buf_reset(&sql);
    rc = vz_buf_adds(&sql, "SELECT ");
    for (idx_t c = 0; rc == 0 && c < duckdb_row_count(&desc); c++) {
        char *name = duckdb_value_varchar(&desc, 0, c), *type = duckdb_value_varchar(&desc, 1, c);
        int keep = type && (strcmp(type, "BOOLEAN") == 0 || strstr(type, "INT") ||
                            strcmp(type, "FLOAT") == 0 || strcmp(type, "DOUBLE") == 0);
        if (c)
            rc = vz_buf_adds(&sql, ", ");
        if (rc == 0 && !keep)
            rc = vz_buf_adds(&sql, "CAST(");
        if (rc == 0)
            rc = quote_ident(&sql, name ? name : "");
        if (rc == 0 && !keep) {
            rc = vz_buf_adds(&sql, " AS VARCHAR) AS ");
            if (rc == 0)
                rc = quote_ident(&sql, name ? name : "");
        }
        duckdb_free(name);
        duckdb_free(type);
    }
    if (rc < 0 || vz_buf_adds(&sql, " FROM read_parquet(") < 0 || quote_literal(&sql, path) < 0 ||
        vz_buf_addf(&sql, ") LIMIT %llu OFFSET %llu", (unsigned long long)limit,
                    (unsigned long long)offset) < 0) {
        rc = vz_err_set(err, VZ_ETOOBIG, "too many columns to preview");
        goto out;
    }
    have_res = 1;
    if (duckdb_query(con, vz_buf_cstr(&sql), &res) == DuckDBError) {
        rc = vz_err_set(err, VZ_EIO, "cannot read the dataset file: %s", duckdb_result_error(&res));
        goto out;
    }
    cols = json_array();
    rows = json_array();
    nc = duckdb_column_count(&res);
    nr = duckdb_row_count(&res);
    for (idx_t c = 0; cols && c < nc; c++) {
        char *tn = duckdb_value_varchar(&desc, 1, c);
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", duckdb_column_name(&res, c),
                                              "type", tn ? tn : "?"));
        duckdb_free(tn);
    }
    for (idx_t r = 0; rows && r < nr; r++) {
        json_t *row = json_array();
        for (idx_t c = 0; row && c < nc; c++)
            json_array_append_new(row, cell(&res, c, r));
        json_array_append_new(rows, row);
    }
    *out = json_pack("{s:O, s:O, s:I, s:I, s:I}", "columns", cols, "rows", rows, "offset",
                     (json_int_t)offset, "limit", (json_int_t)limit, "total", (json_int_t)total);
    if (!*out)
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
out:
    if (have_res)
        duckdb_destroy_result(&res);
    if (have_cnt)
        duckdb_destroy_result(&cnt);
    if (have_desc)
        duckdb_destroy_result(&desc);
    json_decref(cols);
    json_decref(rows);
    vz_buf_release(&sql);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc;
}
