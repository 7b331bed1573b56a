/* Tests of the option table: defaults that match the model's, --set
 * parsing and validation naming the key, JSON files, and librdkafka
 * properties with environment expansion. */
#include "daemon/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void assert_same_model_conf(const sr_model_conf_t *got,
                                   const sr_model_conf_t *want) {
  assert_int_equal(got->dims, want->dims);
  assert_int_equal(got->mode, want->mode);
  assert_true(got->learn_rate == want->learn_rate);
  assert_true(got->reg == want->reg);
  assert_true(got->init_std == want->init_std);
  assert_int_equal(got->negatives, want->negatives);
  assert_true(got->neg_weight == want->neg_weight);
  for (int t = 0; t < SR_EV__COUNT; t++)
    if (got->weights[t] != want->weights[t])
      fail_msg("weight of %s is %g, sr_model_conf_init says %g",
               t ? sr_event_type_name((sr_event_type_t)t) : "UNSPECIFIED",
               (double)got->weights[t], (double)want->weights[t]);
  assert_true(got->bias_learn_rate == want->bias_learn_rate);
  assert_true(got->bias_reg == want->bias_reg);
  assert_true(got->pop_blend == want->pop_blend);
  assert_true(got->pop_half_life == want->pop_half_life);
  assert_int_equal(got->recent_size, want->recent_size);
  assert_int_equal(got->seen_size, want->seen_size);
  assert_int_equal(got->min_user_events, want->min_user_events);
  assert_true(got->seed == want->seed);
}

static void test_defaults_equal_model_conf_init(void **state) {
  (void)state;
  sr_config_t cfg;
  sr_model_conf_t want;
  sr_config_init(&cfg);
  sr_model_conf_init(&want);
  assert_same_model_conf(&cfg.model, &want);
  assert_int_equal(cfg.recommend.n, 20);
  assert_string_equal(cfg.kafka.brokers, "embedded");
  assert_int_equal(cfg.kafka.n_props, 0);
  assert_int_equal(cfg.input.max_id_len, 256);
}

/* The table's own defaults, read back from the option reference, rebuild
 * sr_model_conf_init's values on top of garbage: every model field has an
 * option and every option's default agrees with the code. */
static void test_table_alone_rebuilds_model_defaults(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  sr_config_print_help(out, "model.");
  fclose(out);

  sr_config_t cfg;
  sr_config_init(&cfg);
  memset(&cfg.model, 0xab, sizeof cfg.model);
  cfg.model.weights[SR_EV_UNSPECIFIED] = 0; /* no event has this type */
  int options = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char name[128], err[256];
    /* The last "default '" on the line: help texts may quote words. */
    const char *def = NULL;
    for (const char *p = line; (p = strstr(p, "default '")) != NULL; p++)
      def = p;
    assert_int_equal(sscanf(line, " %127s", name), 1);
    assert_non_null(def);
    def += strlen("default '");
    char value[128];
    size_t vlen = strcspn(def, "'");
    snprintf(value, sizeof value, "%.*s", (int)vlen, def);
    if (sr_config_set(&cfg, name, value, err, sizeof err) != SR_OK)
      fail_msg("default of %s: %s", name, err);
    options++;
  }
  free(text);
  assert_true(options >= 21);
  sr_model_conf_t want;
  sr_model_conf_init(&want);
  assert_same_model_conf(&cfg.model, &want);
}

static void set_ok(sr_config_t *cfg, const char *kv) {
  char err[256] = "";
  if (sr_config_set_kv(cfg, kv, err, sizeof err) != SR_OK)
    fail_msg("--set %s: %s", kv, err);
}

/* --set kv fails with SR_ERR_INVALID and a message holding each of the
 * NULL-terminated fragments. */
static void set_fails(sr_config_t *cfg, const char *kv, ...) {
  char err[512] = "";
  sr_config_t before = *cfg;
  sr_err_t rc = sr_config_set_kv(cfg, kv, err, sizeof err);
  if (rc != SR_ERR_INVALID)
    fail_msg("--set %s: got %s, want SR_ERR_INVALID", kv, sr_err_str(rc));
  va_list ap;
  va_start(ap, kv);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
    if (!strstr(err, frag))
      fail_msg("--set %s: message '%s' lacks '%s'", kv, err, frag);
  va_end(ap);
  /* A rejected value changes nothing. */
  assert_memory_equal(&before, cfg, sizeof before);
}

