/* The approximate index's lifecycle (recommend.retrieval): copies the item
 * rows out of the model in short slices on the loop thread, builds the
 * index (core/ann) in the thread pool, measures its recall on a sample of
 * users there every recommend.ann_recall_every builds, and lends it to the
 * model on the loop thread (a pointer swap). It rebuilds at
 * recommend.ann_refresh_s, or sooner once recommend.ann_refresh_drift of
 * the index's items in events were learnt. Checkpoints never hold the
 * index: the first build starts with the daemon, and readiness waits for
 * it. Loop thread only; the loop owns the timer that calls
 * sr_retrieval_step. */
#ifndef SR_RETRIEVAL_H
#define SR_RETRIEVAL_H

#include "daemon/config.h"
#include "streamrec/model.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct sr_retrieval sr_retrieval_t;

/* What the metrics show. */
typedef struct sr_retrieval_stats {
  bool ann;             /* lists come from an index now */
  uint64_t builds;      /* indexes built and lent */
  double age_s;         /* since the lent index's copy began; 0 without */
  double build_s;       /* the last build's time in the thread pool */
  uint64_t bytes;       /* held by the lent index */
  double recall;        /* the last measured recall@20; -1 before one */
  uint64_t recall_runs; /* recall measurements */
} sr_retrieval_stats_t;

/* Borrows mdl and loop. NULL when out of memory. */
sr_retrieval_t *sr_retrieval_new(uv_loop_t *loop, sr_model_t *mdl,
                                 const sr_config_t *cfg);

/* Advances the lifecycle: starts a copy when a build is due, copies one
 * slice (well under 1 ms of work), or hands a finished copy to the thread pool.
 * Returns the milliseconds until it wants to run again. */
uint64_t sr_retrieval_step(sr_retrieval_t *rt);

/* True once lists no longer wait for an index: exact retrieval, or an
 * index lent (auto: below recommend.ann_min_items items, exact is the
 * choice). */
bool sr_retrieval_ready(const sr_retrieval_t *rt);

sr_retrieval_stats_t sr_retrieval_stats(const sr_retrieval_t *rt);

/* Takes the index back from the model and frees everything, once no build
 * is in flight (after the loop ran its work). Accepts NULL. */
void sr_retrieval_free(sr_retrieval_t *rt);

#endif
