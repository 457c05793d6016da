#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, the library instrumented for
# coverage) in ./build-fuzz and runs each for the given time on a working copy of its seed corpus
# (tests/fuzz/corpus/<target>, never modified), printing one line per target:
#   <target>: <seconds> s, <executions> executions, <result>
# A finding is saved as build-fuzz/findings/<target>-crash-... (replay: build-fuzz/tests/fuzz/fuzz_<target> <file>).
#
# Usage: scripts/fuzz.sh [seconds-per-target (default 60)] [target...]   (default: every target)
#        scripts/fuzz.sh --corpus    rewrites tests/fuzz/corpus from the library (make_corpus.cpp)
# Exits non-zero when a target found something.
set -uo pipefail
cd "$(dirname "$0")/.."
ALL_TARGETS=(safetensors npy idx idx_gz cifar checkpoint_state tracker_state)

bash scripts/setup.sh --packages-only || exit 1
bash scripts/install_packages.sh clang-16 libclang-rt-16-dev  # clang++ and the libFuzzer and sanitizer runtimes (clang 16: C++20 lambdas capture structured bindings, 14 cannot)

if [ ! -f build-fuzz/build.ninja ]; then
  CXX=clang++-16 meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link \
    >/tmp/pathgrad-fuzz-setup.log 2>&1 || { cat /tmp/pathgrad-fuzz-setup.log; exit 1; }
fi

if [ "${1:-}" = "--corpus" ]; then
  nice -n 10 ninja -C build-fuzz -j "${JOBS:-2}" tests/fuzz/fuzz_make_corpus >/dev/null || exit 1
  rm -rf tests/fuzz/corpus
  build-fuzz/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus && du -sh tests/fuzz/corpus
  exit $?
fi

seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
nice -n 10 ninja -C build-fuzz -j "${JOBS:-2}" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null ||
  { ninja -C build-fuzz -j 1 "${targets[@]/#/tests/fuzz/fuzz_}"; exit 1; }

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
mkdir -p build-fuzz/findings
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  rm -rf "$work" && mkdir -p "$work"
  log=build-fuzz/fuzz-$t.log
  export TMPDIR=$PWD/build-fuzz/tmp/$t   # the targets' scratch files, replaced by the next run
  rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
  # Limits: a loader must not take more than 1 GB for one allocation or 2 GB in all, nor 10 s for one file.
  build-fuzz/tests/fuzz/fuzz_"$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$seconds" \
    -malloc_limit_mb=1024 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t-" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -eq 0 ]; then
    result="no finding"
  else
    status=1
    result="FINDING: $(grep -m1 -E 'ERROR:|runtime error:|finding:|==[0-9]+==' "$log" | cut -c1-160) (see $log)"
  fi
  echo "$t: $seconds s, ${runs:-?} executions, $result"
done
exit $status
