/*
 * emit_c.c - the C backend: IR (forward and adjoint programs) to a trainer.
 *
 * The output is meant to be read next to the model: a header, the tables
 * describing parameters and data, a workspace struct holding every
 * intermediate tensor for up to `cap` samples, and four functions —
 * forward, backward, penalty, output — each a straight sequence of loops,
 * one per IR value, preceded by the source line (forward) or the adjoint
 * equation (backward) it implements.  main() hands the model to the
 * runtime (nnrt_main).
 *
 * Every per-sample tensor of shape S is stored for a batch of n samples as
 * [S, n], row-major: samples innermost.  Element i of sample b is at
 * x[i * n + b], so the loop over the batch is the innermost one, with unit
 * stride, and the C compiler vectorises it whatever the layer's size (the
 * tiny layers of a 2-10-10-1 MLP as well as the wide ones).  Inputs arrive
 * sample by sample and are transposed once on entry; the prediction is
 * transposed back for the runtime.  Large matrix products over the batch
 * become one GEMM (OpenBLAS when the runtime has it, see emit_matmul), small
 * ones loops with constant bounds; everything else is a loop.  The output is
 * deterministic: the same model gives the same bytes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "nnrt.h"   /* nnrt_num_text: numbers as the runtime reads them back */
#include "plan.h"
#include "cg_loops.h"
#include "expr.h"
#include "nnrt.h"

#define NNC_VERSION "0.1.0"

typedef struct Cg {
    const IrProgram *p;
    const CgOptions *opt;
    FILE *f;              /* where the current function's body goes */
    char **cname;         /* C identifier of each value */
    int *ctable;          /* hash table over cname (make_names), cmask + 1 slots */
    size_t cmask;
    CgLayout lay;         /* buffers and parameter offsets (plan.h) */
    char *used;           /* value referenced in the current function */
    char *written;        /* adjoint buffer already written in the current function */
    int last_stmt;
    int backward;         /* emitting an adjoint program */
    int uses;             /* which of the function's arguments the body used (ARG_*) */
    int tile;             /* NnrtModel.tile (plan.h cg_tile), 0 for none */
    int fused;            /* fu is planned (the default style) */
    int depth;            /* rolled loops open around the code being written */
    CgFusion fu;          /* the fused loops (plan.h) */
} Cg;

enum { ARG_PARAMS = 1, ARG_GRADS = 2, ARG_SEED = 4, ARG_N = 8, ARG_KEEP = 16 };

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        diag_internal("out of memory");
    return p;
}

static void out(Cg *cg, int indent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void out(Cg *cg, int indent, const char *fmt, ...)
{
    va_list ap;
    fprintf(cg->f, "%*s", 4 * (indent + cg->depth), "");
    va_start(ap, fmt);
    vfprintf(cg->f, fmt, ap);
    va_end(ap);
    fputc('\n', cg->f);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- names ---- */

/* Names a value may not have in the generated C, which then gets a '_'
 * appended (a value named `memcpy` or `NULL` would break the C it is
 * declared in): */
static const char *const reserved[] = {
    /* C keywords */
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex", "_Imaginary",
    "_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn", "_Static_assert", "_Thread_local",
    "bool", "true", "false", "main", "model",
    /* what the headers the generated code includes may define as macros,
     * types or functions it calls (nnrt.h: math.h, stddef.h, stdint.h,
     * stdlib.h, string.h) */
    "NULL", "INFINITY", "NAN", "HUGE_VAL", "HUGE_VALF", "HUGE_VALL", "FP_NAN", "FP_INFINITY",
    "FP_ZERO", "FP_NORMAL", "FP_SUBNORMAL", "MATH_ERRNO", "MATH_ERREXCEPT", "math_errhandling",
    "EXIT_FAILURE", "EXIT_SUCCESS", "RAND_MAX", "MB_CUR_MAX", "SIZE_MAX", "PTRDIFF_MAX",
    "INT8_MAX", "INT16_MAX", "INT32_MAX", "INT64_MAX", "INT8_MIN", "INT16_MIN", "INT32_MIN",
    "INT64_MIN", "UINT8_MAX", "UINT16_MAX", "UINT32_MAX", "UINT64_MAX", "INTPTR_MAX",
    "UINTPTR_MAX", "M_PI", "M_E", "errno", "offsetof", "assert",
    "size_t", "ptrdiff_t", "wchar_t", "max_align_t", "float_t", "double_t", "div_t", "ldiv_t",
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "intptr_t", "uintptr_t", "intmax_t", "uintmax_t",
    "calloc", "malloc", "realloc", "free", "aligned_alloc", "abort", "exit", "memcpy", "memset",
    "memmove", "memcmp", "strlen", "strcmp",
    "exp", "expf", "log", "logf", "log1p", "log1pf", "tanh", "tanhf", "sqrt", "sqrtf", "pow",
    "powf", "fabs", "fabsf", "erf", "erff", "fmax", "fmaxf", "fmin", "fminf", "floor", "floorf",
    "isnan", "isinf", "isfinite", "signbit",
    /* the generated code's own names */
    "b", "i", "j", "k", "r", "n", "m", "s", "t", "ws", "work", "params", "data", "losses",
    "seed", "grads", "real", "cap", "mem", "out", "Work", "create", "destroy", "forward",
    "backward", "penalty_fn", "output", "param_table", "slot_table", "setting_table",
    "example_table", "dot", "sum", "mx", "lse", "cls", "pred", "keep", "keep_all", "nonfinite",
    NULL,
};

/* A reserved name, or one in the runtime's name spaces (nnrt_, NNRT_) or
 * C's (a leading underscore). */
static int reserved_name(const char *name)
{
    if (strncmp(name, "nnrt_", 5) == 0 || strncmp(name, "NNRT_", 5) == 0 || name[0] == '_')
        return 1;
    for (int k = 0; reserved[k]; k++)
        if (strcmp(name, reserved[k]) == 0)
            return 1;
    return 0;
}

/* Every value's C name: its own name (the user's), '_' appended when it
 * is reserved, then _2, _3, ... until it differs from every earlier
 * value's (a parameter's gradient excepted: see below).  The names taken
 * live in a hash table: a model of thousands of steps has thousands. */
static size_t cname_hash(const char *s)
{
    size_t h = 1469598103934665603u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void make_names(Cg *cg)
{
    const IrProgram *p = cg->p;
    cg->cname = xcalloc((size_t)p->nv, sizeof *cg->cname);
    size_t cap = 16;
    while (cap < 2 * (size_t)p->nv)
        cap *= 2;
    /* taken[h]: a value whose C name hashes near h, or -1 */
    int *taken = cg->ctable = xcalloc(cap, sizeof *taken);
    cg->cmask = cap - 1;
    for (size_t h = 0; h < cap; h++)
        taken[h] = -1;
    for (int i = 0; i < p->nv; i++) {
        const Value *v = &p->v[i];
        char num[24];
        snprintf(num, sizeof num, "t%d", i);
        const char *base = v->name ? v->name : "t";
        size_t len = strlen(v->name ? v->name : num);
        char *buf = xcalloc(len + 32, 1);
        strcpy(buf, v->name ? v->name : num);
        if (reserved_name(buf))
            strcat(buf, "_");
        /* unique among values that have storage; a parameter's gradient is
         * a local of each function that adds to it, so the loss's and the
         * penalty's adjoint programs may both call it d_W */
        int grad_of = v->op == OP_ADJ && p->v[v->arg[0]].op == OP_PARAM ? v->arg[0] : -1;
        size_t h;
        for (int k = 2;; k++) {
            int clash = 0;
            for (h = cname_hash(buf) & (cap - 1); taken[h] >= 0; h = (h + 1) & (cap - 1)) {
                const Value *u = &p->v[taken[h]];
                if (strcmp(cg->cname[taken[h]], buf) != 0)
                    continue;
                if (grad_of >= 0 && u->op == OP_ADJ && u->arg[0] == grad_of)
                    continue;
                clash = 1;
                break;
            }
            if (!clash)
                break;
            snprintf(buf, len + 32, "%s_%d", base, k);
        }
        cg->cname[i] = buf;
        /* the first free slot of its probe sequence */
        for (h = cname_hash(buf) & (cap - 1); taken[h] >= 0; h = (h + 1) & (cap - 1))
            ;
        taken[h] = i;
    }
}

/* Is name some value's C name? */
static int cname_taken(const Cg *cg, const char *name)
{
    for (size_t h = cname_hash(name) & cg->cmask; cg->ctable[h] >= 0; h = (h + 1) & cg->cmask)
        if (strcmp(cg->cname[cg->ctable[h]], name) == 0)
            return 1;
    return 0;
}

/* A number as a C literal of the model's type, the shortest that reads back exactly. */
static const char *c_number(const Cg *cg, double x, char *buf, size_t n)
{
    int f32 = cg->p->dtype == DT_F32;
    if (x != x)
        snprintf(buf, n, "NAN");
    else if (x == 1.0 / 0.0 || x == -1.0 / 0.0)
        snprintf(buf, n, x > 0 ? "INFINITY" : "(-INFINITY)");
    else {
        char tmp[64];
        for (int prec = f32 ? 6 : 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, x);
            double back = strtod(tmp, NULL);
            if (f32 ? (float)back == (float)x : back == x)
                break;
        }
        if (!strpbrk(tmp, ".en"))
            strcat(tmp, ".0");
        snprintf(buf, n, "%s%s%s%s", x < 0 ? "(" : "", tmp, f32 ? "f" : "", x < 0 ? ")" : "");
    }
    return buf;
}

/* ---- operand access ---- */

static int numel(const Value *v) { return shape_numel(&v->shape); }

/* Is the value's storage a per-sample batch? */
static int stored_batched(const Cg *cg, int id)
{
    const Value *v = &cg->p->v[id];
    return v->batched;
}

/* The C expression for element i of value id, in an iteration space of N
 * elements per sample, inside loops over b (when batched) and i.  In a
 * flat loop (i runs over n * N elements at once) an operand is either the
 * whole tensor, indexed by i, or a single unbatched number. */
static void elem(Cg *cg, int id, int N, int flat, int loop_batched, char *buf, size_t n)
{
    const Value *v = &cg->p->v[id];
    if (v->op == OP_CONST) {
        c_number(cg, v->num, buf, n);
        return;
    }
    if (v->op == OP_SEED) {
        cg->uses |= ARG_SEED;
        snprintf(buf, n, "seed");
        return;
    }
    cg->used[id] = 1;
    int M = numel(v);
    const char *name = cg->cname[id];
    int bat = stored_batched(cg, id);
    if (bat && !flat)
        cg->uses |= ARG_N;
    if (flat)
        snprintf(buf, n, M == N && bat == loop_batched ? "%s[i]" : "%s[0]", name);
    else if (M == 1)
        snprintf(buf, n, bat ? "%s[b]" : "%s[0]", name);
    else if (M == N)
        snprintf(buf, n, "%s[%s]", name, bat ? "i * n + b" : "i");
    else
        snprintf(buf, n, "%s[i %% %d%s]", name, M, bat ? " * n + b" : "");
}

/* An element expression (expr.h) as C, appended to buf (len so far, n
 * its size): $k is operand k's element ops[k]; a math function the
 * dtype's (ir_math: EXP, LOG1P and TANH in float32 the runtime's
 * nnrt_expf, nnrt_log1pf and nnrt_tanhf, which vectorise); an integer as
 * written (C converts it exactly), a decimal a literal of the dtype (0.01f
 * in float32).  Parentheses where the template has them and where C's
 * precedence needs them. */
static size_t print_expr(char *buf, size_t n, size_t len, const IrExpr *e, int f32,
                         const char *const *ops)
{
#define PUT(...) (len += (size_t)snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__), \
                  len = len < n ? len : n - 1)
    static const char *const sym[] = {
        [E_ADD] = " + ", [E_SUB] = " - ", [E_MUL] = " * ", [E_DIV] = " / ",
        [E_GT] = " > ", [E_LT] = " < ", [E_EQ] = " == ",
    };
    int prec = ir_expr_prec(e);
    if (e->paren)
        PUT("(");
    switch (e->kind) {
    case E_NUM:
        PUT("%s%s", e->text, f32 && !e->integer ? "f" : "");
        break;
    case E_ARG:
        PUT("%s", ops[e->arg]);
        break;
    case E_NEG:
    case E_ADD: case E_SUB: case E_MUL: case E_DIV:
    case E_GT: case E_LT: case E_EQ:
        for (int k = 0; k < e->nkids; k++) {
            const IrExpr *c = e->kid[k];
            /* a child binding less than this operator (or as much, on the
             * right of a left-associative one, or under a minus: - -x) is
             * parenthesised */
            int wrap = !c->paren && (ir_expr_prec(c) < prec
                                     || (ir_expr_prec(c) == prec && (k == 1 || e->kind == E_NEG)));
            if (e->kind == E_NEG)
                PUT("-");
            else if (k == 1)
                PUT("%s", sym[e->kind]);
            if (wrap)
                PUT("(");
            len = print_expr(buf, n, len, c, f32, ops);
            if (wrap)
                PUT(")");
        }
        break;
    case E_COND:
        for (int k = 0; k < 3; k++) {
            int wrap = !e->kid[k]->paren && ir_expr_prec(e->kid[k]) <= prec && k == 0;
            PUT("%s%s", k == 1 ? " ? " : k == 2 ? " : " : "", wrap ? "(" : "");
            len = print_expr(buf, n, len, e->kid[k], f32, ops);
            if (wrap)
                PUT(")");
        }
        break;
    case E_CALL:
        PUT("%s(", f32 ? ir_math[e->fn].c_f32 : ir_math[e->fn].c_f64);
        for (int k = 0; k < e->nkids; k++) {
            if (k)
                PUT(", ");
            len = print_expr(buf, n, len, e->kid[k], f32, ops);
        }
        PUT(")");
        break;
    }
    if (e->paren)
        PUT(")");
    return len;
#undef PUT
}

void cg_c_expr(const IrProgram *p, const IrExpr *e, const char *const *ops, char *buf, size_t n)
{
    buf[0] = '\0';
    print_expr(buf, n, 0, e, p->dtype == DT_F32, ops);
}

/* The operator of value id's store st (cg_store): "=", or "+=" after
 * zeroing the target first (once) when st says so. */
static const char *store_text(Cg *cg, int id, CgStore st, const char *count)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    if (v->acc < 0)
        return "=";
    const Value *t = &p->v[v->acc];
    if (v->batched)
        cg->uses |= ARG_N;
    if (st == CG_ADD)
        return "+=";
    cg->used[v->acc] = 1;
    if (st == CG_ASSIGN)
        return "=";
    out(cg, 1, "memset(%s, 0, %s%d * sizeof *%s);", cg->cname[v->acc],
        t->batched ? count : "", numel(t), cg->cname[v->acc]);
    return "+=";
}