static void test_set_parses_each_type(void **state) {
  (void)state;
  sr_config_t cfg;
  sr_config_init(&cfg);
  set_ok(&cfg, "model.dims=64");
  set_ok(&cfg, "model.learn_rate=0.05");
  set_ok(&cfg, "model.weight.purchase=4.5");
  set_ok(&cfg, "model.seed=123456789012");
  set_ok(&cfg, "model.seen_size=0");
  set_ok(&cfg, "recommend.n=1e2");
  set_ok(&cfg, "checkpoint.interval_s=0.25");
  set_ok(&cfg, "input.max_future_skew_ms=0");
  set_ok(&cfg, "kafka.brokers=broker-1:9092,broker-2:9092");
  set_ok(&cfg, "kafka.dead_letter_topic=");
  assert_int_equal(cfg.model.dims, 64);
  assert_true(cfg.model.learn_rate == 0.05f);
  assert_true(cfg.model.weights[SR_EV_PURCHASE] == 4.5f);
  assert_true(cfg.model.seed == 123456789012ull);
  assert_int_equal(cfg.model.seen_size, 0);
  assert_int_equal(cfg.recommend.n, 100);
  assert_true(cfg.checkpoint.interval_s == 0.25);
  assert_int_equal(cfg.input.max_future_skew_ms, 0);
  assert_string_equal(cfg.kafka.brokers, "broker-1:9092,broker-2:9092");
  assert_string_equal(cfg.kafka.dead_letter_topic, "");
  /* The last setting wins. */
  set_ok(&cfg, "model.dims=8");
  assert_int_equal(cfg.model.dims, 8);
}

static void test_set_rejects_bad_input_naming_the_key(void **state) {
  (void)state;
  sr_config_t cfg;
  sr_config_init(&cfg);
  set_fails(&cfg, "model.dimz=3", "model.dimz", NULL);
  set_fails(&cfg, "dims=3", "dims", NULL);
  set_fails(&cfg, "nokey", "nokey", NULL);
  set_fails(&cfg, "=5", "=5", NULL);
  /* Out of range, both ends. */
  set_fails(&cfg, "model.dims=0", "model.dims", "out of range", NULL);
  set_fails(&cfg, "model.dims=1025", "model.dims", "1025", NULL);
  set_fails(&cfg, "model.negatives=65", "model.negatives", NULL);
  set_fails(&cfg, "model.learn_rate=0", "model.learn_rate", NULL);
  set_fails(&cfg, "model.reg=-0.1", "model.reg", NULL);
  set_fails(&cfg, "input.max_id_len=257", "input.max_id_len", NULL);
  set_fails(&cfg, "recommend.n=-1", "recommend.n", NULL);
  /* Not numbers, or not whole ones. */
  set_fails(&cfg, "model.dims=abc", "model.dims", "abc", NULL);
  set_fails(&cfg, "model.dims=12abc", "model.dims", NULL);
  set_fails(&cfg, "model.dims=", "model.dims", NULL);
  set_fails(&cfg, "model.dims=1.5", "model.dims", "integer", NULL);
  set_fails(&cfg, "model.learn_rate=nan", "model.learn_rate", NULL);
  set_fails(&cfg, "model.reg=inf", "model.reg", NULL);
  set_fails(&cfg, "checkpoint.interval_s=soon", "checkpoint.interval_s", NULL);
  /* Strings longer than their buffer. */
  char kv[400];
  snprintf(kv, sizeof kv, "kafka.brokers=%0300d", 7);
  set_fails(&cfg, kv, "kafka.brokers", NULL);
}

