/* The inverted-file index; see ann.h. */
#include "core/ann.h"

#include "core/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_SCAN 1
#endif

/* Rows scored per sgemm, in k-means assignment and in a list's scan: a
 * block of scores stays in cache until the heaps take it. */
#define ROW_BLOCK 4096
/* k-means trains on at most this many sampled items per list: more moves
 * the centroids little and costs a pass over the sample each iteration. */
#define SAMPLE_PER_LIST 64
/* The scan reads the codes of this many items at a time; the code array
 * is padded by as many rows so that a list's last group may read past it. */
#define SCAN_GROUP 8
/* Quantized users: |q| <= 63, so that a pair of byte products (item codes
 * up to 255) fits the 16 bits pmaddubsw adds them in. */
#define USER_LEVELS 63
/* Items are 8-bit codes 128 + round(v / scale), |v / scale| <= 127. */
#define ITEM_LEVELS 127
#define CODE_ZERO 128
/* The shortlist each user's quantized scores keep for the caller's exact
 * re-scoring: want plus a quarter as many again, and this many at least,
 * so that quantization error near the cut rarely drops a true candidate. */
#define SHORTLIST_MIN 32

typedef struct cand {
  float score;
  uint32_t row;
} cand_t;

/* One quantized user as the scan takes it. */
typedef struct scan_user {
  const int8_t *q; /* cbytes values, |q| <= USER_LEVELS */
  float scale;
  int32_t zero; /* CODE_ZERO times the sum of q: the codes' offset */
  float thr;    /* scores below it cannot enter the user's shortlist */
} scan_user_t;

/* Scores m item codes (cbytes each) for user su into s: the user's scale
 * times the item's (cscale) times their integer dot product, plus the
 * item's additive score (cadd). Bit j of mask[g] is set when item
 * SCAN_GROUP g + j scores su->thr or more. m is rounded up to SCAN_GROUP:
 * code, cscale, cadd, s and mask hold that many. */
typedef void (*scan_fn)(const uint8_t *code, uint32_t cbytes, uint32_t m,
                        const float *cscale, const float *cadd,
                        const scan_user_t *su, float *s, uint8_t *mask);

struct sr_ann {
  uint32_t dims;  /* columns of the snapshot */
  uint32_t adims; /* dims + 1: the additive score's column */
  uint32_t rows;  /* rows of the snapshot */
  uint32_t items; /* rows indexed */
  uint32_t lists;
  float *cent;     /* lists x adims */
  uint32_t *off;   /* lists + 1: list l holds [off[l], off[l + 1]) */
  uint32_t *ids;   /* items: the row of each indexed vector */
  float *vec;      /* items x adims, list by list; freed after the build */
  uint32_t cbytes; /* dims rounded up to 32: the bytes of a code */
  uint8_t *code;   /* (items + SCAN_GROUP) x cbytes, list by list */
  float *cscale;   /* items + SCAN_GROUP: each code's scale */
  float *cadd;     /* items + SCAN_GROUP: each item's additive score */
  scan_fn scan;
  uint32_t *side; /* rows skipped, ascending */
  uint32_t n_side;
  uint32_t max_batch, max_want;
  /* Search scratch. */
  float *q;         /* max_batch x adims: the users, with the 1 */
  int8_t *uq;       /* max_batch x cbytes: the users quantized */
  float *uscale;    /* max_batch: their scales */
  int32_t *usum;    /* max_batch: the sums of their quantized values */
  float *cs;        /* max_batch x lists: centroid scores */
  float *s;         /* ROW_BLOCK + SCAN_GROUP: a block's scores */
  uint8_t *mask;    /* ROW_BLOCK / SCAN_GROUP + 1: which may enter */
  uint32_t *who;    /* max_batch x probe: users by list */
  uint32_t *head;   /* lists + 1: where each list's users start in who */
  uint32_t *probed; /* max_batch x lists at most: each user's lists */
  cand_t *heap;     /* max_batch x 4 max_want: the shortlists */
  uint32_t *len;    /* max_batch: each heap's length */
  uint32_t *caps;   /* max_batch: each shortlist's length */
  float *thr;       /* max_batch: the score to beat for each shortlist */
  size_t bytes;
};

void sr_ann_conf_init(sr_ann_conf_t *conf) {
  conf->lists = 0;
  conf->iters = 8;
  conf->max_batch = 64;
  conf->max_want = SR_ANN_MAX_WANT;
  conf->seed = 1;
}

/* Counted allocation: every block of the index goes through it, so that
 * sr_ann_bytes is what the index holds. */
