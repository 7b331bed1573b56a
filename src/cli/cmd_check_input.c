/* `streamrec check-input`: decodes the first messages of an input topic with
 * the configuration the daemon would run with, and prints for each the
 * event it becomes or the reason it would be rejected. */
#include "cli/cli.h"
#include "codec/reason.h"
#include "daemon/config.h"
#include "daemon/ingest.h"
#include "util/now.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "check-input"

typedef struct check_opts {
  const char *topic; /* NULL: the first of kafka.input_topics */
  const char *brokers;
  long long max;
  sr_config_t *cfg;
} check_opts_t;

/* What was read: counts by reason, and which partitions are at their end. */
typedef struct check_run {
  uint64_t seen;
  uint64_t by_reason[SR_REASON__COUNT];
  bool *at_end;
  int n_parts;
} check_run_t;

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: streamrec check-input [options]\n"
      "\n"
      "Reads the first messages of an input topic (every partition, from\n"
      "the beginning, without joining a group or committing) and decodes\n"
      "each with the configuration `streamrec run` would use: the format,\n"
      "the field mapping of input.fields.*, input.types, the topic's own\n"
      "input.topics.TOPIC.*, and the limits. Prints one JSON line per\n"
      "message: {\"partition\",\"offset\",\"event\":{...}} for a message that\n"
      "becomes an event, {\"partition\",\"offset\",\"rejected\":REASON,\n"
      "\"detail\":...} for one that would be dead-lettered (or skipped, for\n"
      "skipped_type); a framed message also has its \"schema_id\". A summary\n"
      "goes to stderr. Stops after -n messages or\n"
      "when every partition has been read to its end.\n"
      "\n"
      "exit: 0 every message decoded, 1 some were rejected (or the topic\n"
      "could not be read), 2 bad usage or a configuration the daemon\n"
      "would refuse.\n"
      "\n"
      "options:\n"
      "  -c, --config FILE  configuration file (repeatable)\n"
      "  --set KEY=VALUE    configuration option (repeatable; wins over -c)\n"
      "  --topic T          topic to read (default: the first of\n"
      "                     kafka.input_topics)\n"
      "  -n N               messages to read in all (default 100)\n"
      "  --brokers B        bootstrap servers (default: kafka.brokers, else\n"
      "                     $STREAMREC_BROKERS)\n"
      "  -X NAME=VALUE      set a librdkafka property; a VALUE ${VAR} is\n"
      "                     read from the environment and masked\n"
      "  -h, --help         show this help\n");
}

/* sr_cli_getopt's callback: one option into the check_opts_t. */
static int parse_option(int c, void *arg) {
  check_opts_t *opts = arg;
  switch (c) {
  case 't': opts->topic = optarg; return 0;
  case 'b': opts->brokers = optarg; return 0;
  case 'n':
    return sr_cli_int_option(CMD, "-n", optarg, 1, INT_MAX,
                             "a count of at least 1", &opts->max);
  case 'X': return sr_cli_set_prop(CMD, opts->cfg, optarg);
  }
  return -1;
}

/* The topic to read: --topic, else the first input topic, copied into
 * buf. Returns 0, or -1 after reporting. */
static int pick_topic(check_opts_t *opts, char *buf, size_t len) {
  if (!opts->topic) {
    const char *p = opts->cfg->kafka.input_topics;
    p += strspn(p, " ,");
    snprintf(buf, len, "%.*s", (int)strcspn(p, ", "), p);
    opts->topic = buf;
  }
  if (!opts->topic[0]) {
    sr_cli_err(CMD, "--topic: empty topic name");
    return -1;
  }
  return 0;
}

/* The daemon's own start checks, so that a configuration it would refuse
 * is refused here too, naming the key. */
