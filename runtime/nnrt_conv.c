/*
 * nnrt_conv.c - convolutions and pools over the generated code's layout
 * (nnrt.h, NnrtConv): every map stored samples innermost, element e of
 * sample b at e * ld + b.
 *
 * The samples are the vector: each kernel computes a block of BV samples
 * (a cache line's worth of reals) of a few outputs at once, OB output
 * channels (or, for the input's gradient, OB input channels), in a small
 * array of accumulators the compiler keeps in vector registers, while it
 * runs down the window's terms: per term one load of BV input values, one
 * broadcast weight per output, OB vector multiply-adds.  That is a
 * register-blocked direct convolution with no copy of the input (im2col)
 * and no allocation; padding is the window's terms skipped where they fall
 * outside the map.  The block's sizes are constants in the common case
 * (block_*() inlined with OB, BV), so the loops unroll; the last samples
 * of a batch that fill no whole block, and the last channels, run through
 * the same code with variable bounds.
 *
 * The work is cut into rows of output (channel block, output row) for the
 * runtime's threads (nnrt_parallel); every output element, and every
 * entry of the kernel's gradient (a sum over the samples and positions),
 * is computed by one thread in a fixed order, so the result is the same
 * whatever the threads.
 */
#include "nnrt_internal.h"

#include <string.h>

#define BV (64 / (int)sizeof(nnrt_real))   /* samples per block: 16 floats, 8 doubles */
#define OB 4                                /* channels per block */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A whole block's kernels hold it in NV vectors of VL samples (GCC's
 * vector extension: 8 floats, 4 doubles, one AVX register; the baseline
 * build splits them), OB x NV accumulators in registers. */
typedef nnrt_real vreal __attribute__((vector_size(32)));
#define VL ((int)(32 / sizeof(nnrt_real)))
#define NV (BV / VL)

/* (macros, not functions: a vector passed by value would change the
 * baseline build's ABI) */
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(vreal))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(vreal))
#define VSPLAT(x) ((vreal){0} + (x))

/* the sample block [b0, b0 + nb) of element e */
#define AT(p, e) ((p) + (size_t)(e) * (size_t)ld + (size_t)b0)

/* ---- forward: y = conv(x, K) + bias ---- */

typedef struct ConvJob {
    const NnrtConv *c;
    int n, ld;
    const nnrt_real *a, *b, *bias;   /* the operands */
    nnrt_real *out;
    int add;
} ConvJob;

/* y[o0 .. o0+ob, oy, ox] for samples [b0, b0 + nb) */
ALWAYS_INLINE void block_fwd(const ConvJob *jb, int o0, int ob, int oy, int ox, int b0, int nb)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    nnrt_real acc[OB][BV];
    for (int q = 0; q < ob; q++)
        for (int t = 0; t < nb; t++)
            acc[q][t] = jb->bias ? jb->bias[o0 + q] : 0;
    int iy0 = oy * c->sh - c->ph, ix0 = ox * c->sw - c->pw;
    int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = c->H - iy0 < c->KH ? c->H - iy0 : c->KH;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = c->W - ix0 < c->KW ? c->W - ix0 : c->KW;
    int ksize = c->C * c->KH * c->KW;
    for (int ch = 0; ch < c->C; ch++)
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                const nnrt_real *xp = AT(jb->a, (ch * c->H + iy0 + ky) * c->W + ix0 + kx);
                const nnrt_real *w = jb->b + (size_t)o0 * ksize + (ch * c->KH + ky) * c->KW + kx;
                for (int q = 0; q < ob; q++) {
                    nnrt_real wq = w[(size_t)q * ksize];
                    for (int t = 0; t < nb; t++)
                        acc[q][t] += wq * xp[t];
                }
            }
    for (int q = 0; q < ob; q++) {
        nnrt_real *yp = AT(jb->out, ((o0 + q) * c->OH + oy) * c->OW + ox);
        for (int t = 0; t < nb; t++)
            yp[t] = acc[q][t];
    }
}

