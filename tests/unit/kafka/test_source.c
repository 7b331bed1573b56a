/* Tests of the group consumer (src/kafka/source.c) against librdkafka's
 * mock cluster in this process: where a partition starts (--from, a
 * checkpoint's offsets), what is handed over and recorded, halting, a
 * rebalance, a partition's position forgotten, a log that went backwards,
 * --until end and the lag. Each test uses topics and groups of its own on
 * one broker; every fresh group takes the mock's 3 s initial rebalance
 * delay, so the tests that need several groups run them side by side. */
#include "daemon/config.h"
#include "kafka/source.h"
#include "util/log.h"
#include "util/offset.h"

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

#define MAX_SEEN 256
/* Upper bound for anything a test waits for (a group join takes ~3 s). */
#define WAIT_MS 15000

/* Messages taken per sr_source_consume call (see test_until_end). */
static size_t budget = 64;

/* What the hooks of one source saw. */
typedef struct seen {
  size_t n;
  int32_t partition[MAX_SEEN];
  int64_t offset[MAX_SEEN];
  int64_t fail_at; /* on_message returns -1 for this offset; -1 never */
  int assigns;
  int halts;
  char why[256];
  int revokes;
  int32_t revoked[8];
  int assigned_parts;
  int32_t assigned_part[8];
} seen_t;

/* One source under test with its configuration. */
typedef struct tsrc {
  sr_config_t cfg;
  seen_t seen;
  sr_src_t *src;
} tsrc_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_message(void *opaque, const rd_kafka_message_t *msg) {
  seen_t *s = opaque;
  if (msg->offset == s->fail_at)
    return -1;
  if (s->n < MAX_SEEN) {
    s->partition[s->n] = msg->partition;
    s->offset[s->n] = msg->offset;
  }
  s->n++;
  return 0;
}

static void on_assign(void *opaque) {
  ((seen_t *)opaque)->assigns++;
}

static void on_halt(void *opaque, const char *why) {
  seen_t *s = opaque;
  s->halts++;
  snprintf(s->why, sizeof(s->why), "%s", why);
}

static void on_revoke(void *opaque, const char *topic, int32_t partition) {
  seen_t *s = opaque;
  (void)topic;
  if (s->revokes < 8)
    s->revoked[s->revokes] = partition;
  s->revokes++;
}

static void on_assign_part(void *opaque, const char *topic, int32_t partition) {
  seen_t *s = opaque;
  (void)topic;
  if (s->assigned_parts < 8)
    s->assigned_part[s->assigned_parts] = partition;
  s->assigned_parts++;
}

static void set(sr_config_t *cfg, const char *key, const char *value) {
  char errstr[256] = "";
  if (sr_config_set(cfg, key, value, errstr, sizeof(errstr)) != SR_OK)
    fail_msg("%s: %s", key, errstr);
}

/* A configuration for topic and group. The mock rebalances a group that
 * is up after session.timeout.ms - 1 s, so the session is kept short; but
 * the first join takes 3 s, and a session shorter than that expires the
 * members before the group ever forms. SR_TEST_KDEBUG=cgrp,... turns on
 * librdkafka's debug contexts (with SR_TEST_DEBUG=1 to show them). */
static void conf_for(sr_config_t *cfg, const char *topic, const char *group) {
  sr_config_init(cfg);
  set(cfg, "kafka.input_topics", topic);
  set(cfg, "kafka.group_id", group);
  set(cfg, "kafka.properties.session.timeout.ms", "4000");
  set(cfg, "kafka.properties.heartbeat.interval.ms", "300");
  if (getenv("SR_TEST_KDEBUG"))
    set(cfg, "kafka.properties.debug", getenv("SR_TEST_KDEBUG"));
}

/* Starts t on topic in group: conf's cfg, brokers, embedded and hooks are
 * filled in here, the rest comes from conf. */
