#!/bin/bash
# Index inputs (`input seq[T] : index(V)`) and the gather E[seq]: data of
# integers read from every format (npz of integers, npz of floats holding
# integers, npy pairs, csv), the same numbers as numpy's rows of E, and a
# value out of [0, V) refused with the file, the sample and the value by
# train, eval, grad, predict and `nnc run` alike.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/index_inputs"
rm -rf "$D"
mkdir -p "$D"
PY=/usr/bin/python3
cat >"$D/emb.nn" <<'NN'
const V = 5, D = 3, T = 2
input  seq[T] : index(V)
target y[1]
param  E[V, D] = normal(0, 1)
param  w[1, D] = normal(0, 1)
e = E[seq]
yhat = w @ (e[0] * e[1])
loss = 0.5 * sum((yhat - y)^2)
NN
$PY - "$D" <<'PY'
import numpy as np, sys, os
d = sys.argv[1]
rng = np.random.default_rng(3)
seq = rng.integers(0, 5, size=(7, 2))
y = rng.standard_normal((7, 1))
np.savez(os.path.join(d, "int.npz"), seq=seq.astype(np.int32), y=y)
np.savez(os.path.join(d, "float.npz"), seq=seq.astype(np.float32), y=y)
bad = seq.copy(); bad[4, 1] = 5
np.savez(os.path.join(d, "bad.npz"), seq=bad, y=y)
neg = seq.astype(np.float64); neg[2, 0] = 1.5
np.savez(os.path.join(d, "frac.npz"), seq=neg, y=y)
np.save(os.path.join(d, "seq.npy"), bad.astype(np.int64))
np.save(os.path.join(d, "y.npy"), y)
np.savetxt(os.path.join(d, "bad.csv"), np.hstack([bad, y]), fmt="%g", delimiter=",")
PY

t_begin "e2e/index/gather-as-numpy-computes-it"
if ! t_build "$D/emb.nn" "$D/emb" --dtype f64; then
    t_fail "nnc build failed"
elif ! t_run "$D/emb" init --out "$D/p.npz" --seed 2 ||
     ! t_run "$D/emb" predict --params "$D/p.npz" --data "$D/int.npz" --out "$D/o.npz" --outputs e,yhat; then
    t_fail "init or predict failed"
elif ! $PY - "$D/p.npz" "$D/int.npz" "$D/o.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, d, o = (np.load(f) for f in sys.argv[1:])
e = p["E"][d["seq"]]
assert np.allclose(o["e"], e, rtol=0, atol=1e-12), (o["e"][:2], e[:2])
want = (e[:, 0] * e[:, 1]) @ p["w"].T
assert np.allclose(o["yhat"], want, rtol=1e-12), (o["yhat"][:2], want[:2])
print("E[seq] and yhat as numpy computes them")
PY
then
    t_fail "predict's e is not numpy's E[seq]"
else
    t_pass
fi

# integers or floats holding them: the same gradient
t_begin "e2e/index/float-array-of-integers"
if t_run "$D/emb" grad --params "$D/p.npz" --data "$D/int.npz" --out "$D/g1.npz" &&
   t_run "$D/emb" grad --params "$D/p.npz" --data "$D/float.npz" --out "$D/g2.npz" &&
   t_run $PY -c 'import numpy as np, sys; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); assert all((a[k] == b[k]).all() for k in a)' "$D/g1.npz" "$D/g2.npz"; then
    t_pass
else
    t_fail "grad differs between an integer and a float array of the same indices"
fi

# out of range: every command names the file, the sample and the value
want="bad.npz: array 'seq' holds 5 at sample 4, the model's input seq is index(5) (expected integers 0 to 4)"
for cmd in "train --data $D/bad.npz --epochs 1" "eval --params $D/p.npz --data $D/bad.npz" \
           "grad --params $D/p.npz --data $D/bad.npz --out $D/g.npz" \
           "predict --params $D/p.npz --data $D/bad.npz --out $D/o2.npz"; do
    t_begin "e2e/index/out-of-range/${cmd%% *}"
    # shellcheck disable=SC2086
    if t_run "$D/emb" $cmd; then
        t_fail "$cmd accepted an index of 5 for index(5)"
    elif grep -qF "$want" "$t_log"; then
        t_pass
    else
        t_fail "expected: $want"
    fi
done
t_begin "e2e/index/out-of-range/nnc-run"
if t_run "$NNC" run "$D/emb.nn" -- eval --params "$D/p.npz" --data "$D/bad.npz"; then
    t_fail "nnc run accepted an index of 5 for index(5)"
elif grep -qF "$want" "$t_log"; then
    t_pass
else
    t_fail "expected: $want"
fi
t_begin "e2e/index/not-an-integer"
if t_run "$D/emb" eval --params "$D/p.npz" --data "$D/frac.npz"; then
    t_fail "eval accepted 1.5 as an index"
elif grep -qF "holds 1.5 at sample 2, the model's input seq is index(5)" "$t_log"; then
    t_pass
