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

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

void nnrt_describe_slot(const NnrtSlot *s, char *buf, size_t len)
{
    const char *kind = s->kind == NNRT_INPUT ? "input" : "target";
    if (s->nclass > 0) {
        snprintf(buf, len, "%s %s : class(%d)", kind, s->name, s->nclass);
    } else if (s->nindex > 0) {
        char dims[128];
        nnrt_format_dims(dims, sizeof dims, s->rank, s->dim);
        snprintf(buf, len, "%s %s%s : index(%d)", kind, s->name, s->rank ? dims : "", s->nindex);
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

/* Class labels must be integers in [0, K), an index input's in [0, V). */
static int check_labels(const NnrtData *d, const NnrtSlot *s, const nnrt_real *v, NnrtErr *e)
{
    if (s->nindex > 0) {
        for (int64_t k = 0; k < d->n * s->size; k++)
            if (!(v[k] >= 0 && v[k] < s->nindex && v[k] == (nnrt_real)(int64_t)v[k]))
                return nnrt_err(e, "%s: array '%s' holds %.9g at sample %lld, the model's input "
                                "%s is index(%d) (expected integers 0 to %d)", d->name, s->name,
                                (double)v[k], (long long)(k / s->size), s->name, s->nindex,
                                s->nindex - 1);
        return 0;
    }
    if (s->nclass <= 0)
        return 0;
    for (int64_t i = 0; i < d->n; i++)
        if (!(v[i] >= 0 && v[i] < s->nclass && v[i] == (nnrt_real)(int64_t)v[i]))
            return nnrt_err(e, "%s: array '%s' holds %.9g at sample %lld, the model's target "
                            "%s is class(%d) (expected integer labels 0 to %d)", d->name, s->name,
                            (double)v[i], (long long)i, s->name, s->nclass, s->nclass - 1);
    return 0;
}

/* The index of v's first NaN or inf, or -1.  Data or parameters holding one
 * would show only later, as a loss gone NaN far from its cause, so they are
 * refused where they are read. */
static int64_t first_nonfinite(const nnrt_real *v, int64_t count)
{
    for (int64_t k = 0; k < count; k++)
        if (!isfinite(v[k]))
            return k;
    return -1;
}

static void slot_shape(const NnrtSlot *s, char *buf, size_t len)
{
    if (s->nclass > 0)
        snprintf(buf, len, "class(%d)", s->nclass);
    else
        nnrt_format_dims(buf, len, s->rank, s->dim);
    if (s->nindex > 0)
        snprintf(buf + strlen(buf), len - strlen(buf), " : index(%d)", s->nindex);
}

/* ---- files bound to slots ----
 *
 * A file source (NnrtSpec) is turned into a plan: for every slot, a list of
 * parts, each one or more arrays of an open file with a scale and shift;
 * the parts' samples follow one another.  A part's arrays lie side by side
 * (CSV columns: sample i is row i of each), or, stacked, each array is one
 * sample (stack(...): a pickled list of per-sample arrays).  A transposed
 * part has its samples along the arrays' last axis ("columns.npy"': a
 * [784, N] matrix).  Every header is checked against its slot before any
 * data is read. */

#define MAX_SIDE 64               /* arrays side by side in one part */

typedef struct Part {
    NnrtFile *f;
    int nidx;
    int *idx;                 /* the arrays (owned) */
    int stacked, transposed;
    double scale, shift;
    int64_t n;                /* samples, known after checking */
} Part;

typedef struct Plan {
    const NnrtModel *m;
    NnrtFile **files;          /* every file opened, once each */
    int nfiles;
    int *nparts;               /* per slot */
    Part **parts;
    char *bound;               /* per slot: bound explicitly (files(slot = ...)) */
} Plan;

static void plan_free(Plan *P)
{
    for (int i = 0; i < P->nfiles; i++)
        nnrt_file_close(P->files[i]);
    free(P->files);
    for (int s = 0; P->parts && s < P->m->nslots; s++) {
        for (int k = 0; k < P->nparts[s]; k++)
            free(P->parts[s][k].idx);
        free(P->parts[s]);
    }
    free(P->parts);
    free(P->nparts);
    free(P->bound);
}

static int plan_open(Plan *P, const char *path, NnrtFile **out, NnrtErr *e)
{
    for (int i = 0; i < P->nfiles; i++)
        if (strcmp(nnrt_file_path(P->files[i]), path) == 0) {
            *out = P->files[i];
            return 0;
        }
    NnrtFile **fs = realloc(P->files, (size_t)(P->nfiles + 1) * sizeof *fs);
    if (!fs)
        return nnrt_err(e, "%s: out of memory", path);
    P->files = fs;
    if (nnrt_file_open(out, path, e) != 0)
        return -1;
    P->files[P->nfiles++] = *out;
    return 0;
}

static int add_part(Plan *P, int s, NnrtFile *f, const int *idx, int nidx, double scale,
                    double shift, int stacked, int transposed, NnrtErr *e)
{
    Part *ps = realloc(P->parts[s], (size_t)(P->nparts[s] + 1) * sizeof *ps);
    if (!ps)
        return nnrt_err(e, "out of memory");
    P->parts[s] = ps;
    int *copy = malloc((size_t)(nidx > 0 ? nidx : 1) * sizeof *copy);
    if (!copy)
        return nnrt_err(e, "out of memory");
    Part *p = &ps[P->nparts[s]++];
    memset(p, 0, sizeof *p);
    p->f = f;
    p->nidx = nidx;
    p->idx = copy;
    memcpy(p->idx, idx, (size_t)nidx * sizeof *idx);
    p->scale = scale;
    p->shift = shift;
    p->stacked = stacked;
    p->transposed = transposed;
    return 0;
}

static int find_slot(const NnrtModel *m, const char *name)
{
    for (int s = 0; s < m->nslots; s++)
        if (strcmp(m->slots[s].name, name) == 0)
            return s;
    return -1;
}

/* The message for slot sl, which no usable array of f binds to: why the
 * array of its name is not numeric (a CSV column holding text), else
 * which arrays there are. */
static int no_array(NnrtErr *e, const NnrtFile *f, const char *path, const NnrtSlot *sl)
{
    char list[600], desc[200];
    int i = nnrt_file_find(f, sl->name);
    if (i >= 0 && !nnrt_file_usable(f, i)) {
        NnrtNpyHeader h;
        return nnrt_file_header((NnrtFile *)f, i, &h, e);
    }
    nnrt_file_list(f, list, sizeof list);
    nnrt_describe_slot(sl, desc, sizeof desc);
    /* names that are key paths (a pickled tuple: 0/0, 0/1, ...) bind only explicitly */
    char hint[1200] = "";
    for (int k = 0; k < nnrt_file_count(f) && !hint[0]; k++)
        if (strchr(nnrt_file_name(f, k), '/'))
            snprintf(hint, sizeof hint, " (bind by key path: files(%s = pick(\"%s\", \"KEY\"), "
                     "...))", sl->name, nnrt_file_path(f));
    return nnrt_err(e, "%s: no array '%s' (the model's %s); arrays present: %s%s", path,
                    sl->name, desc, list, hint);
}

/* A usable array by exact name. */
static int find_usable(const NnrtFile *f, const char *name)
{
    int i = nnrt_file_find(f, name);
    return i >= 0 && nnrt_file_usable(f, i) ? i : -1;
}

/* Columns named x0..x{k-1}, x1..xk, x_0.., x_1.. or x[0].. for a slot of
 * size k > 1 (CSV headers). */
static int find_columns(const NnrtFile *f, const char *name, int64_t k, int *idx)
{
    static const char *const forms[] = { "%s%d", "%s_%d", "%s[%d]" };
    if (k < 2 || k > MAX_SIDE)
        return 0;
    for (int form = 0; form < 3; form++)
        for (int base = 0; base <= 1; base++) {
            int ok = 1;
            for (int64_t j = 0; j < k && ok; j++) {
                char col[300];
                snprintf(col, sizeof col, forms[form], name, (int)j + base);
                ok = (idx[j] = find_usable(f, col)) >= 0;
            }
            if (ok)
                return 1;
        }
    return 0;
}

/* Whether name matches pattern, where '*' stands for any run of
 * characters without '/' (one level of a pickle's key path). */
static int key_match(const char *pat, const char *name)
{
    if (*pat == '\0')
        return *name == '\0';
    if (*pat == '*') {
        for (const char *n = name;; n++) {
            if (key_match(pat + 1, n))
                return 1;
            if (*n == '\0' || *n == '/')
                return 0;
        }
    }
    return *pat == *name && key_match(pat + 1, name + 1);
}

static int push_index(int **idx, int *n, int *cap, int i)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        int *b = realloc(*idx, (size_t)c * sizeof *b);
        if (!b)
            return -1;
        *idx = b;
        *cap = c;
    }
    (*idx)[(*n)++] = i;
    return 0;
}

