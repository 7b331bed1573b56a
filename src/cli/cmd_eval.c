/* streamrec eval: prequential evaluation of the learner on a file. */
#include "cli/cli.h"
#include "codec/event_file.h"
#include "codec/item_file.h"
#include "codec/reason.h"
#include "core/ann.h"
#include "core/idmap.h"
#include "daemon/config.h"
#include "streamrec/eval.h"
#include "util/grow.h"
#include "util/now.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct eval_args {
  const char *path;
  const char *format; /* --format, else NULL: from the file's name */
  const char *items;  /* --items FILE, else NULL */
  sr_file_fmt_t fmt;
  int sort;
  int json;
  int baseline_pop;
  int components;
  int has_min_value;
  double min_value;
  size_t n;
  sr_config_t cfg;
} eval_args_t;

/* An event as eval keeps it between reading and learning: its ids as rows
 * of one map, 24 bytes where an sr_event_t takes over 500, so that a
 * stream of tens of millions of ratings fits in memory. */
typedef struct kept_event {
  int64_t timestamp_ms;
  uint32_t user, item; /* rows of event_vec_t.ids */
  float value;
  uint8_t type;
} kept_event_t;

typedef struct event_vec {
  kept_event_t *ev;
  size_t len;
  size_t cap;
  sr_idmap_t *ids; /* user and item ids alike */
} event_vec_t;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: streamrec eval FILE [options]\n\n"
      "Prequential (test-then-train) evaluation: for each event whose user "
      "has an\nearlier event, rank every item seen before it, excluding "
      "the user's own\nearlier items; a hit if the event's item is in the "
      "top N; then learn from it.\nPrints recall@N, NDCG@N and MRR@N (1/rank "
      "within the top N, else 0).\n\n"
      "  --format jsonl|proto|tsv  input format (default: from the file "
      "name,\n                            .jsonl jsonl, .pb proto, "
      ".dat/.tsv/.csv/.data tsv;\n                            else from "
      "its first line; jsonl for a pipe)\n"
      "  --sort                    stable-sort events by timestamp first\n"
      "  --min-value X             skip events whose value is below X\n"
      "  -N, --n N                 list length (default 10)\n"
      "  --baseline pop            also evaluate the popularity ranker\n"
      "  --components              also rank by each part of the blend "
      "alone\n                            (factors, popularity, "
      "co-occurrence)\n"
      "  --items FILE              load item content first: Item JSONL or "
      "TSV,\n                            MovieLens movies.dat, movies.csv "
      "or u.item\n                            (by name, else by the first "
      "line); exits 1\n                            when no item has "
      "content\n"
      "  --json                    print one JSON object\n"
      "  -c, --config FILE         JSON config file (model.* options)\n"
      "  --set KEY=VALUE           set one option (repeatable)\n"
      "  -h, --help                this text\n\n"
      "Model options:\n");
  sr_config_print_help(out, "model.");
}

/* sr_cli_getopt's callback: one option of eval's own. */
static int parse_option(int c, void *arg) {
  eval_args_t *a = arg;
  char *end;
  switch (c) {
  case 'f': a->format = optarg; return 0;
  case 'i': a->items = optarg; return 0;
  case 's': a->sort = 1; return 0;
  case 'j': a->json = 1; return 0;
  case 'C': a->components = 1; return 0;
  case 'm':
    a->min_value = strtod(optarg, &end);
    if (*end || !*optarg)
      return sr_cli_err("eval", "--min-value: '%s' is not a number", optarg),
             -1;
    a->has_min_value = 1;
    return 0;
  case 'N':
    a->n = strtoul(optarg, &end, 10);
    if (*end || a->n == 0 || a->n > 100000)
      return sr_cli_err("eval", "-N: '%s' is not a count in 1..100000", optarg),
             -1;
    return 0;
  case 'b':
    if (strcmp(optarg, "pop"))
      return sr_cli_err("eval", "--baseline: '%s' unknown (only 'pop')",
                        optarg),
             -1;
    a->baseline_pop = 1;
    return 0;
  }
  return -1;
}

