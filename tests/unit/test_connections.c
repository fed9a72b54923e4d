/* store/connections: round trips, encryption at rest, partial updates. */
#include "testutil.h"

#include "core/log.h"
#include "crypto/fernet.h"
#include "store/connections.h"

struct fx {
    char dir[PATH_MAX];
    struct vz_store *st;
    struct vz_keyring ring;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vz_err err = VZ_ERR_INIT;
    char key[VZ_FERNET_KEY_TEXT_LEN + 1];
    struct vz_fernet_key k;
    vzt_tmpdir(f->dir, sizeof(f->dir));
    assert_int_equal(vz_store_open(f->dir, &f->st, &err), 0);
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    vz_keyring_init(&f->ring);
    assert_int_equal(vz_fernet_key_generate(key, &err), 0);
    assert_int_equal(vz_fernet_key_parse(key, strlen(key), &k, &err), 0);
    assert_int_equal(vz_keyring_add(&f->ring, &k, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vz_store_close(f->st);
    vz_keyring_release(&f->ring);
    vzt_rmrf(f->dir);
    free(f);
    vz_log_clear_secrets();
    return 0;
}

static struct vz_connection *sample(const char *id)
{
    struct vz_connection *c = calloc(1, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->name = strdup("Prod analytics");
    c->db_type = strdup("postgresql");
    c->host = strdup("db-host-Unique123.internal");
    c->port = 5432;
    c->database = strdup("analytics_Unique456");
    c->username = strdup("reader_Unique789");
    c->password = strdup("S3cret-Unique-Pw");
    c->ssl_mode = strdup("require");
    c->extra_options = strdup("{\"sslrootcert\":\"/etc/ca.pem\"}");
    return c;
}

static void test_roundtrip_and_masking(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = sample("c-1"), *got = NULL;
    assert_int_equal(vz_conn_insert(f->st, &f->ring, c, &err), 0);
    assert_string_equal(c->status, "configured");
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-1", 0, &got, &err), 0);
    assert_string_equal(got->host, "db-host-Unique123.internal");
    assert_string_equal(got->database, "analytics_Unique456");
    assert_string_equal(got->username, "reader_Unique789");
    assert_null(got->password); /* only when asked for */
    assert_int_equal(got->port, 5432);
    assert_string_equal(got->ssl_mode, "require");
    assert_int_equal(got->table_count, -1);
    vz_connection_free(got);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-1", VZ_CONN_WITH_PASSWORD, &got, &err), 0);
    assert_string_equal(got->password, "S3cret-Unique-Pw");
    vz_connection_free(got);
    vz_connection_free(c);
}

static void test_plaintext_never_in_the_files(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = sample("c-2");
    static const char *const secrets[] = {"db-host-Unique123", "analytics_Unique456",
                                          "reader_Unique789", "S3cret-Unique-Pw", "Unique-Error"};
    const char *files[] = {"vectoraiz.db", "vectoraiz.db-wal"};
    int name_seen = 0;
    assert_int_equal(vz_conn_insert(f->st, &f->ring, c, &err), 0);
    assert_int_equal(vz_conn_set_status(f->st, &f->ring, "c-2", 0,
                                        "login failed for reader_Unique789 Unique-Error", -1, &err),
                     0);
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX + 32];
        size_t n = 0;
        char *data;
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        data = vzt_slurp(path, &n);
        assert_non_null(data);
        for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++)
            assert_false(vzt_contains(data, n, secrets[s]));
        name_seen |= vzt_contains(data, n, "Prod analytics"); /* the name is not secret */
        free(data);
    }
    assert_true(name_seen); /* so the search above looked at the right bytes */
    vz_connection_free(c);
}

static void test_update_keeps_password_unless_given(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = sample("c-3"), *got = NULL;
    assert_int_equal(vz_conn_insert(f->st, &f->ring, c, &err), 0);
    assert_int_equal(vz_conn_set_status(f->st, &f->ring, "c-3", 1, NULL, 12, &err), 0);
    free(c->password);
    c->password = NULL;
    free(c->name);
    c->name = strdup("renamed");
    assert_int_equal(vz_conn_update(f->st, &f->ring, c, &err), 0);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-3", VZ_CONN_WITH_PASSWORD, &got, &err), 0);
    assert_string_equal(got->name, "renamed");
    assert_string_equal(got->password, "S3cret-Unique-Pw");
    assert_string_equal(got->status, "configured"); /* settings changed: untested again */
    assert_int_equal(got->table_count, 12);
    vz_connection_free(got);
    c->password = strdup("new-pw");
    assert_int_equal(vz_conn_update(f->st, &f->ring, c, &err), 0);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-3", VZ_CONN_WITH_PASSWORD, &got, &err), 0);
    assert_string_equal(got->password, "new-pw");
    vz_connection_free(got);
    vz_connection_free(c);
}

