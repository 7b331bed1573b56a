/* The model: the composition of id maps, factors, learning, eviction and
 * recommendation, and the growth of its per-row arrays; see
 * include/streamrec/model.h and model_internal.h. */
#include "streamrec/model.h"

#include "core/content.h"
#include "core/evict.h"
#include "core/learn.h"
#include "core/model_internal.h"
#include "core/recommend.h"
#include "core/share_state.h"
#include "util/err.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void *sr_model_mem_alloc(sr_model_t *mdl, size_t bytes, size_t align) {
  void *block = align ? aligned_alloc(align, bytes) : malloc(bytes);
  if (block)
    mdl->own_bytes += bytes;
  return block;
}

void sr_model_mem_free(sr_model_t *mdl, void *block, size_t bytes) {
  if (!block)
    return;
  assert(mdl->own_bytes >= bytes);
  mdl->own_bytes -= bytes;
  free(block);
}

int sr_model_mem_grow(sr_model_t *mdl, void **arr, size_t old, size_t bytes) {
  char *p = realloc(*arr, bytes);
  if (!p)
    return -1;
  memset(p + old, 0, bytes - old);
  *arr = p;
  mdl->own_bytes += bytes - old;
  return 0;
}

sr_model_t *sr_model_alloc(const sr_model_conf_t *conf) {
  sr_model_t *mdl = calloc(1, sizeof(*mdl));
  if (!mdl)
    return NULL;
  mdl->conf = *conf;
  sr_factors_init(&mdl->ufac, conf->dims);
  sr_factors_init(&mdl->ifac, conf->dims);
  sr_seen_init(&mdl->seen, conf->seen_size);
  sr_popular_init(&mdl->pop, conf->pop_half_life);
  sr_popular_set_half_life_ms(&mdl->pop, conf->pop_half_life_ms);
  /* The recency lists cost a little per event; only eviction needs them. */
  sr_lru_init(&mdl->ulru, conf->max_users || conf->idle_ttl_s);
  sr_lru_init(&mdl->ilru, conf->max_items || conf->idle_ttl_s);
  sr_rng_seed(&mdl->rng, conf->seed);
  sr_clock_init(&mdl->clock);
  sr_factors_init(&mdl->share.ibase, conf->dims);
  sr_blend_init(&mdl->blend, conf);
  mdl->cooc_on = conf->cooc_weight > 0 || conf->blend == SR_BLEND_AUTO;
  mdl->users = sr_idmap_new();
  mdl->items = sr_idmap_new();
  int rc = !mdl->users || !mdl->items || sr_cooc_init(&mdl->cooc, conf) != 0;
  if (rc == 0)
    sr_cooc_set_norms(&mdl->cooc, mdl->blend.norms, mdl->blend.alpha,
                      mdl->blend.beta);
  if (rc != 0 || sr_recommend_init(mdl) != 0 ||
      sr_recent_init(&mdl->recent, conf->recent_size) != 0) {
    sr_model_free(mdl);
    return NULL;
  }
  return mdl;
}

sr_model_t *sr_model_new(const sr_model_conf_t *conf, char *errstr,
                         size_t errlen) {
  if (sr_model_conf_check(conf, errstr, errlen) != SR_OK)
    return NULL;
  sr_model_t *mdl = sr_model_alloc(conf);
  if (!mdl)
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory creating the model");
  return mdl;
}

void sr_model_free(sr_model_t *mdl) {
  if (!mdl)
    return;
  sr_idmap_free(mdl->users);
  sr_idmap_free(mdl->items);
  sr_factors_free(&mdl->ufac);
  sr_factors_free(&mdl->ifac);
  sr_model_mem_free(mdl, mdl->ubias, (size_t)mdl->ucap * sizeof(float));
  sr_model_mem_free(mdl, mdl->uevents, (size_t)mdl->ucap * sizeof(uint32_t));
  sr_model_mem_free(mdl, mdl->ibias, (size_t)mdl->icap * sizeof(float));
  sr_model_mem_free(mdl, mdl->bias, (size_t)mdl->icap * sizeof(float));
  sr_model_mem_free(mdl, mdl->idown, (size_t)mdl->icap * sizeof(uint8_t));
  sr_model_mem_free(mdl, mdl->down, (size_t)mdl->down_cap * sizeof(uint32_t));
  sr_share_free(mdl);
  sr_content_free(mdl);
  sr_seen_free(&mdl->seen);
  sr_popular_free(&mdl->pop);
  sr_cooc_free(&mdl->cooc);
  sr_recent_free(&mdl->recent);
  sr_lru_free(&mdl->ulru);
  sr_lru_free(&mdl->ilru);
  sr_recommend_free(mdl);
  /* Every block was freed with the size it was allocated with. */
  assert(mdl->own_bytes == 0);
  free(mdl);
}

