/* Tests of the recency order: least recently touched at the tail, retired
 * rows reused newest first, a dump loaded back into the same order, an order
 * kept without the list sorted by time on loading, and inconsistent dumps
 * refused. */
#include "core/lru.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Rows from the tail (least recent) to the head, into out; returns count. */
static uint32_t tail_to_head(const sr_lru_t *lru, uint32_t *out) {
  uint32_t n = 0;
  for (uint32_t r = lru->tail; r != SR_LRU_NIL; r = lru->node[r].prev)
    out[n++] = r;
  return n;
}

static void assert_order(const sr_lru_t *lru, const uint32_t *want,
                         uint32_t n) {
  uint32_t got[16];
  assert_int_equal(tail_to_head(lru, got), n);
  assert_memory_equal(got, want, n * sizeof(uint32_t));
}

static void test_touch_moves_to_head(void **state) {
  (void)state;
  sr_lru_t lru;
  sr_lru_init(&lru, 1);
  assert_int_equal(sr_lru_reserve(&lru, 4), 0);
  for (uint32_t r = 0; r < 4; r++)
    assert_int_equal(sr_lru_add(&lru, 100 + r), r);
  assert_order(&lru, (uint32_t[]){0, 1, 2, 3}, 4);
  sr_lru_touch(&lru, 0, 200);
  sr_lru_touch(&lru, 2, 201);
  assert_order(&lru, (uint32_t[]){1, 3, 0, 2}, 4);
  assert_int_equal(lru.node[0].last_ms, 200);
  assert_int_equal(lru.live, 4);
  sr_lru_free(&lru);
}

static void test_retired_rows_reused_newest_first(void **state) {
  (void)state;
  sr_lru_t lru;
  sr_lru_init(&lru, 1);
  assert_int_equal(sr_lru_reserve(&lru, 4), 0);
  for (uint32_t r = 0; r < 4; r++)
    sr_lru_add(&lru, 10);
  assert_int_equal(sr_lru_reuse(&lru, 11), SR_LRU_NIL);
  sr_lru_retire(&lru, 1);
  sr_lru_retire(&lru, 3);
  assert_true(sr_lru_is_free(&lru, 1) && sr_lru_is_free(&lru, 3));
  assert_false(sr_lru_is_free(&lru, 0));
  assert_int_equal(lru.live, 2);
  assert_int_equal(lru.nfree, 2);
  assert_order(&lru, (uint32_t[]){0, 2}, 2);
  /* The last row retired is the first reused, and becomes the most
   * recent. */
  assert_int_equal(sr_lru_reuse(&lru, 12), 3);
  assert_int_equal(sr_lru_reuse(&lru, 13), 1);
  assert_int_equal(sr_lru_reuse(&lru, 14), SR_LRU_NIL);
  assert_order(&lru, (uint32_t[]){0, 2, 3, 1}, 4);
  assert_int_equal(lru.node[1].last_ms, 13);
  assert_true(sr_lru_bytes(&lru) >= 4 * sizeof(sr_lru_node_t));
  sr_lru_free(&lru);
}

/* An order of 6 rows touched out of row order, rows 2 and 4 free. */
static void build(sr_lru_t *lru, int ordered) {
  sr_lru_init(lru, ordered);
  assert_int_equal(sr_lru_reserve(lru, 6), 0);
  for (uint32_t r = 0; r < 6; r++)
    sr_lru_add(lru, 100 + r);
  sr_lru_touch(lru, 1, 300);
  sr_lru_touch(lru, 0, 200);
  sr_lru_retire(lru, 4);
  sr_lru_retire(lru, 2);
}

static void test_dump_load_round_trip(void **state) {
  (void)state;
  sr_lru_t lru, back;
  sr_buf_t buf = {0}, again = {0};
  build(&lru, 1);
  assert_int_equal(sr_lru_dump(&lru, &buf), 0);
  sr_lru_init(&back, 1);
  assert_int_equal(sr_lru_load(&back, 6, buf.data, buf.len), 0);
  /* The order of touches, not of times: row 0 was touched last. */
  assert_order(&back, (uint32_t[]){3, 5, 1, 0}, 4);
  assert_int_equal(back.live, 4);
  assert_int_equal(sr_lru_reuse(&back, 400), 2);
  assert_int_equal(sr_lru_reuse(&back, 400), 4);
  /* The copy dumps to the same bytes as the original would after the same
   * reuses. */
  assert_int_equal(sr_lru_reuse(&lru, 400), 2);
  assert_int_equal(sr_lru_reuse(&lru, 400), 4);
  sr_buf_free(&buf);
  assert_int_equal(sr_lru_dump(&lru, &buf), 0);
  assert_int_equal(sr_lru_dump(&back, &again), 0);
  assert_int_equal(buf.len, again.len);
  assert_memory_equal(buf.data, again.data, buf.len);
  sr_buf_free(&buf);
  sr_buf_free(&again);
  sr_lru_free(&lru);
  sr_lru_free(&back);
}

static void test_unordered_dump_sorts_by_time(void **state) {
  (void)state;
  sr_lru_t lru, back;
  sr_buf_t buf = {0};
  build(&lru, 0);
  assert_int_equal(sr_lru_dump(&lru, &buf), 0);
  sr_lru_init(&back, 1);
  assert_int_equal(sr_lru_load(&back, 6, buf.data, buf.len), 0);
  /* Last touches 200 (row 0), 300 (1), 103 (3), 105 (5). */
  assert_order(&back, (uint32_t[]){3, 5, 0, 1}, 4);
  assert_true(sr_lru_is_free(&back, 2) && sr_lru_is_free(&back, 4));
  sr_buf_free(&buf);
  sr_lru_free(&lru);
  sr_lru_free(&back);
}

static void test_inconsistent_dumps_refused(void **state) {
  (void)state;
  sr_lru_t lru, back;
  sr_buf_t buf = {0};
  build(&lru, 1);
  assert_int_equal(sr_lru_dump(&lru, &buf), 0);
  /* Too short, and the wrong number of rows. */
  for (uint64_t len = 0; len < buf.len; len += 7) {
    sr_lru_init(&back, 1);
    assert_int_equal(sr_lru_load(&back, 6, buf.data, len), -1);
    sr_lru_free(&back);
  }
  sr_lru_init(&back, 1);
  assert_int_equal(sr_lru_load(&back, 5, buf.data, buf.len), -1);
  sr_lru_free(&back);
  /* A row listed twice (the last live row named as the first). */
  uint32_t *last_live = (uint32_t *)(buf.data + 6 * 8 + 12 + 3 * 4);
  uint32_t first_live;
  memcpy(&first_live, buf.data + 6 * 8 + 12, sizeof first_live);
  memcpy(last_live, &first_live, sizeof first_live);
  sr_lru_init(&back, 1);
  assert_int_equal(sr_lru_load(&back, 6, buf.data, buf.len), -1);
  sr_lru_free(&back);
  sr_buf_free(&buf);
  sr_lru_free(&lru);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_touch_moves_to_head),
      cmocka_unit_test(test_retired_rows_reused_newest_first),
      cmocka_unit_test(test_dump_load_round_trip),
      cmocka_unit_test(test_unordered_dump_sorts_by_time),
      cmocka_unit_test(test_inconsistent_dumps_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
