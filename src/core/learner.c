/* Update rules; see learner.h. */
#include "core/learner.h"

float sr_learner_dot(const float *restrict a, const float *restrict b,
                     uint32_t dims) {
  /* Eight independent partial sums let the compiler vectorise the loop
   * without reassociating one sum; the order is fixed, so results stay
   * deterministic. */
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
