/*
 * rules.c - one adjoint rule per differentiable op of ops.def.
 *
 * A rule receives the forward value v (y = op(a, b, ...)) and d, the value
 * holding dL/dy, and adds each operand's share into that operand's adjoint
 * with ad_contrib.  Broadcast and batch dimensions need no code here: a
 * contribution whose target is smaller than its iteration shape is summed
 * into it (see ir.h).  The derivative each rule implements is above it.
 */
#include "ad.h"

#define A(v) (ad_value(cx, v)->arg[0])
#define B(v) (ad_value(cx, v)->arg[1])
#define ARGS(...) (const int[]){__VA_ARGS__}
#define CONTRIB(target, op, ...) \
    ad_contrib(cx, target, op, (int)(sizeof(ARGS(__VA_ARGS__)) / sizeof(int)), ARGS(__VA_ARGS__), 0, 0)

/* y = a + b:  da += dy,  db += dy */
static void ad_add(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_COPY, d);
    CONTRIB(B(v), OP_COPY, d);
}

/* y = a - b:  da += dy,  db += -dy */
static void ad_sub(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_COPY, d);
    CONTRIB(B(v), OP_NEG, d);
}

/* y = a * b:  da += dy * b,  db += dy * a */
static void ad_mul(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_MUL, d, B(v));
    CONTRIB(B(v), OP_MUL, d, A(v));
}

/* y = a / b:  da += dy / b,  db += -dy * y / b */
static void ad_div(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_DIV, d, B(v));
    CONTRIB(B(v), OP_DIV_BWD, d, v, B(v));
}

/* y = a ^ b:  da += dy * b * a^(b - 1),  db += dy * y * log(a) */
static void ad_pow(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_POW_BWD, d, A(v), B(v));
    CONTRIB(B(v), OP_POW_BWD_EXP, d, A(v), v);
}

/* y = a^2:  da += 2 * dy * a */
static void ad_square(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_TWICE_MUL, d, A(v));
}

/* y = -a:  da += -dy */
static void ad_neg(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_NEG, d);
}

/* y = a:  da += dy */
static void ad_copy(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_COPY, d);
}

/* y = [a > b] (and >=, <, <=, ==): 0 or 1, constant but where a = b, so
 * da += 0, db += 0: no contribution at all, as PyTorch's comparisons have no
 * gradient (use where(a > b, x, y) to route one).  y = stop_gradient(a) = a
 * by decree: da += 0 (PyTorch's detach).  Reverse mode never
 * calls it: a value made by an op with this rule is not active (reverse.c). */
void ad_nograd(AdCtx *cx, int v, int d)
{
    (void)cx, (void)v, (void)d;
}

/* y = relu(a):  da += dy * [y > 0]   (y > 0 exactly where a > 0; the
 * subgradient 0 at a = 0, as PyTorch).  Reading y rather than a lets a
 * fused loop keep a in a register (plan.h CgFusion). */
static void ad_relu(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_RELU_BWD, d, v);
}

/* y = leaky_relu(a, s) = a for a > 0, s a elsewhere:  da += dy * (a > 0 ? 1 : s)
 * (s at a = 0, as PyTorch); s is a number, no gradient */
static void ad_leaky_relu(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_LEAKY_RELU_BWD, d, A(v), B(v));
}

/* y = gelu(a) = a Phi(a):  da += dy * (Phi(a) + a phi(a)),
 * Phi(a) = (1 + erf(a / sqrt(2))) / 2, phi(a) = exp(-a^2 / 2) / sqrt(2 pi) */
static void ad_gelu(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_GELU_BWD, d, A(v));
}

/* y = elu(a) = a for a > 0, exp(a) - 1 elsewhere:  da += dy * (y > 0 ? 1 : y + 1)
 * (exp(a) = y + 1; y > 0 exactly where a > 0) */
static void ad_elu(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_ELU_BWD, d, v);
}

/* y = max(a, b):  da += dy * ([a > b] + [a == b] / 2),  db += dy * ([b > a] + [a == b] / 2):
 * a tie shares the gradient equally, as PyTorch's torch.maximum */
static void ad_max(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_MAX_BWD, d, A(v), B(v));
    CONTRIB(B(v), OP_MAX_BWD, d, B(v), A(v));
}

/* y = min(a, b):  da += dy * ([a < b] + [a == b] / 2),  db likewise (torch.minimum) */
static void ad_min(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_MIN_BWD, d, A(v), B(v));
    CONTRIB(B(v), OP_MIN_BWD, d, B(v), A(v));
}

/* y = clip(a, lo, hi) = min(max(a, lo), hi), lo <= hi numbers:
 * da += dy * [lo <= a <= hi] = dy * [y == a]  (1 on the bounds, as torch.clamp) */
