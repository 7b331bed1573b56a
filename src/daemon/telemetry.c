/* Metrics and probes of the daemon; see telemetry.h. */
#include "daemon/telemetry.h"

#include "codec/reason.h"
#include "daemon/metrics.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/now.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checkpoints take from milliseconds (small models) to minutes. */
static const double ckpt_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60,   120};
/* Fine around the latency contract (p99 <= batch_ms + 5 ms, 15 ms by
 * default), so that its quantiles interpolate over a few ms, not 25. */
static const double latency_bounds[] = {
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025,
    0.03,  0.04,   0.05,  0.075,  0.1,  0.25,   0.5,   1,      2.5,  5};

/* Why the HTTP server closed a connection on its own, the reason label of
 * streamrec_http_connections_dropped_total: sr_http_stats_t's timed_out,
 * evicted and refused. */
static const char *const http_reasons[] = {"idle_timeout", "evicted",
                                           "refused"};

/* Per user row; times are sr_mono_ns(), 0 for none. */
typedef struct user_slot {
  uint64_t pending_ns;  /* oldest event not yet in a queued list */
  uint64_t inflight_ns; /* that event, once its list is queued */
  uint64_t user_hash;   /* whose list items[] is; 0 for none */
  uint32_t n_items;
} user_slot_t;

struct sr_telemetry {
  const sr_model_t *mdl;
  uint32_t list_n;
  uint64_t applied_base; /* events the restored model had learnt */
  user_slot_t *slots;
  uint64_t *items; /* list_n item-id hashes per slot */
  size_t n_slots;
  uint64_t lists_recorded; /* sr_telemetry_listed calls */
  uint64_t *noted; /* hashes of items taken down before lists could be */
  size_t n_noted, cap_noted;
  sr_metrics_t *reg;
  sr_metric_t *consumed, *rejected, *updates, *published, *publish_errors,
      *latency, *lag, *users, *items_g, *bytes, *evictions, *ckpt_last,
      *ckpt_duration, *stall, *hits, *evaluated, *dead_letters, *dead_failed,
      *resets, *http_dropped, *http_open;
  /* Cluster mode only; NULL otherwise. */
  sr_metric_t *skipped, *misrouted, *sync_sent, *sync_applied, *sync_batches,
      *sync_lag;
  sr_metric_t *bytes_sent, *bytes_read, *restoring, *takeovers, *restored_users,
      *restore_secs, *state_sent, *state_failed;
  /* With an items topic only; NULL otherwise. */
  sr_metric_t *items_applied, *items_down, *takedown_refreshes;
  /* The blends (model.blend): which scores the lists, and their hits. */
  sr_metric_t *blend_choice, *blend_hits, *blend_tested;
  sr_metric_t *mode, *ann_builds, *ann_age, *ann_bytes, *ann_recall, *ann_lists,
      *ann_candidates, *ann_scanned, *ann_fallbacks;
};

static uint64_t hash_id(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h ? h : 1; /* 0 marks an empty slot */
}

static int register_counters(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->consumed =
      sr_metrics_counter(r, "streamrec_events_consumed_total",
                         "Input messages taken, valid or not.", "topic", NULL);
  tel->rejected =
      sr_metrics_counter(r, "streamrec_events_rejected_total",
                         "Input messages rejected, by reason.", "reason", NULL);
  tel->updates = sr_metrics_counter(r, "streamrec_updates_total",
                                    "Events learned by the model.", NULL, NULL);
  tel->published = sr_metrics_counter(
      r, "streamrec_lists_published_total",
      "Recommendation lists acknowledged by the broker.", NULL, NULL);
  tel->publish_errors =
      sr_metrics_counter(r, "streamrec_publish_errors_total",
                         "Lists that could not be delivered.", NULL, NULL);
  tel->dead_letters = sr_metrics_counter(
      r, "streamrec_dead_letters_total",
      "Rejected messages delivered to the dead-letter topic.", NULL, NULL);
  tel->dead_failed = sr_metrics_counter(
      r, "streamrec_dead_letters_failed_total",
      "Rejected messages that could not be delivered to the dead-letter topic "
      "(each logged with its topic, partition and offset).",
      NULL, NULL);
  tel->resets = sr_metrics_counter(
      r, "streamrec_offset_resets_total",
      "Partition logs found to have gone backwards under the position applied.",
      NULL, NULL);
  tel->evictions =
      sr_metrics_counter(r, "streamrec_evictions_total",
                         "Ids evicted from the model, by kind.", "kind", NULL);
  tel->hits = sr_metrics_counter(
      r, "streamrec_prequential_hits_total",
      "Events whose item was in the user's last published list.", NULL, NULL);
  tel->evaluated = sr_metrics_counter(
      r, "streamrec_prequential_evaluated_total",
      "Events of users who had a list published before.", NULL, NULL);
  tel->http_dropped = sr_metrics_counter(
      r, "streamrec_http_connections_dropped_total",
      "HTTP connections the server closed to stay available, by reason.",
      "reason", NULL);
  return tel->consumed && tel->rejected && tel->updates && tel->published &&
                 tel->publish_errors && tel->dead_letters && tel->dead_failed &&
                 tel->resets && tel->evictions && tel->hits && tel->evaluated &&
                 tel->http_dropped
             ? 0
             : -1;
}

