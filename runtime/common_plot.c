/*
 * common_plot.c - the run directory's plots: gnuplot scripts, the gnuplot
 * run that renders them, and PNG images written with libpng.
 *
 * Every plot is a gnuplot script (NAME.gp) beside the data files it reads,
 * in the run directory, so a user can restyle it for a report and run
 * `gnuplot NAME.gp` there again.  Each script draws NAME.png (pngcairo,
 * or gnuplot's libgd `png` terminal when cairo is missing) and NAME.pdf
 * (pdfcairo, when present).  Without gnuplot the scripts and data are
 * still written and one note says how to get the pictures.
 *
 *   curves.gp    metrics.csv (and steps.csv): loss and test_loss over the
 *                updates (the epochs with full batches), each update's
 *                batch loss, and the accuracy columns in a second panel
 *   boundary.gp  boundary_grid.dat, boundary_train.dat, boundary_test.dat:
 *                the model's prediction over the plane of a 2-D input
 *                (written by nnrt_plot.c, which runs the model)
 *   reconstructions_figure.gp   reconstructions.png with a title
 *
 * Images whose pixels are the data (an autoencoder's reconstructions) do
 * not need gnuplot: nnrt_png_write encodes them directly with libpng.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "nnrt_internal.h"

/* ---- CSV files as columns of numbers (nnrt_internal.h) ---- */

void nnrt_table_free(NnrtTable *t)
{
    for (int c = 0; c < t->ncol; c++)
        free(t->col[c]);
}

int nnrt_table_read(const char *path, NnrtTable *t)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    memset(t, 0, sizeof *t);
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    for (char *tok = strtok(line, ",\r\n"); tok && t->ncol < NNRT_TABLE_MAXCOL; tok = strtok(NULL, ",\r\n"))
        snprintf(t->names[t->ncol++], sizeof t->names[0], "%s", tok);
    while (fgets(line, sizeof line, f)) {
        if (t->nrow == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 256;
            for (int c = 0; c < t->ncol; c++)
                t->col[c] = realloc(t->col[c], (size_t)t->cap * sizeof(double));
        }
        char *s = line;
        for (int c = 0; c < t->ncol; c++) {
            char *end;
            t->col[c][t->nrow] = strtod(s, &end);
            s = *end == ',' ? end + 1 : end;
        }
        t->nrow++;
    }
    fclose(f);
    return 0;
}

int nnrt_table_column(const NnrtTable *t, const char *name)
{
    for (int c = 0; c < t->ncol; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

/* ---- pieces every script shares ---- */

static FILE *open_script(const char *dir, const char *name, const char *what)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.gp", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "# %s.gp - %s.\n", name, what);
    fprintf(f, "# Written by the nnc trainer; restyle freely, then run `gnuplot %s.gp` in this\n"
               "# directory to redraw %s.png and %s.pdf.\n\n", name, name, name);
    /* pngcairo and pdfcairo where gnuplot has cairo (Debian's gnuplot-nox
     * does), gnuplot's own libgd png terminal otherwise. */
    fprintf(f, "cairo = strstrt(GPVAL_TERMINALS, \" pngcairo \") > 0\n"
               "pdf = strstrt(GPVAL_TERMINALS, \" pdfcairo \") > 0\n"
               "set grid lc rgb '#e0e0e0'\n"
               "set border lc rgb '#404040'\n");
    return f;
}

/* The loop that draws the same figure as PNG and PDF; the caller writes
 * the figure between this and end_formats().  The PNG is w x h pixels with
 * 11-point text, for the screen; the PDF is w / 144 inches wide with
 * 12-point text, so that scaled to a report's column (3.4 in) a figure of
 * 700 pixels keeps its text at 8 points (a two-panel one at the text's
 * width, 7 in, too).  The sweep's figures use the same (sweep.c). */
void nnrt_plot_formats(FILE *f, const char *name, int w, int h)
{
    fprintf(f, "\ndo for [fmt in \"png pdf\"] {\n"
               "    if (fmt eq \"pdf\" && !pdf) { break }\n"
               "    if (fmt eq \"png\" && cairo) { set terminal pngcairo noenhanced size %d,%d font \"sans,11\" }\n"
               "    if (fmt eq \"png\" && !cairo) { set terminal png noenhanced size %d,%d }\n"
               "    if (fmt eq \"pdf\") { set terminal pdfcairo noenhanced size %.2fin,%.2fin font \"sans,12\" }\n"
               "    set output \"%s.\".fmt\n",
            w, h, w, h, w / 144.0, h / 144.0, name);
}

static void end_formats(FILE *f)
{
    fprintf(f, "    set output\n}\n");
}

/* gnuplot titles are double-quoted strings: keep quotes and backslashes out */
static void title_text(char *out, size_t len, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < len; s++)
        out[k++] = (*s == '"' || *s == '\\') ? '\'' : *s;
    out[k] = '\0';
}

