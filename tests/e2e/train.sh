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

# trapfused.nn: h overflows in a fused loop that keeps h in a register only
# (plan.h CgFusion, transient steps); --trap-nan still names h's line
t_begin "e2e/train/trap-nan-fused"
if ! t_build tests/e2e/models/trapfused.nn "$D/trapfused"; then
    t_fail "nnc build failed"
else
    "$D/trapfused" train --trap-nan >"$D/trapf.out" 2>"$D/trapf.err"
    rc=$?
    cat "$D/trapf.out" "$D/trapf.err" >>"$t_log"
    if [ $rc -ne 1 ]; then
        t_fail "expected exit status 1, got $rc"
    elif ! grep -q "first non-finite value at trapfused.nn:8: h    = 10 \* (1e38" "$D/trapf.err"; then
        t_fail "expected the line 'trapfused.nn:8: h = 10 * (1e38 * (w * x))' to be named"
    else
        t_pass
    fi
fi

# tracked runs: spirals with mini-batches, shuffling, Adam and a schedule
m=spirals
t_begin "e2e/train/run-directory"
if ! t_build examples/spirals.nn "$D/$m"; then
    t_fail "nnc build failed"
else
    rm -rf "$D/full" "$D/part" "$D/killed"
    t_run "$D/$m" train --epochs 6 --clip 5 --quiet --log "$D/full"
    missing=""
    for f in metrics.csv metrics.jsonl config.json settings.txt summary.json params.npz \
             checkpoint.npz; do
        [ -s "$D/full/$f" ] || missing="$missing $f"
    done
    if [ -n "$missing" ]; then
        t_fail "run directory lacks:$missing"
    elif [ "$(grep -c . "$D/full/metrics.jsonl")" != 7 ]; then
        t_fail "metrics.jsonl should have 7 rows (epochs 0..6)"
    elif ! /usr/bin/python3 -c 'import json' 2>/dev/null; then
        t_pass   # the files exist; no python to parse them
    elif ! /usr/bin/python3 - "$D/full" >>"$t_log" 2>&1 <<'PY'
import csv, json, sys
d = sys.argv[1]
config = json.load(open(d + "/config.json"))
summary = json.load(open(d + "/summary.json"))
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
table = list(csv.DictReader(open(d + "/metrics.csv")))
assert config["seed"] == 1 and config["optimizer"]["name"] == "adam", config
assert config["clip"] == 5 and len(config["source_hash"]) == 16, config
assert config["schedule"]["name"] == "exp_decay", config
assert [r["epoch"] for r in rows] == list(range(7)), rows
for r, t in zip(rows, table):
    for k in ("loss", "test_loss", "accuracy", "test_accuracy", "lr"):
        assert abs(r[k] - float(t[k])) <= 1e-9 * abs(r[k]), (k, r, t)
