/* Benchmarks of the learning core without I/O: learner updates/s, top-N
 * users/s (batched sgemm vs one user at a time), decode+learn from a file,
 * memory under a stream of ever-new ids with limits, and the loop stall of
 * a checkpoint's start.
 * Driven by tools/bench, which adds the machine, the command and the date. */
#include "codec/event_codec.h"
#include "codec/event_file.h"
#include "codec/item_codec.h"
#include "codec/mapping.h"
#include "codec/reason.h"
#include "core/share.h"
#include "core/synth.h"
#include "streamrec.pb-c.h"
#include "streamrec/model.h"
#include "util/now.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double secs_since(uint64_t start) {
  return (double)(sr_mono_ns() - start) / 1e9;
}

/* model.cooc_weight of the models benchmarked (file's optional argument). */
static float g_cooc_weight = -1.0f;

static sr_model_t *new_model(uint32_t dims) {
  sr_model_conf_t conf;
  char errstr[256];
  sr_model_conf_init(&conf);
  conf.dims = dims;
  conf.negatives = 4;
  if (g_cooc_weight >= 0)
    conf.cooc_weight = g_cooc_weight;
  sr_model_t *mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  if (!mdl) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  return mdl;
}

/* Learner updates/s at k=64 with 4 negatives over a generated stream. */
static void bench_learner(void) {
  enum { N = 400000, PASSES = 5 };
  sr_synth_conf_t sc;
  sr_synth_conf_init(&sc);
  sc.users = 100000;
  sc.items = 20000;
  sc.events = N;
  sr_synth_t *syn = sr_synth_new(&sc);
  sr_event_t *evs = malloc(N * sizeof(*evs));
  if (!syn || !evs)
    exit(1);
  for (size_t i = 0; i < N; i++)
    sr_synth_next(syn, &evs[i]);
  sr_synth_free(syn);
  sr_model_t *mdl = new_model(64);
  for (size_t i = 0; i < N; i++) /* warm-up: every id gets its row */
    sr_model_learn(mdl, &evs[i], NULL);
  uint64_t start = sr_mono_ns();
  for (int p = 0; p < PASSES; p++)
    for (size_t i = 0; i < N; i++)
      sr_model_learn(mdl, &evs[i], NULL);
  double s = secs_since(start);
  printf("learner_updates_per_s   %12.0f   (k=64, 4 negatives, %d updates, "
         "one core; target >= 1000000)\n",
         (double)N * PASSES / s, N * PASSES);
  free(evs);
  sr_model_free(mdl);
}

/* A model with 100k items and `users` warm users. */
static sr_model_t *topn_model(uint32_t users) {
  sr_model_t *mdl = new_model(64);
  sr_event_t ev = {.type = SR_EV_CLICK, .timestamp_ms = 1};
  for (uint32_t i = 0; i < 100000; i++) {
    ev.user_len =
        (uint16_t)snprintf(ev.user_id, sizeof(ev.user_id), "u%u", i % users);
    ev.item_len = (uint16_t)snprintf(ev.item_id, sizeof(ev.item_id), "i%u", i);
    sr_model_learn(mdl, &ev, NULL);
  }
  return mdl;
}

static double topn_rate(sr_model_t *mdl, uint32_t users, size_t batch) {
  uint32_t rows[256];
  size_t counts[256];
  sr_scored_t *out = malloc(256 * 20 * sizeof(*out));
  uint64_t start = sr_mono_ns();
  for (uint32_t u = 0; u < users; u += (uint32_t)batch) {
    for (size_t k = 0; k < batch; k++)
      rows[k] = (uint32_t)((u + k) % users);
    sr_model_recommend(mdl, rows, batch, 20, out, counts, NULL);
  }
  double s = secs_since(start);
  free(out);
  return users / s;
}

/* Top-N users/s at 100k items, k=64, N=20. */
static void bench_topn(void) {
  enum { USERS = 4096 };
  sr_model_t *mdl = topn_model(USERS);
  double batched = topn_rate(mdl, USERS, 256);
  double single = topn_rate(mdl, USERS / 4, 1);
  printf("topn_users_per_s        %12.0f   (batched sgemm, 256 users/batch, "
         "100k items, k=64, N=20; target >= 3000)\n",
         batched);
  printf("topn_users_per_s_single %12.0f   (one user at a time, same data; "
         "batched/single = %.2f)\n",
         single, batched / single);
  sr_model_free(mdl);
}

