/* Shared librdkafka client helpers; see client.h. */
#define SR_LOG_COMPONENT "kafka"
#include "kafka/client.h"

#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool sr_kafka_user_set(const sr_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->kafka.n_props; i++) {
    if (!strcmp(cfg->kafka.props[i].name, name))
      return true;
  }
  return false;
}

int sr_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                      const char *value, char *errstr, size_t errlen) {
  char why[512];
  if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) ==
      RD_KAFKA_CONF_OK)
    return 0;
  snprintf(errstr, errlen, "librdkafka property %s: %s", name, why);
  return -1;
}

/* Applies one user property. librdkafka's message quotes the value, so it
 * is only shown when it does not contain the value. */
static int set_user_prop(rd_kafka_conf_t *conf, const sr_kafka_prop_t *prop,
                         char *errstr, size_t errlen) {
  char why[512];
  if (rd_kafka_conf_set(conf, prop->name, prop->value, why, sizeof(why)) ==
      RD_KAFKA_CONF_OK)
    return 0;
  bool leaks = prop->value[0] && strstr(why, prop->value);
  snprintf(errstr, errlen, "kafka.properties.%s: %s", prop->name,
           leaks ? "invalid value for this librdkafka property" : why);
  return -1;
}

rd_kafka_conf_t *sr_kafka_conf_new(const sr_config_t *cfg, const char *brokers,
                                   char *errstr, size_t errlen) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  sr_log_attach_kafka(conf);
  /* Nagle would hold a small request until the broker's delayed ACK of the
   * previous one (tens of ms); the user's properties may still turn it on. */
  if (sr_kafka_conf_set(conf, "client.id", "streamrec", errstr, errlen) != 0 ||
      sr_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, errlen) !=
          0)
    goto fail;
  for (size_t i = 0; i < cfg->kafka.n_props; i++) {
    if (set_user_prop(conf, &cfg->kafka.props[i], errstr, errlen) != 0)
      goto fail;
  }
  if (sr_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errlen) !=
      0)
    goto fail;
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

int sr_kafka_pipe(int fds[2]) {
  if (pipe(fds) != 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    int fl = fcntl(fds[i], F_GETFL);
    if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
      int saved = errno;
      sr_kafka_pipe_close(fds);
      errno = saved;
      return -1;
    }
  }
  return 0;
}

void sr_kafka_pipe_wake(int fd) {
  ssize_t n;
  do
    n = write(fd, "1", 1);
  while (n < 0 && errno == EINTR);
}

void sr_kafka_pipe_drain(int fd) {
  char buf[256];
  ssize_t n;
  do
    n = read(fd, buf, sizeof(buf));
  while (n > 0 || (n < 0 && errno == EINTR));
}

void sr_kafka_pipe_close(int fds[2]) {
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
  }
}

void sr_kafka_log_error(rd_kafka_t *rk, int err, const char *reason) {
  bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  /* librdkafka's own log already has a line for each connection failure. */
  if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
    return;
  sr_log(fatal ? SR_LOG_ERROR : SR_LOG_WARN, "kafka client error",
         "client=%s error=%s reason=%s", rd_kafka_name(rk),
         sr_logq(rd_kafka_err2name((rd_kafka_resp_err_t)err)), sr_logq(reason));
}