static void test_enum_choices(void **state) {
  (void)state;
  sr_config_t cfg;
  sr_config_init(&cfg);
  assert_int_equal(cfg.model.mode, SR_MODE_IMPLICIT);
  set_ok(&cfg, "model.mode=explicit");
  assert_int_equal(cfg.model.mode, SR_MODE_EXPLICIT);
  set_ok(&cfg, "model.mode=implicit");
  assert_int_equal(cfg.model.mode, SR_MODE_IMPLICIT);
  set_fails(&cfg, "model.mode=bogus", "model.mode", "bogus",
            "implicit|explicit", NULL);
  set_fails(&cfg, "model.mode=", "model.mode", NULL);
  set_fails(&cfg, "model.mode=impl", "model.mode", NULL);

  assert_int_equal(cfg.kafka.input_format, SR_WIRE_AUTO);
  set_ok(&cfg, "kafka.input_format=json");
  assert_int_equal(cfg.kafka.input_format, SR_WIRE_JSON);
  set_ok(&cfg, "kafka.input_format=proto");
  assert_int_equal(cfg.kafka.input_format, SR_WIRE_PROTO);
  set_fails(&cfg, "kafka.input_format=xml", "kafka.input_format", "xml", NULL);
  assert_int_equal(cfg.kafka.output_format, SR_OUTPUT_PROTO);
  set_ok(&cfg, "kafka.output_format=json");
  assert_int_equal(cfg.kafka.output_format, SR_OUTPUT_JSON);
  set_fails(&cfg, "kafka.output_format=auto", "kafka.output_format", NULL);
  assert_int_equal(cfg.log.level, SR_LOG_INFO);
  set_ok(&cfg, "log.level=debug");
  assert_int_equal(cfg.log.level, SR_LOG_DEBUG);
  set_ok(&cfg, "log.level=error");
  assert_int_equal(cfg.log.level, SR_LOG_ERROR);
  set_fails(&cfg, "log.level=loud", "log.level", NULL);
  assert_int_equal(cfg.log.format, SR_LOG_FORMAT_LOGFMT);
  set_ok(&cfg, "log.format=json");
  assert_int_equal(cfg.log.format, SR_LOG_FORMAT_JSON);
  set_fails(&cfg, "log.format=xml", "log.format", NULL);
}

