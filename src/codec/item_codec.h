/* Item codec: the catalogue's Item message (proto/streamrec.proto) in
 * protobuf and proto3 JSON, decoded and validated, and encoded. Only the
 * fields the daemon uses are kept; availability is the proto's
 * unavailable (JSON also takes "available": false) (the id, availability, the
 * update time); features and embedding are checked for their types and counted.
 * Stateless; any thread. */
#ifndef SR_ITEM_CODEC_H
#define SR_ITEM_CODEC_H

#include "codec/event_codec.h"
#include "codec/reason.h"
#include "streamrec/common.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sr_item {
  char item_id[SR_ID_MAX + 1]; /* NUL-terminated */
  uint16_t item_len;
  bool available; /* true unless the message says false */
  int64_t updated_at_ms;
  size_t n_features;  /* tokens the message carried */
  size_t n_embedding; /* floats the message carried */
} sr_item_t;

/* Decodes and validates one Item (fmt as for events; SR_WIRE_AUTO picks
 * JSON for a '{'). max_id_len 0 means SR_ID_MAX. Returns SR_REASON_OK, or
 * the reason (decode_error, empty_id, id_too_long, non_finite_value) with
 * errstr naming the field. */
sr_reason_t sr_item_decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                           size_t max_id_len, sr_item_t *item, char *errstr,
                           size_t errlen);

/* An item's content as decoded: features (each NUL-terminated, with its
 * length) and embedding, owned, freed by sr_item_content_free. */
typedef struct sr_item_content {
  char **features;
  size_t *feature_lens;
  size_t n_features;
  size_t cap_features; /* room in features and feature_lens */
  float *embedding;
  size_t n_embedding;
  char *text; /* when set, every feature lies in it (one allocation for
               * all of a decoded message's tokens), else each is its own */
} sr_item_content_t;

/* Appends a copy of the feature s (len bytes) to ct. Returns 0 or -1. */
int sr_item_content_add(sr_item_content_t *ct, const char *s, size_t len);

/* sr_item_decode that also keeps the content in *ct (zeroed first; free
 * it whatever the result). emb_dims > 0 rejects a non-empty embedding of
 * another length with bad_embedding. */
sr_reason_t sr_item_decode_content(const void *data, size_t len,
                                   sr_wire_fmt_t fmt, size_t max_id_len,
                                   size_t emb_dims, sr_item_t *item,
                                   sr_item_content_t *ct, char *errstr,
                                   size_t errlen);

/* Parses one line of the item TSV form:
 *   item_id<TAB>features<TAB>embedding
 * features separated by ',' or '|', the embedding's numbers by spaces;
 * the last two columns may be empty or absent. The item is available.
 * Same results as sr_item_decode_content. */
sr_reason_t sr_item_parse_tsv(const char *line, size_t len, size_t max_id_len,
                              size_t emb_dims, sr_item_t *item,
                              sr_item_content_t *ct, char *errstr,
                              size_t errlen);

/* Frees what ct holds and zeroes it. Accepts an empty one. */
void sr_item_content_free(sr_item_content_t *ct);

/* Appends the proto3 JSON of item with its content (one line, no
 * newline). Returns 0 or -1. */
int sr_item_encode_json_content(const sr_item_t *item,
                                const sr_item_content_t *ct, sr_buf_t *out);

/* Appends the protobuf encoding of item (id, availability, update time) to
 * out. Returns 0, or -1 when out of memory. */
int sr_item_encode_proto(const sr_item_t *item, sr_buf_t *out);

/* Appends its proto3 JSON (one line, no newline). Returns 0 or -1. */
int sr_item_encode_json(const sr_item_t *item, sr_buf_t *out);

#endif
