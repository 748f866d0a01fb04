/*
 * nnrt_gemm.c - C = alpha op(A) op(B) + beta C for the generated code's
 * large layers (row-major; op(X) = X or X').  Only trainers that call
 * nnrt_gemm link this file, and with it OpenBLAS (nnrt_transpose.c has the
 * transposes every trainer needs).
 *
 * Three ways to multiply, chosen per call by size:
 *  - the plain loops (nnrt_gemm_naive), the reference: each transpose case
 *    has the loop order whose innermost loop walks memory contiguously
 *    (i-k-j when B is not transposed, so a row of B streams into a row of
 *    C; a dot product over k when B is transposed);
 *  - our own blocked kernel (nnrt_gemm_blocked), used when the runtime is
 *    built without OpenBLAS: panels of op(B) and strips of op(A) are copied
 *    into contiguous buffers that stay in cache, and a 4 x 2V micro-kernel
 *    (V = the SIMD width in reals) keeps a 4 x 2V block of C in registers
 *    while it runs down k;
 *  - OpenBLAS's cblas_sgemm/dgemm (on one thread) when built with it
 *    (NNRT_OPENBLAS), for products with M*N*K above GEMM_BLAS_MIN; below
 *    that the call overhead dominates.
 * NNRT_GEMM=loops|blocked|blas in the environment forces one of them (tests
 * compare them on the same model and data).  Large products are cut into
 * parts for the runtime's threads (below, GEMM_SPLIT_MIN), whichever way
 * computes them.
 *
 * beta == 0 means C is overwritten, never read, so NaN or garbage already
 * in C does not leak into the result (0 * NaN would be NaN).
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NNRT_OPENBLAS
#include <cblas.h>
#endif

#define GEMM_BLAS_MIN 32768
#ifdef NNRT_OPENBLAS
#define NNRT_HAS_BLAS 1
#else
#define NNRT_HAS_BLAS 0
#endif

/* C = beta C, with beta == 0 meaning "set to zero". */
static void scale_c(int M, int N, nnrt_real beta, nnrt_real *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        nnrt_real *c = C + (size_t)i * ldc;
        if (beta == 0)
            memset(c, 0, (size_t)N * sizeof *c);
        else if (beta != 1)
            for (int j = 0; j < N; j++)
                c[j] *= beta;
    }
}

void nnrt_gemm_naive(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                     const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                     nnrt_real beta, nnrt_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    scale_c(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0)
        return;
    if (!tb) {
        /* C[i,:] += alpha op(A)[i,k] B[k,:]  (i-k-j: rows of B and C contiguous) */
        for (int i = 0; i < M; i++) {
            nnrt_real *restrict c = C + (size_t)i * ldc;
            for (int k = 0; k < K; k++) {
                nnrt_real a = alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                const nnrt_real *restrict b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++)
                    c[j] += a * b[j];
            }
        }
    } else if (!ta) {
        /* C[i,j] += alpha sum_k A[i,k] B[j,k]  (rows of A and B contiguous in k) */
        for (int i = 0; i < M; i++) {
            const nnrt_real *restrict a = A + (size_t)i * lda;
            nnrt_real *restrict c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) {
                const nnrt_real *restrict b = B + (size_t)j * ldb;
                nnrt_real s = 0;
                for (int k = 0; k < K; k++)
                    s += a[k] * b[k];
                c[j] += alpha * s;
            }
        }
    } else {
        /* C[i,j] += alpha sum_k A[k,i] B[j,k]: rare; B's rows contiguous in k. */
        for (int i = 0; i < M; i++) {
            nnrt_real *restrict c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) {
                const nnrt_real *restrict b = B + (size_t)j * ldb;
                nnrt_real s = 0;
                for (int k = 0; k < K; k++)
                    s += A[(size_t)k * lda + i] * b[k];
                c[j] += alpha * s;
            }
        }
    }
}

/* ---- the blocked kernel ----
 * For each block of NC columns and KC steps of k, op(B)[k0.., j0..] is
 * copied into panels of NR columns (panel[k][NR], zero-padded at the right
 * edge), then for each strip of MR rows op(A)[i0.., k0..] into strip[k][MR];
 * the micro-kernel multiplies a strip by a panel.  One panel block is
 * KC * NC reals (512 KiB in float32), about the size of the L2 cache; it is
 * allocated once per thread, on the first call. */
#ifdef __GNUC__
#define GEMM_MR 4
#define GEMM_KC 256
#define GEMM_NC 512
/* GNU C vectors of 32 bytes: 8 floats or 4 doubles, one AVX register (two
 * SSE registers on the baseline) */
typedef nnrt_real nnrt_vec __attribute__((vector_size(32)));
#define GEMM_V ((int)(sizeof(nnrt_vec) / sizeof(nnrt_real)))
#define GEMM_NR (2 * GEMM_V)

