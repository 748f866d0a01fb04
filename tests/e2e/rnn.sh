#!/bin/bash
# Rolled loops (docs/language.md, Recurrent networks; docs/ir.md, IrLoop):
# `repeat t = T` whose steps keep their shapes compiles to one loop over
# the steps; its numbers equal the unrolled model's (`repeat T`) and
# PyTorch's, in every command, and its generated C does not grow with T.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/rnn"
rm -rf "$D"
mkdir -p "$D"
PY=/usr/bin/python3
M=tests/e2e/models/rnn_steps.nn
sed 's/repeat t = T/repeat T/' "$M" >"$D/unrolled.nn"

t_begin "e2e/rnn/ir-holds-one-loop"
"$NNC" --emit=ir "$M" >"$D/rolled.ir" 2>>"$t_log"
"$NNC" --emit=ir "$D/unrolled.nn" >"$D/unrolled.ir" 2>>"$t_log"
if [ "$(grep -c '^  loop t = 0 \.\. 5, carry' "$D/rolled.ir")" = 1 ] &&
   [ "$(grep -c '^  loop t = 5 \.\. 0 {' "$D/rolled.ir")" = 1 ] &&
   ! grep -q 'loop' "$D/unrolled.ir"; then
    t_pass
else
    t_fail "expected one forward and one backward loop over t in the rolled IR, none unrolled"
fi

# the same parameters, data of 9 samples; float64 gradients of both trainers
$PY -c '
import numpy as np, sys
r = np.random.default_rng(5)
np.savez(sys.argv[1], x=r.normal(size=(9, 3)), y=r.normal(size=(9, 2)))' "$D/data.npz"
for style in fast loops; do
    t_begin "e2e/rnn/rolled-equals-unrolled/$style"
    if t_build "$M" "$D/rolled" --dtype f64 --style=$style &&
       t_build "$D/unrolled.nn" "$D/unrolled" --dtype f64 --style=$style &&
       t_run "$D/unrolled" init --out "$D/p.npz" --seed 3 &&
       t_run "$D/rolled" grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/g_rolled.npz" &&
       t_run "$D/unrolled" grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/g_unrolled.npz" &&
       t_run $PY -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert sorted(a.files) == sorted(b.files), (a.files, b.files)
for k in a.files:
    err = np.max(np.abs(a[k] - b[k])) / (1e-12 + np.max(np.abs(b[k])))
    print(k, "rolled vs unrolled, max rel err %.1e" % err)
    assert err < 1e-12, k' "$D/g_rolled.npz" "$D/g_unrolled.npz"; then
        t_pass
    else
        t_fail "the rolled trainer's gradients differ from the unrolled one's"
    fi
done

# A pass over 32 samples or more runs as two halves, side by side on the
# runtime's threads (NnrtModel.halves): the gradient of 40 samples (halves
# of 24 and 16) is the unrolled model's one pass up to the order of the sum
# over the samples (the second half's added to the first's), and the same
# bits on one thread as on two.
$PY -c '
import numpy as np, sys
r = np.random.default_rng(6)
np.savez(sys.argv[1], x=r.normal(size=(40, 3)), y=r.normal(size=(40, 2)))' "$D/data40.npz"
t_begin "e2e/rnn/halves"
if "$NNC" "$M" -o "$D/rolled.c" 2>>"$t_log" && grep -q '^    .halves = 1,' "$D/rolled.c" &&
   "$NNC" "$D/unrolled.nn" -o "$D/unrolled.c" 2>>"$t_log" && ! grep -q 'halves' "$D/unrolled.c" &&
   NNRT_THREADS=2 t_run "$D/rolled" grad --params "$D/p.npz" --data "$D/data40.npz" --out "$D/g40_2.npz" &&
   NNRT_THREADS=1 t_run "$D/rolled" grad --params "$D/p.npz" --data "$D/data40.npz" --out "$D/g40_1.npz" &&
   t_run "$D/unrolled" grad --params "$D/p.npz" --data "$D/data40.npz" --out "$D/g40_u.npz" &&
   cmp "$D/g40_1.npz" "$D/g40_2.npz" >>"$t_log" 2>&1 &&
   t_run $PY -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in a.files:
    err = np.max(np.abs(a[k] - b[k])) / (1e-12 + np.max(np.abs(b[k])))
    print(k, "halves vs one pass, max rel err %.1e" % err)
    assert err < 1e-12, k' "$D/g40_2.npz" "$D/g40_u.npz"; then
    t_pass
