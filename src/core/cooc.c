/* Item co-occurrence; see cooc.h. */
#include "core/cooc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Past this increment the raw counts are rescaled. Counts are floats: a
 * raw count stays below RESCALE_AT times a few thousand half-lives' worth
 * of events, and its product with n^-alpha and n^-beta stays a normal
 * float for alpha, beta <= 1. */
#define RESCALE_AT 1e20
/* A pair or an item count that has decayed below this is dropped on a
 * rescale. Raw item counts are then at least this, so their powers stay
 * finite. */
#define DROP_BELOW 1e-4f
/* An event's rows asked for ahead of use at most (the defaults pair it
 * with 10); further ones are reached in time anyway. */
#define PREFETCH_ROWS 32
/* Neighbours whose per-item sums are asked for ahead of use when scoring:
 * they are scattered over every item's, one cache miss each. */
#define SCORE_AHEAD 16

/* The counts of a row; NULL for a row never given entries. */
static float *counts_of(const sr_cooc_row_t *row) {
  return row->ids ? (float *)(row->ids + row->cap) : NULL;
}

/* Heap a row of cap entries really takes (glibc's header and rounding). */
static uint64_t chunk_bytes(uint32_t cap) {
  if (cap == 0)
    return 0;
  uint64_t n = ((uint64_t)cap * 8 + 8 + 15) & ~(uint64_t)15;
  return n < 32 ? 32 : n;
}

int sr_cooc_init(sr_cooc_t *co, const sr_model_conf_t *conf) {
  memset(co, 0, sizeof(*co));
  co->k = conf->cooc_neighbours;
  co->hist = conf->cooc_history;
  co->norms = 1;
  co->alpha[0] = conf->cooc_alpha;
  co->beta[0] = conf->cooc_beta;
  co->inc = 1.0;
  co->growth =
      conf->cooc_half_life > 0 ? pow(2.0, 1.0 / conf->cooc_half_life) : 1.0;
  co->gap_w = malloc((co->hist ? co->hist : 1) * sizeof(float));
  if (!co->gap_w)
    return -1;
  double w = 1.0;
  for (uint32_t d = 0; d < co->hist; d++, w *= conf->cooc_gap_decay)
    co->gap_w[d] = (float)w;
  return 0;
}

void sr_cooc_set_norms(sr_cooc_t *co, uint32_t n, const float *alpha,
                       const float *beta) {
  co->norms = n;
  for (uint32_t k = 0; k < n; k++) {
    co->alpha[k] = alpha[k];
    co->beta[k] = beta[k];
  }
}

void sr_cooc_free(sr_cooc_t *co) {
  for (uint32_t i = 0; i < co->items; i++)
    free(co->rows[i].ids);
  free(co->rows);
  free(co->n);
  free(co->pow_a);
  free(co->it);
  free(co->gap_w);
  memset(co, 0, sizeof(*co));
}

/* Grows one per-item array to cap entries of size bytes. */
static int grow(void **arr, uint32_t cap, size_t size) {
  void *p = realloc(*arr, (size_t)cap * size);
  if (!p)
    return -1;
  *arr = p;
  return 0;
}

int sr_cooc_reserve(sr_cooc_t *co, uint32_t cap) {
  if (cap <= co->cap)
    return 0;
  if (grow((void **)&co->rows, cap, sizeof(*co->rows)) ||
      grow((void **)&co->n, cap, sizeof(*co->n)) ||
      grow((void **)&co->pow_a, cap, SR_COOC_NORMS * sizeof(*co->pow_a)) ||
      grow((void **)&co->it, cap, sizeof(*co->it)))
    return -1;
  co->cap = cap;
  return 0;
}

int sr_cooc_ensure(sr_cooc_t *co, uint32_t items) {
  if (items <= co->items)
    return 0;
  if (items > co->cap) {
    uint32_t cap = co->cap ? co->cap : 256;
    while (cap < items)
      cap *= 2;
    if (sr_cooc_reserve(co, cap) != 0)
      return -1;
  }
  for (uint32_t i = co->items; i < items; i++) {
    co->rows[i] = (sr_cooc_row_t){NULL, 0, 0, -1};
    co->n[i] = 0;
    memset(&co->pow_a[i * SR_COOC_NORMS], 0, SR_COOC_NORMS * sizeof(float));
    memset(&co->it[i], 0, sizeof(co->it[i]));
  }
  co->items = items;
  return 0;
}

