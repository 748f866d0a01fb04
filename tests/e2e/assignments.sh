#!/bin/bash
# End-to-end: the five course assignments (examples/assignments/*/run.sh) in
# their short versions (--quick): every step runs, the numbers each script
# checks against an independent numpy implementation agree, and the figures
# and tables it promises are written.  `make assignments` runs the full ones.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/assignments"
mkdir -p "$D"

expect() {   # expect DIR FILE...: the files the run must have written
    local dir=$1; shift
    for f in "$@"; do
        [ -s "$dir/$f" ] || { echo "missing $dir/$f"; return 1; }
    done
}

for run in examples/assignments/*/run.sh; do
    a=$(basename "$(dirname "$run")")
    t_begin "e2e/assignments/$a"
    if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
        t_skip "needs /usr/bin/python3 with numpy (scripts/deps.sh installs it)"; continue
    fi
    if ! t_run "$run" --quick --out "$D/$a"; then t_fail "$run --quick failed"; continue; fi
    case $a in
    1_*) files="regression-curve.png classification-curve.png regression-grad-first.npz" ;;
    2_*) files="learning-curve.png" ;;
    3_*) files="results.csv test-accuracy.png train-loss.png" ;;
    4_*) files="check.txt rel-vs-h.csv" ;;
    5_*) files="sweep.csv sweep-loss.png run-d2-w3/metrics.csv" ;;
    *) files= ;;
    esac
    if command -v gnuplot >/dev/null; then files=$files; else files=$(echo "$files" | tr ' ' '\n' | grep -v png); fi
    if t_run expect "$D/$a" $files; then t_pass; else t_fail "$a: expected outputs missing"; fi
done
