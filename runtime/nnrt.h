/*
 * nnrt.h - the public interface of nnc's runtime library (libnnrt).
 *
 * Generated trainers include this header and nothing else.  A generated
 * model.c describes its model with one NnrtModel (parameter table, data
 * slots, the train block's settings) and four functions (create a workspace,
 * forward, backward, penalty); its main() hands that description to
 * nnrt_main(), which implements the trainer's command line (train, init,
 * grad, eval, check), data loading, optimizers, schedules and logs.
 *
 * The runtime is built twice from the same sources: once with nnrt_real =
 * float, once with nnrt_real = double (NNRT_F64).  Every function whose
 * signature mentions nnrt_real is renamed per variant by NNRT_FN, so both
 * variants live in one libnnrt.a and a program uses the one matching the
 * `#define NNRT_F64` it was compiled with.
 */
#ifndef NNRT_H
#define NNRT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>   /* generated code: calloc, free */
#include <string.h>   /* generated code: memset, memcpy */

#define NNRT_VERSION "0.1.0"
#define NNRT_MAXRANK 4

/* ---- float32 exp, log1p and tanh as plain arithmetic ----
 *
 * glibc's expf, log1pf and tanhf are opaque calls per element, so no loop
 * around them vectorises.  These compute the same functions with
 * multiplies, adds, divisions, integer shifts and selects, which the C
 * compiler inlines and vectorises; float32 trainers use them for every
 * elementwise exp, log1p and tanh (emit_c.c: EXP, LOG1P, TANH of ops.def's
 * templates: exp, sigmoid, tanh, bce_with_logits and their gradients).
 *
 *   nnrt_expf:   x = n ln2 + r, |r| <= ln2 / 2, exp(r) by Cephes' polynomial,
 *                times 2^n built in the exponent bits (two factors, so that
 *                results round into the denormals as glibc's do)
 *   nnrt_log1pf: 1 + x = w + c exactly (w rounded), log w = e ln2 + log m
 *                with m in [sqrt(1/2), sqrt(2)) by Cephes' logf polynomial,
 *                plus c / w
 *   nnrt_tanhf:  |x| < 0.625: x + x^3 P(x^2), P of degree 4 (Cephes' tanhf);
 *                otherwise 1 - 2 / (exp(2|x|) + 1) with the sign of x, |x|
 *                capped at 9.5 (tanh rounds to 1 from 9.0109 on)
 *
 * Worst errors over every float against double precision, with or without
 * fused multiply-adds: exp 1.01 ulp, log1p 0.90, tanh 1.33 (glibc's tanhf:
 * 2.19); tanh is +-1 exactly where glibc's is; +-0, +-inf, NaN, overflow and
 * denormal results as libm (tests/unit/check_mathf.c sweeps the floats
 * densely and every float near the seams; docs/performance.md, *exp, log1p
 * and tanh*).  The JIT (`nnc run`) builds the same operations in the same
 * order from the same constants (src/codegen/jit_llvm.c, jit_expf etc.);
 * tests/e2e/jit.sh checks that they agree bit for bit. */

/* Coefficients, highest degree first (read by the JIT as well). */
#define NNRT_EXPF_POLY {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, \
                        4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}
#define NNRT_LOGF_POLY {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f, \
                        -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f, \
                        2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f}
#define NNRT_TANHF_POLY {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, \
                         1.33314422036e-1f, -3.33332819422e-1f}
#define NNRT_LOG2EF 1.44269504088896341f
#define NNRT_LN2F_HI 0.693359375f         /* ln 2 = NNRT_LN2F_HI + NNRT_LN2F_LO, */
#define NNRT_LN2F_LO -2.12194440e-4f      /* n * NNRT_LN2F_HI exact for |n| < 2^9 */
#define NNRT_ROUNDF 12582912.0f           /* 1.5 * 2^23: (t + it) - it rounds t */
#define NNRT_EXPF_MAX 88.8f               /* exp overflows from 88.7228 on */
#define NNRT_EXPF_MIN -104.0f             /* and rounds to 0 below -103.9721 */
#define NNRT_SQRT2F 1.41421356f
#define NNRT_TANHF_SMALL 0.625f
#define NNRT_TANHF_CAP 9.5f

