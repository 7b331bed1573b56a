/* Tests of bounded memory in the model: which ids are evicted (least
 * recently active first, idle in event time), limits held exactly, evicted
 * ids coming back as new, free rows never listed, exact recovery of a model
 * with evictions, and memory that is reported truly and stays flat. */
#include "streamrec/model.h"

#include "core/clock.h"
#include "core/model_internal.h"
#include "core/synth.h"
#include "store/checkpoint.h"
#include "store/model_store.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"
#include "util/offset.h"

/* A Tuesday in 2001 and one in 2096: eviction must not care which. */
#define PAST_MS 1000000000000LL
#define FUTURE_MS 4000000000000LL

static sr_event_t event_at(const char *user, const char *item, int64_t ts) {
  return event_for(user, item, SR_EV_CLICK, 0, ts);
}

static void learn_at(sr_model_t *mdl, const char *user, const char *item,
                     int64_t ts) {
  sr_event_t ev = event_at(user, item, ts);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
}

/* Learns user -> item at ts as often as it takes the clock to read ts. The
 * clock is the median of the last SR_CLOCK_WINDOW timestamps, so that takes
 * up to half of them; the ids end up last active at ts, as in a stream
 * dense enough for the clock to trail it by little. */
static void learn_until(sr_model_t *mdl, const char *user, const char *item,
                        int64_t ts) {
  for (int k = 0; k < SR_CLOCK_WINDOW; k++) {
    learn_at(mdl, user, item, ts);
    if (sr_model_clock_ms(mdl) >= ts)
      return;
  }
  fail_msg("the clock stays at %lld, below %lld",
           (long long)sr_model_clock_ms(mdl), (long long)ts);
}

static int has_user(const sr_model_t *mdl, const char *id) {
  return sr_model_find_user(mdl, id, strlen(id)) >= 0;
}

static int has_item(const sr_model_t *mdl, const char *id) {
  return sr_model_find_item(mdl, id, strlen(id)) >= 0;
}

static uint64_t users_evicted(const sr_model_t *mdl) {
  uint64_t users;
  sr_model_evictions(mdl, &users, NULL);
  return users;
}

static uint64_t items_evicted(const sr_model_t *mdl) {
  uint64_t items;
  sr_model_evictions(mdl, NULL, &items);
  return items;
}

/* Three users, then "a" again, then new users: each new user evicts the one
 * least recently active. step is the time between events; with 0 every
 * event has the same timestamp and the order of events alone decides. */
static void check_lru_users(int64_t step) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.max_users = 3;
  sr_model_t *mdl = model_with(&conf);
  int64_t t = PAST_MS;
  learn_at(mdl, "a", "x", t += step);
  learn_at(mdl, "b", "x", t += step);
  learn_at(mdl, "c", "x", t += step);
  learn_at(mdl, "a", "y", t += step);
  int64_t row_b = sr_model_find_user(mdl, "b", 1);
  assert_int_equal(users_evicted(mdl), 0);

  learn_at(mdl, "d", "x", t += step);
  assert_false(has_user(mdl, "b"));
  assert_true(has_user(mdl, "a") && has_user(mdl, "c") && has_user(mdl, "d"));
  assert_int_equal(sr_model_find_user(mdl, "d", 1), row_b);
  assert_int_equal(users_evicted(mdl), 1);
  assert_int_equal(sr_model_live_users(mdl), 3);
  assert_int_equal(sr_model_users(mdl), 3);

  /* Order now d, a, c: c goes, then a. */
  learn_at(mdl, "e", "x", t += step);
  assert_false(has_user(mdl, "c"));
  learn_at(mdl, "b", "x", t += step);
  assert_false(has_user(mdl, "a"));
  assert_true(has_user(mdl, "d") && has_user(mdl, "e") && has_user(mdl, "b"));
  assert_int_equal(users_evicted(mdl), 3);
  assert_int_equal(items_evicted(mdl), 0);
  sr_model_free(mdl);
}

static void test_least_recently_active_user_goes_first(void **state) {
  (void)state;
  check_lru_users(1000);
  check_lru_users(0);
}

static void test_least_recently_active_item_goes_first(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.max_items = 2;
  sr_model_t *mdl = model_with(&conf);
  learn_at(mdl, "u", "i1", PAST_MS);
  learn_at(mdl, "v", "i2", PAST_MS);
  learn_at(mdl, "w", "i1", PAST_MS);
  int64_t row_i2 = sr_model_find_item(mdl, "i2", 2);
  learn_at(mdl, "u", "i3", PAST_MS);
  assert_false(has_item(mdl, "i2"));
  assert_true(has_item(mdl, "i1") && has_item(mdl, "i3"));
  assert_int_equal(sr_model_find_item(mdl, "i3", 2), row_i2);
  assert_int_equal(items_evicted(mdl), 1);
  assert_int_equal(users_evicted(mdl), 0);
  assert_int_equal(sr_model_items(mdl), 2);
  sr_model_free(mdl);
}

