/* Item codec; see item_codec.h. */
#include "codec/item_codec.h"

#include "streamrec.pb-c.h"
#include "util/err.h"

#include "codec/reason.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int content_feature(sr_item_content_t *ct, const char *s, size_t len);

void sr_item_content_free(sr_item_content_t *ct) {
  for (size_t k = 0; !ct->text && ct->features && k < ct->n_features; k++)
    free(ct->features[k]);
  free(ct->text);
  free(ct->features);
  free(ct->feature_lens);
  free(ct->embedding);
  memset(ct, 0, sizeof(*ct));
}

/* Room for n_feat features and n_emb floats. Returns 0 or -1. */
static int content_alloc(sr_item_content_t *ct, size_t n_feat, size_t n_emb) {
  ct->features = calloc(n_feat ? n_feat : 1, sizeof(*ct->features));
  ct->feature_lens = calloc(n_feat ? n_feat : 1, sizeof(*ct->feature_lens));
  /* Filled up to n_embedding by every caller: no need to clear it. */
  ct->embedding = malloc((n_emb ? n_emb : 1) * sizeof(*ct->embedding));
  ct->cap_features = n_feat ? n_feat : 1;
  return ct->features && ct->feature_lens && ct->embedding ? 0 : -1;
}

/* Gives each feature of a decoded message its own copy, so that one more
 * can be added the usual way. Returns 0 or -1 (ct unchanged). */
static int own_features(sr_item_content_t *ct) {
  if (!ct->text)
    return 0;
  size_t k = 0;
  char **copy = calloc(ct->n_features ? ct->n_features : 1, sizeof(*copy));
  for (; copy && k < ct->n_features; k++)
    if (!(copy[k] = strdup(ct->features[k])))
      break;
  if (!copy || k < ct->n_features) {
    while (copy && k > 0)
      free(copy[--k]);
    free(copy);
    return -1;
  }
  memcpy(ct->features, copy, ct->n_features * sizeof(*copy));
  free(copy);
  free(ct->text);
  ct->text = NULL;
  return 0;
}

int sr_item_content_add(sr_item_content_t *ct, const char *s, size_t len) {
  if (own_features(ct) != 0)
    return -1;
  if (ct->n_features == ct->cap_features) {
    size_t cap = ct->cap_features ? ct->cap_features * 2 : 8;
    char **f = realloc(ct->features, cap * sizeof(*f));
    if (f)
      ct->features = f;
    size_t *l = f ? realloc(ct->feature_lens, cap * sizeof(*l)) : NULL;
    if (!l)
      return -1;
    ct->feature_lens = l;
    ct->cap_features = cap;
  }
  return content_feature(ct, s, len);
}

static int content_feature(sr_item_content_t *ct, const char *s, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy)
    return -1;
  memcpy(copy, s, len);
  copy[len] = '\0';
  ct->features[ct->n_features] = copy;
  ct->feature_lens[ct->n_features++] = len;
  return 0;
}

/* The embedding's length against the configured one (0: any). */
static sr_reason_t check_dims(size_t n_emb, size_t emb_dims, char *errstr,
                              size_t errlen) {
  if (n_emb && emb_dims && n_emb != emb_dims)
    return sr_reason_fail(
        SR_REASON_BAD_EMBEDDING, errstr, errlen,
        "embedding has %zu values, items.embedding_dims is %zu", n_emb,
        emb_dims);
  return SR_REASON_OK;
}

static sr_reason_t out_of_memory(char *errstr, size_t errlen) {
  return sr_reason_fail(SR_REASON_DECODE, errstr, errlen, "out of memory");
}

/* Whether every value is finite: a float is not when its exponent bits
 * are all ones. Tested on the bits without an early exit, so that the
 * loop over a long embedding runs in vector registers. */
static bool all_finite(const float *v, size_t n) {
  uint32_t bad = 0;
  for (size_t k = 0; k < n; k++) {
    uint32_t bits;
    memcpy(&bits, &v[k], sizeof(bits));
    bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

/* The checks both formats share: the id, and every embedding value
 * finite (a NaN would poison whatever is learned from it). */
static sr_reason_t validate(const char *id, size_t len, size_t max_id_len,
                            const float *emb, size_t n_emb, sr_item_t *item,
                            char *errstr, size_t errlen) {
  if (!id || len == 0)
    return sr_reason_fail(SR_REASON_EMPTY_ID, errstr, errlen,
                          "item_id is empty");
  if (len > max_id_len)
    return sr_reason_fail(SR_REASON_ID_TOO_LONG, errstr, errlen,
                          "item_id is %zu bytes, over %zu", len, max_id_len);
  if (memchr(id, '\0', len))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "item_id contains a NUL byte");
  if (emb && !all_finite(emb, n_emb))
    for (size_t k = 0; k < n_emb; k++)
      if (!isfinite(emb[k]))
        return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen,
                              "embedding[%zu] is not finite", k);
  memcpy(item->item_id, id, len);
  item->item_id[len] = '\0';
  item->item_len = (uint16_t)len;
  item->n_embedding = n_emb;
  return SR_REASON_OK;
}

