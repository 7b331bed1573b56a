/* The content learner; see content.h. */
#include "core/content.h"

#include "core/model_internal.h"
#include "core/recommend.h"
#include "core/rng.h"

#include <cblas.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PROJ 1
#endif

/* Rows a refresh looks at per event at most, so that a catalogue of warm
 * items costs a short walk per event. */
#define REFRESH_SCAN 16

static size_t item_bytes(const sr_content_item_t *ic) {
  return sr_content_size(ic->n_tok, ic->n_emb);
}

static const float *emb_of(const sr_content_item_t *ic) {
  return (const float *)(ic->data + ic->n_tok);
}

/* Chunks of the content factors: a chunk of CHUNK rows exists once one
 * of its rows has content, so that a catalogue mostly without content
 * does not pay a factor's worth of memory for every item. */
#define CHUNK 64

static uint32_t chunks_for(uint32_t rows) {
  return (rows + CHUNK - 1) / CHUNK;
}

/* The content factor of item row r as last computed; the row must have
 * content (its chunk exists). */
static float *cache_of(const sr_content_t *ct, uint32_t r) {
  return ct->chunk[r / CHUNK] + (size_t)(r % CHUNK) * ct->stride;
}

/* Multiply-adds of one content factor of item row r: what the budget
 * counts. Read from words, not the block, which the event path would
 * otherwise fetch only for its size. */
static uint64_t cost_of(const sr_content_t *ct, uint32_t r) {
  return (uint64_t)ct->words[r] * ct->stride;
}

/* Asks the cache for the row of n floats at p ahead of its use. */
static void prefetch_row(const float *p, uint32_t n) {
#if defined(__GNUC__)
  for (size_t b = 0; b < (size_t)n * sizeof(float); b += 64)
    __builtin_prefetch((const char *)p + b);
#else
  (void)p;
  (void)n;
#endif
}

static size_t tok_bytes(const sr_content_t *ct) {
  return (size_t)ct->buckets * ct->stride * sizeof(float);
}

static size_t proj_bytes(const sr_content_t *ct) {
  return (size_t)ct->dims * ct->stride * sizeof(float);
}

static size_t cache_bytes(const sr_content_t *ct, uint32_t rows) {
  return (size_t)rows * ct->stride * sizeof(float);
}

/* Makes the chunk of row r exist. Returns 0 or -1. */
static int chunk_for(sr_model_t *mdl, uint32_t r) {
  sr_content_t *ct = &mdl->content;
  float **c = &ct->chunk[r / CHUNK];
  if (*c)
    return 0;
  /* 64-byte aligned like the factors: 4 lines a row. */
  *c = sr_model_mem_alloc(mdl, cache_bytes(ct, CHUNK), 64);
  if (!*c)
    return -1;
  memset(*c, 0, cache_bytes(ct, CHUNK));
  return 0;
}

/* Interactions after which an item trains the tables and blends no more. */
static uint32_t warm_at(const sr_model_t *mdl) {
  return mdl->conf.cold_item_events ? mdl->conf.cold_item_events : 1;
}

void sr_content_free(sr_model_t *mdl) {
  sr_content_t *ct = &mdl->content;
  for (uint32_t r = 0; ct->item && r < ct->cap; r++)
    if (ct->item[r])
      sr_model_mem_free(mdl, ct->item[r], item_bytes(ct->item[r]));
  sr_model_mem_free(mdl, ct->item, (size_t)ct->cap * sizeof(*ct->item));
  sr_model_mem_free(mdl, ct->ievents, (size_t)ct->cap * sizeof(*ct->ievents));
  sr_model_mem_free(mdl, ct->words, (size_t)ct->cap * sizeof(*ct->words));
  for (uint32_t c = 0; ct->chunk && c < chunks_for(ct->cap); c++)
    sr_model_mem_free(mdl, ct->chunk[c], cache_bytes(ct, CHUNK));
  sr_model_mem_free(mdl, ct->chunk, chunks_for(ct->cap) * sizeof(*ct->chunk));
  sr_model_mem_free(mdl, ct->tok, tok_bytes(ct));
  sr_model_mem_free(mdl, ct->proj, proj_bytes(ct));
  sr_model_mem_free(mdl, ct->c, ct->stride * sizeof(float));
  sr_model_mem_free(mdl, ct->sketch,
                    (size_t)ct->rows * ct->raw * sizeof(float));
  sr_model_mem_free(mdl, ct->reduced, (size_t)ct->rows * sizeof(float));
  memset(ct, 0, sizeof(*ct));
}

