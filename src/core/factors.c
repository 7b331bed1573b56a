/* Factor matrices; see factors.h. */
#include "core/factors.h"

#include "core/pages.h"

#include <string.h>

void sr_factors_init(sr_factors_t *fac, uint32_t dims) {
  memset(fac, 0, sizeof(*fac));
  fac->dims = dims;
  fac->stride = (dims + 15) & ~15u;
}

static size_t bytes_of(const sr_factors_t *fac, uint32_t rows) {
  return (size_t)rows * fac->stride * sizeof(float);
}

void sr_factors_free(sr_factors_t *fac) {
  sr_pages_free(fac->data, bytes_of(fac, fac->cap));
  fac->data = NULL;
  fac->rows = fac->cap = 0;
}

int sr_factors_reserve(sr_factors_t *fac, uint32_t cap) {
  if (cap <= fac->cap)
    return 0;
  /* Fresh pages come zeroed; the old block goes back whole. */
  float *data = sr_pages_alloc(bytes_of(fac, cap));
  if (!data)
    return -1;
  if (fac->rows)
    memcpy(data, fac->data, bytes_of(fac, fac->rows));
  sr_pages_free(fac->data, bytes_of(fac, fac->cap));
  fac->data = data;
  fac->cap = cap;
  return 0;
}

/* Room for rows rows, doubling, for callers that add one row at a time. */
static int reserve(sr_factors_t *fac, uint32_t rows) {
  if (rows <= fac->cap)
    return 0;
  uint32_t cap = fac->cap ? fac->cap : 256;
  while (cap < rows)
    cap = cap < (1u << 30) ? cap * 2 : rows;
  return sr_factors_reserve(fac, cap);
}

void sr_factors_fill(sr_factors_t *fac, uint32_t r, sr_rng_t *rng,
                     float scale) {
  float *row = sr_factors_row(fac, r);
  for (uint32_t f = 0; f < fac->dims; f++)
    row[f] = scale * sr_rng_sym(rng);
}

void sr_factors_zero(sr_factors_t *fac, uint32_t r) {
  memset(sr_factors_row(fac, r), 0, (size_t)fac->stride * sizeof(float));
}

int64_t sr_factors_add(sr_factors_t *fac, sr_rng_t *rng, float scale) {
  if (reserve(fac, fac->rows + 1) != 0)
    return -1;
  sr_factors_fill(fac, fac->rows, rng, scale);
  return fac->rows++;
}

int sr_factors_resize(sr_factors_t *fac, uint32_t rows) {
  if (reserve(fac, rows) != 0)
    return -1;
  fac->rows = rows;
  return 0;
}
