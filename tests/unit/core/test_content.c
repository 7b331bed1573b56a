/* Tests of the content learner: one learning step against hand-computed
 * tables (tokens and embedding), a new item starting at its content
 * factor, the blend of a cold item, its refresh waiting for credit, a wrong
 * embedding length refused, replayed content changing nothing, a cold user
 * served its items' content neighbours, the memory counted, a deterministic
 * digest, a snapshot restored bit-exact, content factors kept as the model
 * grows, memory for them only where items have content, and the AVX2 kernels
 * learning what the scalar path learns, and long embeddings reduced alike
 * before and after a restore. */
#include "core/content.h"
#include "core/learner.h"
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

static const char *const XY[] = {"genre:x", "genre:y"};
static const size_t XY_LEN[] = {7, 7};

static sr_model_conf_t conf_of(uint32_t cold) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 4;
  conf.negatives = 0;
  conf.content_budget = 100000000;
  conf.content_refresh = 0;
  conf.content_learn_rate = 0.5f;
  conf.cold_item_events = cold;
  return conf;
}

static void learn(sr_model_t *mdl, const char *user, const char *item,
                  int64_t ts) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 0, ts);
  assert_int_equal(sr_model_learn(mdl, &ev, NULL), SR_OK);
}

static uint32_t row_of(const sr_model_t *mdl, const char *id) {
  int64_t row = sr_model_find_item(mdl, id, strlen(id));
  assert_true(row >= 0);
  return (uint32_t)row;
}

static const float *factor_of(const sr_model_t *mdl, const char *id) {
  return sr_factors_row(&mdl->ifac, row_of(mdl, id));
}

static void set_xy(sr_model_t *mdl, const char *id) {
  assert_int_equal(
      sr_model_set_content(mdl, id, strlen(id), XY, XY_LEN, 2, NULL, 0), SR_OK);
}

static void assert_close(const float *a, const float *b, uint32_t n) {
  for (uint32_t k = 0; k < n; k++)
    if (fabsf(a[k] - b[k]) > 1e-6f)
      fail_msg("[%u]: %g != %g", k, a[k], b[k]);
}

/* Learns one event of "u" on item id, whose content is set and whose
 * tables are still zero, and asserts that the step took half the error
 * (conf_of's rate) off its content factor: the factor becomes half the
 * item's factor, written to want (4 floats). Returns the item's factor. */
static const float *assert_half_step(sr_model_t *mdl, const char *id,
                                     float *want) {
  float c[64];
  learn(mdl, "u", id, 1);
  const float *v = factor_of(mdl, id);
  assert_int_equal(sr_content_factor(mdl, row_of(mdl, id), c), 1);
  for (int k = 0; k < 4; k++)
    want[k] = 0.5f * v[k];
  assert_close(c, want, 4);
  return v;
}

/* Tables start at zero, so the first item's content factor is 0, and one
 * step with error v = its factor puts 0.5 / sqrt(2) v in each token row:
 * the content factor becomes (1 / sqrt 2)(2 * 0.5 / sqrt 2) v = 0.5 v. */
static void test_token_step(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(1);
  sr_model_t *mdl = model_with(&conf);
  set_xy(mdl, "a");
  float zero[4] = {0}, want[4];
  assert_close(factor_of(mdl, "a"), zero, 4);
  const float *v = assert_half_step(mdl, "a", want);
  assert_true(fabsf(v[0]) + fabsf(v[1]) > 0);
  /* A new item with the same tokens starts at that content factor. */
  set_xy(mdl, "b");
  assert_close(factor_of(mdl, "b"), want, 4);
  sr_model_free(mdl);
}

/* The embedding (3, 4) is stored as (0.6, 0.8); one step adds 0.5 e_d v to
 * row d of the projection, so c = (0.36 + 0.64) 0.5 v = 0.5 v. */
