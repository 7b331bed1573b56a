/* Model snapshots (a full copy as tagged sections), restore and digest.
 * Every section has a canonical form: rings oldest-first, ids per row with
 * "" for free rows (never the arena, which keeps removed ids until it is
 * compacted), recency lists in order. So a restored model behaves exactly
 * like the one that was copied, and both have the same digest. */
#include "core/model_internal.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

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

static int add_seen(sr_model_snapshot_t *snap, const sr_seen_t *seen,
                    uint32_t users) {
  sr_buf_t buf = {0};
  for (uint32_t u = 0; u < users; u++) {
    const sr_seen_ring_t *ring = &seen->rings[u];
    uint32_t start = ring->len == seen->max ? ring->head : 0;
    if (sr_buf_append(&buf, &ring->len, sizeof(uint32_t)) != 0)
      goto fail;
    for (uint32_t j = 0; j < ring->len; j++) {
      uint32_t item = ring->items[(start + j) % ring->len];
      if (sr_buf_append(&buf, &item, sizeof(item)) != 0)
        goto fail;
    }
  }
  snap->sections[snap->n_sections++] =
      (sr_model_section_t){SEC_SEEN, buf.data ? buf.data : malloc(1), buf.len};
  return 0;
fail:
  sr_buf_free(&buf);
  return -1;
}

/* Adds a section built by dump(obj, buf). */
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

static int add_ids(sr_model_snapshot_t *snap, uint32_t id,
                   const sr_idmap_t *map) {
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_idmap_dump(map, &buf));
}

static int add_lru(sr_model_snapshot_t *snap, uint32_t id,
                   const sr_lru_t *lru) {
  sr_buf_t buf = {0};
  return add_built(snap, id, &buf, sr_lru_dump(lru, &buf));
}

static int add_clock_window(sr_model_snapshot_t *snap, const sr_clock_t *clk) {
  int64_t window[SR_CLOCK_WINDOW];
  uint32_t n = sr_clock_window(clk, window);
  return add_copy(snap, SEC_CLOCK_WINDOW, window, n * sizeof(int64_t));
}

static int add_recent(sr_model_snapshot_t *snap, const sr_recent_t *rec) {
  uint32_t *items = malloc((rec->len + 1) * sizeof(uint32_t));
  if (!items)
    return -1;
  uint32_t start = rec->len == rec->cap ? rec->head : 0;
  for (uint32_t j = 0; j < rec->len; j++)
    items[j] = rec->items[(start + j) % rec->cap];
  snap->sections[snap->n_sections++] = (sr_model_section_t){
      SEC_RECENT, items, (uint64_t)rec->len * sizeof(uint32_t)};
  return 0;
}

