/*
 * jit_math.c - the JIT's arithmetic beyond one instruction: the float32
 * exp, log1p and tanh inlined as the runtime computes them, the math
 * functions of ir_math (expr.h) by the dtype, and ops.def's element
 * expressions, parsed once into trees (expr.h), as LLVM instructions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jit_internal.h"
#include "nnrt_internal.h"

/* ---- float32 exp, log1p and tanh: the runtime's nnrt_expf, nnrt_log1pf
 * and nnrt_tanhf (runtime/nnrt.h), the same operations in the same order
 * from the same constants, so that `nnc run` and the C trainer agree bit
 * for bit (tests/e2e/jit.sh); inline, so that the loops around them
 * vectorise.  A line of C there is a line here. */

static LLVMValueRef select_if(Jit *j, LLVMRealPredicate pred, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef yes, LLVMValueRef no)
{
    return LLVMBuildSelect(j->b, LLVMBuildFCmp(j->b, pred, a, b, ""), yes, no, "");
}

/* nnrt_pow2if: 2^n from the exponent bits */
static LLVMValueRef pow2i(Jit *j, LLVMValueRef n)
{
    LLVMValueRef bits = LLVMBuildShl(j->b, LLVMBuildAdd(j->b, n, const_i32(j, 127), ""), const_i32(j, 23), "");
    return LLVMBuildBitCast(j->b, bits, j->real, "");
}

LLVMValueRef jit_expf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_EXPF_POLY;
    LLVMValueRef hi = const_real(j, NNRT_EXPF_MAX), lo = const_real(j, NNRT_EXPF_MIN);
    LLVMValueRef t = select_if(j, LLVMRealOLT, x, hi, x, hi);
    t = select_if(j, LLVMRealOGT, t, lo, t, lo);
    LLVMValueRef n = real_sub(j, real_add(j, real_mul(j, t, const_real(j, NNRT_LOG2EF)), const_real(j, NNRT_ROUNDF)),
                          const_real(j, NNRT_ROUNDF));
    LLVMValueRef r = real_sub(j, t, real_mul(j, n, const_real(j, NNRT_LN2F_HI)));
    r = real_sub(j, r, real_mul(j, n, const_real(j, NNRT_LN2F_LO)));
    LLVMValueRef p = horner(j, c, sizeof c / sizeof c[0], r);
    LLVMValueRef ni = LLVMBuildFPToSI(j->b, n, j->i32, "");
    LLVMValueRef half = LLVMBuildSDiv(j->b, ni, const_i32(j, 2), "");
    LLVMValueRef y = real_add(j, real_add(j, real_mul(j, p, real_mul(j, r, r)), r), const_real(j, 1));
    y = real_mul(j, real_mul(j, y, pow2i(j, half)), pow2i(j, LLVMBuildSub(j->b, ni, half, "")));
    return select_if(j, LLVMRealOEQ, x, x, y, x);
}

LLVMValueRef jit_log1pf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_LOGF_POLY;
    LLVMValueRef one = const_real(j, 1), sqrt2 = const_real(j, NNRT_SQRT2F);
    LLVMValueRef w = real_add(j, one, x);
    LLVMValueRef lost = select_if(j, LLVMRealOGT, x, one, real_sub(j, one, real_sub(j, w, x)),
                                real_sub(j, x, real_sub(j, w, one)));
    LLVMValueRef bits = LLVMBuildBitCast(j->b, w, j->i32, "");
    LLVMValueRef e = LLVMBuildSIToFP(j->b, LLVMBuildLShr(j->b, bits, const_i32(j, 23), ""), j->real, "");
    e = real_sub(j, e, const_real(j, 127));
    bits = LLVMBuildOr(j->b, LLVMBuildAnd(j->b, bits, const_i32(j, 0x007fffff), ""),
                       const_i32(j, 0x3f800000), "");
    LLVMValueRef m = LLVMBuildBitCast(j->b, bits, j->real, "");
    e = select_if(j, LLVMRealOGT, m, sqrt2, real_add(j, e, one), e);
    LLVMValueRef f = real_sub(j, select_if(j, LLVMRealOGT, m, sqrt2, real_mul(j, m, const_real(j, 0.5)), m), one);
    LLVMValueRef z = real_mul(j, f, f), p = horner(j, c, sizeof c / sizeof c[0], f);
    LLVMValueRef y = real_mul(j, real_mul(j, p, f), z);
    y = real_add(j, y, real_mul(j, e, const_real(j, NNRT_LN2F_LO)));
    y = real_sub(j, y, real_mul(j, const_real(j, 0.5), z));
    y = real_add(j, y, LLVMBuildFDiv(j->b, lost, w, ""));
    y = real_add(j, f, y);
    y = real_add(j, y, real_mul(j, e, const_real(j, NNRT_LN2F_HI)));
    y = select_if(j, LLVMRealOLT, w, const_real(j, INFINITY), y, w);
    LLVMValueRef special =
        select_if(j, LLVMRealOEQ, w, const_real(j, 0), const_real(j, -INFINITY), const_real(j, NAN));
    y = select_if(j, LLVMRealOGT, w, const_real(j, 0), y, special);
    return select_if(j, LLVMRealOEQ, x, const_real(j, 0), x, y);
}

