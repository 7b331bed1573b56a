/* Tests of the start-up topic check (src/kafka/topics.c) against
 * librdkafka's mock cluster in this process: a good set passes, a missing
 * topic or a wrong partition count is named with the command that fixes
 * it, the check creates nothing, a state topic follows its input topic, and
 * on the mock the cleanup policy is reported as not checkable. Each test
 * uses topics of its own: the cluster is shared. */
#include "kafka/topics.h"
#include "util/log.h"

#include <librdkafka/rdkafka.h>

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

#define TIMEOUT_MS 5000

static const sr_kafka_conf_t kc = {0};

static void make_topic(const char *topic, int partitions) {
  char errstr[256] = "";
  if (sr_embedded_create_topic(emb, topic, partitions, errstr,
                               sizeof(errstr)) != SR_OK)
    fail_msg("create %s: %s", topic, errstr);
}

/* The partitions of topic as the cluster lists them, -1 when it has no
 * such topic. Asks for every topic: naming one would create it. */
static int partitions_of(const char *topic) {
  rd_kafka_t *rk = plain_producer();
  const struct rd_kafka_metadata *md = NULL;
  assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  int count = -1;
  for (int i = 0; i < md->topic_cnt; i++) {
    if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
      count = md->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return count;
}

static sr_err_t check(const sr_topic_want_t *want, size_t n,
                      sr_topics_report_t *rep) {
  return sr_topics_check(&kc, sr_embedded_bootstraps(emb), want, n, TIMEOUT_MS,
                         rep);
}

static void assert_has(const sr_buf_t *buf, const char *text) {
  const char *all = buf->len ? buf->data : "";
  if (!strstr(all, text))
    fail_msg("expected \"%s\" in:\n%s", text, all);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The embedded broker gets the topics with the counts they need, and then
 * the check passes: the cleanup policies, which the mock cannot describe,
 * are warnings, not failures. */
static void test_created_then_fine(void **state) {
  (void)state;
  make_topic("ok-events", 6);
  const sr_topic_want_t want[] = {
      {"ok-events", 0, NULL, SR_TOPIC_POLICY_ANY},
      {"ok-state", 0, "ok-events", SR_TOPIC_POLICY_COMPACT},
      {"ok-sync", 3, NULL, SR_TOPIC_POLICY_DELETE},
  };
  char errstr[256] = "";
  assert_int_equal(sr_topics_create_embedded(emb, &kc, want, 3, TIMEOUT_MS,
                                             errstr, sizeof(errstr)),
                   SR_OK);
  assert_int_equal(partitions_of("ok-state"), 6);
  assert_int_equal(partitions_of("ok-sync"), 3);
  /* A second pass leaves what exists alone. */
  assert_int_equal(sr_topics_create_embedded(emb, &kc, want, 3, TIMEOUT_MS,
                                             errstr, sizeof(errstr)),
                   SR_OK);

  sr_topics_report_t rep = {0};
  assert_int_equal(check(want, 3, &rep), SR_OK);
  assert_int_equal(rep.n_errors, 0);
  assert_int_equal(rep.n_warnings, 2);
  assert_has(&rep.warnings, "cannot check cleanup.policy of ok-state: ");
  assert_has(&rep.warnings, "cannot check cleanup.policy of ok-sync: ");
  sr_topics_report_free(&rep);
}

/* A missing topic is named with the command that creates it, and asking
 * about it does not create it (the mock would, with 4 partitions). */
static void test_missing_named_not_created(void **state) {
  (void)state;
  make_topic("miss-events", 3);
  const sr_topic_want_t want[] = {
      {"miss-events", 0, NULL, SR_TOPIC_POLICY_ANY},
      {"miss-state", 0, "miss-events", SR_TOPIC_POLICY_COMPACT},
      {"miss-sync", 2, NULL, SR_TOPIC_POLICY_ANY},
  };
  sr_topics_report_t rep = {0};
  assert_int_equal(check(want, 3, &rep), SR_ERR_INVALID);
  assert_int_equal(rep.n_errors, 2);
  char cmd[512];
  snprintf(cmd, sizeof(cmd),
           "topic miss-state: missing\n"
           "  kafka-topics.sh --bootstrap-server %s --create --topic "
           "miss-state --partitions 3 --config cleanup.policy=compact\n",
           sr_embedded_bootstraps(emb));
  assert_has(&rep.errors, cmd);
  snprintf(cmd, sizeof(cmd),
           "topic miss-sync: missing\n"
           "  kafka-topics.sh --bootstrap-server %s --create --topic "
           "miss-sync --partitions 2\n",
           sr_embedded_bootstraps(emb));
  assert_has(&rep.errors, cmd);
  assert_int_equal(rep.n_warnings, 0); /* nothing left to describe */
  sr_topics_report_free(&rep);
  assert_int_equal(partitions_of("miss-state"), -1);
  assert_int_equal(partitions_of("miss-sync"), -1);
}

/* Wrong partition counts name both counts: too few with the command that
 * adds partitions, too many with the commands that recreate the topic. */
static void test_wrong_counts(void **state) {
  (void)state;
  make_topic("count-events", 6);
  make_topic("count-state", 4);
  make_topic("count-sync", 8);
  const sr_topic_want_t want[] = {
      {"count-events", 0, NULL, SR_TOPIC_POLICY_ANY},
      {"count-state", 0, "count-events", SR_TOPIC_POLICY_ANY},
      {"count-sync", 2, NULL, SR_TOPIC_POLICY_ANY},
  };
  sr_topics_report_t rep = {0};
  assert_int_equal(check(want, 3, &rep), SR_ERR_INVALID);
  assert_int_equal(rep.n_errors, 2);
  const char *b = sr_embedded_bootstraps(emb);
  char text[512];
  assert_has(&rep.errors, "topic count-state: has 4 partitions, needs 6 (as "
                          "many as count-events)\n");
  snprintf(text, sizeof(text),
           "  kafka-topics.sh --bootstrap-server %s --alter --topic "
           "count-state --partitions 6\n",
           b);
  assert_has(&rep.errors, text);
  assert_has(&rep.errors, "topic count-sync: has 8 partitions, needs 2\n");
  snprintf(text, sizeof(text),
           "  kafka-topics.sh --bootstrap-server %s --delete --topic "
           "count-sync\n"
           "  kafka-topics.sh --bootstrap-server %s --create --topic "
           "count-sync --partitions 2\n",
           b, b);
  assert_has(&rep.errors, text);
  sr_topics_report_free(&rep);
  assert_int_equal(partitions_of("count-state"), 4); /* nothing altered */
}

/* The state topic wants as many partitions as the input has, whatever that
 * is: created to match it, and checked against it. */
static void test_state_follows_input(void **state) {
  (void)state;
  make_topic("follow-events", 5);
  const sr_topic_want_t want[] = {
      {"follow-state", 0, "follow-events", SR_TOPIC_POLICY_ANY},
  };
  char errstr[256] = "";
  assert_int_equal(sr_topics_create_embedded(emb, &kc, want, 1, TIMEOUT_MS,
                                             errstr, sizeof(errstr)),
                   SR_OK);
  assert_int_equal(partitions_of("follow-state"), 5);
  sr_topics_report_t rep = {0};
  assert_int_equal(check(want, 1, &rep), SR_OK);
  sr_topics_report_free(&rep);

  /* A model topic missing too: the count comes from the wanted list. */
  const sr_topic_want_t both[] = {
      {"follow2-events", 7, NULL, SR_TOPIC_POLICY_ANY},
      {"follow2-state", 0, "follow2-events", SR_TOPIC_POLICY_ANY},
  };
  assert_int_equal(sr_topics_create_embedded(emb, &kc, both, 2, TIMEOUT_MS,
                                             errstr, sizeof(errstr)),
                   SR_OK);
  assert_int_equal(partitions_of("follow2-state"), 7);
}

/* librdkafka's mock has no DescribeConfigs and names no controller: the
 * policy is reported as not checkable, at once rather than after the
 * request's timeout. */
static void test_policy_not_checkable_on_mock(void **state) {
  (void)state;
  make_topic("pol-state", 2);
  const sr_topic_want_t want[] = {
      {"pol-state", 2, NULL, SR_TOPIC_POLICY_COMPACT},
  };
  sr_topics_report_t rep = {0};
  double start = now_s();
  assert_int_equal(check(want, 1, &rep), SR_OK);
  assert_true(now_s() - start < TIMEOUT_MS / 1000.0);
  assert_int_equal(rep.n_warnings, 1);
  assert_has(&rep.warnings,
             "cannot check cleanup.policy of pol-state: the cluster names no "
             "controller");
  assert_int_equal(rep.errors.len, 0);
  sr_topics_report_free(&rep);
}

/* No broker there: the check fails as unreachable, within its timeout. */
static void test_unreachable(void **state) {
  (void)state;
  const sr_topic_want_t want[] = {{"any", 1, NULL, SR_TOPIC_POLICY_ANY}};
  sr_topics_report_t rep = {0};
  capture_start(); /* librdkafka's lines about the refused connections */
  sr_err_t err = sr_topics_check(&kc, "127.0.0.1:1", want, 1, 1000, &rep);
  free(captured());
  assert_int_equal(err, SR_ERR_IO);
  assert_has(&rep.errors, "cannot list the topics of 127.0.0.1:1 within "
                          "1000 ms");
  sr_topics_report_free(&rep);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_ERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_created_then_fine),
      cmocka_unit_test(test_missing_named_not_created),
      cmocka_unit_test(test_wrong_counts),
      cmocka_unit_test(test_state_follows_input),
      cmocka_unit_test(test_policy_not_checkable_on_mock),
      cmocka_unit_test(test_unreachable),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
