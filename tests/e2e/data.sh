#!/bin/bash
# End-to-end data loading: files the way courses hand them out, written by
# numpy where /usr/bin/python3 has it (pickles of protocols 2 to 5, .npy,
# CSV, IDX, a CIFAR-10 binary batch), read by a trainer that must give the
# same loss as from the reference .npz; hostile and broken files must give
# a clear message and exit status 1, never a crash.  Fashion-MNIST's real
# IDX files are used where Debian's dataset-fashion-mnist is installed.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/data"
mkdir -p "$D"

if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_begin "data"; t_skip "/usr/bin/python3 has no numpy (apt-get install python3-numpy)"; exit 0
fi
t_begin "data/build"
if ! t_build examples/tiny_mlp.nn "$D/tiny" || ! t_build examples/spirals.nn "$D/spirals" ||
   ! t_build tests/e2e/models/cifar_linear.nn "$D/cifar"; then
    t_fail "nnc build failed"; exit 0
fi
t_pass

(cd "$D" && /usr/bin/python3 - <<'PY') >"$D/fixtures.log" 2>&1
import gzip, os, pickle, struct, numpy as np
r = np.random.default_rng(0)
x = r.uniform(-1, 1, (50, 2)); y = np.sin(3 * x[:, :1]) * np.cos(2 * x[:, 1:])
np.savez("ref.npz", x=x, y=y)
for p in (2, 3, 4, 5):
    pickle.dump({"x": x.astype(np.float32), "y": y}, open("d%d.pkl" % p, "wb"), protocol=p)
pickle.dump({"train": {"inputs": x, "targets": y}}, open("nested.pkl", "wb"))
np.save("x.npy", x); np.save("y_be.npy", y.astype(">f8")); np.save("x_f.npy", np.asfortranarray(x))
np.savetxt("d.csv", np.hstack([x, y]), delimiter=",", header="x0,x1,y", comments="")
# as a spreadsheet saves it ("CSV UTF-8"): a byte order mark and CRLF line ends
open("bom.csv", "wb").write(b"\xef\xbb\xbf" + open("d.csv", "rb").read().replace(b"\n", b"\r\n"))
params = {k: r.normal(size=s) for k, s in
          [("W1", (10, 2)), ("b1", (10,)), ("W2", (10, 10)), ("b2", (10,)), ("W3", (1, 10)), ("b3", (1,))]}
pickle.dump(params, open("params.pkl", "wb")); np.savez("params.npz", **params)
# numpy 2.x pickles name numpy._core.* where numpy 1.x wrote numpy.core.* (this machine's
# numpy is 1.x: rename, as text for protocols 2-3 and as SHORT_BINUNICODE for 4-5)
for p in (2, 3, 4, 5):
    b = pickle.dumps({"x": x.astype(np.float32), "y": y}, protocol=p)
    for mod in (b"multiarray", b"numeric"):
        old, new = b"numpy.core." + mod, b"numpy._core." + mod
        b = b.replace(old + b"\n", new + b"\n").replace(bytes([0x8c, len(old)]) + old, bytes([0x8c, len(new)]) + new)
    assert b"numpy._core" in b
    open("np2_d%d.pkl" % p, "wb").write(b)
np.savetxt("text.csv", np.hstack([x, y]), delimiter=",", header="x0,x1,y", comments="", fmt="%.6f")
open("text.csv", "a").write("0.5,0.5,n/a\n")
np.save("x3.npy", np.zeros((50, 3)))
class Evil:
    def __reduce__(self): return (os.system, ("echo pwned",))
pickle.dump(Evil(), open("evil.pkl", "wb"))
open("trunc.pkl", "wb").write(open("d3.pkl", "rb").read()[:100])
# spirals-shaped classification data as IDX (x as uint8 images / 255) and labels
xi = r.integers(0, 256, (30, 2), dtype=np.uint8); ci = (np.arange(30) % 3).astype(np.uint8)
def idx(a, code):
    return struct.pack(">BBBB", 0, 0, code, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape) + a.tobytes()
