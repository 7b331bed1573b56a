/* Tests of the Item codec: protobuf and proto3 JSON items decode to the
 * same id and availability (absent means available), both encodings
 * round-trip, and bad items are rejected with the reason the dead-letter
 * topic names; the content (features, embedding) decodes alike from
 * protobuf, JSON and the TSV line, an embedding of the wrong length is
 * rejected as bad_embedding, and the JSON with content round-trips. */
#include "codec/item_codec.h"
#include "streamrec.pb-c.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

static void assert_content(const sr_item_content_t *ct) {
  assert_int_equal(ct->n_features, 2);
  assert_string_equal(ct->features[0], "genre:x");
  assert_int_equal(ct->feature_lens[0], 7);
  assert_string_equal(ct->features[1], "y");
  assert_int_equal(ct->n_embedding, 3);
  assert_true(ct->embedding[0] == 0.5f && ct->embedding[1] == -1.0f &&
              ct->embedding[2] == 2.0f);
}

static void test_content_forms(void **state) {
  (void)state;
  sr_item_t item;
  sr_item_content_t ct;
  char err[128] = "";
  const char *json = "{\"item_id\":\"a1\",\"features\":[\"genre:x\",\"y\"],"
                     "\"embedding\":[0.5,-1,2]}";
  assert_int_equal(sr_item_decode_content(json, strlen(json), SR_WIRE_AUTO, 0,
                                          3, &item, &ct, err, sizeof err),
                   SR_REASON_OK);
  assert_content(&ct);
  sr_item_content_free(&ct);
  /* The same item in protobuf. */
  Streamrec__V1__Item msg = STREAMREC__V1__ITEM__INIT;
  char *feats[] = {"genre:x", "y"};
  float emb[] = {0.5f, -1.0f, 2.0f};
  msg.item_id = "a1";
  msg.features = feats;
  msg.n_features = 2;
  msg.embedding = emb;
  msg.n_embedding = 3;
  uint8_t buf[256];
  size_t len = streamrec__v1__item__pack(&msg, buf);
  assert_int_equal(sr_item_decode_content(buf, len, SR_WIRE_PROTO, 0, 0, &item,
                                          &ct, err, sizeof err),
                   SR_REASON_OK);
  assert_content(&ct);
  sr_item_content_free(&ct);
  /* And as a TSV line: ',' or '|' between features, blanks trimmed. */
  const char *tsv = "a1\tgenre:x | y,\t0.5 -1  2\n";
  assert_int_equal(
      sr_item_parse_tsv(tsv, strlen(tsv), 0, 3, &item, &ct, err, sizeof err),
      SR_REASON_OK);
  assert_string_equal(item.item_id, "a1");
  assert_true(item.available);
  assert_content(&ct);
  /* The JSON with content decodes back to the same content. */
  sr_buf_t out = {0};
  assert_int_equal(sr_item_encode_json_content(&item, &ct, &out), 0);
  sr_item_content_free(&ct);
  assert_int_equal(sr_item_decode_content(out.data, out.len, SR_WIRE_JSON, 0, 0,
                                          &item, &ct, err, sizeof err),
                   SR_REASON_OK);
  assert_content(&ct);
  sr_item_content_free(&ct);
  sr_buf_free(&out);
  /* An id alone is a TSV item without content. */
  assert_int_equal(sr_item_parse_tsv("b", 1, 0, 0, &item, &ct, err, sizeof err),
                   SR_REASON_OK);
  assert_int_equal(ct.n_features + ct.n_embedding, 0);
  sr_item_content_free(&ct);
}

/* Packs an Item of n features "fK" and a d-float embedding (value k / 8,
 * with bad at index bad_at when below d) into buf. */
static size_t pack_item(uint8_t *buf, size_t n, size_t d, size_t bad_at,
                        float bad) {
  static char names[64][24];
  char *feats[64];
  static float emb[3000];
  for (size_t k = 0; k < n; k++) {
    snprintf(names[k], sizeof(names[k]), "f%zu", k);
    feats[k] = names[k];
  }
  for (size_t k = 0; k < d; k++)
    emb[k] = k == bad_at ? bad : (float)k / 8.0f;
  Streamrec__V1__Item msg = STREAMREC__V1__ITEM__INIT;
  msg.item_id = "big";
  msg.features = feats;
  msg.n_features = n;
  msg.embedding = emb;
  msg.n_embedding = d;
  return streamrec__v1__item__pack(&msg, buf);
}

