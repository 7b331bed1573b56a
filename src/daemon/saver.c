/* Checkpoint jobs in a forked child or the thread pool; see saver.h. */
#include "daemon/saver.h"

#include "store/model_store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/now.h"
#include "util/offset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* What a forked writer sends back through its pipe, and what a thread-pool
 * job fills in. */
typedef struct outcome {
  int32_t err; /* sr_err_t */
  uint64_t write_ns;
  char path[PATH_MAX];
  char errstr[512];
} outcome_t;

/* One checkpoint in flight. In the thread pool, the worker only reads snap
 * and offs and writes out; the loop thread touches nothing of it until
 * after_work. A forked writer has its own copy of everything; the loop reads
 * its outcome from fd. */
typedef struct job {
  uv_work_t req;
  sr_saver_t *sv;
  sr_model_snapshot_t snap; /* thread-pool jobs only */
  sr_buf_t section;         /* the daemon's own, when the saver has one */
  uint64_t events_applied;
  sr_offset_t *offs;
  size_t n_offs;
  char cluster[SR_STORE_CLUSTER_MAX + 1];
  uint64_t seq;
  int64_t created_ms; /* the loop's wall time when the job started */
  double snapshot_ms;
  pid_t pid; /* forked writer, or 0 */
  int fd;    /* read end of its pipe */
  uv_poll_t poll;
  size_t got; /* bytes of out read so far */
  outcome_t out;
} job_t;

struct sr_saver {
  uv_loop_t *loop;
  char dir[PATH_MAX];
  unsigned keep;
  uint64_t next_seq;
  bool fork; /* forked writers, else copies */
  sr_saver_done_fn *done;
  void *opaque;
  uint32_t sec_id; /* the daemon's own section, when sec_fn is set */
  sr_saver_section_fn *sec_fn;
  void *sec_opaque;
  job_t *job;
  pid_t unreaped; /* a writer that had not exited when its result came */
  /* What the last successful job held, to skip writing an identical one. */
  bool have_last;
  uint64_t last_events;
  sr_offset_t *last_offs;
  size_t last_n;
  char last_path[PATH_MAX];
};

sr_saver_t *sr_saver_new(uv_loop_t *loop, const char *dir, unsigned keep,
                         uint64_t next_seq, bool fork, sr_saver_done_fn *done,
                         void *opaque) {
  sr_saver_t *sv = calloc(1, sizeof(*sv));
  if (!sv)
    return NULL;
  sv->loop = loop;
  snprintf(sv->dir, sizeof(sv->dir), "%s", dir);
  sv->keep = keep;
  sv->next_seq = next_seq;
  sv->fork = fork;
  sv->done = done;
  sv->opaque = opaque;
  return sv;
}

/* Collects a writer that delivered its result, waiting when block is set
 * (it only has its memory to release by then). */
static void reap(sr_saver_t *sv, bool block) {
  if (sv->unreaped && waitpid(sv->unreaped, NULL, block ? 0 : WNOHANG) != 0)
    sv->unreaped = 0;
}

void sr_saver_free(sr_saver_t *sv) {
  if (!sv)
    return;
  reap(sv, true);
  free(sv->last_offs);
  free(sv);
}

void sr_saver_set_section(sr_saver_t *sv, uint32_t id, sr_saver_section_fn *fn,
                          void *opaque) {
  sv->sec_id = id;
  sv->sec_fn = fn;
  sv->sec_opaque = opaque;
}

bool sr_saver_busy(const sr_saver_t *sv) {
  return sv->job != NULL;
}

const char *sr_saver_last_path(const sr_saver_t *sv) {
  return sv->last_path;
}

bool sr_saver_unchanged(const sr_saver_t *sv, const sr_model_t *mdl,
                        const sr_offset_t *offs, size_t n) {
  return sv->have_last && sv->last_events == sr_model_events_applied(mdl) &&
         sv->last_n == n &&
         (n == 0 || !memcmp(sv->last_offs, offs, n * sizeof(*offs)));
}

static void job_free(job_t *job) {
  sr_model_snapshot_release(&job->snap);
  sr_buf_free(&job->section);
  free(job->offs);
  free(job);
}

