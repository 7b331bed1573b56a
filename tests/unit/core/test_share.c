/* Cluster mode's state in the model: an event already in its user's state
 * is skipped, a user on two partitions is counted, changed and evicted users
 * are flushed (tombstones first) and forgotten only when the flush is done,
 * a user's state moves to another model intact, a partition that moves away
 * takes its users along, item deltas bring another model's items to the
 * same values once, new items start alike everywhere, and all of it
 * survives a snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/model_internal.h"
#include "core/share.h"
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sr_model_conf_t shared_conf(void) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.shared = 1;
  return conf;
}

static sr_event_t event(const char *user, const char *item) {
  return event_for(user, item, SR_EV_CLICK, 0, 1700000000000LL);
}

/* Learns user -> item from partition p at offset; returns whether it was
 * skipped. */
static bool learn(sr_model_t *mdl, const char *user, const char *item,
                  int32_t p, int64_t offset) {
  sr_event_t ev = event(user, item);
  bool skipped = true;
  assert_int_equal(sr_share_learn(mdl, &ev, p, offset, NULL, &skipped, NULL),
                   SR_OK);
  return skipped;
}

static void test_an_event_in_the_state_is_skipped(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  assert_false(learn(mdl, "u1", "i1", 0, 5));
  uint64_t digest = sr_model_digest(mdl);
  assert_true(learn(mdl, "u1", "i2", 0, 5));
  assert_true(learn(mdl, "u1", "i2", 0, 3));
  assert_true(sr_model_digest(mdl) == digest);
  assert_false(learn(mdl, "u1", "i2", 0, 6));
  int64_t row = sr_model_find_user(mdl, "u1", 2);
  assert_int_equal(sr_share_user_partition(mdl, (uint32_t)row), 0);
  assert_int_equal(sr_share_user_offset(mdl, (uint32_t)row), 6);
  assert_int_equal(sr_model_user_events(mdl, (uint32_t)row), 2);
  assert_int_equal(sr_share_stats(mdl).skipped, 2);
  sr_model_free(mdl);
}

static void test_a_user_on_two_partitions_is_counted(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  assert_false(learn(mdl, "u1", "i1", 2, 100));
  /* Offsets of another partition say nothing: learned, counted, and the
   * user's own partition named. */
  sr_event_t ev = event("u1", "i2");
  bool skipped = true;
  int32_t home = -1;
  assert_int_equal(sr_share_learn(mdl, &ev, 3, 7, NULL, &skipped, &home),
                   SR_OK);
  assert_false(skipped);
  assert_int_equal(home, 2);
  int64_t row = sr_model_find_user(mdl, "u1", 2);
  assert_int_equal(sr_share_stats(mdl).misrouted, 1);
  assert_int_equal(sr_share_user_partition(mdl, (uint32_t)row), 2);
  assert_int_equal(sr_share_user_offset(mdl, (uint32_t)row), 100);
  sr_model_free(mdl);
}

/* What a flush saw. */
typedef struct flushed {
  char users[8][16];
  int32_t parts[8];
  int64_t offsets[8];
  uint32_t events[8];
  char seen[8][64];
  int n_users;
  char gone[8][16];
  int n_gone;
  int order; /* 1 when every gone came before every user */
} flushed_t;

static int on_user(void *opaque, const sr_user_state_t *st) {
  flushed_t *f = opaque;
  int k = f->n_users++;
  snprintf(f->users[k], sizeof f->users[k], "%s", st->user_id);
  f->parts[k] = st->partition;
  f->offsets[k] = st->last_offset;
  f->events[k] = st->events;
  f->seen[k][0] = '\0';
  for (size_t j = 0; j < st->n_seen; j++) {
    strcat(f->seen[k], st->seen[j]);
    strcat(f->seen[k], " ");
  }
  return 0;
}

