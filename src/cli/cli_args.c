/* Argument handling shared by the subcommands. */
#include "cli/cli.h"

#include <librdkafka/rdkafka.h>

#include <stdlib.h>
#include <string.h>

int sr_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, sr_cli_opt_cb *on_opt,
                  void (*usage)(FILE *out), void *opts) {
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return 1;
    }
    if (c == ':') {
      sr_cli_err(cmd, "%s needs a value", argv[optind - 1]);
      return -1;
    }
    if (c == '?') {
      sr_cli_err(cmd, "unknown option '%s' (see --help)", argv[optind - 1]);
      return -1;
    }
    if (on_opt(c, opts) != 0)
      return -1;
  }
  return 0;
}

const char *sr_cli_brokers(const char *cmd, const char *brokers) {
  if (!brokers || !brokers[0])
    brokers = getenv("STREAMREC_BROKERS");
  if (!brokers || !brokers[0]) {
    sr_cli_err(cmd, "no brokers: pass --brokers HOST:PORT or set "
                    "STREAMREC_BROKERS");
    return NULL;
  }
  if (!strcmp(brokers, "embedded")) {
    sr_cli_err(cmd, "--brokers: 'embedded' lives inside another process; "
                    "pass the address that 'streamrec run' or 'streamrec "
                    "broker' prints");
    return NULL;
  }
  return brokers;
}

int sr_cli_set_prop(const char *cmd, rd_kafka_conf_t *conf, const char *arg) {
  const char *eq = strchr(arg, '=');
  char name[128], errstr[256];
  if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name)) {
    sr_cli_err(cmd, "-X: expected NAME=VALUE, got a value without '='");
    return -1;
  }
  snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
  if (rd_kafka_conf_set(conf, name, eq + 1, errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    sr_cli_err(cmd,
               "-X %s: not accepted by librdkafka (unknown property or "
               "invalid value)",
               name);
    return -1;
  }
  return 0;
}