/* 2^n for an integer n in [-126, 127]: the exponent bits. */
static inline float nnrt_pow2if(int32_t n)
{
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float y;
    memcpy(&y, &bits, sizeof y);
    return y;
}

static inline float nnrt_expf(float x)
{
    static const float c[] = NNRT_EXPF_POLY;
    float t = x < NNRT_EXPF_MAX ? x : NNRT_EXPF_MAX;           /* NaN too */
    t = t > NNRT_EXPF_MIN ? t : NNRT_EXPF_MIN;
    float n = (t * NNRT_LOG2EF + NNRT_ROUNDF) - NNRT_ROUNDF;   /* -150..128 */
    float r = t - n * NNRT_LN2F_HI;
    r = r - n * NNRT_LN2F_LO;
    float p = c[0];
    for (int k = 1; k < (int)(sizeof c / sizeof c[0]); k++)
        p = p * r + c[k];
    int32_t half = (int32_t)n / 2;
    float y = (p * (r * r) + r + 1) * nnrt_pow2if(half) * nnrt_pow2if((int32_t)n - half);
    return x == x ? y : x;
}

static inline float nnrt_log1pf(float x)
{
    static const float c[] = NNRT_LOGF_POLY;
    float w = 1 + x;
    float lost = x > 1 ? 1 - (w - x) : x - (w - 1);            /* 1 + x = w + lost */
    uint32_t bits;
    memcpy(&bits, &w, sizeof bits);
    float e = (float)(int32_t)(bits >> 23) - 127;             /* w = 2^e m, m in [1, 2) */
    bits = (bits & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &bits, sizeof m);
    e = m > NNRT_SQRT2F ? e + 1 : e;
    float f = (m > NNRT_SQRT2F ? m * 0.5f : m) - 1;
    float z = f * f, p = c[0];
    for (int k = 1; k < (int)(sizeof c / sizeof c[0]); k++)
        p = p * f + c[k];
    float y = p * f * z;
    y = y + e * NNRT_LN2F_LO;
    y = y - 0.5f * z;
    y = y + lost / w;
    y = f + y;
    y = y + e * NNRT_LN2F_HI;
    y = w < INFINITY ? y : w;                                  /* inf, NaN */
    y = w > 0 ? y : w == 0 ? -INFINITY : NAN;                  /* x <= -1, NaN */
    return x == 0 ? x : y;                                     /* -0 */
}

static inline float nnrt_tanhf(float x)
{
    static const float c[] = NNRT_TANHF_POLY;
    float z = x * x, s = c[0];
    for (int k = 1; k < (int)(sizeof c / sizeof c[0]); k++)
        s = s * z + c[k];
    s = s * z * x + x;
    float a = fabsf(x);
    float capped = a < NNRT_TANHF_CAP ? a : NNRT_TANHF_CAP;   /* NaN too */
    float big = 1 - 2 / (nnrt_expf(capped + capped) + 1);
    return copysignf(a >= NNRT_TANHF_SMALL ? big : s, x);       /* NaN: s */
}

#ifdef NNRT_F64
typedef double nnrt_real;
#define NNRT_FN(name) name##_f64
#define NNRT_DTYPE_NAME "float64"
#define NNRT_EXP exp
#define NNRT_LOG log
#define NNRT_LOG1P log1p
#define NNRT_SQRT sqrt
#define NNRT_TANH tanh
#define NNRT_FABS fabs
#define NNRT_POW pow
#else
typedef float nnrt_real;
#define NNRT_FN(name) name##_f32
#define NNRT_DTYPE_NAME "float32"
#define NNRT_EXP expf
#define NNRT_LOG logf
#define NNRT_LOG1P log1pf
#define NNRT_SQRT sqrtf
#define NNRT_TANH nnrt_tanhf
#define NNRT_FABS fabsf
#define NNRT_POW powf
#endif

/* ---- the model description a generated trainer hands to the runtime ---- */

/* How a parameter gets its initial value (docs/language.md, `param ... = INIT`).
 * Fan-in and fan-out of a parameter of shape [d0, d1, ...] are d1*d2*...
 * and d0 (PyTorch's convention for a Linear weight [out, in]); a rank-1
 * parameter has fan_in = fan_out = d0, a scalar 1. */
