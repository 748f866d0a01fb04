#!/bin/bash
# The LLVM JIT (`nnc run`, docs/jit.md) against the C backend.  For every
# example and every gradient-check model: the gradient (`grad`) and, for the
# examples, a short training curve (metrics.csv without its seconds column,
# and the final parameters) must be bit-identical to the C trainer's when
# that is built with -ffp-contract=off (the JIT does not fuse a*b+c into an
# FMA; gcc does under -march=native, which changes the last bits only).  The
# JIT's own float64 gradients are checked against finite differences.
# Where nnc was built without LLVM, `nnc run` must say how to get it and the
# rest is skipped.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/jit"
mkdir -p "$D"

t_begin "jit/available"
if ! "$NNC" --emit=llvm examples/xor.nn >"$D/xor.ll" 2>"$D/nollvm.txt"; then
    if grep -q "built without LLVM" "$D/nollvm.txt" && grep -q "llvm-dev" "$D/nollvm.txt" &&
       ! "$NNC" run examples/xor.nn --epochs 1 2>/dev/null; then
        t_pass
        t_begin "jit/backend"
        t_skip "nnc was built without LLVM (install llvm-dev: scripts/deps.sh, then make)"
    else
        cat "$D/nollvm.txt" >>"$t_log"
        t_fail "without LLVM, nnc run should fail saying how to install it"
    fi
    exit 0
fi
if grep -q "define void @forward" "$D/xor.ll" && grep -q "define void @backward" "$D/xor.ll"; then
    t_pass
else
    t_fail "--emit=llvm should print forward() and backward()"
fi

# the same file, byte for byte (npz, metrics.csv without seconds)
same() {
    if cmp -s "$1" "$2"; then return 0; fi
    echo "$1 and $2 differ" >>"$t_log"
    return 1
}
no_seconds() { awk -F, -v OFS=, '{ NF--; print }' "$1"; }

ffm=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
fashion='files(x = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255, c = "fashion-mnist/t10k-labels-idx1-ubyte.gz")'

for nn in examples/*.nn tests/grad/*.nn; do
    m=$(basename "$nn" .nn)
    dtype=f32
    train=(--epochs 3)
    data=()
    case $nn in
    tests/grad/*) dtype=f64; data=(--data "random(n = 7, seed = 3)"); train=() ;;
    *fashion*)
        [ -f "$ffm" ] || { t_begin "jit/$m"; t_skip "dataset-fashion-mnist is not installed"; continue; }
        data=(--data "$fashion"); train=(--steps 12 --test none) ;;
    esac
    t_begin "jit/$m/grad"
    if ! NNC_CFLAGS="-O2 -ffp-contract=off" t_build "$nn" "$D/$m" --dtype $dtype; then
        t_fail "nnc build failed"; continue
    fi
    rm -f "$D/$m".*.npz
    if t_run "$D/$m" init --out "$D/$m.p.npz" --seed 7 &&
       t_run "$D/$m" grad --params "$D/$m.p.npz" "${data[@]}" --out "$D/$m.gc.npz" &&
       t_run "$NNC" run "$nn" --dtype $dtype grad --params "$D/$m.p.npz" "${data[@]}" --out "$D/$m.gj.npz" &&
       same "$D/$m.gc.npz" "$D/$m.gj.npz"; then
        t_pass
    else
        t_fail "nnc run's gradient differs from the C trainer's"
    fi

    if [ $dtype = f64 ]; then
        t_begin "jit/$m/check"
        if t_run "$NNC" run "$nn" --dtype f64 check "${data[@]}" && grep -q PASS "$t_log"; then
            t_pass
        else
            t_fail "the JIT's gradients disagree with finite differences"
        fi
        continue
    fi

    t_begin "jit/$m/train"
    rm -rf "$D/$m-c" "$D/$m-j"
    if t_run "$D/$m" train "${train[@]}" "${data[@]}" --log "$D/$m-c" --quiet &&
       t_run "$NNC" run "$nn" train "${train[@]}" "${data[@]}" --log "$D/$m-j" --quiet &&
       same <(no_seconds "$D/$m-c/metrics.csv") <(no_seconds "$D/$m-j/metrics.csv") &&
       same "$D/$m-c/params.npz" "$D/$m-j/params.npz"; then
        t_pass
    else
        diff <(no_seconds "$D/$m-c/metrics.csv") <(no_seconds "$D/$m-j/metrics.csv") >>"$t_log" 2>&1
        t_fail "nnc run's training curve differs from the C trainer's"
    fi
done

# the trainer's command line: the command defaults to train, nnc's own -D
# and --dtype mix with trainer flags, and mistakes are the trainer's messages
t_begin "jit/command-line"
ok=1
out=$("$NNC" run examples/sweep.nn -D depth=2 --epochs 1 --quiet --log "$D/sweep-run" 2>&1) || ok=0
[ -f "$D/sweep-run/metrics.csv" ] || ok=0
msg=$("$NNC" run examples/xor.nn trian 2>&1) && ok=0
echo "$out" "$msg" >>"$t_log"
case $msg in *"did you mean 'train'"*) ;; *) ok=0 ;; esac
msg=$("$NNC" run examples/xor.nn --epochs nope 2>&1) && ok=0
echo "$msg" >>"$t_log"
if [ $ok = 1 ]; then t_pass; else t_fail "nnc run's command line"; fi
