/* Tests of sr_kafka_conf_new, through which every client of every command
 * is built: SASL setups that librdkafka cannot use are refused naming the
 * property, and a rejected value from ${VAR} is never quoted. */
#include "daemon/config.h"
#include "kafka/client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static sr_config_t cfg;
static sr_kafka_conf_t kc; /* borrows from cfg */

/* cfg with the given "name=value" kafka.properties (NULL-terminated). */
static void props(const char *const *kvs) {
  char key[256], errstr[256];
  sr_config_init(&cfg);
  for (; *kvs; kvs++) {
    const char *eq = strchr(*kvs, '=');
    snprintf(key, sizeof(key), "kafka.properties.%.*s", (int)(eq - *kvs), *kvs);
    assert_int_equal(sr_config_set(&cfg, key, eq + 1, errstr, sizeof(errstr)),
                     SR_OK);
  }
  kc = sr_config_kafka(&cfg);
}

/* Asserts that props are refused with an error starting with want. */
static void assert_refused(const char *const *kvs, const char *want) {
  char errstr[512] = "";
  props(kvs);
  rd_kafka_conf_t *conf =
      sr_kafka_conf_new(&kc, "127.0.0.1:1", errstr, sizeof(errstr));
  if (conf)
    rd_kafka_conf_destroy(conf);
  assert_null(conf);
  if (strncmp(errstr, want, strlen(want)) != 0)
    fail_msg("got '%s', want '%s...'", errstr, want);
}

static void test_oauthbearer_refused(void **state) {
  (void)state;
  const char *const bare[] = {"security.protocol=SASL_PLAINTEXT",
                              "sasl.mechanism=OAUTHBEARER", NULL};
  assert_refused(bare, "kafka.properties.sasl.mechanism: OAUTHBEARER");
  const char *const unsecured[] = {
      "security.protocol=sasl_ssl", "sasl.mechanism=OAUTHBEARER",
      "enable.sasl.oauthbearer.unsecure.jwt=true",
      "sasl.oauthbearer.config=principal=admin", NULL};
  assert_refused(unsecured, "kafka.properties.sasl.mechanism: OAUTHBEARER");
}

static void test_sasl_without_credentials_refused(void **state) {
  (void)state;
  const char *const plain[] = {"security.protocol=SASL_PLAINTEXT",
                               "sasl.mechanism=PLAIN", NULL};
  assert_refused(plain, "kafka.properties.sasl.username: must be set");
  const char *const scram[] = {"security.protocol=SASL_PLAINTEXT",
                               "sasl.mechanism=SCRAM-SHA-256",
                               "sasl.username=u", NULL};
  assert_refused(scram, "kafka.properties.sasl.password: must be set");
  const char *const unknown[] = {"security.protocol=SASL_PLAINTEXT",
                                 "sasl.mechanism=NOPE", NULL};
  assert_refused(unknown, "kafka.properties.sasl.mechanism: not one of");
}

/* The mechanism only matters when the protocol uses SASL. */
static void test_usable_setups_accepted(void **state) {
  (void)state;
  const char *const plain[] = {"security.protocol=SASL_PLAINTEXT",
                               "sasl.mechanism=PLAIN", "sasl.username=u",
                               "sasl.password=p", NULL};
  const char *const unused[] = {"sasl.mechanism=OAUTHBEARER", NULL};
  const char *const *cases[] = {plain, unused};
  for (size_t i = 0; i < 2; i++) {
    char errstr[512] = "";
    props(cases[i]);
    rd_kafka_conf_t *conf =
        sr_kafka_conf_new(&kc, "127.0.0.1:1", errstr, sizeof(errstr));
    if (!conf)
      fail_msg("case %zu refused: %s", i, errstr);
    rd_kafka_conf_destroy(conf);
  }
}

/* librdkafka quotes the rejected element of a list, which is part of the
 * secret even though the whole value is not in the message. */
static void test_rejected_secret_not_quoted(void **state) {
  (void)state;
  setenv("SR_TEST_DEBUG", "generic,Vq5-hidden", 1);
  const char *const debug[] = {"debug=${SR_TEST_DEBUG}", NULL};
  char errstr[512] = "";
  props(debug);
  assert_true(cfg.kafka.props[0].secret);
  assert_null(sr_kafka_conf_new(&kc, "127.0.0.1:1", errstr, sizeof(errstr)));
  assert_null(strstr(errstr, "Vq5"));
  assert_non_null(strstr(errstr, "kafka.properties.debug: "));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oauthbearer_refused),
      cmocka_unit_test(test_sasl_without_credentials_refused),
      cmocka_unit_test(test_usable_setups_accepted),
      cmocka_unit_test(test_rejected_secret_not_quoted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
