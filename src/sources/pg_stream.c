/* PostgreSQL result streaming (extract/stream.h): the query runs as
 *   COPY (SELECT <cols> FROM (<sql>) AS q(c1, ...)) TO STDOUT (FORMAT binary)
 * inside a REPEATABLE READ READ ONLY transaction, and pgcopy.c decodes each
 * row message straight into the caller's DuckDB chunk.
 *
 * Why COPY and not a cursor or single-row mode: COPY streams with flow
 * control and no per-row protocol overhead (no RowDescription/DataRow
 * framing per fetch, no FETCH round trips), and binary format spares the
 * server the text output functions for numbers and times.
 *
 * Custom SQL is never sent as a simple query (PQexec would run "a; b"):
 * it is prepared (PQprepare refuses more than one statement) and described
 * without running it, and the COPY that embeds it goes through the extended
 * protocol (PQsendQueryParams), which refuses several statements as well. A
 * string that prepares on its own cannot escape the parentheses around it:
 * any ')' that closes them early would have been a syntax error on its own.
 * The read-only transaction holds even for a statement that got past
 * sqlguard. */
#include "sources/pgcopy.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "core/util.h"
#include "sources/pg_internal.h"
#include "sources/source_internal.h"

/* Built-in type OIDs (fixed in pg_type.dat since PostgreSQL 7). */
#define OID_NAME 19
#define OID_INET 869
#define OID_TEXT 25
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043

struct pg_stream {
    int in_txn;        /* our BEGIN succeeded: close rolls back */
    int copying;       /* the COPY runs: rows may still arrive */
    int header_done;   /* the binary header was read */
    int trailer_seen;  /* the end marker was read */
    int done;          /* the COPY ended and was checked: fills return 0 rows */
    int failed;        /* a fill failed: the stream is over */
    int64_t last_data; /* vz_mono_ms() when the server last sent something */
};

static int64_t pg_deadline(const struct pg *p)
{
    return vz_mono_ms() + p->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS;
}

/* Copy s into out (size n) cut at a UTF-8 character boundary. */
static void copy_utf8(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len > n - 1) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

/* ---- describing the query ---- */

/* Prepare sql as the unnamed statement and describe it: names, type OIDs
 * and typmods of its result, without running it. */
static int pg_describe(struct pg *p, const char *sql, PGresult **out, struct vz_err *err)
{
    PGresult *r = NULL;
    int rc;

    *out = NULL;
    if (!PQsendPrepare(p->conn, "", sql, 0, NULL))
        return vz_pg_lost(p, err);
    rc = vz_pg_collect(p, pg_deadline(p), &r, err);
    PQclear(r);
    if (rc < 0)
        return rc;
    if (!PQsendDescribePrepared(p->conn, ""))
        return vz_pg_lost(p, err);
    return vz_pg_collect(p, pg_deadline(p), out, err);
}

static int pg_add_columns(const PGresult *r, struct vz_stream *st, struct vz_err *err)
{
    int n = PQnfields(r);

    if (n <= 0)
        return vz_err_set(err, VZ_EINVAL,
                          "the statement returns no columns: only a SELECT can be extracted");
    st->cols = calloc((size_t)n, sizeof(*st->cols));
    if (!st->cols)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    st->ncols = (size_t)n;
    for (int i = 0; i < n; i++) {
        struct vz_stream_col *c = &st->cols[i];
        c->name = strdup(PQfname(r, i));
        if (!c->name)
            return vz_err_set(err, VZ_ENOMEM, NULL);
        c->precision = -1;
        c->scale = -1;
        c->out_index = -1;
        c->pg_oid = (uint32_t)PQftype(r, i);
        c->pg_typmod = PQfmod(r, i);
    }
    return 0;
}

/* One catalog query for every column: follow domains down to their base
 * type (keeping the innermost declared typmod, as pg.c's introspection
 * does), and name the type as the server spells it. */
