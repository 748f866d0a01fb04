#!/usr/bin/python3
"""suite.py - the op-conformance suite, generated from the op table (run by tests/ops/run.sh).

Nothing here names an op.  The suite reads the files that hold an op's
knowledge (FILES below; `--files` prints them) and, for every op of
src/ir/ops.def with an adjoint rule (a *user-facing* op), writes a small model
using it in every shape its kind allows (CASES: vectors, matrices, scalars,
broadcasting operands, constants, operands per sample and shared ones), with
random operands drawn from the op's domains (reference.py: log and sqrt get
positive numbers, relu and abs none near 0, cross_entropy a class label).  Each
operand is a parameter, or a parameter times an input, so that every operand
has a gradient.  The loss is a random weighting of the results.

Each model is built as a C trainer in float64 and float32, in the fast and
the loops style (`--style=loops`), and run by the JIT (`nnc run`), and:

  ops/OP/model       the model compiles and its IR holds OP (the notation in
                     ops.def is how the language writes the op)
  ops/OP/reference   reference.py has OP (a FAIL, never a skip, without it)
  ops/OP/explain     `nnc explain`'s float64 interpreter (its loss and every
                     gradient, --digits 17) against PyTorch, on the example
  ops/OP/finite-differences
                     the float64 trainer's `check`: central differences (for
                     an op without a gradient by definition, rule ad_nograd:
                     comparisons, stop_gradient, that `grad` gives zeros)
  ops/OP/BACKEND     for c-f64 c-f32 c-loops-f64 c-loops-f32 jit-f64 jit-f32:
                     `eval` and `grad` on the example (one sample) against
                     explain, and on NSAMPLES samples against PyTorch
  ops/OP/exercised   (an internal op: one without a rule, made by reverse
                     mode) some model's adjoint program (`nnc --emit=ir`)
                     holds it; the failure names the rules of rules.c that
                     make it

Tolerance (max-norm relative, compare.py's compare): 1e-10 in float64,
1e-4 in float32.  Files go to tests/out/ops/OP/; each test's log to
tests/out/ops_OP_TEST.log.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "torch"))
import optable                                   # noqa: E402
from reference import REFERENCE, ANY, LABEL, INDEX   # noqa: E402
import compare                                   # noqa: E402
from compare import Test, TestFailure, report    # noqa: E402
import torch                                     # noqa: E402

# the files an op's knowledge lives in: docs/ir.md, "Adding an op", names
# exactly these (tests/ops/run.sh checks it)
FILES = [optable.OPS_DEF, optable.RULES_C, "tests/torch/reference.py"]

TOL = {"f64": 1e-10, "f32": 1e-4}
NSAMPLES = 4
# (test, --style or "jit", --dtype)
BACKENDS = [("c-f64", "fast", "f64"), ("c-f32", "fast", "f32"),
            ("c-loops-f64", "loops", "f64"), ("c-loops-f32", "loops", "f32"),
            ("jit-f64", "jit", "f64"), ("jit-f32", "jit", "f32")]
NNC = None

# ------------------------------------------------------------ the cases
# An operand: (where, shape) with where "param" (shared by the samples),
# "batch" (one per sample: a parameter times an input) or "const" (a
# number).  A case is one use of the op; each kind lists the uses it allows.
# At most 12 elements a parameter: explain abbreviates bigger tensors.


def map_cases(n):
    """K_MAP with n operands: equal shapes, per-sample and shared operands
    broadcasting both ways, a one-element operand, a constant in each place,
    a scalar parameter and operands stretched along dimensions of 1."""
    P, B = (lambda *s: ("param", s)), (lambda *s: ("batch", s))
    if n == 1:
        return [[P(5)], [B(2, 3)], [P()]]
    cases = [[P(4)] * n, [B(2, 3)] * n]
    for i in range(n):
        cases.append([B(2, 3) if j == i else P(3) for j in range(n)])
        cases.append([P(3) if j == i else B(2, 3) for j in range(n)])
        cases.append([("const", ()) if j == i else B(4) for j in range(n)])
    cases.append([B(2, 3)] * (n - 1) + [B(1)])
    cases.append([P()] + [P(3)] * (n - 1))
    # numpy's stretching: a shared [2, 1] over per-sample [2, 3]; [3, 1]
    # and [1, 2] both stretched, to [3, 2]
    cases.append([B(2, 3)] + [P(2, 1)] * (n - 1))
    cases.append([P(3, 1)] + [B(1, 2)] * (n - 1))
    return cases


def conv_cases(n, two):
    """K_CONV: a convolution (x, K, b) over a map per sample and a shared
    one, with stride and padding; a pool (x) with its window, overlapping
    windows, per sample and shared.  A case's last entry ("kw", TEXT) is
    not an operand: the call's further arguments (the window's settings)."""
    P, B = (lambda *s: ("param", s)), (lambda *s: ("batch", s))
    if n == 3 and two:
        return [[B(1, 3, 4), P(2, 1, 2, 2), P(2)],
                [B(2, 2, 2), P(1, 2, 2, 2), P(1), ("kw", "stride = 2, pad = 1")],
                [P(2, 2, 3), P(2, 2, 2, 1), P(2), ("kw", "pad = 1")],
                [B(1, 3, 3), P(1, 1, 1, 1), P(1), ("kw", "stride = 2")]]
    if n == 3:
        return [[B(2, 5), P(2, 2, 2), P(2)],
                [B(1, 5), P(3, 1, 3), P(3), ("kw", "stride = 2, pad = 1")],
                [P(2, 3), P(1, 2, 2), P(1), ("kw", "pad = 1")]]
    if two:
        return [[B(1, 2, 4), ("kw", "2")], [B(2, 2, 2), ("kw", "2")],
                [B(1, 3, 3), ("kw", "2, stride = 1")], [P(1, 2, 4), ("kw", "2")]]
    return [[B(2, 4), ("kw", "2")], [B(1, 5), ("kw", "3, stride = 2")], [P(3, 4), ("kw", "2")]]


CASES = {
    "K_MAP": map_cases,
    "K_MATMUL": lambda n: [
        [("param", (2, 3)), ("batch", (3,))],       # W @ x
        [("batch", (3,)), ("param", (3, 2))],       # x @ W (a row vector)
        [("param", (2, 3)), ("param", (3, 4))],     # shared matrices
        [("batch", (2, 3)), ("param", (3, 2))],     # a sample's rows times a parameter
        [("param", (2, 3)), ("batch", (3, 2))],
        [("batch", (2, 3)), ("batch", (3, 2))],
        [("batch", (3,)), ("batch", (3,))],         # a dot product
        [("param", (3,)), ("batch", (3,))],
    ],
    "K_TRANS": lambda n: [[("param", (2, 3))], [("batch", (3, 2))]],
    "K_REDUCE": lambda n: [[("param", (5,))], [("batch", (2, 3))], [("batch", (1,))]],
    "K_ROW": lambda n: [[("batch", (4,))] * n, [("batch", (2, 3))] * n, [("param", (5,))] * n,
                        [("batch", (1,))] * n],
    # a view's notation slices the first axis (x[1:3]), a placement's is concat
    # a table (a parameter, or one per sample) and an index input: one index or a row of them
    "K_GATHER": lambda n: [[("param", (5, 3)), ("index", ())], [("param", (5, 3)), ("index", (2,))],
                           [("batch", (4, 2)), ("index", (3,))], [("param", (6,)), ("index", (2,))]],
    "K_VIEW": lambda n: [[("batch", (4,))], [("param", (3, 4))], [("batch", (3, 2))],
                         [("param", (4,))]],
    # batch norm: a value per sample (a vector, [C, L], [C, H, W]); the other
    # operands are the statistics and parameters the op makes itself
    "K_BATCH": lambda n: [[("batch", s)] + [("const", ())] * (n - 1)
                          for s in ((4,), (2, 3), (2, 2, 2))],
    "K_CONV": conv_cases,
}


def row_cases_with_labels(n, labels):
    """K_ROW with a class label operand (cross_entropy): vectors of logits
    per sample and shared, the label one per sample."""
    return [[("label", ()) if labels[i] else (w, (4,)) for i in range(n)]
            for w in ("batch", "param")]


# ------------------------------------------------------------ the model

def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def draw(rng, dom, shape, factor=False):
    """Numbers of the domain; factor: one of two whose product is in it."""
    if dom.values:
        return f32(rng.choice(dom.values, size=shape))
    lo, hi = (np.sqrt(dom.lo), np.sqrt(dom.hi)) if factor else (dom.lo, dom.hi)
    x = rng.uniform(lo, hi, size=shape)
    if dom.signed:
        x *= rng.choice([-1.0, 1.0], size=shape)
    return f32(x)


def literal(x):
    x = np.asarray(x)
    if x.ndim == 0:
        return repr(float(x))
    return "[" + ", ".join(literal(e) for e in x) + "]"


def dims(shape):
    return "[%s]" % ", ".join(map(str, shape))


class Model:
    """A generated model: its text, parameters and data."""

    def __init__(self, op, domains, seed):
        self.op, self.name = op, op.name
        rng = np.random.default_rng(seed)
        self.inputs, self.params, self.labels = {}, {}, {}   # name -> values
        self.fixed = {}   # parameters without a gradient the op makes (batchnorm's running ones)
        self.indices = {}   # an index input's name -> its integers
        decl, body, terms = [], [], []
        labels = [d is LABEL for d in domains]
        kinds = CASES.get(op.kind)
        if kinds is None:
            raise TestFailure("op kind %s has no cases in tests/ops/suite.py (CASES): say there "
                              "how a model uses an op of this kind" % op.kind)
        if any(labels):
            cases = row_cases_with_labels(op.arity, labels)
        elif op.kind == "K_CONV":   # the map's rank from the function's name
            cases = kinds(op.arity, op.fn and op.fn.endswith("2d"))
        else:
            cases = kinds(op.arity)
        # an operand that must be a number is one in every case (fewer cases then)
        cases = [[("const", ()) if d.only_const else o for o, d in zip(c, domains)]
                 + c[len(domains):] for c in cases]
        cases = [c for i, c in enumerate(cases)
                 if c not in cases[:i] and any(w != "const" for w, _ in c)]
        for k, case in enumerate(cases):
            kw = case[-1][1] if case[-1][0] == "kw" else None
            case = case[:-1] if kw else case
            operands = []   # as written: a parameter, a parameter times an input, a number
            for i, ((where, shape), dom) in enumerate(zip(case, domains)):
                nm = "%d_%d" % (k, i)
                if where == "const":
                    operands.append("(%r)" % dom.const)
                elif where == "label":
                    K = case[0][1][-1]
                    decl.append("target c%s : class(%d)" % (nm, K))
                    self.labels["c" + nm] = (rng.integers(0, K, size=NSAMPLES), K)
                    operands.append("c" + nm)
                elif where == "index":   # integers below the table's rows
                    V = case[0][1][0]
                    decl.append("input i%s%s : index(%d)" % (nm, dims(shape) if shape else "", V))
                    self.indices["i" + nm] = rng.integers(0, V, size=(NSAMPLES,) + shape)
                    operands.append("i" + nm)
                elif where == "param":
                    decl.append("param p%s%s = zeros" % (nm, dims(shape)))
                    self.params["p" + nm] = draw(rng, dom, shape)
                    operands.append("p" + nm)
                else:
                    decl.append("input x%s%s" % (nm, dims(shape)))
                    decl.append("param p%s%s = zeros" % (nm, dims(shape)))
                    self.inputs["x" + nm] = draw(rng, dom, (NSAMPLES,) + shape, factor=True)
                    self.params["p" + nm] = draw(rng, dom, shape, factor=True)
                    body.append("a%s = p%s * x%s" % (nm, nm, nm))
                    operands.append("a" + nm)
            expr = re.sub(r"\$(\d)", lambda m: operands[int(m.group(1))], op.notation)
            if kw:
                expr = expr[:-1] + ", " + kw + ")"
            body.append("r%d = %s" % (k, expr))
            terms.append("r%d" % k)
        self.nterms = len(terms)
        self.text = ("# op %s (%s, %d operands, domains %s): generated by tests/ops/suite.py "
                     "from %s\n" % (op.name, op.kind, op.arity, list(domains), optable.OPS_DEF)
                     + "\n".join(decl) + "\n" + "\n".join(body) + "\n")
        self.rng = rng   # the loss's weights need the results' shapes: see finish()

    def finish(self, shapes):
        """The loss, once the IR gave each result's shape: sum(r * W)."""
        rng, terms = self.rng, []
        for k, shape in enumerate(shapes):
            w = np.round(rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape), 2)
            terms.append("%s * r%d" % (literal(w), k) if not shape else
                         "sum(r%d * %s)" % (k, literal(w)))
        ex = ["  %s = %s" % (n, literal(v[0])) for n, v in self.inputs.items()]
        ex += ["  %s = %d" % (n, v[0][0]) for n, v in self.labels.items()]
        ex += ["  %s = %s" % (n, literal(v[0].astype(float))) for n, v in self.indices.items()]
        self.text += ("loss = " + " + ".join(terms) + "\n\nexample {\n" + "\n".join(ex) + "\n}\n")

    def data(self, dt, n):
        fdt = np.float64 if dt == "f64" else np.float32
        d = {k: v[:n].astype(fdt) for k, v in self.inputs.items()}
        d.update({k: v[0][:n].astype(np.int64) for k, v in self.labels.items()})
        d.update({k: v[:n].astype(np.int64) for k, v in self.indices.items()})
        return d

    def param_file(self, dt):
        fdt = np.float64 if dt == "f64" else np.float32
        return {k: np.asarray(v, dtype=fdt) for k, v in {**self.params, **self.fixed}.items()}

    def own_params(self, ir):
        """The parameters the op makes itself (batchnorm's bnK_gamma ...), at
        their initialisers: trained ones beside the suite's, frozen ones fixed."""
        for name, shape, init, frozen in re.findall(
                r"^param (\w+) (\[[^\]]*\]) (\w+)( frozen)?$", ir, re.M):
            if name in self.params:
                continue
            if init not in ("zeros", "ones"):
                raise TestFailure("the model makes a parameter %s initialised by %s: the suite "
                                  "knows zeros and ones" % (name, init))
            x = (np.ones if init == "ones" else np.zeros)(compare.parse_shape(shape))
            (self.fixed if frozen else self.params)[name] = x


