/* Event codec: protobuf-c and jansson decoding, validation, encoding. */
#include "codec/event_codec.h"
#include "codec/json_event.h"

#include "codec/reason.h"
#include "streamrec.pb-c.h"
#include "util/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wire types of the Event fields 1..5, as protobuf encodes them. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
static const char *const field_names[6] = {NULL,   "user_id", "item_id",
                                           "type", "value",   "timestamp_ms"};
static const int field_wire[6] = {-1,        WT_LEN, WT_LEN,
                                  WT_VARINT, WT_I32, WT_VARINT};

int sr_wire_fmt_parse(const char *name, sr_wire_fmt_t *fmt) {
  if (strcmp(name, "auto") == 0)
    *fmt = SR_WIRE_AUTO;
  else if (strcmp(name, "proto") == 0 || strcmp(name, "protobuf") == 0)
    *fmt = SR_WIRE_PROTO;
  else if (strcmp(name, "json") == 0)
    *fmt = SR_WIRE_JSON;
  else if (strcmp(name, "avro") == 0)
    *fmt = SR_WIRE_AVRO;
  else
    return -1;
  return 0;
}

static sr_reason_t check_id(const char *name, const char *id, size_t len,
                            size_t max, char *errstr, size_t errlen) {
  if (!id || len == 0)
    return sr_reason_fail(SR_REASON_EMPTY_ID, errstr, errlen, "%s is empty",
                          name);
  const char *nul = memchr(id, '\0', len);
  if (nul)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "%s contains a NUL byte at offset %zu", name,
                          (size_t)(nul - id));
  if (len > max)
    return sr_reason_fail(SR_REASON_ID_TOO_LONG, errstr, errlen,
                          "%s is %zu bytes, limit %zu", name, len, max);
  return SR_REASON_OK;
}

static sr_reason_t check_type(const sr_event_fields_t *fld, char *errstr,
                              size_t errlen) {
  if (fld->type_name && (fld->type <= 0 || fld->type >= SR_EV__COUNT))
    return sr_reason_fail(SR_REASON_UNKNOWN_TYPE, errstr, errlen,
                          "type \"%.64s\" is unknown", fld->type_name);
  if (fld->type == 0)
    return sr_reason_fail(SR_REASON_UNKNOWN_TYPE, errstr, errlen,
                          "type is unspecified");
  if (fld->type < 0 || fld->type >= SR_EV__COUNT)
    return sr_reason_fail(SR_REASON_UNKNOWN_TYPE, errstr, errlen,
                          "type %" PRId64 " is unknown", fld->type);
  return SR_REASON_OK;
}

static sr_reason_t check_value(double value, char *errstr, size_t errlen) {
  if (isnan(value))
    return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen, "value is NaN");
  if (isinf(value))
    return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen,
                          "value is infinite");
  /* Annex F makes the conversion round; only a double that rounds to an
   * infinite float is out of range (FLT_MAX itself prints as 3.40282347e38,
   * slightly above FLT_MAX). */
  if (isinf((float)value))
    return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen,
                          "value %g is out of float range", value);
  return SR_REASON_OK;
}

static sr_reason_t check_time(int64_t ts, const sr_event_limits_t *lim,
                              char *errstr, size_t errlen) {
  /* The codec reads no clock: the caller owns time (see event_codec.h). */
  if (!lim || lim->max_future_ms <= 0 || lim->now_ms == 0)
    return SR_REASON_OK;
  int64_t now = lim->now_ms;
  /* Saturate rather than overflow when now + skew passes INT64_MAX. */
  int64_t limit = now > INT64_MAX - lim->max_future_ms
                      ? INT64_MAX
                      : now + lim->max_future_ms;
  if (ts > limit)
    return sr_reason_fail(SR_REASON_FUTURE_TS, errstr, errlen,
                          "timestamp_ms %" PRId64 " is more than %" PRId64
                          " ms after now (%" PRId64 ")",
                          ts, lim->max_future_ms, now);
  return SR_REASON_OK;
}

static void copy_id(char *dst, uint16_t *dst_len, const char *src, size_t len) {
  memcpy(dst, src, len);
  dst[len] = '\0';
  *dst_len = (uint16_t)len;
}

