/* Tests of checkpoint jobs, each run with both writers (a forked child and
 * a copy written in the thread pool): what a job writes restores to the same
 * model with the same offsets and cluster id, files are numbered upwards and
 * the newest checkpoint.keep kept, a section of the daemon's own is written
 * as it was when the job started, an unchanged model is recognised, one job
 * runs at a time, and a directory that cannot be written reports its error
 * through the callback. */
#include "daemon/saver.h"

#include "store/checkpoint.h"
#include "store/model_store.h"

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "support.h"
#include "util/offset.h"

#define N_EVENTS 600

/* What the done callback saw, copied: offsets live only during it. */
typedef struct seen {
  int calls;
  sr_err_t err;
  char path[PATH_MAX];
  char error[512];
  uint64_t seq;
  uint64_t events_applied;
  sr_offset_t offsets[4];
  size_t n_offsets;
} seen_t;

/* Per-test state: a scratch directory, a loop, a model and its stream. */
typedef struct fixture {
  bool fork;
  char dir[64];
  uv_loop_t loop;
  sr_model_conf_t conf;
  sr_model_t *mdl;
  sr_event_t *evs;
  seen_t seen;
} fixture_t;

static const bool forked = true, copied = false;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx)
    return -1;
  fx->fork = *(const bool *)*state;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/sr-test-saver-XXXXXX");
  if (!mkdtemp(fx->dir) || uv_loop_init(&fx->loop) != 0)
    return -1;
  sr_model_conf_init(&fx->conf);
  fx->conf.dims = 8;
  fx->mdl = model_with(&fx->conf);
  fx->evs = synth_events(50, 40, N_EVENTS, 7);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  sr_model_free(fx->mdl);
  free(fx->evs);
  remove_tree(fx->dir);
  free(fx);
  return 0;
}

static void on_done(void *opaque, const sr_saver_result_t *res) {
  fixture_t *fx = opaque;
  seen_t *s = &fx->seen;
  s->calls++;
  s->err = res->err;
  snprintf(s->path, sizeof s->path, "%s", res->path);
  snprintf(s->error, sizeof s->error, "%s", res->error);
  s->seq = res->seq;
  s->events_applied = res->events_applied;
  assert_true(res->n_offsets <= 4);
  s->n_offsets = res->n_offsets;
  if (res->n_offsets)
    memcpy(s->offsets, res->offsets, res->n_offsets * sizeof *res->offsets);
}

static sr_saver_t *saver_of(fixture_t *fx, const char *dir, unsigned keep,
                            uint64_t next_seq) {
  sr_saver_t *sv =
      sr_saver_new(&fx->loop, dir, keep, next_seq, fx->fork, on_done, fx);
  assert_non_null(sv);
  return sv;
}

/* Two partitions of "events" at base and base + 10. */
static void two_offsets(sr_offset_t offs[2], int64_t base) {
  set_offset(&offs[0], "events", 0, base);
  set_offset(&offs[1], "events", 1, base + 10);
}

/* A heap copy of offs, which sr_saver_start takes over. */
static sr_offset_t *owned(const sr_offset_t *offs, size_t n) {
  sr_offset_t *copy = malloc(n * sizeof *copy);
  assert_non_null(copy);
  memcpy(copy, offs, n * sizeof *copy);
  return copy;
}

/* Runs the loop until the job in flight has reported. */
static void run_until_done(fixture_t *fx) {
  int before = fx->seen.calls;
  while (fx->seen.calls == before)
    uv_run(&fx->loop, UV_RUN_ONCE);
  assert_int_equal(fx->seen.calls, before + 1);
}

/* The wall time the tests' jobs record: the saver's caller owns time. */
#define CREATED_MS 1700000000123LL

