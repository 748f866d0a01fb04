/*
 * common_plot.c - learning curves as SVG, with no plotting library.
 *
 * nnrt_plot_metrics(DIR) reads DIR/metrics.csv (written by `train --log`)
 * and draws DIR/curves.svg: the loss columns (loss, test_loss) over epochs
 * in one panel, on a log scale when they span more than a decade, and the
 * accuracy columns in a second panel when there are any.  Any browser or
 * document tool shows the file; the CSV stays the source for other tools.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnrt_internal.h"

#define MAXCOL 16
#define MAXROW 100000

typedef struct Table {
    char names[MAXCOL][32];
    int ncol;
    double *row[MAXCOL];
    int nrow;
} Table;

static int read_csv(const char *path, Table *t)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    memset(t, 0, sizeof *t);
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    for (char *tok = strtok(line, ",\r\n"); tok && t->ncol < MAXCOL; tok = strtok(NULL, ",\r\n"))
        snprintf(t->names[t->ncol++], sizeof t->names[0], "%s", tok);
    for (int c = 0; c < t->ncol; c++)
        t->row[c] = malloc(MAXROW * sizeof(double));
    while (t->nrow < MAXROW && fgets(line, sizeof line, f)) {
        char *s = line;
        for (int c = 0; c < t->ncol; c++) {
            char *end;
            t->row[c][t->nrow] = strtod(s, &end);
            s = *end == ',' ? end + 1 : end;
        }
        t->nrow++;
    }
    fclose(f);
    return 0;
}

static int column(const Table *t, const char *name)
{
    for (int c = 0; c < t->ncol; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"};

/* One panel at vertical offset y0: the given columns against epoch. */
static void panel(FILE *f, const Table *t, const int *cols, int ncols, const char *title,
                  int y0, int logy)
{
    const int W = 640, H = 300, L = 70, R = 150, T = 30, B = 40;
    int ex = column(t, "epoch");
    double xmin = t->row[ex][0], xmax = t->row[ex][t->nrow - 1];
    double ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ncols; k++)
        for (int i = 0; i < t->nrow; i++) {
            double v = t->row[cols[k]][i];
            if (!isfinite(v) || (logy && v <= 0))
                continue;
            ymin = v < ymin ? v : ymin;
            ymax = v > ymax ? v : ymax;
        }
    if (!(ymin <= ymax))
        return;
    if (xmax <= xmin)
        xmax = xmin + 1;
    if (logy) {
        ymin = log10(ymin);
        ymax = log10(ymax);
    }
    if (ymax - ymin < 1e-12) {
        ymin -= 0.5;
        ymax += 0.5;
    }
    double pad = 0.05 * (ymax - ymin);
    ymin -= pad;
    ymax += pad;
    int pw = W - L - R, ph = H - T - B;
#define PX(x) (L + pw * ((x) - xmin) / (xmax - xmin))
#define PY(y) (y0 + T + ph * (1 - ((y) - ymin) / (ymax - ymin)))
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", L,
            y0 + 20, title);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
            L, y0 + T, pw, ph);
    for (int k = 0; k <= 4; k++) {
        double yv = ymin + (ymax - ymin) * k / 4, xv = xmin + (xmax - xmin) * k / 4;
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                L + pw, PY(yv), PY(yv));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.3g</text>\n",
                L - 5, PY(yv) + 4, logy ? pow(10, yv) : yv);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%.4g</text>\n",
                PX(xv), y0 + T + ph + 15, xv);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n",
            L + pw / 2, y0 + H - 5);
    for (int k = 0; k < ncols; k++) {
        const double *v = t->row[cols[k]];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                colors[k % 4]);
        for (int i = 0; i < t->nrow; i++) {
            double yv = logy ? (v[i] > 0 ? log10(v[i]) : NAN) : v[i];
            if (isfinite(yv))
                fprintf(f, "%.1f,%.1f ", PX(t->row[ex][i]), PY(yv));
        }
        fprintf(f, "\"/>\n");
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                L + pw + 15, L + pw + 35, y0 + T + 10 + 18 * k, y0 + T + 10 + 18 * k, colors[k % 4]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", L + pw + 40,
                y0 + T + 14 + 18 * k, t->names[cols[k]]);
    }
#undef PX
#undef PY
}

int nnrt_plot_metrics(const char *dir, const char *title)
{
    char path[1200];
    Table t;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if (read_csv(path, &t) != 0 || t.nrow == 0 || column(&t, "epoch") < 0) {
        for (int c = 0; c < t.ncol; c++)
            free(t.row[c]);
        return -1;
    }
    int loss[2], nloss = 0, acc[2], nacc = 0;
    const char *ln[2] = {"loss", "test_loss"}, *an[2] = {"accuracy", "test_accuracy"};
    for (int k = 0; k < 2; k++) {
        if (column(&t, ln[k]) >= 0)
            loss[nloss++] = column(&t, ln[k]);
        if (column(&t, an[k]) >= 0)
            acc[nacc++] = column(&t, an[k]);
    }
    /* log scale when the positive losses span more than a decade */
    double lo = INFINITY, hi = 0;
    for (int k = 0; k < nloss; k++)
        for (int i = 0; i < t.nrow; i++) {
            double v = t.row[loss[k]][i];
            if (v > 0 && isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    int logy = lo > 0 && hi / lo > 10;
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        int h = nacc ? 600 : 300;
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"%d\" "
                   "font-family=\"sans-serif\">\n<rect width=\"640\" height=\"%d\" fill=\"white\"/>\n",
                h, h);
        char tl[300];
        snprintf(tl, sizeof tl, "%s: loss%s", title, logy ? " (log scale)" : "");
        panel(f, &t, loss, nloss, tl, 0, logy);
        if (nacc)
            panel(f, &t, acc, nacc, "accuracy", 300, 0);
        fprintf(f, "</svg>\n");
        fclose(f);
    }
    for (int c = 0; c < t.ncol; c++)
        free(t.row[c]);
    return f ? 0 : -1;
}