static int register_retrieval(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->mode = sr_metrics_gauge(
      r, "streamrec_retrieval_mode",
      "1 for how lists find their items now: exact or ann.", "mode", NULL);
  tel->ann_builds = sr_metrics_counter(r, "streamrec_ann_builds_total",
                                       "Retrieval indexes built.", NULL, NULL);
  tel->ann_age = sr_metrics_gauge(
      r, "streamrec_ann_index_age_seconds",
      "Since the copy of the item factors in the index in use began.", NULL,
      NULL);
  tel->ann_bytes =
      sr_metrics_gauge(r, "streamrec_ann_index_bytes",
                       "Memory held by the index in use.", NULL, NULL);
  tel->ann_recall = sr_metrics_gauge(
      r, "streamrec_ann_recall",
      "Recall@20 of the index against exact scoring, sampled at its build.",
      NULL, NULL);
  tel->ann_lists = sr_metrics_counter(r, "streamrec_ann_lists_total",
                                      "Lists drawn from an index.", NULL, NULL);
  tel->ann_candidates = sr_metrics_counter(
      r, "streamrec_ann_candidates_total",
      "Items re-scored with the live factors for those lists.", NULL, NULL);
  tel->ann_scanned = sr_metrics_counter(
      r, "streamrec_ann_scanned_total",
      "Items the index scored to find their candidates.", NULL, NULL);
  tel->ann_fallbacks = sr_metrics_counter(
      r, "streamrec_ann_fallbacks_total",
      "Lists scored exactly because the index's candidates fell short.", NULL,
      NULL);
  return tel->mode && tel->ann_builds && tel->ann_age && tel->ann_bytes &&
                 tel->ann_recall && tel->ann_lists && tel->ann_candidates &&
                 tel->ann_scanned && tel->ann_fallbacks
             ? 0
             : -1;
}

static int register_gauges(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->lag = sr_metrics_gauge(
      r, "streamrec_consumer_lag",
      "High watermark minus the next offset, per assigned partition.", "topic",
      "partition");
  tel->users = sr_metrics_gauge(r, "streamrec_model_users",
                                "Users held by the model.", NULL, NULL);
  tel->items_g = sr_metrics_gauge(r, "streamrec_model_items",
                                  "Items held by the model.", NULL, NULL);
  tel->bytes = sr_metrics_gauge(r, "streamrec_model_bytes",
                                "Memory held by the model.", NULL, NULL);
  tel->ckpt_last =
      sr_metrics_gauge(r, "streamrec_checkpoint_last_success_timestamp_seconds",
                       "Wall time of the last checkpoint written.", NULL, NULL);
  tel->http_open =
      sr_metrics_gauge(r, "streamrec_http_connections",
                       "HTTP connections open on metrics.listen.", NULL, NULL);
  return tel->lag && tel->users && tel->items_g && tel->bytes &&
                 tel->ckpt_last && tel->http_open
             ? 0
             : -1;
}

static int register_blend(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->blend_choice = sr_metrics_gauge(
      r, "streamrec_blend_choice",
      "1 for the blend lists are scored with, 0 for the others (model.blend).",
      "config", NULL);
  tel->blend_hits = sr_metrics_gauge(
      r, "streamrec_blend_hits",
      "Decayed count of tested events each blend's list held.", "config", NULL);
  tel->blend_tested = sr_metrics_counter(
      r, "streamrec_blend_tested_total",
      "Sampled events every blend was tested on (model.blend auto).", NULL,
      NULL);
  return tel->blend_choice && tel->blend_hits && tel->blend_tested ? 0 : -1;
}

static int register_histograms(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->latency = sr_metrics_histogram(
      r, "streamrec_refresh_latency_seconds",
      "From an event's receipt to the delivery of its user's list.",
      latency_bounds, sizeof(latency_bounds) / sizeof(latency_bounds[0]), NULL,
      NULL);
  tel->ckpt_duration = sr_metrics_histogram(
      r, "streamrec_checkpoint_duration_seconds",
      "Snapshot plus write time of each checkpoint.", ckpt_bounds,
      sizeof(ckpt_bounds) / sizeof(ckpt_bounds[0]), NULL, NULL);
  tel->stall = sr_metrics_histogram(
      r, "streamrec_loop_stall_seconds",
      "Busy (non-waiting) time of each event loop iteration.", NULL, 0, NULL,
      NULL);
  return tel->latency && tel->ckpt_duration && tel->stall ? 0 : -1;
}