/* Past this relative distance from a float's rounding boundary, a double
 * y within it of pow's result rounds to the same float. pow is within 1
 * ulp of the true power, 1 / sqrt(n) within 1.5 ulps: 1e-15 is over 4
 * ulps of a double. */
#define POW_MARGIN 1e-15

/* (float)pow(n, -e) for n > 0, bit for bit, without pow where it can:
 * every event changes an item's count and with it up to four powers, and
 * the built-in normalisations' exponents are 0 and 0.5 but for one. The
 * result of 1 / sqrt(n) is taken only when all of [y - margin, y +
 * margin], pow's result included, rounds to the same float; else (about
 * one time in ten million) pow decides. */
static float pow_neg(double n, float e) {
  if (e == 0.0f)
    return 1.0f;
  if (e == 0.5f) {
    double y = 1.0 / sqrt(n);
    float lo = (float)(y * (1.0 - POW_MARGIN)),
          hi = (float)(y * (1.0 + POW_MARGIN));
    if (lo == hi)
      return lo;
  }
  return (float)pow(n, -e);
}

/* Keeps item's n^-alpha and n^-beta current after its count changed; an
 * exponent that repeats (0.5 is both an alpha and a beta of the built-in
 * normalisations) is computed once. */
static void update_pow(sr_cooc_t *co, uint32_t item) {
  double n = co->n[item];
  float e[2 * SR_COOC_NORMS] = {0}, p[2 * SR_COOC_NORMS] = {0};
  for (uint32_t k = 0; k < co->norms; k++) {
    e[2 * k] = co->alpha[k];
    e[2 * k + 1] = co->beta[k];
  }
  for (uint32_t x = 0; x < 2 * co->norms; x++) {
    uint32_t y = 0;
    while (y < x && e[y] != e[x])
      y++;
    p[x] = n <= 0 ? 0.0f : y < x ? p[y] : pow_neg(n, e[x]);
  }
  for (uint32_t k = 0; k < co->norms; k++) {
    co->pow_a[item * SR_COOC_NORMS + k] = p[2 * k];
    co->it[item].pow_b[k] = p[2 * k + 1];
  }
}

#ifdef __SSE2__
/* Bits of the entries of ids[0 .. 4) equal to key. */
static unsigned match4(const uint32_t *ids, __m128i key) {
  __m128i eq = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)ids), key);
  return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(eq));
}
#endif

/* Every event looks up hist pairs in rows of up to k entries, most of
 * them absent: sixteen ids are compared per branch, and the entry found
 * is read off the comparison's bits rather than searched for again. */
static int find(const sr_cooc_row_t *row, uint32_t item) {
  uint32_t e = 0;
#ifdef __SSE2__
  __m128i key = _mm_set1_epi32((int)item);
  for (; e + 16 <= row->len; e += 16) {
    const uint32_t *p = row->ids + e;
    unsigned bits = match4(p, key) | match4(p + 4, key) << 4 |
                    match4(p + 8, key) << 8 | match4(p + 12, key) << 12;
    if (bits)
      return (int)(e + (uint32_t)__builtin_ctz(bits));
  }
  for (; e + 4 <= row->len; e += 4) {
    unsigned bits = match4(row->ids + e, key);
    if (bits)
      return (int)(e + (uint32_t)__builtin_ctz(bits));
  }
#endif
  for (; e < row->len; e++)
    if (row->ids[e] == item)
      return (int)e;
  return -1;
}

/* Removes entry e, the last entry taking its place. */
static void remove_at(sr_cooc_row_t *row, uint32_t e) {
  float *cnt = counts_of(row);
  row->len--;
  if (row->min == (int32_t)e)
    row->min = -1;
  else if (row->min == (int32_t)row->len)
    row->min = (int32_t)e;
  row->ids[e] = row->ids[row->len];
  cnt[e] = cnt[row->len];
}

static void remove_item(sr_cooc_row_t *row, uint32_t item) {
  int e = find(row, item);
  if (e >= 0)
    remove_at(row, (uint32_t)e);
}

