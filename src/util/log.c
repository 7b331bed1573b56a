/* The structured logger; see log.h. */
#include "util/log.h"

#include "streamrec/common.h"
#include "util/buf.h"
#include "util/grow.h"
#include "util/now.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rate-limit slots: a message hashes to one slot; two messages sharing a
 * slot only lose part of their suppressed counts, never a first line. */
#define RL_SLOTS 512
#define RL_WINDOW_MS 1000
#define LINE_MAX_BYTES 2048
#define QUOTE_MAX 400
/* Secrets shorter than this are masked only where they stand alone, so
 * that a one-letter password does not blank every "a" of every line. */
#define SHORT_SECRET 4

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
static atomic_bool json_lines;

/* Registered secrets, longest first so that a secret containing another is
 * masked whole. Guarded by secrets_mu (not log_mu: sr_logq masks too, and
 * it runs outside log_mu). */
static pthread_mutex_t secrets_mu = PTHREAD_MUTEX_INITIALIZER;
typedef struct secret {
  char *value;
  size_t len;
} secret_t;
static secret_t *secrets;
static size_t n_secrets, cap_secrets;
static atomic_bool have_secrets;

/* Fields whose values tell one message from another for the rate limiter:
 * two checkpoint files or two rejection reasons are different news, two
 * offsets of the same failure are not. */
static const char *const key_fields[] = {
    "file", "reason", "topic", "kind",      "client",
    "fac",  "error",  "state", "partition", NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

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

static int mask_append(sr_buf_t *out, const char *s, size_t len, bool fields);

const char *sr_logq(const char *s) {
  static _Thread_local char ring[4][QUOTE_MAX * 4 + 16];
  static _Thread_local unsigned next;
  if (!s)
    s = "";
  /* Masked before the cut at QUOTE_MAX, which could leave half a secret. */
  sr_buf_t masked = {0};
  if (atomic_load(&have_secrets))
    s = mask_append(&masked, s, strlen(s), false) == 0 ? masked.data : "***";
  char *buf = ring[next++ % 4];
  if (!needs_quotes(s) && strlen(s) <= QUOTE_MAX) {
    if (!masked.data)
      return s;
    snprintf(buf, sizeof(ring[0]), "%s", s);
  } else {
    quote_into(buf, sizeof(ring[0]), s);
  }
  sr_buf_free(&masked);
  return buf;
}

static uint64_t fnv(uint64_t h, const char *s, size_t len, bool strip_digits) {
  for (size_t i = 0; i < len; i++) {
    if (strip_digits && s[i] >= '0' && s[i] <= '9')
      continue;
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  }
  return (h ^ 0xff) * 1099511628211ULL;
}

/* One logfmt field of text at *pos: its key and raw value (quotes kept).
 * Returns false at the end. */
static bool next_field(const char **pos, const char **key, size_t *key_len,
                       const char **val, size_t *val_len) {
  const char *p = *pos + strspn(*pos, " ");
  if (!*p)
    return false;
  *key = p;
  *key_len = strcspn(p, "= ");
  p += *key_len;
  if (*p == '=')
    p++;
  *val = p;
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && p[1])
        p++;
    if (*p == '"')
      p++;
  } else {
    p += strcspn(p, " ");
  }
  *val_len = (size_t)(p - *val);
  *pos = p;
  return true;
}

static bool is_key_field(const char *key, size_t len) {
  for (size_t i = 0; key_fields[i]; i++) {
    if (strlen(key_fields[i]) == len && !memcmp(key_fields[i], key, len))
      return true;
  }
  return false;
}

/* FNV-1a over the level, the message (digits skipped when strip_msg) and
 * the identifying fields. */
static uint64_t message_key(sr_log_level_t level, const char *msg,
                            bool strip_msg, const char *fields) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)level;
  h = fnv(h, msg, strlen(msg), strip_msg);
  const char *pos = fields, *key, *val;
  size_t key_len, val_len;
  while (next_field(&pos, &key, &key_len, &val, &val_len)) {
    if (is_key_field(key, key_len))
      h = fnv(fnv(h, key, key_len, false), val, val_len, false);
  }
  return h;
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

