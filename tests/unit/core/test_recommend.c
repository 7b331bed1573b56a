/* Tests of recommendation: lists and single-user scores agree, seen items
 * and free item rows are in no list, the popularity list follows counts,
 * and similar items rank by cosine with the item itself left out. */
#include "core/recommend.h"

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

static void learn(sr_model_t *mdl, const char *user, const char *item,
                  int64_t ts) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 0, ts);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
}

static uint32_t row_of(const sr_model_t *mdl, const char *item) {
  int64_t row = sr_model_find_item(mdl, item, strlen(item));
  assert_true(row >= 0);
  return (uint32_t)row;
}

/* A model where item "i<k>" has k + 1 events from distinct users, and the
 * user "u" has seen i3 and i7 and learnt enough to be warm. */
static sr_model_t *counted_model(uint32_t min_events, uint32_t max_items) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.min_user_events = min_events;
  conf.max_items = max_items;
  sr_model_t *mdl = model_with(&conf);
  char user[16], item[16];
  int64_t ts = 1700000000000LL;
  for (int k = 0; k < 10; k++)
    for (int c = 0; c <= k; c++) {
      snprintf(user, sizeof user, "p%d", c);
      snprintf(item, sizeof item, "i%d", k);
      learn(mdl, user, item, ts++);
    }
  learn(mdl, "u", "i3", ts++);
  learn(mdl, "u", "i7", ts++);
  return mdl;
}

static void check_list_matches_scores(sr_model_t *mdl, uint32_t user,
                                      sr_source_t want) {
  uint32_t items = (uint32_t)sr_model_items(mdl);
  float *scores = malloc(items * sizeof(float));
  sr_scored_t list[20];
  size_t count = 0;
  sr_source_t from_list, from_scores;
  assert_non_null(scores);
  assert_int_equal(
      sr_model_recommend(mdl, &user, 1, 20, list, &count, &from_list), SR_OK);
  assert_int_equal(sr_model_score_user(mdl, user, scores, &from_scores), 0);
  assert_int_equal(from_list, want);
  assert_int_equal(from_scores, want);
  /* Every item not excluded is listed, best first, in the order of the
   * single-user scores. */
  size_t finite = 0;
  for (uint32_t i = 0; i < items; i++)
    finite += isfinite(scores[i]);
  assert_int_equal(count, finite);
  for (size_t k = 0; k + 1 < count; k++) {
    assert_true(list[k].score >= list[k + 1].score);
    assert_true(scores[list[k].item] >= scores[list[k + 1].item]);
  }
  free(scores);
}

static void test_seen_items_excluded_cold_and_warm(void **state) {
  (void)state;
  for (uint32_t min_events = 1; min_events <= 5; min_events += 4) {
    sr_model_t *mdl = counted_model(min_events, 0);
    int64_t u = sr_model_find_user(mdl, "u", 1);
    assert_true(u >= 0);
    uint32_t items = (uint32_t)sr_model_items(mdl);
    float *scores = malloc(items * sizeof(float));
    assert_non_null(scores);
    assert_int_equal(sr_model_score_user(mdl, (uint32_t)u, scores, NULL), 0);
    assert_true(isinf(scores[row_of(mdl, "i3")]));
    assert_true(isinf(scores[row_of(mdl, "i7")]));
    free(scores);
    /* Two events: warm at min_user_events 1, cold at 5. */
    check_list_matches_scores(mdl, (uint32_t)u,
                              min_events == 1 ? SR_SOURCE_PERSONAL
                                              : SR_SOURCE_POPULAR);
    sr_model_free(mdl);
  }
}

static void test_cold_list_follows_counts(void **state) {
  (void)state;
  sr_model_t *mdl = counted_model(100, 0);
  uint32_t u = (uint32_t)sr_model_find_user(mdl, "u", 1);
  sr_scored_t list[20];
  size_t count = 0;
  assert_int_equal(sr_model_recommend(mdl, &u, 1, 3, list, &count, NULL),
                   SR_OK);
  /* i9 and i8 are the most popular; i7 is seen, so i6 comes third. */
  assert_int_equal(count, 3);
  assert_string_equal(sr_model_item_id(mdl, list[0].item, NULL), "i9");
  assert_string_equal(sr_model_item_id(mdl, list[1].item, NULL), "i8");
  assert_string_equal(sr_model_item_id(mdl, list[2].item, NULL), "i6");
  /* The popularity list excludes nothing seen: i7 is in it. */
  assert_int_equal(sr_model_popular(mdl, 3, list), 3);
  assert_string_equal(sr_model_item_id(mdl, list[2].item, NULL), "i7");
  /* Reported scores are log decayed counts: i9 has 10 events. */
  assert_true(fabsf(list[0].score - logf(10.0f)) < 0.05f);
  sr_model_free(mdl);
}

static void test_free_item_rows_in_no_list(void **state) {
  (void)state;
  /* Ten items at most: the eleventh evicts the least recently active. */
  sr_model_t *mdl = counted_model(1, 10);
  learn(mdl, "p0", "new", 1800000000000LL);
  uint64_t evicted = 0;
  sr_model_evictions(mdl, NULL, &evicted);
  assert_int_equal(evicted, 1);
  assert_int_equal(sr_model_live_items(mdl), 10);
  sr_scored_t list[20];
  size_t n = sr_model_popular(mdl, 20, list);
  assert_int_equal(n, 10);
  for (size_t k = 0; k < n; k++)
    assert_true(sr_model_item_is_live(mdl, list[k].item));
  n = sr_model_similar_items(mdl, row_of(mdl, "i9"), 20, list);
  assert_int_equal(n, 9);
  for (size_t k = 0; k < n; k++)
    assert_true(sr_model_item_is_live(mdl, list[k].item));
  sr_model_free(mdl);
}