static int finish_opts(int argc, char **argv, check_opts_t *opts, char *topic,
                       size_t len) {
  char errstr[512];
  if (optind < argc) {
    sr_cli_err(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    return -1;
  }
  if (sr_config_check(opts->cfg, false, errstr, sizeof(errstr)) != SR_OK) {
    sr_cli_err(CMD, "%s", errstr);
    return -1;
  }
  if (pick_topic(opts, topic, len) != 0)
    return -1;
  const char *conf_brokers = opts->cfg->kafka.brokers;
  if (!opts->brokers && strcmp(conf_brokers, "embedded") != 0)
    opts->brokers = conf_brokers;
  opts->brokers = sr_cli_brokers(CMD, opts->brokers);
  return opts->brokers ? 0 : -1;
}

/* Returns -1 to exit 0 (help), 0 to run, or SR_EXIT_USAGE. */
static int parse_args(int argc, char **argv, check_opts_t *opts, char *topic,
                      size_t len) {
  static const struct option longopts[] = {
      {"topic", required_argument, NULL, 't'},
      {"brokers", required_argument, NULL, 'b'},
      {"help", no_argument, NULL, 'h'},
      SR_CLI_CONFIG_LONGOPTS,
      {NULL, 0, NULL, 0}};
  int rc = sr_cli_getopt(CMD, argc, argv, ":hc:n:X:", longopts, parse_option,
                         usage, opts, opts->cfg);
  if (rc != 0)
    return rc > 0 ? -1 : SR_EXIT_USAGE;
  return finish_opts(argc, argv, opts, topic, len) == 0 ? 0 : SR_EXIT_USAGE;
}

static json_t *event_json(const sr_event_t *ev) {
  return json_pack("{s:s, s:s, s:s, s:f, s:I}", "user_id", ev->user_id,
                   "item_id", ev->item_id, "type", sr_event_type_name(ev->type),
                   "value", (double)ev->value, "timestamp_ms",
                   (json_int_t)ev->timestamp_ms);
}

/* One JSON line for one decoded message. */
static void print_result(const rd_kafka_message_t *msg, sr_reason_t reason,
                         const sr_event_t *ev, int64_t schema_id,
                         const char *why) {
  json_t *obj = json_pack("{s:i, s:I}", "partition", (int)msg->partition,
                          "offset", (json_int_t)msg->offset);
  if (!obj)
    return;
  if (schema_id >= 0)
    json_object_set_new(obj, "schema_id", json_integer(schema_id));
  if (reason == SR_REASON_OK)
    json_object_set_new(obj, "event", event_json(ev));
  else {
    json_object_set_new(obj, "rejected", json_string(sr_reason_name(reason)));
    json_object_set_new(obj, "detail", json_string(why));
  }
  char *line = json_dumps(obj, JSON_COMPACT);
  if (line)
    printf("%s\n", line);
  free(line);
  json_decref(obj);
}

static void check_message(sr_ingest_t *ing, const rd_kafka_message_t *msg,
                          check_run_t *run) {
  sr_event_t ev;
  char why[256] = "";
  int64_t schema_id;
  sr_reason_t reason =
      sr_ingest_decode(ing, msg, &ev, &schema_id, why, sizeof(why));
  run->seen++;
  run->by_reason[reason]++;
  print_result(msg, reason, &ev, schema_id, why);
}

static bool all_at_end(const check_run_t *run) {
  for (int p = 0; p < run->n_parts; p++)
    if (!run->at_end[p])
      return false;
  return true;
}

/* Handles one poll result. Returns -1 on an error that ends the check. */
static int handle(rd_kafka_t *rk, sr_ingest_t *ing, rd_kafka_message_t *msg,
                  check_run_t *run) {
  int32_t p = msg->partition;
  bool known = p >= 0 && p < run->n_parts;
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (known)
      run->at_end[p] = true;
    return 0;
  }
  if (msg->err) {
    sr_cli_err(CMD, "consume: %s", rd_kafka_message_errstr(msg));
    return rd_kafka_fatal_error(rk, NULL, 0) ? -1 : 0;
  }
  check_message(ing, msg, run);
  return 0;
}

static int consume_loop(rd_kafka_t *rk, sr_ingest_t *ing,
                        const check_opts_t *opts, check_run_t *run) {
  int rc = 0;
  while (!stop_requested && rc == 0 && run->seen < (uint64_t)opts->max &&
         !all_at_end(run)) {
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
    if (msg) {
      rc = handle(rk, ing, msg, run);
      rd_kafka_message_destroy(msg);
    }
  }
  return rc;
}

/* "N messages: E events, R rejected (reason n, ...)" on stderr. */
static void print_summary(const check_opts_t *opts, const check_run_t *run) {
  uint64_t ok = run->by_reason[SR_REASON_OK];
  fprintf(stderr,
          "streamrec " CMD ": %s: %" PRIu64 " messages: %" PRIu64
          " events, %" PRIu64 " rejected",
          opts->topic, run->seen, ok, run->seen - ok);
  const char *sep = " (";
  for (int r = 1; r < SR_REASON__COUNT; r++) {
    if (!run->by_reason[r])
      continue;
    fprintf(stderr, "%s%s %" PRIu64, sep, sr_reason_name((sr_reason_t)r),
            run->by_reason[r]);
    sep = ", ";
  }
  fprintf(stderr, "%s\n", run->seen > ok ? ")" : "");
}

static int check(rd_kafka_t *rk, sr_ingest_t *ing, const check_opts_t *opts) {
  check_run_t run = {0};
  run.n_parts = sr_cli_partition_count(CMD, rk, opts->topic);
  if (run.n_parts < 0)
    return SR_EXIT_FAIL;
  run.at_end = calloc((size_t)run.n_parts + 1, sizeof(bool));
  if (!run.at_end) {
    sr_cli_err(CMD, "out of memory");
    return SR_EXIT_FAIL;
  }
  int rc = SR_EXIT_FAIL;
  if (sr_cli_assign_all(CMD, rk, opts->topic, run.n_parts, true) == 0 &&
      consume_loop(rk, ing, opts, &run) == 0) {
    print_summary(opts, &run);
    rc = run.seen == run.by_reason[SR_REASON_OK] ? SR_EXIT_OK : SR_EXIT_FAIL;
  }
  free(run.at_end);
  return rc;
}

static void on_signals(void) {
  struct sigaction sa = {.sa_handler = on_stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int sr_cmd_check_input(int argc, char **argv) {
  static sr_config_t cfg; /* large; one check per process */
  char topic[SR_CONF_STR], errstr[512];
  sr_config_init(&cfg);
  check_opts_t opts = {.max = 100, .cfg = &cfg};
  int rc = parse_args(argc, argv, &opts, topic, sizeof(topic));
  if (rc != 0)
    return rc < 0 ? SR_EXIT_OK : rc;
  sr_ingest_t *ing =
      sr_ingest_new(&cfg, NULL, NULL, NULL, errstr, sizeof(errstr));
  if (!ing) {
    sr_cli_err(CMD, "%s", errstr);
    return SR_EXIT_USAGE;
  }
  /* The future-timestamp check needs the time the daemon would see. */
  sr_ingest_set_time(ing, sr_now_ms(), 0);
  rd_kafka_t *rk = sr_cli_consumer_new(CMD, &cfg, opts.brokers, NULL, true);
  rc = SR_EXIT_USAGE;
  if (rk) {
    on_signals();
    rc = check(rk, ing, &opts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  sr_ingest_free(ing);
  return rc;
}
