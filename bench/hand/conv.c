/*
 * conv.c - one convolution layer forward and backward through the
 * runtime's kernels (nnrt_conv.c), as a trainer calls them: a batch of n
 * samples stored samples innermost, the input's gradient, the kernel's and
 * the bias's.  `make bench` runs it at W6's shapes and a CIFAR CNN's, side
 * by side with bench/torch/conv.py.  FWD DX DK (0 or 1, default 0): which
 * steps run as matrix products (NnrtConv.gemm), as nnc plans them for the
 * shape (bench/run.sh reads them from the generated C).
 *
 *   conv C H W O K PAD N REPS [FWD DX DK]   prints "conv SECONDS_PER_STEP GFLOPS"
 *
 * (a step: forward + the three gradients, 3 x 2 C K K O OH OW N FLOPs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "nnrt.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *randoms(size_t n)
{
    float *x = aligned_alloc(64, (n * sizeof *x + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 9 && argc != 12) {
        fprintf(stderr, "usage: conv C H W O K PAD N REPS [FWD DX DK]\n");
        return 2;
    }
    int a[11] = {0};
    for (int i = 0; i < argc - 1; i++)
        a[i] = atoi(argv[i + 1]);
    int C = a[0], H = a[1], W = a[2], O = a[3], K = a[4], P = a[5], n = a[6], reps = a[7];
    NnrtConv c = {C, H, W, O, K, K, H + 2 * P - K + 1, W + 2 * P - K + 1, 1, 1, P, P, 0};
    NnrtConv fwd = c, dx = c, dk = c;
    fwd.gemm = a[8], dx.gemm = a[9], dk.gemm = a[10];
    size_t nx = (size_t)C * H * W * n, ny = (size_t)O * c.OH * c.OW * n;
    float *x = randoms(nx), *gx = randoms(nx), *y = randoms(ny), *dy = randoms(ny);
    float *k = randoms((size_t)O * C * K * K), *gk = randoms((size_t)O * C * K * K);
    float *b = randoms((size_t)O), *db = randoms((size_t)O);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        nnrt_conv(&fwd, n, n, x, k, b, y);
        nnrt_conv_bwd_x(&dx, n, n, dy, k, gx, 0);
        nnrt_conv_bwd_k(&dk, n, n, dy, x, gk, 1);
        nnrt_conv_bwd_b(&c, n, n, dy, db, 1);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    double flops = 3.0 * 2 * C * K * K * O * c.OH * c.OW * n;
    printf("conv %.6f %.2f\n", best, flops / best * 1e-9);
    return 0;
}
