/* Start-up state: the model and offsets of the newest checkpoint in
 * checkpoint.dir that verifies, or an empty model when the directory holds
 * no checkpoint at all. A newer file that does not verify is reported
 * loudly ("checkpoint X unreadable (why); using older Y"); when none
 * verifies, start-up fails rather than silently starting from scratch.
 * Loop thread, before the loop runs. */
#ifndef SR_RESTORE_H
#define SR_RESTORE_H

#include "daemon/config.h"
#include "store/checkpoint.h"
#include "streamrec/model.h"
#include "util/offset.h"

/* What start-up restored. */
typedef struct sr_restored {
  sr_model_t *mdl;      /* owned; the caller may take it over */
  sr_offset_t *offsets; /* per partition, the next event to apply */
  size_t n_offsets;
  char cluster_id[128]; /* the Kafka cluster of the offsets, or "" */
  uint64_t next_seq;    /* number of the next checkpoint to write */
  /* The record of each user's last published list (SR_STORE_SEC_LISTS,
   * for sr_telemetry_load_lists), or NULL when the checkpoint has none. */
  void *lists;
  size_t lists_len;
} sr_restored_t;

/* Fills *out from cfg->checkpoint.dir. Returns SR_OK; SR_ERR_DIMS when the
 * checkpoint's dims or mode contradict cfg->model (errstr names both
 * values); SR_ERR_INVALID for a bad model config; another error (with
 * errstr naming the directory) when no checkpoint verifies. */
sr_err_t sr_restore_load(const sr_config_t *cfg, sr_restored_t *out,
                         char *errstr, size_t errlen);

/* Frees what *r still owns and zeroes it. */
void sr_restore_release(sr_restored_t *r);

#endif
