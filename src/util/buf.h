/* A growable byte buffer. */
#ifndef SR_UTIL_BUF_H
#define SR_UTIL_BUF_H

#include <stddef.h>

/* Growable byte buffer. Zero-initialise, append, free with sr_buf_free. */
typedef struct sr_buf {
  char *data;
  size_t len;
  size_t cap;
} sr_buf_t;

/* Makes room for extra more bytes. Returns 0, or -1 when out of memory. */
int sr_buf_reserve(sr_buf_t *buf, size_t extra);
/* Appends len bytes. Returns 0, or -1 when out of memory. */
int sr_buf_append(sr_buf_t *buf, const void *data, size_t len);
/* Appends printf-formatted text (no NUL counted). Returns 0 or -1. */
int sr_buf_printf(sr_buf_t *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Releases the storage and zeroes the buffer. */
void sr_buf_free(sr_buf_t *buf);

#endif
