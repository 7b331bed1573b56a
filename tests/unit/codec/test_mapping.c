/* Field mapping: every source form (paths with names and indices, the
 * Kafka key, timestamp and headers, a constant type), every timestamp
 * form, numeric ids, renamed types, each rejection reason with the path in
 * its message, and the mappings refused at start with their key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/mapping.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2023-11-14T22:13:20Z */
#define T0 1700000000000LL

typedef struct fixture {
  sr_mapping_spec_t spec;
  sr_mapping_t *map;
  sr_event_t ev;
  char why[256];
} fixture_t;

static const sr_type_alias_t platform_types[] = {
    {"page_view", SR_EV_VIEW},
    {"add_to_basket", SR_EV_ADD_TO_CART},
    {"order", SR_EV_PURCHASE},
};

/* A Segment-style track event's mapping. */
static sr_mapping_spec_t segment_spec(void) {
  return (sr_mapping_spec_t){
      .prefix = "input.",
      .fields = {"context.user.id", "properties.items[0].id", "event",
                 "properties.items[0].price", "timestamp"},
      .types = platform_types,
      .n_types = 3,
  };
}

static void compile(fixture_t *fx, const sr_mapping_spec_t *spec) {
  sr_mapping_free(fx->map);
  fx->spec = *spec;
  fx->map = sr_mapping_new(spec, fx->why, sizeof(fx->why));
  assert_non_null(fx->map);
}

static int setup(void **state) {
  static fixture_t fx;
  memset(&fx, 0, sizeof(fx));
  sr_mapping_spec_t spec = segment_spec();
  compile(&fx, &spec);
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  sr_mapping_free(fx->map);
  fx->map = NULL;
  return 0;
}

static sr_reason_t decode_meta(fixture_t *fx, const char *json,
                               const sr_msg_meta_t *meta) {
  fx->why[0] = '\0';
  return sr_mapping_decode(fx->map, json, strlen(json), meta, NULL, &fx->ev,
                           fx->why, sizeof(fx->why));
}

static sr_reason_t decode(fixture_t *fx, const char *json) {
  return decode_meta(fx, json, NULL);
}

static void test_nested_paths_and_indices(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(
      decode(fx, "{\"event\":\"add_to_basket\",\"context\":{\"user\":{\"id\":"
                 "\"u7\"}},\"properties\":{\"items\":[{\"id\":\"sku-1\","
                 "\"price\":19.5},{\"id\":\"sku-2\"}]},"
                 "\"timestamp\":\"2023-11-14T22:13:20.250Z\"}"),
      SR_REASON_OK);
  assert_string_equal(fx->ev.user_id, "u7");
  assert_string_equal(fx->ev.item_id, "sku-1");
  assert_int_equal(fx->ev.type, SR_EV_ADD_TO_CART);
  assert_true(fx->ev.value == 19.5f);
  assert_int_equal(fx->ev.timestamp_ms, T0 + 250);
}

/* A later index and a path through nested arrays. */
static void test_deep_index(void **state) {
  fixture_t *fx = *state;
  sr_mapping_spec_t spec = segment_spec();
  spec.fields[SR_MAP_ITEM_ID] = "cart[1].lines[2]";
  compile(fx, &spec);
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"cart\":[{},{\"lines\":[\"a\",\"b\",\"c\"]}],"
                 "\"properties\":{\"items\":[{\"price\":1}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_OK);
  assert_string_equal(fx->ev.item_id, "c");
  assert_int_equal(fx->ev.timestamp_ms, T0);
}

static int header_get(const void *msg, const char *name, const void **val,
                      size_t *len) {
  (void)msg;
  if (strcmp(name, "item") != 0)
    return -1;
  *val = "i-from-header";
  *len = strlen("i-from-header");
  return 0;
}