/* Writes text to a fresh temporary file; path receives its name. */
static void write_file(char *path, size_t len, const char *text) {
  snprintf(path, len, "/tmp/sr-test-config-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t n = strlen(text);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  close(fd);
}

static sr_err_t load(sr_config_t *cfg, const char *text, char *err,
                     size_t errlen, char *path, size_t pathlen) {
  write_file(path, pathlen, text);
  sr_err_t rc = sr_config_load_file(cfg, path, err, errlen);
  unlink(path);
  return rc;
}

static void test_json_nested_and_dotted_keys(void **state) {
  (void)state;
  sr_config_t cfg;
  char err[512] = "", path[64];
  sr_config_init(&cfg);
  const char *text =
      "{\"model\": {\"dims\": 48, \"mode\": \"explicit\",\n"
      "             \"weight\": {\"view\": 0.25}, \"learn_rate\": 0.02},\n"
      " \"model.negatives\": 8,\n"
      " \"recommend\": {\"n\": 15}, \"recommend.batch_ms\": \"25\",\n"
      " \"kafka\": {\"brokers\": \"b:9092\", \"properties\": "
      "{\"security.protocol\": \"SASL_SSL\"}},\n"
      " \"kafka.properties.linger.ms\": 5,\n"
      " \"checkpoint\": {\"interval_s\": 2.5}}\n";
  if (load(&cfg, text, err, sizeof err, path, sizeof path) != SR_OK)
    fail_msg("load: %s", err);
  assert_int_equal(cfg.model.dims, 48);
  assert_int_equal(cfg.model.mode, SR_MODE_EXPLICIT);
  assert_true(cfg.model.weights[SR_EV_VIEW] == 0.25f);
  assert_true(cfg.model.learn_rate == 0.02f);
  assert_int_equal(cfg.model.negatives, 8);
  assert_int_equal(cfg.recommend.n, 15);
  assert_int_equal(cfg.recommend.batch_ms, 25);
  assert_string_equal(cfg.kafka.brokers, "b:9092");
  assert_true(cfg.checkpoint.interval_s == 2.5);
  assert_int_equal(cfg.kafka.n_props, 2);
  assert_string_equal(cfg.kafka.props[0].name, "security.protocol");
  assert_string_equal(cfg.kafka.props[0].value, "SASL_SSL");
  assert_string_equal(cfg.kafka.props[1].name, "linger.ms");
  assert_string_equal(cfg.kafka.props[1].value, "5");
  /* Options the file leaves out keep their defaults. */
  assert_true(cfg.model.reg == 0.01f);
}

static void json_fails(const char *text, const char *frag) {
  sr_config_t cfg;
  char err[512] = "", path[64];
  sr_config_init(&cfg);
  if (load(&cfg, text, err, sizeof err, path, sizeof path) != SR_ERR_INVALID)
    fail_msg("%s: accepted", text);
  if (!strstr(err, path) || !strstr(err, frag))
    fail_msg("%s: message '%s' lacks the file or '%s'", text, err, frag);
}

static void test_json_errors_name_file_and_key(void **state) {
  (void)state;
  json_fails("{\"model\": {\"dimz\": 3}}", "model.dimz");
  json_fails("{\"model.dims\": 0}", "model.dims");
  json_fails("{\"model\": {\"dims\": \"many\"}}", "model.dims");
  json_fails("{\"model\": {\"dims\": [32]}}", "model.dims");
  json_fails("{\"model\": {\"mode\": null}}", "model.mode");
  json_fails("{\"model\": {\"mode\": true}}", "model.mode");
  json_fails("[1, 2]", "object");
  json_fails("{\"model\": {\"dims\": 32,,}}", ":1:");
  sr_config_t cfg;
  char err[512] = "";
  sr_config_init(&cfg);
  assert_int_equal(
      sr_config_load_file(&cfg, "/nonexistent/sr.json", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "/nonexistent/sr.json"));
}

static void test_kafka_properties_and_env(void **state) {
  (void)state;
  sr_config_t cfg;
  char err[512] = "";
  sr_config_init(&cfg);
  setenv("SR_TEST_SASL_SECRET", "s3cr=t", 1);
  unsetenv("SR_TEST_NOT_SET");
  set_ok(&cfg, "kafka.properties.sasl.password=${SR_TEST_SASL_SECRET}");
  /* Everything after the first '=' is the value. */
  set_ok(&cfg, "kafka.properties.sasl.jaas.config=a=b c=d");
  /* Only a whole ${VAR} is expanded; anything else passes verbatim. */
  set_ok(&cfg, "kafka.properties.client.id=$HOME-${x");
  assert_int_equal(cfg.kafka.n_props, 3);
  assert_string_equal(cfg.kafka.props[0].name, "sasl.password");
  assert_string_equal(cfg.kafka.props[0].value, "s3cr=t");
  assert_string_equal(cfg.kafka.props[1].name, "sasl.jaas.config");
  assert_string_equal(cfg.kafka.props[1].value, "a=b c=d");
  assert_string_equal(cfg.kafka.props[2].value, "$HOME-${x");
  /* Setting a property again replaces it. */
  set_ok(&cfg, "kafka.properties.client.id=streamrec-1");
  assert_int_equal(cfg.kafka.n_props, 3);
  assert_string_equal(cfg.kafka.props[2].value, "streamrec-1");

  /* A missing variable is an error naming it and the property. */
  set_fails(&cfg, "kafka.properties.sasl.username=${SR_TEST_NOT_SET}",
            "SR_TEST_NOT_SET", "sasl.username", NULL);
  assert_int_equal(cfg.kafka.n_props, 3);
  set_fails(&cfg, "kafka.properties.=x", "kafka.properties.", NULL);

  /* The same through a file. */
  char path[64];
  const char *text = "{\"kafka\": {\"properties\": "
                     "{\"sasl.username\": \"${SR_TEST_NOT_SET}\"}}}";
  assert_int_equal(load(&cfg, text, err, sizeof err, path, sizeof path),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "SR_TEST_NOT_SET"));
  assert_non_null(strstr(err, path));
  setenv("SR_TEST_NOT_SET", "alice", 1);
  if (load(&cfg, text, err, sizeof err, path, sizeof path) != SR_OK)
    fail_msg("load: %s", err);
  unsetenv("SR_TEST_NOT_SET");
  assert_int_equal(cfg.kafka.n_props, 4);
  assert_string_equal(cfg.kafka.props[3].value, "alice");

  /* The table of properties is bounded, with a clear error past it. */
  char kv[64];
  for (int k = (int)cfg.kafka.n_props; k < SR_CONF_MAX_PROPS; k++) {
    snprintf(kv, sizeof kv, "kafka.properties.p%d=v", k);
    set_ok(&cfg, kv);
  }
  set_fails(&cfg, "kafka.properties.one.too.many=v", "one.too.many", NULL);
}

