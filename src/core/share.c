/* Cluster mode's state: ownership of users, changed users and items, item
 * deltas; see share.h and share_state.h. */
#include "core/share.h"

#include "core/evict.h"
#include "core/model_internal.h"
#include "core/recommend.h"
#include "core/share_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A user's gone record: partition and id length, then the id. */
typedef struct gone_head {
  int32_t partition;
  uint16_t len;
} gone_head_t;

static bool shared(const sr_model_t *mdl) {
  return mdl->conf.shared != 0;
}

void sr_share_new_item(sr_model_t *mdl, uint32_t row, const char *id,
                       size_t len) {
  if (!shared(mdl))
    return;
  sr_rng_t rng;
  sr_rng_seed(&rng, XXH3_64bits_withSeed(id, len, mdl->conf.seed));
  sr_factors_fill(&mdl->ifac, row, &rng, mdl->conf.init_std);
  sr_share_state_t *sh = &mdl->share;
  memcpy(sr_factors_row(&sh->ibase, row), sr_factors_row(&mdl->ifac, row),
         (size_t)mdl->ifac.stride * sizeof(float));
  sh->ibias_base[row] = 0;
  mdl->pop.base[row] = 0;
}

void sr_share_user_left(sr_model_t *mdl, uint32_t row, bool tombstone) {
  if (!shared(mdl))
    return;
  sr_share_state_t *sh = &mdl->share;
  size_t len;
  const char *id = sr_idmap_id(mdl->users, row, &len);
  if (tombstone && len) {
    gone_head_t head = {(int32_t)sh->upart[row] - 1, (uint16_t)len};
    /* Out of memory loses a tombstone: the state topic keeps the user's
     * last record, which a new owner restores as a user that was idle. */
    if (sr_buf_append(&sh->gone, &head, sizeof(head)) == 0)
      sr_buf_append(&sh->gone, id, len);
  }
  sh->upart[row] = 0;
  sh->uoffset[row] = 0;
  if (sh->udirty[row] == SHARE_DIRTY)
    sh->udirty[row] = SHARE_LISTED;
}

void sr_share_item_left(sr_model_t *mdl, uint32_t row) {
  if (!shared(mdl))
    return;
  sr_share_state_t *sh = &mdl->share;
  sr_factors_zero(&sh->ibase, row);
  sh->ibias_base[row] = 0;
  if (sh->idirty[row] == SHARE_DIRTY)
    sh->idirty[row] = SHARE_LISTED;
}

uint64_t sr_share_bytes(const sr_model_t *mdl) {
  const sr_share_state_t *sh = &mdl->share;
  return sr_factors_bytes(&sh->ibase) + sh->gone.cap +
         (uint64_t)sh->seen_cap * sizeof(*sh->seen_ids) +
         (sh->delta ? (uint64_t)mdl->ifac.stride * sizeof(float) : 0);
}

void sr_share_free(sr_model_t *mdl) {
  sr_share_state_t *sh = &mdl->share;
  size_t u = mdl->ucap, i = mdl->icap;
  sr_model_mem_free(mdl, sh->upart, u * sizeof(*sh->upart));
  sr_model_mem_free(mdl, sh->uoffset, u * sizeof(*sh->uoffset));
  sr_model_mem_free(mdl, sh->udirty, u * sizeof(*sh->udirty));
  sr_model_mem_free(mdl, sh->dirty_u, u * sizeof(*sh->dirty_u));
  sr_model_mem_free(mdl, sh->ibias_base, i * sizeof(*sh->ibias_base));
  sr_model_mem_free(mdl, sh->idirty, i * sizeof(*sh->idirty));
  sr_model_mem_free(mdl, sh->dirty_i, i * sizeof(*sh->dirty_i));
  sr_model_mem_free(mdl, mdl->pop.base, i * sizeof(*mdl->pop.base));
  mdl->pop.base = NULL;
  sr_factors_free(&sh->ibase);
  sr_buf_free(&sh->gone);
  free(sh->seen_ids);
  free(sh->delta);
  memset(sh, 0, sizeof(*sh));
}

static void mark_user(sr_share_state_t *sh, uint32_t row) {
  if (sh->udirty[row] == SHARE_CLEAN)
    sh->dirty_u[sh->n_dirty_u++] = row;
  sh->udirty[row] = SHARE_DIRTY;
}

/* Whether the user's state already holds this event; counts a user whose
 * events arrive on two partitions and names its own in *home. */
static bool covered(sr_model_t *mdl, int64_t row, int32_t partition,
                    int64_t offset, int32_t *home) {
  sr_share_state_t *sh = &mdl->share;
  if (row < 0 || sh->upart[row] == 0)
    return false;
  if (sh->upart[row] != (uint32_t)partition + 1) {
    sh->misrouted++;
    *home = (int32_t)sh->upart[row] - 1;
    return false;
  }
  return sh->uoffset[row] > offset; /* stored as last offset + 1 */
}

