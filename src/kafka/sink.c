/* The producer for lists and dead letters; see sink.h. */
#define SR_LOG_COMPONENT "producer"
#include "kafka/sink.h"

#include "kafka/client.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Topic handles kept so that producing does not look topics up by name for
 * every message: the output topic and the dead-letter topic. */
#define TOPIC_CACHE 4
/* What a dead letter leaves of message.max.bytes for record and batch
 * framing, and the most of a key kept when a dead letter has to be cut. */
#define FRAME_BYTES 1024
#define KEY_KEEP 1024

struct sr_sink {
  rd_kafka_t *rk;
  rd_kafka_queue_t *mainq;
  int pipefd[2];
  sr_sink_hooks_t hooks;
  sr_sink_stats_t stats;
  uint64_t in_flight;
  rd_kafka_topic_t *topics[TOPIC_CACHE];
  size_t max_msg; /* the producer's message.max.bytes */
  bool fatal_reported;
};

static void dead_letter_failed(sr_sink_t *snk, const rd_kafka_message_t *msg);

/* A list's delivery opaque carries its user row, tagged in the low bit so
 * that dead letters (NULL) are told apart; a record of sr_sink_produce
 * carries its tag above the two low bits, which read binary 10. */
static void *list_opaque(uint32_t row) {
  return (void *)(((uintptr_t)row << 1) | 1u);
}

static void *record_opaque(uint32_t tag) {
  return (void *)(((uintptr_t)tag << 2) | 2u);
}

static bool is_record(uintptr_t opaque) {
  return (opaque & 3u) == 2u;
}

static void record_done(sr_sink_t *snk, const rd_kafka_message_t *msg,
                        uintptr_t tag) {
  if (!msg->err) {
    snk->stats.records++;
    snk->stats.record_bytes += msg->len;
  } else {
    snk->stats.records_failed++;
    sr_log(SR_LOG_ERROR, "delivery failed", "kind=record topic=%s error=%s",
           sr_logq(rd_kafka_topic_name(msg->rkt)),
           sr_logq(rd_kafka_err2str(msg->err)));
  }
  if (snk->hooks.on_record)
    snk->hooks.on_record(snk->hooks.opaque, msg->err, (uint32_t)(tag >> 2),
                         msg->len);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque) {
  (void)rk;
  sr_sink_t *snk = opaque;
  uintptr_t tag = (uintptr_t)msg->_private;
  bool list = tag & 1u;
  snk->in_flight--;
  if (is_record(tag)) {
    record_done(snk, msg, tag);
    return;
  }
  if (!msg->err) {
    if (list)
      snk->stats.delivered++;
    if (list && snk->hooks.on_delivered)
      snk->hooks.on_delivered(snk->hooks.opaque, (uint32_t)(tag >> 1));
    else if (!list)
      snk->stats.dead_letters++;
    return;
  }
  if (!list) {
    dead_letter_failed(snk, msg);
    return;
  }
  sr_log(SR_LOG_WARN, "delivery failed", "kind=list topic=%s error=%s",
         sr_logq(rd_kafka_topic_name(msg->rkt)),
         sr_logq(rd_kafka_err2str(msg->err)));
  snk->stats.failed++;
  /* librdkafka retried retriable errors until message.timeout.ms already:
   * a timed-out list is worth a fresh one later, a refused one (too large,
   * not authorized) would only fail again. */
  if (snk->hooks.on_failed && msg->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
    snk->hooks.on_failed(snk->hooks.opaque, (uint32_t)(tag >> 1));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
  sr_sink_t *snk = opaque;
  sr_kafka_log_error(rk, err, reason);
  if (err != RD_KAFKA_RESP_ERR__FATAL || snk->fatal_reported)
    return;
  char why[512];
  rd_kafka_fatal_error(rk, why, sizeof(why));
  snk->fatal_reported = true;
  if (snk->hooks.on_fatal)
    snk->hooks.on_fatal(snk->hooks.opaque, why);
}

/* Idempotence keeps retried lists in order and unduplicated; the queue
 * limit sits well above queue_high so that the consumer pauses long before
 * the producer refuses a message. */
static rd_kafka_conf_t *producer_conf(const sr_kafka_conf_t *kc,
                                      const char *brokers, sr_sink_t *snk,
                                      char *errstr, size_t errlen) {
  rd_kafka_conf_t *conf = sr_kafka_conf_new(kc, brokers, errstr, errlen);
  if (!conf)
    return NULL;
  char limit[32];
  uint64_t max_msgs = (uint64_t)kc->queue_high * 4 + 100000;
  snprintf(limit, sizeof(limit), "%" PRIu64,
           max_msgs > INT32_MAX ? (uint64_t)INT32_MAX : max_msgs);
  /* The refresh batcher hands lists over in bursts already; lingering on top
   * of it would only add to every list's latency. */
  if (sr_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errlen) ||
      (!sr_kafka_user_set(kc, "linger.ms") &&
       sr_kafka_conf_set(conf, "linger.ms", "0", errstr, errlen)) ||
      (!sr_kafka_user_set(kc, "queue.buffering.max.messages") &&
       sr_kafka_conf_set(conf, "queue.buffering.max.messages", limit, errstr,
                         errlen))) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  char max[32];
  size_t max_len = sizeof(max);
  snk->max_msg = 1000000;
  if (rd_kafka_conf_get(conf, "message.max.bytes", max, &max_len) ==
      RD_KAFKA_CONF_OK)
    snk->max_msg = strtoull(max, NULL, 10);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, snk);
  return conf;
}

