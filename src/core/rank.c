/* Exact ranks by bounded scores; see rank.h. */
#include "core/rank.h"

#include "core/recommend.h"
#include "core/topn.h"

#include <assert.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

/* An item's mark while a rank is taken: in no list, or scored apart
 * (before the bulk of the items) with its co-occurrence score. */
enum { MARK_NONE = 0, MARK_EXCLUDED = 1, MARK_COOC = 2 };

/* A score is fl(fl(q . v) + bias), and |q . v| <= |q| |v|. The computed
 * dot product is within (stride / 4 + 3) float roundings of |q| |v| of the
 * exact one, the addition within one rounding of |bias| + |q . v|, and
 * each step of a bound's own arithmetic within one more: margins four
 * times those and more keep every item a bound places where its computed
 * score is, and add few items to score. */
#define SLACK_BIAS 0x1p-20f
#define SLACK_ABS 1e-30f

static double slack_dot(uint32_t stride) {
  return 1.0 + (double)(stride / 4 + 16) * 0x1p-22;
}

/* One rank being taken: the query row the factors are scored by, and the
 * item's score. */
typedef struct rank_job {
  sr_model_t *mdl;
  const float *q;
  const float *bias;
  float q_norm; /* |q| times slack_dot */
  float delta;  /* slack_dot - 1 */
  float t;      /* the item's score */
  uint32_t item;
  uint64_t enough; /* rows above the item past which counting stops */
} rank_job_t;

/* Item rows the bound pass takes at once: the rows it cannot place are
 * listed on the stack (with room for whole stores past the last). */
#define SPAN 2048

/* An item row's code: v ~ scale * c, c in [-127, 127] per factor, then
 * scale and err >= |v - scale * c| as floats. It bounds q . v within
 * |q| err, about 1% of the norms' bound, from under half the row's
 * bytes: of the rows the norms cannot place (about 6% on MovieTweetings),
 * the codes leave about one in fifty to score. */
static size_t code_bytes(const sr_model_t *mdl) {
  return (mdl->ifac.stride + 2 * sizeof(float) + 15) & ~(size_t)15;
}

static uint8_t *code_of(const sr_model_t *mdl, uint32_t row) {
  return mdl->icode + (size_t)row * code_bytes(mdl);
}

void sr_rank_free(sr_model_t *mdl) {
  size_t cap = mdl->rank_cap;
  sr_model_mem_free(mdl, mdl->inorm, cap * sizeof(float));
  sr_model_mem_free(mdl, mdl->icode, cap * code_bytes(mdl));
  sr_model_mem_free(mdl, mdl->imark, cap);
  mdl->inorm = NULL;
  mdl->icode = mdl->imark = NULL;
  mdl->rank_cap = 0;
}

/* Sizes the norms (NaN: not known), the codes and the marks (none) to
 * every item row the model has room for. Returns 0 or -1. */
static int ensure_cap(sr_model_t *mdl) {
  size_t old = mdl->rank_cap, cap = mdl->icap, cb = code_bytes(mdl);
  if (cap <= old)
    return 0;
  if (sr_model_mem_grow(mdl, (void **)&mdl->imark, old, cap) != 0 ||
      sr_model_mem_grow(mdl, (void **)&mdl->icode, old * cb, cap * cb) != 0 ||
      sr_model_mem_grow(mdl, (void **)&mdl->inorm, old * sizeof(float),
                        cap * sizeof(float)) != 0)
    return -1;
  for (size_t i = old; i < cap; i++)
    mdl->inorm[i] = NAN;
  mdl->rank_cap = (uint32_t)cap;
  return 0;
}

/* Takes a row's norm (rounded up) and code, while its factors are in
 * cache. Any code is valid, err being measured against it: rounding to
 * nearest is only what makes err small. No libm calls per factor. */
