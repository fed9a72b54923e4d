/* The compiled-in schema migrations, in version order (1, 2, ...). */
#ifndef VZ_STORE_MIGRATIONS_H
#define VZ_STORE_MIGRATIONS_H

#include <stddef.h>

struct vz_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Borrowed, static. *n gets the count. */
const struct vz_migration *vz_migrations(size_t *n);

#endif
