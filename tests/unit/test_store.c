/* Metadata store: migrations are applied once, recorded, verified, and a
 * failing one leaves nothing behind. */
#include "testutil.h"

#include "store/migrations.h"
#include "store/store.h"

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
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vz_store_close(f->st);
    vzt_rmrf(f->dir);
    free(f);
    return 0;
}

static long long scalar(struct vz_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_prepare_v2(vz_store_db(st), sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void test_new_store_migrates_to_latest(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    size_t n;
    int applied = -1, version = -1;
    vz_migrations(&n);
    assert_int_equal(vz_store_schema_version(f->st, &version, &err), 0);
    assert_int_equal(version, 0);
    assert_int_equal(vz_store_migrate(f->st, &applied, &err), 0);
    assert_int_equal(applied, (int)n);
    assert_int_equal(vz_store_schema_version(f->st, &version, &err), 0);
    assert_int_equal(version, (int)n);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM schema_migrations"), (long long)n);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM schema_migrations WHERE length(checksum)"
                                   " = 64 AND applied_at LIKE '20%Z'"),
                     (long long)n);
    /* A second run applies nothing. */
    assert_int_equal(vz_store_migrate(f->st, &applied, &err), 0);
    assert_int_equal(applied, 0);
}

/* Column name, declared type, NOT NULL, default: exactly the spec's table. */
static void test_connections_table_matches_spec(void **state)
{
    static const struct {
        const char *name, *type;
        int notnull;
        const char *dflt;
    } want[] = {
        {"id", "VARCHAR(36)", 1, NULL},
        {"name", "VARCHAR(255)", 1, NULL},
        {"db_type", "VARCHAR(32)", 1, NULL},
        {"host", "VARCHAR(512)", 1, NULL},
        {"port", "INTEGER", 1, NULL},
        {"database", "VARCHAR(255)", 1, NULL},
        {"username", "VARCHAR(255)", 1, NULL},
        {"password_encrypted", "TEXT", 1, NULL},
        {"ssl_mode", "VARCHAR(32)", 0, "'prefer'"},
        {"extra_options", "TEXT", 0, NULL},
        {"last_connected_at", "DATETIME", 0, NULL},
        {"last_sync_at", "DATETIME", 0, NULL},
        {"table_count", "INTEGER", 0, NULL},
        {"status", "VARCHAR(32)", 0, "'configured'"},
        {"error_message", "TEXT", 0, NULL},
        {"created_at", "DATETIME", 1, NULL},
        {"updated_at", "DATETIME", 1, NULL},
    };
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    sqlite3_stmt *q = NULL;
    size_t i = 0;
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    assert_int_equal(sqlite3_prepare_v2(vz_store_db(f->st),
                                        "SELECT name, type, \"notnull\", dflt_value, pk FROM "
                                        "pragma_table_info('database_connections') ORDER BY cid",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *dflt = (const char *)sqlite3_column_text(q, 3);
        assert_true(i < sizeof(want) / sizeof(want[0]));
        assert_string_equal(sqlite3_column_text(q, 0), want[i].name);
        assert_string_equal(sqlite3_column_text(q, 1), want[i].type);
        assert_int_equal(sqlite3_column_int(q, 2), want[i].notnull);
        if (want[i].dflt)
            assert_string_equal(dflt, want[i].dflt);
        else
            assert_null(dflt);
        assert_int_equal(sqlite3_column_int(q, 4), i == 0);
        i++;
    }
    sqlite3_finalize(q);
    assert_int_equal(i, sizeof(want) / sizeof(want[0]));
}

static void test_defaults_and_constraints(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    assert_int_equal(vz_store_exec(f->st,
                                   "INSERT INTO database_connections(id, name, db_type, host, port,"
                                   " database, username, password_encrypted, created_at, "
                                   "updated_at) VALUES ('c1', 'n', 'postgresql', 'h', 5432, 'd', "
                                   "'u', 'p', 'now', 'now')",
                                   &err),
                     0);
    assert_int_equal(scalar(f->st, "SELECT ssl_mode = 'prefer' AND status = 'configured' FROM "
                                   "database_connections"),
                     1);
    /* source_type is file|database only. */
    assert_int_equal(vz_store_exec(f->st,
                                   "INSERT INTO datasets(id, name, source_type, created_at, "
                                   "updated_at) VALUES ('d0', 'x', 'ftp', 'now', 'now')",
                                   &err),
                     VZ_ECONFLICT);
    /* Deleting a connection keeps its datasets, orphaned (connection id NULL). */
    assert_int_equal(vz_store_exec(f->st,
                                   "INSERT INTO datasets(id, name, source_type, "
                                   "source_connection_id, source_table, created_at, updated_at) "
                                   "VALUES ('d1', 'x', 'database', 'c1', 'public.t', 'now', 'now');"
                                   "INSERT INTO jobs(id, dataset_id, kind, created_at, updated_at)"
                                   " VALUES ('j1', 'd1', 'extract', 'now', 'now');"
                                   "DELETE FROM database_connections WHERE id = 'c1';",
                                   &err),
                     0);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM datasets WHERE id = 'd1' AND "
                                   "source_connection_id IS NULL"),
                     1);
    /* Jobs go with their dataset. */
    assert_int_equal(vz_store_exec(f->st, "DELETE FROM datasets WHERE id = 'd1'", &err), 0);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM jobs"), 0);
    assert_int_equal(scalar(f->st, "PRAGMA foreign_keys"), 1);
}

