#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains and explains the grokking
# transformer (examples/grokking) with the README's default configuration, writing
# runs/grokking/report.html. Extra arguments go to the program (see --help and docs/grokking.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec build/examples/grokking --out runs/grokking "$@"
