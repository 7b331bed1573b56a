/* Tests of exact ranks: sr_model_rank_item against every item's score
 * from sr_model_score_user and counting, on streams that reach each kind
 * of score (factors with co-occurrence, popularity for cold users, content
 * queries), with the rows every list excludes (seen, free after eviction,
 * taken down), while learning changes the rows between ranks. */
#include "streamrec/model.h"

#include "core/model_internal.h"

#include "core/synth.h"

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

/* The rank as eval took it before: every score, then those above (ties:
 * the lower row first); 0 for an excluded item. */
static uint64_t brute_rank(sr_model_t *mdl, uint32_t user, uint32_t item,
                           float *scores) {
  uint32_t items = (uint32_t)sr_model_items(mdl);
  assert_int_equal(sr_model_score_user(mdl, user, scores, NULL), 0);
  float t = scores[item];
  if (t == -INFINITY)
    return 0;
  uint64_t above = 0;
  for (uint32_t j = 0; j < items; j++)
    above += (scores[j] > t) | ((scores[j] == t) & (j < item));
  return above + 1;
}

/* What a stream exercises besides learning. */
typedef struct stream {
  uint32_t users, items, events;
  int content;   /* every item gets the generator's content first */
  int takedowns; /* every 7th item is taken down */
} stream_t;

static void add_content(sr_model_t *mdl, const sr_synth_t *syn,
                        uint32_t items) {
  char feat[SR_SYNTH_MAX_FEATURES][SR_SYNTH_FEATURE_LEN];
  const char *ptr[SR_SYNTH_MAX_FEATURES];
  size_t len[SR_SYNTH_MAX_FEATURES];
  for (uint32_t i = 0; i < items; i++) {
    uint32_t n = sr_synth_item_content(syn, i, feat, 0, NULL);
    for (uint32_t k = 0; k < n; k++) {
      ptr[k] = feat[k];
      len[k] = strlen(feat[k]);
    }
    char id[16];
    int idlen = snprintf(id, sizeof id, "i%u", i);
    assert_int_equal(
        sr_model_set_content(mdl, id, (size_t)idlen, ptr, len, n, NULL, 0),
        SR_OK);
  }
}

static void take_down(sr_model_t *mdl, uint32_t items) {
  for (uint32_t i = 0; i < items; i += 7) {
    char id[16];
    int idlen = snprintf(id, sizeof id, "i%u", i);
    assert_int_equal(
        sr_model_set_available(mdl, id, (size_t)idlen, false, NULL), SR_OK);
  }
}

/* Before each event is learned, ranks its item and a few other rows for
 * its user both ways and asserts they agree; returns the events ranked. */
static uint64_t check_stream(const sr_model_conf_t *conf, const stream_t *st,
                             uint64_t seed) {
  sr_synth_conf_t sc;
  sr_synth_conf_init(&sc);
  sc.users = st->users;
  sc.items = st->items;
  sc.events = st->events;
  sc.seed = seed;
  sr_synth_t *syn = sr_synth_new(&sc);
  sr_model_t *mdl = model_with(conf);
  float *scores = malloc((size_t)(st->items + 1) * 4 * sizeof(float));
  assert_true(syn && scores);
  if (st->content)
    add_content(mdl, syn, st->items);
  if (st->takedowns)
    take_down(mdl, st->items);
  uint64_t ranked = 0;
  sr_event_t ev;
  while (sr_synth_next(syn, &ev)) {
    int64_t u = sr_model_find_user(mdl, ev.user_id, ev.user_len);
    int64_t i = sr_model_find_item(mdl, ev.item_id, ev.item_len);
    uint32_t items = (uint32_t)sr_model_items(mdl);
    for (uint32_t k = 0; u >= 0 && i >= 0 && k < 4; k++) {
      uint32_t row = (uint32_t)(i + (int64_t)k * 37) % items;
      uint64_t got = 99, want = brute_rank(mdl, (uint32_t)u, row, scores);
      assert_int_equal(sr_model_rank_item(mdl, (uint32_t)u, row, 0, &got), 0);
      if (got != want)
        fail_msg("event %llu, user row %lld, item row %u: rank %llu, "
                 "scoring every item %llu",
                 (unsigned long long)sr_model_events_applied(mdl), (long long)u,
                 row, (unsigned long long)got, (unsigned long long)want);
      uint64_t max = 1 + k * 7, capped = 99;
      assert_int_equal(sr_model_rank_item(mdl, (uint32_t)u, row, max, &capped),
                       0);
      assert_int_equal(capped, want > max ? max + 1 : want);
      ranked += k == 0;
    }
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  free(scores);
  sr_model_free(mdl);
  sr_synth_free(syn);
  return ranked;
}

static sr_model_conf_t conf_of(uint32_t dims) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = dims;
  conf.seen_size = 0; /* as eval: every earlier item excluded */
  return conf;
}

