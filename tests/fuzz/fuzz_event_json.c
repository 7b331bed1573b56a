/* libFuzzer target: JSON event decoding. Whenever the scanner reads a
 * message, its fields must equal the jansson path's; decoding must give the
 * same reason, message and event as jansson alone; and an accepted event
 * must survive a JSON and a protobuf round trip unchanged. */
#include "codec/event_codec.h"
#include "codec/json_event.h"
#include "codec/reason.h"
#include "util/buf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int same_event(const sr_event_t *a, const sr_event_t *b) {
  return strcmp(a->user_id, b->user_id) == 0 &&
         strcmp(a->item_id, b->item_id) == 0 && a->user_len == b->user_len &&
         a->item_len == b->item_len && a->type == b->type &&
         a->value == b->value && a->timestamp_ms == b->timestamp_ms;
}

static int same_id(const char *a, size_t alen, const char *b, size_t blen) {
  return (a == NULL) == (b == NULL) && alen == blen &&
         (!a || memcmp(a, b, alen) == 0);
}

/* Bit for bit, so that a double that differs only below float precision
 * still counts as a difference. */
static int same_fields(const sr_event_fields_t *a, const sr_event_fields_t *b) {
  return same_id(a->user_id, a->user_len, b->user_id, b->user_len) &&
         same_id(a->item_id, a->item_len, b->item_id, b->item_len) &&
         a->type == b->type && !a->type_name && !b->type_name &&
         memcmp(&a->value, &b->value, sizeof a->value) == 0 &&
         a->timestamp_ms == b->timestamp_ms;
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

/* The scanner against the jansson path, on fields and on the decoded
 * outcome under limits that exercise every validation rule. */
static void differential(const char *p, size_t len) {
  static const sr_event_limits_t lim = {
      .max_id_len = 16, .now_ms = 1700000000000LL, .max_future_ms = 86400000};
  sr_event_fields_t fast, slow;
  json_t *root;
  char err[256] = "", want_err[256] = "";
  int took = sr_json_event_scan(p, len, &fast);
  sr_reason_t want = sr_json_event_jansson_fields(p, len, &root, &slow,
                                                  want_err, sizeof want_err);
  if (took && (want != SR_REASON_OK || !same_fields(&fast, &slow)))
    abort();
  sr_event_t ev, want_ev;
  memset(&ev, 0, sizeof ev);
  memset(&want_ev, 0, sizeof want_ev);
  if (!want)
    want = sr_event_validate(&slow, &lim, &want_ev, want_err, sizeof want_err);
  json_decref(root);
  sr_reason_t got =
      sr_event_decode(p, len, SR_WIRE_JSON, &lim, &ev, err, sizeof err);
  if (got != want || strcmp(err, want_err) != 0 ||
      (got == SR_REASON_OK && !same_event(&ev, &want_ev)))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sr_event_t ev;
  char err[256];
  differential((const char *)data, size);
  if (sr_event_decode(data, size, SR_WIRE_JSON, NULL, &ev, err, sizeof err) !=
      SR_REASON_OK)
    return 0;
  round_trip(&ev, SR_WIRE_JSON);
  round_trip(&ev, SR_WIRE_PROTO);
  return 0;
}
