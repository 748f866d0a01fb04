/*
 * nnrt_transpose.c - the blocked transpose that moves data in and out of
 * the generated code's samples-innermost layout.  A file of its own, apart
 * from nnrt_gemm.c: a trainer whose products are all loops (a tiny model)
 * links neither that file nor OpenBLAS, whose loading would cost its
 * process a few milliseconds at start (libnnrt.ldflags links --as-needed).
 */
#include "nnrt_internal.h"

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
#pragma omp simd
                for (int i = i0; i < i1; i++)   /* strided loads, contiguous stores */
                    dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
        }
    }
}
