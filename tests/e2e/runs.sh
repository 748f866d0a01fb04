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
# under `make asan` the trainer has ASan, which wants to be the first library
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

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

# --log onto a run refuses, --overwrite replaces it; a non-empty directory that
# is not a run is refused, `--log /` included
t_begin "e2e/runs/log-claims-its-directory"
rm -rf "$D/claim" "$D/mixed"
t_run "$X" train --epochs 3 --quiet --log "$D/claim"
cp "$D/claim/metrics.csv" "$D/claim-3.csv"
"$X" train --epochs 1 --quiet --log "$D/claim" >"$D/claim.out" 2>"$D/claim.err"
rc=$?
mkdir -p "$D/mixed" && echo "my notes" >"$D/mixed/notes.txt"
"$X" train --epochs 1 --quiet --log "$D/mixed" 2>>"$D/claim.err"
rc2=$?
"$X" train --epochs 1 --quiet --log / --data "$D/no-such-file.npz" 2>>"$D/claim.err"
rc3=$?
cat "$D/claim.out" "$D/claim.err" >>"$t_log"
if [ $rc -ne 1 ] || ! cmp -s "$D/claim-3.csv" "$D/claim/metrics.csv" ||
   ! grep -q "^error: $D/claim holds a run already: continue it with --resume $D/claim, replace it with --overwrite" "$D/claim.err"; then
    t_fail "a second run into $D/claim: expected exit 1, the run untouched and 'holds a run already', got exit $rc"
elif [ $rc2 -ne 1 ] || [ "$(ls "$D/mixed")" != notes.txt ] ||
     ! grep -q "^error: $D/mixed: not empty, and not a run directory" "$D/claim.err"; then
    t_fail "--log into a directory of other files: expected exit 1 and 'not empty, and not a run directory', got exit $rc2"
elif [ $rc3 -ne 1 ] || ! grep -q "^error: /: not empty, and not a run directory" "$D/claim.err"; then
    t_fail "--log /: expected exit 1 and '/: not empty, and not a run directory', got exit $rc3"
elif ! t_run "$X" train --epochs 1 --quiet --log "$D/claim" --overwrite ||
     [ "$(wc -l <"$D/claim/metrics.csv")" != 3 ] || ! grep -q '"final": {"epoch": 1,' "$D/claim/summary.json"; then
    t_fail "--overwrite: expected a new run of 1 epoch"
else
    t_pass
fi

# output files are never renamed over a symbolic link, a FIFO or a device
# (made here, never the system's own: a trainer with this bug would replace
# /dev/null for every process on the machine)
t_begin "e2e/runs/output-never-replaces-links-or-devices"
rm -f "$D/target.npz" "$D/link.npz" "$D/fifo.npz" "$D/null"
echo "the link's target" >"$D/target.npz"
ln -s target.npz "$D/link.npz"
mkfifo "$D/fifo.npz"
dev="$D/fifo.npz" what="a FIFO"
if mknod "$D/null" c 1 3 2>/dev/null; then   # as root: a device
    dev="$D/null" what="a device"
fi
"$X" train --epochs 1 --quiet --save "$D/link.npz" >"$D/link.out" 2>"$D/link.err"
rc=$?
"$X" init --out "$D/link.npz" 2>>"$D/link.err"
rc2=$?
"$X" init --out "$D/fifo.npz" 2>>"$D/link.err"
rc3=$?
"$X" train --epochs 1 --quiet --save "$dev" >>"$D/link.out" 2>>"$D/link.err"
rc4=$?
cat "$D/link.out" "$D/link.err" >>"$t_log"
if [ $rc -ne 1 ] || [ $rc2 -ne 1 ] || [ ! -L "$D/link.npz" ] || [ "$(cat "$D/target.npz")" != "the link's target" ] ||
   [ "$(grep -c "link.npz: cannot write: it is a symbolic link" "$D/link.err")" != 2 ] || [ -s "$D/link.out" ]; then
    t_fail "--save and init --out onto a symbolic link: expected exit 1 twice, the link and its target untouched, nothing trained; got $rc, $rc2"
elif [ $rc3 -ne 1 ] || [ $rc4 -ne 1 ] || [ ! -p "$D/fifo.npz" ] || { [ "$dev" = "$D/null" ] && [ ! -c "$dev" ]; } ||
     ! grep -q "^error: $D/fifo.npz: cannot write: it is a FIFO" "$D/link.err" ||
     ! grep -q "^error: $dev: cannot write: it is $what" "$D/link.err"; then
    t_fail "init --out onto a FIFO, --save onto $what: expected exit 1, 'it is a FIFO', 'it is $what', got $rc3, $rc4"
else
    t_pass
fi

# a log file that cannot be written (the disk full; here the file size
# limit, which needs no mounts: SIGXFSZ ignored, so the write fails with
# EFBIG) stops the run at once, naming the file, not at its next checkpoint
t_begin "e2e/runs/failed-log-write-stops-the-run"
rm -rf "$D/full-disk"
bash -c 'trap "" XFSZ; ulimit -f 4; exec "$0" train --epochs 300 --no-plots --log "$1"' "$X" "$D/full-disk" \
    >"$D/full-disk.out" 2>"$D/full-disk.err"
rc=$?
cat "$D/full-disk.err" >>"$t_log"
rows=$(grep -c "^epoch" "$D/full-disk.out")
if [ $rc -ne 1 ] || ! grep -q "^error: $D/full-disk/[a-z.]*: write failed (File too large)$" "$D/full-disk.err"; then
    t_fail "expected exit 1 and 'DIR/FILE: write failed (File too large)', got exit $rc"
