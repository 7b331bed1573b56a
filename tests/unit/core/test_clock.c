/* Tests of the event-time clock: the median of the last SR_CLOCK_WINDOW
 * timestamps, never going back; a minority of outliers cannot move it, a
 * majority can; it keeps up with a time-ordered stream however dense or
 * bursty; its window survives a dump and load. */
#include "core/clock.h"

#include "core/rng.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#define T0 1700000000000LL
#define DAY_MS 86400000LL
#define HALF (SR_CLOCK_WINDOW / 2)

static void test_lower_median_while_filling_then_median(void **state) {
  (void)state;
  sr_clock_t clk;
  sr_clock_init(&clk);
  assert_int_equal(clk.now_ms, 0);
  /* An empty clock has only the first timestamp to go by. */
  assert_int_equal(sr_clock_observe(&clk, T0 + 1), T0 + 1);
  for (int64_t n = 2; n <= 100; n++) {
    int64_t now = sr_clock_observe(&clk, T0 + n);
    int64_t want = n <= SR_CLOCK_WINDOW ? T0 + 1 + (n - 1) / 2 : T0 + n - HALF;
    assert_int_equal(now, want);
  }
}

static void test_minority_ahead_cannot_move_it(void **state) {
  (void)state;
  sr_clock_t clk;
  sr_clock_init(&clk);
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    sr_clock_observe(&clk, T0);
  /* A burst of HALF events a day ahead; later, every third event. */
  for (int k = 0; k < HALF; k++)
    assert_int_equal(sr_clock_observe(&clk, T0 + DAY_MS), T0);
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    assert_int_equal(sr_clock_observe(&clk, T0), T0);
  for (int k = 0; k < 300; k++)
    assert_int_equal(sr_clock_observe(&clk, k % 3 ? T0 : T0 + DAY_MS), T0);
  /* Even at the largest time there is. */
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    sr_clock_observe(&clk, T0);
  for (int k = 0; k < HALF; k++)
    assert_int_equal(sr_clock_observe(&clk, INT64_MAX), T0);
}

static void test_majority_moves_it(void **state) {
  (void)state;
  sr_clock_t clk;
  sr_clock_init(&clk);
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    sr_clock_observe(&clk, T0);
  for (int k = 0; k < HALF; k++)
    sr_clock_observe(&clk, T0 + DAY_MS);
  assert_int_equal(clk.now_ms, T0);
  assert_int_equal(sr_clock_observe(&clk, T0 + DAY_MS), T0 + DAY_MS);
}

static void test_never_goes_back_and_ignores_no_timestamp(void **state) {
  (void)state;
  sr_clock_t clk;
  sr_clock_init(&clk);
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    sr_clock_observe(&clk, T0 + DAY_MS);
  /* A whole window of late events leaves it where it was. */
  for (int k = 0; k < 2 * SR_CLOCK_WINDOW; k++)
    assert_int_equal(sr_clock_observe(&clk, T0), T0 + DAY_MS);
  assert_int_equal(sr_clock_observe(&clk, 0), T0 + DAY_MS);
  assert_int_equal(sr_clock_observe(&clk, -5), T0 + DAY_MS);
  int64_t window[SR_CLOCK_WINDOW];
  assert_int_equal(sr_clock_window(&clk, window), SR_CLOCK_WINDOW);
  for (int k = 0; k < SR_CLOCK_WINDOW; k++)
    assert_int_equal(window[k], T0);
}

/* A backfill ordered by time: bursts of up to 1000 events on one
 * millisecond, gaps from 1 ms to hours. The clock is exactly the timestamp
 * HALF events back, whatever the rate. */
static void test_keeps_up_with_a_time_ordered_stream(void **state) {
  (void)state;
  enum { EVENTS = 200000 };
  int64_t *ts = malloc(EVENTS * sizeof *ts);
  assert_non_null(ts);
  sr_rng_t rng;
  sr_rng_seed(&rng, 9);
  int64_t t = T0;
  for (int k = 0; k < EVENTS;) {
    uint32_t burst = 1 + sr_rng_below(&rng, 1000);
    for (uint32_t b = 0; b < burst && k < EVENTS; b++)
      ts[k++] = t;
    uint32_t kind = sr_rng_below(&rng, 100);
    t += kind == 0 ? 3600000 : kind < 10 ? 60000 : 1 + sr_rng_below(&rng, 5);
  }
  sr_clock_t clk;
  sr_clock_init(&clk);
  for (int k = 0; k < EVENTS; k++) {
    int64_t now = sr_clock_observe(&clk, ts[k]);
    if (k >= SR_CLOCK_WINDOW && now != ts[k - HALF])
      fail_msg("event %d at %lld: clock %lld, want %lld", k, (long long)ts[k],
               (long long)now, (long long)ts[k - HALF]);
  }
  free(ts);
}

/* Dumped and loaded at every point of a mixed stream, the clock goes on
 * exactly as the one that never stopped. */
static void test_dump_and_load_go_on_identically(void **state) {
  (void)state;
  enum { EVENTS = 400 };
  int64_t ts[EVENTS];
  sr_rng_t rng;
  sr_rng_seed(&rng, 4);
  for (int k = 0; k < EVENTS; k++) {
    uint32_t kind = sr_rng_below(&rng, 20);
    ts[k] = kind == 0   ? T0 + k * 1000 + DAY_MS
            : kind == 1 ? T0 + k * 1000 - DAY_MS
            : kind == 2 ? 0
                        : T0 + k * 1000;
  }
  for (int cut = 0; cut < EVENTS; cut += 7) {
    sr_clock_t clk, copy;
    sr_clock_init(&clk);
    for (int k = 0; k < cut; k++)
      sr_clock_observe(&clk, ts[k]);
    int64_t window[SR_CLOCK_WINDOW];
    uint32_t n = sr_clock_window(&clk, window);
    assert_int_equal(sr_clock_load(&copy, clk.now_ms, window, n), 0);
    for (int k = cut; k < EVENTS; k++)
      assert_int_equal(sr_clock_observe(&copy, ts[k]),
                       sr_clock_observe(&clk, ts[k]));
  }
}

static void test_load_rejects_bad_windows(void **state) {
  (void)state;
  sr_clock_t clk;
  int64_t window[SR_CLOCK_WINDOW + 1];
  for (int k = 0; k <= SR_CLOCK_WINDOW; k++)
    window[k] = T0 + k;
  assert_int_equal(sr_clock_load(&clk, T0, window, SR_CLOCK_WINDOW + 1), -1);
  window[3] = 0;
  assert_int_equal(sr_clock_load(&clk, T0, window, 5), -1);
  assert_int_equal(sr_clock_load(&clk, T0, window, 3), 0);
  assert_int_equal(clk.now_ms, T0);
  /* An old checkpoint has no window: the clock keeps its time. */
  assert_int_equal(sr_clock_load(&clk, T0 + 7, NULL, 0), 0);
  assert_int_equal(sr_clock_observe(&clk, T0), T0 + 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lower_median_while_filling_then_median),
      cmocka_unit_test(test_minority_ahead_cannot_move_it),
      cmocka_unit_test(test_majority_moves_it),
      cmocka_unit_test(test_never_goes_back_and_ignores_no_timestamp),
      cmocka_unit_test(test_keeps_up_with_a_time_ordered_stream),
      cmocka_unit_test(test_dump_and_load_go_on_identically),
      cmocka_unit_test(test_load_rejects_bad_windows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
