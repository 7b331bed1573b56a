/* The embedded broker (src/kafka/embedded.c): a plain librdkafka client
 * produces to it and reads the message back, on its random ports and
 * through a fixed port on 127.0.0.1; topics are created with the
 * partitions asked for (the mock's 4 when a client makes one); two brokers
 * are two clusters; a taken port or a bad argument fails with a reason; and
 * stopping it leaves no descriptor open and frees the port. */
#include "kafka/embedded.h"

#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 5000

/* One broker for the tests that need no broker of their own: each stop
 * takes about a second (the mock's threads wind down). */
static sr_embedded_t *shared;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sr_embedded_t *start(int brokers, int port) {
  char errstr[256] = "";
  sr_embedded_t *emb = sr_embedded_new(brokers, port, errstr, sizeof(errstr));
  if (!emb)
    fail_msg("sr_embedded_new(%d, %d): %s", brokers, port, errstr);
  return emb;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstraps) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps,
                                     errstr, sizeof(errstr)),
                   RD_KAFKA_CONF_OK);
  if (type == RD_KAFKA_CONSUMER)
    assert_int_equal(
        rd_kafka_conf_set(conf, "group.id", "test", errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (!rk)
    fail_msg("rd_kafka_new: %s", errstr);
  return rk;
}

static void produce(const char *bootstraps, const char *topic, int32_t part,
                    const char *key, const char *value) {
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstraps);
  assert_int_equal(
      rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_int_equal(rd_kafka_flush(rk, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

/* Reads the first message of topic's partition part and checks it. */
static void consume_one(const char *bootstraps, const char *topic, int32_t part,
                        const char *key, const char *value) {
  rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstraps);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic, part)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  bool got = false;
  for (int64_t end = now_ms() + WAIT_MS; !got && now_ms() < end;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (!m->err) {
      assert_int_equal(m->offset, 0);
      assert_int_equal(m->key_len, strlen(key));
      assert_memory_equal(m->key, key, m->key_len);
      assert_int_equal(m->len, strlen(value));
      assert_memory_equal(m->payload, value, m->len);
      got = true;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  assert_true(got);
}

/* Partitions of topic as the cluster's metadata reports them, -1 when the
 * topic is unknown. */
static int partitions_of(const char *bootstraps, const char *topic) {
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstraps);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  int n = -1;
  for (int64_t end = now_ms() + WAIT_MS; n < 0 && now_ms() < end;) {
    assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, WAIT_MS),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    if (md->topic_cnt == 1 && !md->topics[0].err)
      n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return n;
}

static char *cluster_id(const char *bootstraps) {
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstraps);
  char *id = rd_kafka_clusterid(rk, WAIT_MS);
  assert_non_null(id);
  char *copy = strdup(id);
  rd_kafka_mem_free(rk, id);
  rd_kafka_destroy(rk);
  return copy;
}

/* A port free on 127.0.0.1 right now. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

static bool port_bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
            listen(fd, 1) == 0;
  close(fd);
  return ok;
}

static int open_fds(void) {
  int n = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  while (readdir(dir))
    n++;
  closedir(dir);
  return n;
}

static void test_round_trip(void **state) {
  (void)state;
  const char *boot = sr_embedded_bootstraps(shared);
  assert_non_null(strchr(boot, ':'));
  char errstr[256] = "";
  assert_int_equal(
      sr_embedded_create_topic(shared, "t", 1, errstr, sizeof(errstr)), SR_OK);
  produce(boot, "t", 0, "user-1", "hello");
  consume_one(boot, "t", 0, "user-1", "hello");
}

static void test_topics(void **state) {
  (void)state;
  const char *boot = sr_embedded_bootstraps(shared);
  char errstr[256] = "";
  assert_int_equal(
      sr_embedded_create_topic(shared, "three", 3, errstr, sizeof(errstr)),
      SR_OK);
  assert_int_equal(partitions_of(boot, "three"), 3);
  /* A topic a client uses without creating it gets the mock's default. */
  produce(boot, "made-by-use", RD_KAFKA_PARTITION_UA, "k", "v");
  assert_int_equal(partitions_of(boot, "made-by-use"), 4);
  errstr[0] = '\0';
  assert_int_equal(
      sr_embedded_create_topic(shared, "three", 3, errstr, sizeof(errstr)),
      SR_ERR_INVALID);
  assert_non_null(strstr(errstr, "three"));
  assert_non_null(strstr(errstr, "exist"));
  errstr[0] = '\0';
  assert_int_equal(
      sr_embedded_create_topic(shared, "", 1, errstr, sizeof(errstr)),
      SR_ERR_INVALID);
  assert_true(errstr[0] != '\0');
  assert_int_equal(
      sr_embedded_create_topic(shared, "none", 0, errstr, sizeof(errstr)),
      SR_ERR_INVALID);
  assert_non_null(strstr(errstr, "none"));
}

/* streamrec tells a replaced cluster by its id (checkpointed offsets of
 * another cluster are not applied), so two brokers must differ, and so
 * must one started after another was stopped. */
static void test_distinct_cluster_ids(void **state) {
  (void)state;
  char *id_a = cluster_id(sr_embedded_bootstraps(shared));
  sr_embedded_t *b = start(1, 0);
  char *id_b = cluster_id(sr_embedded_bootstraps(b));
  assert_true(id_a[0] != '\0');
  assert_string_not_equal(id_a, id_b);
  sr_embedded_free(b);
  sr_embedded_t *c = start(1, 0);
  char *id_c = cluster_id(sr_embedded_bootstraps(c));
  assert_string_not_equal(id_c, id_a);
  assert_string_not_equal(id_c, id_b);
  sr_embedded_free(c);
  free(id_a);
  free(id_b);
  free(id_c);
}

static void test_bad_arguments(void **state) {
  (void)state;
  char errstr[256] = "";
  assert_null(sr_embedded_new(0, 0, errstr, sizeof(errstr)));
  assert_non_null(strstr(errstr, "brokers"));
  errstr[0] = '\0';
  assert_null(sr_embedded_new(1, 65536, errstr, sizeof(errstr)));
  assert_non_null(strstr(errstr, "port"));
  assert_null(sr_embedded_new(1, -1, NULL, 0));
}

/* Clients bootstrap through the fixed port, then follow the metadata to
 * the brokers. A second broker cannot take the port; once stopped, the
 * broker leaves no descriptor open (listeners, relays, the forwarder's
 * pipe) and the port free. */
static void test_fixed_port(void **state) {
  (void)state;
  sr_embedded_free(NULL);
  int before = open_fds();
  assert_true(before > 0);
  int port = free_port();
  sr_embedded_t *emb = start(2, port);
  char want[32];
  snprintf(want, sizeof(want), "127.0.0.1:%d", port);
  assert_string_equal(sr_embedded_bootstraps(emb), want);
  char errstr[256] = "";
  assert_int_equal(
      sr_embedded_create_topic(emb, "fixed", 2, errstr, sizeof(errstr)), SR_OK);
  produce(want, "fixed", 1, "k", "through the relay");
  consume_one(want, "fixed", 1, "k", "through the relay");
  sr_embedded_t *other = sr_embedded_new(1, port, errstr, sizeof(errstr));
  assert_null(other);
  assert_non_null(strstr(errstr, want));
  sr_embedded_free(emb);
  assert_int_equal(open_fds(), before);
  assert_true(port_bindable(port));
}

static int setup(void **state) {
  (void)state;
  char errstr[256] = "";
  shared = sr_embedded_new(1, 0, errstr, sizeof(errstr));
  if (!shared)
    fprintf(stderr, "sr_embedded_new: %s\n", errstr);
  return shared ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sr_embedded_free(shared);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_topics),
      cmocka_unit_test(test_distinct_cluster_ids),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_fixed_port),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
