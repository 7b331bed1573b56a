/* Tests of the update rules against hand-computed numbers, and of negative
 * sampling from the recent-traffic window. */
#include "core/learner.h"
#include "core/rng.h"
#include "core/seen.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EPS 1e-6

static void assert_near(double got, double want, const char *what) {
  if (fabs(got - want) > EPS)
    fail_msg("%s is %.9g, want %.9g", what, got, want);
}

static void test_dot(void **state) {
  (void)state;
  const float a[] = {1, 2, 3, 4, 5}, b[] = {0.5f, -1, 2, 0, -0.25f};
  assert_near(sr_learner_dot(a, b, 5), 0.5 - 2 + 6 + 0 - 1.25, "a.b");
  assert_near(sr_learner_dot(a, b, 0), 0, "empty dot");
}

static void test_step_positive(void **state) {
  (void)state;
  /* u.v = 0, target 1: err = 1; keep = 1 - 0.1*0.5 = 0.95;
   * g = lr*w*err = 0.1*2*1 = 0.2.
   * u' = 0.95*(0.5, 1) + 0.2*(1, -0.5) = (0.675, 0.85)
   * v' = 0.95*(1, -0.5) + 0.2*(0.5, 1) = (1.05, -0.275) */
  float u[] = {0.5f, 1.0f}, v[] = {1.0f, -0.5f};
  float err = sr_learner_step(u, v, 2, 1.0f, 2.0f, 0.1f, 0.5f);
  assert_near(err, 1.0, "err");
  assert_near(u[0], 0.675, "u'[0]");
  assert_near(u[1], 0.85, "u'[1]");
  assert_near(v[0], 1.05, "v'[0]");
  assert_near(v[1], -0.275, "v'[1]");
}

static void test_step_negative_uses_old_u(void **state) {
  (void)state;
  /* u.v = 0.5 + 0.5 - 1.5 = -0.5, target 0: err = 0.5;
   * keep = 1 - 0.05*0.1 = 0.995; g = 0.05*1*0.5 = 0.025.
   * u' = 0.995*(1, 2, 3) + 0.025*(0.5, 0.25, -0.5)
   *    = (1.0075, 1.99625, 2.9725)
   * v' = 0.995*(0.5, 0.25, -0.5) + 0.025*(1, 2, 3)   (u before the step)
   *    = (0.5225, 0.29875, -0.4225) */
  float u[] = {1, 2, 3}, v[] = {0.5f, 0.25f, -0.5f};
  float err = sr_learner_step(u, v, 3, 0.0f, 1.0f, 0.05f, 0.1f);
  assert_near(err, 0.5, "err");
  assert_near(u[0], 1.0075, "u'[0]");
  assert_near(u[1], 1.99625, "u'[1]");
  assert_near(u[2], 2.9725, "u'[2]");
  assert_near(v[0], 0.5225, "v'[0]");
  assert_near(v[1], 0.29875, "v'[1]");
  assert_near(v[2], -0.4225, "v'[2]");
}

static void test_step_weight_zero_only_shrinks(void **state) {
  (void)state;
  /* w = 0: no pull towards the target, only the L2 shrink (1 - 0.2*0.5). */
  float u[] = {1, -2}, v[] = {4, 0.5f};
  float err = sr_learner_step(u, v, 2, 1.0f, 0.0f, 0.2f, 0.5f);
  assert_near(err, 1.0 - (4 - 1), "err");
  assert_near(u[0], 0.9, "u'[0]");
  assert_near(u[1], -1.8, "u'[1]");
  assert_near(v[0], 3.6, "v'[0]");
  assert_near(v[1], 0.45, "v'[1]");
}

static void test_steps_converge_to_target(void **state) {
  (void)state;
  float u[] = {0.1f, -0.05f, 0.02f, 0.07f}, v[] = {0.03f, 0.08f, -0.1f, 0.05f};
  float first = fabsf(sr_learner_step(u, v, 4, 1.0f, 1.0f, 0.1f, 0.0f));
  float last = first;
  for (int i = 0; i < 300; i++)
    last = fabsf(sr_learner_step(u, v, 4, 1.0f, 1.0f, 0.1f, 0.0f));
  assert_true(first > 0.9f);
  assert_true(last < 1e-3f);
  for (int i = 0; i < 300; i++)
    last = fabsf(sr_learner_step(u, v, 4, 0.0f, 1.0f, 0.1f, 0.0f));
  /* Towards 0 the rows shrink with the error, so progress slows. */
  assert_true(fabsf(sr_learner_dot(u, v, 4)) < 0.05f);
}

