#!/bin/bash
# batchnorm(h) (docs/language.md, *Batch norm*): PyTorch's BatchNorm1d on a
# vector and BatchNorm2d on [C, H, W] maps, in train mode (the batch's
# statistics, the running ones moved with momentum 0.1, the variance
# unbiased; the last, shorter batch its own) and in eval mode (the running
# statistics), against torch step by step: the parameters and running
# statistics after SGD steps, and the gradients in both modes; the C
# trainer, --style=loops and the JIT agree; `check` passes in both modes;
# examples/lenet_bn.nn (convolutions, then BatchNorm2d) against torch.
# (Under MPI: tests/e2e/mpi.sh.)
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/batchnorm"
rm -rf "$D"
mkdir -p "$D"
PY=/usr/bin/python3

$PY - "$D" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(11)
x = rng.standard_normal((21, 3)) * [1, 2, 0.5] + [0.5, -1, 2]
np.savez(sys.argv[1] + "/mlp.npz", x=x, y=np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], 1))
x = rng.standard_normal((15, 2, 3, 3)) + 0.3
np.savez(sys.argv[1] + "/maps.npz", x=x, y=x.reshape(15, -1).sum(1, keepdims=True) / 6)
PY

# torch's steps: the model of each .nn by hand, with nn.BatchNorm1d/2d
cat >"$D/ref.py" <<'PY'
import numpy as np, sys, torch
name, D = sys.argv[1], sys.argv[2]
torch.set_default_dtype(torch.float64)
d = np.load("%s/%s.npz" % (D, name))
p = {k: torch.tensor(v) for k, v in np.load("%s/%s-init.npz" % (D, name)).items()}
x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
C = p["bn1_gamma"].shape[0]
bn = (torch.nn.BatchNorm1d if name == "mlp" else torch.nn.BatchNorm2d)(C, momentum=0.1, eps=1e-5)
with torch.no_grad():
    bn.weight.copy_(p["bn1_gamma"]); bn.bias.copy_(p["bn1_beta"])
    bn.running_mean.copy_(p["bn1_mean"]); bn.running_var.copy_(p["bn1_var"])
w = {k: p[k].clone().requires_grad_(True) for k in (("W1", "W2") if name == "mlp" else ("P", "W"))}
def loss(xb, yb):
    if name == "mlp":
        yhat = torch.tanh(bn(xb @ w["W1"].T)) @ w["W2"].T
        return (0.5 * ((yhat - yb) ** 2).sum(1)).mean()
    b = bn(xb * w["P"])
    return (0.5 * ((b * w["W"]).sum((1, 2, 3)) - yb[:, 0]) ** 2).mean()
def grads(train, xb, yb):
    bn.train(train)
    ps = list(w.values()) + [bn.weight, bn.bias]
    g = torch.autograd.grad(loss(xb, yb), ps)
    return dict(zip(list(w) + ["bn1_gamma", "bn1_beta"], g))
# gradients over all the data at the initial parameters, both modes
for mode in ("train", "eval"):
    saved = (bn.running_mean.clone(), bn.running_var.clone())
    g = grads(mode == "train", x, y)
    bn.running_mean.copy_(saved[0]); bn.running_var.copy_(saved[1])
    n = np.load("%s/%s-grad-%s.npz" % (D, name, mode))
    assert sorted(n.files) == sorted(g), (n.files, list(g))
    for k in g:
        err = np.abs(n[k] - g[k].numpy()).max()
        print(name, mode, "d" + k, "max abs err %.2e" % err)
        assert err < 1e-10, (mode, k, n[k], g[k])
# the SGD steps of `train`: batches in order, the last one shorter
B, lr, epochs = (8, 0.1, 2) if name == "mlp" else (6, 0.05, 2)
for ep in range(epochs):
    for s in range(0, len(x), B):
        g = grads(True, x[s:s + B], y[s:s + B])
        with torch.no_grad():
            for k in w:
                w[k] -= lr * g[k]
            bn.weight -= lr * g["bn1_gamma"]; bn.bias -= lr * g["bn1_beta"]
n = np.load("%s/%s-trained.npz" % (D, name))
want = {k: v.detach() for k, v in w.items()}
want.update(bn1_gamma=bn.weight.detach(), bn1_beta=bn.bias.detach(), bn1_mean=bn.running_mean,
            bn1_var=bn.running_var)
for k, v in want.items():
    err = np.abs(n[k] - v.numpy()).max()
    print(name, "after", epochs, "epochs:", k, "max abs err %.2e" % err)
    assert err < 1e-10, (k, n[k], v)
PY