# ------------------------------------------------------------ running

def run(cmd, T=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if T:
        T.note("$ " + " ".join(cmd))
        T.log.write(p.stdout)
    if p.returncode != 0:
        raise TestFailure("%s exited with status %d:\n%s"
                          % (" ".join(cmd), p.returncode, p.stdout.strip()[-2000:]))
    return p.stdout


def forward_ops(ir):
    fwd = ir.split("\nforward:", 1)[-1].split("\nbackward", 1)[0]
    return re.findall(r"^\s*%\d+ = (\w+)", fwd, re.M)


def all_ops(ir):
    return set(re.findall(r"^\s*%\d+ = (\w+)", ir, re.M))


def result_shapes(ir, n):
    """The shapes of r0..r{n-1}, from the IR's comments (`; r3 = ...`)."""
    shapes = {}
    for m in re.finditer(r"^\s*%\d+ = .*? : (\[[^\]]*\])[^;]*; (r\d+) = ", ir, re.M):
        shapes[m.group(2)] = compare.parse_shape(m.group(1))
    return [shapes["r%d" % k] for k in range(n)]


def explain(M, wd, T):
    """explain's loss and every parameter's gradient (float64, 17 digits)."""
    loss, grads = None, {}
    for p in M.params:
        out = run([NNC, "explain", M.path, "--wrt", p, "--params", os.path.join(wd, "P.f64.npz"),
                   "--digits", "17"], T)
        mo = re.search(r"^Result\n  dL/d%s = (.*)$" % p, out, re.M)
        if not mo:
            raise TestFailure("explain --wrt %s printed no `dL/d%s = ...` result" % (p, p))
        grads[p] = np.array(json.loads(mo.group(1)), dtype=np.float64).reshape(M.params[p].shape)
        lines = out.split("\nBackward pass")[0].splitlines()
        start = [i for i, l in enumerate(lines) if re.match(r"^\s+loss = ", l)]
        if not start:
            raise TestFailure("explain printed no value `loss = ...` in its forward pass")
        i = start[-1] + 1
        while i < len(lines) and re.match(r"^\s+= ", lines[i]):
            i += 1
        loss = float(lines[i - 1].split("= ", 1)[1])
    return loss, grads


def backend(M, wd, style, dt, data, T):
    """eval's loss and grad's gradients (reduce = mean) of one backend."""
    pfile = os.path.join(wd, "P.%s.npz" % dt)
    dfile = os.path.join(wd, "%s.%s.npz" % (data, dt))
    gfile = os.path.join(wd, "G.%s.%s.%s.npz" % (style, dt, data))
    if style == "jit":
        cmd = [NNC, "run", M.path, "--dtype", dt]
    else:
        cmd = [os.path.join(wd, "model.%s.%s" % (style, dt))]
    out = run(cmd + ["eval", "--params", pfile, "--data", dfile, "--quiet"], T)
    mo = re.search(r"^loss: (\S+)$", out, re.M)
    if not mo:
        raise TestFailure("eval printed no `loss: V` line:\n" + out)
    run(cmd + ["grad", "--params", pfile, "--data", dfile, "--out", gfile], T)
    return float(mo.group(1)), dict(np.load(gfile))


def torch_reference(M, n):
    """PyTorch's loss and gradients (reduce = mean) from the model's IR."""
    m = compare.parse_ir(M.ir)
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in M.params.items()}
    fixed = {k: torch.tensor(v, dtype=torch.float64) for k, v in M.fixed.items()}
    D = compare.to_torch(M.data("f64", n))
    f = compare.objective(m, {**P, **fixed}, D, n)
    # a parameter that reaches the loss only through a comparison (no
    # gradient, as in nnc) has none: zeros
    g = (torch.autograd.grad(f, list(P.values()), allow_unused=True) if f.requires_grad
         else [None] * len(P))
    return f.item(), {k: (x if x is not None else torch.zeros_like(P[k])).detach().numpy()
                      for k, x in zip(P, g)}


