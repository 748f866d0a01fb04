/*
 * nnrt_optim.c - the optimizers: one loop over the flat parameter buffer,
 * slice by slice, skipping frozen parameters.
 *
 * Both follow PyTorch's torch.optim formulas exactly (same order of
 * operations), so a run can be compared with PyTorch step by step:
 *
 *   SGD   g = grad + wd p
 *         v = momentum v + g                  (when momentum > 0; v_0 = 0)
 *         g = g + momentum v  (nesterov)  or  g = v
 *         p = p - lr g
 *
 *   Adam  (Kingma and Ba, "Adam: a method for stochastic optimization",
 *         2015; weight decay as L2 added to the gradient, like torch Adam)
 *         g = grad + wd p
 *         m = beta1 m + (1 - beta1) g
 *         v = beta2 v + (1 - beta2) g^2
 *         p = p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *         (eps outside the square root, bias corrections for step t = 1, 2, ...)
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
    int need_m = spec->kind == NNRT_ADAM;
    int need_v = spec->kind == NNRT_ADAM || spec->momentum != 0;
    if (need_m && !(o->m = calloc(n, sizeof *o->m)))
        return -1;
    if (need_v && !(o->v = calloc(n, sizeof *o->v))) {
        free(o->m);
        o->m = NULL;
        return -1;
    }
    return 0;
}

void nnrt_optim_free(NnrtOptim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

static void sgd_slice(const NnrtOptimSpec *s, nnrt_real *restrict p, const nnrt_real *restrict g,
                      nnrt_real *restrict v, int64_t n, nnrt_real lr)
{
    nnrt_real wd = (nnrt_real)s->weight_decay, mom = (nnrt_real)s->momentum;
    if (!v) {
        for (int64_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        nnrt_real d = g[i] + wd * p[i];
        v[i] = mom * v[i] + d;
        d = s->nesterov ? d + mom * v[i] : v[i];
        p[i] -= lr * d;
    }
}

static void adam_slice(const NnrtOptimSpec *s, nnrt_real *restrict p, const nnrt_real *restrict g,
                       nnrt_real *restrict m, nnrt_real *restrict v, int64_t n, double lr,
                       int64_t t)
{
    double bc1 = 1.0 - pow(s->beta1, (double)t), bc2 = 1.0 - pow(s->beta2, (double)t);
    nnrt_real step = (nnrt_real)(lr / bc1);
    nnrt_real sq_bc2 = (nnrt_real)sqrt(bc2);
    nnrt_real b1 = (nnrt_real)s->beta1, b2 = (nnrt_real)s->beta2;
    nnrt_real eps = (nnrt_real)s->eps, wd = (nnrt_real)s->weight_decay;
    for (int64_t i = 0; i < n; i++) {
        nnrt_real d = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        nnrt_real denom = NNRT_SQRT(v[i]) / sq_bc2 + eps;
        p[i] -= step * m[i] / denom;
    }
}

void nnrt_optim_step(NnrtOptim *o, nnrt_real *params, const nnrt_real *grads, double lr)
{
    const NnrtModel *md = o->model;
    o->t++;
    for (int k = 0; k < md->nparams; k++) {
        const NnrtParam *pr = &md->params[k];
        if (pr->frozen)
            continue;
        int64_t off = pr->offset, n = pr->size;
        if (o->spec.kind == NNRT_SGD)
            sgd_slice(&o->spec, params + off, grads + off, o->v ? o->v + off : NULL, n,
                      (nnrt_real)lr);
        else
            adam_slice(&o->spec, params + off, grads + off, o->m + off, o->v + off, n, lr, o->t);
    }
}
