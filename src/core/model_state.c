/* Model snapshots (a full copy as tagged sections), restore and digest.
 * One table names every section with the functions that add it to a
 * snapshot and restore it, so snapshot, restore and the store never list the
 * sections apart. Every section has a canonical form: rings oldest-first,
 * ids per row with "" for free rows (never the arena, which keeps removed ids
 * until it is compacted), recency lists in order. So a restored model
 * behaves exactly like the one that was copied, and both have the same
 * digest. */
#include "core/model_state.h"

#include "core/avail.h"
#include "core/content.h"
#include "core/model_internal.h"
#include "core/recommend.h"
#include "util/buf.h"
#include "util/err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Section ids are stored in checkpoints: never renumber one. */
enum {
  SEC_META = 1,
  SEC_USER_IDS,
  SEC_ITEM_IDS,
  SEC_USER_FACTORS,
  SEC_ITEM_FACTORS,
  SEC_USER_BIAS,
  SEC_ITEM_BIAS,
  SEC_USER_EVENTS,
  SEC_SEEN,
  SEC_POP_COUNTS,
  SEC_RECENT,
  SEC_CLOCK,    /* clock_sec_t; absent in checkpoints from before eviction */
  SEC_USER_LRU, /* sr_lru_dump of the users; likewise */
  SEC_ITEM_LRU, /* sr_lru_dump of the items; likewise */
  SEC_CLOCK_WINDOW, /* the clock's timestamps (int64), oldest first; absent
                       in checkpoints from before the median clock */
  /* Cluster mode only (core/share.h); absent otherwise. */
  SEC_USER_OWNER, /* per user: partition + 1 (uint32), then per user: last
                     applied offset + 1 (int64) */
  SEC_ITEM_BASE,  /* per item: factors at its last delta */
  SEC_ITEM_BASE_SCALARS, /* per item: bias (float), then per item: raw
                            popularity (double) at its last delta */
  /* With co-occurrence only (model.cooc_weight > 0); absent otherwise. */
  SEC_COOC, /* sr_cooc_dump: the increment, then per item its raw count
               and its neighbours with their raw counts */
  /* With items taken down only; absent otherwise (and in checkpoints from
   * before availability, which load with every item available). */
  SEC_ITEM_DOWN, /* the rows taken down (uint32), ascending */
  /* With model.blend auto only; absent otherwise. */
  SEC_BLEND, /* sr_blend_dump: the blends, the leader and their hits */
  /* With model.pop_half_life_ms only; absent otherwise. */
  SEC_POP_TIME, /* int64: the event time popularity has decayed to */
  /* Once some item has had content only (core/content); absent otherwise
   * (and in checkpoints from before content, which load without any). */
  SEC_CONTENT, /* sr_content_dump: counts, tables, each item's content */
  /* With embeddings reduced only (model.content_sketch); absent otherwise
   * (and in checkpoints from before the reduction, whose embeddings were
   * learned whole). */
  SEC_CONTENT_SKETCH, /* sr_content_dump_sketch: the lengths, two uint32 */
};

typedef struct meta {
  uint32_t dims, stride, mode, pad;
  uint64_t users, items, events, mu_n;
  double mu_sum, pop_inc;
} meta_t;

/* The event-time clock and the eviction counters. */
typedef struct clock_sec {
  int64_t now_ms;
  uint64_t evicted_users, evicted_items;
} clock_sec_t;

/* A restore in progress: the model being rebuilt, its metadata, and why a
 * section was refused. */
typedef struct restore {
  sr_model_t *mdl;
  const sr_model_snapshot_t *snap;
  meta_t meta;
  char why[160];
} restore_t;

/* One kind of section. add appends it to a snapshot (view: borrow the
 * model's arrays rather than copy them); restore puts it back into
 * rs->mdl, sec NULL when an optional section is absent, and returns 0 or
 * -1 with rs->why set. Sections are restored stage by stage, within a
 * stage in table order. */
typedef struct section {
  uint32_t id;
  const char *name;
  int (*add)(const sr_model_t *mdl, sr_model_snapshot_t *snap, uint32_t id,
             bool view);
  int (*restore)(restore_t *rs, const sr_model_section_t *sec);
  bool required;
  int stage;
} section_t;

/* Sets rs->why and returns -1. */
static int refuse(restore_t *rs, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
  va_end(ap);
  return -1;
}

static int add_copy(sr_model_snapshot_t *snap, uint32_t id, const void *data,
                    uint64_t len) {
  void *copy = malloc(len ? len : 1);
  if (!copy)
    return -1;
  if (len)
    memcpy(copy, data, len);
  snap->sections[snap->n_sections++] = (sr_model_section_t){id, copy, len};
  return 0;
}

