#!/bin/bash
# run.sh - the fifth assignment's experiments, start to finish (docs/tutorial.md
# walks through it): noisy-XOR data, one network trained with its run log and its decision
# boundary over the training and validation sets, then the sweep over 0..3
# hidden layers x widths 1..3 with repeats: mean and std of the loss on new
# data, parameter counts, the sweep's table and plots.
# --quick: 2 repeats of 5 epochs.
. "$(dirname "$0")/../common.sh"
cd "$OUT"
cp "$HERE/deep_wide.nn" .
REPEATS=5 EPOCHS=50
[ $QUICK = 1 ] && REPEATS=2 EPOCHS=5

step "one network: 2 hidden layers of 3 tanh units, with its run log"
show "$NNC" build deep_wide.nn -o net -D depth=2 -D width=3
show ./net train --epochs $EPOCHS --log run-d2-w3

step "the decision boundary over the training and validation sets"
if [ -f run-d2-w3/boundary.png ]; then
    echo "run-d2-w3/boundary.png: P(y = 1) over the plane, the P = 0.5 line, training points left, validation right"
else
    echo "(this nnc's trainer draws no decision boundary yet)"
fi

step "parameter counts from nnc's cost report, e.g. depth 2, width 3"
echo "\$ nnc --report deep_wide.nn -D depth=2 -D width=3"
"$NNC" --report deep_wide.nn -D depth=2 -D width=3 | sed -n '/^ line/,/^parameters/p'

step "the sweep: depth 0..3 x width 1..3, $REPEATS repeats (seeds 1..$REPEATS), $EPOCHS epochs each"
if "$NNC" --help 2>&1 | grep -q 'nnc sweep'; then
    show "$NNC" sweep deep_wide.nn -D depth=0..3 -D width=1..3 --repeat $REPEATS --jobs 2 \
        --metric test_loss --out sweep -- --epochs $EPOCHS
    # the table for the plot: depth, width, params, mean and std of the validation loss
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
                       print "depth,width,params,runs,val_loss_mean,val_loss_std,val_accuracy_mean"; next }
        { printf "%s,%s,%s,%s,%.4f,%.4f,%.4f\n", $c["depth"], $c["width"], $c["params"], $c["runs"],
              $c["test_loss_mean"], $c["test_loss_std"], $c["test_accuracy_mean"] }' sweep/results.csv |
        sort -t, -k1,1n -k2,2n > sweep.csv
else
echo "depth,width,params,repeat,val_loss,val_accuracy" > sweep-runs.csv
for d in 0 1 2 3; do
    for w in 1 2 3; do
        "$NNC" build deep_wide.nn -o net-d$d-w$w -D depth=$d -D width=$w
        params=$("$NNC" --report deep_wide.nn -D depth=$d -D width=$w | awk '/^parameters:/ { print $2 }')
        for r in $(seq 1 $REPEATS); do
            ./net-d$d-w$w train --epochs $EPOCHS --seed $r --quiet --log runs/d$d-w$w-r$r
            awk -F, -v d=$d -v w=$w -v p=$params -v r=$r '
                NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { last = $0 }
                END { split(last, f, ","); print d "," w "," p "," r "," f[c["test_loss"]] "," f[c["test_accuracy"]] }' \
                runs/d$d-w$w-r$r/metrics.csv >> sweep-runs.csv
        done
    done
done
awk -F, 'NR > 1 { k = $1 "," $2 "," $3; n[k]++; s[k] += $5; q[k] += $5 * $5; a[k] += $6 }
    END { print "depth,width,params,runs,val_loss_mean,val_loss_std,val_accuracy_mean"
          for (k in n) { m = s[k] / n[k]; v = n[k] > 1 ? (q[k] - n[k] * m * m) / (n[k] - 1) : 0
                         printf "%s,%d,%.4f,%.4f,%.4f\n", k, n[k], m, sqrt(v > 0 ? v : 0), a[k] / n[k] } }' \
    sweep-runs.csv | sort -t, -k1,1n -k2,2n > sweep.csv
fi
column -t -s, sweep.csv | tee sweep.txt
for w in 1 2 3; do awk -F, -v w=$w 'NR == 1 || $2 == w' sweep.csv > sweep-w$w.csv; done
PLOT_EXTRA="set xtics 1; set xrange [-0.2:3.2]; set key bottom left" plot sweep-loss.png \
    "noisy XOR: validation loss by depth (mean and std over $REPEATS repeats)" "hidden layers" "validation BCE loss" \
    sweep-w1.csv:depth:val_loss_mean:"width 1":val_loss_std sweep-w2.csv:depth:val_loss_mean:"width 2":val_loss_std \
    sweep-w3.csv:depth:val_loss_mean:"width 3":val_loss_std
