/* streamrec config: the option reference, from the one option table. */
#include "cli/cli.h"
#include "daemon/config.h"

#include <stdbool.h>
#include <stdio.h>

static void usage(FILE *out) {
  fprintf(out, "usage: streamrec config [--markdown]\n\nPrints every "
               "configuration option with its type, default and meaning.\n");
}

/* sr_cli_getopt's callback: --markdown. */
static int parse_option(int c, void *arg) {
  bool *markdown = arg;
  if (c != 'm')
    return -1;
  *markdown = true;
  return 0;
}

int sr_cmd_config(int argc, char **argv) {
  static const struct option longopts[] = {{"markdown", no_argument, NULL, 'm'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  bool markdown = false;
  int rc = sr_cli_getopt("config", argc, argv, ":h", longopts, parse_option,
                         usage, &markdown, NULL);
  if (rc != 0)
    return rc > 0 ? SR_EXIT_OK : SR_EXIT_USAGE;
  if (optind < argc) {
    sr_cli_err("config", "usage: streamrec config [--markdown]");
    return SR_EXIT_USAGE;
  }
  if (markdown)
    sr_config_print_markdown(stdout);
  else
    sr_config_print_help(stdout, NULL);
  return SR_EXIT_OK;
}
