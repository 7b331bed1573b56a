/* The option table and its loaders; see config.h. */
#include "daemon/config.h"

#include "util/err.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_type {
  T_U32,
  T_U64,
  T_I64,
  T_F32,
  T_F64,
  T_STR,
  T_ENUM
} opt_type_t;

typedef struct option {
  const char *name;
  opt_type_t type;
  size_t offset;
  size_t size; /* for strings: buffer size */
  const char *def;
  double min, max;
  const char *choices; /* T_ENUM: "a|b|c"; stored as the index, an enum's
                          value (uint32_t-sized) */
  const char *help;
} option_t;

#define OFF(field) offsetof(sr_config_t, field)
#define SZ(field) sizeof(((sr_config_t *)0)->field)
#define U32(n, f, d, lo, hi, h)                                                \
  { n, T_U32, OFF(f), 0, d, lo, hi, NULL, h }
#define I64(n, f, d, lo, hi, h)                                                \
  { n, T_I64, OFF(f), 0, d, lo, hi, NULL, h }
#define F32(n, f, d, lo, hi, h)                                                \
  { n, T_F32, OFF(f), 0, d, lo, hi, NULL, h }
#define F64(n, f, d, lo, hi, h)                                                \
  { n, T_F64, OFF(f), 0, d, lo, hi, NULL, h }
#define STR(n, f, d, h)                                                        \
  { n, T_STR, OFF(f), SZ(f), d, 0, 0, NULL, h }
#define ENUM(n, f, d, c, h)                                                    \
  { n, T_ENUM, OFF(f), 0, d, 0, 0, c, h }

/* A choice is parsed once, here, into its enum: the choices of each are
 * listed in the order of the enum's values, which are uint32_t-sized. */
_Static_assert(sizeof(sr_wire_fmt_t) == sizeof(uint32_t) &&
                   sizeof(sr_output_fmt_t) == sizeof(uint32_t) &&
                   sizeof(sr_log_level_t) == sizeof(uint32_t) &&
                   sizeof(sr_log_format_t) == sizeof(uint32_t),
               "an enum option is stored as a uint32_t");
_Static_assert(SR_WIRE_AUTO == 0 && SR_WIRE_PROTO == 1 && SR_WIRE_JSON == 2,
               "kafka.input_format lists auto|proto|json");
_Static_assert(SR_LOG_DEBUG == 0 && SR_LOG_INFO == 1 && SR_LOG_WARN == 2 &&
                   SR_LOG_ERROR == 3,
               "log.level lists debug|info|warn|error");

/* The daemon's own options. The model.* rows come from the model's own
 * table (sr_model_params), which owns their defaults and ranges. */
static const option_t options[] = {
    U32("recommend.n", recommend.n, "20", 1, 1000, "items per published list"),
    U32("recommend.batch_ms", recommend.batch_ms, "10", 0, 60000,
        "a refresh runs at most this long after a user turns dirty"),
    U32("recommend.batch_max", recommend.batch_max, "64", 1, 100000,
        "a refresh runs once this many users are dirty (64 users share one "
        "scoring pass)"),
    U32("recommend.min_interval_ms", recommend.min_interval_ms, "0", 0, 3600000,
        "a user's list refreshes at most this often (trailing refresh after a "
        "burst)"),
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
    ENUM("kafka.input_format", kafka.input_format, "auto", "auto|proto|json",
         "input encoding; auto: '{' starts JSON"),
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
    ENUM("log.level", log.level, "info", "debug|info|warn|error",
         "lowest level logged"),
    ENUM("log.format", log.format, "logfmt", "logfmt|json", "log line format"),
};

#define N_OWN (sizeof(options) / sizeof(options[0]))

/* A row of the model's table as a row of this one. */
static option_t from_param(const sr_model_param_t *param) {
  static const opt_type_t types[] = {
      [SR_PARAM_U32] = T_U32,
      [SR_PARAM_U64] = T_U64,
      [SR_PARAM_F32] = T_F32,
      [SR_PARAM_ENUM] = T_ENUM,
  };
  return (option_t){param->name, types[param->type], OFF(model) + param->offset,
                    0,           param->def,         param->min,
                    param->max,  param->choices,     param->help};
}

/* Every option, the model's first: fills *opt with row i and returns
 * true, or false past the last row. */
static bool option_at(size_t i, option_t *opt) {
  size_t n_model;
  const sr_model_param_t *params = sr_model_params(&n_model);
  if (i < n_model)
    *opt = from_param(&params[i]);
  else if (i - n_model < N_OWN)
    *opt = options[i - n_model];
  else
    return false;
  return true;
}

