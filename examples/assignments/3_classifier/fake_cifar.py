# fake_cifar.py - CIFAR-10 cannot be downloaded here: write random batches in
# its exact python format (cifar-10-batches-py/data_batch_1..5, test_batch:
# pickles with b"data" [N, 3072] uint8 and b"labels" a list), only to show
# that cifar10.nn's loader and training run.  Numbers trained on these files
# mean nothing.   fake_cifar.py DIR [N]
import os, pickle, sys
import numpy as np

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(10)
for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [b"img%d.png" % i for i in range(n)]}
    with open(os.path.join(out, name), "wb") as f:
        pickle.dump(batch, f, protocol=2)
