/* The daemon's loop (src/daemon/loop.c) driven in this process against the
 * embedded broker, as `streamrec run` drives it: events produced to the
 * input topic come back as one list per user on the output topic, keyed by
 * the user's id, recommend.n items long and without the items the user
 * already had; SIGTERM stops it cleanly (exit 0, lists delivered, a final
 * checkpoint holding every event and the input offsets); --until end stops
 * by itself once the end offsets are reached. A broker that cannot start
 * here makes the test a skip (77). */
#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "daemon/config.h"
#include "daemon/loop.h"
#include "kafka/embedded.h"
#include "store/checkpoint.h"
#include "util/log.h"
#include "util/now.h"

#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

#define WAIT_MS 15000
#define N_USERS 4
#define LIST_N 4
#define IN_PARTS 2

static sr_embedded_t *emb;

/* The events of one run: user u (partition u % IN_PARTS) had the items
 * u*per_user ... u*per_user+per_user-1, the users of a partition in turn.
 * The partitions may be consumed one after the other, so a user's list is
 * filled from the items of the other user of its partition: with per_user
 * > LIST_N, LIST_N of them are known by the user's last event. */
typedef struct workload {
  const char *topic;
  int per_user;
  int64_t ts0;
  int64_t per_part[IN_PARTS]; /* messages produced to each partition */
} workload_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void user_name(int u, char *out, size_t len) {
  snprintf(out, len, "user-%d", u);
}

static void item_name(const workload_t *w, int u, int k, char *out,
                      size_t len) {
  snprintf(out, len, "item-%d", u * w->per_user + k);
}

static rd_kafka_t *client(rd_kafka_type_t type) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                     sr_embedded_bootstraps(emb), errstr,
                                     sizeof(errstr)),
                   RD_KAFKA_CONF_OK);
  /* The reader assigns itself the partition; the end of it is reported so
   * that reading all that is there stops there. */
  if (type == RD_KAFKA_CONSUMER)
    assert_true(rd_kafka_conf_set(conf, "group.id", "reader", errstr,
                                  sizeof(errstr)) == RD_KAFKA_CONF_OK &&
                rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr,
                                  sizeof(errstr)) == RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (!rk)
    fail_msg("rd_kafka_new: %s", errstr);
  return rk;
}

static void make_topic(const char *topic, int partitions) {
  char errstr[256] = "";
  if (sr_embedded_create_topic(emb, topic, partitions, errstr,
                               sizeof(errstr)) != SR_OK)
    fail_msg("create %s: %s", topic, errstr);
}

/* Produces the workload's events as protobuf Events keyed by user, the
 * round-robin over users so that each partition interleaves them. */
