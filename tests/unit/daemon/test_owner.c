/* Tests of partition ownership in cluster mode (src/daemon/owner.c) on
 * librdkafka's mock cluster in this process: the state flush that precedes
 * a checkpoint puts one record per changed user on the state partition of
 * its input partition, and completes only once each is acknowledged; an
 * abandoned flush owes its users to the next one; a checkpoint names only
 * the partitions whose users are held; and an assigned partition is taken
 * over from local state when the group's committed offset is the
 * checkpoint's, else restored from the state topic and resumed at the
 * committed offset. */
#include "codec/cluster_codec.h"
#include "core/share.h"
#include "daemon/config.h"
#include "daemon/owner.h"
#include "kafka/sink.h"
#include "kafka/source.h"
#include "util/log.h"
#include "util/offset.h"

#include <librdkafka/rdkafka.h>
#include <uv.h>

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

#define WAIT_MS 15000
#define DIMS 8
#define MAX_ACKS 32

/* One state record's outcome, kept back from the owner (see hold). */
typedef struct ack {
  rd_kafka_resp_err_t err;
  uint32_t tag;
  size_t len;
} ack_t;

/* An owner with its model and sink, as the daemon wires them. */
typedef struct fix {
  sr_config_t cfg;
  sr_kafka_conf_t kc;
  uv_loop_t loop;
  sr_model_t *mdl;
  sr_sink_t *snk;
  sr_owner_t *o;
  bool hold; /* keep the state records' outcomes in acks instead */
  size_t n_acks;
  ack_t acks[MAX_ACKS];
  int halts;
} fix_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(sr_config_t *cfg, const char *key, const char *value) {
  char errstr[256] = "";
  if (sr_config_set(cfg, key, value, errstr, sizeof(errstr)) != SR_OK)
    fail_msg("%s: %s", key, errstr);
}

static void on_failed(void *opaque, uint32_t row) {
  (void)opaque;
  fail_msg("list of row %u failed: none was published", row);
}

static void on_fatal(void *opaque, const char *why) {
  (void)opaque;
  fail_msg("fatal producer error: %s", why);
}

/* The daemon's on_record hook: state records' outcomes go to the owner. */
static void on_record(void *opaque, rd_kafka_resp_err_t err, uint32_t tag,
                      size_t len) {
  fix_t *f = opaque;
  assert_true(sr_owner_is_record(tag));
  if (!f->hold) {
    sr_owner_delivered(f->o, err, tag, len);
    return;
  }
  assert_true(f->n_acks < MAX_ACKS);
  f->acks[f->n_acks++] = (ack_t){err, tag, len};
}

static void on_halt(void *opaque, const char *why) {
  (void)why;
  ((fix_t *)opaque)->halts++;
}

static sr_model_t *shared_model(void) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = DIMS;
  conf.shared = 1;
  return model_with(&conf);
}

/* Learns an event of user on item from input partition p at offset. */
static void learn(sr_model_t *mdl, const char *user, const char *item,
                  int32_t p, int64_t offset) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 0, 1700000000000LL);
  bool skipped = true;
  assert_int_equal(sr_share_learn(mdl, &ev, p, offset, NULL, &skipped, NULL),
                   SR_OK);
  assert_false(skipped);
}

static void make_topic(const char *topic, int partitions) {
  char errstr[256] = "";
  if (sr_embedded_create_topic(emb, topic, partitions, errstr,
                               sizeof(errstr)) != SR_OK)
    fail_msg("create %s: %s", topic, errstr);
}

/* f's configuration, model and sink; the owner comes from owner_start. */
static fix_t *fix_new(const char *input_topic, const char *group) {
  char errstr[512] = "";
  fix_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  sr_config_init(&f->cfg);
  set(&f->cfg, "kafka.input_topics", input_topic);
  set(&f->cfg, "kafka.group_id", group);
  f->kc = sr_config_kafka(&f->cfg);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->mdl = shared_model();
  sr_sink_hooks_t hooks = {on_failed, on_fatal, f, NULL, on_record};
  f->snk = sr_sink_new(&f->kc, sr_embedded_bootstraps(emb), &hooks, errstr,
                       sizeof(errstr));
  if (!f->snk)
    fail_msg("sr_sink_new: %s", errstr);
  return f;
}

