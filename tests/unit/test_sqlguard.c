/* sqlguard/: one read-only SELECT or a clear refusal, for both dialects.
 *
 * Most cases live in the corpus files under tests/sqlguard/ (format in their
 * headers) so that the same attacks can be replayed against live servers.
 * $VZ_SQLGUARD_CORPUS may name that directory; otherwise it is found by
 * walking up from the current directory. */
#include "corpus.h"

#include <pthread.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "sqlguard/sqlguard.h"

/* ---- corpus-driven tests ------------------------------------------------ */

static void check_attacks(enum vz_dialect d, const char *file)
{
    struct corpus c;
    corpus_load(&c, file);
    assert_true(c.n >= 35);
    for (size_t i = 0; i < c.n; i++) {
        struct vz_err err = VZ_ERR_INIT;
        const struct rec *r = &c.v[i];
        int rc = vz_sqlguard_check(d, r->sql, r->len, &err);
        if (rc != VZ_ENOT_READONLY)
            fail_msg("%s:%d accepted or wrong code %d (%s):\n%s", c.path, r->line, rc, err.msg,
                     r->sql);
        assert_int_equal(err.code, rc);
        if (!*err.msg)
            fail_msg("%s:%d rejected without a reason", c.path, r->line);
        if (r->expect[0] && !strstr(err.msg, r->expect))
            fail_msg("%s:%d reason \"%s\" lacks \"%s\"", c.path, r->line, err.msg, r->expect);
    }
    corpus_free(&c);
}

static void check_legit(enum vz_dialect d, const char *file)
{
    struct corpus c;
    struct vz_buf out = VZ_BUF_INIT(0);
    corpus_load(&c, file);
    assert_true(c.n >= 13);
    for (size_t i = 0; i < c.n; i++) {
        struct vz_err err = VZ_ERR_INIT;
        const struct rec *r = &c.v[i];
        int rc = vz_sqlguard_check(d, r->sql, r->len, &err);
        if (rc != 0)
            fail_msg("%s:%d rejected (%d, %s):\n%s", c.path, r->line, rc, err.msg, r->sql);
        rc = vz_sqlguard_wrap_limit(d, r->sql, r->len, 100, &out, &err);
        if (rc != 0)
            fail_msg("%s:%d wrap failed (%d, %s)", c.path, r->line, rc, err.msg);
        assert_int_equal(vz_sqlguard_check(d, out.p, out.len, &err), 0);
        assert_int_equal(strncmp(out.p, "SELECT * FROM (\n", 16), 0);
    }
    vz_buf_release(&out);
    corpus_free(&c);
}

static void test_pg_attacks_are_rejected_with_reasons(void **state)
{
    (void)state;
    check_attacks(VZ_DIALECT_POSTGRES, "attacks-pg.sql");
}

static void test_mysql_attacks_are_rejected_with_reasons(void **state)
{
    (void)state;
    check_attacks(VZ_DIALECT_MYSQL, "attacks-mysql.sql");
}

static void test_pg_legit_queries_are_accepted_and_wrap(void **state)
{
    (void)state;
    check_legit(VZ_DIALECT_POSTGRES, "legit-pg.sql");
}

static void test_mysql_legit_queries_are_accepted_and_wrap(void **state)
{
    (void)state;
    check_legit(VZ_DIALECT_MYSQL, "legit-mysql.sql");
}

/* ---- single cases --------------------------------------------------------- */

static int check_s(enum vz_dialect d, const char *sql, struct vz_err *err)
{
    return vz_sqlguard_check(d, sql, strlen(sql), err);
}

static void expect_reject(enum vz_dialect d, const char *sql, int code, const char *reason)
{
    struct vz_err err = VZ_ERR_INIT;
    int rc = check_s(d, sql, &err);
    if (rc != code || !strstr(err.msg, reason))
        fail_msg("\"%s\": got %d \"%s\", want %d \"%s\"", sql, rc, err.msg, code, reason);
}

