/* Checkpoint files: format, crash-safe write, retention, restore.
 *
 * Format version 2. The header, section records and end marker are written
 * byte by byte as little-endian (put32/put64), whatever the host. Section
 * payloads are the model's structs and arrays exactly as they lie in memory,
 * so they are in the writing host's byte order; the header's byte-order mark
 * records which. A reader on a host of the other order refuses the file
 * (SR_ERR_VERSION, naming both orders) rather than load garbage: checkpoints
 * move only between hosts of the same byte order. Version 1, written before
 * the mark existed, has no mark (the offsets start at 112) and is read as
 * little-endian, so it loads on little-endian hosts and is refused on
 * big-endian ones.
 *
 * Every block starts at a multiple of 64 bytes, so a payload read into a
 * 64-byte aligned buffer is itself 64-byte aligned and the model can use its
 * float arrays in place.
 *
 * Header, at offset 0:
 *     0  u8[8]   magic "SRCKPT\0\1"
 *     8  u32     format version
 *    12  u32     header length H, from offset 0 through the header CRC
 *    16  u32     dims
 *    20  u32     mode
 *    24  u64     users
 *    32  u64     items
 *    40  u64     events_applied
 *    48  i64     created_ms
 *    56  u64     seq
 *    64  u64[4]  rng_state
 *    96  u64     file size in bytes
 *   104  u32     number of sections
 *   108  u32     number of offsets
 *   112  u8[4]   byte-order mark: the u32 0x01020304 in the payloads' order,
 *                so 04 03 02 01 little-endian, 01 02 03 04 big-endian
 *   116          the offsets, each stored as
 *                u16 topic length (1..255), topic bytes (no NUL),
 *                i32 partition, i64 offset
 *   H-4  u32     CRC32C of bytes [0, H-4)
 *        zero bytes up to the next multiple of 64
 *
 * Each section, in the order written:
 *     0  u8[4]   tag "SECT"
 *     4  u32     id, unique in the file
 *     8  u64     payload length L
 *    16  u32     CRC32C of the payload
 *    20  u32     CRC32C of bytes [0, 20) of this record
 *    24          zero bytes up to 64
 *    64          L payload bytes, then zero bytes up to a multiple of 64
 *
 * End marker, the last 64 bytes of the file:
 *     0  u8[4]   tag "SEND"
 *     4  u32     number of sections
 *     8  u64     file size in bytes
 *    16  u32     CRC32C of bytes [0, 16) of this record
 *    20          zero bytes up to 64
 *
 * The header states the file size, so a file cut anywhere after the header
 * is reported as truncated before any section is read. The end marker
 * repeats the counts, so a section sequence that does not end exactly where
 * the header says is corrupt rather than silently short. Padding must be
 * zero: every byte of a valid file is covered by a CRC or a comparison.
 */
#include "store/checkpoint.h"
#include "util/crc32c.h"
#include "util/dir.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/offset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIGN 64
#define MAGIC "SRCKPT\0\1"
#define MAGIC_LEN 8
#define PREAMBLE_LEN 16  /* magic, version, header length */
#define HDR_FIXED 116    /* header bytes before the first offset */
#define HDR_FIXED_V1 112 /* the same in version 1, which has no mark */
#define BOM_AT 112
#define BOM 0x01020304u
#define OFFSET_FIXED 14 /* u16 topic length, i32 partition, i64 offset */
#define OFFSETS_MAX 65536
#define HDR_MAX (HDR_FIXED + 4 + OFFSETS_MAX * (OFFSET_FIXED + SR_TOPIC_MAX))
#define SECS_MAX 4096
#define REC_LEN 64
#define WRITE_CHUNK (8u << 20)
#define NAME_PREFIX "checkpoint-"
#define SEQ_DIGITS 20

typedef struct sec {
  uint32_t id;
  uint64_t off;
  uint64_t len;
} sec_t;

struct sr_ckpt {
  unsigned char *buf; /* the whole file, 64-byte aligned */
  size_t size;
  sr_ckpt_meta_t meta;
  sec_t *secs;
  size_t n_secs;
};

/* What the parser needs to check bounds and to name the file in errors. */
typedef struct reader {
  const unsigned char *buf;
  size_t len;
  const char *name;
  char *errstr;
  size_t errlen;
} reader_t;

