"""reference.py - every user-facing op of src/ir/ops.def in PyTorch: the reference table.

REFERENCE maps an op's IR name (ops.def's second column) to Ref(function,
domain of each operand).  The function is PyTorch's own op, applied the way
the op's kind says (the kind comes from ops.def, tests/ops/optable.py):

  K_MAP     f(a, b, ...) on operands that broadcast like numpy (a batched
            operand has a leading batch axis)
  K_MATMUL  f(A, B) on the operands as used: transposed where the IR says
            [ta]/[tb], a vector made a row or a column
  K_TRANS   f(A), A of one sample or [B, ...]
  K_REDUCE  f(t) over the last axis of t: each sample's elements, flattened
  K_ROW     f(z, ...) along the last axis; a class label operand is a vector
            of integers, one per sample
  K_GATHER  f(E, i): rows i of E (per sample: E's batch axis is matched)
  K_VIEW    f(x, idx) for a view, f(x, idx, n) for a placement into n
            elements: x flattened per sample, idx the places (a long tensor)
  K_BATCH   f(x, ...) on the whole batch [B, C, ...] (batch norm, in eval
            mode: the suite's `grad` and `eval` run in eval mode; its train
            mode is tests/e2e/batchnorm.sh's, against torch.nn.BatchNorm)
  K_CONV    f(x, ..., stride=, pad=, window=) on x [B, C, H, W] (or [B, C, L]),
            the window's settings from the IR's [stride=S,pad=P] or
            [window=K,stride=S]; a convolution's bias None where the IR has
            the constant 0

A domain says which numbers an operand takes in the op-conformance suite
(tests/ops/suite.py): log and sqrt want positive numbers, relu and abs are
tested away from their kink, cross_entropy's second operand is a class label,
leaky_relu's slope and clip's bounds numbers written in the model.

Who reads it: compare.py (to evaluate a model's IR in PyTorch) and
tests/ops/suite.py, which fails for an op of ops.def with an adjoint rule
and no entry here.  Adding an op: one line here (docs/ir.md, "Adding an op").
"""
import torch
import torch.nn.functional as F


class Domain:
    """Numbers sign * U(lo, hi) (sign random when signed), or class labels;
    `const` is the number the suite writes for a constant operand, and with
    only_const the operand is always that number (a slope, a bound); `values`:
    drawn from these only (products of two of them stay among them)."""

    def __init__(self, name, lo=0.0, hi=0.0, signed=False, const=None, only_const=False,
                 values=None):
        self.name, self.lo, self.hi, self.signed, self.const = name, lo, hi, signed, const
        self.only_const, self.values = only_const, values

    def __repr__(self):
        return self.name


ANY = Domain("any", 0.1, 1.5, signed=True, const=-0.7)
POSITIVE = Domain("positive", 0.3, 2.0, const=1.3)
NONZERO = Domain("nonzero", 0.3, 1.5, signed=True, const=-0.6)   # away from a kink or a pole
UNIT = Domain("unit", 0.1, 0.9, const=0.3)                        # a probability
LABEL = Domain("label")                                           # a class label
COND = Domain("cond", const=1.0, values=(0.0, 1.0))               # where's condition
INDEX = Domain("index")                                           # an index input (E[tok])


def number(x):
    """An operand the language takes as a number only, e.g. a slope of 0.01."""
    return Domain("number %r" % x, const=x, only_const=True)


class Ref:
    def __init__(self, fn, *domains):
        self.fn, self.domains = fn, domains


def _bce(z, t):
    z, t = torch.broadcast_tensors(z, t)
    return F.binary_cross_entropy_with_logits(z, t, reduction="none")


def _conv(f):
    def conv(x, K, b, stride, pad, window):
        return f(x, K, b if b.dim() else None, stride=stride, padding=pad)
    return conv


def _pool(f):
    def pool(x, stride, pad, window):
        return f(x, window, stride)
    return pool


