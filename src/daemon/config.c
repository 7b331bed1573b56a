/* The option table and its loaders; see config.h. */
#include "daemon/config.h"

#include "codec/avro_event.h"
#include "core/model_conf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/opts.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define U32(...) SR_OPT_ROW_U32(sr_config_t, __VA_ARGS__)
#define I64(...) SR_OPT_ROW_I64(sr_config_t, __VA_ARGS__)
#define F64(...) SR_OPT_ROW_F64(sr_config_t, __VA_ARGS__)
#define STR(...) SR_OPT_ROW_STR(sr_config_t, __VA_ARGS__)
#define ENUM(...) SR_OPT_ROW_ENUM(sr_config_t, __VA_ARGS__)

/* A choice is parsed once, here, into its enum: the choices of each are
 * listed in the order of the enum's values, which are uint32_t-sized. */
_Static_assert(sizeof(sr_wire_fmt_t) == sizeof(uint32_t) &&
                   sizeof(sr_output_fmt_t) == sizeof(uint32_t) &&
                   sizeof(sr_log_level_t) == sizeof(uint32_t) &&
                   sizeof(sr_log_format_t) == sizeof(uint32_t) &&
                   sizeof(sr_unknown_types_t) == sizeof(uint32_t) &&
                   sizeof(sr_ts_fmt_t) == sizeof(uint32_t) &&
                   sizeof(sr_frame_mode_t) == sizeof(uint32_t) &&
                   sizeof(sr_retrieval_mode_t) == sizeof(uint32_t),
               "an enum option is stored as a uint32_t");
_Static_assert(SR_WIRE_AUTO == 0 && SR_WIRE_PROTO == 1 && SR_WIRE_JSON == 2 &&
                   SR_WIRE_AVRO == 3,
               "kafka.input_format lists auto|proto|json|avro");
_Static_assert(SR_FRAME_MODE_AUTO == 0 && SR_FRAME_MODE_CONFLUENT == 1 &&
                   SR_FRAME_MODE_NONE == 2,
               "input.framing lists auto|confluent|none");
_Static_assert(SR_LOG_DEBUG == 0 && SR_LOG_INFO == 1 && SR_LOG_WARN == 2 &&
                   SR_LOG_ERROR == 3,
               "log.level lists debug|info|warn|error");
_Static_assert(SR_UNKNOWN_REJECT == 0 && SR_UNKNOWN_SKIP == 1,
               "input.unknown_types lists reject|skip");
_Static_assert(SR_TS_AUTO == 0 && SR_TS_MS == 1 && SR_TS_S == 2 &&
                   SR_TS_ISO8601 == 3,
               "input.timestamp_format lists auto|ms|s|iso8601");
_Static_assert(SR_MAP_USER_ID == 0 && SR_MAP_ITEM_ID == 1 && SR_MAP_TYPE == 2 &&
                   SR_MAP_VALUE == 3 && SR_MAP_TIMESTAMP == 4,
               "input.fields.* are stored in sr_map_field_t order");
_Static_assert(SR_RETRIEVAL_EXACT == 0 && SR_RETRIEVAL_ANN == 1 &&
                   SR_RETRIEVAL_AUTO == 2,
               "recommend.retrieval lists exact|ann|auto");
_Static_assert(SR_LOG_FORMAT_LOGFMT == 0 && SR_LOG_FORMAT_JSON == 1,
               "log.format lists logfmt|json");

/* The daemon's own options. The model.* rows come from the model's own
 * table (sr_model_params), which owns their defaults and ranges. */
