# jit.sh - `make bench`'s section on `nnc run` (the LLVM JIT, docs/jit.md),
# sourced by bench/run.sh (uses its say, stats, now, R and B).
#
#  - start-up: from `nnc run` starting to the end of the first training step
#    (parse, differentiate, LLVM O3, JIT, data, one step), against the C
#    path's `nnc build` (nnc + cc) followed by the trainer doing the same;
#  - steady state: the training time the runtime logs (metrics.csv, seconds)
#    for W1 (2000 full-batch epochs) and W3 (bench/models/w3.nn: 784-256-
#    128-10, Adam, batch 64; 300 steps on the 10000 test images), JIT vs C.
if ! ./nnc --emit=llvm bench/models/w1.nn >/dev/null 2>&1; then
    say ""
    say "== nnc run (LLVM JIT): skipped, nnc was built without LLVM (scripts/deps.sh; make)"
    return 0
fi
say ""
say "== nnc run (LLVM JIT) vs nnc build (C), median of $R"
fm='files(x = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255, c = "fashion-mnist/t10k-labels-idx1-ubyte.gz")'
have_fm=0
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && have_fm=1
jit_w=(w1 bench/models/w1.nn)
[ $have_fm = 1 ] && jit_w+=(w3 bench/models/w3.nn)
say "  start-up: model file to the end of the first training step (ms)"
for ((k = 0; k < ${#jit_w[@]}; k += 2)); do
    w=${jit_w[k]} nn=${jit_w[k + 1]}
    data=(); [ "$w" = w3 ] && data=(--data "$fm" --test none)
    : >"$B/t_jit_start"; : >"$B/t_c_start"
    for _ in $(seq "$R"); do
        t0=$(now); ./nnc run "$nn" train --steps 1 --quiet "${data[@]}" >/dev/null 2>&1; t1=$(now)
        ./nnc build "$nn" -o "$B/jit_$w" 2>/dev/null
        "$B/jit_$w" train --steps 1 --quiet "${data[@]}" >/dev/null 2>&1; t2=$(now)
        echo "($t1 - $t0) * 1000" | bc -l >>"$B/t_jit_start"; echo "($t2 - $t1) * 1000" | bc -l >>"$B/t_c_start"
    done
    read -r _ mj _ _ < <(stats x "$B/t_jit_start"); read -r _ mc _ _ < <(stats x "$B/t_c_start")
    say "$(printf '    %-4s nnc run %7.0f ms   nnc build + trainer %7.0f ms   x%.1f' "$w" "$mj" "$mc" \
        "$(echo "$mc / $mj" | bc -l)")"
done
say "  steady state: training seconds the runtime logs (metrics.csv)"
# the seconds column of a metrics.csv's last row
last_seconds() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i } END { print $c }' "$1"; }
for ((k = 0; k < ${#jit_w[@]}; k += 2)); do
    w=${jit_w[k]} nn=${jit_w[k + 1]}
    args=(--quiet); label="2000 epochs"
    [ "$w" = w3 ] && { args+=(--data "$fm" --test none --steps 300); label="300 steps"; }
    : >"$B/t_jit_run"; : >"$B/t_c_run"
    for _ in $(seq "$R"); do
        rm -rf "$B/jitrun" "$B/crun"
        ./nnc run "$nn" train "${args[@]}" --log "$B/jitrun" >/dev/null 2>&1
        "$B/jit_$w" train "${args[@]}" --log "$B/crun" >/dev/null 2>&1
        last_seconds "$B/jitrun/metrics.csv" >>"$B/t_jit_run"
        last_seconds "$B/crun/metrics.csv" >>"$B/t_c_run"
    done
    read -r _ mj _ _ < <(stats x "$B/t_jit_run"); read -r _ mc _ _ < <(stats x "$B/t_c_run")
    say "$(printf '    %-4s %-12s nnc run %8.3f s   C trainer %8.3f s   JIT / C x%.2f' "$w" "$label" "$mj" "$mc" \
        "$(echo "$mj / $mc" | bc -l)")"
done
[ $have_fm = 1 ] || say "  W3: skipped (dataset-fashion-mnist is not installed)"
