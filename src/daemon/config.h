/* Configuration: the daemon's option table (its model.* rows are the
 * model's own table, core/model_conf.h), run by the option engine of
 * util/opts.h: defaults, validation of JSON files and --set overrides, and
 * the option reference all come from the tables. On top of the engine:
 * kafka.properties.*, the checks across options, and the kafka layer's
 * configuration. Not thread-safe; load before use. */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#include "codec/event_codec.h"
#include "codec/framing.h"
#include "codec/mapping.h"
#include "kafka/conf.h"
#include "streamrec/model.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdio.h>

#define SR_CONF_STR 256
#define SR_CONF_MAX_PROPS 64
#define SR_CONF_MAX_TYPES 64
#define SR_CONF_MAX_TOPIC_MAPS 8
#define SR_CONF_MAX_TOPIC_TYPES 16
/* Type names one topic's mapping can hold: its own and input.types. */
#define SR_CONF_MAX_ALIASES (SR_CONF_MAX_TYPES + SR_CONF_MAX_TOPIC_TYPES)

/* input.types.NAME = TYPE. */
typedef struct sr_conf_type {
  char name[128];
  sr_event_type_t type;
} sr_conf_type_t;

/* input.topics.TOPIC.*: one input topic's overrides of the field mapping;
 * what it leaves unset is input.*'s. */
typedef struct sr_topic_mapping {
  char topic[SR_CONF_STR];
  char prefix[SR_CONF_STR + 16]; /* "input.topics.TOPIC.", for errors */
  char fields[SR_MAP__COUNT][SR_CONF_STR];
  bool field_set[SR_MAP__COUNT];
  int32_t unknown_types;    /* an sr_unknown_types_t, or -1: unset */
  int32_t timestamp_format; /* an sr_ts_fmt_t, or -1: unset */
  int32_t format;           /* an sr_wire_fmt_t, or -1: kafka.input_format */
  int32_t framing;          /* an sr_frame_mode_t, or -1: input.framing */
  char avro_schema_file[SR_CONF_STR]; /* "": input.avro.schema_file */
  size_t n_types;                     /* looked up before input.types */
  sr_conf_type_t types[SR_CONF_MAX_TOPIC_TYPES];
} sr_topic_mapping_t;

/* checkpoint.writer, in the order of its choices. */
enum { SR_CKPT_FORK, SR_CKPT_COPY };
/* kafka.offset_reset_policy, in the order of its choices. */
enum { SR_RESET_EARLIEST, SR_RESET_FAIL };
/* kafka.output_format, in the order of its choices. */
typedef enum sr_output_fmt { SR_OUTPUT_PROTO, SR_OUTPUT_JSON } sr_output_fmt_t;
/* recommend.retrieval, in the order of its choices. */
typedef enum sr_retrieval_mode {
  SR_RETRIEVAL_EXACT,
  SR_RETRIEVAL_ANN,
  SR_RETRIEVAL_AUTO
} sr_retrieval_mode_t;
/* cluster.delta_encoding, in the order of its choices. */
enum { SR_SYNC_F16, SR_SYNC_F32 };

typedef struct sr_config {
  sr_model_conf_t model;
  struct {
    char brokers[SR_CONF_STR];
    char group_id[SR_CONF_STR];
    char input_topics[SR_CONF_STR];
    char output_topic[SR_CONF_STR];
    char dead_letter_topic[SR_CONF_STR];
    char items_topic[SR_CONF_STR];
    sr_wire_fmt_t input_format; /* choices in the order of its values */
    sr_output_fmt_t output_format;
    uint32_t partitions;
    uint32_t queue_high;
    uint32_t prefetch_messages;
    uint32_t offset_reset_policy; /* SR_RESET_EARLIEST or SR_RESET_FAIL */
    uint32_t until_timeout_s;
    size_t n_props;
    sr_kafka_prop_t props[SR_CONF_MAX_PROPS];
  } kafka;
  struct {
    uint32_t embedding_dims; /* 0: the first embedding's length */
  } items;
  struct {
    uint32_t n;
    uint32_t batch_ms;
    uint32_t batch_max;
    uint32_t min_interval_ms;
    sr_retrieval_mode_t retrieval; /* choices in the order of its values */
    uint32_t ann_min_items;
    uint32_t ann_probe;
    double ann_refresh_s;
    double ann_refresh_drift;
    uint32_t ann_recall_every;
    double ann_recall_floor;
  } recommend;
  struct {
    char dir[SR_CONF_STR];
    double interval_s;
    uint32_t keep;
    uint32_t writer; /* SR_CKPT_FORK or SR_CKPT_COPY */
  } checkpoint;
  struct {
    uint32_t max_message_bytes;
    uint32_t max_id_len;
    int64_t max_future_skew_ms;
    /* input.fields.*, indexed by sr_map_field_t; "": streamrec's own */
    char fields[SR_MAP__COUNT][SR_CONF_STR];
    sr_unknown_types_t unknown_types; /* choices in the order of its values */
    sr_ts_fmt_t timestamp_format;     /* likewise */
    sr_frame_mode_t framing;          /* likewise */
    char avro_schema_file[SR_CONF_STR];
    size_t n_types; /* input.types.NAME = TYPE, in the order first set */
    sr_conf_type_t types[SR_CONF_MAX_TYPES];
    size_t n_topics; /* input.topics.TOPIC.*, in the order first set */
    sr_topic_mapping_t topics[SR_CONF_MAX_TOPIC_MAPS];
  } input;
  struct {
    char listen[SR_CONF_STR];
    uint32_t max_clients;
    uint32_t max_clients_per_peer;
    uint32_t idle_timeout_ms;
  } metrics;
  struct {
    char sync_topic[SR_CONF_STR];  /* "": single instance, nothing shared */
    char state_topic[SR_CONF_STR]; /* "": no user handoff */
    uint32_t sync_interval_ms;
    uint32_t delta_encoding; /* SR_SYNC_F16 or SR_SYNC_F32 */
    char instance_id[SR_CONF_STR];
  } cluster;
  struct {
    sr_log_level_t level;   /* choices in the order of its values */
    sr_log_format_t format; /* likewise */
  } log;
} sr_config_t;

