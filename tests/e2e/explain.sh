#!/bin/bash
# End-to-end: `nnc explain` -- its numbers against a chain rule computed here
# by hand (awk), the second assignment's sigmoid network against numpy, the
# sample from the command line, and clear errors.  The text and LaTeX forms
# are golden files (tests/golden/run.sh).
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/explain"
mkdir -p "$D"
CHAIN=tests/e2e/models/chain.nn
SIG=tests/e2e/models/sigmoid2.nn

# result FILE NAME: the number after "NAME = " on the Result lines
result() { awk -v k="$2 = " 'f && index($0, k) { s = substr($0, index($0, k) + length(k)); print s; exit }
                             /^Result/ { f = 1 }' "$1"; }
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
                                           exit !(a != "" && d <= 1e-5 * (m > 1e-12 ? m : 1e-12)) }'; }

# by hand: z1 = w1 x + b1, h = tanh z1, z2 = w2 h, yhat = sigmoid z2,
# dL/dyhat = yhat - y, dL/dz2 = dL/dyhat yhat (1 - yhat), dL/dh = w2 dL/dz2,
# dL/dz1 = dL/dh (1 - h^2), dL/dw1 = dL/dz1 x; one step w1 - 0.1 dL/dw1
read -r want_g want_w < <(awk 'BEGIN { x = 2; y = 1; w1 = 0.5; b1 = 0.1; w2 = -1.5
    z1 = w1 * x + b1; h = (exp(2 * z1) - 1) / (exp(2 * z1) + 1); z2 = w2 * h
    yh = 1 / (1 + exp(-z2)); dz2 = (yh - y) * yh * (1 - yh); dh = w2 * dz2
    dz1 = dh * (1 - h * h); g = dz1 * x; printf "%.10g %.10g\n", g, w1 - 0.1 * g }')

t_begin "explain/chain-rule-by-hand"
if t_run "$NNC" explain $CHAIN --wrt 'w1[0,0]' --lr 0.1; then
    got_g=$(result "$t_log" "dL/dw1[0,0]")
    got_w=$(awk '/after one step/ { getline; getline; sub(/^ *= */, ""); print; exit }' "$t_log")
    if close "$got_g" "$want_g" && close "$got_w" "$want_w"; then t_pass
    else t_fail "dL/dw1[0,0] = '$got_g' (want $want_g), after the step '$got_w' (want $want_w)"; fi
else t_fail "nnc explain failed"; fi

t_begin "explain/chain-rule-steps"
# each step of the hand derivation appears with its rule
if t_run "$NNC" explain $CHAIN --wrt 'w1[0,0]' && grep -q "dL/dyhat_1 = dL/dyhat \* sigmoid'(yhat_1)" "$t_log" &&
   grep -q "= dL/dyhat \* yhat \* (1 - yhat)" "$t_log" &&
   grep -q "dL/dh_2 = dL/dh \* tanh'(h_2)" "$t_log" &&
   grep -q "= dL/dh \* (1 - h^2)" "$t_log" &&
   grep -q "dL/dw1\[0,0\] = dL/dh_2 \* x" "$t_log"; then t_pass
else t_fail "expected the sigmoid', tanh' and entry steps"; fi

t_begin "explain/sample-on-the-command-line"
ex() { "$NNC" explain $SIG --wrt 'W1[0,0]' "$@" >"$D/ex.txt" 2>>"$t_log"; cat "$D/ex.txt" >>"$t_log"
       result "$D/ex.txt" "dL/dW1[0,0]"; }
from_block=$(ex) same=$(ex --x 0.5,0.5,0.1 --y 0.9,0.1) other=$(ex --x 1,0,0)
if [ "$from_block" = 0.00950088 ] && [ "$same" = "$from_block" ] && [ -n "$other" ] &&
   [ "$other" != "$from_block" ]; then
    t_pass
else t_fail "--x/--y should replace the example block's values: $from_block, $same, $other"; fi

t_begin "explain/assignment-network-vs-numpy"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_skip "/usr/bin/python3 has no numpy (apt-get install python3-numpy)"
elif ! t_run "$NNC" explain $SIG --wrt W1 --lr 0.1; then
    t_fail "nnc explain failed"
elif /usr/bin/python3 - "$t_log" >>"$t_log" 2>&1 <<'PY'; then t_pass; else t_fail "numpy disagrees"; fi
import ast, sys
import numpy as np
text = open(sys.argv[1]).read().split("\nResult\n")[1]
lines = [l.strip() for l in text.splitlines()]
got = np.array(ast.literal_eval(lines[0].split(" = ", 1)[1]))
new = np.array(ast.literal_eval(lines[3].lstrip("= ")))
sig = lambda z: 1 / (1 + np.exp(-z))
x, y = np.array([0.5, 0.5, 0.1]), np.array([0.9, 0.1])
W1, b1 = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), np.array([0.1, 0.2])
W2, b2 = np.array([[0.7, 0.8], [0.9, 1.0]]), np.array([0.3, 0.4])
h = sig(W1 @ x + b1); yhat = sig(W2 @ h + b2)
d2 = (yhat - y) * yhat * (1 - yhat)
d1 = (W2.T @ d2) * h * (1 - h)
want = np.outer(d1, x)
print("explain:", got.tolist(), "\nnumpy:  ", want.tolist())
assert np.allclose(got, want, rtol=1e-5, atol=1e-12), "dL/dW1"
assert np.allclose(new, W1 - 0.1 * want, rtol=1e-5), "W1 after one step"
PY

