/*
 * jit_main.c - `nnc run`'s hand-over to the runtime: the JIT's model as an
 * NnrtModel for nnrt_main().  Compiled twice, like the runtime itself: as is
 * for float, and from jit_main64.c with NNRT_F64 for double.
 */
#include <string.h>

#include "jit.h"

typedef void ForwardFn(void *, const nnrt_real *, int, const nnrt_real *const *, nnrt_real *);
typedef void BackwardFn(void *, const nnrt_real *, int, nnrt_real, nnrt_real *);
typedef nnrt_real PenaltyFn(void *, const nnrt_real *, nnrt_real *);
typedef const nnrt_real *OutputFn(void *);

/* The model being run: value() has only the workspace (a process runs one
 * model at a time, a sweep's workers too). */
static const JitModel *running;

/* NnrtModel.value: value k of the last forward on n samples, sample by
 * sample, from the JIT's workspace (an array of buffers, samples innermost
 * in rows padded as JitModel.row_multiple and row_skew say). */
static void value(void *work, int k, int n, nnrt_real *dst)
{
    const NnrtValue *v = &running->values[k];
    const nnrt_real *buf = ((nnrt_real *const *)work)[running->value_buf[k]];
    if (!v->batched) {
        memcpy(dst, buf, (size_t)v->size * sizeof *dst);
        return;
    }
    int64_t m = running->row_multiple, ld = ((int64_t)n + m - 1) / m * m;
    if (ld * (int64_t)sizeof(nnrt_real) % 2048 == 0)
        ld += running->row_skew;
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < v->size; i++)
            dst[b * v->size + i] = buf[i * ld + b];
}

int NNRT_FN(jit_main)(const JitModel *j, int argc, char **argv)
{
    NnrtModel m = {
        .name = j->name, .source = j->source, .source_hash = j->source_hash,
        .nnc_version = j->nnc_version, .dtype = j->dtype,
        .nparams = j->nparams, .params = j->params, .nparam_total = j->nparam_total,
        .nslots = j->nslots, .slots = j->slots,
        .nsettings = j->nsettings, .settings = j->settings,
        .example = j->example,
        .out_slot = j->out_slot, .out_size = j->out_size, .out_value = j->out_value,
        .out_name = j->out_name,
        .has_penalty = j->has_penalty,
        .tile = j->tile, .halves = j->halves, .sample_max = j->sample_max,
        .create = j->create, .destroy = j->destroy,
        .forward = (ForwardFn *)j->forward,
        .backward = (BackwardFn *)j->backward,
        .penalty = (PenaltyFn *)j->penalty,
        .output = (OutputFn *)j->output,
        .nonfinite = j->nonfinite,
        .keep_all = j->keep_all,
        .nvalues = j->nvalues, .values = j->values, .value = j->nvalues ? value : NULL,
        .ndraws = j->ndraws, .draws = j->draws, .batchnorm = j->batchnorm,
        .holds = j->holds,
    };
    running = j;
    return nnrt_main(&m, argc, argv);
}