static void test_embedding_step(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(1);
  sr_model_t *mdl = model_with(&conf);
  const float emb[2] = {3, 4};
  assert_int_equal(sr_model_set_content(mdl, "a", 1, NULL, NULL, 0, emb, 2),
                   SR_OK);
  float want[4];
  const float *v = assert_half_step(mdl, "a", want);
  const float *p = mdl->content.proj;
  for (int k = 0; k < 4; k++) {
    assert_true(fabsf(p[k] - 0.3f * v[k]) < 1e-6f);
    assert_true(fabsf(p[mdl->content.stride + k] - 0.4f * v[k]) < 1e-6f);
  }
  uint32_t dims = 0;
  assert_int_equal(sr_model_content_items(mdl, &dims), 1);
  assert_int_equal(dims, 2);
  const float three[3] = {1, 2, 3};
  assert_int_equal(sr_model_set_content(mdl, "b", 1, NULL, NULL, 0, three, 3),
                   SR_ERR_INVALID);
  assert_true(sr_model_find_item(mdl, "b", 1) < 0);
  sr_model_free(mdl);
}

/* Two tokens and the embedding (0.6, 0.8) together: the step is halved
 * (the input's squared length is 2), so the content factor still moves by
 * 0.5 of the error: (1 / sqrt 2)(2 * 0.25 / sqrt 2) v + (0.36 + 0.64) 0.25 v
 * = 0.5 v. */
static void test_both_step(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(1);
  sr_model_t *mdl = model_with(&conf);
  const float emb[2] = {3, 4};
  assert_int_equal(sr_model_set_content(mdl, "a", 1, XY, XY_LEN, 2, emb, 2),
                   SR_OK);
  float want[4];
  const float *v = assert_half_step(mdl, "a", want);
  const float *p = mdl->content.proj;
  for (int k = 0; k < 4; k++)
    assert_true(fabsf(p[k] - 0.15f * v[k]) < 1e-6f);
  sr_model_free(mdl);
}

/* A model with cold_item_events 4 and no learning budget: item "w" with
 * content, token rows of fixed values, then item "n" with content whose
 * factor comes from them. */
static sr_model_t *cold_pair(void) {
  sr_model_conf_t conf = conf_of(4);
  conf.content_budget = 0;
  sr_model_t *mdl = model_with(&conf);
  set_xy(mdl, "w");
  for (uint32_t k = 0; k < mdl->content.buckets * mdl->content.stride; k++)
    mdl->content.tok[k] = (float)(k % 7) * 0.01f;
  set_xy(mdl, "n");
  return mdl;
}

/* With cold_item_events 4, an item's first event leaves its factor at
 * 3/4 of its content factor and 1/4 of what the learning step made of it;
 * at the fourth event it is its own. */
static void test_cold_blend(void **state) {
  (void)state;
  sr_model_t *mdl = cold_pair();
  const sr_model_conf_t conf = mdl->conf;
  uint32_t s = mdl->ifac.stride;
  float c[64];
  sr_content_factor(mdl, row_of(mdl, "n"), c);
  assert_close(factor_of(mdl, "n"), c, 4);
  learn(mdl, "v", "other", 1);
  uint32_t u = (uint32_t)sr_model_find_user(mdl, "v", 1);
  float urow[64], irow[64];
  memcpy(urow, sr_factors_row(&mdl->ufac, u), s * sizeof(float));
  memcpy(irow, c, s * sizeof(float));
  sr_learner_step(urow, irow, s, 1.0f, conf.weights[SR_EV_CLICK],
                  conf.learn_rate, conf.reg);
  learn(mdl, "v", "n", 2);
  float want[4];
  for (int k = 0; k < 4; k++)
    want[k] = 0.75f * c[k] + 0.25f * irow[k];
  assert_close(factor_of(mdl, "n"), want, 4);
  assert_int_equal(mdl->content.ievents[row_of(mdl, "n")], 1);
  for (int k = 0; k < 3; k++)
    learn(mdl, "v", "n", 3 + k);
  assert_int_equal(mdl->content.ievents[row_of(mdl, "n")], 4);
  memcpy(urow, sr_factors_row(&mdl->ufac, u), s * sizeof(float));
  memcpy(irow, factor_of(mdl, "n"), s * sizeof(float));
  sr_learner_step(urow, irow, s, 1.0f, conf.weights[SR_EV_CLICK],
                  conf.learn_rate, conf.reg);
  learn(mdl, "v", "n", 9);
  assert_close(factor_of(mdl, "n"), irow, 4);
  sr_model_free(mdl);
}

