/* Partition takeover and the state flush in cluster mode; see owner.h. */
#define SR_LOG_COMPONENT "owner"
#include "daemon/owner.h"

#include "core/share.h"
#include "daemon/handoff.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/log.h"
#include "util/now.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long one committed-offset query waits, and how often it is tried
 * before the partition is restored without knowing the committed offset. */
#define QUERY_TIMEOUT_MS 10000
#define QUERY_TRIES 6
#define QUERY_RETRY_MS 500
/* State records carry this bit in their sink tag; sync batches never do. */
#define STATE_TAG 0x80000000u

typedef enum part_state {
  PS_NONE,    /* not this instance's */
  PS_QUERY,   /* held back: committed offset being fetched */
  PS_RESTORE, /* held back: users being read from the state topic */
  PS_HELD,    /* consumed */
} part_state_t;

typedef struct part {
  part_state_t state;
  bool asked;     /* in the query under way */
  uint32_t epoch; /* bumped at each assignment */
  int64_t local;  /* the checkpoint's next offset; -1 unknown or stale */
  int64_t resume; /* the committed offset to resume at after a restore */
  uint64_t began_ns;
} part_t;

/* One committed-offset query in the thread pool. */
typedef struct query {
  uv_work_t req;
  sr_owner_t *o;
  sr_offset_t *parts;
  uint32_t *epochs;
  size_t n;
  sr_err_t err;
  char errstr[256];
} query_t;

/* The flush under way: its records in flight and whether one failed. */
typedef struct flush {
  bool active;
  uint32_t gen;
  uint64_t pending;
  bool failed;
} flush_t;

struct sr_owner {
  uv_loop_t *loop;
  char state_topic[SR_TOPIC_MAX + 1];
  char input_topic[SR_TOPIC_MAX + 1];
  sr_model_t **mdl;
  sr_src_t *src;
  sr_sink_t *snk;
  sr_handoff_t *ho;
  sr_telemetry_t *tel; /* may be NULL */
  sr_owner_halt_fn *on_halt;
  sr_owner_taken_fn *on_taken;
  void *opaque;
  part_t *parts;
  size_t n_parts, cap_parts;
  bool querying;
  atomic_bool closing;
  flush_t flush;
  sr_owner_stats_t stats;
};

static void on_restored(void *opaque, int32_t p, uint64_t users,
                        uint64_t records);

/* The entry of partition p, created (not ours) when new. NULL when out of
 * memory. */
static part_t *part_get(sr_owner_t *o, int32_t p) {
  if (p < 0)
    return NULL;
  size_t need = (size_t)p + 1;
  if (need > o->n_parts) {
    if (SR_GROW(o->parts, o->cap_parts, need, 16) != 0)
      return NULL;
    for (size_t i = o->n_parts; i < need; i++)
      o->parts[i] = (part_t){.state = PS_NONE, .local = -1, .resume = -1};
    o->n_parts = need;
  }
  return &o->parts[p];
}

static sr_err_t set_local(sr_owner_t *o, const sr_owner_conf_t *conf,
                          char *errstr, size_t errlen) {
  for (size_t i = 0; i < conf->n_offsets; i++) {
    const sr_offset_t *off = &conf->offsets[i];
    if (strcmp(off->topic, o->input_topic) || off->partition < 0)
      continue;
    part_t *part = part_get(o, off->partition);
    if (!part)
      return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    part->local = off->offset;
  }
  return SR_OK;
}

