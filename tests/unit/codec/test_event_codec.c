/* Event codec: round trips in both formats, the proto3 JSON mapping, and
 * every rejection rule with its reason and a message naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support.h"

#include "codec/event_codec.h"
#include "codec/reason.h"
#include "util/buf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static sr_event_t make_event(const char *user, const char *item,
                             sr_event_type_t type, float value, int64_t ts) {
  return event_for(user, item, type, value, ts);
}

static void assert_same_event(const sr_event_t *a, const sr_event_t *b) {
  assert_string_equal(a->user_id, b->user_id);
  assert_string_equal(a->item_id, b->item_id);
  assert_int_equal(a->user_len, b->user_len);
  assert_int_equal(a->item_len, b->item_len);
  assert_int_equal(a->type, b->type);
  assert_true(a->value == b->value);
  assert_int_equal(a->timestamp_ms, b->timestamp_ms);
}

/* Appends a protobuf varint; the tests build odd messages by hand. */
static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  do {
    p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

static size_t put_string(uint8_t *p, int field, const char *s, size_t len) {
  size_t n = put_varint(p, (uint64_t)field << 3 | 2);
  n += put_varint(p + n, len);
  memcpy(p + n, s, len);
  return n + len;
}

/* A protobuf Event with explicit id bytes, type and value bits. */
static size_t proto_event(uint8_t *p, const char *user, size_t ulen,
                          const char *item, size_t ilen, int64_t type,
                          float value, int64_t ts) {
  size_t n = put_string(p, 1, user, ulen);
  n += put_string(p + n, 2, item, ilen);
  n += put_varint(p + n, 3 << 3 | 0);
  n += put_varint(p + n, (uint64_t)type);
  p[n++] = 4 << 3 | 5;
  memcpy(p + n, &value, 4); /* little-endian host, as protobuf's fixed32 */
  n += 4;
  n += put_varint(p + n, 5 << 3 | 0);
  n += put_varint(p + n, (uint64_t)ts);
  return n;
}

static sr_reason_t decode_str(const char *json, const sr_event_limits_t *lim,
                              sr_event_t *ev, char *err, size_t errlen) {
  return sr_event_decode(json, strlen(json), SR_WIRE_JSON, lim, ev, err,
                         errlen);
}

static void test_proto_round_trip(void **state) {
  (void)state;
  sr_event_t in = make_event("user-1", "item-\xc3\xa9", SR_EV_PURCHASE, 2.5f,
                             1700000000123LL);
  sr_event_t out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_event_encode_proto(&in, &buf), 0);
  assert_int_equal(sr_event_decode(buf.data, buf.len, SR_WIRE_PROTO, NULL, &out,
                                   err, sizeof err),
                   SR_REASON_OK);
  assert_same_event(&in, &out);
  memset(&out, 0, sizeof out);
  assert_int_equal(sr_event_decode(buf.data, buf.len, SR_WIRE_AUTO, NULL, &out,
                                   err, sizeof err),
                   SR_REASON_OK);
  assert_same_event(&in, &out);
  sr_buf_free(&buf);
}

static void test_empty_event_encodes_to_nothing(void **state) {
  (void)state;
  sr_event_t none;
  memset(&none, 0, sizeof none);
  sr_buf_t buf = {0};
  char err[256];
  sr_event_t out;
  assert_int_equal(sr_event_encode_proto(&none, &buf), 0);
  assert_int_equal(buf.len, 0);
  assert_int_equal(sr_event_decode(buf.data, buf.len, SR_WIRE_PROTO, NULL, &out,
                                   err, sizeof err),
                   SR_REASON_EMPTY_ID);
  sr_buf_free(&buf);
}

