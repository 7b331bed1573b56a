/* Tests of the producer (src/kafka/sink.c) against librdkafka's mock
 * cluster in this process: lists are delivered and reported per user row,
 * and dead letters carry the original bytes and headers plus streamrec's,
 * cut to fit message.max.bytes. What arrived is read back with a plain
 * librdkafka consumer. */
#include "daemon/config.h"
#include "kafka/sink.h"
#include "util/log.h"

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

#define WAIT_MS 10000
#define MAX_ROWS 16

/* What the hooks saw. */
typedef struct seen {
  size_t n_delivered;
  uint32_t delivered[MAX_ROWS];
  int failed;
  int fatal;
  size_t n_records;
  uint32_t record_tag[MAX_ROWS];
  size_t record_len[MAX_ROWS];
  int record_errors;
} seen_t;

static void on_failed(void *opaque, uint32_t row) {
  (void)row;
  ((seen_t *)opaque)->failed++;
}

static void on_fatal(void *opaque, const char *why) {
  (void)why;
  ((seen_t *)opaque)->fatal++;
}

static void on_delivered(void *opaque, uint32_t row) {
  seen_t *s = opaque;
  if (s->n_delivered < MAX_ROWS)
    s->delivered[s->n_delivered] = row;
  s->n_delivered++;
}

static void on_record(void *opaque, rd_kafka_resp_err_t err, uint32_t tag,
                      size_t len) {
  seen_t *s = opaque;
  if (s->n_records < MAX_ROWS) {
    s->record_tag[s->n_records] = tag;
    s->record_len[s->n_records] = len;
  }
  s->n_records++;
  s->record_errors += err != 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sr_sink_t *sink_new(const sr_config_t *cfg, seen_t *seen) {
  char errstr[512] = "";
  sr_sink_hooks_t hooks = {on_failed, on_fatal, seen, on_delivered, on_record};
  sr_kafka_conf_t kc = sr_config_kafka(cfg);
  sr_sink_t *snk = sr_sink_new(&kc, sr_embedded_bootstraps(emb), &hooks, errstr,
                               sizeof(errstr));
  if (!snk)
    fail_msg("sr_sink_new: %s", errstr);
  return snk;
}

/* Serves delivery reports as the daemon's loop does, waking on the pipe,
 * until nothing is in flight. */
static void serve_all(sr_sink_t *snk) {
  int64_t deadline = now_ms() + WAIT_MS;
  while (sr_sink_in_flight(snk) > 0 && now_ms() < deadline) {
    struct pollfd pfd = {.fd = sr_sink_fd(snk), .events = POLLIN};
    poll(&pfd, 1, 20);
    sr_sink_serve(snk);
  }
  assert_int_equal(sr_sink_in_flight(snk), 0);
}

typedef void(check_fn)(const rd_kafka_message_t *m, int i, void *arg);

/* Reads n messages of topic partition 0 from the start with a plain
 * consumer and hands each to check (messages must be gone before their
 * client is destroyed). */
static void read_back(const char *topic, int n, check_fn *check, void *arg) {
  rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, "reader");
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  int got = 0;
  for (int64_t deadline = now_ms() + WAIT_MS; got < n && now_ms() < deadline;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    check(m, got++, arg);
    rd_kafka_message_destroy(m);
  }
  assert_int_equal(got, n);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

/* The value of header name as text ("" with a failed assertion when it is
 * missing). */
static const char *header(const rd_kafka_message_t *m, const char *name,
                          char *buf, size_t len) {
  rd_kafka_headers_t *hdrs = NULL;
  const void *value = NULL;
  size_t size = 0;
  assert_int_equal(rd_kafka_message_headers(m, &hdrs),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  if (rd_kafka_header_get_last(hdrs, name, &value, &size))
    fail_msg("header %s missing", name);
  snprintf(buf, len, "%.*s", (int)size, (const char *)value);
  return buf;
}

static void make_topic(const char *topic) {
  char errstr[256] = "";
  if (sr_embedded_create_topic(emb, topic, 1, errstr, sizeof(errstr)) != SR_OK)
    fail_msg("create %s: %s", topic, errstr);
}

static void check_list(const rd_kafka_message_t *m, int i, void *arg) {
  const char *const *users = arg;
  char want[32];
  snprintf(want, sizeof(want), "list-of-%s", users[i]);
  assert_int_equal(m->key_len, strlen(users[i]));
  assert_memory_equal(m->key, users[i], m->key_len);
  assert_int_equal(m->len, strlen(want));
  assert_memory_equal(m->payload, want, m->len);
}

/* Lists are delivered keyed by user id; each acknowledged list is reported
 * with its user row, counted, and nothing stays in flight. */
static void test_lists_delivered(void **state) {
  (void)state;
  make_topic("lists");
  sr_config_t cfg;
  sr_config_init(&cfg);
  seen_t seen = {0};
  sr_sink_t *snk = sink_new(&cfg, &seen);
  const char *users[] = {"alice", "bob", "carol"};
  for (uint32_t i = 0; i < 3; i++) {
    char list[32];
    int len = snprintf(list, sizeof(list), "list-of-%s", users[i]);
    assert_int_equal(sr_sink_publish(snk, "lists", users[i], strlen(users[i]),
                                     list, (size_t)len, 10 + i),
                     SR_OK);
  }
  assert_int_equal(sr_sink_in_flight(snk), 3);
  assert_int_equal(sr_sink_stats(snk).published, 3);
  serve_all(snk);

  assert_int_equal(seen.n_delivered, 3);
  for (uint32_t i = 0; i < 3; i++)
    assert_int_equal(seen.delivered[i], 10 + i); /* one partition: in order */
  assert_int_equal(seen.failed, 0);
  assert_int_equal(seen.fatal, 0);
  sr_sink_stats_t st = sr_sink_stats(snk);
  assert_int_equal(st.published, 3);
  assert_int_equal(st.delivered, 3);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.dead_letters, 0);
  assert_int_equal(st.dead_failed, 0);
  sr_sink_free(snk);

  read_back("lists", 3, check_list, users);
}

static void check_record(const rd_kafka_message_t *m, int i, void *arg) {
  (void)arg;
  assert_int_equal(m->key_len, 8);
  assert_memory_equal(m->key, "member-1", 8);
  assert_int_equal(m->len, (size_t)(i + 1) * 100);
}

/* Records of another kind (item deltas) come back through on_record with
 * their tag, counted apart from lists, and hold the sink in flight until
 * then. */
static void test_records_delivered(void **state) {
  (void)state;
  make_topic("deltas");
  sr_config_t cfg;
  sr_config_init(&cfg);
  seen_t seen = {0};
  sr_sink_t *snk = sink_new(&cfg, &seen);
  char payload[300] = {0};
  for (uint32_t i = 0; i < 3; i++)
    assert_int_equal(sr_sink_produce(snk, "deltas", RD_KAFKA_PARTITION_UA,
                                     "member-1", 8, payload, (i + 1) * 100,
                                     1000000 + i),
                     SR_OK);
  assert_int_equal(sr_sink_in_flight(snk), 3);
  serve_all(snk);
  assert_int_equal(seen.n_records, 3);
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(seen.record_tag[i], 1000000 + i);
    assert_int_equal(seen.record_len[i], (i + 1) * 100);
  }
  assert_int_equal(seen.record_errors, 0);
  assert_int_equal(seen.n_delivered, 0); /* not lists */
  sr_sink_stats_t st = sr_sink_stats(snk);
  assert_int_equal(st.records, 3);
  assert_int_equal(st.record_bytes, 600);
  assert_int_equal(st.records_failed, 0);
  assert_int_equal(st.delivered, 0);
  assert_int_equal(st.dead_letters, 0);
  sr_sink_free(snk);
  read_back("deltas", 3, check_record, NULL);
}

