/* MySQL/MariaDB text-protocol values to typed values.
 *
 * The text protocol (mysql_fetch_row) hands every value over as bytes: most
 * as their text form ("-12", "2024-02-29 13:45:30.123456"), BIT(n) as raw
 * big-endian bytes, spatial values as a 4-byte SRID followed by WKB. These
 * functions turn one such value into what the DuckDB vector of its column
 * needs, under the M2 mapping chosen for the column (extract/typemap.h).
 *
 * Pure: no server, no DuckDB, no global state; thread-safe. The input is
 * (s, len) and need not be NUL-terminated, so a fuzzer can drive it
 * directly. Layer: core/ only. */
#ifndef VZ_SOURCES_MYROW_H
#define VZ_SOURCES_MYROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* What one column's values are read as. */
enum vz_myrow_kind {
    VZ_MYROW_TEXT,     /* bytes as they are: copied into text */
    VZ_MYROW_BOOL,     /* integer text (TINYINT(1)): 0 false, anything else true -> b */
    VZ_MYROW_BIT_BOOL, /* BIT bytes: any bit set is true -> b */
    VZ_MYROW_BIT_INT,  /* BIT bytes, big-endian, at most 8, value <= umax -> u */
    VZ_MYROW_INT,      /* [-]digits within [min, max] -> i */
    VZ_MYROW_UINT,     /* digits, at most umax -> u */
    VZ_MYROW_FLOAT,    /* decimal or exponent text -> f (nearest float) */
    VZ_MYROW_DOUBLE,   /* the same -> d (nearest double); also DECIMAL read as DOUBLE */
    VZ_MYROW_DECIMAL,  /* [-]digits[.digits] -> hi:lo, the unscaled value at scale,
                          |value| < 10^width (1 <= width <= 38) */
    VZ_MYROW_DATE,     /* YYYY-MM-DD -> days since 1970-01-01 */
    VZ_MYROW_TIME,     /* [-]H..H:MM:SS[.f..] -> micros since midnight */
    VZ_MYROW_DATETIME, /* YYYY-MM-DD HH:MM:SS[.f..] -> micros since 1970-01-01 00:00:00
                          (DATETIME; also TIMESTAMP, read in a UTC session) */
    VZ_MYROW_WKT       /* SRID (4 bytes) + WKB -> Well-Known Text into text */
};

struct vz_myconv {
    enum vz_myrow_kind kind;
    int64_t min, max; /* VZ_MYROW_INT: the target type's range */
    uint64_t umax;    /* VZ_MYROW_UINT, VZ_MYROW_BIT_INT: the target type's maximum */
    int width, scale; /* VZ_MYROW_DECIMAL: DECIMAL(width, scale) */
};

/* One decoded value; which member is set depends on the kind (see above). */
struct vz_myval {
    bool b;
    int64_t i;
    uint64_t u;
    float f;
    double d;
    int64_t hi; /* VZ_MYROW_DECIMAL: 128-bit two's complement hi:lo */
    uint64_t lo;
    int32_t days;   /* VZ_MYROW_DATE */
    int64_t micros; /* VZ_MYROW_TIME, VZ_MYROW_DATETIME */
};

/* Results of vz_myrow_convert() besides 0 (value in *out or text) and the
 * negative VZ_E* codes. Each means "store NULL, or as noted, and warn". */
enum {
    VZ_MYROW_ZERO_DATE = 1,  /* a zero or impossible date ('0000-00-00', '2024-02-30',
                                '2024-00-10' - MySQL accepts them in some sql_modes) */
    VZ_MYROW_TIME_RANGE = 2, /* a TIME outside 00:00:00..24:00:00 (MySQL TIME is a
                                duration of up to +-838:59:59) */
    VZ_MYROW_NOT_WKB = 3     /* VZ_MYROW_WKT only: not a value we can read as SRID + WKB;
                                text holds its bytes as upper-case hex instead (not NULL) */
};

/* Decode the len bytes at s per c. text (VZ_MYROW_TEXT, VZ_MYROW_WKT, and
 * scratch for long numbers) is reset first and holds the result; the caller
 * owns and releases it. Returns 0, one of the positive codes above, or
 * VZ_EINVAL (the bytes are not a value of that kind, or do not fit the
 * target), VZ_ENOMEM / VZ_ETOOBIG (text could not grow). For VZ_MYROW_TEXT
 * the bytes are copied unchanged (UTF-8 repair is the vector writer's job). */
int vz_myrow_convert(const struct vz_myconv *c, const char *s, size_t len, struct vz_myval *out,
                     struct vz_buf *text) VZ_MUST_CHECK;

/* Days since 1970-01-01 of a proleptic Gregorian date (year may be 0). */
int32_t vz_myrow_days_from_civil(int y, unsigned m, unsigned d);

#endif