/* The refresh blends a cold item again only when its credit brings the
 * item's content factor up to date: with no budget, events on another
 * item leave it as its own event left it; with one, the next event's
 * refresh blends it (one event of four: 3/4 content). */
static void test_refresh_waits_for_credit(void **state) {
  (void)state;
  sr_model_t *mdl = cold_pair();
  mdl->conf.content_refresh = 1;
  learn(mdl, "v", "n", 1);
  uint32_t n = row_of(mdl, "n"), s = mdl->ifac.stride;
  float before[64], c[64], want[4];
  memcpy(before, sr_factors_row(&mdl->ifac, n), s * sizeof(float));
  for (int e = 0; e < 5; e++)
    learn(mdl, "x", "w", 2 + e);
  assert_close(sr_factors_row(&mdl->ifac, n), before, 4);
  mdl->conf.content_budget = 100000000;
  learn(mdl, "x", "w", 9);
  sr_content_factor(mdl, n, c);
  for (int k = 0; k < 4; k++)
    want[k] = 0.75f * c[k] + 0.25f * before[k];
  assert_close(sr_factors_row(&mdl->ifac, n), want, 4);
  sr_model_free(mdl);
}

/* A model whose embeddings of 20 floats are reduced to 8 (conf_of's 4
 * dims), with item "a" of embedding e (20 floats). */
static sr_model_t *sketched(const float *e) {
  sr_model_conf_t conf = conf_of(1);
  conf.content_sketch = 8;
  sr_model_t *mdl = model_with(&conf);
  assert_int_equal(sr_model_set_content(mdl, "a", 1, NULL, NULL, 0, e, 20),
                   SR_OK);
  return mdl;
}

/* An embedding longer than model.content_sketch is learned as the fixed
 * +-1 matrix times it, scaled to unit length: the model reports and
 * demands the embedding's own length, and a restored model reduces alike
 * (the matrix is not stored, the lengths are). */
static void test_sketch(void **state) {
  (void)state;
  float e[20];
  for (int d = 0; d < 20; d++)
    e[d] = (float)((d * 7) % 5) - 2.0f;
  sr_model_t *mdl = sketched(e);
  const sr_content_t *ct = &mdl->content;
  uint32_t dims = 0;
  assert_int_equal(sr_model_content_items(mdl, &dims), 1);
  assert_int_equal(dims, 20);
  assert_int_equal(ct->dims, 8);
  const sr_content_item_t *ic = ct->item[row_of(mdl, "a")];
  assert_int_equal(ic->n_emb, 8);
  double want[8], norm = 0;
  int plus = 0;
  for (int j = 0; j < 8; j++) {
    want[j] = 0;
    for (int d = 0; d < 20; d++) {
      float m = ct->sketch[j * 20 + d];
      assert_true(m == 1.0f || m == -1.0f);
      plus += m > 0;
      want[j] += m * e[d];
    }
    norm += want[j] * want[j];
  }
  assert_true(plus > 40 && plus < 120);
  const float *got = (const float *)(ic->data + ic->n_tok);
  for (int j = 0; j < 8; j++)
    assert_true(fabs(got[j] - want[j] / sqrt(norm)) < 1e-5);
  assert_int_equal(sr_model_set_content(mdl, "b", 1, NULL, NULL, 0, e, 8),
                   SR_ERR_INVALID);
  learn(mdl, "u", "a", 1);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_conf_t conf = mdl->conf;
  conf.content_sketch = 0; /* the checkpoint's choice holds */
  sr_model_t *r = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_digest(r), sr_model_digest(mdl));
  assert_int_equal(r->content.raw, 20);
  assert_memory_equal(r->content.sketch, ct->sketch, 8 * 20 * sizeof(float));
  assert_int_equal(sr_model_set_content(r, "b", 1, NULL, NULL, 0, e, 8),
                   SR_ERR_INVALID);
  assert_int_equal(sr_model_set_content(r, "b", 1, NULL, NULL, 0, e, 20),
                   SR_OK);
  assert_int_equal(sr_model_set_content(mdl, "b", 1, NULL, NULL, 0, e, 20),
                   SR_OK);
  assert_int_equal(sr_model_digest(r), sr_model_digest(mdl));
  sr_model_free(r);
  sr_model_free(mdl);
}