/* pick("file", key...): each key an array name, a range "first:last" of
 * arrays in the file's order (CSV columns) or a pattern with '*' (a star,
 * then "/0": the first item of every pair), its matches in the file's order.  *idx
 * (malloc'd) gets the arrays. */
static int pick_keys(const NnrtFile *f, char **keys, int nkeys, int **idx, int *nidx, NnrtErr *e)
{
    char list[600];
    int cap = 0;
    *idx = NULL;
    *nidx = 0;
    for (int k = 0; k < nkeys; k++) {
        int lo = nnrt_file_find(f, keys[k]), hi = lo, pattern = 0;
        const char *colon = strchr(keys[k], ':');
        if (lo < 0 && strchr(keys[k], '*')) {
            pattern = 1;
            lo = 0;
            hi = nnrt_file_count(f) - 1;
        } else if (lo < 0 && colon) {
            char a[256];
            snprintf(a, sizeof a, "%.*s", (int)(colon - keys[k]), keys[k]);
            lo = nnrt_file_find(f, a);
            hi = nnrt_file_find(f, colon + 1);
            if (lo < 0 || hi < 0 || hi < lo) {
                nnrt_file_list(f, list, sizeof list);
                return nnrt_err(e, "%s: no range '%s' (expected 'first:last' of arrays in the "
                                "file's order); arrays present: %s", nnrt_file_path(f), keys[k],
                                list);
            }
        }
        if (lo < 0) {
            nnrt_file_list(f, list, sizeof list);
            return nnrt_err(e, "%s: no array '%s'; arrays present: %s", nnrt_file_path(f),
                            keys[k], list);
        }
        int matched = 0;
        for (int i = lo; i <= hi; i++) {
            if (pattern && !key_match(keys[k], nnrt_file_name(f, i)))
                continue;
            if (!nnrt_file_usable(f, i)) {
                NnrtNpyHeader h;
                return nnrt_file_header((NnrtFile *)f, i, &h, e);
            }
            if (push_index(idx, nidx, &cap, i) != 0)
                return nnrt_err(e, "%s: out of memory", nnrt_file_path(f));
            matched++;
        }
        if (pattern && !matched) {
            nnrt_file_list(f, list, sizeof list);
            return nnrt_err(e, "%s: no array matches '%s' ('*' stands for one level of a key "
                            "path); arrays present: %s", nnrt_file_path(f), keys[k], list);
        }
    }
    return 0;
}

