/* The model: composition of id maps, factors, learner, seen rings,
 * popularity and top-N scoring; see include/streamrec/model.h. */
#include "streamrec/model.h"

#include "core/model_internal.h"
#include "core/topn.h"
#include "util/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Idle ids evicted per kind after one event: bounds the work of an event,
 * and the share of the model one event can take, when many ids turn idle at
 * once (after a genuine jump in event time); the rest go on later events. */
#define EXPIRE_PER_EVENT 8

sr_model_t *sr_model_alloc(const sr_model_conf_t *conf) {
  sr_model_t *mdl = calloc(1, sizeof(*mdl));
  if (!mdl)
    return NULL;
  mdl->conf = *conf;
  sr_factors_init(&mdl->ufac, conf->dims);
  sr_factors_init(&mdl->ifac, conf->dims);
  sr_seen_init(&mdl->seen, conf->seen_size);
  sr_popular_init(&mdl->pop, conf->pop_half_life);
  /* The recency lists cost a little per event; only eviction needs them. */
  sr_lru_init(&mdl->ulru, conf->max_users || conf->idle_ttl_s);
  sr_lru_init(&mdl->ilru, conf->max_items || conf->idle_ttl_s);
  sr_rng_seed(&mdl->rng, conf->seed);
  sr_clock_init(&mdl->clock);
  mdl->users = sr_idmap_new();
  mdl->items = sr_idmap_new();
  mdl->batch = aligned_alloc(64, CHUNK * mdl->ufac.stride * sizeof(float));
  if (!mdl->users || !mdl->items || !mdl->batch ||
      sr_recent_init(&mdl->recent, conf->recent_size) != 0) {
    sr_model_free(mdl);
    return NULL;
  }
  return mdl;
}

sr_model_t *sr_model_new(const sr_model_conf_t *conf, char *errstr,
                         size_t errlen) {
  if (sr_model_conf_check(conf, errstr, errlen) != SR_OK)
    return NULL;
  sr_model_t *mdl = sr_model_alloc(conf);
  if (!mdl)
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory creating the model");
  return mdl;
}

void sr_model_free(sr_model_t *mdl) {
  if (!mdl)
    return;
  sr_idmap_free(mdl->users);
  sr_idmap_free(mdl->items);
  sr_factors_free(&mdl->ufac);
  sr_factors_free(&mdl->ifac);
  free(mdl->ubias);
  free(mdl->ibias);
  free(mdl->uevents);
  sr_seen_free(&mdl->seen);
  sr_popular_free(&mdl->pop);
  sr_recent_free(&mdl->recent);
  sr_lru_free(&mdl->ulru);
  sr_lru_free(&mdl->ilru);
  free(mdl->batch);
  free(mdl->scores);
  free(mdl->sample);
  free(mdl->sample_bias);
  free(mdl->bias);
  free(mdl);
}

/* Capacity for need rows. Growing by half rather than doubling bounds the
 * slack of every per-row array to a third of it; a configured limit caps
 * the capacity, so a bounded model allocates its limit and no more. */
