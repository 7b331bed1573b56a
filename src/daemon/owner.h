/* Who holds a partition's users in cluster mode with a state topic
 * (docs/scaling.md, "User handoff"): the state flush that precedes each
 * checkpoint, and the takeover of each input partition assigned.
 *
 * On assignment of p, p is held back (sr_source_block) while the group's
 * committed offset for p is fetched in the thread pool. When it equals the
 * offset this instance's checkpoint holds for p, the local users are
 * current and p goes on at once; otherwise its users are restored from
 * state partition p (daemon/handoff) and p resumes at the committed
 * offset. Until then p is left out of the checkpoint's offsets, so a
 * checkpoint never claims a partition whose users are half installed.
 *
 * The model, the source and the sink are borrowed and outlive the owner.
 * Loop thread only. */
#ifndef SR_OWNER_H
#define SR_OWNER_H

#include "daemon/telemetry.h"
#include "kafka/conf.h"
#include "kafka/sink.h"
#include "kafka/source.h"
#include "streamrec/model.h"
#include "util/offset.h"

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A takeover failed for good (the state topic cannot be read): users would
 * be lost, so the daemon stops. */
typedef void(sr_owner_halt_fn)(void *opaque, const char *why);

/* Partition p's users are this instance's now: kept from its checkpoint,
 * or restored from the state topic with their last published lists (when
 * conf.tel is set). */
typedef void(sr_owner_taken_fn)(void *opaque, int32_t p);

typedef struct sr_owner_conf {
  const char *state_topic; /* borrowed */
  const char *input_topic; /* borrowed; the one input topic */
  /* The loaded checkpoint's offsets (copied): what the local users of
   * each partition are current to. Entries of other topics are ignored. */
  const sr_offset_t *offsets;
  size_t n_offsets;
  sr_owner_halt_fn *on_halt;
  sr_owner_taken_fn *on_taken; /* may be NULL */
  void *opaque;
  /* The record of last published lists (borrowed; may be NULL): each
   * user's goes with its state, and restored users' are installed. */
  sr_telemetry_t *tel;
} sr_owner_conf_t;

typedef struct sr_owner sr_owner_t;

/* Creates the owner and its state-topic reader. Returns NULL with errstr. */
sr_owner_t *sr_owner_new(uv_loop_t *loop, const sr_owner_conf_t *conf,
                         const sr_kafka_conf_t *kc, const char *brokers,
                         sr_model_t **mdl, sr_src_t *src, sr_sink_t *snk,
                         char *errstr, size_t errlen);

/* Frees. Call after the loop has run its last thread-pool job (the
 * committed-offset query). Accepts NULL. */
void sr_owner_free(sr_owner_t *o);

/* No takeover starts or finishes from now on (the daemon is stopping). */
void sr_owner_close(sr_owner_t *o);

/* The state reader's wake-up pipe: call sr_owner_serve when readable. */
int sr_owner_fd(const sr_owner_t *o);

/* Installs the state records that arrived (up to budget) and lets the
 * partitions whose restore finished go on. *more is set when records are
 * left. */
void sr_owner_serve(sr_owner_t *o, size_t budget, bool *more);

/* The source's hooks: input partition p was assigned to this instance, or
 * taken from it (its users are dropped: they live on with the new owner). */
void sr_owner_assigned(sr_owner_t *o, int32_t p);
void sr_owner_revoked(sr_owner_t *o, int32_t p);

/* The state flush that precedes a checkpoint. */
typedef enum sr_owner_flush {
  SR_OWNER_FLUSHED, /* every changed user is on the state topic */
  SR_OWNER_SENDING, /* records in flight: wait for the sink */
  SR_OWNER_FAILED,  /* a record was refused or lost: the checkpoint must
                       not be taken; abandon and try again later */
} sr_owner_flush_t;

/* Starts a flush when none is under way, and says where it stands. The
 * model must not learn until sr_owner_flush_done or _abandon. */
sr_owner_flush_t sr_owner_flush(sr_owner_t *o);

/* The checkpoint was taken: the users flushed are clean. */
void sr_owner_flush_done(sr_owner_t *o);

/* The checkpoint was put off: the users stay owed to the next flush, and
 * the outcomes of this one's records are ignored. */
void sr_owner_flush_abandon(sr_owner_t *o);

/* True for a tag of a state record (the sink's on_record hook). */
bool sr_owner_is_record(uint32_t tag);

/* The sink's outcome of a state record. */
void sr_owner_delivered(sr_owner_t *o, rd_kafka_resp_err_t err, uint32_t tag,
                        size_t len);

/* Removes from offs (n entries, in place) the input partitions that are not
 * held yet (being queried or restored). Returns the count kept. */
size_t sr_owner_held_offsets(const sr_owner_t *o, sr_offset_t *offs, size_t n);

typedef struct sr_owner_stats {
  uint32_t pending;         /* partitions not held yet */
  uint64_t restored_parts;  /* partitions restored from the state topic */
  uint64_t kept_parts;      /* partitions taken over from local state */
  uint64_t restored_users;  /* users installed */
  uint64_t restore_records; /* state records read (tombstones too) */
  uint64_t restore_bytes;   /* their bytes */
  double restore_seconds;   /* total time partitions spent restoring */
  uint64_t records_sent;    /* state records acknowledged */
  uint64_t bytes_sent;      /* their bytes */
  uint64_t records_failed;  /* refused or undelivered */
} sr_owner_stats_t;

sr_owner_stats_t sr_owner_stats(const sr_owner_t *o);

/* Writes up to max input partitions not held yet to parts; returns how
 * many there are. */
size_t sr_owner_pending(const sr_owner_t *o, int32_t *parts, size_t max);

#endif
