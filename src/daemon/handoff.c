/* User handoff through the state topic; see handoff.h. */
#define SR_LOG_COMPONENT "handoff"
#include "daemon/handoff.h"

#include "codec/cluster_codec.h"
#include "core/share.h"
#include "kafka/follow.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/log.h"

#include <inttypes.h>

/* A long restore logs its progress every this many records of a
 * partition. */
#define PROGRESS_RECORDS 100000
#include <stdlib.h>
#include <string.h>

/* The records of one flush on their way to send. */
typedef struct flush {
  sr_model_t *mdl;
  const sr_telemetry_t *tel; /* NULL: no lists */
  sr_handoff_send_fn *send;
  void *opaque;
  sr_buf_t buf;
  uint64_t records;
} flush_t;

static int flush_user(void *opaque, const sr_user_state_t *st) {
  flush_t *fl = opaque;
  if (st->partition < 0)
    return 0; /* never learned through a partition: nobody restores it */
  fl->buf.len = 0;
  sr_user_state_t with = *st;
  if (fl->tel) {
    int64_t row = sr_model_find_user(fl->mdl, st->user_id, strlen(st->user_id));
    if (row >= 0)
      with.n_listed = sr_telemetry_list(fl->tel, (uint32_t)row, &with.listed);
  }
  if (sr_user_state_encode(&with, &fl->buf) != 0)
    return -1;
  int rc = fl->send(fl->opaque, st->partition, st->user_id, strlen(st->user_id),
                    fl->buf.data ? fl->buf.data : "", fl->buf.len);
  fl->records += rc == 0;
  return rc;
}

static int flush_gone(void *opaque, const char *user_id, int32_t partition) {
  flush_t *fl = opaque;
  if (partition < 0)
    return 0;
  int rc = fl->send(fl->opaque, partition, user_id, strlen(user_id), NULL, 0);
  fl->records += rc == 0;
  return rc;
}

int sr_handoff_flush(sr_model_t *mdl, const sr_telemetry_t *tel,
                     sr_handoff_send_fn *send, void *opaque,
                     uint64_t *records) {
  flush_t fl = {mdl, tel, send, opaque, {0}, 0};
  int rc = sr_share_flush(mdl, flush_user, flush_gone, &fl);
  sr_buf_free(&fl.buf);
  *records = fl.records;
  return rc;
}

/* One partition being restored. */
typedef struct restoring {
  int32_t partition;
  uint64_t users, records;
  bool ended;
  /* Revoked before the end: its records are ignored, and it stops being
   * read once its end shows that its fetcher has started (kafka/follow). */
  bool cancelled;
  /* Taken over again while cancelled: read anew once that end is seen. */
  bool again;
} restoring_t;

struct sr_handoff {
  sr_model_t **mdl;
  sr_telemetry_t *tel; /* NULL: lists not installed */
  const char *topic;
  sr_follow_t *follow;
  sr_handoff_done_fn *done;
  void *opaque;
  restoring_t *parts;
  size_t n_parts, cap_parts;
  sr_handoff_stats_t stats;
};

static restoring_t *find(const sr_handoff_t *ho, int32_t p) {
  for (size_t i = 0; i < ho->n_parts; i++)
    if (ho->parts[i].partition == p)
      return &ho->parts[i];
  return NULL;
}

/* The user's last published list, for its row in this model. */
static void put_list(sr_handoff_t *ho, const sr_user_state_t *st) {
  int64_t row = sr_model_find_user(*ho->mdl, st->user_id, strlen(st->user_id));
  if (row >= 0)
    sr_telemetry_put_list(ho->tel, (uint32_t)row, st->listed, st->n_listed);
}

/* A tombstone removes the user; a record replaces its state. */
static void install(sr_handoff_t *ho, restoring_t *r,
                    const rd_kafka_message_t *msg) {
  sr_model_t *mdl = *ho->mdl;
  r->records++;
  ho->stats.records++;
  ho->stats.bytes += msg->len;
  if (!msg->payload) {
    sr_share_remove_user(mdl, msg->key ? msg->key : "", msg->key_len);
    return;
  }
  sr_user_state_t st;
  char err[256];
  sr_err_t rc = sr_user_state_decode(
      msg->payload, msg->len, sr_model_conf(mdl)->dims, &st, err, sizeof(err));
  if (rc == SR_OK)
    rc = sr_share_put_user(mdl, &st);
  if (rc == SR_OK && ho->tel)
    put_list(ho, &st);
  if (rc != SR_OK) {
    ho->stats.refused++;
    sr_log(SR_LOG_WARN, "state record refused",
           "topic=%s partition=%" PRId32 " offset=%" PRId64 " error=%s",
           sr_logq(ho->topic), msg->partition, msg->offset,
           sr_logq(rc == SR_ERR_DECODE ? err : sr_err_str(rc)));
  } else {
    r->users++;
    ho->stats.users++;
  }
  sr_user_state_clear(&st);
}

static void on_message(void *opaque, const rd_kafka_message_t *msg) {
  sr_handoff_t *ho = opaque;
  restoring_t *r = find(ho, msg->partition);
  if (!r || r->ended || r->cancelled || r->again)
    return;
  install(ho, r, msg);
  if (r->records % PROGRESS_RECORDS == 0)
    sr_log(SR_LOG_INFO, "restoring users of a partition: progress",
           "topic=%s partition=%" PRId32 " records=%" PRIu64 " users=%" PRIu64
           " offset=%" PRId64,
           sr_logq(ho->topic), r->partition, r->records, r->users, msg->offset);
}

