/*
 * nnrt_optim.c - the optimizers: one loop over the flat parameter buffer,
 * slice by slice, skipping frozen parameters.
 *
 * Each follows PyTorch's torch.optim formulas exactly (same order of
 * operations), so a run can be compared with PyTorch step by step; g is
 * the gradient, t = 1, 2, ... counts updates, buffers start at 0:
 *
 *   SGD     g = g + wd p
 *           m = momentum m + g                  (when momentum > 0)
 *           g = g + momentum m  (nesterov)  or  g = m
 *           p = p - lr g
 *
 *   Adam    (Kingma and Ba, "Adam: a method for stochastic optimization",
 *           2015; weight decay as L2 added to the gradient, like torch Adam)
 *           g = g + wd p
 *           m = beta1 m + (1 - beta1) g
 *           v = beta2 v + (1 - beta2) g^2
 *           p = p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 *   AdamW   (Loshchilov and Hutter, "Decoupled weight decay regularization",
 *           2019): p = p (1 - lr wd), then Adam's update without wd
 *
 *   RMSprop (Hinton, lecture 6e; torch.optim.RMSprop)
 *           g = g + wd p
 *           v = alpha v + (1 - alpha) g^2
 *           a = alpha a + (1 - alpha) g         (centered)
 *           d = sqrt(v - a^2) + eps  (centered)  or  sqrt(v) + eps
 *           m = momentum m + g / d;  p = p - lr m      (when momentum > 0)
 *           p = p - lr g / d                           (otherwise)
 */
#include "nnrt_internal.h"

#include <stdlib.h>
#include <string.h>

int nnrt_optim_init(NnrtOptim *o, const NnrtOptimSpec *spec, const NnrtModel *model)
{
    memset(o, 0, sizeof *o);
    o->spec = *spec;
    o->model = model;
    size_t n = model->nparam_total > 0 ? (size_t)model->nparam_total : 1;
    int adam = spec->kind == NNRT_ADAM || spec->kind == NNRT_ADAMW;
    int need_m = adam || spec->momentum != 0;
    int need_v = adam || spec->kind == NNRT_RMSPROP;
    int need_a = spec->kind == NNRT_RMSPROP && spec->centered;
    if ((need_m && !(o->m = calloc(n, sizeof *o->m))) ||
        (need_v && !(o->v = calloc(n, sizeof *o->v))) ||
        (need_a && !(o->a = calloc(n, sizeof *o->a)))) {
        nnrt_optim_free(o);
        return -1;
    }
    return 0;
}

void nnrt_optim_free(NnrtOptim *o)
{
    free(o->m);
    free(o->v);
    free(o->a);
    o->m = o->v = o->a = NULL;
}

/* Each slice is one branch-free loop over elements, which the compiler
 * vectorises (`omp simd`, NNRT_KERNEL): W3's Adam update of 235k
 * parameters runs every step.  Vector sqrt and division round exactly as
 * the scalar ones, so the result does not depend on the SIMD width. */
NNRT_KERNEL
static void sgd_slice(const NnrtOptimSpec *s, nnrt_real *restrict p, const nnrt_real *restrict g,
                      nnrt_real *restrict m, int64_t n, nnrt_real lr)
{
    nnrt_real wd = (nnrt_real)s->weight_decay, mom = (nnrt_real)s->momentum;
    if (!m) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    int nesterov = s->nesterov;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        nnrt_real d = g[i] + wd * p[i];
        m[i] = mom * m[i] + d;
        d = nesterov ? d + mom * m[i] : m[i];
        p[i] -= lr * d;
    }
}

NNRT_KERNEL
static void adam_slice(const NnrtOptimSpec *s, nnrt_real *restrict p, const nnrt_real *restrict g,
                       nnrt_real *restrict m, nnrt_real *restrict v, int64_t n, double lr,
                       int64_t t)
{
    double bc1 = 1.0 - pow(s->beta1, (double)t), bc2 = 1.0 - pow(s->beta2, (double)t);
    nnrt_real step = (nnrt_real)(lr / bc1);
    nnrt_real sq_bc2 = (nnrt_real)sqrt(bc2);
    nnrt_real b1 = (nnrt_real)s->beta1, b2 = (nnrt_real)s->beta2;
    nnrt_real eps = (nnrt_real)s->eps;
    int decoupled = s->kind == NNRT_ADAMW;
    nnrt_real wd = decoupled ? 0 : (nnrt_real)s->weight_decay;
    /* AdamW shrinks p first; p * 1 is exact, so Adam multiplies by 1 */
    nnrt_real shrink = decoupled ? (nnrt_real)(1.0 - lr * s->weight_decay) : 1;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        nnrt_real pi = p[i] * shrink;
        nnrt_real d = g[i] + wd * pi;
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        nnrt_real denom = NNRT_SQRT(v[i]) / sq_bc2 + eps;
        p[i] = pi - step * m[i] / denom;
    }
}

