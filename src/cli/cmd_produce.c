/* Placeholder until the produce subcommand is built. */
#include "cli/cli.h"

int sr_cmd_produce(int argc, char **argv) {
  (void)argc;
  sr_cli_err(argv[0], "not built yet");
  return SR_EXIT_FAIL;
}
