/* Growable row-major float matrices with 64-byte aligned rows. Row stride is
 * dims rounded up to 16 floats; padding stays zero. Single-threaded. */
#ifndef SR_FACTORS_H
#define SR_FACTORS_H

#include "core/rng.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sr_factors {
  float *data;
  uint32_t rows;   /* rows in use */
  uint32_t cap;    /* rows allocated */
  uint32_t dims;   /* columns in use */
  uint32_t stride; /* floats between rows */
} sr_factors_t;

/* Sets up an empty matrix of dims columns. */
void sr_factors_init(sr_factors_t *fac, uint32_t dims);

/* Releases the storage. */
void sr_factors_free(sr_factors_t *fac);

/* Appends one row filled with uniform values in [-scale, scale) from rng.
 * Returns the row, or -1 when out of memory. */
int64_t sr_factors_add(sr_factors_t *fac, sr_rng_t *rng, float scale);

/* Makes room for cap rows exactly (never shrinks); rows beyond those in use
 * are zero. Returns 0 or -1. */
int sr_factors_reserve(sr_factors_t *fac, uint32_t cap);

/* Refills row r (in use) with fresh values, drawn as sr_factors_add draws
 * them: a reused row starts like a new one. */
void sr_factors_fill(sr_factors_t *fac, uint32_t r, sr_rng_t *rng, float scale);

/* Zeroes row r (a row whose id left), so copies of free rows are equal. */
void sr_factors_zero(sr_factors_t *fac, uint32_t r);

/* Makes rows rows available (zeroed), for restoring. Returns 0 or -1. */
int sr_factors_resize(sr_factors_t *fac, uint32_t rows);

/* Pointer to row r. */
static inline float *sr_factors_row(const sr_factors_t *fac, uint32_t r) {
  return fac->data + (size_t)r * fac->stride;
}

/* Asks the cache for row r ahead of its use, a 64-byte line at a time: the
 * rows an event updates are scattered over a matrix far larger than the
 * cache, and fetching them together overlaps their misses. */
static inline void sr_factors_prefetch(const sr_factors_t *fac, uint32_t r) {
#if defined(__GNUC__)
  const char *row = (const char *)sr_factors_row(fac, r);
  for (size_t b = 0; b < (size_t)fac->stride * sizeof(float); b += 64)
    __builtin_prefetch(row + b, 1);
#else
  (void)fac;
  (void)r;
#endif
}

/* Bytes held: the rows in use, rounded up to whole pages. Capacity beyond
 * them is mapped but never written, so the system backs it only once rows
 * are added (see core/pages.h). */
static inline uint64_t sr_factors_bytes(const sr_factors_t *fac) {
  uint64_t bytes = (uint64_t)fac->rows * fac->stride * sizeof(float);
  return (bytes + 4095) & ~(uint64_t)4095;
}

#endif