sr_reason_t sr_event_validate(const sr_event_fields_t *fld,
                              const sr_event_limits_t *lim, sr_event_t *ev,
                              char *errstr, size_t errlen) {
  size_t max_id = SR_ID_MAX;
  if (lim && lim->max_id_len && lim->max_id_len < SR_ID_MAX)
    max_id = lim->max_id_len;
  sr_reason_t reason;
  if ((reason = check_id("user_id", fld->user_id, fld->user_len, max_id, errstr,
                         errlen)) ||
      (reason = check_id("item_id", fld->item_id, fld->item_len, max_id, errstr,
                         errlen)) ||
      (reason = check_type(fld, errstr, errlen)) ||
      (reason = check_value(fld->value, errstr, errlen)) ||
      (reason = check_time(fld->timestamp_ms, lim, errstr, errlen)))
    return reason;
  copy_id(ev->user_id, &ev->user_len, fld->user_id, fld->user_len);
  copy_id(ev->item_id, &ev->item_len, fld->item_id, fld->item_len);
  ev->type = (sr_event_type_t)fld->type;
  ev->value = (float)fld->value;
  ev->timestamp_ms = fld->timestamp_ms;
  return SR_REASON_OK;
}

/* Reads a base-128 varint at *pos. Returns 0, or -1 when the input ends
 * first or the varint is longer than 10 bytes. */
static int read_varint(const uint8_t *p, size_t len, size_t *pos,
                       uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
    uint8_t b = p[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* protobuf-c reads tags and length prefixes of at most this many bytes and
 * rejects longer ones, which the wire format would allow. */
#define PBC_HEAD_MAX 5

/* The last occurrence of each Event field on the wire (the one protobuf
 * keeps); absent fields keep proto3's defaults. */
typedef struct wire_event {
  const char *id[3]; /* [1] user_id, [2] item_id: payload bytes, not copied */
  size_t id_len[3];
  uint64_t type;
  uint32_t value_bits;
  uint64_t timestamp;
  int too_long_head; /* a tag or length prefix protobuf-c would refuse */
} wire_event_t;

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* Reads the payload of field (of wire type wt) at *pos into w when it is
 * an Event field, or skips it. Returns 0, or -1 when truncated. */
static int read_payload(const uint8_t *p, size_t len, size_t *pos,
                        uint64_t field, unsigned wt, wire_event_t *w) {
  uint64_t n = 0;
  size_t at = *pos;
  switch (wt) {
  case WT_VARINT:
    if (read_varint(p, len, pos, &n) != 0)
      return -1;
    if (field == 3)
      w->type = n;
    else if (field == 5)
      w->timestamp = n;
    return 0;
  case WT_I64: n = 8; break;
  case WT_I32: n = 4; break;
  case WT_LEN:
    if (read_varint(p, len, pos, &n) != 0)
      return -1;
    w->too_long_head |= *pos - at > PBC_HEAD_MAX;
    break;
  }
  if (n > len - *pos)
    return -1;
  if (field == 4)
    w->value_bits = le32(p + *pos);
  else if (field == 1 || field == 2) {
    w->id[field] = (const char *)p + *pos;
    w->id_len[field] = (size_t)n;
  }
  *pos += (size_t)n;
  return 0;
}

static const char *wire_field_name(uint64_t field, char *buf, size_t len) {
  if (field >= 1 && field <= 5)
    return field_names[field];
  snprintf(buf, len, "field %" PRIu64, field);
  return buf;
}

/* Decodes the protobuf framing of an Event into w in one pass, reading the
 * fields in place rather than through protobuf-c's unpack (whose
 * allocations and copies cost more than the rest of the decode): the
 * rules are protobuf-c's (the last occurrence of a field wins, unknown
 * fields are skipped, an enum is the low 32 bits of its varint), and each
 * rejection names the field. */
static sr_reason_t scan_event(const uint8_t *p, size_t len, wire_event_t *w,
                              char *errstr, size_t errlen) {
  size_t pos = 0;
  char buf[32];
  while (pos < len) {
    uint64_t tag;
    size_t at = pos;
    if (read_varint(p, len, &pos, &tag) != 0)
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "protobuf: bad tag at byte %zu", pos);
    w->too_long_head |= pos - at > PBC_HEAD_MAX;
    uint64_t field = tag >> 3;
    unsigned wt = (unsigned)(tag & 7);
    const char *name = wire_field_name(field, buf, sizeof buf);
    if (field == 0 || field > 536870911)
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "protobuf: invalid field number %" PRIu64, field);
    if (wt != WT_VARINT && wt != WT_I64 && wt != WT_LEN && wt != WT_I32)
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "protobuf: %s has unsupported wire type %u", name,
                            wt);
    if (field <= 5 && (int)wt != field_wire[field])
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "protobuf: %s has wire type %u, expected %d", name,
                            wt, field_wire[field]);
    if (read_payload(p, len, &pos, field, wt, w) != 0)
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "protobuf: %s is truncated", name);
  }
  return SR_REASON_OK;
}

