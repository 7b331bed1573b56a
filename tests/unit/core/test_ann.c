/* Tests of the inverted-file index against brute force: recall on random
 * and clustered factors, the additive score column, skipped rows and rows
 * added after the build, small and empty catalogues, determinism. */
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

enum { DIMS = 32, TOP = 20, USERS = 64 };

/* Rows of uniform factors, or of factors around `centers` random centres
 * with a tenth of their spread as noise (how trained factors group). */
static void fill(sr_factors_t *fac, uint32_t rows, uint32_t centers,
                 uint64_t seed) {
  sr_rng_t rng;
  sr_rng_seed(&rng, seed);
  sr_factors_init(fac, DIMS);
  float *c = malloc((size_t)(centers ? centers : 1) * DIMS * sizeof(float));
  assert_non_null(c);
  for (uint32_t i = 0; i < (centers ? centers : 1) * DIMS; i++)
    c[i] = sr_rng_sym(&rng);
  for (uint32_t r = 0; r < rows; r++) {
    assert_true(sr_factors_add(fac, &rng, 1.0f) >= 0);
    float *v = sr_factors_row(fac, r);
    if (!centers)
      continue;
    const float *cc = c + (size_t)sr_rng_below(&rng, centers) * DIMS;
    for (uint32_t k = 0; k < DIMS; k++)
      v[k] = cc[k] + 0.1f * v[k];
  }
  free(c);
}

static float dot(const float *a, const float *b) {
  float s = 0.0f;
  for (uint32_t k = 0; k < DIMS; k++)
    s += a[k] * b[k];
  return s;
}

/* The exact TOP rows of user u by u.v + bias among the count rows of
 * from (all rows when from is NULL), skipping skip[r]. */
static uint32_t best_of(const sr_factors_t *items, const float *bias,
                        const uint8_t *skip, const float *u,
                        const uint32_t *from, uint32_t count, uint32_t *top) {
  uint32_t n = 0;
  float best[TOP];
  for (uint32_t k = 0; k < count; k++) {
    uint32_t r = from ? from[k] : k;
    if (skip && skip[r])
      continue;
    float s = dot(u, sr_factors_row(items, r)) + (bias ? bias[r] : 0.0f);
    uint32_t at = n < TOP ? n++ : TOP;
    if (at == TOP && s <= best[TOP - 1])
      continue;
    if (at == TOP)
      at = TOP - 1;
    while (at > 0 && best[at - 1] < s) {
      best[at] = best[at - 1];
      top[at] = top[at - 1];
      at--;
    }
    best[at] = s;
    top[at] = r;
  }
  return n;
}

/* The exact TOP rows of user u by u.v + bias, skipping skip[r]. */
static uint32_t brute(const sr_factors_t *items, const float *bias,
                      const uint8_t *skip, const float *u, uint32_t *top) {
  return best_of(items, bias, skip, u, NULL, items->rows, top);
}

/* Mean recall@TOP of the index's candidates for want TOP, re-scored
 * exactly as a list re-scores them, against brute force. */
static double recall(sr_ann_t *ann, const sr_factors_t *items,
                     const float *bias, const uint8_t *skip,
                     const sr_factors_t *users, uint32_t probe) {
  uint32_t want[USERS], counts[USERS], exact[TOP], got[TOP];
  uint32_t *rows = malloc((size_t)USERS * 1024 * sizeof(uint32_t));
  assert_non_null(rows);
  for (uint32_t u = 0; u < USERS; u++)
    want[u] = TOP;
  sr_ann_search(ann, users->data, users->stride, USERS, probe, want, rows,
                counts);
  uint64_t hit = 0, total = 0;
  for (uint32_t u = 0; u < USERS; u++) {
    const float *uv = sr_factors_row(users, u);
    uint32_t n = brute(items, bias, skip, uv, exact);
    uint32_t m =
        best_of(items, bias, skip, uv, rows + (size_t)u * 1024, counts[u], got);
    total += n;
    for (uint32_t i = 0; i < n; i++)
      for (uint32_t j = 0; j < m; j++)
        hit += got[j] == exact[i];
  }
  free(rows);
  return total ? (double)hit / (double)total : 1.0;
}

static sr_ann_t *build(const sr_factors_t *items, const float *bias,
                       const uint8_t *skip) {
  sr_ann_conf_t conf;
  sr_ann_conf_init(&conf);
  sr_ann_t *ann = sr_ann_build(items, bias, skip, &conf);
  assert_non_null(ann);
  return ann;
}

