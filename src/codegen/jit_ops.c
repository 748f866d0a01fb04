/*
 * jit_ops.c - the lowering of each op kind to LLVM IR, each as emit_c.c
 * writes it: the same loops, in the same order, over the same layout
 * (samples innermost, plan.h), so a value is computed by the same formula
 * in both backends.  emit_value() lowers one value: an elementwise map, a
 * matrix product (nnrt_gemm or loops, by its plan), a transpose, a
 * reduction, a row op (softmax and friends, cross-entropy) or a whole
 * fused loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jit_internal.h"

/* The element a loop nest's reference r points to (plan.h CgRef), with
 * the loop variables' values x[] (0 outside their loop). */
static LLVMValueRef nest_ptr(Jit *j, const CgRef *r, LLVMValueRef *x)
{
    LLVMValueRef idx = NULL;
    for (int t = 0; t < r->nterms; t++) {
        const CgTerm *m = &r->term[t];
        LLVMValueRef e = x[m->var];
        if (m->div > 1)   /* a stretched operand in a fused loop (cg_stretched_ref) */
            e = LLVMBuildUDiv(j->b, e, const_i64(j, m->div), "");
        if (m->mod)
            e = LLVMBuildSRem(j->b, e, const_i64(j, m->mod), "");
        e = index_mul(j, e, m->coef);
        idx = idx ? index_add(j, idx, e) : e;
    }
    if (!idx || r->off)
        idx = idx ? index_add(j, idx, const_i64(j, r->off)) : const_i64(j, r->off);
    return offset_ptr(j, storage(j, r->id), batch_index(j, idx, r->batched, x[CG_VAR_B]));
}

static LLVMValueRef nest_load(Jit *j, const CgRef *r, LLVMValueRef *x, LLVMValueRef local)
{
    switch (r->kind) {
    case CG_REF_NUM: return const_real(j, r->num);
    case CG_REF_SEED: return j->seed;
    case CG_REF_LOCAL: return load_real(j, local);
    case CG_REF_ELEM: break;
    }
    return load_real(j, nest_ptr(j, r, x));
}

/* The runtime's nnrt_held() (nnrt.h): check's finite differences hold
 * the stop_gradient values. */
