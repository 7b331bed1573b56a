/* Seen rings; see seen.h. */
#include "core/seen.h"

#include "util/u32.h"

#include <stdlib.h>
#include <string.h>

void sr_seen_init(sr_seen_t *seen, uint32_t max) {
  memset(seen, 0, sizeof(*seen));
  seen->max = max;
}

void sr_seen_free(sr_seen_t *seen) {
  for (uint32_t u = 0; u < seen->users; u++)
    free(seen->rings[u].items);
  free(seen->rings);
  seen->rings = NULL;
  seen->users = seen->cap = 0;
  seen->ring_bytes = 0;
}

/* Heap a ring of cap items really takes: glibc rounds a request plus its
 * 8-byte header up to 16 bytes, 32 at least. Thousands of small rings make
 * this overhead a visible share of the model. */
static uint64_t chunk_bytes(uint32_t cap) {
  if (cap == 0)
    return 0;
  uint64_t n = ((uint64_t)cap * sizeof(uint32_t) + 8 + 15) & ~(uint64_t)15;
  return n < 32 ? 32 : n;
}

int sr_seen_reserve(sr_seen_t *seen, uint32_t cap) {
  if (cap <= seen->cap)
    return 0;
  sr_seen_ring_t *rings = realloc(seen->rings, cap * sizeof(*rings));
  if (!rings)
    return -1;
  seen->rings = rings;
  seen->cap = cap;
  return 0;
}

void sr_seen_clear(sr_seen_t *seen, uint32_t user) {
  sr_seen_ring_t *ring = &seen->rings[user];
  seen->ring_bytes -= chunk_bytes(ring->cap);
  free(ring->items);
  memset(ring, 0, sizeof(*ring));
}

int sr_seen_ensure(sr_seen_t *seen, uint32_t users) {
  if (users <= seen->users)
    return 0;
  if (users > seen->cap) {
    uint32_t cap = seen->cap ? seen->cap : 256;
    while (cap < users)
      cap *= 2;
    if (sr_seen_reserve(seen, cap) != 0)
      return -1;
  }
  memset(&seen->rings[seen->users], 0,
         (users - seen->users) * sizeof(sr_seen_ring_t));
  seen->users = users;
  return 0;
}

int sr_seen_contains(const sr_seen_t *seen, uint32_t user, uint32_t item) {
  const sr_seen_ring_t *ring = &seen->rings[user];
  return sr_u32_has(ring->items, ring->len, item);
}

int sr_seen_add(sr_seen_t *seen, uint32_t user, uint32_t item) {
  sr_seen_ring_t *ring = &seen->rings[user];
  if (sr_seen_contains(seen, user, item))
    return 0;
  if (seen->max && ring->len == seen->max) {
    ring->items[ring->head] = item;
    ring->head = (ring->head + 1) % seen->max;
    return 0;
  }
  if (ring->len == ring->cap) {
    uint32_t cap = ring->cap ? ring->cap * 2 : 4;
    if (seen->max && cap > seen->max)
      cap = seen->max;
    uint32_t *items = realloc(ring->items, cap * sizeof(uint32_t));
    if (!items)
      return -1;
    seen->ring_bytes += chunk_bytes(cap) - chunk_bytes(ring->cap);
    ring->items = items;
    ring->cap = cap;
  }
  ring->items[ring->len++] = item;
  return 0;
}

uint64_t sr_seen_bytes(const sr_seen_t *seen) {
  return (uint64_t)seen->cap * sizeof(sr_seen_ring_t) + seen->ring_bytes;
}

uint32_t sr_seen_last(const sr_seen_t *seen, uint32_t user, uint32_t *out,
                      uint32_t k) {
  const sr_seen_ring_t *ring = &seen->rings[user];
  uint32_t n = k < ring->len ? k : ring->len;
  if (n == 0)
    return 0;
  /* A full ring's oldest item sits at head, so its newest just before. */
  uint32_t full = seen->max && ring->len == seen->max;
  uint32_t newest =
      full ? (ring->head + ring->len - 1) % ring->len : ring->len - 1;
  for (uint32_t j = 0; j < n; j++)
    out[j] = ring->items[(newest + ring->len - j) % ring->len];
  return n;
}
