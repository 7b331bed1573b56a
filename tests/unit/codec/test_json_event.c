/* JSON event scanner: which messages it reads itself and which it leaves to
 * jansson, and that either way a message decodes to the same event, reason
 * and message text as with jansson alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/json_event.h"
#include "codec/reason.h"
#include "util/buf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message; len 0 means strlen(json), so that cases may hold NUL bytes. */
typedef struct json_case {
  const char *json;
  size_t len;
} json_case_t;

/* A case whose literal holds NUL bytes. */
#define WITH_NUL(lit)                                                          \
  { lit, sizeof lit - 1 }

static size_t case_len(const json_case_t *c) {
  return c->len ? c->len : strlen(c->json);
}

static void assert_same_id(const char *a, size_t alen, const char *b,
                           size_t blen) {
  assert_true((a == NULL) == (b == NULL));
  assert_int_equal(alen, blen);
  if (a)
    assert_memory_equal(a, b, alen);
}

/* Fields are compared bit for bit: the scanner must compute the same
 * doubles as jansson, not merely ones that round to the same float. */
static void assert_same_fields(const sr_event_fields_t *a,
                               const sr_event_fields_t *b) {
  assert_same_id(a->user_id, a->user_len, b->user_id, b->user_len);
  assert_same_id(a->item_id, a->item_len, b->item_id, b->item_len);
  assert_int_equal(a->type, b->type);
  assert_null(a->type_name);
  assert_null(b->type_name);
  assert_memory_equal(&a->value, &b->value, sizeof a->value);
  assert_int_equal(a->timestamp_ms, b->timestamp_ms);
}

/* What decoding gives with the jansson path alone: the reference. */
static sr_reason_t decode_jansson(const char *p, size_t len,
                                  const sr_event_limits_t *lim, sr_event_t *ev,
                                  char *err, size_t errlen) {
  sr_event_fields_t fld;
  json_t *root;
  sr_reason_t reason =
      sr_json_event_jansson_fields(p, len, &root, &fld, err, errlen);
  if (!reason)
    reason = sr_event_validate(&fld, lim, ev, err, errlen);
  json_decref(root);
  return reason;
}

/* Decodes c through sr_event_decode and through jansson alone, under lim,
 * and requires the same reason, message and event. */
static void assert_same_decode(const json_case_t *c,
                               const sr_event_limits_t *lim) {
  size_t len = case_len(c);
  sr_event_t got, want;
  char got_err[256] = "", want_err[256] = "";
  memset(&got, 0, sizeof got);
  memset(&want, 0, sizeof want);
  sr_reason_t got_reason = sr_event_decode(c->json, len, SR_WIRE_JSON, lim,
                                           &got, got_err, sizeof got_err);
  sr_reason_t want_reason =
      decode_jansson(c->json, len, lim, &want, want_err, sizeof want_err);
  if (got_reason != want_reason || strcmp(got_err, want_err) != 0)
    fail_msg("%.*s: %s \"%s\", jansson alone %s \"%s\"", (int)len, c->json,
             sr_reason_name(got_reason), got_err, sr_reason_name(want_reason),
             want_err);
  if (got_reason == SR_REASON_OK) {
    assert_string_equal(got.user_id, want.user_id);
    assert_string_equal(got.item_id, want.item_id);
    assert_int_equal(got.user_len, want.user_len);
    assert_int_equal(got.item_len, want.item_len);
    assert_int_equal(got.type, want.type);
    assert_memory_equal(&got.value, &want.value, sizeof got.value);
    assert_int_equal(got.timestamp_ms, want.timestamp_ms);
  }
}

/* Runs a case: the scanner reads it (or gives up) as want_scan says; when
 * it reads it, its fields equal jansson's; the decoded outcome is jansson's
 * with and without limits. */
static void check_case(const json_case_t *c, int want_scan) {
  size_t len = case_len(c);
  sr_event_fields_t fast;
  int took = sr_json_event_scan(c->json, len, &fast);
  if (took != want_scan)
    fail_msg("%.*s: scanner %s", (int)len, c->json,
             took ? "read it" : "gave up");
  if (took) {
    sr_event_fields_t slow;
    json_t *root;
    char err[256] = "";
    assert_int_equal(sr_json_event_jansson_fields(c->json, len, &root, &slow,
                                                  err, sizeof err),
                     SR_REASON_OK);
    assert_same_fields(&fast, &slow);
    /* Ids point into the message itself, which outlives the decode. */
    if (fast.user_id)
      assert_true(fast.user_id >= c->json &&
                  fast.user_id + fast.user_len <= c->json + len);
    json_decref(root);
  }
  sr_event_limits_t lim = {
      .max_id_len = 8, .now_ms = 1700000000000LL, .max_future_ms = 1000};
  assert_same_decode(c, NULL);
  assert_same_decode(c, &lim);
}

