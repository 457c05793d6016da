#!/usr/bin/env bash
# Checks that every C++ file of the tree (.cpp, .hpp under the top-level source folders) is laid
# out as .clang-format says; prints each file that is not and how to fix it. Run by the test suite
# (tests/meson.build, test 'format'); `bash scripts/check_format.sh --fix` rewrites them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format is not installed (bash scripts/setup.sh installs it)"; exit 1; }
mapfile -t files < <(find tensor autograd nn optim explaind examples tests bench -name '*.cpp' -o -name '*.hpp' | sort)
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format for all files; each misplaced line is reported as "<file>:<line>:<col>: error: ...".
if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  echo "check_format: ${#files[@]} files laid out as .clang-format says"
  exit 0
fi
grep -o '^[^:]*:[0-9]*' <<<"$out" | sort -u -t: -k1,1 | sed 's/^/check_format: differs from .clang-format from line: /' || true
echo "check_format: run 'bash scripts/check_format.sh --fix' to lay them out"
exit 1