static const unsigned char zeros[ALIGN];

static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static size_t align64(size_t n) {
  return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* Writing. */

static sr_err_t check_meta(const sr_ckpt_meta_t *meta, char *errstr,
                           size_t errlen) {
  if (meta->n_offsets > OFFSETS_MAX)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "checkpoint: %zu offsets, at most %d", meta->n_offsets,
                   OFFSETS_MAX);
  for (size_t i = 0; i < meta->n_offsets; i++) {
    size_t tl = strnlen(meta->offsets[i].topic, SR_TOPIC_MAX + 1);
    if (tl == 0 || tl > SR_TOPIC_MAX)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "checkpoint: offset %zu has an empty or too long topic",
                     i);
  }
  return SR_OK;
}

static sr_err_t check_secs(const sr_ckpt_section_t *secs, size_t n_secs,
                           char *errstr, size_t errlen) {
  if (n_secs > SECS_MAX)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "checkpoint: %zu sections, at most %d", n_secs, SECS_MAX);
  for (size_t i = 0; i < n_secs; i++) {
    if (secs[i].len > 0 && !secs[i].data)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "checkpoint: section id %u has no data", secs[i].id);
    for (size_t j = 0; j < i; j++)
      if (secs[j].id == secs[i].id)
        return sr_errf(errstr, errlen, SR_ERR_INVALID,
                       "checkpoint: section id %u given twice", secs[i].id);
  }
  return SR_OK;
}

static size_t header_len(const sr_ckpt_meta_t *meta) {
  size_t len = HDR_FIXED + 4;
  for (size_t i = 0; i < meta->n_offsets; i++)
    len += OFFSET_FIXED + strlen(meta->offsets[i].topic);
  return len;
}

static uint64_t file_size(size_t hlen, const sr_ckpt_section_t *secs,
                          size_t n_secs) {
  uint64_t size = align64(hlen) + REC_LEN;
  for (size_t i = 0; i < n_secs; i++)
    size += REC_LEN + align64(secs[i].len);
  return size;
}

static unsigned char *put_offset(unsigned char *p, const sr_offset_t *o) {
  size_t tl = strlen(o->topic);
  put16(p, (uint16_t)tl);
  memcpy(p + 2, o->topic, tl);
  put32(p + 2 + tl, (uint32_t)o->partition);
  put64(p + 6 + tl, (uint64_t)o->offset);
  return p + OFFSET_FIXED + tl;
}

/* The header block, zero-padded to a multiple of 64; caller frees. */
static unsigned char *build_header(const sr_ckpt_meta_t *meta, size_t hlen,
                                   size_t n_secs, uint64_t fsize) {
  unsigned char *h = calloc(1, align64(hlen));
  if (!h)
    return NULL;
  memcpy(h, MAGIC, MAGIC_LEN);
  put32(h + 8, SR_CKPT_FORMAT_VERSION);
  put32(h + 12, (uint32_t)hlen);
  put32(h + 16, meta->dims);
  put32(h + 20, meta->mode);
  put64(h + 24, meta->users);
  put64(h + 32, meta->items);
  put64(h + 40, meta->events_applied);
  put64(h + 48, (uint64_t)meta->created_ms);
  put64(h + 56, meta->seq);
  for (int i = 0; i < 4; i++)
    put64(h + 64 + 8 * i, meta->rng_state[i]);
  put64(h + 96, fsize);
  put32(h + 104, (uint32_t)n_secs);
  put32(h + 108, (uint32_t)meta->n_offsets);
  uint32_t bom = BOM; /* host order, like the payloads it describes */
  memcpy(h + BOM_AT, &bom, 4);
  unsigned char *p = h + HDR_FIXED;
  for (size_t i = 0; i < meta->n_offsets; i++)
    p = put_offset(p, &meta->offsets[i]);
  put32(p, sr_crc32c(0, h, hlen - 4));
  return h;
}

/* An open output file and how many bytes have gone into it. */
typedef struct out {
  int fd;
  uint64_t pos;
} out_t;

/* write(2) until done: a single call may write less than asked (and Linux
 * caps one call near 2 GiB), and a signal may interrupt it. */
static int put_bytes(out_t *out, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t n = write(out->fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return -1;
    }
    p += n;
    len -= (size_t)n;
    out->pos += (uint64_t)n;
  }
  return 0;
}