gzip.open("x-idx.gz", "wb").write(idx(xi, 0x08)); open("c-idx", "wb").write(idx(ci, 0x08))
np.savez("ref_idx.npz", x=xi / 255.0, c=ci)
# two CIFAR-10 binary batches: records of one label byte and 3072 pixels
lab = r.integers(0, 10, (2, 20), dtype=np.uint8); px = r.integers(0, 256, (2, 20, 3072), dtype=np.uint8)
for b in range(2):
    open("data_batch_%d.bin" % (b + 1), "wb").write(np.hstack([lab[b][:, None], px[b]]).tobytes())
# the same first batch in CIFAR-10's python format: bytes keys, labels a list
pickle.dump({b"batch_label": b"training batch 1 of 5", b"labels": [int(v) for v in lab[0]],
             b"data": px[0], b"filenames": [b"a.png"] * 20}, open("data_batch_py", "wb"), protocol=2)
np.savez("ref_cifar1.npz", x=px[0] / 255.0, c=lab[0])
np.savez("ref_cifar.npz", x=px.reshape(40, 3072) / 255.0, c=lab.reshape(40))
xn = x.copy(); xn[3, 1] = np.nan; np.savez("nan_x.npz", x=xn, y=y)
xh = x.copy(); xh[4, 0] = 1e300; np.savez("huge_x.npz", x=xh, y=y)   # inf as float32
pinf = dict(params); pinf["W2"] = params["W2"].copy(); pinf["W2"][1, 2] = np.inf; np.savez("params_inf.npz", **pinf)
open("bad.idx", "wb").write(struct.pack(">BBBB", 0, 0, 0x08, 2) + struct.pack(">II", 1 << 30, 1 << 30))
PY

loss() { "$@" 2>&1 | awk '/^loss:/ { print $2 }'; }
same() {   # same NAME EXPECTED CMD...: eval loss equals the reference (to 1e-6: float32)
    local name=$1 want=$2; shift 2
    t_begin "data/$name"
    local got; got=$(cd "$D" && loss "$@")
    echo "loss $got, expected $want" >>"$t_log"
    if [ -n "$got" ] && awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d
            exit !(d <= 1e-6 * (b < 0 ? -b : b)) }'; then t_pass; else t_fail "loss '$got', expected '$want' (from the .npz)"; fi
}
ref=$(cd "$D" && loss ./tiny eval --params params.npz --data ref.npz)
for p in 2 3 4 5; do same "pickle-protocol-$p" "$ref" ./tiny eval --params params.npz --data d$p.pkl; done
for p in 2 3 4 5; do same "numpy2-pickle-protocol-$p" "$ref" ./tiny eval --params params.npz --data np2_d$p.pkl; done
same "params-from-pickle" "$ref" ./tiny eval --params params.pkl --data ref.npz
same "npy-files-bound" "$ref" ./tiny eval --params params.npz --data 'files(x = "x_f.npy", y = "y_be.npy")'
same "csv-columns" "$ref" ./tiny eval --params params.npz --data d.csv
same "csv-byte-order-mark-crlf" "$ref" ./tiny eval --params params.npz --data bom.csv
same "pickle-nested-keys" "$ref" ./tiny eval --params params.npz \
     --data 'files(x = pick("nested.pkl", "train/inputs"), y = pick("nested.pkl", "train/targets"))'
refi=$(cd "$D" && loss ./spirals eval --data ref_idx.npz)
same "idx-gz-scaled" "$refi" ./spirals eval --data 'files(x = "x-idx.gz" / 255, c = "c-idx")'
refc=$(cd "$D" && loss ./cifar eval --data ref_cifar.npz)
same "cifar-binary-batches" "$refc" ./cifar eval --data 'files(x = [pick("data_batch_1.bin", "data"),
    pick("data_batch_2.bin", "data")] / 255, c = [pick("data_batch_1.bin", "labels"), pick("data_batch_2.bin", "labels")])'
refc1=$(cd "$D" && loss ./cifar eval --data ref_cifar1.npz)
same "cifar-python-batch" "$refc1" ./cifar eval --data 'files(x = pick("data_batch_py", "data") / 255, c = pick("data_batch_py", "labels"))'

# weights a course hands out as a pickle: the starting point of training, through
# --init and through the initialiser load("file", "key")
t_begin "data/init-from-pickle"
sed -e 's/= xavier_uniform/= load("params.pkl", NAME)/' -e 's/= he_uniform/= load("params.pkl", NAME)/' \
    -e 's/= zeros/= load("params.pkl", NAME)/' examples/tiny_mlp.nn |
    awk '/^param/ { n = $2; sub(/\[.*/, "", n); gsub(/NAME/, "\"" n "\"") } { print }' >"$D/tiny_load.nn"
