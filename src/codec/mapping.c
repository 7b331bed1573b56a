/* Field mapping over jansson's tree; see mapping.h. */
#include "codec/mapping.h"

#include "codec/event_codec.h"
#include "codec/json_event.h"
#include "codec/json_scan.h"
#include "util/err.h"

#include "codec/reason.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper paths are refused at start rather than truncated. */
#define PATH_MAX_SEGS 16
/* Timestamps in auto below this are seconds: 1e11 s is the year 5138,
 * 1e11 ms is March 1973. */
#define AUTO_SECONDS_BELOW 1e11

typedef enum src_kind {
  SRC_NATIVE = 0, /* unmapped: streamrec's own member, absent allowed */
  SRC_PATH,
  SRC_KEY,
  SRC_KAFKA_TS,
  SRC_HEADER,
  SRC_CONST, /* the type only */
} src_kind_t;

typedef sr_map_seg_t seg_t;

typedef struct source {
  src_kind_t kind;
  char *text; /* as configured, for the errors of each message */
  seg_t segs[PATH_MAX_SEGS];
  size_t n_segs;
  char *header;             /* SRC_HEADER */
  sr_event_type_t constant; /* SRC_CONST */
} source_t;

/* One path the scanner looks for: a mapped field's, or one spelling of an
 * unmapped field's own member (snake_case, then camelCase). */
typedef struct entry {
  const seg_t *segs;
  size_t n_segs;
  int field;
  int camel; /* 1: the camelCase spelling, read when snake_case is absent */
} entry_t;

/* Paths: 5 mapped or snake_case, 3 camelCase spellings. */
#define ENTRIES_MAX (SR_MAP__COUNT + 3)
/* The trie of the entries' paths: the root and one node per segment. */
#define NODES_MAX (ENTRIES_MAX * PATH_MAX_SEGS + 1)

/* A node of the trie the scanner walks: the root is the message's object,
 * each other node one step (a member name or an index) from its parent, so
 * that a member is matched once whatever the number of paths through it. */
typedef struct pnode {
  const char *name; /* the member's name; NULL: an index step, or the root */
  size_t len;       /* the name's length, or the index */
  uint64_t head;    /* the name's first 8 bytes, zero-padded: one compare */
  unsigned ends;    /* entries whose path ends here */
  unsigned below;   /* entries whose path goes on below */
  int kid, next;    /* first child, next sibling; -1 for none */
} pnode_t;

struct sr_mapping {
  source_t src[SR_MAP__COUNT];
  seg_t native_segs[SR_MAP__COUNT][2];
  entry_t entries[ENTRIES_MAX];
  int n_entries;
  pnode_t nodes[NODES_MAX];
  int n_nodes;
  sr_type_alias_t *types; /* names owned */
  size_t *type_lens;
  size_t n_types;
  sr_unknown_types_t unknown_types;
  sr_ts_fmt_t ts_fmt;
};

static const char *const field_names[SR_MAP__COUNT] = {
    "user_id", "item_id", "type", "value", "timestamp"};
/* streamrec's own members of an unmapped field, and their camelCase. */
static const char *const native_names[SR_MAP__COUNT][2] = {
    {"user_id", "userId"},
    {"item_id", "itemId"},
    {"type", NULL},
    {"value", NULL},
    {"timestamp_ms", "timestampMs"}};

bool sr_mapping_spec_active(const sr_mapping_spec_t *spec) {
  for (int f = 0; f < SR_MAP__COUNT; f++)
    if (spec->fields[f] && spec->fields[f][0])
      return true;
  return spec->n_types > 0;
}

/* Appends "[N]" indices following a name; p points at the first '['. */
static int parse_indices(source_t *src, const char **pp) {
  const char *p = *pp;
  while (*p == '[') {
    char *end;
    if (!isdigit((unsigned char)p[1]) || src->n_segs == PATH_MAX_SEGS)
      return -1;
    unsigned long long idx = strtoull(p + 1, &end, 10);
    if (*end != ']' || idx > 1000000)
      return -1;
    src->segs[src->n_segs++] = (seg_t){NULL, (size_t)idx};
    p = end + 1;
  }
  *pp = p;
  return 0;
}

/* "a.b[0].c": names separated by dots, each followed by any indices. */
static int parse_path(source_t *src, const char *path) {
  const char *p = path;
  for (;;) {
    size_t n = strcspn(p, ".[]");
    if (n == 0 || src->n_segs == PATH_MAX_SEGS)
      return -1;
    char *name = strndup(p, n);
    if (!name)
      return -1;
    src->segs[src->n_segs++] = (seg_t){name, n};
    p += n;
    if (parse_indices(src, &p) != 0)
      return -1;
    if (*p == '\0')
      return 0;
    if (*p != '.')
      return -1;
    p++;
  }
}

static sr_err_t compile_source(const sr_mapping_spec_t *spec, int f,
                               source_t *src, char *errstr, size_t errlen) {
  const char *text = spec->fields[f];
  const char *pre = spec->prefix ? spec->prefix : "input.";
  if (!text || !*text)
    return SR_OK;
  src->text = strdup(text);
  if (!src->text)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  if (!strcmp(text, "@key"))
    src->kind = SRC_KEY;
  else if (!strcmp(text, "@timestamp"))
    src->kind = SRC_KAFKA_TS;
  else if (!strncmp(text, "@header:", 8) && text[8]) {
    src->kind = SRC_HEADER;
    src->header = src->text + 8;
  } else if (text[0] == '=' && f == SR_MAP_TYPE) {
    src->kind = SRC_CONST;
    if (sr_event_type_parse(text + 1, &src->constant) != 0 ||
        src->constant == SR_EV_UNSPECIFIED)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%sfields.type: '%s' is not an event type (VIEW, CLICK, "
                     "ADD_TO_CART, PURCHASE, LIKE, DISLIKE, RATING)",
                     pre, text + 1);
  } else if (text[0] == '@' || text[0] == '=') {
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%sfields.%s: '%s' is not a source (a path, @key, "
                   "@timestamp, @header:NAME%s)",
                   pre, field_names[f], text,
                   f == SR_MAP_TYPE ? " or =TYPE" : "");
  } else {
    src->kind = SRC_PATH;
    if (parse_path(src, text) != 0)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%sfields.%s: '%s' is not a path (names separated by "
                     "'.', none empty, each followed by any [N]; at most %d)",
                     pre, field_names[f], text, PATH_MAX_SEGS);
  }
  return SR_OK;
}