typedef enum NnrtInitKind {
    NNRT_INIT_ZEROS,
    NNRT_INIT_ONES,
    NNRT_INIT_IDENTITY,       /* ones on the main diagonal (rank 2) */
    NNRT_INIT_NORMAL,         /* a = mean, b = standard deviation */
    NNRT_INIT_UNIFORM,        /* uniform on [a, b) */
    NNRT_INIT_XAVIER_UNIFORM, /* U(-r, r), r = sqrt(6 / (fan_in + fan_out)) */
    NNRT_INIT_XAVIER_NORMAL,  /* N(0, sqrt(2 / (fan_in + fan_out))) */
    NNRT_INIT_HE_UNIFORM,     /* U(-r, r), r = sqrt(6 / fan_in) */
    NNRT_INIT_HE_NORMAL,      /* N(0, sqrt(2 / fan_in)) */
    NNRT_INIT_LITERAL,        /* `values`, row-major, `size` of them */
    NNRT_INIT_LOAD,           /* array `key` of file `file` */
    NNRT_INIT_FILL            /* every element a */
} NnrtInitKind;

typedef struct NnrtInit {
    NnrtInitKind kind;
    double a, b;              /* NORMAL, UNIFORM */
    const double *values;     /* LITERAL */
    const char *file, *key;   /* LOAD */
} NnrtInit;

typedef struct NnrtParam {
    const char *name;         /* the user's name; the key in .npz files */
    int rank;
    int dim[NNRT_MAXRANK];
    int64_t size;             /* product of dims */
    int64_t offset;           /* where it starts in the flat parameter buffer */
    int frozen;               /* used, never updated, has no gradient */
    int decay;                /* reserved: 1 if weight decay applies (rank >= 2) */
    NnrtInit init;
    const char *where;        /* "model.nn:7" for messages */
} NnrtParam;

/* A data slot: an `input` or a `target`, one sample's shape.  Class targets
 * (`target c : class(K)`) have rank 0, size 1 and nclass = K; their labels
 * travel in the batch buffers as nnrt_real values holding integers 0..K-1. */
typedef enum NnrtSlotKind { NNRT_INPUT, NNRT_TARGET } NnrtSlotKind;

typedef struct NnrtSlot {
    const char *name;
    NnrtSlotKind kind;
    int rank;
    int dim[NNRT_MAXRANK];
    int64_t size;             /* elements per sample */
    int nclass;               /* > 0: class target with this many classes */
    int unused;               /* the loss does not read it: data may omit it (zeros) */
    int nindex;               /* > 0: an index input, `index(V)`: integers 0..V-1 (as labels) */
} NnrtSlot;

/* A (key, value) pair of the train block, the value written in the
 * language's syntax exactly as a command-line flag takes it:
 * {"optimizer", "sgd(lr = 0.01)"}, {"data", "\"train.npz\""}, {"epochs", "5"}. */
typedef struct NnrtSetting {
    const char *key, *value;
    const char *where;        /* "model.nn:14" */
} NnrtSetting;

/* A tensor the runtime draws for every sample of every pass instead of
 * reading it from data: a `noise` of the model or a dropout's mask.  In
 * train mode each element is a fresh number from a counter-based generator
 * keyed by (seed, step, the sample's index in its data set, the draw, the
 * element) (nnrt_draw_value), so it is reproducible from the seed, the
 * same however a batch is split into passes, threads or MPI ranks, and
 * resumes bit for bit; in eval mode it is the draw's mean. */
typedef enum NnrtDrawKind {
    NNRT_DRAW_NORMAL,         /* a = mean, b = standard deviation; eval: a */
    NNRT_DRAW_UNIFORM,        /* uniform on [a, b); eval: (a + b) / 2 */
    NNRT_DRAW_DROPOUT         /* 0 with probability a, else 1 / (1 - a); eval: 1 */
} NnrtDrawKind;

typedef struct NnrtDraw {
    const char *name;
    NnrtDrawKind kind;
    double a, b;
    int rank;
    int dim[NNRT_MAXRANK];
    int64_t size;             /* elements per sample */
} NnrtDraw;

/* Element `elem` of draw `draw` for one sample: train = 0 gives the mean.
 * nnrt_draw_key hashes the coordinates but the element once, nnrt_draw_at
 * gives an element of a key: the same number. */
