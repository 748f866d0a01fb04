# make_sequences.py - data for autoencnet.nn: the first N training images of
# Debian's Fashion-MNIST (dataset-fashion-mnist) in sequences of T
# consecutive images, scaled to [0, 1]:
#   sequences_train.npz  x [N / T, T, 784] float32
#   make_sequences.py [N] [T]
import gzip, sys
import numpy as np

src = "/usr/share/datasets/fashion-mnist/"
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
T = int(sys.argv[2]) if len(sys.argv) > 2 else 4
raw = np.frombuffer(gzip.open(src + "train-images-idx3-ubyte.gz").read(), np.uint8)[16:]
x = raw.reshape(-1, 784)[:n // T * T].astype(np.float32) / 255
np.savez("sequences_train.npz", x=x.reshape(-1, T, 784))
print("%d sequences of %d images" % (len(x) // T, T))
