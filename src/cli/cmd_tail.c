/* `streamrec tail`: prints the lists on an output topic as JSON lines. */
#include "cli/cli.h"
#include "codec/event_codec.h"
#include "codec/recs_codec.h"
#include "daemon/config.h"
#include "kafka/client.h"
#include "util/buf.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "tail"

typedef struct tail_opts {
  const char *topic;
  const char *user;
  const char *brokers;
  const char *group;
  bool from_beginning;
  bool exit_at_end;
  sr_config_t *cfg; /* only kafka.properties (-X) is used */
} tail_opts_t;

/* Which partitions have been read to their end since their last message. */
typedef struct eof_set {
  bool *at_end;
  int n;
} eof_set_t;

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec tail [options]\n"
          "\n"
          "Consumes a topic of Recommendations (protobuf or JSON, detected\n"
          "per message) and prints each as one JSON line on stdout. A message\n"
          "that does not decode is reported on stderr as\n"
          "{\"error\":...,\"partition\":...,\"offset\":...} and skipped. Runs\n"
          "until SIGINT/SIGTERM/SIGHUP or its reader closes stdout (exit 0),\n"
          "or with -e until every partition has been read to its end.\n"
          "\n"
          "options:\n"
          "  --topic T          topic to read (default recs)\n"
          "  --user U           only lists of user U (message key or user_id)\n"
          "  --from WHERE       beginning or end (default end); with --group,\n"
          "                     only where the group has no committed offset\n"
          "  -e, --exit         exit once every partition is at its end\n"
          "  --brokers B        bootstrap servers (default: "
          "$STREAMREC_BROKERS)\n"
          "  --group G          join consumer group G and commit progress;\n"
          "                     by default all partitions are read without a\n"
          "                     group and nothing is committed\n"
          "  -X NAME=VALUE      set a librdkafka property; a VALUE ${VAR} is\n"
          "                     read from the environment and masked\n"
          "  -h, --help         show this help\n");
}

static int parse_from(const char *arg, bool *from_beginning) {
  if (!strcmp(arg, "beginning") || !strcmp(arg, "earliest"))
    *from_beginning = true;
  else if (!strcmp(arg, "end") || !strcmp(arg, "latest"))
    *from_beginning = false;
  else {
    sr_cli_err(CMD, "--from: expected beginning or end, got '%s'", arg);
    return -1;
  }
  return 0;
}

/* sr_cli_getopt's callback: one option into the tail_opts_t. */
static int parse_option(int c, void *arg) {
  tail_opts_t *opts = arg;
  switch (c) {
  case 't': opts->topic = optarg; return 0;
  case 'u': opts->user = optarg; return 0;
  case 'b': opts->brokers = optarg; return 0;
  case 'g': opts->group = optarg; return 0;
  case 'e': opts->exit_at_end = true; return 0;
  case 'f': return parse_from(optarg, &opts->from_beginning);
  case 'X': return sr_cli_set_prop(CMD, opts->cfg, optarg);
  }
  return -1;
}

