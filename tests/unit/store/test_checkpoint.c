/* Checkpoint files: round trip, every corruption rejected with its own code,
 * retention and falling back to an older checkpoint. */
#include "store/checkpoint.h"
#include "util/crc32c.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"
#include "util/offset.h"

/* Larger than the writer's 8 MiB chunk and not a multiple of 64. */
#define BIG_LEN ((9u << 20) + 5)

/* Per-test state: a fresh directory under /tmp and a sample checkpoint. */
typedef struct fixture {
  char dir[64];
  sr_offset_t offsets[5];
  sr_ckpt_meta_t meta;
  unsigned char *big;
  unsigned char small[13];
  unsigned char mid[100];
  sr_ckpt_section_t secs[4];
} fixture_t;

static void fill_meta(fixture_t *fx) {
  char longest[SR_TOPIC_MAX + 1];
  memset(longest, 't', SR_TOPIC_MAX);
  longest[SR_TOPIC_MAX] = '\0';
  set_offset(&fx->offsets[0], "events", 0, 12345);
  set_offset(&fx->offsets[1], "events", 1, 0);
  set_offset(&fx->offsets[2], "events", 17, INT64_MAX);
  set_offset(&fx->offsets[3], "ratings.v2", 3, 1);
  set_offset(&fx->offsets[4], longest, -1, -1);
  fx->meta =
      (sr_ckpt_meta_t){.dims = 64,
                       .mode = 1,
                       .users = 1000003,
                       .items = 100019,
                       .events_applied = 0x0123456789abcdefULL,
                       .created_ms = 1700000000123,
                       .seq = 42,
                       .rng_state = {1, UINT64_MAX, 0x9e3779b97f4a7c15, 7},
                       .n_offsets = 5,
                       .offsets = fx->offsets};
}

static void fill_sections(fixture_t *fx) {
  for (size_t i = 0; i < BIG_LEN; i++)
    fx->big[i] = (unsigned char)(i * 2654435761u >> 13);
  memset(fx->small, 0xab, sizeof fx->small);
  for (size_t i = 0; i < sizeof fx->mid; i++)
    fx->mid[i] = (unsigned char)i;
  fx->secs[0] = (sr_ckpt_section_t){1, fx->big, BIG_LEN};
  fx->secs[1] = (sr_ckpt_section_t){2, NULL, 0};
  fx->secs[2] = (sr_ckpt_section_t){7, fx->small, sizeof fx->small};
  fx->secs[3] = (sr_ckpt_section_t){UINT32_MAX, fx->mid, sizeof fx->mid};
}

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx || !(fx->big = malloc(BIG_LEN)))
    return -1;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/sr-test-ckpt-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  fill_meta(fx);
  fill_sections(fx);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  remove_tree(fx->dir);
  free(fx->big);
  free(fx);
  return 0;
}

/* Writes the fixture's checkpoint with seq and the sections from index
 * first on (first = 1 leaves out the big one for byte-by-byte tests). */
