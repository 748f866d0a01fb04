#!/bin/bash
# End-to-end: convolutions and pools (conv2d, conv1d, maxpool2d, ...; the
# op-conformance suite, tests/ops, checks each against PyTorch and finite
# differences): their diagnostics, a convolution without a bias, the
# `conv` sugar's parameters, --report's FLOPs counted by hand, and
# `nnc explain`'s sum for one kernel weight, against a hand derivation.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/conv"
mkdir -p "$D"

# model TEXT (the lines after the declarations) into $D/m.nn
model() {
    printf 'input img[3, 8, 8]\ntarget y[1]\nparam K[4, 3, 3, 3] = he_uniform\nparam b[4] = zeros\n%s\nloss = 0.5 * (sum(h) - sum(y))^2\n' "$1" >"$D/m.nn"
}

# error TEST LINE MESSAGE: the model fails with exit status 1, the message
# (fixed text) and no output file
error() {
    t_begin "conv/error/$1"
    model "$2"
    rm -f "$D/m.c"
    "$NNC" "$D/m.nn" -o "$D/m.c" >>"$t_log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" "$t_log" && [ ! -e "$D/m.c" ]; then t_pass
    else t_fail "expected exit status 1 (got $rc), no m.c and: $3"; fi
}
error kernel-larger-than-padded "param K9[4, 3, 9, 9] = zeros
h = conv2d(img, K9, b)" "conv2d: the kernel ([4, 3, 9, 9]) is larger than the input [3, 8, 8] along axis 1 (9 > 8)"
error channels "param K2[4, 2, 3, 3] = zeros
h = conv2d(img, K2, b)" "conv2d: channels do not match: the input [3, 8, 8] has 3, the kernel [4, 2, 3, 3] takes 2 (its second axis)"
error bias "param b3[3] = zeros
h = conv2d(img, K, b3)" "conv2d: the bias must be [4], one number per output channel of the kernel [4, 3, 3, 3], not [3]"
error stride "h = conv2d(img, K, b, stride = 0)" "conv2d: stride must be an integer constant of at least 1"
error input-rank "param v[8] = zeros
h = conv2d(v, K, b)" "conv2d: the input must be [C, H, W], not [8]"
error pool-window "h = maxpool2d(img, 9)" "maxpool2d: the window ([9, 9]) is larger than the input [3, 8, 8] along axis 1 (9 > 8)"
error unknown-argument "h = conv2d(img, K, b, padding = 1)" "conv2d has no argument 'padding'"

t_begin "conv/warning/stride-does-not-fit"
model "h = conv2d(img, K, b, stride = 2)"
if t_run "$NNC" "$D/m.nn" -o "$D/m.c" &&
   grep -qF "warning: conv2d: stride 2 does not fit the input [3, 8, 8] along axis 1: the kernel ([4, 3, 3, 3]) leaves the last 1 of 8 positions out (as PyTorch does)" "$t_log"
then t_pass; else t_fail "expected the warning naming both shapes"; fi

# no bias: the constant 0 in the IR, no gradient for it; the gradients pass check
t_begin "conv/no-bias-checks"
model "h = tanh(conv2d(img, K, pad = 1))
example {
  img = $(/usr/bin/python3 -c 'import numpy as np; print((np.arange(192).reshape(3, 8, 8) % 7 / 7 - 0.4).round(3).tolist())')
  y = [0.5]
}"
if t_run "$NNC" --emit=ir "$D/m.nn" && grep -q "h_1 = conv2d(img, K, pad = 1)" "$t_log" &&
   t_run "$NNC" check "$D/m.nn" && grep -q "^PASS: all 2 parameters" "$t_log"; then t_pass
else t_fail "expected conv2d(img, K, pad = 1) in the IR and a passing check"; fi

# conv(h, n, k): conv1_W [n, C, k, k] and conv1_b [n], uniform in +-1/sqrt(C k k)
t_begin "conv/sugar-parameters"
model "h = conv(img, 5, 3, stride = 2)"
if t_run "$NNC" --emit=ir "$D/m.nn" &&
   grep -q "^param conv1_W \[5, 3, 3, 3\] uniform(-0.19245, 0.19245)$" "$t_log" &&
   grep -q "^param conv1_b \[5\] uniform(-0.19245, 0.19245)$" "$t_log" &&
   grep -q "conv2d %[0-9]*, %[0-9]*, %[0-9]* \[stride=2,pad=0\] : \[5, 3, 3\] batch" "$t_log"; then t_pass
else t_fail "expected conv1_W [5, 3, 3, 3], conv1_b [5] and a [5, 3, 3] result"; fi

