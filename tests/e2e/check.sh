#!/bin/bash
# End-to-end: `nnc check` (finite differences against the backward pass, in
# float64) passes on correct gradients and fails -- exit status 1, FAIL in
# the table -- when one adjoint rule is deliberately wrong
# (NNC_TEST_CORRUPT_RULE, a test-only switch of src/ad/reverse.c); --print
# shows both gradients side by side; --data with --batch checks a batch.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/check"
mkdir -p "$D"
SIG=tests/e2e/models/sigmoid2.nn

for m in examples/tiny_mlp.nn $SIG; do
    n=$(basename "$m" .nn)
    t_begin "check/$n/passes"
    if t_run "$NNC" check "$m" && grep -q "^PASS: all" "$t_log"; then t_pass
    else t_fail "nnc check $m did not pass"; fi
done

# relu in tiny_mlp, sigmoid in the assignment's network: treat f'(a) as 1
for case in "examples/tiny_mlp.nn relu" "$SIG sigmoid"; do
    set -- $case
    t_begin "check/$(basename "$1" .nn)/fails-with-wrong-$2-rule"
    NNC_TEST_CORRUPT_RULE=$2 t_run "$NNC" check "$1"
    rc=$?
    if [ $rc = 1 ] && grep -q "^FAIL: " "$t_log" && grep -q "^W1 .* FAIL$" "$t_log"; then t_pass
    else t_fail "expected exit 1 and W1 FAIL with a wrong $2 rule, got exit $rc"; fi
done

t_begin "check/print-side-by-side"
if t_run "$NNC" check $SIG --print=W1,b2 &&
   grep -q "^dL/dW1 \[2, 3\]" "$t_log" && grep -q "^dL/db2 \[2\]" "$t_log" &&
   ! grep -q "^dL/db1" "$t_log" &&
   grep -q "^analytic (backward pass) *numeric (central differences) *rel err$" "$t_log" &&
   grep -Eq '^\[\[ 9\.500879489e-03  9\.500879489e-03  1\.900175898e-03\] +\[\[ 9\.50087947[0-9]e-03' "$t_log"; then
    t_pass
else t_fail "expected dL/dW1 and dL/db2 as numpy-like columns: analytic, numeric, relative error"; fi

t_begin "check/print-value-as-next-argument"
# `--print W1` as the trainer's grad takes it; a model file after a bare
# --print is still the model
if t_run "$NNC" check $SIG --print b2 && grep -q "^dL/db2 \[2\]" "$t_log" && ! grep -q "^dL/dW1" "$t_log" &&
   t_run "$NNC" check --print $SIG && grep -q "^dL/dW1 \[2, 3\]" "$t_log" && grep -q "^dL/db2 \[2\]" "$t_log"; then
    t_pass
else t_fail "expected --print b2 to print dL/db2 only, and --print MODEL.nn to print all"; fi

t_begin "check/print-wraps-long-rows"
# a vector of 10 wraps at numpy's 75 characters on both sides, in step:
# each line holds the same count of numbers left and right (and of their
# relative errors, which are narrower, right of them)
if t_run "$NNC" check examples/tiny_mlp.nn --print=b2 &&
   sed -n '/^dL\/db2 \[10\]$/,/^$/p' "$t_log" | awk '
       NR > 2 && NF { n = split($0, f, /   +\[?/); lines++; left += gsub(/e[-+]/, "&", f[1]);
                      total += gsub(/e[-+]/, "&") }
       END { exit !(lines == 3 && left == 10 && total == 30) }'; then
    t_pass
else t_fail "expected dL/db2 [10] on three wrapped lines, 4 + 4 + 2 numbers in each column"; fi

t_begin "check/print-unknown-name"
if ! t_run "$NNC" check $SIG --print=W3 && grep -q "'W3' is no parameter of the model; the trainable parameters are W1, b1, W2, b2" "$t_log"; then
    t_pass
else t_fail "expected an error naming the parameters"; fi

t_begin "check/data-batch"
if t_run "$NNC" check $SIG --data 'random(n = 40, seed = 3)' --batch 5 &&
   grep -q "5 samples from .*(its first 5, --batch)" "$t_log" && grep -q "^PASS: all 4" "$t_log"; then
    t_pass
else t_fail "expected a passing check on the first 5 of 40 samples"; fi

# a parameter of more than 2000 entries: 2000 of them at random (marked *),
# --entries N sets how many, --entries all and --print check every one; a
# wrong rule still fails on a sample
t_begin "check/large-parameter-sampled"
cat >"$D/wide.nn" <<'NN'
input  x[50]
target y[1]
param W[50, 50] = xavier_uniform
param v[1, 50]  = xavier_uniform
loss = 0.5 * sum((v @ tanh(W @ x) - y)^2)
NN
row() { grep "^$1 " "$t_log" | tail -n 1 | awk '{ print $4 }'; }
ok=1
t_run "$NNC" check "$D/wide.nn" && [ "$(row W)" = "2000*" ] && [ "$(row v)" = 50 ] &&
    grep -q "^\* 2000 of the parameter's entries, chosen at random" "$t_log" || ok=0
t_run "$NNC" check "$D/wide.nn" --entries 7 && [ "$(row W)" = "7*" ] && [ "$(row v)" = "7*" ] || ok=0
t_run "$NNC" check "$D/wide.nn" --entries all && [ "$(row W)" = 2500 ] || ok=0
t_run "$NNC" check "$D/wide.nn" --print=W && [ "$(row W)" = 2500 ] || ok=0
NNC_TEST_CORRUPT_RULE=tanh t_run "$NNC" check "$D/wide.nn" --entries 20; rc=$?
[ $rc = 1 ] && grep -q "^W .* 20\* .* FAIL$" "$t_log" || ok=0
t_run "$NNC" check "$D/wide.nn" --entries 0; rc=$?
[ $rc = 2 ] && grep -q "^error: --entries 0: expected how many entries" "$t_log" || ok=0
if [ $ok = 1 ]; then t_pass; else t_fail "expected W checked on 2000, 7, 2500, 2500 and 20 (FAIL) entries"; fi

# stop_gradient: the finite differences hold its values as the backward pass
# does (docs/teaching.md), in the C trainer (fast and --style=loops, the
# samples more than a tile's, all in one pass) and the JIT; a wrong rule
# elsewhere in the model still fails
HELD=tests/e2e/models/held.nn
for style in fast loops jit; do
    t_begin "check/held/passes-$style"
    case $style in
    jit) cmd=("$NNC" run "$HELD" --dtype f64 check) ;;
    *) cmd=("$NNC" check "$HELD" --style=$style) ;;
    esac
    if t_run "${cmd[@]}" --data "random(n = 300, seed = 2)" && grep -q "^PASS: all 3" "$t_log"; then
        t_pass
    else
        t_fail "check of a model with stop_gradient should pass ($style)"
    fi
done
t_begin "check/held/fails-with-wrong-tanh-rule"
NNC_TEST_CORRUPT_RULE=tanh t_run "$NNC" check "$HELD"
rc=$?
if [ $rc = 1 ] && grep -q "^W .* FAIL$" "$t_log" && grep -q "^V .* PASS$" "$t_log"; then t_pass
else t_fail "expected exit 1 and W FAIL with a wrong tanh rule, got exit $rc"; fi
