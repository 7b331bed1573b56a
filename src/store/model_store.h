/* Glue between model snapshots and checkpoint files: write a snapshot with
 * its Kafka offsets, view a loaded checkpoint as a snapshot, restore a model
 * from it. Any thread, given exclusive use of its arguments. */
#ifndef SR_MODEL_STORE_H
#define SR_MODEL_STORE_H

#include "store/checkpoint.h"
#include "streamrec/model.h"
#include "util/offset.h"

/* Section id of the Kafka cluster id the offsets belong to (outside the
 * model's section ids, which sr_store_view reads). */
#define SR_STORE_SEC_CLUSTER 200
#define SR_STORE_CLUSTER_MAX 127
/* Section id of the daemon's record of each user's last published list
 * (its bytes are daemon/telemetry's to read and write; the model's digest
 * leaves it out, like the cluster id). */
#define SR_STORE_SEC_LISTS 201

/* Writes snap and offsets (of the Kafka cluster cluster_id; NULL or ""
 * when unknown) as checkpoint number seq into dir, keeping the newest keep
 * files. created_ms is the wall time the header records (the store reads no
 * clock: the caller passes its own). Arguments as for sr_ckpt_write. */
sr_err_t sr_store_write(const char *dir, const sr_model_snapshot_t *snap,
                        const sr_offset_t *offsets, size_t n_offsets,
                        const char *cluster_id, uint64_t seq,
                        int64_t created_ms, unsigned keep, char *path_out,
                        size_t path_len, char *errstr, size_t errlen);

/* sr_store_write with n_extra more sections beside the model's: the
 * daemon's own state, each with an id of its own above the model's and
 * other than SR_STORE_SEC_CLUSTER (SR_STORE_SEC_LISTS). */
sr_err_t sr_store_write_with(const char *dir, const sr_model_snapshot_t *snap,
                             const sr_offset_t *offsets, size_t n_offsets,
                             const char *cluster_id,
                             const sr_ckpt_section_t *extra, size_t n_extra,
                             uint64_t seq, int64_t created_ms, unsigned keep,
                             char *path_out, size_t path_len, char *errstr,
                             size_t errlen);

/* Copies the cluster id a loaded checkpoint's offsets belong to into out
 * ("" when it records none). */
void sr_store_cluster_id(const sr_ckpt_t *ckpt, char *out, size_t len);

/* Fills view with the sections of a loaded checkpoint (borrowed: valid while
 * ckpt lives; never release it). */
void sr_store_view(const sr_ckpt_t *ckpt, sr_model_snapshot_t *view);

/* Restores a model from a loaded checkpoint; errors as sr_model_restore. */
sr_err_t sr_store_restore(const sr_model_conf_t *conf, const sr_ckpt_t *ckpt,
                          sr_model_t **out, char *errstr, size_t errlen);

#endif
