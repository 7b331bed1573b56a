/* `streamrec produce`: loads a file of events into a Kafka topic, keyed by
 * user_id, encoded as protobuf, JSON or Avro (or the records' raw bytes),
 * optionally framed for the Schema Registry; with --type item, a JSONL
 * file of catalogue items, keyed by item_id. */
#include "cli/cli.h"
#include "codec/avro_event.h"
#include "codec/event_codec.h"
#include "codec/event_file.h"
#include "codec/framing.h"
#include "codec/item_codec.h"
#include "codec/reason.h"
#include "daemon/config.h"
#include "kafka/client.h"
#include "util/buf.h"
#include "util/now.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "produce"

typedef struct produce_opts {
  const char *path;
  const char *topic;
  const char *brokers;
  sr_file_fmt_t file_fmt;
  bool file_fmt_given; /* --format; else from the file (sr_file_fmt_guess) */
  sr_wire_fmt_t encode;
  bool raw;
  bool stamp_now;         /* timestamp_ms = the send time, for latency probes */
  bool items;             /* --type item: FILE holds Item lines */
  bool tombstones;        /* --tombstones: each item sent as a null value */
  long long rate;         /* events per second; 0 = unpaced */
  sr_config_t *cfg;       /* kafka.properties (-X); input.* for Avro */
  const char *schema;     /* --schema: the Avro writer schema's file */
  long long confluent_id; /* --confluent-id, or -1: no framing */
  sr_avro_writer_t *avro; /* --encode avro */
} produce_opts_t;

/* What happened to the records of the file. */
typedef struct produce_stats {
  uint64_t queued;
  uint64_t delivered;
  uint64_t failed;
  uint64_t invalid[SR_REASON__COUNT];
  char first_invalid[SR_REASON__COUNT][256];
  char first_failure[160];
} produce_stats_t;

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: streamrec produce FILE --topic T [options]\n"
          "\n"
          "Reads events from FILE ('-' for stdin) and produces one message\n"
          "per event to topic T, keyed by user_id. Invalid records are\n"
          "skipped and counted by reason; a summary goes to stderr. Exits 0\n"
          "when every produced message was delivered, 1 when reading or\n"
          "delivery failed, 2 on bad usage.\n"
          "\n"
          "options:\n"
          "  --topic T            topic to produce to (required)\n"
          "  --format F           FILE format: jsonl, proto\n"
          "                       (varint-length-delimited Event), tsv\n"
          "                       (default: from FILE's name, .jsonl,\n"
          "                       .pb, .dat/.tsv/.csv/.data, else from its\n"
          "                       first line; jsonl for '-' and pipes)\n"
          "  --encode E           message encoding: proto (default), json or\n"
          "                       avro (by --schema, fields placed by the\n"
          "                       field mapping of -c/--set input.*)\n"
          "  --schema FILE        Avro writer schema (.avsc); default: the\n"
          "                       config's input.avro.schema_file, else\n"
          "                       streamrec's Event as a record\n"
          "  --confluent-id N     frame each message for the Schema\n"
          "                       Registry: magic byte 0, schema id N, for\n"
          "                       proto the message index [0]\n"
          "  -c FILE, --set K=V   a config whose input.fields.*, input.types\n"
          "                       and input.timestamp_format (or the\n"
          "                       topic's input.topics.T.*) --encode avro\n"
          "                       writes by\n"
          "  --raw                send each record's bytes unchanged, invalid\n"
          "                       ones included (keyed by user_id when it\n"
          "                       decodes, else unkeyed); for tests that need\n"
          "                       bad input on a topic\n"
          "  --stamp-now          set each event's timestamp_ms to the time\n"
          "                       it is sent (wall clock), so a consumer can\n"
          "                       measure end-to-end latency (not with --raw)\n"
          "  --type T             event (default) or item: FILE is JSONL of\n"
          "                       Item (proto3 JSON), each line checked and\n"
          "                       sent unchanged, keyed by item_id (for\n"
          "                       kafka.items_topic); a line not starting\n"
          "                       with '{' is TSV: item_id<TAB>features\n"
          "                       (',' or '|' between)<TAB>embedding (spaces\n"
          "                       between), sent as its JSON\n"
          "  --tombstones         with --type item: send a tombstone (null\n"
          "                       value) for each item, which removes it\n"
          "  --rate N             events per second, 0 = as fast as possible\n"
          "                       (default 0)\n"
          "  --brokers B          bootstrap servers (default: "
          "$STREAMREC_BROKERS)\n"
          "  -X NAME=VALUE        set a librdkafka property, e.g. "
          "-X security.protocol=SASL_SSL;\n"
          "                       a VALUE ${VAR} is read from the environment\n"
          "                       and masked\n"
          "  -h, --help           show this help\n");
}