static void write_ckpt(fixture_t *fx, uint64_t seq, size_t first, unsigned keep,
                       char *path, size_t len) {
  char err[512] = "";
  fx->meta.seq = seq;
  sr_err_t rc = sr_ckpt_write(fx->dir, &fx->meta, fx->secs + first, 4 - first,
                              keep, path, len, err, sizeof err);
  if (rc != SR_OK)
    fail_msg("write: %s", err);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*len ? *len : 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

static void spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Offset of the first copy of needle in buf[from, len), or len. */
static size_t find(const unsigned char *buf, size_t len, size_t from,
                   const void *needle, size_t nlen) {
  for (size_t i = from; i + nlen <= len; i++)
    if (memcmp(buf + i, needle, nlen) == 0)
      return i;
  return len;
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

/* Reads path and expects want, with a message naming the file and needle. */
static void expect_read_error(const char *path, sr_err_t want,
                              const char *needle) {
  sr_ckpt_t *ckpt = (sr_ckpt_t *)1;
  char err[512] = "";
  assert_int_equal(sr_ckpt_read(path, &ckpt, err, sizeof err), want);
  assert_null(ckpt);
  assert_non_null(strstr(err, path));
  if (needle && !strstr(err, needle))
    fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void check_meta(const fixture_t *fx, const sr_ckpt_meta_t *got) {
  const sr_ckpt_meta_t *want = &fx->meta;
  assert_int_equal(got->format_version, SR_CKPT_FORMAT_VERSION);
  assert_int_equal(got->dims, want->dims);
  assert_int_equal(got->mode, want->mode);
  assert_int_equal(got->users, want->users);
  assert_int_equal(got->items, want->items);
  assert_int_equal(got->events_applied, want->events_applied);
  assert_int_equal(got->created_ms, want->created_ms);
  assert_int_equal(got->seq, want->seq);
  assert_memory_equal(got->rng_state, want->rng_state, sizeof got->rng_state);
  assert_int_equal(got->n_offsets, want->n_offsets);
  for (size_t i = 0; i < want->n_offsets; i++) {
    assert_string_equal(got->offsets[i].topic, want->offsets[i].topic);
    assert_int_equal(got->offsets[i].partition, want->offsets[i].partition);
    assert_int_equal(got->offsets[i].offset, want->offsets[i].offset);
  }
}

static void check_sections(const fixture_t *fx, const sr_ckpt_t *ckpt) {
  for (size_t i = 0; i < 4; i++) {
    uint64_t len = 99;
    const void *data = sr_ckpt_section(ckpt, fx->secs[i].id, &len);
    assert_non_null(data);
    assert_int_equal((uintptr_t)data % 64, 0);
    assert_int_equal(len, fx->secs[i].len);
    if (len)
      assert_memory_equal(data, fx->secs[i].data, len);
  }
  uint64_t len = 99;
  assert_null(sr_ckpt_section(ckpt, 3, &len));
  assert_int_equal(len, 0);
}

static void test_round_trip(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], want[PATH_MAX], err[512] = "";
  write_ckpt(fx, 42, 0, 3, path, sizeof path);
  snprintf(want, sizeof want, "%s/checkpoint-00000000000000000042.ckpt",
           fx->dir);
  assert_string_equal(path, want);
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_read(path, &ckpt, err, sizeof err), SR_OK);
  check_meta(fx, sr_ckpt_meta(ckpt));
  check_sections(fx, ckpt);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(sr_ckpt_file_size(ckpt), (uint64_t)st.st_size);
  sr_ckpt_free(ckpt);
  sr_ckpt_free(NULL);
}

static void test_round_trip_no_offsets_no_sections(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], err[512] = "";
  fx->meta.n_offsets = 0;
  fx->meta.offsets = NULL;
  assert_int_equal(sr_ckpt_write(fx->dir, &fx->meta, NULL, 0, 1, path,
                                 sizeof path, err, sizeof err),
                   SR_OK);
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_read(path, &ckpt, err, sizeof err), SR_OK);
  check_meta(fx, sr_ckpt_meta(ckpt));
  assert_null(sr_ckpt_section(ckpt, 1, NULL));
  sr_ckpt_free(ckpt);
}

static void test_parse_in_memory(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], err[512] = "";
  size_t len;
  write_ckpt(fx, 5, 1, 1, path, sizeof path);
  unsigned char *buf = slurp(path, &len);
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_parse(buf, len, "mem", &ckpt, err, sizeof err),
                   SR_OK);
  assert_int_equal(sr_ckpt_meta(ckpt)->seq, 5);
  sr_ckpt_free(ckpt);
  free(buf);
}

/* The header states the file size, so a file cut anywhere, even at a
 * section boundary, reads as truncated rather than as something else. */
static void test_truncated_at_every_cut(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], err[512];
  size_t len;
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  unsigned char *buf = slurp(path, &len);
  for (size_t cut = 0; cut < len; cut++) {
    sr_ckpt_t *ckpt = NULL;
    sr_err_t rc = sr_ckpt_parse(buf, cut, path, &ckpt, err, sizeof err);
    if (rc != SR_ERR_TRUNCATED)
      fail_msg("cut at %zu of %zu: %s", cut, len, sr_err_str(rc));
    assert_null(ckpt);
  }
  free(buf);
}

static void test_truncated_file(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  write_ckpt(fx, 1, 0, 1, path, sizeof path);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  off_t cuts[] = {st.st_size - 1, st.st_size - 64, st.st_size / 2, 200, 20, 5};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    assert_int_equal(truncate(path, cuts[i]), 0);
    expect_read_error(path, SR_ERR_TRUNCATED, NULL);
  }
}

static void test_empty_file(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/empty.ckpt", fx->dir);
  spit(path, "", 0);
  expect_read_error(path, SR_ERR_TRUNCATED, "empty");
}