/* Makes the per-item arrays hold every item row, all or none of them, so
 * that cap stays the size of each. Items that were in the model before
 * content came count as warm: their factors are their own. */
static int grow(sr_model_t *mdl) {
  sr_content_t *ct = &mdl->content;
  uint32_t old = ct->cap, cap = mdl->icap;
  if (cap <= old)
    return 0;
  void **arr[] = {(void **)&ct->item, (void **)&ct->ievents,
                  (void **)&ct->words, (void **)&ct->chunk};
  const size_t was[] = {old * sizeof(*ct->item), old * sizeof(*ct->ievents),
                        old * sizeof(*ct->words),
                        chunks_for(old) * sizeof(*ct->chunk)},
               now[] = {cap * sizeof(*ct->item), cap * sizeof(*ct->ievents),
                        cap * sizeof(*ct->words),
                        chunks_for(cap) * sizeof(*ct->chunk)};
  void *fresh[4];
  for (size_t a = 0; a < 4; a++) {
    fresh[a] = sr_model_mem_alloc(mdl, now[a], 0);
    if (!fresh[a]) {
      while (a-- > 0)
        sr_model_mem_free(mdl, fresh[a], now[a]);
      return -1;
    }
  }
  for (size_t a = 0; a < 4; a++) {
    if (was[a])
      memcpy(fresh[a], *arr[a], was[a]);
    memset((char *)fresh[a] + was[a], 0, now[a] - was[a]);
    sr_model_mem_free(mdl, *arr[a], was[a]);
    *arr[a] = fresh[a];
  }
  ct->cap = cap;
  return 0;
}

static int pick_avx2(uint32_t stride);

/* Turns the module on at the first content. */
static int turn_on(sr_model_t *mdl) {
  sr_content_t *ct = &mdl->content;
  if (ct->on)
    return grow(mdl);
  ct->stride = mdl->ifac.stride;
  ct->avx2 = pick_avx2(ct->stride);
  ct->buckets = mdl->conf.content_buckets;
  ct->c = sr_model_mem_alloc(mdl, ct->stride * sizeof(float), 64);
  if (!ct->c || grow(mdl) != 0)
    return -1;
  uint32_t items = sr_idmap_count(mdl->items);
  for (uint32_t r = 0; r < items; r++)
    ct->ievents[r] = warm_at(mdl);
  ct->on = 1;
  return 0;
}

static void axpy(float a, const float *x, float *y, uint32_t n) {
  for (uint32_t k = 0; k < n; k++)
    y[k] += a * x[k];
}

/* The content factor and the learning step by AVX2, where the stride is
 * a multiple of 8 floats and at most 64: the factor (or the error) stays
 * in registers across every token row and projection row, each read once
 * (and written once by the step). OpenBLAS spent most of the rank-one step
 * in one axpy call per 64-float row, and the scalar sums of the token rows
 * read and wrote the factor once per row. */
#ifdef HAVE_AVX2_PROJ
enum { AVX2_REGS = 8 }; /* 8 x 8 floats: a row of up to 64 in registers */

/* out = sum of token rows / sqrt(tokens) + P^T e, as factor_of. */
__attribute__((target("avx2,fma"))) static void
factor_avx2(const sr_content_t *ct, const sr_content_item_t *ic, float *out) {
  __m256 acc[AVX2_REGS];
  uint32_t s = ct->stride, n = s / 8;
  for (uint32_t j = 0; j < n; j++)
    acc[j] = _mm256_setzero_ps();
  __m256 w = _mm256_set1_ps(ic->n_tok ? 1.0f / sqrtf((float)ic->n_tok) : 0);
  for (uint32_t t = 0; t < ic->n_tok; t++) {
    const float *row = ct->tok + (size_t)ic->data[t] * s;
    for (uint32_t j = 0; j < n; j++)
      acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 8 * j), acc[j]);
  }
  const float *e = emb_of(ic);
  for (uint32_t d = 0; d < ic->n_emb; d++) {
    const float *row = ct->proj + (size_t)d * s;
    w = _mm256_set1_ps(e[d]);
    for (uint32_t j = 0; j < n; j++)
      acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 8 * j), acc[j]);
  }
  for (uint32_t j = 0; j < n; j++)
    _mm256_storeu_ps(out + 8 * j, acc[j]);
}

/* row += a x[r] err for the token rows (x NULL: weight 1), or for the
 * projection's rows (idx NULL: rows 0 .. rows-1 of base). */
