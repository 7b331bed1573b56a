/* Prequential (test-then-train) evaluation: for each event whose user has an
 * earlier event, rank every item seen so far, excluding the user's own
 * earlier items; a hit when the event's item is in the top n (a never-seen
 * item is a miss); then learn from the event. Single-threaded. */
#ifndef STREAMREC_EVAL_H
#define STREAMREC_EVAL_H

#include "streamrec/model.h"

typedef struct sr_eval_stats {
  uint64_t events;    /* events learned from */
  uint64_t evaluated; /* events tested before learning */
  uint64_t hits;      /* tested events whose item ranked in the top n */
  double ndcg_sum;    /* sum of 1/log2(rank+1) over hits */
  double rr_sum;      /* sum of 1/rank over tested events ranked
                         within n (full rank) */
} sr_eval_stats_t;

typedef struct sr_eval sr_eval_t;

/* Evaluates mdl (borrowed; it learns from every event) at cut-off n.
 * NULL when out of memory. */
sr_eval_t *sr_eval_new(sr_model_t *mdl, size_t n);

/* With lists on, hits and nDCG come from the list sr_model_recommend
 * gives the user (so from an index the model borrows, as a published list
 * would); the reciprocal rank stays the item's rank among every score.
 * Off by default. */
void sr_eval_set_lists(sr_eval_t *ev, int on);

/* Frees the evaluator, not the model. Accepts NULL. */
void sr_eval_free(sr_eval_t *ev);

/* Tests then learns one event. Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_eval_event(sr_eval_t *ev, const sr_event_t *event);

/* Figures so far. */
const sr_eval_stats_t *sr_eval_stats(const sr_eval_t *ev);

/* Also ranks every tested event's item by each component of the blend
 * alone (sr_model_score_component), for sr_eval_component_stats: about
 * three times the scoring work. Call before the first event. */
void sr_eval_set_components(sr_eval_t *ev, bool on);

/* Figures of one component alone so far (events and evaluated as the
 * blend's). */
const sr_eval_stats_t *sr_eval_component_stats(const sr_eval_t *ev,
                                               sr_component_t comp);

/* Cold events: those whose item had fewer than SR_EVAL_COLD earlier
 * events in the stream (an item never seen included), and those whose
 * user had fewer than SR_EVAL_COLD earlier events. */
#define SR_EVAL_COLD 5

/* Figures over the cold-item and the cold-user events tested so far
 * (events and evaluated both count the tested ones). */
void sr_eval_cold_stats(const sr_eval_t *ev, sr_eval_stats_t *cold_item,
                        sr_eval_stats_t *cold_user);

/* The popularity ranker as a model: every user is cold, counts never decay,
 * the user's own items excluded. Pass it to sr_eval_new. */
sr_model_t *sr_eval_popularity_model(char *errstr, size_t errlen);

#endif
