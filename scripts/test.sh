#!/usr/bin/env bash
# Installs what is missing, builds, runs the whole test suite, and prints one summary line:
# "N passed, N failed" (doctest test cases over all test executables; a test executable that
# dies before reporting counts as one failure). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

meson test -C build --print-errorlogs --num-processes 2 >build/meson-test-output.txt 2>&1
status=$?
tail -n 15 build/meson-test-output.txt

python3 - build/meson-logs/testlog.json <<'PY'
import json, re, sys
passed = failed = 0
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    t = json.loads(line)
    m = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", t.get("stdout", ""))
    if m and t["result"] in ("OK", "FAIL"):
        passed += int(m.group(2))
        failed += int(m.group(3))
        if t["result"] == "FAIL" and int(m.group(3)) == 0:
            failed += 1   # the executable failed after its cases passed (crash at exit, ...)
    elif t["result"] == "OK":
        passed += 1
    else:
        print(f"test {t['name']}: {t['result']}", file=sys.stderr)
        failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit $status
