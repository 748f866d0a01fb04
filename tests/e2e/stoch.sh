#!/bin/bash
# Modes, dropout and noise (docs/language.md, *Modes*): the trainer draws
# a noise and a dropout's mask afresh for every sample and step in train
# mode (from the seed and the sample's index: the same for any split of a
# batch into passes, for the C trainer, --style=loops and the JIT, and
# after --resume) and uses their means in eval mode; gradients in train
# mode are PyTorch's with the same draws.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/stoch"
rm -rf "$D"
mkdir -p "$D"
PY=/usr/bin/python3
M=tests/e2e/models/dropout_noise.nn

$PY - "$D/data.npz" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(5)
x = rng.standard_normal((53, 5))
np.savez(sys.argv[1], x=x, y=np.stack([x[:, 0] * x[:, 1], x[:, 2]], 1))
PY

t_begin "e2e/stoch/builds"
if t_build $M "$D/m" --dtype f64 && t_build $M "$D/m32" && t_build $M "$D/loops" --dtype f64 --style=loops; then
    t_pass
else
    t_fail "nnc build failed"
fi

# eval mode: dropout is the identity and a noise its mean (normal: m;
# uniform: (a + b) / 2), as numpy computes the model with them
t_begin "e2e/stoch/eval-mode-uses-the-means"
t_run "$D/m" init --out "$D/p.npz"
if ! t_run "$D/m" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/eval.npz" --outputs h,d,yhat; then
    t_fail "predict failed"
elif ! $PY - "$D/p.npz" "$D/data.npz" "$D/eval.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, d, o = (np.load(f) for f in sys.argv[1:])
h = np.tanh(d["x"] @ p["W1"].T + p["b1"]) + 0.5
assert np.allclose(o["h"], h, rtol=1e-12, atol=1e-12), "h"
assert np.array_equal(o["d"], o["h"]), "dropout is not the identity in eval mode"
assert np.allclose(o["yhat"], (h @ p["W2"].T) * 1.0, rtol=1e-12, atol=1e-12), "yhat"
print("eval mode: h = tanh(W1 x + b1) + 0.5, d = h, yhat = W2 d * 1")
PY
then
    t_fail "eval mode is not the model with the draws' means"
else
    t_pass
fi

# train mode: the masks are 0 or 1/(1 - p) with P(0) = p, the noise has the
# declared mean and spread; the same call gives the same numbers, another
# seed others
t_begin "e2e/stoch/train-mode-draws"
t_run "$D/m" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/tr1.npz" --outputs h,d,yhat --mode train
t_run "$D/m" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/tr2.npz" --outputs h,d,yhat --mode train
t_run "$D/m" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/tr3.npz" --outputs h,d,yhat --mode train --seed 4
big="noisy_xor(n = 4000, s = 0.1, seed = 1)"
if ! $PY - "$D/p.npz" "$D/data.npz" "$D/eval.npz" "$D/tr1.npz" "$D/tr2.npz" "$D/tr3.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, d, ev, a, b, c = (np.load(f) for f in sys.argv[1:])
for k in a.files:
    assert np.array_equal(a[k], b[k]), "two calls differ in " + k
assert not np.array_equal(a["d"], c["d"]), "--seed 4 draws the same masks"
eps = a["h"] - (ev["h"] - 0.5)
print("eps: mean %.3f std %.3f over %d draws" % (eps.mean(), eps.std(), eps.size))
assert abs(eps.mean() - 0.5) < 0.3 and abs(eps.std() - 2) < 0.3, "eps is not normal(0.5, 2)"
mask = a["d"] / a["h"]
kept = np.isclose(mask, 1 / 0.7, rtol=1e-12)
assert np.all(kept | (a["d"] == 0)), "a mask other than 0 or 1/(1-p)"
print("dropped: %.3f of %d" % (1 - kept.mean(), kept.size))
assert abs((1 - kept.mean()) - 0.3) < 0.08, "P(drop) is not 0.3"
PY
then
    t_fail "train mode's draws are wrong"
else
    t_pass
fi

# the gradient in train mode is PyTorch's for the same draws: the masks and
# the noise rebuilt from predict --mode train's outputs
t_begin "e2e/stoch/grad-in-train-mode-is-torchs"
t_run "$D/m" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/trm.npz" --outputs h,d,yhat --mode train
if ! t_run "$D/m" grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/g.npz" --mode train; then
    t_fail "grad --mode train failed"
