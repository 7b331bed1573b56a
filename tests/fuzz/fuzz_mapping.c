/* libFuzzer target: JSON decoding by a field mapping. The one-pass scanner
 * must give the same reason, message and event as jansson's tree alone,
 * for a mapping with nested paths, an array index, a renamed type and
 * fields left to streamrec's own members. */
#include "codec/mapping.h"

#include <stdlib.h>
#include <string.h>

static int same_event(const sr_event_t *a, const sr_event_t *b) {
  return strcmp(a->user_id, b->user_id) == 0 &&
         strcmp(a->item_id, b->item_id) == 0 && a->user_len == b->user_len &&
         a->item_len == b->item_len && a->type == b->type &&
         memcmp(&a->value, &b->value, sizeof a->value) == 0 &&
         a->timestamp_ms == b->timestamp_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sr_mapping_t *maps[2];
  static const sr_type_alias_t types[] = {{"page_view", SR_EV_VIEW},
                                          {"order", SR_EV_PURCHASE}};
  static const sr_event_limits_t lim = {
      .max_id_len = 16, .now_ms = 1700000000000LL, .max_future_ms = 86400000};
  if (!maps[0]) {
    sr_mapping_spec_t nested = {
        .prefix = "input.",
        .fields = {"context.user.id", "items[1].id", "event", "", "ts"},
        .types = types,
        .n_types = 2,
    };
    sr_mapping_spec_t flat = {.prefix = "input.",
                              .fields = {"u", "", "", "v", ""},
                              .timestamp_format = SR_TS_S};
    maps[0] = sr_mapping_new(&nested, NULL, 0);
    maps[1] = sr_mapping_new(&flat, NULL, 0);
    if (!maps[0] || !maps[1])
      abort();
  }
  for (int m = 0; m < 2; m++) {
    sr_event_t ev, want_ev;
    char err[256] = "", want_err[256] = "";
    memset(&ev, 0, sizeof ev);
    memset(&want_ev, 0, sizeof want_ev);
    sr_reason_t got = sr_mapping_decode(maps[m], data, size, NULL, &lim, &ev,
                                        err, sizeof err);
    sr_reason_t want = sr_mapping_decode_tree(
        maps[m], data, size, NULL, &lim, &want_ev, want_err, sizeof want_err);
    if (got != want || strcmp(err, want_err) != 0 ||
        (got == SR_REASON_OK && !same_event(&ev, &want_ev)))
      abort();
  }
  return 0;
}