static sr_err_t snapshot(const sr_model_t *mdl, sr_model_snapshot_t *snap,
                         bool view) {
  uint32_t users = sr_idmap_count(mdl->users),
           items = sr_idmap_count(mdl->items);
  meta_t meta = {.dims = mdl->conf.dims,
                 .stride = mdl->ufac.stride,
                 .mode = mdl->conf.mode,
                 .users = users,
                 .items = items,
                 .events = mdl->events,
                 .mu_n = mdl->mu_n,
                 .mu_sum = mdl->mu_sum,
                 .pop_inc = mdl->pop.inc};
  clock_sec_t clock = {mdl->clock.now_ms, mdl->evicted_users,
                       mdl->evicted_items};
  uint64_t frow = (uint64_t)mdl->ufac.stride * sizeof(float);
  memset(snap, 0, sizeof(*snap));
  snap->dims = mdl->conf.dims;
  snap->mode = mdl->conf.mode;
  snap->users = users;
  snap->items = items;
  snap->events_applied = mdl->events;
  memcpy(snap->rng_state, mdl->rng.s, sizeof(snap->rng_state));
  if (add_copy(snap, SEC_META, &meta, sizeof(meta)) ||
      add_ids(snap, SEC_USER_IDS, mdl->users) ||
      add_ids(snap, SEC_ITEM_IDS, mdl->items) ||
      add_array(snap, view, SEC_USER_FACTORS, mdl->ufac.data, users * frow) ||
      add_array(snap, view, SEC_ITEM_FACTORS, mdl->ifac.data, items * frow) ||
      add_array(snap, view, SEC_USER_BIAS, mdl->ubias, users * sizeof(float)) ||
      add_array(snap, view, SEC_ITEM_BIAS, mdl->ibias, items * sizeof(float)) ||
      add_array(snap, view, SEC_USER_EVENTS, mdl->uevents,
                users * sizeof(uint32_t)) ||
      add_seen(snap, &mdl->seen, users) ||
      add_array(snap, view, SEC_POP_COUNTS, mdl->pop.counts,
                items * sizeof(double)) ||
      add_recent(snap, &mdl->recent) ||
      add_copy(snap, SEC_CLOCK, &clock, sizeof(clock)) ||
      add_lru(snap, SEC_USER_LRU, &mdl->ulru) ||
      add_lru(snap, SEC_ITEM_LRU, &mdl->ilru) ||
      add_clock_window(snap, &mdl->clock)) {
    sr_model_snapshot_release(snap);
    return SR_ERR_NOMEM;
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

static const sr_model_section_t *find(const sr_model_snapshot_t *snap,
                                      uint32_t id, uint64_t want) {
  for (size_t k = 0; k < snap->n_sections; k++)
    if (snap->sections[k].id == id)
      return want == UINT64_MAX || snap->sections[k].len == want
                 ? &snap->sections[k]
                 : NULL;
  return NULL;
}

/* Puts every id of a dump back at its row: a live row of lru gets its id,
 * a free row must have "" and stays free. */
static int restore_ids(sr_idmap_t *map, const sr_lru_t *lru,
                       const sr_model_section_t *sec, uint64_t rows) {
  const char *p = sec->data, *end = p + sec->len;
  uint32_t row = 0;
  for (; p < end && row < rows; row++) {
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (!nul)
      return -1;
    size_t len = (size_t)(nul - p);
    if (sr_lru_is_free(lru, row)) {
      if (len != 0 || sr_idmap_add_free(map, row + 1) != 0)
        return -1;
    } else if (sr_idmap_find(map, p, len) >= 0 ||
               sr_idmap_put(map, p, len, row) != 0) {
      return -1;
    }
    p = nul + 1;
  }
  return p == end && row == rows ? 0 : -1;
}

/* Recency of rows: from the dump, or for a checkpoint written before
 * eviction existed, every row live, the newest row the most recent. */
static int restore_lru(sr_lru_t *lru, const sr_model_snapshot_t *snap,
                       uint32_t id, uint64_t rows) {
  const sr_model_section_t *sec = find(snap, id, UINT64_MAX);
  if (sec)
    return sr_lru_load(lru, (uint32_t)rows, sec->data, sec->len);
  if (sr_lru_reserve(lru, (uint32_t)rows) != 0)
    return -1;
  for (uint64_t r = 0; r < rows; r++)
    sr_lru_add(lru, 0);
  return 0;
}

/* The clock, its window and the eviction counters; zero for a checkpoint
 * from before eviction. One from before the median clock has no window: the
 * clock keeps its time and fills a window from the events that follow. */
static int restore_clock(sr_model_t *mdl, const sr_model_snapshot_t *snap) {
  const sr_model_section_t *sec = find(snap, SEC_CLOCK, UINT64_MAX),
                           *win = find(snap, SEC_CLOCK_WINDOW, UINT64_MAX);
  clock_sec_t clock = {0, 0, 0};
  int64_t window[SR_CLOCK_WINDOW];
  uint64_t n = 0;
  if (sec && sec->len != sizeof(clock))
    return -1;
  if (sec)
    memcpy(&clock, sec->data, sizeof(clock));
  if (win) {
    if (win->len % sizeof(int64_t) != 0 || win->len > sizeof(window))
      return -1;
    n = win->len / sizeof(int64_t);
    if (n)
      memcpy(window, win->data, win->len);
  }
  mdl->evicted_users = clock.evicted_users;
  mdl->evicted_items = clock.evicted_items;
  return sr_clock_load(&mdl->clock, clock.now_ms, window, (uint32_t)n);
}

static int restore_seen(sr_model_t *mdl, const sr_model_section_t *sec,
                        uint64_t users) {
  const uint32_t *p = sec->data;
  uint64_t words = sec->len / sizeof(uint32_t), at = 0;
  if (sec->len % sizeof(uint32_t) != 0)
    return -1;
  for (uint64_t u = 0; u < users; u++) {
    if (at >= words || p[at] > words - at - 1)
      return -1;
    uint32_t len = p[at++];
    for (uint32_t j = 0; j < len; j++, at++)
      if (p[at] >= sr_idmap_count(mdl->items) ||
          sr_seen_add(&mdl->seen, (uint32_t)u, p[at]) != 0)
        return -1;
  }
  return at == words ? 0 : -1;
}

/* Copies a section into its array; an empty model has empty sections whose
 * arrays were never allocated, and memcpy must not see those pointers. */
static void copy_section(void *dst, const sr_model_section_t *sec) {
  if (sec->len)
    memcpy(dst, sec->data, sec->len);
}

static int restore_arrays(sr_model_t *mdl, const sr_model_snapshot_t *snap,
                          const meta_t *m) {
  uint64_t frow = (uint64_t)m->stride * sizeof(float);
  const sr_model_section_t *uf = find(snap, SEC_USER_FACTORS, m->users * frow),
                           *itf = find(snap, SEC_ITEM_FACTORS, m->items * frow),
                           *ub = find(snap, SEC_USER_BIAS, m->users * 4),
                           *ib = find(snap, SEC_ITEM_BIAS, m->items * 4),
                           *ue = find(snap, SEC_USER_EVENTS, m->users * 4),
                           *pc = find(snap, SEC_POP_COUNTS, m->items * 8),
                           *rc = find(snap, SEC_RECENT, UINT64_MAX);
  if (!uf || !itf || !ub || !ib || !ue || !pc || !rc ||
      rc->len % sizeof(uint32_t) != 0 ||
      sr_factors_resize(&mdl->ufac, (uint32_t)m->users) ||
      sr_factors_resize(&mdl->ifac, (uint32_t)m->items) ||
      sr_model_grow_users(mdl, (uint32_t)m->users) ||
      sr_model_grow_items(mdl, (uint32_t)m->items))
    return -1;
  copy_section(mdl->ufac.data, uf);
  copy_section(mdl->ifac.data, itf);
  copy_section(mdl->ubias, ub);
  copy_section(mdl->ibias, ib);
  copy_section(mdl->uevents, ue);
  copy_section(mdl->pop.counts, pc);
  mdl->pop.inc = m->pop_inc;
  sr_popular_refresh(&mdl->pop);
  const uint32_t *recent = rc->data;
  for (uint64_t j = 0; j < rc->len / sizeof(uint32_t); j++) {
    if (recent[j] >= m->items)
      return -1;
    sr_recent_push(&mdl->recent, recent[j]);
  }
  return 0;
}

sr_err_t sr_model_restore(const sr_model_conf_t *conf,
                          const sr_model_snapshot_t *snap, sr_model_t **out,
                          char *errstr, size_t errlen) {
  const sr_model_section_t *ms = find(snap, SEC_META, sizeof(meta_t));
  if (!ms)
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT, "model metadata missing");
  meta_t m;
  memcpy(&m, ms->data, sizeof(m));
  if (m.dims != conf->dims)
    return sr_errf(errstr, errlen, SR_ERR_DIMS,
                   "checkpoint has dims %u but model.dims is %u", m.dims,
                   conf->dims);
  if (m.mode != (uint32_t)conf->mode)
    return sr_errf(errstr, errlen, SR_ERR_DIMS,
                   "checkpoint has mode %s but model.mode is %s",
                   m.mode ? "explicit" : "implicit",
                   conf->mode ? "explicit" : "implicit");
  sr_model_t *mdl = sr_model_new(conf, errstr, errlen);
  if (!mdl)
    return SR_ERR_INVALID;
  const sr_model_section_t *uid = find(snap, SEC_USER_IDS, UINT64_MAX),
                           *iid = find(snap, SEC_ITEM_IDS, UINT64_MAX),
                           *seen = find(snap, SEC_SEEN, UINT64_MAX);
  /* Every row has at least its NUL among the ids: a header claiming more
   * rows is corrupt, and is caught before it sizes any allocation. */
  if (m.stride != mdl->ufac.stride || !uid || !iid || !seen ||
      m.users > uid->len || m.items > iid->len || m.users > UINT32_MAX ||
      m.items > UINT32_MAX || sr_model_grow_users(mdl, (uint32_t)m.users) ||
      sr_model_grow_items(mdl, (uint32_t)m.items) ||
      restore_lru(&mdl->ulru, snap, SEC_USER_LRU, m.users) ||
      restore_lru(&mdl->ilru, snap, SEC_ITEM_LRU, m.items) ||
      restore_ids(mdl->users, &mdl->ulru, uid, m.users) ||
      restore_ids(mdl->items, &mdl->ilru, iid, m.items) ||
      restore_arrays(mdl, snap, &m) || restore_seen(mdl, seen, m.users) ||
      restore_clock(mdl, snap)) {
    sr_model_free(mdl);
    return sr_errf(errstr, errlen, SR_ERR_CORRUPT,
                   "model sections are inconsistent");
  }
  memcpy(mdl->rng.s, snap->rng_state, sizeof(mdl->rng.s));
  mdl->events = m.events;
  mdl->mu_n = m.mu_n;
  mdl->mu_sum = m.mu_sum;
  sr_model_refresh_bias(mdl);
  *out = mdl;
  return SR_OK;
}