/* An item that has content but no event yet scores alike in a model that
 * never stopped and in one restored from its checkpoint: its popularity
 * term is that of an item without events from the start, not only once a
 * restore recomputes it (a restarted daemon ranked such items apart from
 * one that never stopped, and its blend choice parted from it). */
static void test_eventless_item_scores_as_restored(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(3);
  conf.min_user_events = 0;
  sr_model_t *mdl = model_with(&conf);
  set_xy(mdl, "a");
  set_xy(mdl, "new");
  for (int e = 0; e < 4; e++)
    learn(mdl, "u", "a", 1 + e);
  learn(mdl, "v", "b", 5);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(mdl, &snap), SR_OK);
  sr_model_t *r = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  uint32_t items = (uint32_t)sr_model_items(mdl);
  float *live = calloc(items, sizeof(float)),
        *back = calloc(items, sizeof(float));
  assert_non_null(live);
  assert_non_null(back);
  uint32_t u = (uint32_t)sr_model_find_user(mdl, "v", 1);
  assert_int_equal(sr_model_score_user(mdl, u, live, NULL), 0);
  assert_int_equal(sr_model_score_user(r, u, back, NULL), 0);
  uint32_t n = row_of(mdl, "new");
  assert_true(live[n] < -1000.0f);
  assert_memory_equal(live, back, items * sizeof(float));
  free(live);
  free(back);
  sr_model_free(r);
  sr_model_free(mdl);
}

/* Content equal to the item's changes nothing: a catalogue replayed after
 * a restart leaves the model as it was. */
static void test_replay_idempotent(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(10);
  sr_model_t *mdl = model_with(&conf);
  set_xy(mdl, "a");
  for (int k = 0; k < 5; k++)
    learn(mdl, "u", "a", k);
  uint64_t before = sr_model_digest(mdl);
  set_xy(mdl, "a");
  assert_int_equal(sr_model_digest(mdl), before);
  assert_int_equal(sr_model_set_content(mdl, "a", 1, NULL, NULL, 0, NULL, 0),
                   SR_OK);
  assert_int_equal(sr_model_content_items(mdl, NULL), 0);
  assert_true(sr_model_digest(mdl) != before);
  sr_model_free(mdl);
}

/* A cold user whose one event is on an item with content gets a list led
 * by the item with the same content, not by the most popular item. */
