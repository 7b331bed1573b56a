/* Eviction; see evict.h. */
#include "core/evict.h"

#include "core/avail.h"
#include "core/recommend.h"
#include "core/share_state.h"

void sr_evict_user(sr_model_t *mdl, uint32_t row, bool evicted) {
  sr_share_user_left(mdl, row, evicted);
  sr_idmap_remove(mdl->users, row);
  sr_seen_clear(&mdl->seen, row);
  sr_factors_zero(&mdl->ufac, row);
  mdl->ubias[row] = 0;
  mdl->uevents[row] = 0;
  sr_lru_retire(&mdl->ulru, row);
  mdl->evicted_users += evicted;
}

/* The item leaves: its id, popularity, co-occurrence pairs, bias and
 * factors go, and it leaves the recent window so no negative lands on the
 * row once reused. */
static void evict_item(sr_model_t *mdl, uint32_t row) {
  sr_share_item_left(mdl, row);
  sr_idmap_remove(mdl->items, row);
  sr_popular_clear(&mdl->pop, row);
  if (mdl->cooc_on)
    sr_cooc_clear(&mdl->cooc, row);
  sr_factors_zero(&mdl->ifac, row);
  mdl->ibias[row] = 0;
  sr_recent_purge(&mdl->recent, row);
  sr_lru_retire(&mdl->ilru, row);
  sr_avail_forget(mdl, row);
  sr_content_forget(mdl, row);
  sr_recommend_update_bias(mdl, row, 0);
  mdl->evicted_items++;
}

void sr_evict_for_user(sr_model_t *mdl) {
  while (mdl->conf.max_users && mdl->ulru.live >= mdl->conf.max_users)
    sr_evict_user(mdl, mdl->ulru.tail, true);
}

void sr_evict_for_item(sr_model_t *mdl) {
  while (mdl->conf.max_items && mdl->ilru.live >= mdl->conf.max_items)
    evict_item(mdl, mdl->ilru.tail);
}

/* 1 when lru's least recently touched live row was last touched before
 * cutoff. */
static int tail_idle(const sr_lru_t *lru, int64_t cutoff) {
  return lru->tail != SR_LRU_NIL && lru->node[lru->tail].last_ms < cutoff;
}

/* Rows are touched at the clock, which never goes back, so the tail is
 * always the most idle row and the rows of the event just learnt (idle 0)
 * are never taken. */
void sr_evict_idle(sr_model_t *mdl) {
  if (!mdl->conf.idle_ttl_s)
    return;
  int64_t cutoff = mdl->clock.now_ms - (int64_t)mdl->conf.idle_ttl_s * 1000;
  for (int k = 0; k < SR_EVICT_IDLE_PER_EVENT && tail_idle(&mdl->ulru, cutoff);
       k++)
    sr_evict_user(mdl, mdl->ulru.tail, true);
  for (int k = 0; k < SR_EVICT_IDLE_PER_EVENT && tail_idle(&mdl->ilru, cutoff);
       k++)
    evict_item(mdl, mdl->ilru.tail);
}
