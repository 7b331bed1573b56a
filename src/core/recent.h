/* The window of recent items that sampled negatives are drawn from: a ring
 * of item rows, so a uniform draw from it is popularity-proportional over
 * recent events. Owns its ring. Single-threaded (the loop thread). */
#ifndef SR_RECENT_H
#define SR_RECENT_H

#include "core/rng.h"
#include "core/seen.h"

#include <stdint.h>

typedef struct sr_recent {
  uint32_t *items;
  uint32_t len;
  uint32_t cap;
  uint32_t head;
} sr_recent_t;

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

/* Bytes allocated. */
uint64_t sr_recent_bytes(const sr_recent_t *rec);

#endif
