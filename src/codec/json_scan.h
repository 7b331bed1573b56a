/* The steps of a one-pass JSON scan that the event decoder
 * (codec/json_event) and the field mapping (codec/mapping) share: a cursor
 * over the message's bytes, whitespace, one expected byte, a digit.
 * Header-only, so that both scanners inline them. */
#ifndef SR_CODEC_JSON_SCAN_H
#define SR_CODEC_JSON_SCAN_H

#include <stdint.h>
#include <string.h>

typedef struct sr_json_cursor {
  const char *cur;
  const char *end;
} sr_json_cursor_t;

/* JSON whitespace, the four bytes jansson skips between tokens. */
static inline void sr_json_skip_ws(sr_json_cursor_t *c) {
  /* One compare for the usual case of no whitespace at all. */
  while (
      c->cur < c->end && (unsigned char)*c->cur <= ' ' &&
      (*c->cur == ' ' || *c->cur == '\n' || *c->cur == '\r' || *c->cur == '\t'))
    c->cur++;
}

/* Consumes ch when it is the next byte; 1 when it was. */
static inline int sr_json_take(sr_json_cursor_t *c, char ch) {
  if (c->cur == c->end || *c->cur != ch)
    return 0;
  c->cur++;
  return 1;
}

/* 1 when s is before end and an ASCII digit. */
static inline int sr_json_is_digit(const char *s, const char *end) {
  return s < end && *s >= '0' && *s <= '9';
}

/* The first byte from s on that ends a run of plain string bytes
 * (printable ASCII other than '"' and '\\'), or end: the next byte a
 * string scanner must look at. Eight bytes at a time where it can load
 * them, since ids and names are mostly such runs. */
static inline const char *sr_json_plain_run(const char *s, const char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
  while (end - s >= 8) {
    uint64_t x, quote, slash;
    memcpy(&x, s, sizeof(x));
    quote = x ^ (ones * '"');
    slash = x ^ (ones * '\\');
    /* Each term marks its lowest matching byte exactly (a borrow only
     * reaches the bytes above one that matches), which is all ctz needs. */
    uint64_t stop = ((quote - ones) & ~quote) | ((slash - ones) & ~slash) |
                    ((x - ones * 0x20) & ~x) | x;
    stop &= highs;
    if (stop)
      return s + (__builtin_ctzll(stop) >> 3);
    s += 8;
  }
#endif
  for (; s < end; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
      return s;
  }
  return end;
}

#endif
