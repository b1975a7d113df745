#!/usr/bin/env bash
# Runs every test suite given on the command line (Boost.Test executables), each with Boost.Test's
# short report, and ends with one line totalling the test cases of all suites:
#   tests: 120 passed, 0 failed, 14 skipped
# Exits non-zero if any suite failed.
set -uo pipefail
passed=0 failed=0 skipped=0 status=0
for suite in "$@"; do
    echo "== $suite"
    log=$(mktemp)
    "$suite" --log_level=test_suite --report_level=short --color_output=no 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    # Boost.Test's short report: "  25 test cases out of 26 passed", "  1 test case out of 26 skipped"
    while read -r count kind; do
        case "$kind" in
            passed) passed=$((passed + count)) ;;
            failed|aborted) failed=$((failed + count)) ;;
            skipped) skipped=$((skipped + count)) ;;
        esac
    done < <(sed -n 's/^ *\([0-9]\+\) test cases\? out of [0-9]\+ \(passed\|failed\|skipped\|aborted\).*/\1 \2/p' "$log")
    grep -q "test cases\? out of" "$log" || { echo "(no Boost.Test report from $suite: counted as failed)"; failed=$((failed + 1)); status=1; }
    rm -f "$log"
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