static bool find_option(const char *name, option_t *opt) {
  for (size_t i = 0; option_at(i, opt); i++)
    if (!strcmp(opt->name, name))
      return true;
  return false;
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
  size_t vlen = strlen(value);
  int idx = 0;
  for (const char *p = choices;; idx++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == vlen && !strncmp(p, value, len))
      return idx;
    if (!bar)
      return -1;
    p = bar + 1;
  }
}

static sr_err_t parse_number(const option_t *opt, const char *value,
                             double *out, char *errstr, size_t errlen) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (!*value || *end || errno || !isfinite(v))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: '%s' is not a number",
                   opt->name, value);
  if ((opt->type == T_U32 || opt->type == T_U64 || opt->type == T_I64) &&
      v != floor(v))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: '%s' is not an integer",
                   opt->name, value);
  if (v < opt->min || v > opt->max)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s is out of range [%g, %g]", opt->name, value,
                   opt->min, opt->max);
  *out = v;
  return SR_OK;
}

static sr_err_t set_string(const option_t *opt, char *dst, const char *value,
                           char *errstr, size_t errlen) {
  if (strlen(value) >= opt->size)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: value longer than %zu bytes", opt->name, opt->size - 1);
  strcpy(dst, value);
  return SR_OK;
}

static sr_err_t apply(sr_config_t *cfg, const option_t *opt, const char *value,
                      char *errstr, size_t errlen) {
  char *dst = (char *)cfg + opt->offset;
  double v = 0;
  sr_err_t err;
  if (opt->type == T_STR)
    return set_string(opt, dst, value, errstr, errlen);
  if (opt->type == T_ENUM) {
    int idx = choice_index(opt->choices, value);
    if (idx < 0)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: '%s' is not one of %s", opt->name, value,
                     opt->choices);
    uint32_t value32 = (uint32_t)idx;
    memcpy(dst, &value32, sizeof(value32));
    return SR_OK;
  }
  if ((err = parse_number(opt, value, &v, errstr, errlen)) != SR_OK)
    return err;
  switch (opt->type) {
  case T_U32: *(uint32_t *)dst = (uint32_t)v; break;
  case T_U64: *(uint64_t *)dst = (uint64_t)v; break;
  case T_I64: *(int64_t *)dst = (int64_t)v; break;
  case T_F32: *(float *)dst = (float)v; break;
  default: *(double *)dst = v; break;
  }
  return SR_OK;
}

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

/* kafka.properties.<name>: passed through to librdkafka, unless streamrec
 * owns the property. */
static sr_err_t set_property(sr_config_t *cfg, const char *name,
                             const char *value, char *errstr, size_t errlen) {
  for (size_t k = 0; k < sizeof(owned_props) / sizeof(owned_props[0]); k++)
    if (!strcmp(name, owned_props[k][0]))
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "kafka.properties.%s: set by streamrec itself; %s", name,
                     owned_props[k][1]);
  return sr_config_add_property(cfg, name, value, errstr, errlen);
}

sr_err_t sr_config_set(sr_config_t *cfg, const char *key, const char *value,
                       char *errstr, size_t errlen) {
  static const char prefix[] = "kafka.properties.";
  if (!strncmp(key, prefix, sizeof(prefix) - 1))
    return set_property(cfg, key + sizeof(prefix) - 1, value, errstr, errlen);
  option_t opt;
  if (!find_option(key, &opt))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "unknown option '%s'", key);
  return apply(cfg, &opt, value, errstr, errlen);
}

sr_err_t sr_config_set_kv(sr_config_t *cfg, const char *kv, char *errstr,
                          size_t errlen) {
  const char *eq = strchr(kv, '=');
  char key[256];
  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "--set expects key=value, got '%s'", kv);
  snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
  return sr_config_set(cfg, key, eq + 1, errstr, errlen);
}

/* kafka.brokers reaches the kafka layer whole. */
_Static_assert(SR_CONF_STR <= SR_KAFKA_STR,
               "kafka.brokers longer than kafka takes");

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

void sr_config_init(sr_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  option_t opt;
  for (size_t i = 0; option_at(i, &opt); i++) {
    sr_err_t err = apply(cfg, &opt, opt.def, NULL, 0);
    (void)err;
    /* A default that does not parse is a bug in the table itself. */
    if (err != SR_OK)
      abort();
  }
}

static sr_err_t apply_json(sr_config_t *cfg, const char *key, json_t *val,
                           const char *path, json_t *seen, char *errstr,
                           size_t errlen);