LLVMValueRef jit_tanhf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_TANHF_POLY;
    LLVMValueRef z = real_mul(j, x, x);
    LLVMValueRef s = horner(j, c, sizeof c / sizeof c[0], z);
    s = real_add(j, real_mul(j, real_mul(j, s, z), x), x);
    LLVMValueRef a = call_math(j, "llvm.fabs.f32", &x, 1);
    LLVMValueRef cap = const_real(j, NNRT_TANHF_CAP);
    LLVMValueRef capped = select_if(j, LLVMRealOLT, a, cap, a, cap);
    LLVMValueRef e = jit_expf(j, real_add(j, capped, capped));
    LLVMValueRef big =
        real_sub(j, const_real(j, 1), LLVMBuildFDiv(j->b, const_real(j, 2), real_add(j, e, const_real(j, 1)), ""));
    LLVMValueRef sign[2] = {
        select_if(j, LLVMRealOGE, a, const_real(j, NNRT_TANHF_SMALL), big, s), x};
    return call_math(j, "llvm.copysign.f32", sign, 2);
}

/* ---- element expressions (expr.h) as LLVM instructions ----
 *
 * A comparison is an i1; used in arithmetic it becomes 0 or 1 of the real
 * type, as C's int would (the only integer arithmetic in the templates,
 * (x > 0) - (x < 0), is exact either way).  A number is of the dtype:
 * in float32 the float nearest to what the template says, as C's 0.01f. */

static LLVMValueRef as_real(Jit *j, LLVMValueRef x)
{
    if (LLVMTypeOf(x) == j->i1)
        return LLVMBuildUIToFP(j->b, x, j->real, "");
    return x;
}

/* Math function f (ir_math) of the dtype: an LLVM intrinsic where one
 * exists (it becomes the same libm call, or one instruction), else libm's
 * function; EXP, LOG1P and TANH in float32 are the runtime's nnrt_expf
 * etc. inline (jit_expf, jit_log1pf, jit_tanhf). */
LLVMValueRef build_math(Jit *j, MathFn f, LLVMValueRef *args)
{
    const MathInfo *m = &ir_math[f];
    int f32 = j->p->dtype == DT_F32;
    if (f32 && m->inline_f32) {
        switch (f) {
        case MATH_EXP: return jit_expf(j, args[0]);
        case MATH_LOG1P: return jit_log1pf(j, args[0]);
        case MATH_TANH: return jit_tanhf(j, args[0]);
        default: diag_internal("jit: %s has no inline float32 form", m->name);
        }
    }
    char name[32];
    if (m->llvm)
        snprintf(name, sizeof name, "%s.%s", m->llvm, f32 ? "f32" : "f64");
    else
        snprintf(name, sizeof name, "%s%s", m->c_f64, f32 ? "f" : "");
    return call_math(j, name, args, m->arity);
}

/* An operand of ops that is NULL is made by lazy (with ctx) where the
 * expression first reads it, and kept in ops. */
typedef struct Lazy { LLVMValueRef (*make)(Jit *j, int arg, void *ctx); void *ctx; } Lazy;

static LLVMValueRef build_node(Jit *j, const IrExpr *e, LLVMValueRef *ops, const Lazy *lz)
{
    LLVMValueRef x[3];
    switch (e->kind) {
    case E_NUM:
        return const_real(j, j->p->dtype == DT_F32 ? (double)e->numf : e->num);
    case E_ARG:
        if (!ops[e->arg] && lz)
            ops[e->arg] = lz->make(j, e->arg, lz->ctx);
        return ops[e->arg];
    case E_COND: {
        LLVMValueRef c = build_node(j, e->kid[0], ops, lz);
        x[1] = as_real(j, build_node(j, e->kid[1], ops, lz));
        x[2] = as_real(j, build_node(j, e->kid[2], ops, lz));
        if (LLVMTypeOf(c) != j->i1)
            c = LLVMBuildFCmp(j->b, LLVMRealUNE, c, const_real(j, 0), "");
        return LLVMBuildSelect(j->b, c, x[1], x[2], "");
    }
    default:
        break;
    }
    for (int k = 0; k < e->nkids; k++)
        x[k] = as_real(j, build_node(j, e->kid[k], ops, lz));
    switch (e->kind) {
    case E_NEG: return LLVMBuildFNeg(j->b, x[0], "");
    case E_ADD: return real_add(j, x[0], x[1]);
    case E_SUB: return real_sub(j, x[0], x[1]);
    case E_MUL: return LLVMBuildFMul(j->b, x[0], x[1], "");
    case E_DIV: return LLVMBuildFDiv(j->b, x[0], x[1], "");
    case E_GT: return LLVMBuildFCmp(j->b, LLVMRealOGT, x[0], x[1], "");
    case E_LT: return LLVMBuildFCmp(j->b, LLVMRealOLT, x[0], x[1], "");
    case E_EQ:
        /* the row algorithms compare indices (j == cls, plan.h): integers */
        if (LLVMGetTypeKind(LLVMTypeOf(x[0])) == LLVMIntegerTypeKind)
            return LLVMBuildICmp(j->b, LLVMIntEQ, x[0], x[1], "");
        return LLVMBuildFCmp(j->b, LLVMRealOEQ, x[0], x[1], "");
    case E_CALL: return build_math(j, e->fn, x);
    default: diag_internal("jit: expression kind %d", (int)e->kind);
    }
}

LLVMValueRef build_expr(Jit *j, const IrExpr *e, LLVMValueRef *ops)
{
    return as_real(j, build_node(j, e, ops, NULL));
}

LLVMValueRef build_expr_lazy(Jit *j, const IrExpr *e, LLVMValueRef *ops,
                             LLVMValueRef (*make)(Jit *j, int arg, void *ctx), void *ctx)
{
    Lazy lz = {make, ctx};
    return as_real(j, build_node(j, e, ops, &lz));
}
