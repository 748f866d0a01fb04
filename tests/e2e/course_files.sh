#!/bin/bash
# End-to-end: the files courses hand out as they really are, and files that
# try to break the readers.
#
# - Python 2's pickles (tests/e2e/py2pickle.py writes the bytes Python 2's
#   pickle writes): CIFAR-10's python batches in protocols 0, 1 and 2,
#   Nielsen's mnist.pkl.gz (a gzipped tuple of (x, y) tuples), also through
#   the tutorial's own cifar10.nn;
# - layouts that need files(...)'s transpose and stack: samples in columns
#   [784, N], a list of per-sample arrays, a list of (x, y) pairs;
# - parameters under a key path of a nested pickle (--init/--params);
# - repeated names, scaling that overflows, labels that are almost integers,
#   gzip and zip bombs (under a memory limit), names that would drive the
#   terminal, a CIFAR batch whose first bytes read as IDX.
# Every loss is compared with the one from a plain .npz of the same values.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/course_files"
mkdir -p "$D"

t_begin "course-files/build"
cat >"$D/mnist_linear.nn" <<'EOF'
# A linear softmax classifier of MNIST-shaped data (tests/e2e/course_files.sh).
input  x[784]
target c : class(10)
param W[10, 784] = normal(0, 0.01)
param b[10] = zeros
loss = cross_entropy(W @ x + b, c)
EOF
if ! t_build tests/e2e/models/cifar_linear.nn "$D/cifar" || ! t_build "$D/mnist_linear.nn" "$D/mnist" ||
   ! t_build examples/assignments/3_classifier/cifar10.nn "$D/cifar10"; then
    t_fail "nnc build failed"; exit 0
fi
t_pass

(cd "$D" && PYTHONPATH="$ROOT/tests/e2e" /usr/bin/python3 - <<'PY') >"$D/fixtures.log" 2>&1
import gzip, io, os, pickle, struct, zipfile, zlib
import numpy as np
import py2pickle
r = np.random.default_rng(3)
# CIFAR-10 python batches as cPickle wrote them (bytes keys, labels a list)
lab = r.integers(0, 10, 20); px = r.integers(0, 256, (20, 3072), dtype=np.uint8)
batch = {b"batch_label": b"training batch 1 of 5", b"labels": [int(v) for v in lab],
         b"data": px, b"filenames": [b"img%d.png" % i for i in range(20)]}
for p in (0, 1, 2):
    open("cifar_py2_p%d" % p, "wb").write(py2pickle.dumps(batch, p))
np.savez("ref_cifar.npz", x=px / 255.0, c=lab)
# the tutorial's cifar10.nn reads cifar-10-batches-py/data_batch_1..5 and test_batch
os.makedirs("cifar-10-batches-py", exist_ok=True)
for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
    open("cifar-10-batches-py/" + name, "wb").write(py2pickle.dumps(batch, 2))
np.savez("ref_cifar5.npz", x=np.vstack([px] * 5) / 255.0, c=np.hstack([lab] * 5))
# Nielsen's mnist.pkl.gz: ((x, y), (x, y), (x, y)), x float32 [N, 784], y int64 [N]
sets = [(r.random((n, 784)).astype(np.float32), r.integers(0, 10, n)) for n in (30, 10, 10)]
with gzip.open("mnist.pkl.gz", "wb") as f:
    f.write(py2pickle.dumps(tuple(sets), 2))
np.savez("ref_mnist.npz", x=sets[0][0], c=sets[0][1])
x, c = sets[0]
np.save("columns.npy", np.ascontiguousarray(x.T))                 # samples in columns [784, N]
pickle.dump([v for v in x], open("list.pkl", "wb"))               # a list of per-sample arrays
# Nielsen's loader's own form: a list of (x [784, 1], y) pairs
open("pairs.pkl", "wb").write(py2pickle.dumps([(v.reshape(784, 1), int(k)) for v, k in zip(x, c)], 2))
np.save("labels.npy", c)
# parameters under a key path of a nested pickle
W = r.normal(0, 0.1, (10, 784)); b = r.normal(0, 0.1, 10)
pickle.dump({"params": {"W": W, "b": b}, "epoch": 3}, open("nested_params.pkl", "wb"))
np.savez("params.npz", W=W, b=b)
# a key set twice: numpy keeps the last member, Python the last value
with zipfile.ZipFile("dup.npz", "w") as z:
    for v in (x, x + 1):
        buf = io.BytesIO(); np.save(buf, v); z.writestr("x.npy", buf.getvalue())
    buf = io.BytesIO(); np.save(buf, c); z.writestr("c.npy", buf.getvalue())
