/* Cluster messages through protobuf-c: encode from borrowed structs, decode
 * into the unpacked message and point the struct at its fields. */
#include "codec/cluster_codec.h"

#include "streamrec.pb-c.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/half.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

/* Room for size more bytes at the end of out, or NULL when out of memory;
 * a message of all defaults packs to nothing. */
static uint8_t *room(sr_buf_t *out, size_t size) {
  static uint8_t none;
  if (size == 0)
    return &none;
  return sr_buf_reserve(out, size) ? NULL : (uint8_t *)out->data + out->len;
}

int sr_user_state_encode(const sr_user_state_t *st, sr_buf_t *out) {
  Streamrec__V1__UserState msg = STREAMREC__V1__USER_STATE__INIT;
  /* protobuf-c's fields are not const, but packing only reads them. */
  msg.user_id = (char *)str_or_empty(st->user_id);
  msg.partition = st->partition;
  msg.last_offset = st->last_offset;
  msg.events = st->events;
  msg.n_factors = st->dims;
  msg.factors = (float *)st->factors;
  msg.bias = st->bias;
  msg.n_seen = st->n_seen;
  msg.seen = (char **)st->seen;
  msg.last_active_ms = st->last_active_ms;
  msg.n_listed = st->n_listed;
  msg.listed = (uint64_t *)st->listed;
  size_t size = streamrec__v1__user_state__get_packed_size(&msg);
  uint8_t *at = room(out, size);
  if (!at)
    return -1;
  out->len += size ? streamrec__v1__user_state__pack(&msg, at) : 0;
  return 0;
}

static bool id_ok(const char *id) {
  size_t len = strnlen(id, SR_ID_MAX + 1);
  return len >= 1 && len <= SR_ID_MAX;
}

static bool all_finite(const float *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return false;
  return true;
}

static sr_err_t check_user(const Streamrec__V1__UserState *msg, uint32_t dims,
                           char *errstr, size_t errlen) {
  if (!id_ok(msg->user_id))
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "user state: user_id must be 1..%d bytes", SR_ID_MAX);
  if (msg->n_factors != dims)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "user state of '%s': %zu factors, expected %u", msg->user_id,
                   msg->n_factors, dims);
  if (!all_finite(msg->factors, msg->n_factors) || !isfinite(msg->bias))
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "user state of '%s': a factor or the bias is not finite",
                   msg->user_id);
  for (size_t i = 0; i < msg->n_seen; i++)
    if (!id_ok(msg->seen[i]))
      return sr_errf(errstr, errlen, SR_ERR_DECODE,
                     "user state of '%s': seen item %zu must be 1..%d bytes",
                     msg->user_id, i, SR_ID_MAX);
  return SR_OK;
}

sr_err_t sr_user_state_decode(const void *data, size_t len, uint32_t dims,
                              sr_user_state_t *st, char *errstr,
                              size_t errlen) {
  memset(st, 0, sizeof(*st));
  Streamrec__V1__UserState *msg =
      streamrec__v1__user_state__unpack(NULL, len, data);
  if (!msg)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "user state: not a UserState message (%zu bytes)", len);
  sr_err_t err = check_user(msg, dims, errstr, errlen);
  if (err != SR_OK) {
    streamrec__v1__user_state__free_unpacked(msg, NULL);
    return err;
  }
  *st = (sr_user_state_t){.user_id = msg->user_id,
                          .partition = msg->partition,
                          .last_offset = msg->last_offset,
                          .events = msg->events,
                          .factors = msg->factors,
                          .dims = dims,
                          .bias = msg->bias,
                          .seen = (const char *const *)msg->seen,
                          .n_seen = msg->n_seen,
                          .last_active_ms = msg->last_active_ms,
                          .owned_ = msg,
                          .listed = msg->listed,
                          .n_listed = msg->n_listed};
  return SR_OK;
}

void sr_user_state_clear(sr_user_state_t *st) {
  if (st->owned_)
    streamrec__v1__user_state__free_unpacked(st->owned_, NULL);
  memset(st, 0, sizeof(*st));
}

/* The delta structs and their pointer array, plus the half floats of every
 * item when enc is F16, in one block. */
typedef struct delta_mem {
  Streamrec__V1__ItemDelta *items;
  Streamrec__V1__ItemDelta **ptrs;
  uint16_t *halves;
} delta_mem_t;

static void *alloc_delta_mem(size_t n, uint32_t dims, sr_delta_enc_t enc,
                             delta_mem_t *m) {
  size_t halves = enc == SR_DELTA_F16 ? n * dims : 0;
  char *block = malloc(n * (sizeof(*m->items) + sizeof(*m->ptrs)) +
                       halves * sizeof(uint16_t) + 1);
  if (!block)
    return NULL;
  m->items = (Streamrec__V1__ItemDelta *)(void *)block;
  m->ptrs = (Streamrec__V1__ItemDelta **)(void *)(m->items + n);
  m->halves = (uint16_t *)(void *)(m->ptrs + n);
  return block;
}

/* Little-endian half floats, whatever the host's order. */
static void put_halves(uint16_t *dst, const float *src, uint32_t dims) {
  uint8_t *bytes = (uint8_t *)dst;
  for (uint32_t k = 0; k < dims; k++) {
    uint16_t h = sr_half_from_float(src[k]);
    bytes[2 * k] = (uint8_t)(h & 0xff);
    bytes[2 * k + 1] = (uint8_t)(h >> 8);
  }
}

