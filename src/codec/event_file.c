/* Event files: JSON lines, length-delimited protobuf and TSV, read with one
 * reused line buffer and a large stdio buffer so that replaying history is
 * bound by parsing, not by allocation or system calls. */
#include "codec/event_file.h"

#include "codec/event_codec.h"
#include "codec/reason.h"
#include "util/buf.h"
#include "util/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define IO_BUF_BYTES (1u << 20)
/* A longer length prefix is taken for corruption rather than an event. */
#define PROTO_MAX_BYTES (16u << 20)

struct sr_event_reader {
  FILE *f;
  sr_file_fmt_t fmt;
  char *iobuf;
  char *line; /* getline's buffer, or the protobuf message */
  size_t cap;
  size_t raw_len;
  uint64_t done;
  uint64_t total;
  uint64_t recno; /* lines (jsonl, tsv) or records (proto) read */
  const char *sep;
  size_t sep_len;
  int header_checked;
};

int sr_file_fmt_parse(const char *name, sr_file_fmt_t *fmt) {
  if (strcmp(name, "jsonl") == 0)
    *fmt = SR_FILE_JSONL;
  else if (strcmp(name, "proto") == 0)
    *fmt = SR_FILE_PROTO;
  else if (strcmp(name, "tsv") == 0)
    *fmt = SR_FILE_TSV;
  else
    return -1;
  return 0;
}

const char *sr_file_fmt_name(sr_file_fmt_t fmt) {
  return fmt == SR_FILE_PROTO ? "proto" : fmt == SR_FILE_TSV ? "tsv" : "jsonl";
}

int sr_file_fmt_of_name(const char *path, sr_file_fmt_t *fmt) {
  static const struct {
    const char *ext;
    sr_file_fmt_t fmt;
  } exts[] = {{".jsonl", SR_FILE_JSONL}, {".json", SR_FILE_JSONL},
              {".pb", SR_FILE_PROTO},    {".proto", SR_FILE_PROTO},
              {".dat", SR_FILE_TSV},     {".tsv", SR_FILE_TSV},
              {".csv", SR_FILE_TSV},     {".data", SR_FILE_TSV}};
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/'))
    return -1;
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
    if (strcmp(dot, exts[i].ext) == 0) {
      *fmt = exts[i].fmt;
      return 0;
    }
  return -1;
}

/* The separator of a TSV line, or NULL: a tab wins over "::" (MovieLens
 * 1M) and "::" over a comma (MovieLens "latest"). */
static const char *tsv_sep(const char *line) {
  static const char *const seps[] = {"\t", "::", ","};
  for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++)
    if (strstr(line, seps[i]))
      return seps[i];
  return NULL;
}

/* The format the first n bytes of a file, head, show; head[n] is 0. */
static sr_file_fmt_t fmt_of_head(char *head, size_t n) {
  size_t i = strspn(head, " \t\r\n");
  if (i < n && head[i] == '{')
    return SR_FILE_JSONL;
  size_t end = 0;
  while (end < n && head[end] != '\n')
    end++;
  for (size_t k = 0; k < end; k++) {
    unsigned char c = (unsigned char)head[k];
    if (c < 0x20 && c != '\t' && c != '\r')
      return SR_FILE_PROTO; /* a binary byte: a length prefix or a tag */
  }
  head[end] = '\0';
  return end > 0 && tsv_sep(head) ? SR_FILE_TSV : SR_FILE_PROTO;
}

sr_file_fmt_t sr_file_fmt_guess(const char *path) {
  sr_file_fmt_t fmt;
  if (sr_file_fmt_of_name(path, &fmt) == 0)
    return fmt;
  /* Only a regular file can be read twice: a pipe (`<(zcat ...)`) would
   * lose the bytes looked at. */
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return SR_FILE_JSONL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return SR_FILE_JSONL;
  char head[512 + 1];
  size_t n = fread(head, 1, sizeof head - 1, f);
  fclose(f);
  head[n] = '\0';
  return n ? fmt_of_head(head, n) : SR_FILE_JSONL;
}

/* stdin gets a FILE of its own, so that our buffer and fclose never touch
 * the process's stdin stream. */
