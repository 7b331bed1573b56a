/* Recommendations codec: protobuf and JSON (proto3 JSON mapping).
 * Stateless; any thread. */
#ifndef SR_RECS_CODEC_H
#define SR_RECS_CODEC_H

#include "streamrec/common.h"
#include "util/buf.h"

typedef struct sr_rec_item {
  const char *item_id;
  float score;
} sr_rec_item_t;

/* One list. Pointers are borrowed from the caller (or, after
 * sr_recs_decode, owned by the sr_recs_t and released by sr_recs_clear). */
typedef struct sr_recs {
  const char *user_id;
  sr_rec_item_t *items;
  size_t n_items;
  int64_t generated_at_ms;
  int64_t event_timestamp_ms;
  uint64_t model_version;
  sr_source_t source;
  void *owned_; /* decoder's allocation; NULL for caller-built lists */
} sr_recs_t;

/* Appends the protobuf encoding of recs to out. Returns 0 or -1 (nomem). */
int sr_recs_encode_proto(const sr_recs_t *recs, sr_buf_t *out);

/* Appends one JSON object (no newline): {"user_id":..,"items":[{"item_id":..,
 * "score":..}],"generated_at_ms":"..","event_timestamp_ms":"..",
 * "model_version":"..","source":"PERSONAL"}. int64/uint64 as strings per the
 * proto3 mapping. Returns 0 or -1. */
int sr_recs_encode_json(const sr_recs_t *recs, sr_buf_t *out);

/* Decodes a Recommendations message, protobuf or JSON (fmt as for events,
 * SR_WIRE_AUTO detects). On success *recs owns its strings; release with
 * sr_recs_clear. Returns SR_OK or SR_ERR_DECODE with errstr filled. */
sr_err_t sr_recs_decode(const void *data, size_t len, int fmt, sr_recs_t *recs,
                        char *errstr, size_t errlen);

/* Releases what sr_recs_decode allocated and zeroes *recs. */
void sr_recs_clear(sr_recs_t *recs);

#endif