/* Writes a payload in large chunks and, after each, advises the kernel that
 * the chunk will not be read again. Linux answers by starting write-back of
 * those pages at once, so the disk works while later chunks are copied and
 * the final fsync has little left to wait for; it also keeps a checkpoint
 * that is read only on restart from crowding the page cache. The advice is
 * a hint, so its result is ignored. */
static int put_payload(out_t *out, const unsigned char *p, uint64_t len) {
  while (len > 0) {
    size_t n = len < WRITE_CHUNK ? (size_t)len : WRITE_CHUNK;
    uint64_t at = out->pos;
    if (put_bytes(out, p, n) != 0)
      return -1;
    posix_fadvise(out->fd, (off_t)at, (off_t)n, POSIX_FADV_DONTNEED);
    p += n;
    len -= n;
  }
  return 0;
}

static int put_section(out_t *out, const sr_ckpt_section_t *sec) {
  unsigned char rec[REC_LEN] = {0};
  memcpy(rec, "SECT", 4);
  put32(rec + 4, sec->id);
  put64(rec + 8, sec->len);
  put32(rec + 16, sr_crc32c(0, sec->data, sec->len));
  put32(rec + 20, sr_crc32c(0, rec, 20));
  if (put_bytes(out, rec, sizeof rec) != 0 ||
      put_payload(out, sec->data, sec->len) != 0)
    return -1;
  return put_bytes(out, zeros, align64(sec->len) - sec->len);
}

static int put_end(out_t *out, size_t n_secs, uint64_t fsize) {
  unsigned char rec[REC_LEN] = {0};
  memcpy(rec, "SEND", 4);
  put32(rec + 4, (uint32_t)n_secs);
  put64(rec + 8, fsize);
  put32(rec + 16, sr_crc32c(0, rec, 16));
  return put_bytes(out, rec, sizeof rec);
}

/* Writes and fsyncs path; on failure the caller removes it. */
static sr_err_t write_file(const char *path, const unsigned char *hdr,
                           size_t hdr_block, const sr_ckpt_section_t *secs,
                           size_t n_secs, uint64_t fsize, char *errstr,
                           size_t errlen) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "create %s: %s", path,
                   strerror(errno));
  const char *what = "write";
  out_t out = {fd, 0};
  int rc = put_bytes(&out, hdr, hdr_block);
  for (size_t i = 0; rc == 0 && i < n_secs; i++)
    rc = put_section(&out, &secs[i]);
  if (rc == 0)
    rc = put_end(&out, n_secs, fsize);
  if (rc == 0 && (rc = fsync(fd)) != 0)
    what = "fsync";
  int saved = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    what = "close";
    saved = errno;
  }
  if (rc != 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "%s %s: %s", what, path,
                   strerror(saved));
  return SR_OK;
}

/* A rename is durable only once the directory entry itself is on disk. */
static sr_err_t sync_dir(const char *dir, char *errstr, size_t errlen) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "open %s: %s", dir,
                   strerror(errno));
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  if (rc != 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "fsync %s: %s", dir,
                   strerror(saved));
  return SR_OK;
}

/* Returns 0, or -1 when the path does not fit. */
static int ckpt_path(char *buf, size_t len, const char *dir, uint64_t seq,
                     const char *ext) {
  int n = snprintf(buf, len, "%s/" NAME_PREFIX "%0*llu%s", dir, SEQ_DIGITS,
                   (unsigned long long)seq, ext);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

enum { NAME_OTHER, NAME_CKPT, NAME_TMP };

/* Classifies a directory entry; only names this module writes count. */
static int parse_name(const char *name, uint64_t *seq) {
  size_t plen = strlen(NAME_PREFIX);
  if (strncmp(name, NAME_PREFIX, plen) != 0)
    return NAME_OTHER;
  const char *p = name + plen;
  uint64_t v = 0;
  for (int i = 0; i < SEQ_DIGITS; i++, p++) {
    if (*p < '0' || *p > '9')
      return NAME_OTHER;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return NAME_OTHER;
    v = v * 10 + d;
  }
  *seq = v;
  if (strcmp(p, ".ckpt") == 0)
    return NAME_CKPT;
  return strcmp(p, ".tmp") == 0 ? NAME_TMP : NAME_OTHER;
}

static int cmp_desc(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static int push_seq(uint64_t **seqs, size_t *n, size_t *cap, uint64_t seq) {
  if (SR_GROW(*seqs, *cap, *n + 1, 16) != 0)
    return -1;
  (*seqs)[(*n)++] = seq;
  return 0;
}

static void unlink_in(const char *dir, const char *name) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path)
    unlink(path);
}