static int on_gone(void *opaque, const char *id, int32_t partition) {
  flushed_t *f = opaque;
  (void)partition;
  if (f->n_users)
    f->order = 0;
  snprintf(f->gone[f->n_gone++], sizeof f->gone[0], "%s", id);
  return 0;
}

static flushed_t flush(sr_model_t *mdl) {
  flushed_t f;
  memset(&f, 0, sizeof f);
  f.order = 1;
  assert_int_equal(sr_share_flush(mdl, on_user, on_gone, &f), 0);
  return f;
}

static void test_flush_lists_changed_users_once(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  learn(mdl, "u1", "a", 0, 1);
  learn(mdl, "u2", "b", 1, 1);
  learn(mdl, "u1", "c", 0, 2);
  flushed_t f = flush(mdl);
  assert_int_equal(f.n_users, 2);
  assert_string_equal(f.users[0], "u1");
  assert_int_equal(f.parts[0], 0);
  assert_int_equal(f.offsets[0], 2);
  assert_int_equal(f.events[0], 2);
  assert_string_equal(f.seen[0], "a c ");
  assert_string_equal(f.users[1], "u2");
  assert_int_equal(f.parts[1], 1);
  /* Not done: the same again. */
  assert_int_equal(flush(mdl).n_users, 2);
  sr_share_flush_done(mdl);
  assert_int_equal(flush(mdl).n_users, 0);
  learn(mdl, "u2", "d", 1, 2);
  f = flush(mdl);
  assert_int_equal(f.n_users, 1);
  assert_string_equal(f.users[0], "u2");
  sr_model_free(mdl);
}

/* A user touched without learning (its list changed) is owed to the next
 * flush; a free row or an unshared model is left alone. */
static void test_touched_user_flushed(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  learn(mdl, "u1", "a", 0, 1);
  learn(mdl, "u2", "b", 1, 1);
  assert_int_equal(flush(mdl).n_users, 2);
  sr_share_flush_done(mdl);
  int64_t u2 = sr_model_find_user(mdl, "u2", 2);
  sr_share_touch_user(mdl, (uint32_t)u2);
  sr_share_touch_user(mdl, (uint32_t)u2);
  sr_share_touch_user(mdl, 99); /* no such row */
  flushed_t f = flush(mdl);
  assert_int_equal(f.n_users, 1);
  assert_string_equal(f.users[0], "u2");
  assert_int_equal(f.offsets[0], 1);
  sr_share_flush_done(mdl);
  assert_int_equal(flush(mdl).n_users, 0);
  sr_model_free(mdl);

  sr_model_conf_t alone;
  sr_model_conf_init(&alone);
  alone.dims = 8;
  mdl = model_with(&alone);
  sr_event_t ev = event_for("u1", "a", SR_EV_CLICK, 0, 1700000000000LL);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  uint64_t digest = sr_model_digest(mdl);
  sr_share_touch_user(mdl, 0);
  assert_true(sr_model_digest(mdl) == digest);
  sr_model_free(mdl);
}

static void test_evicted_users_get_tombstones_first(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  conf.max_users = 2;
  sr_model_t *mdl = model_with(&conf);
  learn(mdl, "u1", "a", 0, 1);
  learn(mdl, "u2", "a", 0, 2);
  learn(mdl, "u3", "a", 0, 3); /* u1 leaves */
  learn(mdl, "u1", "b", 0, 4); /* and comes back, u2 leaves */
  flushed_t f = flush(mdl);
  assert_int_equal(f.n_gone, 2);
  assert_string_equal(f.gone[0], "u1");
  assert_string_equal(f.gone[1], "u2");
  assert_true(f.order);
  assert_int_equal(f.n_users, 2); /* u3 and u1 anew; u2 only as a tombstone */
  sr_share_flush_done(mdl);
  f = flush(mdl);
  assert_int_equal(f.n_gone + f.n_users, 0);
  sr_model_free(mdl);
}

/* Copies every changed user of src into dst. */
static int put_into(void *opaque, const sr_user_state_t *st) {
  assert_int_equal(sr_share_put_user(opaque, st), SR_OK);
  return 0;
}

