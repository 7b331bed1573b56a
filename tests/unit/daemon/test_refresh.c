/* The top-N batcher: when flushes are due, the per-user interval with its
 * trailing refresh, retries, and what a published list holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "daemon/refresh.h"

#include <stdio.h>
#include <string.h>

#define MAX_SEEN 64

/* What the publish callback saw. */
typedef struct sink {
  int fail; /* refuse this many more lists */
  size_t n;
  char users[MAX_SEEN][32];
  sr_recs_t recs[MAX_SEEN];
} sink_t;

static int publish(void *opaque, uint32_t user_row, const char *key,
                   size_t key_len, const void *payload, size_t len) {
  (void)user_row;
  sink_t *snk = opaque;
  if (snk->fail > 0) {
    snk->fail--;
    return -1;
  }
  assert_true(snk->n < MAX_SEEN);
  snprintf(snk->users[snk->n], sizeof(snk->users[0]), "%.*s", (int)key_len,
           key);
  char errstr[128];
  assert_int_equal(sr_recs_decode(payload, len, SR_WIRE_AUTO,
                                  &snk->recs[snk->n], errstr, sizeof(errstr)),
                   SR_OK);
  snk->n++;
  return 0;
}

static void sink_clear(sink_t *snk) {
  for (size_t i = 0; i < snk->n; i++)
    sr_recs_clear(&snk->recs[i]);
  memset(snk, 0, sizeof(*snk));
}

typedef struct fixture {
  sr_model_t *mdl;
  sr_refresh_t *rf;
  sink_t snk;
} fixture_t;

static fixture_t fixture_new_limited(uint32_t batch_ms, uint32_t batch_max,
                                     uint32_t min_interval_ms, bool json,
                                     uint32_t max_users) {
  fixture_t fx = {0};
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.max_users = max_users;
  char errstr[256];
  fx.mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  assert_non_null(fx.mdl);
  sr_refresh_conf_t rc = {.n = 5,
                          .batch_ms = batch_ms,
                          .batch_max = batch_max,
                          .min_interval_ms = min_interval_ms,
                          .json = json};
  fx.rf = sr_refresh_new(&rc);
  assert_non_null(fx.rf);
  return fx;
}

static fixture_t fixture_new(uint32_t batch_ms, uint32_t batch_max,
                             uint32_t min_interval_ms, bool json) {
  return fixture_new_limited(batch_ms, batch_max, min_interval_ms, json, 0);
}

static void fixture_free(fixture_t *fx) {
  sink_clear(&fx->snk);
  sr_refresh_free(fx->rf);
  sr_model_free(fx->mdl);
}

/* Learns user -> item and marks the user dirty at now_ms. */
static uint32_t event(fixture_t *fx, const char *user, const char *item,
                      int64_t ts, uint64_t now_ms) {
  sr_event_t ev = {.type = SR_EV_CLICK, .timestamp_ms = ts};
  snprintf(ev.user_id, sizeof(ev.user_id), "%s", user);
  snprintf(ev.item_id, sizeof(ev.item_id), "%s", item);
  ev.user_len = (uint16_t)strlen(user);
  ev.item_len = (uint16_t)strlen(item);
  uint32_t row;
  assert_int_equal(sr_model_learn(fx->mdl, &ev, &row), SR_OK);
  assert_int_equal(sr_refresh_mark(fx->rf, row, ts, now_ms), SR_OK);
  return row;
}

static size_t flush(fixture_t *fx, uint64_t now_ms, bool force) {
  size_t n = 0;
  assert_int_equal(sr_refresh_flush(fx->rf, fx->mdl, now_ms, 1234, force,
                                    publish, &fx->snk, &n),
                   SR_OK);
  return n;
}

static void test_nothing_waiting(void **state) {
  (void)state;
  fixture_t fx = fixture_new(10, 4, 0, false);
  assert_int_equal(sr_refresh_next_delay(fx.rf, 100), -1);
  assert_int_equal(flush(&fx, 100, true), 0);
  fixture_free(&fx);
}

static void test_batch_ms_after_the_first_user(void **state) {
  (void)state;
  fixture_t fx = fixture_new(10, 4, 0, false);
  event(&fx, "alice", "i1", 1, 100);
  event(&fx, "bob", "i2", 2, 105);
  assert_int_equal(sr_refresh_next_delay(fx.rf, 105), 5);
  assert_int_equal(flush(&fx, 105, false), 0); /* not due yet */
  assert_int_equal(sr_refresh_next_delay(fx.rf, 110), 0);
  assert_int_equal(flush(&fx, 110, false), 2);
  assert_string_equal(fx.snk.users[0], "alice");
  assert_string_equal(fx.snk.users[1], "bob");
  assert_int_equal(sr_refresh_pending(fx.rf), 0);
  fixture_free(&fx);
}

static void test_batch_max_flushes_at_once(void **state) {
  (void)state;
  fixture_t fx = fixture_new(1000, 3, 0, false);
  event(&fx, "u1", "i1", 1, 100);
  event(&fx, "u2", "i1", 1, 100);
  assert_true(sr_refresh_next_delay(fx.rf, 100) > 0);
  event(&fx, "u3", "i1", 1, 100);
  assert_int_equal(sr_refresh_next_delay(fx.rf, 100), 0);
  assert_int_equal(flush(&fx, 100, false), 3);
  fixture_free(&fx);
}

