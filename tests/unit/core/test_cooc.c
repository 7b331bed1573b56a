/* Tests of item co-occurrence: pair weights by gap, forgetting by
 * half-life (across rescales), normalisation, the neighbour bound and
 * symmetry under ever-new items, forgetting an item, snapshots that
 * restore bit-exact, blended scores against a brute-force sum, the powers
 * of the item counts against pow, and the one-item checks a blend trial makes
 * against the scores of every item. */
#include "core/cooc.h"

#include "core/model_internal.h"

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

static void assert_rel(double got, double want, double tol, const char *what) {
  if (fabs(got - want) > tol * fabs(want))
    fail_msg("%s is %.12g, want %.12g", what, got, want);
}

/* Settings with k neighbours, hist previous items, gap decay g and a
 * half-life in events. */
static sr_model_conf_t conf_of(uint32_t k, uint32_t hist, float g,
                               float half_life) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.cooc_neighbours = k;
  conf.cooc_history = hist;
  conf.cooc_gap_decay = g;
  conf.cooc_half_life = half_life;
  conf.cooc_alpha = 0.5f;
  conf.cooc_beta = 0.25f;
  conf.cooc_weight = 1.0f;
  conf.blend = SR_BLEND_FIXED;
  return conf;
}

/* Learns item after a user whose items so far are seq[0 .. n), oldest
 * first. */
static void learn_after(sr_cooc_t *co, uint32_t item, const uint32_t *seq,
                        uint32_t n) {
  uint32_t hist[64];
  for (uint32_t d = 0; d < n; d++)
    hist[d] = seq[n - 1 - d];
  assert_int_equal(sr_cooc_learn(co, item, hist, n), 0);
}

/* Every pair is in both of its rows with the same count, and no row is
 * over k. */
static void check_rows(const sr_cooc_t *co) {
  for (uint32_t i = 0; i < co->items; i++) {
    const sr_cooc_row_t *row = &co->rows[i];
    assert_true(row->len <= co->k);
    for (uint32_t e = 0; e < row->len; e++) {
      uint32_t j = row->ids[e];
      assert_true(j != i);
      assert_true(sr_cooc_count(co, i, j) == sr_cooc_count(co, j, i));
    }
  }
}

static void test_pairs_weighted_by_gap(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 3, 0.5f, 0);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  assert_int_equal(sr_cooc_ensure(&co, 6), 0);
  uint32_t seq[] = {0, 1, 2, 3, 4, 5};
  for (uint32_t k = 0; k < 5; k++)
    learn_after(&co, seq[k], seq, k);
  /* 3 came after 2 (gap 1), 1 (gap 2) and 0 (gap 3). */
  assert_true(sr_cooc_count(&co, 3, 2) == 1.0);
  assert_true(sr_cooc_count(&co, 3, 1) == 0.5);
  assert_true(sr_cooc_count(&co, 3, 0) == 0.25);
  assert_true(sr_cooc_count(&co, 0, 3) == 0.25);
  /* 4 pairs with its last three predecessors only. */
  assert_true(sr_cooc_count(&co, 4, 1) == 0.25);
  assert_true(sr_cooc_count(&co, 4, 0) == 0.0);
  /* 1 followed 0 and 2, 3 and 4 followed 1: 1 + 1 + 0.5 + 0.25. */
  assert_int_equal(sr_cooc_neighbours(&co, 1), 4);
  assert_true(sr_cooc_events(&co, 1) == 1.0);
  /* The item itself in the history pairs with nothing. */
  uint32_t again[] = {4, 3};
  learn_after(&co, 3, again, 2);
  assert_true(sr_cooc_count(&co, 3, 4) == 1.0 + 0.5);
  assert_true(sr_cooc_events(&co, 3) == 2.0);
  check_rows(&co);
  sr_cooc_free(&co);
}

