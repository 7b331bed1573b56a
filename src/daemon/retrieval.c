/* The index's lifecycle; see retrieval.h. */
#define SR_LOG_COMPONENT "retrieval"
#include "daemon/retrieval.h"

#include "core/ann.h"
#include "util/log.h"
#include "util/now.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Item rows copied per step: 256 KB at k=64. With the first touch of the
 * copy's pages a slice of 8192 rows took 3 ms on a busy machine, one of
 * 2048 0.6-0.9 ms; this keeps a loop iteration well under 1 ms. */
#define SLICE_ROWS 1024
/* Users whose lists the recall is measured on, and the cut-off. */
#define RECALL_USERS 64
#define RECALL_N 20
/* How often an idle lifecycle looks whether a build is due. */
#define IDLE_MS 1000

typedef enum phase { IDLE, COPYING, BUILDING } phase_t;

/* One build: the copy of the rows, then the index, made in the pool. */
typedef struct build_job {
  uv_work_t req;
  sr_retrieval_t *rt;
  sr_factors_t snap; /* the rows' factors, as the model's stride */
  float *bias;
  uint8_t *skip;
  uint32_t copied;
  float *users; /* the recall's sample; NULL when not measured */
  uint32_t n_users;
  sr_ann_t *retired; /* the index this one replaces, freed in the pool */
  sr_ann_t *built;
  double recall, build_s;
} build_job_t;

struct sr_retrieval {
  uv_loop_t *loop;
  sr_model_t *mdl;
  sr_retrieval_mode_t mode;
  uint32_t min_items, probe, recall_every;
  double recall_floor;
  uint64_t refresh_ms;
  double drift;
  phase_t phase;
  build_job_t job;
  sr_ann_t *lent;    /* the index the model borrows */
  sr_ann_t *retired; /* the one before, until a build frees it */
  uint64_t copy_start_ms, lent_start_ms, events_at_copy, events_at_lent;
  sr_retrieval_stats_t st;
};

static uint64_t now_ms(void) {
  return sr_mono_ns() / 1000000;
}

sr_retrieval_t *sr_retrieval_new(uv_loop_t *loop, sr_model_t *mdl,
                                 const sr_config_t *cfg) {
  sr_retrieval_t *rt = calloc(1, sizeof(*rt));
  if (!rt)
    return NULL;
  rt->loop = loop;
  rt->mdl = mdl;
  rt->mode = cfg->recommend.retrieval;
  rt->min_items = cfg->recommend.ann_min_items;
  rt->probe = cfg->recommend.ann_probe;
  rt->recall_every = cfg->recommend.ann_recall_every;
  rt->recall_floor = cfg->recommend.ann_recall_floor;
  rt->refresh_ms = (uint64_t)(cfg->recommend.ann_refresh_s * 1000.0 + 0.5);
  rt->drift = cfg->recommend.ann_refresh_drift;
  rt->st.recall = -1.0;
  rt->job.rt = rt;
  return rt;
}

/* The index is wanted: always with ann, from min_items items with auto. */
static bool wanted(const sr_retrieval_t *rt) {
  return rt->mode == SR_RETRIEVAL_ANN ||
         (rt->mode == SR_RETRIEVAL_AUTO &&
          sr_model_items(rt->mdl) >= rt->min_items);
}

/* A build is due: none lent yet, the period passed, or the model moved by
 * the drift threshold since the copy began. */
static bool due(const sr_retrieval_t *rt) {
  if (!rt->lent)
    return true;
  uint64_t moved = sr_model_events_applied(rt->mdl) - rt->events_at_lent;
  if (moved == 0)
    return false;
  if (now_ms() - rt->lent_start_ms >= rt->refresh_ms)
    return true;
  return rt->drift > 0 &&
         (double)moved >= rt->drift * (double)sr_ann_items(rt->lent);
}

static void free_copy(build_job_t *job) {
  sr_factors_free(&job->snap);
  free(job->bias);
  free(job->skip);
  free(job->users);
  job->bias = NULL;
  job->skip = NULL;
  job->users = NULL;
}

/* Allocates the copy of every item row in use now; rows added while it is
 * made are the index's side rows until the next build. */
static int begin_copy(sr_retrieval_t *rt) {
  build_job_t *job = &rt->job;
  uint32_t rows = (uint32_t)sr_model_items(rt->mdl);
  sr_factors_init(&job->snap, sr_model_dims(rt->mdl));
  job->bias = malloc((size_t)rows * sizeof(float) + 1);
  job->skip = malloc((size_t)rows + 1);
  job->copied = 0;
  job->n_users = 0;
  bool measure =
      rt->recall_every && rt->st.builds % rt->recall_every == 0 && rows > 0;
  if (measure)
    job->users = malloc((size_t)RECALL_USERS * sr_model_item_stride(rt->mdl) *
                        sizeof(float));
  if (sr_factors_resize(&job->snap, rows) != 0 || !job->bias || !job->skip ||
      (measure && !job->users)) {
    free_copy(job);
    sr_log(SR_LOG_WARN, "retrieval index not built", "reason=%s rows=%" PRIu32,
           sr_logq("out of memory"), rows);
    return -1;
  }
  if (measure)
    job->n_users = sr_model_sample_users(rt->mdl, RECALL_USERS,
                                         rt->st.builds + 1, job->users);
  rt->copy_start_ms = now_ms();
  rt->events_at_copy = sr_model_events_applied(rt->mdl);
  rt->phase = COPYING;
  return 0;
}

