#!/bin/bash
# What a model at the language's limits (docs/language.md, Limits) costs the
# compiler: a parameter of 2^28 elements initialised with one number is one
# number in the generated C (the runtime fills it), not 2^28 of them; a
# statement rebound 10000 times compiles to C that grows linearly.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/limits"
mkdir -p "$D"

t_begin "limits/fill-is-one-number"
printf 'input x[2]\ntarget y[1]\nparam W[16384, 16384] = 0.5\nparam b[16384] = 1 / 4\nloss = sum(W @ b) * sum(x) + sum(y)\n' >"$D/fill.nn"
if ! t_run "$NNC" "$D/fill.nn" -o "$D/fill.c"; then
    t_fail "nnc failed on a 16384 x 16384 parameter filled with 0.5"
elif [ "$(wc -c <"$D/fill.c")" -gt 100000 ]; then
    t_fail "the C of a filled 16384 x 16384 parameter has $(wc -c <"$D/fill.c") bytes"
elif ! grep -q 'NNRT_INIT_FILL, .a = 0.5}' "$D/fill.c" || ! grep -q 'NNRT_INIT_FILL, .a = 0.25}' "$D/fill.c"; then
    t_fail "W and b are not filled with 0.5 and 0.25: $(grep -m2 'init =' "$D/fill.c")"
else
    t_pass
fi

# the runtime fills as the literal did: a small model's parameters
t_begin "limits/fill-values"
printf 'input x[2]\ntarget y[1]\nparam W[3, 2] = -0.5\nparam c = 0.8\nloss = sum(W @ x) * c + sum(y)\n' >"$D/fill2.nn"
if t_build "$D/fill2.nn" "$D/fill2" && t_run "$D/fill2" init --out "$D/fill2.npz" &&
   /usr/bin/python3 - "$D/fill2.npz" >>"$t_log" 2>&1 <<'PY'
import sys, numpy as np
d = np.load(sys.argv[1])
assert (d["W"] == np.float32(-0.5)).all() and d["W"].shape == (3, 2), d["W"]
assert d["c"] == np.float32(0.8) and d["c"].shape == (), d["c"]
PY
then
    t_pass
else
    t_fail "the filled parameters are not -0.5 and 0.8"
fi

t_begin "limits/repeat-grows-linearly"
for n in 1000 4000; do
    printf 'input x[4]\ntarget y[4]\nh = x\nrepeat %d { h = tanh(h) }\nloss = sum((h - y)^2)\n' "$n" >"$D/rep$n.nn"
    t_run "$NNC" "$D/rep$n.nn" -o "$D/rep$n.c"
done
a=$(wc -c <"$D/rep1000.c"); b=$(wc -c <"$D/rep4000.c")
if [ "$b" -gt $((5 * a)) ] || [ "$b" -lt $((3 * a)) ]; then
    t_fail "the C of repeat 4000 is $b bytes against $a for repeat 1000"
else
    t_pass
fi

# A chain of 600 element-wise statements is one fused loop, in which the
# parameter p adds to its gradient 600 times: each step's local is the
# buffer's name and underscores, up to the name's room, then numbered (the
# same name was repeated and the C did not compile); the C trains to the
# loss of --style=loops, which fuses nothing
t_begin "limits/long-chain-locals-unique"
{ printf 'input x[2]\ntarget y[2]\nparam p[2] = 0.1\nh0 = x\n'
  for i in $(seq 600); do echo "h$i = h$((i - 1)) * 0.99 + p"; done
  echo 'loss = sum((h600 - y)^2)'
  echo 'train {'
  echo '  data = random(n = 64, seed = 1)'
  echo '}'; } >"$D/chain.nn"
if t_run "$NNC" "$D/chain.nn" -o "$D/chain.c" && t_build "$D/chain.nn" "$D/chain" &&
        t_build "$D/chain.nn" "$D/chain-loops" --style=loops; then
    a=$("$D/chain" eval 2>/dev/null | sed -n 's/^loss: //p')
    b=$("$D/chain-loops" eval 2>/dev/null | sed -n 's/^loss: //p')
    if [ -n "$a" ] && awk -v a="$a" -v b="$b" 'BEGIN {
            d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (a < 0 ? -a : a)) }'; then
        t_pass
    else
        t_fail "loss $a against $b in loops style"
    fi
else
    t_fail "the chain did not compile"
fi