/* Every reason is shown from the start, so that rate() works from the
 * first rejection on. */
static int seed_series(sr_telemetry_t *tel) {
  for (int r = 1; r < SR_REASON__COUNT; r++) {
    if (sr_metrics_add(tel->rejected, sr_reason_name((sr_reason_t)r), NULL,
                       0) != 0)
      return -1;
  }
  if (sr_metrics_add(tel->evictions, "user", NULL, 0) != 0 ||
      sr_metrics_add(tel->evictions, "item", NULL, 0) != 0)
    return -1;
  for (size_t i = 0; i < sizeof(http_reasons) / sizeof(http_reasons[0]); i++) {
    if (sr_metrics_add(tel->http_dropped, http_reasons[i], NULL, 0) != 0)
      return -1;
  }
  return 0;
}

sr_telemetry_t *sr_telemetry_new(const sr_model_t *mdl, uint32_t list_n) {
  sr_telemetry_t *tel = calloc(1, sizeof(*tel));
  if (!tel)
    return NULL;
  tel->mdl = mdl;
  tel->list_n = list_n ? list_n : 1;
  tel->applied_base = sr_model_events_applied(mdl);
  tel->reg = sr_metrics_new();
  if (!tel->reg || register_counters(tel) || register_gauges(tel) ||
      register_blend(tel) || register_retrieval(tel) ||
      register_histograms(tel) || seed_series(tel)) {
    sr_telemetry_free(tel);
    return NULL;
  }
  return tel;
}

void sr_telemetry_free(sr_telemetry_t *tel) {
  if (!tel)
    return;
  sr_metrics_free(tel->reg);
  free(tel->slots);
  free(tel->items);
  free(tel->noted);
  free(tel);
}

/* The slot of row, growing the arrays (doubling) when needed; NULL when out
 * of memory, which only costs the metrics of that user. */
static user_slot_t *slot_get(sr_telemetry_t *tel, uint32_t row) {
  if (row < tel->n_slots)
    return &tel->slots[row];
  size_t n = tel->n_slots ? tel->n_slots : 1024;
  while (n <= row)
    n *= 2;
  user_slot_t *slots = realloc(tel->slots, n * sizeof(*slots));
  if (!slots)
    return NULL;
  tel->slots = slots;
  uint64_t *items = realloc(tel->items, n * tel->list_n * sizeof(*items));
  if (!items)
    return NULL;
  tel->items = items;
  memset(slots + tel->n_slots, 0, (n - tel->n_slots) * sizeof(*slots));
  tel->n_slots = n;
  return &tel->slots[row];
}

static uint64_t user_hash(const sr_telemetry_t *tel, uint32_t row) {
  size_t len;
  const char *id = sr_model_user_id(tel->mdl, row, &len);
  return len ? hash_id(id, len) : 0;
}

/* True when row's list belongs to the user the row holds now. */
static bool slot_current(const sr_telemetry_t *tel, size_t row) {
  const user_slot_t *slot = &tel->slots[row];
  return slot->user_hash && row < sr_model_users(tel->mdl) &&
         slot->user_hash == user_hash(tel, (uint32_t)row);
}

void sr_telemetry_consumed(sr_telemetry_t *tel, const char *topic) {
  sr_metrics_add(tel->consumed, topic, NULL, 1);
}

void sr_telemetry_event(sr_telemetry_t *tel, const sr_event_t *ev) {
  int64_t row = sr_model_find_user(tel->mdl, ev->user_id, ev->user_len);
  if (row < 0 || (uint64_t)row >= tel->n_slots)
    return;
  user_slot_t *slot = &tel->slots[row];
  if (!slot->user_hash || slot->user_hash != user_hash(tel, (uint32_t)row))
    return;
  uint64_t item = hash_id(ev->item_id, ev->item_len);
  const uint64_t *list = tel->items + (size_t)row * tel->list_n;
  bool hit = false;
  for (uint32_t i = 0; i < slot->n_items && !hit; i++)
    hit = list[i] == item;
  sr_metrics_add(tel->evaluated, NULL, NULL, 1);
  if (hit)
    sr_metrics_add(tel->hits, NULL, NULL, 1);
}

void sr_telemetry_learned(sr_telemetry_t *tel, uint32_t user_row) {
  user_slot_t *slot = slot_get(tel, user_row);
  if (!slot)
    return;
  /* A row that now holds another user (the old one was evicted) starts
   * over: its list and clocks were someone else's. */
  if (slot->user_hash && slot->user_hash != user_hash(tel, user_row))
    *slot = (user_slot_t){0};
  if (!slot->pending_ns)
    slot->pending_ns = sr_mono_ns();
}

