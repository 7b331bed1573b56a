/* Recommendations codec: protobuf-c and jansson, both directions. */
#include "codec/recs_codec.h"

#include "codec/event_codec.h"
#include "streamrec.pb-c.h"
#include "util/buf.h"
#include "util/err.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

int sr_recs_encode_proto(const sr_recs_t *recs, sr_buf_t *out) {
  Streamrec__V1__Recommendations msg = STREAMREC__V1__RECOMMENDATIONS__INIT;
  size_t n = recs->n_items;
  /* One allocation holds the item structs and the pointer array that
   * protobuf-c wants; +1 keeps malloc(0) out of the picture. */
  void *mem = malloc(n * (sizeof(Streamrec__V1__ScoredItem) +
                          sizeof(Streamrec__V1__ScoredItem *)) +
                     1);
  if (!mem)
    return -1;
  Streamrec__V1__ScoredItem *items = mem;
  Streamrec__V1__ScoredItem **ptrs = (Streamrec__V1__ScoredItem **)(items + n);
  for (size_t i = 0; i < n; i++) {
    streamrec__v1__scored_item__init(&items[i]);
    /* protobuf-c's fields are not const, but packing only reads them. */
    items[i].item_id = (char *)str_or_empty(recs->items[i].item_id);
    items[i].score = recs->items[i].score;
    ptrs[i] = &items[i];
  }
  msg.user_id = (char *)str_or_empty(recs->user_id);
  msg.n_items = n;
  msg.items = ptrs;
  msg.generated_at_ms = recs->generated_at_ms;
  msg.event_timestamp_ms = recs->event_timestamp_ms;
  msg.model_version = recs->model_version;
  msg.source = (Streamrec__V1__Source)recs->source;
  size_t size = streamrec__v1__recommendations__get_packed_size(&msg);
  /* An all-default list packs to nothing, and out->data may still be NULL,
   * where even a zero offset is undefined. */
  int rc = size ? sr_buf_reserve(out, size) : 0;
  if (rc == 0 && size)
    out->len += streamrec__v1__recommendations__pack(
        &msg, (uint8_t *)out->data + out->len);
  free(mem);
  return rc;
}

static const char *source_name(sr_source_t source) {
  return source == SR_SOURCE_POPULAR ? "POPULAR" : "PERSONAL";
}

/* proto3 JSON spells non-finite floats as strings; %.9g round-trips the
 * rest. */
static int append_float(sr_buf_t *out, float f) {
  if (isnan(f))
    return sr_buf_printf(out, "\"NaN\"");
  if (isinf(f))
    return sr_buf_printf(out, "\"%sInfinity\"", f < 0 ? "-" : "");
  return sr_buf_printf(out, "%.9g", (double)f);
}

static int append_items(const sr_recs_t *recs, sr_buf_t *out) {
  if (sr_buf_append(out, "[", 1) != 0)
    return -1;
  for (size_t i = 0; i < recs->n_items; i++) {
    const char *id = str_or_empty(recs->items[i].item_id);
    if (sr_buf_append(
            out, i ? ",{\"item_id\":" : "{\"item_id\":", i ? 12 : 11) != 0 ||
        sr_json_quote(out, id, strlen(id)) != 0 ||
        sr_buf_append(out, ",\"score\":", 9) != 0 ||
        append_float(out, recs->items[i].score) != 0 ||
        sr_buf_append(out, "}", 1) != 0)
      return -1;
  }
  return sr_buf_append(out, "]", 1);
}

int sr_recs_encode_json(const sr_recs_t *recs, sr_buf_t *out) {
  const char *user = str_or_empty(recs->user_id);
  if (sr_buf_append(out, "{\"user_id\":", 11) != 0 ||
      sr_json_quote(out, user, strlen(user)) != 0 ||
      sr_buf_append(out, ",\"items\":", 9) != 0 || append_items(recs, out) != 0)
    return -1;
  return sr_buf_printf(
      out,
      ",\"generated_at_ms\":\"%" PRId64 "\",\"event_timestamp_ms\":\"%" PRId64
      "\",\"model_version\":\"%" PRIu64 "\",\"source\":\"%s\"}",
      recs->generated_at_ms, recs->event_timestamp_ms, recs->model_version,
      source_name(recs->source));
}

/* Allocates the block a decoded list owns: the item array, then room for
 * str_bytes of NUL-terminated strings. Returns the string area or NULL. */
static char *alloc_owned(sr_recs_t *recs, size_t n_items, size_t str_bytes) {
  size_t head = n_items * sizeof(sr_rec_item_t);
  char *block = malloc(head + str_bytes);
  if (!block)
    return NULL;
  recs->owned_ = block;
  recs->items = (sr_rec_item_t *)(void *)block;
  recs->n_items = n_items;
  return block + head;
}

