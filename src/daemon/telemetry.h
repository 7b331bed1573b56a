/* What the daemon tells its operators: the Prometheus registry behind
 * /metrics, the per-user state behind the refresh latency and the
 * prequential hit rate, and the answers of /healthz and /readyz.
 *
 * Counters that other modules already keep (rejections, deliveries, model
 * size) are copied in when a scrape renders; what nobody else tracks
 * (events per topic, latencies, hits) is recorded as it happens. Per user
 * row it keeps the receipt time of the oldest event not yet in a published
 * list, that of the list in flight, and hashes of the last published list's
 * item ids (at most recommend.n), dropped when the row's user changes
 * (eviction). That record of last lists is saved with each checkpoint and
 * restored at start-up (sr_telemetry_save_lists, _load_lists), so that a
 * takedown after a restart finds the users whose list, published before
 * it, held the item; in cluster mode a user's list also travels with its
 * state through the state topic (sr_telemetry_list, _put_list). The model is
 * borrowed. Loop thread only, except sr_telemetry_save_lists in a forked
 * checkpoint writer. */
#ifndef SR_TELEMETRY_H
#define SR_TELEMETRY_H

#include "codec/reason.h"
#include "daemon/http.h"
#include "kafka/source.h"
#include "streamrec/model.h"
#include "util/buf.h"

#include <stdbool.h>

typedef struct sr_telemetry sr_telemetry_t;

/* Counts kept elsewhere, copied into the registry on each scrape. */
typedef struct sr_telemetry_totals {
  uint64_t rejected[SR_REASON__COUNT];
  uint64_t lists_delivered;
  uint64_t publish_errors;
  uint64_t dead_letters;
  uint64_t dead_letters_failed;
  sr_http_stats_t http;
  /* Cluster mode only (sr_telemetry_enable_cluster). */
  uint64_t skipped;
  uint64_t misrouted;
  uint64_t sync_deltas_sent;
  uint64_t sync_deltas_applied;
  uint64_t sync_batches_sent;
  int64_t sync_lag; /* -1 unknown */
  /* Bytes each cluster topic carried: [0] the sync topic, [1] the state
   * topic (absent when its name is NULL or ""). */
  const char *topics[2];
  uint64_t bytes_sent[2], bytes_read[2];
  uint32_t restoring;          /* partitions not taken over yet */
  uint64_t taken_local;        /* partitions taken over from local state */
  uint64_t taken_state;        /* ... restored from the state topic */
  uint64_t restored_users;     /* users installed by restores */
  double restore_seconds;      /* time partitions spent restoring */
  uint64_t state_records_sent; /* acknowledged on the state topic */
  uint64_t state_records_failed;
  /* With an items topic only (sr_telemetry_enable_catalogue). */
  uint64_t items_applied;      /* item messages applied */
  uint64_t items_unavailable;  /* items taken down now */
  uint64_t takedown_refreshes; /* lists refreshed because an item went */
  /* Retrieval (daemon/retrieval, core/ann). */
  bool ann;            /* lists come from an index now */
  uint64_t ann_builds; /* indexes built */
  double ann_age_s;    /* of the index in use */
  uint64_t ann_bytes;  /* held by the index in use */
  double ann_recall;   /* last sampled recall@20; -1 before one */
  uint64_t ann_lists;  /* lists drawn from an index */
  uint64_t ann_candidates, ann_scanned, ann_fallbacks;
} sr_telemetry_totals_t;

/* What readiness and liveness are judged from; times are monotonic ms. */
typedef struct sr_health {
  uint64_t now_ms;
  uint64_t beat_ms;         /* last heartbeat of the loop */
  bool consuming;           /* running and subscribed, not stopping */
  size_t assigned;          /* partitions assigned */
  bool brokers_down;        /* the consumer sees no broker */
  uint64_t ckpt_max_age_ms; /* 3 checkpoint intervals */
  uint64_t ckpt_fresh_ms;   /* last checkpoint written (or found unneeded),
                               or the start */
  /* Cluster mode: partitions assigned but not taken over yet (the first
   * ones of n_restoring), and what the restores read so far. */
  size_t n_restoring;
  int32_t restoring[32];
  uint64_t restore_records, restored_users;
  bool index_building; /* lists wait for the first retrieval index */
} sr_health_t;

/* Longest a heartbeat may be late before /healthz reports failure. */
#define SR_TELEMETRY_STALE_MS 5000

/* Creates the registry with every metric (rejection reasons at 0). list_n
 * bounds the items remembered per user. Returns NULL when out of memory. */
sr_telemetry_t *sr_telemetry_new(const sr_model_t *mdl, uint32_t list_n);

/* Frees everything. Accepts NULL. */
void sr_telemetry_free(sr_telemetry_t *tel);

/* Adds the cluster mode metrics (sync, skipped and misrouted events), which
 * a single instance does not show. Returns 0, or -1 when out of memory. */
