/*
 * nnrt_gemm.c - C = alpha op(A) op(B) + beta C for the generated code's
 * large layers (row-major; op(X) = X or X').
 *
 * The plain loops come first and are the reference: each transpose case
 * has the loop order whose innermost loop walks memory contiguously
 * (i-k-j when B is not transposed, so a row of B streams into a row of C;
 * a dot product over k when B is transposed, since then rows of A and B are
 * both contiguous in k).  When the runtime is built with OpenBLAS
 * (NNRT_OPENBLAS) products with M*N*K above GEMM_BLAS_MIN go to
 * cblas_sgemm/dgemm instead; below that the call overhead dominates.
 * NNRT_BLAS=0 in the environment keeps every product in the plain loops
 * (tests compare the two paths on the same model and data).
 *
 * beta == 0 means C is overwritten, never read, so NaN or garbage already
 * in C does not leak into the result (0 * NaN would be NaN).
 */
#include "nnrt_internal.h"

#include <stdlib.h>
#include <string.h>

#ifdef NNRT_OPENBLAS
#include <cblas.h>
#endif

#define GEMM_BLAS_MIN 32768

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

#ifdef NNRT_OPENBLAS
static int blas_enabled(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("NNRT_BLAS");
        on = !(e && strcmp(e, "0") == 0);
    }
    return on;
}
#endif

void nnrt_gemm(int ta, int tb, int M, int N, int K, nnrt_real alpha,
               const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
               nnrt_real beta, nnrt_real *C, int ldc)
{
#ifdef NNRT_OPENBLAS
    if (M > 0 && N > 0 && K > 0 && (int64_t)M * N * K > GEMM_BLAS_MIN && blas_enabled()) {
        if (beta == 0) {
            scale_c(M, N, 0, C, ldc);   /* never let BLAS read a NaN in C */
        }
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
    nnrt_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* 32 x 32 tiles: 4 KiB of each side in cache at once, so the strided side
 * (a row of dst per element of a src row) costs a cache line per 32
 * elements instead of one per element; with n = 1024 samples the plain
 * double loop was 14 times slower (every store 4 KiB from the last). */
#define TRANSPOSE_TILE 32

NNRT_KERNEL
void nnrt_transpose(const nnrt_real *restrict src, int rows, int cols, nnrt_real *restrict dst)
{
    for (int i0 = 0; i0 < rows; i0 += TRANSPOSE_TILE) {
        int i1 = i0 + TRANSPOSE_TILE < rows ? i0 + TRANSPOSE_TILE : rows;
        for (int j0 = 0; j0 < cols; j0 += TRANSPOSE_TILE) {
            int j1 = j0 + TRANSPOSE_TILE < cols ? j0 + TRANSPOSE_TILE : cols;
            for (int j = j0; j < j1; j++)
                for (int i = i0; i < i1; i++)
                    dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
        }
    }
}
