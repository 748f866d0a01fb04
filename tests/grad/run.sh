#!/bin/bash
# Gradient checks: every model here is compiled in float64 and its adjoint
# program compared with central finite differences of its forward program
# on random data (the trainer's `check` command), then compiled in float32
# and float64 with -Wall -Wextra -Wpedantic -Werror by gcc and clang.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/grad"
mkdir -p "$D"
for nn in tests/grad/*.nn; do
    m=$(basename "$nn" .nn)
    t_begin "grad/$m"
    if ! t_build "$nn" "$D/$m" --dtype f64; then
        t_fail "nnc build --dtype f64 failed"; continue
    fi
    if t_run "$D/$m" check --data "random(n = 5, seed = 3)" && grep -q PASS "$t_log"; then
        t_pass
    else
        t_fail "finite differences disagree with the adjoint program"
    fi
    for cc in gcc clang; do
        command -v $cc >/dev/null || continue
        for dt in f32 f64; do
            t_begin "warnings/$m/$cc/$dt"
            if t_run "$NNC" "$nn" -o "$D/$m.$dt.c" --dtype $dt &&
               t_run $cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I runtime -c "$D/$m.$dt.c" -o "$D/$m.$dt.$cc.o"; then
                t_pass
            else
                t_fail "generated C does not compile warning-free with $cc"
            fi
        done
    done
done
