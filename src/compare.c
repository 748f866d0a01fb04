/*
 * compare.c - `nnc compare RUN... -o OUT`: several runs of `train --log`
 * side by side, as a course's comparisons ask (Adam against SGD, with and
 * without L2, with and without the schedule):
 *
 *   OUT/compare.png, .pdf, .gp   the runs' curves in one figure, one panel
 *                                per quantity (training loss, test loss,
 *                                accuracy), one colour per run, over epochs
 *   OUT/compare.txt, .csv        a table: per run the settings that differ
 *                                between the runs, then the final epoch's
 *                                metrics, the best test loss and the status
 *   OUT/RUN.csv                  each run's metrics.csv, which compare.gp
 *                                reads (OUT stands alone; edit and rerun
 *                                `gnuplot compare.gp` there)
 *
 * It reads what the runs wrote: metrics.csv, settings.txt, summary.json.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compare.h"
#include "nnrt_internal.h"

#define MAXRUNS 16
#define MAXKEYS 64

typedef struct Run {
    const char *dir;
    char label[64];          /* its name in the figure and the table */
    char file[80];           /* OUT/<file>: its metrics.csv's copy */
    NnrtTable t;
    char keys[MAXKEYS][32], vals[MAXKEYS][200];   /* settings.txt */
    int nkeys;
    char status[32];         /* summary.json's, or "no summary" */
} Run;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nnc compare: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: nnc compare RUN_DIR RUN_DIR... -o OUT\n"
        "\n"
        "Draws the learning curves of runs of `train --log DIR` in one figure and\n"
        "tabulates their final metrics and the settings in which they differ:\n"
        "  OUT/compare.png, compare.pdf   training loss, test loss and accuracy per\n"
        "                                 epoch, one colour per run (compare.gp)\n"
        "  OUT/compare.txt, compare.csv   the table (also printed)\n"
        "  -o OUT           where they go (created; default: compare)\n"
        "See docs/trainer.md, \"Comparing runs\".\n");
}

/* `key = value` lines of DIR/settings.txt (comments skipped). */
static void read_settings(Run *r)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/settings.txt", r->dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f) && r->nkeys < MAXKEYS) {
        char *eq = strstr(line, " = ");
        if (line[0] == '#' || !eq)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(r->keys[r->nkeys], sizeof r->keys[0], "%.*s", (int)(eq - line), line);
        snprintf(r->vals[r->nkeys], sizeof r->vals[0], "%s", eq + 3);
        r->nkeys++;
    }
    if (f)
        fclose(f);
}

static const char *setting(const Run *r, const char *key)
{
    for (int k = 0; k < r->nkeys; k++)
        if (strcmp(r->keys[k], key) == 0)
            return r->vals[k];
    return "-";
}

/* summary.json's "status" (the runtime writes it as `"status": "..."`). */
static void read_status(Run *r)
{
    char path[PATH_MAX], buf[4096];
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    snprintf(r->status, sizeof r->status, "no summary");
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *s = strstr(buf, "\"status\": \"");
    if (s)
        snprintf(r->status, sizeof r->status, "%.*s", (int)strcspn(s + 11, "\""), s + 11);
}

/* The run's name: its directory's last component (the path as given when
 * two runs share it), and a file name made of it. */
static void name_runs(Run *runs, int n)
{
    for (int i = 0; i < n; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s", runs[i].dir);
        size_t len = strlen(d);
        while (len > 1 && d[len - 1] == '/')
            d[--len] = '\0';
        const char *base = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
        snprintf(runs[i].label, sizeof runs[i].label, "%s", base);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strcmp(runs[i].label, runs[j].label) == 0)
                snprintf(runs[i].label, sizeof runs[i].label, "%s", runs[i].dir);
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        for (const char *c = runs[i].label; *c && k + 8 < sizeof runs[i].file; c++)
            runs[i].file[k++] = (char)(strchr("/ \"'\\", *c) ? '_' : *c);
        snprintf(runs[i].file + k, sizeof runs[i].file - k, ".csv");
        /* two labels that differ only where '_' replaced something */
        for (int j = 0; j < i; j++)
            if (strcmp(runs[i].file, runs[j].file) == 0)
                snprintf(runs[i].file + k, sizeof runs[i].file - k, "-%d.csv", i + 1);
    }
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int bad = !in || !out;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    if (in)
        fclose(in);
    if (out)
        bad |= fclose(out) != 0;
    return bad ? -1 : 0;
}