static void test_json_round_trip(void **state) {
  (void)state;
  sr_event_t in = make_event("u \"quoted\" \\ back\tslash", "item/\xe2\x82\xac",
                             SR_EV_ADD_TO_CART, -0.125f, -42);
  sr_event_t out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_event_encode_json(&in, &buf), 0);
  assert_int_equal(sr_buf_append(&buf, "", 1), 0);
  assert_non_null(strstr(buf.data, "\"type\":\"ADD_TO_CART\""));
  assert_non_null(strstr(buf.data, "\"user_id\":"));
  assert_non_null(strstr(buf.data, "\"timestamp_ms\":-42"));
  assert_int_equal(decode_str(buf.data, NULL, &out, err, sizeof err),
                   SR_REASON_OK);
  assert_same_event(&in, &out);
  assert_int_equal(sr_event_decode(buf.data, buf.len - 1, SR_WIRE_AUTO, NULL,
                                   &out, err, sizeof err),
                   SR_REASON_OK);
  assert_same_event(&in, &out);
  sr_buf_free(&buf);
}

static void test_json_float_round_trip(void **state) {
  (void)state;
  const float values[] = {0.1f, 1e-30f, 3.4028235e38f, -7.0f, 1.0f / 3.0f};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    sr_event_t in = make_event("u", "i", SR_EV_RATING, values[i], 1);
    sr_event_t out;
    sr_buf_t buf = {0};
    char err[256];
    assert_int_equal(sr_event_encode_json(&in, &buf), 0);
    assert_int_equal(sr_event_decode(buf.data, buf.len, SR_WIRE_JSON, NULL,
                                     &out, err, sizeof err),
                     SR_REASON_OK);
    assert_true(out.value == values[i]);
    sr_buf_free(&buf);
  }
}

static void test_json_invalid_utf8_is_replaced(void **state) {
  (void)state;
  sr_event_t in = make_event("bad\xff", "ctl\x01", SR_EV_VIEW, 1, 1);
  sr_buf_t buf = {0};
  assert_int_equal(sr_event_encode_json(&in, &buf), 0);
  json_error_t jerr;
  json_t *root = json_loadb(buf.data, buf.len, 0, &jerr);
  assert_non_null(root);
  assert_string_equal(json_string_value(json_object_get(root, "user_id")),
                      "bad\xef\xbf\xbd");
  assert_string_equal(json_string_value(json_object_get(root, "item_id")),
                      "ctl\x01");
  json_decref(root);
  sr_buf_free(&buf);
}

static void test_json_camel_case(void **state) {
  (void)state;
  sr_event_t ev;
  char err[256];
  assert_int_equal(decode_str("{\"userId\":\"u7\",\"itemId\":\"i9\","
                              "\"type\":\"LIKE\",\"value\":1.5,"
                              "\"timestampMs\":\"1700000000000\"}",
                              NULL, &ev, err, sizeof err),
                   SR_REASON_OK);
  assert_string_equal(ev.user_id, "u7");
  assert_string_equal(ev.item_id, "i9");
  assert_int_equal(ev.type, SR_EV_LIKE);
  assert_true(ev.value == 1.5f);
  assert_int_equal(ev.timestamp_ms, 1700000000000LL);
}

static void test_json_enum_forms(void **state) {
  (void)state;
  static const struct {
    const char *type;
    sr_event_type_t want;
  } cases[] = {
      {"3", SR_EV_ADD_TO_CART},
      {"\"ADD_TO_CART\"", SR_EV_ADD_TO_CART},
      {"\"add_to_cart\"", SR_EV_ADD_TO_CART},
      {"\"click\"", SR_EV_CLICK},
      {"\"Rating\"", SR_EV_RATING},
      {"6", SR_EV_DISLIKE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char json[256], err[256];
    sr_event_t ev;
    snprintf(json, sizeof json,
             "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":%s}",
             cases[i].type);
    assert_int_equal(decode_str(json, NULL, &ev, err, sizeof err),
                     SR_REASON_OK);
    assert_int_equal(ev.type, cases[i].want);
  }
}

