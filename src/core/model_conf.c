/* The model's settings: defaults and checks; see
 * include/streamrec/model.h. */
#include "streamrec/model.h"

#include "util/err.h"

#include <math.h>
#include <string.h>

void sr_model_conf_init(sr_model_conf_t *conf) {
  static const float weights[SR_EV__COUNT] = {0, 0.5f, 1, 2, 3, 2, 1, 1};
  memset(conf, 0, sizeof(*conf));
  conf->dims = 32;
  conf->mode = SR_MODE_IMPLICIT;
  conf->learn_rate = 0.3f;
  conf->reg = 0.01f;
  conf->init_std = 0.1f;
  conf->negatives = 4;
  conf->neg_weight = 1.0f;
  memcpy(conf->weights, weights, sizeof(weights));
  conf->bias_learn_rate = 0.01f;
  conf->bias_reg = 0.01f;
  conf->pop_blend = 0.2f;
  conf->pop_half_life = 1000;
  conf->recent_size = 1000;
  conf->seen_size = 256;
  conf->min_user_events = 1;
  conf->seed = 42;
}

sr_err_t sr_model_conf_check(const sr_model_conf_t *conf, char *errstr,
                             size_t errlen) {
  if (conf->dims == 0 || conf->dims > 1024)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.dims is %u, must be 1..1024", conf->dims);
  if (conf->recent_size == 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.recent_size must be at least 1");
  if (!(conf->learn_rate > 0) || !isfinite(conf->learn_rate))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "model.learn_rate must be a positive number");
  return SR_OK;
}
