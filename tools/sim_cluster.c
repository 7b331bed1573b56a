/* Cluster mode's recommendation quality, simulated in one process: N
 * models share items as `streamrec run` instances do (docs/scaling.md),
 * with Kafka replaced by direct calls. Not a test: prints figures.
 *
 *   sim_cluster EVENTS FORMAT INSTANCES SYNC_EVENTS [ITEMS]
 *
 * Each event goes to the instance its user id hashes to (as a keyed input
 * topic sends a user's events to one partition) and is learned there
 * through sr_share_learn; every SYNC_EVENTS events each instance's item
 * deltas (sr_share_take_deltas) are applied to every other instance, as
 * the sync topic carries them. ITEMS, an item file as `eval --items`
 * takes, gives every instance the content of every item first, as the
 * items topic does. Before it is learned, each event is tested on its
 * instance as `streamrec eval` tests it (its user has an earlier event;
 * a hit when its item ranks in the first 10 of every item, the user's own
 * earlier items left out), and the figures are recall@10 overall and on
 * cold-item events (the item had fewer than SR_EVAL_COLD earlier events
 * in the stream). With 1 instance the figures are `eval`'s. Events are
 * taken in file order: sort them by time first. */
#include "codec/event_file.h"
#include "codec/item_file.h"
#include "core/idmap.h"
#include "core/share.h"
#include "streamrec/eval.h"
#include "streamrec/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_INSTANCES 16
#define TOP_N 10

typedef struct sim {
  sr_model_t *mdl[MAX_INSTANCES];
  uint32_t n;
  int64_t offset[MAX_INSTANCES]; /* next input offset of each instance */
  sr_idmap_t *items;             /* every item of the stream */
  uint32_t *item_events;         /* per row of items: events so far */
  uint32_t item_cap;
  uint64_t tested, hits, cold_tested, cold_hits;
} sim_t;

static void die(const char *what) {
  fprintf(stderr, "sim_cluster: %s\n", what);
  exit(1);
}

static sr_model_t *new_model(bool shared) {
  sr_model_conf_t conf;
  char errstr[256];
  sr_model_conf_init(&conf);
  /* eval's protocol: every earlier item of the user is left out. */
  conf.seen_size = 0;
  conf.shared = shared;
  sr_model_t *mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  if (!mdl)
    die(errstr);
  return mdl;
}

static int add_item(void *opaque, const sr_item_t *item,
                    const sr_item_content_t *ct) {
  sim_t *s = opaque;
  for (uint32_t k = 0; k < s->n; k++)
    if (sr_model_set_content(s->mdl[k], item->item_id, item->item_len,
                             (const char *const *)ct->features,
                             ct->feature_lens, ct->n_features, ct->embedding,
                             ct->n_embedding) == SR_ERR_NOMEM)
      return -1;
  return 0;
}

static void load_items(sim_t *s, const char *path) {
  char errstr[512] = "";
  uint64_t rejected = 0;
  if (sr_item_file_read(path, 0, add_item, s, &rejected, errstr,
                        sizeof(errstr)) != 0)
    die(errstr[0] ? errstr : "out of memory");
}

/* The stream's count of earlier events of the event's item, counted. */
static uint32_t count_item(sim_t *s, const sr_event_t *ev) {
  int created;
  int64_t row = sr_idmap_intern(s->items, ev->item_id, ev->item_len, &created);
  if (row < 0)
    die("out of memory");
  if ((uint32_t)row >= s->item_cap) {
    uint32_t cap = s->item_cap ? s->item_cap * 2 : 4096;
    uint32_t *p = realloc(s->item_events, cap * sizeof(*p));
    if (!p)
      die("out of memory");
    memset(p + s->item_cap, 0, (cap - s->item_cap) * sizeof(*p));
    s->item_events = p;
    s->item_cap = cap;
  }
  return s->item_events[row]++;
}

/* Tests ev on mdl before it is learned, as sr_eval_event does. */
static void test_event(sim_t *s, sr_model_t *mdl, const sr_event_t *ev,
                       bool cold) {
  int64_t user = sr_model_find_user(mdl, ev->user_id, ev->user_len);
  if (user < 0)
    return;
  int64_t item = sr_model_find_item(mdl, ev->item_id, ev->item_len);
  uint64_t rank = 0;
  if (item >= 0 &&
      sr_model_rank_item(mdl, (uint32_t)user, (uint32_t)item, TOP_N, &rank))
    die("out of memory");
  bool hit = rank >= 1 && rank <= TOP_N;
  s->tested++;
  s->hits += hit;
  s->cold_tested += cold;
  s->cold_hits += cold && hit;
}