static void *ann_alloc(sr_ann_t *ann, size_t bytes) {
  ann->bytes += bytes;
  return calloc(1, bytes ? bytes : 1);
}

void sr_ann_free(sr_ann_t *ann) {
  if (!ann)
    return;
  free(ann->cent);
  free(ann->off);
  free(ann->ids);
  free(ann->vec);
  free(ann->side);
  free(ann->code);
  free(ann->cscale);
  free(ann->cadd);
  free(ann->q);
  free(ann->uq);
  free(ann->uscale);
  free(ann->usum);
  free(ann->cs);
  free(ann->mask);
  free(ann->s);
  free(ann->who);
  free(ann->head);
  free(ann->probed);
  free(ann->heap);
  free(ann->len);
  free(ann->caps);
  free(ann->thr);
  free(ann);
}

uint32_t sr_ann_rows(const sr_ann_t *ann) {
  return ann->rows;
}
uint32_t sr_ann_items(const sr_ann_t *ann) {
  return ann->items;
}
uint32_t sr_ann_lists(const sr_ann_t *ann) {
  return ann->lists;
}
size_t sr_ann_bytes(const sr_ann_t *ann) {
  return ann->bytes;
}

uint32_t sr_ann_max_batch(const sr_ann_t *ann) {
  return ann->max_batch;
}

uint32_t sr_ann_max_want(const sr_ann_t *ann) {
  return ann->max_want;
}

const uint32_t *sr_ann_side(const sr_ann_t *ann, uint32_t *n) {
  *n = ann->n_side;
  return ann->side;
}

/* Min-heap on score (ties: the larger row is worse, so that the kept set
 * matches the exact ranking's ascending-row tie break). */
static int worse(const cand_t *a, const cand_t *b) {
  return a->score < b->score || (a->score == b->score && a->row > b->row);
}

static void heap_offer(cand_t *h, uint32_t *len, uint32_t cap, float score,
                       uint32_t row) {
  cand_t c = {score, row};
  size_t i;
  if (cap == 0)
    return;
  if (*len < cap) {
    for (i = (*len)++; i > 0 && worse(&c, &h[(i - 1) / 2]); i = (i - 1) / 2)
      h[i] = h[(i - 1) / 2];
    h[i] = c;
    return;
  }
  if (!worse(&h[0], &c))
    return;
  for (i = 0;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const cand_t *least = &c;
    if (l < cap && worse(&h[l], least))
      m = l, least = &h[l];
    if (r < cap && worse(&h[r], least))
      m = r;
    if (m == i)
      break;
    h[i] = h[m];
    i = m;
  }
  h[i] = c;
}

/* Copies snapshot row r with its additive score into dst (adims floats). */
static void put_row(const sr_ann_t *ann, const sr_factors_t *snap,
                    const float *bias, uint32_t r, float *dst) {
  memcpy(dst, sr_factors_row(snap, r), ann->dims * sizeof(float));
  dst[ann->dims] = bias ? bias[r] : 0.0f;
}

/* Assigns each of the n vectors x (adims each) to its nearest centroid in
 * L2: argmin |c|^2 - 2 x.c, the dot products by sgemm in blocks. */
static void assign(const sr_ann_t *ann, const float *x, uint32_t n,
                   const float *cnorm, float *d, uint32_t *to) {
  uint32_t L = ann->lists, ad = ann->adims;
  for (uint32_t lo = 0; lo < n; lo += ROW_BLOCK) {
    uint32_t b = n - lo < ROW_BLOCK ? n - lo : ROW_BLOCK;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)L,
                (int)ad, 1.0f, x + (size_t)lo * ad, (int)ad, ann->cent, (int)ad,
                0.0f, d, (int)L);
    for (uint32_t i = 0; i < b; i++) {
      const float *di = d + (size_t)i * L;
      float best = INFINITY;
      uint32_t at = 0;
      for (uint32_t c = 0; c < L; c++) {
        float v = cnorm[c] - 2.0f * di[c];
        if (v < best)
          best = v, at = c;
      }
      to[lo + i] = at;
    }
  }
}

static void centroid_norms(const sr_ann_t *ann, float *cnorm) {
  for (uint32_t c = 0; c < ann->lists; c++) {
    const float *v = ann->cent + (size_t)c * ann->adims;
    float s = 0.0f;
    for (uint32_t k = 0; k < ann->adims; k++)
      s += v[k] * v[k];
    cnorm[c] = s;
  }
}

/* Moves each centroid to the mean of its sampled vectors; a list that got
 * none keeps its centroid. */
