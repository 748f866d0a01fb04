#!/bin/bash
# The LLVM JIT (`nnc run`, docs/jit.md) against the C backend.  For every
# example and every gradient-check model: the gradient (`grad`) and, for the
# examples, a short training curve (metrics.csv without its seconds column,
# and the final parameters) must agree with the C trainer's to within float
# rounding.  Both store batches samples innermost and run the same loops;
# they are not bit-identical because gcc and LLVM vectorise the sums over the
# batch and fuse multiply-adds in their own ways (docs/jit.md).  The JIT's own float64
# gradients are checked against finite differences.
# Where nnc was built without LLVM, `nnc run` must say how to get it and the
# rest is skipped.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/jit"
mkdir -p "$D"

# nnc itself does not load LLVM or the BLAS (~20 ms of start-up): the JIT
# is runtime/nnc-jit.so, loaded by nnc run, --emit=llvm and nnc sweep only
t_begin "jit/not-in-nnc-start-up"
loaded=$(LD_DEBUG=files "$NNC" --version 2>&1 >/dev/null | grep -o 'file=[^ ]*' | sort -u | tr '\n' ' ')
if [ -z "$loaded" ]; then
    t_skip "LD_DEBUG shows no loaded libraries here"
elif [[ $loaded == *LLVM* || $loaded == *blas* ]]; then
    t_fail "nnc --version loads: $loaded"
else
    t_pass
fi

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

# close NPZ1 NPZ2 TOL: every array agrees to TOL relative to its largest entry
close() {
    /usr/bin/python3 - "$@" >>"$t_log" 2>&1 <<'PY'
import sys, numpy as np
a, b, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
worst = 0.0
for k in a.files:
    scale = max(float(np.max(np.abs(a[k]))), 1e-30)
    worst = max(worst, float(np.max(np.abs(a[k] - b[k]))) / scale)
print("%s vs %s: worst relative difference %.3g (tolerance %g)" % (sys.argv[1], sys.argv[2], worst, tol))
sys.exit(0 if sorted(a.files) == sorted(b.files) and worst <= tol else 1)
PY
}
# curves_close CSV1 CSV2 TOL: the same rows and columns (but the times: seconds,
# train_seconds), numbers within TOL relative
curves_close() {
    awk -F, -v tol="$3" 'NR == FNR { row[FNR] = $0; n = FNR; next }
        FNR == 1 { for (i = 1; i <= NF; i++) skip[i] = $i ~ /seconds$/ }
        { if (!(FNR in row)) bad = 1; split(row[FNR], a, ",")
          for (i = 1; i <= NF; i++) { if (skip[i]) continue; d = a[i] - $i; if (d < 0) d = -d; s = a[i] < 0 ? -a[i] : a[i]
              if (FNR == 1 ? a[i] != $i : d > tol * (s > 1e-3 ? s : 1e-3)) bad = 1 } }
        END { if (FNR != n) bad = 1; exit bad }' "$1" "$2"
}
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_begin "jit/compare"; t_skip "/usr/bin/python3 has no numpy"; exit 0
fi

ffm=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
fashion='files(x = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255, c = "fashion-mnist/t10k-labels-idx1-ubyte.gz")'

# --quiet leaves stderr empty: nothing of LLVM's (warnings about loops it
# was asked to vectorise and could not) reaches the user, when it compiles
# (not from the compile cache)
quiet() {   # quiet ERRFILE CMD...: t_run, with CMD's stderr in ERRFILE, which must stay empty
    local err=$1; shift
    echo "\$ $*" >>"$t_log"
    "$@" >>"$t_log" 2>"$err" || { cat "$err" >>"$t_log"; return 1; }
    [ ! -s "$err" ] && return 0
    { echo "stderr with --quiet:"; cat "$err"; } >>"$t_log"; return 1
}