static const sr_opt_t options[] = {
    U32("recommend.n", recommend.n, "20", 1, 1000, "items per published list"),
    U32("recommend.batch_ms", recommend.batch_ms, "10", 0, 60000,
        "a refresh runs at most this long after a user turns dirty"),
    U32("recommend.batch_max", recommend.batch_max, "64", 1, 100000,
        "a refresh runs once this many users are dirty (64 users share one "
        "scoring pass)"),
    U32("recommend.min_interval_ms", recommend.min_interval_ms, "0", 0, 3600000,
        "a user's list refreshes at most this often (trailing refresh after a "
        "burst)"),
    ENUM("recommend.retrieval", recommend.retrieval, "auto", "exact|ann|auto",
         "how lists find their items: exact scores every item; ann re-scores "
         "the candidates of an approximate index built off the loop thread; "
         "auto is ann from recommend.ann_min_items items on"),
    U32("recommend.ann_min_items", recommend.ann_min_items, "100000", 0,
        UINT32_MAX,
        "catalogue size from which retrieval=auto uses the index (below it "
        "exact scoring is as fast)"),
    U32("recommend.ann_probe", recommend.ann_probe, "8", 1, 100000,
        "index lists scanned per user (2 sqrt(items) lists exist, at most "
        "1024): more is slower and closer to exact"),
    F64("recommend.ann_refresh_s", recommend.ann_refresh_s, "60", 0.1, 86400,
        "the index is rebuilt from the live item factors at least this often "
        "(new items are scored exactly until then)"),
    F64("recommend.ann_refresh_drift", recommend.ann_refresh_drift, "0.5", 0,
        1000,
        "the index is rebuilt sooner once the events learnt since its build "
        "reach this fraction of its items (0: by period only)"),
    U32("recommend.ann_recall_every", recommend.ann_recall_every, "1", 0,
        1000000,
        "every n-th build measures the index's recall@20 against exact "
        "scoring on a sample of users, in the background (0: never)"),
    F64("recommend.ann_recall_floor", recommend.ann_recall_floor, "0.9", 0, 1,
        "a sampled recall below this is logged as a warning (raise "
        "recommend.ann_probe); alert on streamrec_ann_recall against it"),
    STR("kafka.brokers", kafka.brokers, "embedded",
        "bootstrap servers, or 'embedded' for the in-process broker on "
        "127.0.0.1"),
    STR("kafka.group_id", kafka.group_id, "streamrec", "consumer group"),
    STR("kafka.input_topics", kafka.input_topics, "events",
        "comma-separated input topics"),
    STR("kafka.output_topic", kafka.output_topic, "recs",
        "topic the lists are published to, keyed by user id"),
    STR("kafka.dead_letter_topic", kafka.dead_letter_topic, "",
        "topic rejected messages are copied to (empty: off)"),
    STR("kafka.items_topic", kafka.items_topic, "",
        "compacted topic of Item messages keyed by item id (availability), "
        "read in full by every instance before the input (empty: off)"),
    U32("items.embedding_dims", items.embedding_dims, "0", 0, 65536,
        "length of Item embeddings; another length is dead-lettered as "
        "bad_embedding (0: the first embedding's length)"),
    ENUM("kafka.input_format", kafka.input_format, "auto",
         "auto|proto|json|avro",
         "input encoding; auto: '{' starts JSON, else protobuf; avro: by the "
         "writer schema of input.avro.schema_file"),
    ENUM("kafka.output_format", kafka.output_format, "proto", "proto|json",
         "encoding of published lists"),
    U32("kafka.partitions", kafka.partitions, "1", 1, 1024,
        "partitions of topics the embedded broker creates"),
    U32("kafka.queue_high", kafka.queue_high, "100000", 100, 10000000,
        "producer queue length at which consumption pauses"),
    U32("kafka.prefetch_messages", kafka.prefetch_messages, "100000", 1000,
        10000000,
        "messages the consumer fetches ahead of the model, all partitions "
        "together (librdkafka queued.min.messages; about 300 bytes each "
        "plus the message); a full queue refills up to 1 s later, so a "
        "backlog is read at up to about this many per second"),
    ENUM("kafka.offset_reset_policy", kafka.offset_reset_policy, "earliest",
         "earliest|fail",
         "a partition log that went backwards under the position applied "
         "(broker restarted empty, topic recreated, new cluster id): "
         "earliest resumes from the new log's start, fail stops with exit 1; "
         "either way it is logged and counted"),
    U32("kafka.until_timeout_s", kafka.until_timeout_s, "60", 0, 86400,
        "--until end gives up (exit 1) after this long without progress "
        "towards the end offsets (0: never)"),
    STR("checkpoint.dir", checkpoint.dir, "./streamrec-state",
        "directory of checkpoint files"),
    F64("checkpoint.interval_s", checkpoint.interval_s, "60", 0.05, 86400,
        "seconds between checkpoints"),
    U32("checkpoint.keep", checkpoint.keep, "3", 1, 1000,
        "checkpoints kept on disk"),
    ENUM("checkpoint.writer", checkpoint.writer, "fork", "fork|copy",
         "fork: a forked process writes each checkpoint and the loop stalls "
         "for the fork only; copy: the model is copied on the loop and "
         "written by a thread (the stall grows with the model)"),
    U32("input.max_message_bytes", input.max_message_bytes, "1048576", 64,
        1073741824, "larger input messages are rejected"),
    U32("input.max_id_len", input.max_id_len, "256", 1, 256,
        "longer user or item ids are rejected"),
    I64("input.max_future_skew_ms", input.max_future_skew_ms, "86400000", 0,
        9.2e18,
        "events stamped further ahead of the clock are rejected (0: off)"),
    STR("input.fields.user_id", input.fields[SR_MAP_USER_ID], "",
        "where a JSON message holds the user id: a path (context.user.id, "
        "items[0].id), @key, @timestamp or @header:NAME; empty: user_id, "
        "streamrec's own (docs/operations.md, Reading your own topics)"),
    STR("input.fields.item_id", input.fields[SR_MAP_ITEM_ID], "",
        "where a JSON message holds the item id, as input.fields.user_id"),
    STR("input.fields.type", input.fields[SR_MAP_TYPE], "",
        "where a JSON message holds the event type, as input.fields.user_id, "
        "or =TYPE for a topic of one type (=CLICK)"),
    STR("input.fields.value", input.fields[SR_MAP_VALUE], "",
        "where a JSON message holds the value, as input.fields.user_id"),
    STR("input.fields.timestamp", input.fields[SR_MAP_TIMESTAMP], "",
        "where a JSON message holds the timestamp, as input.fields.user_id "
        "(read by input.timestamp_format; @timestamp is the Kafka "
        "message's); empty: timestamp_ms in milliseconds"),
    ENUM("input.unknown_types", input.unknown_types, "reject", "reject|skip",
         "an event type neither input.types nor streamrec knows: reject "
         "(dead-lettered as unknown_event_type) or skip (counted as "
         "skipped_type, not dead-lettered)"),
    ENUM("input.timestamp_format", input.timestamp_format, "auto",
         "auto|ms|s|iso8601",
         "how a mapped timestamp is read: ms or s (integer or fractional) "
         "since the epoch, iso8601 with a zone "
         "(2024-05-01T12:00:00.250+02:00), or auto: numbers below 1e11 are "
         "seconds, larger ones milliseconds, other strings ISO-8601"),
    ENUM("input.framing", input.framing, "auto", "auto|confluent|none",
         "Schema Registry framing (magic byte 0, 4-byte schema id, for "
         "protobuf the message indexes) before each message: auto unwraps "
         "protobuf and JSON messages that start with byte 0 and expects Avro "
         "framed; confluent expects every message framed; none reads bare "
         "messages (Avro records without framing)"),
    STR("input.avro.schema_file", input.avro_schema_file, "",
        "the writer schema (.avsc, JSON) of kafka.input_format=avro; the "
        "field mapping applies to its records (docs/operations.md, Reading "
        "your own topics)"),
    STR("metrics.listen", metrics.listen, "127.0.0.1:9464",
        "HOST:PORT of /metrics and /healthz, or 'off'"),
    U32("metrics.max_clients", metrics.max_clients, "64", 1, 10000,
        "HTTP connections open at once; a new one closes the least recently "
        "active idle connection when full"),
    U32("metrics.max_clients_per_peer", metrics.max_clients_per_peer, "16", 1,
        10000,
        "HTTP connections open at once from one client address; a new one "
        "closes that address's least recently active idle connection"),
    U32("metrics.idle_timeout_ms", metrics.idle_timeout_ms, "5000", 100,
        3600000,
        "an HTTP connection that has not sent a complete request this long "
        "after opening or after its last response is closed"),
    STR("cluster.sync_topic", cluster.sync_topic, "",
        "topic the instances of one group exchange item deltas on "
        "(docs/scaling.md); empty: a single instance, nothing shared"),
    STR("cluster.state_topic", cluster.state_topic, "",
        "compacted topic with one partition per input partition that holds "
        "each user's latest state, so that a partition that moves brings "
        "its users along (docs/scaling.md); empty: a moved partition's "
        "users start afresh"),
    U32("cluster.sync_interval_ms", cluster.sync_interval_ms, "200", 10,
        3600000,
        "item deltas are published this often; items lag the cluster by "
        "about this long"),
    ENUM("cluster.delta_encoding", cluster.delta_encoding, "f16", "f16|f32",
         "factor deltas on the sync topic as half floats (half the bytes) "
         "or floats"),
    STR("cluster.instance_id", cluster.instance_id, "",
        "static group membership (group.instance.id) and the member id of "
        "this instance's deltas; empty: dynamic membership and a random "
        "member id kept in the checkpoint"),
    ENUM("log.level", log.level, "info", "debug|info|warn|error",
         "lowest level logged"),
    ENUM("log.format", log.format, "logfmt", "logfmt|json", "log line format"),
};