/* Properties streamrec sets itself are refused, naming the property and
 * what to use instead, from --set and from a file alike. */
static void test_owned_properties_refused(void **state) {
  (void)state;
  sr_config_t cfg;
  sr_config_init(&cfg);
  set_fails(&cfg, "kafka.properties.group.id=other",
            "kafka.properties.group.id", "kafka.group_id", NULL);
  set_fails(&cfg, "kafka.properties.bootstrap.servers=b:9092",
            "kafka.properties.bootstrap.servers", "kafka.brokers", NULL);
  set_fails(&cfg, "kafka.properties.metadata.broker.list=b:9092",
            "kafka.properties.metadata.broker.list", "kafka.brokers", NULL);
  set_fails(&cfg, "kafka.properties.enable.auto.commit=true",
            "kafka.properties.enable.auto.commit", NULL);
  set_fails(&cfg, "kafka.properties.auto.commit.enable=true",
            "kafka.properties.auto.commit.enable", NULL);
  set_fails(&cfg, "kafka.properties.enable.auto.offset.store=true",
            "kafka.properties.enable.auto.offset.store", NULL);
  set_fails(&cfg, "kafka.properties.auto.offset.reset=latest",
            "kafka.properties.auto.offset.reset", "--from", NULL);
  set_fails(&cfg, "kafka.properties.enable.partition.eof=true",
            "kafka.properties.enable.partition.eof", "--until", NULL);
  set_fails(&cfg, "kafka.properties.enable.idempotence=false",
            "kafka.properties.enable.idempotence", NULL);
  assert_int_equal(cfg.kafka.n_props, 0);
  json_fails("{\"kafka\": {\"properties\": {\"group.id\": \"g\"}}}",
             "kafka.properties.group.id");
  /* Properties streamrec only defaults remain the user's to choose. */
  set_ok(&cfg, "kafka.properties.session.timeout.ms=3000");
  set_ok(&cfg, "kafka.properties.client.id=streamrec-7");
}

/* A key given twice in a file: the last would win silently. */
static void test_json_duplicate_keys_refused(void **state) {
  (void)state;
  json_fails("{\"model\": {\"dims\": 8, \"dims\": 9}}", "dims");
  json_fails("{\"model.dims\": 8, \"model.dims\": 9}", "model.dims");
  json_fails("{\"model\": {\"dims\": 8}, \"model.dims\": 9}", "model.dims");
  json_fails("{\"model.dims\": 9, \"model\": {\"dims\": 8}}", "model.dims");
  json_fails("{\"model\": {\"weight\": {\"view\": 1}},"
             " \"model.weight\": {\"view\": 2}}",
             "model.weight.view");
  json_fails("{\"kafka\": {\"properties\": {\"linger.ms\": 1}},"
             " \"kafka.properties.linger.ms\": 2}",
             "kafka.properties.linger.ms");
  /* Siblings sharing a prefix are not duplicates. */
  sr_config_t cfg;
  char err[512] = "", path[64];
  sr_config_init(&cfg);
  if (load(&cfg, "{\"model\": {\"dims\": 8}, \"model.reg\": 0.5}", err,
           sizeof err, path, sizeof path) != SR_OK)
    fail_msg("load: %s", err);
  assert_int_equal(cfg.model.dims, 8);
  /* The same through a document in memory. */
  const char *doc = "{\"recommend\": {\"n\": 5}, \"recommend.n\": 6}";
  assert_int_equal(
      sr_config_load_json(&cfg, doc, strlen(doc), "inline", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "recommend.n"));
}