/* sr_cli_getopt's callback: one option into the produce_opts_t. */
static int parse_option(int c, void *arg) {
  produce_opts_t *opts = arg;
  switch (c) {
  case 't': opts->topic = optarg; return 0;
  case 'b': opts->brokers = optarg; return 0;
  case 'r': opts->raw = true; return 0;
  case 'S': opts->stamp_now = true; return 0;
  case 'D': opts->tombstones = true; return 0;
  case 'T':
    if (!strcmp(optarg, "event") || !strcmp(optarg, "item")) {
      opts->items = optarg[0] == 'i';
      return 0;
    }
    sr_cli_err(CMD, "--type: expected event or item, got '%s'", optarg);
    return -1;
  case 'R':
    return sr_cli_int_option(CMD, "--rate", optarg, 0, LONG_MAX,
                             "events per second >= 0", &opts->rate);
  case 'X': return sr_cli_set_prop(CMD, opts->cfg, optarg);
  case 'f':
    if (sr_file_fmt_parse(optarg, &opts->file_fmt) == 0) {
      opts->file_fmt_given = true;
      return 0;
    }
    sr_cli_err(CMD, "--format: expected jsonl, proto or tsv, got '%s'", optarg);
    return -1;
  case 'e':
    if (sr_wire_fmt_parse(optarg, &opts->encode) == 0 &&
        opts->encode != SR_WIRE_AUTO)
      return 0;
    sr_cli_err(CMD, "--encode: expected proto, json or avro, got '%s'", optarg);
    return -1;
  case 's': opts->schema = optarg; return 0;
  case 'C':
    return sr_cli_int_option(CMD, "--confluent-id", optarg, 0, UINT32_MAX,
                             "a schema id 0..4294967295", &opts->confluent_id);
  }
  return -1;
}

/* Fills in what the options left out and checks the combination. */
static int finish_opts(int argc, char **argv, produce_opts_t *opts) {
  if (optind >= argc) {
    sr_cli_err(CMD, "missing FILE (see --help)");
    return -1;
  }
  opts->path = argv[optind++];
  if (optind < argc) {
    sr_cli_err(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    return -1;
  }
  if (!opts->topic || !opts->topic[0]) {
    sr_cli_err(CMD, "missing --topic");
    return -1;
  }
  if (opts->tombstones && !opts->items) {
    sr_cli_err(CMD, "--tombstones: only with --type item");
    return -1;
  }
  if ((opts->schema || opts->confluent_id >= 0) && (opts->items || opts->raw)) {
    sr_cli_err(CMD, "--schema and --confluent-id: not with --type item or "
                    "--raw");
    return -1;
  }
  if (opts->schema && opts->encode != SR_WIRE_AVRO) {
    sr_cli_err(CMD, "--schema: only with --encode avro");
    return -1;
  }
  opts->brokers = sr_cli_brokers(CMD, opts->brokers);
  if (!opts->brokers)
    return -1;
  return 0;
}

/* Returns -1 to exit 0 (help), 0 to run, or SR_EXIT_USAGE. */
static int parse_args(int argc, char **argv, produce_opts_t *opts) {
  static const struct option longopts[] = {
      {"topic", required_argument, NULL, 't'},
      {"format", required_argument, NULL, 'f'},
      {"encode", required_argument, NULL, 'e'},
      {"rate", required_argument, NULL, 'R'},
      {"brokers", required_argument, NULL, 'b'},
      {"raw", no_argument, NULL, 'r'},
      {"stamp-now", no_argument, NULL, 'S'},
      {"type", required_argument, NULL, 'T'},
      {"tombstones", no_argument, NULL, 'D'},
      {"schema", required_argument, NULL, 's'},
      {"confluent-id", required_argument, NULL, 'C'},
      {"help", no_argument, NULL, 'h'},
      SR_CLI_CONFIG_LONGOPTS,
      {NULL, 0, NULL, 0}};
  int rc = sr_cli_getopt(CMD, argc, argv, ":hX:c:", longopts, parse_option,
                         usage, opts, opts->cfg);
  if (rc != 0)
    return rc > 0 ? -1 : SR_EXIT_USAGE;
  return finish_opts(argc, argv, opts) == 0 ? 0 : SR_EXIT_USAGE;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque) {
  (void)rk;
  produce_stats_t *stats = opaque;
  if (!msg->err) {
    stats->delivered++;
    return;
  }
  if (stats->failed++ == 0)
    snprintf(stats->first_failure, sizeof(stats->first_failure), "%s",
             rd_kafka_err2str(msg->err));
}

/* Reports client-level errors (e.g. brokers unreachable) once per kind. */
static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
  (void)rk;
  (void)opaque;
  static int last;
  if (err != last)
    sr_cli_err(CMD, "kafka: %s: %s", rd_kafka_err2str(err), reason);
  last = err;
}

