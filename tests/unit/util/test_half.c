/* Half floats: exact values survive, rounding is to nearest even, and the
 * edges (overflow, subnormals, NaN, signed zero) come out as IEEE says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "util/half.h"

#include <math.h>
#include <string.h>

static void test_exact_values_round_trip(void **state) {
  (void)state;
  const float exact[] = {
      0.0f,    1.0f,     -1.0f,   0.5f,      2.0f,
      1024.0f, 65504.0f, -0.375f, 3.140625f, 6.103515625e-05f};
  for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
    assert_true(sr_half_to_float(sr_half_from_float(exact[i])) == exact[i]);
  assert_int_equal(sr_half_from_float(1.0f), 0x3c00);
  assert_int_equal(sr_half_from_float(-2.0f), 0xc000);
  assert_int_equal(sr_half_from_float(65504.0f), 0x7bff);
}

static void test_rounds_to_nearest_even(void **state) {
  (void)state;
  /* Halves near 1 are 2^-10 apart: 1 + 2^-11 is a tie and goes to the even
   * 1.0; 1 + 3 x 2^-11 is a tie and goes to the even 1 + 2^-9. */
  assert_int_equal(sr_half_from_float(1.0f + 0x1p-11f), 0x3c00);
  assert_int_equal(sr_half_from_float(1.0f + 3 * 0x1p-11f), 0x3c02);
  assert_int_equal(sr_half_from_float(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  /* The relative error of any normal value is at most 2^-11. */
  for (float f = 1e-4f; f < 6e4f; f *= 1.37f) {
    float back = sr_half_to_float(sr_half_from_float(f));
    assert_true(fabsf(back - f) <= f * 0x1p-11f);
  }
}

static void test_edges(void **state) {
  (void)state;
  assert_int_equal(sr_half_from_float(65520.0f), 0x7c00); /* rounds over */
  assert_int_equal(sr_half_from_float(1e10f), 0x7c00);
  assert_int_equal(sr_half_from_float(-INFINITY), 0xfc00);
  assert_true(isnan(sr_half_to_float(sr_half_from_float(NAN))));
  assert_true(isinf(sr_half_to_float(0x7c00)));
  /* Subnormals: the smallest is 2^-24; half of it ties to even zero. */
  assert_int_equal(sr_half_from_float(0x1p-24f), 0x0001);
  assert_int_equal(sr_half_from_float(0x1p-25f), 0x0000);
  assert_int_equal(sr_half_from_float(0x1.8p-25f), 0x0001);
  assert_true(sr_half_to_float(0x0001) == 0x1p-24f);
  assert_true(sr_half_to_float(0x03ff) == 1023 * 0x1p-24f);
  assert_int_equal(sr_half_from_float(1e-30f), 0x0000);
  assert_int_equal(sr_half_from_float(-0.0f), 0x8000);
  assert_true(signbit(sr_half_to_float(0x8000)));
}

static void test_every_half_round_trips(void **state) {
  (void)state;
  for (uint32_t h = 0; h <= 0xffff; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
      continue; /* NaN payloads need not survive */
    assert_int_equal(sr_half_from_float(sr_half_to_float((uint16_t)h)), h);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_values_round_trip),
      cmocka_unit_test(test_rounds_to_nearest_even),
      cmocka_unit_test(test_edges),
      cmocka_unit_test(test_every_half_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