for nn in examples/*.nn tests/grad/*.nn; do
    m=$(basename "$nn" .nn)
    dtype=f32 tol=1e-4
    train=(--epochs 3)
    data=()
    case $nn in
    tests/grad/*) dtype=f64 tol=1e-11; data=(--data "random(n = 7, seed = 3)"); train=() ;;
    *fashion*)
        [ -f "$ffm" ] || { t_begin "jit/$m"; t_skip "dataset-fashion-mnist is not installed"; continue; }
        data=(--data "$fashion"); train=(--steps 12 --test none) ;;
    *lenet*)   # the CNN: its input is img
        [ -f "$ffm" ] || { t_begin "jit/$m"; t_skip "dataset-fashion-mnist is not installed"; continue; }
        data=(--data "${fashion/x =/img =}"); train=(--steps 12 --test none) ;;
    */vae.nn)   # Fashion-MNIST's images from its train block: a few steps, as above
        [ -f "$ffm" ] || { t_begin "jit/$m"; t_skip "dataset-fashion-mnist is not installed"; continue; }
        train=(--steps 12 --test none) ;;
    esac
    t_begin "jit/$m/grad"
    if ! t_build "$nn" "$D/$m" --dtype $dtype; then
        t_fail "nnc build failed"; continue
    fi
    rm -f "$D/$m".*.npz
    if t_run "$D/$m" init --out "$D/$m.p.npz" --seed 7 &&
       t_run "$D/$m" grad --params "$D/$m.p.npz" "${data[@]}" --out "$D/$m.gc.npz" &&
       t_run "$NNC" run "$nn" --dtype $dtype grad --params "$D/$m.p.npz" "${data[@]}" --out "$D/$m.gj.npz" &&
       close "$D/$m.gc.npz" "$D/$m.gj.npz" $tol; then
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
    if ! quiet "$D/$m-j.err" env NNC_CACHE=off "$NNC" run "$nn" train "${train[@]}" "${data[@]}" --log "$D/$m-j" --quiet; then
        t_fail "nnc run --quiet failed or wrote to stderr"
    elif t_run "$D/$m" train "${train[@]}" "${data[@]}" --log "$D/$m-c" --quiet &&
       curves_close "$D/$m-c/metrics.csv" "$D/$m-j/metrics.csv" 1e-3 &&
       close "$D/$m-c/params.npz" "$D/$m-j/params.npz" 1e-3; then
        t_pass
    else
        paste -d'|' "$D/$m-c/metrics.csv" "$D/$m-j/metrics.csv" >>"$t_log" 2>&1
        t_fail "nnc run's training curve differs from the C trainer's"
    fi
done

# Padded rows (docs/jit.md): the JIT's loops over the samples run to n
# rounded up to 32, the sums over the samples (gradients, losses) over the n
# samples only.  Batches of 20 (not a multiple of 16) with a last one of 10,
# the gradient over 37 samples, the loss over 45: as the C trainer's, also
# with --trap-nan (whose checks must not see the padding lanes).
t_begin "jit/padded-rows"
pdata='noisy_xor(n = 110, s = 0.25, seed = 5)' ptest='noisy_xor(n = 45, s = 0.25, seed = 6)'
rm -rf "$D/pad-c" "$D/pad-j" "$D/pad-t"
ptrain=(train --epochs 3 --batch 20 --data "$pdata" --test "$ptest" --quiet)
if t_run "$D/xor" grad --params "$D/xor.p.npz" --data 'noisy_xor(n = 37, seed = 4)' --out "$D/pad.gc.npz" &&
   t_run "$NNC" run examples/xor.nn grad --params "$D/xor.p.npz" --data 'noisy_xor(n = 37, seed = 4)' --out "$D/pad.gj.npz" &&
   close "$D/pad.gc.npz" "$D/pad.gj.npz" 1e-4 &&
   t_run "$D/xor" "${ptrain[@]}" --log "$D/pad-c" &&
   t_run env NNC_CACHE=off "$NNC" run examples/xor.nn "${ptrain[@]}" --log "$D/pad-j" &&
   t_run env NNC_CACHE=off "$NNC" run examples/xor.nn "${ptrain[@]}" --log "$D/pad-t" --trap-nan &&
   curves_close "$D/pad-c/metrics.csv" "$D/pad-j/metrics.csv" 1e-4 &&
   curves_close "$D/pad-c/metrics.csv" "$D/pad-t/metrics.csv" 1e-4 &&
   close "$D/pad-c/params.npz" "$D/pad-j/params.npz" 1e-4 &&
   t_run "$D/xor" eval --params "$D/pad-c/params.npz" --data "$ptest" &&
   t_run "$NNC" run examples/xor.nn eval --params "$D/pad-c/params.npz" --data "$ptest"; then
    lc=$(grep '^loss' "$t_log" | sed -n 1p) lj=$(grep '^loss' "$t_log" | sed -n 2p)
    if [ -n "$lc" ] && awk -v a="${lc#*: }" -v b="${lj#*: }" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'; then
        t_pass
    else
        t_fail "eval's loss over 45 samples differs: C '$lc', JIT '$lj'"
    fi