sr_sink_t *sr_sink_new(const sr_kafka_conf_t *kc, const char *brokers,
                       const sr_sink_hooks_t *hooks, char *errstr,
                       size_t errlen) {
  sr_sink_t *snk = calloc(1, sizeof(*snk));
  if (!snk) {
    snprintf(errstr, errlen, "out of memory");
    return NULL;
  }
  snk->pipefd[0] = snk->pipefd[1] = -1;
  if (hooks)
    snk->hooks = *hooks;
  if (sr_kafka_pipe(snk->pipefd) != 0) {
    snprintf(errstr, errlen, "pipe: %s", strerror(errno));
    goto fail;
  }
  rd_kafka_conf_t *conf = producer_conf(kc, brokers, snk, errstr, errlen);
  if (!conf)
    goto fail;
  snk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
  if (!snk->rk) {
    rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
    goto fail;
  }
  snk->mainq = rd_kafka_queue_get_main(snk->rk);
  rd_kafka_queue_io_event_enable(snk->mainq, snk->pipefd[1], "1", 1);
  /* Events queued before that wrote no byte: serve them once. */
  sr_kafka_pipe_wake(snk->pipefd[1]);
  return snk;
fail:
  sr_sink_free(snk);
  return NULL;
}

void sr_sink_free(sr_sink_t *snk) {
  if (!snk)
    return;
  for (int i = 0; i < TOPIC_CACHE; i++) {
    if (snk->topics[i])
      rd_kafka_topic_destroy(snk->topics[i]);
  }
  if (snk->mainq) {
    rd_kafka_queue_io_event_enable(snk->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(snk->mainq);
  }
  if (snk->rk) {
    /* Whatever is still queued was given up on by the caller; purging it
     * keeps rd_kafka_destroy from waiting on unreachable brokers. */
    rd_kafka_purge(snk->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(snk->rk);
  }
  sr_kafka_pipe_close(snk->pipefd);
  free(snk);
}

int sr_sink_fd(const sr_sink_t *snk) {
  return snk->pipefd[0];
}

void sr_sink_poll(sr_sink_t *snk) {
  rd_kafka_poll(snk->rk, 0);
}

void sr_sink_serve(sr_sink_t *snk) {
  sr_kafka_pipe_drain(snk->pipefd[0]);
  sr_sink_poll(snk);
}

/* The cached handle of topic, created on first use. */
static rd_kafka_topic_t *topic_handle(sr_sink_t *snk, const char *topic) {
  int i = 0;
  for (; i < TOPIC_CACHE && snk->topics[i]; i++) {
    if (!strcmp(rd_kafka_topic_name(snk->topics[i]), topic))
      return snk->topics[i];
  }
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(snk->rk, topic, NULL);
  if (rkt && i < TOPIC_CACHE)
    snk->topics[i] = rkt;
  return rkt;
}

/* Drops a handle that did not fit in the cache (a message holds its own
 * reference, so this is safe right after producing). */
static void release_handle(sr_sink_t *snk, rd_kafka_topic_t *rkt) {
  for (int i = 0; i < TOPIC_CACHE; i++) {
    if (snk->topics[i] == rkt)
      return;
  }
  rd_kafka_topic_destroy(rkt);
}

static sr_err_t produce_result(rd_kafka_resp_err_t err, const char *topic) {
  if (!err)
    return SR_OK;
  sr_log(SR_LOG_WARN, "produce refused", "topic=%s error=%s", sr_logq(topic),
         sr_logq(rd_kafka_err2str(err)));
  return SR_ERR_IO;
}

/* Produces one record with its delivery opaque; counts it in flight. */
static rd_kafka_resp_err_t send_record(sr_sink_t *snk, const char *topic,
                                       int32_t partition, const char *key,
                                       size_t key_len, const void *payload,
                                       size_t len, void *opaque) {
  rd_kafka_topic_t *rkt = topic_handle(snk, topic);
  if (!rkt)
    return rd_kafka_last_error();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      snk->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)payload, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
      RD_KAFKA_V_END);
  if (!err)
    snk->in_flight++;
  release_handle(snk, rkt);
  return err;
}

