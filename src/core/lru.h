/* Recency order of the rows of one kind (users or items): an intrusive
 * doubly-linked list in touch order, most recent at the head, so the least
 * recently active row is found and moved in O(1); the event time of each
 * row's last touch; and a stack of free rows (evicted, awaiting reuse),
 * linked through the same nodes. Keeping the list costs a few cache misses
 * per touch, so an order made without eviction (ordered = 0) keeps only the
 * times; loading its dump into an ordered one sorts rows by time. Owns its
 * nodes. Single-threaded. */
#ifndef SR_LRU_H
#define SR_LRU_H

#include "streamrec/common.h"
#include "util/buf.h"

#include <stdint.h>

/* No row: the end of a list, or an empty one. */
#define SR_LRU_NIL UINT32_MAX
/* prev of a free row. */
#define SR_LRU_FREE (UINT32_MAX - 1)

/* One row's links and time, together so that a touch reads one cache line
 * per row involved. */
typedef struct sr_lru_node {
  uint32_t prev;   /* towards the head; SR_LRU_FREE for a free row */
  uint32_t next;   /* towards the tail; for a free row, the next free one */
  int64_t last_ms; /* event time of the last touch; 0 for a free row */
} sr_lru_node_t;

typedef struct sr_lru {
  sr_lru_node_t *node;
  uint32_t rows;     /* rows handed out, live and free */
  uint32_t cap;      /* rows allocated */
  uint32_t head;     /* most recently touched live row (ordered only) */
  uint32_t tail;     /* least recently touched live row (ordered only) */
  uint32_t live;     /* live rows */
  uint32_t free_top; /* last row retired, reused first */
  uint32_t nfree;
  int ordered; /* the list is kept */
} sr_lru_t;

/* Sets up an empty order; ordered says whether the list is kept. */
void sr_lru_init(sr_lru_t *lru, int ordered);

/* Releases the nodes. */
void sr_lru_free(sr_lru_t *lru);

/* Makes room for cap rows exactly (never shrinks). Returns 0 or -1. */
int sr_lru_reserve(sr_lru_t *lru, uint32_t cap);

/* Appends a new live row, most recent, touched at now_ms; capacity must be
 * reserved. Returns the row. */
uint32_t sr_lru_add(sr_lru_t *lru, int64_t now_ms);

/* Records a touch of a live row at now_ms and makes it the most recent. */
static inline void sr_lru_touch(sr_lru_t *lru, uint32_t row, int64_t now_ms);

/* Makes a live row free: out of the list, on top of the free stack. */
void sr_lru_retire(sr_lru_t *lru, uint32_t row);

/* Pops the most recently retired row and makes it live and most recent,
 * touched at now_ms. Returns the row, or SR_LRU_NIL when no row is free. */
uint32_t sr_lru_reuse(sr_lru_t *lru, int64_t now_ms);

/* 1 when row is free (retired and not reused). */
static inline int sr_lru_is_free(const sr_lru_t *lru, uint32_t row) {
  return lru->node[row].prev == SR_LRU_FREE;
}

/* Bytes allocated. */
uint64_t sr_lru_bytes(const sr_lru_t *lru);

/* Appends the canonical form to buf: last_ms of every row (int64, row
 * order); the live and free counts and whether the list was kept (uint32);
 * the live rows, from head to tail when kept, else in row order; then the
 * free rows from the top of the stack. Returns 0 or -1. */
int sr_lru_dump(const sr_lru_t *lru, sr_buf_t *buf);

/* Rebuilds rows rows from a dump of len bytes into an empty order (capacity
 * is reserved here). An ordered order loading a dump without a list orders
 * the live rows by last touch, then row. Returns 0, or -1 when the dump is
 * inconsistent (every row must be live or free exactly once) or memory runs
 * out. */
int sr_lru_load(sr_lru_t *lru, uint32_t rows, const void *dump, uint64_t len);

/* Moves a live row of an ordered list to the head; see sr_lru_touch. */
void sr_lru_to_head(sr_lru_t *lru, uint32_t row);

static inline void sr_lru_touch(sr_lru_t *lru, uint32_t row, int64_t now_ms) {
  lru->node[row].last_ms = now_ms;
  if (lru->ordered && row != lru->head)
    sr_lru_to_head(lru, row);
}

#endif