else
    paste -d'|' "$D/pad-c/metrics.csv" "$D/pad-j/metrics.csv" >>"$t_log" 2>&1
    t_fail "with batches of 20 and 10 the JIT differs from the C trainer"
fi

# float32 exp, log1p and tanh are the runtime's nnrt_expf etc., which the
# JIT builds from the same constants in the same order: over a sweep of
# floats (the seams of the approximations, tanh's saturation at 9.0109, exp's
# overflow and denormal results) `nnc run` must give the C trainer's
# (-march=native: fused multiply-adds) tanh, exp and sigmoid bit for bit,
# within 1.4 ulp of tanh and 1.05 ulp of exp (denormals kept: --no-ftz;
# tests/unit/check_mathf.c checks the floats without fused multiply-adds)
# (the bits are those of a trainer compiled with nnc build's default flags,
# which the JIT follows: t_build_native, tests/lib.sh)
t_begin "jit/mathf-bit-for-bit"
m=mathf_sweep
if t_build_native tests/e2e/models/$m.nn "$D/$m" &&
   /usr/bin/python3 - "$D/$m.p.npz" >>"$t_log" 2>&1 <<'PY' &&
import sys, numpy as np
n = 65536
rng = np.random.default_rng(5)
def floats(hi, k):   # k random floats of either sign up to hi, uniform in their bits
    bits = rng.integers(0, np.float32(hi).view(np.uint32), k, dtype=np.uint32)
    return bits.view(np.float32) * rng.choice([-1, 1], k).astype(np.float32)