/* Takes the daemon's own section into the job, beside the snapshot.
 * Returns 0, or -1 when out of memory. */
static int take_section(job_t *job) {
  sr_saver_t *sv = job->sv;
  return sv->sec_fn ? sv->sec_fn(sv->sec_opaque, &job->section) : 0;
}

/* Writes snap with the job's offsets and section into out (either side of
 * a fork). */
static void write_checkpoint(job_t *job, const sr_model_snapshot_t *snap) {
  uint64_t t0 = sr_mono_ns();
  sr_ckpt_section_t sec = {job->sv->sec_id, job->section.data,
                           job->section.len};
  job->out.err = (int32_t)sr_store_write_with(
      job->sv->dir, snap, job->offs, job->n_offs, job->cluster,
      job->sv->sec_fn ? &sec : NULL, job->sv->sec_fn ? 1 : 0, job->seq,
      job->created_ms, job->sv->keep, job->out.path, sizeof(job->out.path),
      job->out.errstr, sizeof(job->out.errstr));
  job->out.write_ns = sr_mono_ns() - t0;
}

static void work(uv_work_t *req) {
  job_t *job = req->data;
  write_checkpoint(job, &job->snap);
}

/* Remembers what was written; on failure the next job retries anyway.
 * The count comes from the job, not from its snapshot: a forked writer's
 * snapshot lives in the child only. */
static void remember(sr_saver_t *sv, job_t *job) {
  free(sv->last_offs);
  sv->last_offs = job->offs;
  sv->last_n = job->n_offs;
  sv->last_events = job->events_applied;
  snprintf(sv->last_path, sizeof(sv->last_path), "%s", job->out.path);
  sv->have_last = true;
  job->offs = NULL;
}

/* Reports a finished job to the owner and frees it. */
static void finish(job_t *job) {
  sr_saver_t *sv = job->sv;
  sr_err_t err = (sr_err_t)job->out.err;
  sr_saver_result_t res = {.err = err,
                           .path = err == SR_OK ? job->out.path : "",
                           .error = err == SR_OK ? "" : job->out.errstr,
                           .seq = job->seq,
                           .events_applied = job->events_applied,
                           .offsets = job->offs,
                           .n_offsets = job->n_offs,
                           .snapshot_ms = job->snapshot_ms,
                           .write_ms = (double)job->out.write_ns / 1e6};
  sv->job = NULL;
  sv->done(sv->opaque, &res);
  if (err == SR_OK)
    remember(sv, job);
  job_free(job);
}

static void after_work(uv_work_t *req, int status) {
  job_t *job = req->data;
  if (status != 0 && job->out.err == SR_OK)
    job->out.err =
        (int32_t)sr_errf(job->out.errstr, sizeof(job->out.errstr), SR_ERR_IO,
                         "checkpoint job: %s", uv_strerror(status));
  finish(job);
}

/* The daemon's handlers would forward a signal through libuv's pipe to
 * the parent's loop, which would act on it as if it were its own. Any
 * signal sent to the whole group (Ctrl-C, a closed terminal, systemd) is the
 * daemon's to act on, and it waits for this writer: so the writer ignores
 * every signal that has a handler, and dies with the daemon. The fault
 * signals keep theirs (the sanitizers' reports). */
static void ignore_caught_signals(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
        sig == SIGTRAP || sig == SIGABRT || sig == SIGSYS)
      continue;
    if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler == SIG_DFL ||
        sa.sa_handler == SIG_IGN)
      continue;
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(sig, &sa, NULL);
  }
}

/* The forked writer: the model as it was at the fork, written from the
 * child's copy-on-write view of it. It ends with _exit, so nothing of the
 * parent (atexit handlers, stdio buffers, librdkafka) runs here. */
