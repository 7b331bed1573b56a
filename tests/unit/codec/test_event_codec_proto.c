/* Event codec, protobuf decoding: the in-place decoder reads every message
 * as protobuf-c's unpack of the generated Event does (same fields, same
 * rejections), over well-formed, odd and corrupted messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/event_codec.h"
#include "codec/reason.h"
#include "streamrec.pb-c.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void) {
  /* xorshift64*: any fixed sequence will do, the test only needs variety. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t below(uint32_t n) {
  return (uint32_t)(next_u64() % n);
}

/* Appends v as a varint of at least pad bytes (redundant continuation
 * bytes, which the wire format allows). */
static size_t put_varint(uint8_t *p, uint64_t v, size_t pad) {
  size_t n = 0;
  do {
    p[n++] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v || n < pad)
      p[n - 1] |= 0x80;
  } while (v || n < pad);
  p[n - 1] &= 0x7f;
  return n;
}

/* Usually the shortest form; now and then 5 bytes (protobuf-c's limit for
 * tags and lengths) or 6 (past it). */
static size_t pad_of(void) {
  uint32_t r = below(40);
  return r == 0 ? 5 : r == 1 ? 6 : 1;
}

static size_t put_tag(uint8_t *p, uint64_t field, unsigned wt) {
  return put_varint(p, field << 3 | wt, pad_of());
}

static size_t put_bytes(uint8_t *p, uint64_t field) {
  static const char alphabet[] = "abu12\0\xff";
  size_t len = below(12) == 0 ? 0 : 1 + below(9);
  size_t n = put_tag(p, field, 2);
  n += put_varint(p + n, len, pad_of());
  for (size_t j = 0; j < len; j++)
    p[n + j] = (uint8_t)(below(30) == 0 ? alphabet[below(7)]
                                        : "uvwxyz0123456789"[below(16)]);
  return n + len;
}

static uint64_t any_varint(void) {
  switch (below(5)) {
  case 0: return below(10);
  case 1: return (uint64_t)(int64_t) - (int64_t)below(3); /* 10-byte form */
  case 2: return 1700000000000ull + below(1000000);
  case 3: return next_u64();
  default: return (uint64_t)1 << 32 | below(8); /* an enum past 32 bits */
  }
}

/* One field, an Event field or another, usually of its own wire type. */
static size_t put_field(uint8_t *p) {
  uint64_t field = below(8) == 0 ? 6 + below(3000) : 1 + below(5);
  if (below(50) == 0)
    field = (uint64_t)1 << 29 | below(4); /* past the largest field number */
  static const unsigned own[6] = {0, 2, 2, 0, 5, 0};
  unsigned wt = field <= 5 ? own[field] : (unsigned[]){0, 1, 2, 5}[below(4)];
  if (below(60) == 0)
    wt = below(8); /* a wrong or invalid wire type */
  if (wt == 2)
    return put_bytes(p, field);
  size_t n = put_tag(p, field, wt);
  if (wt == 0)
    return n + put_varint(p + n, any_varint(), below(20) == 0 ? 10 : 1);
  size_t width = wt == 1 ? 8 : wt == 5 ? 4 : 0;
  for (size_t j = 0; j < width; j++)
    p[n++] = (uint8_t)next_u64();
  return n;
}

/* A plain event: both ids, a known type, a value and a time. */
static size_t put_event(uint8_t *p) {
  size_t n = put_varint(p, 1 << 3 | 2, 1);
  n += put_varint(p + n, 2, 1);
  p[n++] = 'u';
  p[n++] = (uint8_t)('0' + below(10));
  n += put_varint(p + n, 2 << 3 | 2, 1);
  n += put_varint(p + n, 1, 1);
  p[n++] = (uint8_t)('a' + below(26));
  n += put_varint(p + n, 3 << 3, 1);
  n += put_varint(p + n, 1 + below(7), 1);
  n += put_varint(p + n, 4 << 3 | 5, 1);
  float value = (float)below(100) / 8;
  memcpy(p + n, &value, 4); /* little-endian host, as protobuf's fixed32 */
  n += 4;
  n += put_varint(p + n, 5 << 3, 1);
  return n + put_varint(p + n, 1700000000000ull + below(1000), 1);
}

/* A message of a few fields, often after a plain event's, sometimes cut
 * short or with a byte changed. */
static size_t make_message(uint8_t *p) {
  size_t n = below(2) ? put_event(p) : 0, fields = below(6);
  for (size_t f = 0; f < fields; f++)
    n += put_field(p + n);
  uint32_t harm = below(10);
  if (harm == 0 && n > 0)
    n = below((uint32_t)n);
  else if (harm == 1 && n > 0)
    p[below((uint32_t)n)] = (uint8_t)next_u64();
  return n;
}

/* The fields protobuf-c unpacked, through the same validation. */
static sr_reason_t validate_unpacked(const Streamrec__V1__Event *msg,
                                     sr_event_t *ev) {
  char err[256];
  sr_event_fields_t fld = {
      .user_id = msg->user_id,
      .user_len = strlen(msg->user_id),
      .item_id = msg->item_id,
      .item_len = strlen(msg->item_id),
      .type = (int64_t)msg->type,
      .value = msg->value,
      .timestamp_ms = msg->timestamp_ms,
  };
  return sr_event_validate(&fld, NULL, ev, err, sizeof err);
}

