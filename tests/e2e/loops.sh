#!/bin/bash
# --style=loops computes what the default style computes: for models that
# cover every kind of op (matrix products and their transposes, broadcasting,
# reductions, softmax rows, cross-entropy, a penalty, weight tying, per-sample
# matrices), both styles built in float64 give the same gradients (`./model
# grad --print all`) and the same short training curve, within a relative 1e-9.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/loops"
mkdir -p "$D"

# same A B: every number of the two files agrees to a relative 1e-9
same() {
    paste <(grep -oE -- '-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?' "$1") \
          <(grep -oE -- '-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?' "$2") |
    awk -F'\t' '{ n++; d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1
                  if ($2 == "" || d > 1e-9 * a + 1e-13) { print "differs: " $1 " vs " $2; bad = 1 } }
                END { if (n == 0) { print "no numbers"; bad = 1 }; exit bad }'
}

for nn in tests/golden/tiny.nn examples/tiny_mlp.nn examples/spirals.nn tests/torch/models/rows.nn \
          tests/grad/broadcast1.nn tests/grad/tying.nn tests/grad/bce.nn tests/grad/reduce.nn tests/e2e/models/rank3_select.nn; do
    m=$(basename "$nn" .nn)
    t_begin "loops/$m/same-gradients"
    if ! t_build "$nn" "$D/$m.fast" --dtype f64 || ! t_build "$nn" "$D/$m.loops" --dtype f64 --style=loops; then
        t_fail "nnc build failed"
        continue
    fi
    t_run "$D/$m.fast" init --out "$D/$m.p.npz" --seed 2
    data='random(n = 6, seed = 3)'
    for st in fast loops; do
        "$D/$m.$st" grad --params "$D/$m.p.npz" --data "$data" --print all >"$D/$m.$st.grad" 2>>"$t_log"
    done
    if same "$D/$m.fast.grad" "$D/$m.loops.grad" >>"$t_log"; then
        t_pass
    else
        t_fail "the gradients differ between --style=fast and --style=loops (see $D/$m.*.grad)"
    fi

    t_begin "loops/$m/same-training-curve"
    for st in fast loops; do
        rm -rf "$D/$m.$st.run"
        t_run "$D/$m.$st" train --init "$D/$m.p.npz" --data 'random(n = 20, seed = 5)' --test none \
            --epochs 3 --batch 8 --optimizer 'sgd(lr = 0.05)' --metrics none --quiet --log "$D/$m.$st.run"
    done
    if [ ! -f "$D/$m.fast.run/metrics.csv" ] || [ ! -f "$D/$m.loops.run/metrics.csv" ]; then
        t_fail "training did not write metrics.csv"
    elif same <(cut -d, -f1-3 "$D/$m.fast.run/metrics.csv") <(cut -d, -f1-3 "$D/$m.loops.run/metrics.csv") >>"$t_log"; then
        t_pass
    else
        t_fail "the training curves differ between the styles"
    fi
done

# the loops form compiles warning-free, in float32 and float64, with gcc and clang
for nn in tests/golden/sigmoid.nn tests/torch/models/rows.nn tests/grad/xent.nn tests/grad/broadcast1.nn; do
    m=$(basename "$nn" .nn)
    for cc in gcc clang; do
        command -v $cc >/dev/null || continue
        t_begin "loops/$m/warnings/$cc"
        ok=1
        for dt in f32 f64; do
            t_run "$NNC" "$nn" -o "$D/$m.$dt.c" --dtype $dt --style=loops &&
            t_run $cc -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror -I runtime -c "$D/$m.$dt.c" \
                -o "$D/$m.$dt.$cc.o" || ok=0
        done
        if [ $ok = 1 ]; then t_pass; else t_fail "the loops form does not compile warning-free with $cc"; fi
    done
done

# the loops form also passes the finite-difference check on its own
t_begin "loops/check"
if t_run "$NNC" check tests/golden/sigmoid.nn --style=loops && grep -q "PASS: all 2 parameters" "$t_log"; then
    t_pass
else
    t_fail "nnc check --style=loops failed"
fi

t_begin "loops/bad-style"
if "$NNC" tests/golden/tiny.nn -o "$D/x.c" --style=loop >"$D/bad.txt" 2>&1; then
    t_fail "--style=loop was accepted"
elif grep -q "error: --style is fast or loops, not 'loop'" "$D/bad.txt"; then
    t_pass
else
    cat "$D/bad.txt" >>"$t_log"; t_fail "expected: --style is fast or loops, not 'loop'"
fi
