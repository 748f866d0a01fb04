/*
 * cg_loops.h - between the C backend (emit_c.c) and its loops style
 * (emit_loops.c, `nnc --style=loops`).
 *
 * emit_c.c writes what both styles share (the header, the tables, the
 * model struct, main) and hands the rest — the workspace, forward,
 * backward, penalty, output — to cg_loops_functions(), with the names and
 * buffers it chose.  The loops style keeps its own workspace layout (one
 * sample's slice of every tensor contiguous), whatever the default's is.
 */
#ifndef NNC_CG_LOOPS_H
#define NNC_CG_LOOPS_H

#include <stdio.h>
#include "expr.h"
#include "plan.h"

typedef struct CgLoops {
    const IrProgram *p;
    char *const *cname;        /* C identifier of each value */
    const long *param_off;     /* offset of each parameter in the flat buffers */
    const char *needs_buf;     /* value has a workspace buffer, ws->NAME */
    const char *fwd_mark;      /* forward values the loss and the output need */
    const char *pen_mark;      /* forward values the penalty needs */
    const CgLayout *lay;       /* rolled loops' slots (plan.h) */
} CgLoops;

/* Work, create(), destroy(), forward(), backward(), penalty(), output(). */
void cg_loops_functions(FILE *f, const CgLoops *lx);

/* From emit_c.c, so both styles spell numbers and math alike: a number as a
 * C literal of the program's dtype, and an element expression (expr.h) as
 * C with $0 $1 $2 the operands' elements ops[] and the dtype's functions. */
const char *cg_c_number(const IrProgram *p, double x, char *buf, size_t n);
void cg_c_expr(const IrProgram *p, const IrExpr *e, const char *const *ops, char *buf, size_t n);

/* The steps of a row plan (plan.h cg_row_plan) as C, one printer for both
 * styles, which differ only in how they index a row: the steps' operands
 * ops[$0 .. $9], x0 the first element of the row of x, zero the 0 the
 * locals start from, dj the destination's element j and op its "=" or
 * "+=", one the value's one number for the row (CG_ROW_STORE_ONE). */
typedef struct CgRowC {
    const IrProgram *p;
    const CgRow *rp;
    int K;
    const char *const *ops;
    const char *x0, *zero, *dj, *op, *one;
} CgRowC;

/* At indentation ind (4 spaces each) into f. */
void cg_c_row(FILE *f, int ind, const CgRowC *rc);

#endif
