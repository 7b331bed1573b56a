/* Recency order and free rows; see lru.h. */
#include "core/lru.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* prev of a row not yet placed while loading a dump. */
#define UNSET (UINT32_MAX - 2)

void sr_lru_init(sr_lru_t *lru, int ordered) {
  memset(lru, 0, sizeof(*lru));
  lru->head = lru->tail = lru->free_top = SR_LRU_NIL;
  lru->ordered = ordered;
}

void sr_lru_free(sr_lru_t *lru) {
  free(lru->node);
  sr_lru_init(lru, lru->ordered);
}

int sr_lru_reserve(sr_lru_t *lru, uint32_t cap) {
  if (cap <= lru->cap)
    return 0;
  sr_lru_node_t *node = realloc(lru->node, (size_t)cap * sizeof(*node));
  if (!node)
    return -1;
  lru->node = node;
  lru->cap = cap;
  return 0;
}

/* Makes row live and most recent. */
static void link_head(sr_lru_t *lru, uint32_t row, int64_t now_ms) {
  sr_lru_node_t *n = &lru->node[row];
  n->last_ms = now_ms;
  n->prev = n->next = SR_LRU_NIL;
  lru->live++;
  if (!lru->ordered)
    return;
  n->next = lru->head;
  if (lru->head != SR_LRU_NIL)
    lru->node[lru->head].prev = row;
  else
    lru->tail = row;
  lru->head = row;
}

/* Makes a live row not live. */
static void unlink_row(sr_lru_t *lru, uint32_t row) {
  lru->live--;
  if (!lru->ordered)
    return;
  uint32_t p = lru->node[row].prev, n = lru->node[row].next;
  if (p != SR_LRU_NIL)
    lru->node[p].next = n;
  else
    lru->head = n;
  if (n != SR_LRU_NIL)
    lru->node[n].prev = p;
  else
    lru->tail = p;
}

uint32_t sr_lru_add(sr_lru_t *lru, int64_t now_ms) {
  uint32_t row = lru->rows++;
  link_head(lru, row, now_ms);
  return row;
}

void sr_lru_to_head(sr_lru_t *lru, uint32_t row) {
  int64_t now_ms = lru->node[row].last_ms;
  unlink_row(lru, row);
  link_head(lru, row, now_ms);
}

void sr_lru_retire(sr_lru_t *lru, uint32_t row) {
  unlink_row(lru, row);
  lru->node[row] = (sr_lru_node_t){SR_LRU_FREE, lru->free_top, 0};
  lru->free_top = row;
  lru->nfree++;
}

uint32_t sr_lru_reuse(sr_lru_t *lru, int64_t now_ms) {
  uint32_t row = lru->free_top;
  if (row == SR_LRU_NIL)
    return row;
  lru->free_top = lru->node[row].next;
  lru->nfree--;
  link_head(lru, row, now_ms);
  return row;
}

uint64_t sr_lru_bytes(const sr_lru_t *lru) {
  return (uint64_t)lru->cap * sizeof(sr_lru_node_t);
}

static int put_u32(sr_buf_t *buf, uint32_t v) {
  return sr_buf_append(buf, &v, sizeof(v));
}

int sr_lru_dump(const sr_lru_t *lru, sr_buf_t *buf) {
  if (sr_buf_reserve(buf, (size_t)lru->rows * 12 + 12) != 0)
    return -1;
  for (uint32_t r = 0; r < lru->rows; r++)
    if (sr_buf_append(buf, &lru->node[r].last_ms, sizeof(int64_t)) != 0)
      return -1;
  if (put_u32(buf, lru->live) || put_u32(buf, lru->nfree) ||
      put_u32(buf, lru->ordered != 0))
    return -1;
  if (lru->ordered) {
    for (uint32_t r = lru->head; r != SR_LRU_NIL; r = lru->node[r].next)
      if (put_u32(buf, r) != 0)
        return -1;
  } else {
    for (uint32_t r = 0; r < lru->rows; r++)
      if (!sr_lru_is_free(lru, r) && put_u32(buf, r) != 0)
        return -1;
  }
  for (uint32_t r = lru->free_top; r != SR_LRU_NIL; r = lru->node[r].next)
    if (put_u32(buf, r) != 0)
      return -1;
  return 0;
}

/* Reads n row numbers; each must be below rows and not placed yet. */
static int read_rows(sr_lru_t *lru, const char *p, uint32_t n, uint32_t *out) {
  for (uint32_t k = 0; k < n; k++) {
    memcpy(&out[k], p + (size_t)k * sizeof(uint32_t), sizeof(uint32_t));
    if (out[k] >= lru->rows || lru->node[out[k]].prev != UNSET)
      return -1;
    lru->node[out[k]].prev = SR_LRU_NIL; /* placed */
  }
  return 0;
}

typedef struct touch {
  int64_t last_ms;
  uint32_t row;
} touch_t;

/* Older last touch first, then lower row. */
static int by_time(const void *a, const void *b) {
  const touch_t *x = a, *y = b;
  if (x->last_ms != y->last_ms)
    return (x->last_ms > y->last_ms) - (x->last_ms < y->last_ms);
  return (x->row > y->row) - (x->row < y->row);
}

/* Puts the live rows of order (most recent first) oldest first by their
 * last touch, for a dump made without a kept list. */
static int sort_by_time(const sr_lru_t *lru, uint32_t *order, uint32_t live) {
  touch_t *keys = malloc(((size_t)live + 1) * sizeof(*keys));
  if (!keys)
    return -1;
  for (uint32_t k = 0; k < live; k++)
    keys[k] = (touch_t){lru->node[order[k]].last_ms, order[k]};
  qsort(keys, live, sizeof(*keys), by_time);
  for (uint32_t k = 0; k < live; k++)
    order[live - 1 - k] = keys[k].row;
  free(keys);
  return 0;
}

/* Links the live rows, given most recent first, and stacks the free
 * ones. */
static void link_all(sr_lru_t *lru, const uint32_t *order, uint32_t live) {
  for (uint32_t k = live; k-- > 0;)
    link_head(lru, order[k], lru->node[order[k]].last_ms);
  for (uint32_t k = lru->rows; k-- > live;) {
    lru->node[order[k]] = (sr_lru_node_t){SR_LRU_FREE, lru->free_top, 0};
    lru->free_top = order[k];
    lru->nfree++;
  }
}

int sr_lru_load(sr_lru_t *lru, uint32_t rows, const void *dump, uint64_t len) {
  const char *p = dump;
  uint64_t at = (uint64_t)rows * sizeof(int64_t);
  uint32_t head[3]; /* live, nfree, kept */
  if (len < at + sizeof(head) || sr_lru_reserve(lru, rows) != 0)
    return -1;
  memcpy(head, p + at, sizeof(head));
  at += sizeof(head);
  if ((uint64_t)head[0] + head[1] != rows || head[2] > 1 ||
      len != at + (uint64_t)rows * sizeof(uint32_t))
    return -1;
  uint32_t *order = malloc(((size_t)rows + 1) * sizeof(uint32_t));
  if (!order)
    return -1;
  lru->rows = rows;
  for (uint32_t r = 0; r < rows; r++) {
    memcpy(&lru->node[r].last_ms, p + (size_t)r * sizeof(int64_t),
           sizeof(int64_t));
    lru->node[r].prev = UNSET;
  }
  int rc = read_rows(lru, p + at, rows, order);
  if (rc == 0 && !head[2] && lru->ordered)
    rc = sort_by_time(lru, order, head[0]);
  if (rc == 0)
    link_all(lru, order, head[0]);
  free(order);
  return rc;
}
