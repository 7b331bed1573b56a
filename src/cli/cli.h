/* Subcommands of the streamrec binary. Each takes argv with argv[0] set to
 * the subcommand's name and returns the process exit code. */
#ifndef SR_CLI_H
#define SR_CLI_H

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

/* Prints "streamrec <cmd>: <message>" to stderr. */
void sr_cli_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
