/* The group consumer and its per-partition offsets; see source.h. */
#define SR_LOG_COMPONENT "consumer"
#include "kafka/source.h"

#include "kafka/client.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/log.h"
#include "util/now.h"
#include "util/offset.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fetch.wait.max.ms with the embedded broker (see consumer_defaults). */
#define EMBEDDED_FETCH_WAIT_MS "5"
/* Messages taken off the queue per rd_kafka_consume_batch_queue call. */
#define BATCH 512
/* How long the blocking metadata and offset queries may take. */
#define QUERY_TIMEOUT_MS 5000
/* Statistics period: they drive the stuck-group watchdog. */
#define STATS_INTERVAL_MS "5000"
/* In cluster mode the statistics also tell when the group is rejoining
 * (see sr_source_rejoining), which needs a finer grain. */
#define STATS_INTERVAL_COOP_MS "1000"
/* After a rebalance (or a commit it refused) the group is left alone this
 * long before the next commit: a coordinator that takes seconds to
 * complete a join answers a commit sent meanwhile with "illegal
 * generation", librdkafka drops the whole assignment and rejoins, and the
 * other members' commits then meet that new rebalance in turn. */
#define COMMIT_QUIET_MS 10000
/* How long leaving the group at the end may take (see
 * sr_kafka_close_consumer). */
#define CLOSE_WAIT_MS 10000
/* A group not "up" for this many session timeouts (at least
 * STUCK_MIN_MS) while a broker is reachable counts as stuck. */
#define STUCK_SESSIONS 3
#define STUCK_MIN_MS 10000

/* What the source knows about one topic-partition. */
typedef struct part {
  char topic[SR_TOPIC_MAX + 1];
  int32_t partition;
  int64_t next;  /* offset of the next event to apply; -1 unknown */
  int64_t start; /* --from TIMESTAMP offset (may be logical); see has_start */
  int64_t end;   /* --until end: high watermark at assignment; -1 unknown */
  int64_t eof;   /* offset of the last end-of-partition event; -1 none */
  bool has_start;
  bool assigned;
  bool reset;   /* its log went backwards: start at the new log's start */
  bool held;    /* revoked by a rebalance still in progress */
  bool blocked; /* held back by sr_source_block: paused, nothing dispatched */
  int64_t drop_from; /* blocked: the first offset fetched and dropped */
} part_t;

struct sr_src {
  sr_source_conf_t conf; /* kept to recreate the consumer */
  char brokers[SR_KAFKA_STR];
  char cluster[128]; /* the cluster the offsets belong to, or "" */
  int64_t stuck_after_ms;
  bool stuck;        /* set by the statistics callback */
  bool brokers_down; /* all brokers down, per error event or statistics */
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;    /* the consumer queue */
  rd_kafka_queue_t *commit_q; /* results of our commits */
  int pipefd[2];
  sr_source_hooks_t hooks;
  sr_source_stats_t stats;
  bool rejoining;         /* the statistics last showed the group rejoining */
  uint64_t rebalanced_ms; /* monotonic ms of the last rebalance or refused
                            commit; 0 none */
  part_t *parts;
  size_t n_parts, cap_parts;
  size_t last_hit; /* index of the previous message's partition */
  size_t n_assigned;
  bool rebalancing; /* partitions revoked, no assignment since */
  bool paused;
  bool halted; /* on_message asked to stop: nothing more is dispatched */
  bool closing;
};

static part_t *part_find(sr_src_t *src, const char *topic, int32_t p) {
  if (src->last_hit < src->n_parts) {
    part_t *hit = &src->parts[src->last_hit];
    if (hit->partition == p && !strcmp(hit->topic, topic))
      return hit;
  }
  for (size_t i = 0; i < src->n_parts; i++) {
    if (src->parts[i].partition == p && !strcmp(src->parts[i].topic, topic)) {
      src->last_hit = i;
      return &src->parts[i];
    }
  }
  return NULL;
}

/* The partition's entry, created when new. Returns NULL when out of
 * memory. */
static part_t *part_get(sr_src_t *src, const char *topic, int32_t p) {
  part_t *part = part_find(src, topic, p);
  if (part)
    return part;
  if (SR_GROW(src->parts, src->cap_parts, src->n_parts + 1, 16) != 0)
    return NULL;
  part = &src->parts[src->n_parts++];
  *part = (part_t){.partition = p, .next = -1, .end = -1, .eof = -1};
  snprintf(part->topic, sizeof(part->topic), "%s", topic);
  return part;
}

/* Where an assigned partition starts: the offset of the next event to
 * apply when known, else per --from (logical offsets let librdkafka look
 * them up without blocking us). */
static int64_t start_offset(const sr_src_t *src, const part_t *part) {
  if (part->next >= 0)
    return part->next;
  if (part->reset)
    return RD_KAFKA_OFFSET_BEGINNING;
  if (part->has_start)
    return part->start;
  switch (src->conf.from) {
  case SR_FROM_LATEST: return RD_KAFKA_OFFSET_END;
  case SR_FROM_COMMITTED: return RD_KAFKA_OFFSET_STORED;
  default: return RD_KAFKA_OFFSET_BEGINNING;
  }
}

/* Appends "topic:partition@offset" to a comma-separated list for one log
 * line per rebalance; logical offsets are named (logical says off may be
 * one: a position of -1 is "none", not RD_KAFKA_OFFSET_END). */
static void append_part(sr_buf_t *buf, const part_t *part, int64_t off,
                        bool logical) {
  const char *name = !logical                           ? NULL
                     : off == RD_KAFKA_OFFSET_END       ? "latest"
                     : off == RD_KAFKA_OFFSET_STORED    ? "committed"
                     : off == RD_KAFKA_OFFSET_BEGINNING ? "earliest"
                                                        : NULL;
  sr_buf_printf(buf, "%s%s:%" PRId32 "@", buf->len ? "," : "", part->topic,
                part->partition);
  if (name)
    sr_buf_printf(buf, "%s", name);
  else if (off >= 0)
    sr_buf_printf(buf, "%" PRId64, off);
  else
    sr_buf_printf(buf, "none");
}

