/* Tests of prequential evaluation: deterministic figures, the learner
 * against the popularity ranker, and the protocol's edge cases. */
#include "streamrec/eval.h"

#include "core/synth.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static sr_model_t *default_model(void) {
  sr_model_conf_t conf;
  char err[256] = "";
  sr_model_conf_init(&conf);
  sr_model_t *mdl = sr_model_new(&conf, err, sizeof err);
  if (!mdl)
    fail_msg("sr_model_new: %s", err);
  return mdl;
}

static sr_model_t *popularity_model(void) {
  char err[256] = "";
  sr_model_t *mdl = sr_eval_popularity_model(err, sizeof err);
  if (!mdl)
    fail_msg("sr_eval_popularity_model: %s", err);
  return mdl;
}

/* Evaluates mdl (taken) on the generated stream; returns the figures. */
static sr_eval_stats_t eval_synth_lists(sr_model_t *mdl, uint32_t users,
                                        uint32_t items, uint64_t events,
                                        uint64_t seed, int lists) {
  sr_synth_conf_t sc;
  sr_synth_conf_init(&sc);
  sc.users = users;
  sc.items = items;
  sc.events = events;
  sc.seed = seed;
  sr_synth_t *syn = sr_synth_new(&sc);
  sr_eval_t *ev = sr_eval_new(mdl, 10);
  assert_true(syn && ev);
  sr_eval_set_lists(ev, lists);
  sr_event_t event;
  while (sr_synth_next(syn, &event))
    assert_int_equal(sr_eval_event(ev, &event), SR_OK);
  sr_eval_stats_t stats = *sr_eval_stats(ev);
  sr_eval_free(ev);
  sr_synth_free(syn);
  sr_model_free(mdl);
  return stats;
}

static sr_eval_stats_t eval_synth(sr_model_t *mdl, uint32_t users,
                                  uint32_t items, uint64_t events,
                                  uint64_t seed) {
  return eval_synth_lists(mdl, users, items, events, seed, 0);
}

/* Hits taken from the exact lists are the hits of the full ranking: the
 * lists are the ranking's first n. */
static void test_lists_match_ranks(void **state) {
  (void)state;
  sr_eval_stats_t a = eval_synth(default_model(), 300, 400, 8000, 23);
  sr_eval_stats_t b = eval_synth_lists(default_model(), 300, 400, 8000, 23, 1);
  assert_true(a.hits > 0);
  assert_int_equal(a.evaluated, b.evaluated);
  assert_true(llabs((long long)a.hits - (long long)b.hits) <= 2);
  assert_true(fabs(a.rr_sum - b.rr_sum) < 1e-9);
}

static void test_same_seed_same_figures(void **state) {
  (void)state;
  sr_eval_stats_t a = eval_synth(default_model(), 300, 400, 15000, 21);
  sr_eval_stats_t b = eval_synth(default_model(), 300, 400, 15000, 21);
  assert_int_equal(a.events, 15000);
  assert_true(a.evaluated > 14000 && a.evaluated < a.events);
  assert_true(a.hits > 0);
  assert_int_equal(a.events, b.events);
  assert_int_equal(a.evaluated, b.evaluated);
  assert_int_equal(a.hits, b.hits);
  /* Bit-identical sums, not merely close ones. */
  assert_memory_equal(&a.ndcg_sum, &b.ndcg_sum, sizeof a.ndcg_sum);
  assert_memory_equal(&a.rr_sum, &b.rr_sum, sizeof a.rr_sum);
  /* Another stream gives other figures. */
  sr_eval_stats_t c = eval_synth(default_model(), 300, 400, 15000, 22);
  assert_true(c.hits != a.hits || c.rr_sum != a.rr_sum);
}

static void test_learner_beats_popularity(void **state) {
  (void)state;
  sr_eval_stats_t mdl = eval_synth(default_model(), 1000, 500, 50000, 7);
  sr_eval_stats_t pop = eval_synth(popularity_model(), 1000, 500, 50000, 7);
  /* The same protocol: the same events are evaluated. */
  assert_int_equal(mdl.evaluated, pop.evaluated);
  double r_mdl = (double)mdl.hits / (double)mdl.evaluated;
  double r_pop = (double)pop.hits / (double)pop.evaluated;
  if (!(r_mdl > 1.5 * r_pop))
    fail_msg("recall@10 %.4f, popularity %.4f", r_mdl, r_pop);
  assert_true(mdl.ndcg_sum > pop.ndcg_sum);
  assert_true(mdl.rr_sum > pop.rr_sum);
}

static sr_event_t event_of(const char *user, const char *item) {
  return event_for(user, item, SR_EV_CLICK, 0, 1700000000000LL);
}

static void feed(sr_eval_t *ev, const char *user, const char *item) {
  sr_event_t event = event_of(user, item);
  assert_int_equal(sr_eval_event(ev, &event), SR_OK);
}