void sr_telemetry_listed(sr_telemetry_t *tel, uint32_t user_row,
                         const sr_scored_t *items, size_t n) {
  user_slot_t *slot = slot_get(tel, user_row);
  if (!slot)
    return;
  if (n > tel->list_n)
    n = tel->list_n;
  uint64_t *list = tel->items + (size_t)user_row * tel->list_n;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *id = sr_model_item_id(tel->mdl, items[i].item, &len);
    list[i] = hash_id(id, len);
  }
  slot->n_items = (uint32_t)n;
  slot->user_hash = user_hash(tel, user_row);
  tel->lists_recorded++;
  if (slot->pending_ns) {
    slot->inflight_ns = slot->pending_ns;
    slot->pending_ns = 0;
  }
}

void sr_telemetry_delivered(sr_telemetry_t *tel, uint32_t user_row) {
  if (user_row >= tel->n_slots || !tel->slots[user_row].inflight_ns)
    return;
  user_slot_t *slot = &tel->slots[user_row];
  double secs = (double)(sr_mono_ns() - slot->inflight_ns) / 1e9;
  slot->inflight_ns = 0;
  sr_metrics_observe(tel->latency, NULL, NULL, secs);
}

void sr_telemetry_checkpoint(sr_telemetry_t *tel, bool ok, double duration_s) {
  sr_metrics_observe(tel->ckpt_duration, NULL, NULL, duration_s);
  if (ok)
    sr_metrics_set(tel->ckpt_last, NULL, NULL, (double)sr_now_ms() / 1000.0);
}

void sr_telemetry_loop_busy(sr_telemetry_t *tel, double seconds) {
  sr_metrics_observe(tel->stall, NULL, NULL, seconds);
}

/* Raises a counter to a total kept elsewhere. */
static void sync_counter(sr_metric_t *m, const char *v0, uint64_t total) {
  double cur = sr_metrics_value(m, v0, NULL);
  if ((double)total > cur)
    sr_metrics_add(m, v0, NULL, (double)total - cur);
}

static void set_lag(void *opaque, const char *topic, int32_t partition,
                    int64_t lag) {
  char p[16];
  snprintf(p, sizeof(p), "%" PRId32, partition);
  sr_metrics_set(opaque, topic, p, (double)lag);
}

/* The metrics of the cluster topics' traffic and of partition takeovers. */
static int enable_handoff(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->bytes_sent = sr_metrics_counter(
      r, "streamrec_cluster_bytes_sent_total",
      "Bytes this instance produced to a cluster topic and had acknowledged.",
      "topic", NULL);
  tel->bytes_read = sr_metrics_counter(
      r, "streamrec_cluster_bytes_read_total",
      "Bytes this instance read from a cluster topic.", "topic", NULL);
  tel->restoring = sr_metrics_gauge(
      r, "streamrec_restoring_partitions",
      "Input partitions assigned whose users are not taken over yet.", NULL,
      NULL);
  tel->takeovers = sr_metrics_counter(
      r, "streamrec_partition_takeovers_total",
      "Input partitions taken over: from local state (the checkpoint was "
      "current) or from the state topic.",
      "source", NULL);
  tel->restored_users =
      sr_metrics_counter(r, "streamrec_restored_users_total",
                         "Users installed from the state topic.", NULL, NULL);
  tel->restore_secs = sr_metrics_counter(
      r, "streamrec_restore_seconds_total",
      "Seconds partitions spent restoring from the state topic.", NULL, NULL);
  tel->state_sent = sr_metrics_counter(
      r, "streamrec_state_records_sent_total",
      "User states and tombstones acknowledged on the state topic.", NULL,
      NULL);
  tel->state_failed = sr_metrics_counter(
      r, "streamrec_state_records_failed_total",
      "User states refused or not delivered (their checkpoint was put off).",
      NULL, NULL);
  return tel->bytes_sent && tel->bytes_read && tel->restoring &&
                 tel->takeovers && tel->restored_users && tel->restore_secs &&
                 tel->state_sent && tel->state_failed
             ? 0
             : -1;
}

static void sync_handoff(sr_telemetry_t *tel,
                         const sr_telemetry_totals_t *tot) {
  for (int i = 0; i < 2; i++) {
    if (!tot->topics[i] || !tot->topics[i][0])
      continue;
    sync_counter(tel->bytes_sent, tot->topics[i], tot->bytes_sent[i]);
    sync_counter(tel->bytes_read, tot->topics[i], tot->bytes_read[i]);
  }
  sr_metrics_set(tel->restoring, NULL, NULL, (double)tot->restoring);
  sync_counter(tel->takeovers, "local", tot->taken_local);
  sync_counter(tel->takeovers, "state_topic", tot->taken_state);
  sync_counter(tel->restored_users, NULL, tot->restored_users);
  double cur = sr_metrics_value(tel->restore_secs, NULL, NULL);
  if (tot->restore_seconds > cur)
    sr_metrics_add(tel->restore_secs, NULL, NULL, tot->restore_seconds - cur);
  sync_counter(tel->state_sent, NULL, tot->state_records_sent);
  sync_counter(tel->state_failed, NULL, tot->state_records_failed);
}

