/* The item catalogue; see catalogue.h. */
#define SR_LOG_COMPONENT "catalogue"
#include "daemon/catalogue.h"

#include "codec/item_codec.h"
#include "kafka/follow.h"
#include "util/err.h"
#include "util/log.h"
#include "util/now.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long start-up waits for the items topic's partition count. */
#define PARTITIONS_TIMEOUT_MS 10000
/* Messages applied per step of the start-up load. */
#define LOAD_BUDGET 4096

/* The content of an item message read during the start-up load, kept
 * until the load has seen the topic's end: only the latest content of each
 * item is applied. */
typedef struct pending {
  sr_item_t item; /* the id; a tombstone: no content */
  sr_item_content_t ct;
  uint64_t seq; /* order of arrival */
} pending_t;

struct sr_catalogue {
  char topic[SR_TOPIC_MAX + 1];
  char dead_letter_topic[SR_TOPIC_MAX + 1];
  size_t max_id_len;
  size_t embedding_dims;
  sr_catalogue_down_fn *on_down;
  void *opaque;
  sr_model_t **mdl;
  sr_sink_t *snk;
  sr_follow_t *fl;
  sr_catalogue_stats_t stats;
  bool loading;     /* in sr_catalogue_load: content goes to pend */
  size_t load_dims; /* embedding length fixed so far in the load */
  pending_t *pend;
  size_t n_pend, cap_pend;
};

static void reject(sr_catalogue_t *cat, const rd_kafka_message_t *msg,
                   sr_reason_t reason, const char *why) {
  cat->stats.rejected[reason]++;
  sr_log(SR_LOG_WARN, "invalid item",
         "reason=%s topic=%s partition=%" PRId32 " offset=%" PRId64
         " detail=%s total=%" PRIu64,
         sr_reason_name(reason), sr_logq(cat->topic), msg->partition,
         msg->offset, sr_logq(why), cat->stats.rejected[reason]);
  if (!cat->snk || !cat->dead_letter_topic[0])
    return;
  sr_sink_dead_letter_msg(cat->snk, cat->dead_letter_topic, msg,
                          sr_reason_name(reason), why);
}

/* Applies availability to the model; an item that turns unavailable has
 * the lists that held it refreshed. */
static void apply(sr_catalogue_t *cat, const char *id, size_t len,
                  bool available) {
  sr_model_t *mdl = *cat->mdl;
  int64_t row = sr_model_find_item(mdl, id, len);
  bool was = row < 0 || sr_model_item_available(mdl, (uint32_t)row);
  if (sr_model_set_available(mdl, id, len, available, &row) != SR_OK) {
    sr_log(SR_LOG_ERROR, "out of memory applying an item", "item=%.*s",
           (int)len, id);
    return;
  }
  cat->stats.applied++;
  if (was && !available) {
    cat->stats.taken_down++;
    if (cat->on_down)
      cat->stats.takedown_refreshes += cat->on_down(cat->opaque, id, len);
  } else if (!was && available) {
    cat->stats.restored++;
  }
}

/* Applies the item's content (none removes it). Returns the reason to
 * reject the message: an embedding of another length than the model's. */
static sr_reason_t apply_content(sr_catalogue_t *cat, const char *id,
                                 size_t len, const sr_item_content_t *ct,
                                 char *why, size_t whylen) {
  uint32_t dims = 0;
  sr_model_content_items(*cat->mdl, &dims);
  sr_err_t err = sr_model_set_content(
      *cat->mdl, id, len, (const char *const *)ct->features, ct->feature_lens,
      ct->n_features, ct->embedding, ct->n_embedding);
  if (err == SR_ERR_INVALID) {
    snprintf(why, whylen, "embedding has %zu values, the model's have %u",
             ct->n_embedding, dims);
    return SR_REASON_BAD_EMBEDDING;
  }
  if (err != SR_OK)
    sr_log(SR_LOG_ERROR, "out of memory applying an item's content",
           "item=%.*s", (int)len, id);
  return SR_REASON_OK;
}

/* Keeps a valid message of the load for later (its content moves into the
 * list). Returns 0, or -1 when out of memory (the message is applied now
 * instead). */
