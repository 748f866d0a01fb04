/*
 * common_print.c - arrays printed the way numpy prints them, for people:
 * nested brackets, one row per line, every element in one common width so
 * the columns line up, long rows wrapped at 75 characters.
 *
 *   [[ 0.0123   -0.5     ]
 *    [ 1.25e-05  0.25    ]]
 *
 * Used by the trainer's `grad --print` (the gradients of one sample, as the
 * first assignment asks for them).
 */
#include "nnrt_internal.h"

#include <stdio.h>
#include <string.h>

#define LINE_WIDTH 75

typedef struct Fmt {
    FILE *f;
    int digits, width;
} Fmt;

static void format_one(char *buf, size_t len, double x, int digits)
{
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
            format_one(buf, sizeof buf, x[i], fm->digits);
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

void nnrt_print_array(FILE *f, const double *x, int rank, const int *dim, int digits)
{
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= dim[d];
    Fmt fm = { f, digits, 1 };
    for (long i = 0; i < n; i++) {
        char buf[64];
        format_one(buf, sizeof buf, x[i], digits);
        int w = (int)strlen(buf);
        if (w > fm.width)
            fm.width = w;
    }
    if (rank == 0 || n == 0) {
        if (n == 0)
            fprintf(f, "[]\n");
        else {
            char buf[64];
            format_one(buf, sizeof buf, x[0], digits);
            fprintf(f, "%s\n", buf);
        }
        return;
    }
    print_block(&fm, x, rank, dim, 0);
    fputc('\n', f);
}
