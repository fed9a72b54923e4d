/* vectoraiz keys rotate|status: re-encrypt the stored credentials under a
 * new key, and show which key can read what. Never prints key material. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "app/app.h"
#include "cli/cli.h"
#include "crypto/keys.h"
#include "store/rotate.h"

static void keys_usage(FILE *out)
{
    fprintf(out,
            "usage: vectoraiz keys status\n"
            "       vectoraiz keys rotate [--new-key-file]\n\n"
            "status  the key source in use and how many stored connections each key reads.\n"
            "rotate  re-encrypt every stored credential with the primary key, in one\n"
            "        transaction (on any error nothing changes). Stop the server first.\n\n"
            "Rotating a secret set in " VZ_KEYS_ENV_SECRET ":\n"
            "  1. set " VZ_KEYS_ENV_SECRET " to the new secret and\n"
            "     " VZ_KEYS_ENV_OLD_SECRETS " to the old one (comma-separated if several);\n"
            "  2. run `vectoraiz keys rotate` (prints how many rows and values it re-encrypted);\n"
            "  3. unset " VZ_KEYS_ENV_OLD_SECRETS " and start the server.\n\n"
            "Rotating the key file <data>/" VZ_KEYS_FILE_NAME " (no " VZ_KEYS_ENV_SECRET "):\n"
            "  run `vectoraiz keys rotate --new-key-file`: it keeps the old key as\n"
            "  " VZ_KEYS_OLD_FILE_NAME ", writes a new " VZ_KEYS_FILE_NAME
            " (0600, fsync, rename), re-encrypts,\n"
            "  then removes " VZ_KEYS_OLD_FILE_NAME ". After a crash, run `vectoraiz keys rotate` "
            "to finish;\n"
            "  until then " VZ_KEYS_OLD_FILE_NAME " is read as a decrypt-only key. Back up the new "
            "key.\n");
}

/* A running server (or extract) holds <data>/jobs.lock; it keeps the old
 * key in memory and would write rows under it after the rotation. */
static int lock_data_dir(const struct vz_config *cfg, int *fd_out)
{
    char path[PATH_MAX + 16];
    int fd;
    *fd_out = -1;
    snprintf(path, sizeof(path), "%s/jobs.lock", cfg->data_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        vz_cli_fail("cannot open %s: %s", path, strerror(errno));
        return VZ_EXIT_CONFIG;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        vz_cli_fail("a vectoraiz server or extract is running on %s; stop it before rotating "
                    "keys",
                    cfg->data_dir);
        return VZ_EXIT_FAIL;
    }
    *fd_out = fd;
    return VZ_EXIT_OK;
}

static int has_old_key_file(const struct vz_config *cfg)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, VZ_KEYS_OLD_FILE_NAME);
    return access(path, F_OK) == 0;
}

static int using_env(const struct vz_config *cfg)
{
    return cfg->secret && *cfg->secret;
}

