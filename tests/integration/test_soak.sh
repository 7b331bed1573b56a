#!/usr/bin/env bash
# The short soak: 30 s of steady traffic with bad
# messages and new ids while the daemon is killed and restarted; tools/soak
# checks that nothing is lost or applied twice, RSS stays bounded and no
# sanitizer report appears.
set -euo pipefail
bin=$(readlink -f "$1")
cd "${SR_SOURCE_DIR:-$(dirname "$0")/../..}"
exec tools/soak --seconds 30 --rate 2000 --rss-mb 600 --bin "$bin"