assert summary["status"] == "finished" and summary["final"]["epoch"] == 6, summary
assert summary["best"]["test_loss"] == min(r["test_loss"] for r in rows), summary
print("all files parse and agree")
PY
    then
        t_fail "the run directory's files do not parse or disagree"
    else
        t_pass
    fi

    # same_as_full DIR WHAT: passes when DIR's metrics.csv (but the timing
    # columns) and params.npz are those of the uninterrupted run, $D/full
    same_as_full() {
        if ! diff <(cut -d, -f1-7 "$D/full/metrics.csv") <(cut -d, -f1-7 "$1/metrics.csv") \
                >>"$t_log"; then
            t_fail "metrics.csv of $2 differs from the uninterrupted one"
        elif ! cmp "$D/full/params.npz" "$1/params.npz" >>"$t_log" 2>&1; then
            t_fail "params.npz of $2 differs from the uninterrupted one"
        else
            t_pass
        fi
    }

    t_begin "e2e/train/resume-equals-uninterrupted"
    t_run "$D/$m" train --epochs 6 --clip 5 --quiet --log "$D/part" --stop-after 2
    t_run "$D/$m" train --quiet --resume "$D/part" --stop-after 3
    t_run "$D/$m" train --quiet --resume "$D/part"
    same_as_full "$D/part" "the resumed run"

    # a run stopped before its first checkpoint (written after 2 s, or at the
    # end) has none: --resume trains it again from the start, the same run
    t_begin "e2e/train/resume-without-a-checkpoint"
    t_run "$D/$m" train --epochs 6 --clip 5 --quiet --log "$D/nock" --stop-after 2
    rm -f "$D/nock/checkpoint.npz"
    if ! "$D/$m" train --resume "$D/nock" >>"$t_log" 2>&1; then
        t_fail "--resume of a run without a checkpoint failed"
    elif ! grep -q "has no checkpoint (the run stopped within its first 2 seconds): training it again" "$t_log"; then
        t_fail "no note that the run is trained again from the start"
    else
        same_as_full "$D/nock" "the run trained again"
    fi

    # a short run writes one checkpoint, at its end: no file replaced.  A
    # shim preloaded into the trainer logs the files it renames into place.
    t_begin "e2e/train/short-run-one-checkpoint"
    rm -rf "$D/short" "$D/renames.log"
    cat >"$D/renames.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
int rename(const char *from, const char *to)
{
    FILE *f = fopen(getenv("RENAMES_LOG"), "a");
    if (f) {
        fprintf(f, "%s\n", to);
        fclose(f);
    }
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    return real(from, to);
}
C
    if ! cc -shared -fPIC -o "$D/renames.so" "$D/renames.c" -ldl >>"$t_log" 2>&1; then
        t_fail "cannot build the rename shim"
    # (a trainer built by make asan needs ASan's runtime loaded first)
    elif ! RENAMES_LOG="$D/renames.log" \
            LD_PRELOAD="$(ldd "$D/$m" | awk '/libasan/ { printf "%s ", $3 }')$D/renames.so" \
            "$D/$m" train --epochs 3 --quiet --log "$D/short" >>"$t_log" 2>&1; then
        t_fail "the run failed"
    elif ! grep -q "summary.json" "$D/renames.log"; then
        t_fail "the shim saw no rename (summary.json): it does not work"
    elif [ "$(grep -c 'checkpoint.npz$' "$D/renames.log")" != 1 ]; then
        cat "$D/renames.log" >>"$t_log"
        t_fail "a 3-epoch run wrote checkpoint.npz $(grep -c 'checkpoint.npz$' "$D/renames.log") times, not once"
    else
        t_pass
    fi

    # a run killed (SIGKILL) in the middle of an epoch resumes from its last
    # checkpoint; on a busy machine the run may finish before the kill lands,
    # so it is tried again on more data (each try compares with its own
    # uninterrupted run)
    t_begin "e2e/train/resume-after-kill"
    for n in 20000 80000 320000; do
        data="spirals(n = $n, classes = 3)"
        rm -rf "$D/killed"
        t_run "$D/$m" train --epochs 20 --quiet --log "$D/killed" --data "$data"
        cp "$D/killed/params.npz" "$D/killed-full.npz"
        cut -d, -f1-7 "$D/killed/metrics.csv" >"$D/killed-full.csv"
        rm -rf "$D/killed"
        "$D/$m" train --epochs 20 --quiet --log "$D/killed" --data "$data" &
        pid=$!
        for _ in $(seq 400); do
            [ "$(cat "$D/killed/metrics.csv" 2>/dev/null | wc -l)" -ge 4 ] && break
            sleep 0.05
        done
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        done_rows=$(($(wc -l < "$D/killed/metrics.csv") - 1))
        echo "n = $n: killed after $done_rows rows of metrics.csv" >>"$t_log"
        [ "$done_rows" -lt 21 ] && break
    done
    t_run "$D/$m" train --quiet --resume "$D/killed"
    if [ "$done_rows" -ge 21 ]; then
        t_fail "the run finished before it could be killed, three times"
    elif ! diff "$D/killed-full.csv" <(cut -d, -f1-7 "$D/killed/metrics.csv") >>"$t_log"; then
        t_fail "killed after $done_rows rows and resumed: metrics.csv differs"
    elif ! cmp "$D/killed-full.npz" "$D/killed/params.npz" >>"$t_log" 2>&1; then
        t_fail "killed after $done_rows rows and resumed: params.npz differs"
    else
        t_pass
    fi