/* Decode + learn from a file (no top-N). */
static void bench_file(const char *path, const char *fmt_name) {
  sr_file_fmt_t fmt;
  char errstr[512];
  if (sr_file_fmt_parse(fmt_name, &fmt) != 0)
    exit(2);
  sr_event_reader_t *rd =
      sr_event_reader_open(path, fmt, errstr, sizeof(errstr));
  if (!rd) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  sr_model_t *mdl = new_model(32);
  sr_event_t ev;
  sr_reason_t reason;
  uint64_t n = 0, start = sr_mono_ns();
  while (sr_event_reader_next(rd, &ev, &reason, errstr, sizeof(errstr)) == 1)
    if (reason == SR_REASON_OK && sr_model_learn(mdl, &ev, NULL) == SR_OK)
      n++;
  double s = secs_since(start);
  printf("decode_learn_per_s      %12.0f   (%s, %llu events, %s model; "
         "target >= 500000)\n",
         n / s, fmt_name, (unsigned long long)n,
         g_cooc_weight > 0 ? "co-occurrence" : "default");
  sr_event_reader_free(rd);
  sr_model_free(mdl);
}

/* Messages held in memory, one after another. */
typedef struct msgs {
  sr_buf_t buf;
  size_t *end; /* end offset of message i */
  size_t n;
} msgs_t;

/* ev as a Segment-style track event: 5 mapped fields, nested, an ISO-8601
 * timestamp and a platform type name. */