/* For an accumulating op: "=" on a first full write, otherwise zero the
 * target first (once) and "+=". */
static const char *assign_op(Cg *cg, int id, const char *count)
{
    return store_text(cg, id, cg_store(cg->p, id, cg->written), count);
}

/* ---- the ops ---- */

/* A reference of a loop nest (plan.h CgRef) as C: an element of a value
 * (x[i], x[i * n + b], x[(i * 3 + k) * n + b], x[i % 4 * n + b],
 * x[(j + 40) * n + b]), the nest's local, a number, the seed. */
static void nest_ref(Cg *cg, const CgNest *ns, const CgRef *r, char *buf, size_t n)
{
    switch (r->kind) {
    case CG_REF_NUM:
        c_number(cg, r->num, buf, n);
        return;
    case CG_REF_SEED:
        cg->uses |= ARG_SEED;
        snprintf(buf, n, "seed");
        return;
    case CG_REF_LOCAL:
        snprintf(buf, n, "%s", ns->local);
        return;
    case CG_REF_ELEM:
        break;
    }
    char idx[96] = "";
    size_t len = 0;
    for (int t = 0; t < r->nterms; t++) {
        const CgTerm *m = &r->term[t];
        const char *x = cg_var_name[m->var];
        if (m->div > 1) {   /* a stretched operand in a fused loop (cg_stretched_ref) */
            len += (size_t)snprintf(idx + len, sizeof idx - len, "%s%s / %d", t ? " + " : "", x,
                                    m->div);
            if (m->mod && len < sizeof idx)
                len += (size_t)snprintf(idx + len, sizeof idx - len, " %% %d", m->mod);
            if (m->coef != 1 && len < sizeof idx)
                len += (size_t)snprintf(idx + len, sizeof idx - len, " * %d", m->coef);
        } else if (m->mod)
            len += (size_t)snprintf(idx + len, sizeof idx - len, "%s%s %% %d", t ? " + " : "", x,
                                    m->mod);
        else if (m->coef != 1)
            len += (size_t)snprintf(idx + len, sizeof idx - len, "%s%s * %d", t ? " + " : "", x,
                                    m->coef);
        else
            len += (size_t)snprintf(idx + len, sizeof idx - len, "%s%s", t ? " + " : "", x);
        len = len < sizeof idx ? len : sizeof idx - 1;
    }
    if (r->off || !r->nterms)
        snprintf(idx + len, sizeof idx - len, r->nterms ? " + %d" : "%d", r->off);
    int parts = r->nterms + (r->off && r->nterms);
    const char *name = cg->cname[r->id];
    cg->used[r->id] = 1;
    if (!r->batched) {
        snprintf(buf, n, "%s[%s]", name, idx);
        return;
    }
    cg->uses |= ARG_N;
    if (r->nterms == 0 && !r->off)
        snprintf(buf, n, "%s[b]", name);
    else if (parts > 1 || (parts == 1 && r->term[0].coef != 1 && !r->term[0].mod) ||
             (parts == 1 && r->term[0].div > 1))
        snprintf(buf, n, "%s[(%s) * n + b]", name, idx);
    else
        snprintf(buf, n, "%s[%s * n + b]", name, idx);
}

/* A loop nest (plan.h cg_nest) as C. */
static void emit_nest(Cg *cg, const CgNest *ns)
{
    static const char *const op[] = {[CG_OP_SET] = "=", [CG_OP_ADD] = "+=", [CG_OP_DIV] = "/="};
    int ind = 1, brace[16], nopen = 0;
    for (int k = 0; k < ns->nsteps; k++) {
        const CgNestStep *s = &ns->step[k];
        switch (s->kind) {
        case CG_N_LOOP: {
            const char *x = cg_var_name[s->var];
            char count[32];
            if (s->count == CG_COUNT_CONST)
                snprintf(count, sizeof count, "%d", s->k);
            else if (s->count == CG_COUNT_SAMPLES || s->k == 1)
                snprintf(count, sizeof count, "n");
            else
                snprintf(count, sizeof count, "n * %d", s->k);
            if (s->count != CG_COUNT_CONST)
                cg->uses |= ARG_N;
            if (s->sum)
                out(cg, ind, "NNRT_SIMD_SUM(%s)", ns->local);
            out(cg, ind++, "for (int %s = 0; %s < %s; %s++)%s", x, x, count, x,
                s->brace ? " {" : "");
            brace[nopen++] = s->brace;
            break;
        }
        case CG_N_BLOCK:
            out(cg, ind++, "{");
            brace[nopen++] = 1;
            break;
        case CG_N_UNLESS_HELD:
            out(cg, ind++, "if (!nnrt_held()) {   /* else as nnc check holds it */");
            brace[nopen++] = 1;
            break;
        case CG_N_END:
            ind--;
            if (brace[--nopen])
                out(cg, ind, "}");
            break;
        case CG_N_CLEAR: {
            const Value *d = &cg->p->v[s->dst.id];
            const char *name = cg->cname[s->dst.id];
            cg->used[s->dst.id] = 1;
            out(cg, ind, "memset(%s, 0, %s%d * sizeof *%s);", name,
                d->batched ? "(size_t)n * " : "", numel(d), name);
            break;
        }
        case CG_N_STORE: {
            char dst[128], args[3][128], e[512];
            const char *opp[3] = {args[0], args[1], args[2]};
            for (int a = 0; a < s->nargs; a++)
                nest_ref(cg, ns, &s->arg[a], args[a], sizeof args[a]);
            cg_c_expr(cg->p, s->e, opp, e, sizeof e);
            if (s->op == CG_OP_DECL) {
                out(cg, ind, "real %s = %s;", ns->local, e);
            } else {
                nest_ref(cg, ns, &s->dst, dst, sizeof dst);
                out(cg, ind, "%s %s %s;", dst, op[s->op], e);
            }
            break;
        }
        }
    }
}

/* An elementwise op, a transpose, a reduction, a view or a product
 * planned as loops: its loop nest. */
static void emit_loops(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    CgStore st = CG_ASSIGN;
    if (p->v[id].acc >= 0) {
        const char *op = assign_op(cg, id, "(size_t)n * ");
        st = strcmp(op, "=") == 0 ? CG_ASSIGN : CG_ADD;
    }
    CgNest ns;
    cg_nest(p, id, st, &ns);
    emit_nest(cg, &ns);
}

/* A size or leading dimension of a GEMM call (plan.h CgDim) as C. */
static const char *gemm_dim(CgDim d, char *buf, size_t n)
{
    if (d.kind == CG_DIM_CONST)
        snprintf(buf, n, "%d", d.k);
    else if (d.k == 1)
        snprintf(buf, n, "n");
    else
        snprintf(buf, n, "n * %d", d.k);
    return buf;
}

/* A product by its plan (plan.h): one GEMM, a GEMM over the whole batch
 * (samples innermost: a batched vector of k values is a [k, n] matrix), or
 * loops. */
