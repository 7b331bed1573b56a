/* Scoring and exclusion; see recommend.h. */
#include "core/recommend.h"

#include "core/content.h"
#include "core/learner.h"
#include "core/topn.h"

#include <math.h>
#include <string.h>

/* Keeps bias[item] = pop_blend * log popularity (+ the item bias when
 * explicit) current after item's counts or bias changed; all items after a
 * rescale of the counts. */
void sr_recommend_update_bias(sr_model_t *mdl, uint32_t item, int all) {
  uint32_t lo = all ? 0 : item,
           hi = all ? sr_idmap_count(mdl->items) : item + 1;
  int explicit_ = mdl->conf.mode == SR_MODE_EXPLICIT;
  for (uint32_t i = lo; i < hi; i++)
    mdl->bias[i] = mdl->conf.pop_blend * mdl->pop.logc[i] +
                   (explicit_ ? mdl->ibias[i] : 0.0f);
}

/* Sizes of the scratch for n items, one function each, so that allocation
 * and free always agree. */
static size_t scores_bytes(uint32_t n) {
  size_t floats = n > CHUNK * ITEM_BLOCK ? n : CHUNK * ITEM_BLOCK;
  return floats * sizeof(float);
}

static size_t samples_of(uint32_t n) {
  return n / SR_TOPN_SAMPLE_STEP + 1;
}

static size_t batch_bytes(const sr_model_t *mdl) {
  return (size_t)CHUNK * mdl->ufac.stride * sizeof(float);
}

static void free_scratch(sr_model_t *mdl) {
  uint32_t n = mdl->scratch_items;
  sr_model_mem_free(mdl, mdl->scores, scores_bytes(n));
  sr_model_mem_free(mdl, mdl->sample,
                    samples_of(n) * mdl->ifac.stride * sizeof(float));
  sr_model_mem_free(mdl, mdl->sample_bias, samples_of(n) * sizeof(float));
  mdl->scores = mdl->sample = mdl->sample_bias = NULL;
  mdl->scratch_items = 0;
}

/* Sizes the score scratch: one score per item for single-user scoring, and
 * one block of CHUNK x ITEM_BLOCK for batched scoring. */
static int ensure_scratch(sr_model_t *mdl) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (items <= mdl->scratch_items && mdl->scores)
    return 0;
  uint32_t n = items < 1024 ? 1024 : items + items / 2;
  size_t samples = samples_of(n), stride = mdl->ifac.stride;
  float *scores = sr_model_mem_alloc(mdl, scores_bytes(n), 0);
  float *sample = sr_model_mem_alloc(mdl, samples * stride * sizeof(float), 64);
  float *sample_bias = sr_model_mem_alloc(mdl, samples * sizeof(float), 0);
  if (!scores || !sample || !sample_bias) {
    sr_model_mem_free(mdl, scores, scores_bytes(n));
    sr_model_mem_free(mdl, sample, samples * stride * sizeof(float));
    sr_model_mem_free(mdl, sample_bias, samples * sizeof(float));
    return -1;
  }
  free_scratch(mdl);
  mdl->scores = scores;
  mdl->sample = sample;
  mdl->sample_bias = sample_bias;
  mdl->scratch_items = n;
  return 0;
}

static size_t co_bytes(const sr_model_t *mdl) {
  return (size_t)CHUNK * mdl->co_max * sizeof(sr_scored_t);
}

int sr_recommend_init(sr_model_t *mdl) {
  mdl->batch = sr_model_mem_alloc(mdl, batch_bytes(mdl), 64);
  if (!mdl->batch)
    return -1;
  if (!mdl->cooc_on)
    return 0;
  mdl->co_max = mdl->conf.cooc_recent * mdl->conf.cooc_neighbours;
  mdl->co = sr_model_mem_alloc(mdl, co_bytes(mdl), 0);
  return mdl->co ? 0 : -1;
}

void sr_recommend_free(sr_model_t *mdl) {
  sr_model_mem_free(mdl, mdl->batch, batch_bytes(mdl));
  mdl->batch = NULL;
  if (mdl->co)
    sr_model_mem_free(mdl, mdl->co, co_bytes(mdl));
  mdl->co = NULL;
  free_scratch(mdl);
}

/* The co-occurrence scores of a chunk's r-th user; NULL without them. */
static sr_scored_t *co_list(const sr_model_t *mdl, size_t r) {
  return mdl->co ? mdl->co + r * mdl->co_max : NULL;
}

/* The user's co-occurrence scores (core/cooc), times cooc_weight, into out
 * (co_max entries); none when the model has no co-occurrence. Seen items
 * are left out before the scores are divided by their maximum, since they
 * are in no list. */
static uint32_t co_scores(sr_model_t *mdl, uint32_t user, sr_scored_t *out) {
  if (!mdl->cooc_on)
    return 0;
  const sr_model_conf_t *c = &mdl->conf;
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  uint32_t hist[SR_COOC_HIST_MAX];
  uint32_t n_hist = sr_seen_last(&mdl->seen, user, hist, c->cooc_recent);
  uint32_t n = sr_cooc_score(&mdl->cooc, hist, n_hist, c->cooc_recent_decay,
                             ring->items, ring->len, out);
  for (uint32_t k = 0; k < n; k++)
    out[k].score *= c->cooc_weight;
  return n;
}

