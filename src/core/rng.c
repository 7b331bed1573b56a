/* Seeding of the model RNG. */
#include "core/rng.h"

void sr_rng_seed(sr_rng_t *rng, uint64_t seed) {
  for (int i = 0; i < 4; i++, seed += 0x9e3779b97f4a7c15ull)
    rng->s[i] = sr_splitmix64(seed);
}