static void emit_matmul(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    int ia = v->arg[0], ib = v->arg[1], dst = cg_dest(cg->p, id);
    CgMatmul mm = cg_matmul_plan(p, id);
    cg->used[ia] = cg->used[ib] = cg->used[dst] = 1;
    if (mm.kind == CG_MM_LOOPS) {
        emit_loops(cg, id);
        return;
    }
    const char *op = assign_op(cg, id, "(size_t)n * ");
    if (mm.kind != CG_MM_SINGLE)
        cg->uses |= ARG_N;
    CgGemm g = cg_gemm(p, id, &mm);
    char d[6][32];
    out(cg, 1, "nnrt_gemm(%d, %d, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s);", g.ta, g.tb,
        gemm_dim(g.M, d[0], 32), gemm_dim(g.N, d[1], 32), gemm_dim(g.K, d[2], 32),
        cg->cname[g.a], gemm_dim(g.lda, d[3], 32), cg->cname[g.b], gemm_dim(g.ldb, d[4], 32),
        strcmp(op, "=") == 0 ? "0" : "1", cg->cname[dst], gemm_dim(g.ldc, d[5], 32));
}

/* Element idx of value id as stored: x[idx], or per sample x[idx * n + b]. */
static void stored_elem(Cg *cg, int id, const char *idx, char *buf, size_t n)
{
    const char *name = cg->cname[id];
    if (!cg->p->v[id].batched)
        snprintf(buf, n, "%s[%s]", name, idx);
    else if (strcmp(idx, "0") == 0)
        snprintf(buf, n, "%s[b]", name);
    else
        snprintf(buf, n, strchr(idx, ' ') ? "%s[(%s) * n + b]" : "%s[%s * n + b]", name, idx);
}

/* A gather or a scatter-add (plan.h CgGather): per sample and index, the
 * row the index names, element by element. */
static void emit_gather(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    CgGather g = cg_gather_plan(p, id);
    const char *op = assign_op(cg, id, "(size_t)n * ");
    cg->used[g.table] = cg->used[g.index] = cg->used[g.rows] = 1;
    cg->uses |= ARG_N;
    char ri[64], ti[64], re[128], te[128], ie[96];
    if (g.T > 1 && g.D > 1)
        snprintf(ri, sizeof ri, "t * %d + j", g.D);
    else
        snprintf(ri, sizeof ri, g.T > 1 ? "t" : g.D > 1 ? "j" : "0");
    if (g.D > 1)
        snprintf(ti, sizeof ti, "r * %d + j", g.D);
    else
        snprintf(ti, sizeof ti, "r");
    stored_elem(cg, g.rows, ri, re, sizeof re);
    stored_elem(cg, g.table, ti, te, sizeof te);
    stored_elem(cg, g.index, g.T > 1 ? "t" : "0", ie, sizeof ie);
    int ind = 1;
    if (g.T > 1)
        out(cg, ind++, "for (int t = 0; t < %d; t++)", g.T);
    out(cg, ind++, "for (int b = 0; b < n; b++) {");
    out(cg, ind, "int r = (int)%s;", ie);
    if (g.D > 1)
        out(cg, ind++, "for (int j = 0; j < %d; j++)", g.D);
    if (g.scatter)
        out(cg, ind, "%s %s %s;", te, op, re);
    else
        out(cg, ind, "%s %s %s;", re, op, te);
    out(cg, g.T > 1 ? 2 : 1, "}");
}

/* Element j of the current row (r) of a tensor with K entries per row, of
 * the current sample (b) when batched. */
static void row_elem(char *buf, size_t n, const char *name, int batched, int rows, int K,
                     const char *j)
{
    char idx[64];
    if (rows > 1)
        snprintf(idx, sizeof idx, "r * %d + %s", K, j);
    else
        snprintf(idx, sizeof idx, "%s", j);
    if (!batched)
        snprintf(buf, n, "%s[%s]", name, idx);
    else if (strcmp(idx, "0") == 0)
        snprintf(buf, n, "%s[b]", name);
    else if (rows > 1)
        snprintf(buf, n, "%s[(%s) * n + b]", name, idx);
    else
        snprintf(buf, n, "%s[%s * n + b]", name, idx);
}