REFERENCE = {
    # elementwise arithmetic
    "add": Ref(torch.add, ANY, ANY),
    "sub": Ref(torch.sub, ANY, ANY),
    "mul": Ref(torch.mul, ANY, ANY),
    "div": Ref(torch.div, ANY, NONZERO),
    "pow": Ref(torch.pow, POSITIVE, ANY),
    "square": Ref(torch.square, ANY),
    "neg": Ref(torch.neg, ANY),
    "copy": Ref(lambda a: a, ANY),
    # comparisons: 0 or 1, no gradient
    "gt": Ref(lambda a, b: (a > b).to(a.dtype), ANY, ANY),
    "ge": Ref(lambda a, b: (a >= b).to(a.dtype), ANY, ANY),
    "lt": Ref(lambda a, b: (a < b).to(a.dtype), ANY, ANY),
    "le": Ref(lambda a, b: (a <= b).to(a.dtype), ANY, ANY),
    "eq": Ref(lambda a, b: (a == b).to(a.dtype), ANY, ANY),
    # elementwise functions
    "relu": Ref(torch.relu, NONZERO),
    "leaky_relu": Ref(lambda z, s: F.leaky_relu(z, s.item()), ANY, number(0.2)),
    "sigmoid": Ref(torch.sigmoid, ANY),
    "tanh": Ref(torch.tanh, ANY),
    "exp": Ref(torch.exp, ANY),
    "log": Ref(torch.log, POSITIVE),
    "sqrt": Ref(torch.sqrt, POSITIVE),
    "abs": Ref(torch.abs, NONZERO),
    "bce": Ref(_bce, ANY, UNIT),
    "clip": Ref(lambda x, lo, hi: torch.clamp(x, lo.item(), hi.item()), ANY, number(-0.5), number(0.6)),
    "where": Ref(lambda c, x, y: torch.where(c != 0, x, y), COND, ANY, ANY),
    "stop_gradient": Ref(lambda x: x.detach(), ANY),
    "softplus": Ref(F.softplus, ANY),
    "gelu": Ref(F.gelu, ANY),
    "elu": Ref(F.elu, NONZERO),
    "max": Ref(torch.maximum, ANY, ANY),
    "min": Ref(torch.minimum, ANY, ANY),
    # linear algebra
    "matmul": Ref(torch.matmul, ANY, ANY),
    "transpose": Ref(lambda a: a.transpose(-1, -2), ANY),
    # reductions
    "sum": Ref(lambda t: t.sum(-1), ANY),
    "mean": Ref(lambda t: t.mean(-1), ANY),
    "sumsq": Ref(lambda t: torch.square(t).sum(-1), ANY),
    # along the last axis
    "softmax": Ref(lambda z: torch.softmax(z, dim=-1), ANY),
    "log_softmax": Ref(lambda z: torch.log_softmax(z, dim=-1), ANY),
    "cross_entropy": Ref(lambda z, c: F.cross_entropy(z, c, reduction="none"), ANY, LABEL),
    # views and placements (indexing, slices, reshape; concat)
    "view": Ref(lambda x, idx: x[..., idx], ANY),
    "place": Ref(lambda x, idx, n: torch.zeros(x.shape[:-1] + (n,), dtype=x.dtype)
                 .index_copy(-1, idx, x), ANY),
    # batch norm: bn_stats (internal, made with it) hands on the running
    # statistics, batchnorm normalises by them (eval mode)
    "bn_stats": Ref(lambda x, m, v: torch.stack([m, v]), ANY, ANY, ANY),
    "batchnorm": Ref(lambda x, s, g, b: F.batch_norm(x, s[0], s[1], g, b, training=False, eps=1e-5),
                     ANY, number(0), number(0), number(0)),
    # sliding windows
    "conv2d": Ref(_conv(F.conv2d), ANY, ANY, ANY),
    "conv1d": Ref(_conv(F.conv1d), ANY, ANY, ANY),
    "maxpool2d": Ref(_pool(F.max_pool2d), ANY),
    "maxpool1d": Ref(_pool(F.max_pool1d), ANY),
    "avgpool2d": Ref(_pool(F.avg_pool2d), ANY),
    "avgpool1d": Ref(_pool(F.avg_pool1d), ANY),
    # rows of a table picked by an index input
    "gather": Ref(lambda E, i: E[i], ANY, INDEX),
}