/* Returns 0 to go on, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, eval_args_t *a) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'},
      {"sort", no_argument, NULL, 's'},
      {"min-value", required_argument, NULL, 'm'},
      {"n", required_argument, NULL, 'N'},
      {"baseline", required_argument, NULL, 'b'},
      {"items", required_argument, NULL, 'i'},
      {"json", no_argument, NULL, 'j'},
      {"components", no_argument, NULL, 'C'},
      SR_CLI_CONFIG_LONGOPTS,
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof(*a));
  a->n = 10;
  sr_config_init(&a->cfg);
  int rc = sr_cli_getopt("eval", argc, argv, ":N:c:h", longopts, parse_option,
                         usage, a, &a->cfg);
  if (rc != 0)
    return rc;
  if (optind + 1 != argc) {
    sr_cli_err("eval", "expects exactly one FILE (see --help)");
    return -1;
  }
  a->path = argv[optind];
  a->fmt = sr_file_fmt_guess(a->path);
  if (a->format && sr_file_fmt_parse(a->format, &a->fmt) != 0) {
    sr_cli_err("eval", "--format: '%s' is not jsonl, proto or tsv", a->format);
    return -1;
  }
  return 0;
}

static int push_event(event_vec_t *vec, const sr_event_t *ev) {
  int created;
  if (!vec->ids && !(vec->ids = sr_idmap_new()))
    return -1;
  int64_t user = sr_idmap_intern(vec->ids, ev->user_id, ev->user_len, &created);
  int64_t item = sr_idmap_intern(vec->ids, ev->item_id, ev->item_len, &created);
  if (user < 0 || item < 0 ||
      SR_GROW(vec->ev, vec->cap, vec->len + 1, 4096) != 0)
    return -1;
  vec->ev[vec->len++] =
      (kept_event_t){ev->timestamp_ms, (uint32_t)user, (uint32_t)item,
                     ev->value, (uint8_t)ev->type};
  return 0;
}

/* Event i of vec, whole again. */
static void event_at(const event_vec_t *vec, size_t i, sr_event_t *out) {
  const kept_event_t *k = &vec->ev[i];
  size_t len;
  const char *id = sr_idmap_id(vec->ids, k->user, &len);
  memcpy(out->user_id, id, len + 1);
  out->user_len = (uint16_t)len;
  id = sr_idmap_id(vec->ids, k->item, &len);
  memcpy(out->item_id, id, len + 1);
  out->item_len = (uint16_t)len;
  out->type = (sr_event_type_t)k->type;
  out->value = k->value;
  out->timestamp_ms = k->timestamp_ms;
}

static void event_vec_free(event_vec_t *vec) {
  free(vec->ev);
  sr_idmap_free(vec->ids);
}

/* Reads every valid event; invalid records are counted and the first few
 * reported, so one bad line does not end an evaluation. */
static int read_events(const eval_args_t *a, event_vec_t *vec,
                       uint64_t *rejected) {
  char errstr[512];
  sr_event_reader_t *rd =
      sr_event_reader_open(a->path, a->fmt, errstr, sizeof(errstr));
  if (!rd)
    return sr_cli_err("eval", "%s", errstr), -1;
  sr_event_t ev;
  sr_reason_t reason;
  int rc;
  while ((rc = sr_event_reader_next(rd, &ev, &reason, errstr,
                                    sizeof(errstr))) == 1) {
    if (reason != SR_REASON_OK) {
      if ((*rejected)++ < 5)
        sr_cli_err("eval", "skipping invalid record: %s", errstr);
      continue;
    }
    if (a->has_min_value && ev.value < a->min_value)
      continue;
    if (push_event(vec, &ev) != 0) {
      rc = -1;
      snprintf(errstr, sizeof(errstr), "out of memory");
      break;
    }
  }
  if (rc < 0)
    sr_cli_err("eval", "%s: %s", a->path, errstr);
  sr_event_reader_free(rd);
  return rc < 0 ? -1 : 0;
}

