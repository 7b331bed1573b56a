/* The update rules: implicit ISGD (positives towards 1, sampled negatives and
 * dislikes towards 0) and explicit biased MF for ratings, plus the window of
 * recent items negatives are drawn from. Single-threaded. */
#ifndef SR_LEARNER_H
#define SR_LEARNER_H

#include "core/rng.h"
#include "core/seen.h"

#include <stdint.h>

/* The recent-traffic window: a ring of item rows, so a uniform draw from it
 * is popularity-proportional over recent events. */
typedef struct sr_recent {
  uint32_t *items;
  uint32_t len;
  uint32_t cap;
  uint32_t head;
} sr_recent_t;

/* Dot product of two dims-long rows. */
float sr_learner_dot(const float *a, const float *b, uint32_t dims);

/* One SGD step of both rows towards target with weight w:
 * err = target - u.v; u += lr(w err v - reg u); v += lr(w err u_old - reg v).
 * Returns err. */
float sr_learner_step(float *u, float *v, uint32_t dims, float target, float w,
                      float lr, float reg);

/* Explicit biased MF step for a rating r given the global mean mu.
 * Returns the prediction error before the update. */
float sr_learner_rating(float *u, float *v, float *bu, float *bi, float mu,
                        float r, uint32_t dims, float lr, float reg, float blr,
                        float breg);

/* Sets up a window of cap items (cap > 0). Returns 0 or -1. */
int sr_recent_init(sr_recent_t *rec, uint32_t cap);

/* Releases the window. */
void sr_recent_free(sr_recent_t *rec);

/* Adds an item to the window, dropping the oldest when full. */
void sr_recent_push(sr_recent_t *rec, uint32_t item);

/* Removes every occurrence of item (a row whose id left), keeping the order
 * of the rest, so no draw picks the row before a new id has events in it.
 * O(window). */
void sr_recent_purge(sr_recent_t *rec, uint32_t item);

/* Draws up to k distinct items from the window that user has not seen and
 * that differ from skip, into out. Returns how many were drawn. */
uint32_t sr_recent_sample(const sr_recent_t *rec, sr_rng_t *rng,
                          const sr_seen_t *seen, uint32_t user, uint32_t skip,
                          uint32_t *out, uint32_t k);

#endif
