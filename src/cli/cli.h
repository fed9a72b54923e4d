/* The command line: `vectoraiz [global options] COMMAND [args]`.
 * Only cli/ prints to stdout; errors are one line on stderr and a
 * non-zero exit. */
#ifndef VZ_CLI_CLI_H
#define VZ_CLI_CLI_H

#include "core/config.h"

/* Exit codes shared by every command. */
enum {
    VZ_EXIT_OK = 0,
    VZ_EXIT_FAIL = 1,  /* the operation failed */
    VZ_EXIT_USAGE = 2, /* bad command line */
    VZ_EXIT_CONFIG = 3 /* bad configuration or data directory */
};

/* Run the program; returns the process exit code. envp-style settings come
 * through getenv. */
int vz_cli_main(int argc, char **argv);

/* Commands: argv[0] is the command name. */
int vz_cmd_serve(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_migrate(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_conn(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_schema(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_token(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_extract(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_datasets(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_search(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_ask(struct vz_config *cfg, int argc, char **argv);
int vz_cmd_keys(struct vz_config *cfg, int argc, char **argv);

/* Print "vectoraiz: <msg>" to stderr. */
void vz_cli_fail(const char *fmt, ...) VZ_PRINTF(1, 2);

#endif
