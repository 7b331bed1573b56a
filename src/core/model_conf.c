/* The model's settings: one table of defaults and ranges, which
 * sr_model_conf_init and sr_model_conf_check walk and the daemon's option
 * table reuses; see include/streamrec/model.h. */
#include "streamrec/model.h"

#include "util/err.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(field) offsetof(sr_model_conf_t, field)
#define U32(n, f, d, lo, hi, h)                                                \
  { n, SR_PARAM_U32, OFF(f), d, lo, hi, NULL, h }
#define U64(n, f, d, lo, hi, h)                                                \
  { n, SR_PARAM_U64, OFF(f), d, lo, hi, NULL, h }
#define F32(n, f, d, lo, hi, h)                                                \
  { n, SR_PARAM_F32, OFF(f), d, lo, hi, NULL, h }
#define ENUM(n, f, d, c, h)                                                    \
  { n, SR_PARAM_ENUM, OFF(f), d, 0, 0, c, h }

static const sr_model_param_t params[] = {
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
    U32("model.recent_size", recent_size, "1000", 1, 100000000,
        "recent item events negatives are drawn from"),
    U32("model.seen_size", seen_size, "256", 0, 1000000,
        "items per user excluded from its list (0: all)"),
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

const sr_model_param_t *sr_model_params(size_t *n) {
  *n = N_PARAMS;
  return params;
}

/* Number of names in "a|b|c", and the index of name among them (-1 when
 * it is not one; name may be NULL). */
static int choices_count(const char *choices, const char *name, int *index) {
  size_t nlen = name ? strlen(name) : 0;
  int count = 0;
  *index = -1;
  for (const char *p = choices;; count++) {
    size_t len = strcspn(p, "|");
    if (name && *index < 0 && len == nlen && !strncmp(p, name, len))
      *index = count;
    if (!p[len])
      return count + 1;
    p += len + 1;
  }
}

/* The field of param as a number (an enum's index). */
static double get_value(const sr_model_conf_t *conf,
                        const sr_model_param_t *param) {
  const char *field = (const char *)conf + param->offset;
  uint32_t u32;
  uint64_t u64;
  float f32;
  switch (param->type) {
  case SR_PARAM_U64: memcpy(&u64, field, sizeof(u64)); return (double)u64;
  case SR_PARAM_F32: memcpy(&f32, field, sizeof(f32)); return f32;
  default: memcpy(&u32, field, sizeof(u32)); return u32;
  }
}

static void set_value(sr_model_conf_t *conf, const sr_model_param_t *param,
                      double v) {
  char *field = (char *)conf + param->offset;
  uint32_t u32 = (uint32_t)v;
  uint64_t u64 = (uint64_t)v;
  float f32 = (float)v;
  switch (param->type) {
  case SR_PARAM_U64: memcpy(field, &u64, sizeof(u64)); break;
  case SR_PARAM_F32: memcpy(field, &f32, sizeof(f32)); break;
  default: memcpy(field, &u32, sizeof(u32)); break;
  }
}

void sr_model_conf_init(sr_model_conf_t *conf) {
  memset(conf, 0, sizeof(*conf));
  for (size_t i = 0; i < N_PARAMS; i++) {
    const sr_model_param_t *param = &params[i];
    int index;
    if (param->type == SR_PARAM_ENUM)
      choices_count(param->choices, param->def, &index);
    set_value(conf, param,
              param->type == SR_PARAM_ENUM ? index : strtod(param->def, NULL));
  }
}

static sr_err_t check_param(const sr_model_conf_t *conf,
                            const sr_model_param_t *param, char *errstr,
                            size_t errlen) {
  double v = get_value(conf, param);
  if (param->type == SR_PARAM_ENUM) {
    int index;
    int count = choices_count(param->choices, NULL, &index);
    if (v >= count)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: %.0f is not the index of one of %s", param->name, v,
                     param->choices);
    return SR_OK;
  }
  double lo = param->min, hi = param->max;
  /* A float field holds the bounds as the loader stored them: 1e-6 as a
   * float is a little below 1e-6. */
  if (param->type == SR_PARAM_F32) {
    lo = (float)lo;
    hi = (float)hi;
  }
  /* Written so that NaN fails too. */
  if (!(v >= lo && v <= hi))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %.9g is out of range [%g, %g]", param->name, v,
                   param->min, param->max);
  return SR_OK;
}

sr_err_t sr_model_conf_check(const sr_model_conf_t *conf, char *errstr,
                             size_t errlen) {
  for (size_t i = 0; i < N_PARAMS; i++) {
    sr_err_t err = check_param(conf, &params[i], errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return SR_OK;
}
