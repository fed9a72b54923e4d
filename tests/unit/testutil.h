/* Small helpers shared by the cmocka unit tests (header-only). */
#ifndef VZ_TESTUTIL_H
#define VZ_TESTUTIL_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp); caller removes it with
 * vzt_rmrf(). */
static inline void vzt_tmpdir(char *out, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, n, "%s/vz-unit-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

static inline void vzt_rmrf(const char *path)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* Read a whole file into a new NUL-terminated buffer (free()). */
static inline char *vzt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        p = malloc((size_t)n + 1);
        if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        }
        if (p) {
            p[n] = '\0';
            if (len)
                *len = (size_t)n;
        }
    }
    fclose(f);
    return p;
}

/* Does the n-byte block hay contain needle? */
static inline int vzt_contains(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k && i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

/* snprintf that fails the test instead of truncating a path. */
static inline void vzt_pathf(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void vzt_pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int len;
    va_start(ap, fmt);
    len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    assert_true(len >= 0 && (size_t)len < n);
}

/* The repository root: the first of the working directory and its parents
 * that holds tests/unit/testutil.h. */
static inline void vzt_repo_root(char *out, size_t n)
{
    char dir[PATH_MAX], probe[PATH_MAX + 64];
    assert_non_null(getcwd(dir, sizeof(dir)));
    for (;;) {
        char *slash;
        vzt_pathf(probe, sizeof(probe), "%s/tests/unit/testutil.h", dir);
        if (access(probe, R_OK) == 0) {
            vzt_pathf(out, n, "%s", dir);
            return;
        }
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            fail_msg("tests/unit/testutil.h not found: run the tests from the repository root");
        *slash = '\0';
    }
}

/* A setting of the test database servers (scripts/testdb.sh); a missing
 * one fails the test with the way to get them, never skips it. */
static inline const char *vzt_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set. These tests need the test database servers: run them via "
                 "`make test`, or first run: eval \"$(scripts/testdb.sh start)\"",
                 name);
    return v;
}

#endif
