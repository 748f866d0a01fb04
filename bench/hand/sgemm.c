/*
 * sgemm.c - the machine's limit for a workload's matrix products: OpenBLAS
 * sgemm GFLOP/s at the shapes of one training step (batch 64, in the
 * generated code's layout) and at 1024^3, with denormals flushed as in
 * the trainers.  W3 (784-256-128-10) by default; `w6` LeNet-5's, its
 * convolutions as the products over im2col's columns that nnc's trainer
 * runs (runtime/nnrt_conv.c).
 *
 * A limit should be the best the library can do, so each shape is timed
 * with 1 and with 2 threads (openblas_set_num_threads), each as the best of
 * 7 trials of enough calls to take about 20 ms (a busy machine only ever
 * makes a trial slower), after a warm-up.  The step's rate is its flops
 * over the sum of the shapes' best times.  Prints one line
 *   gflops_step G gflops_1024 H threads1_step A threads2_step B
 * and, with -v, a line per shape.
 *
 *   sgemm [-v] [w3|w6]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>

void openblas_set_num_threads(int num_threads);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *randn(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand() / RAND_MAX - 0.5f;
    return p;
}

/* seconds per call of C[M,N] = op(A) op(B) on `threads` threads: best of 7 */
static double best_time(int ta, int tb, int M, int N, int K, int threads)
{
    float *A = randn((size_t)M * K), *B = randn((size_t)K * N), *C = randn((size_t)M * N);
    openblas_set_num_threads(threads);
    double flops = 2.0 * M * N * K;
    int reps = (int)(20e-3 * 50e9 / flops) + 1;   /* ~20 ms at 50 GFLOP/s */
    double best = 1e30;
    for (int trial = -1; trial < 7; trial++) {   /* trial -1: warm-up */
        double t0 = now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, M, N, K, 1, A, ta ? M : K, B,
                        tb ? K : N, 0, C, N);
        double t = (now() - t0) / reps;
        if (trial >= 0 && t < best)
            best = t;
    }
    free(A);
    free(B);
    free(C);
    return best;
}

/* ta tb M N K, and how often a step calls it (0: once) */
typedef int Shape[6];

int main(int argc, char **argv)
{
    int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    int w6 = argc > 1 + verbose && strcmp(argv[1 + verbose], "w6") == 0;
    _mm_setcsr(_mm_getcsr() | 0x8040);
    /* one step's products as nnc's trainer calls them (samples innermost):
     * forward W @ x, weight gradients d_h @ x', input gradients W' @ d_h of
     * layers 2 and 3 (layer 3's products run as loops in the trainer, but
     * they are part of the step's flops) */
    static const Shape w3_shapes[] = {
        {0, 0, 256, 64, 784}, {0, 0, 128, 64, 256}, {0, 0, 10, 64, 128},
        {0, 1, 256, 784, 64}, {0, 1, 128, 256, 64}, {0, 1, 10, 128, 64},
        {1, 0, 256, 64, 128}, {1, 0, 128, 64, 10},
    };
    /* LeNet-5's: each convolution's forward [K | b] [O, C K K + 1] col
     * [C K K + 1, tile] and kernel gradient dy col' for one tile of output
     * positions x 64 samples (61 and 10 positions: nnrt_conv.c's tiles);
     * the second's input gradient K' dy ([C K K, O] [O, tile], as many
     * flops as the forward, computed directly by the trainer); the dense
     * layers as W3's.  Each shape counts as often as a step calls it */
    static const Shape w6_shapes[] = {
        {0, 0, 6, 3904, 26, 13}, {0, 1, 6, 25, 3904, 13},
        {0, 0, 16, 640, 151, 10}, {0, 1, 16, 150, 640, 10}, {1, 0, 150, 640, 16, 10},
        {0, 0, 120, 64, 400}, {0, 0, 84, 64, 120}, {0, 0, 10, 64, 84},
        {0, 1, 120, 400, 64}, {0, 1, 84, 120, 64}, {0, 1, 10, 84, 64},
        {1, 0, 400, 64, 120}, {1, 0, 120, 64, 84}, {1, 0, 84, 64, 10},
    };
    const Shape *shape = w6 ? w6_shapes : w3_shapes;
    size_t nshapes = w6 ? sizeof w6_shapes / sizeof *w6_shapes : sizeof w3_shapes / sizeof *w3_shapes;
    double flops = 0, secs[3] = {0, 0, 0};   /* best of both, 1 thread, 2 threads */
    for (size_t s = 0; s < nshapes; s++) {
        const int *p = shape[s];
        double t1 = best_time(p[0], p[1], p[2], p[3], p[4], 1);
        double t2 = best_time(p[0], p[1], p[2], p[3], p[4], 2);
        double f = 2.0 * p[2] * p[3] * p[4], calls = p[5] ? p[5] : 1;
        flops += f * calls;
        secs[0] += (t1 < t2 ? t1 : t2) * calls;
        secs[1] += t1 * calls;
        secs[2] += t2 * calls;
        if (verbose)
            printf("  %s%s M %4d N %4d K %4d: 1 thread %6.1f, 2 threads %6.1f GFLOP/s\n",
                   p[0] ? "A'" : "A ", p[1] ? "B'" : "B ", p[2], p[3], p[4], f / t1 / 1e9,
                   f / t2 / 1e9);
    }
    double big = 2.0 * 1024 * 1024 * 1024;
    double t1 = best_time(0, 0, 1024, 1024, 1024, 1), t2 = best_time(0, 0, 1024, 1024, 1024, 2);
    if (verbose)
        printf("  1024^3: 1 thread %.1f, 2 threads %.1f GFLOP/s\n", big / t1 / 1e9, big / t2 / 1e9);
    printf("gflops_step %.1f gflops_1024 %.1f threads1_step %.1f threads2_step %.1f\n",
           flops / secs[0] / 1e9, big / (t1 < t2 ? t1 : t2) / 1e9, flops / secs[1] / 1e9,
           flops / secs[2] / 1e9);
    return 0;
}
