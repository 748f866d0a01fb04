#!/bin/bash
# End-to-end: how numbers are printed for people to read.  Generated C and
# config.json write the shortest decimal that reads back as the same double
# (0.1, not 0.10000000000000001) and keep the bits; `nnc explain --lr`
# shows the updated weight with the digits that change; `--latex` writes
# math, not C (no `?:` or `>` tests, temporaries apart from indices);
# `nnc check --print` shows enough digits and a relative error per entry.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/numbers"
rm -rf "$D"
mkdir -p "$D"
long='[0-9]\.[0-9]*\(0000000000\|9999999999\)[0-9]'

t_begin "numbers/generated-c-shortest"
if ! t_run "$NNC" examples/spirals.nn -o "$D/spirals.c" ||
   ! t_run "$NNC" tests/golden/sigmoid.nn -o "$D/sigmoid.c"; then
    t_fail "nnc failed"
elif grep -n "$long" "$D/spirals.c" "$D/sigmoid.c" >>"$t_log"; then
    t_fail "generated C has numbers with 17 digits where fewer read back the same"
elif ! grep -q 'noise = 0.1, seed = 1' "$D/spirals.c" || ! grep -q '0.1, 0.2, 0.3' "$D/sigmoid.c"; then
    t_fail "expected 'noise = 0.1' and '0.1, 0.2, 0.3' in the generated C"
else
    t_pass
fi

t_begin "numbers/same-bits"   # the initial parameters, byte for byte as the literals say
cat >"$D/lit.nn" <<'EOF'
input x[3]
target y[1]
param W[1, 3] = [[0.1, 0.7, 1e-7]]
param b[1] = uniform(0.3, 0.30000000000000004)
loss = sum((W @ x + b - y)^2)
EOF
if ! t_run "$NNC" "$D/lit.nn" -o "$D/lit.c" || ! t_build "$D/lit.nn" "$D/lit" --dtype f64 ||
   ! t_run "$D/lit" init --out "$D/lit.npz"; then
    t_fail "nnc or the trainer failed"
elif ! grep -q '0.1, 0.7, 1e-07' "$D/lit.c" || ! grep -q '.b = 0.30000000000000004' "$D/lit.c"; then
    t_fail "expected the literals as 0.1, 0.7, 1e-07 and .b = 0.30000000000000004 in the C"
elif ! t_run /usr/bin/python3 -c "
import numpy as np
p = np.load('$D/lit.npz')
assert p['W'].tolist() == [[0.1, 0.7, 1e-7]], p['W']
assert 0.3 <= p['b'][0] <= 0.30000000000000004, p['b']"; then
    t_fail "the parameters are not the doubles the literals name"
else
    t_pass
fi

t_begin "numbers/config-json-shortest"
if t_build examples/xor.nn "$D/xor" &&
   t_run "$D/xor" train --epochs 1 --optimizer 'sgd(lr = 0.1, momentum = 0.9)' --log "$D/run" &&
   grep -q '"momentum": 0.9,' "$D/run/config.json" && ! grep -q "$long" "$D/run/config.json"; then
    t_pass
else
    t_fail "config.json: $(grep optimizer "$D/run/config.json")"
fi

# the update of W1[0,0] shows the change with 6 digits of its own: the
# printed gradient g and the printed new weight give back g to 2e-6
t_begin "numbers/explain-lr-digits"
if t_run "$NNC" explain tests/e2e/models/sigmoid2.nn --wrt 'W1[0,0]' --lr 0.1; then
    g=$(awk '/^  dL\/dW1\[0,0\] = / { print $3 }' "$t_log")
    w=$(awk '/after one step/ { getline; getline; sub(/^ *= */, ""); print; exit }' "$t_log")
    if awk -v g="$g" -v w="$w" 'BEGIN { d = (0.1 - w) / 0.1 - g; if (d < 0) d = -d; exit !(g != "" && d <= 2e-6 * g) }'; then
        t_pass
    else
        t_fail "W1[0,0] after one step printed as '$w' does not show the step 0.1 * $g"
    fi
else t_fail "nnc explain failed"; fi

t_begin "numbers/explain-latex-math"
if ! t_run "$NNC" explain tests/e2e/models/relu_explain.nn --wrt 'W1[0,0]' --latex; then
    t_fail "nnc explain --latex failed"
elif grep -n ' ? \|> 0)' "$t_log"; then
    t_fail "C's notation in the LaTeX (a ternary or a bare comparison)"
elif ! grep -q '\\mathbf{1}\[h > 0\]' "$t_log"; then
    t_fail "expected relu's derivative as the indicator \\mathbf{1}[h > 0]"
elif grep -q 'h_{1}\|r_{2}' "$t_log" || ! grep -q 'h^{\\langle 1\\rangle} &= W_{1} \\, x' "$t_log"; then
    t_fail "the temporaries h_1, r_2 should read h^{\\langle 1\\rangle}, not as neuron indices"
else
    t_pass
fi

t_begin "numbers/check-print"
if ! t_run "$NNC" check tests/golden/sigmoid.nn --print=W2; then
    t_fail "nnc check --print failed"
elif ! grep -q '^analytic (backward pass) *numeric (central differences) *rel err$' "$t_log"; then
    t_fail "expected the columns analytic, numeric and rel err"
elif [ "$(grep -cE '^ ?\[+ ?-?[0-9]\.[0-9]{9}e[-+][0-9]+ +-?[0-9]\.[0-9]{9}e.* \[+ ?[0-9]\.[0-9]e-[0-9]+ +[0-9]\.[0-9]e-[0-9]+\]+$' "$t_log")" != 2 ]; then
    t_fail "expected two rows of 10-digit gradients and 2-digit relative errors"
else
    t_pass
fi
