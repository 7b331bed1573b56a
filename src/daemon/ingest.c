/* Decode, validate, learn or reject; see ingest.h. */
#define SR_LOG_COMPONENT "ingest"
#include "daemon/ingest.h"

#include "codec/avro_event.h"
#include "codec/event_codec.h"
#include "codec/framing.h"
#include "codec/mapping.h"
#include "codec/reason.h"
#include "core/share.h"
#include "util/err.h"
#include "util/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How the messages of one topic are read. */
typedef struct reader {
  sr_wire_fmt_t fmt;
  sr_frame_mode_t framing;
  sr_mapping_t *map;      /* NULL: streamrec's own format */
  sr_avro_reader_t *avro; /* fmt SR_WIRE_AVRO: the schema and mapping */
} reader_t;

struct sr_ingest {
  sr_model_t *mdl;
  sr_refresh_t *rf;
  sr_sink_t *snk;
  sr_telemetry_t *tel;
  sr_event_limits_t lim;
  reader_t rd; /* kafka.input_format and input.*'s */
  /* input.topics.TOPIC.*: a topic's own reading */
  size_t n_topics;
  struct {
    char name[SR_CONF_STR];
    reader_t rd;
  } topics[SR_CONF_MAX_TOPIC_MAPS];
  const rd_kafka_topic_t *last_rkt; /* the topic of last_rd */
  reader_t *last_rd;
  uint64_t mono_ms;
  char dead_letter_topic[SR_CONF_STR];
  uint64_t rejected[SR_REASON__COUNT];
  bool shared; /* cluster mode: the skip rule and misrouting warning */
};

/* The reading of topic (NULL: input.*'s). */
static sr_err_t compile_reader(const sr_config_t *cfg, const char *topic,
                               reader_t *rd, char *errstr, size_t errlen) {
  sr_type_alias_t aliases[SR_CONF_MAX_ALIASES];
  sr_mapping_spec_t spec = sr_config_mapping(cfg, topic, aliases);
  sr_input_spec_t in = sr_config_input(cfg, topic);
  rd->fmt = in.format;
  rd->framing = in.framing;
  if (in.format == SR_WIRE_AVRO)
    return (rd->avro = sr_avro_reader_new(in.avro_schema_file, in.prefix, &spec,
                                          errstr, errlen))
               ? SR_OK
               : SR_ERR_INVALID;
  if (sr_mapping_spec_active(&spec) &&
      !(rd->map = sr_mapping_new(&spec, errstr, errlen)))
    return SR_ERR_INVALID;
  return SR_OK;
}

static void reader_free(reader_t *rd) {
  sr_mapping_free(rd->map);
  sr_avro_reader_free(rd->avro);
}

static sr_err_t compile_readers(sr_ingest_t *ing, const sr_config_t *cfg,
                                char *errstr, size_t errlen) {
  if (compile_reader(cfg, NULL, &ing->rd, errstr, errlen) != SR_OK)
    return SR_ERR_INVALID;
  for (size_t i = 0; i < cfg->input.n_topics; i++) {
    snprintf(ing->topics[i].name, sizeof(ing->topics[i].name), "%s",
             cfg->input.topics[i].topic);
    ing->n_topics++;
    if (compile_reader(cfg, ing->topics[i].name, &ing->topics[i].rd, errstr,
                       errlen) != SR_OK)
      return SR_ERR_INVALID;
  }
  return SR_OK;
}

sr_ingest_t *sr_ingest_new(const sr_config_t *cfg, sr_model_t *mdl,
                           sr_refresh_t *rf, sr_sink_t *snk, char *errstr,
                           size_t errlen) {
  sr_ingest_t *ing = calloc(1, sizeof(*ing));
  if (!ing) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  ing->mdl = mdl;
  ing->rf = rf;
  ing->snk = snk;
  ing->shared = sr_config_clustered(cfg);
  ing->lim = (sr_event_limits_t){
      .max_message_bytes = cfg->input.max_message_bytes,
      .max_id_len = cfg->input.max_id_len,
      .max_future_ms = cfg->input.max_future_skew_ms,
  };
  snprintf(ing->dead_letter_topic, sizeof(ing->dead_letter_topic), "%s",
           cfg->kafka.dead_letter_topic);
  if (compile_readers(ing, cfg, errstr, errlen) != SR_OK) {
    sr_ingest_free(ing);
    return NULL;
  }
  return ing;
}

void sr_ingest_set_telemetry(sr_ingest_t *ing, sr_telemetry_t *tel) {
  ing->tel = tel;
}

void sr_ingest_free(sr_ingest_t *ing) {
  if (!ing)
    return;
  reader_free(&ing->rd);
  for (size_t i = 0; i < ing->n_topics; i++)
    reader_free(&ing->topics[i].rd);
  free(ing);
}

