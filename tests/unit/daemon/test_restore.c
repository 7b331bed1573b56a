/* Tests of start-up state: an empty directory gives an empty model, the
 * newest checkpoint that verifies is restored with its offsets, cluster id
 * and the next number, a corrupt newer file falls back loudly to an older
 * one, no verifying file is an error rather than an empty model, and a
 * model config or a directory that does not fit says why. */
#include "daemon/restore.h"

#include "store/checkpoint.h"
#include "store/model_store.h"

#include <fcntl.h>
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

#include <cmocka.h>

#include "support.h"
#include "util/offset.h"

#define N_EVENTS 400

/* Per-test state: a scratch directory, a config pointing at it, a stream
 * and the digests of the model after its first and second half. */
typedef struct fixture {
  char root[64];
  sr_config_t cfg;
  sr_event_t *evs;
  char older[PATH_MAX], newer[PATH_MAX];
  uint64_t older_digest, newer_digest;
  sr_offset_t older_offs[2], newer_offs[2];
  sr_restored_t rs;
  char err[1024];
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx)
    return -1;
  snprintf(fx->root, sizeof fx->root, "/tmp/sr-test-restore-XXXXXX");
  if (!mkdtemp(fx->root))
    return -1;
  sr_config_init(&fx->cfg);
  fx->cfg.model.dims = 8;
  snprintf(fx->cfg.checkpoint.dir, sizeof fx->cfg.checkpoint.dir, "%s/ckpt",
           fx->root);
  fx->evs = synth_events(50, 40, N_EVENTS, 11);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  sr_restore_release(&fx->rs);
  free(fx->evs);
  remove_tree(fx->root);
  free(fx);
  return 0;
}

/* Writes mdl with offs (2) of cluster as checkpoint seq; its path to path. */
static void write_ckpt(fixture_t *fx, const sr_model_t *mdl,
                       const sr_offset_t *offs, const char *cluster,
                       uint64_t seq, char *path) {
  sr_model_snapshot_t snap;
  char err[512] = "";
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_err_t rc =
      sr_store_write(fx->cfg.checkpoint.dir, &snap, offs, 2, cluster, seq,
                     1700000000000LL, 5, path, PATH_MAX, err, sizeof err);
  sr_model_snapshot_release(&snap);
  if (rc != SR_OK)
    fail_msg("sr_store_write: %s", err);
}

/* Checkpoint 3 after half the stream (cluster "c-old"), checkpoint 7 after
 * all of it (cluster "c-new"), each with its own offsets. */
static void write_two(fixture_t *fx) {
  sr_model_t *mdl = model_with(&fx->cfg.model);
  learn_all(mdl, fx->evs, 0, N_EVENTS / 2);
  set_offset(&fx->older_offs[0], "events", 0, 100);
  set_offset(&fx->older_offs[1], "events", 1, 100);
  write_ckpt(fx, mdl, fx->older_offs, "c-old", 3, fx->older);
  fx->older_digest = sr_model_digest(mdl);
  learn_all(mdl, fx->evs, N_EVENTS / 2, N_EVENTS);
  set_offset(&fx->newer_offs[0], "events", 0, 200);
  set_offset(&fx->newer_offs[1], "events", 1, 200);
  write_ckpt(fx, mdl, fx->newer_offs, "c-new", 7, fx->newer);
  fx->newer_digest = sr_model_digest(mdl);
  sr_model_free(mdl);
}

static sr_err_t load(fixture_t *fx) {
  fx->err[0] = '\0';
  return sr_restore_load(&fx->cfg, &fx->rs, fx->err, sizeof fx->err);
}

/* Cuts path to half its size. */
static void truncate_half(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(truncate(path, st.st_size / 2), 0);
}

/* Flips one byte in the last quarter of path (model data, not the header). */
static void flip_byte(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  off_t at = st.st_size - st.st_size / 4;
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, at), 1);
  b ^= 0x40;
  assert_int_equal(pwrite(fd, &b, 1, at), 1);
  close(fd);
}