/* block_fwd for OB channels and BV samples, in registers */
ALWAYS_INLINE void vblock_fwd(const ConvJob *jb, int o0, int ob, int oy, int ox, int b0)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    vreal acc[OB][NV];
    for (int q = 0; q < ob; q++)
        for (int v = 0; v < NV; v++)
            acc[q][v] = VSPLAT(jb->bias ? jb->bias[o0 + q] : 0);
    int iy0 = oy * c->sh - c->ph, ix0 = ox * c->sw - c->pw;
    int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = c->H - iy0 < c->KH ? c->H - iy0 : c->KH;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = c->W - ix0 < c->KW ? c->W - ix0 : c->KW;
    int ksize = c->C * c->KH * c->KW;
    for (int ch = 0; ch < c->C; ch++)
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                const nnrt_real *xp = AT(jb->a, (ch * c->H + iy0 + ky) * c->W + ix0 + kx);
                const nnrt_real *w = jb->b + (size_t)o0 * ksize + (ch * c->KH + ky) * c->KW + kx;
                vreal xv[NV];
                for (int v = 0; v < NV; v++)
                    VLOAD(xv[v], xp + v * VL);
                for (int q = 0; q < ob; q++) {
                    vreal wq = VSPLAT(w[(size_t)q * ksize]);
                    for (int v = 0; v < NV; v++)
                        acc[q][v] += wq * xv[v];
                }
            }
    for (int q = 0; q < ob; q++) {
        nnrt_real *yp = AT(jb->out, ((o0 + q) * c->OH + oy) * c->OW + ox);
        for (int v = 0; v < NV; v++)
            VSTORE(yp + v * VL, acc[q][v]);
    }
}

/* rows [lo, hi) of (channel block, output row) */
NNRT_KERNEL_FMA
static void rows_fwd(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *jb = ctx;
    const NnrtConv *c = jb->c;
    for (int64_t r = lo; r < hi; r++) {
        int o0 = (int)(r / c->OH) * OB, oy = (int)(r % c->OH);
        int ob = c->O - o0 < OB ? c->O - o0 : OB;
        for (int ox = 0; ox < c->OW; ox++) {
            int b0 = 0;
            /* whole blocks, the channels' count a constant for the compiler */
            for (; b0 + BV <= jb->n; b0 += BV)
                switch (ob) {
                case 4: vblock_fwd(jb, o0, 4, oy, ox, b0); break;
                case 3: vblock_fwd(jb, o0, 3, oy, ox, b0); break;
                case 2: vblock_fwd(jb, o0, 2, oy, ox, b0); break;
                default: vblock_fwd(jb, o0, 1, oy, ox, b0); break;
                }
            for (; b0 < jb->n; b0 += BV)
                block_fwd(jb, o0, ob, oy, ox, b0, jb->n - b0 < BV ? jb->n - b0 : BV);
        }
    }
}

/* rows per chunk of the threads' work: about 64k multiply-adds */
static int64_t chunk_rows(int64_t per_row)
{
    int64_t k = per_row > 0 ? 65536 / per_row : 1;
    return k < 1 ? 1 : k;
}

void nnrt_conv(const NnrtConv *c, int n, int ld, const nnrt_real *x, const nnrt_real *K,
               const nnrt_real *bias, nnrt_real *y)
{
    ConvJob jb = {c, n, ld, x, K, bias, y, 0};
    int64_t rows = (int64_t)((c->O + OB - 1) / OB) * c->OH;
    nnrt_parallel(rows_fwd, &jb, rows,
                  chunk_rows((int64_t)OB * c->OW * n * c->C * c->KH * c->KW));
}

/* ---- the input's gradient: dx (+)= conv_transpose(dy, K) ---- */

/* dx[c0 .. c0+cb, iy, ix] for samples [b0, b0 + nb): the terms of every
 * output whose window covers (iy, ix) */
