/* Id map: string id <-> dense row index. Open addressing over 32-bit hashes
 * with linear probing; ids stored once, NUL-terminated, in one arena. A
 * slot holds an id of up to 7 bytes itself and a longer one's place in the
 * arena, so a lookup reads one cache line, or two for a long id. Rows
 * are handed out 0, 1, 2, ... in order of first sight; a removed id leaves
 * its row free (id "") for the owner to hand to another id with
 * sr_idmap_put. Removal uses backward shift, so probes never cross
 * tombstones. A full arena is rebuilt with the live ids only (under churn,
 * once removed ids fill about half of it), so churn does not grow it
 * without bound. Ids are at most 65535 bytes. Single-threaded. */
#ifndef SR_IDMAP_H
#define SR_IDMAP_H

#include "streamrec/common.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sr_idmap sr_idmap_t;

/* Creates an empty map, or NULL when out of memory. */
sr_idmap_t *sr_idmap_new(void);

/* Frees the map. Accepts NULL. */
void sr_idmap_free(sr_idmap_t *map);

/* Asks the cache for the slot where a lookup of id starts, ahead of the
 * lookup. */
void sr_idmap_prefetch(const sr_idmap_t *map, const char *id, size_t len);

/* Row of id, or -1 when absent. */
int64_t sr_idmap_find(const sr_idmap_t *map, const char *id, size_t len);

/* Row of id, adding it in a new row when absent (*created = 1). -1 when out
 * of memory. */
int64_t sr_idmap_intern(sr_idmap_t *map, const char *id, size_t len,
                        int *created);

/* Puts an absent id at row: row == sr_idmap_count() appends a new row, a
 * smaller row must be free. Returns 0, or -1 when out of memory. */
int sr_idmap_put(sr_idmap_t *map, const char *id, size_t len, uint32_t row);

/* Removes the id of a live row; the row stays, free. */
void sr_idmap_remove(sr_idmap_t *map, uint32_t row);

/* Appends free rows up to rows in all (for restores). Returns 0 or -1. */
int sr_idmap_add_free(sr_idmap_t *map, uint32_t rows);

/* Makes room for cap rows exactly (never shrinks). Returns 0 or -1. */
int sr_idmap_reserve(sr_idmap_t *map, uint32_t cap);

/* The id of row (NUL-terminated), "" for a free row; *len gets its length
 * when not NULL. Valid until the map next changes. */
const char *sr_idmap_id(const sr_idmap_t *map, uint32_t row, size_t *len);

/* Number of rows, live and free. */
uint32_t sr_idmap_count(const sr_idmap_t *map);

/* Number of ids (live rows). */
uint32_t sr_idmap_live(const sr_idmap_t *map);

/* The arena: every id with its NUL, in order of insertion, with the bytes of
 * removed ids still in place until the next compaction. */
const char *sr_idmap_arena(const sr_idmap_t *map, size_t *len);

/* Appends every row's id with its NUL to buf, in row order, "" for free
 * rows: a form that depends on the rows only, not on removal history (for
 * snapshots). Equals the arena while nothing was removed. Returns 0 or -1. */
int sr_idmap_dump(const sr_idmap_t *map, sr_buf_t *buf);

/* Bytes held by the map: its arrays' capacities and the written pages of
 * its arena. */
uint64_t sr_idmap_bytes(const sr_idmap_t *map);

#endif