static void test_json_int64_forms(void **state) {
  (void)state;
  static const struct {
    const char *ts;
    int64_t want;
  } cases[] = {
      {"\"9007199254740993\"", 9007199254740993LL},
      {"\"-5\"", -5},
      {"9223372036854775807", INT64_MAX},
      {"1.7e12", 1700000000000LL},
      {"null", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char json[256], err[256];
    sr_event_t ev;
    snprintf(json, sizeof json,
             "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
             "\"timestamp_ms\":%s}",
             cases[i].ts);
    assert_int_equal(decode_str(json, NULL, &ev, err, sizeof err),
                     SR_REASON_OK);
    assert_int_equal(ev.timestamp_ms, cases[i].want);
  }
}

static void test_json_value_string_and_unknown_fields(void **state) {
  (void)state;
  sr_event_t ev;
  char err[256];
  assert_int_equal(decode_str("{\"user_id\":\"u\",\"item_id\":\"i\","
                              "\"type\":\"VIEW\",\"value\":\"2.25\","
                              "\"extra\":{\"nested\":[1,2,3]},\"ip\":null}",
                              NULL, &ev, err, sizeof err),
                   SR_REASON_OK);
  assert_true(ev.value == 2.25f);
  assert_int_equal(ev.timestamp_ms, 0);
}

static void test_auto_detect(void **state) {
  (void)state;
  sr_event_t ev;
  char err[256];
  const char *json = " \r\n\t{\"user_id\":\"u\",\"item_id\":\"i\","
                     "\"type\":2}";
  assert_int_equal(sr_wire_detect(json, strlen(json)), SR_WIRE_JSON);
  assert_int_equal(sr_event_decode(json, strlen(json), SR_WIRE_AUTO, NULL, &ev,
                                   err, sizeof err),
                   SR_REASON_OK);
  assert_int_equal(ev.type, SR_EV_CLICK);
  uint8_t proto[64];
  size_t n = proto_event(proto, "u", 1, "i", 1, 2, 1.0f, 5);
  assert_int_equal(sr_wire_detect(proto, n), SR_WIRE_PROTO);
  assert_int_equal(
      sr_event_decode(proto, n, SR_WIRE_AUTO, NULL, &ev, err, sizeof err),
      SR_REASON_OK);
  assert_int_equal(ev.timestamp_ms, 5);
  /* Forcing JSON on protobuf bytes is a decode error, not a crash. */
  assert_int_equal(
      sr_event_decode(proto, n, SR_WIRE_JSON, NULL, &ev, err, sizeof err),
      SR_REASON_DECODE);
}

static void test_wire_fmt_parse(void **state) {
  (void)state;
  sr_wire_fmt_t fmt;
  assert_int_equal(sr_wire_fmt_parse("auto", &fmt), 0);
  assert_int_equal(fmt, SR_WIRE_AUTO);
  assert_int_equal(sr_wire_fmt_parse("protobuf", &fmt), 0);
  assert_int_equal(fmt, SR_WIRE_PROTO);
  assert_int_equal(sr_wire_fmt_parse("proto", &fmt), 0);
  assert_int_equal(sr_wire_fmt_parse("json", &fmt), 0);
  assert_int_equal(fmt, SR_WIRE_JSON);
  assert_int_equal(sr_wire_fmt_parse("xml", &fmt), -1);
}

typedef struct bad_json {
  const char *json;
  sr_reason_t reason;
  const char *field; /* must appear in the message */
} bad_json_t;

static const bad_json_t bad_json_cases[] = {
    {"{\"user_id\":", SR_REASON_DECODE, "json"},
    {"[1,2]", SR_REASON_DECODE, "object"},
    {"{\"user_id\":7,\"item_id\":\"i\",\"type\":1}", SR_REASON_DECODE,
     "user_id"},
    {"{\"user_id\":\"u\",\"itemId\":[],\"type\":1}", SR_REASON_DECODE,
     "item_id"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":true}", SR_REASON_DECODE,
     "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1.5}", SR_REASON_DECODE,
     "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":{}}",
     SR_REASON_DECODE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"inf\"}",
     SR_REASON_DECODE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":\"12x\"}",
     SR_REASON_DECODE, "timestamp_ms"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestampMs\":1.5}",
     SR_REASON_DECODE, "timestamp_ms"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":\"99999999999999999999\"}",
     SR_REASON_DECODE, "timestamp_ms"},
    {"{\"user_id\":\"u\\u0000x\",\"item_id\":\"i\",\"type\":1}",
     SR_REASON_DECODE, "user_id"},
    {"{\"user_id\":\"u\",\"item_id\":\"\\u0000\",\"type\":1}", SR_REASON_DECODE,
     "item_id"},
    {"{\"item_id\":\"i\",\"type\":1}", SR_REASON_EMPTY_ID, "user_id is empty"},
    {"{\"user_id\":null,\"item_id\":\"i\",\"type\":1}", SR_REASON_EMPTY_ID,
     "user_id is empty"},
    {"{\"user_id\":\"u\",\"item_id\":\"\",\"type\":1}", SR_REASON_EMPTY_ID,
     "item_id is empty"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"NaN\"}",
     SR_REASON_NON_FINITE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"value\":\"Infinity\"}",
     SR_REASON_NON_FINITE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"value\":\"-Infinity\"}",
     SR_REASON_NON_FINITE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":1e300}",
     SR_REASON_NON_FINITE, "value"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\"}", SR_REASON_UNKNOWN_TYPE, "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":0}", SR_REASON_UNKNOWN_TYPE,
     "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":99}",
     SR_REASON_UNKNOWN_TYPE, "type 99"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":-1}",
     SR_REASON_UNKNOWN_TYPE, "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"bogus\"}",
     SR_REASON_UNKNOWN_TYPE, "type \"bogus\""},
    {"{\"user_id\":\"u\",\"item_id\":\"i\","
     "\"type\":\"EVENT_TYPE_UNSPECIFIED\"}",
     SR_REASON_UNKNOWN_TYPE, "type"},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"click\\u0000x\"}",
     SR_REASON_UNKNOWN_TYPE, "type"},
};

