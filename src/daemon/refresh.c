/* The top-N batcher; see refresh.h. */
#include "daemon/refresh.h"

#include "codec/recs_codec.h"
#include "util/buf.h"
#include "util/grow.h"

#include <stdlib.h>
#include <string.h>

/* Users scored per sr_model_recommend call: batch_max, capped so that the
 * result buffer of one chunk stays a few MB whatever n is. */
#define CHUNK_ENTRIES (256u * 1024u)

enum { F_READY = 1, F_DEFERRED = 2 };

/* A user waiting for the end of its min_interval_ms window. */
typedef struct deferred {
  uint64_t due_ms;
  uint32_t row;
} deferred_t;

struct sr_refresh {
  sr_refresh_conf_t conf;
  size_t chunk; /* users per sr_model_recommend call */
  sr_refresh_listed_fn *listed;
  void *listed_opaque;
  sr_refresh_chunk_fn *chunk_done;
  void *chunk_opaque;
  /* Per user row. last_ms holds the time of the last refresh plus one, so
   * that zero (calloc) means never. */
  uint64_t *last_ms;
  int64_t *event_ts;
  uint8_t *flags;
  size_t cap_users;
  /* Ready users, first in first out: ready[head .. len). */
  uint32_t *ready;
  size_t ready_head, ready_len, ready_cap;
  uint64_t first_ready_ms;
  /* Deferred users, a binary min-heap on due_ms. */
  deferred_t *heap;
  size_t heap_len, heap_cap;
  /* Scratch for one chunk. */
  uint32_t *rows;
  sr_scored_t *scored;
  size_t *counts;
  sr_source_t *sources;
  sr_rec_item_t *items;
  sr_buf_t payload;
};

sr_refresh_t *sr_refresh_new(const sr_refresh_conf_t *conf) {
  sr_refresh_t *rf = calloc(1, sizeof(*rf));
  if (!rf)
    return NULL;
  rf->conf = *conf;
  size_t n = conf->n ? conf->n : 1;
  rf->chunk = conf->batch_max ? conf->batch_max : 1;
  if (rf->chunk * n > CHUNK_ENTRIES)
    rf->chunk = CHUNK_ENTRIES / n ? CHUNK_ENTRIES / n : 1;
  rf->rows = malloc(rf->chunk * sizeof(*rf->rows));
  rf->scored = malloc(rf->chunk * n * sizeof(*rf->scored));
  rf->counts = malloc(rf->chunk * sizeof(*rf->counts));
  rf->sources = malloc(rf->chunk * sizeof(*rf->sources));
  rf->items = malloc(n * sizeof(*rf->items));
  if (!rf->rows || !rf->scored || !rf->counts || !rf->sources || !rf->items) {
    sr_refresh_free(rf);
    return NULL;
  }
  return rf;
}

void sr_refresh_free(sr_refresh_t *rf) {
  if (!rf)
    return;
  free(rf->last_ms);
  free(rf->event_ts);
  free(rf->flags);
  free(rf->ready);
  free(rf->heap);
  free(rf->rows);
  free(rf->scored);
  free(rf->counts);
  free(rf->sources);
  free(rf->items);
  sr_buf_free(&rf->payload);
  free(rf);
}

static int grow_users(sr_refresh_t *rf, uint32_t row) {
  if (row < rf->cap_users)
    return 0;
  size_t cap = rf->cap_users ? rf->cap_users : 1024;
  while (cap <= row)
    cap *= 2;
  uint64_t *last = realloc(rf->last_ms, cap * sizeof(*last));
  if (last)
    rf->last_ms = last;
  int64_t *ts = realloc(rf->event_ts, cap * sizeof(*ts));
  if (ts)
    rf->event_ts = ts;
  uint8_t *flags = realloc(rf->flags, cap);
  if (flags)
    rf->flags = flags;
  if (!last || !ts || !flags)
    return -1;
  size_t old = rf->cap_users;
  memset(rf->last_ms + old, 0, (cap - old) * sizeof(*last));
  memset(rf->event_ts + old, 0, (cap - old) * sizeof(*ts));
  memset(rf->flags + old, 0, cap - old);
  rf->cap_users = cap;
  return 0;
}

static int push_ready(sr_refresh_t *rf, uint32_t row, uint64_t since_ms) {
  if (rf->ready_head > 0 && rf->ready_len == rf->ready_cap) {
    /* Reclaim the consumed front before growing. */
    memmove(rf->ready, rf->ready + rf->ready_head,
            (rf->ready_len - rf->ready_head) * sizeof(*rf->ready));
    rf->ready_len -= rf->ready_head;
    rf->ready_head = 0;
  }
  if (SR_GROW(rf->ready, rf->ready_cap, rf->ready_len + 1, 1024) != 0)
    return -1;
  if (rf->ready_head == rf->ready_len)
    rf->first_ready_ms = since_ms;
  rf->ready[rf->ready_len++] = row;
  rf->flags[row] |= F_READY;
  return 0;
}

