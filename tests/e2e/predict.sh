#!/bin/bash
# `./model predict` (docs/trainer.md): for every sample of a data set the
# model's named values, keyed by name, axis 0 = sample; checked against the
# same forward pass computed by numpy from the parameter file.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/predict"
rm -rf "$D"
mkdir -p "$D"
PY=/usr/bin/python3

# the default: the prediction (xor's one logit), keyed by its name
t_begin "e2e/predict/logit-as-numpy-computes-it"
if ! t_build examples/xor.nn "$D/xor"; then
    t_fail "nnc build failed"
elif ! $PY -c 'import numpy' 2>/dev/null; then
    t_fail "$PY has no numpy (scripts/deps.sh installs it)"
else
    $PY -c '
import numpy as np, sys
rng = np.random.default_rng(7)
x = rng.standard_normal((37, 2)).astype(np.float32)
np.savez(sys.argv[1], x=x, y=(x[:, :1] * x[:, 1:] > 0).astype(np.float32))' "$D/data.npz"
    t_run "$D/xor" train --epochs 3 --quiet --save "$D/p.npz"
    if ! t_run "$D/xor" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/out.npz"; then
        t_fail "predict failed"
    elif ! $PY - "$D/p.npz" "$D/data.npz" "$D/out.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, d, o = (np.load(f) for f in sys.argv[1:])
assert o.files == ["logit"], o.files
x = d["x"].astype(np.float64)
want = np.tanh(x @ p["W1"].T + p["b1"]) @ p["w2"].T + p["b2"]
got = o["logit"]
assert got.shape == (37, 1) and got.dtype == np.float32, (got.shape, got.dtype)
err = np.max(np.abs(got - want) / (1 + np.abs(want)))
assert err < 1e-5, ("numpy", want[:3], "predict", got[:3], "max rel err", err)
print("logit [37, 1] as numpy computes it, max rel err %.1e" % err)
PY
    then
        t_fail "out.npz is not the logits numpy computes"
    else
        t_pass
    fi
fi

# --outputs: inputs, a class target and the logits, each [N, shape...]
t_begin "e2e/predict/outputs-by-name"
if ! t_build examples/spirals.nn "$D/spirals"; then
    t_fail "nnc build failed"
else
    t_run "$D/spirals" train --epochs 2 --quiet --save "$D/sp.npz"
    if ! t_run "$D/spirals" predict --params "$D/sp.npz" --data "spirals(n = 30, classes = 3, seed = 9)" \
            --out "$D/sp-out.npz" --outputs logits,x,c; then
        t_fail "predict failed"
    elif ! $PY - "$D/sp.npz" "$D/sp-out.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, o = (np.load(f) for f in sys.argv[1:])
assert o.files == ["logits", "x", "c"], o.files
assert o["logits"].shape == (30, 3) and o["x"].shape == (30, 2) and o["c"].shape == (30,)
assert set(o["c"].tolist()) == {0, 1, 2}, o["c"]
relu = lambda z: np.maximum(z, 0)
x = o["x"].astype(np.float64)
h1 = relu(x @ p["W1"].T + p["b1"])
want = relu(h1 @ p["W2"].T + p["b2"]) @ p["W3"].T + p["b3"]
err = np.max(np.abs(o["logits"] - want) / (1 + np.abs(want)))
assert err < 1e-5, ("max rel err", err)
print("logits [30, 3], x [30, 2], c [30] as numpy computes them, max rel err %.1e" % err)
PY
    then
        t_fail "sp-out.npz does not hold logits, x and c as numpy computes them"
    else
        t_pass
    fi
fi

# --outputs of intermediate values (xor's hidden layer h, the per-sample
# loss), which fused loops keep in registers unless told to store them:
# as numpy computes them, from the fused trainer and the loops style alike
t_begin "e2e/predict/intermediate-values"
if ! t_build examples/xor.nn "$D/xorl" --style=loops; then
    t_fail "nnc build --style=loops failed"
else
    for exe in xor xorl; do
        t_run "$D/$exe" predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/h-$exe.npz" --outputs h,loss
    done
    if ! $PY - "$D/p.npz" "$D/data.npz" "$D/h-xor.npz" "$D/h-xorl.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