/* One line per rebalance; cooperative rebalances may pass empty lists,
 * which say nothing. */
static void log_parts(const char *what, sr_buf_t *buf) {
  if (buf->len && sr_buf_append(buf, "", 1) == 0)
    sr_log(SR_LOG_INFO, what, "partitions=%s", sr_logq(buf->data));
  sr_buf_free(buf);
}

static bool cooperative(rd_kafka_t *rk) {
  const char *proto = rd_kafka_rebalance_protocol(rk);
  return proto && !strcmp(proto, "COOPERATIVE");
}

static void assign_error(const char *what, rd_kafka_resp_err_t err,
                         rd_kafka_error_t *error) {
  if (error) {
    sr_log(SR_LOG_ERROR, what, "error=%s",
           sr_logq(rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
  } else if (err) {
    sr_log(SR_LOG_ERROR, what, "error=%s", sr_logq(rd_kafka_err2str(err)));
  }
}

static void on_assign(sr_src_t *src, rd_kafka_topic_partition_list_t *list) {
  sr_buf_t buf = {0};
  for (int i = 0; i < list->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &list->elems[i];
    part_t *part = part_get(src, tp->topic, tp->partition);
    if (!part) {
      sr_log(SR_LOG_ERROR, "out of memory tracking partitions", NULL);
      continue;
    }
    tp->offset = start_offset(src, part);
    if (!part->assigned)
      src->n_assigned++;
    part->assigned = true;
    part->eof = -1; /* a new one comes once the fetcher reaches the end */
    append_part(&buf, part, tp->offset, true);
  }
  for (size_t i = 0; i < src->n_parts; i++)
    src->parts[i].held = false;
  src->rebalancing = false;
  log_parts("partitions assigned", &buf);
  if (cooperative(src->rk))
    assign_error("incremental assign failed", 0,
                 rd_kafka_incremental_assign(src->rk, list));
  else
    assign_error("assign failed", rd_kafka_assign(src->rk, list), NULL);
  if (src->paused)
    rd_kafka_pause_partitions(src->rk, list);
  for (int i = 0; i < list->cnt && src->hooks.on_assign_part && !src->closing;
       i++)
    src->hooks.on_assign_part(src->hooks.opaque, list->elems[i].topic,
                              list->elems[i].partition);
}

/* Revoked partitions keep their next offset: the model holds their events
 * up to it, and a later assignment resumes exactly there. */
static void on_revoke(sr_src_t *src, rd_kafka_topic_partition_list_t *list) {
  bool lost = rd_kafka_assignment_lost(src->rk);
  sr_buf_t buf = {0};
  for (int i = 0; i < list->cnt; i++) {
    part_t *part =
        part_find(src, list->elems[i].topic, list->elems[i].partition);
    if (!part || !part->assigned)
      continue;
    part->assigned = false;
    part->blocked = false;
    part->held = !lost;
    src->n_assigned--;
    append_part(&buf, part, part->next, false);
    if (src->hooks.on_revoke && !src->closing)
      src->hooks.on_revoke(src->hooks.opaque, part->topic, part->partition);
  }
  src->rebalancing = !lost && list->cnt > 0;
  log_parts(lost ? "partitions lost" : "partitions revoked", &buf);
  if (cooperative(src->rk))
    assign_error("incremental unassign failed", 0,
                 rd_kafka_incremental_unassign(src->rk, list));
  else
    assign_error("unassign failed", rd_kafka_assign(src->rk, NULL), NULL);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque) {
  (void)rk;
  sr_src_t *src = opaque;
  src->rebalanced_ms = sr_mono_ns() / 1000000;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    on_assign(src, list);
  else
    on_revoke(src, list);
  if (!src->closing && src->hooks.on_assign)
    src->hooks.on_assign(src->hooks.opaque);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
  sr_src_t *src = opaque;
  /* librdkafka reports this when the last broker connection drops; the
   * statistics tell when one is back. */
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    src->brokers_down = true;
  sr_kafka_log_error(rk, err, reason);
}

/* True when a broker in the statistics' "brokers" object is UP. */
static bool any_broker_up(json_t *brokers) {
  const char *name;
  json_t *b;
  json_object_foreach(brokers, name, b) {
    const char *state = json_string_value(json_object_get(b, "state"));
    if (state && !strcmp(state, "UP"))
      return true;
  }
  return false;
}

/* librdkafka 2.0.2 keeps talking to a group coordinator's old address when
 * the broker behind that node id moves (a restarted or replaced cluster),
 * so the group never rejoins. The statistics show it: the group handler is
 * not "up" for a long time although a broker is reachable. */
static int on_stats(rd_kafka_t *rk, char *text, size_t len, void *opaque) {
  (void)rk;
  sr_src_t *src = opaque;
  json_t *root = json_loadb(text, len, 0, NULL);
  json_t *cgrp = json_object_get(root, "cgrp");
  const char *state = json_string_value(json_object_get(cgrp, "state"));
  json_int_t age = json_integer_value(json_object_get(cgrp, "stateage"));
  json_t *brokers = json_object_get(root, "brokers");
  if (brokers)
    src->brokers_down = !any_broker_up(brokers);
  const char *join = json_string_value(json_object_get(cgrp, "join_state"));
  src->rejoining = join && strcmp(join, "steady") && strcmp(join, "init");
  if (state && strcmp(state, "up") && age >= src->stuck_after_ms &&
      any_broker_up(json_object_get(root, "brokers")) && !src->stuck) {
    sr_log(SR_LOG_WARN, "consumer group stuck; recreating the consumer",
           "state=%s for_ms=%lld", sr_logq(state), (long long)age);
    src->stuck = true;
  }
  json_decref(root);
  return 0; /* librdkafka frees text */
}

/* Session and heartbeat are lowered (unless the user chose them) so that
 * a restarted daemon rejoins its group within seconds. */
/* Cluster mode: a rebalance should stop only the partitions that move,
 * and a restarted static member should get its partitions back without
 * one. */
static int cluster_defaults(const sr_source_conf_t *conf, rd_kafka_conf_t *kc,
                            char *errstr, size_t errlen) {
  if (conf->cooperative &&
      !sr_kafka_user_set(&conf->kafka, "partition.assignment.strategy") &&
      sr_kafka_conf_set(kc, "partition.assignment.strategy",
                        "cooperative-sticky", errstr, errlen))
    return -1;
  if (conf->instance_id && conf->instance_id[0] &&
      sr_kafka_conf_set(kc, "group.instance.id", conf->instance_id, errstr,
                        errlen))
    return -1;
  return 0;
}

static int consumer_defaults(const sr_source_conf_t *conf, rd_kafka_conf_t *kc,
                             char *errstr, size_t errlen) {
  /* The prefetch (all partitions together) is what a backlog costs in
   * memory beyond the model: librdkafka keeps about 300 bytes per message
   * besides its bytes, and events are small, so the count bounds it, not
   * queued.max.messages.kbytes. A full queue is refilled only at the
   * fetcher's next wake-up, up to a second later, so the count is also
   * about the most messages a backlog is read at per second. */
  char prefetch[16];
  snprintf(prefetch, sizeof(prefetch), "%" PRIu32,
           conf->kafka.prefetch_messages);
  const char *const defaults[][2] = {
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "1000"},
      {"queued.min.messages", prefetch},
  };
  for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
    if (!sr_kafka_user_set(&conf->kafka, defaults[i][0]) &&
        sr_kafka_conf_set(kc, defaults[i][0], defaults[i][1], errstr, errlen))
      return -1;
  }
  /* A message up to input.max_message_bytes must arrive to be judged (and
   * dead-lettered); librdkafka refuses responses above this. */
  uint64_t receive = (uint64_t)conf->kafka.max_message_bytes + (1u << 20);
  char receive_txt[24];
  snprintf(receive_txt, sizeof(receive_txt), "%" PRIu64, receive);
  if (receive > 100000000 &&
      !sr_kafka_user_set(&conf->kafka, "receive.message.max.bytes") &&
      sr_kafka_conf_set(kc, "receive.message.max.bytes", receive_txt, errstr,
                        errlen))
    return -1;
  /* The embedded broker answers a fetch that finds nothing new only after
   * fetch.wait.max.ms (a real broker answers as soon as data arrives), so
   * its wait is kept short. */
  if (conf->embedded && !sr_kafka_user_set(&conf->kafka, "fetch.wait.max.ms") &&
      sr_kafka_conf_set(kc, "fetch.wait.max.ms", EMBEDDED_FETCH_WAIT_MS, errstr,
                        errlen))
    return -1;
  if ((!sr_kafka_user_set(&conf->kafka, "statistics.interval.ms") &&
       sr_kafka_conf_set(kc, "statistics.interval.ms",
                         conf->cooperative ? STATS_INTERVAL_COOP_MS
                                           : STATS_INTERVAL_MS,
                         errstr, errlen)) ||
      sr_kafka_conf_set(kc, "group.id", conf->kafka.group_id, errstr, errlen) ||
      sr_kafka_conf_set(kc, "enable.auto.commit", "false", errstr, errlen) ||
      sr_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr,
                        errlen) ||
      /* An offset out of range comes to us as an error, never as a
       * silent jump (see partition_reset). */
      sr_kafka_conf_set(kc, "auto.offset.reset", "error", errstr, errlen) ||
      sr_kafka_conf_set(kc, "enable.partition.eof",
                        conf->until_end ? "true" : "false", errstr, errlen))
    return -1;
  return cluster_defaults(conf, kc, errstr, errlen);
}

