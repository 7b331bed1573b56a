/* libFuzzer target: Confluent framing. Any bytes parse or are refused
 * with a message; a parsed header written again reads back the same, and
 * its body lies inside the message. */
#include "codec/framing.h"

#include <stdlib.h>
#include <string.h>

static void check(const uint8_t *data, size_t size, sr_frame_kind_t kind) {
  sr_frame_t fr, again;
  char err[160] = "";
  if (sr_frame_parse(data, size, kind, &fr, err, sizeof err) != 0) {
    if (!err[0])
      abort();
    return;
  }
  const uint8_t *body = fr.body;
  if (body < data || body + fr.body_len != data + size)
    abort();
  sr_buf_t buf = {0};
  if (sr_frame_write(&buf, kind, fr.schema_id, fr.indices, fr.n_indices) != 0 ||
      sr_buf_append(&buf, fr.body, fr.body_len) != 0 ||
      sr_frame_parse(buf.data, buf.len, kind, &again, NULL, 0) != 0 ||
      again.schema_id != fr.schema_id || again.n_indices != fr.n_indices ||
      memcmp(again.indices, fr.indices, fr.n_indices * sizeof(int32_t)) ||
      again.body_len != fr.body_len || memcmp(again.body, fr.body, fr.body_len))
    abort();
  sr_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size, SR_FRAME_PLAIN);
  check(data, size, SR_FRAME_PROTO);
  return 0;
}
