/* Approximate inner-product retrieval: an inverted-file index (IVF) over a
 * snapshot of item factors. Seeded k-means puts the items in lists around
 * centroids; a batch of users is scored against the centroids by one sgemm,
 * and each user's best lists are scanned from 8-bit codes of the item
 * vectors (each with a scale of its own; list by list for all the users
 * that probe it), keeping a shortlist a quarter longer than wanted. The
 * index holds its own codes of the snapshot, so that it can be built on
 * any thread while the model moves on, and no float copy: the caller
 * re-scores the shortlist exactly with the live factors, and a second
 * exact pass over a copy would gather the same scattered rows twice.
 *
 * The score indexed is u.v + bias: each item vector carries its additive
 * score as one more column, and each user vector a 1 there, so that
 * popular items are found as the exact ranking finds them.
 *
 * Rows the snapshot skipped (free rows) and rows beyond the snapshot are
 * not in the index; sr_ann_side lists the first, sr_ann_rows bounds the
 * second, and the caller scores both exactly until the next build.
 *
 * Pure: no I/O, no clock. A built index is read-only except for the search
 * scratch, so one thread at a time may search it; build and free on any
 * thread. */
#ifndef SR_ANN_H
#define SR_ANN_H

#include "core/factors.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sr_ann sr_ann_t;

/* Most candidates per user of the default conf. */
#define SR_ANN_MAX_WANT 1024

/* Build parameters. */
typedef struct sr_ann_conf {
  uint32_t lists;     /* k-means lists; 0: 2 sqrt(items), at most 1024 */
  uint32_t iters;     /* k-means iterations */
  uint32_t max_batch; /* most users per sr_ann_search */
  uint32_t max_want;  /* most candidates per user */
  uint64_t seed;      /* k-means seeding: same snapshot, same index */
} sr_ann_conf_t;

/* Defaults: lists 0, iters 8, max_batch 64, max_want
 * SR_ANN_MAX_WANT, seed 1. */
void sr_ann_conf_init(sr_ann_conf_t *conf);

/* Builds an index of the rows [0, snap->rows) of snap whose skip[r] is 0
 * (skip may be NULL), with bias[r] as their additive score (bias may be
 * NULL for none). Copies what it needs; snap may change afterwards. NULL
 * when out of memory. */
sr_ann_t *sr_ann_build(const sr_factors_t *snap, const float *bias,
                       const uint8_t *skip, const sr_ann_conf_t *conf);

/* Frees the index. Accepts NULL. */
void sr_ann_free(sr_ann_t *ann);

/* Rows of the snapshot: rows at or beyond it were added after the build. */
uint32_t sr_ann_rows(const sr_ann_t *ann);

/* Items in the index. */
uint32_t sr_ann_items(const sr_ann_t *ann);

/* Lists of the index. */
uint32_t sr_ann_lists(const sr_ann_t *ann);

/* The rows below sr_ann_rows that the build skipped, ascending; their count
 * in *n. */
const uint32_t *sr_ann_side(const sr_ann_t *ann, uint32_t *n);

/* The conf's max_batch and max_want the index was built with. */
uint32_t sr_ann_max_batch(const sr_ann_t *ann);
uint32_t sr_ann_max_want(const sr_ann_t *ann);

/* Bytes the index holds, scratch included. */
size_t sr_ann_bytes(const sr_ann_t *ann);

/* For n_users (<= max_batch) user vectors of dims floats at stride in
 * users, the shortlist of each user among its probe best lists: the rows
 * whose codes score best, w = min(want[u], max_want) of them plus a
 * quarter of w again (32 at least; max_want at most), into
 * rows + u * max_want in no order, their count in counts[u] (fewer when
 * the probed lists hold fewer items; 0 when want[u] is 0). The caller
 * re-scores them exactly and keeps the best w: a row of the probed lists'
 * exact best w is missed only when quantization error pushes it past the
 * margin, which takes a near tie at the cut (the margin shrinks as w
 * nears max_want). Returns the items scored in all. */
uint64_t sr_ann_search(sr_ann_t *ann, const float *users, uint32_t stride,
                       uint32_t n_users, uint32_t probe, const uint32_t *want,
                       uint32_t *rows, uint32_t *counts);

/* Mean recall@n (n <= max_want) of the index's candidates against exact
 * scoring of the same snapshot (as sr_ann_build took it) for n_users
 * (<= max_batch) user vectors at stride: the share of each user's exact
 * best n (by u.v + bias over rows not skipped) among the best n of its
 * candidates for want n, re-scored from snap as a list re-scores them. 1 when
 * nothing is indexed; -1 when out of memory. Costs one pass over the snapshot
 * per batch of users. */
double sr_ann_recall(sr_ann_t *ann, const sr_factors_t *snap, const float *bias,
                     const uint8_t *skip, const float *users, uint32_t stride,
                     uint32_t n_users, uint32_t probe, uint32_t n);

#endif