static void start(tsrc_t *t, const char *topic, const char *group,
                  sr_source_conf_t conf) {
  char errstr[512] = "";
  memset(t, 0, sizeof(*t));
  t->seen.fail_at = -1;
  conf_for(&t->cfg, topic, group);
  conf.kafka = sr_config_kafka(&t->cfg);
  conf.brokers = sr_embedded_bootstraps(emb);
  conf.embedded = true;
  sr_source_hooks_t hooks = {.on_message = on_message,
                             .on_assign = on_assign,
                             .opaque = &t->seen,
                             .on_halt = on_halt,
                             .on_revoke = on_revoke,
                             .on_assign_part = on_assign_part};
  t->src = sr_source_new(&conf, &hooks, errstr, sizeof(errstr));
  if (!t->src)
    fail_msg("sr_source_new: %s", errstr);
  assert_int_equal(sr_source_subscribe(t->src, errstr, sizeof(errstr)), SR_OK);
}

static void stop(tsrc_t *t) {
  sr_source_free(t->src);
  t->src = NULL;
}

/* Consumes from every source (NULL entries skipped) the way the daemon's
 * loop does, waking on their pipes, until done(arg) or ms passed. Returns
 * done's last answer. */
static bool drive(tsrc_t **ts, size_t n, int ms, bool (*done)(void *),
                  void *arg) {
  int64_t deadline = now_ms() + ms;
  for (;;) {
    struct pollfd pfds[4];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 4; i++) {
      if (!ts[i] || !ts[i]->src)
        continue;
      bool more = true;
      while (more) {
        sr_source_consume(ts[i]->src, budget, &more);
        if (done && done(arg))
          return true;
      }
      pfds[k++] =
          (struct pollfd){.fd = sr_source_fd(ts[i]->src), .events = POLLIN};
    }
    if (done && done(arg))
      return true;
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return done ? done(arg) : true;
    poll(pfds, k, left < 20 ? (int)left : 20);
  }
}

static bool drive_one(tsrc_t *t, int ms, bool (*done)(void *), void *arg) {
  return drive(&t, 1, ms, done, arg);
}

/* done() conditions. */
static bool assigned(void *arg) {
  return sr_source_assigned(((tsrc_t *)arg)->src) > 0;
}

typedef struct count_goal {
  tsrc_t *t;
  size_t n;
} count_goal_t;

static bool has_count(void *arg) {
  count_goal_t *g = arg;
  return g->t->seen.n >= g->n;
}

typedef struct two_goals {
  count_goal_t a, b;
} two_goals_t;

static bool both_counts(void *arg) {
  two_goals_t *g = arg;
  return has_count(&g->a) && has_count(&g->b);
}

static bool both_assigned(void *arg) {
  tsrc_t **ts = arg;
  return assigned(ts[0]) && assigned(ts[1]);
}

static void make_topic(const char *topic, int partitions) {
  char errstr[256] = "";
  if (sr_embedded_create_topic(emb, topic, partitions, errstr,
                               sizeof(errstr)) != SR_OK)
    fail_msg("create %s: %s", topic, errstr);
}

/* The next offset sr_source_offsets reports for partition p, or -2 when it
 * reports none. */
static int64_t next_of(const tsrc_t *t, const char *topic, int32_t p) {
  sr_offset_t *offs = NULL;
  ssize_t n = sr_source_offsets(t->src, &offs);
  assert_true(n >= 0);
  int64_t next = -2;
  for (ssize_t i = 0; i < n; i++) {
    if (offs[i].partition == p && !strcmp(offs[i].topic, topic))
      next = offs[i].offset;
  }
  free(offs);
  return next;
}

/* The lowest offset handed over on partition p, or -1. */
static int64_t lowest_seen(const seen_t *s, int32_t p) {
  int64_t low = -1;
  for (size_t i = 0; i < s->n && i < MAX_SEEN; i++) {
    if (s->partition[i] == p && (low < 0 || s->offset[i] < low))
      low = s->offset[i];
  }
  return low;
}

static size_t count_seen(const seen_t *s, int32_t p) {
  size_t n = 0;
  for (size_t i = 0; i < s->n && i < MAX_SEEN; i++)
    n += s->partition[i] == p;
  return n;
}

/* The first offset handed over on partition p at or after the from-th
 * message, or -1. */
static int64_t first_seen_since(const seen_t *s, size_t from, int32_t p) {
  for (size_t i = from; i < s->n && i < MAX_SEEN; i++) {
    if (s->partition[i] == p)
      return s->offset[i];
  }
  return -1;
}

static size_t count_seen_since(const seen_t *s, size_t from, int32_t p) {
  size_t n = 0;
  for (size_t i = from; i < s->n && i < MAX_SEEN; i++)
    n += s->partition[i] == p;
  return n;
}