/* Without --sort the file's order is the stream's. A file sorted by user
 * (MovieLens 1M's ratings.dat) replays each user's whole history at once,
 * and its figures mean little: said when more than 1% of the events are
 * older than the one before. */
static void warn_order(const eval_args_t *a, const event_vec_t *vec) {
  uint64_t back = 0;
  for (size_t k = 1; k < vec->len; k++)
    back += vec->ev[k].timestamp_ms < vec->ev[k - 1].timestamp_ms;
  if (a->sort || back * 100 <= vec->len)
    return;
  sr_cli_err("eval",
             "%s: %llu of %zu events are older than the one before them; the "
             "figures replay the file's order, --sort replays time's",
             a->path, (unsigned long long)back, vec->len);
}

/* An event's place in the sort: its timestamp, then its place in the file,
 * so that qsort's order is the stable one. */
typedef struct sort_key {
  int64_t ts;
  size_t at;
} sort_key_t;

static int cmp_key(const void *pa, const void *pb) {
  const sort_key_t *a = pa, *b = pb;
  if (a->ts != b->ts)
    return (a->ts > b->ts) - (a->ts < b->ts);
  return (a->at > b->at) - (a->at < b->at);
}

/* Stable sort by timestamp: the keys are sorted, then each event copied
 * once to its place. */
static int stable_sort(event_vec_t *vec) {
  sort_key_t *key = malloc((vec->len + 1) * sizeof(*key));
  kept_event_t *out = malloc((vec->len + 1) * sizeof(*out));
  if (!key || !out) {
    free(key);
    free(out);
    return -1;
  }
  for (size_t k = 0; k < vec->len; k++)
    key[k] = (sort_key_t){vec->ev[k].timestamp_ms, k};
  qsort(key, vec->len, sizeof(*key), cmp_key);
  for (size_t k = 0; k < vec->len; k++)
    out[k] = vec->ev[key[k].at];
  free(key);
  free(vec->ev);
  vec->ev = out;
  vec->cap = vec->len + 1;
  return 0;
}

/* Progress on stderr: redrawn in place four times a second on a terminal;
 * elsewhere (a log) one line every 10 s, once a run lasts that long. */
typedef struct progress {
  int tty;
  uint64_t start, last; /* ns */
} progress_t;

static void progress_tick(progress_t *p, const sr_eval_stats_t *st, size_t done,
                          size_t total) {
  uint64_t now = sr_mono_ns(), every = p->tty ? 250000000ull : 10000000000ull;
  if ((done & 1023) != 0 || now - p->last < every)
    return;
  p->last = now;
  double secs = (double)(now - p->start) / 1e9;
  fprintf(stderr, "%s%llu/%zu events (%.0f%%), recall %.4f, %.0f events/s%s",
          p->tty ? "\r" : "eval: ", (unsigned long long)st->events, total,
          100.0 * (double)st->events / (double)(total ? total : 1),
          st->evaluated ? (double)st->hits / (double)st->evaluated : 0.0,
          secs > 0 ? (double)st->events / secs : 0.0, p->tty ? " " : "\n");
}

static void progress_end(const progress_t *p) {
  if (p->tty)
    fprintf(stderr, "\r\033[K");
}

/* Makes event i + 2 whole into ahead and tells the model of it and of event
 * i + 1 (sr_model_prefetch_ids, _rows): ahead holds events i .. i + 2. */
static void look_ahead(const sr_model_t *mdl, const event_vec_t *vec, size_t i,
                       sr_event_t ahead[4]) {
  if (i + 2 < vec->len) {
    event_at(vec, i + 2, &ahead[(i + 2) % 4]);
    sr_model_prefetch_ids(mdl, &ahead[(i + 2) % 4]);
  }
  if (i + 1 < vec->len)
    sr_model_prefetch_rows(mdl, &ahead[(i + 1) % 4]);
}