int sr_telemetry_enable_cluster(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->skipped = sr_metrics_counter(
      r, "streamrec_skipped_events_total",
      "Events skipped because their user's state already held them.", NULL,
      NULL);
  tel->misrouted = sr_metrics_counter(
      r, "streamrec_misrouted_events_total",
      "Events of a user first seen on another input partition (input not "
      "keyed by user id).",
      NULL, NULL);
  tel->sync_sent = sr_metrics_counter(
      r, "streamrec_sync_deltas_sent_total",
      "Item deltas published to the sync topic and acknowledged.", NULL, NULL);
  tel->sync_applied = sr_metrics_counter(
      r, "streamrec_sync_deltas_applied_total",
      "Other instances' item deltas added to the model.", NULL, NULL);
  tel->sync_batches = sr_metrics_counter(
      r, "streamrec_sync_batches_sent_total",
      "Batches of item deltas acknowledged on the sync topic.", NULL, NULL);
  tel->sync_lag = sr_metrics_gauge(
      r, "streamrec_sync_lag",
      "Messages of the sync topic not read yet (-1 while unknown).", NULL,
      NULL);
  return tel->skipped && tel->misrouted && tel->sync_sent &&
                 tel->sync_applied && tel->sync_batches && tel->sync_lag &&
                 enable_handoff(tel) == 0
             ? 0
             : -1;
}

void sr_telemetry_prequential(const sr_telemetry_t *tel, uint64_t *hits,
                              uint64_t *evaluated) {
  *hits = (uint64_t)sr_metrics_value(tel->hits, NULL, NULL);
  *evaluated = (uint64_t)sr_metrics_value(tel->evaluated, NULL, NULL);
}

static void sync_cluster(sr_telemetry_t *tel,
                         const sr_telemetry_totals_t *tot) {
  if (!tel->skipped)
    return;
  sync_counter(tel->skipped, NULL, tot->skipped);
  sync_counter(tel->misrouted, NULL, tot->misrouted);
  sync_counter(tel->sync_sent, NULL, tot->sync_deltas_sent);
  sync_counter(tel->sync_applied, NULL, tot->sync_deltas_applied);
  sync_counter(tel->sync_batches, NULL, tot->sync_batches_sent);
  sr_metrics_set(tel->sync_lag, NULL, NULL, (double)tot->sync_lag);
  sync_handoff(tel, tot);
}

int sr_telemetry_enable_catalogue(sr_telemetry_t *tel) {
  sr_metrics_t *r = tel->reg;
  tel->items_applied = sr_metrics_counter(
      r, "streamrec_items_applied_total",
      "Messages of the items topic applied to the model.", NULL, NULL);
  tel->items_down = sr_metrics_gauge(
      r, "streamrec_items_unavailable",
      "Items taken down: in no list until made available again.", NULL, NULL);
  tel->takedown_refreshes = sr_metrics_counter(
      r, "streamrec_takedown_refreshes_total",
      "Lists refreshed because an item in them was taken down.", NULL, NULL);
  return tel->items_applied && tel->items_down && tel->takedown_refreshes ? 0
                                                                          : -1;
}

size_t sr_telemetry_holders(const sr_telemetry_t *tel, const char *id,
                            size_t len, void (*fn)(void *, uint32_t),
                            void *opaque) {
  uint64_t item = hash_id(id, len);
  size_t n = 0;
  /* A scan of every remembered list: takedowns are rare, and the lists are
   * the only record of what users were shown. */
  for (size_t row = 0; row < tel->n_slots; row++) {
    const user_slot_t *slot = &tel->slots[row];
    const uint64_t *list = tel->items + row * tel->list_n;
    if (!slot_current(tel, row))
      continue;
    for (uint32_t i = 0; i < slot->n_items; i++) {
      if (list[i] == item) {
        fn(opaque, (uint32_t)row);
        n++;
        break;
      }
    }
  }
  return n;
}

/* The record's layout, in the host's byte order like the rest of a
 * checkpoint: a header, then per user its row, item count, user-id hash
 * and item-id hashes. */
#define LISTS_VERSION 1
/* recommend.n's upper bound: a longer list is no list streamrec wrote. */
#define LISTS_MAX_N 1000
typedef struct lists_head {
  uint32_t version;
  uint32_t list_n; /* the longest list's bound when written */
  uint64_t n_users;
} lists_head_t;
typedef struct lists_user {
  uint32_t row;
  uint32_t n_items;
  uint64_t user_hash;
} lists_user_t;