/* From the from-th message on, those of one partition arrive in offset
 * order, each once. */
static void assert_in_order_since(const seen_t *s, size_t from) {
  for (size_t i = from; i < s->n && i < MAX_SEEN; i++) {
    for (size_t j = i + 1; j < s->n && j < MAX_SEEN; j++) {
      if (s->partition[i] == s->partition[j] && s->offset[j] <= s->offset[i])
        fail_msg("partition %d: offset %lld after %lld", (int)s->partition[i],
                 (long long)s->offset[j], (long long)s->offset[i]);
    }
  }
}

static void assert_in_order(const seen_t *s) {
  assert_in_order_since(s, 0);
}

static bool lag_known(void *arg) {
  return sr_source_lag(((tsrc_t *)arg)->src) >= 0;
}

/* A fresh group starts each partition per --from: earliest hands over the
 * whole log, latest only what is produced after the assignment. After N
 * messages, each partition's next offset is its last offset + 1. */
static void test_from_earliest_and_latest(void **state) {
  (void)state;
  make_topic("from", 2);
  produce("from", 0, 3);
  produce("from", 1, 2);
  tsrc_t early, late;
  start(&early, "from", "from-early", (sr_source_conf_t){0});
  start(&late, "from", "from-late", (sr_source_conf_t){.from = SR_FROM_LATEST});
  tsrc_t *ts[] = {&early, &late};
  assert_true(drive(ts, 2, WAIT_MS, both_assigned, ts));
  assert_int_equal(sr_source_assigned(early.src), 2);
  assert_int_equal(sr_source_assigned(late.src), 2);
  assert_true(early.seen.assigns >= 1);
  /* A known lag means fetch responses came, so "latest" was resolved to an
   * offset before more is produced. */
  assert_true(drive(ts, 2, WAIT_MS, lag_known, &late));
  assert_int_equal(late.seen.n, 0);
  /* What was in the log before a latest start is not owed: no lag. */
  assert_int_equal(sr_source_lag(late.src), 0);
  produce("from", 0, 2);
  two_goals_t goal = {{&early, 7}, {&late, 2}};
  assert_true(drive(ts, 2, WAIT_MS, both_counts, &goal));
  drive(ts, 2, 200, NULL, NULL); /* nothing more comes */

  assert_int_equal(early.seen.n, 7);
  assert_int_equal(count_seen(&early.seen, 0), 5);
  assert_int_equal(count_seen(&early.seen, 1), 2);
  assert_int_equal(lowest_seen(&early.seen, 0), 0);
  assert_int_equal(lowest_seen(&early.seen, 1), 0);
  assert_in_order(&early.seen);
  assert_int_equal(next_of(&early, "from", 0), 5);
  assert_int_equal(next_of(&early, "from", 1), 2);
  assert_int_equal(sr_source_stats(early.src).messages, 7);

  assert_int_equal(late.seen.n, 2);
  assert_int_equal(lowest_seen(&late.seen, 0), 3);
  assert_int_equal(count_seen(&late.seen, 1), 0);
  assert_int_equal(next_of(&late, "from", 0), 5);
  /* Nothing applied on partition 1: no offset to report. */
  assert_int_equal(next_of(&late, "from", 1), -2);
  stop(&early);
  stop(&late);
}

/* A checkpoint's offsets win over --from, and nothing below them is handed
 * over. */
static void test_checkpoint_offsets_resume(void **state) {
  (void)state;
  make_topic("resume", 2);
  produce("resume", 0, 5);
  produce("resume", 1, 5);
  sr_offset_t offs[2] = {{"resume", 0, 3}, {"resume", 1, 1}};
  tsrc_t t;
  start(&t, "resume", "resume",
        (sr_source_conf_t){.from = SR_FROM_LATEST,
                           .offsets = offs,
                           .n_offsets = 2,
                           .cluster_id = ""});
  /* Before anything is assigned, the checkpoint's offsets are the state. */
  assert_int_equal(next_of(&t, "resume", 0), 3);
  assert_int_equal(next_of(&t, "resume", 1), 1);
  count_goal_t goal = {&t, 6};
  assert_true(drive_one(&t, WAIT_MS, has_count, &goal));
  drive_one(&t, 200, NULL, NULL);
  assert_int_equal(t.seen.n, 6);
  assert_int_equal(lowest_seen(&t.seen, 0), 3);
  assert_int_equal(count_seen(&t.seen, 0), 2);
  assert_int_equal(lowest_seen(&t.seen, 1), 1);
  assert_int_equal(count_seen(&t.seen, 1), 4);
  assert_in_order(&t.seen);
  assert_int_equal(next_of(&t, "resume", 0), 5);
  assert_int_equal(next_of(&t, "resume", 1), 5);
  assert_int_equal(sr_source_stats(t.src).resets, 0);
  stop(&t);
}

