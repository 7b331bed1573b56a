/* The consumer of the operator commands that read a topic (tail,
 * check-input): built from -X and --brokers like the daemon's clients,
 * assigned every partition without a group or subscribed with one. */
#include "cli/cli.h"
#include "daemon/config.h"
#include "kafka/client.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>

/* Reports client-level errors (e.g. brokers unreachable) once per kind;
 * opaque is the command's name. */
static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
  (void)rk;
  static int last;
  if (err != last)
    sr_cli_err(opaque, "kafka: %s: %s", rd_kafka_err2str(err), reason);
  last = err;
}

/* EOF events tell when every partition has been read. librdkafka's own
 * error logs would repeat what on_error reports, so only critical ones
 * stay; -X debug=... or -X log_level=... brings the rest back. */
static const char *const consumer_defaults[][2] = {
    {"enable.partition.eof", "true"},
    {"log.connection.close", "false"},
    {"log_level", "2"}};

/* librdkafka 2.0 refuses assign() without a group.id, so a group-less
 * reader still names one; it never joins it (assign, not subscribe) and
 * never commits to it. The options' choices override -X, as --brokers
 * does. */
static int set_choices(rd_kafka_conf_t *conf, const char *cmd,
                       const char *group, bool from_beginning, char *errstr,
                       size_t len) {
  char own[64];
  snprintf(own, sizeof(own), "streamrec-%s", cmd);
  const char *reset = from_beginning ? "earliest" : "latest";
  if (sr_kafka_conf_set(conf, "auto.offset.reset", reset, errstr, len) != 0 ||
      sr_kafka_conf_set(conf, "group.id", group ? group : own, errstr, len) !=
          0)
    return -1;
  if (group)
    return 0;
  return sr_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, len);
}

rd_kafka_t *sr_cli_consumer_new(const char *cmd, const sr_config_t *cfg,
                                const char *brokers, const char *group,
                                bool from_beginning) {
  char errstr[512];
  rd_kafka_conf_t *conf = sr_cli_kafka_conf(
      cmd, cfg, brokers, consumer_defaults,
      sizeof(consumer_defaults) / sizeof(consumer_defaults[0]));
  if (!conf)
    return NULL;
  if (set_choices(conf, cmd, group, from_beginning, errstr, sizeof(errstr)) !=
      0) {
    sr_cli_err(cmd, "%s", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, (void *)cmd);
  rd_kafka_t *rk =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
    sr_cli_err(cmd, "%s", errstr);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

int sr_cli_partition_count(const char *cmd, rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  if (err) {
    sr_cli_err(cmd, "metadata for '%s': %s", topic, rd_kafka_err2str(err));
    return -1;
  }
  int n = -1;
  if (md->topic_cnt == 1 && md->topics[0].err)
    sr_cli_err(cmd, "topic '%s': %s", topic,
               rd_kafka_err2str(md->topics[0].err));
  else if (md->topic_cnt == 1)
    n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

int sr_cli_assign_all(const char *cmd, rd_kafka_t *rk, const char *topic, int n,
                      bool from_beginning) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
  int64_t start =
      from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  for (int p = 0; p < n; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset = start;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (err)
    sr_cli_err(cmd, "assign '%s': %s", topic, rd_kafka_err2str(err));
  return err ? -1 : 0;
}