/* librdkafka properties streamrec sets itself. A user's value would be
 * overridden without a word, or would break the offsets that checkpoints
 * own, so each is refused with what to use instead. */
static const char *const owned_props[][2] = {
    {"group.id", "use kafka.group_id"},
    {"bootstrap.servers", "use kafka.brokers"},
    {"metadata.broker.list", "use kafka.brokers"},
    {"enable.auto.commit", "offsets are committed after each checkpoint"},
    {"auto.commit.enable", "offsets are committed after each checkpoint"},
    {"enable.auto.offset.store", "offsets are stored with each checkpoint"},
    {"auto.offset.reset", "use streamrec run --from"},
    {"enable.partition.eof", "use streamrec run --until end"},
    {"enable.idempotence", "the producer of lists is always idempotent"},
};

/* A value written as ${VAR} is taken from the environment, so secrets stay
 * out of files; it is a secret whatever the property, masked in every later
 * line from here on, before anything could print it. */
sr_err_t sr_config_add_property(sr_config_t *cfg, const char *name,
                                const char *value, char *errstr,
                                size_t errlen) {
  size_t vlen = strlen(value);
  bool secret = false;
  if (vlen > 3 && !strncmp(value, "${", 2) && value[vlen - 1] == '}') {
    char var[128];
    snprintf(var, sizeof(var), "%.*s", (int)(vlen - 3), value + 2);
    value = getenv(var);
    if (!value)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "kafka.properties.%s: environment variable %s is not set",
                     name, var);
    if (sr_log_add_secret(value) != 0)
      return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    secret = true;
  }
  size_t i = 0;
  while (i < cfg->kafka.n_props && strcmp(cfg->kafka.props[i].name, name))
    i++;
  if (i == SR_CONF_MAX_PROPS || !*name ||
      strlen(name) >= sizeof(cfg->kafka.props[i].name) ||
      strlen(value) >= sizeof(cfg->kafka.props[i].value))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.properties.%s: too many properties or too long",
                   name);
  strcpy(cfg->kafka.props[i].name, name);
  strcpy(cfg->kafka.props[i].value, value);
  cfg->kafka.props[i].secret = secret;
  if (i == cfg->kafka.n_props)
    cfg->kafka.n_props++;
  return SR_OK;
}