static void test_limits_hold_exactly_under_new_ids(void **state) {
  (void)state;
  enum { EVENTS = 20000, MAX_USERS = 50, MAX_ITEMS = 30, CYCLE = 97 };
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.max_users = MAX_USERS;
  conf.max_items = MAX_ITEMS;
  sr_model_t *mdl = model_with(&conf);
  char user[32], item[32];
  for (uint32_t k = 0; k < EVENTS; k++) {
    snprintf(user, sizeof user, "new-%u", k);
    snprintf(item, sizeof item, "i%u", k % CYCLE);
    learn_at(mdl, user, item, PAST_MS + k);
    uint64_t want_users = k + 1 < MAX_USERS ? k + 1 : MAX_USERS;
    uint64_t want_items = k + 1 < MAX_ITEMS ? k + 1 : MAX_ITEMS;
    if (sr_model_live_users(mdl) != want_users ||
        sr_model_users(mdl) != want_users ||
        sr_model_live_items(mdl) != want_items ||
        sr_model_items(mdl) != want_items)
      fail_msg("after event %u: %llu users in %llu rows, %llu items", k,
               (unsigned long long)sr_model_live_users(mdl),
               (unsigned long long)sr_model_users(mdl),
               (unsigned long long)sr_model_live_items(mdl));
  }
  /* An item returns every 97 events, by when 30 newer ones evicted it. */
  assert_int_equal(users_evicted(mdl), EVENTS - MAX_USERS);
  assert_int_equal(items_evicted(mdl), EVENTS - MAX_ITEMS);
  assert_true(has_user(mdl, user));
  assert_false(has_user(mdl, "new-0"));
  sr_model_free(mdl);
}

/* a, b, c arrive 0, 30 and 50 s after base; with a 60 s TTL, a goes once the
 * stream reaches 70 s, b at 95 s, and c stays at exactly 60 s idle. */
static void check_ttl(int64_t base) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 60;
  sr_model_t *mdl = model_with(&conf);
  learn_until(mdl, "a", "xa", base);
  learn_until(mdl, "b", "xb", base + 30000);
  learn_until(mdl, "c", "xc", base + 50000);
  learn_until(mdl, "d", "xd", base + 60000);
  assert_int_equal(sr_model_live_users(mdl), 4); /* a is idle exactly 60 s */

  learn_until(mdl, "d", "xd", base + 70000);
  assert_false(has_user(mdl, "a") || has_item(mdl, "xa"));
  assert_true(has_user(mdl, "b") && has_item(mdl, "xb"));
  learn_until(mdl, "d", "xd", base + 95000);
  assert_false(has_user(mdl, "b") || has_item(mdl, "xb"));
  learn_until(mdl, "d", "xd", base + 110000);
  assert_true(has_user(mdl, "c") && has_item(mdl, "xc"));
  learn_until(mdl, "d", "xd", base + 110001);
  assert_false(has_user(mdl, "c") || has_item(mdl, "xc"));
  assert_true(has_user(mdl, "d") && has_item(mdl, "xd"));
  assert_int_equal(users_evicted(mdl), 3);
  assert_int_equal(items_evicted(mdl), 3);
  assert_int_equal(sr_model_clock_ms(mdl), base + 110001);
  sr_model_free(mdl);
}

static void test_idle_ttl_counts_event_time(void **state) {
  (void)state;
  check_ttl(PAST_MS);
  check_ttl(FUTURE_MS);
  /* However long the wall clock runs, an idle id stays without events. */
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 1;
  sr_model_t *mdl = model_with(&conf);
  learn_at(mdl, "a", "x", PAST_MS);
  usleep(1100 * 1000);
  learn_at(mdl, "b", "y", PAST_MS + 500);
  assert_true(has_user(mdl, "a") && has_item(mdl, "x"));
  assert_int_equal(users_evicted(mdl) + items_evicted(mdl), 0);
  sr_model_free(mdl);
}

static void test_idle_expiry_is_bounded_per_event(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 10;
  sr_model_t *mdl = model_with(&conf);
  char user[16], item[16];
  for (int k = 0; k < 20; k++) {
    snprintf(user, sizeof user, "u%d", k);
    snprintf(item, sizeof item, "i%d", k);
    learn_at(mdl, user, item, PAST_MS + k);
  }
  /* The stream jumps a minute ahead: the clock follows once the new time
   * fills half its window, not before. */
  for (int k = 0; k < SR_CLOCK_WINDOW / 2; k++)
    learn_at(mdl, "late", "late-item", PAST_MS + 60000);
  assert_int_equal(sr_model_clock_ms(mdl), PAST_MS + 19);
  assert_int_equal(users_evicted(mdl) + items_evicted(mdl), 0);
  /* Then all 20 turn idle at once; 8 of each kind go per event, oldest
   * first. */
  const uint64_t want[] = {8, 16, 20, 20};
  for (int e = 0; e < 4; e++) {
    learn_at(mdl, "late", "late-item", PAST_MS + 60000);
    assert_int_equal(sr_model_clock_ms(mdl), PAST_MS + 60000);
    assert_int_equal(users_evicted(mdl), want[e]);
    assert_int_equal(items_evicted(mdl), want[e]);
    assert_int_equal(sr_model_live_users(mdl), 21 - want[e]);
    /* Eviction goes oldest first: u7 leaves with the first 8, u8 stays. */
    if (e == 0)
      assert_true(!has_user(mdl, "u7") && has_user(mdl, "u8"));
  }
  sr_model_free(mdl);
}

