/*
 * nnrt_conv.c - convolutions and pools over the generated code's layout
 * (nnrt.h, NnrtConv): every map stored samples innermost, element e of
 * sample b at e * ld + b.
 *
 * Small maps (LeNet's) run through direct kernels, where the samples are
 * the vector: each kernel computes a block of BV samples (a cache line's
 * worth of reals) of a few outputs at once, OB output channels (or, for
 * the input's gradient, OB input channels), in a small array of
 * accumulators the compiler keeps in vector registers, while it runs down
 * the window's terms: per term one load of BV input values, one broadcast
 * weight per output, OB vector multiply-adds.  The forward convolution and
 * the input's gradient (a convolution of dy with the kernel transposed)
 * are the same kernel: only the terms differ, three nested runs of
 * evenly spaced elements and weights (Terms).  There is no copy of the
 * input and no allocation; padding is the window's terms skipped where
 * they fall outside the map.  The block's sizes are constants in the
 * common case (OB, BV), so the loops unroll; the last samples of a batch
 * that fill no whole block, and the last channels, run through the same
 * code with variable bounds.
 *
 * On machines with AVX-512 (a second version of the kernels' loops,
 * chosen when the program starts) a block is one 512-bit vector, and the
 * columns of a row away from the padding, whose terms are the same but
 * for the input's place, run PX at a time: OBW x PX accumulators in the
 * 32 registers (6 x 4: LeNet's 6 channels in one block), each weight
 * broadcast once for PX positions.  The kernel's gradient (a sum per
 * weight over positions and samples) likewise runs OB output channels x
 * KB columns of the window at once.  Every sum runs over the same terms
 * in the same order in either version, so both give the same bits.
 *
 * Large maps (NnrtConv.gemm, chosen by the compiler from the shapes) are
 * matrix products instead: the direct kernels' accesses, one cache line
 * per term from all over an input of megabytes, leave them waiting on
 * memory.  (With AVX-512 only from WIDE_DIRECT_TERMS terms per output on:
 * below, the products are too thin and the wide kernels win.)  For a tile
 * of output positions the window's terms are copied into columns (im2col:
 * col[C KH KW, positions x samples], which stay in cache), and then
 *   y[O, tile]   = K[O, C KH KW] col + bias          (forward)
 *   dK[O, C KH KW] += dy[O, tile] col'                (the kernel's gradient)
 * and the input's gradient is the forward product of dy's columns with
 * the kernel flipped and transposed (stride 1; other strides run
 * directly).  The tiles' buffers are allocated once per thread, on first
 * use, like nnrt_gemm's panels, and the products run on the calling
 * thread (nnrt_gemm_serial): the threads share the tiles.  Rows with
 * padding lanes (the JIT's, ld > n) go through the forward products whole,
 * each lane's column its own, and into the kernel's gradient without them.
 *
 * The work is cut into parts of a fixed size for the runtime's threads
 * (nnrt_parallel); every output element, and every entry of the kernel's
 * gradient (a sum over the samples and positions; in the products, over
 * a fixed number of groups of tiles added in order), is computed by one
 * thread in a fixed order, so the result is the same whatever the threads.
 *
 * The pools run per window over the samples; 2 x 2 windows (LeNet's) in
 * one pass, and their gradient in vectors, the first maximum found by
 * three comparisons.
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BV (64 / (int)sizeof(nnrt_real))   /* samples per block: 16 floats, 8 doubles */
#define OB 4                                /* channels per block */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A whole block's kernels hold it in NV vectors of VL samples (GCC's
 * vector extension: 8 floats, 4 doubles, one AVX register; the baseline
 * build splits them), OB x NV accumulators in registers.  With AVX-512
 * (NNRT_WIDE) the block is one vector, vwide, and a block of PX adjacent
 * output positions of OBW channels (accumulators in 32 registers) runs at
 * once. */
typedef nnrt_real vreal __attribute__((vector_size(32)));
typedef nnrt_real vwide __attribute__((vector_size(64)));
#define VL ((int)(32 / sizeof(nnrt_real)))
#define NV (BV / VL)
#define PX 4
#define OBW 6   /* channels per block there */

/* (macros, not functions: a vector passed by value would change the
 * baseline build's ABI) */
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(v))
#define VSPLAT(x) ((x) - (vreal){0})   /* (x - 0 is x, even -0) */
#define WSPLAT(x) ((x) - (vwide){0})

/* the sample block [b0, b0 + nb) of element e */
#define AT(p, e) ((p) + (size_t)(e) * (size_t)ld + (size_t)b0)

/* ---- the direct kernels: y = conv(x, K) + bias, dx (+)= conv'(dy, K) ---- */

typedef struct ConvJob {
    const NnrtConv *c;
    int n, ld;
    const nnrt_real *a, *b, *bias;   /* the operands */
    nnrt_real *out;
    int add;
    int bwd;                         /* the input's gradient (direct kernels) */
} ConvJob;

/* The terms of one output element of the direct kernel, in three nested
 * loops: for i < n[0], j < n[1], k < n[2], the input element x0 + i xs[0]
 * + j xs[1] + k xs[2] times the weight w0 + i ws[0] + j ws[1] + k ws[2]
 * (+ q wq for the block's q-th channel). */
typedef struct Terms {
    int n[3];
    ptrdiff_t x0, xs[3];
    ptrdiff_t w0, ws[3], wq;
} Terms;

/* The forward convolution's terms for y[o0.., oy, ox]: over the input's
 * channels and the window's rows and columns on the map. */
