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

typedef struct CgLoops {
    const IrProgram *p;
    char *const *cname;        /* C identifier of each value */
    const long *param_off;     /* offset of each parameter in the flat buffers */
    const char *needs_buf;     /* value has a workspace buffer, ws->NAME */
    const char *fwd_mark;      /* forward values the loss and the output need */
    const char *pen_mark;      /* forward values the penalty needs */
} CgLoops;

/* Work, create(), destroy(), forward(), backward(), penalty(), output(). */
void cg_loops_functions(FILE *f, const CgLoops *lx);

/* From emit_c.c, so both styles spell numbers and math alike: a number as a
 * C literal of the program's dtype, and an element expression (expr.h) as
 * C with $0 $1 $2 the operands' elements ops[] and the dtype's functions. */
const char *cg_c_number(const IrProgram *p, double x, char *buf, size_t n);
void cg_c_expr(const IrProgram *p, const IrExpr *e, const char *const *ops, char *buf, size_t n);

#endif