static void produce_events(workload_t *w) {
  rd_kafka_t *rk = client(RD_KAFKA_PRODUCER);
  sr_buf_t buf = {0};
  w->ts0 = sr_now_ms() - 60000;
  for (int k = 0; k < w->per_user; k++) {
    for (int u = 0; u < N_USERS; u++) {
      sr_event_t ev = {.type = SR_EV_CLICK, .value = 1};
      user_name(u, ev.user_id, sizeof(ev.user_id));
      item_name(w, u, k, ev.item_id, sizeof(ev.item_id));
      ev.user_len = (uint16_t)strlen(ev.user_id);
      ev.item_len = (uint16_t)strlen(ev.item_id);
      ev.timestamp_ms = w->ts0 + k;
      buf.len = 0;
      assert_int_equal(sr_event_encode_proto(&ev, &buf), 0);
      int32_t part = u % IN_PARTS;
      assert_int_equal(
          rd_kafka_producev(
              rk, RD_KAFKA_V_TOPIC(w->topic), RD_KAFKA_V_PARTITION(part),
              RD_KAFKA_V_KEY(ev.user_id, ev.user_len),
              RD_KAFKA_V_VALUE(buf.data, buf.len),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      w->per_part[part]++;
    }
  }
  assert_int_equal(rd_kafka_flush(rk, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
  sr_buf_free(&buf);
  rd_kafka_destroy(rk);
}

/* The lists read from the output topic: per user, how many and the last. */
typedef struct lists {
  int count[N_USERS];
  sr_recs_t last[N_USERS];
  int foreign; /* keys naming no user of the workload */
} lists_t;

static void lists_clear(lists_t *l) {
  for (int u = 0; u < N_USERS; u++)
    sr_recs_clear(&l->last[u]);
}

static bool all_listed(const lists_t *l) {
  for (int u = 0; u < N_USERS; u++) {
    if (!l->count[u])
      return false;
  }
  return true;
}

/* Takes one output message: its key must be the user_id it carries. */
static void take_list(lists_t *l, const rd_kafka_message_t *m) {
  sr_recs_t recs = {0};
  char errstr[256] = "";
  if (sr_recs_decode(m->payload, m->len, SR_WIRE_AUTO, &recs, errstr,
                     sizeof(errstr)) != SR_OK) {
    l->foreign++;
    return;
  }
  int user = -1;
  for (int u = 0; u < N_USERS; u++) {
    char name[32];
    user_name(u, name, sizeof(name));
    if (m->key_len == strlen(name) && !memcmp(m->key, name, m->key_len) &&
        !strcmp(recs.user_id, name))
      user = u;
  }
  if (user < 0) {
    l->foreign++;
    sr_recs_clear(&recs);
    return;
  }
  l->count[user]++;
  sr_recs_clear(&l->last[user]);
  l->last[user] = recs;
}

/* A consumer of the output topic's only partition, from the start. */
static rd_kafka_t *output_reader(const char *topic) {
  rd_kafka_t *rk = client(RD_KAFKA_CONSUMER);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  return rk;
}

/* Reads lists until stop(l) or the deadline, or, with stop NULL, until the
 * topic has nothing more (the end reached). */
static void read_lists(rd_kafka_t *rk, lists_t *l,
                       bool (*stop)(const lists_t *), int64_t deadline) {
  while (now_ms() < deadline && !(stop && stop(l))) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    bool end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    if (!m->err)
      take_list(l, m);
    rd_kafka_message_destroy(m);
    if (end && !stop)
      break;
  }
}

/* What the watcher thread saw while the loop ran. */
typedef struct watch {
  const char *topic;
  lists_t lists;
  bool timed_out;
} watch_t;

/* Reads the output until every user has a list, then stops the daemon as
 * an operator would, with SIGTERM (also after the deadline, so that a
 * failing test still ends). */
static void *watcher(void *arg) {
  watch_t *w = arg;
  rd_kafka_t *rk = output_reader(w->topic);
  read_lists(rk, &w->lists, all_listed, now_ms() + WAIT_MS);
  w->timed_out = !all_listed(&w->lists);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  kill(getpid(), SIGTERM);
  return NULL;
}

static void set(sr_config_t *cfg, const char *key, const char *value) {
  char errstr[256] = "";
  if (sr_config_set(cfg, key, value, errstr, sizeof(errstr)) != SR_OK)
    fail_msg("%s: %s", key, errstr);
}

/* A configuration as `run --set ...` would build it. */
static void conf_for(sr_config_t *cfg, const char *in, const char *out,
                     const char *group, const char *dir) {
  char n[16];
  snprintf(n, sizeof(n), "%d", LIST_N);
  sr_config_init(cfg);
  set(cfg, "kafka.brokers", sr_embedded_bootstraps(emb));
  set(cfg, "kafka.input_topics", in);
  set(cfg, "kafka.output_topic", out);
  set(cfg, "kafka.group_id", group);
  set(cfg, "checkpoint.dir", dir);
  set(cfg, "metrics.listen", "off");
  set(cfg, "recommend.n", n);
  /* Info, for the line that says why the loop stopped. */
  set(cfg, "log.level", getenv("SR_TEST_DEBUG") ? "debug" : "info");
}

static sr_daemon_t *daemon_new(const sr_config_t *cfg, bool until_end) {
  sr_run_opts_t opts = {.from = SR_FROM_EARLIEST, .until_end = until_end};
  sr_err_t err = SR_OK;
  char errstr[1024] = "";
  sr_daemon_t *d = sr_daemon_new(cfg, &opts, &err, errstr, sizeof(errstr));
  if (!d)
    fail_msg("sr_daemon_new: %s (%s)", errstr, sr_err_str(err));
  return d;
}

static void scratch_dir(char *dir, size_t len) {
  snprintf(dir, len, "/tmp/sr-test-loop-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

/* Every user's last list: keyed by its id, LIST_N items, none of them an
 * item the user had, stamped with the time of the user's last event. */
static void check_lists(const workload_t *w, const lists_t *l) {
  assert_int_equal(l->foreign, 0);
  for (int u = 0; u < N_USERS; u++) {
    const sr_recs_t *recs = &l->last[u];
    if (l->count[u] == 0)
      fail_msg("no list for user %d", u);
    assert_int_equal(recs->n_items, LIST_N);
    assert_int_equal(recs->event_timestamp_ms, w->ts0 + w->per_user - 1);
    assert_true(recs->model_version > 0);
    for (size_t i = 0; i < recs->n_items; i++) {
      for (int k = 0; k < w->per_user; k++) {
        char seen[32];
        item_name(w, u, k, seen, sizeof(seen));
        if (!strcmp(recs->items[i].item_id, seen))
          fail_msg("user %d was recommended %s, which it had", u, seen);
      }
      for (size_t j = 0; j < i; j++)
        assert_string_not_equal(recs->items[i].item_id, recs->items[j].item_id);
    }
  }
}

/* The newest checkpoint holds every event and, per input partition, the
 * offset after the last message. */
static void check_checkpoint(const char *dir, const workload_t *w) {
  sr_ckpt_t *ckpt = NULL;
  char path[4096], errstr[512] = "";
  if (sr_ckpt_load_newest(dir, &ckpt, path, sizeof(path), NULL, NULL, errstr,
                          sizeof(errstr)) != SR_OK)
    fail_msg("no checkpoint in %s: %s", dir, errstr);
  const sr_ckpt_meta_t *meta = sr_ckpt_meta(ckpt);
  assert_int_equal(meta->events_applied, (uint64_t)(N_USERS * w->per_user));
  assert_int_equal(meta->users, N_USERS);
  assert_int_equal(meta->n_offsets, IN_PARTS);
  for (int32_t p = 0; p < IN_PARTS; p++) {
    bool found = false;
    for (size_t i = 0; i < meta->n_offsets; i++) {
      const sr_offset_t *o = &meta->offsets[i];
      if (strcmp(o->topic, w->topic) || o->partition != p)
        continue;
      assert_int_equal(o->offset, w->per_part[p]);
      found = true;
    }
    if (!found)
      fail_msg("checkpoint has no offset for %s/%d", w->topic, (int)p);
  }
  sr_ckpt_free(ckpt);
}

static void test_lists_then_sigterm(void **state) {
  (void)state;
  workload_t w = {.topic = "events-term", .per_user = LIST_N + 2};
  make_topic(w.topic, IN_PARTS);
  make_topic("recs-term", 1);
  produce_events(&w);
  char dir[64];
  scratch_dir(dir, sizeof(dir));
  sr_config_t cfg;
  conf_for(&cfg, w.topic, "recs-term", "loop-term", dir);
  sr_daemon_t *d = daemon_new(&cfg, false);
  watch_t watch = {.topic = "recs-term"};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, watcher, &watch), 0);
  int64_t started = now_ms();
  capture_start();
  int rc = sr_daemon_run(d);
  int64_t took = now_ms() - started;
  pthread_join(thread, NULL);
  sr_daemon_free(d);
  char *log = captured();
  assert_false(watch.timed_out);
  assert_int_equal(rc, 0);
  /* Stopped by the signal, with every event applied. */
  char want[64];
  snprintf(want, sizeof(want), "reason=SIGTERM events_applied=%d",
           N_USERS * w.per_user);
  if (!strstr(log, want))
    fail_msg("no '%s' in the log:\n%s", want, log);
  free(log);
  /* The stop is clean, not the drain's deadline running out. */
  assert_true(took < WAIT_MS);
  /* Every list published before the exit was delivered: read them all. */
  lists_t all = {0};
  rd_kafka_t *rk = output_reader("recs-term");
  read_lists(rk, &all, NULL, now_ms() + WAIT_MS);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  check_lists(&w, &all);
  check_checkpoint(dir, &w);
  lists_clear(&watch.lists);
  lists_clear(&all);
  remove_tree(dir);
}

/* --until end: the loop stops by itself, exit 0, once every partition's
 * end offset taken at the start is applied and the lists are delivered. */
static void test_until_end(void **state) {
  (void)state;
  workload_t w = {.topic = "events-until", .per_user = LIST_N + 1};
  make_topic(w.topic, IN_PARTS);
  make_topic("recs-until", 1);
  produce_events(&w);
  char dir[64];
  scratch_dir(dir, sizeof(dir));
  sr_config_t cfg;
  conf_for(&cfg, w.topic, "recs-until", "loop-until", dir);
  sr_daemon_t *d = daemon_new(&cfg, true);
  capture_start();
  int rc = sr_daemon_run(d);
  sr_daemon_free(d);
  char *log = captured();
  assert_int_equal(rc, 0);
  if (!strstr(log, "reason=\"end offsets reached\""))
    fail_msg("no 'end offsets reached' in the log:\n%s", log);
  free(log);
  lists_t all = {0};
  rd_kafka_t *rk = output_reader("recs-until");
  read_lists(rk, &all, NULL, now_ms() + WAIT_MS);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  check_lists(&w, &all);
  check_checkpoint(dir, &w);
  lists_clear(&all);
  remove_tree(dir);
}

static int setup(void **state) {
  (void)state;
  return emb ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sr_embedded_free(emb);
  emb = NULL;
  return 0;
}

int main(void) {
  char errstr[256] = "";
  sr_log_set_level(SR_LOG_WARN);
  emb = sr_embedded_new(1, 0, errstr, sizeof(errstr));
  if (!emb) {
    printf("SKIP: the embedded broker cannot start here: %s\n", errstr);
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists_then_sigterm),
      cmocka_unit_test(test_until_end),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