/* sr_config_check refuses cfg after --set kv, naming each fragment. */
static void check_fails(const char *kv, bool publish, const char *frag1,
                        const char *frag2) {
  sr_config_t cfg;
  char err[512] = "";
  sr_config_init(&cfg);
  set_ok(&cfg, kv);
  if (sr_config_check(&cfg, publish, err, sizeof err) != SR_ERR_INVALID)
    fail_msg("--set %s: accepted by sr_config_check", kv);
  if (!strstr(err, frag1) || (frag2 && !strstr(err, frag2)))
    fail_msg("--set %s: message '%s' lacks '%s' or '%s'", kv, err, frag1,
             frag2 ? frag2 : "");
}

static void check_ok(const char *kv, bool publish) {
  sr_config_t cfg;
  char err[512] = "";
  sr_config_init(&cfg);
  set_ok(&cfg, kv);
  if (sr_config_check(&cfg, publish, err, sizeof err) != SR_OK)
    fail_msg("--set %s: refused: %s", kv, err);
}

static void test_check_topic_names(void **state) {
  (void)state;
  char kv[400];
  check_ok("kafka.input_topics=events", true);
  check_ok("kafka.input_topics=a.b_c-D9, other,,third", true);
  check_ok("kafka.dead_letter_topic=", true);
  snprintf(kv, sizeof kv, "kafka.output_topic=%0249d", 1);
  check_ok(kv, true);
  check_fails("kafka.input_topics=events,bad/name", true, "kafka.input_topics",
              "bad/name");
  check_fails("kafka.input_topics=ev*ents", true, "kafka.input_topics",
              "ev*ents");
  check_fails("kafka.input_topics=^ev.*", true, "kafka.input_topics", "^ev");
  check_fails("kafka.input_topics=.", true, "kafka.input_topics", NULL);
  check_fails("kafka.input_topics=..", true, "kafka.input_topics", NULL);
  check_fails("kafka.output_topic=r\u00e9cs", true, "kafka.output_topic", NULL);
  check_fails("kafka.output_topic=recs:1", true, "kafka.output_topic",
              "recs:1");
  check_fails("kafka.dead_letter_topic=dead letters", true,
              "kafka.dead_letter_topic", NULL);
  snprintf(kv, sizeof kv, "kafka.dead_letter_topic=%0250d", 1);
  check_fails(kv, true, "kafka.dead_letter_topic", "not a valid");
  /* With --no-publish the output topic is never used. */
  check_ok("kafka.output_topic=no/such", false);
}

static void test_check_outputs_apart_from_inputs(void **state) {
  (void)state;
  check_fails("kafka.output_topic=events", true, "kafka.output_topic",
              "input topic");
  check_fails("kafka.dead_letter_topic=events", true, "kafka.dead_letter_topic",
              "input topic");
  check_fails("kafka.dead_letter_topic=events", false,
              "kafka.dead_letter_topic", "input topic");
  check_fails("kafka.dead_letter_topic=recs", true, "kafka.dead_letter_topic",
              "kafka.output_topic");
  check_ok("kafka.dead_letter_topic=recs", false);
  check_ok("kafka.output_topic=events", false);

  sr_config_t cfg;
  char err[512] = "";
  sr_config_init(&cfg);
  set_ok(&cfg, "kafka.input_topics=clicks, views");
  set_ok(&cfg, "kafka.output_topic=views");
  assert_int_equal(sr_config_check(&cfg, true, err, sizeof err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "kafka.output_topic"));
  /* A prefix of an input topic is another topic. */
  set_ok(&cfg, "kafka.output_topic=view");
  set_ok(&cfg, "kafka.dead_letter_topic=clicks.dead");
  if (sr_config_check(&cfg, true, err, sizeof err) != SR_OK)
    fail_msg("refused: %s", err);
}

/* The items and state topics are streamrec's own: valid names, and no
 * other topic of the configuration may share them. */