static void update_centroids(sr_ann_t *ann, const float *x, uint32_t n,
                             const uint32_t *to, double *sum, uint32_t *cnt) {
  uint32_t ad = ann->adims;
  memset(sum, 0, (size_t)ann->lists * ad * sizeof(double));
  memset(cnt, 0, ann->lists * sizeof(uint32_t));
  for (uint32_t i = 0; i < n; i++) {
    cnt[to[i]]++;
    for (uint32_t k = 0; k < ad; k++)
      sum[(size_t)to[i] * ad + k] += x[(size_t)i * ad + k];
  }
  for (uint32_t c = 0; c < ann->lists; c++)
    for (uint32_t k = 0; cnt[c] && k < ad; k++)
      ann->cent[(size_t)c * ad + k] = (float)(sum[(size_t)c * ad + k] / cnt[c]);
}

/* Seeded k-means on a sample of the indexed vectors (vec, in row order
 * here), then every vector's list in to. Returns 0 or -1. */
static int kmeans(sr_ann_t *ann, const sr_ann_conf_t *conf, uint32_t *to) {
  uint32_t n = ann->items, L = ann->lists, ad = ann->adims;
  uint32_t ns = n < L * SAMPLE_PER_LIST ? n : L * SAMPLE_PER_LIST;
  uint32_t *perm = malloc(n * sizeof(uint32_t));
  float *x = malloc((size_t)ns * ad * sizeof(float));
  float *d = malloc((size_t)ROW_BLOCK * L * sizeof(float));
  float *cnorm = malloc(L * sizeof(float));
  double *sum = malloc((size_t)L * ad * sizeof(double));
  uint32_t *cnt = malloc(L * sizeof(uint32_t));
  int rc = -1;
  if (!perm || !x || !d || !cnorm || !sum || !cnt)
    goto done;
  sr_rng_t rng;
  sr_rng_seed(&rng, conf->seed);
  for (uint32_t i = 0; i < n; i++)
    perm[i] = i;
  for (uint32_t i = 0; i < ns; i++) { /* a partial shuffle: the sample */
    uint32_t j = i + sr_rng_below(&rng, n - i), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    memcpy(x + (size_t)i * ad, ann->vec + (size_t)perm[i] * ad,
           ad * sizeof(float));
  }
  memcpy(ann->cent, x, (size_t)L * ad * sizeof(float));
  for (uint32_t it = 0; it < conf->iters; it++) {
    centroid_norms(ann, cnorm);
    assign(ann, x, ns, cnorm, d, perm);
    update_centroids(ann, x, ns, perm, sum, cnt);
  }
  centroid_norms(ann, cnorm);
  assign(ann, ann->vec, n, cnorm, d, to);
  /* Each centroid becomes the mean of all its items, not of the sample's:
   * an item far from the rest (a very popular one, by its score column)
   * then pulls its list's centroid score up, so users still probe it. */
  update_centroids(ann, ann->vec, n, to, sum, cnt);
  rc = 0;
done:
  free(perm);
  free(x);
  free(d);
  free(cnorm);
  free(sum);
  free(cnt);
  return rc;
}

/* Reorders vec and ids list by list (a counting sort on to). */
static int group_lists(sr_ann_t *ann, const uint32_t *to) {
  uint32_t n = ann->items, ad = ann->adims;
  float *vec = malloc((size_t)n * ad * sizeof(float) + 1);
  uint32_t *ids = malloc((size_t)n * sizeof(uint32_t) + 1);
  if (!vec || !ids) {
    free(vec);
    free(ids);
    return -1;
  }
  for (uint32_t i = 0; i < n; i++)
    ann->off[to[i] + 1]++;
  for (uint32_t c = 0; c < ann->lists; c++)
    ann->off[c + 1] += ann->off[c];
  for (uint32_t i = 0; i < n; i++) {
    uint32_t at = ann->off[to[i]]++;
    ids[at] = ann->ids[i];
    memcpy(vec + (size_t)at * ad, ann->vec + (size_t)i * ad,
           ad * sizeof(float));
  }
  for (uint32_t c = ann->lists; c > 0; c--) /* the loop moved each start */
    ann->off[c] = ann->off[c - 1];
  ann->off[0] = 0;
  memcpy(ann->vec, vec, (size_t)n * ad * sizeof(float));
  memcpy(ann->ids, ids, (size_t)n * sizeof(uint32_t));
  free(vec);
  free(ids);
  return 0;
}

static uint32_t count_items(const sr_factors_t *snap, const uint8_t *skip) {
  uint32_t n = 0;
  for (uint32_t r = 0; r < snap->rows; r++)
    n += !(skip && skip[r]);
  return n;
}

