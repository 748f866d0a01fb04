/*
 * nnrt_batchnorm.c - batch norm's loops: the one kernel every backend calls
 * for the ops of kind K_BATCH (src/ir/ops.def), the one place where the
 * samples of a pass meet.  PyTorch's BatchNorm1d/2d: each of C channels
 * (a vector's elements, the first axis of [C, H, W]) over the n samples of
 * the pass and its S elements per sample, N = n S numbers:
 *
 *   train mode:  mu = mean, var = the biased variance (divided by N), and
 *                the running statistics move towards them with momentum
 *                0.1, the variance unbiased (times N / (N - 1));
 *   eval mode:   mu and var are the running statistics;
 *   y = gamma (x - mu) / sqrt(var + 1e-5) + beta.
 *
 * The statistics are sums in double (two passes: the mean, then the
 * squares about it), so a large batch in float32 loses nothing to them.
 * Element i of sample b of a per-sample tensor is x[i * si + b * sb]: the
 * C trainer and the JIT store samples innermost (si = the row, sb = 1),
 * --style=loops one sample after the other (si = 1, sb = C S).
 *
 * Under MPI (train == NNRT_PASS_TRAIN_SHARE, nnrt.h) the pass holds one
 * rank's share of a batch, and the statistics are the whole batch's: each
 * rank computes its share's count, mean and squares about that mean per
 * channel, the ranks exchange them (one MPI_Allgatherv), and every rank
 * combines them in rank order (Chan, Golub and LeVeque's pairwise update:
 * M2 = sum over ranks of M2_r + N_r (mean_r - mean)^2, which stays as
 * exact as the two passes), so all ranks get the same bits and one rank
 * gets exactly the one-process numbers.  The backward pass's two sums per
 * channel are added across the ranks in rank order (nnrt_mpi_sum_f64).
 * Two exchanges per batch norm and training step, of 3 C and 2 C + 1
 * numbers.
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* channel k's sum over the batch of f(i, b) */
#define CHANNEL_SUM(acc, expr)                                       \
    do {                                                             \
        acc = 0;                                                     \
        for (int64_t s_ = 0; s_ < S; s_++) {                         \
            int64_t i = (int64_t)k * S + s_;                         \
            for (int64_t b = 0; b < n; b++)                          \
                acc += (double)(expr);                               \
        }                                                            \
    } while (0)

/* n doubles kept from call to call, for the statistics of every channel at
 * once (a training step allocates nothing after its first) */
static double *scratch(size_t n)
{
    static _Thread_local double *buf;
    static _Thread_local size_t have;
    if (n > have) {
        double *grown = realloc(buf, n * sizeof *buf);
        if (!grown) {
            fprintf(stderr, "error: out of memory for batch norm's statistics\n");
            exit(nnrt_mpi_end(1));
        }
        buf = grown;
        have = n;
    }
    return buf;
}

/* Train mode's statistics of the batch: out = [mu; 1 / sqrt(var + eps)],
 * the running ones moved towards them.  Each rank's (one process: its
 * own) count, sum and squares about its mean of each channel, then, in
 * rank order, the batch's mean and squares about it. */
static void batch_stats(int share, int n, int si, int sb, int C, int S, const nnrt_real *a,
                        nnrt_real *out, nnrt_real *rmean, nnrt_real *rvar)
{
    int ranks = share ? nnrt_mpi_size() : 1, rank = share ? nnrt_mpi_rank() : 0;
    double *all = scratch((size_t)3 * C * ranks), *mine = all + (size_t)3 * C * rank;
    double N = (double)n * S;
#define AT(x) (x)[i * si + b * sb]
    for (int k = 0; k < C; k++) {   /* [count, sum, M2] of each channel */
        double sum = 0, sum2 = 0;
        if (n > 0) {
            CHANNEL_SUM(sum, AT(a));
            double mu = sum / N;
            CHANNEL_SUM(sum2, (AT(a) - mu) * (AT(a) - mu));
        }
        mine[3 * k] = N;
        mine[3 * k + 1] = sum;
        mine[3 * k + 2] = sum2;
    }
#undef AT
    if (ranks > 1)
        nnrt_mpi_gather_f64(all, 3 * (int64_t)C);
    for (int k = 0; k < C; k++) {
        double count = 0, sum = 0, m2 = 0;
        for (int r = 0; r < ranks; r++) {
            count += all[3 * ((size_t)r * C + k)];
            sum += all[3 * ((size_t)r * C + k) + 1];
        }
        double mu = sum / count;
        for (int r = 0; r < ranks; r++) {
            const double *p = all + 3 * ((size_t)r * C + k);
            if (p[0] > 0) {
                double d = p[1] / p[0] - mu;
                m2 += p[2] + p[0] * d * d;
            }
        }
        double var = m2 / count;
        rmean[k] = (nnrt_real)((1 - BN_MOMENTUM) * rmean[k] + BN_MOMENTUM * mu);
        rvar[k] = (nnrt_real)((1 - BN_MOMENTUM) * rvar[k] +
                              BN_MOMENTUM * (count > 1 ? var * count / (count - 1) : var));
        out[k] = (nnrt_real)mu;
        out[C + k] = (nnrt_real)(1 / sqrt(var + BN_EPS));
    }
}