/* on_message returning -1 halts: that message is not recorded and no other
 * is handed over. Without --until end the lag is the distance to the high
 * watermark the fetcher last saw. */
static void test_message_refused_halts(void **state) {
  (void)state;
  make_topic("halt", 1);
  produce("halt", 0, 10);
  tsrc_t t;
  start(&t, "halt", "halt", (sr_source_conf_t){0});
  assert_int_equal(sr_source_lag(t.src), -1); /* nothing assigned */
  t.seen.fail_at = 4;
  count_goal_t goal = {&t, 4};
  assert_true(drive_one(&t, WAIT_MS, has_count, &goal));
  drive_one(&t, 300, NULL, NULL);
  assert_int_equal(t.seen.n, 4);
  assert_int_equal(next_of(&t, "halt", 0), 4);
  assert_int_equal(sr_source_stats(t.src).messages, 4);
  assert_int_equal(t.seen.halts, 0); /* on_halt is for log resets only */
  assert_int_equal(sr_source_lag(t.src), 6);
  stop(&t);
}

static bool two_each(void *arg) {
  tsrc_t **ts = arg;
  return sr_source_assigned(ts[0]->src) == 1 &&
         sr_source_assigned(ts[1]->src) == 1;
}

static bool a_has_both(void *arg) {
  return sr_source_assigned(((tsrc_t *)arg)->src) == 2;
}

/* A second member joining takes a partition away from the first, whose
 * offset of it stays; once the second leaves (sr_source_free), the first
 * gets it back and resumes from that offset: what the second consumed in
 * between is handed over to the first, nothing twice. */
static void test_revocation_keeps_offsets(void **state) {
  (void)state;
  make_topic("rebal", 2);
  produce("rebal", 0, 4);
  produce("rebal", 1, 4);
  tsrc_t a, b;
  start(&a, "rebal", "rebal", (sr_source_conf_t){0});
  count_goal_t goal = {&a, 8};
  assert_true(drive_one(&a, WAIT_MS, has_count, &goal));
  assert_int_equal(sr_source_assigned(a.src), 2);
  int assigns = a.seen.assigns;

  start(&b, "rebal", "rebal", (sr_source_conf_t){0});
  tsrc_t *ts[] = {&a, &b};
  assert_true(drive(ts, 2, WAIT_MS, two_each, ts));
  assert_true(a.seen.assigns > assigns);
  /* The revoked partition's offset is still reported. */
  assert_int_equal(next_of(&a, "rebal", 0), 4);
  assert_int_equal(next_of(&a, "rebal", 1), 4);

  produce("rebal", 0, 2);
  produce("rebal", 1, 2);
  /* b starts its partition from the beginning: 6 messages. */
  two_goals_t both = {{&a, 10}, {&b, 6}};
  assert_true(drive(ts, 2, WAIT_MS, both_counts, &both));
  assert_int_equal(next_of(&a, "rebal", 0) + next_of(&a, "rebal", 1), 10);

  /* b leaves; no hook of b runs during sr_source_free. */
  assigns = b.seen.assigns;
  stop(&b);
  assert_int_equal(b.seen.assigns, assigns);
  assert_true(drive_one(&a, WAIT_MS, a_has_both, &a));
  goal.n = 12;
  assert_true(drive_one(&a, WAIT_MS, has_count, &goal));
  drive_one(&a, 200, NULL, NULL);
  assert_int_equal(a.seen.n, 12);
  assert_int_equal(count_seen(&a.seen, 0), 6);
  assert_int_equal(count_seen(&a.seen, 1), 6);
  assert_in_order(&a.seen);
  assert_int_equal(sr_source_stats(a.src).messages, 12);
  assert_int_equal(next_of(&a, "rebal", 0), 6);
  assert_int_equal(next_of(&a, "rebal", 1), 6);
  stop(&a);
}