static void fout(FILE *f, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fout(FILE *f, int indent, const char *fmt, ...)
{
    va_list ap;
    fprintf(f, "%*s", 4 * indent, "");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

void cg_c_row(FILE *f, int ind, const CgRowC *rc)
{
    char e[512];
    for (int k = 0; k < rc->rp->nsteps; k++) {
        const CgRowStep *s = &rc->rp->step[k];
        const char *name = s->local[0] >= 0 ? cg_row_name[s->local[0]] : "";
        if (s->e)
            cg_c_expr(rc->p, s->e, rc->ops, e, sizeof e);
        switch (s->kind) {
        case CG_ROW_LOCALS:
            if (s->local[1] >= 0)
                fout(f, ind, "real %s = %s, %s = %s;", name, s->first[0] ? rc->x0 : rc->zero,
                     cg_row_name[s->local[1]], s->first[1] ? rc->x0 : rc->zero);
            else
                fout(f, ind, "real %s = %s;", name, s->first[0] ? rc->x0 : rc->zero);
            break;
        case CG_ROW_NUMBERS:   /* read where they are used */
            if (s->cls >= 0)
                fout(f, ind, "int cls = (int)%s;", rc->ops[s->cls]);
            break;
        case CG_ROW_REDUCE:
            fout(f, ind, "for (int j = %d; j < %d; j++)", s->from, rc->K);
            fout(f, ind + 1, "%s %s %s;", name, s->add ? "+=" : "=", e);
            break;
        case CG_ROW_LET:
            fout(f, ind, "real %s = %s;", name, e);
            break;
        case CG_ROW_STORE:
            fout(f, ind, "for (int j = 0; j < %d; j++)", rc->K);
            fout(f, ind + 1, "%s %s %s;", rc->dj, rc->op, e);
            break;
        case CG_ROW_STORE_ONE:
            fout(f, ind, "%s = %s;", rc->one, e);
            break;
        }
    }
}

/* Softmax and friends (plan.h cg_row_plan), one row (the last axis) at a
 * time: the plan's steps as C, inside the loops over the samples and the
 * rows. */
static void emit_row(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    const CgRow *rp = cg_row_plan(v->op);
    int K, rows;
    cg_row_dims(p, id, &K, &rows);
    int x = v->arg[rp->x], dst = cg_dest(cg->p, id);
    char zero[16];
    c_number(cg, 0, zero, sizeof zero);
    for (int k = 0; k < v->nargs; k++)
        cg->used[v->arg[k]] = 1;
    cg->used[dst] = 1;
    const char *op = assign_op(cg, id, "(size_t)n * ");
    int bat = v->batched;
    if (bat)
        cg->uses |= ARG_N;
    int ind = 1;
    if (bat)
        out(cg, ind++, "for (int b = 0; b < n; b++) {");
    if (rows > 1)
        out(cg, ind++, "for (int r = 0; r < %d; r++) {", rows);
    if (!bat && rows == 1)
        out(cg, ind++, "{");
    /* the steps' operands ($0 .. $9, plan.h) */
    char ops[CG_ROW_NOPS][128], x0[128], dj[128];
    const char *opp[CG_ROW_NOPS];
    for (int k = 0; k < CG_ROW_NOPS; k++) {
        opp[k] = ops[k];
        snprintf(ops[k], sizeof ops[k], "%s", cg_row_name[k] ? cg_row_name[k] : "");
    }
    for (int k = 0; k < v->nargs; k++) {
        int a = v->arg[k];
        if (rp->scalar[k])
            elem(cg, a, 1, 0, 1, ops[k], sizeof ops[k]);
        else
            row_elem(ops[k], sizeof ops[k], cg->cname[a], p->v[a].batched, rows, K, "j");
    }
    row_elem(ops[CG_ROW_XCLS], sizeof ops[0], cg->cname[x], p->v[x].batched, rows, K, "cls");
    row_elem(x0, sizeof x0, cg->cname[x], p->v[x].batched, rows, K, "0");
    row_elem(dj, sizeof dj, cg->cname[dst], p->v[dst].batched, rows, K, "j");
    char first[160];
    snprintf(first, sizeof first, "%s[%s]", cg->cname[id], bat ? "b" : "0");
    CgRowC rc = {p, rp, K, opp, x0, zero, dj, op, first};
    cg_c_row(cg->f, ind, &rc);
    while (--ind > 0)
        out(cg, ind, "}");
}

/* A sliding window (plan.h cg_conv_plan): the runtime's kernel for it
 * (nnrt_conv.c), on the whole batch, with the sizes as an NnrtConv. */
static void emit_conv(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    CgConv c = cg_conv_plan(p, id);
    int dst = cg_dest(p, id);
    const char *op = assign_op(cg, id, "(size_t)n * ");
    for (int k = 0; k < v->nargs; k++)
        cg->used[v->arg[k]] = 1;
    cg->used[dst] = 1;
    const char *count = v->batched ? "n, n" : "1, 1";
    if (v->batched)
        cg->uses |= ARG_N;
    char args[512];
    const char *a0 = cg->cname[v->arg[0]], *d = cg->cname[dst];
    switch (c.call) {
    case CG_CONV:
        snprintf(args, sizeof args, "%s, %s, %s, %s", a0, cg->cname[v->arg[1]],
                 c.bias ? cg->cname[v->arg[2]] : "NULL", d);
        break;
    case CG_MAXPOOL: case CG_AVGPOOL:
        snprintf(args, sizeof args, "%s, %s", a0, d);
        break;
    case CG_CONV_BWD_X: case CG_CONV_BWD_K: case CG_MAXPOOL_BWD:
        snprintf(args, sizeof args, "%s, %s, %s, %d", a0, cg->cname[v->arg[1]], d,
                 strcmp(op, "=") != 0);
        break;
    case CG_CONV_BWD_B: case CG_AVGPOOL_BWD:
        snprintf(args, sizeof args, "%s, %s, %d", a0, d, strcmp(op, "=") != 0);
        break;
    }
    /* the sizes as a compound literal: no name to clash with the model's */
    out(cg, 1, "%s(&(const NnrtConv){.C = %d, .H = %d, .W = %d, .O = %d, .KH = %d, .KW = %d,",
        cg_conv_fn[c.call], c.C, c.H, c.W, c.O, c.KH, c.KW);
    out(cg, 1, "%*s.OH = %d, .OW = %d, .sh = %d, .sw = %d, .ph = %d, .pw = %d%s},",
        (int)strlen(cg_conv_fn[c.call]) + 19, "", c.OH, c.OW, c.sh, c.sw, c.ph, c.pw,
        c.gemm ? ", .gemm = 1" : "");
    out(cg, 1, "%*s%s, %s);", (int)strlen(cg_conv_fn[c.call]) + 1, "", count, args);
}

/* The source statement of value id, once per run of values from it, after
 * a blank line when gap. */
static void stmt_comment(Cg *cg, int id, int gap)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    if (v->stmt != cg->last_stmt && v->stmt < p->nstmts) {
        cg->last_stmt = v->stmt;
        const IrStmt *s = &p->stmts[v->stmt];
        if (gap)
            fputc('\n', cg->f);
        out(cg, 1, "/* %s%s:%d  %s */", cg->backward ? "adjoint of " : "", base_name(p->file),
            s->line, s->text);
    }
}

/* The step's equation ("d_W1 += d_h1_2 @ x'", "=" when it assigns). */
static void step_note(Cg *cg, int id, int assigns, char *note, size_t n)
{
    ir_notation(cg->p, id, note, n);
    char *pe = strstr(note, " += ");
    if (pe && assigns)
        memmove(pe + 1, pe + 2, strlen(pe + 2) + 1);   /* "+=" -> "=": this step assigns */
    for (char *c = note; (c = strstr(c, "*/")) != NULL; c++)
        c[1] = '\\';
}

/* The local of step e of a fused loop: its buffer's name and "_", unique
 * among the names of values and the loop's earlier locals loc[0..e), which
 * the hash table seen (mask + 1 slots, -1 where free) holds.  A buffer
 * written by many steps of one loop (a parameter used 600 times adds to
 * its gradient as often) runs out of room for underscores: then the
 * buffer's name, "_" and the step's number in the loop. */
static void local_name(const Cg *cg, int id, char (*loc)[96], int e, int *seen, size_t mask)
{
    char *buf = loc[e];
    size_t n = sizeof loc[e], h;
    const char *base = cg->cname[cg_dest(cg->p, id)];
    snprintf(buf, n, "%s_", base);
    for (int clash = 1, k = -1; clash;) {
        clash = cname_taken(cg, buf);
        for (h = cname_hash(buf) & mask; seen[h] >= 0 && !clash; h = (h + 1) & mask)
            clash = strcmp(loc[seen[h]], buf) == 0;
        if (clash && k < 0 && strlen(buf) + 2 < n)
            strcat(buf, "_");
        else if (clash)
            snprintf(buf, n, "%.80s_%d", base, k = k < 0 ? e : k + 1000);
    }
    for (h = cname_hash(buf) & mask; seen[h] >= 0; h = (h + 1) & mask)
        ;
    seen[h] = e;
}

/* The name of a fused loop's sum j of a step (plan.h cg_batch_sums): the
 * step's local, numbered when there are several. */
static void sum_name(char *buf, size_t n, const char *loc, int nsum, int j)
{
    if (nsum == 1)
        snprintf(buf, n, "%s", loc);
    else
        snprintf(buf, n, "%s%d", loc, j);
}

/* A reference of a fused loop (plan.h CgFused) as C: a member's local
 * (its name in loc), else as a nest's, but for element 1 of a vector of
 * sample b, x[n + b]. */
static void fused_ref(Cg *cg, char (*loc)[96], const CgRef *r, char *buf, size_t n)
{
    if (r->kind == CG_REF_LOCAL) {
        snprintf(buf, n, "%s", loc[r->id]);
    } else if (r->kind == CG_REF_ELEM && r->batched && !r->nterms && r->off == 1) {
        cg->used[r->id] = 1;
        cg->uses |= ARG_N;
        snprintf(buf, n, "%s[n + b]", cg->cname[r->id]);
    } else {
        nest_ref(cg, NULL, r, buf, n);
    }
}

/*
 * A fused loop (plan.h cg_fused_plan) as C: for each element i of N and
 * each sample b, one statement per member under its equation.  A member
 * whose element later members read is a local `x_`; it is stored where
 * another loop reads it, and else only `if (keep)`: when the passes run
 * for --trap-nan, whose nonfinite() checks every buffer.  Sums over the
 * batch (a bias's gradient, a small weight's) are locals too, vectorised
 * reductions added after the loop over the samples.
 */
static void emit_fused(Cg *cg, int h)
{
    CgFused f;
    cg_fused_plan(&cg->fu, cg->p, h, cg->written, &f);
    int N = f.N, ng = f.nmembers;
    char (*note)[300] = xcalloc((size_t)ng, sizeof *note);
    char (*loc)[96] = xcalloc((size_t)ng, sizeof *loc);
    const char **op = xcalloc((size_t)ng, sizeof *op);
    size_t cap = 16;
    while (cap < 2 * (size_t)ng)
        cap *= 2;
    int *seen = xcalloc(cap, sizeof *seen);
    for (size_t k = 0; k < cap; k++)
        seen[k] = -1;
    cg->uses |= ARG_N;
    for (int e = 0; e < ng; e++)
        stmt_comment(cg, f.m[e].id, e == 0);
    for (int e = 0; e < ng; e++) {
        const CgFusedMember *m = &f.m[e];
        step_note(cg, m->id, m->store == CG_ASSIGN, note[e], sizeof note[e]);
        local_name(cg, m->id, loc, e, seen, cap - 1);
        op[e] = store_text(cg, m->id, m->store, "(size_t)n * ");
    }
    free(seen);
    int ind = 1;
    if (N > 1)
        out(cg, ind++, "for (int i = 0; i < %d; i++) {", N);
    char sums[512] = "", name[128];
    for (int e = 0; e < ng; e++)
        for (int s = 0; s < f.m[e].nsum; s++) {
            sum_name(name, sizeof name, loc[e], f.m[e].nsum, s);
            out(cg, ind, "real %s = 0;", name);
            size_t len = strlen(sums);
            snprintf(sums + len, sizeof sums - len, "%s%s", len ? ", " : "", name);
        }
    if (sums[0])
        out(cg, ind, "NNRT_SIMD_SUM(%s)", sums);
    else
        out(cg, ind, "NNRT_SIMD_LOOP");
    out(cg, ind++, "for (int b = 0; b < n; b++) {");
    for (int e = 0; e < ng; e++) {
        const CgFusedMember *m = &f.m[e];
        char arg[3][128], dexpr[128], rhs[512];
        out(cg, ind, "/* %s */", note[e]);
        for (int a = 0; a < m->nargs; a++)
            fused_ref(cg, loc, &m->arg[a], arg[a], sizeof arg[a]);
        switch (m->kind) {
        case CG_FM_OUTER:
            for (int s = 0; s < m->nsum; s++) {
                char ey[128];
                fused_ref(cg, loc, &m->sum[s].y, ey, sizeof ey);
                sum_name(name, sizeof name, loc[e], m->nsum, s);
                out(cg, ind, "%s += %s * %s;", name, m->side == 0 ? arg[0] : ey,
                    m->side == 0 ? ey : arg[0]);
            }
            continue;
        case CG_FM_REG_SUM:
            if (m->nk > 1) {
                out(cg, ind, "real %s = 0;", loc[e]);
                out(cg, ind, "for (int k = 0; k < %d; k++)", m->nk);
                out(cg, ind + 1, "%s += %s * %s;", loc[e], arg[0], arg[1]);
            } else {
                out(cg, ind, "real %s = %s * %s;", loc[e], arg[0], arg[1]);
            }
            snprintf(rhs, sizeof rhs, "%s", loc[e]);
            break;
        case CG_FM_ELEM: {
            const char *opp[3] = {arg[0], arg[1], arg[2]};
            cg_c_expr(cg->p, m->e, opp, rhs, sizeof rhs);
            if (m->into_sums) {
                out(cg, ind, "%s += %s;", loc[e], rhs);
                continue;
            }
            if (m->local) {
                out(cg, ind, "real %s = %s;", loc[e], rhs);
                snprintf(rhs, sizeof rhs, "%s", loc[e]);
            }
            break;
        }
        }
        fused_ref(cg, loc, &m->dst, dexpr, sizeof dexpr);
        if (m->keep_only) {
            cg->uses |= ARG_KEEP;
            out(cg, ind, "if (keep)");
            out(cg, ind + 1, "%s %s %s;", dexpr, op[e], rhs);
        } else {
            out(cg, ind, "%s %s %s;", dexpr, op[e], rhs);
        }
    }
    out(cg, --ind, "}");
    for (int e = 0; e < ng; e++)
        for (int s = 0; s < f.m[e].nsum; s++) {
            char dexpr[128];
            fused_ref(cg, loc, &f.m[e].sum[s].dst, dexpr, sizeof dexpr);
            sum_name(name, sizeof name, loc[e], f.m[e].nsum, s);
            out(cg, ind, "%s %s %s;", dexpr, op[e], name);
        }
    if (N > 1)
        out(cg, --ind, "}");
    cg_fused_free(&f);
    free(note);
    free(loc);
    free(op);
}

/* Batch norm: one call of the runtime's kernel over the n samples (plan.h
 * CgBatch); the running statistics are parameters it moves in train mode,
 * the one place a pass writes into params. */
static void emit_batch(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    CgBatch bp = cg_batch_plan(p, id);
    const char *op = assign_op(cg, id, "(size_t)n * ");
    int dst = cg_dest(p, id);
    char arg[4][80], run[2][96];
    cg->used[dst] = 1;
    cg->uses |= ARG_N;
    for (int k = 0; k < 4; k++) {
        snprintf(arg[k], sizeof arg[k], "%s", bp.arg[k] >= 0 ? cg->cname[bp.arg[k]] : "NULL");
        if (bp.arg[k] >= 0)
            cg->used[bp.arg[k]] = 1;
    }
    int pi[2] = {bp.rmean, bp.rvar};
    for (int k = 0; k < 2; k++) {
        if (pi[k] >= 0)
            snprintf(run[k], sizeof run[k], "(real *)(params + %ld)", cg->lay.param_off[pi[k]]);
        else
            snprintf(run[k], sizeof run[k], "NULL");
    }
    if (bp.rmean >= 0)
        cg->uses |= ARG_PARAMS;
    out(cg, 1, "nnrt_batchnorm(%s, nnrt_pass_train(), %d, n, n, 1, %d, %d,", bp.name,
        strcmp(op, "+=") == 0, bp.C, bp.S);
    out(cg, 1, "               %s, %s, %s, %s, %s,", arg[0], arg[1], arg[2], arg[3], cg->cname[dst]);
    out(cg, 1, "               %s, %s);", run[0], run[1]);
}

static void emit_value(Cg *cg, int id)
{
    const IrProgram *p = cg->p;
    const Value *v = &p->v[id];
    IrKind kind = ir_ops[v->op].kind;
    if (kind == K_LEAF || kind == K_ADJ)
        return;
    if (cg->fused && cg->fu.head[id] >= 0) {
        if (cg->fu.head[id] == id)
            emit_fused(cg, id);
        return;
    }
    stmt_comment(cg, id, 1);
    char note[300], sh[64];
    step_note(cg, id, cg_first_full_write(p, id, cg->written), note, sizeof note);
    int dst = cg_dest(cg->p, id);
    shape_str(&p->v[dst].shape, sh, sizeof sh);
    if (p->v[dst].batched) {
        /* as stored: samples innermost, [10] -> [10, n], [] -> [n] */
        size_t len = strlen(sh);
        if (len == 2)
            snprintf(sh, sizeof sh, "[n]");
        else if (len + 3 < sizeof sh)
            memcpy(sh + len - 1, ", n]", 5);
    }
    out(cg, 1, "/* %-48s %s */", note, sh);
    if (v->batched)
        cg->uses |= ARG_N;
    switch (kind) {
    case K_MAP: emit_loops(cg, id); break;
    case K_MATMUL: emit_matmul(cg, id); break;
    case K_TRANS: emit_loops(cg, id); break;
    case K_REDUCE: emit_loops(cg, id); break;
    case K_ROW: emit_row(cg, id); break;
    case K_VIEW: emit_loops(cg, id); break;
    case K_BATCH: emit_batch(cg, id); break;
    case K_CONV: emit_conv(cg, id); break;
    case K_GATHER: emit_gather(cg, id); break;
    default: diag_internal("emit_value: %s", ir_ops[v->op].name);
    }
}

/* ---- rolled loops ---- */

/* Value id's pointer to its slot: declared (decl) on the function's start
 * slot (a number), or moved to step t's ("t" when slot < 0 is the step,
 * the shift added). */
static void loop_pointer(Cg *cg, int id, int slot, int decl)
{
    const IrProgram *p = cg->p;
    const char *owner = cg->cname[cg->lay.owner[id]];
    int size = numel(&p->v[id]), bat = p->v[id].batched;
    char at[96] = "";
    int shift = cg->lay.shift[id];
    if (slot < 0 && shift)
        snprintf(at, sizeof at, " + (size_t)(t + %d) * %d%s", shift, size, bat ? " * n" : "");
    else if (slot < 0)
        snprintf(at, sizeof at, " + (size_t)t * %d%s", size, bat ? " * n" : "");
    else if (slot > 0)
        snprintf(at, sizeof at, " + (size_t)%d * %d%s", slot, size, bat ? " * n" : "");
    if (bat)
        cg->uses |= ARG_N;
    out(cg, 1, "%s%s = ws->%s%s;", decl ? "real *" : "", cg->cname[id], owner, at);
}

/* A rolled loop (ir.h, IrLoop) is written as a for over its steps, the
 * step inside once: each value of the step is read and written through a
 * pointer to its slot, moved at the top of every step.  The body is
 * written into a buffer first, so that the moves name the pointers it
 * uses. */
typedef struct LoopText {
    FILE *outer;
    char *text;
    size_t len;
} LoopText;

static void loop_open(Cg *cg, int l, LoopText *lt)
{
    const IrProgram *p = cg->p;
    const IrLoop *L = &p->loops[l];
    fputc('\n', cg->f);
    if (cg->backward) {
        int *ids = xcalloc((size_t)p->nv, sizeof *ids);
        int n = cg_loop_clears(p, &cg->lay, l, cg->written, ids);
        if (n)
            out(cg, 1, "/* the adjoints every step adds into, from 0 */");
        for (int k = 0; k < n; k++) {
            const Value *t = &p->v[ids[k]];
            cg->used[ids[k]] = 1;
            out(cg, 1, "memset(%s, 0, %s%d * sizeof *%s);", cg->cname[ids[k]],
                t->batched ? "(size_t)n * " : "", numel(t), cg->cname[ids[k]]);
        }
        free(ids);
    }
    if (cg->backward)
        out(cg, 1, "/* adjoint of %s:%d  %s: the steps in reverse */", base_name(p->file),
            p->stmts[L->stmt].line, p->stmts[L->stmt].text);
    else
        out(cg, 1, "/* %s:%d  %s: the %d steps as a loop, step t's values in slot t */",
            base_name(p->file), p->stmts[L->stmt].line, p->stmts[L->stmt].text, L->count);
    lt->outer = cg->f;
    cg->f = open_memstream(&lt->text, &lt->len);
    if (!cg->f)
        diag_internal("open_memstream failed");
    cg->depth++;
    cg->last_stmt = -1;
}

static void loop_close(Cg *cg, int l, LoopText *lt)
{
    const IrProgram *p = cg->p;
    const IrLoop *L = &p->loops[l];
    fclose(cg->f);
    cg->f = lt->outer;
    cg->depth--;
    if (cg->backward)
        out(cg, 1, "for (int t = %d; t >= 0; t--) {", L->count - 1);
    else
        out(cg, 1, "for (int t = 0; t < %d; t++) {", L->count);
    cg->depth++;
    for (int i = 0; i < p->nv; i++)
        if (cg->used[i] && cg->lay.loop[i] == l)
            loop_pointer(cg, i, -1, 0);
    cg->depth--;
    fwrite(lt->text, 1, lt->len, cg->f);
    free(lt->text);
    out(cg, 1, "}");
    cg->last_stmt = -1;
}

/* The values [begin, end) (those marked, when mark is given), rolled loops
 * as loops. */
static void emit_range(Cg *cg, int begin, int end, const char *mark)
{
    LoopText lt[4];
    int open = 0;
    for (int i = begin; i < end; i++) {
        int l = cg_loop_begins(cg->p, i, cg->backward);
        if (l >= 0) {
            if (open == 4)
                diag_internal("rolled loops nested too deep");
            loop_open(cg, l, &lt[open++]);
        }
        if (!mark || mark[i])
            emit_value(cg, i);
        l = cg_loop_ends(cg->p, i, cg->backward);
        if (l >= 0)
            loop_close(cg, l, &lt[--open]);
    }
}

/* ---- functions ---- */

/* Emit the body of a function into a memory buffer, then print the local
 * pointers it uses followed by the body. */
typedef void BodyFn(Cg *cg, void *arg);

static void function(Cg *cg, FILE *f, const char *sig, int args, const char *prologue,
                     BodyFn *body, void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        diag_internal("open_memstream failed");
    const IrProgram *p = cg->p;
    memset(cg->used, 0, (size_t)p->nv);
    memset(cg->written, 0, (size_t)p->nv);
    cg->last_stmt = -1;
    cg->uses = 0;
    cg->f = mem;
    body(cg, arg);
    fclose(mem);
    cg->f = f;
    fprintf(f, "%s\n{\n    Work *ws = work;\n%s", sig, prologue);
    for (int i = 0; i < p->nv; i++) {
        if (!cg->used[i])
            continue;
        const Value *v = &p->v[i];
        char sh[64];
        shape_str(&v->shape, sh, sizeof sh);
        if (v->op == OP_PARAM) {
            char decl[256];
            int dl = snprintf(decl, sizeof decl, "const real *%s = params + %ld;", cg->cname[i],
                               cg->lay.param_off[v->index]);
            out(cg, 1, "%s%*s/* %s */", decl, dl < 44 ? 44 - dl : 1, "", sh);
            cg->uses |= ARG_PARAMS;
        } else if (v->op == OP_ADJ && p->v[v->arg[0]].op == OP_PARAM) {
            char decl[256];
            int dl = snprintf(decl, sizeof decl, "real *%s = grads + %ld;", cg->cname[i],
                               cg->lay.param_off[p->v[v->arg[0]].index]);
            out(cg, 1, "%s%*s/* %s */", decl, dl < 44 ? 44 - dl : 1, "", sh);
            cg->uses |= ARG_GRADS;
        } else if (v->op == OP_INPUT)
            out(cg, 1, "const real *%s = ws->%s;", cg->cname[i], cg->cname[i]);
        else if (v->op == OP_LITERAL)
            out(cg, 1, "const real *%s = literal_%d;", cg->cname[i], v->index);
        else if (cg->lay.loop[i] >= 0)
            loop_pointer(cg, i, cg_slot_start(p, &cg->lay, i, (args & ARG_GRADS) != 0), 1);
        else if (cg->lay.needs_buf[i])
            out(cg, 1, "real *%s = ws->%s;", cg->cname[i], cg->cname[i]);
    }
    static const char *const names[] = {"params", "grads", "seed", "n", "keep"};
    for (int k = 0; k < 5; k++)
        if ((args & (1 << k)) && !(cg->uses & (1 << k)))
            out(cg, 1, "(void)%s;", names[k]);
    fwrite(text, 1, len, f);
    free(text);
    fprintf(f, "}\n\n");
}

struct FwdArg { char *mark; };

static void forward_body(Cg *cg, void *arg)
{
    const IrProgram *p = cg->p;
    char *mark = ((struct FwdArg *)arg)->mark;
    emit_range(cg, p->fwd.begin, p->fwd.end, mark);
    fputc('\n', cg->f);
    out(cg, 1, "/* the per-sample losses, for the runtime */");
    out(cg, 1, "memcpy(losses, %s, (size_t)n * sizeof *losses);", cg->cname[p->loss]);
    cg->used[p->loss] = 1;
    if (p->output >= 0) {
        const Value *o = &p->v[p->output];
        cg->used[p->output] = 1;
        if (o->batched && numel(o) > 1) {
            out(cg, 1, "/* the prediction, sample by sample, for the runtime */");
            out(cg, 1, "nnrt_transpose(%s, %d, n, ws->pred);", cg->cname[p->output], numel(o));
            out(cg, 1, "ws->out = ws->pred;");
        } else {
            out(cg, 1, "ws->out = %s;", cg->cname[p->output]);
        }
    }
}

struct RangeArg { IrRange r; };

static void range_body(Cg *cg, void *arg)
{
    IrRange r = ((struct RangeArg *)arg)->r;
    cg->backward = 1;
    if (r.begin == cg->p->bwd_loss.begin && cg->p->nloops > 0) {
        /* the steps' adjoints: every step adds into them */
        const IrProgram *p = cg->p;
        int *ids = xcalloc((size_t)p->nv, sizeof *ids);
        int n = cg_pass_clears(p, &cg->lay, cg->written, ids);
        if (n)
            out(cg, 1, "/* the adjoints of the rolled loops' steps, every slot from 0 */");
        for (int k = 0; k < n; k++) {
            const Value *t = &p->v[ids[k]];
            cg->used[ids[k]] = 1;
            out(cg, 1, "memset(ws->%s, 0, %s%d * sizeof *%s);", cg->cname[ids[k]],
                t->batched ? "(size_t)n * " : "", numel(t) * cg->lay.slots[ids[k]],
                cg->cname[ids[k]]);
            if (t->batched)
                cg->uses |= ARG_N;
        }
        free(ids);
    }
    emit_range(cg, r.begin, r.end, NULL);
    cg->backward = 0;
}

struct PenArg { char *mark; };

static void penalty_body(Cg *cg, void *arg)
{
    const IrProgram *p = cg->p;
    char *mark = ((struct PenArg *)arg)->mark;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (mark[i])
            emit_value(cg, i);
    cg->used[p->penalty] = 1;
    if (p->bwd_penalty.end > p->bwd_penalty.begin) {
        fputc('\n', cg->f);
        out(cg, 1, "if (!grads)");
        out(cg, 2, "return %s[0];", cg->cname[p->penalty]);
        cg->backward = 1;
        for (int i = p->bwd_penalty.begin; i < p->bwd_penalty.end; i++)
            emit_value(cg, i);
        cg->backward = 0;
    }
    out(cg, 1, "return %s[0];", cg->cname[p->penalty]);
}

/* ---- tables ---- */

static void c_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fprintf(f, "\\n");
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* For --trap-nan: nonfinite() checks the buffers of one pass in execution
 * order and returns the first statement whose values hold a NaN or an
 * infinity.  One check per buffer, labelled with the statement that first
 * writes it. */
static void emit_nonfinite_checks(Cg *cg, FILE *f, IrRange r, const char *mark, int adjoint,
                                  int indent)
{
    const IrProgram *p = cg->p;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids);
    int nids = cg_nonfinite_checks(p, &cg->lay, r, mark, ids);
    for (int k = 0; k < nids; k++) {
        int i = ids[k], d = cg_dest(cg->p, i);
        const IrStmt *s = &p->stmts[p->v[i].stmt];
        char where[512];
        snprintf(where, sizeof where, "%s%s:%d: %s", adjoint ? "adjoint of " : "",
                 base_name(p->file), s->line, s->text);
        fprintf(f, "%*sif (!nnrt_finite(ws->%s, %s%d))\n%*sreturn ", indent, "", cg->cname[d],
                p->v[d].batched ? "(size_t)n * " : "", numel(&p->v[d]) * cg->lay.slots[d],
                indent + 4, "");
        c_string(f, where);
        fprintf(f, ";\n");
    }
    free(ids);
}