static const char pg_types_sql[] =
    "WITH RECURSIVE col(ord, oid, typmod) AS ("
    "  SELECT u.ord, u.oid, u.typmod"
    "  FROM unnest($1::pg_catalog.oid[], $2::pg_catalog.int4[]) WITH ORDINALITY"
    "       AS u(oid, typmod, ord)),"
    " base(ord, cur, typmod) AS ("
    "  SELECT ord, oid, typmod FROM col"
    "  UNION ALL"
    "  SELECT b.ord, t.typbasetype, CASE WHEN b.typmod >= 0 THEN b.typmod ELSE t.typtypmod END"
    "  FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.cur WHERE t.typtype = 'd')"
    " SELECT col.ord, pg_catalog.format_type(col.oid, NULLIF(col.typmod, -1)),"
    "  t.typname, t.typtype, t.typcategory, t.typelem, b.typmod, t.oid"
    " FROM col JOIN base b ON b.ord = col.ord JOIN pg_catalog.pg_type t ON t.oid = b.cur"
    " WHERE t.typtype <> 'd' ORDER BY col.ord";

static int pg_resolve_types(struct pg *p, struct vz_stream *st, struct vz_err *err)
{
    struct vz_buf oids = VZ_BUF_INIT(0), mods = VZ_BUF_INIT(0);
    const char *params[2];
    PGresult *r = NULL;
    int rc = 0;

    for (size_t i = 0; i < st->ncols; i++) {
        if (vz_buf_addf(&oids, "%s%u", i ? "," : "{", (unsigned)st->cols[i].pg_oid) < 0 ||
            vz_buf_addf(&mods, "%s%d", i ? "," : "{", (int)st->cols[i].pg_typmod) < 0) {
            rc = vz_err_set(err, VZ_ENOMEM, NULL);
            goto out;
        }
    }
    if (vz_buf_addc(&oids, '}') < 0 || vz_buf_addc(&mods, '}') < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    params[0] = vz_buf_cstr(&oids);
    params[1] = vz_buf_cstr(&mods);
    /* Not vz_pg_run(): it would forget a cancel request made since BEGIN. */
    if (!PQsendQueryParams(p->conn, pg_types_sql, 2, NULL, params, NULL, NULL, 0)) {
        rc = vz_pg_lost(p, err);
        goto out;
    }
    rc = vz_pg_collect(p, pg_deadline(p), &r, err);
    if (rc < 0)
        goto out;
    if ((size_t)PQntuples(r) != st->ncols) {
        rc = vz_err_set(err, VZ_ESOURCE, "the catalog knows %d of the %zu result column types",
                        PQntuples(r), st->ncols);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        long ord = strtol(PQgetvalue(r, i, 0), NULL, 10);
        struct vz_stream_col *c;
        long typmod;

        if (ord < 1 || (size_t)ord > st->ncols) {
            rc = vz_err_set(err, VZ_ESOURCE, "unexpected column %ld in the type lookup", ord);
            goto out;
        }
        c = &st->cols[ord - 1];
        copy_utf8(c->source_type, sizeof(c->source_type), PQgetvalue(r, i, 1));
        snprintf(
            c->type_class, sizeof(c->type_class), "%s",
            vz_pg_type_class(PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)[0], PQgetvalue(r, i, 4)[0]));
        c->pg_elem_oid = (uint32_t)strtoul(PQgetvalue(r, i, 5), NULL, 10);
        typmod = strtol(PQgetvalue(r, i, 6), NULL, 10);
        c->pg_typmod = (int32_t)typmod;
        c->pg_oid = (uint32_t)strtoul(PQgetvalue(r, i, 7), NULL, 10);
        /* numeric(p,s): typmod - 4 holds p in the high 16 bits and s as an
         * 11-bit signed field (negative scales exist since PostgreSQL 15). */
        if (strcmp(c->type_class, "decimal") == 0 && typmod >= 4) {
            c->precision = (int)(((typmod - 4) >> 16) & 0xffff);
            c->scale = (int)((((typmod - 4) & 0x7ff) ^ 1024) - 1024);
        }
    }
out:
    PQclear(r);
    vz_buf_release(&oids);
    vz_buf_release(&mods);
    return rc;
}