/* Adds name = value to types (of max, *n used); a name set again takes
 * the new type. key labels the errors. */
static sr_err_t set_alias(sr_conf_type_t *types, size_t *n, size_t max,
                          const char *key, const char *name, const char *value,
                          char *errstr, size_t errlen) {
  sr_event_type_t type;
  if (sr_event_type_parse(value, &type) != 0 || type == SR_EV_UNSPECIFIED)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: '%s' is not an event type (VIEW, CLICK, "
                   "ADD_TO_CART, PURCHASE, LIKE, DISLIKE, RATING)",
                   key, value);
  size_t i = 0;
  while (i < *n && strcmp(types[i].name, name))
    i++;
  if (i == max || !*name || strlen(name) >= sizeof(types[i].name))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: empty, too long or too many names", key);
  strcpy(types[i].name, name);
  types[i].type = type;
  if (i == *n)
    (*n)++;
  return SR_OK;
}

/* The entry of input.topics.<topic>, added when new; NULL when full. */
static sr_topic_mapping_t *topic_mapping(sr_config_t *cfg, const char *topic,
                                         size_t len) {
  size_t i = 0;
  while (i < cfg->input.n_topics &&
         (strlen(cfg->input.topics[i].topic) != len ||
          strncmp(cfg->input.topics[i].topic, topic, len)))
    i++;
  if (i < cfg->input.n_topics)
    return &cfg->input.topics[i];
  if (i == SR_CONF_MAX_TOPIC_MAPS || len >= SR_CONF_STR)
    return NULL;
  sr_topic_mapping_t *tm = &cfg->input.topics[cfg->input.n_topics++];
  memset(tm, 0, sizeof(*tm));
  memcpy(tm->topic, topic, len);
  static const char head[] = "input.topics.";
  memcpy(tm->prefix, head, sizeof(head) - 1);
  memcpy(tm->prefix + sizeof(head) - 1, topic, len);
  memcpy(tm->prefix + sizeof(head) - 1 + len, ".", 2);
  tm->unknown_types = -1;
  tm->timestamp_format = -1;
  tm->format = -1;
  tm->framing = -1;
  return tm;
}

/* The index of value among the '|'-separated choices, or -1. */
static int choice(const char *choices, const char *value) {
  size_t len = strlen(value);
  int i = 0;
  for (const char *p = choices; *p; i++) {
    size_t n = strcspn(p, "|");
    if (n == len && !strncmp(p, value, n))
      return i;
    p += n + (p[n] == '|');
  }
  return -1;
}

/* One setting of a topic's mapping: sub is "fields.F", "types.NAME",
 * "unknown_types" or "timestamp_format". */
static sr_err_t set_topic_option(sr_topic_mapping_t *tm, const char *key,
                                 const char *sub, const char *value,
                                 char *errstr, size_t errlen) {
  static const char *const fields[SR_MAP__COUNT] = {
      "fields.user_id", "fields.item_id", "fields.type", "fields.value",
      "fields.timestamp"};
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    if (strcmp(sub, fields[f]))
      continue;
    if (strlen(value) >= SR_CONF_STR)
      return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: too long", key);
    strcpy(tm->fields[f], value);
    tm->field_set[f] = true;
    return SR_OK;
  }
  if (!strncmp(sub, "types.", 6))
    return set_alias(tm->types, &tm->n_types, SR_CONF_MAX_TOPIC_TYPES, key,
                     sub + 6, value, errstr, errlen);
  if (!strcmp(sub, "avro.schema_file")) {
    if (strlen(value) >= SR_CONF_STR)
      return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: too long", key);
    strcpy(tm->avro_schema_file, value);
    return SR_OK;
  }
  static const struct {
    const char *name, *choices;
    size_t offset;
  } enums[] = {
      {"unknown_types", "reject|skip",
       offsetof(sr_topic_mapping_t, unknown_types)},
      {"timestamp_format", "auto|ms|s|iso8601",
       offsetof(sr_topic_mapping_t, timestamp_format)},
      {"format", "auto|proto|json|avro", offsetof(sr_topic_mapping_t, format)},
      {"framing", "auto|confluent|none", offsetof(sr_topic_mapping_t, framing)},
  };
  for (size_t e = 0; e < sizeof(enums) / sizeof(enums[0]); e++) {
    if (strcmp(sub, enums[e].name))
      continue;
    int c = choice(enums[e].choices, value);
    if (c < 0)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: '%s' is not one of %s", key, value, enums[e].choices);
    *(int32_t *)((char *)tm + enums[e].offset) = c;
    return SR_OK;
  }
  return sr_errf(errstr, errlen, SR_ERR_INVALID, "unknown option '%s'", key);
}