static void test_missing_file(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/absent.ckpt", fx->dir);
  expect_read_error(path, SR_ERR_IO, NULL);
}

/* XORs byte at of path with x, then expects reading it to fail with want. */
static void corrupt_and_expect(const char *path, size_t at, unsigned char x,
                               sr_err_t want, const char *needle) {
  size_t len;
  unsigned char *buf = slurp(path, &len);
  assert_true(at < len);
  buf[at] ^= x;
  spit(path, buf, len);
  free(buf);
  expect_read_error(path, want, needle);
}

static void test_header_flip_is_crc(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  corrupt_and_expect(path, 16, 0x01, SR_ERR_CRC, "header");
  write_ckpt(fx, 2, 1, 1, path, sizeof path);
  corrupt_and_expect(path, 120, 0x20, SR_ERR_CRC, "header");
}

static void test_section_flip_is_crc(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  write_ckpt(fx, 1, 0, 1, path, sizeof path);
  size_t len;
  unsigned char *buf = slurp(path, &len);
  size_t at = find(buf, len, 0, fx->small, sizeof fx->small) + 5;
  assert_true(at < len);
  free(buf);
  corrupt_and_expect(path, at, 0x80, SR_ERR_CRC, "section id 7");
  write_ckpt(fx, 2, 0, 1, path, sizeof path);
  corrupt_and_expect(path, 4096 + 1000000, 0x01, SR_ERR_CRC, "section id 1");
}

static void test_bad_magic(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  corrupt_and_expect(path, 0, 'S' ^ 'X', SR_ERR_MAGIC, "magic");
  spit(path, "{\"json\": true}\n", 15);
  expect_read_error(path, SR_ERR_MAGIC, NULL);
  spit(path, "SRX", 3);
  expect_read_error(path, SR_ERR_MAGIC, NULL);
}

static void test_bad_version(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  size_t len;
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  unsigned char *buf = slurp(path, &len);
  put32(buf + 8, 7);
  spit(path, buf, len);
  free(buf);
  expect_read_error(path, SR_ERR_VERSION,
                    "format version 7, this build reads 1 to 2");
}

/* Offset of the byte-order mark in a version 2 header. */
#define BOM_AT 112

/* Sets path's byte-order mark to mark and recomputes the header CRC, as a
 * writer on a host of that order would have left it. */
static void set_mark(const char *path, const unsigned char mark[4]) {
  size_t len;
  unsigned char *buf = slurp(path, &len);
  uint32_t hlen = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 |
                  (uint32_t)buf[14] << 16 | (uint32_t)buf[15] << 24;
  memcpy(buf + BOM_AT, mark, 4);
  put32(buf + hlen - 4, sr_crc32c(0, buf, hlen - 4));
  spit(path, buf, len);
  free(buf);
}

/* Section payloads are host-order structs: a file from a host of the other
 * byte order is refused with both orders named, not loaded as garbage. */
static void test_foreign_byte_order(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  size_t len;
  unsigned char *buf = slurp(path, &len);
  uint32_t bom = 0x01020304;
  assert_memory_equal(buf + BOM_AT, &bom, 4); /* written in host order */
  free(buf);
  int little = ((const unsigned char *)&bom)[0] == 4;
  const unsigned char swapped[4] = {little ? 1 : 4, little ? 2 : 3,
                                    little ? 3 : 2, little ? 4 : 1};
  set_mark(path, swapped);
  expect_read_error(path, SR_ERR_VERSION,
                    little ? "written on a big-endian host, this host is "
                             "little-endian"
                           : "written on a little-endian host, this host is "
                             "big-endian");
  set_mark(path, (const unsigned char[4]){1, 1, 1, 1});
  expect_read_error(path, SR_ERR_CORRUPT, "byte-order mark 01 01 01 01");
}

/* The repository root: __FILE__ is <root>/tests/unit/store/test_checkpoint.c
 * because CMake compiles sources by absolute path. */
static void repo_path(char *out, size_t len, const char *rel) {
  const char *file = __FILE__;
  const char *tail = strstr(file, "tests/unit/store/test_checkpoint.c");
  if (!tail)
    fail_msg("cannot locate the repository from __FILE__ '%s'", file);
  snprintf(out, len, "%.*s%s", (int)(tail - file), file, rel);
}

/* A version 1 file, written before the byte-order mark by the previous
 * writer on a little-endian host, still loads there. */
