#!/bin/bash
# demo.sh - `make demo`: compile two example models, train them, print the
# results and draw their plots (demo/*-run/curves.png, boundary.png; gnuplot).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo

step() { printf '\n== %s\n' "$*"; }

step "compile examples/tiny_mlp.nn (2-10-10-1 ReLU regression) to C and build it"
echo "\$ ./nnc build examples/tiny_mlp.nn -o demo/tiny_mlp --keep-c"
./nnc build examples/tiny_mlp.nn -o demo/tiny_mlp --keep-c
echo "generated demo/tiny_mlp.c: $(wc -l < demo/tiny_mlp.c) lines; its first gradient step:"
grep -n -m1 -A3 "adjoint of" demo/tiny_mlp.c | sed 's/^/    /'

step "train it: 200 epochs of full-batch gradient descent on y = sin(3 x0) cos(2 x1)"
echo "\$ demo/tiny_mlp train --log demo/tiny_mlp-run"
demo/tiny_mlp train --log demo/tiny_mlp-run | sed -n '1,3p;$p' | sed '3a\  ...'

step "evaluate the trained parameters on fresh data"
echo "\$ demo/tiny_mlp eval --params demo/tiny_mlp-run/params.npz --data 'ripple(n = 1000, seed = 7)'"
demo/tiny_mlp eval --params demo/tiny_mlp-run/params.npz --data 'ripple(n = 1000, seed = 7)'

step "a classifier: examples/spirals.nn (softmax, cross-entropy, Adam, L2, lr decay)"
./nnc build examples/spirals.nn -o demo/spirals
echo "\$ demo/spirals train --log demo/spirals-run"
demo/spirals train --log demo/spirals-run | sed -n '1,2p;$p' | sed '2a\  ...'

step "gradient check of the classifier in float64 (finite differences vs. the adjoint code)"
echo "\$ ./nnc check examples/spirals.nn"
./nnc check examples/spirals.nn | tail -n 8

step "plots"
for d in demo/tiny_mlp-run demo/spirals-run; do
    echo "  $d/curves.png     (learning curves; the numbers are in $d/metrics.csv)"
    echo "  $d/boundary.png   (the model over its 2-D input plane, with the data points)"
done
echo "  each drawn by a gnuplot script beside it (curves.gp, boundary.gp), also as PDF"