/* input.topics.<topic>.<sub>: the topic ends before the first of the
 * settings' names, which topic names rarely hold. */
static sr_err_t set_topic_mapping(sr_config_t *cfg, const char *key,
                                  const char *rest, const char *value,
                                  char *errstr, size_t errlen) {
  static const char *const marks[] = {
      ".fields.", ".types.",  ".unknown_types",   ".timestamp_format",
      ".format",  ".framing", ".avro.schema_file"};
  const char *sub = NULL;
  for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
    const char *at = strstr(rest, marks[m]);
    if (at && at > rest && (!sub || at < sub))
      sub = at;
  }
  if (!sub)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "unknown option '%s' (input.topics.TOPIC.fields.F, "
                   ".types.NAME, .unknown_types, .timestamp_format, .format, "
                   ".framing or .avro.schema_file)",
                   key);
  sr_topic_mapping_t *tm = topic_mapping(cfg, rest, (size_t)(sub - rest));
  if (!tm)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: more than %d topics with mappings of their own", key,
                   SR_CONF_MAX_TOPIC_MAPS);
  return set_topic_option(tm, key, sub + 1, value, errstr, errlen);
}

/* kafka.properties.<name>: passed through to librdkafka, unless streamrec
 * owns the property; input.types.<name>: a platform's event type name.
 * The engine's setter of keys no table holds. */
static sr_err_t set_property(void *obj, const char *key, const char *value,
                             char *errstr, size_t errlen) {
  static const char prefix[] = "kafka.properties.";
  static const char types[] = "input.types.";
  static const char topics[] = "input.topics.";
  sr_config_t *cfg = obj;
  if (!strncmp(key, types, sizeof(types) - 1))
    return set_alias(cfg->input.types, &cfg->input.n_types, SR_CONF_MAX_TYPES,
                     key, key + sizeof(types) - 1, value, errstr, errlen);
  if (!strncmp(key, topics, sizeof(topics) - 1))
    return set_topic_mapping(cfg, key, key + sizeof(topics) - 1, value, errstr,
                             errlen);
  if (strncmp(key, prefix, sizeof(prefix) - 1))
    return SR_ERR_NOT_FOUND;
  const char *name = key + sizeof(prefix) - 1;
  for (size_t k = 0; k < sizeof(owned_props) / sizeof(owned_props[0]); k++)
    if (!strcmp(name, owned_props[k][0]))
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "kafka.properties.%s: set by streamrec itself; %s", name,
                     owned_props[k][1]);
  return sr_config_add_property(obj, name, value, errstr, errlen);
}

/* The options of sr_config_t in the tables' storage both: the model's
 * rows first, as the reference has always listed them, then the daemon's
 * own. */
static sr_opts_t config_opts(sr_opt_table_t both[2]) {
  both[0] = (sr_opt_table_t){NULL, 0, offsetof(sr_config_t, model)};
  both[0].rows = sr_model_params(&both[0].n_rows);
  both[1] = (sr_opt_table_t){options, sizeof(options) / sizeof(options[0]), 0};
  return (sr_opts_t){both, 2, set_property};
}

sr_err_t sr_config_set(sr_config_t *cfg, const char *key, const char *value,
                       char *errstr, size_t errlen) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  return sr_opts_set(&opts, cfg, key, value, errstr, errlen);
}

sr_err_t sr_config_set_kv(sr_config_t *cfg, const char *kv, char *errstr,
                          size_t errlen) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  return sr_opts_set_kv(&opts, cfg, kv, errstr, errlen);
}

/* kafka.brokers reaches the kafka layer whole. */
_Static_assert(SR_CONF_STR <= SR_KAFKA_STR,
               "kafka.brokers longer than kafka takes");

bool sr_config_clustered(const sr_config_t *cfg) {
  return cfg->cluster.sync_topic[0] != '\0';
}