/* The key, a header and the Kafka timestamp, with a constant type. */
static void test_kafka_sources_and_constant_type(void **state) {
  fixture_t *fx = *state;
  sr_mapping_spec_t spec = {
      .prefix = "input.",
      .fields = {"@key", "@header:item", "=click", "", "@timestamp"},
  };
  compile(fx, &spec);
  sr_msg_meta_t meta = {.key = "user-9xx",
                        .key_len = 6,
                        .timestamp_ms = T0,
                        .header = header_get};
  assert_int_equal(decode_meta(fx, "{\"value\":2}", &meta), SR_REASON_OK);
  assert_string_equal(fx->ev.user_id, "user-9");
  assert_string_equal(fx->ev.item_id, "i-from-header");
  assert_int_equal(fx->ev.type, SR_EV_CLICK);
  assert_true(fx->ev.value == 2.0f);
  assert_int_equal(fx->ev.timestamp_ms, T0);

  /* No key, no timestamp: each is a missing field naming its source. */
  meta.key = NULL;
  assert_int_equal(decode_meta(fx, "{}", &meta), SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "user_id (@key) is missing");
  meta.key = "u";
  meta.key_len = 1;
  meta.timestamp_ms = -1;
  assert_int_equal(decode_meta(fx, "{}", &meta), SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "timestamp (@timestamp) is missing");
  meta.timestamp_ms = T0;
  meta.header = NULL;
  assert_int_equal(decode_meta(fx, "{}", &meta), SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "item_id (@header:item) is missing");
}

/* Numbers as ids are their decimal text; unmapped fields are read where
 * streamrec's own JSON has them. */
static void test_numeric_ids_and_unmapped_fields(void **state) {
  fixture_t *fx = *state;
  sr_mapping_spec_t spec = {.prefix = "input.",
                            .fields = {"uid", "", "", "", ""}};
  compile(fx, &spec);
  assert_int_equal(decode(fx, "{\"uid\":123456789012,\"itemId\":\"i1\","
                              "\"type\":\"VIEW\",\"timestamp_ms\":5}"),
                   SR_REASON_OK);
  assert_string_equal(fx->ev.user_id, "123456789012");
  assert_string_equal(fx->ev.item_id, "i1");
  assert_int_equal(fx->ev.timestamp_ms, 5);
  assert_int_equal(decode(fx, "{\"uid\":-7,\"item_id\":\"i\",\"type\":1}"),
                   SR_REASON_OK);
  assert_string_equal(fx->ev.user_id, "-7");
  assert_int_equal(decode(fx, "{\"uid\":7.5,\"item_id\":\"i\",\"type\":1}"),
                   SR_REASON_BAD_FIELD);
  assert_string_equal(fx->why,
                      "user_id (uid) must be a string or an integer, not a "
                      "number");
  assert_int_equal(decode(fx, "{\"uid\":true,\"item_id\":\"i\",\"type\":1}"),
                   SR_REASON_BAD_FIELD);
}

static void test_types_mapping(void **state) {
  fixture_t *fx = *state;
  const char *fmt =
      "{\"event\":%s,\"context\":{\"user\":{\"id\":\"u\"}},\"properties\":{"
      "\"items\":[{\"id\":\"i\",\"price\":1}]},\"timestamp\":1700000000}";
  char json[512];
  static const struct {
    const char *name;
    sr_event_type_t type;
  } cases[] = {{"\"page_view\"", SR_EV_VIEW},
               {"\"order\"", SR_EV_PURCHASE},
               {"\"like\"", SR_EV_LIKE}, /* streamrec's own names still work */
               {"5", SR_EV_LIKE}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(json, sizeof(json), fmt, cases[i].name);
    assert_int_equal(decode(fx, json), SR_REASON_OK);
    assert_int_equal(fx->ev.type, cases[i].type);
  }
  /* Platform names match exactly. */
  snprintf(json, sizeof(json), fmt, "\"Page_View\"");
  assert_int_equal(decode(fx, json), SR_REASON_UNKNOWN_TYPE);
  assert_string_equal(fx->why, "type \"Page_View\" (event) is unknown");
  snprintf(json, sizeof(json), fmt, "[1]");
  assert_int_equal(decode(fx, json), SR_REASON_BAD_FIELD);

  /* skip: the same message is skipped, not rejected. */
  sr_mapping_spec_t spec = segment_spec();
  spec.unknown_types = SR_UNKNOWN_SKIP;
  compile(fx, &spec);
  snprintf(json, sizeof(json), fmt, "\"identify\"");
  assert_int_equal(decode(fx, json), SR_REASON_SKIPPED_TYPE);
}

