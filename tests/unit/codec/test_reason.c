/* Names of rejection reasons: the strings the dead-letter header
 * streamrec-error and the reason label of streamrec_events_rejected_total
 * carry, as the README lists them; each distinct; a value out of range
 * named "unknown" rather than read out of bounds. */
#include "codec/reason.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_documented_names(void **state) {
  (void)state;
  static const struct {
    sr_reason_t reason;
    const char *name;
  } documented[] = {
      {SR_REASON_DECODE, "decode_error"},
      {SR_REASON_EMPTY_ID, "empty_id"},
      {SR_REASON_ID_TOO_LONG, "id_too_long"},
      {SR_REASON_NON_FINITE, "non_finite_value"},
      {SR_REASON_UNKNOWN_TYPE, "unknown_event_type"},
      {SR_REASON_FUTURE_TS, "future_timestamp"},
      {SR_REASON_TOO_LARGE, "message_too_large"},
      {SR_REASON_TOMBSTONE, "tombstone"},
      {SR_REASON_MISSING_FIELD, "missing_field"},
      {SR_REASON_BAD_FIELD, "bad_field"},
      {SR_REASON_BAD_TIMESTAMP, "bad_timestamp"},
      {SR_REASON_SKIPPED_TYPE, "skipped_type"},
      {SR_REASON_BAD_EMBEDDING, "bad_embedding"},
  };
  size_t n = sizeof(documented) / sizeof(documented[0]);
  /* Every rejection reason is documented: a new one needs the README too. */
  assert_int_equal(n, SR_REASON__COUNT - 1);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(sr_reason_name(documented[i].reason),
                        documented[i].name);
  assert_string_equal(sr_reason_name(SR_REASON_OK), "ok");
}

/* Distinct, and usable as a Prometheus label value and a header value as
 * they are: lower-case snake case. */
static void test_distinct_snake_case(void **state) {
  (void)state;
  for (int r = 0; r < SR_REASON__COUNT; r++) {
    const char *name = sr_reason_name((sr_reason_t)r);
    assert_non_null(name);
    assert_true(name[0] != '\0');
    assert_string_not_equal(name, "unknown");
    for (const char *p = name; *p; p++)
      assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
    for (int s = 0; s < r; s++)
      assert_string_not_equal(name, sr_reason_name((sr_reason_t)s));
  }
}

static void test_out_of_range(void **state) {
  (void)state;
  assert_string_equal(sr_reason_name(SR_REASON__COUNT), "unknown");
  assert_string_equal(sr_reason_name((sr_reason_t)(SR_REASON__COUNT + 100)),
                      "unknown");
  assert_string_equal(sr_reason_name((sr_reason_t)-1), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documented_names),
      cmocka_unit_test(test_distinct_snake_case),
      cmocka_unit_test(test_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