/* The final row's value of a column, NAN where the run has none. */
static double final(const Run *r, const char *col)
{
    int c = nnrt_table_column(&r->t, col);
    return c >= 0 ? r->t.col[c][r->t.nrow - 1] : NAN;
}

/* ---- the table ---- */

typedef struct Cell {
    char s[220];
} Cell;

static void num(Cell *c, double v, int acc)
{
    if (!isfinite(v))
        snprintf(c->s, sizeof c->s, "-");
    else
        snprintf(c->s, sizeof c->s, acc ? "%.4f" : "%.5g", v);
}

static void csv_cell(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"")) {
        fputc('"', f);
        for (; *s; s++)
            fprintf(f, *s == '"' ? "\"\"" : "%c", *s);
        fputc('"', f);
    } else
        fputs(s, f);
    fputc(last ? '\n' : ',', f);
}

static int write_table(Run *runs, int n, const char *out)
{
    /* the settings in which the runs differ (log and seed aside: always) */
    const char *diff[MAXKEYS];
    int ndiff = 0;
    for (int k = 0; k < runs[0].nkeys; k++) {
        const char *key = runs[0].keys[k];
        if (strcmp(key, "log") == 0)
            continue;
        for (int i = 1; i < n; i++)
            if (strcmp(setting(&runs[i], key), runs[0].vals[k]) != 0) {
                diff[ndiff++] = key;
                break;
            }
    }
    static const char *const metrics[] = {"loss", "test_loss", "accuracy", "test_accuracy",
                                          "penalty"};
    int have[5] = {0};
    for (int m = 0; m < 5; m++)
        for (int i = 0; i < n; i++)
            have[m] |= nnrt_table_column(&runs[i].t, metrics[m]) >= 0;
    int any_test = have[1];
    /* header and rows as cells, then printed in aligned columns */
    int ncol = 1 + ndiff + 1 + 5 + 2;
    Cell *cell = calloc((size_t)(n + 1) * (size_t)ncol, sizeof *cell);
    if (!cell)
        return fail("out of memory");
    int c = 0;
    snprintf(cell[c++].s, sizeof cell->s, "run");
    for (int k = 0; k < ndiff; k++)
        snprintf(cell[c++].s, sizeof cell->s, "%s", diff[k]);
    snprintf(cell[c++].s, sizeof cell->s, "epoch");   /* the last (a setting is `epochs`) */
    for (int m = 0; m < 5; m++)
        if (have[m])
            snprintf(cell[c++].s, sizeof cell->s, "%s", metrics[m]);
    snprintf(cell[c++].s, sizeof cell->s, "best %s (epoch)", any_test ? "test_loss" : "loss");
    snprintf(cell[c++].s, sizeof cell->s, "status");
    ncol = c;
    for (int i = 0; i < n; i++) {
        const Run *r = &runs[i];
        Cell *row = cell + (size_t)(i + 1) * (size_t)ncol;
        c = 0;
        snprintf(row[c++].s, sizeof cell->s, "%s", r->label);
        for (int k = 0; k < ndiff; k++)
            snprintf(row[c++].s, sizeof cell->s, "%s", setting(r, diff[k]));
        num(&row[c++], final(r, "epoch"), 0);
        for (int m = 0; m < 5; m++)
            if (have[m])
                num(&row[c++], final(r, metrics[m]), m == 2 || m == 3);
        int bc = nnrt_table_column(&r->t, any_test ? "test_loss" : "loss");
        int ec = nnrt_table_column(&r->t, "epoch"), best = -1;
        for (int k = 0; bc >= 0 && k < r->t.nrow; k++)
            if (isfinite(r->t.col[bc][k]) && (best < 0 || r->t.col[bc][k] < r->t.col[bc][best]))
                best = k;
        if (best >= 0)
            snprintf(row[c++].s, sizeof cell->s, "%.5g (%g)", r->t.col[bc][best],
                     r->t.col[ec][best]);
        else
            snprintf(row[c++].s, sizeof cell->s, "-");
        snprintf(row[c++].s, sizeof cell->s, "%s", r->status);
    }
    int width[MAXKEYS + 16] = {0};
    for (int i = 0; i <= n; i++)
        for (c = 0; c < ncol; c++) {
            int w = (int)strlen(cell[(size_t)i * (size_t)ncol + (size_t)c].s);
            width[c] = w > width[c] ? w : width[c];
        }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/compare.txt", out);
    FILE *txt = fopen(path, "w");
    snprintf(path, sizeof path, "%s/compare.csv", out);
    FILE *csv = fopen(path, "w");
    if (!txt || !csv) {
        if (txt)
            fclose(txt);
        if (csv)
            fclose(csv);
        free(cell);
        return fail("cannot write %s: %s", path, strerror(errno));
    }
    for (int pass = 0; pass < 2; pass++) {
        FILE *f = pass ? stdout : txt;
        for (int i = 0; i <= n; i++) {
            for (c = 0; c < ncol; c++) {
                const char *s = cell[(size_t)i * (size_t)ncol + (size_t)c].s;
                /* names left, numbers right */
                int left = c == 0 || c <= ndiff || c == ncol - 1;
                fprintf(f, c == ncol - 1 ? "%-*s\n" : left ? "%-*s  " : "%*s  ",
                        c == ncol - 1 ? 0 : width[c], s);
            }
        }
    }
    for (int i = 0; i <= n; i++)
        for (c = 0; c < ncol; c++)
            csv_cell(csv, cell[(size_t)i * (size_t)ncol + (size_t)c].s, c == ncol - 1);
    int bad = fclose(txt) != 0;
    bad |= fclose(csv) != 0;
    free(cell);
    return bad ? fail("cannot write the table in %s", out) : 0;
}

