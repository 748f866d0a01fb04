#!/bin/bash
# End-to-end: `nnc compare RUN... -o OUT` (docs/trainer.md, "Comparing runs"):
# three runs of xor that differ in the optimizer give one figure of their
# curves (compare.gp reads each run's metrics.csv, copied into OUT) and a
# table with the optimizer as a column and each run's final metrics.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/compare"
rm -rf "$D"
mkdir -p "$D"
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

t_begin "compare/runs"
ok=1
t_build examples/xor.nn "$D/xor" || ok=0
for o in adam:"adam(lr = 0.01)" sgd:"sgd(lr = 0.1)" momentum:"sgd(lr = 0.1, momentum = 0.9)"; do
    t_run "$D/xor" train --epochs 4 --optimizer "${o#*:}" --log "$D/runs/${o%%:*}" || ok=0
done
if [ $ok = 1 ] && "$NNC" compare "$D/runs/adam" "$D/runs/sgd" "$D/runs/momentum" -o "$D/cmp" \
        >"$D/compare.out" 2>>"$t_log"; then
    t_pass
else
    t_fail "the runs or nnc compare failed"
fi

t_begin "compare/table"
c=$D/cmp
if [ "$(head -1 "$c/compare.csv")" != "run,optimizer,epoch,loss,test_loss,accuracy,test_accuracy,best test_loss (epoch),status" ]; then
    t_fail "compare.csv's columns: $(head -1 "$c/compare.csv")"
elif [ "$(grep -c ',4,.*,finished$' "$c/compare.csv")" != 3 ] ||
     ! grep -q '^momentum,"sgd(lr = 0.1, momentum = 0.9' "$c/compare.csv"; then
    t_fail "expected three finished runs of 4 epochs, each with its optimizer"
elif ! grep -q "^sgd,.*,4,[^,]*,$(printf %.5g "$(tail -1 "$D/runs/sgd/metrics.csv" | cut -d, -f5)")," \
        "$c/compare.csv"; then
    t_fail "sgd's test_loss in the table is not its last epoch's"
elif ! cmp -s "$c/compare.txt" "$D/compare.out"; then
    t_fail "compare.txt is not the table nnc compare printed"
else
    t_pass
fi

t_begin "compare/figure"
if ! grep -q "'adam.csv' using \"epoch\":\"loss\"" "$c/compare.gp" ||
   ! grep -q "'momentum.csv' using \"epoch\":\"test_accuracy\"" "$c/compare.gp" ||
   ! cmp -s "$c/sgd.csv" "$D/runs/sgd/metrics.csv"; then
    t_fail "compare.gp should draw each run's loss, test loss and accuracy from its copy in OUT"
elif ! command -v gnuplot >/dev/null; then
    t_fail "gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)"
elif [ -s "$c/plots.log" ] || ! is_png "$c/compare.png" || [ "$(head -c 4 "$c/compare.pdf")" != "%PDF" ]; then
    t_fail "compare.png and compare.pdf not drawn: $(cat "$c/plots.log" 2>/dev/null)"
else
    t_pass
fi

t_begin "compare/not-a-run"
mkdir -p "$D/empty"
"$NNC" compare "$D/runs/adam" "$D/empty" -o "$D/cmp2" >"$D/err" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "empty has no metrics.csv with rows" "$D/err"; then t_pass
else t_fail "expected status 1 naming the directory; got $rc: $(cat "$D/err")"; fi
