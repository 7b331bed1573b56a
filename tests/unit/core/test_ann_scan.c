/* Tests of the index's quantized scan: with every list probed, the
 * candidates re-scored exactly hold the exact best by u.v + bias, whatever
 * the
 * dimension count (a multiple of the scan's 32 bytes or not), the spread
 * of item norms, zero vectors, and shortlists cut many times over. */
#include "core/ann.h"
#include "core/factors.h"
#include "core/rng.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { USERS = 16, WANT_MAX = 1024 };

/* Uniform rows; every third one ten times longer, so that the items'
 * quantization scales differ. */
static void fill(sr_factors_t *fac, uint32_t dims, uint32_t rows,
                 uint64_t seed) {
  sr_rng_t rng;
  sr_rng_seed(&rng, seed);
  sr_factors_init(fac, dims);
  assert_int_equal(sr_factors_resize(fac, rows), 0);
  for (uint32_t r = 0; r < rows; r++) {
    float *v = sr_factors_row(fac, r);
    for (uint32_t k = 0; k < dims; k++)
      v[k] = sr_rng_sym(&rng) * (r % 3 == 0 ? 10.0f : 1.0f);
  }
}

static double score(const sr_factors_t *items, const float *bias, uint32_t r,
                    const float *u) {
  const float *v = sr_factors_row(items, r);
  double s = bias ? bias[r] : 0.0;
  for (uint32_t k = 0; k < items->dims; k++)
    s += (double)u[k] * v[k];
  return s;
}

static int by_desc(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return a > b ? -1 : a < b;
}

/* The count candidates of user u (the shortlist for want n: n and a
 * margin) re-scored exactly hold the exact best n: their n-th best scores
 * at least the exact n-th best, and no row comes twice (float rounding
 * allowed for). */
static void assert_exact_best(const sr_factors_t *items, const float *bias,
                              const float *u, const uint32_t *rows,
                              uint32_t count, uint32_t n) {
  double *all = malloc(items->rows * sizeof(double));
  double *got = malloc((count + 1) * sizeof(double));
  uint8_t *seen = calloc(items->rows, 1);
  assert_true(all && got && seen);
  for (uint32_t r = 0; r < items->rows; r++)
    all[r] = score(items, bias, r, u);
  qsort(all, items->rows, sizeof(double), by_desc);
  uint32_t margin = n / 4 > 32 ? n / 4 : 32;
  uint32_t expect = n + margin < WANT_MAX ? n + margin : WANT_MAX;
  assert_int_equal(count, expect < items->rows ? expect : items->rows);
  for (uint32_t j = 0; j < count; j++) {
    assert_false(seen[rows[j]]);
    seen[rows[j]] = 1;
    got[j] = score(items, bias, rows[j], u);
  }
  qsort(got, count, sizeof(double), by_desc);
  double tol = 1e-4 * (1.0 + fabs(all[0]));
  assert_true(got[n - 1] >= all[n - 1] - tol);
  free(all);
  free(got);
  free(seen);
}

/* Searches every list for want candidates per user and checks them. */
static void check_full_probe(uint32_t dims, uint32_t n_items, uint32_t want,
                             const float *bias, const sr_factors_t *items) {
  sr_factors_t users;
  fill(&users, dims, USERS, 100 + dims);
  sr_ann_conf_t conf;
  sr_ann_conf_init(&conf);
  sr_ann_t *ann = sr_ann_build(items, bias, NULL, &conf);
  assert_non_null(ann);
  uint32_t wants[USERS], counts[USERS];
  uint32_t *rows = malloc((size_t)USERS * WANT_MAX * sizeof(uint32_t));
  assert_non_null(rows);
  for (uint32_t u = 0; u < USERS; u++)
    wants[u] = want;
  uint64_t scored = sr_ann_search(ann, users.data, users.stride, USERS,
                                  sr_ann_lists(ann), wants, rows, counts);
  assert_int_equal(scored, (uint64_t)USERS * n_items);
  for (uint32_t u = 0; u < USERS; u++)
    assert_exact_best(items, bias, sr_factors_row(&users, u),
                      rows + (size_t)u * WANT_MAX, counts[u], want);
  free(rows);
  sr_ann_free(ann);
  sr_factors_free(&users);
}

static void test_dims(void **state) {
  (void)state;
  static const uint32_t dims[] = {5, 32, 64, 70};
  for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
    sr_factors_t items;
    fill(&items, dims[d], 3000, dims[d]);
    float *bias = malloc(3000 * sizeof(float));
    assert_non_null(bias);
    for (uint32_t r = 0; r < 3000; r++)
      bias[r] = 0.5f * (float)(r % 5);
    check_full_probe(dims[d], 3000, 50, bias, &items);
    check_full_probe(dims[d], 3000, 50, NULL, &items);
    free(bias);
    sr_factors_free(&items);
  }
}

/* A want whose shortlist (want and its margin) is the most the index
 * gives: the shortlists are cut to their length many times during one
 * search. */
static void test_many_wanted(void **state) {
  (void)state;
  sr_factors_t items;
  fill(&items, 64, 6000, 7);
  check_full_probe(64, 6000, 800, NULL, &items);
  sr_factors_free(&items);
}

/* A zero vector quantizes to the codes' offset alone: its score is its
 * bias, and a large enough bias puts it first for everyone. */
static void test_zero_vector(void **state) {
  (void)state;
  sr_factors_t items;
  fill(&items, 64, 2000, 8);
  float *bias = calloc(2000, sizeof(float));
  assert_non_null(bias);
  memset(sr_factors_row(&items, 77), 0, 64 * sizeof(float));
  bias[77] = 1e4f;
  check_full_probe(64, 2000, 20, bias, &items);
  free(bias);
  sr_factors_free(&items);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dims),
      cmocka_unit_test(test_many_wanted),
      cmocka_unit_test(test_zero_vector),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