static Terms terms_fwd(const NnrtConv *c, int o0, int oy, int ox)
{
    int iy0 = oy * c->sh - c->ph, ix0 = ox * c->sw - c->pw;
    int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = c->H - iy0 < c->KH ? c->H - iy0 : c->KH;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = c->W - ix0 < c->KW ? c->W - ix0 : c->KW;
    int ksize = c->C * c->KH * c->KW;
    return (Terms){{c->C, ky1 - ky0, kx1 - kx0},
                   (ptrdiff_t)(iy0 + ky0) * c->W + ix0 + kx0, {(ptrdiff_t)c->H * c->W, c->W, 1},
                   (ptrdiff_t)o0 * ksize + ky0 * c->KW + kx0, {c->KH * c->KW, c->KW, 1}, ksize};
}

/* The input's gradient's terms for dx[c0.., iy, ix]: over the window's
 * rows ky (columns likewise) that put (iy, ix) under an output position,
 * ky = iy + ph - oy sh, every sh-th from the first, oy counting down from
 * top; and innermost over the output's channels. */
static Terms terms_bwd_x(const NnrtConv *c, int c0, int iy, int ix)
{
    int kyf = (iy + c->ph) % c->sh, top = (iy + c->ph) / c->sh;
    int kxf = (ix + c->pw) % c->sw, left = (ix + c->pw) / c->sw;
    int j0 = top - c->OH + 1 > 0 ? top - c->OH + 1 : 0;
    int i0 = left - c->OW + 1 > 0 ? left - c->OW + 1 : 0;
    /* (no ky at all where the first is past the window: a stride above it) */
    int jk = kyf < c->KH ? (c->KH - 1 - kyf) / c->sh : -1;
    int ik = kxf < c->KW ? (c->KW - 1 - kxf) / c->sw : -1;
    int j1 = jk < top ? jk : top, i1 = ik < left ? ik : left;
    int kk = c->KH * c->KW;
    return (Terms){{j1 - j0 + 1 > 0 ? j1 - j0 + 1 : 0, i1 - i0 + 1 > 0 ? i1 - i0 + 1 : 0, c->O},
                   (ptrdiff_t)(top - j0) * c->OW + left - i0, {-c->OW, -1, (ptrdiff_t)c->OH * c->OW},
                   (ptrdiff_t)c0 * kk + (kyf + j0 * c->sh) * c->KW + kxf + i0 * c->sw,
                   {(ptrdiff_t)c->sh * c->KW, c->sw, (ptrdiff_t)c->C * kk}, kk};
}

/* out[q0 .. q0+qb, e] for samples [b0, b0 + nb), e = the element at
 * stride es from e0 per channel: the bias, or what out holds when adding,
 * plus the terms */
ALWAYS_INLINE void block(const ConvJob *jb, const Terms *tm, int q0, int qb, size_t e0,
                         size_t es, int b0, int nb)
{
    int ld = jb->ld;
    nnrt_real acc[OB][BV];
    for (int q = 0; q < qb; q++) {
        const nnrt_real *o = AT(jb->out, e0 + q * es);
        for (int t = 0; t < nb; t++)
            acc[q][t] = jb->bias ? jb->bias[q0 + q] : jb->add ? o[t] : 0;
    }
    for (int i = 0; i < tm->n[0]; i++)
        for (int j = 0; j < tm->n[1]; j++)
            for (int k = 0; k < tm->n[2]; k++) {
                const nnrt_real *xp = AT(jb->a, tm->x0 + i * tm->xs[0] + j * tm->xs[1] + k * tm->xs[2]);
                const nnrt_real *w = jb->b + tm->w0 + i * tm->ws[0] + j * tm->ws[1] + k * tm->ws[2];
                for (int q = 0; q < qb; q++) {
                    nnrt_real wq = w[q * tm->wq];
                    for (int t = 0; t < nb; t++)
                        acc[q][t] += wq * xp[t];
                }
            }
    for (int q = 0; q < qb; q++) {
        nnrt_real *o = AT(jb->out, e0 + q * es);
        for (int t = 0; t < nb; t++)
            o[t] = acc[q][t];
    }
}

/* block for BV samples, in registers */
ALWAYS_INLINE void vblock(const ConvJob *jb, const Terms *tm, int q0, int qb, size_t e0,
                          size_t es, int b0)
{
    int ld = jb->ld;
    vreal acc[OB][NV];
    for (int q = 0; q < qb; q++)
        for (int v = 0; v < NV; v++) {
            vreal a = VSPLAT(jb->bias ? jb->bias[q0 + q] : 0);
            if (jb->add)
                VLOAD(a, AT(jb->out, e0 + q * es) + v * VL);
            acc[q][v] = a;
        }
    for (int i = 0; i < tm->n[0]; i++)
        for (int j = 0; j < tm->n[1]; j++)
            for (int k = 0; k < tm->n[2]; k++) {
                const nnrt_real *xp = AT(jb->a, tm->x0 + i * tm->xs[0] + j * tm->xs[1] + k * tm->xs[2]);
                const nnrt_real *w = jb->b + tm->w0 + i * tm->ws[0] + j * tm->ws[1] + k * tm->ws[2];
                vreal xv[NV];
                for (int v = 0; v < NV; v++)
                    VLOAD(xv[v], xp + v * VL);
                for (int q = 0; q < qb; q++) {
                    vreal wq = VSPLAT(w[q * tm->wq]);
                    for (int v = 0; v < NV; v++)
                        acc[q][v] += wq * xv[v];
                }
            }
    for (int q = 0; q < qb; q++) {
        nnrt_real *o = AT(jb->out, e0 + q * es);
        for (int v = 0; v < NV; v++)
            VSTORE(o + v * VL, acc[q][v]);
    }
}

/* vblock for px adjacent positions of the row (AVX-512): position p's
 * terms are position 0's, the input's elements moved by p xstep */