/* One of the model's large arrays: borrowed in a view, else copied. */
static int add_array(sr_model_snapshot_t *snap, bool view, uint32_t id,
                     const void *data, uint64_t len) {
  if (!view)
    return add_copy(snap, id, data, len);
  snap->borrowed |= 1u << snap->n_sections;
  snap->sections[snap->n_sections++] =
      (sr_model_section_t){id, (void *)data, len};
  return 0;
}

/* Adds a section built into buf by a dump that returned rc. */
static int add_built(sr_model_snapshot_t *snap, uint32_t id, sr_buf_t *buf,
                     int rc) {
  if (rc != 0 || (!buf->data && !(buf->data = malloc(1)))) {
    sr_buf_free(buf);
    return -1;
  }
  snap->sections[snap->n_sections++] =
      (sr_model_section_t){id, buf->data, buf->len};
  return 0;
}

static uint64_t frow(const sr_model_t *mdl) {
  return (uint64_t)mdl->ufac.stride * sizeof(float);
}

static int add_meta(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                    uint32_t id, bool view) {
  (void)view;
  meta_t meta = {.dims = mdl->conf.dims,
                 .stride = mdl->ufac.stride,
                 .mode = mdl->conf.mode,
                 .users = sr_idmap_count(mdl->users),
                 .items = sr_idmap_count(mdl->items),
                 .events = mdl->events,
                 .mu_n = mdl->mu_n,
                 .mu_sum = mdl->mu_sum,
                 .pop_inc = mdl->pop.inc};
  return add_copy(snap, id, &meta, sizeof(meta));
}

static int add_user_ids(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                        uint32_t id, bool view) {
  (void)view;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_idmap_dump(mdl->users, &buf));
}

static int add_item_ids(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                        uint32_t id, bool view) {
  (void)view;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_idmap_dump(mdl->items, &buf));
}

static int add_user_factors(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                            uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->ufac.data,
                   sr_idmap_count(mdl->users) * frow(mdl));
}

static int add_item_factors(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                            uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->ifac.data,
                   sr_idmap_count(mdl->items) * frow(mdl));
}

static int add_user_bias(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->ubias,
                   sr_idmap_count(mdl->users) * sizeof(float));
}

static int add_item_bias(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->ibias,
                   sr_idmap_count(mdl->items) * sizeof(float));
}

static int add_user_events(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                           uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->uevents,
                   sr_idmap_count(mdl->users) * sizeof(uint32_t));
}

static int add_pop_counts(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                          uint32_t id, bool view) {
  return add_array(snap, view, id, mdl->pop.counts,
                   sr_idmap_count(mdl->items) * sizeof(double));
}

/* Every user's ring as its length, then its items oldest first. */
static int add_seen(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                    uint32_t id, bool view) {
  (void)view;
  const sr_seen_t *seen = &mdl->seen;
  uint32_t users = sr_idmap_count(mdl->users);
  sr_buf_t buf = {0};
  int rc = 0;
  for (uint32_t u = 0; u < users && rc == 0; u++) {
    const sr_seen_ring_t *ring = &seen->rings[u];
    uint32_t start = ring->len == seen->max ? ring->head : 0;
    rc = sr_buf_append(&buf, &ring->len, sizeof(uint32_t));
    for (uint32_t j = 0; j < ring->len && rc == 0; j++) {
      uint32_t item = ring->items[(start + j) % ring->len];
      rc = sr_buf_append(&buf, &item, sizeof(item));
    }
  }
  return add_built(snap, id, &buf, rc);
}

static int add_recent(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                      uint32_t id, bool view) {
  (void)view;
  const sr_recent_t *rec = &mdl->recent;
  uint32_t *items = malloc((rec->len + 1) * sizeof(uint32_t));
  if (!items)
    return -1;
  uint32_t start = rec->len == rec->cap ? rec->head : 0;
  for (uint32_t j = 0; j < rec->len; j++)
    items[j] = rec->items[(start + j) % rec->cap];
  snap->sections[snap->n_sections++] =
      (sr_model_section_t){id, items, (uint64_t)rec->len * sizeof(uint32_t)};
  return 0;
}

static int add_clock(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                     uint32_t id, bool view) {
  (void)view;
  clock_sec_t clock = {mdl->clock.now_ms, mdl->evicted_users,
                       mdl->evicted_items};
  return add_copy(snap, id, &clock, sizeof(clock));
}

static int add_user_lru(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                        uint32_t id, bool view) {
  (void)view;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_lru_dump(&mdl->ulru, &buf));
}

static int add_item_lru(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                        uint32_t id, bool view) {
  (void)view;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_lru_dump(&mdl->ilru, &buf));
}