static void test_clock_ignores_zero_and_late_timestamps(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 3;
  sr_model_t *mdl = model_with(&conf);
  learn_at(mdl, "a", "x", PAST_MS + 5000);
  learn_at(mdl, "b", "x", 0);
  assert_int_equal(sr_model_clock_ms(mdl), PAST_MS + 5000);
  /* A late event does not turn the clock back, and its ids count as active
   * when it arrived (5 s), not at their own stamp (1 s). */
  learn_at(mdl, "late", "y", PAST_MS + 1000);
  assert_int_equal(sr_model_clock_ms(mdl), PAST_MS + 5000);
  learn_until(mdl, "a", "x", PAST_MS + 7000);
  assert_true(has_user(mdl, "late") && has_item(mdl, "y"));
  assert_true(has_user(mdl, "b"));
  learn_until(mdl, "a", "x", PAST_MS + 8001);
  assert_false(has_user(mdl, "late") || has_user(mdl, "b"));
  assert_false(has_item(mdl, "y"));
  sr_model_free(mdl);
}

/* Live users and items, summed. */
static uint64_t live_ids(const sr_model_t *mdl) {
  return sr_model_live_users(mdl) + sr_model_live_items(mdl);
}

/* A stream whose ids are all active within the TTL, with one event stamped
 * 23 h ahead (inside the daemon's default 24 h skew) in the middle: the
 * clock must not follow that event, so (almost) nothing is evicted. Without
 * the event, nothing at all would be. */
static void check_outlier_ahead(int64_t ahead_ms) {
  enum { EVENTS = 6000, CUT = 3000 };
  sr_event_t *evs = synth_events(150, 250, EVENTS, 21);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 3600;
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, CUT);
  assert_int_equal(users_evicted(mdl) + items_evicted(mdl), 0);
  uint64_t live = live_ids(mdl);
  int64_t clock = sr_model_clock_ms(mdl);

  sr_event_t odd =
      event_at("odd-user", "odd-item", evs[CUT - 1].timestamp_ms + ahead_ms);
  assert_int_equal(sr_model_learn(mdl, &odd, NULL), SR_OK);
  int64_t after = sr_model_clock_ms(mdl);
  learn_all(mdl, evs, CUT, EVENTS);
  /* The stream itself spans far less than the TTL. */
  assert_true(evs[EVENTS - 1].timestamp_ms - evs[0].timestamp_ms < 3600 * 1000);
  uint64_t evicted = users_evicted(mdl) + items_evicted(mdl);
  if (evicted > live / 100)
    fail_msg("one event %lld ms ahead evicted %llu of %llu ids",
             (long long)ahead_ms, (unsigned long long)evicted,
             (unsigned long long)live);
  /* The clock stayed among the stream's own times. */
  assert_true(after >= clock && after <= evs[CUT - 1].timestamp_ms);
  assert_true(sr_model_clock_ms(mdl) <= evs[EVENTS - 1].timestamp_ms);
  sr_model_free(mdl);
  free(evs);
}

static void test_one_event_far_ahead_evicts_almost_nothing(void **state) {
  (void)state;
  check_outlier_ahead(23LL * 3600 * 1000);
  check_outlier_ahead(100LL * 365 * 24 * 3600 * 1000);
}

/* The stream really moves on: after a normal stream, a day later, new users
 * and items only. The clock follows once the new time fills half its
 * window; then the old ids go, 8 users and 8 items per event at most, until
 * none is left. (Ids seen only in the events before the clock followed
 * counted as active at the old time; here they come back soon after.) */
