/* The model's state, shared by the modules that compose it: model.c (new,
 * free, growth, accessors), learn.c (the per-event path), evict.c (idle and
 * limit-driven eviction), recommend.c (scoring and exclusion) and
 * model_state.c (snapshots, restore, digest). Not part of the public API;
 * every function here runs on the thread that owns the model. */
#ifndef SR_MODEL_INTERNAL_H
#define SR_MODEL_INTERNAL_H

#include "core/blend.h"
#include "core/clock.h"
#include "core/content.h"
#include "core/cooc.h"
#include "core/factors.h"
#include "core/idmap.h"
#include "core/lru.h"
#include "core/popular.h"
#include "core/recent.h"
#include "core/rng.h"
#include "core/seen.h"
#include "streamrec/model.h"
#include "util/buf.h"

#include <math.h>
#include <stddef.h>

/* Users scored per sgemm, and items per sgemm: a CHUNK x ITEM_BLOCK block
 * of scores (256 KB) stays in cache from the sgemm to the selection. */
#define CHUNK 64
#define ITEM_BLOCK 1024

/* Cluster mode's state (core/share.h); every pointer NULL when off. Per-row
 * arrays hold the model's capacity of rows, like the others. */
typedef struct sr_share_state {
  uint32_t *upart;   /* per user: input partition + 1; 0 while unknown */
  int64_t *uoffset;  /* per user: last applied offset + 1; 0 for none */
  uint8_t *udirty;   /* per user: a SHARE_* flag */
  uint32_t *dirty_u; /* users listed since the last flush, each once */
  uint32_t n_dirty_u;
  sr_buf_t gone;      /* users evicted since: int32 partition, uint16
                         length, the id */
  sr_factors_t ibase; /* per item: factors at its last delta */
  float *ibias_base;  /* per item: bias at its last delta */
  uint8_t *idirty;    /* per item: a SHARE_* flag */
  uint32_t *dirty_i;  /* items listed since the last delta, each once */
  uint32_t n_dirty_i;
  const char **seen_ids; /* scratch: one user's seen items as ids */
  uint32_t seen_cap;
  float *delta; /* scratch: one delta's factors */
  uint64_t events_at_take;
  uint64_t skipped, misrouted, deltas_taken, deltas_applied;
} sr_share_state_t;

/* A row's place in a dirty list. */
enum {
  SHARE_CLEAN = 0,  /* not listed */
  SHARE_DIRTY = 1,  /* listed and changed */
  SHARE_LISTED = 2, /* listed, but its id left since (the row may return) */
};

struct sr_model {
  sr_model_conf_t conf;
  sr_idmap_t *users;
  sr_idmap_t *items;
  sr_factors_t ufac;
  sr_factors_t ifac;
  float *ubias;
  float *ibias;
  uint32_t *uevents;
  uint32_t ucap; /* rows allocated in every per-user array */
  uint32_t icap; /* rows allocated in every per-item array */
  sr_seen_t seen;
  sr_popular_t pop;
  sr_recent_t recent;
  sr_lru_t ulru; /* users by recent activity, and free user rows */
  sr_lru_t ilru; /* items likewise */
  sr_rng_t rng;
  double mu_sum;
  uint64_t mu_n;
  uint64_t events;
  sr_clock_t clock; /* event time: what idle eviction counts from */
  uint64_t evicted_users;
  uint64_t evicted_items;
  float *batch;  /* CHUNK user rows, packed */
  float *scores; /* max(items, CHUNK x ITEM_BLOCK) */
  float *sample; /* every SR_TOPN_SAMPLE_STEP-th item row, gathered */
  float *sample_bias;
  float *bias; /* per-item additive score, kept current by learning */
  uint32_t scratch_items;
  /* Bytes of the arrays above that the model allocates itself (biases,
   * event counts, scoring scratch). Only sr_model_mem_* change it, and
   * every such array is allocated and freed through them. */
  uint64_t own_bytes;
  sr_share_state_t share;
  sr_cooc_t cooc;   /* item co-occurrence; empty unless cooc_on */
  int cooc_on;      /* conf.cooc_weight > 0, or the blend chosen online */
  sr_blend_t blend; /* the blends and the choice among them (core/blend) */
  sr_scored_t *co;  /* CHUNK users' co-occurrence scores, co_max each */
  uint32_t co_max;  /* cooc_recent x cooc_neighbours */
  void *trial;      /* the blend choice's scratch (core/recommend), with
                       model.blend auto only */
  /* Availability (core/avail): per item 1 when taken down, and the rows
   * taken down, unordered, so that exclusion walks only those. */
  uint8_t *idown;
  uint32_t *down;
  uint32_t n_down, down_cap;
  /* Scratch of the batched lists (core/recommend): the free rows and the
   * rows taken down, sorted. */
  uint32_t *excl;
  uint32_t excl_cap;
  /* Approximate retrieval (core/retrieve): the index, borrowed from its
   * owner (NULL: exact scoring), the lists it probes, and its scratch. */
  struct sr_ann *ann;
  uint32_t ann_probe;
  uint32_t *ann_rows;    /* CHUNK x the index's max_want candidates */
  sr_scored_t *ann_cand; /* one user's candidates, re-scored */
  size_t ann_cand_cap;   /* entries of ann_cand */
  sr_model_ann_stats_t ann_stats;
  sr_content_t content; /* item content (core/content); off until some item
                          has content */
  /* Exact ranks (core/rank): per item row, the norm of its factors (NaN
   * while not known: a changed row forgets it), its 8-bit code (valid
   * while the norm is known), and a mark; rows allocated in each. */
  float *inorm;
  uint8_t *icode;
  uint8_t *imark;
  uint32_t rank_cap;
};

