/* Tests of the item catalogue (src/daemon/catalogue.c) on librdkafka's mock
 * cluster in this process: the start-up load reads the items topic to its
 * end and applies every message in order (a takedown, an item made
 * available again, a tombstone, an unknown item taken down before its
 * first event) over the takedowns the model held, reports each item that
 * turns unavailable once, and counts
 * a message that is no Item as rejected; messages that arrive later are
 * applied by sr_catalogue_consume. */
#include "daemon/catalogue.h"

#include "daemon/config.h"
#include "util/now.h"

#include <librdkafka/rdkafka.h>

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"
#include "support.h"

#define WAIT_MS 15000

/* What on_down saw. */
typedef struct downs {
  int n;
  char last[64];
} downs_t;

static size_t on_down(void *opaque, const char *id, size_t len) {
  downs_t *dn = opaque;
  dn->n++;
  snprintf(dn->last, sizeof(dn->last), "%.*s", (int)len, id);
  return 2; /* as if two lists were refreshed */
}

/* Produces key -> value (NULL: a tombstone) to partition 0 of topic. */
static void put(const char *topic, const char *key, const char *value) {
  rd_kafka_t *rk = plain_producer();
  assert_int_equal(
      rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_KEY(key, strlen(key)),
          RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

static bool available(sr_model_t *mdl, const char *id) {
  int64_t row = sr_model_find_item(mdl, id, strlen(id));
  return row < 0 || sr_model_item_available(mdl, (uint32_t)row);
}

static sr_model_t *model_of_items(void) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *mdl = model_with(&conf);
  const char *items[] = {"a", "b", "c"};
  for (int k = 0; k < 3; k++) {
    sr_event_t ev = event_for("u", items[k], SR_EV_CLICK, 0, 1700000000000LL);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  return mdl;
}

static sr_catalogue_t *catalogue(const char *topic, sr_model_t **mdl,
                                 downs_t *dn) {
  static sr_config_t cfg;
  sr_config_init(&cfg);
  sr_kafka_conf_t kc = sr_config_kafka(&cfg);
  char errstr[512] = "";
  sr_catalogue_conf_t conf = {.topic = topic, .on_down = on_down, .opaque = dn};
  sr_catalogue_t *cat =
      sr_catalogue_new(&conf, &kc, sr_embedded_bootstraps(emb), mdl, NULL,
                       errstr, sizeof(errstr));
  if (!cat)
    fail_msg("sr_catalogue_new: %s", errstr);
  return cat;
}

static void test_load_applies_in_order(void **state) {
  (void)state;
  char errstr[256] = "";
  assert_int_equal(
      sr_embedded_create_topic(emb, "items-load", 1, errstr, sizeof(errstr)),
      SR_OK);
  put("items-load", "a", "{\"item_id\":\"a\",\"available\":false}");
  put("items-load", "b", "{\"item_id\":\"b\",\"available\":false}");
  put("items-load", "b", "{\"item_id\":\"b\"}");
  put("items-load", "c", "{\"item_id\":\"c\",\"unavailable\":true}");
  put("items-load", "c", NULL);
  put("items-load", "x", "no item");
  put("items-load", "later", "{\"item_id\":\"later\",\"available\":false}");
  sr_model_t *mdl = model_of_items();
  downs_t dn = {0};
  sr_catalogue_t *cat = catalogue("items-load", &mdl, &dn);
  assert_int_equal(sr_catalogue_load(cat, WAIT_MS, errstr, sizeof(errstr)),
                   SR_OK);
  assert_false(available(mdl, "a"));
  assert_true(available(mdl, "b"));
  assert_true(available(mdl, "c"));
  /* Unknown when taken down: created, and down when its events come. */
  assert_true(sr_model_find_item(mdl, "later", 5) >= 0);
  assert_false(available(mdl, "later"));
  assert_int_equal(sr_model_unavailable_items(mdl), 2);
  sr_catalogue_stats_t st = sr_catalogue_stats(cat);
  assert_int_equal(st.applied, 6);
  assert_int_equal(st.taken_down, 4);
  assert_int_equal(st.restored, 2);
  assert_int_equal(st.takedown_refreshes, 8);
  assert_int_equal(st.rejected[SR_REASON_DECODE], 1);
  assert_int_equal(dn.n, 4);
  /* A takedown after the load, and one of an item already down, which is
   * reported no second time. */
  put("items-load", "b", "{\"item_id\":\"b\",\"available\":false}");
  put("items-load", "a", "{\"item_id\":\"a\",\"available\":false}");
  for (int64_t end = (int64_t)sr_mono_ns() / 1000000 + WAIT_MS;
       sr_catalogue_stats(cat).applied < 8;) {
    assert_true((int64_t)sr_mono_ns() / 1000000 < end);
    bool more = false;
    struct pollfd pfd = {.fd = sr_catalogue_fd(cat), .events = POLLIN};
    poll(&pfd, 1, 100);
    sr_catalogue_consume(cat, 64, &more);
  }
  assert_false(available(mdl, "b"));
  assert_int_equal(dn.n, 5);
  assert_string_equal(dn.last, "b");
  sr_catalogue_free(cat);
  sr_model_free(mdl);
}

static void test_empty_topic_loads(void **state) {
  (void)state;
  char errstr[256] = "";
  assert_int_equal(
      sr_embedded_create_topic(emb, "items-empty", 2, errstr, sizeof(errstr)),
      SR_OK);
  sr_model_t *mdl = model_of_items();
  /* A takedown from a checkpoint that the topic no longer holds (its
   * tombstone compacted away) does not survive the load. */
  assert_int_equal(sr_model_set_available(mdl, "a", 1, false, NULL), SR_OK);
  downs_t dn = {0};
  sr_catalogue_t *cat = catalogue("items-empty", &mdl, &dn);
  assert_int_equal(sr_catalogue_load(cat, WAIT_MS, errstr, sizeof(errstr)),
                   SR_OK);
  assert_int_equal(sr_catalogue_stats(cat).applied, 0);
  assert_int_equal(sr_model_unavailable_items(mdl), 0);
  sr_catalogue_free(cat);
  sr_model_free(mdl);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_ERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_applies_in_order),
      cmocka_unit_test(test_empty_topic_loads),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
