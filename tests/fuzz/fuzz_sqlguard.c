/* libFuzzer target for sqlguard/.
 *
 * Input: the first byte picks the dialect (even: PostgreSQL, odd: MySQL;
 * the seeds in tests/fuzz/corpus/sqlguard/ start with 'p' or 'm' so they
 * stay readable), the rest is the SQL text. Besides "never crash, leak or
 * trip UBSan", each accepted query must satisfy:
 *   - the verdict and the error are consistent (code == return, message set
 *     exactly when rejected) and repeatable;
 *   - wrapping succeeds (or runs out of room) and the wrapped text is
 *     accepted too;
 *   - a second statement appended after a newline is always seen: if it
 *     were not, the guard would have misread where a comment, string or
 *     identifier ends.
 * A broken invariant aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "sqlguard/sqlguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, const char *sql, size_t len, const struct vz_err *err)
{
    fprintf(stderr, "sqlguard invariant broken: %s (%d: %s)\n--- input ---\n%.*s\n---\n", what,
            err->code, err->msg, (int)len, sql);
    abort();
}

static void check_consistent(int rc, const struct vz_err *err, const char *sql, size_t len)
{
    if (rc != err->code)
        broken("return value and err->code differ", sql, len, err);
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
        broken("message not terminated", sql, len, err);
    if (rc == 0 && err->msg[0])
        broken("message on success", sql, len, err);
    if (rc < 0 && !err->msg[0])
        broken("rejected without a reason", sql, len, err);
    if (rc != 0 && rc != VZ_ENOT_READONLY && rc != VZ_ETOOBIG && rc != VZ_EINVAL && rc != VZ_ENOMEM)
        broken("unexpected code", sql, len, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char tail[] = "\n;DELETE FROM t";
    struct vz_err err = VZ_ERR_INIT, again = VZ_ERR_INIT;
    struct vz_buf out = VZ_BUF_INIT(0);
    enum vz_dialect d;
    const char *sql;
    size_t len;
    char *more;
    int rc;

    if (size < 1)
        return 0;
    d = (data[0] & 1) ? VZ_DIALECT_MYSQL : VZ_DIALECT_POSTGRES;
    sql = (const char *)data + 1;
    len = size - 1;

    rc = vz_sqlguard_check(d, sql, len, &err);
    check_consistent(rc, &err, sql, len);
    if (vz_sqlguard_check(d, sql, len, &again) != rc || strcmp(again.msg, err.msg) != 0)
        broken("verdict not repeatable", sql, len, &again);
    if (rc != 0)
        return 0;

    rc = vz_sqlguard_wrap_limit(d, sql, len, 100, &out, &err);
    if (rc != 0 && rc != VZ_ETOOBIG && rc != VZ_ENOMEM)
        broken("accepted query could not be wrapped", sql, len, &err);
    if (rc == 0) {
        rc = vz_sqlguard_check(d, out.p, out.len, &again);
        if (rc != 0)
            broken("wrapped query rejected", out.p, out.len, &again);
    }
    vz_buf_release(&out);

    if (len + sizeof(tail) <= VZ_MAX_SQL) {
        more = malloc(len + sizeof(tail));
        if (!more)
            return 0;
        memcpy(more, sql, len);
        memcpy(more + len, tail, sizeof(tail) - 1);
        rc = vz_sqlguard_check(d, more, len + sizeof(tail) - 1, &again);
        if (rc == 0)
            broken("appended statement was not seen", more, len + sizeof(tail) - 1, &again);
        free(more);
    }
    return 0;
}
