/*
 * conv.c - one convolution layer forward and backward through the
 * runtime's kernels (nnrt_conv.c), as a trainer calls them: a batch of n
 * samples stored samples innermost, the input's gradient, the kernel's and
 * the bias's.  `make bench` runs it at W6's shapes and a CIFAR CNN's, side
 * by side with bench/torch/conv.py.  FWD DX DK (0 or 1, default 0): which
 * steps run as matrix products (NnrtConv.gemm), as nnc plans them for the
 * shape (bench/run.sh reads them from the generated C).  HALVES (0 or 1,
 * default 0): the batch as a trainer of a model with convolutions runs it
 * (NnrtModel.halves, docs/trainer.md): two halves of n / 2 samples, each in
 * buffers of its own, side by side on the runtime's threads, the second
 * half's kernel and bias gradients added to the first's; otherwise one
 * pass over n, the threads sharing each step.
 *
 *   conv C H W O K PAD N REPS [FWD DX DK [HALVES]]
 *
 * prints "conv SECONDS_PER_STEP GFLOPS" (a step: forward + the three
 * gradients, 3 x 2 C K K O OH OW N FLOPs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "nnrt.h"
#include "nnrt_internal.h"

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

/* One pass's operands over n samples: input, output and their gradients. */
typedef struct Pass {
    int n;
    float *x, *gx, *y, *dy, *gk, *db;
} Pass;

static NnrtConv fwd, dx, dk;
static float *k, *b;
static Pass pass[2];

static void run(const Pass *p)
{
    nnrt_conv(&fwd, p->n, p->n, p->x, k, b, p->y);
    nnrt_conv_bwd_x(&dx, p->n, p->n, p->dy, k, p->gx, 0);
    nnrt_conv_bwd_k(&dk, p->n, p->n, p->dy, p->x, p->gk, 1);
    nnrt_conv_bwd_b(&fwd, p->n, p->n, p->dy, p->db, 1);
}

static void halves(void *ctx, int64_t lo, int64_t hi)
{
    (void)ctx;
    for (int64_t h = lo; h < hi; h++)
        run(&pass[h]);
}

int main(int argc, char **argv)
{
    if (argc != 9 && argc != 12 && argc != 13) {
        fprintf(stderr, "usage: conv C H W O K PAD N REPS [FWD DX DK [HALVES]]\n");
        return 2;
    }
    int a[12] = {0};
    for (int i = 0; i < argc - 1; i++)
        a[i] = atoi(argv[i + 1]);
    int C = a[0], H = a[1], W = a[2], O = a[3], K = a[4], P = a[5], n = a[6], reps = a[7];
    int two = a[11] != 0;
    NnrtConv c = {C, H, W, O, K, K, H + 2 * P - K + 1, W + 2 * P - K + 1, 1, 1, P, P, 0};
    fwd = dx = dk = c;
    fwd.gemm = a[8], dx.gemm = a[9], dk.gemm = a[10];
    k = randoms((size_t)O * C * K * K), b = randoms((size_t)O);
    for (int h = 0; h < 1 + two; h++) {
        int m = two ? (h ? n - n / 2 : n / 2) : n;
        size_t nx = (size_t)C * H * W * m, ny = (size_t)O * c.OH * c.OW * m;
        pass[h] = (Pass){m, randoms(nx), randoms(nx), randoms(ny), randoms(ny),
                         randoms((size_t)O * C * K * K), randoms((size_t)O)};
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (two) {
            nnrt_parallel(halves, NULL, 2, 1);
            for (int i = 0; i < O * C * K * K; i++)
                pass[0].gk[i] += pass[1].gk[i];
            for (int i = 0; i < O; i++)
                pass[0].db[i] += pass[1].db[i];
        } else {
            run(&pass[0]);
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    double flops = 3.0 * 2 * C * K * K * O * c.OH * c.OW * n;
    printf("conv %.6f %.2f\n", best, flops / best * 1e-9);
    return 0;
}
