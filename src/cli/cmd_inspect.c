/* streamrec inspect: verify a checkpoint and print what it holds. */
#include "cli/cli.h"
#include "store/model_store.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec inspect CHECKPOINT [--json]\n\n"
          "Verifies every checksum of a checkpoint file and prints its format "
          "version,\ndims, mode, users, items, events applied, Kafka offsets, "
          "creation time and\ndigest (a hash over all model state, equal for "
          "bit-identical models).\n\n"
          "  --json      print one JSON object\n"
          "  -h, --help  this text\n");
}

static void iso_time(int64_t ms, char *buf, size_t len) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_text(const char *path, const sr_ckpt_t *ckpt,
                       uint64_t digest) {
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  char when[32];
  iso_time(m->created_ms, when, sizeof(when));
  printf("file            %s\n", path);
  printf("format_version  %u\n", m->format_version);
  printf("dims            %u\n", m->dims);
  printf("mode            %s\n", m->mode ? "explicit" : "implicit");
  printf("users           %" PRIu64 "\n", m->users);
  printf("items           %" PRIu64 "\n", m->items);
  printf("events_applied  %" PRIu64 "\n", m->events_applied);
  printf("created         %s (%" PRId64 " ms)\n", when, m->created_ms);
  printf("bytes           %" PRIu64 "\n", sr_ckpt_file_size(ckpt));
  printf("digest          %016" PRIx64 "\n", digest);
  printf("offsets         %zu\n", m->n_offsets);
  for (size_t i = 0; i < m->n_offsets; i++)
    printf("  %s [%d] %" PRId64 "\n", m->offsets[i].topic,
           m->offsets[i].partition, m->offsets[i].offset);
}

static void print_json(const char *path, const sr_ckpt_t *ckpt,
                       uint64_t digest) {
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  char hex[17], when[32];
  snprintf(hex, sizeof(hex), "%016" PRIx64, digest);
  iso_time(m->created_ms, when, sizeof(when));
  json_t *offs = json_array();
  for (size_t i = 0; i < m->n_offsets; i++)
    json_array_append_new(offs, json_pack("{s:s,s:i,s:I}", "topic",
                                          m->offsets[i].topic, "partition",
                                          (int)m->offsets[i].partition,
                                          "offset",
                                          (json_int_t)m->offsets[i].offset));
  json_t *root = json_pack(
      "{s:s,s:i,s:i,s:s,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:o}", "file", path,
      "format_version", (int)m->format_version, "dims", (int)m->dims, "mode",
      m->mode ? "explicit" : "implicit", "users", (json_int_t)m->users,
      "items", (json_int_t)m->items, "events_applied",
      (json_int_t)m->events_applied, "created_ms", (json_int_t)m->created_ms,
      "created", when, "bytes", (json_int_t)sr_ckpt_file_size(ckpt), "digest",
      hex, "offsets", offs);
  char *text = json_dumps(root, JSON_COMPACT);
  puts(text ? text : "{}");
  free(text);
  json_decref(root);
}

int sr_cmd_inspect(int argc, char **argv) {
  static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int json = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (opt == 'j')
      json = 1;
    else if (opt == 'h')
      return usage(stdout), SR_EXIT_OK;
    else
      return usage(stderr), SR_EXIT_USAGE;
  }
  if (optind + 1 != argc) {
    sr_cli_err("inspect", "expects exactly one CHECKPOINT file (see --help)");
    return SR_EXIT_USAGE;
  }
  char errstr[512];
  sr_ckpt_t *ckpt;
  if (sr_ckpt_read(argv[optind], &ckpt, errstr, sizeof(errstr)) != SR_OK) {
    sr_cli_err("inspect", "%s", errstr);
    return SR_EXIT_FAIL;
  }
  sr_model_snapshot_t view;
  sr_store_view(ckpt, &view);
  uint64_t digest = sr_model_snapshot_digest(&view);
  if (json)
    print_json(argv[optind], ckpt, digest);
  else
    print_text(argv[optind], ckpt, digest);
  sr_ckpt_free(ckpt);
  return SR_EXIT_OK;
}