ALWAYS_INLINE void block_bwd_x(const ConvJob *jb, int c0, int cb, int iy, int ix, int b0, int nb)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    nnrt_real acc[OB][BV];
    for (int q = 0; q < cb; q++) {
        const nnrt_real *dx = AT(jb->out, ((c0 + q) * c->H + iy) * c->W + ix);
        for (int t = 0; t < nb; t++)
            acc[q][t] = jb->add ? dx[t] : 0;
    }
    int kk = c->KH * c->KW;
    for (int ky = 0; ky < c->KH; ky++) {
        int ty = iy + c->ph - ky;
        if (ty < 0 || ty % c->sh || ty / c->sh >= c->OH)
            continue;
        for (int kx = 0; kx < c->KW; kx++) {
            int tx = ix + c->pw - kx;
            if (tx < 0 || tx % c->sw || tx / c->sw >= c->OW)
                continue;
            int pos = (ty / c->sh) * c->OW + tx / c->sw;
            for (int o = 0; o < c->O; o++) {
                const nnrt_real *dy = AT(jb->a, o * c->OH * c->OW + pos);
                const nnrt_real *w = jb->b + ((size_t)o * c->C + c0) * kk + ky * c->KW + kx;
                for (int q = 0; q < cb; q++) {
                    nnrt_real wq = w[(size_t)q * kk];
                    for (int t = 0; t < nb; t++)
                        acc[q][t] += wq * dy[t];
                }
            }
        }
    }
    for (int q = 0; q < cb; q++) {
        nnrt_real *dx = AT(jb->out, ((c0 + q) * c->H + iy) * c->W + ix);
        for (int t = 0; t < nb; t++)
            dx[t] = acc[q][t];
    }
}

/* block_bwd_x for OB channels and BV samples, in registers */
ALWAYS_INLINE void vblock_bwd_x(const ConvJob *jb, int c0, int ob, int iy, int ix, int b0)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    vreal acc[OB][NV];
    for (int q = 0; q < ob; q++) {
        const nnrt_real *dx = AT(jb->out, ((c0 + q) * c->H + iy) * c->W + ix);
        for (int v = 0; v < NV; v++)
            if (jb->add)
                VLOAD(acc[q][v], dx + v * VL);
            else
                acc[q][v] = VSPLAT(0);
    }
    int kk = c->KH * c->KW;
    for (int ky = 0; ky < c->KH; ky++) {
        int ty = iy + c->ph - ky;
        if (ty < 0 || ty % c->sh || ty / c->sh >= c->OH)
            continue;
        for (int kx = 0; kx < c->KW; kx++) {
            int tx = ix + c->pw - kx;
            if (tx < 0 || tx % c->sw || tx / c->sw >= c->OW)
                continue;
            int pos = (ty / c->sh) * c->OW + tx / c->sw;
            for (int o = 0; o < c->O; o++) {
                const nnrt_real *dy = AT(jb->a, o * c->OH * c->OW + pos);
                const nnrt_real *w = jb->b + ((size_t)o * c->C + c0) * kk + ky * c->KW + kx;
                vreal dv[NV];
                for (int v = 0; v < NV; v++)
                    VLOAD(dv[v], dy + v * VL);
                for (int q = 0; q < ob; q++) {
                    vreal wq = VSPLAT(w[(size_t)q * kk]);
                    for (int v = 0; v < NV; v++)
                        acc[q][v] += wq * dv[v];
                }
            }
        }
    }
    for (int q = 0; q < ob; q++) {
        nnrt_real *dx = AT(jb->out, ((c0 + q) * c->H + iy) * c->W + ix);
        for (int v = 0; v < NV; v++)
            VSTORE(dx + v * VL, acc[q][v]);
    }
}

