/* Snapshot <-> checkpoint glue; see model_store.h. */
#include "store/model_store.h"

#include "core/model_state.h"
#include "util/offset.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* At most this many sections of the daemon's own per checkpoint. */
#define MAX_EXTRA 4

sr_err_t sr_store_write(const char *dir, const sr_model_snapshot_t *snap,
                        const sr_offset_t *offsets, size_t n_offsets,
                        const char *cluster_id, uint64_t seq,
                        int64_t created_ms, unsigned keep, char *path_out,
                        size_t path_len, char *errstr, size_t errlen) {
  return sr_store_write_with(dir, snap, offsets, n_offsets, cluster_id, NULL, 0,
                             seq, created_ms, keep, path_out, path_len, errstr,
                             errlen);
}

sr_err_t sr_store_write_with(const char *dir, const sr_model_snapshot_t *snap,
                             const sr_offset_t *offsets, size_t n_offsets,
                             const char *cluster_id,
                             const sr_ckpt_section_t *extra, size_t n_extra,
                             uint64_t seq, int64_t created_ms, unsigned keep,
                             char *path_out, size_t path_len, char *errstr,
                             size_t errlen) {
  assert(n_extra <= MAX_EXTRA);
  sr_ckpt_meta_t meta = {
      .dims = snap->dims,
      .mode = snap->mode,
      .users = snap->users,
      .items = snap->items,
      .events_applied = snap->events_applied,
      .created_ms = created_ms,
      .seq = seq,
      .n_offsets = n_offsets,
      .offsets = (sr_offset_t *)offsets,
  };
  sr_ckpt_section_t secs[SR_MODEL_MAX_SECTIONS + 1 + MAX_EXTRA];
  size_t n = 0;
  memcpy(meta.rng_state, snap->rng_state, sizeof(meta.rng_state));
  for (size_t k = 0; k < snap->n_sections; k++)
    secs[n++] = (sr_ckpt_section_t){
        snap->sections[k].id, snap->sections[k].data, snap->sections[k].len};
  if (cluster_id && cluster_id[0])
    secs[n++] = (sr_ckpt_section_t){SR_STORE_SEC_CLUSTER, cluster_id,
                                    strnlen(cluster_id, SR_STORE_CLUSTER_MAX)};
  for (size_t k = 0; k < n_extra; k++) {
    assert(extra[k].id != SR_STORE_SEC_CLUSTER &&
           !sr_model_section_name(extra[k].id));
    secs[n++] = extra[k];
  }
  return sr_ckpt_write(dir, &meta, secs, n, keep, path_out, path_len, errstr,
                       errlen);
}

void sr_store_cluster_id(const sr_ckpt_t *ckpt, char *out, size_t len) {
  uint64_t n = 0;
  const char *id = sr_ckpt_section(ckpt, SR_STORE_SEC_CLUSTER, &n);
  if (!id || n > SR_STORE_CLUSTER_MAX)
    n = 0;
  snprintf(out, len, "%.*s", (int)n, id ? id : "");
}

void sr_store_view(const sr_ckpt_t *ckpt, sr_model_snapshot_t *view) {
  const sr_ckpt_meta_t *meta = sr_ckpt_meta(ckpt);
  memset(view, 0, sizeof(*view));
  view->dims = meta->dims;
  view->mode = meta->mode;
  view->users = meta->users;
  view->items = meta->items;
  view->events_applied = meta->events_applied;
  memcpy(view->rng_state, meta->rng_state, sizeof(view->rng_state));
  /* The model's sections in its own order, as sr_model_snapshot lays them
   * out, so digests of a file and of the model it came from agree. */
  for (size_t k = 0; k < sr_model_section_count(); k++) {
    uint32_t id = sr_model_section_id(k);
    uint64_t len;
    const void *data = sr_ckpt_section(ckpt, id, &len);
    if (data)
      view->sections[view->n_sections++] =
          (sr_model_section_t){id, (void *)data, len};
  }
}

sr_err_t sr_store_restore(const sr_model_conf_t *conf, const sr_ckpt_t *ckpt,
                          sr_model_t **out, char *errstr, size_t errlen) {
  sr_model_snapshot_t view;
  sr_store_view(ckpt, &view);
  return sr_model_restore(conf, &view, out, errstr, errlen);
}