ALWAYS_INLINE void vblock_wide(const ConvJob *jb, const Terms *tm, int q0, int qb, size_t e0,
                               size_t es, int b0, int px, ptrdiff_t xstep)
{
    int ld = jb->ld;
    vwide acc[OBW][PX];
    for (int q = 0; q < qb; q++)
        for (int p = 0; p < px; p++) {
            vwide a = WSPLAT(jb->bias ? jb->bias[q0 + q] : 0);
            if (jb->add)
                VLOAD(a, AT(jb->out, e0 + q * es + p));
            acc[q][p] = a;
        }
    for (int i = 0; i < tm->n[0]; i++)
        for (int j = 0; j < tm->n[1]; j++)
            for (int k = 0; k < tm->n[2]; k++) {
                ptrdiff_t x = tm->x0 + i * tm->xs[0] + j * tm->xs[1] + k * tm->xs[2];
                const nnrt_real *w = jb->b + tm->w0 + i * tm->ws[0] + j * tm->ws[1] + k * tm->ws[2];
                vwide xv[PX];
                for (int p = 0; p < px; p++)
                    VLOAD(xv[p], AT(jb->a, x + p * xstep));
                for (int q = 0; q < qb; q++) {
                    vwide wq = WSPLAT(w[q * tm->wq]);
                    for (int p = 0; p < px; p++)
                        acc[q][p] += wq * xv[p];
                }
            }
    for (int q = 0; q < qb; q++)
        for (int p = 0; p < px; p++)
            VSTORE(AT(jb->out, e0 + q * es + p), acc[q][p]);
}

/* [*lo, *hi): the columns of a row written whose terms are column lo's
 * but for the input's elements, moved by the result per column: where
 * the window lies on the map's columns whole, and for the input's
 * gradient at stride 1 only (else its window's columns alternate) */
static ptrdiff_t inner_columns(const NnrtConv *c, int bwd, int *lo, int *hi)
{
    int MW = bwd ? c->W : c->OW;
    if (bwd) {   /* every kx's output column on the map */
        *lo = c->sw == 1 ? c->KW - 1 - c->pw : 0;
        *hi = c->sw == 1 ? c->OW - c->pw : 0;
    } else {
        *lo = (c->pw + c->sw - 1) / c->sw;
        *hi = (c->W - c->KW + c->pw) / c->sw + 1;
    }
    *lo = *lo < 0 ? 0 : *lo;
    *hi = *hi > MW ? MW : *hi;
    *hi = *hi < *lo ? *lo : *hi;
    return bwd ? 1 : c->sw;
}

/* one row's columns [mx, mx + px) from e0 on, every block of samples:
 * the terms tm's, moved by xstep per column; qb channels, in blocks of OB
 * but for px > 1 */
ALWAYS_INLINE void columns(const ConvJob *jb, const Terms *tm, int q0, int qb, size_t e0,
                           size_t es, int px, ptrdiff_t xstep)
{
    int b0 = 0;
    for (; b0 + BV <= jb->n; b0 += BV)
        if (px > 1)
            switch (qb) {
            case 6: vblock_wide(jb, tm, q0, 6, e0, es, b0, px, xstep); break;
            case 5: vblock_wide(jb, tm, q0, 5, e0, es, b0, px, xstep); break;
            case 4: vblock_wide(jb, tm, q0, 4, e0, es, b0, px, xstep); break;
            case 3: vblock_wide(jb, tm, q0, 3, e0, es, b0, px, xstep); break;
            case 2: vblock_wide(jb, tm, q0, 2, e0, es, b0, px, xstep); break;
            default: vblock_wide(jb, tm, q0, 1, e0, es, b0, px, xstep); break;
            }
        else
            for (int qs = 0; qs < qb; qs += OB) {
                Terms ts = *tm;
                ts.w0 += qs * tm->wq;
                switch (qb - qs) {
                case 1: vblock(jb, &ts, q0 + qs, 1, e0 + qs * es, es, b0); break;
                case 2: vblock(jb, &ts, q0 + qs, 2, e0 + qs * es, es, b0); break;
                case 3: vblock(jb, &ts, q0 + qs, 3, e0 + qs * es, es, b0); break;
                default: vblock(jb, &ts, q0 + qs, 4, e0 + qs * es, es, b0); break;
                }
            }
    for (int p = 0; b0 < jb->n && p < px; p++)
        for (int qs = 0; qs < qb; qs += OB) {
            Terms ts = *tm;
            ts.x0 += p * xstep;
            ts.w0 += qs * tm->wq;
            for (int b = b0; b < jb->n; b += BV)
                block(jb, &ts, q0 + qs, qb - qs < OB ? qb - qs : OB, e0 + qs * es + p, es, b,
                      jb->n - b < BV ? jb->n - b : BV);
        }
}

/* rows [lo, hi) of (block of ob channels, row of the map written): y's
 * output channels and rows, or for the input's gradient dx's; the inner
 * columns px at a time, the channels' count and px constants for the
 * compiler */
