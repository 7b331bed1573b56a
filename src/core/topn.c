/* Batched scoring and bounded-heap selection; see topn.h. */
#include "core/topn.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>

typedef float v8sf __attribute__((vector_size(32)));

/* Sum of the 8 lanes. */
static inline float hsum(const v8sf *v) {
  const float *a = (const float *)v;
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* Portable kernel of score_one: 8-lane accumulators over rows that are
 * 64-byte aligned and zero-padded to a multiple of 16 floats, so no scalar
 * sum is reassociated. */
static void score_one_generic(const float *u, const float *v, uint32_t stride,
                              uint32_t rows, const float *bias,
                              float *restrict scores) {
  const v8sf *uv = __builtin_assume_aligned(u, 32);
  const uint32_t w = stride / 8;
  for (uint32_t i = 0; i < rows; i++, v += stride) {
    const v8sf *r = __builtin_assume_aligned(v, 32);
    v8sf a0 = {0};
    for (uint32_t f = 0; f < w; f++)
      a0 += uv[f] * r[f];
    scores[i] = hsum(&a0) + (bias ? bias[i] : 0.0f);
  }
}

/* AVX2+FMA kernel: four rows at a time keep both FMA units busy. */
__attribute__((target("avx2,fma"))) static void
score_one_avx2(const float *u, const float *v, uint32_t stride, uint32_t rows,
               const float *bias, float *restrict scores) {
  const uint32_t w = stride / 8;
  uint32_t i = 0;
  for (; i + 4 <= rows; i += 4, v += 4 * stride) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t f = 0; f < w; f++) {
      __m256 uf = _mm256_load_ps(u + 8 * f);
      a0 = _mm256_fmadd_ps(uf, _mm256_load_ps(v + 8 * f), a0);
      a1 = _mm256_fmadd_ps(uf, _mm256_load_ps(v + stride + 8 * f), a1);
      a2 = _mm256_fmadd_ps(uf, _mm256_load_ps(v + 2 * stride + 8 * f), a2);
      a3 = _mm256_fmadd_ps(uf, _mm256_load_ps(v + 3 * stride + 8 * f), a3);
    }
    /* Transpose-add the four accumulators into four sums. */
    __m256 h01 = _mm256_hadd_ps(a0, a1), h23 = _mm256_hadd_ps(a2, a3);
    __m256 h = _mm256_hadd_ps(h01, h23);
    __m128 sum =
        _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    if (bias)
      sum = _mm_add_ps(sum, _mm_loadu_ps(bias + i));
    _mm_storeu_ps(scores + i, sum);
  }
  if (i < rows)
    score_one_generic(u, v, stride, rows - i, bias ? bias + i : NULL,
                      scores + i);
}

/* One user against every item (plus bias when not NULL). For one user this
 * beats sgemv, whose setup dominates at small dims. */
static void score_one(const float *u, const float *v, uint32_t stride,
                      uint32_t rows, const float *bias, float *scores) {
  static int avx2 = -1;
  if (avx2 < 0)
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2)
    score_one_avx2(u, v, stride, rows, bias, scores);
  else
    score_one_generic(u, v, stride, rows, bias, scores);
}

/* One row as score_one_avx2 scores a row of its blocks of four: the same
 * fused multiply-adds into the row's accumulator, and its lanes summed in
 * the order of the two horizontal adds and the final add of halves. */
__attribute__((target("avx2,fma"))) static float
score_row_avx2(const float *u, const float *v, uint32_t stride) {
  __m256 a = _mm256_setzero_ps();
  for (uint32_t f = 0; f < stride / 8; f++)
    a = _mm256_fmadd_ps(_mm256_load_ps(u + 8 * f), _mm256_load_ps(v + 8 * f),
                        a);
  float l[8];
  _mm256_storeu_ps(l, a);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* Rows whose factors are asked for ahead of their dot product in
 * sr_topn_score_rows: enough to overlap their misses. */
#define ROWS_AHEAD 8

static void prefetch_row(const sr_factors_t *items, uint32_t row) {
  const char *p = (const char *)(items->data + (size_t)row * items->stride);
  for (size_t at = 0; at < items->stride * sizeof(float); at += 64)
    __builtin_prefetch(p + at);
}

/* One listed row as score_one scores it where it sits. */
static float score_listed(const float *user, const sr_factors_t *items,
                          uint32_t row, const float *bias, int avx2) {
  const float *v = items->data + (size_t)row * items->stride;
  float s;
  /* score_one_avx2 leaves the rows past the last block of four to the
   * generic kernel, whose sum runs in another order. */
  if (avx2 && row < (items->rows & ~3u)) {
    s = score_row_avx2(user, v, items->stride);
    return bias ? s + bias[row] : s;
  }
  score_one_generic(user, v, items->stride, 1, bias ? bias + row : NULL, &s);
  return s;
}

void sr_topn_score_rows(const float *user, const sr_factors_t *items,
                        const uint32_t *rows, uint32_t n, const float *bias,
                        float *out) {
  static int avx2 = -1;
  if (avx2 < 0)
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (uint32_t k = 0; k < n && k < ROWS_AHEAD; k++)
    prefetch_row(items, rows[k]);
  for (uint32_t k = 0; k < n; k++) {
    if (k + ROWS_AHEAD < n)
      prefetch_row(items, rows[k + ROWS_AHEAD]);
    out[k] = score_listed(user, items, rows[k], bias, avx2);
  }
}

void sr_topn_score_one(const float *user, const sr_factors_t *items,
                       const float *bias, float *scores) {
  score_one(user, items->data, items->stride, items->rows, bias, scores);
}

void sr_topn_score_range(const float *users, uint32_t n_users,
                         const sr_factors_t *items, uint32_t lo, uint32_t count,
                         float *scores) {
  const float *v = items->data + (size_t)lo * items->stride;
  if (n_users == 1) {
    score_one(users, v, items->stride, count, NULL, scores);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_users, (int)count,
              (int)items->dims, 1.0f, users, (int)items->stride, v,
              (int)items->stride, 0.0f, scores, (int)count);
}

void sr_topn_score(const float *users, uint32_t n_users,
                   const sr_factors_t *items, float *scores) {
  sr_topn_score_range(users, n_users, items, 0, items->rows, scores);
}

/* a ranks below b: lower score, or equal score and higher item. */
static inline int worse(const sr_scored_t *a, const sr_scored_t *b) {
  return a->score < b->score || (a->score == b->score && a->item > b->item);
}

static void sift_down(sr_scored_t *heap, size_t len, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < len && worse(&heap[l], &heap[m]))
      m = l;
    if (r < len && worse(&heap[r], &heap[m]))
      m = r;
    if (m == i)
      return;
    sr_scored_t t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
}

