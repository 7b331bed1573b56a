/* Checkpoint jobs in the thread pool; see saver.h. */
#include "daemon/saver.h"

#include "store/model_store.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* One checkpoint in flight. The worker only reads snap and offs and writes
 * path, errstr, err and write_ns; the loop thread touches nothing of it
 * until after_work. */
typedef struct job {
  uv_work_t req;
  sr_saver_t *sv;
  sr_model_snapshot_t snap;
  sr_ckpt_offset_t *offs;
  size_t n_offs;
  uint64_t seq;
  double snapshot_ms;
  uint64_t write_ns;
  sr_err_t err;
  char path[PATH_MAX];
  char errstr[512];
} job_t;

struct sr_saver {
  uv_loop_t *loop;
  char dir[PATH_MAX];
  unsigned keep;
  uint64_t next_seq;
  sr_saver_done_fn *done;
  void *opaque;
  job_t *job;
  /* What the last successful job held, to skip writing an identical one. */
  bool have_last;
  uint64_t last_events;
  sr_ckpt_offset_t *last_offs;
  size_t last_n;
};

sr_saver_t *sr_saver_new(uv_loop_t *loop, const char *dir, unsigned keep,
                         uint64_t next_seq, sr_saver_done_fn *done,
                         void *opaque) {
  sr_saver_t *sv = calloc(1, sizeof(*sv));
  if (!sv)
    return NULL;
  sv->loop = loop;
  snprintf(sv->dir, sizeof(sv->dir), "%s", dir);
  sv->keep = keep;
  sv->next_seq = next_seq;
  sv->done = done;
  sv->opaque = opaque;
  return sv;
}

void sr_saver_free(sr_saver_t *sv) {
  if (!sv)
    return;
  free(sv->last_offs);
  free(sv);
}

bool sr_saver_busy(const sr_saver_t *sv) {
  return sv->job != NULL;
}

bool sr_saver_unchanged(const sr_saver_t *sv, const sr_model_t *mdl,
                        const sr_ckpt_offset_t *offs, size_t n) {
  return sv->have_last && sv->last_events == sr_model_events_applied(mdl) &&
         sv->last_n == n &&
         (n == 0 || !memcmp(sv->last_offs, offs, n * sizeof(*offs)));
}

static void job_free(job_t *job) {
  sr_model_snapshot_release(&job->snap);
  free(job->offs);
  free(job);
}

static void work(uv_work_t *req) {
  job_t *job = req->data;
  uint64_t t0 = sr_mono_ns();
  job->err = sr_store_write(
      job->sv->dir, &job->snap, job->offs, job->n_offs, job->seq, job->sv->keep,
      job->path, sizeof(job->path), job->errstr, sizeof(job->errstr));
  job->write_ns = sr_mono_ns() - t0;
}

/* Remembers what was written; on failure the next job retries anyway. */
static void remember(sr_saver_t *sv, job_t *job) {
  free(sv->last_offs);
  sv->last_offs = job->offs;
  sv->last_n = job->n_offs;
  sv->last_events = job->snap.events_applied;
  sv->have_last = true;
  job->offs = NULL;
}

static void after_work(uv_work_t *req, int status) {
  job_t *job = req->data;
  sr_saver_t *sv = job->sv;
  if (status != 0 && job->err == SR_OK)
    job->err = sr_errf(job->errstr, sizeof(job->errstr), SR_ERR_IO,
                       "checkpoint job: %s", uv_strerror(status));
  sr_saver_result_t res = {.err = job->err,
                           .path = job->err == SR_OK ? job->path : "",
                           .error = job->err == SR_OK ? "" : job->errstr,
                           .seq = job->seq,
                           .events_applied = job->snap.events_applied,
                           .offsets = job->offs,
                           .n_offsets = job->n_offs,
                           .snapshot_ms = job->snapshot_ms,
                           .write_ms = (double)job->write_ns / 1e6};
  sv->job = NULL;
  sv->done(sv->opaque, &res);
  if (job->err == SR_OK)
    remember(sv, job);
  job_free(job);
}

sr_err_t sr_saver_start(sr_saver_t *sv, const sr_model_t *mdl,
                        sr_ckpt_offset_t *offs, size_t n) {
  if (sv->job) {
    free(offs);
    return SR_ERR_INVALID;
  }
  job_t *job = calloc(1, sizeof(*job));
  if (!job) {
    free(offs);
    return SR_ERR_NOMEM;
  }
  job->sv = sv;
  job->offs = offs;
  job->n_offs = n;
  job->req.data = job;
  uint64_t t0 = sr_mono_ns();
  if (sr_model_snapshot(mdl, &job->snap) != SR_OK) {
    job_free(job);
    return SR_ERR_NOMEM;
  }
  job->snapshot_ms = (double)(sr_mono_ns() - t0) / 1e6;
  job->seq = sv->next_seq;
  if (uv_queue_work(sv->loop, &job->req, work, after_work) != 0) {
    job_free(job);
    return SR_ERR_IO;
  }
  sv->next_seq++;
  sv->job = job;
  return SR_OK;
}
