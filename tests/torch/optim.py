#!/usr/bin/python3
"""optim.py - the trainer's optimizers, schedules and gradient clipping
against torch.optim, step by step (run by tests/torch/run.sh).

One model (examples/spirals.nn: two ReLU layers, cross-entropy, an L2
penalty), 16 random samples, mini-batches of 4 in order (4 updates per
epoch), 6 epochs, in float64 and float32.  For each configuration below the
trainer runs with `--optimizer`, `--schedule` and `--clip` flags, and the
same training runs in PyTorch: the model evaluated by compare.py's IR
interpreter (independent of nnc's C code and reverse mode), with
torch.optim's optimizer, torch.optim.lr_scheduler's scheduler stepped once
per epoch, and torch.nn.utils.clip_grad_norm_.  Compared, with compare.py's
tolerances (1e-9 in float64, 2e-4 in float32):
  - the lr column of metrics.csv with the scheduler's lr, epoch by epoch,
  - the loss column (objective over all samples after each epoch),
  - the final parameters (--save), in float64 (in float32 Adam-type
    updates m / sqrt(v) magnify rounding where a gradient is near zero).
"""
import argparse
import math
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the IR interpreter and the helpers)
from compare import TestFailure, Test, report, objective  # noqa: E402

EPOCHS, BATCH, N = 6, 4, 16
LS = torch.optim.lr_scheduler


def warm(W):   # nnc's warmup = W is torch's LinearLR with start_factor 1 / (W + 1)
    return lambda o: LS.LinearLR(o, start_factor=1.0 / (W + 1), end_factor=1.0, total_iters=W)


def chained(*makers):
    return lambda o: LS.ChainedScheduler([mk(o) for mk in makers])


# (name, --optimizer, --schedule, --clip, torch optimizer, torch scheduler or None)
CONFIGS = [
    ("sgd_momentum", "sgd(lr = 0.05, momentum = 0.9)", "constant", None,
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), None),
    ("sgd_nesterov_wd", "sgd(lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.01)",
     "constant", None,
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
     None),
    ("adam_wd", "adam(lr = 0.01, weight_decay = 0.01)", "constant", None,
     lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01), None),
    ("adamw", "adamw(lr = 0.01, beta1 = 0.8, weight_decay = 0.1)", "constant", None,
     lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.999), weight_decay=0.1), None),
    ("rmsprop", "rmsprop(lr = 0.01)", "constant", None,
     lambda ps: torch.optim.RMSprop(ps, lr=0.01), None),
    ("rmsprop_centered_momentum",
     "rmsprop(lr = 0.005, alpha = 0.9, momentum = 0.9, centered = true, weight_decay = 0.01)",
     "constant", None,
     lambda ps: torch.optim.RMSprop(ps, lr=0.005, alpha=0.9, momentum=0.9, centered=True,
                                    weight_decay=0.01), None),
    ("exp_decay", "sgd(lr = 0.1)", "exp_decay(k = 0.3)", None,
     lambda ps: torch.optim.SGD(ps, lr=0.1), lambda o: LS.ExponentialLR(o, gamma=math.exp(-0.3))),
    ("step", "sgd(lr = 0.1, momentum = 0.5)", "step(every = 2, gamma = 0.5)", None,
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5),
     lambda o: LS.StepLR(o, step_size=2, gamma=0.5)),
    ("cosine", "adam(lr = 0.01)", "cosine(min = 0.001)", None,
     lambda ps: torch.optim.Adam(ps, lr=0.01),
     lambda o: LS.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=0.001)),
    ("warmup_cosine", "sgd(lr = 0.1)", "cosine(warmup = 2)", None,
     lambda ps: torch.optim.SGD(ps, lr=0.1),
     chained(warm(2), lambda o: LS.CosineAnnealingLR(o, T_max=EPOCHS))),
    ("warmup_exp_decay", "adamw(lr = 0.01)", "exp_decay(k = 0.2, warmup = 3)", None,
     lambda ps: torch.optim.AdamW(ps, lr=0.01),
     chained(warm(3), lambda o: LS.ExponentialLR(o, gamma=math.exp(-0.2)))),
    ("warmup_constant", "sgd(lr = 0.1)", "constant(warmup = 3)", None,
     lambda ps: torch.optim.SGD(ps, lr=0.1), warm(3)),
    ("clip", "sgd(lr = 0.1, momentum = 0.9)", "constant", 0.05,
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), None),
]
ADAPTIVE = ("adam", "adamw", "rmsprop")


