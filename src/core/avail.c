/* Item availability; see avail.h and streamrec/model.h. */
#include "core/avail.h"

#include <string.h>

/* Room for one more row in the list of rows taken down. */
static int reserve_down(sr_model_t *mdl) {
  if (mdl->n_down < mdl->down_cap)
    return 0;
  uint32_t cap = mdl->down_cap ? mdl->down_cap * 2 : 16;
  if (sr_model_mem_grow(mdl, (void **)&mdl->down,
                        (size_t)mdl->down_cap * sizeof(*mdl->down),
                        (size_t)cap * sizeof(*mdl->down)) != 0)
    return -1;
  mdl->down_cap = cap;
  return 0;
}

int sr_avail_set(sr_model_t *mdl, uint32_t row, bool available) {
  if (!available == (mdl->idown[row] != 0))
    return 0;
  if (!available) {
    if (reserve_down(mdl) != 0)
      return -1;
    mdl->down[mdl->n_down++] = row;
    mdl->idown[row] = 1;
    return 0;
  }
  /* Takedowns are rare and their list short: a linear search is enough. */
  for (uint32_t k = 0; k < mdl->n_down; k++) {
    if (mdl->down[k] == row) {
      mdl->down[k] = mdl->down[--mdl->n_down];
      break;
    }
  }
  mdl->idown[row] = 0;
  return 0;
}

void sr_avail_forget(sr_model_t *mdl, uint32_t row) {
  if (row < mdl->icap && mdl->idown[row])
    sr_avail_set(mdl, row, true);
}

sr_err_t sr_model_set_available(sr_model_t *mdl, const char *id, size_t len,
                                bool available, int64_t *row_out) {
  int64_t row = sr_idmap_find(mdl->items, id, len);
  /* An unknown item taken down is created, so that the takedown holds
   * when its first events arrive; an unknown one made available needs no
   * row. */
  if (row < 0 && !available)
    row = sr_model_touch_item(mdl, id, len);
  if (row_out)
    *row_out = row;
  if (row < 0)
    return available ? SR_OK : SR_ERR_NOMEM;
  return sr_avail_set(mdl, (uint32_t)row, available) == 0 ? SR_OK
                                                          : SR_ERR_NOMEM;
}

int sr_model_item_available(const sr_model_t *mdl, uint32_t row) {
  return row < mdl->icap && !mdl->idown[row];
}

void sr_model_make_all_available(sr_model_t *mdl) {
  for (uint32_t k = 0; k < mdl->n_down; k++)
    mdl->idown[mdl->down[k]] = 0;
  mdl->n_down = 0;
}

uint32_t sr_model_unavailable_items(const sr_model_t *mdl) {
  return mdl->n_down;
}

const uint32_t *sr_model_unavailable_rows(const sr_model_t *mdl) {
  return mdl->down;
}