static void test_check_own_topics_apart(void **state) {
  (void)state;
  check_ok("kafka.items_topic=items", true);
  check_fails("kafka.items_topic=bad/name", true, "kafka.items_topic",
              "bad/name");
  check_fails("kafka.items_topic=events", true, "kafka.items_topic",
              "items must have a topic of their own");
  check_fails("kafka.items_topic=recs", true, "kafka.items_topic", "'recs'");
  const char *const refused[] = {"events", "recs", "sync"};
  for (size_t i = 0; i < 3; i++) {
    sr_config_t cfg;
    char kv[64], err[512] = "";
    sr_config_init(&cfg);
    set_ok(&cfg, "cluster.sync_topic=sync");
    snprintf(kv, sizeof kv, "cluster.state_topic=%s", refused[i]);
    set_ok(&cfg, kv);
    assert_int_equal(sr_config_check(&cfg, true, err, sizeof err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err, "cluster.state_topic"));
    assert_non_null(strstr(err, "user states must have a topic of their own"));
    set_ok(&cfg, "cluster.state_topic=state");
    if (sr_config_check(&cfg, true, err, sizeof err) != SR_OK)
      fail_msg("refused: %s", err);
  }
}

/* The field mapping: input.types as a JSON object in a file, its rows
 * and its refusals, and sr_config_check compiling the mapping. */
static void test_input_mapping(void **state) {
  (void)state;
  sr_config_t cfg;
  char err[512] = "", path[64];
  sr_config_init(&cfg);
  const char *text =
      "{\"input\": {\"fields\": {\"user_id\": \"context.user.id\", "
      "\"type\": \"event\"}, \"timestamp_format\": \"iso8601\",\n"
      " \"unknown_types\": \"skip\",\n"
      " \"types\": {\"page_view\": \"VIEW\", \"add_to_basket\": "
      "\"add_to_cart\"}}}\n";
  if (load(&cfg, text, err, sizeof err, path, sizeof path) != SR_OK)
    fail_msg("load: %s", err);
  assert_string_equal(cfg.input.fields[SR_MAP_USER_ID], "context.user.id");
  assert_string_equal(cfg.input.fields[SR_MAP_ITEM_ID], "");
  assert_int_equal(cfg.input.timestamp_format, SR_TS_ISO8601);
  assert_int_equal(cfg.input.unknown_types, SR_UNKNOWN_SKIP);
  sr_type_alias_t aliases[SR_CONF_MAX_ALIASES];
  sr_mapping_spec_t spec = sr_config_mapping(&cfg, NULL, aliases);
  assert_true(sr_mapping_spec_active(&spec));
  assert_int_equal(spec.n_types, 2);
  assert_string_equal(spec.types[1].name, "add_to_basket");
  assert_int_equal(spec.types[1].type, SR_EV_ADD_TO_CART);
  assert_int_equal(sr_config_check(&cfg, true, err, sizeof err), SR_OK);

  /* The defaults map nothing: streamrec's own format. */
  sr_config_init(&cfg);
  spec = sr_config_mapping(&cfg, NULL, aliases);
  assert_false(sr_mapping_spec_active(&spec));

  assert_int_equal(
      sr_config_set(&cfg, "input.types.order", "SHIPPED", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "input.types.order"));
  assert_int_equal(
      sr_config_set(&cfg, "input.timestamp_format", "minutes", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "input.timestamp_format"));
  check_fails("input.fields.item_id=items[0]..id", true, "input.fields.item_id",
              "items[0]..id");
  check_fails("input.fields.type==TELEPORT", true, "input.fields.type",
              "TELEPORT");
  check_ok("input.fields.user_id=@key", true);
}

/* input.topics.TOPIC.* overrides input.* for that topic alone; a topic
 * name may hold dots; a topic that is not an input is refused. */
