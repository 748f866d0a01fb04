/*
 * codegen.h - backends: C source (emit_c.c, with emit_loops.c for --style=loops) and
 * the LLVM JIT (jit_*.c, jit_internal.h).
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

/* The LLVM backend (`nnc run`, --emit=llvm, nnc sweep): jit_*.c, built
 * only where LLVM was found (make LLVM=auto) into nnc-jit.so beside the
 * runtime, which jit_load.c loads on first use.  Without it
 * cg_jit_available() is 0 and the others print how to get it and fail. */
int cg_jit_available(void);
/* Print the (unoptimised) LLVM IR of p; -1 after an error. */
int cg_emit_llvm(FILE *f, const IrProgram *p);
/* Compile p in memory and hand it to the runtime's command line, like a
 * generated trainer's main(): argv[1] is train, init, grad, eval or check.
 * Returns the exit status. */
int cg_jit_run(const IrProgram *p, int argc, char **argv);
/* cg_jit_run in two steps: compile once (NULL after an error, printed),
 * then run the command line as often as wanted, e.g. in forked children.
 * flags are the trainer flags the runs will have (--trap-nan needs code
 * of its own); work is the FLOPs of all the runs that will use the code
 * (cg_jit_work of each, added up; -1 when one is unknown), which chooses
 * between quick and optimised code (docs/jit.md).  p must outlive the
 * compiled model. */
typedef struct CgJit CgJit;
CgJit *cg_jit_compile(const IrProgram *p, int nflags, char **flags, double work);
/* The FLOPs of a run of the trainer command line flags (argv without the
 * program; the command, if any, first), as far as the model's settings and
 * the flags tell before training: the updates and the evaluations of every
 * epoch.  -1 when the data is read from files. */
double cg_jit_work(const IrProgram *p, int nflags, char **flags);
int cg_jit_main(CgJit *jit, int argc, char **argv);
void cg_jit_free(CgJit *jit);
/* Where the compiled model's object code came from instead of LLVM's
 * optimiser and code generator: 1 the compile cache (cache.h), 2 a
 * compilation of the same code in this process (or one at the same time,
 * which it waited for); else 0. */
int cg_jit_cached(const CgJit *jit);
/* Was the model compiled to quick code (cg_jit_compile)? */
int cg_jit_quick(const CgJit *jit);

/* The directory of nnrt.h, libnnrt.a and nnc-jit.so: $NNC_RUNTIME, else
 * runtime/ beside the nnc executable (the build tree), else ../lib/nnc
 * from it (`make install`). */
const char *cg_runtime_dir(void);

#endif