static FILE *open_input(const char *path) {
  if (strcmp(path, "-") != 0)
    return fopen(path, "rb");
  int fd = dup(STDIN_FILENO);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
  if (!f && fd >= 0) {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  return f;
}

sr_event_reader_t *sr_event_reader_open(const char *path, sr_file_fmt_t fmt,
                                        char *errstr, size_t errlen) {
  sr_event_reader_t *rd = calloc(1, sizeof *rd);
  if (!rd) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  rd->fmt = fmt;
  rd->f = open_input(path);
  if (!rd->f) {
    sr_errf(errstr, errlen, SR_ERR_IO, "open %s: %s", path, strerror(errno));
    goto fail;
  }
  struct stat st;
  if (fstat(fileno(rd->f), &st) == 0 && S_ISREG(st.st_mode))
    rd->total = (uint64_t)st.st_size;
  rd->iobuf = malloc(IO_BUF_BYTES);
  if (!rd->iobuf || setvbuf(rd->f, rd->iobuf, _IOFBF, IO_BUF_BYTES) != 0) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "%s: cannot set up buffering", path);
    goto fail;
  }
  return rd;
fail:
  sr_event_reader_free(rd);
  return NULL;
}

void sr_event_reader_free(sr_event_reader_t *rd) {
  if (!rd)
    return;
  if (rd->f)
    fclose(rd->f);
  free(rd->iobuf);
  free(rd->line);
  free(rd);
}

const void *sr_event_reader_raw(const sr_event_reader_t *rd, size_t *len) {
  *len = rd->raw_len;
  return rd->line;
}

void sr_event_reader_progress(const sr_event_reader_t *rd, uint64_t *done,
                              uint64_t *total) {
  *done = rd->done;
  *total = rd->total;
}

static int read_error(sr_event_reader_t *rd, char *errstr, size_t errlen) {
  sr_errf(errstr, errlen, SR_ERR_IO, "read after record %" PRIu64 ": %s",
          rd->recno, strerror(errno));
  return -1;
}

/* Reads the next non-blank line into rd->line without its line end.
 * Returns its length, or -1 at end of file or on error (see ferror). */
static ssize_t next_line(sr_event_reader_t *rd) {
  for (;;) {
    ssize_t n = getline(&rd->line, &rd->cap, rd->f);
    if (n < 0)
      return -1;
    rd->done += (uint64_t)n;
    rd->recno++;
    while (n > 0 && (rd->line[n - 1] == '\n' || rd->line[n - 1] == '\r'))
      n--;
    rd->line[n] = '\0';
    rd->raw_len = (size_t)n;
    if ((size_t)n != strspn(rd->line, " \t"))
      return n;
  }
}

/* Fills errstr with "<unit> N: msg" for a rejected record. */
static void record_error(const sr_event_reader_t *rd, const char *msg,
                         char *errstr, size_t errlen) {
  sr_errf(errstr, errlen, SR_ERR_DECODE, "%s %" PRIu64 ": %s",
          rd->fmt == SR_FILE_PROTO ? "record" : "line", rd->recno, msg);
}

static int next_jsonl(sr_event_reader_t *rd, sr_event_t *ev,
                      sr_reason_t *reason, char *errstr, size_t errlen) {
  ssize_t n = next_line(rd);
  if (n < 0)
    return ferror(rd->f) ? read_error(rd, errstr, errlen) : 0;
  char msg[256];
  *reason = sr_event_decode(rd->line, (size_t)n, SR_WIRE_JSON, NULL, ev, msg,
                            sizeof msg);
  if (*reason != SR_REASON_OK)
    record_error(rd, msg, errstr, errlen);
  return 1;
}

/* Reads a varint length prefix. Returns 1 with *out, 0 at a clean end of
 * file, -1 when the file ends inside it or it is over 10 bytes. */
static int read_prefix(sr_event_reader_t *rd, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    int c = getc(rd->f);
    if (c == EOF)
      return shift == 0 && !ferror(rd->f) ? 0 : -1;
    rd->done++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return -1;
}

/* Makes rd->line hold at least need bytes; it only ever grows. */
static int reserve_line(sr_event_reader_t *rd, size_t need) {
  if (need <= rd->cap)
    return 0;
  char *line = realloc(rd->line, need);
  if (!line)
    return -1;
  rd->line = line;
  rd->cap = need;
  return 0;
}

/* Reads the message of a length prefix into rd->line. Returns 0 or -1. */
static int read_message(sr_event_reader_t *rd, uint64_t len, char *errstr,
                        size_t errlen) {
  if (len > PROTO_MAX_BYTES) {
    sr_errf(errstr, errlen, SR_ERR_CORRUPT,
            "record %" PRIu64 ": length %" PRIu64 " exceeds 16 MiB", rd->recno,
            len);
    return -1;
  }
  if (reserve_line(rd, (size_t)len + 1) != 0) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return -1;
  }
  size_t got = fread(rd->line, 1, (size_t)len, rd->f);
  rd->done += got;
  rd->raw_len = got;
  if (got == len)
    return 0;
  if (ferror(rd->f))
    return read_error(rd, errstr, errlen);
  sr_errf(errstr, errlen, SR_ERR_TRUNCATED,
          "record %" PRIu64 ": truncated, %zu of %" PRIu64 " bytes", rd->recno,
          got, len);
  return -1;
}