else
    t_fail "a pass in halves: expected .halves = 1 in the rolled C only, the same bits on 1 and 2 threads, the unrolled gradient"
fi

# ... and halves large enough for their products to be cut between threads
# (evaluating 1024 samples, halves of 512): a loop opened inside a half runs
# on that half's thread; the same results on one thread as on two
t_begin "e2e/rnn/halves-nested"
cat >"$D/wide.nn" <<'EOF'
const T = 3, D = 28, H = 128
input x[T, D]
target c : class(10)
param Wx[H, D] = xavier_uniform
param Wh[H, H] = xavier_uniform
param Wo[10, H] = xavier_uniform
h = 0 * Wx[:, 0]
repeat t = T {
  h = tanh(Wx @ x[t] + Wh @ h)
}
loss = cross_entropy(Wo @ h, c)
EOF
$PY -c '
import numpy as np, sys
r = np.random.default_rng(7)
np.savez(sys.argv[1], x=r.normal(size=(1024, 3, 28)), c=r.integers(0, 10, size=1024).astype(float))' "$D/wide.npz"
if t_build "$D/wide.nn" "$D/wide" &&
   e1=$(NNRT_THREADS=1 "$D/wide" eval --data "$D/wide.npz" 2>>"$t_log") &&
   e2=$(NNRT_THREADS=2 "$D/wide" eval --data "$D/wide.npz" 2>>"$t_log") &&
   echo "1 thread: $e1 / 2 threads: $e2" >>"$t_log" && [ -n "$e1" ] && [ "$e1" = "$e2" ]; then
    t_pass
else
    t_fail "evaluating 1024 samples in halves: 1 and 2 threads differ or failed"
fi

t_begin "e2e/rnn/float32-and-jit"
if t_build "$M" "$D/rolled32" &&
   t_run "$D/rolled32" grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/g32.npz" &&
   t_run "$NNC" run "$M" -- grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/gjit.npz" &&
   t_run $PY -c '
import numpy as np, sys
b = np.load(sys.argv[1])
for f in sys.argv[2:]:
    a = np.load(f)
    for k in b.files:
        err = np.max(np.abs(a[k] - b[k])) / (1e-12 + np.max(np.abs(b[k])))
        print(f, k, "max rel err %.1e" % err)
        assert err < 1e-5, (f, k)' "$D/g_unrolled.npz" "$D/g32.npz" "$D/gjit.npz"; then
    t_pass
else
    t_fail "float32 or the JIT's gradients differ from float64's"
fi

t_begin "e2e/rnn/pytorch"
if ! $PY -c 'import torch' 2>/dev/null; then
    t_fail "$PY has no torch (scripts/deps.sh installs it)"
elif t_run $PY - "$D/p.npz" "$D/data.npz" "$D/g_rolled.npz" <<'PY'
import numpy as np, sys, torch
p, d, g = (np.load(f) for f in sys.argv[1:])
P = {k: torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for k in p.files}
x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
h = torch.zeros(len(x), 5, dtype=torch.float64)
acc = 0
for t in range(6):      # the course's loop over time, written out
    h = torch.tanh(x @ P["Wx"].T + h @ P["Wh"].T + P["b"])
    acc = acc + 0.1 * ((h @ P["Wo"].T - y) ** 2).sum(1)
loss = (0.5 * ((h @ P["Wo"].T - y) ** 2).sum(1) + acc).mean()
loss.backward()
for k in P:
    err = np.max(np.abs(P[k].grad.numpy() - g[k])) / np.max(np.abs(g[k]))
    print(k, "nnc vs PyTorch, max rel err %.1e" % err)
    assert err < 1e-10, k
PY
then
    t_pass