static void ad_clip(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_CLIP_BWD, d, A(v), v);
}

/* y = where(c, a, b):  da += where(c, dy, 0),  db += where(c, 0, dy); c none
 * (a condition has no gradient, as in PyTorch) */
static void ad_where(AdCtx *cx, int v, int d)
{
    int zero = ad_const(cx, 0);
    CONTRIB(B(v), OP_WHERE, A(v), d, zero);
    CONTRIB(ad_value(cx, v)->arg[2], OP_WHERE, A(v), zero, d);
}

/* y = sigmoid(a):  da += dy * y * (1 - y) */
static void ad_sigmoid(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_SIGMOID_BWD, d, v);
}

/* y = tanh(a):  da += dy * (1 - y^2) */
static void ad_tanh(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_TANH_BWD, d, v);
}

/* y = exp(a):  da += dy * y */
static void ad_exp(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_MUL, d, v);
}

/* y = log(a):  da += dy / a */
static void ad_log(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_DIV, d, A(v));
}

/* y = sqrt(a):  da += dy / (2 y) */
static void ad_sqrt(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_SQRT_BWD, d, v);
}

/* y = |a|:  da += dy * sign(a) */
static void ad_abs(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_ABS_BWD, d, A(v));
}

/* y = bce_with_logits(z, t) = max(z, 0) - z t + log(1 + exp(-|z|)):
 * dz += dy * (sigmoid(z) - t),  dt += -dy * z */
static void ad_bce(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_BCE_BWD, d, A(v), B(v));
    CONTRIB(B(v), OP_BCE_BWD_T, d, A(v));
}

/* y = softplus(a) = log(1 + exp(a)):  da += dy * sigmoid(a) */
static void ad_softplus(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_SOFTPLUS_BWD, d, A(v));
}

/*
 * Y = op(A) @ op(B), with Â = op(A), B̂ = op(B):  dÂ = dY B̂',  dB̂ = Â' dY,
 * and dA = dÂ' when A was used transposed.  With vectors (which the
 * forward program never transposes): for y = W x, dW += outer(dy, x) and
 * dx += W' dy; for y = a B, da += dy B' and dB += outer(a, dy); for a
 * scalar y = a . b, da += dy * b and db += dy * a.
 */
static void ad_matmul(AdCtx *cx, int v, int d)
{
    const Value *y = ad_value(cx, v);
    int a = A(v), b = B(v), ta = y->ta, tb = y->tb;
    int ra = ad_value(cx, a)->shape.rank, rb = ad_value(cx, b)->shape.rank;
    if (ra == 1 && rb == 1) {
        CONTRIB(a, OP_MUL, d, b);
        CONTRIB(b, OP_MUL, d, a);
    } else if (ra == 2 && rb == 1) {
        if (ta)
            ad_contrib(cx, a, OP_MATMUL, 2, ARGS(b, d), 1, 1);   /* dA = outer(x, dy) */
        else
            ad_contrib(cx, a, OP_MATMUL, 2, ARGS(d, b), 1, 1);   /* dA = outer(dy, x) */
        ad_contrib(cx, b, OP_MATMUL, 2, ARGS(a, d), !ta, 0);     /* dx = Â' dy */
    } else if (ra == 1 && rb == 2) {
        ad_contrib(cx, a, OP_MATMUL, 2, ARGS(d, b), 0, !tb);     /* da = dy B̂' */
        if (tb)
            ad_contrib(cx, b, OP_MATMUL, 2, ARGS(d, a), 1, 1);   /* dB = outer(dy, a) */
        else
            ad_contrib(cx, b, OP_MATMUL, 2, ARGS(a, d), 1, 1);   /* dB = outer(a, dy) */
    } else {
        if (ta)
            ad_contrib(cx, a, OP_MATMUL, 2, ARGS(b, d), tb, 1);  /* dA = B̂ dY' */
        else
            ad_contrib(cx, a, OP_MATMUL, 2, ARGS(d, b), 0, !tb); /* dA = dY B̂' */
        if (tb)
            ad_contrib(cx, b, OP_MATMUL, 2, ARGS(d, a), 1, ta);  /* dB = dY' Â */
        else
            ad_contrib(cx, b, OP_MATMUL, 2, ARGS(a, d), !ta, 0); /* dB = Â' dY */
    }
}

/* Y = A':  dA += dY' */
static void ad_transpose(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_TRANSPOSE, d);
}

/* y = a[view] (X[t], h[2:5], reshape):  da[view] += dy, a placement of dy
 * with the same offset and strides (reverse.c copies them) */
static void ad_view(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_PLACE, d);
}