static void test_cold_user_neighbours(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.min_user_events = 3;
  sr_model_t *mdl = model_with(&conf);
  char item[16], user[16];
  for (int k = 0; k < 20; k++) {
    snprintf(item, sizeof item, "p%d", k);
    for (int r = 0; r <= k; r++) {
      snprintf(user, sizeof user, "f%d", r);
      learn(mdl, user, item, 100 + k * 30 + r);
    }
  }
  const char *const fa[] = {"genre:a"}, *const fb[] = {"genre:b"};
  const size_t one[] = {7};
  const float ea[2] = {1, 0}, eb[2] = {0, 1};
  for (int k = 0; k < 6; k++) {
    snprintf(item, sizeof item, "a%d", k);
    assert_int_equal(
        sr_model_set_content(mdl, item, strlen(item), fa, one, 1, ea, 2),
        SR_OK);
    snprintf(item, sizeof item, "b%d", k);
    assert_int_equal(
        sr_model_set_content(mdl, item, strlen(item), fb, one, 1, eb, 2),
        SR_OK);
  }
  /* Taste: users who take a-items take a-items, so the tables learn it. */
  int64_t ts = 2000;
  for (int r = 0; r < 300; r++) {
    snprintf(user, sizeof user, "t%d", r);
    char g = r % 2 ? 'a' : 'b';
    for (int k = 0; k < 6; k++) {
      snprintf(item, sizeof item, "%c%d", g, (k + r) % 6);
      learn(mdl, user, item, ts++);
    }
  }
  learn(mdl, "cold", "a0", ts++);
  uint32_t u = (uint32_t)sr_model_find_user(mdl, "cold", 4);
  sr_scored_t out[5];
  size_t count = 0;
  sr_source_t src;
  assert_int_equal(sr_model_recommend(mdl, &u, 1, 5, out, &count, &src), SR_OK);
  assert_int_equal(src, SR_SOURCE_PERSONAL);
  assert_true(count > 0);
  size_t len;
  const char *id = sr_model_item_id(mdl, out[0].item, &len);
  assert_int_equal(id[0], 'a');
  /* A cold user without content items keeps the popularity list. */
  learn(mdl, "cold2", "p3", ts++);
  u = (uint32_t)sr_model_find_user(mdl, "cold2", 5);
  assert_int_equal(sr_model_recommend(mdl, &u, 1, 5, out, &count, &src), SR_OK);
  assert_int_equal(src, SR_SOURCE_POPULAR);
  sr_model_free(mdl);
}

static sr_model_t *trained(const sr_event_t *evs, size_t n, int content) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *mdl = model_with(&conf);
  char item[16], tok[16];
  float emb[8];
  for (int k = 0; content && k < 300; k++) {
    snprintf(item, sizeof item, "i%d", k);
    snprintf(tok, sizeof tok, "g%d", k % 9);
    const char *feat[] = {tok};
    size_t flen[] = {strlen(tok)};
    for (int d = 0; d < 8; d++)
      emb[d] = (float)((k * 7 + d * 3) % 11) - 5.0f;
    assert_int_equal(
        sr_model_set_content(mdl, item, strlen(item), feat, flen, 1, emb, 8),
        SR_OK);
  }
  learn_all(mdl, evs, 0, n);
  return mdl;
}

static void test_digest_and_restore(void **state) {
  (void)state;
  sr_event_t *evs = synth_events(100, 300, 4000, 7);
  sr_model_t *a = trained(evs, 3000, 1), *b = trained(evs, 3000, 1),
             *none = trained(evs, 3000, 0);
  assert_int_equal(sr_model_digest(a), sr_model_digest(b));
  assert_true(sr_model_digest(a) != sr_model_digest(none));
  assert_true(sr_model_bytes(a) >
              sr_model_bytes(none) + 300 * sr_content_size(1, 8));
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(a, &snap), SR_OK);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *r = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_digest(r), sr_model_digest(a));
  assert_int_equal(sr_model_bytes(r) > 0, 1);
  learn_all(a, evs, 3000, 4000);
  learn_all(r, evs, 3000, 4000);
  assert_int_equal(sr_model_digest(r), sr_model_digest(a));
  /* A checkpoint of another bucket count is refused, naming the section. */
  assert_int_equal(sr_model_snapshot(a, &snap), SR_OK);
  conf.content_buckets = 100;
  char err[256] = "";
  sr_model_t *bad = NULL;
  assert_int_equal(sr_model_restore(&conf, &snap, &bad, err, sizeof err),
                   SR_ERR_CORRUPT);
  assert_non_null(strstr(err, "content"));
  sr_model_snapshot_release(&snap);
  sr_model_free(a);
  sr_model_free(b);
  sr_model_free(r);
  sr_model_free(none);
  free(evs);
}

static void set_three(sr_model_t *mdl) {
  float emb[16];
  for (int d = 0; d < 16; d++)
    emb[d] = (float)(d + 1);
  const char *const f1[] = {"topic:1", "topic:2"}, *const f0[] = {"topic:0"};
  const size_t l1[] = {7, 7}, l0[] = {7};
  assert_int_equal(sr_model_set_content(mdl, "i1", 2, f1, l1, 2, emb, 16),
                   SR_OK);
  assert_int_equal(sr_model_set_content(mdl, "i2", 2, f1, l1, 2, emb, 16),
                   SR_OK);
  assert_int_equal(sr_model_set_content(mdl, "i7", 2, f0, l0, 1, NULL, 0),
                   SR_OK);
}

