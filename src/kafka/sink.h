/* The output side: an idempotent librdkafka producer for the lists (keyed
 * by user id) and for dead letters (the original bytes of rejected input,
 * with headers naming why). Delivery reports arrive on the producer's main
 * queue, which writes a byte to a non-blocking pipe when it turns
 * non-empty; the owner watches sr_sink_fd and calls sr_sink_serve.
 * Loop thread only. */
#ifndef SR_SINK_H
#define SR_SINK_H

#include "codec/reason.h"
#include "kafka/conf.h"
#include "streamrec/common.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct sr_sink sr_sink_t;

/* Called from sr_sink_serve for a list that timed out undelivered, so the
 * owner can refresh that user again. */
typedef void(sr_sink_failed_fn)(void *opaque, uint32_t user_row);

/* Called from sr_sink_serve when the producer hit a fatal error (e.g. the
 * idempotence guarantee cannot be kept); nothing more will be delivered. */
typedef void(sr_sink_fatal_fn)(void *opaque, const char *why);

/* Called from sr_sink_serve for a list the broker acknowledged. */
typedef void(sr_sink_delivered_fn)(void *opaque, uint32_t user_row);

/* Called from sr_sink_serve with the outcome of a record queued by
 * sr_sink_produce: err 0 when acknowledged, else librdkafka's error (after
 * its own retries), with the tag it was queued with. */
typedef void(sr_sink_record_fn)(void *opaque, rd_kafka_resp_err_t err,
                                uint32_t tag, size_t len);

typedef struct sr_sink_hooks {
  sr_sink_failed_fn *on_failed;
  sr_sink_fatal_fn *on_fatal;
  void *opaque;
  sr_sink_delivered_fn *on_delivered; /* may be NULL */
  sr_sink_record_fn *on_record;       /* may be NULL */
} sr_sink_hooks_t;

/* One rejected input message to copy to the dead-letter topic. */
typedef struct sr_dead_letter {
  const rd_kafka_headers_t *headers; /* the original's (copied), or NULL */
  const char *topic;                 /* the dead-letter topic */
  const void *key;
  size_t key_len;
  const void *payload;
  size_t len;
  const char *reason; /* sr_reason_name() */
  const char *detail; /* the decoder's message */
  const char *src_topic;
  int32_t src_partition;
  int64_t src_offset;
  /* The Confluent schema id the message was framed with: sent as header
   * streamrec-schema-id, so that the writer's schema can be looked up. */
  bool framed;
  uint32_t schema_id;
} sr_dead_letter_t;

/* Delivery counters. */
typedef struct sr_sink_stats {
  uint64_t published;    /* lists queued */
  uint64_t delivered;    /* lists acknowledged by the broker */
  uint64_t failed;       /* lists that could not be delivered */
  uint64_t dead_letters; /* dead letters acknowledged */
  uint64_t dead_failed;  /* dead letters that could not be delivered */
  uint64_t records;      /* records (sr_sink_produce) acknowledged */
  uint64_t records_failed;
  uint64_t record_bytes; /* values of the records acknowledged */
} sr_sink_stats_t;

/* Creates the producer for brokers with kc->props applied. Returns
 * NULL with errstr (naming the property when one is rejected; values are
 * never echoed). */
sr_sink_t *sr_sink_new(const sr_kafka_conf_t *kc, const char *brokers,
                       const sr_sink_hooks_t *hooks, char *errstr,
                       size_t errlen);

/* Purges what is still queued, destroys the producer, frees. Accepts NULL. */
void sr_sink_free(sr_sink_t *snk);

/* The read end of the wake-up pipe (non-blocking). */
int sr_sink_fd(const sr_sink_t *snk);

/* Drains the pipe and serves delivery reports without blocking. */
void sr_sink_serve(sr_sink_t *snk);

/* Serves the delivery reports already in, without blocking, between two
 * wake-ups of the pipe (which stays readable: the next serve drains it). */
void sr_sink_poll(sr_sink_t *snk);

/* Queues one list on topic, keyed by key. Returns SR_OK, or SR_ERR_IO when
 * the producer refused it (queue full, fatal error): retry later. */
sr_err_t sr_sink_publish(sr_sink_t *snk, const char *topic, const char *key,
                         size_t key_len, const void *payload, size_t len,
                         uint32_t user_row);

/* Queues one record of another kind (item deltas, user states) on topic,
 * keyed by key, to partition (RD_KAFKA_PARTITION_UA: the partitioner
 * chooses by key); a NULL payload is a tombstone;
 * its outcome goes to the on_record hook with tag, and it counts in
 * sr_sink_in_flight until then. Returns SR_OK, or SR_ERR_IO when the
 * producer refused it (queue full, too large, fatal error). */
sr_err_t sr_sink_produce(sr_sink_t *snk, const char *topic, int32_t partition,
                         const char *key, size_t key_len, const void *payload,
                         size_t len, uint32_t tag);

/* Queues a dead letter: the original key, value and headers plus
 * streamrec-error (the reason), streamrec-error-detail and
 * streamrec-source-{topic,partition,offset}. One that would not fit the
 * producer's message.max.bytes is cut to fit, with streamrec-truncated
 * giving the original value's size (and streamrec-truncated-key the key's,
 * when that was cut too); one the broker still refuses as too large is
 * sent again as its coordinates alone. A dead letter that cannot be sent
 * is logged with its source coordinates and counted (dead_failed).
 * Returns SR_OK or SR_ERR_IO. */
sr_err_t sr_sink_dead_letter(sr_sink_t *snk, const sr_dead_letter_t *dl);

/* sr_sink_dead_letter of a consumed message: its key, value, headers and
 * coordinates, to topic, with reason (sr_reason_name()) and detail. */
sr_err_t sr_sink_dead_letter_msg(sr_sink_t *snk, const char *topic,
                                 const rd_kafka_message_t *msg,
                                 const char *reason, const char *detail);

/* sr_sink_dead_letter_msg of a message framed for the Schema Registry,
 * with its schema id in header streamrec-schema-id (schema_id NULL: none). */
sr_err_t sr_sink_dead_letter_framed(sr_sink_t *snk, const char *topic,
                                    const rd_kafka_message_t *msg,
                                    const char *reason, const char *detail,
                                    const uint32_t *schema_id);

/* librdkafka's queue length (rd_kafka_outq_len): messages queued or in
 * flight, plus internal requests and unserved events. For backpressure. */
size_t sr_sink_outq(sr_sink_t *snk);

/* Messages (lists and dead letters) queued whose delivery report has not
 * been served yet: zero once everything produced is delivered or failed. */
uint64_t sr_sink_in_flight(const sr_sink_t *snk);

/* The counters so far. */
sr_sink_stats_t sr_sink_stats(const sr_sink_t *snk);

#endif