static void test_counts_halve_every_half_life(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 4, 0.5f, 4);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  assert_int_equal(sr_cooc_ensure(&co, 3), 0);
  uint32_t seq[] = {0};
  learn_after(&co, 0, seq, 0);
  learn_after(&co, 1, seq, 1);
  /* Two events: 0's count decayed twice, the pair once. */
  assert_rel(sr_cooc_events(&co, 0), pow(2.0, -2.0 / 4), 1e-12, "N_0");
  assert_rel(sr_cooc_count(&co, 0, 1), pow(2.0, -1.0 / 4), 1e-6, "C[0,1]");
  for (int k = 0; k < 8; k++)
    learn_after(&co, 2, seq, 0);
  assert_rel(sr_cooc_count(&co, 1, 0), pow(2.0, -9.0 / 4), 1e-6, "C[1,0]");
  assert_rel(sr_cooc_events(&co, 2),
             (1 - pow(2.0, -8.0 / 4)) / (pow(2.0, 1.0 / 4) - 1), 1e-9, "N_2");
  sr_cooc_free(&co);
}

/* The increment grows past its rescaling point every 66 half-lives: counts
 * carry on across it, and pairs decayed to nothing are dropped, as are the
 * counts of items not seen since. */
static void test_rescale_keeps_counts(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 1, 1.0f, 10);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  assert_int_equal(sr_cooc_ensure(&co, 4), 0);
  uint32_t old[] = {0}, cur[] = {2};
  learn_after(&co, 0, old, 0);
  learn_after(&co, 2, cur, 0);
  learn_after(&co, 1, old, 1); /* a pair that is never seen again */
  double want = 0;
  for (int k = 0; k < 2000; k++) {
    learn_after(&co, 2, cur, 0);
    learn_after(&co, 3, cur, 1);
    want = want * pow(2.0, -0.2) + 1.0;
  }
  assert_rel(sr_cooc_count(&co, 2, 3), want * pow(2.0, -0.1), 1e-4, "C[2,3]");
  assert_true(sr_cooc_count(&co, 0, 1) == 0.0);
  assert_int_equal(sr_cooc_neighbours(&co, 0), 0);
  assert_int_equal(sr_cooc_neighbours(&co, 1), 0);
  assert_true(sr_cooc_events(&co, 0) == 0.0);
  check_rows(&co);
  sr_cooc_free(&co);
}

static void test_similarity_normalised_by_counts(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 2, 0.5f, 0);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  assert_int_equal(sr_cooc_ensure(&co, 3), 0);
  uint32_t a[] = {0}, b[] = {0, 1};
  learn_after(&co, 0, a, 0);
  learn_after(&co, 1, a, 1);
  learn_after(&co, 0, a, 0);
  learn_after(&co, 0, a, 0);
  learn_after(&co, 2, b, 2);
  /* N_0 = 3, N_1 = 1, N_2 = 1; C[0,1] = 1, C[0,2] = 0.5, C[1,2] = 1. */
  assert_rel(sr_cooc_sim(&co, 0, 1), 1.0 / pow(3, 0.5), 1e-6, "sim(0,1)");
  assert_rel(sr_cooc_sim(&co, 1, 0), 1.0 / pow(3, 0.25), 1e-6, "sim(1,0)");
  assert_rel(sr_cooc_sim(&co, 2, 0), 0.5 / pow(3, 0.25), 1e-6, "sim(2,0)");
  /* Scores from 0 then 1 (decay 0.5), the best divided to 1; 0 and 1
   * excluded with the history, 2 alone is left. */
  uint32_t hist[] = {0, 1}, excl[] = {0, 1};
  sr_scored_t out[16];
  uint32_t n = sr_cooc_score(&co, hist, 2, 0.5f, excl, 2, out);
  assert_int_equal(n, 1);
  assert_int_equal(out[0].item, 2);
  assert_true(out[0].score == 1.0f);
  n = sr_cooc_score(&co, hist, 2, 0.5f, NULL, 0, out);
  assert_int_equal(n, 3);
  double s[3] = {0.5 * sr_cooc_sim(&co, 1, 0), sr_cooc_sim(&co, 0, 1),
                 sr_cooc_sim(&co, 0, 2) + 0.5 * sr_cooc_sim(&co, 1, 2)};
  double max = fmax(s[0], fmax(s[1], s[2]));
  for (uint32_t k = 0; k < n; k++)
    assert_rel(out[k].score, s[out[k].item] / max, 1e-5, "score");
  /* The scratch is clean again: the same call gives the same scores. */
  sr_scored_t again[16];
  assert_int_equal(sr_cooc_score(&co, hist, 2, 0.5f, NULL, 0, again), n);
  assert_memory_equal(out, again, n * sizeof(*out));
  sr_cooc_free(&co);
}

