# make_pickle.py - write a stand-in for the course's assignment-one-test-parameters.pkl:
# one pickled dict of numpy arrays, the weights and biases of the 2-10-10-1 network
# (named like the model's parameters), the inputs and two kinds of targets
# (real values for regression, 0/1 labels for binary classification).
#   /usr/bin/python3 make_pickle.py OUT.pkl [N]
import pickle, sys
import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
rng = np.random.default_rng(2024)
x = rng.uniform(-1, 1, size=(n, 2))
p = {
    "W1": rng.normal(0, 0.7, size=(10, 2)),  "b1": rng.normal(0, 0.1, size=10),
    "W2": rng.normal(0, 0.3, size=(10, 10)), "b2": rng.normal(0, 0.1, size=10),
    "W3": rng.normal(0, 0.3, size=(1, 10)),  "b3": rng.normal(0, 0.1, size=1),
    "inputs": x,
    "targets": (np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 1]))[:, None],
    "labels": (x[:, 0] * x[:, 1] > 0).astype(np.float64)[:, None],
}
with open(out, "wb") as f:
    pickle.dump(p, f, protocol=4)
