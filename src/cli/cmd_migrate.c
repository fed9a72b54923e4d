#include <stdio.h>

#include "cli/cli.h"
#include "core/log.h"
#include "store/store.h"

/* Only the store is opened: migrating needs no credentials key. */
int vz_cmd_migrate(struct vz_config *cfg, int argc, char **argv)
{
    struct vz_store *st = NULL;
    struct vz_err err = VZ_ERR_INIT;
    int applied = 0, version = 0, rc = VZ_EXIT_OK;

    (void)argv;
    if (argc > 1) {
        vz_cli_fail("migrate takes no arguments");
        return VZ_EXIT_USAGE;
    }
    if (vz_store_open(cfg->data_dir, &st, &err) < 0 || vz_store_migrate(st, &applied, &err) < 0 ||
        vz_store_schema_version(st, &version, &err) < 0) {
        vz_cli_fail("%s", err.msg);
        rc = VZ_EXIT_CONFIG;
        goto out;
    }
    printf("metadata store %s/%s: schema version %d (%d migration%s applied now)\n", cfg->data_dir,
           VZ_STORE_FILE, version, applied, applied == 1 ? "" : "s");
out:
    vz_store_close(st);
    return rc;
}
