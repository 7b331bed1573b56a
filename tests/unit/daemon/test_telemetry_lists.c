/* The record of each user's last published list as a checkpoint carries it
 * (src/daemon/telemetry.c, sr_telemetry_save_lists and _load_lists): saved
 * and restored into a model restored from a snapshot, the same holders are
 * found for every item and events are scored against the same lists; a
 * row that holds another user, or whose user left, is skipped on either
 * side; a lowered list length keeps the longer lists; a malformed record
 * (cut anywhere, another version, a list longer than its bound, bytes
 * left over, a row out of order, a bound above recommend.n's range)
 * restores nothing. Items taken
 * down before lists can be refreshed are noted and their holders found in one
 * pass. A user's list read out and put back (the state topic's way) gives the
 * same holders. */
#include "daemon/telemetry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

typedef struct fixture {
  sr_model_conf_t conf;
  sr_model_t *mdl;
  sr_telemetry_t *tel;
} fixture_t;

static sr_model_t *new_model(sr_model_conf_t *conf, uint32_t max_users) {
  sr_model_conf_init(conf);
  conf->dims = 8;
  conf->max_users = max_users;
  sr_model_t *mdl = sr_model_new(conf, NULL, 0);
  assert_non_null(mdl);
  return mdl;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  f->mdl = new_model(&f->conf, 0);
  f->tel = sr_telemetry_new(f->mdl, 3);
  *state = f;
  return f->tel ? 0 : -1;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  sr_telemetry_free(f->tel);
  sr_model_free(f->mdl);
  free(f);
  return 0;
}

static uint32_t learn(sr_model_t *mdl, sr_telemetry_t *tel, const char *user,
                      const char *item) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 1, 1700000000000);
  if (tel)
    sr_telemetry_event(tel, &ev);
  uint32_t row = 0;
  assert_int_equal(sr_model_learn(mdl, &ev, &row), SR_OK);
  if (tel)
    sr_telemetry_learned(tel, row);
  return row;
}

/* Queues the list of items (ids) for user_row. */
static void list(sr_model_t *mdl, sr_telemetry_t *tel, uint32_t user_row,
                 const char *const *items, size_t n) {
  sr_scored_t scored[8];
  for (size_t i = 0; i < n; i++) {
    int64_t row = sr_model_find_item(mdl, items[i], strlen(items[i]));
    assert_true(row >= 0);
    scored[i] = (sr_scored_t){(uint32_t)row, 1.0f - 0.1f * (float)i};
  }
  sr_telemetry_listed(tel, user_row, scored, n);
}

static void add_row(void *opaque, uint32_t row) {
  uint32_t *rows = opaque;
  rows[rows[0]++ + 1] = row;
}

/* The holders of item as a bit mask of rows (rows below 32). */
static uint32_t holders(const sr_telemetry_t *tel, const char *item) {
  uint32_t rows[40] = {0}, mask = 0;
  size_t n = sr_telemetry_holders(tel, item, strlen(item), add_row, rows);
  assert_int_equal(n, rows[0]);
  for (uint32_t i = 0; i < rows[0]; i++) {
    assert_true(rows[i + 1] < 32);
    mask |= 1u << rows[i + 1];
  }
  return mask;
}

/* The model restored from a snapshot of mdl: what a restart starts from. */
static sr_model_t *restarted(const sr_model_conf_t *conf,
                             const sr_model_t *mdl) {
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *back = NULL;
  char err[256] = "";
  if (sr_model_restore(conf, &snap, &back, err, sizeof(err)) != SR_OK)
    fail_msg("sr_model_restore: %s", err);
  sr_model_snapshot_release(&snap);
  return back;
}

/* Users u0..u3 over items a..f, with lists for u0, u1 and u2 (u3 has
 * none). */
