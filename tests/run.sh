#!/bin/bash
# run.sh - every test of nnc, ending with one summary line.
#
# Kinds: Check unit suites (build/tests/check_*), per-op gradient
# checks against finite differences in float64 (tests/grad/*.nn), end-to-end
# tests (tests/e2e/*.sh: compile, build, run, compare numbers), and, where
# /usr/bin/python3 has torch, comparisons with PyTorch (tests/torch/) and
# the op-conformance suite generated from the op table (tests/ops/).
# Each test is one line: PASS/FAIL/SKIP and its name; failures show output.
#
#   tests/run.sh [SCRIPT...]    the unit suites and these scripts only
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
NNC=${NNC:-$PWD/nnc}
export NNC ROOT="$PWD" BUILD
OUT=tests/out
rm -rf "$OUT"
mkdir -p "$OUT"
pass=0 fail=0 skip=0
failed=()

run_one() {   # run_one NAME COMMAND...: exit 0 pass, 77 skip, else fail
    local name=$1; shift
    local log="$OUT/$(echo "$name" | tr '/ ' '__').log"
    "$@" >"$log" 2>&1
    local rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "PASS  $name"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$log")"
    else
        fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name (exit $rc)"
        sed 's/^/      | /' "$log" | tail -n 40
    fi
}

# Check unit suites
for t in "$BUILD"/tests/check_*; do
    [ -x "$t" ] || continue
    # a busy machine can stretch a case past Check's 4 s default: allow 5x
    run_one "unit/$(basename "$t")" env CK_FORK=yes CK_TIMEOUT_MULTIPLIER="${CK_TIMEOUT_MULTIPLIER:-5}" "$t"
done

# gradient checks, end-to-end and PyTorch tests: each script prints one
# "TEST name" line per test it runs through tests/lib.sh; scripts given as
# arguments run instead of all (make asan ASAN_TESTS=..., .ci/run)
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] ||
    scripts=(tests/grad/run.sh tests/e2e/*.sh tests/golden/run.sh tests/torch/run.sh tests/ops/run.sh)
for t in "${scripts[@]}"; do
    [ -f "$t" ] || continue
    while IFS= read -r line; do
        case "$line" in
        "PASS "*) pass=$((pass + 1)); echo "$line" ;;
        "SKIP "*) skip=$((skip + 1)); echo "$line" ;;
        "FAIL "*) fail=$((fail + 1)); failed+=("${line#FAIL  }"); echo "$line" ;;
        *) echo "$line" ;;
        esac
    done < <(bash "$t" 2>&1)
done

echo
[ $fail -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
