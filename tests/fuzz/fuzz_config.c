/* Fuzzes the configuration loader: any bytes either apply or fail with a
 * message, never crash, and a loaded config keeps its strings terminated. */
#include "daemon/config.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static sr_config_t cfg;
  char errstr[512];
  sr_config_init(&cfg);
  if (sr_config_load_json(&cfg, (const char *)data, size, "fuzz", errstr,
                          sizeof(errstr)) != SR_OK) {
    assert(memchr(errstr, '\0', sizeof(errstr)) != NULL);
    return 0;
  }
  assert(memchr(cfg.kafka.brokers, '\0', sizeof(cfg.kafka.brokers)));
  assert(memchr(cfg.checkpoint.dir, '\0', sizeof(cfg.checkpoint.dir)));
  assert(cfg.kafka.n_props <= SR_CONF_MAX_PROPS);
  assert(cfg.model.dims >= 1 && cfg.model.dims <= 1024);
  return 0;
}
