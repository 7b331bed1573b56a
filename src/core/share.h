/* Cluster mode (docs/scaling.md): what one instance of a group keeps so that
 * its users can move to another instance and its items stay one model with
 * everyone else's. On only when the model's conf.shared is set; otherwise
 * none of it is allocated and the model behaves as a single instance.
 *
 * - Users: the input partition each user's events arrive on and the offset
 *   of the last event applied to it. An event at or below that offset was
 *   applied before (by this instance, or by the one the user's state came
 *   from) and is skipped, so every event reaches its user exactly once.
 *   Users changed since the last state flush are listed, and users evicted
 *   since then too (their state records get tombstones); users of a
 *   partition that moved away are dropped without one.
 * - Items: a base copy of every item's factors, bias and popularity. A delta
 *   is the change since the base; taking it moves the base. Deltas from
 *   other instances are added to both, so they are never sent on. A new
 *   item starts from factors drawn from a hash of its id and the seed, the
 *   same on every instance.
 *
 * Loop thread only, like the rest of the model. */
#ifndef SR_SHARE_H
#define SR_SHARE_H

#include "streamrec/model.h"

#include <stdbool.h>
#include <stdint.h>

/* One user's state as the state topic carries it. Pointers are borrowed. */
typedef struct sr_user_state {
  const char *user_id;
  int32_t partition;   /* the input partition the user's events are on */
  int64_t last_offset; /* offset of the last event applied to the user */
  uint32_t events;     /* events learned from */
  const float *factors;
  uint32_t dims;
  float bias;
  const char *const *seen; /* item ids, oldest first */
  size_t n_seen;
  int64_t last_active_ms;
  void *owned_; /* the decoder's allocation, if any */
  /* Hashes of the item ids of the user's last published list: the
   * daemon's record (daemon/telemetry), carried along; core/share neither
   * fills nor reads them. */
  const uint64_t *listed;
  size_t n_listed;
} sr_user_state_t;

/* What one instance's events changed in one item since its last delta. */
typedef struct sr_item_delta {
  const char *item_id;
  const float *factors; /* dims floats */
  float bias;
  double popularity; /* change of the decayed count, in events */
} sr_item_delta_t;

typedef struct sr_share_stats {
  uint64_t skipped;      /* events already in their user's state */
  uint64_t misrouted;    /* events of a user first seen on another partition */
  uint64_t deltas_taken; /* item deltas taken to send */
  uint64_t deltas_applied;
} sr_share_stats_t;

/* Learns ev, an event of input partition `partition` at `offset`, as
 * sr_model_learn does, unless its user's state already covers it (offset at
 * or below the user's last applied offset): then nothing changes and
 * *skipped is set. An event of a user known on another partition is counted
 * as misrouted (the input is not keyed by user id), its partition goes to
 * *home (may be NULL; else -1), and it is learned anyway. Returns SR_OK or
 * SR_ERR_NOMEM. */
sr_err_t sr_share_learn(sr_model_t *mdl, const sr_event_t *ev,
                        int32_t partition, int64_t offset, uint32_t *user_row,
                        bool *skipped, int32_t *home);

/* A user's state, pointing into the model (valid until it changes). */
typedef int(sr_share_user_fn)(void *opaque, const sr_user_state_t *st);
/* A user that left the model by eviction since the last flush. */
typedef int(sr_share_gone_fn)(void *opaque, const char *user_id,
                              int32_t partition);

/* Calls on_user for every user changed since the last completed flush, then
 * on_gone for every user evicted since; stops at the first non-zero return
 * and returns it. Nothing is forgotten until sr_share_flush_done, and the
 * model must not learn in between. */
int sr_share_flush(sr_model_t *mdl, sr_share_user_fn *on_user,
                   sr_share_gone_fn *on_gone, void *opaque);

/* The records of the last sr_share_flush are durable: forget them. */
void sr_share_flush_done(sr_model_t *mdl);

/* Installs st (of dims floats) as the user's state, replacing any it has;
 * seen items unknown here are created as new items. The user is not marked
 * changed (its state came from the state topic). Returns SR_OK,
 * SR_ERR_INVALID when dims differ, or SR_ERR_NOMEM. */
sr_err_t sr_share_put_user(sr_model_t *mdl, const sr_user_state_t *st);

/* Owes the user's state to the next flush though it learned nothing (a
 * list published for it without an event, which the state carries). Does
 * nothing when the model is not shared or row is free. */
void sr_share_touch_user(sr_model_t *mdl, uint32_t row);

/* Removes the user (a tombstone on the state topic). Returns 1 when it was
 * known. */
int sr_share_remove_user(sr_model_t *mdl, const char *id, size_t len);

/* Drops every user of input partition p (it moved to another instance),
 * without tombstones. Returns how many. */
uint32_t sr_share_drop_partition(sr_model_t *mdl, int32_t p);

/* The input partition of a user row, -1 when unknown. */
int32_t sr_share_user_partition(const sr_model_t *mdl, uint32_t row);

/* The offset of the last event applied to a user row, -1 when none. */
int64_t sr_share_user_offset(const sr_model_t *mdl, uint32_t row);

/* A delta, pointing into scratch valid during the call. */
typedef int(sr_share_delta_fn)(void *opaque, const sr_item_delta_t *d);

/* Calls fn with the delta of every item changed since its last delta and
 * moves its base; stops at the first non-zero return (the rest stay
 * changed). *events receives the events learned since the last call, for
 * the receivers' popularity decay. Returns 0 or fn's return. */
int sr_share_take_deltas(sr_model_t *mdl, sr_share_delta_fn *fn, void *opaque,
                         uint64_t *events);

/* Adds another instance's delta to the item (created when unknown) and to
 * its base. Returns SR_OK, SR_ERR_INVALID for a bad id, or SR_ERR_NOMEM. */
sr_err_t sr_share_apply_delta(sr_model_t *mdl, const sr_item_delta_t *d);

/* Decays popularity for events learned by other instances, so that a
 * half-life counts every instance's events. */
void sr_share_advance(sr_model_t *mdl, uint64_t events);

/* The counters so far. */
sr_share_stats_t sr_share_stats(const sr_model_t *mdl);

/* Users changed since the last flush and items changed since their last
 * delta (either pointer may be NULL). O(listed rows). */
void sr_share_dirty(const sr_model_t *mdl, uint32_t *users, uint32_t *items);

#endif