/* An array source bound to slot s (files(s = ...)); stacked and
 * transposed come from the nodes above it. */
static int bind_array(Plan *P, int s, const NnrtSpec *sp, double scale, double shift,
                      int stacked, int transposed, NnrtErr *e)
{
    const NnrtModel *m = P->m;
    double sc = sp->scale * scale, sh = sp->shift * scale + shift;
    transposed ^= sp->transpose;
    if (sp->kind == NNRT_SPEC_LIST || sp->kind == NNRT_SPEC_STACK) {
        for (int i = 0; i < sp->n; i++)
            if (bind_array(P, s, sp->sub[i], sc, sh, stacked || sp->kind == NNRT_SPEC_STACK,
                           transposed, e) != 0)
                return -1;
        return 0;
    }
    char **paths;
    int np;
    if (nnrt_resolve_glob(sp->path, m->source, &paths, &np, e) != 0)
        return -1;
    int r = 0;
    for (int k = 0; k < np && r == 0; k++) {
        NnrtFile *f;
        int *idx = NULL, nidx = 0, cap = 0;
        if ((r = plan_open(P, paths[k], &f, e)) != 0)
            break;
        if (sp->kind == NNRT_SPEC_PICK) {
            r = pick_keys(f, sp->keys, sp->nkeys, &idx, &nidx, e);
        } else if (stacked) {
            for (int i = 0; i < nnrt_file_count(f) && r == 0; i++)
                if (nnrt_file_usable(f, i) && push_index(&idx, &nidx, &cap, i) != 0)
                    r = nnrt_err(e, "%s: out of memory", paths[k]);
            if (r == 0 && nidx == 0)
                r = nnrt_err(e, "%s: holds no numeric arrays to stack", paths[k]);
        } else {
            int only = -1, usable = 0;
            for (int i = 0; i < nnrt_file_count(f); i++)
                if (nnrt_file_usable(f, i)) {
                    usable++;
                    only = i;
                }
            if (usable != 1)
                only = find_usable(f, m->slots[s].name);
            if (only < 0) {
                char list[600];
                nnrt_file_list(f, list, sizeof list);
                r = nnrt_err(e, "%s: holds %s arrays (%s); choose one for '%s' with pick(\"%s\", "
                             "\"KEY\")", paths[k], usable ? "several" : "no numeric", list,
                             m->slots[s].name, sp->path);
            } else if (push_index(&idx, &nidx, &cap, only) != 0) {
                r = nnrt_err(e, "%s: out of memory", paths[k]);
            }
        }
        if (r == 0 && !stacked && nidx > MAX_SIDE) {
            char what[1200];
            nnrt_file_what(f, idx[MAX_SIDE], what, sizeof what);
            r = nnrt_err(e, "%s: pick(...) puts at most %d arrays side by side (stack(pick(...)) "
                         "makes each array one sample)", what, MAX_SIDE);
        }
        if (r == 0)
            r = add_part(P, s, f, idx, nidx, sc, sh, stacked, transposed, e);
        free(idx);
    }
    nnrt_free_paths(paths, np);
    return r;
}

static int is_alias(const char *name, const char *const *aliases)
{
    for (; *aliases; aliases++)
        if (strcmp(name, *aliases) == 0)
            return 1;
    return 0;
}

/* The IDX labels file beside an images file: train-images-idx3-ubyte.gz
 * goes with train-labels-idx1-ubyte.gz. */