def agree(what, got, want, tol, T):
    (gl, gg), (wl, wg) = got, want
    # the loss sums terms of about 1 that may cancel: relative to max(|loss|, 1)
    e = abs(gl - wl) / max(abs(wl), 1)
    T.note("%s: loss %.17g vs %.17g, error %.3g" % (what, gl, wl, e))
    if not e <= tol:
        raise TestFailure("%s: loss %.17g, expected %.17g: error %.3g > %.3g (relative to "
                          "max(|loss|, 1))" % (what, gl, wl, e, tol))
    if sorted(gg) != sorted(wg):
        raise TestFailure("%s: gradients of %s, expected %s" % (what, sorted(gg), sorted(wg)))
    for k in sorted(wg):
        e = compare.compare("%s: gradient of %s" % (what, k), gg[k], wg[k], tol)
        T.note("%s: d%s error %.3g" % (what, k, e))


class Checks:
    """One op's tests, run in a worker; report() prints them in order."""

    def __init__(self, name, out):
        self.name, self.out, self.lines = name, out, []

    def test(self, what, fn):
        T = Test("ops/%s/%s" % (self.name, what), self.out)
        try:
            fn(T)
            self.lines.append((T.name, "PASS", ""))
        except TestFailure as e:
            T.note("FAIL: %s" % e)
            self.lines.append((T.name, "FAIL", str(e)))
        except Exception as e:   # a crash in the suite is a failure too
            T.note("FAIL: %s" % traceback.format_exc())
            self.lines.append((T.name, "FAIL", "%s: %s" % (type(e).__name__, e)))
        finally:
            T.log.close()

    def report(self):
        for name, status, detail in self.lines:
            report(name, status, detail)


