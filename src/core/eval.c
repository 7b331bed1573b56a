/* Prequential evaluation; see include/streamrec/eval.h. */
#include "streamrec/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sr_eval {
  sr_model_t *mdl;
  size_t n;
  float *scores;
  size_t scores_cap;
  sr_eval_stats_t stats;
  bool components;
  sr_eval_stats_t comp[SR_COMPONENT__COUNT];
  int lists;
  sr_scored_t *list; /* n entries, with lists on */
  sr_eval_stats_t cold_item, cold_user;
  uint32_t *item_events; /* per item row: events in the stream so far */
  size_t item_events_cap;
};

sr_eval_t *sr_eval_new(sr_model_t *mdl, size_t n) {
  sr_eval_t *ev = calloc(1, sizeof(*ev));
  if (!ev)
    return NULL;
  ev->mdl = mdl;
  ev->n = n;
  return ev;
}

void sr_eval_set_lists(sr_eval_t *ev, int on) {
  ev->lists = on;
}

void sr_eval_free(sr_eval_t *ev) {
  if (!ev)
    return;
  free(ev->list);
  free(ev->scores);
  free(ev->item_events);
  free(ev);
}

const sr_eval_stats_t *sr_eval_stats(const sr_eval_t *ev) {
  return &ev->stats;
}

/* 1-based rank of item among all scored items (ties: lower row first), or 0
 * when the item is excluded or its score is NaN. */
static uint64_t rank_of(const float *scores, uint32_t items, uint32_t item) {
  float t = scores[item];
  if (t == -INFINITY || isnan(t))
    return 0;
  uint64_t above = 0;
  for (uint32_t j = 0; j < items; j++)
    above += (scores[j] > t) | ((scores[j] == t) & (j < item));
  return above + 1;
}

/* Counts a tested item: rank by the full scores (0: excluded, a miss)
 * for the reciprocal rank (MRR at n: 0 past n), hit_rank (its place in
 * the list, 0: not in it) for hits and NDCG. Without an index both are
 * the same. */
static void count_rank(sr_eval_stats_t *st, uint64_t rank, uint64_t hit_rank,
                       size_t n) {
  if (rank == 0)
    return;
  if (rank <= n)
    st->rr_sum += 1.0 / (double)rank;
  if (hit_rank && hit_rank <= n) {
    st->hits++;
    st->ndcg_sum += 1.0 / log2((double)hit_rank + 1.0);
  }
}

/* Ranks item by each component alone, from every item's score. */
static int test_components(sr_eval_t *ev, uint32_t user, uint32_t item) {
  uint32_t items = (uint32_t)sr_model_items(ev->mdl);
  if (items > ev->scores_cap) {
    size_t cap = items * 2;
    float *scores = realloc(ev->scores, cap * sizeof(float));
    if (!scores)
      return -1;
    ev->scores = scores;
    ev->scores_cap = cap;
  }
  for (int c = 0; c < SR_COMPONENT__COUNT; c++) {
    if (sr_model_score_component(ev->mdl, user, (sr_component_t)c,
                                 ev->scores) != 0)
      return -1;
    uint64_t rank = rank_of(ev->scores, items, item);
    count_rank(&ev->comp[c], rank, rank, ev->n);
  }
  return 0;
}

void sr_eval_set_components(sr_eval_t *ev, bool on) {
  ev->components = on;
}

const sr_eval_stats_t *sr_eval_component_stats(const sr_eval_t *ev,
                                               sr_component_t comp) {
  return &ev->comp[comp];
}

/* The item's 1-based place in the user's list, or 0 when not in it. */
static int list_rank(sr_eval_t *ev, uint32_t user, uint32_t item,
                     uint64_t *rank) {
  size_t count = 0;
  if (!ev->list && !(ev->list = malloc(ev->n * sizeof(sr_scored_t))))
    return -1;
  if (sr_model_recommend(ev->mdl, &user, 1, ev->n, ev->list, &count, NULL) !=
      SR_OK)
    return -1;
  *rank = 0;
  for (size_t k = 0; k < count && !*rank; k++)
    if (ev->list[k].item == item)
      *rank = k + 1;
  return 0;
}

