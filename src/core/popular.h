/* Decayed item popularity: every event adds to its item's count and all
 * counts decay by half every half_life events (0 = no decay), and, when a
 * half-life in time is set, by half every half_life_ms of the events' own
 * time (the model's clock, which never goes back) as well. Kept as raw
 * counts scaled by a growing increment, so one event costs O(1); log counts
 * are kept too, for blending popularity into personal scores. */
#ifndef SR_POPULAR_H
#define SR_POPULAR_H

#include <stdint.h>

/* logc of an item with no count: far below any real log count. */
#define SR_POPULAR_NONE (-1e6f)

typedef struct sr_popular {
  double *counts; /* raw counts; true count = counts[i] / inc */
  float *logc;    /* log(counts[i]); ranking-equivalent to the true count */
  uint32_t items;
  uint32_t cap;
  double *base;  /* cluster mode: raw counts at the last delta taken,
                    rescaled with counts (core/share owns it); else NULL */
  double inc;    /* current increment */
  double growth; /* factor applied to inc after each event */
  double per_ms; /* log2 of the growth per ms of event time; 0: none */
  int64_t at_ms; /* event time inc has grown to; 0 before any */
} sr_popular_t;

/* Sets up empty counts with a half-life in events (0 = plain counts). */
void sr_popular_init(sr_popular_t *pop, double half_life);

/* Adds a half-life in ms of event time (0 = none) to the decay. */
void sr_popular_set_half_life_ms(sr_popular_t *pop, double half_life_ms);

/* Decays every count by the event time since the last call (none on the
 * first, or when time has not moved on). Returns 1 when this rescaled
 * every count (all logc changed), else 0. */
int sr_popular_advance_ms(sr_popular_t *pop, int64_t now_ms);

/* Releases storage. */
void sr_popular_free(sr_popular_t *pop);

/* Makes counts for items [0, items) exist (zero). Returns 0 or -1. */
int sr_popular_ensure(sr_popular_t *pop, uint32_t items);

/* Makes room for cap items exactly (never shrinks). Returns 0 or -1. */
int sr_popular_reserve(sr_popular_t *pop, uint32_t cap);

/* Forgets item's count (the item left). */
void sr_popular_clear(sr_popular_t *pop, uint32_t item);

/* Counts one event on item with weight w, then decays. Returns 1 when this
 * rescaled every count (all logc changed), else 0. */
int sr_popular_add(sr_popular_t *pop, uint32_t item, double w);

/* Adds events (in current units, may be negative; a count stays >= 0) to
 * item's count and to its base: another instance's share of it. */
void sr_popular_merge(sr_popular_t *pop, uint32_t item, double events);

/* Decays every count as events more events would. Returns 1 when this
 * rescaled every count (all logc changed), else 0. */
int sr_popular_advance(sr_popular_t *pop, uint64_t events);

/* Decayed count of item in current units. */
static inline double sr_popular_count(const sr_popular_t *pop, uint32_t item) {
  return pop->counts[item] / pop->inc;
}

/* Bytes allocated: the counts and log counts of every reserved item. */
uint64_t sr_popular_bytes(const sr_popular_t *pop);

/* Rescales when due and recomputes every logc; after loading counts and
 * inc, and on rescaling. Returns 1 when all logc changed. */
int sr_popular_refresh(sr_popular_t *pop);

#endif
