/* One-line error returns. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

void sr_verrf(char *errstr, size_t len, const char *fmt, va_list ap) {
  if (errstr && len)
    vsnprintf(errstr, len, fmt, ap);
}

sr_err_t sr_errf(char *errstr, size_t len, sr_err_t err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sr_verrf(errstr, len, fmt, ap);
  va_end(ap);
  return err;
}
