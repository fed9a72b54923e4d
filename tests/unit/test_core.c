/* core/: error codes, vz_buf, logging with redaction, configuration. */
#include "testutil.h"

#include <fcntl.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

static void test_err_codes_are_distinct_and_named(void **state)
{
    (void)state;
    assert_int_equal(VZ_ENOMEM, -1);
    assert_true(VZ_EINTERNAL < VZ_EINVAL);
    assert_string_equal(vz_err_name(VZ_ENOTFOUND), "NOTFOUND");
    assert_string_equal(vz_strerror(VZ_ETIMEOUT), "deadline exceeded");
    assert_string_equal(vz_strerror(-9999), "unknown error");
    assert_string_equal(vz_err_name(0), "OK");
}

static void test_err_set_returns_code_and_formats(void **state)
{
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_err_set(&err, VZ_EINVAL, "port %d out of range", 70000), VZ_EINVAL);
    assert_int_equal(err.code, VZ_EINVAL);
    assert_string_equal(err.msg, "port 70000 out of range");
    assert_int_equal(vz_err_set(&err, VZ_EIO, NULL), VZ_EIO);
    assert_string_equal(err.msg, "input/output error");
    assert_int_equal(vz_err_set(NULL, VZ_EIO, "x"), VZ_EIO);
}

static void test_buf_grows_and_keeps_nul(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    size_t len;
    char *p;
    (void)state;
    assert_string_equal(vz_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vz_buf_addf(&b, "%d,", i), 0);
    assert_int_equal(b.p[b.len], '\0');
    assert_int_equal(strncmp(b.p, "0,1,2,", 6), 0);
    assert_int_equal(vz_buf_add(&b, "\0x", 2), 0); /* may hold NUL bytes */
    p = vz_buf_take(&b, &len);
    assert_int_equal(p[len - 1], 'x');
    assert_null(b.p);
    free(p);
}

static void test_buf_ceiling_is_enforced(void **state)
{
    struct vz_buf b = VZ_BUF_INIT(10);
    (void)state;
    assert_int_equal(vz_buf_adds(&b, "0123456789"), 0);
    assert_int_equal(vz_buf_addc(&b, 'x'), VZ_ETOOBIG);
    assert_int_equal(b.len, 10); /* unchanged */
    assert_string_equal(vz_buf_cstr(&b), "0123456789");
    assert_int_equal(vz_buf_addf(&b, "%s", "y"), VZ_ETOOBIG);
    vz_buf_release(&b);
    assert_int_equal(b.max, 10);
}

/* Capture log output through a pipe. */
static char *log_capture(void (*fn)(void))
{
    int fds[2];
    char *out = calloc(1, 65536);
    ssize_t n, total = 0;
    assert_int_equal(pipe(fds), 0);
    vz_log_set_fd(fds[1]);
    fn();
    vz_log_set_fd(2);
    close(fds[1]);
    while ((n = read(fds[0], out + total, 65535 - (size_t)total)) > 0)
        total += n;
    close(fds[0]);
    return out;
}

static void log_some_secrets(void)
{
    vz_log_set_level(VZ_LOG_DEBUG);
    vz_info("connecting with password=hunter2-Sekrit to db");
    vz_debug("twice: hunter2-Sekrit hunter2-Sekrit end");
    vz_error("longer one wins: hunter2-Sekrit-and-more");
}

static void test_log_redacts_registered_secrets(void **state)
{
    char *out;
    (void)state;
    vz_log_clear_secrets();
    assert_int_equal(vz_log_add_secret("hunter2-Sekrit"), 0);
    assert_int_equal(vz_log_add_secret("hunter2-Sekrit-and-more"), 0);
    assert_int_equal(vz_log_add_secret(""), 0); /* ignored, must not redact everything */
    out = log_capture(log_some_secrets);
    assert_null(strstr(out, "hunter2"));
    assert_non_null(strstr(out, "password=**** to db"));
    assert_non_null(strstr(out, "twice: **** **** end"));
    assert_non_null(strstr(out, "longer one wins: ****\n"));
    assert_non_null(strstr(out, " info "));
    assert_non_null(strstr(out, " debug "));
    free(out);
    vz_log_clear_secrets();
}

