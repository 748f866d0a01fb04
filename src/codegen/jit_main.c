/*
 * jit_main.c - `nnc run`'s hand-over to the runtime: the JIT's model as an
 * NnrtModel for nnrt_main().  Compiled twice, like the runtime itself: as is
 * for float, and from jit_main64.c with NNRT_F64 for double.
 */
#include "jit.h"

typedef void ForwardFn(void *, const nnrt_real *, int, const nnrt_real *const *, nnrt_real *);
typedef void BackwardFn(void *, const nnrt_real *, int, nnrt_real, nnrt_real *);
typedef nnrt_real PenaltyFn(void *, const nnrt_real *, nnrt_real *);
typedef const nnrt_real *OutputFn(void *);

int NNRT_FN(jit_main)(const JitModel *j, int argc, char **argv)
{
    NnrtModel m = {
        .name = j->name, .source = j->source, .source_hash = j->source_hash,
        .nnc_version = j->nnc_version, .dtype = j->dtype,
        .nparams = j->nparams, .params = j->params, .nparam_total = j->nparam_total,
        .nslots = j->nslots, .slots = j->slots,
        .nsettings = j->nsettings, .settings = j->settings,
        .example = j->example,
        .out_slot = j->out_slot, .out_size = j->out_size,
        .has_penalty = j->has_penalty,
        .tile = j->tile,
        .create = j->create, .destroy = j->destroy,
        .forward = (ForwardFn *)j->forward,
        .backward = (BackwardFn *)j->backward,
        .penalty = (PenaltyFn *)j->penalty,
        .output = (OutputFn *)j->output,
        .nonfinite = j->nonfinite,
        .keep_all = j->keep_all,
    };
    return nnrt_main(&m, argc, argv);
}
