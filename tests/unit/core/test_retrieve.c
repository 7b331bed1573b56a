/* Tests of lists drawn from an index: they match the exact lists when
 * every list is probed, hold no seen, taken-down or free item, still
 * have n items for a user who has seen most of the catalogue, and find
 * items added after the index was built. */
#include "core/ann.h"
#include "core/retrieve.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

enum { N = 20, USERS = 64 };

/* An index of the model's items as they are now. */
static sr_ann_t *index_of(const sr_model_t *mdl) {
  uint32_t items = (uint32_t)sr_model_items(mdl);
  sr_factors_t snap;
  sr_factors_init(&snap, sr_model_dims(mdl));
  assert_int_equal(snap.stride, sr_model_item_stride(mdl));
  assert_int_equal(sr_factors_resize(&snap, items), 0);
  float *bias = malloc((items + 1) * sizeof(float));
  uint8_t *skip = malloc(items + 1);
  assert_true(bias && skip);
  sr_model_items_copy(mdl, 0, items, snap.data, bias, skip);
  sr_ann_conf_t conf;
  sr_ann_conf_init(&conf);
  sr_ann_t *ann = sr_ann_build(&snap, bias, skip, &conf);
  assert_non_null(ann);
  sr_factors_free(&snap);
  free(bias);
  free(skip);
  return ann;
}

static sr_model_t *trained(uint32_t users, uint32_t items, size_t events) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 16;
  sr_model_t *mdl = model_with(&conf);
  sr_event_t *evs = synth_events(users, items, events, 7);
  learn_all(mdl, evs, 0, events);
  free(evs);
  return mdl;
}

/* The first USERS warm user rows. */
static size_t warm_users(const sr_model_t *mdl, uint32_t *rows) {
  size_t n = 0;
  uint32_t min = sr_model_conf(mdl)->min_user_events;
  for (uint32_t r = 0; r < sr_model_users(mdl) && n < USERS; r++)
    if (sr_model_user_events(mdl, r) >= min)
      rows[n++] = r;
  return n;
}

static void lists(sr_model_t *mdl, const uint32_t *rows, size_t n_users,
                  sr_scored_t *out, size_t *counts) {
  assert_int_equal(sr_model_recommend(mdl, rows, n_users, N, out, counts, NULL),
                   SR_OK);
}

/* Share of the exact lists' items that the index's lists hold. */
static double recall(const sr_scored_t *exact, const size_t *ce,
                     const sr_scored_t *ann, const size_t *ca, size_t users) {
  size_t hit = 0, total = 0;
  for (size_t u = 0; u < users; u++) {
    total += ce[u];
    for (size_t i = 0; i < ce[u]; i++)
      for (size_t j = 0; j < ca[u]; j++)
        hit += exact[u * N + i].item == ann[u * N + j].item;
  }
  return total ? (double)hit / (double)total : 1.0;
}

/* No list item scores -inf for its user: none seen, taken down or free. */
static void check_exclusions(sr_model_t *mdl, const uint32_t *rows,
                             const sr_scored_t *out, const size_t *counts,
                             size_t users) {
  float *scores = malloc(sr_model_items(mdl) * sizeof(float));
  assert_non_null(scores);
  sr_scored_t *keep = malloc(users * N * sizeof(sr_scored_t));
  assert_non_null(keep);
  memcpy(keep, out, users * N * sizeof(sr_scored_t));
  for (size_t u = 0; u < users; u++) {
    assert_int_equal(sr_model_score_user(mdl, rows[u], scores, NULL), 0);
    for (size_t i = 0; i < counts[u]; i++)
      assert_true(isfinite(scores[keep[u * N + i].item]));
  }
  free(keep);
  free(scores);
}

static void test_full_probe_matches_exact(void **state) {
  (void)state;
  sr_model_t *mdl = trained(2000, 3000, 60000);
  uint32_t rows[USERS];
  size_t users = warm_users(mdl, rows), ce[USERS], ca[USERS];
  sr_scored_t exact[USERS * N], approx[USERS * N];
  assert_true(users > 10);
  lists(mdl, rows, users, exact, ce);
  sr_ann_t *ann = index_of(mdl);
  assert_int_equal(sr_model_set_ann(mdl, ann, sr_ann_lists(ann)), SR_OK);
  lists(mdl, rows, users, approx, ca);
  assert_true(recall(exact, ce, approx, ca, users) >= 0.99);
  for (size_t u = 0; u < users; u++)
    assert_int_equal(ca[u], ce[u]);
  sr_model_ann_stats_t st;
  sr_model_ann_stats(mdl, &st);
  assert_int_equal(st.lists, users);
  assert_true(st.candidates >= users * N);
  /* A few lists probed: fewer items scanned, most of the list kept. */
  assert_int_equal(sr_model_set_ann(mdl, ann, 4), SR_OK);
  lists(mdl, rows, users, approx, ca);
  sr_model_ann_stats_t st2;
  sr_model_ann_stats(mdl, &st2);
  assert_true(st2.scanned - st.scanned < st.scanned / 4);
  check_exclusions(mdl, rows, approx, ca, users);
  sr_model_free(mdl);
  sr_ann_free(ann);
}