static int64_t parse(const char *s, sr_ts_fmt_t fmt) {
  int64_t ms = INT64_MIN;
  if (sr_mapping_parse_time(s, strlen(s), fmt, &ms) != 0)
    return INT64_MIN;
  return ms;
}

static void test_timestamp_forms(void **state) {
  (void)state;
  /* auto: magnitude decides seconds or milliseconds. */
  assert_int_equal(parse("1700000000", SR_TS_AUTO), T0);
  assert_int_equal(parse("1700000000.123", SR_TS_AUTO), T0 + 123);
  assert_int_equal(parse("1700000000123", SR_TS_AUTO), T0 + 123);
  assert_int_equal(parse("2023-11-14T22:13:20Z", SR_TS_AUTO), T0);
  /* ISO-8601: fractions, offsets, the separators. */
  assert_int_equal(parse("2023-11-14T22:13:20.5Z", SR_TS_ISO8601), T0 + 500);
  assert_int_equal(parse("2023-11-14T22:13:20.123456z", SR_TS_ISO8601),
                   T0 + 123);
  assert_int_equal(parse("2023-11-14 23:13:20+01:00", SR_TS_ISO8601), T0);
  assert_int_equal(parse("2023-11-14T17:43:20-0430", SR_TS_ISO8601), T0);
  assert_int_equal(parse("2023-11-15T00:13:20+02", SR_TS_ISO8601), T0);
  assert_int_equal(parse("2024-02-29T00:00:00Z", SR_TS_ISO8601),
                   1709164800000LL);
  assert_int_equal(parse("1969-12-31T23:59:59Z", SR_TS_ISO8601), -1000);
  /* Explicit units. */
  assert_int_equal(parse("1700000000", SR_TS_S), T0);
  assert_int_equal(parse("1700000000.25", SR_TS_S), T0 + 250);
  assert_int_equal(parse("1700000000", SR_TS_MS), 1700000000);
  /* Refused: no zone, impossible dates, trailing bytes, a unit mismatch. */
  const char *bad[] = {"2023-11-14T22:13:20",
                       "2023-02-29T00:00:00Z",
                       "2023-13-01T00:00:00Z",
                       "2023-11-14T24:00:00Z",
                       "2023-11-14T22:13:20Zx",
                       "2023-11-14T22:13:20.Z",
                       "yesterday",
                       "",
                       "1e400",
                       "2023-11-14"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_true(parse(bad[i], SR_TS_AUTO) == INT64_MIN);
  assert_true(parse("1700000000.5", SR_TS_MS) == INT64_MIN);
  assert_true(parse("2023-11-14T22:13:20Z", SR_TS_S) == INT64_MIN);
  assert_true(parse("1700000000", SR_TS_ISO8601) == INT64_MIN);
  int64_t ms;
  assert_int_equal(sr_mapping_number_time(1700000000.5, SR_TS_AUTO, &ms), 0);
  assert_int_equal(ms, T0 + 500);
  assert_int_equal(sr_mapping_number_time(1700000000, SR_TS_ISO8601, &ms), -1);
}

/* Each rejection names the configured path. */
static void test_rejections_name_the_path(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "user_id (context.user.id) is missing");
  /* An index past the end and a null are missing too. */
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"properties\":{\"items\":[]},\"timestamp\":1700000000}"),
      SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "item_id (properties.items[0].id) is missing");
  assert_int_equal(
      decode(fx, "{\"event\":null,\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_MISSING_FIELD);
  assert_string_equal(fx->why, "type (event) is missing");
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":\"x\"}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_BAD_FIELD);
  assert_string_equal(
      fx->why, "value (properties.items[0].price) \"x\" is not a number");
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":\"2023-11-14T22:13:20\"}"),
      SR_REASON_BAD_TIMESTAMP);
  assert_string_equal(fx->why,
                      "timestamp (timestamp) \"2023-11-14T22:13:20\" is not a "
                      "timestamp in format auto");
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":{}}"),
      SR_REASON_BAD_FIELD);
  /* A path through a string finds nothing there. */
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":\"u\","
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_MISSING_FIELD);
  /* streamrec's own rules still apply after mapping. */
  assert_int_equal(
      decode(fx, "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"\"}},"
                 "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1}]},"
                 "\"timestamp\":1700000000}"),
      SR_REASON_EMPTY_ID);
  assert_int_equal(decode(fx, "[1]"), SR_REASON_DECODE);
  assert_int_equal(decode(fx, "{\"event\":"), SR_REASON_DECODE);
}