/* C[mr, nr] += alpha strip' panel: 8 vector accumulators, a 4 x 2V block */
NNRT_KERNEL_FMA
static void micro_kernel(int kc, const nnrt_real *restrict strip, const nnrt_real *restrict panel,
                         nnrt_real alpha, nnrt_real *restrict C, int ldc, int mr, int nr)
{
    nnrt_vec c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
    nnrt_vec c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int k = 0; k < kc; k++) {
        nnrt_vec b0, b1;
        memcpy(&b0, panel + k * GEMM_NR, sizeof b0);
        memcpy(&b1, panel + k * GEMM_NR + GEMM_V, sizeof b1);
        const nnrt_real *a = strip + k * GEMM_MR;
        c00 += a[0] * b0;
        c01 += a[0] * b1;
        c10 += a[1] * b0;
        c11 += a[1] * b1;
        c20 += a[2] * b0;
        c21 += a[2] * b1;
        c30 += a[3] * b0;
        c31 += a[3] * b1;
    }
    nnrt_real acc[GEMM_MR][GEMM_NR];
    memcpy(acc[0], &c00, sizeof c00);
    memcpy(acc[0] + GEMM_V, &c01, sizeof c01);
    memcpy(acc[1], &c10, sizeof c10);
    memcpy(acc[1] + GEMM_V, &c11, sizeof c11);
    memcpy(acc[2], &c20, sizeof c20);
    memcpy(acc[2] + GEMM_V, &c21, sizeof c21);
    memcpy(acc[3], &c30, sizeof c30);
    memcpy(acc[3] + GEMM_V, &c31, sizeof c31);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++)
            C[(size_t)r * ldc + j] += alpha * acc[r][j];
}

int nnrt_gemm_blocked(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                      const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                      nnrt_real beta, nnrt_real *C, int ldc)
{
    static _Thread_local nnrt_real *panels;
    if (!panels && !(panels = malloc((size_t)GEMM_KC * GEMM_NC * sizeof *panels)))
        return -1;
    if (M <= 0 || N <= 0)
        return 0;
    scale_c(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0)
        return 0;
    nnrt_real strip[GEMM_KC * GEMM_MR];
    for (int j0 = 0; j0 < N; j0 += GEMM_NC) {
        int nc = N - j0 < GEMM_NC ? N - j0 : GEMM_NC;
        for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
            int kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
            for (int jp = 0; jp < nc; jp += GEMM_NR) {
                nnrt_real *pan = panels + (size_t)jp * kc;
                int nr = nc - jp < GEMM_NR ? nc - jp : GEMM_NR;
                for (int k = 0; k < kc; k++)
                    for (int j = 0; j < GEMM_NR; j++) {
                        size_t col = (size_t)j0 + jp + j, row = (size_t)k0 + k;
                        pan[k * GEMM_NR + j] = j >= nr ? 0 : tb ? B[col * ldb + row]
                                                                : B[row * ldb + col];
                    }
            }
            for (int i0 = 0; i0 < M; i0 += GEMM_MR) {
                int mr = M - i0 < GEMM_MR ? M - i0 : GEMM_MR;
                for (int k = 0; k < kc; k++)
                    for (int r = 0; r < GEMM_MR; r++) {
                        size_t row = (size_t)i0 + r, col = (size_t)k0 + k;
                        strip[k * GEMM_MR + r] = r >= mr ? 0 : ta ? A[col * lda + row]
                                                                  : A[row * lda + col];
                    }
                for (int jp = 0; jp < nc; jp += GEMM_NR)
                    micro_kernel(kc, strip, panels + (size_t)jp * kc, alpha,
                                 C + (size_t)i0 * ldc + j0 + jp, ldc, mr,
                                 nc - jp < GEMM_NR ? nc - jp : GEMM_NR);
            }
        }
    }
    return 0;
}
#else
int nnrt_gemm_blocked(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                      const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                      nnrt_real beta, nnrt_real *C, int ldc)
{
    nnrt_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return 0;
}
#endif

/* Products below this many multiply-adds stay in the plain loops, where
 * copying operands into panels would cost more than it saves. */
#define GEMM_BLOCKED_MIN 4096

enum { GEMM_AUTO, GEMM_LOOPS, GEMM_BLOCKED, GEMM_BLAS };

/* NNRT_GEMM from the environment, read once. */
static int gemm_mode(void)
{
    static int mode = -1;
    if (mode < 0) {
        const char *e = getenv("NNRT_GEMM");
        if (!e || !*e)
            mode = GEMM_AUTO;
        else if (strcmp(e, "loops") == 0)
            mode = GEMM_LOOPS;
        else if (strcmp(e, "blocked") == 0)
            mode = GEMM_BLOCKED;
        else if (strcmp(e, "blas") == 0)
            mode = GEMM_BLAS;
        else {
            fprintf(stderr, "error: NNRT_GEMM=%s: expected loops, blocked or blas\n", e);
            exit(2);
        }
#ifndef NNRT_OPENBLAS
        if (mode == GEMM_BLAS) {
            fprintf(stderr, "error: NNRT_GEMM=blas: this runtime was built without OpenBLAS\n");
            exit(2);
        }
#endif
    }
    return mode;
}

