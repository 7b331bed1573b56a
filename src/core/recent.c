/* The recent-items window and negative sampling; see recent.h. */
#include "core/recent.h"

#include "util/u32.h"

#include <stdlib.h>

int sr_recent_init(sr_recent_t *rec, uint32_t cap) {
  rec->items = calloc(cap, sizeof(uint32_t));
  rec->cap = cap;
  rec->len = rec->head = 0;
  return rec->items ? 0 : -1;
}

void sr_recent_free(sr_recent_t *rec) {
  free(rec->items);
  rec->items = NULL;
}

void sr_recent_push(sr_recent_t *rec, uint32_t item) {
  rec->items[rec->head] = item;
  rec->head = (rec->head + 1) % rec->cap;
  if (rec->len < rec->cap)
    rec->len++;
}

static void reverse(uint32_t *a, uint32_t n) {
  for (uint32_t i = 0, j = n; i + 1 < j; i++, j--) {
    uint32_t t = a[i];
    a[i] = a[j - 1];
    a[j - 1] = t;
  }
}

void sr_recent_purge(sr_recent_t *rec, uint32_t item) {
  uint32_t n = 0;
  if (!sr_u32_has(rec->items, rec->len, item))
    return;
  if (rec->len == rec->cap && rec->head != 0) {
    /* Rotate the full ring so the oldest item comes first. */
    reverse(rec->items, rec->head);
    reverse(rec->items + rec->head, rec->cap - rec->head);
    reverse(rec->items, rec->cap);
  }
  for (uint32_t j = 0; j < rec->len; j++)
    if (rec->items[j] != item)
      rec->items[n++] = rec->items[j];
  /* Now shorter than cap: oldest at 0, the next push goes to n. */
  rec->len = n;
  rec->head = n;
}

static int drawn(const uint32_t *out, uint32_t n, uint32_t item) {
  for (uint32_t i = 0; i < n; i++)
    if (out[i] == item)
      return 1;
  return 0;
}

uint32_t sr_recent_sample(const sr_recent_t *rec, sr_rng_t *rng,
                          const sr_seen_t *seen, uint32_t user, uint32_t skip,
                          uint32_t *out, uint32_t k) {
  uint32_t n = 0;
  if (rec->len == 0)
    return 0;
  /* Draws address the window oldest-first, not by storage slot, so a
   * window restored from a snapshot (written oldest-first) draws the same
   * items as the original and recovery stays bit-exact. */
  uint32_t start = rec->len == rec->cap ? rec->head : 0;
  /* A bounded number of tries keeps heavy users (who have seen most of the
   * window) from stalling the loop. */
  for (uint32_t tries = 0; n < k && tries < 4 * k + 8; tries++) {
    uint32_t slot = start + sr_rng_below(rng, rec->len);
    uint32_t item = rec->items[slot < rec->cap ? slot : slot - rec->cap];
    if (item == skip || drawn(out, n, item) ||
        sr_seen_contains(seen, user, item))
      continue;
    out[n++] = item;
  }
  return n;
}

uint64_t sr_recent_bytes(const sr_recent_t *rec) {
  return (uint64_t)rec->cap * sizeof(uint32_t);
}
