/* sr_errf: the message is formatted into the caller's buffer, cut to fit
 * and always terminated; a NULL or empty buffer is accepted; the code
 * passed is what comes back. */
#include "util/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_formats_and_returns_code(void **state) {
  (void)state;
  char errstr[128] = "";
  assert_int_equal(sr_errf(errstr, sizeof(errstr), SR_ERR_IO, "open %s: %s",
                           "/x/y", "No such file or directory"),
                   SR_ERR_IO);
  assert_string_equal(errstr, "open /x/y: No such file or directory");
  assert_int_equal(sr_errf(errstr, sizeof(errstr), SR_OK, "%d%%", 5), SR_OK);
  assert_string_equal(errstr, "5%");
}

/* Every code comes back unchanged, whatever the message. */
static void test_every_code_returned(void **state) {
  (void)state;
  char errstr[16];
  for (int err = SR_ERR_DECODE; err <= SR_OK; err++)
    assert_int_equal(sr_errf(errstr, sizeof(errstr), (sr_err_t)err, "e"), err);
}

static void test_truncates_safely(void **state) {
  (void)state;
  char errstr[12];
  memset(errstr, 'X', sizeof(errstr));
  sr_err_t rc = sr_errf(errstr, 8, SR_ERR_INVALID, "%s",
                        "a message much longer than the buffer");
  assert_int_equal(rc, SR_ERR_INVALID);
  assert_string_equal(errstr, "a messa");
  /* Nothing written past the length given. */
  assert_int_equal(errstr[8], 'X');
  assert_int_equal(sr_errf(errstr, 1, SR_ERR_INVALID, "anything"),
                   SR_ERR_INVALID);
  assert_string_equal(errstr, "");
}

static void test_null_or_empty_errstr(void **state) {
  (void)state;
  assert_int_equal(sr_errf(NULL, 0, SR_ERR_NOMEM, "out of memory"),
                   SR_ERR_NOMEM);
  assert_int_equal(sr_errf(NULL, 64, SR_ERR_CRC, "%s", "crc"), SR_ERR_CRC);
  char errstr[8] = "before";
  assert_int_equal(sr_errf(errstr, 0, SR_ERR_IO, "after"), SR_ERR_IO);
  assert_string_equal(errstr, "before");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formats_and_returns_code),
      cmocka_unit_test(test_every_code_returned),
      cmocka_unit_test(test_truncates_safely),
      cmocka_unit_test(test_null_or_empty_errstr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