static int encode_nested(const sr_event_t *ev, sr_buf_t *out) {
  static const char *const names[SR_EV__COUNT] = {
      "unspecified", "page_view", "product_clicked", "add_to_basket",
      "order",       "like",      "dislike",         "rating"};
  char line[1024], stamp[32];
  time_t secs = (time_t)(ev->timestamp_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  int n = snprintf(line, sizeof(line),
                   "{\"type\":\"track\",\"event\":\"%s\",\"properties\":{"
                   "\"product_id\":\"%s\",\"value\":%g},\"context\":{"
                   "\"library\":{\"name\":\"analytics.js\"},\"user\":{"
                   "\"id\":\"%s\"}},\"timestamp\":\"%s.%03dZ\"}",
                   names[ev->type], ev->item_id, (double)ev->value, ev->user_id,
                   stamp, (int)(ev->timestamp_ms % 1000));
  return sr_buf_append(out, line, (size_t)n);
}

/* The events of path, encoded by enc. */
static msgs_t load_msgs(const char *path,
                        int (*enc)(const sr_event_t *, sr_buf_t *)) {
  char errstr[512];
  sr_event_reader_t *rd =
      sr_event_reader_open(path, SR_FILE_JSONL, errstr, sizeof(errstr));
  if (!rd) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  msgs_t m = {0};
  size_t cap = 0;
  sr_event_t ev;
  sr_reason_t reason;
  while (sr_event_reader_next(rd, &ev, &reason, errstr, sizeof(errstr)) == 1) {
    if (reason != SR_REASON_OK)
      continue;
    if (m.n == cap) {
      cap = cap ? 2 * cap : 1024;
      m.end = realloc(m.end, cap * sizeof(*m.end));
    }
    if (!m.end || enc(&ev, &m.buf) != 0)
      exit(1);
    m.end[m.n++] = m.buf.len;
  }
  sr_event_reader_free(rd);
  return m;
}

/* Decode (+ learn) of messages in memory, by map (NULL: streamrec's
 * own). */
static double msgs_rate(const msgs_t *m, const sr_mapping_t *map, bool learn) {
  sr_model_t *mdl = new_model(32);
  sr_event_t ev;
  char errstr[256];
  uint64_t n = 0, start = sr_mono_ns();
  for (size_t i = 0; i < m->n; i++) {
    size_t from = i ? m->end[i - 1] : 0;
    const char *p = (const char *)m->buf.data + from;
    size_t len = m->end[i] - from;
    sr_reason_t reason = map ? sr_mapping_decode(map, p, len, NULL, NULL, &ev,
                                                 errstr, sizeof(errstr))
                             : sr_event_decode(p, len, SR_WIRE_JSON, NULL, &ev,
                                               errstr, sizeof(errstr));
    if (reason == SR_REASON_OK &&
        (!learn || sr_model_learn(mdl, &ev, NULL) == SR_OK))
      n++;
  }
  double s = secs_since(start);
  sr_model_free(mdl);
  if (n != m->n) {
    fprintf(stderr, "bench: %llu of %zu messages decoded: %s\n",
            (unsigned long long)n, m->n, errstr);
    exit(1);
  }
  return n / s;
}

/* Decode + learn of JSON messages in memory: streamrec's own, and nested
 * Segment-style events read by a field mapping of 5 fields. */
static void bench_mapped(const char *path) {
  static const sr_type_alias_t types[] = {{"page_view", SR_EV_VIEW},
                                          {"product_clicked", SR_EV_CLICK},
                                          {"add_to_basket", SR_EV_ADD_TO_CART},
                                          {"order", SR_EV_PURCHASE}};
  sr_mapping_spec_t spec = {
      .prefix = "input.",
      .fields = {"context.user.id", "properties.product_id", "event",
                 "properties.value", "timestamp"},
      .types = types,
      .n_types = 4,
  };
  char errstr[256];
  sr_mapping_t *map = sr_mapping_new(&spec, errstr, sizeof(errstr));
  if (!map) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  msgs_t own = load_msgs(path, sr_event_encode_json);
  msgs_t nested = load_msgs(path, encode_nested);
  /* The best of 3, taken in turns, for a machine shared with others. */
  double own_rate = 0, mapped_rate = 0, own_decode = 0, mapped_decode = 0;
  for (int run = 0; run < 3; run++) {
    own_rate = fmax(own_rate, msgs_rate(&own, NULL, true));
    mapped_rate = fmax(mapped_rate, msgs_rate(&nested, map, true));
    own_decode = fmax(own_decode, msgs_rate(&own, NULL, false));
    mapped_decode = fmax(mapped_decode, msgs_rate(&nested, map, false));
  }
  printf("decode_learn_json_msg_per_s %8.0f   (streamrec's own JSON "
         "messages in memory, %zu events, default model; best of 3)\n",
         own_rate, own.n);
  printf("decode_learn_mapped_per_s %10.0f   (Segment-style nested JSON, 5 "
         "mapped fields, ISO-8601 timestamps; mapped/own = %.2f; target >= "
         "1000000)\n",
         mapped_rate, mapped_rate / own_rate);
  printf("decode_json_msg_per_s   %12.0f   (decode alone; mapped: %.0f, "
         "%.0f vs %.0f bytes a message)\n",
         own_decode, mapped_decode, (double)own.buf.len / own.n,
         (double)nested.buf.len / nested.n);
  sr_buf_free(&own.buf);
  sr_buf_free(&nested.buf);
  free(own.end);
  free(nested.end);
  sr_mapping_free(map);
}

/* An input partition of 16 for a user id, as a keyed producer would pick
 * one (FNV-1a). */
static int32_t part_of(const char *id) {
  uint32_t h = 2166136261u;
  for (; *id; id++)
    h = (h ^ (uint8_t)*id) * 16777619u;
  return (int32_t)(h % 16);
}

static int drop_delta(void *opaque, const sr_item_delta_t *d) {
  (void)d;
  ++*(uint64_t *)opaque;
  return 0;
}

/* Seconds spent learning path's events, in cluster mode (shared) or not.
 * Cluster mode learns through sr_share_learn (input partition from the
 * user id, the event's position as its offset) and takes the item deltas
 * every 10 000 events, as a sync interval of 200 ms does at 50 k events/s;
 * decoding is not counted. */
static double learn_secs(const char *path, sr_file_fmt_t fmt, bool shared,
                         uint64_t *n) {
  char errstr[512];
  sr_event_reader_t *rd =
      sr_event_reader_open(path, fmt, errstr, sizeof(errstr));
  if (!rd) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 32;
  conf.negatives = 4;
  conf.shared = shared;
  sr_model_t *mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  sr_event_t ev;
  sr_reason_t reason;
  uint64_t ns = 0, deltas = 0, events;
  *n = 0;
  while (sr_event_reader_next(rd, &ev, &reason, errstr, sizeof(errstr)) == 1) {
    if (reason != SR_REASON_OK)
      continue;
    uint64_t t = sr_mono_ns();
    if (!shared) {
      sr_model_learn(mdl, &ev, NULL);
    } else {
      uint32_t row;
      bool skipped;
      int32_t part = part_of(ev.user_id);
      sr_share_learn(mdl, &ev, part, (int64_t)*n, &row, &skipped, NULL);
      if (*n % 10000 == 9999)
        sr_share_take_deltas(mdl, drop_delta, &deltas, &events);
    }
    ns += sr_mono_ns() - t;
    ++*n;
  }
  sr_event_reader_free(rd);
  sr_model_free(mdl);
  return (double)ns / 1e9;
}

/* The core's cost of cluster mode: the same events learned plain and
 * shared, alternately five times; the best of each. */
static void bench_shared(const char *path, const char *fmt_name) {
  sr_file_fmt_t fmt;
  if (sr_file_fmt_parse(fmt_name, &fmt) != 0)
    exit(2);
  double best[2] = {1e9, 1e9};
  uint64_t n = 0;
  for (int r = 0; r < 5; r++)
    for (int shared = 0; shared < 2; shared++) {
      double t = learn_secs(path, fmt, shared, &n);
      if (t < best[shared])
        best[shared] = t;
    }
  printf("learn_plain_per_s       %12.0f   (%s, %llu events, best of 5)\n",
         n / best[0], fmt_name, (unsigned long long)n);
  printf("learn_shared_per_s      %12.0f   (cluster mode: sr_share_learn, "
         "deltas taken every 10000 events; %.3fx plain, target >= 0.9)\n",
         n / best[1], best[0] / best[1]);
}

/* Resident set size from /proc/self/statm, in bytes (0 when unreadable). */
static uint64_t rss_bytes(void) {
  unsigned long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* 3M events, each from a user never seen before, over 20k items, with
 * max_users = 100000: RSS and sr_model_bytes every 500k events, flat once
 * the limit is reached. */
static void bench_memory(void) {
  enum { N = 3000000, STEP = 500000, MAX_USERS = 100000, ITEMS = 20000 };
  sr_model_conf_t conf;
  char errstr[256];
  sr_model_conf_init(&conf);
  conf.max_users = MAX_USERS;
  uint64_t rss0 = rss_bytes();
  sr_model_t *mdl = sr_model_new(&conf, errstr, sizeof(errstr));
  if (!mdl) {
    fprintf(stderr, "bench: %s\n", errstr);
    exit(1);
  }
  sr_event_t ev = {.type = SR_EV_CLICK};
  uint64_t start = sr_mono_ns();
  printf("memory: %d events of new users, max_users=%d, %d items, dims=%u; "
         "RSS before the model %.1f MiB\n",
         N, MAX_USERS, ITEMS, conf.dims, rss0 / 1048576.0);
  for (uint32_t k = 1; k <= N; k++) {
    /* Fixed-width ids: a flat line then shows no id growing longer. */
    ev.user_len =
        (uint16_t)snprintf(ev.user_id, sizeof(ev.user_id), "user-%08u", k);
    ev.item_len = (uint16_t)snprintf(ev.item_id, sizeof(ev.item_id), "i%u",
                                     (uint32_t)((k * 2654435761u) % ITEMS));
    ev.timestamp_ms = SR_SYNTH_START_MS + k;
    if (sr_model_learn(mdl, &ev, NULL) != SR_OK)
      exit(1);
    if (k % STEP == 0) {
      uint64_t rss = rss_bytes(), bytes = sr_model_bytes(mdl), evicted;
      sr_model_evictions(mdl, &evicted, NULL);
      printf("memory_at_%-7u rss %7.1f MiB  rss-base %7.1f MiB  "
             "model_bytes %7.1f MiB  (rss-base)/model %.2f  users %llu  "
             "evicted %llu\n",
             k, rss / 1048576.0, (rss - rss0) / 1048576.0, bytes / 1048576.0,
             (double)(rss - rss0) / (double)bytes,
             (unsigned long long)sr_model_live_users(mdl),
             (unsigned long long)evicted);
    }
  }
  printf("memory_events_per_s     %12.0f   (every event a new user, "
         "evicting one)\n",
         N / secs_since(start));
  sr_model_free(mdl);
}

/* Milliseconds of the loop-thread part of a checkpoint: fork() of the
 * writer (which here exits at once), or with copy a full sr_model_snapshot,
 * the fallback when fork fails. */
static double stall_ms(const sr_model_t *mdl, bool copy) {
  uint64_t start = sr_mono_ns();
  if (copy) {
    sr_model_snapshot_t snap;
    if (sr_model_snapshot(mdl, &snap) != SR_OK)
      exit(1);
    double ms = secs_since(start) * 1000;
    sr_model_snapshot_release(&snap);
    return ms;
  }
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  double ms = secs_since(start) * 1000;
  if (pid < 0 || waitpid(pid, NULL, 0) != pid)
    exit(1);
  return ms;
}

/* The loop's stall when a checkpoint starts, for 1M users and 100k items at
 * k=64: the writer is forked, the file is written by the child. */
static void bench_snapshot(void) {
  enum { USERS = 1000000, ITEMS = 100000, RUNS = 3 };
  sr_model_t *mdl = new_model(64);
  sr_event_t ev = {.type = SR_EV_CLICK};
  for (uint32_t k = 0; k < USERS; k++) {
    ev.user_len = (uint16_t)snprintf(ev.user_id, sizeof(ev.user_id), "u%u", k);
    ev.item_len = (uint16_t)snprintf(ev.item_id, sizeof(ev.item_id), "i%u",
                                     (uint32_t)((k * 2654435761u) % ITEMS));
    ev.timestamp_ms = SR_SYNTH_START_MS + k;
    if (sr_model_learn(mdl, &ev, NULL) != SR_OK)
      exit(1);
  }
  double fork_worst = 0, copy_best = 1e9;
  for (int r = 0; r < RUNS; r++) {
    double f = stall_ms(mdl, false), c = stall_ms(mdl, true);
    fork_worst = f > fork_worst ? f : fork_worst;
    copy_best = c < copy_best ? c : copy_best;
  }
  printf("checkpoint_stall_ms     %12.1f   (fork of the writer, worst of %d; "
         "1M users + %llu items, k=64, %.1f MiB model; a full copy on the "
         "loop instead: %.1f; target <= 50)\n",
         fork_worst, RUNS, (unsigned long long)sr_model_items(mdl),
         sr_model_bytes(mdl) / 1048576.0, copy_best);
  sr_model_free(mdl);
}

/* Item n of the content benchmark in protobuf: 8 features, an embedding
 * of emb_dims floats. */
static void item_message(uint32_t n, uint32_t emb_dims, sr_buf_t *out) {
  char id[32], fbuf[8][24], *feats[8];
  float emb[384];
  for (int k = 0; k < 8; k++) {
    snprintf(fbuf[k], sizeof(fbuf[k]), "f%d:%u", k, (n * 7 + k * 13) % 50);
    feats[k] = fbuf[k];
  }
  for (uint32_t d = 0; d < emb_dims; d++)
    emb[d] = (float)((n * 31 + d * 17) % 101) / 50.0f - 1.0f;
  snprintf(id, sizeof(id), "i%u", n);
  Streamrec__V1__Item msg = STREAMREC__V1__ITEM__INIT;
  msg.item_id = id;
  msg.features = feats;
  msg.n_features = 8;
  msg.embedding = emb;
  msg.n_embedding = emb_dims;
  out->len = 0;
  if (sr_buf_reserve(out, streamrec__v1__item__get_packed_size(&msg)) != 0)
    exit(1);
  out->len = streamrec__v1__item__pack(&msg, (uint8_t *)out->data);
}

/* Decodes and applies the items of msgs to mdl; returns items/s. */
static double apply_items(sr_model_t *mdl, sr_buf_t *msgs, uint32_t n) {
  char err[256];
  uint64_t start = sr_mono_ns();
  for (uint32_t i = 0; i < n; i++) {
    sr_item_t item;
    sr_item_content_t ct;
    if (sr_item_decode_content(msgs[i].data, msgs[i].len, SR_WIRE_PROTO, 0, 384,
                               &item, &ct, err, sizeof(err)) != SR_REASON_OK ||
        sr_model_set_content(mdl, item.item_id, item.item_len,
                             (const char *const *)ct.features, ct.feature_lens,
                             ct.n_features, ct.embedding,
                             ct.n_embedding) != SR_OK)
      exit(1);
    sr_item_content_free(&ct);
  }
  return n / secs_since(start);
}

/* Learner updates/s of mdl over evs[from, to). */
static double learn_rate(sr_model_t *mdl, const sr_event_t *evs, size_t from,
                         size_t to) {
  uint64_t start = sr_mono_ns();
  for (size_t i = from; i < to; i++)
    sr_model_learn(mdl, &evs[i], NULL);
  return (double)(to - from) / secs_since(start);
}

/* Item messages applied/s (protobuf, 8 features, 384 floats), and the
 * event path with no content against every item holding that content. */
static void bench_content(void) {
  enum { ITEMS = 20000, N = 400000 };
  sr_buf_t *msgs = calloc(ITEMS, sizeof(*msgs));
  sr_event_t *evs = malloc(N * sizeof(*evs));
  sr_synth_conf_t sc;
  sr_synth_conf_init(&sc);
  sc.users = 100000;
  sc.items = ITEMS;
  sc.events = N;
  sr_synth_t *syn = sr_synth_new(&sc);
  if (!msgs || !evs || !syn)
    exit(1);
  for (size_t i = 0; i < N; i++)
    sr_synth_next(syn, &evs[i]);
  sr_synth_free(syn);
  for (uint32_t i = 0; i < ITEMS; i++)
    item_message(i, 384, &msgs[i]);
  sr_model_t *plain = new_model(64), *with = new_model(64);
  double items_s = apply_items(with, msgs, ITEMS);
  /* The two models take turns over slices of the stream, and each keeps
   * its best slice, so that a neighbour's load on a shared machine falls
   * on both alike. */
  double none = 0, content = 0;
  learn_rate(plain, evs, 0, N / 4);
  learn_rate(with, evs, 0, N / 4);
  for (size_t lo = N / 4; lo < N; lo += N / 8) {
    double a = learn_rate(plain, evs, lo, lo + N / 8);
    double b = learn_rate(with, evs, lo, lo + N / 8);
    none = a > none ? a : none;
    content = b > content ? b : content;
  }
  printf("item_messages_per_s     %12.0f   (protobuf, 8 features, 384-float "
         "embedding, decoded and applied to an empty model; target >= "
         "100000)\n",
         items_s);
  printf("learn_content_ratio     %12.2f   (updates/s with every item "
         "holding 8 features and a 384-float embedding / without content: "
         "%.0f / %.0f, k=64; target >= 0.80)\n",
         content / none, content, none);
  for (uint32_t i = 0; i < ITEMS; i++)
    sr_buf_free(&msgs[i]);
  free(msgs);
  free(evs);
  sr_model_free(plain);
  sr_model_free(with);
}

int main(int argc, char **argv) {
  openblas_set_num_threads(1);
  if (argc >= 2 && !strcmp(argv[1], "learner"))
    bench_learner();
  else if (argc >= 2 && !strcmp(argv[1], "topn"))
    bench_topn();
  else if (argc >= 4 && !strcmp(argv[1], "file")) {
    if (argc >= 5)
      g_cooc_weight = strtof(argv[4], NULL);
    bench_file(argv[2], argv[3]);
  } else if (argc >= 3 && !strcmp(argv[1], "mapped"))
    bench_mapped(argv[2]);
  else if (argc >= 4 && !strcmp(argv[1], "shared"))
    bench_shared(argv[2], argv[3]);
  else if (argc >= 2 && !strcmp(argv[1], "memory"))
    bench_memory();
  else if (argc >= 2 && !strcmp(argv[1], "snapshot"))
    bench_snapshot();
  else if (argc >= 2 && !strcmp(argv[1], "content"))
    bench_content();
  else {
    fprintf(
        stderr,
        "usage: bench_core learner | topn | file PATH FORMAT [COOC_WEIGHT] | "
        "mapped PATH | "
        "shared PATH FORMAT | memory | "
        "snapshot | content\n");
    return 2;
  }
  return 0;
}