# LeNet-5's first layer, by hand: 6 x 28 x 28 outputs of 25 multiply-adds
# (2 FLOPs) each, 235200 forward; backward the kernel's gradient as much
# (the input's is not needed: img is data) and the bias's 4704
t_begin "conv/report-flops-by-hand"
cat >"$D/lenet1.nn" <<'NN'
input img[1, 28, 28]
target y[1]
param K1[6, 1, 5, 5] = he_uniform
param b1[6] = zeros
z1 = conv2d(img, K1, b1, pad = 2)
loss = 0.5 * (sum(z1) - sum(y))^2
NN
if t_run "$NNC" --report "$D/lenet1.nn" &&
   grep -Eq '^ +5  z1 = conv2d\(img, K1, b1, pad = 2\) +156 +235200 +239904 ' "$t_log"; then t_pass
else t_fail "expected 156 parameters, 235200 FLOPs forward and 235200 + 4704 backward"; fi

# by hand: img = 1..16 as a 4 x 4 map, loss = sum(conv2d(img, K)) with a
# 3 x 3 kernel: the 2 x 2 outputs each have dL/dy = 1, so dL/dK[0,0,1,1] is
# the sum of the inputs under the kernel's centre: 6 + 7 + 10 + 11 = 34
t_begin "conv/explain-one-kernel-weight"
cat >"$D/hand.nn" <<'NN'
input img[1, 4, 4]
param K[1, 1, 3, 3] = ones
loss = sum(conv2d(img, K))
example {
  img = [[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]]
}
NN
if t_run "$NNC" explain "$D/hand.nn" --wrt 'K[0,0,1,1]' &&
   grep -qF "dL/dK[0,0,1,1] = dL/dloss_1[0,0,0] * img[0,1,1] + dL/dloss_1[0,0,1] * img[0,1,2] + dL/dloss_1[0,1,0] * img[0,2,1] + dL/dloss_1[0,1,1] * img[0,2,2]" "$t_log" &&
   grep -qF "= 1 * 6 + 1 * 7 + 1 * 10 + 1 * 11" "$t_log" &&
   grep -q "^  dL/dK\[0,0,1,1\] = 34$" "$t_log"; then t_pass
else t_fail "expected the sum of four terms, 34"; fi

# Large maps: a step as matrix products over im2col's columns (plan.h
# cg_conv_gemm), chosen from the shapes: a CIFAR CNN's second layer all
# three steps, its first layer's forward and kernel gradient (img's
# gradient is not needed), LeNet's first layer likewise, a small map none
t_begin "conv/products-chosen-from-the-shapes"
cat >"$D/cifar.nn" <<'NN'
input img[3, 32, 32]
target y[1]
h1 = relu(conv(img, 32, 3, pad = 1))
h2 = conv(h1, 64, 3, pad = 1)
loss = 0.5 * (sum(h2) - sum(y))^2
NN
# products NN.c: the runtime calls marked .gemm = 1, counted by name
products() { grep -B1 '\.gemm = 1}' "$1" | grep -o 'nnrt_conv[a-z_]*(' | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }
model "h = conv2d(img, K, b, pad = 1)"
if t_run "$NNC" "$D/cifar.nn" -o "$D/cifar.c" && t_run "$NNC" "$D/lenet1.nn" -o "$D/lenet1.c" &&
   t_run "$NNC" "$D/m.nn" -o "$D/m.c" &&
   NNC_CONV_GEMM_MIN=100000000 t_run "$NNC" "$D/cifar.nn" -o "$D/cifar-direct.c" &&
   [ "$(products "$D/cifar.c")" = "nnrt_conv( 2, nnrt_conv_bwd_k( 2, nnrt_conv_bwd_x( 1" ] &&
   [ "$(products "$D/lenet1.c")" = "nnrt_conv( 1, nnrt_conv_bwd_k( 1" ] &&
   [ -z "$(products "$D/m.c")" ] && [ -z "$(products "$D/cifar-direct.c")" ]; then t_pass
else t_fail "products: cifar $(products "$D/cifar.c"); lenet1 $(products "$D/lenet1.c"); small $(products "$D/m.c"); bound above $(products "$D/cifar-direct.c")"; fi