static sr_err_t compile_types(sr_mapping_t *map, const sr_mapping_spec_t *spec,
                              char *errstr, size_t errlen) {
  if (!spec->n_types)
    return SR_OK;
  map->types = calloc(spec->n_types, sizeof(*map->types));
  map->type_lens = calloc(spec->n_types, sizeof(*map->type_lens));
  if (!map->types || !map->type_lens)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < spec->n_types; i++) {
    const sr_type_alias_t *al = &spec->types[i];
    if (!*al->name || al->type <= SR_EV_UNSPECIFIED || al->type >= SR_EV__COUNT)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%stypes.%s: not a name with an event type",
                     spec->prefix ? spec->prefix : "input.", al->name);
    map->types[i].name = strdup(al->name);
    if (!map->types[i].name)
      return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    map->types[i].type = al->type;
    map->type_lens[i] = strlen(al->name);
    map->n_types++;
  }
  return SR_OK;
}

static void add_entry(sr_mapping_t *map, const seg_t *segs, size_t n, int field,
                      int camel) {
  assert(map->n_entries < ENTRIES_MAX);
  map->entries[map->n_entries++] = (entry_t){segs, n, field, camel};
}

/* The first 8 bytes of name[0..len), zero-padded, as one word. */
static uint64_t name_head(const char *name, size_t len) {
  uint64_t head = 0;
  memcpy(&head, name, len < 8 ? len : 8);
  return head;
}

/* The child of parent one step seg away, added when new. */
static int trie_step(sr_mapping_t *map, int parent, const seg_t *seg) {
  int *link = &map->nodes[parent].kid;
  for (; *link >= 0; link = &map->nodes[*link].next) {
    const pnode_t *nd = &map->nodes[*link];
    if (nd->len == seg->index &&
        (seg->name && nd->name ? !memcmp(nd->name, seg->name, nd->len)
                               : !seg->name && !nd->name))
      return *link;
  }
  assert(map->n_nodes < NODES_MAX);
  map->nodes[map->n_nodes] =
      (pnode_t){.name = seg->name,
                .len = seg->index,
                .head = seg->name ? name_head(seg->name, seg->index) : 0,
                .kid = -1,
                .next = -1};
  *link = map->n_nodes;
  return map->n_nodes++;
}

/* The scanner's trie, from the entries. */
static void compile_trie(sr_mapping_t *map) {
  map->nodes[0] = (pnode_t){.kid = -1, .next = -1};
  map->n_nodes = 1;
  for (int i = 0; i < map->n_entries; i++) {
    const entry_t *e = &map->entries[i];
    int node = 0;
    for (size_t s = 0; s < e->n_segs; s++) {
      map->nodes[node].below |= 1u << i;
      node = trie_step(map, node, &e->segs[s]);
    }
    map->nodes[node].ends |= 1u << i;
  }
}

/* The paths of the scanner, from the compiled sources. */
static void compile_entries(sr_mapping_t *map) {
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    source_t *src = &map->src[f];
    if (src->kind == SRC_PATH)
      add_entry(map, src->segs, src->n_segs, f, 0);
    if (src->kind != SRC_NATIVE)
      continue;
    for (int c = 0; c < 2 && native_names[f][c]; c++) {
      map->native_segs[f][c] =
          (seg_t){(char *)native_names[f][c], strlen(native_names[f][c])};
      add_entry(map, &map->native_segs[f][c], 1, f, c);
    }
  }
}

sr_mapping_t *sr_mapping_new(const sr_mapping_spec_t *spec, char *errstr,
                             size_t errlen) {
  sr_mapping_t *map = calloc(1, sizeof(*map));
  if (!map) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  map->unknown_types = spec->unknown_types;
  map->ts_fmt = spec->timestamp_format;
  for (int f = 0; f < SR_MAP__COUNT; f++)
    if (compile_source(spec, f, &map->src[f], errstr, errlen) != SR_OK)
      goto fail;
  if (compile_types(map, spec, errstr, errlen) != SR_OK)
    goto fail;
  compile_entries(map);
  compile_trie(map);
  return map;
fail:
  sr_mapping_free(map);
  return NULL;
}

bool sr_mapping_uses_kafka_timestamp(const sr_mapping_t *map) {
  for (int f = 0; f < SR_MAP__COUNT; f++)
    if (map->src[f].kind == SRC_KAFKA_TS)
      return true;
  return false;
}

void sr_mapping_free(sr_mapping_t *map) {
  if (!map)
    return;
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    for (size_t s = 0; s < map->src[f].n_segs; s++)
      free(map->src[f].segs[s].name);
    free(map->src[f].text);
  }
  for (size_t i = 0; i < map->n_types; i++)
    free((char *)map->types[i].name);
  free(map->types);
  free(map->type_lens);
  free(map);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int64_t y, unsigned m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* n decimal digits at *p into *out; advances *p. */
static int digits(const char **p, const char *end, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (*p >= end || (unsigned)(**p - '0') > 9)
      return -1;
    v = v * 10 + (**p - '0');
  }
  *out = v;
  return 0;
}

static int expect(const char **p, const char *end, char c) {
  if (*p >= end || **p != c)
    return -1;
  (*p)++;
  return 0;
}

