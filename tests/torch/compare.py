#!/usr/bin/python3
"""compare.py - compare nnc's trainers with PyTorch (run by tests/torch/run.sh).

For every model below, in float64 and float32, this builds the trainer once,
writes initial parameters with `init` and a random data set with numpy, and
compares the trainer with a PyTorch evaluation of the same model:

  grad      `grad` (reduce = mean)     vs torch.autograd, every trainable
            parameter; G.npz must hold exactly the trainable parameters
  grad_sum  `grad --reduce sum`        vs the same with a summed objective
  eval      `eval`'s `loss: V`         vs the torch objective
  sgd       `train --batch full --epochs 5 --optimizer 'sgd(lr = 0.05)'`:
            metrics.csv's loss, epochs 0..5, and the saved final parameters
            vs 5 steps of torch.optim.SGD
  adam, sgd_nesterov (one model each): the same with torch.optim.Adam and
            torch.optim.SGD(momentum, nesterov, weight_decay)

The PyTorch side is NOT a hand-written copy of each model: it interprets the
`forward:` section of `nnc --emit=ir MODEL.nn` (ir_print in src/ir/ir.c) with
torch's own ops (torch.matmul, torch.softmax, F.cross_entropy,
F.binary_cross_entropy_with_logits, ...: the reference table, reference.py,
applied as each op's kind in src/ir/ops.def says) on tensors with an explicit
batch axis, and differentiates with torch.autograd.  So it shares nothing with
nnc's reverse mode or C code generation, only the lowering to IR.

The reference is always computed in float64 from exactly the numbers the
trainer sees (float32 parameters and data are widened exactly).

Tolerance (max-norm relative error, per array):
    max|a - b| <= tol * max(max|b|, 1e-300)
with a the trainer's array, b torch's, tol = 1e-9 (f64) or 2e-4 (f32).
Every value must also be finite.

Output: one line per test, `PASS  name` / `FAIL  name` (+ `      | ` detail
lines) / `SKIP  name: why`, as tests/lib.sh prints them.  Each test's commands
and numbers go to tests/out/<name with / as _>.log.
"""
import argparse
import concurrent.futures
import csv
import os
import re
import subprocess
import sys
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
import optable                      # noqa: E402  (ops.def: each op's kind)
from reference import REFERENCE     # noqa: E402  (each op in PyTorch)

KINDS = {op.name: op.kind for op in optable.read(ROOT)}
TOL = {"f64": 1e-9, "f32": 2e-4}
NSAMPLES = 16
LR = 0.05
EPOCHS = 5
ADAM = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
NESTEROV = dict(lr=0.05, momentum=0.9, weight_decay=0.01)

# (test name, .nn file, nnc -D flags)
MODELS = [
    ("tiny_mlp", "examples/tiny_mlp.nn", []),
    ("xor", "examples/xor.nn", []),
    ("spirals", "examples/spirals.nn", []),
    ("sweep_d2_w3", "examples/sweep.nn", ["-D", "depth=2", "-D", "width=3"]),
]
for _f in sorted(os.listdir(os.path.join(ROOT, "tests/grad"))):
    if _f.endswith(".nn"):
        MODELS.append((_f[:-3], "tests/grad/" + _f, []))
for _f in sorted(os.listdir(os.path.join(HERE, "models"))):
    if _f.endswith(".nn"):
        MODELS.append((_f[:-3], "tests/torch/models/" + _f, []))
ADAM_MODELS = {"spirals"}
NESTEROV_MODELS = {"xent"}
LARGE_LOGITS = {"large_logits"}   # checked: the logits really reach |z| >= 1000


class Unsupported(Exception):
    pass


class TestFailure(Exception):
    pass


# ---------------------------------------------------------------- IR text form

class Value:
    __slots__ = ("id", "op", "args", "name", "num", "ta", "tb", "shape", "batched", "label", "values",
                 "view", "window")


class Model:
    def __init__(self):
        self.slots = []       # (name, is_target, shape, nclass)
        self.params = []      # (name, shape, frozen)
        self.values = []
        self.loss = None
        self.penalty = None
        self.output = None