/* Scoring reads each item's powers n^-alpha and n^-beta kept as floats:
 * over counts that grow, decay and rescale (every 200 events with a
 * half-life of 3), they are pow's own results
 * rounded, bit for bit, for the exponents the built-in normalisations use
 * (0, 0.3, 0.5) and another. */
static void test_powers_are_pows(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 1, 0.5f, 3);
  sr_cooc_t co;
  const float alpha[] = {0.3f, 0.5f}, beta[] = {0.5f, 0.0f};
  const float other_a[] = {0.7f, 0.5f}, other_b[] = {0.7f, 0.25f};
  for (int set = 0; set < 2; set++) {
    assert_int_equal(sr_cooc_init(&co, &conf), 0);
    sr_cooc_set_norms(&co, 2, set ? other_a : alpha, set ? other_b : beta);
    assert_int_equal(sr_cooc_ensure(&co, 3), 0);
    uint32_t seq[] = {0};
    for (uint32_t k = 0; k < 20000; k++) {
      uint32_t item = k % 7 == 0 ? 1 : 2;
      learn_after(&co, item, seq, 0);
      for (uint32_t x = 0; x < co.norms; x++) {
        double n = co.n[item];
        float a = (float)pow(n, -co.alpha[x]), b = (float)pow(n, -co.beta[x]);
        if (co.pow_a[item * SR_COOC_NORMS + x] != a ||
            co.it[item].pow_b[x] != b)
          fail_msg("n %.17g: n^-%g is %.9g, n^-%g is %.9g", n,
                   (double)co.alpha[x], (double)a, (double)co.beta[x],
                   (double)b);
      }
    }
    sr_cooc_free(&co);
  }
}

static void test_rows_bounded_under_new_items(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(4, 6, 0.9f, 0);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  uint32_t seq[64];
  uint64_t bytes_at_1000 = 0;
  for (uint32_t item = 0; item < 20000; item++) {
    assert_int_equal(sr_cooc_ensure(&co, item + 1), 0);
    /* Every event on a new item, after the last 6 items and a hub. */
    uint32_t n = 0;
    for (uint32_t d = item > 6 ? item - 6 : 0; d < item; d++)
      seq[n++] = d;
    seq[n++] = 0;
    learn_after(&co, item, seq, n);
    if (item == 999)
      bytes_at_1000 = co.row_bytes;
  }
  check_rows(&co);
  assert_int_equal(sr_cooc_neighbours(&co, 0), 4);
  /* Row memory grows with items, never past k entries each. */
  uint64_t rows = co.row_bytes;
  assert_true(rows <= 20000ull * (4 * 8 + 16));
  assert_true(sr_cooc_bytes(&co) > rows);
  assert_true(rows < 21 * bytes_at_1000);
  sr_cooc_free(&co);
}

