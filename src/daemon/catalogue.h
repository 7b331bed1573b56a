/* The item catalogue (docs/operations.md, "Takedowns"): follows every
 * partition of the items topic (kafka.items_topic, compacted, keyed by item
 * id) outside any group, from its start, and applies each Item to the
 * model: available false takes the item down (sr_model_set_available), a
 * later message or a tombstone (null value) makes it available again. A
 * message that does not decode is rejected like a bad event: counted by
 * reason, logged and copied to the dead-letter topic.
 *
 * Every instance reads the whole topic: sr_catalogue_load blocks at
 * start-up until every partition's end, so no list is published before
 * the takedowns are known (the model's own, from a checkpoint, are
 * dropped first: the topic is the truth); afterwards the owner watches
 * sr_catalogue_fd and calls sr_catalogue_consume. The topic is read from its
 * start on every start (it is compacted), so its offsets are not checkpointed.
 *
 * on_down runs for each item that turns unavailable (not for one already
 * down) and returns the lists it had refreshed, counted in the stats. The
 * model pointer is borrowed (*mdl is read at each message, since the
 * daemon may replace the model); the sink may be NULL. Loop thread only. */
#ifndef SR_CATALOGUE_H
#define SR_CATALOGUE_H

#include "codec/reason.h"
#include "kafka/conf.h"
#include "kafka/sink.h"
#include "streamrec/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef size_t(sr_catalogue_down_fn)(void *opaque, const char *item_id,
                                     size_t len);

typedef struct sr_catalogue_conf {
  const char *topic;
  const char *dead_letter_topic; /* "" or NULL: off */
  size_t max_id_len;             /* 0: SR_ID_MAX */
  size_t embedding_dims;         /* 0: the first embedding's length */
  sr_catalogue_down_fn *on_down; /* may be NULL */
  void *opaque;
} sr_catalogue_conf_t;

typedef struct sr_catalogue_stats {
  uint64_t applied;            /* item messages applied, tombstones too */
  uint64_t taken_down;         /* items that turned unavailable */
  uint64_t restored;           /* items made available again */
  uint64_t takedown_refreshes; /* what on_down returned, summed */
  uint64_t rejected[SR_REASON__COUNT];
} sr_catalogue_stats_t;

typedef struct sr_catalogue sr_catalogue_t;

/* Creates the follower and follows every partition of conf->topic from
 * its start. Blocks on the network for the partition count. Returns NULL
 * with errstr when the topic cannot be read or memory runs out. */
sr_catalogue_t *sr_catalogue_new(const sr_catalogue_conf_t *conf,
                                 const sr_kafka_conf_t *kc, const char *brokers,
                                 sr_model_t **mdl, sr_sink_t *snk, char *errstr,
                                 size_t errlen);

/* Closes the follower and frees. Accepts NULL. */
void sr_catalogue_free(sr_catalogue_t *cat);

/* Reads until every partition's end, waiting at most timeout_ms. Returns
 * SR_OK, or SR_ERR_IO with errstr when the ends were not reached. */
sr_err_t sr_catalogue_load(sr_catalogue_t *cat, int timeout_ms, char *errstr,
                           size_t errlen);

/* The follower's wake-up pipe (non-blocking). */
int sr_catalogue_fd(const sr_catalogue_t *cat);

/* Applies up to budget messages without blocking; *more is set when more
 * are queued. Returns the number taken. */
size_t sr_catalogue_consume(sr_catalogue_t *cat, size_t budget, bool *more);

/* The counters so far. */
sr_catalogue_stats_t sr_catalogue_stats(const sr_catalogue_t *cat);

#endif