/* streamrec's producer defaults, which -X may override: idempotence keeps
 * retries from duplicating or reordering a user's events, a short linger
 * still batches, and a bounded message timeout lets an unreachable cluster
 * end the run instead of hanging it. librdkafka's error logs would repeat
 * what on_error reports, so only critical ones stay; -X debug=... or -X
 * log_level=... brings the rest back. */
static const char *const producer_defaults[][2] = {
    {"enable.idempotence", "true"},
    {"linger.ms", "5"},
    {"message.timeout.ms", "30000"},
    {"log.connection.close", "false"},
    {"log_level", "2"}};

/* Creates the producer. Returns NULL after reporting; *rc is then the exit
 * code: librdkafka refusing the configuration is a usage error. */
static rd_kafka_t *producer_new(const produce_opts_t *opts,
                                produce_stats_t *stats, int *rc) {
  char errstr[512];
  *rc = SR_EXIT_USAGE;
  rd_kafka_conf_t *conf = sr_cli_kafka_conf(
      CMD, opts->cfg, opts->brokers, producer_defaults,
      sizeof(producer_defaults) / sizeof(producer_defaults[0]));
  if (!conf)
    return NULL;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, stats);
  rd_kafka_t *rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
    sr_cli_err(CMD, "%s", errstr);
  }
  return rk;
}

/* Sleeps until the event with index i is due at rate events per second. */
static void pace(uint64_t start_ns, uint64_t i, long long rate) {
  if (rate <= 0)
    return;
  uint64_t due = start_ns + i * 1000000000ull / (uint64_t)rate;
  uint64_t now = sr_mono_ns();
  if (due <= now)
    return;
  struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ull),
                        .tv_nsec = (long)((due - now) % 1000000000ull)};
  nanosleep(&ts, NULL);
}

/* Queues one message, waiting for room while the local queue is full.
 * Returns 0, or -1 after reporting an error that ends the run. */
