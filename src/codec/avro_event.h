/* Avro events: reads the records of one writer schema (an .avsc file, as
 * registered with the Schema Registry; parsed by Apache Avro's C library,
 * the records' bytes read against it in one bounded pass that allocates
 * nothing) and places their fields by a field mapping (codec/mapping.h): dotted
 * paths through nested records and maps, [N] into arrays, unions read through
 * their current branch (null is a missing field), enums by symbol,
 * timestamp-millis and timestamp-micros longs as instants. Writes events
 * by the same schema and mapping through the library's encoder, for
 * `streamrec produce` and the tests. A reader is immutable once made
 * (any thread may decode with it); a writer fills one record at a time
 * (one thread at a time). */
#ifndef SR_CODEC_AVRO_EVENT_H
#define SR_CODEC_AVRO_EVENT_H

#include "codec/mapping.h"
#include "util/buf.h"

typedef struct sr_avro_reader sr_avro_reader_t;
typedef struct sr_avro_writer sr_avro_writer_t;

/* The schema streamrec reads and writes when none is given: its own Event
 * as an Avro record (user_id, item_id, type by name, value, timestamp_ms). */
extern const char sr_avro_default_schema[];

/* Reads the writer schema from path and compiles spec against it. prefix
 * names the schema's key in errors (prefix "avro.schema_file"). Returns
 * NULL with errstr naming the key when the file cannot be read or is not
 * an Avro schema of a record, when a mapped field is not in the schema or
 * has a type it cannot be read as (input.fields.F), or when the mapping
 * itself cannot work. */
sr_avro_reader_t *sr_avro_reader_new(const char *path, const char *prefix,
                                     const sr_mapping_spec_t *spec,
                                     char *errstr, size_t errlen);

/* sr_avro_reader_new from the schema's JSON text (prefix as there). */
sr_avro_reader_t *sr_avro_reader_new_json(const char *json, size_t len,
                                          const char *prefix,
                                          const sr_mapping_spec_t *spec,
                                          char *errstr, size_t errlen);

/* Frees it. Accepts NULL. */
void sr_avro_reader_free(sr_avro_reader_t *rd);

/* Decodes one bare Avro record p[0..len) (framing already removed) and
 * validates it as sr_mapping_decode does (meta, lim may be NULL). Returns
 * SR_REASON_OK with *ev, SR_REASON_DECODE when the bytes are not a record
 * of the schema (truncated, a length past the end, trailing bytes), or the
 * mapping's reasons naming the configured path. */
sr_reason_t sr_avro_decode(sr_avro_reader_t *rd, const void *p, size_t len,
                           const sr_msg_meta_t *meta,
                           const sr_event_limits_t *lim, sr_event_t *ev,
                           char *errstr, size_t errlen);

/* A writer of events by schema json and spec: each mapped field is written
 * at its path (records, maps and arrays along it created, unions set to
 * their first branch that is not null); the type under the first of
 * spec's names for it, the timestamp as the schema's field holds one
 * (millis, micros, seconds by input.timestamp_format s, or ISO-8601 text);
 * every other field of the record takes null, zero or empty. Returns NULL
 * with errstr as sr_avro_reader_new_json. */
sr_avro_writer_t *sr_avro_writer_new(const char *json, size_t len,
                                     const sr_mapping_spec_t *spec,
                                     char *errstr, size_t errlen);

/* Frees it. Accepts NULL. */
void sr_avro_writer_free(sr_avro_writer_t *wr);

/* Appends ev as one bare record to out. Returns 0, or -1 with errstr (an
 * id that a numeric field cannot hold, a type the enum has no symbol for,
 * out of memory). */
int sr_avro_encode(sr_avro_writer_t *wr, const sr_event_t *ev, sr_buf_t *out,
                   char *errstr, size_t errlen);

#endif
