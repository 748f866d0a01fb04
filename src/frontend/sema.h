/*
 * sema.h - from syntax tree to IR: names, constants, shapes, lowering.
 */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include "ast.h"
#include "ir.h"

/* `-D NAME=VALUE` overrides of `const` declarations. */
typedef struct Define {
    const char *name;
    double value;
    int used;
} Define;

typedef struct SemaOptions {
    Define *defs;
    int ndefs;
    DType dtype;
} SemaOptions;

/* The most statements a model may unroll to (nested repeats multiply):
 * beyond, compile time and memory grow past what a course model needs. */
#define SEMA_MAX_STMTS 100000

/* Resolve names, evaluate constants, unroll `repeat`, expand `dense`,
 * infer every shape and lower the program to the forward IR.  Reports
 * errors through diag; returns NULL when there were any. */
IrProgram *sema_lower(const Program *ast, const char *source, const SemaOptions *opt);

/* The language's initialisers, for "did you mean" and the docs (its
 * functions are ops.def's fn column, and dense). */
extern const char *const sema_initialisers[];

#endif