ALWAYS_INLINE void rows_direct_px(const ConvJob *jb, int64_t lo, int64_t hi, int px, int ob)
{
    const NnrtConv *c = jb->c;
    int Q = jb->bwd ? c->C : c->O, MH = jb->bwd ? c->H : c->OH, MW = jb->bwd ? c->W : c->OW;
    int in0, in1;
    ptrdiff_t xstep = inner_columns(c, jb->bwd, &in0, &in1);
    for (int64_t r = lo; r < hi; r++) {
        int q0 = (int)(r / MH) * ob, my = (int)(r % MH);
        int qb = Q - q0 < ob ? Q - q0 : ob;
        size_t es = (size_t)MH * MW, e0 = q0 * es + (size_t)my * MW;
        int mx = 0;
        if (px > 1 && in1 - in0 >= px) {
            for (; mx < in0; mx++) {
                Terms tm = jb->bwd ? terms_bwd_x(c, q0, my, mx) : terms_fwd(c, q0, my, mx);
                columns(jb, &tm, q0, qb, e0 + mx, es, 1, 0);
            }
            Terms tm = jb->bwd ? terms_bwd_x(c, q0, my, mx) : terms_fwd(c, q0, my, mx);
            for (; mx + px <= in1; mx += px) {
                columns(jb, &tm, q0, qb, e0 + mx, es, px, xstep);
                tm.x0 += px * xstep;
            }
            for (; px > 2 && mx + 2 <= in1; mx += 2) {   /* (what is left, in pairs) */
                columns(jb, &tm, q0, qb, e0 + mx, es, 2, xstep);
                tm.x0 += 2 * xstep;
            }
        }
        for (; mx < MW; mx++) {
            Terms tm = jb->bwd ? terms_bwd_x(c, q0, my, mx) : terms_fwd(c, q0, my, mx);
            columns(jb, &tm, q0, qb, e0 + mx, es, 1, 0);
        }
    }
}

NNRT_KERNEL_FMA
static void rows_direct(void *ctx, int64_t lo, int64_t hi)
{
    rows_direct_px(ctx, lo, hi, 1, OB);
}

NNRT_WIDE
static void rows_direct_wide(void *ctx, int64_t lo, int64_t hi)
{
    rows_direct_px(ctx, lo, hi, PX, OBW);
}

/* rows per chunk of the threads' work: about 64k multiply-adds */
static int64_t chunk_rows(int64_t per_row)
{
    int64_t k = per_row > 0 ? 65536 / per_row : 1;
    return k < 1 ? 1 : k;
}

/* ---- large maps: im2col and matrix products ---- */

/* NNRT_CONV=direct|gemm from the environment (read at each call, as the
 * unit tests change it): every convolution one way, whatever the compiler
 * chose (tests compare them). */
enum { CONV_AUTO, CONV_DIRECT, CONV_GEMM };
static int conv_mode(void)
{
    const char *e = getenv("NNRT_CONV");
    if (!e || !*e)
        return CONV_AUTO;
    if (strcmp(e, "direct") == 0)
        return CONV_DIRECT;
    if (strcmp(e, "gemm") == 0)
        return CONV_GEMM;
    fprintf(stderr, "error: NNRT_CONV=%s: expected direct or gemm\n", e);
    exit(2);
}

/* Below this many terms per output of the forward step (C KH KW) the
 * AVX-512 direct kernels beat the products the compiler chose, in each
 * step: products with so few rows spend their time copying (im2col,
 * OpenBLAS's packing).  At n = 32 on one thread, LeNet's layers (25 and
 * 150 terms) run directly 1.3-2.2x as fast, a 16 -> 32 channel 5 x 5
 * layer (400) 1.3-1.9x, 32 -> 64 at 3 x 3 (288) 1.05x and 1.4x but its
 * kernel's gradient 1.1x slower; 64 channels at 3 x 3 (576) are faster as
 * products.  And 32 -> 64 at 3 x 3 on a 32 x 32 map, 64 samples with the
 * threads sharing each step (a model with batch norm): 59 ms a step
 * directly against 47 as products (two halves of 32: 40-46 ms either
 * way), so from 256 terms on the compiler's products stand.  With AVX2
 * the direct kernels are about half as fast and the compiler's choice
 * stands (docs/performance.md). */
#define WIDE_DIRECT_TERMS 256

/* the step as products: NnrtConv.gemm, or forced */
static int by_gemm(const NnrtConv *c)
{
    int mode = conv_mode();
    if (mode != CONV_AUTO)
        return mode == CONV_GEMM;
    return c->gemm && (c->C * c->KH * c->KW >= WIDE_DIRECT_TERMS || !NNRT_HAS_WIDE());
}

/* A thread's buffer of at least `size` reals, kept for the next call. */
typedef struct Scratch {
    nnrt_real *p;
    size_t size;
} Scratch;

static nnrt_real *scratch(Scratch *s, size_t size)
{
    if (s->size < size) {
        free(s->p);
        s->p = aligned_alloc(64, (size * sizeof *s->p + 63) / 64 * 64);
        s->size = s->p ? size : 0;
        if (!s->p) {
            fprintf(stderr, "error: out of memory (a convolution's buffer of %zu reals)\n", size);
            exit(1);
        }
    }
    return s->p;
}

static _Thread_local Scratch cols, parts, dycols, kernel;   /* kernel: K rearranged (the caller's) */

/* About this many reals in a tile's columns: an L2 cache's worth */
#define TILE_REALS (96 * 1024)

/* Output positions per tile: whole rows of the matrices, at least one. */
static int tile_positions(const NnrtConv *c, int n)
{
    long per = (long)c->C * c->KH * c->KW * n;
    int np = (int)(TILE_REALS / per);
    int P = c->OH * c->OW;
    return np < 1 ? 1 : np > P ? P : np;
}

/* col[C KH KW, np w] = the window's terms of output positions [p0, p0 +
 * np), w lanes of a position contiguous (the first w of element e's ld at
 * x + e ld); 0 off the map; and with ones, a last row of ones (the
 * bias's) */
