/* Item sync over the sync topic; see sync.h. */
#define SR_LOG_COMPONENT "sync"
#include "daemon/sync.h"

#include "core/share.h"
#include "kafka/follow.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/log.h"
#include "util/now.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBER_PREFIX "member:"
/* How long start-up waits for the sync topic's partition count. */
#define PARTITIONS_TIMEOUT_MS 10000
/* Protobuf framing of one delta besides its id and factors, near enough. */
#define DELTA_OVERHEAD 24

/* The deltas taken so far for the batch being built: copies, since the
 * model hands each one over in scratch valid during its callback. */
typedef struct batch {
  sr_item_delta_t *items;
  size_t n, cap;
  float *factors; /* cap * dims */
  char **ids;
  size_t bytes; /* estimated encoding size */
} batch_t;

struct sr_sync {
  char topic[SR_TOPIC_MAX + 1];
  char member_id[SR_SYNC_MEMBER_MAX + 1];
  sr_delta_enc_t enc;
  size_t batch_bytes;
  uint32_t dims;
  sr_model_t *mdl;
  sr_sink_t *snk;
  sr_follow_t *fl;
  batch_t batch;
  uint64_t events; /* events of the publication under way, sent once */
  uint64_t in_flight;
  size_t queued; /* batches queued by the publication under way */
  sr_sync_stats_t stats;
};

/* A random id that no other instance picks: 64 bits from the kernel, or
 * from the clock and the pid when it has none to give. */
static void random_member(char *out, size_t len) {
  uint64_t r = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(&r, sizeof(r), 1, f) != 1)
    r = sr_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)sr_now_ms();
  if (f)
    fclose(f);
  snprintf(out, len, "m-%016" PRIx64, r);
}

bool sr_sync_member_id(const char *instance_id, const sr_offset_t *offs,
                       size_t n, char *out, size_t len) {
  if (instance_id && *instance_id) {
    snprintf(out, len, "%s", instance_id);
    return false;
  }
  const size_t plen = strlen(MEMBER_PREFIX);
  for (size_t i = 0; i < n; i++) {
    if (!strncmp(offs[i].topic, MEMBER_PREFIX, plen) &&
        offs[i].topic[plen] != '\0') {
      snprintf(out, len, "%s", offs[i].topic + plen);
      return false;
    }
  }
  random_member(out, len);
  return true;
}

bool sr_sync_owns_offset(const char *topic, const sr_offset_t *off) {
  return !strcmp(off->topic, topic) ||
         !strncmp(off->topic, MEMBER_PREFIX, strlen(MEMBER_PREFIX));
}

static void on_batch(void *opaque, const rd_kafka_message_t *msg);

/* Every partition, from the checkpoint's next offset or else the start:
 * a member that never read the topic learns the items from its history. */
static sr_err_t follow_all(sr_sync_t *sy, const sr_sync_conf_t *conf,
                           char *errstr, size_t errlen) {
  int parts = sr_follow_partitions(sy->fl, sy->topic, PARTITIONS_TIMEOUT_MS,
                                   errstr, errlen);
  if (parts < 0)
    return SR_ERR_IO;
  int64_t *from = malloc((size_t)(parts ? parts : 1) * sizeof(*from));
  if (!from)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  for (int p = 0; p < parts; p++) {
    from[p] = RD_KAFKA_OFFSET_BEGINNING;
    for (size_t i = 0; i < conf->n_offsets; i++)
      if (conf->offsets[i].partition == p && conf->offsets[i].offset >= 0 &&
          !strcmp(conf->offsets[i].topic, sy->topic))
        from[p] = conf->offsets[i].offset;
  }
  sr_err_t err =
      sr_follow_add_all(sy->fl, sy->topic, parts, from, errstr, errlen);
  free(from);
  if (err != SR_OK)
    return err;
  sr_log(SR_LOG_INFO, "following the sync topic",
         "topic=%s partitions=%d member=%s", sr_logq(sy->topic), parts,
         sr_logq(sy->member_id));
  return SR_OK;
}

