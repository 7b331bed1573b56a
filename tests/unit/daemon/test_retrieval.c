/* The index's lifecycle: exact retrieval is ready at once and builds
 * nothing, auto builds only from its catalogue size, ann turns ready once
 * its first index is built in the thread pool and lent to the model (whose
 * lists then come from it, with a measured recall), each step copies at
 * most a slice, and a model that moved by the drift threshold gets a new
 * index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/retrieval.h"
#include "support.h"
#include "util/now.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
  uv_loop_t loop;
  sr_config_t cfg;
  sr_model_t *mdl;
  sr_event_t *evs;
} fixture_t;

enum { EVENTS = 20000, ITEMS = 30000 };

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  sr_config_init(&f->cfg);
  f->cfg.model.dims = 16;
  f->mdl = model_with(&f->cfg.model);
  f->evs = synth_events(500, ITEMS, 2 * EVENTS, 3);
  learn_all(f->mdl, f->evs, 0, EVENTS);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  sr_model_free(f->mdl);
  free(f->evs);
  free(f);
  return 0;
}

/* Steps the lifecycle and the loop until ready (or builds reach want),
 * returning the longest step in ns. */
static uint64_t run_until(fixture_t *f, sr_retrieval_t *rt, uint64_t builds) {
  uint64_t longest = 0, deadline = sr_mono_ns() + 20000000000ULL;
  while (!sr_retrieval_ready(rt) || sr_retrieval_stats(rt).builds < builds) {
    assert_true(sr_mono_ns() < deadline);
    uint64_t start = sr_mono_ns();
    sr_retrieval_step(rt);
    uint64_t took = sr_mono_ns() - start;
    longest = took > longest ? took : longest;
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  return longest;
}

static size_t lists_from_index(sr_model_t *mdl) {
  uint32_t rows[64];
  size_t counts[64], n = 0;
  sr_scored_t out[64 * 20];
  for (uint32_t r = 0; r < sr_model_users(mdl) && n < 64; r++)
    if (sr_model_user_events(mdl, r) >= sr_model_conf(mdl)->min_user_events)
      rows[n++] = r;
  sr_model_ann_stats_t before, after;
  sr_model_ann_stats(mdl, &before);
  assert_int_equal(sr_model_recommend(mdl, rows, n, 20, out, counts, NULL),
                   SR_OK);
  sr_model_ann_stats(mdl, &after);
  return after.lists - before.lists;
}

static void test_exact(void **state) {
  fixture_t *f = *state;
  f->cfg.recommend.retrieval = SR_RETRIEVAL_EXACT;
  sr_retrieval_t *rt = sr_retrieval_new(&f->loop, f->mdl, &f->cfg);
  assert_non_null(rt);
  assert_true(sr_retrieval_ready(rt));
  sr_retrieval_step(rt);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(sr_retrieval_stats(rt).builds, 0);
  assert_false(sr_retrieval_stats(rt).ann);
  assert_int_equal(lists_from_index(f->mdl), 0);
  sr_retrieval_free(rt);
}

static void test_auto(void **state) {
  fixture_t *f = *state;
  f->cfg.recommend.retrieval = SR_RETRIEVAL_AUTO;
  f->cfg.recommend.ann_min_items = (uint32_t)sr_model_items(f->mdl) + 1;
  sr_retrieval_t *rt = sr_retrieval_new(&f->loop, f->mdl, &f->cfg);
  assert_true(sr_retrieval_ready(rt)); /* below the size: exact */
  sr_retrieval_step(rt);
  assert_int_equal(sr_retrieval_stats(rt).builds, 0);
  sr_retrieval_free(rt);
  f->cfg.recommend.ann_min_items = (uint32_t)sr_model_items(f->mdl);
  rt = sr_retrieval_new(&f->loop, f->mdl, &f->cfg);
  assert_false(sr_retrieval_ready(rt));
  run_until(f, rt, 1);
  assert_true(sr_retrieval_stats(rt).ann);
  sr_retrieval_free(rt);
}

static void test_ann(void **state) {
  fixture_t *f = *state;
  f->cfg.recommend.retrieval = SR_RETRIEVAL_ANN;
  f->cfg.recommend.ann_refresh_s = 3600;
  f->cfg.recommend.ann_refresh_drift = 0.1;
  sr_retrieval_t *rt = sr_retrieval_new(&f->loop, f->mdl, &f->cfg);
  assert_false(sr_retrieval_ready(rt));
  run_until(f, rt, 1);
  sr_retrieval_stats_t st = sr_retrieval_stats(rt);
  assert_int_equal(st.builds, 1);
  assert_true(st.ann);
  assert_true(st.bytes > 0);
  assert_true(st.recall >= 0.5 && st.recall <= 1.0);
  assert_int_equal(st.recall_runs, 1);
  assert_true(lists_from_index(f->mdl) > 0);
  /* Nothing learnt: no build is due. */
  sr_retrieval_step(rt);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(sr_retrieval_stats(rt).builds, 1);
  /* Events past a tenth of the items: a new index, copied in slices. */
  learn_all(f->mdl, f->evs, EVENTS, EVENTS + ITEMS / 10 + 1);
  run_until(f, rt, 2);
  assert_int_equal(sr_retrieval_stats(rt).builds, 2);
  assert_true(lists_from_index(f->mdl) > 0);
  sr_retrieval_free(rt);
  assert_int_equal(lists_from_index(f->mdl), 0); /* the index went back */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auto, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ann, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