def parse_shape(s):
    s = s.strip()
    assert s[0] == "[" and s[-1] == "]", s
    inner = s[1:-1].strip()
    return tuple(int(d) for d in inner.split(",")) if inner else ()


VALUE_RE = re.compile(r"^\s*%(\d+) = (\w+)(.*?) : (\[[^\]]*\])( batch)?( label)?\s*$")


def parse_ir(text):
    m = Model()
    section = "header"
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        if line.startswith("forward:"):
            section = "forward"
            continue
        if line.startswith("backward"):
            break
        if section == "header":
            w = line.split()
            if w[0] in ("input", "target"):
                mo = re.match(r"^(input|target) (\w+) : class\((\d+)\)$", line)
                mi = re.match(r"^input (\w+) (\[[^\]]*\]) : index\((\d+)\)$", line)
                if mi:   # integers in [0, V): the nclass field holds -V
                    m.slots.append((w[1], False, parse_shape(mi.group(2)), -int(mi.group(3))))
                elif mo:
                    m.slots.append((w[1], w[0] == "target", (), int(mo.group(3))))
                else:
                    m.slots.append((w[1], w[0] == "target", parse_shape(line.split(None, 2)[2]), 0))
            elif w[0] == "param":
                mo = re.match(r"^param (\w+) (\[[^\]]*\])", line)
                m.params.append((mo.group(1), parse_shape(mo.group(2)), line.rstrip().endswith(" frozen")))
            else:
                raise Unsupported("unknown IR header line: " + line)
            continue
        if line.startswith("loss "):
            m.loss = int(line.split("%")[1])
            continue
        if line.startswith("penalty "):
            m.penalty = int(line.split("%")[1])
            continue
        if line.startswith("output "):
            m.output = int(line.split("%")[1].split()[0])
            continue
        mo = VALUE_RE.match(line.split(";", 1)[0])
        if not mo:
            raise Unsupported("cannot parse IR line: " + line)
        v = Value()
        v.id, v.op, rest = int(mo.group(1)), mo.group(2), mo.group(3).strip()
        v.shape = parse_shape(mo.group(4))
        v.batched, v.label = bool(mo.group(5)), bool(mo.group(6))
        v.args, v.name, v.num, v.ta, v.tb, v.view = [], None, None, False, False, None
        if v.op in ("input", "param"):
            v.name = rest
        elif v.op == "const":
            v.num = float(rest)
        elif v.op == "literal":
            v.values = [float(t) for t in rest.strip("[] ").split(",")]
        else:
            vw = re.search(r" at (\d+) by \[([\d, ]*)\]$", rest)   # a view's offset and strides
            if vw:
                v.view = (int(vw.group(1)), [int(t) for t in vw.group(2).split(",") if t.strip()])
                rest = rest[:vw.start()].strip()
            v.window = None
            fl = re.search(r"\[([a-z0-9=,]*)\]$", rest)
            if fl and "=" in fl.group(1):   # a sliding window's [stride=S,pad=P]
                v.window = dict(stride=1, pad=0, window=0)
                v.window.update((k, int(x)) for k, x in
                                (f.split("=") for f in fl.group(1).split(",")))
                rest = rest[:fl.start()].strip()
            elif fl:
                v.ta, v.tb = "ta" in fl.group(1).split(","), "tb" in fl.group(1).split(",")
                rest = rest[:fl.start()].strip()
            if "+->" in rest:
                raise Unsupported("accumulating value in forward section: " + line)
            v.args = [int(a.strip().lstrip("%")) for a in rest.split(",")]
        assert v.id == len(m.values), line
        m.values.append(v)
    if m.loss is None:
        raise Unsupported("IR has no `loss %N` line")
    return m


# ------------------------------------------------------------ torch evaluation

DT = torch.float64


