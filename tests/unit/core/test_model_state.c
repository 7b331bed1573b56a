/* Tests of the section table behind snapshots and restore: every section
 * has a name and a place, a snapshot lays them out in that order, and a
 * refused restore names the section and what was wrong with it. */
#include "core/model_state.h"

#include "streamrec/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static sr_model_conf_t conf_of(uint32_t dims) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = dims;
  conf.max_users = 1000; /* the recency sections carry lists */
  return conf;
}

/* A model of 32 users and 32 items with dims 32, and its snapshot. */
static sr_model_t *model_and_snapshot(sr_model_conf_t *conf,
                                      sr_model_snapshot_t *snap) {
  *conf = conf_of(32);
  sr_model_t *mdl = model_with(conf);
  char user[16], item[16];
  for (int k = 0; k < 32; k++) {
    snprintf(user, sizeof user, "u%02d", k);
    snprintf(item, sizeof item, "i%02d", k);
    sr_event_t ev;
    memset(&ev, 0, sizeof ev);
    memcpy(ev.user_id, user, strlen(user));
    memcpy(ev.item_id, item, strlen(item));
    ev.user_len = (uint16_t)strlen(user);
    ev.item_len = (uint16_t)strlen(item);
    ev.type = SR_EV_CLICK;
    ev.timestamp_ms = 1700000000000LL + k;
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  assert_int_equal(sr_model_snapshot(mdl, snap), SR_OK);
  return mdl;
}

static sr_model_section_t *section_named(sr_model_snapshot_t *snap,
                                         const char *name) {
  for (size_t k = 0; k < snap->n_sections; k++) {
    const char *have = sr_model_section_name(snap->sections[k].id);
    if (have && strcmp(have, name) == 0)
      return &snap->sections[k];
  }
  fail_msg("no section %s in the snapshot", name);
  return NULL;
}

/* Restores snap, expecting SR_ERR_CORRUPT with a message holding want. */
static void expect_refused(const sr_model_conf_t *conf,
                           const sr_model_snapshot_t *snap, const char *want) {
  sr_model_t *back = NULL;
  char errstr[256] = "";
  assert_int_equal(sr_model_restore(conf, snap, &back, errstr, sizeof errstr),
                   SR_ERR_CORRUPT);
  assert_null(back);
  if (!strstr(errstr, want))
    fail_msg("restore said \"%s\", not \"%s\"", errstr, want);
}

static void test_sections_have_ids_and_names(void **state) {
  (void)state;
  size_t n = sr_model_section_count();
  assert_true(n > 0 && n <= SR_MODEL_MAX_SECTIONS);
  for (size_t k = 0; k < n; k++) {
    uint32_t id = sr_model_section_id(k);
    if (k > 0)
      assert_true(id > sr_model_section_id(k - 1));
    const char *name = sr_model_section_name(id);
    assert_non_null(name);
    for (size_t j = 0; j < k; j++)
      assert_string_not_equal(name,
                              sr_model_section_name(sr_model_section_id(j)));
  }
  assert_int_equal(sr_model_section_id(n), 0);
  assert_null(sr_model_section_name(0));
  assert_null(sr_model_section_name(200));
  assert_string_equal(sr_model_section_name(sr_model_section_id(0)), "meta");
}

static void test_snapshot_follows_the_table(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_snapshot_t snap;
  sr_model_t *mdl = model_and_snapshot(&conf, &snap);
  /* Every section in table order, but the three of cluster mode, which a
   * single instance's model leaves out, the takedowns', absent while no
   * item is down, popularity's time, absent without a half-life in time,
   * and content's two, absent while no item has content (and the
   * reduction's while no embedding is reduced). */
  size_t k = 0;
  for (size_t t = 0; t < sr_model_section_count(); t++) {
    const char *name = sr_model_section_name(sr_model_section_id(t));
    bool cluster = !strcmp(name, "user_owner") || !strcmp(name, "item_base") ||
                   !strcmp(name, "item_base_scalars");
    if (cluster || !strcmp(name, "item_down") || !strcmp(name, "pop_time") ||
        !strcmp(name, "content") || !strcmp(name, "content_sketch"))
      continue;
    assert_true(k < snap.n_sections);
    assert_int_equal(snap.sections[k++].id, sr_model_section_id(t));
  }
  assert_int_equal(k, snap.n_sections);
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
  /* A shared model with co-occurrence on, the blend chosen online, an
   * item down, a half-life in time and an item with content, its
   * embedding reduced, holds all of them. */
  conf.shared = 1;
  conf.pop_half_life_ms = 1000;
  conf.cooc_weight = 0.3f;
  conf.blend = SR_BLEND_AUTO;
  mdl = model_with(&conf);
  assert_int_equal(sr_model_set_available(mdl, "down", 4, false, NULL), SR_OK);
  const char *const feat[] = {"genre:x"};
  const size_t feat_len[] = {7};
  float emb[80] = {1, 2, 3};
  assert_int_equal(
      sr_model_set_content(mdl, "new", 3, feat, feat_len, 1, emb, 80), SR_OK);
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  assert_int_equal(snap.n_sections, sr_model_section_count());
  for (k = 0; k < snap.n_sections; k++)
    assert_int_equal(snap.sections[k].id, sr_model_section_id(k));
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
}

static void test_short_section_named_with_sizes(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_snapshot_t snap;
  sr_model_t *mdl = model_and_snapshot(&conf, &snap);
  /* 32 items x 32 floats are 4096 bytes; claim half. */
  sr_model_section_t *sec = section_named(&snap, "item_factors");
  assert_int_equal(sec->len, 4096);
  sec->len = 2048;
  expect_refused(&conf, &snap,
                 "section item_factors: 2048 bytes, expected 4096 for 32 "
                 "items x 32 floats");
  sec->len = 4096;
  sec = section_named(&snap, "user_events");
  sec->len -= 4;
  expect_refused(&conf, &snap, "section user_events: 124 bytes, expected 128");
  sec->len += 4;
  sec = section_named(&snap, "clock");
  sec->len -= 1;
  expect_refused(&conf, &snap, "section clock: ");
  sec->len += 1;
  /* Put back, the same sections restore. */
  sr_model_t *back = restore_of(&conf, &snap);
  assert_int_equal(sr_model_digest(back), sr_model_digest(mdl));
  sr_model_free(back);
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
}

static void test_bad_contents_named(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_snapshot_t snap;
  sr_model_t *mdl = model_and_snapshot(&conf, &snap);
  /* The first user's ring names an item past the last. */
  uint32_t *seen = section_named(&snap, "seen")->data;
  uint32_t item = seen[1];
  seen[1] = 32;
  expect_refused(&conf, &snap, "section seen: user 0 saw item 32 of 32");
  seen[1] = item;
  /* An id without its end. */
  sr_model_section_t *ids = section_named(&snap, "user_ids");
  ids->len -= 1;
  expect_refused(&conf, &snap, "section user_ids: ");
  ids->len += 1;
  /* A recency order of the wrong shape. */
  sr_model_section_t *lru = section_named(&snap, "item_lru");
  lru->len -= 4;
  expect_refused(&conf, &snap, "section item_lru: ");
  lru->len += 4;
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
}

static void test_missing_sections_named(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_snapshot_t snap;
  sr_model_t *mdl = model_and_snapshot(&conf, &snap);
  const char *required[] = {"user_ids", "item_factors", "seen", "recent"};
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
    sr_model_section_t *sec = section_named(&snap, required[k]);
    uint32_t id = sec->id;
    sec->id = 999;
    char want[64];
    snprintf(want, sizeof want, "section %s: missing", required[k]);
    expect_refused(&conf, &snap, want);
    sec->id = id;
  }
  /* The recency orders and clock are optional (older checkpoints). */
  section_named(&snap, "clock_window")->id = 999;
  sr_model_t *back = restore_of(&conf, &snap);
  assert_int_equal(sr_model_live_users(back), 32);
  sr_model_free(back);
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
}