/* Copies s into the string area at *cursor and returns the copy. */
static const char *put_str(char **cursor, const char *s, size_t len) {
  char *copy = *cursor;
  memcpy(copy, s, len);
  copy[len] = '\0';
  *cursor += len + 1;
  return copy;
}

static sr_err_t decode_source(int64_t num, sr_source_t *source, char *errstr,
                              size_t errlen) {
  if (num != SR_SOURCE_PERSONAL && num != SR_SOURCE_POPULAR)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "source %" PRId64 " is unknown", num);
  *source = (sr_source_t)num;
  return SR_OK;
}

static sr_err_t copy_proto(const Streamrec__V1__Recommendations *msg,
                           sr_recs_t *recs, char *errstr, size_t errlen) {
  if (decode_source(msg->source, &recs->source, errstr, errlen) != SR_OK)
    return SR_ERR_DECODE;
  size_t bytes = strlen(msg->user_id) + 1;
  for (size_t i = 0; i < msg->n_items; i++)
    bytes += strlen(msg->items[i]->item_id) + 1;
  char *cursor = alloc_owned(recs, msg->n_items, bytes);
  if (!cursor)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  recs->user_id = put_str(&cursor, msg->user_id, strlen(msg->user_id));
  for (size_t i = 0; i < msg->n_items; i++) {
    const char *id = msg->items[i]->item_id;
    recs->items[i].item_id = put_str(&cursor, id, strlen(id));
    recs->items[i].score = msg->items[i]->score;
  }
  recs->generated_at_ms = msg->generated_at_ms;
  recs->event_timestamp_ms = msg->event_timestamp_ms;
  recs->model_version = msg->model_version;
  return SR_OK;
}

static sr_err_t decode_proto(const void *data, size_t len, sr_recs_t *recs,
                             char *errstr, size_t errlen) {
  Streamrec__V1__Recommendations *msg =
      streamrec__v1__recommendations__unpack(NULL, len, data);
  if (!msg)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "protobuf: not a valid Recommendations message");
  sr_err_t err = copy_proto(msg, recs, errstr, errlen);
  streamrec__v1__recommendations__free_unpacked(msg, NULL);
  return err;
}

/* The member spelled snake or camel; NULL when absent or null. */
static json_t *member(json_t *obj, const char *snake, const char *camel) {
  json_t *val = json_object_get(obj, snake);
  if (!val && camel)
    val = json_object_get(obj, camel);
  return json_is_null(val) ? NULL : val;
}

/* Parses all of s as a decimal integer (a leading '-' only when sign).
 * Returns 0 or -1. */
static int parse_integer(const char *s, int sign, int64_t *i64, uint64_t *u64) {
  if (!((sign && *s == '-') || (*s >= '0' && *s <= '9')))
    return -1;
  char *end;
  errno = 0;
  if (sign)
    *i64 = strtoll(s, &end, 10);
  else
    *u64 = strtoull(s, &end, 10);
  return errno || *end ? -1 : 0;
}

static sr_err_t json_int64(json_t *val, const char *name, int64_t *out,
                           char *errstr, size_t errlen) {
  if (!val)
    return SR_OK;
  if (json_is_integer(val)) {
    *out = json_integer_value(val);
    return SR_OK;
  }
  if (json_is_string(val) &&
      parse_integer(json_string_value(val), 1, out, NULL) == 0)
    return SR_OK;
  return sr_errf(errstr, errlen, SR_ERR_DECODE,
                 "%s must be a 64-bit integer or its string", name);
}

static sr_err_t json_uint64(json_t *val, const char *name, uint64_t *out,
                            char *errstr, size_t errlen) {
  if (!val)
    return SR_OK;
  if (json_is_integer(val) && json_integer_value(val) >= 0) {
    *out = (uint64_t)json_integer_value(val);
    return SR_OK;
  }
  if (json_is_string(val) &&
      parse_integer(json_string_value(val), 0, NULL, out) == 0)
    return SR_OK;
  return sr_errf(errstr, errlen, SR_ERR_DECODE,
                 "%s must be an unsigned 64-bit integer or its string", name);
}

static sr_err_t json_source(json_t *val, sr_source_t *source, char *errstr,
                            size_t errlen) {
  if (!val)
    return SR_OK;
  if (json_is_integer(val))
    return decode_source(json_integer_value(val), source, errstr, errlen);
  const char *name = json_string_value(val);
  if (name && strcasecmp(name, "PERSONAL") == 0)
    *source = SR_SOURCE_PERSONAL;
  else if (name && strcasecmp(name, "POPULAR") == 0)
    *source = SR_SOURCE_POPULAR;
  else
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "source must be PERSONAL, POPULAR or 0/1");
  return SR_OK;
}

