#!/usr/bin/env bash
# Installs the build (meson install into a scratch DESTDIR), then builds examples/mlp/main.cpp
# *outside* the source tree against the installed headers, libraries and pathgrad.pc only — as a
# user's own program would be built — runs it, and checks that it reproduced its probes.
# Usage: install_test.sh <build dir> <source dir>
set -euo pipefail
build=$1 source=$2
stage=$(mktemp -d /tmp/pathgrad_install_test.XXXXXX)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
prefix=$stage/usr/local
pc=$(find "$prefix" -name pathgrad.pc)
[ -n "$pc" ] || { echo "install_test: no pathgrad.pc installed under $prefix"; exit 1; }
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$prefix" --cflags --libs pathgrad)
# A sanitizer build (scripts/sanitize.sh) installs instrumented libraries: a program linking them
# needs the same -fsanitize (pathgrad.pc does not carry build options).
sanitize=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"))')
[ "$sanitize" = none ] || flags="$flags -fsanitize=$sanitize"
mkdir "$stage/user" && cp "$source/examples/mlp/main.cpp" "$stage/user/main.cpp"
cd "$stage/user"
# shellcheck disable=SC2086  # the flags are words
g++ -O1 main.cpp $flags -o mlp
./mlp run > run.log 2>&1 || { cat run.log; exit 1; }
grep -q "replica: max |error|" run.log || { echo "install_test: the installed program printed no replica line"; cat run.log; exit 1; }
[ -f run/explaind/summary.json ] || { echo "install_test: no summary.json"; exit 1; }
echo "install_test: built and ran a program against the installed pathgrad ($(grep -c . run.log) lines of output)"
