/* Feeds arbitrary bytes to the checkpoint parser: it must reject or accept
 * without crashing, and whatever it accepts must be internally consistent.
 * Each input is parsed twice: as given, and with every CRC the layout in
 * src/store/checkpoint.c describes recomputed, because random bytes almost
 * never carry valid checksums and the structure checks behind them would
 * otherwise go unexplored. */
#include "store/checkpoint.h"
#include "util/crc32c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t get(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRCs of one section record (and its payload when it fits)
 * at pos; returns the position after it, or size to stop. */
static size_t fix_record(uint8_t *buf, size_t size, size_t pos) {
  uint8_t *r = buf + pos;
  if (memcmp(r, "SEND", 4) == 0) {
    put32(r + 16, sr_crc32c(0, r, 16));
    return size;
  }
  uint64_t len = get(r + 8, 8);
  size_t at = pos + 64;
  if (len <= size - at)
    put32(r + 16, sr_crc32c(0, buf + at, (size_t)len));
  put32(r + 20, sr_crc32c(0, r, 20));
  if (len > size - at)
    return size;
  return at + (((size_t)len + 63) & ~(size_t)63);
}

static void fix_crcs(uint8_t *buf, size_t size) {
  if (size < 16)
    return;
  size_t hlen = (size_t)get(buf + 12, 4);
  if (hlen < 4 || hlen > size)
    return;
  put32(buf + hlen - 4, sr_crc32c(0, buf, hlen - 4));
  for (size_t pos = (hlen + 63) & ~(size_t)63; pos <= size && size - pos >= 64;)
    pos = fix_record(buf, size, pos);
}

/* Touches everything an accepted checkpoint exposes, so that a section or
 * offset pointing outside the image shows up under ASan. */
static void walk(const sr_ckpt_t *ckpt, size_t size) {
  const sr_ckpt_meta_t *meta = sr_ckpt_meta(ckpt);
  if (sr_ckpt_file_size(ckpt) != size)
    abort();
  for (size_t i = 0; i < meta->n_offsets; i++)
    if (strlen(meta->offsets[i].topic) == 0)
      abort();
  for (uint32_t id = 0; id < 8; id++) {
    uint64_t len = 0;
    const unsigned char *data = sr_ckpt_section(ckpt, id, &len);
    if (data && ((uintptr_t)data % 64 != 0 ||
                 sr_crc32c(0, data, len) != sr_crc32c_sw(0, data, len)))
      abort();
  }
}

static void parse(const uint8_t *data, size_t size) {
  sr_ckpt_t *ckpt = NULL;
  char err[256];
  if (sr_ckpt_parse(data, size, "fuzz", &ckpt, err, sizeof err) == SR_OK) {
    walk(ckpt, size);
    sr_ckpt_free(ckpt);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse(data, size);
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  fix_crcs(copy, size);
  parse(copy, size);
  free(copy);
  return 0;
}