void sr_ingest_set_time(sr_ingest_t *ing, int64_t wall_ms, uint64_t mono_ms) {
  ing->lim.now_ms = wall_ms;
  ing->mono_ms = mono_ms;
}

static void dead_letter(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                        sr_reason_t reason, const char *why,
                        const uint32_t *schema_id) {
  sr_sink_dead_letter_framed(ing->snk, ing->dead_letter_topic, msg,
                             sr_reason_name(reason), why, schema_id);
}

/* schema_id: the message's Schema Registry id, or NULL when unframed. */
static void reject(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                   sr_reason_t reason, const char *why,
                   const uint32_t *schema_id) {
  ing->rejected[reason]++;
  /* input.unknown_types=skip: the user asked for these to be dropped. */
  if (reason == SR_REASON_SKIPPED_TYPE)
    return;
  sr_log(SR_LOG_WARN, "invalid event",
         "reason=%s topic=%s partition=%" PRId32 " offset=%" PRId64
         " detail=%s total=%" PRIu64,
         sr_reason_name(reason), sr_logq(rd_kafka_topic_name(msg->rkt)),
         msg->partition, msg->offset, sr_logq(why), ing->rejected[reason]);
  if (ing->snk && ing->dead_letter_topic[0])
    dead_letter(ing, msg, reason, why, schema_id);
}

/* Input not keyed by user id spreads a user over partitions, and so over
 * owners: each would hold part of the user. The user keeps the partition
 * it was first seen on (home); the warning names both (rate-limited by the
 * log). */
static void warn_misrouted(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                           const sr_event_t *ev, int32_t home) {
  sr_log(SR_LOG_WARN,
         "event of a user seen on another partition: is the input keyed by "
         "user id?",
         "user=%s partition=%" PRId32 " user_partition=%" PRId32
         " topic=%s offset=%" PRId64 " total=%" PRIu64,
         sr_logq(ev->user_id), msg->partition, home,
         sr_logq(rd_kafka_topic_name(msg->rkt)), msg->offset,
         sr_share_stats(ing->mdl).misrouted);
}

/* In cluster mode an event its user's state already covers (applied before
 * a handoff) is skipped, so that every event reaches its user once. */
static sr_err_t learn(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                      const sr_event_t *ev, uint32_t *row, bool *skipped) {
  if (!ing->shared)
    return sr_model_learn(ing->mdl, ev, row);
  int32_t home;
  sr_err_t err = sr_share_learn(ing->mdl, ev, msg->partition, msg->offset, row,
                                skipped, &home);
  if (err == SR_OK && home >= 0)
    warn_misrouted(ing, msg, ev, home);
  return err;
}

static int header_of(const void *msg, const char *name, const void **val,
                     size_t *len) {
  rd_kafka_headers_t *hdrs = NULL;
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(hdrs, name, val, len) !=
          RD_KAFKA_RESP_ERR_NO_ERROR)
    return -1;
  return 0;
}

static const reader_t *reader_of(sr_ingest_t *ing,
                                 const rd_kafka_message_t *msg) {
  if (!ing->n_topics)
    return &ing->rd;
  /* Messages come in runs of one partition: the topic rarely changes. */
  if (msg->rkt == ing->last_rkt)
    return ing->last_rd;
  const char *topic = rd_kafka_topic_name(msg->rkt);
  ing->last_rkt = msg->rkt;
  ing->last_rd = &ing->rd;
  for (size_t i = 0; i < ing->n_topics; i++)
    if (!strcmp(ing->topics[i].name, topic))
      ing->last_rd = &ing->topics[i].rd;
  return ing->last_rd;
}

/* Whether the message is framed for the Schema Registry: Avro is unless
 * input.framing is none; protobuf and JSON are when they start with the
 * magic byte (which neither can start with otherwise). */
static bool framed(const reader_t *rd, const void *p, size_t len) {
  if (rd->framing != SR_FRAME_MODE_AUTO)
    return rd->framing == SR_FRAME_MODE_CONFLUENT;
  return rd->fmt == SR_WIRE_AVRO || sr_frame_detect(p, len);
}

/* Protobuf framing carries the message-index list: a framed message is
 * protobuf unless the format says otherwise or its body starts as JSON. */
static sr_frame_kind_t frame_kind(sr_wire_fmt_t fmt, const void *p,
                                  size_t len) {
  if (fmt == SR_WIRE_PROTO)
    return SR_FRAME_PROTO;
  if (fmt != SR_WIRE_AUTO || (len > 5 && ((const char *)p)[5] == '{'))
    return SR_FRAME_PLAIN;
  return SR_FRAME_PROTO;
}

