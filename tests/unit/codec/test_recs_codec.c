/* Recommendations codec: round trips in protobuf and JSON, the JSON shape a
 * kcat user sees, and rejections that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "util/buf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static sr_rec_item_t sample_items[] = {
    {"item-1", 0.875f},
    {"it\"em\\2", -1.5f},
    {"\xe2\x82\xac", 1e-20f},
};

static sr_recs_t sample_recs(void) {
  sr_recs_t recs = {
      .user_id = "user-42",
      .items = sample_items,
      .n_items = 3,
      .generated_at_ms = 1700000000999LL,
      .event_timestamp_ms = -7,
      .model_version = UINT64_MAX - 1,
      .source = SR_SOURCE_POPULAR,
  };
  return recs;
}

static void assert_same_recs(const sr_recs_t *a, const sr_recs_t *b) {
  assert_string_equal(a->user_id, b->user_id);
  assert_int_equal(a->n_items, b->n_items);
  for (size_t i = 0; i < a->n_items; i++) {
    assert_string_equal(a->items[i].item_id, b->items[i].item_id);
    assert_true(a->items[i].score == b->items[i].score);
  }
  assert_int_equal(a->generated_at_ms, b->generated_at_ms);
  assert_int_equal(a->event_timestamp_ms, b->event_timestamp_ms);
  assert_true(a->model_version == b->model_version);
  assert_int_equal(a->source, b->source);
}

static void round_trip(int fmt, int decode_fmt) {
  sr_recs_t in = sample_recs(), out;
  sr_buf_t buf = {0};
  char err[256];
  int rc = fmt == SR_WIRE_JSON ? sr_recs_encode_json(&in, &buf)
                               : sr_recs_encode_proto(&in, &buf);
  assert_int_equal(rc, 0);
  assert_int_equal(
      sr_recs_decode(buf.data, buf.len, decode_fmt, &out, err, sizeof err),
      SR_OK);
  assert_same_recs(&in, &out);
  assert_non_null(out.owned_);
  sr_recs_clear(&out);
  assert_null(out.user_id);
  assert_null(out.owned_);
  sr_buf_free(&buf);
}

static void test_proto_round_trip(void **state) {
  (void)state;
  round_trip(SR_WIRE_PROTO, SR_WIRE_PROTO);
  round_trip(SR_WIRE_PROTO, SR_WIRE_AUTO);
}

static void test_json_round_trip(void **state) {
  (void)state;
  round_trip(SR_WIRE_JSON, SR_WIRE_JSON);
  round_trip(SR_WIRE_JSON, SR_WIRE_AUTO);
}

static void test_json_shape(void **state) {
  (void)state;
  sr_rec_item_t item = {"a", 0.5f};
  sr_recs_t in = {.user_id = "u",
                  .items = &item,
                  .n_items = 1,
                  .generated_at_ms = 5,
                  .event_timestamp_ms = 4,
                  .model_version = 3};
  sr_buf_t buf = {0};
  assert_int_equal(sr_recs_encode_json(&in, &buf), 0);
  assert_int_equal(sr_buf_append(&buf, "", 1), 0);
  assert_string_equal(buf.data,
                      "{\"user_id\":\"u\",\"items\":[{\"item_id\":\"a\","
                      "\"score\":0.5}],\"generated_at_ms\":\"5\","
                      "\"event_timestamp_ms\":\"4\",\"model_version\":\"3\","
                      "\"source\":\"PERSONAL\"}");
  sr_buf_free(&buf);
}

static void test_empty_list(void **state) {
  (void)state;
  sr_recs_t in = {.user_id = "lonely"}, out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_recs_encode_proto(&in, &buf), 0);
  assert_int_equal(
      sr_recs_decode(buf.data, buf.len, SR_WIRE_PROTO, &out, err, sizeof err),
      SR_OK);
  assert_string_equal(out.user_id, "lonely");
  assert_int_equal(out.n_items, 0);
  sr_recs_clear(&out);
  buf.len = 0;
  assert_int_equal(sr_recs_encode_json(&in, &buf), 0);
  assert_int_equal(
      sr_recs_decode(buf.data, buf.len, SR_WIRE_JSON, &out, err, sizeof err),
      SR_OK);
  assert_int_equal(out.n_items, 0);
  sr_recs_clear(&out);
  sr_buf_free(&buf);
}

static void test_all_defaults_encode_to_nothing(void **state) {
  (void)state;
  /* Found by fuzz_recs: packing zero bytes into a fresh buffer. */
  sr_recs_t none = {0}, out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_recs_encode_proto(&none, &buf), 0);
  assert_int_equal(buf.len, 0);
  assert_int_equal(
      sr_recs_decode(buf.data, buf.len, SR_WIRE_PROTO, &out, err, sizeof err),
      SR_OK);
  assert_string_equal(out.user_id, "");
  assert_int_equal(out.n_items, 0);
  sr_recs_clear(&out);
  sr_buf_free(&buf);
}

