#!/bin/bash
# Element expressions (src/ir/expr.h): ops.def's c_expr of an elementwise
# op is parsed once into a tree that the C backend prints and the JIT
# builds, so the two compute the same bits.  For every elementwise op of
# ops.def (tests/e2e/models/elementwise.nn uses each, forward and adjoint,
# entry by entry of its parameters), over sweeps of floats: `nnc run`'s
# gradient equals the C trainer's bit for bit, in float32 and float64.  A
# decimal number in a template is a literal of the dtype in both (0.01f in
# float32): an element written with one (NNC_TEST_OP_EXPR, a test-only
# switch of src/ir/expr.c, replaces abs's by a leaky relu) agrees too.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/expr"
mkdir -p "$D"
m=elementwise
M=tests/e2e/models/$m.nn

# the model uses every elementwise op of the table (the first four fields
# of each row: OP(CODE, "name", arity, K_KIND, ...)), forward or adjoint
t_begin "expr/every-elementwise-op"
"$NNC" --emit=ir "$M" >"$D/$m.ir" 2>>"$t_log"
missing=$(sed -n 's/^OP( *\([A-Z_0-9]*\), *"\([a-z_0-9]*\)", *[0-9]*, *K_MAP,.*/\2/p' src/ir/ops.def |
          while read -r op; do grep -q "= $op " "$D/$m.ir" || echo "$op"; done)
if [ -s "$D/$m.ir" ] && [ -z "$missing" ]; then
    t_pass
else
    t_fail "$M does not use the elementwise op(s) $(echo $missing): add each, forward or through its adjoint"
fi

if "$NNC" --emit=llvm "$M" 2>&1 >/dev/null | grep -q "built without LLVM"; then
    t_begin "expr/c-and-jit"
    t_skip "nnc was built without LLVM (install llvm-dev: scripts/deps.sh, then make)"
    exit 0
fi

# the sweeps: w any sign (the seams of exp, tanh's saturation, overflow),
# p positive, q exponents, t targets in [0, 1], a ones
/usr/bin/python3 - "$M" "$D/$m.p.npz" <<'PY' >>"$t_log" 2>&1
import re, sys, numpy as np
N = 4096
rng = np.random.default_rng(11)
names = re.findall(r"^param (\w+)\[", open(sys.argv[1]).read(), re.M)
def sweep(k):
    w = np.concatenate([np.linspace(-10, 10, N // 4), np.linspace(-104.5, 89, N // 4),
                        rng.standard_normal(N // 4) * 3, [-1.00002313, -0.5, 0.0, 0.5, 1.0]])
    w = np.concatenate([w, rng.uniform(-20, 20, N - len(w))])
    return rng.permutation(w) if k else w
out = {}
for k, n in enumerate(names):
    if n[0] == "w":
        out[n] = sweep(k)
    elif n[0] == "p":
        out[n] = np.exp(rng.uniform(-8, 5, N))
    elif n[0] == "q":
        out[n] = rng.uniform(-3, 3, N)
    elif n[0] == "t":
        out[n] = rng.uniform(0, 1, N)
    else:
        out[n] = np.ones(N)
np.savez(sys.argv[2], **{n: v.astype(np.float64) for n, v in out.items()})
PY

same_bits() {   # same_bits C.npz JIT.npz: every array equal, NaN included
    t_run /usr/bin/python3 -c 'import sys, numpy as np
c, j = np.load(sys.argv[1]), np.load(sys.argv[2])
differ = [k for k in c.files if not np.array_equal(c[k], j[k], equal_nan=True)]
print("JIT and C differ in:", differ or "nothing")
sys.exit(1 if differ else 0)' "$1" "$2"
}

for dt in f32 f64; do
    t_begin "expr/c-and-jit-same-bits/$dt"
    if t_build_native "$M" "$D/$m.$dt" --dtype $dt &&
       t_run "$D/$m.$dt" grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1)" --out "$D/$m.$dt.gc.npz" &&
       t_run "$NNC" run "$M" --dtype $dt grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1)" \
           --out "$D/$m.$dt.gj.npz" &&
       same_bits "$D/$m.$dt.gc.npz" "$D/$m.$dt.gj.npz"; then
        t_pass
    else
        t_fail "nnc run's gradient of an elementwise op differs from the C trainer's ($dt)"
    fi
done

# a decimal in a template: h > 0 ? h : 0.01 * h, as a float32 literal in
# float32 in both backends (the C trainer once multiplied in double)
leaky='abs=$0 > 0 ? $0 : 0.01 * $0'
for dt in f32 f64; do
    t_begin "expr/template-literal/$dt"
    want='0.01 \*'
    [ $dt = f32 ] && want='0.01f \*'
    if NNC_TEST_OP_EXPR=$leaky t_run "$NNC" "$M" -o "$D/leaky.$dt.c" --dtype $dt &&
       grep -q "? w5\[i\] : $want w5\[i\]" "$D/leaky.$dt.c" &&
       NNC_TEST_OP_EXPR=$leaky t_build_native "$M" "$D/leaky.$dt" --dtype $dt &&
       t_run "$D/leaky.$dt" grad --no-ftz --params "$D/$m.p.npz" --data "random(n = 1)" --out "$D/leaky.$dt.gc.npz" &&
       NNC_TEST_OP_EXPR=$leaky t_run "$NNC" run "$M" --dtype $dt grad --no-ftz --params "$D/$m.p.npz" \
           --data "random(n = 1)" --out "$D/leaky.$dt.gj.npz" &&
       same_bits "$D/leaky.$dt.gc.npz" "$D/leaky.$dt.gj.npz" &&
       t_run /usr/bin/python3 -c 'import sys, numpy as np
w, g = np.load(sys.argv[1])["w5"], np.load(sys.argv[2])["a7"]
f32 = sys.argv[3] == "f32"
w = w.astype(np.float32) if f32 else w
want = np.where(w > 0, w, (np.float32(0.01) if f32 else 0.01) * w)
print("leaky relu differs from", "float32" if f32 else "float64", "arithmetic at", np.flatnonzero(g != want)[:5])
sys.exit(0 if np.array_equal(g, want) else 1)' "$D/$m.p.npz" "$D/leaky.$dt.gc.npz" $dt; then
        t_pass
    else
        t_fail "a template's 0.01 gives different bits in the C trainer and nnc run ($dt), or not the dtype's"
    fi
done