static void test_meta_checked_first(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_snapshot_t snap;
  sr_model_t *mdl = model_and_snapshot(&conf, &snap);
  sr_model_section_t *meta = section_named(&snap, "meta");
  /* More users than the ids can hold is refused before any allocation. */
  uint64_t *users = (uint64_t *)((char *)meta->data + 16);
  assert_int_equal(*users, 32);
  *users = 1ull << 31;
  expect_refused(&conf, &snap, "section meta: 2147483648 users");
  *users = 32;
  meta->len -= 8;
  expect_refused(&conf, &snap, "section meta: ");
  meta->len += 8;
  sr_model_snapshot_release(&snap);
  sr_model_free(mdl);
}

/* Popularity decayed in event time restores at the time it reached: the
 * copy and the model learn on alike, and without the section the copy's
 * counts would skip the time between snapshot and the next event. */
static void test_pop_time_restores(void **state) {
  (void)state;
  enum { N = 2000 };
  sr_event_t *evs = synth_events(50, 40, N, 3);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.pop_half_life_ms = 60000;
  sr_model_t *mdl = model_with(&conf);
  learn_all(mdl, evs, 0, N / 2);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  assert_non_null(section_named(&snap, "pop_time"));
  sr_model_t *copy = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_true(sr_model_digest(copy) == sr_model_digest(mdl));
  learn_all(mdl, evs, N / 2, N);
  learn_all(copy, evs, N / 2, N);
  assert_true(sr_model_digest(copy) == sr_model_digest(mdl));
  /* Time, not only events, decayed the counts. */
  sr_model_conf_t plain = conf;
  plain.pop_half_life_ms = 0;
  sr_model_t *other = model_with(&plain);
  learn_all(other, evs, 0, N);
  sr_scored_t a[1], b[1];
  assert_int_equal(sr_model_popular(mdl, 1, a), 1);
  assert_int_equal(sr_model_popular(other, 1, b), 1);
  assert_true(a[0].score < b[0].score);
  sr_model_free(other);
  sr_model_free(copy);
  sr_model_free(mdl);
  free(evs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sections_have_ids_and_names),
      cmocka_unit_test(test_snapshot_follows_the_table),
      cmocka_unit_test(test_short_section_named_with_sizes),
      cmocka_unit_test(test_bad_contents_named),
      cmocka_unit_test(test_missing_sections_named),
      cmocka_unit_test(test_meta_checked_first),
      cmocka_unit_test(test_pop_time_restores),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
