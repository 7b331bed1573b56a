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
 * changed; of every item when all (a rescale of the counts, a restore). */
void sr_recommend_update_bias(sr_model_t *mdl, uint32_t item, int all);

#endif
