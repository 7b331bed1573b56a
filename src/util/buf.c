/* A growable byte buffer. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sr_buf_reserve(sr_buf_t *buf, size_t extra) {
  /* A size that wraps around would pass for one that fits. */
  if (extra > SIZE_MAX - buf->len)
    return -1;
  size_t need = buf->len + extra;
  if (need <= buf->cap)
    return 0;
  size_t cap = buf->cap ? buf->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
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