/* The zone: Z, +HH:MM, +HHMM or +HH (or '-'), as minutes east of UTC. */
static int parse_zone(const char *p, const char *end, int *east_min) {
  if (p < end && (*p == 'Z' || *p == 'z')) {
    *east_min = 0;
    return p + 1 == end ? 0 : -1;
  }
  if (p >= end || (*p != '+' && *p != '-'))
    return -1;
  int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
  if (digits(&p, end, 2, &hh) != 0)
    return -1;
  if (p < end && *p == ':')
    p++;
  if (p < end && digits(&p, end, 2, &mm) != 0)
    return -1;
  if (p != end || hh > 23 || mm > 59)
    return -1;
  *east_min = sign * (hh * 60 + mm);
  return 0;
}

/* Milliseconds of a fraction ".123456", truncated; advances *p. */
static int parse_fraction(const char **p, const char *end, int *ms) {
  *ms = 0;
  if (*p >= end || (**p != '.' && **p != ','))
    return 0;
  (*p)++;
  int n = 0;
  for (; *p < end && isdigit((unsigned char)**p); (*p)++, n++)
    if (n < 3)
      *ms = *ms * 10 + (**p - '0');
  if (n == 0)
    return -1;
  for (; n < 3; n++)
    *ms *= 10;
  return 0;
}

/* The digits at s[at] and s[at + 1]; -1 unless both are digits. */
static int two_digits(const char *s, int at) {
  unsigned a = (unsigned)(s[at] - '0'), b = (unsigned)(s[at + 1] - '0');
  return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

/* "YYYY-MM-DDTHH:MM:SS.fffZ", what most producers write: the fields by
 * position. Returns 0 with *ms, or -1 for anything else (which the full
 * parser then reads, or rejects). */
static int parse_iso8601_ms_z(const char *s, size_t len, int64_t *ms) {
  if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[23] != 'Z')
    return -1;
  int yh = two_digits(s, 0), yl = two_digits(s, 2), mo = two_digits(s, 5),
      d = two_digits(s, 8), h = two_digits(s, 11), mi = two_digits(s, 14),
      sec = two_digits(s, 17), fh = two_digits(s, 20);
  unsigned fl = (unsigned)(s[22] - '0');
  if ((yh | yl | mo | d | h | mi | sec | fh) < 0 || fl > 9)
    return -1;
  int y = yh * 100 + yl;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo) ||
      h > 23 || mi > 59 || sec > 60)
    return -1;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  *ms = (days * 86400 + h * 3600 + mi * 60 + sec) * 1000 + fh * 10 + (int)fl;
  return 0;
}

/* YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM); 'T' may be 't' or a space, and
 * the zone is required: a local time would mean another instant on
 * every host. */
static int parse_iso8601(const char *s, size_t len, int64_t *ms) {
  const char *p = s, *end = s + len;
  int y, mo, d, h, mi, sec, frac, east;
  if (parse_iso8601_ms_z(s, len, ms) == 0)
    return 0;
  if (digits(&p, end, 4, &y) || expect(&p, end, '-') ||
      digits(&p, end, 2, &mo) || expect(&p, end, '-') ||
      digits(&p, end, 2, &d) || p >= end ||
      (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  if (digits(&p, end, 2, &h) || expect(&p, end, ':') ||
      digits(&p, end, 2, &mi) || expect(&p, end, ':') ||
      digits(&p, end, 2, &sec) || parse_fraction(&p, end, &frac) ||
      parse_zone(p, end, &east))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo) ||
      h > 23 || mi > 59 || sec > 60)
    return -1;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - east * 60;
  *ms = secs * 1000 + frac;
  return 0;
}

int sr_mapping_number_time(double d, sr_ts_fmt_t fmt, int64_t *ms) {
  if (!isfinite(d) || fmt == SR_TS_ISO8601)
    return -1;
  bool secs =
      fmt == SR_TS_S || (fmt == SR_TS_AUTO && fabs(d) < AUTO_SECONDS_BELOW);
  double v = secs ? d * 1000.0 : d;
  if (fmt == SR_TS_MS && v != floor(v))
    return -1;
  v = round(v);
  if (v < -0x1p62 || v >= 0x1p62)
    return -1;
  *ms = (int64_t)v;
  return 0;
}

/* A decimal number as text: what a numeric string must look like before
 * strtod, which would also take "inf", hex and blanks. */
static bool numeric_text(const char *s, size_t len) {
  if (len == 0 || len > 40)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
          c == 'e' || c == 'E'))
      return false;
  }
  return isdigit((unsigned char)s[len - 1]) != 0;
}

/* Text laid out as a date and a time ("2024-05-01T12:00:00Z") holds a
 * ':', so it is never numeric_text: it goes straight to the ISO-8601
 * parser, the form most mapped timestamps take. */
static bool iso_layout(const char *s, size_t len) {
  return len >= 20 && s[4] == '-' && s[7] == '-' && s[13] == ':';
}

int sr_mapping_parse_time(const char *s, size_t len, sr_ts_fmt_t fmt,
                          int64_t *ms) {
  if (iso_layout(s, len))
    return fmt == SR_TS_MS || fmt == SR_TS_S ? -1 : parse_iso8601(s, len, ms);
  if (fmt != SR_TS_ISO8601 && numeric_text(s, len)) {
    char buf[48];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end)
      return -1;
    return sr_mapping_number_time(d, fmt, ms);
  }
  if (fmt == SR_TS_MS || fmt == SR_TS_S)
    return -1;
  return parse_iso8601(s, len, ms);
}

typedef sr_map_val_t val_t;

static const char *kind_name(sr_map_kind_t kind) {
  switch (kind) {
  case SR_MAPV_OBJECT: return "an object";
  case SR_MAPV_ARRAY: return "an array";
  case SR_MAPV_STRING: return "a string";
  case SR_MAPV_INTEGER:
  case SR_MAPV_REAL: return "a number";
  case SR_MAPV_BOOL: return "a boolean";
  default: return "null";
  }
}