else
    t_fail "the rolled trainer's gradients differ from PyTorch's"
fi

t_begin "e2e/rnn/check-and-explain"
e1=$("$NNC" explain "$M" --wrt 'Wh[1,2]' --digits 17 2>>"$t_log" | tail -1)
e2=$("$NNC" explain "$D/unrolled.nn" --wrt 'Wh[1,2]' --digits 17 2>>"$t_log" | tail -1)
echo "rolled: $e1 / unrolled: $e2" >>"$t_log"
if t_run "$NNC" check "$M" && [ -n "$e1" ] && [ "$e1" = "$e2" ] &&
   "$NNC" explain "$M" --wrt 'Wh[1,2]' | grep -q "a loop of 6 steps"; then
    t_pass
else
    t_fail "nnc check failed or explain differs from the unrolled model's: $e1 vs $e2"
fi

# predict --outputs of a step's values: every step's, in every backend
t_begin "e2e/rnn/predict-outputs-every-step"
ok=1
for style in fast loops; do
    t_build "$M" "$D/pred_$style" --dtype f64 --style=$style &&
        t_run "$D/pred_$style" predict --params "$D/p.npz" --data "$D/data.npz" \
            --out "$D/o_$style.npz" --outputs h,acc,yhat || ok=0
done
t_run "$NNC" run "$M" -- predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/o_jit.npz" \
    --outputs h,acc,yhat || ok=0
if [ $ok = 1 ] && t_run $PY - "$D/p.npz" "$D/data.npz" "$D"/o_fast.npz "$D"/o_loops.npz "$D"/o_jit.npz <<'PY'
import numpy as np, sys
p, d = np.load(sys.argv[1]), np.load(sys.argv[2])
x, y = d["x"], d["y"]
h = np.zeros((len(x), 5)); hs = [h]; acc = np.zeros(len(x)); accs = [acc]
for t in range(6):
    h = np.tanh(x @ p["Wx"].T + h @ p["Wh"].T + p["b"]); hs.append(h)
    acc = acc + 0.1 * ((h @ p["Wo"].T - y) ** 2).sum(1); accs.append(acc)
H, A = np.stack(hs, 1), np.stack(accs, 1)      # [N, 7, 5]: h_init, then each step's
for f, tol in zip(sys.argv[3:], (1e-12, 1e-12, 1e-5)):
    o = np.load(f)
    err = max(np.abs(o["h"] - H).max(), np.abs(o["acc"] - A).max(), np.abs(o["yhat"] - h @ p["Wo"].T).max())
    print(f, o["h"].shape, o["acc"].shape, "max abs err %.1e" % err)
    assert o["h"].shape == (len(x), 7, 5) and o["acc"].shape == (len(x), 7) and err < tol, f
PY
then
    t_pass
else
    t_fail "predict --outputs h,acc of a rolled loop: expected every step's values, [N, 7, 5] and [N, 7]"
fi

# the carried state reads as what it is: h of the step before, h_init at t = 0
t_begin "e2e/rnn/explain-says-what-the-carry-is"
"$NNC" explain "$M" --wrt 'Wh[1,2]' >"$D/explain.txt" 2>>"$t_log"
cat "$D/explain.txt" >>"$t_log"
if grep -q '^    h_prev = h of step t - 1  *(at t = 0: h_init; here t = 5)$' "$D/explain.txt" &&
   grep -q '^    acc_prev = acc of step t - 1  *(at t = 0: acc_init; here t = 5)$' "$D/explain.txt" &&
   ! grep -q 'h_prev = h_init' "$D/explain.txt"; then
    t_pass
else
    t_fail "explain should say h_prev = h of step t - 1 (at t = 0: h_init; here t = 5)"
fi

t_begin "e2e/rnn/report-counts-every-step"
r1=$("$NNC" --report "$M" 2>>"$t_log" | awk '$1 == "total" { print $3 }')
r2=$("$NNC" --report "$D/unrolled.nn" 2>>"$t_log" | awk '$1 == "total" { print $3 }')
echo "fwd FLOPs rolled $r1 unrolled $r2" >>"$t_log"
# step 0 of the unrolled model computes Wh @ h once for every sample (h is 0)
if [ -n "$r1" ] && [ "$r1" -gt "$((r2 * 9 / 10))" ] && [ "$r1" -le "$((r2 * 11 / 10))" ]; then
    t_pass