p, d, o, ol = (np.load(f) for f in sys.argv[1:])
x, y = d["x"].astype(np.float64), d["y"].astype(np.float64)
h = np.tanh(x @ p["W1"].T + p["b1"])
z = (h @ p["w2"].T + p["b2"])[:, 0]
loss = np.maximum(z, 0) - z * y[:, 0] + np.log1p(np.exp(-np.abs(z)))   # bce_with_logits
for out in (o, ol):
    assert out.files == ["h", "loss"], out.files
    assert out["h"].shape == (37, 8) and out["loss"].shape == (37,), (out["h"].shape, out["loss"].shape)
    assert np.max(np.abs(out["h"] - h)) < 1e-5, np.max(np.abs(out["h"] - h))
    assert np.max(np.abs(out["loss"] - loss)) < 1e-5, np.max(np.abs(out["loss"] - loss))
print("h [37, 8] and loss [37] as numpy computes them, fused and loops style")
PY
    then
        t_fail "h and loss are not what numpy computes"
    else
        t_pass
    fi
fi

# nnc run (the LLVM JIT) hands out the same values under the same names
t_begin "e2e/predict/jit-same-values"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    t_skip "nnc was built without LLVM (install llvm-dev: scripts/deps.sh, then make)"
elif ! t_run "$NNC" run examples/xor.nn predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/j-default.npz" ||
     ! t_run "$NNC" run examples/xor.nn predict --params "$D/p.npz" --data "$D/data.npz" --out "$D/j.npz" --outputs h,loss; then
    t_fail "nnc run ... predict failed"
elif ! $PY - "$D/out.npz" "$D/j-default.npz" "$D/h-xor.npz" "$D/j.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
c, j, ch, jh = (np.load(f) for f in sys.argv[1:])
assert j.files == ["logit"] and jh.files == ["h", "loss"], (j.files, jh.files)
for a, b, k in ((c, j, "logit"), (ch, jh, "h"), (ch, jh, "loss")):
    assert a[k].shape == b[k].shape and np.max(np.abs(a[k] - b[k])) < 1e-5, (k, a[k].shape, b[k].shape)
print("nnc run: logit, h and loss as the C trainer's")
PY
then
    t_fail "nnc run's predict differs from the C trainer's"
else
    t_pass
fi

# mistakes: no --out, a name the model does not have (the message lists
# what predict can write), a name twice
t_begin "e2e/predict/mistakes"
"$D/xor" predict --params "$D/p.npz" >>"$t_log" 2>&1
rc1=$?
"$D/xor" predict --params "$D/p.npz" --out "$D/bad.npz" --outputs logit,hidden >>"$t_log" 2>&1
rc2=$?
"$D/xor" predict --params "$D/p.npz" --out "$D/bad.npz" --outputs x,x >>"$t_log" 2>&1
rc3=$?
if [ $rc1 -ne 2 ] || ! grep -q "^error: predict needs --out OUT.npz$" "$t_log"; then
    t_fail "without --out: expected exit 2 and 'predict needs --out OUT.npz', got $rc1"
elif [ $rc2 -ne 1 ] || ! grep -q "^error: --outputs: the model has no value 'hidden' that predict can write; it can write logit, x, y, h, loss$" "$t_log"; then
    t_fail "--outputs hidden: expected exit 1 and the names predict can write, got $rc2"
elif [ $rc3 -ne 1 ] || ! grep -q "^error: --outputs: 'x' is named twice$" "$t_log" || [ -e "$D/bad.npz" ]; then
    t_fail "--outputs x,x: expected exit 1, 'named twice' and no file, got $rc3"
else
    t_pass
fi

# reconstructions.png shows the first 16 test samples, --recon-max N that
# many, --recon-max all every one (the autoencoder's test set: 50)
t_begin "e2e/predict/reconstructions-max"
if ! t_build tests/e2e/models/autoencoder.nn "$D/ae"; then
    t_fail "nnc build failed"
else
    t_run "$D/ae" train --epochs 1 --quiet --log "$D/ae-all" --recon-max all
    t_run "$D/ae" train --epochs 1 --quiet --log "$D/ae-5" --recon-max 5
    "$D/ae" train --epochs 1 --quiet --recon-max 0 >>"$t_log" 2>&1
    rc=$?
    if ! $PY -c '
import numpy as np, sys
for d, n in ((sys.argv[1], 50), (sys.argv[2], 5)):
    z = np.load(d + "/reconstructions.npz")
    assert z["input"].shape == (n, 8, 8) and z["output"].shape == (n, 8, 8), (d, z["input"].shape)' \
            "$D/ae-all" "$D/ae-5" >>"$t_log" 2>&1; then
        t_fail "reconstructions.npz: expected 50 samples with --recon-max all, 5 with --recon-max 5"
    elif [ $rc -ne 2 ] || ! grep -q "^error: --recon-max 0: expected how many samples" "$t_log"; then
        t_fail "--recon-max 0: expected exit 2 and a message, got $rc"
    else
        t_pass
    fi
fi
