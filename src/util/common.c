/* Error names, event-type and reason names, buffers and clocks. */
#include "streamrec/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *sr_err_str(sr_err_t err) {
  switch (err) {
  case SR_OK: return "success";
  case SR_ERR_NOMEM: return "out of memory";
  case SR_ERR_INVALID: return "invalid argument";
  case SR_ERR_IO: return "I/O error";
  case SR_ERR_MAGIC: return "not a streamrec file";
  case SR_ERR_VERSION: return "unsupported format version";
  case SR_ERR_TRUNCATED: return "truncated";
  case SR_ERR_CRC: return "checksum mismatch";
  case SR_ERR_CORRUPT: return "corrupt";
  case SR_ERR_DIMS: return "incompatible dims or mode";
  case SR_ERR_NOT_FOUND: return "not found";
  case SR_ERR_DECODE: return "undecodable input";
  }
  return "unknown error";
}

static const char *const type_names[SR_EV__COUNT] = {"EVENT_TYPE_UNSPECIFIED",
                                                     "VIEW",
                                                     "CLICK",
                                                     "ADD_TO_CART",
                                                     "PURCHASE",
                                                     "LIKE",
                                                     "DISLIKE",
                                                     "RATING"};

const char *sr_event_type_name(sr_event_type_t type) {
  if ((int)type < 0 || type >= SR_EV__COUNT)
    return NULL;
  return type_names[type];
}

int sr_event_type_parse(const char *name, sr_event_type_t *type) {
  for (int i = 1; i < SR_EV__COUNT; i++) {
    if (strcasecmp(name, type_names[i]) == 0) {
      *type = (sr_event_type_t)i;
      return 0;
    }
  }
  return -1;
}

static const char *const reason_names[SR_REASON__COUNT] = {"ok",
                                                           "decode_error",
                                                           "empty_id",
                                                           "id_too_long",
                                                           "non_finite_value",
                                                           "unknown_event_type",
                                                           "future_timestamp",
                                                           "message_too_large",
                                                           "tombstone"};

const char *sr_reason_name(sr_reason_t reason) {
  if ((int)reason < 0 || reason >= SR_REASON__COUNT)
    return "unknown";
  return reason_names[reason];
}

int sr_buf_reserve(sr_buf_t *buf, size_t extra) {
  if (buf->len + extra <= buf->cap)
    return 0;
  size_t cap = buf->cap ? buf->cap : 256;
  while (cap < buf->len + extra)
    cap *= 2;
  char *data = realloc(buf->data, cap);
  if (!data)
    return -1;
  buf->data = data;
  buf->cap = cap;
  return 0;
}

int sr_buf_append(sr_buf_t *buf, const void *data, size_t len) {
  if (sr_buf_reserve(buf, len) != 0)
    return -1;
  if (len)
    memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  return 0;
}

int sr_buf_printf(sr_buf_t *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || sr_buf_reserve(buf, (size_t)n + 1) != 0)
    return -1;
  va_start(ap, fmt);
  vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf->len += (size_t)n;
  return 0;
}

void sr_buf_free(sr_buf_t *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

sr_err_t sr_errf(char *errstr, size_t len, sr_err_t err, const char *fmt, ...) {
  if (errstr && len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, len, fmt, ap);
    va_end(ap);
  }
  return err;
}

int64_t sr_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sr_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