static void test_clear_removes_pairs(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(8, 4, 0.9f, 0);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  assert_int_equal(sr_cooc_ensure(&co, 5), 0);
  uint32_t seq[] = {0, 1, 2, 3, 4};
  for (uint32_t k = 0; k < 5; k++)
    learn_after(&co, seq[k], seq, k);
  uint64_t bytes = sr_cooc_bytes(&co);
  sr_cooc_clear(&co, 2);
  assert_true(sr_cooc_events(&co, 2) == 0.0);
  assert_int_equal(sr_cooc_neighbours(&co, 2), 0);
  for (uint32_t i = 0; i < 5; i++)
    assert_true(sr_cooc_count(&co, i, 2) == 0.0);
  assert_true(sr_cooc_count(&co, 1, 3) > 0);
  assert_true(sr_cooc_bytes(&co) < bytes);
  check_rows(&co);
  uint32_t hist[] = {1, 3}, excl[] = {1, 3};
  sr_scored_t out[16];
  uint32_t n = sr_cooc_score(&co, hist, 2, 0.5f, excl, 2, out);
  for (uint32_t k = 0; k < n; k++)
    assert_true(out[k].item != 2);
  sr_cooc_free(&co);
}

/* A model with co-occurrence, learnt from a synthetic stream with item
 * eviction at max_items. */
static sr_model_conf_t model_conf(uint32_t max_items) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.cooc_weight = 0.5f;
  conf.blend = SR_BLEND_FIXED;
  conf.cooc_neighbours = 16;
  conf.max_items = max_items;
  return conf;
}

static void test_eviction_removes_pairs(void **state) {
  (void)state;
  sr_model_conf_t conf = model_conf(60);
  sr_model_t *mdl = model_with(&conf);
  sr_event_t *evs = synth_events(50, 200, 5000, 3);
  learn_all(mdl, evs, 0, 5000);
  uint64_t evicted = 0;
  sr_model_evictions(mdl, NULL, &evicted);
  assert_true(evicted > 0);
  /* A free row has no pairs, and no live row names it. */
  for (uint32_t i = 0; i < sr_model_items(mdl); i++) {
    if (sr_model_item_is_live(mdl, i))
      continue;
    assert_int_equal(sr_cooc_neighbours(&mdl->cooc, i), 0);
    for (uint32_t j = 0; j < sr_model_items(mdl); j++)
      assert_true(sr_cooc_count(&mdl->cooc, j, i) == 0.0);
  }
  check_rows(&mdl->cooc);
  free(evs);
  sr_model_free(mdl);
}

static void test_snapshot_restores_bit_exact(void **state) {
  (void)state;
  sr_model_conf_t conf = model_conf(0);
  sr_model_t *mdl = model_with(&conf);
  sr_event_t *evs = synth_events(100, 300, 6000, 5);
  learn_all(mdl, evs, 0, 4000);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *back = restore_of(&conf, &snap);
  assert_true(sr_model_digest(back) == sr_model_digest(mdl));
  assert_true(sr_model_snapshot_digest(&snap) == sr_model_digest(mdl));
  /* Both go on alike, lists included. */
  learn_all(mdl, evs, 4000, 6000);
  learn_all(back, evs, 4000, 6000);
  assert_true(sr_model_digest(back) == sr_model_digest(mdl));
  uint32_t users[] = {0, 1, 2, 3};
  sr_scored_t a[40], b[40];
  size_t ca[4], cb[4];
  assert_int_equal(sr_model_recommend(mdl, users, 4, 10, a, ca, NULL), SR_OK);
  assert_int_equal(sr_model_recommend(back, users, 4, 10, b, cb, NULL), SR_OK);
  assert_memory_equal(ca, cb, sizeof(ca));
  assert_memory_equal(a, b, sizeof(a));
  sr_model_snapshot_release(&snap);
  sr_model_free(back);
  /* A snapshot without co-occurrence restores with empty counts, and the
   * model learns them from then on. */
  sr_model_conf_t off = conf;
  off.cooc_weight = 0;
  off.blend = SR_BLEND_FIXED;
  sr_model_t *plain = model_with(&off);
  learn_all(plain, evs, 0, 4000);
  assert_int_equal(sr_model_snapshot(plain, &snap), SR_OK);
  sr_model_t *on = restore_of(&conf, &snap);
  for (uint32_t i = 0; i < sr_model_items(on); i++)
    assert_int_equal(sr_cooc_neighbours(&on->cooc, i), 0);
  learn_all(on, evs, 4000, 4100);
  assert_true(sr_model_bytes(on) > sr_model_bytes(plain));
  sr_model_snapshot_release(&snap);
  sr_model_free(on);
  sr_model_free(plain);
  free(evs);
  sr_model_free(mdl);
}

