# w6.sh - `make bench`'s W6 section: LeNet-5 on Fashion-MNIST
# (bench/models/w6.nn) against PyTorch 1.13 (bench/torch/w6.py), both on 2
# threads with denormals flushed; the GEMM-speed bound at its shapes; and
# one convolution layer at W6's and a CIFAR CNN's shapes against PyTorch's
# (bench/hand/conv.c, bench/torch/conv.py).  Sourced by bench/run.sh (uses
# its say, stats, row5, secs_col, R and B); `ONLY=w6 make bench` runs it
# alone.
#
# Run k of R6 (alternating nnc and PyTorch) draws its initial parameters
# and its shuffles from seed k on each side, so the test accuracies after
# 2 epochs are R6 draws of each side's distribution: their mean and range
# say whether the two train equally well (one seed alone differs by a point
# or more from the next).
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$FM" ]; then
    say ""
    say "W6: skipped (no $FM; scripts/deps.sh --all installs dataset-fashion-mnist)"
    return 0
fi
say ""
say "== W6: LeNet-5 (conv 5x5 6 pad 2, pool, conv 5x5 16, pool, 120, 84, 10), Adam, batch 64, 2 epochs (seconds per epoch, training only)"
./nnc build bench/models/w6.nn -o "$B/w6"
have_sgemm=0
cc -O2 -D_POSIX_C_SOURCE=200809L -o "$B/sgemm" bench/hand/sgemm.c \
    $(pkg-config --cflags --libs openblas 2>/dev/null) 2>/dev/null && have_sgemm=1
: >"$B/t_w6_nnc"; : >"$B/t_w6_torch"; : >"$B/w6_sgemm"; : >"$B/a_w6_nnc"; : >"$B/a_w6_torch"
R6=${R6:-$(( R < 3 ? R : 3 ))}
load0=$(cut -d' ' -f1 /proc/loadavg)
for k in $(seq "$R6"); do
    rm -rf "$B/w6run"
    "$B/w6" train --quiet --seed "$k" --log "$B/w6run" >/dev/null 2>&1
    for e in 1 2; do secs_col "$B/w6run/metrics.csv" $e train_seconds >>"$B/t_w6_nnc"; done
    secs_col "$B/w6run/metrics.csv" 2 test_accuracy >>"$B/a_w6_nnc"
    # the machine's limit at W6's shapes, right after each of nnc's runs, as for W3
    if [ $have_sgemm = 1 ]; then "$B/sgemm" w6 >>"$B/w6_sgemm"; fi
    if [ $have_torch = 1 ]; then
        (cd bench/torch && /usr/bin/python3 w6.py 2 "$k") >"$B/w6_torch.out"
        awk '/^epoch/ { print $4 }' "$B/w6_torch.out" >>"$B/t_w6_torch"
        awk '/^epoch 2/ { print $6 }' "$B/w6_torch.out" >>"$B/a_w6_torch"
    fi
done
# accuracy FILE: "mean M (min-max) over N seeds"
accuracy() { sort -g "$1" | awk '{ s += $1; v[NR] = $1 } END {
    printf "mean %.4f (%.4f-%.4f) over %d seeds", s / NR, v[1], v[NR], NR }'; }
ref=""
[ -s "$B/t_w6_torch" ] && read -r _ ref _ _ < <(stats x "$B/t_w6_torch")
read -r _ w6_med _ _ < <(stats x "$B/t_w6_nnc")
row5 "nnc (generated C), $R6 x 2 epochs" "$B/t_w6_nnc"
say "$(printf '    %.0f samples/s; test accuracy after 2 epochs: %s' "$(echo "60000 / $w6_med" | bc -l)" \
    "$(accuracy "$B/a_w6_nnc")")"
if [ -n "$ref" ]; then
    row5 "PyTorch (flushed), $R6 x 2 epochs" "$B/t_w6_torch"
    say "$(printf '    %.0f samples/s; test accuracy after 2 epochs: %s' "$(echo "60000 / $ref" | bc -l)" \
        "$(accuracy "$B/a_w6_torch")")"
    say "$(printf '  PyTorch / nnc x%.1f (medians; wanted: at least x4)' "$(echo "$ref / $w6_med" | bc -l)")"
else
    say "  PyTorch: skipped (/usr/bin/python3 has no torch)"
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
say "  load average at the start $load0, at the end $(cut -d' ' -f1 /proc/loadavg)"
say "  one convolution layer, batch 64: forward and the gradients of input, kernel and bias (ms, best of 50)"
say "  (products: the steps nnc plans as matrix products at the shape, forward / input / kernel;"
say "  with AVX-512 the runtime runs those under 256 terms per output directly: docs/performance.md;"
say "  nnc: one pass over 64 samples, the threads sharing each step; halves: two passes of 32"
say "  side by side, one per thread, as a trainer of a model with convolutions runs them)"
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
    read -r tn gn < <("$B/convb" $shape 64 50 $prod | awk '{ print $2, $3 }')
    read -r th gh < <("$B/convb" $shape 64 50 $prod 1 | awk '{ print $2, $3 }')
    line=$(printf '    C H W O K pad = %-15s products%s  nnc %7.2f ms (%5.1f GFLOP/s), halves %7.2f ms (%5.1f)' \
        "$shape" "$prod" "$(echo "$tn * 1000" | bc -l)" "$gn" "$(echo "$th * 1000" | bc -l)" "$gh")
    if [ $have_torch = 1 ]; then
        read -r _ tt gt < <(cd bench/torch && /usr/bin/python3 conv.py $shape 64 50)
        line="$line$(printf '   PyTorch %7.2f ms (%5.1f)   PyTorch / nnc x%.1f, halves x%.1f' \
            "$(echo "$tt * 1000" | bc -l)" "$gt" "$(echo "$tt / $tn" | bc -l)" "$(echo "$tt / $th" | bc -l)")"
    fi
    say "$line"
done
