/* The per-event learning path: applies one event to the rows of its user and
 * item with the update rules of core/learner (ISGD with sampled negatives, or
 * biased MF for ratings), then counts its popularity, the recent window, the
 * seen ring and the event counters. Loop thread only. */
#ifndef SR_LEARN_H
#define SR_LEARN_H

#include "core/model_internal.h"

/* Learns ev on user row u and item row i (both live). Returns SR_OK, or
 * SR_ERR_NOMEM when the seen ring cannot grow. */
sr_err_t sr_learn_event(sr_model_t *mdl, const sr_event_t *ev, uint32_t u,
                        uint32_t i);

#endif