/* sr_model_bytes counts the rows: a pair among known users and items moves
 * it by what the rows took, nothing else. */
static void test_model_bytes_count_rows(void **state) {
  (void)state;
  sr_model_conf_t conf = model_conf(0);
  sr_model_t *mdl = model_with(&conf);
  const char *items[] = {"a", "b", "c"}, *users[] = {"o1", "o2", "o3"};
  for (int k = 0; k < 3; k++) {
    sr_event_t ev = event_for(users[k], items[k], SR_EV_CLICK, 0, 1);
    assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
  }
  sr_event_t a = event_for("u", "a", SR_EV_CLICK, 0, 1);
  sr_event_t b = event_for("u", "b", SR_EV_CLICK, 0, 1);
  assert_int_equal(sr_model_learn(mdl, &a, NULL), SR_OK);
  assert_int_equal(sr_model_learn(mdl, &b, NULL), SR_OK);
  uint64_t model = sr_model_bytes(mdl), rows = sr_cooc_bytes(&mdl->cooc);
  uint64_t evicted = 0;
  /* "u" has a and b; c pairs with both, and c's row is new. */
  sr_event_t c = event_for("u", "c", SR_EV_CLICK, 0, 1);
  assert_int_equal(sr_model_learn(mdl, &c, NULL), SR_OK);
  assert_true(sr_cooc_bytes(&mdl->cooc) > rows);
  assert_int_equal(sr_model_bytes(mdl) - model,
                   sr_cooc_bytes(&mdl->cooc) - rows);
  sr_model_evictions(mdl, NULL, &evicted);
  assert_int_equal(evicted, 0);
  sr_model_free(mdl);
}

/* The blend: a model's scores minus those of the same model without
 * co-occurrence (factors learn alike) are cooc_weight times the sum over
 * the user's latest items, by brute force from sr_cooc_sim, divided by its
 * maximum; and the batched lists agree with those scores. */
static void test_blend_against_brute_force(void **state) {
  (void)state;
  sr_model_conf_t conf = model_conf(0);
  conf.cooc_recent = 4;
  conf.cooc_recent_decay = 0.7f;
  sr_model_conf_t off = conf;
  off.cooc_weight = 0;
  off.blend = SR_BLEND_FIXED;
  sr_model_t *mdl = model_with(&conf), *plain = model_with(&off);
  sr_event_t *evs = synth_events(200, 1500, 20000, 9);
  learn_all(mdl, evs, 0, 20000);
  learn_all(plain, evs, 0, 20000);
  uint32_t items = (uint32_t)sr_model_items(mdl);
  float *with = malloc(items * sizeof(float));
  float *without = malloc(items * sizeof(float));
  double *brute = calloc(items, sizeof(double));
  assert_true(with && without && brute);
  for (uint32_t u = 0; u < 20; u++) {
    assert_int_equal(sr_model_score_user(mdl, u, with, NULL), 0);
    assert_int_equal(sr_model_score_user(plain, u, without, NULL), 0);
    uint32_t hist[4];
    uint32_t n = sr_seen_last(&mdl->seen, u, hist, 4);
    double max = 0;
    for (uint32_t c = 0; c < items; c++) {
      brute[c] = 0;
      for (uint32_t a = 0; a < n; a++)
        brute[c] += pow(0.7, a) * sr_cooc_sim(&mdl->cooc, hist[a], c);
      if (without[c] != -INFINITY && brute[c] > max)
        max = brute[c];
    }
    assert_true(max > 0);
    for (uint32_t c = 0; c < items; c++) {
      if (without[c] == -INFINITY) {
        assert_true(with[c] == -INFINITY);
        continue;
      }
      double want = 0.5 * brute[c] / max;
      if (fabs((with[c] - without[c]) - want) > 1e-4)
        fail_msg("user %u item %u: blend adds %g, want %g", u, c,
                 with[c] - without[c], want);
    }
    /* The list is the best of those scores. */
    sr_scored_t list[10];
    size_t count = 0;
    assert_int_equal(sr_model_recommend(mdl, &u, 1, 10, list, &count, NULL),
                     SR_OK);
    assert_int_equal(count, 10);
    for (size_t k = 0; k < count; k++) {
      uint32_t above = 0;
      for (uint32_t c = 0; c < items; c++)
        above += with[c] > with[list[k].item];
      assert_true(above <= k);
    }
  }
  free(with);
  free(without);
  free(brute);
  free(evs);
  sr_model_free(mdl);
  sr_model_free(plain);
}