static void test_wal_mode_and_file_mode(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *q = NULL;
    char path[PATH_MAX + 32];
    struct stat sb;
    assert_int_equal(sqlite3_prepare_v2(vz_store_db(f->st), "PRAGMA journal_mode", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal(sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    snprintf(path, sizeof(path), "%s/%s", f->dir, VZ_STORE_FILE);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_newer_store_is_refused(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    assert_int_equal(
        vz_store_exec(f->st, "INSERT INTO schema_migrations VALUES (99, 'future', 'x', 'now')",
                      &err),
        0);
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), VZ_ESCHEMA);
    assert_non_null(strstr(err.msg, "newer vectoraiz"));
}

static void test_changed_checksum_is_refused(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    assert_int_equal(
        vz_store_exec(f->st, "UPDATE schema_migrations SET checksum = 'abc' WHERE version = 1",
                      &err),
        0);
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), VZ_ESCHEMA);
    assert_non_null(strstr(err.msg, "checksum"));
}

/* A migration that fails halfway leaves no table of it and no record. */
static void test_failed_migration_rolls_back(void **state)
{
    static const struct vz_migration list[] = {
        {1, "good", "CREATE TABLE a(x INTEGER);"},
        {2, "bad", "CREATE TABLE b(x INTEGER); INSERT INTO nosuch VALUES (1);"},
    };
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    int applied = -1, version = -1;
    assert_int_equal(vz_store_migrate_with(f->st, list, 2, &applied, &err), VZ_ESTORE);
    assert_non_null(strstr(err.msg, "migration 2"));
    assert_int_equal(vz_store_schema_version(f->st, &version, &err), 0);
    assert_int_equal(version, 1);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'"), 0);
    assert_int_equal(scalar(f->st, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'"), 1);
    /* Fixing it lets the next start go on from version 1. */
    {
        static const struct vz_migration fixed[] = {
            {1, "good", "CREATE TABLE a(x INTEGER);"},
            {2, "bad", "CREATE TABLE b(x INTEGER);"},
        };
        assert_int_equal(vz_store_migrate_with(f->st, fixed, 2, &applied, &err), 0);
        assert_int_equal(applied, 1);
    }
}

static void test_reopen_keeps_data(void **state)
{
    struct fx *f = *state;
    struct vz_err err = VZ_ERR_INIT;
    int version = 0;
    assert_int_equal(vz_store_migrate(f->st, NULL, &err), 0);
    vz_store_close(f->st);
    f->st = NULL;
    assert_int_equal(vz_store_open(f->dir, &f->st, &err), 0);
    assert_int_equal(vz_store_schema_version(f->st, &version, &err), 0);
    assert_true(version >= 1);
}

static void test_unwritable_dir_gives_clear_error(void **state)
{
    struct vz_store *st = NULL;
    struct vz_err err = VZ_ERR_INIT;
    (void)state;
    assert_true(vz_store_open("/proc/vz-no-such/dir", &st, &err) < 0);
    assert_null(st);
    assert_non_null(strstr(err.msg, "/proc/vz-no-such"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_store_migrates_to_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_table_matches_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_constraints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_mode_and_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_store_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_checksum_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test(test_unwritable_dir_gives_clear_error),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
