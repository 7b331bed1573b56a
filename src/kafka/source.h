/* The input side: a librdkafka group consumer on the input topics with
 * auto-commit and auto-offset-store off. The source owns, per
 * topic-partition, the offset of the next event to apply. That offset
 * survives revocation; on assignment a partition starts from it, else from
 * the checkpoint's, else where --from says. A message below it (a duplicate
 * after a seek) is skipped, so no event is applied twice.
 *
 * A partition's log can go backwards under that offset: a broker that
 * restarted empty, a topic deleted and recreated, another cluster behind
 * the same address. The source sees it as an out-of-range fetch (librdkafka
 * never resets an offset by itself here: auto.offset.reset is "error") or
 * as a new cluster id, never skips silently: it logs an error naming the
 * partition and both offsets, counts it, and per kafka.offset_reset_policy
 * resumes from the new log's start or halts.
 *
 * The consumer queue (rebalances and client errors come through it too,
 * via rd_kafka_poll_set_consumer) and the commit-result queue write a byte
 * to a non-blocking pipe when they turn non-empty; the owner watches
 * sr_source_fd and calls sr_source_consume. Everything runs on the loop
 * thread except the functions marked "any thread", which block on the
 * network and belong in a thread pool. */
#ifndef SR_SOURCE_H
#define SR_SOURCE_H

#include "kafka/conf.h"
#include "streamrec/common.h"
#include "util/offset.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <sys/types.h>

/* Where a partition without a known offset starts. */
typedef enum sr_from {
  SR_FROM_EARLIEST = 0,
  SR_FROM_LATEST,
  SR_FROM_COMMITTED,
  SR_FROM_TIMESTAMP,
} sr_from_t;

typedef struct sr_source_conf {
  sr_kafka_conf_t kafka; /* its strings outlive the source */
  const char *brokers;
  sr_from_t from;
  int64_t from_ts_ms;         /* SR_FROM_TIMESTAMP */
  bool until_end;             /* report end-of-partition events */
  bool embedded;              /* brokers is the in-process mock */
  const sr_offset_t *offsets; /* from the loaded checkpoint, or NULL */
  size_t n_offsets;
  const char *cluster_id; /* the cluster those offsets are of, or "" */
  bool reset_fails;       /* a log that went backwards halts the source */
  /* Cluster mode: the cooperative-sticky assignor unless
   * partition.assignment.strategy is set, so that a rebalance stops only
   * the partitions that move. */
  bool cooperative;
  const char *instance_id; /* group.instance.id when non-empty */
} sr_source_conf_t;

/* One new message of an assigned partition. Returns 0 when it was dealt
 * with (applied or rejected): the source records it (next offset = its
 * offset + 1). Returns -1 to halt: the message is not recorded and no
 * further message is handed over, so the offsets stay exact. */
typedef int(sr_source_msg_fn)(void *opaque, const rd_kafka_message_t *msg);
/* The assignment changed. */
typedef void(sr_source_assign_fn)(void *opaque);
/* A partition's log went backwards and kafka.offset_reset_policy says
 * stop: nothing more is handed over. */
typedef void(sr_source_halt_fn)(void *opaque, const char *why);
/* One partition: newly assigned (after which its messages may follow,
 * unless the hook blocks it with sr_source_block), or taken from this
 * consumer (revoked, or lost with the group: none of its messages is
 * handed over after). */
typedef void(sr_source_part_fn)(void *opaque, const char *topic,
                                int32_t partition);
/* An offset commit finished; err SR_OK or SR_ERR_IO with why. */
typedef void(sr_source_commit_fn)(void *opaque, sr_err_t err, const char *why,
                                  void *commit_opaque);

typedef struct sr_source_hooks {
  sr_source_msg_fn *on_message;
  sr_source_assign_fn *on_assign;
  sr_source_commit_fn *on_commit;
  void *opaque;
  sr_source_halt_fn *on_halt;        /* may be NULL */
  sr_source_part_fn *on_revoke;      /* per partition; may be NULL */
  sr_source_part_fn *on_assign_part; /* per new partition; may be NULL */
} sr_source_hooks_t;

