/* streamrec inspect: verify a checkpoint and print what it holds. */
#include "cli/cli.h"
#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "core/share.h"
#include "daemon/config.h"
#include "store/model_store.h"
#include "util/buf.h"
#include "util/now.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec inspect CHECKPOINT [--json] [--user U | --item I "
          "| --users] [-N n]\n\n"
          "Verifies every checksum of a checkpoint file and prints its format "
          "version,\ndims, mode, users, items, events applied, Kafka offsets, "
          "creation time and\ndigest (a hash over all model state, equal for "
          "bit-identical models).\nusers and items count live ids; user_rows "
          "and item_rows also count rows\nleft free by evicted ids.\n\n"
          "  --json             print JSON\n"
          "  --user U           print user U's current top-N list instead\n"
          "  --item I           print the N items nearest to item I (cosine)\n"
          "  --users            list every live user: id, events learned, "
          "input\n"
          "                     partition and last applied offset (cluster "
          "mode;\n"
          "                     '-' or null otherwise); with --json, one "
          "object\n"
          "                     per line\n"
          "  -N, --n N          list length (default 10)\n"
          "  -c, --config FILE  config whose model.* options score the list\n"
          "  --set KEY=VALUE    set one option (repeatable)\n"
          "  -h, --help         this text\n");
}

static void iso_time(int64_t ms, char *buf, size_t len) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the summary prints besides the file's metadata. users and items count
 * live ids; the rows (in the metadata) also hold ids evicted and left free
 * for new ones, so they only grow. */
typedef struct summary {
  uint64_t digest;
  uint64_t users;
  uint64_t items;
  char cluster_id[SR_STORE_CLUSTER_MAX + 1]; /* of the offsets, or "" */
} summary_t;

static void print_text(const char *path, const sr_ckpt_t *ckpt,
                       const summary_t *sum) {
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  char when[32];
  iso_time(m->created_ms, when, sizeof(when));
  printf("file            %s\n", path);
  printf("format_version  %u\n", m->format_version);
  printf("dims            %u\n", m->dims);
  printf("mode            %s\n", m->mode ? "explicit" : "implicit");
  printf("users           %" PRIu64 "\n", sum->users);
  printf("user_rows       %" PRIu64 "\n", m->users);
  printf("items           %" PRIu64 "\n", sum->items);
  printf("item_rows       %" PRIu64 "\n", m->items);
  printf("events_applied  %" PRIu64 "\n", m->events_applied);
  printf("created         %s (%" PRId64 " ms)\n", when, m->created_ms);
  printf("bytes           %" PRIu64 "\n", sr_ckpt_file_size(ckpt));
  printf("digest          %016" PRIx64 "\n", sum->digest);
  printf("cluster_id      %s\n", sum->cluster_id[0] ? sum->cluster_id : "-");
  printf("offsets         %zu\n", m->n_offsets);
  for (size_t i = 0; i < m->n_offsets; i++)
    printf("  %s [%d] %" PRId64 "\n", m->offsets[i].topic,
           m->offsets[i].partition, m->offsets[i].offset);
}

static void print_json(const char *path, const sr_ckpt_t *ckpt,
                       const summary_t *sum) {
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  char hex[17], when[32];
  snprintf(hex, sizeof(hex), "%016" PRIx64, sum->digest);
  iso_time(m->created_ms, when, sizeof(when));
  json_t *offs = json_array();
  for (size_t i = 0; i < m->n_offsets; i++)
    json_array_append_new(
        offs, json_pack("{s:s,s:i,s:I}", "topic", m->offsets[i].topic,
                        "partition", (int)m->offsets[i].partition, "offset",
                        (json_int_t)m->offsets[i].offset));
  json_t *root = json_pack(
      "{s:s,s:i,s:i,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:s,s:o}", "file",
      path, "format_version", (int)m->format_version, "dims", (int)m->dims,
      "mode", m->mode ? "explicit" : "implicit", "users",
      (json_int_t)sum->users, "user_rows", (json_int_t)m->users, "items",
      (json_int_t)sum->items, "item_rows", (json_int_t)m->items,
      "events_applied", (json_int_t)m->events_applied, "created_ms",
      (json_int_t)m->created_ms, "created", when, "bytes",
      (json_int_t)sr_ckpt_file_size(ckpt), "digest", hex, "cluster_id",
      sum->cluster_id, "offsets", offs);
  char *text = json_dumps(root, JSON_COMPACT);
  puts(text ? text : "{}");
  free(text);
  json_decref(root);
}

typedef struct inspect_args {
  const char *path;
  const char *user;
  const char *item;
  size_t n;
  int json;
  int users;
  sr_config_t cfg;
} inspect_args_t;

