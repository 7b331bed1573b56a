/* Bounded memory: the ids that leave the model. A new id arriving at
 * max_users (max_items) first frees the least recently active row; after
 * each event a few ids idle for over idle_ttl_s in event time leave. A
 * freed row keeps no trace of its id (factors, biases, counts, seen ring,
 * recent window) and waits on its recency order's free stack for a new id.
 * Loop thread only. */
#ifndef SR_EVICT_H
#define SR_EVICT_H

#include "core/model_internal.h"

#include <stdbool.h>

/* The user leaves: its id, events, seen ring and factors go; the row waits
 * on the free stack for a new id. evicted: it left by eviction (counted;
 * in cluster mode a tombstone follows), else it moved to another instance. */
void sr_evict_user(sr_model_t *mdl, uint32_t row, bool evicted);

/* Frees the rows of the least recently active users (items) until one more
 * fits under max_users (max_items); nothing when the limit is 0. Several go
 * when a restore brought more ids than a lowered limit allows. */
void sr_evict_for_user(sr_model_t *mdl);
void sr_evict_for_item(sr_model_t *mdl);

/* Evicts up to SR_EVICT_IDLE_PER_EVENT users and as many items idle for
 * over idle_ttl_s at the model's clock; nothing when idle_ttl_s is 0. */
void sr_evict_idle(sr_model_t *mdl);

/* Idle ids evicted per kind after one event: bounds the work of an event,
 * and the share of the model one event can take, when many ids turn idle at
 * once (after a genuine jump in event time); the rest go on later events. */
#define SR_EVICT_IDLE_PER_EVENT 8

#endif
