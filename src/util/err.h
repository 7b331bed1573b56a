/* One-line error returns with a message. */
#ifndef SR_UTIL_ERR_H
#define SR_UTIL_ERR_H

#include "streamrec/common.h"

#include <stdarg.h>
#include <stddef.h>

/* Formats into errstr (may be NULL) and returns err, for one-line error
 * returns: `return sr_errf(errstr, len, SR_ERR_IO, "open %s: %s", ...)`. */
sr_err_t sr_errf(char *errstr, size_t len, sr_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* sr_errf's formatting alone, for other one-line returns (a rejection
 * reason): formats into errstr when it is not NULL. */
void sr_verrf(char *errstr, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