/* Largest cooc_history and cooc_recent: the history read per event. */
#define SR_COOC_HIST_MAX 1000

/* Allocates an empty model for conf (no validation). NULL when out of
 * memory. */
sr_model_t *sr_model_alloc(const sr_model_conf_t *conf);

/* Makes every per-user (per-item) array hold users (items) rows. Returns 0
 * or -1. */
int sr_model_grow_users(sr_model_t *mdl, uint32_t users);
int sr_model_grow_items(sr_model_t *mdl, uint32_t items);

/* The row of a user (item) id, made most recently active at the clock; a
 * new id takes a row (evicting at max_users or max_items first). -1 when
 * out of memory. */
int64_t sr_model_touch_user(sr_model_t *mdl, const char *id, size_t len);

/* sr_model_learn for a caller that has looked the event's user up already:
 * known is its row, or -1 when it is not in the model. */
sr_err_t sr_model_learn_known(sr_model_t *mdl, const sr_event_t *ev,
                              int64_t known, uint32_t *user_row);
int64_t sr_model_touch_item(sr_model_t *mdl, const char *id, size_t len);

/* Forgets the norm of an item row's factors that exact ranks bound scores
 * by (core/rank), once the row has changed. */
static inline void sr_rank_forget(sr_model_t *mdl, uint32_t row) {
  if (row < mdl->rank_cap)
    mdl->inorm[row] = NAN;
}

/* Marks an item row changed: for the next delta (cluster mode) and for
 * exact ranks. Every change of an item's factors goes through this or
 * sr_recommend_update_bias. */
static inline void sr_share_mark_item(sr_model_t *mdl, uint32_t row) {
  sr_share_state_t *sh = &mdl->share;
  sr_rank_forget(mdl, row);
  if (!sh->idirty || sh->idirty[row] == SHARE_DIRTY)
    return;
  if (sh->idirty[row] == SHARE_CLEAN)
    sh->dirty_i[sh->n_dirty_i++] = row;
  sh->idirty[row] = SHARE_DIRTY;
}

/* The model's own allocator: bytes (> 0) aligned to align (0 for malloc's),
 * counted in own_bytes. NULL when out of memory. */
void *sr_model_mem_alloc(sr_model_t *mdl, size_t bytes, size_t align);

/* Frees a block of bytes from sr_model_mem_alloc or _grow. Accepts NULL. */
void sr_model_mem_free(sr_model_t *mdl, void *block, size_t bytes);

/* Grows *arr from old to bytes (>= old), zero-filling the new bytes, and
 * counts the difference. Returns 0, or -1 leaving *arr as it was. */
int sr_model_mem_grow(sr_model_t *mdl, void **arr, size_t old, size_t bytes);

#endif