/* Starts a job for the fixture's model with offs and waits for it. */
static void save(fixture_t *fx, sr_saver_t *sv, const sr_offset_t *offs,
                 size_t n, const char *cluster) {
  assert_int_equal(
      sr_saver_start(sv, fx->mdl, owned(offs, n), n, cluster, CREATED_MS),
      SR_OK);
  assert_true(sr_saver_busy(sv));
  run_until_done(fx);
  assert_false(sr_saver_busy(sv));
}

/* The checkpoint files (not temp files) in dir, sorted by name. */
static size_t list_checkpoints(const char *dir, char names[][64], size_t max) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    assert_true(n < max && strlen(de->d_name) < 64);
    memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
  }
  closedir(d);
  qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
  return n;
}

static void test_checkpoint_restores_model_offsets_and_cluster(void **state) {
  fixture_t *fx = *state;
  learn_all(fx->mdl, fx->evs, 0, N_EVENTS);
  sr_offset_t offs[2];
  two_offsets(offs, 1234);
  sr_saver_t *sv = saver_of(fx, fx->dir, 3, 5);
  assert_string_equal(sr_saver_last_path(sv), "");
  save(fx, sv, offs, 2, "cluster-A");

  seen_t *s = &fx->seen;
  assert_int_equal(s->err, SR_OK);
  assert_string_equal(s->error, "");
  assert_int_equal(s->seq, 5);
  assert_int_equal(s->events_applied, N_EVENTS);
  assert_int_equal(s->n_offsets, 2);
  assert_memory_equal(s->offsets, offs, sizeof offs);
  char want[PATH_MAX];
  snprintf(want, sizeof want, "%s/checkpoint-%020d.ckpt", fx->dir, 5);
  assert_string_equal(s->path, want);
  assert_string_equal(sr_saver_last_path(sv), want);

  char err[512] = "";
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_read(want, &ckpt, err, sizeof err), SR_OK);
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  assert_int_equal(m->seq, 5);
  assert_int_equal(m->created_ms, CREATED_MS);
  assert_int_equal(m->events_applied, N_EVENTS);
  assert_int_equal(m->n_offsets, 2);
  assert_memory_equal(m->offsets, offs, sizeof offs);
  char cluster[SR_STORE_CLUSTER_MAX + 1];
  sr_store_cluster_id(ckpt, cluster, sizeof cluster);
  assert_string_equal(cluster, "cluster-A");
  sr_model_t *back = NULL;
  assert_int_equal(sr_store_restore(&fx->conf, ckpt, &back, err, sizeof err),
                   SR_OK);
  assert_true(sr_model_digest(back) == sr_model_digest(fx->mdl));
  assert_int_equal(sr_model_events_applied(back), N_EVENTS);
  sr_model_free(back);
  sr_ckpt_free(ckpt);
  sr_saver_free(sv);
}

/* The model the child saw is the one at the start: learning on the loop
 * thread while the job runs must not leak into the file. */
static void test_checkpoint_holds_the_model_at_start(void **state) {
  fixture_t *fx = *state;
  learn_all(fx->mdl, fx->evs, 0, N_EVENTS / 2);
  uint64_t digest = sr_model_digest(fx->mdl);
  sr_offset_t offs[1];
  set_offset(&offs[0], "events", 0, N_EVENTS / 2);
  sr_saver_t *sv = saver_of(fx, fx->dir, 3, 1);
  assert_int_equal(
      sr_saver_start(sv, fx->mdl, owned(offs, 1), 1, "", CREATED_MS), SR_OK);
  learn_all(fx->mdl, fx->evs, N_EVENTS / 2, N_EVENTS);
  run_until_done(fx);
  assert_int_equal(fx->seen.err, SR_OK);
  assert_int_equal(fx->seen.events_applied, N_EVENTS / 2);

  char err[512] = "";
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_read(fx->seen.path, &ckpt, err, sizeof err), SR_OK);
  char cluster[SR_STORE_CLUSTER_MAX + 1] = "x";
  sr_store_cluster_id(ckpt, cluster, sizeof cluster);
  assert_string_equal(cluster, "");
  sr_model_t *back = NULL;
  assert_int_equal(sr_store_restore(&fx->conf, ckpt, &back, err, sizeof err),
                   SR_OK);
  assert_true(sr_model_digest(back) == digest);
  sr_model_free(back);
  sr_ckpt_free(ckpt);
  sr_saver_free(sv);
}

