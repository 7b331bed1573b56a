/* Recency order and free rows; see lru.h. */
#include "core/lru.h"

#include <stdlib.h>
#include <string.h>

/* prev[] of a row not yet placed while loading a dump. */
#define UNSET (UINT32_MAX - 2)

void sr_lru_init(sr_lru_t *lru) {
  memset(lru, 0, sizeof(*lru));
  lru->head = lru->tail = lru->free_top = SR_LRU_NIL;
}

void sr_lru_free(sr_lru_t *lru) {
  free(lru->prev);
  free(lru->next);
  free(lru->last_ms);
  sr_lru_init(lru);
}

static int grow(void **arr, uint32_t cap, size_t size) {
  void *p = realloc(*arr, (size_t)cap * size);
  if (!p)
    return -1;
  *arr = p;
  return 0;
}

int sr_lru_reserve(sr_lru_t *lru, uint32_t cap) {
  if (cap <= lru->cap)
    return 0;
  if (grow((void **)&lru->prev, cap, sizeof(uint32_t)) ||
      grow((void **)&lru->next, cap, sizeof(uint32_t)) ||
      grow((void **)&lru->last_ms, cap, sizeof(int64_t)))
    return -1;
  lru->cap = cap;
  return 0;
}

static void link_head(sr_lru_t *lru, uint32_t row, int64_t now_ms) {
  lru->prev[row] = SR_LRU_NIL;
  lru->next[row] = lru->head;
  if (lru->head != SR_LRU_NIL)
    lru->prev[lru->head] = row;
  else
    lru->tail = row;
  lru->head = row;
  lru->last_ms[row] = now_ms;
  lru->live++;
}

static void unlink_row(sr_lru_t *lru, uint32_t row) {
  uint32_t p = lru->prev[row], n = lru->next[row];
  if (p != SR_LRU_NIL)
    lru->next[p] = n;
  else
    lru->head = n;
  if (n != SR_LRU_NIL)
    lru->prev[n] = p;
  else
    lru->tail = p;
  lru->live--;
}

uint32_t sr_lru_add(sr_lru_t *lru, int64_t now_ms) {
  uint32_t row = lru->rows++;
  link_head(lru, row, now_ms);
  return row;
}

void sr_lru_touch(sr_lru_t *lru, uint32_t row, int64_t now_ms) {
  lru->last_ms[row] = now_ms;
  if (row == lru->head)
    return;
  unlink_row(lru, row);
  link_head(lru, row, now_ms);
}

void sr_lru_retire(sr_lru_t *lru, uint32_t row) {
  unlink_row(lru, row);
  lru->prev[row] = SR_LRU_FREE;
  lru->next[row] = lru->free_top;
  lru->last_ms[row] = 0;
  lru->free_top = row;
  lru->nfree++;
}

uint32_t sr_lru_reuse(sr_lru_t *lru, int64_t now_ms) {
  uint32_t row = lru->free_top;
  if (row == SR_LRU_NIL)
    return row;
  lru->free_top = lru->next[row];
  lru->nfree--;
  link_head(lru, row, now_ms);
  return row;
}

uint64_t sr_lru_bytes(const sr_lru_t *lru) {
  return (uint64_t)lru->cap * (2 * sizeof(uint32_t) + sizeof(int64_t));
}

int sr_lru_dump(const sr_lru_t *lru, sr_buf_t *buf) {
  if (sr_buf_append(buf, lru->last_ms, (size_t)lru->rows * sizeof(int64_t)) ||
      sr_buf_append(buf, &lru->live, sizeof(uint32_t)) ||
      sr_buf_append(buf, &lru->nfree, sizeof(uint32_t)))
    return -1;
  for (uint32_t r = lru->head; r != SR_LRU_NIL; r = lru->next[r])
    if (sr_buf_append(buf, &r, sizeof(r)) != 0)
      return -1;
  for (uint32_t r = lru->free_top; r != SR_LRU_NIL; r = lru->next[r])
    if (sr_buf_append(buf, &r, sizeof(r)) != 0)
      return -1;
  return 0;
}

/* Reads n row numbers; each must be below rows and not placed yet. */
static int read_rows(sr_lru_t *lru, const char *p, uint32_t n, uint32_t *out) {
  for (uint32_t k = 0; k < n; k++) {
    memcpy(&out[k], p + (size_t)k * sizeof(uint32_t), sizeof(uint32_t));
    if (out[k] >= lru->rows || lru->prev[out[k]] != UNSET)
      return -1;
    lru->prev[out[k]] = SR_LRU_NIL; /* placed */
  }
  return 0;
}

int sr_lru_load(sr_lru_t *lru, uint32_t rows, const void *dump, uint64_t len) {
  const char *p = dump;
  uint64_t at = (uint64_t)rows * sizeof(int64_t);
  uint32_t live, nfree;
  if (len < at + 2 * sizeof(uint32_t) || sr_lru_reserve(lru, rows) != 0)
    return -1;
  memcpy(&live, p + at, sizeof(live));
  memcpy(&nfree, p + at + sizeof(live), sizeof(nfree));
  at += 2 * sizeof(uint32_t);
  if ((uint64_t)live + nfree != rows ||
      len != at + (uint64_t)rows * sizeof(uint32_t))
    return -1;
  uint32_t *order = malloc(((size_t)rows + 1) * sizeof(uint32_t));
  if (!order)
    return -1;
  lru->rows = rows;
  for (uint32_t r = 0; r < rows; r++)
    lru->prev[r] = UNSET;
  if (read_rows(lru, p + at, rows, order) != 0) {
    free(order);
    return -1;
  }
  for (uint32_t k = live; k-- > 0;)
    link_head(lru, order[k], 0);
  for (uint32_t k = rows; k-- > live;) {
    lru->prev[order[k]] = SR_LRU_FREE;
    lru->next[order[k]] = lru->free_top;
    lru->free_top = order[k];
    lru->nfree++;
  }
  free(order);
  if (rows)
    memcpy(lru->last_ms, p, (size_t)rows * sizeof(int64_t));
  return 0;
}