sr_sync_t *sr_sync_new(const sr_sync_conf_t *conf, const sr_kafka_conf_t *kc,
                       const char *brokers, sr_model_t *mdl, sr_sink_t *snk,
                       char *errstr, size_t errlen) {
  sr_sync_t *sy = calloc(1, sizeof(*sy));
  if (!sy) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  snprintf(sy->topic, sizeof(sy->topic), "%s", conf->topic);
  snprintf(sy->member_id, sizeof(sy->member_id), "%s", conf->member_id);
  sy->enc = conf->enc;
  sy->batch_bytes = conf->batch_bytes;
  sy->dims = sr_model_conf(mdl)->dims;
  sy->mdl = mdl;
  sy->snk = snk;
  sy->stats.lag = -1;
  sr_follow_hooks_t hooks = {.on_message = on_batch, .opaque = sy};
  sy->fl = sr_follow_new(kc, brokers, "sync", &hooks, errstr, errlen);
  if (!sy->fl || follow_all(sy, conf, errstr, errlen) != SR_OK) {
    sr_sync_free(sy);
    return NULL;
  }
  return sy;
}

static void batch_reset(batch_t *b) {
  for (size_t i = 0; i < b->n; i++)
    free(b->ids[i]);
  b->n = 0;
  b->bytes = 0;
}

void sr_sync_free(sr_sync_t *sy) {
  if (!sy)
    return;
  sr_follow_free(sy->fl);
  batch_reset(&sy->batch);
  free(sy->batch.items);
  free(sy->batch.factors);
  free(sy->batch.ids);
  free(sy);
}

int sr_sync_fd(const sr_sync_t *sy) {
  return sr_follow_fd(sy->fl);
}

/* Encodes and queues the batch built so far; the first batch of a
 * publication carries its events. A refused batch is lost: logged and
 * counted. */
static void send_batch(sr_sync_t *sy) {
  batch_t *b = &sy->batch;
  if (b->n == 0)
    return;
  sr_item_deltas_t d = {.member_id = sy->member_id,
                        .dims = sy->dims,
                        .items = b->items,
                        .n_items = b->n,
                        .events = sy->events};
  sr_buf_t buf = {0};
  sr_err_t err = SR_ERR_NOMEM;
  if (sr_item_deltas_encode(&d, sy->enc, &buf) == 0)
    err = sr_sink_produce(sy->snk, sy->topic, RD_KAFKA_PARTITION_UA,
                          sy->member_id, strlen(sy->member_id), buf.data,
                          buf.len, (uint32_t)b->n);
  if (err == SR_OK) {
    sy->in_flight++;
    sy->queued++;
    sy->events = 0;
  } else {
    sy->stats.deltas_failed += b->n;
    sr_log(SR_LOG_ERROR, "item deltas lost: the producer refused the batch",
           "topic=%s deltas=%zu bytes=%zu error=%s", sr_logq(sy->topic), b->n,
           buf.len, sr_err_str(err));
  }
  sr_buf_free(&buf);
  batch_reset(b);
}

static int batch_grow(batch_t *b, uint32_t dims) {
  if (b->n < b->cap)
    return 0;
  size_t cap = b->cap ? b->cap * 2 : 256;
  sr_item_delta_t *items = realloc(b->items, cap * sizeof(*items));
  if (items)
    b->items = items;
  char **ids = realloc(b->ids, cap * sizeof(*ids));
  if (ids)
    b->ids = ids;
  float *f = realloc(b->factors, cap * dims * sizeof(*f));
  if (f)
    b->factors = f;
  if (!items || !ids || !f)
    return -1;
  /* The factors moved: every delta taken so far points at its copy again. */
  for (size_t i = 0; i < b->n; i++)
    b->items[i].factors = b->factors + i * dims;
  b->cap = cap;
  return 0;
}

/* One delta from the model: copied into the batch, which is sent once it
 * reaches the batch size. A non-zero return leaves the rest of the items
 * changed, to go with the next publication. */
static int take_delta(void *opaque, const sr_item_delta_t *src) {
  sr_sync_t *sy = opaque;
  batch_t *b = &sy->batch;
  char *id = strdup(src->item_id);
  if (!id || batch_grow(b, sy->dims) != 0) {
    free(id);
    return -1;
  }
  float *f = b->factors + b->n * sy->dims;
  memcpy(f, src->factors, sy->dims * sizeof(*f));
  b->ids[b->n] = id;
  b->items[b->n++] = (sr_item_delta_t){id, f, src->bias, src->popularity};
  b->bytes += strlen(id) + DELTA_OVERHEAD +
              sy->dims * (sy->enc == SR_DELTA_F16 ? 2u : 4u);
  if (b->bytes >= sy->batch_bytes)
    send_batch(sy);
  return 0;
}

