/* CRC32C. The table serves the portable slicing-by-8 path and is built once;
 * the SSE4.2 instruction is used when the CPU has it, because checkpoints of
 * hundreds of megabytes are checksummed on every write and every load. */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */
#define CRC_LONG 8192    /* bytes per stream in one 3-way block */
#define CRC_SHORT 256

static uint32_t crc_table[8][256];
static int crc_have_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* The table code is written for little-endian words, whatever the host. */
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void crc_init_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    crc_table[0][n] = c;
  }
  for (int t = 1; t < 8; t++)
    for (uint32_t n = 0; n < 256; n++)
      crc_table[t][n] =
          (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint32_t crc_sw(uint32_t c, const unsigned char *p, size_t len) {
  for (; len >= 8; p += 8, len -= 8) {
    uint32_t lo = c ^ get32(p), hi = get32(p + 4);
    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
        crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
        crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
        crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
  }
  while (len--)
    c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
/* The crc32 instruction has a latency of about three cycles but issues one
 * per cycle, so three independent streams run about three times as fast as
 * one. Their results are joined by shifting a CRC register over the length
 * of the following stream, i.e. multiplying by x^(8*len) mod P, done with
 * four byte tables per block length (after Mark Adler's crc32c.c). */
static uint32_t crc_shift_long[4][256];
static uint32_t crc_shift_short[4][256];

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, mat++)
    if (vec & 1)
      sum ^= *mat;
  return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat) {
  for (int n = 0; n < 32; n++)
    square[n] = gf2_times(mat, mat[n]);
}

/* The operator that feeds len zero bytes (a power of two) into a CRC. */
static void zeros_op(uint32_t *even, size_t len) {
  uint32_t odd[32];
  odd[0] = POLY;
  for (int n = 1; n < 32; n++)
    odd[n] = 1u << (n - 1);
  gf2_square(even, odd); /* two zero bits */
  gf2_square(odd, even); /* four zero bits */
  for (;;) {
    gf2_square(even, odd);
    if ((len >>= 1) == 0)
      return;
    gf2_square(odd, even);
    if ((len >>= 1) == 0)
      break;
  }
  memcpy(even, odd, sizeof odd);
}

static void shift_table(uint32_t table[4][256], size_t len) {
  uint32_t op[32];
  zeros_op(op, len);
  for (uint32_t n = 0; n < 256; n++)
    for (int b = 0; b < 4; b++)
      table[b][n] = gf2_times(op, n << (8 * b));
}

static uint32_t crc_shift(uint32_t table[4][256], uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^
         table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint64_t
crc_hw3(uint64_t c0, const unsigned char *p, size_t block,
        uint32_t table[4][256]) {
  uint64_t c1 = 0, c2 = 0;
  for (size_t i = 0; i < block; i += 8) {
    uint64_t v0, v1, v2;
    memcpy(&v0, p + i, 8);
    memcpy(&v1, p + block + i, 8);
    memcpy(&v2, p + 2 * block + i, 8);
    c0 = _mm_crc32_u64(c0, v0);
    c1 = _mm_crc32_u64(c1, v1);
    c2 = _mm_crc32_u64(c2, v2);
  }
  c0 = crc_shift(table, (uint32_t)c0) ^ c1;
  return crc_shift(table, (uint32_t)c0) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *p, size_t len) {
  uint64_t c = crc;
  for (; len >= 3 * CRC_LONG; p += 3 * CRC_LONG, len -= 3 * CRC_LONG)
    c = crc_hw3(c, p, CRC_LONG, crc_shift_long);
  for (; len >= 3 * CRC_SHORT; p += 3 * CRC_SHORT, len -= 3 * CRC_SHORT)
    c = crc_hw3(c, p, CRC_SHORT, crc_shift_short);
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = (uint32_t)c;
  while (len--)
    c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

static void crc_init(void) {
  crc_init_table();
#if defined(__x86_64__)
  shift_table(crc_shift_long, CRC_LONG);
  shift_table(crc_shift_short, CRC_SHORT);
  crc_have_hw = __builtin_cpu_supports("sse4.2") != 0;
#endif
}

uint32_t sr_crc32c(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
  if (crc_have_hw)
    return ~crc_hw(~crc, data, len);
#endif
  return ~crc_sw(~crc, data, len);
}

uint32_t sr_crc32c_sw(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
  return ~crc_sw(~crc, data, len);
}

int sr_crc32c_hw_available(void) {
  pthread_once(&crc_once, crc_init);
  return crc_have_hw;
}
