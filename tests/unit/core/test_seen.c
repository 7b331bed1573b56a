/* Tests of the per-user seen rings: bounded rings overwrite their oldest
 * item, unbounded rings keep everything, users are independent. */
#include "core/seen.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_contains_what_was_added(void **state) {
  (void)state;
  sr_seen_t seen;
  sr_seen_init(&seen, 8);
  assert_int_equal(sr_seen_ensure(&seen, 3), 0);
  assert_false(sr_seen_contains(&seen, 0, 5));
  assert_int_equal(sr_seen_add(&seen, 0, 5), 0);
  assert_int_equal(sr_seen_add(&seen, 2, 9), 0);
  assert_true(sr_seen_contains(&seen, 0, 5));
  assert_true(sr_seen_contains(&seen, 2, 9));
  /* Rings are per user. */
  assert_false(sr_seen_contains(&seen, 1, 5));
  assert_false(sr_seen_contains(&seen, 0, 9));
  assert_false(sr_seen_contains(&seen, 2, 5));
  sr_seen_free(&seen);
}

static void test_bounded_ring_overwrites_oldest(void **state) {
  (void)state;
  sr_seen_t seen;
  sr_seen_init(&seen, 4);
  assert_int_equal(sr_seen_ensure(&seen, 1), 0);
  for (uint32_t item = 1; item <= 6; item++)
    assert_int_equal(sr_seen_add(&seen, 0, item), 0);
  /* Holds the newest four: 3, 4, 5, 6. */
  assert_int_equal(seen.rings[0].len, 4);
  assert_false(sr_seen_contains(&seen, 0, 1));
  assert_false(sr_seen_contains(&seen, 0, 2));
  for (uint32_t item = 3; item <= 6; item++)
    assert_true(sr_seen_contains(&seen, 0, item));

  /* Seeing an item already in the ring again evicts nothing. */
  assert_int_equal(sr_seen_add(&seen, 0, 4), 0);
  for (uint32_t item = 3; item <= 6; item++)
    assert_true(sr_seen_contains(&seen, 0, item));

  /* The next new item replaces the oldest (3), then 4, in order. */
  assert_int_equal(sr_seen_add(&seen, 0, 7), 0);
  assert_false(sr_seen_contains(&seen, 0, 3));
  assert_true(sr_seen_contains(&seen, 0, 4));
  assert_int_equal(sr_seen_add(&seen, 0, 8), 0);
  assert_false(sr_seen_contains(&seen, 0, 4));
  for (uint32_t item = 5; item <= 8; item++)
    assert_true(sr_seen_contains(&seen, 0, item));

  /* Long runs keep exactly the newest max items. */
  for (uint32_t item = 100; item < 1000; item++)
    assert_int_equal(sr_seen_add(&seen, 0, item), 0);
  assert_int_equal(seen.rings[0].len, 4);
  for (uint32_t item = 100; item < 1000; item++)
    assert_int_equal(sr_seen_contains(&seen, 0, item), item >= 996);
  sr_seen_free(&seen);
}

static void test_unbounded_keeps_everything(void **state) {
  (void)state;
  sr_seen_t seen;
  sr_seen_init(&seen, 0);
  assert_int_equal(sr_seen_ensure(&seen, 2), 0);
  for (uint32_t item = 0; item < 5000; item++)
    assert_int_equal(sr_seen_add(&seen, 1, item * 3), 0);
  for (uint32_t item = 0; item < 5000; item++)
    assert_int_equal(sr_seen_add(&seen, 1, item * 3), 0);
  assert_int_equal(seen.rings[1].len, 5000);
  for (uint32_t item = 0; item < 15000; item++)
    assert_int_equal(sr_seen_contains(&seen, 1, item), item % 3 == 0);
  assert_int_equal(seen.rings[0].len, 0);
  assert_true(sr_seen_bytes(&seen) >= 5000 * sizeof(uint32_t));
  sr_seen_free(&seen);
}

static void test_ensure_grows_and_keeps_rings(void **state) {
  (void)state;
  sr_seen_t seen;
  sr_seen_init(&seen, 16);
  assert_int_equal(sr_seen_ensure(&seen, 10), 0);
  for (uint32_t u = 0; u < 10; u++)
    assert_int_equal(sr_seen_add(&seen, u, u + 100), 0);
  /* Far past the first allocation: old rings survive, new ones are empty. */
  assert_int_equal(sr_seen_ensure(&seen, 5000), 0);
  assert_int_equal(sr_seen_ensure(&seen, 20), 0);
  assert_int_equal(seen.users, 5000);
  for (uint32_t u = 0; u < 10; u++)
    assert_true(sr_seen_contains(&seen, u, u + 100));
  for (uint32_t u = 10; u < 5000; u++) {
    assert_int_equal(seen.rings[u].len, 0);
    assert_false(sr_seen_contains(&seen, u, 0));
  }
  assert_int_equal(sr_seen_add(&seen, 4999, 1), 0);
  assert_true(sr_seen_contains(&seen, 4999, 1));
  sr_seen_free(&seen);
  assert_int_equal(seen.users, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_contains_what_was_added),
      cmocka_unit_test(test_bounded_ring_overwrites_oldest),
      cmocka_unit_test(test_unbounded_keeps_everything),
      cmocka_unit_test(test_ensure_grows_and_keeps_rings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