/* sr_cooc_scores_item says which items sr_cooc_score_all lists, and
 * sr_cooc_near which are in the rows scored from, for each of many
 * histories over two normalisations, with half the items long unseen
 * (their counts decayed). */
static void test_one_item_checks_agree_with_scores(void **state) {
  (void)state;
  enum { ITEMS = 300, HIST = 6 };
  sr_model_conf_t conf = conf_of(8, 4, 0.9f, 500);
  sr_cooc_t co;
  assert_int_equal(sr_cooc_init(&co, &conf), 0);
  float alpha[] = {0.3f, 0.5f}, beta[] = {0.5f, 0.0f};
  sr_cooc_set_norms(&co, 2, alpha, beta);
  assert_int_equal(sr_cooc_ensure(&co, ITEMS), 0);
  uint32_t seq[64], n = 0, state_ = 7;
  for (uint32_t e = 0; e < 20000; e++) {
    state_ = state_ * 1103515245u + 12345u;
    uint32_t item = (state_ >> 8) % (e < 10000 ? ITEMS : ITEMS / 2);
    learn_after(&co, item, seq + (n > 4 ? n - 4 : 0), n > 4 ? 4 : n);
    seq[n < 64 ? n++ : 63] = item;
    if (n == 64) {
      memmove(seq, seq + 32, 32 * sizeof(uint32_t));
      n = 32;
    }
  }
  uint32_t items[HIST * 8], checked = 0, listed = 0;
  float scores[2 * HIST * 8];
  for (uint32_t h0 = 0; h0 + HIST <= ITEMS; h0 += 7) {
    uint32_t hist[HIST];
    for (uint32_t a = 0; a < HIST; a++)
      hist[a] = (h0 + a * 37) % ITEMS;
    uint32_t got = sr_cooc_score_all(&co, hist, HIST, 0.75f, NULL, 0, items,
                                     scores, HIST * 8);
    uint8_t in[ITEMS] = {0};
    for (uint32_t t = 0; t < got; t++)
      in[items[t]] = 1;
    for (uint32_t i = 0; i < ITEMS; i++) {
      int near = 0;
      for (uint32_t a = 0; a < HIST; a++)
        near |= sr_cooc_count(&co, hist[a], i) > 0;
      assert_int_equal(sr_cooc_near(&co, hist, HIST, i), near);
      assert_int_equal(sr_cooc_scores_item(&co, hist, HIST, 0.75f, i), in[i]);
      checked++;
      listed += in[i];
    }
  }
  assert_true(listed > 100 && listed < checked);
  sr_cooc_free(&co);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairs_weighted_by_gap),
      cmocka_unit_test(test_counts_halve_every_half_life),
      cmocka_unit_test(test_rescale_keeps_counts),
      cmocka_unit_test(test_similarity_normalised_by_counts),
      cmocka_unit_test(test_powers_are_pows),
      cmocka_unit_test(test_rows_bounded_under_new_items),
      cmocka_unit_test(test_clear_removes_pairs),
      cmocka_unit_test(test_eviction_removes_pairs),
      cmocka_unit_test(test_snapshot_restores_bit_exact),
      cmocka_unit_test(test_model_bytes_count_rows),
      cmocka_unit_test(test_blend_against_brute_force),
      cmocka_unit_test(test_one_item_checks_agree_with_scores),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