static void test_json_bad_inputs(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_json_cases / sizeof bad_json_cases[0];
       i++) {
    const bad_json_t *c = &bad_json_cases[i];
    sr_event_t ev;
    char err[256] = "";
    sr_reason_t got = decode_str(c->json, NULL, &ev, err, sizeof err);
    if (got != c->reason || !strstr(err, c->field))
      fail_msg("case %zu %s: reason %s, message \"%s\"", i, c->json,
               sr_reason_name(got), err);
  }
}

static void test_id_length_limits(void **state) {
  (void)state;
  char id[301], json[512], err[256];
  sr_event_t ev;
  memset(id, 'x', 300);
  id[300] = '\0';
  snprintf(json, sizeof json,
           "{\"user_id\":\"u\",\"item_id\":\"%s\",\"type\":1}", id);
  assert_int_equal(decode_str(json, NULL, &ev, err, sizeof err),
                   SR_REASON_ID_TOO_LONG);
  assert_string_equal(err, "item_id is 300 bytes, limit 256");
  id[256] = '\0'; /* exactly the limit is fine */
  snprintf(json, sizeof json,
           "{\"user_id\":\"%s\",\"item_id\":\"i\",\"type\":1}", id);
  assert_int_equal(decode_str(json, NULL, &ev, err, sizeof err), SR_REASON_OK);
  assert_int_equal(ev.user_len, 256);
  sr_event_limits_t lim = {.max_id_len = 10};
  assert_int_equal(decode_str(json, &lim, &ev, err, sizeof err),
                   SR_REASON_ID_TOO_LONG);
  assert_string_equal(err, "user_id is 256 bytes, limit 10");
  /* A limit over SR_ID_MAX cannot widen what sr_event_t holds. */
  lim.max_id_len = 1000;
  snprintf(json, sizeof json,
           "{\"user_id\":\"%sx\",\"item_id\":\"i\",\"type\":1}", id);
  assert_int_equal(decode_str(json, &lim, &ev, err, sizeof err),
                   SR_REASON_ID_TOO_LONG);
  assert_non_null(strstr(err, "user_id is 257 bytes"));
}

