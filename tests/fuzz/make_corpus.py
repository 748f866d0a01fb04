#!/usr/bin/python3
"""make_corpus.py - writes the fuzz targets' seed corpus, tests/fuzz/corpus/TARGET/.

Tiny files in each format the way numpy, gzip and the courses write them
(run once; the output is committed, each file well under 4 kB):

    /usr/bin/python3 tests/fuzz/make_corpus.py

Every seed must read without error: tests/unit/check_npz.c checks that.
"""
import gzip, io, os, pickle, struct, sys, zipfile
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
r = np.random.default_rng(7)


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


# .npy: every dtype, both byte orders, C and Fortran order, scalars, empty
for dt in ["<f2", ">f2", "<f4", ">f4", "<f8", ">f8", "i1", "u1", "<i2", ">i2", "<i4", ">u4",
           "<i8", ">u8", "?"]:
    put("npy", dt.replace("<", "le-").replace(">", "be-").replace("?", "bool"),
        npy((r.uniform(-3, 3, (2, 3)) * 10).astype(dt)))
put("npy", "fortran", npy(np.asfortranarray(r.normal(size=(3, 2, 2)))))
put("npy", "scalar", npy(np.float64(2.5)))
put("npy", "empty", npy(np.zeros((0, 4), np.float32)))
b = io.BytesIO()
np.lib.format.write_array(b, np.arange(4, dtype="<f4"), version=(2, 0))   # a 4-byte header length
put("npy", "version2", b.getvalue())

# .npz: stored and deflated, several members
for name, comp in [("stored", np.savez), ("deflated", np.savez_compressed)]:
    b = io.BytesIO()
    comp(b, x=r.normal(size=(4, 2)).astype(np.float32), y=np.arange(4), c=np.array([1, 0, 2], np.uint8))
    put("npz", name, b.getvalue())

# pickles: protocols 2 to 5, dicts, nested, lists, numpy scalars, CIFAR-like
obj = {"x": r.normal(size=(3, 2)).astype(np.float32), "y": np.arange(3, dtype=">i4"),
       "nested": {"W": np.asfortranarray(r.normal(size=(2, 2))), "b": [0.5, 1.5]},
       "labels": [0, 1, 2], "lr": 0.1, "n": np.int64(3), "name": "model"}
for p in (2, 3, 4, 5):
    put("pickle", "proto%d" % p, pickle.dumps(obj, protocol=p))
for p in (2, 5):   # numpy 2.x writes numpy._core.* for numpy.core.*
    b = pickle.dumps(obj, protocol=p)
    for mod in (b"multiarray", b"numeric"):
        old, new = b"numpy.core." + mod, b"numpy._core." + mod
        b = b.replace(old + b"\n", new + b"\n").replace(bytes([0x8c, len(old)]) + old,
                                                         bytes([0x8c, len(new)]) + new)
    put("pickle", "proto%d-numpy2" % p, b)
put("pickle", "list-of-lists", pickle.dumps([[1.0, 2.0], [3.0, 4.0]], protocol=2))
put("pickle", "tuple-array", pickle.dumps((np.zeros(2), np.ones((1, 2), np.float16)), protocol=4))
put("pickle", "cifar-python", pickle.dumps({b"batch_label": b"training batch 1 of 5", b"labels": [3, 1],
                                            b"data": r.integers(0, 256, (2, 8), dtype=np.uint8),
                                            b"filenames": [b"a.png", b"b.png"]}, protocol=2))
shared = [1.0, 2.0]
put("pickle", "memo-shared", pickle.dumps([shared, shared, shared], protocol=3))


def idx(a, code):
    return struct.pack(">BBBB", 0, 0, code, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape) + \
        a.astype(a.dtype.newbyteorder(">")).tobytes()