/* 1 when entry a orders before entry b: smaller count, or the same count
 * and a smaller neighbour. Positions move as entries are removed; this
 * order does not, so the cached minimum of a restored row is the same. */
static int below(const sr_cooc_row_t *row, uint32_t a, uint32_t b) {
  const float *cnt = counts_of(row);
  return cnt[a] < cnt[b] || (cnt[a] == cnt[b] && row->ids[a] < row->ids[b]);
}

/* The smallest count of a non-empty row, four at a time: with decay, new
 * pairs keep replacing the smallest, so it is looked for often. */
static float min_count(const sr_cooc_row_t *row) {
  const float *cnt = counts_of(row);
  float m = cnt[0];
  uint32_t e = 0;
#ifdef __SSE2__
  if (row->len >= 4) {
    __m128 v = _mm_loadu_ps(cnt);
    for (e = 4; e + 4 <= row->len; e += 4)
      v = _mm_min_ps(v, _mm_loadu_ps(cnt + e));
    float lanes[4];
    _mm_storeu_ps(lanes, v);
    m = fminf(fminf(lanes[0], lanes[1]), fminf(lanes[2], lanes[3]));
  }
#endif
  for (; e < row->len; e++)
    m = cnt[e] < m ? cnt[e] : m;
  return m;
}

/* Of the entries with count m, the one with the smallest neighbour. Four
 * counts are compared at a time; entries with the smallest count are few,
 * so only their bits are walked. */
static uint32_t entry_of_min(const sr_cooc_row_t *row, float m) {
  const float *cnt = counts_of(row);
  uint32_t best = UINT32_MAX, e = 0;
#ifdef __SSE2__
  __m128 key = _mm_set1_ps(m);
  for (; e + 4 <= row->len; e += 4) {
    unsigned bits =
        (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(cnt + e), key));
    for (; bits; bits &= bits - 1) {
      uint32_t x = e + (uint32_t)__builtin_ctz(bits);
      if (best == UINT32_MAX || row->ids[x] < row->ids[best])
        best = x;
    }
  }
#endif
  for (; e < row->len; e++)
    if (cnt[e] == m && (best == UINT32_MAX || row->ids[e] < row->ids[best]))
      best = e;
  return best;
}

/* The smallest entry of a non-empty row, found again only after it grew or
 * left: most pairs that change are not the smallest. */
static uint32_t min_entry(sr_cooc_row_t *row) {
  if (row->min >= 0)
    return (uint32_t)row->min;
  uint32_t best = entry_of_min(row, min_count(row));
  row->min = (int32_t)best;
  return best;
}

/* The entry a new neighbour of raw weight w would replace in item's row:
 * the smallest of a full row, or k when the row has room; -1 when w is
 * below every count of a full row. */
static int64_t slot_for(sr_cooc_t *co, uint32_t item, float w) {
  sr_cooc_row_t *row = &co->rows[item];
  if (row->len < co->k)
    return co->k;
  uint32_t m = min_entry(row);
  return w >= counts_of(row)[m] ? (int64_t)m : -1;
}

static int grow_row(sr_cooc_t *co, sr_cooc_row_t *row) {
  uint32_t cap = row->cap ? row->cap * 2 : 4;
  if (cap > co->k)
    cap = co->k;
  uint32_t *ids = malloc((size_t)cap * 8);
  if (!ids)
    return -1;
  if (row->len) {
    memcpy(ids, row->ids, row->len * sizeof(uint32_t));
    memcpy(ids + cap, counts_of(row), row->len * sizeof(float));
  }
  free(row->ids);
  co->row_bytes += chunk_bytes(cap) - chunk_bytes(row->cap);
  row->ids = ids;
  row->cap = cap;
  return 0;
}

/* Makes room for one more entry in item's row: a full row loses its entry
 * slot (from slot_for), from both of the pair's rows. Returns 0 or -1. */
static int make_room(sr_cooc_t *co, uint32_t item, int64_t slot) {
  sr_cooc_row_t *row = &co->rows[item];
  if (slot < co->k) {
    remove_item(&co->rows[row->ids[slot]], item);
    remove_at(row, (uint32_t)slot);
    return 0;
  }
  return row->len == row->cap ? grow_row(co, row) : 0;
}