static void sift_up(sr_scored_t *heap, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!worse(&heap[i], &heap[p]))
      return;
    sr_scored_t t = heap[i];
    heap[i] = heap[p];
    heap[p] = t;
    i = p;
  }
}

/* Heap sort of the min-heap into descending order, in place. */
static void drain(sr_scored_t *heap, size_t len) {
  for (size_t end = len; end > 1; end--) {
    sr_scored_t t = heap[0];
    heap[0] = heap[end - 1];
    heap[end - 1] = t;
    sift_down(heap, end - 1, 0);
  }
}

/* Adds item with score s to the heap out[0 .. len) of capacity n. */
static inline size_t push(sr_scored_t *out, size_t len, size_t n, uint32_t item,
                          float s) {
  if (len == n) {
    /* Most items lose against the current N-th best: one compare. */
    if (s < out[0].score || (s == out[0].score && item > out[0].item))
      return len;
    out[0] = (sr_scored_t){item, s};
    sift_down(out, len, 0);
    return len;
  }
  out[len] = (sr_scored_t){item, s};
  sift_up(out, len);
  return len + 1;
}

/* Offers block entries lo, lo + step, ... below hi (item base + j) to the
 * heap, skipping entries with (j & skip_mask) == 0 when skip_mask is set
 * (the sampled ones). */
static size_t offer(const float *scores, const float *bias, uint32_t base,
                    uint32_t lo, uint32_t hi, uint32_t step, uint32_t skip_mask,
                    size_t n, sr_scored_t *out, size_t len) {
  for (uint32_t j = lo; j < hi; j += step) {
    float s = scores[j];
    if (s == -INFINITY || (skip_mask && (j & skip_mask) == 0))
      continue;
    len = push(out, len, n, base + j, bias ? s + bias[j] : s);
  }
  return len;
}

#define SAMPLE_MASK (SR_TOPN_SAMPLE_STEP - 1)

/* The main pass once the heap is full: eight scores at a time are compared
 * with the current N-th best, and only the lanes that reach it go through
 * the scalar path. */
__attribute__((target("avx2"))) static size_t
offer_avx2(const float *scores, const float *bias, uint32_t base,
           uint32_t count, size_t n, sr_scored_t *out, size_t len) {
  uint32_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 s = _mm256_loadu_ps(scores + i);
    if (bias)
      s = _mm256_add_ps(s, _mm256_loadu_ps(bias + i));
    __m256 ge = _mm256_cmp_ps(s, _mm256_set1_ps(out[0].score), _CMP_GE_OQ);
    for (unsigned m = (unsigned)_mm256_movemask_ps(ge); m; m &= m - 1) {
      uint32_t j = i + (uint32_t)__builtin_ctz(m);
      len = offer(scores, bias, base, j, j + 1, 1, SAMPLE_MASK, n, out, len);
    }
  }
  return offer(scores, bias, base, i, count, 1, SAMPLE_MASK, n, out, len);
}

size_t sr_topn_seed(const float *scores, const float *bias, uint32_t count,
                    size_t n, sr_scored_t *out) {
  size_t len = 0;
  for (uint32_t k = 0; k < count && n > 0; k++) {
    float s = scores[k];
    if (s != -INFINITY)
      len = push(out, len, n, k * SR_TOPN_SAMPLE_STEP, bias ? s + bias[k] : s);
  }
  return len;
}

size_t sr_topn_offer(const float *scores, const float *bias, uint32_t base,
                     uint32_t count, size_t n, sr_scored_t *out, size_t len) {
  static int avx2 = -1;
  if (n == 0)
    return 0;
  if (avx2 < 0)
    avx2 = __builtin_cpu_supports("avx2");
  if (avx2 && len == n)
    return offer_avx2(scores, bias, base, count, n, out, len);
  return offer(scores, bias, base, 0, count, 1, SAMPLE_MASK, n, out, len);
}

size_t sr_topn_pick(const sr_scored_t *cand, size_t len, size_t n,
                    sr_scored_t *out) {
  size_t got = 0;
  if (n == 0)
    return 0;
  for (size_t k = 0; k < len; k++)
    got = push(out, got, n, cand[k].item, cand[k].score);
  drain(out, got);
  return got;
}

void sr_topn_finish(sr_scored_t *out, size_t len) {
  drain(out, len);
}

size_t sr_topn_select(const float *scores, const float *bias, uint32_t n_items,
                      size_t n, sr_scored_t *out) {
  size_t len = 0;
  if (n == 0)
    return 0;
  len = offer(scores, bias, 0, 0, n_items, SR_TOPN_SAMPLE_STEP, 0, n, out, len);
  len = sr_topn_offer(scores, bias, 0, n_items, n, out, len);
  drain(out, len);
  return len;
}