static uint32_t grow_cap(uint32_t cap, uint32_t need, uint32_t limit) {
  if (need <= cap)
    return cap;
  uint64_t n = (uint64_t)cap + cap / 2;
  if (n < 256)
    n = 256;
  if (n < need)
    n = need;
  if (limit && need <= limit && n > limit)
    n = limit;
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Grows a per-row array from old to cap entries, zero-filled. */
static int grow_array(void **arr, uint32_t old, uint32_t cap, size_t size) {
  char *p = realloc(*arr, (size_t)cap * size);
  if (!p)
    return -1;
  memset(p + (size_t)old * size, 0, (size_t)(cap - old) * size);
  *arr = p;
  return 0;
}

int sr_model_grow_users(sr_model_t *mdl, uint32_t users) {
  uint32_t old = mdl->ucap;
  uint32_t cap = grow_cap(old, users, mdl->conf.max_users);
  if (cap > old) {
    if (sr_factors_reserve(&mdl->ufac, cap) ||
        grow_array((void **)&mdl->ubias, old, cap, sizeof(float)) ||
        grow_array((void **)&mdl->uevents, old, cap, sizeof(uint32_t)) ||
        sr_seen_reserve(&mdl->seen, cap) || sr_lru_reserve(&mdl->ulru, cap) ||
        sr_idmap_reserve(mdl->users, cap))
      return -1;
    mdl->ucap = cap;
  }
  return sr_seen_ensure(&mdl->seen, users);
}

int sr_model_grow_items(sr_model_t *mdl, uint32_t items) {
  uint32_t old = mdl->icap;
  uint32_t cap = grow_cap(old, items, mdl->conf.max_items);
  if (cap > old) {
    if (sr_factors_reserve(&mdl->ifac, cap) ||
        grow_array((void **)&mdl->bias, old, cap, sizeof(float)) ||
        grow_array((void **)&mdl->ibias, old, cap, sizeof(float)) ||
        sr_popular_reserve(&mdl->pop, cap) || sr_lru_reserve(&mdl->ilru, cap) ||
        sr_idmap_reserve(mdl->items, cap))
      return -1;
    mdl->icap = cap;
  }
  return sr_popular_ensure(&mdl->pop, items);
}

/* Row for a new id: the most recently freed row, with fresh factors, or a
 * new row. Either way one row's worth of random draws, so a model that
 * never evicts draws exactly as before eviction existed. */
static int64_t new_row(sr_model_t *mdl, sr_idmap_t *map, sr_factors_t *fac,
                       sr_lru_t *lru, const char *id, size_t len) {
  uint32_t row = lru->free_top;
  if (row != SR_LRU_NIL) {
    if (sr_idmap_put(map, id, len, row) != 0)
      return -1;
    sr_lru_reuse(lru, mdl->clock.now_ms);
    sr_factors_fill(fac, row, &mdl->rng, mdl->conf.init_std);
    return row;
  }
  row = sr_idmap_count(map);
  int rc = map == mdl->users ? sr_model_grow_users(mdl, row + 1)
                             : sr_model_grow_items(mdl, row + 1);
  if (rc != 0 || sr_idmap_put(map, id, len, row) != 0)
    return -1;
  sr_lru_add(lru, mdl->clock.now_ms);
  sr_factors_add(fac, &mdl->rng, mdl->conf.init_std); /* room reserved */
  return row;
}

/* Keeps bias[item] = pop_blend * log popularity (+ the item bias when
 * explicit) current after item's counts or bias changed; all items after a
 * rescale of the counts. */
static void update_bias(sr_model_t *mdl, uint32_t item, int all) {
  uint32_t lo = all ? 0 : item,
           hi = all ? sr_idmap_count(mdl->items) : item + 1;
  int explicit_ = mdl->conf.mode == SR_MODE_EXPLICIT;
  for (uint32_t i = lo; i < hi; i++)
    mdl->bias[i] = mdl->conf.pop_blend * mdl->pop.logc[i] +
                   (explicit_ ? mdl->ibias[i] : 0.0f);
}

/* The user leaves: its id, events, seen ring and factors go; the row waits
 * on the free stack for a new id. */
static void evict_user(sr_model_t *mdl, uint32_t row) {
  sr_idmap_remove(mdl->users, row);
  sr_seen_clear(&mdl->seen, row);
  sr_factors_zero(&mdl->ufac, row);
  mdl->ubias[row] = 0;
  mdl->uevents[row] = 0;
  sr_lru_retire(&mdl->ulru, row);
  mdl->evicted_users++;
}

/* The item leaves: its id, popularity, bias and factors go, and it leaves
 * the recent window so no negative lands on the row once reused. */
static void evict_item(sr_model_t *mdl, uint32_t row) {
  sr_idmap_remove(mdl->items, row);
  sr_popular_clear(&mdl->pop, row);
  sr_factors_zero(&mdl->ifac, row);
  mdl->ibias[row] = 0;
  sr_recent_purge(&mdl->recent, row);
  sr_lru_retire(&mdl->ilru, row);
  update_bias(mdl, row, 0);
  mdl->evicted_items++;
}

/* Row of the event's user, made most recent; a new user at max_users first
 * evicts the least recently active one (several if a restore brought more
 * than a lowered limit allows). */
static int64_t touch_user(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->users, id, len);
  if (row >= 0) {
    sr_lru_touch(&mdl->ulru, (uint32_t)row, mdl->clock.now_ms);
    return row;
  }
  while (mdl->conf.max_users && mdl->ulru.live >= mdl->conf.max_users)
    evict_user(mdl, mdl->ulru.tail);
  return new_row(mdl, mdl->users, &mdl->ufac, &mdl->ulru, id, len);
}

