/* Item codec; see item_codec.h. */
#include "codec/item_codec.h"

#include "streamrec.pb-c.h"
#include "util/err.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sr_reason_t reject(sr_reason_t reason, char *errstr, size_t errlen,
                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (errstr && errlen)
    vsnprintf(errstr, errlen, fmt, ap);
  va_end(ap);
  return reason;
}

/* The checks both formats share: the id, and every embedding value
 * finite (a NaN would poison whatever is learned from it). */
static sr_reason_t validate(const char *id, size_t len, size_t max_id_len,
                            const float *emb, size_t n_emb, sr_item_t *item,
                            char *errstr, size_t errlen) {
  if (!id || len == 0)
    return reject(SR_REASON_EMPTY_ID, errstr, errlen, "item_id is empty");
  if (len > max_id_len)
    return reject(SR_REASON_ID_TOO_LONG, errstr, errlen,
                  "item_id is %zu bytes, over %zu", len, max_id_len);
  if (memchr(id, '\0', len))
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "item_id contains a NUL byte");
  for (size_t k = 0; k < n_emb; k++)
    if (emb && !isfinite(emb[k]))
      return reject(SR_REASON_NON_FINITE, errstr, errlen,
                    "embedding[%zu] is not finite", k);
  memcpy(item->item_id, id, len);
  item->item_id[len] = '\0';
  item->item_len = (uint16_t)len;
  item->n_embedding = n_emb;
  return SR_REASON_OK;
}

static sr_reason_t decode_proto(const uint8_t *p, size_t len, size_t max_id_len,
                                sr_item_t *item, char *errstr, size_t errlen) {
  Streamrec__V1__Item *msg = streamrec__v1__item__unpack(NULL, len, p);
  if (!msg)
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "protobuf: not a valid Item");
  sr_reason_t reason = validate(
      msg->item_id, msg->item_id ? strlen(msg->item_id) : 0, max_id_len,
      msg->embedding, msg->n_embedding, item, errstr, errlen);
  if (!reason) {
    item->available = !msg->unavailable;
    item->updated_at_ms = msg->updated_at_ms;
    item->n_features = msg->n_features;
  }
  streamrec__v1__item__free_unpacked(msg, NULL);
  return reason;
}

/* proto3 JSON spells a member snake_case or lowerCamelCase; null is
 * absent. */
static json_t *member(json_t *obj, const char *snake, const char *camel) {
  json_t *val = json_object_get(obj, snake);
  if (!val && camel)
    val = json_object_get(obj, camel);
  return json_is_null(val) ? NULL : val;
}

/* int64 in proto3 JSON: a number or a decimal string. */
static int json_int64(json_t *val, int64_t *out) {
  if (json_is_integer(val)) {
    *out = (int64_t)json_integer_value(val);
    return 0;
  }
  if (!json_is_string(val))
    return -1;
  char *end;
  const char *s = json_string_value(val);
  long long v = strtoll(s, &end, 10);
  if (end == s || *end)
    return -1;
  *out = v;
  return 0;
}

/* Checks the content arrays' types: features strings, embedding
 * numbers, every one finite. */
static sr_reason_t json_content(json_t *obj, sr_item_t *item, char *errstr,
                                size_t errlen) {
  json_t *feat = member(obj, "features", NULL),
         *emb = member(obj, "embedding", NULL), *v;
  size_t k;
  if ((feat && !json_is_array(feat)) || (emb && !json_is_array(emb)))
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "features and embedding must be arrays");
  json_array_foreach(feat, k, v) if (!json_is_string(v)) return reject(
      SR_REASON_DECODE, errstr, errlen, "features[%zu] is not a string", k);
  json_array_foreach(emb, k, v) if (!json_is_number(v)) return reject(
      SR_REASON_DECODE, errstr, errlen, "embedding[%zu] is not a number", k);
  item->n_features = feat ? json_array_size(feat) : 0;
  item->n_embedding = emb ? json_array_size(emb) : 0;
  return SR_REASON_OK;
}

