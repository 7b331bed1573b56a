/* Tests of the logger's secret masking: what reaches stderr when a line
 * holds a registered secret, whatever its length, its position in the line
 * (message, field, quoted value, past the cut of a long value) and the line
 * format. Secrets stay registered for the whole process, so each test uses
 * its own values and messages. Also the rate limit: which repeats of a
 * message within a second reach stderr. */
#include "util/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"
#include "util/buf.h"

static void test_long_secret_masked_everywhere(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("hunter2-pass"), 0);
  capture_start();
  sr_log(SR_LOG_ERROR, "login failed for hunter2-pass",
         "reason=%s client=xhunter2-passy",
         sr_logq("server said \"hunter2-pass\" is wrong"));
  char *out = captured();
  assert_null(strstr(out, "hunter2"));
  assert_non_null(strstr(out, "login failed for ***"));
  assert_non_null(strstr(out, "client=x***y"));
  assert_non_null(strstr(out, "reason=\"server said \\\"***\\\" is wrong\""));
  free(out);
}

static void test_short_secret_masked_where_it_stands_alone(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("qz"), 0);
  capture_start();
  sr_log(SR_LOG_ERROR, "value \"qz\" refused, not qzx or aqz",
         "client=qz#consumer-1 qz=1 topic=qz");
  char *out = captured();
  assert_non_null(strstr(out, "value \\\"***\\\" refused, not qzx or aqz"));
  assert_non_null(strstr(out, "client=***#consumer-1"));
  assert_non_null(strstr(out, " qz=1 ")); /* a field's key, not a value */
  assert_non_null(strstr(out, "topic=***"));
  free(out);
}

static void test_one_byte_secret(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("w"), 0);
  capture_start();
  sr_log(SR_LOG_ERROR, "bad w in (w) but not in wow", "client=w#producer-2");
  char *out = captured();
  assert_non_null(strstr(out, "bad *** in (***) but not in wow"));
  assert_non_null(strstr(out, "client=***#producer-2"));
  free(out);
}

/* Long values are cut at 400 bytes; a cut must never leave a secret's
 * first bytes behind. */
static void test_secret_across_the_cut(void **state) {
  (void)state;
  const char *secret = "K7v-cut-secret-value";
  assert_int_equal(sr_log_add_secret(secret), 0);
  char reason[600], msg[600];
  memset(reason, 'r', sizeof(reason));
  memcpy(reason + 392, secret, strlen(secret));
  reason[sizeof(reason) - 1] = '\0';
  memset(msg, 'm', sizeof(msg));
  memcpy(msg + 395, secret, strlen(secret));
  msg[sizeof(msg) - 1] = '\0';
  capture_start();
  sr_log(SR_LOG_ERROR, msg, "reason=%s", sr_logq(reason));
  char *out = captured();
  assert_null(strstr(out, "K7v"));
  assert_non_null(strstr(out, "***"));
  free(out);
}

/* Secrets have no length limit: a PEM key or a token is long. */
static void test_secret_longer_than_a_field(void **state) {
  (void)state;
  char secret[1500], fields[1600];
  for (size_t i = 0; i < sizeof(secret) - 1; i++)
    secret[i] = (char)('a' + i % 26);
  secret[sizeof(secret) - 1] = '\0';
  assert_int_equal(sr_log_add_secret(secret), 0);
  snprintf(fields, sizeof(fields), "client=%s#consumer-1", secret);
  capture_start();
  sr_log(SR_LOG_ERROR, "long secret in a field", "%s", fields);
  char *out = captured();
  assert_null(strstr(out, "abcdefghij"));
  assert_non_null(strstr(out, "client=***#consumer-1"));
  free(out);
}

/* librdkafka rejects one element of a list at a time. */
static void test_list_elements_are_secrets(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("generic,Pz8-listed"), 0);
  capture_start();
  sr_log(SR_LOG_ERROR, "Invalid value \"Pz8-listed\" for property", NULL);
  char *out = captured();
  assert_null(strstr(out, "Pz8"));
  free(out);
}

static void test_many_secrets(void **state) {
  (void)state;
  char name[32];
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof(name), "many-secret-%02d", i);
    assert_int_equal(sr_log_add_secret(name), 0);
  }
  capture_start();
  sr_log(SR_LOG_ERROR, "many: many-secret-00 many-secret-39", NULL);
  char *out = captured();
  assert_null(strstr(out, "many-secret"));
  free(out);
}

static void test_json_lines_masked(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("pa\"ss wo\\rd"), 0);
  sr_log_set_format(SR_LOG_FORMAT_JSON);
  capture_start();
  sr_log(SR_LOG_ERROR, "json: pa\"ss wo\\rd", "reason=%s",
         sr_logq("said pa\"ss wo\\rd"));
  char *out = captured();
  sr_log_set_format(SR_LOG_FORMAT_LOGFMT);
  assert_null(strstr(out, "pa\\\"ss"));
  assert_null(strstr(out, "pa\"ss"));
  assert_non_null(strstr(out, "\"msg\":\"json: ***\""));
  assert_non_null(strstr(out, "\"reason\":\"said ***\""));
  free(out);
}

static void test_mask_for_cli_errors(void **state) {
  (void)state;
  assert_int_equal(sr_log_add_secret("cli-Secret9"), 0);
  sr_buf_t out = {0};
  assert_int_equal(sr_log_mask(&out, "kafka: refused cli-Secret9 (q)"), 0);
  assert_string_equal(out.data, "kafka: refused *** (q)");
  sr_buf_free(&out);
}

/* One line per partition of a rebalance gets through; the same message for
 * the same partition again within the second is held back and counted. */
static void test_rate_limit_per_partition(void **state) {
  (void)state;
  capture_start();
  for (int p = 0; p < 6; p++)
    sr_log(SR_LOG_INFO, "partition handed over in a test",
           "partition=%d "
           "users=%d",
           p, 10 * p);
  sr_log(SR_LOG_INFO, "partition handed over in a test",
         "partition=0 "
         "users=7");
  sr_log(SR_LOG_INFO, "offset moved in a test", "offset=1");
  sr_log(SR_LOG_INFO, "offset moved in a test", "offset=2");
  char *out = captured();
  for (int p = 0; p < 6; p++) {
    char want[64];
    snprintf(want, sizeof(want), "partition=%d users=%d", p, 10 * p);
    assert_non_null(strstr(out, want));
  }
  assert_null(strstr(out, "users=7"));
  assert_non_null(strstr(out, "offset=1"));
  assert_null(strstr(out, "offset=2"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_secret_masked_everywhere),
      cmocka_unit_test(test_short_secret_masked_where_it_stands_alone),
      cmocka_unit_test(test_one_byte_secret),
      cmocka_unit_test(test_secret_across_the_cut),
      cmocka_unit_test(test_secret_longer_than_a_field),
      cmocka_unit_test(test_list_elements_are_secrets),
      cmocka_unit_test(test_many_secrets),
      cmocka_unit_test(test_json_lines_masked),
      cmocka_unit_test(test_mask_for_cli_errors),
      cmocka_unit_test(test_rate_limit_per_partition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