static void emit_nonfinite(Cg *cg, FILE *f, const char *fwd_mark)
{
    const IrProgram *p = cg->p;
    fprintf(f, "/* For --trap-nan: the first statement, in execution order, whose values\n"
               " * hold a NaN or an infinity after the last forward (adjoint = 0) or\n"
               " * backward (adjoint = 1) pass on n samples; NULL when all are finite. */\n");
    fprintf(f, "static const char *nonfinite(void *work, int n, int adjoint)\n{\n");
    fprintf(f, "    Work *ws = work;\n    (void)ws;\n    (void)n;\n");
    fprintf(f, "    if (!adjoint) {\n");
    emit_nonfinite_checks(cg, f, p->fwd, fwd_mark, 0, 8);
    fprintf(f, "        return NULL;\n    }\n");
    emit_nonfinite_checks(cg, f, p->bwd_loss, NULL, 1, 4);
    fprintf(f, "    return NULL;\n}\n\n");
}

static const char *init_kind_name(InitKind k)
{
    static const char *const names[] = {
        "ZEROS", "ONES", "IDENTITY", "NORMAL", "UNIFORM", "XAVIER_UNIFORM", "XAVIER_NORMAL",
        "HE_UNIFORM", "HE_NORMAL", "LITERAL", "LOAD", "FILL",
    };
    return names[k];
}