/* Fails when an id's wire bytes hold a NUL byte. */
static sr_reason_t check_nul(const char *name, const char *id, size_t len,
                             char *errstr, size_t errlen) {
  const char *nul = memchr(id, '\0', len);
  if (!nul)
    return SR_REASON_OK;
  return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                        "%s contains a NUL byte at offset %zu", name,
                        (size_t)(nul - id));
}

static sr_reason_t decode_proto(const uint8_t *p, size_t len,
                                const sr_event_limits_t *lim, sr_event_t *ev,
                                char *errstr, size_t errlen) {
  wire_event_t w = {.id = {NULL, "", ""}};
  sr_reason_t reason = scan_event(p, len, &w, errstr, errlen);
  if (reason)
    return reason;
  if (w.too_long_head)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "protobuf: not a valid Event");
  if ((reason = check_nul("user_id", w.id[1], w.id_len[1], errstr, errlen)) ||
      (reason = check_nul("item_id", w.id[2], w.id_len[2], errstr, errlen)))
    return reason;
  float value;
  memcpy(&value, &w.value_bits, sizeof value);
  sr_event_fields_t fld = {
      .user_id = w.id[1],
      .user_len = w.id_len[1],
      .item_id = w.id[2],
      .item_len = w.id_len[2],
      /* An int32 enum: protobuf keeps the low 32 bits of the varint. */
      .type = (int32_t)(uint32_t)w.type,
      .value = value,
      .timestamp_ms = (int64_t)w.timestamp,
  };
  return sr_event_validate(&fld, lim, ev, errstr, errlen);
}

json_t *sr_proto_json_member(json_t *obj, const char *snake,
                             const char *camel) {
  json_t *val = json_object_get(obj, snake);
  if (!val && camel)
    val = json_object_get(obj, camel);
  return json_is_null(val) ? NULL : val;
}

static const char *json_kind(const json_t *val) {
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

static sr_reason_t json_id(json_t *obj, const char *snake, const char *camel,
                           const char **id, size_t *len, char *errstr,
                           size_t errlen) {
  json_t *val = sr_proto_json_member(obj, snake, camel);
  if (!val)
    return SR_REASON_OK;
  if (!json_is_string(val))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "%s must be a string, not %s", snake, json_kind(val));
  *id = json_string_value(val);
  *len = json_string_length(val);
  return SR_REASON_OK;
}

/* int64 per proto3 JSON: an integer, an integral real, or a string. */
static sr_reason_t json_int64(json_t *val, const char *name, int64_t *out,
                              char *errstr, size_t errlen) {
  if (!val)
    return SR_REASON_OK;
  if (json_is_integer(val)) {
    *out = json_integer_value(val);
    return SR_REASON_OK;
  }
  if (json_is_real(val)) {
    double d = json_real_value(val);
    if (d == floor(d) && d >= -0x1p63 && d < 0x1p63) {
      *out = (int64_t)d;
      return SR_REASON_OK;
    }
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "%s %g is not a 64-bit integer", name, d);
  }
  if (json_is_string(val)) {
    if (sr_json_event_int64_string(json_string_value(val), out) == 0)
      return SR_REASON_OK;
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "%s \"%.32s\" is not a 64-bit integer", name,
                          json_string_value(val));
  }
  return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                        "%s must be an integer or a string, not %s", name,
                        json_kind(val));
}

static sr_reason_t json_event_type(json_t *obj, sr_event_fields_t *fld,
                                   char *errstr, size_t errlen) {
  json_t *val = sr_proto_json_member(obj, "type", NULL);
  if (!val)
    return SR_REASON_OK;
  if (json_is_integer(val)) {
    fld->type = json_integer_value(val);
    return SR_REASON_OK;
  }
  if (!json_is_string(val))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "type must be a name or a number, not %s",
                          json_kind(val));
  sr_event_type_t type;
  const char *name = json_string_value(val);
  /* A name with a NUL inside would match its prefix in strcasecmp. */
  if (strlen(name) == json_string_length(val) &&
      sr_event_type_parse(name, &type) == 0) {
    fld->type = type;
    return SR_REASON_OK;
  }
  fld->type = -1;
  fld->type_name = name;
  return SR_REASON_OK;
}