/* Row of the event's item, as touch_user. */
static int64_t touch_item(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->items, id, len);
  if (row >= 0) {
    sr_lru_touch(&mdl->ilru, (uint32_t)row, mdl->clock.now_ms);
    return row;
  }
  while (mdl->conf.max_items && mdl->ilru.live >= mdl->conf.max_items)
    evict_item(mdl, mdl->ilru.tail);
  return new_row(mdl, mdl->items, &mdl->ifac, &mdl->ilru, id, len);
}

/* Evicts ids idle for over idle_ttl_s. Rows are touched at the clock, which
 * never goes back, so the tail is always the most idle row and the rows of
 * the event just learnt (idle 0) are never taken. */
static void expire_idle(sr_model_t *mdl) {
  if (!mdl->conf.idle_ttl_s)
    return;
  int64_t cutoff = mdl->clock.now_ms - (int64_t)mdl->conf.idle_ttl_s * 1000;
  sr_lru_t *ulru = &mdl->ulru, *ilru = &mdl->ilru;
  for (int k = 0; k < EXPIRE_PER_EVENT && ulru->tail != SR_LRU_NIL &&
                  ulru->node[ulru->tail].last_ms < cutoff;
       k++)
    evict_user(mdl, ulru->tail);
  for (int k = 0; k < EXPIRE_PER_EVENT && ilru->tail != SR_LRU_NIL &&
                  ilru->node[ilru->tail].last_ms < cutoff;
       k++)
    evict_item(mdl, ilru->tail);
}

static void learn_implicit(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                           uint32_t i) {
  const sr_model_conf_t *c = &mdl->conf;
  float *urow = sr_factors_row(&mdl->ufac, u);
  float w = c->weights[ev->type];
  if (ev->type == SR_EV_DISLIKE) {
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 0.0f,
                    w, c->learn_rate, c->reg);
    return;
  }
  uint32_t neg[64];
  uint32_t k = c->negatives < 64 ? c->negatives : 64;
  k = sr_recent_sample(&mdl->recent, &mdl->rng, &mdl->seen, u, i, neg, k);
  for (uint32_t j = 0; j < k; j++)
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, neg[j]), mdl->ufac.stride,
                    0.0f, c->neg_weight, c->learn_rate, c->reg);
  sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 1.0f,
                  w, c->learn_rate, c->reg);
}

static void learn_explicit(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                           uint32_t i) {
  const sr_model_conf_t *c = &mdl->conf;
  if (ev->type != SR_EV_RATING)
    return;
  /* The global mean is that of earlier ratings: a rating must not take part
   * in its own prediction. */
  float mu = mdl->mu_n ? (float)(mdl->mu_sum / (double)mdl->mu_n) : ev->value;
  sr_learner_rating(sr_factors_row(&mdl->ufac, u),
                    sr_factors_row(&mdl->ifac, i), &mdl->ubias[u],
                    &mdl->ibias[i], mu, ev->value, mdl->ufac.stride,
                    c->learn_rate, c->reg, c->bias_learn_rate, c->bias_reg);
  mdl->mu_sum += ev->value;
  mdl->mu_n++;
}