static void test_reads_as_protobuf_c_does(void **state) {
  (void)state;
  enum { MESSAGES = 100000 };
  uint8_t p[1024];
  unsigned accepted = 0, refused_by_both = 0;
  for (unsigned k = 0; k < MESSAGES; k++) {
    size_t n = make_message(p);
    sr_event_t ev, want;
    char err[256];
    sr_reason_t reason =
        sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err);
    Streamrec__V1__Event *msg = streamrec__v1__event__unpack(NULL, n, p);
    if (!msg) {
      /* What protobuf-c cannot read is undecodable here too. */
      if (reason != SR_REASON_DECODE)
        fail_msg("message %u: protobuf-c refuses it, decode gives %d (%s)", k,
                 reason, err);
      refused_by_both++;
      continue;
    }
    sr_reason_t expect = validate_unpacked(msg, &want);
    if (reason == SR_REASON_OK) {
      /* An accepted event is the one protobuf-c reads, bit for bit. */
      assert_int_equal(expect, SR_REASON_OK);
      assert_int_equal(ev.user_len, want.user_len);
      assert_memory_equal(ev.user_id, want.user_id, ev.user_len + 1);
      assert_int_equal(ev.item_len, want.item_len);
      assert_memory_equal(ev.item_id, want.item_id, ev.item_len + 1);
      assert_int_equal(ev.type, want.type);
      assert_memory_equal(&ev.value, &want.value, sizeof ev.value);
      assert_int_equal(ev.timestamp_ms, want.timestamp_ms);
      accepted++;
    } else if (reason != SR_REASON_DECODE && reason != expect) {
      /* Beyond framing (stricter than protobuf-c's: wire types, NULs in
       * ids), a rejection is the one validation gives protobuf-c's read. */
      fail_msg("message %u: decode gives %d (%s), protobuf-c's fields %d", k,
               reason, err, expect);
    }
    streamrec__v1__event__free_unpacked(msg, NULL);
  }
  /* Both outcomes must be common, or the comparison says little. */
  if (accepted < MESSAGES / 10 || refused_by_both < MESSAGES / 10)
    fail_msg("%u accepted, %u refused by both, of %u", accepted,
             refused_by_both, MESSAGES);
}

static void expect_decode(const uint8_t *p, size_t n, sr_reason_t want,
                          const char *text) {
  sr_event_t ev;
  char err[256] = "";
  assert_int_equal(
      sr_event_decode(p, n, SR_WIRE_PROTO, NULL, &ev, err, sizeof err), want);
  if (text && !strstr(err, text))
    fail_msg("error \"%s\" does not say \"%s\"", err, text);
}

/* Tags and length prefixes: protobuf-c reads up to 5 bytes, so a sixth is
 * a decode error even where the wire format would allow it. */
static void test_head_lengths(void **state) {
  (void)state;
  uint8_t p[64];
  size_t n = put_varint(p, 1 << 3 | 2, 5);
  n += put_varint(p + n, 1, 5);
  p[n++] = 'u';
  n += put_varint(p + n, 2 << 3 | 2, 1);
  n += put_varint(p + n, 1, 1);
  p[n++] = 'i';
  n += put_varint(p + n, 3 << 3, 1);
  n += put_varint(p + n, 2, 1);
  expect_decode(p, n, SR_REASON_OK, NULL);
  n = put_varint(p, 1 << 3 | 2, 6);
  n += put_varint(p + n, 1, 1);
  p[n++] = 'u';
  expect_decode(p, n, SR_REASON_DECODE, "not a valid Event");
  n = put_varint(p, 1 << 3 | 2, 1);
  n += put_varint(p + n, 1, 6);
  p[n++] = 'u';
  expect_decode(p, n, SR_REASON_DECODE, "not a valid Event");
}

/* An enum is a 32-bit field: a negative type takes ten bytes on the wire
 * and is read as itself, a varint past 32 bits as its low bits. */
static void test_type_is_int32(void **state) {
  (void)state;
  uint8_t p[64];
  size_t n = put_varint(p, 1 << 3 | 2, 1);
  n += put_varint(p + n, 1, 1);
  p[n++] = 'u';
  n += put_varint(p + n, 2 << 3 | 2, 1);
  n += put_varint(p + n, 1, 1);
  p[n++] = 'i';
  n += put_varint(p + n, 3 << 3, 1);
  size_t at = n;
  n += put_varint(p + n, (uint64_t)-1, 1);
  expect_decode(p, n, SR_REASON_UNKNOWN_TYPE, "type -1 is unknown");
  n = at + put_varint(p + at, (uint64_t)1 << 32 | 2, 1);
  expect_decode(p, n, SR_REASON_OK, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_as_protobuf_c_does),
      cmocka_unit_test(test_head_lengths),
      cmocka_unit_test(test_type_is_int32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
