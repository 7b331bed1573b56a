/* Tests of decayed popularity: counts halve every half-life, plain counts
 * without decay, and rescaling that keeps counts and ranking. */
#include "core/popular.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void assert_rel(double got, double want, double tol, const char *what) {
  if (fabs(got - want) > tol * fabs(want))
    fail_msg("%s is %.12g, want %.12g", what, got, want);
}

static void test_new_items_have_no_count(void **state) {
  (void)state;
  sr_popular_t pop;
  sr_popular_init(&pop, 100);
  assert_int_equal(sr_popular_ensure(&pop, 3), 0);
  assert_int_equal(sr_popular_add(&pop, 1, 1.0), 0);
  assert_int_equal(sr_popular_ensure(&pop, 1000), 0);
  assert_int_equal(pop.items, 1000);
  assert_true(sr_popular_count(&pop, 1) > 0.99);
  for (uint32_t i = 0; i < 1000; i++)
    if (i != 1) {
      assert_true(sr_popular_count(&pop, i) == 0.0);
      assert_true(pop.logc[i] == SR_POPULAR_NONE);
    }
  sr_popular_free(&pop);
}

static void test_plain_counts_without_half_life(void **state) {
  (void)state;
  sr_popular_t pop;
  sr_popular_init(&pop, 0);
  assert_int_equal(sr_popular_ensure(&pop, 4), 0);
  for (int k = 0; k < 1000; k++)
    assert_int_equal(sr_popular_add(&pop, (uint32_t)(k % 4 == 0 ? 0 : 2), 1.0),
                     0);
  assert_int_equal(sr_popular_add(&pop, 3, 2.5), 0);
  assert_true(sr_popular_count(&pop, 0) == 250.0);
  assert_true(sr_popular_count(&pop, 2) == 750.0);
  assert_true(sr_popular_count(&pop, 3) == 2.5);
  assert_true(sr_popular_count(&pop, 1) == 0.0);
  assert_rel(pop.logc[2], log(750.0), 1e-6, "logc[2]");
  sr_popular_free(&pop);
}

static void test_counts_halve_after_half_life(void **state) {
  (void)state;
  sr_popular_t pop;
  sr_popular_init(&pop, 10);
  assert_int_equal(sr_popular_ensure(&pop, 2), 0);
  /* One event on item 0, then nine on item 1: ten decays in all. */
  sr_popular_add(&pop, 0, 1.0);
  for (int k = 0; k < 9; k++)
    sr_popular_add(&pop, 1, 1.0);
  assert_rel(sr_popular_count(&pop, 0), 0.5, 1e-12, "count after 1 half-life");
  for (int k = 0; k < 10; k++)
    sr_popular_add(&pop, 1, 1.0);
  assert_rel(sr_popular_count(&pop, 0), 0.25, 1e-12,
             "count after 2 half-lives");
  /* Item 1 received weight 1 at each of the last 19 events. */
  double want = 0;
  for (int age = 1; age <= 19; age++)
    want += pow(2.0, -age / 10.0);
  assert_rel(sr_popular_count(&pop, 1), want, 1e-12, "count of item 1");
  /* logc ranks items like their counts. */
  assert_true(pop.logc[1] > pop.logc[0]);
  assert_rel(pop.logc[1] - pop.logc[0],
             log(sr_popular_count(&pop, 1) / sr_popular_count(&pop, 0)), 1e-5,
             "log ratio");
  sr_popular_free(&pop);
}