sr_err_t sr_model_learn(sr_model_t *mdl, const sr_event_t *ev,
                        uint32_t *user_row) {
  /* Event time, not the wall clock, so eviction replays identically; a
   * median rather than the newest stamp, so that one event stamped far
   * ahead cannot make every id look idle. */
  sr_clock_observe(&mdl->clock, ev->timestamp_ms);
  int64_t u = touch_user(mdl, ev->user_id, ev->user_len);
  int64_t i = u < 0 ? -1 : touch_item(mdl, ev->item_id, ev->item_len);
  if (i < 0)
    return SR_ERR_NOMEM;
  if (mdl->conf.mode == SR_MODE_EXPLICIT)
    learn_explicit(mdl, ev, (uint32_t)u, (uint32_t)i);
  else
    learn_implicit(mdl, ev, (uint32_t)u, (uint32_t)i);
  int rescaled = 0;
  if (ev->type != SR_EV_DISLIKE) {
    rescaled = sr_popular_add(&mdl->pop, (uint32_t)i, 1.0);
    sr_recent_push(&mdl->recent, (uint32_t)i);
  }
  update_bias(mdl, (uint32_t)i, rescaled);
  if (sr_seen_add(&mdl->seen, (uint32_t)u, (uint32_t)i) != 0)
    return SR_ERR_NOMEM;
  mdl->uevents[u]++;
  mdl->events++;
  expire_idle(mdl);
  if (user_row)
    *user_row = (uint32_t)u;
  return SR_OK;
}

int64_t sr_model_find_user(const sr_model_t *mdl, const char *id, size_t len) {
  return sr_idmap_find(mdl->users, id, len);
}

int64_t sr_model_find_item(const sr_model_t *mdl, const char *id, size_t len) {
  return sr_idmap_find(mdl->items, id, len);
}

const char *sr_model_user_id(const sr_model_t *mdl, uint32_t row, size_t *len) {
  return sr_idmap_id(mdl->users, row, len);
}

const char *sr_model_item_id(const sr_model_t *mdl, uint32_t row, size_t *len) {
  return sr_idmap_id(mdl->items, row, len);
}

uint64_t sr_model_users(const sr_model_t *mdl) {
  return sr_idmap_count(mdl->users);
}

uint64_t sr_model_items(const sr_model_t *mdl) {
  return sr_idmap_count(mdl->items);
}

uint64_t sr_model_live_users(const sr_model_t *mdl) {
  return sr_idmap_live(mdl->users);
}

uint64_t sr_model_live_items(const sr_model_t *mdl) {
  return sr_idmap_live(mdl->items);
}

int sr_model_user_is_live(const sr_model_t *mdl, uint32_t row) {
  return row < mdl->ulru.rows && !sr_lru_is_free(&mdl->ulru, row);
}

int sr_model_item_is_live(const sr_model_t *mdl, uint32_t row) {
  return row < mdl->ilru.rows && !sr_lru_is_free(&mdl->ilru, row);
}

void sr_model_evictions(const sr_model_t *mdl, uint64_t *users,
                        uint64_t *items) {
  if (users)
    *users = mdl->evicted_users;
  if (items)
    *items = mdl->evicted_items;
}

int64_t sr_model_clock_ms(const sr_model_t *mdl) {
  return mdl->clock.now_ms;
}

uint64_t sr_model_events_applied(const sr_model_t *mdl) {
  return mdl->events;
}

uint32_t sr_model_user_events(const sr_model_t *mdl, uint32_t row) {
  return mdl->uevents[row];
}

const sr_model_conf_t *sr_model_conf(const sr_model_t *mdl) {
  return &mdl->conf;
}

