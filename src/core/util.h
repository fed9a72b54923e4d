/* Small helpers: ids, time, files. */
#ifndef VZ_CORE_UTIL_H
#define VZ_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

#define VZ_UUID_LEN 36

/* A random (version 4) UUID in lower-case text, 36 chars + NUL.
 * 0 or VZ_EIO when no randomness is available. */
int vz_uuid4(char out[VZ_UUID_LEN + 1]) VZ_MUST_CHECK;
/* 1 if s is a UUID in canonical lower- or upper-case text. */
int vz_uuid_valid(const char *s);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL). */
void vz_now_iso(char out[32]);
/* Monotonic milliseconds, for deadlines and latencies. */
int64_t vz_mono_ms(void);

/* mkdir -p with mode for the directories it creates. 0 or VZ_EIO/VZ_EPERM. */
int vz_mkdir_p(const char *path, mode_t mode, struct vz_err *err) VZ_MUST_CHECK;

/* Write data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. A crash leaves the old file or the new,
 * never half of one. The file gets exactly `mode`. */
int vz_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct vz_err *err) VZ_MUST_CHECK;

/* fsync the directory that contains path. */
int vz_fsync_parent(const char *path, struct vz_err *err) VZ_MUST_CHECK;

/* rm -rf for a file or folder we made (never follows links); 0 when it is
 * gone (or never was), else -1 with errno set. */
int vz_rm_rf(const char *path);

/* Map an errno from a file operation to a VZ_E* code (ENOSPC → VZ_ENOSPACE...). */
int vz_errno_code(int e);

#endif
