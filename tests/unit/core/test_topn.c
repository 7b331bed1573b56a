/* Tests of top-N: selection (of scores, and of scored candidates) against a
 * brute-force sort, and batched and single-user scoring against a
 * double-precision dot product. */
#include "core/factors.h"
#include "core/rng.h"
#include "core/topn.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Descending score, ties by ascending item: the documented order. */
static int by_rank(const void *pa, const void *pb) {
  const sr_scored_t *a = pa, *b = pb;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  return a->item < b->item ? -1 : a->item > b->item;
}

static size_t brute_force(const float *scores, const float *bias,
                          uint32_t n_items, size_t n, sr_scored_t *out) {
  sr_scored_t *all = malloc((n_items + 1) * sizeof *all);
  assert_non_null(all);
  size_t len = 0;
  for (uint32_t i = 0; i < n_items; i++)
    if (scores[i] != -INFINITY)
      all[len++] = (sr_scored_t){i, scores[i] + (bias ? bias[i] : 0.0f)};
  qsort(all, len, sizeof *all, by_rank);
  size_t k = len < n ? len : n;
  memcpy(out, all, k * sizeof *out);
  free(all);
  return k;
}

static void check_select(sr_rng_t *rng, uint32_t n_items, size_t n,
                         int with_bias, int coarse) {
  float *scores = malloc((n_items + 1) * sizeof(float));
  float *bias = malloc((n_items + 1) * sizeof(float));
  sr_scored_t *got = malloc((n + 1) * sizeof *got);
  sr_scored_t *want = malloc((n + 1) * sizeof *want);
  assert_true(scores && bias && got && want);
  for (uint32_t i = 0; i < n_items; i++) {
    /* Coarse scores make many ties; about one item in eight is excluded. */
    scores[i] = coarse ? (float)sr_rng_below(rng, 8) : sr_rng_sym(rng);
    if (sr_rng_below(rng, 8) == 0)
      scores[i] = -INFINITY;
    bias[i] = coarse ? (float)sr_rng_below(rng, 3) : 0.5f * sr_rng_sym(rng);
  }
  const float *b = with_bias ? bias : NULL;
  size_t k = sr_topn_select(scores, b, n_items, n, got);
  size_t kw = brute_force(scores, b, n_items, n, want);
  if (k != kw)
    fail_msg("items %u n %zu bias %d: selected %zu, want %zu", n_items, n,
             with_bias, k, kw);
  for (size_t j = 0; j < k; j++)
    if (got[j].item != want[j].item || got[j].score != want[j].score)
      fail_msg("items %u n %zu bias %d coarse %d: place %zu is %u (%g), want "
               "%u (%g)",
               n_items, n, with_bias, coarse, j, got[j].item,
               (double)got[j].score, want[j].item, (double)want[j].score);
  free(scores);
  free(bias);
  free(got);
  free(want);
}

static void test_select_matches_brute_force(void **state) {
  (void)state;
  static const uint32_t sizes[] = {0, 1, 2, 3, 7, 16, 100, 1000, 5000};
  static const size_t ns[] = {1, 2, 5, 10, 20, 100, 6000};
  sr_rng_t rng;
  sr_rng_seed(&rng, 11);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
      for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int coarse = 0; coarse < 2; coarse++)
          for (int rep = 0; rep < 3; rep++)
            check_select(&rng, sizes[s], ns[k], with_bias, coarse);
}

