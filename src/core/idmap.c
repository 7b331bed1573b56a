/* Id map over open addressing with linear probing; see idmap.h. */
#include "core/idmap.h"

#include "core/pages.h"
#include "util/buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A row's entry packs its id's arena offset (high 48 bits) and length (low
 * 16 bits); a free row has FREE. */
#define FREE UINT64_MAX
#define LEN_BITS 16
#define LEN_MAX 0xffffu

/* Ids up to this long live in their slot's key whole. */
#define INLINE_MAX 7
#define INLINE_BIT ((uint64_t)1 << 63)

/* A slot carries what a lookup compares, so that finding an id reads one
 * cache line for a short id, and the arena for a long one, never the row
 * entries between them: the key of an id up to INLINE_MAX bytes is the id
 * itself (its bytes, zeros, then its length with INLINE_BIT in the top
 * byte), that of a longer id a copy of its row's entry (whose top bit is
 * clear: arenas stay far below 2^47 bytes). */
typedef struct slot {
  uint32_t row1; /* row + 1; 0 marks an empty slot */
  uint32_t hash;
  uint64_t key;
} slot_t;

struct sr_idmap {
  slot_t *slots;
  uint32_t mask;  /* slot count - 1; slot count is a power of two */
  uint32_t count; /* rows, live and free */
  uint32_t live;  /* ids in the slots */
  uint64_t *ent;  /* per row: offset << 16 | length, or FREE */
  uint32_t ent_cap;
  char *arena;
  size_t arena_len;
  size_t arena_cap;
  size_t garbage; /* arena bytes of removed ids */
};

static uint32_t hash_id(const char *id, size_t len) {
  return (uint32_t)XXH3_64bits(id, len);
}

sr_idmap_t *sr_idmap_new(void) {
  sr_idmap_t *map = calloc(1, sizeof(*map));
  if (!map)
    return NULL;
  map->mask = 1023;
  map->slots = calloc(map->mask + 1, sizeof(slot_t));
  if (!map->slots) {
    sr_idmap_free(map);
    return NULL;
  }
  return map;
}

void sr_idmap_free(sr_idmap_t *map) {
  if (!map)
    return;
  free(map->slots);
  free(map->ent);
  sr_pages_free(map->arena, map->arena_cap);
  free(map);
}

const char *sr_idmap_id(const sr_idmap_t *map, uint32_t row, size_t *len) {
  uint64_t e = map->ent[row];
  if (e == FREE) {
    if (len)
      *len = 0;
    return "";
  }
  if (len)
    *len = (size_t)(e & LEN_MAX);
  return map->arena + (e >> LEN_BITS);
}

/* The key of an id of at most INLINE_MAX bytes, the same on any byte
 * order. */
static uint64_t inline_key(const char *id, size_t len) {
  uint64_t key = (INLINE_BIT | (uint64_t)len << 56);
  for (size_t j = 0; j < len; j++)
    key |= (uint64_t)(unsigned char)id[j] << (8 * j);
  return key;
}

static int same_long_id(const sr_idmap_t *map, uint64_t key, const char *id,
                        size_t len) {
  return !(key & INLINE_BIT) && (key & LEN_MAX) == len &&
         memcmp(map->arena + (key >> LEN_BITS), id, len) == 0;
}

/* Slot holding id, or the empty slot where it would go. */
static slot_t *probe(const sr_idmap_t *map, const char *id, size_t len,
                     uint32_t hash) {
  uint32_t i = hash & map->mask;
  if (len <= INLINE_MAX) {
    uint64_t key = inline_key(id, len);
    while (map->slots[i].row1 != 0 && map->slots[i].key != key)
      i = (i + 1) & map->mask;
    return &map->slots[i];
  }
  for (;;) {
    slot_t *s = &map->slots[i];
    if (s->row1 == 0 || (s->hash == hash && same_long_id(map, s->key, id, len)))
      return s;
    i = (i + 1) & map->mask;
  }
}

void sr_idmap_prefetch(const sr_idmap_t *map, const char *id, size_t len) {
  __builtin_prefetch(&map->slots[hash_id(id, len) & map->mask]);
}

