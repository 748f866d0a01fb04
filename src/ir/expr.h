/*
 * expr.h - an elementwise op's element expression as a small typed tree.
 *
 * ops.def gives every elementwise (K_MAP) op its element as a template in a
 * small part of C (its c_expr column): $0 $1 $2 are the operands'
 * elements, and EXP( LOG( ... the math functions of ir_math below.  The
 * template is parsed once (ir_op_expr), and every part of nnc that needs
 * the element works from the tree:
 *
 *   the C backend prints it           emit_c.c cg_c_expr (and emit_loops.c)
 *   the LLVM JIT builds it            jit_math.c build_expr
 *   nnc explain evaluates it          explain.c, in float64 (ir_expr_eval)
 *   sema folds constants with it      sema.c (ir_expr_eval)
 *   nnc --report counts its FLOPs     report.c (ir_expr_flops)
 *
 * The row algorithms (softmax and friends) are steps written the same way
 * (plan.c cg_row_plan), with operands up to $9.
 *
 * The grammar (the templates' C, with C's precedence):
 *
 *   expr    = compare ("?" expr ":" expr)?
 *   compare = sum ((">" | "<" | "==") sum)?
 *   sum     = product (("+" | "-") product)*
 *   product = unary (("*" | "/") unary)*
 *   unary   = "-" unary | primary
 *   primary = "$" DIGIT | NUMBER | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
 *
 * A comparison is 0 or 1, as C's int.  A number is typed by the dtype
 * being generated: an integer (0, 1, 2) is exact in either, a decimal
 * (0.01) is the float nearest to it in float32 (0.01f in C) and the double
 * in float64, so that the C trainer and `nnc run` compute the same bits.
 */
#ifndef NNC_EXPR_H
#define NNC_EXPR_H

#include "ir.h"

/* The math functions a template may call: one table (ir_math) says how
 * each is evaluated, printed in C and built by the JIT. */
typedef enum MathFn {
    MATH_EXP, MATH_LOG, MATH_LOG1P, MATH_SQRT, MATH_TANH, MATH_FABS, MATH_POW, MATH_ERF, MATH_COUNT
} MathFn;

typedef struct MathInfo {
    const char *name;       /* in templates: EXP */
    int arity;
    double (*eval)(double a, double b);   /* float64 (explain, constant folding); b unused when unary */
    const char *c_f32, *c_f64;   /* the C backend's (float32: the runtime's nnrt_expf, which vectorises) */
    const char *llvm;       /* the JIT's: the intrinsic llvm.NAME.f32/.f64, or NULL: libm's
                             * c_f64 function (with an f in float32) */
    int inline_f32;         /* in float32 the JIT inlines the runtime's function (jit_math.c),
                             * the C trainer's bits */
} MathInfo;

extern const MathInfo ir_math[MATH_COUNT];

typedef enum IrExprKind {
    E_NUM, E_ARG, E_NEG, E_ADD, E_SUB, E_MUL, E_DIV, E_GT, E_LT, E_EQ, E_COND, E_CALL
} IrExprKind;

typedef struct IrExpr {
    IrExprKind kind;
    int paren;              /* written in parentheses (the C backend prints them) */
    double num;             /* E_NUM: the number as a double */
    float numf;             /* ... and as the float nearest to it (not to the double) */
    int integer;            /* ... written as an integer (exact in either type) */
    const char *text;       /* ... as written in the template */
    int arg;                /* E_ARG: the operand $arg */
    MathFn fn;              /* E_CALL */
    int nkids;
    const struct IrExpr *kid[3];   /* operands; E_COND: condition, then, else */
} IrExpr;

/* Op op's element expression, parsed from ops.def on first use (NULL for
 * an op without one).  The environment's NNC_TEST_OP_EXPR='NAME=TEMPLATE'
 * replaces op NAME's template (docs/ir.md, "Adding an op": to try an
 * element before writing its row). */
const IrExpr *ir_op_expr(Op op);

/* The tree of a template; a template that does not parse is a compiler
 * bug (diag_internal naming what). */
const IrExpr *ir_expr_parse(const char *tmpl, const char *what);

/* The value in float64 with operands x[0..2]. */
double ir_expr_eval(const IrExpr *e, const double *x);

/* Floating-point operations of one evaluation: one per arithmetic
 * operator, comparison and math function (docs/teaching.md). */
int ir_expr_flops(const IrExpr *e);

/* The binding strength of e's operator (C's: ?: 1, comparisons 2, + - 3,
 * * / 4, unary minus 5, the rest 6): a printer puts a child in
 * parentheses when it binds less than its place needs. */
int ir_expr_prec(const IrExpr *e);

#endif
