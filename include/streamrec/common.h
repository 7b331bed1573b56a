/* Error codes, events and list sources: the types the embedding API
 * (streamrec/model.h, streamrec/eval.h) speaks. */
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

/* Where a list came from. */
typedef enum sr_source {
  SR_SOURCE_PERSONAL = 0,
  SR_SOURCE_POPULAR = 1
} sr_source_t;

#endif
