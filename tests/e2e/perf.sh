#!/bin/bash
# End-to-end checks of what makes trainers fast (docs/performance.md):
# flushing denormals to zero changes no reported digit.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/perf"
mkdir -p "$D"

# Denormals are flushed by default; --no-ftz keeps IEEE arithmetic.  The
# printed losses and accuracies (4 significant digits) must be the same.
t_begin "perf/flush-to-zero changes no reported digit"
if ! t_build examples/spirals.nn "$D/spirals"; then
    t_fail "nnc build failed"
else
    "$D/spirals" train --epochs 30 >"$D/ftz.txt" 2>&1
    "$D/spirals" train --epochs 30 --no-ftz >"$D/ieee.txt" 2>&1
    if ! grep -q "^epoch 30 " "$D/ftz.txt"; then
        t_fail "no 'epoch 30' line in the output"
    elif cmp -s "$D/ftz.txt" "$D/ieee.txt"; then
        t_pass
    else
        t_fail "output differs with --no-ftz: $(diff "$D/ftz.txt" "$D/ieee.txt" | head -n 4)"
    fi
fi

# The fast paths against the simple ones on the same model and data: the
# 64-96-10 layers' products as one GEMM over the batch through OpenBLAS
# (the default, where the runtime has it), through the runtime's blocked
# kernel (NNRT_GEMM=blocked) and its plain loops (NNRT_GEMM=loops), and as
# loops vectorised over the batch (NNC_GEMM_MIN above the layer's size).
# Summation orders differ, so float32 losses agree to about 1e-5.
cat >"$D/wide.nn" <<'NN'
model wide
input  x[64]
target c : class(10)
param W1[96, 64] = he_uniform
param b1[96]     = zeros
param W2[10, 96] = xavier_uniform
param b2[10]     = zeros
h = relu(W1 @ x + b1)
loss = cross_entropy(W2 @ h + b2, c)
penalty = 1e-3 * sumsq(W1)
train {
  data      = random(n = 300, seed = 3)
  optimizer = adam(lr = 0.01)
  batch     = 64
  epochs    = 4
}
NN
losses() { awk -F, 'NR > 1 { print $3 }' "$1/${2:-metrics}.csv"; }
t_begin "perf/GEMM (default, blocked, plain loops) and batch-vectorised loops agree"
if t_build "$D/wide.nn" "$D/wide" && NNC_GEMM_MIN=100000 t_build "$D/wide.nn" "$D/wide_loops" &&
   "$NNC" "$D/wide.nn" -o "$D/wide.c" && NNC_GEMM_MIN=100000 "$NNC" "$D/wide.nn" -o "$D/wide_loops.c" &&
   grep -q "nnrt_gemm(0, 0, 96, n, 64" "$D/wide.c" && ! grep -q nnrt_gemm "$D/wide_loops.c"; then
    rm -rf "$D/w-default" "$D/w-blocked" "$D/w-plain" "$D/w-loops"
    t_run "$D/wide" train --log "$D/w-default"
    NNRT_GEMM=blocked t_run "$D/wide" train --log "$D/w-blocked"
    NNRT_GEMM=loops t_run "$D/wide" train --log "$D/w-plain"
    t_run "$D/wide_loops" train --log "$D/w-loops"
    bad=$(paste -d' ' <(losses "$D/w-default") <(losses "$D/w-blocked") <(losses "$D/w-plain") \
                      <(losses "$D/w-loops") | awk '
        function d(a, b) { return (a > b ? a - b : b - a) / (b > 0 ? b : -b) }
        NF != 4 || d($1, $2) > 1e-5 || d($1, $3) > 1e-5 || d($1, $4) > 1e-5 { print "epoch " NR - 1 ": " $0 }
        END { if (NR != 5) print NR " rows" }')
    if [ -z "$bad" ]; then t_pass; else t_fail "losses (default, blocked, plain, loops) differ: $bad"; fi
else
    t_fail "build failed, or NNC_GEMM_MIN did not switch between GEMM and loops"
fi

t_begin "perf/an unknown NNRT_GEMM is an error"
if [ -x "$D/wide" ]; then
    NNRT_GEMM=fast "$D/wide" train --epochs 1 >"$D/badgemm.txt" 2>&1
    rc=$?
    if [ $rc = 2 ] && grep -q "NNRT_GEMM=fast: expected loops, blocked or blas" "$D/badgemm.txt"; then
        t_pass
    else
        t_fail "exit status $rc, output: $(head -n 2 "$D/badgemm.txt")"
    fi
else
    t_fail "no trainer (build failed above)"
fi

# The runtime's passes over every parameter (the optimizer's update, zeroing
# the gradient), the gather of shuffled batches and the matrix products run
# on every core when they have two chunks or more (common_par.c: 8192
# parameters, 16 KiB of samples; nnrt_gemm.c: over 2^20 multiply-adds, here
# W1 @ x and d_W1 at 200 x 32 x 200; the penalty's W1 @ W1 runs while the
# next batch is being gathered).  Each element is computed alone, and a
# product is cut into the same parts whatever the number of threads, so one
# thread and several give the same bits: every logged number but the times.
cat >"$D/par.nn" <<'NN'
model par
input  x[200]
target c : class(10)
param W1[200, 200] = he_uniform
param b1[200]      = zeros
param W2[10, 200]  = xavier_uniform
param b2[10]       = zeros
h = relu(W1 @ x + b1)
loss = cross_entropy(W2 @ h + b2, c)
penalty = 1e-3 * sumsq(W1) + 1e-6 * sumsq(W1 @ W1)
train {
  data      = random(n = 256, seed = 3)
  optimizer = adam(lr = 0.01)
  batch     = 32
  epochs    = 3
}
NN
nontime() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /seconds$/ }
    { row = ""; for (i = 1; i <= NF; i++) if (keep[i]) row = row $i ","; print row }' "$1/metrics.csv"; }
