/* The model's state, shared by the modules that compose it: model.c (new,
 * free, growth, accessors), learn.c (the per-event path), evict.c (idle and
 * limit-driven eviction), recommend.c (scoring and exclusion) and
 * model_state.c (snapshots, restore, digest). Not part of the public API;
 * every function here runs on the thread that owns the model. */
#ifndef SR_MODEL_INTERNAL_H
#define SR_MODEL_INTERNAL_H

#include "core/clock.h"
#include "core/factors.h"
#include "core/idmap.h"
#include "core/lru.h"
#include "core/popular.h"
#include "core/recent.h"
#include "core/rng.h"
#include "core/seen.h"
#include "streamrec/model.h"

#include <stddef.h>

/* Users scored per sgemm, and items per sgemm: a CHUNK x ITEM_BLOCK block
 * of scores (256 KB) stays in cache from the sgemm to the selection. */
#define CHUNK 64
#define ITEM_BLOCK 1024

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
};

/* Allocates an empty model for conf (no validation). NULL when out of
 * memory. */
sr_model_t *sr_model_alloc(const sr_model_conf_t *conf);

/* Makes every per-user (per-item) array hold users (items) rows. Returns 0
 * or -1. */
int sr_model_grow_users(sr_model_t *mdl, uint32_t users);
int sr_model_grow_items(sr_model_t *mdl, uint32_t items);

/* The model's own allocator: bytes (> 0) aligned to align (0 for malloc's),
 * counted in own_bytes. NULL when out of memory. */
void *sr_model_mem_alloc(sr_model_t *mdl, size_t bytes, size_t align);

/* Frees a block of bytes from sr_model_mem_alloc or _grow. Accepts NULL. */
void sr_model_mem_free(sr_model_t *mdl, void *block, size_t bytes);

/* Grows *arr from old to bytes (>= old), zero-filling the new bytes, and
 * counts the difference. Returns 0, or -1 leaving *arr as it was. */
int sr_model_mem_grow(sr_model_t *mdl, void **arr, size_t old, size_t bytes);

#endif