/* Copies a decoded message's content into ct, its tokens into one block
 * (ct->text): a message's features cost one allocation, not one each. */
static sr_reason_t proto_content(const Streamrec__V1__Item *msg,
                                 sr_item_content_t *ct, char *errstr,
                                 size_t errlen) {
  size_t bytes = 1;
  if (content_alloc(ct, msg->n_features, msg->n_embedding) != 0)
    return out_of_memory(errstr, errlen);
  for (size_t k = 0; k < msg->n_features; k++) {
    ct->feature_lens[k] = strlen(msg->features[k]);
    if (!sr_utf8_valid(msg->features[k], ct->feature_lens[k]))
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "features[%zu] is not UTF-8", k);
    bytes += ct->feature_lens[k] + 1;
  }
  if (!(ct->text = malloc(bytes)))
    return out_of_memory(errstr, errlen);
  char *at = ct->text;
  for (size_t k = 0; k < msg->n_features; k++) {
    memcpy(at, msg->features[k], ct->feature_lens[k] + 1);
    ct->features[k] = at;
    at += ct->feature_lens[k] + 1;
  }
  ct->n_features = msg->n_features;
  if (msg->n_embedding)
    memcpy(ct->embedding, msg->embedding,
           msg->n_embedding * sizeof(*ct->embedding));
  ct->n_embedding = msg->n_embedding;
  return SR_REASON_OK;
}

/* A bump allocator over a buffer on the decoder's stack for protobuf-c's
 * unpacking, which otherwise makes one allocation per string and per
 * repeated field (the message is freed before the decoder returns, so
 * nothing outlives the buffer); what does not fit goes to malloc. */
typedef struct arena {
  size_t used;
  _Alignas(16) unsigned char buf[4096];
} arena_t;

static void *arena_alloc(void *data, size_t size) {
  arena_t *a = data;
  size_t need = (size + 15) & ~(size_t)15;
  if (need < size || need > sizeof(a->buf) - a->used)
    return malloc(size);
  void *p = a->buf + a->used;
  a->used += need;
  return p;
}

static void arena_free(void *data, void *p) {
  arena_t *a = data;
  uintptr_t at = (uintptr_t)p, lo = (uintptr_t)a->buf;
  if (at < lo || at >= lo + sizeof(a->buf))
    free(p);
}

static sr_reason_t decode_proto(const uint8_t *p, size_t len, size_t max_id_len,
                                size_t emb_dims, sr_item_t *item,
                                sr_item_content_t *ct, char *errstr,
                                size_t errlen) {
  arena_t arena;
  arena.used = 0;
  ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
  Streamrec__V1__Item *msg = streamrec__v1__item__unpack(&alloc, len, p);
  if (!msg)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "protobuf: not a valid Item");
  sr_reason_t reason = validate(
      msg->item_id, msg->item_id ? strlen(msg->item_id) : 0, max_id_len,
      msg->embedding, msg->n_embedding, item, errstr, errlen);
  if (!reason) {
    item->available = !msg->unavailable;
    item->updated_at_ms = msg->updated_at_ms;
    item->n_features = msg->n_features;
    reason = check_dims(msg->n_embedding, emb_dims, errstr, errlen);
  }
  if (!reason && ct)
    reason = proto_content(msg, ct, errstr, errlen);
  streamrec__v1__item__free_unpacked(msg, &alloc);
  return reason;
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
  json_t *feat = sr_proto_json_member(obj, "features", NULL),
         *emb = sr_proto_json_member(obj, "embedding", NULL), *v;
  size_t k;
  if ((feat && !json_is_array(feat)) || (emb && !json_is_array(emb)))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "features and embedding must be arrays");
  json_array_foreach(feat, k, v) if (!json_is_string(v)) return sr_reason_fail(
      SR_REASON_DECODE, errstr, errlen, "features[%zu] is not a string", k);
  json_array_foreach(emb, k, v) if (!json_is_number(v)) return sr_reason_fail(
      SR_REASON_DECODE, errstr, errlen, "embedding[%zu] is not a number", k);
  item->n_features = feat ? json_array_size(feat) : 0;
  item->n_embedding = emb ? json_array_size(emb) : 0;
  return SR_REASON_OK;
}