static void check_dead_letter(const rd_kafka_message_t *m, int i, void *arg) {
  (void)i;
  (void)arg;
  char buf[256];
  assert_int_equal(m->key_len, 2);
  assert_memory_equal(m->key, "k1", 2);
  assert_int_equal(m->len, 9);
  assert_memory_equal(m->payload, "{not json", 9);
  assert_string_equal(header(m, "trace-id", buf, sizeof(buf)), "abc123");
  assert_string_equal(header(m, "origin", buf, sizeof(buf)), "web");
  assert_string_equal(header(m, "streamrec-error", buf, sizeof(buf)),
                      "malformed");
  assert_string_equal(header(m, "streamrec-error-detail", buf, sizeof(buf)),
                      "line 1: unexpected end");
  assert_string_equal(header(m, "streamrec-source-topic", buf, sizeof(buf)),
                      "events");
  assert_string_equal(header(m, "streamrec-source-partition", buf, sizeof(buf)),
                      "3");
  assert_string_equal(header(m, "streamrec-source-offset", buf, sizeof(buf)),
                      "4567");
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_message_headers(m, &hdrs);
  assert_int_equal(
      rd_kafka_header_get_last(hdrs, "streamrec-truncated", NULL, NULL),
      RD_KAFKA_RESP_ERR__NOENT);
  assert_int_equal(
      rd_kafka_header_get_last(hdrs, "streamrec-schema-id", NULL, NULL),
      RD_KAFKA_RESP_ERR__NOENT);
}

static void check_schema_id(const rd_kafka_message_t *m, int i, void *arg) {
  (void)i;
  (void)arg;
  char buf[64];
  assert_string_equal(header(m, "streamrec-schema-id", buf, sizeof(buf)),
                      "4294967295");
  assert_string_equal(header(m, "streamrec-error", buf, sizeof(buf)),
                      "decode_error");
}

