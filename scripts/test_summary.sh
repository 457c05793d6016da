#!/usr/bin/env bash
# Prints the one-line summary of the last `meson test` in build dir $1: "N passed, N failed"
# (doctest test cases over all test executables; a test executable that dies before reporting
# counts as one failure, and one that fails after its cases passed counts one more).
# Used by test.sh and sanitize.sh.
set -euo pipefail
python3 - "$1/meson-logs/testlog.json" <<'PY'
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