for name in mlp maps; do
    M=tests/e2e/models/bn_$name.nn
    t_begin "e2e/batchnorm/$name/torchs-steps-and-gradients"
    if ! t_build $M "$D/$name" --dtype f64; then
        t_fail "nnc build failed"
        continue
    fi
    t_run "$D/$name" init --out "$D/$name-init.npz"
    t_run "$D/$name" grad --params "$D/$name-init.npz" --data "$D/$name.npz" --out "$D/$name-grad-train.npz" --mode train
    # eval mode at running statistics that are not 0 and 1
    $PY - "$D/$name-init.npz" <<'PY'
import numpy as np, sys
p = dict(np.load(sys.argv[1]))
C = p["bn1_mean"].shape[0]
p["bn1_mean"] = np.linspace(-0.5, 0.5, C); p["bn1_var"] = np.linspace(0.5, 2, C)
p["bn1_gamma"] = np.linspace(0.8, 1.3, C); p["bn1_beta"] = np.linspace(-0.2, 0.2, C)
np.savez(sys.argv[1], **p)
PY
    t_run "$D/$name" grad --params "$D/$name-init.npz" --data "$D/$name.npz" --out "$D/$name-grad-eval.npz"
    t_run "$D/$name" grad --params "$D/$name-init.npz" --data "$D/$name.npz" --out "$D/$name-grad-train.npz" --mode train
    t_run "$D/$name" train --init "$D/$name-init.npz" --data "$D/$name.npz" --save "$D/$name-trained.npz" --quiet
    if t_run $PY "$D/ref.py" $name "$D"; then t_pass; else t_fail "not PyTorch's BatchNorm"; fi

    t_begin "e2e/batchnorm/$name/backends-agree"
    ok=1
    t_build $M "$D/$name-loops" --dtype f64 --style=loops || ok=0
    t_run "$D/$name-loops" train --init "$D/$name-init.npz" --data "$D/$name.npz" --save "$D/$name-loops.npz" --quiet || ok=0
    t_run "$NNC" run $M --dtype f64 -- train --init "$D/$name-init.npz" --data "$D/$name.npz" --save "$D/$name-jit.npz" --quiet || ok=0
    if [ $ok = 1 ] && $PY - "$D/$name-trained.npz" "$D/$name-loops.npz" "$D/$name-jit.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
a = np.load(sys.argv[1])
for f in sys.argv[2:]:
    b = np.load(f)
    for k in a.files:
        assert np.allclose(a[k], b[k], rtol=1e-12, atol=1e-13), (f, k, a[k], b[k])
PY
    then t_pass; else t_fail "--style=loops or the JIT trains other parameters"; fi

    for mode in eval train; do
        t_begin "e2e/batchnorm/$name/check-$mode-mode"
        if t_run "$D/$name" check --params "$D/$name-init.npz" --data "$D/$name.npz" --mode $mode &&
           grep -q "^PASS: all 4 parameters" "$t_log"; then
            t_pass
        else
            t_fail "check --mode $mode did not pass"
        fi
    done
done

# examples/lenet_bn.nn: BatchNorm2d after each convolution (conv2d without a
# bias), ReLU and max-pools between, against the same network in torch: the
# gradients in train mode and in eval mode (running statistics that are not
# 0 and 1), and two SGD steps of 5 images (the parameters and the running
# statistics), in float64 on random images
t_begin "e2e/batchnorm/lenet_bn/torch"
L="$D/lenet_bn"
if t_build examples/lenet_bn.nn "$L" --dtype f64 && t_run "$L" init --out "$L-init.npz" &&
   $PY - "$D" >>"$t_log" 2>&1 <<'PY' &&
import numpy as np, sys
rng = np.random.default_rng(5)
np.savez(sys.argv[1] + "/lenet.npz", img=rng.uniform(0, 1, (10, 1, 28, 28)), c=rng.integers(0, 10, 10))
PY
   t_run "$L" grad --params "$L-init.npz" --data "$D/lenet.npz" --mode train --out "$L-grad-train.npz" &&
   $PY - "$L-init.npz" "$L-eval.npz" >>"$t_log" 2>&1 <<'PY' &&
import numpy as np, sys
p = dict(np.load(sys.argv[1]))
for k in (1, 2):
    C = p["bn%d_mean" % k].shape[0]
    p["bn%d_mean" % k] = np.linspace(-0.3, 0.3, C); p["bn%d_var" % k] = np.linspace(0.2, 0.6, C)
    p["bn%d_gamma" % k] = np.linspace(0.8, 1.3, C); p["bn%d_beta" % k] = np.linspace(-0.2, 0.2, C)