sr_err_t sr_share_learn(sr_model_t *mdl, const sr_event_t *ev,
                        int32_t partition, int64_t offset, uint32_t *user_row,
                        bool *skipped, int32_t *home) {
  int32_t own = -1;
  *skipped = false;
  if (!shared(mdl)) {
    if (home)
      *home = -1;
    return sr_model_learn(mdl, ev, user_row);
  }
  int64_t known = sr_idmap_find(mdl->users, ev->user_id, ev->user_len);
  bool done = covered(mdl, known, partition, offset, &own);
  if (home)
    *home = own;
  if (done) {
    mdl->share.skipped++;
    *skipped = true;
    return SR_OK;
  }
  uint32_t row;
  sr_err_t err = sr_model_learn_known(mdl, ev, known, &row);
  if (err != SR_OK)
    return err;
  sr_share_state_t *sh = &mdl->share;
  /* A user keeps the partition it was first seen on: its state record
   * lives there. */
  if (sh->upart[row] == 0)
    sh->upart[row] = (uint32_t)partition + 1;
  if (sh->upart[row] == (uint32_t)partition + 1)
    sh->uoffset[row] = offset + 1;
  mark_user(sh, row);
  if (user_row)
    *user_row = row;
  return SR_OK;
}

/* Points st at the user's state; seen ids go into the scratch. Returns 0 or
 * -1 when out of memory. */
static int user_state(sr_model_t *mdl, uint32_t row, sr_user_state_t *st) {
  sr_share_state_t *sh = &mdl->share;
  const sr_seen_ring_t *ring = &mdl->seen.rings[row];
  if (ring->len > sh->seen_cap) {
    const char **ids = realloc(sh->seen_ids, ring->len * sizeof(*ids));
    if (!ids)
      return -1;
    sh->seen_ids = ids;
    sh->seen_cap = ring->len;
  }
  uint32_t start = ring->len == mdl->seen.max ? ring->head : 0;
  for (uint32_t j = 0; j < ring->len; j++)
    sh->seen_ids[j] =
        sr_idmap_id(mdl->items, ring->items[(start + j) % ring->len], NULL);
  *st = (sr_user_state_t){
      .user_id = sr_idmap_id(mdl->users, row, NULL),
      .partition = (int32_t)sh->upart[row] - 1,
      .last_offset = sh->uoffset[row] - 1,
      .events = mdl->uevents[row],
      .factors = sr_factors_row(&mdl->ufac, row),
      .dims = mdl->conf.dims,
      .bias = mdl->ubias[row],
      .seen = sh->seen_ids,
      .n_seen = ring->len,
      .last_active_ms = mdl->ulru.node ? mdl->ulru.node[row].last_ms : 0,
  };
  return 0;
}