int64_t sr_idmap_find(const sr_idmap_t *map, const char *id, size_t len) {
  slot_t *s = probe(map, id, len, hash_id(id, len));
  return s->row1 ? (int64_t)s->row1 - 1 : -1;
}

static int rehash(sr_idmap_t *map) {
  uint32_t cap = (map->mask + 1) * 2;
  slot_t *slots = calloc(cap, sizeof(slot_t));
  if (!slots)
    return -1;
  for (uint32_t i = 0; i <= map->mask; i++) {
    slot_t s = map->slots[i];
    if (!s.row1)
      continue;
    uint32_t j = s.hash & (cap - 1);
    while (slots[j].row1)
      j = (j + 1) & (cap - 1);
    slots[j] = s;
  }
  free(map->slots);
  map->slots = slots;
  map->mask = cap - 1;
  return 0;
}

int sr_idmap_reserve(sr_idmap_t *map, uint32_t cap) {
  if (cap <= map->ent_cap)
    return 0;
  uint64_t *ent = realloc(map->ent, (size_t)cap * sizeof(uint64_t));
  if (!ent)
    return -1;
  map->ent = ent;
  map->ent_cap = cap;
  return 0;
}

/* Room for one more row: doubling, as the map grows by itself here (the
 * model reserves rows ahead with its own policy). */
static int reserve_row(sr_idmap_t *map) {
  if (map->count < map->ent_cap)
    return 0;
  return sr_idmap_reserve(map, map->ent_cap ? map->ent_cap * 2 : 1024);
}

/* Rewrites the live ids in row order into a fresh arena of cap bytes,
 * leaving out the bytes of removed ones. */
static int rebuild(sr_idmap_t *map, size_t cap) {
  char *arena = sr_pages_alloc(cap);
  size_t at = 0;
  if (!arena)
    return -1;
  for (uint32_t r = 0; r < map->count; r++) {
    uint64_t e = map->ent[r];
    if (e == FREE)
      continue;
    size_t len = (size_t)(e & LEN_MAX);
    memcpy(arena + at, map->arena + (e >> LEN_BITS), len + 1);
    map->ent[r] = (uint64_t)at << LEN_BITS | len;
    at += len + 1;
  }
  sr_pages_free(map->arena, map->arena_cap);
  map->arena = arena;
  map->arena_cap = cap;
  map->arena_len = at;
  map->garbage = 0;
  /* Long ids moved: their slots' keys follow their entries. */
  for (uint32_t j = 0; j <= map->mask; j++) {
    slot_t *s = &map->slots[j];
    if (s->row1 && !(s->key & INLINE_BIT))
      s->key = map->ent[s->row1 - 1];
  }
  return 0;
}

/* Room for need more arena bytes. A full arena is rebuilt with its live ids
 * only, at twice their size: growing costs that copy anyway, and under a
 * churn of ids the arena fills once removed ids make up about half of it,
 * so it stays within twice the live ids and each byte is copied about once
 * per life. */
static int reserve_arena(sr_idmap_t *map, size_t need) {
  if (map->arena_len + need <= map->arena_cap)
    return 0;
  size_t cap = 2 * (map->arena_len - map->garbage + need);
  cap = cap < 16384 ? 16384 : (cap + 4095) & ~(size_t)4095;
  return rebuild(map, cap);
}

static int store_id(sr_idmap_t *map, const char *id, size_t len, uint32_t row) {
  if (reserve_arena(map, len + 1) != 0)
    return -1;
  map->ent[row] = (uint64_t)map->arena_len << LEN_BITS | len;
  memcpy(map->arena + map->arena_len, id, len);
  map->arena[map->arena_len + len] = '\0';
  map->arena_len += len + 1;
  return 0;
}