pk = pickle.dumps({"x": x, "c": c}, protocol=2)
open("dup.pkl", "wb").write(pk.replace(b"X\x01\x00\x00\x00c", b"X\x01\x00\x00\x00x"))
# labels of float64 a hair off an integer (float32 would round 3.0000001 to 3)
cf = c.astype(np.float64); cf[5] = 3.0000001
np.savez("almost.npz", x=x, c=cf)
# a complex array where the model wants real numbers, bound by name
pickle.dump({"images": x.astype(np.complex64), "labels": c}, open("complex.pkl", "wb"))
# a gzip of 512 MiB that states 10 bytes of IDX data, and one of zeros only
hdr = struct.pack(">BBBBI", 0, 0, 8, 1, 10)
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open("bomb-idx1-ubyte.gz", "wb") as f:
    f.write(z.compress(hdr + bytes(10)))
    block = bytes(1 << 24)
    for _ in range(32):
        f.write(z.compress(block))
    f.write(z.flush())
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open("zeros.gz", "wb") as f:
    for _ in range(32):
        f.write(z.compress(block))
    f.write(z.flush())
# an .npz whose member c.npy holds the labels and then 512 MiB of zeros
buf = io.BytesIO(); np.save(buf, c)
with zipfile.ZipFile("bomb.npz", "w", zipfile.ZIP_DEFLATED) as zf:
    with zf.open("c.npy", "w", force_zip64=True) as m:
        m.write(buf.getvalue())
        for _ in range(32):
            m.write(block)
# member names that would retitle the terminal and clear the screen
with zipfile.ZipFile("escape.npz", "w") as zf:
    buf = io.BytesIO(); np.save(buf, c); zf.writestr("\x1b]0;PWNED\x07\x1b[2J.npy", buf.getvalue())
# a CIFAR-10 binary batch whose first bytes read as an IDX header that fits
recs = np.hstack([lab[:2, None].astype(np.uint8), px[:2]])
recs[0, 0] = 0; recs[0, 1:8] = np.frombuffer(b"\x00\x08\x01\x00\x00\x17\xfa", np.uint8)
open("data_batch_1.bin", "wb").write(recs.tobytes())
np.savez("ref_idxlike.npz", x=recs[:, 1:] / 255.0, c=recs[:, 0])
PY

loss() { "$@" 2>&1 | awk '/^loss:/ { print $2 }'; }
same() {   # same NAME EXPECTED CMD...: the eval loss equals the reference (to 1e-6:
           # the reference holds x / 255 in float64, the trainer scales in float32)
    local name=$1 want=$2; shift 2
    t_begin "course-files/$name"
    local got; got=$(cd "$D" && loss "$@")
    echo "loss $got, expected $want" >>"$t_log"
    if [ -n "$got" ] && awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d
            exit !(d <= 1e-6 * (b < 0 ? -b : b)) }'; then t_pass
    else t_fail "loss '$got', expected '$want' (from the .npz)"; fi
}
refuse() {   # refuse NAME PATTERN CMD...: exit 1 and a message holding PATTERN (fixed text)
    local name=$1 pat=$2; shift 2
    t_begin "course-files/$name"
    (cd "$D" && "$@") >>"$t_log" 2>&1
    local rc=$?
    if [ $rc = 1 ] && grep -qF -- "$pat" "$t_log"; then t_pass
    else t_fail "expected exit 1 and '$pat', got exit $rc"; fi
}

refc=$(cd "$D" && loss ./cifar eval --data ref_cifar.npz)
for p in 0 1 2; do
    same "python2-cifar-batch-protocol-$p" "$refc" ./cifar eval --data \
        "files(x = pick(\"cifar_py2_p$p\", \"data\") / 255, c = pick(\"cifar_py2_p$p\", \"labels\"))"
done
ref5=$(cd "$D" && loss ./cifar10 eval --data ref_cifar5.npz)
same "tutorial-cifar10-reads-python2-batches" "$ref5" ./cifar10 eval
refm=$(cd "$D" && loss ./mnist eval --data ref_mnist.npz)
same "nielsen-mnist-pkl-gz" "$refm" ./mnist eval --data \
    'files(x = pick("mnist.pkl.gz", "0/0"), c = pick("mnist.pkl.gz", "0/1"))'
same "samples-in-columns-transposed" "$refm" ./mnist eval --data "files(x = \"columns.npy\"', c = \"labels.npy\")"
same "list-of-per-sample-arrays-stacked" "$refm" ./mnist eval --data 'files(x = stack("list.pkl"), c = "labels.npy")'
same "list-of-pairs-stacked" "$refm" ./mnist eval --data \
    'files(x = stack(pick("pairs.pkl", "*/0")), c = stack(pick("pairs.pkl", "*/1")))'
refp=$(cd "$D" && loss ./mnist eval --params params.npz --data ref_mnist.npz)
same "params-under-a-key-path" "$refp" ./mnist eval --params 'pick("nested_params.pkl", "params")' --data ref_mnist.npz
t_begin "course-files/init-under-a-key-path"
if (cd "$D" && t_run ./mnist train --init 'pick("nested_params.pkl", "params")' --data ref_mnist.npz \
        --epochs 1 --quiet --save from_pick.npz &&
    t_run ./mnist train --init params.npz --data ref_mnist.npz --epochs 1 --quiet --save from_npz.npz) &&
   cmp -s "$D/from_pick.npz" "$D/from_npz.npz"; then t_pass
else t_fail "--init 'pick(\"nested_params.pkl\", \"params\")' trains differently from --init params.npz"; fi