static void test_select_ties_excluded_and_bias(void **state) {
  (void)state;
  const float scores[] = {1, -INFINITY, 2, 1, 2, 0, -INFINITY};
  const float bias[] = {0, 100, 0, 1.5f, -1, 0, 0};
  sr_scored_t out[8];
  /* Ties go to the lower item; excluded items never appear, even when n
   * exceeds the items left. */
  size_t k = sr_topn_select(scores, NULL, 7, 8, out);
  assert_int_equal(k, 5);
  const uint32_t want[] = {2, 4, 0, 3, 5};
  for (size_t j = 0; j < k; j++)
    assert_int_equal(out[j].item, want[j]);
  /* Bias is added before ranking, not to excluded items. */
  k = sr_topn_select(scores, bias, 7, 3, out);
  assert_int_equal(k, 3);
  assert_int_equal(out[0].item, 3);
  assert_true(out[0].score == 2.5f);
  assert_int_equal(out[1].item, 2);
  assert_int_equal(out[2].item, 0);
  assert_true(out[2].score == 1.0f);
  /* n = 0 selects nothing; all excluded selects nothing. */
  assert_int_equal(sr_topn_select(scores, NULL, 7, 0, out), 0);
  const float none[] = {-INFINITY, -INFINITY};
  assert_int_equal(sr_topn_select(none, NULL, 2, 5, out), 0);
}

/* sr_topn_pick over candidates in scattered order (distinct items, many
 * tied scores) gives the head of the fully sorted list. */
static void test_pick_matches_sort(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 5, 20, 21, 300, 5000};
  static const size_t ns[] = {0, 1, 10, 20, 6000};
  sr_rng_t rng;
  sr_rng_seed(&rng, 12);
  for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
      for (int coarse = 0; coarse < 2; coarse++) {
        size_t len = lens[l], n = ns[k];
        sr_scored_t *cand = malloc((len + 1) * sizeof *cand);
        sr_scored_t *want = malloc((len + 1) * sizeof *want);
        sr_scored_t *got = malloc((n + 1) * sizeof *got);
        assert_true(cand && want && got);
        /* Items in a shuffled order, as index lists give them. */
        for (size_t j = 0; j < len; j++)
          cand[j].item = (uint32_t)j * 7u;
        for (size_t j = len; j > 1; j--) {
          size_t r = sr_rng_below(&rng, (uint32_t)j);
          uint32_t t = cand[j - 1].item;
          cand[j - 1].item = cand[r].item;
          cand[r].item = t;
        }
        for (size_t j = 0; j < len; j++)
          cand[j].score =
              coarse ? (float)sr_rng_below(&rng, 4) : sr_rng_sym(&rng);
        memcpy(want, cand, len * sizeof *cand);
        qsort(want, len, sizeof *want, by_rank);
        size_t got_n = sr_topn_pick(cand, len, n, got);
        assert_int_equal(got_n, len < n ? len : n);
        for (size_t j = 0; j < got_n; j++)
          if (got[j].item != want[j].item || got[j].score != want[j].score)
            fail_msg("len %zu n %zu coarse %d: place %zu is %u, want %u", len,
                     n, coarse, j, got[j].item, want[j].item);
        free(cand);
        free(want);
        free(got);
      }
}

/* Naive double-precision user . item. */
static double dot_d(const float *a, const float *b, uint32_t dims) {
  double s = 0;
  for (uint32_t f = 0; f < dims; f++)
    s += (double)a[f] * (double)b[f];
  return s;
}

static void assert_close(double got, double want, const char *what,
                         uint32_t dims, uint32_t u, uint32_t i) {
  if (fabs(got - want) > 1e-4 * (1.0 + fabs(want)))
    fail_msg("%s dims %u user %u item %u: %.7g, want %.7g", what, dims, u, i,
             got, want);
}