static void emit_doubles(FILE *f, const char *name, const double *x, int n)
{
    char num[40];
    fprintf(f, "static const double %s[%d] = {", name, n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s%s", i ? "," : "", i % 8 ? " " : "\n    ",
                nnrt_num_text(num, sizeof num, x[i], 17));
    fprintf(f, "\n};\n");
}

/* ".dim = {10, 2}, " (nothing for a scalar: C has no empty initialiser) */
static void emit_dims(FILE *f, const Shape *s)
{
    if (s->rank == 0)
        return;
    fprintf(f, ".dim = {");
    for (int d = 0; d < s->rank; d++)
        fprintf(f, "%s%d", d ? ", " : "", s->dim[d]);
    fprintf(f, "}, ");
}


/* The tensors the runtime draws (noise, dropout's masks; nnrt.h NnrtDraw):
 * forward()'s data[nslots + k], after the data slots.  Nothing for a
 * model without any. */
static void emit_draw_table(const IrProgram *p, FILE *f)
{
    static const char *const kind[] = {"", "NNRT_DRAW_NORMAL", "NNRT_DRAW_UNIFORM",
                                       "NNRT_DRAW_DROPOUT"};
    char sh[64], a[40], b[40];
    if (p->nslots == ir_data_slots(p))
        return;
    fprintf(f, "\n/* What the runtime draws for each sample: in train mode fresh numbers, in\n"
               " * eval mode their mean (a dropout's mask: 1). */\n");
    fprintf(f, "static const NnrtDraw draw_table[] = {\n");
    for (int i = ir_data_slots(p); i < p->nslots; i++) {
        const IrSlot *s = &p->slots[i];
        fprintf(f, "    {.name = \"%s\", .kind = %s, .a = %s, .b = %s, .rank = %d, ", s->name,
                kind[s->noise], nnrt_num_text(a, sizeof a, s->a, 17),
                nnrt_num_text(b, sizeof b, s->b, 17), s->shape.rank);
        emit_dims(f, &s->shape);
        fprintf(f, ".size = %d},   /* %s */\n", shape_numel(&s->shape),
                shape_str(&s->shape, sh, sizeof sh));
    }
    fprintf(f, "};\n");
}
/* For `predict --outputs`: the model's named values (plan.h,
 * cg_named_values) and value(), which copies one of them out of the
 * workspace sample by sample: a transpose of the samples-innermost buffers
 * (samples_inner), else a copy. */
static void emit_values(Cg *cg, FILE *f, int samples_inner)
{
    const IrProgram *p = cg->p;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids);
    int n = cg_named_values(p, &cg->lay, ids);
    if (n == 0) {
        free(ids);
        return;
    }
    fprintf(f, "/* The values the forward pass computes under a name, for `predict --outputs`. */\n");
    fprintf(f, "static const NnrtValue value_table[] = {\n");
    for (int k = 0; k < n; k++) {
        const Value *v = &p->v[ids[k]];
        int steps = cg_value_steps(&cg->lay, ids[k]);
        Shape sh = v->shape;
        if (steps) {   /* every step's: [S, ...] */
            memmove(sh.dim + 1, sh.dim, (size_t)sh.rank * sizeof *sh.dim);
            sh.dim[0] = steps;
            sh.rank++;
        }
        fprintf(f, "    {.name = \"%s\", .rank = %d, ", v->name, sh.rank);
        emit_dims(f, &sh);
        fprintf(f, ".size = %d, .batched = %d},%s\n", shape_numel(&sh), v->batched,
                steps ? "   /* one row per step */" : "");
    }
    fprintf(f, "};\n\n");
    fprintf(f, "/* value k of the last forward pass on n samples into dst, sample by sample%s */\n",
            samples_inner ? "\n * (after keep_all(): the fused loops store every step then)" : "");
    fprintf(f, "static void value(void *work, int k, int n, real *dst)\n{\n");
    fprintf(f, "    Work *ws = work;\n    switch (k) {\n");
    for (int k = 0; k < n; k++) {
        const Value *v = &p->v[ids[k]];
        /* a step's value: its owner's buffer, every step's slot */
        int steps = cg_value_steps(&cg->lay, ids[k]), size = numel(v) * (steps ? steps : 1);
        const char *name = cg->cname[cg->lay.owner[ids[k]]];
        if (v->batched && samples_inner && size > 1)
            fprintf(f, "    case %d: nnrt_transpose(ws->%s, %d, n, dst); break;\n", k, name,
                    size);
        else if (v->batched && size == 1)
            fprintf(f, "    case %d: memcpy(dst, ws->%s, (size_t)n * sizeof *dst); break;\n", k,
                    name);
        else if (v->batched)
            fprintf(f, "    case %d: memcpy(dst, ws->%s, (size_t)n * %d * sizeof *dst); break;\n",
                    k, name, size);
        else
            fprintf(f, "    case %d: memcpy(dst, ws->%s, %d * sizeof *dst); break;\n", k, name,
                    size);
    }
    fprintf(f, "    }\n}\n\n");
    free(ids);
}

static void emit_tables(Cg *cg, FILE *f)
{
    const IrProgram *p = cg->p;
    const char *file = base_name(p->file);
    char sh[64];
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].init == INIT_LITERAL) {
            char name[160];
            snprintf(name, sizeof name, "init_%s", p->params[i].name);
            emit_doubles(f, name, p->params[i].values, shape_numel(&p->params[i].shape));
        }
    if (p->nparams) {
        fprintf(f, "\n/* The parameters, one flat buffer: name, shape, offset, initialiser. */\n");
        fprintf(f, "static const NnrtParam param_table[] = {\n");
        for (int i = 0; i < p->nparams; i++) {
            const IrParam *q = &p->params[i];
            fprintf(f, "    {.name = \"%s\", .rank = %d, ", q->name, q->shape.rank);
            emit_dims(f, &q->shape);
            fprintf(f, ".size = %d, .offset = %ld,%s\n", shape_numel(&q->shape),
                    cg->lay.param_off[i], q->frozen ? " .frozen = 1," : "");
            fprintf(f, "     .init = {.kind = NNRT_INIT_%s", init_kind_name(q->init));
            if (q->init == INIT_NORMAL || q->init == INIT_UNIFORM || q->init == INIT_FILL) {
                char a[40], b[40];
                fprintf(f, ", .a = %s", nnrt_num_text(a, sizeof a, q->a, 17));
                if (q->init != INIT_FILL)
                    fprintf(f, ", .b = %s", nnrt_num_text(b, sizeof b, q->b, 17));
            }
            if (q->init == INIT_LITERAL)
                fprintf(f, ", .values = init_%s", q->name);
            if (q->init == INIT_LOAD) {
                fprintf(f, ", .file = ");
                c_string(f, q->file);
                fprintf(f, ", .key = ");
                c_string(f, q->key);
            }
            fprintf(f, "}, .where = \"%s:%d\"},\n", file, q->loc.line);
        }
        fprintf(f, "};\n");
    }
    fprintf(f, "\n/* The data each sample brings: inputs and targets, in declaration order. */\n");
    fprintf(f, "static const NnrtSlot slot_table[] = {\n");
    for (int i = 0; i < ir_data_slots(p); i++) {
        const IrSlot *s = &p->slots[i];
        fprintf(f, "    {.name = \"%s\", .kind = %s, .rank = %d, ", s->name,
                s->target ? "NNRT_TARGET" : "NNRT_INPUT", s->shape.rank);
        emit_dims(f, &s->shape);
        char ix[32] = "";
        if (s->nindex)
            snprintf(ix, sizeof ix, ", .nindex = %d", s->nindex);
        fprintf(f, ".size = %d, .nclass = %d%s%s},   /* %s%s */\n", shape_numel(&s->shape),
                s->nclass, s->unused ? ", .unused = 1" : "", ix,
                s->nclass ? "class label" : shape_str(&s->shape, sh, sizeof sh),
                s->nindex ? " of integers" : "");
    }
    fprintf(f, "};\n");
    if (p->nsettings) {
        fprintf(f, "\n/* The train block; flags of the same name override these. */\n");
        fprintf(f, "static const NnrtSetting setting_table[] = {\n");
        for (int i = 0; i < p->nsettings; i++) {
            fprintf(f, "    {\"%s\", ", p->settings[i].key);
            c_string(f, p->settings[i].value);
            fprintf(f, ", \"%s:%d\"},\n", file, p->settings[i].loc.line);
        }
        fprintf(f, "};\n");
    }
    emit_draw_table(p, f);
    int have_example = 0;
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].example) {
            char name[160];
            snprintf(name, sizeof name, "example_%s", p->slots[i].name);
            if (!have_example)
                fprintf(f, "\n/* The example block. */\n");
            emit_doubles(f, name, p->slots[i].example, shape_numel(&p->slots[i].shape));
            have_example = 1;
        }
    if (have_example) {
        fprintf(f, "static const double *const example_table[] = {");
        for (int i = 0; i < ir_data_slots(p); i++)
            fprintf(f, "%s%s%s", i ? ", " : "", p->slots[i].example ? "example_" : "NULL",
                    p->slots[i].example ? p->slots[i].name : "");
        fprintf(f, "};\n");
    }
    for (int i = 0; i < p->nliterals; i++) {
        int n = 0;
        for (int v = 0; v < p->nv; v++)
            if (p->v[v].op == OP_LITERAL && p->v[v].index == i)
                n = numel(&p->v[v]);
        fprintf(f, "static const real literal_%d[%d] = {", i, n);
        for (int k = 0; k < n; k++) {
            char num[48];
            fprintf(f, "%s%s", k ? ", " : "", c_number(cg, p->literals[i][k], num, sizeof num));
        }
        fprintf(f, "};\n");
    }
}