/* How errors name where a field came from. */
static const char *where(const sr_mapping_t *map, int f) {
  const source_t *src = &map->src[f];
  return src->kind == SRC_NATIVE ? native_names[f][0] : src->text;
}

/* An id: a string as it is, or an integral number as its decimal text in
 * buf. */
static sr_reason_t read_id(const sr_mapping_t *map, int f, const val_t *v,
                           char buf[32], const char **id, size_t *len,
                           char *errstr, size_t errlen) {
  if (v->kind == SR_MAPV_STRING) {
    *id = v->str;
    *len = v->len;
    return SR_REASON_OK;
  }
  if (v->kind == SR_MAPV_INTEGER)
    snprintf(buf, 32, "%" PRId64, v->integer);
  else if (v->kind == SR_MAPV_REAL && v->real == floor(v->real) &&
           fabs(v->real) < 0x1p53)
    snprintf(buf, 32, "%" PRId64, (int64_t)v->real);
  else
    return sr_reason_fail(SR_REASON_BAD_FIELD, errstr, errlen,
                          "%s (%s) must be a string or an integer, not %s",
                          field_names[f], where(map, f), kind_name(v->kind));
  *id = buf;
  *len = strlen(buf);
  return SR_REASON_OK;
}

/* name[0..len) is streamrec's own spelling of an event type in any case
 * (what sr_event_type_parse's strcasecmp accepts in the C locale). */
static bool own_type_name(const char *name, size_t len, const char *own) {
  size_t i = 0;
  for (; i < len && own[i]; i++) {
    char c = name[i];
    if ((c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c) != own[i])
      return false;
  }
  return i == len && !own[i];
}

/* The platform's names first, then streamrec's own (case-insensitive).
 * Returns 0 with *type, or -1. */
static int lookup_type(const sr_mapping_t *map, const char *name, size_t len,
                       sr_event_type_t *type) {
  for (size_t i = 0; i < map->n_types; i++)
    if (map->type_lens[i] == len && map->types[i].name[0] == name[0] &&
        !memcmp(map->types[i].name, name, len)) {
      *type = map->types[i].type;
      return 0;
    }
  for (int t = SR_EV_UNSPECIFIED + 1; t < SR_EV__COUNT; t++)
    if (own_type_name(name, len, sr_event_type_name((sr_event_type_t)t))) {
      *type = (sr_event_type_t)t;
      return 0;
    }
  return -1;
}

static sr_reason_t read_type(const sr_mapping_t *map, const val_t *v,
                             int64_t *type, char *errstr, size_t errlen) {
  const source_t *src = &map->src[SR_MAP_TYPE];
  sr_event_type_t named;
  if (src->kind == SRC_CONST) {
    *type = src->constant;
    return SR_REASON_OK;
  }
  if (v->kind == SR_MAPV_INTEGER) {
    *type = v->integer;
    return SR_REASON_OK;
  }
  if (v->kind != SR_MAPV_STRING)
    return sr_reason_fail(SR_REASON_BAD_FIELD, errstr, errlen,
                          "type (%s) must be a name or a number, not %s",
                          where(map, SR_MAP_TYPE), kind_name(v->kind));
  if (lookup_type(map, v->str, v->len, &named) == 0) {
    *type = named;
    return SR_REASON_OK;
  }
  return sr_reason_fail(
      map->unknown_types == SR_UNKNOWN_SKIP ? SR_REASON_SKIPPED_TYPE
                                            : SR_REASON_UNKNOWN_TYPE,
      errstr, errlen, "type \"%.*s\" (%s) is unknown",
      (int)(v->len > 64 ? 64 : v->len), v->str, where(map, SR_MAP_TYPE));
}

static sr_reason_t read_value(const sr_mapping_t *map, const val_t *v,
                              double *value, char *errstr, size_t errlen) {
  char buf[48];
  if (v->kind == SR_MAPV_INTEGER || v->kind == SR_MAPV_REAL) {
    *value = v->kind == SR_MAPV_INTEGER ? (double)v->integer : v->real;
    return SR_REASON_OK;
  }
  if (v->kind != SR_MAPV_STRING)
    return sr_reason_fail(SR_REASON_BAD_FIELD, errstr, errlen,
                          "value (%s) must be a number, not %s",
                          where(map, SR_MAP_VALUE), kind_name(v->kind));
  if (v->len < sizeof(buf)) {
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
    if (!memchr(v->str, '\0', v->len) &&
        sr_json_event_float_string(buf, value) == 0)
      return SR_REASON_OK;
  }
  return sr_reason_fail(SR_REASON_BAD_FIELD, errstr, errlen,
                        "value (%s) \"%.*s\" is not a number",
                        where(map, SR_MAP_VALUE),
                        (int)(v->len > 32 ? 32 : v->len), v->str);
}

static const char *const ts_fmt_names[] = {"auto", "ms", "s", "iso8601"};