/* ---- learning curves ---- */

static const char *const line_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                          "#9467bd", "#8c564b"};

/* The values of plotted columns: all finite ones, and the positive ones
 * (for a log scale). */
typedef struct Range {
    double min, max, pos_min, pos_max;
} Range;

#define RANGE_EMPTY {INFINITY, -INFINITY, INFINITY, 0}

/* Widens r by column c of t scaled by 1/div. */
static void widen(Range *r, const NnrtTable *t, int c, double div)
{
    for (int i = 0; c >= 0 && i < t->nrow; i++) {
        double v = t->col[c][i] / div;
        if (!isfinite(v))
            continue;
        r->min = v < r->min ? v : r->min;
        r->max = v > r->max ? v : r->max;
        if (v > 0) {
            r->pos_min = v < r->pos_min ? v : r->pos_min;
            r->pos_max = v > r->pos_max ? v : r->pos_max;
        }
    }
}

/* A tic step of 1, 2 or 5 times a power of ten giving at most n intervals
 * over [lo, hi]: gnuplot's own choice counts on the range alone, and its
 * labels run together where the text is large for the figure (a PDF at a
 * report's column width).  0 when the range is empty. */
double nnrt_plot_tic_step(double lo, double hi, int n)
{
    static const double mult[] = {1, 2, 5, 10};
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span) || n < 1)
        return 0;
    double p = pow(10, floor(log10(span / n)));
    for (int k = 0; k < 3; k++)
        if (span / (mult[k] * p) <= n)
            return mult[k] * p;
    return mult[3] * p;
}

/* curves.gp: the loss panel and, with accuracy, an accuracy panel.  With
 * mini-batches the x axis counts updates and the loss of every update's
 * batch (steps.csv) is drawn under the epochs' evaluations (metrics.csv,
 * whose `step` column places them), so a run of one or two epochs still
 * shows its curve; the epochs are marked on the top axis.  With reduce =
 * sum the training set's, the test set's and a batch's objectives are sums
 * over different numbers of samples (3.6e6 against 3.2e3): each is divided
 * by its count, and the axis says so.  The keys go under the panels, off
 * the curves. */
