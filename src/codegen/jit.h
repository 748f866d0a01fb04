/*
 * jit.h - what jit_llvm.c hands to the runtime: a model description that
 * does not depend on nnrt_real.  jit_main.c (built once for float and once
 * for double, like the runtime) turns it into an NnrtModel and calls the
 * same nnrt_main() a generated trainer's main() calls.
 */
#ifndef NNC_JIT_H
#define NNC_JIT_H

#include "nnrt.h"

typedef void JitFn(void);

typedef struct JitModel {
    const char *name, *source, *source_hash, *nnc_version, *dtype;
    int nparams;
    const NnrtParam *params;
    int64_t nparam_total;
    int nslots;
    const NnrtSlot *slots;
    int nsettings;
    const NnrtSetting *settings;
    const double *const *example;
    int out_slot;
    int64_t out_size;
    int out_value;
    const char *out_name;
    int has_penalty;
    int tile;             /* NnrtModel.tile */
    int halves;           /* NnrtModel.halves */
    int64_t sample_max;   /* NnrtModel.sample_max */
    void *(*create)(int cap);
    void (*destroy)(void *work);
    const void *(*output)(void *work);
    /* compiled code, with NnrtModel's signatures for the model's dtype */
    JitFn *forward, *backward, *penalty;
    const char *(*nonfinite)(void *work, int n, int adjoint);   /* for --trap-nan */
    void (*keep_all)(void *work);                               /* for --trap-nan */
    /* predict --outputs: the named values and, for each, its buffer's index
     * in the workspace (an array of pointers, samples innermost) */
    int nvalues;
    const NnrtValue *values;
    const int *value_buf;
    /* a batched buffer's row for n samples: n rounded up to row_multiple,
     * longer by row_skew when its bytes are a multiple of 2048 */
    int row_multiple, row_skew;
    int ndraws;           /* NnrtModel.draws */
    const NnrtDraw *draws;
    int batchnorm;        /* NnrtModel.batchnorm */
    int holds;            /* NnrtModel.holds */
} JitModel;

int jit_main_f32(const JitModel *m, int argc, char **argv);
int jit_main_f64(const JitModel *m, int argc, char **argv);

#endif
