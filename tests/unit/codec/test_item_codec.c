/* Tests of the Item codec: protobuf and proto3 JSON items decode to the
 * same id and availability (absent means available), both encodings
 * round-trip, and bad items are rejected with the reason the dead-letter
 * topic names. */
#include "codec/item_codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static sr_reason_t decode(const char *json, sr_item_t *item) {
  char err[128] = "";
  return sr_item_decode(json, strlen(json), SR_WIRE_AUTO, 0, item, err,
                        sizeof err);
}

static void test_json_fields(void **state) {
  (void)state;
  sr_item_t item;
  assert_int_equal(decode("{\"item_id\":\"a1\",\"available\":false,"
                          "\"features\":[\"genre:x\",\"y\"],"
                          "\"embedding\":[0.5,-1,2],"
                          "\"updated_at_ms\":\"1700000000000\"}",
                          &item),
                   SR_REASON_OK);
  assert_string_equal(item.item_id, "a1");
  assert_int_equal(item.item_len, 2);
  assert_false(item.available);
  assert_int_equal(item.n_features, 2);
  assert_int_equal(item.n_embedding, 3);
  assert_int_equal(item.updated_at_ms, 1700000000000LL);
  /* Availability is the default; camelCase is accepted. */
  assert_int_equal(decode("{\"itemId\":\"b\",\"updatedAtMs\":5}", &item),
                   SR_REASON_OK);
  assert_string_equal(item.item_id, "b");
  assert_true(item.available);
  assert_int_equal(item.updated_at_ms, 5);
  /* The proto's own spelling. */
  assert_int_equal(decode("{\"item_id\":\"c\",\"unavailable\":true}", &item),
                   SR_REASON_OK);
  assert_false(item.available);
}

static void test_rejections(void **state) {
  (void)state;
  sr_item_t item;
  assert_int_equal(decode("{\"available\":false}", &item), SR_REASON_EMPTY_ID);
  assert_int_equal(decode("{\"item_id\":\"\"}", &item), SR_REASON_EMPTY_ID);
  assert_int_equal(decode("{\"item_id\":\"a\",\"available\":\"no\"}", &item),
                   SR_REASON_DECODE);
  assert_int_equal(decode("{\"item_id\":\"a\",\"features\":[1]}", &item),
                   SR_REASON_DECODE);
  assert_int_equal(decode("{\"item_id\":\"a\",\"embedding\":[\"x\"]}", &item),
                   SR_REASON_DECODE);
  assert_int_equal(decode("{\"item_id\":", &item), SR_REASON_DECODE);
  assert_int_equal(decode("[1]", &item), SR_REASON_DECODE);
  char err[128];
  assert_int_equal(sr_item_decode("{\"item_id\":\"abcd\"}", 18, SR_WIRE_JSON, 3,
                                  &item, err, sizeof err),
                   SR_REASON_ID_TOO_LONG);
  assert_non_null(strstr(err, "item_id"));
  /* Bytes that are no protobuf Item. */
  const uint8_t junk[] = {0x0a, 0x7f, 0x01};
  assert_int_equal(sr_item_decode(junk, sizeof junk, SR_WIRE_PROTO, 0, &item,
                                  err, sizeof err),
                   SR_REASON_DECODE);
}

static void test_round_trips(void **state) {
  (void)state;
  for (int avail = 0; avail <= 1; avail++) {
    sr_item_t in = {.item_id = "item-7",
                    .item_len = 6,
                    .available = avail != 0,
                    .updated_at_ms = 42};
    sr_item_t out;
    char err[128];
    for (int json = 0; json <= 1; json++) {
      sr_buf_t buf = {0};
      assert_int_equal(json ? sr_item_encode_json(&in, &buf)
                            : sr_item_encode_proto(&in, &buf),
                       0);
      assert_int_equal(sr_item_decode(buf.data, buf.len,
                                      json ? SR_WIRE_JSON : SR_WIRE_PROTO, 0,
                                      &out, err, sizeof err),
                       SR_REASON_OK);
      assert_string_equal(out.item_id, "item-7");
      assert_int_equal(out.available, avail != 0);
      assert_int_equal(out.updated_at_ms, 42);
      sr_buf_free(&buf);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_fields),
      cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