/* Adds absent id at row into slot s (from probe). */
static int insert(sr_idmap_t *map, slot_t *s, const char *id, size_t len,
                  uint32_t hash, uint32_t row) {
  if (len > LEN_MAX)
    return -1;
  /* Keep the load factor under 1/2 so probes stay short. */
  if ((uint64_t)(map->live + 1) * 2 > (uint64_t)map->mask + 1) {
    if (rehash(map) != 0)
      return -1;
    s = probe(map, id, len, hash);
  }
  if (row == map->count && reserve_row(map) != 0)
    return -1;
  if (store_id(map, id, len, row) != 0)
    return -1;
  if (row == map->count)
    map->count++;
  assert(map->arena_len < ((size_t)1 << 47));
  s->row1 = row + 1;
  s->hash = hash;
  s->key = len <= INLINE_MAX ? inline_key(id, len) : map->ent[row];
  map->live++;
  return 0;
}

int64_t sr_idmap_intern(sr_idmap_t *map, const char *id, size_t len,
                        int *created) {
  uint32_t hash = hash_id(id, len);
  slot_t *s = probe(map, id, len, hash);
  if (created)
    *created = 0;
  if (s->row1)
    return (int64_t)s->row1 - 1;
  uint32_t row = map->count;
  if (insert(map, s, id, len, hash, row) != 0)
    return -1;
  if (created)
    *created = 1;
  return row;
}

int sr_idmap_put(sr_idmap_t *map, const char *id, size_t len, uint32_t row) {
  uint32_t hash = hash_id(id, len);
  slot_t *s = probe(map, id, len, hash);
  assert(!s->row1 && row <= map->count);
  assert(row == map->count || map->ent[row] == FREE);
  return insert(map, s, id, len, hash, row);
}

/* Linear probing has no tombstones: the entries after a removed slot move
 * back over it unless that would put them before their home slot. */
static void shift_back(sr_idmap_t *map, uint32_t hole) {
  uint32_t i = hole;
  for (;;) {
    i = (i + 1) & map->mask;
    slot_t s = map->slots[i];
    if (!s.row1)
      break;
    uint32_t home = s.hash & map->mask;
    /* s may move to hole when home is not cyclically in (hole, i]. */
    if (((i - home) & map->mask) >= ((i - hole) & map->mask)) {
      map->slots[hole] = s;
      hole = i;
    }
  }
  map->slots[hole] = (slot_t){0, 0, 0};
}

void sr_idmap_remove(sr_idmap_t *map, uint32_t row) {
  size_t len;
  const char *id = sr_idmap_id(map, row, &len);
  uint32_t i = hash_id(id, len) & map->mask;
  while (map->slots[i].row1 != row + 1)
    i = (i + 1) & map->mask;
  shift_back(map, i);
  map->garbage += len + 1;
  map->ent[row] = FREE;
  map->live--;
}

int sr_idmap_add_free(sr_idmap_t *map, uint32_t rows) {
  if (sr_idmap_reserve(map, rows) != 0)
    return -1;
  while (map->count < rows)
    map->ent[map->count++] = FREE;
  return 0;
}

uint32_t sr_idmap_count(const sr_idmap_t *map) {
  return map->count;
}

uint32_t sr_idmap_live(const sr_idmap_t *map) {
  return map->live;
}

const char *sr_idmap_arena(const sr_idmap_t *map, size_t *len) {
  *len = map->arena_len;
  return map->arena;
}

int sr_idmap_dump(const sr_idmap_t *map, sr_buf_t *buf) {
  /* Live ids with their NULs, plus one NUL per free row. */
  size_t total = map->arena_len - map->garbage + (map->count - map->live);
  if (sr_buf_reserve(buf, total) != 0)
    return -1;
  for (uint32_t r = 0; r < map->count; r++) {
    size_t len;
    const char *id = sr_idmap_id(map, r, &len);
    memcpy(buf->data + buf->len, id, len + 1);
    buf->len += len + 1;
  }
  return 0;
}

uint64_t sr_idmap_bytes(const sr_idmap_t *map) {
  /* The arena's pages past its end are mapped but not yet written, so the
   * system does not back them (see core/pages.h). */
  uint64_t arena = ((uint64_t)map->arena_len + 4095) & ~(uint64_t)4095;
  return sizeof(*map) + (uint64_t)(map->mask + 1) * sizeof(slot_t) +
         (uint64_t)map->ent_cap * sizeof(uint64_t) + arena;
}
