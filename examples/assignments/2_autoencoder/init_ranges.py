# init_ranges.py - the ranges of the initial parameters against what the
# assignment asks: Xavier uniform within +-sqrt(6 / (fan_in + fan_out)),
# the identity for W_rec, zeros for the biases.   init_ranges.py INIT.npz
import sys
import numpy as np

p = np.load(sys.argv[1])
for k in p.files:
    v = p[k]
    lim = np.sqrt(6 / (v.shape[0] + v.shape[1])) if v.ndim == 2 else 0
    print(f"{k:7} {str(list(v.shape)):11} min {v.min():+.4f} max {v.max():+.4f}"
          + (f"   Xavier bound +-{lim:.4f}" if k != "W_rec" and v.ndim == 2 else "")
          + ("   identity" if k == "W_rec" and np.array_equal(v, np.eye(v.shape[0])) else ""))