static sr_reason_t decode_json_obj(json_t *obj, size_t max_id_len,
                                   sr_item_t *item, char *errstr,
                                   size_t errlen) {
  if (!json_is_object(obj))
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "json: an Item must be an object");
  json_t *id = member(obj, "item_id", "itemId"),
         *avail = member(obj, "available", NULL),
         *unavail = member(obj, "unavailable", NULL),
         *upd = member(obj, "updated_at_ms", "updatedAtMs");
  if (id && !json_is_string(id))
    return reject(SR_REASON_DECODE, errstr, errlen, "item_id is not a string");
  if ((avail && !json_is_boolean(avail)) ||
      (unavail && !json_is_boolean(unavail)))
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "available and unavailable must be booleans");
  item->updated_at_ms = 0;
  if (upd && json_int64(upd, &item->updated_at_ms) != 0)
    return reject(SR_REASON_DECODE, errstr, errlen,
                  "updated_at_ms is not an integer");
  sr_reason_t reason = json_content(obj, item, errstr, errlen);
  if (reason)
    return reason;
  size_t n_emb = item->n_embedding;
  reason = validate(id ? json_string_value(id) : NULL,
                    id ? json_string_length(id) : 0, max_id_len, NULL, 0, item,
                    errstr, errlen);
  item->n_embedding = n_emb;
  /* The proto's field is unavailable; "available" is the spelling people
   * write, accepted as well. Either one saying so takes the item down. */
  item->available = !(avail && json_is_false(avail)) && !json_is_true(unavail);
  return reason;
}

static sr_reason_t decode_json(const char *p, size_t len, size_t max_id_len,
                               sr_item_t *item, char *errstr, size_t errlen) {
  json_error_t jerr;
  /* Non-finite numbers cannot be spelled in JSON, so embedding needs no
   * finiteness check here. */
  json_t *obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!obj)
    return reject(SR_REASON_DECODE, errstr, errlen, "json: %s", jerr.text);
  sr_reason_t reason = decode_json_obj(obj, max_id_len, item, errstr, errlen);
  json_decref(obj);
  return reason;
}

sr_reason_t sr_item_decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                           size_t max_id_len, sr_item_t *item, char *errstr,
                           size_t errlen) {
  memset(item, 0, sizeof(*item));
  if (max_id_len == 0 || max_id_len > SR_ID_MAX)
    max_id_len = SR_ID_MAX;
  if (fmt == SR_WIRE_AUTO)
    fmt = sr_wire_detect(data, len);
  if (fmt == SR_WIRE_JSON)
    return decode_json(data, len, max_id_len, item, errstr, errlen);
  return decode_proto(data, len, max_id_len, item, errstr, errlen);
}

int sr_item_encode_proto(const sr_item_t *item, sr_buf_t *out) {
  Streamrec__V1__Item msg = STREAMREC__V1__ITEM__INIT;
  /* protobuf-c's fields are not const, but packing only reads them. */
  msg.item_id = (char *)item->item_id;
  msg.unavailable = !item->available;
  msg.updated_at_ms = item->updated_at_ms;
  size_t size = streamrec__v1__item__get_packed_size(&msg);
  if (size == 0)
    return 0;
  if (sr_buf_reserve(out, size) != 0)
    return -1;
  out->len += streamrec__v1__item__pack(&msg, (uint8_t *)out->data + out->len);
  return 0;
}

int sr_item_encode_json(const sr_item_t *item, sr_buf_t *out) {
  if (sr_buf_append(out, "{\"item_id\":", 11) != 0 ||
      sr_json_quote(out, item->item_id, item->item_len) != 0)
    return -1;
  return sr_buf_printf(out,
                       ",\"unavailable\":%s,\"updated_at_ms\":\"%" PRId64 "\"}",
                       item->available ? "false" : "true", item->updated_at_ms);
}
