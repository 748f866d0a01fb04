#!/bin/bash
# End-to-end: `nnc --report` against numbers counted by hand -- the fifth
# assignment's parameter counts for every depth x width of examples/sweep.nn,
# and the FLOPs and kept activations of the second assignment's network.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
SIG=tests/e2e/models/sigmoid2.nn

# 2 inputs, `depth` tanh layers of `width` (weights and biases), one logit
t_begin "report/sweep-parameter-counts"
ok=1
for depth in 0 1 2 3; do
    for width in 1 2 3; do
        if [ $depth = 0 ]; then want=3
        else want=$((2 * width + width + (depth - 1) * (width * width + width) + width + 1)); fi
        got=$("$NNC" --report examples/sweep.nn -D depth=$depth -D width=$width |
              sed -n 's/^parameters: \([0-9]*\) .*/\1/p')
        echo "depth $depth width $width: $got parameters (by hand: $want)" >>"$t_log"
        [ "$got" = "$want" ] || ok=0
    done
done
if [ $ok = 1 ]; then t_pass; else t_fail "parameter counts differ from the hand counts"; fi

# by hand, per sample: line 10 forward W1 @ x 2*2*3 = 12, + b1 2, sigmoid
# 1 / (1 + exp(-z)) 4 * 2 = 8: 22; backward d_h_2 = d_h * h * (1 - h) 3 * 2
# + 2 (into the buffer), d_b1 2, d_W1 = d_h_2 x' 12: 22.  Line 11: 8 + 2 + 8
# = 18 forward; backward 8 + 2 + 8 (d_W2) + 8 (d_h = W2' d_yhat_2) = 26.
# Line 12: y - yhat 2, ^2 2, sum 2, 0.5 * 1: 7.
t_begin "report/flops-and-kept-by-hand"
if t_run "$NNC" --report $SIG &&
   grep -Eq '^ +10  h    = sigmoid\(W1 @ x \+ b1\) +8 +22 +22 +2$' "$t_log" &&
   grep -Eq '^ +11  yhat = sigmoid\(W2 @ h \+ b2\) +6 +18 +26 +2$' "$t_log" &&
   grep -Eq '^ +12  loss = .* +0 +7 +14 +2$' "$t_log" &&
   grep -q '^parameters: 14 (14 trainable)' "$t_log" &&
   grep -Eq '^  h +\[2\] +line 10 +read by  d_W2 \+= d_yhat_2 @ h' "$t_log" &&
   grep -Eq '^  x +\[3\] +line 4 +read by  d_W1 \+= d_h_2 @ x' "$t_log"; then
    t_pass
else t_fail "expected the hand-counted parameters, FLOPs and kept values"; fi