static int load_offsets(sr_src_t *src, const sr_source_conf_t *conf) {
  for (size_t i = 0; i < conf->n_offsets; i++) {
    const sr_offset_t *o = &conf->offsets[i];
    part_t *part = part_get(src, o->topic, o->partition);
    if (!part)
      return -1;
    part->next = o->offset;
  }
  return 0;
}

static sr_err_t create_consumer(sr_src_t *src, const sr_source_conf_t *conf,
                                char *errstr, size_t errlen) {
  rd_kafka_conf_t *kc =
      sr_kafka_conf_new(&conf->kafka, conf->brokers, errstr, errlen);
  if (!kc)
    return SR_ERR_INVALID;
  if (consumer_defaults(conf, kc, errstr, errlen) != 0) {
    rd_kafka_conf_destroy(kc);
    return SR_ERR_INVALID;
  }
  char session[32];
  size_t session_len = sizeof(session);
  long session_ms = 6000;
  if (rd_kafka_conf_get(kc, "session.timeout.ms", session, &session_len) ==
      RD_KAFKA_CONF_OK)
    session_ms = strtol(session, NULL, 10);
  src->stuck_after_ms = session_ms * STUCK_SESSIONS > STUCK_MIN_MS
                            ? session_ms * STUCK_SESSIONS
                            : STUCK_MIN_MS;
  rd_kafka_conf_set_rebalance_cb(kc, on_rebalance);
  rd_kafka_conf_set_error_cb(kc, on_error);
  rd_kafka_conf_set_stats_cb(kc, on_stats);
  rd_kafka_conf_set_opaque(kc, src);
  src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errlen);
  if (!src->rk) {
    rd_kafka_conf_destroy(kc); /* rd_kafka_new owns kc only on success */
    return SR_ERR_INVALID;
  }
  /* Rebalances and client errors come through the consumer queue, so one
   * wake-up serves them all on the loop thread. */
  rd_kafka_poll_set_consumer(src->rk);
  src->queue = rd_kafka_queue_get_consumer(src->rk);
  src->commit_q = rd_kafka_queue_new(src->rk);
  rd_kafka_queue_io_event_enable(src->queue, src->pipefd[1], "1", 1);
  rd_kafka_queue_io_event_enable(src->commit_q, src->pipefd[1], "1", 1);
  /* An event queued before io events were enabled (a broker refusing the
   * first connection) wrote no byte: one wake-up now serves it. */
  sr_kafka_pipe_wake(src->pipefd[1]);
  return SR_OK;
}