/* Cluster mode: with the cooperative assignor a joining member takes one
 * partition, the first member's revoke hook names exactly that one, and
 * the other partition is never revoked; on_revoke does not run while the
 * source is being freed. */
static void test_cooperative_revoke_hook(void **state) {
  (void)state;
  make_topic("coop", 2);
  produce("coop", 0, 2);
  produce("coop", 1, 2);
  tsrc_t a, b;
  start(&a, "coop", "coop", (sr_source_conf_t){.cooperative = true});
  count_goal_t goal = {&a, 4};
  assert_true(drive_one(&a, WAIT_MS, has_count, &goal));
  assert_int_equal(a.seen.revokes, 0);

  start(&b, "coop", "coop", (sr_source_conf_t){.cooperative = true});
  tsrc_t *ts[] = {&a, &b};
  assert_true(drive(ts, 2, WAIT_MS, two_each, ts));
  assert_int_equal(a.seen.revokes, 1);
  int32_t moved = a.seen.revoked[0];
  assert_true(moved == 0 || moved == 1);
  assert_int_equal(b.seen.revokes, 0);
  /* Only the moved partition was revoked: a's other one kept fetching. */
  produce("coop", 1 - moved, 3);
  goal.n = 7;
  assert_true(drive(ts, 2, WAIT_MS, has_count, &goal));
  stop(&b);
  assert_int_equal(b.seen.revokes, 0);
  stop(&a);
  assert_int_equal(a.seen.revokes, 1);
}

static bool three_done(void *arg) {
  tsrc_t **ts = arg;
  return ts[0]->seen.n >= 10 && ts[1]->seen.halts > 0 && ts[2]->seen.n >= 10;
}

/* A partition log that went backwards: checkpoint offsets beyond the end
 * of the log (a topic recreated, a broker that restarted empty) come back
 * as an out-of-range fetch, and offsets of another cluster id mean nothing
 * here even in range. Each is counted as a reset; then per
 * kafka.offset_reset_policy either the whole new log is handed over from
 * offset 0, or the source halts and hands nothing over. */
static void test_log_went_backwards(void **state) {
  (void)state;
  make_topic("backwards", 1);
  produce("backwards", 0, 10);
  sr_offset_t beyond[1] = {{"backwards", 0, 1000}};
  sr_offset_t within[1] = {{"backwards", 0, 6}};
  tsrc_t go, halt, other;
  start(&go, "backwards", "backwards-go",
        (sr_source_conf_t){.offsets = beyond, .n_offsets = 1});
  start(&halt, "backwards", "backwards-halt",
        (sr_source_conf_t){
            .offsets = beyond, .n_offsets = 1, .reset_fails = true});
  start(&other, "backwards", "backwards-other",
        (sr_source_conf_t){.offsets = within,
                           .n_offsets = 1,
                           .cluster_id = "some-other-cluster"});
  assert_string_equal(sr_source_cluster_id(other.src), "some-other-cluster");
  tsrc_t *ts[] = {&go, &halt, &other};
  assert_true(drive(ts, 3, WAIT_MS, three_done, ts));
  drive(ts, 3, 300, NULL, NULL);

  for (size_t i = 0; i < 3; i += 2) {
    tsrc_t *t = ts[i];
    assert_int_equal(sr_source_stats(t->src).resets, 1);
    assert_int_equal(t->seen.n, 10);
    assert_int_equal(lowest_seen(&t->seen, 0), 0);
    assert_in_order(&t->seen);
    assert_int_equal(next_of(t, "backwards", 0), 10);
    assert_int_equal(t->seen.halts, 0);
  }
  const char *id = sr_source_cluster_id(other.src);
  assert_true(id[0] && strcmp(id, "some-other-cluster"));

  assert_int_equal(sr_source_stats(halt.src).resets, 1);
  assert_int_equal(halt.seen.halts, 1);
  assert_non_null(strstr(halt.seen.why, "went backwards"));
  assert_int_equal(halt.seen.n, 0);
  assert_int_equal(sr_source_stats(halt.src).messages, 0);
  stop(&go);
  stop(&halt);
  stop(&other);
}

