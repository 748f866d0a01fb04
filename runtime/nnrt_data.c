/*
 * nnrt_data.c - data sets and parameters bound to the model's slots.
 *
 * A data set (NnrtData) is one contiguous nnrt_real array per slot (input or
 * target), sample-major, in the model's slot order.  It comes from an .npz
 * archive holding one array per slot, named after it, with the samples on
 * axis 0 (other formats plug into load_file()), or from a built-in
 * generator of teaching data (noisy_xor, sine, spirals, moons, random).
 * Every array is checked against the slot it binds to before its data is
 * read, and messages name the file, the array and what the model expects:
 *
 *   train.npz: array 'x' has shape [100, 3], the model's input x is [2]
 *
 * Parameters live in one flat buffer (NnrtParam.offset).  They are set by
 * the initialisers of the model (each random one from its own stream,
 * seeded by the run's seed and the parameter's name), loaded from an .npz
 * keyed by parameter name, or saved to one as float32/float64 (the dtype of
 * this build), in the declared shapes.
 */
#include "nnrt_internal.h"

#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

void nnrt_describe_slot(const NnrtSlot *s, char *buf, size_t len)
{
    const char *kind = s->kind == NNRT_INPUT ? "input" : "target";
    if (s->nclass > 0) {
        snprintf(buf, len, "%s %s : class(%d)", kind, s->name, s->nclass);
    } else {
        char dims[128];
        nnrt_format_dims(dims, sizeof dims, s->rank, s->dim);
        snprintf(buf, len, "%s %s%s", kind, s->name, s->rank ? dims : "");
    }
}

int nnrt_real_from_array(NnrtArray *a, nnrt_real **out, NnrtErr *e)
{
#ifdef NNRT_F64
    return nnrt_array_to_f64(a, out, e);
#else
    return nnrt_array_to_f32(a, out, e);
#endif
}

void nnrt_data_free(NnrtData *d)
{
    if (d->slot)
        for (int s = 0; s < d->nslots; s++)
            free(d->slot[s]);
    free(d->slot);
    d->slot = NULL;
    d->n = 0;
}

static int data_alloc(NnrtData *d, const NnrtModel *m, int64_t n, NnrtErr *e)
{
    d->n = n;
    d->nslots = m->nslots;
    d->slot = calloc(m->nslots > 0 ? (size_t)m->nslots : 1, sizeof *d->slot);
    if (!d->slot)
        return nnrt_err(e, "%s: out of memory", d->name);
    for (int s = 0; s < m->nslots; s++) {
        size_t count = (size_t)n * (size_t)m->slots[s].size;
        d->slot[s] = calloc(count ? count : 1, sizeof(nnrt_real));   /* unused slots stay 0 */
        if (!d->slot[s])
            return nnrt_err(e, "%s: out of memory (%zu values for %s)", d->name, count,
                            m->slots[s].name);
    }
    return 0;
}

/* Class labels must be integers in [0, K). */
static int check_labels(const NnrtData *d, const NnrtSlot *s, const nnrt_real *v, NnrtErr *e)
{
    if (s->nclass <= 0)
        return 0;
    for (int64_t i = 0; i < d->n; i++)
        if (!(v[i] >= 0 && v[i] < s->nclass && v[i] == (nnrt_real)(int64_t)v[i]))
            return nnrt_err(e, "%s: array '%s' holds %.9g at sample %lld, the model's target "
                            "%s is class(%d) (expected integer labels 0 to %d)", d->name, s->name,
                            (double)v[i], (long long)i, s->name, s->nclass, s->nclass - 1);
    return 0;
}

/* Whether an array's per-sample part fits a slot: the same shape, or the
 * same number of elements (x[784] from images [N, 28, 28], y[1] from [N]). */
static int shape_fits(const NnrtNpyHeader *h, const NnrtSlot *s)
{
    if (h->rank < 1)
        return 0;
    int64_t per = 1;
    for (int i = 1; i < h->rank; i++)
        per *= h->shape[i];
    return per == s->size;
}

static void slot_shape(const NnrtSlot *s, char *buf, size_t len)
{
    if (s->nclass > 0)
        snprintf(buf, len, "class(%d)", s->nclass);
    else
        nnrt_format_dims(buf, len, s->rank, s->dim);
}

