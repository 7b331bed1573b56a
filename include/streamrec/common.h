/* Shared error codes, event values and limits of libstreamrec. */
#ifndef STREAMREC_COMMON_H
#define STREAMREC_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Longest user or item id accepted, in bytes. */
#define SR_ID_MAX 256

/* Error codes: SR_OK, or a negative value naming the failure. */
typedef enum sr_err {
  SR_OK = 0,
  SR_ERR_NOMEM = -1,     /* allocation failed */
  SR_ERR_INVALID = -2,   /* bad argument, option or value */
  SR_ERR_IO = -3,        /* a system call on a file failed */
  SR_ERR_MAGIC = -4,     /* not a streamrec file */
  SR_ERR_VERSION = -5,   /* unsupported format version */
  SR_ERR_TRUNCATED = -6, /* file ends early */
  SR_ERR_CRC = -7,       /* a section's checksum does not match */
  SR_ERR_CORRUPT = -8,   /* structure inconsistent */
  SR_ERR_DIMS = -9,      /* dims or mode contradict the configuration */
  SR_ERR_NOT_FOUND = -10,
  SR_ERR_DECODE = -11, /* undecodable input */
} sr_err_t;

/* Static, human-readable name of err. */
const char *sr_err_str(sr_err_t err);

/* Event types, numbered as in proto/streamrec.proto. */
typedef enum sr_event_type {
  SR_EV_UNSPECIFIED = 0,
  SR_EV_VIEW = 1,
  SR_EV_CLICK = 2,
  SR_EV_ADD_TO_CART = 3,
  SR_EV_PURCHASE = 4,
  SR_EV_LIKE = 5,
  SR_EV_DISLIKE = 6,
  SR_EV_RATING = 7,
  SR_EV__COUNT = 8
} sr_event_type_t;

/* One decoded, validated event. Ids are NUL-terminated copies. */
typedef struct sr_event {
  char user_id[SR_ID_MAX + 1];
  char item_id[SR_ID_MAX + 1];
  uint16_t user_len;
  uint16_t item_len;
  sr_event_type_t type;
  float value;
  int64_t timestamp_ms;
} sr_event_t;

/* Upper-case proto name of type ("VIEW"), or NULL when out of range. */
const char *sr_event_type_name(sr_event_type_t type);

/* Parses a type name (case-insensitive, "ADD_TO_CART") into *type.
 * Returns 0 on success, -1 when the name is unknown. */
int sr_event_type_parse(const char *name, sr_event_type_t *type);

/* Why an input message was rejected; names appear in dead-letter headers
 * and metrics labels. */
typedef enum sr_reason {
  SR_REASON_OK = 0,
  SR_REASON_DECODE,       /* "decode_error": bytes are not an Event */
  SR_REASON_EMPTY_ID,     /* "empty_id": user_id or item_id missing/empty */
  SR_REASON_ID_TOO_LONG,  /* "id_too_long": an id over the length limit */
  SR_REASON_NON_FINITE,   /* "non_finite_value": value is NaN or infinite */
  SR_REASON_UNKNOWN_TYPE, /* "unknown_event_type" */
  SR_REASON_FUTURE_TS,    /* "future_timestamp": beyond the allowed skew */
  SR_REASON_TOO_LARGE,    /* "message_too_large" */
  SR_REASON_TOMBSTONE,    /* "tombstone": a Kafka message with a null value */
  SR_REASON__COUNT
} sr_reason_t;

/* Snake-case name of reason ("decode_error"). */
const char *sr_reason_name(sr_reason_t reason);

/* Where a list came from. */
typedef enum sr_source {
  SR_SOURCE_PERSONAL = 0,
  SR_SOURCE_POPULAR = 1
} sr_source_t;

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

/* Formats into errstr (may be NULL) and returns err, for one-line error
 * returns: `return sr_errf(errstr, len, SR_ERR_IO, "open %s: %s", ...)`. */
sr_err_t sr_errf(char *errstr, size_t len, sr_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Wall clock in milliseconds since the Unix epoch. */
int64_t sr_now_ms(void);
/* Monotonic clock in nanoseconds. */
uint64_t sr_mono_ns(void);

#endif
