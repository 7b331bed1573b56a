/* The model's state, shared by model.c (learning, scoring) and
 * model_state.c (snapshots, restore, digest). Not part of the public API. */
#ifndef SR_MODEL_INTERNAL_H
#define SR_MODEL_INTERNAL_H

#include "core/clock.h"
#include "core/factors.h"
#include "core/idmap.h"
#include "core/learner.h"
#include "core/lru.h"
#include "core/popular.h"
#include "core/rng.h"
#include "core/seen.h"
#include "streamrec/model.h"

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
};

/* Allocates an empty model for conf (no validation). NULL when out of
 * memory. */
sr_model_t *sr_model_alloc(const sr_model_conf_t *conf);

/* Recomputes every item's additive score (after a restore). */
void sr_model_refresh_bias(sr_model_t *mdl);

/* Makes every per-user (per-item) array hold users (items) rows. Returns 0
 * or -1. */
int sr_model_grow_users(sr_model_t *mdl, uint32_t users);
int sr_model_grow_items(sr_model_t *mdl, uint32_t items);

#endif