static void test_full_probe_is_exact(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 3000, 0, 1);
  fill(&users, USERS, 0, 2);
  sr_ann_t *ann = build(&items, NULL, NULL);
  assert_int_equal(sr_ann_items(ann), 3000);
  assert_true(recall(ann, &items, NULL, NULL, &users, sr_ann_lists(ann)) ==
              1.0);
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

static void test_recall_clustered(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 20000, 50, 3);
  fill(&users, USERS, 50, 4);
  sr_ann_t *ann = build(&items, NULL, NULL);
  /* An eighth of the lists keeps nearly every true neighbour. */
  double r = recall(ann, &items, NULL, NULL, &users, sr_ann_lists(ann) / 8);
  assert_true(r >= 0.95);
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

static void test_recall_random(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 20000, 0, 5);
  fill(&users, USERS, 0, 6);
  sr_ann_t *ann = build(&items, NULL, NULL);
  /* Uniform factors have no structure to find: recall grows with the
   * lists probed, and half of them keeps most neighbours. */
  double quarter = recall(ann, &items, NULL, NULL, &users, 35);
  double half = recall(ann, &items, NULL, NULL, &users, 70);
  assert_true(half >= quarter);
  assert_true(half >= 0.8);
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

/* The bias column ranks like the exact score: one item with a bias above
 * any dot product is among every user's candidates, and first once they
 * are re-scored. */
static void test_bias_column(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 5000, 20, 7);
  fill(&users, USERS, 20, 8);
  float *bias = calloc(5000, sizeof(float));
  assert_non_null(bias);
  for (uint32_t r = 0; r < 5000; r++)
    bias[r] = 0.01f * (float)(r % 7);
  bias[1234] = 1000.0f;
  sr_ann_t *ann = build(&items, bias, NULL);
  uint32_t want[USERS], counts[USERS], rows[USERS * 1024];
  for (uint32_t u = 0; u < USERS; u++)
    want[u] = TOP;
  sr_ann_search(ann, users.data, users.stride, USERS, 8, want, rows, counts);
  for (uint32_t u = 0; u < USERS; u++) {
    uint32_t top[TOP];
    assert_int_equal(counts[u], TOP + 32); /* want and the margin */
    assert_int_equal(best_of(&items, bias, NULL, sr_factors_row(&users, u),
                             rows + u * 1024, counts[u], top),
                     TOP);
    assert_int_equal(top[0], 1234);
  }
  assert_true(recall(ann, &items, bias, NULL, &users, 8) >= 0.9);
  sr_ann_free(ann);
  free(bias);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

/* sr_ann_recall agrees with the brute-force recall of this file. */
static void test_recall_measure(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 20000, 0, 18);
  fill(&users, USERS, 0, 19);
  uint8_t *skip = calloc(20000, 1);
  assert_non_null(skip);
  for (uint32_t r = 0; r < 20000; r += 5)
    skip[r] = 1;
  sr_ann_t *ann = build(&items, NULL, skip);
  double mine = recall(ann, &items, NULL, skip, &users, 20);
  double its = sr_ann_recall(ann, &items, NULL, skip, users.data, users.stride,
                             USERS, 20, TOP);
  assert_true(fabs(mine - its) < 0.01);
  assert_true(its < 1.0);
  assert_true(sr_ann_recall(ann, &items, NULL, skip, users.data, users.stride,
                            USERS, sr_ann_lists(ann), TOP) > 0.99);
  sr_ann_free(ann);
  free(skip);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

/* Skipped rows are never candidates and are listed as side rows; rows
 * added after the build are beyond sr_ann_rows and never candidates. */