typedef struct sr_source_stats {
  uint64_t messages;   /* handed to on_message */
  uint64_t duplicates; /* skipped: below the next offset */
  uint64_t stale;      /* skipped: partition no longer assigned */
  uint64_t errors;     /* consumer error events */
  uint64_t resets;     /* partition logs found to have gone backwards */
} sr_source_stats_t;

typedef struct sr_src sr_src_t;

/* Creates the consumer (nothing is fetched before sr_source_subscribe).
 * Returns NULL with errstr; a rejected kafka.properties.<name> is named,
 * its value never shown. */
sr_src_t *sr_source_new(const sr_source_conf_t *conf,
                        const sr_source_hooks_t *hooks, char *errstr,
                        size_t errlen);

/* Leaves the group (blocking, bounded by session.timeout.ms), destroys the
 * consumer and frees. No hook runs from here on. Accepts NULL. */
void sr_source_free(sr_src_t *src);

/* The read end of the wake-up pipe (non-blocking). */
int sr_source_fd(const sr_src_t *src);

/* Subscribes to the input topics. Returns SR_OK or SR_ERR_INVALID. */
sr_err_t sr_source_subscribe(sr_src_t *src, char *errstr, size_t errlen);

/* Drains the pipe, serves commit results, then takes up to budget
 * messages and events off the consumer queue without blocking. Returns the
 * number taken; *more is set when the queue still holds some (the pipe is
 * only written again once it has been empty). */
size_t sr_source_consume(sr_src_t *src, size_t budget, bool *more);

/* Serves commit results only (while no longer consuming). */
void sr_source_serve_commits(sr_src_t *src);

/* Pauses (true) or resumes fetching of every assigned partition; later
 * assignments follow the same state. */
void sr_source_pause(sr_src_t *src, bool pause);

/* Holds back one assigned partition (its users are being restored): it is
 * paused whatever sr_source_pause says, and what was already fetched of it
 * is dropped unrecorded. Returns SR_OK, or SR_ERR_NOT_FOUND when it is not
 * assigned. */
sr_err_t sr_source_block(sr_src_t *src, const char *topic, int32_t partition);

/* Lets a blocked partition go on; with next >= 0 it resumes at next (the
 * group's committed offset after a handoff), else at its next offset.
 * Returns SR_OK, or SR_ERR_NOT_FOUND when it is not assigned. */
sr_err_t sr_source_unblock(sr_src_t *src, const char *topic, int32_t partition,
                           int64_t next);

/* Forgets where a partition stands, when the events applied from it have
 * left the model (cluster mode drops a revoked partition's users): a later
 * assignment starts it from the group's committed offset or per --from,
 * never after events the model no longer holds. */
void sr_source_forget(sr_src_t *src, const char *topic, int32_t partition);

/* Any thread: fills each entry's offset with the group's committed offset
 * for its partition (-1 when none). Returns SR_OK, or SR_ERR_IO with
 * errstr. */
sr_err_t sr_source_committed(sr_src_t *src, sr_offset_t *parts, size_t n,
                             int timeout_ms, char *errstr, size_t errlen);

/* True while the consumer's statistics last showed its group rejoining (a
 * rebalance under way), and in cluster mode (conf.cooperative) for a while
 * after a rebalance or a refused commit. An offset commit sent then carries the
 * old generation; the coordinator answers it only once the new generation
 * exists, refuses it, and librdkafka takes the refusal for the loss of the
 * whole assignment. */
bool sr_source_rejoining(const sr_src_t *src);

/* True while paused by sr_source_pause. */
bool sr_source_paused(const sr_src_t *src);

/* Partitions currently assigned. */
size_t sr_source_assigned(const sr_src_t *src);

/* A copy (malloc'd, caller frees) of every known partition's next offset.
 * Returns the count, 0 with *out NULL when none, or -1 when out of memory. */