static int no_gone(void *opaque, const char *id, int32_t partition) {
  (void)opaque, (void)id, (void)partition;
  fail_msg("no user was evicted");
  return -1;
}

static void test_a_user_moves_intact(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *a = model_with(&conf);
  conf.seed = 99; /* another instance need not share the user's rng */
  sr_model_t *b = model_with(&conf);
  learn(a, "u1", "x", 4, 10);
  learn(a, "u1", "y", 4, 11);
  assert_int_equal(sr_share_flush(a, put_into, no_gone, b), 0);
  int64_t ra = sr_model_find_user(a, "u1", 2);
  int64_t rb = sr_model_find_user(b, "u1", 2);
  assert_true(rb >= 0);
  float sb[64];
  assert_int_equal(sr_model_user_events(a, (uint32_t)ra), 2);
  assert_int_equal(sr_model_user_events(b, (uint32_t)rb), 2);
  assert_int_equal(sr_share_user_partition(b, (uint32_t)rb), 4);
  assert_int_equal(sr_share_user_offset(b, (uint32_t)rb), 11);
  /* Its seen items came along by id: excluded from its list in b too. */
  assert_int_equal(sr_model_score_user(b, (uint32_t)rb, sb, NULL), 0);
  int64_t xb = sr_model_find_item(b, "x", 1),
          yb = sr_model_find_item(b, "y", 1);
  assert_true(isinf(sb[xb]) && isinf(sb[yb]));
  /* The replayed event is skipped; the next one is learned. */
  assert_true(learn(b, "u1", "y", 4, 11));
  assert_false(learn(b, "u1", "z", 4, 12));
  /* b holds the user as installed, not as changed. */
  uint32_t dirty_users;
  sr_share_dirty(b, &dirty_users, NULL);
  assert_int_equal(dirty_users, 1);
  sr_model_free(a);
  sr_model_free(b);
}

static void test_a_partition_that_moves_takes_its_users(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  learn(mdl, "u1", "a", 0, 1);
  learn(mdl, "u2", "a", 1, 1);
  learn(mdl, "u3", "a", 1, 2);
  assert_int_equal(sr_share_drop_partition(mdl, 1), 2);
  assert_int_equal(sr_model_live_users(mdl), 1);
  assert_true(sr_model_find_user(mdl, "u2", 2) < 0);
  uint64_t evicted;
  sr_model_evictions(mdl, &evicted, NULL);
  assert_int_equal(evicted, 0);
  /* No tombstone: the users live on with the partition's new owner. */
  flushed_t f = flush(mdl);
  assert_int_equal(f.n_gone, 0);
  assert_int_equal(f.n_users, 1);
  assert_string_equal(f.users[0], "u1");
  sr_model_free(mdl);
}

/* Applies every delta handed over to the model in opaque. */
static int apply_into(void *opaque, const sr_item_delta_t *d) {
  assert_int_equal(sr_share_apply_delta(opaque, d), SR_OK);
  return 0;
}

static void assert_same_item(sr_model_t *a, sr_model_t *b, const char *id) {
  int64_t ra = sr_model_find_item(a, id, strlen(id));
  int64_t rb = sr_model_find_item(b, id, strlen(id));
  assert_true(ra >= 0 && rb >= 0);
  const float *fa = sr_factors_row(&a->ifac, (uint32_t)ra);
  const float *fb = sr_factors_row(&b->ifac, (uint32_t)rb);
  for (int k = 0; k < 8; k++)
    assert_true(fabsf(fa[k] - fb[k]) <= 1e-6f);
}