/* Copies each component's figures into comps (none when NULL). */
static void take_components(const sr_eval_t *ev, sr_eval_stats_t *comps) {
  for (int c = 0; comps && c < SR_COMPONENT__COUNT; c++)
    comps[c] = *sr_eval_component_stats(ev, (sr_component_t)c);
}

/* recommend.retrieval in eval: the model borrows an index rebuilt here,
 * when due, as the daemon's is in the background. A file replays months of
 * events in seconds, so the period would rebuild at nearly every event:
 * the drift threshold decides, and the events' time stands in for the
 * clock of recommend.ann_refresh_s only when the drift is 0. */
typedef struct eval_index {
  const sr_config_t *cfg; /* NULL: exact scoring only */
  sr_ann_t *ann;
  uint64_t events_at; /* events learnt when it was built */
  int64_t ts_at;      /* the event time then */
} eval_index_t;

static int index_wanted(const eval_index_t *ix, const sr_model_t *mdl) {
  sr_retrieval_mode_t mode =
      ix->cfg ? ix->cfg->recommend.retrieval : SR_RETRIEVAL_EXACT;
  return mode == SR_RETRIEVAL_ANN ||
         (mode == SR_RETRIEVAL_AUTO &&
          sr_model_items(mdl) >= ix->cfg->recommend.ann_min_items);
}

static int index_due(const eval_index_t *ix, const sr_model_t *mdl,
                     const sr_event_t *e, uint64_t events) {
  if (!ix->ann)
    return 1;
  double drift = ix->cfg->recommend.ann_refresh_drift;
  uint64_t moved = events - ix->events_at;
  if (moved == 0)
    return 0;
  (void)mdl;
  if (drift > 0)
    return (double)moved >= drift * (double)sr_ann_items(ix->ann);
  return (double)(e->timestamp_ms - ix->ts_at) >=
         ix->cfg->recommend.ann_refresh_s * 1000.0;
}

/* Rebuilds the index before event e when due. Returns 0 or -1. */
static int refresh_index(eval_index_t *ix, sr_model_t *mdl, sr_eval_t *ev,
                         const sr_event_t *e, uint64_t events) {
  if (!index_wanted(ix, mdl) || !index_due(ix, mdl, e, events))
    return 0;
  sr_model_set_ann(mdl, NULL, 0);
  sr_ann_free(ix->ann);
  ix->ann = sr_model_build_ann(mdl);
  if (!ix->ann ||
      sr_model_set_ann(mdl, ix->ann, ix->cfg->recommend.ann_probe) != SR_OK)
    return -1;
  ix->events_at = events;
  ix->ts_at = e->timestamp_ms;
  sr_eval_set_lists(ev, 1);
  return 0;
}

typedef struct figures {
  sr_eval_stats_t st;
  sr_eval_stats_t cold[2]; /* cold-item and cold-user events */
  double secs;
} figures_t;

/* Runs one model over all events into fig (the figures, the cold-item and
 * cold-user ones, the wall time). With comps, also each component alone,
 * into comps[SR_COMPONENT__COUNT]. */
