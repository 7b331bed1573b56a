/* The streamrec model: id maps, factor matrices, the online learner, the
 * seen rings, decayed popularity and the top-N scorer behind one API.
 * A model is not thread-safe: one thread (the daemon's loop thread) calls
 * everything; snapshots may be written elsewhere once taken. */
#ifndef STREAMREC_MODEL_H
#define STREAMREC_MODEL_H

#include "streamrec/common.h"

#include <stdbool.h>

typedef enum sr_mode { SR_MODE_IMPLICIT = 0, SR_MODE_EXPLICIT = 1 } sr_mode_t;

/* How the blend of factors, popularity and co-occurrence is set: by the
 * model.cooc_* options, or chosen online among a built-in set. */
typedef enum sr_blend_mode {
  SR_BLEND_FIXED = 0,
  SR_BLEND_AUTO = 1
} sr_blend_mode_t;

/* Learner and scorer settings; sr_model_conf_init fills the defaults. */
typedef struct sr_model_conf {
  uint32_t dims;               /* latent factors per row */
  sr_mode_t mode;              /* implicit ISGD or explicit biased MF */
  float learn_rate;            /* SGD step for factors */
  float reg;                   /* L2 regularisation of factors */
  float init_std;              /* spread of new rows' initial factors */
  uint32_t negatives;          /* sampled negatives per positive event */
  float neg_weight;            /* weight of a sampled negative */
  float weights[SR_EV__COUNT]; /* per event type; DISLIKE's is a negative */
  float bias_learn_rate;       /* explicit mode: step for biases */
  float bias_reg;              /* explicit mode: L2 of biases */
  float pop_blend;             /* score += pop_blend * log(decayed count) */
  float pop_half_life;         /* events after which a count halves */
  float pop_half_life_ms;      /* event time (ms) after which a count halves;
                                  0 = none */
  uint32_t recent_size;        /* window of recent items negatives come from */
  uint32_t seen_size;          /* per-user excluded items kept; 0 = all */
  uint32_t min_user_events;    /* fewer events: the popularity list */
  uint64_t seed;               /* RNG seed: initial factors and sampling */
  uint32_t max_users;  /* live users kept, least recently active evicted first;
                          0 = unbounded */
  uint32_t max_items;  /* live items kept, likewise; 0 = unbounded */
  uint32_t idle_ttl_s; /* ids idle this long in event time are evicted;
                          0 = never */
  uint32_t cooc_neighbours; /* co-occurrence: neighbours kept per item */
  uint32_t cooc_history;    /* previous items an event is paired with */
  float cooc_gap_decay;     /* a pair's weight: decay^(gap - 1) */
  float cooc_half_life;     /* events after which a count halves; 0 never */
  float cooc_alpha;         /* sim = C[i,j] / (N_i^alpha N_j^beta) */
  float cooc_beta;
  uint32_t cooc_recent;    /* a user's latest items scored from */
  float cooc_recent_decay; /* weight of the a-th latest: decay^a */
  float cooc_weight;     /* score += cooc_weight * co-occurrence score (best 1);
                            0: no co-occurrence model */
  sr_blend_mode_t blend; /* fixed: the cooc_* settings; auto: chosen online */
  uint32_t blend_sample; /* auto: one event in this many is tested */
  float blend_half_life; /* auto: tested events after which a hit halves */
  uint32_t blend_n;      /* auto: list length a hit is counted in */
  uint32_t cold_item_events; /* an item with content blends its content
                                factor until it has this many events */
  float content_learn_rate;  /* step of the content learner */
  uint32_t content_budget;   /* multiply-adds per event the content
                                learner may spend, on average */
  uint32_t content_buckets;  /* rows feature tokens are hashed to */
  float content_prior;       /* popularity, in events, of a content item
                                without interactions */
  float content_user_pull;   /* a new user's lean on its items' content */
  uint32_t content_refresh;  /* cold items refreshed per learning step */
  uint32_t content_sketch;   /* longer embeddings are reduced to this many
                                floats (0: none) */
  uint32_t shared; /* 1: one of several instances sharing items (cluster
                      mode, see src/core/share.h); not an option */
} sr_model_conf_t;

typedef struct sr_model sr_model_t;

/* One scored item of a list. */
typedef struct sr_scored {
  uint32_t item; /* item row; sr_model_item_id names it */
  float score;
} sr_scored_t;

/* A copy of the whole model state as tagged byte sections, for checkpoints
 * and digests. Owns its sections when taken by sr_model_snapshot; a view
 * (sr_model_snapshot_view) borrows the model's large arrays instead, marked
 * in borrowed (bit k for section k). */
#define SR_MODEL_MAX_SECTIONS 32
typedef struct sr_model_section {
  uint32_t id;
  void *data;
  uint64_t len;
} sr_model_section_t;

