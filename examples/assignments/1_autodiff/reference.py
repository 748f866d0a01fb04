# reference.py - the first assignment done independently in numpy (the way
# the course asks students to do it), to check nnc's numbers:
#   reference.py PICKLE regression|classification GRAD_FIRST.npz METRICS.csv
# Prints the largest differences and exits 1 if any exceeds 1e-9 (relative).
import csv, pickle, sys
import numpy as np

pkl, task, grad_file, metrics = sys.argv[1:5]
d = pickle.load(open(pkl, "rb"))
p = {k: d[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
X = d["inputs"]
Y = d["targets"] if task == "regression" else d["labels"]

def loss_and_grads(p, X, Y):
    """Average loss over the rows of X and its gradient, by hand-written backprop."""
    z1 = X @ p["W1"].T + p["b1"]; h1 = np.maximum(z1, 0)
    z2 = h1 @ p["W2"].T + p["b2"]; h2 = np.maximum(z2, 0)
    out = h2 @ p["W3"].T + p["b3"]
    if task == "regression":
        L = 0.5 * (out - Y) ** 2
        d_out = out - Y
    else:  # binary cross-entropy of sigmoid(out), written stably
        L = np.maximum(out, 0) - out * Y + np.log1p(np.exp(-np.abs(out)))
        d_out = 1 / (1 + np.exp(-out)) - Y
    n = len(X)
    d_out /= n
    g = {"W3": d_out.T @ h2, "b3": d_out.sum(0)}
    d_z2 = (d_out @ p["W3"]) * (z2 > 0)
    g["W2"], g["b2"] = d_z2.T @ h1, d_z2.sum(0)
    d_z1 = (d_z2 @ p["W2"]) * (z1 > 0)
    g["W1"], g["b1"] = d_z1.T @ X, d_z1.sum(0)
    return L.mean(), g

def rel(a, b):
    return np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300))

worst = 0.0
_, g = loss_and_grads(p, X[:1], Y[:1])
nnc = np.load(grad_file)
for k in ("W1", "b1"):
    e = rel(g[k], nnc[k]); worst = max(worst, e)
    print(f"first pair, dL/d{k}: max relative difference numpy vs nnc {e:.1e}")

curve = []
for epoch in range(6):
    L, g = loss_and_grads(p, X, Y)
    curve.append(L)
    for k in p:
        p[k] -= 0.01 * g[k]
rows = list(csv.DictReader(open(metrics)))
ours = np.array([float(r["loss"]) for r in rows])
e = rel(np.array(curve), ours); worst = max(worst, e)
print("training curve (numpy):", " ".join(f"{v:.9f}" for v in curve))
print(f"training curve: max relative difference numpy vs nnc {e:.1e}")
sys.exit(0 if worst < 1e-9 else 1)