static void test_deltas_bring_items_to_the_same_values(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *a = model_with(&conf);
  sr_model_t *b = model_with(&conf);
  learn(b, "v1", "y", 0, 1); /* b knows y already, not x */
  for (int k = 0; k < 20; k++)
    learn(a, k % 2 ? "u1" : "u2", k % 3 ? "x" : "y", 0, k);
  uint64_t events;
  assert_int_equal(sr_share_take_deltas(a, apply_into, b, &events), 0);
  assert_int_equal(events, 20);
  assert_true(sr_share_stats(b).deltas_applied >= 2);
  assert_same_item(a, b, "x"); /* created in b by the delta */
  /* y: a's learning on top of b's own. Popularity: b's one plus a's 7. */
  int64_t yb = sr_model_find_item(b, "y", 1);
  assert_true(fabs(b->pop.counts[yb] / b->pop.inc - (1 + 7)) < 0.2);
  /* Sent once: nothing more to take from a, and nothing of a's to send on
   * from b but b's own learning on y. */
  uint64_t taken = sr_share_stats(a).deltas_taken;
  assert_int_equal(sr_share_take_deltas(a, apply_into, b, &events), 0);
  assert_int_equal(sr_share_stats(a).deltas_taken, taken);
  assert_int_equal(events, 0);
  uint32_t dirty_items;
  sr_share_dirty(b, NULL, &dirty_items);
  assert_int_equal(dirty_items, 1);
  sr_model_free(a);
  sr_model_free(b);
}

static void test_new_items_start_alike(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *a = model_with(&conf);
  sr_model_t *b = model_with(&conf);
  learn(a, "u1", "other", 0, 1);
  learn(a, "u2", "more", 0, 2);
  /* Different histories, the same first factors for a new item. */
  sr_model_t *c = model_with(&conf);
  sr_event_t ev = event("w", "fresh");
  assert_int_equal(sr_model_learn(c, &ev, NULL), SR_OK);
  int64_t ra = sr_model_touch_item(a, "fresh", 5);
  int64_t rb = sr_model_touch_item(b, "fresh", 5);
  assert_memory_equal(sr_factors_row(&a->ifac, (uint32_t)ra),
                      sr_factors_row(&b->ifac, (uint32_t)rb),
                      8 * sizeof(float));
  sr_model_free(a);
  sr_model_free(b);
  sr_model_free(c);
}

static void test_state_survives_a_snapshot(void **state) {
  (void)state;
  sr_model_conf_t conf = shared_conf();
  sr_model_t *mdl = model_with(&conf);
  sr_event_t *evs = synth_events(40, 30, 500, 3);
  for (int k = 0; k < 500; k++) {
    bool skipped;
    assert_int_equal(
        sr_share_learn(mdl, &evs[k], k % 3, k, NULL, &skipped, NULL), SR_OK);
  }
  free(evs);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *back = restore_of(&conf, &snap);
  assert_true(sr_model_digest(back) == sr_model_digest(mdl));
  /* Unsent deltas are still owed after the restore. */
  uint32_t owed_back, owed;
  sr_share_dirty(back, NULL, &owed_back);
  sr_share_dirty(mdl, NULL, &owed);
  assert_int_equal(owed_back, owed);
  /* A model that is not shared reads the same checkpoint, without them. */
  sr_model_conf_t plain = conf;
  plain.shared = 0;
  sr_model_t *single = restore_of(&plain, &snap);
  assert_int_equal(sr_model_live_users(single), sr_model_live_users(mdl));
  sr_model_snapshot_release(&snap);
  sr_model_free(single);
  sr_model_free(back);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_an_event_in_the_state_is_skipped),
      cmocka_unit_test(test_a_user_on_two_partitions_is_counted),
      cmocka_unit_test(test_flush_lists_changed_users_once),
      cmocka_unit_test(test_touched_user_flushed),
      cmocka_unit_test(test_evicted_users_get_tombstones_first),
      cmocka_unit_test(test_a_user_moves_intact),
      cmocka_unit_test(test_a_partition_that_moves_takes_its_users),
      cmocka_unit_test(test_deltas_bring_items_to_the_same_values),
      cmocka_unit_test(test_new_items_start_alike),
      cmocka_unit_test(test_state_survives_a_snapshot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
