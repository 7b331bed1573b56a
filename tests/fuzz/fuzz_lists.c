/* libFuzzer target: the record of last published lists a checkpoint
 * carries (sr_telemetry_load_lists), loaded against a small model of eight
 * users. A record that loads must save to bytes that load to as many users
 * with the same holders of every item, and every holder must be a row of
 * the model. */
#include "daemon/telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 8

static sr_model_t *mdl;

/* Users u0..u7, each with events on items i0..i7. */
static sr_model_t *small_model(void) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 4;
  sr_model_t *m = sr_model_new(&conf, NULL, 0);
  if (!m)
    abort();
  for (int u = 0; u < USERS; u++)
    for (int i = 0; i < USERS; i++) {
      sr_event_t ev = {
          .type = SR_EV_CLICK, .value = 1, .timestamp_ms = 1700000000000LL};
      ev.user_len =
          (uint16_t)snprintf(ev.user_id, sizeof(ev.user_id), "u%d", u);
      ev.item_len = (uint16_t)snprintf(ev.item_id, sizeof(ev.item_id), "i%d",
                                       (u + i) % USERS);
      if (sr_model_learn(m, &ev, NULL) != SR_OK)
        abort();
    }
  return m;
}

static void check_row(void *opaque, uint32_t row) {
  (void)opaque;
  if (row >= sr_model_users(mdl))
    abort();
}

static size_t holders(const sr_telemetry_t *tel, int item) {
  char id[8];
  int len = snprintf(id, sizeof(id), "i%d", item);
  return sr_telemetry_holders(tel, id, (size_t)len, check_row, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!mdl)
    mdl = small_model();
  char err[256];
  sr_telemetry_t *tel = sr_telemetry_new(mdl, 4);
  if (!tel)
    abort();
  int64_t n = sr_telemetry_load_lists(tel, data, size, err, sizeof(err));
  if (n > USERS)
    abort();
  if (n >= 0) {
    sr_buf_t buf = {0};
    sr_telemetry_t *again = sr_telemetry_new(mdl, 4);
    if (!again || sr_telemetry_save_lists(tel, &buf) != 0 ||
        sr_telemetry_load_lists(again, buf.data, buf.len, err, sizeof(err)) !=
            n)
      abort();
    for (int i = 0; i < USERS; i++)
      if (holders(tel, i) != holders(again, i))
        abort();
    sr_telemetry_free(again);
    sr_buf_free(&buf);
  }
  sr_telemetry_free(tel);
  return 0;
}
