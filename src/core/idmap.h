/* Id map: string id <-> dense row index. Open addressing over 32-bit hashes;
 * ids stored once, NUL-terminated, in one arena. Rows are handed out
 * 0, 1, 2, ... in order of first sight. Single-threaded. */
#ifndef SR_IDMAP_H
#define SR_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sr_idmap sr_idmap_t;

/* Creates an empty map, or NULL when out of memory. */
sr_idmap_t *sr_idmap_new(void);

/* Frees the map. Accepts NULL. */
void sr_idmap_free(sr_idmap_t *map);

/* Row of id, or -1 when absent. */
int64_t sr_idmap_find(const sr_idmap_t *map, const char *id, size_t len);

/* Row of id, adding it when absent (*created = 1). -1 when out of memory. */
int64_t sr_idmap_intern(sr_idmap_t *map, const char *id, size_t len,
                        int *created);

/* The id of row (NUL-terminated); *len gets its length when not NULL. */
const char *sr_idmap_id(const sr_idmap_t *map, uint32_t row, size_t *len);

/* Number of ids. */
uint32_t sr_idmap_count(const sr_idmap_t *map);

/* The arena: every id with its NUL, in row order. For snapshots. */
const char *sr_idmap_arena(const sr_idmap_t *map, size_t *len);

/* Bytes held by the map. */
uint64_t sr_idmap_bytes(const sr_idmap_t *map);

#endif
