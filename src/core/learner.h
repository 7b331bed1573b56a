/* The update rules: implicit ISGD (positives towards 1, sampled negatives and
 * dislikes towards 0) and explicit biased MF for ratings. Pure functions of
 * the rows they are given; any thread. */
#ifndef SR_LEARNER_H
#define SR_LEARNER_H

#include <stdint.h>

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

#endif