/* Checks on every round that the lag only counts down, to the end offset
 * and never past it. */
typedef struct lag_watch {
  tsrc_t *t;
  int64_t last; /* the lag seen last */
} lag_watch_t;

static bool at_ends_watching_lag(void *arg) {
  lag_watch_t *w = arg;
  int64_t lag = sr_source_lag(w->t->src);
  if (lag >= 0) {
    if (lag > w->last)
      fail_msg("lag went up from %lld to %lld", (long long)w->last,
               (long long)lag);
    w->last = lag;
  }
  return sr_source_at_ends(w->t->src);
}

/* --until end: the end offsets queried at assignment are where the source
 * counts as done, although more is produced later; the lag counts down to
 * them. */
static void test_until_end(void **state) {
  (void)state;
  make_topic("ends", 1);
  produce("ends", 0, 6);
  tsrc_t t;
  start(&t, "ends", "ends", (sr_source_conf_t){.until_end = true});
  sr_source_pause(t.src, true); /* hold the fetch until the ends are set */
  assert_true(drive_one(&t, WAIT_MS, assigned, &t));
  assert_false(sr_source_at_ends(t.src));

  char errstr[256] = "";
  sr_offset_t *parts = NULL;
  ssize_t n = sr_source_untargeted(t.src, &parts);
  assert_int_equal(n, 1);
  assert_int_equal(
      sr_source_query_ends(t.src, parts, (size_t)n, errstr, sizeof(errstr)),
      SR_OK);
  assert_int_equal(parts[0].offset, 6);
  sr_source_set_ends(t.src, parts, (size_t)n);
  free(parts);
  assert_int_equal(sr_source_untargeted(t.src, &parts), 0);
  assert_null(parts);
  /* Unknown (-1) until a fetch shows where the log starts. */
  int64_t lag = sr_source_lag(t.src);
  assert_true(lag == -1 || lag == 6);
  assert_false(sr_source_at_ends(t.src));

  produce("ends", 0, 3); /* after the end: not waited for */
  sr_source_pause(t.src, false);
  /* One message at a time, so that the end is seen exactly when reached. */
  budget = 1;
  lag_watch_t watch = {&t, 6};
  assert_true(drive_one(&t, WAIT_MS, at_ends_watching_lag, &watch));
  budget = 64;
  assert_int_equal(t.seen.n, 6);
  assert_int_equal(next_of(&t, "ends", 0), 6);
  assert_int_equal(lowest_seen(&t.seen, 0), 0);
  assert_int_equal(sr_source_lag(t.src), 0);
  stop(&t);
}

static int setup(void **state) {
  (void)state;
  return broker_start(SR_LOG_WARN);
}

typedef struct part_goal {
  tsrc_t *t;
  int32_t partition;
  size_t n;
} part_goal_t;

static bool has_part_count(void *arg) {
  part_goal_t *g = arg;
  return count_seen(&g->t->seen, g->partition) >= g->n;
}

static bool committed_0(void *arg) {
  tsrc_t *t = arg;
  sr_offset_t o;
  char errstr[256];
  set_offset(&o, "tblock", 0, -1);
  return sr_source_committed(t->src, &o, 1, 5000, errstr, sizeof errstr) ==
             SR_OK &&
         o.offset == 5;
}

/* Each new partition is named to the hook; a blocked partition hands over
 * nothing, not even what was fetched before, while the others flow; once
 * unblocked it resumes at the offset given (a handoff's committed offset)
 * or at its own next one. The group's committed offsets can be read. */