t_begin "perf/the optimizer, the gather and the GEMMs on 1, 2 and 3 threads give the same bits"
opts=("adam(lr = 0.01)" "sgd(lr = 0.05, momentum = 0.9)" "rmsprop(lr = 0.001)")
if t_build "$D/par.nn" "$D/par"; then
    ok=1
    for th in 1 2 3; do
        for k in 0 1 2; do
            rm -rf "$D/par$th-$k"
            NNRT_THREADS=$th t_run "$D/par" train --optimizer "${opts[k]}" --quiet --no-plots \
                --log "$D/par$th-$k" --save "$D/par$th-$k.npz" || ok=0
            nontime "$D/par$th-$k" >"$D/par$th-$k.csv"
            if [ $th != 1 ] && ! { cmp -s "$D/par1-$k.csv" "$D/par$th-$k.csv" &&
                                   cmp -s "$D/par1-$k.npz" "$D/par$th-$k.npz"; }; then
                ok=0; echo "${opts[k]}: $th threads differ from 1" >>"$t_log"
            fi
        done
    done
    if [ $ok = 1 ]; then t_pass; else t_fail "metrics or parameters differ (see $t_log)"; fi
else
    t_fail "nnc build failed"
fi

# Fused loops and tiles (docs/performance.md) against the simple path: W1's
# ReLU MLP, whose products, biases and activations run as fused loops and
# whose full batch of 500 samples runs in tiles (NnrtModel.tile), trained in
# float64 from the same parameters as --style=loops (one sample at a time,
# no fusion, no tiles): the same losses to a relative 1e-9.
t_begin "perf/fused loops and tiles agree with --style=loops"
if t_build bench/models/w1.nn "$D/w1" --dtype f64 && t_build bench/models/w1.nn "$D/w1_loops" --dtype f64 --style=loops &&
   "$NNC" bench/models/w1.nn -o "$D/w1.c" --dtype f64; then
    if ! grep -q "NNRT_SIMD_LOOP" "$D/w1.c" || ! grep -q "real h1_2_ = h1_1_ + b1\[i\];" "$D/w1.c" ||
       ! grep -q "^    \.tile = [0-9]" "$D/w1.c"; then
        t_fail "w1.c has no fused loops or no tile"
    else
        t_run "$D/w1" init --out "$D/w1.p.npz" --seed 4
        for st in w1 w1_loops; do
            rm -rf "$D/$st.run"
            t_run "$D/$st" train --init "$D/w1.p.npz" --data 'ripple(n = 500, seed = 2)' --epochs 5 \
                --quiet --no-plots --log "$D/$st.run"
        done
        bad=$(paste -d' ' <(losses "$D/w1.run") <(losses "$D/w1_loops.run") | awk '
            { d = $1 - $2; if (d < 0) d = -d; if (NF != 2 || d > 1e-9 * ($2 < 0 ? -$2 : $2)) print "epoch " NR - 1 ": " $0 }
            END { if (NR != 6) print NR " rows" }')
        if [ -z "$bad" ]; then t_pass; else t_fail "losses (fused, loops) differ: $bad"; fi
    fi
else
    t_fail "nnc build failed"
fi

# A shuffled batch that fits in one chunk is gathered during the previous
# step's penalty (batch_gradient's `next`); one that does not is gathered
# as its chunks come.  W1's float64 trainers in batches of 200: the fused one
# runs them in chunks of its tile (80: gathered as they come), --style=loops
# in one (gathered ahead, also across epochs and their new orders): every
# step's loss agrees to a relative 1e-9 (a wrong batch moves it by percents).
t_begin "perf/batches gathered ahead are the batches of the order"
if [ -x "$D/w1" ] && [ -x "$D/w1_loops" ] && [ -f "$D/w1.p.npz" ]; then
    for st in w1 w1_loops; do
        rm -rf "$D/$st.shuf"
        t_run "$D/$st" train --init "$D/w1.p.npz" --data 'ripple(n = 500, seed = 2)' --epochs 3 \
            --batch 200 --quiet --no-plots --log "$D/$st.shuf"
    done
    bad=$(paste -d' ' <(losses "$D/w1.shuf" steps) <(losses "$D/w1_loops.shuf" steps) | awk '
        { d = $1 - $2; if (d < 0) d = -d; if (NF != 2 || d > 1e-9 * ($2 < 0 ? -$2 : $2)) print "step " NR ": " $0 }
        END { if (NR != 9) print NR " steps" }')
    if [ -z "$bad" ]; then t_pass; else t_fail "step losses (chunks, one chunk) differ: $bad"; fi
else
    t_fail "no trainers (build failed above)"
fi

# make bench's W5 sweeps delete nothing while they are timed: on ext4
# without a journal every file created within a minute of a deletion
# nearby costs a scan past the deleted inodes (docs/performance.md, *Deleted
# files slow down the next sweep*), and `rm -rf` of the last sweep before
# each sweep cost them up to 40% of their CPU.  Nothing in nnc_sweep or in
# the W5 loop may delete; the sweeps go at the end, after bench/jit.sh.
t_begin "perf/bench deletes nothing while W5 is timed"
bad=$(awk '/^nnc_sweep\(\)/ { in_f = 1 } in_f && /^}/ { in_f = 0 }
           /^for i in \$\(seq "\$R"\); do/ { in_l = 1 } in_l && /^done/ { in_l = 0 }
           (in_f || in_l) && /(^|[^a-z_])(rm|unlink|rmdir)[ \t]/ { print FILENAME ":" FNR ": " $0 }' bench/run.sh)
last_rm=$(grep -n 'rm -rf "${W5_DIR:-$B}"/w5\.' bench/run.sh | tail -n 1 | cut -d: -f1)
jit=$(grep -n '^\. bench/jit\.sh' bench/run.sh | cut -d: -f1)
if [ -n "$bad" ]; then
    t_fail "deletions while W5 is timed: $bad"
elif [ -z "$last_rm" ] || [ -z "$jit" ] || [ "$last_rm" -lt "$jit" ]; then
    t_fail "the W5 sweeps should be deleted at the end of bench/run.sh, after bench/jit.sh"
else
    t_pass
fi