static size_t ready_count(const sr_refresh_t *rf) {
  return rf->ready_len - rf->ready_head;
}

static int heap_push(sr_refresh_t *rf, uint32_t row, uint64_t due_ms) {
  if (SR_GROW(rf->heap, rf->heap_cap, rf->heap_len + 1, 1024) != 0)
    return -1;
  size_t i = rf->heap_len++;
  while (i > 0 && rf->heap[(i - 1) / 2].due_ms > due_ms) {
    rf->heap[i] = rf->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  rf->heap[i] = (deferred_t){.due_ms = due_ms, .row = row};
  rf->flags[row] |= F_DEFERRED;
  return 0;
}

static deferred_t heap_pop(sr_refresh_t *rf) {
  deferred_t top = rf->heap[0], last = rf->heap[--rf->heap_len];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= rf->heap_len)
      break;
    if (c + 1 < rf->heap_len && rf->heap[c + 1].due_ms < rf->heap[c].due_ms)
      c++;
    if (rf->heap[c].due_ms >= last.due_ms)
      break;
    rf->heap[i] = rf->heap[c];
    i = c;
  }
  if (rf->heap_len)
    rf->heap[i] = last;
  rf->flags[top.row] &= (uint8_t)~F_DEFERRED;
  return top;
}

/* Queues row as ready now, or deferred to the end of its interval. */
static sr_err_t mark_row(sr_refresh_t *rf, uint32_t row, uint64_t now_ms) {
  if (rf->flags[row] & (F_READY | F_DEFERRED))
    return SR_OK;
  uint64_t last = rf->last_ms[row];
  uint64_t due = last ? last - 1 + rf->conf.min_interval_ms : 0;
  int rc = !last || now_ms >= due ? push_ready(rf, row, now_ms)
                                  : heap_push(rf, row, due);
  return rc == 0 ? SR_OK : SR_ERR_NOMEM;
}

sr_err_t sr_refresh_mark(sr_refresh_t *rf, uint32_t user_row,
                         int64_t event_ts_ms, uint64_t now_ms) {
  if (grow_users(rf, user_row) != 0)
    return SR_ERR_NOMEM;
  rf->event_ts[user_row] = event_ts_ms;
  return mark_row(rf, user_row, now_ms);
}

sr_err_t sr_refresh_retry(sr_refresh_t *rf, uint32_t user_row,
                          uint64_t now_ms) {
  if (grow_users(rf, user_row) != 0)
    return SR_ERR_NOMEM;
  return mark_row(rf, user_row, now_ms);
}

int64_t sr_refresh_next_delay(const sr_refresh_t *rf, uint64_t now_ms) {
  int64_t delay = -1;
  if (ready_count(rf) >= rf->conf.batch_max)
    return 0;
  if (ready_count(rf) > 0) {
    uint64_t due = rf->first_ready_ms + rf->conf.batch_ms;
    delay = due > now_ms ? (int64_t)(due - now_ms) : 0;
  }
  if (rf->heap_len > 0) {
    uint64_t due = rf->heap[0].due_ms;
    int64_t d = due > now_ms ? (int64_t)(due - now_ms) : 0;
    if (delay < 0 || d < delay)
      delay = d;
  }
  return delay;
}

size_t sr_refresh_pending(const sr_refresh_t *rf) {
  return ready_count(rf) + rf->heap_len;
}

/* Moves deferred users whose window has ended (all of them with force) to
 * the ready queue; a user's wait for the batch starts at its due time. */
static sr_err_t promote(sr_refresh_t *rf, uint64_t now_ms, bool force) {
  while (rf->heap_len > 0 && (force || rf->heap[0].due_ms <= now_ms)) {
    deferred_t d = heap_pop(rf);
    uint64_t since = d.due_ms < now_ms ? d.due_ms : now_ms;
    if (push_ready(rf, d.row, since) != 0) {
      heap_push(rf, d.row, d.due_ms); /* cannot fail: the slot was freed */
      return SR_ERR_NOMEM;
    }
  }
  return SR_OK;
}