sr_owner_t *sr_owner_new(uv_loop_t *loop, const sr_owner_conf_t *conf,
                         const sr_kafka_conf_t *kc, const char *brokers,
                         sr_model_t **mdl, sr_src_t *src, sr_sink_t *snk,
                         char *errstr, size_t errlen) {
  sr_owner_t *o = calloc(1, sizeof(*o));
  if (!o) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  o->loop = loop;
  o->mdl = mdl;
  o->src = src;
  o->snk = snk;
  o->on_halt = conf->on_halt;
  o->on_taken = conf->on_taken;
  o->opaque = conf->opaque;
  o->tel = conf->tel;
  snprintf(o->state_topic, sizeof(o->state_topic), "%s", conf->state_topic);
  snprintf(o->input_topic, sizeof(o->input_topic), "%s", conf->input_topic);
  atomic_init(&o->closing, false);
  if (set_local(o, conf, errstr, errlen) != SR_OK) {
    sr_owner_free(o);
    return NULL;
  }
  o->ho = sr_handoff_new(kc, brokers, o->state_topic, mdl, on_restored, o,
                         errstr, errlen);
  if (!o->ho) {
    sr_owner_free(o);
    return NULL;
  }
  sr_handoff_set_telemetry(o->ho, o->tel);
  return o;
}

void sr_owner_free(sr_owner_t *o) {
  if (!o)
    return;
  sr_handoff_free(o->ho);
  free(o->parts);
  free(o);
}

void sr_owner_close(sr_owner_t *o) {
  atomic_store(&o->closing, true);
}

int sr_owner_fd(const sr_owner_t *o) {
  return sr_handoff_fd(o->ho);
}

void sr_owner_serve(sr_owner_t *o, size_t budget, bool *more) {
  sr_handoff_serve(o->ho, budget, more);
}

/* Lets p go on at next (-1: where the source would start it). */
static void release(sr_owner_t *o, int32_t p, int64_t next) {
  o->parts[p].state = PS_HELD;
  sr_source_unblock(o->src, o->input_topic, p, next);
}

static void on_restored(void *opaque, int32_t p, uint64_t users,
                        uint64_t records) {
  (void)records;
  sr_owner_t *o = opaque;
  if ((size_t)p >= o->n_parts || o->parts[p].state != PS_RESTORE)
    return;
  part_t *part = &o->parts[p];
  double secs = (double)(sr_mono_ns() - part->began_ns) / 1e9;
  o->stats.restored_parts++;
  o->stats.restore_seconds += secs;
  sr_log(SR_LOG_INFO, "partition taken over from the state topic",
         "partition=%" PRId32 " users=%" PRIu64 " resume=%" PRId64
         " seconds=%.3f",
         p, users, part->resume, secs);
  release(o, p, part->resume);
  if (o->on_taken)
    o->on_taken(o->opaque, p);
}

/* The committed offset of p is known (-1: none): keep the local users when
 * the checkpoint they come from is exactly where the group stands, else
 * read them from the state topic. With no commit at all the state topic is
 * read too: an owner may have flushed users before its first commit, and
 * the skip rule then keeps the replay from the start exact. */
static void decide(sr_owner_t *o, int32_t p, int64_t committed) {
  part_t *part = &o->parts[p];
  if (committed >= 0 && committed == part->local) {
    o->stats.kept_parts++;
    sr_log(SR_LOG_INFO, "partition taken over from local state",
           "partition=%" PRId32 " offset=%" PRId64, p, committed);
    release(o, p, -1);
    if (o->on_taken)
      o->on_taken(o->opaque, p);
    return;
  }
  char err[256];
  part->state = PS_RESTORE;
  part->resume = committed;
  part->began_ns = sr_mono_ns();
  if (sr_handoff_begin(o->ho, p, err, sizeof(err)) == SR_OK)
    return;
  sr_log(SR_LOG_ERROR, "cannot read the state topic",
         "partition=%" PRId32 " error=%s", p, sr_logq(err));
  if (o->on_halt)
    o->on_halt(o->opaque, "state topic unreadable");
}

static void query_work(uv_work_t *req) {
  query_t *q = req->data;
  for (int i = 0; i < QUERY_TRIES && !atomic_load(&q->o->closing); i++) {
    q->err = sr_source_committed(q->o->src, q->parts, q->n, QUERY_TIMEOUT_MS,
                                 q->errstr, sizeof(q->errstr));
    if (q->err == SR_OK)
      return;
    uv_sleep(QUERY_RETRY_MS);
  }
}