static void test_bad_input_gets_a_clear_message(void **state)
{
    static const enum vz_dialect ds[] = {VZ_DIALECT_POSTGRES, VZ_DIALECT_MYSQL};
    struct vz_err err = VZ_ERR_INIT;
    char *big;
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        enum vz_dialect d = ds[i];
        expect_reject(d, "", VZ_EINVAL, "empty");
        expect_reject(d, " \t\r\n ", VZ_EINVAL, "empty");
        expect_reject(d, "-- only a comment", VZ_EINVAL, "empty");
        expect_reject(d, "/* only a comment */", VZ_EINVAL, "empty");
        expect_reject(d, ";", VZ_EINVAL, "empty");
        assert_int_equal(vz_sqlguard_check(d, NULL, 0, &err), VZ_EINVAL);
        assert_int_equal(vz_sqlguard_check(d, NULL, 5, &err), VZ_EINVAL);
        assert_int_equal(vz_sqlguard_check(d, "SELECT 1\0; DROP TABLE t", 23, &err), VZ_EINVAL);
        assert_non_null(strstr(err.msg, "NUL byte"));
        assert_int_equal(vz_sqlguard_check(d, "SELECT '\xff'", 10, &err), VZ_EINVAL);
        assert_non_null(strstr(err.msg, "UTF-8"));
        assert_int_equal(vz_sqlguard_check(d, "SELECT '\xc0\xa7'", 11, &err), VZ_EINVAL);
        assert_int_equal(vz_sqlguard_check(d, "SELECT '\xed\xa0\x80'", 12, &err), VZ_EINVAL);
        assert_int_equal(vz_sqlguard_check(d, "SELECT '\xe2\x82", 10, &err), VZ_EINVAL);
        assert_int_equal(vz_sqlguard_check(d, "SELECT '\xf4\x90\x80\x80'", 13, &err), VZ_EINVAL);
        assert_int_equal(check_s(d, "SELECT 'caf\xc3\xa9 \xf0\x9f\x98\x80'", &err), 0);
        assert_int_equal(err.code, 0);
        assert_string_equal(err.msg, "");
        /* Exactly at the ceiling is fine, one byte over is not. */
        big = malloc(VZ_MAX_SQL + 1);
        assert_non_null(big);
        memset(big, ' ', VZ_MAX_SQL + 1);
        memcpy(big, "SELECT 1", 8);
        assert_int_equal(vz_sqlguard_check(d, big, VZ_MAX_SQL, &err), 0);
        assert_int_equal(vz_sqlguard_check(d, big, VZ_MAX_SQL + 1, &err), VZ_ETOOBIG);
        assert_non_null(strstr(err.msg, "too long"));
        free(big);
        /* err may be NULL. */
        assert_int_equal(check_s(d, "DELETE FROM t", NULL), VZ_ENOT_READONLY);
        assert_int_equal(check_s(d, "SELECT 1", NULL), 0);
    }
    assert_int_equal(check_s((enum vz_dialect)42, "SELECT 1", &err), VZ_EINVAL);
}

static void test_reasons_name_the_construct(void **state)
{
    (void)state;
    expect_reject(VZ_DIALECT_POSTGRES, "INSERT INTO t VALUES (1)", VZ_ENOT_READONLY,
                  "only SELECT is allowed, got INSERT");
    expect_reject(VZ_DIALECT_POSTGRES, "ALTER TABLE t ADD c int", VZ_ENOT_READONLY,
                  "only SELECT is allowed, got ALTER TABLE");
    expect_reject(VZ_DIALECT_POSTGRES, "ROLLBACK TO SAVEPOINT a", VZ_ENOT_READONLY,
                  "got ROLLBACK TO");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT FROM WHERE", VZ_ENOT_READONLY,
                  "syntax error at or near \"WHERE\" (position 13)");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT 'unterminated", VZ_ENOT_READONLY,
                  "unterminated quoted string");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT 1; SELECT 2", VZ_ENOT_READONLY,
                  "only one statement is allowed");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT lo_unlink(1)", VZ_ENOT_READONLY,
                  "function lo_unlink is not allowed");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT pg_advisory_unlock_all()", VZ_ENOT_READONLY,
                  "function pg_advisory_unlock_all is not allowed");
    expect_reject(VZ_DIALECT_POSTGRES, "SELECT pg_replication_origin_create('x')", VZ_ENOT_READONLY,
                  "not allowed");
    expect_reject(VZ_DIALECT_MYSQL, "select SlEeP(1)", VZ_ENOT_READONLY,
                  "function SLEEP is not allowed");
    expect_reject(VZ_DIALECT_MYSQL, "SELECT * FROM t WHERE a = 1 FOR /* x */ UPDATE",
                  VZ_ENOT_READONLY, "FOR UPDATE locks rows");
    expect_reject(VZ_DIALECT_MYSQL, "SELECT `a", VZ_ENOT_READONLY,
                  "unterminated quoted identifier");
    expect_reject(VZ_DIALECT_MYSQL, "(DELETE FROM t)", VZ_ENOT_READONLY,
                  "only SELECT is allowed, got DELETE");
    expect_reject(VZ_DIALECT_MYSQL, "WITH a AS (SELECT 1)", VZ_ENOT_READONLY,
                  "WITH must be followed by a SELECT");
    expect_reject(VZ_DIALECT_MYSQL, "SELECT * FROM (SELECT 1) x JOIN (DELETE FROM t) y",
                  VZ_ENOT_READONLY, "DELETE is not allowed");
    expect_reject(VZ_DIALECT_MYSQL, "SELECT 1.5einto", VZ_ENOT_READONLY,
                  "could not read the number");
}