static int next_proto(sr_event_reader_t *rd, sr_event_t *ev,
                      sr_reason_t *reason, char *errstr, size_t errlen) {
  uint64_t len;
  int rc = read_prefix(rd, &len);
  if (rc < 0 && ferror(rd->f))
    return read_error(rd, errstr, errlen);
  if (rc < 0)
    sr_errf(errstr, errlen, SR_ERR_TRUNCATED,
            "record %" PRIu64 ": bad or truncated length prefix",
            rd->recno + 1);
  if (rc <= 0)
    return rc;
  rd->recno++;
  if (read_message(rd, len, errstr, errlen) != 0)
    return -1;
  char msg[256];
  *reason = sr_event_decode(rd->line, rd->raw_len, SR_WIRE_PROTO, NULL, ev, msg,
                            sizeof msg);
  if (*reason != SR_REASON_OK)
    record_error(rd, msg, errstr, errlen);
  return 1;
}

/* Picks the separator of a TSV file from its first line. */
static int detect_sep(sr_event_reader_t *rd, const char *line) {
  rd->sep = tsv_sep(line);
  rd->sep_len = rd->sep ? strlen(rd->sep) : 0;
  return rd->sep ? 0 : -1;
}

typedef struct field {
  const char *p;
  size_t len;
} field_t;

/* Splits line at the separator into up to max fields. Returns how many
 * fields the line has, which may exceed max. */
static size_t split(const sr_event_reader_t *rd, const char *line, size_t len,
                    field_t *fields, size_t max) {
  const char *end = line + len, *p = line;
  size_t n = 0;
  for (;;) {
    const char *q = p;
    while (q < end && (*q != rd->sep[0] ||
                       (rd->sep_len == 2 && (q + 1 >= end || q[1] != ':'))))
      q++;
    if (n < max)
      fields[n] = (field_t){p, (size_t)(q - p)};
    n++;
    if (q == end)
      return n;
    p = q + rd->sep_len;
  }
}

/* Copies a short numeric field into buf so strtod/strtoll see a NUL there
 * without writing into the line, which sr_event_reader_raw still returns. */
static const char *terminate(const field_t *fld, char *buf, size_t size) {
  if (fld->len == 0 || fld->len >= size)
    return NULL;
  memcpy(buf, fld->p, fld->len);
  buf[fld->len] = '\0';
  return buf;
}

static int parse_double(const field_t *fld, double *out) {
  char buf[64], *end;
  const char *s = terminate(fld, buf, sizeof buf);
  if (!s)
    return -1;
  *out = strtod(s, &end);
  return *end ? -1 : 0;
}

/* Unix seconds, integral or not, to milliseconds. Returns 0 or -1. */
static int parse_unix_ms(const field_t *fld, int64_t *out) {
  char buf[64], *end;
  const char *s = terminate(fld, buf, sizeof buf);
  if (!s)
    return -1;
  errno = 0;
  long long sec = strtoll(s, &end, 10);
  if (*end == '\0' && errno == 0 && sec <= INT64_MAX / 1000 &&
      sec >= INT64_MIN / 1000) {
    *out = (int64_t)sec * 1000;
    return 0;
  }
  double d = strtod(s, &end);
  if (*end || !(d > -9.2e15 && d < 9.2e15))
    return -1;
  *out = (int64_t)(d * 1000.0);
  return 0;
}

/* Shows at most 32 bytes of a field in a message. */
static int shown(const field_t *fld) {
  return fld->len > 32 ? 32 : (int)fld->len;
}

static sr_reason_t parse_tsv(sr_event_reader_t *rd, const char *line,
                             size_t len, sr_event_t *ev, char *msg,
                             size_t msglen) {
  field_t f[4];
  size_t n = split(rd, line, len, f, 4);
  sr_event_fields_t fld = {.type = SR_EV_RATING};
  if (n != 4) {
    sr_errf(msg, msglen, SR_ERR_DECODE,
            "expected 4 fields (user, item, value, unix_ts), got %zu", n);
    return SR_REASON_DECODE;
  }
  if (parse_double(&f[2], &fld.value) != 0) {
    sr_errf(msg, msglen, SR_ERR_DECODE, "value \"%.*s\" is not a number",
            shown(&f[2]), f[2].p);
    return SR_REASON_DECODE;
  }
  if (parse_unix_ms(&f[3], &fld.timestamp_ms) != 0) {
    sr_errf(msg, msglen, SR_ERR_DECODE,
            "unix_ts \"%.*s\" is not a time in seconds", shown(&f[3]), f[3].p);
    return SR_REASON_DECODE;
  }
  fld.user_id = f[0].p;
  fld.user_len = f[0].len;
  fld.item_id = f[1].p;
  fld.item_len = f[1].len;
  return sr_event_validate(&fld, NULL, ev, msg, msglen);
}

