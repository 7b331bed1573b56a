/* What the kafka layer takes from streamrec's options: the librdkafka
 * properties the user passed through and the few settings the clients are
 * built from. The daemon fills it from its option table (sr_config_kafka);
 * the strings and properties are borrowed and must outlive every client
 * built from it. */
#ifndef SR_KAFKA_CONF_H
#define SR_KAFKA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest broker list or property value, with its NUL. */
#define SR_KAFKA_STR 256

/* One librdkafka property passed through (kafka.properties.<name>). */
typedef struct sr_kafka_prop {
  char name[128];
  char value[SR_KAFKA_STR];
  bool secret; /* the value came from ${VAR}: never shown */
} sr_kafka_prop_t;

typedef struct sr_kafka_conf {
  const char *group_id;       /* the consumer group */
  const char *input_topics;   /* comma-separated */
  uint32_t queue_high;        /* the producer's queue sits well above it */
  uint32_t prefetch_messages; /* per partition, before the consumer stops */
  uint32_t max_message_bytes; /* the largest input message accepted */
  size_t n_props;
  const sr_kafka_prop_t *props; /* the user's, applied over streamrec's */
} sr_kafka_conf_t;

#endif
