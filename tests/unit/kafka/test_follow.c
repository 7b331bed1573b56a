/* The partition follower against librdkafka's mock cluster in this
 * process: it reads what it is given from where it is given, reports the
 * ends, keeps next offsets a checkpoint can resume from, forgets a removed
 * partition, and a position the log does not hold is logged, counted and
 * read again from the start instead of skipped. */
#include "kafka/follow.h"

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

static const sr_kafka_conf_t kc = {.group_id = "test"};

/* What the hooks saw. */
typedef struct seen {
  int64_t last[4]; /* per partition: offset of the last message, -1 none */
  int count[4];
  int ends;
} seen_t;

static void on_message(void *opaque, const rd_kafka_message_t *msg) {
  seen_t *s = opaque;
  assert_true(msg->partition >= 0 && msg->partition < 4);
  /* In order, none twice. */
  assert_true(msg->offset > s->last[msg->partition]);
  s->last[msg->partition] = msg->offset;
  s->count[msg->partition]++;
}

static void on_end(void *opaque, const char *topic, int32_t partition,
                   int64_t offset) {
  (void)topic, (void)partition, (void)offset;
  ((seen_t *)opaque)->ends++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Serves the follower as the loop would until done(s) or 15 s pass. */
static void serve_until(sr_follow_t *fl, seen_t *s, int (*done)(seen_t *)) {
  double until = now_s() + 15;
  while (!done(s)) {
    if (now_s() > until)
      fail_msg("timed out: counts %d %d, ends %d", s->count[0], s->count[1],
               s->ends);
    struct pollfd pfd = {sr_follow_fd(fl), POLLIN, 0};
    poll(&pfd, 1, 100);
    bool more = true;
    while (more)
      sr_follow_consume(fl, 64, &more);
  }
}

static sr_follow_t *follower(seen_t *s) {
  char errstr[256] = "";
  memset(s, 0, sizeof(*s));
  for (int i = 0; i < 4; i++)
    s->last[i] = -1;
  sr_follow_hooks_t hooks = {on_message, on_end, s};
  sr_follow_t *fl = sr_follow_new(&kc, sr_embedded_bootstraps(emb), "test",
                                  &hooks, errstr, sizeof errstr);
  if (!fl)
    fail_msg("%s", errstr);
  return fl;
}

static int64_t next_of(sr_follow_t *fl, int32_t partition) {
  sr_offset_t *offs;
  ssize_t n = sr_follow_offsets(fl, &offs);
  int64_t next = -2;
  for (ssize_t i = 0; i < n; i++)
    if (offs[i].partition == partition)
      next = offs[i].offset;
  free(offs);
  return next;
}

static int both_ended(seen_t *s) {
  return s->ends == 2;
}

static int fifteen_on_0(seen_t *s) {
  return s->count[0] == 15;
}

static void test_reads_to_the_ends_and_keeps_offsets(void **state) {
  (void)state;
  char errstr[256];
  assert_int_equal(sr_embedded_create_topic(emb, "fa", 2, errstr, 256), SR_OK);
  produce("fa", 0, 10);
  produce("fa", 1, 7);
  seen_t s;
  sr_follow_t *fl = follower(&s);
  assert_false(sr_follow_at_ends(fl));
  assert_int_equal(sr_follow_add(fl, "fa", 0, RD_KAFKA_OFFSET_BEGINNING, errstr,
                                 sizeof errstr),
                   SR_OK);
  assert_int_equal(sr_follow_add(fl, "fa", 1, RD_KAFKA_OFFSET_BEGINNING, errstr,
                                 sizeof errstr),
                   SR_OK);
  serve_until(fl, &s, both_ended);
  assert_true(sr_follow_at_ends(fl));
  assert_int_equal(s.count[0], 10);
  assert_int_equal(s.count[1], 7);
  assert_int_equal(next_of(fl, 0), 10);
  assert_int_equal(next_of(fl, 1), 7);

  /* A removed partition is forgotten: its new messages never arrive. */
  assert_int_equal(sr_follow_remove(fl, "fa", 1, errstr, sizeof errstr), SR_OK);
  assert_int_equal(sr_follow_remove(fl, "fa", 1, errstr, sizeof errstr),
                   SR_ERR_NOT_FOUND);
  produce("fa", 1, 3);
  produce("fa", 0, 5);
  serve_until(fl, &s, fifteen_on_0);
  assert_int_equal(s.count[1], 7);
  assert_int_equal(next_of(fl, 0), 15);
  assert_int_equal(next_of(fl, 1), -2);
  sr_follow_free(fl);
}

static int three_on_0(seen_t *s) {
  return s->count[0] == 3 && s->ends == 1;
}

static void test_resumes_from_a_stored_offset(void **state) {
  (void)state;
  char errstr[256];
  assert_int_equal(sr_embedded_create_topic(emb, "fb", 1, errstr, 256), SR_OK);
  produce("fb", 0, 15);
  seen_t s;
  sr_follow_t *fl = follower(&s);
  assert_int_equal(sr_follow_add(fl, "fb", 0, 12, errstr, sizeof errstr),
                   SR_OK);
  serve_until(fl, &s, three_on_0);
  assert_int_equal(s.last[0], 14);
  assert_int_equal(next_of(fl, 0), 15);
  sr_follow_free(fl);
}

static int four_on_0(seen_t *s) {
  return s->count[0] == 4;
}

static void test_a_lost_position_is_read_again(void **state) {
  (void)state;
  char errstr[256];
  assert_int_equal(sr_embedded_create_topic(emb, "fc", 1, errstr, 256), SR_OK);
  produce("fc", 0, 4);
  seen_t s;
  sr_follow_t *fl = follower(&s);
  /* An offset past the log's end, as after the log went backwards. */
  assert_int_equal(sr_follow_add(fl, "fc", 0, 100, errstr, sizeof errstr),
                   SR_OK);
  capture_start();
  serve_until(fl, &s, four_on_0);
  char *log = captured();
  assert_non_null(strstr(log, "followed partition lost its position"));
  assert_non_null(strstr(log, "next_offset=100"));
  free(log);
  assert_int_equal(sr_follow_resets(fl), 1);
  assert_int_equal(s.last[0], 3);
  sr_follow_free(fl);
}

static void test_partition_count(void **state) {
  (void)state;
  char errstr[256];
  assert_int_equal(sr_embedded_create_topic(emb, "fd", 3, errstr, 256), SR_OK);
  seen_t s;
  sr_follow_t *fl = follower(&s);
  assert_int_equal(sr_follow_partitions(fl, "fd", 5000, errstr, sizeof errstr),
                   3);
  assert_int_equal(
      sr_follow_partitions(fl, "nope", 5000, errstr, sizeof errstr), -1);
  assert_string_equal(errstr, "topic 'nope' does not exist");
  /* Asking did not create it. */
  assert_int_equal(
      sr_follow_partitions(fl, "nope", 5000, errstr, sizeof errstr), -1);
  sr_follow_free(fl);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_WARN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_to_the_ends_and_keeps_offsets),
      cmocka_unit_test(test_resumes_from_a_stored_offset),
      cmocka_unit_test(test_a_lost_position_is_read_again),
      cmocka_unit_test(test_partition_count),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