static int idx_partner(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    const char *at = strstr(slash ? slash : path, "images-idx3");
    if (!at)
        return 0;
    snprintf(out, len, "%.*slabels-idx1%s", (int)(at - path), path, at + strlen("images-idx3"));
    FILE *f = fopen(out, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* Binds the arrays of file f by name to the slots in want[] (1 = wanted);
 * found[s] gets the part's file and arrays.  Then the fallbacks: a single
 * remaining input takes the one array named data/images/inputs/features/x/X
 * (or the file's only array), a single remaining target the one named
 * labels/label/targets/target/y/Y or marked as labels, and an IDX images
 * file brings its labels file. */
typedef struct Found {
    NnrtFile *f;
    int nidx;
    int idx[MAX_SIDE];
} Found;

static int bind_by_name(Plan *P, NnrtFile *f, const char *want, Found *found, NnrtErr *e)
{
    static const char *const in_alias[] = { "data", "images", "inputs", "features", "x", "X", NULL };
    static const char *const tg_alias[] = { "labels", "label", "targets", "target", "y", "Y", NULL };
    const NnrtModel *m = P->m;
    int n = nnrt_file_count(f);
    char *used = calloc((size_t)n + 1, 1);
    if (!used)
        return nnrt_err(e, "out of memory");
    int left_in = -1, left_tg = -1, nleft_in = 0, nleft_tg = 0;
    for (int s = 0; s < m->nslots; s++) {
        found[s].f = NULL;
        if (!want[s])
            continue;
        const NnrtSlot *sl = &m->slots[s];
        int i = find_usable(f, sl->name);
        if (i >= 0) {
            found[s].f = f;
            found[s].nidx = 1;
            found[s].idx[0] = i;
            used[i] = 1;
        } else if (find_columns(f, sl->name, sl->size, found[s].idx)) {
            found[s].f = f;
            found[s].nidx = (int)sl->size;
            for (int j = 0; j < found[s].nidx; j++)
                used[found[s].idx[j]] = 1;
        } else if (sl->unused) {
            continue;                           /* zeros unless the file names it */
        } else if (sl->kind == NNRT_INPUT) {
            left_in = s;
            nleft_in++;
        } else {
            left_tg = s;
            nleft_tg++;
        }
    }
    if (nleft_in == 1) {
        int cand = -1, nc = 0, nonlabel = -1, nnl = 0;
        for (int i = 0; i < n; i++) {
            if (used[i] || !nnrt_file_usable(f, i))
                continue;
            if (is_alias(nnrt_file_name(f, i), in_alias)) {
                cand = i;
                nc++;
            }
            if (!nnrt_file_labels(f, i) && !is_alias(nnrt_file_name(f, i), tg_alias)) {
                nonlabel = i;
                nnl++;
            }
        }
        if (nc != 1 && nnl == 1)
            cand = nonlabel, nc = 1;
        if (nc == 1) {
            found[left_in].f = f;
            found[left_in].nidx = 1;
            found[left_in].idx[0] = cand;
            used[cand] = 1;
        }
    }
    if (nleft_tg == 1) {
        int cand = -1, nc = 0;
        for (int i = 0; i < n; i++)
            if (!used[i] && nnrt_file_usable(f, i) &&
                (is_alias(nnrt_file_name(f, i), tg_alias) || nnrt_file_labels(f, i))) {
                cand = i;
                nc++;
            }
        char partner[2048];
        if (nc == 1) {
            found[left_tg].f = f;
            found[left_tg].nidx = 1;
            found[left_tg].idx[0] = cand;
        } else if (nc == 0 && strcmp(nnrt_file_format(f), "IDX") == 0 &&
                   idx_partner(nnrt_file_path(f), partner, sizeof partner)) {
            NnrtFile *g;
            if (plan_open(P, partner, &g, e) != 0) {
                free(used);
                return -1;
            }
            if (nnrt_file_count(g) == 1 && nnrt_file_usable(g, 0)) {
                found[left_tg].f = g;
                found[left_tg].nidx = 1;
                found[left_tg].idx[0] = 0;
            }
        }
    }
    free(used);
    return 0;
}

/* A whole-file source (a name, a list, wildcards) bound by name to the
 * slots not bound yet.  Its scale and shift apply to inputs only. */
static int bind_whole(Plan *P, const NnrtSpec *sp, double scale, double shift, char *want,
                      int *first, NnrtErr *e)
{
    const NnrtModel *m = P->m;
    double sc = sp->scale * scale, sh = sp->shift * scale + shift;
    if (sp->kind == NNRT_SPEC_LIST) {
        for (int i = 0; i < sp->n; i++)
            if (bind_whole(P, sp->sub[i], sc, sh, want, first, e) != 0)
                return -1;
        return 0;
    }
    char **paths;
    int np;
    if (nnrt_resolve_glob(sp->path, m->source, &paths, &np, e) != 0)
        return -1;
    Found *found = calloc((size_t)m->nslots + 1, sizeof *found);
    int r = found ? 0 : nnrt_err(e, "out of memory");
    for (int k = 0; k < np && r == 0; k++) {
        NnrtFile *f;
        if ((r = plan_open(P, paths[k], &f, e)) != 0 || (r = bind_by_name(P, f, want, found, e)) != 0)
            break;
        for (int s = 0; s < m->nslots && r == 0; s++) {
            if (!want[s])
                continue;
            if (!found[s].f && (!*first || m->slots[s].unused))
                continue;                   /* a later positional source may have it */
            if (!found[s].f) {
                r = no_array(e, f, paths[k], &m->slots[s]);
                break;
            }
            int is_in = m->slots[s].kind == NNRT_INPUT;
            r = add_part(P, s, found[s].f, found[s].idx, found[s].nidx, is_in ? sc : 1,
                         is_in ? sh : 0, 0, 0, e);
        }
        /* the first file decides which slots this source binds */
        if (r == 0 && !*first) {
            for (int s = 0; s < m->nslots; s++)
                if (want[s] && found[s].f)
                    want[s] = 2;
            for (int s = 0; s < m->nslots; s++)
                if (want[s] == 1)
                    want[s] = 0;
            *first = 1;
        }
    }
    free(found);
    nnrt_free_paths(paths, np);
    return r;
}

/* The values per sample of an array: the product of the dimensions other
 * than the samples' axis, or -1 when it exceeds `limit` (a file may state
 * [0, 2^40, 2^40]: no product is formed that could overflow). */
static int64_t per_sample(const NnrtNpyHeader *h, int transposed, int64_t limit)
{
    int64_t w = 1;
    for (int i = 0; i < h->rank; i++) {
        if (i == (transposed ? h->rank - 1 : 0))
            continue;
        if (h->shape[i] != 0 && w > limit / h->shape[i])
            return -1;
        w *= h->shape[i];
    }
    return w;
}

/* The samples and per-sample size of a part, checked against slot s. */
static int check_part(Plan *P, int s, Part *p, NnrtErr *e)
{
    const NnrtSlot *sl = &P->m->slots[s];
    char what[1200], dims[256], want[160];
    const char *kind = sl->kind == NNRT_INPUT ? "input" : "target";
    int64_t per = 0;
    p->n = p->stacked ? p->nidx : -1;
    slot_shape(sl, want, sizeof want);
    for (int j = 0; j < p->nidx; j++) {
        NnrtNpyHeader h;
        if (nnrt_file_header(p->f, p->idx[j], &h, e) != 0)
            return -1;
        nnrt_file_what(p->f, p->idx[j], what, sizeof what);
        nnrt_format_dims64(dims, sizeof dims, h.rank, h.shape);
        if (p->stacked) {
            /* the whole array is one sample */
            if (h.count != sl->size)
                return nnrt_err(e, "%s has shape %s, the model's %s %s is %s (stack(...) makes "
                                "each array one sample)", what, dims, kind, sl->name, want);
            continue;
        }
        if (h.rank == 0)
            return nnrt_err(e, "%s is a scalar, the model's %s %s is %s per sample (expected "
                            "samples on axis 0%s)", what, kind, sl->name, want,
                            p->nidx > 1 ? "; stack(pick(...)) makes each array one sample" : "");
        if (p->transposed && h.rank != 2)
            return nnrt_err(e, "%s has shape %s; a transpose (') takes the samples of a "
                            "matrix [values, samples]", what, dims);
        int64_t w = per_sample(&h, p->transposed, sl->size), n = h.shape[p->transposed];
        if (p->nidx == 1 && w != sl->size)
            return nnrt_err(e, "%s has shape %s, the model's %s %s is %s%s", what, dims, kind,
                            sl->name, want,
                            !p->transposed && h.rank == 2 && h.shape[0] == sl->size
                                ? " (samples in columns? transpose it: files(x = \"FILE\"'))" : "");
        if (w < 0 || per + w > sl->size)
            return nnrt_err(e, "%s: the %d arrays picked for %s have more than %lld values per "
                            "sample, the model's %s %s is %s", nnrt_file_path(p->f), p->nidx,
                            sl->name, (long long)sl->size, kind, sl->name, want);
        if (p->n >= 0 && n != p->n)
            return nnrt_err(e, "%s has %lld samples, the arrays picked beside it have %lld",
                            what, (long long)n, (long long)p->n);
        p->n = n;
        per += w;
    }
    if (!p->stacked && per != sl->size)
        return nnrt_err(e, "%s: the %d arrays picked for %s have %lld values per sample, the "
                        "model's %s %s is %s", nnrt_file_path(p->f), p->nidx, sl->name,
                        (long long)per, kind, sl->name, want);
    return 0;
}

/* x as text that reads back as x (3.0000001 must not show as 3). */
static void exact_text(double x, char *buf, size_t len)
{
    snprintf(buf, len, "%.9g", x);
    if (strtod(buf, NULL) != x)
        snprintf(buf, len, "%.17g", x);
}

/* Copies array j of a part (a, already read) into the slot's buffer: row i
 * of it is sample i (at dst[i * size + col]), or the array is the one
 * sample dst[0..size) when stacked.  Scale and shift are applied in double
 * and the result checked where it lands: a value that is not finite as
 * nnrt_real (NaN, or 1e300 as float32, also after scaling: * 1e300), or a
 * class label that is no integer in [0, K) before any rounding to float32
 * (3.0000001), is refused with the array and the sample. */
static int store_array(const NnrtSlot *sl, const Part *p, int j, NnrtArray *a, nnrt_real *dst,
                       int64_t col, int64_t row0, int64_t rows, NnrtErr *e)
{
    /* a holds the part's samples row0..row0 + rows (all, or those read by rows) */
    int64_t n = p->stacked ? 1 : rows, w = n ? a->h.count / n : 0;
    dst += row0 * sl->size;
    /* labels in float64, the rest in the trainer's precision (a float64
     * copy of CIFAR-10's 150 M values would need 1.2 GB) */
    double *vd = NULL;
    nnrt_real *vr = NULL;
    int ints = sl->nclass > 0 ? sl->nclass : sl->nindex;   /* > 0: integers below it */
    if (ints > 0 ? nnrt_array_to_f64(a, &vd, e) : nnrt_real_from_array(a, &vr, e))
        return -1;
    int ident = p->scale == 1 && p->shift == 0;
    nnrt_real sc = (nnrt_real)p->scale, sh = (nnrt_real)p->shift;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < w; c++) {
            int64_t k = p->transposed ? c * n + i : i * w + c;
            double x = vd ? vd[k] : (double)vr[k];
            /* values: scaled in nnrt_real as always (the numbers of every
             * run stay what they were); labels: in double */
            double y = ident ? x : vd ? x * p->scale + p->shift
                                      : (double)(vr[k] * sc + sh);
            nnrt_real r = (nnrt_real)y;
            int64_t sample = p->stacked ? j : row0 + i;
            int bad = ints > 0 ? !(y >= 0 && y < ints && y == floor(y)) : !isfinite(r);
            if (bad) {
                char what[1200], xs[40], ys[40], how[80] = "", scaled[200] = "";
                nnrt_file_what(p->f, p->idx[j], what, sizeof what);
                exact_text(x, xs, sizeof xs);
                exact_text(y, ys, sizeof ys);
                if (p->scale != 1)
                    snprintf(how, sizeof how, "* %g", p->scale);
                if (p->shift != 0)
                    snprintf(how + strlen(how), sizeof how - strlen(how), "%s%c %g",
                             how[0] ? " " : "", p->shift < 0 ? '-' : '+', fabs(p->shift));
                if (!ident && isfinite(x))
                    snprintf(scaled, sizeof scaled, ", which scaled (%s) is %s%s", how,
                             vd ? ys : r != r ? "nan" : r < 0 ? "-inf" : "inf",
                             vd ? "" : " as " NNRT_DTYPE_NAME);
                if (sl->nclass > 0)
                    nnrt_err(e, "%s holds %s at sample %lld%s, the model's target %s is class(%d) "
                             "(expected integer labels 0 to %d)", what, xs, (long long)sample,
                             scaled, sl->name, sl->nclass, sl->nclass - 1);
                else if (sl->nindex > 0)
                    nnrt_err(e, "%s holds %s at sample %lld%s, the model's input %s is index(%d) "
                             "(expected integers 0 to %d)", what, xs, (long long)sample,
                             scaled, sl->name, sl->nindex, sl->nindex - 1);
                else if (scaled[0])
                    nnrt_err(e, "%s holds %s at sample %lld%s (the model's %s %s needs finite "
                             "numbers)", what, xs, (long long)sample, scaled,
                             sl->kind == NNRT_INPUT ? "input" : "target", sl->name);
                else
                    nnrt_err(e, "%s holds %s at sample %lld (as " NNRT_DTYPE_NAME "; the model's "
                             "%s %s needs finite numbers)", what, xs, (long long)sample,
                             sl->kind == NNRT_INPUT ? "input" : "target", sl->name);
                free(vd);
                free(vr);
                return -1;
            }
            dst[(p->stacked ? j : i) * sl->size + col + c] = r;
        }
    free(vd);
    free(vr);
    return 0;
}

/* Copies a part's values into dst (the slot's buffer at the part's first
 * sample), applying scale and shift.  Only the part's samples lo..hi are
 * wanted (under MPI, a rank's share of a set it only evaluates): where
 * the format allows (nnrt_file_read_rows) only they are read, and the
 * others stay 0; elsewhere every sample is. */
static int read_part(const NnrtSlot *sl, Part *p, nnrt_real *dst, int64_t lo, int64_t hi,
                     NnrtErr *e)
{
    int64_t col = 0;
    int by_rows = !p->stacked && !p->transposed && (lo > 0 || hi < p->n);
    if (by_rows && lo >= hi)
        return 0;   /* none of this part's samples */
    for (int j = 0; j < p->nidx; j++) {
        NnrtArray a;
        int r = by_rows ? nnrt_file_read_rows(p->f, p->idx[j], lo, hi, &a, e) : 1;
        if (r < 0 || (r > 0 && nnrt_file_read(p->f, p->idx[j], &a, e) != 0))
            return -1;
        int64_t row0 = r == 0 ? lo : 0, rows = r == 0 ? hi - lo : p->n;
        int64_t w = p->stacked ? a.h.count : rows ? a.h.count / rows : 0;
        r = store_array(sl, p, j, &a, dst, p->stacked ? 0 : col, row0, rows, e);
        nnrt_array_free(&a);
        if (r != 0)
            return -1;
        if (!p->stacked)
            col += w;
    }
    return 0;
}

static int load_spec(NnrtData *d, const NnrtModel *m, const NnrtSpec *sp, int share, NnrtErr *e)
{
    Plan P;
    memset(&P, 0, sizeof P);
    P.m = m;
    int ns = m->nslots;
    int r = -1;
    char *want = calloc((size_t)ns + 1, 1);
    P.nparts = calloc((size_t)ns + 1, sizeof *P.nparts);
    P.parts = calloc((size_t)ns + 1, sizeof *P.parts);
    P.bound = calloc((size_t)ns + 1, 1);
    if (!want || !P.nparts || !P.parts || !P.bound) {
        nnrt_err(e, "%s: out of memory", d->name);
        goto done;
    }
    if (ns == 0) {
        nnrt_err(e, "%s: the model has no inputs or targets to load", d->name);
        goto done;
    }
    /* explicit bindings first, then positional sources by name */
    int nargs = sp->kind == NNRT_SPEC_FILES ? sp->n : 1;
    for (int a = 0; a < nargs; a++) {
        const char *slot = sp->kind == NNRT_SPEC_FILES ? sp->bind[a] : NULL;
        if (!slot)
            continue;
        int s = find_slot(m, slot);
        if (s < 0) {
            const char **names = malloc((size_t)ns * sizeof *names);
            char msg[300];
            snprintf(msg, sizeof msg, "files(...): the model has no input or target '%s'", slot);
            for (int i = 0; names && i < ns; i++)
                names[i] = m->slots[i].name;
            if (names)
                nnrt_did_you_mean(msg, sizeof msg, slot, names, ns);
            free(names);
            nnrt_err(e, "%s", msg);
            goto done;
        }
        P.bound[s] = 1;
        if (bind_array(&P, s, sp->sub[a], sp->scale, sp->shift, 0, 0, e) != 0)
            goto done;
    }
    for (int a = 0; a < nargs; a++) {
        const NnrtSpec *sub = sp->kind == NNRT_SPEC_FILES ? sp->sub[a] : sp;
        if (sp->kind == NNRT_SPEC_FILES && sp->bind[a])
            continue;
        int first = 0, any = 0;
        for (int s = 0; s < ns; s++) {
            want[s] = !P.bound[s];
            any |= want[s];
        }
        if (!any)
            break;
        if (bind_whole(&P, sub, sp->kind == NNRT_SPEC_FILES ? sp->scale : 1,
                       sp->kind == NNRT_SPEC_FILES ? sp->shift : 0, want, &first, e) != 0)
            goto done;
        for (int s = 0; s < ns; s++)
            if (want[s])
                P.bound[s] = 1;
    }
    for (int s = 0; s < ns; s++)
        if (!P.bound[s] && !m->slots[s].unused) {
            char desc[200];
            nnrt_describe_slot(&m->slots[s], desc, sizeof desc);
            if (P.nfiles == 1) {
                no_array(e, P.files[0], nnrt_file_path(P.files[0]), &m->slots[s]);
            } else {
                nnrt_err(e, "%s: nothing is bound to the model's %s (bind it: files(%s = "
                         "\"FILE\"))", d->name, desc, m->slots[s].name);
            }
            goto done;
        }
    /* check every part, then the sample counts */
    int64_t n = -1;
    int s0 = -1;
    for (int s = 0; s < ns; s++) {
        int64_t total = 0;
        if (P.nparts[s] == 0)
            continue;                       /* an unused slot the data omits: zeros */
        for (int k = 0; k < P.nparts[s]; k++) {
            if (check_part(&P, s, &P.parts[s][k], e) != 0)
                goto done;
            total += P.parts[s][k].n;
        }
        if (n < 0) {
            n = total;
            s0 = s;
        } else if (total != n) {
            const Part *a = &P.parts[s][0], *b = &P.parts[s0][0];
            char wa[1200], wb[1200];
            if (P.nparts[s] == 1 && P.nparts[s0] == 1 && a->f == b->f) {
                nnrt_err(e, "%s: array '%s' has %lld samples, array '%s' has %lld (expected the "
                         "same number on axis 0)", nnrt_file_path(a->f),
                         nnrt_file_name(a->f, a->idx[0]), (long long)total,
                         nnrt_file_name(b->f, b->idx[0]), (long long)n);
            } else {
                nnrt_file_what(a->f, a->idx[0], wa, sizeof wa);
                nnrt_file_what(b->f, b->idx[0], wb, sizeof wb);
                nnrt_err(e, "%s has %lld samples%s for %s, %s has %lld for %s (expected the same "
                         "number for every input and target)", wa, (long long)total,
                         P.nparts[s] > 1 ? " with the files after it" : "", m->slots[s].name, wb,
                         (long long)n, m->slots[s0].name);
            }
            goto done;
        }
    }
    if (n < 0) {
        nnrt_err(e, "%s: the model has no inputs or targets to load", d->name);
        goto done;
    }
    if (n == 0) {
        nnrt_err(e, "%s: holds no samples (axis 0 of '%s' is 0)", d->name,
                 m->slots[s0].name);
        goto done;
    }
    if (data_alloc(d, m, n, e) != 0)
        goto done;
    int64_t lo = 0, hi = n;
    if (share)
        nnrt_mpi_share(n, &lo, &hi);
    for (int s = 0; s < ns; s++) {
        int64_t off = 0;
        for (int k = 0; k < P.nparts[s]; k++) {
            Part *p = &P.parts[s][k];
            int64_t plo = lo > off ? lo - off : 0, phi = hi - off < p->n ? hi - off : p->n;
            if (read_part(&m->slots[s], p, d->slot[s] + off * m->slots[s].size, plo,
                          phi > plo ? phi : plo, e) != 0)
                goto done;
            off += p->n;
        }
        if (check_labels(d, &m->slots[s], d->slot[s], e) != 0)
            goto done;
    }
    r = 0;
done:
    free(want);
    plan_free(&P);
    return r;
}

/* A file source: a plain name or a spec (docs/trainer.md, "Data"). */
static int load_file(NnrtData *d, const NnrtModel *m, const NnrtSource *src, int share,
                     NnrtErr *e)
{
    NnrtSpec *sp;
    char err[1024];
    if (nnrt_source_spec(src, &sp, err, sizeof err) != 0)
        return nnrt_err(e, "%s: %s", d->name, err);
    int r = load_spec(d, m, sp, share, e);
    nnrt_spec_free(sp);
    return r;
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
            int ints = so->nclass > 0 ? so->nclass : so->nindex;   /* index inputs too */
            for (int64_t i = 0; i < count; i++)
                d->slot[sl][i] = ints > 0 ? (nnrt_real)nnrt_rng_below(&rng, (uint64_t)ints)
                                          : (nnrt_real)nnrt_rng_normal(&rng);
        }
        break;
    }
    return 0;
}