elif [ "$rows" -ge 20 ]; then
    t_fail "the run went on for $rows epochs after its log files could no longer be written"
else
    t_pass
fi

# Ctrl-C (SIGINT) stops a run after the update under way: exit status 130,
# a checkpoint, summary.json "interrupted" with how to resume; --resume then
# gives the uninterrupted run's parameters exactly.  (set -m: a background
# job of a script ignores SIGINT otherwise, and so would the trainer.)
t_begin "e2e/runs/ctrl-c-checkpoints-and-resumes"
if ! t_build examples/spirals.nn "$D/spirals"; then
    t_fail "nnc build failed"
else
    S=("$D/spirals" train --epochs 12 --quiet --data "spirals(n = 20000, classes = 3)")
    t_run "${S[@]}" --log "$D/int-full"
    # the run is stopped (SIGSTOP) once 500 steps are logged, then gets
    # SIGINT and goes on; on a busy machine the rows may be seen only when
    # the run has ended (they are flushed in chunks): then again, at most
    # 3 times.  env --default-signal=INT: a suite started in the background
    # (`make test &`, nohup) has SIGINT ignored, which a shell cannot undo
    # and the trainer, like any program, keeps
    for attempt in 1 2 3; do
        rm -rf "$D/int"
        set -m
        env --default-signal=INT "${S[@]}" --log "$D/int" >>"$t_log" 2>"$D/int.err" &
        pid=$!
        set +m
        for _ in $(seq 1000); do
            [ "$(cat "$D/int/steps.csv" 2>/dev/null | wc -l)" -ge 500 ] && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.02
        done
        if kill -STOP $pid 2>/dev/null; then
            kill -INT $pid
            kill -CONT $pid
            wait $pid
            rc=$?
            [ $rc -eq 130 ] && break
        else
            wait $pid
            rc=$?
        fi
        echo "attempt $attempt: the run ended (exit $rc) before the SIGINT" >>"$t_log"
    done
    cat "$D/int.err" >>"$t_log"
    cp "$D/int/summary.json" "$D/int-summary.json" 2>>"$t_log"
    t_run "$D/spirals" train --quiet --resume "$D/int"
    if [ $rc -ne 130 ]; then
        t_fail "expected exit status 130 after SIGINT, got $rc"
    elif ! grep -q '"status": "interrupted"' "$D/int-summary.json" ||
         ! grep -q '"message": "interrupted (Ctrl-C) .* --resume ' "$D/int-summary.json"; then
        t_fail "summary.json does not say interrupted, and how to resume"
    elif ! grep -q "^interrupted (Ctrl-C) .*; the checkpoint holds epoch [0-9]*: continue with $D/spirals train --resume $D/int$" "$D/int.err"; then
        t_fail "no message 'interrupted (Ctrl-C) ...: continue with ... --resume $D/int'"
    elif ! grep -q "\"status\": \"finished\"" "$D/int/summary.json"; then
        t_fail "the resumed run did not finish"
    elif ! cmp "$D/int-full/params.npz" "$D/int/params.npz" >>"$t_log" 2>&1; then
        t_fail "interrupted and resumed: params.npz differs from the uninterrupted run's"
    elif ! diff <(cut -d, -f1-7 "$D/int-full/metrics.csv") <(cut -d, -f1-7 "$D/int/metrics.csv") >>"$t_log"; then
        t_fail "interrupted and resumed: metrics.csv differs from the uninterrupted run's"
    else
        t_pass
    fi
fi

# feedback: at a terminal (script(1) gives the trainer one) a line says what
# is being loaded and how many samples came; in a pipe none of that, and no
# terminal control codes; both end with a summary on stderr (final and best
# metrics, where the files are), stdout keeping the epochs' lines only
t_begin "e2e/runs/feedback-at-a-terminal-only"
rm -rf "$D/fb-tty" "$D/fb-pipe"
script -qec "$X train --epochs 2 --log $D/fb-tty" /dev/null >"$D/fb-tty.out" 2>&1
"$X" train --epochs 2 --log "$D/fb-pipe" >"$D/fb-pipe.out" 2>"$D/fb-pipe.err"
cat "$D/fb-tty.out" "$D/fb-pipe.out" "$D/fb-pipe.err" >>"$t_log"
if ! grep -q "data: noisy_xor(n = 1000, s = 0.25, seed = 1), 1000 samples (" "$D/fb-tty.out"; then
    t_fail "at a terminal: no line 'data: noisy_xor(...), 1000 samples (...)'"
elif grep -q "loading" "$D/fb-pipe.err" || grep -q $'\033' "$D/fb-pipe.err"; then
    t_fail "in a pipe: a loading line or terminal control codes on stderr"
elif grep -vq "^epoch [0-9]" "$D/fb-pipe.out"; then
    t_fail "stdout holds more than the epochs' lines"
elif ! grep -q "^trained 2 epochs in [0-9]* s: loss [0-9.]*  test_loss [0-9.]*  accuracy" "$D/fb-pipe.err" ||
     ! grep -q "^  best test_loss [0-9.]* at epoch [0-9] (test_accuracy" "$D/fb-pipe.err" ||
     ! grep -q "^  run files in $D/fb-pipe: metrics.csv, summary.json" "$D/fb-pipe.err"; then
    t_fail "no end summary (trained N epochs, best, run files) on stderr"
else
    t_pass
fi
