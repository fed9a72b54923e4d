#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VZ_ERR_TEXT_(name, text) text,
static const char *const err_text[] = {VZ_ERR_MAP(VZ_ERR_TEXT_)};
#undef VZ_ERR_TEXT_
#define VZ_ERR_NAME_(name, text) #name,
static const char *const err_names[] = {VZ_ERR_MAP(VZ_ERR_NAME_)};
#undef VZ_ERR_NAME_

static int err_index(int code)
{
    int idx = -code - 1;
    if (code >= 0 || idx >= (int)VZ_ERR_COUNT_)
        return -1;
    return idx;
}

const char *vz_strerror(int code)
{
    int idx;
    if (code == VZ_OK)
        return "success";
    idx = err_index(code);
    return idx < 0 ? "unknown error" : err_text[idx];
}

const char *vz_err_name(int code)
{
    int idx;
    if (code == VZ_OK)
        return "OK";
    idx = err_index(code);
    return idx < 0 ? "UNKNOWN" : err_names[idx];
}

int vz_err_set(struct vz_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return code;
    err->code = code;
    if (!fmt || !*fmt) {
        snprintf(err->msg, sizeof(err->msg), "%s", vz_strerror(code));
        return code;
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void vz_err_clear(struct vz_err *err)
{
    if (!err)
        return;
    err->code = VZ_OK;
    err->msg[0] = '\0';
}
