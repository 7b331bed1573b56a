/* JSON events without jansson: the flat-object scanner and the proto3 JSON
 * scalar spellings. */
#include "codec/json_event.h"

#include "codec/json_scan.h"

#include <errno.h>
#include <langinfo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest number or scalar string the scanner converts through a
 * NUL-terminated copy; longer ones are rare enough to leave to jansson. */
#define TOKEN_MAX 64

/* Integers of up to 18 digits fit int64 whatever the digits, so neither
 * strtoll's range error (a jansson parse error) nor overflow can arise. */
#define INT_DIGITS_MAX 18

typedef enum tok_kind {
  TOK_ABSENT = 0, /* the member did not occur */
  TOK_NULL,
  TOK_STRING,
  TOK_INTEGER, /* a number without '.', 'e' or 'E', as jansson types it */
  TOK_REAL,
} tok_kind_t;

/* One member value as jansson would hold it. */
typedef struct tok {
  tok_kind_t kind;
  const char *str; /* TOK_STRING: the bytes between the quotes, in p */
  size_t len;
  int64_t integer; /* TOK_INTEGER */
  double real;     /* TOK_REAL */
} tok_t;

/* The members json_fields reads, each spelling its own slot so that the
 * snake_case one can take precedence as in event_codec.c's member(). */
enum {
  M_USER,
  M_USER_CAMEL,
  M_ITEM,
  M_ITEM_CAMEL,
  M_TYPE,
  M_VALUE,
  M_TS,
  M_TS_CAMEL,
  M__COUNT
};

static const struct {
  const char *name;
  size_t len;
} member_names[M__COUNT] = {
    [M_USER] = {"user_id", 7},     [M_USER_CAMEL] = {"userId", 6},
    [M_ITEM] = {"item_id", 7},     [M_ITEM_CAMEL] = {"itemId", 6},
    [M_TYPE] = {"type", 4},        [M_VALUE] = {"value", 5},
    [M_TS] = {"timestamp_ms", 12}, [M_TS_CAMEL] = {"timestampMs", 11},
};

typedef sr_json_cursor_t scan_t;

/* A string of printable ASCII only: escapes would need decoding, bytes of
 * 0x80 and above jansson's UTF-8 validation, and control bytes are a
 * jansson parse error, so any of them gives up. Returns 0, or -1. */
static int scan_string(scan_t *sc, const char **str, size_t *len) {
  if (!sr_json_take(sc, '"'))
    return -1;
  const char *start = sc->cur;
  for (const char *s = start; s < sc->end; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"') {
      *str = start;
      *len = (size_t)(s - start);
      sc->cur = s + 1;
      return 0;
    }
    if (c < 0x20 || c >= 0x80 || c == '\\')
      return -1;
  }
  return -1;
}

static int integer_token(const char *digits, size_t n, int neg, tok_t *tok) {
  if (n > INT_DIGITS_MAX)
    return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (digits[i] - '0');
  tok->kind = TOK_INTEGER;
  tok->integer = neg ? -v : v;
  return 0;
}

/* Converts a real the way jansson does: strtod on a NUL-terminated copy of
 * the token. jansson first swaps '.' for the locale's decimal point, so a
 * locale with another one gives up rather than convert differently; an
 * overflow to infinity is a jansson parse error and gives up too. */
static int real_token(const char *s, size_t n, tok_t *tok) {
  char buf[TOKEN_MAX];
  if (n >= sizeof buf)
    return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (memchr(buf, '.', n) && strcmp(nl_langinfo(RADIXCHAR), ".") != 0)
    return -1;
  char *end;
  double d = strtod(buf, &end);
  if (end != buf + n || isinf(d))
    return -1;
  tok->kind = TOK_REAL;
  tok->real = d;
  return 0;
}

/* A number in jansson's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?
 * [0-9]+)?. A leading zero followed by a digit ends the token at the zero,
 * and the caller then finds no separator after it and gives up. */