double nnrt_draw_value(const NnrtDraw *d, int train, uint64_t seed, uint64_t step,
                       uint64_t sample, int draw, int64_t elem);
uint64_t nnrt_draw_key(uint64_t seed, uint64_t step, uint64_t sample, int draw);
double nnrt_draw_at(const NnrtDraw *d, int train, uint64_t key, int64_t elem);

/* A value the forward pass computes under a name of the model (h1, logits):
 * what `predict --outputs` can write besides inputs and targets. */
typedef struct NnrtValue {
    const char *name;
    int rank;
    int dim[NNRT_MAXRANK];
    int64_t size;             /* product of dims: values per sample (or in all) */
    int batched;              /* one per sample; else one for all (of parameters only) */
} NnrtValue;

/* The most samples in one forward or backward pass: the runtime runs a
 * larger batch in chunks of at most this many. */
#define NNRT_PASS_MAX 4096

typedef struct NnrtModel {
    const char *name;          /* `model NAME` or the file's stem */
    const char *source;        /* path of the .nn file it was compiled from */
    const char *source_hash;   /* hex digest of the source text */
    const char *nnc_version;
    const char *dtype;         /* "float32" or "float64": must match nnrt_real */

    int nparams;
    const NnrtParam *params;
    int64_t nparam_total;      /* length of the flat parameter buffer */

    int nslots;
    const NnrtSlot *slots;     /* inputs and targets in declaration order */

    int nsettings;
    const NnrtSetting *settings;

    /* The `example { }` block: one sample per slot (NULL when absent);
     * example[s] has slots[s].size values. */
    const double *const *example;

    /* The model's prediction: out_size values per sample, compared with slot
     * `out_slot` (-1: no prediction).  Logits (out_value = 0) come from
     * cross_entropy or bce_with_logits and are what accuracy uses: for a
     * class target argmax (a single logit means class 1 when > 0); for a
     * real target of size 1 a logit (> 0 means 1, the target is 1 when
     * > 0.5).  A value (out_value = 1) is a regression output or an
     * autoencoder's reconstruction (yhat of `sum((yhat - y)^2)`, where y may
     * be an input); the plots draw it, accuracy ignores it. */
    int out_slot;
    int64_t out_size;
    int out_value;
    const char *out_name;      /* the prediction's name in the model (`logits`), or NULL */

    int has_penalty;

    /* Samples per forward/backward pass for a model with a tiny per-sample
     * workspace (nnc's choice, plan.h cg_tile): the runtime runs every batch
     * in chunks of at most this many, so a chunk's activations and adjoints
     * stay in the L1 cache from the forward to the backward pass.  0: no
     * limit (chunks as large as the batch). */
    int tile;

    /* The passes run rolled loops (`repeat t = T`) or convolutions: many
     * short steps one after the other, each too small to be cut between
     * threads without a wait at every one.  The runtime cuts a pass over
     * enough samples in two halves instead, which its threads compute side
     * by side, each in a workspace of its own (nnrt_train.c, pass_halves).
     * 0: one pass. */
    int halves;

    /* The most values one batched tensor holds for one sample, when more
     * than INT_MAX / NNRT_PASS_MAX (0 otherwise: any pass fits).  The
     * generated code indexes such a tensor for n samples as i * n + b in an
     * int, so the runtime refuses a batch of more than INT_MAX / sample_max
     * samples before it allocates anything for it. */
    int64_t sample_max;

    /* A workspace holds every intermediate buffer for up to `cap` samples.
     * create() is the only allocation; forward/backward allocate nothing. */
    void *(*create)(int cap);
    void (*destroy)(void *work);

    /* Forward pass over n <= cap samples.  data[s] points to n * slots[s].size
     * values (sample-major).  Writes the per-sample loss to loss[0..n). */
    void (*forward)(void *work, const nnrt_real *params, int n,
                    const nnrt_real *const *data, nnrt_real *loss);

    /* Backward pass for the last forward: adds w * d(sum_b loss_b)/dparams
     * to grads (not zeroed here, so chunks accumulate).  Frozen parameters'
     * slices of grads are left untouched. */
    void (*backward)(void *work, const nnrt_real *params, int n,
                     nnrt_real w, nnrt_real *grads);

    /* The penalty (0 when the model has none); when grads is not NULL,
     * adds d(penalty)/dparams to it.  Depends on params only. */
    nnrt_real (*penalty)(void *work, const nnrt_real *params, nnrt_real *grads);

    /* The prediction of the last forward: n * out_size values. */
    const nnrt_real *(*output)(void *work);

    /* For --trap-nan: after forward (adjoint = 0) or backward (adjoint = 1)
     * on n samples, the first statement in execution order whose values
     * hold a NaN or an infinity ("model.nn:7: h = tanh(W1 x + b1)"), or NULL
     * when all are finite.  May itself be NULL. */
    const char *(*nonfinite)(void *work, int n, int adjoint);

    /* For --trap-nan, called once after create(): from then on the passes
     * store every statement's values, also those that fused loops otherwise
     * keep in registers only, so that nonfinite() sees them.  NULL when the
     * passes always store everything. */
    void (*keep_all)(void *work);

    /* The named values of the forward pass, and value(work, k, n, dst),
     * which writes values[k] of the last forward on n samples into dst,
     * sample by sample (n x size; an unbatched value's size values once).
     * The runtime calls keep_all() (when not NULL) after create() first,
     * so that the values fused loops keep in registers are stored too.
     * nvalues 0: none. */
    int nvalues;
    const NnrtValue *values;
    void (*value)(void *work, int k, int n, nnrt_real *dst);

    /* The tensors the runtime draws (NnrtDraw): forward()'s data[nslots + k]
     * holds draw k's n * draws[k].size numbers, sample-major, like a slot's.
     * ndraws 0: none (the model is the same in train and eval mode). */
    int ndraws;
    const NnrtDraw *draws;

    /* The model has batch norm (kind K_BATCH): a pass in train mode
     * normalises over its samples, so the runtime runs each batch in one
     * pass (no tiles, no chunks); under MPI each rank's share of a batch in
     * one pass, whose statistics the ranks exchange (NNRT_PASS_TRAIN_SHARE). */
    int batchnorm;

    /* The model has a stop_gradient: check's finite differences run with
     * nnrt_held() true, in which the passes leave its values as the pass
     * at the unperturbed parameters wrote them, so that the numeric
     * derivative is of the function the backward pass differentiates;
     * check then runs all its samples in one pass. */
    int holds;
} NnrtModel;

