#!/bin/bash
# End-to-end tests of a tracked run's life (docs/trainer.md, "Tracked runs"):
# what --resume accepts, what a stop at a bad moment leaves, which paths the
# trainer writes to, and that a failing write is reported at once.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/runs"
rm -rf "$D"
mkdir -p "$D"

if ! "$NNC" build examples/xor.nn -o "$D/xor" >"$D/build.log" 2>&1; then
    t_begin "e2e/runs/build"
    cat "$D/build.log" >>"$t_log"
    t_fail "nnc build examples/xor.nn failed"
    exit 0
fi
X="$D/xor"

# --resume with another model's run: same names and sizes, another layout
# (W1 [2, 8] instead of [8, 2]) and so another source hash
t_begin "e2e/runs/resume-refuses-another-model"
sed -e 's/param W1\[H, 2\]/param W1[2, H]/' -e 's/tanh(W1 @ x + b1)/tanh(x @ W1 + b1)/' \
    examples/xor.nn >"$D/xor_t.nn"
t_run "$X" train --epochs 2 --quiet --log "$D/other" --stop-after 1
if ! t_build "$D/xor_t.nn" "$D/xor_t"; then
    t_fail "nnc build of the transposed model failed"
else
    "$D/xor_t" train --resume "$D/other" >>"$t_log" 2>&1
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q "settings.txt: the run was trained by a model with source hash" "$t_log"; then
        t_fail "expected exit 1 and 'the run was trained by a model with source hash', got exit $rc"
    else
        t_pass
    fi
fi

# the shapes are compared too, not only the names and element counts: the
# same checkpoint, with settings.txt's hash made to match
t_begin "e2e/runs/resume-compares-shapes"
hash_t=$(sed -n 's/.*(source hash \([0-9a-f]*\)).*/\1/p' <("$D/xor_t" train --epochs 1 --quiet --log "$D/t1" >/dev/null 2>&1; cat "$D/t1/settings.txt"))
t_run "$X" train --epochs 2 --quiet --log "$D/other2" --stop-after 1
sed -i "1s/(source hash [0-9a-f]*)/(source hash $hash_t)/" "$D/other2/settings.txt"
"$D/xor_t" train --resume "$D/other2" >>"$t_log" 2>&1
rc=$?
if [ $rc -ne 1 ] || ! grep -q "checkpoint.npz: array 'W1' has shape \[8, 2\], this model's is \[2, 8\]" "$t_log"; then
    t_fail "expected exit 1 and \"array 'W1' has shape [8, 2], this model's is [2, 8]\", got exit $rc"
else
    t_pass
fi

# a checkpoint whose epoch is negative is refused (it would train with a
# negative learning rate)
t_begin "e2e/runs/resume-refuses-impossible-epoch"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_fail "/usr/bin/python3 has no numpy"
else
    t_run "$X" train --epochs 3 --quiet --log "$D/neg" --stop-after 1
    /usr/bin/python3 -c '
import numpy as np, sys
z = dict(np.load(sys.argv[1]))
z["state"][0] = -5
np.savez(sys.argv[1], **z)' "$D/neg/checkpoint.npz" 2>>"$t_log"
    "$X" train --resume "$D/neg" >"$D/neg.out" 2>>"$t_log"
    rc=$?
    if [ $rc -ne 1 ] || [ -s "$D/neg.out" ] ||
       ! grep -q "checkpoint.npz: its state (epoch -5, step .*) is impossible" "$t_log"; then
        t_fail "expected exit 1, no epoch trained and 'its state (epoch -5, ...) is impossible', got exit $rc"
    else
        t_pass
    fi
fi

# a shim preloaded into the trainer kills it (SIGKILL) when it is about to
# rename a file whose name ends in $KILL_AT into place
cat >"$D/killat.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
int rename(const char *from, const char *to)
{
    const char *at = getenv("KILL_AT");
    size_t n = at ? strlen(at) : 0, m = strlen(to);
    if (at && m >= n && strcmp(to + m - n, at) == 0)
        raise(SIGKILL);
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    return real(from, to);
}
C
cc -shared -fPIC -o "$D/killat.so" "$D/killat.c" -ldl >"$D/killat.log" 2>&1

# killed after the final checkpoint, before params.npz is renamed into
# place: --resume writes params.npz (the same as the uninterrupted run's)
# and summary.json, and leaves no .part behind; before that, nothing says
# the run finished
t_begin "e2e/runs/resume-after-final-checkpoint"
t_run "$X" train --epochs 3 --quiet --log "$D/full"
t_run "$X" train --epochs 3 --quiet --log "$D/fin" --stop-after 1
KILL_AT=/params.npz LD_PRELOAD="$D/killat.so" "$X" train --quiet --resume "$D/fin" >>"$t_log" 2>&1 &
wait $! 2>/dev/null
rc=$?
ls "$D/fin" >>"$t_log"
if [ $rc -ne 137 ]; then
    t_fail "the shim did not kill the run (exit $rc)"
elif [ -e "$D/fin/summary.json" ]; then
    t_fail "after the kill, a summary.json says the run $(grep status "$D/fin/summary.json")"
else
    t_run "$X" train --resume "$D/fin"
    if ! cmp "$D/full/params.npz" "$D/fin/params.npz" >>"$t_log" 2>&1; then
        t_fail "params.npz missing or not the uninterrupted run's"
    elif [ -e "$D/fin/params.npz.part" ]; then
        t_fail "params.npz.part is left"
    elif ! diff <(grep -v seconds "$D/full/summary.json") <(grep -v seconds "$D/fin/summary.json") >>"$t_log"; then
        t_fail "summary.json differs from the uninterrupted run's"
    elif ! t_run "$X" train --resume "$D/fin" || ! grep -q "^nothing to do" "$t_log"; then
        t_fail "resumed again, the complete run is not 'nothing to do'"
    elif ! diff <(grep -v seconds "$D/full/summary.json") <(grep -v seconds "$D/fin/summary.json") >>"$t_log"; then
        t_fail "the complete run's summary.json was rewritten by 'nothing to do'"
    else
        t_pass
    fi
fi

# killed between params.npz and summary.json: the same
t_begin "e2e/runs/resume-after-params"
t_run "$X" train --epochs 3 --quiet --log "$D/fin2"
KILL_AT=/summary.json LD_PRELOAD="$D/killat.so" "$X" train --quiet --resume "$D/fin2" --epochs 4 >>"$t_log" 2>&1 &
wait $! 2>/dev/null
rc=$?
t_run "$X" train --epochs 4 --quiet --log "$D/full4"
t_run "$X" train --quiet --resume "$D/fin2"
if [ $rc -ne 137 ]; then
    t_fail "the shim did not kill the run (exit $rc)"
elif ! diff <(grep -v seconds "$D/full4/summary.json") <(grep -v seconds "$D/fin2/summary.json") >>"$t_log"; then
    t_fail "summary.json missing or not the uninterrupted run's"
else
    t_pass
fi