/* Capacity for need rows. Growing by half rather than doubling bounds the
 * slack of every per-row array to a third of it; a configured limit caps
 * the capacity, so a bounded model allocates its limit and no more. */
static uint32_t grow_cap(uint32_t cap, uint32_t need, uint32_t limit) {
  if (need <= cap)
    return cap;
  uint64_t n = (uint64_t)cap + cap / 2;
  if (n < 256)
    n = 256;
  if (n < need)
    n = need;
  if (limit && need <= limit && n > limit)
    n = limit;
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Gives back what sr_model_mem_grow added to *arr (old bytes remain). */
static void ungrow(sr_model_t *mdl, void **arr, size_t old, size_t bytes) {
  if (old == 0) {
    free(*arr);
    *arr = NULL;
  } else {
    void *p = realloc(*arr, old);
    if (p)
      *arr = p;
  }
  mdl->own_bytes -= bytes - old;
}

/* Grows n per-row arrays of one kind from old to cap rows, all or none, so
 * that every array always holds its kind's capacity of rows and is freed
 * with the size it was counted with. Returns 0 or -1. */
static int grow_rows(sr_model_t *mdl, void **arrs[], const size_t sizes[],
                     int n, uint32_t old, uint32_t cap) {
  for (int k = 0; k < n; k++) {
    if (sr_model_mem_grow(mdl, arrs[k], old * sizes[k], cap * sizes[k]) != 0) {
      while (k-- > 0)
        ungrow(mdl, arrs[k], old * sizes[k], cap * sizes[k]);
      return -1;
    }
  }
  return 0;
}

int sr_model_grow_users(sr_model_t *mdl, uint32_t users) {
  uint32_t old = mdl->ucap;
  uint32_t cap = grow_cap(old, users, mdl->conf.max_users);
  sr_share_state_t *sh = &mdl->share;
  void **arrs[] = {(void **)&mdl->ubias, (void **)&mdl->uevents,
                   (void **)&sh->upart,  (void **)&sh->uoffset,
                   (void **)&sh->udirty, (void **)&sh->dirty_u};
  const size_t sizes[] = {sizeof(*mdl->ubias), sizeof(*mdl->uevents),
                          sizeof(*sh->upart),  sizeof(*sh->uoffset),
                          sizeof(*sh->udirty), sizeof(*sh->dirty_u)};
  int n = mdl->conf.shared ? 6 : 2;
  if (cap > old) {
    if (sr_factors_reserve(&mdl->ufac, cap) ||
        grow_rows(mdl, arrs, sizes, n, old, cap))
      return -1;
    mdl->ucap = cap;
    if (sr_seen_reserve(&mdl->seen, cap) || sr_lru_reserve(&mdl->ulru, cap) ||
        sr_idmap_reserve(mdl->users, cap))
      return -1;
  }
  return sr_seen_ensure(&mdl->seen, users);
}

int sr_model_grow_items(sr_model_t *mdl, uint32_t items) {
  uint32_t old = mdl->icap;
  uint32_t cap = grow_cap(old, items, mdl->conf.max_items);
  sr_share_state_t *sh = &mdl->share;
  void **arrs[] = {(void **)&mdl->bias,    (void **)&mdl->ibias,
                   (void **)&mdl->idown,   (void **)&sh->ibias_base,
                   (void **)&sh->idirty,   (void **)&sh->dirty_i,
                   (void **)&mdl->pop.base};
  const size_t sizes[] = {sizeof(*mdl->bias),    sizeof(*mdl->ibias),
                          sizeof(*mdl->idown),   sizeof(*sh->ibias_base),
                          sizeof(*sh->idirty),   sizeof(*sh->dirty_i),
                          sizeof(*mdl->pop.base)};
  int n = mdl->conf.shared ? 7 : 3;
  if (cap > old) {
    if (sr_factors_reserve(&mdl->ifac, cap) ||
        (n > 3 && sr_factors_reserve(&sh->ibase, cap)) ||
        grow_rows(mdl, arrs, sizes, n, old, cap))
      return -1;
    mdl->icap = cap;
    if (sr_popular_reserve(&mdl->pop, cap) || sr_lru_reserve(&mdl->ilru, cap) ||
        sr_idmap_reserve(mdl->items, cap) ||
        (mdl->cooc_on && sr_cooc_reserve(&mdl->cooc, cap)))
      return -1;
  }
  if (n > 3 && sr_factors_resize(&sh->ibase, items) != 0)
    return -1;
  if (mdl->cooc_on && sr_cooc_ensure(&mdl->cooc, items) != 0)
    return -1;
  return sr_popular_ensure(&mdl->pop, items);
}

/* A new item row: its popularity term that of an item without events,
 * as a restore computes it, for an item created before its first event
 * (content, a takedown) that lists would otherwise rank by a term of 0;
 * and its announcement in cluster mode. */
static void new_item(sr_model_t *mdl, uint32_t row, const char *id,
                     size_t len) {
  sr_recommend_update_bias(mdl, row, 0);
  sr_share_new_item(mdl, row, id, len);
}

/* Row for a new id: the most recently freed row, with fresh factors, or a
 * new row. Either way one row's worth of random draws, so a model that
 * never evicts draws exactly as before eviction existed. */
static int64_t new_row(sr_model_t *mdl, sr_idmap_t *map, sr_factors_t *fac,
                       sr_lru_t *lru, const char *id, size_t len) {
  uint32_t row = lru->free_top;
  if (row != SR_LRU_NIL) {
    if (sr_idmap_put(map, id, len, row) != 0)
      return -1;
    sr_lru_reuse(lru, mdl->clock.now_ms);
    sr_factors_fill(fac, row, &mdl->rng, mdl->conf.init_std);
    if (map == mdl->items)
      new_item(mdl, row, id, len);
    return row;
  }
  row = sr_idmap_count(map);
  int rc = map == mdl->users ? sr_model_grow_users(mdl, row + 1)
                             : sr_model_grow_items(mdl, row + 1);
  if (rc != 0 || sr_idmap_put(map, id, len, row) != 0)
    return -1;
  sr_lru_add(lru, mdl->clock.now_ms);
  sr_factors_add(fac, &mdl->rng, mdl->conf.init_std); /* room reserved */
  if (map == mdl->items)
    new_item(mdl, row, id, len);
  return row;
}

/* Row of the event's user, made most recent; a new user at max_users first
 * makes room. */
int64_t sr_model_touch_user(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->users, id, len);
  if (row >= 0) {
    sr_lru_touch(&mdl->ulru, (uint32_t)row, mdl->clock.now_ms);
    return row;
  }
  sr_evict_for_user(mdl);
  return new_row(mdl, mdl->users, &mdl->ufac, &mdl->ulru, id, len);
}

