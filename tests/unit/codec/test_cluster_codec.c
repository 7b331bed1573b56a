/* Cluster messages: a user's state and a batch of item deltas survive the
 * round trip (half floats within their precision), and a message from a
 * model of other dims, with a bad id or a non-finite number is refused with
 * a message that names it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/cluster_codec.h"
#include "streamrec.pb-c.h"
#include "util/buf.h"

#include <math.h>
#include <string.h>

static const float row[4] = {0.25f, -1.5f, 3.0e-3f, 7.0f};
static const char *const seen[3] = {"item-a", "item-b", "\xe2\x82\xac"};
static const uint64_t listed[3] = {1, 0xfedcba9876543210ULL, UINT64_MAX};

static sr_user_state_t sample_user(void) {
  return (sr_user_state_t){.user_id = "user-7",
                           .partition = 5,
                           .last_offset = 123456789012LL,
                           .events = 42,
                           .factors = row,
                           .dims = 4,
                           .bias = -0.5f,
                           .seen = seen,
                           .n_seen = 3,
                           .last_active_ms = 1700000000123LL,
                           .listed = listed,
                           .n_listed = 3};
}

static void test_user_state_round_trip(void **state) {
  (void)state;
  sr_user_state_t in = sample_user(), out;
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_user_state_encode(&in, &buf), 0);
  assert_int_equal(
      sr_user_state_decode(buf.data, buf.len, 4, &out, err, sizeof err), SR_OK);
  assert_string_equal(out.user_id, "user-7");
  assert_int_equal(out.partition, 5);
  assert_int_equal(out.last_offset, 123456789012LL);
  assert_int_equal(out.events, 42);
  assert_memory_equal(out.factors, row, sizeof(row));
  assert_true(out.bias == -0.5f);
  assert_int_equal(out.n_seen, 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(out.seen[i], seen[i]);
  assert_int_equal(out.last_active_ms, 1700000000123LL);
  assert_int_equal(out.n_listed, 3);
  assert_memory_equal(out.listed, listed, sizeof(listed));
  sr_user_state_clear(&out);
  assert_null(out.owned_);
  /* A state without a list decodes with none. */
  in.n_listed = 0;
  buf.len = 0;
  assert_int_equal(sr_user_state_encode(&in, &buf), 0);
  assert_int_equal(
      sr_user_state_decode(buf.data, buf.len, 4, &out, err, sizeof err), SR_OK);
  assert_int_equal(out.n_listed, 0);
  sr_user_state_clear(&out);
  sr_buf_free(&buf);
}

static void assert_user_refused(const sr_user_state_t *in, uint32_t dims,
                                const char *words) {
  sr_buf_t buf = {0};
  sr_user_state_t out;
  char err[256] = "";
  assert_int_equal(sr_user_state_encode(in, &buf), 0);
  assert_int_equal(
      sr_user_state_decode(buf.data, buf.len, dims, &out, err, sizeof err),
      SR_ERR_DECODE);
  if (!strstr(err, words))
    fail_msg("'%s' does not say '%s'", err, words);
  assert_null(out.owned_);
  sr_buf_free(&buf);
}

static void test_user_state_refusals(void **state) {
  (void)state;
  sr_user_state_t in = sample_user();
  assert_user_refused(&in, 8, "'user-7': 4 factors, expected 8");
  float bad[4] = {0, NAN, 0, 0};
  in.factors = bad;
  assert_user_refused(&in, 4, "'user-7': a factor or the bias is not finite");
  in = sample_user();
  in.user_id = "";
  assert_user_refused(&in, 4, "user_id must be 1..256 bytes");
  const char *bad_seen[1] = {""};
  in = sample_user();
  in.seen = bad_seen;
  in.n_seen = 1;
  assert_user_refused(&in, 4, "seen item 0 must be 1..256 bytes");
  sr_user_state_t out;
  char err[128];
  assert_int_equal(
      sr_user_state_decode("\xff\xff\xff", 3, 4, &out, err, sizeof err),
      SR_ERR_DECODE);
  assert_non_null(strstr(err, "not a UserState message"));
}

static const float d1[4] = {1e-3f, -2e-3f, 0.5f, 0};
static const float d2[4] = {-0.125f, 0.0625f, 3.0f, -7.5f};

static sr_item_deltas_t sample_deltas(sr_item_delta_t *items) {
  items[0] = (sr_item_delta_t){"item-1", d1, 0.25f, 3.5};
  items[1] = (sr_item_delta_t){"item-2", d2, 0, -0.75};
  return (sr_item_deltas_t){"member-a", 4, items, 2, 1234, NULL};
}

