/* The model's settings table: the only place the default and range of each
 * model.* option are written. sr_model_conf_init and sr_model_conf_check
 * (streamrec/model.h) walk it, and the daemon's option table loads it into
 * its model struct. Constant data: any thread. */
#ifndef SR_CORE_MODEL_CONF_H
#define SR_CORE_MODEL_CONF_H

#include "streamrec/model.h"
#include "util/opts.h"

#include <stddef.h>

/* The rows of the model's settings, offsets in sr_model_conf_t, in the
 * order the option reference lists them; *n receives their count. */
const sr_opt_t *sr_model_params(size_t *n);

#endif