static const json_case_t scanned[] = {
    {"{\"user_id\":\"u54725\",\"item_id\":\"i5055\",\"type\":\"DISLIKE\","
     "\"value\":0,\"timestamp_ms\":1700000000000}",
     0},
    {"{\"userId\":\"u7\",\"itemId\":\"i9\",\"type\":\"add_to_cart\","
     "\"value\":1.5,\"timestampMs\":1700000000001}",
     0},
    {" \t\r\n{ \"user_id\" :\n\"u\" ,\t\"item_id\"\r: \"i\" , \"type\" : 2 "
     ", \"value\" : -3 }\n\r\t ",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"Rating\","
     "\"value\":\"2.25\",\"timestamp_ms\":\"1700000000000\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"NaN\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"Infinity\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"value\":\"-Infinity\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"-1e-3\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"timestamp_ms\":\"-5\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":\"9223372036854775807\"}",
     0},
    /* null is absent, and a snake_case null hides the camelCase member. */
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":null,\"value\":null,"
     "\"timestamp_ms\":null}",
     0},
    {"{\"user_id\":null,\"userId\":\"u\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"userId\":\"u\",\"user_id\":null,\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"snake\",\"userId\":\"camel\",\"itemId\":\"i\","
     "\"item_id\":\"j\",\"type\":1,\"timestampMs\":1,\"timestamp_ms\":2}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"timestampMs\":null,"
     "\"timestamp_ms\":null}",
     0},
    /* Reals go through strtod as in jansson, underflow included. */
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":4.5}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":-0.0}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":-0}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":1e-400}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,"
     "\"value\":0.1000000000000000055511151231257827}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":1E+2}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,\"value\":1e300}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,"
     "\"value\":3.4028235e38}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":5,"
     "\"value\":123456789012345678}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"timestamp_ms\":1.7e12}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":-123456789012345678}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":1700000002000}",
     0},
    /* Fields the validation rejects: the scanner reads them, the same
     * validation runs. */
    {"{}", 0},
    {"{\"user_id\":\"\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":0}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":99}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":-1}", 0},
    {"{\"user_id\":\"a-rather-long-user\",\"item_id\":\"i\",\"type\":1}", 0},
    /* Unknown members of plain values are skipped. */
    {"{\"ip\":\"10.0.0.1\",\"user_id\":\"u\",\"n\":-12,\"item_id\":\"i\","
     "\"r\":2.5e-3,\"type\":1,\"z\":null,\"n\":7,\"\":\"\"}",
     0},
};

static const json_case_t given_up[] = {
    /* Escapes, and bytes jansson validates. */
    {"{\"user_id\":\"u\\\"q\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"\\u0041\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"a\\u0000b\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user\\u005fid\":\"u\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"click\\u0000x\"}", 0},
    {"{\"user_id\":\"\xc3\xa9t\xc3\xa9\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"\xff\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"\xc3\xa9\":1,\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"a\tb\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"a\x01\",\"item_id\":\"i\",\"type\":1}", 0},
    WITH_NUL("{\"user_id\":\"a\0b\",\"item_id\":\"i\",\"type\":1}"),
    /* Repeated members: jansson keeps the last. */
    {"{\"user_id\":\"a\",\"user_id\":\"b\",\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"a\",\"item_id\":\"i\",\"type\":1,\"type\":\"VIEW\"}", 0},
    {"{\"user_id\":\"a\",\"item_id\":\"i\",\"type\":1,\"value\":null,"
     "\"value\":2}",
     0},
    /* Nesting and booleans. */
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"x\":{}}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"x\":[1,2]}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"x\":true}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":false}", 0},
    {"{\"user_id\":{\"id\":\"u\"},\"item_id\":\"i\",\"type\":1}", 0},
    /* Numbers it cannot be sure of, or that jansson refuses. */
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":1234567890123456789}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":9223372036854775808}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":-9223372036854775809}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":1e999}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"x\":-1e999}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":"
     "0.1234567890123456789012345678901234567890123456789012345678901234}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":"
     "\"0.1234567890123456789012345678901234567890123456789012345678901234\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":9.3e18}",
     0},
    /* Fields the jansson path rejects before validation. */
    {"{\"user_id\":7,\"item_id\":\"i\",\"type\":1}", 0},
    {"{\"user_id\":\"u\",\"itemId\":2.5,\"type\":1}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1.5}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1e0}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"bogus\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\","
     "\"type\":\"EVENT_TYPE_UNSPECIFIED\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"1\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"inf\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\" 1\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"value\":\"\"}", 0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":\"12x\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,"
     "\"timestamp_ms\":\"99999999999999999999\"}",
     0},
    {"{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1,\"timestampMs\":1.5}", 0},
    /* Not JSON, or not an object. */
    {"", 0},
    {"  \n", 0},
    {"[1,2]", 0},
    {"\"u\"", 0},
    {"17", 0},
    {"null", 0},
    {"{", 0},
    {"{\"user_id\":", 0},
    {"{\"user_id\":\"u", 0},
    {"{\"user_id\" \"u\"}", 0},
    {"{\"user_id\":\"u\",}", 0},
    {"{,}", 0},
    {"{\"user_id\":\"u\"}x", 0},
    {"{\"user_id\":\"u\"} {}", 0},
    WITH_NUL("{\"user_id\":\"u\"}\0"),
    {"\xef\xbb\xbf{\"user_id\":\"u\"}", 0},
    {"{'user_id':'u'}", 0},
    {"{\"value\":01}", 0},
    {"{\"value\":-}", 0},
    {"{\"value\":1.}", 0},
    {"{\"value\":.5}", 0},
    {"{\"value\":+1}", 0},
    {"{\"value\":1e}", 0},
    {"{\"value\":1e+}", 0},
    {"{\"value\":0x10}", 0},
    {"{\"value\":NaN}", 0},
    {"{\"value\":nul}", 0},
    {"{\"value\":nullx}", 0},
    {"{\"value\":1x}", 0},
    {"{\"value\":1 2}", 0},
};

