"""Fashion-MNIST from Debian's dataset-fashion-mnist (IDX, gzipped), as float32 tensors."""
import gzip, os, time
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


def train(net, opt, loss_fn, x, c, xt, ct, epochs, batch=64):
    """EPOCHS epochs of shuffled mini-batches; one line per epoch, "epoch E
    seconds S test_accuracy A", S the training time of that epoch alone."""
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), c[idx])
            loss.backward()
            opt.step()
        secs = time.perf_counter() - t0
        with torch.no_grad():
            acc = float((net(xt).argmax(1) == ct).float().mean())
        print("epoch %d seconds %.4f test_accuracy %.4f" % (epoch, secs, acc), flush=True)
