/* Item availability inside the model: which items are taken down (out of
 * stock, removed, expired). A taken-down item keeps learning from its
 * events but is in no list (core/recommend excludes it). The public entry
 * points are sr_model_set_available and friends in streamrec/model.h; this
 * header holds what the other model modules need. Loop thread only, like
 * the rest of the model. */
#ifndef SR_AVAIL_H
#define SR_AVAIL_H

#include "core/model_internal.h"

#include <stdbool.h>
#include <stdint.h>

/* Marks row taken down (available false) or available again. Returns 0,
 * or -1 when out of memory (the row unchanged). */
int sr_avail_set(sr_model_t *mdl, uint32_t row, bool available);

/* The row's item left the model (eviction): a new item taking the row
 * starts available. */
void sr_avail_forget(sr_model_t *mdl, uint32_t row);

#endif
