/* Checkpoint files: a header (format version, dims, counts, RNG state,
 * creation time, per-partition Kafka offsets) followed by sections, each
 * with its own CRC32C. Written crash-safely (temp file, fsync, rename, fsync
 * the directory), newest K kept. Any thread; no shared state. */
#ifndef SR_CHECKPOINT_H
#define SR_CHECKPOINT_H

#include "streamrec/common.h"
#include "util/offset.h"

/* The version written; 1 (no byte-order mark) is still read. */
#define SR_CKPT_FORMAT_VERSION 2
/* Mode of a checkpoint directory (and its parents) created when missing;
 * the files in it are 0640. */
#define SR_CKPT_DIR_MODE 0750

typedef struct sr_ckpt_meta {
  uint32_t format_version; /* set by the reader; ignored by the writer */
  uint32_t dims;
  uint32_t mode; /* 0 implicit, 1 explicit */
  uint64_t users;
  uint64_t items;
  uint64_t events_applied;
  int64_t created_ms;
  uint64_t seq; /* increasing; names the file checkpoint-<seq>.ckpt */
  uint64_t rng_state[4];
  size_t n_offsets;
  sr_offset_t *offsets; /* n_offsets entries */
} sr_ckpt_meta_t;

/* One section: an id (unique in the file) and bytes. */
typedef struct sr_ckpt_section {
  uint32_t id;
  const void *data;
  uint64_t len;
} sr_ckpt_section_t;

typedef struct sr_ckpt sr_ckpt_t;

/* Writes dir/checkpoint-<seq>.ckpt (seq zero-padded to 20 digits) through
 * dir/checkpoint-<seq>.tmp: write, fsync, rename, fsync dir; then deletes all
 * but the newest keep checkpoints and any stale .tmp files. Creates dir and
 * its parents when missing (SR_CKPT_DIR_MODE). On success the final path
 * goes to path_out (may be NULL). Returns SR_OK or SR_ERR_IO/SR_ERR_NOMEM
 * with errstr naming the file. */
sr_err_t sr_ckpt_write(const char *dir, const sr_ckpt_meta_t *meta,
                       const sr_ckpt_section_t *secs, size_t n_secs,
                       unsigned keep, char *path_out, size_t path_len,
                       char *errstr, size_t errlen);

/* Reads and fully verifies a checkpoint file. Errors, each with its own code
 * and a message naming the file: SR_ERR_IO, SR_ERR_MAGIC, SR_ERR_VERSION
 * (also for a file written on a host of the other byte order, naming both),
 * SR_ERR_TRUNCATED, SR_ERR_CRC (naming the section), SR_ERR_CORRUPT. */
sr_err_t sr_ckpt_read(const char *path, sr_ckpt_t **out, char *errstr,
                      size_t errlen);

/* Parses and fully verifies a checkpoint image held in memory (copied, so
 * data needs no alignment); name stands for the file in messages. Same
 * errors as sr_ckpt_read except SR_ERR_IO; the same parser runs in both. */
sr_err_t sr_ckpt_parse(const void *data, size_t len, const char *name,
                       sr_ckpt_t **out, char *errstr, size_t errlen);

/* The header of a loaded checkpoint. */
const sr_ckpt_meta_t *sr_ckpt_meta(const sr_ckpt_t *ckpt);

/* Section id's bytes, or NULL when absent. */
const void *sr_ckpt_section(const sr_ckpt_t *ckpt, uint32_t id, uint64_t *len);

/* Size of the whole file in bytes. */
uint64_t sr_ckpt_file_size(const sr_ckpt_t *ckpt);

/* Frees a loaded checkpoint. Accepts NULL. */
void sr_ckpt_free(sr_ckpt_t *ckpt);

/* Called for each checkpoint skipped by sr_ckpt_load_newest. */
typedef void(sr_ckpt_skip_cb)(void *opaque, const char *path, sr_err_t err,
                              const char *why);

/* Loads the newest checkpoint in dir that verifies, calling on_skip (may be
 * NULL) for each newer one that does not. Returns SR_OK with *out and
 * path_out set, SR_ERR_NOT_FOUND when dir has no checkpoint (or does not
 * exist), or the error of the oldest candidate when none verifies (that
 * last failure goes to errstr, not to on_skip, so it is reported once). */
sr_err_t sr_ckpt_load_newest(const char *dir, sr_ckpt_t **out, char *path_out,
                             size_t path_len, sr_ckpt_skip_cb *on_skip,
                             void *opaque, char *errstr, size_t errlen);

#endif
