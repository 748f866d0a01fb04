/*
 * nnrt_plot.c - the plots of a training run that need the trained model:
 * it runs the model's forward pass on points of its own choosing and
 * writes what it predicts beside the run's other files.
 *
 *   decision boundary   a model with one 2-D input and a prediction for a
 *                       target: the prediction on a 200 x 200 grid over the
 *                       box of the training and test inputs, and the points
 *                       themselves, drawn by boundary.gp (common_plot.c)
 *   reconstructions     a model whose prediction has the size of an input
 *                       (an autoencoder): the first test samples (training
 *                       samples without a test set) above their
 *                       reconstructions in one PNG written with libpng, and
 *                       the numbers in reconstructions.npz
 *
 * Slots the forward pass reads but the plot has no values for (the target
 * on a grid point) are zeros: the loss it computes there is never used.
 * The plots are of the model in eval mode: noise and dropout's masks at
 * their means, batch norm by its running statistics.
 */
#include "nnrt_internal.h"

#include <errno.h>
#include <string.h>

#define GRID 200
#define MAX_RECON 16     /* samples shown, unless train --recon-max N|all */
#define RECON_COLS 8

/* Pointers for one forward pass over n <= cap samples: slot `fill` reads
 * `values`, every other slot reads zeros. */
typedef struct Feed {
    const nnrt_real **ptr;
    nnrt_real *zeros;
    nnrt_real *means;   /* the draws' */
} Feed;

static void feed_free(Feed *f)
{
    free(f->ptr);
    free(f->zeros);
    free(f->means);
}

/* The model's draws in eval mode, their means, for cap samples: one
 * allocation, pointed at by ptr[nslots + k] (nnrt.h NnrtDraw); sets the
 * mode of the passes to come.  NULL (and nothing set) when there are none
 * or no memory. */
static nnrt_real *draw_means(const NnrtModel *m, int cap, const nnrt_real **ptr)
{
    nnrt_set_pass_train(0);
    int64_t total = 0;
    for (int k = 0; k < m->ndraws; k++)
        total += m->draws[k].size;
    nnrt_real *x = total ? malloc((size_t)cap * (size_t)total * sizeof *x) : NULL;
    nnrt_real *at = x;
    for (int k = 0; x && k < m->ndraws; k++) {
        const NnrtDraw *d = &m->draws[k];
        for (int64_t i = 0; i < cap * d->size; i++)
            at[i] = (nnrt_real)nnrt_draw_value(d, 0, 0, 0, 0, k, i % d->size);
        ptr[m->nslots + k] = at;
        at += cap * d->size;
    }
    return x;
}

static int feed_init(Feed *f, const NnrtModel *m, int cap)
{
    int64_t big = 1;
    for (int s = 0; s < m->nslots; s++)
        big = m->slots[s].size > big ? m->slots[s].size : big;
    f->ptr = calloc((size_t)(m->nslots + m->ndraws + 1), sizeof *f->ptr);
    f->zeros = calloc((size_t)cap * (size_t)big, sizeof *f->zeros);
    f->means = f->ptr ? draw_means(m, cap, f->ptr) : NULL;
    if (!f->ptr || !f->zeros || (m->ndraws && !f->means)) {
        feed_free(f);
        return -1;
    }
    for (int s = 0; s < m->nslots; s++)
        f->ptr[s] = f->zeros;
    return 0;
}

/* The one input that is a point of the plane, or -1. */
static int plane_input(const NnrtModel *m)
{
    int in = -1;
    for (int s = 0; s < m->nslots; s++) {
        const NnrtSlot *sl = &m->slots[s];
        if (sl->kind != NNRT_INPUT || sl->unused)
            continue;
        if (in >= 0 || sl->size != 2)
            return -1;
        in = s;
    }
    return in;
}

/* The target of a sample as drawn: a class index, 0/1, or a value. */
static double point_label(const NnrtModel *m, const NnrtData *d, int64_t i)
{
    const NnrtSlot *t = &m->slots[m->out_slot];
    const nnrt_real *v = d->slot[m->out_slot] + i * t->size;
    if (m->out_value)
        return (double)v[0];
    if (t->nclass > 0)
        return (double)v[0];
    if (t->size == 1)
        return v[0] > (nnrt_real)0.5;
    int64_t best = 0;
    for (int64_t k = 1; k < t->size; k++)
        best = v[k] > v[best] ? k : best;
    return (double)best;
}

