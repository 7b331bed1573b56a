/* A position in a Kafka partition, as the source reports it and the
 * checkpoint stores it. Neutral: no layer owns it. */
#ifndef SR_UTIL_OFFSET_H
#define SR_UTIL_OFFSET_H

#include <stdint.h>

/* Longest topic name Kafka allows. */
#define SR_TOPIC_MAX 255

/* The offset of the next event to apply on one topic-partition. */
typedef struct sr_offset {
  char topic[SR_TOPIC_MAX + 1];
  int32_t partition;
  int64_t offset;
} sr_offset_t;

#endif