/* Seqs of the checkpoints in dir, newest first. With drop_tmp, also removes
 * the .tmp files a crashed writer left behind. */
static sr_err_t list_seqs(const char *dir, int drop_tmp, uint64_t **seqs_out,
                          size_t *n_out, char *errstr, size_t errlen) {
  *seqs_out = NULL;
  *n_out = 0;
  DIR *d = opendir(dir);
  if (!d) {
    int saved = errno;
    return sr_errf(errstr, errlen,
                   saved == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO,
                   "open directory %s: %s", dir, strerror(saved));
  }
  sr_err_t err = SR_OK;
  size_t cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    uint64_t seq;
    int kind = parse_name(de->d_name, &seq);
    if (kind == NAME_TMP && drop_tmp)
      unlink_in(dir, de->d_name);
    if (kind == NAME_CKPT && push_seq(seqs_out, n_out, &cap, seq) != 0) {
      err = sr_errf(errstr, errlen, SR_ERR_NOMEM, "listing %s: %s", dir,
                    strerror(ENOMEM));
      break;
    }
  }
  closedir(d);
  if (err != SR_OK) {
    free(*seqs_out);
    *seqs_out = NULL;
    *n_out = 0;
    return err;
  }
  if (*n_out > 1)
    qsort(*seqs_out, *n_out, sizeof **seqs_out, cmp_desc);
  return SR_OK;
}

/* Retention runs after the new checkpoint is durable, so a failure here
 * loses nothing: the files stay and the next write tries again. */
static void prune(const char *dir, uint64_t own, unsigned keep) {
  uint64_t *seqs;
  size_t n;
  if (list_seqs(dir, 1, &seqs, &n, NULL, 0) != SR_OK)
    return;
  char path[PATH_MAX];
  for (size_t i = keep; i < n; i++)
    if (seqs[i] != own &&
        ckpt_path(path, sizeof path, dir, seqs[i], ".ckpt") == 0)
      unlink(path);
  free(seqs);
}

sr_err_t sr_ckpt_write(const char *dir, const sr_ckpt_meta_t *meta,
                       const sr_ckpt_section_t *secs, size_t n_secs,
                       unsigned keep, char *path_out, size_t path_len,
                       char *errstr, size_t errlen) {
  char tmp[PATH_MAX], fin[PATH_MAX];
  sr_err_t err = check_meta(meta, errstr, errlen);
  if (err == SR_OK)
    err = check_secs(secs, n_secs, errstr, errlen);
  if (err != SR_OK)
    return err;
  if (ckpt_path(tmp, sizeof tmp, dir, meta->seq, ".tmp") != 0 ||
      ckpt_path(fin, sizeof fin, dir, meta->seq, ".ckpt") != 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "checkpoint directory name too long: %s", dir);
  /* A directory this writer cannot use is an I/O failure to its callers,
   * whose configuration was checked when the daemon started. */
  if (sr_dir_ensure(dir, SR_CKPT_DIR_MODE, errstr, errlen) != SR_OK)
    return SR_ERR_IO;
  size_t hlen = header_len(meta);
  uint64_t fsize = file_size(hlen, secs, n_secs);
  unsigned char *hdr = build_header(meta, hlen, n_secs, fsize);
  if (!hdr)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "%s: out of memory", tmp);
  err =
      write_file(tmp, hdr, align64(hlen), secs, n_secs, fsize, errstr, errlen);
  free(hdr);
  if (err == SR_OK && rename(tmp, fin) != 0)
    err = sr_errf(errstr, errlen, SR_ERR_IO, "rename %s to %s: %s", tmp, fin,
                  strerror(errno));
  if (err != SR_OK) {
    unlink(tmp);
    return err;
  }
  if ((err = sync_dir(dir, errstr, errlen)) != SR_OK)
    return err;
  prune(dir, meta->seq, keep ? keep : 1);
  if (path_out)
    snprintf(path_out, path_len, "%s", fin);
  return SR_OK;
}