static sr_reason_t read_time(const sr_mapping_t *map, const val_t *v,
                             int64_t *ms, char *errstr, size_t errlen) {
  const source_t *src = &map->src[SR_MAP_TIMESTAMP];
  /* Unmapped, the member is streamrec's own timestamp_ms. */
  sr_ts_fmt_t fmt = src->kind == SRC_NATIVE ? SR_TS_MS : map->ts_fmt;
  int rc;
  if (v->exact_ms) {
    *ms = v->integer;
    return SR_REASON_OK;
  }
  switch (v->kind) {
  case SR_MAPV_INTEGER:
    rc = sr_mapping_number_time((double)v->integer, fmt, ms);
    break;
  case SR_MAPV_REAL: rc = sr_mapping_number_time(v->real, fmt, ms); break;
  case SR_MAPV_STRING:
    rc = sr_mapping_parse_time(v->str, v->len, fmt, ms);
    break;
  default:
    return sr_reason_fail(SR_REASON_BAD_FIELD, errstr, errlen,
                          "timestamp (%s) must be a number or a string, not %s",
                          where(map, SR_MAP_TIMESTAMP), kind_name(v->kind));
  }
  if (rc == 0)
    return SR_REASON_OK;
  if (v->kind == SR_MAPV_STRING)
    return sr_reason_fail(
        SR_REASON_BAD_TIMESTAMP, errstr, errlen,
        "timestamp (%s) \"%.*s\" is not a timestamp in format %s",
        where(map, SR_MAP_TIMESTAMP), (int)(v->len > 40 ? 40 : v->len), v->str,
        ts_fmt_names[fmt]);
  return sr_reason_fail(SR_REASON_BAD_TIMESTAMP, errstr, errlen,
                        "timestamp (%s) is not a timestamp in format %s",
                        where(map, SR_MAP_TIMESTAMP), ts_fmt_names[fmt]);
}

/* Ids are formatted into these when they come as numbers. */
typedef struct id_bufs {
  char user[32];
  char item[32];
} id_bufs_t;

static sr_reason_t read_field(const sr_mapping_t *map, int f, const val_t *v,
                              sr_event_fields_t *fld, id_bufs_t *bufs,
                              char *errstr, size_t errlen) {
  switch (f) {
  case SR_MAP_USER_ID:
    return read_id(map, f, v, bufs->user, &fld->user_id, &fld->user_len, errstr,
                   errlen);
  case SR_MAP_ITEM_ID:
    return read_id(map, f, v, bufs->item, &fld->item_id, &fld->item_len, errstr,
                   errlen);
  case SR_MAP_TYPE: return read_type(map, v, &fld->type, errstr, errlen);
  case SR_MAP_VALUE: return read_value(map, v, &fld->value, errstr, errlen);
  default: return read_time(map, v, &fld->timestamp_ms, errstr, errlen);
  }
}

/* The value of a source outside the message body. Returns 1 when it
 * applies to the source (found or not: v->kind SR_MAPV_ABSENT), else 0. */
static int meta_value(const source_t *src, const sr_msg_meta_t *meta,
                      val_t *v) {
  const void *bytes;
  memset(v, 0, sizeof(*v));
  switch (src->kind) {
  case SRC_KEY:
    if (meta && meta->key)
      *v = (val_t){
          .kind = SR_MAPV_STRING, .str = meta->key, .len = meta->key_len};
    return 1;
  case SRC_KAFKA_TS:
    if (meta && meta->timestamp_ms >= 0)
      *v = (val_t){.kind = SR_MAPV_INTEGER,
                   .integer = meta->timestamp_ms,
                   .exact_ms = true};
    return 1;
  case SRC_HEADER:
    if (meta && meta->header &&
        meta->header(meta->msg, src->header, &bytes, &v->len) == 0 && bytes) {
      v->kind = SR_MAPV_STRING;
      v->str = bytes;
    }
    return 1;
  case SRC_CONST: v->kind = SR_MAPV_STRING; return 1;
  default: return 0;
  }
}

/* Reads every field from vals (the body's, by field); a mapped one must be
 * there, an unmapped one keeps streamrec's rules (absent: empty or zero). */
static sr_reason_t map_fields(const sr_mapping_t *map, const val_t *vals,
                              const sr_msg_meta_t *meta, sr_event_fields_t *fld,
                              id_bufs_t *bufs, char *errstr, size_t errlen) {
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    val_t meta_v;
    const val_t *v = &vals[f];
    src_kind_t kind = map->src[f].kind;
    if (kind != SRC_PATH && kind != SRC_NATIVE &&
        meta_value(&map->src[f], meta, &meta_v))
      v = &meta_v;
    if (v->kind == SR_MAPV_ABSENT || v->kind == SR_MAPV_NULL) {
      if (kind == SRC_NATIVE)
        continue;
      return sr_reason_fail(SR_REASON_MISSING_FIELD, errstr, errlen,
                            "%s (%s) is missing", field_names[f],
                            map->src[f].text);
    }
    sr_reason_t reason = read_field(map, f, v, fld, bufs, errstr, errlen);
    if (reason != SR_REASON_OK)
      return reason;
  }
  return SR_REASON_OK;
}

static val_t json_val(json_t *node) {
  val_t v = {0};
  switch (node ? json_typeof(node) : JSON_NULL) {
  case JSON_OBJECT: v.kind = SR_MAPV_OBJECT; break;
  case JSON_ARRAY: v.kind = SR_MAPV_ARRAY; break;
  case JSON_STRING:
    v.kind = SR_MAPV_STRING;
    v.str = json_string_value(node);
    v.len = json_string_length(node);
    break;
  case JSON_INTEGER:
    v.kind = SR_MAPV_INTEGER;
    v.integer = json_integer_value(node);
    break;
  case JSON_REAL:
    v.kind = SR_MAPV_REAL;
    v.real = json_real_value(node);
    break;
  case JSON_TRUE:
  case JSON_FALSE: v.kind = SR_MAPV_BOOL; break;
  case JSON_NULL: v.kind = node ? SR_MAPV_NULL : SR_MAPV_ABSENT; break;
  }
  return v;
}

static json_t *walk(json_t *root, const entry_t *e) {
  json_t *node = root;
  for (size_t s = 0; s < e->n_segs && node; s++)
    node = e->segs[s].name
               ? json_object_getn(node, e->segs[s].name, e->segs[s].index)
               : json_array_get(node, e->segs[s].index);
  return node;
}

/* The body's values by jansson's tree: the path of each entry, the
 * snake_case spelling whenever it occurs (even as null). */