static int defer(sr_catalogue_t *cat, const sr_item_t *item,
                 sr_item_content_t *ct) {
  if (cat->n_pend == cat->cap_pend) {
    size_t cap = cat->cap_pend ? cat->cap_pend * 2 : 1024;
    pending_t *p = realloc(cat->pend, cap * sizeof(*p));
    if (!p)
      return -1;
    cat->pend = p;
    cat->cap_pend = cap;
  }
  pending_t *p = &cat->pend[cat->n_pend];
  p->item = *item;
  p->ct = *ct;
  p->seq = cat->n_pend++;
  memset(ct, 0, sizeof(*ct));
  return 0;
}

static int by_id_then_seq(const void *pa, const void *pb) {
  const pending_t *a = pa, *b = pb;
  int c = strcmp(a->item.item_id, b->item.item_id);
  return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static int by_seq(const void *pa, const void *pb) {
  const pending_t *a = pa, *b = pb;
  return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Applies the latest content of each item read by the load, in the order
 * it arrived. A compacted topic may still hold older messages of an item;
 * applying their content first would redo what it did (a new item's
 * start), and a restarted instance would part from one that never
 * stopped. Availability has no such history and is applied as read. */
static void apply_pending(sr_catalogue_t *cat) {
  char why[256];
  if (!cat->n_pend)
    return;
  qsort(cat->pend, cat->n_pend, sizeof(*cat->pend), by_id_then_seq);
  size_t kept = 0;
  for (size_t k = 0; k < cat->n_pend; k++) {
    if (k + 1 < cat->n_pend &&
        !strcmp(cat->pend[k].item.item_id, cat->pend[k + 1].item.item_id))
      sr_item_content_free(&cat->pend[k].ct);
    else
      cat->pend[kept++] = cat->pend[k];
  }
  qsort(cat->pend, kept, sizeof(*cat->pend), by_seq);
  for (size_t k = 0; k < kept; k++) {
    pending_t *p = &cat->pend[k];
    apply_content(cat, p->item.item_id, p->item.item_len, &p->ct, why,
                  sizeof(why));
    sr_item_content_free(&p->ct);
  }
  free(cat->pend);
  cat->pend = NULL;
  cat->n_pend = cat->cap_pend = 0;
}

/* The embedding length a loaded message must have: the configured one,
 * else the model's, else the first one the load saw, so that a message
 * of another length is rejected while the message is still at hand. */
static size_t dims_for(sr_catalogue_t *cat, size_t n_emb) {
  if (cat->embedding_dims)
    return cat->embedding_dims;
  uint32_t dims = 0;
  sr_model_content_items(*cat->mdl, &dims);
  if (dims)
    return dims;
  if (!cat->load_dims)
    cat->load_dims = n_emb;
  return cat->load_dims;
}

static void on_message(void *opaque, const rd_kafka_message_t *msg) {
  sr_catalogue_t *cat = opaque;
  char why[256] = "";
  /* A tombstone removes the item from the catalogue: with no record it is
   * available, as every item is by default. */
  if (!msg->payload) {
    if (!msg->key || !msg->key_len || msg->key_len > cat->max_id_len) {
      reject(cat, msg, SR_REASON_EMPTY_ID, "tombstone without a usable key");
      return;
    }
    sr_item_content_t none = {0};
    sr_item_t gone = {.available = true, .item_len = (uint16_t)msg->key_len};
    memcpy(gone.item_id, msg->key, msg->key_len);
    if (!cat->loading || defer(cat, &gone, &none) != 0)
      apply_content(cat, msg->key, msg->key_len, &none, why, sizeof(why));
    apply(cat, msg->key, msg->key_len, true);
    return;
  }
  sr_item_t item;
  sr_item_content_t ct;
  sr_reason_t reason = sr_item_decode_content(
      msg->payload, msg->len, SR_WIRE_AUTO, cat->max_id_len,
      cat->embedding_dims, &item, &ct, why, sizeof(why));
  if (reason == SR_REASON_OK && cat->loading && ct.n_embedding) {
    size_t dims = dims_for(cat, ct.n_embedding);
    if (ct.n_embedding != dims) {
      snprintf(why, sizeof(why), "embedding has %zu values, the others %zu",
               ct.n_embedding, dims);
      reason = SR_REASON_BAD_EMBEDDING;
    }
  }
  if (reason == SR_REASON_OK && (!cat->loading || defer(cat, &item, &ct) != 0))
    reason =
        apply_content(cat, item.item_id, item.item_len, &ct, why, sizeof(why));
  sr_item_content_free(&ct);
  if (reason != SR_REASON_OK) {
    reject(cat, msg, reason, why);
    return;
  }
  apply(cat, item.item_id, item.item_len, item.available);
}

static sr_err_t follow_all(sr_catalogue_t *cat, char *errstr, size_t errlen) {
  int parts = sr_follow_partitions(cat->fl, cat->topic, PARTITIONS_TIMEOUT_MS,
                                   errstr, errlen);
  if (parts < 0)
    return SR_ERR_IO;
  int64_t *from = malloc((size_t)(parts ? parts : 1) * sizeof(*from));
  if (!from)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  for (int p = 0; p < parts; p++)
    from[p] = RD_KAFKA_OFFSET_BEGINNING;
  sr_err_t err =
      sr_follow_add_all(cat->fl, cat->topic, parts, from, errstr, errlen);
  free(from);
  if (err == SR_OK)
    sr_log(SR_LOG_INFO, "following the items topic", "topic=%s partitions=%d",
           sr_logq(cat->topic), parts);
  return err;
}

sr_catalogue_t *sr_catalogue_new(const sr_catalogue_conf_t *conf,
                                 const sr_kafka_conf_t *kc, const char *brokers,
                                 sr_model_t **mdl, sr_sink_t *snk, char *errstr,
                                 size_t errlen) {
  sr_catalogue_t *cat = calloc(1, sizeof(*cat));
  if (!cat) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  snprintf(cat->topic, sizeof(cat->topic), "%s", conf->topic);
  snprintf(cat->dead_letter_topic, sizeof(cat->dead_letter_topic), "%s",
           conf->dead_letter_topic ? conf->dead_letter_topic : "");
  cat->max_id_len = conf->max_id_len && conf->max_id_len < SR_ID_MAX
                        ? conf->max_id_len
                        : SR_ID_MAX;
  cat->embedding_dims = conf->embedding_dims;
  cat->on_down = conf->on_down;
  cat->opaque = conf->opaque;
  cat->mdl = mdl;
  cat->snk = snk;
  sr_follow_hooks_t hooks = {.on_message = on_message, .opaque = cat};
  cat->fl = sr_follow_new(kc, brokers, "items", &hooks, errstr, errlen);
  if (!cat->fl || follow_all(cat, errstr, errlen) != SR_OK) {
    sr_catalogue_free(cat);
    return NULL;
  }
  return cat;
}

void sr_catalogue_free(sr_catalogue_t *cat) {
  if (!cat)
    return;
  for (size_t k = 0; k < cat->n_pend; k++)
    sr_item_content_free(&cat->pend[k].ct);
  free(cat->pend);
  sr_follow_free(cat->fl);
  free(cat);
}

sr_err_t sr_catalogue_load(sr_catalogue_t *cat, int timeout_ms, char *errstr,
                           size_t errlen) {
  uint64_t deadline = sr_mono_ns() / 1000000 + (uint64_t)timeout_ms;
  /* The topic is the truth and is read whole: the checkpoint's takedowns
   * start over, so that one whose tombstone compaction dropped while this
   * instance was down does not outlive it. Replaying the rest gives the
   * same takedowns, and the same digest. */
  sr_model_make_all_available(*cat->mdl);
  cat->loading = true;
  while (!sr_follow_at_ends(cat->fl)) {
    uint64_t now = sr_mono_ns() / 1000000;
    if (now >= deadline) {
      cat->loading = false;
      apply_pending(cat);
      return sr_errf(errstr, errlen, SR_ERR_IO,
                     "items topic '%s': its end not reached in %d ms",
                     cat->topic, timeout_ms);
    }
    bool more = false;
    sr_follow_consume(cat->fl, LOAD_BUDGET, &more);
    if (!more) {
      struct pollfd pfd = {.fd = sr_follow_fd(cat->fl), .events = POLLIN};
      poll(&pfd, 1, 100);
    }
  }
  cat->loading = false;
  apply_pending(cat);
  sr_log(SR_LOG_INFO, "items topic read to its end",
         "topic=%s applied=%" PRIu64 " unavailable=%" PRIu32,
         sr_logq(cat->topic), cat->stats.applied,
         sr_model_unavailable_items(*cat->mdl));
  return SR_OK;
}

int sr_catalogue_fd(const sr_catalogue_t *cat) {
  return sr_follow_fd(cat->fl);
}

size_t sr_catalogue_consume(sr_catalogue_t *cat, size_t budget, bool *more) {
  return sr_follow_consume(cat->fl, budget, more);
}

sr_catalogue_stats_t sr_catalogue_stats(const sr_catalogue_t *cat) {
  return cat->stats;
}
