/* Subcommands of the streamrec binary. Each takes argv with argv[0] set to
 * the subcommand's name and returns the process exit code. */
#ifndef SR_CLI_H
#define SR_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

enum {
  SR_EXIT_OK = 0,    /* success */
  SR_EXIT_FAIL = 1,  /* the work failed */
  SR_EXIT_USAGE = 2, /* bad usage or configuration */
};

int sr_cmd_gen(int argc, char **argv);
int sr_cmd_eval(int argc, char **argv);
int sr_cmd_inspect(int argc, char **argv);
int sr_cmd_run(int argc, char **argv);
int sr_cmd_broker(int argc, char **argv);
int sr_cmd_produce(int argc, char **argv);
int sr_cmd_tail(int argc, char **argv);
int sr_cmd_config(int argc, char **argv);
int sr_cmd_check_input(int argc, char **argv);

/* Called by sr_cli_getopt for each option c (with optarg set); returns 0,
 * or -1 after reporting a bad value. */
typedef int(sr_cli_opt_cb)(int c, void *opts);

/* The value getopt returns for --set; -c/--config returns 'c'. */
#define SR_CLI_SET 0x100
/* The longopts rows of a command that reads a config (-c and --set). */
#define SR_CLI_CONFIG_LONGOPTS                                                 \
  {"config", required_argument, NULL, 'c'}, {                                  \
    "set", required_argument, NULL, SR_CLI_SET                                 \
  }

struct sr_config;

/* Runs getopt_long over argv for command cmd: --help/-h prints usage to
 * stdout and returns 1; a missing value or unknown option is reported and
 * returns -1 (as does a -1 from on_opt); else 0 with optind at the operands.
 * shortopts must start with ':' and contain 'h'. When cfg is not NULL the
 * command reads a config (its shortopts hold "c:", its longopts
 * SR_CLI_CONFIG_LONGOPTS): each -c FILE is loaded into cfg as it comes, then
 * every --set KEY=VALUE in the order given, so the command line wins over
 * the files; a bad file or setting is reported and returns -1. */
int sr_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, sr_cli_opt_cb *on_opt,
                  void (*usage)(FILE *out), void *opts, struct sr_config *cfg);

/* Resolves the bootstrap servers of an operator command: the --brokers
 * value, else $STREAMREC_BROKERS. 'embedded' is refused, since that broker
 * lives inside another process. Returns the address, or NULL after
 * reporting. */
const char *sr_cli_brokers(const char *cmd, const char *brokers);

/* Records one librdkafka property from -X "name=value" for command cmd in
 * cfg's kafka.properties, as `run` does: a value "${VAR}" is read from the
 * environment and masked in every later line. The value is never echoed,
 * since properties carry passwords. Returns 0, or -1 after reporting. */
int sr_cli_set_prop(const char *cmd, struct sr_config *cfg, const char *arg);

/* The librdkafka configuration of an operator command, built by the same
 * sr_kafka_conf_new as the daemon's clients (so checked and masked the same
 * way) from cfg's -X properties and brokers, then defaults[n][2] (name,
 * value) for each property -X did not set. With -X debug=..., librdkafka's
 * debug lines are logged (log_level is then not defaulted). Returns NULL after
 * reporting an error that names the -X property (exit 2). */
struct rd_kafka_conf_s;
struct rd_kafka_conf_s *sr_cli_kafka_conf(const char *cmd,
                                          const struct sr_config *cfg,
                                          const char *brokers,
                                          const char *const (*defaults)[2],
                                          size_t n);

/* Parses arg, the value of option opt of command cmd, as a whole decimal
 * integer within [lo, hi] into *out. Otherwise reports "OPT: expected
 * WHAT, got 'ARG'" and returns -1. */
int sr_cli_int_option(const char *cmd, const char *opt, const char *arg,
                      long long lo, long long hi, const char *what,
                      long long *out);

/* Reports errstr of a -X property for command cmd, naming the property as
 * the command line does ("-X name") rather than as `run` does. */
void sr_cli_prop_err(const char *cmd, const char *errstr);

/* Prints "streamrec <cmd>: <message>" to stderr. */
void sr_cli_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The consumer of an operator command that reads a topic: sr_cli_kafka_conf
 * with partition EOF events on, and auto.offset.reset from from_beginning.
 * With group it joins that group and commits; without, it names a group of
 * its own that it never joins (assign, not subscribe) and commits nothing.
 * Client errors are reported once per kind, naming cmd (a static string).
 * Returns NULL after reporting (exit 2). */
struct rd_kafka_s;
struct rd_kafka_s *sr_cli_consumer_new(const char *cmd,
                                       const struct sr_config *cfg,
                                       const char *brokers, const char *group,
                                       bool from_beginning);

/* The number of partitions of topic, or -1 after reporting why not. */
int sr_cli_partition_count(const char *cmd, struct rd_kafka_s *rk,
                           const char *topic);

/* Assigns all n partitions of topic, from the beginning or the end.
 * Returns 0, or -1 after reporting. */
int sr_cli_assign_all(const char *cmd, struct rd_kafka_s *rk, const char *topic,
                      int n, bool from_beginning);

#endif