static void tree_values(const sr_mapping_t *map, json_t *root,
                        val_t vals[SR_MAP__COUNT]) {
  for (int i = 0; i < map->n_entries; i++) {
    const entry_t *e = &map->entries[i];
    if (e->camel && vals[e->field].kind != SR_MAPV_ABSENT)
      continue;
    vals[e->field] = json_val(walk(root, e));
  }
}

static sr_reason_t decode_tree(const sr_mapping_t *map, const void *p,
                               size_t len, const sr_msg_meta_t *meta,
                               const sr_event_limits_t *lim, sr_event_t *ev,
                               char *errstr, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(p ? p : "", len, JSON_ALLOW_NUL, &jerr);
  if (!root)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "json: %s (line %d, column %d)", jerr.text, jerr.line,
                          jerr.column);
  sr_reason_t reason;
  if (!json_is_object(root)) {
    reason = sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "json: an event must be an object, not %s",
                            kind_name(json_val(root).kind));
  } else {
    val_t vals[SR_MAP__COUNT] = {0};
    sr_event_fields_t fld = {0};
    id_bufs_t bufs;
    tree_values(map, root, vals);
    reason = map_fields(map, vals, meta, &fld, &bufs, errstr, errlen);
    if (reason == SR_REASON_OK)
      reason = sr_event_validate(&fld, lim, ev, errstr, errlen);
  }
  json_decref(root);
  return reason;
}

/* The one-pass scanner: walks the message once, descending only into the
 * members and elements on a configured path (the trie of map->nodes) and
 * checking the rest as it skips them, and reads the values at the ends of
 * the paths. It gives up (returns -1) on anything jansson might read
 * otherwise or reject with a message of its own: escapes in a value on a
 * path or in a key where a path goes on, \u escapes anywhere, a repeated
 * member on a path, numbers jansson cannot hold, deep nesting, bytes that
 * are not UTF-8, any error. jansson then decides alone. */

/* Nesting deeper than this gives up. */
#define SCAN_DEPTH_MAX 64

typedef struct scanner {
  sr_json_cursor_t in;
  const sr_mapping_t *map;
  val_t *slots[ENTRIES_MAX]; /* where each entry's value goes, zeroed */
  int depth;
} scanner_t;

/* A string; *escaped tells whether it held escapes (then str is raw).
 * Inlined: a message is mostly strings, most of them a few bytes long. */
static inline __attribute__((always_inline)) int
scan_string(scanner_t *sc, const char **str, size_t *len, bool *escaped) {
  if (!sr_json_take(&sc->in, '"'))
    return -1;
  const char *s = sc->in.cur, *end = sc->in.end;
  *escaped = false;
  for (;;) {
    s = sr_json_plain_run(s, end);
    if (s == end)
      return -1;
    unsigned c = (unsigned char)*s;
    if (c == '"') {
      *str = sc->in.cur;
      *len = (size_t)(s - sc->in.cur);
      sc->in.cur = s + 1;
      return 0;
    }
    if (c < 0x20)
      return -1;
    if (c == '\\') {
      if (s + 1 >= end || !s[1] || !strchr("\"\\/bfnrt", s[1]))
        return -1;
      *escaped = true;
      s += 2;
    } else {
      size_t n = sr_utf8_seq(s, (size_t)(end - s));
      if (!n)
        return -1;
      s += n;
    }
  }
}

/* Powers of ten a double holds exactly. */
static const double exact_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A real of at most 15 digits and no exponent: its digits as an integer
 * (below 2^53) over an exact power of ten, one correctly rounded division,
 * which is the double strtod returns. Returns 0 with *d, or -1. */
static int short_real(const char *digits, const char *dot, const char *end,
                      bool neg, double *d) {
  size_t frac = (size_t)(end - dot - 1);
  if ((size_t)(dot - digits) + frac > 15)
    return -1;
  int64_t m = 0;
  for (const char *s = digits; s < end; s++)
    if (s != dot)
      m = m * 10 + (*s - '0');
  *d = (double)m / exact_pow10[frac];
  if (neg)
    *d = -*d;
  return 0;
}

/* A real as jansson converts it: strtod on a copy; one that overflows, or
 * a locale with another decimal point, gives up. */
static int long_real(const char *start, size_t n, double *d) {
  char buf[64];
  if (n >= sizeof(buf) || *localeconv()->decimal_point != '.')
    return -1;
  memcpy(buf, start, n);
  buf[n] = '\0';
  *d = strtod(buf, NULL);
  return isinf(*d) ? -1 : 0;
}

/* A number in jansson's grammar into v; an integer of more than 18
 * digits, or a real that overflows, gives up. */
static int scan_number(scanner_t *sc, val_t *v) {
  const char *start = sc->in.cur, *s = sc->in.cur, *end = sc->in.end;
  const char *dot = NULL;
  bool neg = s < end && *s == '-', expo = false;
  s += neg;
  const char *digits = s;
  if (s < end && *s == '0')
    s++;
  else
    while (sr_json_is_digit(s, end))
      s++;
  if (s == digits || sr_json_is_digit(s, end))
    return -1;
  size_t ndigits = (size_t)(s - digits);
  if (s < end && *s == '.') {
    dot = s;
    if (!sr_json_is_digit(++s, end))
      return -1;
    while (sr_json_is_digit(s, end))
      s++;
  }
  if (s < end && (*s == 'e' || *s == 'E')) {
    s++;
    if (s < end && (*s == '+' || *s == '-'))
      s++;
    if (!sr_json_is_digit(s, end))
      return -1;
    while (sr_json_is_digit(s, end))
      s++;
    expo = true;
  }
  sc->in.cur = s;
  if (!dot && !expo) {
    if (ndigits > 18)
      return -1;
    int64_t i = 0;
    for (size_t k = 0; k < ndigits; k++)
      i = i * 10 + (digits[k] - '0');
    *v = (val_t){.kind = SR_MAPV_INTEGER, .integer = neg ? -i : i};
    return 0;
  }
  *v = (val_t){.kind = SR_MAPV_REAL};
  if (!expo && short_real(digits, dot, s, neg, &v->real) == 0)
    return 0;
  return long_real(start, (size_t)(s - start), &v->real);
}