size_t sr_telemetry_list(const sr_telemetry_t *tel, uint32_t row,
                         const uint64_t **hashes) {
  if (row >= tel->n_slots || !slot_current(tel, row)) {
    *hashes = NULL;
    return 0;
  }
  *hashes = tel->items + (size_t)row * tel->list_n;
  return tel->slots[row].n_items;
}

void sr_telemetry_put_list(sr_telemetry_t *tel, uint32_t row,
                           const uint64_t *hashes, size_t n) {
  user_slot_t *slot = slot_get(tel, row);
  if (!slot)
    return;
  /* No list: the user is neither scored nor refreshed as if it had one. */
  if (!n) {
    *slot = (user_slot_t){0};
    return;
  }
  if (n > tel->list_n)
    n = tel->list_n;
  memcpy(tel->items + (size_t)row * tel->list_n, hashes, n * sizeof(*hashes));
  *slot =
      (user_slot_t){.user_hash = user_hash(tel, row), .n_items = (uint32_t)n};
}

uint64_t sr_telemetry_lists_recorded(const sr_telemetry_t *tel) {
  return tel->lists_recorded;
}

int sr_telemetry_save_lists(const sr_telemetry_t *tel, sr_buf_t *out) {
  lists_head_t head = {.version = LISTS_VERSION, .list_n = tel->list_n};
  size_t at = out->len;
  if (sr_buf_append(out, &head, sizeof(head)) != 0)
    return -1;
  for (size_t row = 0; row < tel->n_slots; row++) {
    if (!slot_current(tel, row))
      continue;
    const user_slot_t *slot = &tel->slots[row];
    lists_user_t u = {(uint32_t)row, slot->n_items, slot->user_hash};
    if (sr_buf_append(out, &u, sizeof(u)) != 0 ||
        sr_buf_append(out, tel->items + row * tel->list_n,
                      slot->n_items * sizeof(uint64_t)) != 0)
      return -1;
    head.n_users++;
  }
  memcpy(out->data + at, &head, sizeof(head));
  return 0;
}

/* Checks the whole record before anything is restored, so that a bad one
 * leaves no half. */
static sr_err_t check_lists(const char *p, size_t len, lists_head_t *head,
                            char *errstr, size_t errlen) {
  if (len < sizeof(*head))
    return sr_errf(errstr, errlen, SR_ERR_TRUNCATED,
                   "lists: %zu bytes, no header", len);
  memcpy(head, p, sizeof(*head));
  if (head->version != LISTS_VERSION)
    return sr_errf(errstr, errlen, SR_ERR_VERSION, "lists: version %" PRIu32,
                   head->version);
  if (head->list_n > LISTS_MAX_N)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "lists: %" PRIu32 " items per list, at most %d",
                   head->list_n, LISTS_MAX_N);
  size_t at = sizeof(*head);
  for (uint64_t k = 0, next_row = 0; k < head->n_users; k++) {
    lists_user_t u;
    if (len - at < sizeof(u))
      return sr_errf(errstr, errlen, SR_ERR_TRUNCATED,
                     "lists: user %" PRIu64 " of %" PRIu64 " missing", k,
                     head->n_users);
    memcpy(&u, p + at, sizeof(u));
    at += sizeof(u);
    /* Written in row order, each row once. */
    if (u.row < next_row)
      return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                     "lists: user %" PRIu64 " has row %" PRIu32
                     ", after row %" PRIu64,
                     k, u.row, next_row - 1);
    next_row = (uint64_t)u.row + 1;
    if (u.n_items > head->list_n || !u.user_hash ||
        len - at < (size_t)u.n_items * sizeof(uint64_t))
      return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                     "lists: user %" PRIu64 " (row %" PRIu32 ") has %" PRIu32
                     " items, at most %" PRIu32 " and %zu bytes left",
                     k, u.row, u.n_items, head->list_n, len - at);
    at += (size_t)u.n_items * sizeof(uint64_t);
  }
  if (at != len)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "lists: %zu bytes after %" PRIu64 " users", len - at,
                   head->n_users);
  return SR_OK;
}

