/* Confluent framing: the schema id read big-endian, the protobuf
 * message-index list with its single-0 shortcut, what a writer writes
 * reads back, and every malformed header refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/framing.h"

#include <string.h>

static void test_avro_header(void **state) {
  (void)state;
  const unsigned char msg[] = {0, 0, 0, 0x01, 0x2C, 'b', 'o', 'd', 'y'};
  sr_frame_t fr;
  char err[128];
  assert_true(sr_frame_detect(msg, sizeof msg));
  assert_int_equal(
      sr_frame_parse(msg, sizeof msg, SR_FRAME_PLAIN, &fr, err, sizeof err), 0);
  assert_int_equal(fr.schema_id, 300);
  assert_int_equal(fr.n_indices, 0);
  assert_int_equal(fr.body_len, 4);
  assert_memory_equal(fr.body, "body", 4);
}

static void test_proto_shortcut(void **state) {
  (void)state;
  /* Schema id 0x01020304, then the single 0: the file's first message. */
  const unsigned char msg[] = {0, 1, 2, 3, 4, 0, 0x0A, 0x01, 'u'};
  sr_frame_t fr;
  assert_int_equal(
      sr_frame_parse(msg, sizeof msg, SR_FRAME_PROTO, &fr, NULL, 0), 0);
  assert_int_equal(fr.schema_id, 0x01020304u);
  assert_int_equal(fr.n_indices, 1);
  assert_int_equal(fr.indices[0], 0);
  assert_int_equal(fr.body_len, 3);
  assert_int_equal(((const unsigned char *)fr.body)[0], 0x0A);
}

static void test_proto_index_list(void **state) {
  (void)state;
  /* Count 2 (zigzag 4), indices 1 (2) and 70 (140 = 0x8C 0x01). */
  const unsigned char msg[] = {0, 0, 0, 0, 7, 4, 2, 0x8C, 0x01, 0x0A};
  sr_frame_t fr;
  assert_int_equal(
      sr_frame_parse(msg, sizeof msg, SR_FRAME_PROTO, &fr, NULL, 0), 0);
  assert_int_equal(fr.schema_id, 7);
  assert_int_equal(fr.n_indices, 2);
  assert_int_equal(fr.indices[0], 1);
  assert_int_equal(fr.indices[1], 70);
  assert_int_equal(fr.body_len, 1);
}

static void round_trip(sr_frame_kind_t kind, uint32_t id, const int32_t *idx,
                       size_t n) {
  sr_buf_t buf = {0};
  assert_int_equal(sr_frame_write(&buf, kind, id, idx, n), 0);
  assert_int_equal(sr_buf_append(&buf, "xy", 2), 0);
  sr_frame_t fr;
  assert_int_equal(sr_frame_parse(buf.data, buf.len, kind, &fr, NULL, 0), 0);
  assert_int_equal(fr.schema_id, id);
  assert_int_equal(fr.body_len, 2);
  assert_memory_equal(fr.body, "xy", 2);
  if (kind == SR_FRAME_PROTO) {
    assert_int_equal(fr.n_indices, n ? n : 1);
    for (size_t i = 0; i < n; i++)
      assert_int_equal(fr.indices[i], idx[i]);
  }
  sr_buf_free(&buf);
}

static void test_write_reads_back(void **state) {
  (void)state;
  const int32_t one[] = {0}, path[] = {3, 0, 200000};
  round_trip(SR_FRAME_PLAIN, 0xFFFFFFFFu, NULL, 0);
  round_trip(SR_FRAME_PROTO, 1, NULL, 0);
  round_trip(SR_FRAME_PROTO, 42, one, 1);
  round_trip(SR_FRAME_PROTO, 42, path, 3);
  /* [0] is written as the single 0, as Confluent's serializer does. */
  sr_buf_t buf = {0};
  assert_int_equal(sr_frame_write(&buf, SR_FRAME_PROTO, 5, one, 1), 0);
  assert_int_equal(buf.len, 6);
  sr_buf_free(&buf);
}

static void expect_refused(const void *msg, size_t len, sr_frame_kind_t kind,
                           const char *words) {
  sr_frame_t fr;
  char err[160] = "";
  assert_int_equal(sr_frame_parse(msg, len, kind, &fr, err, sizeof err), -1);
  assert_non_null(strstr(err, words));
}

static void test_malformed(void **state) {
  (void)state;
  const unsigned char short_msg[] = {0, 0, 0, 1};
  const unsigned char magic[] = {1, 0, 0, 0, 1, 0};
  const unsigned char no_count[] = {0, 0, 0, 0, 1};
  const unsigned char negative[] = {0, 0, 0, 0, 1, 3};
  const unsigned char too_many[] = {0, 0, 0, 0, 1, 40};
  const unsigned char cut_index[] = {0, 0, 0, 0, 1, 4, 2};
  const unsigned char long_varint[] = {0,    0,    0,    0,    1,   2,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
  expect_refused(short_msg, sizeof short_msg, SR_FRAME_PLAIN, "magic byte");
  expect_refused(magic, sizeof magic, SR_FRAME_PLAIN, "magic byte");
  expect_refused(no_count, sizeof no_count, SR_FRAME_PROTO, "truncated");
  expect_refused(negative, sizeof negative, SR_FRAME_PROTO, "count -2");
  expect_refused(too_many, sizeof too_many, SR_FRAME_PROTO, "count 20");
  expect_refused(cut_index, sizeof cut_index, SR_FRAME_PROTO, "index 1");
  expect_refused(long_varint, sizeof long_varint, SR_FRAME_PROTO, "index 0");
  assert_false(sr_frame_detect("{\"a\":1}", 7));
  assert_false(sr_frame_detect(NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_avro_header),
      cmocka_unit_test(test_proto_shortcut),
      cmocka_unit_test(test_proto_index_list),
      cmocka_unit_test(test_write_reads_back),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
