/* Tests of the example configurations in deploy/config/: every file loads
 * through the option table an operator's copy will go through, and each one
 * says what its name promises (embedded and JSON for local use, SASL_SSL with
 * the password from the environment for production, its own group and state
 * for a backfill). The repository is found from this file's own path. */
#include "daemon/config.h"

#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PASSWORD "s3cret-from-env"

/* The repository root: __FILE__ is
 * <root>/tests/unit/daemon/test_config_deploy.c because CMake compiles sources
 * by absolute path. */
static void repo_path(char *out, size_t len, const char *rel) {
  const char *file = __FILE__;
  const char *tail = strstr(file, "tests/unit/daemon/test_config_deploy.c");
  if (!tail)
    fail_msg("cannot locate the repository from __FILE__ '%s'", file);
  snprintf(out, len, "%.*s%s", (int)(tail - file), file, rel);
}

/* Loads deploy/config/<name> over the defaults; fails the test with the
 * loader's message when it does not load. */
static void load(sr_config_t *cfg, const char *name) {
  char path[4096], rel[256], errstr[512] = "";
  snprintf(rel, sizeof(rel), "deploy/config/%s", name);
  repo_path(path, sizeof(path), rel);
  sr_config_init(cfg);
  sr_err_t err = sr_config_load_file(cfg, path, errstr, sizeof(errstr));
  if (err != SR_OK)
    fail_msg("%s does not load: %s", path, errstr);
  /* The checks `streamrec run` makes before it starts pass as well. */
  if (sr_config_check(cfg, true, errstr, sizeof(errstr)) != SR_OK)
    fail_msg("%s is refused: %s", path, errstr);
}

/* Value of kafka.properties.<name>, or NULL. */
static const char *prop(const sr_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->kafka.n_props; i++)
    if (!strcmp(cfg->kafka.props[i].name, name))
      return cfg->kafka.props[i].value;
  return NULL;
}

static int setup(void **state) {
  (void)state;
  setenv("STREAMREC_SASL_PASSWORD", PASSWORD, 1);
  return 0;
}

/* A config added to deploy/config/ later is covered without a new test. */
static void test_every_example_config_loads(void **state) {
  (void)state;
  char pattern[4096];
  glob_t files;
  repo_path(pattern, sizeof(pattern), "deploy/config/*.json");
  assert_int_equal(glob(pattern, 0, NULL, &files), 0);
  assert_true(files.gl_pathc >= 3);
  for (size_t i = 0; i < files.gl_pathc; i++) {
    sr_config_t *cfg = malloc(sizeof(*cfg));
    char errstr[512] = "";
    assert_non_null(cfg);
    sr_config_init(cfg);
    if (sr_config_load_file(cfg, files.gl_pathv[i], errstr, sizeof(errstr)))
      fail_msg("%s does not load: %s", files.gl_pathv[i], errstr);
    free(cfg);
  }
  globfree(&files);
}

static void test_local_is_embedded_with_json_output(void **state) {
  (void)state;
  static sr_config_t cfg;
  load(&cfg, "local.json");
  assert_string_equal(cfg.kafka.brokers, "embedded");
  assert_int_equal(cfg.kafka.output_format, SR_OUTPUT_JSON);
  assert_string_equal(cfg.checkpoint.dir, "./streamrec-state");
  assert_true(cfg.checkpoint.interval_s <= 10);
  assert_int_equal(cfg.kafka.n_props, 0);
}

static void test_production_uses_sasl_ssl_with_env_password(void **state) {
  (void)state;
  static sr_config_t cfg;
  load(&cfg, "production.json");
  assert_string_equal(cfg.kafka.brokers, "kafka-1:9093,kafka-2:9093");
  assert_string_equal(prop(&cfg, "security.protocol"), "SASL_SSL");
  assert_string_equal(prop(&cfg, "sasl.mechanism"), "SCRAM-SHA-512");
  assert_non_null(prop(&cfg, "sasl.username"));
  assert_non_null(prop(&cfg, "ssl.ca.location"));
  /* The file holds "${STREAMREC_SASL_PASSWORD}", never the secret. */
  assert_string_equal(prop(&cfg, "sasl.password"), PASSWORD);
  assert_true(cfg.kafka.dead_letter_topic[0] != '\0');
  assert_string_equal(cfg.metrics.listen, "0.0.0.0:9464");
  assert_int_equal(cfg.log.format, SR_LOG_FORMAT_JSON);
  assert_string_equal(cfg.checkpoint.dir, "/var/lib/streamrec");
}

/* Without the secret in the environment the daemon must refuse to start
 * (exit 2 naming the variable), not connect with an empty password. */
static void test_production_without_password_names_the_variable(void **state) {
  (void)state;
  static sr_config_t cfg;
  char path[4096], errstr[512] = "";
  repo_path(path, sizeof(path), "deploy/config/production.json");
  unsetenv("STREAMREC_SASL_PASSWORD");
  sr_config_init(&cfg);
  sr_err_t err = sr_config_load_file(&cfg, path, errstr, sizeof(errstr));
  setenv("STREAMREC_SASL_PASSWORD", PASSWORD, 1);
  assert_int_equal(err, SR_ERR_INVALID);
  assert_non_null(strstr(errstr, "STREAMREC_SASL_PASSWORD"));
}

/* A backfill next to the live daemon must not share its consumer group
 * (it would steal partitions and commit offsets) nor its state directory
 * (it would interleave checkpoint files), and must not re-send rejected
 * history to the dead-letter topic. */
static void test_backfill_is_separate_from_production(void **state) {
  (void)state;
  static sr_config_t prod, bf;
  load(&prod, "production.json");
  load(&bf, "backfill.json");
  assert_string_not_equal(bf.kafka.group_id, prod.kafka.group_id);
  assert_string_not_equal(bf.checkpoint.dir, prod.checkpoint.dir);
  assert_string_not_equal(bf.metrics.listen, prod.metrics.listen);
  assert_string_equal(bf.kafka.input_topics, prod.kafka.input_topics);
  assert_string_equal(bf.kafka.brokers, prod.kafka.brokers);
  assert_string_equal(bf.kafka.dead_letter_topic, "");
  assert_string_equal(prop(&bf, "sasl.password"), PASSWORD);
  /* The backfilled model replaces the live one, so it must be the same
   * shape: a checkpoint of other dims is refused on start. */
  assert_int_equal(bf.model.dims, prod.model.dims);
  assert_int_equal(bf.model.mode, prod.model.mode);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_example_config_loads),
      cmocka_unit_test(test_local_is_embedded_with_json_output),
      cmocka_unit_test(test_production_uses_sasl_ssl_with_env_password),
      cmocka_unit_test(test_production_without_password_names_the_variable),
      cmocka_unit_test(test_backfill_is_separate_from_production),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