/* Lists of the default conf: 2 sqrt(items), at most MAX_LISTS. Finer lists
 * give a probe's items a better share of true neighbours (recall@20 0.978
 * against 0.942 at 100 k clustered items, probe 8); the build's k-means
 * and assignment cost items x lists, and at MAX_LISTS a million items
 * build in about 20 s on one core. */
#define MAX_LISTS 1024

static uint32_t pick_lists(uint32_t items, const sr_ann_conf_t *conf) {
  uint32_t lists = conf->lists;
  if (!lists) {
    double two_root = 2.0 * sqrt((double)items);
    lists = two_root < MAX_LISTS ? (uint32_t)two_root : MAX_LISTS;
  }
  if (lists > items)
    lists = items;
  return lists ? lists : (items ? 1 : 0);
}

/* Copies the snapshot in: indexed rows to vec and ids, skipped ones to
 * side. */
static void copy_snapshot(sr_ann_t *ann, const sr_factors_t *snap,
                          const float *bias, const uint8_t *skip) {
  uint32_t n = 0;
  for (uint32_t r = 0; r < snap->rows; r++) {
    if (skip && skip[r]) {
      ann->side[ann->n_side++] = r;
      continue;
    }
    put_row(ann, snap, bias, r, ann->vec + (size_t)n * ann->adims);
    ann->ids[n++] = r;
  }
}

static int alloc_index(sr_ann_t *ann, const sr_ann_conf_t *conf) {
  size_t ad = ann->adims, L = ann->lists, B = conf->max_batch;
  size_t cb = ann->cbytes, padded = (size_t)ann->items + SCAN_GROUP;
  ann->max_batch = conf->max_batch;
  ann->max_want = conf->max_want;
  ann->cent = ann_alloc(ann, L * ad * sizeof(float));
  ann->off = ann_alloc(ann, (L + 1) * sizeof(uint32_t));
  ann->ids = ann_alloc(ann, (size_t)ann->items * sizeof(uint32_t));
  ann->vec = ann_alloc(ann, (size_t)ann->items * ad * sizeof(float));
  ann->code = ann_alloc(ann, padded * cb);
  ann->cscale = ann_alloc(ann, padded * sizeof(float));
  ann->cadd = ann_alloc(ann, padded * sizeof(float));
  ann->side = ann_alloc(ann, (size_t)(ann->rows - ann->items) * 4);
  ann->q = ann_alloc(ann, B * ad * sizeof(float));
  ann->uq = ann_alloc(ann, B * cb);
  ann->uscale = ann_alloc(ann, B * sizeof(float));
  ann->usum = ann_alloc(ann, B * sizeof(int32_t));
  ann->cs = ann_alloc(ann, B * L * sizeof(float));
  ann->s = ann_alloc(ann, (ROW_BLOCK + SCAN_GROUP) * sizeof(float));
  ann->mask = ann_alloc(ann, ROW_BLOCK / SCAN_GROUP + 1);
  ann->who = ann_alloc(ann, B * L * sizeof(uint32_t));
  ann->head = ann_alloc(ann, (L + 1) * sizeof(uint32_t));
  ann->probed = ann_alloc(ann, B * L * sizeof(uint32_t));
  ann->heap = ann_alloc(ann, B * 4 * conf->max_want * sizeof(cand_t));
  ann->len = ann_alloc(ann, B * sizeof(uint32_t));
  ann->caps = ann_alloc(ann, B * sizeof(uint32_t));
  ann->thr = ann_alloc(ann, B * sizeof(float));
  return ann->cent && ann->off && ann->ids && ann->vec && ann->code &&
                 ann->cscale && ann->cadd && ann->side && ann->q && ann->uq &&
                 ann->uscale && ann->usum && ann->cs && ann->s && ann->mask &&
                 ann->who && ann->head && ann->probed && ann->heap &&
                 ann->len && ann->caps && ann->thr
             ? 0
             : -1;
}

/* Largest magnitude among n floats. */
static float max_abs(const float *v, uint32_t n) {
  float m = 0.0f;
  for (uint32_t k = 0; k < n; k++)
    m = fabsf(v[k]) > m ? fabsf(v[k]) : m;
  return m;
}

/* Quantizes each indexed vector (list order) to bytes with a scale of its
 * own: an item's error is then a fixed share of its own size, whatever the
 * spread of norms across the catalogue. The additive score stays a float. */
