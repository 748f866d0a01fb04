#!/bin/bash
# Comparisons with PyTorch (and optim.py: every optimizer, schedule and
# clipping, step by step against torch.optim): every example, every tests/grad model and
# tests/torch/models/*.nn, in float64 and float32: `grad` (mean and sum),
# `eval`, a 5-step full-batch SGD curve and final parameters, an Adam curve
# (spirals) and an SGD nesterov/weight-decay curve (xent), against a PyTorch
# evaluation of the model's IR (`nnc --emit=ir`) with torch.autograd and
# torch.optim.  Tolerance: max-norm relative error 1e-9 (f64), 2e-4 (f32).
# One python process does everything (compare.py); it prints the test lines.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "SKIP  torch: /usr/bin/python3 has no torch (apt-get install python3-torch)"
    exit 0
fi
"$PY" tests/torch/compare.py --nnc "$NNC" --out "$T_OUT" "$@" 2>&1
rc=$?
# compare.py prints a FAIL line for every test it could not pass; a crash
# (a Python exception) would otherwise lose tests silently
[ $rc -eq 0 ] || echo "FAIL  torch/compare.py: exited with status $rc (see the traceback above)"
# optimizers, schedules and clipping, step by step (optim.py)
"$PY" tests/torch/optim.py --nnc "$NNC" --out "$T_OUT" 2>&1
rc=$?
[ $rc -eq 0 ] || echo "FAIL  torch/optim.py: exited with status $rc (see the traceback above)"
exit 0