static void test_lasting_jump_moves_the_clock_and_evicts(void **state) {
  (void)state;
  enum { EVENTS = 3000, AFTER = 300, NEW_USERS = 10, NEW_ITEMS = 20 };
  sr_event_t *evs = synth_events(150, 250, EVENTS, 22);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 3600;
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, EVENTS);
  uint64_t old_users = sr_model_live_users(mdl);
  uint64_t old_items = sr_model_live_items(mdl);
  int64_t last = evs[EVENTS - 1].timestamp_ms;
  int64_t jump = last + 24LL * 3600 * 1000;
  char user[32], item[32];
  for (int k = 0; k < AFTER; k++) {
    snprintf(user, sizeof user, "after-%d", k % NEW_USERS);
    snprintf(item, sizeof item, "after-item-%d", k % NEW_ITEMS);
    uint64_t before = users_evicted(mdl) + items_evicted(mdl);
    learn_at(mdl, user, item, jump + k * 100);
    uint64_t evicted = users_evicted(mdl) + items_evicted(mdl) - before;
    if (k < SR_CLOCK_WINDOW / 2) {
      assert_true(sr_model_clock_ms(mdl) <= last);
      assert_int_equal(evicted, 0);
    } else {
      assert_int_equal(sr_model_clock_ms(mdl),
                       jump + (k - SR_CLOCK_WINDOW / 2) * 100);
      assert_true(evicted <= 16);
    }
  }
  assert_int_equal(users_evicted(mdl), old_users);
  assert_int_equal(items_evicted(mdl), old_items);
  assert_int_equal(sr_model_live_users(mdl), NEW_USERS);
  assert_int_equal(sr_model_live_items(mdl), NEW_ITEMS);
  sr_model_free(mdl);
  free(evs);
}

static void test_evicted_ids_come_back_as_new(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.max_users = 2;
  conf.max_items = 2;
  conf.min_user_events = 2;
  conf.pop_half_life = 0; /* plain counts */
  sr_model_t *mdl = model_with(&conf);
  int64_t t = PAST_MS;
  for (int k = 0; k < 5; k++)
    learn_at(mdl, "u", k % 2 ? "x" : "y", t++);
  uint32_t row = (uint32_t)sr_model_find_user(mdl, "u", 1);
  float old[8];
  memcpy(old, sr_factors_row(&mdl->ufac, row), sizeof old);
  assert_int_equal(sr_model_user_events(mdl, row), 5);

  /* Two newer users: w evicts u and takes its row, with nothing of u's. */
  learn_at(mdl, "v", "x", t++);
  learn_at(mdl, "w", "x", t++);
  assert_false(has_user(mdl, "u"));
  assert_int_equal(sr_model_find_user(mdl, "w", 1), row);
  assert_int_equal(sr_model_user_events(mdl, row), 1);
  const float *fresh = sr_factors_row(&mdl->ufac, row);
  int differs = 0;
  for (int f = 0; f < 8; f++)
    differs |= fresh[f] != old[f];
  assert_true(differs);

  /* u returns as a new user, evicting v: one event, so cold again. */
  learn_at(mdl, "u", "z", t++);
  assert_false(has_user(mdl, "v"));
  uint32_t back = (uint32_t)sr_model_find_user(mdl, "u", 1);
  assert_int_equal(sr_model_user_events(mdl, back), 1);
  sr_scored_t out[3];
  size_t count = 0;
  sr_source_t source;
  assert_int_equal(sr_model_recommend(mdl, &back, 1, 3, out, &count, &source),
                   SR_OK);
  assert_int_equal(source, SR_SOURCE_POPULAR);

  /* y was evicted by z (x stayed busy); it comes back with no count. */
  assert_false(has_item(mdl, "y"));
  learn_at(mdl, "w", "y", t++);
  uint32_t y = (uint32_t)sr_model_find_item(mdl, "y", 1);
  uint32_t z = (uint32_t)sr_model_find_item(mdl, "z", 1);
  assert_true(sr_popular_count(&mdl->pop, y) == 1.0);
  assert_true(sr_popular_count(&mdl->pop, z) == 1.0);
  assert_int_equal(users_evicted(mdl), 2);
  sr_model_free(mdl);
}

/* 1 when row appears in the first n entries of list. */
static int listed(const sr_scored_t *list, size_t n, uint32_t row) {
  for (size_t k = 0; k < n; k++)
    if (list[k].item == row)
      return 1;
  return 0;
}

