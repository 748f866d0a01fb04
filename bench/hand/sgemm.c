/*
 * sgemm.c - the machine's limit for W3's matrix products: OpenBLAS sgemm
 * GFLOP/s at the shapes of one training step (batch 64, 784-256-128-10)
 * and at 1024^3.  Prints "gflops_step G gflops_1024 H"; the thread count
 * is OpenBLAS's (OPENBLAS_NUM_THREADS), with denormals flushed as in the
 * trainers.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xmmintrin.h>

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

/* C[M,N] = op(A) op(B), timed over reps; returns GFLOP/s */
static double rate(int ta, int tb, int M, int N, int K, int reps)
{
    float *A = randn((size_t)M * K), *B = randn((size_t)K * N), *C = randn((size_t)M * N);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C, N);
    double t0 = now();
    for (int r = 0; r < reps; r++)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C, N);
    double t = now() - t0;
    free(A);
    free(B);
    free(C);
    return 2.0 * M * N * K * reps / t / 1e9;
}

int main(void)
{
    _mm_setcsr(_mm_getcsr() | 0x8040);
    /* one step's products: forward, weight gradients, input gradients of layers 2, 3 */
    static const int shape[][5] = {
        {0, 0, 256, 64, 784}, {0, 0, 128, 64, 256}, {0, 0, 10, 64, 128},
        {0, 1, 256, 784, 64}, {0, 1, 128, 256, 64}, {0, 1, 10, 128, 64},
        {1, 0, 256, 64, 128}, {1, 0, 128, 64, 10},
    };
    double flops = 0, secs = 0;
    for (size_t s = 0; s < sizeof shape / sizeof shape[0]; s++) {
        const int *p = shape[s];
        double f = 2.0 * p[2] * p[3] * p[4];
        double g = rate(p[0], p[1], p[2], p[3], p[4], 200);
        flops += f;
        secs += f / (g * 1e9);
    }
    printf("gflops_step %.1f gflops_1024 %.1f\n", flops / secs / 1e9, rate(0, 0, 1024, 1024, 1024, 5));
    return 0;
}