static void append(sr_cooc_row_t *row, uint32_t item, float w) {
  uint32_t e = row->len++;
  row->ids[e] = item;
  counts_of(row)[e] = w;
  if (e == 0 || (row->min >= 0 && below(row, e, (uint32_t)row->min)))
    row->min = (int32_t)e;
}

/* Adds raw weight w to entry e; the smallest entry may be another now. */
static void add_at(sr_cooc_row_t *row, uint32_t e, float w) {
  counts_of(row)[e] += w;
  if (row->min == (int32_t)e)
    row->min = -1;
}

/* Adds raw weight w to the pair (i, j) in both rows. */
static int add_pair(sr_cooc_t *co, uint32_t i, uint32_t j, float w) {
  sr_cooc_row_t *ri = &co->rows[i], *rj = &co->rows[j];
  int a = find(ri, j);
  if (a >= 0) {
    add_at(ri, (uint32_t)a, w);
    int b = find(rj, i);
    if (b >= 0)
      add_at(rj, (uint32_t)b, w);
    return 0;
  }
  int64_t si = slot_for(co, i, w), sj = si < 0 ? -1 : slot_for(co, j, w);
  if (si < 0 || sj < 0)
    return 0;
  /* Making room in i's row never touches j's: j is not among i's
   * neighbours, so j's row does not hold i's smallest pair either. */
  if (make_room(co, i, si) != 0 || make_room(co, j, sj) != 0)
    return -1;
  append(ri, j, w);
  append(rj, i, w);
  return 0;
}

/* Brings every count to an increment of 1, dropping pairs that have
 * decayed to nothing. Both copies of a pair hold the same count, so each
 * row dropping its own keeps the rows symmetric. */
static void rescale(sr_cooc_t *co) {
  double by = co->inc;
  for (uint32_t i = 0; i < co->items; i++) {
    sr_cooc_row_t *row = &co->rows[i];
    float *cnt = counts_of(row);
    for (uint32_t e = 0; e < row->len; e++)
      cnt[e] = (float)(cnt[e] / by);
    for (uint32_t e = row->len; e-- > 0;)
      if (cnt[e] < DROP_BELOW)
        remove_at(row, e);
    /* Rounding may have made two counts equal. */
    row->min = -1;
    co->n[i] /= by;
    if (co->n[i] < DROP_BELOW)
      co->n[i] = 0;
    update_pow(co, i);
  }
  co->inc = 1.0;
}

/* Asks for the bytes [p, p + len) to be brought into the cache. */
static void prefetch_range(const void *p, size_t len) {
  const char *c = p;
  for (size_t at = 0; at < len; at += 64)
    __builtin_prefetch(c + at);
}

/* The row that loses a pair when row, if full, admits a new neighbour: the
 * neighbour of its smallest entry, NULL for a row with room. Finding the
 * smallest entry early changes nothing: it is cached until the row
 * changes. */
static const sr_cooc_row_t *victim_of(sr_cooc_t *co, sr_cooc_row_t *row) {
  if (row->len < co->k)
    return NULL;
  return &co->rows[row->ids[min_entry(row)]];
}

static void prefetch_entries(const sr_cooc_row_t *row) {
  if (row && row->ids) {
    prefetch_range(row->ids, row->len * sizeof(uint32_t));
    prefetch_range(counts_of(row), row->len * sizeof(float));
  }
}

/* An event's rows are scattered over the heap, each behind its row header,
 * and a new pair in a full row also removes the pair of its smallest entry
 * from a third row: asking for all headers, then all entries, then the
 * third rows' headers and entries up front lets their cache misses overlap
 * instead of being waited for one pair after another. rows[n] is item's. */
static void prefetch_rows(sr_cooc_t *co, uint32_t item, const uint32_t *hist,
                          uint32_t n) {
  n = n < PREFETCH_ROWS ? n : PREFETCH_ROWS;
  __builtin_prefetch(&co->rows[item]);
  for (uint32_t d = 0; d < n; d++) {
    __builtin_prefetch(&co->rows[hist[d]]);
    __builtin_prefetch(&co->n[hist[d]]);
  }
  for (uint32_t d = 0; d <= n; d++)
    prefetch_entries(&co->rows[d < n ? hist[d] : item]);
  const sr_cooc_row_t *victim[PREFETCH_ROWS + 1];
  for (uint32_t d = 0; d <= n; d++) {
    victim[d] = victim_of(co, &co->rows[d < n ? hist[d] : item]);
    if (victim[d])
      __builtin_prefetch(victim[d]);
  }
  for (uint32_t d = 0; d <= n; d++)
    if (victim[d] && victim[d]->ids)
      prefetch_range(victim[d]->ids, victim[d]->len * sizeof(uint32_t));
}

