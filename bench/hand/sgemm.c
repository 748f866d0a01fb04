/*
 * sgemm.c - the machine's limit for W3's matrix products: OpenBLAS sgemm
 * GFLOP/s at the shapes of one training step (batch 64, 784-256-128-10,
 * in the generated code's layout) and at 1024^3, with denormals flushed as
 * in the trainers.
 *
 * A limit should be the best the library can do, so each shape is timed
 * with 1 and with 2 threads (openblas_set_num_threads), each as the best of
 * 7 trials of enough calls to take about 20 ms (a busy machine only ever
 * makes a trial slower), after a warm-up.  The step's rate is its flops
 * over the sum of the shapes' best times.  Prints one line
 *   gflops_step G gflops_1024 H threads1_step A threads2_step B
 * and, with -v, a line per shape.
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

int main(int argc, char **argv)
{
    int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    _mm_setcsr(_mm_getcsr() | 0x8040);
    /* one step's products as nnc's trainer calls them (samples innermost):
     * forward W @ x, weight gradients d_h @ x', input gradients W' @ d_h of
     * layers 2 and 3 (layer 3's products run as loops in the trainer, but
     * they are part of the step's flops) */
    static const int shape[][5] = {
        {0, 0, 256, 64, 784}, {0, 0, 128, 64, 256}, {0, 0, 10, 64, 128},
        {0, 1, 256, 784, 64}, {0, 1, 128, 256, 64}, {0, 1, 10, 128, 64},
        {1, 0, 256, 64, 128}, {1, 0, 128, 64, 10},
    };
    double flops = 0, secs[3] = {0, 0, 0};   /* best of both, 1 thread, 2 threads */
    for (size_t s = 0; s < sizeof shape / sizeof shape[0]; s++) {
        const int *p = shape[s];
        double t1 = best_time(p[0], p[1], p[2], p[3], p[4], 1);
        double t2 = best_time(p[0], p[1], p[2], p[3], p[4], 2);
        double f = 2.0 * p[2] * p[3] * p[4];
        flops += f;
        secs[0] += t1 < t2 ? t1 : t2;
        secs[1] += t1;
        secs[2] += t2;
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