/* Reading. */

__attribute__((format(printf, 3, 4))) static sr_err_t
fail(const reader_t *rd, sr_err_t err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sr_errf(rd->errstr, rd->errlen, err, "%s: %s", rd->name, msg);
}

/* Whether n bytes at pos are inside the file, without overflowing. */
static int fits(const reader_t *rd, size_t pos, uint64_t n) {
  return pos <= rd->len && n <= rd->len - pos;
}

static int all_zero(const unsigned char *p, size_t n) {
  return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Header bytes before the first offset in a readable format version, or 0
 * for a version this build does not read. */
static size_t hdr_fixed(uint32_t ver) {
  return ver == 1                        ? HDR_FIXED_V1
         : ver == SR_CKPT_FORMAT_VERSION ? HDR_FIXED
                                         : 0;
}

/* Magic, version, header length and header CRC, in the order that gives
 * the most useful error: a foreign file is MAGIC, a newer one VERSION. */
static sr_err_t check_preamble(const reader_t *rd, uint32_t *hlen) {
  if (rd->len == 0)
    return fail(rd, SR_ERR_TRUNCATED, "empty file");
  size_t m = rd->len < MAGIC_LEN ? rd->len : MAGIC_LEN;
  if (memcmp(rd->buf, MAGIC, m) != 0)
    return fail(rd, SR_ERR_MAGIC, "not a streamrec checkpoint (bad magic)");
  if (rd->len < PREAMBLE_LEN)
    return fail(rd, SR_ERR_TRUNCATED, "file is %zu bytes, ends in the header",
                rd->len);
  uint32_t ver = get32(rd->buf + 8);
  if (!hdr_fixed(ver))
    return fail(rd, SR_ERR_VERSION,
                "format version %u, this build reads 1 to %d", ver,
                SR_CKPT_FORMAT_VERSION);
  *hlen = get32(rd->buf + 12);
  if (*hlen < hdr_fixed(ver) + 4 || *hlen > HDR_MAX)
    return fail(rd, SR_ERR_CORRUPT, "header length %u out of range", *hlen);
  if (*hlen > rd->len)
    return fail(rd, SR_ERR_TRUNCATED, "file is %zu bytes, header is %u",
                rd->len, *hlen);
  uint32_t want = get32(rd->buf + *hlen - 4);
  uint32_t got = sr_crc32c(0, rd->buf, *hlen - 4);
  if (want != got)
    return fail(rd, SR_ERR_CRC,
                "header checksum mismatch (stored %08x, computed %08x)", want,
                got);
  return SR_OK;
}

static sr_err_t parse_offset(const reader_t *rd, size_t *pos, size_t end,
                             sr_offset_t *o) {
  const unsigned char *p = rd->buf + *pos;
  size_t tl = end - *pos < OFFSET_FIXED ? 0 : get16(p);
  if (tl == 0 || tl > SR_TOPIC_MAX || tl > end - *pos - OFFSET_FIXED)
    return fail(rd, SR_ERR_CORRUPT, "bad offset entry at byte %zu", *pos);
  if (memchr(p + 2, 0, tl))
    return fail(rd, SR_ERR_CORRUPT, "topic with a NUL byte at byte %zu", *pos);
  memcpy(o->topic, p + 2, tl);
  o->topic[tl] = '\0';
  o->partition = (int32_t)get32(p + 2 + tl);
  o->offset = (int64_t)get64(p + 6 + tl);
  *pos += OFFSET_FIXED + tl;
  return SR_OK;
}

static sr_err_t parse_offsets(const reader_t *rd, size_t hlen,
                              sr_ckpt_meta_t *meta) {
  size_t pos = hdr_fixed(meta->format_version), end = hlen - 4;
  uint32_t n = get32(rd->buf + 108);
  if (n > (end - pos) / (OFFSET_FIXED + 1))
    return fail(rd, SR_ERR_CORRUPT, "%u offsets do not fit in the header", n);
  if (n > 0 && !(meta->offsets = calloc(n, sizeof *meta->offsets)))
    return fail(rd, SR_ERR_NOMEM, "out of memory for %u offsets", n);
  for (; meta->n_offsets < n; meta->n_offsets++) {
    sr_err_t err = parse_offset(rd, &pos, end, &meta->offsets[meta->n_offsets]);
    if (err != SR_OK)
      return err;
  }
  if (pos != end)
    return fail(rd, SR_ERR_CORRUPT, "%zu stray bytes at the header's end",
                end - pos);
  return SR_OK;
}

static void parse_fields(const unsigned char *h, sr_ckpt_meta_t *meta) {
  meta->format_version = get32(h + 8);
  meta->dims = get32(h + 16);
  meta->mode = get32(h + 20);
  meta->users = get64(h + 24);
  meta->items = get64(h + 32);
  meta->events_applied = get64(h + 40);
  meta->created_ms = (int64_t)get64(h + 48);
  meta->seq = get64(h + 56);
  for (int i = 0; i < 4; i++)
    meta->rng_state[i] = get64(h + 64 + 8 * i);
}

/* The file size and section count the header promises. */
static sr_err_t check_size(const reader_t *rd, uint64_t fsize, uint32_t nsec) {
  if (rd->len < fsize)
    return fail(rd, SR_ERR_TRUNCATED, "file is %zu bytes, header says %llu",
                rd->len, (unsigned long long)fsize);
  if (rd->len > fsize)
    return fail(rd, SR_ERR_CORRUPT, "file is %zu bytes, header says %llu",
                rd->len, (unsigned long long)fsize);
  if (nsec > SECS_MAX)
    return fail(rd, SR_ERR_CORRUPT, "%u sections, at most %d", nsec, SECS_MAX);
  return SR_OK;
}

static sr_err_t check_record(const reader_t *rd, size_t pos, const char *tag,
                             size_t crc_at, const char *what, uint32_t i) {
  if (!fits(rd, pos, REC_LEN))
    return fail(rd, SR_ERR_CORRUPT, "%s %u missing at byte %zu", what, i, pos);
  const unsigned char *r = rd->buf + pos;
  if (memcmp(r, tag, 4) != 0)
    return fail(rd, SR_ERR_CORRUPT, "%s %u missing at byte %zu", what, i, pos);
  uint32_t want = get32(r + crc_at), got = sr_crc32c(0, r, crc_at);
  if (want != got)
    return fail(rd, SR_ERR_CRC, "%s %u checksum mismatch", what, i);
  if (!all_zero(r + crc_at + 4, REC_LEN - crc_at - 4))
    return fail(rd, SR_ERR_CORRUPT, "%s %u has non-zero padding", what, i);
  return SR_OK;
}

static sr_err_t parse_section(const reader_t *rd, size_t *pos, uint32_t i,
                              sec_t *sec) {
  sr_err_t err = check_record(rd, *pos, "SECT", 20, "section record", i);
  if (err != SR_OK)
    return err;
  const unsigned char *r = rd->buf + *pos;
  sec->id = get32(r + 4);
  sec->len = get64(r + 8);
  sec->off = *pos + REC_LEN;
  if (!fits(rd, sec->off, sec->len) || !fits(rd, sec->off, align64(sec->len)))
    return fail(rd, SR_ERR_CORRUPT,
                "section id %u: length %llu runs past the"
                " end",
                sec->id, (unsigned long long)sec->len);
  const unsigned char *p = rd->buf + sec->off;
  uint32_t want = get32(r + 16), got = sr_crc32c(0, p, sec->len);
  if (want != got)
    return fail(rd, SR_ERR_CRC,
                "section id %u checksum mismatch (stored %08x, computed %08x)",
                sec->id, want, got);
  if (!all_zero(p + sec->len, align64(sec->len) - sec->len))
    return fail(rd, SR_ERR_CORRUPT, "section id %u has non-zero padding",
                sec->id);
  *pos = sec->off + align64(sec->len);
  return SR_OK;
}

static sr_err_t parse_sections(const reader_t *rd, size_t *pos, uint32_t nsec,
                               sr_ckpt_t *ckpt) {
  if (nsec > 0 && !(ckpt->secs = calloc(nsec, sizeof *ckpt->secs)))
    return fail(rd, SR_ERR_NOMEM, "out of memory for %u sections", nsec);
  for (; ckpt->n_secs < nsec; ckpt->n_secs++) {
    sec_t *sec = &ckpt->secs[ckpt->n_secs];
    sr_err_t err = parse_section(rd, pos, (uint32_t)ckpt->n_secs, sec);
    if (err != SR_OK)
      return err;
    for (size_t j = 0; j < ckpt->n_secs; j++)
      if (ckpt->secs[j].id == sec->id)
        return fail(rd, SR_ERR_CORRUPT, "section id %u appears twice", sec->id);
  }
  return SR_OK;
}

static sr_err_t check_end(const reader_t *rd, size_t pos, uint32_t nsec,
                          uint64_t fsize) {
  sr_err_t err =
      check_record(rd, pos, "SEND", 16, "end marker after section", nsec);
  if (err != SR_OK)
    return err;
  const unsigned char *r = rd->buf + pos;
  if (get32(r + 4) != nsec || get64(r + 8) != fsize)
    return fail(rd, SR_ERR_CORRUPT, "end marker disagrees with the header");
  if (pos + REC_LEN != rd->len)
    return fail(rd, SR_ERR_CORRUPT, "%zu bytes after the end marker",
                rd->len - pos - REC_LEN);
  return SR_OK;
}

/* The byte order a 4-byte mark spells, or NULL for neither. */
static const char *order_name(const unsigned char *mark) {
  if (memcmp(mark, "\4\3\2\1", 4) == 0)
    return "little-endian";
  return memcmp(mark, "\1\2\3\4", 4) == 0 ? "big-endian" : NULL;
}

/* Payloads are host-order structs, so a file from a host of the other byte
 * order would load as garbage: refuse it. Version 1 has no mark; it was
 * documented, and in practice written, as little-endian. */
static sr_err_t check_byte_order(const reader_t *rd, uint32_t ver) {
  uint32_t bom = BOM;
  unsigned char host[4];
  memcpy(host, &bom, 4);
  const unsigned char *mark =
      ver == 1 ? (const unsigned char *)"\4\3\2\1" : rd->buf + BOM_AT;
  const char *file = order_name(mark);
  if (!file)
    return fail(rd, SR_ERR_CORRUPT,
                "byte-order mark %02x %02x %02x %02x is neither order", mark[0],
                mark[1], mark[2], mark[3]);
  if (memcmp(mark, host, 4) != 0)
    return fail(rd, SR_ERR_VERSION,
                "written on a %s host, this host is %s: a checkpoint "
                "loads only on a host of the byte order that wrote it",
                file, order_name(host));
  return SR_OK;
}

static sr_err_t parse(const reader_t *rd, sr_ckpt_t *ckpt) {
  uint32_t hlen = 0;
  sr_err_t err = check_preamble(rd, &hlen);
  if (err != SR_OK)
    return err;
  parse_fields(rd->buf, &ckpt->meta);
  if ((err = check_byte_order(rd, ckpt->meta.format_version)) != SR_OK)
    return err;
  if ((err = parse_offsets(rd, hlen, &ckpt->meta)) != SR_OK)
    return err;
  uint64_t fsize = get64(rd->buf + 96);
  uint32_t nsec = get32(rd->buf + 104);
  if ((err = check_size(rd, fsize, nsec)) != SR_OK)
    return err;
  size_t pos = align64(hlen);
  if (!fits(rd, hlen, pos - hlen) || !all_zero(rd->buf + hlen, pos - hlen))
    return fail(rd, SR_ERR_CORRUPT, "bad padding after the header");
  if ((err = parse_sections(rd, &pos, nsec, ckpt)) != SR_OK)
    return err;
  return check_end(rd, pos, nsec, fsize);
}

/* Takes ownership of buf (from aligned_alloc) whatever the outcome. */
static sr_err_t parse_owned(unsigned char *buf, size_t len, const char *name,
                            sr_ckpt_t **out, char *errstr, size_t errlen) {
  sr_ckpt_t *ckpt = calloc(1, sizeof *ckpt);
  if (!ckpt) {
    free(buf);
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "%s: out of memory", name);
  }
  ckpt->buf = buf;
  ckpt->size = len;
  reader_t rd = {buf, len, name, errstr, errlen};
  sr_err_t err = parse(&rd, ckpt);
  if (err != SR_OK) {
    sr_ckpt_free(ckpt);
    return err;
  }
  *out = ckpt;
  return SR_OK;
}