/* ---- the COPY statement ---- */

/* The select-list entry for column i, so that the server sends what
 * vz_pgcopy_wire() expects. Casts are schema-qualified: a user's search_path
 * must not pick another function. */
static int pg_col_expr(struct vz_buf *q, const struct vz_stream_col *c, size_t i)
{
    const char *cls = c->type_class;

    switch (vz_pgcopy_wire(c)) {
    case VZ_PGW_TEXT:
        /* Arrays: to_json keeps nesting and NULL elements, and quotes text
         * elements properly ('{1,NULL}' becomes [1,null]). hstore: to_json
         * uses the extension's cast to json, giving {"k": "v", "n": null}. */
        if (strcmp(cls, "array") == 0 || strcmp(cls, "hstore") == 0)
            return vz_buf_addf(q, "pg_catalog.to_json(q.c%zu)", i + 1);
        /* The text types' binary form is their text; everything else
         * (enum, timetz, bit, jsonb, xml, composites...) is cast to text on
         * the server. bpchar must not be: the cast drops its padding. */
        if (c->pg_oid == OID_TEXT || c->pg_oid == OID_VARCHAR || c->pg_oid == OID_BPCHAR ||
            c->pg_oid == OID_NAME)
            return vz_buf_addf(q, "q.c%zu", i + 1);
        /* inet's cast to text always shows the netmask ("10.1.2.3/32"),
         * unlike its output function; abbrev(inet) is that output. */
        if (c->pg_oid == OID_INET)
            return vz_buf_addf(q, "pg_catalog.abbrev(q.c%zu)", i + 1);
        /* For the rest the cast to text is the type's output function. */
        return vz_buf_addf(q, "q.c%zu::pg_catalog.text", i + 1);
    case VZ_PGW_NUMERIC:
        /* money's binary form is a scaled int64 whose scale depends on
         * lc_monetary; as numeric it is exact and locale-free. */
        if (c->map.conv == VZ_CONV_MONEY_TO_DOUBLE)
            return vz_buf_addf(q, "q.c%zu::pg_catalog.numeric", i + 1);
        return vz_buf_addf(q, "q.c%zu", i + 1);
    default:
        return vz_buf_addf(q, "q.c%zu", i + 1);
    }
}

/* The COPY text. Columns are renamed by position (the alias list after the
 * subquery), so duplicate or odd result names cannot clash; skipped columns
 * are simply not selected. The newlines around sql end a trailing "--"
 * comment before our closing parenthesis. */
static int pg_copy_sql(const struct vz_stream *st, const char *sql, struct vz_buf *q)
{
    size_t len = strlen(sql), kept = 0;
    int rc;

    /* A trailing ';' is fine for PQprepare but not inside parentheses. */
    while (len > 0 && (sql[len - 1] == ';' || sql[len - 1] == ' ' || sql[len - 1] == '\t' ||
                       sql[len - 1] == '\n' || sql[len - 1] == '\r' || sql[len - 1] == '\f'))
        len--;
    rc = vz_buf_adds(q, "COPY (SELECT ");
    for (size_t i = 0; rc == 0 && i < st->ncols; i++) {
        if (st->cols[i].map.skip)
            continue;
        if (kept++)
            rc = vz_buf_adds(q, ", ");
        if (rc == 0)
            rc = pg_col_expr(q, &st->cols[i], i);
    }
    if (rc == 0)
        rc = vz_buf_adds(q, " FROM (\n");
    if (rc == 0)
        rc = vz_buf_add(q, sql, len);
    if (rc == 0)
        rc = vz_buf_adds(q, "\n) AS q(");
    for (size_t i = 0; rc == 0 && i < st->ncols; i++)
        rc = vz_buf_addf(q, "%sc%zu", i ? ", " : "", i + 1);
    if (rc == 0)
        rc = vz_buf_adds(q, ")) TO STDOUT (FORMAT binary)");
    return rc;
}

