/*
 * ad.h - reverse-mode differentiation as an IR-to-IR transformation.
 */
#ifndef NNC_AD_H
#define NNC_AD_H

#include "ir.h"

/* Append the adjoint programs of the loss (seeded with the runtime's weight
 * w = 1/B or 1 per sample) and of the penalty (seeded with 1) to p, and
 * record each trainable parameter's gradient value in p->grad. */
void ad_differentiate(IrProgram *p);

/* ---- for the rules (rules.c) ---- */

typedef struct AdCtx AdCtx;

/* Add op(args) into the adjoint of `target` (creating the adjoint buffer on
 * first use); nothing when target is inactive.  Returns the new value or -1. */
int ad_contrib(AdCtx *cx, int target, Op op, int nargs, const int *args, int ta, int tb);
/* A constant for use in an adjoint step. */
int ad_const(AdCtx *cx, double x);
const Value *ad_value(AdCtx *cx, int id);

typedef void AdRule(AdCtx *cx, int v, int d);

#endif
