/*
 * nnrt_checkpoint.c - a training run's complete state in one .npz, so that
 * `train --resume DIR` continues exactly where the run stopped.
 *
 * DIR/checkpoint.npz holds
 *   NAME          every parameter, as in a parameter file (numpy reads it)
 *   m/NAME, v/NAME, a/NAME
 *                 the optimizer's buffers for each trainable parameter
 *                 (those the optimizer has: see NnrtOptim)
 *   state         int64: epoch, step, optimizer t, the shuffling RNG's four
 *                 words, best epoch, epochs since the best, best row's step
 *   state_f64     float64: seconds so far, then the best row's lr, loss,
 *                 test_loss, accuracy, test_accuracy, seconds
 *   ranks         int64: the MPI ranks that trained it, when more than one
 *                 (docs/distributed.md); absent: one process
 * in the trainer's precision, so nothing is rounded.  It is written to
 * checkpoint.npz.part and renamed (nnrt_npz_finish), so a run killed while
 * writing keeps its previous checkpoint.
 */
#include "nnrt_internal.h"

#include <stdlib.h>
#include <string.h>

#define NSTATE 10
#define NSTATE_F64 7

static nnrt_real *buffer(const NnrtOptim *o, char which)
{
    return which == 'm' ? o->m : which == 'v' ? o->v : o->a;
}

int nnrt_checkpoint_save(const char *path, const NnrtModel *m, const nnrt_real *params,
                         const NnrtOptim *o, const NnrtTrainState *s, NnrtErr *e)
{
    NnrtNpzWriter *w;
    int64_t st[NSTATE] = { s->epoch, s->step, o->t };
    for (int i = 0; i < 4; i++)
        memcpy(&st[3 + i], &s->rng.s[i], sizeof st[0]);
    st[7] = s->best_epoch;
    st[8] = s->wait;
    st[9] = s->best.step;
    double f[NSTATE_F64] = { s->seconds, s->best.lr, s->best.loss, s->best.test_loss,
                             s->best.accuracy, s->best.test_accuracy, s->best.seconds };
    int64_t nst = NSTATE, nf = NSTATE_F64;
    char i8[8], f8[8];
    nnrt_native_descr(i8, sizeof i8, 'i', 8);
    nnrt_native_descr(f8, sizeof f8, 'f', 8);
    if (nnrt_npz_create(&w, path, e) != 0)
        return -1;
    int r = nnrt_npz_add_params(w, m, "", params, 0, e);
    static const char which[] = { 'm', 'v', 'a' };
    for (int b = 0; b < 3 && r == 0; b++) {
        char prefix[3] = { which[b], '/', '\0' };
        if (buffer(o, which[b]))
            r = nnrt_npz_add_params(w, m, prefix, buffer(o, which[b]), 1, e);
    }
    if (r == 0)
        r = nnrt_npz_add(w, "state", i8, 0, 1, &nst, st, e);
    if (r == 0)
        r = nnrt_npz_add(w, "state_f64", f8, 0, 1, &nf, f, e);
    int64_t one = 1;
    if (r == 0 && s->ranks > 1)
        r = nnrt_npz_add(w, "ranks", i8, 0, 1, &one, &s->ranks, e);
    if (r != 0) {
        nnrt_npz_abandon(w);
        return -1;
    }
    return nnrt_npz_finish(w, e);
}

/* Reads member `name` of z, which must hold exactly n values of the
 * expected kind ('f' of nnrt_real's size, or 'i'/'f' of 8 bytes), in the
 * shape of p when p is not NULL (a W1 [2, 4] has the count of a W1 [4, 2],
 * not its layout), else as a vector. */