static int load_npz(NnrtData *d, const NnrtModel *m, const char *path, NnrtErr *e)
{
    NnrtNpz *z;
    if (nnrt_npz_open(&z, path, e) != 0)
        return -1;
    int *idx = calloc(m->nslots > 0 ? (size_t)m->nslots : 1, sizeof *idx);
    int r = -1;
    int64_t n = -1;
    int first = -1;
    char list[512], dims[256], want[160], desc[200];
    if (!idx) {
        nnrt_err(e, "%s: out of memory", path);
        goto done;
    }
    /* Check every header before reading any data. */
    for (int s = 0; s < m->nslots; s++) {
        const NnrtSlot *sl = &m->slots[s];
        NnrtNpyHeader h;
        nnrt_describe_slot(sl, desc, sizeof desc);
        idx[s] = nnrt_npz_find(z, sl->name);
        if (idx[s] < 0 && sl->unused)
            continue;   /* filled with zeros below */
        if (idx[s] < 0) {
            nnrt_npz_list(z, list, sizeof list);
            nnrt_err(e, "%s: no array '%s' (the model's %s); arrays present: %s", path,
                     sl->name, desc, list);
            goto done;
        }
        if (nnrt_npz_header(z, idx[s], &h, e) != 0)
            goto done;
        nnrt_format_dims64(dims, sizeof dims, h.rank, h.shape);
        slot_shape(sl, want, sizeof want);
        if (!shape_fits(&h, sl)) {
            if (h.rank == 0)
                nnrt_err(e, "%s: array '%s' is a scalar, the model's %s %s is %s per sample "
                         "(expected samples on axis 0)", path, sl->name,
                         sl->kind == NNRT_INPUT ? "input" : "target", sl->name, want);
            else
                nnrt_err(e, "%s: array '%s' has shape %s, the model's %s %s is %s", path,
                         sl->name, dims, sl->kind == NNRT_INPUT ? "input" : "target", sl->name,
                         want);
            goto done;
        }
        if (n < 0) {
            n = h.shape[0];
            first = s;
        } else if (h.shape[0] != n) {
            nnrt_err(e, "%s: array '%s' has %lld samples, array '%s' has %lld (expected the "
                     "same number on axis 0)", path, sl->name, (long long)h.shape[0],
                     m->slots[first].name, (long long)n);
            goto done;
        }
    }
    if (n == 0) {
        nnrt_err(e, "%s: holds no samples (axis 0 of '%s' is 0)", path, m->slots[first].name);
        goto done;
    }
    if (n < 0) {
        nnrt_err(e, "%s: the model has no inputs or targets to load", path);
        goto done;
    }
    d->n = n;
    d->nslots = m->nslots;
    d->slot = calloc((size_t)m->nslots, sizeof *d->slot);
    if (!d->slot) {
        nnrt_err(e, "%s: out of memory", path);
        goto done;
    }
    for (int s = 0; s < m->nslots; s++) {
        NnrtArray a;
        if (idx[s] < 0) {
            d->slot[s] = calloc((size_t)(n * m->slots[s].size), sizeof *d->slot[s]);
            if (!d->slot[s]) {
                nnrt_err(e, "%s: out of memory", path);
                goto done;
            }
            continue;
        }
        if (nnrt_npz_read(z, idx[s], &a, e) != 0)
            goto done;
        int cr = nnrt_real_from_array(&a, &d->slot[s], e);
        nnrt_array_free(&a);
        if (cr != 0 || check_labels(d, &m->slots[s], d->slot[s], e) != 0)
            goto done;
    }
    r = 0;
done:
    free(idx);
    nnrt_npz_close(z);
    return r;
}

/* Dispatch on the file's extension; other formats (.npy, .csv, IDX,
 * CIFAR batches, pickles) go here. */
static int load_file(NnrtData *d, const NnrtModel *m, const char *path, NnrtErr *e)
{
    if (nnrt_ends_with(path, ".npz"))
        return load_npz(d, m, path, e);
    return nnrt_err(e, "%s: unsupported data file (expected an .npz archive with one array per "
                    "input and target, named after them)", path);
}

