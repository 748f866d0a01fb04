/*
 * common_print.c - arrays printed the way numpy prints them, for people:
 * nested brackets, one row per line, every element in one common width so
 * the columns line up, long rows wrapped at 75 characters.
 *
 *   [[ 0.0123   -0.5     ]
 *    [ 1.25e-05  0.25    ]]
 *
 * Used by the trainer's `grad --print` (the gradients of one sample, as the
 * first assignment asks for them) and `check --print` (the analytic and the
 * numeric gradient side by side, in scientific notation so that the two
 * columns line up digit for digit).
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_WIDTH 75

typedef struct Fmt {
    FILE *f;
    int digits, sci, width;
} Fmt;

/* %g with `digits` significant digits, or with sci %e and a place for the
 * sign, as numpy prints a column of mixed signs. */
static void format_one(char *buf, size_t len, double x, int digits, int sci)
{
    if (sci)
        snprintf(buf, len, "% .*e", digits, x);
    else
        snprintf(buf, len, "%.*g", digits, x);
}

/* One block of rank `rank` at nesting depth `depth` (its opening bracket is
 * already at column depth). */
static void print_block(const Fmt *fm, const double *x, int rank, const int *dim, int depth)
{
    FILE *f = fm->f;
    fputc('[', f);
    if (rank == 1) {
        int col = depth + 1;
        for (int i = 0; i < dim[0]; i++) {
            char buf[64];
            format_one(buf, sizeof buf, x[i], fm->digits, fm->sci);
            if (i > 0) {
                if (col + 1 + fm->width + 1 > LINE_WIDTH) {
                    fprintf(f, "\n%*s", depth + 1, "");
                    col = depth + 1;
                } else {
                    fputc(' ', f);
                    col++;
                }
            }
            col += fprintf(f, "%*s", fm->width, buf);
        }
    } else {
        long inner = 1;
        for (int d = 1; d < rank; d++)
            inner *= dim[d];
        for (int i = 0; i < dim[0]; i++) {
            if (i > 0) {
                /* numpy: one newline per level, a blank line between matrices */
                for (int k = 1; k < rank; k++)
                    fputc('\n', f);
                fprintf(f, "%*s", depth + 1, "");
            }
            print_block(fm, x + i * inner, rank - 1, dim + 1, depth + 1);
        }
    }
    fputc(']', f);
}

int nnrt_array_width(const double *x, long n, int digits, int sci)
{
    int width = 1;
    for (long i = 0; i < n; i++) {
        char buf[64];
        format_one(buf, sizeof buf, x[i], digits, sci);
        int w = (int)strlen(buf);
        if (w > width)
            width = w;
    }
    return width;
}

void nnrt_print_array_fmt(FILE *f, const double *x, int rank, const int *dim, int digits, int sci,
                          int width)
{
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= dim[d];
    Fmt fm = { f, digits, sci, width > 0 ? width : nnrt_array_width(x, n, digits, sci) };
    if (rank == 0 || n == 0) {
        if (n == 0)
            fprintf(f, "[]\n");
        else {
            char buf[64];
            format_one(buf, sizeof buf, x[0], digits, sci);
            fprintf(f, "%s\n", buf);
        }
        return;
    }
    print_block(&fm, x, rank, dim, 0);
    fputc('\n', f);
}

void nnrt_print_array(FILE *f, const double *x, int rank, const int *dim, int digits)
{
    nnrt_print_array_fmt(f, x, rank, dim, digits, 0, 0);
}

/* The text nnrt_print_array_fmt would print, split into lines. */
static char **array_lines(const double *x, int rank, const int *dim, int digits, int width,
                          int *nlines, char **text)
{
    size_t len = 0;
    FILE *m = open_memstream(text, &len);
    if (!m)
        return NULL;
    nnrt_print_array_fmt(m, x, rank, dim, digits, 1, width);
    fclose(m);
    int n = 0;
    for (char *c = *text; *c; c++)
        n += *c == '\n';
    char **lines = malloc((size_t)(n ? n : 1) * sizeof *lines);
    if (!lines)
        return NULL;
    char *c = *text;
    for (int i = 0; i < n; i++) {
        lines[i] = c;
        c = strchr(c, '\n');
        *c++ = '\0';
    }
    *nlines = n;
    return lines;
}

int nnrt_print_side_by_side(FILE *f, const double *a, const double *b, int rank, const int *dim,
                            int digits, const char *title_a, const char *title_b)
{
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= dim[d];
    int wa = nnrt_array_width(a, n, digits, 1), wb = nnrt_array_width(b, n, digits, 1);
    int width = wa > wb ? wa : wb, na = 0, nb = 0;
    char *ta = NULL, *tb = NULL;
    char **la = array_lines(a, rank, dim, digits, width, &na, &ta);
    char **lb = la ? array_lines(b, rank, dim, digits, width, &nb, &tb) : NULL;
    int rc = -1;
    if (la && lb) {
        /* the same shape and width give the same line structure */
        int col = (int)strlen(title_a);
        for (int i = 0; i < na; i++)
            if ((int)strlen(la[i]) > col)
                col = (int)strlen(la[i]);
        fprintf(f, "%-*s   %s\n", col, title_a, title_b);
        for (int i = 0; i < na || i < nb; i++)
            fprintf(f, "%-*s   %s\n", col, i < na ? la[i] : "", i < nb ? lb[i] : "");
        rc = 0;
    }
    free(la);
    free(lb);
    free(ta);
    free(tb);
    return rc;
}
