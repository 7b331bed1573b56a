/* `streamrec gen`: writes a seeded synthetic event stream to stdout or a
 * file. The options are one table; parsing and --help both read it. */
#include "cli/cli.h"
#include "codec/event_file.h"
#include "codec/item_codec.h"
#include "core/synth.h"
#include "util/buf.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gen_opts {
  sr_synth_conf_t conf;
  const char *format;
  const char *output;      /* NULL or "-": stdout */
  const char *items_out;   /* --items-out FILE, else NULL */
  const char *content;     /* --item-content features|embedding|both */
  uint32_t embedding_dims; /* --embedding-dims */
} gen_opts_t;

typedef enum opt_kind { OPT_U32, OPT_U64, OPT_STR, OPT_HELP } opt_kind_t;

typedef struct opt {
  const char *name; /* long name, without "--" */
  char short_name;  /* 0 when there is none */
  opt_kind_t kind;
  size_t offset; /* of the field in gen_opts_t */
  uint64_t min, max;
  const char *metavar;
  const char *help;
} opt_t;

#define CONF(field) offsetof(gen_opts_t, conf.field)

static const opt_t gen_options[] = {
    {"users", 0, OPT_U32, CONF(users), 1, UINT32_MAX, "N",
     "distinct users, ids u0..u<N-1>"},
    {"items", 0, OPT_U32, CONF(items), 1, UINT32_MAX, "N",
     "distinct items, ids i0..i<N-1>"},
    {"events", 0, OPT_U64, CONF(events), 1, UINT64_MAX, "N",
     "events to write (tsv: ratings)"},
    {"seed", 0, OPT_U64, CONF(seed), 0, UINT64_MAX, "S",
     "same seed, same bytes"},
    {"clusters", 0, OPT_U32, CONF(clusters), 1, 65535, "N",
     "taste clusters (default: items/40 within 8..32)"},
    {"format", 0, OPT_STR, offsetof(gen_opts_t, format), 0, 0, "FMT",
     "jsonl, proto or tsv (tsv: ratings only); default: from -o's name "
     "(.jsonl, .pb, .tsv/.dat/.csv), else jsonl"},
    {"output", 'o', OPT_STR, offsetof(gen_opts_t, output), 0, 0, "FILE",
     "write to FILE instead of stdout"},
    {"items-out", 0, OPT_STR, offsetof(gen_opts_t, items_out), 0, 0, "FILE",
     "also write the catalogue: one Item (JSON) per item, its features and "
     "embedding carrying the taste clusters behind the events, with noise"},
    {"embedding-dims", 0, OPT_U32, offsetof(gen_opts_t, embedding_dims), 1,
     4096, "D", "length of the items' embeddings"},
    {"item-content", 0, OPT_STR, offsetof(gen_opts_t, content), 0, 0, "WHAT",
     "features, embedding or both"},
    {"help", 'h', OPT_HELP, 0, 0, 0, NULL, "print this help and exit"},
};

#define NOPTS (sizeof gen_options / sizeof gen_options[0])

static void opts_init(gen_opts_t *opts) {
  sr_synth_conf_init(&opts->conf);
  opts->format = NULL;
  opts->output = NULL;
  opts->items_out = NULL;
  opts->content = "both";
  opts->embedding_dims = 32;
}

/* The default of opt as text, read from freshly initialised options. */
static void default_text(const opt_t *opt, char *out, size_t len) {
  gen_opts_t def;
  opts_init(&def);
  const char *base = (const char *)&def + opt->offset;
  out[0] = '\0';
  if (opt->kind == OPT_U32 && *(const uint32_t *)base)
    snprintf(out, len, "%lu", (unsigned long)*(const uint32_t *)base);
  else if (opt->kind == OPT_U64)
    snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)base);
  else if (opt->kind == OPT_STR && *(const char *const *)base)
    snprintf(out, len, "%s", *(const char *const *)base);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec gen [options]\n\n"
          "Writes a synthetic event stream: users in drifting taste clusters,\n"
          "a popularity head and long tail, sessions, trending items, and a\n"
          "view/click/cart/purchase funnel with likes, dislikes and ratings.\n"
          "Timestamps start at %lld ms and increase.\n\noptions:\n",
          (long long)SR_SYNTH_START_MS);
  for (size_t k = 0; k < NOPTS; k++) {
    const opt_t *opt = &gen_options[k];
    char flag[40], def[32];
    if (opt->short_name)
      snprintf(flag, sizeof flag, "-%c, --%s", opt->short_name, opt->name);
    else
      snprintf(flag, sizeof flag, "    --%s", opt->name);
    if (opt->metavar)
      snprintf(flag + strlen(flag), sizeof flag - strlen(flag), " %s",
               opt->metavar);
    default_text(opt, def, sizeof def);
    fprintf(out, "  %-26s %s", flag, opt->help);
    fprintf(out, def[0] ? " [%s]\n" : "\n", def);
  }
}