/* The daemon's section: the text opaque points to, as it is when called. */
static int section_text(void *opaque, sr_buf_t *out) {
  const char *text = opaque;
  return sr_buf_append(out, text, strlen(text));
}

/* A section of the daemon's own is taken with the snapshot: what changes
 * after the start is not in the file, and the model's digest ignores it. */
static void test_section_taken_at_start(void **state) {
  fixture_t *fx = *state;
  learn_all(fx->mdl, fx->evs, 0, N_EVENTS);
  char text[32] = "lists at start";
  sr_offset_t offs[1];
  set_offset(&offs[0], "events", 0, N_EVENTS);
  sr_saver_t *sv = saver_of(fx, fx->dir, 3, 1);
  sr_saver_set_section(sv, SR_STORE_SEC_LISTS, section_text, text);
  assert_int_equal(
      sr_saver_start(sv, fx->mdl, owned(offs, 1), 1, "", CREATED_MS), SR_OK);
  snprintf(text, sizeof text, "lists later");
  run_until_done(fx);
  assert_int_equal(fx->seen.err, SR_OK);

  char err[512] = "";
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_read(fx->seen.path, &ckpt, err, sizeof err), SR_OK);
  uint64_t len = 0;
  const char *data = sr_ckpt_section(ckpt, SR_STORE_SEC_LISTS, &len);
  assert_non_null(data);
  assert_int_equal(len, strlen("lists at start"));
  assert_memory_equal(data, "lists at start", len);
  sr_model_t *back = NULL;
  assert_int_equal(sr_store_restore(&fx->conf, ckpt, &back, err, sizeof err),
                   SR_OK);
  assert_true(sr_model_digest(back) == sr_model_digest(fx->mdl));
  sr_model_free(back);
  sr_ckpt_free(ckpt);

  /* Without a section function, no such section. */
  sr_saver_set_section(sv, SR_STORE_SEC_LISTS, NULL, NULL);
  learn_all(fx->mdl, fx->evs, 0, 1);
  save(fx, sv, offs, 1, "");
  assert_int_equal(sr_ckpt_read(fx->seen.path, &ckpt, err, sizeof err), SR_OK);
  assert_null(sr_ckpt_section(ckpt, SR_STORE_SEC_LISTS, &len));
  sr_ckpt_free(ckpt);
  sr_saver_free(sv);
}

static void test_sequence_increases_and_keep_files_kept(void **state) {
  fixture_t *fx = *state;
  sr_saver_t *sv = saver_of(fx, fx->dir, 2, 1);
  sr_offset_t offs[2];
  for (int k = 0; k < 4; k++) {
    learn_all(fx->mdl, fx->evs, (size_t)k * 100, (size_t)(k + 1) * 100);
    two_offsets(offs, (k + 1) * 100);
    save(fx, sv, offs, 2, "c");
    assert_int_equal(fx->seen.err, SR_OK);
    assert_int_equal(fx->seen.seq, (uint64_t)k + 1);
  }
  char names[8][64];
  assert_int_equal(list_checkpoints(fx->dir, names, 8), 2);
  assert_string_equal(names[0], "checkpoint-00000000000000000003.ckpt");
  assert_string_equal(names[1], "checkpoint-00000000000000000004.ckpt");
  sr_saver_free(sv);
}