static void test_version_1_loads(void **state) {
  (void)state;
  uint32_t bom = 0x01020304;
  if (((const unsigned char *)&bom)[0] != 4)
    skip(); /* version 1 is read as little-endian only */
  char path[PATH_MAX], err[512] = "";
  repo_path(path, sizeof path, "tests/fuzz/corpus/checkpoint/valid-small");
  sr_ckpt_t *ckpt = NULL;
  if (sr_ckpt_read(path, &ckpt, err, sizeof err) != SR_OK)
    fail_msg("%s", err);
  const sr_ckpt_meta_t *m = sr_ckpt_meta(ckpt);
  assert_int_equal(m->format_version, 1);
  assert_int_equal(m->dims, 4);
  assert_int_equal(m->users, 3);
  assert_int_equal(m->items, 2);
  assert_int_equal(m->n_offsets, 3);
  assert_string_equal(m->offsets[0].topic, "events");
  assert_int_equal(m->offsets[0].offset, 100);
  assert_string_equal(m->offsets[2].topic, "ratings");
  uint64_t len = 0;
  assert_non_null(sr_ckpt_section(ckpt, 1, &len));
  assert_int_equal(len, 48);
  sr_ckpt_free(ckpt);
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The version 1 image of a version 2 file: the same bytes without the mark.
 * Both headers pad to the same 64-byte block here, so nothing after the
 * header moves. */
static unsigned char *downgrade(const unsigned char *v2, size_t len) {
  uint32_t hlen = get32(v2 + 12);
  assert_int_equal((hlen + 63) / 64, (hlen - 4 + 63) / 64);
  unsigned char *v1 = calloc(1, len);
  assert_non_null(v1);
  memcpy(v1, v2, BOM_AT);
  memcpy(v1 + BOM_AT, v2 + BOM_AT + 4, hlen - 4 - BOM_AT - 4);
  put32(v1 + 8, 1);
  put32(v1 + 12, hlen - 4);
  put32(v1 + hlen - 8, sr_crc32c(0, v1, hlen - 8));
  size_t body = (hlen + 63) / 64 * 64;
  memcpy(v1 + body, v2 + body, len - body);
  return v1;
}

/* The previous writer's layout, offsets and sections included, loads. */
static void test_version_1_round_trip(void **state) {
  fixture_t *fx = *state;
  uint32_t bom = 0x01020304;
  if (((const unsigned char *)&bom)[0] != 4)
    skip();
  char path[PATH_MAX], err[512] = "";
  write_ckpt(fx, 1, 0, 1, path, sizeof path);
  size_t len;
  unsigned char *buf = slurp(path, &len);
  unsigned char *v1 = downgrade(buf, len);
  spit(path, v1, len);
  sr_ckpt_t *ckpt = NULL;
  if (sr_ckpt_read(path, &ckpt, err, sizeof err) != SR_OK)
    fail_msg("%s", err);
  assert_int_equal(sr_ckpt_meta(ckpt)->format_version, 1);
  sr_ckpt_meta_t got = *sr_ckpt_meta(ckpt);
  got.format_version = SR_CKPT_FORMAT_VERSION;
  check_meta(fx, &got);
  check_sections(fx, ckpt);
  sr_ckpt_free(ckpt);
  free(v1);
  free(buf);
}

/* Every byte of the file is covered by a CRC or a structural check, so no
 * single flipped byte can go unnoticed. */
static void test_every_byte_flip_rejected(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], err[512];
  size_t len;
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  unsigned char *buf = slurp(path, &len);
  for (size_t at = 0; at < len; at++) {
    sr_ckpt_t *ckpt = NULL;
    buf[at] ^= 0x10;
    sr_err_t rc = sr_ckpt_parse(buf, len, path, &ckpt, err, sizeof err);
    if (rc == SR_OK)
      fail_msg("flip at byte %zu of %zu accepted", at, len);
    buf[at] ^= 0x10;
  }
  free(buf);
}

static void test_structure_errors_are_corrupt(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  size_t len;
  write_ckpt(fx, 1, 1, 1, path, sizeof path);
  unsigned char *buf = slurp(path, &len);
  unsigned char *grown = calloc(1, len + 64);
  assert_non_null(grown);
  memcpy(grown, buf, len);
  spit(path, grown, len + 64);
  expect_read_error(path, SR_ERR_CORRUPT, "header says");
  /* Give the second section record the first one's id, CRC fixed up. */
  size_t first = find(buf, len, 64, "SECT", 4);
  size_t second = find(buf, len, first + 4, "SECT", 4);
  assert_true(second < len);
  unsigned char *rec = buf + second;
  put32(rec + 4, 2);
  put32(rec + 20, sr_crc32c(0, rec, 20));
  spit(path, buf, len);
  expect_read_error(path, SR_ERR_CORRUPT, "twice");
  free(grown);
  free(buf);
}

