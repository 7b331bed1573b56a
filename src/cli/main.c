/* streamrec: a streaming online recommender for Kafka. */
#include "cli/cli.h"
#include "util/buf.h"
#include "util/log.h"

#include <cblas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} command_t;

static const command_t commands[] = {
    {"run", sr_cmd_run,
     "consume events, learn, publish top-N lists, checkpoint"},
    {"eval", sr_cmd_eval, "prequential (test-then-train) evaluation on a file"},
    {"gen", sr_cmd_gen, "write a seeded synthetic event stream"},
    {"inspect", sr_cmd_inspect, "verify a checkpoint and print what it holds"},
    {"broker", sr_cmd_broker, "run the embedded Kafka broker on 127.0.0.1"},
    {"produce", sr_cmd_produce, "load a file of events into a topic"},
    {"tail", sr_cmd_tail, "print the output topic's lists as JSON lines"},
    {"check-input", sr_cmd_check_input,
     "decode an input topic's first messages as the daemon would"},
    {"config", sr_cmd_config, "print every configuration option"},
};

/* Errors may quote librdkafka, which quotes values: they are masked as
 * log lines are. */
void sr_cli_err(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  sr_buf_t masked = {0};
  if (text) {
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  if (!text || sr_log_mask(&masked, text) != 0)
    fprintf(stderr, "streamrec %s: error (out of memory)\n", cmd);
  else
    fprintf(stderr, "streamrec %s: %s\n", cmd, masked.data);
  sr_buf_free(&masked);
  free(text);
}

static void usage(FILE *out) {
  fprintf(out, "usage: streamrec <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'streamrec <command> --help' describes each command.\n");
}

int main(int argc, char **argv) {
  /* streamrec scores on one core by design; OpenBLAS's own threads would
   * only contend with the loop thread for the same cores. */
  openblas_set_num_threads(1);
  if (argc < 2) {
    usage(stderr);
    return SR_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return SR_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("streamrec %s\n", SR_VERSION);
    return SR_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].fn(argc - 1, argv + 1);
  }
  fprintf(stderr, "streamrec: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return SR_EXIT_USAGE;
}
