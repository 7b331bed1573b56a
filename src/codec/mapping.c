/* Field mapping over jansson's tree; see mapping.h. */
#include "codec/mapping.h"

#include "codec/json_event.h"
#include "util/err.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
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

typedef struct seg {
  char *name; /* a member name, or NULL for an array index */
  size_t index;
} seg_t;

typedef struct source {
  src_kind_t kind;
  char *text; /* as configured, for the errors of each message */
  seg_t segs[PATH_MAX_SEGS];
  size_t n_segs;
  char *header;             /* SRC_HEADER */
  sr_event_type_t constant; /* SRC_CONST */
} source_t;

struct sr_mapping {
  source_t src[SR_MAP__COUNT];
  sr_type_alias_t *types; /* names owned */
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

__attribute__((format(printf, 4, 5))) static sr_reason_t
fail(sr_reason_t reason, char *errstr, size_t errlen, const char *fmt, ...) {
  if (errstr && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errlen, fmt, ap);
    va_end(ap);
  }
  return reason;
}

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
    src->segs[src->n_segs++] = (seg_t){name, 0};
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
  if (!map->types)
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
    map->n_types++;
  }
  return SR_OK;
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
  return map;
fail:
  sr_mapping_free(map);
  return NULL;
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
    if (*p >= end || !isdigit((unsigned char)**p))
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

/* YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM); 'T' may be 't' or a space, and
 * the zone is required: a local time would mean another instant on
 * every host. */
static int parse_iso8601(const char *s, size_t len, int64_t *ms) {
  const char *p = s, *end = s + len;
  int y, mo, d, h, mi, sec, frac, east;
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
  for (size_t i = 0; i < len; i++)
    if (!strchr("0123456789+-.eE", s[i]))
      return false;
  return isdigit((unsigned char)s[len - 1]) != 0;
}

