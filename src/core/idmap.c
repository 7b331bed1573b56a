/* Id map over open addressing with linear probing; see idmap.h. */
#include "core/idmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct slot {
  uint32_t row1; /* row + 1; 0 marks an empty slot */
  uint32_t hash;
} slot_t;

struct sr_idmap {
  slot_t *slots;
  uint32_t mask; /* slot count - 1; slot count is a power of two */
  uint32_t count;
  uint64_t *offsets; /* arena offset of each row's id */
  uint32_t offsets_cap;
  char *arena;
  size_t arena_len;
  size_t arena_cap;
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
  free(map->offsets);
  free(map->arena);
  free(map);
}

const char *sr_idmap_id(const sr_idmap_t *map, uint32_t row, size_t *len) {
  const char *id = map->arena + map->offsets[row];
  if (len) {
    size_t end = row + 1 < map->count ? map->offsets[row + 1] : map->arena_len;
    *len = end - map->offsets[row] - 1;
  }
  return id;
}

static int same_id(const sr_idmap_t *map, uint32_t row, const char *id,
                   size_t len) {
  size_t have;
  const char *s = sr_idmap_id(map, row, &have);
  return have == len && memcmp(s, id, len) == 0;
}

/* Slot holding id, or the empty slot where it would go. */
static slot_t *probe(const sr_idmap_t *map, const char *id, size_t len,
                     uint32_t hash) {
  uint32_t i = hash & map->mask;
  for (;;) {
    slot_t *s = &map->slots[i];
    if (s->row1 == 0 || (s->hash == hash && same_id(map, s->row1 - 1, id, len)))
      return s;
    i = (i + 1) & map->mask;
  }
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

static int store_id(sr_idmap_t *map, const char *id, size_t len) {
  if (map->count == map->offsets_cap) {
    uint32_t cap = map->offsets_cap ? map->offsets_cap * 2 : 1024;
    uint64_t *offsets = realloc(map->offsets, cap * sizeof(uint64_t));
    if (!offsets)
      return -1;
    map->offsets = offsets;
    map->offsets_cap = cap;
  }
  if (map->arena_len + len + 1 > map->arena_cap) {
    size_t cap = map->arena_cap ? map->arena_cap * 2 : 16384;
    while (cap < map->arena_len + len + 1)
      cap *= 2;
    char *arena = realloc(map->arena, cap);
    if (!arena)
      return -1;
    map->arena = arena;
    map->arena_cap = cap;
  }
  map->offsets[map->count] = map->arena_len;
  memcpy(map->arena + map->arena_len, id, len);
  map->arena[map->arena_len + len] = '\0';
  map->arena_len += len + 1;
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
  /* Keep the load factor under 1/2 so probes stay short. */
  if ((uint64_t)(map->count + 1) * 2 > (uint64_t)map->mask + 1) {
    if (rehash(map) != 0)
      return -1;
    s = probe(map, id, len, hash);
  }
  if (store_id(map, id, len) != 0)
    return -1;
  s->row1 = ++map->count;
  s->hash = hash;
  if (created)
    *created = 1;
  return (int64_t)map->count - 1;
}

uint32_t sr_idmap_count(const sr_idmap_t *map) {
  return map->count;
}

const char *sr_idmap_arena(const sr_idmap_t *map, size_t *len) {
  *len = map->arena_len;
  return map->arena;
}

uint64_t sr_idmap_bytes(const sr_idmap_t *map) {
  return sizeof(*map) + (uint64_t)(map->mask + 1) * sizeof(slot_t) +
         (uint64_t)map->offsets_cap * sizeof(uint64_t) + map->arena_cap;
}
