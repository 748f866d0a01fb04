/*
 * check_runtime.c - unit tests of the runtime's per-precision part: GEMM,
 * optimizers, data binding and generators, parameter initialisation, and
 * the trainer's commands end to end (nnrt_main) on a tiny hand-written
 * model.
 *
 * The model is linear regression with a frozen scale and an L2 penalty,
 *
 *     yhat = s (w . x) + b,   loss = 0.5 (yhat - y)^2,   penalty = 0.005 |w|^2
 *
 * with its forward and backward written here the way generated code would
 * write them, so the tests exercise nnrt_main exactly as a trainer does.
 * This file is built as float32; check_runtime_f64.c includes it with
 * NNRT_F64 defined to test the float64 runtime too.
 */
#include "nnrt_internal.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NNRT_F64
#define TOL 1e-12      /* exact-arithmetic comparisons */
#define GRAD_TOL 1e-6  /* finite differences */
#else
#define TOL 1e-5
#define GRAD_TOL 2e-2
#endif

static char tmpdir[512];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* ---- the test model ---- */

#define LAMBDA 0.01

typedef struct LinWork {
    int cap, n;
    nnrt_real *yhat;
    const nnrt_real *x, *y;
    int bad;                   /* 1: a deliberately wrong backward */
} LinWork;

static void *lin_create(int cap)
{
    LinWork *w = calloc(1, sizeof *w);
    w->cap = cap;
    w->yhat = malloc((size_t)cap * sizeof *w->yhat);
    return w;
}

static void *lin_create_bad(int cap)
{
    LinWork *w = lin_create(cap);
    w->bad = 1;
    return w;
}

static void lin_destroy(void *p)
{
    LinWork *w = p;
    free(w->yhat);
    free(w);
}

/* params: w[2] at 0, b[1] at 2, s[1] (frozen) at 3 */
static void lin_forward(void *p, const nnrt_real *params, int n, const nnrt_real *const *data,
                        nnrt_real *loss)
{
    LinWork *w = p;
    if (n > w->cap)
        abort();               /* the runtime must never exceed the workspace */
    w->n = n;
    w->x = data[0];
    w->y = data[1];
    for (int i = 0; i < n; i++) {
        nnrt_real z = params[0] * w->x[2 * i] + params[1] * w->x[2 * i + 1];
        w->yhat[i] = params[3] * z + params[2];
        nnrt_real r = w->yhat[i] - w->y[i];
        loss[i] = (nnrt_real)0.5 * r * r;
    }
}

/* d loss_i / d yhat_i = r_i;  dw += wt r_i s x_i;  db += wt r_i */
static void lin_backward(void *p, const nnrt_real *params, int n, nnrt_real wt, nnrt_real *g)
{
    LinWork *w = p;
    if (n != w->n)
        abort();
    for (int i = 0; i < n; i++) {
        nnrt_real r = w->yhat[i] - w->y[i];
        g[0] += wt * r * params[3] * w->x[2 * i];
        g[1] += wt * r * params[3] * w->x[2 * i + 1];
        g[2] += wt * r * (w->bad ? 2 : 1);
    }
}

static nnrt_real lin_penalty(void *p, const nnrt_real *params, nnrt_real *g)
{
    (void)p;
    if (g) {
        g[0] += (nnrt_real)LAMBDA * params[0];
        g[1] += (nnrt_real)LAMBDA * params[1];
    }
    return (nnrt_real)(0.5 * LAMBDA) * (params[0] * params[0] + params[1] * params[1]);
}

static const nnrt_real *lin_output(void *p)
{
    return ((LinWork *)p)->yhat;
}

static const NnrtParam lin_params[] = {
    { "w", 1, { 2 }, 2, 0, 0, 0, { NNRT_INIT_NORMAL, 0, 0.5, NULL, NULL, NULL }, "lin.nn:3" },
    { "b", 1, { 1 }, 1, 2, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, "lin.nn:4" },
    { "s", 1, { 1 }, 1, 3, 1, 0, { NNRT_INIT_ONES, 0, 0, NULL, NULL, NULL }, "lin.nn:5" },
};

static const NnrtSlot lin_slots[] = {
    { "x", NNRT_INPUT, 1, { 2 }, 2, 0, 0, 0 },
    { "y", NNRT_TARGET, 1, { 1 }, 1, 0, 0, 0 },
};

static const NnrtSetting lin_settings[] = {
    { "optimizer", "sgd(lr = 0.1)", "lin.nn:9" },
    { "epochs", "30", "lin.nn:10" },
    { "batch", "8", "lin.nn:11" },
};

static const double ex_x[2] = { 0.5, -1 }, ex_y[1] = { 0.25 };
static const double *const lin_example[2] = { ex_x, ex_y };

static NnrtModel lin_model(void)
{
    NnrtModel m;
    memset(&m, 0, sizeof m);
    m.name = "lin";
    m.source = "lin.nn";
    m.source_hash = "0";
    m.nnc_version = "test";
    m.dtype = NNRT_DTYPE_NAME;
    m.nparams = 3;
    m.params = lin_params;
    m.nparam_total = 4;
    m.nslots = 2;
    m.slots = lin_slots;
    m.nsettings = 3;
    m.settings = lin_settings;
    m.example = lin_example;
    m.out_slot = 1;
    m.out_size = 1;
    m.has_penalty = 1;
    m.create = lin_create;
    m.destroy = lin_destroy;
    m.forward = lin_forward;
    m.backward = lin_backward;
    m.penalty = lin_penalty;
    m.output = lin_output;
    return m;
}

/* ---- helpers ---- */

/* Writes an npz with x [n, 2] (float64) and y [n] (float32):
 * y = 2 x0 - 3 x1 + 0.5 + 0.01 noise. */
