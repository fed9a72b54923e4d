/* The metadata store: one SQLite database in the data directory.
 *
 * Opened in WAL mode with foreign keys on and a busy timeout. The schema
 * is created and upgraded by numbered migrations compiled into the binary
 * (migrations.c), recorded in schema_migrations. Thread-safe: one
 * connection in SQLite's serialized mode; multi-statement work takes the
 * store lock with vz_store_lock()/vz_store_unlock(). */
#ifndef VZ_STORE_STORE_H
#define VZ_STORE_STORE_H

#include <sqlite3.h>

#include "core/err.h"

struct vz_store;

#define VZ_STORE_FILE "vectoraiz.db"

/* Open (creating if needed) <data_dir>/vectoraiz.db. Does not migrate.
 * On success *out is new; free with vz_store_close(). */
int vz_store_open(const char *data_dir, struct vz_store **out, struct vz_err *err) VZ_MUST_CHECK;
/* Open a database file by exact path (tests). */
int vz_store_open_path(const char *path, struct vz_store **out, struct vz_err *err) VZ_MUST_CHECK;
void vz_store_close(struct vz_store *st);

/* Apply every pending migration, each in its own transaction. Refuses
 * (VZ_ESCHEMA) a store written by a newer build or one whose recorded
 * checksum differs from the compiled migration. *applied (may be NULL) gets
 * the number applied now. */
int vz_store_migrate(struct vz_store *st, int *applied, struct vz_err *err) VZ_MUST_CHECK;

struct vz_migration;
/* The same with an explicit list (m[i].version == i + 1): tests use it to
 * run a failing migration. */
int vz_store_migrate_with(struct vz_store *st, const struct vz_migration *m, size_t n, int *applied,
                          struct vz_err *err) VZ_MUST_CHECK;

/* Highest applied migration version (0 for a new store). */
int vz_store_schema_version(struct vz_store *st, int *version, struct vz_err *err) VZ_MUST_CHECK;

/* The connection, borrowed for the store's lifetime; only store/ modules
 * use it. */
sqlite3 *vz_store_db(struct vz_store *st);

void vz_store_lock(struct vz_store *st);
void vz_store_unlock(struct vz_store *st);

/* Run one or more SQL statements without results (store/ modules). */
int vz_store_exec(struct vz_store *st, const char *sql, struct vz_err *err) VZ_MUST_CHECK;

/* Translate the last SQLite error into VZ_ESTORE (or VZ_ENOSPACE etc.). */
int vz_store_fail(struct vz_store *st, const char *what, struct vz_err *err);

#endif