static void check_scores(uint32_t dims, uint32_t n_items, uint32_t n_users) {
  sr_rng_t rng;
  sr_rng_seed(&rng, 1000 + dims);
  sr_factors_t items, users;
  sr_factors_init(&items, dims);
  sr_factors_init(&users, dims);
  for (uint32_t i = 0; i < n_items; i++)
    assert_true(sr_factors_add(&items, &rng, 1.0f) >= 0);
  for (uint32_t u = 0; u < n_users; u++)
    assert_true(sr_factors_add(&users, &rng, 1.0f) >= 0);
  float *bias = malloc(n_items * sizeof(float));
  float *scores = malloc((size_t)n_users * n_items * sizeof(float));
  assert_true(bias && scores);
  for (uint32_t i = 0; i < n_items; i++)
    bias[i] = sr_rng_sym(&rng);

  /* Batched: users packed at the item stride, one sgemm. */
  sr_topn_score(users.data, n_users, &items, scores);
  for (uint32_t u = 0; u < n_users; u++)
    for (uint32_t i = 0; i < n_items; i++)
      assert_close(
          scores[(size_t)u * n_items + i],
          dot_d(sr_factors_row(&users, u), sr_factors_row(&items, i), dims),
          "batched", dims, u, i);

  /* One user at a time, with and without the bias. */
  for (uint32_t u = 0; u < n_users; u++) {
    const float *urow = sr_factors_row(&users, u);
    sr_topn_score_one(urow, &items, NULL, scores);
    for (uint32_t i = 0; i < n_items; i++)
      assert_close(scores[i], dot_d(urow, sr_factors_row(&items, i), dims),
                   "one", dims, u, i);
    sr_topn_score_one(urow, &items, bias, scores);
    for (uint32_t i = 0; i < n_items; i++)
      assert_close(scores[i],
                   dot_d(urow, sr_factors_row(&items, i), dims) + bias[i],
                   "one+bias", dims, u, i);
  }
  free(bias);
  free(scores);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

static void test_scores_match_double_dot(void **state) {
  (void)state;
  static const uint32_t dims[] = {1, 10, 16, 33, 64};
  /* Item counts not a multiple of 4 exercise the kernels' tails; one user
   * takes the single-user path inside sr_topn_score. */
  static const uint32_t items[] = {1, 3, 257, 1000};
  static const uint32_t users[] = {1, 2, 5, 70};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
      for (size_t u = 0; u < sizeof users / sizeof users[0]; u++)
        check_scores(dims[d], items[i], users[u]);
}

/* sr_topn_score_rows gives each listed row, in any order, the very bits
 * sr_topn_score_one gives it: the rows in whole blocks of four and the
 * tail rows are summed in different orders, and each must be matched. */
static void test_rows_match_score_one_bitwise(void **state) {
  (void)state;
  static const uint32_t dims[] = {1, 10, 32, 64};
  static const uint32_t items[] = {1, 3, 6, 257};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t n = 0; n < sizeof items / sizeof items[0]; n++) {
      sr_rng_t rng;
      sr_rng_seed(&rng, 77 + dims[d]);
      sr_factors_t fac, user;
      sr_factors_init(&fac, dims[d]);
      sr_factors_init(&user, dims[d]);
      for (uint32_t i = 0; i < items[n]; i++)
        assert_true(sr_factors_add(&fac, &rng, 1.0f) >= 0);
      assert_true(sr_factors_add(&user, &rng, 1.0f) >= 0);
      uint32_t m = items[n];
      float *bias = malloc(m * sizeof(float)), *all = malloc(m * sizeof(float));
      float *got = malloc(m * sizeof(float));
      uint32_t *rows = malloc(m * sizeof(uint32_t));
      assert_true(bias && all && got && rows);
      for (uint32_t i = 0; i < m; i++) {
        bias[i] = 10.0f * sr_rng_sym(&rng);
        rows[i] = m - 1 - i; /* backwards: order must not matter */
      }
      for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b = with_bias ? bias : NULL;
        sr_topn_score_one(sr_factors_row(&user, 0), &fac, b, all);
        sr_topn_score_rows(sr_factors_row(&user, 0), &fac, rows, m, b, got);
        for (uint32_t k = 0; k < m; k++)
          if (memcmp(&got[k], &all[rows[k]], sizeof(float)) != 0)
            fail_msg("dims %u, %u items, row %u: %.9g, score_one %.9g", dims[d],
                     m, rows[k], got[k], all[rows[k]]);
      }
      free(bias);
      free(all);
      free(got);
      free(rows);
      sr_factors_free(&fac);
      sr_factors_free(&user);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_matches_brute_force),
      cmocka_unit_test(test_select_ties_excluded_and_bias),
      cmocka_unit_test(test_pick_matches_sort),
      cmocka_unit_test(test_scores_match_double_dot),
      cmocka_unit_test(test_rows_match_score_one_bitwise),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
