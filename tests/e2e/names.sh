#!/bin/bash
# A model's names reach the generated C as they are (the weight W1 is W1):
# names the C they are declared in already means (memcpy, NULL, size_t,
# tanh in float64, the runtime's nnrt_tanhf, the generated code's own keep)
# get a '_' and still compile, in every style and dtype and in the JIT; the
# longest name the lexer takes (NN_MAX_NAME, 40 characters) is never cut
# short in any derived name; a longer one is refused.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/names"
mkdir -p "$D"

# model NAME...: a small regression model with a value of each name
model() {
    printf 'input x[3]\ntarget y[1]\nparam W[2, 3] = xavier_uniform\nh = tanh(W @ x)\n'
    local last=h
    for nm in "$@"; do printf '%s = tanh(%s) * 0.5\n' "$nm" "$last"; last=$nm; done
    printf 'loss = 0.5 * sum((sum(%s) - y)^2)\n' "$last"
    printf 'train {\n  data = random(n = 32, seed = 1)\n  epochs = 2\n  batch = 8\n  optimizer = sgd(lr = 0.1)\n}\n'
}

# every_form MODEL NAME: built in every style and dtype and trained, run by
# the JIT, and its gradients checked
every_form() {
    local nn=$1 m=$2
    for st in "" "--style=loops" "--dtype f64"; do
        # shellcheck disable=SC2086
        t_build "$nn" "$D/$m" $st || return 1
        t_run "$D/$m" train || return 1
    done
    t_run "$NNC" run "$nn" || return 1
    t_run "$NNC" check "$nn"
}

t_begin "names/c-and-runtime-names-compile"
model memcpy memset NULL size_t INFINITY NAN tanh exp sqrt nnrt_tanhf NNRT_SIMD_LOOP keep \
      math_errhandling RAND_MAX free Work ws >"$D/clash.nn"
if every_form "$D/clash.nn" clash; then
    t_pass
else
    t_fail "a model whose values have the names of C's or the runtime's did not build or train"
fi

t_begin "names/forty-characters-everywhere"
a=$(printf 'a%.0s' $(seq 40)); b=$(printf 'b%.0s' $(seq 40)); c=$(printf 'c%.0s' $(seq 40))
k=$(printf 'k%.0s' $(seq 40)); x=$(printf 'x%.0s' $(seq 40)); y=$(printf 'y%.0s' $(seq 40))
cat >"$D/long.nn" <<EON
model $c
const $k = 3
input  $x[$k]
target $y[1]
param  $c[2, $k] = xavier_uniform
$a = tanh($c @ $x)
$a = tanh($a) * 0.5
$b = dense($a, 4)
loss = 0.5 * sum((sum($b) - $y)^2)
train {
  data = random(n = 32, seed = 1)
  epochs = 2
  batch = 8
  optimizer = sgd(lr = 0.1)
}
EON
if every_form "$D/long.nn" long; then
    t_pass
else
    t_fail "a model of 40-character names did not build or train"
fi

t_begin "names/forty-one-characters-refused"
printf 'input %s[2]\ntarget y[1]\nloss = sum(%s) + sum(y)\n' "${a}x" "${a}x" >"$D/toolong.nn"
out=$("$NNC" "$D/toolong.nn" -o "$D/toolong.c" 2>&1 | head -n 1)
want="$D/toolong.nn:1:7: error: a name has at most 40 characters; 'aaaaaaaaaaaa...' has 41"
if [ "$out" = "$want" ] && [ ! -e "$D/toolong.c" ]; then
    t_pass
else
    t_fail "expected: $want; got: $out"
fi