static void im2col(const NnrtConv *c, int ld, int w, const nnrt_real *x, int p0, int np,
                   int ones, nnrt_real *col)
{
    size_t run = (size_t)w * sizeof *col;
    if (ones) {
        nnrt_real *row = col + (size_t)c->C * c->KH * c->KW * np * w;
        for (size_t e = 0; e < (size_t)np * w; e++)
            row[e] = 1;
    }
    for (int ch = 0; ch < c->C; ch++)
        for (int ky = 0; ky < c->KH; ky++)
            for (int kx = 0; kx < c->KW; kx++) {
                nnrt_real *row = col + (size_t)((ch * c->KH + ky) * c->KW + kx) * np * w;
                for (int p = p0; p < p0 + np;) {
                    int oy = p / c->OW, ox = p % c->OW;
                    int iy = oy * c->sh - c->ph + ky, ix = ox * c->sw - c->pw + kx;
                    /* the rest of this output row: its columns on the map [a, b) */
                    int m = c->OW - ox < p0 + np - p ? c->OW - ox : p0 + np - p;
                    int a = 0, b = 0;
                    if (iy >= 0 && iy < c->H) {
                        while (a < m && ix + a * c->sw < 0)
                            a++;
                        for (b = a; b < m && ix + b * c->sw < c->W; b++)
                            ;
                    }
                    nnrt_real *d = row + (size_t)(p - p0) * w;
                    const nnrt_real *s = x + ((size_t)(ch * c->H + iy) * c->W + ix) * ld;
                    memset(d, 0, run * a);
                    if (c->sw == 1 && w == ld)   /* one run of input */
                        memcpy(d + (size_t)a * w, s + (size_t)a * ld, run * (b - a));
                    else
                        for (int k = a; k < b; k++)
                            memcpy(d + (size_t)k * w, s + (size_t)k * c->sw * ld, run);
                    memset(d + (size_t)b * w, 0, run * (m - b));
                    p += m;
                }
            }
}

typedef struct GemmJob {
    const NnrtConv *c;
    int n, ld, np, ntiles, ngroups;
    const nnrt_real *x, *K;          /* forward: x, K; the kernel's gradient: x, dy (K) */
    int bias;                        /* forward: K's last column is the bias */
    nnrt_real *y;
    int add;
    nnrt_real *part[4];              /* the kernel's gradient: each group's sum */
} GemmJob;

/* y's tiles [lo, hi): y (+)= K col, the bias a last column of K times a
 * last row of ones in col (no pass of its own over y) */
static void tiles_fwd(void *ctx, int64_t lo, int64_t hi)
{
    const GemmJob *g = ctx;
    const NnrtConv *c = g->c;
    int n = g->n, P = c->OH * c->OW, ksize = c->C * c->KH * c->KW + g->bias;
    nnrt_real *col = scratch(&cols, (size_t)ksize * g->np * n);
    for (int64_t t = lo; t < hi; t++) {
        int p0 = (int)t * g->np, np = P - p0 < g->np ? P - p0 : g->np;
        im2col(c, n, n, g->x, p0, np, g->bias, col);
        nnrt_gemm_serial(0, 0, c->O, np * n, ksize, 1, g->K, ksize, col, np * n, g->add,
                         g->y + (size_t)p0 * n, P * n);
    }
}

/* K [O, C KH KW] (or, with a bias, [K | bias] in a buffer of the caller's);
 * every lane of a row, padding lanes too (ld of them: n here), each column
 * of y depends on that column of col alone */
static void gemm_fwd(const NnrtConv *c, int n, const nnrt_real *x, const nnrt_real *K,
                     const nnrt_real *bias, nnrt_real *y, int add)
{
    int np = tile_positions(c, n), P = c->OH * c->OW;
    if (bias) {
        int ksize = c->C * c->KH * c->KW;
        nnrt_real *kb = scratch(&kernel, (size_t)c->O * (ksize + 1));
        for (int o = 0; o < c->O; o++) {
            memcpy(kb + (size_t)o * (ksize + 1), K + (size_t)o * ksize, (size_t)ksize * sizeof *kb);
            kb[(size_t)o * (ksize + 1) + ksize] = bias[o];
        }
        K = kb;
    }
    GemmJob g = {c, n, n, np, (P + np - 1) / np, 0, x, K, bias != NULL, y, add, {0}};
    nnrt_parallel(tiles_fwd, &g, g.ntiles, 1);
}

/* groups [lo, hi) of the tiles: part[group] = dy col' summed over them,
 * over the n samples alone: with padding lanes (ld > n, whatever they
 * hold) dy's tile is copied without them */
static void groups_bwd_k(void *ctx, int64_t lo, int64_t hi)
{
    GemmJob *g = ctx;
    const NnrtConv *c = g->c;
    int n = g->n, ld = g->ld, P = c->OH * c->OW, ksize = c->C * c->KH * c->KW;
    nnrt_real *col = scratch(&cols, (size_t)ksize * g->np * n);
    nnrt_real *part = scratch(&parts, (size_t)g->ngroups * c->O * ksize);
    nnrt_real *dys = ld != n ? scratch(&dycols, (size_t)c->O * g->np * n) : NULL;
    for (int64_t gr = lo; gr < hi; gr++) {
        nnrt_real *sum = g->part[gr] = part + (size_t)gr * c->O * ksize;
        int t0 = (int)(gr * g->ntiles / g->ngroups), t1 = (int)((gr + 1) * g->ntiles / g->ngroups);
        for (int t = t0; t < t1; t++) {
            int p0 = t * g->np, np = P - p0 < g->np ? P - p0 : g->np;
            im2col(c, ld, n, g->x, p0, np, 0, col);
            const nnrt_real *dy = g->K + (size_t)p0 * ld;
            int lddy = P * ld;
            if (dys) {
                for (int o = 0; o < c->O; o++)
                    for (int p = 0; p < np; p++)
                        memcpy(dys + ((size_t)o * np + p) * n, dy + (size_t)o * lddy + (size_t)p * ld,
                               (size_t)n * sizeof *dys);
                dy = dys, lddy = np * n;
            }
            nnrt_gemm_serial(0, 1, c->O, ksize, np * n, 1, dy, lddy, col, np * n, t > t0, sum,
                             ksize);
        }
    }
}