static void publish_some(fixture_t *f, uint32_t rows[4]) {
  const char *users[] = {"u0", "u1", "u2", "u3"};
  const char *items[] = {"a", "b", "c", "d", "e", "f"};
  for (size_t u = 0; u < 4; u++)
    for (size_t i = 0; i < 6; i++)
      rows[u] = learn(f->mdl, f->tel, users[u], items[(u + i) % 6]);
  const char *l0[] = {"a", "b", "c"}, *l1[] = {"c", "d"}, *l2[] = {"f"};
  list(f->mdl, f->tel, rows[0], l0, 3);
  list(f->mdl, f->tel, rows[1], l1, 2);
  list(f->mdl, f->tel, rows[2], l2, 1);
}

static void test_round_trip_through_a_restart(void **state) {
  fixture_t *f = *state;
  uint32_t rows[4];
  publish_some(f, rows);
  sr_buf_t buf = {0};
  assert_int_equal(sr_telemetry_save_lists(f->tel, &buf), 0);

  sr_model_t *mdl = restarted(&f->conf, f->mdl);
  sr_telemetry_t *tel = sr_telemetry_new(mdl, 3);
  assert_non_null(tel);
  /* Nothing is known before the record is loaded. */
  assert_int_equal(holders(tel, "c"), 0);
  char err[256] = "";
  assert_int_equal(
      sr_telemetry_load_lists(tel, buf.data, buf.len, err, sizeof(err)), 3);
  const char *items[] = {"a", "b", "c", "d", "e", "f", "x"};
  for (size_t i = 0; i < 7; i++)
    assert_int_equal(holders(tel, items[i]), holders(f->tel, items[i]));
  assert_int_equal(holders(tel, "c"), (1u << rows[0]) | (1u << rows[1]));
  assert_int_equal(holders(tel, "f"), 1u << rows[2]);

  /* Events after the restart are scored against the restored lists. */
  learn(mdl, tel, "u1", "d"); /* hit */
  learn(mdl, tel, "u2", "a"); /* miss */
  learn(mdl, tel, "u3", "a"); /* no list */
  uint64_t hits = 0, evaluated = 0;
  sr_telemetry_prequential(tel, &hits, &evaluated);
  assert_int_equal(hits, 1);
  assert_int_equal(evaluated, 2);

  /* What is saved again is what was loaded. */
  sr_buf_t again = {0};
  assert_int_equal(sr_telemetry_save_lists(tel, &again), 0);
  assert_int_equal(again.len, buf.len);
  assert_memory_equal(again.data, buf.data, buf.len);
  sr_buf_free(&again);
  sr_buf_free(&buf);
  sr_telemetry_free(tel);
  sr_model_free(mdl);
}

/* A row whose user was evicted is not saved; a saved row that holds
 * another user, or no user, in the model it is loaded into is skipped. */
static void test_rows_of_other_users_skipped(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = new_model(&conf, 2);
  sr_telemetry_t *tel = sr_telemetry_new(mdl, 3);
  uint32_t u1 = learn(mdl, tel, "u1", "a");
  uint32_t u2 = learn(mdl, tel, "u2", "b");
  const char *a[] = {"a"}, *b[] = {"b"};
  list(mdl, tel, u1, a, 1);
  list(mdl, tel, u2, b, 1);
  learn(mdl, tel, "u2", "a"); /* u1 is the oldest */
  /* u1 is evicted and u3 takes its row, unseen by the telemetry. */
  assert_int_equal(learn(mdl, NULL, "u3", "a"), u1);
  assert_int_equal(holders(tel, "a"), 0);
  sr_buf_t buf = {0};
  assert_int_equal(sr_telemetry_save_lists(tel, &buf), 0);

  /* Only u2's list was saved. */
  sr_model_t *same = restarted(&conf, mdl);
  sr_telemetry_t *back = sr_telemetry_new(same, 3);
  char err[256] = "";
  assert_int_equal(
      sr_telemetry_load_lists(back, buf.data, buf.len, err, sizeof(err)), 1);
  assert_int_equal(holders(back, "b"), 1u << u2);
  assert_int_equal(holders(back, "a"), 0);

  /* In a model whose rows hold other users, nothing is restored. */
  sr_model_conf_t other_conf;
  sr_model_t *other = new_model(&other_conf, 0);
  learn(other, NULL, "v1", "a");
  learn(other, NULL, "v2", "b");
  sr_telemetry_t *elsewhere = sr_telemetry_new(other, 3);
  assert_int_equal(
      sr_telemetry_load_lists(elsewhere, buf.data, buf.len, err, sizeof(err)),
      0);
  assert_int_equal(holders(elsewhere, "b"), 0);
  /* Nor in an empty model. */
  sr_model_t *empty = new_model(&other_conf, 0);
  sr_telemetry_t *none = sr_telemetry_new(empty, 3);
  assert_int_equal(
      sr_telemetry_load_lists(none, buf.data, buf.len, err, sizeof(err)), 0);

  sr_telemetry_free(none);
  sr_model_free(empty);
  sr_telemetry_free(elsewhere);
  sr_model_free(other);
  sr_telemetry_free(back);
  sr_model_free(same);
  sr_buf_free(&buf);
  sr_telemetry_free(tel);
  sr_model_free(mdl);
}