static void write_regression_data(const char *path, int n, uint64_t seed)
{
    NnrtRng r;
    nnrt_rng_seed(&r, seed);
    double *x = malloc((size_t)n * 2 * sizeof *x);
    float *y = malloc((size_t)n * sizeof *y);
    for (int i = 0; i < n; i++) {
        x[2 * i] = nnrt_rng_normal(&r);
        x[2 * i + 1] = nnrt_rng_normal(&r);
        y[i] = (float)(2 * x[2 * i] - 3 * x[2 * i + 1] + 0.5 + 0.01 * nnrt_rng_normal(&r));
    }
    NnrtNpzWriter *w;
    NnrtErr e;
    int64_t sx[2] = { n, 2 }, sy[1] = { n };
    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "x", "<f8", 0, 2, sx, x, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "y", "<f4", 0, 1, sy, y, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    free(x);
    free(y);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

/* Runs nnrt_main(m, "lin", args..., NULL) with stdout and stderr captured;
 * *out and *err are malloc'ed. */
static int run(const NnrtModel *m, char **out, char **err, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    argv[argc++] = "lin";
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char op[600], ep[600];
    tmp_path(op, sizeof op, "stdout.txt");
    tmp_path(ep, sizeof ep, "stderr.txt");
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = nnrt_main(m, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(fo);
    close(fe);
    close(so);
    close(se);
    char *o = slurp(op), *e = slurp(ep);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

static void load_params(const NnrtModel *m, const char *path, nnrt_real *p)
{
    NnrtErr e;
    ck_assert_msg(nnrt_params_load(m, p, path, &e) == 0, "%s", e.msg);
}

/* The objective over data d at params p, computed here independently. */
static double objective(const NnrtData *d, const nnrt_real *p, int reduce_sum)
{
    double sum = 0;
    for (int64_t i = 0; i < d->n; i++) {
        double yhat = (double)p[3] * ((double)p[0] * d->slot[0][2 * i] +
                                      (double)p[1] * d->slot[0][2 * i + 1]) + p[2];
        double r = yhat - d->slot[1][i];
        sum += 0.5 * r * r;
    }
    return (reduce_sum ? sum : sum / (double)d->n) +
           0.5 * LAMBDA * ((double)p[0] * p[0] + (double)p[1] * p[1]);
}

#define ASSERT_HAS(s, text) \
    ck_assert_msg(strstr((s), (text)) != NULL, "output was \"%s\", expected it to contain \"%s\"", \
                  (s), (text))

/* ---- GEMM ---- */

static void naive(int ta, int tb, int M, int N, int K, double alpha, const nnrt_real *A, int lda,
                  const nnrt_real *B, int ldb, double beta, const nnrt_real *C0, nnrt_real *C,
                  int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                     (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = (nnrt_real)(alpha * s + (beta == 0 ? 0 : beta * C0[i * ldc + j]));
        }
}

START_TEST(test_gemm_blas_blocked_and_plain_match_a_naive_triple_loop_for_every_transpose_and_stride)
{
    static const int sizes[][3] = {
        { 1, 1, 1 }, { 3, 5, 7 }, { 8, 1, 16 }, { 1, 9, 4 }, { 17, 13, 11 }, { 40, 50, 30 },
        { 64, 33, 70 }, { 5, 4, 0 },
        /* across the blocked kernel's blocks: 512 columns, 256 steps of k */
        { 6, 530, 300 },
        /* cut into parts for the runtime's threads (over 2^20 multiply-adds):
         * by rows of C, by columns */
        { 130, 96, 90 }, { 40, 300, 100 },
    };
    NnrtRng r;
    nnrt_rng_seed(&r, 5);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int pad = 0; pad < 2; pad++) {
                    int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    int lda = ac + 3 * pad, ldb = bc + 2 * pad, ldc = N + pad;
                    nnrt_real *A = malloc(sizeof(nnrt_real) * (size_t)(ar * lda + 1));
                    nnrt_real *B = malloc(sizeof(nnrt_real) * (size_t)(br * ldb + 1));
                    nnrt_real *C = malloc(sizeof(nnrt_real) * (size_t)(M * ldc));
                    nnrt_real *C0 = malloc(sizeof(nnrt_real) * (size_t)(M * ldc));
                    nnrt_real *W = malloc(sizeof(nnrt_real) * (size_t)(M * ldc));
                    for (int i = 0; i < ar * lda; i++)
                        A[i] = (nnrt_real)nnrt_rng_normal(&r);
                    for (int i = 0; i < br * ldb; i++)
                        B[i] = (nnrt_real)nnrt_rng_normal(&r);
                    for (int i = 0; i < M * ldc; i++)
                        C0[i] = C[i] = W[i] = (nnrt_real)nnrt_rng_normal(&r);
                    double alpha = pad ? 0.5 : 1, beta = pad ? 0.25 : (s % 2 ? 1 : 0);
                    naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, W, ldc);
                    nnrt_gemm(ta, tb, M, N, K, (nnrt_real)alpha, A, lda, B, ldb, (nnrt_real)beta,
                              C, ldc);
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double got = C[i * ldc + j], want = W[i * ldc + j];
                            ck_assert_msg(fabs(got - want) <= 1e-4 * (1 + fabs(want)) * (1 + K),
                                          "gemm(ta=%d, tb=%d, %dx%dx%d, pad %d): C[%d,%d] is "
                                          "%.9g, expected %.9g", ta, tb, M, N, K, pad, i, j, got,
                                          want);
                        }
                    /* the plain loops and the blocked kernel agree with the same reference */
                    for (int way = 0; way < 2; way++) {
                        memcpy(C, C0, sizeof(nnrt_real) * (size_t)(M * ldc));
                        if (way == 0)
                            nnrt_gemm_naive(ta, tb, M, N, K, (nnrt_real)alpha, A, lda, B, ldb,
                                            (nnrt_real)beta, C, ldc);
                        else
                            ck_assert_int_eq(nnrt_gemm_blocked(ta, tb, M, N, K, (nnrt_real)alpha,
                                                               A, lda, B, ldb, (nnrt_real)beta,
                                                               C, ldc), 0);
                        for (int i = 0; i < M; i++)
                            for (int j = 0; j < N; j++)
                                ck_assert_msg(fabs(C[i * ldc + j] - W[i * ldc + j]) <=
                                              1e-4 * (1 + fabs(W[i * ldc + j])) * (1 + K),
                                              "%s gemm(ta=%d, tb=%d, %dx%dx%d): C[%d,%d] is "
                                              "%.9g, expected %.9g", way ? "blocked" : "plain",
                                              ta, tb, M, N, K, i, j, (double)C[i * ldc + j],
                                              (double)W[i * ldc + j]);
                    }
                    free(A);
                    free(B);
                    free(C);
                    free(C0);
                    free(W);
                }
}
END_TEST

/* A product large enough to be cut into parts for the runtime's threads
 * gives the same bits on 1 and on 3 threads, for every transpose case, cut
 * by rows of C and by columns. */
START_TEST(test_gemm_cut_into_parts_gives_the_same_bits_on_any_number_of_threads)
{
    static const int sizes[][3] = { { 300, 64, 100 }, { 64, 300, 100 } };
    NnrtRng r;
    nnrt_rng_seed(&r, 9);
    for (int s = 0; s < 2; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                nnrt_real *A = malloc(sizeof(nnrt_real) * (size_t)(M * K));
                nnrt_real *B = malloc(sizeof(nnrt_real) * (size_t)(K * N));
                nnrt_real *C[2];
                for (int i = 0; i < M * K; i++)
                    A[i] = (nnrt_real)nnrt_rng_normal(&r);
                for (int i = 0; i < K * N; i++)
                    B[i] = (nnrt_real)nnrt_rng_normal(&r);
                for (int t = 0; t < 2; t++) {
                    C[t] = malloc(sizeof(nnrt_real) * (size_t)(M * N));
                    for (int i = 0; i < M * N; i++)
                        C[t][i] = (nnrt_real)(i % 7) / 8;
                    nnrt_parallel_stop();
                    setenv("NNRT_THREADS", t ? "3" : "1", 1);
                    nnrt_gemm(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 1, C[t], N);
                }
                nnrt_parallel_stop();
                unsetenv("NNRT_THREADS");
                ck_assert_msg(memcmp(C[0], C[1], sizeof(nnrt_real) * (size_t)(M * N)) == 0,
                              "gemm(ta=%d, tb=%d, %dx%dx%d): 1 and 3 threads differ", ta, tb, M,
                              N, K);
                free(A);
                free(B);
                free(C[0]);
                free(C[1]);
            }
}
END_TEST

/* One convolution's three steps (nnrt_conv.c), direct or as matrix
 * products (NnrtConv.gemm), out of x, K, b and dy; dx and dK are added to
 * (add = 1) the values conv_case_run puts there.  Per-sample buffers hold
 * ld >= n lanes per element, the padding lanes NaN (as the JIT's may hold
 * anything). */
typedef struct ConvCase {
    NnrtConv c;
    int n, ld;
    nnrt_real *x, *K, *b, *dy, *y, *dx, *dK;
} ConvCase;

static void conv_case_run(ConvCase *t, int gemm)
{
    size_t nx = (size_t)t->c.C * t->c.H * t->c.W * t->ld, nk = (size_t)t->c.O * t->c.C * t->c.KH * t->c.KW;
    for (size_t i = 0; i < nx; i++)
        t->dx[i] = (nnrt_real)(i % 5) / 4;
    for (size_t i = 0; i < nk; i++)
        t->dK[i] = (nnrt_real)(i % 3) / 2;
    t->c.gemm = gemm;
    setenv("NNRT_CONV", gemm ? "gemm" : "direct", 1);   /* (else small ones run directly) */
    nnrt_conv(&t->c, t->n, t->ld, t->x, t->K, t->b, t->y);
    nnrt_conv_bwd_x(&t->c, t->n, t->ld, t->dy, t->K, t->dx, 1);
    nnrt_conv_bwd_k(&t->c, t->n, t->ld, t->dy, t->x, t->dK, 1);
    unsetenv("NNRT_CONV");
}

