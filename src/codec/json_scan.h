/* The steps of a one-pass JSON scan that the event decoder
 * (codec/json_event) and the field mapping (codec/mapping) share: a cursor
 * over the message's bytes, whitespace, one expected byte, a digit.
 * Header-only, so that both scanners inline them. */
#ifndef SR_CODEC_JSON_SCAN_H
#define SR_CODEC_JSON_SCAN_H

typedef struct sr_json_cursor {
  const char *cur;
  const char *end;
} sr_json_cursor_t;

/* JSON whitespace, the four bytes jansson skips between tokens. */
static inline void sr_json_skip_ws(sr_json_cursor_t *c) {
  while (c->cur < c->end && (*c->cur == ' ' || *c->cur == '\n' ||
                             *c->cur == '\r' || *c->cur == '\t'))
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

#endif
