/* Tests of the ingest step with no sink: a valid message in either wire
 * format is learned, and every kind of invalid one leaves the model alone
 * and is counted under its own reason. Messages are built by hand around a
 * topic handle of a producer that has no brokers. */
#include "daemon/ingest.h"

#include "codec/avro_event.h"
#include "codec/event_codec.h"
#include "codec/framing.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/reason.h"
#include "support.h"
#include "util/buf.h"

/* The clock the tests pretend it is (2023-11-14), in ms. */
#define NOW_MS 1700000000000LL

typedef struct fixture {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  sr_config_t cfg;
  sr_model_t *mdl;
  sr_ingest_t *ing;
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  char err[512];
  if (!fx)
    return -1;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err) !=
      RD_KAFKA_CONF_OK)
    return -1;
  fx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!fx->rk)
    return -1;
  conf = NULL; /* now owned by rk */
  fx->rkt = rd_kafka_topic_new(fx->rk, "events", NULL);
  if (!fx->rkt)
    return -1;
  sr_config_init(&fx->cfg);
  fx->cfg.model.dims = 8;
  fx->cfg.input.max_message_bytes = 256;
  fx->cfg.input.max_id_len = 16;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  rd_kafka_topic_destroy(fx->rkt);
  rd_kafka_destroy(fx->rk);
  free(fx);
  return 0;
}

/* A model and an ingest step on it, per test. */
static int ingest_setup(void **state) {
  fixture_t *fx = *state;
  char err[256] = "";
  fx->mdl = model_with(&fx->cfg.model);
  fx->ing = sr_ingest_new(&fx->cfg, fx->mdl, NULL, NULL, err, sizeof err);
  if (!fx->ing)
    return -1;
  sr_ingest_set_time(fx->ing, NOW_MS, 1);
  return 0;
}

static int ingest_teardown(void **state) {
  fixture_t *fx = *state;
  sr_ingest_free(fx->ing);
  sr_model_free(fx->mdl);
  fx->ing = NULL;
  fx->mdl = NULL;
  return 0;
}

/* Feeds payload (NULL for a tombstone) as the message at offset. */
static int feed(fixture_t *fx, const void *payload, size_t len,
                int64_t offset) {
  rd_kafka_message_t msg;
  memset(&msg, 0, sizeof msg);
  msg.rkt = fx->rkt;
  msg.partition = 0;
  msg.offset = offset;
  msg.payload = (void *)payload;
  msg.len = len;
  return sr_ingest_message(fx->ing, &msg);
}

static int feed_text(fixture_t *fx, const char *text, int64_t offset) {
  return feed(fx, text, strlen(text), offset);
}

static uint64_t total_rejected(const fixture_t *fx) {
  uint64_t n = 0;
  for (int r = 0; r < SR_REASON__COUNT; r++)
    n += sr_ingest_rejected(fx->ing, (sr_reason_t)r);
  return n;
}

static void test_valid_json_and_proto_are_learned(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(
      feed_text(fx,
                "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"VIEW\","
                "\"timestamp_ms\":1700000000000}",
                0),
      0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 1);

  sr_event_t ev;
  memset(&ev, 0, sizeof ev);
  snprintf(ev.user_id, sizeof ev.user_id, "u2");
  snprintf(ev.item_id, sizeof ev.item_id, "i1");
  ev.user_len = 2;
  ev.item_len = 2;
  ev.type = SR_EV_PURCHASE;
  ev.value = 1;
  ev.timestamp_ms = NOW_MS;
  sr_buf_t buf = {0};
  assert_int_equal(sr_event_encode_proto(&ev, &buf), 0);
  assert_int_equal(feed(fx, buf.data, buf.len, 1), 0);
  sr_buf_free(&buf);

  assert_int_equal(sr_model_events_applied(fx->mdl), 2);
  assert_int_equal(sr_model_live_users(fx->mdl), 2);
  assert_int_equal(sr_model_live_items(fx->mdl), 1);
  assert_int_equal(total_rejected(fx), 0);
}