int nnrt_data_load(NnrtData *d, const NnrtModel *m, const NnrtSource *src, NnrtErr *e)
{
    return nnrt_data_load_share(d, m, src, 0, e);
}

int nnrt_data_load_share(NnrtData *d, const NnrtModel *m, const NnrtSource *src, int share,
                         NnrtErr *e)
{
    memset(d, 0, sizeof *d);
    if (src->kind == NNRT_SRC_FILE) {
        if (src->spec[0])
            snprintf(d->name, sizeof d->name, "%s", src->spec);
        else
            nnrt_resolve_input(src->path, m->source, d->name, sizeof d->name);
        if (load_file(d, m, src, share, e) == 0)
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

/* Whether an array's shape is the parameter's, ignoring dimensions of
 * size 1 (a bias saved as [10, 1] or [1, 10] loads into b[10]). */
static int same_shape(const NnrtNpyHeader *h, const NnrtParam *p)
{
    int64_t a[NNRT_NPY_MAXRANK];
    int na = 0, nb = 0, b[NNRT_MAXRANK];
    for (int i = 0; i < h->rank; i++)
        if (h->shape[i] != 1)
            a[na++] = h->shape[i];
    for (int i = 0; i < p->rank; i++)
        if (p->dim[i] != 1)
            b[nb++] = p->dim[i];
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Reads array i of f into parameter p's slice, checking its shape. */
static int param_from(NnrtFile *f, int i, const NnrtParam *p, nnrt_real *dst, NnrtErr *e)
{
    char what[1200], dims[256], want[256];
    NnrtNpyHeader h;
    if (nnrt_file_header(f, i, &h, e) != 0)
        return -1;
    if (!same_shape(&h, p)) {
        nnrt_file_what(f, i, what, sizeof what);
        nnrt_format_dims64(dims, sizeof dims, h.rank, h.shape);
        nnrt_format_dims(want, sizeof want, p->rank, p->dim);
        int transposed = h.rank == 2 && p->rank == 2 && h.shape[0] == p->dim[1] &&
                         h.shape[1] == p->dim[0];
        return nnrt_err(e, "%s has shape %s, the model's parameter %s is %s%s", what, dims,
                        p->name, want, transposed ? " (it is stored transposed: declare the "
                        "parameter with the file's shape and use its transpose, W')" : "");
    }
    NnrtArray a;
    nnrt_real *v;
    if (nnrt_file_read(f, i, &a, e) != 0)
        return -1;
    int r = nnrt_real_from_array(&a, &v, e);
    nnrt_array_free(&a);
    if (r != 0)
        return -1;
    int64_t bad = first_nonfinite(v, p->size);
    if (bad >= 0) {
        nnrt_file_what(f, i, what, sizeof what);
        nnrt_err(e, "%s holds %g at flat index %lld (as " NNRT_DTYPE_NAME "; the parameter %s "
                 "must be finite)", what, (double)v[bad], (long long)bad, p->name);
        free(v);
        return -1;
    }
    memcpy(dst, v, (size_t)p->size * sizeof *dst);
    free(v);
    return 0;
}

/* load("file", "key"): any data format; a pickle's nested arrays by their
 * key path ("layer1/W").  A file holding one array gives that array. */
static int load_into(const NnrtModel *m, const NnrtParam *p, nnrt_real *dst, const char *file,
                     const char *key, NnrtErr *e)
{
    char path[4096], list[600];
    NnrtFile *f;
    nnrt_resolve_input(file, m->source, path, sizeof path);
    if (nnrt_file_open(&f, path, e) != 0)
        return -1;
    int i = nnrt_file_find(f, key);
    if (i < 0 && nnrt_file_count(f) == 1 && nnrt_file_name(f, 0)[0] == '\0')
        i = 0;
    int r;
    if (i < 0) {
        nnrt_file_list(f, list, sizeof list);
        r = nnrt_err(e, "%s: no array '%s' (for parameter %s); arrays present: %s", path, key,
                     p->name, list);
    } else {
        r = param_from(f, i, p, dst, e);
    }
    nnrt_file_close(f);
    return r;
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
        case NNRT_INIT_FILL:
            for (int64_t i = 0; i < p->size; i++)
                w[i] = (nnrt_real)in->a;
            break;
        case NNRT_INIT_LOAD:
            if (load_into(m, p, w, in->file, in->key ? in->key : p->name, e) != 0)
                return -1;
            break;
        }
    }
    return 0;
}

/* --init / --params: a file of arrays named after the parameters, or
 * pick("FILE", "KEY"): those under a key path (a course's nested pickle). */
int nnrt_params_load(const NnrtModel *m, nnrt_real *params, const char *file, NnrtErr *e)
{
    char path[4096], name[1024], err[512], prefix[512];
    if (nnrt_param_source(file, name, sizeof name, prefix, sizeof prefix, err, sizeof err) != 0)
        return nnrt_err(e, "%s: %s", file, err);
    nnrt_resolve_input(name, m->source, path, sizeof path);
    NnrtFile *f;
    if (nnrt_file_open(&f, path, e) != 0)
        return -1;
    int r = 0;
    for (int k = 0; k < m->nparams && r == 0; k++) {
        const NnrtParam *p = &m->params[k];
        char list[600], want[256], key[1100];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "/" : "", p->name);
        int i = find_usable(f, key);
        if (i < 0) {
            nnrt_file_list(f, list, sizeof list);
            nnrt_format_dims(want, sizeof want, p->rank, p->dim);
            r = nnrt_err(e, "%s: no array '%s' (the model's parameter %s%s); arrays present: %s",
                         path, key, p->name, want, list);
            break;
        }
        r = param_from(f, i, p, params + p->offset, e);
    }
    nnrt_file_close(f);
    return r;
}

int nnrt_npz_add_params(NnrtNpzWriter *w, const NnrtModel *m, const char *prefix,
                        const nnrt_real *base, int trainable_only, NnrtErr *e)
{
    char descr[8], name[300];
    nnrt_native_descr(descr, sizeof descr, 'f', (int)sizeof(nnrt_real));
    for (int k = 0; k < m->nparams; k++) {
        const NnrtParam *p = &m->params[k];
        int64_t shape[NNRT_MAXRANK];
        if (trainable_only && p->frozen)
            continue;
        for (int i = 0; i < p->rank; i++)
            shape[i] = p->dim[i];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (nnrt_npz_add(w, name, descr, 0, p->rank, shape, base + p->offset, e) != 0)
            return -1;
    }
    return 0;
}

int nnrt_params_save(const NnrtModel *m, const nnrt_real *params, const char *path,
                     int trainable_only, NnrtErr *e)
{
    NnrtNpzWriter *w;
    if (nnrt_npz_create(&w, path, e) != 0)
        return -1;
    if (nnrt_npz_add_params(w, m, "", params, trainable_only, e) != 0) {
        nnrt_npz_abandon(w);
        return -1;
    }
    return nnrt_npz_finish(w, e);
}
