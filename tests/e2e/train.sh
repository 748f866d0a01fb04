#!/bin/bash
# End-to-end tests of the training loop (docs/trainer.md): a diverging run
# stops with the epoch and step (and, with --trap-nan, the model line).
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/train"
mkdir -p "$D"

# diverge.nn: exp(w x + b) with lr = 5 overflows in the second update
t_begin "e2e/train/nan-stops"
if t_build tests/e2e/models/diverge.nn "$D/diverge"; then
    "$D/diverge" train >"$D/nan.out" 2>"$D/nan.err"
    rc=$?
    cat "$D/nan.out" "$D/nan.err" >>"$t_log"
    if [ $rc -ne 1 ]; then
        t_fail "expected exit status 1, got $rc"
    elif grep -qi nan "$D/nan.out"; then
        t_fail "printed a nan row instead of stopping"
    elif ! grep -q "^error: loss became inf at epoch 1, step 2$" "$D/nan.err"; then
        t_fail "expected 'error: loss became inf at epoch 1, step 2'"
    else
        t_pass
    fi

    t_begin "e2e/train/trap-nan"
    "$D/diverge" train --trap-nan >"$D/trap.out" 2>"$D/trap.err"
    rc=$?
    cat "$D/trap.out" "$D/trap.err" >>"$t_log"
    if [ $rc -ne 1 ]; then
        t_fail "expected exit status 1, got $rc"
    elif ! grep -q "first non-finite value at diverge.nn:8: e    = exp(h)" "$D/trap.err"; then
        t_fail "expected the line 'diverge.nn:8: e = exp(h)' to be named"
    else
        t_pass
    fi
else
    t_fail "nnc build failed"
fi
