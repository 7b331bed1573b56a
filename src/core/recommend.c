/* Scoring and exclusion; see recommend.h. */
#include "core/recommend.h"

#include "core/ann.h"
#include "core/content.h"
#include "core/learner.h"
#include "core/rank.h"
#include "core/retrieve.h"
#include "core/topn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keeps bias[item] = pop_blend * log popularity (+ the item bias when
 * explicit) current after item's counts or bias changed; all items after a
 * rescale of the counts. Exact ranks forget the norms of the rows: every
 * caller but a rescale has changed them (learning, eviction, a delta). */
void sr_recommend_update_bias(sr_model_t *mdl, uint32_t item, int all) {
  uint32_t lo = all ? 0 : item,
           hi = all ? sr_idmap_count(mdl->items) : item + 1;
  int explicit_ = mdl->conf.mode == SR_MODE_EXPLICIT;
  for (uint32_t i = lo; i < hi; i++) {
    mdl->bias[i] = mdl->conf.pop_blend * mdl->pop.logc[i] +
                   (explicit_ ? mdl->ibias[i] : 0.0f);
    sr_rank_forget(mdl, i);
  }
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

/* The co-occurrence lists of a chunk's users, and one more list of
 * scratch for sorting them (sort_by_block). */
static size_t co_bytes(const sr_model_t *mdl) {
  return (size_t)(CHUNK + 1) * mdl->co_max * sizeof(sr_scored_t);
}

/* Latest events of the recent window whose items a blend trial ranks: the
 * items popularity puts on top now. More cost a cache miss each (their
 * factor rows are scattered) and change few trials' outcomes. */
#define TRIAL_RECENT 200

static uint32_t trial_recent(const sr_model_t *mdl) {
  return mdl->recent.len < TRIAL_RECENT ? mdl->recent.len : TRIAL_RECENT;
}

/* The k-th latest item of the recent window, k < trial_recent. */
static uint32_t recent_item(const sr_recent_t *rec, uint32_t k) {
  return rec->items[(rec->head + rec->cap - 1 - k) % rec->cap];
}

/* Items of the catalogue a blend trial ranks at most beside the others:
 * all of a catalogue this small, else a slice of one row in every q, each
 * standing for q items. */
#define TRIAL_SLICE 256

/* Candidates a blend trial ranks at most: the co-occurrence neighbours,
 * the latest items of the recent window, the event's item and the slice. */
static size_t trial_entries(const sr_model_t *mdl) {
  return (size_t)mdl->co_max + TRIAL_RECENT + 1 + TRIAL_SLICE;
}

static size_t trial_bytes(const sr_model_t *mdl) {
  return trial_entries(mdl) * 3 * sizeof(uint32_t) +
         (size_t)mdl->co_max *
             (sizeof(uint32_t) + SR_COOC_NORMS * sizeof(float));
}

int sr_recommend_init(sr_model_t *mdl) {
  mdl->batch = sr_model_mem_alloc(mdl, batch_bytes(mdl), 64);
  if (!mdl->batch)
    return -1;
  if (!mdl->cooc_on)
    return 0;
  mdl->co_max = mdl->conf.cooc_recent * mdl->conf.cooc_neighbours;
  mdl->co = sr_model_mem_alloc(mdl, co_bytes(mdl), 0);
  if (!mdl->co)
    return -1;
  if (!mdl->blend.every)
    return 0;
  mdl->trial = sr_model_mem_alloc(mdl, trial_bytes(mdl), 0);
  return mdl->trial ? 0 : -1;
}

void sr_recommend_free(sr_model_t *mdl) {
  sr_model_mem_free(mdl, mdl->batch, batch_bytes(mdl));
  mdl->batch = NULL;
  if (mdl->co)
    sr_model_mem_free(mdl, mdl->co, co_bytes(mdl));
  mdl->co = NULL;
  if (mdl->trial)
    sr_model_mem_free(mdl, mdl->trial, trial_bytes(mdl));
  mdl->trial = NULL;
  sr_model_mem_free(mdl, mdl->excl, (size_t)mdl->excl_cap * sizeof(uint32_t));
  mdl->excl = NULL;
  mdl->excl_cap = 0;
  free_scratch(mdl);
  sr_retrieve_free(mdl);
  sr_rank_free(mdl);
}

/* The co-occurrence scores of a chunk's r-th user; NULL without them. */
static sr_scored_t *co_list(const sr_model_t *mdl, size_t r) {
  return mdl->co ? mdl->co + r * mdl->co_max : NULL;
}

/* The user's co-occurrence scores (core/cooc), in the normalisation and
 * times the weight of the blend in use (core/blend), into out (co_max
 * entries); none when the model has no co-occurrence. Seen items are left
 * out before the scores are divided by their maximum, since they are in no
 * list. */
static uint32_t co_scores(sr_model_t *mdl, uint32_t user, sr_scored_t *out) {
  if (!mdl->cooc_on)
    return 0;
  const sr_model_conf_t *c = &mdl->conf;
  const sr_blend_config_t *bc = sr_blend_leader(&mdl->blend);
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  uint32_t hist[SR_COOC_HIST_MAX];
  uint32_t n_hist = sr_seen_last(&mdl->seen, user, hist, c->cooc_recent);
  uint32_t n =
      sr_cooc_score_norm(&mdl->cooc, bc->norm, hist, n_hist,
                         c->cooc_recent_decay, ring->items, ring->len, out);
  for (uint32_t k = 0; k < n; k++)
    out[k].score *= bc->w_co;
  return n;
}

uint32_t sr_recommend_co_scores(sr_model_t *mdl, uint32_t user,
                                sr_scored_t *out) {
  return co_scores(mdl, user, out);
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

/* Excludes the user's seen ring. */
static void exclude_ring_in(const sr_model_t *mdl, uint32_t user, uint32_t lo,
                            uint32_t count, uint32_t step, float *scores) {
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  for (uint32_t j = 0; j < ring->len; j++)
    exclude_row(scores, ring->items[j], lo, count, step);
}

/* Excludes the user's seen ring and the free item rows. */
static void exclude_seen_in(const sr_model_t *mdl, uint32_t user, uint32_t lo,
                            uint32_t count, uint32_t step, float *scores) {
  exclude_ring_in(mdl, user, lo, count, step, scores);
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

const float *sr_recommend_cold_query(sr_model_t *mdl, uint32_t user) {
  if (!mdl->content.with || !sr_content_user_query(mdl, user, mdl->batch))
    return NULL;
  return mdl->batch;
}

/* A cold user whose few events hit items with content is scored from
 * those items' content: the mean of their content factors takes the place
 * of the user's factors, so the list holds their content neighbours (with
 * the same popularity term as a warm user's). Returns 1 with scores filled
 * (seen items not yet excluded), or 0 when the user has no such item. */
static int content_cold_scores(sr_model_t *mdl, uint32_t user, float *scores) {
  const float *q = sr_recommend_cold_query(mdl, user);
  if (!q)
    return 0;
  sr_topn_score_one(q, &mdl->ifac, mdl->bias, scores);
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

/* Orders a user's co-occurrence scores by the block of ITEM_BLOCK rows
 * their item falls in, each block's entries in the order they had (a
 * stable radix sort, 8 bits of the block a pass, through tmp), so that
 * the pass over the catalogue takes each block's entries from a cursor
 * instead of reading the whole list for every block. The scores of an
 * item named twice are still added in the list's order. */
static void sort_by_block(sr_scored_t *co, uint32_t n, sr_scored_t *tmp,
                          uint32_t blocks) {
  for (uint32_t shift = 0; (blocks - 1) >> shift; shift += 8) {
    uint32_t at[257] = {0};
    for (uint32_t k = 0; k < n; k++)
      at[((co[k].item / ITEM_BLOCK) >> shift & 255u) + 1]++;
    for (uint32_t b = 0; b < 256; b++)
      at[b + 1] += at[b];
    for (uint32_t k = 0; k < n; k++)
      tmp[at[(co[k].item / ITEM_BLOCK) >> shift & 255u]++] = co[k];
    memcpy(co, tmp, n * sizeof(*co));
  }
}

/* Adds the entries of a list sorted by block that fall in the block of
 * count rows from lo, from *next on, to scores; moves *next past them. */
static void add_block_co(const sr_scored_t *co, uint32_t n, uint32_t *next,
                         uint32_t lo, uint32_t count, float *scores) {
  uint32_t k = *next;
  for (; k < n && co[k].item < lo + count; k++)
    scores[co[k].item - lo] += co[k].score;
  *next = k;
}

/* The free item rows: what an exclusion-heavy user may lose from its
 * candidates besides its seen ring and the takedowns. */
static uint32_t count_free(const sr_model_t *mdl) {
  uint32_t n = 0;
  const sr_lru_t *ilru = &mdl->ilru;
  for (uint32_t r = ilru->free_top; r != SR_LRU_NIL; r = ilru->node[r].next)
    n++;
  return n;
}

static int by_row(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* The rows every list leaves out, free rows and items taken down, sorted
 * into mdl->excl, so that the pass over the catalogue takes each block's
 * from a cursor: read for every block and user, a catalogue with thousands
 * of items down spent more time on them than on scoring. Returns their
 * count, or -1 when out of memory. */
static int64_t sorted_exclusions(sr_model_t *mdl) {
  const sr_lru_t *ilru = &mdl->ilru;
  uint32_t n = mdl->n_down + count_free(mdl);
  if (n > mdl->excl_cap) {
    uint32_t cap = n + n / 2 + 64;
    if (sr_model_mem_grow(mdl, (void **)&mdl->excl,
                          (size_t)mdl->excl_cap * sizeof(uint32_t),
                          (size_t)cap * sizeof(uint32_t)) != 0)
      return -1;
    mdl->excl_cap = cap;
  }
  if (mdl->n_down)
    memcpy(mdl->excl, mdl->down, mdl->n_down * sizeof(uint32_t));
  n = mdl->n_down;
  for (uint32_t r = ilru->free_top; r != SR_LRU_NIL; r = ilru->node[r].next)
    mdl->excl[n++] = r;
  if (n > 1)
    qsort(mdl->excl, n, sizeof(uint32_t), by_row);
  return n;
}

/* Lists for up to CHUNK warm users: user_rows[at[r]] gets its list at
 * out + at[r] * n and its length in counts[at[r]]. The items go in blocks
 * of ITEM_BLOCK, one sgemm each, so that the scores of a block are still
 * in cache when the users' heaps take them. */
static void recommend_warm(sr_model_t *mdl, const uint32_t *user_rows,
                           const size_t *at, size_t nrows, size_t n,
                           sr_scored_t *out, size_t *counts) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ufac.stride;
  uint32_t blocks = (items + ITEM_BLOCK - 1) / ITEM_BLOCK;
  uint32_t n_co[CHUNK], next[CHUNK];
  for (size_t r = 0; r < nrows; r++) {
    memcpy(mdl->batch + r * stride,
           sr_factors_row(&mdl->ufac, user_rows[at[r]]),
           stride * sizeof(float));
    n_co[r] = co_scores(mdl, user_rows[at[r]], co_list(mdl, r));
    if (n_co[r])
      sort_by_block(co_list(mdl, r), n_co[r], co_list(mdl, CHUNK), blocks);
    next[r] = 0;
  }
  seed_heaps(mdl, user_rows, at, nrows, n, out, counts, n_co);
  /* Without memory for the sorted exclusions, each block reads them all. */
  int64_t n_excl = sorted_exclusions(mdl);
  uint32_t ex = 0;
  for (uint32_t lo = 0; lo < items; lo += ITEM_BLOCK) {
    uint32_t count = items - lo < ITEM_BLOCK ? items - lo : ITEM_BLOCK;
    const float *bias = mdl->bias ? mdl->bias + lo : NULL;
    uint32_t ex_lo = ex;
    while (ex < n_excl && mdl->excl[ex] < lo + count)
      ex++;
    sr_topn_score_range(mdl->batch, (uint32_t)nrows, &mdl->ifac, lo, count,
                        mdl->scores);
    for (size_t r = 0; r < nrows; r++) {
      float *scores = mdl->scores + r * count;
      add_block_co(co_list(mdl, r), n_co[r], &next[r], lo, count, scores);
      exclude_ring_in(mdl, user_rows[at[r]], lo, count, 1, scores);
      if (n_excl < 0)
        exclude_free_in(mdl, lo, count, 1, scores);
      for (uint32_t k = ex_lo; k < ex; k++)
        scores[mdl->excl[k] - lo] = -INFINITY;
      counts[at[r]] = sr_topn_offer(scores, bias, lo, count, n, out + at[r] * n,
                                    counts[at[r]]);
    }
  }
  for (size_t r = 0; r < nrows; r++) {
    sr_topn_finish(out + at[r] * n, counts[at[r]]);
    shift_scores(mdl, out + at[r] * n, counts[at[r]], 0);
  }
}

/* Candidates the index is asked for: n, as many again so that the
 * re-scoring with live factors can reorder, and one per row the user's
 * exclusions may remove. */
static uint32_t ann_want(const sr_model_t *mdl, uint32_t user, size_t n,
                         uint32_t n_free) {
  size_t want = 2 * n + mdl->seen.rings[user].len + mdl->n_down + n_free;
  return want < SR_ANN_MAX_WANT ? (uint32_t)want : SR_ANN_MAX_WANT;
}

/* Marks a candidate row in mdl->scores (0 plus its co-occurrence score
 * later; -inf once excluded or taken). */
static void mark_rows(float *scores, const uint32_t *rows, uint32_t n) {
  for (uint32_t k = 0; k < n; k++)
    scores[rows[k]] = 0.0f;
}

/* Scores candidate row with the live factors into the candidate list
 * unless it is excluded or listed already. */
static void take_row(sr_model_t *mdl, const float *user, uint32_t row,
                     size_t *len) {
  float *mark = &mdl->scores[row];
  if (*mark == -INFINITY)
    return;
  float s =
      sr_learner_dot(user, sr_factors_row(&mdl->ifac, row), mdl->ifac.stride);
  mdl->ann_cand[(*len)++] =
      (sr_scored_t){row, s + *mark + (mdl->bias ? mdl->bias[row] : 0.0f)};
  *mark = -INFINITY;
}

/* Items in the popularity head every index list also considers. */
#define ANN_HEAD_MAX 256

/* The items of highest additive score now. The index ranks by the scores
 * of its build, and popularity moves fastest of all: an item that turned
 * popular since would be missed until the next build. */
static uint32_t popular_head(const sr_model_t *mdl, size_t n,
                             sr_scored_t *head) {
  size_t want = 4 * n < ANN_HEAD_MAX ? 4 * n : ANN_HEAD_MAX;
  if (!mdl->bias)
    return 0;
  return (uint32_t)sr_topn_select(mdl->bias, NULL, sr_idmap_count(mdl->items),
                                  want, head);
}

/* The r-th user's list from its index candidates (rows, count of them),
 * the popularity head, the rows the index does not cover, and its
 * co-occurrence items, all scored live. Returns the list's length, or -1
 * when out of memory. */
static long ann_list(sr_model_t *mdl, size_t r, uint32_t user,
                     const uint32_t *rows, uint32_t count,
                     const sr_scored_t *head, uint32_t n_head, uint32_t n_co,
                     size_t n, sr_scored_t *out) {
  uint32_t items = sr_idmap_count(mdl->items), n_side;
  const uint32_t *side = sr_ann_side(mdl->ann, &n_side);
  uint32_t built = sr_ann_rows(mdl->ann),
           first_new = built < items ? built : items;
  const sr_scored_t *co = co_list(mdl, r);
  size_t len = 0;
  size_t most = (size_t)count + n_head + n_side + (items - first_new) + n_co;
  if (sr_retrieve_reserve(mdl, most) != 0)
    return -1;
  mark_rows(mdl->scores, rows, count);
  mark_rows(mdl->scores, side, n_side);
  for (uint32_t i = first_new; i < items; i++)
    mdl->scores[i] = 0.0f;
  for (uint32_t k = 0; k < n_co; k++)
    mdl->scores[co[k].item] = 0.0f;
  for (uint32_t k = 0; k < n_head; k++)
    mdl->scores[head[k].item] = 0.0f;
  add_co(co, n_co, 0, items, 1, mdl->scores);
  exclude_seen_in(mdl, user, 0, items, 1, mdl->scores);
  const float *u = mdl->batch + r * mdl->ufac.stride;
  /* The candidates' rows are scattered over a large catalogue: ask for
   * them all before scoring, so that their cache misses overlap. */
  for (uint32_t k = 0; k < count; k++)
    __builtin_prefetch(sr_factors_row(&mdl->ifac, rows[k]));
  for (uint32_t k = 0; k < count; k++)
    take_row(mdl, u, rows[k], &len);
  for (uint32_t k = 0; k < n_side && side[k] < items; k++)
    take_row(mdl, u, side[k], &len);
  for (uint32_t i = first_new; i < items; i++)
    take_row(mdl, u, i, &len);
  for (uint32_t k = 0; k < n_co; k++)
    take_row(mdl, u, co[k].item, &len);
  for (uint32_t k = 0; k < n_head; k++)
    take_row(mdl, u, head[k].item, &len);
  mdl->ann_stats.candidates += len;
  /* Every row built since the index counts as a candidate: after a burst
   * of new items that is much of the catalogue, so the n best are picked
   * rather than all sorted. */
  len = sr_topn_pick(mdl->ann_cand, len, n, out);
  shift_scores(mdl, out, len, 0);
  return (long)len;
}

/* Lists for up to CHUNK warm users from the index, as recommend_warm's
 * are laid out. A user left with fewer than n items while the catalogue
 * holds more than its candidates gets its exact list instead. Returns 0 or
 * -1 when out of memory. */
static int recommend_ann(sr_model_t *mdl, const uint32_t *user_rows,
                         const size_t *at, size_t nrows, size_t n,
                         sr_scored_t *out, size_t *counts) {
  uint32_t stride = mdl->ufac.stride, n_free = count_free(mdl);
  uint32_t n_co[CHUNK], want[CHUNK], got[CHUNK];
  size_t exact_at[CHUNK], n_exact = 0;
  sr_scored_t head[ANN_HEAD_MAX];
  uint32_t n_head = popular_head(mdl, n, head);
  for (size_t r = 0; r < nrows; r++) {
    uint32_t user = user_rows[at[r]];
    memcpy(mdl->batch + r * stride, sr_factors_row(&mdl->ufac, user),
           stride * sizeof(float));
    n_co[r] = co_scores(mdl, user, co_list(mdl, r));
    want[r] = ann_want(mdl, user, n, n_free);
  }
  mdl->ann_stats.scanned +=
      sr_ann_search(mdl->ann, mdl->batch, stride, (uint32_t)nrows,
                    mdl->ann_probe, want, mdl->ann_rows, got);
  for (size_t r = 0; r < nrows; r++) {
    long len =
        ann_list(mdl, r, user_rows[at[r]], mdl->ann_rows + r * SR_ANN_MAX_WANT,
                 got[r], head, n_head, n_co[r], n, out + at[r] * n);
    if (len < 0)
      return -1;
    counts[at[r]] = (size_t)len;
    mdl->ann_stats.lists++;
    if ((size_t)len < n && got[r] < sr_ann_items(mdl->ann))
      exact_at[n_exact++] = at[r];
  }
  mdl->ann_stats.fallbacks += n_exact;
  if (n_exact)
    recommend_warm(mdl, user_rows, exact_at, n_exact, n, out, counts);
  return 0;
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
      if (!mdl->ann)
        recommend_warm(mdl, user_rows, warm_at, nwarm, n, out, counts);
      else if (recommend_ann(mdl, user_rows, warm_at, nwarm, n, out, counts) !=
               0)
        return SR_ERR_NOMEM;
      nwarm = 0;
    }
  }
  return SR_OK;
}

/* Co-occurrence alone: the user's sparse scores, every other item -inf. */
static void score_cooc_alone(sr_model_t *mdl, uint32_t user, float *scores) {
  uint32_t items = sr_idmap_count(mdl->items);
  for (uint32_t i = 0; i < items; i++)
    scores[i] = -INFINITY;
  if (!mdl->cooc_on)
    return;
  uint32_t n = co_scores(mdl, user, mdl->co);
  for (uint32_t k = 0; k < n; k++)
    scores[mdl->co[k].item] = mdl->co[k].score;
}

int sr_model_score_component(sr_model_t *mdl, uint32_t user,
                             sr_component_t comp, float *scores) {
  uint32_t items = sr_idmap_count(mdl->items);
  if (comp == SR_COMPONENT_FACTORS)
    sr_topn_score_one(sr_factors_row(&mdl->ufac, user), &mdl->ifac, NULL,
                      scores);
  else if (comp == SR_COMPONENT_POPULARITY)
    memcpy(scores, mdl->pop.logc, items * sizeof(float));
  else
    score_cooc_alone(mdl, user, scores);
  exclude_seen(mdl, user, scores);
  return 0;
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

/* A blend trial's scratch, carved from mdl->trial: the candidates (item,
 * place in the co-occurrence lists or NONE, items of the catalogue each
 * stands for)
 * and the co-occurrence lists of every normalisation. */
typedef struct trial {
  uint32_t *cand;
  uint32_t *at;
  uint32_t *weight; /* items of the catalogue a candidate stands for */
  uint32_t *co_items;
  float *co;
  uint32_t n;     /* candidates: */
  uint32_t n_co;  /* [0, n_co) neighbours, then the item when not one, */
  uint32_t rec;   /* [rec, slice) recent items, */
  uint32_t slice; /* [slice, n) the slice of the catalogue */
  uint32_t pos;   /* the event's item's place among them */
} trial_t;

#define NONE UINT32_MAX

static trial_t trial_of(const sr_model_t *mdl) {
  size_t n = trial_entries(mdl);
  trial_t t = {0};
  t.cand = mdl->trial;
  t.at = t.cand + n;
  t.weight = t.at + n;
  t.co_items = t.weight + n;
  t.co = (float *)(t.co_items + mdl->co_max);
  return t;
}

/* Lists candidate j once: the first time its mark (NaN in the scores
 * scratch) is seen. */
static void add_candidate(sr_model_t *mdl, trial_t *t, uint32_t j, uint32_t at,
                          uint32_t item, uint32_t weight) {
  float *mark = mdl->scores;
  if (!isnan(mark[j]))
    return;
  mark[j] = 0.0f;
  if (j == item)
    t->pos = t->n;
  t->cand[t->n] = j;
  t->weight[t->n] = weight;
  t->at[t->n++] = at;
}

/* The slice of the catalogue a trial ranks: every item when there are at
 * most TRIAL_SLICE, else one row in every q (*q) from an offset that moves
 * with each trial. Without it, items only the factors rank high would be
 * missing, and blends leaning on co-occurrence would look better than
 * they are. */
static uint32_t slice_start(const sr_model_t *mdl, uint32_t *q) {
  uint32_t items = sr_idmap_count(mdl->items);
  *q = (items + TRIAL_SLICE - 1) / TRIAL_SLICE;
  return *q > 1 ? (uint32_t)(mdl->blend.samples % *q) : 0;
}

/* Candidates whose rows are asked for ahead of their dot product: enough
 * to overlap their misses, few enough for the misses in flight. */
#define TRIAL_AHEAD 8

static void prefetch_candidate(const sr_model_t *mdl, uint32_t j) {
  const char *row = (const char *)sr_factors_row(&mdl->ifac, j);
  for (size_t at = 0; at < mdl->ifac.stride * sizeof(float); at += 64)
    __builtin_prefetch(row + at);
  __builtin_prefetch(&mdl->bias[j]);
}

/* Candidate k's score by the factors and the per-item bias, as every list
 * scores it before co-occurrence is added. */
static float candidate_base(const sr_model_t *mdl, const trial_t *t,
                            const float *urow, uint32_t k) {
  uint32_t j = t->cand[k];
  return sr_learner_dot(urow, sr_factors_row(&mdl->ifac, j), mdl->ifac.stride) +
         mdl->bias[j];
}

/* Lists the candidates a trial ranks: the co-occurrence neighbours of the
 * user's latest items, the items of the latest events (what popularity
 * puts on top of lists), item and the slice of the catalogue; the user's seen
 * items and items in no list are left out. 0 when item is itself left out. */
static int list_candidates(sr_model_t *mdl, uint32_t user, uint32_t item,
                           trial_t *t, uint32_t n_co) {
  const sr_recent_t *rec = &mdl->recent;
  float *mark = mdl->scores;
  uint32_t n_rec = trial_recent(mdl), items = sr_idmap_count(mdl->items), q;
  uint32_t from = slice_start(mdl, &q);
  for (uint32_t k = 0; k < n_co; k++)
    mark[t->co_items[k]] = NAN;
  for (uint32_t k = 0; k < n_rec; k++)
    mark[recent_item(rec, k)] = NAN;
  for (uint32_t j = from; j < items; j += q)
    mark[j] = NAN;
  mark[item] = NAN;
  exclude_seen(mdl, user, mark);
  if (!isnan(mark[item]))
    return 0;
  t->n = 0;
  for (uint32_t k = 0; k < n_co; k++)
    add_candidate(mdl, t, t->co_items[k], k, item, 1);
  t->n_co = t->n;
  add_candidate(mdl, t, item, NONE, item, 1);
  t->rec = t->n;
  for (uint32_t k = 0; k < n_rec; k++)
    add_candidate(mdl, t, recent_item(rec, k), NONE, item, 1);
  t->slice = t->n;
  for (uint32_t j = from; j < items; j += q)
    add_candidate(mdl, t, j, NONE, item, q);
  return 1;
}

/* Each blend's view of a trial: the item's score, and how many items of
 * the catalogue rank above it so far. */
typedef struct trial_blend {
  const float *co; /* co-occurrence scores of the blend's normalisation */
  float w_co;
  float s_item;
  uint32_t above;
} trial_blend_t;

/* Counts candidate k (base score s) against blend b's item: candidates
 * rank by score, ties by lower row first, as every list orders them.
 * Returns 1 when the blend has just missed (n or more above the item). */
static int count_above(const trial_t *t, trial_blend_t *b, uint32_t k, float s,
                       uint32_t n) {
  uint32_t item = t->cand[t->pos];
  if (t->at[k] != NONE)
    s += b->w_co * b->co[t->at[k]];
  b->above += t->weight[k] *
              ((s > b->s_item) | ((s == b->s_item) & (t->cand[k] < item)));
  return b->above >= n;
}

/* Counts the candidates [lo, hi) against every blend still live, until
 * none is: their dot products, asked for TRIAL_AHEAD ahead, are most of a
 * trial's cost. Returns the blends still live. */
static uint32_t count_range(const sr_model_t *mdl, const trial_t *t,
                            const float *urow, trial_blend_t *tb, uint32_t live,
                            uint32_t lo, uint32_t hi) {
  const sr_blend_t *bl = &mdl->blend;
  for (uint32_t k = lo; k < hi && k < lo + TRIAL_AHEAD; k++)
    prefetch_candidate(mdl, t->cand[k]);
  for (uint32_t k = lo; k < hi && live > 0; k++) {
    if (k + TRIAL_AHEAD < hi)
      prefetch_candidate(mdl, t->cand[k + TRIAL_AHEAD]);
    float s = candidate_base(mdl, t, urow, k);
    for (uint32_t c = 0; c < bl->n; c++)
      if (tb[c].above < bl->top_n)
        live -= (uint32_t)count_above(t, &tb[c], k, s, bl->top_n);
  }
  return live;
}

/* hit[c] = 1 when blend c ranks the trial's item among the first n of the
 * catalogue. A blend with n above has missed whatever follows, and once
 * every blend has, the other candidates' dot products are left out: the
 * outcome is that of counting every candidate. The candidates most likely
 * above the item go first: the recent items, on top of lists by
 * popularity and in cache from being learned, then the slice, each
 * standing for q items, then the neighbours. */
static void trial_hits(const sr_model_t *mdl, const trial_t *t, uint32_t user,
                       uint8_t *hit) {
  const sr_blend_t *bl = &mdl->blend;
  const float *urow = sr_factors_row(&mdl->ufac, user);
  trial_blend_t tb[SR_BLEND_MAX];
  float s_item = candidate_base(mdl, t, urow, t->pos);
  for (uint32_t c = 0; c < bl->n; c++) {
    tb[c] = (trial_blend_t){t->co + (size_t)bl->config[c].norm * mdl->co_max,
                            bl->config[c].w_co, s_item, 0};
    if (t->at[t->pos] != NONE)
      tb[c].s_item += tb[c].w_co * tb[c].co[t->at[t->pos]];
  }
  uint32_t live = count_range(mdl, t, urow, tb, bl->n, t->rec, t->slice);
  live = count_range(mdl, t, urow, tb, live, t->slice, t->n);
  count_range(mdl, t, urow, tb, live, 0, t->n_co);
  for (uint32_t c = 0; c < bl->n; c++)
    hit[c] = tb[c].above < bl->top_n;
}

/* The user's latest items, which co-occurrence scores from. */
typedef struct trial_hist {
  uint32_t items[SR_COOC_HIST_MAX];
  uint32_t n;
} trial_hist_t;

/* Counts candidate k against every blend still live by its base score s,
 * a lower bound of its score in any blend (co-occurrence only adds). A
 * slice item near the user's latest items stands for itself alone (it is
 * listed as a neighbour when they are scored). Returns the blends still
 * live. */
static uint32_t count_lower(const sr_model_t *mdl, const trial_t *t,
                            const trial_hist_t *h, trial_blend_t *tb,
                            uint32_t live, uint32_t k, float s) {
  const sr_blend_t *bl = &mdl->blend;
  uint32_t item = t->cand[t->pos], j = t->cand[k], weight = 0;
  for (uint32_t c = 0; c < bl->n; c++) {
    trial_blend_t *b = &tb[c];
    if (b->above >= bl->top_n ||
        !((s > b->s_item) | ((s == b->s_item) & (j < item))))
      continue;
    if (weight == 0)
      weight = t->weight[k] > 1 && sr_cooc_near(&mdl->cooc, h->items, h->n, j)
                   ? 1
                   : t->weight[k];
    b->above += weight;
    live -= b->above >= bl->top_n;
  }
  return live;
}

/* A trial whose item has no co-occurrence score in any blend: its score
 * is its base score in all of them. Most such items miss in every blend,
 * and base scores alone, of the recent items and the slice, show it: then
 * the neighbours' scores are never computed. Returns 0 when the item is
 * left out (no trial), 1 with hit filled when every blend missed, 2 when
 * that is not shown. */
static int trial_without_cooc(sr_model_t *mdl, uint32_t user, uint32_t item,
                              const trial_hist_t *h, uint8_t *hit) {
  const sr_blend_t *bl = &mdl->blend;
  trial_t t = trial_of(mdl);
  if (!list_candidates(mdl, user, item, &t, 0))
    return 0;
  const float *urow = sr_factors_row(&mdl->ufac, user);
  trial_blend_t tb[SR_BLEND_MAX];
  float s_item = candidate_base(mdl, &t, urow, t.pos);
  for (uint32_t c = 0; c < bl->n; c++)
    tb[c] = (trial_blend_t){NULL, 0.0f, s_item, 0};
  uint32_t live = bl->n;
  for (uint32_t k = t.rec; k < t.n && k < t.rec + TRIAL_AHEAD; k++)
    prefetch_candidate(mdl, t.cand[k]);
  for (uint32_t k = t.rec; k < t.n && live > 0; k++) {
    if (k + TRIAL_AHEAD < t.n)
      prefetch_candidate(mdl, t.cand[k + TRIAL_AHEAD]);
    live =
        count_lower(mdl, &t, h, tb, live, k, candidate_base(mdl, &t, urow, k));
  }
  if (live > 0)
    return 2;
  memset(hit, 0, bl->n);
  return 1;
}

int sr_recommend_try_blends(sr_model_t *mdl, uint32_t user, uint32_t item,
                            uint8_t *hit) {
  const sr_model_conf_t *c = &mdl->conf;
  if (!mdl->trial || is_cold(mdl, user) || mdl->uevents[user] == 0 ||
      sr_popular_count(&mdl->pop, item) <= 0)
    return 0;
  if (ensure_scratch(mdl) != 0)
    return -1;
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  trial_hist_t h;
  h.n = sr_seen_last(&mdl->seen, user, h.items, c->cooc_recent);
  if (!sr_cooc_scores_item(&mdl->cooc, h.items, h.n, c->cooc_recent_decay,
                           item)) {
    int rc = trial_without_cooc(mdl, user, item, &h, hit);
    if (rc < 2)
      return rc;
  }
  trial_t t = trial_of(mdl);
  uint32_t n_co =
      sr_cooc_score_all(&mdl->cooc, h.items, h.n, c->cooc_recent_decay,
                        ring->items, ring->len, t.co_items, t.co, mdl->co_max);
  if (!list_candidates(mdl, user, item, &t, n_co))
    return 0;
  trial_hits(mdl, &t, user, hit);
  return 1;
}