sr_err_t sr_sink_publish(sr_sink_t *snk, const char *topic, const char *key,
                         size_t key_len, const void *payload, size_t len,
                         uint32_t user_row) {
  rd_kafka_resp_err_t err =
      send_record(snk, topic, RD_KAFKA_PARTITION_UA, key, key_len, payload, len,
                  list_opaque(user_row));
  if (!err)
    snk->stats.published++;
  return produce_result(err, topic);
}

sr_err_t sr_sink_produce(sr_sink_t *snk, const char *topic, int32_t partition,
                         const char *key, size_t key_len, const void *payload,
                         size_t len, uint32_t tag) {
  return produce_result(send_record(snk, topic, partition, key, key_len,
                                    payload, len, record_opaque(tag)),
                        topic);
}

/* Bytes the headers take on the wire, near enough. */
static size_t headers_size(const rd_kafka_headers_t *hdrs) {
  const char *name;
  const void *value;
  size_t size, total = 0;
  for (size_t i = 0;
       hdrs && !rd_kafka_header_get_all(hdrs, i, &name, &value, &size); i++)
    total += strlen(name) + size + 8;
  return total;
}

static void add_header(rd_kafka_headers_t *hdrs, const char *name,
                       const char *fmt, ...) {
  char value[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(value, sizeof(value), fmt, ap);
  va_end(ap);
  rd_kafka_header_add(hdrs, name, -1, value, -1);
}

/* The original headers (when they fit beside the framing) and ours. */
static rd_kafka_headers_t *dead_letter_headers(const sr_sink_t *snk,
                                               const sr_dead_letter_t *dl) {
  bool keep = dl->headers && headers_size(dl->headers) < snk->max_msg / 4;
  rd_kafka_headers_t *hdrs =
      keep ? rd_kafka_headers_copy(dl->headers) : rd_kafka_headers_new(8);
  if (dl->headers && !keep)
    add_header(hdrs, "streamrec-headers-dropped", "%zu",
               rd_kafka_header_cnt(dl->headers));
  rd_kafka_header_add(hdrs, "streamrec-error", -1, dl->reason, -1);
  rd_kafka_header_add(hdrs, "streamrec-error-detail", -1, dl->detail, -1);
  rd_kafka_header_add(hdrs, "streamrec-source-topic", -1, dl->src_topic, -1);
  add_header(hdrs, "streamrec-source-partition", "%" PRId32, dl->src_partition);
  add_header(hdrs, "streamrec-source-offset", "%" PRId64, dl->src_offset);
  if (dl->framed)
    add_header(hdrs, "streamrec-schema-id", "%" PRIu32, dl->schema_id);
  return hdrs;
}

/* Cuts the key, then the value, so that the dead letter fits the
 * producer's message.max.bytes; headers say what was cut. */
static void fit(const sr_sink_t *snk, rd_kafka_headers_t *hdrs, size_t *key_len,
                size_t *len) {
  size_t room = snk->max_msg > FRAME_BYTES ? snk->max_msg - FRAME_BYTES : 0;
  size_t fixed = headers_size(hdrs) + 2 * 64; /* with the two below */
  room = room > fixed ? room - fixed : 0;
  if (*key_len + *len <= room)
    return;
  if (*key_len > KEY_KEEP) {
    add_header(hdrs, "streamrec-truncated-key", "%zu", *key_len);
    *key_len = KEY_KEEP;
  }
  if (*key_len + *len > room) {
    add_header(hdrs, "streamrec-truncated", "%zu", *len);
    *len = room > *key_len ? room - *key_len : 0;
  }
}

/* Produces one dead letter; takes hdrs over whatever happens. */
static rd_kafka_resp_err_t produce_dead_letter(sr_sink_t *snk,
                                               rd_kafka_topic_t *rkt,
                                               const void *key, size_t key_len,
                                               const void *payload, size_t len,
                                               rd_kafka_headers_t *hdrs) {
  rd_kafka_resp_err_t err = rd_kafka_producev(
      snk->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE((void *)payload, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
  if (err)
    rd_kafka_headers_destroy(hdrs); /* librdkafka owns them on success only */
  else
    snk->in_flight++;
  return err;
}

/* The value of header name, as text, or "?". */
static const char *header_text(const rd_kafka_headers_t *hdrs, const char *name,
                               char *buf, size_t len) {
  const void *value;
  size_t size;
  if (!hdrs || rd_kafka_header_get_last(hdrs, name, &value, &size))
    return "?";
  snprintf(buf, len, "%.*s", (int)size, (const char *)value);
  return buf;
}

/* A dead letter that cannot be delivered is at least named in the log by
 * its source coordinates, and counted. */
static void dead_letter_lost(sr_sink_t *snk, const char *dlq,
                             const char *src_topic, const char *partition,
                             const char *offset, const char *reason,
                             rd_kafka_resp_err_t err) {
  snk->stats.dead_failed++;
  sr_log(SR_LOG_ERROR, "dead letter not delivered",
         "topic=%s source_topic=%s source_partition=%s source_offset=%s "
         "reason=%s error=%s",
         sr_logq(dlq), sr_logq(src_topic), partition, offset, sr_logq(reason),
         sr_logq(rd_kafka_err2str(err)));
}

static bool too_large(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
         err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

/* A dead letter the broker refused as too large (its limit is below the
 * producer's) goes again as its key's head and its headers alone. */
static void dead_letter_failed(sr_sink_t *snk, const rd_kafka_message_t *msg) {
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_message_headers(msg, &hdrs);
  if (too_large(msg->err) && msg->len > 0 && hdrs) {
    rd_kafka_headers_t *copy = rd_kafka_headers_copy(hdrs);
    if (rd_kafka_header_get_last(copy, "streamrec-truncated", NULL, NULL))
      add_header(copy, "streamrec-truncated", "%zu", msg->len);
    size_t key_len = msg->key_len < KEY_KEEP ? msg->key_len : KEY_KEEP;
    if (!produce_dead_letter(snk, msg->rkt, msg->key, key_len, NULL, 0, copy))
      return;
  }
  char topic[256], part[16], off[24], reason[64];
  dead_letter_lost(
      snk, rd_kafka_topic_name(msg->rkt),
      header_text(hdrs, "streamrec-source-topic", topic, sizeof(topic)),
      header_text(hdrs, "streamrec-source-partition", part, sizeof(part)),
      header_text(hdrs, "streamrec-source-offset", off, sizeof(off)),
      header_text(hdrs, "streamrec-error", reason, sizeof(reason)), msg->err);
}

sr_err_t sr_sink_dead_letter(sr_sink_t *snk, const sr_dead_letter_t *dl) {
  rd_kafka_headers_t *hdrs = dead_letter_headers(snk, dl);
  size_t key_len = dl->key_len, len = dl->len;
  fit(snk, hdrs, &key_len, &len);
  rd_kafka_topic_t *rkt = topic_handle(snk, dl->topic);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (rkt) {
    err =
        produce_dead_letter(snk, rkt, dl->key, key_len, dl->payload, len, hdrs);
    release_handle(snk, rkt);
  } else {
    err = rd_kafka_last_error();
    rd_kafka_headers_destroy(hdrs);
  }
  if (!err)
    return SR_OK;
  char part[16], off[24];
  snprintf(part, sizeof(part), "%" PRId32, dl->src_partition);
  snprintf(off, sizeof(off), "%" PRId64, dl->src_offset);
  dead_letter_lost(snk, dl->topic, dl->src_topic, part, off, dl->reason, err);
  return SR_ERR_IO;
}

size_t sr_sink_outq(sr_sink_t *snk) {
  return (size_t)rd_kafka_outq_len(snk->rk);
}

uint64_t sr_sink_in_flight(const sr_sink_t *snk) {
  return snk->in_flight;
}

sr_sink_stats_t sr_sink_stats(const sr_sink_t *snk) {
  return snk->stats;
}

sr_err_t sr_sink_dead_letter_msg(sr_sink_t *snk, const char *topic,
                                 const rd_kafka_message_t *msg,
                                 const char *reason, const char *detail) {
  return sr_sink_dead_letter_framed(snk, topic, msg, reason, detail, NULL);
}

sr_err_t sr_sink_dead_letter_framed(sr_sink_t *snk, const char *topic,
                                    const rd_kafka_message_t *msg,
                                    const char *reason, const char *detail,
                                    const uint32_t *schema_id) {
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_message_headers(msg, &hdrs);
  sr_dead_letter_t dl = {
      .headers = hdrs,
      .topic = topic,
      .key = msg->key,
      .key_len = msg->key_len,
      .payload = msg->payload,
      .len = msg->len,
      .reason = reason,
      .detail = detail,
      .src_topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "",
      .src_partition = msg->partition,
      .src_offset = msg->offset,
      .framed = schema_id != NULL,
      .schema_id = schema_id ? *schema_id : 0,
  };
  return sr_sink_dead_letter(snk, &dl);
}