static void refused(const char *field_key, sr_map_field_t f, const char *src,
                    const char *want) {
  sr_mapping_spec_t spec = {.prefix = "input."};
  spec.fields[f] = src;
  char why[256] = "";
  sr_mapping_t *map = sr_mapping_new(&spec, why, sizeof(why));
  assert_null(map);
  assert_non_null(strstr(why, field_key));
  assert_non_null(strstr(why, want));
}

static void test_refused_at_start(void **state) {
  (void)state;
  refused("input.fields.user_id:", SR_MAP_USER_ID, "a..b", "not a path");
  refused("input.fields.user_id:", SR_MAP_USER_ID, ".a", "not a path");
  refused("input.fields.item_id:", SR_MAP_ITEM_ID, "a.", "not a path");
  refused("input.fields.item_id:", SR_MAP_ITEM_ID, "a[x]", "not a path");
  refused("input.fields.item_id:", SR_MAP_ITEM_ID, "[0]", "not a path");
  refused("input.fields.value:", SR_MAP_VALUE, "@header:", "not a source");
  refused("input.fields.value:", SR_MAP_VALUE, "=3", "not a source");
  refused("input.fields.type:", SR_MAP_TYPE, "=TELEPORT", "not an event type");
  refused("input.fields.timestamp:", SR_MAP_TIMESTAMP, "@offset",
          "not a source");
  sr_type_alias_t bad = {"page_view", SR_EV_UNSPECIFIED};
  sr_mapping_spec_t spec = {.prefix = "input.", .types = &bad, .n_types = 1};
  char why[256];
  assert_null(sr_mapping_new(&spec, why, sizeof(why)));
  assert_non_null(strstr(why, "input.types.page_view"));
}

/* The one-pass scanner and jansson's tree agree on every message: the
 * reason, its message and the event, whichever of them reads it. */