static void gemm_bwd_k(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                       nnrt_real *dK, int add)
{
    int np = tile_positions(c, n), P = c->OH * c->OW, ksize = c->C * c->KH * c->KW;
    int ntiles = (P + np - 1) / np;
    GemmJob g = {c, n, ld, np, ntiles, ntiles < 4 ? ntiles : 4, x, dy, 0, dK, add, {0}};
    nnrt_parallel(groups_bwd_k, &g, g.ngroups, 1);
    for (size_t e = 0; e < (size_t)c->O * ksize; e++) {
        nnrt_real s = add ? dK[e] : 0;
        for (int gr = 0; gr < g.ngroups; gr++)
            s += g.part[gr][e];
        dK[e] = s;
    }
}

/* the input's gradient, stride 1: the forward convolution of dy [O, OH,
 * OW] padded by KH - 1 - ph (KW - 1 - pw) with K flipped in its window and
 * transposed, [C, O, KH, KW] */
static int gemm_bwd_x_fits(const NnrtConv *c)
{
    return c->sh == 1 && c->sw == 1 && c->ph < c->KH && c->pw < c->KW;
}

static void gemm_bwd_x(const NnrtConv *c, int n, const nnrt_real *dy, const nnrt_real *K,
                       nnrt_real *dx, int add)
{
    NnrtConv t = {c->O, c->OH, c->OW, c->C, c->KH, c->KW, c->H, c->W, 1, 1,
                  c->KH - 1 - c->ph, c->KW - 1 - c->pw, 1};
    int kk = c->KH * c->KW;
    nnrt_real *f = scratch(&kernel, (size_t)c->O * c->C * kk);
    for (int o = 0; o < c->O; o++)
        for (int ch = 0; ch < c->C; ch++)
            for (int k = 0; k < kk; k++)
                f[((size_t)ch * c->O + o) * kk + kk - 1 - k] = K[((size_t)o * c->C + ch) * kk + k];
    gemm_fwd(&t, n, dy, f, NULL, dx, add);
}

/* ---- the calls ---- */

/* the direct kernels over Q channels of MH rows, `work` multiply-adds per
 * channel and row, in the version the machine runs */
static void run_direct(ConvJob *jb, int Q, int MH, int64_t work)
{
    int wide = NNRT_HAS_WIDE(), ob = wide ? OBW : OB;
    nnrt_parallel(wide ? rows_direct_wide : rows_direct, jb, (int64_t)((Q + ob - 1) / ob) * MH,
                  chunk_rows(ob * work));
}

void nnrt_conv(const NnrtConv *c, int n, int ld, const nnrt_real *x, const nnrt_real *K,
               const nnrt_real *bias, nnrt_real *y)
{
    if (by_gemm(c)) {   /* (every lane: the padding lanes' columns change only themselves) */
        gemm_fwd(c, ld, x, K, bias, y, 0);
        return;
    }
    ConvJob jb = {c, n, ld, x, K, bias, y, 0, 0};
    run_direct(&jb, c->O, c->OH, (int64_t)c->OW * n * c->C * c->KH * c->KW);
}

void nnrt_conv_bwd_x(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *K,
                     nnrt_real *dx, int add)
{
    if (by_gemm(c) && gemm_bwd_x_fits(c)) {
        gemm_bwd_x(c, ld, dy, K, dx, add);
        return;
    }
    ConvJob jb = {c, n, ld, dy, K, NULL, dx, add, 1};
    run_direct(&jb, c->C, c->H, (int64_t)c->W * n * c->O * c->KH * c->KW / (c->sh * c->sw));
}

/* ---- the kernel's gradient: dK (+)= sum over samples and positions ---- */

/* [*ox0, *ox1): the output columns whose window puts column kx on the map */
ALWAYS_INLINE void columns_on_map(const NnrtConv *c, int kx, int *ox0, int *ox1)
{
    *ox0 = 0, *ox1 = c->OW;
    while (*ox0 < *ox1 && *ox0 * c->sw - c->pw + kx < 0)
        ++*ox0;
    while (*ox1 > *ox0 && (*ox1 - 1) * c->sw - c->pw + kx >= c->W)
        --*ox1;
}

/* acc[q][t] += sum over the output positions whose window puts (ky, kx) on
 * the map of dy[o0 + q, pos] x[ch, pos's input], samples [b0, b0 + nb) */