static int add_clock_window(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                            uint32_t id, bool view) {
  (void)view;
  int64_t window[SR_CLOCK_WINDOW];
  uint32_t n = sr_clock_window(&mdl->clock, window);
  return add_copy(snap, id, window, n * sizeof(int64_t));
}

/* Checks that sec holds rows rows of size bytes each. */
static int expect_rows(restore_t *rs, const sr_model_section_t *sec,
                       uint64_t rows, const char *kind, uint64_t size,
                       const char *unit, uint64_t unit_size) {
  if (sec->len == rows * size)
    return 0;
  return refuse(rs,
                "%" PRIu64 " bytes, expected %" PRIu64 " for %" PRIu64
                " %s x %" PRIu64 " %s",
                sec->len, rows * size, rows, kind, size / unit_size, unit);
}

/* Copies a section into its array; an empty model has empty sections whose
 * arrays were never allocated, and memcpy must not see those pointers. */
static void copy_section(void *dst, const sr_model_section_t *sec) {
  if (sec->len)
    memcpy(dst, sec->data, sec->len);
}

static const sr_model_section_t *find(const sr_model_snapshot_t *snap,
                                      uint32_t id) {
  for (size_t k = 0; k < snap->n_sections; k++)
    if (snap->sections[k].id == id)
      return &snap->sections[k];
  return NULL;
}

/* Sizes every per-row array from the metadata (the id sections are there:
 * see check_present). Every row has at least its
 * NUL among the ids: a header claiming more rows is corrupt, and is caught
 * before it sizes any allocation. */
static int restore_meta(restore_t *rs, const sr_model_section_t *sec) {
  (void)sec;
  sr_model_t *mdl = rs->mdl;
  const meta_t *m = &rs->meta;
  const sr_model_section_t *uid = find(rs->snap, SEC_USER_IDS),
                           *iid = find(rs->snap, SEC_ITEM_IDS);
  if (m->stride != mdl->ufac.stride)
    return refuse(rs, "row stride %u, expected %u for %u dims", m->stride,
                  mdl->ufac.stride, m->dims);
  if (m->users > UINT32_MAX || m->users > uid->len)
    return refuse(rs, "%" PRIu64 " users, more than the user ids hold",
                  m->users);
  if (m->items > UINT32_MAX || m->items > iid->len)
    return refuse(rs, "%" PRIu64 " items, more than the item ids hold",
                  m->items);
  if (sr_model_grow_users(mdl, (uint32_t)m->users) ||
      sr_model_grow_items(mdl, (uint32_t)m->items) ||
      sr_factors_resize(&mdl->ufac, (uint32_t)m->users) ||
      sr_factors_resize(&mdl->ifac, (uint32_t)m->items))
    return refuse(rs, "out of memory for %" PRIu64 " users, %" PRIu64 " items",
                  m->users, m->items);
  return 0;
}

/* Puts every id of a dump back at its row: a live row of lru gets its id,
 * a free row must have "" and stays free. */
static int restore_ids(restore_t *rs, sr_idmap_t *map, const sr_lru_t *lru,
                       const sr_model_section_t *sec, uint64_t rows) {
  const char *p = sec->data, *end = p + sec->len;
  uint32_t row = 0;
  for (; p < end && row < rows; row++) {
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (!nul)
      return refuse(rs, "id of row %u has no end", row);
    size_t len = (size_t)(nul - p);
    if (sr_lru_is_free(lru, row)) {
      if (len != 0)
        return refuse(rs, "row %u is free but has an id", row);
      if (sr_idmap_add_free(map, row + 1) != 0)
        return refuse(rs, "out of memory");
    } else if (sr_idmap_find(map, p, len) >= 0) {
      return refuse(rs, "id of row %u appears twice", row);
    } else if (sr_idmap_put(map, p, len, row) != 0) {
      return refuse(rs, "id of row %u refused", row);
    }
    p = nul + 1;
  }
  if (p != end || row != rows)
    return refuse(rs, "%u ids in %" PRIu64 " bytes, expected %" PRIu64, row,
                  sec->len, rows);
  return 0;
}

static int restore_user_ids(restore_t *rs, const sr_model_section_t *sec) {
  return restore_ids(rs, rs->mdl->users, &rs->mdl->ulru, sec, rs->meta.users);
}

static int restore_item_ids(restore_t *rs, const sr_model_section_t *sec) {
  return restore_ids(rs, rs->mdl->items, &rs->mdl->ilru, sec, rs->meta.items);
}

static int restore_user_factors(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.users, "users", frow(rs->mdl), "floats",
                  sizeof(float)))
    return -1;
  copy_section(rs->mdl->ufac.data, sec);
  return 0;
}