/* The first line is a header when its value or time is not a number. */
static int is_header(sr_event_reader_t *rd, const char *line, size_t len) {
  field_t f[4];
  double d;
  int64_t ms;
  if (split(rd, line, len, f, 4) < 4)
    return 0;
  return parse_double(&f[2], &d) != 0 || parse_unix_ms(&f[3], &ms) != 0;
}

static int next_tsv(sr_event_reader_t *rd, sr_event_t *ev, sr_reason_t *reason,
                    char *errstr, size_t errlen) {
  char msg[256];
  for (;;) {
    ssize_t n = next_line(rd);
    if (n < 0)
      return ferror(rd->f) ? read_error(rd, errstr, errlen) : 0;
    if (!rd->sep && detect_sep(rd, rd->line) != 0) {
      *reason = SR_REASON_DECODE;
      record_error(rd, "no separator (tab, \"::\" or \",\")", errstr, errlen);
      return 1;
    }
    int first = !rd->header_checked;
    rd->header_checked = 1;
    if (first && is_header(rd, rd->line, (size_t)n))
      continue;
    *reason = parse_tsv(rd, rd->line, (size_t)n, ev, msg, sizeof msg);
    if (*reason != SR_REASON_OK)
      record_error(rd, msg, errstr, errlen);
    return 1;
  }
}

int sr_event_reader_next(sr_event_reader_t *rd, sr_event_t *ev,
                         sr_reason_t *reason, char *errstr, size_t errlen) {
  *reason = SR_REASON_OK;
  rd->raw_len = 0;
  switch (rd->fmt) {
  case SR_FILE_JSONL: return next_jsonl(rd, ev, reason, errstr, errlen);
  case SR_FILE_PROTO: return next_proto(rd, ev, reason, errstr, errlen);
  case SR_FILE_TSV: return next_tsv(rd, ev, reason, errstr, errlen);
  }
  sr_errf(errstr, errlen, SR_ERR_INVALID, "unknown file format %d",
          (int)rd->fmt);
  return -1;
}

static int encode_tsv(const sr_event_t *ev, sr_buf_t *out) {
  /* A tab or line end inside an id would shift every later field. */
  if (strpbrk(ev->user_id, "\t\r\n") || strpbrk(ev->item_id, "\t\r\n")) {
    errno = EINVAL;
    return -1;
  }
  int64_t sec = ev->timestamp_ms / 1000;
  if (ev->timestamp_ms % 1000 < 0)
    sec--; /* floor, so that negative times stay in their second */
  return sr_buf_printf(out, "%s\t%s\t%.9g\t%" PRId64 "\n", ev->user_id,
                       ev->item_id, (double)ev->value, sec);
}

/* Appends the varint length prefix and the message: the message is
 * encoded first, then moved up by the prefix's size. */
static int encode_proto(const sr_event_t *ev, sr_buf_t *out) {
  if (sr_event_encode_proto(ev, out) != 0)
    return -1;
  uint8_t prefix[10];
  size_t n = 0;
  uint64_t v = out->len;
  do {
    prefix[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  if (sr_buf_reserve(out, n) != 0)
    return -1;
  memmove(out->data + n, out->data, out->len);
  memcpy(out->data, prefix, n);
  out->len += n;
  return 0;
}

int sr_event_write(FILE *f, sr_file_fmt_t fmt, const sr_event_t *ev,
                   sr_buf_t *scratch) {
  sr_buf_t local = {0};
  sr_buf_t *buf = scratch ? scratch : &local;
  int rc = -1;
  buf->len = 0;
  switch (fmt) {
  case SR_FILE_JSONL:
    rc = sr_event_encode_json(ev, buf) == 0 ? sr_buf_append(buf, "\n", 1) : -1;
    break;
  case SR_FILE_PROTO: rc = encode_proto(ev, buf); break;
  case SR_FILE_TSV: rc = encode_tsv(ev, buf); break;
  }
  if (rc == 0 && fwrite(buf->data, 1, buf->len, f) != buf->len)
    rc = -1;
  sr_buf_free(&local);
  return rc;
}