NNRT_KERNEL_FMA
static void rows_bwd_x(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *jb = ctx;
    const NnrtConv *c = jb->c;
    for (int64_t r = lo; r < hi; r++) {
        int c0 = (int)(r / c->H) * OB, iy = (int)(r % c->H);
        int cb = c->C - c0 < OB ? c->C - c0 : OB;
        for (int ix = 0; ix < c->W; ix++) {
            int b0 = 0;
            for (; b0 + BV <= jb->n; b0 += BV)
                switch (cb) {
                case 4: vblock_bwd_x(jb, c0, 4, iy, ix, b0); break;
                case 3: vblock_bwd_x(jb, c0, 3, iy, ix, b0); break;
                case 2: vblock_bwd_x(jb, c0, 2, iy, ix, b0); break;
                default: vblock_bwd_x(jb, c0, 1, iy, ix, b0); break;
                }
            for (; b0 < jb->n; b0 += BV)
                block_bwd_x(jb, c0, cb, iy, ix, b0, jb->n - b0 < BV ? jb->n - b0 : BV);
        }
    }
}

void nnrt_conv_bwd_x(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *K,
                     nnrt_real *dx, int add)
{
    ConvJob jb = {c, n, ld, dy, K, NULL, dx, add};
    int64_t rows = (int64_t)((c->C + OB - 1) / OB) * c->H;
    nnrt_parallel(rows_bwd_x, &jb, rows,
                  chunk_rows((int64_t)OB * c->W * n * c->O * c->KH * c->KW / (c->sh * c->sw)));
}

/* ---- the kernel's gradient: dK (+)= sum over samples and positions ---- */

/* acc[q][t] += sum over the output positions whose window puts (ky, kx) on
 * the map of dy[o0 + q, pos] x[ch, pos's input], samples [b0, b0 + nb) */
ALWAYS_INLINE void block_bwd_k(const ConvJob *jb, nnrt_real (*acc)[BV], int o0, int ob, int ch,
                               int ky, int kx, int b0, int nb)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    for (int oy = 0; oy < c->OH; oy++) {
        int iy = oy * c->sh - c->ph + ky;
        if (iy < 0 || iy >= c->H)
            continue;
        for (int ox = 0; ox < c->OW; ox++) {
            int ix = ox * c->sw - c->pw + kx;
            if (ix < 0 || ix >= c->W)
                continue;
            const nnrt_real *xp = AT(jb->b, (ch * c->H + iy) * c->W + ix);
            for (int q = 0; q < ob; q++) {
                const nnrt_real *dy = AT(jb->a, ((o0 + q) * c->OH + oy) * c->OW + ox);
                for (int t = 0; t < nb; t++)
                    acc[q][t] += dy[t] * xp[t];
            }
        }
    }
}

/* block_bwd_k for OB channels and BV samples, in registers */
ALWAYS_INLINE void vblock_bwd_k(const ConvJob *jb, vreal (*acc)[NV], int o0, int ob, int ch, int ky,
                                int kx, int b0)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    for (int oy = 0; oy < c->OH; oy++) {
        int iy = oy * c->sh - c->ph + ky;
        if (iy < 0 || iy >= c->H)
            continue;
        int ox0 = 0, ox1 = c->OW;   /* the columns whose input is on the map */
        while (ox0 < ox1 && ox0 * c->sw - c->pw + kx < 0)
            ox0++;
        while (ox1 > ox0 && (ox1 - 1) * c->sw - c->pw + kx >= c->W)
            ox1--;
        for (int ox = ox0; ox < ox1; ox++) {
            int ix = ox * c->sw - c->pw + kx;
            const nnrt_real *xp = AT(jb->b, (ch * c->H + iy) * c->W + ix);
            vreal xv[NV];
            for (int v = 0; v < NV; v++)
                VLOAD(xv[v], xp + v * VL);
            for (int q = 0; q < ob; q++) {
                const nnrt_real *dy = AT(jb->a, ((o0 + q) * c->OH + oy) * c->OW + ox);
                for (int v = 0; v < NV; v++) {
                    vreal d;
                    VLOAD(d, dy + v * VL);
                    acc[q][v] += d * xv[v];
                }
            }
        }
    }
}