static int restore_item_factors(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.items, "items", frow(rs->mdl), "floats",
                  sizeof(float)))
    return -1;
  copy_section(rs->mdl->ifac.data, sec);
  return 0;
}

static int restore_user_bias(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.users, "users", sizeof(float), "floats",
                  sizeof(float)))
    return -1;
  copy_section(rs->mdl->ubias, sec);
  return 0;
}

static int restore_item_bias(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.items, "items", sizeof(float), "floats",
                  sizeof(float)))
    return -1;
  copy_section(rs->mdl->ibias, sec);
  return 0;
}

static int restore_user_events(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.users, "users", sizeof(uint32_t), "counts",
                  sizeof(uint32_t)))
    return -1;
  copy_section(rs->mdl->uevents, sec);
  return 0;
}

static int restore_pop_counts(restore_t *rs, const sr_model_section_t *sec) {
  if (expect_rows(rs, sec, rs->meta.items, "items", sizeof(double), "counts",
                  sizeof(double)))
    return -1;
  copy_section(rs->mdl->pop.counts, sec);
  rs->mdl->pop.inc = rs->meta.pop_inc;
  sr_popular_refresh(&rs->mdl->pop);
  return 0;
}

static int restore_seen(restore_t *rs, const sr_model_section_t *sec) {
  const uint32_t *p = sec->data;
  uint64_t words = sec->len / sizeof(uint32_t), at = 0;
  uint32_t items = sr_idmap_count(rs->mdl->items);
  if (sec->len % sizeof(uint32_t) != 0)
    return refuse(rs, "%" PRIu64 " bytes, not whole item rows", sec->len);
  for (uint64_t u = 0; u < rs->meta.users; u++) {
    if (at >= words || p[at] > words - at - 1)
      return refuse(rs, "ring of user %" PRIu64 " runs past the end", u);
    uint32_t len = p[at++];
    for (uint32_t j = 0; j < len; j++, at++) {
      if (p[at] >= items)
        return refuse(rs, "user %" PRIu64 " saw item %u of %u", u, p[at],
                      items);
      if (sr_seen_add(&rs->mdl->seen, (uint32_t)u, p[at]) != 0)
        return refuse(rs, "out of memory");
    }
  }
  if (at != words)
    return refuse(rs, "%" PRIu64 " bytes left after the last ring",
                  (words - at) * sizeof(uint32_t));
  return 0;
}

static int restore_recent(restore_t *rs, const sr_model_section_t *sec) {
  const uint32_t *recent = sec->data;
  if (sec->len % sizeof(uint32_t) != 0)
    return refuse(rs, "%" PRIu64 " bytes, not whole item rows", sec->len);
  for (uint64_t j = 0; j < sec->len / sizeof(uint32_t); j++) {
    if (recent[j] >= rs->meta.items)
      return refuse(rs, "item %u of %" PRIu64, recent[j], rs->meta.items);
    sr_recent_push(&rs->mdl->recent, recent[j]);
  }
  return 0;
}

/* The clock and the eviction counters; zero for a checkpoint from before
 * eviction. */
static int restore_clock(restore_t *rs, const sr_model_section_t *sec) {
  clock_sec_t clock = {0, 0, 0};
  if (sec && sec->len != sizeof(clock))
    return refuse(rs, "%" PRIu64 " bytes, expected %zu", sec->len,
                  sizeof(clock));
  if (sec)
    memcpy(&clock, sec->data, sizeof(clock));
  rs->mdl->evicted_users = clock.evicted_users;
  rs->mdl->evicted_items = clock.evicted_items;
  return sr_clock_load(&rs->mdl->clock, clock.now_ms, NULL, 0);
}

/* The clock's window. A checkpoint from before the median clock has none:
 * the clock keeps its time and fills a window from the events that
 * follow. */
static int restore_clock_window(restore_t *rs, const sr_model_section_t *sec) {
  int64_t window[SR_CLOCK_WINDOW];
  if (!sec)
    return 0;
  if (sec->len % sizeof(int64_t) != 0 || sec->len > sizeof(window))
    return refuse(rs, "%" PRIu64 " bytes, expected up to %d timestamps",
                  sec->len, SR_CLOCK_WINDOW);
  uint32_t n = (uint32_t)(sec->len / sizeof(int64_t));
  if (n)
    memcpy(window, sec->data, sec->len);
  if (sr_clock_load(&rs->mdl->clock, rs->mdl->clock.now_ms, window, n) != 0)
    return refuse(rs, "a timestamp is not positive");
  return 0;
}

/* Recency of rows: from the dump, or for a checkpoint written before
 * eviction existed, every row live, the newest row the most recent. */