static void test_scanner_reads_flat_events(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof scanned / sizeof scanned[0]; i++)
    check_case(&scanned[i], 1);
}

static void test_scanner_gives_up_on_the_rest(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof given_up / sizeof given_up[0]; i++)
    check_case(&given_up[i], 0);
}

/* Every prefix of an event is either a whole message the scanner reads
 * or one it leaves to jansson; neither reads past the end. */
static void test_truncated_events(void **state) {
  (void)state;
  static const char event[] =
      " {\"user_id\":\"u1\",\"itemId\":\"i2\",\"type\":\"VIEW\","
      "\"value\":-2.5e1,\"timestamp_ms\":\"1700000000000\",\"n\":null} ";
  for (size_t n = 1; n < sizeof event; n++) {
    json_case_t c = {event, n};
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, event, n);
    c.json = copy;
    sr_event_fields_t fld;
    int took = sr_json_event_scan(copy, n, &fld);
    check_case(&c, took);
    assert_int_equal(took, n >= sizeof event - 2);
    free(copy);
  }
}

static void test_decoded_event(void **state) {
  (void)state;
  const char *json = "{\"user_id\":\"u54725\",\"itemId\":\"i5055\","
                     "\"type\":\"purchase\",\"value\":2.5,"
                     "\"timestamp_ms\":1700000000000}";
  sr_event_fields_t fld;
  assert_int_equal(sr_json_event_scan(json, strlen(json), &fld), 1);
  assert_int_equal(fld.user_len, 6);
  assert_int_equal(fld.item_len, 5);
  assert_int_equal(fld.type, SR_EV_PURCHASE);
  assert_true(fld.value == 2.5);
  assert_int_equal(fld.timestamp_ms, 1700000000000LL);
  sr_event_t ev;
  char err[256];
  assert_int_equal(sr_event_decode(json, strlen(json), SR_WIRE_JSON, NULL, &ev,
                                   err, sizeof err),
                   SR_REASON_OK);
  assert_string_equal(ev.user_id, "u54725");
  assert_string_equal(ev.item_id, "i5055");
  assert_int_equal(ev.type, SR_EV_PURCHASE);
  assert_true(ev.value == 2.5f);
  assert_int_equal(ev.timestamp_ms, 1700000000000LL);
}

/* What the encoder writes, the scanner reads back. */
static void test_encoded_events_are_scanned(void **state) {
  (void)state;
  sr_event_t in;
  memset(&in, 0, sizeof in);
  snprintf(in.user_id, sizeof in.user_id, "user-1");
  snprintf(in.item_id, sizeof in.item_id, "item/9");
  in.user_len = 6;
  in.item_len = 6;
  const float values[] = {0, 1, -0.125f, 1e-30f, 3.4028235e38f, NAN};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    in.type = SR_EV_RATING;
    in.value = values[i];
    in.timestamp_ms = -42 + (int64_t)i;
    sr_buf_t buf = {0};
    assert_int_equal(sr_event_encode_json(&in, &buf), 0);
    sr_event_fields_t fld;
    assert_int_equal(sr_json_event_scan(buf.data, buf.len, &fld), 1);
    json_case_t c = {buf.data, buf.len};
    check_case(&c, 1);
    sr_buf_free(&buf);
  }
}

static void test_scalar_strings(void **state) {
  (void)state;
  int64_t i64 = 0;
  double d = 0;
  assert_int_equal(sr_json_event_int64_string("-9223372036854775808", &i64), 0);
  assert_true(i64 == INT64_MIN);
  assert_int_equal(sr_json_event_int64_string("+1", &i64), -1);
  assert_int_equal(sr_json_event_int64_string("1 ", &i64), -1);
  assert_int_equal(sr_json_event_int64_string("9223372036854775808", &i64), -1);
  assert_int_equal(sr_json_event_float_string("-Infinity", &d), 0);
  assert_true(isinf(d) && d < 0);
  assert_int_equal(sr_json_event_float_string("1e3", &d), 0);
  assert_true(d == 1000);
  assert_int_equal(sr_json_event_float_string("inf", &d), -1);
  assert_int_equal(sr_json_event_float_string("0x1p3", &d), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scanner_reads_flat_events),
      cmocka_unit_test(test_scanner_gives_up_on_the_rest),
      cmocka_unit_test(test_truncated_events),
      cmocka_unit_test(test_decoded_event),
      cmocka_unit_test(test_encoded_events_are_scanned),
      cmocka_unit_test(test_scalar_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