/* A message larger than the decoder's stack arena decodes as a small one
 * does; a decoded message's features take one more the usual way; a
 * non-finite value is named by its index. */
static void test_proto_sizes(void **state) {
  (void)state;
  static uint8_t buf[16384];
  sr_item_t item;
  sr_item_content_t ct;
  char err[128] = "";
  size_t sizes[][2] = {{8, 384}, {64, 3000}, {0, 0}, {3, 0}};
  for (size_t s = 0; s < 4; s++) {
    size_t n = sizes[s][0], d = sizes[s][1];
    size_t len = pack_item(buf, n, d, SIZE_MAX, 0);
    assert_int_equal(sr_item_decode_content(buf, len, SR_WIRE_PROTO, 0, d,
                                            &item, &ct, err, sizeof err),
                     SR_REASON_OK);
    assert_string_equal(item.item_id, "big");
    assert_int_equal(ct.n_features, n);
    assert_int_equal(ct.n_embedding, d);
    for (size_t k = 0; k < d; k++)
      assert_true(ct.embedding[k] == (float)k / 8.0f);
    assert_int_equal(sr_item_content_add(&ct, "extra", 5), 0);
    assert_int_equal(ct.n_features, n + 1);
    for (size_t k = 0; k < n; k++) {
      char want[24];
      snprintf(want, sizeof(want), "f%zu", k);
      assert_string_equal(ct.features[k], want);
      assert_int_equal(ct.feature_lens[k], strlen(want));
    }
    assert_string_equal(ct.features[n], "extra");
    sr_item_content_free(&ct);
  }
  float bad[] = {INFINITY, -INFINITY, NAN};
  for (size_t b = 0; b < 3; b++) {
    size_t len = pack_item(buf, 2, 384, 383 - b * 100, bad[b]);
    assert_int_equal(sr_item_decode_content(buf, len, SR_WIRE_PROTO, 0, 384,
                                            &item, &ct, err, sizeof err),
                     SR_REASON_NON_FINITE);
    char want[32];
    snprintf(want, sizeof(want), "embedding[%zu]", 383 - b * 100);
    assert_non_null(strstr(err, want));
    sr_item_content_free(&ct);
  }
}

static void test_bad_embedding(void **state) {
  (void)state;
  sr_item_t item;
  sr_item_content_t ct;
  char err[128] = "";
  const char *json = "{\"item_id\":\"a1\",\"embedding\":[0.5,-1]}";
  assert_int_equal(sr_item_decode_content(json, strlen(json), SR_WIRE_JSON, 0,
                                          3, &item, &ct, err, sizeof err),
                   SR_REASON_BAD_EMBEDDING);
  assert_non_null(strstr(err, "2 values"));
  assert_string_equal(sr_reason_name(SR_REASON_BAD_EMBEDDING), "bad_embedding");
  sr_item_content_free(&ct);
  assert_int_equal(
      sr_item_parse_tsv("a\t\t1 2", 6, 0, 3, &item, &ct, err, sizeof err),
      SR_REASON_BAD_EMBEDDING);
  sr_item_content_free(&ct);
  assert_int_equal(
      sr_item_parse_tsv("a\t\t1 x", 6, 0, 0, &item, &ct, err, sizeof err),
      SR_REASON_DECODE);
  sr_item_content_free(&ct);
  assert_int_equal(
      sr_item_parse_tsv("\tx\t1", 4, 0, 0, &item, &ct, err, sizeof err),
      SR_REASON_EMPTY_ID);
  sr_item_content_free(&ct);
  /* Without a configured length any length passes the codec. */
  assert_int_equal(sr_item_decode_content(json, strlen(json), SR_WIRE_JSON, 0,
                                          0, &item, &ct, err, sizeof err),
                   SR_REASON_OK);
  sr_item_content_free(&ct);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_fields),
      cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_content_forms),
      cmocka_unit_test(test_bad_embedding),
      cmocka_unit_test(test_proto_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