static void test_counts_halve_after_half_life_in_time(void **state) {
  (void)state;
  sr_popular_t pop;
  sr_popular_init(&pop, 0);
  sr_popular_set_half_life_ms(&pop, 1000);
  assert_int_equal(sr_popular_ensure(&pop, 2), 0);
  /* The first time seen decays nothing; time is what decays, not events. */
  assert_int_equal(sr_popular_advance_ms(&pop, 5000), 0);
  sr_popular_add(&pop, 0, 1.0);
  for (int k = 0; k < 50; k++) {
    assert_int_equal(sr_popular_advance_ms(&pop, 5000), 0);
    sr_popular_add(&pop, 1, 1.0);
  }
  assert_rel(sr_popular_count(&pop, 0), 1.0, 1e-12, "count at the same time");
  assert_int_equal(sr_popular_advance_ms(&pop, 6000), 0);
  assert_rel(sr_popular_count(&pop, 0), 0.5, 1e-12, "count after 1 s");
  assert_int_equal(sr_popular_advance_ms(&pop, 7500), 0);
  assert_rel(sr_popular_count(&pop, 0), pow(2.0, -2.5), 1e-12,
             "count after 2.5 s");
  /* Time never goes back: an earlier stamp decays nothing. */
  assert_int_equal(sr_popular_advance_ms(&pop, 7000), 0);
  assert_rel(sr_popular_count(&pop, 0), pow(2.0, -2.5), 1e-12,
             "count after a stamp from the past");
  assert_rel(sr_popular_count(&pop, 1), 50 * pow(2.0, -2.5), 1e-12,
             "count of item 1");
  /* Years later every count is rescaled to nothing, and rescaling says
   * so. */
  assert_int_equal(sr_popular_advance_ms(&pop, 7500 + 400000000000LL), 1);
  assert_true(sr_popular_count(&pop, 1) == 0.0);
  sr_popular_free(&pop);
}

static void test_rescale_keeps_counts_and_ranking(void **state) {
  (void)state;
  /* A half-life of 2 events doubles the increment every two events, so
   * rescaling (at 1e100 ~ 2^332) happens every ~665 events. */
  enum { ITEMS = 5, EVENTS = 3000 };
  const double half_life = 2.0, decay = pow(2.0, -1.0 / half_life);
  static const uint32_t pattern[] = {0, 1, 0, 2, 0, 1, 3, 0, 4, 1};
  double ref[ITEMS] = {0};
  sr_popular_t pop;
  sr_popular_init(&pop, half_life);
  assert_int_equal(sr_popular_ensure(&pop, ITEMS), 0);
  int rescales = 0;
  for (int k = 0; k < EVENTS; k++) {
    uint32_t item = pattern[k % 10];
    double w = 1.0 + (double)(k % 3);
    rescales += sr_popular_add(&pop, item, w);
    ref[item] += w;
    for (int i = 0; i < ITEMS; i++)
      ref[i] *= decay;
    assert_true(pop.inc <= 1e100);
    for (uint32_t i = 0; i < ITEMS; i++) {
      assert_rel(sr_popular_count(&pop, i), ref[i], 1e-9, "decayed count");
      /* Every logc is current: log of the raw count, or none. */
      if (ref[i] == 0)
        assert_true(pop.logc[i] == SR_POPULAR_NONE);
      else
        assert_true(fabs(pop.logc[i] - log(pop.counts[i])) < 1e-4);
    }
    for (uint32_t a = 0; a < ITEMS; a++)
      for (uint32_t b = 0; b < ITEMS; b++)
        if (ref[a] > ref[b] * (1 + 1e-3))
          assert_true(pop.logc[a] > pop.logc[b]);
  }
  assert_true(rescales >= 3);
  sr_popular_free(&pop);
}

static void test_refresh_after_loading_counts(void **state) {
  (void)state;
  sr_popular_t pop;
  sr_popular_init(&pop, 50);
  assert_int_equal(sr_popular_ensure(&pop, 3), 0);
  /* A restore loads raw counts and the increment, then refreshes. */
  pop.counts[0] = 4e120;
  pop.counts[1] = 2e120;
  pop.counts[2] = 0;
  pop.inc = 2e120;
  assert_int_equal(sr_popular_refresh(&pop), 1);
  assert_true(pop.inc == 1.0);
  assert_rel(sr_popular_count(&pop, 0), 2.0, 1e-12, "count 0");
  assert_rel(sr_popular_count(&pop, 1), 1.0, 1e-12, "count 1");
  assert_true(pop.logc[2] == SR_POPULAR_NONE);
  assert_rel(pop.logc[0], log(2.0), 1e-6, "logc 0");
  /* Below the threshold nothing is rescaled. */
  pop.inc = 8.0;
  assert_int_equal(sr_popular_refresh(&pop), 0);
  assert_true(pop.inc == 8.0);
  sr_popular_free(&pop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_items_have_no_count),
      cmocka_unit_test(test_plain_counts_without_half_life),
      cmocka_unit_test(test_counts_halve_after_half_life),
      cmocka_unit_test(test_counts_halve_after_half_life_in_time),
      cmocka_unit_test(test_rescale_keeps_counts_and_ranking),
      cmocka_unit_test(test_refresh_after_loading_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
