/* The model's borrowed index and its scratch; see retrieve.h. */
#include "core/retrieve.h"

#include "core/ann.h"

#include <stdlib.h>
#include <string.h>

static size_t rows_bytes(const sr_ann_t *ann) {
  (void)ann;
  return (size_t)CHUNK * SR_ANN_MAX_WANT * sizeof(uint32_t);
}

sr_err_t sr_model_set_ann(sr_model_t *mdl, struct sr_ann *ann, uint32_t probe) {
  if (ann && (sr_ann_max_batch(ann) < CHUNK ||
              sr_ann_max_want(ann) != SR_ANN_MAX_WANT))
    return SR_ERR_INVALID;
  if (ann && !mdl->ann_rows) {
    mdl->ann_rows = sr_model_mem_alloc(mdl, rows_bytes(ann), 0);
    if (!mdl->ann_rows)
      return SR_ERR_NOMEM;
  }
  mdl->ann = ann;
  mdl->ann_probe = probe;
  return SR_OK;
}

int sr_retrieve_reserve(sr_model_t *mdl, size_t n) {
  if (n <= mdl->ann_cand_cap)
    return 0;
  size_t cap = n + n / 2;
  sr_scored_t *cand = sr_model_mem_alloc(mdl, cap * sizeof(*cand), 0);
  if (!cand)
    return -1;
  sr_model_mem_free(mdl, mdl->ann_cand, mdl->ann_cand_cap * sizeof(*cand));
  mdl->ann_cand = cand;
  mdl->ann_cand_cap = cap;
  return 0;
}

void sr_retrieve_free(sr_model_t *mdl) {
  if (mdl->ann_rows)
    sr_model_mem_free(mdl, mdl->ann_rows, rows_bytes(mdl->ann));
  if (mdl->ann_cand)
    sr_model_mem_free(mdl, mdl->ann_cand,
                      mdl->ann_cand_cap * sizeof(*mdl->ann_cand));
  mdl->ann_rows = NULL;
  mdl->ann_cand = NULL;
  mdl->ann_cand_cap = 0;
  mdl->ann = NULL;
}

void sr_model_items_copy(const sr_model_t *mdl, uint32_t lo, uint32_t hi,
                         float *fac, float *bias, uint8_t *skip) {
  size_t stride = mdl->ifac.stride;
  memcpy(fac, sr_factors_row(&mdl->ifac, lo),
         (size_t)(hi - lo) * stride * sizeof(float));
  for (uint32_t r = lo; r < hi; r++)
    bias[r - lo] = mdl->bias ? mdl->bias[r] : 0.0f;
  /* A free row's factors are zero, and it is on the free stack; walking
   * the stack per slice would cost its length each time, so the zero row
   * and the take-down flag mark the rows to skip. A trained item's row is
   * never all zero. */
  for (uint32_t r = lo; r < hi; r++) {
    const float *v = sr_factors_row(&mdl->ifac, r);
    int zero = 1;
    for (uint32_t k = 0; k < mdl->ifac.dims && zero; k++)
      zero = v[k] == 0.0f;
    skip[r - lo] = zero || (mdl->idown && mdl->idown[r]);
  }
}

uint32_t sr_model_sample_users(const sr_model_t *mdl, uint32_t n, uint64_t seed,
                               float *out) {
  uint32_t users = sr_idmap_count(mdl->users), got = 0;
  size_t stride = mdl->ufac.stride;
  sr_rng_t rng;
  sr_rng_seed(&rng, seed);
  /* A few draws per user wanted: most rows are warm in a busy model, and a
   * short sample of a cold one is enough. */
  for (uint32_t k = 0; users && got < n && k < 4 * n; k++) {
    uint32_t r = sr_rng_below(&rng, users);
    if (mdl->uevents[r] < mdl->conf.min_user_events)
      continue;
    memcpy(out + (size_t)got++ * stride, sr_factors_row(&mdl->ufac, r),
           stride * sizeof(float));
  }
  return got;
}

uint32_t sr_model_item_stride(const sr_model_t *mdl) {
  return mdl->ifac.stride;
}

uint32_t sr_model_dims(const sr_model_t *mdl) {
  return mdl->ifac.dims;
}

void sr_model_ann_stats(const sr_model_t *mdl, sr_model_ann_stats_t *out) {
  *out = mdl->ann_stats;
}

struct sr_ann *sr_model_build_ann(const sr_model_t *mdl) {
  uint32_t items = sr_idmap_count(mdl->items);
  sr_factors_t snap;
  sr_factors_init(&snap, mdl->ifac.dims);
  float *bias = malloc((size_t)items * sizeof(float) + 1);
  uint8_t *skip = malloc((size_t)items + 1);
  sr_ann_t *ann = NULL;
  if (sr_factors_resize(&snap, items) == 0 && bias && skip) {
    if (items)
      sr_model_items_copy(mdl, 0, items, snap.data, bias, skip);
    sr_ann_conf_t conf;
    sr_ann_conf_init(&conf);
    ann = sr_ann_build(&snap, bias, skip, &conf);
  }
  sr_factors_free(&snap);
  free(bias);
  free(skip);
  return ann;
}
