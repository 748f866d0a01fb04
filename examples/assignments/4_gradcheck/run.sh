#!/bin/bash
# run.sh - the fourth assignment, start to finish (docs/tutorial.md walks through it): the
# network with two sigmoid hidden layers and the 1/M mean squared loss, its
# backprop gradients (the compiled backward pass) and numerical gradients
# (central differences of the forward pass) for every W and b, side by side,
# and their relative error, also as a function of the step h.
. "$(dirname "$0")/../common.sh"
cd "$OUT"

step "one batch of M = 32 samples (x: 4 inputs, y: 3 targets), written by numpy"
show "$PY" "$HERE/reference.py" make batch.npz
cp "$HERE/network.nn" .

step "compile in float64 and draw the initial parameters"
show "$NNC" build network.nn -o network --dtype f64
show ./network init --out params.npz --seed 3

step "backprop vs numerical gradients, per parameter (h = 1e-5)"
show ./network check --params params.npz --data batch.npz --eps 1e-5 | tee check.txt

step "every entry of every W and b side by side: backprop (analytic) and numerical"
show ./network check --params params.npz --data batch.npz --eps 1e-5 --print > side-by-side.txt
sed -n '/^dL\/dW1 /,/^$/p; /^dL\/db3 /,/^$/p' side-by-side.txt
echo "... (all six parameters in side-by-side.txt)"

step "the relative error as a function of the step h"
echo "h,max_rel_err" > rel-vs-h.csv
for h in 1e-1 1e-2 1e-3 1e-4 1e-5 1e-6 1e-7 1e-8 1e-9 1e-10; do
    worst=$( (./network check --params params.npz --data batch.npz --eps $h || true) | awk '
        $NF == "PASS" || $NF == "FAIL" { if ($(NF-1) + 0 > w) w = $(NF-1) + 0 } END { printf "%.3e", w }')
    echo "$h,$worst" >> rel-vs-h.csv
done
column -t -s, rel-vs-h.csv
PLOT_EXTRA="set logscale xy; set format x '%.0e'; set format y '%.0e'; set key off" \
    plot rel-vs-h.png "largest relative error |a - n| / (|a| + |n|) over all parameters" \
     "finite-difference step h" "max relative error" rel-vs-h.csv:h:max_rel_err:network

step "the same gradients from an independent numpy implementation"
show ./network grad --params params.npz --data batch.npz --out grad.npz
show "$PY" "$HERE/reference.py" compare params.npz batch.npz grad.npz
