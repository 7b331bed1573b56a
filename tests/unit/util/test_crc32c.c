/* CRC32C: known vectors, chaining, and the SSE4.2 path agreeing with the
 * portable table at every alignment and around its block sizes. */
#include "util/crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Larger than the hardware path's 3 x 8192-byte blocks many times over,
 * and not a multiple of 8. */
#define BIG_LEN ((9u << 20) + 5)

static int setup(void **state) {
  unsigned char *big = malloc(BIG_LEN);
  if (!big)
    return -1;
  for (size_t i = 0; i < BIG_LEN; i++)
    big[i] = (unsigned char)(i * 2654435761u >> 13);
  *state = big;
  return 0;
}

static int teardown(void **state) {
  free(*state);
  return 0;
}

static void test_known_vectors(void **state) {
  (void)state;
  unsigned char buf[32];
  assert_int_equal(sr_crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(sr_crc32c(0, "", 0), 0);
  memset(buf, 0, sizeof buf);
  assert_int_equal(sr_crc32c(0, buf, 32), 0x8A9136AAu);
  memset(buf, 0xff, sizeof buf);
  assert_int_equal(sr_crc32c(0, buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++)
    buf[i] = (unsigned char)i;
  assert_int_equal(sr_crc32c(0, buf, 32), 0x46DD794Eu);
  assert_int_equal(sr_crc32c_sw(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(sr_crc32c_sw(0, buf, 32), 0x46DD794Eu);
}

/* A CRC continued over a second piece equals the CRC of the whole. */
static void test_chaining(void **state) {
  const unsigned char *big = *state;
  assert_int_equal(sr_crc32c(sr_crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
  uint32_t whole = sr_crc32c(0, big, 100003);
  static const size_t cuts[] = {0, 1, 7, 768, 24576, 50000, 100003};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    uint32_t head = sr_crc32c(0, big, cuts[i]);
    assert_int_equal(sr_crc32c(head, big + cuts[i], 100003 - cuts[i]), whole);
    head = sr_crc32c_sw(0, big, cuts[i]);
    assert_int_equal(sr_crc32c_sw(head, big + cuts[i], 100003 - cuts[i]),
                     whole);
  }
}

static void test_paths_agree(void **state) {
  const unsigned char *big = *state;
  for (size_t off = 0; off < 16; off++)
    for (size_t len = 0; len < 300; len++)
      assert_int_equal(sr_crc32c(off, big + off, len),
                       sr_crc32c_sw(off, big + off, len));
  /* Around the hardware path's 3-way block sizes (3 x 256, 3 x 8192). */
  static const size_t lens[] = {767,   768,   769,   1000,   24575,
                                24576, 24577, 25349, 100003, 1 << 20};
  for (size_t off = 0; off < 8; off++)
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
      assert_int_equal(sr_crc32c(7, big + off, lens[i]),
                       sr_crc32c_sw(7, big + off, lens[i]));
  assert_int_equal(sr_crc32c(0, big + 3, BIG_LEN - 3),
                   sr_crc32c_sw(0, big + 3, BIG_LEN - 3));
  int hw = sr_crc32c_hw_available();
  assert_true(hw == 0 || hw == 1);
  print_message("sr_crc32c uses %s\n", hw ? "SSE4.2" : "the table");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_vectors),
      cmocka_unit_test(test_chaining),
      cmocka_unit_test(test_paths_agree),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
