/* Approximate retrieval's model side: which index the model borrows, its
 * scratch, the slices of item rows an index is built from, and the
 * counters. Implements sr_model_set_ann, sr_model_items_copy,
 * sr_model_item_stride, sr_model_dims and sr_model_ann_stats of
 * streamrec/model.h; core/recommend.c draws the lists. Loop thread only. */
#ifndef SR_RETRIEVE_H
#define SR_RETRIEVE_H

#include "core/model_internal.h"

/* Makes ann_cand hold at least n entries. Returns 0 or -1. */
int sr_retrieve_reserve(sr_model_t *mdl, size_t n);

/* Frees the scratch (the index is borrowed, not freed). */
void sr_retrieve_free(sr_model_t *mdl);

#endif