int sr_cooc_learn(sr_cooc_t *co, uint32_t item, const uint32_t *hist,
                  uint32_t n_hist) {
  double inc = co->inc;
  uint32_t n = n_hist < co->hist ? n_hist : co->hist;
  prefetch_rows(co, item, hist, n);
  co->n[item] += inc;
  update_pow(co, item);
  for (uint32_t d = 0; d < n; d++) {
    if (hist[d] != item && co->n[hist[d]] > 0 &&
        add_pair(co, item, hist[d], (float)(co->gap_w[d] * inc)) != 0)
      return -1;
  }
  co->inc *= co->growth;
  if (co->inc > RESCALE_AT)
    rescale(co);
  return 0;
}

void sr_cooc_clear(sr_cooc_t *co, uint32_t item) {
  sr_cooc_row_t *row = &co->rows[item];
  for (uint32_t e = 0; e < row->len; e++)
    remove_item(&co->rows[row->ids[e]], item);
  co->row_bytes -= chunk_bytes(row->cap);
  free(row->ids);
  *row = (sr_cooc_row_t){NULL, 0, 0, -1};
  co->n[item] = 0;
  update_pow(co, item);
}

double sr_cooc_count(const sr_cooc_t *co, uint32_t i, uint32_t j) {
  const sr_cooc_row_t *row = &co->rows[i];
  int e = find(row, j);
  return e < 0 ? 0.0 : counts_of(row)[e] / co->inc;
}

double sr_cooc_events(const sr_cooc_t *co, uint32_t item) {
  return co->n[item] / co->inc;
}

double sr_cooc_sim(const sr_cooc_t *co, uint32_t i, uint32_t j) {
  double c = sr_cooc_count(co, i, j);
  if (c == 0)
    return 0.0;
  return c / (pow(sr_cooc_events(co, i), co->alpha[0]) *
              pow(sr_cooc_events(co, j), co->beta[0]));
}

uint32_t sr_cooc_neighbours(const sr_cooc_t *co, uint32_t item) {
  return co->rows[item].len;
}

/* Scores are ranked after division by their maximum, so the common factor
 * inc^(alpha + beta - 1) that turns raw counts into true similarities is
 * left out: raw count times the raw n^-alpha and n^-beta. */
/* Asks for the rows of a user's latest items ahead of their use. */
static void prefetch_hist(const sr_cooc_t *co, const uint32_t *hist,
                          uint32_t n_hist) {
  uint32_t ahead = n_hist < PREFETCH_ROWS ? n_hist : PREFETCH_ROWS;
  for (uint32_t a = 0; a < ahead; a++)
    __builtin_prefetch(&co->rows[hist[a]]);
  for (uint32_t a = 0; a < ahead; a++)
    prefetch_entries(&co->rows[hist[a]]);
}

/* Asks for the sums of row's neighbours [from, from + n): they are
 * scattered over every item's, one cache miss each. */
static void prefetch_sums(const sr_cooc_t *co, const sr_cooc_row_t *row,
                          uint32_t from, uint32_t n) {
  for (uint32_t e = from; e < row->len && e < from + n; e++)
    __builtin_prefetch(&co->it[row->ids[e]]);
}

uint32_t sr_cooc_score(sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                       float decay, const uint32_t *excl, uint32_t n_excl,
                       sr_scored_t *out) {
  return sr_cooc_score_norm(co, 0, hist, n_hist, decay, excl, n_excl, out);
}