static void learn_row(sr_model_t *mdl, uint32_t row) {
  const float *v = sr_factors_row(&mdl->ifac, row);
  uint32_t stride = mdl->ifac.stride;
  float top = 0;
  for (uint32_t f = 0; f < stride; f++) {
    float a = v[f] < 0 ? -v[f] : v[f];
    top = a > top ? a : top;
  }
  float scale = top / 127.0f, inv = top > 0 ? 127.0f / top : 0.0f;
  int8_t *c = (int8_t *)code_of(mdl, row);
  double s = 0, e = 0;
  for (uint32_t f = 0; f < stride; f++) {
    float r = v[f] * inv;
    /* A NaN factor gets any code: err is NaN then, and the row scored. */
    int q = r >= -127.0f && r <= 127.0f ? (int)(r + (r < 0 ? -0.5f : 0.5f))
            : r > 0                     ? 127
                                        : -127;
    c[f] = (int8_t)q;
    double d = (double)v[f] - (double)scale * c[f];
    s += (double)v[f] * v[f];
    e += d * d;
  }
  float tail[2] = {scale, (float)(sqrt(e) * (1.0 + 0x1p-20)) + SLACK_ABS};
  memcpy(c + stride, tail, sizeof(tail));
  mdl->inorm[row] = (float)(sqrt(s) * (1.0 + 0x1p-20));
}

/* The scores of rows[0 .. n) exactly as the whole catalogue's scoring gives
 * them, into out; the norms and codes not known are taken while the rows
 * are in cache. */
static void score_rows(const rank_job_t *job, const uint32_t *rows, uint32_t n,
                       float *out) {
  sr_model_t *mdl = job->mdl;
  sr_topn_score_rows(job->q, &mdl->ifac, rows, n, job->bias, out);
  for (uint32_t k = 0; k < n; k++)
    if (isnan(mdl->inorm[rows[k]]))
      learn_row(mdl, rows[k]);
}

static float exact(const rank_job_t *job, uint32_t row) {
  float s;
  score_rows(job, &row, 1, &s);
  return s;
}

/* 1 when row j with score s ranks above the item, as rank_of orders. */
static inline uint64_t above(float s, float t, uint32_t j, uint32_t item) {
  return (s > t) | ((s == t) & (j < item));
}

/* The listed rows above the item, once scored. */
static uint64_t count_listed(const rank_job_t *job, const uint32_t *rows,
                             uint32_t n) {
  float s[SPAN];
  uint64_t up = 0;
  score_rows(job, rows, n, s);
  for (uint32_t k = 0; k < n; k++)
    up += above(s[k], job->t, rows[k], job->item);
  return up;
}

/* The norms' bound, per query: a row whose bias is within its norm's
 * margin |v| on_norm + flat of the item's score cannot be placed. Where
 * the rounding of a score matters, the row's bias is within a few |q| |v|
 * of t, so a share of |t| in the margin stands for the share of |bias| a
 * score's rounding may take; a row whose bias is farther off is placed
 * with room to spare. */
typedef struct norm_bound {
  float on_norm;
  float flat;
} norm_bound_t;

static norm_bound_t norm_bound_of(const rank_job_t *job) {
  return (norm_bound_t){job->q_norm * (1.0f + 0x1p-19f),
                        fabsf(job->t) * 0x1p-19f + SLACK_ABS};
}

/* Unmarked rows [lo, hi) (at most SPAN) that the norms' bound places above
 * the item (returned); the others it cannot place go to list (*n). NaN
 * norms (not known) compare false, so those rows are listed. */
static uint64_t bound_generic(const rank_job_t *job, uint32_t lo, uint32_t hi,
                              uint32_t *list, uint32_t *n) {
  const sr_model_t *mdl = job->mdl;
  norm_bound_t nb = norm_bound_of(job);
  uint64_t up = 0;
  for (uint32_t j = lo; j < hi; j++) {
    if (mdl->imark[j] != MARK_NONE)
      continue;
    float d = job->bias[j] - job->t;
    if (fabsf(d) > mdl->inorm[j] * nb.on_norm + nb.flat)
      up += d > 0;
    else
      list[(*n)++] = j;
  }
  return up;
}

/* The places of the set bits of a 4-bit mask, one byte each from the
 * lowest: what a group of four rows appends to a list. */
static const uint32_t set_bits[16] = {
    0x00000000u, 0x00000000u, 0x00000001u, 0x00000100u,
    0x00000002u, 0x00000200u, 0x00000201u, 0x00020100u,
    0x00000003u, 0x00000300u, 0x00000301u, 0x00030100u,
    0x00000302u, 0x00030200u, 0x00030201u, 0x03020100u};

/* Appends rows base + the places of mask's 4 bits to list at *k: one
 * store whatever the mask, so that no branch waits on the comparisons
 * (list has room for 4 more entries). */