/* ---- generators ---- */

static int first_slot(const NnrtModel *m, NnrtSlotKind kind)
{
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == kind && !m->slots[s].unused)
            return s;
    return -1;
}

/* Generators other than random fill the first input and the first target;
 * the model must have no other slot and the right sizes. */
static int gen_bind(const NnrtModel *m, const char *gname, int in_size, int classes,
                    int *xi, int *yi, NnrtErr *e)
{
    char desc[200];
    *xi = first_slot(m, NNRT_INPUT);
    *yi = first_slot(m, NNRT_TARGET);
    if (*xi < 0 || *yi < 0)
        return nnrt_err(e, "%s: makes one input and one target, the model has %s", gname,
                        *xi < 0 ? "no input" : "no target");
    const NnrtSlot *x = &m->slots[*xi], *y = &m->slots[*yi];
    if (x->size != in_size || x->nclass > 0) {
        nnrt_describe_slot(x, desc, sizeof desc);
        return nnrt_err(e, "%s: makes inputs of shape [%d], the model's %s", gname, in_size,
                        desc);
    }
    for (int s = 0; s < m->nslots; s++)
        if (s != *xi && s != *yi && !m->slots[s].unused) {
            nnrt_describe_slot(&m->slots[s], desc, sizeof desc);
            return nnrt_err(e, "%s: makes one input and one target, the model also has %s "
                            "(use a data file)", gname, desc);
        }
    nnrt_describe_slot(y, desc, sizeof desc);
    if (classes == 0) {            /* real-valued target (sine) */
        if (y->nclass > 0 || y->size != 1)
            return nnrt_err(e, "%s: makes real targets of shape [1], the model's %s", gname,
                            desc);
    } else if (y->nclass > 0) {
        if (y->nclass < classes)
            return nnrt_err(e, "%s: makes %d classes, the model's %s has only %d", gname,
                            classes, desc, y->nclass);
    } else if (y->size != 1 || classes > 2) {
        if (classes > 2)
            return nnrt_err(e, "%s: makes labels 0..%d, which need a target declared class(K) "
                            "with K >= %d, the model's %s", gname, classes - 1, classes, desc);
        return nnrt_err(e, "%s: makes labels 0 and 1 (for a class(2) target or a real [1] "
                        "target), the model's %s", gname, desc);
    }
    return 0;
}