static void test_block_a_partition(void **state) {
  (void)state;
  make_topic("tblock", 2);
  tsrc_t t;
  start(&t, "tblock", "g-block", (sr_source_conf_t){.from = SR_FROM_EARLIEST});
  assert_true(drive_one(&t, 15000, assigned, &t));
  assert_int_equal(t.seen.assigned_parts, 2);
  assert_true(t.seen.assigned_part[0] != t.seen.assigned_part[1]);
  assert_int_equal(sr_source_block(t.src, "tblock", 1), SR_OK);
  assert_int_equal(sr_source_block(t.src, "tblock", 7), SR_ERR_NOT_FOUND);
  produce("tblock", 0, 5);
  produce("tblock", 1, 5);
  part_goal_t g0 = {&t, 0, 5};
  assert_true(drive_one(&t, 10000, has_part_count, &g0));
  drive_one(&t, 500, NULL, NULL);
  assert_int_equal(count_seen(&t.seen, 1), 0);
  /* Resumed at offset 2: the two before it were applied elsewhere. */
  assert_int_equal(sr_source_unblock(t.src, "tblock", 1, 2), SR_OK);
  part_goal_t g1 = {&t, 1, 3};
  assert_true(drive_one(&t, 10000, has_part_count, &g1));
  assert_int_equal(lowest_seen(&t.seen, 1), 2);
  assert_int_equal(next_of(&t, "tblock", 1), 5);
  assert_in_order(&t.seen);
  /* What was committed is what the group reports. */
  sr_offset_t offs[2];
  set_offset(&offs[0], "tblock", 0, 5);
  assert_int_equal(sr_source_commit(t.src, offs, 1, NULL), SR_OK);
  assert_true(drive_one(&t, 10000, committed_0, &t));
  char errstr[256];
  set_offset(&offs[0], "tblock", 0, -9);
  set_offset(&offs[1], "tblock", 1, -9);
  assert_int_equal(
      sr_source_committed(t.src, offs, 2, 5000, errstr, sizeof errstr), SR_OK);
  assert_int_equal(offs[0].offset, 5);
  assert_int_equal(offs[1].offset, -1);
  stop(&t);
}

/* Where the forget test's groups commit, below the 6 messages their
 * first members consume of each partition. */
#define FORGET_COMMIT 2

/* Both partitions of topic "forget" committed at FORGET_COMMIT by t's
 * group. */
static bool forget_committed(const tsrc_t *t) {
  sr_offset_t offs[2];
  char errstr[256];
  set_offset(&offs[0], "forget", 0, -9);
  set_offset(&offs[1], "forget", 1, -9);
  return sr_source_committed(t->src, offs, 2, 5000, errstr, sizeof errstr) ==
             SR_OK &&
         offs[0].offset == FORGET_COMMIT && offs[1].offset == FORGET_COMMIT;
}

static bool both_committed(void *arg) {
  tsrc_t **ts = arg;
  return forget_committed(ts[0]) && forget_committed(ts[1]);
}

/* Two groups, of ts[0] and ts[1] and of ts[2] and ts[3], each with one
 * partition per member. */
static bool pairs_split(void *arg) {
  tsrc_t **ts = arg;
  return two_each(ts) && two_each(ts + 2);
}

/* Both first members (arg: as[]) have handed over offset 7, the last, of
 * both partitions. */
static bool both_at_end(void *arg) {
  tsrc_t **as = arg;
  for (size_t i = 0; i < 2; i++) {
    if (next_of(as[i], "forget", 0) != 8 || next_of(as[i], "forget", 1) != 8)
      return false;
  }
  return true;
}

/* Each of the two first members (as[]) takes the whole log of "forget" and
 * commits an earlier offset than it reached on both partitions. */
static void consume_then_commit_less(tsrc_t **as) {
  two_goals_t all = {{as[0], 12}, {as[1], 12}};
  assert_true(drive(as, 2, WAIT_MS, both_counts, &all));
  sr_offset_t offs[2];
  set_offset(&offs[0], "forget", 0, FORGET_COMMIT);
  set_offset(&offs[1], "forget", 1, FORGET_COMMIT);
  for (size_t i = 0; i < 2; i++) {
    /* Nothing was committed before: --from committed started at 0. */
    assert_int_equal(lowest_seen(&as[i]->seen, 0), 0);
    assert_int_equal(lowest_seen(&as[i]->seen, 1), 0);
    assert_int_equal(next_of(as[i], "forget", 0), 6);
    assert_int_equal(sr_source_commit(as[i]->src, offs, 2, NULL), SR_OK);
  }
  assert_true(drive(as, 2, WAIT_MS, both_committed, as));
}

/* A member b joins each group (ts[1], ts[3]); with the cooperative
 * assignor each first member is revoked exactly one partition, stored in
 * moved[], whose next offset is still the one that member reached. */