static ConvCase conv_case(const int *s, int n, int ld, NnrtRng *r)
{
    ConvCase t = {{s[0], s[1], s[2], s[3], s[4], s[5], 0, 0, s[8], s[9], s[6], s[7], 0}, n, ld,
                  NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    t.c.OH = (t.c.H + 2 * t.c.ph - t.c.KH) / t.c.sh + 1;
    t.c.OW = (t.c.W + 2 * t.c.pw - t.c.KW) / t.c.sw + 1;
    size_t nx = (size_t)t.c.C * t.c.H * t.c.W * ld, ny = (size_t)t.c.O * t.c.OH * t.c.OW * ld;
    size_t nk = (size_t)t.c.O * t.c.C * t.c.KH * t.c.KW;
    nnrt_real **bufs[] = {&t.x, &t.dx, &t.K, &t.dK, &t.b, &t.dy, &t.y};
    size_t sizes[] = {nx, nx, nk, nk, (size_t)t.c.O, ny, ny};
    for (int k = 0; k < 7; k++) {
        *bufs[k] = malloc(sizes[k] * sizeof(nnrt_real));
        int lanes = k < 2 || k > 4;   /* a per-sample buffer */
        for (size_t i = 0; i < sizes[k]; i++)
            (*bufs[k])[i] = lanes && (int)(i % (size_t)ld) >= n ? (nnrt_real)NAN
                                                                : (nnrt_real)nnrt_rng_normal(r);
    }
    return t;
}

static void conv_case_free(ConvCase *t)
{
    nnrt_real *bufs[] = {t->x, t->dx, t->K, t->dK, t->b, t->dy, t->y};
    for (int k = 0; k < 7; k++)
        free(bufs[k]);
}

/* C H W O KH KW ph pw sh sw: LeNet's, padded, strided, a 1-d map, a window
 * that does not fit the stride, a stride larger than the window */
static const int conv_shapes[][10] = {
    {1, 28, 28, 6, 5, 5, 2, 2, 1, 1}, {6, 14, 14, 16, 5, 5, 0, 0, 1, 1},
    {3, 9, 7, 5, 3, 3, 1, 1, 1, 1},   {3, 9, 7, 5, 3, 2, 2, 1, 2, 2},
    {4, 1, 20, 3, 1, 5, 0, 2, 1, 3},  {2, 8, 8, 3, 3, 3, 2, 2, 1, 1},
    {2, 6, 6, 3, 2, 2, 0, 0, 2, 2},   {1, 3, 3, 2, 1, 1, 0, 0, 2, 2},
};

START_TEST(test_conv_direct_and_as_products_match_the_definition)
{
    static const int ns[] = {1, 5, 16, 37, 13}, lds[] = {1, 5, 16, 37, 16};
    NnrtRng r;
    nnrt_rng_seed(&r, 11);
    /* one thread: 240 small calls, each waiting for helpers a loaded
     * machine may not run for milliseconds (threads: the next test) */
    nnrt_parallel_stop();
    setenv("NNRT_THREADS", "1", 1);
    for (unsigned s = 0; s < sizeof conv_shapes / sizeof *conv_shapes; s++)
        for (int m = 0; m < 5; m++) {
            ConvCase t = conv_case(conv_shapes[s], ns[m], lds[m], &r);
            const NnrtConv *c = &t.c;
            int n = t.n, ld = t.ld;
            size_t nx = (size_t)c->C * c->H * c->W * ld, ny = (size_t)c->O * c->OH * c->OW * ld;
            size_t nk = (size_t)c->O * c->C * c->KH * c->KW;
            /* the definition, in double precision, and the sums of the
             * terms' magnitudes (the rounding scales with them) */
            double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dK = calloc(nk, sizeof *dK);
            double *ya = calloc(ny, sizeof *y), *dxa = calloc(nx, sizeof *dx), *dKa = calloc(nk, sizeof *dK);
            for (size_t i = 0; i < nx; i++)
                dx[i] = (double)(i % 5) / 4;
            for (size_t i = 0; i < nk; i++)
                dK[i] = (double)(i % 3) / 2;
            for (int o = 0; o < c->O; o++)
                for (int oy = 0; oy < c->OH; oy++)
                    for (int ox = 0; ox < c->OW; ox++)
                        for (int b = 0; b < n; b++) {
                            size_t ye = ((size_t)(o * c->OH + oy) * c->OW + ox) * ld + b;
                            y[ye] = t.b[o];
                            for (int ch = 0; ch < c->C; ch++)
                                for (int ky = 0; ky < c->KH; ky++)
                                    for (int kx = 0; kx < c->KW; kx++) {
                                        int iy = oy * c->sh - c->ph + ky, ix = ox * c->sw - c->pw + kx;
                                        if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W)
                                            continue;
                                        size_t xe = ((size_t)(ch * c->H + iy) * c->W + ix) * ld + b;
                                        size_t ke = ((size_t)(o * c->C + ch) * c->KH + ky) * c->KW + kx;
                                        y[ye] += (double)t.K[ke] * t.x[xe];
                                        dx[xe] += (double)t.K[ke] * t.dy[ye];
                                        dK[ke] += (double)t.dy[ye] * t.x[xe];
                                        ya[ye] += fabs((double)t.K[ke] * t.x[xe]);
                                        dxa[xe] += fabs((double)t.K[ke] * t.dy[ye]);
                                        dKa[ke] += fabs((double)t.dy[ye] * t.x[xe]);
                                    }
                        }
            for (int gemm = 0; gemm < 2; gemm++) {
                conv_case_run(&t, gemm);
                const nnrt_real *got[] = {t.y, t.dx, t.dK};
                const double *want[] = {y, dx, dK}, *mag[] = {ya, dxa, dKa};
                size_t len[] = {ny, nx, nk};
                for (int k = 0; k < 3; k++)
                    for (size_t i = 0; i < len[k]; i++)
                        ck_assert_msg((k < 2 && (int)(i % (size_t)ld) >= n) ||   /* padding */
                                          fabs(got[k][i] - want[k][i]) <= 4 * TOL * (1 + mag[k][i]),
                                      "conv shape %u, n %d, %s: %s[%zu] is %g, expected %g", s, n,
                                      gemm ? "products" : "direct", k ? k == 1 ? "dx" : "dK" : "y", i,
                                      (double)got[k][i], want[k][i]);
            }
            free(y);
            free(dx);
            free(dK);
            free(ya);
            free(dxa);
            free(dKa);
            conv_case_free(&t);
        }
    nnrt_parallel_stop();
    unsetenv("NNRT_THREADS");
}
END_TEST

/* A max-pool's gradient goes to each window's first maximum, for every
 * sample (the 2 x 2 windows' blocks of samples run in vectors): values of
 * three levels, so that windows hold ties; windows that tile the map
 * (assigned, or added to), overlap (added to) or are larger. */
START_TEST(test_maxpool_bwd_routes_to_the_first_maximum)
{
    /* C H W KH KW sh sw */
    static const int shapes[][7] = {{3, 6, 8, 2, 2, 2, 2}, {2, 5, 5, 2, 2, 1, 1}, {2, 6, 6, 3, 3, 3, 3}};
    static const int ns[] = {5, 16, 37};
    NnrtRng r;
    nnrt_rng_seed(&r, 13);
    for (unsigned s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int m = 0; m < 3; m++)
            for (int add = 0; add < 2; add++) {
                const int *h = shapes[s];
                NnrtConv c = {h[0], h[1], h[2], h[0], h[3], h[4], (h[1] - h[3]) / h[5] + 1,
                              (h[2] - h[4]) / h[6] + 1, h[5], h[6], 0, 0, 0};
                int n = ns[m], ld = n + 3;
                size_t nx = (size_t)c.C * c.H * c.W * ld, ny = (size_t)c.C * c.OH * c.OW * ld;
                nnrt_real *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *x);
                nnrt_real *want = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *x);
                for (size_t i = 0; i < nx; i++) {
                    x[i] = (nnrt_real)floor(3 * nnrt_rng_uniform(&r));
                    dx[i] = want[i] = add ? (nnrt_real)(i % 7) : (nnrt_real)NAN;
                }
                for (size_t i = 0; i < ny; i++)
                    dy[i] = (nnrt_real)nnrt_rng_normal(&r);
                for (size_t i = 0; i < nx; i++)
                    if (!add)
                        want[i] = 0;
                for (int ch = 0; ch < c.C; ch++)
                    for (int oy = 0; oy < c.OH; oy++)
                        for (int ox = 0; ox < c.OW; ox++)
                            for (int b = 0; b < n; b++) {
                                size_t best = 0;
                                for (int ky = 0; ky < c.KH; ky++)
                                    for (int kx = 0; kx < c.KW; kx++) {
                                        size_t e = ((size_t)(ch * c.H + oy * c.sh + ky) * c.W + ox * c.sw + kx) * ld + b;
                                        if ((ky == 0 && kx == 0) || x[e] > x[best])
                                            best = e;
                                    }
                                want[best] += dy[((size_t)(ch * c.OH + oy) * c.OW + ox) * ld + b];
                            }
                nnrt_maxpool_bwd(&c, n, ld, dy, x, dx, add);
                for (size_t i = 0; i < nx; i++)
                    ck_assert_msg((int)(i % (size_t)ld) >= n || fabs(dx[i] - want[i]) <= TOL * (1 + fabs(want[i])),
                                  "maxpool shape %u, n %d, add %d: dx[%zu] is %g, expected %g", s, n,
                                  add, i, (double)dx[i], (double)want[i]);
                free(x);
                free(dx);
                free(want);
                free(dy);
            }
}
END_TEST

/* The products' tiles are shared by the threads, and the kernel's gradient
 * sums groups of them in a fixed order: the same bits on any number. */
START_TEST(test_conv_as_products_gives_the_same_bits_on_any_number_of_threads)
{
    static const int shape[10] = {8, 20, 20, 16, 3, 3, 1, 1, 1, 1};
    NnrtRng r;
    nnrt_rng_seed(&r, 12);
    ConvCase t = conv_case(shape, 40, 40, &r);
    size_t nx = (size_t)8 * 20 * 20 * 40, ny = (size_t)16 * 20 * 20 * 40, nk = (size_t)16 * 8 * 9;
    nnrt_real *first = malloc((nx + ny + nk) * sizeof *first);
    for (int th = 0; th < 2; th++) {
        nnrt_parallel_stop();
        setenv("NNRT_THREADS", th ? "3" : "1", 1);
        conv_case_run(&t, 1);
        if (th == 0) {
            memcpy(first, t.y, ny * sizeof *first);
            memcpy(first + ny, t.dx, nx * sizeof *first);
            memcpy(first + ny + nx, t.dK, nk * sizeof *first);
        }
    }
    nnrt_parallel_stop();
    unsetenv("NNRT_THREADS");
    ck_assert_msg(memcmp(first, t.y, ny * sizeof *first) == 0, "y: 1 and 3 threads differ");
    ck_assert_msg(memcmp(first + ny, t.dx, nx * sizeof *first) == 0, "dx: 1 and 3 threads differ");
    ck_assert_msg(memcmp(first + ny + nx, t.dK, nk * sizeof *first) == 0, "dK: 1 and 3 threads differ");
    free(first);
    conv_case_free(&t);
}
END_TEST

