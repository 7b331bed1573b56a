/* The messages instances of one group exchange in cluster mode
 * (docs/scaling.md): a user's state on the state topic, and batches of item
 * deltas on the sync topic. Protobuf only: no one outside the group reads
 * them. The structs are the model's (core/share.h); a decoded one owns
 * its strings until cleared. Stateless; any thread. */
#ifndef SR_CLUSTER_CODEC_H
#define SR_CLUSTER_CODEC_H

#include "core/share.h"
#include "streamrec/common.h"
#include "util/buf.h"

#include <stdint.h>

/* Appends the protobuf encoding of st. Returns 0, or -1 when out of memory. */
int sr_user_state_encode(const sr_user_state_t *st, sr_buf_t *out);

/* Decodes a UserState whose factor row must be dims long. Ids (the user's
 * and every seen item's) must be 1..SR_ID_MAX bytes, factors finite.
 * Returns SR_OK, or SR_ERR_DECODE with errstr saying what was wrong. */
sr_err_t sr_user_state_decode(const void *data, size_t len, uint32_t dims,
                              sr_user_state_t *st, char *errstr, size_t errlen);

/* Releases what sr_user_state_decode allocated and zeroes *st. */
void sr_user_state_clear(sr_user_state_t *st);

/* How a delta's factors travel. */
typedef enum sr_delta_enc { SR_DELTA_F32 = 0, SR_DELTA_F16 = 1 } sr_delta_enc_t;

/* A batch of item deltas from one member. Borrowed or owned as above. */
typedef struct sr_item_deltas {
  const char *member_id;
  uint32_t dims;
  sr_item_delta_t *items;
  size_t n_items;
  uint64_t events; /* events the member learned since its previous batch */
  void *owned_;
} sr_item_deltas_t;

/* Appends the protobuf encoding of d, its factors as floats or as half
 * floats. Returns 0, or -1 when out of memory. */
int sr_item_deltas_encode(const sr_item_deltas_t *d, sr_delta_enc_t enc,
                          sr_buf_t *out);

/* Decodes an ItemDeltas batch of dims-long deltas (either encoding). The
 * member id and every item id must be 1..SR_ID_MAX bytes, every number
 * finite. Returns SR_OK, or SR_ERR_DECODE with errstr naming the item. */
sr_err_t sr_item_deltas_decode(const void *data, size_t len, uint32_t dims,
                               sr_item_deltas_t *d, char *errstr,
                               size_t errlen);

/* Releases what sr_item_deltas_decode allocated and zeroes *d. */
void sr_item_deltas_clear(sr_item_deltas_t *d);

#endif
