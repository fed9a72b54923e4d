/* Error codes and the caller-owned error message.
 *
 * Functions return 0 (VZ_OK) on success or a negative VZ_E* code, and fill
 * the caller's struct vz_err with a human-readable message. The return value
 * and err->code always agree. Messages never contain secrets: code that
 * handles credentials redacts before calling vz_err_set(). */
#ifndef VZ_CORE_ERR_H
#define VZ_CORE_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define VZ_MUST_CHECK __attribute__((warn_unused_result))
#define VZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VZ_MUST_CHECK
#define VZ_PRINTF(f, a)
#endif

/* X(name, default text). The enum, vz_strerror() and vz_err_name() are all
 * generated from this one list; http/ maps names to status codes. */
#define VZ_ERR_MAP(X)                                                                              \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(TOOBIG, "input too large")                                                                   \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(CONFLICT, "conflict")                                                                        \
    X(IO, "input/output error")                                                                    \
    X(NOSPACE, "no space left on device")                                                          \
    X(PERM, "permission denied")                                                                   \
    X(AUTH, "authentication failed")                                                               \
    X(CRYPTO, "cryptographic failure")                                                             \
    X(TOKEN, "invalid token")                                                                      \
    X(STORE, "metadata store error")                                                               \
    X(SCHEMA, "metadata store schema mismatch")                                                    \
    X(TIMEOUT, "deadline exceeded")                                                                \
    X(CONNECT, "could not connect")                                                                \
    X(SOURCE, "source database error")                                                             \
    X(NOT_READONLY, "statement is not a single read-only SELECT")                                  \
    X(LIMIT, "limit exceeded")                                                                     \
    X(CANCELLED, "cancelled")                                                                      \
    X(UNSUPPORTED, "not supported")                                                                \
    X(INTERNAL, "internal error")

/* Codes count down from -1 in VZ_ERR_MAP order: VZ_ENOMEM = -1, ... */
#define VZ_ERR_IDX_(name, text) VZ_E##name##_IDX_,
enum { VZ_ERR_MAP(VZ_ERR_IDX_) VZ_ERR_COUNT_ };
#undef VZ_ERR_IDX_
#define VZ_ERR_NEG_(name, text) VZ_E##name = -1 - (int)VZ_E##name##_IDX_,
enum { VZ_OK = 0, VZ_ERR_MAP(VZ_ERR_NEG_) };
#undef VZ_ERR_NEG_

#define VZ_ERR_MSG_MAX 256

struct vz_err {
    int code;
    char msg[VZ_ERR_MSG_MAX];
};

#define VZ_ERR_INIT                                                                                \
    {                                                                                              \
        0,                                                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Static text for a code, never NULL ("unknown error" for unknown codes). */
const char *vz_strerror(int code);

/* Stable machine name for a code, e.g. "NOT_FOUND" style: "NOTFOUND".
 * Static, never NULL ("OK" for 0). */
const char *vz_err_name(int code);

/* Set err (if not NULL) to code and a formatted message; returns code so
 * callers can write `return vz_err_set(err, VZ_EINVAL, "...")`.
 * A NULL or empty fmt uses vz_strerror(code). */
int vz_err_set(struct vz_err *err, int code, const char *fmt, ...) VZ_PRINTF(3, 4);

/* Reset err to success with an empty message. */
void vz_err_clear(struct vz_err *err);

#endif