START_TEST(test_gemm_with_beta_zero_overwrites_nan_in_c)
{
    for (int big = 0; big < 2; big++) {
        int n = big ? 64 : 4;      /* 64^3 goes to BLAS when it is built in */
        nnrt_real *A = calloc((size_t)(n * n), sizeof *A), *B = calloc((size_t)(n * n), sizeof *B);
        nnrt_real *C = malloc((size_t)(n * n) * sizeof *C);
        for (int i = 0; i < n; i++)
            A[i * n + i] = B[i * n + i] = 1;
        for (int i = 0; i < n * n; i++)
            C[i] = (nnrt_real)NAN;
        nnrt_gemm(0, 0, n, n, n, 1, A, n, B, n, 0, C, n);
        for (int i = 0; i < n * n; i++)
            ck_assert_msg(C[i] == (i / n == i % n), "C[%d] is %g after I @ I with beta = 0 "
                          "(n = %d), expected %d", i, (double)C[i], n, i / n == i % n);
        free(A);
        free(B);
        free(C);
    }
}
END_TEST

/* The blocked transpose against the definition, for shapes that are and
 * are not multiples of its tile, thin ones included. */
START_TEST(test_transpose_matches_the_definition)
{
    static const int shapes[][2] = { { 1, 1 }, { 1, 7 }, { 7, 1 }, { 64, 784 }, { 33, 65 },
                                     { 1000, 2 }, { 10, 1024 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        nnrt_real *a = malloc((size_t)rows * cols * sizeof *a);
        nnrt_real *t = malloc((size_t)rows * cols * sizeof *t);
        for (int i = 0; i < rows * cols; i++)
            a[i] = (nnrt_real)i;
        nnrt_transpose(a, rows, cols, t);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                ck_assert_msg(t[j * rows + i] == a[i * cols + j], "transpose of %dx%d: [%d,%d] "
                              "is %g, expected %g", rows, cols, j, i, (double)t[j * rows + i],
                              (double)a[i * cols + j]);
        free(a);
        free(t);
    }
}
END_TEST

/* Flush-to-zero must reach every thread that computes: with denormal
 * inputs read as zero (DAZ), tiny * huge is 0 in every entry of C, also in
 * the part of C the runtime's helper threads computed (256^3 is large
 * enough for nnrt_gemm to cut it into parts for them).  Without DAZ each entry would be K * 1e-10. */
START_TEST(test_flush_to_zero_reaches_the_gemm_threads)
{
    int n = 256;
    nnrt_real tiny = (nnrt_real)(sizeof(nnrt_real) == 4 ? 1e-40 : 1e-310);
    nnrt_real huge = (nnrt_real)(sizeof(nnrt_real) == 4 ? 1e30 : 1e300);
    nnrt_real *A = malloc((size_t)(n * n) * sizeof *A), *B = malloc((size_t)(n * n) * sizeof *B);
    nnrt_real *C = malloc((size_t)(n * n) * sizeof *C);
    for (int i = 0; i < n * n; i++) {
        A[i] = tiny;
        B[i] = huge;
    }
    nnrt_gemm(0, 0, n, n, n, 1, A, n, B, n, 0, C, n);   /* threads started before the switch */
    ck_assert_msg(C[0] != 0, "denormals are flushed before nnrt_set_ftz(1)");
    if (nnrt_set_ftz(1)) {
        nnrt_gemm(0, 0, n, n, n, 1, A, n, B, n, 0, C, n);
        int nonzero = 0;
        for (int i = 0; i < n * n; i++)
            nonzero += C[i] != 0;
        nnrt_set_ftz(0);
        ck_assert_msg(nonzero == 0, "%d of %d entries of C are not flushed to zero "
                      "(a thread without flush-to-zero computed them)", nonzero, n * n);
    }
    free(A);
    free(B);
    free(C);
}
END_TEST

/* ---- loops shared by threads (common_par.c) ---- */

static void count_range(void *ctx, int64_t lo, int64_t hi)
{
    int *seen = ctx;
    ck_assert_msg(lo % 1000 == 0 && (hi - lo == 1000 || hi == 100003), "range [%lld, %lld) is not "
                  "a chunk", (long long)lo, (long long)hi);
    for (int64_t i = lo; i < hi; i++)
        seen[i]++;
}

/* Every element exactly once, whatever the number of threads (including
 * more than the cores, and starting them again), in many loops in a row. */
START_TEST(test_parallel_loops_cover_every_element_once)
{
    static const char *threads[] = { "1", "2", "5" };
    int *seen = calloc(100003, sizeof *seen);
    for (int t = 0; t < 3; t++) {
        nnrt_parallel_stop();
        setenv("NNRT_THREADS", threads[t], 1);
        for (int rep = 0; rep < 200; rep++)
            nnrt_parallel(count_range, seen, 100003, 1000);
    }
    nnrt_parallel_stop();
    unsetenv("NNRT_THREADS");
    for (int i = 0; i < 100003; i++)
        ck_assert_msg(seen[i] == 600, "element %d done %d times in 600 loops", i, seen[i]);
    free(seen);
}
END_TEST

/* nnrt_parallel_begin ... nnrt_parallel_end: the same loop, while the caller
 * does something else in between, every other time another loop: every
 * element once per loop, on 1, 2 and 5 threads. */
START_TEST(test_parallel_loop_begun_and_ended_covers_every_element_once)
{
    static const char *threads[] = { "1", "2", "5" };
    int *seen = calloc(100003, sizeof *seen);
    for (int t = 0; t < 3; t++) {
        nnrt_parallel_stop();
        setenv("NNRT_THREADS", threads[t], 1);
        for (int rep = 0; rep < 200; rep++) {
            nnrt_parallel_begin(count_range, seen, 100003, 1000);
            volatile double x = 0;
            for (int i = 0; i < 1000; i++)
                x += i;
            if (rep % 2)   /* another loop meanwhile ends the begun one first */
                nnrt_parallel(count_range, seen, 100003, 1000);
            nnrt_parallel_end();
        }
        nnrt_parallel_end();   /* nothing open: nothing happens */
    }
    nnrt_parallel_stop();
    unsetenv("NNRT_THREADS");
    for (int i = 0; i < 100003; i++)
        ck_assert_msg(seen[i] == 900, "element %d done %d times in 900 loops", i, seen[i]);
    free(seen);
}
END_TEST

typedef struct Scale {
    const nnrt_real *a;
    nnrt_real f, *out;
} Scale;

static void scale_range(void *ctx, int64_t lo, int64_t hi)
{
    const Scale *sc = ctx;
    for (int64_t i = lo; i < hi; i++)
        sc->out[i] = sc->a[i] * sc->f;
}

/* The helpers compute with the caller's floating-point mode: denormal
 * inputs read as zero after nnrt_set_ftz(1) (tiny * huge = 0), not before. */
START_TEST(test_flush_to_zero_reaches_the_parallel_helpers)
{
    int n = 1 << 20;   /* 1024 chunks: enough for the helper to wake and take some */
    nnrt_real *a = malloc((size_t)n * sizeof *a), *out = malloc((size_t)n * sizeof *out);
    for (int i = 0; i < n; i++)
        a[i] = (nnrt_real)(sizeof(nnrt_real) == 4 ? 1e-40 : 1e-310);
    Scale sc = { a, (nnrt_real)(sizeof(nnrt_real) == 4 ? 1e30 : 1e300), out };
    setenv("NNRT_THREADS", "2", 1);
    nnrt_parallel(scale_range, &sc, n, 1024);   /* helpers started before the switch */
    ck_assert_msg(out[n - 1] != 0, "denormals are flushed before nnrt_set_ftz(1)");
    if (nnrt_set_ftz(1)) {
        int nonzero = 0;
        for (int rep = 0; rep < 20; rep++) {
            nnrt_parallel(scale_range, &sc, n, 1024);
            for (int i = 0; i < n; i++)
                nonzero += out[i] != 0;
        }
        nnrt_set_ftz(0);
        ck_assert_msg(nonzero == 0, "%d of 20 x %d results are not flushed to zero (a "
                      "helper without flush-to-zero computed them)", nonzero, n);
    }
    nnrt_parallel_stop();
    unsetenv("NNRT_THREADS");
    free(a);
    free(out);
}
END_TEST

/* ---- optimizers ---- */

static const NnrtParam one_param[] = {
    { "p", 0, { 0 }, 1, 0, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
    { "f", 0, { 0 }, 1, 1, 1, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
};

/* Two steps from p = 1 with gradients 0.5 then -1; f is frozen. */
static void two_steps(const char *spec, double lr, double want1, double want2)
{
    NnrtConfig c;
    char err[256];
    nnrt_config_default(&c);
    ck_assert_msg(nnrt_config_set(&c, "optimizer", spec, 0, err, sizeof err) == 0, "%s", err);
    NnrtModel m;
    memset(&m, 0, sizeof m);
    m.nparams = 2;
    m.params = one_param;
    m.nparam_total = 2;
    NnrtOptim o;
    ck_assert_int_eq(nnrt_optim_init(&o, &c.opt, &m), 0);
    nnrt_real p[2] = { 1, 3 }, g1[2] = { 0.5, 7 }, g2[2] = { -1, 7 };
    nnrt_optim_step(&o, p, g1, lr);
    ck_assert_msg(fabs(p[0] - want1) < TOL, "%s, step 1: p is %.12g, expected %.12g", spec,
                  (double)p[0], want1);
    nnrt_optim_step(&o, p, g2, lr);
    ck_assert_msg(fabs(p[0] - want2) < TOL, "%s, step 2: p is %.12g, expected %.12g", spec,
                  (double)p[0], want2);
    ck_assert_msg(p[1] == 3, "%s changed a frozen parameter to %g", spec, (double)p[1]);
    nnrt_optim_free(&o);
}

START_TEST(test_sgd_matches_hand_computed_steps)
{
    /* p1 = 1 - 0.1 * 0.5; p2 = p1 + 0.1 */
    two_steps("sgd(lr = 0.1)", 0.1, 0.95, 1.05);
    /* v1 = 0.5, p1 = 0.95; v2 = 0.9 * 0.5 - 1 = -0.55, p2 = 0.95 + 0.055 */
    two_steps("sgd(lr = 0.1, momentum = 0.9)", 0.1, 0.95, 1.005);
    /* nesterov: d1 = 0.5 + 0.9 * 0.5 = 0.95; d2 = -1 + 0.9 * -0.55 = -1.495 */
    two_steps("sgd(lr = 0.1, momentum = 0.9, nesterov = true)", 0.1, 0.905, 1.0545);
    /* weight decay 0.1: d1 = 0.5 + 0.1, d2 = -1 + 0.1 * 0.94 */
    two_steps("sgd(lr = 0.1, weight_decay = 0.1)", 0.1, 0.94, 1.0306);
}
END_TEST

START_TEST(test_adam_matches_hand_computed_steps)
{
    /* m1 = 0.05, v1 = 0.00025, p1 = 1 - 0.1 * (0.05 / 0.1) / (sqrt(0.00025 / 0.001) + 1e-8);
     * m2 = -0.055, v2 = 0.00124975, p2 = p1 - (0.1 / 0.19) m2 / (sqrt(v2 / 0.001999) + 1e-8) */
    two_steps("adam(lr = 0.1)", 0.1, 0.900000002, 0.9366103542405654);
}
END_TEST

/* Expected values: torch.optim in float64 on the same two gradients. */
START_TEST(test_adamw_and_rmsprop_match_torch)
{
    two_steps("adamw(lr = 0.1)", 0.1, 0.899000002, 0.9347113542385653);
    two_steps("adamw(lr = 0.1, weight_decay = 0.5)", 0.1, 0.8500000019999999,
              0.8441103541405653);
    two_steps("rmsprop(lr = 0.1)", 0.1, 1.9999996048181146e-07, 0.8953230819113371);
    two_steps("rmsprop(lr = 0.1, momentum = 0.9, centered = true, weight_decay = 0.1)", 0.1,
              -0.005037646909071525, -0.050304733954512376);
}
END_TEST

START_TEST(test_clip_grad_norm_scales_to_the_norm)
{
    static const NnrtParam two[] = {
        { "a", 1, { 2 }, 2, 0, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
        { "f", 0, { 0 }, 1, 2, 1, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
    };
    NnrtModel m;
    memset(&m, 0, sizeof m);
    m.nparams = 2;
    m.params = two;
    m.nparam_total = 3;
    nnrt_real g[3] = { 3, 4, 100 };   /* norm 5; the frozen 100 does not count */
    ck_assert(fabs(nnrt_clip_grad_norm(&m, g, 10) - 5) < 1e-12);
    ck_assert(g[0] == 3 && g[1] == 4);
    ck_assert(fabs(nnrt_clip_grad_norm(&m, g, 1) - 5) < 1e-12);
    ck_assert_msg(fabs(g[0] - 3 / (5 + 1e-6)) < TOL && fabs(g[1] - 4 / (5 + 1e-6)) < TOL,
                  "clipped to %g %g", (double)g[0], (double)g[1]);
    ck_assert(g[2] == 100);
}
END_TEST

/* ---- data binding ---- */

static void expect_load_error(const NnrtModel *m, const char *path, const char *text)
{
    NnrtSource src;
    NnrtData d;
    NnrtErr e;
    memset(&src, 0, sizeof src);
    src.kind = NNRT_SRC_FILE;
    snprintf(src.path, sizeof src.path, "%s", path);
    ck_assert_msg(nnrt_data_load(&d, m, &src, &e) != 0, "%s was accepted", path);
    ck_assert_msg(strstr(e.msg, text) != NULL, "message was \"%s\", expected it to contain \"%s\"",
                  e.msg, text);
}

START_TEST(test_data_files_that_do_not_fit_the_model_are_reported)
{
    NnrtModel m = lin_model();
    char path[600], want[900];
    NnrtNpzWriter *w;
    NnrtErr e;
    double buf[300] = { 0 };
    int64_t s1[2] = { 100, 3 }, s2[1] = { 100 }, s3[1] = { 99 }, s4[2] = { 100, 2 };
    tmp_path(path, sizeof path, "bad.npz");

    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "x", "<f8", 0, 2, s4, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "t", "<f8", 0, 1, s2, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    snprintf(want, sizeof want, "%s: no array 'y' (the model's target y[1]); arrays present: x, t",
             path);
    expect_load_error(&m, path, want);

    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "x", "<f8", 0, 2, s1, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "y", "<f8", 0, 1, s2, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    snprintf(want, sizeof want, "%s: array 'x' has shape [100, 3], the model's input x is [2]",
             path);
    expect_load_error(&m, path, want);

    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "x", "<f8", 0, 2, s4, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "y", "<f8", 0, 1, s3, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    expect_load_error(&m, path, "array 'y' has 99 samples, array 'x' has 100");

    /* class labels out of range */
    static const NnrtSlot cslots[] = {
        { "x", NNRT_INPUT, 1, { 2 }, 2, 0, 0, 0 },
        { "c", NNRT_TARGET, 0, { 0 }, 1, 3, 0, 0 },
    };
    NnrtModel cm = lin_model();
    cm.slots = cslots;
    double labels[100];
    for (int i = 0; i < 100; i++)
        labels[i] = i % 3;
    labels[41] = 3;
    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "x", "<f8", 0, 2, s4, buf, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "c", "<f8", 0, 1, s2, labels, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    expect_load_error(&cm, path, "array 'c' holds 3 at sample 41, the model's target c is "
                      "class(3) (expected integer labels 0 to 2)");

    expect_load_error(&m, "no_such_file.npz", "no_such_file.npz: cannot open");
    expect_load_error(&m, "train.csv", "train.csv: cannot open");
}
END_TEST

START_TEST(test_relative_data_paths_fall_back_to_the_models_directory)
{
    char dir[600], path[700], src[700];
    tmp_path(dir, sizeof dir, "models");
    NnrtErr e;
    ck_assert_int_eq(nnrt_mkdir_p(dir, &e), 0);
    snprintf(path, sizeof path, "%s/near_model.npz", dir);
    write_regression_data(path, 10, 1);
    snprintf(src, sizeof src, "%s/lin.nn", dir);
    NnrtModel m = lin_model();
    m.source = src;
    NnrtSource s;
    memset(&s, 0, sizeof s);
    s.kind = NNRT_SRC_FILE;
    snprintf(s.path, sizeof s.path, "near_model.npz");
    NnrtData d;
    ck_assert_msg(nnrt_data_load(&d, &m, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(d.n, 10);
    nnrt_data_free(&d);
}
END_TEST

static int gen_load(const NnrtModel *m, const char *text, NnrtData *d, NnrtErr *e)
{
    NnrtConfig c;
    char err[512];
    nnrt_config_default(&c);
    ck_assert_msg(nnrt_config_set(&c, "data", text, 0, err, sizeof err) == 0, "%s", err);
    return nnrt_data_load(d, m, &c.data, e);
}

START_TEST(test_generators_bind_to_the_first_input_and_target)
{
    NnrtModel m = lin_model();
    NnrtData a, b;
    NnrtErr e;
    ck_assert_msg(gen_load(&m, "noisy_xor(n = 500, s = 0.1, seed = 3)", &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.n, 500);
    for (int i = 0; i < 500; i++) {
        int bx = a.slot[0][2 * i] > 0.5, by = a.slot[0][2 * i + 1] > 0.5;
        ck_assert_msg(a.slot[1][i] == (bx ^ by), "sample %d: x = (%g, %g), label %g", i,
                      (double)a.slot[0][2 * i], (double)a.slot[0][2 * i + 1],
                      (double)a.slot[1][i]);
    }
    ck_assert_int_eq(gen_load(&m, "noisy_xor(n = 500, s = 0.1, seed = 3)", &b, &e), 0);
    ck_assert_msg(memcmp(a.slot[0], b.slot[0], 1000 * sizeof(nnrt_real)) == 0,
                  "the same seed gave different data");
    nnrt_data_free(&b);
    ck_assert_int_eq(gen_load(&m, "noisy_xor(n = 500, s = 0.1, seed = 4)", &b, &e), 0);
    ck_assert_msg(memcmp(a.slot[0], b.slot[0], 1000 * sizeof(nnrt_real)) != 0,
                  "different seeds gave the same data");
    nnrt_data_free(&a);
    nnrt_data_free(&b);

    ck_assert_int_eq(gen_load(&m, "moons(n = 100)", &a, &e), 0);
    nnrt_data_free(&a);
    ck_assert_int_eq(gen_load(&m, "random(n = 7)", &a, &e), 0);
    ck_assert_int_eq(a.n, 7);
    nnrt_data_free(&a);

    /* spirals with 3 classes need a class target with at least 3 classes */
    ck_assert_int_ne(gen_load(&m, "spirals(n = 30, classes = 3)", &a, &e), 0);
    ck_assert_msg(strstr(e.msg, "spirals: makes labels 0..2") != NULL, "message was %s", e.msg);
    static const NnrtSlot cslots[] = {
        { "x", NNRT_INPUT, 1, { 2 }, 2, 0, 0, 0 },
        { "c", NNRT_TARGET, 0, { 0 }, 1, 3, 0, 0 },
    };
    NnrtModel cm = lin_model();
    cm.slots = cslots;
    ck_assert_msg(gen_load(&cm, "spirals(n = 30, classes = 3)", &a, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 30; i++)
        ck_assert(a.slot[1][i] == i % 3);
    nnrt_data_free(&a);
    ck_assert_int_ne(gen_load(&cm, "spirals(n = 30, classes = 4)", &a, &e), 0);
    ck_assert_msg(strstr(e.msg, "spirals: makes 4 classes, the model's target c : class(3) has "
                         "only 3") != NULL, "message was %s", e.msg);

    /* sine needs x[1] */
    ck_assert_int_ne(gen_load(&m, "sine(n = 10)", &a, &e), 0);
    ck_assert_msg(strstr(e.msg, "sine: makes inputs of shape [1], the model's input x[2]") != NULL,
                  "message was %s", e.msg);
}
END_TEST

/* ---- parameters ---- */

START_TEST(test_initialisers_are_deterministic_and_follow_their_definitions)
{
    static const double lit[6] = { 1, 2, 3, 4, 5, 6 };
    static const NnrtParam ps[] = {
        { "W", 2, { 30, 20 }, 600, 0, 0, 0, { NNRT_INIT_XAVIER_UNIFORM, 0, 0, NULL, NULL, NULL }, NULL },
        { "H", 2, { 30, 20 }, 600, 600, 0, 0, { NNRT_INIT_HE_NORMAL, 0, 0, NULL, NULL, NULL }, NULL },
        { "I", 2, { 3, 3 }, 9, 1200, 0, 0, { NNRT_INIT_IDENTITY, 0, 0, NULL, NULL, NULL }, NULL },
        { "L", 2, { 2, 3 }, 6, 1209, 0, 0, { NNRT_INIT_LITERAL, 0, 0, lit, NULL, NULL }, NULL },
        { "U", 1, { 100 }, 100, 1215, 0, 0, { NNRT_INIT_UNIFORM, 2, 3, NULL, NULL, NULL }, NULL },
    };
    NnrtModel m = lin_model();
    m.nparams = 5;
    m.params = ps;
    m.nparam_total = 1315;
    nnrt_real *a = calloc(1315, sizeof *a), *b = calloc(1315, sizeof *b);
    NnrtErr e;
    ck_assert_int_eq(nnrt_params_init(&m, a, 1, &e), 0);
    ck_assert_int_eq(nnrt_params_init(&m, b, 1, &e), 0);
    ck_assert_msg(memcmp(a, b, 1315 * sizeof *a) == 0, "seed 1 twice gave different values");
    double r = sqrt(6.0 / 50), maxabs = 0, var = 0;
    for (int i = 0; i < 600; i++) {
        ck_assert_msg(fabs(a[i]) <= r, "xavier_uniform W[%d] = %g outside +-%g", i, (double)a[i], r);
        maxabs = fmax(maxabs, fabs(a[i]));
        var += (double)a[600 + i] * a[600 + i] / 600;
    }
    ck_assert_msg(maxabs > 0.9 * r, "xavier_uniform never came near its bound %g", r);
    ck_assert_msg(fabs(var - 0.1) < 0.02, "he_normal variance %g, expected 2 / 20 = 0.1", var);
    for (int i = 0; i < 9; i++)
        ck_assert(a[1200 + i] == (i % 4 == 0));
    for (int i = 0; i < 6; i++)
        ck_assert(a[1209 + i] == lit[i]);
    for (int i = 0; i < 100; i++)
        ck_assert(a[1215 + i] >= 2 && a[1215 + i] < 3);
    ck_assert_int_eq(nnrt_params_init(&m, b, 2, &e), 0);
    ck_assert_msg(memcmp(a, b, 600 * sizeof *a) != 0, "seeds 1 and 2 gave the same W");
    free(a);
    free(b);
}
END_TEST

/* ---- the trainer, end to end ---- */

START_TEST(test_training_lowers_the_loss_and_logs_every_epoch)
{
    NnrtModel m = lin_model();
    char data[600], log[600], csvp[700], save[600];
    tmp_path(data, sizeof data, "train.npz");
    tmp_path(log, sizeof log, "runs/lin");
    tmp_path(save, sizeof save, "final.npz");
    write_regression_data(data, 64, 1);
    char *out, *err;
    int rc = run(&m, &out, &err, "train", "--data", data, "--log", log, "--save", save,
                 "--test=random(n = 16, seed = 2)", NULL);
    ck_assert_msg(rc == 0, "train exited %d: %s", rc, err);
    ASSERT_HAS(out, "epoch 0  loss ");
    ASSERT_HAS(out, "epoch 30  loss ");
    ASSERT_HAS(out, "  test_loss ");
    ASSERT_HAS(out, "  lr 1.0e-01\n");
    snprintf(csvp, sizeof csvp, "%s/metrics.csv", log);
    char *csv = slurp(csvp);
    /* (the model has a penalty: a column of its own) */
    ck_assert_msg(strncmp(csv, "epoch,step,loss,lr,test_loss,penalty,seconds,train_seconds\n", 59)
                  == 0, "metrics.csv starts \"%.60s\"", csv);
    /* 31 rows: epochs 0..30; 8 updates per epoch */
    int rows = 0;
    double first = 0, last = 0;
    long long ep = -1, step = -1;
    for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        double loss, lr;
        ck_assert_int_eq(sscanf(line, "%lld,%lld,%lf,%lf", &ep, &step, &loss, &lr), 4);
        ck_assert_int_eq(ep, rows);
        ck_assert_int_eq(step, 8 * rows);
        ck_assert(lr == 0.1);
        if (rows == 0)
            first = loss;
        last = loss;
        rows++;
    }
    ck_assert_int_eq(rows, 31);
    ck_assert_msg(last < 0.05 * first, "loss went from %g to %g in 30 epochs", first, last);
    char pp[700];
    snprintf(pp, sizeof pp, "%s/params.npz", log);
    nnrt_real p[4], q[4];
    load_params(&m, pp, p);
    load_params(&m, save, q);
    ck_assert_msg(memcmp(p, q, sizeof p) == 0, "params.npz and --save differ");
    ck_assert_msg(fabs(p[0] - 2) < 0.1 && fabs(p[1] + 3) < 0.1 && fabs(p[2] - 0.5) < 0.1,
                  "trained to w = (%g, %g), b = %g; expected about (2, -3), 0.5", (double)p[0],
                  (double)p[1], (double)p[2]);
    ck_assert(p[3] == 1);
    char sp[700];
    snprintf(sp, sizeof sp, "%s/settings.txt", log);
    char *settings = slurp(sp);
    ASSERT_HAS(settings, "optimizer = sgd(lr = 0.1,");
    free(settings);
    free(csv);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_the_same_seed_trains_to_the_same_parameters)
{
    NnrtModel m = lin_model();
    char data[600], a[600], b[600], c[600];
    tmp_path(data, sizeof data, "train.npz");
    tmp_path(a, sizeof a, "a.npz");
    tmp_path(b, sizeof b, "b.npz");
    tmp_path(c, sizeof c, "c.npz");
    write_regression_data(data, 50, 2);
    ck_assert_int_eq(run(&m, NULL, NULL, "train", "--data", data, "--epochs", "3", "--batch", "7",
                         "--save", a, "--quiet", NULL), 0);
    ck_assert_int_eq(run(&m, NULL, NULL, "train", "--data", data, "--epochs", "3", "--batch", "7",
                         "--save", b, "--quiet", NULL), 0);
    ck_assert_int_eq(run(&m, NULL, NULL, "train", "--data", data, "--epochs", "3", "--batch", "7",
                         "--save", c, "--quiet", "--seed", "9", NULL), 0);
    nnrt_real pa[4], pb[4], pc[4];
    load_params(&m, a, pa);
    load_params(&m, b, pb);
    load_params(&m, c, pc);
    ck_assert_msg(memcmp(pa, pb, sizeof pa) == 0, "two runs with seed 1 differ");
    ck_assert_msg(memcmp(pa, pc, sizeof pa) != 0, "seeds 1 and 9 trained to the same values");
}
END_TEST

START_TEST(test_grad_matches_finite_differences_and_omits_frozen_params)
{
    NnrtModel m = lin_model();
    char data[600], p0[600], g[600];
    tmp_path(data, sizeof data, "big.npz");
    tmp_path(p0, sizeof p0, "p0.npz");
    tmp_path(g, sizeof g, "g.npz");
    /* 5000 samples: more than one workspace chunk, so chunks must accumulate */
    write_regression_data(data, 5000, 3);
    char *err;
    ck_assert_int_eq(run(&m, NULL, NULL, "init", "--out", p0, "--seed", "4", NULL), 0);
    for (int sum = 0; sum < 2; sum++) {
        int rc = run(&m, NULL, &err, "grad", "--params", p0, "--data", data, "--out", g,
                     "--reduce", sum ? "sum" : "mean", NULL);
        ck_assert_msg(rc == 0, "grad exited %d: %s", rc, err);
        free(err);
        NnrtNpz *z;
        NnrtErr e;
        ck_assert_msg(nnrt_npz_open(&z, g, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(nnrt_npz_count(z), 2);
        ck_assert_msg(nnrt_npz_find(z, "s") < 0, "the frozen s has a gradient");
        nnrt_npz_close(z);
        nnrt_real p[4], gr[4] = { 0, 0, 0, 0 };
        load_params(&m, p0, p);
        static const NnrtParam trainable[] = {
            { "w", 1, { 2 }, 2, 0, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
            { "b", 1, { 1 }, 1, 2, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, NULL },
        };
        NnrtModel tm = m;
        tm.nparams = 2;
        tm.params = trainable;
        load_params(&tm, g, gr);
        NnrtData d;
        NnrtSource s;
        memset(&s, 0, sizeof s);
        s.kind = NNRT_SRC_FILE;
        snprintf(s.path, sizeof s.path, "%s", data);
        ck_assert_int_eq(nnrt_data_load(&d, &m, &s, &e), 0);
        for (int k = 0; k < 3; k++) {
            nnrt_real saved = p[k];
            double h = 1e-3;
            p[k] = (nnrt_real)(saved + h);
            double up = p[k], fp = objective(&d, p, sum);
            p[k] = (nnrt_real)(saved - h);
            double down = p[k], fm = objective(&d, p, sum);
            p[k] = saved;
            double num = (fp - fm) / (up - down);
            ck_assert_msg(fabs(gr[k] - num) <= 1e-4 * fmax(1, fabs(num)),
                          "reduce = %s: gradient entry %d is %.9g, finite differences give "
                          "%.9g", sum ? "sum" : "mean", k, (double)gr[k], num);
        }
        nnrt_data_free(&d);
    }
}
END_TEST

START_TEST(test_one_full_batch_epoch_is_one_gradient_step)
{
    NnrtModel m = lin_model();
    char data[600], p0[600], g[600], p1[600];
    tmp_path(data, sizeof data, "fb.npz");
    tmp_path(p0, sizeof p0, "fb0.npz");
    tmp_path(g, sizeof g, "fbg.npz");
    tmp_path(p1, sizeof p1, "fb1.npz");
    write_regression_data(data, 40, 5);
    ck_assert_int_eq(run(&m, NULL, NULL, "init", "--out", p0, NULL), 0);
    ck_assert_int_eq(run(&m, NULL, NULL, "grad", "--params", p0, "--data", data, "--out", g,
                         NULL), 0);
    char *err;
    char log[600], csvp[700];
    tmp_path(log, sizeof log, "fblog");
    int rc = run(&m, NULL, &err, "train", "--init", p0, "--data", data, "--batch", "full",
                 "--epochs", "1", "--optimizer", "sgd(lr = 0.05)", "--save", p1, "--quiet",
                 "--log", log, NULL);
    ck_assert_msg(rc == 0, "train exited %d: %s", rc, err);
    free(err);
    /* the logged losses are the objective eval reports, digit for digit */
    snprintf(csvp, sizeof csvp, "%s/metrics.csv", log);
    char *csv = slurp(csvp);
    for (int row = 0; row < 2; row++) {
        char *out, want[200];
        ck_assert_int_eq(run(&m, &out, NULL, "eval", "--params", row ? p1 : p0, "--data", data,
                             NULL), 0);
        char loss[100];
        ck_assert_int_eq(sscanf(out, "loss: %99s", loss), 1);
        snprintf(want, sizeof want, "\n%d,%d,%s,", row, row, loss);
        ASSERT_HAS(csv, want);
        free(out);
    }
    free(csv);
    nnrt_real a[4], b[4], gr[4] = { 0 };
    load_params(&m, p0, a);
    load_params(&m, p1, b);
    NnrtNpz *z;
    NnrtErr e;
    NnrtArray arr;
    ck_assert_int_eq(nnrt_npz_open(&z, g, &e), 0);
    ck_assert_int_eq(nnrt_npz_read(z, nnrt_npz_find(z, "w"), &arr, &e), 0);
    gr[0] = (nnrt_real)nnrt_array_get(&arr, 0);
    gr[1] = (nnrt_real)nnrt_array_get(&arr, 1);
    nnrt_array_free(&arr);
    ck_assert_int_eq(nnrt_npz_read(z, nnrt_npz_find(z, "b"), &arr, &e), 0);
    gr[2] = (nnrt_real)nnrt_array_get(&arr, 0);
    nnrt_array_free(&arr);
    nnrt_npz_close(z);
    for (int k = 0; k < 3; k++) {
        nnrt_real want = a[k] - (nnrt_real)0.05 * gr[k];
        ck_assert_msg(b[k] == want, "after one full-batch step p[%d] is %.9g, expected p - lr g "
                      "= %.9g", k, (double)b[k], (double)want);
    }
    ck_assert(b[3] == a[3]);
}
END_TEST

START_TEST(test_steps_override_epochs_and_use_the_partial_batch)
{
    NnrtModel m = lin_model();
    char data[600], log[600], csvp[700];
    tmp_path(data, sizeof data, "st.npz");
    tmp_path(log, sizeof log, "steps");
    write_regression_data(data, 30, 6);
    /* 30 samples, batch 8: 4 updates per epoch (8, 8, 8, 6); 10 steps = 3 epochs */
    char *err;
    int rc = run(&m, NULL, &err, "train", "--data", data, "--batch=8", "--steps", "10",
                 "--log", log, "--quiet", "--schedule", "step(every = 1, gamma = 0.5)", NULL);
    ck_assert_msg(rc == 0, "train exited %d: %s", rc, err);
    free(err);
    snprintf(csvp, sizeof csvp, "%s/metrics.csv", log);
    char *csv = slurp(csvp);
    ASSERT_HAS(csv, "\n0,0,");
    ASSERT_HAS(csv, "\n1,4,");
    ASSERT_HAS(csv, "\n2,8,");
    ASSERT_HAS(csv, "\n3,10,");
    ck_assert_msg(strstr(csv, "\n4,") == NULL, "trained past 10 steps:\n%s", csv);
    /* the lr of row e is the one its updates used: 0.1 * 0.5^(e - 1) */
    ASSERT_HAS(csv, ",0.025,");
    free(csv);
}
END_TEST

START_TEST(test_eval_prints_the_objective_and_accuracy)
{
    NnrtModel m = lin_model();
    char data[600], p0[600];
    tmp_path(data, sizeof data, "ev.npz");
    tmp_path(p0, sizeof p0, "ev0.npz");
    write_regression_data(data, 33, 7);
    ck_assert_int_eq(run(&m, NULL, NULL, "init", "--out", p0, NULL), 0);
    char *out, *err;
    int rc = run(&m, &out, &err, "eval", "--params", p0, "--data", data, "--metrics", "accuracy",
                 "--reduce", "sum", NULL);
    ck_assert_msg(rc == 0, "eval exited %d: %s", rc, err);
    double loss = -1, acc = -1;
    ck_assert_msg(sscanf(out, "loss: %lf\naccuracy: %lf", &loss, &acc) == 2, "eval printed %s", out);
    NnrtData d;
    NnrtErr e;
    NnrtSource s;
    memset(&s, 0, sizeof s);
    s.kind = NNRT_SRC_FILE;
    snprintf(s.path, sizeof s.path, "%s", data);
    ck_assert_int_eq(nnrt_data_load(&d, &m, &s, &e), 0);
    nnrt_real p[4];
    load_params(&m, p0, p);
    double want = objective(&d, p, 1);
    ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "eval printed loss %.9g, expected %.9g",
                  loss, want);
    /* accuracy: prediction > 0 against target > 0.5 */
    int correct = 0;
    for (int i = 0; i < 33; i++) {
        double yhat = p[0] * d.slot[0][2 * i] + p[1] * d.slot[0][2 * i + 1] + p[2];
        correct += (yhat > 0) == (d.slot[1][i] > 0.5);
    }
    ck_assert_msg(fabs(acc - correct / 33.0) < 1e-9, "accuracy %g, expected %g", acc,
                  correct / 33.0);
    nnrt_data_free(&d);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_check_passes_a_right_gradient_and_fails_a_wrong_one)
{
    NnrtModel m = lin_model();
    char *out, *err;
    int rc = run(&m, &out, &err, "check", NULL);
    ck_assert_msg(rc == 0, "check of a correct model exited %d:\n%s%s", rc, out, err);
    ASSERT_HAS(out, "PASS: all 2 parameters");
    ASSERT_HAS(out, "(f(p + h) - f(p - h)) / 2h");
    ASSERT_HAS(out, "frozen");
    free(out);
    free(err);
    NnrtModel bad = lin_model();
    bad.create = lin_create_bad;
    rc = run(&bad, &out, &err, "check", "--data", "random(n = 5)", NULL);
    ck_assert_msg(rc == 1, "check of a wrong backward exited %d:\n%s", rc, out);
    ASSERT_HAS(out, "FAIL: 1 of 2 parameters");
    free(out);
    free(err);
}
END_TEST

START_TEST(test_command_line_mistakes_exit_2_with_a_suggestion)
{
    NnrtModel m = lin_model();
    char *err;
    ck_assert_int_eq(run(&m, NULL, &err, "train", "--epoch", "3", NULL), 2);
    ASSERT_HAS(err, "error: unknown flag '--epoch' (did you mean '--epochs'?)");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "trian", NULL), 2);
    ASSERT_HAS(err, "unknown command 'trian' (did you mean 'train'?)");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "train", "--optimizer", "adma", NULL), 2);
    ASSERT_HAS(err, "did you mean 'adam'?");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "train", "--epochs", NULL), 2);
    ASSERT_HAS(err, "--epochs needs a value");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "eval", "--save", "x.npz", NULL), 2);
    ASSERT_HAS(err, "'eval' does not take --save");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "init", NULL), 2);
    ASSERT_HAS(err, "init needs --out");
    free(err);
    ck_assert_int_eq(run(&m, NULL, &err, "train", NULL), 2);
    ASSERT_HAS(err, "no data: pass --data FILE.npz");
    free(err);
    char *out;
    ck_assert_int_eq(run(&m, &out, NULL, "--help", NULL), 0);
    ASSERT_HAS(out, "--optimizer OPT     sgd(lr = 0.1,");
    free(out);
}
END_TEST

