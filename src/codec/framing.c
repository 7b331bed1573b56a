/* Confluent Schema Registry framing; see framing.h. */
#include "codec/framing.h"

#include "util/err.h"

#define HEADER_BYTES 5

bool sr_frame_detect(const void *p, size_t len) {
  return p && len >= HEADER_BYTES && ((const uint8_t *)p)[0] == 0;
}

/* A zigzag varint of at most 32 bits at *p; advances *p. */
static int read_zigzag(const uint8_t **p, const uint8_t *end, int32_t *out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*p >= end)
      return -1;
    uint8_t b = *(*p)++;
    if (shift == 28 && (b & 0x70))
      return -1; /* past 32 bits */
    v |= (uint32_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = (int32_t)((v >> 1) ^ (~(v & 1) + 1));
      return 0;
    }
  }
  return -1;
}

static sr_err_t parse_indices(const uint8_t **p, const uint8_t *end,
                              sr_frame_t *fr, char *errstr, size_t errlen) {
  int32_t count;
  if (read_zigzag(p, end, &count) != 0)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "framing: message-index count is truncated");
  if (count == 0) {
    fr->n_indices = 1; /* the shortcut for the file's first message */
    fr->indices[0] = 0;
    return SR_OK;
  }
  if (count < 0 || count > SR_FRAME_MAX_INDICES)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "framing: message-index count %d (at most %d expected)",
                   (int)count, SR_FRAME_MAX_INDICES);
  for (int32_t i = 0; i < count; i++) {
    int32_t idx;
    if (read_zigzag(p, end, &idx) != 0 || idx < 0)
      return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                     "framing: message index %d is malformed", (int)i);
    fr->indices[fr->n_indices++] = idx;
  }
  return SR_OK;
}

/* sr_frame_parse with the error of sr_errf, so that each failure is one
 * statement. */
static sr_err_t parse_frame(const void *p, size_t len, sr_frame_kind_t kind,
                            sr_frame_t *fr, char *errstr, size_t errlen) {
  const uint8_t *b = p, *end = b + len;
  *fr = (sr_frame_t){0};
  if (!sr_frame_detect(p, len))
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "framing: %zu bytes do not start with the magic byte 0 and "
                   "a 4-byte schema id",
                   len);
  fr->schema_id =
      (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
  b += HEADER_BYTES;
  if (kind == SR_FRAME_PROTO &&
      parse_indices(&b, end, fr, errstr, errlen) != SR_OK)
    return SR_ERR_CORRUPT;
  fr->body = b;
  fr->body_len = (size_t)(end - b);
  return SR_OK;
}

int sr_frame_parse(const void *p, size_t len, sr_frame_kind_t kind,
                   sr_frame_t *fr, char *errstr, size_t errlen) {
  return parse_frame(p, len, kind, fr, errstr, errlen) == SR_OK ? 0 : -1;
}

static int put_zigzag(sr_buf_t *out, int32_t v) {
  uint32_t z = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
  uint8_t bytes[5];
  size_t n = 0;
  do {
    bytes[n] = (uint8_t)(z & 0x7F);
    z >>= 7;
    if (z)
      bytes[n] |= 0x80;
    n++;
  } while (z);
  return sr_buf_append(out, bytes, n);
}

int sr_frame_write(sr_buf_t *out, sr_frame_kind_t kind, uint32_t schema_id,
                   const int32_t *indices, size_t n) {
  uint8_t head[HEADER_BYTES] = {0, (uint8_t)(schema_id >> 24),
                                (uint8_t)(schema_id >> 16),
                                (uint8_t)(schema_id >> 8), (uint8_t)schema_id};
  if (n > SR_FRAME_MAX_INDICES || sr_buf_append(out, head, sizeof(head)) != 0)
    return -1;
  if (kind != SR_FRAME_PROTO)
    return 0;
  if (n == 0 || (n == 1 && indices[0] == 0))
    return put_zigzag(out, 0);
  if (put_zigzag(out, (int32_t)n) != 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (put_zigzag(out, indices[i]) != 0)
      return -1;
  return 0;
}
