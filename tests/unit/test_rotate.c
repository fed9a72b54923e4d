/* store/rotate and `vectoraiz keys`: re-encryption in one transaction,
 * rollback when a row cannot be read, the key file rotation surviving a
 * crash between its steps, and a missing key file refused at start-up. */
#include <errno.h>

#include "testutil.h"

#include "app/app.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/fernet.h"
#include "crypto/keys.h"
#include "store/connections.h"
#include "store/rotate.h"

#define OLD_SECRET "old-secret-0123456789abcdefghijklmnopqrstuvwxyz"
#define NEW_SECRET "new-secret-0123456789abcdefghijklmnopqrstuvwxyz"
#define OTHER_SECRET "other-secret-0123456789abcdefghijklmnopqrstuvwx"

struct fx {
    char dir[PATH_MAX];
    struct vz_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vz_err err = VZ_ERR_INIT;
    vzt_tmpdir(f->dir, sizeof(f->dir));
    assert_int_equal(vz_store_open(f->dir, &f->st, &err), 0);
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vz_store_close(f->st);
    vzt_rmrf(f->dir);
    free(f);
    vz_log_clear_secrets();
    return 0;
}

static void ring_from(const char *secret, const char *old, struct vz_keyring *ring)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keys_info info;
    assert_int_equal(vz_keys_load("/nonexistent", secret, old, ring, &info, &err), 0);
}

/* Connection i: distinct secrets, and an error message on odd rows so that
 * the nullable error_message column is exercised both ways. */
static void add_conn(struct fx *f, const struct vz_keyring *ring, int i)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = calloc(1, sizeof(*c));
    char buf[64];
    snprintf(c->id, sizeof(c->id), "00000000-0000-4000-8000-%012d", i);
    snprintf(buf, sizeof(buf), "conn %d", i);
    c->name = strdup(buf);
    c->db_type = strdup("postgresql");
    snprintf(buf, sizeof(buf), "host-%d.example", i);
    c->host = strdup(buf);
    c->port = 5432;
    c->database = strdup("db");
    snprintf(buf, sizeof(buf), "user_%d", i);
    c->username = strdup(buf);
    snprintf(buf, sizeof(buf), "Pw-%d-secret", i);
    c->password = strdup(buf);
    c->ssl_mode = strdup("disable");
    assert_int_equal(vz_conn_insert(f->st, ring, c, &err), 0);
    if (i % 2)
        assert_int_equal(
            vz_conn_set_status(f->st, ring, c->id, 0, "connection refused by host", -1, &err), 0);
    vz_connection_free(c);
}

/* Can ring read every column of connection i, with the right plaintext? */
static int readable(struct fx *f, const struct vz_keyring *ring, int i)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_connection *c = NULL;
    char id[40], pw[32];
    int rc, ok;
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
    rc = vz_conn_get(f->st, ring, id, VZ_CONN_WITH_PASSWORD, &c, &err);
    if (rc < 0) {
        assert_int_equal(rc, VZ_ECRYPTO);
        return 0;
    }
    snprintf(pw, sizeof(pw), "Pw-%d-secret", i);
    ok = strcmp(c->password, pw) == 0 &&
         (i % 2 == 0 || strcmp(c->error_message, "connection refused by host") == 0);
    vz_connection_free(c);
    assert_true(ok);
    return 1;
}