static void test_protocol_edge_cases(void **state) {
  (void)state;
  sr_model_t *mdl = default_model();
  sr_eval_t *ev = sr_eval_new(mdl, 10);
  assert_non_null(ev);
  const sr_eval_stats_t *st = sr_eval_stats(ev);

  /* A user's first event is not evaluated. */
  feed(ev, "a", "x");
  assert_int_equal(st->events, 1);
  assert_int_equal(st->evaluated, 0);
  /* A never-seen item is evaluated and missed. */
  feed(ev, "a", "y");
  assert_int_equal(st->evaluated, 1);
  assert_int_equal(st->hits, 0);
  assert_true(st->rr_sum == 0.0);
  /* Another user's first event, on a known item: not evaluated. */
  feed(ev, "b", "x");
  assert_int_equal(st->evaluated, 1);
  /* b's only unseen item is y: rank 1, a full hit. */
  feed(ev, "b", "y");
  assert_int_equal(st->evaluated, 2);
  assert_int_equal(st->hits, 1);
  assert_true(fabs(st->rr_sum - 1.0) < 1e-12);
  assert_true(fabs(st->ndcg_sum - 1.0) < 1e-12);
  /* Consuming an own earlier item again: excluded from the ranking, so an
   * evaluated miss. */
  feed(ev, "b", "x");
  assert_int_equal(st->events, 5);
  assert_int_equal(st->evaluated, 3);
  assert_int_equal(st->hits, 1);
  assert_true(fabs(st->rr_sum - 1.0) < 1e-12);
  /* The evaluator learns every event, evaluated or not. */
  assert_int_equal(sr_model_events_applied(mdl), 5);
  assert_int_equal(sr_model_users(mdl), 2);
  sr_eval_free(ev);
  sr_eval_free(NULL);
  sr_model_free(mdl);
}

static void test_rank_cut_off_and_metrics(void **state) {
  (void)state;
  /* Popularity counts x 3, y 2, z 1; user t has seen z and then takes y,
   * ranked second behind x: a hit and a reciprocal rank only with n 2. */
  for (size_t n = 1; n <= 2; n++) {
    sr_model_t *mdl = popularity_model();
    sr_eval_t *ev = sr_eval_new(mdl, n);
    assert_non_null(ev);
    feed(ev, "p", "x");
    feed(ev, "q", "x");
    feed(ev, "r", "x");
    feed(ev, "p2", "y");
    feed(ev, "q2", "y");
    feed(ev, "s", "z");
    feed(ev, "t", "z");
    feed(ev, "t", "y");
    const sr_eval_stats_t *st = sr_eval_stats(ev);
    assert_int_equal(st->evaluated, 1);
    /* MRR at n: rank 2 counts only in a list of 2. */
    assert_true(fabs(st->rr_sum - (n == 1 ? 0.0 : 0.5)) < 1e-12);
    if (n == 1) {
      assert_int_equal(st->hits, 0);
      assert_true(st->ndcg_sum == 0.0);
    } else {
      assert_int_equal(st->hits, 1);
      assert_true(fabs(st->ndcg_sum - 1.0 / log2(3.0)) < 1e-12);
    }
    sr_eval_free(ev);
    sr_model_free(mdl);
  }
}

/* Evaluates a model of conf on a generated stream with every component
 * ranked alone too; the blend's figures, and comps. */
static sr_eval_stats_t eval_components(const sr_model_conf_t *conf,
                                       sr_eval_stats_t *comps) {
  enum { N = 2500 };
  sr_event_t *evs = synth_events(100, 80, N, 9);
  sr_model_t *mdl = model_with(conf);
  sr_eval_t *ev = sr_eval_new(mdl, 10);
  assert_non_null(ev);
  sr_eval_set_components(ev, true);
  for (size_t k = 0; k < N; k++)
    assert_int_equal(sr_eval_event(ev, &evs[k]), SR_OK);
  sr_eval_stats_t blend = *sr_eval_stats(ev);
  for (int c = 0; c < SR_COMPONENT__COUNT; c++) {
    comps[c] = *sr_eval_component_stats(ev, (sr_component_t)c);
    assert_int_equal(comps[c].events, blend.events);
    assert_int_equal(comps[c].evaluated, blend.evaluated);
  }
  sr_eval_free(ev);
  sr_model_free(mdl);
  free(evs);
  return blend;
}

static void test_components_alone(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_eval_stats_t comps[SR_COMPONENT__COUNT];
  /* A blend of the factors alone ranks as the factors component does. */
  sr_model_conf_init(&conf);
  conf.seen_size = 0;
  conf.blend = SR_BLEND_FIXED;
  conf.cooc_weight = 0;
  conf.pop_blend = 0;
  sr_eval_stats_t blend = eval_components(&conf, comps);
  assert_true(blend.hits > 0);
  assert_int_equal(comps[SR_COMPONENT_FACTORS].hits, blend.hits);
  assert_true(comps[SR_COMPONENT_FACTORS].rr_sum == blend.rr_sum);
  /* Without a co-occurrence model its component lists nothing. */
  assert_int_equal(comps[SR_COMPONENT_COOC].hits, 0);
  /* Every user on the popularity list: popularity's component is it. */
  conf.min_user_events = UINT32_MAX;
  blend = eval_components(&conf, comps);
  assert_int_equal(comps[SR_COMPONENT_POPULARITY].hits, blend.hits);
  /* The default blend: each component finds some items, and the blend
   * more than any one of them. */
  sr_model_conf_init(&conf);
  conf.seen_size = 0;
  blend = eval_components(&conf, comps);
  for (int c = 0; c < SR_COMPONENT__COUNT; c++) {
    assert_true(comps[c].hits > 0);
    assert_true(comps[c].hits < blend.hits);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_figures),
      cmocka_unit_test(test_lists_match_ranks),
      cmocka_unit_test(test_learner_beats_popularity),
      cmocka_unit_test(test_protocol_edge_cases),
      cmocka_unit_test(test_rank_cut_off_and_metrics),
      cmocka_unit_test(test_components_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
