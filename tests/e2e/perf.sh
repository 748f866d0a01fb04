#!/bin/bash
# End-to-end checks of what makes trainers fast (docs/performance.md):
# flushing denormals to zero changes no reported digit.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/perf"
mkdir -p "$D"

# Denormals are flushed by default; --no-ftz keeps IEEE arithmetic.  The
# printed losses and accuracies (4 significant digits) must be the same.
t_begin "perf/flush-to-zero changes no reported digit"
if ! t_build examples/spirals.nn "$D/spirals"; then
    t_fail "nnc build failed"
else
    "$D/spirals" train --epochs 30 >"$D/ftz.txt" 2>&1
    "$D/spirals" train --epochs 30 --no-ftz >"$D/ieee.txt" 2>&1
    if ! grep -q "^epoch 30 " "$D/ftz.txt"; then
        t_fail "no 'epoch 30' line in the output"
    elif cmp -s "$D/ftz.txt" "$D/ieee.txt"; then
        t_pass
    else
        t_fail "output differs with --no-ftz: $(diff "$D/ftz.txt" "$D/ieee.txt" | head -n 4)"
    fi
fi
