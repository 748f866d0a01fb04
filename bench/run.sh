#!/bin/bash
# run.sh - `make bench`: nnc's trainers against references, side by side.
#
# For each workload W1-W7 (docs/performance.md) that nnc can run today the
# contenders run alternately, R times each (R=${R:-5}), and the table shows
# the median, min-max, the ratio of medians against nnc and the peak memory.
# References: hand-written C with static sizes (the practical limit) and,
# where /usr/bin/python3 has torch, PyTorch (2 threads, denormals flushed).
# Machines here are shared and noisy: only ratios measured in one run mean
# anything.  Results also go to build/bench/results.txt and are appended to
# bench/results/history.txt, to compare over time.
set -u
cd "$(dirname "$0")/.."
R=${R:-5}
B=build/bench
mkdir -p "$B"
# compilation is timed cold: the compile cache (docs/cache.md) is off except
# in W5's rows that say "warm cache"
export NNC_CACHE=off
OUT="$B/results.txt"
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1

now() { date +%s.%N; }
# stats NAME FILE: median, min, max of the numbers in FILE
stats() { sort -g "$2" | awk -v name="$1" '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %.6g %.6g %.6g\n", name, m, v[1], v[NR] }'; }
# peak RSS in MiB of a command (GNU time)
peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'; }
# row5 LABEL FILE: median (min-max) of FILE, and $ref / median when $ref is set
ref=""
row5() { read -r _ med lo hi < <(stats x "$2")
    say "$(printf '  %-44s %8.3f s  (%.3f-%.3f)%s' "$1" "$med" "$lo" "$hi" \
        "$([ -n "$ref" ] && printf '  PyTorch / this x%.1f' "$(echo "$ref / $med" | bc -l)")")"; }
