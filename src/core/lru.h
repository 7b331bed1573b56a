/* Recency order of the rows of one kind (users or items): an intrusive
 * doubly-linked list in touch order, most recent at the head, so the least
 * recently active row is found and moved in O(1); the event time of each
 * row's last touch; and a stack of free rows (evicted, awaiting reuse),
 * linked through the same next[] array. Owns its arrays. Single-threaded. */
#ifndef SR_LRU_H
#define SR_LRU_H

#include "streamrec/common.h"

#include <stdint.h>

/* No row: the end of a list, or an empty one. */
#define SR_LRU_NIL UINT32_MAX
/* prev[] of a free row. */
#define SR_LRU_FREE (UINT32_MAX - 1)

typedef struct sr_lru {
  uint32_t *prev;   /* towards the head; SR_LRU_FREE for a free row */
  uint32_t *next;   /* towards the tail; for a free row, the next free one */
  int64_t *last_ms; /* event time of the last touch; 0 for a free row */
  uint32_t rows;    /* rows handed out, live and free */
  uint32_t cap;     /* rows allocated */
  uint32_t head;    /* most recently touched live row */
  uint32_t tail;    /* least recently touched live row */
  uint32_t live;    /* rows in the list */
  uint32_t free_top; /* last row retired, reused first */
  uint32_t nfree;
} sr_lru_t;

/* Sets up an empty order. */
void sr_lru_init(sr_lru_t *lru);

/* Releases the arrays. */
void sr_lru_free(sr_lru_t *lru);

/* Makes room for cap rows exactly (never shrinks). Returns 0 or -1. */
int sr_lru_reserve(sr_lru_t *lru, uint32_t cap);

/* Appends a new live row at the head, touched at now_ms; capacity must be
 * reserved. Returns the row. */
uint32_t sr_lru_add(sr_lru_t *lru, int64_t now_ms);

/* Moves a live row to the head and records now_ms as its last touch. */
void sr_lru_touch(sr_lru_t *lru, uint32_t row, int64_t now_ms);

/* Unlinks a live row and pushes it on the free stack. */
void sr_lru_retire(sr_lru_t *lru, uint32_t row);

/* Pops the most recently retired row and links it at the head, touched at
 * now_ms. Returns the row, or SR_LRU_NIL when no row is free. */
uint32_t sr_lru_reuse(sr_lru_t *lru, int64_t now_ms);

/* 1 when row is free (retired and not reused). */
static inline int sr_lru_is_free(const sr_lru_t *lru, uint32_t row) {
  return lru->prev[row] == SR_LRU_FREE;
}

/* Bytes allocated. */
uint64_t sr_lru_bytes(const sr_lru_t *lru);

/* Appends the canonical form to buf: last_ms of every row (int64, row
 * order), the live and free counts (uint32), the live rows from head to
 * tail, then the free rows from the top of the stack. Returns 0 or -1. */
int sr_lru_dump(const sr_lru_t *lru, sr_buf_t *buf);

/* Rebuilds rows rows from a dump of len bytes into an empty order (capacity
 * is reserved here). Returns 0, or -1 when the dump is inconsistent (every
 * row must be live or free exactly once) or memory runs out. */
int sr_lru_load(sr_lru_t *lru, uint32_t rows, const void *dump, uint64_t len);

#endif