static int restore_lru(restore_t *rs, sr_lru_t *lru,
                       const sr_model_section_t *sec, uint64_t rows) {
  if (sec) {
    if (sr_lru_load(lru, (uint32_t)rows, sec->data, sec->len) != 0)
      return refuse(
          rs, "%" PRIu64 " bytes, not a recency order of %" PRIu64 " rows",
          sec->len, rows);
    return 0;
  }
  if (sr_lru_reserve(lru, (uint32_t)rows) != 0)
    return refuse(rs, "out of memory");
  for (uint64_t r = 0; r < rows; r++)
    sr_lru_add(lru, 0);
  return 0;
}

static int restore_user_lru(restore_t *rs, const sr_model_section_t *sec) {
  return restore_lru(rs, &rs->mdl->ulru, sec, rs->meta.users);
}

static int restore_item_lru(restore_t *rs, const sr_model_section_t *sec) {
  return restore_lru(rs, &rs->mdl->ilru, sec, rs->meta.items);
}

/* Every section, in id order (the order of a snapshot and its digest). The
 * metadata sizes the arrays first, the recency orders say which rows are
 * free before the ids go back, and the ids come before the rings that refer
 * to them. */
/* Two per-row arrays one after the other, copied. */
static int add_pair(sr_model_snapshot_t *snap, uint32_t id, const void *a,
                    uint64_t alen, const void *b, uint64_t blen) {
  sr_buf_t buf = {0};
  int rc = sr_buf_append(&buf, a, alen) || sr_buf_append(&buf, b, blen);
  return add_built(snap, id, &buf, rc);
}

static int add_user_owner(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                          uint32_t id, bool view) {
  (void)view;
  uint64_t users = sr_idmap_count(mdl->users);
  const sr_share_state_t *sh = &mdl->share;
  if (!mdl->conf.shared)
    return 0;
  return add_pair(snap, id, sh->upart, users * sizeof(*sh->upart), sh->uoffset,
                  users * sizeof(*sh->uoffset));
}

static int add_item_base(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         uint32_t id, bool view) {
  if (!mdl->conf.shared)
    return 0;
  return add_array(snap, view, id, mdl->share.ibase.data,
                   sr_idmap_count(mdl->items) * frow(mdl));
}

static int add_item_base_scalars(const sr_model_t *mdl,
                                 sr_model_snapshot_t *snap, uint32_t id,
                                 bool view) {
  (void)view;
  uint64_t items = sr_idmap_count(mdl->items);
  if (!mdl->conf.shared)
    return 0;
  return add_pair(snap, id, mdl->share.ibias_base, items * sizeof(float),
                  mdl->pop.base, items * sizeof(double));
}

static int add_cooc(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                    uint32_t id, bool view) {
  (void)view;
  if (!mdl->cooc_on)
    return 0;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_cooc_dump(&mdl->cooc, &buf));
}

/* Co-occurrence counts. A checkpoint without them (written before they
 * existed, or with model.cooc_weight 0) starts them empty; a model without
 * co-occurrence ignores them. */
static int restore_cooc(restore_t *rs, const sr_model_section_t *sec) {
  if (!sec || !rs->mdl->cooc_on)
    return 0;
  if (sr_cooc_load(&rs->mdl->cooc, (uint32_t)rs->meta.items, sec->data,
                   sec->len) != 0)
    return refuse(rs, "%" PRIu64 " bytes, not the counts of %" PRIu64 " items",
                  sec->len, rs->meta.items);
  return 0;
}

/* Owners and offsets; unknown for a checkpoint of a single instance. A
 * model that is not shared ignores them. */
static int restore_user_owner(restore_t *rs, const sr_model_section_t *sec) {
  sr_share_state_t *sh = &rs->mdl->share;
  uint64_t users = rs->meta.users;
  if (!sec || !rs->mdl->conf.shared)
    return 0;
  if (expect_rows(rs, sec, users, "users", 12, "bytes", 1))
    return -1;
  if (users) {
    memcpy(sh->upart, sec->data, users * sizeof(*sh->upart));
    memcpy(sh->uoffset, (const char *)sec->data + users * 4,
           users * sizeof(*sh->uoffset));
  }
  return 0;
}

/* Lists an item whose values differ from its base: a delta not yet sent. */
static void relist_item(sr_model_t *mdl, uint32_t row) {
  const sr_share_state_t *sh = &mdl->share;
  if (memcmp(sr_factors_row(&mdl->ifac, row), sr_factors_row(&sh->ibase, row),
             frow(mdl)) != 0 ||
      mdl->ibias[row] != sh->ibias_base[row] ||
      mdl->pop.counts[row] != mdl->pop.base[row])
    sr_share_mark_item(mdl, row);
}

/* The bases; for a checkpoint of a single instance, the current values
 * (what it learned alone is nobody's delta). */