/* ---- entry point and kernels used by generated code ---- */

/* NNRT_SIMD_SUM(s, ...) before a loop `s += ...` (over the samples, or over
 * a parameter's elements, as in an L2 penalty's sumsq) lets the C compiler
 * vectorise those sums (reassociating them, which it may not do on
 * its own without -ffast-math).  Active when the generated code is built
 * with `-fopenmp-simd -DNNRT_SIMD` (nnc build's default flags); otherwise
 * the loop stays a plain sequential sum.  NNRT_SIMD_LOOP before a loop over
 * the samples whose iterations are independent (a fused loop, plan.h) has
 * it vectorised even where it holds a short inner loop (a sum over k). */
#define NNRT_PRAGMA(x) _Pragma(#x)

/* A function the generated code compiles twice over, inlined into both
 * callers (forward() and backward() for a full tile and for the rest);
 * NNRT_NOINLINE keeps a third copy (for --trap-nan) out of them. */
#if defined(__GNUC__)
#define NNRT_INLINE inline __attribute__((always_inline))
#define NNRT_NOINLINE __attribute__((noinline))
#else
#define NNRT_INLINE inline
#define NNRT_NOINLINE
#endif
#ifdef NNRT_SIMD
#define NNRT_SIMD_SUM(...) NNRT_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#define NNRT_SIMD_LOOP NNRT_PRAGMA(omp simd)
#else
#define NNRT_SIMD_SUM(...)
#define NNRT_SIMD_LOOP
#endif

#define nnrt_main NNRT_FN(nnrt_main)
#define nnrt_batchnorm NNRT_FN(nnrt_batchnorm)
#define nnrt_pass_train NNRT_FN(nnrt_pass_train)
#define nnrt_set_pass_train NNRT_FN(nnrt_set_pass_train)
#define nnrt_held NNRT_FN(nnrt_held)
#define nnrt_set_held NNRT_FN(nnrt_set_held)
#define nnrt_gemm NNRT_FN(nnrt_gemm)
#define nnrt_finite NNRT_FN(nnrt_finite)
#define nnrt_transpose NNRT_FN(nnrt_transpose)

