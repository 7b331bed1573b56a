/* Seeded deterministic RNG (xoshiro256**). Its state is part of the model, so
 * a run is reproducible for a given event order. */
#ifndef SR_RNG_H
#define SR_RNG_H

#include <stdint.h>

typedef struct sr_rng {
  uint64_t s[4];
} sr_rng_t;

/* splitmix64's output for state x (x plus the golden gamma, finalised):
 * consecutive x map to unrelated bits. */
static inline uint64_t sr_splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Seeds the generator through splitmix64, so any seed (even 0) is good. */
void sr_rng_seed(sr_rng_t *rng, uint64_t seed);

/* Next 64 random bits. */
static inline uint64_t sr_rng_next(sr_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t x = s[1] * 5;
  uint64_t result = ((x << 7) | (x >> 57)) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift). */
static inline uint32_t sr_rng_below(sr_rng_t *rng, uint32_t n) {
  return (uint32_t)(((sr_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform float in [-1, 1). */
static inline float sr_rng_sym(sr_rng_t *rng) {
  return (float)((int64_t)(sr_rng_next(rng) >> 40) - (1 << 23)) /
         (float)(1 << 23);
}

#endif
