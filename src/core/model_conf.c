/* The model's settings: one table of defaults and ranges, which
 * sr_model_conf_init and sr_model_conf_check walk and the daemon's option
 * table loads; see model_conf.h and include/streamrec/model.h. */
#include "core/model_conf.h"

#include <stddef.h>
#include <string.h>

#define U32(...) SR_OPT_ROW_U32(sr_model_conf_t, __VA_ARGS__)
#define U64(...) SR_OPT_ROW_U64(sr_model_conf_t, __VA_ARGS__)
#define F32(...) SR_OPT_ROW_F32(sr_model_conf_t, __VA_ARGS__)
#define ENUM(...) SR_OPT_ROW_ENUM(sr_model_conf_t, __VA_ARGS__)

static const sr_opt_t params[] = {
    U32("model.dims", dims, "32", 1, 1024, "latent factors per user and item"),
    ENUM("model.mode", mode, "implicit", "implicit|explicit",
         "implicit: ISGD on all events; explicit: biased MF on RATING values"),
    F32("model.learn_rate", learn_rate, "0.3", 1e-6, 10, "SGD step size"),
    F32("model.reg", reg, "0.01", 0, 10, "L2 regularisation of factors"),
    F32("model.init_std", init_std, "0.1", 0, 10,
        "spread of new rows' random factors"),
    U32("model.negatives", negatives, "4", 0, 64,
        "negatives sampled from recent traffic per positive event"),
    F32("model.neg_weight", neg_weight, "1", 0, 100,
        "weight of a sampled negative"),
    F32("model.weight.view", weights[SR_EV_VIEW], "0.5", 0, 100,
        "weight of a VIEW event"),
    F32("model.weight.click", weights[SR_EV_CLICK], "1", 0, 100,
        "weight of a CLICK event"),
    F32("model.weight.add_to_cart", weights[SR_EV_ADD_TO_CART], "2", 0, 100,
        "weight of an ADD_TO_CART event"),
    F32("model.weight.purchase", weights[SR_EV_PURCHASE], "3", 0, 100,
        "weight of a PURCHASE event"),
    F32("model.weight.like", weights[SR_EV_LIKE], "2", 0, 100,
        "weight of a LIKE event"),
    F32("model.weight.dislike", weights[SR_EV_DISLIKE], "1", 0, 100,
        "weight of a DISLIKE (trained towards 0)"),
    F32("model.weight.rating", weights[SR_EV_RATING], "1", 0, 100,
        "weight of a RATING event in implicit mode"),
    F32("model.bias_learn_rate", bias_learn_rate, "0.01", 0, 10,
        "explicit mode: step size of biases"),
    F32("model.bias_reg", bias_reg, "0.01", 0, 10,
        "explicit mode: L2 of biases"),
    F32("model.pop_blend", pop_blend, "0.2", 0, 100,
        "weight of log decayed popularity added to personal scores"),
    F32("model.pop_half_life", pop_half_life, "1000", 0, 1e12,
        "events after which a popularity count halves (0: never)"),
    F32("model.pop_half_life_ms", pop_half_life_ms, "0", 0, 1e12,
        "ms of the events' own timestamps after which a popularity count "
        "halves, beside model.pop_half_life (0: none)"),
    U32("model.recent_size", recent_size, "1000", 1, 100000000,
        "recent item events negatives are drawn from"),
    U32("model.seen_size", seen_size, "256", 0, 1000000,
        "items per user excluded from its list (0: all)"),
    U32("model.cooc_neighbours", cooc_neighbours, "64", 1, 1024,
        "co-occurrence: neighbours kept per item (memory: 8 bytes each)"),
    U32("model.cooc_history", cooc_history, "10", 0, 1000,
        "co-occurrence: previous items of the user an event is paired with"),
    F32("model.cooc_gap_decay", cooc_gap_decay, "0.95", 0, 1,
        "co-occurrence: weight of a pair gap items apart is this^(gap - 1)"),
    F32("model.cooc_half_life", cooc_half_life, "20000", 0, 1e12,
        "co-occurrence: events after which a count halves (0: never)"),
    F32("model.cooc_alpha", cooc_alpha, "0.5", 0, 1,
        "co-occurrence: sim(i, j) = C[i,j] / (N_i^alpha * N_j^beta), i the "
        "user's item (model.blend fixed)"),
    F32("model.cooc_beta", cooc_beta, "0.5", 0, 1,
        "co-occurrence: exponent of the candidate's count in sim (model.blend "
        "fixed)"),
    U32("model.cooc_recent", cooc_recent, "10", 1, 100,
        "co-occurrence: latest items of a user its scores come from"),
    F32("model.cooc_recent_decay", cooc_recent_decay, "0.75", 0, 1,
        "co-occurrence: weight of the a-th latest item is this^a"),
    /* With model.blend fixed only. 0 there is the model without
     * co-occurrence, which learns about twice as fast. */
    F32("model.cooc_weight", cooc_weight, "0", 0, 100,
        "model.blend fixed: weight of the co-occurrence score (best item 1) "
        "added to personal scores (0: no co-occurrence model; 0.3 measured "
        "best on four streams, at about half the learning speed)"),
    /* Auto by default: the best blend differs by stream (MovieTweetings
     * wants beta 0, streams with long histories beta 0.5 and more weight
     * on co-occurrence), and the choice lands within 0.001 of the best
     * fixed blend on every stream measured. */
    ENUM("model.blend", blend, "auto", "fixed|auto",
         "fixed: blend co-occurrence by model.cooc_weight, cooc_alpha and "
         "cooc_beta; auto: choose online among 6 blends (2 normalisations x "
         "co-occurrence weights 0.3, 1, 3), by hits on sampled events"),
    /* One in 16 with a half-life of 1000 tests (16 000 events, as one in 8
     * with 2000 had): a trial costs a ranking of about a thousand
     * candidates, and one in 8 took a fifth of the learning time for
     * recall within 0.0005 of it on four streams. */
    U32("model.blend_sample", blend_sample, "16", 1, 1000000,
        "auto blend: one event in this many is tested against every blend "
        "(one in 2 for the first 4000 tested, a quarter as many from 8000 "
        "tested on)"),
    F32("model.blend_half_life", blend_half_life, "1000", 0, 1e12,
        "auto blend: tested events after which a blend's hit count halves "
        "(0: never)"),
    U32("model.blend_n", blend_n, "10", 1, 1000,
        "auto blend: list length in which a tested event's item is a hit"),
    U32("model.cold_item_events", cold_item_events, "3", 0, 1000000,
        "content: an item with content keeps a blend of its content factor "
        "and what it learned until it has this many events (0: no blend)"),
    F32("model.content_learn_rate", content_learn_rate, "0.8", 0, 1,
        "content: step of the learner mapping features and embeddings to "
        "item factors (the share of the error one step takes off an "
        "item's content factor)"),
    U32("model.content_budget", content_budget, "2048", 0, 100000000,
        "content: multiply-adds the content learner may spend per event on "
        "an item with content, on average (a learning step costs 2 x "
        "(features + embedding length + 1) x dims, a refresh half that)"),
    U32("model.content_buckets", content_buckets, "16384", 1, 16777216,
        "content: rows feature tokens are hashed to (memory: dims x 4 bytes "
        "each)"),
    F32("model.content_prior", content_prior, "0", 0, 1000000,
        "content: popularity, in events, of an item with content and no "
        "interactions yet (0: none, it waits for its first event)"),
    /* 0.2 measured best of 0.1 .. 0.5 over the generated streams and
     * MovieTweetings (README, item content); 0.5 lowered MovieTweetings'
     * cold-item recall below that without content at the default seed. */
    F32("model.content_user_pull", content_user_pull, "0.2", 0, 1,
        "content: how far a user's first event moves its factor towards the "
        "item's content factor (less for each later event, none from "
        "model.cold_item_events on)"),
    U32("model.content_refresh", content_refresh, "1", 0, 1024,
        "content: cold items whose content factor is brought up to date, "
        "and their factor blended with it, per event, at most (each waits "
        "for the budget's refresh half)"),
    U32("model.content_sketch", content_sketch, "64", 0, 65536,
        "content: an embedding longer than this is reduced to this many "
        "floats by a fixed random +-1 projection, the same on every "
        "instance, before the content learner sees it (a learning step on a "
        "384-float embedding then costs a sixth, and the budget buys six "
        "times as many); 0: every float is learned. A model keeps the "
        "choice it made at its first embedding"),
    /* Unbounded: the popularity baseline of eval sets it to the most a
     * uint holds, so every user gets the popularity list. */
    U32("model.min_user_events", min_user_events, "1", 0, 4294967295.0,
        "users with fewer events get the popularity list"),
    /* The bound keeps the seed within int64, as JSON integers are. */
    U64("model.seed", seed, "42", 0, 9.2e18,
        "RNG seed: initial factors and negative sampling"),
    U32("model.max_users", max_users, "0", 0, 4294967295.0,
        "users kept; a new user beyond evicts the least recently active (0: "
        "unbounded)"),
    U32("model.max_items", max_items, "0", 0, 4294967295.0,
        "items kept; a new item beyond evicts the least recently active (0: "
        "unbounded)"),
    U32("model.idle_ttl_s", idle_ttl_s, "0", 0, 4294967295.0,
        "users and items idle this long in event time are evicted, at most 8 "
        "of each per event (0: never); event time is the median of the last "
        "31 event timestamps, so a few far-off stamps cannot move it"),
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

/* An enum field is stored as an int-sized index. */
_Static_assert(sizeof(sr_mode_t) == sizeof(uint32_t), "sr_mode_t size");
_Static_assert(sizeof(sr_blend_mode_t) == sizeof(uint32_t),
               "sr_blend_mode_t size");

static const sr_opt_table_t table = {params, N_PARAMS, 0};
static const sr_opts_t opts = {&table, 1, NULL};

const sr_opt_t *sr_model_params(size_t *n) {
  *n = N_PARAMS;
  return params;
}

void sr_model_conf_init(sr_model_conf_t *conf) {
  memset(conf, 0, sizeof(*conf));
  sr_opts_defaults(&opts, conf);
}

sr_err_t sr_model_conf_check(const sr_model_conf_t *conf, char *errstr,
                             size_t errlen) {
  return sr_opts_check(&opts, conf, errstr, errlen);
}