static void rmsprop_slice(const NnrtOptimSpec *s, nnrt_real *restrict p,
                          const nnrt_real *restrict g, nnrt_real *restrict m,
                          nnrt_real *restrict v, nnrt_real *restrict a, int64_t n, nnrt_real lr)
{
    nnrt_real wd = (nnrt_real)s->weight_decay, alpha = (nnrt_real)s->alpha;
    nnrt_real eps = (nnrt_real)s->eps, mom = (nnrt_real)s->momentum;
    for (int64_t i = 0; i < n; i++) {
        nnrt_real d = g[i] + wd * p[i];
        v[i] = alpha * v[i] + (1 - alpha) * d * d;
        nnrt_real avg;
        if (a) {
            a[i] = alpha * a[i] + (1 - alpha) * d;
            avg = NNRT_SQRT(v[i] - a[i] * a[i]) + eps;
        } else {
            avg = NNRT_SQRT(v[i]) + eps;
        }
        if (m) {
            m[i] = mom * m[i] + d / avg;
            p[i] -= lr * m[i];
        } else {
            p[i] -= lr * (d / avg);
        }
    }
}

typedef struct Step {
    NnrtOptim *o;
    nnrt_real *params;
    const nnrt_real *grads;
    double lr;
} Step;

/* The update of elements [lo, hi) of the flat parameter vector: the
 * pieces of the trainable parameters in that range. */
static void step_range(void *ctx, int64_t lo, int64_t hi)
{
    const Step *st = ctx;
    NnrtOptim *o = st->o;
    const NnrtModel *md = o->model;
    for (int k = 0; k < md->nparams; k++) {
        const NnrtParam *pr = &md->params[k];
        int64_t a = pr->offset > lo ? pr->offset : lo;
        int64_t b = pr->offset + pr->size < hi ? pr->offset + pr->size : hi;
        if (pr->frozen || a >= b)
            continue;
        nnrt_real *p = st->params + a, *m = o->m ? o->m + a : NULL, *v = o->v ? o->v + a : NULL;
        const nnrt_real *g = st->grads + a;
        switch (o->spec.kind) {
        case NNRT_SGD:
            sgd_slice(&o->spec, p, g, m, b - a, (nnrt_real)st->lr);
            break;
        case NNRT_ADAM:
        case NNRT_ADAMW:
            adam_slice(&o->spec, p, g, m, v, b - a, st->lr, o->t);
            break;
        case NNRT_RMSPROP:
            rmsprop_slice(&o->spec, p, g, m, v, o->a ? o->a + a : NULL, b - a, (nnrt_real)st->lr);
            break;
        }
    }
}

/* Elements per chunk of the parallel update (nnrt_parallel): models below
 * two chunks update on the calling thread alone. */
#define OPTIM_CHUNK 8192

void nnrt_optim_step(NnrtOptim *o, nnrt_real *params, const nnrt_real *grads, double lr)
{
    Step st = { o, params, grads, lr };
    o->t++;
    nnrt_parallel(step_range, &st, o->model->nparam_total, OPTIM_CHUNK);
}

/* Scales grads so that their global norm (over every trainable parameter)
 * is at most max_norm, as torch.nn.utils.clip_grad_norm_ does: with
 * norm = sqrt(sum g^2), g = g * max_norm / (norm + 1e-6) when that factor
 * is below 1.  Returns the norm before clipping. */
double nnrt_clip_grad_norm(const NnrtModel *md, nnrt_real *grads, double max_norm)
{
    double sum = 0;
    for (int k = 0; k < md->nparams; k++) {
        const NnrtParam *pr = &md->params[k];
        if (pr->frozen)
            continue;
        for (int64_t i = 0; i < pr->size; i++)
            sum += (double)grads[pr->offset + i] * (double)grads[pr->offset + i];
    }
    double norm = sqrt(sum), coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        nnrt_real c = (nnrt_real)coef;
        for (int k = 0; k < md->nparams; k++) {
            const NnrtParam *pr = &md->params[k];
            if (!pr->frozen)
                for (int64_t i = 0; i < pr->size; i++)
                    grads[pr->offset + i] *= c;
        }
    }
    return norm;
}
