/* auth/: admin token file, constant-time check, sessions, login limit. */
#include "testutil.h"

#include "auth/auth.h"

static void test_first_open_creates_token_file_0600(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], tok[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    struct stat sb;
    char *content;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_open(dir, &a, tok, &err), 0);
    assert_int_equal(strncmp(tok, "vzt_", 4), 0);
    assert_int_equal(strlen(tok), 52);
    assert_true(vz_auth_token_ok(a, tok));
    assert_false(vz_auth_token_ok(a, "vzt_nope"));
    assert_false(vz_auth_token_ok(a, ""));
    assert_false(vz_auth_token_ok(a, NULL));
    snprintf(path, sizeof(path), "%s/%s", dir, VZ_AUTH_TOKEN_FILE);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* Only the hash is on disk. */
    content = vzt_slurp(path, NULL);
    assert_null(strstr(content, tok + 4));
    assert_int_equal(strncmp(content, "sha256:", 7), 0);
    free(content);
    vz_auth_free(a);
    /* Second open: same token, nothing new shown. */
    assert_int_equal(vz_auth_open(dir, &a, tok + 0, &err), 0);
    assert_string_equal(tok, "");
    vz_auth_free(a);
    vzt_rmrf(dir);
}

static void test_reset_replaces_token(void **state)
{
    char dir[PATH_MAX], t1[VZ_AUTH_TOKEN_TEXT_MAX + 1], t2[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_open(dir, &a, t1, &err), 0);
    vz_auth_free(a);
    assert_int_equal(vz_auth_reset_token(dir, t2, &err), 0);
    assert_string_not_equal(t1, t2);
    assert_int_equal(vz_auth_open(dir, &a, t1 + 0, &err), 0);
    assert_true(vz_auth_token_ok(a, t2));
    vz_auth_free(a);
    vzt_rmrf(dir);
}

/* A reset on a running server's data directory takes effect at once. */
static void test_reset_applies_without_restart(void **state)
{
    char dir[PATH_MAX], t1[VZ_AUTH_TOKEN_TEXT_MAX + 1], t2[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_open(dir, &a, t1, &err), 0);
    assert_true(vz_auth_token_ok(a, t1));
    assert_int_equal(vz_auth_reset_token(dir, t2, &err), 0);
    assert_true(vz_auth_token_ok(a, t2));
    assert_false(vz_auth_token_ok(a, t1));
    vz_auth_free(a);
    vzt_rmrf(dir);
}

static void test_readable_token_file_is_refused(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], tok[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_reset_token(dir, tok, &err), 0);
    snprintf(path, sizeof(path), "%s/%s", dir, VZ_AUTH_TOKEN_FILE);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(vz_auth_open(dir, &a, tok, &err), VZ_EPERM);
    assert_null(a);
    assert_non_null(strstr(err.msg, "chmod 600"));
    /* A corrupted file: a clear error, not a crash. */
    assert_int_equal(chmod(path, 0600), 0);
    {
        FILE *f = fopen(path, "w");
        fputs("garbage", f);
        fclose(f);
    }
    assert_int_equal(vz_auth_open(dir, &a, tok, &err), VZ_EINVAL);
    assert_non_null(strstr(err.msg, "token reset"));
    vzt_rmrf(dir);
}

static void test_sessions_and_csrf(void **state)
{
    char dir[PATH_MAX], tok[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    char sid[VZ_AUTH_ID_LEN + 1], csrf[VZ_AUTH_ID_LEN + 1], got[VZ_AUTH_ID_LEN + 1];
    char sid2[VZ_AUTH_ID_LEN + 1], csrf2[VZ_AUTH_ID_LEN + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_open(dir, &a, tok, &err), 0);
    assert_int_equal(vz_auth_session_new(a, sid, csrf, &err), 0);
    assert_int_equal(strlen(sid), VZ_AUTH_ID_LEN);
    assert_string_not_equal(sid, csrf);
    assert_true(vz_auth_session_ok(a, sid, got));
    assert_string_equal(got, csrf);
    assert_false(vz_auth_session_ok(a, csrf, NULL)); /* the CSRF token is not a session */
    assert_false(vz_auth_session_ok(a, "short", NULL));
    assert_int_equal(vz_auth_session_new(a, sid2, csrf2, &err), 0);
    vz_auth_session_end(a, sid);
    assert_false(vz_auth_session_ok(a, sid, NULL));
    assert_true(vz_auth_session_ok(a, sid2, NULL));
    /* Many logins: the table never overflows; the newest session works. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vz_auth_session_new(a, sid, csrf, &err), 0);
    assert_true(vz_auth_session_ok(a, sid, NULL));
    vz_auth_free(a);
    vzt_rmrf(dir);
}

static void test_login_rate_limit_per_client(void **state)
{
    char dir[PATH_MAX], tok[VZ_AUTH_TOKEN_TEXT_MAX + 1];
    struct vz_auth *a = NULL;
    struct vz_err err = VZ_ERR_INIT;
    int64_t retry = 0;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    assert_int_equal(vz_auth_open(dir, &a, tok, &err), 0);
    for (int i = 0; i < VZ_AUTH_MAX_FAILURES; i++) {
        assert_int_equal(vz_auth_login_allowed(a, "10.0.0.1", &retry), 0);
        vz_auth_login_failed(a, "10.0.0.1");
    }
    assert_int_equal(vz_auth_login_allowed(a, "10.0.0.1", &retry), VZ_ELIMIT);
    assert_true(retry > 0 && retry <= VZ_AUTH_FAILURE_WINDOW_S);
    /* Another client is not affected. */
    assert_int_equal(vz_auth_login_allowed(a, "10.0.0.2", &retry), 0);
    /* A success resets the count. */
    vz_auth_login_failed(a, "10.0.0.3");
    vz_auth_login_succeeded(a, "10.0.0.3");
    for (int i = 0; i < VZ_AUTH_MAX_FAILURES - 1; i++)
        vz_auth_login_failed(a, "10.0.0.3");
    assert_int_equal(vz_auth_login_allowed(a, "10.0.0.3", &retry), 0);
    vz_auth_free(a);
    vzt_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_open_creates_token_file_0600),
        cmocka_unit_test(test_reset_replaces_token),
        cmocka_unit_test(test_reset_applies_without_restart),
        cmocka_unit_test(test_readable_token_file_is_refused),
        cmocka_unit_test(test_sessions_and_csrf),
        cmocka_unit_test(test_login_rate_limit_per_client),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
