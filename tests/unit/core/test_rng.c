/* Tests of the model's generator: a seed gives one sequence, other seeds
 * other ones, and the draws the learner uses stay in range and uniform. */
#include "core/rng.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_same_seed_same_sequence(void **state) {
  (void)state;
  sr_rng_t a, b;
  sr_rng_seed(&a, 42);
  sr_rng_seed(&b, 42);
  for (int k = 0; k < 1000; k++)
    assert_int_equal(sr_rng_next(&a), sr_rng_next(&b));
}

static void test_other_seeds_other_sequences(void **state) {
  (void)state;
  sr_rng_t a, b, zero;
  sr_rng_seed(&a, 1);
  sr_rng_seed(&b, 2);
  sr_rng_seed(&zero, 0);
  int same = 0;
  for (int k = 0; k < 100; k++) {
    uint64_t x = sr_rng_next(&a), y = sr_rng_next(&b), z = sr_rng_next(&zero);
    same += x == y;
    /* Seed 0 does not leave the generator stuck at zero. */
    assert_true(z != 0);
  }
  assert_int_equal(same, 0);
}

static void test_below_is_in_range_and_uniform(void **state) {
  (void)state;
  enum { N = 10, DRAWS = 100000 };
  uint32_t hits[N] = {0};
  sr_rng_t rng;
  sr_rng_seed(&rng, 7);
  for (int k = 0; k < DRAWS; k++) {
    uint32_t v = sr_rng_below(&rng, N);
    assert_true(v < N);
    hits[v]++;
  }
  for (int v = 0; v < N; v++)
    assert_true(hits[v] > DRAWS / N * 95 / 100 &&
                hits[v] < DRAWS / N * 105 / 100);
  assert_int_equal(sr_rng_below(&rng, 1), 0);
}

static void test_sym_is_in_range_and_centred(void **state) {
  (void)state;
  sr_rng_t rng;
  sr_rng_seed(&rng, 3);
  double sum = 0;
  int below = 0;
  for (int k = 0; k < 100000; k++) {
    float v = sr_rng_sym(&rng);
    assert_true(v >= -1.0f && v < 1.0f);
    sum += v;
    below += v < 0;
  }
  assert_true(sum / 100000 > -0.01 && sum / 100000 < 0.01);
  assert_true(below > 49000 && below < 51000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_sequence),
      cmocka_unit_test(test_other_seeds_other_sequences),
      cmocka_unit_test(test_below_is_in_range_and_uniform),
      cmocka_unit_test(test_sym_is_in_range_and_centred),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