/* Lists published with recommend.n 5 keep their 5 items when the
 * restart remembers 3 per user: the holders of the last one are found. */
static void test_longer_lists_kept(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = new_model(&conf, 0);
  sr_telemetry_t *tel = sr_telemetry_new(mdl, 5);
  const char *items[] = {"a", "b", "c", "d", "e"};
  uint32_t u = 0;
  for (size_t i = 0; i < 5; i++)
    u = learn(mdl, tel, "u", items[i]);
  list(mdl, tel, u, items, 5);
  sr_buf_t buf = {0};
  assert_int_equal(sr_telemetry_save_lists(tel, &buf), 0);
  sr_telemetry_t *back = sr_telemetry_new(mdl, 3);
  char err[256] = "";
  assert_int_equal(
      sr_telemetry_load_lists(back, buf.data, buf.len, err, sizeof(err)), 1);
  assert_int_equal(holders(back, "e"), 1u << u);
  /* A new list is still remembered whole. */
  const char *later[] = {"e", "d", "c", "b", "a"};
  list(mdl, back, u, later, 5);
  assert_int_equal(holders(back, "a"), 1u << u);
  sr_telemetry_free(back);
  sr_buf_free(&buf);
  sr_telemetry_free(tel);
  sr_model_free(mdl);
}

/* A user's entry as the record lays it out (after a 16-byte header). */
typedef struct lists_user_peek {
  uint32_t row;
  uint32_t n_items;
  uint64_t user_hash;
} lists_user_peek_t;

/* Loads bytes into a fresh telemetry of f's model: -1, nothing restored. */
static void assert_refused(fixture_t *f, const void *data, size_t len,
                           const char *why) {
  sr_telemetry_t *tel = sr_telemetry_new(f->mdl, 3);
  char err[256] = "";
  assert_int_equal(sr_telemetry_load_lists(tel, data, len, err, sizeof(err)),
                   -1);
  if (!strstr(err, why))
    fail_msg("'%s' (at %zu bytes) does not say '%s'", err, len, why);
  const char *items[] = {"a", "b", "c", "d", "e", "f"};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(holders(tel, items[i]), 0);
  sr_telemetry_free(tel);
}