static void quantize_items(sr_ann_t *ann) {
  for (uint32_t i = 0; i < ann->items; i++) {
    const float *v = ann->vec + (size_t)i * ann->adims;
    uint8_t *c = ann->code + (size_t)i * ann->cbytes;
    float m = max_abs(v, ann->dims);
    float scale = m > 0.0f ? m / ITEM_LEVELS : 1.0f;
    for (uint32_t k = 0; k < ann->cbytes; k++)
      c[k] = CODE_ZERO;
    for (uint32_t k = 0; k < ann->dims; k++)
      c[k] = (uint8_t)(CODE_ZERO + lrintf(v[k] / scale));
    ann->cscale[i] = scale;
    ann->cadd[i] = v[ann->dims];
  }
}

/* Frees the float vectors once the codes hold them: the caller re-scores
 * candidates with its live factors, so the index keeps only the codes. */
static void drop_vectors(sr_ann_t *ann) {
  free(ann->vec);
  ann->vec = NULL;
  ann->bytes -= (size_t)ann->items * ann->adims * sizeof(float);
}

static void scan_plain(const uint8_t *code, uint32_t cbytes, uint32_t m,
                       const float *cscale, const float *cadd,
                       const scan_user_t *su, float *s, uint8_t *mask) {
  for (uint32_t i = 0; i < m; i++) {
    const uint8_t *c = code + (size_t)i * cbytes;
    int32_t acc = 0;
    for (uint32_t k = 0; k < cbytes; k++)
      acc += (int32_t)c[k] * su->q[k];
    s[i] = su->scale * cscale[i] * (float)(acc - su->zero) + cadd[i];
    if (i % SCAN_GROUP == 0)
      mask[i / SCAN_GROUP] = 0;
    mask[i / SCAN_GROUP] |= (uint8_t)((s[i] >= su->thr) << (i % SCAN_GROUP));
  }
}

#ifdef HAVE_AVX2_SCAN
/* Sums the eight lanes of each of a[0..7] into one lane each, in order. */
__attribute__((target("avx2"))) static __m256i sum_lanes(const __m256i *a) {
  __m256i h0 = _mm256_hadd_epi32(a[0], a[1]),
          h1 = _mm256_hadd_epi32(a[2], a[3]);
  __m256i h2 = _mm256_hadd_epi32(a[4], a[5]),
          h3 = _mm256_hadd_epi32(a[6], a[7]);
  __m256i g0 = _mm256_hadd_epi32(h0, h1), g1 = _mm256_hadd_epi32(h2, h3);
  return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20),
                          _mm256_permute2x128_si256(g0, g1, 0x31));
}

/* The integer dot products of items i..i+7 with q, summed per item. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
dot_group(const uint8_t *code, uint32_t cbytes, uint32_t i, const int8_t *q) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[SCAN_GROUP];
  for (int j = 0; j < SCAN_GROUP; j++)
    acc[j] = _mm256_setzero_si256();
  for (uint32_t k = 0; k < cbytes; k += 32) {
    __m256i u = _mm256_loadu_si256((const __m256i *)(q + k));
    for (int j = 0; j < SCAN_GROUP; j++) {
      __m256i c = _mm256_loadu_si256(
          (const __m256i *)(code + (size_t)(i + j) * cbytes + k));
      acc[j] = _mm256_add_epi32(
          acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(c, u), ones));
    }
  }
  return sum_lanes(acc);
}

/* scan_plain by pmaddubsw (32 byte products per instruction, on a quarter
 * of a float scan's memory traffic), eight items at a time. Inlined with a
 * constant cbytes, the accumulators stay in registers. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
scan_avx2_n(const uint8_t *code, uint32_t cbytes, uint32_t m,
            const float *cscale, const float *cadd, const scan_user_t *su,
            float *s, uint8_t *mask) {
  const __m256i zero = _mm256_set1_epi32(su->zero);
  const __m256 us = _mm256_set1_ps(su->scale), thr = _mm256_set1_ps(su->thr);
  for (uint32_t i = 0; i < m; i += SCAN_GROUP) {
    __m256 dot = _mm256_cvtepi32_ps(
        _mm256_sub_epi32(dot_group(code, cbytes, i, su->q), zero));
    __m256 sc = _mm256_fmadd_ps(_mm256_mul_ps(us, _mm256_loadu_ps(cscale + i)),
                                dot, _mm256_loadu_ps(cadd + i));
    _mm256_storeu_ps(s + i, sc);
    mask[i / SCAN_GROUP] =
        (uint8_t)_mm256_movemask_ps(_mm256_cmp_ps(sc, thr, _CMP_GE_OQ));
  }
}

/* 64 dimensions, the default, unrolled; any other count looped. */
__attribute__((target("avx2,fma"))) static void
scan_avx2(const uint8_t *code, uint32_t cbytes, uint32_t m, const float *cscale,
          const float *cadd, const scan_user_t *su, float *s, uint8_t *mask) {
  if (cbytes == 64)
    scan_avx2_n(code, 64, m, cscale, cadd, su, s, mask);
  else if (cbytes == 32)
    scan_avx2_n(code, 32, m, cscale, cadd, su, s, mask);
  else
    scan_avx2_n(code, cbytes, m, cscale, cadd, su, s, mask);
}
#endif