static LLVMValueRef call_held(Jit *j)
{
    const char *name = j->p->dtype == DT_F32 ? "nnrt_held_f32" : "nnrt_held_f64";
    LLVMTypeRef ty = LLVMFunctionType(j->i32, NULL, 0, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(j->mod, name);
    if (!fn)
        fn = LLVMAddFunction(j->mod, name, ty);
    return LLVMBuildCall2(j->b, ty, fn, NULL, 0, "held");
}

/* A loop nest (plan.h cg_nest), as emit_c.c prints it: the same loops, the
 * same statements.  A flat loop runs over the padded rows (ld per element),
 * as do the loops over the samples but a sum's (samples_open). */
static void build_nest(Jit *j, const CgNest *ns)
{
    LLVMValueRef x[CG_NVARS], local = NULL;
    Loop loop[16];
    LLVMBasicBlockRef after[16];
    int kind[16], nopen = 0;
    for (int v = 0; v < CG_NVARS; v++)
        x[v] = const_i64(j, 0);
    if (j->t)
        x[CG_VAR_T] = j->t;   /* the rolled loop's step */
    for (int k = 0; k < ns->nsteps; k++) {
        const CgNestStep *s = &ns->step[k];
        switch (s->kind) {
        case CG_N_LOOP: {
            Loop *l = &loop[nopen];
            if (s->var == CG_VAR_B) {
                x[s->var] = samples_open(j, l, s->padded);
            } else {
                LLVMValueRef count = s->count == CG_COUNT_FLAT ? index_mul(j, j->ld, s->k)
                                                               : const_i64(j, s->k);
                x[s->var] = loop_open(j, l, count, cg_var_name[s->var]);
            }
            l->reassoc = s->sum;   /* NNRT_SIMD_SUM in emit_c.c */
            if (s->parallel)
                l->parallel = 1;
            kind[nopen++] = s->var;
            break;
        }
        case CG_N_BLOCK:
            kind[nopen++] = -1;
            break;
        case CG_N_UNLESS_HELD: {
            LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
            after[nopen] = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
            LLVMValueRef free_ = LLVMBuildICmp(j->b, LLVMIntEQ, call_held(j), const_i32(j, 0), "");
            LLVMBuildCondBr(j->b, free_, body, after[nopen]);
            LLVMPositionBuilderAtEnd(j->b, body);
            kind[nopen++] = -2;
            break;
        }
        case CG_N_CLEAR: {
            const Value *d = &j->p->v[s->dst.id];
            LLVMValueRef count = d->batched ? index_mul(j, j->ld, numel(d)) : const_i64(j, numel(d));
            LLVMValueRef bytes = index_mul(j, count, j->p->dtype == DT_F32 ? 4 : 8);
            LLVMBuildMemSet(j->b, storage(j, s->dst.id), LLVMConstInt(j->i8, 0, 0), bytes, 4);
            break;
        }
        case CG_N_END:
            if (kind[--nopen] >= 0) {
                loop_close(j, &loop[nopen]);
                x[kind[nopen]] = const_i64(j, 0);
            } else if (kind[nopen] == -2) {
                LLVMBuildBr(j->b, after[nopen]);
                LLVMPositionBuilderAtEnd(j->b, after[nopen]);
            }
            break;
        case CG_N_STORE: {
            LLVMValueRef args[3];
            for (int a = 0; a < s->nargs; a++)
                args[a] = nest_load(j, &s->arg[a], x, local);
            LLVMValueRef e = build_expr(j, s->e, args);
            if (s->op == CG_OP_DECL) {
                local = stack_local(j, j->real, ns->local);
                LLVMBuildStore(j->b, e, local);
                break;
            }
            LLVMValueRef ptr = s->dst.kind == CG_REF_LOCAL ? local : nest_ptr(j, &s->dst, x);
            if (s->op == CG_OP_DIV)
                LLVMBuildStore(j->b, LLVMBuildFDiv(j->b, load_real(j, ptr), e, ""), ptr);
            else
                store_or_add(j, ptr, e, s->op == CG_OP_ADD);
            break;
        }
        }
    }
}

/* An elementwise op, a transpose, a reduction, a view or a product
 * planned as loops: its loop nest. */
static void emit_loops(Jit *j, int id)
{
    int acc = begin_store(j, id);
    CgNest ns;
    cg_nest(j->p, id, acc ? CG_ADD : CG_ASSIGN, &ns);
    build_nest(j, &ns);
}

/* A size or leading dimension of a GEMM call (plan.h CgDim): a count of
 * k > 1 samples per sample and a batched buffer's row run over the padded
 * rows (ld, the padding lanes too); *rowk keeps ld * k, built once. */
static LLVMValueRef gemm_dim(Jit *j, CgDim d, LLVMValueRef ld, LLVMValueRef *rowk)
{
    if (d.kind == CG_DIM_CONST)
        return const_i32(j, d.k);
    if (d.k == 1)
        return d.kind == CG_DIM_COUNT ? j->n : ld;
    if (!*rowk)
        *rowk = LLVMBuildNSWMul(j->b, ld, const_i32(j, d.k), "");
    return *rowk;
}

/* A product by its plan (plan.h), as emit_c.c's emit_matmul. */
static void emit_matmul(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    CgMatmul mm = cg_matmul_plan(p, id);
    if (mm.kind == CG_MM_LOOPS) {
        emit_loops(j, id);
        return;
    }
    LLVMValueRef a = storage(j, v->arg[0]), bn = storage(j, v->arg[1]), c = storage(j, cg_dest(p, id));
    int acc = begin_store(j, id);
    /* n samples of rows of ld (padded rows) */
    LLVMValueRef beta = const_real(j, acc ? 1 : 0);
    LLVMValueRef ld = LLVMBuildTrunc(j->b, j->ld, j->i32, ""), rowk = NULL;
    CgGemm g = cg_gemm(p, id, &mm);
    LLVMValueRef M = gemm_dim(j, g.M, ld, &rowk), N = gemm_dim(j, g.N, ld, &rowk);
    LLVMValueRef K = gemm_dim(j, g.K, ld, &rowk), lda = gemm_dim(j, g.lda, ld, &rowk);
    LLVMValueRef ldb = gemm_dim(j, g.ldb, ld, &rowk), ldc = gemm_dim(j, g.ldc, ld, &rowk);
    call_gemm(j, g.ta, g.tb, M, N, K, g.a == v->arg[0] ? a : bn, lda, g.b == v->arg[1] ? bn : a,
              ldb, beta, c, ldc);
}

/* A gather or a scatter-add (plan.h CgGather), as emit_c.c's emit_gather;
 * only the real samples: a padded row's index is no row. */
static void emit_gather(Jit *j, int id)
{
    const IrProgram *p = j->p;
    CgGather g = cg_gather_plan(p, id);
    int acc = begin_store(j, id);
    Loop lt, lb, lj;
    LLVMValueRef t = g.T > 1 ? loop_open(j, &lt, const_i64(j, g.T), "t") : const_i64(j, 0);
    LLVMValueRef b = samples_open(j, &lb, 0);
    LLVMValueRef ix = load_real(j, offset_ptr(j, storage(j, g.index), batch_index(j, t, 1, b)));
    LLVMValueRef r = LLVMBuildFPToSI(j->b, ix, j->i64, "r");
    LLVMValueRef jj = g.D > 1 ? loop_open(j, &lj, const_i64(j, g.D), "j") : const_i64(j, 0);
    LLVMValueRef ri = index_add(j, index_mul(j, t, g.D), jj);
    LLVMValueRef ti = index_add(j, index_mul(j, r, g.D), jj);
    LLVMValueRef rp = offset_ptr(j, storage(j, g.rows), batch_index(j, ri, p->v[g.rows].batched, b));
    LLVMValueRef tp = offset_ptr(j, storage(j, g.table), batch_index(j, ti, p->v[g.table].batched, b));
    if (g.scatter)
        store_or_add(j, tp, load_real(j, rp), acc);
    else
        store_or_add(j, rp, load_real(j, tp), acc);
    if (g.D > 1)
        loop_close(j, &lj);
    loop_close(j, &lb);
    if (g.T > 1)
        loop_close(j, &lt);
}

/* Element jj of row r (of K entries) of value id, of sample b when batched. */
static LLVMValueRef row_ptr(Jit *j, int id, int rows, int K, LLVMValueRef r, LLVMValueRef jj,
                            LLVMValueRef b)
{
    LLVMValueRef idx = rows > 1 ? index_add(j, index_mul(j, r, K), jj) : jj;
    return offset_ptr(j, storage(j, id), batch_index(j, idx, j->p->v[id].batched, b));
}

/* Does e read operand $k? */
static int expr_reads(const IrExpr *e, int k)
{
    if (e->kind == E_ARG)
        return e->arg == k;
    for (int c = 0; c < e->nkids; c++)
        if (expr_reads(e->kid[c], k))
            return 1;
    return 0;
}

/* Where a row step reads x[cls] (plan.h): the row's input at the class. */
typedef struct RowAt { int x, rows, K; LLVMValueRef r, cls, b; } RowAt;

static LLVMValueRef load_at_class(Jit *j, int arg, void *ctx)
{
    const RowAt *at = ctx;
    if (arg != CG_ROW_XCLS)
        diag_internal("jit: row operand $%d not loaded", arg);
    return load_real(j, row_ptr(j, at->x, at->rows, at->K, at->r, at->cls, at->b));
}

/* The value of row step s's expression at element jj (plan.h): ops holds
 * the row's numbers and locals so far; the row operands' elements the
 * expression reads are loaded here, in operand order, then the running
 * value of the local a reduction updates (from its slot ptr); x[cls] is
 * loaded where the expression reads it. */
static LLVMValueRef row_value(Jit *j, int id, const CgRowStep *s, LLVMValueRef *ops,
                              LLVMValueRef ptr, int rows, int K, LLVMValueRef r, LLVMValueRef jj,
                              LLVMValueRef b)
{
    const Value *v = &j->p->v[id];
    const CgRow *rp = cg_row_plan(v->op);
    LLVMValueRef x[CG_ROW_NOPS];
    for (int k = 0; k < CG_ROW_NOPS; k++)
        x[k] = ops[k];
    for (int k = 0; k < v->nargs; k++)
        if (!rp->scalar[k] && expr_reads(s->e, k))
            x[k] = load_real(j, row_ptr(j, v->arg[k], rows, K, r, jj, b));
    if (s->kind == CG_ROW_REDUCE && expr_reads(s->e, s->local[0]))
        x[s->local[0]] = load_real(j, ptr);
    x[CG_ROW_J] = jj;
    x[CG_ROW_XCLS] = NULL;
    RowAt at = {v->arg[rp->x], rows, K, r, ops[CG_ROW_CLS], b};
    return build_expr_lazy(j, s->e, x, load_at_class, &at);
}

/* Softmax and friends, one row (the last axis) at a time: the steps of
 * their plan (plan.h cg_row_plan), as emit_c.c prints them.  exp and log as
 * in the elementwise ops (build_math: in float32 the runtime's nnrt_expf,
 * the C trainer's bits). */
static void emit_row(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    const CgRow *rp = cg_row_plan(v->op);
    int K, rows;
    cg_row_dims(p, id, &K, &rows);
    int x = v->arg[rp->x], dst = cg_dest(p, id);
    int acc = begin_store(j, id);
    Loop lb, lr, lj;
    LLVMValueRef b = const_i64(j, 0), r = const_i64(j, 0), jj;
    /* cross_entropy's class labels index the row: only real samples' */
    if (v->batched)
        b = samples_open(j, &lb, !rp->labels);
    if (rows > 1)
        r = loop_open(j, &lr, const_i64(j, rows), "r");
    LLVMValueRef ops[CG_ROW_NOPS] = {0}, ptr[CG_ROW_NOPS] = {0};
    for (int k = 0; k < rp->nsteps; k++) {
        const CgRowStep *s = &rp->step[k];
        int l = s->local[0];
        switch (s->kind) {
        case CG_ROW_LOCALS:
            for (int e = 0; e < 2 && s->local[e] >= 0; e++)
                ptr[s->local[e]] = s->first[e] ? stack_local(j, j->real, cg_row_name[s->local[e]])
                                               : zeroed_local(j, cg_row_name[s->local[e]]);
            for (int e = 0; e < 2 && s->local[e] >= 0; e++)
                if (s->first[e])
                    LLVMBuildStore(j->b, load_real(j, row_ptr(j, x, rows, K, r, const_i64(j, 0), b)),
                                   ptr[s->local[e]]);
            break;
        case CG_ROW_NUMBERS:
            for (int a = 0; a < v->nargs; a++)
                if (rp->scalar[a])
                    ops[a] = load_elem(j, v->arg[a], 1, 0, 1, b, const_i64(j, 0));
            if (s->cls >= 0)
                ops[CG_ROW_CLS] = LLVMBuildSExt(j->b, LLVMBuildFPToSI(j->b, ops[s->cls], j->i32, "cls"),
                                                j->i64, "");
            break;
        case CG_ROW_REDUCE:
            /* for (j = from; j < K; j++) local (+)= e */
            jj = loop_open(j, &lj, const_i64(j, K - s->from), "j");
            if (s->from)
                jj = index_add(j, jj, const_i64(j, s->from));
            if (s->add)
                store_or_add(j, ptr[l], row_value(j, id, s, ops, ptr[l], rows, K, r, jj, b), 1);
            else
                LLVMBuildStore(j->b, row_value(j, id, s, ops, ptr[l], rows, K, r, jj, b), ptr[l]);
            loop_close(j, &lj);
            ops[l] = LLVMBuildLoad2(j->b, j->real, ptr[l], cg_row_name[l]);
            break;
        case CG_ROW_LET:
            ops[l] = row_value(j, id, s, ops, NULL, rows, K, r, NULL, b);
            LLVMSetValueName2(ops[l], cg_row_name[l], strlen(cg_row_name[l]));
            break;
        case CG_ROW_STORE:
            jj = loop_open(j, &lj, const_i64(j, K), "j");
            store_or_add(j, row_ptr(j, dst, rows, K, r, jj, b),
                         row_value(j, id, s, ops, NULL, rows, K, r, jj, b), acc);
            loop_close(j, &lj);
            break;
        case CG_ROW_STORE_ONE:
            store_at(j, row_value(j, id, s, ops, NULL, rows, K, r, NULL, b), storage(j, id),
                     v->batched ? b : const_i64(j, 0));
            break;
        }
    }
    if (rows > 1)
        loop_close(j, &lr);
    if (v->batched)
        loop_close(j, &lb);
}

/* A fused loop's reference (plan.h CgFused): a member's local in a
 * register (loc), else as a nest's. */
static LLVMValueRef fused_load(Jit *j, const CgRef *r, LLVMValueRef *x, LLVMValueRef *loc)
{
    return r->kind == CG_REF_LOCAL ? loc[r->id] : nest_load(j, r, x, NULL);
}

/* *s += x in a sum over the samples; in a loop over the padded rows
 * (real is b < n) the padding lanes add 0, whatever x holds there (NaN
 * included).  (A product then no longer fuses with the addition; a select
 * of the sum itself instead of the term is no reduction for LLVM 14's
 * vectoriser.) */
static void sum_add(Jit *j, LLVMValueRef s, LLVMValueRef x, LLVMValueRef real)
{
    store_or_add(j, s, real ? LLVMBuildSelect(j->b, real, x, const_real(j, 0), "") : x, 1);
}

/* A fused loop (plan.h cg_fused_plan), as emit_c.c's emit_fused: for
 * each element i of N and each sample b, every member's element, kept in a
 * register for the later ones (a register sum unrolled over its k terms);
 * sums over the batch in accumulators added after the loop over the
 * samples.  A member stored only for --trap-nan (keep_only) is stored in
 * the variant compiled for it (j->trap), whose nonfinite() checks every
 * buffer, as the C trainer's after keep_all(). */
static void emit_fused(Jit *j, int h)
{
    CgFused f;
    cg_fused_plan(&j->fu, j->p, h, j->written, &f);
    int ng = f.nmembers;
    LLVMValueRef *loc = xcalloc((size_t)ng, sizeof *loc);
    LLVMValueRef *sum = xcalloc((size_t)(f.nsums ? f.nsums : 1), sizeof *sum);
    LLVMValueRef x[CG_NVARS];
    for (int v = 0; v < CG_NVARS; v++)
        x[v] = const_i64(j, 0);
    for (int e = 0; e < ng; e++)
        if (f.m[e].store == CG_ZERO_ADD)
            clear_dest(j, f.m[e].id);
    Loop li, lb;
    if (f.N > 1)
        x[CG_VAR_I] = loop_open(j, &li, const_i64(j, f.N), "i");
    for (int s = 0; s < f.nsums; s++)
        sum[s] = zeroed_local(j, "s");
    /* vectorised over the samples even where LLVM cannot prove that the
     * workspace's buffers do not overlap (NNRT_SIMD_LOOP in emit_c.c); over
     * the padded rows, the sums' terms of the padding lanes 0 (sum_add) */
    LLVMValueRef b = x[CG_VAR_B] = samples_open(j, &lb, 1);
    lb.reassoc = 1;
    /* compared in 32 bits: the vectoriser's vector of sample indices is
     * then one AVX register, not two of 64-bit lanes (W5's code generator
     * 6% faster); but in 64 in a copy for tile samples (build_passes),
     * where LLVM then finds the mask true throughout and drops it */
    LLVMValueRef real =
        LLVMIsAConstant(j->n)
            ? LLVMBuildICmp(j->b, LLVMIntSLT, b, j->n64, "real")
            : LLVMBuildICmp(j->b, LLVMIntSLT, LLVMBuildTrunc(j->b, b, j->i32, ""), j->n, "real");
    /* the members' registers, at most ng in a set of twice as many slots */
    size_t cap = 16;
    while (cap < 2 * (size_t)ng)
        cap *= 2;
    j->regs = xcalloc(cap, sizeof *j->regs);
    j->regmask = cap - 1;
    for (int e = 0; e < ng; e++) {
        const CgFusedMember *m = &f.m[e];
        LLVMValueRef *ms = m->nsum ? sum + (m->sum - f.sums) : NULL, y = NULL, ops[3];
        switch (m->kind) {
        case CG_FM_OUTER:
            ops[0] = fused_load(j, &m->arg[0], x, loc);
            for (int s = 0; s < m->nsum; s++) {
                LLVMValueRef ey = nest_load(j, &m->sum[s].y, x, NULL);
                sum_add(j, ms[s], m->side == 0 ? real_mul(j, ops[0], ey) : real_mul(j, ey, ops[0]),
                        real);
            }
            continue;
        case CG_FM_REG_SUM:
            for (int k = 0; k < m->nk; k++) {
                x[CG_VAR_K] = const_i64(j, k);
                LLVMValueRef t = real_mul(j, nest_load(j, &m->arg[0], x, NULL),
                                          nest_load(j, &m->arg[1], x, NULL));
                y = y ? real_add(j, y, t) : t;
            }
            x[CG_VAR_K] = const_i64(j, 0);
            break;
        case CG_FM_ELEM:
            for (int a = 0; a < m->nargs; a++)
                ops[a] = fused_load(j, &m->arg[a], x, loc);
            y = build_expr(j, m->e, ops);
            if (m->into_sums) {
                sum_add(j, ms[0], y, real);
                continue;
            }
            break;
        }
        loc[e] = y;
        keep_in_register(j, y);
        if (!m->keep_only || j->trap)
            store_or_add(j, nest_ptr(j, &m->dst, x), y, m->store != CG_ASSIGN);
    }
    free(j->regs);
    j->regs = NULL;
    loop_close(j, &lb);
    for (int e = 0; e < ng; e++)
        for (int s = 0; s < f.m[e].nsum; s++) {
            LLVMValueRef y = load_real(j, sum[f.m[e].sum - f.sums + s]);
            store_or_add(j, nest_ptr(j, &f.m[e].sum[s].dst, x), y, f.m[e].store != CG_ASSIGN);
        }
    if (f.N > 1)
        loop_close(j, &li);
    cg_fused_free(&f);
    free(loc);
    free(sum);
}

/* Batch norm: one call of the runtime's nnrt_batchnorm over the n samples
 * (plan.h CgBatch), as the C backend's emit_batch; the mode from the
 * runtime's nnrt_pass_train(). */
static void emit_batch(Jit *j, int id)
{
    const IrProgram *p = j->p;
    CgBatch bp = cg_batch_plan(p, id);
    int f32 = p->dtype == DT_F32;
    LLVMTypeRef i32 = j->i32, r = j->rptr;
    LLVMTypeRef at[15] = {i32, i32, i32, i32, i32, i32, i32, i32, r, r, r, r, r, r, r};
    LLVMTypeRef ty = LLVMFunctionType(LLVMVoidTypeInContext(j->ctx), at, 15, 0);
    LLVMTypeRef mty = LLVMFunctionType(i32, NULL, 0, 0);
    const char *fname = f32 ? "nnrt_batchnorm_f32" : "nnrt_batchnorm_f64";
    const char *mname = f32 ? "nnrt_pass_train_f32" : "nnrt_pass_train_f64";
    LLVMValueRef fn = LLVMGetNamedFunction(j->mod, fname), mfn = LLVMGetNamedFunction(j->mod, mname);
    if (!fn)
        fn = LLVMAddFunction(j->mod, fname, ty);
    if (!mfn)
        mfn = LLVMAddFunction(j->mod, mname, mty);
    int add = begin_store(j, id);
    LLVMValueRef train = LLVMBuildCall2(j->b, mty, mfn, NULL, 0, "train");
    LLVMValueRef args[15] = {
        const_i32(j, bp.kernel), train, const_i32(j, add), j->n,
        LLVMBuildTrunc(j->b, j->ld, i32, ""), const_i32(j, 1), const_i32(j, bp.C), const_i32(j, bp.S),
    };
    for (int k = 0; k < 4; k++)
        args[8 + k] = bp.arg[k] >= 0 ? storage(j, bp.arg[k]) : LLVMConstNull(r);
    args[12] = storage(j, cg_dest(p, id));
    int run[2] = {bp.rmean, bp.rvar};
    for (int k = 0; k < 2; k++) {
        LLVMValueRef off = const_i64(j, run[k] >= 0 ? j->lay.param_off[run[k]] : 0);
        args[13 + k] = run[k] >= 0 ? LLVMBuildInBoundsGEP2(j->b, j->real, j->params, &off, 1, "")
                                   : LLVMConstNull(r);
    }
    LLVMBuildCall2(j->b, ty, fn, args, 15, "");
}

/* A sliding window (plan.h cg_conv_plan): a call of the runtime's kernel,
 * as emit_c.c's emit_conv, with the sizes as a constant NnrtConv (thirteen
 * ints) and the padded rows (ld) of the batched buffers. */
static void emit_conv(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    CgConv c = cg_conv_plan(p, id);
    int add = begin_store(j, id);
    const int dims[13] = {c.C, c.H, c.W, c.O, c.KH, c.KW, c.OH, c.OW, c.sh, c.sw, c.ph, c.pw,
                          c.gemm};
    LLVMValueRef k[13];
    for (int e = 0; e < 13; e++)
        k[e] = const_i32(j, dims[e]);
    LLVMTypeRef at = LLVMArrayType(j->i32, 13);
    LLVMValueRef g = LLVMAddGlobal(j->mod, at, "window");
    LLVMSetInitializer(g, LLVMConstArray(j->i32, k, 13));
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMTypeRef i32p = LLVMPointerType(j->i32, 0);
    /* the call's operands: the sizes, n and ld, then pointers, then add */
    LLVMValueRef args[9];
    LLVMTypeRef types[9];
    int na = 0;
    args[na] = LLVMConstBitCast(g, i32p), types[na++] = i32p;
    args[na] = v->batched ? j->n : const_i32(j, 1), types[na++] = j->i32;
    args[na] = v->batched ? LLVMBuildTrunc(j->b, j->ld, j->i32, "") : const_i32(j, 1);
    types[na++] = j->i32;
    int nptr = c.call == CG_CONV ? 3 : v->nargs;
    for (int a = 0; a < nptr; a++) {
        args[na] = a == 2 && !c.bias ? LLVMConstPointerNull(j->rptr) : storage(j, v->arg[a]);
        types[na++] = j->rptr;
    }
    args[na] = storage(j, cg_dest(p, id)), types[na++] = j->rptr;
    if (c.call != CG_CONV && c.call != CG_MAXPOOL && c.call != CG_AVGPOOL)
        args[na] = const_i32(j, add), types[na++] = j->i32;
    char name[64];
    snprintf(name, sizeof name, "%s_%s", cg_conv_fn[c.call], p->dtype == DT_F32 ? "f32" : "f64");
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(j->ctx), types, (unsigned)na, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(j->mod, name);
    if (!fn)
        fn = LLVMAddFunction(j->mod, name, fty);
    LLVMBuildCall2(j->b, fty, fn, args, (unsigned)na, "");
}

void emit_value(Jit *j, int id)
{
    const Value *v = &j->p->v[id];
    if (j->fu.head[id] >= 0 && ir_ops[v->op].kind != K_LEAF && ir_ops[v->op].kind != K_ADJ) {
        if (j->fu.head[id] == id)
            emit_fused(j, id);
        return;
    }
    switch (ir_ops[v->op].kind) {
    case K_LEAF:
    case K_ADJ: break;
    case K_MAP: emit_loops(j, id); break;
    case K_MATMUL: emit_matmul(j, id); break;
    case K_TRANS: emit_loops(j, id); break;
    case K_REDUCE: emit_loops(j, id); break;
    case K_ROW: emit_row(j, id); break;
    case K_VIEW: emit_loops(j, id); break;
    case K_BATCH: emit_batch(j, id); break;
    case K_CONV: emit_conv(j, id); break;
    case K_GATHER: emit_gather(j, id); break;
    }
}

