#!/bin/bash
# End-to-end: with mini-batches, `train --log DIR` writes DIR/steps.csv, one
# row per update with the objective of the batch it used (the learning curve
# over updates the second assignment plots): the first row equals `eval` of
# the first batch at the initial parameters; full-batch runs write none;
# a stopped and resumed run ends with the same file as an uninterrupted one.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/steps"
mkdir -p "$D"

t_begin "e2e/steps/rows-and-first-batch"
awk 'BEGIN { print "x0,x1,y"; for (i = 0; i < 64; i++) printf "%.3f,%.3f,%d\n", (i % 7) / 7, (i % 5) / 5, i % 2 }' > "$D/all.csv"
head -n 33 "$D/all.csv" > "$D/first.csv"
if ! t_build examples/xor.nn "$D/xor"; then
    t_fail "nnc build failed"
elif ! t_run "$D/xor" train --data "$D/all.csv" --test none --batch 32 --shuffle false --epochs 3 --log "$D/run"; then
    t_fail "train failed"
else
    rows=$(($(wc -l < "$D/run/steps.csv") - 1))
    header=$(head -n 1 "$D/run/steps.csv")
    first=$(awk -F, 'NR == 2 { print $3 }' "$D/run/steps.csv")
    want=$("$D/xor" eval --data "$D/first.csv" | awk '/^loss:/ { print $2 }')
    steps=$(awk -F, 'NR > 1 { printf "%s ", $2 }' "$D/run/steps.csv")
    if [ "$header" != "epoch,step,batch_loss,lr" ]; then
        t_fail "steps.csv header is '$header'"
    elif [ "$rows" != 6 ] || [ "$steps" != "1 2 3 4 5 6 " ]; then
        t_fail "expected steps 1..6 (3 epochs of 2 batches), got '$steps'"
    elif ! awk -v a="$first" -v b="$want" 'BEGIN { d = a - b; exit !(d * d <= 1e-12 * b * b) }'; then
        t_fail "first batch_loss $first, eval of the first batch gives $want"
    else
        t_pass
    fi
fi

t_begin "e2e/steps/full-batch-writes-none"
if t_run "$D/xor" train --data "$D/all.csv" --test none --batch full --epochs 2 --log "$D/full" &&
   [ -f "$D/full/metrics.csv" ] && [ ! -e "$D/full/steps.csv" ]; then
    t_pass
else
    t_fail "a full-batch run wrote steps.csv (or failed)"
fi

t_begin "e2e/steps/resume"
rm -rf "$D/a" "$D/b"
if t_run "$D/xor" train --epochs 4 --log "$D/a" --quiet &&
   t_run "$D/xor" train --epochs 4 --log "$D/b" --quiet --stop-after 2 &&
   t_run "$D/xor" train --resume "$D/b" --quiet &&
   cmp "$D/a/steps.csv" "$D/b/steps.csv" >> "$t_log" 2>&1; then
    t_pass
else
    t_fail "steps.csv of a resumed run differs from an uninterrupted one"
fi