/* Each payload with the reason it must be counted under. */
static const struct {
  const char *payload;
  sr_reason_t reason;
} invalid[] = {
    {"{\"user_id\":\"u1\",\"item_id\":", SR_REASON_DECODE},
    {"{\"user_id\":\"\",\"item_id\":\"i1\",\"type\":\"VIEW\"}",
     SR_REASON_EMPTY_ID},
    {"{\"user_id\":\"u1\",\"item_id\":\"item-id-over-16-bytes\","
     "\"type\":\"VIEW\"}",
     SR_REASON_ID_TOO_LONG},
    {"{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"RATING\","
     "\"value\":\"NaN\"}",
     SR_REASON_NON_FINITE},
    {"{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"TELEPORT\"}",
     SR_REASON_UNKNOWN_TYPE},
    {"{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"VIEW\","
     "\"timestamp_ms\":1800000000000}",
     SR_REASON_FUTURE_TS},
};

static void test_invalid_counted_by_reason_and_not_learned(void **state) {
  fixture_t *fx = *state;
  uint64_t digest = sr_model_digest(fx->mdl);
  size_t n = sizeof invalid / sizeof invalid[0];
  for (size_t k = 0; k < n; k++) {
    assert_int_equal(feed_text(fx, invalid[k].payload, (int64_t)k), 0);
    if (sr_ingest_rejected(fx->ing, invalid[k].reason) != 1)
      fail_msg("%s not counted as %s", invalid[k].payload,
               sr_reason_name(invalid[k].reason));
  }
  char big[300];
  memset(big, ' ', sizeof big);
  const char *json = "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":1}";
  memcpy(big, json, strlen(json));
  assert_int_equal(feed(fx, big, sizeof big, 10), 0);
  assert_int_equal(sr_ingest_rejected(fx->ing, SR_REASON_TOO_LARGE), 1);
  assert_int_equal(feed(fx, NULL, 0, 11), 0);
  assert_int_equal(feed(fx, NULL, 0, 12), 0);
  assert_int_equal(sr_ingest_rejected(fx->ing, SR_REASON_TOMBSTONE), 2);

  assert_int_equal(total_rejected(fx), n + 3);
  assert_int_equal(sr_ingest_rejected(fx->ing, SR_REASON_OK), 0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 0);
  assert_true(sr_model_digest(fx->mdl) == digest);
}

/* A forced format decodes nothing else: JSON on a proto input is garbage. */
static void test_forced_format_rejects_the_other(void **state) {
  fixture_t *fx = *state;
  char err[256] = "";
  fx->cfg.kafka.input_format = SR_WIRE_PROTO;
  sr_ingest_t *ing =
      sr_ingest_new(&fx->cfg, fx->mdl, NULL, NULL, err, sizeof err);
  fx->cfg.kafka.input_format = SR_WIRE_AUTO;
  assert_non_null(ing);
  sr_ingest_set_time(ing, NOW_MS, 1);
  sr_ingest_t *saved = fx->ing;
  fx->ing = ing;
  assert_int_equal(
      feed_text(fx, "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"VIEW\"}",
                0),
      0);
  assert_int_equal(sr_ingest_rejected(ing, SR_REASON_DECODE), 1);
  assert_int_equal(sr_model_events_applied(fx->mdl), 0);
  fx->ing = saved;
  sr_ingest_free(ing);
}

/* With a field mapping, a JSON message is read by it (the user id from
 * the Kafka key here), a protobuf one is still streamrec's own Event, and a
 * skipped type is counted apart from rejections. */