__attribute__((target("avx2,fma"))) static void
step_avx2(float *base, const uint32_t *idx, const float *x, uint32_t rows,
          uint32_t s, float a, const float *err) {
  __m256 v[AVX2_REGS];
  uint32_t n = s / 8;
  for (uint32_t j = 0; j < n; j++)
    v[j] = _mm256_loadu_ps(err + 8 * j);
  for (uint32_t r = 0; r < rows; r++) {
    float *row = base + (size_t)(idx ? idx[r] : r) * s;
    __m256 w = _mm256_set1_ps(x ? a * x[r] : a);
    for (uint32_t j = 0; j < n; j++)
      _mm256_storeu_ps(row + 8 * j,
                       _mm256_fmadd_ps(w, v[j], _mm256_loadu_ps(row + 8 * j)));
  }
}
#endif

/* Whether the AVX2 kernels serve this CPU and stride. */
static int pick_avx2(uint32_t stride) {
#ifdef HAVE_AVX2_PROJ
  return stride % 8 == 0 && stride <= 8 * AVX2_REGS &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  (void)stride;
  return 0;
#endif
}

/* c = sum of token rows / sqrt(tokens) + P^T e. */
static void factor_of(const sr_content_t *ct, const sr_content_item_t *ic,
                      float *out) {
  uint32_t s = ct->stride;
  /* The token rows are scattered over a table far larger than the cache:
   * asking for all of them first overlaps their misses, where the sums
   * below would wait for one row after another. */
  for (uint32_t t = 0; t < ic->n_tok; t++)
    prefetch_row(ct->tok + (size_t)ic->data[t] * s, s);
#ifdef HAVE_AVX2_PROJ
  if (ct->avx2) {
    factor_avx2(ct, ic, out);
    return;
  }
#endif
  memset(out, 0, s * sizeof(float));
  if (ic->n_tok) {
    float scale = 1.0f / sqrtf((float)ic->n_tok);
    for (uint32_t t = 0; t < ic->n_tok; t++)
      axpy(scale, ct->tok + (size_t)ic->data[t] * s, out, s);
  }
  /* P^T e in one sgemv: a dims x stride matrix read once, where a loop
   * of axpy steps would read and write out once per embedding value. */
  if (ic->n_emb)
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)ic->n_emb, (int)s, 1.0f,
                ct->proj, (int)s, emb_of(ic), 1, 1.0f, out, 1);
}

int sr_content_factor(const sr_model_t *mdl, uint32_t row, float *out) {
  const sr_content_t *ct = &mdl->content;
  if (!ct->on || row >= ct->cap || !ct->item[row]) {
    memset(out, 0, mdl->ifac.stride * sizeof(float));
    return 0;
  }
  factor_of(ct, ct->item[row], out);
  return 1;
}

int sr_content_has(const sr_model_t *mdl, uint32_t row) {
  const sr_content_t *ct = &mdl->content;
  return ct->on && row < ct->cap && ct->item[row] != NULL;
}

/* One normalised LMS step of the tables towards the item's factor: the
 * token part's input has unit length (each token 1 / sqrt(tokens)) and so
 * has the embedding, and the step is divided by the squared length of the
 * whole input (1, or 2 with both), so that one rate moves the content
 * factor by rate x error whatever the item has: stable below 2, where a
 * step not divided diverged from 1 for items with both. */
static void train(sr_model_t *mdl, uint32_t row) {
  sr_content_t *ct = &mdl->content;
  const sr_content_item_t *ic = ct->item[row];
  uint32_t s = ct->stride;
  float *err = ct->c, lr = mdl->conf.content_learn_rate;
  if (ic->n_tok && ic->n_emb)
    lr *= 0.5f;
  float *c = cache_of(ct, row);
  factor_of(ct, ic, c);
  const float *v = sr_factors_row(&mdl->ifac, row);
  for (uint32_t k = 0; k < s; k++)
    err[k] = v[k] - c[k];
  float step = ic->n_tok ? lr / sqrtf((float)ic->n_tok) : 0;
#ifdef HAVE_AVX2_PROJ
  if (ct->avx2) {
    step_avx2(ct->tok, ic->data, NULL, ic->n_tok, s, step, err);
    step_avx2(ct->proj, NULL, emb_of(ic), ic->n_emb, s, lr, err);
    return;
  }
#endif
  for (uint32_t t = 0; t < ic->n_tok; t++)
    axpy(step, err, ct->tok + (size_t)ic->data[t] * s, s);
  /* P += lr e err^T, the rank-one step as one sger. */
  if (ic->n_emb)
    cblas_sger(CblasRowMajor, (int)ic->n_emb, (int)s, lr, emb_of(ic), 1, err, 1,
               ct->proj, (int)s);
}