def prepare(op, work, out):
    """Write op's model and files; returns (Model or None, Checks so far)."""
    C = Checks(op.name, out)
    wd = os.path.join(work, op.name)
    os.makedirs(wd, exist_ok=True)
    ref = REFERENCE.get(op.name)
    domains = ref.domains if ref else (ANY,) * op.arity
    M = None

    def model(T):
        nonlocal M
        seed = sum(map(ord, op.name)) % 1000
        m = Model(op, domains, seed)
        m.path = os.path.join(wd, "model.nn")
        with open(m.path, "w") as f:   # a first loss, for the results' shapes
            f.write(m.text + "loss = %s\n" % " + ".join("sum(r%d)" % k for k in range(m.nterms)))
        ir = run([NNC, "--emit=ir", m.path], T)
        m.finish(result_shapes(ir, m.nterms))
        with open(m.path, "w") as f:
            f.write(m.text)
        m.ir = run([NNC, "--emit=ir", m.path], T)
        m.own_params(m.ir)
        if op.name not in forward_ops(m.ir):
            raise TestFailure("%s: the model's IR has no `%s` although each result is written "
                              "as its notation `%s` (ops.def): is that how the language writes "
                              "it?" % (m.path, op.name, op.notation))
        for dt in ("f64", "f32"):
            np.savez(os.path.join(wd, "P.%s.npz" % dt), **m.param_file(dt))
            np.savez(os.path.join(wd, "D.%s.npz" % dt), **m.data(dt, NSAMPLES))
            np.savez(os.path.join(wd, "D1.%s.npz" % dt), **m.data(dt, 1))
        T.note(m.text)
        M = m

    C.test("model", model)

    def has_reference(T):
        if ref is None:
            raise TestFailure("op %s (%s) has no PyTorch reference: add it to REFERENCE in "
                              "tests/torch/reference.py (docs/ir.md, \"Adding an op\")"
                              % (op.name, optable.OPS_DEF))
    C.test("reference", has_reference)
    return M, C, wd