int64_t sr_telemetry_load_lists(sr_telemetry_t *tel, const void *data,
                                size_t len, char *errstr, size_t errlen) {
  lists_head_t head;
  if (check_lists(data, len, &head, errstr, errlen) != SR_OK)
    return -1;
  /* A lowered recommend.n: the lists already published are longer, and
   * each of their items still has holders to find. */
  if (!tel->n_slots && head.list_n > tel->list_n)
    tel->list_n = head.list_n;
  int64_t restored = 0;
  const char *p = (const char *)data + sizeof(head);
  for (uint64_t k = 0; k < head.n_users; k++) {
    lists_user_t u;
    memcpy(&u, p, sizeof(u));
    p += sizeof(u);
    const char *hashes = p;
    p += (size_t)u.n_items * sizeof(uint64_t);
    /* A row that holds another user now (or none) is not that user's. */
    if (u.row >= sr_model_users(tel->mdl) ||
        user_hash(tel, u.row) != u.user_hash)
      continue;
    user_slot_t *slot = slot_get(tel, u.row);
    if (!slot)
      return restored;
    uint32_t n = u.n_items < tel->list_n ? u.n_items : tel->list_n;
    memcpy(tel->items + (size_t)u.row * tel->list_n, hashes,
           n * sizeof(uint64_t));
    *slot = (user_slot_t){.user_hash = u.user_hash, .n_items = n};
    restored++;
  }
  return restored;
}