if ! grep -q 'load("params.pkl", "W3")' "$D/tiny_load.nn" || ! t_build "$D/tiny_load.nn" "$D/tiny_load"; then
    t_fail "could not build a model initialised with load(\"params.pkl\", ...)"
else
    (cd "$D" && ./tiny_load init --out from_load.npz &&
     ./tiny train --init params.pkl --data ref.npz --epochs 2 --quiet --save from_pkl.npz &&
     ./tiny train --init params.npz --data ref.npz --epochs 2 --quiet --save from_npz.npz) >>"$t_log" 2>&1
    if /usr/bin/python3 -c 'import numpy as np, pickle, sys
p = pickle.load(open(sys.argv[1], "rb"))
a, b, c = (np.load(f) for f in sys.argv[2:])
assert all(np.allclose(a[k], p[k], rtol=1e-6, atol=1e-7) for k in p), "load() differs"
assert all(np.array_equal(b[k], c[k]) for k in p), "--init params.pkl trains differently"' \
        "$D/params.pkl" "$D/from_load.npz" "$D/from_pkl.npz" "$D/from_npz.npz" >>"$t_log" 2>&1; then t_pass
    else t_fail "initial parameters differ from params.pkl (see the log)"; fi
fi

refuse() {   # refuse NAME PATTERN CMD...: exit 1 and a message matching PATTERN
    local name=$1 pat=$2; shift 2
    t_begin "data/$name"
    (cd "$D" && "$@") >>"$t_log" 2>&1
    local rc=$?
    if [ $rc = 1 ] && grep -q -- "$pat" "$t_log" && ! grep -q pwned "$t_log"; then t_pass
    else t_fail "expected exit 1 and '$pat', got exit $rc"; fi
}
refuse "pickle-refuses-code" "which nnc will not load" ./tiny eval --data evil.pkl
refuse "pickle-truncated" "trunc.pkl" ./tiny eval --data trunc.pkl
refuse "idx-absurd-header" "bad.idx" ./spirals eval --data 'files(x = "bad.idx", c = "c-idx")'
refuse "missing-file" "nope.npz" ./tiny eval --data nope.npz
refuse "csv-text-column" "text.csv: array 'y' is not a numeric array (column 'y' holds 'n/a' at line 52" \
    ./tiny eval --params params.npz --data text.csv
refuse "npy-wrong-shape" "x3.npy: the array has shape \[50, 3\], the model's input x is \[2\]" \
    ./tiny eval --params params.npz --data 'files(x = "x3.npy", y = "y_be.npy")'
mkdir -p "$D/dirdata" && : >"$D/empty.npz"
refuse "data-is-a-directory" "dirdata: cannot open (Is a directory)" ./tiny eval --data dirdata
refuse "params-is-a-directory" "dirdata: cannot open (Is a directory)" ./tiny eval --params dirdata --data ref.npz
refuse "empty-file" "empty.npz: an empty file (0 bytes)" ./tiny eval --data empty.npz

# a NaN or inf in the data or the parameters is refused where it is read,
# not left to show up as a NaN loss
refuse "nan-in-data" "nan_x.npz: array 'x' holds nan at sample 3 (as float32" \
    ./tiny eval --params params.npz --data nan_x.npz
refuse "inf-in-data-as-float32" "huge_x.npz: array 'x' holds inf at sample 4 (as float32" \
    ./tiny train --data huge_x.npz --epochs 1
refuse "inf-in-params" "params_inf.npz: array 'W2' holds inf at flat index 12" \
    ./tiny train --init params_inf.npz --data ref.npz --epochs 1

# the real data set, where Debian's package is installed
t_begin "data/fashion-mnist-idx"
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && t_build examples/fashion_mlp.nn "$D/fm"; then
    if t_run "$D/fm" eval --data 'files(x = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255, c = "fashion-mnist/t10k-labels-idx1-ubyte.gz")' &&
       grep -q "^accuracy:" "$t_log"; then t_pass; else t_fail "eval on the t10k IDX files failed"; fi
else
    t_skip "dataset-fashion-mnist is not installed (scripts/deps.sh --all)"
fi