/* A model restored mid-stream, with its catalogue replayed as a restarted
 * daemon replays the items topic, ends as the one that never stopped. */
static void test_restore_then_replay(void **state) {
  (void)state;
  sr_event_t *evs = synth_events(600, 500, 6000, 13);
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  sr_model_t *a = model_with(&conf), *b = model_with(&conf);
  set_three(a);
  set_three(b);
  learn_all(a, evs, 0, 6000);
  learn_all(b, evs, 0, 2500);
  sr_model_snapshot_t snap;
  assert_int_equal(sr_model_snapshot(b, &snap), SR_OK);
  sr_model_t *r = restore_of(&conf, &snap);
  sr_model_snapshot_release(&snap);
  assert_int_equal(sr_model_digest(r), sr_model_digest(b));
  set_three(r);
  assert_int_equal(sr_model_digest(r), sr_model_digest(b));
  learn_all(r, evs, 2500, 6000);
  assert_int_equal(sr_model_digest(r), sr_model_digest(a));
  sr_model_free(a);
  sr_model_free(b);
  sr_model_free(r);
  free(evs);
}

/* Eviction forgets an item's content; a new item in its row has none. */
static void test_evict_forgets(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(4);
  conf.max_items = 2;
  sr_model_t *mdl = model_with(&conf);
  set_xy(mdl, "a");
  learn(mdl, "u", "b", 1);
  learn(mdl, "u", "c", 2);
  assert_true(sr_model_find_item(mdl, "a", 1) < 0);
  assert_int_equal(sr_model_content_items(mdl, NULL), 0);
  assert_int_equal(sr_content_has(mdl, row_of(mdl, "c")), 0);
  sr_model_free(mdl);
}

/* An item's content factor as last computed stays its own while the
 * model grows to thousands of items after it, and an item given content
 * after the growth has its own: a cold user's query is their mean. */
static void test_growth_keeps_factors(void **state) {
  (void)state;
  sr_model_t *mdl = cold_pair();
  float c[64], m[64], q[64];
  sr_content_factor(mdl, row_of(mdl, "n"), c);
  uint32_t cap = mdl->content.cap;
  char item[16];
  for (int k = 0; k < 5000; k++) {
    snprintf(item, sizeof item, "x%d", k);
    learn(mdl, "u", item, 10 + k);
  }
  assert_true(mdl->content.cap > cap);
  const char *const fz[] = {"genre:z"};
  const size_t one[] = {7};
  assert_int_equal(sr_model_set_content(mdl, "m", 1, fz, one, 1, NULL, 0),
                   SR_OK);
  sr_content_factor(mdl, row_of(mdl, "m"), m);
  learn(mdl, "v", "n", 9000);
  learn(mdl, "v", "x7", 9001);
  uint32_t v = (uint32_t)sr_model_find_user(mdl, "v", 1);
  assert_int_equal(sr_content_user_query(mdl, v, q), 1);
  assert_close(q, c, 4);
  learn(mdl, "v", "m", 9002);
  assert_int_equal(sr_content_user_query(mdl, v, q), 2);
  float want[4];
  for (int k = 0; k < 4; k++)
    want[k] = (c[k] + m[k]) / 2;
  assert_close(q, want, 4);
  assert_true(fabsf(c[0] - m[0]) + fabsf(c[1] - m[1]) > 1e-3f);
  sr_model_free(mdl);
}

/* One item with content among thousands costs the model its block and
 * per-item counts, not a content factor's worth of memory per item. */