int sr_telemetry_enable_cluster(sr_telemetry_t *tel);

/* Adds the items topic's metrics. Returns 0, or -1 when out of memory. */
int sr_telemetry_enable_catalogue(sr_telemetry_t *tel);

/* Calls fn for every user row whose last list (as sr_telemetry_listed saw
 * it) held the item id. Returns the count of such users. */
size_t sr_telemetry_holders(const sr_telemetry_t *tel, const char *id,
                            size_t len, void (*fn)(void *, uint32_t),
                            void *opaque);

/* Appends the record of last lists to out, as the checkpoint's section
 * SR_STORE_SEC_LISTS holds it: for each row whose list is its current
 * user's, the row, a hash of the user id and hashes of the list's item ids.
 * Reads tel and the model only, so a forked checkpoint writer calls it on
 * its copy-on-write view. Returns 0, or -1 when out of memory. */
int sr_telemetry_save_lists(const sr_telemetry_t *tel, sr_buf_t *out);

/* The item-id hashes of row's last list, as a user's state on the state
 * topic carries them (cluster mode): their count, 0 (and *hashes NULL)
 * when the row's user has none. Valid until the next call that changes
 * tel. */
size_t sr_telemetry_list(const sr_telemetry_t *tel, uint32_t row,
                         const uint64_t **hashes);

/* Installs a list read from a user's state for the user row holds now
 * (n 0: none); the first list_n hashes are kept. Out of memory costs that
 * user's takedown refreshes only. */
void sr_telemetry_put_list(sr_telemetry_t *tel, uint32_t row,
                           const uint64_t *hashes, size_t n);

/* Lists recorded by sr_telemetry_listed so far: the record changed when
 * this moved (restored lists are not counted). */
uint64_t sr_telemetry_lists_recorded(const sr_telemetry_t *tel);

/* Restores a record sr_telemetry_save_lists wrote, at start-up before any
 * list is queued, into the rows that hold the same user in the model now
 * (a row whose user is gone is skipped). Lists longer than list_n (a
 * lowered recommend.n) raise the length remembered. Returns the count of
 * users restored (fewer when memory runs out), or -1 with errstr when the
 * bytes are malformed, in which case nothing is restored. */
int64_t sr_telemetry_load_lists(sr_telemetry_t *tel, const void *data,
                                size_t len, char *errstr, size_t errlen);

/* Notes an item taken down while lists cannot be refreshed yet (the items
 * topic's load at start-up), for sr_telemetry_noted_holders. Returns 0, or
 * -1 when out of memory. */
int sr_telemetry_note_down(sr_telemetry_t *tel, const char *id, size_t len);

/* Calls fn once for every user row whose last list held an item noted
 * since the previous call, in one pass over the lists, and forgets the
 * notes. Returns the count of such users. */
size_t sr_telemetry_noted_holders(sr_telemetry_t *tel,
                                  void (*fn)(void *, uint32_t), void *opaque);

/* The prequential counts so far: events scored against their user's last
 * list, and those whose item was in it. */
void sr_telemetry_prequential(const sr_telemetry_t *tel, uint64_t *hits,
                              uint64_t *evaluated);

/* One input message of topic was taken (valid or not). */
void sr_telemetry_consumed(sr_telemetry_t *tel, const char *topic);

/* A valid event is about to be learned: scores it against the list last
 * published for its user, if any. */
void sr_telemetry_event(sr_telemetry_t *tel, const sr_event_t *ev);

/* The event was learned for user_row: starts its latency clock unless an
 * older event of the user is still waiting for a list. */
void sr_telemetry_learned(sr_telemetry_t *tel, uint32_t user_row);

/* A list for user_row with items was queued: remembers the items and hands
 * the latency clock to the list in flight. */
void sr_telemetry_listed(sr_telemetry_t *tel, uint32_t user_row,
                         const sr_scored_t *items, size_t n);

/* The broker acknowledged a list for user_row: observes the latency. */
void sr_telemetry_delivered(sr_telemetry_t *tel, uint32_t user_row);

/* A checkpoint finished: its duration, and on success the wall time. */
void sr_telemetry_checkpoint(sr_telemetry_t *tel, bool ok, double duration_s);

/* The loop was busy for seconds in one iteration. */
void sr_telemetry_loop_busy(sr_telemetry_t *tel, double seconds);

/* Answers GET /metrics: copies totals, model gauges and src's lag (src may
 * be NULL) into the registry and renders it. */
void sr_telemetry_metrics(sr_telemetry_t *tel,
                          const sr_telemetry_totals_t *totals, sr_src_t *src,
                          sr_http_response_t *res);

/* Answers /healthz (ready false) or /readyz (ready true) with 200 or 503
 * and a JSON body naming the reasons. */
void sr_telemetry_health(const sr_health_t *h, bool ready,
                         sr_http_response_t *res);

#endif
