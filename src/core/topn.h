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

/* scores[u * count + j] = users[u] . items[lo + j]: sr_topn_score over the
 * item rows [lo, lo + count) only. */
void sr_topn_score_range(const float *users, uint32_t n_users,
                         const sr_factors_t *items, uint32_t lo, uint32_t count,
                         float *scores);

/* scores[i] = user . items[i] + bias[i] (bias may be NULL), for one user
 * row (64-byte aligned, zero-padded to items->stride). */
void sr_topn_score_one(const float *user, const sr_factors_t *items,
                       const float *bias, float *scores);

/* out[k] = the score sr_topn_score_one gives rows[k] (below items->rows)
 * among all of items, bit for bit: user . items[rows[k]] + bias[rows[k]]
 * (bias may be NULL). The rows' factors are asked for ahead of use, so
 * scattered rows cost little more than neighbours. */
void sr_topn_score_rows(const float *user, const sr_factors_t *items,
                        const uint32_t *rows, uint32_t n, const float *bias,
                        float *out);

/* Selects the n best of scores[i] + bias[i] (bias may be NULL) over n_items,
 * skipping -inf (excluded) scores. out is sorted by descending score, ties by
 * ascending item. Returns the count selected (<= n). */
size_t sr_topn_select(const float *scores, const float *bias, uint32_t n_items,
                      size_t n, sr_scored_t *out);

/* The n best of len scored candidates (items distinct) into out, in
 * sr_topn_select's order: one compare for most candidates, where sorting
 * them all costs len log len. Returns the count selected (<= n). */
size_t sr_topn_pick(const sr_scored_t *cand, size_t len, size_t n,
                    sr_scored_t *out);

/* Selection in blocks. Every SR_TOPN_SAMPLE_STEP-th item is offered first,
 * so that the heap's threshold comes from across all rows: scores often
 * rise (or fall) with the item row, and a scan in row order would then push
 * nearly every item through the heap.
 *
 * sr_topn_seed starts the heap out (capacity n) from the sampled scores:
 * scores[k] + bias[k] (bias may be NULL) is item k * SR_TOPN_SAMPLE_STEP.
 * sr_topn_offer then offers the other items of a block: scores[j] + bias[j]
 * is item base + j (base a multiple of SR_TOPN_SAMPLE_STEP). Blocks may come
 * in any order. Both return the heap's new length; sr_topn_finish sorts it
 * as sr_topn_select sorts its result. -inf scores are never selected. */
#define SR_TOPN_SAMPLE_STEP 64
size_t sr_topn_seed(const float *scores, const float *bias, uint32_t count,
                    size_t n, sr_scored_t *out);
size_t sr_topn_offer(const float *scores, const float *bias, uint32_t base,
                     uint32_t count, size_t n, sr_scored_t *out, size_t len);
void sr_topn_finish(sr_scored_t *out, size_t len);

#endif
