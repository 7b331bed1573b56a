/* The top-N batcher: collects users whose lists are stale (dirty) and
 * refreshes them together, scoring each batch with one sr_model_recommend
 * call, encoding Recommendations and handing them to a publish callback.
 *
 * A flush is due when batch_max users are ready or batch_ms after the first
 * of them became ready. A user refreshes at most once per min_interval_ms:
 * an event inside that window defers the user to the end of the window (the
 * trailing refresh), so a user's last event always gets a refresh.
 *
 * Users are model rows. A row whose user the model evicted before its
 * refresh is dropped; a row reused by a new user serves that user.
 *
 * Time is passed in by the caller as monotonic milliseconds, so the batcher
 * owns no clock. Loop thread only, like the model it reads. */
#ifndef SR_REFRESH_H
#define SR_REFRESH_H

#include "streamrec/model.h"

#include <stdbool.h>

typedef struct sr_refresh_conf {
  uint32_t n;               /* items per list */
  uint32_t batch_ms;        /* longest wait of a ready user */
  uint32_t batch_max;       /* ready users that trigger a flush at once */
  uint32_t min_interval_ms; /* shortest time between two refreshes of a user */
  bool json;                /* encode lists as JSON instead of protobuf */
} sr_refresh_conf_t;

typedef struct sr_refresh sr_refresh_t;

/* Publishes one encoded list for user_row, keyed by its id. Returns 0 when
 * the list was queued, -1 to have the user retried on a later flush. */
typedef int(sr_refresh_publish_fn)(void *opaque, uint32_t user_row,
                                   const char *key, size_t key_len,
                                   const void *payload, size_t len);

/* Told about each list publish accepted: the user row and its items. */
typedef void(sr_refresh_listed_fn)(void *opaque, uint32_t user_row,
                                   const sr_scored_t *items, size_t n);

/* Called after each chunk of a flush was handed to publish, while the next
 * one is still to be scored: time to serve delivery reports. */
typedef void(sr_refresh_chunk_fn)(void *opaque);

/* Creates an empty batcher. Returns NULL when out of memory. */
sr_refresh_t *sr_refresh_new(const sr_refresh_conf_t *conf);

/* Frees the batcher. Accepts NULL. */
void sr_refresh_free(sr_refresh_t *rf);

/* Sets the observer of published lists (NULL for none). */
void sr_refresh_set_listed(sr_refresh_t *rf, sr_refresh_listed_fn *fn,
                           void *opaque);

/* Sets the chunk observer (NULL for none). */
void sr_refresh_set_chunk_done(sr_refresh_t *rf, sr_refresh_chunk_fn *fn,
                               void *opaque);

/* Marks user_row dirty after an event stamped event_ts_ms (reported as the
 * list's event_timestamp_ms). Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_refresh_mark(sr_refresh_t *rf, uint32_t user_row,
                         int64_t event_ts_ms, uint64_t now_ms);

/* Marks user_row dirty again without a new event, e.g. after its list
 * failed to be delivered. Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_refresh_retry(sr_refresh_t *rf, uint32_t user_row, uint64_t now_ms);

/* Milliseconds from now_ms until sr_refresh_flush has work to do: 0 when a
 * flush is due, -1 when no user is waiting. */
int64_t sr_refresh_next_delay(const sr_refresh_t *rf, uint64_t now_ms);

/* Users waiting for a refresh, ready or deferred. */
size_t sr_refresh_pending(const sr_refresh_t *rf);

/* Refreshes the users that are due (with force: every waiting user, the
 * min_interval_ms window ignored), publishing each list through publish.
 * wall_ms stamps generated_at_ms. *published (may be NULL) receives the
 * count of lists queued. Returns SR_OK or SR_ERR_NOMEM; users whose list
 * could not be built or queued stay waiting. */
sr_err_t sr_refresh_flush(sr_refresh_t *rf, sr_model_t *mdl, uint64_t now_ms,
                          int64_t wall_ms, bool force,
                          sr_refresh_publish_fn *publish, void *opaque,
                          size_t *published);

#endif
