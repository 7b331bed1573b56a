/* Tests of the id map: round trips, dense rows in order of first sight,
 * growth to a million ids, long and binary ids, the arena layout, removal
 * (backward shift, rows reused, the arena compacted under churn) and the
 * canonical dump that snapshots copy. */
#include "core/idmap.h"
#include "streamrec/common.h"
#include "util/buf.h"
#include "util/now.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int64_t intern_str(sr_idmap_t *map, const char *id, int *created) {
  return sr_idmap_intern(map, id, strlen(id), created);
}

static void test_intern_find_round_trip(void **state) {
  (void)state;
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  assert_int_equal(sr_idmap_count(map), 0);
  assert_int_equal(sr_idmap_find(map, "alice", 5), -1);

  int created = -1;
  assert_int_equal(intern_str(map, "alice", &created), 0);
  assert_int_equal(created, 1);
  assert_int_equal(intern_str(map, "bob", &created), 1);
  assert_int_equal(created, 1);
  /* A second sight returns the same row and creates nothing. */
  assert_int_equal(intern_str(map, "alice", &created), 0);
  assert_int_equal(created, 0);
  assert_int_equal(sr_idmap_intern(map, "bob", 3, NULL), 1);

  assert_int_equal(sr_idmap_find(map, "alice", 5), 0);
  assert_int_equal(sr_idmap_find(map, "bob", 3), 1);
  assert_int_equal(sr_idmap_find(map, "carol", 5), -1);
  /* A prefix or an extension of a known id is another id. */
  assert_int_equal(sr_idmap_find(map, "alic", 4), -1);
  assert_int_equal(sr_idmap_find(map, "alicex", 6), -1);
  assert_int_equal(sr_idmap_count(map), 2);

  size_t len = 0;
  assert_string_equal(sr_idmap_id(map, 0, &len), "alice");
  assert_int_equal(len, 5);
  assert_string_equal(sr_idmap_id(map, 1, &len), "bob");
  assert_int_equal(len, 3);
  assert_string_equal(sr_idmap_id(map, 1, NULL), "bob");
  sr_idmap_free(map);
  sr_idmap_free(NULL);
}

static void test_rows_dense_in_order_of_first_sight(void **state) {
  (void)state;
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  /* Ids arrive with repeats; each new one takes the next row. */
  const char *stream[] = {"z", "a", "z", "m", "a", "b", "m", "z", "c"};
  const char *expect[] = {"z", "a", "m", "b", "c"};
  for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++)
    assert_true(intern_str(map, stream[i], NULL) >= 0);
  assert_int_equal(sr_idmap_count(map), 5);
  for (uint32_t r = 0; r < 5; r++) {
    assert_string_equal(sr_idmap_id(map, r, NULL), expect[r]);
    assert_int_equal(sr_idmap_find(map, expect[r], 1), r);
  }
  sr_idmap_free(map);
}

static double now_s(void) {
  return (double)sr_mono_ns() / 1e9;
}

static void test_growth_to_a_million_ids(void **state) {
  (void)state;
  const uint32_t n = 1000000;
  char id[32];
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  double t0 = now_s();
  for (uint32_t i = 0; i < n; i++) {
    int len = snprintf(id, sizeof id, "user-%u", i);
    int created = 0;
    int64_t row = sr_idmap_intern(map, id, (size_t)len, &created);
    if (row != (int64_t)i || !created)
      fail_msg("id %s got row %lld (created %d)", id, (long long)row, created);
  }
  for (uint32_t i = 0; i < n; i++) {
    int len = snprintf(id, sizeof id, "user-%u", i);
    if (sr_idmap_find(map, id, (size_t)len) != (int64_t)i)
      fail_msg("id %s not found at row %u", id, i);
    size_t got_len;
    const char *got = sr_idmap_id(map, i, &got_len);
    if (got_len != (size_t)len || memcmp(got, id, got_len) != 0)
      fail_msg("row %u names '%s', want '%s'", i, got, id);
  }
  int len = snprintf(id, sizeof id, "user-%u", n);
  assert_int_equal(sr_idmap_find(map, id, (size_t)len), -1);
  assert_int_equal(sr_idmap_count(map), n);
  double elapsed = now_s() - t0;
  /* A quadratic map would take minutes here; linear takes well under a
   * second even under ASan, so this bound only catches the former. */
  if (elapsed > 30.0)
    fail_msg("a million ids took %.1f s", elapsed);
  /* Memory stays linear too: ids, offsets and a half-empty slot table. */
  uint64_t bytes = sr_idmap_bytes(map);
  if (bytes > (uint64_t)n * 64)
    fail_msg("a million short ids hold %llu bytes", (unsigned long long)bytes);
  sr_idmap_free(map);
}

