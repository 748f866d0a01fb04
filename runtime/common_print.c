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
 * numeric gradient and their relative error side by side, in scientific
 * notation so that the columns line up digit for digit).
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_WIDTH 75

typedef struct Fmt {
    FILE *f;
    int digits, sci, width;
    int per_line;   /* > 0: wrap rows after this many elements, not by width */
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
                if (fm->per_line ? i % fm->per_line == 0 : col + 1 + fm->width + 1 > LINE_WIDTH) {
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

/* How many elements of this width a row of a rank-`rank` array holds
 * before print_block wraps it. */
static int per_line(int width, int rank)
{
    int k = 1, col = rank + width;   /* after the first: the brackets, then it */
    while (col + 1 + width + 1 <= LINE_WIDTH) {
        col += 1 + width;
        k++;
    }
    return k;
}

static void print_array_wrapped(FILE *f, const double *x, int rank, const int *dim, int digits,
                                int sci, int width, int wrap)
{
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= dim[d];
    Fmt fm = { f, digits, sci, width > 0 ? width : nnrt_array_width(x, n, digits, sci), wrap };
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

void nnrt_print_array_fmt(FILE *f, const double *x, int rank, const int *dim, int digits, int sci,
                          int width)
{
    print_array_wrapped(f, x, rank, dim, digits, sci, width, 0);
}

void nnrt_print_array(FILE *f, const double *x, int rank, const int *dim, int digits)
{
    nnrt_print_array_fmt(f, x, rank, dim, digits, 0, 0);
}

/* The text nnrt_print_array_fmt would print, split into lines. */
static char **array_lines(const double *x, int rank, const int *dim, int digits, int width,
                          int wrap, int *nlines, char **text)
{
    size_t len = 0;
    FILE *m = open_memstream(text, &len);
    if (!m)
        return NULL;
    print_array_wrapped(m, x, rank, dim, digits, 1, width, wrap);
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

int nnrt_print_side_by_side(FILE *f, int k, const double *const *x, const int *digits,
                            const char *const *titles, int rank, const int *dim)
{
    enum { MAXCOLS = 4 };
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= dim[d];
    if (k < 1 || k > MAXCOLS)
        return -1;
    /* columns of the same digits share one width, so they line up digit for
     * digit; all wrap their rows after as many elements as the widest holds,
     * so a line holds the same entries in every column */
    int width[MAXCOLS] = { 0 }, nl[MAXCOLS] = { 0 }, col[MAXCOLS], widest = 1;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            if (digits[j] == digits[i]) {
                int w = nnrt_array_width(x[j], n, digits[j], 1);
                width[i] = w > width[i] ? w : width[i];
            }
        widest = width[i] > widest ? width[i] : widest;
    }
    int wrap = per_line(widest, rank);
    char **lines[MAXCOLS] = { NULL }, *text[MAXCOLS] = { NULL };
    int rc = 0, most = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        lines[i] = array_lines(x[i], rank, dim, digits[i], width[i], wrap, &nl[i], &text[i]);
        rc = lines[i] ? 0 : -1;
        col[i] = (int)strlen(titles[i]);
        for (int l = 0; rc == 0 && l < nl[i]; l++)
            col[i] = (int)strlen(lines[i][l]) > col[i] ? (int)strlen(lines[i][l]) : col[i];
        most = nl[i] > most ? nl[i] : most;
    }
    for (int l = -1; rc == 0 && l < most; l++)
        for (int i = 0; i < k; i++) {
            const char *s = l < 0 ? titles[i] : l < nl[i] ? lines[i][l] : "";
            if (i == k - 1)
                fprintf(f, "%s\n", s);
            else
                fprintf(f, "%-*s   ", col[i], s);
        }
    for (int i = 0; i < k; i++) {
        free(lines[i]);
        free(text[i]);
    }
    return rc;
}
