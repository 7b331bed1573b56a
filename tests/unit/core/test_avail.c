/* Tests of item availability: an item taken down is in no list (one user,
 * a batch of users, cold users, the popularity list, similar items), its
 * events still train the model, making it available brings it back, an
 * unknown item taken down holds when it arrives, the takedowns survive a
 * snapshot and restore, and eviction forgets them. */
#include "core/avail.h"

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

#define N_USERS 6
#define N_ITEMS 40

static void learn(sr_model_t *mdl, const char *user, const char *item,
                  int64_t *ts) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 0, (*ts)++);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
}

static uint32_t row_of(const sr_model_t *mdl, const char *id) {
  int64_t row = sr_model_find_item(mdl, id, strlen(id));
  assert_true(row >= 0);
  return (uint32_t)row;
}

/* Users w0..w4 are warm (5 events each on items i0..i9), c0 is cold (one
 * event); items i0..i39 exist, i0 the most popular. */
static sr_model_t *small_model(void) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.min_user_events = 3;
  sr_model_t *mdl = model_with(&conf);
  char user[16], item[16];
  int64_t ts = 1700000000000LL;
  for (int i = 0; i < N_ITEMS; i++) {
    snprintf(item, sizeof item, "i%d", i);
    learn(mdl, "feeder", item, &ts);
  }
  for (int u = 0; u < N_USERS - 1; u++)
    for (int k = 0; k < 5; k++) {
      snprintf(user, sizeof user, "w%d", u);
      snprintf(item, sizeof item, "i%d", k * (u + 1) % 10);
      learn(mdl, user, item, &ts);
    }
  learn(mdl, "c0", "i5", &ts);
  return mdl;
}

static bool listed(const sr_scored_t *list, size_t n, uint32_t row) {
  for (size_t k = 0; k < n; k++)
    if (list[k].item == row)
      return true;
  return false;
}

/* Whether row is in any list of every user, in one batch and one at a
 * time, or in the popularity list. */
static bool in_any_list(sr_model_t *mdl, uint32_t row) {
  uint32_t users[N_USERS];
  const char *ids[N_USERS] = {"w0", "w1", "w2", "w3", "w4", "c0"};
  sr_scored_t out[N_USERS * N_ITEMS], pop[N_ITEMS];
  size_t counts[N_USERS];
  float scores[N_ITEMS + 8];
  bool found = false;
  for (int u = 0; u < N_USERS; u++) {
    int64_t r = sr_model_find_user(mdl, ids[u], strlen(ids[u]));
    assert_true(r >= 0);
    users[u] = (uint32_t)r;
    assert_int_equal(sr_model_score_user(mdl, users[u], scores, NULL), 0);
    found |= isfinite(scores[row]) != 0;
  }
  assert_int_equal(
      sr_model_recommend(mdl, users, N_USERS, N_ITEMS, out, counts, NULL),
      SR_OK);
  for (int u = 0; u < N_USERS; u++)
    found |= listed(out + (size_t)u * N_ITEMS, counts[u], row);
  size_t n_pop = sr_model_popular(mdl, N_ITEMS, pop);
  return found || listed(pop, n_pop, row);
}

static void test_taken_down_is_in_no_list(void **state) {
  (void)state;
  sr_model_t *mdl = small_model();
  uint32_t row = row_of(mdl, "i20");
  assert_true(in_any_list(mdl, row));
  assert_int_equal(sr_model_set_available(mdl, "i20", 3, false, NULL), SR_OK);
  assert_int_equal(sr_model_item_available(mdl, row), 0);
  assert_int_equal(sr_model_unavailable_items(mdl), 1);
  assert_false(in_any_list(mdl, row));
  /* Nor among the neighbours of another item. */
  sr_scored_t sim[N_ITEMS];
  size_t n = sr_model_similar_items(mdl, row_of(mdl, "i1"), N_ITEMS, sim);
  assert_true(n > 0);
  assert_false(listed(sim, n, row));
  /* Available again, it is back. */
  assert_int_equal(sr_model_set_available(mdl, "i20", 3, true, NULL), SR_OK);
  assert_int_equal(sr_model_item_available(mdl, row), 1);
  assert_int_equal(sr_model_unavailable_items(mdl), 0);
  assert_true(in_any_list(mdl, row));
  sr_model_free(mdl);
}

static void test_events_still_train(void **state) {
  (void)state;
  sr_model_t *mdl = small_model();
  assert_int_equal(sr_model_set_available(mdl, "i3", 2, false, NULL), SR_OK);
  uint64_t digest = sr_model_digest(mdl), events = sr_model_events_applied(mdl);
  int64_t ts = 1700000100000LL;
  learn(mdl, "w0", "i3", &ts);
  assert_int_equal(sr_model_events_applied(mdl), events + 1);
  assert_true(sr_model_digest(mdl) != digest);
  assert_false(in_any_list(mdl, row_of(mdl, "i3")));
  sr_model_free(mdl);
}

