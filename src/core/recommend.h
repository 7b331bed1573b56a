/* Recommendation: the per-item additive score (popularity blend, item
 * bias), batched scoring of warm users, the popularity list of cold users,
 * similar items, and the exclusions every list gets (the user's seen ring,
 * free item rows). Implements sr_model_recommend, sr_model_score_user,
 * sr_model_popular and sr_model_similar_items of streamrec/model.h. Owns the
 * scoring scratch (allocated through the model's allocator). Loop thread
 * only. */
#ifndef SR_RECOMMEND_H
#define SR_RECOMMEND_H

#include "core/model_internal.h"

/* Allocates the packed block of user rows. Returns 0 or -1. */
int sr_recommend_init(sr_model_t *mdl);

/* Frees the scratch. */
void sr_recommend_free(sr_model_t *mdl);

/* Keeps the additive score of item current after its count or bias
 * changed; of every item when all (a rescale of the counts, a restore).
 * Also forgets their factors' norms (core/rank). */
void sr_recommend_update_bias(sr_model_t *mdl, uint32_t item, int all);

/* The query a cold user is scored by in place of its factors: the mean
 * content factor of its items with content (in the model's packed block of
 * user rows), or NULL when it has none and gets the popularity list. */
const float *sr_recommend_cold_query(sr_model_t *mdl, uint32_t user);

/* The user's co-occurrence scores as sr_model_score_user adds them (in the
 * normalisation and times the weight of the blend in use, seen items left
 * out) into out (co_max entries, item rows need not be distinct). Returns
 * how many; 0 without co-occurrence. */
uint32_t sr_recommend_co_scores(sr_model_t *mdl, uint32_t user,
                                sr_scored_t *out);

/* The trial of the blends on one sampled event, before it is learned
 * (core/blend): hit[c] (one per blend) is 1 when blend c would have ranked
 * item among the first blend_n of user's list. The list is ranked among
 * candidates, not the whole catalogue, so a trial costs O(cooc_recent x
 * cooc_neighbours + 200) dot products whatever the number of items: the
 * neighbours of the user's latest items, the items of the latest 200
 * events (those popularity ranks high), and item. Every component is
 * scored once per candidate and the blends combine them. Returns 1 after
 * a trial, 0 when the event cannot test a blend (a cold user, an item
 * never seen or one the user's list excludes), -1 when out of memory. */
int sr_recommend_try_blends(sr_model_t *mdl, uint32_t user, uint32_t item,
                            uint8_t *hit);

#endif
