/* Item sync in cluster mode (docs/scaling.md, "Item sync"): publishes what
 * this instance's events changed in items, as batches of deltas keyed by
 * its member id on the sync topic, and reads every partition of that topic
 * to add the other members' deltas to the model. A batch carries the
 * events learned since the previous one, so receivers decay popularity for
 * every member's events.
 *
 * The model and the sink are borrowed; the follower (kafka/follow) is its
 * own. Batches are produced through the sink, whose on_record hook must be
 * forwarded to sr_sync_delivered. The sync topic's next offsets and the
 * member id travel in the checkpoint's offsets list (sr_sync_offsets): the
 * member id as an entry whose topic is "member:" + id (a name Kafka
 * cannot give a topic), partition -1. sr_sync_new blocks on the network
 * (the sync topic's partition count): call it at start-up; the rest is
 * loop thread only. */
#ifndef SR_SYNC_H
#define SR_SYNC_H

#include "codec/cluster_codec.h"
#include "kafka/conf.h"
#include "kafka/sink.h"
#include "streamrec/model.h"
#include "util/offset.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest member id: a checkpoint entry's topic holds "member:" + id. */
#define SR_SYNC_MEMBER_MAX 200

typedef struct sr_sync_conf {
  const char *topic;
  const char *member_id; /* sr_sync_member_id */
  sr_delta_enc_t enc;
  size_t batch_bytes; /* a batch is cut once its encoding reaches about this */
  const sr_offset_t *offsets; /* the checkpoint's; others' entries ignored */
  size_t n_offsets;
} sr_sync_conf_t;

typedef struct sr_sync_stats {
  uint64_t deltas_sent;     /* item deltas the broker acknowledged */
  uint64_t batches_sent;    /* batches acknowledged */
  uint64_t bytes_sent;      /* their encoded bytes */
  uint64_t deltas_failed;   /* taken but never delivered (each logged) */
  uint64_t deltas_applied;  /* other members' deltas added to the model */
  uint64_t batches_applied; /* other members' batches read */
  uint64_t batches_invalid; /* batches that did not decode (logged) */
  uint64_t bytes_read;      /* bytes of every batch read, own ones too */
  int64_t lag;              /* messages behind on the sync topic; -1 unknown */
} sr_sync_stats_t;

typedef struct sr_sync sr_sync_t;

/* The member id of this instance: instance_id when non-empty, else the
 * one kept in the checkpoint's offsets, else a new random one. Writes it
 * to out (at least SR_SYNC_MEMBER_MAX + 1 bytes). Returns true when it is
 * new (not from the checkpoint or the config). */
bool sr_sync_member_id(const char *instance_id, const sr_offset_t *offs,
                       size_t n, char *out, size_t len);

/* True when off is an entry of the sync topic or the member id, which
 * belong to the sync, not to the input. */
bool sr_sync_owns_offset(const char *topic, const sr_offset_t *off);

/* Creates the follower and follows every partition of conf->topic from
 * the checkpoint's next offsets (from the start when it has none). kc and
 * brokers as for the other clients; mdl and snk are borrowed and outlive
 * it. Returns NULL with errstr (SR_ERR_IO in *err when the topic could not
 * be read, SR_ERR_NOMEM when out of memory). */
sr_sync_t *sr_sync_new(const sr_sync_conf_t *conf, const sr_kafka_conf_t *kc,
                       const char *brokers, sr_model_t *mdl, sr_sink_t *snk,
                       char *errstr, size_t errlen);

/* Closes the follower and frees. Accepts NULL. */
void sr_sync_free(sr_sync_t *sy);

/* The follower's wake-up pipe (non-blocking). */
int sr_sync_fd(const sr_sync_t *sy);

/* Takes every item delta since the last call and queues it in batches.
 * Deltas the producer refuses are logged and counted as failed (the model
 * has moved its base past them). Returns the batches queued. */
size_t sr_sync_publish(sr_sync_t *sy);

/* Reads up to budget batches of the sync topic without blocking and
 * applies the other members' deltas; *more is set when more are queued. */
size_t sr_sync_consume(sr_sync_t *sy, size_t budget, bool *more);

/* The sink's outcome of a batch (its on_record hook): tag is the batch's
 * delta count. */
void sr_sync_delivered(sr_sync_t *sy, rd_kafka_resp_err_t err, uint32_t tag,
                       size_t len);

/* Batches queued whose outcome is not known yet. */
uint64_t sr_sync_in_flight(const sr_sync_t *sy);

/* Appends to *offs (malloc'd, *n entries; may be NULL with 0) the sync
 * topic's next offsets and the member id entry, for a checkpoint. Returns
 * 0, or -1 when out of memory (*offs unchanged). */
int sr_sync_offsets(const sr_sync_t *sy, sr_offset_t **offs, size_t *n);

/* The counters so far. */
sr_sync_stats_t sr_sync_stats(const sr_sync_t *sy);

#endif