/* The owner of f's model on state_topic, with the loaded checkpoint's
 * offsets offs, borrowing src (NULL while nothing is assigned). */
static void owner_start(fix_t *f, const char *state_topic,
                        const sr_offset_t *offs, size_t n, sr_src_t *src) {
  char errstr[512] = "";
  sr_owner_conf_t conf = {.state_topic = state_topic,
                          .input_topic = f->kc.input_topics,
                          .offsets = offs,
                          .n_offsets = n,
                          .on_halt = on_halt,
                          .opaque = f};
  f->o = sr_owner_new(&f->loop, &conf, &f->kc, sr_embedded_bootstraps(emb),
                      &f->mdl, src, f->snk, errstr, sizeof(errstr));
  if (!f->o)
    fail_msg("sr_owner_new: %s", errstr);
}

static void fix_free(fix_t *f) {
  sr_owner_close(f->o);
  sr_owner_free(f->o);
  sr_sink_free(f->snk);
  sr_model_free(f->mdl);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  assert_int_equal(f->halts, 0);
  free(f);
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

/* A flush from start to checkpoint: sending, then flushed once the sink
 * has nothing in flight, then done. Returns the records it sent. */
static uint64_t flush_through(fix_t *f) {
  uint64_t before = sr_owner_stats(f->o).records_sent;
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  serve_all(f->snk);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FLUSHED);
  sr_owner_flush_done(f->o);
  return sr_owner_stats(f->o).records_sent - before;
}

/* One state record as read back. */
typedef struct rec {
  char key[64];
  int32_t partition;
  uint32_t events;
  int32_t user_partition;
} rec_t;

/* Reads n records of both partitions of topic from their start. */
static void read_state(const char *topic, rec_t *recs, int n) {
  rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, "reader");
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(2);
  for (int32_t p = 0; p < 2; p++)
    rd_kafka_topic_partition_list_add(list, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  int got = 0;
  for (int64_t deadline = now_ms() + WAIT_MS; got < n && now_ms() < deadline;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (!m->err) {
      char err[256] = "";
      sr_user_state_t st;
      rec_t *r = &recs[got++];
      assert_true(m->key_len < sizeof(r->key));
      snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key_len,
               (const char *)m->key);
      r->partition = m->partition;
      if (sr_user_state_decode(m->payload, m->len, DIMS, &st, err,
                               sizeof(err)) != SR_OK)
        fail_msg("record of %s: %s", r->key, err);
      assert_string_equal(st.user_id, r->key);
      r->events = st.events;
      r->user_partition = st.partition;
      sr_user_state_clear(&st);
    }
    rd_kafka_message_destroy(m);
  }
  assert_int_equal(got, n);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

static const rec_t *find_rec(const rec_t *recs, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(recs[i].key, key))
      return &recs[i];
  fail_msg("no record of %s", key);
  return NULL;
}

static bool has_user(const sr_model_t *mdl, const char *user) {
  return sr_model_find_user(mdl, user, strlen(user)) >= 0;
}

static uint32_t events_of(const sr_model_t *mdl, const char *user) {
  int64_t row = sr_model_find_user(mdl, user, strlen(user));
  if (row < 0)
    fail_msg("user %s missing", user);
  return sr_model_user_events(mdl, (uint32_t)row);
}

/* The flush puts one record per user on the state partition of the user's
 * input partition, keyed by user id and carrying its state; it completes
 * once all are acknowledged, and then the users are clean. */