fi

# early stopping: patience 2 on the test loss of a model whose lr is far too large
t_begin "e2e/train/early-stopping"
rm -rf "$D/es"
if t_run "$D/$m" train --epochs 50 --optimizer "sgd(lr = 3)" --batch 16 --patience 2 \
        --log "$D/es"; then
    rows=$(($(wc -l < "$D/es/metrics.csv") - 1))
    if ! grep -q '"status": "early_stopped"' "$D/es/summary.json"; then
        t_fail "summary.json does not say early_stopped (rows: $rows)"
    elif ! grep -q "^early stop after epoch" "$t_log"; then
        t_fail "no 'early stop after epoch' message"
    elif [ "$rows" -ge 51 ]; then
        t_fail "ran all 50 epochs"
    elif ! "$D/$m" train --epochs 50 --optimizer "sgd(lr = 3)" --batch 16 --patience 1 2>&1 |
            grep -q "has not improved for 1 epoch (best"; then
        t_fail "--patience 1: expected 'has not improved for 1 epoch (best'"
    else
        t_pass
    fi
else
    t_fail "train failed"
fi

# accuracy for a binary target with one logit (bce_with_logits): the trainer's number
# equals the fraction of samples with (logit > 0) == (y > 0.5), computed with numpy
t_begin "e2e/train/binary-accuracy"
if ! t_build examples/xor.nn "$D/xor"; then
    t_fail "nnc build failed"
elif ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_skip "/usr/bin/python3 has no numpy"
else
    rm -rf "$D/xor-run"
    /usr/bin/python3 -c '