/* Copies the (checked) content arrays into ct. */
static sr_reason_t json_take(json_t *obj, sr_item_content_t *ct, char *errstr,
                             size_t errlen) {
  json_t *feat = sr_proto_json_member(obj, "features", NULL),
         *emb = sr_proto_json_member(obj, "embedding", NULL), *v;
  size_t k;
  if (content_alloc(ct, json_array_size(feat), json_array_size(emb)) != 0)
    return out_of_memory(errstr, errlen);
  json_array_foreach(feat, k, v) if (content_feature(ct, json_string_value(v),
                                                     json_string_length(v)) !=
                                     0) return out_of_memory(errstr, errlen);
  json_array_foreach(emb, k, v) {
    double d = json_number_value(v);
    /* A number past a float's range would turn infinite. */
    if (!isfinite((float)d))
      return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen,
                            "embedding[%zu] is not finite as a float", k);
    ct->embedding[ct->n_embedding++] = (float)d;
  }
  return SR_REASON_OK;
}

static sr_reason_t decode_json_obj(json_t *obj, size_t max_id_len,
                                   size_t emb_dims, sr_item_t *item,
                                   sr_item_content_t *ct, char *errstr,
                                   size_t errlen) {
  if (!json_is_object(obj))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "json: an Item must be an object");
  json_t *id = sr_proto_json_member(obj, "item_id", "itemId"),
         *avail = sr_proto_json_member(obj, "available", NULL),
         *unavail = sr_proto_json_member(obj, "unavailable", NULL),
         *upd = sr_proto_json_member(obj, "updated_at_ms", "updatedAtMs");
  if (id && !json_is_string(id))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "item_id is not a string");
  if ((avail && !json_is_boolean(avail)) ||
      (unavail && !json_is_boolean(unavail)))
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "available and unavailable must be booleans");
  item->updated_at_ms = 0;
  if (upd && json_int64(upd, &item->updated_at_ms) != 0)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
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
  if (!reason)
    reason = check_dims(n_emb, emb_dims, errstr, errlen);
  if (!reason && ct)
    reason = json_take(obj, ct, errstr, errlen);
  return reason;
}

static sr_reason_t decode_json(const char *p, size_t len, size_t max_id_len,
                               size_t emb_dims, sr_item_t *item,
                               sr_item_content_t *ct, char *errstr,
                               size_t errlen) {
  json_error_t jerr;
  /* Non-finite numbers cannot be spelled in JSON, so embedding needs no
   * finiteness check here. */
  json_t *obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!obj)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen, "json: %s",
                          jerr.text);
  sr_reason_t reason =
      decode_json_obj(obj, max_id_len, emb_dims, item, ct, errstr, errlen);
  json_decref(obj);
  return reason;
}

static sr_reason_t decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                          size_t max_id_len, size_t emb_dims, sr_item_t *item,
                          sr_item_content_t *ct, char *errstr, size_t errlen) {
  memset(item, 0, sizeof(*item));
  if (ct)
    memset(ct, 0, sizeof(*ct));
  if (max_id_len == 0 || max_id_len > SR_ID_MAX)
    max_id_len = SR_ID_MAX;
  if (fmt == SR_WIRE_AUTO)
    fmt = sr_wire_detect(data, len);
  if (fmt == SR_WIRE_JSON)
    return decode_json(data, len, max_id_len, emb_dims, item, ct, errstr,
                       errlen);
  return decode_proto(data, len, max_id_len, emb_dims, item, ct, errstr,
                      errlen);
}

sr_reason_t sr_item_decode(const void *data, size_t len, sr_wire_fmt_t fmt,
                           size_t max_id_len, sr_item_t *item, char *errstr,
                           size_t errlen) {
  return decode(data, len, fmt, max_id_len, 0, item, NULL, errstr, errlen);
}

sr_reason_t sr_item_decode_content(const void *data, size_t len,
                                   sr_wire_fmt_t fmt, size_t max_id_len,
                                   size_t emb_dims, sr_item_t *item,
                                   sr_item_content_t *ct, char *errstr,
                                   size_t errlen) {
  return decode(data, len, fmt, max_id_len, emb_dims, item, ct, errstr, errlen);
}

/* The features column: tokens between ',' or '|', blanks around each
 * trimmed, empty ones skipped. */
static sr_reason_t tsv_features(const char *p, const char *end,
                                sr_item_content_t *ct, char *errstr,
                                size_t errlen) {
  while (p < end) {
    const char *q = p;
    while (q < end && *q != ',' && *q != '|')
      q++;
    const char *a = p, *b = q;
    while (a < b && (*a == ' ' || *a == '\r'))
      a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\r'))
      b--;
    if (b > a && !sr_utf8_valid(a, (size_t)(b - a)))
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "features[%zu] is not UTF-8", ct->n_features);
    if (b > a && content_feature(ct, a, (size_t)(b - a)) != 0)
      return out_of_memory(errstr, errlen);
    p = q + 1;
  }
  return SR_REASON_OK;
}