static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t nl = strlen(de->d_name), sl = strlen(suffix);
    n += nl >= sl && strcmp(de->d_name + nl - sl, suffix) == 0;
  }
  closedir(d);
  return n;
}

static int exists(const char *dir, uint64_t seq, const char *ext) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint-%020llu%s", dir,
           (unsigned long long)seq, ext);
  return access(path, F_OK) == 0;
}

static void test_retention_keeps_newest(void **state) {
  fixture_t *fx = *state;
  for (uint64_t seq = 1; seq <= 5; seq++)
    write_ckpt(fx, seq, 1, 3, NULL, 0);
  assert_int_equal(count_files(fx->dir, ".ckpt"), 3);
  assert_true(exists(fx->dir, 3, ".ckpt"));
  assert_true(exists(fx->dir, 5, ".ckpt"));
  assert_false(exists(fx->dir, 2, ".ckpt"));
  write_ckpt(fx, 6, 1, 0, NULL, 0);
  assert_int_equal(count_files(fx->dir, ".ckpt"), 1);
  assert_true(exists(fx->dir, 6, ".ckpt"));
}

static void test_stale_tmp_removed(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint-00000000000000000009.tmp",
           fx->dir);
  spit(path, "half", 4);
  snprintf(path, sizeof path, "%s/notes.txt", fx->dir);
  spit(path, "keep me", 7);
  write_ckpt(fx, 10, 1, 2, NULL, 0);
  assert_int_equal(count_files(fx->dir, ".tmp"), 0);
  assert_int_equal(access(path, F_OK), 0);
  assert_true(exists(fx->dir, 10, ".ckpt"));
}

static void test_write_creates_dir(void **state) {
  fixture_t *fx = *state;
  char sub[128], err[512] = "";
  snprintf(sub, sizeof sub, "%s/ckpts", fx->dir);
  fx->meta.seq = 1;
  assert_int_equal(sr_ckpt_write(sub, &fx->meta, fx->secs + 1, 3, 1, NULL, 0,
                                 err, sizeof err),
                   SR_OK);
  struct stat st;
  assert_int_equal(stat(sub, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 0777 & ~0750u, 0);
  assert_true(exists(sub, 1, ".ckpt"));
  /* Missing parents too, as the daemon's start creates them. */
  snprintf(sub, sizeof sub, "%s/a/b/ckpts", fx->dir);
  assert_int_equal(sr_ckpt_write(sub, &fx->meta, fx->secs + 1, 3, 1, NULL, 0,
                                 err, sizeof err),
                   SR_OK);
  assert_true(exists(sub, 1, ".ckpt"));
}

static void test_write_errors(void **state) {
  fixture_t *fx = *state;
  char bad[PATH_MAX], err[512] = "";
  snprintf(bad, sizeof bad, "%s/file", fx->dir);
  spit(bad, "x", 1);
  snprintf(bad, sizeof bad, "%s/file/sub", fx->dir);
  assert_int_equal(
      sr_ckpt_write(bad, &fx->meta, NULL, 0, 1, NULL, 0, err, sizeof err),
      SR_ERR_IO);
  assert_non_null(strstr(err, bad));
  sr_ckpt_section_t dup[2] = {{4, "a", 1}, {4, "b", 1}};
  assert_int_equal(
      sr_ckpt_write(fx->dir, &fx->meta, dup, 2, 1, NULL, 0, err, sizeof err),
      SR_ERR_INVALID);
  fx->offsets[1].topic[0] = '\0';
  assert_int_equal(
      sr_ckpt_write(fx->dir, &fx->meta, NULL, 0, 1, NULL, 0, err, sizeof err),
      SR_ERR_INVALID);
  assert_int_equal(count_files(fx->dir, ".ckpt"), 0);
}

typedef struct skips {
  int n;
  char path[PATH_MAX];
  sr_err_t err;
} skips_t;

static void on_skip(void *opaque, const char *path, sr_err_t err,
                    const char *why) {
  skips_t *sk = opaque;
  sk->n++;
  snprintf(sk->path, sizeof sk->path, "%s", path);
  sk->err = err;
  assert_non_null(strstr(why, path));
}

static void test_load_newest_falls_back(void **state) {
  fixture_t *fx = *state;
  char newest[PATH_MAX], got[PATH_MAX], err[512] = "";
  write_ckpt(fx, 1, 1, 5, NULL, 0);
  write_ckpt(fx, 2, 1, 5, NULL, 0);
  write_ckpt(fx, 3, 1, 5, newest, sizeof newest);
  assert_int_equal(truncate(newest, 100), 0);
  skips_t sk = {0};
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_load_newest(fx->dir, &ckpt, got, sizeof got, on_skip,
                                       &sk, err, sizeof err),
                   SR_OK);
  assert_int_equal(sr_ckpt_meta(ckpt)->seq, 2);
  assert_non_null(strstr(got, "checkpoint-00000000000000000002.ckpt"));
  assert_int_equal(sk.n, 1);
  assert_string_equal(sk.path, newest);
  assert_int_equal(sk.err, SR_ERR_TRUNCATED);
  sr_ckpt_free(ckpt);
}