/* The one place that turns a message into an event, whatever its format:
 * unwraps the Schema Registry framing (*fr->schema_id, *is_framed), then
 * decodes Avro by its schema, JSON by the mapping when there is one, and
 * streamrec's own protobuf or JSON otherwise (a mapping does not apply to
 * protobuf, which is streamrec's own Event). */
static sr_reason_t decode(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                          sr_event_t *ev, sr_frame_t *fr, bool *is_framed,
                          char *why, size_t len) {
  const reader_t *rd = reader_of(ing, msg);
  const void *p = msg->payload;
  size_t n = msg->len;
  *is_framed = false;
  if (ing->lim.max_message_bytes && n > ing->lim.max_message_bytes) {
    snprintf(why, len, "message is %zu bytes, limit %zu", n,
             (size_t)ing->lim.max_message_bytes);
    return SR_REASON_TOO_LARGE;
  }
  if (framed(rd, p, n)) {
    if (sr_frame_parse(p, n, frame_kind(rd->fmt, p, n), fr, why, len) != 0)
      return SR_REASON_DECODE;
    *is_framed = true;
    p = fr->body;
    n = fr->body_len;
  }
  const sr_mapping_t *map = rd->map;
  sr_wire_fmt_t fmt = rd->fmt == SR_WIRE_AUTO ? sr_wire_detect(p, n) : rd->fmt;
  if (fmt != SR_WIRE_AVRO && (!map || fmt != SR_WIRE_JSON))
    return sr_event_decode(p, n, fmt, &ing->lim, ev, why, len);
  bool kafka_ts = fmt == SR_WIRE_AVRO || sr_mapping_uses_kafka_timestamp(map);
  sr_msg_meta_t meta = {
      .key = msg->key,
      .key_len = msg->key_len,
      .timestamp_ms = kafka_ts ? rd_kafka_message_timestamp(msg, NULL) : -1,
      .header = header_of,
      .msg = msg,
  };
  if (fmt == SR_WIRE_AVRO)
    return sr_avro_decode(rd->avro, p, n, &meta, &ing->lim, ev, why, len);
  return sr_mapping_decode(map, p, n, &meta, &ing->lim, ev, why, len);
}

/* decode, and a null value: a deletion marker (a producer's tombstone),
 * not an event with empty fields; an empty value is still decoded as one. */
static sr_reason_t decode_value(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                                sr_event_t *ev, sr_frame_t *fr, bool *is_framed,
                                char *why, size_t len) {
  *is_framed = false;
  if (!msg->payload) {
    snprintf(why, len, "value is null (a tombstone)");
    return SR_REASON_TOMBSTONE;
  }
  return decode(ing, msg, ev, fr, is_framed, why, len);
}

sr_reason_t sr_ingest_decode(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                             sr_event_t *ev, int64_t *schema_id, char *why,
                             size_t len) {
  sr_frame_t fr;
  bool is_framed = false;
  sr_reason_t reason = decode_value(ing, msg, ev, &fr, &is_framed, why, len);
  *schema_id = is_framed ? (int64_t)fr.schema_id : -1;
  return reason;
}

int sr_ingest_message(sr_ingest_t *ing, const rd_kafka_message_t *msg) {
  sr_event_t ev;
  sr_frame_t fr;
  bool is_framed;
  char why[256] = "";
  sr_reason_t reason =
      decode_value(ing, msg, &ev, &fr, &is_framed, why, sizeof(why));
  if (ing->tel)
    sr_telemetry_consumed(ing->tel, rd_kafka_topic_name(msg->rkt));
  if (reason != SR_REASON_OK) {
    reject(ing, msg, reason, why, is_framed ? &fr.schema_id : NULL);
    return 0;
  }
  uint32_t row;
  bool skipped = false;
  if (learn(ing, msg, &ev, &row, &skipped) != SR_OK) {
    sr_log(SR_LOG_ERROR, "out of memory learning an event; stopping",
           "topic=%s partition=%" PRId32 " offset=%" PRId64,
           sr_logq(rd_kafka_topic_name(msg->rkt)), msg->partition, msg->offset);
    return -1;
  }
  if (skipped)
    return 0;
  /* Scored against the user's last published list, which learning does
   * not touch: after learning, so that an event applied before a handoff
   * is not counted twice either. */
  if (ing->tel) {
    sr_telemetry_event(ing->tel, &ev);
    sr_telemetry_learned(ing->tel, row);
  }
  /* A list that cannot be scheduled is not worth stopping the stream for:
   * the user's next event schedules it again. */
  if (ing->rf &&
      sr_refresh_mark(ing->rf, row, ev.timestamp_ms, ing->mono_ms) != SR_OK)
    sr_log(SR_LOG_WARN, "out of memory scheduling a refresh", NULL);
  return 0;
}

uint64_t sr_ingest_rejected(const sr_ingest_t *ing, sr_reason_t reason) {
  return ing->rejected[reason];
}