static void test_mapping_reads_json(void **state) {
  fixture_t *fx = *state;
  char err[256] = "";
  sr_config_t cfg = fx->cfg;
  assert_int_equal(
      sr_config_set(&cfg, "input.fields.user_id", "@key", err, sizeof err),
      SR_OK);
  assert_int_equal(
      sr_config_set(&cfg, "input.fields.item_id", "p.id", err, sizeof err),
      SR_OK);
  assert_int_equal(
      sr_config_set(&cfg, "input.fields.type", "ev", err, sizeof err), SR_OK);
  assert_int_equal(
      sr_config_set(&cfg, "input.types.seen", "VIEW", err, sizeof err), SR_OK);
  assert_int_equal(
      sr_config_set(&cfg, "input.unknown_types", "skip", err, sizeof err),
      SR_OK);
  sr_ingest_t *ing = sr_ingest_new(&cfg, fx->mdl, NULL, NULL, err, sizeof err);
  assert_non_null(ing);
  sr_ingest_set_time(ing, NOW_MS, 1);
  sr_ingest_t *saved = fx->ing;
  fx->ing = ing;

  rd_kafka_message_t msg;
  const char *json = "{\"ev\":\"seen\",\"p\":{\"id\":\"i1\"},"
                     "\"timestamp_ms\":1700000000000}";
  memset(&msg, 0, sizeof msg);
  msg.rkt = fx->rkt;
  msg.payload = (void *)json;
  msg.len = strlen(json);
  msg.key = "u1";
  msg.key_len = 2;
  assert_int_equal(sr_ingest_message(ing, &msg), 0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 1);
  assert_true(sr_model_find_user(fx->mdl, "u1", 2) >= 0);

  /* No key: the mapped user id is missing. */
  msg.key = NULL;
  msg.offset = 1;
  assert_int_equal(sr_ingest_message(ing, &msg), 0);
  assert_int_equal(sr_ingest_rejected(ing, SR_REASON_MISSING_FIELD), 1);

  const char *signup = "{\"ev\":\"signup\",\"p\":{\"id\":\"i1\"}}";
  msg.payload = (void *)signup;
  msg.len = strlen(signup);
  msg.key = "u1";
  msg.offset = 2;
  assert_int_equal(sr_ingest_message(ing, &msg), 0);
  assert_int_equal(sr_ingest_rejected(ing, SR_REASON_SKIPPED_TYPE), 1);
  assert_int_equal(sr_model_events_applied(fx->mdl), 1);

  fx->ing = saved;
  sr_ingest_free(ing);
}

/* Decoding alone (check-input's path) needs no model, learns nothing and
 * counts nothing, and gives the event or the reason. */
static void test_decode_without_a_model(void **state) {
  fixture_t *fx = *state;
  char err[256] = "", why[256] = "";
  sr_ingest_t *ing = sr_ingest_new(&fx->cfg, NULL, NULL, NULL, err, sizeof err);
  assert_non_null(ing);
  sr_ingest_set_time(ing, NOW_MS, 0);
  const char *json = "{\"user_id\":\"u1\",\"item_id\":\"i9\","
                     "\"type\":\"CLICK\",\"timestamp_ms\":1700000000000}";
  rd_kafka_message_t msg;
  memset(&msg, 0, sizeof msg);
  msg.rkt = fx->rkt;
  msg.payload = (void *)json;
  msg.len = strlen(json);
  sr_event_t ev;
  int64_t schema_id;
  assert_int_equal(
      sr_ingest_decode(ing, &msg, &ev, &schema_id, why, sizeof why),
      SR_REASON_OK);
  assert_string_equal(ev.user_id, "u1");
  assert_string_equal(ev.item_id, "i9");
  assert_int_equal(ev.type, SR_EV_CLICK);
  assert_int_equal(ev.timestamp_ms, 1700000000000LL);
  assert_int_equal(schema_id, -1);

  msg.payload = NULL;
  msg.len = 0;
  assert_int_equal(
      sr_ingest_decode(ing, &msg, &ev, &schema_id, why, sizeof why),
      SR_REASON_TOMBSTONE);
  assert_non_null(strstr(why, "tombstone"));
  assert_int_equal(sr_ingest_rejected(ing, SR_REASON_TOMBSTONE), 0);
  sr_ingest_free(ing);
}

static sr_event_t event_of(const char *user, const char *item) {
  sr_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.user_len = (uint16_t)snprintf(ev.user_id, sizeof ev.user_id, "%s", user);
  ev.item_len = (uint16_t)snprintf(ev.item_id, sizeof ev.item_id, "%s", item);
  ev.type = SR_EV_CLICK;
  ev.value = 1;
  ev.timestamp_ms = NOW_MS;
  return ev;
}

/* Protobuf framed for the Schema Registry is unwrapped in auto: its index
 * list with the single-0 shortcut and in full; a broken header is a
 * decode error. */