static void test_missing_dir_gives_empty_model(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(load(fx), SR_OK);
  assert_non_null(fx->rs.mdl);
  assert_int_equal(sr_model_events_applied(fx->rs.mdl), 0);
  assert_int_equal(sr_model_live_users(fx->rs.mdl), 0);
  assert_int_equal(fx->rs.n_offsets, 0);
  assert_null(fx->rs.offsets);
  assert_string_equal(fx->rs.cluster_id, "");
  assert_int_equal(fx->rs.next_seq, 1);
  /* The directory is created, so the first checkpoint can be written. */
  struct stat st;
  assert_int_equal(stat(fx->cfg.checkpoint.dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
}

static void test_dir_without_checkpoints_gives_empty_model(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(mkdir(fx->cfg.checkpoint.dir, 0755), 0);
  char other[PATH_MAX + 16];
  snprintf(other, sizeof other, "%s/notes.txt", fx->cfg.checkpoint.dir);
  FILE *f = fopen(other, "w");
  assert_non_null(f);
  fputs("not a checkpoint\n", f);
  fclose(f);
  assert_int_equal(load(fx), SR_OK);
  assert_int_equal(sr_model_events_applied(fx->rs.mdl), 0);
  assert_int_equal(fx->rs.n_offsets, 0);
  assert_int_equal(fx->rs.next_seq, 1);
}

static void test_newest_restored_with_offsets_and_cluster(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  assert_int_equal(load(fx), SR_OK);
  assert_true(sr_model_digest(fx->rs.mdl) == fx->newer_digest);
  assert_int_equal(sr_model_events_applied(fx->rs.mdl), N_EVENTS);
  assert_int_equal(fx->rs.n_offsets, 2);
  assert_memory_equal(fx->rs.offsets, fx->newer_offs, sizeof fx->newer_offs);
  assert_string_equal(fx->rs.cluster_id, "c-new");
  assert_int_equal(fx->rs.next_seq, 8);
}

/* The older file's state is used, numbering continues past the bad one so
 * that retention never deletes the new good file first, and the log names
 * both files. */
static void check_fallback(fixture_t *fx) {
  capture_start();
  sr_err_t rc = load(fx);
  char *log = captured();
  assert_int_equal(rc, SR_OK);
  assert_true(sr_model_digest(fx->rs.mdl) == fx->older_digest);
  assert_int_equal(sr_model_events_applied(fx->rs.mdl), N_EVENTS / 2);
  assert_int_equal(fx->rs.n_offsets, 2);
  assert_memory_equal(fx->rs.offsets, fx->older_offs, sizeof fx->older_offs);
  assert_string_equal(fx->rs.cluster_id, "c-old");
  assert_int_equal(fx->rs.next_seq, 8);
  const char *line = strstr(log, "unreadable");
  if (!line || !strstr(line, "using older") || !strstr(log, fx->newer) ||
      !strstr(log, fx->older))
    fail_msg("no fallback report in the log:\n%s", log);
  free(log);
}

static void test_truncated_newest_falls_back_to_older(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  truncate_half(fx->newer);
  check_fallback(fx);
}

static void test_flipped_byte_in_newest_falls_back_to_older(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  flip_byte(fx->newer);
  check_fallback(fx);
}

static void test_all_corrupt_is_an_error(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  truncate_half(fx->newer);
  flip_byte(fx->older);
  capture_start();
  sr_err_t rc = load(fx);
  free(captured());
  assert_int_not_equal(rc, SR_OK);
  assert_int_not_equal(rc, SR_ERR_NOT_FOUND);
  assert_null(fx->rs.mdl);
  assert_null(fx->rs.offsets);
  if (!strstr(fx->err, fx->cfg.checkpoint.dir) ||
      !strstr(fx->err, "no usable checkpoint"))
    fail_msg("errstr: %s", fx->err);
}

static void test_dims_mismatch_names_both(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  fx->cfg.model.dims = 16;
  assert_int_equal(load(fx), SR_ERR_DIMS);
  assert_null(fx->rs.mdl);
  if (!strstr(fx->err, "dims 8") || !strstr(fx->err, "model.dims is 16"))
    fail_msg("errstr: %s", fx->err);
}

static void test_mode_mismatch_names_both(void **state) {
  fixture_t *fx = *state;
  write_two(fx);
  fx->cfg.model.mode = SR_MODE_EXPLICIT;
  assert_int_equal(load(fx), SR_ERR_DIMS);
  assert_null(fx->rs.mdl);
  if (!strstr(fx->err, "mode implicit") ||
      !strstr(fx->err, "model.mode is explicit"))
    fail_msg("errstr: %s", fx->err);
}

static void make_file(const char *path) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
}

static void test_dir_that_is_a_file_is_a_config_error(void **state) {
  fixture_t *fx = *state;
  make_file(fx->cfg.checkpoint.dir);
  assert_int_equal(load(fx), SR_ERR_INVALID);
  assert_null(fx->rs.mdl);
  if (!strstr(fx->err, "checkpoint.dir") ||
      !strstr(fx->err, "is not a directory"))
    fail_msg("errstr: %s", fx->err);
}

static void test_dir_under_a_file_is_a_config_error(void **state) {
  fixture_t *fx = *state;
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/plain", fx->root);
  make_file(file);
  snprintf(fx->cfg.checkpoint.dir, sizeof fx->cfg.checkpoint.dir,
           "%s/plain/ckpt", fx->root);
  assert_int_equal(load(fx), SR_ERR_INVALID);
  if (!strstr(fx->err, "checkpoint.dir: cannot create") ||
      !strstr(fx->err, "plain"))
    fail_msg("errstr: %s", fx->err);
}

static void test_empty_dir_setting_is_refused(void **state) {
  fixture_t *fx = *state;
  fx->cfg.checkpoint.dir[0] = '\0';
  assert_int_equal(load(fx), SR_ERR_INVALID);
  assert_null(fx->rs.mdl);
  assert_non_null(strstr(fx->err, "checkpoint.dir"));
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_missing_dir_gives_empty_model),
      TEST(test_dir_without_checkpoints_gives_empty_model),
      TEST(test_newest_restored_with_offsets_and_cluster),
      TEST(test_truncated_newest_falls_back_to_older),
      TEST(test_flipped_byte_in_newest_falls_back_to_older),
      TEST(test_all_corrupt_is_an_error),
      TEST(test_dims_mismatch_names_both),
      TEST(test_mode_mismatch_names_both),
      TEST(test_dir_that_is_a_file_is_a_config_error),
      TEST(test_dir_under_a_file_is_a_config_error),
      TEST(test_empty_dir_setting_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
