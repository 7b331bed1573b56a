/* libFuzzer target: the cluster messages. The first byte picks UserState
 * (even) or ItemDeltas (odd) and the dims (1..8); the rest is the message.
 * What decodes must re-encode and decode to the same values, and a batch
 * must also survive the half-float encoding. */
#include "codec/cluster_codec.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

static int same_user(const sr_user_state_t *a, const sr_user_state_t *b) {
  if (strcmp(a->user_id, b->user_id) != 0 || a->partition != b->partition ||
      a->last_offset != b->last_offset || a->events != b->events ||
      a->bias != b->bias || a->n_seen != b->n_seen ||
      a->last_active_ms != b->last_active_ms || a->n_listed != b->n_listed ||
      memcmp(a->factors, b->factors, a->dims * sizeof(float)) != 0 ||
      (a->n_listed &&
       memcmp(a->listed, b->listed, a->n_listed * sizeof(uint64_t)) != 0))
    return 0;
  for (size_t i = 0; i < a->n_seen; i++)
    if (strcmp(a->seen[i], b->seen[i]) != 0)
      return 0;
  return 1;
}

static void user_round_trip(const uint8_t *data, size_t size, uint32_t dims) {
  sr_user_state_t st, again;
  char err[256];
  if (sr_user_state_decode(data, size, dims, &st, err, sizeof err) != SR_OK)
    return;
  sr_buf_t buf = {0};
  if (sr_user_state_encode(&st, &buf) != 0 ||
      sr_user_state_decode(buf.data, buf.len, dims, &again, err, sizeof err) !=
          SR_OK ||
      !same_user(&st, &again))
    abort();
  sr_user_state_clear(&again);
  sr_user_state_clear(&st);
  sr_buf_free(&buf);
}

static int same_deltas(const sr_item_deltas_t *a, const sr_item_deltas_t *b) {
  if (strcmp(a->member_id, b->member_id) != 0 || a->n_items != b->n_items)
    return 0;
  for (size_t i = 0; i < a->n_items; i++) {
    const sr_item_delta_t *x = &a->items[i], *y = &b->items[i];
    if (strcmp(x->item_id, y->item_id) != 0 || x->bias != y->bias ||
        x->popularity != y->popularity ||
        memcmp(x->factors, y->factors, a->dims * sizeof(float)) != 0)
      return 0;
  }
  return 1;
}

static void deltas_round_trip(const uint8_t *data, size_t size, uint32_t dims) {
  sr_item_deltas_t d, again;
  char err[256];
  if (sr_item_deltas_decode(data, size, dims, &d, err, sizeof err) != SR_OK)
    return;
  sr_buf_t f32 = {0}, f16 = {0};
  if (sr_item_deltas_encode(&d, SR_DELTA_F32, &f32) != 0 ||
      sr_item_deltas_decode(f32.data, f32.len, dims, &again, err, sizeof err) !=
          SR_OK ||
      !same_deltas(&d, &again))
    abort();
  sr_item_deltas_clear(&again);
  /* Halves overflow to infinity, which a decoder refuses; any other batch
   * must decode. */
  if (sr_item_deltas_encode(&d, SR_DELTA_F16, &f16) != 0)
    abort();
  if (sr_item_deltas_decode(f16.data, f16.len, dims, &again, err, sizeof err) ==
      SR_OK)
    sr_item_deltas_clear(&again);
  else if (!strstr(err, "not finite"))
    abort();
  sr_item_deltas_clear(&d);
  sr_buf_free(&f32);
  sr_buf_free(&f16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint32_t dims = 1 + (data[0] >> 1) % 8;
  if (data[0] & 1)
    deltas_round_trip(data + 1, size - 1, dims);
  else
    user_round_trip(data + 1, size - 1, dims);
  return 0;
}