static int run_eval(sr_model_t *mdl, const event_vec_t *vec, size_t n,
                    const sr_config_t *cfg, figures_t *fig,
                    sr_eval_stats_t *comps) {
  sr_eval_t *ev = sr_eval_new(mdl, n);
  eval_index_t ix = {.cfg = cfg};
  if (!ev)
    return -1;
  sr_eval_set_components(ev, comps != NULL);
  int rc = 0;
  progress_t prog = {isatty(STDERR_FILENO), sr_mono_ns(), sr_mono_ns()};
  /* Events are made whole two ahead of the one evaluated, for the
   * model's prefetch hints. */
  sr_event_t ahead[4];
  for (size_t i = 0; i < 2 && i < vec->len; i++) {
    event_at(vec, i, &ahead[i]);
    sr_model_prefetch_ids(mdl, &ahead[i]);
  }
  for (size_t i = 0; i < vec->len && rc == 0; i++) {
    look_ahead(mdl, vec, i, ahead);
    const sr_event_t *e = &ahead[i % 4];
    if (refresh_index(&ix, mdl, ev, e, i) != 0 || sr_eval_event(ev, e) != SR_OK)
      rc = -1;
    progress_tick(&prog, sr_eval_stats(ev), i, vec->len);
  }
  fig->secs = (double)(sr_mono_ns() - prog.start) / 1e9;
  progress_end(&prog);
  fig->st = *sr_eval_stats(ev);
  take_components(ev, comps);
  sr_eval_cold_stats(ev, &fig->cold[0], &fig->cold[1]);
  sr_eval_free(ev);
  sr_model_set_ann(mdl, NULL, 0);
  sr_ann_free(ix.ann);
  return rc;
}

/* The blend a model ended with, and the events that chose it. */
typedef struct blend_fig {
  char name[64];
  uint64_t samples;
  uint32_t n; /* blends chosen among */
} blend_fig_t;

static void take_blend(const sr_model_t *mdl, blend_fig_t *bf) {
  sr_blend_info_t info[16];
  bf->n = sr_model_blends(mdl, info, 16, &bf->samples);
  for (uint32_t k = 0; k < bf->n && k < 16; k++)
    if (info[k].leader)
      snprintf(bf->name, sizeof(bf->name), "%.63s", info[k].name);
}

static void print_blend_text(const blend_fig_t *bf) {
  if (bf->n > 1)
    printf("blend        %s (chosen among %u on %llu tested events)\n",
           bf->name, bf->n, (unsigned long long)bf->samples);
}

static void print_blend_json(const blend_fig_t *bf) {
  printf(",\"blend\":{\"chosen\":\"%s\",\"among\":%u,\"tested\":%llu}",
         bf->name, bf->n, (unsigned long long)bf->samples);
}

static const char *const component_names[SR_COMPONENT__COUNT] = {
    "factors", "popularity", "cooc"};

/* Each component's recall alone, beside the blend's. */
static void print_components_text(const sr_eval_stats_t *blend,
                                  const sr_eval_stats_t *comps, size_t n) {
  printf("\nrecall@%zu by component alone (blend %.4f):\n", n,
         blend->evaluated ? (double)blend->hits / (double)blend->evaluated
                          : 0.0);
  for (int c = 0; c < SR_COMPONENT__COUNT; c++)
    printf("  %-12s %10.4f\n", component_names[c],
           comps[c].evaluated
               ? (double)comps[c].hits / (double)comps[c].evaluated
               : 0.0);
}

static void print_components_json(const sr_eval_stats_t *comps, size_t n) {
  printf(",\"components\":{");
  for (int c = 0; c < SR_COMPONENT__COUNT; c++) {
    const sr_eval_stats_t *st = &comps[c];
    double ev = st->evaluated ? (double)st->evaluated : 1.0;
    printf("%s\"%s\":{\"recall_at_n\":%.6f,\"ndcg_at_n\":%.6f,"
           "\"mrr_at_n\":%.6f,\"n\":%zu}",
           c ? "," : "", component_names[c], (double)st->hits / ev,
           st->ndcg_sum / ev, st->rr_sum / ev, n);
  }
  putchar('}');
}

static double ratio(double a, uint64_t b) {
  return b ? a / (double)b : 0.0;
}

