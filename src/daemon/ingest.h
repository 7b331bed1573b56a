/* Ingest: turns one input message into a model update. Decodes and
 * validates it (format detected per message unless forced, per topic by
 * input.topics.TOPIC.format; Schema Registry framing unwrapped by
 * input.framing, codec/framing.h; limits from input.*; a JSON message by
 * the field mapping of input.fields.* and input.types when one is
 * configured, codec/mapping.h; Avro by input.avro.schema_file and the same
 * mapping, codec/avro_event.h), learns from a valid
 * event (in cluster mode by the skip rule of core/share.h, with the message's
 * partition and offset) and marks its user dirty; counts a rejected one by
 * reason, logs it (rate-limited) and copies it unchanged to the dead-letter
 * topic when one is configured, with its schema id when it was framed
 * (a type skipped by input.unknown_types=skip is
 * only counted). Loop thread only; the model, batcher and sink
 * are borrowed. */
#ifndef SR_INGEST_H
#define SR_INGEST_H

#include "codec/reason.h"
#include "daemon/config.h"
#include "daemon/refresh.h"
#include "daemon/telemetry.h"
#include "kafka/sink.h"
#include "streamrec/model.h"

#include <librdkafka/rdkafka.h>

typedef struct sr_ingest sr_ingest_t;

/* Creates the ingest step. rf and snk may be NULL (no refresh, no dead
 * letters). Returns NULL with errstr when out of memory. */
sr_ingest_t *sr_ingest_new(const sr_config_t *cfg, sr_model_t *mdl,
                           sr_refresh_t *rf, sr_sink_t *snk, char *errstr,
                           size_t errlen);

/* Reports consumed messages and learned events to tel (borrowed; NULL for
 * none). */
void sr_ingest_set_telemetry(sr_ingest_t *ing, sr_telemetry_t *tel);

/* Frees it. Accepts NULL. */
void sr_ingest_free(sr_ingest_t *ing);

/* Sets the clocks for the messages that follow: wall_ms for the future
 * timestamp check, mono_ms for the batcher. The loop owns time and calls this
 * before each consume step; until the first call there is no future check. */
void sr_ingest_set_time(sr_ingest_t *ing, int64_t wall_ms, uint64_t mono_ms);

/* Decodes msg as sr_ingest_message does (its topic's format, framing,
 * mapping and limits; a null value is a tombstone), without learning,
 * counting or dead-lettering: SR_REASON_OK with *ev, or the reason it would
 * be rejected with why. *schema_id is the Schema Registry id of a framed
 * message, else -1. ing may have been made without a model. */
sr_reason_t sr_ingest_decode(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                             sr_event_t *ev, int64_t *schema_id, char *why,
                             size_t len);

/* Applies or rejects one message. Returns 0, or -1 when the event could
 * not be applied (out of memory): the caller must stop before recording
 * its offset. */
int sr_ingest_message(sr_ingest_t *ing, const rd_kafka_message_t *msg);

/* Messages rejected for reason so far. */
uint64_t sr_ingest_rejected(const sr_ingest_t *ing, sr_reason_t reason);

#endif