/* v = w c + (1 - w) v, w = 1 - events / cold_item_events: a cold item's
 * factor leans on its content, the more the fewer events it has. */
static void blend(sr_model_t *mdl, uint32_t row) {
  sr_content_t *ct = &mdl->content;
  uint32_t n = ct->ievents[row], cold = mdl->conf.cold_item_events;
  if (n >= cold && n > 0)
    return;
  float w = cold ? 1.0f - (float)n / (float)cold : 1.0f;
  const float *c = cache_of(ct, row);
  float *v = sr_factors_row(&mdl->ifac, row);
  for (uint32_t k = 0; k < ct->stride; k++)
    v[k] = w * c[k] + (1.0f - w) * v[k];
  sr_share_mark_item(mdl, row);
}

/* An item with content and no interactions holds content_prior events of
 * popularity, so that it can enter lists before anyone has met it. */
static void prior(sr_model_t *mdl, uint32_t row) {
  float p = mdl->conf.content_prior;
  if (p <= 0 || mdl->content.ievents[row] != 0)
    return;
  double now = sr_popular_count(&mdl->pop, row);
  if (now == (double)p)
    return;
  sr_popular_merge(&mdl->pop, row, (double)p - now);
  sr_recommend_update_bias(mdl, row, 0);
}

/* Brings up to n cold items' content factors up to date with the tables
 * and blends their factors with them, while the refresh credit lasts: the
 * cursor waits at a cold item until the credit allows. Blending an item
 * again with a content factor that has not moved would only pull it
 * further towards its content, and its two rows, read at random on every
 * event, cost the event path about 4%. */
static void refresh(sr_model_t *mdl, uint32_t n) {
  sr_content_t *ct = &mdl->content;
  uint32_t items = sr_idmap_count(mdl->items);
  if (!items || !ct->with)
    return;
  for (uint32_t scan = 0; n > 0 && scan < REFRESH_SCAN; scan++) {
    uint32_t r = ct->cursor;
    sr_content_item_t *ic = ct->item[r];
    if (ic && ct->ievents[r] < warm_at(mdl)) {
      if (ct->rcredit < (int64_t)cost_of(ct, r))
        break;
      ct->rcredit -= (int64_t)cost_of(ct, r);
      factor_of(ct, ic, cache_of(ct, r));
      blend(mdl, r);
      prior(mdl, r);
      n--;
    }
    ct->cursor = r + 1 >= items ? 0 : r + 1;
  }
}

/* Starts fetching the rows the next event's refresh will use first (its
 * cold item's content factor, factor and block), which are as good as
 * random to the cache, so that they arrive while the learner works. */
static void prefetch_next(const sr_model_t *mdl) {
  const sr_content_t *ct = &mdl->content;
  uint32_t items = sr_idmap_count(mdl->items), r = ct->cursor;
  if (!mdl->conf.content_refresh || !items || !ct->with)
    return;
  for (uint32_t scan = 0; scan < REFRESH_SCAN; scan++) {
    if (ct->item[r] && ct->ievents[r] < warm_at(mdl)) {
      /* Only when the credit will allow its refresh; its block too, which
       * would otherwise arrive line by line. */
      int64_t next =
          ct->rcredit + mdl->conf.content_budget - mdl->conf.content_budget / 2;
      if (next < (int64_t)cost_of(ct, r))
        return;
      prefetch_row(cache_of(ct, r), ct->stride);
      sr_factors_prefetch(&mdl->ifac, r);
      prefetch_row((const float *)ct->item[r], ct->words[r] + 1);
      return;
    }
    r = r + 1 >= items ? 0 : r + 1;
  }
}

/* Credit of the learner: content_budget multiply-adds per event, saved
 * up to a bound so that a quiet spell cannot buy a long stall later. */
static void earn(sr_model_t *mdl) {
  sr_content_t *ct = &mdl->content;
  int64_t cap = (int64_t)mdl->conf.content_budget * 64;
  /* Half for learning steps, half for refreshes: either alone would
   * starve the other (refreshes from tables that never learn are worth
   * nothing, and tables that learn help no cold item until it is
   * refreshed). */
  ct->credit += mdl->conf.content_budget / 2;
  ct->rcredit += mdl->conf.content_budget - mdl->conf.content_budget / 2;
  if (ct->credit > cap)
    ct->credit = cap;
  if (ct->rcredit > cap)
    ct->rcredit = cap;
}

