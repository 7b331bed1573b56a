/* Update rules; see learner.h. */
#include "core/learner.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The sum order is fixed, so results are the same on every machine: lane j
 * of eight partial sums adds the products f = j mod 8, and the lanes are
 * combined as ((0+4) + (1+5)) + ((2+6) + (3+7)). */
#if defined(__SSE2__)
float sr_learner_dot(const float *restrict a, const float *restrict b,
                     uint32_t dims) {
  /* Two 4-wide sums are lanes 0-3 and 4-7 of the scalar form. */
  __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
  uint32_t f = 0;
  for (; f + 8 <= dims; f += 8) {
    lo = _mm_add_ps(lo, _mm_mul_ps(_mm_loadu_ps(a + f), _mm_loadu_ps(b + f)));
    hi = _mm_add_ps(
        hi, _mm_mul_ps(_mm_loadu_ps(a + f + 4), _mm_loadu_ps(b + f + 4)));
  }
  float acc[8];
  _mm_storeu_ps(acc, lo);
  _mm_storeu_ps(acc + 4, hi);
  for (; f < dims; f++)
    acc[0] += a[f] * b[f];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
         ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}
#else
float sr_learner_dot(const float *restrict a, const float *restrict b,
                     uint32_t dims) {
  float acc[8] = {0};
  uint32_t f = 0;
  for (; f + 8 <= dims; f += 8)
    for (uint32_t j = 0; j < 8; j++)
      acc[j] += a[f + j] * b[f + j];
  for (; f < dims; f++)
    acc[0] += a[f] * b[f];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
         ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}
#endif

float sr_learner_step(float *restrict u, float *restrict v, uint32_t dims,
                      float target, float w, float lr, float reg) {
  float err = target - sr_learner_dot(u, v, dims);
  float g = lr * w * err, keep = 1.0f - lr * reg;
  for (uint32_t f = 0; f < dims; f++) {
    float uf = u[f];
    u[f] = keep * uf + g * v[f];
    v[f] = keep * v[f] + g * uf;
  }
  return err;
}

float sr_learner_rating(float *restrict u, float *restrict v, float *bu,
                        float *bi, float mu, float r, uint32_t dims, float lr,
                        float reg, float blr, float breg) {
  float err = r - (mu + *bu + *bi + sr_learner_dot(u, v, dims));
  *bu += blr * (err - breg * *bu);
  *bi += blr * (err - breg * *bi);
  float g = lr * err, keep = 1.0f - lr * reg;
  for (uint32_t f = 0; f < dims; f++) {
    float uf = u[f];
    u[f] = keep * uf + g * v[f];
    v[f] = keep * v[f] + g * uf;
  }
  return err;
}