static void add_result(sr_eval_stats_t *st, uint64_t rank, uint64_t hit_rank,
                       size_t n) {
  st->events++;
  st->evaluated++;
  count_rank(st, rank, hit_rank, n);
}

/* Adds a tested event's ranks (as count_rank's; 0: a miss) to the cold
 * figures it belongs to; item is -1 for an item the model does not hold. */
static void note_cold(sr_eval_t *ev, int64_t user, int64_t item, uint64_t rank,
                      uint64_t hit_rank) {
  uint32_t before = item >= 0 && (size_t)item < ev->item_events_cap
                        ? ev->item_events[item]
                        : 0;
  if (before < SR_EVAL_COLD)
    add_result(&ev->cold_item, rank, hit_rank, ev->n);
  if (sr_model_user_events(ev->mdl, (uint32_t)user) < SR_EVAL_COLD)
    add_result(&ev->cold_user, rank, hit_rank, ev->n);
}

/* Counts the event for its item, once learned. Returns 0 or -1. */
static int count_item(sr_eval_t *ev, const sr_event_t *event) {
  int64_t item = sr_model_find_item(ev->mdl, event->item_id, event->item_len);
  if (item < 0)
    return 0;
  if ((size_t)item >= ev->item_events_cap) {
    size_t cap = (size_t)item * 2 + 1024;
    uint32_t *p = realloc(ev->item_events, cap * sizeof(*p));
    if (!p)
      return -1;
    memset(p + ev->item_events_cap, 0,
           (cap - ev->item_events_cap) * sizeof(*p));
    ev->item_events = p;
    ev->item_events_cap = cap;
  }
  ev->item_events[item]++;
  return 0;
}

void sr_eval_cold_stats(const sr_eval_t *ev, sr_eval_stats_t *cold_item,
                        sr_eval_stats_t *cold_user) {
  *cold_item = ev->cold_item;
  *cold_user = ev->cold_user;
}

static int test_event(sr_eval_t *ev, const sr_event_t *event) {
  int64_t user = sr_model_find_user(ev->mdl, event->user_id, event->user_len);
  if (user < 0)
    return 0;
  ev->stats.evaluated++;
  for (int c = 0; ev->components && c < SR_COMPONENT__COUNT; c++)
    ev->comp[c].evaluated++;
  int64_t item = sr_model_find_item(ev->mdl, event->item_id, event->item_len);
  if (item < 0) {
    note_cold(ev, user, -1, 0, 0);
    return 0;
  }
  uint64_t rank, hit_rank;
  if (sr_model_rank_item(ev->mdl, (uint32_t)user, (uint32_t)item, ev->n,
                         &rank) != 0)
    return -1;
  hit_rank = rank;
  if (rank && ev->lists &&
      list_rank(ev, (uint32_t)user, (uint32_t)item, &hit_rank) != 0)
    return -1;
  count_rank(&ev->stats, rank, hit_rank, ev->n);
  note_cold(ev, user, item, rank, hit_rank);
  return ev->components ? test_components(ev, (uint32_t)user, (uint32_t)item)
                        : 0;
}

sr_err_t sr_eval_event(sr_eval_t *ev, const sr_event_t *event) {
  if (test_event(ev, event) != 0)
    return SR_ERR_NOMEM;
  ev->stats.events++;
  for (int c = 0; ev->components && c < SR_COMPONENT__COUNT; c++)
    ev->comp[c].events++;
  sr_err_t err = sr_model_learn(ev->mdl, event, NULL);
  if (err == SR_OK && count_item(ev, event) != 0)
    err = SR_ERR_NOMEM;
  return err;
}

sr_model_t *sr_eval_popularity_model(char *errstr, size_t errlen) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 1;
  conf.negatives = 0;
  conf.pop_half_life = 0;
  conf.seen_size = 0;
  conf.min_user_events = UINT32_MAX;
  return sr_model_new(&conf, errstr, errlen);
}