static sr_reason_t json_value(json_t *obj, double *out, char *errstr,
                              size_t errlen) {
  json_t *val = sr_proto_json_member(obj, "value", NULL);
  if (!val)
    return SR_REASON_OK;
  if (json_is_number(val)) {
    *out = json_number_value(val);
    return SR_REASON_OK;
  }
  if (json_is_string(val)) {
    if (sr_json_event_float_string(json_string_value(val), out) == 0)
      return SR_REASON_OK;
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "value \"%.32s\" is not a number",
                          json_string_value(val));
  }
  return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                        "value must be a number, not %s", json_kind(val));
}

static sr_reason_t json_fields(json_t *obj, sr_event_fields_t *fld,
                               char *errstr, size_t errlen) {
  sr_reason_t reason;
  if ((reason = json_id(obj, "user_id", "userId", &fld->user_id, &fld->user_len,
                        errstr, errlen)) ||
      (reason = json_id(obj, "item_id", "itemId", &fld->item_id, &fld->item_len,
                        errstr, errlen)) ||
      (reason = json_event_type(obj, fld, errstr, errlen)) ||
      (reason = json_value(obj, &fld->value, errstr, errlen)) ||
      (reason =
           json_int64(sr_proto_json_member(obj, "timestamp_ms", "timestampMs"),
                      "timestamp_ms", &fld->timestamp_ms, errstr, errlen)))
    return reason;
  return SR_REASON_OK;
}

sr_reason_t sr_json_event_jansson_fields(const char *p, size_t len,
                                         json_t **root, sr_event_fields_t *fld,
                                         char *errstr, size_t errlen) {
  json_error_t jerr;
  memset(fld, 0, sizeof *fld);
  /* NULs are allowed through jansson so that the rejection names the id. */
  *root = json_loadb(p, len, JSON_ALLOW_NUL, &jerr);
  if (!*root)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "json: %s (line %d, column %d)", jerr.text, jerr.line,
                          jerr.column);
  if (!json_is_object(*root))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "json: an event must be an object, not %s",
                          json_kind(*root));
  return json_fields(*root, fld, errstr, errlen);
}

/* The scanner reads the common flat events in one pass without building a
 * tree; whatever it is unsure of goes to jansson, which decides alone. */
static sr_reason_t decode_json(const char *p, size_t len,
                               const sr_event_limits_t *lim, sr_event_t *ev,
                               char *errstr, size_t errlen) {
  sr_event_fields_t fld;
  if (sr_json_event_scan(p, len, &fld))
    return sr_event_validate(&fld, lim, ev, errstr, errlen);
  json_t *root;
  sr_reason_t reason =
      sr_json_event_jansson_fields(p, len, &root, &fld, errstr, errlen);
  if (!reason)
    reason = sr_event_validate(&fld, lim, ev, errstr, errlen);
  json_decref(root);
  return reason;
}

sr_wire_fmt_t sr_wire_detect(const void *data, size_t len) {
  const char *p = data;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
      continue;
    return p[i] == '{' ? SR_WIRE_JSON : SR_WIRE_PROTO;
  }
  return SR_WIRE_PROTO;
}

sr_reason_t sr_event_decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                            const sr_event_limits_t *lim, sr_event_t *ev,
                            char *errstr, size_t errlen) {
  if (lim && lim->max_message_bytes && len > lim->max_message_bytes)
    return sr_reason_fail(SR_REASON_TOO_LARGE, errstr, errlen,
                          "message is %zu bytes, limit %zu", len,
                          lim->max_message_bytes);
  if (!data)
    data = "";
  if (fmt == SR_WIRE_AUTO)
    fmt = sr_wire_detect(data, len);
  if (fmt == SR_WIRE_JSON)
    return decode_json(data, len, lim, ev, errstr, errlen);
  if (fmt == SR_WIRE_AVRO)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "avro: no writer schema to decode with");
  return decode_proto(data, len, lim, ev, errstr, errlen);
}