static void test_free_item_rows_are_never_listed(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.idle_ttl_s = 10;
  conf.min_user_events = 2;
  sr_model_t *mdl = model_with(&conf);
  char item[16];
  for (int k = 0; k < 12; k++) {
    snprintf(item, sizeof item, "old%d", k);
    learn_at(mdl, "fan", item, PAST_MS + k);
  }
  learn_until(mdl, "reader", "new0", PAST_MS + 60000);
  learn_until(mdl, "reader", "new1", PAST_MS + 60001);
  /* fan is gone and its row free, until the next new user takes it. */
  assert_false(has_user(mdl, "fan"));
  assert_int_equal(sr_model_live_users(mdl), 1);
  assert_int_equal(sr_model_users(mdl), 2);
  size_t len = 99;
  assert_false(sr_model_user_is_live(mdl, 0));
  assert_string_equal(sr_model_user_id(mdl, 0, &len), "");
  assert_int_equal(len, 0);
  assert_int_equal(sr_model_user_events(mdl, 0), 0);
  learn_at(mdl, "cold", "new1", PAST_MS + 60002);
  assert_int_equal(sr_model_find_user(mdl, "cold", 4), 0);
  /* All twelve old items are gone, their rows free; new0 came before any
   * row was free, new1 took one. */
  assert_int_equal(sr_model_live_items(mdl), 2);
  /* No negative can be drawn from a free row: the window holds live ones. */
  assert_true(mdl->recent.len > 0);
  for (uint32_t j = 0; j < mdl->recent.len; j++)
    assert_true(sr_model_item_is_live(mdl, mdl->recent.items[j]));
  uint32_t rows = (uint32_t)sr_model_items(mdl);
  assert_int_equal(rows, 13);

  sr_scored_t out[13];
  size_t count = 0;
  uint32_t warm = (uint32_t)sr_model_find_user(mdl, "reader", 6);
  uint32_t cold = (uint32_t)sr_model_find_user(mdl, "cold", 4);
  uint32_t two[2] = {warm, cold};
  size_t counts[2];
  sr_scored_t lists[2 * 13];
  assert_int_equal(sr_model_recommend(mdl, two, 2, rows, lists, counts, NULL),
                   SR_OK);
  /* reader has seen both live items, cold has seen new1. */
  assert_int_equal(counts[0], 0);
  assert_int_equal(counts[1], 1);
  assert_string_equal(sr_model_item_id(mdl, lists[rows].item, NULL), "new0");
  count = sr_model_popular(mdl, rows, out);
  assert_int_equal(count, 2);
  float scores[13];
  assert_int_equal(sr_model_score_user(mdl, warm, scores, NULL), 0);
  for (uint32_t r = 0; r < rows; r++)
    if (!sr_model_item_is_live(mdl, r))
      assert_true(scores[r] == -INFINITY);
  uint32_t new0 = (uint32_t)sr_model_find_item(mdl, "new0", 4);
  count = sr_model_similar_items(mdl, new0, rows, out);
  assert_int_equal(count, 1);
  assert_false(listed(out, count, new0));
  sr_model_free(mdl);
}

/* Digest of the sections that say what a model learnt and holds: all but the
 * recency lists, which a model without limits does not keep. */
static uint64_t learnt_digest(const sr_model_t *mdl) {
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  size_t n = snap.n_sections;
  while (snap.n_sections > 0 && snap.sections[snap.n_sections - 1].id > 12)
    snap.n_sections--;
  uint64_t digest = sr_model_snapshot_digest(&snap);
  snap.n_sections = n;
  sr_model_snapshot_release(&snap);
  return digest;
}

static void test_unreached_limits_change_nothing(void **state) {
  (void)state;
  enum { EVENTS = 4000 };
  sr_event_t *evs = synth_events(150, 250, EVENTS, 11);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *plain = model_with(&conf);
  conf.max_users = 1000;
  conf.max_items = 1000;
  conf.idle_ttl_s = 1000000;
  sr_model_t *bounded = model_with(&conf);
  learn_all(plain, evs, 0, EVENTS);
  learn_all(bounded, evs, 0, EVENTS);
  assert_true(learnt_digest(plain) == learnt_digest(bounded));
  assert_int_equal(users_evicted(bounded) + items_evicted(bounded), 0);
  sr_model_free(plain);
  sr_model_free(bounded);
  free(evs);
}

/* A model run without limits keeps only when each id was last active;
 * restarted with a limit, it evicts by that time. */
static void test_limits_added_on_restart_evict_by_last_touch(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *mdl = model_with(&conf);
  learn_until(mdl, "a", "x", PAST_MS + 1);
  learn_until(mdl, "b", "x", PAST_MS + 2);
  learn_until(mdl, "c", "x", PAST_MS + 3);
  learn_until(mdl, "a", "y", PAST_MS + 4);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  conf.max_users = 3;
  sr_model_t *copy = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  learn_at(copy, "d", "x", PAST_MS + 5);
  assert_false(has_user(copy, "b"));
  learn_at(copy, "e", "x", PAST_MS + 6);
  assert_false(has_user(copy, "c"));
  assert_true(has_user(copy, "a") && has_user(copy, "d") &&
              has_user(copy, "e"));
  sr_model_free(copy);
  sr_model_free(mdl);
}

/* Small limits and a short TTL over a stream of 150 users and 250 items:
 * both kinds of eviction happen all along. */
static void bounded_conf(sr_model_conf_t *conf) {
  sr_model_conf_init(conf);
  conf->max_users = 40;
  conf->max_items = 60;
  conf->idle_ttl_s = 20;
  conf->recent_size = 50;
  conf->seen_size = 8;
  conf->pop_half_life = 10;
}

/* Snapshot after cut events, restore, learn the rest: the copy must end
 * bit-identical to the model that never stopped. */