sr_kafka_conf_t sr_config_kafka(const sr_config_t *cfg) {
  return (sr_kafka_conf_t){
      .group_id = cfg->kafka.group_id,
      .input_topics = cfg->kafka.input_topics,
      .queue_high = cfg->kafka.queue_high,
      .prefetch_messages = cfg->kafka.prefetch_messages,
      .max_message_bytes = cfg->input.max_message_bytes,
      .n_props = cfg->kafka.n_props,
      .props = cfg->kafka.props,
  };
}

static const sr_topic_mapping_t *find_topic_mapping(const sr_config_t *cfg,
                                                    const char *topic) {
  for (size_t i = 0; topic && i < cfg->input.n_topics; i++)
    if (!strcmp(cfg->input.topics[i].topic, topic))
      return &cfg->input.topics[i];
  return NULL;
}

static size_t add_aliases(sr_type_alias_t *aliases, size_t n,
                          const sr_conf_type_t *types, size_t n_types) {
  for (size_t i = 0; i < n_types; i++)
    aliases[n++] = (sr_type_alias_t){types[i].name, types[i].type};
  return n;
}

sr_mapping_spec_t sr_config_mapping(const sr_config_t *cfg, const char *topic,
                                    sr_type_alias_t *aliases) {
  const sr_topic_mapping_t *tm = find_topic_mapping(cfg, topic);
  sr_mapping_spec_t spec = {
      .prefix = "input.",
      .types = aliases,
      .unknown_types = cfg->input.unknown_types,
      .timestamp_format = cfg->input.timestamp_format,
  };
  for (int f = 0; f < SR_MAP__COUNT; f++)
    spec.fields[f] =
        tm && tm->field_set[f] ? tm->fields[f] : cfg->input.fields[f];
  /* A topic's own names are looked up first. */
  if (tm)
    spec.n_types = add_aliases(aliases, 0, tm->types, tm->n_types);
  spec.n_types =
      add_aliases(aliases, spec.n_types, cfg->input.types, cfg->input.n_types);
  if (tm && tm->unknown_types >= 0)
    spec.unknown_types = (sr_unknown_types_t)tm->unknown_types;
  if (tm && tm->timestamp_format >= 0)
    spec.timestamp_format = (sr_ts_fmt_t)tm->timestamp_format;
  if (tm)
    spec.prefix = tm->prefix;
  return spec;
}

sr_input_spec_t sr_config_input(const sr_config_t *cfg, const char *topic) {
  const sr_topic_mapping_t *tm = find_topic_mapping(cfg, topic);
  sr_input_spec_t in = {
      .format = cfg->kafka.input_format,
      .framing = cfg->input.framing,
      .avro_schema_file = cfg->input.avro_schema_file,
      .prefix = "input.",
  };
  if (tm && tm->format >= 0)
    in.format = (sr_wire_fmt_t)tm->format;
  if (tm && tm->framing >= 0)
    in.framing = (sr_frame_mode_t)tm->framing;
  if (tm && tm->avro_schema_file[0]) {
    in.avro_schema_file = tm->avro_schema_file;
    in.prefix = tm->prefix;
  }
  return in;
}

/* A mapping that cannot work stops the start, naming its key; topic NULL
 * checks input.* itself. */
static sr_err_t check_one_mapping(const sr_config_t *cfg, const char *topic,
                                  char *errstr, size_t errlen) {
  sr_type_alias_t aliases[SR_CONF_MAX_ALIASES];
  sr_mapping_spec_t spec = sr_config_mapping(cfg, topic, aliases);
  sr_input_spec_t in = sr_config_input(cfg, topic);
  if (in.format == SR_WIRE_AVRO) {
    sr_avro_reader_t *rd = sr_avro_reader_new(in.avro_schema_file, in.prefix,
                                              &spec, errstr, errlen);
    sr_avro_reader_free(rd);
    return rd ? SR_OK : SR_ERR_INVALID;
  }
  if (!sr_mapping_spec_active(&spec))
    return SR_OK;
  sr_mapping_t *map = sr_mapping_new(&spec, errstr, errlen);
  if (!map)
    return SR_ERR_INVALID;
  sr_mapping_free(map);
  if (in.format == SR_WIRE_PROTO)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%sfields: a field mapping reads JSON or Avro, but "
                   "the input format is proto",
                   spec.prefix);
  return SR_OK;
}

static bool is_input_topic(const sr_config_t *cfg, const char *topic);

static sr_err_t check_mapping(const sr_config_t *cfg, char *errstr,
                              size_t errlen) {
  sr_err_t err = check_one_mapping(cfg, NULL, errstr, errlen);
  for (size_t i = 0; err == SR_OK && i < cfg->input.n_topics; i++) {
    const sr_topic_mapping_t *tm = &cfg->input.topics[i];
    if (!is_input_topic(cfg, tm->topic))
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%.*s: '%s' is not one of kafka.input_topics",
                     (int)strlen(tm->prefix) - 1, tm->prefix, tm->topic);
    err = check_one_mapping(cfg, tm->topic, errstr, errlen);
  }
  return err;
}