/* A checkpoint from a host of the other byte order is skipped like any
 * unreadable one, and an older one of this host's order restored. */
static void test_load_newest_skips_foreign_order(void **state) {
  fixture_t *fx = *state;
  char newest[PATH_MAX], err[512] = "";
  write_ckpt(fx, 1, 1, 5, NULL, 0);
  write_ckpt(fx, 2, 1, 5, newest, sizeof newest);
  uint32_t bom = 0x01020304;
  unsigned char swapped[4];
  for (int i = 0; i < 4; i++)
    swapped[i] = ((const unsigned char *)&bom)[3 - i];
  set_mark(newest, swapped);
  skips_t sk = {0};
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_load_newest(fx->dir, &ckpt, NULL, 0, on_skip, &sk,
                                       err, sizeof err),
                   SR_OK);
  assert_int_equal(sr_ckpt_meta(ckpt)->seq, 1);
  assert_int_equal(sk.n, 1);
  assert_string_equal(sk.path, newest);
  assert_int_equal(sk.err, SR_ERR_VERSION);
  sr_ckpt_free(ckpt);
}

static void test_load_newest_none_verifies(void **state) {
  fixture_t *fx = *state;
  char path[PATH_MAX], err[512] = "";
  write_ckpt(fx, 8, 1, 5, path, sizeof path);
  corrupt_and_expect(path, 0, 0xff, SR_ERR_MAGIC, NULL);
  skips_t sk = {0};
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(sr_ckpt_load_newest(fx->dir, &ckpt, NULL, 0, on_skip, &sk,
                                       err, sizeof err),
                   SR_ERR_MAGIC);
  assert_null(ckpt);
  assert_int_equal(sk.n, 0);
  assert_non_null(strstr(err, path));
}

static void test_load_newest_not_found(void **state) {
  fixture_t *fx = *state;
  char missing[PATH_MAX], err[512] = "";
  sr_ckpt_t *ckpt = NULL;
  assert_int_equal(
      sr_ckpt_load_newest(fx->dir, &ckpt, NULL, 0, NULL, NULL, err, sizeof err),
      SR_ERR_NOT_FOUND);
  assert_non_null(strstr(err, fx->dir));
  snprintf(missing, sizeof missing, "%s/nope", fx->dir);
  assert_int_equal(
      sr_ckpt_load_newest(missing, &ckpt, NULL, 0, NULL, NULL, err, sizeof err),
      SR_ERR_NOT_FOUND);
  assert_null(ckpt);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_round_trip),
      T(test_round_trip_no_offsets_no_sections),
      T(test_parse_in_memory),
      T(test_truncated_at_every_cut),
      T(test_truncated_file),
      T(test_empty_file),
      T(test_missing_file),
      T(test_header_flip_is_crc),
      T(test_section_flip_is_crc),
      T(test_bad_magic),
      T(test_bad_version),
      T(test_foreign_byte_order),
      T(test_version_1_loads),
      T(test_version_1_round_trip),
      T(test_every_byte_flip_rejected),
      T(test_structure_errors_are_corrupt),
      T(test_retention_keeps_newest),
      T(test_stale_tmp_removed),
      T(test_write_creates_dir),
      T(test_write_errors),
      T(test_load_newest_falls_back),
      T(test_load_newest_skips_foreign_order),
      T(test_load_newest_none_verifies),
      T(test_load_newest_not_found),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