sr_src_t *sr_source_new(const sr_source_conf_t *conf,
                        const sr_source_hooks_t *hooks, char *errstr,
                        size_t errlen) {
  sr_src_t *src = calloc(1, sizeof(*src));
  if (!src) {
    snprintf(errstr, errlen, "out of memory");
    return NULL;
  }
  src->pipefd[0] = src->pipefd[1] = -1;
  src->hooks = *hooks;
  src->conf = *conf;
  snprintf(src->brokers, sizeof(src->brokers), "%s", conf->brokers);
  src->conf.brokers = src->brokers;
  src->conf.offsets = NULL; /* only read here */
  src->conf.n_offsets = 0;
  snprintf(src->cluster, sizeof(src->cluster), "%s",
           conf->cluster_id ? conf->cluster_id : "");
  src->conf.cluster_id = NULL;
  if (load_offsets(src, conf) != 0) {
    snprintf(errstr, errlen, "out of memory");
    goto fail;
  }
  if (sr_kafka_pipe(src->pipefd) != 0) {
    snprintf(errstr, errlen, "pipe: %s", strerror(errno));
    goto fail;
  }
  if (create_consumer(src, conf, errstr, errlen) != SR_OK)
    goto fail;
  return src;
fail:
  sr_source_free(src);
  return NULL;
}

/* Destroys the consumer; with close, after leaving the group. */
/* Leaving the group revokes what is still assigned: logged and
 * unassigned as any revocation (no hook runs while closing). */
static void revoke_on_close(void *opaque,
                            rd_kafka_topic_partition_list_t *list) {
  on_revoke(opaque, list);
}

static void destroy_consumer(sr_src_t *src, bool close) {
  if (!src->rk)
    return;
  rd_kafka_queue_io_event_enable(src->queue, -1, NULL, 0);
  rd_kafka_queue_io_event_enable(src->commit_q, -1, NULL, 0);
  rd_kafka_queue_destroy(src->queue);
  rd_kafka_queue_destroy(src->commit_q);
  if (close)
    sr_kafka_close_consumer(src->rk, CLOSE_WAIT_MS, revoke_on_close, src);
  else
    rd_kafka_destroy_flags(src->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  src->rk = NULL;
  src->queue = src->commit_q = NULL;
}

void sr_source_free(sr_src_t *src) {
  if (!src)
    return;
  src->closing = true;
  destroy_consumer(src, true);
  sr_kafka_pipe_close(src->pipefd);
  free(src->parts);
  free(src);
}

int sr_source_fd(const sr_src_t *src) {
  return src->pipefd[0];
}

/* Calls fn(topic, len, arg) for each name in the comma-separated list,
 * spaces around names ignored. Stops at the first non-zero return. */
static int each_topic(const char *list, int (*fn)(const char *, size_t, void *),
                      void *arg) {
  for (const char *p = list; *p;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, ",");
    size_t trimmed = len;
    while (trimmed > 0 && p[trimmed - 1] == ' ')
      trimmed--;
    if (trimmed > 0 && fn(p, trimmed, arg) != 0)
      return -1;
    p += len;
  }
  return 0;
}

static int add_topic(const char *name, size_t len, void *arg) {
  char topic[SR_TOPIC_MAX + 1];
  snprintf(topic, sizeof(topic), "%.*s", (int)len, name);
  rd_kafka_topic_partition_list_add(arg, topic, RD_KAFKA_PARTITION_UA);
  return 0;
}

sr_err_t sr_source_subscribe(sr_src_t *src, char *errstr, size_t errlen) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
  each_topic(src->conf.kafka.input_topics, add_topic, list);
  if (list->cnt == 0) {
    rd_kafka_topic_partition_list_destroy(list);
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.input_topics: no topic named");
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(src->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.input_topics: subscribe: %s", rd_kafka_err2str(err));
  return SR_OK;
}

/* Pauses or resumes one partition. */
static void pause_one(sr_src_t *src, const part_t *part, bool pause) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, part->topic, part->partition);
  rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(src->rk, list)
                                  : rd_kafka_resume_partitions(src->rk, list);
  if (err)
    sr_log(SR_LOG_WARN, pause ? "pause failed" : "resume failed",
           "topic=%s partition=%" PRId32 " error=%s", sr_logq(part->topic),
           part->partition, sr_logq(rd_kafka_err2str(err)));
  rd_kafka_topic_partition_list_destroy(list);
}

/* Makes librdkafka fetch part from off again. A seek does not restart a
 * fetcher that an out-of-range error stopped, so the partition is
 * assigned anew: alone (cooperative), or with the others at their next
 * offsets (eager, where an assignment is always the whole set). */
static void refetch(sr_src_t *src, part_t *part, int64_t off) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(
      cooperative(src->rk) ? 1 : (int)src->n_assigned + 1);
  for (size_t i = 0; i < src->n_parts; i++) {
    part_t *p = &src->parts[i];
    if (p->assigned && (p == part || !cooperative(src->rk)))
      rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
          p == part ? off : start_offset(src, p);
  }
  if (cooperative(src->rk)) {
    assign_error("incremental unassign failed", 0,
                 rd_kafka_incremental_unassign(src->rk, list));
    assign_error("incremental assign failed", 0,
                 rd_kafka_incremental_assign(src->rk, list));
  } else {
    assign_error("assign failed", rd_kafka_assign(src->rk, list), NULL);
  }
  if (src->paused)
    rd_kafka_pause_partitions(src->rk, list);
  for (size_t i = 0; !src->paused && i < src->n_parts; i++)
    if (src->parts[i].assigned && src->parts[i].blocked)
      pause_one(src, &src->parts[i], true);
  rd_kafka_topic_partition_list_destroy(list);
}

