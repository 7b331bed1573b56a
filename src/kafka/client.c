/* Shared librdkafka client helpers; see client.h. */
#define SR_LOG_COMPONENT "kafka"
#include "kafka/client.h"

#include "util/log.h"
#include "util/now.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool sr_kafka_user_set(const sr_kafka_conf_t *kc, const char *name) {
  for (size_t i = 0; i < kc->n_props; i++) {
    if (!strcmp(kc->props[i].name, name))
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

/* Copies librdkafka's why into out with every quoted "..." part other than
 * the property's name replaced by "***": the quoted parts are values, and a
 * rejected element of a secret list is part of the secret. */
static void redact_quoted(const char *why, const char *name, char *out,
                          size_t len) {
  size_t o = 0;
  for (const char *p = why; *p && o + 4 < len;) {
    const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
    if (!end) {
      out[o++] = *p++;
      continue;
    }
    size_t n = (size_t)(end - p - 1);
    bool is_name = n == strlen(name) && !memcmp(p + 1, name, n);
    const char *with = is_name ? name : "***";
    o += (size_t)snprintf(out + o, len - o, "\"%.*s\"",
                          (int)(len - o > 3 ? len - o - 3 : 0), with);
    p = end + 1;
  }
  out[o < len ? o : len - 1] = '\0';
}

/* Applies one user property. librdkafka's message quotes the value, so it
 * is only shown when it does not contain the value; a secret's never shows
 * a quoted value at all. */
static int set_user_prop(rd_kafka_conf_t *conf, const sr_kafka_prop_t *prop,
                         char *errstr, size_t errlen) {
  char why[512], redacted[512];
  if (rd_kafka_conf_set(conf, prop->name, prop->value, why, sizeof(why)) ==
      RD_KAFKA_CONF_OK)
    return 0;
  if (prop->secret) {
    redact_quoted(why, prop->name, redacted, sizeof(redacted));
    snprintf(errstr, errlen,
             "kafka.properties.%s: %s (value from the "
             "environment, not shown)",
             prop->name, redacted);
    return -1;
  }
  bool leaks = prop->value[0] && strstr(why, prop->value);
  snprintf(errstr, errlen, "kafka.properties.%s: %s", prop->name,
           leaks ? "invalid value for this librdkafka property" : why);
  return -1;
}

/* Values of properties named like credentials are masked in the log even
 * when written out in a file rather than taken from ${VAR}. */
static int register_secrets(const sr_kafka_conf_t *kc) {
  static const char *const words[] = {"password", "secret", "key", "token",
                                      "sasl.oauthbearer.config"};
  for (size_t i = 0; i < kc->n_props; i++) {
    const sr_kafka_prop_t *prop = &kc->props[i];
    char name[sizeof(prop->name)];
    size_t k = 0;
    for (; prop->name[k]; k++)
      name[k] = (char)tolower((unsigned char)prop->name[k]);
    name[k] = '\0';
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
      if (strstr(name, words[w]) && sr_log_add_secret(prop->value) != 0)
        return -1;
    }
  }
  return 0;
}

/* Value of property name in conf, or "" when it has none. */
static const char *conf_str(const rd_kafka_conf_t *conf, const char *name,
                            char *buf, size_t len) {
  if (rd_kafka_conf_get(conf, name, buf, &len) != RD_KAFKA_CONF_OK)
    buf[0] = '\0';
  return buf;
}

/* True when the string property name is set to a non-empty value. */
static bool conf_has(const rd_kafka_conf_t *conf, const char *name) {
  size_t len = 0;
  return rd_kafka_conf_get(conf, name, NULL, &len) == RD_KAFKA_CONF_OK &&
         len > 1;
}

static bool one_of(const char *s, const char *const *list) {
  for (; *list; list++) {
    if (!strcmp(s, *list))
      return true;
  }
  return false;
}

/* SASL settings that librdkafka accepts property by property but cannot
 * use. Some fail only at rd_kafka_new, after the daemon has started
 * serving; OAUTHBEARER without a token callback of ours needs librdkafka's
 * unsecured-JWT builder, and librdkafka 2.0 crashes (SIGSEGV) when that
 * builder refreshes or retries a token, so streamrec cannot offer it. */