int sr_event_encode_proto(const sr_event_t *ev, sr_buf_t *out) {
  Streamrec__V1__Event msg = STREAMREC__V1__EVENT__INIT;
  /* protobuf-c's fields are not const, but packing only reads them. */
  msg.user_id = (char *)ev->user_id;
  msg.item_id = (char *)ev->item_id;
  msg.type = (Streamrec__V1__EventType)ev->type;
  msg.value = ev->value;
  msg.timestamp_ms = ev->timestamp_ms;
  size_t size = streamrec__v1__event__get_packed_size(&msg);
  /* An all-default event packs to nothing; out->data may still be NULL. */
  if (size == 0)
    return 0;
  if (sr_buf_reserve(out, size) != 0)
    return -1;
  out->len += streamrec__v1__event__pack(&msg, (uint8_t *)out->data + out->len);
  return 0;
}

size_t sr_utf8_seq(const void *at, size_t n) {
  const unsigned char *s = at;
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  size_t need;
  uint32_t cp;
  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0)
    need = 2, cp = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0)
    need = 3, cp = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0)
    need = 4, cp = s[0] & 0x07;
  else
    return 0;
  if (n < need)
    return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return need;
}

int sr_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t k = 0, n; k < len; k += n)
    if (!(n = sr_utf8_seq(p + k, len - k)))
      return 0;
  return 1;
}

static int quote_byte(sr_buf_t *out, unsigned char c) {
  switch (c) {
  case '"': return sr_buf_append(out, "\\\"", 2);
  case '\\': return sr_buf_append(out, "\\\\", 2);
  case '\n': return sr_buf_append(out, "\\n", 2);
  case '\r': return sr_buf_append(out, "\\r", 2);
  case '\t': return sr_buf_append(out, "\\t", 2);
  }
  if (c < 0x20)
    return sr_buf_printf(out, "\\u%04x", c);
  return sr_buf_append(out, &c, 1);
}

/* Length of the run at p that JSON takes verbatim: printable ASCII other
 * than the quote and the backslash. */
static size_t plain_run(const unsigned char *p, size_t len) {
  size_t n = 0;
  while (n < len && p[n] >= 0x20 && p[n] < 0x80 && p[n] != '"' && p[n] != '\\')
    n++;
  return n;
}

int sr_json_quote(sr_buf_t *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  if (sr_buf_append(out, "\"", 1) != 0)
    return -1;
  for (size_t i = 0; i < len;) {
    size_t n = plain_run(p + i, len - i);
    int rc;
    if (n > 0) {
      rc = sr_buf_append(out, p + i, n);
    } else if ((n = sr_utf8_seq(p + i, len - i)) == 0) {
      rc = sr_buf_append(out, "\\ufffd", 6);
      n = 1;
    } else if (n == 1) {
      rc = quote_byte(out, p[i]);
    } else {
      rc = sr_buf_append(out, p + i, n);
    }
    if (rc != 0)
      return -1;
    i += n;
  }
  return sr_buf_append(out, "\"", 1);
}

/* Ids are measured, not taken from user_len/item_len, so that an event a
 * caller filled with snprintf alone encodes the same as in protobuf. */
static size_t id_len(const char *id) {
  return strnlen(id, SR_ID_MAX + 1);
}

int sr_event_encode_json(const sr_event_t *ev, sr_buf_t *out) {
  const char *type = sr_event_type_name(ev->type);
  if (sr_buf_append(out, "{\"user_id\":", 11) != 0 ||
      sr_json_quote(out, ev->user_id, id_len(ev->user_id)) != 0 ||
      sr_buf_append(out, ",\"item_id\":", 11) != 0 ||
      sr_json_quote(out, ev->item_id, id_len(ev->item_id)) != 0)
    return -1;
  int rc = type ? sr_buf_printf(out, ",\"type\":\"%s\"", type)
                : sr_buf_printf(out, ",\"type\":%d", (int)ev->type);
  if (rc != 0)
    return -1;
  /* %.9g round-trips every float; proto3 JSON spells the rest as strings. */
  if (isnan(ev->value))
    rc = sr_buf_printf(out, ",\"value\":\"NaN\"");
  else if (isinf(ev->value))
    rc = sr_buf_printf(out, ",\"value\":\"%sInfinity\"",
                       ev->value < 0 ? "-" : "");
  else
    rc = sr_buf_printf(out, ",\"value\":%.9g", (double)ev->value);
  if (rc != 0)
    return -1;
  return sr_buf_printf(out, ",\"timestamp_ms\":%" PRId64 "}", ev->timestamp_ms);
}