static int generate(NnrtData *d, const NnrtModel *m, const NnrtSource *src, NnrtErr *e)
{
    static const char *const gnames[] = { "noisy_xor", "sine", "spirals", "moons", "random", "ripple" };
    const char *gname = gnames[src->gen];
    NnrtRng rng;
    int xi = -1, yi = -1;
    nnrt_rng_seed(&rng, src->seed);
    switch (src->gen) {
    case NNRT_GEN_NOISY_XOR:
    case NNRT_GEN_MOONS:
        if (gen_bind(m, gname, 2, 2, &xi, &yi, e) != 0)
            return -1;
        break;
    case NNRT_GEN_SPIRALS:
        if (gen_bind(m, gname, 2, src->classes, &xi, &yi, e) != 0)
            return -1;
        break;
    case NNRT_GEN_SINE:
        if (gen_bind(m, gname, 1, 0, &xi, &yi, e) != 0)
            return -1;
        break;
    case NNRT_GEN_RIPPLE:
        if (gen_bind(m, gname, 2, 0, &xi, &yi, e) != 0)
            return -1;
        break;
    case NNRT_GEN_RANDOM:
        break;
    }
    if (data_alloc(d, m, src->n, e) != 0)
        return -1;
    int64_t n = src->n;
    double s = src->noise;
    nnrt_real *x = xi >= 0 ? d->slot[xi] : NULL, *y = yi >= 0 ? d->slot[yi] : NULL;
    switch (src->gen) {
    case NNRT_GEN_NOISY_XOR:
        /* bits a, b uniform in {0, 1}; x = (a, b) + N(0, s^2) noise; label a xor b */
        for (int64_t i = 0; i < n; i++) {
            int a = (int)nnrt_rng_below(&rng, 2), b = (int)nnrt_rng_below(&rng, 2);
            x[2 * i] = (nnrt_real)(a + s * nnrt_rng_normal(&rng));
            x[2 * i + 1] = (nnrt_real)(b + s * nnrt_rng_normal(&rng));
            y[i] = (nnrt_real)(a ^ b);
        }
        break;
    case NNRT_GEN_SINE:
        /* x ~ U(-pi, pi), y = sin x + N(0, noise^2) */
        for (int64_t i = 0; i < n; i++) {
            double t = -PI + 2 * PI * nnrt_rng_uniform(&rng);
            x[i] = (nnrt_real)t;
            y[i] = (nnrt_real)(sin(t) + s * nnrt_rng_normal(&rng));
        }
        break;
    case NNRT_GEN_RIPPLE:
        /* x ~ U(-1, 1)^2, y = sin(3 x0) cos(2 x1) + N(0, noise^2): the
         * regression of benchmark W1 and the tiny_mlp example */
        for (int64_t i = 0; i < n; i++) {
            double a = -1 + 2 * nnrt_rng_uniform(&rng), b = -1 + 2 * nnrt_rng_uniform(&rng);
            x[2 * i] = (nnrt_real)a;
            x[2 * i + 1] = (nnrt_real)b;
            y[i] = (nnrt_real)(sin(3 * a) * cos(2 * b) + s * nnrt_rng_normal(&rng));
        }
        break;
    case NNRT_GEN_SPIRALS: {
        /* Sample i belongs to class c = i mod K and is the j-th of its class's
         * m samples: radius r = (j + 0.5) / m, angle
         * t = 2 pi c / K + 4 r + N(0, noise^2); x = (r sin t, r cos t). */
        int K = src->classes;
        for (int64_t i = 0; i < n; i++) {
            int c = (int)(i % K);
            int64_t j = i / K, mc = n / K + (c < n % K);
            double r = ((double)j + 0.5) / (double)mc;
            double t = 2 * PI * c / K + 4 * r + s * nnrt_rng_normal(&rng);
            x[2 * i] = (nnrt_real)(r * sin(t));
            x[2 * i + 1] = (nnrt_real)(r * cos(t));
            y[i] = (nnrt_real)c;
        }
        break;
    }
    case NNRT_GEN_MOONS:
        /* scikit-learn's two moons: label 0 on (cos t, sin t), label 1 on
         * (1 - cos t, 0.5 - sin t), t ~ U(0, pi), plus N(0, noise^2) noise. */
        for (int64_t i = 0; i < n; i++) {
            int c = (int)(i % 2);
            double t = PI * nnrt_rng_uniform(&rng);
            double px = c ? 1 - cos(t) : cos(t), py = c ? 0.5 - sin(t) : sin(t);
            x[2 * i] = (nnrt_real)(px + s * nnrt_rng_normal(&rng));
            x[2 * i + 1] = (nnrt_real)(py + s * nnrt_rng_normal(&rng));
            y[i] = (nnrt_real)c;
        }
        break;
    case NNRT_GEN_RANDOM:
        /* every input and real target N(0, 1); class targets uniform in [0, K) */
        for (int sl = 0; sl < m->nslots; sl++) {
            const NnrtSlot *so = &m->slots[sl];
            int64_t count = n * so->size;
            for (int64_t i = 0; i < count; i++)
                d->slot[sl][i] = so->nclass > 0
                                     ? (nnrt_real)nnrt_rng_below(&rng, (uint64_t)so->nclass)
                                     : (nnrt_real)nnrt_rng_normal(&rng);
        }
        break;
    }
    return 0;
}

int nnrt_data_load(NnrtData *d, const NnrtModel *m, const NnrtSource *src, NnrtErr *e)
{
    memset(d, 0, sizeof *d);
    if (src->kind == NNRT_SRC_FILE) {
        nnrt_resolve_input(src->path, m->source, d->name, sizeof d->name);
        if (load_file(d, m, d->name, e) == 0)
            return 0;
    } else if (src->kind == NNRT_SRC_GEN) {
        nnrt_source_describe(src, d->name, sizeof d->name);
        if (generate(d, m, src, e) == 0)
            return 0;
    } else {
        return nnrt_err(e, "no data given (expected a file or a generator)");
    }
    nnrt_data_free(d);
    return -1;
}

