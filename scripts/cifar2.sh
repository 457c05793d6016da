#!/usr/bin/env bash
# The CIFAR-2 example: installs what is missing, builds, then trains the paper's ResNet-9 on cats
# vs dogs (examples/cifar2) with the default configuration, tracked by the path kernel, and writes
# runs/cifar2/report.html. Extra arguments go to the program (see --help and docs/cifar2.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build/examples/cifar2 --out runs/cifar2 "$@"
out=runs/cifar2
for ((i = 1; i <= $#; i++)); do [ "${!i}" = "--out" ] && j=$((i + 1)) && out="${!j}"; done
echo "report: $out/report.html (and $out/report.md)"
