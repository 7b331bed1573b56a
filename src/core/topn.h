/* Top-N scoring: one cblas_sgemm scores a batch of users against every item;
 * a bounded min-heap keeps the N best per user. Stateless; any thread. */
#ifndef SR_TOPN_H
#define SR_TOPN_H

#include "core/factors.h"
#include "streamrec/model.h"

#include <stddef.h>
#include <stdint.h>

/* scores[u * items->rows + i] = users[u] . items[i] for n_users rows packed
 * at stride items->stride in users. One sgemm. */
void sr_topn_score(const float *users, uint32_t n_users,
                   const sr_factors_t *items, float *scores);

/* scores[i] = user . items[i] + bias[i] (bias may be NULL), for one user
 * row (64-byte aligned, zero-padded to items->stride). */
void sr_topn_score_one(const float *user, const sr_factors_t *items,
                       const float *bias, float *scores);

/* Selects the n best of scores[i] + bias[i] (bias may be NULL) over n_items,
 * skipping -inf (excluded) scores. out is sorted by descending score, ties by
 * ascending item. Returns the count selected (<= n). */
size_t sr_topn_select(const float *scores, const float *bias, uint32_t n_items,
                      size_t n, sr_scored_t *out);

#endif