uint64_t sr_model_bytes(const sr_model_t *mdl) {
  return sizeof(*mdl) + sr_idmap_bytes(mdl->users) +
         sr_idmap_bytes(mdl->items) + sr_factors_bytes(&mdl->ufac) +
         sr_factors_bytes(&mdl->ifac) +
         (uint64_t)mdl->ucap * (sizeof(float) + sizeof(uint32_t)) +
         (uint64_t)mdl->icap * 2 * sizeof(float) +
         (uint64_t)mdl->pop.cap * (sizeof(double) + sizeof(float)) +
         sr_seen_bytes(&mdl->seen) + sr_lru_bytes(&mdl->ulru) +
         sr_lru_bytes(&mdl->ilru) +
         (uint64_t)mdl->recent.cap * sizeof(uint32_t) +
         (uint64_t)CHUNK * mdl->ufac.stride * sizeof(float) +
         (mdl->scratch_items > CHUNK * ITEM_BLOCK
              ? (uint64_t)mdl->scratch_items
              : (uint64_t)CHUNK * ITEM_BLOCK) *
             sizeof(float) +
         ((uint64_t)mdl->scratch_items / SR_TOPN_SAMPLE_STEP + 1) *
             (mdl->ifac.stride + 1) * sizeof(float);
}

/* Sizes the score scratch: one score per item for single-user scoring, and
 * one block of CHUNK x ITEM_BLOCK for batched scoring. */
static int ensure_scratch(sr_model_t *mdl) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (items <= mdl->scratch_items && mdl->scores)
    return 0;
  uint32_t n = items < 1024 ? 1024 : items + items / 2;
  size_t floats = n > CHUNK * ITEM_BLOCK ? n : CHUNK * ITEM_BLOCK;
  size_t samples = n / SR_TOPN_SAMPLE_STEP + 1;
  float *scores = malloc(floats * sizeof(float));
  float *sample = aligned_alloc(64, samples * mdl->ifac.stride * sizeof(float));
  float *sample_bias = malloc(samples * sizeof(float));
  if (!scores || !sample || !sample_bias) {
    free(scores);
    free(sample);
    free(sample_bias);
    return -1;
  }
  free(mdl->scores);
  free(mdl->sample);
  free(mdl->sample_bias);
  mdl->scores = scores;
  mdl->sample = sample;
  mdl->sample_bias = sample_bias;
  mdl->scratch_items = n;
  return 0;
}

/* Turns ranking scores into reported ones: popularity terms become log
 * decayed counts rather than log raw counts. */
static void shift_scores(const sr_model_t *mdl, sr_scored_t *list, size_t n,
                         int cold) {
  float w = cold ? 1.0f : mdl->conf.pop_blend;
  float shift = w * (float)log(mdl->pop.inc);
  for (size_t k = 0; k < n; k++)
    list[k].score -= shift;
}

/* Exclusions write -inf at a row's score. The scores array holds either
 * every row (lo 0, step 1), one block of rows from lo, or the sampled rows
 * (step SR_TOPN_SAMPLE_STEP): row r sits at (r - lo) / step when r - lo is
 * a multiple of step and that index is below count. */
static void exclude_row(float *scores, uint32_t row, uint32_t lo,
                        uint32_t count, uint32_t step) {
  uint32_t d = row - lo;
  if (d % step == 0 && d / step < count)
    scores[d / step] = -INFINITY;
}

/* Free item rows (evicted ids) are in no list. Walking the free stack costs
 * as many steps as there are free rows, which new items keep few. */
static void exclude_free_in(const sr_model_t *mdl, uint32_t lo, uint32_t count,
                            uint32_t step, float *scores) {
  const sr_lru_t *ilru = &mdl->ilru;
  for (uint32_t r = ilru->free_top; r != SR_LRU_NIL; r = ilru->node[r].next)
    exclude_row(scores, r, lo, count, step);
}