static void test_framed_protobuf(void **state) {
  fixture_t *fx = *state;
  sr_event_t ev = event_of("u1", "i1");
  const int32_t path[] = {0};
  sr_buf_t buf = {0};
  assert_int_equal(sr_frame_write(&buf, SR_FRAME_PROTO, 7, NULL, 0), 0);
  assert_int_equal(sr_event_encode_proto(&ev, &buf), 0);
  assert_int_equal(feed(fx, buf.data, buf.len, 0), 0);
  buf.len = 0;
  assert_int_equal(sr_frame_write(&buf, SR_FRAME_PROTO, 7, path, 1), 0);
  buf.data[5] = 2; /* the list [0] spelled out: count 1, index 0 */
  assert_int_equal(sr_buf_append(&buf, "", 1), 0);
  assert_int_equal(sr_event_encode_proto(&ev, &buf), 0);
  assert_int_equal(feed(fx, buf.data, buf.len, 1), 0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 2);
  const unsigned char broken[] = {0, 0, 0, 0, 7, 0x7F};
  assert_int_equal(feed(fx, broken, sizeof broken, 2), 0);
  assert_int_equal(sr_ingest_rejected(fx->ing, SR_REASON_DECODE), 1);
  sr_buf_free(&buf);
}

/* kafka.input_format avro reads framed records of the schema file; a
 * bare one is refused in input.framing auto and read in none. */
static void test_avro_input(void **state) {
  fixture_t *fx = *state;
  char path[] = "/tmp/sr_ingest_avsc_XXXXXX", err[256] = "";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_true(
      write(fd, sr_avro_default_schema, strlen(sr_avro_default_schema)) > 0);
  close(fd);
  sr_config_t cfg = fx->cfg;
  assert_int_equal(
      sr_config_set(&cfg, "kafka.input_format", "avro", err, sizeof err),
      SR_OK);
  assert_int_equal(
      sr_config_set(&cfg, "input.avro.schema_file", path, err, sizeof err),
      SR_OK);
  assert_int_equal(sr_config_check(&cfg, false, err, sizeof err), SR_OK);
  sr_ingest_t *ing = sr_ingest_new(&cfg, fx->mdl, NULL, NULL, err, sizeof err);
  assert_non_null(ing);
  sr_ingest_set_time(ing, NOW_MS, 1);
  sr_ingest_t *saved = fx->ing;
  fx->ing = ing;

  sr_mapping_spec_t native = {.prefix = "input."};
  sr_avro_writer_t *wr =
      sr_avro_writer_new(sr_avro_default_schema, strlen(sr_avro_default_schema),
                         &native, err, sizeof err);
  assert_non_null(wr);
  sr_event_t ev = event_of("u1", "i1");
  sr_buf_t buf = {0}, bare = {0};
  assert_int_equal(sr_frame_write(&buf, SR_FRAME_PLAIN, 3, NULL, 0), 0);
  assert_int_equal(sr_avro_encode(wr, &ev, &buf, err, sizeof err), 0);
  assert_int_equal(sr_avro_encode(wr, &ev, &bare, err, sizeof err), 0);
  assert_int_equal(feed(fx, buf.data, buf.len, 0), 0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 1);
  assert_true(sr_model_find_user(fx->mdl, "u1", 2) >= 0);
  assert_int_equal(feed(fx, bare.data, bare.len, 1), 0);
  assert_int_equal(sr_ingest_rejected(ing, SR_REASON_DECODE), 1);
  sr_ingest_free(ing);

  assert_int_equal(
      sr_config_set(&cfg, "input.framing", "none", err, sizeof err), SR_OK);
  ing = sr_ingest_new(&cfg, fx->mdl, NULL, NULL, err, sizeof err);
  assert_non_null(ing);
  fx->ing = ing;
  assert_int_equal(feed(fx, bare.data, bare.len, 2), 0);
  assert_int_equal(sr_model_events_applied(fx->mdl), 2);
  assert_int_equal(total_rejected(fx), 0);

  fx->ing = saved;
  sr_ingest_free(ing);
  sr_avro_writer_free(wr);
  sr_buf_free(&buf);
  sr_buf_free(&bare);
  unlink(path);
}

#define TEST(fn)                                                               \
  cmocka_unit_test_setup_teardown(fn, ingest_setup, ingest_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_valid_json_and_proto_are_learned),
      TEST(test_invalid_counted_by_reason_and_not_learned),
      TEST(test_forced_format_rejects_the_other),
      TEST(test_mapping_reads_json),
      TEST(test_decode_without_a_model),
      TEST(test_framed_protobuf),
      TEST(test_avro_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