/* Row of the event's item, as touch_user. */
int64_t sr_model_touch_item(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->items, id, len);
  if (row >= 0) {
    sr_lru_touch(&mdl->ilru, (uint32_t)row, mdl->clock.now_ms);
    return row;
  }
  sr_evict_for_item(mdl);
  return new_row(mdl, mdl->items, &mdl->ifac, &mdl->ilru, id, len);
}

sr_err_t sr_model_learn(sr_model_t *mdl, const sr_event_t *ev,
                        uint32_t *user_row) {
  return sr_model_learn_known(
      mdl, ev, sr_idmap_find(mdl->users, ev->user_id, ev->user_len), user_row);
}

sr_err_t sr_model_learn_known(sr_model_t *mdl, const sr_event_t *ev,
                              int64_t known, uint32_t *user_row) {
  /* Event time, not the wall clock, so eviction replays identically; a
   * median rather than the newest stamp, so that one event stamped far
   * ahead cannot make every id look idle. */
  sr_clock_observe(&mdl->clock, ev->timestamp_ms);
  int64_t u = known;
  if (u >= 0)
    sr_lru_touch(&mdl->ulru, (uint32_t)u, mdl->clock.now_ms);
  else
    u = sr_model_touch_user(mdl, ev->user_id, ev->user_len);
  int64_t i = u < 0 ? -1 : sr_model_touch_item(mdl, ev->item_id, ev->item_len);
  if (i < 0)
    return SR_ERR_NOMEM;
  sr_err_t err = sr_learn_event(mdl, ev, (uint32_t)u, (uint32_t)i);
  if (err != SR_OK)
    return err;
  sr_evict_idle(mdl);
  if (user_row)
    *user_row = (uint32_t)u;
  return SR_OK;
}

void sr_model_prefetch_ids(const sr_model_t *mdl, const sr_event_t *ev) {
  sr_idmap_prefetch(mdl->users, ev->user_id, ev->user_len);
  sr_idmap_prefetch(mdl->items, ev->item_id, ev->item_len);
}