static int produce_one(rd_kafka_t *rk, const char *topic, const void *key,
                       size_t key_len, const void *val, size_t val_len) {
  rd_kafka_resp_err_t err;
  for (;;) {
    err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)val, val_len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop_requested)
      break;
    rd_kafka_poll(rk, 100); /* deliveries make room */
  }
  if (err) {
    sr_cli_err(CMD, "produce to '%s': %s", topic, rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

static void note_invalid(produce_stats_t *stats, sr_reason_t reason,
                         const char *errstr) {
  if (stats->invalid[reason]++ == 0)
    snprintf(stats->first_invalid[reason], sizeof(stats->first_invalid[0]),
             "%s", errstr);
}

/* The bytes to send for the record just read, in buf or borrowed from the
 * reader. Returns -1 when out of memory. */
static int payload(const produce_opts_t *opts, const sr_event_reader_t *rd,
                   const sr_event_t *ev, sr_buf_t *buf, const void **data,
                   size_t *len) {
  if (opts->raw) {
    *data = sr_event_reader_raw(rd, len);
    return 0;
  }
  sr_event_t stamped;
  if (opts->stamp_now) {
    stamped = *ev;
    stamped.timestamp_ms = sr_now_ms();
    ev = &stamped;
  }
  buf->len = 0;
  sr_frame_kind_t kind =
      opts->encode == SR_WIRE_PROTO ? SR_FRAME_PROTO : SR_FRAME_PLAIN;
  if (opts->confluent_id >= 0 &&
      sr_frame_write(buf, kind, (uint32_t)opts->confluent_id, NULL, 0) != 0)
    return -1;
  char errstr[256];
  int rc = opts->encode == SR_WIRE_JSON ? sr_event_encode_json(ev, buf)
           : opts->encode == SR_WIRE_AVRO
               ? sr_avro_encode(opts->avro, ev, buf, errstr, sizeof(errstr))
               : sr_event_encode_proto(ev, buf);
  if (rc != 0 && opts->encode == SR_WIRE_AVRO) {
    sr_cli_err(CMD, "%s", errstr);
    return -2;
  }
  *data = buf->data;
  *len = buf->len;
  return rc;
}

/* Sends one record. Invalid ones are counted, and sent only with --raw,
 * unkeyed since their user_id cannot be trusted. */
static int send_record(rd_kafka_t *rk, const produce_opts_t *opts,
                       const sr_event_reader_t *rd, const sr_event_t *ev,
                       bool valid, sr_buf_t *buf) {
  const void *data;
  size_t len;
  int rc = payload(opts, rd, ev, buf, &data, &len);
  if (rc != 0) {
    if (rc == -1)
      sr_cli_err(CMD, "out of memory");
    return -1;
  }
  return produce_one(rk, opts->topic, valid ? ev->user_id : NULL,
                     valid ? ev->user_len : 0, data, len);
}

/* Queues every record of rd. Returns 0, or -1 when the file or the
 * producer failed. */
static int produce_file(rd_kafka_t *rk, sr_event_reader_t *rd,
                        const produce_opts_t *opts, produce_stats_t *stats) {
  char errstr[256];
  sr_buf_t buf = {0};
  sr_event_t ev;
  sr_reason_t reason;
  uint64_t start_ns = sr_mono_ns();
  int rc = 0, n;
  while (!stop_requested &&
         (n = sr_event_reader_next(rd, &ev, &reason, errstr, sizeof(errstr)))) {
    if (n < 0) {
      sr_cli_err(CMD, "%s", errstr);
      rc = -1;
      break;
    }
    if (reason != SR_REASON_OK)
      note_invalid(stats, reason, errstr);
    if (reason != SR_REASON_OK && !opts->raw)
      continue;
    pace(start_ns, stats->queued, opts->rate);
    if (send_record(rk, opts, rd, &ev, reason == SR_REASON_OK, &buf) != 0) {
      rc = -1;
      break;
    }
    stats->queued++;
    rd_kafka_poll(rk, 0); /* serve delivery reports as we go */
  }
  sr_buf_free(&buf);
  return rc;
}

/* One item line: JSON (a '{' first) is checked and kept as it is; a TSV
 * line (item_id, features, embedding) is turned into the Item's proto3
 * JSON in json. *msg and *msg_len get the value to send. */
static sr_reason_t item_line(char *line, size_t len, sr_item_t *item,
                             sr_buf_t *json, const char **msg, size_t *msg_len,
                             char *errstr, size_t errlen) {
  size_t lead = strspn(line, " \t");
  *msg = line;
  *msg_len = len;
  if (line[lead] == '{')
    return sr_item_decode(line, len, SR_WIRE_JSON, 0, item, errstr, errlen);
  sr_item_content_t ct;
  sr_reason_t reason =
      sr_item_parse_tsv(line, len, 0, 0, item, &ct, errstr, errlen);
  json->len = 0;
  if (reason == SR_REASON_OK &&
      sr_item_encode_json_content(item, &ct, json) != 0) {
    snprintf(errstr, errlen, "out of memory");
    reason = SR_REASON_DECODE;
  }
  sr_item_content_free(&ct);
  *msg = json->data;
  *msg_len = json->len;
  return reason;
}

/* Queues every valid item line of f, keyed by its id: the line itself
 * (proto3 JSON, which the daemon reads like protobuf; a TSV line as that
 * JSON), or a tombstone. Returns 0, or -1 when the producer failed. */
static int produce_items(rd_kafka_t *rk, FILE *f, const produce_opts_t *opts,
                         produce_stats_t *stats) {
  char errstr[256], *line = NULL;
  size_t cap = 0;
  ssize_t len;
  uint64_t start_ns = sr_mono_ns();
  int rc = 0;
  sr_buf_t json = {0};
  while (!stop_requested && (len = getline(&line, &cap, f)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (len == 0)
      continue;
    sr_item_t item;
    const char *msg;
    size_t msg_len;
    sr_reason_t reason = item_line(line, (size_t)len, &item, &json, &msg,
                                   &msg_len, errstr, sizeof(errstr));
    if (reason != SR_REASON_OK) {
      note_invalid(stats, reason, errstr);
      continue;
    }
    pace(start_ns, stats->queued, opts->rate);
    if (produce_one(rk, opts->topic, item.item_id, item.item_len,
                    opts->tombstones ? NULL : msg,
                    opts->tombstones ? 0 : msg_len) != 0) {
      rc = -1;
      break;
    }
    stats->queued++;
    rd_kafka_poll(rk, 0);
  }
  sr_buf_free(&json);
  free(line);
  return rc;
}

/* Waits for outstanding deliveries; what is left after the message timeout
 * has passed counts as failed. */
static void flush_all(rd_kafka_t *rk, produce_stats_t *stats) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk, 60000);
  if (err) {
    int left = rd_kafka_outq_len(rk);
    sr_cli_err(CMD, "flush: %s (%d messages undelivered)",
               rd_kafka_err2str(err), left);
    stats->failed += (uint64_t)left;
  }
}

static uint64_t total_invalid(const produce_stats_t *stats) {
  uint64_t n = 0;
  for (int r = 1; r < SR_REASON__COUNT; r++)
    n += stats->invalid[r];
  return n;
}

static void print_summary(const produce_opts_t *opts,
                          const produce_stats_t *stats, double secs) {
  uint64_t invalid = total_invalid(stats);
  if (opts->raw)
    sr_cli_err(CMD,
               "produced %" PRIu64 " records raw to '%s' (%" PRIu64
               " of them invalid events) in %.2f s",
               stats->delivered, opts->topic, invalid, secs);
  else
    sr_cli_err(CMD,
               "produced %" PRIu64 " %s, %" PRIu64
               " skipped invalid, to '%s' in %.2f s",
               stats->delivered, opts->items ? "items" : "events", invalid,
               opts->topic, secs);
  for (int r = 1; r < SR_REASON__COUNT; r++) {
    if (stats->invalid[r])
      sr_cli_err(CMD, "  %s: %" PRIu64 " (first: %s)",
                 sr_reason_name((sr_reason_t)r), stats->invalid[r],
                 stats->first_invalid[r]);
  }
  if (stats->failed)
    sr_cli_err(CMD, "%" PRIu64 " messages not delivered (first: %s)",
               stats->failed, stats->first_failure);
}

static void on_signals(void) {
  struct sigaction sa = {.sa_handler = on_stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Produces the opened file (events from rd, or items from f) and reports.
 * Returns the exit code. */
static int run(sr_event_reader_t *rd, FILE *f, produce_opts_t *opts) {
  produce_stats_t *stats = calloc(1, sizeof(*stats));
  if (!stats) {
    sr_cli_err(CMD, "out of memory");
    return SR_EXIT_FAIL;
  }
  int rc;
  rd_kafka_t *rk = producer_new(opts, stats, &rc);
  if (!rk) {
    free(stats);
    return rc;
  }
  on_signals();
  uint64_t start_ns = sr_mono_ns();
  int failed = (f ? produce_items(rk, f, opts, stats)
                  : produce_file(rk, rd, opts, stats)) != 0;
  flush_all(rk, stats);
  print_summary(opts, stats, (double)(sr_mono_ns() - start_ns) / 1e9);
  if (stop_requested)
    sr_cli_err(CMD, "interrupted before the end of %s", opts->path);
  failed |= stats->failed > 0 || stop_requested;
  rd_kafka_destroy(rk);
  free(stats);
  return failed ? SR_EXIT_FAIL : SR_EXIT_OK;
}

/* The whole file, NUL-terminated (free it), or NULL after reporting. */
static char *read_text(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  sr_buf_t buf = {0};
  char chunk[4096];
  size_t n;
  int rc = fp ? 0 : -1;
  while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
    rc = sr_buf_append(&buf, chunk, n);
  if (fp && (ferror(fp) || rc != 0 || sr_buf_append(&buf, "", 1) != 0))
    rc = -1;
  if (rc != 0) {
    sr_cli_err(CMD, "--schema: cannot read '%s': %s", path,
               fp ? "read error" : strerror(errno));
    sr_buf_free(&buf);
    buf.data = NULL;
  }
  if (fp)
    fclose(fp);
  *len = buf.len ? buf.len - 1 : 0;
  return buf.data;
}

/* The Avro writer of --schema (or the config's schema file, or the
 * default schema) by the config's mapping for the topic. Returns 0, or
 * SR_EXIT_USAGE after reporting. */
static int avro_writer(produce_opts_t *opts) {
  sr_type_alias_t aliases[SR_CONF_MAX_ALIASES];
  sr_mapping_spec_t spec = sr_config_mapping(opts->cfg, opts->topic, aliases);
  sr_input_spec_t in = sr_config_input(opts->cfg, opts->topic);
  const char *path = opts->schema ? opts->schema : in.avro_schema_file;
  char errstr[512], *text = NULL;
  size_t len = strlen(sr_avro_default_schema);
  if (path[0] && !(text = read_text(path, &len)))
    return SR_EXIT_USAGE;
  opts->avro = sr_avro_writer_new(text ? text : sr_avro_default_schema, len,
                                  &spec, errstr, sizeof(errstr));
  free(text);
  if (opts->avro)
    return 0;
  sr_cli_err(CMD, "%s", errstr);
  return SR_EXIT_USAGE;
}

int sr_cmd_produce(int argc, char **argv) {
  static sr_config_t cfg; /* large; one produce per process */
  sr_config_init(&cfg);
  produce_opts_t opts = {.file_fmt = SR_FILE_JSONL,
                         .encode = SR_WIRE_PROTO,
                         .cfg = &cfg,
                         .confluent_id = -1};
  int rc = parse_args(argc, argv, &opts);
  if (rc == 0 && opts.encode == SR_WIRE_AVRO && !opts.items)
    rc = avro_writer(&opts);
  char errstr[256];
  sr_event_reader_t *rd = NULL;
  FILE *f = NULL;
  if (rc == 0 && opts.items &&
      !(f = strcmp(opts.path, "-") ? fopen(opts.path, "r") : stdin)) {
    sr_cli_err(CMD, "%s: %s", opts.path, strerror(errno));
    rc = SR_EXIT_FAIL;
  }
  if (rc == 0 && !opts.items && !opts.file_fmt_given)
    opts.file_fmt = sr_file_fmt_guess(opts.path);
  if (rc == 0 && !opts.items &&
      !(rd = sr_event_reader_open(opts.path, opts.file_fmt, errstr,
                                  sizeof(errstr)))) {
    sr_cli_err(CMD, "%s", errstr);
    rc = SR_EXIT_FAIL;
  }
  if (rc == 0)
    rc = run(rd, f, &opts);
  else if (rc < 0)
    rc = SR_EXIT_OK;
  sr_event_reader_free(rd);
  sr_avro_writer_free(opts.avro);
  if (f && f != stdin)
    fclose(f);
  return rc;
}