static void build_work(uv_work_t *req) {
  build_job_t *job = req->data;
  sr_retrieval_t *rt = job->rt;
  uint64_t start = sr_mono_ns();
  sr_ann_free(job->retired);
  job->retired = NULL;
  sr_ann_conf_t conf;
  sr_ann_conf_init(&conf);
  job->built = sr_ann_build(&job->snap, job->bias, job->skip, &conf);
  job->build_s = (double)(sr_mono_ns() - start) / 1e9;
  job->recall = -1.0;
  if (job->built && job->n_users)
    job->recall =
        sr_ann_recall(job->built, &job->snap, job->bias, job->skip, job->users,
                      job->snap.stride, job->n_users, rt->probe, RECALL_N);
}

/* Back on the loop thread: lends the new index to the model. */
static void build_done(uv_work_t *req, int status) {
  build_job_t *job = req->data;
  sr_retrieval_t *rt = job->rt;
  (void)status;
  free_copy(job);
  rt->phase = IDLE;
  if (!job->built ||
      sr_model_set_ann(rt->mdl, job->built, rt->probe) != SR_OK) {
    sr_log(SR_LOG_WARN, "retrieval index not built", "reason=%s",
           sr_logq("out of memory"));
    sr_ann_free(job->built);
    job->built = NULL;
    return;
  }
  rt->retired = rt->lent;
  rt->lent = job->built;
  job->built = NULL;
  rt->lent_start_ms = rt->copy_start_ms;
  rt->events_at_lent = rt->events_at_copy;
  rt->st.builds++;
  rt->st.build_s = job->build_s;
  if (job->recall >= 0) {
    rt->st.recall = job->recall;
    rt->st.recall_runs++;
  }
  /* The index drifts from exact as the factors' shape changes (new
   * clusters, a catalogue grown past what the probe count suits). */
  if (job->recall >= 0 && job->recall < rt->recall_floor)
    sr_log(SR_LOG_WARN,
           "retrieval index recall below recommend.ann_recall_floor; raise "
           "recommend.ann_probe",
           "recall=%.3f floor=%.3f probe=%" PRIu32 " items=%" PRIu32,
           job->recall, rt->recall_floor, rt->probe, sr_ann_items(rt->lent));
  sr_log(rt->st.builds == 1 ? SR_LOG_INFO : SR_LOG_DEBUG,
         "retrieval index built",
         "items=%" PRIu32 " lists=%" PRIu32 " build_s=%.3f recall=%.3f",
         sr_ann_items(rt->lent), sr_ann_lists(rt->lent), job->build_s,
         job->recall);
}

/* Copies one slice; the last one hands the copy to the thread pool. */
static void copy_slice(sr_retrieval_t *rt) {
  build_job_t *job = &rt->job;
  uint32_t rows = job->snap.rows;
  uint32_t hi =
      rows - job->copied < SLICE_ROWS ? rows : job->copied + SLICE_ROWS;
  if (hi > job->copied)
    sr_model_items_copy(rt->mdl, job->copied, hi,
                        sr_factors_row(&job->snap, job->copied),
                        job->bias + job->copied, job->skip + job->copied);
  job->copied = hi;
  if (hi < rows)
    return;
  job->retired = rt->retired;
  rt->retired = NULL;
  job->req.data = job;
  rt->phase = BUILDING;
  if (uv_queue_work(rt->loop, &job->req, build_work, build_done) != 0) {
    rt->retired = job->retired;
    job->retired = NULL;
    free_copy(job);
    rt->phase = IDLE;
  }
}

uint64_t sr_retrieval_step(sr_retrieval_t *rt) {
  switch (rt->phase) {
  case BUILDING: return IDLE_MS / 10;
  case COPYING: copy_slice(rt); return rt->phase == COPYING ? 1 : IDLE_MS / 10;
  case IDLE: break;
  }
  if (!wanted(rt))
    return IDLE_MS;
  if (!due(rt) || begin_copy(rt) != 0)
    return IDLE_MS;
  copy_slice(rt);
  return rt->phase == COPYING ? 1 : IDLE_MS / 10;
}

bool sr_retrieval_ready(const sr_retrieval_t *rt) {
  return rt->lent || !wanted(rt);
}

sr_retrieval_stats_t sr_retrieval_stats(const sr_retrieval_t *rt) {
  sr_retrieval_stats_t st = rt->st;
  st.ann = rt->lent != NULL;
  st.age_s = rt->lent ? (double)(now_ms() - rt->lent_start_ms) / 1000.0 : 0;
  st.bytes = rt->lent ? sr_ann_bytes(rt->lent) : 0;
  return st;
}

void sr_retrieval_free(sr_retrieval_t *rt) {
  if (!rt)
    return;
  if (rt->lent)
    sr_model_set_ann(rt->mdl, NULL, 0);
  sr_ann_free(rt->lent);
  sr_ann_free(rt->retired);
  sr_ann_free(rt->job.built);
  sr_ann_free(rt->job.retired);
  free_copy(&rt->job);
  free(rt);
}