/* One product on the calling thread, by `how` (GEMM_LOOPS, GEMM_BLOCKED
 * or GEMM_BLAS). */
static void gemm_one(int how, int ta, int tb, int M, int N, int K, nnrt_real alpha,
                     const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                     nnrt_real beta, nnrt_real *C, int ldc)
{
#ifdef NNRT_OPENBLAS
    if (how == GEMM_BLAS) {
        /* with beta == 0, BLAS sets C without reading it (the BLAS
         * definition; OpenBLAS stores zeros first), so no NaN in C leaks
         * in: tests/unit/check_runtime.c checks it */
#ifdef NNRT_F64
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
        return;
    }
#endif
    if (how == GEMM_BLOCKED && nnrt_gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
                                                 C, ldc) == 0)
        return;
    nnrt_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Products of more than GEMM_SPLIT_MIN multiply-adds are cut into parts
 * along the larger of M and N (rows or columns of C), which the runtime's
 * threads compute (nnrt_parallel), each part by one call over all of K:
 * GEMM_PARTS parts, for the two cores of the machine this was tuned on
 * (more parts would copy the uncut operand into panels more often, which
 * one thread pays for in full).  The cut depends on the shape alone, not
 * on the number of threads, so the result is the same bits on any number.
 * Cutting the larger dimension copies the smaller operand into each part's
 * panels (the other is split between them).  Parts are multiples of
 * GEMM_PART_ALIGN rows or columns, so that the kernels see whole register
 * blocks. */
#define GEMM_SPLIT_MIN (1 << 20)
#define GEMM_PARTS 2
#define GEMM_PART_ALIGN 16

typedef struct Part {
    int how, ta, tb, M, N, K, rows;   /* rows: C's rows are cut, else its columns */
    int64_t part;                     /* rows or columns per part */
    nnrt_real alpha, beta;
    const nnrt_real *A, *B;
    nnrt_real *C;
    int lda, ldb, ldc;
} Part;

/* C's rows (or columns) [lo, hi), one part at a time (nnrt_parallel on one
 * thread passes the whole range) */
static void part_range(void *ctx, int64_t lo, int64_t hi)
{
    const Part *p = ctx;
    for (int64_t i = lo; i < hi; i += p->part) {
        int n = (int)(hi - i < p->part ? hi - i : p->part);
        if (p->rows)
            gemm_one(p->how, p->ta, p->tb, n, p->N, p->K, p->alpha,
                     p->A + (p->ta ? i : i * p->lda), p->lda, p->B, p->ldb, p->beta,
                     p->C + i * p->ldc, p->ldc);
        else
            gemm_one(p->how, p->ta, p->tb, p->M, n, p->K, p->alpha, p->A, p->lda,
                     p->B + (p->tb ? i * p->ldb : i), p->ldb, p->beta, p->C + i, p->ldc);
    }
}

#ifdef NNRT_OPENBLAS
/* The runtime's threads divide the products between them; OpenBLAS's own
 * would fight them for the cores (they poll after each call). */
static void blas_single_thread(void)
{
    static int done;
    if (!done) {
        openblas_set_num_threads(1);
        done = 1;
    }
}
#endif

/* How a product of `size` multiply-adds is computed: NNRT_GEMM, else by
 * its size. */
static int gemm_how(int64_t size)
{
    int mode = gemm_mode();
    int how = mode != GEMM_AUTO ? mode
              : size > GEMM_BLAS_MIN && NNRT_HAS_BLAS ? GEMM_BLAS
              : size > GEMM_BLOCKED_MIN ? GEMM_BLOCKED : GEMM_LOOPS;
#ifdef NNRT_OPENBLAS
    if (how == GEMM_BLAS)
        blas_single_thread();
#endif
    return how;
}

void nnrt_gemm(int ta, int tb, int M, int N, int K, nnrt_real alpha,
               const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
               nnrt_real beta, nnrt_real *C, int ldc)
{
    int64_t size = (int64_t)M * N * K;
    if (M <= 0 || N <= 0 || K <= 0) {
        nnrt_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int how = gemm_how(size);
    int rows = M >= N, dim = rows ? M : N;
    int64_t part = (dim + GEMM_PARTS - 1) / GEMM_PARTS;
    part = (part + GEMM_PART_ALIGN - 1) / GEMM_PART_ALIGN * GEMM_PART_ALIGN;
    Part p = { how, ta, tb, M, N, K, rows, part, alpha, beta, A, B, C, lda, ldb, ldc };
    if (size > GEMM_SPLIT_MIN && part < dim)
        nnrt_parallel(part_range, &p, dim, part);
    else
        gemm_one(how, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nnrt_gemm_serial(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                      const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                      nnrt_real beta, nnrt_real *C, int ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        nnrt_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        gemm_one(gemm_how((int64_t)M * N * K), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
                 C, ldc);
}