static int finish_opts(int argc, char **argv, tail_opts_t *opts) {
  if (optind < argc) {
    sr_cli_err(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    return -1;
  }
  if (!opts->topic[0]) {
    sr_cli_err(CMD, "--topic: empty topic name");
    return -1;
  }
  if (opts->group && !opts->group[0]) {
    sr_cli_err(CMD, "--group: empty group name");
    return -1;
  }
  opts->brokers = sr_cli_brokers(CMD, opts->brokers);
  if (!opts->brokers)
    return -1;
  return 0;
}

/* Returns -1 to exit 0 (help), 0 to run, or SR_EXIT_USAGE. */
static int parse_args(int argc, char **argv, tail_opts_t *opts) {
  static const struct option longopts[] = {
      {"topic", required_argument, NULL, 't'},
      {"user", required_argument, NULL, 'u'},
      {"from", required_argument, NULL, 'f'},
      {"exit", no_argument, NULL, 'e'},
      {"brokers", required_argument, NULL, 'b'},
      {"group", required_argument, NULL, 'g'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int rc = sr_cli_getopt(CMD, argc, argv, ":heX:", longopts, parse_option,
                         usage, opts, NULL);
  if (rc != 0)
    return rc > 0 ? -1 : SR_EXIT_USAGE;
  return finish_opts(argc, argv, opts) == 0 ? 0 : SR_EXIT_USAGE;
}

static int subscribe(rd_kafka_t *rk, const tail_opts_t *opts) {
  rd_kafka_topic_partition_list_t *topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, opts->topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err)
    sr_cli_err(CMD, "subscribe '%s': %s", opts->topic, rd_kafka_err2str(err));
  return err ? -1 : 0;
}

/* True when every partition currently assigned to us is at its end. With a
 * group the assignment may be a subset, or empty while joining. */
static bool all_at_end(rd_kafka_t *rk, const eof_set_t *eofs) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  bool done = parts->cnt > 0;
  for (int i = 0; i < parts->cnt && done; i++) {
    int32_t p = parts->elems[i].partition;
    done = p >= 0 && p < eofs->n && eofs->at_end[p];
  }
  rd_kafka_topic_partition_list_destroy(parts);
  return done;
}

static void report_undecodable(const rd_kafka_message_t *msg, const char *why) {
  json_t *obj =
      json_pack("{s:s, s:i, s:I}", "error", why, "partition",
                (int)msg->partition, "offset", (json_int_t)msg->offset);
  char *line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  if (line)
    fprintf(stderr, "%s\n", line);
  free(line);
  json_decref(obj);
}

static bool key_is(const rd_kafka_message_t *msg, const char *user) {
  size_t len = strlen(user);
  return msg->key_len == len && memcmp(msg->key, user, len) == 0;
}

/* Writes one line to stdout. Returns 0, 1 when the reader went away (the
 * end of `tail | head`: a normal end), or -1 after reporting an error. */
static int write_line(const sr_buf_t *line) {
  if (fwrite(line->data, 1, line->len, stdout) == line->len &&
      fflush(stdout) == 0)
    return 0;
  if (errno == EPIPE)
    return 1;
  sr_cli_err(CMD, "stdout: %s", strerror(errno));
  return -1;
}

/* Prints one message as a JSON line, unless --user filters it out. A
 * message matches when its key or its decoded user_id is the user.
 * Returns what write_line does. */
static int print_message(const rd_kafka_message_t *msg, const tail_opts_t *opts,
                         sr_buf_t *line) {
  bool key_match = opts->user && msg->key && key_is(msg, opts->user);
  sr_recs_t recs = {0};
  char errstr[256];
  if (sr_recs_decode(msg->payload, msg->len, SR_WIRE_AUTO, &recs, errstr,
                     sizeof(errstr)) != SR_OK) {
    /* Someone else's broken message is not this user's business. */
    if (!opts->user || key_match || !msg->key)
      report_undecodable(msg, errstr);
    return 0;
  }
  bool wanted = !opts->user || key_match ||
                (recs.user_id && !strcmp(recs.user_id, opts->user));
  line->len = 0;
  int rc = 0;
  if (wanted && sr_recs_encode_json(&recs, line) == 0 &&
      sr_buf_append(line, "\n", 1) == 0)
    rc = write_line(line);
  sr_recs_clear(&recs);
  return rc;
}

/* Handles one poll result. Returns -1 on an error that ends the tail, 1
 * when stdout's reader went away. */
static int handle(rd_kafka_t *rk, rd_kafka_message_t *msg,
                  const tail_opts_t *opts, eof_set_t *eofs, sr_buf_t *line) {
  int32_t p = msg->partition;
  bool known = p >= 0 && p < eofs->n;
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (known)
      eofs->at_end[p] = true;
    return 0;
  }
  if (msg->err) {
    /* librdkafka retries transient errors itself; only a fatal one ends
     * the tail, and a repeat of the same error is not worth a line. */
    static rd_kafka_resp_err_t last;
    if (msg->err != last)
      sr_cli_err(CMD, "consume: %s", rd_kafka_message_errstr(msg));
    last = msg->err;
    return rd_kafka_fatal_error(rk, NULL, 0) ? -1 : 0;
  }
  if (known)
    eofs->at_end[p] = false;
  return print_message(msg, opts, line);
}

static int consume_loop(rd_kafka_t *rk, const tail_opts_t *opts,
                        eof_set_t *eofs) {
  sr_buf_t line = {0};
  int rc = 0;
  while (!stop_requested && rc == 0) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
    if (msg) {
      rc = handle(rk, msg, opts, eofs, &line);
      rd_kafka_message_destroy(msg);
    }
    if (opts->exit_at_end && all_at_end(rk, eofs))
      break;
  }
  sr_buf_free(&line);
  return rc > 0 ? 0 : rc;
}

/* A closed terminal (SIGHUP) stops the tail as cleanly as SIGINT: with a
 * group, the consumer leaves it and commits. A closed stdout shows up as
 * EPIPE on the next write, not as a fatal SIGPIPE. */
static void on_signals(void) {
  struct sigaction sa = {.sa_handler = on_stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  struct sigaction old;
  if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
    sigaction(SIGHUP, &sa, NULL); /* nohup's choice stands */
  signal(SIGPIPE, SIG_IGN);
}

static int run(rd_kafka_t *rk, const tail_opts_t *opts) {
  int n = sr_cli_partition_count(CMD, rk, opts->topic);
  if (n < 0)
    return SR_EXIT_FAIL;
  eof_set_t eofs = {.at_end = calloc((size_t)n + 1, sizeof(bool)), .n = n};
  int rc = SR_EXIT_FAIL;
  if (!eofs.at_end)
    sr_cli_err(CMD, "out of memory");
  else if ((opts->group ? subscribe(rk, opts)
                        : sr_cli_assign_all(CMD, rk, opts->topic, n,
                                            opts->from_beginning)) == 0)
    rc = consume_loop(rk, opts, &eofs) == 0 ? SR_EXIT_OK : SR_EXIT_FAIL;
  free(eofs.at_end);
  return rc;
}

int sr_cmd_tail(int argc, char **argv) {
  static sr_config_t cfg; /* large; one tail per process */
  sr_config_init(&cfg);
  tail_opts_t opts = {.topic = "recs", .cfg = &cfg};
  int rc = parse_args(argc, argv, &opts);
  if (rc != 0)
    return rc < 0 ? SR_EXIT_OK : rc;
  rd_kafka_t *rk = sr_cli_consumer_new(CMD, &cfg, opts.brokers, opts.group,
                                       opts.from_beginning);
  if (!rk)
    return SR_EXIT_USAGE;
  on_signals();
  rc = run(rk, &opts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}