/* A buffer for len bytes whose start, and so every 64-aligned payload
 * offset, is 64-byte aligned. */
static unsigned char *alloc_image(size_t len) {
  return aligned_alloc(ALIGN, align64(len ? len : 1));
}

static sr_err_t read_fd(int fd, const char *path, unsigned char **buf_out,
                        size_t *len_out, char *errstr, size_t errlen) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "stat %s: %s", path,
                   strerror(errno));
  if (!S_ISREG(st.st_mode))
    return sr_errf(errstr, errlen, SR_ERR_IO, "%s: not a regular file", path);
  size_t want = (size_t)st.st_size, len = 0;
  unsigned char *buf = alloc_image(want);
  if (!buf)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM,
                   "%s: out of memory for %zu"
                   " bytes",
                   path, want);
  while (len < want) {
    ssize_t n = read(fd, buf + len, want - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      free(buf);
      return sr_errf(errstr, errlen, SR_ERR_IO, "read %s: %s", path,
                     strerror(saved));
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  *buf_out = buf;
  *len_out = len;
  return SR_OK;
}

sr_err_t sr_ckpt_read(const char *path, sr_ckpt_t **out, char *errstr,
                      size_t errlen) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sr_errf(errstr, errlen, SR_ERR_IO, "open %s: %s", path,
                   strerror(errno));
  unsigned char *buf = NULL;
  size_t len = 0;
  sr_err_t err = read_fd(fd, path, &buf, &len, errstr, errlen);
  close(fd);
  if (err != SR_OK)
    return err;
  return parse_owned(buf, len, path, out, errstr, errlen);
}