static void child_main(job_t *job, const sr_model_t *mdl, pid_t parent,
                       const sigset_t *mask) {
  ignore_caught_signals();
  pthread_sigmask(SIG_SETMASK, mask, NULL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1);
  sr_model_snapshot_t snap;
  if (sr_model_snapshot_view(mdl, &snap) != SR_OK || take_section(job) != 0)
    job->out.err = (int32_t)sr_errf(job->out.errstr, sizeof(job->out.errstr),
                                    SR_ERR_NOMEM, "checkpoint: out of memory");
  else
    write_checkpoint(job, &snap);
  const char *p = (const char *)&job->out;
  for (size_t left = sizeof(job->out); left > 0;) {
    ssize_t n = write(job->fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    p += n;
    left -= (size_t)n;
  }
  _exit(0);
}

static void on_writer_closed(uv_handle_t *h) {
  job_t *job = h->data;
  close(job->fd);
  job->sv->unreaped = job->pid;
  reap(job->sv, false);
  finish(job);
}

/* Reads the writer's outcome; at its end, or at an early EOF (the writer
 * died), the job finishes. */
static void on_writer_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  job_t *job = h->data;
  ssize_t n = 0;
  if (status == 0) {
    n = read(job->fd, (char *)&job->out + job->got,
             sizeof(job->out) - job->got);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n > 0)
      job->got += (size_t)n;
    if (n > 0 && job->got < sizeof(job->out))
      return;
  }
  if (job->got < sizeof(job->out))
    job->out.err = (int32_t)sr_errf(
        job->out.errstr, sizeof(job->out.errstr), SR_ERR_IO,
        "checkpoint writer (pid %d) ended without a result", (int)job->pid);
  uv_poll_stop(h);
  uv_close((uv_handle_t *)h, on_writer_closed);
}

/* Forks the writer. Returns 0, or -1 (nothing started) so that the caller
 * falls back to the thread pool. fork() copies page tables only: the
 * loop's stall, whatever the model's size. */
static int start_forked(sr_saver_t *sv, job_t *job, const sr_model_t *mdl) {
  int fds[2], saved;
  if (pipe(fds) != 0)
    return -1;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  job->fd = fds[1];
  /* Signals wait until the child ignores them (see ignore_caught_signals);
   * the parent gets its own after the fork. */
  sigset_t all, mask;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &mask);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0)
    child_main(job, mdl, parent, &mask);
  saved = errno;
  pthread_sigmask(SIG_SETMASK, &mask, NULL);
  errno = saved;
  close(fds[1]);
  job->fd = fds[0];
  if (pid < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 ||
      uv_poll_init(sv->loop, &job->poll, fds[0]) != 0) {
    saved = errno;
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    errno = saved;
    return -1;
  }
  job->pid = pid;
  job->poll.data = job;
  uv_poll_start(&job->poll, UV_READABLE | UV_DISCONNECT, on_writer_readable);
  return 0;
}

/* Copies the model on the loop thread and queues the write in the thread
 * pool. */
static sr_err_t start_copied(sr_saver_t *sv, job_t *job,
                             const sr_model_t *mdl) {
  if (sr_model_snapshot(mdl, &job->snap) != SR_OK || take_section(job) != 0)
    return SR_ERR_NOMEM;
  if (uv_queue_work(sv->loop, &job->req, work, after_work) != 0)
    return SR_ERR_IO;
  return SR_OK;
}

sr_err_t sr_saver_start(sr_saver_t *sv, const sr_model_t *mdl,
                        sr_offset_t *offs, size_t n, const char *cluster_id,
                        int64_t created_ms) {
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
  snprintf(job->cluster, sizeof(job->cluster), "%s", cluster_id);
  job->req.data = job;
  job->seq = sv->next_seq;
  job->created_ms = created_ms;
  job->events_applied = sr_model_events_applied(mdl);
  reap(sv, true); /* the previous writer exited long ago */
  uint64_t t0 = sr_mono_ns();
  sr_err_t err = SR_OK;
  if (!sv->fork)
    err = start_copied(sv, job, mdl);
  else if (start_forked(sv, job, mdl) != 0) {
    sr_log(SR_LOG_WARN, "fork failed; copying the model for this checkpoint",
           "error=%s", sr_logq(strerror(errno)));
    err = start_copied(sv, job, mdl);
  }
  if (err != SR_OK) {
    job_free(job);
    return err;
  }
  job->snapshot_ms = (double)(sr_mono_ns() - t0) / 1e6;
  sv->next_seq++;
  sv->job = job;
  return SR_OK;
}