/* Read results until libpq has none left (after an error or a COPY). */
static void pg_drain_results(struct pg *p, int64_t deadline)
{
    struct vz_err ignored = VZ_ERR_INIT;
    PGresult *r;

    while (!p->broken && vz_pg_wait(p, deadline, &ignored) == 0 &&
           (r = PQgetResult(p->conn)) != NULL) {
        ExecStatusType stt = PQresultStatus(r);
        PQclear(r);
        /* PQgetResult() hands out COPY_OUT again and again while the data
         * is unread: the caller must read the data first. */
        if (stt == PGRES_COPY_OUT)
            break;
    }
}

static int pg_start_copy(struct pg *p, struct pg_stream *ps, const char *copy, struct vz_err *err)
{
    int64_t deadline = pg_deadline(p);
    PGresult *r;
    int rc;

    if (!PQsendQueryParams(p->conn, copy, 0, NULL, NULL, NULL, NULL, 1))
        return vz_pg_lost(p, err);
    rc = vz_pg_wait(p, deadline, err);
    if (rc < 0)
        return rc;
    r = PQgetResult(p->conn);
    if (!r)
        return vz_pg_lost(p, err);
    if (PQresultStatus(r) == PGRES_COPY_OUT) {
        int binary = PQbinaryTuples(r);
        PQclear(r);
        ps->copying = 1;
        ps->last_data = vz_mono_ms();
        if (!binary)
            return vz_err_set(err, VZ_ESOURCE, "the server started a text COPY, not binary");
        return 0;
    }
    if (PQresultStatus(r) == PGRES_FATAL_ERROR)
        rc = vz_pg_result_error(p, r, err);
    else
        rc = vz_err_set(err, VZ_ESOURCE, "COPY did not start (%s)", PQresStatus(PQresultStatus(r)));
    PQclear(r);
    pg_drain_results(p, deadline);
    return rc;
}

/* ---- the three operations ---- */

int vz_pg_stream_open(struct vz_source *s, const char *sql, struct vz_stream *st,
                      struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    struct pg_stream *ps = NULL;
    struct vz_buf copy = VZ_BUF_INIT(0);
    PGresult *r = NULL;
    int rc;

    if (!sql || !*sql)
        return vz_err_set(err, VZ_EINVAL, "no query to stream");
    if (st->priv || st->cols)
        return vz_err_set(err, VZ_EINVAL, "the stream object is already in use");
    if (p->broken)
        return vz_err_set(err, VZ_ECONNECT, "the connection to %s is no longer usable",
                          p->hostport);
    if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        return vz_err_set(err, VZ_EINVAL, "another stream is open on this connection");
    ps = calloc(1, sizeof(*ps));
    if (!ps)
        return vz_err_set(err, VZ_ENOMEM, NULL);
    st->priv = ps;
    st->rows = 0;
    st->bytes = 0;

    /* One snapshot for the whole statement, and read-only on top of the
     * session's default_transaction_read_only: either alone would do, both
     * keep holding if someone weakens one. */
    rc = vz_pg_run(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &r, err);
    PQclear(r);
    r = NULL;
    if (rc < 0)
        goto out;
    ps->in_txn = 1;

    rc = pg_describe(p, sql, &r, err);
    if (rc < 0)
        goto out;
    rc = pg_add_columns(r, st, err);
    if (rc < 0)
        goto out;
    rc = pg_resolve_types(p, st, err);
    if (rc < 0)
        goto out;
    rc = vz_stream_map_columns(st, VZ_DB_POSTGRES, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < st->ncols; i++) {
        if (vz_pgcopy_wire(&st->cols[i]) == VZ_PGW_INVALID) {
            rc = vz_err_set(err, VZ_EINTERNAL, "column %zu (%s): no decoding for %s", i + 1,
                            st->cols[i].source_type, st->cols[i].map.duckdb_type);
            goto out;
        }
    }
    if (pg_copy_sql(st, sql, &copy) < 0) {
        rc = vz_err_set(err, VZ_ENOMEM, NULL);
        goto out;
    }
    /* A cancel that came while we were describing must not be lost. */
    if (atomic_load(&p->cancel_requested)) {
        rc = vz_err_set(err, VZ_ECANCELLED, "cancelled before the rows were read");
        goto out;
    }
    rc = pg_start_copy(p, ps, vz_buf_cstr(&copy), err);
out:
    PQclear(r);
    vz_buf_release(&copy);
    if (rc < 0) {
        /* The caller closes only streams that opened. */
        vz_pg_stream_close(s, st);
        vz_stream_release(st);
    }
    return rc;
}

