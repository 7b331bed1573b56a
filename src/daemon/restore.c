/* Loading the newest verifying checkpoint; see restore.h. */
#define SR_LOG_COMPONENT "restore"
#include "daemon/restore.h"

#include "store/model_store.h"
#include "util/dir.h"
#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Files sr_ckpt_load_newest skipped, reported once the outcome is known. */
typedef struct load_ctx {
  char (*paths)[PATH_MAX];
  char (*whys)[512];
  size_t n;
  uint64_t max_seq; /* highest seq named by a skipped file */
} load_ctx_t;

static uint64_t seq_of(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  unsigned long long seq = 0;
  if (sscanf(base, "checkpoint-%llu", &seq) != 1)
    return 0;
  return seq;
}

static void on_skip(void *opaque, const char *path, sr_err_t err,
                    const char *why) {
  (void)err;
  load_ctx_t *lc = opaque;
  void *paths = realloc(lc->paths, (lc->n + 1) * sizeof(*lc->paths));
  if (paths)
    lc->paths = paths;
  void *whys = realloc(lc->whys, (lc->n + 1) * sizeof(*lc->whys));
  if (whys)
    lc->whys = whys;
  if (paths && whys) {
    snprintf(lc->paths[lc->n], PATH_MAX, "%s", path);
    snprintf(lc->whys[lc->n], 512, "%s", why);
    lc->n++;
  }
  /* New checkpoints are numbered past unreadable ones, so that retention,
   * which keeps the highest numbers, never deletes the new good one. */
  if (seq_of(path) > lc->max_seq)
    lc->max_seq = seq_of(path);
}

/* used is the checkpoint restored instead, or NULL when none verified:
 * then the caller's error says what happens next. */
static void report_skipped(const load_ctx_t *lc, const char *used) {
  for (size_t i = 0; i < lc->n; i++) {
    char msg[PATH_MAX * 2 + 600];
    if (used)
      snprintf(msg, sizeof(msg),
               "checkpoint %s unreadable (%s); using older %s", lc->paths[i],
               lc->whys[i], used);
    else
      snprintf(msg, sizeof(msg), "checkpoint %s unreadable (%s)", lc->paths[i],
               lc->whys[i]);
    sr_log(SR_LOG_ERROR, msg, NULL);
  }
}

/* users and items count live ids; the rows include those evicted ones left
 * free for new ids. */
static void log_restored(const char *path, const sr_ckpt_meta_t *m,
                         const sr_model_t *mdl) {
  sr_log(SR_LOG_INFO, "checkpoint restored",
         "file=%s seq=%" PRIu64 " events_applied=%" PRIu64 " users=%" PRIu64
         " items=%" PRIu64 " user_rows=%" PRIu64 " item_rows=%" PRIu64
         " partitions=%zu",
         sr_logq(path), m->seq, m->events_applied, sr_model_live_users(mdl),
         sr_model_live_items(mdl), m->users, m->items, m->n_offsets);
}

/* The record of last lists outlives the loaded file. Returns 0, or -1
 * when out of memory. */
static int copy_lists(const sr_ckpt_t *ckpt, sr_restored_t *out) {
  uint64_t len = 0;
  const void *data = sr_ckpt_section(ckpt, SR_STORE_SEC_LISTS, &len);
  if (!data || !len)
    return 0;
  if (!(out->lists = malloc(len)))
    return -1;
  memcpy(out->lists, data, len);
  out->lists_len = len;
  return 0;
}