static void decode_deltas(sr_delta_enc_t enc, sr_item_deltas_t *out) {
  sr_item_delta_t items[2];
  sr_item_deltas_t in = sample_deltas(items);
  sr_buf_t buf = {0};
  char err[256];
  assert_int_equal(sr_item_deltas_encode(&in, enc, &buf), 0);
  assert_int_equal(
      sr_item_deltas_decode(buf.data, buf.len, 4, out, err, sizeof err), SR_OK);
  assert_string_equal(out->member_id, "member-a");
  assert_int_equal(out->n_items, 2);
  assert_int_equal(out->events, 1234);
  assert_string_equal(out->items[0].item_id, "item-1");
  assert_string_equal(out->items[1].item_id, "item-2");
  assert_true(out->items[0].bias == 0.25f);
  assert_true(out->items[0].popularity == 3.5);
  assert_true(out->items[1].popularity == -0.75);
  sr_buf_free(&buf);
}

static void test_deltas_round_trip_f32(void **state) {
  (void)state;
  sr_item_deltas_t out;
  decode_deltas(SR_DELTA_F32, &out);
  assert_memory_equal(out.items[0].factors, d1, sizeof(d1));
  assert_memory_equal(out.items[1].factors, d2, sizeof(d2));
  sr_item_deltas_clear(&out);
}

static void test_deltas_round_trip_f16(void **state) {
  (void)state;
  sr_item_deltas_t out;
  decode_deltas(SR_DELTA_F16, &out);
  for (int k = 0; k < 4; k++) {
    assert_true(fabsf(out.items[0].factors[k] - d1[k]) <=
                fabsf(d1[k]) * 0x1p-11f);
    assert_true(out.items[1].factors[k] == d2[k]); /* exact in a half */
  }
  sr_item_deltas_clear(&out);
}

static void test_f16_is_smaller(void **state) {
  (void)state;
  sr_item_delta_t items[2];
  sr_item_deltas_t in = sample_deltas(items);
  sr_buf_t f32 = {0}, f16 = {0};
  assert_int_equal(sr_item_deltas_encode(&in, SR_DELTA_F32, &f32), 0);
  assert_int_equal(sr_item_deltas_encode(&in, SR_DELTA_F16, &f16), 0);
  /* 2 items x 4 dims: 8 bytes less per item. */
  assert_int_equal(f32.len - f16.len, 16);
  sr_buf_free(&f32);
  sr_buf_free(&f16);
}

static void assert_deltas_refused(const sr_item_deltas_t *in, uint32_t dims,
                                  const char *words) {
  sr_buf_t buf = {0};
  sr_item_deltas_t out;
  char err[256] = "";
  assert_int_equal(sr_item_deltas_encode(in, SR_DELTA_F32, &buf), 0);
  assert_int_equal(
      sr_item_deltas_decode(buf.data, buf.len, dims, &out, err, sizeof err),
      SR_ERR_DECODE);
  if (!strstr(err, words))
    fail_msg("'%s' does not say '%s'", err, words);
  assert_null(out.owned_);
  sr_buf_free(&buf);
}

static void test_deltas_refusals(void **state) {
  (void)state;
  sr_item_delta_t items[2];
  sr_item_deltas_t in = sample_deltas(items);
  assert_deltas_refused(&in, 8, "from 'member-a': dims 4, this model has 8");
  in.member_id = "";
  assert_deltas_refused(&in, 4, "member_id must be 1..256 bytes");
  in = sample_deltas(items);
  items[1].item_id = "";
  assert_deltas_refused(&in, 4, "item 1's id must be 1..256 bytes");
  in = sample_deltas(items);
  items[1].popularity = INFINITY;
  assert_deltas_refused(&in, 4, "'item-2': a number is not finite");
}

static void test_delta_with_wrong_row_length(void **state) {
  (void)state;
  /* A delta whose row is shorter than the batch's dims says so. */
  Streamrec__V1__ItemDelta item = STREAMREC__V1__ITEM_DELTA__INIT;
  Streamrec__V1__ItemDelta *ptr = &item;
  float three[3] = {1, 2, 3};
  item.item_id = "item-9";
  item.n_factors = 3;
  item.factors = three;
  Streamrec__V1__ItemDeltas msg = STREAMREC__V1__ITEM_DELTAS__INIT;
  msg.member_id = "m";
  msg.dims = 4;
  msg.n_items = 1;
  msg.items = &ptr;
  uint8_t wire[128];
  size_t len = streamrec__v1__item_deltas__pack(&msg, wire);
  sr_item_deltas_t out;
  char err[256];
  assert_int_equal(sr_item_deltas_decode(wire, len, 4, &out, err, sizeof err),
                   SR_ERR_DECODE);
  assert_non_null(strstr(err, "'item-9': 3 factors and 0 half-float bytes"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_user_state_round_trip),
      cmocka_unit_test(test_user_state_refusals),
      cmocka_unit_test(test_deltas_round_trip_f32),
      cmocka_unit_test(test_deltas_round_trip_f16),
      cmocka_unit_test(test_f16_is_smaller),
      cmocka_unit_test(test_deltas_refusals),
      cmocka_unit_test(test_delta_with_wrong_row_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