static void test_non_finite_scores(void **state) {
  (void)state;
  sr_rec_item_t items[] = {{"n", NAN}, {"p", INFINITY}, {"m", -INFINITY}};
  sr_recs_t in = {.user_id = "u", .items = items, .n_items = 3}, out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_recs_encode_json(&in, &buf), 0);
  assert_int_equal(
      sr_recs_decode(buf.data, buf.len, SR_WIRE_JSON, &out, err, sizeof err),
      SR_OK);
  assert_true(isnan(out.items[0].score));
  assert_true(isinf(out.items[1].score) && out.items[1].score > 0);
  assert_true(isinf(out.items[2].score) && out.items[2].score < 0);
  sr_recs_clear(&out);
  sr_buf_free(&buf);
}

static void test_json_input_forms(void **state) {
  (void)state;
  const char *json =
      "{\"userId\":\"u\",\"items\":[{\"itemId\":\"x\",\"score\":2},"
      "{\"item_id\":\"y\"}],\"generatedAtMs\":12,"
      "\"eventTimestampMs\":\"-3\",\"modelVersion\":\"18446744073709551615\","
      "\"source\":\"popular\",\"future_field\":[1]}";
  sr_recs_t out;
  char err[256];
  assert_int_equal(
      sr_recs_decode(json, strlen(json), SR_WIRE_AUTO, &out, err, sizeof err),
      SR_OK);
  assert_string_equal(out.user_id, "u");
  assert_int_equal(out.n_items, 2);
  assert_string_equal(out.items[0].item_id, "x");
  assert_true(out.items[0].score == 2.0f);
  assert_string_equal(out.items[1].item_id, "y");
  assert_true(out.items[1].score == 0.0f);
  assert_int_equal(out.generated_at_ms, 12);
  assert_int_equal(out.event_timestamp_ms, -3);
  assert_true(out.model_version == UINT64_MAX);
  assert_int_equal(out.source, SR_SOURCE_POPULAR);
  sr_recs_clear(&out);
  const char *num_source = "{\"user_id\":\"u\",\"source\":1}";
  assert_int_equal(sr_recs_decode(num_source, strlen(num_source), SR_WIRE_JSON,
                                  &out, err, sizeof err),
                   SR_OK);
  assert_int_equal(out.source, SR_SOURCE_POPULAR);
  sr_recs_clear(&out);
}

static void test_bad_inputs(void **state) {
  (void)state;
  static const struct {
    const char *data;
    const char *field;
  } cases[] = {
      {"{\"user_id\":1}", "user_id"},
      {"{\"user_id\":\"u\",\"items\":{}}", "items"},
      {"{\"user_id\":\"u\",\"items\":[1]}", "items[0]"},
      {"{\"items\":[{\"item_id\":\"a\"},{\"item_id\":2}]}", "items[1].item_id"},
      {"{\"items\":[{\"item_id\":\"a\",\"score\":\"x\"}]}", "items[0].score"},
      {"{\"items\":[{\"item_id\":\"a\",\"score\":1e300}]}", "items[0].score"},
      {"{\"generated_at_ms\":true}", "generated_at_ms"},
      {"{\"event_timestamp_ms\":\"1.5\"}", "event_timestamp_ms"},
      {"{\"model_version\":-1}", "model_version"},
      {"{\"model_version\":\"-1\"}", "model_version"},
      {"{\"source\":\"bogus\"}", "source"},
      {"{\"source\":7}", "source"},
      {"{\"user_id\":\"a\\u0000b\"}", "json"},
      {"{\"user_id\":", "json"},
      {"\x0a\x05"
       "ab",
       "protobuf"},
      {"\x30\x05", "source 5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sr_recs_t out;
    char err[256] = "";
    sr_err_t rc = sr_recs_decode(cases[i].data, strlen(cases[i].data),
                                 SR_WIRE_AUTO, &out, err, sizeof err);
    if (rc != SR_ERR_DECODE || !strstr(err, cases[i].field))
      fail_msg("case %zu: rc %d, message \"%s\"", i, rc, err);
    /* A failed decode leaves nothing to release, and clear stays safe. */
    assert_null(out.owned_);
    assert_null(out.items);
    sr_recs_clear(&out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proto_round_trip),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_json_shape),
      cmocka_unit_test(test_empty_list),
      cmocka_unit_test(test_all_defaults_encode_to_nothing),
      cmocka_unit_test(test_non_finite_scores),
      cmocka_unit_test(test_json_input_forms),
      cmocka_unit_test(test_bad_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