/* sr_cli_getopt's callback: one option of inspect's own. */
static int parse_option(int c, void *arg) {
  inspect_args_t *a = arg;
  char *end;
  switch (c) {
  case 'j': a->json = 1; return 0;
  case 'u': a->user = optarg; return 0;
  case 'i': a->item = optarg; return 0;
  case 'U': a->users = 1; return 0;
  case 'N':
    a->n = strtoul(optarg, &end, 10);
    if (*end || a->n == 0 || a->n > 10000)
      return sr_cli_err("inspect", "-N: '%s' is not a count in 1..10000",
                        optarg),
             -1;
    return 0;
  }
  return -1;
}

/* Returns 0 to go on, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, inspect_args_t *a) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},
      {"user", required_argument, NULL, 'u'},
      {"item", required_argument, NULL, 'i'},
      {"users", no_argument, NULL, 'U'},
      {"n", required_argument, NULL, 'N'},
      SR_CLI_CONFIG_LONGOPTS,
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof(*a));
  a->n = 10;
  sr_config_init(&a->cfg);
  int rc = sr_cli_getopt("inspect", argc, argv, ":N:c:h", longopts,
                         parse_option, usage, a, &a->cfg);
  if (rc != 0)
    return rc;
  if (optind + 1 != argc || !!a->user + !!a->item + a->users > 1) {
    sr_cli_err("inspect", "expects one CHECKPOINT and at most one of --user, "
                          "--item, --users (see --help)");
    return -1;
  }
  a->path = argv[optind];
  return 0;
}

/* Prints a list as JSON (the output topic's Recommendations mapping) or as
 * numbered lines. */
static void print_list(const inspect_args_t *a, sr_model_t *mdl,
                       const char *key, const char *id, sr_source_t source,
                       const sr_scored_t *list, size_t count) {
  sr_rec_item_t *items = calloc(count + 1, sizeof(*items));
  if (!items)
    return;
  for (size_t k = 0; k < count; k++)
    items[k] = (sr_rec_item_t){sr_model_item_id(mdl, list[k].item, NULL),
                               list[k].score};
  if (a->json) {
    sr_buf_t buf = {0};
    if (!strcmp(key, "user")) {
      sr_recs_t recs = {.user_id = id,
                        .items = items,
                        .n_items = count,
                        .generated_at_ms = sr_now_ms(),
                        .model_version = sr_model_events_applied(mdl),
                        .source = source};
      sr_recs_encode_json(&recs, &buf);
    } else {
      sr_buf_printf(&buf, "{\"item_id\":");
      sr_json_quote(&buf, id, strlen(id));
      sr_buf_printf(&buf, ",\"similar\":[");
      for (size_t k = 0; k < count; k++) {
        sr_buf_printf(&buf, "%s{\"item_id\":", k ? "," : "");
        sr_json_quote(&buf, items[k].item_id, strlen(items[k].item_id));
        sr_buf_printf(&buf, ",\"score\":%.6g}", items[k].score);
      }
      sr_buf_printf(&buf, "]}");
    }
    printf("%.*s\n", (int)buf.len, buf.data);
    sr_buf_free(&buf);
    free(items);
    return;
  }
  printf("%s %s%s\n", key, id,
         !strcmp(key, "user")
             ? (source == SR_SOURCE_POPULAR ? " (popularity list)" : "")
             : " (nearest items)");
  for (size_t k = 0; k < count; k++)
    printf("%4zu  %-32s %.6f\n", k + 1, items[k].item_id, items[k].score);
  free(items);
}

/* The model the checkpoint holds, scored with the config's model options;
 * NULL after an error message. */
static sr_model_t *restore(const inspect_args_t *a, const sr_ckpt_t *ckpt) {
  char errstr[512];
  sr_model_conf_t conf = a->cfg.model;
  conf.dims = sr_ckpt_meta(ckpt)->dims;
  conf.mode = (sr_mode_t)sr_ckpt_meta(ckpt)->mode;
  /* Read as a cluster instance's model: the users' partitions and offsets
   * come along when the checkpoint has them, and nothing is lost when it
   * has not. */
  conf.shared = 1;
  sr_model_t *mdl = NULL;
  if (sr_store_restore(&conf, ckpt, &mdl, errstr, sizeof(errstr)) != SR_OK)
    sr_cli_err("inspect", "%s: %s", a->path, errstr);
  return mdl;
}

