/* Logging to stderr with levels and secret redaction.
 *
 * The logger is process-wide (like syslog): the level, the output fd and the
 * registered secrets are shared by every thread and guarded by a mutex.
 * Every line is formatted first, then every registered secret in it is
 * replaced by "****", then written with one write() so lines from different
 * threads never interleave. */
#ifndef VZ_CORE_LOG_H
#define VZ_CORE_LOG_H

#include <stddef.h>

#include "core/err.h"

enum vz_log_level { VZ_LOG_DEBUG = 0, VZ_LOG_INFO, VZ_LOG_WARN, VZ_LOG_ERROR, VZ_LOG_OFF };

void vz_log_set_level(enum vz_log_level level);
enum vz_log_level vz_log_get_level(void);
/* "debug", "info", "warn", "error", "off" (case-insensitive) → 0; else VZ_EINVAL. */
int vz_log_level_parse(const char *s, enum vz_log_level *out);
/* Where lines go (default 2). For tests. */
void vz_log_set_fd(int fd);

/* Remember s (copied) so it is redacted from every later log line. Empty
 * strings are ignored. When the table is full the oldest entry is dropped.
 * 0 or VZ_ENOMEM. Thread-safe. */
int vz_log_add_secret(const char *s) VZ_MUST_CHECK;
/* Forget every registered secret (tests). */
void vz_log_clear_secrets(void);

/* Copy in to out (size n, always NUL-terminated when n > 0) with every
 * registered secret replaced by "****". Returns the untruncated length. */
size_t vz_log_redact(const char *in, char *out, size_t n);

void vz_log(enum vz_log_level level, const char *fmt, ...) VZ_PRINTF(2, 3);

#define vz_debug(...) vz_log(VZ_LOG_DEBUG, __VA_ARGS__)
#define vz_info(...) vz_log(VZ_LOG_INFO, __VA_ARGS__)
#define vz_warn(...) vz_log(VZ_LOG_WARN, __VA_ARGS__)
#define vz_error(...) vz_log(VZ_LOG_ERROR, __VA_ARGS__)

#endif