elif ! $PY - "$D/p.npz" "$D/data.npz" "$D/trm.npz" "$D/g.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys, torch
p, d, o, g = (np.load(f) for f in sys.argv[1:])
x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
W1, b1, W2 = (torch.tensor(p[k], requires_grad=True) for k in ("W1", "b1", "W2"))
t = torch.tanh(x @ W1.T + b1).detach().numpy()
eps = torch.tensor(o["h"] - t)
mask = torch.tensor(np.where(o["d"] == 0, 0.0, 1 / 0.7))
u = torch.tensor(o["yhat"] / (o["d"] @ p["W2"].T))
h = torch.tanh(x @ W1.T + b1) + eps
yhat = ((h * mask) @ W2.T) * u
loss = (0.5 * ((yhat - y) ** 2).sum(1)).mean()
loss.backward()
for k, w in (("W1", W1), ("b1", b1), ("W2", W2)):
    err = np.max(np.abs(g[k] - w.grad.numpy()))
    print(k, "max abs err %.2e" % err)
    assert err < 1e-9, k
PY
then
    t_fail "grad --mode train differs from PyTorch's with the same draws"
else
    t_pass
fi

# the same draws whatever splits a batch: the C trainer (passes of 8 or of
# the whole set), --style=loops and the JIT agree; float32 draws the same
# masks
t_begin "e2e/stoch/same-draws-everywhere"
t_run "$D/loops" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/lp.npz" --outputs d --mode train
t_run "$D/m" grad --params "$D/p.npz" --data "$D/data.npz" --out "$D/g2.npz" --mode train --batch 8
ok=1
if [ -x "$ROOT/runtime/nnc-jit.so" ] || "$NNC" run --help >/dev/null 2>&1; then
    t_run "$NNC" run $M --dtype f64 -- predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/jit.npz" --outputs d --mode train || ok=0
fi
t_run "$D/m32" predict --data "$D/data.npz" --out "$D/f32.npz" --outputs d --mode train || ok=0
t_run "$D/m" predict --data "$D/data.npz" --out "$D/f64.npz" --outputs d --mode train || ok=0
if [ $ok = 0 ] || ! $PY - "$D" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys, os
D = sys.argv[1]
a = np.load(D + "/trm.npz")["d"]
assert np.array_equal(a, np.load(D + "/lp.npz")["d"]), "--style=loops draws others"
if os.path.exists(D + "/jit.npz"):
    j = np.load(D + "/jit.npz")["d"]
    assert np.array_equal(a == 0, j == 0) and np.allclose(a, j, rtol=1e-12), "the JIT draws others"
g, g2 = np.load(D + "/g.npz"), np.load(D + "/g2.npz")
for k in g.files:
    assert np.allclose(g[k], g2[k], rtol=1e-12, atol=1e-14), "grad over passes of 8 differs: " + k
m32, m64 = np.load(D + "/f32.npz")["d"], np.load(D + "/f64.npz")["d"]
assert np.array_equal(m32 == 0, m64 == 0), "float32 drops other elements"
print("the same draws in C, loops, JIT, any passes, float32")
PY
then
    t_fail "the draws depend on how they were computed"
else
    t_pass
fi

# check: the finite differences see the same draws as the backward pass
for mode in eval train; do
    t_begin "e2e/stoch/check-passes-in-$mode-mode"
    if t_run "$NNC" check $M --mode $mode && grep -q "PASS: all 3 parameters" "$t_log"; then
        t_pass
    else
        t_fail "nnc check $M --mode $mode did not pass"
    fi
done

# explain in train mode prints the masks predict --mode train draws for
# sample 0 (the example as the first sample of a data set)
t_begin "e2e/stoch/explain-prints-the-mask"
$PY -c '
import numpy as np, sys
np.savez(sys.argv[1], x=np.array([[0.5, -1, 2, 0.25, 1]]), y=np.array([[0.3, -0.2]]))' "$D/ex.npz"
t_run "$D/m" predict --data "$D/ex.npz" --out "$D/ex-out.npz" --outputs d,h --mode train
"$NNC" explain $M --wrt 'W1[0,0]' --mode train >"$D/explain.txt" 2>>"$t_log"
"$NNC" explain $M --wrt 'W1[0,0]' >"$D/explain-eval.txt" 2>>"$t_log"
cat "$D/explain.txt" >>"$t_log"
if ! grep -q "dropout1_mask = .*train mode: the mask drawn" "$D/explain.txt" ||
   ! grep -q "dropout1_mask = \[1, 1, 1, 1, 1, 1\] .*eval mode: no dropout" "$D/explain-eval.txt"; then
    t_fail "explain does not print the mask"
