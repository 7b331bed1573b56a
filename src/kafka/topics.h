/* The topics a cluster of instances needs, checked at start: each must
 * exist, have the partition count it needs (a number, or as many as
 * another topic: the state topic is partitioned like the input) and, when
 * asked, the cleanup policy it needs. A bad topic is reported with what is
 * wrong and the command that creates or fixes it; nothing is created or
 * changed on the cluster by the check. On the embedded broker the topics
 * are created instead.
 *
 * Each call builds its own short-lived librdkafka client from the kafka
 * layer's configuration and blocks for up to a few times timeout_ms: call it
 * at start-up, from any one thread, never from the loop. */
#ifndef SR_KAFKA_TOPICS_H
#define SR_KAFKA_TOPICS_H

#include "kafka/conf.h"
#include "kafka/embedded.h"
#include "streamrec/common.h"
#include "util/buf.h"

#include <stddef.h>

/* The cleanup.policy a topic needs. */
typedef enum sr_topic_policy {
  SR_TOPIC_POLICY_ANY = 0, /* not checked */
  SR_TOPIC_POLICY_DELETE,  /* not compacted: every record counts (deltas) */
  SR_TOPIC_POLICY_COMPACT, /* exactly "compact": the latest record per key */
} sr_topic_policy_t;

/* One topic the cluster needs. */
typedef struct sr_topic_want {
  const char *name;
  /* > 0: exactly this many. 0 with like set: as many as topic like has (or
   * is wanted with, when like is missing). 0 without like: any count. */
  int partitions;
  const char *like;
  sr_topic_policy_t policy;
} sr_topic_want_t;

/* What a check found, as text for the operator. Zero-initialise; release
 * with sr_topics_report_free. Each buffer is NUL-terminated when non-empty
 * (the NUL not counted in len). */
typedef struct sr_topics_report {
  /* Per bad topic: "topic T: what is wrong" and, indented on the next
   * line, the command that creates or fixes it. */
  sr_buf_t errors;
  /* Per check that could not be made: "cannot check cleanup.policy of T:
   * reason". */
  sr_buf_t warnings;
  size_t n_errors;
  size_t n_warnings;
} sr_topics_report_t;

/* Checks the n wanted topics on the cluster at brokers, with a client built
 * by sr_kafka_conf_new(kc, brokers). Missing topics and wrong partition
 * counts are errors; so is a wrong cleanup.policy when the cluster can
 * describe topic configs (DescribeConfigs). When it cannot (librdkafka's
 * mock cluster, a broker without the API, no permission), that check is a
 * warning instead. Commands in the report name brokers as the bootstrap
 * server. Returns SR_OK (warnings possible), SR_ERR_INVALID with errors (a
 * bad topic, or a bad wanted list), SR_ERR_IO with errors holding why when
 * the cluster did not answer, or SR_ERR_NOMEM. */
sr_err_t sr_topics_check(const sr_kafka_conf_t *kc, const char *brokers,
                         const sr_topic_want_t *want, size_t n, int timeout_ms,
                         sr_topics_report_t *rep);

/* Releases the report's text and zeroes it. Accepts an empty report. */
void sr_topics_report_free(sr_topics_report_t *rep);

/* Creates on the embedded broker each of the n wanted topics that does not
 * exist yet, with the partition count it needs; existing topics are left
 * as they are (a later sr_topics_check reports them). The mock has no
 * cleanup policies and does not compact, so policies are not applied. A
 * topic of any count whose count nothing fixes cannot be created. Returns
 * SR_OK, or an error with errstr naming the topic. */
sr_err_t sr_topics_create_embedded(sr_embedded_t *emb,
                                   const sr_kafka_conf_t *kc,
                                   const sr_topic_want_t *want, size_t n,
                                   int timeout_ms, char *errstr, size_t len);

#endif