/* ---- the figure ---- */

static const char *const run_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                         "#8c564b", "#e377c2", "#17becf"};

static int write_figure(const Run *runs, int n, const char *out)
{
    /* the panels: training loss, test loss, accuracy (test where there is) */
    const char *cols[3] = {"loss", NULL, NULL}, *titles[3] = {"training loss", NULL, NULL};
    int npanel = 1, has_test = 0, has_acc = 0, has_test_acc = 0;
    for (int i = 0; i < n; i++) {
        has_test |= nnrt_table_column(&runs[i].t, "test_loss") >= 0;
        has_acc |= nnrt_table_column(&runs[i].t, "accuracy") >= 0;
        has_test_acc |= nnrt_table_column(&runs[i].t, "test_accuracy") >= 0;
    }
    if (has_test) {
        cols[npanel] = "test_loss";
        titles[npanel++] = "test loss";
    }
    if (has_acc) {
        cols[npanel] = has_test_acc ? "test_accuracy" : "accuracy";
        titles[npanel++] = has_test_acc ? "test accuracy" : "training accuracy";
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/compare.gp", out);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# compare.gp - the learning curves of %d runs (nnc compare).\n"
               "# Restyle freely, then run `gnuplot compare.gp` in this directory to redraw\n"
               "# compare.png and compare.pdf; RUN.csv are the runs' metrics.csv.\n\n"
               "cairo = strstrt(GPVAL_TERMINALS, \" pngcairo \") > 0\n"
               "pdf = strstrt(GPVAL_TERMINALS, \" pdfcairo \") > 0\n"
               "set grid lc rgb '#e0e0e0'\nset border lc rgb '#404040'\n"
               "set datafile separator ','\nset datafile columnheaders\n"
               "set xlabel \"epoch\"\nset key below horizontal\n", n);
    for (int i = 0; i < n; i++)
        fprintf(f, "set linetype %d lc rgb '%s' lw 2 dt %d\n", i + 1, run_colors[i % 8],
                i / 8 + 1);
    int w = npanel * 480 > 700 ? npanel * 480 : 700;
    nnrt_plot_formats(f, "compare", w, 560);
    fprintf(f, "    set multiplot layout 1,%d title \"%d runs: %s per epoch\" font \",13\"\n",
            npanel, n, npanel > 1 ? "loss and metrics" : "loss");
    for (int p = 0; p < npanel; p++) {
        int acc = strstr(cols[p], "accuracy") != NULL;
        double lo = INFINITY, hi = 0, min = INFINITY, max = -INFINITY, epochs = 0;
        for (int i = 0; i < n; i++) {
            int c = nnrt_table_column(&runs[i].t, cols[p]);
            epochs = fmax(epochs, final(&runs[i], "epoch"));
            for (int k = 0; c >= 0 && k < runs[i].t.nrow; k++) {
                double v = runs[i].t.col[c][k];
                if (!isfinite(v))
                    continue;
                min = fmin(min, v);
                max = fmax(max, v);
                if (v > 0) {
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
            }
        }
        int logy = !acc && lo > 0 && hi / lo > 10;
        /* at most 6 tics an axis: the PDF's text is large (nnrt_plot_formats) */
        double xstep = nnrt_plot_tic_step(0, epochs, 6), ystep = nnrt_plot_tic_step(min, max, 6);
        fprintf(f, "    set xtics %g\n", xstep >= 1 ? xstep : 1);
        if (logy || !(ystep > 0))
            fprintf(f, "    set ytics auto\n");
        else
            fprintf(f, "    set ytics %g\n", ystep);
        fprintf(f, "    set title \"%s%s\"\n    set ylabel \"%s\"\n    %s\n", titles[p],
                logy ? " (log scale)" : "", acc ? "accuracy" : "loss",
                logy ? "set logscale y" : "unset logscale y");
        fprintf(f, "    plot ");
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (nnrt_table_column(&runs[i].t, cols[p]) < 0)
                continue;
            char title[80];
            size_t k = 0;
            for (const char *c = runs[i].label; *c && k + 1 < sizeof title; c++)
                title[k++] = *c == '"' ? '\'' : *c;
            title[k] = '\0';
            fprintf(f, "%s'%s' using \"epoch\":\"%s\" with %s lt %d title \"%s\"",
                    first ? "" : ", \\\n         ", runs[i].file, cols[p],
                    runs[i].t.nrow <= 40 ? "linespoints pt 7 ps 0.6" : "lines", i + 1, title);
            first = 0;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "    unset multiplot\n    set output\n}\n");
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? fail("cannot write %s", path) : 0;
}

int compare_main(int argc, char **argv)
{
    const char *out = "compare";
    const char *dirs[MAXRUNS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            fail("unknown option '%s'; see nnc compare --help", argv[i]);
            return 2;
        } else if (n == MAXRUNS) {
            fail("at most %d runs at a time", MAXRUNS);
            return 2;
        } else {
            dirs[n++] = argv[i];
        }
    }
    if (n == 0) {
        usage(stderr);
        return 2;
    }
    Run *runs = calloc((size_t)n, sizeof *runs);
    int rc = runs ? 0 : fail("out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX];
        runs[i].dir = dirs[i];
        snprintf(path, sizeof path, "%s/metrics.csv", dirs[i]);
        if (nnrt_table_read(path, &runs[i].t) != 0 || runs[i].t.nrow == 0 ||
            nnrt_table_column(&runs[i].t, "epoch") < 0 ||
            nnrt_table_column(&runs[i].t, "loss") < 0)
            rc = fail("%s has no metrics.csv with rows: compare the directories of `train "
                      "--log DIR` runs", dirs[i]);
        read_settings(&runs[i]);
        read_status(&runs[i]);
    }
    NnrtErr e;
    if (rc == 0 && nnrt_mkdir_p(out, &e) != 0)
        rc = fail("%s", e.msg);
    if (rc == 0) {
        name_runs(runs, n);
        for (int i = 0; i < n && rc == 0; i++) {
            char from[PATH_MAX], to[PATH_MAX];
            snprintf(from, sizeof from, "%s/metrics.csv", runs[i].dir);
            snprintf(to, sizeof to, "%s/%s", out, runs[i].file);
            if (copy_file(from, to) != 0)
                rc = fail("cannot copy %s to %s", from, to);
        }
    }
    if (rc == 0)
        rc = write_table(runs, n, out);
    if (rc == 0)
        rc = write_figure(runs, n, out);
    if (rc == 0) {
        static const char *const scripts[] = {"compare"};
        int drawn = nnrt_gnuplot(out, scripts, 1, 0) == 0;
        fprintf(stderr, "\nin %s: compare.txt compare.csv compare.gp%s\n", out,
                drawn ? " compare.png compare.pdf" : "");
    }
    for (int i = 0; runs && i < n; i++)
        nnrt_table_free(&runs[i].t);
    free(runs);
    return rc;
}
