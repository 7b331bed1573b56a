/* sr_grow: the capacities it chooses, that it keeps the contents, and that
 * a size it cannot allocate leaves the array as it was. */
#include "util/grow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

typedef struct pair {
  uint64_t a;
  uint32_t b;
} pair_t;

static void test_first_then_doubling(void **state) {
  (void)state;
  uint32_t *arr = NULL;
  size_t cap = 0;
  assert_int_equal(SR_GROW(arr, cap, 1, 16), 0);
  assert_non_null(arr);
  assert_int_equal(cap, 16);
  /* Room already: nothing moves. */
  uint32_t *before = arr;
  assert_int_equal(SR_GROW(arr, cap, 16, 16), 0);
  assert_ptr_equal(arr, before);
  assert_int_equal(cap, 16);
  assert_int_equal(SR_GROW(arr, cap, 17, 16), 0);
  assert_int_equal(cap, 32);
  /* A need beyond twice the capacity is met exactly. */
  assert_int_equal(SR_GROW(arr, cap, 100, 16), 0);
  assert_int_equal(cap, 100);
  free(arr);
}

/* A first capacity smaller than the need, or none at all, gives the need. */
static void test_first_below_need(void **state) {
  (void)state;
  uint32_t *arr = NULL;
  size_t cap = 0;
  assert_int_equal(SR_GROW(arr, cap, 40, 8), 0);
  assert_int_equal(cap, 40);
  free(arr);
  arr = NULL;
  cap = 0;
  assert_int_equal(SR_GROW(arr, cap, 3, 0), 0);
  assert_int_equal(cap, 3);
  free(arr);
}

/* Appending one at a time, as every caller does, keeps what was there. */
static void test_contents_kept(void **state) {
  (void)state;
  pair_t *pairs = NULL;
  size_t n = 0, cap = 0, reallocs = 0;
  for (uint32_t i = 0; i < 10000; i++) {
    size_t old_cap = cap;
    assert_int_equal(SR_GROW(pairs, cap, n + 1, 4), 0);
    reallocs += cap != old_cap;
    pairs[n++] = (pair_t){.a = (uint64_t)i * i, .b = i};
  }
  for (uint32_t i = 0; i < 10000; i++) {
    assert_int_equal(pairs[i].a, (uint64_t)i * i);
    assert_int_equal(pairs[i].b, i);
  }
  assert_int_equal(cap, 16384);
  assert_int_equal(reallocs, 13); /* 4, 8, ..., 16384 */
  free(pairs);
}

static void test_overflow_refused(void **state) {
  (void)state;
  pair_t *pairs = NULL;
  size_t cap = 0;
  assert_int_equal(SR_GROW(pairs, cap, 2, 2), 0);
  pair_t *before = pairs;
  assert_int_equal(SR_GROW(pairs, cap, SIZE_MAX / sizeof(pair_t) + 1, 2), -1);
  assert_ptr_equal(pairs, before);
  assert_int_equal(cap, 2);
  /* A capacity whose double overflows: the need alone is checked. */
  size_t huge = SIZE_MAX / 2 + 1;
  assert_int_equal(SR_GROW(pairs, huge, huge + 1, 2), -1);
  assert_ptr_equal(pairs, before);
  assert_int_equal(huge, SIZE_MAX / 2 + 1);
  free(pairs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_then_doubling),
      cmocka_unit_test(test_first_below_need),
      cmocka_unit_test(test_contents_kept),
      cmocka_unit_test(test_overflow_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