static int restore_item_base(restore_t *rs, const sr_model_section_t *sec) {
  sr_model_t *mdl = rs->mdl;
  if (!mdl->conf.shared)
    return 0;
  if (sec && expect_rows(rs, sec, rs->meta.items, "items", frow(mdl), "floats",
                         sizeof(float)))
    return -1;
  copy_section(mdl->share.ibase.data,
               sec ? sec
                   : &(sr_model_section_t){0, mdl->ifac.data,
                                           rs->meta.items * frow(mdl)});
  return 0;
}

static int restore_item_base_scalars(restore_t *rs,
                                     const sr_model_section_t *sec) {
  sr_model_t *mdl = rs->mdl;
  uint64_t items = rs->meta.items;
  if (!mdl->conf.shared)
    return 0;
  if (sec && expect_rows(rs, sec, items, "items", 12, "bytes", 1))
    return -1;
  if (items) {
    const char *bias = sec ? sec->data : (const char *)mdl->ibias;
    const char *pop = sec ? (const char *)sec->data + items * sizeof(float)
                          : (const char *)mdl->pop.counts;
    memcpy(mdl->share.ibias_base, bias, items * sizeof(float));
    memcpy(mdl->pop.base, pop, items * sizeof(double));
  }
  for (uint32_t row = 0; row < items; row++)
    relist_item(mdl, row);
  mdl->share.events_at_take = rs->meta.events;
  return 0;
}

/* The rows taken down, ascending so that equal models write equal bytes
 * whatever order the takedowns came in. */
static int add_item_down(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         uint32_t id, bool view) {
  (void)view;
  if (!mdl->n_down)
    return 0;
  sr_buf_t buf = {0};
  int rc = 0;
  uint32_t items = sr_idmap_count(mdl->items);
  for (uint32_t row = 0; row < items && rc == 0; row++)
    if (mdl->idown[row])
      rc = sr_buf_append(&buf, &row, sizeof(row));
  return add_built(snap, id, &buf, rc);
}

static int restore_item_down(restore_t *rs, const sr_model_section_t *sec) {
  if (!sec)
    return 0;
  if (sec->len % sizeof(uint32_t))
    return refuse(rs, "%" PRIu64 " bytes, not a list of rows", sec->len);
  for (uint64_t k = 0; k < sec->len / sizeof(uint32_t); k++) {
    uint32_t row;
    memcpy(&row, (const char *)sec->data + k * sizeof(row), sizeof(row));
    if (row >= rs->meta.items)
      return refuse(rs, "row %" PRIu32 " of %" PRIu64 " items", row,
                    rs->meta.items);
    if (sr_avail_set(rs->mdl, row, false) != 0)
      return refuse(rs, "out of memory");
  }
  return 0;
}

static int add_blend(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                     uint32_t id, bool view) {
  (void)view;
  if (!mdl->blend.every)
    return 0;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_blend_dump(&mdl->blend, &buf));
}

/* The choice among blends. A checkpoint without it (fixed blend, or from
 * before the choice) starts with the first blend leading; a model with a
 * fixed blend ignores it. */
static int restore_blend(restore_t *rs, const sr_model_section_t *sec) {
  if (!sec || !rs->mdl->blend.every)
    return 0;
  if (sr_blend_load(&rs->mdl->blend, sec->data, sec->len) != 0)
    return refuse(rs, "%" PRIu64 " bytes, not a choice among these %u blends",
                  sec->len, rs->mdl->blend.n);
  return 0;
}

static int add_pop_time(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                        uint32_t id, bool view) {
  (void)view;
  if (mdl->pop.per_ms == 0)
    return 0;
  return add_copy(snap, id, &mdl->pop.at_ms, sizeof(mdl->pop.at_ms));
}

/* The event time popularity decayed to. Without it (a checkpoint from
 * before, or without a half-life in time) decay in time starts again at
 * the next event. */
static int restore_pop_time(restore_t *rs, const sr_model_section_t *sec) {
  if (!sec || rs->mdl->pop.per_ms == 0)
    return 0;
  if (sec->len != sizeof(int64_t))
    return refuse(rs, "%" PRIu64 " bytes, expected 8", sec->len);
  memcpy(&rs->mdl->pop.at_ms, sec->data, sizeof(int64_t));
  if (rs->mdl->pop.at_ms < 0)
    return refuse(rs, "time %" PRId64 " before 0", rs->mdl->pop.at_ms);
  return 0;
}

static int add_content(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                       uint32_t id, bool view) {
  (void)view;
  if (!mdl->content.on)
    return 0;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_content_dump(mdl, &buf));
}