sr_err_t sr_ckpt_parse(const void *data, size_t len, const char *name,
                       sr_ckpt_t **out, char *errstr, size_t errlen) {
  *out = NULL;
  unsigned char *buf = alloc_image(len);
  if (!buf)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "%s: out of memory", name);
  if (len > 0)
    memcpy(buf, data, len);
  return parse_owned(buf, len, name, out, errstr, errlen);
}

const sr_ckpt_meta_t *sr_ckpt_meta(const sr_ckpt_t *ckpt) {
  return &ckpt->meta;
}

const void *sr_ckpt_section(const sr_ckpt_t *ckpt, uint32_t id, uint64_t *len) {
  for (size_t i = 0; i < ckpt->n_secs; i++) {
    if (ckpt->secs[i].id == id) {
      if (len)
        *len = ckpt->secs[i].len;
      return ckpt->buf + ckpt->secs[i].off;
    }
  }
  if (len)
    *len = 0;
  return NULL;
}

uint64_t sr_ckpt_file_size(const sr_ckpt_t *ckpt) {
  return ckpt->size;
}

void sr_ckpt_free(sr_ckpt_t *ckpt) {
  if (!ckpt)
    return;
  free(ckpt->meta.offsets);
  free(ckpt->secs);
  free(ckpt->buf);
  free(ckpt);
}