typedef struct sr_model_snapshot {
  uint32_t dims;
  uint32_t mode;
  uint64_t users;
  uint64_t items;
  uint64_t events_applied;
  uint64_t rng_state[4];
  size_t n_sections;
  uint32_t borrowed;
  sr_model_section_t sections[SR_MODEL_MAX_SECTIONS];
} sr_model_snapshot_t;

/* Fills conf with every setting's default (fields without one are 0). */
void sr_model_conf_init(sr_model_conf_t *conf);

/* Checks conf against every setting's range. Returns SR_OK, or
 * SR_ERR_INVALID with errstr naming the option as the config loader does
 * ("model.dims: 0 is out of range [1, 1024]"). */
sr_err_t sr_model_conf_check(const sr_model_conf_t *conf, char *errstr,
                             size_t errlen);

/* Creates an empty model. Returns NULL with errstr on a bad conf or no
 * memory. */
sr_model_t *sr_model_new(const sr_model_conf_t *conf, char *errstr,
                         size_t errlen);

/* Frees the model. Accepts NULL. */
void sr_model_free(sr_model_t *mdl);

/* Learns from one validated event and returns the user's row in *user_row
 * (may be NULL). Returns SR_OK or SR_ERR_NOMEM.
 * Bounded memory: the model's clock is the median of the last 31 event
 * timestamps (a timestamp of 0 leaves it out) and never goes back; never
 * the wall clock, so eviction is deterministic. A few events stamped far
 * ahead or behind cannot move it; a lasting jump moves it within 16 events.
 * Ids are last active at the clock when touched. A new id arriving at
 * max_users (max_items) evicts the least recently active user (item) and
 * takes its row; after each event, up to 8 users and 8 items idle for over
 * idle_ttl_s are evicted, the rest on later events. An evicted id leaves its
 * row free (id "") until a new id takes it with fresh random factors; an id
 * that comes back starts over as new. A reused item row may stay excluded for
 * the few users whose seen rings still hold the evicted item's row, until their
 * rings roll over. */
sr_err_t sr_model_learn(sr_model_t *mdl, const sr_event_t *ev,
                        uint32_t *user_row);

/* Hints for a caller that holds the next events before it learns them:
 * most of an event's time is cache misses on rows scattered over the
 * model, and asking for them early lets them overlap the work on the
 * events before. Neither changes anything the model computes. Called with
 * the event two ahead, prefetch_ids asks for its ids' slots in the id
 * maps; called with the event one ahead, prefetch_rows finds its rows
 * (their slots cached by then) and asks for its user's factors, seen
 * items and event count and its item's factors and co-occurrence row. */
void sr_model_prefetch_ids(const sr_model_t *mdl, const sr_event_t *ev);
void sr_model_prefetch_rows(const sr_model_t *mdl, const sr_event_t *ev);

/* Row of a user or item id, or -1 when unknown. */
int64_t sr_model_find_user(const sr_model_t *mdl, const char *id, size_t len);
int64_t sr_model_find_item(const sr_model_t *mdl, const char *id, size_t len);

/* Id of a row; *len receives its length (may be NULL). NUL-terminated; ""
 * for a free row. */
const char *sr_model_user_id(const sr_model_t *mdl, uint32_t row, size_t *len);
const char *sr_model_item_id(const sr_model_t *mdl, uint32_t row, size_t *len);

/* Rows of users or items, live and free: the length of a score array and the
 * bound of row numbers. */
uint64_t sr_model_users(const sr_model_t *mdl);
uint64_t sr_model_items(const sr_model_t *mdl);
/* Ids held (rows not free after eviction). */
uint64_t sr_model_live_users(const sr_model_t *mdl);
uint64_t sr_model_live_items(const sr_model_t *mdl);
/* 1 when row holds an id, 0 when it is free (its id was evicted). */
int sr_model_user_is_live(const sr_model_t *mdl, uint32_t row);
int sr_model_item_is_live(const sr_model_t *mdl, uint32_t row);
/* Marks the item id available or taken down. A taken-down item is in no
 * list (personal, popular, similar items) until made available again; its
 * events still train the model. An unknown id taken down is created (as
 * its first event would), so the takedown holds when events come later; an
 * unknown id made available is left alone (*row -1). Eviction of the item
 * forgets the takedown. *row (may be NULL) receives the item's row.
 * Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_model_set_available(sr_model_t *mdl, const char *id, size_t len,
                                bool available, int64_t *row);
/* 1 when the item row is available (the default), 0 when taken down. */
int sr_model_item_available(const sr_model_t *mdl, uint32_t row);
/* Makes every item available, for a reader about to replay every
 * takedown from their source. */
void sr_model_make_all_available(sr_model_t *mdl);
/* Items taken down. */
uint32_t sr_model_unavailable_items(const sr_model_t *mdl);
/* The rows of the items taken down, sr_model_unavailable_items of them,
 * in no particular order; valid until the next change of availability. */
