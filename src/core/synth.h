/* Synthetic event stream with structure a recommender can learn: users in
 * taste clusters that prefer subsets of items, a Zipf popularity head and a
 * long tail, sessions, trending items, skewed user activity, a purchase
 * funnel, ratings that follow taste, and slow drift of all of it.
 *
 * The stream is a pure function of the configuration: the same seed gives the
 * same events, and the first n events do not depend on conf.events, so a short
 * stream is a prefix of a longer one. A generator is owned by one thread. */
#ifndef SR_SYNTH_H
#define SR_SYNTH_H

#include "streamrec/common.h"

/* Timestamp of the first event unless the configuration says otherwise. */
#define SR_SYNTH_START_MS 1700000000000LL

/* What to generate. Start from sr_synth_conf_init() and override fields. */
typedef struct sr_synth_conf {
  uint32_t users;    /* ids "u0" .. "u<users-1>"; must be > 0 */
  uint32_t items;    /* ids "i0" .. "i<items-1>"; must be > 0 */
  uint64_t events;   /* stream length; 0: sr_synth_next() never ends */
  uint64_t seed;     /* any value, 0 included */
  uint32_t clusters; /* taste clusters; 0 derives 8..32 from items */
  int64_t start_ms;  /* timestamp of the first event */
} sr_synth_conf_t;

typedef struct sr_synth sr_synth_t;

/* Fills conf with the defaults: 1000 users, 500 items, 100000 events, seed 42,
 * derived clusters, SR_SYNTH_START_MS. */
void sr_synth_conf_init(sr_synth_conf_t *conf);

/* Builds a generator (O(users + items) time and memory). Returns NULL when
 * users or items is 0, or when out of memory. */
sr_synth_t *sr_synth_new(const sr_synth_conf_t *conf);

/* Fills *ev with the next event and returns 1, or returns 0 once conf.events
 * events have been produced. Timestamps strictly increase. */
int sr_synth_next(sr_synth_t *syn, sr_event_t *ev);

/* Number of taste clusters in use (derived or clamped from conf.clusters). */
uint32_t sr_synth_clusters(const sr_synth_t *syn);

/* Longest feature token sr_synth_item_content writes, NUL included, and
 * the most features it gives one item. */
#define SR_SYNTH_FEATURE_LEN 24
#define SR_SYNTH_MAX_FEATURES 8

/* Content for item (< conf.items) that carries the taste structure behind
 * the events, with noise: a feature "topic:C" for most clusters C that
 * prefer the item (and now and then one that does not), and, when dims >
 * 0, an embedding (dims floats into emb) that is the sum of the preferring
 * clusters' random directions plus Gaussian noise. Uses the clusters as
 * they are now (a new generator: before any drift) and a random stream of
 * its own, so it changes no event. Returns the number of features. */
uint32_t sr_synth_item_content(const sr_synth_t *syn, uint32_t item,
                               char feat[][SR_SYNTH_FEATURE_LEN], uint32_t dims,
                               float *emb);

/* Frees the generator. Accepts NULL. */
void sr_synth_free(sr_synth_t *syn);

#endif