static scan_fn pick_scan(void) {
#ifdef HAVE_AVX2_SCAN
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return scan_avx2;
#endif
  return scan_plain;
}

sr_ann_t *sr_ann_build(const sr_factors_t *snap, const float *bias,
                       const uint8_t *skip, const sr_ann_conf_t *conf) {
  sr_ann_t *ann = calloc(1, sizeof(*ann));
  uint32_t *to = NULL;
  if (!ann)
    return NULL;
  ann->bytes = sizeof(*ann);
  ann->dims = snap->dims;
  ann->adims = snap->dims + 1;
  ann->cbytes = (snap->dims + 31) / 32 * 32;
  ann->scan = pick_scan();
  ann->rows = snap->rows;
  ann->items = count_items(snap, skip);
  ann->lists = pick_lists(ann->items, conf);
  if (alloc_index(ann, conf) != 0)
    goto fail;
  copy_snapshot(ann, snap, bias, skip);
  if (ann->items == 0)
    return ann;
  to = malloc((size_t)ann->items * sizeof(uint32_t));
  if (!to || kmeans(ann, conf, to) != 0 || group_lists(ann, to) != 0)
    goto fail;
  quantize_items(ann);
  drop_vectors(ann);
  free(to);
  return ann;
fail:
  free(to);
  sr_ann_free(ann);
  return NULL;
}

/* Each user's probe best lists by centroid score, into probed, and the
 * users of each list into who from head[l]. */
static void pick_probes(sr_ann_t *ann, uint32_t n_users, uint32_t probe) {
  uint32_t L = ann->lists;
  cand_t *h = ann->heap; /* free until the lists are scanned */
  memset(ann->head, 0, (L + 1) * sizeof(uint32_t));
  for (uint32_t u = 0; u < n_users; u++) {
    uint32_t len = 0;
    for (uint32_t c = 0; c < L; c++)
      if (len < probe || ann->cs[(size_t)u * L + c] >= h[0].score)
        heap_offer(h, &len, probe, ann->cs[(size_t)u * L + c], c);
    for (uint32_t p = 0; p < probe; p++) {
      ann->probed[(size_t)u * probe + p] = h[p].row;
      ann->head[h[p].row + 1]++;
    }
  }
  for (uint32_t c = 0; c < L; c++)
    ann->head[c + 1] += ann->head[c];
  for (uint32_t u = 0; u < n_users; u++)
    for (uint32_t p = 0; p < probe; p++)
      ann->who[ann->head[ann->probed[(size_t)u * probe + p]]++] = u;
  for (uint32_t c = L; c > 0; c--) /* the loop moved each start */
    ann->head[c] = ann->head[c - 1];
  ann->head[0] = 0;
}

/* Each user's quantized vector, its scale and the sum of its values. */
static void quantize_users(sr_ann_t *ann, uint32_t n_users) {
  memset(ann->uq, 0, (size_t)n_users * ann->cbytes);
  for (uint32_t u = 0; u < n_users; u++) {
    const float *v = ann->q + (size_t)u * ann->adims;
    int8_t *q = ann->uq + (size_t)u * ann->cbytes;
    float m = max_abs(v, ann->dims);
    float scale = m > 0.0f ? m / USER_LEVELS : 1.0f;
    int32_t sum = 0;
    for (uint32_t k = 0; k < ann->dims; k++)
      sum += q[k] = (int8_t)lrintf(v[k] / scale);
    ann->uscale[u] = scale;
    ann->usum[u] = sum;
  }
}

/* Moves the best k of the n candidates in c to its front, in no order
 * (quickselect; worse is a strict order, rows and positions being
 * distinct). */
static void keep_best(cand_t *c, uint32_t n, uint32_t k) {
  uint32_t lo = 0, hi = n; /* the cut at k lies within [lo, hi] */
  while (lo < k && k < hi) {
    cand_t t, pivot = c[lo + (hi - lo) / 2];
    c[lo + (hi - lo) / 2] = c[hi - 1];
    uint32_t p = lo;
    for (uint32_t i = lo; i < hi - 1; i++)
      if (worse(&pivot, &c[i]))
        t = c[i], c[i] = c[p], c[p++] = t;
    c[hi - 1] = c[p];
    c[p] = pivot; /* [lo, p) beat the pivot, (p, hi) do not */
    if (k <= p)
      hi = p;
    else
      lo = p + 1;
  }
}

