/* Names of error codes and event types (src/util/common.c): every error
 * code has its own name, event type names round-trip through the parser in
 * any case, and unknown names or values are refused. */
#include "streamrec/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define N_ERRS (1 - SR_ERR_DECODE)

static void test_error_names_distinct(void **state) {
  (void)state;
  const char *names[N_ERRS];
  for (int i = 0; i < N_ERRS; i++) {
    names[i] = sr_err_str((sr_err_t)-i);
    assert_non_null(names[i]);
    assert_true(strlen(names[i]) > 0);
    assert_string_not_equal(names[i], "unknown error");
    for (int j = 0; j < i; j++)
      assert_string_not_equal(names[i], names[j]);
  }
  assert_string_equal(sr_err_str(SR_OK), "success");
  assert_string_equal(sr_err_str(SR_ERR_NOMEM), "out of memory");
  assert_string_equal(sr_err_str(SR_ERR_CRC), "checksum mismatch");
}

static void test_error_out_of_range(void **state) {
  (void)state;
  assert_string_equal(sr_err_str((sr_err_t)(SR_ERR_DECODE - 1)),
                      "unknown error");
  assert_string_equal(sr_err_str((sr_err_t)1), "unknown error");
  assert_string_equal(sr_err_str((sr_err_t)-1000), "unknown error");
}

static void test_type_names_round_trip(void **state) {
  (void)state;
  for (int t = SR_EV_VIEW; t < SR_EV__COUNT; t++) {
    const char *name = sr_event_type_name((sr_event_type_t)t);
    assert_non_null(name);
    sr_event_type_t parsed = SR_EV_UNSPECIFIED;
    assert_int_equal(sr_event_type_parse(name, &parsed), 0);
    assert_int_equal(parsed, t);
    for (int u = SR_EV_VIEW; u < t; u++)
      assert_string_not_equal(name, sr_event_type_name((sr_event_type_t)u));
  }
  /* The proto's names, as the JSON mapping writes them. */
  assert_string_equal(sr_event_type_name(SR_EV_VIEW), "VIEW");
  assert_string_equal(sr_event_type_name(SR_EV_ADD_TO_CART), "ADD_TO_CART");
  assert_string_equal(sr_event_type_name(SR_EV_RATING), "RATING");
}

static void test_type_parse_any_case(void **state) {
  (void)state;
  sr_event_type_t type = SR_EV_UNSPECIFIED;
  assert_int_equal(sr_event_type_parse("purchase", &type), 0);
  assert_int_equal(type, SR_EV_PURCHASE);
  assert_int_equal(sr_event_type_parse("Add_To_Cart", &type), 0);
  assert_int_equal(type, SR_EV_ADD_TO_CART);
  assert_int_equal(sr_event_type_parse("dIsLiKe", &type), 0);
  assert_int_equal(type, SR_EV_DISLIKE);
}

/* Unknown names leave *type as it was; the unspecified type is not one an
 * event may name. */
static void test_type_parse_refuses(void **state) {
  (void)state;
  const char *bad[] = {
      "",      "VIEWS",       "VIE",       "view ",
      " view", "ADD-TO-CART", "ADDTOCART", "EVENT_TYPE_UNSPECIFIED",
      "1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sr_event_type_t type = SR_EV_LIKE;
    if (sr_event_type_parse(bad[i], &type) != -1)
      fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(type, SR_EV_LIKE);
  }
}

static void test_type_name_out_of_range(void **state) {
  (void)state;
  assert_null(sr_event_type_name(SR_EV__COUNT));
  assert_null(sr_event_type_name((sr_event_type_t)-1));
  assert_non_null(sr_event_type_name(SR_EV_UNSPECIFIED));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names_distinct),
      cmocka_unit_test(test_error_out_of_range),
      cmocka_unit_test(test_type_names_round_trip),
      cmocka_unit_test(test_type_parse_any_case),
      cmocka_unit_test(test_type_parse_refuses),
      cmocka_unit_test(test_type_name_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