const uint32_t *sr_model_unavailable_rows(const sr_model_t *mdl);
/* Sets the content of item id: n_feat feature tokens (feat[k] of
 * feat_len[k] bytes) and an embedding of n_emb floats (NULL, 0 for none).
 * An unknown id with content is created, and starts at its content factor;
 * content equal to what the item has changes nothing, so replaying a
 * catalogue is idempotent; no features and no embedding remove the item's
 * content. Returns SR_OK, SR_ERR_INVALID when n_emb differs from the
 * length of the embeddings the model already holds, or SR_ERR_NOMEM. */
sr_err_t sr_model_set_content(sr_model_t *mdl, const char *id, size_t len,
                              const char *const *feat, const size_t *feat_len,
                              size_t n_feat, const float *emb, size_t n_emb);
/* Items that have content, and the embedding length in use (0: none yet). */
uint32_t sr_model_content_items(const sr_model_t *mdl, uint32_t *emb_dims);
/* Ids evicted since the model began (idle or over a limit), cumulative
 * across snapshots; either pointer may be NULL. */
void sr_model_evictions(const sr_model_t *mdl, uint64_t *users,
                        uint64_t *items);
/* The model's clock (ms): the largest median so far of the last 31 event
 * timestamps, 0 before any. */
int64_t sr_model_clock_ms(const sr_model_t *mdl);
uint64_t sr_model_events_applied(const sr_model_t *mdl);
/* Events learned from for this user row. */
uint32_t sr_model_user_events(const sr_model_t *mdl, uint32_t row);
/* Bytes of memory the model holds: allocated capacities of every array,
 * the id maps, seen rings, co-occurrence rows and scoring scratch. */
uint64_t sr_model_bytes(const sr_model_t *mdl);
const sr_model_conf_t *sr_model_conf(const sr_model_t *mdl);

/* One blend of factors, popularity and co-occurrence the model scores
 * with or chooses among (model.blend). */
typedef struct sr_blend_info {
  char name[64]; /* "cooc=W,alpha=A,beta=B": its co-occurrence weight and
                    normalisation, beside factors (1) and popularity
                    (model.pop_blend) */
  double hits;   /* decayed count of sampled events its list held */
  bool leader;   /* the blend lists are scored with */
} sr_blend_info_t;

/* The blends, up to max of them, into out; returns their count (1 with
 * model.blend fixed). *samples (may be NULL) receives the events tested. */
uint32_t sr_model_blends(const sr_model_t *mdl, sr_blend_info_t *out,
                         uint32_t max, uint64_t *samples);

/* Top-n lists for n_users user rows, scored together with one sgemm per
 * chunk. out holds n_users * n entries; list u is out[u*n .. u*n+counts[u]).
 * Users below min_user_events get the popularity list. Items in the user's
 * seen ring and free item rows are excluded. sources (may be NULL) says which
 * list each got. Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_model_recommend(sr_model_t *mdl, const uint32_t *user_rows,
                            size_t n_users, size_t n, sr_scored_t *out,
                            size_t *counts, sr_source_t *sources);

/* Approximate retrieval. With an index set, the lists of warm users are
 * drawn from the index's candidates (core/ann.h) plus the rows it does not
 * cover (skipped at its build, or added since) and the user's
 * co-occurrence items, all re-scored with the live factors, biases and
 * blend, and with the same exclusions as the exact lists. A user whose
 * candidates leave fewer than n items gets the exact list. */
struct sr_ann;

/* Borrows ann (NULL: exact scoring again) until the next call or
 * sr_model_free; its lists are probed probe at a time. Returns SR_OK or
 * SR_ERR_NOMEM (the model keeps its previous index). */
sr_err_t sr_model_set_ann(sr_model_t *mdl, struct sr_ann *ann, uint32_t probe);

/* Builds an index of every item row as it is now, on the calling thread
 * (core/ann.h's defaults): what an offline evaluation uses, where no loop
 * waits. NULL when out of memory. Free it with sr_ann_free after taking
 * it back (sr_model_set_ann NULL). */
struct sr_ann *sr_model_build_ann(const sr_model_t *mdl);

/* Copies item rows [lo, hi) (below sr_model_items) for an index's build:
 * their factors into fac (stride floats a row, as the model's), their
 * additive scores into bias, and 1 into skip for free or taken-down rows
 * (0 otherwise). Copying in slices keeps each copy short. */
void sr_model_items_copy(const sr_model_t *mdl, uint32_t lo, uint32_t hi,
                         float *fac, float *bias, uint8_t *skip);

/* Copies the factors of up to n warm users, drawn at random from seed,
 * into out (stride floats a row, as sr_model_item_stride): the sample an
 * index's recall is measured on. Returns how many were copied. */