void nnrt_batchnorm(int op, int train, int add, int n, int si, int sb, int C, int S,
                    const nnrt_real *a, const nnrt_real *b_, const nnrt_real *c,
                    const nnrt_real *d, nnrt_real *out, nnrt_real *rmean, nnrt_real *rvar)
{
    int share = train == NNRT_PASS_TRAIN_SHARE && nnrt_mpi_size() > 1;
    if (op == NNRT_BN_STATS && train) {
        batch_stats(share, n, si, sb, C, S, a, out, rmean, rvar);
        return;
    }
    /* train mode's backward pass: the batch's count, and the sums of dy
     * and dy xhat of each channel, for their means */
    double *sums = NULL;
    if (op == NNRT_BN_BACKWARD && train) {
        sums = scratch((size_t)2 * C + 1);
        sums[2 * C] = (double)n * S;
    }
    double N = (double)n * S;
#define AT(x) (x)[i * si + b * sb]
    if (sums) {
        for (int k = 0; k < C; k++) {   /* a = dy, b = x, c = stats */
            nnrt_real mu = c[k], r = c[C + k];
            CHANNEL_SUM(sums[k], AT(a));
            CHANNEL_SUM(sums[C + k], AT(a) * ((AT(b_) - mu) * r));
        }
        if (share)
            nnrt_mpi_sum_f64(sums, 2 * (int64_t)C + 1);
        N = sums[2 * C];
    }
    for (int k = 0; k < C; k++) {
        double sum;
        switch (op) {
        case NNRT_BN_STATS: {   /* eval mode: out = [mu; 1 / sqrt(var + eps)] of the running ones */
            double mu = rmean[k], var = rvar[k];
            out[k] = (nnrt_real)mu;
            out[C + k] = (nnrt_real)(1 / sqrt(var + BN_EPS));
            break;
        }
        case NNRT_BN_FORWARD: {   /* a = x, b = stats, c = gamma, d = beta */
            nnrt_real mu = b_[k], r = b_[C + k], g = c[k], be = d[k];
            for (int64_t s_ = 0; s_ < S; s_++) {
                int64_t i = (int64_t)k * S + s_;
                for (int64_t b = 0; b < n; b++) {
                    nnrt_real y = g * ((AT(a) - mu) * r) + be;
                    AT(out) = add ? AT(out) + y : y;
                }
            }
            break;
        }
        case NNRT_BN_BACKWARD: {   /* a = dy, b = x, c = stats, d = gamma; out = dx */
            nnrt_real mu = c[k], r = c[C + k];
            double mdy = sums ? sums[k] / N : 0, mdyx = sums ? sums[C + k] / N : 0;
            nnrt_real gr = d[k] * r;
            for (int64_t s_ = 0; s_ < S; s_++) {
                int64_t i = (int64_t)k * S + s_;
                for (int64_t b = 0; b < n; b++) {
                    nnrt_real xh = (AT(b_) - mu) * r;
                    nnrt_real dx = train ? gr * (nnrt_real)(AT(a) - mdy - xh * mdyx) : gr * AT(a);
                    AT(out) = add ? AT(out) + dx : dx;
                }
            }
            break;
        }
        case NNRT_BN_DGAMMA:   /* a = dy, b = x, c = stats; out[k] (+)= sum(dy * xhat) */
            CHANNEL_SUM(sum, AT(a) * ((AT(b_) - c[k]) * c[C + k]));
            out[k] = (nnrt_real)(add ? out[k] + sum : sum);
            break;
        case NNRT_BN_DBETA:    /* a = dy; out[k] (+)= sum(dy) */
            CHANNEL_SUM(sum, AT(a));
            out[k] = (nnrt_real)(add ? out[k] + sum : sum);
            break;
        }
    }
#undef AT
}