/* A user with few events leans on the content of what it met: its factor
 * moves towards the item's content factor, by content_user_pull for its
 * first event and less with each one after, none from cold_item_events on.
 * A new user's factor is noise; its first items' content is not. */
static void pull_user(sr_model_t *mdl, uint32_t u, uint32_t i) {
  sr_content_t *ct = &mdl->content;
  uint32_t n = mdl->uevents[u], cold = warm_at(mdl);
  float pull = mdl->conf.content_user_pull;
  if (pull <= 0 || n >= cold)
    return;
  float w = pull * (1.0f - (float)n / (float)cold);
  const float *c = cache_of(ct, i);
  float *v = sr_factors_row(&mdl->ufac, u);
  for (uint32_t k = 0; k < ct->stride; k++)
    v[k] = w * c[k] + (1.0f - w) * v[k];
}

int sr_content_event(sr_model_t *mdl, uint32_t u, uint32_t i, int positive) {
  sr_content_t *ct = &mdl->content;
  if (grow(mdl) != 0)
    return -1;
  /* Everything below waits on the item's entries, its content factor and
   * the user's count, none of them likely cached: ask for all at once. */
  if (ct->chunk[i / CHUNK])
    prefetch_row(cache_of(ct, i), ct->stride);
  prefetch_row((const float *)&ct->item[i], 1);
  prefetch_row((const float *)&ct->words[i], 1);
  prefetch_row((const float *)&mdl->uevents[u], 1);
  int cold = positive && ct->ievents[i] < warm_at(mdl);
  ct->ievents[i] += cold;
  sr_content_item_t *ic = ct->item[i];
  if (!ic)
    return 0;
  earn(mdl);
  if (cold) {
    /* A cold item's own event sees its content factor as the tables have
     * it now when the credit allows, before anything else spends it. */
    if (ct->rcredit >= (int64_t)cost_of(ct, i)) {
      factor_of(ct, ic, cache_of(ct, i));
      ct->rcredit -= (int64_t)cost_of(ct, i);
    }
    blend(mdl, i);
  }
  if (positive)
    pull_user(mdl, u, i);
  int64_t step = 2 * (int64_t)cost_of(ct, i);
  if (ct->ievents[i] >= warm_at(mdl) && ct->credit >= step) {
    ct->credit -= step;
    train(mdl, i);
  }
  refresh(mdl, mdl->conf.content_refresh);
  prefetch_next(mdl);
  return 0;
}

static void drop(sr_model_t *mdl, uint32_t row) {
  sr_content_t *ct = &mdl->content;
  if (!ct->item[row])
    return;
  sr_model_mem_free(mdl, ct->item[row], item_bytes(ct->item[row]));
  ct->item[row] = NULL;
  ct->words[row] = 0;
  ct->with--;
}

void sr_content_forget(sr_model_t *mdl, uint32_t row) {
  sr_content_t *ct = &mdl->content;
  if (!ct->on || row >= ct->cap)
    return;
  drop(mdl, row);
  ct->ievents[row] = 0;
}

uint32_t sr_content_user_query(sr_model_t *mdl, uint32_t user, float *q) {
  sr_content_t *ct = &mdl->content;
  if (!ct->with || user >= mdl->seen.users)
    return 0;
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  uint32_t found = 0, s = ct->stride;
  for (uint32_t j = 0; j < ring->len; j++) {
    uint32_t r = ring->items[j];
    if (r >= ct->cap || !ct->item[r])
      continue;
    if (!found)
      memset(q, 0, s * sizeof(float));
    axpy(1.0f, cache_of(ct, r), q, s);
    found++;
  }
  for (uint32_t k = 0; found && k < s; k++)
    q[k] /= (float)found;
  return found;
}

/* The reduction of embeddings of raw floats to rows: a fixed matrix of
 * +-1, entry (j, d) the low bit of splitmix64 of j x raw + d, so that
 * every instance and every restart reduces alike without storing it. A
 * random projection keeps the lengths and angles of the embeddings within
 * a few tenths at 64 rows (Johnson-Lindenstrauss), where the learned
 * matrix, a sixth the size for a 384-float embedding, learns from a
 * sixth the multiply-adds a step. Returns 0 or -1. */