static void print_json_figures(const figures_t *f, size_t n) {
  printf("\"events\":%llu,\"evaluated\":%llu,\"n\":%zu,\"recall_at_n\":%.6f,"
         "\"ndcg_at_n\":%.6f,\"mrr_at_n\":%.6f,\"events_per_s\":%.0f",
         (unsigned long long)f->st.events, (unsigned long long)f->st.evaluated,
         n, ratio((double)f->st.hits, f->st.evaluated),
         ratio(f->st.ndcg_sum, f->st.evaluated),
         ratio(f->st.rr_sum, f->st.evaluated),
         f->secs > 0 ? (double)f->st.events / f->secs : 0.0);
}

static void print_text(const figures_t *f, const figures_t *base, size_t n) {
  const char *hdr = base ? "%-12s %12s %12s\n" : "%-12s %12s\n";
  printf(hdr, "", "streamrec", "popularity");
#define ROW(name, fmt, get)                                                    \
  do {                                                                         \
    printf("%-12s " fmt, name, get(f));                                        \
    if (base)                                                                  \
      printf(" " fmt, get(base));                                              \
    putchar('\n');                                                             \
  } while (0)
#define EVENTS(x) (unsigned long long)(x)->st.events
#define EVALUATED(x) (unsigned long long)(x)->st.evaluated
#define RECALL(x) ratio((double)(x)->st.hits, (x)->st.evaluated)
#define NDCG(x) ratio((x)->st.ndcg_sum, (x)->st.evaluated)
#define MRR(x) ratio((x)->st.rr_sum, (x)->st.evaluated)
#define RATE(x) ((x)->secs > 0 ? (double)(x)->st.events / (x)->secs : 0.0)
  char rname[32], nname[32], mname[32];
  snprintf(rname, sizeof(rname), "recall@%zu", n);
  snprintf(nname, sizeof(nname), "ndcg@%zu", n);
  snprintf(mname, sizeof(mname), "mrr@%zu", n);
  ROW("events", "%12llu", EVENTS);
  ROW("evaluated", "%12llu", EVALUATED);
  ROW(rname, "%12.4f", RECALL);
  ROW(nname, "%12.4f", NDCG);
  ROW(mname, "%12.4f", MRR);
  ROW("events/s", "%12.0f", RATE);
}

/* The cold figures as JSON members "cold_item" and "cold_user", with the
 * keys of the overall figures. */
static void print_json_cold(const figures_t *f, size_t n) {
  static const char *const names[2] = {"cold_item", "cold_user"};
  for (int k = 0; k < 2; k++) {
    figures_t sub = {.st = f->cold[k]};
    printf(",\"%s\":{", names[k]);
    print_json_figures(&sub, n);
    putchar('}');
  }
}

static void print_text_cold(const figures_t *f, const figures_t *base,
                            size_t n) {
  static const char *const names[2] = {"cold-item", "cold-user"};
  for (int k = 0; k < 2; k++) {
    char name[32];
    snprintf(name, sizeof(name), "%s@%zu", names[k], n);
    printf("%-12s %12.4f", name,
           ratio((double)f->cold[k].hits, f->cold[k].evaluated));
    if (base)
      printf(" %12.4f",
             ratio((double)base->cold[k].hits, base->cold[k].evaluated));
    printf("   (recall over %llu events)\n",
           (unsigned long long)f->cold[k].evaluated);
  }
}

static int add_item(void *opaque, const sr_item_t *item,
                    const sr_item_content_t *ct) {
  sr_err_t err = sr_model_set_content(
      opaque, item->item_id, item->item_len, (const char *const *)ct->features,
      ct->feature_lens, ct->n_features, ct->embedding, ct->n_embedding);
  if (err == SR_ERR_INVALID)
    sr_cli_err("eval", "item %s: embedding of %zu values, unlike the others",
               item->item_id, ct->n_embedding);
  return err == SR_ERR_NOMEM ? -1 : 0;
}

/* --items: every item's content into the model before the first event.
 * Returns 0 or -1 (reported). */