static void start_query(sr_owner_t *o);

static void query_free(query_t *q) {
  free(q->parts);
  free(q->epochs);
  free(q);
}

/* An assignment's committed offsets arrived. A partition revoked (or
 * revoked and assigned again) meanwhile is left to its newer state. When
 * the group would not answer, the partition is restored and resumes where
 * the source would start it (the skip rule keeps its users exact). */
static void query_done(uv_work_t *req, int status) {
  query_t *q = req->data;
  sr_owner_t *o = q->o;
  o->querying = false;
  bool ok = status == 0 && q->err == SR_OK;
  if (!ok)
    sr_log(SR_LOG_WARN,
           "committed offsets unknown; restoring from the state "
           "topic",
           "error=%s", sr_logq(status ? uv_strerror(status) : q->errstr));
  for (size_t i = 0; i < q->n && !atomic_load(&o->closing); i++) {
    int32_t p = q->parts[i].partition;
    part_t *part = &o->parts[p];
    if (part->state != PS_QUERY || part->epoch != q->epochs[i])
      continue;
    part->asked = false;
    decide(o, p, ok ? q->parts[i].offset : -2);
  }
  query_free(q);
  start_query(o);
}

static query_t *query_new(sr_owner_t *o, size_t n) {
  query_t *q = calloc(1, sizeof(*q));
  if (!q)
    return NULL;
  q->parts = calloc(n, sizeof(*q->parts));
  q->epochs = calloc(n, sizeof(*q->epochs));
  if (!q->parts || !q->epochs) {
    query_free(q);
    return NULL;
  }
  q->o = o;
  q->req.data = q;
  return q;
}

/* One query at a time, for every partition waiting that is not in one. */
static void start_query(sr_owner_t *o) {
  size_t n = 0;
  for (size_t p = 0; p < o->n_parts; p++)
    n += o->parts[p].state == PS_QUERY && !o->parts[p].asked;
  if (o->querying || n == 0 || atomic_load(&o->closing))
    return;
  query_t *q = query_new(o, n);
  if (!q) {
    sr_log(SR_LOG_ERROR, "out of memory querying committed offsets", NULL);
    return;
  }
  for (size_t p = 0; p < o->n_parts; p++) {
    part_t *part = &o->parts[p];
    if (part->state != PS_QUERY || part->asked)
      continue;
    sr_offset_t *off = &q->parts[q->n];
    snprintf(off->topic, sizeof(off->topic), "%s", o->input_topic);
    off->partition = (int32_t)p;
    q->epochs[q->n++] = part->epoch;
    part->asked = true;
  }
  if (uv_queue_work(o->loop, &q->req, query_work, query_done) != 0) {
    for (size_t i = 0; i < q->n; i++)
      o->parts[q->parts[i].partition].asked = false;
    query_free(q);
    return;
  }
  o->querying = true;
}

void sr_owner_assigned(sr_owner_t *o, int32_t p) {
  part_t *part = part_get(o, p);
  if (!part) {
    sr_log(SR_LOG_ERROR, "out of memory taking over a partition", NULL);
    return;
  }
  if (sr_source_block(o->src, o->input_topic, p) != SR_OK)
    return;
  part->state = PS_QUERY;
  part->asked = false;
  part->epoch++;
  start_query(o);
}

void sr_owner_revoked(sr_owner_t *o, int32_t p) {
  part_t *part = part_get(o, p);
  if (!part)
    return;
  if (part->state == PS_RESTORE)
    sr_handoff_cancel(o->ho, p);
  part->state = PS_NONE;
  part->local = -1; /* the next owner moves the partition on */
  uint32_t n = sr_share_drop_partition(*o->mdl, p);
  /* Its events left with its users: taken back later, it resumes where the
   * group's commit or the state topic says, not where this member was. */
  if (o->src)
    sr_source_forget(o->src, o->input_topic, p);
  sr_log(SR_LOG_INFO, "users of a revoked partition dropped",
         "topic=%s partition=%" PRId32 " users=%" PRIu32,
         sr_logq(o->input_topic), p, n);
}