static int sketch_make(sr_model_t *mdl, uint32_t raw, uint32_t rows) {
  sr_content_t *ct = &mdl->content;
  size_t n = (size_t)rows * raw;
  ct->sketch = sr_model_mem_alloc(mdl, n * sizeof(float), 0);
  ct->reduced = sr_model_mem_alloc(mdl, rows * sizeof(float), 0);
  if (!ct->sketch || !ct->reduced) {
    sr_model_mem_free(mdl, ct->sketch, n * sizeof(float));
    sr_model_mem_free(mdl, ct->reduced, rows * sizeof(float));
    ct->sketch = ct->reduced = NULL;
    return -1;
  }
  for (size_t k = 0; k < n; k++)
    ct->sketch[k] = (sr_splitmix64(k) & 1) ? 1.0f : -1.0f;
  ct->raw = raw;
  ct->rows = rows;
  return 0;
}

/* At the model's first embedding, of n floats: whether embeddings are
 * reduced (model.content_sketch), for good. Returns 0 or -1. */
static int sketch_choose(sr_model_t *mdl, uint32_t n) {
  uint32_t rows = mdl->conf.content_sketch;
  if (rows && n > rows)
    return sketch_make(mdl, n, rows);
  mdl->content.raw = n;
  return 0;
}

/* The embedding as the learner sees it: reduced into ct->reduced when
 * embeddings are reduced, else emb itself; *n becomes its length. */
static const float *sketch_apply(sr_content_t *ct, const float *emb,
                                 size_t *n) {
  if (!ct->sketch || !*n)
    return emb;
  cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ct->rows, (int)ct->raw, 1.0f,
              ct->sketch, (int)ct->raw, emb, 1, 0.0f, ct->reduced, 1);
  *n = ct->rows;
  return ct->reduced;
}

/* The item's content block: tokens hashed to buckets, the embedding
 * scaled to unit length (a zero vector stays zero). NULL when out of
 * memory. */
static sr_content_item_t *make_block(sr_model_t *mdl, const char *const *feat,
                                     const size_t *feat_len, size_t n_feat,
                                     const float *emb, size_t n_emb) {
  size_t bytes = sr_content_size((uint32_t)n_feat, (uint32_t)n_emb);
  sr_content_item_t *ic = sr_model_mem_alloc(mdl, bytes, 0);
  if (!ic)
    return NULL;
  ic->n_tok = (uint32_t)n_feat;
  ic->n_emb = (uint32_t)n_emb;
  for (size_t t = 0; t < n_feat; t++)
    ic->data[t] = (uint32_t)(XXH3_64bits(feat[t], feat_len[t]) %
                             mdl->conf.content_buckets);
  /* Four partial sums in a fixed order: the same norm on every machine,
   * without a chain of dependent additions as long as the embedding. */
  double part[4] = {0, 0, 0, 0}, norm;
  size_t d = 0;
  for (; d + 4 <= n_emb; d += 4)
    for (size_t j = 0; j < 4; j++)
      part[j] += (double)emb[d + j] * emb[d + j];
  for (; d < n_emb; d++)
    part[0] += (double)emb[d] * emb[d];
  norm = (part[0] + part[1]) + (part[2] + part[3]);
  float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
  float *e = (float *)(ic->data + n_feat);
  for (d = 0; d < n_emb; d++)
    e[d] = emb[d] * inv;
  return ic;
}

/* Allocates the token table or the projection the block needs. */
static int tables_for(sr_model_t *mdl, const sr_content_item_t *ic) {
  sr_content_t *ct = &mdl->content;
  if (ic->n_tok && !ct->tok) {
    ct->tok = sr_model_mem_alloc(mdl, tok_bytes(ct), 64);
    if (!ct->tok)
      return -1;
    memset(ct->tok, 0, tok_bytes(ct));
  }
  if (ic->n_emb && !ct->proj) {
    ct->dims = ic->n_emb;
    ct->proj = sr_model_mem_alloc(mdl, proj_bytes(ct), 64);
    if (!ct->proj) {
      ct->dims = 0;
      return -1;
    }
    memset(ct->proj, 0, proj_bytes(ct));
  }
  return 0;
}

/* A new item (no interactions) starts at its content factor. */
static void start(sr_model_t *mdl, uint32_t row) {
  sr_content_t *ct = &mdl->content;
  if (ct->ievents[row] != 0)
    return;
  memcpy(sr_factors_row(&mdl->ifac, row), cache_of(ct, row),
         ct->stride * sizeof(float));
  sr_share_mark_item(mdl, row);
  prior(mdl, row);
}

static sr_err_t clear_content(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->items, id, len);
  if (row >= 0 && mdl->content.on && (uint32_t)row < mdl->content.cap)
    drop(mdl, (uint32_t)row);
  return SR_OK;
}