size_t sr_sync_publish(sr_sync_t *sy) {
  uint64_t events = 0;
  sy->queued = 0;
  int rc = sr_share_take_deltas(sy->mdl, take_delta, sy, &events);
  sy->events += events;
  send_batch(sy);
  if (rc != 0)
    sr_log(SR_LOG_WARN, "out of memory taking item deltas; the rest go next",
           NULL);
  return sy->queued;
}

/* Applies another member's batch; this member's own were learned here. */
static void apply_batch(sr_sync_t *sy, const sr_item_deltas_t *d) {
  if (!strcmp(d->member_id, sy->member_id))
    return;
  for (size_t i = 0; i < d->n_items; i++) {
    if (sr_share_apply_delta(sy->mdl, &d->items[i]) == SR_OK)
      sy->stats.deltas_applied++;
    else
      sr_log(SR_LOG_WARN, "item delta not applied", "member=%s item=%s",
             sr_logq(d->member_id), sr_logq(d->items[i].item_id));
  }
  if (d->events)
    sr_share_advance(sy->mdl, d->events);
  sy->stats.batches_applied++;
}

static void on_batch(void *opaque, const rd_kafka_message_t *msg) {
  sr_sync_t *sy = opaque;
  sr_item_deltas_t d;
  char why[256];
  sy->stats.bytes_read += msg->len;
  if (!msg->payload || sr_item_deltas_decode(msg->payload, msg->len, sy->dims,
                                             &d, why, sizeof(why)) != SR_OK) {
    sy->stats.batches_invalid++;
    sr_log(SR_LOG_WARN, "invalid batch on the sync topic",
           "topic=%s partition=%" PRId32 " offset=%" PRId64 " detail=%s",
           sr_logq(rd_kafka_topic_name(msg->rkt)), msg->partition, msg->offset,
           sr_logq(msg->payload ? why : "value is null"));
    return;
  }
  apply_batch(sy, &d);
  sr_item_deltas_clear(&d);
}

size_t sr_sync_consume(sr_sync_t *sy, size_t budget, bool *more) {
  return sr_follow_consume(sy->fl, budget, more);
}

void sr_sync_delivered(sr_sync_t *sy, rd_kafka_resp_err_t err, uint32_t tag,
                       size_t len) {
  sy->in_flight--;
  if (err) {
    /* The sink logged the error; what it cost is said here. */
    sy->stats.deltas_failed += tag;
    sr_log(SR_LOG_ERROR, "item deltas lost: batch undelivered",
           "deltas=%" PRIu32 " error=%s", tag, sr_logq(rd_kafka_err2str(err)));
    return;
  }
  sy->stats.deltas_sent += tag;
  sy->stats.batches_sent++;
  sy->stats.bytes_sent += len;
}

uint64_t sr_sync_in_flight(const sr_sync_t *sy) {
  return sy->in_flight;
}

int sr_sync_offsets(const sr_sync_t *sy, sr_offset_t **offs, size_t *n) {
  sr_offset_t *mine;
  ssize_t k = sr_follow_offsets(sy->fl, &mine);
  if (k < 0)
    return -1;
  sr_offset_t *all = realloc(*offs, (*n + (size_t)k + 1) * sizeof(*all));
  if (!all) {
    free(mine);
    return -1;
  }
  size_t at = *n;
  for (ssize_t i = 0; i < k; i++)
    if (mine[i].offset >= 0)
      all[at++] = mine[i];
  free(mine);
  sr_offset_t *m = &all[at++];
  memset(m, 0, sizeof(*m));
  snprintf(m->topic, sizeof(m->topic), MEMBER_PREFIX "%s", sy->member_id);
  m->partition = -1;
  m->offset = -1;
  *offs = all;
  *n = at;
  return 0;
}

sr_sync_stats_t sr_sync_stats(const sr_sync_t *sy) {
  sr_sync_stats_t st = sy->stats;
  st.lag = sr_follow_lag(sy->fl);
  return st;
}