static void test_scanner_agrees_with_tree(void **state) {
  fixture_t *fx = *state;
  static const char *const msgs[] = {
      "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
      "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":1e2}]},"
      "\"timestamp\":1700000000.5}",
      /* Escapes and non-ASCII where nothing is read, then where it is. */
      "{\"x\":\"a\\\"b\\u00e9\",\"y\":\"\xc3\xa9\",\"event\":\"order\","
      "\"context\":{\"user\":{\"id\":\"u\"}},\"properties\":{\"items\":"
      "[{\"id\":\"i\",\"price\":1}]},\"timestamp\":1700000000}",
      "{\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\\\"q\"}},"
      "\"properties\":{\"items\":[{\"id\":\"\\u0069\",\"price\":1}]},"
      "\"timestamp\":1700000000}",
      /* A repeated member on a path: jansson keeps the last. */
      "{\"event\":\"order\",\"event\":\"page_view\",\"context\":{\"user\":"
      "{\"id\":\"u\"}},\"properties\":{\"items\":[{\"id\":\"i\","
      "\"price\":1}]},\"timestamp\":1700000000}",
      "{\"context\":{\"user\":{\"id\":\"u\"}},\"context\":{},\"event\":1}",
      /* Kinds a path may end on, and bad documents. */
      "{\"event\":true,\"context\":{\"user\":{\"id\":[1]}},"
      "\"properties\":{\"items\":{\"0\":{}}},\"timestamp\":null}",
      "{\"event\":\"order\",\"context\":{\"user\":{\"id\":"
      "12345678901234567890}},\"properties\":{\"items\":[{\"id\":-0,"
      "\"price\":-1.5e-3}]},\"timestamp\":\"1700000000123\"}",
      "{\"event\":\"order\"} x",
      "{\"event\":01}",
      "{\"event\":\"\xff\"}",
      "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "}",
      "[]",
      "",
      "  {\"event\":\"order\",\"context\":{\"user\":{\"id\":\"u\"}},"
      "\"properties\":{\"items\":[{\"id\":\"i\",\"price\":\"NaN\"}]},"
      "\"timestamp\":\"2023-11-14T22:13:20+01:00\"}\n",
  };
  for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
    sr_event_t ev, want_ev;
    char why[256] = "", want_why[256] = "";
    memset(&ev, 0, sizeof(ev));
    memset(&want_ev, 0, sizeof(want_ev));
    size_t len = strlen(msgs[i]);
    sr_reason_t got = sr_mapping_decode(fx->map, msgs[i], len, NULL, NULL, &ev,
                                        why, sizeof(why));
    sr_reason_t want =
        sr_mapping_decode_tree(fx->map, msgs[i], len, NULL, NULL, &want_ev,
                               want_why, sizeof(want_why));
    if (got != want || strcmp(why, want_why) != 0)
      fail_msg("message %zu: %s '%s' vs jansson's %s '%s'", i,
               sr_reason_name(got), why, sr_reason_name(want), want_why);
    assert_memory_equal(&ev, &want_ev, sizeof(ev));
  }
}

/* The forms the scanner reads without the general code: ISO-8601 in the
 * millisecond-Z layout gives what the same instant with an offset gives,
 * and is refused alike when impossible; short reals are strtod's double;
 * two fields under one object; escapes in a value no path reads. */
static void test_scanner_fast_paths(void **state) {
  fixture_t *fx = *state;
  static const char *const stamps[] = {
      "2023-11-14T22:13:20.123", "2024-02-29T23:59:59.999",
      "2016-12-31T23:59:60.000", "1970-01-01T00:00:00.000",
      "2023-02-29T00:00:00.000", "2023-11-14T22:13:2x.000",
      "2023-11-31T00:00:00.000", "0000-01-01T00:00:00.001"};
  for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
    char z[40], offset[40];
    snprintf(z, sizeof(z), "%sZ", stamps[i]);
    snprintf(offset, sizeof(offset), "%s+00:00", stamps[i]);
    assert_true(parse(z, SR_TS_AUTO) == parse(offset, SR_TS_ISO8601));
  }
  assert_int_equal(parse("2023-11-14T22:13:20.123Z", SR_TS_AUTO), T0 + 123);
  assert_true(parse("2023-11-14T22:13:20.123Z", SR_TS_MS) == INT64_MIN);

  sr_mapping_spec_t spec = {.prefix = "input.",
                            .fields = {"a.u", "a.i", "=CLICK", "a.v", "a.t"}};
  compile(fx, &spec);
  static const char *const reals[] = {"0.1",
                                      "-2.675",
                                      "123456789.012345",
                                      "1234567890.1234567",
                                      "0.30000000000000004",
                                      "9007199254740.993"};
  for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
    char json[160];
    snprintf(json, sizeof(json),
             "{\"x\":\"a\\\"b\\n\",\"a\":{\"u\":\"u1\",\"i\":\"i1\","
             "\"v\":%s,\"t\":\"2023-11-14T22:13:20.000Z\"}}",
             reals[i]);
    assert_int_equal(decode(fx, json), SR_REASON_OK);
    assert_string_equal(fx->ev.user_id, "u1");
    assert_string_equal(fx->ev.item_id, "i1");
    assert_true(fx->ev.value == (float)strtod(reals[i], NULL));
    assert_int_equal(fx->ev.timestamp_ms, T0);
  }
}