put("idx", "images-u8.gz", gzip.compress(idx(r.integers(0, 256, (3, 4, 4), dtype=np.uint8), 0x08), mtime=0))
put("idx", "labels-u8", idx(np.array([1, 0, 9, 3], np.uint8), 0x08))
put("idx", "i8", idx(np.array([-1, 2], np.int8), 0x09))
put("idx", "i16", idx(np.array([[-300, 2]], np.int16), 0x0B))
put("idx", "i32.gz", gzip.compress(idx(np.array([70000, -2], np.int32), 0x0C), mtime=0))
put("idx", "f32", idx(np.array([[0.5], [-1.5]], np.float32), 0x0D))
put("idx", "f64", idx(np.array([0.25, 3.0], np.float64), 0x0E))

put("csv", "header", b"x0,x1,y\n0.5,-1,2e-3\n1.5,2,-4\n")
put("csv", "no-header", b"1;2;3\n4;5;6\n")
put("csv", "tabs-quotes-comments", b"# a comment\n\"a\"\t\"b c\"\n1\t2\n\n3\t 4 \r\n")
put("csv", "text-column", b"name,value\nfoo,1\nbar,2\n")

for n in (1, 2):
    recs = np.hstack([r.integers(0, 10, (n, 1), dtype=np.uint8),
                      r.integers(0, 256, (n, 3072), dtype=np.uint8)])
    put("cifar", "records%d" % n, recs.tobytes())

for name, text in [("data-file", "data\ntrain.npz"),
                   ("data-files", 'data\nfiles(x = "a.idx.gz" / 255, c = pick("b.pkl", "labels"))'),
                   ("data-list", 'data\nfiles(x = [pick("d1.bin", "data"), pick("d2.bin", "data")] / 255 - 0.5)'),
                   ("data-gen", "data\nspirals(n = 300, classes = 3, noise = 0.1, seed = 2)"),
                   ("data-stack-transpose", 'data\nfiles(x = stack(pick("p.pkl", "*/0")) / 255, c = "c.npy"\')'),
                   ("optimizer", "optimizer\nadam(lr = 1e-3, beta1 = 0.9)"),
                   ("schedule", "schedule\nstep(every = 10, gamma = 0.5)"),
                   ("epochs", "epochs\n20"), ("batch", "batch\nfull")]:
    put("settings", name, text.encode())

# models: the examples (they must compile)
here = os.path.dirname(os.path.abspath(__file__))
for src in ["examples/tiny_mlp.nn", "examples/xor.nn", "examples/spirals.nn", "examples/fashion_mlp.nn"]:
    with open(os.path.join(here, "..", "..", src), "rb") as f:
        put("nn", os.path.basename(src), f.read())

# Python 2's pickles (tests/e2e/py2pickle.py writes the bytes as Python 2 did):
# a CIFAR-10 python batch in protocols 0, 1 and 2, Nielsen's mnist.pkl layout
# (a tuple of (x, y) tuples), a list of (x, y) pairs of column vectors
sys.path.insert(0, os.path.join(here, "..", "e2e"))
import py2pickle
cifar = {b"batch_label": b"training batch 1 of 5", b"labels": [3, 0, 9],
         b"data": r.integers(0, 256, (3, 8), dtype=np.uint8), b"filenames": [b"a.png"] * 3}
for p in (0, 1, 2):
    put("pickle", "py2-cifar-proto%d" % p, py2pickle.dumps(cifar, p))
mn = (r.random((4, 6)).astype(np.float32), np.array([1, 0, 7, 2], np.int64))
put("pickle", "py2-mnist-tuples", py2pickle.dumps((mn, mn, mn), 2))
put("pickle", "py2-pairs", py2pickle.dumps([(r.random((3, 1)), i) for i in range(3)], 2))

# binding (the bind target): files whose arrays fit the harness's models or
# not, and a shape [0, 2^40, 2^40] that once overflowed the binding's products
b = io.BytesIO()
np.savez(b, x=r.normal(size=(5, 2)).astype(np.float32), y=r.normal(size=(5, 1)), c=np.arange(5) % 3,
         W=np.eye(2), b=np.zeros(2))
put("bind", "npz-xy", b.getvalue())
put("bind", "pickle-xy", pickle.dumps({"x": r.normal(size=(4, 2)), "y": np.arange(4.0), "c": [0, 1, 2, 1]},
                                      protocol=2))
put("bind", "csv-xy", b"x0,x1,y\n0.5,-1,2\n1.5,2,-4\n")