static void test_future_timestamp(void **state) {
  (void)state;
  sr_event_limits_t lim = {.now_ms = 1000000, .max_future_ms = 500};
  const char *ok = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
                   "\"timestamp_ms\":1000500}";
  const char *late = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
                     "\"timestamp_ms\":1000501}";
  sr_event_t ev;
  char err[256];
  assert_int_equal(decode_str(ok, &lim, &ev, err, sizeof err), SR_REASON_OK);
  assert_int_equal(decode_str(late, &lim, &ev, err, sizeof err),
                   SR_REASON_FUTURE_TS);
  assert_non_null(strstr(err, "timestamp_ms"));
  lim.max_future_ms = 0; /* disabled */
  assert_int_equal(decode_str(late, &lim, &ev, err, sizeof err), SR_REASON_OK);
  /* The codec reads no clock: an event a day ahead of the caller's time is
   * rejected, and without a time (now_ms 0) there is no future check. */
  int64_t now = 1700000000000LL;
  sr_event_limits_t wall = {.now_ms = now, .max_future_ms = 60000};
  char json[256];
  snprintf(json, sizeof json,
           "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
           "\"timestamp_ms\":%lld}",
           (long long)(now + 86400000));
  assert_int_equal(decode_str(json, &wall, &ev, err, sizeof err),
                   SR_REASON_FUTURE_TS);
  wall.now_ms = 0; /* not the wall clock: an event in 2100 passes */
  const char *y2100 = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
                      "\"timestamp_ms\":4102444800000}";
  assert_int_equal(decode_str(y2100, &wall, &ev, err, sizeof err),
                   SR_REASON_OK);
  /* A skew that would overflow now + skew saturates instead. */
  sr_event_limits_t huge = {.now_ms = 10, .max_future_ms = INT64_MAX};
  snprintf(json, sizeof json,
           "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
           "\"timestamp_ms\":%lld}",
           (long long)INT64_MAX);
  assert_int_equal(decode_str(json, &huge, &ev, err, sizeof err), SR_REASON_OK);
}

static void test_too_large(void **state) {
  (void)state;
  sr_event_limits_t lim = {.max_message_bytes = 40};
  const char *json = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
                     "\"value\":1}";
  sr_event_t ev;
  char err[256], want[64];
  assert_int_equal(decode_str(json, &lim, &ev, err, sizeof err),
                   SR_REASON_TOO_LARGE);
  snprintf(want, sizeof want, "message is %zu bytes, limit 40", strlen(json));
  assert_string_equal(err, want);
  uint8_t proto[600];
  char id[300];
  memset(id, 'p', sizeof id);
  size_t n = proto_event(proto, id, 300, "i", 1, 1, 1, 1);
  assert_int_equal(
      sr_event_decode(proto, n, SR_WIRE_PROTO, &lim, &ev, err, sizeof err),
      SR_REASON_TOO_LARGE);
  lim.max_message_bytes = 0;
  assert_int_equal(decode_str(json, &lim, &ev, err, sizeof err), SR_REASON_OK);
}

static void expect_proto(const uint8_t *p, size_t n, sr_reason_t reason,
                         const char *field) {
  sr_event_t ev;
  char err[256] = "";
  sr_reason_t got =
      sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err);
  if (got != reason || !strstr(err, field))
    fail_msg("want %s naming %s; got %s: \"%s\"", sr_reason_name(reason), field,
             sr_reason_name(got), err);
}