int sr_telemetry_note_down(sr_telemetry_t *tel, const char *id, size_t len) {
  if (SR_GROW(tel->noted, tel->cap_noted, tel->n_noted + 1, 64) != 0)
    return -1;
  tel->noted[tel->n_noted++] = hash_id(id, len);
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

size_t sr_telemetry_noted_holders(sr_telemetry_t *tel,
                                  void (*fn)(void *, uint32_t), void *opaque) {
  size_t n = 0;
  if (!tel->n_noted)
    return 0;
  /* One pass over every list for all the items at once: the start-up load
   * notes every takedown the items topic holds. */
  qsort(tel->noted, tel->n_noted, sizeof(uint64_t), cmp_u64);
  for (size_t row = 0; row < tel->n_slots; row++) {
    if (!slot_current(tel, row))
      continue;
    const uint64_t *list = tel->items + row * tel->list_n;
    for (uint32_t i = 0; i < tel->slots[row].n_items; i++) {
      if (bsearch(&list[i], tel->noted, tel->n_noted, sizeof(uint64_t),
                  cmp_u64)) {
        fn(opaque, (uint32_t)row);
        n++;
        break;
      }
    }
  }
  tel->n_noted = 0;
  return n;
}

static void sync_catalogue(sr_telemetry_t *tel,
                           const sr_telemetry_totals_t *tot) {
  if (!tel->items_applied)
    return;
  sync_counter(tel->items_applied, NULL, tot->items_applied);
  sr_metrics_set(tel->items_down, NULL, NULL, (double)tot->items_unavailable);
  sync_counter(tel->takedown_refreshes, NULL, tot->takedown_refreshes);
}

/* The blends as the model has them now. */
static void sync_blend(sr_telemetry_t *tel) {
  sr_blend_info_t info[16];
  uint64_t tested;
  uint32_t n = sr_model_blends(tel->mdl, info, 16, &tested);
  for (uint32_t k = 0; k < n && k < 16; k++) {
    sr_metrics_set(tel->blend_choice, info[k].name, NULL,
                   info[k].leader ? 1.0 : 0.0);
    sr_metrics_set(tel->blend_hits, info[k].name, NULL, info[k].hits);
  }
  sync_counter(tel->blend_tested, NULL, tested);
}

static void sync_retrieval(sr_telemetry_t *tel,
                           const sr_telemetry_totals_t *tot) {
  sr_metrics_set(tel->mode, "exact", NULL, tot->ann ? 0 : 1);
  sr_metrics_set(tel->mode, "ann", NULL, tot->ann ? 1 : 0);
  sync_counter(tel->ann_builds, NULL, tot->ann_builds);
  sr_metrics_set(tel->ann_age, NULL, NULL, tot->ann_age_s);
  sr_metrics_set(tel->ann_bytes, NULL, NULL, (double)tot->ann_bytes);
  if (tot->ann_recall >= 0)
    sr_metrics_set(tel->ann_recall, NULL, NULL, tot->ann_recall);
  sync_counter(tel->ann_lists, NULL, tot->ann_lists);
  sync_counter(tel->ann_candidates, NULL, tot->ann_candidates);
  sync_counter(tel->ann_scanned, NULL, tot->ann_scanned);
  sync_counter(tel->ann_fallbacks, NULL, tot->ann_fallbacks);
}

static void sync_all(sr_telemetry_t *tel, const sr_telemetry_totals_t *tot,
                     sr_src_t *src) {
  sync_cluster(tel, tot);
  sync_catalogue(tel, tot);
  sync_retrieval(tel, tot);
  for (int r = 1; r < SR_REASON__COUNT; r++)
    sync_counter(tel->rejected, sr_reason_name((sr_reason_t)r),
                 tot->rejected[r]);
  sync_counter(tel->updates, NULL,
               sr_model_events_applied(tel->mdl) - tel->applied_base);
  sync_counter(tel->published, NULL, tot->lists_delivered);
  sync_counter(tel->publish_errors, NULL, tot->publish_errors);
  sync_counter(tel->dead_letters, NULL, tot->dead_letters);
  sync_counter(tel->dead_failed, NULL, tot->dead_letters_failed);
  if (src)
    sync_counter(tel->resets, NULL, sr_source_stats(src).resets);
  sync_counter(tel->http_dropped, http_reasons[0], tot->http.timed_out);
  sync_counter(tel->http_dropped, http_reasons[1], tot->http.evicted);
  sync_counter(tel->http_dropped, http_reasons[2], tot->http.refused);
  sr_metrics_set(tel->http_open, NULL, NULL, (double)tot->http.open);
  uint64_t ev_users, ev_items;
  sr_model_evictions(tel->mdl, &ev_users, &ev_items);
  sync_counter(tel->evictions, "user", ev_users);
  sync_counter(tel->evictions, "item", ev_items);
  sr_metrics_set(tel->users, NULL, NULL, (double)sr_model_live_users(tel->mdl));
  sr_metrics_set(tel->items_g, NULL, NULL,
                 (double)sr_model_live_items(tel->mdl));
  sr_metrics_set(tel->bytes, NULL, NULL, (double)sr_model_bytes(tel->mdl));
  sync_blend(tel);
  /* Only the partitions assigned now are shown: a rebalance takes the
   * others' series away. */
  sr_metrics_reset(tel->lag);
  if (src)
    sr_source_each_lag(src, set_lag, tel->lag);
}

void sr_telemetry_metrics(sr_telemetry_t *tel,
                          const sr_telemetry_totals_t *totals, sr_src_t *src,
                          sr_http_response_t *res) {
  sync_all(tel, totals, src);
  res->content_type = SR_METRICS_CONTENT_TYPE;
  if (sr_metrics_render(tel->reg, &res->body) != 0) {
    res->status = 500;
    res->content_type = "text/plain; charset=utf-8";
    res->body.len = 0;
    sr_buf_printf(&res->body, "out of memory\n");
  }
}

/* Appends reason to a JSON array being built in out. */
static void add_reason(sr_buf_t *out, int *n, const char *reason) {
  sr_buf_printf(out, "%s\"%s\"", (*n)++ ? "," : "", reason);
}

static int ready_reasons(const sr_health_t *h, sr_buf_t *out) {
  int n = 0;
  if (!h->consuming)
    add_reason(out, &n, "not consuming");
  if (h->assigned == 0)
    add_reason(out, &n, "no partitions assigned");
  if (h->brokers_down)
    add_reason(out, &n, "broker unreachable");
  if (h->now_ms - h->ckpt_fresh_ms > h->ckpt_max_age_ms)
    add_reason(out, &n, "last checkpoint older than 3 intervals");
  if (h->now_ms - h->beat_ms > SR_TELEMETRY_STALE_MS)
    add_reason(out, &n, "event loop stalled");
  if (h->n_restoring)
    add_reason(out, &n, "restoring");
  if (h->index_building)
    add_reason(out, &n, "building the retrieval index");
  return n;
}

/* ,"restoring":{...}: which partitions are being taken over and what the
 * restores have read so far. */
static void add_restoring(const sr_health_t *h, sr_buf_t *out) {
  sr_buf_printf(out, ",\"restoring\":{\"partitions\":[");
  size_t shown = h->n_restoring < 32 ? h->n_restoring : 32;
  for (size_t i = 0; i < shown; i++)
    sr_buf_printf(out, "%s%" PRId32, i ? "," : "", h->restoring[i]);
  sr_buf_printf(out,
                "],\"count\":%zu,\"records_read\":%" PRIu64
                ",\"users_restored\":%" PRIu64 "}",
                h->n_restoring, h->restore_records, h->restored_users);
}

void sr_telemetry_health(const sr_health_t *h, bool ready,
                         sr_http_response_t *res) {
  res->content_type = "application/json";
  if (!ready) {
    bool ok = h->now_ms - h->beat_ms <= SR_TELEMETRY_STALE_MS;
    res->status = ok ? 200 : 503;
    sr_buf_printf(&res->body,
                  ok ? "{\"status\":\"ok\"}\n" : "{\"status\":\"stalled\"}\n");
    return;
  }
  sr_buf_t reasons = {0};
  int n = ready_reasons(h, &reasons);
  res->status = n ? 503 : 200;
  if (n) {
    sr_buf_printf(&res->body, "{\"ready\":false,\"reasons\":[%.*s]",
                  (int)reasons.len, reasons.data ? (char *)reasons.data : "");
    if (h->n_restoring)
      add_restoring(h, &res->body);
    sr_buf_printf(&res->body, "}\n");
  } else
    sr_buf_printf(&res->body, "{\"ready\":true}\n");
  sr_buf_free(&reasons);
}
