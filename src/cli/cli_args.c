/* Argument handling shared by the subcommands. */
#include "cli/cli.h"
#include "daemon/config.h"
#include "kafka/client.h"
#include "util/log.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 256

/* Takes -c or --set for a command that reads a config: a file is loaded at
 * once, a setting is kept in sets for after the last file. Returns 0, or
 * -1 after reporting. */
static int config_option(const char *cmd, int c, sr_config_t *cfg,
                         const char **sets, size_t *n_sets) {
  char errstr[512];
  if (c == SR_CLI_SET) {
    if (*n_sets == MAX_SETS) {
      sr_cli_err(cmd, "--set: more than %d options", MAX_SETS);
      return -1;
    }
    sets[(*n_sets)++] = optarg;
    return 0;
  }
  if (sr_config_load_file(cfg, optarg, errstr, sizeof(errstr)) != SR_OK) {
    sr_cli_err(cmd, "%s", errstr);
    return -1;
  }
  return 0;
}

static int apply_sets(const char *cmd, sr_config_t *cfg,
                      const char *const *sets, size_t n_sets) {
  char errstr[512];
  for (size_t i = 0; i < n_sets; i++) {
    if (sr_config_set_kv(cfg, sets[i], errstr, sizeof(errstr)) != SR_OK) {
      sr_cli_err(cmd, "%s", errstr);
      return -1;
    }
  }
  return 0;
}

int sr_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, sr_cli_opt_cb *on_opt,
                  void (*usage)(FILE *out), void *opts, sr_config_t *cfg) {
  const char *sets[MAX_SETS];
  size_t n_sets = 0;
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
    int rc = cfg && (c == 'c' || c == SR_CLI_SET)
                 ? config_option(cmd, c, cfg, sets, &n_sets)
                 : on_opt(c, opts);
    if (rc != 0)
      return -1;
  }
  return cfg ? apply_sets(cmd, cfg, sets, n_sets) : 0;
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

void sr_cli_prop_err(const char *cmd, const char *errstr) {
  static const char prefix[] = "kafka.properties.";
  if (!strncmp(errstr, prefix, sizeof(prefix) - 1))
    sr_cli_err(cmd, "-X %s", errstr + sizeof(prefix) - 1);
  else
    sr_cli_err(cmd, "%s", errstr);
}

int sr_cli_set_prop(const char *cmd, sr_config_t *cfg, const char *arg) {
  const char *eq = strchr(arg, '=');
  char name[128], errstr[512];
  if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name)) {
    sr_cli_err(cmd, "-X: expected NAME=VALUE, got a value without '='");
    return -1;
  }
  snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
  if (sr_config_add_property(cfg, name, eq + 1, errstr, sizeof(errstr)) !=
      SR_OK) {
    sr_cli_prop_err(cmd, errstr);
    return -1;
  }
  return 0;
}

rd_kafka_conf_t *sr_cli_kafka_conf(const char *cmd, const sr_config_t *cfg,
                                   const char *brokers,
                                   const char *const (*defaults)[2], size_t n) {
  char errstr[512];
  sr_kafka_conf_t kc = sr_config_kafka(cfg);
  rd_kafka_conf_t *conf =
      sr_kafka_conf_new(&kc, brokers, errstr, sizeof(errstr));
  /* -X debug=... asks for librdkafka's debug lines: they go out at debug
   * level, and a default log_level would hide them. */
  bool debug = sr_kafka_user_set(&kc, "debug");
  if (debug)
    sr_log_set_level(SR_LOG_DEBUG);
  for (size_t i = 0; conf && i < n; i++) {
    if (debug && !strcmp(defaults[i][0], "log_level"))
      continue;
    if (sr_kafka_conf_default(conf, &kc, defaults[i][0], defaults[i][1], errstr,
                              sizeof(errstr)) != 0) {
      rd_kafka_conf_destroy(conf);
      conf = NULL;
    }
  }
  if (!conf)
    sr_cli_prop_err(cmd, errstr);
  return conf;
}

int sr_cli_int_option(const char *cmd, const char *opt, const char *arg,
                      long long lo, long long hi, const char *what,
                      long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(arg, &end, 10);
  if (errno || end == arg || *end || v < lo || v > hi) {
    sr_cli_err(cmd, "%s: expected %s, got '%s'", opt, what, arg);
    return -1;
  }
  *out = v;
  return 0;
}