static void check_cut(const sr_model_conf_t *conf, const sr_event_t *evs,
                      size_t n, size_t cut, uint64_t want) {
  sr_model_t *mdl = model_with(conf);
  learn_all(mdl, evs, 0, cut);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *copy = restore_of(conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_true(sr_model_digest(copy) == sr_model_digest(mdl));
  sr_model_free(mdl);
  learn_all(copy, evs, cut, n);
  if (sr_model_digest(copy) != want)
    fail_msg("restored after %zu events, the model ends different", cut);
  sr_model_free(copy);
}

static void check_recovery(const sr_model_conf_t *conf, uint64_t seed) {
  enum { EVENTS = 9000 };
  sr_event_t *evs = synth_events(150, 250, EVENTS, seed);
  sr_model_t *mdl = model_with(conf);
  /* Cut points: fixed ones, and right after the first user eviction, the
   * first item eviction and the first event evicting more than one id. */
  size_t cuts[8] = {1, 2500, 6000, EVENTS - 1}, n_cuts = 4;
  uint64_t users = 0, items = 0;
  int seen_user = 0, seen_item = 0, seen_multi = 0;
  for (size_t k = 0; k < EVENTS; k++) {
    assert_int_equal(sr_model_learn(mdl, &evs[k], NULL), SR_OK);
    uint64_t u = users_evicted(mdl), i = items_evicted(mdl);
    if ((u > users && !seen_user++) || (i > items && !seen_item++) ||
        (u + i > users + items + 1 && !seen_multi++))
      cuts[n_cuts++] = k + 1;
    users = u;
    items = i;
  }
  assert_true(seen_user && seen_item && seen_multi);
  assert_true(users > 150 && items > 250);
  uint64_t want = sr_model_digest(mdl);
  sr_model_free(mdl);
  for (size_t c = 0; c < n_cuts; c++)
    check_cut(conf, evs, EVENTS, cuts[c], want);
  free(evs);
}

static void test_recovery_with_evictions_is_exact(void **state) {
  (void)state;
  sr_model_conf_t conf;
  bounded_conf(&conf);
  check_recovery(&conf, 3);
  bounded_conf(&conf);
  conf.mode = SR_MODE_EXPLICIT;
  conf.learn_rate = 0.05f;
  check_recovery(&conf, 4);
}

/* The bounded stream with a day-ahead event every 500 events and a
 * day-late one every 70th: restored at every cut, including right after an
 * outlier and while the clock's window holds one, the model ends
 * bit-identical to the one that never stopped. */
static void test_recovery_with_outliers_is_exact(void **state) {
  (void)state;
  enum { EVENTS = 6000 };
  const int64_t day = 24LL * 3600 * 1000;
  sr_event_t *evs = synth_events(150, 250, EVENTS, 5);
  for (size_t k = 0; k < EVENTS; k++) {
    if (k % 500 == 250)
      evs[k].timestamp_ms += day;
    else if (k % 70 == 3)
      evs[k].timestamp_ms -= day;
  }
  sr_model_conf_t conf;
  bounded_conf(&conf);
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, EVENTS);
  /* Idle eviction went on as usual: the clock stayed in the stream. */
  assert_true(sr_model_clock_ms(mdl) <= evs[EVENTS - 1].timestamp_ms);
  assert_true(users_evicted(mdl) > 150 && items_evicted(mdl) > 250);
  uint64_t want = sr_model_digest(mdl);
  sr_model_free(mdl);
  const size_t cuts[] = {1, 5, 251, 252, 260, 1251, 3004, 4750, EVENTS - 1};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
    check_cut(&conf, evs, EVENTS, cuts[c], want);
  free(evs);
}

/* As after kill -9 and restart: the model comes back from the newest
 * checkpoint file and the stream is replayed from its offset. */
static void test_checkpoint_file_recovery_with_evictions(void **state) {
  (void)state;
  enum { EVENTS = 6000, CUT = 3500 };
  sr_event_t *evs = synth_events(150, 250, EVENTS, 8);
  sr_model_conf_t conf;
  bounded_conf(&conf);
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, CUT);
  assert_true(users_evicted(mdl) > 0 && items_evicted(mdl) > 0);

  char dir[] = "/tmp/sr-test-evict-XXXXXX";
  assert_non_null(mkdtemp(dir));
  sr_offset_t offset = {"events", 0, CUT};
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  char path[PATH_MAX], err[512] = "";
  sr_err_t rc = sr_store_write(dir, &snap, &offset, 1, NULL, 1, 1700000000000LL,
                               2, path, sizeof path, err, sizeof err);
  sr_model_snapshot_release(&snap);
  if (rc != SR_OK)
    fail_msg("write: %s", err);
  sr_ckpt_t *ckpt = NULL;
  if (sr_ckpt_read(path, &ckpt, err, sizeof err) != SR_OK)
    fail_msg("read: %s", err);
  sr_model_t *copy = NULL;
  if (sr_store_restore(&conf, ckpt, &copy, err, sizeof err) != SR_OK)
    fail_msg("restore: %s", err);
  uint64_t offset_back = sr_ckpt_meta(ckpt)->offsets[0].offset;
  sr_ckpt_free(ckpt);
  assert_true(sr_model_digest(copy) == sr_model_digest(mdl));
  uint64_t u, i, cu, ci;
  sr_model_evictions(mdl, &u, &i);
  sr_model_evictions(copy, &cu, &ci);
  assert_true(u == cu && i == ci);

  learn_all(mdl, evs, CUT, EVENTS);
  learn_all(copy, evs, (size_t)offset_back, EVENTS);
  assert_true(sr_model_digest(copy) == sr_model_digest(mdl));
  remove_tree(dir);
  sr_model_free(copy);
  sr_model_free(mdl);
  free(evs);
}