/* The worked example of docs/operations.md, "Reading your own topics". */
static void test_documented_segment_example(void **state) {
  fixture_t *fx = *state;
  static const sr_type_alias_t names[] = {{"Product Viewed", SR_EV_VIEW},
                                          {"Product Clicked", SR_EV_CLICK},
                                          {"Product Added", SR_EV_ADD_TO_CART},
                                          {"Order Completed", SR_EV_PURCHASE}};
  sr_mapping_spec_t spec = {
      .prefix = "input.",
      .fields = {"userId", "properties.product_id", "event", "", "timestamp"},
      .types = names,
      .n_types = 4,
      .unknown_types = SR_UNKNOWN_SKIP,
      .timestamp_format = SR_TS_ISO8601,
  };
  compile(fx, &spec);
  const char *track =
      "{\"type\": \"track\", \"event\": \"Product Added\", \"userId\": "
      "\"97980cfea0067\",\n \"messageId\": \"ajs-next-69b7a2f1\", "
      "\"timestamp\": \"2024-05-01T12:00:00.250+02:00\",\n \"properties\": "
      "{\"product_id\": \"507f1f77bcf86cd799439011\", \"sku\": \"G-32\",\n"
      "                \"price\": 18.99, \"quantity\": 1},\n \"context\": "
      "{\"library\": {\"name\": \"analytics.js\", \"version\": "
      "\"2.11.1\"}}}";
  assert_int_equal(decode(fx, track), SR_REASON_OK);
  assert_string_equal(fx->ev.user_id, "97980cfea0067");
  assert_string_equal(fx->ev.item_id, "507f1f77bcf86cd799439011");
  assert_int_equal(fx->ev.type, SR_EV_ADD_TO_CART);
  assert_true(fx->ev.value == 0.0f);
  assert_int_equal(fx->ev.timestamp_ms, 1714557600250LL);
  assert_int_equal(
      decode(fx, "{\"type\": \"track\", \"event\": \"Signed Up\", "
                 "\"userId\": \"u\", \"timestamp\": \"2024-05-01T10:00:00Z\", "
                 "\"properties\": {\"product_id\": \"p\"}}"),
      SR_REASON_SKIPPED_TYPE);
}

static void test_active(void **state) {
  (void)state;
  sr_mapping_spec_t spec = {.prefix = "input.", .fields = {"", "", "", "", ""}};
  assert_false(sr_mapping_spec_active(&spec));
  spec.timestamp_format = SR_TS_S;
  assert_false(sr_mapping_spec_active(&spec));
  spec.fields[SR_MAP_VALUE] = "v";
  assert_true(sr_mapping_spec_active(&spec));
  spec.fields[SR_MAP_VALUE] = NULL;
  spec.types = platform_types;
  spec.n_types = 1;
  assert_true(sr_mapping_spec_active(&spec));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nested_paths_and_indices, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_deep_index, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kafka_sources_and_constant_type,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_numeric_ids_and_unmapped_fields,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_types_mapping, setup, teardown),
      cmocka_unit_test(test_timestamp_forms),
      cmocka_unit_test_setup_teardown(test_rejections_name_the_path, setup,
                                      teardown),
      cmocka_unit_test(test_refused_at_start),
      cmocka_unit_test_setup_teardown(test_scanner_agrees_with_tree, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_scanner_fast_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_documented_segment_example, setup,
                                      teardown),
      cmocka_unit_test(test_active),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