int sr_mapping_parse_time(const char *s, size_t len, sr_ts_fmt_t fmt,
                          int64_t *ms) {
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

/* A value found for one field: a JSON node, or bytes of the Kafka
 * message (key, header), or the Kafka timestamp. */
typedef struct found {
  json_t *node;
  const char *bytes;
  size_t len;
  bool is_kafka_ts;
  int64_t kafka_ts;
} found_t;

static json_t *walk(json_t *root, const source_t *src) {
  json_t *node = root;
  for (size_t s = 0; s < src->n_segs && node; s++)
    node = src->segs[s].name ? json_object_get(node, src->segs[s].name)
                             : json_array_get(node, src->segs[s].index);
  return json_is_null(node) ? NULL : node;
}

static json_t *native_member(json_t *root, int f) {
  json_t *val = json_object_get(root, native_names[f][0]);
  if (!val && native_names[f][1])
    val = json_object_get(root, native_names[f][1]);
  return json_is_null(val) ? NULL : val;
}

/* Finds the field's value. Returns 1 when found, 0 when absent. */
static int find(const source_t *src, int f, json_t *root,
                const sr_msg_meta_t *meta, found_t *out) {
  const void *val;
  memset(out, 0, sizeof(*out));
  switch (src->kind) {
  case SRC_NATIVE: out->node = native_member(root, f); return !!out->node;
  case SRC_PATH: out->node = walk(root, src); return !!out->node;
  case SRC_KEY:
    if (!meta || !meta->key)
      return 0;
    out->bytes = meta->key;
    out->len = meta->key_len;
    return 1;
  case SRC_KAFKA_TS:
    if (!meta || meta->timestamp_ms < 0)
      return 0;
    out->is_kafka_ts = true;
    out->kafka_ts = meta->timestamp_ms;
    return 1;
  case SRC_HEADER:
    if (!meta || !meta->header ||
        meta->header(meta->msg, src->header, &val, &out->len) != 0 || !val)
      return 0;
    out->bytes = val;
    return 1;
  case SRC_CONST: return 1;
  }
  return 0;
}

static const char *kind_name(const json_t *val) {
  switch (json_typeof(val)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

/* How errors name where a field came from. */
static const char *where(const sr_mapping_t *map, int f) {
  const source_t *src = &map->src[f];
  return src->kind == SRC_NATIVE ? native_names[f][0] : src->text;
}

/* An id: a string, the key or a header as they are, or an integral number
 * as its decimal text in buf. */
static sr_reason_t read_id(const sr_mapping_t *map, int f, const found_t *fd,
                           char buf[32], const char **id, size_t *len,
                           char *errstr, size_t errlen) {
  if (fd->bytes) {
    *id = fd->bytes;
    *len = fd->len;
    return SR_REASON_OK;
  }
  json_t *val = fd->node;
  if (json_is_string(val)) {
    *id = json_string_value(val);
    *len = json_string_length(val);
    return SR_REASON_OK;
  }
  double d = json_is_real(val) ? json_real_value(val) : 0;
  if (json_is_integer(val))
    snprintf(buf, 32, "%" PRId64, (int64_t)json_integer_value(val));
  else if (json_is_real(val) && d == floor(d) && fabs(d) < 0x1p53)
    snprintf(buf, 32, "%" PRId64, (int64_t)d);
  else
    return fail(SR_REASON_BAD_FIELD, errstr, errlen,
                "%s (%s) must be a string or an integer, not %s",
                field_names[f], where(map, f), kind_name(val));
  *id = buf;
  *len = strlen(buf);
  return SR_REASON_OK;
}

/* The platform's names first, then streamrec's own (case-insensitive).
 * Returns 0 with *type, or -1. */
static int lookup_type(const sr_mapping_t *map, const char *name, size_t len,
                       sr_event_type_t *type) {
  for (size_t i = 0; i < map->n_types; i++)
    if (strlen(map->types[i].name) == len &&
        !memcmp(map->types[i].name, name, len)) {
      *type = map->types[i].type;
      return 0;
    }
  char buf[64];
  if (len >= sizeof(buf) || memchr(name, '\0', len))
    return -1;
  memcpy(buf, name, len);
  buf[len] = '\0';
  return sr_event_type_parse(buf, type);
}

static sr_reason_t unknown_type(const sr_mapping_t *map, const char *name,
                                size_t len, char *errstr, size_t errlen) {
  return fail(map->unknown_types == SR_UNKNOWN_SKIP ? SR_REASON_SKIPPED_TYPE
                                                    : SR_REASON_UNKNOWN_TYPE,
              errstr, errlen, "type \"%.*s\" (%s) is unknown",
              (int)(len > 64 ? 64 : len), name, where(map, SR_MAP_TYPE));
}

static sr_reason_t read_type(const sr_mapping_t *map, const found_t *fd,
                             int64_t *type, char *errstr, size_t errlen) {
  const source_t *src = &map->src[SR_MAP_TYPE];
  const char *name = fd->bytes;
  size_t len = fd->len;
  sr_event_type_t named;
  if (src->kind == SRC_CONST) {
    *type = src->constant;
    return SR_REASON_OK;
  }
  if (json_is_integer(fd->node)) {
    *type = json_integer_value(fd->node);
    return SR_REASON_OK;
  }
  if (fd->node && !json_is_string(fd->node))
    return fail(SR_REASON_BAD_FIELD, errstr, errlen,
                "type (%s) must be a name or a number, not %s",
                where(map, SR_MAP_TYPE), kind_name(fd->node));
  if (fd->node) {
    name = json_string_value(fd->node);
    len = json_string_length(fd->node);
  }
  if (lookup_type(map, name, len, &named) != 0)
    return unknown_type(map, name, len, errstr, errlen);
  *type = named;
  return SR_REASON_OK;
}

static sr_reason_t read_value(const sr_mapping_t *map, const found_t *fd,
                              double *value, char *errstr, size_t errlen) {
  if (json_is_number(fd->node)) {
    *value = json_number_value(fd->node);
    return SR_REASON_OK;
  }
  const char *s =
      json_is_string(fd->node) ? json_string_value(fd->node) : fd->bytes;
  size_t len =
      json_is_string(fd->node) ? json_string_length(fd->node) : fd->len;
  char buf[48];
  if (s && len < sizeof(buf)) {
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (sr_json_event_float_string(buf, value) == 0)
      return SR_REASON_OK;
  }
  if (fd->node && !json_is_string(fd->node))
    return fail(SR_REASON_BAD_FIELD, errstr, errlen,
                "value (%s) must be a number, not %s", where(map, SR_MAP_VALUE),
                kind_name(fd->node));
  return fail(SR_REASON_BAD_FIELD, errstr, errlen,
              "value (%s) \"%.32s\" is not a number", where(map, SR_MAP_VALUE),
              s ? buf : "");
}

static sr_reason_t read_time(const sr_mapping_t *map, const found_t *fd,
                             int64_t *ms, char *errstr, size_t errlen) {
  const source_t *src = &map->src[SR_MAP_TIMESTAMP];
  /* Unmapped, the member is streamrec's own timestamp_ms. */
  sr_ts_fmt_t fmt = src->kind == SRC_NATIVE ? SR_TS_MS : map->ts_fmt;
  json_t *val = fd->node;
  int rc;
  if (fd->is_kafka_ts) {
    *ms = fd->kafka_ts;
    return SR_REASON_OK;
  }
  if (json_is_integer(val))
    rc = sr_mapping_number_time((double)json_integer_value(val), fmt, ms);
  else if (json_is_real(val))
    rc = sr_mapping_number_time(json_real_value(val), fmt, ms);
  else if (json_is_string(val))
    rc = sr_mapping_parse_time(json_string_value(val), json_string_length(val),
                               fmt, ms);
  else if (val)
    return fail(SR_REASON_BAD_FIELD, errstr, errlen,
                "timestamp (%s) must be a number or a string, not %s",
                where(map, SR_MAP_TIMESTAMP), kind_name(val));
  else
    rc = sr_mapping_parse_time(fd->bytes, fd->len, fmt, ms);
  if (rc == 0)
    return SR_REASON_OK;
  if (json_is_string(val))
    return fail(SR_REASON_BAD_TIMESTAMP, errstr, errlen,
                "timestamp (%s) \"%.40s\" is not a timestamp in format %s",
                where(map, SR_MAP_TIMESTAMP), json_string_value(val),
                (const char *[]){"auto", "ms", "s", "iso8601"}[fmt]);
  return fail(SR_REASON_BAD_TIMESTAMP, errstr, errlen,
              "timestamp (%s) is not a timestamp in format %s",
              where(map, SR_MAP_TIMESTAMP),
              (const char *[]){"auto", "ms", "s", "iso8601"}[fmt]);
}

/* Ids are formatted into these when they come as numbers. */
typedef struct id_bufs {
  char user[32];
  char item[32];
} id_bufs_t;

static sr_reason_t read_field(const sr_mapping_t *map, int f, const found_t *fd,
                              sr_event_fields_t *fld, id_bufs_t *bufs,
                              char *errstr, size_t errlen) {
  switch (f) {
  case SR_MAP_USER_ID:
    return read_id(map, f, fd, bufs->user, &fld->user_id, &fld->user_len,
                   errstr, errlen);
  case SR_MAP_ITEM_ID:
    return read_id(map, f, fd, bufs->item, &fld->item_id, &fld->item_len,
                   errstr, errlen);
  case SR_MAP_TYPE: return read_type(map, fd, &fld->type, errstr, errlen);
  case SR_MAP_VALUE: return read_value(map, fd, &fld->value, errstr, errlen);
  default: return read_time(map, fd, &fld->timestamp_ms, errstr, errlen);
  }
}

/* Reads every field; a mapped one must be there, an unmapped one keeps
 * streamrec's rules (absent: empty or zero). */
static sr_reason_t map_fields(const sr_mapping_t *map, json_t *root,
                              const sr_msg_meta_t *meta, sr_event_fields_t *fld,
                              id_bufs_t *bufs, char *errstr, size_t errlen) {
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    found_t fd;
    if (!find(&map->src[f], f, root, meta, &fd)) {
      if (map->src[f].kind == SRC_NATIVE)
        continue;
      return fail(SR_REASON_MISSING_FIELD, errstr, errlen, "%s (%s) is missing",
                  field_names[f], map->src[f].text);
    }
    sr_reason_t reason = read_field(map, f, &fd, fld, bufs, errstr, errlen);
    if (reason != SR_REASON_OK)
      return reason;
  }
  return SR_REASON_OK;
}

sr_reason_t sr_mapping_decode(const sr_mapping_t *map, const void *p,
                              size_t len, const sr_msg_meta_t *meta,
                              const sr_event_limits_t *lim, sr_event_t *ev,
                              char *errstr, size_t errlen) {
  if (lim && lim->max_message_bytes && len > lim->max_message_bytes)
    return fail(SR_REASON_TOO_LARGE, errstr, errlen,
                "message is %zu bytes, limit %zu", len, lim->max_message_bytes);
  json_error_t jerr;
  json_t *root = json_loadb(p ? p : "", len, JSON_ALLOW_NUL, &jerr);
  if (!root)
    return fail(SR_REASON_DECODE, errstr, errlen,
                "json: %s (line %d, column %d)", jerr.text, jerr.line,
                jerr.column);
  sr_reason_t reason;
  if (!json_is_object(root)) {
    reason = fail(SR_REASON_DECODE, errstr, errlen,
                  "json: an event must be an object, not %s", kind_name(root));
  } else {
    sr_event_fields_t fld = {0};
    id_bufs_t bufs;
    reason = map_fields(map, root, meta, &fld, &bufs, errstr, errlen);
    if (reason == SR_REASON_OK)
      reason = sr_event_validate(&fld, lim, ev, errstr, errlen);
  }
  json_decref(root);
  return reason;
}