# secs_col CSV ROW [COLUMN]: a metrics.csv's COLUMN (default seconds) in epoch ROW
secs_col() { awk -F, -v row="$2" -v col="${3:-seconds}" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
    NR == row + 2 { print $c }' "$1"; }

say "nnc benchmarks, $(date -u '+%Y-%m-%d %H:%M'), commit $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores, R = $R runs each"
say "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), load average $(cut -d' ' -f1-3 /proc/loadavg)"
trap 'mkdir -p bench/results; cat "$OUT" >>bench/results/history.txt; echo >>bench/results/history.txt' EXIT

# ONLY=NAME: only the section in bench/NAME.sh (w7, embed, jit)
if [ -n "${ONLY:-}" ]; then
    . "bench/$ONLY.sh"
    exit 0
fi

# ---- compile time
say ""
say "== compile time (nnc: .nn -> C; cc: C -> trainer), median of $R"
for nn in examples/*.nn bench/models/*.nn; do
    m=$(basename "$nn" .nn)
    : >"$B/t_nnc" ; : >"$B/t_cc"
    for _ in $(seq "$R"); do
        t0=$(now); ./nnc "$nn" -o "$B/$m.c" 2>/dev/null; t1=$(now)
        cc -O2 -march=native -I runtime -o "$B/$m" "$B/$m.c" runtime/libnnrt.a $(cat runtime/libnnrt.ldflags); t2=$(now)
        echo "$t1 - $t0" | bc -l >>"$B/t_nnc"; echo "$t2 - $t1" | bc -l >>"$B/t_cc"
    done
    read -r _ mn _ _ < <(stats x "$B/t_nnc"); read -r _ mc _ _ < <(stats x "$B/t_cc")
    say "$(printf '  %-12s nnc %6.1f ms   cc %6.0f ms' "$m" "$(echo "$mn * 1000" | bc -l)" "$(echo "$mc * 1000" | bc -l)")"
done

# a statement rebound N times (what a deep `repeat` or an unrolled RNN
# is): compile time must grow about linearly with N
for n in 1000 4000 10000; do
    printf 'input x[4]\ntarget y[4]\nh = x\nrepeat %d { h = tanh(h) }\nloss = sum((h - y)^2)\n' "$n" >"$B/repeat$n.nn"
    : >"$B/t_nnc"
    for _ in $(seq "$R"); do
        t0=$(now); ./nnc "$B/repeat$n.nn" -o "$B/repeat$n.c" 2>/dev/null; t1=$(now)
        echo "$t1 - $t0" | bc -l >>"$B/t_nnc"
    done
    read -r _ mn _ _ < <(stats x "$B/t_nnc")
    say "$(printf '  %-12s nnc %6.1f ms   (repeat %d { h = tanh(h) })' "repeat$n" "$(echo "$mn * 1000" | bc -l)" "$n")"
done
# ... and a layer rebound N times: a fused loop per layer and step, 2N
# loops (each one planned and written in time linear in its members)
for n in 1000 4000; do
    printf 'input x[4]\ntarget y[4]\nparam W[4, 4] = xavier_uniform\nh = x\nrepeat %d { h = tanh(W @ h) }\nloss = sum((h - y)^2)\n' "$n" >"$B/layers$n.nn"
    : >"$B/t_nnc"
    for _ in $(seq "$R"); do
        t0=$(now); ./nnc "$B/layers$n.nn" -o "$B/layers$n.c" 2>/dev/null; t1=$(now)
        echo "$t1 - $t0" | bc -l >>"$B/t_nnc"
    done
    read -r _ mn _ _ < <(stats x "$B/t_nnc")
    say "$(printf '  %-12s nnc %6.1f ms   (repeat %d { h = tanh(W @ h) })' "layers$n" "$(echo "$mn * 1000" | bc -l)" "$n")"
done

# ---- W1
say ""
say "== W1: 2-10-10-1 ReLU MLP, full-batch GD, N = 1000, 2000 epochs (seconds)"
./nnc build bench/models/w1.nn -o "$B/w1"
# the hand-written C with nnc build's default flags (src/main.c NNC_CFLAGS_NATIVE)
cc -O3 -march=native -fno-trapping-math -fopenmp-simd -o "$B/w1_hand" bench/hand/w1.c -lm
: >"$B/t_w1_nnc"; : >"$B/t_w1_hand"; : >"$B/t_w1_torch"
for _ in $(seq "$R"); do
    # both as whole processes (start, data, 2000 epochs, output); no --log
    t0=$(now); "$B/w1" train >"$B/w1.out" 2>&1; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$B/t_w1_nnc"
    t0=$(now); "$B/w1_hand" >"$B/w1_hand.out"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$B/t_w1_hand"
    [ $have_torch = 1 ] && /usr/bin/python3 bench/torch/w1.py batched | awk '{ print $2 }' >>"$B/t_w1_torch"
done
read -r _ nnc_med _ _ < <(stats nnc "$B/t_w1_nnc")
row() {   # row LABEL FILE MEM
    read -r _ med lo hi < <(stats x "$2")
    say "$(printf '  %-24s %9.4f s  (%.4f-%.4f)  %8.1f us/epoch  x%-7.2f  peak %s MiB' "$1" "$med" "$lo" "$hi" \
        "$(echo "$med / 2000 * 1000000" | bc -l)" "$(echo "$med / $nnc_med" | bc -l)" "$3")"
}
row "nnc (generated C)" "$B/t_w1_nnc" "$(peak "$B/w1" train --quiet)"
say "    final loss $(tail -n 1 "$B/w1.out" | awk '{ print $4 }') (whole process timed)"
row "hand-written C" "$B/t_w1_hand" "$(peak "$B/w1_hand")"
say "    final loss $(awk '{ print $4 }' "$B/w1_hand.out") (whole process timed; its own init)"
if [ $have_torch = 1 ]; then
    row "PyTorch batched" "$B/t_w1_torch" "$(peak /usr/bin/python3 bench/torch/w1.py batched)"
    /usr/bin/python3 bench/torch/w1.py per-sample | awk '{ print $2 }' >"$B/t_w1_torch_ps"
    row "PyTorch per-sample (scaled)" "$B/t_w1_torch_ps" "-"
else
    say "  PyTorch: skipped (/usr/bin/python3 has no torch)"
fi
say "  (x = time / nnc's time: above 1 means nnc is faster)"

# ---- W5
say ""
say "== W5: noisy-XOR sweep, depth 0..3 x width 1..3 x 5 repeats = 60 runs of 50 epochs"
# (a) the whole sweep as a user runs it, compilation included: nnc sweep
#     with the LLVM JIT (12 models compiled in memory, 60 runs forked from
#     them) and with the C backend (12 x nnc build + cc, 60 trainer execs),
#     each into a fresh directory, two jobs at a time; each with an empty
#     compile cache (cold: everything compiled) and again with the cache
#     the cold sweep filled (warm: the sweep re-run, nothing compiled);
# (b) training only: 60 runs of 12 trainers built beforehand (not timed),
#     two processes at a time.
have_jit=0
./nnc --emit=llvm bench/models/w5.nn >/dev/null 2>&1 && have_jit=1
for d in 0 1 2 3; do for w in 1 2 3; do
    ./nnc build bench/models/w5.nn -o "$B/w5_${d}_$w" -D depth=$d -D width=$w
done; done
# the last line each trainer prints ("epoch 50 loss L test_loss V ...") holds the validation loss
sweep() {
    for d in 0 1 2 3; do for w in 1 2 3; do for r in 1 2 3 4 5; do echo "$d $w $r"; done; done; done |
        xargs -P 2 -n 3 sh -c '"$0/w5_$1_$2" train --seed $3 2>&1 | tail -n 1 >"$0/w5out_$1_$2_$3"' "$B"
}
# Every timed sweep writes a directory of its own, and every cold one fills
# a compile cache of its own (the warm one after it re-uses it), all under
# $W5 and deleted at the end of the bench, after every timing: on ext4
# without a journal (this machine's root file system) every file created
# within a minute or more of a deletion in its block group is slower, so
# deleting the last sweep's 600 files right before the next sweep cost the
# sweeps up to 40% of their CPU (docs/performance.md, *Deleted files slow
# down the next sweep*).  W5_DIR=/dev/shm puts them on a tmpfs.
W5="${W5_DIR:-$B}/w5.$$"
nnc_sweep() {   # nnc_sweep BACKEND cold|warm I: the whole sweep, timed into $B/t_w5_BACKEND_CACHE
    t0=$(now)
    NNC_CACHE=on NNC_CACHE_DIR="$W5/cache_$1_$3" ./nnc sweep bench/models/w5.nn -D depth=0..3 \
        -D width=1..3 --repeat 5 --jobs 2 --backend "$1" --out "$W5/sweep_$1_$2_$3" >"$B/w5sweep_$1.out" 2>&1
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$B/t_w5_$1_$2"
}
: >"$B/t_w5_nnc"; : >"$B/t_w5_torch"
for f in jit_cold jit_warm c_cold c_warm; do : >"$B/t_w5_$f"; done
RT=${RT:-$(( R < 3 ? R : 3 ))}   # PyTorch's sweep takes about a minute: fewer repeats
for i in $(seq "$R"); do
    [ $have_jit = 1 ] && nnc_sweep jit cold "$i" && nnc_sweep jit warm "$i"
    nnc_sweep c cold "$i"
    nnc_sweep c warm "$i"
    t0=$(now); sweep; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$B/t_w5_nnc"
    if [ $have_torch = 1 ] && [ "$i" -le "$RT" ]; then
        /usr/bin/python3 bench/torch/w5.py >"$B/w5_torch.out"
        awk 'NR == 1 { print $2 }' "$B/w5_torch.out" >>"$B/t_w5_torch"
    fi
done
if [ -s "$B/t_w5_torch" ]; then read -r _ ref _ _ < <(stats x "$B/t_w5_torch"); else ref=""; fi
[ -s "$B/t_w5_jit_cold" ] && row5 "nnc sweep, LLVM JIT, cold cache (compiling)" "$B/t_w5_jit_cold"
[ -s "$B/t_w5_jit_warm" ] && row5 "nnc sweep, LLVM JIT, warm cache (re-run)" "$B/t_w5_jit_warm"
row5 "nnc sweep, C backend, cold cache (12 x cc)" "$B/t_w5_c_cold"
row5 "nnc sweep, C backend, warm cache (re-run)" "$B/t_w5_c_warm"
row5 "60 prebuilt trainers (training only)" "$B/t_w5_nnc"
if [ -n "$ref" ]; then
    row5 "PyTorch (one process, $RT runs)" "$B/t_w5_torch"
    say "  PyTorch's validation losses: $B/w5_torch.out"
fi
[ $have_jit = 1 ] || say "  (no LLVM JIT in this nnc: the JIT sweep is skipped)"
say "  validation loss, mean +- std over the 5 repeats: prebuilt trainers | nnc sweep C | nnc sweep JIT | PyTorch"
tl() {   # tl DIR D W: test_loss mean +- std of that configuration in a sweep's results.csv
    [ -f "$1/results.csv" ] || { echo "-"; return; }
    awk -F, -v d="$2" -v w="$3" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $2 == d && $3 == w { printf "%.4f +- %.4f", $c["test_loss_mean"], $c["test_loss_std"] }' "$1/results.csv"; }
for d in 0 1 2 3; do for w in 1 2 3; do
    tr_=$(for r in 1 2 3 4 5; do awk '{ print $6 }' "$B/w5out_${d}_${w}_$r"; done |
        awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; printf "%.4f +- %.4f", m, sqrt((q - n * m * m) / (n - 1)) }')
    pt=$(awk -v d=$d -v w=$w '$1 == "depth" && $2 == d && $4 == w { print $6, $7, $8 }' "$B/w5_torch.out" 2>/dev/null)
    say "$(printf '    depth %d width %d  %s | %s | %s | %s' $d $w "$tr_" "$(tl "$W5/sweep_c_warm_$R" $d $w)" \
        "$(tl "$W5/sweep_jit_warm_$R" $d $w)" "${pt:--}")"
done; done

# ---- W2, W3: Fashion-MNIST
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$FM" ]; then
    say ""
    say "W2, W3: skipped (no $FM; scripts/deps.sh --all installs dataset-fashion-mnist)"
else
    say ""
    say "== W2: autoencoder 784-128-128-32-784 (tanh), SGD batch 20, 1000 updates (seconds, training only)"
    ./nnc build bench/models/w2.nn -o "$B/w2"
    : >"$B/t_w2_nnc"; : >"$B/t_w2_torch"
    R2=${R2:-$(( R < 3 ? R : 3 ))}
    for _ in $(seq "$R2"); do
        rm -rf "$B/w2run"
        "$B/w2" train --quiet --log "$B/w2run" >/dev/null 2>&1
        # the epoch's updates alone, as the trainer times them (train_seconds)
        secs_col "$B/w2run/metrics.csv" 1 train_seconds >>"$B/t_w2_nnc"
        [ $have_torch = 1 ] && (cd bench/torch && /usr/bin/python3 w2.py) | tee "$B/w2_torch.out" | awk '{ print $2 }' >>"$B/t_w2_torch"
    done
    read -r _ nnc_med _ _ < <(stats nnc "$B/t_w2_nnc")
    ref=""   # rows without W5's ratio; PyTorch / nnc follows both rows
    row5 "nnc (generated C)" "$B/t_w2_nnc"
    say "    loss after (sum over 60000 images): $(tail -n 1 "$B/w2run/metrics.csv" | cut -d, -f3)"
    if [ -s "$B/t_w2_torch" ]; then
        row5 "PyTorch" "$B/t_w2_torch"
        say "    loss after (sum over 60000 images): $(awk '{ print $4 }' "$B/w2_torch.out")"
        read -r _ t_med _ _ < <(stats x "$B/t_w2_torch")
        say "$(printf '  PyTorch / nnc: x%.1f' "$(echo "$t_med / $nnc_med" | bc -l)")"
    fi
    say "  (nnc's training time is its log's train_seconds: the updates, no evaluation)"

    say ""
    say "== W3: 784-256-128-10 MLP, Adam + L2 + decay, batch 64, 5 epochs (seconds per epoch, training only)"
    ./nnc build bench/models/w3.nn -o "$B/w3"
    # R3 runs of each, alternating; every epoch's training time counts (nnc:
    # the trainer's train_seconds, the updates without the evaluations;
    # PyTorch: its training loop), medians over all R3 x 5 epochs
    R3=${R3:-$(( R < 3 ? R : 3 ))}
    : >"$B/t_w3_nnc"; : >"$B/t_w3_torch"; : >"$B/w3_sgemm"
    # the machine's limit, measured after each of nnc's runs (below)
    have_sgemm=0
    cc -O2 -D_POSIX_C_SOURCE=200809L -o "$B/sgemm" bench/hand/sgemm.c \
        $(pkg-config --cflags --libs openblas 2>/dev/null) 2>/dev/null && have_sgemm=1
    for _ in $(seq "$R3"); do
        rm -rf "$B/w3run"
        "$B/w3" train --quiet --log "$B/w3run" >/dev/null 2>&1
        for e in 1 2 3 4 5; do secs_col "$B/w3run/metrics.csv" $e train_seconds >>"$B/t_w3_nnc"; done
        if [ $have_sgemm = 1 ]; then "$B/sgemm" >>"$B/w3_sgemm"; fi
        if [ $have_torch = 1 ]; then
            (cd bench/torch && /usr/bin/python3 w3.py 5) >"$B/w3_torch.out"
            awk '/^epoch/ { print $4 }' "$B/w3_torch.out" >>"$B/t_w3_torch"
        fi
    done
    read -r _ nnc_med _ _ < <(stats nnc "$B/t_w3_nnc")
    ref=""
    row5 "nnc (generated C), $R3 x 5 epochs" "$B/t_w3_nnc"
    say "    test accuracy after 5 epochs: $(secs_col "$B/w3run/metrics.csv" 5 test_accuracy), peak $(peak "$B/w3" train --epochs 1 --quiet) MiB (1 epoch)"
    if [ $have_torch = 1 ]; then
        row5 "PyTorch (flushed), $R3 x 5 epochs" "$B/t_w3_torch"
        say "    test accuracy after 5 epochs: $(awk '/^epoch 5/ { print $6 }' "$B/w3_torch.out"), peak $(cd bench/torch && peak /usr/bin/python3 w3.py 1) MiB (1 epoch)"
        read -r _ t_med _ _ < <(stats x "$B/t_w3_torch")
        say "$(printf '  PyTorch / nnc: x%.1f' "$(echo "$t_med / $nnc_med" | bc -l)")"
    fi
    # the machine's limit: sgemm at the step's shapes; 60.5 GFLOP per epoch
    # (forward 28.2, weight gradients 28.2, input gradients of layers 2-3 4.1);
    # each shape the best of 1 and 2 threads (bench/hand/sgemm.c).  A limit
    # is the best the library did: the best of the R3 measurements, each
    # right after one of nnc's runs (one alone was sometimes taken while
    # something else held a core: 71.7 GFLOP/s against 102-115 in the runs
    # around it)
    if [ -s "$B/w3_sgemm" ]; then
        read -r _ g_step _ g_big _ g_1t _ g_2t < <(sort -g -k2,2 "$B/w3_sgemm" | tail -n 1)
        g_all=$(awk '{ printf "%s%.1f", (NR > 1 ? ", " : ""), $2 }' "$B/w3_sgemm")
        say "$(printf '  GFLOP/s: nnc %.1f (60.5 GFLOP per epoch / median epoch); OpenBLAS sgemm at the step'"'"'s shapes %.1f (best of %s)' \
            "$(echo "60.5 / $nnc_med" | bc -l)" "$g_step" "$g_all")"
        say "$(printf '    (each shape on 1 or 2 threads, whichever is faster; all on 1 thread %.1f, all on 2 threads %.1f; %.1f at 1024^3)' \
            "$g_1t" "$g_2t" "$g_big")"
        say "$(printf '  nnc reaches %.0f%% of the sgemm time bound (%.3f s per epoch)' \
            "$(echo "60.5 / $g_step / $nnc_med * 100" | bc -l)" "$(echo "60.5 / $g_step" | bc -l)")"
    fi
    # denormals: the same 2 epochs with IEEE arithmetic give the same digits
    rm -rf "$B/w3ieee"
    "$B/w3" train --epochs 2 --no-ftz --quiet --log "$B/w3ieee" >/dev/null 2>&1
    d2=$(secs_col "$B/w3ieee/metrics.csv" 2 train_seconds)
    digits() { awk -F, 'NR > 1 && NR <= 4 { printf "%.4g %.4g %.3f %.3f\n", $3, $5, $6, $7 }' "$1"; }
    same=$(digits "$B/w3ieee/metrics.csv"); same2=$(digits "$B/w3run/metrics.csv")
    say "$(printf '  --no-ftz (denormals kept): epoch 2 takes %.3f s; loss and accuracy of epochs 0-2 %s' "$d2" \
        "$([ "$same" = "$same2" ] && echo "identical to the flushed run" || echo "DIFFER from the flushed run")")"

    # ---- W6: LeNet-5, and one convolution layer against PyTorch's
    say ""
    say "== W6: LeNet-5 (conv 5x5 6 pad 2, pool, conv 5x5 16, pool, 120, 84, 10), Adam, batch 64, 2 epochs (seconds per epoch, training only)"
    ./nnc build bench/models/w6.nn -o "$B/w6"
    : >"$B/t_w6_nnc"; : >"$B/t_w6_torch"; : >"$B/w6_sgemm"
    R6=${R6:-$(( R < 3 ? R : 3 ))}
    for _ in $(seq "$R6"); do
        rm -rf "$B/w6run"
        "$B/w6" train --quiet --log "$B/w6run" >/dev/null 2>&1
        for e in 1 2; do secs_col "$B/w6run/metrics.csv" $e train_seconds >>"$B/t_w6_nnc"; done
        # the machine's limit at W6's shapes, right after each of nnc's runs, as for W3
        if [ $have_sgemm = 1 ]; then "$B/sgemm" w6 >>"$B/w6_sgemm"; fi
        if [ $have_torch = 1 ]; then
            (cd bench/torch && /usr/bin/python3 w6.py 2) >"$B/w6_torch.out"
            awk '/^epoch/ { print $4 }' "$B/w6_torch.out" >>"$B/t_w6_torch"
        fi
    done
    ref=""
    [ -s "$B/t_w6_torch" ] && read -r _ ref _ _ < <(stats x "$B/t_w6_torch")
    read -r _ w6_med _ _ < <(stats x "$B/t_w6_nnc")
    row5 "nnc (generated C), $R6 x 2 epochs" "$B/t_w6_nnc"
    say "$(printf '    %.0f samples/s; test accuracy after 2 epochs: %s' "$(echo "60000 / $w6_med" | bc -l)" \
        "$(secs_col "$B/w6run/metrics.csv" 2 test_accuracy)")"
    if [ -n "$ref" ]; then
        row5 "PyTorch (flushed), $R6 x 2 epochs" "$B/t_w6_torch"
        say "$(printf '    %.0f samples/s; test accuracy after 2 epochs: %s' "$(echo "60000 / $ref" | bc -l)" \
            "$(awk '/^epoch 2/ { print $6 }' "$B/w6_torch.out")")"
    fi
    # the GEMM-speed bound, measured as W3's: the model's FLOPs (nnc
    # --report, forward and backward per sample, 2.3 M) at the best rate
    # OpenBLAS sgemm reached at the step's shapes (bench/hand/sgemm.c w6:
    # the convolutions as products over im2col's tiles, the dense layers'
    # products), the best of the R6 measurements
    w6_flops=$(./nnc --report bench/models/w6.nn | awk '$1 == "total" { print ($3 + $4) * 60000 / 1e9 }')
    if [ -s "$B/w6_sgemm" ]; then
        read -r _ g6_step _ g6_big _ _ _ _ < <(sort -g -k2,2 "$B/w6_sgemm" | tail -n 1)
        g6_all=$(awk '{ printf "%s%.1f", (NR > 1 ? ", " : ""), $2 }' "$B/w6_sgemm")
        say "$(printf '  GFLOP/s: nnc %.1f (%.0f GFLOP per epoch / median epoch); OpenBLAS sgemm at the step'"'"'s shapes %.1f (best of %s; %.1f at 1024^3)' \
            "$(echo "$w6_flops / $w6_med" | bc -l)" "$w6_flops" "$g6_step" "$g6_all" "$g6_big")"
        say "$(printf '  nnc reaches %.0f%% of the sgemm time bound (%.3f s per epoch)' \
            "$(echo "$w6_flops / $g6_step / $w6_med * 100" | bc -l)" "$(echo "$w6_flops / $g6_step" | bc -l)")"
    else
        say "$(printf '  %.0f GFLOP per epoch (no sgemm measurement for the bound)' "$w6_flops")"
    fi
    say "  one convolution layer, batch 64: forward and the gradients of input, kernel and bias (ms, best of 10)"
    say "  (products: the steps nnc plans as matrix products at the shape, forward / input / kernel;"
    say "  with AVX-512 the runtime runs those under 512 terms per output directly: docs/performance.md)"
    cc -O2 -march=native -I runtime -o "$B/convb" bench/hand/conv.c runtime/libnnrt.a $(cat runtime/libnnrt.ldflags)
    for shape in "1 28 28 6 5 2" "6 14 14 16 5 0" "3 32 32 32 3 1" "32 32 32 64 3 1"; do
        # the steps nnc plans as products for a layer of this shape: its
        # generated C's calls marked .gemm = 1 (the input's gradient is
        # needed: the input is s * x with a parameter s)
        read -r C H W O K P <<<"$shape"
        printf 'input x[%d, %d, %d]\nparam s[1] = ones\nparam K[%d, %d, %d, %d] = he_uniform\nparam b[%d] = zeros\nloss = sum(conv2d(s * x, K, b, pad = %d))\n' \
            "$C" "$H" "$W" "$O" "$C" "$K" "$K" "$O" "$P" >"$B/conv1.nn"
        ./nnc "$B/conv1.nn" -o "$B/conv1.c"
        prod=""
        for f in nnrt_conv nnrt_conv_bwd_x nnrt_conv_bwd_k; do
            prod="$prod $(grep -A1 "^ *$f(" "$B/conv1.c" | grep -c '\.gemm = 1')"
        done
        read -r tn gn < <("$B/convb" $shape 64 10 $prod | awk '{ print $2, $3 }')
        line=$(printf '    C H W O K pad = %-15s products%s  nnc %7.2f ms (%5.1f GFLOP/s)' "$shape" "$prod" \
            "$(echo "$tn * 1000" | bc -l)" "$gn")
        if [ $have_torch = 1 ]; then
            read -r _ tt gt < <(cd bench/torch && /usr/bin/python3 conv.py $shape 64 10)
            line="$line$(printf '   PyTorch %7.2f ms (%5.1f)   PyTorch / nnc x%.1f' "$(echo "$tt * 1000" | bc -l)" "$gt" \
                "$(echo "$tt / $tn" | bc -l)")"
        fi
        say "$line"
    done
fi

# ---- W3 with dropout, W3 with batch norm
if [ -f "$FM" ]; then
    say ""
    say "== W3 variants: dropout(p = 0.2) after each hidden layer; batchnorm after each hidden product (2 epochs, seconds per epoch, training only)"
    R3=${R3:-$(( R < 3 ? R : 3 ))}
    for v in dropout bn; do
        ./nnc build bench/models/w3_$v.nn -o "$B/w3_$v"
        : >"$B/t_w3${v}_nnc"; : >"$B/t_w3${v}_torch"
        for _ in $(seq "$R3"); do
            rm -rf "$B/w3${v}run"
            "$B/w3_$v" train --epochs 2 --quiet --log "$B/w3${v}run" >/dev/null 2>&1
            for e in 1 2; do secs_col "$B/w3${v}run/metrics.csv" $e train_seconds >>"$B/t_w3${v}_nnc"; done
            if [ $have_torch = 1 ]; then
                (cd bench/torch && /usr/bin/python3 w3_var.py $v 2) >"$B/w3${v}_torch.out"
                awk '/^epoch/ { print $4 }' "$B/w3${v}_torch.out" >>"$B/t_w3${v}_torch"
            fi
        done
        read -r _ nnc_med _ _ < <(stats nnc "$B/t_w3${v}_nnc")
        ref=""
        row5 "nnc, W3 + $v, $R3 x 2 epochs" "$B/t_w3${v}_nnc"
        say "    test accuracy after 2 epochs (eval mode): $(secs_col "$B/w3${v}run/metrics.csv" 2 test_accuracy)"
        if [ -s "$B/t_w3${v}_torch" ]; then
            row5 "PyTorch, W3 + $v, $R3 x 2 epochs" "$B/t_w3${v}_torch"
            say "    test accuracy after 2 epochs (eval mode): $(awk '/^epoch 2/ { print $6 }' "$B/w3${v}_torch.out")"
            read -r _ t_med _ _ < <(stats x "$B/t_w3${v}_torch")
            say "$(printf '  PyTorch / nnc: x%.1f' "$(echo "$t_med / $nnc_med" | bc -l)")"
        fi
    done
fi

# ---- W7: an Elman RNN over the 28 rows of Fashion-MNIST images
. bench/w7.sh

# ---- embeddings: the gather against one-hot products
. bench/embed.sh

# ---- nnc run (LLVM JIT) against the C path
. bench/jit.sh

say ""
say "Not yet measured: W3c, W4."
# after every timing: the last W5 sweeps' results stay in $B/w5sweep_BACKEND,
# the sweeps go (and what an interrupted bench left)
for b in jit c; do
    [ -d "$W5/sweep_${b}_warm_$R" ] || continue
    rm -rf "$B/w5sweep_$b"
    mkdir -p "$B/w5sweep_$b"
    cp "$W5/sweep_${b}_warm_$R"/results.* "$W5/sweep_${b}_warm_$R"/runs.csv "$B/w5sweep_$b/"
done
rm -rf "${W5_DIR:-$B}"/w5.[0-9]* "$B"/w5cache_*
