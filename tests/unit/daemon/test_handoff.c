/* User handoff through a state topic on librdkafka's mock cluster in this
 * process: one model flushes its users' states (and tombstones for the
 * evicted) to the partitions of their input partitions; another restores a
 * partition and holds exactly that partition's users, as they were, with
 * the evicted ones gone and the replayed events skipped. */
#include "core/share.h"
#include "daemon/handoff.h"

#include <librdkafka/rdkafka.h>

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker.h"
#include "support.h"

static rd_kafka_t *producer;
static const sr_kafka_conf_t kc = {.group_id = "test"};

static int send_record(void *opaque, int32_t partition, const char *key,
                       size_t key_len, const void *value, size_t len) {
  assert_int_equal(
      rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC((const char *)opaque),
          RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_len),
          RD_KAFKA_V_VALUE((void *)value, len),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  return 0;
}

static sr_model_conf_t conf_of(uint32_t max_users) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.shared = 1;
  conf.max_users = max_users;
  return conf;
}

static void learn(sr_model_t *mdl, const char *user, const char *item,
                  int32_t p, int64_t offset) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 0, 1700000000000LL);
  bool skipped;
  assert_int_equal(sr_share_learn(mdl, &ev, p, offset, NULL, &skipped, NULL),
                   SR_OK);
}

/* Flushes mdl to topic and waits until every record is acknowledged. */
static uint64_t flush_to(sr_model_t *mdl, const char *topic) {
  uint64_t records = 0;
  assert_int_equal(sr_handoff_flush(mdl, send_record, (void *)topic, &records),
                   0);
  assert_int_equal(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  sr_share_flush_done(mdl);
  return records;
}

typedef struct done {
  int32_t partition;
  uint64_t users;
  int calls;
} done_t;

static void on_done(void *opaque, int32_t partition, uint64_t users,
                    uint64_t records) {
  done_t *d = opaque;
  (void)records;
  d->partition = partition;
  d->users = users;
  d->calls++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Restores partition p of topic into mdl and returns what done said. */
static done_t restore(sr_model_t **mdl, const char *topic, int32_t p) {
  char err[256] = "";
  done_t d = {-1, 0, 0};
  sr_handoff_t *ho = sr_handoff_new(&kc, sr_embedded_bootstraps(emb), topic,
                                    mdl, on_done, &d, err, sizeof err);
  if (!ho)
    fail_msg("%s", err);
  assert_int_equal(sr_handoff_begin(ho, p, err, sizeof err), SR_OK);
  assert_true(sr_handoff_restoring(ho, p));
  double until = now_s() + 15;
  while (d.calls == 0) {
    if (now_s() > until)
      fail_msg("partition %d not restored", p);
    struct pollfd pfd = {sr_handoff_fd(ho), POLLIN, 0};
    poll(&pfd, 1, 100);
    bool more = true;
    while (more)
      sr_handoff_serve(ho, 64, &more);
  }
  assert_false(sr_handoff_restoring(ho, p));
  assert_int_equal(sr_handoff_stats(ho).completed, 1);
  sr_handoff_free(ho);
  return d;
}

static void assert_user(sr_model_t *mdl, const char *user, uint32_t events,
                        int32_t p, int64_t offset) {
  int64_t row = sr_model_find_user(mdl, user, strlen(user));
  if (row < 0)
    fail_msg("user %s missing", user);
  assert_int_equal(sr_model_user_events(mdl, (uint32_t)row), events);
  assert_int_equal(sr_share_user_partition(mdl, (uint32_t)row), p);
  assert_int_equal(sr_share_user_offset(mdl, (uint32_t)row), offset);
}

static void test_a_partition_moves_with_its_users(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(sr_embedded_create_topic(emb, "st1", 2, err, 256), SR_OK);
  sr_model_conf_t conf = conf_of(0);
  sr_model_t *a = model_with(&conf);
  learn(a, "u1", "x", 0, 1);
  learn(a, "u2", "x", 1, 1);
  learn(a, "u3", "y", 1, 2);
  learn(a, "u2", "y", 1, 3);
  assert_int_equal(flush_to(a, "st1"), 3);
  learn(a, "u3", "z", 1, 4); /* a later state of u3 replaces the first */
  assert_int_equal(flush_to(a, "st1"), 1);

  sr_model_t *b = model_with(&conf);
  learn(b, "stale", "x", 1, 0); /* b's own copy of partition 1 is dropped */
  done_t d = restore(&b, "st1", 1);
  assert_int_equal(d.partition, 1);
  assert_int_equal(d.users, 3);
  assert_int_equal(sr_model_live_users(b), 2);
  assert_true(sr_model_find_user(b, "stale", 5) < 0);
  assert_true(sr_model_find_user(b, "u1", 2) < 0); /* partition 0's */
  assert_user(b, "u2", 2, 1, 3);
  assert_user(b, "u3", 2, 1, 4);
  /* The events before the handoff are skipped when replayed. */
  bool skipped;
  sr_event_t ev = event_for("u3", "z", SR_EV_CLICK, 0, 1700000000000LL);
  assert_int_equal(sr_share_learn(b, &ev, 1, 4, NULL, &skipped, NULL), SR_OK);
  assert_true(skipped);
  sr_model_free(a);
  sr_model_free(b);
}

static void test_evicted_users_stay_gone(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(sr_embedded_create_topic(emb, "st2", 1, err, 256), SR_OK);
  sr_model_conf_t conf = conf_of(2);
  sr_model_t *a = model_with(&conf);
  learn(a, "u1", "x", 0, 1);
  learn(a, "u2", "x", 0, 2);
  assert_int_equal(flush_to(a, "st2"), 2);
  learn(a, "u3", "x", 0, 3); /* u1 is evicted: a tombstone follows */
  assert_int_equal(flush_to(a, "st2"), 2);
  sr_model_conf_t roomy = conf_of(0);
  sr_model_t *b = model_with(&roomy);
  done_t d = restore(&b, "st2", 0);
  assert_int_equal(d.users, 3); /* records installed, the tombstone not */
  assert_int_equal(sr_model_live_users(b), 2);
  assert_true(sr_model_find_user(b, "u1", 2) < 0);
  assert_user(b, "u3", 1, 0, 3);
  sr_model_free(a);
  sr_model_free(b);
}

static void test_an_empty_partition_restores_at_once(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(sr_embedded_create_topic(emb, "st3", 3, err, 256), SR_OK);
  sr_model_conf_t conf = conf_of(0);
  sr_model_t *b = model_with(&conf);
  done_t d = restore(&b, "st3", 2);
  assert_int_equal(d.users, 0);
  sr_model_free(b);
}

static int setup(void **state) {
  (void)state;
  if (broker_start(SR_LOG_WARN) != 0)
    return -1;
  producer = plain_producer();
  return 0;
}

static int teardown(void **state) {
  rd_kafka_destroy(producer);
  return broker_stop(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_partition_moves_with_its_users),
      cmocka_unit_test(test_evicted_users_stay_gone),
      cmocka_unit_test(test_an_empty_partition_restores_at_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
