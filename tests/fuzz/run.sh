#!/bin/bash
# run.sh - runs each fuzz target built by `make fuzz` for FUZZ_SECONDS.
#
#   tests/fuzz/run.sh [TARGET...]      (default: every build-fuzz/fuzz_* binary)
#
# Each target starts from its seed corpus (tests/fuzz/corpus/TARGET, tiny
# files in the formats as numpy, gzip and courses write them) plus the saved
# regressions, and grows a working corpus in build-fuzz/corpus/TARGET (never
# in the repository).  Inputs are at most FUZZ_MAX_LEN bytes (default 16384)
# and a single allocation over FUZZ_MALLOC_MB (default 64 MB, 4000 times the
# largest input) counts as a failure: sizes read from a file must be checked
# against the file before anything is allocated.  What fails is saved as
# build-fuzz/crashes/TARGET-*; turn each into a fix and a file under
# tests/fuzz/regressions/TARGET/, which `make test` replays.
set -u
cd "$(dirname "$0")/../.."
S=${FUZZ_SECONDS:-25}
MAXLEN=${FUZZ_MAX_LEN:-16384}
MALLOC=${FUZZ_MALLOC_MB:-64}
# the whole process's memory: the cc target compiles the project's models
# (LeNet, the VAE, ...) under ASan, whose quarantine alone holds 256 MB; at
# 1024 MB a 20 s run was once stopped as out of memory on a benign model
RSS=${FUZZ_RSS_MB:-3072}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for b in build-fuzz/fuzz_*; do [ -x "$b" ] && targets+=("${b#build-fuzz/fuzz_}"); done
fi
mkdir -p build-fuzz/crashes build-fuzz/log
failed=()
for t in "${targets[@]}"; do
    bin=build-fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz)" >&2; exit 1; }
    mkdir -p "build-fuzz/corpus/$t"
    seeds=()
    for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do [ -d "$d" ] && seeds+=("$d"); done
    # the models compiled to C: every model of the project as a seed too
    [ "$t" = cc ] && seeds+=(examples tests/grad tests/e2e/models tests/e2e/errors)
    log=build-fuzz/log/$t.log
    echo "fuzz: $t for ${S}s"
    nice -n 10 "$bin" -max_total_time="$S" -max_len="$MAXLEN" -malloc_limit_mb="$MALLOC" \
        -rss_limit_mb="$RSS" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/crashes/$t-" "build-fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "fuzz: $t passed: ${runs:-?} inputs, $cov"
    else
        failed+=("$t")
        echo "fuzz: $t FAILED (exit $rc); see $log:"
        grep -E 'ERROR|fuzz: |SUMMARY|Test unit written' "$log" | head -n 8 | sed 's/^/      | /'
    fi
done
[ ${#failed[@]} -eq 0 ] && { echo "fuzz: every target passed"; exit 0; }
echo "fuzz: failed: ${failed[*]}"
exit 1
