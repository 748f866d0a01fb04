# make_images.py - stand-ins for the course's "gift pack" data: pickles of
# images, made from Debian's Fashion-MNIST (dataset-fashion-mnist):
#   images_train.pickle  the first 20000 training images, uint8 [20000, 28, 28]
#   images_test.pickle   one batch of 20 test images, uint8 [20, 28, 28]
#   make_images.py [N_TRAIN]
import gzip, pickle, sys
import numpy as np

src = "/usr/share/datasets/fashion-mnist/"
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
def images(name):
    return np.frombuffer(gzip.open(src + name).read(), np.uint8)[16:].reshape(-1, 28, 28)
with open("images_train.pickle", "wb") as f:
    pickle.dump(images("train-images-idx3-ubyte.gz")[:n].copy(), f, protocol=4)
with open("images_test.pickle", "wb") as f:
    pickle.dump(images("t10k-images-idx3-ubyte.gz")[:20].copy(), f, protocol=4)