else
    t_fail "expected the message to name 1.5 at sample 2"
fi
# the other loaders read index inputs alike: a .npy per slot, CSV columns
t_begin "e2e/index/out-of-range/npy"
if t_run "$D/emb" eval --params "$D/p.npz" --data "files(seq = \"$D/seq.npy\", y = \"$D/y.npy\")"; then
    t_fail "eval accepted an index of 5 for index(5) from a .npy"
elif grep -q "seq.npy.* holds 5 at sample 4, the model's input seq is index(5)" "$t_log"; then
    t_pass
else
    t_fail "expected the message to name seq.npy, 5 and sample 4"
fi
t_begin "e2e/index/out-of-range/csv"
if t_run "$D/emb" eval --params "$D/p.npz" \
       --data "files(seq = pick(\"$D/bad.csv\", \"0\", \"1\"), y = pick(\"$D/bad.csv\", \"2\"))"; then
    t_fail "eval accepted an index of 5 for index(5) from a CSV file"
elif grep -q "bad.csv.* holds 5 at sample 4, the model's input seq is index(5)" "$t_log"; then
    t_pass
else
    t_fail "expected the message to name bad.csv, 5 and sample 4"
fi

# E[seq[t]] in a rolled loop (repeat t = T): the step's token picks a row,
# the backward loop adds into it; against the same model unrolled (a
# literal per step keeps it unrolled), every backend and PyTorch
R=tests/e2e/models/rnn_embed.nn
sed 's/+ b)/+ b + [0])/' "$R" >"$D/embed_unrolled.nn"
$PY -c '
import numpy as np, sys
r = np.random.default_rng(4)
np.savez(sys.argv[1], seq=r.integers(0, 5, size=(9, 6)), y=r.normal(size=(9, 2)))' "$D/seqs.npz"
t_begin "e2e/index/rolled-loop/ir"
if "$NNC" --emit=ir "$R" 2>>"$t_log" | grep -q '^  loop t = 0 \.\. 5, carry' &&
   "$NNC" --emit=grad "$R" 2>>"$t_log" | grep -q '^    d_E\[h_1\] += d_h_2 ' &&
   ! "$NNC" --emit=ir "$D/embed_unrolled.nn" 2>>"$t_log" | grep -q loop; then
    t_pass
else
    t_fail "expected E[seq[t]] in one loop over t and its scatter-add in the backward loop"
fi
t_begin "e2e/index/rolled-loop/every-backend-and-pytorch"
ok=1
t_build "$D/embed_unrolled.nn" "$D/eu" --dtype f64 && t_run "$D/eu" init --out "$D/ep.npz" --seed 2 &&
    t_run "$D/eu" grad --params "$D/ep.npz" --data "$D/seqs.npz" --out "$D/eg_u.npz" || ok=0
for style in fast loops; do
    t_build "$R" "$D/e_$style" --dtype f64 --style=$style &&
        t_run "$D/e_$style" grad --params "$D/ep.npz" --data "$D/seqs.npz" --out "$D/eg_$style.npz" || ok=0
done
t_run "$NNC" run "$R" -- grad --params "$D/ep.npz" --data "$D/seqs.npz" --out "$D/eg_jit.npz" || ok=0
if [ $ok = 1 ] && t_run $PY - "$D"/eg_u.npz "$D"/eg_fast.npz "$D"/eg_loops.npz "$D"/eg_jit.npz "$D/ep.npz" "$D/seqs.npz" <<'PY'
import numpy as np, sys, torch
u, fast, loops, jit = (np.load(f) for f in sys.argv[1:5])
p, d = np.load(sys.argv[5]), np.load(sys.argv[6])
P = {k: torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for k in p.files}
seq, y = torch.tensor(d["seq"]), torch.tensor(d["y"])
h = torch.zeros(len(seq), 4, dtype=torch.float64)
for t in range(6):      # an embedding lookup per step, as nn.Embedding does it
    h = torch.tanh(P["E"][seq[:, t]] @ P["Wx"].T + h @ P["Wh"].T + P["b"])
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
    t_fail "E[seq[t]] in a rolled loop: gradients differ from the unrolled model's or PyTorch's"
fi
t_begin "e2e/index/rolled-loop/check-and-explain"
e1=$("$NNC" explain "$R" --wrt 'E[4,1]' --digits 17 2>>"$t_log" | tail -1)
e2=$("$NNC" explain "$D/embed_unrolled.nn" --wrt 'E[4,1]' --digits 17 2>>"$t_log" | tail -1)
echo "rolled: $e1 / unrolled: $e2" >>"$t_log"
if t_run "$NNC" check "$R" && [ -n "$e1" ] && [ "$e1" = "$e2" ] &&
   "$NNC" explain "$R" --wrt 'E[4,1]' | grep -q "a loop of 6 steps"; then
    t_pass
else
    t_fail "nnc check failed or explain differs from the unrolled model's: $e1 vs $e2"
fi
