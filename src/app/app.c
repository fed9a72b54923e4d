#include "app/app.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"
#include "crypto/keys.h"

int vz_app_open(struct vz_app *app, struct vz_config *cfg, unsigned flags, struct vz_err *err)
{
    struct vz_keys_info info;
    int rc;

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    vz_keyring_init(&app->keys);
    rc = vz_mkdir_p(cfg->data_dir, 0700, err);
    if (rc < 0)
        goto fail;
    rc = vz_keys_load(cfg->data_dir, cfg->secret, cfg->secret_old, &app->keys, &info, err);
    if (rc < 0)
        goto fail;
    if (info.source == VZ_KEYS_FILE_CREATED)
        vz_warn("generated credentials key %s (mode 0600); back it up: losing it loses every "
                "stored database password",
                info.path);
    if (flags & VZ_APP_WITH_AUTH) {
        rc = vz_auth_open(cfg->data_dir, &app->auth, app->new_token, err);
        if (rc < 0)
            goto fail;
    }
    rc = vz_store_open(cfg->data_dir, &app->store, err);
    if (rc < 0)
        goto fail;
    rc = vz_store_migrate(app->store, NULL, err);
    if (rc < 0)
        goto fail;
    return VZ_OK;
fail:
    vz_app_close(app);
    return rc;
}

void vz_app_close(struct vz_app *app)
{
    vz_store_close(app->store);
    app->store = NULL;
    vz_auth_free(app->auth);
    app->auth = NULL;
    OPENSSL_cleanse(app->new_token, sizeof(app->new_token));
    vz_keyring_release(&app->keys);
}
