/* One-line error returns. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

sr_err_t sr_errf(char *errstr, size_t len, sr_err_t err, const char *fmt, ...) {
  if (errstr && len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, len, fmt, ap);
    va_end(ap);
  }
  return err;
}