elif ! $PY - "$D/ex-out.npz" "$D/explain.txt" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys, re
o = np.load(sys.argv[1])
line = [l for l in open(sys.argv[2]) if l.lstrip().startswith("dropout1_mask =")][0]
got = [float(v) for v in re.search(r"\[(.*?)\]", line).group(1).split(",")]
want = np.where(o["d"][0] == 0, 0, 1 / 0.7)
assert np.allclose(got, want, rtol=1e-5), (got, want)
print("explain's mask", got)
PY
then
    t_fail "explain's mask is not the trainer's"
else
    t_pass
fi

# train: each step's draws are keyed by the step, so a run resumed from
# its checkpoint ends with the same parameters, bit for bit; its per-epoch
# loss is in eval mode (what eval prints at those parameters)
t_begin "e2e/stoch/resume-bit-for-bit-and-eval-mode-epochs"
t_run "$D/m" train --data "$D/data.npz" --log "$D/full" --save "$D/full.npz" --quiet
t_run "$D/m" train --data "$D/data.npz" --log "$D/half" --stop-after 2 --quiet
t_run "$D/m" train --resume "$D/half" --save "$D/half.npz" --quiet
t_run "$D/m" eval --params "$D/full.npz" --data "$D/data.npz"
if ! $PY - "$D/full.npz" "$D/half.npz" "$D/full/metrics.csv" "$t_log" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys, csv
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in a.files:
    assert np.array_equal(a[k], b[k]), "resumed run differs in " + k
rows = list(csv.DictReader(open(sys.argv[3])))
last = float(rows[-1]["loss"])
ev = [l for l in open(sys.argv[4]) if l.startswith("loss: ")][-1]
assert abs(last - float(ev.split()[1])) <= 1e-9 * abs(last), (last, ev)
print("resumed = uninterrupted; epoch loss", last, "= eval's", ev.strip())
PY
then
    t_fail "resume or the epochs' evaluation"
else
    t_pass
fi

# full batches: the step in train mode, the epoch's loss in eval mode
t_begin "e2e/stoch/full-batch-epochs-in-eval-mode"
t_run "$D/m" train --data "$D/data.npz" --batch full --epochs 2 --log "$D/fb" --save "$D/fb.npz" --quiet
t_run "$D/m" eval --params "$D/fb.npz" --data "$D/data.npz"
if ! $PY - "$D/fb/metrics.csv" "$t_log" >>"$t_log" 2>&1 <<'PY'
import sys, csv
last = float(list(csv.DictReader(open(sys.argv[1])))[-1]["loss"])
ev = [l for l in open(sys.argv[2]) if l.startswith("loss: ")][-1]
assert abs(last - float(ev.split()[1])) <= 1e-9 * abs(last), (last, ev)
PY
then
    t_fail "a full batch's epoch loss is not eval mode's"
else
    t_pass
fi

# the language's errors
t_begin "e2e/stoch/errors"
printf 'input x[2]\nh = dropout(x, 1.5)\nloss = sum(h)\n' >"$D/e1.nn"
printf 'input x[2]\nnoise e[2] = xavier_uniform\nloss = sum(x + e)\n' >"$D/e2.nn"
printf 'input x[2]\nnoise e[2] = normal(0, 1)\nloss = sum(x + e)\nexample {\n  e = [1, 2]\n}\n' >"$D/e3.nn"
"$NNC" $D/e1.nn -o "$D/e1.c" 2>"$D/e1.err"
"$NNC" $D/e2.nn -o "$D/e2.c" 2>"$D/e2.err"
"$NNC" $D/e3.nn -o "$D/e3.c" 2>"$D/e3.err"
cat "$D"/e?.err >>"$t_log"
if grep -q "dropout: p, the probability of zeroing an element, must be a number known at compile time in \[0, 1)" "$D/e1.err" &&
   grep -q "a noise is drawn from normal(mean, std) or uniform(low, high)" "$D/e2.err" &&
   grep -q "the example sets 'e', a noise" "$D/e3.err"; then
    t_pass
else
    t_fail "missing or wrong messages"
fi