/* Cuts user u's shortlist buffer down to its cap and raises its threshold
 * to the worst score kept. */
static void compact(sr_ann_t *ann, uint32_t u) {
  cand_t *h = ann->heap + (size_t)u * 4 * ann->max_want;
  uint32_t cap = ann->caps[u];
  if (ann->len[u] <= cap)
    return;
  keep_best(h, ann->len[u], cap);
  ann->len[u] = cap;
  float least = h[0].score;
  for (uint32_t k = 1; k < cap; k++)
    least = h[k].score < least ? h[k].score : least;
  ann->thr[u] = least;
}

/* Appends the items of a scanned block whose mask bit is set to user u's
 * shortlist buffer (at is the block's first position); a full buffer is
 * cut to the best cap. Appending and cutting now and then costs less than
 * a heap's sift for every item that beats the threshold. */
static void offer_marked(sr_ann_t *ann, uint32_t u, uint32_t at, uint32_t b) {
  cand_t *h = ann->heap + (size_t)u * 4 * ann->max_want;
  uint32_t room = 2 * ann->caps[u]; /* <= 4 max_want */
  for (uint32_t g = 0; g < (b + SCAN_GROUP - 1) / SCAN_GROUP; g++)
    for (unsigned bits = ann->mask[g]; bits; bits &= bits - 1) {
      uint32_t i = g * SCAN_GROUP + (uint32_t)__builtin_ctz(bits);
      if (i >= b || ann->s[i] < ann->thr[u])
        continue;
      if (ann->len[u] == room)
        compact(ann, u);
      h[ann->len[u]++] = (cand_t){ann->s[i], at + i};
    }
}

/* Scores list c for the users that probe it from the codes, offering each
 * item's position to their shortlists. Returns the items scored. */
static uint64_t scan_list(sr_ann_t *ann, uint32_t c) {
  uint32_t nu = ann->head[c + 1] - ann->head[c];
  uint32_t first = ann->off[c], m = ann->off[c + 1] - first;
  const uint32_t *users = ann->who + ann->head[c];
  /* A block's codes stay in cache while every user of the list scans it. */
  for (uint32_t lo = 0; lo < m; lo += ROW_BLOCK) {
    uint32_t b = m - lo < ROW_BLOCK ? m - lo : ROW_BLOCK, at = first + lo;
    for (uint32_t j = 0; j < nu; j++) {
      uint32_t u = users[j];
      scan_user_t su = {ann->uq + (size_t)u * ann->cbytes, ann->uscale[u],
                        CODE_ZERO * ann->usum[u], ann->thr[u]};
      if (ann->caps[u] == 0)
        continue;
      ann->scan(ann->code + (size_t)at * ann->cbytes, ann->cbytes, b,
                ann->cscale + at, ann->cadd + at, &su, ann->s, ann->mask);
      offer_marked(ann, u, at, b);
    }
  }
  return (uint64_t)nu * m;
}

/* User u's shortlist, its rows into out in no order; returns how many
 * (all of it: the caller re-scores them exactly). */
static uint32_t take_shortlist(sr_ann_t *ann, uint32_t u, uint32_t *out) {
  const cand_t *h = ann->heap + (size_t)u * 4 * ann->max_want;
  compact(ann, u);
  for (uint32_t k = 0; k < ann->len[u]; k++)
    out[k] = ann->ids[h[k].row];
  return ann->len[u];
}

uint64_t sr_ann_search(sr_ann_t *ann, const float *users, uint32_t stride,
                       uint32_t n_users, uint32_t probe, const uint32_t *want,
                       uint32_t *rows, uint32_t *counts) {
  uint32_t ad = ann->adims, L = ann->lists, W = ann->max_want;
  uint64_t scored = 0;
  memset(counts, 0, n_users * sizeof(uint32_t));
  if (ann->items == 0 || n_users == 0)
    return 0;
  probe = probe < 1 ? 1 : probe > L ? L : probe;
  for (uint32_t u = 0; u < n_users; u++) {
    memcpy(ann->q + (size_t)u * ad, users + (size_t)u * stride,
           ann->dims * sizeof(float));
    ann->q[(size_t)u * ad + ann->dims] = 1.0f;
    uint32_t w = want[u] < W ? want[u] : W;
    ann->thr[u] = -INFINITY;
    uint32_t extra = w / 4 > SHORTLIST_MIN ? w / 4 : SHORTLIST_MIN;
    /* At most W: the caller's room for each user's rows. */
    ann->caps[u] = !w ? 0 : w + extra < W ? w + extra : W;
  }
  quantize_users(ann, n_users);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_users, (int)L,
              (int)ad, 1.0f, ann->q, (int)ad, ann->cent, (int)ad, 0.0f, ann->cs,
              (int)L);
  pick_probes(ann, n_users, probe);
  memset(ann->len, 0, n_users * sizeof(uint32_t));
  for (uint32_t c = 0; c < L; c++)
    scored += scan_list(ann, c);
  for (uint32_t u = 0; u < n_users; u++)
    counts[u] = take_shortlist(ann, u, rows + (size_t)u * W);
  return scored;
}

