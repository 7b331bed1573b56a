/* Tests of the recent-items window: negative sampling (seen and skipped
 * items left out, draws proportional to recent traffic, a bounded number of
 * tries), the oldest events dropped first, purging an item, and a window
 * rebuilt oldest-first drawing like the original. */
#include "core/recent.h"
#include "core/rng.h"
#include "core/seen.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

/* Items drawn by many single draws from rec for user 1 (who saw nothing),
 * as a bit set over items below 64. */
static uint64_t drawn_items(fixture_t *fx) {
  uint64_t set = 0;
  for (int round = 0; round < 2000; round++) {
    uint32_t out[1];
    if (sr_recent_sample(&fx->rec, &fx->rng, &fx->seen, 1, 999, out, 1) == 1) {
      assert_true(out[0] < 64);
      set |= 1ull << out[0];
    }
  }
  return set;
}

static void test_purge_removes_every_occurrence(void **state) {
  fixture_t *fx = *state;
  /* 250 pushes wrap the window of 100 twice and a half. */
  for (uint32_t i = 0; i < 250; i++)
    sr_recent_push(&fx->rec, i % 7);
  assert_int_equal(fx->rec.len, 100);
  sr_recent_purge(&fx->rec, 3);
  /* 100 of 7 items: 3 held 14 or 15 slots, all gone. */
  assert_true(fx->rec.len == 85 || fx->rec.len == 86);
  assert_int_equal(drawn_items(fx), 0x7full & ~(1ull << 3));
  /* Purging an item the window does not hold changes nothing. */
  uint32_t len = fx->rec.len;
  sr_recent_purge(&fx->rec, 42);
  assert_int_equal(fx->rec.len, len);
  /* The window fills again from where it stands, oldest dropped first. */
  for (uint32_t i = 0; i < 100; i++)
    sr_recent_push(&fx->rec, 10 + i % 2);
  assert_int_equal(fx->rec.len, 100);
  assert_int_equal(drawn_items(fx), (1ull << 10) | (1ull << 11));
}

static void test_purge_keeps_order_of_the_rest(void **state) {
  (void)state;
  /* A wrapped window purged, and the survivors pushed oldest-first into a
   * fresh one, draw alike: the purge kept the order of the rest. */
  sr_recent_t purged, fresh;
  sr_seen_t seen;
  sr_rng_t rng_a, rng_b;
  assert_int_equal(sr_recent_init(&purged, 9), 0);
  assert_int_equal(sr_recent_init(&fresh, 9), 0);
  sr_seen_init(&seen, 0);
  assert_int_equal(sr_seen_ensure(&seen, 1), 0);
  for (uint32_t i = 0; i < 30; i++)
    sr_recent_push(&purged, i % 11);
  sr_recent_purge(&purged, 5);
  /* Pushes 21..29 held items 10, 0, 1, ..., 7 (item 5 purged). */
  const uint32_t survivors[] = {10, 0, 1, 2, 3, 4, 6, 7};
  for (size_t k = 0; k < sizeof survivors / sizeof survivors[0]; k++)
    sr_recent_push(&fresh, survivors[k]);
  assert_int_equal(purged.len, fresh.len);
  sr_rng_seed(&rng_a, 9);
  sr_rng_seed(&rng_b, 9);
  for (int round = 0; round < 200; round++) {
    uint32_t a[3], b[3];
    uint32_t na = sr_recent_sample(&purged, &rng_a, &seen, 0, 99, a, 3);
    uint32_t nb = sr_recent_sample(&fresh, &rng_b, &seen, 0, 99, b, 3);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof a[0]);
  }
  assert_int_equal(sr_recent_bytes(&purged), 9 * sizeof(uint32_t));
  sr_recent_free(&purged);
  sr_recent_free(&fresh);
  sr_seen_free(&seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
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
      cmocka_unit_test_setup_teardown(test_purge_removes_every_occurrence,
                                      setup, teardown),
      cmocka_unit_test(test_purge_keeps_order_of_the_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