/* The default model: factors, popularity and co-occurrence chosen
 * online; 301 items so that the last rows fall outside whole blocks of
 * four and eight. */
static void test_default_blend(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(32);
  stream_t st = {.users = 120, .items = 301, .events = 3000};
  assert_true(check_stream(&conf, &st, 11) > 2000);
}

/* Factors of 5 dims (rows padded to 16 floats), co-occurrence off. */
static void test_factors_alone(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(5);
  conf.blend = SR_BLEND_FIXED;
  conf.cooc_weight = 0;
  stream_t st = {.users = 80, .items = 203, .events = 2000};
  assert_true(check_stream(&conf, &st, 12) > 1200);
}

/* Users below min_user_events rank by popularity, whose ties (items of
 * equal counts) go to the lower row; explicit mode adds item biases. */
static void test_cold_and_explicit(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(16);
  conf.min_user_events = 6;
  conf.pop_half_life = 0;
  stream_t st = {.users = 200, .items = 150, .events = 2000};
  assert_true(check_stream(&conf, &st, 13) > 1000);
  conf.min_user_events = 1;
  conf.mode = SR_MODE_EXPLICIT;
  assert_true(check_stream(&conf, &st, 14) > 1000);
}

/* Eviction frees rows (excluded, then reused with new factors); items
 * taken down are excluded; cold users with content are scored by their
 * content query. */
static void test_exclusions_and_content(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(32);
  conf.max_items = 90;
  stream_t st = {.users = 100, .items = 160, .events = 2500, .takedowns = 1};
  assert_true(check_stream(&conf, &st, 15) > 1000);
  conf = conf_of(32);
  conf.min_user_events = 3;
  stream_t ct = {.users = 150, .items = 200, .events = 2000, .content = 1};
  assert_true(check_stream(&conf, &ct, 16) > 1000);
}

/* A NaN score (a model that diverged) ranks as a miss, 0, never first:
 * counting it as rank 1 made such a model look perfect to eval. */
static void test_nan_score_is_a_miss(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8);
  conf.blend = SR_BLEND_FIXED;
  conf.cooc_weight = 0;
  conf.min_user_events = 1;
  sr_model_t *mdl = model_with(&conf);
  const char *items[3] = {"a", "b", "c"};
  for (int k = 0; k < 3; k++) {
    sr_event_t ev = event_for("u", items[k], SR_EV_CLICK, 0, k);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
    ev = event_for("v", items[k], SR_EV_CLICK, 0, k);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  sr_event_t ev = event_for("w", "a", SR_EV_CLICK, 0, 3);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  uint32_t w = (uint32_t)sr_model_find_user(mdl, "w", 1);
  uint32_t b = (uint32_t)sr_model_find_item(mdl, "b", 1);
  uint64_t rank = 99;
  assert_int_equal(sr_model_rank_item(mdl, w, b, 0, &rank), 0);
  assert_true(rank >= 1);
  sr_factors_row(&mdl->ifac, b)[0] = NAN;
  sr_share_mark_item(mdl, b);
  assert_int_equal(sr_model_rank_item(mdl, w, b, 0, &rank), 0);
  assert_int_equal(rank, 0);
  assert_int_equal(sr_model_rank_item(mdl, w, b, 10, &rank), 0);
  assert_int_equal(rank, 0);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_blend),
      cmocka_unit_test(test_factors_alone),
      cmocka_unit_test(test_cold_and_explicit),
      cmocka_unit_test(test_exclusions_and_content),
      cmocka_unit_test(test_nan_score_is_a_miss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
