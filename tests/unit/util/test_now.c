/* The clocks: sr_now_ms is the wall clock in ms (what time(2) says, times
 * 1000, to within its second), sr_mono_ns never goes back and moves with
 * real time. */
#include "util/now.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

static void test_wall_clock_is_time_in_ms(void **state) {
  (void)state;
  int64_t before = (int64_t)time(NULL) * 1000;
  int64_t now = sr_now_ms();
  int64_t after = ((int64_t)time(NULL) + 1) * 1000;
  assert_true(now >= before);
  assert_true(now < after);
  /* Milliseconds since 1970, not seconds or microseconds: after 2020. */
  assert_true(now > INT64_C(1577836800000));
}

static void test_monotonic_never_goes_back(void **state) {
  (void)state;
  uint64_t prev = sr_mono_ns();
  for (int i = 0; i < 100000; i++) {
    uint64_t t = sr_mono_ns();
    assert_true(t >= prev);
    prev = t;
  }
}

/* Both clocks move by the time slept: nanoseconds and milliseconds. */
static void test_clocks_follow_real_time(void **state) {
  (void)state;
  uint64_t mono0 = sr_mono_ns();
  int64_t wall0 = sr_now_ms();
  sleep_ms(30);
  uint64_t mono = sr_mono_ns() - mono0;
  int64_t wall = sr_now_ms() - wall0;
  assert_true(mono >= 30000000u);
  assert_true(mono < 10000000000u);
  /* The wall clock may be stepped meanwhile; a gross error still shows. */
  assert_true(wall >= 0 && wall < 10000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wall_clock_is_time_in_ms),
      cmocka_unit_test(test_monotonic_never_goes_back),
      cmocka_unit_test(test_clocks_follow_real_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
