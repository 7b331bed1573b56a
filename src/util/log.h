/* A small structured logger to stderr: one line per message, logfmt
 * (`ts=... level=... component=... msg="..." key=value...`) or JSON lines,
 * with a level filter and per-message rate limiting (the same message at
 * most once per second; the lines held back are counted and reported as
 * suppressed=N on the next one that gets through). Registered secrets are
 * masked in every line. On a terminal it also owns the progress line, which
 * log lines clear and redraw. Thread-safe: librdkafka's threads and the
 * libuv thread pool log through it too. */
#ifndef SR_LOG_H
#define SR_LOG_H

#include "streamrec/common.h"
#include "util/buf.h"

#include <stdbool.h>

typedef enum sr_log_level {
  SR_LOG_DEBUG = 0,
  SR_LOG_INFO = 1,
  SR_LOG_WARN = 2,
  SR_LOG_ERROR = 3,
} sr_log_level_t;

/* Sets the lowest level written (default info). */
void sr_log_set_level(sr_log_level_t level);

/* True when messages of level would be written. */
bool sr_log_enabled(sr_log_level_t level);

/* The line format; the option log.format lists the names in this order. */
typedef enum sr_log_format {
  SR_LOG_FORMAT_LOGFMT = 0,
  SR_LOG_FORMAT_JSON = 1,
} sr_log_format_t;

/* Selects the line format (default logfmt). */
void sr_log_set_format(sr_log_format_t format);

/* Masks value (e.g. a password from kafka.properties) as "***" wherever it
 * appears in a later line, whatever its length: values of 4 bytes or more
 * anywhere, shorter ones where they stand alone (not glued to letters or
 * digits, and not as a field's key). A list (elements separated by spaces,
 * commas or semicolons) also registers each element. Lines are masked
 * before they are cut or escaped. Returns 0, or -1 out of memory. */
int sr_log_add_secret(const char *value);

/* Appends text to out with every registered secret masked as in a log
 * line, NUL-terminated (the NUL not counted): for messages that bypass the
 * logger, such as the CLI's errors. Returns 0, or -1 out of memory (out is
 * then shorter, never unmasked). */
int sr_log_mask(sr_buf_t *out, const char *text);

/* Logs msg (a fixed human sentence) from component followed by
 * printf-formatted logfmt fields (may be NULL), e.g. "topic=%s
 * partition=%d". Rate-limited per message: the key is the level, msg and
 * the values of the identifying fields (file, reason, topic, kind, client,
 * fac, error, state, partition: one line per partition of a rebalance gets
 * through); other fields (offsets, counts) do not make a message new. Values
 * that may hold spaces or quotes go through sr_logq. */
void sr_log_at(const char *component, sr_log_level_t level, const char *msg,
               const char *fields, ...) __attribute__((format(printf, 4, 5)));

/* The component a file logs as: define SR_LOG_COMPONENT before including
 * this header to name it. */
#ifndef SR_LOG_COMPONENT
#define SR_LOG_COMPONENT "streamrec"
#endif
#define sr_log(level, msg, ...)                                                \
  sr_log_at(SR_LOG_COMPONENT, level, msg, __VA_ARGS__)

/* s quoted and escaped for a logfmt value when it needs it, else s itself.
 * The result lives in a per-thread ring of 4 buffers: use it in the same
 * sr_log call. Long values are cut at 400 bytes. */
const char *sr_logq(const char *s);

/* Shows line as the progress line on stderr (a terminal), replacing the
 * previous one; NULL clears it. Log lines are written above it. */
void sr_log_status(const char *line);

/* Logs msg written by a library (librdkafka): unlike sr_log_at, digits in
 * msg do not make it a new message for the rate limit, as such messages
 * carry counters ("after 12ms"). fields is preformatted logfmt (may be
 * NULL), its values already quoted with sr_logq. */
void sr_log_foreign(const char *component, sr_log_level_t level,
                    const char *msg, const char *fields);

#endif