static void fill_delta(Streamrec__V1__ItemDelta *msg, const sr_item_delta_t *d,
                       uint32_t dims, uint16_t *halves) {
  streamrec__v1__item_delta__init(msg);
  msg->item_id = (char *)str_or_empty(d->item_id);
  msg->bias = d->bias;
  msg->popularity = d->popularity;
  if (halves) {
    put_halves(halves, d->factors, dims);
    msg->factors_f16.data = (uint8_t *)halves;
    msg->factors_f16.len = (size_t)dims * 2;
  } else {
    msg->n_factors = dims;
    msg->factors = (float *)d->factors;
  }
}

int sr_item_deltas_encode(const sr_item_deltas_t *d, sr_delta_enc_t enc,
                          sr_buf_t *out) {
  delta_mem_t m;
  void *block = alloc_delta_mem(d->n_items, d->dims, enc, &m);
  if (!block)
    return -1;
  for (size_t i = 0; i < d->n_items; i++) {
    uint16_t *halves = enc == SR_DELTA_F16 ? m.halves + i * d->dims : NULL;
    fill_delta(&m.items[i], &d->items[i], d->dims, halves);
    m.ptrs[i] = &m.items[i];
  }
  Streamrec__V1__ItemDeltas msg = STREAMREC__V1__ITEM_DELTAS__INIT;
  msg.member_id = (char *)str_or_empty(d->member_id);
  msg.dims = d->dims;
  msg.n_items = d->n_items;
  msg.items = m.ptrs;
  msg.events = d->events;
  size_t size = streamrec__v1__item_deltas__get_packed_size(&msg);
  uint8_t *at = room(out, size);
  if (at)
    out->len += size ? streamrec__v1__item_deltas__pack(&msg, at) : 0;
  free(block);
  return at ? 0 : -1;
}

/* What a decoded batch owns: the unpacked message, the delta array and the
 * floats of half-float deltas, in one block after this header. */
typedef struct deltas_owned {
  Streamrec__V1__ItemDeltas *msg;
} deltas_owned_t;

static sr_err_t delta_factors(const Streamrec__V1__ItemDelta *msg,
                              uint32_t dims, float *scratch,
                              const float **factors, char *errstr,
                              size_t errlen) {
  if (msg->n_factors == dims && msg->factors_f16.len == 0) {
    *factors = msg->factors;
  } else if (msg->n_factors == 0 && msg->factors_f16.len == (size_t)dims * 2) {
    const uint8_t *b = msg->factors_f16.data;
    for (uint32_t k = 0; k < dims; k++)
      scratch[k] = sr_half_to_float((uint16_t)(b[2 * k] | b[2 * k + 1] << 8));
    *factors = scratch;
  } else {
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "item delta of '%s': %zu factors and %zu half-float bytes, "
                   "expected %u factors",
                   msg->item_id, msg->n_factors, msg->factors_f16.len, dims);
  }
  if (!all_finite(*factors, dims) || !isfinite(msg->bias) ||
      !isfinite(msg->popularity))
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "item delta of '%s': a number is not finite", msg->item_id);
  return SR_OK;
}

static sr_err_t fill_items(const Streamrec__V1__ItemDeltas *msg, uint32_t dims,
                           sr_item_delta_t *items, float *floats, char *errstr,
                           size_t errlen) {
  for (size_t i = 0; i < msg->n_items; i++) {
    const Streamrec__V1__ItemDelta *m = msg->items[i];
    if (!id_ok(m->item_id))
      return sr_errf(errstr, errlen, SR_ERR_DECODE,
                     "item deltas from '%s': item %zu's id must be 1..%d bytes",
                     msg->member_id, i, SR_ID_MAX);
    items[i].item_id = m->item_id;
    items[i].bias = m->bias;
    items[i].popularity = m->popularity;
    sr_err_t err = delta_factors(m, dims, floats + i * dims, &items[i].factors,
                                 errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return SR_OK;
}

static sr_err_t check_batch(const Streamrec__V1__ItemDeltas *msg, uint32_t dims,
                            char *errstr, size_t errlen) {
  if (!id_ok(msg->member_id))
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "item deltas: member_id must be 1..%d bytes", SR_ID_MAX);
  if (msg->dims != dims)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "item deltas from '%s': dims %u, this model has %u",
                   msg->member_id, msg->dims, dims);
  return SR_OK;
}

sr_err_t sr_item_deltas_decode(const void *data, size_t len, uint32_t dims,
                               sr_item_deltas_t *d, char *errstr,
                               size_t errlen) {
  memset(d, 0, sizeof(*d));
  Streamrec__V1__ItemDeltas *msg =
      streamrec__v1__item_deltas__unpack(NULL, len, data);
  if (!msg)
    return sr_errf(errstr, errlen, SR_ERR_DECODE,
                   "item deltas: not an ItemDeltas message (%zu bytes)", len);
  sr_err_t err = check_batch(msg, dims, errstr, errlen);
  size_t n = msg->n_items;
  deltas_owned_t *own = NULL;
  if (err == SR_OK) {
    own = malloc(sizeof(*own) + n * sizeof(sr_item_delta_t) +
                 n * dims * sizeof(float));
    err = own ? SR_OK : sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  }
  sr_item_delta_t *items = own ? (sr_item_delta_t *)(void *)(own + 1) : NULL;
  if (err == SR_OK)
    err = fill_items(msg, dims, items, (float *)(void *)(items + n), errstr,
                     errlen);
  if (err != SR_OK) {
    free(own);
    streamrec__v1__item_deltas__free_unpacked(msg, NULL);
    return err;
  }
  own->msg = msg;
  *d = (sr_item_deltas_t){msg->member_id, dims, items, n, msg->events, own};
  return SR_OK;
}

void sr_item_deltas_clear(sr_item_deltas_t *d) {
  deltas_owned_t *own = d->owned_;
  if (own) {
    streamrec__v1__item_deltas__free_unpacked(own->msg, NULL);
    free(own);
  }
  memset(d, 0, sizeof(*d));
}