static int restore_content(restore_t *rs, const sr_model_section_t *sec) {
  if (!sec)
    return 0;
  return sr_content_load(rs->mdl, rs->meta.items, sec->data, sec->len, rs->why,
                         sizeof(rs->why));
}

static int add_content_sketch(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                              uint32_t id, bool view) {
  (void)view;
  if (!mdl->content.sketch)
    return 0;
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_content_dump_sketch(mdl, &buf));
}

static int restore_content_sketch(restore_t *rs,
                                  const sr_model_section_t *sec) {
  if (!sec)
    return 0;
  return sr_content_load_sketch(rs->mdl, sec->data, sec->len, rs->why,
                                sizeof(rs->why));
}

static const section_t SECTIONS[] = {
    {SEC_META, "meta", add_meta, restore_meta, true, 0},
    {SEC_USER_IDS, "user_ids", add_user_ids, restore_user_ids, true, 2},
    {SEC_ITEM_IDS, "item_ids", add_item_ids, restore_item_ids, true, 2},
    {SEC_USER_FACTORS, "user_factors", add_user_factors, restore_user_factors,
     true, 2},
    {SEC_ITEM_FACTORS, "item_factors", add_item_factors, restore_item_factors,
     true, 2},
    {SEC_USER_BIAS, "user_bias", add_user_bias, restore_user_bias, true, 2},
    {SEC_ITEM_BIAS, "item_bias", add_item_bias, restore_item_bias, true, 2},
    {SEC_USER_EVENTS, "user_events", add_user_events, restore_user_events, true,
     2},
    {SEC_SEEN, "seen", add_seen, restore_seen, true, 2},
    {SEC_POP_COUNTS, "pop_counts", add_pop_counts, restore_pop_counts, true, 2},
    {SEC_RECENT, "recent", add_recent, restore_recent, true, 2},
    {SEC_CLOCK, "clock", add_clock, restore_clock, false, 2},
    {SEC_USER_LRU, "user_lru", add_user_lru, restore_user_lru, false, 1},
    {SEC_ITEM_LRU, "item_lru", add_item_lru, restore_item_lru, false, 1},
    {SEC_CLOCK_WINDOW, "clock_window", add_clock_window, restore_clock_window,
     false, 2},
    {SEC_USER_OWNER, "user_owner", add_user_owner, restore_user_owner, false,
     2},
    {SEC_ITEM_BASE, "item_base", add_item_base, restore_item_base, false, 2},
    {SEC_ITEM_BASE_SCALARS, "item_base_scalars", add_item_base_scalars,
     restore_item_base_scalars, false, 3},
    {SEC_COOC, "cooc", add_cooc, restore_cooc, false, 2},
    {SEC_ITEM_DOWN, "item_down", add_item_down, restore_item_down, false, 2},
    {SEC_BLEND, "blend", add_blend, restore_blend, false, 2},
    {SEC_POP_TIME, "pop_time", add_pop_time, restore_pop_time, false, 2},
    {SEC_CONTENT, "content", add_content, restore_content, false, 2},
    {SEC_CONTENT_SKETCH, "content_sketch", add_content_sketch,
     restore_content_sketch, false, 3},
};
#define N_SECTIONS (sizeof(SECTIONS) / sizeof(SECTIONS[0]))
#define N_STAGES 4

_Static_assert(N_SECTIONS <= SR_MODEL_MAX_SECTIONS,
               "a snapshot holds every section");

size_t sr_model_section_count(void) {
  return N_SECTIONS;
}

uint32_t sr_model_section_id(size_t k) {
  return k < N_SECTIONS ? SECTIONS[k].id : 0;
}

const char *sr_model_section_name(uint32_t id) {
  for (size_t k = 0; k < N_SECTIONS; k++)
    if (SECTIONS[k].id == id)
      return SECTIONS[k].name;
  return NULL;
}

static sr_err_t snapshot(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         bool view) {
  memset(snap, 0, sizeof(*snap));
  snap->dims = mdl->conf.dims;
  snap->mode = mdl->conf.mode;
  snap->users = sr_idmap_count(mdl->users);
  snap->items = sr_idmap_count(mdl->items);
  snap->events_applied = mdl->events;
  memcpy(snap->rng_state, mdl->rng.s, sizeof(snap->rng_state));
  for (size_t k = 0; k < N_SECTIONS; k++) {
    if (SECTIONS[k].add(mdl, snap, SECTIONS[k].id, view) != 0) {
      sr_model_snapshot_release(snap);
      return SR_ERR_NOMEM;
    }
  }
  return SR_OK;
}

sr_err_t sr_model_snapshot(const sr_model_t *mdl, sr_model_snapshot_t *snap) {
  return snapshot(mdl, snap, false);
}

