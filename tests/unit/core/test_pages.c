/* Tests of page-backed blocks: zero-filled, 64-byte aligned, writable to
 * their last byte, given back without trouble (NULL included). */
#include "core/pages.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void check_block(size_t bytes) {
  unsigned char *block = sr_pages_alloc(bytes);
  assert_non_null(block);
  assert_int_equal((uintptr_t)block % 64, 0);
  for (size_t k = 0; k < bytes; k++)
    if (block[k] != 0)
      fail_msg("byte %zu of %zu is %u, not zero", k, bytes, block[k]);
  memset(block, 0xab, bytes);
  assert_int_equal(block[bytes - 1], 0xab);
  sr_pages_free(block, bytes);
}

static void test_blocks_are_zero_aligned_and_writable(void **state) {
  (void)state;
  check_block(1);
  check_block(100);
  check_block(4096);
  check_block(4097);
  check_block(3 << 20);
}

static void test_freed_blocks_come_back_zeroed(void **state) {
  (void)state;
  /* A block given back and taken again never shows the old contents. */
  for (int round = 0; round < 8; round++)
    check_block(1 << 16);
}

static void test_free_accepts_null(void **state) {
  (void)state;
  sr_pages_free(NULL, 0);
  sr_pages_free(NULL, 4096);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_are_zero_aligned_and_writable),
      cmocka_unit_test(test_freed_blocks_come_back_zeroed),
      cmocka_unit_test(test_free_accepts_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