/* Restoring. */

sr_err_t sr_ckpt_load_newest(const char *dir, sr_ckpt_t **out, char *path_out,
                             size_t path_len, sr_ckpt_skip_cb *on_skip,
                             void *opaque, char *errstr, size_t errlen) {
  *out = NULL;
  uint64_t *seqs;
  size_t n;
  sr_err_t err = list_seqs(dir, 0, &seqs, &n, errstr, errlen);
  if (err != SR_OK)
    return err;
  if (n == 0)
    err = sr_errf(errstr, errlen, SR_ERR_NOT_FOUND, "no checkpoint in %s", dir);
  char path[PATH_MAX], why[512];
  if (n > 0 && ckpt_path(path, sizeof path, dir, 0, ".ckpt") != 0)
    err = sr_errf(errstr, errlen, SR_ERR_INVALID,
                  "checkpoint directory name too long: %s", dir);
  for (size_t i = 0; err != SR_ERR_INVALID && i < n; i++) {
    ckpt_path(path, sizeof path, dir, seqs[i], ".ckpt");
    if ((err = sr_ckpt_read(path, out, why, sizeof why)) == SR_OK) {
      if (path_out)
        snprintf(path_out, path_len, "%s", path);
      break;
    }
    if (i + 1 == n)
      sr_errf(errstr, errlen, err, "%s", why);
    else if (on_skip)
      on_skip(opaque, path, err, why);
  }
  free(seqs);
  return err;
}
