/* Item-to-item co-occurrence: decayed, gap-weighted counts of items that
 * follow one another in users' histories, in sparse rows of at most k
 * neighbours per item. A learned event on item i pairs i with each of the
 * user's previous items, the gap-th most recent with weight g^(gap-1); its
 * count and i's event count decay by half every half_life events. Counts
 * are symmetric and kept so: row i holds j exactly when row j holds i, with
 * the same count, so forgetting an item removes every pair it is in. A full
 * row admits a new neighbour only when its weight reaches the row's
 * smallest count, which it replaces (prune on insert).
 *
 * Forgetting is O(1) per event: counts are stored raw, scaled by an
 * increment that grows by 2^(1/half_life) per event (true count = raw /
 * inc), and rescaled to an increment of 1 on the rare event when it grows
 * too large; counts that have decayed to nothing are dropped then, and an
 * item whose own count has, pairs with nothing until its next event.
 *
 * Similarity: sim(i, j) = C[i,j] / (N_i^alpha * N_j^beta), for up to
 * SR_COOC_NORMS normalisations (alpha, beta) at once: the counts are the
 * same for all, only the powers of the item counts differ, so the online
 * choice of a blend (core/blend) scores every normalisation from one set of
 * rows. Owns its rows;
 * single-threaded (the loop thread); deterministic. In cluster mode each
 * instance counts the events of its own users: counts are not part of the
 * item deltas the instances exchange. */
#ifndef SR_COOC_H
#define SR_COOC_H

#include "streamrec/model.h"
#include "util/buf.h"

#include <stdint.h>

/* Normalisations kept at most. */
#define SR_COOC_NORMS 2

typedef struct sr_cooc_row {
  uint32_t *ids; /* cap neighbour rows, then cap raw counts (float) */
  uint32_t len;
  uint32_t cap;
  int32_t min; /* entry of the smallest (count, neighbour), -1: unknown */
} sr_cooc_row_t;

/* Per item, what scoring reads of each neighbour, side by side: one cache
 * line instead of two. */
typedef struct sr_cooc_item {
  float pow_b[SR_COOC_NORMS]; /* raw n^-beta of each normalisation */
  float acc[SR_COOC_NORMS];   /* scoring scratch, kept zero between uses */
} sr_cooc_item_t;

typedef struct sr_cooc {
  sr_cooc_row_t *rows;
  double *n;    /* per item: raw event count */
  float *pow_a; /* per item, SR_COOC_NORMS each: raw n^-alpha (0 when n is
                   0) */
  sr_cooc_item_t *it;
  float *gap_w;   /* gap_w[d] = g^d for d < hist */
  uint32_t items; /* rows in use */
  uint32_t cap;   /* rows allocated */
  uint32_t k;     /* neighbours per row at most */
  uint32_t hist;  /* previous items an event is paired with */
  uint32_t norms; /* normalisations in use, 1 .. SR_COOC_NORMS */
  float alpha[SR_COOC_NORMS], beta[SR_COOC_NORMS];
  double inc;         /* current increment */
  double growth;      /* factor applied to inc after each event */
  uint64_t row_bytes; /* heap held by every row's entries */
} sr_cooc_t;

/* Sets up empty counts from the model.cooc_* settings of conf, with one
 * normalisation (cooc_alpha, cooc_beta). Returns 0 or -1 (no memory). */
int sr_cooc_init(sr_cooc_t *co, const sr_model_conf_t *conf);

/* Replaces the normalisations by n (1 .. SR_COOC_NORMS) others; only while
 * no item exists. Normalisation 0 is the one sr_cooc_sim reports. */
void sr_cooc_set_norms(sr_cooc_t *co, uint32_t n, const float *alpha,
                       const float *beta);

/* Releases everything. */
void sr_cooc_free(sr_cooc_t *co);

/* Makes room for cap items exactly (never shrinks). Returns 0 or -1. */
int sr_cooc_reserve(sr_cooc_t *co, uint32_t cap);

/* Makes empty rows for items [0, items) exist. Returns 0 or -1. */
int sr_cooc_ensure(sr_cooc_t *co, uint32_t items);

/* Learns one event on item, whose user's previous items are hist[0 ..
 * n_hist), most recent first (only the first hist of them are used; item
 * itself and items without a count, such as items only disliked, are
 * skipped). Then decays every count by one event. Returns 0 or -1
 * (no memory; counts stay symmetric). */
int sr_cooc_learn(sr_cooc_t *co, uint32_t item, const uint32_t *hist,
                  uint32_t n_hist);

/* Forgets item: its count and every pair it is in. */
void sr_cooc_clear(sr_cooc_t *co, uint32_t item);

/* Decayed count of the pair (i, j), and of item's events, in true units. */
double sr_cooc_count(const sr_cooc_t *co, uint32_t i, uint32_t j);
double sr_cooc_events(const sr_cooc_t *co, uint32_t item);

/* sim(i, j) as above, of normalisation 0; 0 for a pair not kept. */
double sr_cooc_sim(const sr_cooc_t *co, uint32_t i, uint32_t j);

/* Neighbours kept for item. */
uint32_t sr_cooc_neighbours(const sr_cooc_t *co, uint32_t item);

/* A user's co-occurrence scores: S(c) = sum over hist[a] (most recent
 * first, a < n_hist) of decay^a * sim(hist[a], c), over the neighbours of
 * those items, leaving out the items in excl[0 .. n_excl), divided by the
 * largest S (so the best is 1). Writes the items with a positive score
 * into out (n_hist * k entries at most), in an order that depends only on
 * the state, and returns their count. O(n_hist * k + n_excl). */
uint32_t sr_cooc_score(sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                       float decay, const uint32_t *excl, uint32_t n_excl,
                       sr_scored_t *out);

/* sr_cooc_score with normalisation norm (< co->norms). */
uint32_t sr_cooc_score_norm(sr_cooc_t *co, uint32_t norm, const uint32_t *hist,
                            uint32_t n_hist, float decay, const uint32_t *excl,
                            uint32_t n_excl, sr_scored_t *out);

/* The scores of every normalisation in one pass: the same items as
 * sr_cooc_score, into items[0 .. count), and the score of items[t] under
 * normalisation k at scores[k * cap + t] (each divided by its own
 * largest). cap is at least n_hist * k. Returns the count. */
uint32_t sr_cooc_score_all(sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                           float decay, const uint32_t *excl, uint32_t n_excl,
                           uint32_t *items, float *scores, uint32_t cap);

/* 1 when sr_cooc_score_all of hist and decay gives item a positive score
 * in some normalisation, exclusions aside: else its score is 0 in every
 * one, whatever the other items score. O(n_hist * k). */
int sr_cooc_scores_item(const sr_cooc_t *co, const uint32_t *hist,
                        uint32_t n_hist, float decay, uint32_t item);

/* 1 when item is among the neighbours of some hist[a], a < n_hist. */
int sr_cooc_near(const sr_cooc_t *co, const uint32_t *hist, uint32_t n_hist,
                 uint32_t item);

/* Appends the state (increment, per item: raw count, neighbours, raw
 * counts) to buf. Returns 0 or -1. */
int sr_cooc_dump(const sr_cooc_t *co, sr_buf_t *buf);

/* Loads a dump of items rows into an empty co. Returns 0, or -1 when the
 * bytes are not such a dump (bad length, a row over k, a neighbour out of
 * range or the item itself). */
int sr_cooc_load(sr_cooc_t *co, uint32_t items, const void *data, uint64_t len);

/* Bytes allocated, counting the allocator's overhead of each row. */
uint64_t sr_cooc_bytes(const sr_cooc_t *co);

#endif