/* A float per proto3 JSON: a number or "NaN", "Infinity", "-Infinity". */
static int json_float(json_t *val, float *out) {
  double d;
  const char *s = json_string_value(val);
  if (!val)
    d = 0;
  else if (json_is_number(val))
    d = json_number_value(val);
  else if (s && strcmp(s, "NaN") == 0)
    d = NAN;
  else if (s && strcmp(s, "Infinity") == 0)
    d = INFINITY;
  else if (s && strcmp(s, "-Infinity") == 0)
    d = -INFINITY;
  else
    return -1;
  /* A finite number must stay finite as a float. */
  if (isfinite(d) && isinf((float)d))
    return -1;
  *out = (float)d;
  return 0;
}

/* Checks every item and sums the bytes their ids need. */
static sr_err_t check_items(json_t *items, size_t *bytes, char *errstr,
                            size_t errlen) {
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    float score;
    json_t *id = member(item, "item_id", "itemId");
    if (!json_is_object(item))
      return sr_errf(errstr, errlen, SR_ERR_DECODE,
                     "items[%zu] must be an object", i);
    if (id && !json_is_string(id))
      return sr_errf(errstr, errlen, SR_ERR_DECODE,
                     "items[%zu].item_id must be a string", i);
    if (json_float(member(item, "score", NULL), &score) != 0)
      return sr_errf(errstr, errlen, SR_ERR_DECODE,
                     "items[%zu].score must be a float", i);
    *bytes += (id ? json_string_length(id) : 0) + 1;
  }
  return SR_OK;
}

static void copy_items(json_t *items, sr_recs_t *recs, char **cursor) {
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    json_t *id = member(item, "item_id", "itemId");
    recs->items[i].item_id =
        id ? put_str(cursor, json_string_value(id), json_string_length(id))
           : put_str(cursor, "", 0);
    recs->items[i].score = 0;
    json_float(member(item, "score", NULL), &recs->items[i].score);
  }
}

static sr_err_t json_scalars(json_t *root, sr_recs_t *recs, char *errstr,
                             size_t errlen) {
  sr_err_t err;
  if ((err = json_int64(member(root, "generated_at_ms", "generatedAtMs"),
                        "generated_at_ms", &recs->generated_at_ms, errstr,
                        errlen)) ||
      (err = json_int64(member(root, "event_timestamp_ms", "eventTimestampMs"),
                        "event_timestamp_ms", &recs->event_timestamp_ms, errstr,
                        errlen)) ||
      (err = json_uint64(member(root, "model_version", "modelVersion"),
                         "model_version", &recs->model_version, errstr,
                         errlen)) ||
      (err = json_source(member(root, "source", NULL), &recs->source, errstr,
                         errlen)))
    return err;
  return SR_OK;
}

static sr_err_t copy_json(json_t *root, sr_recs_t *recs, char *errstr,
                          size_t errlen) {
  sr_err_t err;
  json_t *user = member(root, "user_id", "userId");
  json_t *items = member(root, "items", NULL);
  size_t bytes = (user ? json_string_length(user) : 0) + 1;
  if (user && !json_is_string(user))
    return sr_errf(errstr, errlen, SR_ERR_DECODE, "user_id must be a string");
  if (items && !json_is_array(items))
    return sr_errf(errstr, errlen, SR_ERR_DECODE, "items must be an array");
  if ((err = json_scalars(root, recs, errstr, errlen)) ||
      (err = check_items(items, &bytes, errstr, errlen)))
    return err;
  char *cursor = alloc_owned(recs, json_array_size(items), bytes);
  if (!cursor)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  recs->user_id =
      user ? put_str(&cursor, json_string_value(user), json_string_length(user))
           : put_str(&cursor, "", 0);
  copy_items(items, recs, &cursor);
  return SR_OK;
}

static sr_err_t decode_json(const void *data, size_t len, sr_recs_t *recs,
                            char *errstr, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(data, len, 0, &jerr);
  if (!root)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "json: %s (line %d, column %d)", jerr.text, jerr.line,
                   jerr.column);
  sr_err_t err = json_is_object(root)
                     ? copy_json(root, recs, errstr, errlen)
                     : sr_errf(errstr, errlen, SR_ERR_DECODE,
                               "json: a list must be an object");
  json_decref(root);
  return err;
}

sr_err_t sr_recs_decode(const void *data, size_t len, int fmt, sr_recs_t *recs,
                        char *errstr, size_t errlen) {
  memset(recs, 0, sizeof *recs);
  if (!data)
    data = "";
  if (fmt == SR_WIRE_AUTO)
    fmt = sr_wire_detect(data, len);
  sr_err_t err = fmt == SR_WIRE_JSON
                     ? decode_json(data, len, recs, errstr, errlen)
                     : decode_proto(data, len, recs, errstr, errlen);
  if (err != SR_OK)
    sr_recs_clear(recs);
  return err;
}

void sr_recs_clear(sr_recs_t *recs) {
  free(recs->owned_);
  memset(recs, 0, sizeof *recs);
}
