/* Tests of the synthetic stream: determinism, valid fields, and the
 * structure a recommender is meant to learn from it. */
#include "core/synth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* An event reduced to numbers, so long streams fit in memory. */
typedef struct rec {
  uint32_t user, item;
  sr_event_type_t type;
  float value;
  int64_t ts;
} rec_t;

static sr_synth_conf_t conf_of(uint32_t users, uint32_t items, uint64_t events,
                               uint64_t seed) {
  sr_synth_conf_t conf;
  sr_synth_conf_init(&conf);
  conf.users = users;
  conf.items = items;
  conf.events = events;
  conf.seed = seed;
  return conf;
}

/* Parses "<prefix><decimal>" and checks the stated length. */
static uint32_t id_number(const char *id, uint16_t len, char prefix) {
  assert_int_equal(id[0], prefix);
  assert_int_equal(strlen(id), len);
  char *end;
  unsigned long n = strtoul(id + 1, &end, 10);
  assert_true(end != id + 1 && *end == '\0');
  return (uint32_t)n;
}

/* Generates conf.events events; fails the test on a malformed one. */
static rec_t *generate(const sr_synth_conf_t *conf) {
  sr_synth_t *syn = sr_synth_new(conf);
  assert_non_null(syn);
  rec_t *recs = calloc(conf->events, sizeof *recs);
  assert_non_null(recs);
  sr_event_t ev;
  for (uint64_t k = 0; k < conf->events; k++) {
    assert_int_equal(sr_synth_next(syn, &ev), 1);
    recs[k].user = id_number(ev.user_id, ev.user_len, 'u');
    recs[k].item = id_number(ev.item_id, ev.item_len, 'i');
    recs[k].type = ev.type;
    recs[k].value = ev.value;
    recs[k].ts = ev.timestamp_ms;
  }
  assert_int_equal(sr_synth_next(syn, &ev), 0);
  sr_synth_free(syn);
  return recs;
}

static int same_recs(const rec_t *a, const rec_t *b, uint64_t n) {
  for (uint64_t k = 0; k < n; k++) {
    if (a[k].user != b[k].user || a[k].item != b[k].item ||
        a[k].type != b[k].type || a[k].value != b[k].value ||
        a[k].ts != b[k].ts)
      return 0;
  }
  return 1;
}

static void test_same_seed_same_stream(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(300, 200, 20000, 7);
  rec_t *a = generate(&conf), *b = generate(&conf);
  assert_true(same_recs(a, b, conf.events));
  conf.seed = 8;
  rec_t *c = generate(&conf);
  assert_false(same_recs(a, c, conf.events));
  free(a);
  free(b);
  free(c);
}

static void test_short_stream_is_prefix(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(300, 200, 20000, 7);
  rec_t *full = generate(&conf);
  conf.events = 1234;
  rec_t *head = generate(&conf);
  assert_true(same_recs(full, head, conf.events));
  free(full);
  free(head);
}

static void test_ids_in_range_and_time_increases(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(50, 30, 20000, 1);
  rec_t *recs = generate(&conf);
  assert_int_equal(recs[0].ts, SR_SYNTH_START_MS);
  for (uint64_t k = 0; k < conf.events; k++) {
    assert_true(recs[k].user < conf.users);
    assert_true(recs[k].item < conf.items);
    if (k > 0)
      assert_true(recs[k].ts > recs[k - 1].ts);
  }
  /* Gaps are milliseconds to seconds: 20000 events span minutes to hours. */
  int64_t span = recs[conf.events - 1].ts - recs[0].ts;
  assert_true(span > 20000 && span < 20000 * 2000);
  free(recs);
}

static void test_types_and_values(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(1000, 500, 100000, 42);
  rec_t *recs = generate(&conf);
  uint64_t count[SR_EV__COUNT] = {0};
  for (uint64_t k = 0; k < conf.events; k++) {
    assert_true(recs[k].type > SR_EV_UNSPECIFIED &&
                recs[k].type < SR_EV__COUNT);
    count[recs[k].type]++;
    if (recs[k].type == SR_EV_RATING) {
      float v = recs[k].value;
      assert_true(v >= 1.0f && v <= 5.0f && v == (float)(int)v);
    } else {
      assert_true(recs[k].value == 0.0f);
    }
  }
  for (int t = SR_EV_VIEW; t < SR_EV__COUNT; t++)
    assert_true(count[t] > conf.events / 200);
  assert_true(count[SR_EV_VIEW] + count[SR_EV_CLICK] > conf.events * 6 / 10);
  assert_true(count[SR_EV_PURCHASE] < count[SR_EV_ADD_TO_CART]);
  free(recs);
}

/* Purchases follow a cart of the same item by the same user. */
static void test_purchase_follows_cart(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(200, 100, 50000, 3);
  rec_t *recs = generate(&conf);
  uint8_t *carted = calloc((size_t)conf.users * conf.items, 1);
  uint64_t purchases = 0, after_cart = 0;
  for (uint64_t k = 0; k < conf.events; k++) {
    size_t key = (size_t)recs[k].user * conf.items + recs[k].item;
    if (recs[k].type == SR_EV_ADD_TO_CART)
      carted[key] = 1;
    if (recs[k].type == SR_EV_PURCHASE) {
      purchases++;
      after_cart += carted[key];
    }
  }
  assert_true(purchases > 0);
  assert_true(after_cart * 10 >= purchases * 9);
  free(carted);
  free(recs);
}