/* Each user's exact best n snapshot rows into the heaps (heap u holds n),
 * from one sgemm per block of rows. */
static void exact_best(sr_ann_t *ann, const sr_factors_t *snap,
                       const float *bias, const uint8_t *skip, uint32_t n_users,
                       uint32_t n, float *block) {
  uint32_t st = snap->stride;
  memset(ann->len, 0, n_users * sizeof(uint32_t));
  for (uint32_t lo = 0; lo < snap->rows; lo += ROW_BLOCK) {
    uint32_t b = snap->rows - lo < ROW_BLOCK ? snap->rows - lo : ROW_BLOCK;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_users, (int)b,
                (int)ann->dims, 1.0f, ann->q, (int)ann->adims,
                sr_factors_row(snap, lo), (int)st, 0.0f, block, (int)b);
    for (uint32_t u = 0; u < n_users; u++)
      for (uint32_t i = 0; i < b; i++) {
        uint32_t r = lo + i;
        if (skip && skip[r])
          continue;
        heap_offer(ann->heap + (size_t)u * ann->max_want, &ann->len[u], n,
                   block[(size_t)u * b + i] + (bias ? bias[r] : 0.0f), r);
      }
  }
}

/* The best n of user u's count candidates (rows) re-scored from the
 * snapshot, as the caller's exact re-scoring ranks them, into best; returns
 * how many. */
static uint32_t rescored_best(const sr_ann_t *ann, const sr_factors_t *snap,
                              const float *bias, uint32_t u,
                              const uint32_t *rows, uint32_t count, uint32_t n,
                              cand_t *best) {
  const float *q = ann->q + (size_t)u * ann->adims;
  for (uint32_t k = 0; k < count; k++) {
    const float *v = sr_factors_row(snap, rows[k]);
    float s = 0.0f;
    for (uint32_t d = 0; d < ann->dims; d++)
      s += q[d] * v[d];
    best[k] = (cand_t){s + (bias ? bias[rows[k]] : 0.0f), rows[k]};
  }
  n = count < n ? count : n;
  keep_best(best, count, n);
  return n;
}

double sr_ann_recall(sr_ann_t *ann, const sr_factors_t *snap, const float *bias,
                     const uint8_t *skip, const float *users, uint32_t stride,
                     uint32_t n_users, uint32_t probe, uint32_t n) {
  if (ann->items == 0 || n_users == 0)
    return 1.0;
  size_t W = ann->max_want;
  uint32_t *want = malloc(3 * (size_t)n_users * sizeof(uint32_t));
  uint32_t *rows = malloc((size_t)n_users * W * sizeof(uint32_t));
  float *block = malloc((size_t)n_users * ROW_BLOCK * sizeof(float));
  cand_t *best = malloc((size_t)n_users * W * sizeof(cand_t));
  uint32_t *counts = want + n_users, *kept = want + 2 * (size_t)n_users;
  uint64_t hit = 0, total = 0;
  if (!want || !rows || !block || !best) {
    free(want);
    free(rows);
    free(block);
    free(best);
    return -1.0;
  }
  for (uint32_t u = 0; u < n_users; u++)
    want[u] = n;
  sr_ann_search(ann, users, stride, n_users, probe, want, rows, counts);
  for (uint32_t u = 0; u < n_users; u++) /* ann->q is set */
    kept[u] = rescored_best(ann, snap, bias, u, rows + u * W, counts[u], n,
                            best + u * W);
  exact_best(ann, snap, bias, skip, n_users, n, block);
  for (uint32_t u = 0; u < n_users; u++) {
    const cand_t *h = ann->heap + (size_t)u * W;
    total += ann->len[u];
    for (uint32_t i = 0; i < ann->len[u]; i++)
      for (uint32_t j = 0; j < kept[u]; j++)
        hit += best[u * W + j].row == h[i].row;
  }
  free(want);
  free(rows);
  free(block);
  free(best);
  return total ? (double)hit / (double)total : 1.0;
}