/* Items taken down after the build are in no list; the user who has seen
 * most of a small catalogue still gets n items. */
static void test_exclusions(void **state) {
  (void)state;
  sr_model_t *mdl = trained(500, 200, 20000);
  char item[16];
  for (int k = 0; k < 170; k++) {
    snprintf(item, sizeof item, "i%d", k);
    sr_event_t ev = event_for("heavy", item, SR_EV_CLICK, 0, 1800000000000);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  uint32_t rows[USERS];
  size_t users = warm_users(mdl, rows), counts[USERS];
  int64_t heavy = sr_model_find_user(mdl, "heavy", 5);
  assert_true(heavy >= 0);
  rows[0] = (uint32_t)heavy;
  sr_ann_t *ann = index_of(mdl);
  assert_int_equal(sr_model_set_ann(mdl, ann, 1), SR_OK);
  sr_scored_t out[USERS * N];
  lists(mdl, rows, users, out, counts);
  size_t len;
  const char *top = sr_model_item_id(mdl, out[N].item, &len);
  assert_int_equal(sr_model_set_available(mdl, top, len, false, NULL), SR_OK);
  lists(mdl, rows, users, out, counts);
  for (size_t u = 0; u < users; u++)
    assert_int_equal(counts[u], N);
  check_exclusions(mdl, rows, out, counts, users);
  sr_model_free(mdl);
  sr_ann_free(ann);
}

/* Items that arrive after the build are scored exactly until the next
 * one: each that an exact list holds, the index's list holds too (the
 * old items' candidates come from stale factors, so those may differ). */
static void test_added_after_build(void **state) {
  (void)state;
  sr_model_t *mdl = trained(1000, 500, 20000);
  sr_ann_t *ann = index_of(mdl);
  sr_event_t *evs = synth_events(1000, 800, 20000, 9);
  learn_all(mdl, evs, 0, 20000);
  free(evs);
  assert_true(sr_model_items(mdl) > sr_ann_rows(ann));
  uint32_t rows[USERS];
  size_t users = warm_users(mdl, rows), ce[USERS], ca[USERS];
  sr_scored_t exact[USERS * N], approx[USERS * N];
  lists(mdl, rows, users, exact, ce);
  int fresh = 0;
  for (size_t k = 0; k < users * N; k++)
    fresh += exact[k].item >= sr_ann_rows(ann);
  assert_true(fresh > 0);
  assert_int_equal(sr_model_set_ann(mdl, ann, sr_ann_lists(ann)), SR_OK);
  lists(mdl, rows, users, approx, ca);
  for (size_t u = 0; u < users; u++)
    for (size_t i = 0; i < ce[u]; i++) {
      if (exact[u * N + i].item < sr_ann_rows(ann))
        continue;
      int found = 0;
      for (size_t j = 0; j < ca[u]; j++)
        found |= approx[u * N + j].item == exact[u * N + i].item;
      assert_true(found);
    }
  sr_model_free(mdl);
  sr_ann_free(ann);
}

/* A three-item catalogue: the user gets the two it has not seen. */
static void test_tiny_catalogue(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.min_user_events = 1;
  sr_model_t *mdl = model_with(&conf);
  const char *items[] = {"a", "b", "c"};
  for (int k = 0; k < 3; k++) {
    sr_event_t ev = event_for("other", items[k], SR_EV_CLICK, 0, 1 + k);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  sr_event_t ev = event_for("u", "a", SR_EV_CLICK, 0, 10);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  sr_ann_t *ann = index_of(mdl);
  assert_int_equal(sr_model_set_ann(mdl, ann, 1), SR_OK);
  uint32_t row = (uint32_t)sr_model_find_user(mdl, "u", 1);
  sr_scored_t out[N];
  size_t count;
  lists(mdl, &row, 1, out, &count);
  assert_int_equal(count, 2);
  assert_int_not_equal(out[0].item, sr_model_find_item(mdl, "a", 1));
  assert_int_not_equal(out[1].item, sr_model_find_item(mdl, "a", 1));
  sr_model_free(mdl);
  sr_ann_free(ann);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_probe_matches_exact),
      cmocka_unit_test(test_exclusions),
      cmocka_unit_test(test_added_after_build),
      cmocka_unit_test(test_tiny_catalogue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
