/* `streamrec run`: the daemon. Parses the command line and the config,
 * then hands over to the event loop (src/daemon/loop.c). */
#include "cli/cli.h"
#include "daemon/config.h"
#include "daemon/loop.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "run"

typedef struct run_args {
  sr_config_t cfg;
  sr_run_opts_t opts;
} run_args_t;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: streamrec run [-c FILE] [--set KEY=VALUE]... [options]\n"
      "\n"
      "Consumes events from Kafka, learns from each one, publishes a\n"
      "refreshed top-N list per user to the output topic and checkpoints\n"
      "the model. With kafka.brokers = embedded (the default) it starts an\n"
      "in-process broker and prints 'embedded Kafka at HOST:PORT' first.\n"
      "SIGTERM/SIGINT/SIGHUP stop it cleanly (flush, final checkpoint,\n"
      "commit, exit 0); SIGUSR1 writes a checkpoint now; docs/operations.md\n"
      "lists the other signals. Exit codes: 0 success, 1 failure, 2 bad\n"
      "usage, configuration or incompatible checkpoint.\n"
      "\n"
      "options:\n"
      "  -c, --config FILE   JSON config file (nested or dotted keys)\n"
      "  --set KEY=VALUE     set one option, after the file (repeatable)\n"
      "  --from WHERE        where partitions without a checkpointed\n"
      "                      offset start: earliest (default), latest,\n"
      "                      committed (the group's offset), or a time in\n"
      "                      ms since the epoch\n"
      "  --until end         exit 0 once the end offsets taken at start\n"
      "                      are reached, lists delivered and a final\n"
      "                      checkpoint written (backfill)\n"
      "  --no-publish        learn only; publish no lists\n"
      "  -h, --help          show this help\n"
      "\n"
      "config options:\n");
  sr_config_print_help(out, NULL);
}

static int parse_from(const char *arg, sr_run_opts_t *opts) {
  static const char *const names[] = {"earliest", "latest", "committed"};
  for (int i = 0; i < 3; i++) {
    if (!strcmp(arg, names[i])) {
      opts->from = (sr_from_t)i;
      return 0;
    }
  }
  char *end;
  errno = 0;
  long long ts = strtoll(arg, &end, 10);
  if (errno || end == arg || *end || ts < 0) {
    sr_cli_err(CMD,
               "--from: expected earliest, latest, committed or a time in "
               "ms, got '%s'",
               arg);
    return -1;
  }
  opts->from = SR_FROM_TIMESTAMP;
  opts->from_ts_ms = ts;
  return 0;
}

/* sr_cli_getopt's callback: one option of run's own. */
static int parse_option(int c, void *arg) {
  run_args_t *a = arg;
  switch (c) {
  case 'f': return parse_from(optarg, &a->opts);
  case 'u':
    if (!strcmp(optarg, "end")) {
      a->opts.until_end = true;
      return 0;
    }
    sr_cli_err(CMD, "--until: only 'end' is supported, got '%s'", optarg);
    return -1;
  case 'n': a->opts.no_publish = true; return 0;
  }
  return -1;
}

/* Returns -1 to exit 0 (help), 0 to run, or SR_EXIT_USAGE. */
static int parse_args(int argc, char **argv, run_args_t *a) {
  static const struct option longopts[] = {
      SR_CLI_CONFIG_LONGOPTS,
      {"from", required_argument, NULL, 'f'},
      {"until", required_argument, NULL, 'u'},
      {"no-publish", no_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int rc = sr_cli_getopt(CMD, argc, argv, ":c:h", longopts, parse_option, usage,
                         a, &a->cfg);
  if (rc != 0)
    return rc > 0 ? -1 : SR_EXIT_USAGE;
  if (optind < argc) {
    sr_cli_err(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    return SR_EXIT_USAGE;
  }
  return 0;
}

int sr_cmd_run(int argc, char **argv) {
  static run_args_t args; /* large (the config); one run per process */
  memset(&args, 0, sizeof(args));
  sr_config_init(&args.cfg);
  int rc = parse_args(argc, argv, &args);
  if (rc != 0)
    return rc < 0 ? SR_EXIT_OK : rc;
  args.opts.progress = isatty(STDERR_FILENO);
  /* A broker or HTTP client closing a socket, or a file size limit, must
   * not kill the daemon: the write that hit it fails and says why. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  char errstr[1024];
  sr_err_t err;
  sr_daemon_t *d =
      sr_daemon_new(&args.cfg, &args.opts, &err, errstr, sizeof(errstr));
  if (!d) {
    sr_cli_err(CMD, "%s", errstr);
    return err == SR_ERR_INVALID || err == SR_ERR_DIMS ? SR_EXIT_USAGE
                                                       : SR_EXIT_FAIL;
  }
  rc = sr_daemon_run(d);
  sr_daemon_free(d);
  return rc;
}
