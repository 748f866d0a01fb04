/*
 * codegen.h - backends: C source (emit_c.c, with emit_loops.c for --style=loops) and
 * the LLVM JIT (jit_llvm.c).
 */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H

#include <stdio.h>
#include "ir.h"

/* How the training step is written: batched with GEMM (the default), or
 * as explicit loops over indices one sample at a time (emit_loops.c). */
typedef enum CgStyle { CG_STYLE_FAST, CG_STYLE_LOOPS } CgStyle;

typedef struct CgOptions {
    int lib;              /* library form: no main(), a NAME_model() accessor */
    const char *header;   /* with lib: the header's file name, to #include it */
    CgStyle style;
} CgOptions;

/* Write the trainer for p (forward and adjoint programs) as C to f. */
void cg_emit_c(FILE *f, const IrProgram *p, const CgOptions *opt);
/* With lib: the header declaring NAME_model(). */
void cg_emit_header(FILE *f, const IrProgram *p);

/* The LLVM backend (`nnc run`, --emit=llvm).  Built only where LLVM was
 * found (make LLVM=auto); otherwise cg_jit_available() is 0 and the other
 * two print how to get it and fail. */
int cg_jit_available(void);
/* Print the (unoptimised) LLVM IR of p; -1 after an error. */
int cg_emit_llvm(FILE *f, const IrProgram *p);
/* Compile p in memory and hand it to the runtime's command line, like a
 * generated trainer's main(): argv[1] is train, init, grad, eval or check.
 * Returns the exit status. */
int cg_jit_run(const IrProgram *p, int argc, char **argv);

#endif