static void test_unchanged_until_an_event_or_an_offset_moves(void **state) {
  fixture_t *fx = *state;
  learn_all(fx->mdl, fx->evs, 0, 200);
  sr_offset_t offs[2];
  two_offsets(offs, 200);
  sr_saver_t *sv = saver_of(fx, fx->dir, 3, 1);
  assert_false(sr_saver_unchanged(sv, fx->mdl, offs, 2));
  save(fx, sv, offs, 2, "c");
  assert_int_equal(fx->seen.err, SR_OK);
  assert_true(sr_saver_unchanged(sv, fx->mdl, offs, 2));

  sr_offset_t moved[2];
  two_offsets(moved, 200);
  moved[1].offset++;
  assert_false(sr_saver_unchanged(sv, fx->mdl, moved, 2));
  assert_false(sr_saver_unchanged(sv, fx->mdl, offs, 1));

  learn_all(fx->mdl, fx->evs, 200, 201);
  assert_false(sr_saver_unchanged(sv, fx->mdl, offs, 2));
  save(fx, sv, offs, 2, "c");
  assert_true(sr_saver_unchanged(sv, fx->mdl, offs, 2));
  sr_saver_free(sv);
}

static void test_second_start_while_busy_is_refused(void **state) {
  fixture_t *fx = *state;
  learn_all(fx->mdl, fx->evs, 0, 100);
  sr_offset_t offs[2];
  two_offsets(offs, 100);
  sr_saver_t *sv = saver_of(fx, fx->dir, 3, 1);
  assert_false(sr_saver_busy(sv));
  assert_int_equal(
      sr_saver_start(sv, fx->mdl, owned(offs, 2), 2, "c", CREATED_MS), SR_OK);
  assert_true(sr_saver_busy(sv));
  /* The refused job's offsets are freed all the same (ASan checks). */
  assert_int_equal(
      sr_saver_start(sv, fx->mdl, owned(offs, 2), 2, "c", CREATED_MS),
      SR_ERR_INVALID);
  assert_true(sr_saver_busy(sv));
  run_until_done(fx);
  assert_false(sr_saver_busy(sv));
  assert_int_equal(fx->seen.seq, 1);
  /* The refused start took no number. */
  learn_all(fx->mdl, fx->evs, 100, 101);
  save(fx, sv, offs, 2, "c");
  assert_int_equal(fx->seen.seq, 2);
  assert_int_equal(fx->seen.calls, 2);
  sr_saver_free(sv);
}

static void test_unwritable_dir_reports_through_callback(void **state) {
  fixture_t *fx = *state;
  char file[128], dir[256];
  snprintf(file, sizeof file, "%s/plain-file", fx->dir);
  snprintf(dir, sizeof dir, "%s/ckpt", file);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  learn_all(fx->mdl, fx->evs, 0, 100);
  sr_offset_t offs[2];
  two_offsets(offs, 100);
  sr_saver_t *sv = saver_of(fx, dir, 3, 1);
  save(fx, sv, offs, 2, "c");
  assert_int_not_equal(fx->seen.err, SR_OK);
  assert_string_equal(fx->seen.path, "");
  assert_non_null(strstr(fx->seen.error, "plain-file"));
  assert_string_equal(sr_saver_last_path(sv), "");
  /* Nothing was written, so the next tick must try again. */
  assert_false(sr_saver_unchanged(sv, fx->mdl, offs, 2));
  sr_saver_free(sv);
}

/* Each test once per writer, named after it. */
#define BOTH(fn)                                                               \
  {#fn " (fork)", fn, setup, teardown, (void *)&forked}, {                     \
#fn " (copy)", fn, setup, teardown, (void *)&copied                        \
  }

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH(test_checkpoint_restores_model_offsets_and_cluster),
      BOTH(test_checkpoint_holds_the_model_at_start),
      BOTH(test_section_taken_at_start),
      BOTH(test_sequence_increases_and_keep_files_kept),
      BOTH(test_unchanged_until_an_event_or_an_offset_moves),
      BOTH(test_second_start_while_busy_is_refused),
      BOTH(test_unwritable_dir_reports_through_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