static void halt(sr_src_t *src, const char *why) {
  if (src->halted)
    return;
  src->halted = true;
  if (src->hooks.on_halt)
    src->hooks.on_halt(src->hooks.opaque, why);
}

/* The partition's log no longer holds the offsets the model has applied:
 * what it holds now is new, so nothing of it may be skipped as a
 * duplicate. Logged, counted, and handled per kafka.offset_reset_policy. */
static void partition_reset(sr_src_t *src, part_t *part, const char *cause) {
  int64_t lo = -1, hi = -1;
  rd_kafka_get_watermark_offsets(src->rk, part->topic, part->partition, &lo,
                                 &hi);
  src->stats.resets++;
  sr_log(SR_LOG_ERROR, "partition log went backwards",
         "topic=%s partition=%" PRId32 " next_offset=%" PRId64
         " log_start=%" PRId64 " log_end=%" PRId64 " cause=%s policy=%s",
         sr_logq(part->topic), part->partition, part->next, lo, hi,
         sr_logq(cause), src->conf.reset_fails ? "fail" : "earliest");
  if (src->conf.reset_fails) {
    halt(src, "a partition log went backwards (kafka.offset_reset_policy "
              "fail)");
    return;
  }
  part->next = -1;
  part->reset = true;
  part->end = -1; /* --until end: the new log's end is taken again */
  part->eof = -1;
  if (part->assigned)
    refetch(src, part, RD_KAFKA_OFFSET_BEGINNING);
}

/* The assigned partition an event of the consumer queue is about, or
 * NULL. */
static part_t *msg_part(sr_src_t *src, const rd_kafka_message_t *msg) {
  part_t *part =
      msg->rkt ? part_find(src, rd_kafka_topic_name(msg->rkt), msg->partition)
               : NULL;
  return part && part->assigned ? part : NULL;
}

/* With auto.offset.reset "error", librdkafka stops a partition whose
 * offset is out of range. A known position there means the log went
 * backwards; an unknown one (--from committed with nothing committed)
 * starts where --from's fallback says. */
static void offset_out_of_range(sr_src_t *src, const rd_kafka_message_t *msg) {
  part_t *part = msg_part(src, msg);
  if (!part)
    return;
  if (part->next >= 0) {
    partition_reset(src, part, "offset out of range");
    if (src->hooks.on_assign)
      src->hooks.on_assign(src->hooks.opaque);
    return;
  }
  int64_t off = part->reset || src->conf.from != SR_FROM_LATEST
                    ? RD_KAFKA_OFFSET_BEGINNING
                    : RD_KAFKA_OFFSET_END;
  sr_log(SR_LOG_INFO, "no offset to resume from",
         "topic=%s partition=%" PRId32 " start=%s", sr_logq(part->topic),
         part->partition, off == RD_KAFKA_OFFSET_END ? "latest" : "earliest");
  refetch(src, part, off);
}

static void consume_error(sr_src_t *src, const rd_kafka_message_t *msg) {
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    part_t *part = msg_part(src, msg);
    if (part)
      part->eof = msg->offset;
    return;
  }
  if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
    offset_out_of_range(src, msg);
    return;
  }
  src->stats.errors++;
  sr_log(SR_LOG_WARN, "consumer error",
         "topic=%s partition=%" PRId32 " error=%s",
         sr_logq(msg->rkt ? rd_kafka_topic_name(msg->rkt) : ""), msg->partition,
         sr_logq(rd_kafka_message_errstr(msg)));
}

/* Offsets mean something only in the cluster they came from. A new
 * cluster id behind the brokers (a broker that restarted empty, another
 * cluster at the same address) resets every partition with a position.
 * Checked before each batch is dispatched: the first metadata of a new
 * connection normally arrives before its first fetch. */
static void check_cluster(sr_src_t *src) {
  char *id = rd_kafka_clusterid(src->rk, 0);
  if (!id)
    return;
  if (src->cluster[0] && strcmp(src->cluster, id)) {
    sr_log(SR_LOG_ERROR, "the cluster behind kafka.brokers changed",
           "old_cluster_id=%s new_cluster_id=%s", sr_logq(src->cluster),
           sr_logq(id));
    for (size_t i = 0; i < src->n_parts && !src->halted; i++) {
      part_t *part = &src->parts[i];
      if (part->next >= 0)
        partition_reset(src, part, "new cluster id");
      /* End offsets taken in the old cluster mean nothing here either. */
      part->end = part->eof = -1;
    }
    if (src->hooks.on_assign)
      src->hooks.on_assign(src->hooks.opaque);
  }
  snprintf(src->cluster, sizeof(src->cluster), "%s", id);
  rd_kafka_mem_free(src->rk, id);
}

void sr_source_tick(sr_src_t *src) {
  check_cluster(src);
}

const char *sr_source_cluster_id(const sr_src_t *src) {
  return src->cluster;
}

static void dispatch(sr_src_t *src, const rd_kafka_message_t *msg) {
  if (msg->err) {
    consume_error(src, msg);
    return;
  }
  part_t *part = part_find(src, rd_kafka_topic_name(msg->rkt), msg->partition);
  if (src->halted)
    return;
  if (!part || !part->assigned || part->blocked) {
    /* Fetched before a revocation or a block; a later assignment or the
     * unblock seeks back to it. */
    if (part && part->blocked && part->drop_from < 0)
      part->drop_from = msg->offset;
    src->stats.stale++;
    return;
  }
  if (part->next >= 0 && msg->offset < part->next) {
    src->stats.duplicates++;
    return;
  }
  part->reset = false;
  if (src->hooks.on_message(src->hooks.opaque, msg) != 0) {
    src->halted = true;
    return;
  }
  src->stats.messages++;
  part->next = msg->offset + 1;
}