int nnrt_plot_curves(const NnrtCurvesPlot *c)
{
    char path[1200], name[200];
    NnrtTable t, st;
    snprintf(path, sizeof path, "%s/metrics.csv", c->dir);
    if (nnrt_table_read(path, &t) != 0 || t.nrow == 0 || nnrt_table_column(&t, "epoch") < 0) {
        nnrt_table_free(&t);
        return -1;
    }
    snprintf(path, sizeof path, "%s/steps.csv", c->dir);
    int steps = c->batch > 0 && nnrt_table_read(path, &st) == 0 && st.nrow > 0 &&
                nnrt_table_column(&st, "batch_loss") >= 0 && nnrt_table_column(&t, "step") >= 0;
    if (!steps && c->batch > 0)
        nnrt_table_free(&st);
    int per_sample = c->reduce_sum && c->n_train > 0;
    int64_t B = c->batch > 0 && c->batch < c->n_train ? c->batch : c->n_train;
    int64_t nb = B > 0 ? (c->n_train + B - 1) / B : 1;
    double ntr = per_sample ? (double)c->n_train : 1;
    double nte = per_sample && c->n_test > 0 ? (double)c->n_test : 1;
    int has_test = nnrt_table_column(&t, "test_loss") >= 0, has_pen = nnrt_table_column(&t, "penalty") >= 0;
    int nacc = (nnrt_table_column(&t, "accuracy") >= 0) + (nnrt_table_column(&t, "test_accuracy") >= 0);
    const char *x = steps ? "step" : "epoch";

    /* log scale when the positive losses span more than a decade */
    Range r = RANGE_EMPTY, xr = RANGE_EMPTY;
    widen(&r, &t, nnrt_table_column(&t, "loss"), ntr);
    widen(&r, &t, nnrt_table_column(&t, "test_loss"), nte);
    if (steps)
        widen(&r, &st, nnrt_table_column(&st, "batch_loss"), per_sample ? (double)B : 1);
    widen(&xr, &t, nnrt_table_column(&t, x), 1);
    int logy = r.pos_min > 0 && r.pos_max / r.pos_min > 10;

    FILE *f = open_script(c->dir, "curves", "learning curves (loss and metrics over training)");
    if (!f) {
        nnrt_table_free(&t);
        if (steps)
            nnrt_table_free(&st);
        return -1;
    }
    title_text(name, sizeof name, c->model);
    fprintf(f, "set datafile separator ','\n"
               "set datafile columnheaders\n"
               "set xlabel \"%s\"\n"
               "set key below horizontal\n", steps ? "update (epochs on the top axis)" : "epoch");
    double xstep = nnrt_plot_tic_step(0, xr.max, 6), ystep = nnrt_plot_tic_step(r.min, r.max, 6);
    if (xstep > 0)
        fprintf(f, "set xtics %g\n", xstep < 1 ? 1 : xstep);
    if (per_sample)
        fprintf(f, "# reduce = sum: each objective divided by its number of samples\n"
                   "n_train = %lld\nn_test = %lld\nbatch = %lld\n"
                   "batches = %lld   # per epoch; the last one has the rest\n"
                   "bsize(step) = int(step - 1) %% batches == batches - 1 ? "
                   "n_train - (batches - 1) * batch : batch\n",
                (long long)c->n_train, (long long)(c->n_test > 0 ? c->n_test : 1),
                (long long)B, (long long)nb);
    if (steps) {
        /* the epochs on the top axis: at most 6 labels */
        int every = (t.nrow - 1 + 5) / 6 > 1 ? (t.nrow - 1 + 5) / 6 : 1;
        int sc = nnrt_table_column(&t, "step"), ec = nnrt_table_column(&t, "epoch");
        fprintf(f, "set x2tics (");
        for (int i = 0, k = 0; i < t.nrow; i++)
            if ((long long)t.col[ec][i] % every == 0)
                fprintf(f, "%s\"%lld\" %lld", k++ ? ", " : "", (long long)t.col[ec][i],
                        (long long)t.col[sc][i]);
        fprintf(f, ") out nomirror\nset xtics nomirror\nset link x2 via x inverse x\n");
    }
    const char *ylabel = per_sample ? "objective / samples" : has_pen ? "loss (mean + penalty)"
                                                                      : "loss (mean over samples)";
    nnrt_plot_formats(f, "curves", nacc ? 1100 : 700, 560);
    if (nacc)
        fprintf(f, "    set multiplot layout 1,2 title \"%s: learning curves%s%s\" font \",13\"\n",
                name, per_sample ? ", loss per sample" : "", logy ? " (log scale)" : "");
    if (nacc && steps)
        fprintf(f, "    set tmargin 5   # the title above the epochs' axis\n");
    else
        fprintf(f, "    set title \"%s: %s%s\" font \",13\"\n", name,
                per_sample ? "loss per sample" : "loss", logy ? " (log scale)" : "");
    fprintf(f, "    set ylabel \"%s\"\n    %s\n", ylabel,
            logy ? "set logscale y" : "unset logscale y");
    if (has_pen && !per_sample) {
        Range pr = RANGE_EMPTY;
        widen(&pr, &t, nnrt_table_column(&t, "penalty"), 1);
        double step = nnrt_plot_tic_step(pr.min < 0 ? pr.min : 0, pr.max, 4);
        fprintf(f, "    set y2tics %g\n    set ytics nomirror\n    set y2label \"penalty\"\n",
                step > 0 ? step : 1);
    }
    if (!logy && ystep > 0)
        fprintf(f, "    set ytics %g\n", ystep);
    const char *pts = t.nrow <= 40 ? "linespoints pt 7 ps 0.6" : "lines";
    fprintf(f, "    plot ");
    if (steps)
        fprintf(f, "'steps.csv' using \"step\":(column(\"batch_loss\")%s) with lines "
                   "lc rgb '#9ecae1' lw 1 title \"each update's batch\", \\\n         ",
                per_sample ? " / bsize(column(\"step\"))" : "");
    fprintf(f, "'metrics.csv' using \"%s\":(column(\"loss\")%s) with %s lc rgb '%s' lw 2 "
               "title \"training set\"", x, per_sample ? " / n_train" : "", pts, line_colors[0]);
    if (has_test)
        fprintf(f, ", \\\n         'metrics.csv' using \"%s\":(column(\"test_loss\")%s) with %s "
                   "lc rgb '%s' lw 2 title \"test set\"", x, per_sample ? " / n_test" : "", pts,
                line_colors[1]);
    if (has_pen && !per_sample)
        fprintf(f, ", \\\n         'metrics.csv' using \"%s\":\"penalty\" axes x1y2 with lines "
                   "dt 2 lc rgb '#606060' lw 2 title \"penalty (right axis; in each loss)\"", x);
    fprintf(f, "\n");
    if (nacc) {
        fprintf(f, "    set yrange [*:1]\n    set ytics auto mirror\n    set ylabel \"accuracy\"\n"
                   "    unset y2tics\n    unset y2label\n    unset logscale y\n    plot ");
        static const char *const accs[] = {"accuracy", "test_accuracy"};
        for (int k = 0, first = 1; k < 2; k++) {
            if (nnrt_table_column(&t, accs[k]) < 0)
                continue;
            fprintf(f, "%s'metrics.csv' using \"%s\":\"%s\" with %s lc rgb '%s' lw 2 "
                       "title \"%s\"", first ? "" : ", \\\n         ", x, accs[k], pts,
                    line_colors[k], k ? "test set" : "training set");
            first = 0;
        }
        fprintf(f, "\n    set yrange [*:*]\n    unset multiplot\n");
    }
    end_formats(f);
    int bad = ferror(f);
    nnrt_table_free(&t);
    if (steps)
        nnrt_table_free(&st);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- decision boundary / output surface of a 2-D input ---- */

/* Pastel backgrounds and saturated points, one pair per class. */
static const char *const class_bg[] = {"#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb",
                                       "#fcbba1", "#d9d9d9", "#f2d0e4", "#e5d8bd",
                                       "#ccebc5", "#ffffb3"};
static const char *const class_fg[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                       "#d62728", "#7f7f7f", "#e377c2", "#8c564b",
                                       "#17becf", "#bcbd22"};
#define NCOLORS 10

int nnrt_plot_boundary_script(const char *dir, const NnrtBoundaryPlot *b)
{
    char model[200], in[64], out[64];
    title_text(model, sizeof model, b->model);
    title_text(in, sizeof in, b->input);
    title_text(out, sizeof out, b->output);
    const char *what = b->kind == NNRT_BOUNDARY_VALUE ? "the model's output over the input plane"
                                                      : "the decision boundary over the input plane";
    FILE *f = open_script(dir, "boundary", what);
    if (!f)
        return -1;
    fprintf(f, "# boundary_grid.dat: x1 x2 z on a %d x %d grid, z = %s;\n"
               "# boundary_train.dat, boundary_test.dat: x1 x2 and the sample's target.\n",
            b->grid, b->grid,
            b->kind == NNRT_BOUNDARY_BINARY ? "P(class 1) = sigmoid(logit)"
            : b->kind == NNRT_BOUNDARY_CLASSES ? "the predicted class (argmax of the logits)"
                                               : "the model's output");
    fprintf(f, "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\n", b->x0, b->x1, b->y0, b->y1);
    fprintf(f, "set xlabel \"%s[0]\"\nset ylabel \"%s[1]\"\nset size ratio -1\n", in, in);
    /* one key for both panels, under them */
    fprintf(f, "set key at screen 0.5, screen 0.01 center bottom horizontal box opaque\n"
               "set bmargin 5\n");
    if (b->kind == NNRT_BOUNDARY_BINARY) {
        fprintf(f, "set palette defined (0 '%s', 0.5 '#ffffff', 1 '%s')\n"
                   "set cbrange [0:1]\nset cblabel \"P(%s = 1)\"\n",
                class_bg[0], class_bg[1], out);
        /* the 0.5 level as a line, traced once by gnuplot's contour code */
        fprintf(f, "set contour base\nset cntrparam levels discrete 0.5\nunset surface\n"
                   "set view map\nset table $boundary\n"
                   "splot 'boundary_grid.dat' using 1:2:3 with lines notitle\n"
                   "unset table\nunset contour\nset surface\n");
    } else if (b->kind == NNRT_BOUNDARY_CLASSES) {
        fprintf(f, "set palette defined (");
        for (int k = 0; k < b->nclass; k++)
            fprintf(f, "%s%d '%s'", k ? ", " : "", k, class_bg[k % NCOLORS]);
        fprintf(f, ")\nset palette maxcolors %d\nset cbrange [-0.5:%d.5]\n"
                   "set cbtics 1\nset cblabel \"predicted %s\"\n",
                b->nclass, b->nclass - 1, out);
    } else {
        /* viridis (gnuplot 5.4 has no name for it) */
        fprintf(f, "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
                   "0.75 '#5ec962', 1 '#fde725')\nset cblabel \"%s\"\n", out);
    }
    for (int k = 0; k < NCOLORS; k++)
        fprintf(f, "set linetype %d lc rgb '%s'\n", k + 1, class_fg[k]);
    int panels = b->has_test ? 2 : 1;
    nnrt_plot_formats(f, "boundary", panels == 2 ? 1150 : 640, 600);
    if (panels == 2)
        fprintf(f, "    set multiplot layout 1,2 title \"%s: %s\" font \",13\"\n", model,
                b->kind == NNRT_BOUNDARY_VALUE ? "output" : "decision boundary");
    for (int p = 0; p < panels; p++) {
        const char *file = p ? "boundary_test.dat" : "boundary_train.dat";
        const char *set = p ? "test set" : "training set";
        if (panels == 2)
            fprintf(f, "    set title \"%s\"\n", set);
        else
            fprintf(f, "    set title \"%s: %s, %s\" font \",13\"\n", model,
                    b->kind == NNRT_BOUNDARY_VALUE ? "output" : "decision boundary", set);
        fprintf(f, "    plot 'boundary_grid.dat' using 1:2:3 with image notitle");
        if (b->kind == NNRT_BOUNDARY_BINARY)
            fprintf(f, ", \\\n         $boundary with lines lc rgb 'black' lw 2 "
                       "title \"P = 0.5\"");
        if (b->kind == NNRT_BOUNDARY_VALUE) {
            /* on a white disc: a point coloured like the surface under it
             * (a good fit) must still stand out from it */
            fprintf(f, ", \\\n         '%s' using 1:2 with points pt 7 ps 1.1 lc rgb 'white' "
                       "notitle, \\\n         '' using 1:2:3 with points pt 7 ps 0.7 "
                       "lc palette title \"%s points (colour: target %s)\"",
                    file, p ? "test" : "training", out);
        } else {
            int K = b->kind == NNRT_BOUNDARY_BINARY ? 2 : b->nclass;
            for (int k = 0; k < K; k++)
                fprintf(f, ", \\\n         '%s' using 1:($3 == %d ? $2 : NaN) with points "
                           "pt 7 ps 0.6 lt %d title \"%s = %d\"",
                        file, k, k % NCOLORS + 1, out, k);
        }
        fprintf(f, "\n");
    }
    if (panels == 2)
        fprintf(f, "    unset multiplot\n");
    end_formats(f);
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- reconstructions: the libpng image with a title ---- */

int nnrt_plot_recon_script(const char *dir, const NnrtReconPlot *r)
{
    char name[200];
    title_text(name, sizeof name, r->model);
    FILE *f = open_script(dir, "reconstructions_figure",
                          "reconstructions.png (written with libpng) with a title and labels");
    if (!f)
        return -1;
    fprintf(f, "unset border\nunset tics\nunset key\nset size ratio -1\n"
               "set lmargin 10\nset rmargin 1\nset bmargin 1\n");
    /* each pair of rows: the inputs, then the outputs (gnuplot's y counts
     * the image's pixels from the bottom) */
    for (int g = 0; g < r->groups; g++) {
        int top = r->gap + g * (2 * r->cell + 3 * r->gap);
        fprintf(f, "set label \"input\" at %d, %d right\n", -r->gap,
                r->h - 1 - (top + r->cell / 2));
        fprintf(f, "set label \"output\" at %d, %d right\n", -r->gap,
                r->h - 1 - (top + r->cell + r->gap + r->cell / 2));
    }
    nnrt_plot_formats(f, "reconstructions_figure", r->w + 130, r->h + 90);
    fprintf(f, "    set title \"%s: %d %s samples and their reconstructions\"\n"
               "    plot 'reconstructions.png' binary filetype=png with rgbimage\n",
            name, r->n, r->set);
    end_formats(f);
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- running gnuplot ---- */

/* The gnuplot executable on PATH, or NULL. */
static const char *find_gnuplot(char *buf, size_t len)
{
    const char *path = getenv("PATH");
    if (!path)
        return NULL;
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, len, "%.*s/gnuplot", (int)n, n ? path : ".");
        if (access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

int nnrt_gnuplot(const char *dir, const char *const *scripts, int n, int quiet)
{
    char exe[1200];
    if (n == 0)
        return 0;
    if (!find_gnuplot(exe, sizeof exe)) {
        if (!quiet)
            fprintf(stderr, "note: gnuplot is not installed, so %s has the plot scripts (*.gp) "
                    "and data but no pictures: apt-get install gnuplot-nox, then run gnuplot "
                    "on each script there\n", dir);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char script[200];
        snprintf(script, sizeof script, "%s.gp", scripts[i]);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            /* in the run directory, so the script's relative names work;
             * gnuplot's complaints go to plots.log */
            int fd = chdir(dir) == 0 ? open("plots.log", O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
            if (fd < 0)
                _exit(126);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
            execl(exe, "gnuplot", script, (char *)NULL);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "warning: gnuplot failed on %s/%s (its messages are in "
                    "%s/plots.log)\n", dir, script, dir);
            failed = 1;
        }
    }
    char log[1200];
    struct stat st;
    snprintf(log, sizeof log, "%s/plots.log", dir);
    if (stat(log, &st) == 0 && st.st_size == 0)
        remove(log);
    return failed ? -1 : 0;
}

/* ---- PNG via libpng ---- */

int nnrt_png_write(const char *path, int w, int h, int channels, const unsigned char *pixels,
                   NnrtErr *e)
{
    if (w < 1 || h < 1 || (channels != 1 && channels != 3))
        return nnrt_err(e, "%s: cannot write a %d x %d image of %d channels", path, w, h, channels);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(tmp);
        return nnrt_err(e, "%s: out of memory for libpng", path);
    }
    /* libpng reports errors by longjmp back here */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(tmp);
        return nnrt_err(e, "%s: libpng could not write the image", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, pixels + (size_t)y * (size_t)w * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    }
    return 0;
}