/* Encodes and publishes the list of chunk entry k. Returns 0 or -1. */
static int publish_one(sr_refresh_t *rf, sr_model_t *mdl, size_t k,
                       int64_t wall_ms, sr_refresh_publish_fn *publish,
                       void *opaque) {
  uint32_t row = rf->rows[k];
  const sr_scored_t *list = rf->scored + k * rf->conf.n;
  for (size_t i = 0; i < rf->counts[k]; i++) {
    rf->items[i].item_id = sr_model_item_id(mdl, list[i].item, NULL);
    rf->items[i].score = list[i].score;
  }
  size_t key_len;
  const char *key = sr_model_user_id(mdl, row, &key_len);
  sr_recs_t recs = {.user_id = key,
                    .items = rf->items,
                    .n_items = rf->counts[k],
                    .generated_at_ms = wall_ms,
                    .event_timestamp_ms = rf->event_ts[row],
                    .model_version = sr_model_events_applied(mdl),
                    .source = rf->sources[k]};
  rf->payload.len = 0;
  int rc = rf->conf.json ? sr_recs_encode_json(&recs, &rf->payload)
                         : sr_recs_encode_proto(&recs, &rf->payload);
  if (rc != 0)
    return -1;
  if (publish(opaque, row, key, key_len, rf->payload.data, rf->payload.len))
    return -1;
  if (rf->listed)
    rf->listed(rf->listed_opaque, row, list, rf->counts[k]);
  return 0;
}

void sr_refresh_set_listed(sr_refresh_t *rf, sr_refresh_listed_fn *fn,
                           void *opaque) {
  rf->listed = fn;
  rf->listed_opaque = opaque;
}

void sr_refresh_set_chunk_done(sr_refresh_t *rf, sr_refresh_chunk_fn *fn,
                               void *opaque) {
  rf->chunk_done = fn;
  rf->chunk_opaque = opaque;
}

/* Takes up to one chunk of ready users into rf->rows, dropping rows whose
 * user the model evicted since (nobody is left to publish for). Returns
 * the count taken off the queue; *n_rows gets the rows kept. */
static size_t take_chunk(sr_refresh_t *rf, const sr_model_t *mdl,
                         size_t *n_rows) {
  size_t n = ready_count(rf), kept = 0;
  if (n > rf->chunk)
    n = rf->chunk;
  for (size_t k = 0; k < n; k++) {
    uint32_t row = rf->ready[rf->ready_head + k];
    rf->flags[row] &= (uint8_t)~F_READY;
    if (sr_model_user_is_live(mdl, row))
      rf->rows[kept++] = row;
  }
  rf->ready_head += n;
  if (rf->ready_head == rf->ready_len)
    rf->ready_head = rf->ready_len = 0;
  *n_rows = kept;
  return n;
}

/* Scores and publishes one chunk; users that fail go back to *retry. */
static sr_err_t flush_chunk(sr_refresh_t *rf, sr_model_t *mdl, size_t n_rows,
                            uint64_t now_ms, int64_t wall_ms,
                            sr_refresh_publish_fn *publish, void *opaque,
                            size_t *published, uint32_t *retry,
                            size_t *n_retry) {
  if (sr_model_recommend(mdl, rf->rows, n_rows, rf->conf.n, rf->scored,
                         rf->counts, rf->sources) != SR_OK) {
    memcpy(retry + *n_retry, rf->rows, n_rows * sizeof(*retry));
    *n_retry += n_rows;
    return SR_ERR_NOMEM;
  }
  for (size_t k = 0; k < n_rows; k++) {
    if (publish_one(rf, mdl, k, wall_ms, publish, opaque) != 0) {
      retry[(*n_retry)++] = rf->rows[k];
      continue;
    }
    rf->last_ms[rf->rows[k]] = now_ms + 1;
    (*published)++;
  }
  if (rf->chunk_done)
    rf->chunk_done(rf->chunk_opaque);
  return SR_OK;
}

sr_err_t sr_refresh_flush(sr_refresh_t *rf, sr_model_t *mdl, uint64_t now_ms,
                          int64_t wall_ms, bool force,
                          sr_refresh_publish_fn *publish, void *opaque,
                          size_t *published) {
  size_t count = 0, n_retry = 0;
  sr_err_t err = promote(rf, now_ms, force);
  bool due = force || sr_refresh_next_delay(rf, now_ms) == 0;
  size_t total = due ? ready_count(rf) : 0;
  uint32_t *retry = total ? malloc(total * sizeof(*retry)) : NULL;
  if (total && !retry)
    err = SR_ERR_NOMEM;
  else if (total) {
    /* Everything ready goes, in chunks; users marked while publishing
     * (none on this thread) would wait for the next flush. */
    while (total > 0 && err == SR_OK) {
      size_t n_rows;
      total -= take_chunk(rf, mdl, &n_rows);
      if (n_rows)
        err = flush_chunk(rf, mdl, n_rows, now_ms, wall_ms, publish, opaque,
                          &count, retry, &n_retry);
    }
    for (size_t k = 0; k < n_retry; k++)
      push_ready(rf, retry[k], now_ms); /* room: these slots were just freed */
  }
  free(retry);
  if (published)
    *published = count;
  return err;
}