START_TEST(test_a_diverging_run_stops_with_a_nan_message)
{
    NnrtModel m = lin_model();
    char data[600];
    tmp_path(data, sizeof data, "div.npz");
    write_regression_data(data, 20, 8);
    char *err;
    int rc = run(&m, NULL, &err, "train", "--data", data, "--lr", "1e6", "--epochs", "100",
                 "--quiet", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "error: loss became inf at epoch") != NULL ||
                  strstr(err, "error: loss became nan at epoch") != NULL, "stderr was %s", err);
    free(err);
}
END_TEST

START_TEST(test_init_files_round_trip_and_missing_params_are_reported)
{
    NnrtModel m = lin_model();
    char p0[600], partial[600];
    tmp_path(p0, sizeof p0, "i0.npz");
    tmp_path(partial, sizeof partial, "partial.npz");
    ck_assert_int_eq(run(&m, NULL, NULL, "init", "--out", p0, "--seed", "11", NULL), 0);
    nnrt_real a[4], b[4];
    NnrtErr e;
    load_params(&m, p0, a);
    ck_assert_int_eq(nnrt_params_init(&m, b, 11, &e), 0);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "init --seed 11 differs from the initialisers");
    NnrtNpzWriter *w;
    int64_t s2[1] = { 2 };
    char descr[8];
    nnrt_native_descr(descr, sizeof descr, 'f', (int)sizeof(nnrt_real));
    ck_assert_int_eq(nnrt_npz_create(&w, partial, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "w", descr, 0, 1, s2, a, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    char *err;
    ck_assert_int_eq(run(&m, NULL, &err, "eval", "--params", partial, "--data", "random(n=3)",
                         NULL), 1);
    ASSERT_HAS(err, "no array 'b' (the model's parameter b[1]); arrays present: w");
    free(err);
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime " NNRT_DTYPE_NAME);
    TCase *k = tcase_create("kernels");
    tcase_set_timeout(k, 30);   /* (a loaded machine runs the convolutions' cases for seconds) */
    tcase_add_test(k, test_gemm_blas_blocked_and_plain_match_a_naive_triple_loop_for_every_transpose_and_stride);
    tcase_add_test(k, test_gemm_with_beta_zero_overwrites_nan_in_c);
    tcase_add_test(k, test_gemm_cut_into_parts_gives_the_same_bits_on_any_number_of_threads);
    tcase_add_test(k, test_conv_direct_and_as_products_match_the_definition);
    tcase_add_test(k, test_conv_as_products_gives_the_same_bits_on_any_number_of_threads);
    tcase_add_test(k, test_maxpool_bwd_routes_to_the_first_maximum);
    tcase_add_test(k, test_transpose_matches_the_definition);
    tcase_add_test(k, test_flush_to_zero_reaches_the_gemm_threads);
    tcase_add_test(k, test_parallel_loops_cover_every_element_once);
    tcase_add_test(k, test_parallel_loop_begun_and_ended_covers_every_element_once);
    tcase_add_test(k, test_flush_to_zero_reaches_the_parallel_helpers);
    tcase_add_test(k, test_sgd_matches_hand_computed_steps);
    tcase_add_test(k, test_adam_matches_hand_computed_steps);
    tcase_add_test(k, test_adamw_and_rmsprop_match_torch);
    tcase_add_test(k, test_clip_grad_norm_scales_to_the_norm);
    suite_add_tcase(s, k);
    TCase *d = tcase_create("data and parameters");
    tcase_add_test(d, test_data_files_that_do_not_fit_the_model_are_reported);
    tcase_add_test(d, test_relative_data_paths_fall_back_to_the_models_directory);
    tcase_add_test(d, test_generators_bind_to_the_first_input_and_target);
    tcase_add_test(d, test_initialisers_are_deterministic_and_follow_their_definitions);
    suite_add_tcase(s, d);
    TCase *t = tcase_create("trainer");
    tcase_add_test(t, test_training_lowers_the_loss_and_logs_every_epoch);
    tcase_add_test(t, test_the_same_seed_trains_to_the_same_parameters);
    tcase_add_test(t, test_grad_matches_finite_differences_and_omits_frozen_params);
    tcase_add_test(t, test_one_full_batch_epoch_is_one_gradient_step);
    tcase_add_test(t, test_steps_override_epochs_and_use_the_partial_batch);
    tcase_add_test(t, test_eval_prints_the_objective_and_accuracy);
    tcase_add_test(t, test_check_passes_a_right_gradient_and_fails_a_wrong_one);
    tcase_add_test(t, test_command_line_mistakes_exit_2_with_a_suggestion);
    tcase_add_test(t, test_a_diverging_run_stops_with_a_nan_message);
    tcase_add_test(t, test_init_files_round_trip_and_missing_params_are_reported);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/check_runtime_XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(runtime_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