void sr_config_init(sr_config_t *cfg) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  memset(cfg, 0, sizeof(*cfg));
  sr_opts_defaults(&opts, cfg);
}

sr_err_t sr_config_load_file(sr_config_t *cfg, const char *path, char *errstr,
                             size_t errlen) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  return sr_opts_load_file(&opts, cfg, path, errstr, errlen);
}

sr_err_t sr_config_load_json(sr_config_t *cfg, const char *text, size_t len,
                             const char *name, char *errstr, size_t errlen) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  return sr_opts_load_json(&opts, cfg, text, len, name, errstr, errlen);
}

/* Kafka's rule for topic names: 1 to 249 characters of [a-zA-Z0-9._-],
 * neither "." nor "..". A broker refuses any other name, often long after
 * the start. */
static bool topic_name_ok(const char *name, size_t len) {
  if (len == 0 || len > 249 || (len == 1 && name[0] == '.') ||
      (len == 2 && name[0] == '.' && name[1] == '.'))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
      return false;
  return true;
}

static sr_err_t check_topic(const char *key, const char *name, size_t len,
                            char *errstr, size_t errlen) {
  if (topic_name_ok(name, len))
    return SR_OK;
  return sr_errf(errstr, errlen, SR_ERR_INVALID,
                 "%s: '%.*s' is not a valid Kafka topic name (1 to 249 of "
                 "a-z A-Z 0-9 . _ -, not '.' or '..')",
                 key, (int)len, name);
}

/* Whether topic is one of kafka.input_topics. */
static bool is_input_topic(const sr_config_t *cfg, const char *topic) {
  size_t tlen = strlen(topic);
  for (const char *p = cfg->kafka.input_topics; *p;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, ", ");
    if (len && len == tlen && !strncmp(p, topic, len))
      return true;
    p += len;
  }
  return false;
}

static bool property_set(const sr_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->kafka.n_props; i++)
    if (!strcmp(cfg->kafka.props[i].name, name))
      return true;
  return false;
}

/* A topic of streamrec's own, key's value: a valid name, and none of the
 * input topics nor any of the n others (empty ones are unset). Returns
 * SR_OK, or SR_ERR_INVALID with "KEY: 'TOPIC' is also WHAT". */
static sr_err_t check_own_topic(const sr_config_t *cfg, const char *key,
                                const char *topic, const char *const *others,
                                size_t n, const char *what, char *errstr,
                                size_t errlen) {
  sr_err_t err = check_topic(key, topic, strlen(topic), errstr, errlen);
  if (err != SR_OK)
    return err;
  bool shared = is_input_topic(cfg, topic);
  for (size_t i = 0; i < n && !shared; i++)
    shared = !strcmp(topic, others[i]);
  if (shared)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: '%s' is also %s", key,
                   topic, what);
  return SR_OK;
}

/* The state topic holds users, keyed like the input: no other topic may
 * share it. */
static sr_err_t check_state_topic(const sr_config_t *cfg, const char *out,
                                  char *errstr, size_t errlen) {
  const char *st = cfg->cluster.state_topic;
  const char *const others[] = {out, cfg->kafka.dead_letter_topic,
                                cfg->cluster.sync_topic};
  if (!*st)
    return SR_OK;
  return check_own_topic(cfg, "cluster.state_topic", st, others, 3,
                         "an input, output or sync topic; user states must "
                         "have a topic of their own",
                         errstr, errlen);
}

/* Cluster mode partitions users by input partition; a user's events on two
 * topics would be partitioned twice, and the cooperative assignor moves the
 * partitions of different topics independently. */
static sr_err_t check_cluster(const sr_config_t *cfg, const char *out,
                              char *errstr, size_t errlen) {
  const char *sync = cfg->cluster.sync_topic;
  if (!*sync && cfg->cluster.state_topic[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "cluster.state_topic: set without cluster.sync_topic; "
                   "users are handed over only in cluster mode");
  if (!*sync)
    return SR_OK;
  sr_err_t err =
      check_topic("cluster.sync_topic", sync, strlen(sync), errstr, errlen);
  if (err != SR_OK)
    return err;
  const char *p =
      cfg->kafka.input_topics + strspn(cfg->kafka.input_topics, " ,");
  p += strcspn(p, ", ");
  if (p[strspn(p, " ,")])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.input_topics: cluster mode (cluster.sync_topic) "
                   "takes one input topic: users are partitioned by input "
                   "partition, and a user's events on two topics would go to "
                   "two owners (co-partitioning); merge the topics upstream");
  if (is_input_topic(cfg, sync) || !strcmp(sync, out) ||
      !strcmp(sync, cfg->kafka.dead_letter_topic))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "cluster.sync_topic: '%s' is also an input or output "
                   "topic; deltas and events must not mix",
                   sync);
  err = check_state_topic(cfg, out, errstr, errlen);
  if (err != SR_OK)
    return err;
  if (cfg->cluster.instance_id[0] && property_set(cfg, "group.instance.id"))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.properties.group.instance.id: set both it and "
                   "cluster.instance_id; use cluster.instance_id alone");
  return SR_OK;
}

