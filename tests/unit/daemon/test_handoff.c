/* User handoff through a state topic on librdkafka's mock cluster in this
 * process: one model flushes its users' states (and tombstones for the
 * evicted) to the partitions of their input partitions; another restores a
 * partition and holds exactly that partition's users, as they were, with
 * the evicted ones gone and the replayed events skipped; each user's last
 * published list goes along, so the new owner finds its holders. */
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

/* Flushes mdl (with tel's lists; NULL: none) to topic and waits until
 * every record is acknowledged. */
static uint64_t flush_with(sr_model_t *mdl, const sr_telemetry_t *tel,
                           const char *topic) {
  uint64_t records = 0;
  assert_int_equal(
      sr_handoff_flush(mdl, tel, send_record, (void *)topic, &records), 0);
  assert_int_equal(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  sr_share_flush_done(mdl);
  return records;
}

static uint64_t flush_to(sr_model_t *mdl, const char *topic) {
  return flush_with(mdl, NULL, topic);
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

/* Restores partition p of topic into mdl (the lists into tel, when not
 * NULL) and returns what done said. */
static done_t restore_with(sr_model_t **mdl, sr_telemetry_t *tel,
                           const char *topic, int32_t p) {
  char err[256] = "";
  done_t d = {-1, 0, 0};
  sr_handoff_t *ho = sr_handoff_new(&kc, sr_embedded_bootstraps(emb), topic,
                                    mdl, on_done, &d, err, sizeof err);
  if (!ho)
    fail_msg("%s", err);
  sr_handoff_set_telemetry(ho, tel);
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

static done_t restore(sr_model_t **mdl, const char *topic, int32_t p) {
  return restore_with(mdl, NULL, topic, p);
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

/* Queues a list of items (ids) for user in tel. */
static void list(sr_model_t *mdl, sr_telemetry_t *tel, const char *user,
                 const char *const *items, size_t n) {
  sr_scored_t scored[4];
  for (size_t i = 0; i < n; i++)
    scored[i] = (sr_scored_t){
        (uint32_t)sr_model_find_item(mdl, items[i], strlen(items[i])), 1.0f};
  sr_telemetry_listed(tel, (uint32_t)sr_model_find_user(mdl, user, 2), scored,
                      n);
}

static void add_user(void *opaque, uint32_t row) {
  const sr_model_t *mdl = ((void **)opaque)[0];
  char *out = ((void **)opaque)[1];
  strcat(out, sr_model_user_id(mdl, row, NULL));
  strcat(out, " ");
}

/* The users whose last list in tel holds item, in row order. */
static const char *holders(sr_model_t *mdl, sr_telemetry_t *tel,
                           const char *item) {
  static char out[64];
  out[0] = '\0';
  void *ctx[2] = {mdl, out};
  sr_telemetry_holders(tel, item, strlen(item), add_user, ctx);
  return out;
}

static void test_lists_move_with_their_users(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(sr_embedded_create_topic(emb, "st4", 1, err, 256), SR_OK);
  sr_model_conf_t conf = conf_of(0);
  sr_model_t *a = model_with(&conf);
  sr_telemetry_t *ta = sr_telemetry_new(a, 3);
  learn(a, "u1", "x", 0, 1);
  learn(a, "u1", "y", 0, 2);
  learn(a, "u2", "y", 0, 3);
  learn(a, "u3", "x", 0, 4);
  const char *xy[] = {"x", "y"}, *y[] = {"y"};
  list(a, ta, "u1", xy, 2);
  list(a, ta, "u2", y, 1);
  assert_int_equal(flush_with(a, ta, "st4"), 3);

  sr_model_conf_t roomy = conf_of(0);
  sr_model_t *b = model_with(&roomy);
  learn(b, "u0", "z", 1, 1); /* rows differ from a's */
  sr_telemetry_t *tb = sr_telemetry_new(b, 3);
  assert_int_equal(restore_with(&b, tb, "st4", 0).users, 3);
  assert_string_equal(holders(b, tb, "x"), "u1 ");
  assert_string_equal(holders(b, tb, "y"), "u1 u2 ");
  assert_string_equal(holders(b, tb, "z"), "");
  /* Without the telemetry, the same records restore no lists. */
  sr_model_t *c = model_with(&roomy);
  sr_telemetry_t *tc = sr_telemetry_new(c, 3);
  assert_int_equal(restore_with(&c, NULL, "st4", 0).users, 3);
  assert_string_equal(holders(c, tc, "y"), "");
  sr_telemetry_free(tc);
  sr_model_free(c);
  sr_telemetry_free(tb);
  sr_model_free(b);
  sr_telemetry_free(ta);
  sr_model_free(a);
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
      cmocka_unit_test(test_lists_move_with_their_users),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
