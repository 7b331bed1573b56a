/* Item content inside the model: each item's feature tokens (hashed to rows
 * of a learned token table in factor space) and dense embedding (mapped into
 * factor space by a learned dims x k matrix). An item's content factor is
 *   c = (1 / sqrt(tokens)) * sum of its token rows + P^T e,
 * e the embedding scaled to unit length. Items that have interactions train
 * the tables online towards their collaborative factor (normalised LMS
 * steps), in the spirit of LightFM's feature sums and of CB2CF. The learner
 * spends model.content_budget multiply-adds per event on average (learning
 * steps, and refreshes of cold items' content factors, which each item
 * keeps as last computed), so its cost per event is bounded whatever the
 * size of the content. A new item with content starts at c, and until it
 * has model.cold_item_events interactions its factor is kept a blend of c
 * and what it learned. A model in which no item ever had content allocates
 * nothing here and behaves as if the module did not exist.
 *
 * The public entry point is sr_model_set_content (streamrec/model.h); this
 * header holds what the other model modules call. Loop thread only, like
 * the rest of the model. */
#ifndef SR_CONTENT_H
#define SR_CONTENT_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

struct sr_model;

/* One item's content: n_tok token rows, then n_emb floats (unit length),
 * in one block of sr_content_size(n_tok, n_emb) bytes. Its content factor
 * as last computed is a row of sr_content_t.chunk instead, with its size
 * in words: the event path reads those of a random item on every event
 * and of the refresh's rows in turn, which dense rows keep to a few cache
 * lines, where the block is cold and kilobytes long. */
typedef struct sr_content_item {
  uint32_t n_tok;
  uint32_t n_emb;
  uint32_t data[]; /* n_tok rows, then n_emb floats */
} sr_content_item_t;

typedef struct sr_content {
  int on;           /* some item has had content: the arrays below exist */
  uint32_t stride;  /* floats per row, the factors' stride */
  int avx2;         /* factor and step by the AVX2 kernels (content.c) */
  uint32_t buckets; /* rows of tok (model.content_buckets) */
  uint32_t dims;    /* rows of proj: the embedding length, or the reduced
                       one (sketch); 0 until the first embedding */
  uint32_t raw;     /* the embedding length items must have; 0 until the
                       first embedding */
  uint32_t rows;    /* rows of sketch: the reduced length, or 0 */
  float *sketch;    /* rows x raw +-1 matrix reducing embeddings, or NULL
                       when they are learned whole */
  float *reduced;   /* scratch: one reduced embedding (rows floats) */
  float *tok;       /* buckets x stride, or NULL until the first token */
  float *proj;      /* dims x stride, or NULL until the first embedding */
  sr_content_item_t **item; /* per item row, NULL for none */
  uint32_t *ievents;        /* per item row: interactions, capped */
  uint32_t *words;          /* per item row: n_tok + n_emb + 1, 0: none */
  float **chunk;   /* per 64 item rows: their content factors, or NULL */
  uint32_t cap;    /* item rows that item, ievents, words and chunk hold */
  uint32_t with;   /* items that have content */
  int64_t credit;  /* multiply-adds learning steps may spend */
  int64_t rcredit; /* multiply-adds refreshes may spend */
  uint32_t cursor; /* next row the refresh looks at */
  float *c;        /* scratch: one content factor */
} sr_content_t;

/* Frees everything (the model's allocator counts it). */
void sr_content_free(struct sr_model *mdl);

/* The event of user row u on item row i after its learning step: counts
 * the interaction, keeps a cold item's factor blended with its content,
 * leans a user with few events towards the content of its items, and
 * while the budget lasts trains the tables and refreshes cold items.
 * positive: the event counts as an interaction (not a dislike). Returns 0,
 * or -1 when out of memory. */
int sr_content_event(struct sr_model *mdl, uint32_t u, uint32_t i,
                     int positive);

/* The item row left the model (eviction): its content goes. */
void sr_content_forget(struct sr_model *mdl, uint32_t row);

/* Row's content factor into out (stride floats, zero when it has none).
 * Returns 1 when the item has content, else 0. */
int sr_content_factor(const struct sr_model *mdl, uint32_t row, float *out);

/* Whether the item row has content. */
int sr_content_has(const struct sr_model *mdl, uint32_t row);

/* The cold-user query: the mean content factor of the user's seen items
 * that have content, into q (stride floats). Returns how many there were
 * (0: q untouched). */
uint32_t sr_content_user_query(struct sr_model *mdl, uint32_t user, float *q);

/* Appends the content section (see content.c for its layout) to buf.
 * Returns 0 or -1. Nothing is appended when content is off. */
int sr_content_dump(const struct sr_model *mdl, sr_buf_t *buf);

/* Restores the section into a model holding items rows. Returns 0, or -1
 * with why set. */
int sr_content_load(struct sr_model *mdl, uint64_t items, const void *data,
                    uint64_t len, char *why, size_t whylen);

/* Appends the reduction's section (the embedding length and the reduced
 * one, two uint32) to buf when embeddings are reduced. Returns 0 or -1. */
int sr_content_dump_sketch(const struct sr_model *mdl, sr_buf_t *buf);

/* Restores the reduction after the content section: without one (a
 * checkpoint without reduced embeddings, or from before them) embeddings
 * are learned whole. Returns 0, or -1 with why set. */
int sr_content_load_sketch(struct sr_model *mdl, const void *data, uint64_t len,
                           char *why, size_t whylen);

/* Bytes of one item's content block. */
static inline size_t sr_content_size(uint32_t n_tok, uint32_t n_emb) {
  return sizeof(sr_content_item_t) + ((size_t)n_tok + n_emb) * 4;
}

#endif