int nnrt_data_example(NnrtData *d, const NnrtModel *m, NnrtErr *e)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s: example block", m->source ? m->source : m->name);
    if (!m->example)
        return nnrt_err(e, "%s: the model has no example block", m->source ? m->source : m->name);
    if (data_alloc(d, m, 1, e) != 0) {
        nnrt_data_free(d);
        return -1;
    }
    for (int s = 0; s < m->nslots; s++) {
        if (!m->example[s]) {
            nnrt_data_free(d);
            return nnrt_err(e, "%s: the example block has no value for '%s'",
                            m->source ? m->source : m->name, m->slots[s].name);
        }
        for (int64_t i = 0; i < m->slots[s].size; i++)
            d->slot[s][i] = (nnrt_real)m->example[s][i];
        if (check_labels(d, &m->slots[s], d->slot[s], e) != 0) {
            nnrt_data_free(d);
            return -1;
        }
    }
    return 0;
}

/* ---- parameters ---- */

static void fans(const NnrtParam *p, double *fan_in, double *fan_out)
{
    if (p->rank == 0) {
        *fan_in = *fan_out = 1;
    } else if (p->rank == 1) {
        *fan_in = *fan_out = p->dim[0];
    } else {
        double fi = 1;
        for (int i = 1; i < p->rank; i++)
            fi *= p->dim[i];
        *fan_in = fi;
        *fan_out = p->dim[0];
    }
}

static int load_into(const NnrtModel *m, const NnrtParam *p, nnrt_real *dst, const char *file,
                     const char *key, NnrtErr *e)
{
    char path[4096], dims[256], want[256];
    NnrtArray a;
    nnrt_resolve_input(file, m->source, path, sizeof path);
    if (nnrt_ends_with(path, ".npy")) {
        if (nnrt_npy_read(path, &a, e) != 0)
            return -1;
    } else {
        NnrtNpz *z;
        if (nnrt_npz_open(&z, path, e) != 0)
            return -1;
        int i = nnrt_npz_find(z, key);
        if (i < 0) {
            char list[512];
            nnrt_npz_list(z, list, sizeof list);
            nnrt_npz_close(z);
            return nnrt_err(e, "%s: no array '%s' (for parameter %s); arrays present: %s", path,
                            key, p->name, list);
        }
        int r = nnrt_npz_read(z, i, &a, e);
        nnrt_npz_close(z);
        if (r != 0)
            return -1;
    }
    int same = a.h.rank == p->rank;
    for (int i = 0; same && i < p->rank; i++)
        same = a.h.shape[i] == p->dim[i];
    if (!same) {
        nnrt_format_dims64(dims, sizeof dims, a.h.rank, a.h.shape);
        nnrt_format_dims(want, sizeof want, p->rank, p->dim);
        nnrt_array_free(&a);
        return nnrt_err(e, "%s: array '%s' has shape %s, the model's parameter %s is %s", path,
                        key, dims, p->name, want);
    }
    nnrt_real *v;
    int r = nnrt_real_from_array(&a, &v, e);
    nnrt_array_free(&a);
    if (r != 0)
        return -1;
    memcpy(dst, v, (size_t)p->size * sizeof *dst);
    free(v);
    return 0;
}