static int flush_gone(sr_model_t *mdl, sr_share_gone_fn *on_gone,
                      void *opaque) {
  const sr_buf_t *gone = &mdl->share.gone;
  char id[SR_ID_MAX + 1];
  for (size_t at = 0; at + sizeof(gone_head_t) <= gone->len;) {
    gone_head_t head;
    memcpy(&head, gone->data + at, sizeof(head));
    at += sizeof(head);
    memcpy(id, gone->data + at, head.len);
    id[head.len] = '\0';
    at += head.len;
    int rc = on_gone(opaque, id, head.partition);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int sr_share_flush(sr_model_t *mdl, sr_share_user_fn *on_user,
                   sr_share_gone_fn *on_gone, void *opaque) {
  if (!shared(mdl))
    return 0;
  /* Tombstones first: a user evicted and back since the last flush must
   * end with its new record on a compacted topic. */
  int rc = flush_gone(mdl, on_gone, opaque);
  sr_share_state_t *sh = &mdl->share;
  for (uint32_t k = 0; k < sh->n_dirty_u && rc == 0; k++) {
    uint32_t row = sh->dirty_u[k];
    if (sh->udirty[row] != SHARE_DIRTY)
      continue;
    sr_user_state_t st;
    rc = user_state(mdl, row, &st) != 0 ? -1 : on_user(opaque, &st);
  }
  return rc;
}

void sr_share_flush_done(sr_model_t *mdl) {
  if (!shared(mdl))
    return;
  sr_share_state_t *sh = &mdl->share;
  for (uint32_t k = 0; k < sh->n_dirty_u; k++)
    sh->udirty[sh->dirty_u[k]] = SHARE_CLEAN;
  sh->n_dirty_u = 0;
  sh->gone.len = 0;
}

/* The row of a user's or an item's id, made most recent (created when
 * unknown). -1 with *err SR_ERR_INVALID for an id of 0 or over SR_ID_MAX
 * bytes, or SR_ERR_NOMEM. */
static int64_t touch_id(sr_model_t *mdl, bool user, const char *id,
                        sr_err_t *err) {
  size_t len = strnlen(id, SR_ID_MAX + 1);
  *err = SR_ERR_INVALID;
  if (len == 0 || len > SR_ID_MAX)
    return -1;
  int64_t row = user ? sr_model_touch_user(mdl, id, len)
                     : sr_model_touch_item(mdl, id, len);
  *err = row < 0 ? SR_ERR_NOMEM : SR_OK;
  return row;
}

/* The item rows of seen ids, created when unknown. Returns 0 or -1. */
static int put_seen(sr_model_t *mdl, uint32_t row, const sr_user_state_t *st) {
  sr_seen_clear(&mdl->seen, row);
  for (size_t j = 0; j < st->n_seen; j++) {
    sr_err_t err;
    int64_t item = touch_id(mdl, false, st->seen[j], &err);
    if (item < 0 || sr_seen_add(&mdl->seen, row, (uint32_t)item) != 0)
      return -1;
  }
  return 0;
}

sr_err_t sr_share_put_user(sr_model_t *mdl, const sr_user_state_t *st) {
  if (!shared(mdl) || st->dims != mdl->conf.dims || st->partition < 0)
    return SR_ERR_INVALID;
  sr_err_t err;
  int64_t row = touch_id(mdl, true, st->user_id, &err);
  if (row < 0)
    return err;
  float *f = sr_factors_row(&mdl->ufac, (uint32_t)row);
  memset(f, 0, (size_t)mdl->ufac.stride * sizeof(float));
  memcpy(f, st->factors, st->dims * sizeof(float));
  mdl->ubias[row] = st->bias;
  mdl->uevents[row] = st->events;
  sr_share_state_t *sh = &mdl->share;
  sh->upart[row] = (uint32_t)st->partition + 1;
  sh->uoffset[row] = st->last_offset + 1;
  if (sh->udirty[row] == SHARE_DIRTY)
    sh->udirty[row] = SHARE_LISTED;
  return put_seen(mdl, (uint32_t)row, st) == 0 ? SR_OK : SR_ERR_NOMEM;
}

void sr_share_touch_user(sr_model_t *mdl, uint32_t row) {
  if (shared(mdl) && row < sr_idmap_count(mdl->users) &&
      !sr_lru_is_free(&mdl->ulru, row))
    mark_user(&mdl->share, row);
}

int sr_share_remove_user(sr_model_t *mdl, const char *id, size_t len) {
  int64_t row = sr_idmap_find(mdl->users, id, len);
  if (row < 0)
    return 0;
  sr_evict_user(mdl, (uint32_t)row, false);
  return 1;
}

uint32_t sr_share_drop_partition(sr_model_t *mdl, int32_t p) {
  if (!shared(mdl))
    return 0;
  uint32_t dropped = 0, users = sr_idmap_count(mdl->users);
  for (uint32_t row = 0; row < users; row++) {
    if (mdl->share.upart[row] == (uint32_t)p + 1) {
      sr_evict_user(mdl, row, false);
      dropped++;
    }
  }
  return dropped;
}

int32_t sr_share_user_partition(const sr_model_t *mdl, uint32_t row) {
  return shared(mdl) ? (int32_t)mdl->share.upart[row] - 1 : -1;
}

int64_t sr_share_user_offset(const sr_model_t *mdl, uint32_t row) {
  return shared(mdl) ? mdl->share.uoffset[row] - 1 : -1;
}

/* The item's delta, its factors in the scratch. */
static void item_delta(sr_model_t *mdl, uint32_t row, sr_item_delta_t *d) {
  sr_share_state_t *sh = &mdl->share;
  const float *cur = sr_factors_row(&mdl->ifac, row);
  const float *base = sr_factors_row(&sh->ibase, row);
  for (uint32_t k = 0; k < mdl->conf.dims; k++)
    sh->delta[k] = cur[k] - base[k];
  const sr_popular_t *pop = &mdl->pop;
  *d = (sr_item_delta_t){
      .item_id = sr_idmap_id(mdl->items, row, NULL),
      .factors = sh->delta,
      .bias = mdl->ibias[row] - sh->ibias_base[row],
      .popularity = (pop->counts[row] - pop->base[row]) / pop->inc,
  };
}

/* The delta was taken: the base moves to the current values. */
static void move_base(sr_model_t *mdl, uint32_t row) {
  sr_share_state_t *sh = &mdl->share;
  memcpy(sr_factors_row(&sh->ibase, row), sr_factors_row(&mdl->ifac, row),
         (size_t)mdl->ifac.stride * sizeof(float));
  sh->ibias_base[row] = mdl->ibias[row];
  mdl->pop.base[row] = mdl->pop.counts[row];
  sh->idirty[row] = SHARE_CLEAN;
  sh->deltas_taken++;
}

/* Hands the delta of the k-th listed item to fn. Returns fn's answer (0
 * for an item whose id left: nothing to send). */
static int take_one(sr_model_t *mdl, uint32_t k, sr_share_delta_fn *fn,
                    void *opaque) {
  sr_share_state_t *sh = &mdl->share;
  uint32_t row = sh->dirty_i[k];
  if (sh->idirty[row] != SHARE_DIRTY) {
    sh->idirty[row] = SHARE_CLEAN;
    return 0;
  }
  sr_item_delta_t d;
  item_delta(mdl, row, &d);
  int rc = fn(opaque, &d);
  if (rc == 0)
    move_base(mdl, row);
  return rc;
}

int sr_share_take_deltas(sr_model_t *mdl, sr_share_delta_fn *fn, void *opaque,
                         uint64_t *events) {
  *events = 0;
  if (!shared(mdl))
    return 0;
  sr_share_state_t *sh = &mdl->share;
  if (!sh->delta && !(sh->delta = calloc(mdl->ifac.stride, sizeof(float))))
    return -1;
  uint32_t k = 0;
  int rc = 0;
  while (k < sh->n_dirty_i && (rc = take_one(mdl, k, fn, opaque)) == 0)
    k++;
  /* What fn did not take stays listed. */
  if (k && k < sh->n_dirty_i)
    memmove(sh->dirty_i, sh->dirty_i + k,
            (sh->n_dirty_i - k) * sizeof(*sh->dirty_i));
  sh->n_dirty_i -= k;
  *events = mdl->events - sh->events_at_take;
  sh->events_at_take = mdl->events;
  return rc;
}

/* Members learn a hot item at the same time from the same base, so their
 * deltas add up to several steps taken at once: with the squared loss a
 * factor whose squared norm exceeds 1 / learn_rate makes the next step
 * overshoot, and the overshoots grow until the numbers are not finite. A
 * row that a delta takes past that norm is scaled back to it (its base is
 * not, so the next delta carries the scaling to the other members). */
static void bound_norm(const sr_model_t *mdl, float *row) {
  uint32_t dims = mdl->conf.dims;
  float sq = 0;
  for (uint32_t k = 0; k < dims; k++)
    sq += row[k] * row[k];
  float max_sq = 1.0f / mdl->conf.learn_rate;
  if (!(sq > max_sq))
    return;
  float s = sqrtf(max_sq / sq);
  for (uint32_t k = 0; k < dims; k++)
    row[k] *= s;
}

sr_err_t sr_share_apply_delta(sr_model_t *mdl, const sr_item_delta_t *d) {
  if (!shared(mdl))
    return SR_ERR_INVALID;
  sr_err_t err;
  int64_t row = touch_id(mdl, false, d->item_id, &err);
  if (row < 0)
    return err;
  sr_share_state_t *sh = &mdl->share;
  float *cur = sr_factors_row(&mdl->ifac, (uint32_t)row);
  float *base = sr_factors_row(&sh->ibase, (uint32_t)row);
  for (uint32_t k = 0; k < mdl->conf.dims; k++) {
    cur[k] += d->factors[k];
    base[k] += d->factors[k];
  }
  bound_norm(mdl, cur);
  mdl->ibias[row] += d->bias;
  sh->ibias_base[row] += d->bias;
  sr_popular_merge(&mdl->pop, (uint32_t)row, d->popularity);
  sr_recommend_update_bias(mdl, (uint32_t)row, 0);
  sh->deltas_applied++;
  return SR_OK;
}

void sr_share_advance(sr_model_t *mdl, uint64_t events) {
  if (shared(mdl) && events && sr_popular_advance(&mdl->pop, events))
    sr_recommend_update_bias(mdl, 0, 1);
}

sr_share_stats_t sr_share_stats(const sr_model_t *mdl) {
  const sr_share_state_t *sh = &mdl->share;
  return (sr_share_stats_t){sh->skipped, sh->misrouted, sh->deltas_taken,
                            sh->deltas_applied};
}

void sr_share_dirty(const sr_model_t *mdl, uint32_t *users, uint32_t *items) {
  const sr_share_state_t *sh = &mdl->share;
  uint32_t u = 0, i = 0;
  for (uint32_t k = 0; k < sh->n_dirty_u; k++)
    u += sh->udirty[sh->dirty_u[k]] == SHARE_DIRTY;
  for (uint32_t k = 0; k < sh->n_dirty_i; k++)
    i += sh->idirty[sh->dirty_i[k]] == SHARE_DIRTY;
  if (users)
    *users = u;
  if (items)
    *items = i;
}