import numpy as np, sys
rng = np.random.default_rng(5)
x = rng.standard_normal((200, 2)).astype(np.float32)
y = (x[:, 0] * x[:, 1] > 0).astype(np.float32)[:, None]
np.savez(sys.argv[1], x=x, y=y)' "$D/xor-data.npz"
    t_run "$D/xor" train --epochs 3 --quiet --log "$D/xor-run"
    t_run "$D/xor" eval --params "$D/xor-run/params.npz" --data "$D/xor-data.npz" \
        --metrics accuracy
    got=$(sed -n 's/^accuracy: //p' "$t_log")
    want=$(/usr/bin/python3 -c '
import numpy as np, sys
p = np.load(sys.argv[1]); d = np.load(sys.argv[2])
h = np.tanh(d["x"].astype(np.float64) @ p["W1"].T + p["b1"])
logit = h @ p["w2"].T + p["b2"]
print("%.9g" % np.mean((logit[:, 0] > 0) == (d["y"][:, 0] > 0.5)))' \
        "$D/xor-run/params.npz" "$D/xor-data.npz")
    if [ -n "$got" ] && [ "$got" = "$want" ]; then
        t_pass
    else
        t_fail "eval's accuracy '$got', numpy's '$want'"
    fi
fi

# --steps and --epochs: either overrides the train block, both at once is an error
t_begin "e2e/train/steps-or-epochs"
if ! t_build examples/xor.nn "$D/xor-len"; then
    t_fail "nnc build failed"
else
    rm -rf "$D/len-run"
    t_run "$D/xor-len" train --steps 7 --quiet --log "$D/len-run"
    last=$(tail -n 1 "$D/len-run/steps.csv" | cut -d, -f2)
    "$D/xor-len" train --steps 7 --epochs 1 --quiet >>"$t_log" 2>&1
    rc=$?
    if [ "$last" != 7 ]; then
        t_fail "--steps 7 ran to step '$last'"
    elif [ $rc -ne 2 ] || ! grep -q -- "--epochs and --steps both given" "$t_log"; then
        t_fail "--steps 7 --epochs 1: expected exit 2 and 'both given', got exit $rc"
    else
        t_pass
    fi
fi

# float64 runs log the shortest text that reads back as the number: an
# accuracy of 81/100 is 0.81, not 0.81000000000000005
t_begin "e2e/train/f64-log-numbers-shortest"
if ! "$NNC" build examples/spirals.nn --dtype f64 -o "$D/spirals64" >>"$t_log" 2>&1; then
    t_fail "nnc build --dtype f64 failed"
else
    rm -rf "$D/sp64-run"
    t_run "$D/spirals64" train --epochs 3 --quiet --log "$D/sp64-run"
    long=$(tail -n +2 "$D/sp64-run/metrics.csv" | tr ',' '\n' | grep -E '(0000000|9999999)[0-9]$' | head -n 1)
    if [ ! -s "$D/sp64-run/metrics.csv" ]; then
        t_fail "no metrics.csv"
    elif [ -n "$long" ]; then
        t_fail "metrics.csv has '$long', not the shortest text for the number"
    elif ! tail -n 1 "$D/sp64-run/metrics.csv" | grep -Eq '^3,[0-9]+,[0-9.]{10,},'; then
        t_fail "the loss lost its float64 digits"
    else
        t_pass
    fi
fi

# a --save that cannot be written is refused before training, not after it
t_begin "e2e/train/save-path-checked-first"
if ! t_build examples/xor.nn "$D/xor-save"; then
    t_fail "nnc build failed"
else
    rm -rf "$D/save-run"
    "$D/xor-save" train --save "$D/no/such/dir/p.npz" --log "$D/save-run" >"$D/save.out" 2>"$D/save.err"
    rc=$?
    "$D/xor-save" train --save "$D" --epochs 1 >>"$t_log" 2>>"$D/save.err"
    rc2=$?
    cat "$D/save.out" "$D/save.err" >>"$t_log"
    if [ $rc -ne 1 ] || [ $rc2 -ne 1 ]; then
        t_fail "expected exit status 1 twice, got $rc and $rc2"
    elif [ -s "$D/save.out" ] || [ -e "$D/save-run" ]; then
        t_fail "trained (or made the run directory) before refusing the --save path"
    elif ! grep -q "^error: $D/no/such/dir/p.npz: cannot write (No such file or directory)$" "$D/save.err" ||
         ! grep -q "^error: $D: cannot write (Is a directory)$" "$D/save.err"; then
        t_fail "expected 'cannot write (No such file or directory)' and '(Is a directory)'"
    else
        t_pass
    fi
fi

# eval without --params or --data takes the initial parameters and the
# train block's data, and says so on stderr (stdout stays `loss: V` lines)
t_begin "e2e/train/eval-says-its-defaults"
if ! t_build examples/xor.nn "$D/xor-eval"; then
    t_fail "nnc build failed"
else
    "$D/xor-eval" eval >"$D/eval.out" 2>"$D/eval.err"
    "$D/xor-eval" init --out "$D/eval-p.npz" >>"$t_log" 2>&1
    "$D/xor-eval" eval --params "$D/eval-p.npz" --data 'noisy_xor(n = 10)' >>"$t_log" 2>"$D/eval2.err"
    cat "$D/eval.out" "$D/eval.err" "$D/eval2.err" >>"$t_log"
    if ! grep -q "^eval: at the initial parameters (no --params)$" "$D/eval.err" ||
       ! grep -q "^eval: on the train block's data, noisy_xor(n = 1000, s = 0.25, seed = 1) (no --data)$" "$D/eval.err"; then
        t_fail "expected both defaults named on stderr"
    elif [ -s "$D/eval2.err" ] || ! grep -q "^loss: " "$D/eval.out" || grep -qv "^loss: \|^accuracy: " "$D/eval.out"; then
        t_fail "with --params and --data stderr must stay empty, and stdout hold only loss: and accuracy:"
    else
        t_pass
    fi
fi