__attribute__((target("avx2,popcnt"))) static inline void
append4(uint32_t *list, uint32_t *k, uint32_t base, unsigned mask) {
  __m128i at = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)set_bits[mask]));
  _mm_storeu_si128((__m128i *)(list + *k),
                   _mm_add_epi32(at, _mm_set1_epi32((int)base)));
  *k += (uint32_t)__builtin_popcount(mask);
}

/* bound_generic, eight rows at a time. */
__attribute__((target("avx2,popcnt"))) static uint64_t
bound_avx2(const rank_job_t *job, uint32_t lo, uint32_t hi, uint32_t *list,
           uint32_t *n) {
  const sr_model_t *mdl = job->mdl;
  norm_bound_t nb = norm_bound_of(job);
  const __m256 on = _mm256_set1_ps(nb.on_norm), flat = _mm256_set1_ps(nb.flat);
  const __m256 t = _mm256_set1_ps(job->t), sign = _mm256_set1_ps(-0.0f);
  uint64_t up = 0;
  uint32_t j = lo, k = *n;
  for (; j + 8 <= hi; j += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(job->bias + j), t);
    __m256 m =
        _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(mdl->inorm + j), on), flat);
    unsigned placed = (unsigned)_mm256_movemask_ps(
        _mm256_cmp_ps(_mm256_andnot_ps(sign, d), m, _CMP_GT_OQ));
    unsigned neg = (unsigned)_mm256_movemask_ps(d);
    __m128i marks = _mm_loadl_epi64((const __m128i *)(mdl->imark + j));
    unsigned live = (unsigned)_mm_movemask_epi8(
                        _mm_cmpeq_epi8(marks, _mm_setzero_si128())) &
                    0xffu;
    up += (uint64_t)__builtin_popcount(placed & ~neg & live);
    unsigned unsure = ~placed & live;
    append4(list, &k, j, unsure & 15u);
    append4(list, &k, j + 4, unsure >> 4);
  }
  *n = k;
  return up + bound_generic(job, j, hi, list, n);
}

/* The query in 16-bit integers for the codes' bound: q = qscale * c + e,
 * |e| <= err, with |c| small enough that a row's sum of products fits in
 * 32 bits. */
typedef struct qcode {
  int16_t c[SR_RANK_MAX_STRIDE] __attribute__((aligned(32)));
  float qscale;
  float on_err;  /* what a row's err is multiplied by in its margin */
  float on_norm; /* what a row's norm is multiplied by in its margin */
} qcode_t;

/* A row's dot product with the query from the codes is
 * qscale * scale * (c_q . c_v), off q . v by at most |q| err_v +
 * err_q (|v| + err_v), and its float steps by a few roundings of
 * (|q| + err_q)(|v| + err_v); the exact score is off q . v by less than
 * delta |q| |v| (q_norm carries the slack). */
static void quantize_query(const rank_job_t *job, qcode_t *qc) {
  uint32_t stride = job->mdl->ifac.stride;
  float top = 0;
  assert(stride <= SR_RANK_MAX_STRIDE);
  for (uint32_t f = 0; f < stride; f++)
    top = fmaxf(top, fabsf(job->q[f]));
  double cap = fmin(32767.0, 2147483647.0 / (127.0 * stride));
  double scale = top > 0 ? top / cap : 0.0, e = 0, qn = 0;
  for (uint32_t f = 0; f < stride; f++) {
    double r = scale > 0 ? job->q[f] / scale : 0.0;
    int c = (int)lrint(fmax(-cap, fmin(cap, r)));
    qc->c[f] = (int16_t)c;
    double d = job->q[f] - scale * c;
    e += d * d;
    qn += (double)job->q[f] * job->q[f];
  }
  qc->qscale = (float)scale;
  double eq = sqrt(e) * (1.0 + 0x1p-20) + 1e-30;
  double around = eq * (1.0 + job->delta) + (sqrt(qn) + eq) * 0x1p-20;
  qc->on_err = (float)((job->q_norm + around) * (1.0 + 0x1p-20));
  qc->on_norm = (float)((around + job->q_norm * job->delta) * (1.0 + 0x1p-20));
}