static void test_topic_mappings(void **state) {
  (void)state;
  sr_config_t cfg;
  char err[512] = "", path[64];
  sr_config_init(&cfg);
  const char *text =
      "{\"kafka\": {\"input_topics\": \"web.events,app\"},\n"
      " \"input\": {\"fields\": {\"user_id\": \"uid\", \"type\": \"ev\"},\n"
      "  \"types\": {\"view\": \"VIEW\"},\n"
      "  \"topics\": {\"app\": {\"fields\": {\"user_id\": \"@key\", "
      "\"type\": \"=CLICK\"}, \"timestamp_format\": \"s\",\n"
      "    \"unknown_types\": \"skip\", \"types\": {\"view\": \"LIKE\"}},\n"
      "   \"web.events\": {\"fields\": {\"type\": \"\"}}}}}\n";
  if (load(&cfg, text, err, sizeof err, path, sizeof path) != SR_OK)
    fail_msg("load: %s", err);
  assert_int_equal(cfg.input.n_topics, 2);
  sr_type_alias_t aliases[SR_CONF_MAX_ALIASES];
  sr_mapping_spec_t app = sr_config_mapping(&cfg, "app", aliases);
  assert_string_equal(app.prefix, "input.topics.app.");
  assert_string_equal(app.fields[SR_MAP_USER_ID], "@key");
  assert_string_equal(app.fields[SR_MAP_TYPE], "=CLICK");
  assert_int_equal(app.timestamp_format, SR_TS_S);
  assert_int_equal(app.unknown_types, SR_UNKNOWN_SKIP);
  /* The topic's own names come first. */
  assert_int_equal(app.n_types, 2);
  assert_int_equal(app.types[0].type, SR_EV_LIKE);
  assert_int_equal(app.types[1].type, SR_EV_VIEW);
  /* Set to "": streamrec's own member for this topic. */
  sr_mapping_spec_t web = sr_config_mapping(&cfg, "web.events", aliases);
  assert_string_equal(web.fields[SR_MAP_USER_ID], "uid");
  assert_string_equal(web.fields[SR_MAP_TYPE], "");
  assert_int_equal(web.timestamp_format, SR_TS_AUTO);
  sr_mapping_spec_t other = sr_config_mapping(&cfg, "other", aliases);
  assert_string_equal(other.fields[SR_MAP_TYPE], "ev");
  assert_int_equal(sr_config_check(&cfg, true, err, sizeof err), SR_OK);

  assert_int_equal(sr_config_set(&cfg, "input.topics.app.fields.item_id",
                                 "a..b", err, sizeof err),
                   SR_OK);
  assert_int_equal(sr_config_check(&cfg, true, err, sizeof err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "input.topics.app.fields.item_id"));
  check_fails("input.topics.nope.fields.user_id=u", true, "input.topics.nope",
              "kafka.input_topics");
  sr_config_init(&cfg);
  assert_int_equal(sr_config_set(&cfg, "input.topics.app.timestamp_format",
                                 "days", err, sizeof err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "input.topics.app.timestamp_format"));
  assert_int_equal(
      sr_config_set(&cfg, "input.topics.app.types.v", "SEEN", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "input.topics.app.types.v"));
  assert_int_equal(
      sr_config_set(&cfg, "input.topics.app.colour", "red", err, sizeof err),
      SR_ERR_INVALID);
  assert_non_null(strstr(err, "unknown option"));
}

static void test_help_lists_every_option(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  sr_config_print_help(out, NULL);
  sr_config_print_markdown(out);
  fclose(out);
  static const char *const keys[] = {
      "model.dims",           "model.mode",         "model.weight.dislike",
      "recommend.batch_ms",   "kafka.input_topics", "checkpoint.keep",
      "input.max_id_len",     "metrics.listen",     "log.level",
      "kafka.properties.NAME"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (!strstr(text, keys[k]))
      fail_msg("option reference lacks %s", keys[k]);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_equal_model_conf_init),
      cmocka_unit_test(test_table_alone_rebuilds_model_defaults),
      cmocka_unit_test(test_set_parses_each_type),
      cmocka_unit_test(test_set_rejects_bad_input_naming_the_key),
      cmocka_unit_test(test_enum_choices),
      cmocka_unit_test(test_json_nested_and_dotted_keys),
      cmocka_unit_test(test_json_errors_name_file_and_key),
      cmocka_unit_test(test_kafka_properties_and_env),
      cmocka_unit_test(test_owned_properties_refused),
      cmocka_unit_test(test_json_duplicate_keys_refused),
      cmocka_unit_test(test_check_topic_names),
      cmocka_unit_test(test_check_outputs_apart_from_inputs),
      cmocka_unit_test(test_check_own_topics_apart),
      cmocka_unit_test(test_input_mapping),
      cmocka_unit_test(test_topic_mappings),
      cmocka_unit_test(test_help_lists_every_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
