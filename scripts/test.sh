#!/usr/bin/env bash
# Installs what is missing, builds, runs the whole test suite, and prints one summary line:
# "N passed, N failed" (doctest test cases over all test executables; a test executable that
# dies before reporting counts as one failure). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

# A private temporary directory for this run: the tests' scratch folders have fixed names, and two
# suites running at once (say in two git worktrees) must not share them.
TMPDIR="$(mktemp -d)"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

meson test -C build --print-errorlogs --num-processes 2 >build/meson-test-output.txt 2>&1
status=$?
tail -n 15 build/meson-test-output.txt

bash scripts/test_summary.sh build
exit $status
