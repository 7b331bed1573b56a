/* Helpers shared by the consumer (source) and producer (sink): building a
 * librdkafka configuration from streamrec's options and wake-up pipes for
 * rd_kafka_queue_io_event_enable. Any thread. */
#ifndef SR_KAFKA_CLIENT_H
#define SR_KAFKA_CLIENT_H

#include "kafka/conf.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>

/* True when the user passed kafka.properties.<name>. */
bool sr_kafka_user_set(const sr_kafka_conf_t *kc, const char *name);

/* Sets one property that streamrec itself chose. Returns 0, or -1 with
 * errstr naming it. */
int sr_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                      const char *value, char *errstr, size_t errlen);

/* A new configuration with the user's kafka.properties.* applied, librdkafka
 * logs routed through the logger, bootstrap.servers set to brokers
 * and client.id to "streamrec" unless the user chose one. Every client of
 * every command is built here. Values of properties named like credentials
 * (password, secret, key, token) are registered as log secrets, as ${VAR}
 * values already are. A rejected property fails with errstr naming
 * "kafka.properties.<name>" but never its value; so does a SASL setup that
 * librdkafka accepts property by property but cannot use (a mechanism
 * without its username or password, an unknown mechanism, OAUTHBEARER
 * without sasl.oauthbearer.method=oidc). Returns NULL on failure. */
rd_kafka_conf_t *sr_kafka_conf_new(const sr_kafka_conf_t *kc,
                                   const char *brokers, char *errstr,
                                   size_t errlen);

/* Sets a property that streamrec chooses by default, unless the user passed
 * kafka.properties.<name>. Returns 0, or -1 with errstr naming it. */
int sr_kafka_conf_default(rd_kafka_conf_t *conf, const sr_kafka_conf_t *kc,
                          const char *name, const char *value, char *errstr,
                          size_t errlen);

/* Creates a non-blocking, close-on-exec pipe. Returns 0, or -1 with errno. */
int sr_kafka_pipe(int fds[2]);

/* Writes one wake-up byte (a full pipe already means awake). */
void sr_kafka_pipe_wake(int fd);

/* Reads and discards what the pipe holds, without blocking. */
void sr_kafka_pipe_drain(int fd);

/* Closes both ends of a pipe made by sr_kafka_pipe (-1 ends are skipped). */
void sr_kafka_pipe_close(int fds[2]);

/* The revocation of list while closing; it must unassign the partitions
 * (rd_kafka_incremental_unassign or rd_kafka_assign(NULL)). */
typedef void(sr_kafka_revoke_fn)(void *opaque,
                                 rd_kafka_topic_partition_list_t *list);

/* Closes a consumer (leaving its group) within timeout_ms, then destroys
 * it. The revocation that leaving brings goes to revoke (may be NULL: the
 * partitions are unassigned without a word). librdkafka's own close waits
 * for the group coordinator without end, so a consumer whose brokers are
 * gone would hold the process forever; past the deadline it is destroyed
 * without leaving, as after a crash (the group notices when the session
 * times out). Returns true when it left the group cleanly. */
bool sr_kafka_close_consumer(rd_kafka_t *rk, int timeout_ms,
                             sr_kafka_revoke_fn *revoke, void *opaque);

/* Logs a client-level error (rate-limited), at error level when fatal.
 * Transport errors are left to librdkafka's own log line. */
void sr_kafka_log_error(rd_kafka_t *rk, int err, const char *reason);

#endif