def apply_op(v, a, av, B, probe):
    """Value v = op(a...) in torch: the op's PyTorch function from the reference
    table (reference.py), applied as the op's kind (ops.def) says."""
    op, ref, kind = v.op, REFERENCE.get(v.op), KINDS.get(v.op)
    if ref is None or kind is None:
        raise Unsupported("IR op '%s' (%%%d) has no PyTorch reference in tests/torch/reference.py"
                          % (op, v.id))
    if op in ("bce", "cross_entropy") and probe is not None:   # LARGE_LOGITS
        probe.append(a[0].detach().abs().max().item())

    def align(w, x, rank):   # a batched operand: [B, 1.., shape] for broadcasting
        if not w.batched:
            return x
        return x.reshape((B,) + (1,) * (rank - len(w.shape)) + tuple(w.shape))

    if kind == "K_MAP":
        return ref.fn(*[align(w, x, len(v.shape)) for w, x in zip(av, a)])
    if kind == "K_MATMUL":
        (p, q), (pv, qv) = a, av
        ra, rb = len(pv.shape), len(qv.shape)
        if ra == 1:    # a vector is a row, or with [ta] a column
            p = p.unsqueeze(-1) if v.ta else p.unsqueeze(-2)
        elif v.ta:
            p = p.transpose(-1, -2)
        if rb == 1:    # a vector is a column, or with [tb] a row
            q = q.unsqueeze(-2) if v.tb else q.unsqueeze(-1)
        elif v.tb:
            q = q.transpose(-1, -2)
        x = ref.fn(p, q)
        drop_n = rb == 1 and not v.tb
        drop_m = ra == 1 and not v.ta
        if drop_n:
            x = x.squeeze(-1)
        if drop_m:
            x = x.squeeze(-1 if drop_n else -2)
        return x
    if kind == "K_TRANS":
        if len(av[0].shape) != 2:
            raise Unsupported("transpose of rank %d" % len(av[0].shape))
        return ref.fn(a[0])
    if kind == "K_REDUCE":   # each sample's elements in one row
        return ref.fn(a[0].reshape(B, -1) if av[0].batched else a[0].reshape(-1))
    if kind == "K_ROW":
        if any(w.label for w in av) and any(len(w.shape) != 1 for w in av if not w.label):
            raise Unsupported("%s of shape %s" % (op, av[0].shape))
        if any(w.batched for w in av):   # one row per sample: parameters repeated
            a = [x if w.batched else x.expand((B,) + tuple(x.shape)) for w, x in zip(av, a)]
        return ref.fn(*a)
    if kind == "K_GATHER":   # rows of the table, per sample when it is batched
        E, i = a[0], a[1].long()
        if av[0].batched:
            return E[torch.arange(B).reshape((B,) + (1,) * (i.dim() - 1)), i]
        return ref.fn(E, i)
    if kind == "K_VIEW":
        # the smaller tensor's element j is the larger's off + j . strides (ir.h IrView)
        small = v.shape if op == "view" else av[0].shape
        off, strides = v.view
        grid = np.indices(small).reshape(len(small), -1) if small else np.zeros((0, 1), int)
        idx = torch.as_tensor(off + sum(g * s for g, s in zip(grid, strides)), dtype=torch.long)
        x = a[0].reshape(B, -1) if av[0].batched else a[0].reshape(-1)
        if op == "view":
            return ref.fn(x, idx).reshape(((B,) if av[0].batched else ()) + tuple(v.shape))
        out = ref.fn(x, idx, int(np.prod(v.shape)))
        return out.reshape(((B,) if av[0].batched else ()) + tuple(v.shape))
    if kind == "K_BATCH":   # the whole batch, [B, C, ...]; a vector's C is its length
        return ref.fn(*a)
    if kind == "K_CONV":   # x [B, C, H, W]: one sample made a batch of one
        x = a[0] if av[0].batched else a[0].unsqueeze(0)
        y = ref.fn(x, *a[1:], **v.window)
        return y if av[0].batched else y.squeeze(0)
    raise Unsupported("IR op '%s' of kind %s: compare.py does not know the kind" % (op, kind))


