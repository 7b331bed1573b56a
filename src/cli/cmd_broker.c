/* Placeholder until the broker subcommand is built. */
#include "cli/cli.h"

int sr_cmd_broker(int argc, char **argv) {
  (void)argc;
  sr_cli_err(argv[0], "not built yet");
  return SR_EXIT_FAIL;
}