static void test_skip_and_added(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 2000, 0, 9);
  fill(&users, USERS, 0, 10);
  uint8_t skip[2000] = {0};
  for (uint32_t r = 0; r < 2000; r += 3)
    skip[r] = 1;
  sr_ann_t *ann = build(&items, NULL, skip);
  sr_rng_t rng;
  sr_rng_seed(&rng, 11);
  for (int k = 0; k < 100; k++)
    assert_true(sr_factors_add(&items, &rng, 1.0f) >= 0);
  assert_int_equal(sr_ann_rows(ann), 2000);
  uint32_t n_side;
  const uint32_t *side = sr_ann_side(ann, &n_side);
  assert_int_equal(n_side, 667);
  assert_int_equal(sr_ann_items(ann), 2000 - 667);
  for (uint32_t k = 0; k < n_side; k++)
    assert_int_equal(side[k], 3 * k);
  uint32_t want[USERS], counts[USERS], rows[USERS * 1024];
  for (uint32_t u = 0; u < USERS; u++)
    want[u] = 1024; /* more than the index holds: every indexed row */
  sr_ann_search(ann, users.data, users.stride, USERS, sr_ann_lists(ann), want,
                rows, counts);
  for (uint32_t u = 0; u < USERS; u++) {
    assert_int_equal(counts[u], 1024);
    for (uint32_t j = 0; j < counts[u]; j++) {
      assert_true(rows[u * 1024 + j] < 2000);
      assert_int_equal(skip[rows[u * 1024 + j]], 0);
    }
  }
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

/* Want beyond what the probed lists hold returns all of them, each once;
 * so does a want whose margin reaches past them; want 0 returns none. */
static void test_tiny_catalogue(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 3, 0, 12);
  fill(&users, 2, 0, 13);
  sr_ann_t *ann = build(&items, NULL, NULL);
  assert_true(sr_ann_lists(ann) >= 1);
  uint32_t want[2] = {TOP, 2}, counts[2], rows[2 * 1024];
  sr_ann_search(ann, users.data, users.stride, 2, 100, want, rows, counts);
  assert_int_equal(counts[0], 3);
  assert_int_equal(counts[1], 3);
  for (uint32_t u = 0; u < 2; u++) {
    assert_int_not_equal(rows[u * 1024], rows[u * 1024 + 1]);
    assert_int_not_equal(rows[u * 1024 + 1], rows[u * 1024 + 2]);
    assert_int_not_equal(rows[u * 1024], rows[u * 1024 + 2]);
  }
  want[1] = 0;
  sr_ann_search(ann, users.data, users.stride, 2, 100, want, rows, counts);
  assert_int_equal(counts[1], 0);
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

static void test_empty_catalogue(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 0, 0, 14);
  fill(&users, 4, 0, 15);
  sr_ann_t *ann = build(&items, NULL, NULL);
  assert_int_equal(sr_ann_items(ann), 0);
  uint32_t want[4] = {TOP, TOP, TOP, TOP}, counts[4] = {9, 9, 9, 9},
           rows[4 * 1024];
  assert_int_equal(
      sr_ann_search(ann, users.data, users.stride, 4, 8, want, rows, counts),
      0);
  for (int u = 0; u < 4; u++)
    assert_int_equal(counts[u], 0);
  sr_ann_free(ann);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

/* The same snapshot and seed give the same candidates. */
static void test_deterministic(void **state) {
  (void)state;
  sr_factors_t items, users;
  fill(&items, 4000, 10, 16);
  fill(&users, USERS, 10, 17);
  sr_ann_t *a = build(&items, NULL, NULL), *b = build(&items, NULL, NULL);
  uint32_t want[USERS], ca[USERS], cb[USERS];
  uint32_t *ra = calloc(USERS * 1024, 4), *rb = calloc(USERS * 1024, 4);
  assert_true(ra && rb);
  for (uint32_t u = 0; u < USERS; u++)
    want[u] = TOP;
  sr_ann_search(a, users.data, users.stride, USERS, 4, want, ra, ca);
  sr_ann_search(b, users.data, users.stride, USERS, 4, want, rb, cb);
  assert_memory_equal(ca, cb, sizeof(ca));
  assert_memory_equal(ra, rb, USERS * 1024 * 4);
  assert_true(sr_ann_bytes(a) > 4000 * DIMS); /* the codes at least */
  free(ra);
  free(rb);
  sr_ann_free(a);
  sr_ann_free(b);
  sr_ann_free(NULL);
  sr_factors_free(&items);
  sr_factors_free(&users);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_probe_is_exact),
      cmocka_unit_test(test_recall_clustered),
      cmocka_unit_test(test_recall_random),
      cmocka_unit_test(test_bias_column),
      cmocka_unit_test(test_recall_measure),
      cmocka_unit_test(test_skip_and_added),
      cmocka_unit_test(test_tiny_catalogue),
      cmocka_unit_test(test_empty_catalogue),
      cmocka_unit_test(test_deterministic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