uint32_t sr_cooc_score_norm(sr_cooc_t *co, uint32_t norm, const uint32_t *hist,
                            uint32_t n_hist, float decay, const uint32_t *excl,
                            uint32_t n_excl, sr_scored_t *out) {
  uint32_t touched = 0;
  float age_w = 1.0f;
  prefetch_hist(co, hist, n_hist);
  for (uint32_t a = 0; a < n_hist; a++, age_w *= decay) {
    const sr_cooc_row_t *row = &co->rows[hist[a]];
    const float *cnt = counts_of(row);
    float f = age_w * co->pow_a[hist[a] * SR_COOC_NORMS + norm];
    prefetch_sums(co, row, 0, SCORE_AHEAD);
    for (uint32_t e = 0; e < row->len; e++) {
      prefetch_sums(co, row, e + SCORE_AHEAD, 1);
      uint32_t c = row->ids[e];
      /* Listed when first reached; branch-free, as neighbours overlap in
       * no pattern a branch predictor could learn. */
      out[touched].item = c;
      touched += co->it[c].acc[0] == 0.0f;
      co->it[c].acc[0] += f * cnt[e] * co->it[c].pow_b[norm];
    }
  }
  for (uint32_t x = 0; x < n_excl; x++)
    co->it[excl[x]].acc[0] = 0.0f;
  /* An item listed twice (its sum was still 0 when seen again) reads 0 the
   * second time, as every read zeroes its sum. */
  uint32_t n = 0;
  float max = 0.0f;
  for (uint32_t t = 0; t < touched; t++) {
    uint32_t c = out[t].item;
    float s = co->it[c].acc[0];
    co->it[c].acc[0] = 0.0f;
    if (s > 0.0f) {
      out[n++] = (sr_scored_t){c, s};
      max = s > max ? s : max;
    }
  }
  for (uint32_t t = 0; t < n; t++)
    out[t].score /= max;
  return n;
}

/* Adds one neighbour entry to the sums of every normalisation; returns 1
 * when c was reached for the first time (all its sums still 0). */
static uint32_t add_all(sr_cooc_t *co, uint32_t c, const float *f, float cnt) {
  sr_cooc_item_t *it = &co->it[c];
  uint32_t first = 1;
  for (uint32_t k = 0; k < co->norms; k++) {
    first &= it->acc[k] == 0.0f;
    it->acc[k] += f[k] * cnt * it->pow_b[k];
  }
  return first;
}

/* Reads and zeroes c's sums into scores (column t); returns 1 when any is
 * positive. */
static int take_all(sr_cooc_t *co, uint32_t c, float *scores, uint32_t cap,
                    uint32_t t, float *max) {
  sr_cooc_item_t *it = &co->it[c];
  int any = 0;
  for (uint32_t k = 0; k < co->norms; k++) {
    float s = it->acc[k];
    it->acc[k] = 0.0f;
    scores[k * cap + t] = s;
    max[k] = s > max[k] ? s : max[k];
    any |= s > 0.0f;
  }
  return any;
}

uint32_t sr_cooc_score_all(sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                           float decay, const uint32_t *excl, uint32_t n_excl,
                           uint32_t *items, float *scores, uint32_t cap) {
  uint32_t touched = 0;
  float age_w = 1.0f, f[SR_COOC_NORMS], max[SR_COOC_NORMS] = {0};
  prefetch_hist(co, hist, n_hist);
  for (uint32_t a = 0; a < n_hist; a++, age_w *= decay) {
    const sr_cooc_row_t *row = &co->rows[hist[a]];
    const float *cnt = counts_of(row);
    for (uint32_t k = 0; k < co->norms; k++)
      f[k] = age_w * co->pow_a[hist[a] * SR_COOC_NORMS + k];
    prefetch_sums(co, row, 0, SCORE_AHEAD);
    for (uint32_t e = 0; e < row->len; e++) {
      prefetch_sums(co, row, e + SCORE_AHEAD, 1);
      items[touched] = row->ids[e];
      touched += add_all(co, row->ids[e], f, cnt[e]);
    }
  }
  for (uint32_t x = 0; x < n_excl; x++)
    memset(co->it[excl[x]].acc, 0, sizeof(co->it[excl[x]].acc));
  uint32_t n = 0;
  for (uint32_t t = 0; t < touched; t++) {
    uint32_t c = items[t];
    if (take_all(co, c, scores, cap, n, max))
      items[n++] = c;
  }
  for (uint32_t k = 0; k < co->norms; k++)
    for (uint32_t t = 0; t < n; t++)
      scores[k * cap + t] = max[k] > 0 ? scores[k * cap + t] / max[k] : 0.0f;
  return n;
}