/* The generated trainer's main(): `train`, `init`, `grad`, `eval`, `check`
 * (see docs/trainer.md).  Returns the process exit status. */
int nnrt_main(const NnrtModel *model, int argc, char **argv);

/* C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, row-major, where
 * op(X) is X or its transpose (ta, tb non-zero).  lda/ldb/ldc are the row
 * strides of A, B, C as stored.  Uses OpenBLAS for large products when the
 * runtime was built with it, blocked loops otherwise. */
void nnrt_gemm(int ta, int tb, int M, int N, int K, nnrt_real alpha,
               const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
               nnrt_real beta, nnrt_real *C, int ldc);

/* dst[cols, rows] = src[rows, cols]' (row-major, dst distinct from src):
 * how generated code turns samples that arrive one after the other into
 * its samples-innermost layout and back.  Blocked, so that neither side is
 * walked with a large stride. */
void nnrt_transpose(const nnrt_real *src, int rows, int cols, nnrt_real *dst);

/* Batch norm (runtime/nnrt_batchnorm.c): the ops of kind K_BATCH, each one
 * call over the n samples of a pass.  Element i of sample b of a per-sample
 * tensor of C * S elements is x[i * si + b * sb]; per-channel tensors are
 * contiguous.  The operands, by op:
 *   NNRT_BN_STATS     a = x; out = [mu; 1 / sqrt(var + 1e-5)] ([2, C]); in
 *                     train mode from the batch, moving rmean and rvar
 *                     (momentum 0.1, the variance unbiased); in eval mode
 *                     from rmean and rvar
 *   NNRT_BN_FORWARD   a = x, b = the statistics, c = gamma, d = beta; out = y
 *   NNRT_BN_BACKWARD  a = dy, b = x, c = the statistics, d = gamma; out = dx
 *   NNRT_BN_DGAMMA    a = dy, b = x, c = the statistics; out = sum(dy * xhat) ([C])
 *   NNRT_BN_DBETA     a = dy; out = sum(dy) ([C])
 * add: out += the result, else out = it.  train: the pass's mode, which
 * generated code reads from nnrt_pass_train() (set by the runtime):
 *   NNRT_PASS_EVAL         the running statistics
 *   NNRT_PASS_TRAIN        the statistics of the pass's n samples
 *   NNRT_PASS_TRAIN_SHARE  under MPI, the pass is this rank's share of a
 *                          batch that the ranks split: the statistics of the
 *                          whole batch, NNRT_BN_STATS's and NNRT_BN_BACKWARD's
 *                          sums exchanged with the other ranks (every rank
 *                          makes the same calls, with n = 0 for an empty
 *                          share), the same bits on every rank
 * (NNRT_BN_DGAMMA and NNRT_BN_DBETA sum this rank's samples only: they are
 * parts of a parameter's gradient, which the trainer sums across ranks.) */
enum { NNRT_BN_STATS, NNRT_BN_FORWARD, NNRT_BN_BACKWARD, NNRT_BN_DGAMMA, NNRT_BN_DBETA };
enum { NNRT_PASS_EVAL, NNRT_PASS_TRAIN, NNRT_PASS_TRAIN_SHARE };
void nnrt_batchnorm(int op, int train, int add, int n, int si, int sb, int C, int S,
                    const nnrt_real *a, const nnrt_real *b, const nnrt_real *c,
                    const nnrt_real *d, nnrt_real *out, nnrt_real *rmean, nnrt_real *rvar);
int nnrt_pass_train(void);
void nnrt_set_pass_train(int train);
/* check's finite differences (NnrtModel.holds): while held, generated code
 * skips every stop_gradient's store, whose buffer keeps the values of the
 * last pass that was not held. */
