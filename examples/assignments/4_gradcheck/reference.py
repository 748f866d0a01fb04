# reference.py - the fourth assignment done independently in numpy: forward
# pass, the mean squared loss, backprop by hand, and central differences,
# compared with nnc's gradients.
#   reference.py make BATCH.npz             write a batch: x [32, 4], y [32, 3]
#   reference.py compare PARAMS.npz BATCH.npz GRAD.npz
import sys
import numpy as np

if sys.argv[1] == "make":
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 4))
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2], np.tanh(x[:, 3])], axis=1)
    np.savez(sys.argv[2], x=x, y=y)
    sys.exit(0)

p = dict(np.load(sys.argv[2]))
d = np.load(sys.argv[3])
X, Y = d["x"], d["y"]
nnc = np.load(sys.argv[4])
sig = lambda z: 1 / (1 + np.exp(-z))

def loss(p):
    h1 = sig(X @ p["W1"].T + p["b1"])
    h2 = sig(h1 @ p["W2"].T + p["b2"])
    f = h2 @ p["W3"].T + p["b3"]
    return np.mean(0.5 * np.sum((f - Y) ** 2, axis=1))

def backprop(p):
    h1 = sig(X @ p["W1"].T + p["b1"])
    h2 = sig(h1 @ p["W2"].T + p["b2"])
    f = h2 @ p["W3"].T + p["b3"]
    d3 = (f - Y) / len(X)
    d2 = (d3 @ p["W3"]) * h2 * (1 - h2)
    d1 = (d2 @ p["W2"]) * h1 * (1 - h1)
    return {"W3": d3.T @ h2, "b3": d3.sum(0), "W2": d2.T @ h1, "b2": d2.sum(0),
            "W1": d1.T @ X, "b1": d1.sum(0)}

h = 1e-5
num = {}
for k, v in p.items():
    g = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        old = v[i]
        v[i] = old + h; up = loss(p)
        v[i] = old - h; down = loss(p)
        v[i] = old
        g[i] = (up - down) / (2 * h)
    num[k] = g
ana = backprop(p)
print(f"numpy: loss {loss(p):.12f}; central differences with h = {h:g}")
print(f"{'param':6} {'|nnc - numpy backprop|':>23} {'|nnc - numpy numerical|':>24}"
      f" {'rel err, |g| > 1e-4':>20} {'abs err, |g| <= 1e-4':>21}")
worst = 0.0
for k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    a = np.max(np.abs(nnc[k] - ana[k])); b = np.max(np.abs(nnc[k] - num[k]))
    big = np.abs(nnc[k]) > 1e-4
    rel = np.abs(nnc[k] - num[k]) / (np.abs(nnc[k]) + np.abs(num[k]))
    r = f"{rel[big].max():.2e} ({big.sum()})" if big.any() else "-"
    t = f"{np.abs(nnc[k] - num[k])[~big].max():.2e} ({(~big).sum()})" if (~big).any() else "-"
    worst = max(worst, a)
    print(f"{k:6} {a:23.2e} {b:24.2e} {r:>20} {t:>21}")
print("(in brackets: how many entries)")
sys.exit(0 if worst < 1e-12 else 1)