static int read_exact(NnrtNpz *z, const char *name, const NnrtParam *p, char kind, int itemsize,
                      int64_t n, void *out, NnrtErr *e)
{
    int i = nnrt_npz_find(z, name);
    if (i < 0)
        return nnrt_err(e, "%s: no array '%s' (not a checkpoint of this model and optimizer; "
                        "was the run started with other settings?)", nnrt_npz_path(z), name);
    NnrtArray a;
    if (nnrt_npz_read(z, i, &a, e) != 0)
        return -1;
    int r = 0, shaped = a.h.rank == (p ? p->rank : 1);
    for (int d = 0; shaped && d < a.h.rank; d++)
        shaped = a.h.shape[d] == (p ? p->dim[d] : n);
    if (a.h.kind != kind || a.h.itemsize != itemsize || a.h.count != n || a.h.fortran) {
        r = nnrt_err(e, "%s: array '%s' is %s with %lld values, expected %lld values of %c%d",
                     nnrt_npz_path(z), name, a.h.descr, (long long)a.h.count, (long long)n, kind,
                     itemsize);
    } else if (!shaped) {
        char got[64], want[64];
        nnrt_format_dims64(got, sizeof got, a.h.rank, a.h.shape);
        if (p)
            nnrt_format_dims(want, sizeof want, p->rank, p->dim);
        else
            nnrt_format_dims64(want, sizeof want, 1, &n);
        r = nnrt_err(e, "%s: array '%s' has shape %s, this model's is %s (a checkpoint of "
                     "another model)", nnrt_npz_path(z), name, got, want);
    } else {
        memcpy(out, a.data, (size_t)n * (size_t)itemsize);
    }
    nnrt_array_free(&a);
    return r;
}

int nnrt_checkpoint_load(const char *path, const NnrtModel *m, nnrt_real *params, NnrtOptim *o,
                         NnrtTrainState *s, NnrtErr *e)
{
    NnrtNpz *z;
    if (nnrt_npz_open(&z, path, e) != 0)
        return -1;
    int r = 0, rs = (int)sizeof(nnrt_real);
    char name[300];
    for (int k = 0; k < m->nparams && r == 0; k++) {
        const NnrtParam *p = &m->params[k];
        r = read_exact(z, p->name, p, 'f', rs, p->size, params + p->offset, e);
        static const char which[] = { 'm', 'v', 'a' };
        for (int b = 0; b < 3 && r == 0 && !p->frozen; b++) {
            nnrt_real *buf = buffer(o, which[b]);
            snprintf(name, sizeof name, "%c/%s", which[b], p->name);
            if (buf)
                r = read_exact(z, name, p, 'f', rs, p->size, buf + p->offset, e);
        }
    }
    int64_t st[NSTATE];
    double f[NSTATE_F64];
    if (r == 0)
        r = read_exact(z, "state", NULL, 'i', 8, NSTATE, st, e);
    if (r == 0)
        r = read_exact(z, "state_f64", NULL, 'f', 8, NSTATE_F64, f, e);
    int64_t ranks = 1;
    if (r == 0 && nnrt_npz_find(z, "ranks") >= 0)
        r = read_exact(z, "ranks", NULL, 'i', 8, 1, &ranks, e);
    nnrt_npz_close(z);
    if (r != 0)
        return -1;
    /* A checkpoint is ours, but its file may have been edited or damaged: a
     * negative epoch would make the schedule's learning rate negative.
     * Every epoch has at least one update, so step >= epoch. */
    if (st[0] < 0 || st[1] < st[0] || st[2] < 0 || st[7] < 0 || st[7] > st[0] || st[8] < 0 ||
        st[8] > st[0] || st[9] < 0 || st[9] > st[1] || !(f[0] >= 0))
        return nnrt_err(e, "%s: its state (epoch %lld, step %lld, best epoch %lld) is impossible; "
                        "the file is damaged", path, (long long)st[0], (long long)st[1],
                        (long long)st[7]);
    memset(s, 0, sizeof *s);
    s->epoch = st[0];
    s->step = st[1];
    o->t = st[2];
    for (int i = 0; i < 4; i++)
        memcpy(&s->rng.s[i], &st[3 + i], sizeof st[0]);
    s->best_epoch = st[7];
    s->wait = st[8];
    s->best.epoch = st[7];
    s->best.step = st[9];
    s->seconds = f[0];
    s->best.lr = f[1];
    s->best.loss = f[2];
    s->best.test_loss = f[3];
    s->best.accuracy = f[4];
    s->best.test_accuracy = f[5];
    s->best.seconds = f[6];
    s->ranks = ranks;
    return 0;
}