static int scan_literal(scanner_t *sc, const char *lit, size_t n,
                        sr_map_kind_t kind, val_t *v) {
  if ((size_t)(sc->in.end - sc->in.cur) < n || memcmp(sc->in.cur, lit, n) != 0)
    return -1;
  sc->in.cur += n;
  v->kind = kind;
  return 0;
}

static int skip_value(scanner_t *sc);

/* The members of an object off every path, checked and dropped. */
static int skip_object(scanner_t *sc) {
  sr_json_skip_ws(&sc->in);
  if (sr_json_take(&sc->in, '}'))
    return 0;
  do {
    const char *key;
    size_t len;
    bool escaped;
    sr_json_skip_ws(&sc->in);
    if (scan_string(sc, &key, &len, &escaped) != 0)
      return -1;
    sr_json_skip_ws(&sc->in);
    if (!sr_json_take(&sc->in, ':'))
      return -1;
    sr_json_skip_ws(&sc->in);
    if (skip_value(sc) != 0)
      return -1;
    sr_json_skip_ws(&sc->in);
  } while (sr_json_take(&sc->in, ','));
  return sr_json_take(&sc->in, '}') ? 0 : -1;
}

static int skip_array(scanner_t *sc) {
  sr_json_skip_ws(&sc->in);
  if (sr_json_take(&sc->in, ']'))
    return 0;
  do {
    sr_json_skip_ws(&sc->in);
    if (skip_value(sc) != 0)
      return -1;
    sr_json_skip_ws(&sc->in);
  } while (sr_json_take(&sc->in, ','));
  return sr_json_take(&sc->in, ']') ? 0 : -1;
}

/* One value off every path: checked as jansson would, not kept. */
static int skip_value(scanner_t *sc) {
  const char *str;
  size_t len;
  bool escaped;
  val_t v;
  int rc;
  if (sc->in.cur == sc->in.end)
    return -1;
  switch (*sc->in.cur) {
  case '{':
  case '[':
    if (++sc->depth > SCAN_DEPTH_MAX)
      return -1;
    sc->in.cur++;
    rc = sc->in.cur[-1] == '{' ? skip_object(sc) : skip_array(sc);
    sc->depth--;
    return rc;
  case '"': return scan_string(sc, &str, &len, &escaped);
  case 't': return scan_literal(sc, "true", 4, SR_MAPV_BOOL, &v);
  case 'f': return scan_literal(sc, "false", 5, SR_MAPV_BOOL, &v);
  case 'n': return scan_literal(sc, "null", 4, SR_MAPV_NULL, &v);
  default: return scan_number(sc, &v);
  }
}

/* The child of trie node parent reached by the member key, or -1. The
 * key is followed in the message by at least its closing quote. */
static int kid_by_name(const scanner_t *sc, int parent, const char *key,
                       size_t len) {
  const pnode_t *nodes = sc->map->nodes;
  uint64_t head = 0;
  if (key + 8 <= sc->in.end) {
    memcpy(&head, key, 8);
    if (len < 8)
      head &= (1ull << (8 * len)) - 1;
  } else {
    head = name_head(key, len);
  }
  for (int k = nodes[parent].kid; k >= 0; k = nodes[k].next) {
    const pnode_t *nd = &nodes[k];
    if (nd->head == head && nd->len == len && nd->name &&
        (len <= 8 || !memcmp(nd->name + 8, key + 8, len - 8)))
      return k;
  }
  return -1;
}

static int kid_by_index(const sr_mapping_t *map, int parent, size_t idx) {
  for (int k = map->nodes[parent].kid; k >= 0; k = map->nodes[k].next)
    if (!map->nodes[k].name && map->nodes[k].len == idx)
      return k;
  return -1;
}

static int scan_node(scanner_t *sc, int node);

static int scan_object(scanner_t *sc, int node) {
  unsigned seen = 0;
  sr_json_skip_ws(&sc->in);
  if (sr_json_take(&sc->in, '}'))
    return 0;
  do {
    const char *key;
    size_t len;
    bool escaped;
    sr_json_skip_ws(&sc->in);
    /* A path goes on below this object, so its keys must read as given. */
    if (scan_string(sc, &key, &len, &escaped) != 0 || escaped)
      return -1;
    sr_json_skip_ws(&sc->in);
    if (!sr_json_take(&sc->in, ':'))
      return -1;
    sr_json_skip_ws(&sc->in);
    int kid = kid_by_name(sc, node, key, len);
    if (kid < 0) {
      if (skip_value(sc) != 0)
        return -1;
    } else {
      /* jansson keeps the last of a repeated member. */
      unsigned hit = sc->map->nodes[kid].ends | sc->map->nodes[kid].below;
      if (hit & seen)
        return -1;
      seen |= hit;
      if (scan_node(sc, kid) != 0)
        return -1;
    }
    sr_json_skip_ws(&sc->in);
  } while (sr_json_take(&sc->in, ','));
  return sr_json_take(&sc->in, '}') ? 0 : -1;
}

static int scan_array(scanner_t *sc, int node) {
  sr_json_skip_ws(&sc->in);
  if (sr_json_take(&sc->in, ']'))
    return 0;
  size_t idx = 0;
  do {
    sr_json_skip_ws(&sc->in);
    int kid = kid_by_index(sc->map, node, idx++);
    if (kid < 0 ? skip_value(sc) : scan_node(sc, kid))
      return -1;
    sr_json_skip_ws(&sc->in);
  } while (sr_json_take(&sc->in, ','));
  return sr_json_take(&sc->in, ']') ? 0 : -1;
}

/* An object or array at node: descended into when a path goes on below
 * it, else only checked. */
