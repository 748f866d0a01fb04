#!/bin/bash
# End-to-end: convolutions and pools (conv2d, conv1d, maxpool2d, ...; the
# op-conformance suite, tests/ops, checks each against PyTorch and finite
# differences): their diagnostics, a convolution without a bias, the
# `conv` sugar's parameters, --report's FLOPs counted by hand, and
# `nnc explain`'s sum for one kernel weight, against a hand derivation.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/conv"
mkdir -p "$D"

# model TEXT (the lines after the declarations) into $D/m.nn
model() {
    printf 'input img[3, 8, 8]\ntarget y[1]\nparam K[4, 3, 3, 3] = he_uniform\nparam b[4] = zeros\n%s\nloss = 0.5 * (sum(h) - sum(y))^2\n' "$1" >"$D/m.nn"
}

# error TEST LINE MESSAGE: the model fails with exit status 1, the message
# (fixed text) and no output file
error() {
    t_begin "conv/error/$1"
    model "$2"
    rm -f "$D/m.c"
    "$NNC" "$D/m.nn" -o "$D/m.c" >>"$t_log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" "$t_log" && [ ! -e "$D/m.c" ]; then t_pass
    else t_fail "expected exit status 1 (got $rc), no m.c and: $3"; fi
}
error kernel-larger-than-padded "param K9[4, 3, 9, 9] = zeros
h = conv2d(img, K9, b)" "conv2d: the kernel ([4, 3, 9, 9]) is larger than the input [3, 8, 8] along axis 1 (9 > 8)"
error channels "param K2[4, 2, 3, 3] = zeros
h = conv2d(img, K2, b)" "conv2d: channels do not match: the input [3, 8, 8] has 3, the kernel [4, 2, 3, 3] takes 2 (its second axis)"
error bias "param b3[3] = zeros
h = conv2d(img, K, b3)" "conv2d: the bias must be [4], one number per output channel of the kernel [4, 3, 3, 3], not [3]"
error stride "h = conv2d(img, K, b, stride = 0)" "conv2d: stride must be an integer constant of at least 1"
error input-rank "param v[8] = zeros
h = conv2d(v, K, b)" "conv2d: the input must be [C, H, W], not [8]"
error pool-window "h = maxpool2d(img, 9)" "maxpool2d: the window ([9, 9]) is larger than the input [3, 8, 8] along axis 1 (9 > 8)"
error unknown-argument "h = conv2d(img, K, b, padding = 1)" "conv2d has no argument 'padding'"

t_begin "conv/warning/stride-does-not-fit"
model "h = conv2d(img, K, b, stride = 2)"
if t_run "$NNC" "$D/m.nn" -o "$D/m.c" &&
   grep -qF "warning: conv2d: stride 2 does not fit the input [3, 8, 8] along axis 1: the kernel ([4, 3, 3, 3]) leaves the last 1 of 8 positions out (as PyTorch does)" "$t_log"
then t_pass; else t_fail "expected the warning naming both shapes"; fi

# no bias: the constant 0 in the IR, no gradient for it; the gradients pass check
t_begin "conv/no-bias-checks"
model "h = tanh(conv2d(img, K, pad = 1))
example {
  img = $(/usr/bin/python3 -c 'import numpy as np; print((np.arange(192).reshape(3, 8, 8) % 7 / 7 - 0.4).round(3).tolist())')
  y = [0.5]
}"
if t_run "$NNC" --emit=ir "$D/m.nn" && grep -q "h_1 = conv2d(img, K, pad = 1)" "$t_log" &&
   t_run "$NNC" check "$D/m.nn" && grep -q "^PASS: all 2 parameters" "$t_log"; then t_pass
else t_fail "expected conv2d(img, K, pad = 1) in the IR and a passing check"; fi

# conv(h, n, k): conv1_W [n, C, k, k] and conv1_b [n], uniform in +-1/sqrt(C k k)
t_begin "conv/sugar-parameters"
model "h = conv(img, 5, 3, stride = 2)"
if t_run "$NNC" --emit=ir "$D/m.nn" &&
   grep -q "^param conv1_W \[5, 3, 3, 3\] uniform(-0.19245, 0.19245)$" "$t_log" &&
   grep -q "^param conv1_b \[5\] uniform(-0.19245, 0.19245)$" "$t_log" &&
   grep -q "conv2d %[0-9]*, %[0-9]*, %[0-9]* \[stride=2,pad=0\] : \[5, 3, 3\] batch" "$t_log"; then t_pass
else t_fail "expected conv1_W [5, 3, 3, 3], conv1_b [5] and a [5, 3, 3] result"; fi

# LeNet-5's first layer, by hand: 6 x 28 x 28 outputs of 25 multiply-adds
# (2 FLOPs) each, 235200 forward; backward the kernel's gradient as much
# (the input's is not needed: img is data) and the bias's 4704
t_begin "conv/report-flops-by-hand"
cat >"$D/lenet1.nn" <<'NN'
input img[1, 28, 28]
target y[1]
param K1[6, 1, 5, 5] = he_uniform
param b1[6] = zeros
z1 = conv2d(img, K1, b1, pad = 2)
loss = 0.5 * (sum(z1) - sum(y))^2
NN
if t_run "$NNC" --report "$D/lenet1.nn" &&
   grep -Eq '^ +5  z1 = conv2d\(img, K1, b1, pad = 2\) +156 +235200 +239904 ' "$t_log"; then t_pass
else t_fail "expected 156 parameters, 235200 FLOPs forward and 235200 + 4704 backward"; fi

# by hand: img = 1..16 as a 4 x 4 map, loss = sum(conv2d(img, K)) with a
# 3 x 3 kernel: the 2 x 2 outputs each have dL/dy = 1, so dL/dK[0,0,1,1] is
# the sum of the inputs under the kernel's centre: 6 + 7 + 10 + 11 = 34
t_begin "conv/explain-one-kernel-weight"
cat >"$D/hand.nn" <<'NN'
input img[1, 4, 4]
param K[1, 1, 3, 3] = ones
loss = sum(conv2d(img, K))
example {
  img = [[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]
}
NN
if t_run "$NNC" explain "$D/hand.nn" --wrt 'K[0,0,1,1]' &&
   grep -qF "dL/dK[0,0,1,1] = dL/dloss_1[0,0,0] * img[0,1,1] + dL/dloss_1[0,0,1] * img[0,1,2] + dL/dloss_1[0,1,0] * img[0,2,1] + dL/dloss_1[0,1,1] * img[0,2,2]" "$t_log" &&
   grep -qF "= 1 * 6 + 1 * 7 + 1 * 10 + 1 * 11" "$t_log" &&
   grep -q "^  dL/dK\[0,0,1,1\] = 34$" "$t_log"; then t_pass
else t_fail "expected the sum of four terms, 34"; fi
