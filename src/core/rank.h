/* Exact ranks: the place of one item among all of a user's scores, as
 * sr_model_score_user scores them, without scoring every item (implements
 * sr_model_rank_item of streamrec/model.h). An item's score is its
 * additive score plus a dot product that the norms of the two factor rows
 * bound (Cauchy-Schwarz): most items are placed above or below the item by
 * that bound alone, from 8 bytes of theirs instead of a factor row; most
 * of the rest by a tighter bound from an 8-bit code of their row; the few
 * left are scored, bit for bit as sr_topn_score_one scores them. Owns, per
 * item row, the norm and the code (through the model's allocator), which
 * sr_rank_forget (model_internal.h) invalidates whenever a row changes,
 * and a mark. Loop thread only. */
#ifndef SR_RANK_H
#define SR_RANK_H

#include "core/model_internal.h"

/* Longest item row (floats) ranks take: that of model.dims 1024. */
#define SR_RANK_MAX_STRIDE 1024

/* Frees the norms and the marks. */
void sr_rank_free(sr_model_t *mdl);

#endif
