/* The model: composition of id maps, factors, learner, seen rings,
 * popularity and top-N scoring; see include/streamrec/model.h. */
#include "streamrec/model.h"

#include "core/model_internal.h"
#include "core/topn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sr_model_conf_init(sr_model_conf_t *conf) {
  static const float weights[SR_EV__COUNT] = {0, 0.5f, 1, 2, 3, 2, 1, 1};
  memset(conf, 0, sizeof(*conf));
  conf->dims = 32;
  conf->mode = SR_MODE_IMPLICIT;
  conf->learn_rate = 0.3f;
  conf->reg = 0.01f;
  conf->init_std = 0.1f;
  conf->negatives = 4;
  conf->neg_weight = 1.0f;
  memcpy(conf->weights, weights, sizeof(weights));
  conf->bias_learn_rate = 0.01f;
  conf->bias_reg = 0.01f;
  conf->pop_blend = 0.2f;
  conf->pop_half_life = 1000;
  conf->recent_size = 1000;
  conf->seen_size = 256;
  conf->min_user_events = 1;
  conf->seed = 42;
}

static sr_err_t check_conf(const sr_model_conf_t *conf, char *errstr,
                           size_t errlen) {
  if (conf->dims == 0 || conf->dims > 1024)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.dims is %u, must be 1..1024", conf->dims);
  if (conf->recent_size == 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.recent_size must be at least 1");
  if (!(conf->learn_rate > 0) || !isfinite(conf->learn_rate))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.learn_rate must be a positive number");
  return SR_OK;
}

sr_model_t *sr_model_alloc(const sr_model_conf_t *conf) {
  sr_model_t *mdl = calloc(1, sizeof(*mdl));
  if (!mdl)
    return NULL;
  mdl->conf = *conf;
  sr_factors_init(&mdl->ufac, conf->dims);
  sr_factors_init(&mdl->ifac, conf->dims);
  sr_seen_init(&mdl->seen, conf->seen_size);
  sr_popular_init(&mdl->pop, conf->pop_half_life);
  sr_rng_seed(&mdl->rng, conf->seed);
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
  if (check_conf(conf, errstr, errlen) != SR_OK)
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
  free(mdl->batch);
  free(mdl->scores);
  free(mdl->bias);
  free(mdl);
}

/* Grows a per-row float/u32 array to hold rows entries, zero-filled. */
static int grow_array(void **arr, uint32_t *cap, uint32_t rows, size_t size) {
  if (rows <= *cap)
    return 0;
  uint32_t n = *cap ? *cap : 256;
  while (n < rows)
    n *= 2;
  char *p = realloc(*arr, (size_t)n * size);
  if (!p)
    return -1;
  memset(p + (size_t)*cap * size, 0, (size_t)(n - *cap) * size);
  *arr = p;
  *cap = n;
  return 0;
}

int sr_model_grow_users(sr_model_t *mdl, uint32_t users) {
  uint32_t cap = mdl->bias_cap;
  if (grow_array((void **)&mdl->ubias, &cap, users, sizeof(float)) != 0)
    return -1;
  cap = mdl->bias_cap;
  if (grow_array((void **)&mdl->uevents, &cap, users, sizeof(uint32_t)) != 0)
    return -1;
  mdl->bias_cap = cap;
  return sr_seen_ensure(&mdl->seen, users);
}

int sr_model_grow_items(sr_model_t *mdl, uint32_t items) {
  uint32_t cap = mdl->ibias_cap;
  if (grow_array((void **)&mdl->bias, &cap, items, sizeof(float)) != 0)
    return -1;
  cap = mdl->ibias_cap;
  if (grow_array((void **)&mdl->ibias, &cap, items, sizeof(float)) != 0)
    return -1;
  mdl->ibias_cap = cap;
  return sr_popular_ensure(&mdl->pop, items);
}

/* Row of an id, created with random factors on first sight. */
static int64_t intern_row(sr_model_t *mdl, sr_idmap_t *map, sr_factors_t *fac,
                          const char *id, size_t len) {
  int created;
  int64_t row = sr_idmap_intern(map, id, len, &created);
  if (row < 0 || !created)
    return row;
  if (sr_factors_add(fac, &mdl->rng, mdl->conf.init_std) != row)
    return -1;
  int rc = map == mdl->users ? sr_model_grow_users(mdl, (uint32_t)row + 1)
                             : sr_model_grow_items(mdl, (uint32_t)row + 1);
  return rc == 0 ? row : -1;
}

/* Keeps bias[item] = pop_blend * log popularity (+ the item bias when
 * explicit) current after item's counts or bias changed; all items after a
 * rescale of the counts. */
static void update_bias(sr_model_t *mdl, uint32_t item, int all) {
  uint32_t lo = all ? 0 : item, hi = all ? sr_idmap_count(mdl->items) : item + 1;
  int explicit_ = mdl->conf.mode == SR_MODE_EXPLICIT;
  for (uint32_t i = lo; i < hi; i++)
    mdl->bias[i] = mdl->conf.pop_blend * mdl->pop.logc[i] +
                   (explicit_ ? mdl->ibias[i] : 0.0f);
}

static void learn_implicit(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                           uint32_t i) {
  const sr_model_conf_t *c = &mdl->conf;
  float *urow = sr_factors_row(&mdl->ufac, u);
  float w = c->weights[ev->type];
  if (ev->type == SR_EV_DISLIKE) {
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 0.0f, w,
                    c->learn_rate, c->reg);
    return;
  }
  uint32_t neg[64];
  uint32_t k = c->negatives < 64 ? c->negatives : 64;
  k = sr_recent_sample(&mdl->recent, &mdl->rng, &mdl->seen, u, i, neg, k);
  for (uint32_t j = 0; j < k; j++)
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, neg[j]), mdl->ufac.stride, 0.0f,
                    c->neg_weight, c->learn_rate, c->reg);
  sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 1.0f, w,
                  c->learn_rate, c->reg);
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
  int64_t u = intern_row(mdl, mdl->users, &mdl->ufac, ev->user_id,
                         ev->user_len);
  int64_t i = u < 0 ? -1
                    : intern_row(mdl, mdl->items, &mdl->ifac, ev->item_id,
                                 ev->item_len);
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
         (uint64_t)mdl->bias_cap * (sizeof(float) + sizeof(uint32_t)) +
         (uint64_t)mdl->ibias_cap * 2 * sizeof(float) +
         (uint64_t)mdl->pop.cap * (sizeof(double) + sizeof(float)) +
         sr_seen_bytes(&mdl->seen) +
         (uint64_t)mdl->recent.cap * sizeof(uint32_t) +
         (uint64_t)mdl->scratch_items * CHUNK * sizeof(float);
}