sr_err_t sr_model_snapshot_view(const sr_model_t *mdl,
                                sr_model_snapshot_t *snap) {
  return snapshot(mdl, snap, true);
}

void sr_model_snapshot_release(sr_model_snapshot_t *snap) {
  for (size_t k = 0; k < snap->n_sections; k++) {
    if (!(snap->borrowed & (1u << k)))
      free(snap->sections[k].data);
  }
  snap->n_sections = 0;
  snap->borrowed = 0;
}

uint64_t sr_model_snapshot_digest(const sr_model_snapshot_t *snap) {
  XXH3_state_t *st = XXH3_createState();
  if (!st)
    return 0;
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, snap->rng_state, sizeof(snap->rng_state));
  for (size_t k = 0; k < snap->n_sections; k++) {
    const sr_model_section_t *sec = &snap->sections[k];
    XXH3_64bits_update(st, &sec->id, sizeof(sec->id));
    XXH3_64bits_update(st, &sec->len, sizeof(sec->len));
    XXH3_64bits_update(st, sec->data, sec->len);
  }
  uint64_t digest = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return digest;
}

uint64_t sr_model_digest(const sr_model_t *mdl) {
  sr_model_snapshot_t snap;
  if (sr_model_snapshot(mdl, &snap) != SR_OK)
    return 0;
  uint64_t digest = sr_model_snapshot_digest(&snap);
  sr_model_snapshot_release(&snap);
  return digest;
}

/* Restores every section of one stage, naming the first one refused. */
static sr_err_t restore_stage(restore_t *rs, int stage, char *errstr,
                              size_t errlen) {
  for (size_t k = 0; k < N_SECTIONS; k++) {
    const section_t *def = &SECTIONS[k];
    if (def->stage != stage)
      continue;
    if (def->restore(rs, find(rs->snap, def->id)) != 0)
      return sr_errf(errstr, errlen, SR_ERR_CORRUPT, "section %s: %s",
                     def->name, rs->why);
  }
  return SR_OK;
}

/* Checks that every required section is there, before any of them sizes
 * an allocation. */
static sr_err_t check_present(const sr_model_snapshot_t *snap, char *errstr,
                              size_t errlen) {
  for (size_t k = 0; k < N_SECTIONS; k++)
    if (SECTIONS[k].required && !find(snap, SECTIONS[k].id))
      return sr_errf(errstr, errlen, SR_ERR_CORRUPT, "section %s: missing",
                     SECTIONS[k].name);
  return SR_OK;
}

/* Reads the metadata and checks it against conf. */
static sr_err_t read_meta(const sr_model_conf_t *conf,
                          const sr_model_snapshot_t *snap, meta_t *m,
                          char *errstr, size_t errlen) {
  const sr_model_section_t *ms = find(snap, SEC_META);
  if (!ms)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT, "model metadata missing");
  if (ms->len != sizeof(*m))
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "section meta: %" PRIu64 " bytes, expected %zu", ms->len,
                   sizeof(*m));
  memcpy(m, ms->data, sizeof(*m));
  if (m->dims != conf->dims)
    return sr_errf(errstr, errlen, SR_ERR_DIMS,
                   "checkpoint has dims %u but model.dims is %u", m->dims,
                   conf->dims);
  if (m->mode != (uint32_t)conf->mode)
    return sr_errf(errstr, errlen, SR_ERR_DIMS,
                   "checkpoint has mode %s but model.mode is %s",
                   m->mode ? "explicit" : "implicit",
                   conf->mode ? "explicit" : "implicit");
  return SR_OK;
}

sr_err_t sr_model_restore(const sr_model_conf_t *conf,
                          const sr_model_snapshot_t *snap, sr_model_t **out,
                          char *errstr, size_t errlen) {
  restore_t rs = {.snap = snap};
  sr_err_t err = read_meta(conf, snap, &rs.meta, errstr, errlen);
  if (err == SR_OK)
    err = check_present(snap, errstr, errlen);
  if (err != SR_OK)
    return err;
  rs.mdl = sr_model_new(conf, errstr, errlen);
  if (!rs.mdl)
    return SR_ERR_INVALID;
  for (int stage = 0; stage < N_STAGES && err == SR_OK; stage++)
    err = restore_stage(&rs, stage, errstr, errlen);
  if (err != SR_OK) {
    sr_model_free(rs.mdl);
    return err;
  }
  sr_model_t *mdl = rs.mdl;
  memcpy(mdl->rng.s, snap->rng_state, sizeof(mdl->rng.s));
  mdl->events = rs.meta.events;
  mdl->mu_n = rs.meta.mu_n;
  mdl->mu_sum = rs.meta.mu_sum;
  sr_recommend_update_bias(mdl, 0, 1);
  *out = mdl;
  return SR_OK;
}
