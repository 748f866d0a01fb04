#!/bin/bash
# The readable forms: `./model grad --sample K --print NAMES` prints the
# gradients of one (input, target) pair, as the first assignment asks, and
# they equal a forward and backward pass written independently in numpy.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/readable"
mkdir -p "$D"
PY=/usr/bin/python3

have_numpy() { [ -x $PY ] && $PY -c 'import numpy' 2>/dev/null; }

# ---- grad --print of one sample against numpy ----
t_begin "readable/grad-print/one-sample-vs-numpy"
if ! have_numpy; then
    t_skip "numpy is not installed (python3-numpy)"
elif ! t_build examples/tiny_mlp.nn "$D/tiny" --dtype f64; then
    t_fail "nnc build failed"
else
    t_run "$D/tiny" init --out "$D/p.npz" --seed 5
    t_run $PY -c "
import numpy as np
rng = np.random.default_rng(3)
np.savez('$D/d.npz', x=rng.uniform(-1, 1, (7, 2)), y=rng.uniform(-1, 1, (7, 1)))"
    if ! "$D/tiny" grad --params "$D/p.npz" --data "$D/d.npz" --sample 2 --print W1,b1 \
            >"$D/print.txt" 2>>"$t_log"; then
        t_fail "grad --print failed"
    elif t_run $PY - "$D/print.txt" "$D/p.npz" "$D/d.npz" <<'PYEOF'
import re, sys
import numpy as np
text, P, Dd = open(sys.argv[1]).read(), np.load(sys.argv[2]), np.load(sys.argv[3])
# the first (input, target) pair would be sample 0; sample 2 checks the offset
x, y = Dd['x'][2], Dd['y'][2]
W1, b1, W2, b2, W3, b3 = (P[k] for k in ('W1', 'b1', 'W2', 'b2', 'W3', 'b3'))
z1 = W1 @ x + b1; h1 = np.maximum(z1, 0)
z2 = W2 @ h1 + b2; h2 = np.maximum(z2, 0)
yhat = W3 @ h2 + b3
d_yhat = yhat - y                       # L = (yhat - y)^2 / 2
d_h2 = W3.T @ d_yhat; d_z2 = d_h2 * (z2 > 0)
d_h1 = W2.T @ d_z2;  d_z1 = d_h1 * (z1 > 0)
want = {'W1': np.outer(d_z1, x), 'b1': d_z1}
blocks = re.split(r'\ndL/d(\w+) \[([0-9, ]*)\]\n', text)
got = {}
for name, shape, body in zip(blocks[1::3], blocks[2::3], blocks[3::3]):
    nums = np.array([float(t) for t in re.findall(r'[-+0-9.e]+', body.replace('[', ' ').replace(']', ' '))])
    got[name] = nums.reshape([int(s) for s in shape.split(',')])
assert sorted(got) == ['W1', 'b1'], 'printed %s, expected W1 and b1' % sorted(got)
for k in want:
    err = np.max(np.abs(got[k] - want[k]))
    print(k, 'max abs difference', err)
    assert err <= 1e-8 * (1 + np.max(np.abs(want[k]))), 'dL/d%s: nnc %s, numpy %s' % (k, got[k], want[k])
PYEOF
    then
        t_pass
    else
        cat "$D/print.txt" >>"$t_log"
        t_fail "the printed gradients differ from numpy's"
    fi
fi

# ---- grad --print: layout and errors ----
t_begin "readable/grad-print/layout"
if [ -x "$D/tiny" ] && "$D/tiny" grad --params "$D/p.npz" --data 'ripple(n = 3, seed = 1)' \
        --sample 0 --print b3,W3 >"$D/layout.txt" 2>>"$t_log"; then
    if grep -q '^dL/dW3 \[1, 10\]$' "$D/layout.txt" && grep -q '^\[\[' "$D/layout.txt" &&
       grep -q '^dL/db3 \[1\]$' "$D/layout.txt" && grep -q '^# gradients of the batch objective f over sample 0 of' "$D/layout.txt" &&
       ! grep -q 'dL/dW1' "$D/layout.txt"; then
        t_pass
    else
        cat "$D/layout.txt" >>"$t_log"; t_fail "expected a header, then dL/dW3 [1, 10] and dL/db3 [1] as nested brackets"
    fi
else
    t_fail "grad --print failed"
fi

t_begin "readable/grad-print/errors"
ok=1
"$D/tiny" grad --data 'ripple(n = 3, seed = 1)' --print W4 >"$D/e1.txt" 2>&1 && ok=0
grep -q "'W4' is no parameter of the model; the trainable parameters are W1, b1, W2, b2, W3, b3" "$D/e1.txt" || ok=0
"$D/tiny" grad --data 'ripple(n = 3, seed = 1)' --print b1 --sample 3 >"$D/e2.txt" 2>&1 && ok=0
grep -q -- "--sample 3: .* has 3 samples (0 to 2)" "$D/e2.txt" || ok=0
"$D/tiny" grad --data 'ripple(n = 3, seed = 1)' >"$D/e3.txt" 2>&1 && ok=0
grep -q -- "grad needs --out G.npz, or --print" "$D/e3.txt" || ok=0
cat "$D"/e[123].txt >>"$t_log"
if [ $ok = 1 ]; then t_pass; else t_fail "expected clear errors for an unknown name, a sample out of range, no output"; fi
