#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vz_buf_init(struct vz_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void vz_buf_release(struct vz_buf *b)
{
    free(b->p);
    vz_buf_init(b, b->max);
}

void vz_buf_reset(struct vz_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Make room for n more bytes plus the terminating NUL. */
static int buf_grow(struct vz_buf *b, size_t n)
{
    size_t need, cap;
    char *p;
    if (n > SIZE_MAX - b->len - 1)
        return VZ_ETOOBIG;
    need = b->len + n + 1;
    if (b->max && need - 1 > b->max)
        return VZ_ETOOBIG;
    if (need <= b->cap)
        return VZ_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->p, cap);
    if (!p)
        return VZ_ENOMEM;
    b->p = p;
    b->cap = cap;
    return VZ_OK;
}

int vz_buf_add(struct vz_buf *b, const void *mem, size_t n)
{
    int rc = buf_grow(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->p + b->len, mem, n);
    b->len += n;
    b->p[b->len] = '\0';
    return VZ_OK;
}

int vz_buf_adds(struct vz_buf *b, const char *s)
{
    return vz_buf_add(b, s, strlen(s));
}

int vz_buf_addc(struct vz_buf *b, char c)
{
    return vz_buf_add(b, &c, 1);
}

int vz_buf_vaddf(struct vz_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return VZ_EINVAL;
    rc = buf_grow(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return VZ_OK;
}

int vz_buf_addf(struct vz_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vz_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *vz_buf_cstr(const struct vz_buf *b)
{
    return b->p ? b->p : "";
}

char *vz_buf_take(struct vz_buf *b, size_t *len)
{
    char *p = b->p;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    vz_buf_init(b, b->max);
    return p;
}