static int write_points(const char *path, const NnrtModel *m, const NnrtData *d, int in)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# %s[0] %s[1] %s\n", m->slots[in].name, m->slots[in].name,
            m->slots[m->out_slot].name);
    for (int64_t i = 0; i < d->n; i++) {
        const nnrt_real *x = d->slot[in] + 2 * i;
        fprintf(f, "%.7g %.7g %.7g\n", (double)x[0], (double)x[1], point_label(m, d, i));
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

static void widen_box(const NnrtData *d, int in, double box[4])
{
    for (int64_t i = 0; d && i < d->n; i++)
        for (int k = 0; k < 2; k++) {
            double v = (double)d->slot[in][2 * i + k];
            if (!isfinite(v))
                continue;
            box[2 * k] = v < box[2 * k] ? v : box[2 * k];
            box[2 * k + 1] = v > box[2 * k + 1] ? v : box[2 * k + 1];
        }
}

/* The grid's value from the prediction p of one point. */
static double grid_value(const NnrtModel *m, const nnrt_real *p)
{
    if (m->out_value)
        return (double)p[0];
    if (m->out_size == 1)
        return 1 / (1 + exp(-(double)p[0]));
    int64_t best = 0;
    for (int64_t k = 1; k < m->out_size; k++)
        best = p[k] > p[best] ? k : best;
    return (double)best;
}

static int boundary(const NnrtPlotRun *pr, int in)
{
    const NnrtModel *m = pr->m;
    const NnrtSlot *t = &m->slots[m->out_slot];
    NnrtBoundaryPlot b = {0};
    b.model = m->name;
    b.input = m->slots[in].name;
    b.output = t->name;
    b.grid = GRID;
    b.has_test = pr->test && pr->test->n > 0;
    if (m->out_value) {
        if (m->out_size != 1)
            return -1;
        b.kind = NNRT_BOUNDARY_VALUE;
    } else if (m->out_size == 1) {
        b.kind = NNRT_BOUNDARY_BINARY;
    } else {
        b.kind = NNRT_BOUNDARY_CLASSES;
        b.nclass = (int)m->out_size;
    }
    double box[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    widen_box(pr->train, in, box);
    widen_box(b.has_test ? pr->test : NULL, in, box);
    if (!(box[0] <= box[1] && box[2] <= box[3]))
        return -1;
    for (int k = 0; k < 2; k++) {
        double pad = 0.05 * (box[2 * k + 1] - box[2 * k]);
        if (pad <= 0)
            pad = 0.5;
        box[2 * k] -= pad;
        box[2 * k + 1] += pad;
    }
    b.x0 = box[0], b.x1 = box[1], b.y0 = box[2], b.y1 = box[3];

    char path[1200];
    snprintf(path, sizeof path, "%s/boundary_grid.dat", pr->dir);
    FILE *f = fopen(path, "w");
    Feed fd;
    nnrt_real *xy = malloc((size_t)pr->cap * 2 * sizeof *xy);
    nnrt_real *loss = malloc((size_t)pr->cap * sizeof *loss);   /* computed, never read */
    if (!f || !xy || !loss || feed_init(&fd, m, pr->cap) != 0) {
        if (f)
            fclose(f);
        free(xy);
        free(loss);
        return -1;
    }
    fd.ptr[in] = xy;
    fprintf(f, "# %s[0] %s[1] %s, rows of constant %s[1] separated by blank lines\n", b.input,
            b.input, b.kind == NNRT_BOUNDARY_BINARY ? "P(1)" : b.kind == NNRT_BOUNDARY_CLASSES
            ? "class" : "output", b.input);
    /* the grid row by row (constant y), each row in chunks of cap points */
    for (int j = 0; j < GRID; j++) {
        double y = b.y0 + (b.y1 - b.y0) * j / (GRID - 1);
        for (int i0 = 0; i0 < GRID; i0 += pr->cap) {
            int nb = GRID - i0 < pr->cap ? GRID - i0 : pr->cap;
            for (int i = 0; i < nb; i++) {
                xy[2 * i] = (nnrt_real)(b.x0 + (b.x1 - b.x0) * (i0 + i) / (GRID - 1));
                xy[2 * i + 1] = (nnrt_real)y;
            }
            m->forward(pr->work, pr->params, nb, fd.ptr, loss);
            const nnrt_real *out = m->output(pr->work);
            for (int i = 0; i < nb; i++)
                fprintf(f, "%.7g %.7g %.7g\n", (double)xy[2 * i], y,
                        grid_value(m, out + (int64_t)i * m->out_size));
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    feed_free(&fd);
    free(xy);
    free(loss);
    snprintf(path, sizeof path, "%s/boundary_train.dat", pr->dir);
    bad |= write_points(path, m, pr->train, in) != 0;
    if (b.has_test) {
        snprintf(path, sizeof path, "%s/boundary_test.dat", pr->dir);
        bad |= write_points(path, m, pr->test, in) != 0;
    }
    return bad ? -1 : nnrt_plot_boundary_script(pr->dir, &b);
}

/* ---- reconstructions ---- */

/* The input an output of this size reconstructs, or -1. */
static int recon_input(const NnrtModel *m)
{
    if (!m->out_value || m->out_size < 2)
        return -1;
    if (m->slots[m->out_slot].kind == NNRT_INPUT)
        return m->out_slot;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].kind == NNRT_INPUT && !m->slots[s].unused && m->slots[s].size == m->out_size)
            return s;
    return -1;
}

/* How a sample of slot s looks as an image: H x W pixels of C channels,
 * channel-major (CHW) or not.  A vector of n = k*k values is a k x k grey
 * image (MNIST's 784), one of 3*k*k a k x k colour image in CIFAR-10's
 * channel-major order, any other a 1 x n strip. */
typedef struct Shape {
    int h, w, c, chw;
} Shape;

static Shape image_shape(const NnrtSlot *s)
{
    Shape g = {1, (int)s->size, 1, 0};
    if (s->rank == 3 && (s->dim[0] == 1 || s->dim[0] == 3))
        g = (Shape){s->dim[1], s->dim[2], s->dim[0], 1};
    else if (s->rank == 3 && (s->dim[2] == 1 || s->dim[2] == 3))
        g = (Shape){s->dim[0], s->dim[1], s->dim[2], 0};
    else if (s->rank == 2)
        g = (Shape){s->dim[0], s->dim[1], 1, 0};
    else {
        int k = (int)lround(sqrt((double)s->size)), k3 = (int)lround(sqrt((double)s->size / 3));
        if ((int64_t)k * k == s->size)
            g = (Shape){k, k, 1, 0};
        else if ((int64_t)3 * k3 * k3 == s->size)
            g = (Shape){k3, k3, 3, 1};
    }
    return g;
}

static unsigned char to_byte(double v, double lo, double hi)
{
    double t = (v - lo) / (hi - lo);
    t = isfinite(t) ? (t < 0 ? 0 : t > 1 ? 1 : t) : 0;
    return (unsigned char)lround(255 * t);
}

/* Draws sample `img` (size values) with its top-left corner at (x0, y0). */
static void blit(unsigned char *px, int W, Shape g, int sx, int sy, int x0, int y0,
                 const nnrt_real *img, double lo, double hi)
{
    for (int y = 0; y < g.h * sy; y++)
        for (int x = 0; x < g.w * sx; x++) {
            unsigned char *dst = px + 3 * ((size_t)(y0 + y) * (size_t)W + (size_t)(x0 + x));
            for (int ch = 0; ch < 3; ch++) {
                int c = g.c == 3 ? ch : 0;
                int64_t at = g.chw ? ((int64_t)c * g.h + y / sy) * g.w + x / sx
                                   : ((int64_t)(y / sy) * g.w + x / sx) * g.c + c;
                dst[ch] = to_byte((double)img[at], lo, hi);
            }
        }
}

/* Returns 0 when reconstructions_figure.gp was written too. */
static int reconstructions(const NnrtPlotRun *pr, int in)
{
    const NnrtModel *m = pr->m;
    const NnrtData *d = pr->test && pr->test->n > 0 ? pr->test : pr->train;
    const NnrtSlot *s = &m->slots[in];
    int64_t max = pr->recon_max > 0 ? pr->recon_max : pr->recon_max < 0 ? d->n : MAX_RECON;
    int n = (int)(d->n < max ? d->n : max);
    if (n < 1)
        return -1;
    const nnrt_real **ptr = calloc((size_t)(m->nslots + m->ndraws + 1), sizeof *ptr);
    nnrt_real *loss = malloc((size_t)n * sizeof *loss);
    nnrt_real *out = malloc((size_t)n * (size_t)s->size * sizeof *out);
    nnrt_real *means = ptr ? draw_means(m, pr->cap, ptr) : NULL;
    if (!ptr || !loss || !out || (m->ndraws && !means)) {
        free(means);
        free(ptr);
        free(loss);
        free(out);
        return -1;
    }
    for (int i0 = 0; i0 < n; i0 += pr->cap) {   /* the workspace holds cap samples */
        int nb = n - i0 < pr->cap ? n - i0 : pr->cap;
        for (int k = 0; k < m->nslots; k++)
            ptr[k] = d->slot[k] + (int64_t)i0 * m->slots[k].size;
        m->forward(pr->work, pr->params, nb, ptr, loss);
        memcpy(out + (int64_t)i0 * s->size, m->output(pr->work),
               (size_t)nb * (size_t)s->size * sizeof *out);
    }
    const nnrt_real *x = d->slot[in];

    /* one grey scale for inputs and outputs: [0, 1] or [0, 255] when the
     * inputs lie there, else the inputs' range */
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < (int64_t)n * s->size; i++)
        if (isfinite((double)x[i])) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
    if (lo >= 0 && hi <= 1)
        lo = 0, hi = 1;
    else if (lo >= 0 && hi <= 255 && hi > 1)
        lo = 0, hi = 255;
    else if (!(hi > lo))
        lo -= 0.5, hi += 0.5;

    Shape g = image_shape(s);
    int big = g.h > g.w ? g.h : g.w;
    int sx = big >= 96 ? 1 : 96 / big, sy = sx;
    if (g.h == 1)
        sy = 24;
    int gap = 4, cols = n < RECON_COLS ? n : RECON_COLS, groups = (n + cols - 1) / cols;
    int cw = g.w * sx, ch = g.h * sy;
    int W = gap + cols * (cw + gap), H = gap + groups * (2 * ch + 3 * gap);
    unsigned char *px = malloc((size_t)W * (size_t)H * 3);
    int rc = -1;
    if (px) {
        memset(px, 96, (size_t)W * (size_t)H * 3);   /* grey frame between the images */
        for (int i = 0; i < n; i++) {
            int x0 = gap + (i % cols) * (cw + gap), y0 = gap + (i / cols) * (2 * ch + 3 * gap);
            blit(px, W, g, sx, sy, x0, y0, x + (int64_t)i * s->size, lo, hi);
            blit(px, W, g, sx, sy, x0, y0 + ch + gap, out + (int64_t)i * s->size, lo, hi);
        }
        char path[1200];
        NnrtErr e;
        snprintf(path, sizeof path, "%s/reconstructions.png", pr->dir);
        rc = nnrt_png_write(path, W, H, 3, px, &e);
        if (rc != 0)
            fprintf(stderr, "warning: %s\n", e.msg);
        else {
            NnrtReconPlot rp = { m->name, d == pr->test ? "test" : "training", n, W, H, groups,
                                 ch, gap };
            rc = nnrt_plot_recon_script(pr->dir, &rp);
        }
        /* the numbers, for other tools: input and output as [n, shape] */
        NnrtNpzWriter *w;
        int64_t shape[NNRT_MAXRANK + 1] = {n};
        for (int k = 0; k < s->rank; k++)
            shape[k + 1] = s->dim[k];
        char descr[8];
        nnrt_native_descr(descr, sizeof descr, 'f', (int)sizeof(nnrt_real));
        snprintf(path, sizeof path, "%s/reconstructions.npz", pr->dir);
        if (nnrt_npz_create(&w, path, &e) == 0) {
            if (nnrt_npz_add(w, "input", descr, 0, s->rank + 1, shape, x, &e) != 0
                || nnrt_npz_add(w, "output", descr, 0, s->rank + 1, shape, out, &e) != 0)
                nnrt_npz_abandon(w);
            else
                nnrt_npz_finish(w, &e);
        }
    }
    free(px);
    free(means);
    free(ptr);
    free(loss);
    free(out);
    return rc;
}

int nnrt_plot_run(const NnrtPlotRun *pr)
{
    const NnrtModel *m = pr->m;
    const char *scripts[3];
    int n = 0, recon = 0;
    NnrtCurvesPlot cp = { pr->dir, m->name, pr->cfg->reduce_sum, pr->train ? pr->train->n : 0,
                          pr->test ? pr->test->n : 0, pr->cfg->batch };
    if (nnrt_plot_curves(&cp) == 0)
        scripts[n++] = "curves";
    if (pr->params && pr->work && m->output && m->out_slot >= 0 && m->out_slot < m->nslots) {
        int in = plane_input(m);
        if (in >= 0 && in != m->out_slot && boundary(pr, in) == 0)
            scripts[n++] = "boundary";
        in = recon_input(m);
        if (in >= 0 && reconstructions(pr, in) == 0) {
            scripts[n++] = "reconstructions_figure";
            recon = 1;
        }
    }
    int drawn = nnrt_gnuplot(pr->dir, scripts, n, pr->quiet) == 0;
    if (!pr->quiet && (n > 0 || recon)) {
        fprintf(stderr, "plots in %s:", pr->dir);
        for (int i = 0; i < n; i++)
            fprintf(stderr, " %s.gp%s", scripts[i], drawn ? " (.png .pdf)" : "");
        fprintf(stderr, "%s\n", recon ? " reconstructions.png" : "");
    }
    return 0;
}