/* True when cluster.sync_topic is set: this instance is one of a group
 * sharing one model (docs/scaling.md). */
bool sr_config_clustered(const sr_config_t *cfg);

/* The kafka layer's configuration, borrowing from cfg. */
sr_kafka_conf_t sr_config_kafka(const sr_config_t *cfg);

/* The field mapping of input.*, borrowing from cfg; with topic (may be
 * NULL) the overrides of input.topics.TOPIC.* applied. aliases (of
 * SR_CONF_MAX_ALIASES) receives the type names. With
 * sr_mapping_spec_active false the input is streamrec's own format. */
sr_mapping_spec_t sr_config_mapping(const sr_config_t *cfg, const char *topic,
                                    sr_type_alias_t *aliases);

/* How one input topic's messages are read: kafka.input_format and
 * input.* with input.topics.TOPIC.* over them (topic NULL: input.*'s). */
typedef struct sr_input_spec {
  sr_wire_fmt_t format;
  sr_frame_mode_t framing;
  const char *avro_schema_file; /* "": none */
  /* of the key the schema file came from: prefix + "avro.schema_file" */
  const char *prefix;
} sr_input_spec_t;

/* The reading of topic, borrowing from cfg. */
sr_input_spec_t sr_config_input(const sr_config_t *cfg, const char *topic);

/* Fills cfg with every option's default. */
void sr_config_init(sr_config_t *cfg);

/* Sets one option from text ("model.dims", "64"). Unknown keys, bad values
 * and out-of-range values fail with SR_ERR_INVALID and errstr naming the key.
 * kafka.properties.<name> passes <name> to librdkafka; a value "${VAR}" is
 * read from the environment and registered with sr_log_add_secret at once,
 * whatever the property's name. Properties streamrec sets itself (group.id,
 * bootstrap.servers, ...) are refused with the option to use instead.
 * input.types.<name> renames the platform's event type <name> to the
 * value, one of streamrec's types (VIEW, ..., RATING);
 * input.topics.<topic>.{fields.F, types.NAME, unknown_types,
 * timestamp_format} override them for one topic (the topic ends before the
 * first ".fields.", ".types.", ".unknown_types" or ".timestamp_format"). */
sr_err_t sr_config_set(sr_config_t *cfg, const char *key, const char *value,
                       char *errstr, size_t errlen);

/* Records kafka.properties.<name> = value as sr_config_set does (${VAR}
 * read and registered as a secret), but without refusing the properties
 * streamrec run owns: for the operator commands (tail, produce), whose -X
 * may set anything. */
sr_err_t sr_config_add_property(sr_config_t *cfg, const char *name,
                                const char *value, char *errstr, size_t errlen);

/* Applies "key=value" (the --set form). */
sr_err_t sr_config_set_kv(sr_config_t *cfg, const char *kv, char *errstr,
                          size_t errlen);

/* Applies a JSON file: nested objects ({"model":{"dims":64}}) and dotted
 * keys ({"model.dims":64}) both work; a key given twice, in one object or
 * both nested and dotted, is an error. Errors name the file and the key. */
sr_err_t sr_config_load_file(sr_config_t *cfg, const char *path, char *errstr,
                             size_t errlen);

/* Applies a JSON document held in memory, as sr_config_load_file does;
 * name labels the errors. */
sr_err_t sr_config_load_json(sr_config_t *cfg, const char *text, size_t len,
                             const char *name, char *errstr, size_t errlen);

/* Checks what no single option can: every topic name is one Kafka accepts,
 * and no output (kafka.output_topic when publish is true,
 * kafka.dead_letter_topic, cluster.sync_topic) is an input topic or another
 * output; with cluster.sync_topic set, kafka.input_topics names one topic
 * and group.instance.id is not also set as a property; the field mapping
 * (input.fields.*, and each input.topics.TOPIC's, TOPIC an input topic)
 * compiles. Fails with
 * SR_ERR_INVALID and errstr naming the key. */
sr_err_t sr_config_check(const sr_config_t *cfg, bool publish, char *errstr,
                         size_t errlen);

/* Prints the option reference: "name (type, default X): help" per line. */
void sr_config_print_help(FILE *out, const char *prefix);

/* Prints the option reference as a Markdown table. */
void sr_config_print_markdown(FILE *out);

#endif