/* Wait for more data, at most a statement timeout plus a margin of silence:
 * the server ends the statement itself after statement_timeout, so longer
 * silence means the server or the network is gone. */
static int pg_wait_data(struct pg *p, struct pg_stream *ps, struct vz_err *err)
{
    struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
    int64_t left = ps->last_data + p->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS - vz_mono_ms();
    int r;

    if (left <= 0) {
        p->broken = 1;
        return vz_err_set(err, VZ_ETIMEOUT, "no data from %s for %d s", p->hostport,
                          (int)((p->stmt_timeout_ms + VZ_SOURCE_QUERY_MARGIN_MS) / 1000));
    }
    r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
    if (r < 0 && errno != EINTR)
        return vz_pg_lost(p, err);
    if (r > 0 && !PQconsumeInput(p->conn))
        return vz_pg_lost(p, err);
    return 0;
}

/* The COPY sent its last row: its final result decides whether the stream
 * is complete. total is the number of rows decoded, this chunk included. */
static int pg_finish_copy(struct pg *p, struct pg_stream *ps, uint64_t total, struct vz_err *err)
{
    PGresult *r = NULL;
    const char *tag;
    int rc;

    ps->copying = 0;
    rc = vz_pg_collect(p, pg_deadline(p), &r, err);
    if (rc < 0)
        goto out;
    if (!ps->trailer_seen) {
        rc = vz_err_set(err, VZ_ESOURCE, "the COPY data ended without its end marker");
        goto out;
    }
    /* "COPY n": the server's own row count must match what we decoded. */
    tag = PQcmdTuples(r);
    if (*tag && strtoull(tag, NULL, 10) != total) {
        rc = vz_err_set(err, VZ_ESOURCE, "the server sent %s rows but %llu were decoded", tag,
                        (unsigned long long)total);
        goto out;
    }
    ps->done = 1;
out:
    PQclear(r);
    return rc;
}

/* One CopyData message: the header (first message only), then one tuple or
 * the end marker. Writes row *n and counts it. */
static int pg_take_message(struct pg_stream *ps, struct vz_stream *st, const char *buf, size_t len,
                           duckdb_data_chunk chunk, idx_t *n, struct vz_err *err)
{
    size_t off = 0;
    int rc;

    if (!ps->header_done) {
        rc = vz_pgcopy_decode_header(buf, len, &off, err);
        if (rc < 0)
            return rc;
        ps->header_done = 1;
        if (off == len)
            return 0;
    }
    if (ps->trailer_seen)
        return vz_err_set(err, VZ_ESOURCE, "COPY data after the end marker");
    rc = vz_pgcopy_decode_tuple(buf + off, len - off, st, chunk, *n, err);
    if (rc < 0)
        return rc;
    if (rc == VZ_PGCOPY_TRAILER)
        ps->trailer_seen = 1;
    else
        (*n)++;
    return 0;
}