static int desc_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x < y) - (x > y);
}

/* The busiest tenth of the catalogue draws a large share of the events. */
static void test_popularity_head(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(1000, 1000, 100000, 5);
  rec_t *recs = generate(&conf);
  uint32_t *count = calloc(conf.items, sizeof *count);
  for (uint64_t k = 0; k < conf.events; k++)
    count[recs[k].item]++;
  qsort(count, conf.items, sizeof *count, desc_u32);
  uint64_t head = 0;
  for (uint32_t i = 0; i < conf.items / 10; i++)
    head += count[i];
  assert_true(head * 100 >= conf.events * 30);
  /* ...but it is not the whole stream: the long tail is alive. */
  assert_true(head * 100 <= conf.events * 70);
  assert_true(count[conf.items / 2] > 0);
  free(count);
  free(recs);
}

/* Indices of the k largest counts[0..n). */
static void top_k(const uint32_t *counts, uint32_t n, uint32_t k,
                  uint8_t *in_top) {
  uint32_t *sorted = malloc(n * sizeof *sorted);
  memcpy(sorted, counts, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, desc_u32);
  uint32_t cut = sorted[k - 1], taken = 0;
  memset(in_top, 0, n);
  for (uint32_t i = 0; i < n && taken < k; i++) {
    if (counts[i] > cut) {
      in_top[i] = 1;
      taken++;
    }
  }
  for (uint32_t i = 0; i < n && taken < k; i++) {
    if (counts[i] == cut && cut > 0) {
      in_top[i] = 1;
      taken++;
    }
  }
  free(sorted);
}

/* A user's later events land on the ten items of their own earlier events
 * far more often than on the ten globally most popular items: tastes
 * dominate the head, so personal ranking beats popularity at hit@10. */
static void test_users_concentrate_on_their_tastes(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(500, 1000, 200000, 11);
  rec_t *recs = generate(&conf);
  size_t cells = (size_t)conf.users * conf.items;
  uint32_t *early = calloc(cells, sizeof *early);
  uint32_t *global = calloc(conf.items, sizeof *global);
  uint8_t *mine = malloc(conf.items), *popular = malloc(conf.items);
  uint64_t half = conf.events / 2, personal_hits = 0, popular_hits = 0, n = 0;
  uint32_t *history = calloc(conf.users, sizeof *history);
  for (uint64_t k = 0; k < half; k++) {
    history[recs[k].user]++;
    early[(size_t)recs[k].user * conf.items + recs[k].item]++;
    global[recs[k].item]++;
  }
  uint32_t k_top = 10;
  top_k(global, conf.items, k_top, popular);
  for (uint32_t u = 0; u < conf.users; u++) {
    if (history[u] < 20)
      continue; /* too little history to know the user's tastes */
    top_k(early + (size_t)u * conf.items, conf.items, k_top, mine);
    for (uint64_t k = half; k < conf.events; k++) {
      if (recs[k].user != u)
        continue;
      personal_hits += mine[recs[k].item];
      popular_hits += popular[recs[k].item];
      n++;
    }
  }
  print_message("share of later events on personal top-10 %.3f, on global "
                "top-10 %.3f\n",
                (double)personal_hits / (double)n,
                (double)popular_hits / (double)n);
  assert_true(personal_hits * 100 >= n * 25);
  assert_true(personal_hits * 10 >= popular_hits * 15);
  free(history);
  free(mine);
  free(popular);
  free(global);
  free(early);
  free(recs);
}

static void test_tiny_and_invalid_configs(void **state) {
  (void)state;
  sr_synth_conf_t conf = conf_of(1, 1, 1000, 0);
  rec_t *recs = generate(&conf);
  assert_int_equal(recs[999].user, 0);
  assert_int_equal(recs[999].item, 0);
  free(recs);
  conf = conf_of(3, 5, 1000, 0);
  conf.clusters = 100;
  sr_synth_t *syn = sr_synth_new(&conf);
  assert_non_null(syn);
  assert_true(sr_synth_clusters(syn) <= 5);
  sr_synth_free(syn);
  conf.users = 0;
  assert_null(sr_synth_new(&conf));
  conf = conf_of(3, 0, 1000, 0);
  assert_null(sr_synth_new(&conf));
  sr_synth_free(NULL);
}

static void test_default_clusters_scale_with_items(void **state) {
  (void)state;
  const uint32_t items[] = {10, 500, 4000, 100000};
  const uint32_t want[] = {8, 12, 32, 32};
  for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
    sr_synth_conf_t conf = conf_of(10, items[k], 0, 1);
    sr_synth_t *syn = sr_synth_new(&conf);
    assert_non_null(syn);
    assert_int_equal(sr_synth_clusters(syn), want[k]);
    sr_synth_free(syn);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_stream),
      cmocka_unit_test(test_short_stream_is_prefix),
      cmocka_unit_test(test_ids_in_range_and_time_increases),
      cmocka_unit_test(test_types_and_values),
      cmocka_unit_test(test_purchase_follows_cart),
      cmocka_unit_test(test_popularity_head),
      cmocka_unit_test(test_users_concentrate_on_their_tastes),
      cmocka_unit_test(test_tiny_and_invalid_configs),
      cmocka_unit_test(test_default_clusters_scale_with_items),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