static void lose_one_partition(tsrc_t **ts, int32_t moved[2]) {
  assert_true(drive(ts, 4, WAIT_MS, pairs_split, ts));
  for (size_t i = 0; i < 2; i++) {
    const tsrc_t *a = ts[2 * i];
    assert_int_equal(a->seen.revokes, 1);
    moved[i] = a->seen.revoked[0];
    assert_true(moved[i] == 0 || moved[i] == 1);
    assert_int_equal(next_of(a, "forget", moved[i]), 6);
  }
}

/* What a handed over on each partition since the mark-th message, once it
 * got back the moved one: that one from first_moved to offset 7, the one
 * it kept from 6 to 7, each once and in order. */
static void assert_taken_back(const tsrc_t *a, size_t mark, int32_t moved,
                              int64_t first_moved) {
  assert_int_equal(sr_source_assigned(a->src), 2);
  assert_int_equal(first_seen_since(&a->seen, mark, moved), first_moved);
  assert_int_equal(count_seen_since(&a->seen, mark, moved), 8 - first_moved);
  assert_int_equal(first_seen_since(&a->seen, mark, 1 - moved), 6);
  assert_int_equal(count_seen_since(&a->seen, mark, 1 - moved), 2);
  assert_int_equal(a->seen.n, mark + (size_t)(8 - first_moved) + 2);
  assert_in_order_since(&a->seen, mark);
  assert_int_equal(next_of(a, "forget", 0), 8);
  assert_int_equal(next_of(a, "forget", 1), 8);
}

/* Cluster mode drops a revoked partition's users and with them the events
 * applied from it. After sr_source_forget the partition taken back starts
 * at the group's committed offset (--from committed), so the messages
 * after it are handed over again, although the member had reached further;
 * in the contrast group, never told to forget, the member resumes where it
 * had reached. Forgetting leaves the other partition, and a partition the
 * source never knew, alone. */
static void test_forget_resumes_from_commit(void **state) {
  (void)state;
  make_topic("forget", 2);
  produce("forget", 0, 6);
  produce("forget", 1, 6);
  sr_source_conf_t conf = {.from = SR_FROM_COMMITTED, .cooperative = true};
  tsrc_t on_a, on_b, off_a, off_b;
  start(&on_a, "forget", "forget-on", conf);
  start(&off_a, "forget", "forget-off", conf);
  tsrc_t *as[] = {&on_a, &off_a};
  consume_then_commit_less(as);

  start(&on_b, "forget", "forget-on", conf);
  start(&off_b, "forget", "forget-off", conf);
  tsrc_t *ts[] = {&on_a, &on_b, &off_a, &off_b};
  int32_t moved[2];
  lose_one_partition(ts, moved);
  sr_source_forget(on_a.src, "forget", moved[0]);
  sr_source_forget(on_a.src, "forget", 7);
  /* Forgotten: no position reported, so none would be checkpointed. */
  assert_int_equal(next_of(&on_a, "forget", moved[0]), -2);
  assert_int_equal(next_of(&on_a, "forget", 1 - moved[0]), 6);

  /* Nothing was produced since: what follows is counted from 12. */
  assert_int_equal(on_a.seen.n, 12);
  assert_int_equal(off_a.seen.n, 12);
  stop(&on_b);
  stop(&off_b);
  produce("forget", 0, 2);
  produce("forget", 1, 2);
  /* Both partitions handed over to their new end, however they started;
   * where they started is what tells forgetting from not. */
  assert_true(drive(as, 2, WAIT_MS, both_at_end, as));
  drive(as, 2, 200, NULL, NULL); /* nothing more comes */
  assert_taken_back(&on_a, 12, moved[0], FORGET_COMMIT);
  assert_taken_back(&off_a, 12, moved[1], 6);
  stop(&on_a);
  stop(&off_a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_from_earliest_and_latest),
      cmocka_unit_test(test_checkpoint_offsets_resume),
      cmocka_unit_test(test_message_refused_halts),
      cmocka_unit_test(test_revocation_keeps_offsets),
      cmocka_unit_test(test_cooperative_revoke_hook),
      cmocka_unit_test(test_log_went_backwards),
      cmocka_unit_test(test_until_end),
      cmocka_unit_test(test_block_a_partition),
      cmocka_unit_test(test_forget_resumes_from_commit),
  };
  return cmocka_run_group_tests(tests, setup, broker_stop);
}