static int scan_container(scanner_t *sc, int node, bool object) {
  if (++sc->depth > SCAN_DEPTH_MAX)
    return -1;
  sc->in.cur++;
  bool below = sc->map->nodes[node].below != 0;
  int rc = object ? (below ? scan_object(sc, node) : skip_object(sc))
                  : (below ? scan_array(sc, node) : skip_array(sc));
  sc->depth--;
  return rc;
}

/* The value at trie node: read, and kept for the entries ending here. */
static int scan_node(scanner_t *sc, int node) {
  unsigned ends = sc->map->nodes[node].ends;
  val_t scratch;
  /* Read into the first entry's slot, still empty (a repeated member on a
   * path gives up before its value), rather than copied there. */
  val_t *v = ends ? sc->slots[__builtin_ctz(ends)] : &scratch;
  bool escaped;
  int rc;
  if (sc->in.cur == sc->in.end)
    return -1;
  switch (*sc->in.cur) {
  case '{':
    v->kind = SR_MAPV_OBJECT;
    rc = scan_container(sc, node, true);
    break;
  case '[':
    v->kind = SR_MAPV_ARRAY;
    rc = scan_container(sc, node, false);
    break;
  case '"':
    v->kind = SR_MAPV_STRING;
    /* A value read with escapes needs jansson's decoding. */
    rc = scan_string(sc, &v->str, &v->len, &escaped) || escaped ? -1 : 0;
    break;
  case 't': rc = scan_literal(sc, "true", 4, SR_MAPV_BOOL, v); break;
  case 'f': rc = scan_literal(sc, "false", 5, SR_MAPV_BOOL, v); break;
  case 'n': rc = scan_literal(sc, "null", 4, SR_MAPV_NULL, v); break;
  default: rc = scan_number(sc, v); break;
  }
  if (rc != 0)
    return -1;
  for (unsigned m = ends & (ends - 1); m; m &= m - 1)
    *sc->slots[__builtin_ctz(m)] = *v;
  return 0;
}

/* Scans the message and files the entries' values by field. Returns 0, or
 * -1 to leave the message to jansson. */
static int scan_values(const sr_mapping_t *map, const char *p, size_t len,
                       val_t vals[SR_MAP__COUNT]) {
  scanner_t sc;
  val_t camel[ENTRIES_MAX];
  sc.in = (sr_json_cursor_t){p, p + len};
  sc.map = map;
  sc.depth = 0;
  for (int i = 0; i < map->n_entries; i++) {
    const entry_t *e = &map->entries[i];
    sc.slots[i] = e->camel ? &camel[i] : &vals[e->field];
    *sc.slots[i] = (val_t){0};
  }
  sr_json_skip_ws(&sc.in);
  if (sc.in.cur == sc.in.end || *sc.in.cur != '{' || scan_node(&sc, 0) != 0)
    return -1;
  sr_json_skip_ws(&sc.in);
  if (sc.in.cur != sc.in.end)
    return -1;
  /* The camelCase spelling counts when the snake_case one is absent. */
  for (int i = 0; i < map->n_entries; i++) {
    const entry_t *e = &map->entries[i];
    if (e->camel && vals[e->field].kind == SR_MAPV_ABSENT)
      vals[e->field] = camel[i];
  }
  return 0;
}

sr_reason_t sr_mapping_decode(const sr_mapping_t *map, const void *p,
                              size_t len, const sr_msg_meta_t *meta,
                              const sr_event_limits_t *lim, sr_event_t *ev,
                              char *errstr, size_t errlen) {
  if (lim && lim->max_message_bytes && len > lim->max_message_bytes)
    return sr_reason_fail(SR_REASON_TOO_LARGE, errstr, errlen,
                          "message is %zu bytes, limit %zu", len,
                          lim->max_message_bytes);
  /* scan_values fills the fields read from the body, the only ones
   * map_fields reads from vals. */
  val_t vals[SR_MAP__COUNT];
  if (!p || scan_values(map, p, len, vals) != 0)
    return decode_tree(map, p, len, meta, lim, ev, errstr, errlen);
  sr_event_fields_t fld = {0};
  id_bufs_t bufs;
  sr_reason_t reason = map_fields(map, vals, meta, &fld, &bufs, errstr, errlen);
  if (reason == SR_REASON_OK)
    reason = sr_event_validate(&fld, lim, ev, errstr, errlen);
  return reason;
}

sr_reason_t sr_mapping_decode_tree(const sr_mapping_t *map, const void *p,
                                   size_t len, const sr_msg_meta_t *meta,
                                   const sr_event_limits_t *lim, sr_event_t *ev,
                                   char *errstr, size_t errlen) {
  return decode_tree(map, p, len, meta, lim, ev, errstr, errlen);
}

size_t sr_mapping_path(const sr_mapping_t *map, sr_map_field_t f,
                       const sr_map_seg_t **segs) {
  const source_t *src = &map->src[f];
  if (src->kind == SRC_PATH) {
    *segs = src->segs;
    return src->n_segs;
  }
  if (src->kind != SRC_NATIVE)
    return 0;
  *segs = map->native_segs[f];
  return 1;
}

const char *sr_mapping_source(const sr_mapping_t *map, sr_map_field_t f) {
  return map->src[f].kind == SRC_NATIVE ? NULL : map->src[f].text;
}

sr_reason_t sr_mapping_apply(const sr_mapping_t *map,
                             const sr_map_val_t vals[SR_MAP__COUNT],
                             const sr_msg_meta_t *meta,
                             const sr_event_limits_t *lim, sr_event_t *ev,
                             char *errstr, size_t errlen) {
  sr_event_fields_t fld = {0};
  id_bufs_t bufs;
  sr_reason_t reason = map_fields(map, vals, meta, &fld, &bufs, errstr, errlen);
  if (reason == SR_REASON_OK)
    reason = sr_event_validate(&fld, lim, ev, errstr, errlen);
  return reason;
}