/* y[view] = a, 0 elsewhere (concat, stack):  da += dy[view] */
static void ad_place(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_VIEW, d);
}

/* y = E[i] (row i[t] of E for each t):  dE[i[t]] += dy[t], a scatter-add;
 * the index has no gradient */
static void ad_gather(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_SCATTER, d, B(v));
}

/* y = sum(a):  da += dy  (dy broadcast over a) */
static void ad_sum(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_COPY, d);
}

/* y = mean(a) = sum(a) / n:  da += dy / n */
static void ad_mean(AdCtx *cx, int v, int d)
{
    int n = ad_const(cx, (double)shape_numel(&ad_value(cx, A(v))->shape));
    CONTRIB(A(v), OP_DIV, d, n);
}

/* y = sumsq(a) = sum(a^2):  da += 2 * dy * a */
static void ad_sumsq(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_TWICE_MUL, d, A(v));
}

/* y = softmax(a):  da += y * (dy - sum(dy * y))   (along the last axis) */
static void ad_softmax(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_SOFTMAX_BWD, d, v);
}

/* y = log_softmax(a) = a - logsumexp(a):  da += dy - exp(y) * sum(dy) */
static void ad_log_softmax(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_LOG_SOFTMAX_BWD, d, v);
}

/* y = cross_entropy(z, c) = logsumexp(z) - z[c]:  dz += dy * (softmax(z) - onehot(c)) */
static void ad_xent(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_XENT_BWD, d, A(v), B(v));
}

/* y = batchnorm(h) = gamma * xhat + beta per channel c, xhat = (h - mu) * r,
 * r = 1 / sqrt(var + eps), mu and var over the N = B x S elements of the
 * channel in the batch (train mode) or the running statistics (eval):
 *   dgamma += sum(dy * xhat),  dbeta += sum(dy)   (over the batch and axes)
 *   train:  dh += gamma r (dy - mean(dy) - xhat mean(dy * xhat))
 *   eval:   dh += gamma r dy
 * Train mode's dh is where samples meet: every sample's dh depends on the
 * whole batch's dy, through mu and var (the means over the N elements). */
static void ad_batchnorm(AdCtx *cx, int v, int d)
{
    const Value *y = ad_value(cx, v);
    int h = y->arg[0], s = y->arg[1], gamma = y->arg[2], beta = y->arg[3];
    CONTRIB(gamma, OP_BN_DGAMMA, d, h, s);
    CONTRIB(beta, OP_BN_DBETA, d);
    CONTRIB(h, OP_BN_BWD, d, h, s, gamma);
}

/* y = conv(x, K, b) (conv2d, conv1d; ops.def):
 *   y[o, i, j] = b[o] + sum_{c, ki, kj} K[o, c, ki, kj] x[c, i S + ki - P, j S + kj - P]
 * so  dx[c, u, w]     += sum_{o, ki, kj} K[o, c, ki, kj] dy[o, i, j]  where u = i S + ki - P,
 *                                                                       w = j S + kj - P
 *     dK[o, c, ki, kj] += sum_{i, j} dy[o, i, j] x[c, i S + ki - P, j S + kj - P]
 *     db[o]            += sum_{i, j} dy[o, i, j]
 * (stride and padding go with each step: reverse.c copies them) */
static void ad_conv(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_CONV_BWD_X, d, B(v));
    CONTRIB(B(v), OP_CONV_BWD_K, d, A(v));
    CONTRIB(ad_value(cx, v)->arg[2], OP_CONV_BWD_B, d);
}

/* y = maxpool(x): y[c, i, j] = max of x over the window at (i S, j S), so
 * dx[c, u, w] += dy[c, i, j] at the window's first maximum (u, w) (the
 * first in row-major order, as PyTorch), 0 elsewhere */
static void ad_maxpool(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_MAXPOOL_BWD, d, A(v));
}

/* y = avgpool(x): y[c, i, j] = the mean of the window's k*k elements, so
 * dx[c, u, w] += dy[c, i, j] / (k*k) for every window holding (u, w) */
static void ad_avgpool(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_AVGPOOL_BWD, d);
}

/*
 * A deliberately wrong rule, for tests only (NNC_TEST_CORRUPT_RULE, see
 * reverse.c): y = f(a) treated as if f'(a) were 1, da += dy -- the classic
 * slip of forgetting an activation's derivative.  `nnc check` must catch it.
 */
void ad_rule_wrong(AdCtx *cx, int v, int d)
{
    CONTRIB(A(v), OP_COPY, d);
}

AdRule *const ad_rules[OP_COUNT] = {
#define OP(code, name, arity, kind, notation, cexpr, rule, fn, fn_args) [OP_##code] = rule,
#include "ops.def"
#undef OP
};