static sr_reason_t tsv_embedding(const char *p, const char *end,
                                 sr_item_content_t *ct, char *errstr,
                                 size_t errlen) {
  char num[64];
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\r'))
      p++;
    const char *q = p;
    while (q < end && *q != ' ' && *q != '\r')
      q++;
    if (q == p)
      break;
    size_t n = (size_t)(q - p);
    char *stop;
    if (n >= sizeof(num))
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "embedding[%zu]: not a number", ct->n_embedding);
    memcpy(num, p, n);
    num[n] = '\0';
    float v = strtof(num, &stop);
    if (stop != num + n)
      return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                            "embedding[%zu]: '%s' is not a number",
                            ct->n_embedding, num);
    if (!isfinite(v))
      return sr_reason_fail(SR_REASON_NON_FINITE, errstr, errlen,
                            "embedding[%zu] is not finite", ct->n_embedding);
    ct->embedding[ct->n_embedding++] = v;
    p = q;
  }
  return SR_REASON_OK;
}

static size_t count_of(const char *p, const char *end, const char *seps) {
  size_t n = 1;
  for (; p < end; p++)
    n += strchr(seps, *p) != NULL;
  return n;
}

sr_reason_t sr_item_parse_tsv(const char *line, size_t len, size_t max_id_len,
                              size_t emb_dims, sr_item_t *item,
                              sr_item_content_t *ct, char *errstr,
                              size_t errlen) {
  memset(item, 0, sizeof(*item));
  memset(ct, 0, sizeof(*ct));
  if (max_id_len == 0 || max_id_len > SR_ID_MAX)
    max_id_len = SR_ID_MAX;
  const char *end = line + len;
  while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  const char *t1 = memchr(line, '\t', (size_t)(end - line));
  const char *id_end = t1 ? t1 : end;
  const char *f = t1 ? t1 + 1 : end;
  const char *t2 = memchr(f, '\t', (size_t)(end - f));
  const char *f_end = t2 ? t2 : end, *e = t2 ? t2 + 1 : end;
  if (content_alloc(ct, count_of(f, f_end, ",|"), count_of(e, end, " \r")) != 0)
    return out_of_memory(errstr, errlen);
  sr_reason_t reason = validate(line, (size_t)(id_end - line), max_id_len, NULL,
                                0, item, errstr, errlen);
  if (!reason)
    reason = tsv_features(f, f_end, ct, errstr, errlen);
  if (!reason)
    reason = tsv_embedding(e, end, ct, errstr, errlen);
  if (!reason)
    reason = check_dims(ct->n_embedding, emb_dims, errstr, errlen);
  item->available = true;
  item->n_features = ct->n_features;
  item->n_embedding = ct->n_embedding;
  return reason;
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

int sr_item_encode_json_content(const sr_item_t *item,
                                const sr_item_content_t *ct, sr_buf_t *out) {
  if (sr_buf_append(out, "{\"item_id\":", 11) != 0 ||
      sr_json_quote(out, item->item_id, item->item_len) != 0 ||
      sr_buf_printf(out, ",\"unavailable\":%s",
                    item->available ? "false" : "true") != 0)
    return -1;
  if (ct->n_features && sr_buf_append(out, ",\"features\":[", 13) != 0)
    return -1;
  for (size_t k = 0; k < ct->n_features; k++)
    if ((k && sr_buf_append(out, ",", 1) != 0) ||
        sr_json_quote(out, ct->features[k], ct->feature_lens[k]) != 0)
      return -1;
  if (ct->n_features && sr_buf_append(out, "]", 1) != 0)
    return -1;
  if (ct->n_embedding && sr_buf_append(out, ",\"embedding\":[", 14) != 0)
    return -1;
  for (size_t k = 0; k < ct->n_embedding; k++)
    if (sr_buf_printf(out, "%s%.9g", k ? "," : "", ct->embedding[k]) != 0)
      return -1;
  if (ct->n_embedding && sr_buf_append(out, "]", 1) != 0)
    return -1;
  return sr_buf_printf(out, ",\"updated_at_ms\":\"%" PRId64 "\"}",
                       item->updated_at_ms);
}

int sr_item_encode_json(const sr_item_t *item, sr_buf_t *out) {
  if (sr_buf_append(out, "{\"item_id\":", 11) != 0 ||
      sr_json_quote(out, item->item_id, item->item_len) != 0)
    return -1;
  return sr_buf_printf(out,
                       ",\"unavailable\":%s,\"updated_at_ms\":\"%" PRId64 "\"}",
                       item->available ? "false" : "true", item->updated_at_ms);
}
