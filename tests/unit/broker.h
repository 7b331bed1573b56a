/* The in-process broker the Kafka unit tests share: one per test program,
 * started before its tests and stopped after them, and a plain producer
 * for their data. Include after <cmocka.h>. */
#ifndef SR_TEST_BROKER_H
#define SR_TEST_BROKER_H

#include "kafka/embedded.h"
#include "util/log.h"

#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>

static sr_embedded_t *emb;

/* Starts the broker, logging at level (at debug with SR_TEST_DEBUG set).
 * Returns 0, or -1 after saying why. */
static inline int broker_start(sr_log_level_t level) {
  char errstr[256] = "";
  sr_log_set_level(getenv("SR_TEST_DEBUG") ? SR_LOG_DEBUG : level);
  emb = sr_embedded_new(1, 0, errstr, sizeof(errstr));
  if (!emb)
    fprintf(stderr, "sr_embedded_new: %s\n", errstr);
  return emb ? 0 : -1;
}

/* The cmocka group teardown that stops it. */
static inline int broker_stop(void **state) {
  (void)state;
  sr_embedded_free(emb);
  emb = NULL;
  return 0;
}

/* A client with librdkafka's defaults, bootstrapping from the broker; a
 * consumer in group (NULL for none). */
static inline rd_kafka_t *plain_client(rd_kafka_type_t type,
                                       const char *group) {
  char errstr[512];
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  assert_int_equal(rd_kafka_conf_set(kc, "bootstrap.servers",
                                     sr_embedded_bootstraps(emb), errstr,
                                     sizeof(errstr)),
                   RD_KAFKA_CONF_OK);
  if (group)
    assert_int_equal(
        rd_kafka_conf_set(kc, "group.id", group, errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(type, kc, errstr, sizeof(errstr));
  assert_non_null(rk);
  return rk;
}

static inline rd_kafka_t *plain_producer(void) {
  return plain_client(RD_KAFKA_PRODUCER, NULL);
}

/* Produces values "0".."n-1" to topic partition p and waits for them. */
static inline void produce(const char *topic, int32_t p, int n) {
  rd_kafka_t *rk = plain_producer();
  for (int i = 0; i < n; i++) {
    char value[16];
    int len = snprintf(value, sizeof(value), "%d", i);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_PARTITION(p),
                                       RD_KAFKA_V_VALUE(value, (size_t)len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

#endif