static void on_end(void *opaque, const char *topic, int32_t partition,
                   int64_t offset) {
  (void)topic, (void)offset;
  restoring_t *r = find(opaque, partition);
  if (r)
    r->ended = true; /* finished after the consume step, see finish() */
}

sr_handoff_t *sr_handoff_new(const sr_kafka_conf_t *kconf, const char *brokers,
                             const char *state_topic, sr_model_t **mdl,
                             sr_handoff_done_fn *done, void *opaque,
                             char *errstr, size_t errlen) {
  sr_handoff_t *ho = calloc(1, sizeof(*ho));
  if (!ho) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  *ho = (sr_handoff_t){
      .mdl = mdl, .topic = state_topic, .done = done, .opaque = opaque};
  sr_follow_hooks_t hooks = {on_message, on_end, ho};
  ho->follow = sr_follow_new(kconf, brokers, "state", &hooks, errstr, errlen);
  if (!ho->follow) {
    free(ho);
    return NULL;
  }
  return ho;
}

void sr_handoff_set_telemetry(sr_handoff_t *ho, sr_telemetry_t *tel) {
  ho->tel = tel;
}

void sr_handoff_free(sr_handoff_t *ho) {
  if (!ho)
    return;
  sr_follow_free(ho->follow);
  free(ho->parts);
  free(ho);
}

int sr_handoff_fd(const sr_handoff_t *ho) {
  return sr_follow_fd(ho->follow);
}

sr_err_t sr_handoff_begin(sr_handoff_t *ho, int32_t p, char *errstr,
                          size_t errlen) {
  restoring_t *r = find(ho, p);
  if (r && r->cancelled) {
    /* Still being read from its last takeover: read it anew at its end. */
    sr_share_drop_partition(*ho->mdl, p);
    r->cancelled = false;
    r->again = true;
    return SR_OK;
  }
  if (r)
    return SR_OK;
  if (SR_GROW(ho->parts, ho->cap_parts, ho->n_parts + 1, 8) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  uint32_t dropped = sr_share_drop_partition(*ho->mdl, p);
  sr_err_t err = sr_follow_add(ho->follow, ho->topic, p,
                               RD_KAFKA_OFFSET_BEGINNING, errstr, errlen);
  if (err != SR_OK)
    return err;
  ho->parts[ho->n_parts++] = (restoring_t){.partition = p};
  sr_log(SR_LOG_INFO, "restoring users of a partition",
         "topic=%s partition=%" PRId32 " dropped=%" PRIu32, sr_logq(ho->topic),
         p, dropped);
  return SR_OK;
}

/* Forgets the k-th restore and stops reading its partition. */
static void forget(sr_handoff_t *ho, size_t k) {
  char err[256];
  int32_t p = ho->parts[k].partition;
  ho->parts[k] = ho->parts[--ho->n_parts];
  if (sr_follow_remove(ho->follow, ho->topic, p, err, sizeof(err)) == SR_ERR_IO)
    sr_log(SR_LOG_WARN, "stopping a state partition failed",
           "partition=%" PRId32 " error=%s", p, sr_logq(err));
}

int sr_handoff_cancel(sr_handoff_t *ho, int32_t p) {
  restoring_t *r = find(ho, p);
  if (!r || r->cancelled)
    return 0;
  r->cancelled = true;
  r->again = false;
  return 1;
}

/* A partition taken over again while its cancelled read went on: that read
 * ended, so it is read from the start once more. */
static void restart(sr_handoff_t *ho, size_t k) {
  int32_t p = ho->parts[k].partition;
  forget(ho, k);
  char err[256];
  if (sr_handoff_begin(ho, p, err, sizeof(err)) != SR_OK)
    sr_log(SR_LOG_ERROR, "restoring a partition again failed",
           "partition=%" PRId32 " error=%s", p, sr_logq(err));
}

/* Reports and forgets the partitions that reached their end. */
static void finish(sr_handoff_t *ho) {
  for (size_t k = 0; k < ho->n_parts;) {
    restoring_t r = ho->parts[k];
    if (!r.ended) {
      k++;
      continue;
    }
    if (r.again) {
      restart(ho, k);
      continue;
    }
    forget(ho, k);
    if (r.cancelled)
      continue;
    ho->stats.completed++;
    sr_log(SR_LOG_INFO, "users of a partition restored",
           "topic=%s partition=%" PRId32 " users=%" PRIu64 " records=%" PRIu64,
           sr_logq(ho->topic), r.partition, r.users, r.records);
    if (ho->done)
      ho->done(ho->opaque, r.partition, r.users, r.records);
  }
}

void sr_handoff_serve(sr_handoff_t *ho, size_t budget, bool *more) {
  sr_follow_consume(ho->follow, budget, more);
  finish(ho);
}

bool sr_handoff_restoring(const sr_handoff_t *ho, int32_t p) {
  const restoring_t *r = find(ho, p);
  return r && !r->cancelled;
}

sr_handoff_stats_t sr_handoff_stats(const sr_handoff_t *ho) {
  sr_handoff_stats_t s = ho->stats;
  s.restoring = 0;
  for (size_t k = 0; k < ho->n_parts; k++)
    s.restoring += !ho->parts[k].cancelled;
  return s;
}