/* Items and events must not mix: each would be bad input to the other. */
static sr_err_t check_items_topic(const sr_config_t *cfg, const char *out,
                                  char *errstr, size_t errlen) {
  const char *it = cfg->kafka.items_topic;
  const char *const others[] = {out, cfg->kafka.dead_letter_topic,
                                cfg->cluster.sync_topic,
                                cfg->cluster.state_topic};
  if (!*it)
    return SR_OK;
  return check_own_topic(cfg, "kafka.items_topic", it, others, 4,
                         "another topic of streamrec's; items must have a "
                         "topic of their own",
                         errstr, errlen);
}

sr_err_t sr_config_check(const sr_config_t *cfg, bool publish, char *errstr,
                         size_t errlen) {
  sr_err_t err = SR_OK;
  for (const char *p = cfg->kafka.input_topics; *p && err == SR_OK;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, ", ");
    if (len)
      err = check_topic("kafka.input_topics", p, len, errstr, errlen);
    p += len;
  }
  const char *out = publish ? cfg->kafka.output_topic : "";
  const char *dead = cfg->kafka.dead_letter_topic;
  if (err == SR_OK && *out)
    err = check_topic("kafka.output_topic", out, strlen(out), errstr, errlen);
  if (err == SR_OK && *dead)
    err = check_topic("kafka.dead_letter_topic", dead, strlen(dead), errstr,
                      errlen);
  if (err != SR_OK)
    return err;
  /* The daemon would consume its own output: every list would come back as
   * bad input, every rejected message would be rejected again. */
  if (*out && is_input_topic(cfg, out))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.output_topic: '%s' is also an input topic; lists "
                   "would come back as bad input",
                   out);
  if (*dead && is_input_topic(cfg, dead))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.dead_letter_topic: '%s' is also an input topic; "
                   "rejected messages would be consumed again",
                   dead);
  if (*dead && !strcmp(dead, out))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.dead_letter_topic: '%s' is also "
                   "kafka.output_topic; readers of lists would get rejected "
                   "input",
                   dead);
  err = check_items_topic(cfg, out, errstr, errlen);
  if (err == SR_OK)
    err = check_cluster(cfg, out, errstr, errlen);
  return err != SR_OK ? err : check_mapping(cfg, errstr, errlen);
}

void sr_config_print_help(FILE *out, const char *prefix) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  sr_opts_print_help(&opts, out, prefix);
  if (!prefix || !strncmp("kafka.properties.", prefix, strlen(prefix)))
    fprintf(out,
            "  %-26s passed to librdkafka as NAME; a value ${VAR} is "
            "read from the environment and masked in all output\n",
            "kafka.properties.NAME");
  if (!prefix || !strncmp("input.types.", prefix, strlen(prefix)))
    fprintf(out,
            "  %-26s the platform's event type NAME is read as this type "
            "(VIEW, CLICK, ADD_TO_CART, PURCHASE, LIKE, DISLIKE, RATING); "
            "in a file, \"input\": {\"types\": {\"NAME\": \"TYPE\"}}\n",
            "input.types.NAME");
  if (!prefix || !strncmp("input.topics.", prefix, strlen(prefix)))
    fprintf(out,
            "  %-26s one input topic's own input.fields.F, input.types.NAME, "
            "input.unknown_types, input.timestamp_format, input.framing, "
            "input.avro.schema_file or format (kafka.input_format's "
            "choices); what it leaves unset is input.*'s\n",
            "input.topics.TOPIC.*");
}

void sr_config_print_markdown(FILE *out) {
  sr_opt_table_t both[2];
  sr_opts_t opts = config_opts(both);
  sr_opts_print_markdown(&opts, out);
  fprintf(out, "| `kafka.properties.NAME` | string | (none) | passed to "
               "librdkafka as NAME; a value `${VAR}` is read from the "
               "environment and masked in all output |\n");
  fprintf(out, "| `input.types.NAME` | string | (none) | the platform's event "
               "type NAME is read as this type (`VIEW`, `CLICK`, "
               "`ADD_TO_CART`, `PURCHASE`, `LIKE`, `DISLIKE`, `RATING`); in a "
               "file, `\"input\": {\"types\": {\"NAME\": \"TYPE\"}}` |\n");
  fprintf(out, "| `input.topics.TOPIC.*` | | (none) | one input topic's own "
               "`fields.F`, `types.NAME`, `unknown_types`, "
               "`timestamp_format`, `framing`, `avro.schema_file` or "
               "`format` (the choices of `kafka.input_format`), overriding "
               "`input.*` and `kafka.input_format` for that topic; its type "
               "names are looked up before `input.types` |\n");
}