sr_err_t sr_model_set_content(sr_model_t *mdl, const char *id, size_t len,
                              const char *const *feat, const size_t *feat_len,
                              size_t n_feat, const float *emb, size_t n_emb) {
  sr_content_t *ct = &mdl->content;
  if (n_feat == 0 && n_emb == 0)
    return clear_content(mdl, id, len);
  if (n_emb && ct->raw && n_emb != ct->raw)
    return SR_ERR_INVALID;
  if (n_feat > UINT32_MAX / 2 || n_emb > UINT32_MAX / 2)
    return SR_ERR_INVALID;
  /* On before the item is created, so that a new item counts as new. */
  if (turn_on(mdl) != 0 ||
      (n_emb && !ct->raw && sketch_choose(mdl, (uint32_t)n_emb) != 0))
    return SR_ERR_NOMEM;
  emb = sketch_apply(ct, emb, &n_emb);
  int64_t row = sr_idmap_find(mdl->items, id, len);
  if (row < 0)
    row = sr_model_touch_item(mdl, id, len);
  if (row < 0 || grow(mdl) != 0)
    return SR_ERR_NOMEM;
  sr_content_item_t *ic = make_block(mdl, feat, feat_len, n_feat, emb, n_emb);
  if (!ic)
    return SR_ERR_NOMEM;
  sr_content_item_t *old = ct->item[row];
  size_t same = sr_content_size(ic->n_tok, ic->n_emb);
  if (old && old->n_tok == ic->n_tok && old->n_emb == ic->n_emb &&
      memcmp(old, ic, same) == 0) {
    sr_model_mem_free(mdl, ic, item_bytes(ic));
    return SR_OK;
  }
  if (tables_for(mdl, ic) != 0 || chunk_for(mdl, (uint32_t)row) != 0) {
    sr_model_mem_free(mdl, ic, item_bytes(ic));
    return SR_ERR_NOMEM;
  }
  drop(mdl, (uint32_t)row);
  ct->item[row] = ic;
  ct->words[row] = ic->n_tok + ic->n_emb + 1;
  factor_of(ct, ic, cache_of(ct, (uint32_t)row));
  ct->with++;
  start(mdl, (uint32_t)row);
  return SR_OK;
}

uint32_t sr_model_content_items(const sr_model_t *mdl, uint32_t *emb_dims) {
  if (emb_dims)
    *emb_dims = mdl->content.raw;
  return mdl->content.with;
}

/* The section: a header, per item row its interaction count, the token
 * table (when allocated), the projection (when allocated), then per item
 * with content, ascending: its row, token count, embedding length, data
 * and content factor as last computed (stride floats). */
typedef struct head {
  uint32_t buckets, dims, stride, has_tok;
  int64_t credit, rcredit;
  uint32_t cursor, with;
} head_t;

int sr_content_dump(const sr_model_t *mdl, sr_buf_t *buf) {
  const sr_content_t *ct = &mdl->content;
  if (!ct->on)
    return 0;
  uint32_t items = sr_idmap_count(mdl->items);
  head_t h = {ct->buckets, ct->dims,    ct->stride, ct->tok != NULL,
              ct->credit,  ct->rcredit, ct->cursor, ct->with};
  int rc = sr_buf_append(buf, &h, sizeof(h)) ||
           sr_buf_append(buf, ct->ievents, (size_t)items * 4);
  if (!rc && ct->tok)
    rc = sr_buf_append(buf, ct->tok, tok_bytes(ct));
  if (!rc && ct->proj)
    rc = sr_buf_append(buf, ct->proj, proj_bytes(ct));
  for (uint32_t r = 0; r < items && !rc; r++) {
    const sr_content_item_t *ic = ct->item[r];
    if (ic)
      rc = sr_buf_append(buf, &r, sizeof(r)) ||
           sr_buf_append(buf, ic, item_bytes(ic)) ||
           sr_buf_append(buf, cache_of(ct, r), cache_bytes(ct, 1));
  }
  return rc ? -1 : 0;
}

/* Reads len bytes at *at into dst, or fails when the section is short. */
static int take(const char *data, uint64_t len, uint64_t *at, void *dst,
                uint64_t n) {
  if (n > len - *at)
    return -1;
  memcpy(dst, data + *at, n);
  *at += n;
  return 0;
}