static sr_err_t restore_from(const sr_config_t *cfg, const sr_ckpt_t *ckpt,
                             const char *path, sr_restored_t *out, char *errstr,
                             size_t errlen) {
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  char why[512];
  sr_err_t err =
      sr_store_restore(&cfg->model, ckpt, &out->mdl, why, sizeof(why));
  if (err != SR_OK)
    return sr_errf(errstr, errlen, err, "checkpoint %s: %s", path, why);
  if (m->n_offsets) {
    out->offsets = malloc(m->n_offsets * sizeof(*out->offsets));
    if (!out->offsets)
      return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    memcpy(out->offsets, m->offsets, m->n_offsets * sizeof(*out->offsets));
  }
  out->n_offsets = m->n_offsets;
  sr_store_cluster_id(ckpt, out->cluster_id, sizeof(out->cluster_id));
  if (copy_lists(ckpt, out) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  if (m->seq + 1 > out->next_seq)
    out->next_seq = m->seq + 1;
  log_restored(path, m, out->mdl);
  return SR_OK;
}

/* Creates a file in dir and removes it: access() trusts the mode bits, which
 * root ignores, and knows nothing of read-only mounts or immutable
 * directories, where the first checkpoint would fail minutes later. */
static sr_err_t probe_write(const char *dir, char *errstr, size_t errlen) {
  char probe[PATH_MAX];
  if (snprintf(probe, sizeof(probe), "%s/.streamrec-probe-%ld", dir,
               (long)getpid()) >= (int)sizeof(probe))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "checkpoint.dir: %s: name too long", dir);
  int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return sr_errf(errstr, errlen, sr_dir_err(errno),
                   "checkpoint.dir: cannot write to %s: %s", dir,
                   strerror(errno));
  close(fd);
  unlink(probe);
  return SR_OK;
}

/* Creates dir and its parents when missing and checks that checkpoints can
 * be written there, so that a bad checkpoint.dir stops the start rather
 * than the first checkpoint minutes later. */
/* A path that cannot name a directory is a configuration error (exit 2);
 * anything else (permissions, a read-only or full file system) is a disk
 * failure (exit 1), which fixing the disk rather than the config cures. */
static sr_err_t prepare_dir(const char *dir, char *errstr, size_t errlen) {
  char why[PATH_MAX + 256];
  sr_err_t err = sr_dir_ensure(dir, SR_CKPT_DIR_MODE, why, sizeof(why));
  if (err != SR_OK)
    return sr_errf(errstr, errlen, err, "checkpoint.dir: %s", why);
  return probe_write(dir, errstr, errlen);
}

sr_err_t sr_restore_load(const sr_config_t *cfg, sr_restored_t *out,
                         char *errstr, size_t errlen) {
  load_ctx_t lc = {0};
  sr_ckpt_t *ckpt = NULL;
  char path[PATH_MAX], why[512];
  memset(out, 0, sizeof(*out));
  if (!cfg->checkpoint.dir[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "checkpoint.dir: must not be empty");
  sr_err_t err = prepare_dir(cfg->checkpoint.dir, errstr, errlen);
  if (err != SR_OK)
    return err;
  err = sr_ckpt_load_newest(cfg->checkpoint.dir, &ckpt, path, sizeof(path),
                            on_skip, &lc, why, sizeof(why));
  out->next_seq = lc.max_seq + 1;
  if (err == SR_ERR_NOT_FOUND) {
    sr_log(SR_LOG_INFO, "no checkpoint; starting with an empty model", "dir=%s",
           sr_logq(cfg->checkpoint.dir));
    out->mdl = sr_model_new(&cfg->model, errstr, errlen);
    err = out->mdl ? SR_OK : SR_ERR_INVALID;
  } else if (err != SR_OK) {
    report_skipped(&lc, NULL);
    sr_errf(errstr, errlen, err,
            "no usable checkpoint in %s: %s (refusing to start from scratch; "
            "move the directory away to do that)",
            cfg->checkpoint.dir, why);
  } else {
    report_skipped(&lc, path);
    err = restore_from(cfg, ckpt, path, out, errstr, errlen);
  }
  sr_ckpt_free(ckpt);
  free(lc.paths);
  free(lc.whys);
  if (err != SR_OK)
    sr_restore_release(out);
  return err;
}

void sr_restore_release(sr_restored_t *r) {
  sr_model_free(r->mdl);
  free(r->offsets);
  free(r->lists);
  memset(r, 0, sizeof(*r));
}