/* The eight sums of c_q . c_v of eight code rows, in one vector. */
__attribute__((target("avx2"))) static __m256i
code_dots8(const qcode_t *qc, const uint8_t *const rows[8], uint32_t stride) {
  __m256i acc[8];
  for (int r = 0; r < 8; r++) {
    acc[r] = _mm256_setzero_si256();
    for (uint32_t f = 0; f < stride; f += 16) {
      __m256i c =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(rows[r] + f)));
      acc[r] = _mm256_add_epi32(
          acc[r], _mm256_madd_epi16(
                      c, _mm256_load_si256((const __m256i *)(qc->c + f))));
    }
  }
  __m256i h01 = _mm256_hadd_epi32(acc[0], acc[1]);
  __m256i h23 = _mm256_hadd_epi32(acc[2], acc[3]);
  __m256i h45 = _mm256_hadd_epi32(acc[4], acc[5]);
  __m256i h67 = _mm256_hadd_epi32(acc[6], acc[7]);
  __m256i h0 = _mm256_hadd_epi32(h01, h23), h1 = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20),
                          _mm256_permute2x128_si256(h0, h1, 0x31));
}

/* Places the listed rows by their codes, eight at a time: returns those
 * above the item, and keeps in list (*n) those the codes cannot place and
 * those whose code is out of date (a NaN norm makes the margin NaN). */
__attribute__((target("avx2,popcnt"))) static uint64_t
bound_codes_avx2(const rank_job_t *job, const qcode_t *qc, uint32_t *list,
                 uint32_t *n) {
  const sr_model_t *mdl = job->mdl;
  uint32_t stride = mdl->ifac.stride, kept = 0, total = *n;
  const __m256 t = _mm256_set1_ps(job->t), rel = _mm256_set1_ps(SLACK_BIAS);
  const __m256 abs_ = _mm256_set1_ps(SLACK_ABS), sign = _mm256_set1_ps(-0.0f);
  uint64_t up = 0;
  for (uint32_t k = 0; k < total; k += 8) {
    const uint8_t *rows[8];
    float scale[8], err[8], norm[8], b[8];
    uint32_t j[8];
    for (int r = 0; r < 8; r++) {
      j[r] = list[k + r < total ? k + r : k];
      rows[r] = code_of(mdl, j[r]);
      float tail[2];
      memcpy(tail, rows[r] + stride, sizeof(tail));
      scale[r] = tail[0] * qc->qscale;
      err[r] = tail[1];
      norm[r] = mdl->inorm[j[r]];
      b[r] = job->bias[j[r]];
    }
    for (uint32_t r = 0; r < 8 && k + 8 + r < total; r++)
      __builtin_prefetch(code_of(mdl, list[k + 8 + r]));
    __m256 vb = _mm256_loadu_ps(b);
    __m256 mid = _mm256_add_ps(
        vb, _mm256_mul_ps(_mm256_cvtepi32_ps(code_dots8(qc, rows, stride)),
                          _mm256_loadu_ps(scale)));
    __m256 m = _mm256_add_ps(
        _mm256_add_ps(
            _mm256_mul_ps(_mm256_loadu_ps(err), _mm256_set1_ps(qc->on_err)),
            _mm256_mul_ps(_mm256_loadu_ps(norm), _mm256_set1_ps(qc->on_norm))),
        _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_andnot_ps(sign, vb),
                                                  _mm256_andnot_ps(sign, mid)),
                                    rel),
                      abs_));
    unsigned valid = total - k >= 8 ? 0xffu : (1u << (total - k)) - 1u;
    unsigned above_ = (unsigned)_mm256_movemask_ps(
                          _mm256_cmp_ps(_mm256_sub_ps(mid, m), t, _CMP_GT_OQ)) &
                      valid;
    unsigned below = (unsigned)_mm256_movemask_ps(
        _mm256_cmp_ps(_mm256_add_ps(mid, m), t, _CMP_LT_OQ));
    up += (uint64_t)__builtin_popcount(above_);
    for (unsigned unsure = ~(above_ | below) & valid; unsure;
         unsure &= unsure - 1)
      list[kept++] = j[__builtin_ctz(unsure)];
  }
  *n = kept;
  return up;
}

/* Unmarked rows above the item: placed by the norms' bound, else by their
 * codes, else scored; a span at a time, stopping after the span that
 * brings the count to job->enough. */