t_begin "explain/errors"
ok=1
"$NNC" explain $SIG --wrt 'W3[0,0]' >"$D/e1" 2>&1 && ok=0
grep -q "'W3' is no parameter of the model (did you mean 'W1'?); the parameters are W1, b1, W2, b2" "$D/e1" || ok=0
"$NNC" explain $SIG --wrt 'W1[2,0]' >"$D/e2" 2>&1 && ok=0
grep -q "W1 is \[2, 3\]; an entry is W1\[i, j\] with 0-based indices" "$D/e2" || ok=0
"$NNC" explain $SIG --wrt 'W1[0]' >"$D/e3" 2>&1 && ok=0
grep -q "give all 2 indices" "$D/e3" || ok=0
"$NNC" explain $SIG --wrt W1 --x 1,2 >"$D/e4" 2>&1 && ok=0
grep -q "'1,2' is 2 values, the model's x has 3" "$D/e4" || ok=0
"$NNC" explain $SIG >"$D/e5" 2>&1 && ok=0
grep -q "needs --wrt" "$D/e5" || ok=0
for c in 3 1.5 -1; do   # a class label outside class(3), or not an integer
    "$NNC" explain examples/spirals.nn --wrt b3 --c $c >"$D/e6" 2>&1 && ok=0
    grep -q -- "--c $c: 'c' is a class label in \[0, 3)" "$D/e6" || ok=0
    cat "$D/e6" >>"$t_log"
done
cat "$D"/e[1-5] >>"$t_log"
if [ $ok = 1 ]; then t_pass; else t_fail "expected eight clear errors"; fi

# --digits 17: every number as the double it is (the op-conformance suite
# compares them with the trainers'); 6 by default
t_begin "explain/digits"
if t_run "$NNC" explain tests/golden/sigmoid.nn --wrt 'W1[0,0]' --digits 17 &&
   grep -qx "  dL/dW1\[0,0\] = 0.010367630760567528" "$t_log" &&
   ! t_run "$NNC" explain tests/golden/sigmoid.nn --wrt W1 --digits 18 &&
   grep -q -- "--digits 18: a number of significant digits, 1 to 17" "$t_log"; then
    t_pass
else
    t_fail "expected dL/dW1[0,0] = 0.010367630760567528 with --digits 17, an error for 18"
fi

# random initial parameters from a file: explain's gradient is the f64
# trainer's `grad` on the same sample
t_begin "explain/matches-the-trainer"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_skip "/usr/bin/python3 has no numpy (apt-get install python3-numpy)"
elif ! t_build examples/tiny_mlp.nn "$D/tiny" --dtype f64 || ! t_run "$D/tiny" init --out "$D/p.npz" --seed 5 ||
     ! t_run /usr/bin/python3 -c "import numpy as np; np.savez('$D/d.npz', x=np.array([[0.5, 0.5]]), y=np.array([[0.9]]))" ||
     ! t_run "$D/tiny" grad --params "$D/p.npz" --data "$D/d.npz" --out "$D/g.npz" ||
     ! "$NNC" explain examples/tiny_mlp.nn --wrt W2 --params "$D/p.npz" >"$D/w2.txt" 2>>"$t_log"; then
    t_fail "building, init, grad or explain failed"
elif /usr/bin/python3 - "$D/w2.txt" "$D/g.npz" >>"$t_log" 2>&1 <<'PY'; then t_pass; else t_fail "explain and ./model grad disagree"; fi
import ast, sys
import numpy as np
text = open(sys.argv[1]).read().split("\nResult\n")[1]
got = np.array(ast.literal_eval(text.splitlines()[0].split(" = ", 1)[1]))
want = np.load(sys.argv[2])["W2"]
print("explain:", got.tolist(), "\ngrad:   ", want.tolist())
assert np.allclose(got, want, rtol=2e-5, atol=1e-9)
PY

# no TeX in the test environment: check the LaTeX form's structure -- braces
# balance on every line, each align* is closed, nothing is left unescaped
t_begin "explain/latex-structure"
if t_run "$NNC" explain examples/sweep.nn --x 0.1,0.2 --y 1 --wrt 'dense1_W[0,1]' --lr 0.1 --latex &&
   awk '/^\$ / { next }
        /^%/ { next }
        { s = $0; gsub(/\\[{}]/, "", s); o = gsub(/{/, "", s); c = gsub(/}/, "", s)
          if (o != c) { print "unbalanced braces: " $0; bad = 1 } }
        /\\begin\{align\*\}/ { if (open) bad = 1; open = 1 }
        /\\end\{align\*\}/ { if (!open) bad = 1; open = 0; n++ }
        /[^\\]_W|dense1_/ { print "unescaped: " $0; bad = 1 }
        END { exit bad || open || n != 4 }' "$t_log"; then
    t_pass
else t_fail "malformed LaTeX"; fi

# a parameter that reaches the loss only through a comparison has gradient
# 0, and explain says why rather than that it does not affect the loss
t_begin "explain/only-through-a-comparison"
cat >"$D/mask.nn" <<'NN'
input  x[2]
target y[2]
param  W[2, 2] = identity
param  b[2] = zeros
loss = sum((W @ x > y) * y)
example {
  x = [1, 2]
  y = [0.5, 3]
}
NN
if t_run "$NNC" explain "$D/mask.nn" --wrt 'W[0,0]' &&
   grep -q "W affects the loss only through comparisons or stop_gradient: its gradient is 0" "$t_log" &&
   t_run "$NNC" explain "$D/mask.nn" --wrt 'b[0]' && grep -q "b does not affect the loss" "$t_log"; then
    t_pass
else t_fail "explain did not say that W reaches the loss only through a comparison"; fi
