/* Field mapping: reads events out of JSON messages of another shape (a
 * data platform's own topics) by configured paths, the Kafka key,
 * timestamp or a header, renames event types and parses timestamps given
 * as seconds, milliseconds or ISO-8601. A compiled mapping is immutable:
 * any thread may decode with it; new and free on one thread. */
#ifndef SR_CODEC_MAPPING_H
#define SR_CODEC_MAPPING_H

#include "codec/event_codec.h"
#include "codec/reason.h"

#include <stdbool.h>

/* The event fields a mapping can place, in the order of input.fields.*. */
typedef enum sr_map_field {
  SR_MAP_USER_ID,
  SR_MAP_ITEM_ID,
  SR_MAP_TYPE,
  SR_MAP_VALUE,
  SR_MAP_TIMESTAMP,
  SR_MAP__COUNT
} sr_map_field_t;

/* input.timestamp_format, in the order of its choices. */
typedef enum sr_ts_fmt {
  SR_TS_AUTO = 0,
  SR_TS_MS = 1,
  SR_TS_S = 2,
  SR_TS_ISO8601 = 3,
} sr_ts_fmt_t;

/* input.unknown_types, in the order of its choices. */
typedef enum sr_unknown_types {
  SR_UNKNOWN_REJECT = 0,
  SR_UNKNOWN_SKIP = 1,
} sr_unknown_types_t;

/* One renamed event type: the platform's name and streamrec's type. */
typedef struct sr_type_alias {
  const char *name;
  sr_event_type_t type;
} sr_type_alias_t;

/* A mapping as configuration states it; borrowed by sr_mapping_new only.
 * A field that is NULL or "" is read where streamrec's own JSON has it.
 * Sources: a path ("context.user.id", "items[0].id"), "@key", "@timestamp",
 * "@header:NAME", or, for the type only, a constant "=CLICK". */
typedef struct sr_mapping_spec {
  const char *prefix; /* of the keys errors name: "input." */
  const char *fields[SR_MAP__COUNT];
  const sr_type_alias_t *types;
  size_t n_types;
  sr_unknown_types_t unknown_types;
  sr_ts_fmt_t timestamp_format;
} sr_mapping_spec_t;

/* What a decoder may read of the Kafka message besides its value. */
typedef struct sr_msg_meta {
  const void *key; /* NULL: no key */
  size_t key_len;
  int64_t timestamp_ms; /* negative: the message has none */
  /* The value of the message's last header name: 0 with *val and *len, or
   * -1 when absent. NULL: the message has no headers. */
  int (*header)(const void *msg, const char *name, const void **val,
                size_t *len);
  const void *msg; /* passed to header */
} sr_msg_meta_t;

typedef struct sr_mapping sr_mapping_t;

/* One step of a path: a member name, or (name NULL) an array index. */
typedef struct sr_map_seg {
  char *name;
  size_t index; /* the index; a name's length */
} sr_map_seg_t;

/* The kinds of value a decoder finds at the end of a path. */
typedef enum sr_map_kind {
  SR_MAPV_ABSENT = 0,
  SR_MAPV_NULL,
  SR_MAPV_STRING,
  SR_MAPV_INTEGER,
  SR_MAPV_REAL,
  SR_MAPV_BOOL,
  SR_MAPV_OBJECT, /* a JSON object, an Avro record or map */
  SR_MAPV_ARRAY,
} sr_map_kind_t;

/* A value as a decoder found it; str need not be NUL-terminated. */
typedef struct sr_map_val {
  sr_map_kind_t kind;
  const char *str;
  size_t len;
  int64_t integer;
  double real;
  /* integer is epoch milliseconds whatever input.timestamp_format says:
   * the Kafka timestamp (@timestamp), an Avro timestamp-millis. */
  bool exact_ms;
} sr_map_val_t;

/* True when spec maps anything (a field or a type name): otherwise the
 * daemon decodes as it always has. */
bool sr_mapping_spec_active(const sr_mapping_spec_t *spec);

/* Compiles spec. Returns NULL with errstr naming the key ("input.fields.
 * user_id: empty name in path 'a..b'") when a source cannot work, or when
 * out of memory. */
sr_mapping_t *sr_mapping_new(const sr_mapping_spec_t *spec, char *errstr,
                             size_t errlen);

/* True when a field comes from the Kafka timestamp (@timestamp): a caller
 * need not look the timestamp up otherwise. */
bool sr_mapping_uses_kafka_timestamp(const sr_mapping_t *map);

/* Frees it. Accepts NULL. */
void sr_mapping_free(sr_mapping_t *map);

/* Decodes the JSON message p[0..len) by map and validates it as
 * sr_event_decode does (lim may be NULL; meta may be NULL: no key,
 * timestamp or headers). Returns SR_REASON_OK with *ev; or the reason with
 * errstr naming the configured source: SR_REASON_MISSING_FIELD,
 * SR_REASON_BAD_FIELD (wrong JSON type, unparsable number),
 * SR_REASON_BAD_TIMESTAMP, SR_REASON_UNKNOWN_TYPE, SR_REASON_SKIPPED_TYPE
 * (an unknown type when unknown_types is skip), or those of
 * sr_event_decode. */
sr_reason_t sr_mapping_decode(const sr_mapping_t *map, const void *p,
                              size_t len, const sr_msg_meta_t *meta,
                              const sr_event_limits_t *lim, sr_event_t *ev,
                              char *errstr, size_t errlen);

/* sr_mapping_decode by jansson's tree alone, without the one-pass scanner
 * that reads the messages it is sure of: for tests and the fuzzer, which
 * hold the two side by side. */
sr_reason_t sr_mapping_decode_tree(const sr_mapping_t *map, const void *p,
                                   size_t len, const sr_msg_meta_t *meta,
                                   const sr_event_limits_t *lim, sr_event_t *ev,
                                   char *errstr, size_t errlen);

/* For decoders of other formats (codec/avro_event.h), which find the
 * values themselves: the body path of field f in *segs, and its length;
 * 0 when f comes from the key, the Kafka timestamp, a header or a
 * constant. An unmapped field's path is streamrec's own member (user_id,
 * item_id, type, value, timestamp_ms). */
size_t sr_mapping_path(const sr_mapping_t *map, sr_map_field_t f,
                       const sr_map_seg_t **segs);

/* The configured source of f ("context.user.id"), or NULL when f is
 * unmapped; for errors. */
const char *sr_mapping_source(const sr_mapping_t *map, sr_map_field_t f);

/* Reads the fields from vals (by field, found at the paths of
 * sr_mapping_path) and from meta, and validates them: the rules and
 * reasons of sr_mapping_decode after its parsing. */
sr_reason_t sr_mapping_apply(const sr_mapping_t *map,
                             const sr_map_val_t vals[SR_MAP__COUNT],
                             const sr_msg_meta_t *meta,
                             const sr_event_limits_t *lim, sr_event_t *ev,
                             char *errstr, size_t errlen);

/* Parses a timestamp given as text (a number or ISO-8601 with a zone) by
 * fmt into epoch milliseconds. Returns 0 with *ms, or -1. */
int sr_mapping_parse_time(const char *s, size_t len, sr_ts_fmt_t fmt,
                          int64_t *ms);

/* Converts a JSON number of a timestamp by fmt (SR_TS_ISO8601 takes no
 * number). In auto, a magnitude below 1e11 is seconds, else milliseconds.
 * Returns 0 with *ms, or -1. */
int sr_mapping_number_time(double d, sr_ts_fmt_t fmt, int64_t *ms);

#endif