static void test_a_user_is_listed_once_per_batch(void **state) {
  (void)state;
  fixture_t fx = fixture_new(10, 100, 0, false);
  event(&fx, "alice", "i1", 1, 100);
  event(&fx, "alice", "i2", 2, 101);
  event(&fx, "alice", "i3", 3, 102);
  assert_int_equal(flush(&fx, 110, false), 1);
  /* The list reports the user's last event and the events applied. */
  assert_int_equal(fx.snk.recs[0].event_timestamp_ms, 3);
  assert_int_equal(fx.snk.recs[0].model_version, 3);
  assert_int_equal(fx.snk.recs[0].generated_at_ms, 1234);
  fixture_free(&fx);
}

static void test_min_interval_defers_to_a_trailing_refresh(void **state) {
  (void)state;
  fixture_t fx = fixture_new(0, 100, 50, false);
  event(&fx, "alice", "i1", 1, 100);
  assert_int_equal(flush(&fx, 100, false), 1);
  /* A burst inside the interval: nothing until the interval ends. */
  event(&fx, "alice", "i2", 2, 110);
  event(&fx, "alice", "i3", 3, 120);
  assert_int_equal(sr_refresh_pending(fx.rf), 1);
  assert_int_equal(sr_refresh_next_delay(fx.rf, 120), 30);
  assert_int_equal(flush(&fx, 140, false), 0);
  /* The trailing refresh carries the burst's last event. */
  assert_int_equal(flush(&fx, 150, false), 1);
  assert_int_equal(fx.snk.recs[1].event_timestamp_ms, 3);
  assert_int_equal(sr_refresh_pending(fx.rf), 0);
  fixture_free(&fx);
}

static void test_force_ignores_the_interval(void **state) {
  (void)state;
  fixture_t fx = fixture_new(1000, 100, 1000, false);
  event(&fx, "alice", "i1", 1, 100);
  assert_int_equal(flush(&fx, 100, true), 1);
  event(&fx, "alice", "i2", 2, 101);
  assert_int_equal(flush(&fx, 101, true), 1);
  assert_int_equal(sr_refresh_pending(fx.rf), 0);
  fixture_free(&fx);
}

static void test_refused_lists_are_retried(void **state) {
  (void)state;
  fixture_t fx = fixture_new(10, 100, 0, false);
  event(&fx, "alice", "i1", 1, 100);
  event(&fx, "bob", "i2", 2, 100);
  fx.snk.fail = 1;
  assert_int_equal(flush(&fx, 110, false), 1);
  assert_int_equal(sr_refresh_pending(fx.rf), 1);
  /* The retried user waits for a new batch window. */
  assert_int_equal(sr_refresh_next_delay(fx.rf, 110), 10);
  assert_int_equal(flush(&fx, 120, false), 1);
  assert_int_equal(sr_refresh_pending(fx.rf), 0);
  fixture_free(&fx);
}

static void test_retry_after_a_failed_delivery(void **state) {
  (void)state;
  fixture_t fx = fixture_new(0, 100, 0, true);
  uint32_t row = event(&fx, "alice", "i1", 7, 100);
  assert_int_equal(flush(&fx, 100, false), 1);
  assert_int_equal(sr_refresh_retry(fx.rf, row, 200), SR_OK);
  assert_int_equal(flush(&fx, 200, false), 1);
  assert_string_equal(fx.snk.recs[1].user_id, "alice");
  assert_int_equal(fx.snk.recs[1].event_timestamp_ms, 7);
  fixture_free(&fx);
}

static void test_many_users_in_chunks(void **state) {
  (void)state;
  fixture_t fx = fixture_new(5, 7, 0, false);
  char user[16];
  for (int i = 0; i < 20; i++) {
    snprintf(user, sizeof(user), "u%d", i);
    event(&fx, user, "i1", i, 100);
  }
  assert_int_equal(flush(&fx, 100, false), 20);
  for (int i = 0; i < 20; i++) {
    snprintf(user, sizeof(user), "u%d", i);
    assert_string_equal(fx.snk.users[i], user);
  }
  fixture_free(&fx);
}

static void test_evicted_users_are_not_published(void **state) {
  (void)state;
  fixture_t fx = fixture_new_limited(10, 100, 0, false, 2);
  event(&fx, "alice", "i1", 1000, 100);
  event(&fx, "bob", "i2", 2000, 100);
  /* carol evicts alice, the least recently active, and takes her row. */
  event(&fx, "carol", "i3", 3000, 100);
  assert_int_equal(flush(&fx, 110, false), 2);
  assert_string_equal(fx.snk.users[0], "carol");
  assert_string_equal(fx.snk.users[1], "bob");
  fixture_free(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_waiting),
      cmocka_unit_test(test_batch_ms_after_the_first_user),
      cmocka_unit_test(test_batch_max_flushes_at_once),
      cmocka_unit_test(test_a_user_is_listed_once_per_batch),
      cmocka_unit_test(test_min_interval_defers_to_a_trailing_refresh),
      cmocka_unit_test(test_force_ignores_the_interval),
      cmocka_unit_test(test_refused_lists_are_retried),
      cmocka_unit_test(test_retry_after_a_failed_delivery),
      cmocka_unit_test(test_many_users_in_chunks),
      cmocka_unit_test(test_evicted_users_are_not_published),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