/* Appends s (len bytes) to out as JSON string content. */
static void json_escape(sr_buf_t *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      sr_buf_append(out, esc, 2);
    } else if (c < ' ' || c == 0x7f) {
      snprintf(esc, sizeof(esc), "\\u%04x", c);
      sr_buf_append(out, esc, 6);
    } else {
      sr_buf_append(out, s + i, 1);
    }
  }
}

/* True when val (len bytes) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)? */
static bool json_number(const char *val, size_t len) {
  size_t start = val[0] == '-' ? 1 : 0, i = start;
  while (i < len && val[i] >= '0' && val[i] <= '9')
    i++;
  if (i == start || (i - start > 1 && val[start] == '0'))
    return false;
  if (i == len)
    return true;
  if (val[i++] != '.' || i == len)
    return false;
  for (; i < len; i++) {
    if (val[i] < '0' || val[i] > '9')
      return false;
  }
  return true;
}

/* Appends a logfmt value as a JSON value: plain numbers stay numbers,
 * quoted values lose the logfmt escaping. */
static void json_value(sr_buf_t *out, const char *val, size_t len) {
  if (len && json_number(val, len)) {
    sr_buf_append(out, val, len);
    return;
  }
  sr_buf_append(out, "\"", 1);
  if (len >= 2 && val[0] == '"') {
    for (size_t i = 1; i + 1 < len; i++) {
      if (val[i] == '\\' && val[i + 1] == 'x' && i + 3 < len) {
        char hex[3] = {val[i + 2], val[i + 3], 0},
             c = (char)strtol(hex, NULL, 16);
        json_escape(out, &c, 1);
        i += 3;
      } else if (val[i] == '\\' && val[i + 1] == 'n') {
        sr_buf_append(out, "\\n", 2);
        i++;
      } else {
        if (val[i] == '\\')
          i++;
        json_escape(out, val + i, 1);
      }
    }
  } else {
    json_escape(out, val, len);
  }
  sr_buf_append(out, "\"", 1);
}

static void json_pair(sr_buf_t *out, const char *key, size_t key_len,
                      const char *val, size_t val_len, bool quote) {
  sr_buf_append(out, ",\"", 2);
  json_escape(out, key, key_len);
  sr_buf_append(out, "\":", 2);
  if (quote) {
    sr_buf_append(out, "\"", 1);
    json_escape(out, val, val_len);
    sr_buf_append(out, "\"", 1);
  } else {
    json_value(out, val, val_len);
  }
}

static void format_json(sr_buf_t *out, const char *ts, sr_log_level_t level,
                        const char *component, const char *msg,
                        const char *fields, uint64_t suppressed) {
  sr_buf_append(out, "{\"ts\":\"", 7);
  sr_buf_append(out, ts, strlen(ts));
  sr_buf_append(out, "\"", 1);
  json_pair(out, "level", 5, level_names[level], strlen(level_names[level]),
            true);
  json_pair(out, "component", 9, component, strlen(component), true);
  json_pair(out, "msg", 3, msg, strnlen(msg, QUOTE_MAX), true);
  const char *pos = fields, *key, *val;
  size_t key_len, val_len;
  while (next_field(&pos, &key, &key_len, &val, &val_len))
    json_pair(out, key, key_len, val, val_len, false);
  if (suppressed) {
    char n[32];
    snprintf(n, sizeof(n), "%llu", (unsigned long long)suppressed);
    json_pair(out, "suppressed", 10, n, strlen(n), false);
  }
  sr_buf_append(out, "}", 1);
}

