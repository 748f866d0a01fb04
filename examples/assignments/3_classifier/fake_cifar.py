# fake_cifar.py - CIFAR-10 cannot be downloaded here: write random batches in
# its exact python format (cifar-10-batches-py/data_batch_1..5, test_batch:
# dicts with b"data" [N, 3072] uint8 and b"labels" a list, pickled by Python
# 2's cPickle with protocol 2, as the official files are), only to show that
# cifar10.nn's loader and training run.  Numbers trained on these files mean
# nothing.   fake_cifar.py DIR [N]
#
# Python 2 wrote a `str` (the dict keys, the pixel bytes, numpy's dtype spec
# 'u1') as BINSTRING, where python3 writes bytes as a call of
# _codecs.encode: Py2Pickler writes them as Python 2 did (nnc's tests use the
# same, tests/e2e/py2pickle.py).
import io, os, pickle, struct, sys
import numpy as np


class Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def reducer_override(self, obj):   # dtype('u1', 0, 1), its byte order a str
        if isinstance(obj, np.dtype):
            cls, args, state = obj.__reduce__()
            state = tuple(s.encode("ascii") if isinstance(s, str) else s for s in state)
            return cls, (args[0].encode("ascii"), 0, 1), state
        return NotImplemented


out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(10)
for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [b"img%d.png" % i for i in range(n)]}
    with open(os.path.join(out, name), "wb") as f:
        Py2Pickler(f, 2).dump(batch)
