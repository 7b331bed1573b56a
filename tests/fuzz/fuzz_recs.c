/* libFuzzer target: Recommendations decoding, either format. A decoded list
 * must re-encode in both formats and decode to the same numbers. */
#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "util/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int same_score(float a, float b) {
  return a == b || (isnan(a) && isnan(b));
}

static int same_recs(const sr_recs_t *a, const sr_recs_t *b, int strings) {
  if (a->n_items != b->n_items || a->generated_at_ms != b->generated_at_ms ||
      a->event_timestamp_ms != b->event_timestamp_ms ||
      a->model_version != b->model_version || a->source != b->source)
    return 0;
  if (strings && strcmp(a->user_id, b->user_id) != 0)
    return 0;
  for (size_t i = 0; i < a->n_items; i++) {
    if (!same_score(a->items[i].score, b->items[i].score) ||
        (strings && strcmp(a->items[i].item_id, b->items[i].item_id) != 0))
      return 0;
  }
  return 1;
}

static void round_trip(const sr_recs_t *recs, sr_wire_fmt_t fmt, int strings) {
  sr_buf_t buf = {0};
  sr_recs_t again;
  char err[256];
  int rc = fmt == SR_WIRE_JSON ? sr_recs_encode_json(recs, &buf)
                               : sr_recs_encode_proto(recs, &buf);
  if (rc != 0 ||
      sr_recs_decode(buf.data, buf.len, fmt, &again, err, sizeof err) !=
          SR_OK ||
      !same_recs(recs, &again, strings))
    abort();
  sr_recs_clear(&again);
  sr_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_recs_t recs;
  char err[256];
  if (sr_recs_decode(data, size, SR_WIRE_AUTO, &recs, err, sizeof err) != SR_OK)
    return 0;
  /* Ids from protobuf need not be UTF-8, and JSON replaces what is not. */
  int from_json = sr_wire_detect(data, size) == SR_WIRE_JSON;
  round_trip(&recs, SR_WIRE_PROTO, 1);
  round_trip(&recs, SR_WIRE_JSON, from_json);
  sr_recs_clear(&recs);
  return 0;
}