/* Excludes the user's seen ring and the free item rows. */
static void exclude_seen_in(const sr_model_t *mdl, uint32_t user, uint32_t lo,
                            uint32_t count, uint32_t step, float *scores) {
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  for (uint32_t j = 0; j < ring->len; j++)
    exclude_row(scores, ring->items[j], lo, count, step);
  exclude_free_in(mdl, lo, count, step, scores);
}

static void exclude_free(const sr_model_t *mdl, float *scores) {
  exclude_free_in(mdl, 0, UINT32_MAX, 1, scores);
}

static void exclude_seen(const sr_model_t *mdl, uint32_t user, float *scores) {
  exclude_seen_in(mdl, user, 0, UINT32_MAX, 1, scores);
}

static int is_cold(const sr_model_t *mdl, uint32_t user) {
  return mdl->uevents[user] < mdl->conf.min_user_events;
}

int sr_model_score_user(sr_model_t *mdl, uint32_t user, float *scores,
                        sr_source_t *source) {
  uint32_t items = sr_idmap_count(mdl->items);
  int cold = is_cold(mdl, user);
  if (cold)
    memcpy(scores, mdl->pop.logc, items * sizeof(float));
  else {
    sr_topn_score_one(sr_factors_row(&mdl->ufac, user), &mdl->ifac, mdl->bias,
                      scores);
  }
  exclude_seen(mdl, user, scores);
  if (source)
    *source = cold ? SR_SOURCE_POPULAR : SR_SOURCE_PERSONAL;
  return 0;
}

/* Starts the heaps of recommend_warm from every SR_TOPN_SAMPLE_STEP-th
 * item, gathered and scored by one sgemm. CHUNK x samples scores fit in
 * mdl->scores, which holds at least scratch_items floats. */
static void seed_heaps(sr_model_t *mdl, const uint32_t *user_rows,
                       const size_t *at, size_t nrows, size_t n,
                       sr_scored_t *out, size_t *counts) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ifac.stride;
  uint32_t samples = (items + SR_TOPN_SAMPLE_STEP - 1) / SR_TOPN_SAMPLE_STEP;
  for (uint32_t k = 0; k < samples; k++) {
    uint32_t row = k * SR_TOPN_SAMPLE_STEP;
    memcpy(mdl->sample + (size_t)k * stride, sr_factors_row(&mdl->ifac, row),
           stride * sizeof(float));
    mdl->sample_bias[k] = mdl->bias ? mdl->bias[row] : 0.0f;
  }
  sr_factors_t view = mdl->ifac;
  view.data = mdl->sample;
  view.rows = samples;
  sr_topn_score_range(mdl->batch, (uint32_t)nrows, &view, 0, samples,
                      mdl->scores);
  for (size_t r = 0; r < nrows; r++) {
    float *scores = mdl->scores + r * samples;
    exclude_seen_in(mdl, user_rows[at[r]], 0, samples, SR_TOPN_SAMPLE_STEP,
                    scores);
    counts[at[r]] =
        sr_topn_seed(scores, mdl->sample_bias, samples, n, out + at[r] * n);
  }
}

/* Lists for up to CHUNK warm users: user_rows[at[r]] gets its list at
 * out + at[r] * n and its length in counts[at[r]]. The items go in blocks
 * of ITEM_BLOCK, one sgemm each, so that the scores of a block are still
 * in cache when the users' heaps take them. */