static uint64_t count_unmarked(const rank_job_t *job, uint32_t items) {
  static int avx2 = -1;
  if (avx2 < 0)
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
           __builtin_cpu_supports("fma");
  uint32_t list[SPAN + 8];
  uint64_t up = 0;
  qcode_t qc;
  if (avx2)
    quantize_query(job, &qc);
  for (uint32_t lo = 0; lo < items && up < job->enough; lo += SPAN) {
    uint32_t hi = items - lo < SPAN ? items : lo + SPAN, n = 0;
    if (avx2) {
      up += bound_avx2(job, lo, hi, list, &n);
      up += bound_codes_avx2(job, &qc, list, &n);
    } else
      up += bound_generic(job, lo, hi, list, &n);
    up += count_listed(job, list, n);
  }
  return up;
}

/* Sets the mark of the rows every list excludes for the user: its seen
 * ring, the free rows and the items taken down (as exclude_seen). */
static void mark_excluded(sr_model_t *mdl, uint32_t user, uint8_t mark) {
  const sr_seen_ring_t *ring = &mdl->seen.rings[user];
  for (uint32_t j = 0; j < ring->len; j++)
    mdl->imark[ring->items[j]] = mark;
  const sr_lru_t *ilru = &mdl->ilru;
  for (uint32_t r = ilru->free_top; r != SR_LRU_NIL; r = ilru->node[r].next)
    mdl->imark[r] = mark;
  for (uint32_t k = 0; k < mdl->n_down; k++)
    mdl->imark[mdl->down[k]] = mark;
}

/* list_cooc for a list that names a row more than once: each row's
 * factors' score, then its co-occurrence scores added in the list's
 * order. */
static uint32_t score_repeated(const rank_job_t *job, sr_scored_t *co,
                               uint32_t n) {
  uint32_t kept = 0;
  for (uint32_t k = 0; k < n; k++) {
    sr_scored_t e = co[k];
    uint32_t p = 0;
    while (p < kept && co[p].item != e.item)
      p++;
    if (p < kept)
      co[p].score += e.score;
    else
      co[kept++] = (sr_scored_t){e.item, exact(job, e.item) + e.score};
  }
  return kept;
}

/* Rows with a co-occurrence score scored at once. */
#define COOC_BATCH 256

/* The rows with a co-occurrence score that no exclusion removes, into
 * co[0 ..) (returned count), marked; with the factors' score added (as
 * add_co adds the co-occurrence score to it) only when a row is named
 * twice (*scored). */
static uint32_t list_cooc(const rank_job_t *job, sr_scored_t *co, uint32_t n,
                          int *scored) {
  uint8_t *mark = job->mdl->imark;
  uint32_t kept = 0, repeated = 0;
  for (uint32_t k = 0; k < n; k++) {
    sr_scored_t e = co[k];
    if (mark[e.item] == MARK_EXCLUDED)
      continue;
    repeated |= mark[e.item] == MARK_COOC;
    mark[e.item] = MARK_COOC;
    co[kept++] = e;
  }
  *scored = repeated != 0;
  return repeated ? score_repeated(job, co, kept) : kept;
}

/* The item's score as the catalogue's scoring gives it; -inf when
 * excluded. co[0 .. n) as list_cooc left it. */
static float item_score(const rank_job_t *job, const sr_scored_t *co,
                        uint32_t n, int scored) {
  uint8_t mark = job->mdl->imark[job->item];
  if (mark == MARK_EXCLUDED)
    return -INFINITY;
  for (uint32_t p = 0; mark == MARK_COOC && p < n; p++)
    if (co[p].item == job->item)
      return scored ? co[p].score : exact(job, job->item) + co[p].score;
  return exact(job, job->item);
}

/* The rows of co[0 .. n) above the item. Without scored, co holds their
 * co-occurrence scores alone: a row is placed by the norms' bound on its
 * factors' score plus that, else scored. With it, co holds whole
 * scores. */