static void test_rating_biased_mf(void **state) {
  (void)state;
  /* prediction = mu + bu + bi + u.v = 3 + 0.5 - 0.25 + 0 = 3.25; r = 4:
   * err = 0.75.
   * bu' = 0.5 + 0.2*(0.75 - 0.1*0.5) = 0.64
   * bi' = -0.25 + 0.2*(0.75 + 0.1*0.25) = -0.095
   * keep = 1 - 0.1*0.5 = 0.95, g = 0.1*0.75 = 0.075
   * u' = 0.95*(0.5, 1) + 0.075*(1, -0.5) = (0.55, 0.9125)
   * v' = 0.95*(1, -0.5) + 0.075*(0.5, 1) = (0.9875, -0.4) */
  float u[] = {0.5f, 1.0f}, v[] = {1.0f, -0.5f}, bu = 0.5f, bi = -0.25f;
  float err =
      sr_learner_rating(u, v, &bu, &bi, 3.0f, 4.0f, 2, 0.1f, 0.5f, 0.2f, 0.1f);
  assert_near(err, 0.75, "err");
  assert_near(bu, 0.64, "bu'");
  assert_near(bi, -0.095, "bi'");
  assert_near(u[0], 0.55, "u'[0]");
  assert_near(u[1], 0.9125, "u'[1]");
  assert_near(v[0], 0.9875, "v'[0]");
  assert_near(v[1], -0.4, "v'[1]");
}

static void test_rating_error_shrinks(void **state) {
  (void)state;
  float u[] = {0.1f, 0.1f, -0.1f}, v[] = {0.05f, -0.1f, 0.1f};
  float bu = 0, bi = 0;
  float first = fabsf(sr_learner_rating(u, v, &bu, &bi, 3.0f, 1.0f, 3, 0.05f,
                                        0.01f, 0.05f, 0.01f));
  float last = first;
  for (int i = 0; i < 500; i++)
    last = fabsf(sr_learner_rating(u, v, &bu, &bi, 3.0f, 1.0f, 3, 0.05f, 0.01f,
                                   0.05f, 0.01f));
  assert_true(first > 1.9f);
  assert_true(last < 0.1f);
  assert_true(bu < 0 && bi < 0);
}

/* A window and seen rings for users 0 and 1. */
typedef struct fixture {
  sr_recent_t rec;
  sr_seen_t seen;
  sr_rng_t rng;
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx || sr_recent_init(&fx->rec, 100) != 0)
    return -1;
  sr_seen_init(&fx->seen, 0);
  if (sr_seen_ensure(&fx->seen, 2) != 0)
    return -1;
  sr_rng_seed(&fx->rng, 1);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  sr_recent_free(&fx->rec);
  sr_seen_free(&fx->seen);
  free(fx);
  return 0;
}

static void test_sample_empty_window(void **state) {
  fixture_t *fx = *state;
  uint32_t out[4] = {7, 7, 7, 7};
  assert_int_equal(
      sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 0, 99, out, 4), 0);
}

static void test_sample_skips_seen_and_skip_distinct(void **state) {
  fixture_t *fx = *state;
  for (uint32_t i = 0; i < 100; i++)
    sr_recent_push(&fx->rec, i % 20);
  /* User 0 has seen items 0..9; the positive item is 15. */
  for (uint32_t i = 0; i < 10; i++)
    assert_int_equal(sr_seen_add(&fx->seen, 0, i), 0);
  uint32_t hits[20] = {0};
  for (int round = 0; round < 2000; round++) {
    uint32_t out[4];
    uint32_t n = sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 0, 15, out, 4);
    assert_true(n <= 4);
    for (uint32_t a = 0; a < n; a++) {
      if (out[a] < 10 || out[a] == 15 || out[a] >= 20)
        fail_msg("drew item %u (seen, skipped or never pushed)", out[a]);
      for (uint32_t b = a + 1; b < n; b++)
        assert_int_not_equal(out[a], out[b]);
      hits[out[a]]++;
    }
  }
  /* Nine eligible items, each drawn often. */
  for (uint32_t i = 10; i < 20; i++)
    if (i != 15)
      assert_true(hits[i] > 300);
  /* User 1 has seen nothing: every item but the skipped one is eligible. */
  uint32_t out[8];
  uint32_t n = sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 1, 3, out, 8);
  assert_true(n >= 6);
  for (uint32_t a = 0; a < n; a++)
    assert_int_not_equal(out[a], 3);
}