static int send_state(void *opaque, int32_t partition, const char *key,
                      size_t key_len, const void *value, size_t len) {
  sr_owner_t *o = opaque;
  uint32_t tag = STATE_TAG | (o->flush.gen & ~STATE_TAG);
  if (sr_sink_produce(o->snk, o->state_topic, partition, key, key_len, value,
                      len, tag) != SR_OK)
    return -1;
  o->flush.pending++;
  return 0;
}

sr_owner_flush_t sr_owner_flush(sr_owner_t *o) {
  flush_t *fl = &o->flush;
  if (!fl->active) {
    fl->active = true;
    fl->gen++;
    fl->pending = 0;
    fl->failed = false;
    uint64_t records = 0;
    if (sr_handoff_flush(*o->mdl, o->tel, send_state, o, &records) != 0) {
      fl->failed = true;
      o->stats.records_failed++;
      sr_log(SR_LOG_WARN, "state records refused by the producer",
             "topic=%s sent=%" PRIu64, sr_logq(o->state_topic), records);
    }
  }
  if (fl->failed)
    return fl->pending ? SR_OWNER_SENDING : SR_OWNER_FAILED;
  return fl->pending ? SR_OWNER_SENDING : SR_OWNER_FLUSHED;
}

void sr_owner_flush_done(sr_owner_t *o) {
  if (o->flush.active && !o->flush.failed && !o->flush.pending)
    sr_share_flush_done(*o->mdl);
  o->flush.active = false;
}

void sr_owner_flush_abandon(sr_owner_t *o) {
  o->flush.active = false;
  o->flush.pending = 0;
}

bool sr_owner_is_record(uint32_t tag) {
  return (tag & STATE_TAG) != 0;
}

void sr_owner_delivered(sr_owner_t *o, rd_kafka_resp_err_t err, uint32_t tag,
                        size_t len) {
  if (err) {
    o->stats.records_failed++;
  } else {
    o->stats.records_sent++;
    o->stats.bytes_sent += len;
  }
  flush_t *fl = &o->flush;
  if (!fl->active || (tag & ~STATE_TAG) != (fl->gen & ~STATE_TAG) ||
      !fl->pending)
    return;
  fl->pending--;
  fl->failed |= err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Whether a checkpoint may name off: a partition consumed, or one the
 * loaded checkpoint named that has not been assigned since (its users are
 * as loaded). A partition being taken over or revoked is not: its users
 * are half installed, or gone. */
static bool held(const sr_owner_t *o, const sr_offset_t *off) {
  if (strcmp(off->topic, o->input_topic))
    return true;
  if (off->partition < 0 || (size_t)off->partition >= o->n_parts)
    return false;
  const part_t *part = &o->parts[off->partition];
  return part->state == PS_HELD || (part->state == PS_NONE && part->local >= 0);
}

size_t sr_owner_held_offsets(const sr_owner_t *o, sr_offset_t *offs, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (held(o, &offs[i]))
      offs[k++] = offs[i];
  return k;
}

sr_owner_stats_t sr_owner_stats(const sr_owner_t *o) {
  sr_owner_stats_t s = o->stats;
  sr_handoff_stats_t hs = sr_handoff_stats(o->ho);
  s.restored_users = hs.users;
  s.restore_records = hs.records;
  s.restore_bytes = hs.bytes;
  s.pending = (uint32_t)sr_owner_pending(o, NULL, 0);
  return s;
}

size_t sr_owner_pending(const sr_owner_t *o, int32_t *parts, size_t max) {
  size_t n = 0;
  for (size_t p = 0; p < o->n_parts; p++) {
    part_state_t st = o->parts[p].state;
    if (st != PS_QUERY && st != PS_RESTORE)
      continue;
    if (n < max)
      parts[n] = (int32_t)p;
    n++;
  }
  return n;
}