static void test_sparse_memory(void **state) {
  (void)state;
  sr_model_conf_t conf = conf_of(4);
  conf.dims = 64;
  sr_model_t *with = model_with(&conf), *none = model_with(&conf);
  set_xy(with, "a");
  assert_int_equal(sr_model_find_item(none, "a", 1) >= 0, 0);
  char item[16];
  for (int k = 0; k < 5000; k++) {
    snprintf(item, sizeof item, "x%d", k);
    learn(with, "u", item, 10 + k);
    learn(none, "u", item, 10 + k);
  }
  uint64_t factor = (uint64_t)with->ifac.stride * sizeof(float);
  assert_true(sr_model_bytes(with) > sr_model_bytes(none));
  assert_true(sr_model_bytes(with) - sr_model_bytes(none) <
              (uint64_t)with->icap * factor / 4 +
                  conf.content_buckets * factor);
  sr_model_free(with);
  sr_model_free(none);
}

/* A model of 64 floats a row whose items have three tokens and a
 * 40-float embedding, after 300 events with the default budget. avx2 0
 * takes the scalar and OpenBLAS path. */
static sr_model_t *kernel_model(int avx2) {
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 64;
  conf.cold_item_events = 3;
  sr_model_t *mdl = model_with(&conf);
  for (int n = 0; n < 20; n++) {
    char id[16], tok[3][16];
    const char *toks[3];
    size_t lens[3];
    float emb[40];
    snprintf(id, sizeof(id), "i%d", n);
    for (int t = 0; t < 3; t++) {
      snprintf(tok[t], sizeof(tok[t]), "t%d", (n * 3 + t * 5) % 11);
      toks[t] = tok[t];
      lens[t] = strlen(tok[t]);
    }
    for (int d = 0; d < 40; d++)
      emb[d] = (float)((n * 13 + d * 7) % 17) - 8.0f;
    assert_int_equal(
        sr_model_set_content(mdl, id, strlen(id), toks, lens, 3, emb, 40),
        SR_OK);
    mdl->content.avx2 &= avx2;
  }
  for (int e = 0; e < 300; e++) {
    char user[16], item[16];
    snprintf(user, sizeof(user), "u%d", e % 7);
    snprintf(item, sizeof(item), "i%d", (e * 7 + e / 20) % 20);
    learn(mdl, user, item, e);
  }
  return mdl;
}

/* The AVX2 kernels and the scalar and OpenBLAS path learn the same model,
 * to rounding: every item's factor and content factor. */
static void test_kernels_agree(void **state) {
  (void)state;
  sr_model_t *fast = kernel_model(1), *plain = kernel_model(0);
  assert_int_equal(plain->content.avx2, 0);
  float a[64], b[64];
  for (int n = 0; n < 20; n++) {
    char id[16];
    snprintf(id, sizeof(id), "i%d", n);
    uint32_t r = row_of(fast, id);
    assert_int_equal(r, row_of(plain, id));
    assert_int_equal(sr_content_factor(fast, r, a), 1);
    assert_int_equal(sr_content_factor(plain, r, b), 1);
    for (int k = 0; k < 64; k++) {
      assert_true(fabsf(a[k] - b[k]) < 1e-4f);
      assert_true(fabsf(sr_factors_row(&fast->ifac, r)[k] -
                        sr_factors_row(&plain->ifac, r)[k]) < 1e-4f);
    }
  }
  sr_model_free(fast);
  sr_model_free(plain);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_step),
      cmocka_unit_test(test_embedding_step),
      cmocka_unit_test(test_both_step),
      cmocka_unit_test(test_cold_blend),
      cmocka_unit_test(test_refresh_waits_for_credit),
      cmocka_unit_test(test_sketch),
      cmocka_unit_test(test_eventless_item_scores_as_restored),
      cmocka_unit_test(test_replay_idempotent),
      cmocka_unit_test(test_cold_user_neighbours),
      cmocka_unit_test(test_digest_and_restore),
      cmocka_unit_test(test_evict_forgets),
      cmocka_unit_test(test_restore_then_replay),
      cmocka_unit_test(test_growth_keeps_factors),
      cmocka_unit_test(test_sparse_memory),
      cmocka_unit_test(test_kernels_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
