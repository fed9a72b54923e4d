/* Re-encrypting stored credentials under a new key (`vectoraiz keys`).
 *
 * The Fernet columns of database_connections (host, database, username,
 * password_encrypted, error_message) are rewritten under ring->keys[0] in
 * one transaction: either every row is rotated or none is.
 *
 * Key file rotation (no VECTORAIZ_APIKEY_HMAC_SECRET) is three steps, so
 * that a crash after any of them leaves every credential readable:
 *   1. vz_rotate_keyfile_prepare(): hard-link secret.key to secret.key.old,
 *      then atomically replace secret.key with a new key. vz_keys_load()
 *      reads secret.key.old as a decrypt-only key while it exists.
 *   2. vz_store_rotate_credentials() with [new key, old keys...].
 *   3. vz_rotate_keyfile_finish(): remove secret.key.old.
 * If step 2 fails, vz_rotate_keyfile_abort() puts the old key back.
 * The new key reaches the disk before the commit on purpose: replacing the
 * file only after the commit would lose the key that the committed rows
 * need if the process died in between.
 *
 * Nothing here logs, and no message holds key material or plaintext.
 * Blocking (SQLite, file I/O). Layer: core/, crypto/, store/. */
#ifndef VZ_STORE_ROTATE_H
#define VZ_STORE_ROTATE_H

#include <stddef.h>

#include "core/err.h"
#include "crypto/fernet.h"
#include "store/store.h"

#define VZ_KEYS_OLD_FILE_NAME "secret.key.old"

/* Re-encrypt every Fernet column of every database_connections row with
 * ring->keys[0] inside BEGIN IMMEDIATE ... COMMIT. *rows (may be NULL) gets
 * the number of rows rewritten. A value that no key of ring decrypts gives
 * VZ_ECRYPTO naming the connection and the key settings to check; any
 * failure rolls back, so the store is unchanged. Takes the store lock. */
int vz_store_rotate_credentials(struct vz_store *st, const struct vz_keyring *ring, int *rows,
                                struct vz_err *err) VZ_MUST_CHECK;

/* The same; *values (may be NULL) also gets the number of tokens rewritten. */
int vz_store_rotate_credentials_n(struct vz_store *st, const struct vz_keyring *ring, int *rows,
                                  int *values, struct vz_err *err) VZ_MUST_CHECK;

/* What the keys of ring can read, without changing anything:
 *   rows        number of database_connections rows
 *   per_key[i]  rows whose every Fernet value ring->keys[i] decrypts alone
 *   unreadable  rows with a value no key decrypts
 * per_key must have room for ring->n entries. */
int vz_store_credential_status(struct vz_store *st, const struct vz_keyring *ring, size_t *rows,
                               size_t *per_key, size_t *unreadable,
                               struct vz_err *err) VZ_MUST_CHECK;

/* Number of database_connections rows (0 when the table does not exist
 * yet). */
int vz_store_credential_rows(struct vz_store *st, size_t *rows, struct vz_err *err) VZ_MUST_CHECK;

/* Step 1 above, in data_dir. *new_key gets the new key (wipe it after
 * use). VZ_ECONFLICT when secret.key.old already exists (an earlier
 * rotation was interrupted: finish it with a plain `vectoraiz keys rotate`
 * first); VZ_EIO, VZ_EPERM, VZ_ENOSPACE, VZ_ECRYPTO. On failure the files
 * are as before. */
int vz_rotate_keyfile_prepare(const char *data_dir, struct vz_fernet_key *new_key,
                              struct vz_err *err) VZ_MUST_CHECK;

/* Step 3: remove secret.key.old (no error when it is already gone). */
int vz_rotate_keyfile_finish(const char *data_dir, struct vz_err *err) VZ_MUST_CHECK;

/* Undo step 1 after a failed step 2: secret.key.old becomes secret.key
 * again (atomic rename). */
int vz_rotate_keyfile_abort(const char *data_dir, struct vz_err *err) VZ_MUST_CHECK;

#endif
