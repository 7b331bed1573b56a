/* libFuzzer target: JSON event decoding. An accepted event must survive a
 * JSON and a protobuf round trip unchanged. */
#include "codec/event_codec.h"

#include <stdlib.h>
#include <string.h>

static int same_event(const sr_event_t *a, const sr_event_t *b) {
  return strcmp(a->user_id, b->user_id) == 0 &&
         strcmp(a->item_id, b->item_id) == 0 && a->user_len == b->user_len &&
         a->item_len == b->item_len && a->type == b->type &&
         a->value == b->value && a->timestamp_ms == b->timestamp_ms;
}

static void round_trip(const sr_event_t *ev, sr_wire_fmt_t fmt) {
  sr_buf_t buf = {0};
  sr_event_t again;
  char err[256];
  int rc = fmt == SR_WIRE_JSON ? sr_event_encode_json(ev, &buf)
                               : sr_event_encode_proto(ev, &buf);
  if (rc != 0 ||
      sr_event_decode(buf.data, buf.len, fmt, NULL, &again, err, sizeof err) !=
          SR_REASON_OK ||
      !same_event(ev, &again))
    abort();
  sr_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_event_t ev;
  char err[256];
  if (sr_event_decode(data, size, SR_WIRE_JSON, NULL, &ev, err, sizeof err) !=
      SR_REASON_OK)
    return 0;
  round_trip(&ev, SR_WIRE_JSON);
  round_trip(&ev, SR_WIRE_PROTO);
  return 0;
}