int vz_pg_stream_fill(struct vz_source *s, struct vz_stream *st, void *duckdb_chunk, size_t *nrows,
                      struct vz_err *err)
{
    struct pg *p = vz_source_priv(s);
    struct pg_stream *ps = st->priv;
    duckdb_data_chunk chunk = (duckdb_data_chunk)duckdb_chunk;
    idx_t n = 0;
    int rc = 0;

    *nrows = 0;
    if (!ps)
        return vz_err_set(err, VZ_EINVAL, "the stream is not open");
    if (ps->failed)
        return vz_err_set(err, VZ_ESOURCE, "the stream already failed");
    if (ps->done) {
        duckdb_data_chunk_set_size(chunk, 0);
        return 0;
    }
    while (n < VZ_STREAM_CHUNK) {
        char *buf = NULL;
        int got = PQgetCopyData(p->conn, &buf, 1);

        if (got > 0) {
            ps->last_data = vz_mono_ms();
            st->bytes += (uint64_t)got;
            rc = pg_take_message(ps, st, buf, (size_t)got, chunk, &n, err);
            PQfreemem(buf);
        } else if (got == 0) {
            rc = pg_wait_data(p, ps, err);
        } else if (got == -1) {
            rc = pg_finish_copy(p, ps, st->rows + n, err);
            break;
        } else {
            rc = vz_pg_lost(p, err);
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        ps->failed = 1;
        duckdb_data_chunk_set_size(chunk, 0);
        return rc;
    }
    duckdb_data_chunk_set_size(chunk, n);
    st->rows += n;
    *nrows = (size_t)n;
    return 0;
}

/* Stop a COPY that still runs: ask the server to cancel it, then read and
 * drop what it already sent, within a margin. Reading everything instead
 * could mean millions of rows. */
static void pg_abort_copy(struct pg *p)
{
    int64_t deadline = vz_mono_ms() + VZ_SOURCE_QUERY_MARGIN_MS;
    char errbuf[256];

    /* Failure to deliver it only means reading to the end, within the
     * deadline below. */
    (void)PQcancel(p->cancel, errbuf, sizeof(errbuf));
    for (;;) {
        char *buf = NULL;
        int got = PQgetCopyData(p->conn, &buf, 1);
        struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
        int64_t left = deadline - vz_mono_ms();

        if (got > 0) {
            PQfreemem(buf);
            continue;
        }
        if (got == -1)
            break;
        if (got < -1 || left <= 0) {
            p->broken = 1;
            return;
        }
        if (poll(&pfd, 1, (int)left) > 0 && !PQconsumeInput(p->conn)) {
            p->broken = 1;
            return;
        }
    }
    pg_drain_results(p, deadline);
}

void vz_pg_stream_close(struct vz_source *s, struct vz_stream *st)
{
    struct pg *p = vz_source_priv(s);
    struct pg_stream *ps = st ? st->priv : NULL;
    struct vz_err ignored = VZ_ERR_INIT;
    PGresult *r = NULL;

    if (!ps)
        return;
    if (ps->copying && !p->broken)
        pg_abort_copy(p);
    ps->copying = 0;
    if (ps->in_txn && !p->broken && PQstatus(p->conn) == CONNECTION_OK) {
        /* Read-only, so nothing to undo, but the snapshot must go. A cancel
         * that arrives late could hit the ROLLBACK itself: try twice, then
         * give the session up rather than leave a transaction open. */
        for (int tries = 0; tries < 2 && PQtransactionStatus(p->conn) != PQTRANS_IDLE; tries++) {
            if (vz_pg_run(p, "ROLLBACK", 0, NULL, &r, &ignored) == 0)
                PQclear(r);
            r = NULL;
        }
        if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
            p->broken = 1;
    }
    free(ps);
    st->priv = NULL;
}