/* A snapshot from before eviction existed has no clock or recency sections:
 * it restores with every row live, and learns on. */
static void test_snapshot_without_recency_restores(void **state) {
  (void)state;
  enum { EVENTS = 3000 };
  sr_event_t *evs = synth_events(100, 200, EVENTS, 6);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  /* nor co-occurrence and the choice among blends, which came later still */
  conf.cooc_weight = 0;
  conf.blend = SR_BLEND_FIXED;
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, EVENTS / 2);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  size_t kept = 0;
  for (size_t k = 0; k < snap.n_sections; k++)
    if (snap.sections[k].id <= 11)
      snap.sections[kept++] = snap.sections[k];
    else
      free(snap.sections[k].data);
  snap.n_sections = kept;
  sr_model_t *copy = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_live_users(copy), sr_model_users(mdl));
  assert_int_equal(sr_model_live_items(copy), sr_model_items(mdl));
  learn_all(copy, evs, EVENTS / 2, EVENTS);
  learn_all(mdl, evs, EVENTS / 2, EVENTS);
  /* Without a clock the rows differ only in recency, not in what is
   * learnt: the lists agree. */
  for (uint32_t u = 0; u < sr_model_users(mdl); u += 5) {
    sr_scored_t a[5], b[5];
    size_t na = 0, nb = 0;
    assert_int_equal(sr_model_recommend(mdl, &u, 1, 5, a, &na, NULL), SR_OK);
    assert_int_equal(sr_model_recommend(copy, &u, 1, 5, b, &nb, NULL), SR_OK);
    assert_int_equal(na, nb);
    for (size_t j = 0; j < na; j++)
      assert_true(a[j].item == b[j].item && a[j].score == b[j].score);
  }
  sr_model_free(copy);
  sr_model_free(mdl);
  free(evs);
}

/* A snapshot from before the median clock has the clock's time but no
 * window: it restores at that time, which never goes back, and once a
 * window of later events has passed the clock agrees with the model's that
 * kept its window. */
static void test_snapshot_without_clock_window_keeps_time(void **state) {
  (void)state;
  enum { EVENTS = 3000 };
  sr_event_t *evs = synth_events(100, 200, EVENTS, 12);
  sr_model_conf_t conf;
  bounded_conf(&conf);
  /* nor co-occurrence and the choice among blends, which came later still */
  conf.cooc_weight = 0;
  conf.blend = SR_BLEND_FIXED;
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, EVENTS / 2);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  assert_int_equal(snap.sections[snap.n_sections - 1].id, 15);
  snap.n_sections--;
  free(snap.sections[snap.n_sections].data);
  sr_model_t *copy = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_clock_ms(copy), sr_model_clock_ms(mdl));
  for (size_t k = EVENTS / 2; k < EVENTS; k++) {
    int64_t was = sr_model_clock_ms(copy);
    learn_all(copy, evs, k, k + 1);
    learn_all(mdl, evs, k, k + 1);
    assert_true(sr_model_clock_ms(copy) >= was);
    if (k >= EVENTS / 2 + SR_CLOCK_WINDOW)
      assert_int_equal(sr_model_clock_ms(copy), sr_model_clock_ms(mdl));
  }
  sr_model_free(copy);
  sr_model_free(mdl);
  free(evs);
}

/* Smallest power of two >= n. */
static uint64_t pow2_at_least(uint64_t n) {
  uint64_t p = 1;
  while (p < n)
    p *= 2;
  return p;
}

/* What a bounded model at its limits should hold, from the capacities the
 * design gives each structure; new users have one event each, so one
 * smallest seen ring (32 bytes of heap). */
static uint64_t reference_bytes(const sr_model_conf_t *conf, uint64_t users,
                                uint64_t items, uint64_t id_bytes) {
  uint64_t row = (conf->dims + 15) / 16 * 16 * sizeof(float);
  uint64_t per_user = row + 4 + 4 + sizeof(sr_seen_ring_t) + 32 + 16 + 8;
  uint64_t per_item = row + 4 + 4 + 8 + 4 + 16 + 8;
  /* An id map's slot: row, hash and the key a lookup compares. */
  uint64_t slots = (pow2_at_least(2 * users) + pow2_at_least(2 * items)) * 16;
  return users * per_user + items * per_item + slots + id_bytes +
         conf->recent_size * 4 + 64 * row;
}

/* Resident bytes of the process, or 0 under ASan, whose shadow memory and
 * quarantine make them say nothing about the model. */
static uint64_t rss_bytes(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  unsigned long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
#endif
}

/* Largest sr_model_bytes over events [from, to) of the stream of new ids
 * below, sampled every 1000 events; *low gets the smallest. */