static int load_items(const eval_args_t *a, sr_model_t *mdl) {
  if (!a->items)
    return 0;
  char errstr[512] = "";
  uint64_t rejected = 0;
  int rc = sr_item_file_read(a->items, 0, add_item, mdl, &rejected, errstr,
                             sizeof(errstr));
  if (rc != 0)
    return sr_cli_err("eval", "%s",
                      rc < 0 && errstr[0] ? errstr : "out of memory"),
           -1;
  if (rejected)
    sr_cli_err("eval", "%llu invalid items skipped (first: %s)",
               (unsigned long long)rejected, errstr);
  uint32_t dims = 0, with = sr_model_content_items(mdl, &dims);
  if (!with)
    return sr_cli_err("eval",
                      "%s: no item with features or an embedding; is it an "
                      "item file (see --help)?",
                      a->items),
           -1;
  fprintf(stderr, "eval: %u items with content (embedding length %u)\n", with,
          dims);
  return 0;
}

static int evaluate(const eval_args_t *a, const event_vec_t *vec) {
  char errstr[512];
  figures_t fig = {0}, base = {0};
  sr_model_conf_t conf = a->cfg.model;
  /* The protocol excludes all of a user's earlier items, not a recent few. */
  conf.seen_size = 0;
  sr_model_t *mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  if (!mdl)
    return sr_cli_err("eval", "%s", errstr), SR_EXIT_USAGE;
  sr_eval_stats_t comps[SR_COMPONENT__COUNT];
  int rc = load_items(a, mdl);
  if (rc != 0) {
    sr_model_free(mdl);
    return SR_EXIT_FAIL;
  }
  rc = run_eval(mdl, vec, a->n, &a->cfg, &fig, a->components ? comps : NULL);
  blend_fig_t bf = {0};
  take_blend(mdl, &bf);
  sr_model_free(mdl);
  if (rc == 0 && a->baseline_pop) {
    mdl = sr_eval_popularity_model(errstr, sizeof(errstr));
    rc = mdl ? run_eval(mdl, vec, a->n, NULL, &base, NULL) : -1;
    sr_model_free(mdl);
  }
  if (rc != 0)
    return sr_cli_err("eval", "out of memory"), SR_EXIT_FAIL;
  if (a->json) {
    putchar('{');
    print_json_figures(&fig, a->n);
    print_json_cold(&fig, a->n);
    if (a->baseline_pop) {
      printf(",\"baseline\":{");
      print_json_figures(&base, a->n);
      print_json_cold(&base, a->n);
      putchar('}');
    }
    print_blend_json(&bf);
    if (a->components)
      print_components_json(comps, a->n);
    printf("}\n");
  } else {
    print_text(&fig, a->baseline_pop ? &base : NULL, a->n);
    print_text_cold(&fig, a->baseline_pop ? &base : NULL, a->n);
    print_blend_text(&bf);
    if (a->components)
      print_components_text(&fig.st, comps, a->n);
  }
  return SR_EXIT_OK;
}

int sr_cmd_eval(int argc, char **argv) {
  eval_args_t a;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0)
    return rc > 0 ? SR_EXIT_OK : SR_EXIT_USAGE;
  event_vec_t vec = {0};
  uint64_t rejected = 0;
  if (read_events(&a, &vec, &rejected) != 0) {
    event_vec_free(&vec);
    return SR_EXIT_FAIL;
  }
  if (rejected)
    sr_cli_err("eval", "%llu invalid records skipped",
               (unsigned long long)rejected);
  if (rejected && !vec.len) {
    event_vec_free(&vec);
    return sr_cli_err("eval",
                      "%s: no record could be read as %s; is --format right?",
                      a.path, sr_file_fmt_name(a.fmt)),
           SR_EXIT_FAIL;
  }
  warn_order(&a, &vec);
  if (a.sort && stable_sort(&vec) != 0) {
    event_vec_free(&vec);
    return sr_cli_err("eval", "out of memory"), SR_EXIT_FAIL;
  }
  rc = evaluate(&a, &vec);
  event_vec_free(&vec);
  return rc;
}
