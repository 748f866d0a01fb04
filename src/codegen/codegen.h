/*
 * codegen.h - backends: C source (emit_c.c).
 */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H

#include <stdio.h>
#include "ir.h"

typedef struct CgOptions {
    int lib;              /* library form: no main(), a NAME_model() accessor */
    const char *header;   /* with lib: the header's file name, to #include it */
} CgOptions;

/* Write the trainer for p (forward and adjoint programs) as C to f. */
void cg_emit_c(FILE *f, const IrProgram *p, const CgOptions *opt);
/* With lib: the header declaring NAME_model(). */
void cg_emit_header(FILE *f, const IrProgram *p);

#endif
