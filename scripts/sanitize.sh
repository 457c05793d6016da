#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer + UndefinedBehaviorSanitizer in ./build-sanitize
# (gcc, -O2 -g, assertions on) and runs it; any sanitizer report stops its test and fails it. Ends
# with the same "N passed, N failed" line as test.sh, after the build and run times. A pre-release
# check (see docs/robustness.md for how long it takes). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --packages-only || { echo "0 passed, 1 failed"; exit 1; }

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1

start=$SECONDS
# Without MPI: OpenMPI's own allocations at MPI_Init are reported as leaks by LeakSanitizer (the
# one-rank build still runs the data-parallel code, tests/test_data_parallel.cpp).
if [ ! -f build-sanitize/build.ninja ]; then
  meson setup build-sanitize --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dmpi=disabled \
    >/tmp/pathgrad-sanitize-setup.log 2>&1 || { cat /tmp/pathgrad-sanitize-setup.log; echo "0 passed, 1 failed"; exit 1; }
else
  meson configure build-sanitize -Dmpi=disabled >/dev/null   # a directory set up before the option existed
fi
nice -n 10 ninja -C build-sanitize -j "${JOBS:-2}" >/dev/null || { ninja -C build-sanitize -j 1; echo "0 passed, 1 failed"; exit 1; }
built=$SECONDS

# The sanitizers make the tests 2-4 times slower than in the release build.
meson test -C build-sanitize --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
  >build-sanitize/meson-test-output.txt 2>&1
status=$?
tail -n 15 build-sanitize/meson-test-output.txt
echo "sanitize: build $((built - start)) s, tests $((SECONDS - built)) s"
bash scripts/test_summary.sh build-sanitize
exit $status