static void test_lookalikes_are_not_rejected(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    /* Names that merely contain a denied word, keywords inside strings and
     * quoted identifiers, qualified names that happen to be keywords. */
    assert_int_equal(
        check_s(VZ_DIALECT_POSTGRES, "SELECT my_pg_sleep_stats, 'pg_sleep(1)' FROM t", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_POSTGRES, "SELECT currval('s'), lastval()", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT sleepy(1), `into` FROM t", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT t.into, t.update, @into FROM t", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT 'SLEEP(1)', \"INTO\" FROM t", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT 1 --1", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT 1 --", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT LAST_INSERT_ID()", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL, "SELECT 1abc, 1e5, 1.5e-3, 0x1F FROM t", &err), 0);
    assert_int_equal(check_s(VZ_DIALECT_MYSQL,
                             "SELECT a FROM t WHERE MATCH (b) AGAINST ('x' WITH QUERY EXPANSION)",
                             &err),
                     0);
}

static void expect_wrap(enum vz_dialect d, const char *sql, long long limit, const char *want)
{
    struct vz_buf out = VZ_BUF_INIT(0);
    struct vz_err err = VZ_ERR_INIT;
    int rc = vz_sqlguard_wrap_limit(d, sql, strlen(sql), limit, &out, &err);
    if (rc != 0)
        fail_msg("wrap \"%s\": %d %s", sql, rc, err.msg);
    assert_string_equal(vz_buf_cstr(&out), want);
    assert_int_equal(out.len, strlen(want));
    assert_int_equal(vz_sqlguard_check(d, out.p, out.len, &err), 0);
    vz_buf_release(&out);
}

static void test_wrap_limit_keeps_the_text_and_strips_the_tail(void **state)
{
    static const enum vz_dialect ds[] = {VZ_DIALECT_POSTGRES, VZ_DIALECT_MYSQL};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        enum vz_dialect d = ds[i];
        expect_wrap(d, "SELECT 1", 10, "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "SELECT 1;", 10, "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "SELECT 1 ; \n\t", 10, "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "SELECT 1 -- note", 10, "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "SELECT 1 /* c */", 10, "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "SELECT 1 /* a */ ; /* b */ -- c\n", 10,
                    "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 10");
        expect_wrap(d, "-- lead\nSELECT 1 -- x\n  , 2", 0,
                    "SELECT * FROM (\n-- lead\nSELECT 1 -- x\n  , 2\n) AS vz_q LIMIT 0");
        expect_wrap(d, "SELECT ';' -- ;", LLONG_MAX,
                    "SELECT * FROM (\nSELECT ';'\n) AS vz_q LIMIT 9223372036854775807");
    }
    expect_wrap(VZ_DIALECT_MYSQL, "SELECT 1 # hash", 1,
                "SELECT * FROM (\nSELECT 1\n) AS vz_q LIMIT 1");
    expect_wrap(VZ_DIALECT_POSTGRES, "SELECT $$;$$ /* /* nested */ */ ;", 1,
                "SELECT * FROM (\nSELECT $$;$$\n) AS vz_q LIMIT 1");
}

static void test_wrap_limit_refuses_cleanly(void **state)
{
    struct vz_buf out = VZ_BUF_INIT(0), tiny = VZ_BUF_INIT(20);
    struct vz_err err = VZ_ERR_INIT;
    char *big;
    (void)state;
    assert_int_equal(vz_buf_adds(&out, "stale"), 0);
    assert_int_equal(vz_sqlguard_wrap_limit(VZ_DIALECT_POSTGRES, "SELECT 1", 8, -1, &out, &err),
                     VZ_EINVAL);
    assert_int_equal(out.len, 0);
    assert_string_equal(vz_buf_cstr(&out), "");
    assert_int_equal(vz_buf_adds(&out, "stale"), 0);
    assert_int_equal(vz_sqlguard_wrap_limit(VZ_DIALECT_MYSQL, "DELETE FROM t", 13, 5, &out, &err),
                     VZ_ENOT_READONLY);
    assert_int_equal(out.len, 0);
    assert_int_equal(vz_sqlguard_wrap_limit(VZ_DIALECT_POSTGRES, "SELECT 1", 8, 5, NULL, &err),
                     VZ_EINVAL);
    /* The caller's ceiling is respected. */
    assert_int_equal(vz_sqlguard_wrap_limit(VZ_DIALECT_POSTGRES, "SELECT 1", 8, 5, &tiny, &err),
                     VZ_ETOOBIG);
    assert_int_equal(tiny.len, 0);
    /* A query at the size ceiling is fine, but its wrapped form is not. */
    big = malloc(VZ_MAX_SQL);
    assert_non_null(big);
    memset(big, ' ', VZ_MAX_SQL);
    memcpy(big, "SELECT 1", 8);
    big[VZ_MAX_SQL - 3] = ','; /* "SELECT 1   ...   , 2": nothing to strip */
    big[VZ_MAX_SQL - 1] = '2';
    assert_int_equal(vz_sqlguard_check(VZ_DIALECT_MYSQL, big, VZ_MAX_SQL, &err), 0);
    assert_int_equal(vz_sqlguard_wrap_limit(VZ_DIALECT_MYSQL, big, VZ_MAX_SQL, 5, &out, &err),
                     VZ_ETOOBIG);
    assert_int_equal(out.len, 0);
    free(big);
    vz_buf_release(&out);
    vz_buf_release(&tiny);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1), *p;
    assert_non_null(s);
    p = s;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

/* libpg_query's tree printer recurses per level and would overflow the stack
 * on these; the guard must refuse them instead of crashing. */
static void test_deep_nesting_is_refused_not_crashed(void **state)
{
    static const struct {
        const char *head, *unit, *tail;
        size_t n;
    } cases[] = {
        {"SELECT 1", "+1", "", 120000},
        {"SELECT 1", "||'a'", "", 50000},
        {"SELECT 1", "::int", "", 50000},
        {"SELECT ", "NOT ", "true", 60000},
        {"SELECT 1", "+1", "", 1999}, /* passes the estimate, too deep for the walk */
        {"SELECT ", "(", "1", 100000},
        {"SELECT 1", " UNION SELECT 1", "", 15000},
        {"SELECT * FROM t", " JOIN t ON true", "", 15000},
    };
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *q = repeat(cases[i].head, cases[i].unit, cases[i].n, cases[i].tail);
        int rc = check_s(VZ_DIALECT_POSTGRES, q, &err);
        if (rc != VZ_ETOOBIG && rc != VZ_ENOT_READONLY)
            fail_msg("case %zu: got %d %s", i, rc, err.msg);
        assert_int_equal(check_s(VZ_DIALECT_MYSQL, q, &err) <= 0, 1);
        free(q);
    }
    /* Ordinary nesting is fine. */
    {
        char *q = repeat("SELECT 1", "+1", 300, "");
        assert_int_equal(check_s(VZ_DIALECT_POSTGRES, q, &err), 0);
        free(q);
    }
}

