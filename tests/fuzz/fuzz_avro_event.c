/* libFuzzer target: Avro decoding by a writer schema and a field mapping.
 * Any bytes decode or are rejected with a reason and a message, without a
 * crash, a leak or an allocation the bytes do not account for; an event
 * read by streamrec's default schema, written again by the library, reads
 * back the same. */
#include "codec/avro_event.h"

#include <stdlib.h>
#include <string.h>

static const char nested[] =
    "{\"type\":\"record\",\"name\":\"Click\",\"fields\":["
    "{\"name\":\"ctx\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
    "\"Ctx\",\"fields\":[{\"name\":\"uid\",\"type\":[\"null\",\"string\","
    "\"long\"]},{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":"
    "[\"null\",\"string\"]}}]}]},"
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":[\"null\","
    "{\"type\":\"record\",\"name\":\"It\",\"fields\":[{\"name\":\"id\","
    "\"type\":\"bytes\"},{\"name\":\"n\",\"type\":\"null\"}]}]}},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"K\","
    "\"symbols\":[\"view\",\"buy\",\"other\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}},"
    "{\"name\":\"price\",\"type\":[\"float\",\"double\",\"string\"]},"
    "{\"name\":\"at\",\"type\":[\"string\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-micros\"}]}]}";

static const sr_event_limits_t lim = {
    .max_id_len = 32, .now_ms = 1700000000000LL, .max_future_ms = 86400000};

static int same_event(const sr_event_t *a, const sr_event_t *b) {
  return strcmp(a->user_id, b->user_id) == 0 &&
         strcmp(a->item_id, b->item_id) == 0 && a->type == b->type &&
         memcmp(&a->value, &b->value, sizeof a->value) == 0 &&
         a->timestamp_ms == b->timestamp_ms;
}

/* The reader of the nested schema is kept; the round trip's reader and
 * writer are made per input, so that what they hold is freed with them. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sr_avro_reader_t *rd_nested;
  static const sr_type_alias_t types[] = {{"view", SR_EV_VIEW},
                                          {"buy", SR_EV_PURCHASE}};
  if (!rd_nested) {
    sr_mapping_spec_t spec = {
        .prefix = "input.",
        .fields = {"ctx.uid", "items[1].id", "kind", "price", "at"},
        .types = types,
        .n_types = 2,
    };
    rd_nested =
        sr_avro_reader_new_json(nested, strlen(nested), "input.", &spec, 0, 0);
    if (!rd_nested)
      abort();
  }
  sr_event_t ev, again;
  char err[256] = "";
  sr_reason_t r =
      sr_avro_decode(rd_nested, data, size, NULL, &lim, &ev, err, sizeof err);
  if (r != SR_REASON_OK && !err[0])
    abort();
  sr_mapping_spec_t native = {.prefix = "input."};
  size_t dlen = strlen(sr_avro_default_schema);
  sr_avro_reader_t *rd = sr_avro_reader_new_json(sr_avro_default_schema, dlen,
                                                 "input.", &native, 0, 0);
  if (!rd)
    abort();
  err[0] = '\0';
  r = sr_avro_decode(rd, data, size, NULL, &lim, &ev, err, sizeof err);
  if (r != SR_REASON_OK && !err[0])
    abort();
  if (r == SR_REASON_OK) {
    sr_avro_writer_t *wr =
        sr_avro_writer_new(sr_avro_default_schema, dlen, &native, 0, 0);
    sr_buf_t buf = {0};
    if (!wr || sr_avro_encode(wr, &ev, &buf, err, sizeof err) != 0 ||
        sr_avro_decode(rd, buf.data, buf.len, NULL, &lim, &again, err,
                       sizeof err) != SR_REASON_OK ||
        !same_event(&ev, &again))
      abort();
    sr_buf_free(&buf);
    sr_avro_writer_free(wr);
  }
  sr_avro_reader_free(rd);
  return 0;
}
