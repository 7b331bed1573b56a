/* The per-event learning path; see learn.h. */
#include "core/learn.h"

#include "core/content.h"
#include "core/learner.h"
#include "core/recommend.h"

static void learn_implicit(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                           uint32_t i) {
  const sr_model_conf_t *c = &mdl->conf;
  float *urow = sr_factors_row(&mdl->ufac, u);
  sr_factors_prefetch(&mdl->ufac, u);
  float w = c->weights[ev->type];
  if (ev->type == SR_EV_DISLIKE) {
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 0.0f,
                    w, c->learn_rate, c->reg);
    return;
  }
  uint32_t neg[64];
  uint32_t k = c->negatives < 64 ? c->negatives : 64;
  sr_factors_prefetch(&mdl->ifac, i);
  k = sr_recent_sample(&mdl->recent, &mdl->rng, &mdl->seen, u, i, neg, k);
  for (uint32_t j = 0; j < k; j++)
    sr_factors_prefetch(&mdl->ifac, neg[j]);
  for (uint32_t j = 0; j < k; j++) {
    sr_learner_step(urow, sr_factors_row(&mdl->ifac, neg[j]), mdl->ufac.stride,
                    0.0f, c->neg_weight, c->learn_rate, c->reg);
    sr_share_mark_item(mdl, neg[j]);
  }
  sr_learner_step(urow, sr_factors_row(&mdl->ifac, i), mdl->ufac.stride, 1.0f,
                  w, c->learn_rate, c->reg);
}

static void learn_explicit(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                           uint32_t i) {
  const sr_model_conf_t *c = &mdl->conf;
  if (ev->type != SR_EV_RATING)
    return;
  /* The global mean is that of earlier ratings: a rating must not take part
   * in its own prediction. */
  float mu = mdl->mu_n ? (float)(mdl->mu_sum / (double)mdl->mu_n) : ev->value;
  sr_learner_rating(sr_factors_row(&mdl->ufac, u),
                    sr_factors_row(&mdl->ifac, i), &mdl->ubias[u],
                    &mdl->ibias[i], mu, ev->value, mdl->ufac.stride,
                    c->learn_rate, c->reg, c->bias_learn_rate, c->bias_reg);
  mdl->mu_sum += ev->value;
  mdl->mu_n++;
}

/* Pairs item i with the user's previous items: the seen ring, before this
 * event joins it. Rings may still name evicted items' rows, which must
 * not gain pairs: those are left out. Returns 0 or -1. */
static int learn_cooc(sr_model_t *mdl, uint32_t u, uint32_t i) {
  uint32_t hist[SR_COOC_HIST_MAX];
  uint32_t n = sr_seen_last(&mdl->seen, u, hist, mdl->conf.cooc_history);
  if (mdl->ilru.free_top != SR_LRU_NIL) {
    uint32_t kept = 0;
    for (uint32_t d = 0; d < n; d++)
      if (sr_model_item_is_live(mdl, hist[d]))
        hist[kept++] = hist[d];
    n = kept;
  }
  return sr_cooc_learn(&mdl->cooc, i, hist, n);
}

/* On a sampled event, tests every blend before the event is learned
 * (core/blend). Returns 0 or -1 (no memory). */
static int try_blends(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                      uint32_t i) {
  uint8_t hit[SR_BLEND_MAX];
  if (ev->type == SR_EV_DISLIKE || !sr_blend_sampled(&mdl->blend, mdl->events))
    return 0;
  int rc = sr_recommend_try_blends(mdl, u, i, hit);
  if (rc == 1)
    sr_blend_record(&mdl->blend, hit);
  return rc < 0 ? -1 : 0;
}

sr_err_t sr_learn_event(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                        uint32_t i) {
  if (try_blends(mdl, ev, u, i) != 0)
    return SR_ERR_NOMEM;
  if (mdl->conf.mode == SR_MODE_EXPLICIT)
    learn_explicit(mdl, ev, u, i);
  else
    learn_implicit(mdl, ev, u, i);
  if (ev->type != SR_EV_DISLIKE && mdl->cooc_on && learn_cooc(mdl, u, i) != 0)
    return SR_ERR_NOMEM;
  /* Time decays counts whatever the event; the clock moved on with it. */
  int rescaled = sr_popular_advance_ms(&mdl->pop, mdl->clock.now_ms);
  if (ev->type != SR_EV_DISLIKE) {
    rescaled |= sr_popular_add(&mdl->pop, i, 1.0);
    sr_recent_push(&mdl->recent, i);
  }
  if (mdl->content.on &&
      sr_content_event(mdl, u, i, ev->type != SR_EV_DISLIKE) != 0)
    return SR_ERR_NOMEM;
  sr_recommend_update_bias(mdl, i, rescaled);
  sr_share_mark_item(mdl, i);
  if (sr_seen_add(&mdl->seen, u, i) != 0)
    return SR_ERR_NOMEM;
  mdl->uevents[u]++;
  mdl->events++;
  return SR_OK;
}
