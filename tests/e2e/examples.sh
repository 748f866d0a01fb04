#!/bin/bash
# End-to-end: every examples/*.nn compiles, builds, trains briefly with a
# lower loss at the end than at epoch 0, and logs metrics.csv as docs/trainer.md
# says; the compiler's output is deterministic; the trainer's commands
# (init, grad, eval, train --init/--save) work together.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/e2e"
mkdir -p "$D"

col() {   # col FILE NAME ROW: the value of column NAME in data row ROW (0-based)
    awk -F, -v name="$2" -v row="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
        NR == row + 2 { print $c }' "$1"
}

for nn in examples/*.nn; do
    m=$(basename "$nn" .nn)
    # a short run of the CNNs: their 5 epochs over Fashion-MNIST's 10000 test
    # images (the full runs, about 0.90 test accuracy: docs/tutorial.md)
    short=()
    [ "$m" = lenet ] || [ "$m" = lenet_bn ] && short=(--data 'files(img = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255,
        c = "fashion-mnist/t10k-labels-idx1-ubyte.gz")' --test none)
    t_begin "e2e/$m/trains"
    if ! t_build "$nn" "$D/$m"; then t_fail "nnc build failed"; continue; fi
    rm -rf "$D/$m-run"
    if ! t_run "$D/$m" train --epochs 5 --log "$D/$m-run" "${short[@]}"; then t_fail "train failed"; continue; fi
    csv="$D/$m-run/metrics.csv"
    first=$(col "$csv" loss 0) last=$(col "$csv" loss 5)
    if [ -z "$first" ] || [ -z "$last" ]; then
        t_fail "metrics.csv lacks rows 0..5 with a loss column"
    elif awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'; then
        t_pass
    else
        t_fail "loss did not decrease: epoch 0 $first, epoch 5 $last"
    fi

    t_begin "e2e/$m/metrics.csv"
    header=$(head -n 1 "$csv")
    rows=$(($(wc -l < "$csv") - 1))
    e0=$(col "$csv" epoch 0)
    case ",$header," in
    *,epoch,*loss,*lr,*) if [ "$rows" = 6 ] && [ "$e0" = 0 ]; then t_pass;
                         else t_fail "expected 6 rows from epoch 0, got $rows rows starting at '$e0'"; fi ;;
    *) t_fail "header '$header' lacks epoch, loss, lr" ;;
    esac

    t_begin "e2e/$m/deterministic"
    "$NNC" "$nn" -o "$D/$m.1.c" && "$NNC" "$nn" -o "$D/$m.2.c"
    rm -rf "$D/$m-run2"
    t_run "$D/$m" train --epochs 2 --quiet --log "$D/$m-run2" "${short[@]}"
    if ! cmp -s "$D/$m.1.c" "$D/$m.2.c"; then
        t_fail "two compilations differ"
    elif ! diff <(cut -d, -f1-4 "$D/$m-run/metrics.csv" | head -n 4) \
                <(cut -d, -f1-4 "$D/$m-run2/metrics.csv") >>"$t_log"; then
        t_fail "the same seed gave different losses"
    else
        t_pass
    fi
done

# the trainer's commands working together, on the regression example
m=tiny_mlp
t_begin "e2e/trainer/init-grad-eval"
ok=1
t_run "$D/$m" init --out "$D/p0.npz" --seed 3 || ok=0
t_run "$D/$m" train --init "$D/p0.npz" --data "ripple(n = 64, seed = 5)" --epochs 1 --batch full \
      --optimizer "sgd(lr = 0.1)" --save "$D/p1.npz" --quiet || ok=0
t_run "$D/$m" grad --params "$D/p0.npz" --data "ripple(n = 64, seed = 5)" --out "$D/g0.npz" || ok=0
l0=$("$D/$m" eval --params "$D/p0.npz" --data "ripple(n = 64, seed = 5)" | awk '/^loss:/ { print $2 }')
l1=$("$D/$m" eval --params "$D/p1.npz" --data "ripple(n = 64, seed = 5)" | awk '/^loss:/ { print $2 }')
echo "loss before $l0, after one step $l1" >>"$t_log"
if [ $ok = 1 ] && [ -s "$D/g0.npz" ] && awk -v a="$l0" -v b="$l1" 'BEGIN { exit !(b < a) }'; then
    t_pass
else
    t_fail "init/train/grad/eval: loss before $l0, after one step $l1"
fi

t_begin "e2e/trainer/step-is-p-minus-lr-g"
# one full-batch SGD step from p0 must equal p0 - lr * grad, which the
# trainer's own check of a 1-sample batch cannot show; compare with python
# when numpy is there, else skip
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    if /usr/bin/python3 - "$D/p0.npz" "$D/g0.npz" "$D/p1.npz" >>"$t_log" 2>&1 <<'PY'
import sys, numpy as np
p0, g, p1 = (np.load(f) for f in sys.argv[1:4])
worst = max(float(np.max(np.abs(p0[k] - 0.1 * g[k] - p1[k]))) for k in g.files)
print("max |p0 - lr g - p1| =", worst)
sys.exit(0 if worst < 1e-6 else 1)
PY
    then t_pass; else t_fail "p1 != p0 - lr * grad"; fi
else
    t_skip "/usr/bin/python3 has no numpy"
fi

t_begin "e2e/library-form"
if t_run "$NNC" examples/xor.nn -o "$D/xorlib.c" --lib && [ -f "$D/xorlib.h" ] &&
   t_run cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I runtime -c "$D/xorlib.c" -o "$D/xorlib.o" &&
   ! grep -q "int main" "$D/xorlib.c" && grep -q "xor_model" "$D/xorlib.h"; then
    t_pass
else
    t_fail "--lib should write xorlib.h and a main-less xorlib.c that compiles"
fi

t_begin "e2e/sweep-with-D"
ok=1
for depth in 0 1 3; do
    "$NNC" build examples/sweep.nn -o "$D/sweep$depth" -D depth=$depth -D width=2 >>"$t_log" 2>&1 || ok=0
    n=$("$NNC" --emit=ir examples/sweep.nn -D depth=$depth -D width=2 | grep -c '^param')
    [ "$n" = $((2 * depth + 2)) ] || { echo "depth $depth: $n params, expected $((2 * depth + 2))" >>"$t_log"; ok=0; }
done
if [ $ok = 1 ] && t_run "$D/sweep3" train --epochs 2 --quiet; then t_pass; else t_fail "sweep with -D"; fi

# The core's reference example (models/design.nn) compiles (warnings only: Wr and c are unused,
# accuracy has no classifier) and trains on data without the unused target
t_begin "e2e/design-example"
rm -rf "$D/design-run"   # a run directory from an earlier run of this script
if t_run "$NNC" build tests/e2e/models/design.nn -o "$D/design" &&
   (cd "$D" && t_run ./design train --data "ripple(n = 200, seed = 1)" --test "ripple(n = 100, seed = 2)" \
        --log "$D/design-run") &&
   [ "$(wc -l < "$D/design-run/metrics.csv")" = 7 ] && grep -q "warning: param 'Wr'" "$t_log"; then
    t_pass
else
    t_fail "design.nn should compile with warnings and train"
fi