int nnrt_params_init(const NnrtModel *m, nnrt_real *params, uint64_t seed, NnrtErr *e)
{
    for (int k = 0; k < m->nparams; k++) {
        const NnrtParam *p = &m->params[k];
        nnrt_real *w = params + p->offset;
        const NnrtInit *in = &p->init;
        NnrtRng rng;
        double fi, fo, r;
        nnrt_rng_seed(&rng, seed ^ nnrt_hash_name(p->name));
        fans(p, &fi, &fo);
        switch (in->kind) {
        case NNRT_INIT_ZEROS:
        case NNRT_INIT_ONES:
            for (int64_t i = 0; i < p->size; i++)
                w[i] = in->kind == NNRT_INIT_ONES;
            break;
        case NNRT_INIT_IDENTITY:
            if (p->rank != 2)
                return nnrt_err(e, "%s: identity needs a matrix, parameter %s has rank %d",
                                p->where ? p->where : m->name, p->name, p->rank);
            for (int64_t i = 0; i < p->size; i++)
                w[i] = i / p->dim[1] == i % p->dim[1];
            break;
        case NNRT_INIT_NORMAL:
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)(in->a + in->b * nnrt_rng_normal(&rng));
            break;
        case NNRT_INIT_UNIFORM:
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)(in->a + (in->b - in->a) * nnrt_rng_uniform(&rng));
            break;
        case NNRT_INIT_XAVIER_UNIFORM:
        case NNRT_INIT_HE_UNIFORM:
            r = in->kind == NNRT_INIT_HE_UNIFORM ? sqrt(6.0 / fi) : sqrt(6.0 / (fi + fo));
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)(r * (2 * nnrt_rng_uniform(&rng) - 1));
            break;
        case NNRT_INIT_XAVIER_NORMAL:
        case NNRT_INIT_HE_NORMAL:
            r = in->kind == NNRT_INIT_HE_NORMAL ? sqrt(2.0 / fi) : sqrt(2.0 / (fi + fo));
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)(r * nnrt_rng_normal(&rng));
            break;
        case NNRT_INIT_LITERAL:
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)in->values[i];
            break;
        case NNRT_INIT_LOAD:
            if (load_into(m, p, w, in->file, in->key ? in->key : p->name, e) != 0)
                return -1;
            break;
        }
    }
    return 0;
}

int nnrt_params_load(const NnrtModel *m, nnrt_real *params, const char *file, NnrtErr *e)
{
    char path[4096];
    nnrt_resolve_input(file, m->source, path, sizeof path);
    NnrtNpz *z;
    if (nnrt_npz_open(&z, path, e) != 0)
        return -1;
    int r = 0;
    for (int k = 0; k < m->nparams && r == 0; k++) {
        const NnrtParam *p = &m->params[k];
        char list[512], dims[256], want[256];
        NnrtArray a;
        int i = nnrt_npz_find(z, p->name);
        if (i < 0) {
            nnrt_npz_list(z, list, sizeof list);
            nnrt_format_dims(want, sizeof want, p->rank, p->dim);
            r = nnrt_err(e, "%s: no array '%s' (the model's parameter %s%s); arrays present: %s",
                         path, p->name, p->name, want, list);
            break;
        }
        NnrtNpyHeader h;
        if (nnrt_npz_header(z, i, &h, e) != 0) {
            r = -1;
            break;
        }
        int same = h.rank == p->rank;
        for (int d = 0; same && d < p->rank; d++)
            same = h.shape[d] == p->dim[d];
        if (!same) {
            nnrt_format_dims64(dims, sizeof dims, h.rank, h.shape);
            nnrt_format_dims(want, sizeof want, p->rank, p->dim);
            r = nnrt_err(e, "%s: array '%s' has shape %s, the model's parameter %s is %s", path,
                         p->name, dims, p->name, want);
            break;
        }
        if (nnrt_npz_read(z, i, &a, e) != 0) {
            r = -1;
            break;
        }
        nnrt_real *v;
        r = nnrt_real_from_array(&a, &v, e);
        nnrt_array_free(&a);
        if (r == 0) {
            memcpy(params + p->offset, v, (size_t)p->size * sizeof *v);
            free(v);
        }
    }
    nnrt_npz_close(z);
    return r;
}

int nnrt_params_save(const NnrtModel *m, const nnrt_real *params, const char *path,
                     int trainable_only, NnrtErr *e)
{
    NnrtNpzWriter *w;
    char descr[8];
    nnrt_native_descr(descr, sizeof descr, 'f', (int)sizeof(nnrt_real));
    if (nnrt_npz_create(&w, path, e) != 0)
        return -1;
    for (int k = 0; k < m->nparams; k++) {
        const NnrtParam *p = &m->params[k];
        int64_t shape[NNRT_MAXRANK];
        if (trainable_only && p->frozen)
            continue;
        for (int i = 0; i < p->rank; i++)
            shape[i] = p->dim[i];
        if (nnrt_npz_add(w, p->name, descr, 0, p->rank, shape, params + p->offset, e) != 0) {
            nnrt_npz_abandon(w);
            return -1;
        }
    }
    return nnrt_npz_finish(w, e);
}
