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
