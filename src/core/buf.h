/* vz_buf: one growable byte buffer with a size ceiling.
 *
 * Invariants: p is NULL until the first successful add; after that p is
 * always NUL-terminated (len excludes the NUL) and may hold NUL bytes.
 * Growth past max fails with VZ_ETOOBIG and leaves the buffer unchanged;
 * max == 0 means no ceiling. vz_buf_release() frees the memory and leaves the
 * buffer as freshly initialised (same max). Not thread-safe. */
#ifndef VZ_CORE_BUF_H
#define VZ_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct vz_buf {
    char *p;
    size_t len, cap, max;
};

#define VZ_BUF_INIT(max_)                                                                          \
    {                                                                                              \
        NULL, 0, 0, (max_)                                                                         \
    }

void vz_buf_init(struct vz_buf *b, size_t max);
void vz_buf_release(struct vz_buf *b);
/* Drop the contents but keep the allocation. */
void vz_buf_reset(struct vz_buf *b);

/* 0, VZ_ENOMEM or VZ_ETOOBIG. */
int vz_buf_add(struct vz_buf *b, const void *mem, size_t n) VZ_MUST_CHECK;
int vz_buf_adds(struct vz_buf *b, const char *s) VZ_MUST_CHECK;
int vz_buf_addc(struct vz_buf *b, char c) VZ_MUST_CHECK;
int vz_buf_addf(struct vz_buf *b, const char *fmt, ...) VZ_PRINTF(2, 3) VZ_MUST_CHECK;
int vz_buf_vaddf(struct vz_buf *b, const char *fmt, va_list ap) VZ_MUST_CHECK;

/* Never NULL: "" while empty. Borrowed until the next add or release. */
const char *vz_buf_cstr(const struct vz_buf *b);

/* Hand the memory to the caller (free() it) and reset b. Returns a new
 * empty string (or NULL on allocation failure) when b is empty. */
char *vz_buf_take(struct vz_buf *b, size_t *len);

#endif