static int keys_status(struct vz_app *app)
{
    struct vz_err err = VZ_ERR_INIT;
    size_t rows = 0, unreadable = 0, per_key[VZ_KEYRING_MAX];
    int file_old = !using_env(app->cfg) && has_old_key_file(app->cfg);

    if (vz_store_credential_status(app->store, &app->keys, &rows, per_key, &unreadable, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (using_env(app->cfg))
        printf("key source: environment variable %s\n", VZ_KEYS_ENV_SECRET);
    else
        printf("key source: key file %s/%s\n", app->cfg->data_dir, VZ_KEYS_FILE_NAME);
    printf("stored connections: %zu\n", rows);
    for (size_t k = 0; k < app->keys.n; k++) {
        char what[96];
        if (k == 0)
            snprintf(what, sizeof(what), "primary (%s)",
                     using_env(app->cfg) ? VZ_KEYS_ENV_SECRET : VZ_KEYS_FILE_NAME);
        else if (k == 1 && file_old)
            snprintf(what, sizeof(what), "old (%s, decrypt only)", VZ_KEYS_OLD_FILE_NAME);
        else
            snprintf(what, sizeof(what), "old (%s entry %zu, decrypt only)",
                     VZ_KEYS_ENV_OLD_SECRETS, k - (size_t)file_old);
        printf("key %zu %-48s reads %zu of %zu\n", k + 1, what, per_key[k], rows);
    }
    if (unreadable) {
        printf("unreadable with every configured key: %zu\n", unreadable);
        return VZ_EXIT_FAIL;
    }
    if (app->keys.n > 1 && per_key[0] < rows)
        printf("run `vectoraiz keys rotate` to re-encrypt the rest with the primary key\n");
    return VZ_EXIT_OK;
}

/* Plain rotation: everything under keys[0]. In key-file mode a leftover
 * secret.key.old (interrupted --new-key-file) is removed after the commit. */
static int keys_rotate(struct vz_app *app)
{
    struct vz_err err = VZ_ERR_INIT;
    int rows = 0, values = 0;

    if (vz_store_rotate_credentials_n(app->store, &app->keys, &rows, &values, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (!using_env(app->cfg) && vz_rotate_keyfile_finish(app->cfg->data_dir, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    printf("re-encrypted %d value%s in %d stored connection%s with the primary key\n", values,
           values == 1 ? "" : "s", rows, rows == 1 ? "" : "s");
    if (using_env(app->cfg) && app->keys.n > 1)
        printf("you can now unset %s\n", VZ_KEYS_ENV_OLD_SECRETS);
    return VZ_EXIT_OK;
}

static int keys_rotate_new_file(struct vz_app *app)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_keyring ring;
    struct vz_fernet_key nk;
    size_t rows = 0, unreadable = 0, per_key[VZ_KEYRING_MAX];
    int nrows = 0, values = 0, rc = VZ_EXIT_FAIL;

    vz_keyring_init(&ring);
    vz_fernet_key_wipe(&nk);
    if (using_env(app->cfg)) {
        vz_cli_fail("--new-key-file rotates %s, but %s is set: put the new secret in %s and the "
                    "old one in %s, then run `vectoraiz keys rotate`",
                    VZ_KEYS_FILE_NAME, VZ_KEYS_ENV_SECRET, VZ_KEYS_ENV_SECRET,
                    VZ_KEYS_ENV_OLD_SECRETS);
        return VZ_EXIT_USAGE;
    }
    /* Check before touching any file: a row no key reads stops us here. */
    if (vz_store_credential_status(app->store, &app->keys, &rows, per_key, &unreadable, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (unreadable) {
        vz_cli_fail("%zu stored connection%s cannot be decrypted with %s/%s (or %s); nothing "
                    "was changed",
                    unreadable, unreadable == 1 ? "" : "s", app->cfg->data_dir, VZ_KEYS_FILE_NAME,
                    VZ_KEYS_ENV_OLD_SECRETS);
        return VZ_EXIT_FAIL;
    }
    if (vz_rotate_keyfile_prepare(app->cfg->data_dir, &nk, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        return VZ_EXIT_FAIL;
    }
    if (vz_keyring_add(&ring, &nk, &err) < 0)
        goto abort;
    for (size_t k = 0; k < app->keys.n; k++)
        if (vz_keyring_add(&ring, &app->keys.keys[k], &err) < 0)
            goto abort;
    if (vz_store_rotate_credentials_n(app->store, &ring, &nrows, &values, &err) < 0)
        goto abort;
    if (vz_rotate_keyfile_finish(app->cfg->data_dir, &err) < 0) {
        /* Committed: the new file holds the key; the leftover is harmless. */
        vz_cli_fail("%s", err.msg);
        goto out;
    }
    printf("new key written to %s/%s; re-encrypted %d value%s in %d stored connection%s. Back "
           "up the new key file\n",
           app->cfg->data_dir, VZ_KEYS_FILE_NAME, values, values == 1 ? "" : "s", nrows,
           nrows == 1 ? "" : "s");
    rc = VZ_EXIT_OK;
    goto out;
abort:
    vz_cli_fail("%s", err.msg);
    {
        struct vz_err e2 = VZ_ERR_INIT;
        if (vz_rotate_keyfile_abort(app->cfg->data_dir, &e2) < 0)
            vz_cli_fail("%s (%s is still read as an old key)", e2.msg, VZ_KEYS_OLD_FILE_NAME);
    }
out:
    vz_fernet_key_wipe(&nk);
    vz_keyring_release(&ring);
    return rc;
}

int vz_cmd_keys(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_err err = VZ_ERR_INIT;
    struct vz_app app;
    int rc, lock_fd = -1, new_file = 0, rotate;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        keys_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? VZ_EXIT_USAGE : VZ_EXIT_OK;
    }
    rotate = strcmp(argv[1], "rotate") == 0;
    if (!rotate && strcmp(argv[1], "status") != 0) {
        vz_cli_fail("keys: unknown subcommand '%s' (rotate or status)", argv[1]);
        return VZ_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (rotate && strcmp(argv[i], "--new-key-file") == 0) {
            new_file = 1;
            continue;
        }
        vz_cli_fail("keys %s: unknown option %s", argv[1], argv[i]);
        return VZ_EXIT_USAGE;
    }
    if (rotate) {
        rc = lock_data_dir(cfg, &lock_fd);
        if (rc != VZ_EXIT_OK)
            return rc;
    }
    if (vz_app_open(&app, cfg, 0, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        if (lock_fd >= 0)
            close(lock_fd);
        return VZ_EXIT_CONFIG;
    }
    if (!rotate)
        rc = keys_status(&app);
    else if (new_file)
        rc = keys_rotate_new_file(&app);
    else
        rc = keys_rotate(&app);
    vz_app_close(&app);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}
