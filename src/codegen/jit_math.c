/*
 * jit_math.c - the JIT's arithmetic beyond one instruction: the float32
 * exp, log1p and tanh inlined as the runtime computes them, and ops.def's
 * element expressions (c_expr) as LLVM instructions.
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

/* ---- ops.def's c_expr templates as LLVM instructions ----
 *
 * The templates use a small part of C, parsed here by recursive descent:
 *
 *   expr    = compare ("?" expr ":" expr)?
 *   compare = sum ((">" | "<" | "==") sum)?
 *   sum     = product (("+" | "-") product)*
 *   product = unary (("*" | "/") unary)*
 *   unary   = "-" unary | primary
 *   primary = "$" DIGIT | NUMBER | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
 *
 * A comparison is an i1; used in arithmetic it becomes 0 or 1 of the real
 * type, as C's int would (the only integer arithmetic in the templates,
 * (x > 0) - (x < 0), is exact either way). */
typedef struct Tmpl {
    Jit *j;
    const char *s;
    LLVMValueRef ops[3];
} Tmpl;

static LLVMValueRef t_expr(Tmpl *t);

static void t_space(Tmpl *t)
{
    while (*t->s == ' ')
        t->s++;
}

static int t_eat(Tmpl *t, const char *tok)
{
    t_space(t);
    size_t n = strlen(tok);
    if (strncmp(t->s, tok, n) != 0)
        return 0;
    t->s += n;
    return 1;
}

static void t_expect(Tmpl *t, const char *tok)
{
    if (!t_eat(t, tok))
        diag_internal("jit: c_expr template: expected '%s' at '%s'", tok, t->s);
}

static LLVMValueRef t_real(Tmpl *t, LLVMValueRef x)
{
    if (LLVMTypeOf(x) == t->j->i1)
        return LLVMBuildUIToFP(t->j->b, x, t->j->real, "");
    return x;
}

static LLVMValueRef t_primary(Tmpl *t)
{
    Jit *j = t->j;
    t_space(t);
    if (*t->s == '$') {
        int k = t->s[1] - '0';
        t->s += 2;
        return t->ops[k];
    }
    if (*t->s >= '0' && *t->s <= '9') {
        char *end;
        double x = strtod(t->s, &end);
        t->s = end;
        return const_real(j, x);
    }
    if (t_eat(t, "(")) {
        LLVMValueRef x = t_expr(t);
        t_expect(t, ")");
        return x;
    }
    /* FUNC(args): the dtype's libm function, or an LLVM intrinsic where
     * one exists (it becomes the same libm call, or one instruction);
     * EXP, LOG1P and TANH in float32 are the runtime's nnrt_expf etc.
     * (jit_expf, jit_log1pf, jit_tanhf) */
    static const char *const fns[][3] = {
        {"EXP", "llvm.exp"}, {"LOG1P", NULL, "log1p"}, {"LOG", "llvm.log"},
        {"SQRT", "llvm.sqrt"}, {"TANH", NULL, "tanh"}, {"FABS", "llvm.fabs"},
        {"POW", "llvm.pow"},
    };
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        size_t len = strlen(fns[k][0]);
        if (strncmp(t->s, fns[k][0], len) != 0 || t->s[len] != '(')
            continue;
        t->s += len + 1;
        LLVMValueRef args[3];
        int nargs = 0;
        do
            args[nargs++] = t_real(t, t_expr(t));
        while (nargs < 3 && t_eat(t, ","));
        t_expect(t, ")");
        int f32 = j->p->dtype == DT_F32;
        if (f32 && strcmp(fns[k][0], "EXP") == 0)
            return jit_expf(j, args[0]);
        if (f32 && strcmp(fns[k][0], "LOG1P") == 0)
            return jit_log1pf(j, args[0]);
        if (f32 && strcmp(fns[k][0], "TANH") == 0)
            return jit_tanhf(j, args[0]);
        char name[32];
        if (fns[k][1])
            snprintf(name, sizeof name, "%s.%s", fns[k][1], f32 ? "f32" : "f64");
        else
            snprintf(name, sizeof name, "%s%s", fns[k][2], f32 ? "f" : "");
        return call_math(j, name, args, nargs);
    }
    diag_internal("jit: c_expr template: unexpected '%s'", t->s);
}

static LLVMValueRef t_unary(Tmpl *t)
{
    if (t_eat(t, "-"))
        return LLVMBuildFNeg(t->j->b, t_real(t, t_unary(t)), "");
    return t_primary(t);
}

static LLVMValueRef t_product(Tmpl *t)
{
    LLVMValueRef x = t_unary(t);
    for (;;) {
        if (t_eat(t, "*"))
            x = LLVMBuildFMul(t->j->b, t_real(t, x), t_real(t, t_unary(t)), "");
        else if (t_eat(t, "/"))
            x = LLVMBuildFDiv(t->j->b, t_real(t, x), t_real(t, t_unary(t)), "");
        else
            return x;
    }
}

static LLVMValueRef t_sum(Tmpl *t)
{
    LLVMValueRef x = t_product(t);
    for (;;) {
        if (t_eat(t, "+"))
            x = real_add(t->j, t_real(t, x), t_real(t, t_product(t)));
        else if (t_eat(t, "-"))
            x = real_sub(t->j, t_real(t, x), t_real(t, t_product(t)));
        else
            return x;
    }
}

static LLVMValueRef t_compare(Tmpl *t)
{
    LLVMValueRef x = t_sum(t);
    LLVMRealPredicate pred;
    if (t_eat(t, "=="))
        pred = LLVMRealOEQ;
    else if (t_eat(t, ">"))
        pred = LLVMRealOGT;
    else if (t_eat(t, "<"))
        pred = LLVMRealOLT;
    else
        return x;
    return LLVMBuildFCmp(t->j->b, pred, t_real(t, x), t_real(t, t_sum(t)), "");
}

static LLVMValueRef t_expr(Tmpl *t)
{
    LLVMValueRef c = t_compare(t);
    if (!t_eat(t, "?"))
        return c;
    LLVMValueRef a = t_real(t, t_expr(t));
    t_expect(t, ":");
    LLVMValueRef b = t_real(t, t_expr(t));
    if (LLVMTypeOf(c) != t->j->i1)
        c = LLVMBuildFCmp(t->j->b, LLVMRealUNE, c, const_real(t->j, 0), "");
    return LLVMBuildSelect(t->j->b, c, a, b, "");
}

LLVMValueRef build_expr(Jit *j, const char *tmpl, LLVMValueRef *ops, int nops)
{
    Tmpl t = {j, tmpl, {NULL, NULL, NULL}};
    for (int k = 0; k < nops; k++)
        t.ops[k] = ops[k];
    LLVMValueRef x = t_real(&t, t_expr(&t));
    t_space(&t);
    if (*t.s)
        diag_internal("jit: c_expr template: trailing '%s'", t.s);
    return x;
}