/* A message framed for the Schema Registry names its schema id. */
static void test_dead_letter_schema_id(void **state) {
  (void)state;
  make_topic("dead-framed");
  sr_config_t cfg;
  sr_config_init(&cfg);
  seen_t seen = {0};
  sr_sink_t *snk = sink_new(&cfg, &seen);
  sr_dead_letter_t dl = {.topic = "dead-framed",
                         .payload = "\0\xff\xff\xff\xff\x01",
                         .len = 6,
                         .reason = "decode_error",
                         .detail = "avro: 1 bytes are not a record",
                         .src_topic = "clicks",
                         .framed = true,
                         .schema_id = 0xFFFFFFFFu};
  assert_int_equal(sr_sink_dead_letter(snk, &dl), SR_OK);
  serve_all(snk);
  assert_int_equal(sr_sink_stats(snk).dead_letters, 1);
  sr_sink_free(snk);
  read_back("dead-framed", 1, check_schema_id, NULL);
}

/* A dead letter is the original key, value and headers, with streamrec's
 * headers naming why and where it came from. */
static void test_dead_letter_headers(void **state) {
  (void)state;
  make_topic("dead");
  sr_config_t cfg;
  sr_config_init(&cfg);
  seen_t seen = {0};
  sr_sink_t *snk = sink_new(&cfg, &seen);
  rd_kafka_headers_t *orig = rd_kafka_headers_new(2);
  rd_kafka_header_add(orig, "trace-id", -1, "abc123", -1);
  rd_kafka_header_add(orig, "origin", -1, "web", -1);
  sr_dead_letter_t dl = {.headers = orig,
                         .topic = "dead",
                         .key = "k1",
                         .key_len = 2,
                         .payload = "{not json",
                         .len = 9,
                         .reason = "malformed",
                         .detail = "line 1: unexpected end",
                         .src_topic = "events",
                         .src_partition = 3,
                         .src_offset = 4567};
  assert_int_equal(sr_sink_dead_letter(snk, &dl), SR_OK);
  rd_kafka_headers_destroy(orig); /* copied */
  assert_int_equal(sr_sink_in_flight(snk), 1);
  serve_all(snk);
  sr_sink_stats_t st = sr_sink_stats(snk);
  assert_int_equal(st.dead_letters, 1);
  assert_int_equal(st.dead_failed, 0);
  assert_int_equal(st.delivered, 0);
  assert_int_equal(seen.n_delivered, 0); /* lists only */
  sr_sink_free(snk);

  read_back("dead", 1, check_dead_letter, NULL);
}

static void check_truncated(const rd_kafka_message_t *m, int i, void *arg) {
  (void)i;
  const char *payload = arg;
  char buf[64];
  assert_true(m->len > 0 && m->len < 10000);
  assert_memory_equal(m->payload, payload, m->len);
  assert_int_equal(m->key_len, 3);
  assert_string_equal(header(m, "streamrec-truncated", buf, sizeof(buf)),
                      "50000");
  assert_string_equal(header(m, "streamrec-source-offset", buf, sizeof(buf)),
                      "9");
}

/* A dead letter larger than the producer's message.max.bytes arrives cut
 * to fit, its value a prefix of the original, with streamrec-truncated
 * giving the original size. */
static void test_dead_letter_truncated(void **state) {
  (void)state;
  make_topic("dead-big");
  sr_config_t cfg;
  char errstr[256] = "";
  sr_config_init(&cfg);
  assert_int_equal(sr_config_set(&cfg, "kafka.properties.message.max.bytes",
                                 "10000", errstr, sizeof(errstr)),
                   SR_OK);
  seen_t seen = {0};
  sr_sink_t *snk = sink_new(&cfg, &seen);
  enum { BIG = 50000 };
  char *payload = malloc(BIG);
  assert_non_null(payload);
  for (size_t i = 0; i < BIG; i++)
    payload[i] = (char)('a' + i % 26);
  sr_dead_letter_t dl = {.topic = "dead-big",
                         .key = "big",
                         .key_len = 3,
                         .payload = payload,
                         .len = BIG,
                         .reason = "too_large",
                         .detail = "event larger than input.max_message_bytes",
                         .src_topic = "events",
                         .src_partition = 0,
                         .src_offset = 9};
  assert_int_equal(sr_sink_dead_letter(snk, &dl), SR_OK);
  serve_all(snk);
  sr_sink_stats_t st = sr_sink_stats(snk);
  assert_int_equal(st.dead_letters, 1);
  assert_int_equal(st.dead_failed, 0);
  sr_sink_free(snk);

  read_back("dead-big", 1, check_truncated, payload);
  free(payload);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_WARN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_delivered),
      cmocka_unit_test(test_records_delivered),
      cmocka_unit_test(test_dead_letter_headers),
      cmocka_unit_test(test_dead_letter_schema_id),
      cmocka_unit_test(test_dead_letter_truncated),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