/* entries [lo, hi) of (channel block, input channel): every (ky, kx) of them */
NNRT_KERNEL_FMA
static void rows_bwd_k(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *jb = ctx;
    const NnrtConv *c = jb->c;
    int kk = c->KH * c->KW;
    for (int64_t r = lo; r < hi; r++) {
        int o0 = (int)(r / c->C) * OB, ch = (int)(r % c->C);
        int ob = c->O - o0 < OB ? c->O - o0 : OB;
        for (int ky = 0; ky < c->KH; ky++)
            for (int kx = 0; kx < c->KW; kx++) {
                nnrt_real acc[OB][BV];
                vreal vacc[OB][NV];
                memset(acc, 0, sizeof acc);
                memset(vacc, 0, sizeof vacc);
                int b0 = 0;
                for (; b0 + BV <= jb->n; b0 += BV)
                    switch (ob) {
                    case 4: vblock_bwd_k(jb, vacc, o0, 4, ch, ky, kx, b0); break;
                    case 3: vblock_bwd_k(jb, vacc, o0, 3, ch, ky, kx, b0); break;
                    case 2: vblock_bwd_k(jb, vacc, o0, 2, ch, ky, kx, b0); break;
                    default: vblock_bwd_k(jb, vacc, o0, 1, ch, ky, kx, b0); break;
                    }
                for (; b0 < jb->n; b0 += BV)
                    block_bwd_k(jb, acc, o0, ob, ch, ky, kx, b0, jb->n - b0 < BV ? jb->n - b0 : BV);
                for (int q = 0; q < ob; q++) {
                    nnrt_real s = 0;
                    for (int v = 0; v < NV; v++)
                        for (int t = 0; t < VL; t++)
                            s += vacc[q][v][t];
                    for (int t = 0; t < BV; t++)
                        s += acc[q][t];
                    nnrt_real *d = jb->out + ((size_t)(o0 + q) * c->C + ch) * kk + ky * c->KW + kx;
                    *d = jb->add ? *d + s : s;
                }
            }
    }
}

void nnrt_conv_bwd_k(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                     nnrt_real *dK, int add)
{
    ConvJob jb = {c, n, ld, dy, x, NULL, dK, add};
    int64_t rows = (int64_t)((c->O + OB - 1) / OB) * c->C;
    nnrt_parallel(rows_bwd_k, &jb, rows,
                  chunk_rows((int64_t)OB * c->KH * c->KW * c->OH * c->OW * n));
}

/* ---- the bias's gradient ---- */

NNRT_KERNEL
void nnrt_conv_bwd_b(const NnrtConv *c, int n, int ld, const nnrt_real *dy, nnrt_real *db, int add)
{
    int npos = c->OH * c->OW;
    for (int o = 0; o < c->O; o++) {
        nnrt_real s = 0;
        for (int pos = 0; pos < npos; pos++) {
            const nnrt_real *d = dy + (size_t)(o * npos + pos) * ld;
#pragma omp simd reduction(+ : s)
            for (int b = 0; b < n; b++)
                s += d[b];
        }
        db[o] = add ? db[o] + s : s;
    }
}

/* ---- pools (no padding: ph = pw = 0) ---- */

NNRT_KERNEL
void nnrt_maxpool(const NnrtConv *c, int n, int ld, const nnrt_real *x, nnrt_real *y)
{
    for (int ch = 0; ch < c->C; ch++)
        for (int oy = 0; oy < c->OH; oy++)
            for (int ox = 0; ox < c->OW; ox++) {
                nnrt_real *yp = y + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld;
                const nnrt_real *x0 = x + (size_t)((ch * c->H + oy * c->sh) * c->W + ox * c->sw) * ld;
                for (int b = 0; b < n; b++)
                    yp[b] = x0[b];
                for (int ky = 0; ky < c->KH; ky++)
                    for (int kx = 0; kx < c->KW; kx++) {
                        const nnrt_real *xp = x0 + (size_t)(ky * c->W + kx) * ld;
#pragma omp simd
                        for (int b = 0; b < n; b++)
                            yp[b] = xp[b] > yp[b] ? xp[b] : yp[b];
                    }
            }
}