typedef struct deliver {
  sim_t *s;
  uint32_t from;
} deliver_t;

static int deliver(void *opaque, const sr_item_delta_t *d) {
  const deliver_t *dl = opaque;
  for (uint32_t k = 0; k < dl->s->n; k++)
    if (k != dl->from && sr_share_apply_delta(dl->s->mdl[k], d) != SR_OK)
      return -1;
  return 0;
}

/* Every instance's deltas to every other one, and their events' decay. */
static void sync_all(sim_t *s) {
  for (uint32_t k = 0; k < s->n; k++) {
    deliver_t dl = {s, k};
    uint64_t events = 0;
    if (sr_share_take_deltas(s->mdl[k], deliver, &dl, &events) != 0)
      die("out of memory applying deltas");
    for (uint32_t j = 0; j < s->n; j++)
      if (j != k)
        sr_share_advance(s->mdl[j], events);
  }
}

static void learn(sim_t *s, uint32_t k, const sr_event_t *ev) {
  sr_err_t err;
  if (s->n == 1) {
    err = sr_model_learn(s->mdl[0], ev, NULL);
  } else {
    bool skipped;
    err = sr_share_learn(s->mdl[k], ev, (int32_t)k, s->offset[k]++, NULL,
                         &skipped, NULL);
  }
  if (err == SR_ERR_NOMEM)
    die("out of memory");
}

static void run(sim_t *s, const char *path, sr_file_fmt_t fmt, uint64_t sync) {
  char errstr[512];
  sr_event_reader_t *rd =
      sr_event_reader_open(path, fmt, errstr, sizeof(errstr));
  if (!rd)
    die(errstr);
  sr_event_t ev;
  sr_reason_t reason;
  uint64_t n = 0;
  while (sr_event_reader_next(rd, &ev, &reason, errstr, sizeof(errstr)) == 1) {
    if (reason != SR_REASON_OK)
      continue;
    uint32_t k = (uint32_t)(XXH3_64bits(ev.user_id, ev.user_len) % s->n);
    bool cold = count_item(s, &ev) < SR_EVAL_COLD;
    test_event(s, s->mdl[k], &ev, cold);
    learn(s, k, &ev);
    if (s->n > 1 && ++n % sync == 0)
      sync_all(s);
  }
  sr_event_reader_free(rd);
}

int main(int argc, char **argv) {
  sr_file_fmt_t fmt;
  if (argc < 5 || argc > 6 || sr_file_fmt_parse(argv[2], &fmt) != 0) {
    fprintf(stderr, "usage: sim_cluster EVENTS jsonl|proto|tsv INSTANCES "
                    "SYNC_EVENTS [ITEMS]\n");
    return 2;
  }
  sim_t s = {.n = (uint32_t)atoi(argv[3])};
  uint64_t sync = strtoull(argv[4], NULL, 10);
  if (s.n < 1 || s.n > MAX_INSTANCES || sync < 1)
    die("1 to 16 instances, and a sync every 1 event or more");
  for (uint32_t k = 0; k < s.n; k++)
    s.mdl[k] = new_model(s.n > 1);
  if (!(s.items = sr_idmap_new()))
    die("out of memory");
  if (argc == 6)
    load_items(&s, argv[5]);
  run(&s, argv[1], fmt, sync);
  printf("instances %u, sync every %llu events%s: recall@%d %.4f (%llu "
         "tested), cold-item %.4f (%llu tested)\n",
         s.n, (unsigned long long)sync, argc == 6 ? ", with items" : "", TOP_N,
         s.tested ? (double)s.hits / (double)s.tested : 0.0,
         (unsigned long long)s.tested,
         s.cold_tested ? (double)s.cold_hits / (double)s.cold_tested : 0.0,
         (unsigned long long)s.cold_tested);
  for (uint32_t k = 0; k < s.n; k++)
    sr_model_free(s.mdl[k]);
  sr_idmap_free(s.items);
  free(s.item_events);
  return 0;
}