def run_forward(m, params, data, B, probe=None):
    """Evaluate the forward section; returns (loss per sample [B], penalty or None)."""
    val = {}
    for v in m.values:
        a = [val[i] for i in v.args]
        av = [m.values[i] for i in v.args]
        op = v.op
        if op == "input":
            x = data[v.name]
        elif op == "param":
            x = params[v.name]
        elif op == "const":
            x = torch.tensor(v.num, dtype=DT)
        elif op == "literal":
            x = torch.tensor(v.values, dtype=DT).reshape(v.shape)
        else:
            x = apply_op(v, a, av, B, probe)
        want = ((B,) if v.batched else ()) + tuple(v.shape)
        if tuple(x.shape) != want:
            raise Unsupported("interpreter bug: %%%d %s has shape %s, IR says %s"
                              % (v.id, op, tuple(x.shape), want))
        val[v.id] = x
    loss = val[m.loss]
    if not m.values[m.loss].batched:
        loss = loss.expand(B)
    pen = val[m.penalty] if m.penalty is not None else None
    return loss, pen


def objective(m, params, data, B, reduce="mean", probe=None):
    loss, pen = run_forward(m, params, data, B, probe)
    f = loss.mean() if reduce == "mean" else loss.sum()
    return f + pen if pen is not None else f


# ------------------------------------------------------------------- helpers