int nnrt_held(void);
void nnrt_set_held(int held);
/* ---- convolutions and pools (nnrt_conv.c) ----
 * A window sliding over the spatial axes of a map stored like every
 * per-sample tensor of the generated code: element e of sample b at
 * e * ld + b, for samples b < n (ld = n in the C trainer; the JIT pads its
 * rows; ld = n = 1 for a value that is not per sample).  x [C, H, W],
 * K [O, C, KH, KW], y [O, OH, OW]; a 1-d map [C, L] is H = KH = OH = 1.
 * y[o, i, j] = b[o] + sum_{c, ki, kj} K[o, c, ki, kj] x[c, i sh + ki - ph,
 * j sw + kj - pw], x outside the map 0 (PyTorch's Conv2d).  A pool's
 * window is KH x KW (O = C, no padding).  The steps of the backward pass
 * assign their result (add = 0) or add it (add = 1); the kernel's and the
 * bias's gradients sum over the n samples.  Each output element is
 * computed by one thread (nnrt_parallel), so the bits do not depend on
 * the number of threads.  gemm (the compiler sets it for large maps,
 * plan.c cg_conv_plan) has a convolution and its gradients computed as
 * matrix products over the window's terms copied into columns (im2col)
 * instead of the direct kernels. */
typedef struct NnrtConv {
    int C, H, W;          /* the input's channels and map */
    int O, KH, KW;        /* the output's channels; the window */
    int OH, OW;           /* the output's map */
    int sh, sw, ph, pw;   /* the stride and the zeros added on each side, per axis */
    int gemm;             /* 1: a convolution's steps as matrix products (below) */
} NnrtConv;

#define nnrt_conv NNRT_FN(nnrt_conv)
#define nnrt_conv_bwd_x NNRT_FN(nnrt_conv_bwd_x)
#define nnrt_conv_bwd_k NNRT_FN(nnrt_conv_bwd_k)
#define nnrt_conv_bwd_b NNRT_FN(nnrt_conv_bwd_b)
#define nnrt_maxpool NNRT_FN(nnrt_maxpool)
#define nnrt_avgpool NNRT_FN(nnrt_avgpool)
#define nnrt_maxpool_bwd NNRT_FN(nnrt_maxpool_bwd)
#define nnrt_avgpool_bwd NNRT_FN(nnrt_avgpool_bwd)

/* y = conv(x, K) + bias (bias may be NULL) */
void nnrt_conv(const NnrtConv *c, int n, int ld, const nnrt_real *x, const nnrt_real *K,
               const nnrt_real *bias, nnrt_real *y);
/* dx (+)= the transposed convolution of dy with K */
void nnrt_conv_bwd_x(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *K,
                     nnrt_real *dx, int add);
/* dK (+)= sum over the samples and positions of dy times x's window */
void nnrt_conv_bwd_k(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                     nnrt_real *dK, int add);
/* db (+)= sum over the samples and positions of dy */
void nnrt_conv_bwd_b(const NnrtConv *c, int n, int ld, const nnrt_real *dy, nnrt_real *db, int add);
/* y = each window's maximum, or its mean */
void nnrt_maxpool(const NnrtConv *c, int n, int ld, const nnrt_real *x, nnrt_real *y);
void nnrt_avgpool(const NnrtConv *c, int n, int ld, const nnrt_real *x, nnrt_real *y);
/* dx (+)= dy routed to each window's first maximum (row-major), or spread
 * evenly over the window */
void nnrt_maxpool_bwd(const NnrtConv *c, int n, int ld, const nnrt_real *dy, const nnrt_real *x,
                      nnrt_real *dx, int add);
void nnrt_avgpool_bwd(const NnrtConv *c, int n, int ld, const nnrt_real *dy, nnrt_real *dx,
                      int add);

/* 1 when all n values are finite (no NaN, no infinity). */
int nnrt_finite(const nnrt_real *x, size_t n);

/* ---- compile-time validation shared with the compiler ----
 * The compiler checks every train-block setting with the same parser the
 * trainer uses for its flags, so an unknown key or optimizer is an error at
 * compile time ("did you mean ...").  Returns 0 when `value` is acceptable
 * for `key`; otherwise writes a message (no file/line) to err and returns -1. */
int nnrt_setting_check(const char *key, const char *value, char *err, size_t errlen);

/* x with `digits` significant digits into buf; with 17 the shortest text
 * that reads back as exactly x, so 0.1 is "0.1", not "0.10000000000000001"
 * (the numbers of generated code, settings and config.json; an accuracy of
 * a float64 run).  Returns buf. */
const char *nnrt_num_text(char *buf, size_t len, double x, int digits);

#endif