static void test_flush_writes_each_user_once(void **state) {
  (void)state;
  make_topic("st1", 2);
  fix_t *f = fix_new("ev1", "g1");
  owner_start(f, "st1", NULL, 0, NULL);
  learn(f->mdl, "u1", "x", 0, 1);
  learn(f->mdl, "u2", "x", 1, 1);
  learn(f->mdl, "u3", "y", 1, 2);
  learn(f->mdl, "u1", "y", 0, 2);
  learn(f->mdl, "u3", "z", 1, 3);
  learn(f->mdl, "u3", "w", 1, 4);

  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  assert_int_equal(sr_sink_in_flight(f->snk), 3);
  /* Asked again while the records fly, it still waits. */
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  serve_all(f->snk);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FLUSHED);
  sr_owner_flush_done(f->o);
  sr_owner_stats_t st = sr_owner_stats(f->o);
  assert_int_equal(st.records_sent, 3);
  assert_true(st.bytes_sent > 0);
  assert_int_equal(st.records_failed, 0);
  /* Nothing changed since: the next flush has nothing to send. */
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FLUSHED);
  assert_int_equal(sr_sink_in_flight(f->snk), 0);
  sr_owner_flush_done(f->o);

  rec_t recs[3];
  read_state("st1", recs, 3);
  const rec_t *r1 = find_rec(recs, 3, "u1");
  const rec_t *r2 = find_rec(recs, 3, "u2");
  const rec_t *r3 = find_rec(recs, 3, "u3");
  assert_int_equal(r1->partition, 0);
  assert_int_equal(r1->user_partition, 0);
  assert_int_equal(r1->events, 2);
  assert_int_equal(r2->partition, 1);
  assert_int_equal(r2->events, 1);
  assert_int_equal(r3->partition, 1);
  assert_int_equal(r3->user_partition, 1);
  assert_int_equal(r3->events, 3);
  fix_free(f);
}

/* Forwards the outcomes held from first (inclusive) to last (exclusive). */
static void forward(fix_t *f, size_t first, size_t last) {
  for (size_t i = first; i < last; i++)
    sr_owner_delivered(f->o, f->acks[i].err, f->acks[i].tag, f->acks[i].len);
}

/* An abandoned flush leaves its users owed: the next flush sends them
 * again, and the first flush's late acknowledgements do not count for it. */
static void test_abandoned_flush_sends_again(void **state) {
  (void)state;
  make_topic("st2", 2);
  fix_t *f = fix_new("ev2", "g2");
  owner_start(f, "st2", NULL, 0, NULL);
  learn(f->mdl, "u1", "x", 0, 1);
  learn(f->mdl, "u2", "x", 1, 1);
  f->hold = true;

  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  sr_owner_flush_abandon(f->o);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  assert_int_equal(sr_sink_in_flight(f->snk), 4); /* both users, twice */
  serve_all(f->snk);
  assert_int_equal(f->n_acks, 4);
  /* Records go out in order per partition: the first of each pair is the
   * abandoned flush's. Its acknowledgements leave the new one waiting. */
  uint32_t first_tag = f->acks[0].tag;
  ack_t sorted[MAX_ACKS];
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < f->n_acks; i++)
      if ((f->acks[i].tag == first_tag) == (pass == 0))
        sorted[k++] = f->acks[i];
  memcpy(f->acks, sorted, f->n_acks * sizeof(ack_t));
  assert_int_equal(f->acks[1].tag, first_tag);
  assert_int_not_equal(f->acks[2].tag, first_tag);
  forward(f, 0, 2);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  forward(f, 2, 4);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FLUSHED);
  sr_owner_flush_done(f->o);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FLUSHED);
  sr_owner_flush_done(f->o);
  fix_free(f);
}

/* A record lost fails the flush: no checkpoint may follow, and once the
 * daemon abandons it the users stay owed to the next flush. */
static void test_lost_record_fails_the_flush(void **state) {
  (void)state;
  make_topic("st3", 2);
  fix_t *f = fix_new("ev3", "g3");
  owner_start(f, "st3", NULL, 0, NULL);
  learn(f->mdl, "u1", "x", 0, 1);
  learn(f->mdl, "u2", "x", 1, 1);
  f->hold = true;
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_SENDING);
  serve_all(f->snk);
  assert_int_equal(f->n_acks, 2);
  f->acks[0].err = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
  forward(f, 0, 2);
  assert_int_equal(sr_owner_flush(f->o), SR_OWNER_FAILED);
  assert_int_equal(sr_owner_stats(f->o).records_failed, 1);
  sr_owner_flush_abandon(f->o);
  f->hold = false;
  assert_int_equal(flush_through(f), 2);
  fix_free(f);
}

/* A checkpoint names the loaded checkpoint's partitions that were not
 * assigned since and the other topics' entries; a partition revoked, its
 * users dropped, and a partition never held are left out. */
