/* Tests of the update rules against hand-computed numbers. */
#include "core/learner.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dot),
      cmocka_unit_test(test_step_positive),
      cmocka_unit_test(test_step_negative_uses_old_u),
      cmocka_unit_test(test_step_weight_zero_only_shrinks),
      cmocka_unit_test(test_steps_converge_to_target),
      cmocka_unit_test(test_rating_biased_mf),
      cmocka_unit_test(test_rating_error_shrinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
