/* Confluent Schema Registry framing: the magic byte 0, the schema id as 4
 * bytes big-endian, for protobuf the message-index list (a zigzag varint
 * count, then that many zigzag varint indices; a single 0 stands for [0]),
 * then the body. Reads and writes the header only; a registry lookup by id
 * is not made. Stateless; any thread. */
#ifndef SR_CODEC_FRAMING_H
#define SR_CODEC_FRAMING_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Index lists longer than this are refused: a .proto file nesting messages
 * deeper is not an event schema. */
#define SR_FRAME_MAX_INDICES 16

/* What follows the schema id: the body at once (Avro, JSON Schema), or the
 * protobuf message-index list first. */
typedef enum sr_frame_kind {
  SR_FRAME_PLAIN = 0,
  SR_FRAME_PROTO = 1,
} sr_frame_kind_t;

/* input.framing, in the order of its choices: auto unwraps protobuf and
 * JSON messages that start with the magic byte and expects Avro framed;
 * confluent expects every message framed; none reads bare messages. */
typedef enum sr_frame_mode {
  SR_FRAME_MODE_AUTO = 0,
  SR_FRAME_MODE_CONFLUENT = 1,
  SR_FRAME_MODE_NONE = 2,
} sr_frame_mode_t;

/* One parsed header; body points into the message. */
typedef struct sr_frame {
  uint32_t schema_id;
  size_t n_indices; /* protobuf: the message's path in its .proto file */
  int32_t indices[SR_FRAME_MAX_INDICES];
  const void *body;
  size_t body_len;
} sr_frame_t;

/* True when p[0..len) starts as a framed message does: the magic byte 0
 * and room for the schema id. Neither a JSON object nor a protobuf
 * streamrec.v1.Event can start with a 0 byte (field number 0 is not a
 * field); an Avro record can, so Avro input says whether it is framed. */
bool sr_frame_detect(const void *p, size_t len);

/* Parses the header of p[0..len). Returns 0 with *fr, or -1 with errstr
 * ("framing: ...") when the magic byte is not 0, the message ends inside
 * the header, or the index list is malformed or too long. */
int sr_frame_parse(const void *p, size_t len, sr_frame_kind_t kind,
                   sr_frame_t *fr, char *errstr, size_t errlen);

/* Appends a header for schema_id to out: with kind SR_FRAME_PROTO, the
 * index list indices[0..n) (n 0 or the list [0] is written as the single
 * 0). Returns 0, or -1 when out of memory or n is over
 * SR_FRAME_MAX_INDICES. */
int sr_frame_write(sr_buf_t *out, sr_frame_kind_t kind, uint32_t schema_id,
                   const int32_t *indices, size_t n);

#endif
