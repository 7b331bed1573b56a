/* The glue between model snapshots and checkpoint files: what a written
 * checkpoint holds (the model bit for bit, the offsets, the cluster id, the
 * daemon's own sections and the time the caller passed), its sections as a
 * view (the model's alone), and a restore that
 * refuses a model of other dims with both values named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "store/model_store.h"
#include "support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/sr_test_model_store_%d", (int)getpid());
  remove_tree(dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  remove_tree(dir);
  return 0;
}

/* A model that has learned a small synthetic stream. */
static sr_model_t *learned(sr_model_conf_t *conf) {
  sr_model_conf_init(conf);
  conf->dims = 8;
  sr_model_t *mdl = model_with(conf);
  sr_event_t *evs = synth_events(50, 40, 2000, 7);
  learn_all(mdl, evs, 0, 2000);
  free(evs);
  return mdl;
}

/* Writes mdl with two offsets as checkpoint seq; returns the loaded file. */
static sr_ckpt_t *write_and_read(const sr_model_t *mdl, const char *cluster,
                                 uint64_t seq) {
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_offset_t offs[2];
  set_offset(&offs[0], "events", 0, 1234);
  set_offset(&offs[1], "events", 1, 99);
  char path[PATH_MAX], err[256] = "";
  sr_err_t rc =
      sr_store_write(dir, &snap, offs, 2, cluster, seq, 1700000000123LL, 3,
                     path, sizeof path, err, sizeof err);
  if (rc != SR_OK)
    fail_msg("sr_store_write: %s", err);
  sr_model_snapshot_release(&snap);
  sr_ckpt_t *ckpt = NULL;
  if (sr_ckpt_read(path, &ckpt, err, sizeof err) != SR_OK)
    fail_msg("sr_ckpt_read: %s", err);
  return ckpt;
}

static void test_round_trip_is_bit_exact(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = learned(&conf);
  sr_ckpt_t *ckpt = write_and_read(mdl, "cluster-A", 5);

  const sr_ckpt_meta_t *meta = sr_ckpt_meta(ckpt);
  assert_int_equal(meta->dims, 8);
  assert_int_equal(meta->users, sr_model_users(mdl));
  assert_int_equal(meta->items, sr_model_items(mdl));
  assert_int_equal(meta->events_applied, 2000);
  assert_int_equal(meta->created_ms, 1700000000123LL);
  assert_int_equal(meta->n_offsets, 2);
  assert_string_equal(meta->offsets[0].topic, "events");
  assert_int_equal(meta->offsets[0].offset, 1234);
  assert_int_equal(meta->offsets[1].partition, 1);
  assert_int_equal(meta->offsets[1].offset, 99);
  char cluster[SR_STORE_CLUSTER_MAX + 1];
  sr_store_cluster_id(ckpt, cluster, sizeof cluster);
  assert_string_equal(cluster, "cluster-A");

  /* The view's digest is the model's: every section made it. */
  sr_model_snapshot_t view;
  sr_store_view(ckpt, &view);
  assert_true(view.n_sections > 0);
  assert_true(sr_model_snapshot_digest(&view) == sr_model_digest(mdl));

  sr_model_t *back = NULL;
  char err[256] = "";
  assert_int_equal(sr_store_restore(&conf, ckpt, &back, err, sizeof err),
                   SR_OK);
  assert_true(sr_model_digest(back) == sr_model_digest(mdl));
  sr_model_free(back);
  sr_ckpt_free(ckpt);
  sr_model_free(mdl);
}

static void test_no_cluster_id(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = learned(&conf);
  sr_ckpt_t *ckpt = write_and_read(mdl, NULL, 6);
  char cluster[SR_STORE_CLUSTER_MAX + 1] = "x";
  sr_store_cluster_id(ckpt, cluster, sizeof cluster);
  assert_string_equal(cluster, "");
  sr_ckpt_free(ckpt);
  sr_model_free(mdl);
}

/* A section of the daemon's own is stored as given, beside the model's
 * and the cluster id; the view, the digest and the restore leave it out. */
static void test_extra_section(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = learned(&conf);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_offset_t offs[1];
  set_offset(&offs[0], "events", 0, 2000);
  const char lists[] = "the last lists";
  sr_ckpt_section_t extra = {SR_STORE_SEC_LISTS, lists, sizeof lists};
  char path[PATH_MAX], err[256] = "";
  if (sr_store_write_with(dir, &snap, offs, 1, "cluster-B", &extra, 1, 3,
                          1700000000123LL, 3, path, sizeof path, err,
                          sizeof err) != SR_OK)
    fail_msg("sr_store_write_with: %s", err);
  sr_model_snapshot_release(&snap);
  sr_ckpt_t *ckpt = NULL;
  if (sr_ckpt_read(path, &ckpt, err, sizeof err) != SR_OK)
    fail_msg("sr_ckpt_read: %s", err);
  uint64_t len = 0;
  const char *data = sr_ckpt_section(ckpt, SR_STORE_SEC_LISTS, &len);
  assert_non_null(data);
  assert_int_equal(len, sizeof lists);
  assert_memory_equal(data, lists, sizeof lists);
  char cluster[SR_STORE_CLUSTER_MAX + 1];
  sr_store_cluster_id(ckpt, cluster, sizeof cluster);
  assert_string_equal(cluster, "cluster-B");
  sr_model_snapshot_t view;
  sr_store_view(ckpt, &view);
  for (size_t k = 0; k < view.n_sections; k++)
    assert_int_not_equal(view.sections[k].id, SR_STORE_SEC_LISTS);
  assert_true(sr_model_snapshot_digest(&view) == sr_model_digest(mdl));
  sr_model_t *back = NULL;
  assert_int_equal(sr_store_restore(&conf, ckpt, &back, err, sizeof err),
                   SR_OK);
  assert_true(sr_model_digest(back) == sr_model_digest(mdl));
  sr_model_free(back);
  sr_ckpt_free(ckpt);

  /* sr_store_write writes none. */
  ckpt = write_and_read(mdl, "c", 4);
  assert_null(sr_ckpt_section(ckpt, SR_STORE_SEC_LISTS, &len));
  sr_ckpt_free(ckpt);
  sr_model_free(mdl);
}

static void test_restore_with_other_dims_refused(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = learned(&conf);
  sr_ckpt_t *ckpt = write_and_read(mdl, "c", 7);
  conf.dims = 16;
  sr_model_t *back = NULL;
  char err[256] = "";
  assert_int_equal(sr_store_restore(&conf, ckpt, &back, err, sizeof err),
                   SR_ERR_DIMS);
  assert_null(back);
  if (!strstr(err, "8") || !strstr(err, "16"))
    fail_msg("'%s' does not name both dims", err);
  sr_ckpt_free(ckpt);
  sr_model_free(mdl);
}

static void test_keeps_the_newest(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_t *mdl = learned(&conf);
  for (uint64_t seq = 10; seq < 15; seq++)
    sr_ckpt_free(write_and_read(mdl, "c", seq));
  /* keep = 3: the three newest are left. */
  for (uint64_t seq = 10; seq < 15; seq++) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/checkpoint-%020llu.ckpt", dir,
             (unsigned long long)seq);
    assert_int_equal(access(path, F_OK) == 0, seq >= 12);
  }
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_is_bit_exact, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_no_cluster_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extra_section, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_with_other_dims_refused,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_keeps_the_newest, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
