/* Embedded broker: librdkafka's in-process mock cluster on 127.0.0.1, for
 * `kafka.brokers = "embedded"`, `streamrec broker` and the integration tests.
 *
 * The handle owns a private rd_kafka_t that hosts the mock cluster (its
 * brokers run on librdkafka threads) and, when a fixed port is asked for, a
 * forwarder thread that accepts on 127.0.0.1:port and relays each connection
 * to the first mock broker. Clients bootstrap through that port and then
 * follow the metadata to the brokers' own random ports, which is how any
 * Kafka client treats a bootstrap address.
 *
 * Call every function from one thread (the one that created the handle).
 * The mock keeps only a few MB of log per partition: demos and tests, not
 * history. */
#ifndef SR_EMBEDDED_H
#define SR_EMBEDDED_H

#include "streamrec/common.h"

#include <stddef.h>

typedef struct sr_embedded sr_embedded_t;

/* Starts a mock cluster of n_brokers (>= 1) brokers. port 0 uses the mock's
 * random ports; 1..65535 also listens on 127.0.0.1:port. Returns NULL with
 * errstr filled (e.g. the port is in use). */
sr_embedded_t *sr_embedded_new(int n_brokers, int port, char *errstr,
                               size_t len);

/* The bootstrap address for clients: "127.0.0.1:port" for a fixed port,
 * else the mock's comma-separated broker list. Valid until _free. */
const char *sr_embedded_bootstraps(const sr_embedded_t *emb);

/* Creates topic with partitions (>= 1) partitions, replicated on up to three
 * brokers. Returns SR_OK, or SR_ERR_INVALID with errstr (e.g. the topic
 * already exists). Topics a client asks for that do not exist are created
 * on first use with the mock's default of 4 partitions. */
sr_err_t sr_embedded_create_topic(sr_embedded_t *emb, const char *topic,
                                  int partitions, char *errstr, size_t len);

/* Stops the forwarder, closes its connections, destroys the cluster and
 * frees the handle. Accepts NULL. */
void sr_embedded_free(sr_embedded_t *emb);

#endif