/* Every stored token, in row order: the store's content as rotation sees it. */
static char *snapshot(struct fx *f)
{
    struct vz_buf b = VZ_BUF_INIT(0);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(vz_store_db(f->st),
                                        "SELECT id, host, database, username, password_encrypted, "
                                        "coalesce(error_message, '-'), updated_at FROM "
                                        "database_connections ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW)
        for (int c = 0; c < 7; c++)
            assert_int_equal(vz_buf_addf(&b, "%s|", (const char *)sqlite3_column_text(q, c)), 0);
    sqlite3_finalize(q);
    return vz_buf_take(&b, NULL);
}

static void test_env_rotation(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring old, both, fresh;
    size_t rows, unreadable, per_key[VZ_KEYRING_MAX];
    int n = -1, values = -1;
    char *before, *after;

    ring_from(OLD_SECRET, NULL, &old);
    for (int i = 1; i <= 3; i++)
        add_conn(f, &old, i);
    /* The operator's step 1: new secret, old one listed in _OLD. */
    ring_from(NEW_SECRET, OLD_SECRET, &both);
    ring_from(NEW_SECRET, NULL, &fresh);
    assert_int_equal(both.n, 2);
    assert_int_equal(vz_store_credential_status(f->st, &both, &rows, per_key, &unreadable, &err),
                     0);
    assert_int_equal(rows, 3);
    assert_int_equal(per_key[0], 0);
    assert_int_equal(per_key[1], 3);
    assert_int_equal(unreadable, 0);

    before = snapshot(f);
    assert_int_equal(vz_store_rotate_credentials_n(f->st, &both, &n, &values, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(values, 3 * 4 + 2); /* 4 per row, and rows 1 and 3 have an error */
    after = snapshot(f);
    assert_string_not_equal(before, after);
    for (int i = 1; i <= 3; i++) {
        assert_true(readable(f, &fresh, i));
        assert_false(readable(f, &old, i));
    }
    assert_int_equal(vz_store_credential_status(f->st, &both, &rows, per_key, &unreadable, &err),
                     0);
    assert_int_equal(per_key[0], 3);
    assert_int_equal(per_key[1], 0);
    /* Rotating again is harmless: everything is already under keys[0]. */
    assert_int_equal(vz_store_rotate_credentials(f->st, &fresh, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(readable(f, &fresh, 2));
    free(before);
    free(after);
    vz_keyring_release(&old);
    vz_keyring_release(&both);
    vz_keyring_release(&fresh);
}

static void test_unreadable_row_rolls_back(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring old, other, ring;
    int n = -1;
    char *before, *after;

    ring_from(OLD_SECRET, NULL, &old);
    ring_from(OTHER_SECRET, NULL, &other);
    add_conn(f, &old, 1);
    add_conn(f, &old, 2);
    add_conn(f, &other, 3); /* stored under a key the operator no longer has */
    add_conn(f, &old, 4);
    ring_from(NEW_SECRET, OLD_SECRET, &ring);

    before = snapshot(f);
    assert_int_equal(vz_store_rotate_credentials(f->st, &ring, &n, &err), VZ_ECRYPTO);
    assert_int_equal(err.code, VZ_ECRYPTO);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "conn 3"));
    assert_non_null(strstr(err.msg, VZ_KEYS_ENV_OLD_SECRETS));
    assert_non_null(strstr(err.msg, "secret.key"));
    assert_null(strstr(err.msg, "Pw-"));
    after = snapshot(f);
    /* Rows 1 and 2 were rewritten before row 3 failed: the rollback undid
     * them too. */
    assert_string_equal(before, after);
    assert_true(readable(f, &old, 1));
    assert_true(readable(f, &old, 2));
    assert_true(readable(f, &other, 3));
    assert_true(readable(f, &old, 4));
    /* The store is usable afterwards (no transaction left open). */
    add_conn(f, &old, 5);
    assert_true(readable(f, &old, 5));
    free(before);
    free(after);
    vz_keyring_release(&old);
    vz_keyring_release(&other);
    vz_keyring_release(&ring);
}

static void test_empty_store(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring ring, empty;
    int n = -1;
    size_t rows = 9;
    ring_from(NEW_SECRET, NULL, &ring);
    assert_int_equal(vz_store_rotate_credentials(f->st, &ring, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vz_store_credential_rows(f->st, &rows, &err), 0);
    assert_int_equal(rows, 0);
    vz_keyring_init(&empty);
    assert_int_equal(vz_store_rotate_credentials(f->st, &empty, &n, &err), VZ_EINVAL);
    vz_keyring_release(&ring);
}

static void load_file_ring(struct fx *f, struct vz_keyring *ring, size_t want_n)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keys_info info;
    assert_int_equal(vz_keys_load(f->dir, NULL, NULL, ring, &info, &err), 0);
    assert_int_equal(info.source, VZ_KEYS_FILE_EXISTING);
    assert_int_equal(ring->n, want_n);
}

static int old_file_exists(struct fx *f)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/%s", f->dir, VZ_KEYS_OLD_FILE_NAME);
    return access(p, F_OK) == 0;
}

static void all_readable(struct fx *f, const struct vz_keyring *ring, int n)
{
    for (int i = 1; i <= n; i++)
        assert_true(readable(f, ring, i));
}

/* Creates secret.key and stores rows under it; *orig is the key file ring. */
static void file_setup(struct fx *f, struct vz_keyring *orig)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keys_info info;
    assert_int_equal(vz_keys_load(f->dir, NULL, NULL, orig, &info, &err), 0);
    assert_int_equal(info.source, VZ_KEYS_FILE_CREATED);
    for (int i = 1; i <= 3; i++)
        add_conn(f, orig, i);
}

static void test_keyfile_crash_after_prepare(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring orig, loaded, nk_only;
    struct vz_fernet_key nk;
    char p[PATH_MAX + 32];
    struct stat sb;
    int n;

    file_setup(f, &orig);
    assert_int_equal(vz_rotate_keyfile_prepare(f->dir, &nk, &err), 0);
    assert_true(old_file_exists(f));
    snprintf(p, sizeof(p), "%s/%s", f->dir, VZ_KEYS_OLD_FILE_NAME);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(p, sizeof(p), "%s/%s", f->dir, VZ_KEYS_FILE_NAME);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* "Crash" before the transaction: the next start reads the new key
     * file plus secret.key.old, and every row still under the old key. */
    load_file_ring(f, &loaded, 2);
    vz_keyring_init(&nk_only);
    assert_int_equal(vz_keyring_add(&nk_only, &nk, &err), 0);
    assert_memory_equal(&loaded.keys[0], &nk, sizeof(nk));
    all_readable(f, &loaded, 3);
    assert_false(readable(f, &nk_only, 1));
    /* A second --new-key-file is refused until the first is finished. */
    assert_int_equal(vz_rotate_keyfile_prepare(f->dir, &nk, &err), VZ_ECONFLICT);
    assert_non_null(strstr(err.msg, "keys rotate"));
    /* Plain `keys rotate` finishes it. */
    assert_int_equal(vz_store_rotate_credentials(f->st, &loaded, &n, &err), 0);
    assert_int_equal(vz_rotate_keyfile_finish(f->dir, &err), 0);
    assert_false(old_file_exists(f));
    vz_keyring_release(&loaded);
    load_file_ring(f, &loaded, 1);
    all_readable(f, &loaded, 3);
    all_readable(f, &nk_only, 3);
    assert_false(readable(f, &orig, 2));
    vz_fernet_key_wipe(&nk);
    vz_keyring_release(&orig);
    vz_keyring_release(&loaded);
    vz_keyring_release(&nk_only);
}

static void test_keyfile_crash_after_commit(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring orig, ring, loaded;
    struct vz_fernet_key nk;
    size_t rows, unreadable, per_key[VZ_KEYRING_MAX];
    int n;

    file_setup(f, &orig);
    assert_int_equal(vz_rotate_keyfile_prepare(f->dir, &nk, &err), 0);
    vz_keyring_init(&ring);
    assert_int_equal(vz_keyring_add(&ring, &nk, &err), 0);
    assert_int_equal(vz_keyring_add(&ring, &orig.keys[0], &err), 0);
    assert_int_equal(vz_store_rotate_credentials(f->st, &ring, &n, &err), 0);
    assert_int_equal(n, 3);
    /* "Crash" between the commit and removing secret.key.old. */
    load_file_ring(f, &loaded, 2);
    all_readable(f, &loaded, 3);
    assert_int_equal(vz_store_credential_status(f->st, &loaded, &rows, per_key, &unreadable, &err),
                     0);
    assert_int_equal(per_key[0], 3); /* the new secret.key reads everything */
    assert_int_equal(per_key[1], 0);
    assert_int_equal(unreadable, 0);
    assert_int_equal(vz_rotate_keyfile_finish(f->dir, &err), 0);
    assert_int_equal(vz_rotate_keyfile_finish(f->dir, &err), 0); /* idempotent */
    vz_keyring_release(&loaded);
    load_file_ring(f, &loaded, 1);
    all_readable(f, &loaded, 3);
    vz_fernet_key_wipe(&nk);
    vz_keyring_release(&orig);
    vz_keyring_release(&ring);
    vz_keyring_release(&loaded);
}

static void test_keyfile_abort_restores(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring orig, loaded;
    struct vz_fernet_key nk;

    file_setup(f, &orig);
    assert_int_equal(vz_rotate_keyfile_prepare(f->dir, &nk, &err), 0);
    assert_int_equal(vz_rotate_keyfile_abort(f->dir, &err), 0);
    assert_false(old_file_exists(f));
    load_file_ring(f, &loaded, 1);
    assert_memory_equal(&loaded.keys[0], &orig.keys[0], sizeof(nk));
    all_readable(f, &loaded, 3);
    vz_fernet_key_wipe(&nk);
    vz_keyring_release(&orig);
    vz_keyring_release(&loaded);
}

static void test_missing_key_file_refused(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    struct vz_config cfg;
    struct vz_app app;
    char key[PATH_MAX + 32];

    vz_config_init(&cfg);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", f->dir);
    snprintf(key, sizeof(key), "%s/%s", f->dir, VZ_KEYS_FILE_NAME);
    /* An empty store without a key file: a first start, the key is made. */
    assert_int_equal(vz_app_open(&app, &cfg, 0, &err), 0);
    assert_int_equal(access(key, F_OK), 0);
    vz_app_close(&app);
    /* Credentials stored, then the key file lost: refuse, make no key. */
    {
        struct vz_keyring ring;
        load_file_ring(f, &ring, 1);
        add_conn(f, &ring, 1);
        vz_keyring_release(&ring);
    }
    assert_int_equal(unlink(key), 0);
    assert_int_equal(vz_app_open(&app, &cfg, 0, &err), VZ_ECRYPTO);
    assert_non_null(strstr(err.msg, "secret.key"));
    assert_non_null(strstr(err.msg, "missing"));
    assert_non_null(strstr(err.msg, VZ_KEYS_ENV_SECRET));
    assert_int_equal(access(key, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    /* With the secret in the environment the key file is not needed. */
    cfg.secret = strdup(OLD_SECRET);
    assert_int_equal(vz_app_open(&app, &cfg, 0, &err), 0);
    assert_int_equal(access(key, F_OK), -1);
    vz_app_close(&app);
    vz_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_row_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_crash_after_prepare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_crash_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_abort_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key_file_refused, setup, teardown),
    };
    vz_log_set_level(VZ_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
