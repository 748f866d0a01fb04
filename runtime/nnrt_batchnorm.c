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
 */
#include "nnrt_internal.h"

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

void nnrt_batchnorm(int op, int train, int add, int n, int si, int sb, int C, int S,
                    const nnrt_real *a, const nnrt_real *b_, const nnrt_real *c,
                    const nnrt_real *d, nnrt_real *out, nnrt_real *rmean, nnrt_real *rvar)
{
    double N = (double)n * S;
#define AT(x) (x)[i * si + b * sb]
    for (int k = 0; k < C; k++) {
        double sum, sum2;
        switch (op) {
        case NNRT_BN_STATS: {   /* a = x; out = [mu; 1 / sqrt(var + eps)] */
            double mu, var;
            if (train) {
                CHANNEL_SUM(sum, AT(a));
                mu = sum / N;
                CHANNEL_SUM(sum2, (AT(a) - mu) * (AT(a) - mu));
                var = sum2 / N;
                rmean[k] = (nnrt_real)((1 - BN_MOMENTUM) * rmean[k] + BN_MOMENTUM * mu);
                rvar[k] = (nnrt_real)((1 - BN_MOMENTUM) * rvar[k] +
                                      BN_MOMENTUM * (N > 1 ? var * N / (N - 1) : var));
            } else {
                mu = rmean[k];
                var = rvar[k];
            }
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
            double mdy = 0, mdyx = 0;
            if (train) {
                CHANNEL_SUM(sum, AT(a));
                CHANNEL_SUM(sum2, AT(a) * ((AT(b_) - mu) * r));
                mdy = sum / N;
                mdyx = sum2 / N;
            }
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