w = np.concatenate([np.linspace(-10, 10, n // 8), np.linspace(8.9, 9.2, n // 16),
                    np.linspace(-0.64, -0.61, n // 16), np.linspace(-104.5, -85, n // 16),
                    np.linspace(88, 89, n // 16)]).astype(np.float32)
w = np.concatenate([w, floats(10, n // 4), floats(110, n - len(w) - n // 4)])
one = np.ones(n, np.float32)
np.savez(sys.argv[1], w=w, a=one, b=one, c=one)
PY
   t_run "$D/$m" grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1)" --out "$D/$m.gc.npz" &&
   t_run "$NNC" run tests/e2e/models/$m.nn grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1)" \
       --out "$D/$m.gj.npz" &&
   /usr/bin/python3 - "$D/$m.p.npz" "$D/$m.gc.npz" "$D/$m.gj.npz" >>"$t_log" 2>&1 <<'PY'
import sys, numpy as np
w = np.load(sys.argv[1])["w"]
c, j = np.load(sys.argv[2]), np.load(sys.argv[3])
differ = [k for k in c.files if not np.array_equal(c[k], j[k], equal_nan=True)]
print("JIT and C differ in:", differ or "nothing")
def ulps(got, want):   # in units of the float spacing at want; inf must be exact
    with np.errstate(all="ignore"):
        want32 = want.astype(np.float32)
        ulp = np.ldexp(1.0, np.maximum(np.frexp(want)[1] - 1, -126) - 23)
        err = np.abs(got.astype(np.float64) - want) / ulp
    return np.where(np.isinf(want32) | np.isinf(got), np.where(got == want32, 0, np.inf), err)
bad = bool(differ)
with np.errstate(over="ignore"):
    for k, name, want, tol in (("a", "tanh", np.tanh(w.astype(np.float64)), 1.4),
                               ("b", "exp", np.exp(w.astype(np.float64)), 1.05)):
        err = ulps(c[k], want)
        print("%s: worst error %.3f ulp at %.9g" % (name, err.max(), w[err.argmax()]))
        bad |= bool(err.max() > tol)
sys.exit(1 if bad else 0)
PY
then
    t_pass
else
    t_fail "nnc run's tanh, exp or sigmoid differ from the C trainer's, or from double precision"
fi

# the row ops (softmax, log_softmax, cross_entropy) exp with nnrt_expf in
# float32 too: the JIT's gradients are the C trainer's bit for bit, over
# logits from 0 to far below the denormals (denormals kept: --no-ftz)
t_begin "jit/rows-bit-for-bit"
m=rows_sweep
rm -f "$D/$m".*.npz
if t_build_native tests/e2e/models/$m.nn "$D/$m" && t_run "$D/$m" init --out "$D/$m.p.npz" --seed 7 &&
   t_run "$D/$m" grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1, seed = 3)" --out "$D/$m.gc.npz" &&
   t_run "$NNC" run tests/e2e/models/$m.nn grad --no-ftz --params "$D/$m.p.npz" \
       --data "random(n = 1, seed = 3)" --out "$D/$m.gj.npz" &&
   t_run /usr/bin/python3 -c 'import sys, numpy as np
c, j = np.load(sys.argv[1]), np.load(sys.argv[2])
differ = [k for k in c.files if not np.array_equal(c[k], j[k], equal_nan=True)]
print("JIT and C differ in:", differ or "nothing")
sys.exit(1 if differ else 0)' "$D/$m.gc.npz" "$D/$m.gj.npz"; then
    t_pass
else
    t_fail "nnc run's softmax, log_softmax or cross_entropy gradients differ from the C trainer's"
fi

# the trainer's command line: the command defaults to train, nnc's own -D
# and --dtype mix with trainer flags, and mistakes are the trainer's messages
t_begin "jit/command-line"
ok=1
rm -rf "$D/sweep-run"   # --log refuses an existing run
out=$("$NNC" run examples/sweep.nn -D depth=2 --epochs 1 --quiet --log "$D/sweep-run" 2>&1) || ok=0
[ -f "$D/sweep-run/metrics.csv" ] || ok=0
msg=$("$NNC" run examples/xor.nn trian 2>&1) && ok=0
echo "$out" "$msg" >>"$t_log"
case $msg in *"did you mean 'train'"*) ;; *) ok=0 ;; esac
msg=$("$NNC" run examples/xor.nn --epochs nope 2>&1) && ok=0
echo "$msg" >>"$t_log"
if [ $ok = 1 ]; then t_pass; else t_fail "nnc run's command line"; fi

# --trap-nan names the same model line as the C trainer (tests/e2e/train.sh):
# diverge.nn's exp(w x + b) overflows in the forward pass, gradnan.nn's
# sqrt at 0 makes the gradient infinite while the loss is finite,
# trapfused.nn's h overflows in a fused loop that stores h only for
# --trap-nan (nnc run compiles the model for it)
for m in diverge gradnan trapfused; do
    t_begin "jit/trap-nan/$m"
    want="diverge.nn:8: e    = exp(h)"
    [ $m = gradnan ] && want="adjoint of gradnan.nn:7: h    = sqrt(w * x)"
    [ $m = trapfused ] && want="trapfused.nn:8: h    = 10 * (1e38 * (w * x))"
    if ! t_build tests/e2e/models/$m.nn "$D/$m"; then
        t_fail "nnc build failed"; continue
    fi
    "$D/$m" train --trap-nan >"$D/$m.c.out" 2>"$D/$m.c.err"
    "$NNC" run tests/e2e/models/$m.nn train --trap-nan >"$D/$m.j.out" 2>"$D/$m.j.err"
    rc=$?
    cat "$D/$m.j.out" "$D/$m.j.err" >>"$t_log"
    if [ $rc -ne 1 ]; then
        t_fail "expected exit status 1, got $rc"
    elif ! grep -qF "first non-finite value at $want" "$D/$m.j.err"; then
        t_fail "expected '$want' to be named"
    elif ! cmp -s "$D/$m.c.err" "$D/$m.j.err"; then
        t_fail "the C trainer says otherwise: $(cat "$D/$m.c.err")"
    else
        t_pass
    fi
done

# The usual compilation has no code for --trap-nan's stores of transient
# steps (docs/jit.md): --emit=llvm's forward() of trapfused.nn stores
# exp(h) and the loss, not h and its factors; nnc sweep's runs, forked from that compilation, get the one
# with the stores when the trainer flags ask for --trap-nan
t_begin "jit/trap-nan/sweep"
rm -rf "$D/trapsweep"
"$NNC" --emit=llvm tests/e2e/models/trapfused.nn >"$D/trapfused.ll" 2>>"$t_log"
"$NNC" sweep tests/e2e/models/trapfused.nn --set lr=0.1 --jobs 1 --out "$D/trapsweep" \
    -- --trap-nan >>"$t_log" 2>&1
log=$(find "$D/trapsweep/runs" -name train.log 2>/dev/null | head -n 1)
stores=$(awk '/^define void @forward/ { f = 1 } f && /^}/ { f = 0 } f && /store float %/' "$D/trapfused.ll" | wc -l)
if [ "$stores" -ne 2 ]; then
    t_fail "forward() should store exp(h) and the loss only (h's steps in registers): 2 stores, has $stores"
elif [ -z "$log" ] || ! grep -qF "first non-finite value at trapfused.nn:8: h    = 10" "$log"; then
    t_fail "the sweep's run should name trapfused.nn:8 (h)"
else
    t_pass
fi

# The loops the C backend marks omp simd (the fused loops and the sums over
# the samples) are parallel for LLVM: their loads and stores in an access
# group the loop's llvm.loop.parallel_accesses names, so the vectoriser adds
# no run-time checks that the workspace's buffers do not overlap
t_begin "jit/parallel-loops"
"$NNC" --emit=llvm examples/tiny_mlp.nn >"$D/tiny.ll" 2>>"$t_log"
group=$(grep -o 'llvm.loop.parallel_accesses", ![0-9]*' "$D/tiny.ll" | head -n 1 | grep -o '![0-9]*$')
loops=$(grep -c 'br label %b[0-9]*, !llvm.loop' "$D/tiny.ll")
if [ -z "$group" ]; then
    t_fail "no loop of tiny_mlp's IR has llvm.loop.parallel_accesses"
elif ! grep -q "^$group = distinct !{}" "$D/tiny.ll"; then
    t_fail "the access group $group is not an empty distinct node"
elif ! grep -q "load float.*!llvm.access.group $group" "$D/tiny.ll" ||
     ! grep -q "store float.*!llvm.access.group $group" "$D/tiny.ll"; then
    t_fail "no load or store is in the access group $group"
elif [ "$loops" -lt 4 ]; then
    t_fail "expected the loops over the samples to carry loop metadata, found $loops"
else
    t_pass
fi

# The vector width of the parallel loops (docs/jit.md): stated where it is
# LLVM's own choice, on an AVX2 host without AVX-512 8 floats or 4 doubles
# for the loops over the samples without calls to libm, and left to LLVM
# for a loop with a constant trip count (the penalty's sums over a
# parameter's elements); on other hosts stated nowhere.
t_begin "jit/vector-width"
# the node stating width $2 in IR file $1, and the loops that name it
width_node() { grep -o "^![0-9]* = !{!\"llvm.loop.vectorize.width\", i32 $2}" "$1" | cut -d' ' -f1; }
width_loops() { [ -n "$2" ] && grep -c "^![0-9]* = distinct !{.*, $2[,}]" "$1"; }
if ! grep -qw avx2 /proc/cpuinfo || grep -qw avx512f /proc/cpuinfo; then
    # elsewhere (AVX-512, or no AVX2) every width is LLVM's: none is stated
    # but 1 (a loop that must stay scalar)
    "$NNC" --emit=llvm bench/models/w5.nn >"$D/w5w.ll" 2>>"$t_log"
    "$NNC" --emit=llvm --dtype f64 bench/models/w5.nn >"$D/w5w64.ll" 2>>"$t_log"
    if ! grep -q '^define' "$D/w5w.ll" || ! grep -q '^define' "$D/w5w64.ll"; then
        t_fail "nnc --emit=llvm gave no functions for w5"
    elif grep 'llvm.loop.vectorize.width' "$D/w5w.ll" "$D/w5w64.ll" | grep -qv 'i32 1}'; then
        t_fail "a loop states a vector width on a host where LLVM chooses: $(grep -h 'llvm.loop.vectorize.width' "$D/w5w.ll" "$D/w5w64.ll" | grep -v 'i32 1}' | head -n 1)"
    else
        t_pass
    fi
else
    "$NNC" --emit=llvm bench/models/w5.nn >"$D/w5w.ll" 2>>"$t_log"
    "$NNC" --emit=llvm --dtype f64 bench/models/w5.nn >"$D/w5w64.ll" 2>>"$t_log"
    "$NNC" --emit=llvm tests/grad/reduce.nn >"$D/reducew.ll" 2>>"$t_log"
    w8=$(width_node "$D/w5w.ll" 8); w4=$(width_node "$D/w5w64.ll" 4); r8=$(width_node "$D/reducew.ll" 8)
    pen=$(awk '/^define float @penalty/,/^}/' "$D/reducew.ll" | grep -o '!llvm.loop ![0-9]*' | cut -d' ' -f2 | tr '\n' ' ')
    stated=0
    for l in $pen; do grep -q "^$l = distinct !{.*, $r8[,}]" "$D/reducew.ll" && stated=1; done
    if [ "$(width_loops "$D/w5w.ll" "$w8")" -lt 3 ]; then
        t_fail "w5's loops over the samples do not state the width 8 (node '$w8')"
    elif [ "$(width_loops "$D/w5w64.ll" "$w4")" -lt 1 ]; then
        # (float64's tanh and exp are libm's: their loops leave the width to LLVM)
        t_fail "no loop of w5 in float64 states the width 4 (node '$w4')"
    elif [ -z "$pen" ] || [ -z "$r8" ] || [ $stated = 1 ]; then
        t_fail "reduce.nn: the penalty's loops ($pen) state a width, or none of its loops does"
    else
        t_pass
    fi
fi

# Quick code (docs/jit.md): LLVM's code generator at its fast level, which
# nnc run and nnc sweep choose for short trainings, computes the same bits
# as the optimised code: the same training curves (all but the times) and
# final parameters, for models with tanh and bce (w5), relu and softmax with
# cross-entropy (spirals), sigmoid (xor), the row ops (rows_sweep), float64
t_begin "jit/quick-code/same-bits"
ok=1
for run in "examples/spirals.nn" "examples/xor.nn" "examples/xor.nn --dtype f64" \
           "bench/models/w5.nn -D depth=2" "bench/models/w1.nn" "examples/tiny_mlp.nn" \
           "tests/e2e/models/rows_sweep.nn --data=random(n=50,seed=3)"; do
    read -r -a args <<<"$run"
    flags=()
    [ "${args[-1]#--data=}" != "${args[-1]}" ] && { flags=("${args[-1]}"); unset 'args[-1]'; }
    for code in quick optimised; do
        rm -rf "$D/qc-$code"
        echo "\$ NNC_JIT_CODE=$code nnc run ${args[*]} train ${flags[*]} --epochs 3" >>"$t_log"
        NNC_JIT_CODE=$code NNC_CACHE=off "$NNC" run "${args[@]}" train "${flags[@]}" --epochs 3 \
            --quiet --no-plots --log "$D/qc-$code" >>"$t_log" 2>&1 || ok=0
    done
    if ! curves_close "$D/qc-quick/metrics.csv" "$D/qc-optimised/metrics.csv" 0 ||
       ! close "$D/qc-quick/params.npz" "$D/qc-optimised/params.npz" 0; then
        echo "quick and optimised code differ on ${args[*]}" >>"$t_log"
        ok=0
    fi
done
if [ $ok = 1 ]; then t_pass; else t_fail "quick code's results differ from optimised code's"; fi

# The choice (docs/jit.md, Quick code): a sweep of short trainings gets
# quick code, the same sweep asked for a million epochs (stopped after one),
# as a trainer flag or in one configuration of --set, optimised code, as
# does NNC_JIT_CODE=optimised; a wrong NNC_JIT_CODE is reported
t_begin "jit/quick-code/choice"
sweep() {   # sweep NAME ENV... -- FLAGS: the sweep's stderr
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    rm -rf "$D/qs-$name"
    env NNC_CACHE=off "${envs[@]}" "$NNC" sweep examples/sweep.nn -D depth=1 --set lr=0.1 \
        --jobs 1 --out "$D/qs-$name" -- "$@" 2>&1 >/dev/null | tee -a "$t_log"
}
short=$(sweep short --)
long=$(sweep long -- --epochs 1000000 --stop-after 1)
rm -rf "$D/qs-set"
set=$(NNC_CACHE=off "$NNC" sweep examples/sweep.nn -D depth=1 --set epochs=1,1000000 --jobs 1 \
      --out "$D/qs-set" -- --stop-after 1 2>&1 >/dev/null | tee -a "$t_log")
forced=$(sweep forced NNC_JIT_CODE=optimised --)
wrong=$(sweep wrong NNC_JIT_CODE=fast --)
why=""
case $short in *"; 1 as quick code for short trainings"*) ;; *) why="a short sweep should have quick code" ;; esac
case $long in *"quick code"*) why="a sweep of a million epochs should have optimised code" ;; esac
case $set in *"quick code"*) why="a sweep with a configuration of a million epochs should have optimised code" ;; esac
case $forced in *"quick code"*) why="NNC_JIT_CODE=optimised should give optimised code" ;; esac
case $wrong in *"NNC_JIT_CODE='fast' is not quick, optimised or auto; using auto"*"1 as quick code"*) ;;
    *) why="NNC_JIT_CODE=fast should be reported, and auto used" ;; esac
[ -f "$D/qs-long/results.csv" ] || why="the sweep stopped after one epoch should have results"
if [ -z "$why" ]; then t_pass; else t_fail "$why"; fi