refuse "columns-suggest-a-transpose" "has shape [784, 30], the model's input x is [784] (samples in columns? transpose it" \
    ./mnist eval --data 'files(x = "columns.npy", c = "labels.npy")'
refuse "non-numeric-arrays-are-named" "arrays present: images (not a numeric array: dtype 'c8' is not numeric" \
    ./mnist eval --data complex.pkl
refuse "npz-repeated-member" "dup.npz: the archive holds two members named 'x'" ./mnist eval --data dup.npz
refuse "pickle-repeated-key" "dup.pkl: pickle sets the key 'x' twice in one dict" ./mnist eval --data dup.pkl
refuse "label-almost-an-integer" "almost.npz: array 'c' holds 3.0000001 at sample 5" ./mnist eval --data almost.npz
refuse "scaled-to-infinity-says-so" "which scaled (* 1e+300) is inf as float32" \
    ./mnist eval --data 'files(x = pick("ref_mnist.npz", "x") * 1e300, c = pick("ref_mnist.npz", "c"))'

# bombs: refused from their first bytes, within 300 MB of address space
# (inflating them whole needs 512 MiB); AddressSanitizer (make asan) maps
# terabytes of shadow memory, so there the messages alone tell
bounded() {
    case "${NNC_CFLAGS:-}" in
    *sanitize=address*) "$@" ;;
    *) (ulimit -v 300000; "$@") ;;
    esac
}
refuse "gzip-bomb-behind-an-idx-header" "its dimensions need 18 bytes with the header; the file has more" \
    bounded ./mnist eval --data 'files(x = stack("list.pkl"), c = "bomb-idx1-ubyte.gz")'
refuse "gzip-of-no-format" "zeros.gz: not a data file nnc reads from inside gzip" bounded ./mnist eval --data zeros.gz
refuse "npz-bomb-behind-a-small-array" "bytes after the array's data" \
    bounded ./mnist eval --data 'files(x = stack("list.pkl"), c = pick("bomb.npz", "c"))'

t_begin "course-files/names-are-escaped"
(cd "$D" && ./mnist eval --data escape.npz) >>"$t_log" 2>&1
if grep -q $'\x1b' "$t_log"; then t_fail "an escape character reached the output"
elif grep -qF '\x1b]0;PWNED\x07\x1b[2J' "$t_log"; then t_pass
else t_fail "the member's name is not shown escaped"; fi

refi=$(cd "$D" && loss ./cifar eval --data ref_idxlike.npz)
same "cifar-batch-that-looks-like-idx" "$refi" ./cifar eval --data \
    'files(x = pick("data_batch_1.bin", "data") / 255, c = pick("data_batch_1.bin", "labels"))'

# a file name written once, as a const: the initialisers and the train block use it
t_begin "course-files/file-names-as-consts"
cat >"$D/consts.nn" <<'NN'
const WEIGHTS = "nested_params.pkl", PAIRS = "pairs.pkl"
input  x[784]
target c : class(10)
param W[10, 784] = load(WEIGHTS, "params/W")
param b[10] = load(WEIGHTS, "params/b")
loss = cross_entropy(W @ x + b, c)
train {
  data = files(x = stack(pick(PAIRS, "*/0")), c = stack(pick(PAIRS, "*/1")))
}
NN
if ! t_build "$D/consts.nn" "$D/consts"; then t_fail "a model with string consts did not build"
else
    got=$(cd "$D" && loss ./consts eval)
    echo "loss $got, expected $refp" >>"$t_log"
    if [ -n "$got" ] && [ "$got" = "$refp" ]; then t_pass; else t_fail "loss '$got', expected '$refp'"; fi
fi

# bound by name, a tuple's arrays have key paths for names: the message says how to bind them
refuse "tuple-pickle-by-name-says-how-to-bind" \
    "arrays present: 0/0, 0/1, 1/0, 1/1, 2/0, 2/1 (bind by key path: files(x = pick(\"mnist.pkl.gz\", \"KEY\"), ...))" \
    ./mnist eval --data mnist.pkl.gz

# Nielsen's loader's list of 60000 (x, y) pairs: 120000 arrays in one pickle
t_begin "course-files/sixty-thousand-pairs"
if ! t_build examples/tiny_mlp.nn "$D/tiny"; then t_fail "nnc build failed"
else
    (cd "$D" && /usr/bin/python3 -c 'import numpy as np, pickle
x = np.random.default_rng(5).random((60000, 2)); y = x[:, :1] * 2
pickle.dump([(x[i], y[i]) for i in range(60000)], open("pairs60k.pkl", "wb"), protocol=2)
np.savez("pairs60k.npz", x=x, y=y)') >>"$t_log" 2>&1
    want=$(cd "$D" && loss ./tiny eval --data pairs60k.npz)
    got=$(cd "$D" && loss ./tiny eval --data 'files(x = stack(pick("pairs60k.pkl", "*/0")), y = stack(pick("pairs60k.pkl", "*/1")))')
    echo "loss $got, expected $want" >>"$t_log"
    if [ -n "$got" ] && [ "$got" = "$want" ]; then t_pass; else t_fail "loss '$got', expected '$want'"; fi
fi
