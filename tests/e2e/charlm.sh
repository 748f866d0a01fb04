#!/bin/bash
# examples/charlm (docs/language.md, Recurrent networks): the character-level
# language model trains (its loss per character falls far below log 28) and
# sample.py draws text of its alphabet through `predict --outputs next`.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/charlm"
rm -rf "$D"
t_begin "e2e/charlm/trains-and-samples"
if ! t_run bash examples/charlm/run.sh --quick --out "$D"; then
    t_fail "examples/charlm/run.sh --quick failed"
else
    last=$(awk -F, 'NR > 1 { l = $3 } END { print l }' "$D/run/metrics.csv")
    text=$(tail -n 1 "$t_log")
    echo "last loss $last, sampled: $text" >>"$t_log"
    if awk -v l="$last" 'BEGIN { exit !(l < 1.0) }' && [ ${#text} -eq 64 ] &&
       [[ "$text" =~ ^[a-z\ .]+$ ]] && [[ "$text" == "the "* ]]; then
        t_pass
    else
        t_fail "loss per character $last (want < 1, log 28 = 3.33 at chance), sample '$text'"
    fi
fi

# the embedding is a gather: the data are integers, and the generated C
# reads row seq[t] of E (and adds into that row of d_E), no product with a
# one-hot vector (bench/charlm.sh times it against one)
t_begin "e2e/charlm/reads-rows-of-integers"
if [ ! -f "$D/windows.npz" ]; then
    t_fail "run.sh made no windows.npz"
elif ! t_run /usr/bin/python3 -c '
import numpy as np, sys
d = np.load(sys.argv[1])
assert d.files == ["seq"] and d["seq"].dtype.kind == "i" and d["seq"].shape[1] == 17, (d.files, d["seq"].dtype)
assert d["seq"].min() >= 0 and d["seq"].max() < 28
print("seq", d["seq"].shape, d["seq"].dtype)' "$D/windows.npz"; then
    t_fail "windows.npz should hold only seq, windows of 17 integers in [0, 28)"
elif ! "$NNC" examples/charlm/charlm.nn -o "$D/charlm.c" 2>>"$t_log"; then
    t_fail "nnc failed on charlm.nn"
elif grep -q 'h_2\[j \* n + b\] = E\[r \* 16 + j\];' "$D/charlm.c" &&
     grep -q 'd_E\[r \* 16 + j\] += d_h_2\[j \* n + b\];' "$D/charlm.c" &&
     ! grep -q 'Wx\[i \* 28 + k\]' "$D/charlm.c"; then
    t_pass
else
    t_fail "expected charlm.c to copy row r of E and add into row r of d_E, and no product over 28 characters"
fi
