/* Tests of the per-event learning path: what one event changes (its rows'
 * factors, popularity, the recent window, the seen ring, the counters), what
 * a dislike leaves out, and what explicit mode learns from. */
#include "core/learn.h"

#include "core/learner.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static sr_event_t event_of(const char *user, const char *item,
                           sr_event_type_t type, float value) {
  return event_for(user, item, type, value, 1700000000000LL);
}

/* Learns one event through the model and returns its user's row. */
static uint32_t learn(sr_model_t *mdl, const char *user, const char *item,
                      sr_event_type_t type, float value) {
  sr_event_t ev = event_of(user, item, type, value);
  uint32_t row = UINT32_MAX;
  assert_int_equal(sr_model_learn(mdl, &ev, &row), SR_OK);
  return row;
}

static uint32_t item_row(const sr_model_t *mdl, const char *id) {
  int64_t row = sr_model_find_item(mdl, id, strlen(id));
  assert_true(row >= 0);
  return (uint32_t)row;
}

static float score(const sr_model_t *mdl, uint32_t u, uint32_t i) {
  return sr_learner_dot(sr_factors_row(&mdl->ufac, u),
                        sr_factors_row(&mdl->ifac, i), mdl->ufac.stride);
}

static sr_model_t *model_in(sr_mode_t mode) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.mode = mode;
  return model_with(&conf);
}

static void test_positive_event_counts_everywhere(void **state) {
  (void)state;
  sr_model_t *mdl = model_in(SR_MODE_IMPLICIT);
  uint32_t u = learn(mdl, "alice", "x", SR_EV_CLICK, 0);
  uint32_t x = item_row(mdl, "x");
  float before = score(mdl, u, x);
  sr_event_t ev = event_of("alice", "x", SR_EV_PURCHASE, 0);
  assert_int_equal(sr_learn_event(mdl, &ev, u, x), SR_OK);
  /* The positive pulls the pair's score towards 1. */
  assert_true(score(mdl, u, x) > before);
  assert_int_equal(sr_model_user_events(mdl, u), 2);
  assert_int_equal(sr_model_events_applied(mdl), 2);
  assert_true(sr_popular_count(&mdl->pop, x) > 1.9);
  assert_int_equal(mdl->recent.len, 2);
  assert_true(sr_seen_contains(&mdl->seen, u, x));
  sr_model_free(mdl);
}

static void test_dislike_is_seen_but_not_popular(void **state) {
  (void)state;
  sr_model_t *mdl = model_in(SR_MODE_IMPLICIT);
  uint32_t u = learn(mdl, "bob", "y", SR_EV_CLICK, 0);
  uint32_t y = item_row(mdl, "y");
  learn(mdl, "bob", "z", SR_EV_DISLIKE, 0);
  uint32_t z = item_row(mdl, "z");
  /* Excluded from bob's lists, never drawn as a negative, never counted as
   * popular; the event still counts. */
  assert_true(sr_seen_contains(&mdl->seen, u, z));
  assert_int_equal(mdl->recent.len, 1);
  assert_int_equal(mdl->recent.items[0], y);
  assert_true(sr_popular_count(&mdl->pop, z) == 0.0);
  assert_int_equal(sr_model_user_events(mdl, u), 2);
  /* A dislike pushes the pair towards 0. */
  for (int k = 0; k < 20; k++)
    learn(mdl, "bob", "z", SR_EV_DISLIKE, 0);
  float s = score(mdl, u, z);
  assert_true(s > -0.05f && s < 0.05f);
  sr_model_free(mdl);
}

static void test_explicit_learns_only_ratings(void **state) {
  (void)state;
  sr_model_t *mdl = model_in(SR_MODE_EXPLICIT);
  uint32_t u = learn(mdl, "carol", "w", SR_EV_CLICK, 0);
  uint32_t w = item_row(mdl, "w");
  float before = score(mdl, u, w);
  /* A click in explicit mode moves no factor and no mean. */
  assert_true(score(mdl, u, w) == before);
  assert_int_equal(mdl->mu_n, 0);
  learn(mdl, "carol", "w", SR_EV_RATING, 4.0f);
  learn(mdl, "carol", "w", SR_EV_RATING, 2.0f);
  assert_int_equal(mdl->mu_n, 2);
  assert_true(mdl->mu_sum == 6.0);
  /* The first rating is its own mean: no error, so no bias yet; the second
   * is below the mean of the first. */
  assert_true(mdl->ubias[u] < 0.0f && mdl->ibias[w] < 0.0f);
  assert_int_equal(sr_model_user_events(mdl, u), 3);
  sr_model_free(mdl);
}

/* 1 when item's factors differ from before (dims floats). */
static int row_moved(const sr_model_t *mdl, uint32_t item,
                     const float *before) {
  return memcmp(sr_factors_row(&mdl->ifac, item), before,
                mdl->ifac.dims * sizeof(float)) != 0;
}

static void test_negatives_come_from_the_window(void **state) {
  (void)state;
  sr_model_t *mdl = model_in(SR_MODE_IMPLICIT);
  /* Others make items a..d recent and dislike f; dave then clicks e. His
   * step draws negatives from a..d, never f, which is not in the window. */
  const char *recent[] = {"a", "b", "c", "d", "f"};
  float before[5][32];
  for (int k = 0; k < 4; k++)
    learn(mdl, "other", recent[k], SR_EV_CLICK, 0);
  learn(mdl, "other", "f", SR_EV_DISLIKE, 0);
  learn(mdl, "dave", "e", SR_EV_VIEW, 0);
  for (int k = 0; k < 5; k++)
    memcpy(before[k], sr_factors_row(&mdl->ifac, item_row(mdl, recent[k])),
           sizeof before[k]);
  learn(mdl, "dave", "e", SR_EV_CLICK, 0);
  int moved = 0;
  for (int k = 0; k < 4; k++)
    moved += row_moved(mdl, item_row(mdl, recent[k]), before[k]);
  assert_true(moved > 0);
  assert_false(row_moved(mdl, item_row(mdl, "f"), before[4]));
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_positive_event_counts_everywhere),
      cmocka_unit_test(test_dislike_is_seen_but_not_popular),
      cmocka_unit_test(test_explicit_learns_only_ratings),
      cmocka_unit_test(test_negatives_come_from_the_window),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