# The products against the direct kernels on the same model and data: a
# padded layer whose input gradient is a product (16 channels), a strided
# one (its input gradient direct), the choice moved by NNC_CONV_GEMM_MIN
# and forced in the runtime by NNRT_CONV, in the C trainer and the JIT
# (whose last, partial batch has padded rows: products over all lanes).
# Summation orders differ, so float32 losses agree to about 1e-5 (over an
# epoch: in the next, the direct kernels' longer float32 sums and the
# products' differ enough for training to drift apart).
t_begin "conv/products-and-direct-kernels-agree"
cat >"$D/cnn.nn" <<'NN'
model cnn
input  img[3, 10, 10]
target c : class(4)
h1 = relu(conv(img, 16, 3, pad = 1))
h2 = relu(conv(h1, 8, 3, pad = 1))
h3 = relu(conv(h2, 8, 3, stride = 2, pad = 1))
param W[4, 200] = xavier_uniform
loss = cross_entropy(W @ flatten(h3), c)
train {
  data      = random(n = 300, seed = 3)
  optimizer = adam(lr = 0.01)
  batch     = 32
  epochs    = 1
}
NN
losses() { awk -F, 'NR > 1 { print $3 }' "$1/metrics.csv"; }
if t_build "$D/cnn.nn" "$D/cnn" && NNC_CONV_GEMM_MIN=0 t_build "$D/cnn.nn" "$D/cnn_products" &&
   NNC_CONV_GEMM_MIN=0 t_run "$NNC" "$D/cnn.nn" -o "$D/cnn_products.c" &&
   [ "$(products "$D/cnn_products.c")" = "nnrt_conv( 3, nnrt_conv_bwd_k( 3, nnrt_conv_bwd_x( 1" ]; then
    rm -rf "$D/cnn-"*
    t_run "$D/cnn" train --log "$D/cnn-direct"
    t_run "$D/cnn_products" train --log "$D/cnn-products"
    NNRT_CONV=gemm t_run "$D/cnn" train --log "$D/cnn-forced"
    NNRT_CONV=direct t_run "$D/cnn_products" train --log "$D/cnn-unforced"
    NNC_CONV_GEMM_MIN=0 t_run "$NNC" run "$D/cnn.nn" -- train --log "$D/cnn-jit"
    bad=$(paste -d' ' <(losses "$D/cnn-direct") <(losses "$D/cnn-products") <(losses "$D/cnn-forced") \
                      <(losses "$D/cnn-unforced") <(losses "$D/cnn-jit") | awk '
        function d(a, b) { return (a > b ? a - b : b - a) / (b > 0 ? b : -b) }
        NF != 5 || d($1, $2) > 1e-5 || d($1, $3) > 1e-5 || d($1, $4) > 1e-5 || d($1, $5) > 1e-5 { print "epoch " NR - 1 ": " $0 }
        END { if (NR != 2) print NR " rows" }')
    if [ -z "$bad" ]; then t_pass; else t_fail "losses (direct, products, forced, unforced, jit) differ: $bad"; fi
else
    t_fail "build failed, or NNC_CONV_GEMM_MIN=0 did not make every step but a strided input gradient a product"
fi

# A model with convolutions runs a pass over 32 samples or more in two
# halves, one per thread (NnrtModel.halves; an MLP does not): the gradient
# of 40 samples and a training run give the same bits on one thread as on
# two, in the C trainer and the JIT.
t_begin "conv/halves"
cols() { cut -d, -f1-4 "$1/metrics.csv"; }
printf 'input x[4]\ntarget y[1]\nparam W[1, 4] = ones\nloss = sum((W @ x - y)^2)\n' >"$D/mlp.nn"
if t_run "$NNC" "$D/cnn.nn" -o "$D/cnn.c" && grep -q '^    .halves = 1,' "$D/cnn.c" &&
   t_run "$NNC" "$D/mlp.nn" -o "$D/mlp.c" && ! grep -q 'halves' "$D/mlp.c" &&
   NNRT_THREADS=1 t_run "$D/cnn" grad --data 'random(n = 40, seed = 5)' --out "$D/g40_1.npz" &&
   NNRT_THREADS=2 t_run "$D/cnn" grad --data 'random(n = 40, seed = 5)' --out "$D/g40_2.npz" &&
   cmp "$D/g40_1.npz" "$D/g40_2.npz" >>"$t_log" 2>&1 &&
   rm -rf "$D/halves-"* &&
   NNRT_THREADS=1 t_run "$D/cnn" train --log "$D/halves-1" &&
   NNRT_THREADS=2 t_run "$D/cnn" train --log "$D/halves-2" &&
   NNRT_THREADS=1 t_run "$NNC" run "$D/cnn.nn" -- train --log "$D/halves-jit1" &&
   NNRT_THREADS=2 t_run "$NNC" run "$D/cnn.nn" -- train --log "$D/halves-jit2" &&
   [ "$(cols "$D/halves-1")" = "$(cols "$D/halves-2")" ] &&
   [ "$(cols "$D/halves-jit1")" = "$(cols "$D/halves-jit2")" ]; then t_pass
else t_fail "expected .halves = 1 in the CNN's C only, and the same bits on 1 and 2 threads (gradient, losses in C and the JIT)"; fi

t_begin "conv/an unknown NNRT_CONV is an error"
NNRT_CONV=fast "$D/cnn" train --epochs 1 >"$D/badconv.txt" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "NNRT_CONV=fast: expected direct or gemm" "$D/badconv.txt"; then t_pass
else t_fail "exit status $rc, output: $(head -n 2 "$D/badconv.txt")"; fi

# The direct kernels' AVX-512 version (4 columns, 6 channels and 5 of the
# window's columns at once) against the others, built without it
# (NNRT_NO_WIDE): the same bits for y, dx and dK, float32 and float64, at
# LeNet's shapes, padded, strided and with a partial block of samples and
# padding lanes.  (Without AVX-512 both builds run the same code.)
t_begin "conv/the AVX-512 direct kernels give the others' bits"
cat >"$D/bits.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "nnrt.h"
static unsigned long h = 5381;
static void hash(const nnrt_real *p, size_t n)
{
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < n * sizeof *p; i++)
        h = h * 33 + c[i];
}
static nnrt_real *values(size_t n)
{
    nnrt_real *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (nnrt_real)rand() / RAND_MAX - (nnrt_real)0.5;
    return x;
}
int main(void)
{   /* C H W O KH KW ph pw sh sw */
    static const int s[][10] = {{1, 28, 28, 6, 5, 5, 2, 2, 1, 1}, {6, 14, 14, 16, 5, 5, 0, 0, 1, 1},
                                {3, 9, 7, 5, 3, 3, 1, 1, 1, 1},   {3, 9, 7, 5, 3, 2, 2, 1, 2, 2},
                                {4, 1, 20, 3, 1, 5, 0, 2, 1, 3},  {3, 12, 12, 9, 7, 7, 3, 3, 1, 1}};
    static const int ns[] = {37, 32, 5};
    for (unsigned k = 0; k < sizeof s / sizeof *s; k++)
        for (int m = 0; m < 3; m++) {
            const int *v = s[k];
            int n = ns[m], ld = n + (m == 0 ? 3 : 0);
            NnrtConv c = {v[0], v[1], v[2], v[3], v[4], v[5], 0, 0, v[8], v[9], v[6], v[7], 0};
            c.OH = (c.H + 2 * c.ph - c.KH) / c.sh + 1;
            c.OW = (c.W + 2 * c.pw - c.KW) / c.sw + 1;
            size_t nx = (size_t)c.C * c.H * c.W * ld, ny = (size_t)c.O * c.OH * c.OW * ld;
            size_t nk = (size_t)c.O * c.C * c.KH * c.KW;
            nnrt_real *x = values(nx), *dx = values(nx), *y = values(ny), *dy = values(ny);
            nnrt_real *K = values(nk), *dK = values(nk), *b = values((size_t)c.O);
            nnrt_conv(&c, n, ld, x, K, b, y);
            nnrt_conv_bwd_x(&c, n, ld, dy, K, dx, 1);
            nnrt_conv_bwd_k(&c, n, ld, dy, x, dK, 1);
            for (size_t i = 0; i < ny; i++)   /* (padding lanes: anything) */
                if ((int)(i % (size_t)ld) < n)
                    hash(y + i, 1);
            for (size_t i = 0; i < nx; i++)
                if ((int)(i % (size_t)ld) < n)
                    hash(dx + i, 1);
            hash(dK, nk);
            free(x), free(dx), free(y), free(dy), free(K), free(dK), free(b);
        }
    printf("%lx\n", h);
    return 0;
}
C
RT=${NNC_RUNTIME:-$(dirname "$NNC")/runtime}   # (the rest of the runtime: nnc's)
bits() {   # bits NAME FLAGS...: the hash, the kernels built with FLAGS (nnrt_conv.o's own)
    cc -O3 -ffp-contract=fast -fopenmp-simd -fno-math-errno -D_POSIX_C_SOURCE=200809L "${@:2}" \
       -I runtime -c -o "$D/$1.o" runtime/nnrt_conv.c >>"$t_log" 2>&1 &&
    cc -O2 "${@:2}" -I runtime -o "$D/$1" "$D/bits.c" "$D/$1.o" "$RT/libnnrt.a" \
       $(cat "$RT/libnnrt.ldflags") >>"$t_log" 2>&1 &&
    NNRT_CONV=direct "$D/$1"
}
b32=$(bits wide32) n32=$(bits narrow32 -DNNRT_NO_WIDE)
b64=$(bits wide64 -DNNRT_F64) n64=$(bits narrow64 -DNNRT_F64 -DNNRT_NO_WIDE)
if [ -n "$b32" ] && [ "$b32" = "$n32" ] && [ -n "$b64" ] && [ "$b64" = "$n64" ] && [ "$b32" != "$b64" ]
then t_pass
else t_fail "float32: $b32 and $n32, float64: $b64 and $n64"; fi
