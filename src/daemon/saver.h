/* Checkpoint jobs: the loop forks a writer process, whose copy-on-write
 * view of the model is the snapshot, and which writes it with a copy of the
 * offsets by sr_store_write (temp file, fsync, rename, fsync dir,
 * retention); its outcome comes back through a pipe. When fork fails, the
 * model is copied on the loop thread and written in the libuv thread pool.
 * A section of the daemon's own state (sr_saver_set_section) is taken
 * where the snapshot is: in the writer, or on the loop thread with the
 * copy. One job at a time; its completion is reported on the loop thread.
 * Loop thread only. */
#ifndef SR_SAVER_H
#define SR_SAVER_H

#include "store/checkpoint.h"
#include "streamrec/model.h"
#include "util/buf.h"
#include "util/offset.h"

#include <stdbool.h>
#include <uv.h>

typedef struct sr_saver sr_saver_t;

/* What a finished job wrote. offsets are valid during the callback only. */
typedef struct sr_saver_result {
  sr_err_t err;
  const char *path;  /* the file written, or "" */
  const char *error; /* why it failed, or "" */
  uint64_t seq;
  uint64_t events_applied;
  const sr_offset_t *offsets;
  size_t n_offsets;
  double snapshot_ms; /* the loop's stall: the fork, or the copy */
  double write_ms;    /* time the writer spent writing */
} sr_saver_result_t;

typedef void(sr_saver_done_fn)(void *opaque, const sr_saver_result_t *res);

/* Appends the bytes of a section of the daemon's own to out. Runs in the
 * forked writer (on its copy of everything) or on the loop thread (a copied
 * checkpoint). Returns 0, or -1 when out of memory (the checkpoint fails). */
typedef int(sr_saver_section_fn)(void *opaque, sr_buf_t *out);

/* Creates a saver writing checkpoint files into dir, keeping keep of them,
 * numbering them from next_seq, from forked writers when fork is set (else
 * always by copying). Returns NULL when out of memory. */
sr_saver_t *sr_saver_new(uv_loop_t *loop, const char *dir, unsigned keep,
                         uint64_t next_seq, bool fork, sr_saver_done_fn *done,
                         void *opaque);

/* Frees the saver; no job may be in flight. Accepts NULL. */
void sr_saver_free(sr_saver_t *sv);

/* Writes section id (SR_STORE_SEC_LISTS) from fn into every later
 * checkpoint; fn NULL writes none. */
void sr_saver_set_section(sr_saver_t *sv, uint32_t id, sr_saver_section_fn *fn,
                          void *opaque);

/* True while a job is in flight. */
bool sr_saver_busy(const sr_saver_t *sv);

/* True when mdl and offs are what the last successful job wrote, so a new
 * checkpoint would hold nothing new. */
bool sr_saver_unchanged(const sr_saver_t *sv, const sr_model_t *mdl,
                        const sr_offset_t *offs, size_t n);

/* The file the last successful job wrote, or "" before any. */
const char *sr_saver_last_path(const sr_saver_t *sv);

/* Snapshots mdl and starts writing it with offs (taken over: freed by the
 * saver, also on failure), the offsets of Kafka cluster cluster_id ("" when
 * unknown), recording created_ms (the caller's wall time) as the time the
 * checkpoint was made. Returns SR_OK (done is called later),
 * SR_ERR_INVALID when a job is in flight or SR_ERR_NOMEM / a uv error as
 * SR_ERR_IO (done is not called). */
sr_err_t sr_saver_start(sr_saver_t *sv, const sr_model_t *mdl,
                        sr_offset_t *offs, size_t n, const char *cluster_id,
                        int64_t created_ms);

#endif
