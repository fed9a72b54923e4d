/* vectoraiz: see README.md. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return vz_cli_main(argc, argv);
}
