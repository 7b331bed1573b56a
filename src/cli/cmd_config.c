/* streamrec config: the option reference, from the one option table. */
#include "cli/cli.h"
#include "daemon/config.h"

#include <stdio.h>
#include <string.h>

int sr_cmd_config(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--markdown")) {
    sr_config_print_markdown(stdout);
    return SR_EXIT_OK;
  }
  if (argc == 1) {
    sr_config_print_help(stdout, NULL);
    return SR_EXIT_OK;
  }
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: streamrec config [--markdown]\n\nPrints every "
           "configuration option with its type, default and meaning.\n");
    return SR_EXIT_OK;
  }
  sr_cli_err("config", "usage: streamrec config [--markdown]");
  return SR_EXIT_USAGE;
}
