#!/bin/bash
# End-to-end: numpy's broadcasting for elementwise ops (docs/language.md,
# Broadcasting; the op-conformance suite, tests/ops, checks every
# elementwise op with stretched operands against PyTorch and finite
# differences, and tests/torch/models/broadcast.nn a convolution's
# per-channel bias written as a sum): the shape rule and its diagnostic,
# the loops plan.c's cg_nest plans (a loop per run of axes, the bias read
# at [i], its gradient a sum into a local) and a fused loop's reads (the
# bias at i / 16) in the C trainer, --style=loops, the JIT against the C trainer, nnc explain's sum for one
# entry of a stretched parameter against a hand derivation, --report.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/broadcast"
mkdir -p "$D"

# a model: an input x[6, 4, 4], target y[1], and TEXT for h
model() {
    printf 'input x[6, 4, 4]\ntarget y[1]\nparam b[6, 1, 1] = uniform(-0.5, 0.5)\n%s\nloss = 0.5 * (sum(h) - sum(y))^2\n' "$1" >"$D/m.nn"
}

# error TEST LINE MESSAGE: exit status 1, the message (fixed text), no output
error() {
    t_begin "broadcast/error/$1"
    model "$2"
    rm -f "$D/m.c"
    "$NNC" "$D/m.nn" -o "$D/m.c" >>"$t_log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" "$t_log" && [ ! -e "$D/m.c" ]; then t_pass
    else t_fail "expected exit status 1 (got $rc), no m.c and: $3"; fi
}
error middle-axis "param c[6, 2, 1] = zeros
h = x + c" "error: '+': shapes [6, 4, 4] and [6, 2, 1] do not broadcast (aligned from the right, each dimension must equal the other's or be 1)"
error transposed "param c[4, 6] = zeros
h = sum(x) * (b[0] + c) + c' * b[0]" "error: '+': shapes [4, 6] and [6, 4] do not broadcast"

# the result has the larger of each pair of dimensions
t_begin "broadcast/shape-rule"
model "param a[3, 1] = zeros
param u[1, 4] = zeros
param s[1, 1] = zeros
param v[3] = zeros
h = sum(x + b) * (a * u) + sum(s + v)"
if t_run "$NNC" --emit=ir "$D/m.nn" &&
   grep -q "= add %[0-9]*, %[0-9]* : \[6, 4, 4\] batch .* = x + b " "$t_log" &&
   grep -q "= mul %[0-9]*, %[0-9]* : \[3, 4\] .* = a \* u " "$t_log" &&
   grep -q "= add %[0-9]*, %[0-9]* : \[1, 3\] .* = s + v " "$t_log"; then t_pass
else t_fail "expected x + b [6, 4, 4], a * u [3, 4] and s + v [1, 3]"; fi

# the C trainer: a step of its own loops with i over the channels, j over
# each map, the bias at [i]; its gradient a sum over j and the samples into
# a local, one add per channel
t_begin "broadcast/c-loops"
model "h = x + b"
if t_run "$NNC" "$D/m.nn" -o "$D/m.c" &&
   grep -A4 '/\* h = x + b ' "$D/m.c" >"$D/fwd.txt" &&
   grep -q '^    for (int i = 0; i < 6; i++)$' "$D/fwd.txt" &&
   grep -q '^        for (int j = 0; j < 16; j++)$' "$D/fwd.txt" &&
   grep -qF 'h[(i * 16 + j) * n + b] = x[(i * 16 + j) * n + b] + b_[i];' "$D/fwd.txt" &&
   grep -A9 '/\* d_b += d_h ' "$D/m.c" >"$D/bwd.txt" &&
   grep -qF 'real s = 0;' "$D/bwd.txt" &&
   grep -qF 's += d_h[(i * 16 + j) * n + b];' "$D/bwd.txt" &&
   grep -qF 'd_b[i] += s;' "$D/bwd.txt"; then t_pass
else cat "$D/fwd.txt" "$D/bwd.txt" >>"$t_log" 2>/dev/null; t_fail "expected loops over i and j reading b_[i], and d_b[i] += s"; fi

# fused with the step after it, in one loop over every element i: the
# bias at i / 16 (its channel), a [3, 1, 2] over [3, 4, 2] at i / 8 * 2 + i % 2
t_begin "broadcast/c-fused"
model "param c[3, 1, 2] = zeros
input z[3, 4, 2]
h = tanh(x + b) * sum(tanh(z - c))"
if t_run "$NNC" "$D/m.nn" -o "$D/m.c" &&
   grep -qF 'real h_1_ = x[i * n + b] + b_[i / 16];' "$D/m.c" &&
   grep -qF 'real h_3_ = z[i * n + b] - c[i / 8 * 2 + i % 2];' "$D/m.c" &&
   grep -qF 'h_2[i * n + b] = h_2_;' "$D/m.c"; then t_pass
else t_fail "expected x + b and z - c fused with tanh, b_ read at i / 16, c at i / 8 * 2 + i % 2"; fi

model "h = tanh(x + b)"
t_begin "broadcast/style-loops"
if t_run "$NNC" "$D/m.nn" --style=loops -o "$D/ml.c" &&
   grep -qF 'h_1[i][j][k] = x[i][j][k] + b_[i][0][0];' "$D/ml.c" &&
   grep -qF 'd_b[i][0][0] += d_h_1[i][j][k];' "$D/ml.c"; then t_pass
else t_fail "expected b_[i][0][0] and d_b[i][0][0] in the loops"; fi

# the JIT follows the same nest: its gradients and loss agree with the C
# trainer's on tests/torch/models/broadcast.nn (conv2d(x, K) + b[6, 1, 1],
# a [3, 1] times a per-sample [1, 4]), in both precisions
M=tests/torch/models/broadcast.nn
if "$NNC" --emit=llvm "$M" 2>&1 >/dev/null | grep -q "built without LLVM"; then
    t_begin "broadcast/c-and-jit"
    t_skip "nnc was built without LLVM (install llvm-dev: scripts/deps.sh, then make)"
else
    for dt in f32 f64; do
        t_begin "broadcast/c-and-jit/$dt"
        tol=1e-12; [ $dt = f32 ] && tol=1e-5
        if t_build "$M" "$D/bc.$dt" --dtype $dt &&
           t_run "$D/bc.$dt" init --out "$D/bc.$dt.p.npz" --seed 3 &&
           t_run "$D/bc.$dt" grad --params "$D/bc.$dt.p.npz" --data "random(n = 37)" --out "$D/bc.$dt.gc.npz" &&
           t_run "$NNC" run "$M" --dtype $dt grad --params "$D/bc.$dt.p.npz" --data "random(n = 37)" \
               --out "$D/bc.$dt.gj.npz" &&
           t_run /usr/bin/python3 -c 'import sys, numpy as np
c, j, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
assert sorted(c.files) == sorted(j.files) == ["K", "W", "a", "b", "c", "m"], c.files
for k in c.files:
    err = np.abs(c[k] - j[k]).max() / max(np.abs(c[k]).max(), 1e-300)
    print(k, c[k].shape, "relative error", err)
    assert np.all(np.isfinite(c[k])) and err <= tol, k' "$D/bc.$dt.gc.npz" "$D/bc.$dt.gj.npz" $tol; then
            t_pass
        else
            t_fail "nnc run's gradient differs from the C trainer's ($dt, relative $tol)"
        fi
    done
fi

# by hand: loss = sum((x + b) * x) with x = 1..8 as [2, 2, 2] and b[2, 1, 1]:
# dL/db[1] sums dL/d(x + b) = x over the second channel: 5 + 6 + 7 + 8 = 26
t_begin "broadcast/explain-one-entry"
cat >"$D/hand.nn" <<'NN'
input x[2, 2, 2]
param b[2, 1, 1] = ones
loss = sum((x + b) * x)
example {
  x = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
}
NN
if t_run "$NNC" explain "$D/hand.nn" --wrt 'b[1,0,0]' &&
   grep -qF "(since loss_1 = x + b, summed to [2, 1, 1])" "$t_log" &&
   grep -qF "dL/db[1,0,0] = dL/dloss_1[1,0,0] + dL/dloss_1[1,0,1] + dL/dloss_1[1,1,0] + dL/dloss_1[1,1,1]" "$t_log" &&
   grep -qF "= 5 + 6 + 7 + 8" "$t_log" &&
   grep -q "^  dL/db\[1,0,0\] = 26$" "$t_log"; then t_pass
else t_fail "expected the sum of the second channel's four terms, 26"; fi

# The whole tensor: values of three axes nested as numpy prints them (an
# axis of more than 12 entries abbreviated), and the stretched operand's
# step shows its values and then their sums, of b's shape
t_begin "broadcast/explain-whole-tensor"
printf 'input x[14, 2, 14]\nparam b[14, 1, 1] = ones\nloss = sum((x + b) * x)\n' >"$D/big.nn"
if t_run "$NNC" explain "$D/hand.nn" --wrt b &&
   grep -qF "  x = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]" "$t_log" &&
   grep -A2 -F "(since loss_1 = x + b, summed to [2, 1, 1])" "$t_log" | tail -n 2 | tr -s ' ' >"$D/summed.txt" &&
   [ "$(cat "$D/summed.txt")" = " = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
 = [[[10]], [[26]]]" ] &&
   t_run "$NNC" explain "$D/big.nn" --wrt b --x "$(seq -s, 0 391)" &&
   grep -qF "  x = [[[0, 1, 2, 3, ..., 12, 13], [14, 15, 16, 17, ..., 26, 27]], [[28, 29, 30, 31, ..., 40, 41], [42, 43, 44, 45, ..., 54, 55]], ..., [[364, 365, 366, 367, ..., 376, 377], [378, 379, 380, 381, ..., 390, 391]]]" "$t_log"; then t_pass
else t_fail "expected x nested, d_b's step's values and then [[[10]], [[26]]], and [14, 2, 14] abbreviated"; fi

# an outer product of a shared [3, 1] and a per-sample [1, 4]: 12 products
# forward; backward a's gradient multiplies and adds 12 times (24: u is data)
t_begin "broadcast/report-flops-by-hand"
cat >"$D/outer.nn" <<'NN'
input u[1, 4]
target y[1]
param a[3, 1] = ones
o = a * u
loss = 0.5 * (sum(o) - sum(y))^2
NN
if t_run "$NNC" --report "$D/outer.nn" &&
   grep -Eq '^ +4  o = a \* u +3 +12 +24 ' "$t_log"; then t_pass
else t_fail "expected 3 parameters, 12 FLOPs forward and 24 backward"; fi