# A tensor of 2^26 values per sample ([8192, 8192], from two inputs of 8192
# values) indexed as i * n + b in an int: a batch of 64 would pass INT_MAX.
# The trainer and nnc run refuse it, naming the size and the largest batch,
# before the workspace (16 GB here) is allocated: under a 2 GB address-space
# limit the error is this one, not "out of memory" (AddressSanitizer, make
# asan, maps terabytes of shadow memory: there the message alone tells).
bounded() {
    case "${NNC_CFLAGS:-}" in
    *sanitize=address*) "$@" ;;
    *) (ulimit -v 2000000; "$@") ;;
    esac
}
t_begin "limits/batch-past-int-max"
printf 'input u[8192, 1]\ninput v[1, 8192]\ntarget y[1]\nh = u @ v\nloss = sum(h) * sum(y)\n' >"$D/outer.nn"
want="'h' holds 67108864 values per sample: a batch of 64 would index it past INT_MAX"
if ! t_build "$D/outer.nn" "$D/outer" || ! t_run "$NNC" "$D/outer.nn" -o "$D/outer.c"; then
    t_fail "the outer product model does not build"
elif ! grep -q '\.sample_max = 67108864,' "$D/outer.c"; then
    t_fail "the C does not give .sample_max"
else
    bad=
    for cmd in "$D/outer" "$NNC run $D/outer.nn"; do
        bounded $cmd eval --batch 64 --data 'random(n = 64)' >"$D/outer.out" 2>&1
        rc=$?
        cat "$D/outer.out" >>"$t_log"
        if [ $rc -ne 1 ] || ! grep -qF "$want" "$D/outer.out" ||
           ! grep -qF 'the largest batch that fits is 31 (--batch 31)' "$D/outer.out"; then
            bad="$bad; $cmd exits $rc: $(head -c 300 "$D/outer.out")"
        fi
    done
    bounded "$D/outer" train --batch 32 --epochs 1 --data 'random(n = 64)' >"$D/outer.out" 2>&1
    grep -qF 'a batch of 32 would index it past INT_MAX' "$D/outer.out" ||
        bad="$bad; train --batch 32: $(head -c 300 "$D/outer.out")"
    [ -z "$bad" ] && t_pass || t_fail "${bad#; }"
fi

# docs/limits.md states numbers the source sets: each row that names a
# macro (`MAX_STACK`, runtime/common_pickle.c) states its value, as a number
# (4096, 100,000) or a power of two (2^22).
t_begin "limits/doc-numbers-are-the-source's"
if /usr/bin/python3 - docs/limits.md >>"$t_log" 2>&1 <<'PY'
import re, sys
bad, rows = [], 0
for line in open(sys.argv[1]):
    m = re.search(r"\| `([A-Z_0-9]+)`, ([\w/.]+) \|\s*$", line)
    if not m:
        continue
    rows += 1
    macro, path = m.groups()
    src = open(path).read()
    d = re.search(r"^#define " + macro + r"\s+(.+?)\s*(/\*.*)?$", src, re.M)
    if not d:
        bad.append(f"{macro} is not defined in {path}")
        continue
    expr = re.sub(r"\(u?int\d+_t\)|(?<=\d)[uUlL]+\b", "", d.group(1))
    value = eval(expr, {})
    said = [str(value), f"{value:,}"]
    if value > 0 and value & (value - 1) == 0:
        said.append(f"2^{value.bit_length() - 1}")
    cell = line.split("|")[2]
    if not any(re.search(r"(?<![\d^])(?<!\d,)" + re.escape(s) + r"(?!\d|,\d)", cell) for s in said):
        bad.append(f"{macro} = {value} ({path}), the row says: {cell.strip()}")
print(rows, "rows with a macro")
if bad or rows < 10:
    sys.exit("\n".join(bad) or "too few rows name a macro")
PY
then
    t_pass
else
    t_fail "docs/limits.md and the source disagree: $(tail -n 3 "$t_log")"
fi

# The JIT builds a fused loop of thousands of members in time linear in
# them: a product kept in a register for later members (h_i_1 = h * 0.99)
# is looked up in a set, not among every member, before an addition may
# fold it into a multiply-add (jit_build.c fresh_product); here every one
# stays a product of its own, 5000 in the forward loop
t_begin "limits/jit-long-fused-loop"
{ printf 'input x[2]\ntarget y[2]\nparam p[2] = 0.1\nh0 = x\n'
  for i in $(seq 5000); do echo "h$i = h$((i - 1)) * 0.99 + p"; done
  echo 'loss = sum((h5000 - y)^2)'; } >"$D/jitchain.nn"
if "$NNC" --emit=llvm "$D/jitchain.nn" >"$D/jitchain.ll" 2>>"$t_log" &&
   [ "$(grep -c ' = fmul .*, 0x3FEFAE1480000000$' "$D/jitchain.ll")" -ge 5000 ]; then
    t_pass
else
    t_fail "nnc --emit=llvm of a chain of 5000 statements: $(grep -c ' = fmul .*, 0x3FEFAE1480000000$' "$D/jitchain.ll" 2>/dev/null) products by 0.99"
fi
