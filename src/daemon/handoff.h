/* User handoff through the state topic (docs/scaling.md): the records an
 * instance writes for its changed and evicted users, and the restore of one
 * input partition's users by the instance the partition moves to.
 *
 * Partition p of the state topic holds the users of input partition p,
 * keyed by user id: each user's latest state, or a tombstone (null value)
 * once it was evicted. Restoring p drops whatever users of p the model
 * holds, reads state partition p from its start to its end, and installs
 * the latest record of each user (a later record replaces an earlier one; a
 * tombstone removes the user), as compaction would leave them. Loop thread
 * only; the model is borrowed. */
#ifndef SR_HANDOFF_H
#define SR_HANDOFF_H

#include "daemon/telemetry.h"
#include "kafka/conf.h"
#include "streamrec/model.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* Hands one record to the producer: partition p of the state topic, keyed
 * by the user id; value NULL for a tombstone. Returns 0, or non-zero to
 * stop the flush (the records stay owed). */
typedef int(sr_handoff_send_fn)(void *opaque, int32_t partition,
                                const char *key, size_t key_len,
                                const void *value, size_t len);

/* Encodes the state of every user changed since the last completed flush,
 * with its last published list as tel remembers it (tel may be NULL: no
 * lists), after a tombstone for every user evicted since, and hands each
 * to send.
 * *records receives how many were handed over. Returns 0 or send's
 * non-zero (or -1 when out of memory). The caller completes the flush with
 * sr_share_flush_done once every record is acknowledged, and the model must
 * not learn in between. */
int sr_handoff_flush(sr_model_t *mdl, const sr_telemetry_t *tel,
                     sr_handoff_send_fn *send, void *opaque, uint64_t *records);

/* A partition's users are installed. */
typedef void(sr_handoff_done_fn)(void *opaque, int32_t partition,
                                 uint64_t users, uint64_t records);

typedef struct sr_handoff sr_handoff_t;

/* A restorer reading state_topic (borrowed string) into *mdl (borrowed:
 * the model may be replaced between calls, hence the double pointer).
 * Returns NULL with errstr. */
sr_handoff_t *sr_handoff_new(const sr_kafka_conf_t *kconf, const char *brokers,
                             const char *state_topic, sr_model_t **mdl,
                             sr_handoff_done_fn *done, void *opaque,
                             char *errstr, size_t errlen);

/* Stops every restore and frees. Accepts NULL. */
void sr_handoff_free(sr_handoff_t *ho);

/* Installs the last published list each restored user's state carries
 * into tel (borrowed; NULL: none), so that a takedown refreshes the lists
 * the previous owner published. */
void sr_handoff_set_telemetry(sr_handoff_t *ho, sr_telemetry_t *tel);

/* The read end of the wake-up pipe: call sr_handoff_serve when readable. */
int sr_handoff_fd(const sr_handoff_t *ho);

/* Drops the model's users of input partition p and starts reading state
 * partition p from its start. Returns SR_OK, or an error with errstr. */
sr_err_t sr_handoff_begin(sr_handoff_t *ho, int32_t p, char *errstr,
                          size_t errlen);

/* Stops restoring p (it was revoked again before it finished): its records
 * are no longer installed and no done call comes for it. Returns 1 when it
 * was being restored. */
int sr_handoff_cancel(sr_handoff_t *ho, int32_t p);

/* Installs what arrived, up to budget records; calls done for each
 * partition that reached its end. *more is set when records are left. */
void sr_handoff_serve(sr_handoff_t *ho, size_t budget, bool *more);

/* True while p is being restored. */
bool sr_handoff_restoring(const sr_handoff_t *ho, int32_t p);

/* Partitions being restored now, and records installed so far. */
typedef struct sr_handoff_stats {
  uint32_t restoring;
  uint64_t records;   /* state records read */
  uint64_t users;     /* users installed (records minus tombstones) */
  uint64_t bytes;     /* their values' bytes */
  uint64_t refused;   /* records that did not decode */
  uint64_t completed; /* partitions restored */
} sr_handoff_stats_t;

sr_handoff_stats_t sr_handoff_stats(const sr_handoff_t *ho);

#endif
