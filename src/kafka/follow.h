/* A partition follower: a consumer outside any group that reads the
 * partitions it is given from the offsets it is given, for what every
 * instance of a cluster reads in full (the sync topic, all partitions) or
 * reads once to its end (a state-topic partition being taken over).
 *
 * It keeps each partition's next offset (what a checkpoint stores) and
 * reports each partition's end when reached. Messages below a partition's
 * next offset (after a re-assignment) are skipped, so none is handed over
 * twice. A position the log no longer holds (retention, a log that went
 * backwards) is never skipped over silently: it is logged with the
 * partition and the offset, counted, and reading resumes at the log's
 * start.
 *
 * The consumer queue writes a byte to a non-blocking pipe when it turns
 * non-empty; the owner watches sr_follow_fd and calls sr_follow_consume.
 * Loop thread only, except sr_follow_partitions. */
#ifndef SR_FOLLOW_H
#define SR_FOLLOW_H

#include "kafka/conf.h"
#include "streamrec/common.h"
#include "util/offset.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <sys/types.h>

/* One message of a followed partition. */
typedef void(sr_follow_msg_fn)(void *opaque, const rd_kafka_message_t *msg);
/* The partition's next offset reached the log's end (high watermark). */
typedef void(sr_follow_end_fn)(void *opaque, const char *topic,
                               int32_t partition, int64_t offset);

typedef struct sr_follow_hooks {
  sr_follow_msg_fn *on_message;
  sr_follow_end_fn *on_end; /* may be NULL */
  void *opaque;
} sr_follow_hooks_t;

typedef struct sr_follow sr_follow_t;

/* Creates the consumer; nothing is read before sr_follow_add. name labels
 * its log lines and its client.id ("sync", "state"). Returns NULL with
 * errstr. */
sr_follow_t *sr_follow_new(const sr_kafka_conf_t *kconf, const char *brokers,
                           const char *name, const sr_follow_hooks_t *hooks,
                           char *errstr, size_t errlen);

/* Closes the consumer and frees. No hook runs from here on. Accepts NULL. */
void sr_follow_free(sr_follow_t *fl);

/* The read end of the wake-up pipe (non-blocking). */
int sr_follow_fd(const sr_follow_t *fl);

/* Follows topic/partition from offset (or RD_KAFKA_OFFSET_BEGINNING /
 * RD_KAFKA_OFFSET_END); a partition already followed keeps its position.
 * Returns SR_OK, SR_ERR_NOMEM or SR_ERR_IO with errstr. */
sr_err_t sr_follow_add(sr_follow_t *fl, const char *topic, int32_t partition,
                       int64_t offset, char *errstr, size_t errlen);

/* Follows partitions 0..n-1 of topic, partition p from offsets[p] (as for
 * sr_follow_add), with one assignment for all. Returns as sr_follow_add. */
sr_err_t sr_follow_add_all(sr_follow_t *fl, const char *topic, int n,
                           const int64_t *offsets, char *errstr, size_t errlen);

/* Stops following topic/partition and forgets it. Call it only once the
 * partition has delivered a message or its end: librdkafka 2.0.2 aborts
 * when a partition is taken away while its fetcher is still starting.
 * Returns SR_OK, SR_ERR_NOT_FOUND or SR_ERR_IO with errstr. */
sr_err_t sr_follow_remove(sr_follow_t *fl, const char *topic, int32_t partition,
                          char *errstr, size_t errlen);

/* Drains the pipe and hands over up to budget messages without blocking.
 * Returns the number taken; *more is set when the queue still holds some. */
size_t sr_follow_consume(sr_follow_t *fl, size_t budget, bool *more);

/* A copy (malloc'd) of every followed partition's next offset (-1 while
 * unknown). Returns the count, or -1 when out of memory. */
ssize_t sr_follow_offsets(const sr_follow_t *fl, sr_offset_t **out);

/* True when every followed partition has reported its end since it was
 * added (and something is followed). */
bool sr_follow_at_ends(const sr_follow_t *fl);

/* Messages between the followed partitions' positions and their last
 * known high watermarks (from fetch responses, no network call), summed;
 * -1 while no partition's is known. */
int64_t sr_follow_lag(const sr_follow_t *fl);

/* Positions lost so far (see above). */
uint64_t sr_follow_resets(const sr_follow_t *fl);

/* Any thread: the partition count of topic, or -1 with errstr when the
 * topic does not exist or the broker did not answer in timeout_ms. */
int sr_follow_partitions(sr_follow_t *fl, const char *topic, int timeout_ms,
                         char *errstr, size_t errlen);

#endif