/* Adds the co-occurrence scores co[0 .. n) of the items in a block of
 * scores: rows lo, lo + step, ... (count of them) as exclude_row reads
 * them. */
static void add_co(const sr_scored_t *co, uint32_t n, uint32_t lo,
                   uint32_t count, uint32_t step, float *scores) {
  for (uint32_t k = 0; k < n; k++) {
    uint32_t d = co[k].item - lo;
    if (co[k].item >= lo && d % step == 0 && d / step < count)
      scores[d / step] += co[k].score;
  }
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

/* Free item rows (evicted ids) and items taken down are in no list.
 * Walking the free stack costs as many steps as there are free rows, which
 * new items keep few; the takedowns are a list of their own for the same
 * reason. */
static void exclude_free_in(const sr_model_t *mdl, uint32_t lo, uint32_t count,
                            uint32_t step, float *scores) {
  const sr_lru_t *ilru = &mdl->ilru;
  for (uint32_t r = ilru->free_top; r != SR_LRU_NIL; r = ilru->node[r].next)
    exclude_row(scores, r, lo, count, step);
  for (uint32_t k = 0; k < mdl->n_down; k++)
    exclude_row(scores, mdl->down[k], lo, count, step);
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

/* A cold user whose few events hit items with content is scored from
 * those items' content: the mean of their content factors takes the place
 * of the user's factors, so the list holds their content neighbours (with
 * the same popularity term as a warm user's). Returns 1 with scores filled
 * (seen items not yet excluded), or 0 when the user has no such item. */
static int content_cold_scores(sr_model_t *mdl, uint32_t user, float *scores) {
  if (!mdl->content.with || !sr_content_user_query(mdl, user, mdl->batch))
    return 0;
  sr_topn_score_one(mdl->batch, &mdl->ifac, mdl->bias, scores);
  return 1;
}

int sr_model_score_user(sr_model_t *mdl, uint32_t user, float *scores,
                        sr_source_t *source) {
  uint32_t items = sr_idmap_count(mdl->items);
  int cold = is_cold(mdl, user);
  if (cold && content_cold_scores(mdl, user, scores))
    cold = 0;
  else if (cold)
    memcpy(scores, mdl->pop.logc, items * sizeof(float));
  else {
    sr_topn_score_one(sr_factors_row(&mdl->ufac, user), &mdl->ifac, mdl->bias,
                      scores);
    uint32_t n = co_scores(mdl, user, mdl->co);
    add_co(mdl->co, n, 0, items, 1, scores);
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
                       sr_scored_t *out, size_t *counts, const uint32_t *n_co) {
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
    add_co(co_list(mdl, r), n_co[r], 0, samples, SR_TOPN_SAMPLE_STEP, scores);
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
  uint32_t n_co[CHUNK];
  for (size_t r = 0; r < nrows; r++) {
    memcpy(mdl->batch + r * stride,
           sr_factors_row(&mdl->ufac, user_rows[at[r]]),
           stride * sizeof(float));
    n_co[r] = co_scores(mdl, user_rows[at[r]], co_list(mdl, r));
  }
  seed_heaps(mdl, user_rows, at, nrows, n, out, counts, n_co);
  for (uint32_t lo = 0; lo < items; lo += ITEM_BLOCK) {
    uint32_t count = items - lo < ITEM_BLOCK ? items - lo : ITEM_BLOCK;
    const float *bias = mdl->bias ? mdl->bias + lo : NULL;
    sr_topn_score_range(mdl->batch, (uint32_t)nrows, &mdl->ifac, lo, count,
                        mdl->scores);
    for (size_t r = 0; r < nrows; r++) {
      float *scores = mdl->scores + r * count;
      add_co(co_list(mdl, r), n_co[r], lo, count, 1, scores);
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

/* recommend_cold for a user with content items: their content
 * neighbours. Returns 0 when the user has none. */
static int recommend_cold_content(sr_model_t *mdl, uint32_t user, size_t n,
                                  sr_scored_t *out, size_t *count) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (!content_cold_scores(mdl, user, mdl->scores))
    return 0;
  exclude_seen(mdl, user, mdl->scores);
  *count = sr_topn_select(mdl->scores, NULL, items, n, out);
  shift_scores(mdl, out, *count, 0);
  return 1;
}

/* A cold user's list; returns 1 when it came from content, else 0. */
static int recommend_cold(sr_model_t *mdl, uint32_t user, size_t n,
                          sr_scored_t *out, size_t *count) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (recommend_cold_content(mdl, user, n, out, count))
    return 1;
  memset(mdl->scores, 0, items * sizeof(float));
  exclude_seen(mdl, user, mdl->scores);
  *count = sr_topn_select(mdl->scores, mdl->pop.logc, items, n, out);
  shift_scores(mdl, out, *count, 1);
  return 0;
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
    if (cold && recommend_cold(mdl, user_rows[k], n, out + k * n, &counts[k]) &&
        sources)
      sources[k] = SR_SOURCE_PERSONAL;
    else if (!cold)
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
