/* What the model's other modules tell cluster mode's state (core/share.c):
 * rows that appear and leave, and its share of memory. Every function does
 * nothing when the model is not shared. Loop thread only. */
#ifndef SR_SHARE_STATE_H
#define SR_SHARE_STATE_H

#include "core/model_internal.h"

#include <stdbool.h>

/* A new item row for id: factors drawn from a hash of the id and the seed,
 * so every instance starts the item alike; its base equals them. */
void sr_share_new_item(sr_model_t *mdl, uint32_t row, const char *id,
                       size_t len);

/* A user row is about to lose its id; with tombstone (eviction, not a
 * partition moving away) it is listed for the next flush. */
void sr_share_user_left(sr_model_t *mdl, uint32_t row, bool tombstone);

/* An item row is about to lose its id. */
void sr_share_item_left(sr_model_t *mdl, uint32_t row);

/* Bytes held beyond the per-row arrays the model counts itself. */
uint64_t sr_share_bytes(const sr_model_t *mdl);

/* Releases what sr_model_free does not. */
void sr_share_free(sr_model_t *mdl);

#endif