static void test_sample_is_popularity_proportional(void **state) {
  fixture_t *fx = *state;
  /* Item 5 is 60 of the 100 events in the window; items 10..49 one each. */
  for (uint32_t i = 0; i < 100; i++)
    sr_recent_push(&fx->rec, i % 5 < 3 ? 5 : 10 + i / 5 * 2 + (i % 5 - 3));
  uint32_t hits[50] = {0};
  const uint32_t draws = 20000;
  for (uint32_t round = 0; round < draws; round++) {
    uint32_t out[1];
    uint32_t n =
        sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 1, 999, out, 1);
    assert_int_equal(n, 1);
    assert_true(out[0] < 50);
    hits[out[0]]++;
  }
  /* Expect 60 % for item 5, about 1 % for each other item. */
  assert_true(hits[5] > draws * 55 / 100 && hits[5] < draws * 65 / 100);
  for (uint32_t i = 10; i < 50; i++)
    assert_true(hits[i] > 0 && hits[i] < draws * 3 / 100);
}

static void test_window_drops_oldest(void **state) {
  fixture_t *fx = *state;
  /* 100 old events on item 1, then 100 new ones on items 2 and 3. */
  for (uint32_t i = 0; i < 100; i++)
    sr_recent_push(&fx->rec, 1);
  for (uint32_t i = 0; i < 100; i++)
    sr_recent_push(&fx->rec, 2 + i % 2);
  assert_int_equal(fx->rec.len, 100);
  for (int round = 0; round < 500; round++) {
    uint32_t out[2];
    uint32_t n =
        sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 1, 999, out, 2);
    for (uint32_t a = 0; a < n; a++)
      assert_true(out[a] == 2 || out[a] == 3);
  }
}

static void test_sample_gives_up_when_nothing_eligible(void **state) {
  fixture_t *fx = *state;
  for (uint32_t i = 0; i < 50; i++)
    sr_recent_push(&fx->rec, i % 3);
  assert_int_equal(sr_seen_add(&fx->seen, 0, 0), 0);
  assert_int_equal(sr_seen_add(&fx->seen, 0, 1), 0);
  uint32_t out[8];
  /* Items 0 and 1 are seen and 2 is skipped: nothing to draw, no hang. */
  assert_int_equal(
      sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 0, 2, out, 8), 0);
  /* Fewer eligible items than asked: each once. */
  uint32_t n = sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 1, 2, out, 8);
  assert_int_equal(n, 2);
  assert_true((out[0] == 0 && out[1] == 1) || (out[0] == 1 && out[1] == 0));
}

static void test_window_rebuilt_oldest_first_draws_alike(void **state) {
  (void)state;
  /* A wrapped window and the same items pushed oldest-first into a fresh
   * one (what a restore from a snapshot does) must draw the same items
   * from the same RNG state, or a restored model drifts apart. */
  sr_recent_t wrapped, rebuilt;
  sr_seen_t seen;
  sr_rng_t rng_a, rng_b;
  assert_int_equal(sr_recent_init(&wrapped, 7), 0);
  assert_int_equal(sr_recent_init(&rebuilt, 7), 0);
  sr_seen_init(&seen, 0);
  assert_int_equal(sr_seen_ensure(&seen, 1), 0);
  for (uint32_t i = 0; i < 25; i++)
    sr_recent_push(&wrapped, i);
  for (uint32_t i = 25 - 7; i < 25; i++)
    sr_recent_push(&rebuilt, i);
  sr_rng_seed(&rng_a, 5);
  sr_rng_seed(&rng_b, 5);
  for (int round = 0; round < 200; round++) {
    uint32_t a[3], b[3];
    uint32_t na = sr_recent_sample(&wrapped, &rng_a, &seen, 0, 20, a, 3);
    uint32_t nb = sr_recent_sample(&rebuilt, &rng_b, &seen, 0, 20, b, 3);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof a[0]);
  }
  sr_recent_free(&wrapped);
  sr_recent_free(&rebuilt);
  sr_seen_free(&seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dot),
      cmocka_unit_test(test_step_positive),
      cmocka_unit_test(test_step_negative_uses_old_u),
      cmocka_unit_test(test_step_weight_zero_only_shrinks),
      cmocka_unit_test(test_steps_converge_to_target),
      cmocka_unit_test(test_rating_biased_mf),
      cmocka_unit_test(test_rating_error_shrinks),
      cmocka_unit_test_setup_teardown(test_sample_empty_window, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_sample_skips_seen_and_skip_distinct,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_sample_is_popularity_proportional,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_drops_oldest, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_sample_gives_up_when_nothing_eligible, setup, teardown),
      cmocka_unit_test(test_window_rebuilt_oldest_first_draws_alike),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
