/* The logfmt logger; see log.h. */
#include "daemon/log.h"

#include "streamrec/common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rate-limit slots: a message hashes to one slot; two messages sharing a
 * slot only lose part of their suppressed counts, never a first line. */
#define RL_SLOTS 512
#define RL_WINDOW_MS 1000
#define LINE_MAX_BYTES 2048
#define QUOTE_MAX 400

typedef struct rl_slot {
  uint64_t key;
  uint64_t last_ms;
  uint64_t suppressed;
} rl_slot_t;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int min_level = SR_LOG_INFO;
static rl_slot_t slots[RL_SLOTS];
static char status_line[512];
static bool status_shown;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int sr_log_level_parse(const char *name, sr_log_level_t *level) {
  for (int i = 0; i < 4; i++) {
    if (!strcmp(name, level_names[i])) {
      *level = (sr_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

void sr_log_set_level(sr_log_level_t level) {
  atomic_store(&min_level, level);
}

bool sr_log_enabled(sr_log_level_t level) {
  return (int)level >= atomic_load(&min_level);
}

static bool needs_quotes(const char *s) {
  if (!*s)
    return true;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
      return true;
  }
  return false;
}

/* Writes s quoted into out (size len), escaping quotes, backslashes and
 * control characters so that one message stays one line. */
static void quote_into(char *out, size_t len, const char *s) {
  size_t o = 0;
  out[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)s;
       *p && o + 8 < len && (size_t)(p - (const unsigned char *)s) < QUOTE_MAX;
       p++) {
    if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p;
    } else if (*p == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (*p < ' ' || *p == 0x7f) {
      o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
}

const char *sr_logq(const char *s) {
  static _Thread_local char ring[4][QUOTE_MAX * 4 + 16];
  static _Thread_local unsigned next;
  if (!s)
    s = "";
  if (!needs_quotes(s) && strlen(s) <= QUOTE_MAX)
    return s;
  char *buf = ring[next++ % 4];
  quote_into(buf, sizeof(ring[0]), s);
  return buf;
}

/* FNV-1a over the level, the message and the fields. Digits in the fields
 * (and in the message when strip_msg) are skipped, so that "offset=17" and
 * "offset=18" count as the same message. */
static uint64_t hash_text(uint64_t h, const char *s, bool strip_digits) {
  for (const char *p = s; *p; p++) {
    if (strip_digits && *p >= '0' && *p <= '9')
      continue;
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  }
  return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t message_key(sr_log_level_t level, const char *msg,
                            bool strip_msg, const char *fields) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)level;
  return hash_text(hash_text(h, msg, strip_msg), fields, true);
}

/* Decides under log_mu whether the message goes out. Returns false to
 * hold it back; else *suppressed gets the count held back before it. */
static bool rate_allow(uint64_t key, uint64_t *suppressed) {
  uint64_t now = sr_mono_ns() / 1000000;
  rl_slot_t *slot = &slots[key % RL_SLOTS];
  *suppressed = 0;
  if (slot->key == key && slot->last_ms && now - slot->last_ms < RL_WINDOW_MS) {
    slot->suppressed++;
    return false;
  }
  if (slot->key == key)
    *suppressed = slot->suppressed;
  slot->key = key;
  slot->last_ms = now ? now : 1;
  slot->suppressed = 0;
  return true;
}

static void format_ts(char *buf, size_t len) {
  int64_t ms = sr_now_ms();
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* Writes one line under log_mu, keeping the progress line below it. */
static void emit(const char *line, size_t len) {
  if (status_shown)
    fputs("\r\033[K", stderr);
  fwrite(line, 1, len, stderr);
  if (status_shown)
    fputs(status_line, stderr);
  fflush(stderr);
}

/* Writes one line unless the same message went out less than a second
 * ago. */
static void log_line(sr_log_level_t level, const char *msg, bool strip_msg,
                     const char *text) {
  char ts[40], qmsg[QUOTE_MAX + 64], line[LINE_MAX_BYTES];
  format_ts(ts, sizeof(ts));
  quote_into(qmsg, sizeof(qmsg), msg);
  uint64_t key = message_key(level, msg, strip_msg, text), suppressed;
  pthread_mutex_lock(&log_mu);
  if (rate_allow(key, &suppressed)) {
    int n = snprintf(line, sizeof(line), "ts=%s level=%s msg=%s%s%s", ts,
                     level_names[level], qmsg, *text ? " " : "", text);
    size_t len = n < 0                           ? 0
                 : (size_t)n < sizeof(line) - 40 ? (size_t)n
                                                 : sizeof(line) - 40;
    if (suppressed)
      len +=
          (size_t)snprintf(line + len, sizeof(line) - len, " suppressed=%llu",
                           (unsigned long long)suppressed);
    line[len++] = '\n';
    emit(line, len);
  }
  pthread_mutex_unlock(&log_mu);
}

void sr_log(sr_log_level_t level, const char *msg, const char *fields, ...) {
  if (!sr_log_enabled(level))
    return;
  char text[LINE_MAX_BYTES / 2] = "";
  if (fields) {
    va_list ap;
    va_start(ap, fields);
    vsnprintf(text, sizeof(text), fields, ap);
    va_end(ap);
  }
  log_line(level, msg, false, text);
}

void sr_log_status(const char *line) {
  pthread_mutex_lock(&log_mu);
  if (line) {
    snprintf(status_line, sizeof(status_line), "%s", line);
    fprintf(stderr, "\r\033[K%s", status_line);
    status_shown = true;
  } else if (status_shown) {
    fputs("\r\033[K", stderr);
    status_shown = false;
  }
  fflush(stderr);
  pthread_mutex_unlock(&log_mu);
}

/* librdkafka levels are syslog's: 0..3 errors, 4 warnings, 5..6 notices
 * and info, 7 debug. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf) {
  sr_log_level_t lvl = level <= 3   ? SR_LOG_ERROR
                       : level == 4 ? SR_LOG_WARN
                       : level <= 6 ? SR_LOG_INFO
                                    : SR_LOG_DEBUG;
  if (!sr_log_enabled(lvl))
    return;
  char text[256];
  snprintf(text, sizeof(text), "client=%s fac=%s", rd_kafka_name(rk),
           sr_logq(fac));
  /* Its messages carry counters ("after 12ms"): digits do not make a
   * message new. */
  log_line(lvl, buf, true, text);
}

void sr_log_attach_kafka(rd_kafka_conf_t *conf) {
  rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
}
