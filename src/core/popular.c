/* Decayed popularity; see popular.h. */
#include "core/popular.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Past this increment the raw counts are rescaled, long before doubles
 * lose range. */
#define RESCALE_AT 1e100

/* Log count kept for ranking; an item never counted ranks below all others
 * with a finite value, so blends stay finite. */
static float log_count(double c) {
  return c > 0 ? (float)log(c) : SR_POPULAR_NONE;
}

void sr_popular_init(sr_popular_t *pop, double half_life) {
  memset(pop, 0, sizeof(*pop));
  pop->inc = 1.0;
  pop->growth = half_life > 0 ? pow(2.0, 1.0 / half_life) : 1.0;
}

void sr_popular_set_half_life_ms(sr_popular_t *pop, double half_life_ms) {
  pop->per_ms = half_life_ms > 0 ? 1.0 / half_life_ms : 0.0;
}

void sr_popular_free(sr_popular_t *pop) {
  free(pop->counts);
  free(pop->logc);
  pop->counts = NULL;
  pop->logc = NULL;
  pop->items = pop->cap = 0;
}

int sr_popular_reserve(sr_popular_t *pop, uint32_t cap) {
  if (cap <= pop->cap)
    return 0;
  double *counts = realloc(pop->counts, cap * sizeof(double));
  if (!counts)
    return -1;
  pop->counts = counts;
  float *logc = realloc(pop->logc, cap * sizeof(float));
  if (!logc)
    return -1;
  pop->logc = logc;
  pop->cap = cap;
  return 0;
}

void sr_popular_clear(sr_popular_t *pop, uint32_t item) {
  pop->counts[item] = 0;
  if (pop->base)
    pop->base[item] = 0;
  pop->logc[item] = SR_POPULAR_NONE;
}

int sr_popular_ensure(sr_popular_t *pop, uint32_t items) {
  if (items <= pop->items)
    return 0;
  if (items > pop->cap) {
    uint32_t cap = pop->cap ? pop->cap : 256;
    while (cap < items)
      cap *= 2;
    if (sr_popular_reserve(pop, cap) != 0)
      return -1;
  }
  for (uint32_t i = pop->items; i < items; i++) {
    pop->counts[i] = 0;
    pop->logc[i] = SR_POPULAR_NONE;
  }
  pop->items = items;
  return 0;
}

int sr_popular_refresh(sr_popular_t *pop) {
  int rescaled = pop->inc > RESCALE_AT;
  if (rescaled) {
    for (uint32_t i = 0; i < pop->items; i++)
      pop->counts[i] /= pop->inc;
    for (uint32_t i = 0; pop->base && i < pop->items; i++)
      pop->base[i] /= pop->inc;
    pop->inc = 1.0;
  }
  for (uint32_t i = 0; i < pop->items; i++)
    pop->logc[i] = log_count(pop->counts[i]);
  return rescaled;
}

int sr_popular_add(sr_popular_t *pop, uint32_t item, double w) {
  pop->counts[item] += w * pop->inc;
  pop->logc[item] = log_count(pop->counts[item]);
  pop->inc *= pop->growth;
  return pop->inc > RESCALE_AT ? sr_popular_refresh(pop) : 0;
}

uint64_t sr_popular_bytes(const sr_popular_t *pop) {
  return (uint64_t)pop->cap * (sizeof(*pop->counts) + sizeof(*pop->logc));
}

void sr_popular_merge(sr_popular_t *pop, uint32_t item, double events) {
  double add = events * pop->inc;
  if (pop->counts[item] + add < 0)
    add = -pop->counts[item];
  pop->counts[item] += add;
  if (pop->base)
    pop->base[item] += add;
  pop->logc[item] = log_count(pop->counts[item]);
}

/* Decays every count by the factor f (>= 1). Returns 1 when this rescaled
 * every count. */
static int grow_by(sr_popular_t *pop, double f) {
  if (pop->inc * f <= RESCALE_AT) {
    pop->inc *= f;
    return 0;
  }
  /* Past the rescaling point (or past a double's range): bring every count
   * to an increment of 1 and decay it in the same division. */
  double by = pop->inc * f;
  for (uint32_t i = 0; i < pop->items; i++)
    pop->counts[i] /= by;
  for (uint32_t i = 0; pop->base && i < pop->items; i++)
    pop->base[i] /= by;
  pop->inc = 1.0;
  sr_popular_refresh(pop);
  return 1;
}

int sr_popular_advance(sr_popular_t *pop, uint64_t events) {
  if (pop->growth == 1.0 || events == 0)
    return 0;
  return grow_by(pop, pow(pop->growth, (double)events));
}

int sr_popular_advance_ms(sr_popular_t *pop, int64_t now_ms) {
  if (pop->per_ms == 0 || now_ms <= pop->at_ms)
    return 0;
  int64_t since = pop->at_ms ? now_ms - pop->at_ms : 0;
  pop->at_ms = now_ms;
  return since ? grow_by(pop, exp2((double)since * pop->per_ms)) : 0;
}