static void test_status_list_delete_notfound(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *a = sample("c-a"), *b = sample("c-b"), *got = NULL, **list = NULL;
    size_t n = 0;
    free(b->name);
    b->name = strdup("a first");
    assert_int_equal(vz_conn_insert(f->st, &f->ring, a, &err), 0);
    assert_int_equal(vz_conn_insert(f->st, &f->ring, b, &err), 0);
    assert_int_equal(vz_conn_set_status(f->st, &f->ring, "c-a", 0, "boom", -1, &err), 0);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-a", 0, &got, &err), 0);
    assert_string_equal(got->status, "error");
    assert_string_equal(got->error_message, "boom");
    assert_null(got->last_connected_at);
    vz_connection_free(got);
    assert_int_equal(vz_conn_set_status(f->st, &f->ring, "c-a", 1, NULL, 7, &err), 0);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-a", 0, &got, &err), 0);
    assert_string_equal(got->status, "connected");
    assert_null(got->error_message);
    assert_non_null(got->last_connected_at);
    assert_int_equal(got->table_count, 7);
    vz_connection_free(got);
    assert_int_equal(vz_conn_list(f->st, &f->ring, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "a first");
    assert_null(list[0]->password);
    vz_connection_list_free(list, n);
    assert_int_equal(vz_conn_delete(f->st, "c-a", &err), 0);
    assert_int_equal(vz_conn_delete(f->st, "c-a", &err), VZ_ENOTFOUND);
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-a", 0, &got, &err), VZ_ENOTFOUND);
    assert_null(got);
    assert_int_equal(vz_conn_set_status(f->st, &f->ring, "nope", 1, NULL, -1, &err), VZ_ENOTFOUND);
    vz_connection_free(a);
    vz_connection_free(b);
}

static void test_wrong_key_is_a_clear_error(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = sample("c-4"), *got = NULL;
    struct vz_keyring other;
    char key[VZ_FERNET_KEY_TEXT_LEN + 1];
    struct vz_fernet_key k;
    assert_int_equal(vz_conn_insert(f->st, &f->ring, c, &err), 0);
    vz_keyring_init(&other);
    assert_int_equal(vz_fernet_key_generate(key, &err), 0);
    assert_int_equal(vz_fernet_key_parse(key, strlen(key), &k, &err), 0);
    assert_int_equal(vz_keyring_add(&other, &k, &err), 0);
    assert_int_equal(vz_conn_get(f->st, &other, "c-4", 0, &got, &err), VZ_ECRYPTO);
    assert_non_null(strstr(err.msg, "VECTORAIZ_APIKEY_HMAC_SECRET"));
    assert_null(got);
    /* The row is still there for the right key. */
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-4", 0, &got, &err), 0);
    vz_connection_free(got);
    vz_keyring_release(&other);
    vz_connection_free(c);
}

static void test_decrypted_values_are_redacted_from_logs(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = sample("c-5"), *got = NULL;
    char out[256];
    vz_log_clear_secrets();
    assert_int_equal(vz_conn_insert(f->st, &f->ring, c, &err), 0);
    vz_log_clear_secrets();
    assert_int_equal(vz_conn_get(f->st, &f->ring, "c-5", VZ_CONN_WITH_PASSWORD, &got, &err), 0);
    vz_log_redact("pw S3cret-Unique-Pw on db-host-Unique123.internal as reader_Unique789", out,
                  sizeof(out));
    assert_string_equal(out, "pw **** on **** as ****");
    vz_connection_free(got);
    vz_connection_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_and_masking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_never_in_the_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_keeps_password_unless_given, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_list_delete_notfound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrypted_values_are_redacted_from_logs, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("connections", tests, NULL, NULL);
}