int sr_cooc_scores_item(const sr_cooc_t *co, const uint32_t *hist,
                        uint32_t n_hist, float decay, uint32_t item) {
  float age_w = 1.0f, acc[SR_COOC_NORMS] = {0};
  const sr_cooc_item_t *it = &co->it[item];
  for (uint32_t a = 0; a < n_hist; a++, age_w *= decay) {
    const sr_cooc_row_t *row = &co->rows[hist[a]];
    int e = find(row, item);
    if (e < 0)
      continue;
    /* The sums of add_all, term by term. */
    for (uint32_t k = 0; k < co->norms; k++) {
      float f = age_w * co->pow_a[hist[a] * SR_COOC_NORMS + k];
      acc[k] += f * counts_of(row)[e] * it->pow_b[k];
    }
  }
  int any = 0;
  for (uint32_t k = 0; k < co->norms; k++)
    any |= acc[k] > 0.0f;
  return any;
}

int sr_cooc_near(const sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                 uint32_t item) {
  for (uint32_t a = 0; a < n_hist; a++)
    if (find(&co->rows[hist[a]], item) >= 0)
      return 1;
  return 0;
}

int sr_cooc_dump(const sr_cooc_t *co, sr_buf_t *buf) {
  int rc = sr_buf_append(buf, &co->inc, sizeof(co->inc));
  for (uint32_t i = 0; i < co->items && rc == 0; i++) {
    const sr_cooc_row_t *row = &co->rows[i];
    rc = sr_buf_append(buf, &co->n[i], sizeof(double)) ||
         sr_buf_append(buf, &row->len, sizeof(uint32_t)) ||
         sr_buf_append(buf, row->ids, row->len * sizeof(uint32_t)) ||
         sr_buf_append(buf, counts_of(row), row->len * sizeof(float));
  }
  return rc ? -1 : 0;
}

/* Loads item's row from p, which holds at least its length. Returns the
 * bytes taken, or 0 when they do not form a row. */
static uint64_t load_row(sr_cooc_t *co, uint32_t item, const char *p,
                         uint64_t left) {
  double n;
  uint32_t len;
  if (left < sizeof(n) + sizeof(len))
    return 0;
  memcpy(&n, p, sizeof(n));
  memcpy(&len, p + sizeof(n), sizeof(len));
  uint64_t need = sizeof(n) + sizeof(len) + (uint64_t)len * 8;
  if (len > co->k || need > left || !(n >= 0))
    return 0;
  sr_cooc_row_t *row = &co->rows[item];
  while (row->cap < len)
    if (grow_row(co, row) != 0)
      return 0;
  const char *ids = p + sizeof(n) + sizeof(len);
  if (len) {
    memcpy(row->ids, ids, len * sizeof(uint32_t));
    memcpy(counts_of(row), ids + len * sizeof(uint32_t), len * sizeof(float));
  }
  row->len = len;
  row->min = -1;
  for (uint32_t e = 0; e < len; e++)
    if (row->ids[e] >= co->items || row->ids[e] == item)
      return 0;
  co->n[item] = n;
  update_pow(co, item);
  return need;
}

int sr_cooc_load(sr_cooc_t *co, uint32_t items, const void *data,
                 uint64_t len) {
  const char *p = data;
  if (sr_cooc_ensure(co, items) != 0 || len < sizeof(co->inc))
    return -1;
  memcpy(&co->inc, p, sizeof(co->inc));
  if (!(co->inc >= 1.0 && co->inc <= RESCALE_AT))
    return -1;
  uint64_t at = sizeof(co->inc);
  for (uint32_t i = 0; i < items; i++) {
    uint64_t took = load_row(co, i, p + at, len - at);
    if (took == 0)
      return -1;
    at += took;
  }
  return at == len ? 0 : -1;
}

uint64_t sr_cooc_bytes(const sr_cooc_t *co) {
  uint64_t per_item = sizeof(*co->rows) + sizeof(*co->n) +
                      SR_COOC_NORMS * sizeof(*co->pow_a) + sizeof(*co->it);
  return (uint64_t)co->cap * per_item + co->row_bytes +
         (co->hist ? co->hist : 1) * sizeof(float);
}