static void test_held_offsets(void **state) {
  (void)state;
  fix_t *f = fix_new("events", "g5");
  sr_offset_t loaded[3];
  set_offset(&loaded[0], "events", 0, 5);
  set_offset(&loaded[1], "events", 1, 7);
  set_offset(&loaded[2], "other", 0, 3);
  owner_start(f, "st5", loaded, 3, NULL);
  learn(f->mdl, "u1", "x", 0, 1);
  learn(f->mdl, "u2", "x", 1, 1);
  learn(f->mdl, "u3", "y", 1, 2);

  sr_offset_t offs[4];
  memcpy(offs, loaded, sizeof(loaded));
  assert_int_equal(sr_owner_held_offsets(f->o, offs, 3), 3);
  assert_int_equal(sr_owner_stats(f->o).pending, 0);

  sr_owner_revoked(f->o, 1);
  assert_true(has_user(f->mdl, "u1"));
  assert_false(has_user(f->mdl, "u2"));
  assert_false(has_user(f->mdl, "u3"));
  memcpy(offs, loaded, sizeof(loaded));
  set_offset(&offs[3], "events", 2, 9);
  assert_int_equal(sr_owner_held_offsets(f->o, offs, 4), 2);
  assert_string_equal(offs[0].topic, "events");
  assert_int_equal(offs[0].partition, 0);
  assert_int_equal(offs[0].offset, 5);
  assert_string_equal(offs[1].topic, "other");
  assert_int_equal(offs[1].offset, 3);
  fix_free(f);
}

/* What the takeover test's source saw. */
typedef struct take {
  fix_t *f;
  int64_t first[2]; /* offset of each partition's first message; -1 none */
  int early;        /* messages of a partition not held yet */
} take_t;

static int on_message(void *opaque, const rd_kafka_message_t *msg) {
  take_t *t = opaque;
  int32_t pending[2];
  size_t n = sr_owner_pending(t->f->o, pending, 2);
  for (size_t i = 0; i < n && i < 2; i++)
    t->early += pending[i] == msg->partition;
  if (msg->partition >= 0 && msg->partition < 2 && t->first[msg->partition] < 0)
    t->first[msg->partition] = msg->offset;
  return 0;
}

static void on_assign(void *opaque) {
  (void)opaque;
}

static void on_commit(void *opaque, sr_err_t err, const char *why,
                      void *commit_opaque) {
  (void)opaque;
  (void)err;
  (void)why;
  (void)commit_opaque;
}

static void on_revoke(void *opaque, const char *topic, int32_t p) {
  (void)topic;
  sr_owner_revoked(((take_t *)opaque)->f->o, p);
}

static void on_assign_part(void *opaque, const char *topic, int32_t p) {
  (void)topic;
  sr_owner_assigned(((take_t *)opaque)->f->o, p);
}