static void log_levels(void)
{
    vz_log_set_level(VZ_LOG_WARN);
    vz_debug("hidden-debug");
    vz_info("hidden-info");
    vz_warn("shown-warn");
    vz_error("shown-error\nforged 2026-01-01 info line");
    vz_log_set_level(VZ_LOG_INFO);
}

static void test_log_levels_filter_and_lines_cannot_be_forged(void **state)
{
    char *out = log_capture(log_levels);
    int lines = 0;
    (void)state;
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown-warn"));
    assert_non_null(strstr(out, "shown-error forged"));
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    free(out);
}

static void test_log_level_parse(void **state)
{
    enum vz_log_level l;
    (void)state;
    assert_int_equal(vz_log_level_parse("DEBUG", &l), 0);
    assert_int_equal(l, VZ_LOG_DEBUG);
    assert_int_equal(vz_log_level_parse("warning", &l), 0);
    assert_int_equal(l, VZ_LOG_WARN);
    assert_int_equal(vz_log_level_parse("loud", &l), VZ_EINVAL);
}

static void test_redact_helper_truncates_safely(void **state)
{
    char small[8];
    (void)state;
    vz_log_clear_secrets();
    assert_int_equal(vz_log_add_secret("abc"), 0);
    assert_int_equal(vz_log_redact("xabcx", small, sizeof(small)), 6);
    assert_string_equal(small, "x****x");
    assert_int_equal(vz_log_redact("abcabcabc", small, sizeof(small)), 12);
    assert_string_equal(small, "*******");
    vz_log_clear_secrets();
}

/* A fake environment for config tests. */
static const char *const *fake_env;
static const char *fake_getenv(const char *name)
{
    for (const char *const *e = fake_env; e && *e; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

static void test_config_defaults(void **state)
{
    struct vz_config c;
    struct vz_err err = VZ_ERR_INIT;
    static const char *const none[] = {NULL};
    (void)state;
    vz_config_init(&c);
    fake_env = none;
    assert_int_equal(vz_config_load_env(&c, fake_getenv, &err), 0);
    assert_string_equal(c.data_dir, "./vectoraiz-data");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8420);
    assert_int_equal(c.extract_max_rows, 5000000);
    assert_null(c.secret);
    vz_config_release(&c);
}

static void test_config_env_and_flags(void **state)
{
    struct vz_config c;
    struct vz_err err = VZ_ERR_INIT;
    static const char *const env[] = {"VECTORAIZ_DATA_DIR",
                                      "/srv/vz",
                                      "VECTORAIZ_LISTEN",
                                      "0.0.0.0:9000",
                                      "DB_EXTRACT_MAX_ROWS",
                                      "1000",
                                      "VECTORAIZ_APIKEY_HMAC_SECRET",
                                      "s3cret",
                                      "VECTORAIZ_LOG_LEVEL",
                                      "debug",
                                      NULL};
    (void)state;
    vz_config_init(&c);
    fake_env = env;
    assert_int_equal(vz_config_load_env(&c, fake_getenv, &err), 0);
    assert_string_equal(c.data_dir, "/srv/vz");
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.extract_max_rows, 1000);
    assert_string_equal(c.secret, "s3cret");
    assert_int_equal(c.log_level, VZ_LOG_DEBUG);
    /* Flags come after the environment and win. */
    assert_int_equal(vz_config_set(&c, "listen", "[::1]:8421", &err), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 8421);
    assert_int_equal(vz_config_set(&c, "data-dir", "/tmp/x", &err), 0);
    assert_string_equal(c.data_dir, "/tmp/x");
    assert_int_equal(vz_config_set(&c, "colour", "red", &err), VZ_ENOTFOUND);
    vz_config_release(&c);
    assert_null(c.secret);
}