np.savez(sys.argv[2], **p)
PY
   t_run "$L" grad --params "$L-eval.npz" --data "$D/lenet.npz" --out "$L-grad-eval.npz" &&
   t_run "$L" train --init "$L-init.npz" --data "$D/lenet.npz" --test none --optimizer "sgd(lr = 0.1)" \
       --batch 5 --epochs 1 --shuffle false --save "$L-trained.npz" --quiet &&
   $PY - "$D" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys, torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
D = sys.argv[1]
d = np.load(D + "/lenet.npz")
img, c = torch.tensor(d["img"]), torch.tensor(d["c"]).long()
def model(p):
    w = {k: torch.tensor(v).requires_grad_(not k.endswith(("_mean", "_var"))) for k, v in p.items()}
    bns = []
    for k in (1, 2):
        bn = torch.nn.BatchNorm2d(len(w["bn%d_gamma" % k]), momentum=0.1, eps=1e-5)
        bn.weight = torch.nn.Parameter(w["bn%d_gamma" % k]); bn.bias = torch.nn.Parameter(w["bn%d_beta" % k])
        bn.running_mean.copy_(w["bn%d_mean" % k]); bn.running_var.copy_(w["bn%d_var" % k])
        bns.append(bn)
    def loss(x, y):
        h = F.max_pool2d(F.relu(bns[0](F.conv2d(x, w["K1"], padding=2))), 2)
        h = F.max_pool2d(F.relu(bns[1](F.conv2d(h, w["K2"]))), 2).flatten(1)
        h = F.relu(h @ w["W3"].T + w["b3"])
        h = F.relu(h @ w["W4"].T + w["b4"])
        return F.cross_entropy(h @ w["W5"].T + w["b5"], y)
    return w, bns, loss
def trained(w, bns):
    out = {k: v.detach() for k, v in w.items() if not k.startswith("bn")}
    for k, bn in enumerate(bns, 1):
        out.update({"bn%d_gamma" % k: bn.weight.detach(), "bn%d_beta" % k: bn.bias.detach(),
                    "bn%d_mean" % k: bn.running_mean, "bn%d_var" % k: bn.running_var})
    return out
def same(name, want, got, tol):
    assert sorted(want) == sorted(got.files), (name, sorted(want), got.files)
    for k in want:
        err = np.abs(got[k] - want[k].numpy()).max()
        print(name, k, "max abs err %.2e" % err)
        assert err < tol, (name, k)
for mode, params in (("train", "init"), ("eval", "eval")):
    w, bns, loss = model(dict(np.load("%s/lenet_bn-%s.npz" % (D, params))))
    for bn in bns:
        bn.train(mode == "train")
    trainable = [k for k in w if w[k].requires_grad]
    ps = [bns[int(k[2]) - 1].weight if k.endswith("gamma") else bns[int(k[2]) - 1].bias if k.endswith("beta")
          else w[k] for k in trainable]
    g = dict(zip(trainable, torch.autograd.grad(loss(img, c), ps)))
    same("grad --mode " + mode, g, np.load("%s/lenet_bn-grad-%s.npz" % (D, mode)), 1e-10)
w, bns, loss = model(dict(np.load(D + "/lenet_bn-init.npz")))
opt = torch.optim.SGD([v for k, v in w.items() if v.requires_grad and not k.startswith("bn")] +
                      [p for bn in bns for p in (bn.weight, bn.bias)], lr=0.1)
for s in (0, 5):
    opt.zero_grad(); loss(img[s:s + 5], c[s:s + 5]).backward(); opt.step()
same("train", trained(w, bns), np.load(D + "/lenet_bn-trained.npz"), 1e-10)
PY
then t_pass; else t_fail "lenet_bn.nn is not torch's network with BatchNorm2d"; fi

# float32: the same steps to float32's precision; a batch of 1 in eval mode
t_begin "e2e/batchnorm/float32"
if t_build tests/e2e/models/bn_mlp.nn "$D/mlp32" &&
   t_run "$D/mlp32" train --init "$D/mlp-init.npz" --data "$D/mlp.npz" --save "$D/mlp32.npz" --quiet &&
   $PY - "$D/mlp-trained.npz" "$D/mlp32.npz" >>"$t_log" 2>&1 <<'PY'
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in a.files:
    assert b[k].dtype == np.float32 and np.allclose(a[k], b[k], rtol=1e-4, atol=1e-5), k
PY
then t_pass; else t_fail "float32 steps differ"; fi

# explain works in eval mode (the running statistics)
t_begin "e2e/batchnorm/explain"
if t_run "$NNC" explain tests/e2e/models/bn_mlp.nn --wrt bn1_gamma --params "$D/mlp-init.npz" &&
   grep -q "b_1 = batch_stats(h)" "$t_log" && grep -q "dL/dbn1_gamma = " "$t_log"; then
    t_pass
else
    t_fail "explain of batchnorm"
fi
