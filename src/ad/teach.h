/*
 * teach.h - the teaching tools built on the IR and its adjoint program:
 * `nnc explain` (explain.c: the forward pass and the chain rule with
 * numbers, from an interpreter of the IR in float64) and `nnc --report`
 * (report.c: parameters, FLOPs and what reverse mode keeps, per line).
 */
#ifndef NNC_TEACH_H
#define NNC_TEACH_H

#include <stdio.h>
#include "ir.h"

/* A value given on the command line for an input or target: --x 0.5,0.5. */
typedef struct ExplainValue {
    const char *slot;
    const char *text;
} ExplainValue;

typedef struct ExplainOptions {
    const char *wrt;          /* "W1[0,0]" or "W1" */
    int have_lr;
    double lr;                /* --lr: show the entry after one gradient step */
    int latex;                /* --latex: a LaTeX fragment instead of text */
    int digits;               /* --digits: significant digits of numbers (0: 6) */
    const char *params;       /* --params P.npz instead of the initialisers */
    const ExplainValue *values;
    int nvalues;
    int train;                /* --mode train: noise and dropout drawn (from --seed) */
    const char *seed;         /* --seed N, else the train block's */
} ExplainOptions;

/* Print the explanation of dL/d(wrt) to out; returns 0, or 1 after an error
 * message on stderr. */
int explain_run(FILE *out, const IrProgram *p, const ExplainOptions *o);

/* The cost report of `nnc --report`. */
void report_print(FILE *out, const IrProgram *p);
/* Its total FLOPs per sample, forward and backward (the report's "total"
 * row; the penalty, once per batch, not included). */
void report_flops(const IrProgram *p, long long *fwd, long long *bwd);

#endif
