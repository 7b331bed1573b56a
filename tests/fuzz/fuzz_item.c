/* libFuzzer target: Item decoding (the catalogue's items topic and
 * produce's item files). The first byte picks the form: protobuf, proto3
 * JSON or the TSV line. Decoding must never crash or leak, an accepted
 * item's counts must match its content, a configured embedding length
 * must hold, and an accepted item must survive the JSON round trip with
 * its id, availability, features and embedding unchanged. */
#include "codec/item_codec.h"

#include <stdlib.h>
#include <string.h>

static int same_content(const sr_item_content_t *a,
                        const sr_item_content_t *b) {
  if (a->n_features != b->n_features || a->n_embedding != b->n_embedding)
    return 0;
  for (size_t k = 0; k < a->n_features; k++)
    if (a->feature_lens[k] != b->feature_lens[k] ||
        memcmp(a->features[k], b->features[k], a->feature_lens[k]) != 0)
      return 0;
  /* By value: JSON has no negative zero to give back. */
  for (size_t k = 0; k < a->n_embedding; k++)
    if (a->embedding[k] != b->embedding[k])
      return 0;
  return 1;
}

static void round_trip(const sr_item_t *item, const sr_item_content_t *ct) {
  sr_buf_t buf = {0};
  sr_item_t again;
  sr_item_content_t back;
  char err[256];
  if (sr_item_encode_json_content(item, ct, &buf) != 0)
    abort();
  sr_reason_t reason = sr_item_decode_content(
      buf.data, buf.len, SR_WIRE_JSON, 0, 0, &again, &back, err, sizeof err);
  /* Features holding a NUL byte, and ids that are not UTF-8, are what
   * JSON cannot carry back unchanged; the caller leaves those out. */
  if (reason != SR_REASON_OK || strcmp(again.item_id, item->item_id) != 0 ||
      again.available != item->available || !same_content(ct, &back))
    abort();
  sr_item_content_free(&back);
  sr_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  uint8_t mode = data[0] % 3, dims = data[1] % 8;
  data += 2;
  size -= 2;
  sr_item_t item;
  sr_item_content_t ct;
  char err[256];
  sr_reason_t reason =
      mode == 2 ? sr_item_parse_tsv((const char *)data, size, 0, dims, &item,
                                    &ct, err, sizeof err)
                : sr_item_decode_content(data, size,
                                         mode ? SR_WIRE_JSON : SR_WIRE_PROTO, 0,
                                         dims, &item, &ct, err, sizeof err);
  if (reason == SR_REASON_OK) {
    if (item.n_features != ct.n_features ||
        item.n_embedding != ct.n_embedding ||
        (dims && ct.n_embedding && ct.n_embedding != dims))
      abort();
    /* Features must be UTF-8 (the codec rejects others); an id need not
     * be, and JSON turns its bad bytes into U+FFFD. */
    int nul = !sr_utf8_valid(item.item_id, item.item_len);
    for (size_t k = 0; k < ct.n_features; k++) {
      nul |= memchr(ct.features[k], '\0', ct.feature_lens[k]) != NULL;
      if (!sr_utf8_valid(ct.features[k], ct.feature_lens[k]))
        abort();
    }
    if (!nul)
      round_trip(&item, &ct);
  }
  sr_item_content_free(&ct);
  return 0;
}