static void test_config_bad_values_name_the_setting(void **state)
{
    static const char *const cases[][2] = {
        {"DB_EXTRACT_MAX_ROWS", "lots"},   {"DB_EXTRACT_MAX_ROWS", "0"},
        {"DB_EXTRACT_MAX_ROWS", "-5"},     {"VECTORAIZ_LISTEN", "8420"},
        {"VECTORAIZ_LISTEN", "host:-1"},   {"VECTORAIZ_LISTEN", "host:99999"},
        {"VECTORAIZ_LOG_LEVEL", "chatty"}, {"VECTORAIZ_HTTP_THREADS", "0"},
        {"VECTORAIZ_DATA_DIR", ""},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vz_config c;
        struct vz_err err = VZ_ERR_INIT;
        const char *env[] = {cases[i][0], cases[i][1], NULL};
        vz_config_init(&c);
        fake_env = env;
        assert_int_equal(vz_config_load_env(&c, fake_getenv, &err), VZ_EINVAL);
        assert_non_null(strstr(err.msg, cases[i][0]));
        vz_config_release(&c);
    }
}

static void test_listen_parse_and_loopback(void **state)
{
    char host[64];
    int port;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_int_equal(vz_config_parse_listen(":8500", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8500);
    assert_int_equal(vz_config_parse_listen("[::]:1", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "::");
    assert_int_equal(vz_config_parse_listen("[::1:1", host, sizeof(host), &port, &err), VZ_EINVAL);
    assert_int_equal(vz_config_parse_listen("h:0", host, sizeof(host), &port, &err), 0);
    assert_int_equal(port, 0);
    assert_true(vz_config_host_is_loopback("127.0.0.1"));
    assert_true(vz_config_host_is_loopback("localhost"));
    assert_true(vz_config_host_is_loopback("::1"));
    assert_false(vz_config_host_is_loopback("0.0.0.0"));
    assert_false(vz_config_host_is_loopback("10.1.2.3"));
}

static void test_uuid_and_time(void **state)
{
    char a[VZ_UUID_LEN + 1], b[VZ_UUID_LEN + 1], now[32];
    (void)state;
    assert_int_equal(vz_uuid4(a), 0);
    assert_int_equal(vz_uuid4(b), 0);
    assert_true(vz_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_false(vz_uuid_valid("not-a-uuid"));
    assert_false(vz_uuid_valid("../../etc/passwd-0000-0000-000000000"));
    vz_now_iso(now);
    assert_int_equal(strlen(now), 24);
    assert_int_equal(now[23], 'Z');
}

static void test_atomic_write_replaces_whole_file(void **state)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    struct vz_err err = VZ_ERR_INIT;
    struct stat sb;
    char *got;
    (void)state;
    vzt_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(vz_write_file_atomic(path, "old", 3, 0644, &err), 0);
    assert_int_equal(vz_write_file_atomic(path, "new!", 4, 0600, &err), 0);
    got = vzt_slurp(path, NULL);
    assert_string_equal(got, "new!");
    free(got);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* Into a missing directory: an error, and nothing created. */
    snprintf(path, sizeof(path), "%s/no/f", dir);
    assert_int_equal(vz_write_file_atomic(path, "x", 1, 0600, &err), VZ_ENOTFOUND);
    vzt_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_codes_are_distinct_and_named),
        cmocka_unit_test(test_err_set_returns_code_and_formats),
        cmocka_unit_test(test_buf_grows_and_keeps_nul),
        cmocka_unit_test(test_buf_ceiling_is_enforced),
        cmocka_unit_test(test_log_redacts_registered_secrets),
        cmocka_unit_test(test_log_levels_filter_and_lines_cannot_be_forged),
        cmocka_unit_test(test_log_level_parse),
        cmocka_unit_test(test_redact_helper_truncates_safely),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_env_and_flags),
        cmocka_unit_test(test_config_bad_values_name_the_setting),
        cmocka_unit_test(test_listen_parse_and_loopback),
        cmocka_unit_test(test_uuid_and_time),
        cmocka_unit_test(test_atomic_write_replaces_whole_file),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