ALWAYS_INLINE void block_bwd_k(const ConvJob *jb, nnrt_real (*acc)[BV], int o0, int ob, int ch,
                               int ky, int kx, int b0, int nb)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld, ox0, ox1;
    columns_on_map(c, kx, &ox0, &ox1);
    for (int oy = 0; oy < c->OH; oy++) {
        int iy = oy * c->sh - c->ph + ky;
        if (iy < 0 || iy >= c->H)
            continue;
        for (int ox = ox0; ox < ox1; ox++) {
            int ix = ox * c->sw - c->pw + kx;
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
    int ld = jb->ld, ox0, ox1;
    columns_on_map(c, kx, &ox0, &ox1);
    for (int oy = 0; oy < c->OH; oy++) {
        int iy = oy * c->sh - c->ph + ky;
        if (iy < 0 || iy >= c->H)
            continue;
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

/* block_bwd_k for OB channels, BV samples and kb <= KB adjacent columns
 * kx0 .. of the window (AVX-512): per output position, OB vectors of dy
 * times kb of x, in OB x KB accumulators; the same terms in the same
 * order as block_bwd_k's per column.  Near the map's sides a column off
 * the map keeps its sums (a select, no branch: they stay in registers). */
#define KB 5
#ifdef NNRT_F64
typedef int64_t vwmask __attribute__((vector_size(64)));
#else
typedef int32_t vwmask __attribute__((vector_size(64)));
#endif
ALWAYS_INLINE void vblock_bwd_k_wide(const ConvJob *jb, vwide (*acc)[KB], int o0, int ob, int ch,
                                     int ky, int kx0, int kb, int b0)
{
    const NnrtConv *c = jb->c;
    int ld = jb->ld;
    for (int oy = 0; oy < c->OH; oy++) {
        int iy = oy * c->sh - c->ph + ky;
        if (iy < 0 || iy >= c->H)
            continue;
        const nnrt_real *xrow = AT(jb->b, (size_t)(ch * c->H + iy) * c->W);
        for (int ox = 0; ox < c->OW; ox++) {
            int ix = ox * c->sw - c->pw + kx0;
            vwide d[OB];
            for (int q = 0; q < ob; q++)
                VLOAD(d[q], AT(jb->a, ((o0 + q) * c->OH + oy) * c->OW + ox));
            if (ix >= 0 && ix + kb <= c->W)
                for (int k = 0; k < kb; k++) {
                    vwide xv;
                    VLOAD(xv, xrow + (size_t)(ix + k) * ld);
                    for (int q = 0; q < ob; q++)
                        acc[q][k] += d[q] * xv;
                }
            else
                for (int k = 0; k < kb; k++) {
                    int on = ix + k >= 0 && ix + k < c->W;
                    vwide xv;
                    VLOAD(xv, xrow + (size_t)(on ? ix + k : 0) * ld);
                    vwmask m = (vwmask){0} - on;
                    for (int q = 0; q < ob; q++) {
                        vwide sum = acc[q][k] + d[q] * xv;
                        acc[q][k] = (vwide)((m & (vwmask)sum) | (~m & (vwmask)acc[q][k]));
                    }
                }
        }
    }
}

/* (the channels' and columns' counts constants for the compiler) */
ALWAYS_INLINE void vblock_bwd_k_wide_kb(const ConvJob *jb, vwide (*acc)[KB], int o0, int ob,
                                        int ch, int ky, int kx0, int kb, int b0)
{
    switch (kb) {
    case 5: vblock_bwd_k_wide(jb, acc, o0, ob, ch, ky, kx0, 5, b0); break;
    case 4: vblock_bwd_k_wide(jb, acc, o0, ob, ch, ky, kx0, 4, b0); break;
    case 3: vblock_bwd_k_wide(jb, acc, o0, ob, ch, ky, kx0, 3, b0); break;
    case 2: vblock_bwd_k_wide(jb, acc, o0, ob, ch, ky, kx0, 2, b0); break;
    default: vblock_bwd_k_wide(jb, acc, o0, ob, ch, ky, kx0, 1, b0); break;
    }
}

/* rows_bwd_k's entries KB columns of the window at a time (AVX-512) */
NNRT_WIDE
static void rows_bwd_k_wide(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *jb = ctx;
    const NnrtConv *c = jb->c;
    int kk = c->KH * c->KW;
    for (int64_t r = lo; r < hi; r++) {
        int o0 = (int)(r / c->C) * OB, ch = (int)(r % c->C);
        int ob = c->O - o0 < OB ? c->O - o0 : OB;
        for (int ky = 0; ky < c->KH; ky++)
            for (int kx0 = 0; kx0 < c->KW; kx0 += KB) {
                int kb = c->KW - kx0 < KB ? c->KW - kx0 : KB;
                vwide vacc[OB][KB];
                memset(vacc, 0, sizeof vacc);
                int b0 = 0;
                for (; b0 + BV <= jb->n; b0 += BV)
                    switch (ob) {
                    case 4: vblock_bwd_k_wide_kb(jb, vacc, o0, 4, ch, ky, kx0, kb, b0); break;
                    case 3: vblock_bwd_k_wide_kb(jb, vacc, o0, 3, ch, ky, kx0, kb, b0); break;
                    case 2: vblock_bwd_k_wide_kb(jb, vacc, o0, 2, ch, ky, kx0, kb, b0); break;
                    default: vblock_bwd_k_wide_kb(jb, vacc, o0, 1, ch, ky, kx0, kb, b0); break;
                    }
                for (int k = 0; k < kb; k++) {
                    nnrt_real acc[OB][BV];
                    memset(acc, 0, sizeof acc);
                    if (b0 < jb->n)
                        block_bwd_k(jb, acc, o0, ob, ch, ky, kx0 + k, b0, jb->n - b0);
                    for (int q = 0; q < ob; q++) {
                        nnrt_real s = 0;
                        for (int t = 0; t < BV; t++)
                            s += vacc[q][k][t];
                        for (int t = 0; t < BV; t++)
                            s += acc[q][t];
                        nnrt_real *d = jb->out + ((size_t)(o0 + q) * c->C + ch) * kk + ky * c->KW + kx0 + k;
                        *d = jb->add ? *d + s : s;
                    }
                }
            }
    }
}

void nnrt_conv_bwd_k(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                     nnrt_real *dK, int add)
{
    if (by_gemm(c)) {
        gemm_bwd_k(c, n, ld, dy, x, dK, add);
        return;
    }
    ConvJob jb = {c, n, ld, dy, x, NULL, dK, add, 0};
    int64_t rows = (int64_t)((c->O + OB - 1) / OB) * c->C;
    nnrt_parallel(NNRT_HAS_WIDE() ? rows_bwd_k_wide : rows_bwd_k, &jb, rows,
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

/* The window's elements' offsets from its first, in reals */
static void window_offsets(const NnrtConv *c, int ld, size_t *off)
{
    for (int k = 0; k < c->KH * c->KW; k++)
        off[k] = (size_t)((k / c->KW) * c->W + k % c->KW) * ld;
}

NNRT_KERNEL
void nnrt_maxpool(const NnrtConv *c, int n, int ld, const nnrt_real *x, nnrt_real *y)
{
    for (int ch = 0; ch < c->C; ch++)
        for (int oy = 0; oy < c->OH; oy++)
            for (int ox = 0; ox < c->OW; ox++) {
                nnrt_real *yp = y + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld;
                const nnrt_real *x0 = x + (size_t)((ch * c->H + oy * c->sh) * c->W + ox * c->sw) * ld;
                if (c->KH == 2 && c->KW == 2) {   /* one pass: the same comparisons in order */
                    const nnrt_real *x1 = x0 + ld, *x2 = x0 + (size_t)c->W * ld, *x3 = x2 + ld;
#pragma omp simd
                    for (int b = 0; b < n; b++) {
                        nnrt_real m = x0[b];
                        m = x1[b] > m ? x1[b] : m;
                        m = x2[b] > m ? x2[b] : m;
                        yp[b] = x3[b] > m ? x3[b] : m;
                    }
                    continue;
                }
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

/* dx[window at x0's place, b0 .. b0+nb] (+)= d routed to each sample's
 * first maximum in the window (assign: =) */
ALWAYS_INLINE void max_bwd_block(const nnrt_real *x0, const size_t *off, int kk,
                                 const nnrt_real *d, nnrt_real *dx0, int assign, int nb)
{
    nnrt_real best[BV];
    int arg[BV];
    for (int t = 0; t < nb; t++) {
        best[t] = x0[t];
        arg[t] = 0;
    }
    for (int k = 1; k < kk; k++)
        for (int t = 0; t < nb; t++) {
            nnrt_real v = x0[off[k] + t];
            arg[t] = v > best[t] ? k : arg[t];
            best[t] = v > best[t] ? v : best[t];
        }
    for (int k = 0; k < kk; k++)
        for (int t = 0; t < nb; t++) {
            nnrt_real g = arg[t] == k ? d[t] : 0;
            dx0[off[k] + t] = assign ? g : dx0[off[k] + t] + g;
        }
}

/* (a comparison's lanes: all ones or all zeros) */
#ifdef NNRT_F64
typedef int64_t vmask __attribute__((vector_size(32)));
#else
typedef int32_t vmask __attribute__((vector_size(32)));
#endif
#define VSELECT(m, a, b) ((vreal)(((m) & (vmask)(a)) | (~(m) & (vmask)(b))))

/* max_bwd_block for a 2 x 2 window and BV samples, in registers: its
 * elements a b / c e (x0, x0 + right, x0 + below, ...), the first
 * maximum's lane masks from three comparisons, no places stored */
ALWAYS_INLINE void max_bwd_2x2(const nnrt_real *x0, size_t right, size_t below,
                               const nnrt_real *d, nnrt_real *dx0, int assign)
{
    for (int v = 0; v < NV; v++) {
        size_t at[4] = {v * VL, right + v * VL, below + v * VL, below + right + v * VL};
        vreal a, b, c, e, g;
        VLOAD(a, x0 + at[0]);
        VLOAD(b, x0 + at[1]);
        VLOAD(c, x0 + at[2]);
        VLOAD(e, x0 + at[3]);
        VLOAD(g, d + v * VL);
        vmask ib = b > a, ic, ie;
        vreal best = VSELECT(ib, b, a);
        ic = c > best;
        best = VSELECT(ic, c, best);
        ie = e > best;
        vmask win[4] = {~(ib | ic | ie), ib & ~ic & ~ie, ic & ~ie, ie};
        for (int k = 0; k < 4; k++) {
            vreal o = (vreal)(win[k] & (vmask)g);
            if (!assign) {
                vreal old;
                VLOAD(old, dx0 + at[k]);
                o = old + o;
            }
            VSTORE(dx0 + at[k], o);
        }
    }
}

/* Windows that tile the map exactly (LeNet's 2 x 2, stride 2) put every
 * element of dx in one window: it is assigned (or added to) once, and dx
 * needs no clearing first.  Per window and sample, the first maximum's
 * place, then dy routed there (windows may overlap when the stride is
 * smaller), per block of BV samples held in registers. */
NNRT_KERNEL
void nnrt_maxpool_bwd(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                      nnrt_real *dx, int add)
{
    int tiles = c->sh == c->KH && c->sw == c->KW && c->OH * c->sh == c->H && c->OW * c->sw == c->W;
    if (!tiles)
        clear_input(c, n, ld, dx, add);
    int assign = tiles && !add, kk = c->KH * c->KW, w2 = c->KH == 2 && c->KW == 2;
    size_t off[kk];
    window_offsets(c, ld, off);
    for (int ch = 0; ch < c->C; ch++)
        for (int oy = 0; oy < c->OH; oy++)
            for (int ox = 0; ox < c->OW; ox++) {
                size_t e0 = (size_t)(ch * c->H + oy * c->sh) * c->W + ox * c->sw;
                const nnrt_real *x0 = x + e0 * ld;
                const nnrt_real *d = dy + (size_t)((ch * c->OH + oy) * c->OW + ox) * ld;
                int b0 = 0;
                for (; b0 + BV <= n && w2; b0 += BV)
                    if (assign)
                        max_bwd_2x2(x0 + b0, off[1], off[2], d + b0, dx + e0 * ld + b0, 1);
                    else
                        max_bwd_2x2(x0 + b0, off[1], off[2], d + b0, dx + e0 * ld + b0, 0);
                for (; b0 + BV <= n; b0 += BV)
                    max_bwd_block(x0 + b0, off, kk, d + b0, dx + e0 * ld + b0, assign, BV);
                if (b0 < n)
                    max_bwd_block(x0 + b0, off, kk, d + b0, dx + e0 * ld + b0, assign, n - b0);
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