else
    t_fail "forward FLOPs per sample: rolled $r1, unrolled $r2"
fi

t_begin "e2e/rnn/code-does-not-grow-with-T"
for T in 10 1000; do
    "$NNC" -D T=$T "$M" -o "$D/T$T.c" 2>>"$t_log"
done
s10=$(wc -c <"$D/T10.c"); s1000=$(wc -c <"$D/T1000.c")
echo "C of T = 10: $s10 bytes, T = 1000: $s1000" >>"$t_log"
for T in 10 1000; do
    "$NNC" -D T=$T "$M" --style=loops -o "$D/T$T.loops.c" 2>>"$t_log"
    "$NNC" -D T=$T --emit=llvm "$M" >"$D/T$T.ll" 2>>"$t_log"
done
l10=$(wc -c <"$D/T10.loops.c"); l1000=$(wc -c <"$D/T1000.loops.c")
j10=$(wc -c <"$D/T10.ll"); j1000=$(wc -c <"$D/T1000.ll")
echo "--style=loops: $l10 and $l1000 bytes; --emit=llvm: $j10 and $j1000" >>"$t_log"
if [ "$s1000" -lt $((2 * s10)) ] && grep -q 'for (int t = 0; t < 1000; t++) {' "$D/T1000.c" &&
   [ "$l1000" -lt $((2 * l10)) ] && grep -q 'for (int t = 999; t >= 0; t--) {' "$D/T1000.loops.c" &&
   [ "$j1000" -lt $((2 * j10)) ]; then
    t_pass
else
    t_fail "T = 1000's code against T = 10's (want less than twice): C $s1000 / $s10, loops $l1000 / $l10, LLVM $j1000 / $j10"
fi

t_begin "e2e/rnn/a-body-that-changes-stays-unrolled"
cat >"$D/deep.nn" <<'EOF'
input x[3]
target y[1]
h = x
repeat i = 4 {
  h = tanh(dense(h, 4))
}
loss = sum((dense(h, 1) - y)^2)
EOF
if "$NNC" --emit=ir "$D/deep.nn" >"$D/deep.ir" 2>>"$t_log" && ! grep -q loop "$D/deep.ir" &&
   [ "$(grep -c ' = tanh ' "$D/deep.ir")" = 4 ]; then
    t_pass
else
    t_fail "a repeat making new parameters each step must unroll"
fi

# x[t]: a view whose offset moves by a row each step; against the same
# model with a literal 0 added in the step (a literal per step: unrolled)
R=tests/e2e/models/rnn_rows.nn
sed 's/+ b)/+ b + [0])/' "$R" >"$D/rows_unrolled.nn"
$PY -c '
import numpy as np, sys
r = np.random.default_rng(1)
np.savez(sys.argv[1], x=r.normal(size=(7, 5, 3)), y=r.normal(size=(7, 2)))' "$D/rows.npz"
t_begin "e2e/rnn/x-of-t/rolled"
if "$NNC" --emit=ir "$R" 2>>"$t_log" | grep -q '= view %0 at 0 + 3 t by \[1\]' &&
   ! "$NNC" --emit=ir "$D/rows_unrolled.nn" 2>>"$t_log" | grep -q loop &&
   "$NNC" --emit=grad "$R" 2>>"$t_log" | grep -q '^    h_1 = x\[t\] '; then
    t_pass
else
    t_fail "x[t] in repeat t = T: expected a view at 0 + 3 t in the rolled loop"
fi
t_begin "e2e/rnn/x-of-t/every-backend"
ok=1
t_build "$D/rows_unrolled.nn" "$D/rows_u" --dtype f64 && t_run "$D/rows_u" init --out "$D/rp.npz" --seed 2 &&
    t_run "$D/rows_u" grad --params "$D/rp.npz" --data "$D/rows.npz" --out "$D/rg_u.npz" || ok=0
