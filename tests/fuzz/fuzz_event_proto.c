/* libFuzzer target: protobuf event decoding, with size and time limits. An
 * accepted event must survive a protobuf round trip, and its JSON encoding
 * must parse even when the ids are not UTF-8. */
#include "codec/event_codec.h"
#include "codec/reason.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

static int same_event(const sr_event_t *a, const sr_event_t *b) {
  return strcmp(a->user_id, b->user_id) == 0 &&
         strcmp(a->item_id, b->item_id) == 0 && a->user_len == b->user_len &&
         a->item_len == b->item_len && a->type == b->type &&
         a->value == b->value && a->timestamp_ms == b->timestamp_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_event_limits_t lim = {.max_message_bytes = 4096,
                           .now_ms = 1700000000000LL,
                           .max_future_ms = 86400000};
  sr_event_t ev, again;
  char err[256];
  if (sr_event_decode(data, size, SR_WIRE_PROTO, &lim, &ev, err, sizeof err) !=
      SR_REASON_OK)
    return 0;
  sr_buf_t buf = {0};
  if (sr_event_encode_proto(&ev, &buf) != 0 ||
      sr_event_decode(buf.data, buf.len, SR_WIRE_PROTO, &lim, &again, err,
                      sizeof err) != SR_REASON_OK ||
      !same_event(&ev, &again))
    abort();
  buf.len = 0;
  /* U+FFFD replacement may lengthen an id past the limit, but the text
   * must always be well-formed JSON. */
  if (sr_event_encode_json(&ev, &buf) != 0 ||
      sr_event_decode(buf.data, buf.len, SR_WIRE_JSON, NULL, &again, err,
                      sizeof err) == SR_REASON_DECODE)
    abort();
  sr_buf_free(&buf);
  return 0;
}