static void test_malformed_refused(void **state) {
  fixture_t *f = *state;
  uint32_t rows[4];
  publish_some(f, rows);
  sr_buf_t buf = {0};
  assert_int_equal(sr_telemetry_save_lists(f->tel, &buf), 0);
  /* Cut anywhere. */
  for (size_t len = 0; len < buf.len; len++)
    assert_refused(f, buf.data, len, "lists:");
  /* Bytes left over. */
  char *more = malloc(buf.len + 8);
  memcpy(more, buf.data, buf.len);
  memset(more + buf.len, 0, 8);
  assert_refused(f, more, buf.len + 8, "bytes after");
  /* Another version (the header's first field). */
  memcpy(more, buf.data, buf.len);
  uint32_t version = 99;
  memcpy(more, &version, sizeof(version));
  assert_refused(f, more, buf.len, "version 99");
  /* A list longer than its bound (the header's second field). */
  memcpy(more, buf.data, buf.len);
  uint32_t list_n = 2;
  memcpy(more + 4, &list_n, sizeof(list_n));
  assert_refused(f, more, buf.len, "at most 2");
  /* A row twice: the second user's row made the first's. */
  memcpy(more, buf.data, buf.len);
  lists_user_peek_t first, second;
  memcpy(&first, more + 16, sizeof(first));
  memcpy(&second, more + 16 + sizeof(first) + first.n_items * 8,
         sizeof(second));
  second.row = first.row;
  memcpy(more + 16 + sizeof(first) + first.n_items * 8, &second,
         sizeof(second));
  assert_refused(f, more, buf.len, "after row");
  /* A bound no recommend.n reaches. */
  list_n = 1001;
  memcpy(more + 4, &list_n, sizeof(list_n));
  assert_refused(f, more, buf.len, "1001 items per list");
  free(more);
  sr_buf_free(&buf);
}

/* Items noted as taken down give their holders in one pass, each user
 * once, and are forgotten afterwards. */
static void test_noted_holders(void **state) {
  fixture_t *f = *state;
  uint32_t rows[4];
  publish_some(f, rows);
  uint32_t found[40] = {0};
  assert_int_equal(sr_telemetry_noted_holders(f->tel, add_row, found), 0);
  assert_int_equal(sr_telemetry_note_down(f->tel, "a", 1), 0);
  assert_int_equal(sr_telemetry_note_down(f->tel, "c", 1), 0);
  assert_int_equal(sr_telemetry_note_down(f->tel, "x", 1), 0);
  assert_int_equal(sr_telemetry_noted_holders(f->tel, add_row, found), 2);
  assert_int_equal(found[0], 2);
  assert_int_equal((1u << found[1]) | (1u << found[2]),
                   (1u << rows[0]) | (1u << rows[1]));
  found[0] = 0;
  assert_int_equal(sr_telemetry_noted_holders(f->tel, add_row, found), 0);
  assert_int_equal(sr_telemetry_note_down(f->tel, "f", 1), 0);
  assert_int_equal(sr_telemetry_noted_holders(f->tel, add_row, found), 1);
  assert_int_equal(found[1], rows[2]);
}

/* One user's list copied from one record into another, as a handoff
 * does; an empty one leaves the user without a list. */
static void test_list_moves_alone(void **state) {
  fixture_t *f = *state;
  uint32_t rows[4];
  publish_some(f, rows);
  const uint64_t *hashes = NULL;
  assert_int_equal(sr_telemetry_list(f->tel, rows[3], &hashes), 0);
  assert_null(hashes);
  assert_int_equal(sr_telemetry_list(f->tel, 999, &hashes), 0);
  size_t n = sr_telemetry_list(f->tel, rows[0], &hashes);
  assert_int_equal(n, 3);

  sr_telemetry_t *tel = sr_telemetry_new(f->mdl, 2);
  sr_telemetry_put_list(tel, rows[1], hashes, n); /* kept: the first 2 */
  assert_int_equal(holders(tel, "a"), 1u << rows[1]);
  assert_int_equal(holders(tel, "b"), 1u << rows[1]);
  assert_int_equal(holders(tel, "c"), 0);
  /* An event is scored against it; after an empty list, not at all. */
  learn(f->mdl, tel, "u1", "b");
  sr_telemetry_put_list(tel, rows[1], NULL, 0);
  assert_int_equal(holders(tel, "a"), 0);
  learn(f->mdl, tel, "u1", "b");
  uint64_t hits = 0, evaluated = 0;
  sr_telemetry_prequential(tel, &hits, &evaluated);
  assert_int_equal(hits, 1);
  assert_int_equal(evaluated, 1);
  sr_telemetry_free(tel);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_through_a_restart, setup,
                                      teardown),
      cmocka_unit_test(test_rows_of_other_users_skipped),
      cmocka_unit_test(test_longer_lists_kept),
      cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_noted_holders, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_moves_alone, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