static void recommend_warm(sr_model_t *mdl, const uint32_t *user_rows,
                           const size_t *at, size_t nrows, size_t n,
                           sr_scored_t *out, size_t *counts) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ufac.stride;
  for (size_t r = 0; r < nrows; r++)
    memcpy(mdl->batch + r * stride,
           sr_factors_row(&mdl->ufac, user_rows[at[r]]),
           stride * sizeof(float));
  seed_heaps(mdl, user_rows, at, nrows, n, out, counts);
  for (uint32_t lo = 0; lo < items; lo += ITEM_BLOCK) {
    uint32_t count = items - lo < ITEM_BLOCK ? items - lo : ITEM_BLOCK;
    const float *bias = mdl->bias ? mdl->bias + lo : NULL;
    sr_topn_score_range(mdl->batch, (uint32_t)nrows, &mdl->ifac, lo, count,
                        mdl->scores);
    for (size_t r = 0; r < nrows; r++) {
      float *scores = mdl->scores + r * count;
      exclude_seen_in(mdl, user_rows[at[r]], lo, count, 1, scores);
      counts[at[r]] = sr_topn_offer(scores, bias, lo, count, n, out + at[r] * n,
                                    counts[at[r]]);
    }
  }
  for (size_t r = 0; r < nrows; r++) {
    sr_topn_finish(out + at[r] * n, counts[at[r]]);
    shift_scores(mdl, out + at[r] * n, counts[at[r]], 0);
  }
}

static void recommend_cold(sr_model_t *mdl, uint32_t user, size_t n,
                           sr_scored_t *out, size_t *count) {
  uint32_t items = sr_idmap_count(mdl->items);
  memset(mdl->scores, 0, items * sizeof(float));
  exclude_seen(mdl, user, mdl->scores);
  *count = sr_topn_select(mdl->scores, mdl->pop.logc, items, n, out);
  shift_scores(mdl, out, *count, 1);
}

sr_err_t sr_model_recommend(sr_model_t *mdl, const uint32_t *user_rows,
                            size_t n_users, size_t n, sr_scored_t *out,
                            size_t *counts, sr_source_t *sources) {
  size_t warm_at[CHUNK], nwarm = 0;
  if (ensure_scratch(mdl) != 0)
    return SR_ERR_NOMEM;
  for (size_t k = 0; k < n_users; k++) {
    int cold = is_cold(mdl, user_rows[k]);
    if (sources)
      sources[k] = cold ? SR_SOURCE_POPULAR : SR_SOURCE_PERSONAL;
    if (cold)
      recommend_cold(mdl, user_rows[k], n, out + k * n, &counts[k]);
    else
      warm_at[nwarm++] = k;
    if (nwarm == CHUNK || (k + 1 == n_users && nwarm)) {
      recommend_warm(mdl, user_rows, warm_at, nwarm, n, out, counts);
      nwarm = 0;
    }
  }
  return SR_OK;
}

size_t sr_model_popular(sr_model_t *mdl, size_t n, sr_scored_t *out) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (ensure_scratch(mdl) != 0)
    return 0;
  memset(mdl->scores, 0, items * sizeof(float));
  exclude_free(mdl, mdl->scores);
  size_t count = sr_topn_select(mdl->scores, mdl->pop.logc, items, n, out);
  shift_scores(mdl, out, count, 1);
  return count;
}

void sr_model_refresh_bias(sr_model_t *mdl) {
  update_bias(mdl, 0, 1);
}

size_t sr_model_similar_items(sr_model_t *mdl, uint32_t item_row, size_t n,
                              sr_scored_t *out) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ifac.stride;
  if (ensure_scratch(mdl) != 0)
    return 0;
  const float *q = sr_factors_row(&mdl->ifac, item_row);
  float qn = sqrtf(sr_learner_dot(q, q, stride));
  sr_topn_score_one(q, &mdl->ifac, NULL, mdl->scores);
  for (uint32_t i = 0; i < items; i++) {
    const float *v = sr_factors_row(&mdl->ifac, i);
    float norm = qn * sqrtf(sr_learner_dot(v, v, stride));
    mdl->scores[i] = norm > 0 ? mdl->scores[i] / norm : 0.0f;
  }
  mdl->scores[item_row] = -INFINITY;
  exclude_free(mdl, mdl->scores);
  return sr_topn_select(mdl->scores, NULL, items, n, out);
}
