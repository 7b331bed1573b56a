/* The online choice of a blend: a small set of configurations, each a
 * co-occurrence normalisation (alpha, beta) and a co-occurrence weight
 * beside the factor score (weight 1) and the popularity term (pop_blend).
 * On a deterministic sample of events, the model checks, before learning
 * the event, whether each configuration's top-n would have held its item
 * (core/recommend's sr_recommend_try_blends); each configuration keeps a
 * decayed count of such hits, and the one with the most (the leader)
 * scores every list: follow the leader. A challenger takes the lead only
 * with strictly more hits, so ties keep the current choice.
 *
 * With model.blend fixed there is one configuration, the model.cooc_*
 * settings, and nothing is sampled. Owns no heap; single-threaded (the
 * loop thread); part of the checkpoint and the digest. */
#ifndef SR_BLEND_H
#define SR_BLEND_H

#include "core/cooc.h"
#include "streamrec/model.h"
#include "util/buf.h"

#include <stdint.h>

/* Configurations at most. */
#define SR_BLEND_MAX 8

typedef struct sr_blend_config {
  uint32_t norm; /* index into alpha, beta */
  float w_co;    /* weight of the co-occurrence score (best item 1) */
} sr_blend_config_t;

typedef struct sr_blend {
  uint32_t n; /* configurations */
  sr_blend_config_t config[SR_BLEND_MAX];
  uint32_t norms; /* normalisations */
  float alpha[SR_COOC_NORMS], beta[SR_COOC_NORMS];
  double hits[SR_BLEND_MAX]; /* decayed hit counts */
  uint32_t leader;
  uint64_t samples; /* events tested so far */
  uint32_t every;   /* one event in every is sampled; 0: none (fixed) */
  uint32_t top_n;   /* list length a hit is counted in */
  double keep;      /* factor a hit count keeps per sample */
} sr_blend_t;

/* The configurations of conf: with model.blend auto, the built-in set,
 * led by its first; else the one fixed blend. */
void sr_blend_init(sr_blend_t *bl, const sr_model_conf_t *conf);

/* Trials sampled at one event in 2, before one in model.blend_sample: a
 * new stream's choice is made early, at a bounded cost. */
#define SR_BLEND_WARMUP 4000

/* Trials after which the choice has settled and one event in
 * SR_BLEND_SETTLED_BY x model.blend_sample is tested: a trial ranks the
 * event's item under every blend, and at one in 16 trials were a third
 * of the learner's time, while testing a quarter as often from here on
 * changed recall@10 by 0.3% at most (three generated streams of 1 M
 * events, of long and of short histories). */
#define SR_BLEND_SETTLED 8000
#define SR_BLEND_SETTLED_BY 4

/* 1 when the event that makes the model's events-th (0-based) is to be
 * tested: one in 2 for the first SR_BLEND_WARMUP trials, then one in
 * every, then from SR_BLEND_SETTLED trials one in SR_BLEND_SETTLED_BY x
 * every; by a hash of the count, so that the sample follows no period of
 * the stream. */
int sr_blend_sampled(const sr_blend_t *bl, uint64_t events);

/* Counts one tested event: hit[c] is 1 when configuration c's list held
 * the item. Decays every count, then follows the leader. */
void sr_blend_record(sr_blend_t *bl, const uint8_t *hit);

/* The leader's configuration. */
static inline const sr_blend_config_t *sr_blend_leader(const sr_blend_t *bl) {
  return &bl->config[bl->leader];
}

/* Writes configuration k's name ("cooc=0.3,alpha=0.3,beta=0.5") into buf. */
void sr_blend_name(const sr_blend_t *bl, uint32_t k, char *buf, size_t len);

/* Appends the state (configurations, leader, samples, hit counts) to buf.
 * Returns 0 or -1. */
int sr_blend_dump(const sr_blend_t *bl, sr_buf_t *buf);

/* Loads a dump into bl, set up by sr_blend_init. Returns 0, or -1 when the
 * bytes are not a dump of the same configurations (a checkpoint of another
 * model.blend); bl is then unchanged. */
int sr_blend_load(sr_blend_t *bl, const void *data, uint64_t len);

#endif