static int scan_number(scan_t *sc, tok_t *tok) {
  const char *start = sc->cur, *s = sc->cur, *end = sc->end;
  int neg = s < end && *s == '-';
  s += neg;
  const char *digits = s;
  if (s < end && *s == '0')
    s++;
  else
    while (sr_json_is_digit(s, end))
      s++;
  if (s == digits)
    return -1;
  size_t ndigits = (size_t)(s - digits);
  int real = 0;
  if (s < end && *s == '.') {
    s++;
    if (!sr_json_is_digit(s, end))
      return -1;
    while (sr_json_is_digit(s, end))
      s++;
    real = 1;
  }
  if (s < end && (*s == 'e' || *s == 'E')) {
    s++;
    if (s < end && (*s == '+' || *s == '-'))
      s++;
    if (!sr_json_is_digit(s, end))
      return -1;
    while (sr_json_is_digit(s, end))
      s++;
    real = 1;
  }
  sc->cur = s;
  return real ? real_token(start, (size_t)(s - start), tok)
              : integer_token(digits, ndigits, neg, tok);
}

/* A plain string, a number or null; objects, arrays and booleans give up. */
static int scan_value(scan_t *sc, tok_t *tok) {
  if (sc->cur == sc->end)
    return -1;
  char c = *sc->cur;
  if (c == '"') {
    tok->kind = TOK_STRING;
    return scan_string(sc, &tok->str, &tok->len);
  }
  if (c == 'n') {
    if (sc->end - sc->cur < 4 || memcmp(sc->cur, "null", 4) != 0)
      return -1;
    sc->cur += 4;
    tok->kind = TOK_NULL;
    return 0;
  }
  if (c == '-' || (c >= '0' && c <= '9'))
    return scan_number(sc, tok);
  return -1;
}

/* Files a member under its slot. Other keys are dropped, as json_fields
 * never looks at them; their values were still checked to be ones jansson
 * accepts. A repeated member gives up rather than track which occurrence
 * jansson keeps. */
static int keep_member(tok_t toks[M__COUNT], const char *key, size_t len,
                       const tok_t *tok) {
  for (int m = 0; m < M__COUNT; m++) {
    if (len == member_names[m].len &&
        memcmp(key, member_names[m].name, len) == 0) {
      if (toks[m].kind != TOK_ABSENT)
        return -1;
      toks[m] = *tok;
      return 0;
    }
  }
  return 0;
}

/* The whole message: one object, then nothing but whitespace, which is what
 * json_loadb requires of a document. */
static int scan_object(scan_t *sc, tok_t toks[M__COUNT]) {
  sr_json_skip_ws(sc);
  if (!sr_json_take(sc, '{'))
    return -1;
  sr_json_skip_ws(sc);
  if (!sr_json_take(sc, '}')) {
    do {
      const char *key;
      size_t key_len;
      tok_t tok;
      sr_json_skip_ws(sc);
      if (scan_string(sc, &key, &key_len) != 0)
        return -1;
      sr_json_skip_ws(sc);
      if (!sr_json_take(sc, ':'))
        return -1;
      sr_json_skip_ws(sc);
      if (scan_value(sc, &tok) != 0 ||
          keep_member(toks, key, key_len, &tok) != 0)
        return -1;
      sr_json_skip_ws(sc);
    } while (sr_json_take(sc, ','));
    if (!sr_json_take(sc, '}'))
      return -1;
  }
  sr_json_skip_ws(sc);
  return sc->cur == sc->end ? 0 : -1;
}

/* The member as event_codec.c's member() finds it: the snake_case spelling
 * whenever it occurs, even as null, else the camelCase one; NULL when the
 * result is absent or null, which proto3 JSON treats alike. */
static const tok_t *pick(const tok_t toks[M__COUNT], int snake, int camel) {
  const tok_t *tok = &toks[snake];
  if (tok->kind == TOK_ABSENT && camel >= 0)
    tok = &toks[camel];
  return tok->kind == TOK_ABSENT || tok->kind == TOK_NULL ? NULL : tok;
}

