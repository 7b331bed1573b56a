/* The partition follower; see follow.h. */
#define SR_LOG_COMPONENT "follow"
#include "kafka/follow.h"

#include "kafka/client.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long closing may take; a follower is in no group, so this bounds
 * only a broker that vanished. */
#define CLOSE_WAIT_MS 5000

typedef struct fpart {
  char topic[SR_TOPIC_MAX + 1];
  int32_t partition;
  int64_t start; /* where reading began: an offset or a logical one */
  int64_t next;  /* offset of the next message to hand over; -1 unknown */
  bool ended;    /* reached the log's end since it was added */
} fpart_t;

struct sr_follow {
  char name[32];
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  int pipefd[2];
  sr_follow_hooks_t hooks;
  fpart_t *parts;
  size_t n_parts, cap_parts;
  uint64_t resets;
};

static fpart_t *fpart_find(sr_follow_t *fl, const char *topic, int32_t p) {
  for (size_t i = 0; i < fl->n_parts; i++)
    if (fl->parts[i].partition == p && !strcmp(fl->parts[i].topic, topic))
      return &fl->parts[i];
  return NULL;
}

/* Assigns every followed partition at its position: the next offset when
 * known, else where reading was asked to start. */
static sr_err_t reassign(sr_follow_t *fl, char *errstr, size_t errlen) {
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new((int)fl->n_parts + 1);
  for (size_t i = 0; i < fl->n_parts; i++) {
    const fpart_t *p = &fl->parts[i];
    rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
        p->next >= 0 ? p->next : p->start;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(fl->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err)
    return sr_errf(errstr, errlen, SR_ERR_IO, "%s: assign failed: %s", fl->name,
                   rd_kafka_err2str(err));
  return SR_OK;
}

static int follower_defaults(rd_kafka_conf_t *kc, const sr_kafka_conf_t *kconf,
                             const char *name, char *errstr, size_t errlen) {
  /* assign() needs a group id, though this consumer never joins the group:
   * a name of its own keeps it clear of the input group. */
  char group[SR_KAFKA_STR + 40];
  snprintf(group, sizeof(group), "%s.%s",
           kconf->group_id ? kconf->group_id : "streamrec", name);
  const char *const fixed[][2] = {
      {"group.id", group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      /* A lost position arrives as an error, never as a silent jump. */
      {"auto.offset.reset", "error"},
  };
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
    if (sr_kafka_conf_set(kc, fixed[i][0], fixed[i][1], errstr, errlen) != 0)
      return -1;
  return 0;
}

static sr_err_t create_consumer(sr_follow_t *fl, const sr_kafka_conf_t *kconf,
                                const char *brokers, char *errstr,
                                size_t errlen) {
  rd_kafka_conf_t *kc = sr_kafka_conf_new(kconf, brokers, errstr, errlen);
  if (!kc)
    return SR_ERR_INVALID;
  if (follower_defaults(kc, kconf, fl->name, errstr, errlen) != 0) {
    rd_kafka_conf_destroy(kc);
    return SR_ERR_INVALID;
  }
  fl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errlen);
  if (!fl->rk) {
    rd_kafka_conf_destroy(kc);
    return SR_ERR_INVALID;
  }
  rd_kafka_poll_set_consumer(fl->rk);
  fl->queue = rd_kafka_queue_get_consumer(fl->rk);
  rd_kafka_queue_io_event_enable(fl->queue, fl->pipefd[1], "1", 1);
  sr_kafka_pipe_wake(fl->pipefd[1]);
  return SR_OK;
}

sr_follow_t *sr_follow_new(const sr_kafka_conf_t *kconf, const char *brokers,
                           const char *name, const sr_follow_hooks_t *hooks,
                           char *errstr, size_t errlen) {
  sr_follow_t *fl = calloc(1, sizeof(*fl));
  if (!fl) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  fl->pipefd[0] = fl->pipefd[1] = -1;
  fl->hooks = *hooks;
  snprintf(fl->name, sizeof(fl->name), "%s", name);
  if (sr_kafka_pipe(fl->pipefd) != 0) {
    sr_errf(errstr, errlen, SR_ERR_IO, "pipe: %s", strerror(errno));
    sr_follow_free(fl);
    return NULL;
  }
  if (create_consumer(fl, kconf, brokers, errstr, errlen) != SR_OK) {
    sr_follow_free(fl);
    return NULL;
  }
  return fl;
}

void sr_follow_free(sr_follow_t *fl) {
  if (!fl)
    return;
  if (fl->rk) {
    rd_kafka_queue_io_event_enable(fl->queue, -1, NULL, 0);
    rd_kafka_queue_destroy(fl->queue);
    sr_kafka_close_consumer(fl->rk, CLOSE_WAIT_MS, NULL, NULL);
  }
  sr_kafka_pipe_close(fl->pipefd);
  free(fl->parts);
  free(fl);
}

int sr_follow_fd(const sr_follow_t *fl) {
  return fl->pipefd[0];
}

/* Records a partition to follow; nothing is assigned yet. */
static sr_err_t add_part(sr_follow_t *fl, const char *topic, int32_t partition,
                         int64_t offset, char *errstr, size_t errlen) {
  if (fpart_find(fl, topic, partition))
    return SR_OK;
  if (strlen(topic) > SR_TOPIC_MAX)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: topic name too long",
                   fl->name);
  if (SR_GROW(fl->parts, fl->cap_parts, fl->n_parts + 1, 8) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  fpart_t *p = &fl->parts[fl->n_parts++];
  *p = (fpart_t){.partition = partition, .start = offset, .next = -1};
  snprintf(p->topic, sizeof(p->topic), "%s", topic);
  if (offset >= 0)
    p->next = offset;
  return SR_OK;
}

/* Adds (or takes away) one partition without touching the others: a whole
 * new assignment would stop partitions still starting, which librdkafka
 * 2.0.2 aborts on (rd_kafka_assignment_partition_stopped). */
static sr_err_t change_one(sr_follow_t *fl, const fpart_t *p, bool add,
                           char *errstr, size_t errlen) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
      p->next >= 0 ? p->next : p->start;
  rd_kafka_error_t *error = add ? rd_kafka_incremental_assign(fl->rk, list)
                                : rd_kafka_incremental_unassign(fl->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (!error)
    return SR_OK;
  sr_errf(errstr, errlen, SR_ERR_IO, "%s: %s failed: %s", fl->name,
          add ? "assign" : "unassign", rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return SR_ERR_IO;
}

sr_err_t sr_follow_add(sr_follow_t *fl, const char *topic, int32_t partition,
                       int64_t offset, char *errstr, size_t errlen) {
  if (fpart_find(fl, topic, partition))
    return SR_OK;
  sr_err_t err = add_part(fl, topic, partition, offset, errstr, errlen);
  if (err != SR_OK)
    return err;
  err = change_one(fl, &fl->parts[fl->n_parts - 1], true, errstr, errlen);
  if (err != SR_OK)
    fl->n_parts--;
  return err;
}

/* librdkafka 2.0.2 can abort (rd_kafka_assignment_partition_stopped) when
 * assignments replace each other while partitions are still starting, so
 * several partitions are assigned in one go. */
sr_err_t sr_follow_add_all(sr_follow_t *fl, const char *topic, int n,
                           const int64_t *offsets, char *errstr,
                           size_t errlen) {
  for (int p = 0; p < n; p++) {
    sr_err_t err = add_part(fl, topic, p, offsets[p], errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return reassign(fl, errstr, errlen);
}

sr_err_t sr_follow_remove(sr_follow_t *fl, const char *topic, int32_t partition,
                          char *errstr, size_t errlen) {
  fpart_t *p = fpart_find(fl, topic, partition);
  if (!p)
    return SR_ERR_NOT_FOUND;
  sr_err_t err = change_one(fl, p, false, errstr, errlen);
  *p = fl->parts[--fl->n_parts];
  return err;
}

static fpart_t *msg_part(sr_follow_t *fl, const rd_kafka_message_t *msg) {
  return msg->rkt
             ? fpart_find(fl, rd_kafka_topic_name(msg->rkt), msg->partition)
             : NULL;
}

/* The log no longer holds the position: say so, then read from its start. */
static void lost_position(sr_follow_t *fl, fpart_t *p) {
  fl->resets++;
  sr_log(SR_LOG_ERROR,
         "followed partition lost its position; reading from "
         "the log's start",
         "client=%s topic=%s partition=%" PRId32 " next_offset=%" PRId64,
         sr_logq(fl->name), sr_logq(p->topic), p->partition, p->next);
  p->next = -1;
  p->start = RD_KAFKA_OFFSET_BEGINNING;
  char err[256];
  if (reassign(fl, err, sizeof(err)) != SR_OK)
    sr_log(SR_LOG_ERROR, "re-assign failed", "error=%s", sr_logq(err));
}

static void on_end(sr_follow_t *fl, fpart_t *p, int64_t offset) {
  p->next = offset;
  if (p->ended)
    return;
  p->ended = true;
  if (fl->hooks.on_end)
    fl->hooks.on_end(fl->hooks.opaque, p->topic, p->partition, offset);
}

static void on_error(sr_follow_t *fl, const rd_kafka_message_t *msg) {
  fpart_t *p = msg_part(fl, msg);
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (p)
      on_end(fl, p, msg->offset);
    return;
  }
  if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && p) {
    lost_position(fl, p);
    return;
  }
  sr_log(SR_LOG_WARN, "consumer error",
         "client=%s topic=%s partition=%" PRId32 " error=%s", sr_logq(fl->name),
         sr_logq(msg->rkt ? rd_kafka_topic_name(msg->rkt) : ""), msg->partition,
         sr_logq(rd_kafka_message_errstr(msg)));
}

static void dispatch(sr_follow_t *fl, const rd_kafka_message_t *msg) {
  if (msg->err) {
    on_error(fl, msg);
    return;
  }
  fpart_t *p = msg_part(fl, msg);
  if (!p || (p->next >= 0 && msg->offset < p->next))
    return; /* no longer followed, or handed over before a re-assignment */
  p->next = msg->offset + 1;
  fl->hooks.on_message(fl->hooks.opaque, msg);
}

size_t sr_follow_consume(sr_follow_t *fl, size_t budget, bool *more) {
  sr_kafka_pipe_drain(fl->pipefd[0]);
  size_t taken = 0;
  *more = false;
  while (taken < budget) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(fl->rk, 0);
    if (!msg)
      return taken;
    dispatch(fl, msg);
    rd_kafka_message_destroy(msg);
    taken++;
  }
  *more = true;
  return taken;
}

ssize_t sr_follow_offsets(const sr_follow_t *fl, sr_offset_t **out) {
  *out = NULL;
  if (fl->n_parts == 0)
    return 0;
  *out = malloc(fl->n_parts * sizeof(**out));
  if (!*out)
    return -1;
  for (size_t i = 0; i < fl->n_parts; i++) {
    sr_offset_t *o = &(*out)[i];
    snprintf(o->topic, sizeof(o->topic), "%s", fl->parts[i].topic);
    o->partition = fl->parts[i].partition;
    o->offset = fl->parts[i].next;
  }
  return (ssize_t)fl->n_parts;
}

bool sr_follow_at_ends(const sr_follow_t *fl) {
  for (size_t i = 0; i < fl->n_parts; i++)
    if (!fl->parts[i].ended)
      return false;
  return fl->n_parts > 0;
}

int64_t sr_follow_lag(const sr_follow_t *fl) {
  int64_t lag = -1;
  for (size_t i = 0; i < fl->n_parts; i++) {
    const fpart_t *p = &fl->parts[i];
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(fl->rk, p->topic, p->partition, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
      continue;
    int64_t at = p->next >= 0 ? p->next : lo;
    lag = (lag < 0 ? 0 : lag) + (hi > at ? hi - at : 0);
  }
  return lag;
}

uint64_t sr_follow_resets(const sr_follow_t *fl) {
  return fl->resets;
}

int sr_follow_partitions(sr_follow_t *fl, const char *topic, int timeout_ms,
                         char *errstr, size_t errlen) {
  /* All topics: a request naming one may create it on brokers that
   * auto-create, and a check must not. */
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err = rd_kafka_metadata(fl->rk, 1, NULL, &md, timeout_ms);
  if (err) {
    sr_errf(errstr, errlen, SR_ERR_IO, "metadata: %s", rd_kafka_err2str(err));
    return -1;
  }
  int count = -1;
  for (int i = 0; i < md->topic_cnt && count < 0; i++)
    if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
      count = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  if (count < 0)
    sr_errf(errstr, errlen, SR_ERR_NOT_FOUND, "topic '%s' does not exist",
            topic);
  return count;
}
