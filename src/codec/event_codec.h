/* Event codec: protobuf (read in place, by protobuf-c's rules; written with
 * protobuf-c) and JSON (jansson, proto3 JSON mapping) decoding with
 * validation, and encoding. Stateless; any thread. */
#ifndef SR_EVENT_CODEC_H
#define SR_EVENT_CODEC_H

#include "codec/reason.h"
#include "streamrec/common.h"
#include "util/buf.h"

typedef enum sr_wire_fmt {
  /* JSON when the first non-space byte is '{', else protobuf */
  SR_WIRE_AUTO = 0,
  SR_WIRE_PROTO = 1,
  SR_WIRE_JSON = 2,
  /* Avro by a writer schema (codec/avro_event.h); sr_event_decode cannot
   * read it without one and rejects it as decode_error. */
  SR_WIRE_AVRO = 3,
} sr_wire_fmt_t;

/* Limits enforced while decoding. Zero fields disable a check. */
typedef struct sr_event_limits {
  size_t max_message_bytes; /* reject larger messages: SR_REASON_TOO_LARGE */
  size_t max_id_len;        /* <= SR_ID_MAX; 0 means SR_ID_MAX */
  int64_t now_ms;           /* the caller's wall clock for the future check */
  int64_t max_future_ms;    /* reject timestamp_ms > now_ms + this */
} sr_event_limits_t;

/* Parses "auto", "proto"/"protobuf", "json" or "avro". Returns 0, or -1 if
 * unknown. */
int sr_wire_fmt_parse(const char *name, sr_wire_fmt_t *fmt);

/* The format SR_WIRE_AUTO picks for data: SR_WIRE_JSON when the first
 * non-whitespace byte is '{', else SR_WIRE_PROTO. */
sr_wire_fmt_t sr_wire_detect(const void *data, size_t len);

/* Decodes and validates one message into *ev. lim may be NULL (defaults:
 * SR_ID_MAX, no size or time check). The future check needs both
 * lim->now_ms and lim->max_future_ms: the codec reads no clock, so a caller
 * that wants the check passes its own time (now_ms 0: no check).
 * Returns SR_REASON_OK, or the reason of the rejection with a message naming
 * the field in errstr (e.g. "user_id is empty", "value is NaN"). */
sr_reason_t sr_event_decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                            const sr_event_limits_t *lim, sr_event_t *ev,
                            char *errstr, size_t errlen);

/* The fields of one event as a decoder found them, before validation. Ids
 * point into the decoder's storage and need not be NUL-terminated. */
typedef struct sr_event_fields {
  const char *user_id; /* NULL when absent */
  size_t user_len;
  const char *item_id; /* NULL when absent */
  size_t item_len;
  int64_t type;          /* proto number; 0 or out of range is rejected */
  const char *type_name; /* the spelling when type came as a name, or NULL */
  double value;
  int64_t timestamp_ms;
} sr_event_fields_t;

/* Applies the rules of sr_event_decode (ids, type, value, timestamp; not the
 * size limit) to fld and fills *ev. lim may be NULL. Returns SR_REASON_OK, or
 * the reason with errstr naming the field. For decoders of other formats. */
sr_reason_t sr_event_validate(const sr_event_fields_t *fld,
                              const sr_event_limits_t *lim, sr_event_t *ev,
                              char *errstr, size_t errlen);

/* Length (1..4) of the well-formed UTF-8 sequence at s, of the n bytes
 * there (n >= 1), or 0 when it is not one: truncated, overlong, a
 * surrogate or past U+10FFFF (jansson's rules). */
size_t sr_utf8_seq(const void *s, size_t n);

/* The member of a proto3 JSON object spelled snake, or camel (the
 * lowerCamelCase spelling proto3 JSON also accepts; NULL for none); NULL
 * when absent or null, which proto3 JSON treats alike. */
struct json_t;
struct json_t *sr_proto_json_member(struct json_t *obj, const char *snake,
                                    const char *camel);

/* 1 when s[0..len) is well-formed UTF-8, else 0. */
int sr_utf8_valid(const char *s, size_t len);

/* Appends s[0..len) to out as a quoted JSON string; invalid UTF-8 bytes
 * become U+FFFD so the output always parses. Returns 0 or -1 (nomem). */
int sr_json_quote(sr_buf_t *out, const char *s, size_t len);

/* Encodes ev as a protobuf Event, appended to out. Returns 0 or -1 (nomem). */
int sr_event_encode_proto(const sr_event_t *ev, sr_buf_t *out);

/* Encodes ev as one JSON object (snake_case, type by name, no newline),
 * appended to out. Returns 0 or -1. */
int sr_event_encode_json(const sr_event_t *ev, sr_buf_t *out);

#endif
