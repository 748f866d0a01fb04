"""Fashion-MNIST from Debian's dataset-fashion-mnist (IDX, gzipped), as float32 tensors."""
import gzip, os
import numpy as np
import torch

DIR = "/usr/share/datasets/fashion-mnist"


def _idx(name):
    with gzip.open(os.path.join(DIR, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    """(x [N, 784] in [0, 1], labels [N] int64) of 'train' or 't10k'."""
    x = _idx(split + "-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    c = _idx(split + "-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(c)
