/* Names of rejection reasons. */
#include "codec/reason.h"

#include "util/err.h"

#include <stdarg.h>
#include <stddef.h>

static const char *const reason_names[SR_REASON__COUNT] = {"ok",
                                                           "decode_error",
                                                           "empty_id",
                                                           "id_too_long",
                                                           "non_finite_value",
                                                           "unknown_event_type",
                                                           "future_timestamp",
                                                           "message_too_large",
                                                           "tombstone",
                                                           "missing_field",
                                                           "bad_field",
                                                           "bad_timestamp",
                                                           "skipped_type",
                                                           "bad_embedding"};

const char *sr_reason_name(sr_reason_t reason) {
  if ((int)reason < 0 || reason >= SR_REASON__COUNT)
    return "unknown";
  return reason_names[reason];
}

sr_reason_t sr_reason_fail(sr_reason_t reason, char *errstr, size_t errlen,
                           const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sr_verrf(errstr, errlen, fmt, ap);
  va_end(ap);
  return reason;
}