/* Decimal digits only: strtoull alone would accept signs and spaces. */
static int parse_u64(const char *text, uint64_t *v) {
  if (text[0] < '0' || text[0] > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *v = x;
  return 0;
}

/* Stores val into the field of opt. Returns 0, or -1 after a message. */
static int set_option(const char *cmd, const opt_t *opt, const char *val,
                      gen_opts_t *opts) {
  char *base = (char *)opts + opt->offset;
  if (opt->kind == OPT_STR) {
    *(const char **)base = val;
    return 0;
  }
  uint64_t v;
  if (parse_u64(val, &v) != 0) {
    sr_cli_err(cmd, "--%s: '%s' is not a non-negative integer", opt->name, val);
    return -1;
  }
  if (v < opt->min || v > opt->max) {
    sr_cli_err(cmd, "--%s must be between %llu and %llu, got %s", opt->name,
               (unsigned long long)opt->min, (unsigned long long)opt->max, val);
    return -1;
  }
  if (opt->kind == OPT_U32)
    *(uint32_t *)base = (uint32_t)v;
  else
    *(uint64_t *)base = v;
  return 0;
}

/* getopt's value for the option at index k of gen_options when it has no
 * short name. */
#define LONG_ONLY(k) (0x200 + (int)(k))

/* sr_cli_getopt's callback: one option of the table. */
static int parse_option(int c, void *arg) {
  for (size_t k = 0; k < NOPTS; k++) {
    const opt_t *opt = &gen_options[k];
    if (c == (opt->short_name ? opt->short_name : LONG_ONLY(k)))
      return set_option("gen", opt, optarg, arg);
  }
  return -1;
}

/* Returns 0 to go on, 1 when help was printed, -1 on a usage error. */
static int parse_args(int argc, char **argv, gen_opts_t *opts) {
  struct option longopts[NOPTS + 1];
  char shortopts[2 * NOPTS + 2] = ":";
  for (size_t k = 0; k < NOPTS; k++) {
    const opt_t *opt = &gen_options[k];
    int has_arg = opt->kind == OPT_HELP ? no_argument : required_argument;
    int c = opt->short_name ? opt->short_name : LONG_ONLY(k);
    longopts[k] = (struct option){opt->name, has_arg, NULL, c};
    if (opt->short_name) {
      size_t len = strlen(shortopts);
      shortopts[len] = opt->short_name;
      shortopts[len + 1] = has_arg ? ':' : '\0';
    }
  }
  longopts[NOPTS] = (struct option){NULL, 0, NULL, 0};
  int rc = sr_cli_getopt("gen", argc, argv, shortopts, longopts, parse_option,
                         usage, opts, NULL);
  if (rc != 0)
    return rc;
  if (optind < argc) {
    sr_cli_err("gen", "unknown argument '%s' (see 'streamrec gen --help')",
               argv[optind]);
    return -1;
  }
  return 0;
}

/* With tsv only RATING events are written, because a MovieLens-style file
 * reads every line back as a rating. */
static int write_stream(const gen_opts_t *opts, sr_file_fmt_t fmt, FILE *f,
                        sr_synth_t *syn) {
  sr_buf_t scratch = {0};
  sr_event_t ev;
  uint64_t written = 0;
  int rc = 0;
  while (rc == 0 && written < opts->conf.events && sr_synth_next(syn, &ev)) {
    if (fmt == SR_FILE_TSV && ev.type != SR_EV_RATING)
      continue;
    rc = sr_event_write(f, fmt, &ev, &scratch);
    written++;
  }
  sr_buf_free(&scratch);
  return rc;
}

static int generate(const char *cmd, const gen_opts_t *opts,
                    sr_file_fmt_t fmt) {
  int to_file = opts->output && strcmp(opts->output, "-") != 0;
  FILE *f = to_file ? fopen(opts->output, "wb") : stdout;
  if (!f) {
    sr_cli_err(cmd, "cannot open %s: %s", opts->output, strerror(errno));
    return SR_EXIT_FAIL;
  }
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  sr_synth_conf_t conf = opts->conf;
  conf.events = 0; /* write_stream counts, since tsv skips events */
  sr_synth_t *syn = sr_synth_new(&conf);
  int rc = SR_EXIT_OK;
  if (!syn) {
    sr_cli_err(cmd, "out of memory for %lu users and %lu items",
               (unsigned long)conf.users, (unsigned long)conf.items);
    rc = SR_EXIT_FAIL;
  } else if (write_stream(opts, fmt, f, syn) != 0 || fflush(f) != 0) {
    sr_cli_err(cmd, "write to %s failed: %s", to_file ? opts->output : "stdout",
               strerror(errno));
    rc = SR_EXIT_FAIL;
  }
  sr_synth_free(syn);
  if (to_file && fclose(f) != 0 && rc == SR_EXIT_OK) {
    sr_cli_err(cmd, "close %s: %s", opts->output, strerror(errno));
    rc = SR_EXIT_FAIL;
  }
  /* A half-written file would pass for a short stream. */
  if (to_file && rc != SR_EXIT_OK)
    remove(opts->output);
  return rc;
}

/* One item's line: its features and embedding as --item-content asks. */
static int write_item(FILE *f, const gen_opts_t *opts, const sr_synth_t *syn,
                      uint32_t i, float *emb, sr_buf_t *buf) {
  char feat[SR_SYNTH_MAX_FEATURES][SR_SYNTH_FEATURE_LEN];
  char *fp[SR_SYNTH_MAX_FEATURES];
  size_t flen[SR_SYNTH_MAX_FEATURES];
  uint32_t n = sr_synth_item_content(syn, i, feat, opts->embedding_dims, emb);
  for (uint32_t k = 0; k < n; k++) {
    fp[k] = feat[k];
    flen[k] = strlen(feat[k]);
  }
  int features = strcmp(opts->content, "embedding") != 0,
      embedding = strcmp(opts->content, "features") != 0;
  sr_item_t item = {.available = true};
  item.item_len = (uint16_t)snprintf(item.item_id, sizeof(item.item_id), "i%lu",
                                     (unsigned long)i);
  sr_item_content_t ct = {.features = fp,
                          .feature_lens = flen,
                          .n_features = features ? n : 0,
                          .embedding = emb,
                          .n_embedding = embedding ? opts->embedding_dims : 0};
  buf->len = 0;
  if (sr_item_encode_json_content(&item, &ct, buf) != 0 ||
      sr_buf_append(buf, "\n", 1) != 0)
    return -1;
  return fwrite(buf->data, 1, buf->len, f) == buf->len ? 0 : -1;
}

/* --items-out: the catalogue from a fresh generator, whose clusters are
 * those the stream starts from. */
static int write_items(const char *cmd, const gen_opts_t *opts) {
  FILE *f = fopen(opts->items_out, "wb");
  if (!f)
    return sr_cli_err(cmd, "cannot open %s: %s", opts->items_out,
                      strerror(errno)),
           SR_EXIT_FAIL;
  sr_synth_t *syn = sr_synth_new(&opts->conf);
  float *emb = malloc(opts->embedding_dims * sizeof(float));
  sr_buf_t buf = {0};
  int rc = syn && emb ? 0 : -1;
  for (uint32_t i = 0; rc == 0 && i < opts->conf.items; i++)
    rc = write_item(f, opts, syn, i, emb, &buf);
  if (fclose(f) != 0)
    rc = -1;
  sr_buf_free(&buf);
  free(emb);
  sr_synth_free(syn);
  if (rc != 0) {
    sr_cli_err(cmd, "write to %s failed", opts->items_out);
    remove(opts->items_out);
    return SR_EXIT_FAIL;
  }
  return SR_EXIT_OK;
}

int sr_cmd_gen(int argc, char **argv) {
  gen_opts_t opts;
  opts_init(&opts);
  int rc = parse_args(argc, argv, &opts);
  if (rc != 0)
    return rc > 0 ? SR_EXIT_OK : SR_EXIT_USAGE;
  sr_file_fmt_t fmt = SR_FILE_JSONL;
  if (!opts.format) {
    if (opts.output)
      sr_file_fmt_of_name(opts.output, &fmt);
  } else if (sr_file_fmt_parse(opts.format, &fmt) != 0) {
    sr_cli_err(argv[0], "--format: unknown format '%s' (jsonl, proto, tsv)",
               opts.format);
    return SR_EXIT_USAGE;
  }
  if (strcmp(opts.content, "features") && strcmp(opts.content, "embedding") &&
      strcmp(opts.content, "both")) {
    sr_cli_err(argv[0],
               "--item-content: '%s' is not features, embedding or "
               "both",
               opts.content);
    return SR_EXIT_USAGE;
  }
  rc = generate(argv[0], &opts, fmt);
  if (rc == SR_EXIT_OK && opts.items_out)
    rc = write_items(argv[0], &opts);
  return rc;
}