void sr_model_prefetch_rows(const sr_model_t *mdl, const sr_event_t *ev) {
  int64_t u = sr_idmap_find(mdl->users, ev->user_id, ev->user_len);
  int64_t i = sr_idmap_find(mdl->items, ev->item_id, ev->item_len);
  if (u >= 0 && (uint32_t)u < mdl->seen.users) {
    sr_factors_prefetch(&mdl->ufac, (uint32_t)u);
    __builtin_prefetch(&mdl->seen.rings[u]);
    __builtin_prefetch(&mdl->uevents[u]);
  }
  if (i >= 0) {
    sr_factors_prefetch(&mdl->ifac, (uint32_t)i);
    if (mdl->cooc_on && (uint32_t)i < mdl->cooc.items) {
      __builtin_prefetch(&mdl->cooc.rows[i]);
      __builtin_prefetch(&mdl->cooc.n[i]);
    }
  }
}

int64_t sr_model_find_user(const sr_model_t *mdl, const char *id, size_t len) {
  return sr_idmap_find(mdl->users, id, len);
}

int64_t sr_model_find_item(const sr_model_t *mdl, const char *id, size_t len) {
  return sr_idmap_find(mdl->items, id, len);
}

const char *sr_model_user_id(const sr_model_t *mdl, uint32_t row, size_t *len) {
  return sr_idmap_id(mdl->users, row, len);
}

const char *sr_model_item_id(const sr_model_t *mdl, uint32_t row, size_t *len) {
  return sr_idmap_id(mdl->items, row, len);
}

uint64_t sr_model_users(const sr_model_t *mdl) {
  return sr_idmap_count(mdl->users);
}

uint64_t sr_model_items(const sr_model_t *mdl) {
  return sr_idmap_count(mdl->items);
}

uint64_t sr_model_live_users(const sr_model_t *mdl) {
  return sr_idmap_live(mdl->users);
}

uint64_t sr_model_live_items(const sr_model_t *mdl) {
  return sr_idmap_live(mdl->items);
}

int sr_model_user_is_live(const sr_model_t *mdl, uint32_t row) {
  return row < mdl->ulru.rows && !sr_lru_is_free(&mdl->ulru, row);
}

int sr_model_item_is_live(const sr_model_t *mdl, uint32_t row) {
  return row < mdl->ilru.rows && !sr_lru_is_free(&mdl->ilru, row);
}

void sr_model_evictions(const sr_model_t *mdl, uint64_t *users,
                        uint64_t *items) {
  if (users)
    *users = mdl->evicted_users;
  if (items)
    *items = mdl->evicted_items;
}

int64_t sr_model_clock_ms(const sr_model_t *mdl) {
  return mdl->clock.now_ms;
}

uint64_t sr_model_events_applied(const sr_model_t *mdl) {
  return mdl->events;
}

uint32_t sr_model_user_events(const sr_model_t *mdl, uint32_t row) {
  return mdl->uevents[row];
}

const sr_model_conf_t *sr_model_conf(const sr_model_t *mdl) {
  return &mdl->conf;
}

/* The model's own arrays as counted when allocated, plus what each part
 * reports from the variables it allocates with: nothing is summed by hand
 * here, so the figure follows every allocation. */
uint64_t sr_model_bytes(const sr_model_t *mdl) {
  return sizeof(*mdl) + mdl->own_bytes + sr_idmap_bytes(mdl->users) +
         sr_idmap_bytes(mdl->items) + sr_factors_bytes(&mdl->ufac) +
         sr_factors_bytes(&mdl->ifac) + sr_popular_bytes(&mdl->pop) +
         sr_seen_bytes(&mdl->seen) + sr_lru_bytes(&mdl->ulru) +
         sr_lru_bytes(&mdl->ilru) + sr_recent_bytes(&mdl->recent) +
         sr_share_bytes(mdl) + sr_cooc_bytes(&mdl->cooc);
}

uint32_t sr_model_blends(const sr_model_t *mdl, sr_blend_info_t *out,
                         uint32_t max, uint64_t *samples) {
  const sr_blend_t *bl = &mdl->blend;
  uint32_t n = bl->n < max ? bl->n : max;
  for (uint32_t k = 0; k < n; k++) {
    sr_blend_name(bl, k, out[k].name, sizeof(out[k].name));
    out[k].hits = bl->hits[k];
    out[k].leader = k == bl->leader;
  }
  if (samples)
    *samples = bl->samples;
  return bl->n;
}
