/* Loading the credentials key into a keyring.
 *
 * Where the primary key (keys[0], the one that encrypts) comes from:
 *   1. VECTORAIZ_APIKEY_HMAC_SECRET, when set and not empty. If the value is
 *      a Fernet key (base64url of exactly 32 bytes) it is used as is;
 *      otherwise the key is derived from it with HKDF-SHA256 (salt
 *      VZ_KEYS_HKDF_SALT, info VZ_KEYS_HKDF_INFO, 32 bytes of output, first
 *      16 signing, last 16 encryption). In Python terms:
 *        Fernet(urlsafe_b64encode(HKDF(SHA256(), 32, salt, info).derive(s)))
 *      HKDF does not stretch: a derived secret must itself be high-entropy
 *      (a long random string), not a memorable password.
 *   2. Otherwise the key file <data_dir>/secret.key, created with a fresh
 *      random key (mode 0600) when it does not exist yet.
 * Each comma-separated entry of VECTORAIZ_APIKEY_HMAC_SECRET_OLD then adds
 * a decrypt-only key after it, by the same rule as 1, so that credentials
 * written under a previous secret stay readable; re-encrypt them with
 * vz_keyring_rotate_token() and drop the old secret afterwards.
 *
 * Secrets and entries are trimmed of surrounding spaces, tabs, CR and LF
 * (so "k1, k2" and a value with a trailing newline behave as expected), the
 * same way in both variables, so a secret keeps its key when it moves from
 * one variable to the other. Entries cannot contain commas.
 *
 * Nothing here reads the environment or logs: the caller passes the values
 * in and reports vz_keys_info. No error message contains a secret or the
 * key file's content. Blocking (file I/O, fsync); thread-safe.
 * Layer: core/, crypto/fernet, OpenSSL libcrypto. */
#ifndef VZ_CRYPTO_KEYS_H
#define VZ_CRYPTO_KEYS_H

#include <limits.h>
#include <stddef.h>

#include "core/err.h"
#include "crypto/fernet.h"

/* HKDF parameters for secrets that are not Fernet keys. Changing either
 * makes every stored credential unreadable. */
#define VZ_KEYS_HKDF_SALT "vectoraiz-fernet-key-v1"
#define VZ_KEYS_HKDF_INFO "vectoraiz credentials"

#define VZ_KEYS_ENV_SECRET "VECTORAIZ_APIKEY_HMAC_SECRET"
#define VZ_KEYS_ENV_OLD_SECRETS "VECTORAIZ_APIKEY_HMAC_SECRET_OLD"
#define VZ_KEYS_FILE_NAME "secret.key"

enum vz_keys_source {
    VZ_KEYS_ENV_FERNET_KEY, /* the secret was a Fernet key */
    VZ_KEYS_ENV_DERIVED,    /* derived from the secret with HKDF */
    VZ_KEYS_FILE_EXISTING,  /* read from the key file */
    VZ_KEYS_FILE_CREATED    /* key file created by this call */
};

struct vz_keys_info {
    enum vz_keys_source source;
    char path[PATH_MAX]; /* the key file for the FILE_* sources, else "" */
    size_t n_old;        /* decrypt-only keys added from the old secrets */
};

/* "env-fernet-key", "env-derived", "key-file-existing", "key-file-created";
 * static, never NULL. */
const char *vz_keys_source_name(enum vz_keys_source s);

/* Turn one secret (len bytes, trimmed as above) into a key: used directly
 * when it is a Fernet key (*derived = 0), else through HKDF (*derived = 1).
 * 0, VZ_EINVAL (blank, or longer than VZ_MAX_SECRET_LEN) or VZ_ECRYPTO.
 * derived may be NULL. On failure *out is wiped. */
int vz_keys_from_secret(const char *secret, size_t len, struct vz_fernet_key *out, int *derived,
                        struct vz_err *err) VZ_MUST_CHECK;

/* Fill ring (initialised here; the caller need not) and info as described
 * at the top.
 *   data_dir     used only when secret is NULL or ""; created (mode 0700,
 *                parents too) if missing.
 *   secret       value of VECTORAIZ_APIKEY_HMAC_SECRET, or NULL.
 *   old_secrets  value of VECTORAIZ_APIKEY_HMAC_SECRET_OLD, or NULL; empty
 *                entries are skipped.
 * The key file is refused with VZ_EPERM when it is not a regular file or
 * its mode has any group/other bit (the message says to chmod 600 it); a
 * file that does not hold a valid key (after trimming trailing whitespace)
 * gives VZ_ECRYPTO. A new file is written under a temporary name, fsynced,
 * linked into place without replacing a file another process may have
 * created meanwhile (that one wins and is read), and the directory fsynced.
 * Errors: VZ_EINVAL (blank secret or entry, missing data_dir, path too
 * long), VZ_EPERM, VZ_ECRYPTO, VZ_EIO, VZ_ENOSPACE, VZ_ELIMIT (more than
 * VZ_KEYRING_MAX keys in all). On failure ring is empty (wiped). Release
 * the ring with vz_keyring_release(). */
int vz_keys_load(const char *data_dir, const char *secret, const char *old_secrets,
                 struct vz_keyring *ring, struct vz_keys_info *info,
                 struct vz_err *err) VZ_MUST_CHECK;

#endif