static uint64_t stream_new_ids(sr_model_t *mdl, uint32_t from, uint32_t to,
                               uint64_t *low) {
  char user[32], item[32];
  uint64_t high = 0;
  *low = UINT64_MAX;
  for (uint32_t k = from; k < to; k++) {
    /* Ids of one length, so the live id bytes stay the same. */
    snprintf(user, sizeof user, "user-%07u", k);
    snprintf(item, sizeof item, "item-%04u", k % 5003);
    learn_at(mdl, user, item, PAST_MS + k);
    if (k % 1000 == 0) {
      uint64_t bytes = sr_model_bytes(mdl);
      high = bytes > high ? bytes : high;
      *low = bytes < *low ? bytes : *low;
    }
  }
  return high;
}

/* Events of the stream of new ids: under ASan, which checks no resident
 * size and runs a tenth as fast, a shorter stream still cycles the id
 * arenas many times over. */
#if defined(__SANITIZE_ADDRESS__)
#define NEW_ID_EVENTS 300000
#else
#define NEW_ID_EVENTS 1000000
#endif

static void test_model_bytes_true_and_flat_at_limits(void **state) {
  (void)state;
  enum { EVENTS = NEW_ID_EVENTS, MID = 100000 + (EVENTS - 100000) / 2 };
  enum { MAX_USERS = 20000, MAX_ITEMS = 2000 };
  /* Live id bytes with their NULs. */
  const uint64_t ids = MAX_USERS * 13 + MAX_ITEMS * 10;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 16;
  conf.max_users = MAX_USERS;
  conf.max_items = MAX_ITEMS;
  uint64_t rss0 = rss_bytes(), low1, low2;
  sr_model_t *mdl = model_with(&conf);
  stream_new_ids(mdl, 0, 100000, &low1);
  uint64_t rss_at_limit = rss_bytes() - rss0;
  uint64_t high1 = stream_new_ids(mdl, 100000, MID, &low1);
  uint64_t high2 = stream_new_ids(mdl, MID, EVENTS, &low2);
  /* Flat: the arenas fill with evicted ids and are rebuilt, so the bytes
   * swing by up to the live id bytes, never trending up. A sample every
   * 1000 events may miss a swing's top by a page. */
  if (high2 > high1 + 4096 || high1 - low1 > ids + 8192)
    fail_msg("model bytes in [%llu, %llu] after the limit, then up to %llu",
             (unsigned long long)low1, (unsigned long long)high1,
             (unsigned long long)high2);
  uint64_t bytes = sr_model_bytes(mdl);
  /* Ids sit in arenas between once and twice their size. */
  uint64_t ref = reference_bytes(&conf, MAX_USERS, MAX_ITEMS, ids * 3 / 2);
  if (bytes < ref * 0.8 || bytes > ref * 1.2)
    fail_msg("model bytes %llu, reference %llu", (unsigned long long)bytes,
             (unsigned long long)ref);
  /* What the process gained holds the model and little else. */
  uint64_t rss = rss_bytes() - rss0;
  if (rss0 != 0 && (bytes < rss * 0.8 || bytes > rss * 1.2))
    fail_msg("model bytes %llu, resident %llu", (unsigned long long)bytes,
             (unsigned long long)rss);
  if (rss0 != 0 && rss > rss_at_limit * 1.05)
    fail_msg("resident grew from %llu to %llu",
             (unsigned long long)rss_at_limit, (unsigned long long)rss);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      /* First, while the heap holds no memory freed by other tests that the
       * model could reuse unseen by the resident size. */
      cmocka_unit_test(test_model_bytes_true_and_flat_at_limits),
      cmocka_unit_test(test_least_recently_active_user_goes_first),
      cmocka_unit_test(test_least_recently_active_item_goes_first),
      cmocka_unit_test(test_limits_hold_exactly_under_new_ids),
      cmocka_unit_test(test_idle_ttl_counts_event_time),
      cmocka_unit_test(test_idle_expiry_is_bounded_per_event),
      cmocka_unit_test(test_clock_ignores_zero_and_late_timestamps),
      cmocka_unit_test(test_one_event_far_ahead_evicts_almost_nothing),
      cmocka_unit_test(test_lasting_jump_moves_the_clock_and_evicts),
      cmocka_unit_test(test_evicted_ids_come_back_as_new),
      cmocka_unit_test(test_free_item_rows_are_never_listed),
      cmocka_unit_test(test_unreached_limits_change_nothing),
      cmocka_unit_test(test_recovery_with_evictions_is_exact),
      cmocka_unit_test(test_recovery_with_outliers_is_exact),
      cmocka_unit_test(test_checkpoint_file_recovery_with_evictions),
      cmocka_unit_test(test_snapshot_without_recency_restores),
      cmocka_unit_test(test_snapshot_without_clock_window_keeps_time),
      cmocka_unit_test(test_limits_added_on_restart_evict_by_last_touch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