def compare(what, got, want, tol):
    """Max-norm relative comparison; raises TestFailure with the worst entry."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise TestFailure("%s: shape %s, expected %s" % (what, got.shape, want.shape))
    if got.size == 0:
        return 0.0
    if not np.all(np.isfinite(got)):
        i = np.unravel_index(np.argmin(np.isfinite(got)), got.shape)
        raise TestFailure("%s: entry %s is %r (expected %.17g)" % (what, i, got[i], want[i]))
    if not np.all(np.isfinite(want)):
        raise TestFailure("%s: torch's value is not finite" % what)
    diff = np.abs(got - want)
    scale = max(np.abs(want).max(), 1e-300)
    err = diff.max() / scale
    if not err <= tol:
        i = np.unravel_index(np.argmax(diff), got.shape)
        raise TestFailure("%s: max-norm relative error %.3g > %.3g; worst entry %s: nnc %.17g, "
                          "torch %.17g (max|torch| %.6g)" % (what, err, tol, list(i), got[i],
                                                            want[i], scale))
    return err


class Test:
    def __init__(self, name, out):
        self.name = name
        self.log_path = os.path.join(out, name.replace("/", "_").replace(" ", "_") + ".log")
        self.log = open(self.log_path, "w")

    def note(self, msg):
        self.log.write(msg + "\n")
        self.log.flush()

    def run(self, cmd, cwd=None):
        self.note("$ " + " ".join(cmd))
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        self.log.write(p.stdout)
        if p.returncode != 0:
            raise TestFailure("%s exited with status %d:\n%s" % (" ".join(cmd), p.returncode,
                                                                p.stdout.strip()))
        return p.stdout


def report(name, status, detail=""):
    if status == "PASS":
        print("PASS  " + name)
    elif status == "SKIP":
        print("SKIP  %s: %s" % (name, detail))
    else:
        print("FAIL  " + name)
        for line in detail.splitlines():
            print("      | " + line)
    sys.stdout.flush()


def make_data(m, dt, seed):
    rng = np.random.default_rng(seed)
    fdt = np.float64 if dt == "f64" else np.float32
    d = {}
    for name, is_target, shape, nclass in m.slots:
        if nclass < 0:   # an index input
            d[name] = rng.integers(0, -nclass, size=(NSAMPLES,) + shape).astype(np.int64)
        elif nclass:
            d[name] = rng.integers(0, nclass, size=NSAMPLES).astype(np.int64)
        elif is_target:
            d[name] = rng.uniform(0.0, 1.0, size=(NSAMPLES,) + shape).astype(fdt)
        else:
            d[name] = rng.standard_normal((NSAMPLES,) + shape).astype(fdt)
    return d


def to_torch(arrs):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.int64 if v.dtype.kind in "iu" else np.float64))
            for k, v in arrs.items()}


def read_csv_losses(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [float(r["loss"]) for r in rows]


# ------------------------------------------------------------------- the tests

def torch_train(m, P, D, trainable, opt_name, opt):
    params = {k: v.clone() for k, v in P.items()}
    for k in trainable:
        params[k].requires_grad_(True)
    ps = [params[k] for k in trainable]
    if opt_name == "sgd":
        o = torch.optim.SGD(ps, lr=opt["lr"], momentum=opt.get("momentum", 0),
                            nesterov=opt.get("nesterov", False),
                            weight_decay=opt.get("weight_decay", 0))
    else:
        o = torch.optim.Adam(ps, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
    losses = []
    for e in range(EPOCHS + 1):
        o.zero_grad()
        f = objective(m, params, D, NSAMPLES)
        losses.append(f.item())
        if e < EPOCHS:
            f.backward()
            o.step()
    return losses, {k: v.detach() for k, v in params.items()}


def run_model(name, nn, defines, dt, exe, out, build_err):
    tol = TOL[dt]
    tests = ["grad", "grad_sum", "eval", "sgd"]
    if name in ADAM_MODELS:
        tests.append("adam")
    if name in NESTEROV_MODELS:
        tests.append("sgd_nesterov")
    tname = lambda t: "torch/%s/%s/%s" % (name, dt, t)
    if build_err is not None:
        for t in tests:
            report(tname(t), "FAIL", "nnc build failed:\n" + build_err)
        return
    wd = exe + ".d"
    os.makedirs(wd, exist_ok=True)
    try:
        ir = subprocess.run([NNC, "--emit=ir", os.path.join(ROOT, nn)] + defines,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=True).stdout
        with open(os.path.join(wd, "model.ir"), "w") as f:
            f.write(ir)
        m = parse_ir(ir)
        # fixed per model and dtype, so a failure can be reproduced
        seed = sum(map(ord, name + dt)) % 1000
        data = make_data(m, dt, seed)
        dpath, ppath = os.path.join(wd, "D.npz"), os.path.join(wd, "P.npz")
        np.savez(dpath, **data)
        subprocess.run([exe, "init", "--out", ppath, "--seed", str(seed)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        P = to_torch(dict(np.load(ppath)))
        D = to_torch(data)
        trainable = [p[0] for p in m.params if not p[2]]
        # evaluate once here so that an interpreter limitation is one FAIL per
        # model (not a SKIP: a model it cannot evaluate would go unchecked)
        objective(m, P, D, NSAMPLES)
    except Unsupported as e:
        for t in tests:
            report(tname(t), "FAIL", "compare.py cannot evaluate the IR: %s" % e)
        return
    except Exception as e:   # a failing init, an unreadable P.npz, an interpreter bug
        for t in tests:
            report(tname(t), "FAIL", "setup failed: %s: %s" % (type(e).__name__, e))
        return

    for t in tests:
        T = Test(tname(t), out)
        try:
            T.note("model %s%s, %s, data %s (seed %d), params %s, tol %g"
                   % (nn, " " + " ".join(defines) if defines else "", dt, dpath, seed, ppath, tol))
            if t in ("grad", "grad_sum"):
                reduce = "mean" if t == "grad" else "sum"
                gpath = os.path.join(wd, "G_%s.npz" % reduce)
                T.run([exe, "grad", "--params", ppath, "--data", dpath, "--out", gpath,
                       "--reduce", reduce])
                G = dict(np.load(gpath))
                if sorted(G) != sorted(trainable):
                    raise TestFailure("G.npz holds %s, expected the trainable parameters %s"
                                      % (sorted(G), sorted(trainable)))
                params = {k: v.clone().requires_grad_(k in trainable) for k, v in P.items()}
                probe = []
                f = objective(m, params, D, NSAMPLES, reduce, probe)
                grads = torch.autograd.grad(f, [params[k] for k in trainable], allow_unused=True)
                for k, g in zip(trainable, grads):
                    want = g.numpy() if g is not None else np.zeros(P[k].shape)
                    e = compare("%s: gradient of %s" % (nn, k), G[k], want, tol)
                    T.note("d%s: max-norm relative error %.3g" % (k, e))
                if name in LARGE_LOGITS:
                    T.note("largest |logit| %g" % max(probe))
                    if max(probe) < 1000:
                        raise TestFailure("the logits stay below 1000 (max %g): the test tests "
                                          "nothing" % max(probe))
            elif t == "eval":
                text = T.run([exe, "eval", "--params", ppath, "--data", dpath])
                mo = re.search(r"^loss: (\S+)$", text, re.M)
                if not mo:
                    raise TestFailure("eval printed no `loss: V` line:\n" + text)
                f = objective(m, P, D, NSAMPLES).item()
                e = compare("%s: eval loss" % nn, float(mo.group(1)), f, tol)
                T.note("loss: nnc %s, torch %.17g, error %.3g" % (mo.group(1), f, e))
            else:
                if t == "sgd":
                    oname, opt, flag = "sgd", dict(lr=LR), "sgd(lr = %r)" % LR
                elif t == "adam":
                    oname, opt = "adam", ADAM
                    flag = "adam(lr = %r, beta1 = %r, beta2 = %r, eps = %r)" % (
                        opt["lr"], opt["beta1"], opt["beta2"], opt["eps"])
                else:
                    oname, opt = "sgd", dict(NESTEROV, nesterov=True)
                    flag = "sgd(lr = %r, momentum = %r, nesterov = true, weight_decay = %r)" % (
                        opt["lr"], opt["momentum"], opt["weight_decay"])
                log = os.path.join(wd, "run_" + t)
                save = os.path.join(wd, "final_%s.npz" % t)
                T.run([exe, "train", "--init", ppath, "--data", dpath, "--test", "none",
                       "--batch", "full", "--epochs", str(EPOCHS), "--optimizer", flag,
                       "--schedule", "constant", "--reduce", "mean", "--shuffle", "false",
                       "--metrics", "none", "--log", log, "--save", save, "--quiet"])
                got = read_csv_losses(os.path.join(log, "metrics.csv"))
                want, final = torch_train(m, P, D, trainable, oname, opt)
                T.note("loss curve nnc:   %s\nloss curve torch: %s"
                       % (" ".join("%.17g" % x for x in got), " ".join("%.17g" % x for x in want)))
                if len(got) != EPOCHS + 1:
                    raise TestFailure("metrics.csv has %d rows, expected %d (epochs 0..%d)"
                                      % (len(got), EPOCHS + 1, EPOCHS))
                compare("%s: %s loss curve (metrics.csv epochs 0..%d)" % (nn, flag, EPOCHS),
                        got, want, tol)
                if oname == "sgd":   # Adam's m/sqrt(v) magnifies rounding where g ~ 0
                    S = dict(np.load(save))
                    for k in P:
                        compare("%s: %s final %s (--save)" % (nn, flag, k), S[k],
                                final[k].numpy(), tol)
            report(T.name, "PASS")
        except TestFailure as e:
            T.note("FAIL: %s" % e)
            report(T.name, "FAIL", str(e))
        except Unsupported as e:
            report(T.name, "FAIL", "compare.py cannot evaluate the IR: %s" % e)
        except Exception as e:   # e.g. an unreadable G.npz or metrics.csv
            T.note("FAIL: %s" % traceback.format_exc())
            report(T.name, "FAIL", "%s: %s" % (type(e).__name__, e))
        finally:
            T.log.close()


def build(nn, defines, dt, exe):
    p = subprocess.run([NNC, "build", os.path.join(ROOT, nn), "-o", exe, "--dtype", dt] + defines,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return None if p.returncode == 0 else p.stdout.strip() or "exit status %d" % p.returncode


def main():
    global NNC
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnc", default=os.environ.get("NNC", os.path.join(ROOT, "nnc")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/out"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("models", nargs="*", help="only these models (test names)")
    args = ap.parse_args()
    NNC = os.path.abspath(args.nnc)
    torch.set_num_threads(1)
    work = os.path.join(args.out, "torch")
    os.makedirs(work, exist_ok=True)
    jobs = [(name, nn, defs, dt, os.path.join(work, "%s.%s" % (name, dt)))
            for name, nn, defs in MODELS if not args.models or name in args.models
            for dt in ("f64", "f32")]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        built = list(pool.map(lambda j: build(j[1], j[2], j[3], j[4]), jobs))
    for (name, nn, defs, dt, exe), err in zip(jobs, built):
        run_model(name, nn, defs, dt, exe, args.out, err)


if __name__ == "__main__":
    main()