static void format_logfmt(sr_buf_t *out, const char *ts, sr_log_level_t level,
                          const char *component, const char *msg,
                          const char *fields, uint64_t suppressed) {
  char qmsg[QUOTE_MAX + 64], head[128];
  quote_into(qmsg, sizeof(qmsg), msg);
  int n = snprintf(head, sizeof(head), "ts=%s level=%s component=%s msg=", ts,
                   level_names[level], sr_logq(component));
  sr_buf_append(out, head, n > 0 ? (size_t)n : 0);
  sr_buf_append(out, qmsg, strlen(qmsg));
  if (*fields) {
    sr_buf_append(out, " ", 1);
    sr_buf_append(out, fields, strlen(fields));
  }
  if (suppressed) {
    n = snprintf(head, sizeof(head), " suppressed=%llu",
                 (unsigned long long)suppressed);
    sr_buf_append(out, head, (size_t)n);
  }
}

static bool word_char(char c) {
  unsigned char u = (unsigned char)c;
  return (u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') ||
         u == '_' || u >= 0x80;
}

/* True when secret (slen bytes) matches s at i and may be masked there. A
 * short secret must stand alone: no letter or digit glued to its ends (a
 * word boundary, as \b in a regex), and in fields text it must not be a
 * field's key. */
static bool secret_at(const char *s, size_t len, size_t i, const char *secret,
                      size_t slen, bool fields) {
  if (slen > len - i || memcmp(s + i, secret, slen) != 0)
    return false;
  if (slen >= SHORT_SECRET)
    return true;
  if (word_char(secret[0]) && i > 0 && word_char(s[i - 1]))
    return false;
  if (word_char(secret[slen - 1]) && i + slen < len && word_char(s[i + slen]))
    return false;
  bool key = fields && (i == 0 || s[i - 1] == ' ') && i + slen < len &&
             s[i + slen] == '=';
  return !key;
}

/* Appends s (len bytes) to out with every registered secret replaced by
 * "***", NUL-terminated (the NUL not counted). One pass from left to right,
 * longest secret first at each position, so a mask is never masked again.
 * Returns 0, or -1 out of memory (out is then shorter, never unmasked). */
static int mask_append(sr_buf_t *out, const char *s, size_t len, bool fields) {
  int rc = 0;
  pthread_mutex_lock(&secrets_mu);
  size_t plain = 0; /* start of the bytes not yet copied */
  for (size_t i = 0; i < len;) {
    size_t hit = 0;
    for (size_t k = 0; k < n_secrets && !hit; k++) {
      if (secrets[k].value[0] == s[i] &&
          secret_at(s, len, i, secrets[k].value, secrets[k].len, fields))
        hit = secrets[k].len;
    }
    if (!hit) {
      i++;
      continue;
    }
    rc |= sr_buf_append(out, s + plain, i - plain);
    rc |= sr_buf_append(out, "***", 3);
    i += hit;
    plain = i;
  }
  pthread_mutex_unlock(&secrets_mu);
  rc |= sr_buf_append(out, s + plain, len - plain);
  if (sr_buf_append(out, "", 1) != 0)
    return -1;
  out->len--;
  return rc ? -1 : 0;
}

int sr_log_mask(sr_buf_t *out, const char *text) {
  return mask_append(out, text, strlen(text), false);
}

/* Writes one line unless the same message went out less than a second
 * ago. The message and the fields are masked whole, before any cut or
 * escaping could split a secret or change its bytes; the rate limiter's
 * key is taken from the unmasked text, which never leaves this function. */
static void log_line(const char *component, sr_log_level_t level,
                     const char *msg, bool strip_msg, const char *text) {
  char ts[40];
  format_ts(ts, sizeof(ts));
  uint64_t key = message_key(level, msg, strip_msg, text), suppressed;
  sr_buf_t mmsg = {0}, mtext = {0};
  if (atomic_load(&have_secrets)) {
    if (mask_append(&mmsg, msg, strlen(msg), false) != 0 ||
        mask_append(&mtext, text, strlen(text), true) != 0)
      goto out; /* out of memory: a line we cannot mask is not written */
    msg = mmsg.data;
    text = mtext.data;
    if (mtext.len >= LINE_MAX_BYTES / 2)
      mtext.data[LINE_MAX_BYTES / 2 - 1] = '\0';
  }
  pthread_mutex_lock(&log_mu);
  if (rate_allow(key, &suppressed)) {
    sr_buf_t line = {0};
    if (atomic_load(&json_lines))
      format_json(&line, ts, level, component, msg, text, suppressed);
    else
      format_logfmt(&line, ts, level, component, msg, text, suppressed);
    sr_buf_append(&line, "\n", 2); /* the NUL is not counted below */
    if (line.data)
      emit((const char *)line.data, line.len - 1);
    sr_buf_free(&line);
  }
  pthread_mutex_unlock(&log_mu);
out:
  sr_buf_free(&mmsg);
  sr_buf_free(&mtext);
}

void sr_log_set_format(sr_log_format_t format) {
  atomic_store(&json_lines, format == SR_LOG_FORMAT_JSON);
}

/* Adds one secret (len bytes) in length order unless it is known. Called
 * under secrets_mu. Returns 0, or -1 out of memory. */
static int add_secret(const char *value, size_t len) {
  size_t at = 0;
  for (; at < n_secrets && secrets[at].len >= len; at++) {
    if (secrets[at].len == len && !memcmp(secrets[at].value, value, len))
      return 0;
  }
  if (SR_GROW(secrets, cap_secrets, n_secrets + 1, 16) != 0)
    return -1;
  char *copy = strndup(value, len);
  if (!copy)
    return -1;
  memmove(secrets + at + 1, secrets + at, (n_secrets - at) * sizeof(*secrets));
  secrets[at] = (secret_t){.value = copy, .len = len};
  n_secrets++;
  atomic_store(&have_secrets, true);
  return 0;
}

int sr_log_add_secret(const char *value) {
  static const char seps[] = " ,;\t\r\n";
  int rc = 0;
  pthread_mutex_lock(&secrets_mu);
  if (*value)
    rc = add_secret(value, strlen(value));
  /* A list ("a,b" or "k=v k2=v2") may be quoted one element at a time,
   * as librdkafka does when it rejects one of them. */
  if (value[strcspn(value, seps)]) {
    for (const char *p = value; *p && rc == 0;) {
      size_t n = strcspn(p, seps);
      if (n)
        rc = add_secret(p, n);
      p += n + strspn(p + n, seps);
    }
  }
  pthread_mutex_unlock(&secrets_mu);
  return rc;
}

void sr_log_at(const char *component, sr_log_level_t level, const char *msg,
               const char *fields, ...) {
  if (!sr_log_enabled(level))
    return;
  char text[LINE_MAX_BYTES / 2] = "";
  char *heap = NULL; /* fields too long for text: cut only after masking */
  if (fields) {
    va_list ap;
    va_start(ap, fields);
    int n = vsnprintf(text, sizeof(text), fields, ap);
    va_end(ap);
    if (n >= (int)sizeof(text) && atomic_load(&have_secrets) &&
        (heap = malloc((size_t)n + 1)) != NULL) {
      va_start(ap, fields);
      vsnprintf(heap, (size_t)n + 1, fields, ap);
      va_end(ap);
    } else if (n >= (int)sizeof(text) && atomic_load(&have_secrets)) {
      snprintf(text, sizeof(text), "fields=***"); /* out of memory */
    }
  }
  log_line(component, level, msg, false, heap ? heap : text);
  free(heap);
}

void sr_log_status(const char *line) {
  sr_buf_t masked = {0};
  if (line && atomic_load(&have_secrets))
    line =
        mask_append(&masked, line, strlen(line), false) == 0 ? masked.data : "";
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
  sr_buf_free(&masked);
}

void sr_log_foreign(const char *component, sr_log_level_t level,
                    const char *msg, const char *fields) {
  if (sr_log_enabled(level))
    log_line(component, level, msg, true, fields ? fields : "");
}