static void serve_commit_event(sr_src_t *src, rd_kafka_event_t *ev) {
  if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_OFFSET_COMMIT)
    return;
  rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
  const char *why = err ? rd_kafka_event_error_string(ev) : "";
  const rd_kafka_topic_partition_list_t *list =
      rd_kafka_event_topic_partition_list(ev);
  for (int i = 0; !err && list && i < list->cnt; i++) {
    if (list->elems[i].err) {
      err = list->elems[i].err;
      why = rd_kafka_err2str(err);
    }
  }
  if (err)
    src->rebalanced_ms = sr_mono_ns() / 1000000;
  if (src->hooks.on_commit)
    src->hooks.on_commit(src->hooks.opaque, err ? SR_ERR_IO : SR_OK, why,
                         rd_kafka_event_opaque(ev));
}

void sr_source_serve_commits(sr_src_t *src) {
  rd_kafka_event_t *ev;
  sr_kafka_pipe_drain(src->pipefd[0]);
  while ((ev = rd_kafka_queue_poll(src->commit_q, 0)) != NULL) {
    serve_commit_event(src, ev);
    rd_kafka_event_destroy(ev);
  }
}

bool sr_source_stuck(const sr_src_t *src) {
  return src->stuck;
}

sr_err_t sr_source_restart(sr_src_t *src, char *errstr, size_t errlen) {
  rd_kafka_t *old_rk = src->rk;
  rd_kafka_queue_t *old_queue = src->queue, *old_commit_q = src->commit_q;
  src->rk = NULL;
  /* The new consumer comes first, so a failure leaves the old one. */
  sr_err_t err = create_consumer(src, &src->conf, errstr, errlen);
  if (err == SR_OK)
    err = sr_source_subscribe(src, errstr, errlen);
  rd_kafka_t *new_rk = src->rk;
  rd_kafka_queue_t *new_queue = src->queue, *new_commit_q = src->commit_q;
  src->rk = old_rk;
  src->queue = old_queue;
  src->commit_q = old_commit_q;
  if (err != SR_OK) {
    if (new_rk) {
      rd_kafka_queue_destroy(new_queue);
      rd_kafka_queue_destroy(new_commit_q);
      rd_kafka_destroy(new_rk);
    }
    rd_kafka_queue_io_event_enable(src->queue, src->pipefd[1], "1", 1);
    rd_kafka_queue_io_event_enable(src->commit_q, src->pipefd[1], "1", 1);
    return err;
  }
  /* The old membership is not left: its coordinator is unreachable, and
   * the group drops it after the session timeout. */
  destroy_consumer(src, false);
  src->rk = new_rk;
  src->queue = new_queue;
  src->commit_q = new_commit_q;
  src->stuck = false;
  for (size_t i = 0; i < src->n_parts; i++)
    src->parts[i].assigned = false;
  src->n_assigned = 0;
  return SR_OK;
}

size_t sr_source_consume(sr_src_t *src, size_t budget, bool *more) {
  rd_kafka_message_t *msgs[BATCH];
  size_t taken = 0;
  sr_source_serve_commits(src);
  check_cluster(src);
  while (taken < budget) {
    size_t want = budget - taken < BATCH ? budget - taken : BATCH;
    ssize_t n = rd_kafka_consume_batch_queue(src->queue, 0, msgs, want);
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; i++) {
      dispatch(src, msgs[i]);
      rd_kafka_message_destroy(msgs[i]);
    }
    taken += (size_t)n;
    if ((size_t)n < want)
      break;
  }
  *more = rd_kafka_queue_length(src->queue) > 0;
  return taken;
}

/* The assigned partitions as a librdkafka list (caller destroys); without
 * the blocked ones unless with_blocked. */
static rd_kafka_topic_partition_list_t *assigned_list(const sr_src_t *src,
                                                      bool with_blocked) {
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new((int)src->n_assigned + 1);
  for (size_t i = 0; i < src->n_parts; i++) {
    if (src->parts[i].assigned && (with_blocked || !src->parts[i].blocked))
      rd_kafka_topic_partition_list_add(list, src->parts[i].topic,
                                        src->parts[i].partition);
  }
  return list;
}

void sr_source_pause(sr_src_t *src, bool pause) {
  if (src->paused == pause)
    return;
  src->paused = pause;
  /* A blocked partition stays paused when the rest resumes. */
  rd_kafka_topic_partition_list_t *list = assigned_list(src, pause);
  rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(src->rk, list)
                                  : rd_kafka_resume_partitions(src->rk, list);
  if (err)
    sr_log(SR_LOG_WARN, pause ? "pause failed" : "resume failed", "error=%s",
           sr_logq(rd_kafka_err2str(err)));
  rd_kafka_topic_partition_list_destroy(list);
}

/* The assigned partition, or NULL. */
static part_t *assigned_part(sr_src_t *src, const char *topic, int32_t p) {
  part_t *part = part_find(src, topic, p);
  return part && part->assigned ? part : NULL;
}

sr_err_t sr_source_block(sr_src_t *src, const char *topic, int32_t partition) {
  part_t *part = assigned_part(src, topic, partition);
  if (!part)
    return SR_ERR_NOT_FOUND;
  part->blocked = true;
  part->drop_from = -1;
  pause_one(src, part, true);
  return SR_OK;
}

/* Moves part's fetch position to off without waiting; what was fetched
 * before is purged. */