static uint64_t count_cooc(const rank_job_t *job, const sr_scored_t *co,
                           uint32_t n, int scored) {
  uint64_t up = 0;
  if (scored) {
    for (uint32_t k = 0; k < n; k++)
      up += above(co[k].score, job->t, co[k].item, job->item);
    return up;
  }
  const float *norm = job->mdl->inorm;
  uint32_t rows[COOC_BATCH];
  float add[COOC_BATCH], s[COOC_BATCH];
  for (uint32_t lo = 0; lo < n; lo += COOC_BATCH) {
    uint32_t hi = n - lo < COOC_BATCH ? n : lo + COOC_BATCH, m = 0;
    for (uint32_t k = lo; k < hi; k++) {
      uint32_t j = co[k].item;
      float c = co[k].score, b = job->bias[j], mid = b + c;
      float r = norm[j] * job->q_norm + (fabsf(b) + fabsf(c)) * SLACK_BIAS +
                SLACK_ABS;
      uint32_t is_above = mid - r > job->t, is_below = mid + r < job->t;
      up += is_above;
      rows[m] = j;
      add[m] = c;
      m += !(is_above | is_below);
    }
    score_rows(job, rows, m, s);
    for (uint32_t k = 0; k < m; k++)
      up += above(s[k] + add[k], job->t, rows[k], job->item);
  }
  return up;
}

/* The rank among the scores q . v + bias (+ the user's co-occurrence
 * scores when with_co); counting stops once enough rows are above. */
static uint64_t rank_scored(sr_model_t *mdl, const float *q, uint32_t user,
                            uint32_t item, int with_co, uint64_t enough) {
  uint32_t items = sr_idmap_count(mdl->items), stride = mdl->ifac.stride;
  double qq = 0;
  for (uint32_t f = 0; f < stride; f++)
    qq += (double)q[f] * q[f];
  double slack = slack_dot(stride);
  rank_job_t job = {.mdl = mdl,
                    .q = q,
                    .bias = mdl->bias,
                    .q_norm = (float)(sqrt(qq) * slack),
                    .delta = (float)(slack - 1.0),
                    .item = item};
  assert(mdl->bias);
  mark_excluded(mdl, user, MARK_EXCLUDED);
  uint32_t n = with_co ? sr_recommend_co_scores(mdl, user, mdl->co) : 0;
  int scored;
  n = list_cooc(&job, mdl->co, n, &scored);
  job.t = item_score(&job, mdl->co, n, scored);
  uint64_t rank = 0;
  /* A NaN score (a model that diverged) is a miss, never a first place. */
  if (job.t != -INFINITY && !isnan(job.t)) {
    uint64_t up = count_cooc(&job, mdl->co, n, scored);
    job.enough = up < enough ? enough - up : 0;
    rank = 1 + up + count_unmarked(&job, items);
  }
  for (uint32_t p = 0; p < n; p++)
    mdl->imark[mdl->co[p].item] = MARK_NONE;
  mark_excluded(mdl, user, MARK_NONE);
  return rank;
}

/* The rank by popularity alone, a cold user's score; counting stops, a
 * span at a time, once enough rows are above. */
static uint64_t rank_popular(sr_model_t *mdl, uint32_t user, uint32_t item,
                             uint64_t enough) {
  uint32_t items = sr_idmap_count(mdl->items);
  const float *s = mdl->pop.logc;
  mark_excluded(mdl, user, MARK_EXCLUDED);
  float t = mdl->imark[item] == MARK_EXCLUDED ? -INFINITY : s[item];
  uint64_t rank = 0;
  if (t != -INFINITY) {
    rank = 1;
    for (uint32_t lo = 0; lo < items && rank <= enough; lo += SPAN) {
      uint32_t hi = items - lo < SPAN ? items : lo + SPAN;
      for (uint32_t j = lo; j < hi; j++)
        rank += (mdl->imark[j] == MARK_NONE) & above(s[j], t, j, item);
    }
  }
  mark_excluded(mdl, user, MARK_NONE);
  return rank;
}

int sr_model_rank_item(sr_model_t *mdl, uint32_t user, uint32_t item,
                       uint64_t max_rank, uint64_t *rank) {
  if (ensure_cap(mdl) != 0)
    return -1;
  /* Rows above the item that place it past max_rank. */
  uint64_t enough = max_rank ? max_rank : UINT64_MAX;
  uint64_t r;
  if (mdl->uevents[user] >= mdl->conf.min_user_events)
    r = rank_scored(mdl, sr_factors_row(&mdl->ufac, user), user, item, 1,
                    enough);
  else {
    const float *q = sr_recommend_cold_query(mdl, user);
    r = q ? rank_scored(mdl, q, user, item, 0, enough)
          : rank_popular(mdl, user, item, enough);
  }
  /* Where counting stopped depends on the spans: beyond is one figure. */
  *rank = max_rank && r > max_rank ? max_rank + 1 : r;
  return 0;
}