def torch_run(m, P, D, trainable, cfg):
    _, _, _, clip, make_opt, make_sched = cfg
    params = {k: v.clone() for k, v in P.items()}
    for k in trainable:
        params[k].requires_grad_(True)
    ps = [params[k] for k in trainable]
    o = make_opt(ps)
    sched = make_sched(o) if make_sched else None
    losses, lrs = [], []
    with torch.no_grad():
        losses.append(objective(m, params, D, N).item())
    lrs.append(o.param_groups[0]["lr"])
    for _ in range(EPOCHS):
        lrs_epoch = o.param_groups[0]["lr"]
        for start in range(0, N, BATCH):
            batch = {k: v[start:start + BATCH] for k, v in D.items()}
            o.zero_grad()
            f = objective(m, params, batch, BATCH)
            f.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(ps, clip)
            o.step()
        if sched:
            sched.step()
        with torch.no_grad():
            losses.append(objective(m, params, D, N).item())
        lrs.append(lrs_epoch)
    return losses, lrs, {k: v.detach() for k, v in params.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnc", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    nnc = os.path.abspath(args.nnc)
    torch.set_num_threads(1)
    nn = os.path.join(compare.ROOT, "examples/spirals.nn")
    work = os.path.join(args.out, "torch-optim")
    os.makedirs(work, exist_ok=True)
    ir = subprocess.run([nnc, "--emit=ir", nn], stdout=subprocess.PIPE, check=True,
                        universal_newlines=True).stdout
    m = compare.parse_ir(ir)
    trainable = [p[0] for p in m.params if not p[2]]
    for dt in ("f64", "f32"):
        exe = os.path.join(work, "spirals." + dt)
        b = subprocess.run([nnc, "build", nn, "-o", exe, "--dtype", dt], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        compare.NSAMPLES = N
        data = compare.make_data(m, dt, 7)
        dpath, ppath = os.path.join(work, "D.%s.npz" % dt), os.path.join(work, "P.%s.npz" % dt)
        if b.returncode == 0:
            np.savez(dpath, **data)
            subprocess.run([exe, "init", "--out", ppath, "--seed", "7"], check=True)
            P = compare.to_torch(dict(np.load(ppath)))
            D = compare.to_torch(data)
        tol = compare.TOL[dt]
        for cfg in CONFIGS:
            name, oflag, sflag, clip = cfg[:4]
            T = Test("torch/optim/%s/%s" % (dt, name), args.out)
            try:
                if b.returncode != 0:
                    raise TestFailure("nnc build failed:\n" + b.stdout)
                log = os.path.join(work, "run_%s_%s" % (dt, name))
                save = os.path.join(work, "final_%s_%s.npz" % (dt, name))
                cmd = [exe, "train", "--init", ppath, "--data", dpath, "--test", "none",
                       "--batch", str(BATCH), "--epochs", str(EPOCHS), "--shuffle", "false",
                       "--optimizer", oflag, "--schedule", sflag, "--metrics", "none",
                       "--log", log, "--save", save, "--quiet"]
                if clip:
                    cmd += ["--clip", repr(clip)]
                T.run(cmd)
                import csv
                rows = list(csv.DictReader(open(os.path.join(log, "metrics.csv"))))
                got_loss = [float(r["loss"]) for r in rows]
                got_lr = [float(r["lr"]) for r in rows]
                want_loss, want_lr, final = torch_run(m, P, D, trainable, cfg)
                T.note("lr   nnc:   %s\nlr   torch: %s" % (got_lr, want_lr))
                T.note("loss nnc:   %s\nloss torch: %s" % (got_loss, want_loss))
                if len(rows) != EPOCHS + 1:
                    raise TestFailure("metrics.csv has %d rows, expected %d"
                                      % (len(rows), EPOCHS + 1))
                # metrics.csv writes lr with 10 significant digits
                compare.compare("%s %s: lr per epoch" % (oflag, sflag), got_lr, want_lr, 1e-9)
                compare.compare("%s %s: loss per epoch" % (oflag, sflag), got_loss, want_loss,
                                tol)
                if dt == "f64" or not any(oflag.startswith(a) for a in ADAPTIVE):
                    S = dict(np.load(save))
                    for k in P:
                        compare.compare("%s %s: final %s" % (oflag, sflag, k), S[k],
                                        final[k].numpy(), tol)
                report(T.name, "PASS")
            except TestFailure as e:
                T.note("FAIL: %s" % e)
                report(T.name, "FAIL", str(e))
            except Exception as e:
                T.note("FAIL: %r" % e)
                report(T.name, "FAIL", "%s: %s" % (type(e).__name__, e))
            finally:
                T.log.close()


if __name__ == "__main__":
    main()