static void seek_one(sr_src_t *src, const part_t *part, int64_t off) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, part->topic, part->partition)
      ->offset = off;
  rd_kafka_error_t *error = rd_kafka_seek_partitions(src->rk, list, 0);
  if (error) {
    sr_log(SR_LOG_WARN, "seek failed",
           "topic=%s partition=%" PRId32 " offset=%" PRId64 " error=%s",
           sr_logq(part->topic), part->partition, off,
           sr_logq(rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

sr_err_t sr_source_unblock(sr_src_t *src, const char *topic, int32_t partition,
                           int64_t next) {
  part_t *part = assigned_part(src, topic, partition);
  if (!part)
    return SR_ERR_NOT_FOUND;
  part->blocked = false;
  if (next >= 0)
    part->next = next;
  /* Fetching goes on from the next offset, or from the first message
   * dropped while blocked; a seek, since assigning the partition anew
   * outside a rebalance can trip librdkafka over a fetcher that has not
   * started yet. */
  int64_t from = part->next >= 0 ? part->next : part->drop_from;
  if (from >= 0)
    seek_one(src, part, from);
  if (!src->paused)
    pause_one(src, part, false);
  return SR_OK;
}

void sr_source_forget(sr_src_t *src, const char *topic, int32_t partition) {
  part_t *part = part_find(src, topic, partition);
  if (part) {
    part->next = -1;
    part->held = false;
  }
}

sr_err_t sr_source_committed(sr_src_t *src, sr_offset_t *parts, size_t n,
                             int timeout_ms, char *errstr, size_t errlen) {
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new((int)n + 1);
  for (size_t i = 0; i < n; i++)
    rd_kafka_topic_partition_list_add(list, parts[i].topic, parts[i].partition);
  rd_kafka_resp_err_t err = rd_kafka_committed(src->rk, list, timeout_ms);
  for (size_t i = 0; !err && i < n; i++) {
    const rd_kafka_topic_partition_t *tp = &list->elems[i];
    parts[i].offset = tp->err || tp->offset < 0 ? -1 : tp->offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err)
    return sr_errf(errstr, errlen, SR_ERR_IO, "committed offsets: %s",
                   rd_kafka_err2str(err));
  return SR_OK;
}

bool sr_source_paused(const sr_src_t *src) {
  return src->paused;
}

size_t sr_source_assigned(const sr_src_t *src) {
  return src->n_assigned;
}

/* Copies the entries selected by keep() into a malloc'd array. */
static ssize_t copy_parts(const sr_src_t *src, sr_offset_t **out,
                          bool (*keep)(const part_t *), bool use_next) {
  size_t n = 0;
  *out = NULL;
  for (size_t i = 0; i < src->n_parts; i++)
    n += keep(&src->parts[i]);
  if (n == 0)
    return 0;
  sr_offset_t *offs = calloc(n, sizeof(*offs));
  if (!offs)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < src->n_parts; i++) {
    const part_t *part = &src->parts[i];
    if (!keep(part))
      continue;
    memcpy(offs[k].topic, part->topic, sizeof(offs[k].topic));
    offs[k].partition = part->partition;
    offs[k++].offset = use_next ? part->next : -1;
  }
  *out = offs;
  return (ssize_t)n;
}

static bool has_next(const part_t *part) {
  return part->next >= 0;
}

static bool needs_end(const part_t *part) {
  return part->assigned && part->end < 0;
}

ssize_t sr_source_offsets(const sr_src_t *src, sr_offset_t **out) {
  return copy_parts(src, out, has_next, true);
}

sr_err_t sr_source_commit(sr_src_t *src, const sr_offset_t *offs, size_t n,
                          void *commit_opaque) {
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new((int)n + 1);
  for (size_t i = 0; i < n; i++) {
    part_t *part = part_find(src, offs[i].topic, offs[i].partition);
    /* Another member owns the rest now; its progress is not ours to set. */
    if (part && part->assigned && offs[i].offset >= 0)
      rd_kafka_topic_partition_list_add(list, offs[i].topic, offs[i].partition)
          ->offset = offs[i].offset;
  }
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (list->cnt > 0)
    err = rd_kafka_commit_queue(src->rk, list, src->commit_q, NULL,
                                commit_opaque);
  int cnt = list->cnt;
  rd_kafka_topic_partition_list_destroy(list);
  if (cnt == 0)
    return SR_ERR_NOT_FOUND;
  if (err) {
    sr_log(SR_LOG_WARN, "commit failed", "error=%s",
           sr_logq(rd_kafka_err2str(err)));
    return SR_ERR_IO;
  }
  return SR_OK;
}

ssize_t sr_source_untargeted(const sr_src_t *src, sr_offset_t **out) {
  return copy_parts(src, out, needs_end, false);
}

sr_err_t sr_source_query_ends(sr_src_t *src, sr_offset_t *parts, size_t n,
                              char *errstr, size_t errlen) {
  sr_err_t ret = SR_OK;
  for (size_t i = 0; i < n; i++) {
    int64_t lo, hi;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        src->rk, parts[i].topic, parts[i].partition, &lo, &hi,
        QUERY_TIMEOUT_MS);
    parts[i].offset = err ? -1 : hi;
    if (err && ret == SR_OK)
      ret = sr_errf(errstr, errlen, SR_ERR_IO,
                    "end offset of %s [%" PRId32 "]: %s", parts[i].topic,
                    parts[i].partition, rd_kafka_err2str(err));
  }
  return ret;
}

void sr_source_set_ends(sr_src_t *src, const sr_offset_t *parts, size_t n) {
  sr_buf_t buf = {0};
  for (size_t i = 0; i < n; i++) {
    part_t *part = part_find(src, parts[i].topic, parts[i].partition);
    if (part && part->assigned && parts[i].offset >= 0 && part->end < 0) {
      part->end = parts[i].offset;
      append_part(&buf, part, part->end, false);
    }
  }
  if (buf.len)
    log_parts("end offsets taken", &buf);
  sr_buf_free(&buf);
}

bool sr_source_at_ends(const sr_src_t *src) {
  if (src->n_assigned == 0)
    return false;
  for (size_t i = 0; i < src->n_parts; i++) {
    const part_t *part = &src->parts[i];
    if (!part->assigned)
      continue;
    /* An end-of-partition event at or past the end covers partitions that
     * start there and so never deliver a message. */
    if (part->end < 0 || (part->next < part->end && part->eof < part->end))
      return false;
  }
  return true;
}

typedef struct time_lookup {
  sr_src_t *src;
  rd_kafka_topic_partition_list_t *list;
  char *errstr;
  size_t errlen;
} time_lookup_t;

/* Adds every partition of one topic, asking the cluster how many. */
static int add_topic_partitions(const char *name, size_t len, void *arg) {
  time_lookup_t *tl = arg;
  char topic[SR_TOPIC_MAX + 1];
  snprintf(topic, sizeof(topic), "%.*s", (int)len, name);
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(tl->src->rk, topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(tl->src->rk, 0, rkt, &md, QUERY_TIMEOUT_MS);
  rd_kafka_topic_destroy(rkt);
  if (!err && md->topic_cnt == 1)
    err = md->topics[0].err;
  if (err) {
    if (md)
      rd_kafka_metadata_destroy(md);
    sr_errf(tl->errstr, tl->errlen, SR_ERR_IO, "metadata of %s: %s", topic,
            rd_kafka_err2str(err));
    return -1;
  }
  for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt; p++)
    rd_kafka_topic_partition_list_add(tl->list, topic,
                                      md->topics[0].partitions[p].id)
        ->offset = tl->src->conf.from_ts_ms;
  rd_kafka_metadata_destroy(md);
  return 0;
}

static sr_err_t times_to_offsets(rd_kafka_topic_partition_list_t *list,
                                 sr_offset_t **out, size_t *n) {
  *n = (size_t)list->cnt;
  *out = calloc(*n + 1, sizeof(**out));
  if (!*out)
    return SR_ERR_NOMEM;
  for (int i = 0; i < list->cnt; i++) {
    sr_offset_t *o = &(*out)[i];
    snprintf(o->topic, sizeof(o->topic), "%s", list->elems[i].topic);
    o->partition = list->elems[i].partition;
    /* No message that new: start at the end, i.e. with what comes next. */
    o->offset = list->elems[i].offset >= 0 ? list->elems[i].offset
                                           : RD_KAFKA_OFFSET_END;
  }
  return SR_OK;
}

sr_err_t sr_source_lookup_times(sr_src_t *src, sr_offset_t **out, size_t *n,
                                char *errstr, size_t errlen) {
  time_lookup_t tl = {src, rd_kafka_topic_partition_list_new(8), errstr,
                      errlen};
  sr_err_t ret = SR_ERR_IO;
  *out = NULL;
  *n = 0;
  if (each_topic(src->conf.kafka.input_topics, add_topic_partitions, &tl) != 0)
    goto done;
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(src->rk, tl.list, QUERY_TIMEOUT_MS);
  if (err) {
    sr_errf(errstr, errlen, SR_ERR_IO, "offsets for time %" PRId64 ": %s",
            src->conf.from_ts_ms, rd_kafka_err2str(err));
    goto done;
  }
  ret = times_to_offsets(tl.list, out, n);
done:
  rd_kafka_topic_partition_list_destroy(tl.list);
  return ret;
}

sr_err_t sr_source_set_starts(sr_src_t *src, const sr_offset_t *parts,
                              size_t n) {
  for (size_t i = 0; i < n; i++) {
    part_t *part = part_get(src, parts[i].topic, parts[i].partition);
    if (!part)
      return SR_ERR_NOMEM;
    part->start = parts[i].offset;
    part->has_start = true;
  }
  return SR_OK;
}

/* Events left on one partition: up to its recorded end offset with
 * --until end, else to its last known high watermark (from fetch
 * responses, no network call). Returns -1 while unknown. */
static int64_t part_lag(sr_src_t *src, const part_t *part) {
  int64_t lo = -1, hi = -1;
  rd_kafka_get_watermark_offsets(src->rk, part->topic, part->partition, &lo,
                                 &hi);
  if (part->end >= 0)
    hi = part->end;
  /* Nothing applied yet: the fetcher starts where --from says, and with
   * latest nothing already in the log is owed. */
  bool at_latest =
      src->conf.from == SR_FROM_LATEST && !part->reset && !part->has_start;
  int64_t pos = part->next >= 0 ? part->next : at_latest ? hi : lo;
  if (hi < 0 || pos < 0)
    return -1;
  return hi > pos ? hi - pos : 0;
}

int64_t sr_source_lag(sr_src_t *src) {
  int64_t lag = 0;
  if (src->n_assigned == 0)
    return -1;
  for (size_t i = 0; i < src->n_parts; i++) {
    if (!src->parts[i].assigned)
      continue;
    int64_t n = part_lag(src, &src->parts[i]);
    if (n < 0)
      return -1;
    lag += n;
  }
  return lag;
}

bool sr_source_rejoining(const sr_src_t *src) {
  /* One instance alone has nobody to collide with: only cluster mode waits
   * out the quiet period. */
  if (src->rejoining || !src->conf.cooperative || !src->rebalanced_ms)
    return src->rejoining;
  return sr_mono_ns() / 1000000 - src->rebalanced_ms < COMMIT_QUIET_MS;
}

bool sr_source_brokers_down(const sr_src_t *src) {
  return src->brokers_down;
}

void sr_source_each_lag(sr_src_t *src, sr_source_lag_fn *fn, void *opaque) {
  for (size_t i = 0; i < src->n_parts; i++) {
    part_t *part = &src->parts[i];
    /* During a rebalance the partitions it took away are still shown, so
     * that a lag series does not blink out while the group settles. */
    if (!part->assigned && !(part->held && src->rebalancing))
      continue;
    int64_t n = part_lag(src, part);
    if (n >= 0)
      fn(opaque, part->topic, part->partition, n);
  }
}

sr_source_stats_t sr_source_stats(const sr_src_t *src) {
  return src->stats;
}