/* ---- the file ---- */

void cg_emit_header(FILE *f, const IrProgram *p)
{
    fprintf(f, "/* %s.h - generated by nnc %s from %s; do not edit. */\n", p->name, NNC_VERSION,
            base_name(p->file));
    fprintf(f, "#ifndef NNC_MODEL_%s_H\n#define NNC_MODEL_%s_H\n\n", p->name, p->name);
    fprintf(f, "#include \"nnrt.h\"\n\n");
    fprintf(f, "/* The model, for nnrt_main() or your own training loop (see nnrt.h). */\n");
    fprintf(f, "const NnrtModel *%s_model(void);\n\n#endif\n", p->name);
}

/* The model struct handed to the runtime, and main() (or the library's
 * accessor); both styles end with it. */
static void emit_model(const Cg *cg, FILE *f)
{
    const IrProgram *p = cg->p;
    const CgOptions *opt = cg->opt;
    int f64 = p->dtype == DT_F64;
    int has_example = 0;
    for (int i = 0; i < p->nslots; i++)
        has_example |= p->slots[i].example != NULL;
    fprintf(f, "static const NnrtModel model = {\n");
    fprintf(f, "    .name = \"%s\",\n    .source = ", p->name);
    c_string(f, p->file);
    fprintf(f, ",\n    .source_hash = \"%016llx\",\n", cg_source_hash(p->source ? p->source : ""));
    fprintf(f, "    .nnc_version = \"%s\",\n    .dtype = \"%s\",\n", NNC_VERSION,
            f64 ? "float64" : "float32");
    fprintf(f, "    .nparams = %d, .params = %s, .nparam_total = %ld,\n", p->nparams,
            p->nparams ? "param_table" : "NULL", cg->lay.nparam_total);
    fprintf(f, "    .nslots = %d, .slots = slot_table,\n", ir_data_slots(p));
    fprintf(f, "    .nsettings = %d, .settings = %s,\n", p->nsettings,
            p->nsettings ? "setting_table" : "NULL");
    fprintf(f, "    .example = %s,\n", has_example ? "example_table" : "NULL");
    fprintf(f, "    .out_slot = %d, .out_size = %d, .out_value = %d,\n", p->out_slot,
            p->output >= 0 ? numel(&p->v[p->output]) : 0, p->out_value);
    if (p->output >= 0 && !p->v[p->output].temp) {   /* predict's key for it */
        fprintf(f, "    .out_name = ");
        c_string(f, p->v[p->output].name);
        fprintf(f, ",\n");
    }
    fprintf(f, "    .has_penalty = %d,\n", p->penalty >= 0);
    if (cg->tile > 0)
        fprintf(f, "    .tile = %d,   /* samples per pass: a chunk stays in the L1 cache */\n",
                cg->tile);
    if (ir_sample_max(p) > INT_MAX / NNRT_PASS_MAX)   /* else any pass fits */
        fprintf(f, "    .sample_max = %d,   /* a batch has at most INT_MAX / this samples */\n",
                ir_sample_max(p));
    fprintf(f, "    .create = create, .destroy = destroy, .forward = forward,\n");
    fprintf(f, "    .backward = backward, .penalty = penalty, .output = output,\n");
    if (cg->fused && cg->fu.ntransient > 0)
        fprintf(f, "    .nonfinite = nonfinite, .keep_all = keep_all,\n");
    else
        fprintf(f, "    .nonfinite = nonfinite,\n");
    int *ids = xcalloc((size_t)p->nv, sizeof *ids), nvalues = cg_named_values(p, &cg->lay, ids);
    free(ids);
    if (nvalues > 0)
        fprintf(f, "    .nvalues = %d, .values = value_table, .value = value,\n", nvalues);
    if (p->nslots > ir_data_slots(p))
        fprintf(f, "    .ndraws = %d, .draws = draw_table,\n", p->nslots - ir_data_slots(p));
    if (cg_batch_model(p))
        fprintf(f, "    .batchnorm = 1,   /* train mode: each batch in one pass */\n");
    if (cg_holds(p))
        fprintf(f, "    .holds = 1,   /* stop_gradient: check holds its values, in one pass */\n");
    if (cg_halves(p))
        fprintf(f, "    .halves = 1,   /* the threads share a pass in halves */\n");
    fprintf(f, "};\n\n");
    if (opt->lib) {
        fprintf(f, "const NnrtModel *%s_model(void)\n{\n    return &model;\n}\n", p->name);
    } else {
        fprintf(f, "int main(int argc, char **argv)\n{\n");
        fprintf(f, "    return nnrt_main(&model, argc, argv);\n}\n");
    }
}

/* forward() and backward() call forward_n() and backward_n(), inlined: for
 * a tile (n == tile, every loop over the samples with a constant trip
 * count) and for the rest.  With transient steps, after keep_all()
 * (--trap-nan) they call forward_all() and backward_all() instead, which
 * store every step's buffer for nonfinite(): functions of their own, as a
 * third copy inlined into forward() slowed its fast copies (W1 by 10%). */
static void emit_dispatch(const Cg *cg, FILE *f)
{
    int keep = cg->fu.ntransient > 0;
    const char *k0 = keep ? ", 0" : "";
    const char *fn[2] = {"forward", "backward"};
    const char *params[2] = {"(void *work, const real *params, int n,\n"
                             "%*sconst real *const *data, real *losses)",
                             "(void *work, const real *params, int n, real seed,\n"
                             "%*sreal *grads)"};
    const char *args[2] = {"data, losses", "seed, grads"};
    if (keep) {
        fprintf(f, "/* For --trap-nan, after keep_all(): the passes storing every step's\n"
                   " * values, for nonfinite(). */\n");
        for (int k = 0; k < 2; k++) {
            fprintf(f, "static NNRT_NOINLINE void %s_all", fn[k]);
            fprintf(f, params[k], (int)strlen(fn[k]) + 31, "");
            fprintf(f, "\n{\n    %s_n(work, params, n, %s, 1);\n}\n\n", fn[k], args[k]);
        }
        fprintf(f, "/* The runtime calls it after create() for --trap-nan. */\n"
                   "static void keep_all(void *work)\n{\n    ((Work *)work)->keep = 1;\n}\n\n");
    }
    if (cg->tile)
        fprintf(f, "/* The runtime runs a batch in chunks of %d samples (NnrtModel.tile), the\n"
                   " * last one shorter: the passes are compiled once more for n = %d, where\n"
                   " * every loop over the samples has a constant trip count. */\n", cg->tile,
                cg->tile);
    for (int k = 0; k < 2; k++) {
        fprintf(f, "static void %s", fn[k]);
        fprintf(f, params[k], (int)strlen(fn[k]) + 13, "");
        fprintf(f, "\n{\n");
        const char *el = "";
        if (keep) {
            fprintf(f, "    if (((const Work *)work)->keep)\n"
                       "        %s_all(work, params, n, %s);\n", fn[k], args[k]);
            el = "else ";
        }
        if (cg->tile)
            fprintf(f, "    %sif (n == %d)\n        %s_n(work, params, %d, %s%s);\n", el, cg->tile,
                    fn[k], cg->tile, args[k], k0);
        fprintf(f, "    else\n        %s_n(work, params, n, %s%s);\n}\n\n", fn[k], args[k], k0);
    }
}

static void cg_free(Cg *cg)
{
    for (int i = 0; i < cg->p->nv; i++)
        free(cg->cname[i]);
    free(cg->cname);
    free(cg->ctable);
    cg_layout_free(&cg->lay);
    if (cg->fused)
        cg_fusion_free(&cg->fu);
    free(cg->used);
    free(cg->written);
}

