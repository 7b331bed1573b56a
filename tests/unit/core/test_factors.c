/* Tests of the factor matrices: aligned rows, zero padding, growth that
 * keeps contents and a deterministic initialisation for a seed. */
#include "core/factors.h"
#include "core/rng.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void check_layout(const sr_factors_t *fac) {
  for (uint32_t r = 0; r < fac->rows; r++) {
    const float *row = sr_factors_row(fac, r);
    if ((uintptr_t)row % 64 != 0)
      fail_msg("row %u at %p is not 64-byte aligned", r, (const void *)row);
    for (uint32_t f = fac->dims; f < fac->stride; f++)
      if (row[f] != 0.0f)
        fail_msg("row %u padding column %u is %g", r, f, (double)row[f]);
  }
}

static void test_stride_rounds_to_16_floats(void **state) {
  (void)state;
  static const uint32_t dims[] = {1, 15, 16, 17, 33, 64, 100};
  static const uint32_t stride[] = {16, 16, 16, 32, 48, 64, 112};
  for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
    sr_factors_t fac;
    sr_factors_init(&fac, dims[k]);
    assert_int_equal(fac.dims, dims[k]);
    assert_int_equal(fac.stride, stride[k]);
    assert_int_equal(fac.rows, 0);
    sr_factors_free(&fac);
  }
}

static void test_rows_aligned_padding_zero(void **state) {
  (void)state;
  static const uint32_t dims[] = {1, 10, 16, 33};
  for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
    sr_factors_t fac;
    sr_rng_t rng;
    sr_factors_init(&fac, dims[k]);
    sr_rng_seed(&rng, 7);
    for (uint32_t r = 0; r < 600; r++)
      assert_int_equal(sr_factors_add(&fac, &rng, 0.5f), r);
    assert_int_equal(fac.rows, 600);
    assert_true(fac.cap >= 600);
    check_layout(&fac);
    /* Values are uniform in [-scale, scale) and not all alike. */
    float lo = 1, hi = -1;
    for (uint32_t r = 0; r < fac.rows; r++)
      for (uint32_t f = 0; f < fac.dims; f++) {
        float x = sr_factors_row(&fac, r)[f];
        assert_true(x >= -0.5f && x < 0.5f);
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
    assert_true(lo < -0.4f && hi > 0.4f);
    sr_factors_free(&fac);
  }
}

static void test_growth_keeps_contents(void **state) {
  (void)state;
  sr_factors_t fac;
  sr_rng_t rng;
  sr_factors_init(&fac, 20);
  sr_rng_seed(&rng, 3);
  for (uint32_t r = 0; r < 100; r++)
    assert_int_equal(sr_factors_add(&fac, &rng, 1.0f), r);
  /* Rows written by hand must survive every reallocation. */
  for (uint32_t r = 0; r < 100; r++)
    for (uint32_t f = 0; f < fac.dims; f++)
      sr_factors_row(&fac, r)[f] = (float)r + (float)f / 32.0f;
  uint32_t cap0 = fac.cap;
  for (uint32_t r = 100; r < 5000; r++)
    assert_int_equal(sr_factors_add(&fac, &rng, 1.0f), r);
  assert_true(fac.cap > cap0);
  for (uint32_t r = 0; r < 100; r++)
    for (uint32_t f = 0; f < fac.dims; f++)
      assert_true(sr_factors_row(&fac, r)[f] == (float)r + (float)f / 32.0f);
  check_layout(&fac);
  assert_true(sr_factors_bytes(&fac) >= (uint64_t)5000 * 32 * sizeof(float));

  /* Resizing (for restores) keeps rows and zeroes new ones. */
  assert_int_equal(sr_factors_resize(&fac, 9000), 0);
  assert_int_equal(fac.rows, 9000);
  assert_true(sr_factors_row(&fac, 42)[3] == 42.0f + 3.0f / 32.0f);
  for (uint32_t r = 5000; r < 9000; r++)
    for (uint32_t f = 0; f < fac.stride; f++)
      assert_true(sr_factors_row(&fac, r)[f] == 0.0f);
  check_layout(&fac);
  sr_factors_free(&fac);
  assert_null(fac.data);
  assert_int_equal(fac.rows, 0);
}

static void fill(sr_factors_t *fac, uint32_t dims, uint64_t seed,
                 uint32_t rows) {
  sr_rng_t rng;
  sr_factors_init(fac, dims);
  sr_rng_seed(&rng, seed);
  for (uint32_t r = 0; r < rows; r++)
    assert_int_equal(sr_factors_add(fac, &rng, 0.1f), r);
}

static void test_deterministic_init_for_a_seed(void **state) {
  (void)state;
  sr_factors_t a, b, c;
  fill(&a, 33, 42, 300);
  fill(&b, 33, 42, 300);
  fill(&c, 33, 43, 300);
  size_t bytes = (size_t)300 * a.stride * sizeof(float);
  assert_memory_equal(a.data, b.data, bytes);
  assert_memory_not_equal(a.data, c.data, bytes);
  sr_factors_free(&a);
  sr_factors_free(&b);
  sr_factors_free(&c);

  /* Seed 0 is as good as any other. */
  sr_factors_t z;
  fill(&z, 4, 0, 1);
  float sum = 0;
  for (uint32_t f = 0; f < 4; f++)
    sum += sr_factors_row(&z, 0)[f] * sr_factors_row(&z, 0)[f];
  assert_true(sum > 0);
  sr_factors_free(&z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stride_rounds_to_16_floats),
      cmocka_unit_test(test_rows_aligned_padding_zero),
      cmocka_unit_test(test_growth_keeps_contents),
      cmocka_unit_test(test_deterministic_init_for_a_seed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