/* The point lookups: one user's list or one item's neighbours. */
static int lookup(const inspect_args_t *a, const sr_ckpt_t *ckpt) {
  sr_model_t *mdl = restore(a, ckpt);
  if (!mdl)
    return SR_EXIT_FAIL;
  const char *id = a->user ? a->user : a->item;
  int64_t row = a->user ? sr_model_find_user(mdl, id, strlen(id))
                        : sr_model_find_item(mdl, id, strlen(id));
  int rc = SR_EXIT_OK;
  sr_scored_t *list = calloc(a->n, sizeof(*list));
  if (row < 0 || !list) {
    sr_cli_err("inspect", "%s '%s' is not in %s", a->user ? "user" : "item", id,
               a->path);
    rc = SR_EXIT_FAIL;
  } else if (a->user) {
    uint32_t urow = (uint32_t)row;
    size_t count = 0;
    sr_source_t source = SR_SOURCE_PERSONAL;
    sr_model_recommend(mdl, &urow, 1, a->n, list, &count, &source);
    print_list(a, mdl, "user", id, source, list, count);
  } else {
    size_t count = sr_model_similar_items(mdl, (uint32_t)row, a->n, list);
    print_list(a, mdl, "item", id, SR_SOURCE_PERSONAL, list, count);
  }
  free(list);
  sr_model_free(mdl);
  return rc;
}

/* One live user as a JSON line or a text line. */
static void print_user(const inspect_args_t *a, const sr_model_t *mdl,
                       uint32_t row) {
  const char *id = sr_model_user_id(mdl, row, NULL);
  uint32_t events = sr_model_user_events(mdl, row);
  int32_t part = sr_share_user_partition(mdl, row);
  int64_t offset = sr_share_user_offset(mdl, row);
  if (!a->json) {
    printf("%-32s %10u %9s", id, events, "");
    if (part < 0)
      printf("-\n");
    else
      printf("%" PRId32 " @ %" PRId64 "\n", part, offset);
    return;
  }
  sr_buf_t buf = {0};
  sr_buf_printf(&buf, "{\"user_id\":");
  sr_json_quote(&buf, id, strlen(id));
  sr_buf_printf(&buf, ",\"events\":%u,\"partition\":", events);
  if (part < 0)
    sr_buf_printf(&buf, "null,\"last_offset\":null}");
  else
    sr_buf_printf(&buf, "%" PRId32 ",\"last_offset\":%" PRId64 "}", part,
                  offset);
  printf("%.*s\n", (int)buf.len, buf.data);
  sr_buf_free(&buf);
}

/* Every live user, in row order. */
static int list_users(const inspect_args_t *a, const sr_ckpt_t *ckpt) {
  sr_model_t *mdl = restore(a, ckpt);
  if (!mdl)
    return SR_EXIT_FAIL;
  if (!a->json)
    printf("%-32s %10s %9s%s\n", "user_id", "events", "",
           "partition @ last_offset");
  for (uint64_t row = 0; row < sr_model_users(mdl); row++)
    if (sr_model_user_is_live(mdl, (uint32_t)row))
      print_user(a, mdl, (uint32_t)row);
  sr_model_free(mdl);
  return SR_EXIT_OK;
}

/* Live ids are counted on the restored model: the metadata holds rows. */
static int summarize(const inspect_args_t *a, const sr_ckpt_t *ckpt) {
  sr_model_snapshot_t view;
  sr_store_view(ckpt, &view);
  sr_model_t *mdl = restore(a, ckpt);
  if (!mdl)
    return SR_EXIT_FAIL;
  summary_t sum = {.digest = sr_model_snapshot_digest(&view),
                   .users = sr_model_live_users(mdl),
                   .items = sr_model_live_items(mdl)};
  sr_store_cluster_id(ckpt, sum.cluster_id, sizeof(sum.cluster_id));
  sr_model_free(mdl);
  if (a->json)
    print_json(a->path, ckpt, &sum);
  else
    print_text(a->path, ckpt, &sum);
  return SR_EXIT_OK;
}

int sr_cmd_inspect(int argc, char **argv) {
  inspect_args_t a;
  int rc = parse_args(argc, argv, &a);
  if (rc != 0)
    return rc > 0 ? SR_EXIT_OK : SR_EXIT_USAGE;
  char errstr[512];
  sr_ckpt_t *ckpt;
  if (sr_ckpt_read(a.path, &ckpt, errstr, sizeof(errstr)) != SR_OK) {
    sr_cli_err("inspect", "%s", errstr);
    return SR_EXIT_FAIL;
  }
  if (a.user || a.item)
    rc = lookup(&a, ckpt);
  else if (a.users)
    rc = list_users(&a, ckpt);
  else
    rc = summarize(&a, ckpt);
  sr_ckpt_free(ckpt);
  return rc;
}