void cg_emit_c(FILE *f, const IrProgram *p, const CgOptions *opt)
{
    Cg cg;
    memset(&cg, 0, sizeof cg);
    cg.p = p;
    cg.opt = opt;
    cg.f = f;
    make_names(&cg);
    cg_layout_init(&cg.lay, p);
    cg.used = xcalloc((size_t)p->nv, 1);
    cg.written = xcalloc((size_t)p->nv, 1);
    char *fwd_mark = cg.lay.fwd_mark, *pen_mark = cg.lay.pen_mark;
    int f64 = p->dtype == DT_F64;
    const char *file = base_name(p->file);

    fprintf(f, "/*\n * %s.c - generated by nnc %s from %s; do not edit.\n *\n", p->name,
            NNC_VERSION, file);
    fprintf(f, " * A trainer for model %s in %s.  Build it against nnc's runtime:\n", p->name,
            f64 ? "float64" : "float32");
    fprintf(f, " *   cc -O2 -I RUNTIME -o %s %s.c RUNTIME/libnnrt.a -lz -lm\n", p->name, p->name);
    fprintf(f, " * or let `nnc build` do it; run `./%s --help` for its commands.\n *\n", p->name);
    if (opt->style == CG_STYLE_LOOPS) {
        fprintf(f, " * Layout: a per-sample tensor of shape S is stored for a batch of n\n");
        fprintf(f, " * samples as [n, S], row-major.  forward() runs the model on n samples,\n");
        fprintf(f, " * backward() runs its adjoint program in exactly reversed order, each\n");
    } else {
        fprintf(f, " * Layout: a per-sample tensor of shape S is stored for a batch of n\n");
        fprintf(f, " * samples as [S, n], samples innermost: element i of sample b is\n");
        fprintf(f, " * x[i * n + b].  forward() runs the model on n samples, backward()\n");
        fprintf(f, " * its adjoint program in exactly reversed order.  Consecutive steps\n");
        fprintf(f, " * over the same elements share one loop, where x_ is step x's element,\n");
        fprintf(f, " * kept in a register for the later steps (stored where another loop\n");
        fprintf(f, " * reads it, and for --trap-nan); each step under the derivative it\n");
        fprintf(f, " * computes (d_X is dL/dX).\n");
    }
    if (opt->style == CG_STYLE_LOOPS)
        fprintf(f, " * step under the derivative it computes (d_X is dL/dX).\n");
    if (opt->style == CG_STYLE_LOOPS)
        fprintf(f, " *\n * Style: loops (nnc --style=loops).  Both passes run one sample at a\n"
                   " * time, as explicit loops over each tensor's indices (W1[i][j]); the\n"
                   " * default style computes the same values for the whole batch at once.\n");
    fprintf(f, " */\n");
    if (f64)
        fprintf(f, "#define NNRT_F64\n");
    if (opt->lib && opt->header)
        fprintf(f, "#include \"%s\"\n\n", opt->header);
    else
        fprintf(f, "#include \"nnrt.h\"\n\n");
    fprintf(f, "typedef nnrt_real real;   /* %s */\n", f64 ? "double" : "float");
    emit_tables(&cg, f);
    if (opt->style == CG_STYLE_LOOPS) {
        /* its own workspace and functions (emit_loops.c), the same model struct */
        CgLoops lx = {p, cg.cname, cg.lay.param_off, cg.lay.needs_buf, fwd_mark, pen_mark,
                      &cg.lay};
        cg_loops_functions(f, &lx);
        emit_nonfinite(&cg, f, fwd_mark);
        emit_values(&cg, f, 0);
        emit_model(&cg, f);
        cg_free(&cg);
        return;
    }

    /* the workspace, without the buffers fused loops keep in registers */
    cg_fusion_init(&cg.fu, p, &cg.lay);
    cg.fused = 1;
    fprintf(f, "\n/* Every intermediate tensor, for up to `cap` samples (one allocation). */\n");
    fprintf(f, "typedef struct Work {\n    real *mem;\n    const real *out;   /* the prediction */\n");
    if (cg.fu.ntransient > 0)
        fprintf(f, "    int keep;                        /* store every step: keep_all() */\n");
    long per_sample = cg.lay.per_sample;
    for (int i = 0; i < p->nslots; i++) {
        const char *name = cg.cname[p->slots[i].value];
        if (cg_slot_transposed(p, i)) {
            fprintf(f, "    real *%s;%*s/* data: %s, [%d] x [cap], samples innermost */\n", name,
                    (int)(26 - strlen(name)), "", p->slots[i].name, shape_numel(&p->slots[i].shape));
            per_sample += shape_numel(&p->slots[i].shape);
        } else {
            fprintf(f, "    const real *%s;%*s/* data: %s */\n", name, (int)(20 - strlen(name)), "",
                    p->slots[i].name);
        }
    }
    int pred = p->output >= 0 && p->v[p->output].batched && numel(&p->v[p->output]) > 1;
    if (pred) {
        fprintf(f, "    real *pred;                      /* the prediction, [cap] x [%d] */\n",
                numel(&p->v[p->output]));
        per_sample += numel(&p->v[p->output]);
    }
    for (int i = 0; i < p->nv; i++) {
        if (!cg.lay.needs_buf[i])
            continue;
        const Value *v = &p->v[i];
        char sh[64];
        shape_str(&v->shape, sh, sizeof sh);
        char steps[64] = "";
        if (cg.lay.slots[i] > 1)
            snprintf(steps, sizeof steps, "%d x ", cg.lay.slots[i]);
        fprintf(f, "    real *%s;%*s/* %s%s%s%s */\n", cg.cname[i],
                (int)(26 - strlen(cg.cname[i])), "", steps,
                v->batched && v->shape.rank == 0 ? "" : sh,
                v->batched ? (v->shape.rank ? " x [cap]" : "[cap]") : "",
                i >= p->fwd.end ? "  adjoint" : "");
    }
    fprintf(f, "} Work;\n\n");
    cg.tile = cg_tile(per_sample - cg.fu.transient_per_sample, p->dtype);
    if (cg_batch_model(p))
        cg.tile = 0;   /* a batch in one pass: its statistics are the batch's */

    /* every buffer a whole number of cache lines, starting on one: the
     * vector loads of a full tile never straddle two lines (W1's passes
     * ran up to 10% slower or faster with where calloc happened to put
     * them) */
    long fixed_lines = 0;
    for (int i = 0; i < p->nv; i++)
        if (cg.lay.needs_buf[i] && !p->v[i].batched)
            fixed_lines += (numel(&p->v[i]) * cg.lay.slots[i] + 15) / 16 * 16;
    fprintf(f, "static void *create(int cap)\n{\n");
    fprintf(f, "    /* each buffer whole cache lines of 64 bytes, starting on one */\n");
    fprintf(f, "    size_t c = ((size_t)cap + 15) / 16 * 16;\n");
    fprintf(f, "    size_t size = (c * %ld + %ld) * sizeof(real);\n", per_sample, fixed_lines);
    fprintf(f, "    Work *ws = calloc(1, sizeof *ws);\n");
    fprintf(f, "    real *m = ws ? aligned_alloc(64, size) : NULL;\n");
    fprintf(f, "    if (!m) {\n        free(ws);\n        return NULL;\n    }\n");
    fprintf(f, "    memset(m, 0, size);\n");
    fprintf(f, "    ws->mem = m;\n");
    for (int i = 0; i < p->nslots; i++)
        if (cg_slot_transposed(p, i)) {
            const char *name = cg.cname[p->slots[i].value];
            fprintf(f, "    ws->%s = m;%*sm += c * %d;\n", name,
                    (int)(24 - strlen(name)), "", shape_numel(&p->slots[i].shape));
        }
    if (pred)
        fprintf(f, "    ws->pred = m;                     m += c * %d;\n",
                numel(&p->v[p->output]));
    for (int i = 0; i < p->nv; i++) {
        if (!cg.lay.needs_buf[i])
            continue;
        const Value *v = &p->v[i];
        int size = numel(v) * cg.lay.slots[i];
        if (v->batched)
            fprintf(f, "    ws->%s = m;%*sm += c * %d;\n", cg.cname[i],
                    (int)(24 - strlen(cg.cname[i])), "", size);
        else
            fprintf(f, "    ws->%s = m;%*sm += %d;\n", cg.cname[i],
                    (int)(24 - strlen(cg.cname[i])), "", (size + 15) / 16 * 16);
    }
    fprintf(f, "    return ws;\n}\n\n");
    fprintf(f, "static void destroy(void *work)\n{\n    Work *ws = work;\n");
    fprintf(f, "    if (ws)\n        free(ws->mem);\n    free(ws);\n}\n\n");

    /* forward and backward: compiled twice over or more (emit_dispatch) for
     * a tile or when some steps are stored only for --trap-nan */
    int keep = cg.fu.ntransient > 0, twice = cg.tile || keep;
    char sig[512];
    fprintf(f, "/* The model on n samples: every value, then the per-sample losses. */\n");
    {
        /* the data pointers are kept for backward() */
        char prologue[4096] = "";
        size_t len = 0;
        for (int i = 0; i < p->nslots && len < sizeof prologue; i++) {
            const char *name = cg.cname[p->slots[i].value];
            int size = shape_numel(&p->slots[i].shape);
            if (cg_slot_transposed(p, i))
                len += (size_t)snprintf(prologue + len, sizeof prologue - len,
                                        "    /* data[%d], transposed: samples innermost */\n"
                                        "    nnrt_transpose(data[%d], n, %d, ws->%s);\n",
                                        i, i, size, name);
            else
                len += (size_t)snprintf(prologue + len, sizeof prologue - len,
                                        "    ws->%s = data[%d];\n", name, i);
        }
        struct FwdArg fa = {fwd_mark};
        snprintf(sig, sizeof sig, twice ? "static NNRT_INLINE void forward_n(void *work, const real *params, int n,\n"
                                          "                                  const real *const *data, real *losses%s)"
                                        : "static void forward(void *work, const real *params, int n,\n"
                                          "                    const real *const *data, real *losses)",
                 keep ? ", int keep" : "");
        function(&cg, f, sig, ARG_PARAMS | ARG_N | (keep ? ARG_KEEP : 0), prologue, forward_body,
                 &fa);
    }

    /* backward */
    fprintf(f, "/* The adjoint program: adds seed * d(sum of losses)/dparams to grads,\n"
               " * where seed is 1/B for a mean over the batch and 1 for a sum. */\n");
    {
        struct RangeArg ra = {p->bwd_loss};
        snprintf(sig, sizeof sig, twice ? "static NNRT_INLINE void backward_n(void *work, const real *params, int n,\n"
                                          "                                   real seed, real *grads%s)"
                                        : "static void backward(void *work, const real *params, int n, real seed,\n"
                                          "                     real *grads)",
                 keep ? ", int keep" : "");
        function(&cg, f, sig, ARG_PARAMS | ARG_GRADS | ARG_SEED | ARG_N | (keep ? ARG_KEEP : 0),
                 "", range_body, &ra);
    }
    if (twice)
        emit_dispatch(&cg, f);

    /* penalty */
    fprintf(f, "/* The penalty (parameters only, once per batch); with grads, its gradient too. */\n");
    if (p->penalty >= 0) {
        struct PenArg pa = {pen_mark};
        function(&cg, f, "static real penalty(void *work, const real *params, real *grads)",
                 ARG_PARAMS | ARG_GRADS, "", penalty_body, &pa);
    } else {
        fprintf(f, "static real penalty(void *work, const real *params, real *grads)\n{\n");
        fprintf(f, "    (void)work;\n    (void)params;\n    (void)grads;\n    return 0;\n}\n\n");
    }
    fprintf(f, "static const real *output(void *work)\n{\n    return ((Work *)work)->out;\n}\n\n");
    emit_nonfinite(&cg, f, fwd_mark);
    emit_values(&cg, f, 1);

    emit_model(&cg, f);
    cg_free(&cg);
}

/* ---- for the loops style (cg_loops.h) ---- */

const char *cg_c_number(const IrProgram *p, double x, char *buf, size_t n)
{
    Cg cg;
    memset(&cg, 0, sizeof cg);
    cg.p = p;
    return c_number(&cg, x, buf, n);
}