static void test_proto_bad_inputs(void **state) {
  (void)state;
  uint8_t p[1024];
  char id[300];
  memset(id, 'z', sizeof id);
  size_t n;
  n = proto_event(p, "", 0, "i", 1, 1, 1, 1);
  expect_proto(p, n, SR_REASON_EMPTY_ID, "user_id is empty");
  n = proto_event(p, "u", 1, "", 0, 1, 1, 1);
  expect_proto(p, n, SR_REASON_EMPTY_ID, "item_id is empty");
  expect_proto((const uint8_t *)"", 0, SR_REASON_EMPTY_ID, "user_id");
  n = proto_event(p, "u", 1, id, 300, 1, 1, 1);
  expect_proto(p, n, SR_REASON_ID_TOO_LONG, "item_id is 300 bytes, limit 256");
  n = proto_event(p, "u\0v", 3, "i", 1, 1, 1, 1);
  expect_proto(p, n, SR_REASON_DECODE, "user_id");
  n = proto_event(p, "u", 1, "i\0", 2, 1, 1, 1);
  expect_proto(p, n, SR_REASON_DECODE, "item_id");
  n = proto_event(p, "u", 1, "i", 1, 1, NAN, 1);
  expect_proto(p, n, SR_REASON_NON_FINITE, "value is NaN");
  n = proto_event(p, "u", 1, "i", 1, 1, -INFINITY, 1);
  expect_proto(p, n, SR_REASON_NON_FINITE, "value is infinite");
  n = proto_event(p, "u", 1, "i", 1, 0, 1, 1);
  expect_proto(p, n, SR_REASON_UNKNOWN_TYPE, "type");
  n = proto_event(p, "u", 1, "i", 1, 99, 1, 1);
  expect_proto(p, n, SR_REASON_UNKNOWN_TYPE, "type 99");
  n = proto_event(p, "u", 1, "i", 1, -3, 1, 1);
  expect_proto(p, n, SR_REASON_UNKNOWN_TYPE, "type");
  /* Framing errors name the field they hit. */
  n = proto_event(p, "user", 4, "i", 1, 1, 1, 1);
  expect_proto(p, 4, SR_REASON_DECODE, "user_id");
  expect_proto(p, n - 1, SR_REASON_DECODE, "timestamp_ms");
  static const uint8_t wrong_wire[] = {0x0a, 1, 'u', 0x12, 1, 'i', 0x20, 1};
  expect_proto(wrong_wire, sizeof wrong_wire, SR_REASON_DECODE, "value");
  static const uint8_t group[] = {0x0a, 1, 'u', 0x3b, 0x3c};
  expect_proto(group, sizeof group, SR_REASON_DECODE, "field 7");
  static const uint8_t field0[] = {0x02, 0x00};
  expect_proto(field0, sizeof field0, SR_REASON_DECODE, "field");
  static const uint8_t junk[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  expect_proto(junk, sizeof junk - 1, SR_REASON_DECODE, "tag");
}

static void test_proto_unknown_fields_and_last_wins(void **state) {
  (void)state;
  uint8_t p[256];
  size_t n = proto_event(p, "first", 5, "i", 1, 2, 1, 1);
  n += put_string(p + n, 9, "ignored", 7);
  n += put_varint(p + n, 10 << 3 | 0);
  n += put_varint(p + n, 12345);
  n += put_string(p + n, 1, "second", 6);
  sr_event_t ev;
  char err[256];
  assert_int_equal(
      sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err),
      SR_REASON_OK);
  assert_string_equal(ev.user_id, "second");
  assert_int_equal(ev.user_len, 6);
  /* A later occurrence that holds a NUL is caught, not truncated. */
  n += put_string(p + n, 1, "a\0b", 3);
  assert_int_equal(
      sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err),
      SR_REASON_DECODE);
}

static void test_long_ids_use_the_heap(void **state) {
  (void)state;
  /* Ids larger than the decoder's stack arena must still decode. */
  uint8_t p[2048];
  char id[900];
  memset(id, 'h', sizeof id);
  size_t n = proto_event(p, id, 250, id, 250, 1, 1, 1);
  n += put_string(p + n, 20, id, sizeof id);
  sr_event_t ev;
  char err[256];
  assert_int_equal(
      sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err),
      SR_REASON_OK);
  assert_int_equal(ev.item_len, 250);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proto_round_trip),
      cmocka_unit_test(test_empty_event_encodes_to_nothing),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_json_float_round_trip),
      cmocka_unit_test(test_json_invalid_utf8_is_replaced),
      cmocka_unit_test(test_json_camel_case),
      cmocka_unit_test(test_json_enum_forms),
      cmocka_unit_test(test_json_int64_forms),
      cmocka_unit_test(test_json_value_string_and_unknown_fields),
      cmocka_unit_test(test_auto_detect),
      cmocka_unit_test(test_wire_fmt_parse),
      cmocka_unit_test(test_json_bad_inputs),
      cmocka_unit_test(test_id_length_limits),
      cmocka_unit_test(test_future_timestamp),
      cmocka_unit_test(test_too_large),
      cmocka_unit_test(test_proto_bad_inputs),
      cmocka_unit_test(test_proto_unknown_fields_and_last_wins),
      cmocka_unit_test(test_long_ids_use_the_heap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