static sr_err_t apply_object(sr_config_t *cfg, const char *prefix, json_t *obj,
                             const char *path, json_t *seen, char *errstr,
                             size_t errlen) {
  const char *name;
  json_t *val;
  json_object_foreach(obj, name, val) {
    char key[512];
    snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name);
    sr_err_t err = apply_json(cfg, key, val, path, seen, errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return SR_OK;
}

/* seen holds every key the document has set so far: jansson rejects a key
 * repeated within one object, this catches one given both nested and dotted
 * ({"model":{"dims":8},"model.dims":9}), where the last would win silently. */
static sr_err_t apply_json(sr_config_t *cfg, const char *key, json_t *val,
                           const char *path, json_t *seen, char *errstr,
                           size_t errlen) {
  char text[SR_CONF_STR + 64];
  if (json_is_object(val))
    return apply_object(cfg, key, val, path, seen, errstr, errlen);
  if (json_object_get(seen, key))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s: given more than once (nested and dotted)", path,
                   key);
  json_object_set_new(seen, key, json_true());
  if (json_is_string(val))
    snprintf(text, sizeof(text), "%s", json_string_value(val));
  else if (json_is_integer(val))
    snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
             json_integer_value(val));
  else if (json_is_real(val))
    snprintf(text, sizeof(text), "%.17g", json_real_value(val));
  else if (json_is_boolean(val))
    snprintf(text, sizeof(text), "%s", json_is_true(val) ? "true" : "false");
  else
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s: arrays and null are not accepted", path, key);
  char msg[512];
  sr_err_t err = sr_config_set(cfg, key, text, msg, sizeof(msg));
  if (err != SR_OK)
    return sr_errf(errstr, errlen, err, "%s: %s", path, msg);
  return SR_OK;
}

/* Applies a parsed document; name labels errors. Takes root's reference. */
static sr_err_t apply_root(sr_config_t *cfg, json_t *root, const char *name,
                           char *errstr, size_t errlen) {
  json_t *seen = json_object();
  sr_err_t err = json_is_object(root)
                     ? apply_object(cfg, "", root, name, seen, errstr, errlen)
                     : sr_errf(errstr, errlen, SR_ERR_INVALID,
                               "%s: top level must be a JSON object", name);
  json_decref(seen);
  json_decref(root);
  return err;
}

sr_err_t sr_config_load_file(sr_config_t *cfg, const char *path, char *errstr,
                             size_t errlen) {
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s:%d: %s", path, jerr.line,
                   jerr.text);
  return apply_root(cfg, root, path, errstr, errlen);
}

sr_err_t sr_config_load_json(sr_config_t *cfg, const char *text, size_t len,
                             const char *name, char *errstr, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s:%d: %s", name, jerr.line,
                   jerr.text);
  return apply_root(cfg, root, name, errstr, errlen);
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
  return SR_OK;
}

static const char *type_name(const option_t *opt) {
  /* model.seed (T_U64) has always been listed as an int. */
  static const char *const names[] = {"uint",  "int",    "int", "float",
                                      "float", "string", "enum"};
  return opt->choices ? opt->choices : names[opt->type];
}

void sr_config_print_help(FILE *out, const char *prefix) {
  option_t row;
  for (size_t i = 0; option_at(i, &row); i++) {
    const option_t *opt = &row;
    if (prefix && strncmp(opt->name, prefix, strlen(prefix)))
      continue;
    fprintf(out, "  %-26s %s (%s, default '%s')\n", opt->name, opt->help,
            type_name(opt), opt->def);
  }
  if (!prefix || !strncmp("kafka.properties.", prefix, strlen(prefix)))
    fprintf(out,
            "  %-26s passed to librdkafka as NAME; a value ${VAR} is "
            "read from the environment and masked in all output\n",
            "kafka.properties.NAME");
}

/* Writes text for a Markdown table cell: '|' escaped so a choice list
 * ("a|b") stays in one cell. */
static void md_cell(FILE *out, const char *text) {
  for (; *text; text++) {
    if (*text == '|')
      fputc('\\', out);
    fputc(*text, out);
  }
}

void sr_config_print_markdown(FILE *out) {
  fprintf(out, "| option | type | default | meaning |\n|---|---|---|---|\n");
  option_t row;
  for (size_t i = 0; option_at(i, &row); i++) {
    const option_t *opt = &row;
    fprintf(out, "| `%s` | ", opt->name);
    md_cell(out, type_name(opt));
    if (*opt->def)
      fprintf(out, " | `%s` | ", opt->def);
    else
      fprintf(out, " | (empty) | ");
    md_cell(out, opt->help);
    fprintf(out, " |\n");
  }
  fprintf(out, "| `kafka.properties.NAME` | string | (none) | passed to "
               "librdkafka as NAME; a value `${VAR}` is read from the "
               "environment and masked in all output |\n");
}