/* Copies a string token for the converters that need a NUL terminator.
 * The scanner lets no NUL byte into a string, so the copy reads the same. */
static int copy_string(const tok_t *tok, char buf[TOKEN_MAX]) {
  if (tok->kind != TOK_STRING || tok->len >= TOKEN_MAX)
    return -1;
  memcpy(buf, tok->str, tok->len);
  buf[tok->len] = '\0';
  return 0;
}

static int read_id(const tok_t *tok, const char **id, size_t *len) {
  if (!tok)
    return 0;
  if (tok->kind != TOK_STRING)
    return -1;
  *id = tok->str;
  *len = tok->len;
  return 0;
}

/* An unknown type name gives up: the jansson path keeps the spelling for
 * its rejection, which needs a NUL-terminated copy this scanner lacks. */
static int read_type(const tok_t *tok, int64_t *type) {
  char buf[TOKEN_MAX];
  sr_event_type_t named;
  if (!tok)
    return 0;
  if (tok->kind == TOK_INTEGER) {
    *type = tok->integer;
    return 0;
  }
  if (copy_string(tok, buf) != 0 || sr_event_type_parse(buf, &named) != 0)
    return -1;
  *type = named;
  return 0;
}

static int read_value(const tok_t *tok, double *value) {
  char buf[TOKEN_MAX];
  double d;
  if (!tok)
    return 0;
  switch (tok->kind) {
  case TOK_INTEGER: *value = (double)tok->integer; return 0;
  case TOK_REAL: *value = tok->real; return 0;
  default:
    if (copy_string(tok, buf) != 0 || sr_json_event_float_string(buf, &d) != 0)
      return -1;
    *value = d;
    return 0;
  }
}

/* The rules of event_codec.c's json_int64 for an accepted timestamp. */
static int read_int64(const tok_t *tok, int64_t *out) {
  char buf[TOKEN_MAX];
  if (!tok)
    return 0;
  switch (tok->kind) {
  case TOK_INTEGER: *out = tok->integer; return 0;
  case TOK_REAL:
    if (tok->real != floor(tok->real) || tok->real < -0x1p63 ||
        tok->real >= 0x1p63)
      return -1;
    *out = (int64_t)tok->real;
    return 0;
  default:
    if (copy_string(tok, buf) != 0)
      return -1;
    return sr_json_event_int64_string(buf, out);
  }
}

int sr_json_event_scan(const char *p, size_t len, sr_event_fields_t *fld) {
  scan_t sc = {p, p + len};
  tok_t toks[M__COUNT];
  for (int m = 0; m < M__COUNT; m++)
    toks[m].kind = TOK_ABSENT;
  if (scan_object(&sc, toks) != 0)
    return 0;
  sr_event_fields_t out = {0};
  if (read_id(pick(toks, M_USER, M_USER_CAMEL), &out.user_id, &out.user_len) ||
      read_id(pick(toks, M_ITEM, M_ITEM_CAMEL), &out.item_id, &out.item_len) ||
      read_type(pick(toks, M_TYPE, -1), &out.type) ||
      read_value(pick(toks, M_VALUE, -1), &out.value) ||
      read_int64(pick(toks, M_TS, M_TS_CAMEL), &out.timestamp_ms))
    return 0;
  *fld = out;
  return 1;
}

int sr_json_event_int64_string(const char *s, int64_t *out) {
  if (!(*s == '-' || (*s >= '0' && *s <= '9')))
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

int sr_json_event_float_string(const char *s, double *out) {
  if (strcmp(s, "NaN") == 0)
    *out = NAN;
  else if (strcmp(s, "Infinity") == 0)
    *out = INFINITY;
  else if (strcmp(s, "-Infinity") == 0)
    *out = -INFINITY;
  else {
    /* strtod alone would also take "inf", hex and leading blanks. */
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
      return -1;
    char *end;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
  }
  return 0;
}