uint32_t sr_model_sample_users(const sr_model_t *mdl, uint32_t n, uint64_t seed,
                               float *out);

/* Floats between item rows, and factor columns, of sr_model_items_copy. */
uint32_t sr_model_item_stride(const sr_model_t *mdl);
uint32_t sr_model_dims(const sr_model_t *mdl);

/* Counters of approximate retrieval since the model was made. */
typedef struct sr_model_ann_stats {
  uint64_t lists;      /* lists drawn from the index */
  uint64_t candidates; /* items re-scored for them */
  uint64_t scanned;    /* items the index scored to find them */
  uint64_t fallbacks;  /* lists that fell back to exact scoring */
} sr_model_ann_stats_t;
void sr_model_ann_stats(const sr_model_t *mdl, sr_model_ann_stats_t *out);

/* Scores every item for one user into scores (sr_model_items() floats):
 * personal score plus popularity blend (plus cooc_weight times the
 * co-occurrence score when set), or the popularity score for a user
 * below min_user_events; -inf for items in the user's seen ring. source (may
 * be NULL) says which. Free item rows score -inf too. Returns 0, or -1 when
 * out of memory. */
int sr_model_score_user(sr_model_t *mdl, uint32_t user_row, float *scores,
                        sr_source_t *source);

/* The 1-based rank of item_row among the scores sr_model_score_user gives
 * user_row (ties: the lower row first), or 0 when the item is excluded (a
 * -inf score) or its score is NaN: exactly as scoring every item and counting
 * those above, but most items are placed by a bound on their score without
 * their factor row being read. With max_rank > 0, a rank past max_rank is
 * reported as max_rank + 1, and counting stops soon after it is known to
 * be: what recall, NDCG and MRR at max_rank need, at a fraction of the
 * cost. For evaluation. Returns 0, or -1 when out of memory. */
int sr_model_rank_item(sr_model_t *mdl, uint32_t user_row, uint32_t item_row,
                       uint64_t max_rank, uint64_t *rank);

/* The parts of a personal score, each of which can rank items alone. */
typedef enum sr_component {
  SR_COMPONENT_FACTORS = 0,    /* the learnt affinity u.v */
  SR_COMPONENT_POPULARITY = 1, /* log decayed popularity */
  SR_COMPONENT_COOC = 2,       /* co-occurrence with the user's latest items,
                                  in the blend's normalisation */
  SR_COMPONENT__COUNT = 3
} sr_component_t;

/* Scores every item for one user by one component alone into scores
 * (sr_model_items() floats), whatever the user's events: -inf for the
 * items of the user's seen ring, free rows, items taken down, and for
 * co-occurrence, items with no co-occurrence score (no list would hold
 * them). For evaluating each part of the blend. Returns 0, or -1 when out
 * of memory. */
int sr_model_score_component(sr_model_t *mdl, uint32_t user_row,
                             sr_component_t comp, float *scores);

/* The n items most similar to item_row by cosine of their factors, the item
 * itself excluded, into out (descending). Returns the count, or 0 when out of
 * memory. For offline lookups: O(items x dims). */
size_t sr_model_similar_items(sr_model_t *mdl, uint32_t item_row, size_t n,
                              sr_scored_t *out);

/* The popularity list (decayed counts), excluding nothing. Returns count. */
size_t sr_model_popular(sr_model_t *mdl, size_t n, sr_scored_t *out);

/* Takes a full copy of the model state. Returns SR_OK or SR_ERR_NOMEM. */
sr_err_t sr_model_snapshot(const sr_model_t *mdl, sr_model_snapshot_t *snap);

/* The same sections, but the factor, bias, count and event arrays are the
 * model's own rather than copies: valid while the model is neither changed
 * nor freed (e.g. in a forked child, whose copy of the model nothing
 * changes). Only the sections built from several structures are copies. */
sr_err_t sr_model_snapshot_view(const sr_model_t *mdl,
                                sr_model_snapshot_t *snap);

/* Releases a snapshot taken by sr_model_snapshot or _view. */
void sr_model_snapshot_release(sr_model_snapshot_t *snap);

/* Rebuilds a model from snapshot sections (borrowed, e.g. from a loaded
 * checkpoint). SR_ERR_DIMS when snap's dims or mode differ from conf's (the
 * message names both values); SR_ERR_CORRUPT on inconsistent sections. */
sr_err_t sr_model_restore(const sr_model_conf_t *conf,
                          const sr_model_snapshot_t *snap, sr_model_t **out,
                          char *errstr, size_t errlen);

/* 64-bit hash over all model state: equal for bit-identical models. */
uint64_t sr_model_digest(const sr_model_t *mdl);

/* Digest of a snapshot; equals sr_model_digest of the model it came from. */
uint64_t sr_model_snapshot_digest(const sr_model_snapshot_t *snap);

#endif
