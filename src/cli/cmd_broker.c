/* `streamrec broker`: runs the embedded Kafka broker until SIGINT, SIGTERM
 * or SIGHUP. */
#include "cli/cli.h"
#include "kafka/embedded.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOPIC_LEN 249 /* Kafka's own limit on topic names */

typedef struct broker_opts {
  int port;
  int partitions;
  int n_brokers;
  const char *topics;
} broker_opts_t;

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec broker [options]\n"
          "\n"
          "Runs librdkafka's in-process mock Kafka cluster on 127.0.0.1 for\n"
          "local development and tests. The first line on stdout is the\n"
          "bootstrap address to give clients (kcat -b, --brokers); it runs\n"
          "until SIGINT, SIGTERM or SIGHUP and then exits 0. Logs keep only\n"
          "about 5 MB per partition. Topics that clients ask for but that\n"
          "were not created here appear on first use with 4 partitions.\n"
          "\n"
          "options:\n"
          "  --port P           also listen on 127.0.0.1:P and print that\n"
          "                     address (default 0: print the brokers' own\n"
          "                     random ports)\n"
          "  --partitions N     partitions per topic (default 1)\n"
          "  --topics a,b,...   topics to create (default "
          "events,recs,events-dlq;\n"
          "                     '' creates none)\n"
          "  --brokers-count K  brokers in the cluster, 1..64 (default 1)\n"
          "  -h, --help         show this help\n");
}

/* Parses a whole-string decimal integer within [lo, hi]. */
static int parse_int(const char *opt, const char *arg, long lo, long hi,
                     int *out) {
  char what[64];
  long long v;
  snprintf(what, sizeof(what), "an integer %ld..%ld", lo, hi);
  if (sr_cli_int_option("broker", opt, arg, lo, hi, what, &v) != 0)
    return -1;
  *out = (int)v;
  return 0;
}

static int valid_topic(const char *name, size_t len) {
  if (len == 0 || len > MAX_TOPIC_LEN)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!(c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') ||
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return 0;
  }
  return 1;
}

/* Checks every name in the comma-separated list before anything starts. */
static int check_topics(const char *list) {
  const char *p = list;
  while (*p) {
    size_t len = strcspn(p, ",");
    if (!valid_topic(p, len)) {
      sr_cli_err("broker",
                 "--topics: '%.*s' is not a topic name (1..249 of "
                 "a-z A-Z 0-9 . _ -)",
                 (int)len, p);
      return -1;
    }
    p += len;
    if (*p == ',' && *++p == '\0') {
      sr_cli_err("broker", "--topics: trailing comma in '%s'", list);
      return -1;
    }
  }
  return 0;
}

/* sr_cli_getopt's callback: one option into the broker_opts_t. */
static int parse_option(int c, void *arg) {
  broker_opts_t *opts = arg;
  switch (c) {
  case 'p': return parse_int("--port", optarg, 0, 65535, &opts->port);
  case 'n':
    return parse_int("--partitions", optarg, 1, 10000, &opts->partitions);
  case 't': opts->topics = optarg; return 0;
  case 'k':
    return parse_int("--brokers-count", optarg, 1, 64, &opts->n_brokers);
  }
  return -1;
}

/* Returns -1 to exit 0 (help), 0 to run, or SR_EXIT_USAGE. */
static int parse_args(int argc, char **argv, broker_opts_t *opts) {
  static const struct option longopts[] = {
      {"port", required_argument, NULL, 'p'},
      {"partitions", required_argument, NULL, 'n'},
      {"topics", required_argument, NULL, 't'},
      {"brokers-count", required_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  *opts = (broker_opts_t){.port = 0,
                          .partitions = 1,
                          .n_brokers = 1,
                          .topics = "events,recs,events-dlq"};
  int rc = sr_cli_getopt("broker", argc, argv, ":h", longopts, parse_option,
                         usage, opts, NULL);
  if (rc != 0)
    return rc > 0 ? -1 : SR_EXIT_USAGE;
  if (optind < argc) {
    sr_cli_err("broker", "unexpected argument '%s' (see --help)", argv[optind]);
    return SR_EXIT_USAGE;
  }
  return check_topics(opts->topics) == 0 ? 0 : SR_EXIT_USAGE;
}

static int create_topics(sr_embedded_t *emb, const broker_opts_t *opts) {
  char name[MAX_TOPIC_LEN + 1], errstr[256];
  for (const char *p = opts->topics; *p;) {
    size_t len = strcspn(p, ",");
    snprintf(name, sizeof(name), "%.*s", (int)len, p);
    if (sr_embedded_create_topic(emb, name, opts->partitions, errstr,
                                 sizeof(errstr)) != SR_OK) {
      sr_cli_err("broker", "%s", errstr);
      return -1;
    }
    p += len + (p[len] == ',');
  }
  return 0;
}

int sr_cmd_broker(int argc, char **argv) {
  broker_opts_t opts;
  int rc = parse_args(argc, argv, &opts);
  if (rc != 0)
    return rc < 0 ? SR_EXIT_OK : rc;

  /* Block the stop signals before librdkafka starts its threads, which
   * inherit the mask, so that sigwait below is the one place they land. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  /* A closed terminal stops it cleanly too, unless nohup said otherwise. */
  struct sigaction hup;
  if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
    sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  char errstr[256];
  sr_embedded_t *emb =
      sr_embedded_new(opts.n_brokers, opts.port, errstr, sizeof(errstr));
  if (!emb) {
    sr_cli_err("broker", "%s", errstr);
    return SR_EXIT_FAIL;
  }
  rc = SR_EXIT_FAIL;
  if (create_topics(emb, &opts) != 0)
    goto done;
  printf("%s\n", sr_embedded_bootstraps(emb));
  fflush(stdout);
  fprintf(stderr,
          "streamrec broker: %d broker(s), topics '%s' with %d "
          "partition(s); stop with SIGINT, SIGTERM or SIGHUP\n",
          opts.n_brokers, opts.topics, opts.partitions);
  int sig;
  sigwait(&stop, &sig);
  rc = SR_EXIT_OK;
done:
  sr_embedded_free(emb);
  return rc;
}