for style in fast loops; do
    t_build "$R" "$D/rows_$style" --dtype f64 --style=$style &&
        t_run "$D/rows_$style" grad --params "$D/rp.npz" --data "$D/rows.npz" --out "$D/rg_$style.npz" || ok=0
done
t_run "$NNC" run "$R" -- grad --params "$D/rp.npz" --data "$D/rows.npz" --out "$D/rg_jit.npz" || ok=0
if [ $ok = 1 ] && t_run $PY - "$D"/rg_u.npz "$D"/rg_fast.npz "$D"/rg_loops.npz "$D"/rg_jit.npz "$D/rp.npz" "$D/rows.npz" <<'PY'
import numpy as np, sys, torch
u, fast, loops, jit = (np.load(f) for f in sys.argv[1:5])
p, d = np.load(sys.argv[5]), np.load(sys.argv[6])
P = {k: torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for k in p.files}
x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
h = torch.zeros(len(x), 4, dtype=torch.float64)
for t in range(5):
    h = torch.tanh(x[:, t] @ P["Wx"].T + h @ P["Wh"].T + P["b"])
(0.5 * ((h @ P["Wo"].T - y) ** 2).sum(1)).mean().backward()
for k in u.files:
    scale = np.max(np.abs(u[k]))
    errs = [np.max(np.abs(g[k] - u[k])) / scale for g in (fast, loops, jit)]
    errs.append(np.max(np.abs(P[k].grad.numpy() - u[k])) / scale)
    print(k, "rolled fast, loops, jit (f32), PyTorch vs unrolled: %.1e %.1e %.1e %.1e" % tuple(errs))
    assert errs[0] < 1e-13 and errs[1] < 1e-13 and errs[2] < 1e-5 and errs[3] < 1e-12, k
PY
then
    t_pass
else
    t_fail "x[t] rolled: gradients differ from the unrolled model's or PyTorch's"
fi
t_begin "e2e/rnn/x-of-t/explain"
e1=$("$NNC" explain "$R" --wrt 'Wx[1,2]' --digits 17 2>>"$t_log" | tail -1)
e2=$("$NNC" explain "$D/rows_unrolled.nn" --wrt 'Wx[1,2]' --digits 17 2>>"$t_log" | tail -1)
echo "rolled: $e1 / unrolled: $e2" >>"$t_log"
if [ -n "$e1" ] && [ "$e1" = "$e2" ] && t_run "$NNC" check "$R"; then
    t_pass
else
    t_fail "explain of x[t] rolled: $e1, unrolled: $e2 (or nnc check failed)"
fi

# the full AutoEncNet of the second assignment: its recurrent layer over a
# sequence of images, rolled; gradients checked, and it trains
t_begin "e2e/rnn/autoencnet"
A=examples/assignments/2_autoencoder/autoencnet.nn
if ! (cd "$D" && $PY "$ROOT/examples/assignments/2_autoencoder/make_sequences.py" 400 4 >>"$t_log" 2>&1); then
    t_fail "make_sequences.py failed (Fashion-MNIST: scripts/deps.sh --all installs dataset-fashion-mnist)"
elif ! "$NNC" --emit=ir "$A" 2>>"$t_log" | grep -q '^  loop t = 0 \.\. 3, carry'; then
    t_fail "autoencnet.nn's repeat is not one loop over t"
elif ! t_run "$NNC" check "$A" --data "$D/sequences_train.npz" --batch 3 --entries 40; then
    t_fail "nnc check failed on autoencnet.nn"
elif ! t_build "$A" "$D/autoencnet" ||
     ! t_run "$D/autoencnet" train --data "$D/sequences_train.npz" --steps 40 --log "$D/aen" --quiet; then
    t_fail "autoencnet.nn did not build or train"
elif awk -F, 'NR == 2 { a = $3 } END { exit !($3 < a) }' "$D/aen/metrics.csv"; then
    t_pass
else
    t_fail "autoencnet's loss did not fall: $(cut -d, -f3 "$D/aen/metrics.csv" | tr '\n' ' ')"
fi