static int check_sasl(const rd_kafka_conf_t *conf, char *errstr,
                      size_t errlen) {
  static const char *const user_pass[] = {"PLAIN", "SCRAM-SHA-256",
                                          "SCRAM-SHA-512", NULL};
  char proto[64], mech[128], method[64];
  if (strncmp(conf_str(conf, "security.protocol", proto, sizeof(proto)),
              "sasl_", 5) != 0)
    return 0;
  conf_str(conf, "sasl.mechanism", mech, sizeof(mech));
  if (one_of(mech, user_pass)) {
    const char *missing = !conf_has(conf, "sasl.username")   ? "username"
                          : !conf_has(conf, "sasl.password") ? "password"
                                                             : NULL;
    if (missing)
      snprintf(errstr, errlen,
               "kafka.properties.sasl.%s: must be set when sasl.mechanism "
               "is %s",
               missing, mech);
    return missing ? -1 : 0;
  }
  if (!strcmp(mech, "GSSAPI"))
    return 0;
  if (!strcmp(mech, "OAUTHBEARER")) {
    if (!strcmp(
            conf_str(conf, "sasl.oauthbearer.method", method, sizeof(method)),
            "oidc"))
      return 0;
    snprintf(errstr, errlen,
             "kafka.properties.sasl.mechanism: OAUTHBEARER needs "
             "sasl.oauthbearer.method=oidc (streamrec has no token callback, "
             "and librdkafka %s crashes refreshing an unsecured JWT token)",
             rd_kafka_version_str());
    return -1;
  }
  snprintf(errstr, errlen,
           "kafka.properties.sasl.mechanism: not one of GSSAPI, PLAIN, "
           "SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER");
  return -1;
}

/* librdkafka levels are syslog's: 0..3 errors, 4 warnings, 5..6 notices
 * and info, 7 debug. Its logs go through the logger as component=rdkafka
 * with the client's name as a field. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf) {
  sr_log_level_t lvl = level <= 3   ? SR_LOG_ERROR
                       : level == 4 ? SR_LOG_WARN
                       : level <= 6 ? SR_LOG_INFO
                                    : SR_LOG_DEBUG;
  if (!sr_log_enabled(lvl))
    return;
  /* The client's name holds client.id, which may be a secret: it is masked
   * whole by sr_logq, never cut first. */
  char text[400 * 8];
  snprintf(text, sizeof(text), "client=%s fac=%s", sr_logq(rd_kafka_name(rk)),
           sr_logq(fac));
  sr_log_foreign("rdkafka", lvl, buf, text);
}

rd_kafka_conf_t *sr_kafka_conf_new(const sr_kafka_conf_t *kc,
                                   const char *brokers, char *errstr,
                                   size_t errlen) {
  if (register_secrets(kc) != 0) {
    snprintf(errstr, errlen, "out of memory");
    return NULL;
  }
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
  /* Nagle would hold a small request until the broker's delayed ACK of the
   * previous one (tens of ms); the user's properties may still turn it on. */
  if (sr_kafka_conf_set(conf, "client.id", "streamrec", errstr, errlen) != 0 ||
      sr_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, errlen) !=
          0)
    goto fail;
  for (size_t i = 0; i < kc->n_props; i++) {
    if (set_user_prop(conf, &kc->props[i], errstr, errlen) != 0)
      goto fail;
  }
  if (check_sasl(conf, errstr, errlen) != 0 ||
      sr_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errlen) !=
          0)
    goto fail;
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

int sr_kafka_conf_default(rd_kafka_conf_t *conf, const sr_kafka_conf_t *kc,
                          const char *name, const char *value, char *errstr,
                          size_t errlen) {
  if (sr_kafka_user_set(kc, name))
    return 0;
  return sr_kafka_conf_set(conf, name, value, errstr, errlen);
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

/* One wait on the close queue: a revocation goes to revoke, or is
 * acknowledged here when there is none; anything else is dropped. */
static void serve_close(rd_kafka_t *rk, rd_kafka_queue_t *q,
                        sr_kafka_revoke_fn *revoke, void *opaque) {
  rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
  if (!ev)
    return;
  bool revoking =
      rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE &&
      rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;
  if (revoking && revoke) {
    revoke(opaque, rd_kafka_event_topic_partition_list(ev));
  } else if (revoking) {
    const char *proto = rd_kafka_rebalance_protocol(rk);
    if (proto && !strcmp(proto, "COOPERATIVE")) {
      rd_kafka_error_t *error = rd_kafka_incremental_unassign(
          rk, rd_kafka_event_topic_partition_list(ev));
      if (error)
        rd_kafka_error_destroy(error);
    } else {
      rd_kafka_assign(rk, NULL);
    }
  }
  rd_kafka_event_destroy(ev);
}

bool sr_kafka_close_consumer(rd_kafka_t *rk, int timeout_ms,
                             sr_kafka_revoke_fn *revoke, void *opaque) {
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
  bool closed = false;
  if (error) {
    sr_log(SR_LOG_WARN, "consumer close failed", "client=%s error=%s",
           sr_logq(rd_kafka_name(rk)), sr_logq(rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
  } else {
    uint64_t deadline = sr_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!(closed = rd_kafka_consumer_closed(rk)) && sr_mono_ns() < deadline)
      serve_close(rk, q, revoke, opaque);
    if (!closed)
      sr_log(SR_LOG_WARN, "consumer did not leave its group in time",
             "client=%s timeout_ms=%d", sr_logq(rd_kafka_name(rk)), timeout_ms);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return closed;
}