static void test_unknown_item_taken_down_holds(void **state) {
  (void)state;
  sr_model_t *mdl = small_model();
  uint64_t items = sr_model_items(mdl), bytes = sr_model_bytes(mdl);
  int64_t row = -2;
  /* Made available while unknown: nothing to create. */
  assert_int_equal(sr_model_set_available(mdl, "new", 3, true, &row), SR_OK);
  assert_int_equal(row, -1);
  assert_int_equal(sr_model_items(mdl), items);
  assert_int_equal(sr_model_set_available(mdl, "new", 3, false, &row), SR_OK);
  assert_true(row >= 0);
  assert_int_equal(sr_model_items(mdl), items + 1);
  /* The list of takedowns is part of the model's memory. */
  assert_true(sr_model_bytes(mdl) > bytes);
  int64_t ts = 1700000200000LL;
  for (int k = 0; k < 5; k++)
    learn(mdl, "fan", "new", &ts);
  assert_int_equal(sr_model_find_item(mdl, "new", 3), row);
  assert_false(in_any_list(mdl, (uint32_t)row));
  sr_model_free(mdl);
}

static void test_snapshot_keeps_takedowns(void **state) {
  (void)state;
  sr_model_t *mdl = small_model();
  sr_model_conf_t conf = *sr_model_conf(mdl);
  uint64_t plain = sr_model_digest(mdl);
  /* The order of takedowns does not change the checkpoint. */
  assert_int_equal(sr_model_set_available(mdl, "i9", 2, false, NULL), SR_OK);
  assert_int_equal(sr_model_set_available(mdl, "i2", 2, false, NULL), SR_OK);
  uint64_t down = sr_model_digest(mdl);
  assert_true(down != plain);
  assert_int_equal(sr_model_set_available(mdl, "i9", 2, true, NULL), SR_OK);
  assert_int_equal(sr_model_set_available(mdl, "i9", 2, false, NULL), SR_OK);
  assert_int_equal(sr_model_digest(mdl), down);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *back = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_unavailable_items(back), 2);
  assert_int_equal(sr_model_item_available(back, row_of(back, "i9")), 0);
  assert_int_equal(sr_model_item_available(back, row_of(back, "i2")), 0);
  assert_int_equal(sr_model_item_available(back, row_of(back, "i1")), 1);
  /* The rows taken down are listed, in some order. */
  const uint32_t *rows = sr_model_unavailable_rows(back);
  uint32_t i2 = row_of(back, "i2"), i9 = row_of(back, "i9");
  assert_true((rows[0] == i2 && rows[1] == i9) ||
              (rows[0] == i9 && rows[1] == i2));
  assert_int_equal(sr_model_digest(back), down);
  /* With every item back, the digest is that of a model without any. */
  assert_int_equal(sr_model_set_available(back, "i9", 2, true, NULL), SR_OK);
  assert_int_equal(sr_model_set_available(back, "i2", 2, true, NULL), SR_OK);
  assert_int_equal(sr_model_digest(back), plain);
  sr_model_make_all_available(mdl);
  assert_int_equal(sr_model_unavailable_items(mdl), 0);
  assert_int_equal(sr_model_item_available(mdl, row_of(mdl, "i9")), 1);
  assert_int_equal(sr_model_digest(mdl), plain);
  sr_model_free(back);
  sr_model_free(mdl);
}

static void test_eviction_forgets(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.max_items = 4;
  sr_model_t *mdl = model_with(&conf);
  int64_t ts = 1700000000000LL;
  learn(mdl, "u", "a", &ts);
  int64_t row;
  assert_int_equal(sr_model_set_available(mdl, "a", 1, false, &row), SR_OK);
  char item[8];
  for (int k = 0; k < 8; k++) {
    snprintf(item, sizeof item, "b%d", k);
    learn(mdl, "u", item, &ts);
  }
  assert_int_equal(sr_model_find_item(mdl, "a", 1), -1);
  assert_int_equal(sr_model_unavailable_items(mdl), 0);
  assert_int_equal(sr_model_item_available(mdl, (uint32_t)row), 1);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_taken_down_is_in_no_list),
      cmocka_unit_test(test_events_still_train),
      cmocka_unit_test(test_unknown_item_taken_down_holds),
      cmocka_unit_test(test_snapshot_keeps_takedowns),
      cmocka_unit_test(test_eviction_forgets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