/* Sizes the score scratch for the current item count. */
static int ensure_scratch(sr_model_t *mdl) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (items <= mdl->scratch_items && mdl->scores)
    return 0;
  uint32_t n = items < 1024 ? 1024 : items + items / 2;
  float *scores = malloc((size_t)CHUNK * n * sizeof(float));
  if (!scores)
    return -1;
  free(mdl->scores);
  mdl->scores = scores;
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

static void exclude_seen(const sr_model_t *mdl, uint32_t user, float *scores) {
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  for (uint32_t j = 0; j < ring->len; j++)
    scores[ring->items[j]] = -INFINITY;
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
    sr_topn_score_one(sr_factors_row(&mdl->ufac, user), &mdl->ifac,
                      mdl->bias, scores);
  }
  exclude_seen(mdl, user, scores);
  if (source)
    *source = cold ? SR_SOURCE_POPULAR : SR_SOURCE_PERSONAL;
  return 0;
}

/* Lists for up to CHUNK warm users, scored by one sgemm. */
static void recommend_warm(sr_model_t *mdl, const uint32_t *rows, size_t nrows,
                           size_t n, sr_scored_t *out, size_t *counts) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ufac.stride;
  for (size_t r = 0; r < nrows; r++)
    memcpy(mdl->batch + r * stride, sr_factors_row(&mdl->ufac, rows[r]),
           stride * sizeof(float));
  sr_topn_score(mdl->batch, (uint32_t)nrows, &mdl->ifac, mdl->scores);
  for (size_t r = 0; r < nrows; r++) {
    float *scores = mdl->scores + r * items;
    exclude_seen(mdl, rows[r], scores);
    counts[r] = sr_topn_select(scores, mdl->bias, items, n, out + r * n);
    shift_scores(mdl, out + r * n, counts[r], 0);
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
  uint32_t warm[CHUNK];
  size_t warm_at[CHUNK], nwarm = 0;
  sr_scored_t *tmp = NULL;
  if (ensure_scratch(mdl) != 0)
    return SR_ERR_NOMEM;
  for (size_t k = 0; k < n_users; k++) {
    int cold = is_cold(mdl, user_rows[k]);
    if (sources)
      sources[k] = cold ? SR_SOURCE_POPULAR : SR_SOURCE_PERSONAL;
    if (cold)
      recommend_cold(mdl, user_rows[k], n, out + k * n, &counts[k]);
  }
  tmp = malloc(CHUNK * n * sizeof(*tmp) + 1);
  if (!tmp)
    return SR_ERR_NOMEM;
  for (size_t k = 0; k < n_users; k++) {
    if (!is_cold(mdl, user_rows[k])) {
      warm_at[nwarm] = k;
      warm[nwarm++] = user_rows[k];
    }
    if (nwarm == CHUNK || (k + 1 == n_users && nwarm)) {
      size_t cnt[CHUNK];
      recommend_warm(mdl, warm, nwarm, n, tmp, cnt);
      for (size_t r = 0; r < nwarm; r++) {
        memcpy(out + warm_at[r] * n, tmp + r * n, cnt[r] * sizeof(*tmp));
        counts[warm_at[r]] = cnt[r];
      }
      nwarm = 0;
    }
  }
  free(tmp);
  return SR_OK;
}

size_t sr_model_popular(sr_model_t *mdl, size_t n, sr_scored_t *out) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (ensure_scratch(mdl) != 0)
    return 0;
  memset(mdl->scores, 0, items * sizeof(float));
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
  return sr_topn_select(mdl->scores, NULL, items, n, out);
}