static int load_items(sr_model_t *mdl, uint64_t items, const char *data,
                      uint64_t len, uint64_t at, char *why, size_t whylen) {
  sr_content_t *ct = &mdl->content;
  while (at < len) {
    uint32_t r;
    sr_content_item_t hdr;
    if (take(data, len, &at, &r, 4) || take(data, len, &at, &hdr, 8) ||
        r >= items || ct->item[r] || (hdr.n_emb && hdr.n_emb != ct->dims) ||
        hdr.n_tok > (len - at) / 4 || hdr.n_emb > (len - at) / 4)
      return snprintf(why, whylen, "item content at byte %" PRIu64 " bad", at),
             -1;
    size_t bytes = sr_content_size(hdr.n_tok, hdr.n_emb);
    if (chunk_for(mdl, r) != 0)
      return snprintf(why, whylen, "out of memory"), -1;
    sr_content_item_t *ic = sr_model_mem_alloc(mdl, bytes, 0);
    if (!ic)
      return snprintf(why, whylen, "out of memory"), -1;
    *ic = hdr;
    ct->item[r] = ic;
    ct->words[r] = hdr.n_tok + hdr.n_emb + 1;
    ct->with++;
    if (take(data, len, &at, ic->data, bytes - sizeof(hdr)) ||
        take(data, len, &at, cache_of(ct, r), cache_bytes(ct, 1)))
      return snprintf(why, whylen, "item content truncated"), -1;
    for (uint32_t t = 0; t < ic->n_tok; t++)
      if (ic->data[t] >= ct->buckets)
        return snprintf(why, whylen, "token row %" PRIu32 " of %" PRIu32,
                        ic->data[t], ct->buckets),
               -1;
  }
  return 0;
}

int sr_content_load(sr_model_t *mdl, uint64_t items, const void *data,
                    uint64_t len, char *why, size_t whylen) {
  sr_content_t *ct = &mdl->content;
  const char *p = data;
  uint64_t at = 0;
  head_t h;
  if (take(p, len, &at, &h, sizeof(h)) != 0)
    return snprintf(why, whylen, "%" PRIu64 " bytes, no header", len), -1;
  if (h.buckets != mdl->conf.content_buckets || h.stride != mdl->ifac.stride)
    return snprintf(why, whylen,
                    "%" PRIu32 " token rows of %" PRIu32
                    " floats, the model has %" PRIu32 " of %" PRIu32,
                    h.buckets, h.stride, mdl->conf.content_buckets,
                    mdl->ifac.stride),
           -1;
  if (turn_on(mdl) != 0 || (items && items > ct->cap))
    return snprintf(why, whylen, "out of memory"), -1;
  if (items && take(p, len, &at, ct->ievents, items * 4) != 0)
    return snprintf(why, whylen, "interaction counts truncated"), -1;
  sr_content_item_t need = {h.has_tok ? 1 : 0, h.dims};
  ct->raw = h.dims; /* until the reduction's section says otherwise */
  if (tables_for(mdl, &need) != 0)
    return snprintf(why, whylen, "out of memory"), -1;
  if ((ct->tok && take(p, len, &at, ct->tok, tok_bytes(ct)) != 0) ||
      (ct->proj && take(p, len, &at, ct->proj, proj_bytes(ct)) != 0))
    return snprintf(why, whylen, "tables truncated"), -1;
  ct->credit = h.credit;
  ct->rcredit = h.rcredit;
  ct->cursor = h.cursor < items ? h.cursor : 0;
  if (load_items(mdl, items, p, len, at, why, whylen) != 0)
    return -1;
  if (ct->with != h.with)
    return snprintf(why, whylen,
                    "%" PRIu32 " items with content, expected %" PRIu32,
                    ct->with, h.with),
           -1;
  return 0;
}

int sr_content_dump_sketch(const sr_model_t *mdl, sr_buf_t *buf) {
  const sr_content_t *ct = &mdl->content;
  if (!ct->sketch)
    return 0;
  uint32_t h[2] = {ct->raw, ct->rows};
  return sr_buf_append(buf, h, sizeof(h)) ? -1 : 0;
}

int sr_content_load_sketch(sr_model_t *mdl, const void *data, uint64_t len,
                           char *why, size_t whylen) {
  sr_content_t *ct = &mdl->content;
  uint32_t h[2];
  if (len != sizeof(h))
    return snprintf(why, whylen, "%" PRIu64 " bytes, expected 8", len), -1;
  memcpy(h, data, sizeof(h));
  if (!ct->proj || h[1] != ct->dims || h[0] <= h[1])
    return snprintf(why, whylen,
                    "embeddings of %" PRIu32 " reduced to %" PRIu32
                    ", the content holds %" PRIu32,
                    h[0], h[1], ct->dims),
           -1;
  if (sketch_make(mdl, h[0], h[1]) != 0)
    return snprintf(why, whylen, "out of memory"), -1;
  return 0;
}