static void test_long_and_binary_ids(void **state) {
  (void)state;
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  char a[SR_ID_MAX], b[SR_ID_MAX];
  memset(a, 'x', sizeof a);
  memcpy(b, a, sizeof b);
  b[SR_ID_MAX - 1] = 'y';
  /* Ids of the maximum length that differ only in the last byte. */
  assert_int_equal(sr_idmap_intern(map, a, SR_ID_MAX, NULL), 0);
  assert_int_equal(sr_idmap_intern(map, b, SR_ID_MAX, NULL), 1);
  assert_int_equal(sr_idmap_find(map, a, SR_ID_MAX), 0);
  assert_int_equal(sr_idmap_find(map, b, SR_ID_MAX), 1);
  assert_int_equal(sr_idmap_find(map, a, SR_ID_MAX - 1), -1);
  size_t len;
  const char *got = sr_idmap_id(map, 1, &len);
  assert_int_equal(len, SR_ID_MAX);
  assert_memory_equal(got, b, SR_ID_MAX);
  assert_int_equal(got[SR_ID_MAX], '\0');

  /* Lengths, not NUL terminators, delimit ids: "k\0v" is not "k". */
  assert_int_equal(sr_idmap_intern(map, "k", 1, NULL), 2);
  assert_int_equal(sr_idmap_intern(map, "k\0v", 3, NULL), 3);
  assert_int_equal(sr_idmap_intern(map, "k\0w", 3, NULL), 4);
  assert_int_equal(sr_idmap_find(map, "k\0v", 3), 3);
  assert_int_equal(sr_idmap_find(map, "k\0w", 3), 4);
  assert_int_equal(sr_idmap_find(map, "k", 1), 2);
  got = sr_idmap_id(map, 3, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(got, "k\0v", 3);
  /* High bytes (UTF-8) are plain bytes. */
  assert_int_equal(intern_str(map, "caf\xc3\xa9", NULL), 5);
  assert_int_equal(sr_idmap_find(map, "caf\xc3\xa9", 5), 5);
  assert_int_equal(sr_idmap_find(map, "cafe", 4), -1);
  sr_idmap_free(map);
}

static void test_arena_holds_ids_in_row_order(void **state) {
  (void)state;
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  size_t len = 99;
  sr_idmap_arena(map, &len);
  assert_int_equal(len, 0);
  const char *ids[] = {"i7", "item-2", "i7", "", "x"};
  for (size_t i = 0; i < 5; i++)
    assert_true(intern_str(map, ids[i], NULL) >= 0);
  const char want[] = "i7\0item-2\0\0x";
  const char *arena = sr_idmap_arena(map, &len);
  assert_int_equal(len, sizeof want);
  assert_memory_equal(arena, want, sizeof want);
  /* The empty id is a row like any other. */
  assert_int_equal(sr_idmap_find(map, "", 0), 2);
  assert_string_equal(sr_idmap_id(map, 2, &len), "");
  assert_int_equal(len, 0);

  /* Re-interning an arena's ids rebuilds the same rows (restores do it). */
  sr_idmap_t *copy = sr_idmap_new();
  assert_non_null(copy);
  const char *arena_end = arena + sizeof want;
  for (const char *p = arena; p < arena_end; p += strlen(p) + 1)
    assert_true(intern_str(copy, p, NULL) >= 0);
  size_t copy_len;
  const char *copy_arena = sr_idmap_arena(copy, &copy_len);
  assert_int_equal(copy_len, sizeof want);
  assert_memory_equal(copy_arena, want, sizeof want);
  sr_idmap_free(copy);
  sr_idmap_free(map);
}

static int64_t find_str(const sr_idmap_t *map, const char *id) {
  return sr_idmap_find(map, id, strlen(id));
}

static void test_remove_keeps_the_rest_findable(void **state) {
  (void)state;
  enum { N = 5000 };
  char id[32];
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  for (uint32_t i = 0; i < N; i++) {
    snprintf(id, sizeof id, "id-%u", i);
    assert_int_equal(intern_str(map, id, NULL), i);
  }
  /* Every third id goes: the probe chains of the rest must survive. */
  for (uint32_t i = 0; i < N; i += 3)
    sr_idmap_remove(map, i);
  assert_int_equal(sr_idmap_count(map), N);
  assert_int_equal(sr_idmap_live(map), N - (N + 2) / 3);
  for (uint32_t i = 0; i < N; i++) {
    snprintf(id, sizeof id, "id-%u", i);
    size_t len = 99;
    const char *got = sr_idmap_id(map, i, &len);
    if (i % 3 == 0) {
      assert_int_equal(find_str(map, id), -1);
      assert_string_equal(got, "");
      assert_int_equal(len, 0);
    } else if (find_str(map, id) != (int64_t)i || strcmp(got, id) != 0) {
      fail_msg("id %s lost after removals", id);
    }
  }
  /* Free rows take new ids; interning still appends. */
  assert_int_equal(sr_idmap_put(map, "again", 5, 3), 0);
  assert_int_equal(find_str(map, "again"), 3);
  assert_string_equal(sr_idmap_id(map, 3, NULL), "again");
  assert_int_equal(intern_str(map, "appended", NULL), N);
  sr_idmap_free(map);
}

static void test_churn_keeps_the_arena_bounded(void **state) {
  (void)state;
  enum { LIVE = 1000, ROUNDS = 200000 };
  char id[32];
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  for (uint32_t i = 0; i < LIVE; i++) {
    snprintf(id, sizeof id, "churn-%06u", i);
    assert_true(intern_str(map, id, NULL) >= 0);
  }
  uint64_t bytes = 0;
  /* Row r holds id r + k * LIVE: each round replaces the oldest id with one
   * as long, so the live bytes stay the same. */
  for (uint32_t k = LIVE; k < LIVE + ROUNDS; k++) {
    uint32_t row = k % LIVE;
    sr_idmap_remove(map, row);
    snprintf(id, sizeof id, "churn-%06u", k);
    assert_int_equal(sr_idmap_put(map, id, strlen(id), row), 0);
    if (k == 2 * LIVE)
      bytes = sr_idmap_bytes(map);
  }
  assert_int_equal(sr_idmap_count(map), LIVE);
  assert_int_equal(sr_idmap_live(map), LIVE);
  if (sr_idmap_bytes(map) > bytes)
    fail_msg("%u replaced ids grew the map from %llu to %llu bytes", ROUNDS,
             (unsigned long long)bytes,
             (unsigned long long)sr_idmap_bytes(map));
  for (uint32_t k = ROUNDS; k < LIVE + ROUNDS; k++) {
    snprintf(id, sizeof id, "churn-%06u", k);
    assert_int_equal(find_str(map, id), k % LIVE);
    assert_string_equal(sr_idmap_id(map, k % LIVE, NULL), id);
  }
  snprintf(id, sizeof id, "churn-%06u", ROUNDS - 1);
  assert_int_equal(find_str(map, id), -1);
  sr_idmap_free(map);
}

/* Ids up to 7 bytes are compared inside the slot, longer ones in the
 * arena: prefixes of one another, ids that differ only by trailing NULs
 * and ids on both sides of that length are all distinct. */
static void test_short_and_long_ids_are_distinct(void **state) {
  (void)state;
  static const char text[] = "abcdefghijkl";
  static const char zeros[12] = {0};
  sr_idmap_t *map = sr_idmap_new();
  assert_non_null(map);
  for (size_t len = 1; len <= 12; len++) {
    assert_int_equal(sr_idmap_intern(map, text, len, NULL), 2 * (len - 1));
    assert_int_equal(sr_idmap_intern(map, zeros, len, NULL), 2 * len - 1);
  }
  for (size_t len = 1; len <= 12; len++) {
    assert_int_equal(sr_idmap_find(map, text, len), 2 * (len - 1));
    assert_int_equal(sr_idmap_find(map, zeros, len), 2 * len - 1);
    size_t got;
    const char *id = sr_idmap_id(map, (uint32_t)(2 * (len - 1)), &got);
    assert_int_equal(got, len);
    assert_memory_equal(id, text, len);
  }
  assert_int_equal(sr_idmap_find(map, "abcdefgX", 8), -1);
  assert_int_equal(sr_idmap_find(map, "abcdefX", 7), -1);
  sr_idmap_free(map);
}

static void test_dump_depends_on_rows_only(void **state) {
  (void)state;
  sr_idmap_t *a = sr_idmap_new(), *b = sr_idmap_new();
  assert_true(a && b);
  /* a: x, y, z, then y replaced by w and z removed. */
  assert_true(intern_str(a, "x", NULL) == 0 && intern_str(a, "y", NULL) == 1 &&
              intern_str(a, "z", NULL) == 2);
  sr_idmap_remove(a, 1);
  assert_int_equal(sr_idmap_put(a, "w", 1, 1), 0);
  sr_idmap_remove(a, 2);
  /* b: the same rows built directly. */
  assert_int_equal(sr_idmap_put(b, "x", 1, 0), 0);
  assert_int_equal(sr_idmap_put(b, "w", 1, 1), 0);
  assert_int_equal(sr_idmap_add_free(b, 3), 0);
  const char want[] = "x\0w\0";
  sr_buf_t da = {0}, db = {0};
  assert_int_equal(sr_idmap_dump(a, &da), 0);
  assert_int_equal(sr_idmap_dump(b, &db), 0);
  assert_int_equal(da.len, sizeof want);
  assert_memory_equal(da.data, want, sizeof want);
  assert_int_equal(db.len, da.len);
  assert_memory_equal(db.data, da.data, da.len);
  /* The arena of a still holds the removed ids; the dump does not. */
  size_t arena_len;
  sr_idmap_arena(a, &arena_len);
  assert_true(arena_len > da.len);
  sr_buf_free(&da);
  sr_buf_free(&db);
  sr_idmap_free(a);
  sr_idmap_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_intern_find_round_trip),
      cmocka_unit_test(test_rows_dense_in_order_of_first_sight),
      cmocka_unit_test(test_growth_to_a_million_ids),
      cmocka_unit_test(test_long_and_binary_ids),
      cmocka_unit_test(test_arena_holds_ids_in_row_order),
      cmocka_unit_test(test_remove_keeps_the_rest_findable),
      cmocka_unit_test(test_churn_keeps_the_arena_bounded),
      cmocka_unit_test(test_dump_depends_on_rows_only),
      cmocka_unit_test(test_short_and_long_ids_are_distinct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
