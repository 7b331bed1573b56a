/* Per-user rings of recently seen item rows: what "exclude already seen"
 * removes from a user's list and what negative sampling skips. Each ring
 * grows on demand up to max entries (0 = unbounded), then overwrites its
 * oldest. Single-threaded. */
#ifndef SR_SEEN_H
#define SR_SEEN_H

#include <stdint.h>

typedef struct sr_seen_ring {
  uint32_t *items;
  uint32_t len;
  uint32_t cap;
  uint32_t head; /* next slot to overwrite once len == max */
} sr_seen_ring_t;

typedef struct sr_seen {
  sr_seen_ring_t *rings;
  uint32_t users;
  uint32_t cap;
  uint32_t max;
  uint64_t ring_bytes; /* heap held by all rings' items, kept as they change */
} sr_seen_t;

/* Sets up an empty set of rings, each holding at most max items. */
void sr_seen_init(sr_seen_t *seen, uint32_t max);

/* Releases all rings. */
void sr_seen_free(sr_seen_t *seen);

/* Makes rings for users [0, users) exist. Returns 0 or -1 (no memory). */
int sr_seen_ensure(sr_seen_t *seen, uint32_t users);

/* Makes room for cap users' rings exactly (never shrinks). Returns 0 or
 * -1. */
int sr_seen_reserve(sr_seen_t *seen, uint32_t cap);

/* Empties user's ring and releases its memory (the user left). */
void sr_seen_clear(sr_seen_t *seen, uint32_t user);

/* Records item for user unless already in the ring. Returns 0 or -1. */
int sr_seen_add(sr_seen_t *seen, uint32_t user, uint32_t item);

/* 1 when item is in user's ring. */
int sr_seen_contains(const sr_seen_t *seen, uint32_t user, uint32_t item);

/* Copies up to k of user's items, most recent first, into out. Returns
 * how many. */
uint32_t sr_seen_last(const sr_seen_t *seen, uint32_t user, uint32_t *out,
                      uint32_t k);

/* Bytes held, counting the allocator's overhead of each ring. */
uint64_t sr_seen_bytes(const sr_seen_t *seen);

#endif