/* Commits offs for group as a member that never joins would. */
static void commit_for(const char *group, const sr_offset_t *offs, size_t n) {
  rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, group);
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new((int)n);
  for (size_t i = 0; i < n; i++)
    rd_kafka_topic_partition_list_add(list, offs[i].topic, offs[i].partition)
        ->offset = offs[i].offset;
  assert_int_equal(rd_kafka_commit(rk, list, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

/* Runs the daemon's loop for f and src until both partitions were handed
 * over from, with the owner's thread-pool query and state reader served. */
static void drive(take_t *t, sr_src_t *src) {
  fix_t *f = t->f;
  for (int64_t deadline = now_ms() + WAIT_MS;;) {
    sr_owner_stats_t st = sr_owner_stats(f->o);
    if (st.kept_parts + st.restored_parts == 2 && t->first[0] >= 0 &&
        t->first[1] >= 0)
      return;
    if (now_ms() > deadline)
      fail_msg("no takeover: kept %u restored %u pending %u first %d %d",
               (unsigned)st.kept_parts, (unsigned)st.restored_parts,
               (unsigned)st.pending, (int)t->first[0], (int)t->first[1]);
    struct pollfd pfd[2] = {{sr_source_fd(src), POLLIN, 0},
                            {sr_owner_fd(f->o), POLLIN, 0}};
    poll(pfd, 2, 20);
    bool more = true;
    while (more)
      sr_source_consume(src, 64, &more);
    more = true;
    while (more)
      sr_owner_serve(f->o, 64, &more);
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
}

/* On assignment, a partition whose committed offset is the checkpoint's
 * keeps its local users and goes on from there; one committed elsewhere
 * (another instance moved it on) gets its users from the state topic,
 * loses the stale local ones, and resumes at the committed offset. Neither
 * hands a message over before its users are in place. */
static void test_takeover(void **state) {
  (void)state;
  make_topic("ev4", 2);
  make_topic("st4", 2);
  produce("ev4", 0, 10);
  produce("ev4", 1, 10);

  /* The instance partition 1 comes from flushed its users. */
  fix_t *prev = fix_new("ev4", "g4");
  owner_start(prev, "st4", NULL, 0, NULL);
  learn(prev->mdl, "p0", "x", 0, 1);
  learn(prev->mdl, "a1", "x", 1, 1);
  learn(prev->mdl, "a1", "y", 1, 2);
  learn(prev->mdl, "a2", "x", 1, 3);
  assert_int_equal(flush_through(prev), 3);
  fix_free(prev);
  sr_offset_t committed[2];
  set_offset(&committed[0], "ev4", 0, 5);
  set_offset(&committed[1], "ev4", 1, 4);
  commit_for("g4", committed, 2);

  /* This instance's checkpoint: partition 0 as committed, 1 further on. */
  sr_offset_t loaded[2];
  set_offset(&loaded[0], "ev4", 0, 5);
  set_offset(&loaded[1], "ev4", 1, 7);
  fix_t *f = fix_new("ev4", "g4");
  learn(f->mdl, "b0", "x", 0, 2);
  learn(f->mdl, "b1", "x", 1, 6);
  take_t t = {f, {-1, -1}, 0};
  char errstr[512] = "";
  /* See test_source.c: a short session, but longer than the first join. */
  sr_config_t cfg = f->cfg;
  set(&cfg, "kafka.properties.session.timeout.ms", "4000");
  set(&cfg, "kafka.properties.heartbeat.interval.ms", "300");
  sr_source_conf_t sc = {.kafka = sr_config_kafka(&cfg),
                         .brokers = sr_embedded_bootstraps(emb),
                         .embedded = true,
                         .offsets = loaded,
                         .n_offsets = 2,
                         .cooperative = true};
  sr_source_hooks_t hooks = {.on_message = on_message,
                             .on_assign = on_assign,
                             .on_commit = on_commit,
                             .opaque = &t,
                             .on_revoke = on_revoke,
                             .on_assign_part = on_assign_part};
  sr_src_t *src = sr_source_new(&sc, &hooks, errstr, sizeof(errstr));
  if (!src)
    fail_msg("sr_source_new: %s", errstr);
  owner_start(f, "st4", loaded, 2, src);
  assert_int_equal(sr_source_subscribe(src, errstr, sizeof(errstr)), SR_OK);
  drive(&t, src);

  sr_owner_stats_t st = sr_owner_stats(f->o);
  assert_int_equal(st.kept_parts, 1);
  assert_int_equal(st.restored_parts, 1);
  assert_int_equal(st.restored_users, 2);
  assert_int_equal(st.pending, 0);
  assert_int_equal(t.early, 0);
  assert_int_equal(t.first[0], 5);
  assert_int_equal(t.first[1], 4);
  assert_true(has_user(f->mdl, "b0"));  /* kept */
  assert_false(has_user(f->mdl, "b1")); /* stale: replaced */
  assert_false(has_user(f->mdl, "p0")); /* state partition 0 is not read */
  assert_int_equal(events_of(f->mdl, "a1"), 2);
  assert_int_equal(events_of(f->mdl, "a2"), 1);
  /* Both partitions are held now: a checkpoint names them. */
  sr_offset_t offs[2];
  memcpy(offs, loaded, sizeof(loaded));
  assert_int_equal(sr_owner_held_offsets(f->o, offs, 2), 2);

  sr_owner_close(f->o);
  sr_source_free(src);
  fix_free(f);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_WARN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flush_writes_each_user_once),
      cmocka_unit_test(test_abandoned_flush_sends_again),
      cmocka_unit_test(test_lost_record_fails_the_flush),
      cmocka_unit_test(test_held_offsets),
      cmocka_unit_test(test_takeover),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