ssize_t sr_source_offsets(const sr_src_t *src, sr_offset_t **out);

/* Commits offs (only the currently assigned partitions among them) to the
 * group, asynchronously; on_commit reports with commit_opaque. Returns
 * SR_OK, SR_ERR_NOT_FOUND when none of them is assigned (no callback), or
 * SR_ERR_IO. */
sr_err_t sr_source_commit(sr_src_t *src, const sr_offset_t *offs, size_t n,
                          void *commit_opaque);

/* --until end: a copy of the assigned partitions whose end offset is not
 * known yet (caller frees). Returns the count, or -1 when out of memory. */
ssize_t sr_source_untargeted(const sr_src_t *src, sr_offset_t **out);

/* Any thread: fills each entry's offset with its partition's high
 * watermark (-1 when the query failed). Returns SR_OK, or SR_ERR_IO with
 * errstr for the first failure. */
sr_err_t sr_source_query_ends(sr_src_t *src, sr_offset_t *parts, size_t n,
                              char *errstr, size_t errlen);

/* Records end offsets found by sr_source_query_ends (entries < 0 ignored). */
void sr_source_set_ends(sr_src_t *src, const sr_offset_t *parts, size_t n);

/* True when something is assigned and every assigned partition has reached
 * its recorded end offset. */
bool sr_source_at_ends(const sr_src_t *src);

/* Any thread: resolves --from TIMESTAMP to an offset per partition of the
 * input topics (offsets for times; the end when nothing is that new).
 * *out is malloc'd. Returns SR_OK or SR_ERR_IO with errstr. */
sr_err_t sr_source_lookup_times(sr_src_t *src, sr_offset_t **out, size_t *n,
                                char *errstr, size_t errlen);

/* Records start offsets found by sr_source_lookup_times. Returns SR_OK or
 * SR_ERR_NOMEM. */
sr_err_t sr_source_set_starts(sr_src_t *src, const sr_offset_t *parts,
                              size_t n);

/* Events left to consume on the assigned partitions: up to the recorded end
 * offsets with --until end, else to the last known high watermarks.
 * Returns -1 while unknown. */
int64_t sr_source_lag(sr_src_t *src);

/* Called per assigned partition whose high watermark is known. */
typedef void(sr_source_lag_fn)(void *opaque, const char *topic,
                               int32_t partition, int64_t lag);

/* Reports each assigned partition's lag as sr_source_lag counts it: the
 * recorded end offset (--until end) or the last known high watermark (from
 * fetch responses, no network call), minus the next offset to apply. While
 * a rebalance is in progress, the partitions it revoked are reported too. */
void sr_source_each_lag(sr_src_t *src, sr_source_lag_fn *fn, void *opaque);

/* True when the client reported every broker down and no statistics since
 * showed one up again. */
bool sr_source_brokers_down(const sr_src_t *src);

/* The counters so far. */
sr_source_stats_t sr_source_stats(const sr_src_t *src);

/* Periodic checks that need no message to run: a new cluster id behind
 * the brokers (also checked before each batch). Loop thread, every tick. */
void sr_source_tick(sr_src_t *src);

/* The id of the cluster the offsets belong to ("" while unknown); valid
 * until the next sr_source_consume. */
const char *sr_source_cluster_id(const sr_src_t *src);

/* True when the group has not been up for several session timeouts while
 * a broker is reachable: librdkafka 2.0.2 does not follow a coordinator
 * whose address changed (a replaced cluster) and would wait forever. */
bool sr_source_stuck(const sr_src_t *src);

/* Replaces the consumer with a new one (the offsets and the paused state
 * stay; nothing is assigned until the group assigns again). No
 * sr_source_query_ends or sr_source_lookup_times may be running. Returns
 * SR_OK, or an error with errstr while the old consumer stays. */
sr_err_t sr_source_restart(sr_src_t *src, char *errstr, size_t errlen);

#endif