/* libpg_query keeps per-thread state; checks from many threads at once must
 * agree with single-threaded results (and LSan sees thread exits). */
struct thread_job {
    int failures;
};

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    for (int i = 0; i < 200; i++) {
        struct vz_err err = VZ_ERR_INIT;
        if (check_s(VZ_DIALECT_POSTGRES, "SELECT a, b FROM t WHERE c IN (SELECT 1)", &err) != 0)
            job->failures++;
        if (check_s(VZ_DIALECT_POSTGRES, "WITH d AS (DELETE FROM t RETURNING 1) SELECT 1", &err) !=
            VZ_ENOT_READONLY)
            job->failures++;
        if (check_s(VZ_DIALECT_MYSQL, "SELECT SLEEP(1)", &err) != VZ_ENOT_READONLY)
            job->failures++;
    }
    return NULL;
}

static void test_checks_are_thread_safe(void **state)
{
    pthread_t th[4];
    struct thread_job jobs[4];
    (void)state;
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_attacks_are_rejected_with_reasons),
        cmocka_unit_test(test_mysql_attacks_are_rejected_with_reasons),
        cmocka_unit_test(test_pg_legit_queries_are_accepted_and_wrap),
        cmocka_unit_test(test_mysql_legit_queries_are_accepted_and_wrap),
        cmocka_unit_test(test_bad_input_gets_a_clear_message),
        cmocka_unit_test(test_reasons_name_the_construct),
        cmocka_unit_test(test_lookalikes_are_not_rejected),
        cmocka_unit_test(test_wrap_limit_keeps_the_text_and_strips_the_tail),
        cmocka_unit_test(test_wrap_limit_refuses_cleanly),
        cmocka_unit_test(test_deep_nesting_is_refused_not_crashed),
        cmocka_unit_test(test_checks_are_thread_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