def build(M, wd, style, dt):
    if M is None:
        return None
    p = subprocess.run([NNC, "build", M.path, "-o", os.path.join(wd, "model.%s.%s" % (style, dt)),
                        "--dtype", dt, "--style=" + style],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return None if p.returncode == 0 else p.stdout.strip() or "exit status %d" % p.returncode


def check_op(M, C, wd, built, jit):
    if M is None:
        for what in ["explain", "finite-differences"] + [b[0] for b in BACKENDS]:
            C.lines.append(("ops/%s/%s" % (C.name, what), "FAIL", "no model (see ops/%s/model)"
                            % C.name))
        return C
    ref = {}

    def reference(T):   # explain on the example; torch on it and on all samples
        ref["E"] = explain(M, wd, T)
        T1 = torch_reference(M, 1)
        ref["T"] = torch_reference(M, NSAMPLES)
        agree("explain vs torch (the example)", ref["E"], T1, TOL["f64"], T)
    C.test("explain", reference)

    def fd(T):
        if built[("fast", "f64")]:
            raise TestFailure("nnc build failed:\n" + built[("fast", "f64")])
        if M.op.rule == "ad_nograd":   # no gradient by definition: grad gives zeros
            g = os.path.join(wd, "G.fd.npz")
            run([os.path.join(wd, "model.fast.f64"), "grad", "--params", os.path.join(wd, "P.f64.npz"),
                 "--data", os.path.join(wd, "D.f64.npz"), "--out", g], T)
            nonzero = [k for k, x in np.load(g).items() if np.any(x != 0)]
            if nonzero:
                raise TestFailure("%s has no gradient (ad_nograd), but grad gives one to %s"
                                  % (M.op.name, nonzero))
            return
        out = run([os.path.join(wd, "model.fast.f64"), "check", "--params",
                   os.path.join(wd, "P.f64.npz"), "--data", os.path.join(wd, "D.f64.npz")], T)
        if "PASS" not in out:
            raise TestFailure("check printed no PASS:\n" + out)
    C.test("finite-differences", fd)

    for test, style, dt in BACKENDS:
        if style == "jit" and not jit:
            continue

        def one(T, test=test, style=style, dt=dt):
            if style != "jit" and built[(style, dt)]:
                raise TestFailure("nnc build failed:\n" + built[(style, dt)])
            if "E" not in ref:
                raise TestFailure("explain failed (see ops/%s/explain)" % C.name)
            agree("%s vs explain (the example)" % test,
                  backend(M, wd, style, dt, "D1", T), ref["E"], TOL[dt], T)
            if "T" not in ref:
                raise TestFailure("agrees with explain; no PyTorch numbers to compare with "
                                  "(see ops/%s/explain)" % C.name)
            agree("%s vs torch (%d samples)" % (test, NSAMPLES),
                  backend(M, wd, style, dt, "D", T), ref["T"], TOL[dt], T)
        C.test(test, one)
    return C


def main():
    global NNC
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnc", default=os.environ.get("NNC", os.path.join(ROOT, "nnc")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/out"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--files", action="store_true", help="print the files the suite reads")
    ap.add_argument("ops", nargs="*", help="only these ops")
    args = ap.parse_args()
    if args.files:
        print("\n".join(FILES))
        return
    NNC = os.path.abspath(args.nnc)
    torch.set_num_threads(1)
    work = os.path.join(args.out, "ops")
    os.makedirs(work, exist_ok=True)
    try:
        ops = optable.read(ROOT)
    except ValueError as e:
        report("ops/table", "FAIL", str(e))
        return
    jit = subprocess.run([NNC, "--emit=llvm", os.path.join(ROOT, "examples/xor.nn")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    users = [op for op in ops if op.user_facing and (not args.ops or op.name in args.ops)]
    prepared = [prepare(op, work, args.out) for op in users]
    jobs = [(M, wd, style, dt) for M, C, wd in prepared
            for style in ("fast", "loops") for dt in ("f64", "f32")]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        errs = list(pool.map(lambda j: build(*j), jobs))
        built = [dict(((s, d), e) for (_, _, s, d), e in zip(jobs[i:i + 4], errs[i:i + 4]))
                 for i in range(0, len(jobs), 4)]
        done = pool.map(lambda a: check_op(*a), [(M, C, wd, b, jit)
                                                for (M, C, wd), b in zip(prepared, built)])
        for C in done:
            C.report()
    if not jit:
        report("ops/jit", "SKIP", "nnc was built without LLVM: no jit-* checks")
    # internal ops: each must appear in some model's adjoint program
    made = set()
    for M, _, _ in prepared:
        if M is not None:
            made |= all_ops(M.ir)
    for op in ops:
        if not op.internal or args.ops:
            continue
        makers = [o.rule for o in ops if op.code in o.makes]
        name = "ops/%s/exercised" % op.name
        if op.name in made:
            report(name, "PASS")
        else:
            report(name, "FAIL", "no generated model's adjoint program (nnc --emit=ir) holds %s; "
                   "it is made by %s in %s" % (op.name, ", ".join(makers) or "no rule",
                                               optable.RULES_C))


if __name__ == "__main__":
    main()