NNRT_KERNEL
void nnrt_avgpool(const NnrtConv *c, int n, int ld, const nnrt_real *x, nnrt_real *y)
{
    nnrt_real k = (nnrt_real)(c->KH * c->KW);
    for (int ch = 0; ch < c->C; ch++)
        for (int oy = 0; oy < c->OH; oy++)
            for (int ox = 0; ox < c->OW; ox++) {
                nnrt_real *yp = y + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld;
                const nnrt_real *x0 = x + (size_t)((ch * c->H + oy * c->sh) * c->W + ox * c->sw) * ld;
                for (int b = 0; b < n; b++)
                    yp[b] = 0;
                for (int ky = 0; ky < c->KH; ky++)
                    for (int kx = 0; kx < c->KW; kx++) {
                        const nnrt_real *xp = x0 + (size_t)(ky * c->W + kx) * ld;
#pragma omp simd
                        for (int b = 0; b < n; b++)
                            yp[b] += xp[b];
                    }
#pragma omp simd
                for (int b = 0; b < n; b++)
                    yp[b] /= k;
            }
}

/* dx = 0 over the n samples, unless adding */
static void clear_input(const NnrtConv *c, int n, int ld, nnrt_real *dx, int add)
{
    if (add)
        return;
    int size = c->C * c->H * c->W;
    for (int e = 0; e < size; e++)
        memset(dx + (size_t)e * ld, 0, (size_t)n * sizeof *dx);
}

NNRT_KERNEL
void nnrt_maxpool_bwd(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                      nnrt_real *dx, int add)
{
    clear_input(c, n, ld, dx, add);
    /* per sample block: the first maximum's place in the window, then dy
     * added there (windows may overlap when the stride is smaller) */
    nnrt_real best[BV];
    int arg[BV];
    for (int b0 = 0; b0 < n; b0 += BV) {
        int nb = n - b0 < BV ? n - b0 : BV;
        for (int ch = 0; ch < c->C; ch++)
            for (int oy = 0; oy < c->OH; oy++)
                for (int ox = 0; ox < c->OW; ox++) {
                    size_t e0 = (size_t)(ch * c->H + oy * c->sh) * c->W + ox * c->sw;
                    const nnrt_real *x0 = x + e0 * ld + b0;
                    for (int t = 0; t < nb; t++) {
                        best[t] = x0[t];
                        arg[t] = 0;
                    }
                    for (int k = 1; k < c->KH * c->KW; k++) {
                        const nnrt_real *xp = x0 + (size_t)((k / c->KW) * c->W + k % c->KW) * ld;
                        for (int t = 0; t < nb; t++) {
                            int more = xp[t] > best[t];
                            best[t] = more ? xp[t] : best[t];
                            arg[t] = more ? k : arg[t];
                        }
                    }
                    const nnrt_real *d = dy + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld + b0;
                    for (int k = 0; k < c->KH * c->KW; k++) {
                        nnrt_real *dp = dx + (e0 + (size_t)((k / c->KW) * c->W + k % c->KW)) * ld + b0;
                        for (int t = 0; t < nb; t++)
                            dp[t] += arg[t] == k ? d[t] : 0;
                    }
                }
    }
}

NNRT_KERNEL
void nnrt_avgpool_bwd(const NnrtConv *c, int n, int ld, const nnrt_real *dy, nnrt_real *dx,
                      int add)
{
    clear_input(c, n, ld, dx, add);
    nnrt_real k = (nnrt_real)(c->KH * c->KW);
    for (int ch = 0; ch < c->C; ch++)
        for (int oy = 0; oy < c->OH; oy++)
            for (int ox = 0; ox < c->OW; ox++) {
                const nnrt_real *d = dy + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld;
                size_t e0 = (size_t)(ch * c->H + oy * c->sh) * c->W + ox * c->sw;
                for (int ky = 0; ky < c->KH; ky++)
                    for (int kx = 0; kx < c->KW; kx++) {
                        nnrt_real *dp = dx + (e0 + (size_t)(ky * c->W + kx)) * ld;
#pragma omp simd
                        for (int b = 0; b < n; b++)
                            dp[b] += d[b] / k;
                    }
            }
}