static void test_similar_items_rank_by_cosine(void **state) {
  (void)state;
  sr_model_t *mdl = counted_model(1, 0);
  /* Set factors by hand: i1 along i0, i2 at 90 degrees, i3 opposite. */
  uint32_t stride = mdl->ifac.stride, dims = mdl->ifac.dims;
  for (uint32_t i = 0; i < 10; i++)
    memset(sr_factors_row(&mdl->ifac, i), 0, stride * sizeof(float));
  sr_factors_row(&mdl->ifac, row_of(mdl, "i0"))[0] = 1.0f;
  sr_factors_row(&mdl->ifac, row_of(mdl, "i1"))[0] = 5.0f;
  sr_factors_row(&mdl->ifac, row_of(mdl, "i2"))[1] = 1.0f;
  sr_factors_row(&mdl->ifac, row_of(mdl, "i3"))[0] = -2.0f;
  sr_factors_row(&mdl->ifac, row_of(mdl, "i4"))[0] = 1.0f;
  sr_factors_row(&mdl->ifac, row_of(mdl, "i4"))[dims - 1] = 1.0f;
  sr_scored_t list[20];
  size_t n = sr_model_similar_items(mdl, row_of(mdl, "i0"), 20, list);
  assert_int_equal(n, 9);
  assert_string_equal(sr_model_item_id(mdl, list[0].item, NULL), "i1");
  assert_true(fabsf(list[0].score - 1.0f) < 1e-5f);
  assert_string_equal(sr_model_item_id(mdl, list[1].item, NULL), "i4");
  assert_true(fabsf(list[1].score - sqrtf(0.5f)) < 1e-5f);
  assert_string_equal(sr_model_item_id(mdl, list[n - 1].item, NULL), "i3");
  assert_true(fabsf(list[n - 1].score + 1.0f) < 1e-5f);
  for (size_t k = 0; k < n; k++)
    assert_int_not_equal(list[k].item, row_of(mdl, "i0"));
  sr_model_free(mdl);
}

/* Lists take each block of item rows' co-occurrence scores and exclusions
 * in turn: the neighbours of the user's item in the first, second and
 * third blocks of rows all reach a batch's lists, above every item that
 * has none, and leave them when taken down. */
static void test_co_scores_in_every_block(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.learn_rate = 1e-6f;
  conf.init_std = 1e-6f;
  conf.pop_blend = 0;
  conf.blend = SR_BLEND_FIXED;
  conf.cooc_weight = 1;
  sr_model_t *mdl = model_with(&conf);
  char user[16], item[16];
  int64_t ts = 1700000000000LL;
  /* Rows 0 .. 2999, one user each: no pairs. */
  for (int k = 0; k < 3000; k++) {
    snprintf(user, sizeof user, "f%d", k);
    snprintf(item, sizeof item, "i%d", k);
    learn(mdl, user, item, ts++);
  }
  /* "a" pairs with i100, i1100 and i2100: rows in blocks 0, 1 and 2. */
  for (int b = 0; b < 3; b++) {
    snprintf(user, sizeof user, "p%d", b);
    snprintf(item, sizeof item, "i%d", 1000 * b + 100);
    learn(mdl, user, "a", ts++);
    learn(mdl, user, item, ts++);
  }
  learn(mdl, "u", "a", ts++);
  uint32_t rows[3] = {(uint32_t)sr_model_find_user(mdl, "p0", 2),
                      (uint32_t)sr_model_find_user(mdl, "u", 1),
                      (uint32_t)sr_model_find_user(mdl, "p1", 2)};
  sr_scored_t list[3 * 5];
  size_t counts[3];
  assert_int_equal(sr_model_recommend(mdl, rows, 3, 5, list, counts, NULL),
                   SR_OK);
  const sr_scored_t *mine = list + 5;
  assert_int_equal(counts[1], 5);
  int found[3] = {0};
  for (int k = 0; k < 3; k++)
    for (int b = 0; b < 3; b++) {
      snprintf(item, sizeof item, "i%d", 1000 * b + 100);
      found[b] |= mine[k].item == row_of(mdl, item);
    }
  assert_true(found[0] && found[1] && found[2]);
  assert_true(mine[2].score > mine[3].score + 0.1f);
  /* Taken down, the neighbours in the second and third blocks leave the
   * lists; the first block's stays on top. */
  for (int b = 1; b < 3; b++) {
    snprintf(item, sizeof item, "i%d", 1000 * b + 100);
    assert_int_equal(
        sr_model_set_available(mdl, item, strlen(item), false, NULL), SR_OK);
  }
  assert_int_equal(sr_model_recommend(mdl, rows, 3, 5, list, counts, NULL),
                   SR_OK);
  assert_int_equal(mine[0].item, row_of(mdl, "i100"));
  for (int k = 0; k < (int)counts[1]; k++)
    assert_true(mine[k].item != row_of(mdl, "i1100") &&
                mine[k].item != row_of(mdl, "i2100"));
  assert_true(mine[0].score > mine[1].score + 0.1f);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seen_items_excluded_cold_and_warm),
      cmocka_unit_test(test_cold_list_follows_counts),
      cmocka_unit_test(test_free_item_rows_in_no_list),
      cmocka_unit_test(test_similar_items_rank_by_cosine),
      cmocka_unit_test(test_co_scores_in_every_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
