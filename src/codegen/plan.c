/*
 * plan.c - the lowering decisions every backend shares (plan.h).
 */
#include <stdlib.h>
#include <string.h>
#include "plan.h"
#include "nnrt.h"   /* NNRT_BN_*: the kernel's ops */

static void *xcalloc(size_t n, size_t size)
{
    void *q = calloc(n ? n : 1, size);
    if (!q)
        diag_internal("out of memory");
    return q;
}

void cg_mark_needed(const IrProgram *p, int root, char *mark)
{
    ir_mark_deps(p, root, mark);
}

/* The slots of rolled loops' values (plan.h, CgLayout). */
static void layout_loops(CgLayout *l, const IrProgram *p)
{
    l->owner = xcalloc((size_t)p->nv, sizeof *l->owner);
    l->slots = xcalloc((size_t)p->nv, sizeof *l->slots);
    l->shift = xcalloc((size_t)p->nv, sizeof *l->shift);
    l->loop = xcalloc((size_t)p->nv, sizeof *l->loop);
    int *adj = xcalloc((size_t)p->nv, sizeof *adj);
    for (int i = 0; i < p->nv; i++) {
        l->owner[i] = i;
        l->slots[i] = 1;
        l->loop[i] = -1;
        adj[i] = -1;
    }
    for (int i = p->fwd.end; i < p->nv; i++)
        if (p->v[i].op == OP_ADJ)
            adj[p->v[i].arg[0]] = i;
    for (int k = 0; k < p->nloops; k++) {
        const IrLoop *L = &p->loops[k];
        for (int i = L->body; i < L->end; i++) {
            if (ir_ops[p->v[i].op].kind == K_LEAF)
                continue;
            l->slots[i] = L->count;
            l->loop[i] = k;
            if (adj[i] >= 0) {
                l->slots[adj[i]] = L->count;
                l->loop[adj[i]] = k;
            }
        }
        for (int c = 0; c < L->ncarry; c++) {
            int pair[2][2] = {{L->carry[c], L->source[c]},
                              {adj[L->carry[c]], adj[L->source[c]]}};
            for (int a = 0; a < 2; a++) {
                int cv = pair[a][0], sv = pair[a][1];
                if (cv < 0 || sv < 0)
                    continue;
                l->slots[sv] = L->count + 1;
                l->shift[sv] = 1;
                l->owner[cv] = sv;
                l->loop[cv] = k;
            }
        }
    }
    free(adj);
}

int cg_slot(const CgLayout *l, int id, int t)
{
    return l->loop[id] >= 0 ? t + l->shift[id] : 0;
}

int cg_slot_start(const IrProgram *p, const CgLayout *l, int id, int backward)
{
    if (l->loop[id] < 0)
        return 0;
    return cg_slot(l, id, backward ? p->loops[l->loop[id]].count - 1 : 0);
}

int cg_loop_begins(const IrProgram *p, int id, int backward)
{
    for (int k = 0; k < p->nloops; k++) {
        const IrLoop *L = &p->loops[k];
        if (backward ? id == L->bwd_begin && L->bwd_end > L->bwd_begin : id == L->body)
            return k;
    }
    return -1;
}

int cg_loop_ends(const IrProgram *p, int id, int backward)
{
    for (int k = 0; k < p->nloops; k++) {
        const IrLoop *L = &p->loops[k];
        if (backward ? id + 1 == L->bwd_end && L->bwd_end > L->bwd_begin : id + 1 == L->end)
            return k;
    }
    return -1;
}

int cg_pass_clears(const IrProgram *p, const CgLayout *l, char *written, int *ids)
{
    int n = 0;
    for (int i = p->bwd_loss.begin; i < p->bwd_loss.end; i++)
        if (p->v[i].op == OP_ADJ && l->loop[i] >= 0) {
            written[i] = 1;
            if (l->owner[i] == i && l->needs_buf[i])
                ids[n++] = i;
        }
    return n;
}

int cg_loop_clears(const IrProgram *p, const CgLayout *l, int loop, char *written, int *ids)
{
    const IrLoop *L = &p->loops[loop];
    int n = 0;
    for (int i = L->bwd_begin; i < L->bwd_end; i++) {
        int d = p->v[i].acc;
        if (d < 0 || written[d] || l->loop[d] >= 0 || p->v[p->v[d].arg[0]].op == OP_PARAM)
            continue;
        written[d] = 1;
        ids[n++] = d;
    }
    return n;
}

void cg_layout_init(CgLayout *l, const IrProgram *p)
{
    memset(l, 0, sizeof *l);
    l->param_off = xcalloc((size_t)p->nparams, sizeof *l->param_off);
    for (int i = 0; i < p->nparams; i++) {
        l->param_off[i] = l->nparam_total;
        l->nparam_total += shape_numel(&p->params[i].shape);
    }
    l->fwd_mark = xcalloc((size_t)p->nv, 1);
    l->pen_mark = xcalloc((size_t)p->nv, 1);
    l->needs_buf = xcalloc((size_t)p->nv, 1);
    cg_mark_needed(p, p->loss, l->fwd_mark);
    cg_mark_needed(p, p->output, l->fwd_mark);
    cg_mark_needed(p, p->penalty, l->pen_mark);
    layout_loops(l, p);
    /* workspace buffers: computed forward values and adjoint buffers */
    for (int i = 0; i < p->nv; i++) {
        const Value *v = &p->v[i];
        IrKind k = ir_ops[v->op].kind;
        if (i < p->fwd.end && (l->fwd_mark[i] || l->pen_mark[i]) && k != K_LEAF)
            l->needs_buf[i] = 1;
        if (k == K_ADJ && p->v[v->arg[0]].op != OP_PARAM)
            l->needs_buf[i] = 1;
        if (l->owner[i] != i) {   /* a carry, in its source's buffer */
            l->needs_buf[l->owner[i]] |= l->needs_buf[i];
            l->needs_buf[i] = 0;
        }
        if (!l->needs_buf[i])
            continue;
        if (v->batched)
            l->per_sample += (long)shape_numel(&v->shape) * l->slots[i];
        else
            l->fixed += (long)shape_numel(&v->shape) * l->slots[i];
    }
}

void cg_layout_free(CgLayout *l)
{
    free(l->param_off);
    free(l->fwd_mark);
    free(l->pen_mark);
    free(l->needs_buf);
    free(l->owner);
    free(l->slots);
    free(l->shift);
    free(l->loop);
}

int cg_named_values(const IrProgram *p, const CgLayout *l, int *ids)
{
    int n = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++) {
        int in_step = 0;   /* a rolled loop's carry (h_prev) shares its source's buffer */
        for (int k = 0; k < p->nloops; k++)
            in_step |= i >= p->loops[k].body && i < p->loops[k].end;
        if (l->needs_buf[l->owner[i]] && l->fwd_mark[i] && !p->v[i].temp && p->v[i].name &&
            (l->loop[i] < 0 || in_step))
            ids[n++] = i;
    }
    return n;
}

int cg_value_steps(const CgLayout *l, int id)
{
    return l->loop[id] >= 0 ? l->slots[l->owner[id]] : 0;
}

int cg_dest(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    return v->acc >= 0 ? v->acc : id;
}

int cg_first_full_write(const IrProgram *p, int id, const char *written)
{
    const Value *v = &p->v[id];
    if (v->acc < 0)
        return 1;
    const Value *t = &p->v[v->acc];
    if (p->v[t->arg[0]].op == OP_PARAM || written[v->acc])
        return 0;   /* gradients always accumulate: the runtime zeroes them */
    if (v->batched != t->batched || v->op == OP_PLACE || v->op == OP_SCATTER)
        return 0;   /* (a placement writes only its part) */
    return v->op == OP_MATMUL || shape_equal(&v->shape, &t->shape);
}

CgStore cg_store(const IrProgram *p, int id, char *written)
{
    const Value *v = &p->v[id];
    if (v->acc < 0)
        return CG_ASSIGN;
    const Value *t = &p->v[v->acc];
    if (p->v[t->arg[0]].op == OP_PARAM || written[v->acc])
        return CG_ADD;
    int first = cg_first_full_write(p, id, written);
    written[v->acc] = 1;
    return first ? CG_ASSIGN : CG_ZERO_ADD;
}

int cg_map_flat(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    const Value *d = &p->v[cg_dest(p, id)];
    int N = shape_numel(&v->shape);
    int flat = shape_numel(&d->shape) == N && d->batched == v->batched && (v->batched || N > 1);
    for (int k = 0; k < v->nargs && flat; k++) {
        const Value *a = &p->v[v->arg[k]];
        int M = shape_numel(&a->shape);
        flat = (M == N && a->batched == v->batched) ||
               (M == 1 && !a->batched) || a->op == OP_CONST || a->op == OP_SEED;
    }
    return flat;
}

const IrExpr *cg_elem_expr(Op op)
{
    static const IrExpr *term, *square;
    if (ir_ops[op].kind != K_REDUCE)
        return ir_op_expr(op);
    if (op == OP_SUMSQ)
        return square ? square : (square = ir_expr_parse("$0 * $0", "sumsq's term"));
    return term ? term : (term = ir_expr_parse("$0", "a sum's term"));
}

int cg_reduce_mean(Op op) { return op == OP_MEAN; }

CgReduceLoops cg_reduce_loops(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    if (v->acc >= 0)
        diag_internal("accumulating reductions are not generated");
    if (!v->batched)
        return CG_RED_ONE;
    return shape_numel(&p->v[v->arg[0]].shape) == 1 ? CG_RED_COPY : CG_RED_SAMPLES;
}

CgMapLoops cg_map_loops(const IrProgram *p, int id)
{
    if (cg_map_stretched(p, id))
        return CG_MAP_STRETCHED;
    if (cg_map_flat(p, id))
        return CG_MAP_FLAT;
    return p->v[id].batched && !p->v[cg_dest(p, id)].batched ? CG_MAP_BATCH_SUM : CG_MAP_NESTED;
}

int cg_slot_transposed(const IrProgram *p, int slot)
{
    return shape_numel(&p->slots[slot].shape) > 1 && !p->slots[slot].unused;
}

CgOperand cg_operand(const Value *v, int flag, int left)
{
    CgOperand o;
    if (v->shape.rank == 2) {
        o.rows = v->shape.dim[0];
        o.cols = v->shape.dim[1];
        o.t = flag;
    } else {
        o.rows = 1;
        o.cols = v->shape.dim[0];
        o.t = left ? flag : !flag;
    }
    o.batched = v->batched;
    o.size = o.rows * o.cols;
    return o;
}

long cg_small_matmul_bound(void)
{
    const char *e = getenv("NNC_GEMM_MIN");
    char *end;
    long v = e ? strtol(e, &end, 10) : -1;
    return e && *e && !*end && v >= 0 ? v : CG_SMALL_MATMUL;
}

/* Is value id in a rolled loop's step or its adjoint? */
static int in_step(const IrProgram *p, int id)
{
    for (int l = 0; l < p->nloops; l++) {
        const IrLoop *L = &p->loops[l];
        if ((id >= L->body && id < L->end) || (id >= L->bwd_begin && id < L->bwd_end))
            return 1;
    }
    return 0;
}

CgMatmul cg_matmul_plan(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    CgMatmul mm;
    mm.A = cg_operand(&p->v[v->arg[0]], v->ta, 1);
    mm.B = cg_operand(&p->v[v->arg[1]], v->tb, 0);
    mm.m = mm.A.t ? mm.A.cols : mm.A.rows;
    mm.k = mm.A.t ? mm.A.rows : mm.A.cols;
    mm.n = mm.B.t ? mm.B.rows : mm.B.cols;
    mm.dst_batched = p->v[cg_dest(p, id)].batched;
    const CgOperand *A = &mm.A, *B = &mm.B;
    int bd = mm.dst_batched;
    const char *e = getenv("NNC_GEMM_MIN");
    long bound = in_step(p, id) && !(e && *e) ? CG_SMALL_MATMUL_STEP : cg_small_matmul_bound();
    int big = (long)mm.m * mm.k * mm.n > bound;
    if (!A->batched && !B->batched)
        mm.kind = CG_MM_SINGLE;
    else if (big && !A->batched && B->batched && bd && (!B->t || mm.n == 1))
        mm.kind = CG_MM_COLUMNS;
    else if (big && A->batched && !B->batched && bd && mm.m == 1)
        mm.kind = CG_MM_ROWS;
    else if (big && A->batched && B->batched && !bd && mm.k == 1)
        mm.kind = CG_MM_BATCH_SUM;
    else
        mm.kind = CG_MM_LOOPS;
    mm.loops = !bd ? CG_MML_SUM : mm.k == 1 ? CG_MML_OUTER : CG_MML_ACCUM;
    return mm;
}

static CgDim dim_const(int k) { return (CgDim){CG_DIM_CONST, k}; }

CgGemm cg_gemm(const IrProgram *p, int id, const CgMatmul *mm)
{
    const Value *v = &p->v[id];
    const CgOperand *A = &mm->A, *B = &mm->B;
    CgGemm g = {A->t, B->t, dim_const(mm->m), dim_const(mm->n), dim_const(mm->k),
                dim_const(A->cols), dim_const(B->cols), dim_const(mm->n), v->arg[0], v->arg[1]};
    CgDim row = {CG_DIM_ROW, mm->n};
    switch (mm->kind) {
    case CG_MM_SINGLE:
        break;
    case CG_MM_COLUMNS:
        /* op(A) times every sample at once: C[m, nn * n] = op(A) B[k, nn * n] */
        g.tb = 0;
        g.N = (CgDim){CG_DIM_COUNT, mm->n};
        g.ldb = g.ldc = row;
        break;
    case CG_MM_ROWS:
        /* each sample's row vector times op(B): C[nn, n] = op(B)' A[k, n] */
        g.ta = !B->t;
        g.tb = 0;
        g.M = dim_const(mm->n);
        g.N = (CgDim){CG_DIM_COUNT, 1};
        g.a = v->arg[1];
        g.b = v->arg[0];
        g.lda = dim_const(B->cols);
        g.ldb = g.ldc = (CgDim){CG_DIM_ROW, 1};
        break;
    case CG_MM_BATCH_SUM:
        /* summed over the batch: sum_b a_b b_b' = A[m, n] B[nn, n]' */
        g.ta = 0;
        g.tb = 1;
        g.K = (CgDim){CG_DIM_COUNT, 1};
        g.lda = g.ldb = (CgDim){CG_DIM_ROW, 1};
        break;
    case CG_MM_LOOPS:
        diag_internal("cg_gemm: a product planned as loops");
    }
    return g;
}

int cg_nonfinite_checks(const IrProgram *p, const CgLayout *l, IrRange r, const char *mark,
                        int *ids)
{
    char *seen = xcalloc((size_t)p->nv, 1);
    int n = 0;
    for (int i = r.begin; i < r.end; i++) {
        int d = cg_dest(p, i);
        if ((mark && !mark[i]) || !l->needs_buf[d] || seen[d] || p->v[i].stmt >= p->nstmts)
            continue;
        seen[d] = 1;
        ids[n++] = i;
    }
    free(seen);
    return n;
}

int cg_matmul_reg_sum(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    if (v->op != OP_MATMUL || !v->batched)
        return 0;
    CgMatmul mm = cg_matmul_plan(p, id);
    return mm.kind == CG_MM_LOOPS && mm.dst_batched && mm.n == 1 && mm.k <= CG_REG_SUM_K;
}

int cg_batch_sum_side(const IrProgram *p, int id, int N)
{
    const Value *v = &p->v[id];
    if (v->op != OP_MATMUL || !v->batched)
        return -1;
    CgMatmul mm = cg_matmul_plan(p, id);
    if (mm.kind != CG_MM_LOOPS || mm.dst_batched || !mm.A.batched || !mm.B.batched || mm.k != 1)
        return -1;
    if (mm.m == N && mm.n <= CG_FUSED_SUMS)
        return 0;
    if (mm.n == N && mm.m <= CG_FUSED_SUMS)
        return 1;
    return -1;
}

int cg_batch_sums(const IrProgram *p, int id, int N)
{
    int side = cg_batch_sum_side(p, id, N);
    if (side < 0)
        return p->v[cg_dest(p, id)].batched ? 0 : 1;
    CgMatmul mm = cg_matmul_plan(p, id);
    return side == 0 ? mm.n : mm.m;
}

/* ---- numpy's broadcasting ---- */

int cg_stretched(const Shape *small, const Shape *big)
{
    return shape_numel(small) > 1 && shape_numel(small) < shape_numel(big) &&
           !shape_is_suffix(small, big);
}

int cg_map_stretched(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    if (ir_ops[v->op].kind != K_MAP)
        return 0;
    for (int k = 0; k < v->nargs; k++)
        if (cg_stretched(&p->v[v->arg[k]].shape, &v->shape))
            return 1;
    return v->acc >= 0 && cg_stretched(&p->v[v->acc].shape, &v->shape);
}

int cg_map_target_stretched(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    return ir_ops[v->op].kind == K_MAP && v->acc >= 0 &&
           cg_stretched(&p->v[v->acc].shape, &v->shape);
}

CgRef cg_stretched_ref(const IrProgram *p, int x, const Shape *it)
{
    const Shape *s = &p->v[x].shape;
    CgRef r = {.kind = CG_REF_ELEM, .id = x, .batched = p->v[x].batched};
    CgTerm t[IR_MAXRANK];
    int n = 0, off = it->rank - s->rank, run = 0, total = shape_numel(it);
    int sbig = 1, ssmall = 1;   /* axis d's strides in it and in s */
    for (int d = it->rank - 1; d >= -1; d--) {
        int kept = d >= off && s->dim[d - off] == it->dim[d] && it->dim[d] > 1;
        if (kept) {
            if (!run)   /* (mod: the run's length so far) */
                t[n] = (CgTerm){.var = CG_VAR_I, .coef = ssmall, .mod = 1, .div = sbig};
            t[n].mod *= it->dim[d];
            run = 1;
        } else if (run) {
            /* the outermost axes need no remainder: i / div is below their size */
            if (t[n].div * t[n].mod == total)
                t[n].mod = 0;
            n++;
            run = 0;
        }
        if (d >= 0) {
            sbig *= it->dim[d];
            ssmall *= d >= off ? s->dim[d - off] : 1;
        }
    }
    for (int k = n - 1; k >= 0; k--)   /* the outer axes first */
        r.term[r.nterms++] = t[k];
    return r;
}

/* ---- loop fusion ---- */

static int numel_of(const IrProgram *p, int id) { return shape_numel(&p->v[id].shape); }

/* A fused loop being formed: its members g[0..ng) over N elements per
 * sample, the buffers they write and read (marks over the values, so a
 * long chain of steps is grouped in linear time), and their sums over the
 * batch. */
typedef struct Group {
    int *g;
    int ng, N;
    char *writes, *reads;
    int sums;
} Group;

static void group_add(Group *G, const IrProgram *p, int id)
{
    G->g[G->ng++] = id;
    G->writes[cg_dest(p, id)] = 1;
    for (int a = 0; a < p->v[id].nargs; a++)
        G->reads[p->v[id].arg[a]] = 1;
    G->sums += cg_batch_sums(p, id, G->N);
}

static void group_clear(Group *G, const IrProgram *p)
{
    for (int e = 0; e < G->ng; e++) {
        G->writes[cg_dest(p, G->g[e])] = 0;
        for (int a = 0; a < p->v[G->g[e]].nargs; a++)
            G->reads[p->v[G->g[e]].arg[a]] = 0;
    }
    G->ng = 0;
    G->sums = 0;
}

/* Can value id start a fused loop?  The number of elements per sample
 * the loop runs over, or 0.  A stop_gradient is a step of its own, which
 * check's finite differences skip (its nest's CG_N_UNLESS_HELD), so that
 * later steps read its buffer, held. */
static int fuse_head(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    const Value *d = &p->v[cg_dest(p, id)];
    if (v->op == OP_STOP_GRADIENT)
        return 0;
    if (v->op == OP_MATMUL && !d->batched) {   /* a weight's gradient: along the longer side */
        CgMatmul mm = cg_matmul_plan(p, id);
        int N = mm.m >= mm.n ? mm.m : mm.n;
        return cg_batch_sum_side(p, id, N) >= 0 ? N : 0;
    }
    if (!v->batched || !d->batched || shape_numel(&d->shape) != shape_numel(&v->shape) ||
        cg_map_target_stretched(p, id))
        return 0;
    return ir_ops[v->op].kind == K_MAP || cg_matmul_reg_sum(p, id) ? numel_of(p, id) : 0;
}

/* Can value id join the group G? */
static int fuse_member(const IrProgram *p, const Group *G, int id)
{
    const Value *v = &p->v[id];
    IrKind kind = ir_ops[v->op].kind;
    int d = cg_dest(p, id), N = G->N;
    int side = cg_batch_sum_side(p, id, N);
    if (side >= 0 || cg_matmul_reg_sum(p, id)) {
        /* a product: its operands from memory, but for a weight
         * gradient's operand along the loop, read at the loop's element */
        if (cg_matmul_reg_sum(p, id) && (numel_of(p, id) != N || numel_of(p, d) != N))
            return 0;
        for (int a = 0; a < 2; a++)
            if (a != side && G->writes[v->arg[a]])
                return 0;
        /* the loop's sums stay within the registers */
        if (side >= 0 && G->sums + cg_batch_sums(p, id, N) > CG_FUSED_SUMS)
            return 0;
        return !G->reads[d];
    }
    if (!v->batched || numel_of(p, id) != N || numel_of(p, d) != N ||
        cg_map_target_stretched(p, id) || v->op == OP_STOP_GRADIENT)
        return 0;
    /* the sum of a single number per sample (the loss of a 1-output model) */
    int one = kind == K_REDUCE && N == 1 && v->acc < 0 && p->v[v->arg[0]].batched &&
              numel_of(p, v->arg[0]) == 1;
    if (kind != K_MAP && !one)
        return 0;
    /* other members' results are read only where they are written: the
     * same element of the same sample */
    for (int a = 0; a < v->nargs; a++) {
        int x = v->arg[a];
        if (G->writes[x] && !(p->v[x].batched && numel_of(p, x) == N))
            return 0;
    }
    /* and a buffer is not written after a member has read it */
    return !G->reads[d];
}

/* The group becomes a loop (one that is a single step stays a step);
 * writers[b] counts the steps that write buffer b.  holder[] (all -1 on
 * entry and on return): the latest member whose local holds a buffer. */
static void fuse_close(CgFusion *fu, const IrProgram *p, const Group *G, const int *writers,
                       int *holder)
{
    const int *g = G->g;
    if (G->ng == 0 || (G->ng == 1 && !cg_matmul_reg_sum(p, g[0])))
        return;
    fu->size[g[0]] = G->N;
    for (int e = 0; e < G->ng; e++) {
        int id = g[e], d = cg_dest(p, id);
        const Value *t = &p->v[d];
        fu->head[id] = g[0];
        fu->next[id] = e + 1 < G->ng ? g[e + 1] : -1;
        fu->local[id] = p->v[id].acc < 0 ||
                        (t->batched && writers[d] == 1 && p->v[t->arg[0]].op != OP_PARAM);
        for (int a = 0; a < p->v[id].nargs; a++)
            fu->arg_local[3 * id + a] = holder[p->v[id].arg[a]];
        if (fu->local[id])
            holder[d] = e;
    }
    for (int e = 0; e < G->ng; e++)
        holder[cg_dest(p, g[e])] = -1;
}

/* Group the values ids[0..nids) (in emission order). */
static void fuse_seq(CgFusion *fu, const IrProgram *p, const int *ids, int nids, const int *writers,
                     int *holder)
{
    Group G = {xcalloc((size_t)(nids ? nids : 1), sizeof *G.g), 0, 0,
               xcalloc((size_t)p->nv, 1), xcalloc((size_t)p->nv, 1), 0};
    for (int k = 0; k < nids; k++) {
        int id = ids[k];
        IrKind kind = ir_ops[p->v[id].op].kind;
        if (kind == K_LEAF || kind == K_ADJ)
            continue;   /* no code */
        /* a rolled loop's step is a loop of its own */
        if (G.ng > 0 && ir_loop_of(p, id) != ir_loop_of(p, G.g[0])) {
            fuse_close(fu, p, &G, writers, holder);
            group_clear(&G, p);
        }
        if (G.ng > 0 && fuse_member(p, &G, id)) {
            group_add(&G, p, id);
            continue;
        }
        fuse_close(fu, p, &G, writers, holder);
        group_clear(&G, p);
        if ((G.N = fuse_head(p, id)) > 0)
            group_add(&G, p, id);
    }
    fuse_close(fu, p, &G, writers, holder);
    free(G.g);
    free(G.writes);
    free(G.reads);
}

/* Is value id's buffer read only by the later steps of its own loop (from
 * the local) and neither the loss nor the prediction?  Steps without code
 * (an adjoint names its primal value but reads nothing) do not count.
 * reader_head[b]: the loop head of every step that reads buffer b, -1 when
 * none does, -2 when steps of different loops (or of none) do. */
static int fuse_transient(const CgFusion *fu, const IrProgram *p, int id, const int *reader_head)
{
    int d = cg_dest(p, id);
    if (fu->head[id] < 0 || !fu->local[id] || d == p->loss || d == p->output)
        return 0;
    return reader_head[d] == -1 || reader_head[d] == fu->head[id];
}

void cg_fusion_init(CgFusion *fu, const IrProgram *p, const CgLayout *l)
{
    fu->head = xcalloc((size_t)p->nv, sizeof *fu->head);
    fu->local = xcalloc((size_t)p->nv, 1);
    fu->transient = xcalloc((size_t)p->nv, 1);
    fu->size = xcalloc((size_t)p->nv, sizeof *fu->size);
    fu->next = xcalloc((size_t)p->nv, sizeof *fu->next);
    fu->arg_local = xcalloc(3 * (size_t)p->nv, sizeof *fu->arg_local);
    int *holder = xcalloc((size_t)p->nv, sizeof *holder);
    for (int i = 0; i < p->nv; i++)
        fu->head[i] = fu->next[i] = holder[i] = -1;
    for (int i = 0; i < 3 * p->nv; i++)
        fu->arg_local[i] = -1;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids), n = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (l->fwd_mark[i])
            ids[n++] = i;
    int *writers = xcalloc((size_t)p->nv, sizeof *writers);
    /* a carry's adjoint is its source's of the step before: one buffer */
    for (int j = 0; j < p->nv; j++)
        if (p->v[j].acc >= 0)
            writers[l->owner[p->v[j].acc]]++;
    fuse_seq(fu, p, ids, n, writers, holder);
    n = 0;
    for (int i = p->bwd_loss.begin; i < p->bwd_loss.end; i++)
        ids[n++] = i;
    fuse_seq(fu, p, ids, n, writers, holder);
    free(ids);
    free(writers);
    free(holder);
    /* a step outside every loop has head -1, which no loop's head is:
     * -2 below means "read by different loops, or outside of one" */
    int *reader_head = xcalloc((size_t)p->nv, sizeof *reader_head);
    for (int i = 0; i < p->nv; i++)
        reader_head[i] = -1;
    for (int j = 0; j < p->nv; j++) {
        IrKind kind = ir_ops[p->v[j].op].kind;
        if (kind == K_LEAF || kind == K_ADJ)
            continue;
        for (int a = 0; a < p->v[j].nargs; a++) {
            int *r = &reader_head[p->v[j].arg[a]];
            int h = fu->head[j] >= 0 ? fu->head[j] : -2;
            *r = *r == -1 ? h : *r == h ? h : -2;
        }
    }
    /* a carry's source is read by the next step, as the carry */
    for (int k = 0; k < p->nloops; k++)
        for (int c = 0; c < p->loops[k].ncarry; c++)
            reader_head[p->loops[k].source[c]] = -2;
    for (int i = 0; i < p->nv; i++) {
        fu->transient[i] = (char)fuse_transient(fu, p, i, reader_head);
        fu->ntransient += fu->transient[i];
        if (fu->transient[i] && p->v[cg_dest(p, i)].batched)
            fu->transient_per_sample += numel_of(p, cg_dest(p, i));
    }
    free(reader_head);
}

void cg_fusion_free(CgFusion *fu)
{
    free(fu->head);
    free(fu->local);
    free(fu->transient);
    free(fu->size);
    free(fu->next);
    free(fu->arg_local);
}

/* Defined with the loop nests, below. */
static CgRef ref_elem(const IrProgram *p, int id, int N, int flat, int loop_batched);
static CgRef ref_operand(int id, const CgOperand *o, int r, int c);

/* Member e's operand a: the latest earlier member whose local holds it
 * (CgFusion.arg_local), or its element at (i, b) (a stretched operand's at
 * cg_stretched_ref). */
static CgRef fused_arg(const CgFusion *fu, const IrProgram *p, int id, int a, int N)
{
    int w = fu->arg_local[3 * id + a];
    if (w >= 0)
        return (CgRef){.kind = CG_REF_LOCAL, .id = w};
    const Value *v = &p->v[id];
    if (ir_ops[v->op].kind == K_MAP && cg_stretched(&p->v[v->arg[a]].shape, &v->shape))
        return cg_stretched_ref(p, v->arg[a], &v->shape);
    return ref_elem(p, v->arg[a], N, 0, 1);
}

/* A weight gradient's sums (cg_batch_sum_side): sum s reads element s of
 * the operand across the loop (of sample b) and adds into the gradient
 * [m, nn] at row i (side 0: element i * nn + s) or column i (s * nn + i). */
static void fused_outer(const IrProgram *p, int id, int N, CgFusedMember *m)
{
    const Value *v = &p->v[id];
    CgMatmul mm = cg_matmul_plan(p, id);
    int stride = m->side == 0 ? mm.n : 1;
    for (int s = 0; s < m->nsum; s++) {
        CgFusedSum *u = &m->sum[s];
        u->y = (CgRef){.kind = CG_REF_ELEM, .id = v->arg[1 - m->side], .off = s, .batched = 1};
        u->dst = (CgRef){.kind = CG_REF_ELEM, .id = cg_dest(p, id),
                         .off = m->side == 0 ? s : s * mm.n};
        if (N > 1)
            u->dst.term[u->dst.nterms++] = (CgTerm){.var = CG_VAR_I, .coef = stride};
    }
}

void cg_fused_plan(const CgFusion *fu, const IrProgram *p, int h, char *written, CgFused *f)
{
    int N = fu->size[h], ng = 0, nsums = 0;
    for (int k = h; k >= 0; k = fu->next[k]) {
        ng++;
        if (!p->v[cg_dest(p, k)].batched)
            nsums += cg_batch_sums(p, k, N);
    }
    f->N = N;
    f->nmembers = ng;
    f->nsums = nsums;
    f->m = xcalloc((size_t)ng, sizeof *f->m);
    f->sums = xcalloc((size_t)(nsums ? nsums : 1), sizeof *f->sums);
    nsums = 0;
    int e = 0;
    for (int id = h; id >= 0; id = fu->next[id], e++) {
        const Value *v = &p->v[id];
        CgFusedMember *m = &f->m[e];
        int d = cg_dest(p, id);
        m->id = id;
        m->store = cg_store(p, id, written);
        m->dst = ref_elem(p, d, N, 0, 1);
        m->into_sums = !p->v[d].batched;
        m->keep_only = fu->transient[id];
        if (m->into_sums) {
            m->nsum = cg_batch_sums(p, id, N);
            m->sum = f->sums + nsums;
            nsums += m->nsum;
        }
        m->side = cg_batch_sum_side(p, id, N);
        if (m->side >= 0) {
            m->kind = CG_FM_OUTER;
            m->nargs = 1;
            m->arg[0] = fused_arg(fu, p, id, m->side, N);
            fused_outer(p, id, N, m);
        } else if (v->op == OP_MATMUL) {
            CgMatmul mm = cg_matmul_plan(p, id);
            int vi = mm.m > 1 ? CG_VAR_I : -1, vk = mm.k > 1 ? CG_VAR_K : -1;
            m->kind = CG_FM_REG_SUM;
            m->nk = mm.k;
            m->nargs = 2;
            m->arg[0] = ref_operand(v->arg[0], &mm.A, vi, vk);
            m->arg[1] = ref_operand(v->arg[1], &mm.B, vk, -1);
            m->local = 1;
        } else {
            m->kind = CG_FM_ELEM;
            m->e = cg_elem_expr(v->op);
            m->nargs = v->nargs;
            for (int a = 0; a < v->nargs; a++)
                m->arg[a] = fused_arg(fu, p, id, a, N);
            m->local = !m->into_sums && fu->local[id];
            if (m->into_sums)
                m->sum[0].dst = m->dst;
        }
    }
}

void cg_fused_free(CgFused *f)
{
    free(f->m);
    free(f->sums);
}

int cg_tile(long per_sample, DType dt)
{
    long bytes = per_sample * (dt == DT_F32 ? 4 : 8);
    long t = bytes > 0 ? CG_TILE_BYTES / bytes / 16 * 16 : 0;
    return t >= CG_TILE_MIN ? (int)t : 0;
}

CgView cg_view_plan(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    CgView w;
    memset(&w, 0, sizeof w);
    w.src = v->arg[0];
    w.dst = cg_dest(p, id);
    w.gather = v->op == OP_VIEW;
    w.clear = v->op == OP_PLACE && v->acc < 0;
    w.sum_batch = p->v[w.src].batched && !p->v[w.dst].batched;
    w.off = v->view.off;
    w.step = v->view.step;
    const Shape *small = &p->v[ir_view_small(p, id)].shape;
    int stride = 1;
    for (int k = small->rank - 1; k >= 0; k--) {
        int c = small->dim[k];
        if (c == 1)
            continue;
        if (w.nloops > 0 && w.small_stride[0] * w.count[0] == stride &&
            w.big_stride[0] * w.count[0] == v->view.stride[k]) {
            /* contiguous in both with the loop inside it: one loop */
            w.count[0] *= c;
        } else {
            memmove(w.count + 1, w.count, sizeof w.count - sizeof *w.count);
            memmove(w.small_stride + 1, w.small_stride, sizeof w.small_stride - sizeof *w.small_stride);
            memmove(w.big_stride + 1, w.big_stride, sizeof w.big_stride - sizeof *w.big_stride);
            w.count[0] = c;
            w.small_stride[0] = stride;
            w.big_stride[0] = v->view.stride[k];
            w.nloops++;
        }
        stride *= c;
    }
    return w;
}

CgGather cg_gather_plan(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    CgGather g;
    g.scatter = v->op == OP_SCATTER;
    g.index = v->arg[1];
    g.table = g.scatter ? cg_dest(p, id) : v->arg[0];
    g.rows = g.scatter ? v->arg[0] : cg_dest(p, id);
    const Shape *t = &p->v[g.table].shape;
    g.T = shape_numel(&p->v[g.index].shape);
    g.D = shape_numel(t) / t->dim[0];
    return g;
}

unsigned long long cg_source_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- sliding windows ---- */

const char *const cg_conv_fn[] = {
    [CG_CONV] = "nnrt_conv", [CG_CONV_BWD_X] = "nnrt_conv_bwd_x", [CG_CONV_BWD_K] = "nnrt_conv_bwd_k",
    [CG_CONV_BWD_B] = "nnrt_conv_bwd_b", [CG_MAXPOOL] = "nnrt_maxpool", [CG_AVGPOOL] = "nnrt_avgpool",
    [CG_MAXPOOL_BWD] = "nnrt_maxpool_bwd", [CG_AVGPOOL_BWD] = "nnrt_avgpool_bwd",
};

CgConv cg_conv_plan(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    int d = cg_dest(p, id);
    CgConv c;
    memset(&c, 0, sizeof c);
    c.x = c.k = c.y = -1;
    switch (v->op) {
    case OP_CONV2D: case OP_CONV1D:
        c.call = CG_CONV, c.x = v->arg[0], c.k = v->arg[1], c.y = d;
        c.bias = p->v[v->arg[2]].op != OP_CONST;
        break;
    case OP_CONV_BWD_X: c.call = CG_CONV_BWD_X, c.y = v->arg[0], c.k = v->arg[1], c.x = d; break;
    case OP_CONV_BWD_K: c.call = CG_CONV_BWD_K, c.y = v->arg[0], c.x = v->arg[1], c.k = d; break;
    case OP_CONV_BWD_B: c.call = CG_CONV_BWD_B, c.y = v->arg[0]; break;
    case OP_MAXPOOL2D: case OP_MAXPOOL1D: c.call = CG_MAXPOOL, c.x = v->arg[0], c.y = d; break;
    case OP_AVGPOOL2D: case OP_AVGPOOL1D: c.call = CG_AVGPOOL, c.x = v->arg[0], c.y = d; break;
    case OP_MAXPOOL_BWD: c.call = CG_MAXPOOL_BWD, c.y = v->arg[0], c.x = v->arg[1]; break;
    case OP_AVGPOOL_BWD: c.call = CG_AVGPOOL_BWD, c.y = v->arg[0], c.x = d; break;
    default:
        diag_internal("cg_conv_plan: %s is not a window op", ir_ops[v->op].name);
    }
    /* the shapes: y's always known; x's from the value or the destination */
    const Shape *ys = &p->v[c.y].shape;
    const Shape *xs = c.x >= 0 ? &p->v[c.x].shape : NULL;
    const Shape *ks = c.k >= 0 ? &p->v[c.k].shape : NULL;
    c.spatial = ys->rank - 1;
    int two = c.spatial == 2;
    c.O = ys->dim[0];
    c.OH = two ? ys->dim[1] : 1;
    c.OW = ys->dim[c.spatial];
    if (xs) {
        c.C = xs->dim[0];
        c.H = two ? xs->dim[1] : 1;
        c.W = xs->dim[c.spatial];
    } else {   /* conv_bwd_b: the map does not matter */
        c.C = 1, c.H = c.OH, c.W = c.OW;
    }
    if (ks) {
        c.KH = two ? ks->dim[2] : 1;
        c.KW = ks->dim[1 + c.spatial];
    } else {
        c.KH = two ? v->window : 1;
        c.KW = v->window ? v->window : 1;
    }
    c.sh = two ? v->stride : 1, c.sw = v->stride;
    c.ph = two ? v->pad : 0, c.pw = v->pad;
    c.gemm = cg_conv_gemm(&c);
    return c;
}

int cg_conv_gemm(const CgConv *c)
{
    if (c->call != CG_CONV && c->call != CG_CONV_BWD_X && c->call != CG_CONV_BWD_K)
        return 0;
    const char *e = getenv("NNC_CONV_GEMM_MIN");
    char *end;
    long bound = e ? strtol(e, &end, 10) : -1;
    if (!e || !*e || *end || bound < 0)
        bound = CG_CONV_GEMM_MIN;
    if (c->call == CG_CONV_BWD_X && c->C < CG_CONV_GEMM_ROWS)
        return 0;
    return (long)c->C * c->KH * c->KW * c->O * c->OH * c->OW >= bound;
}

/* ---- the row algorithms ---- */

const char *const cg_row_name[CG_ROW_NOPS] = {
    [CG_ROW_MX] = "mx", [CG_ROW_SUM] = "sum", [CG_ROW_LSE] = "lse", [CG_ROW_DOT] = "dot",
    [CG_ROW_J] = "j", [CG_ROW_CLS] = "cls",
};

/* Step kind of r with template t, where @ stands for $x (the operand the
 * row's max and sum run over). */
static CgRowStep *row_step(CgRow *r, CgRowStepKind kind, int local, const char *t)
{
    if (r->nsteps == (int)(sizeof r->step / sizeof r->step[0]))
        diag_internal("cg_row_plan: too many steps");
    CgRowStep *s = &r->step[r->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->local[0] = local;
    s->local[1] = -1;
    s->cls = -1;
    if (t) {
        char buf[128];
        size_t n = 0;
        for (; *t && n + 3 < sizeof buf; t++) {
            if (*t == '@') {
                buf[n++] = '$';
                buf[n++] = (char)('0' + r->x);
            } else {
                buf[n++] = *t;
            }
        }
        buf[n] = '\0';
        s->e = ir_expr_parse(buf, "a row algorithm's step");
    }
    return s;
}

/* mx, the row's maximum, and sum, of exp(x[j] - mx). */
static void row_max_sum(CgRow *r)
{
    CgRowStep *s = row_step(r, CG_ROW_LOCALS, CG_ROW_MX, NULL);
    s->local[1] = CG_ROW_SUM;
    s->first[0] = 1;
    s = row_step(r, CG_ROW_REDUCE, CG_ROW_MX, "@ > $3 ? @ : $3");
    s->from = 1;
    s = row_step(r, CG_ROW_REDUCE, CG_ROW_SUM, "EXP(@ - $3)");
    s->add = 1;
}

/* dot, the sum over the row of t. */
static void row_dot(CgRow *r, const char *t)
{
    row_step(r, CG_ROW_LOCALS, CG_ROW_DOT, NULL);
    row_step(r, CG_ROW_REDUCE, CG_ROW_DOT, t)->add = 1;
}

static CgRow build_row(Op op)
{
    CgRow r;
    memset(&r, 0, sizeof r);
    switch (op) {
    case OP_SOFTMAX:            /* y[j] = exp(x[j] - mx) / sum */
        row_max_sum(&r);
        row_step(&r, CG_ROW_STORE, -1, "EXP(@ - $3) / $4");
        break;
    case OP_LOG_SOFTMAX:        /* y[j] = x[j] - lse */
        row_max_sum(&r);
        row_step(&r, CG_ROW_LET, CG_ROW_LSE, "$3 + LOG($4)");
        row_step(&r, CG_ROW_STORE, -1, "@ - $5");
        break;
    case OP_XENT:               /* cross_entropy(z, c) = log(sum_j exp(z[j])) - z[c]; one row */
        r.scalar[1] = 1;
        r.labels = 1;
        row_max_sum(&r);
        row_step(&r, CG_ROW_NUMBERS, -1, NULL)->cls = 1;
        row_step(&r, CG_ROW_STORE_ONE, -1, "$3 + LOG($4) - $9");
        break;
    case OP_XENT_BWD:           /* d_z[j] = d * (softmax(z)[j] - [j == c]) */
        r.x = 1;
        r.scalar[0] = r.scalar[2] = 1;
        r.labels = 1;
        row_max_sum(&r);
        row_step(&r, CG_ROW_NUMBERS, -1, NULL)->cls = 2;
        row_step(&r, CG_ROW_STORE, -1, "$0 * (EXP(@ - $3) / $4 - ($7 == $8))");
        break;
    case OP_SOFTMAX_BWD:        /* y = softmax(z): d_z[j] = y[j] * (d_y[j] - sum_k d_y[k] y[k]) */
        row_dot(&r, "$0 * $1");
        row_step(&r, CG_ROW_STORE, -1, "$1 * ($0 - $6)");
        break;
    case OP_LOG_SOFTMAX_BWD:    /* y = log_softmax(z): d_z[j] = d_y[j] - exp(y[j]) * sum_k d_y[k] */
        row_dot(&r, "$0");
        row_step(&r, CG_ROW_STORE, -1, "$0 - EXP($1) * $6");
        break;
    default:
        diag_internal("cg_row_plan: %s is not a row op", ir_ops[op].name);
    }
    return r;
}

const CgRow *cg_row_plan(Op op)
{
    static CgRow plans[OP_COUNT];
    static char made[OP_COUNT];
    if (!made[op]) {
        plans[op] = build_row(op);
        made[op] = 1;
    }
    return &plans[op];
}

void cg_row_dims(const IrProgram *p, int id, int *K, int *rows)
{
    const Value *x = &p->v[p->v[id].arg[cg_row_plan(p->v[id].op)->x]];
    *K = x->shape.rank ? x->shape.dim[x->shape.rank - 1] : 1;
    *rows = shape_numel(&x->shape) / *K;
}

/* ---- loop nests ---- */

const char *const cg_var_name[CG_NVARS] = {"i", "j", "k", "m", "b", "t"};

/* The nests' own statements' expressions, parsed once. */
enum { NE_COPY, NE_PRODUCT, NE_ZERO, NE_QUOTIENT, NE_COUNT };

static const IrExpr *nest_expr(int which)
{
    static const char *const text[NE_COUNT] = {"$0", "$0 * $1", "0", "$0 / $1"};
    static const IrExpr *parsed[NE_COUNT];
    if (!parsed[which])
        parsed[which] = ir_expr_parse(text[which], "a loop nest's statement");
    return parsed[which];
}

static CgNestStep *nest_step(CgNest *n, CgNestKind kind)
{
    if (n->nsteps == (int)(sizeof n->step / sizeof n->step[0]))
        diag_internal("cg_nest: too many steps");
    CgNestStep *s = &n->step[n->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    return s;
}

static CgNestStep *nest_loop(CgNest *n, CgVar var, CgCount count, int k, int brace)
{
    CgNestStep *s = nest_step(n, CG_N_LOOP);
    s->var = var;
    s->count = count;
    s->k = k;
    s->brace = brace;
    s->padded = var == CG_VAR_B;
    return s;
}

/* The loop over the samples of a sum: to n (the padding lanes must not add). */
static void nest_sum_samples(CgNest *n)
{
    CgNestStep *s = nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
    s->sum = 1;
    s->padded = 0;
}

static void nest_end(CgNest *n) { nest_step(n, CG_N_END); }

/* dst (op) e over the references that follow (nest_arg). */
static CgNestStep *nest_store(CgNest *n, CgStoreOp op, CgRef dst, const IrExpr *e)
{
    CgNestStep *s = nest_step(n, CG_N_STORE);
    s->op = op;
    s->dst = dst;
    s->e = e;
    return s;
}

static void nest_arg(CgNestStep *s, CgRef r) { s->arg[s->nargs++] = r; }

static CgRef ref_local(void) { return (CgRef){.kind = CG_REF_LOCAL}; }
static CgRef ref_num(double x) { return (CgRef){.kind = CG_REF_NUM, .num = x}; }

static void ref_term(CgRef *r, int var, int coef, int mod)
{
    r->term[r->nterms++] = (CgTerm){.var = (CgVar)var, .coef = coef, .mod = mod};
}

/* Element i of value id in an iteration space of N elements per sample,
 * inside loops over b (when batched) and i.  In a flat loop (i runs over
 * n * N elements at once) an operand is either the whole tensor, indexed
 * by i, or a single unbatched number; otherwise one of size M < N is read
 * at i % M (broadcasting). */
static CgRef ref_elem(const IrProgram *p, int id, int N, int flat, int loop_batched)
{
    const Value *v = &p->v[id];
    if (v->op == OP_CONST)
        return ref_num(v->num);
    if (v->op == OP_SEED)
        return (CgRef){.kind = CG_REF_SEED};
    CgRef r = {.kind = CG_REF_ELEM, .id = id};
    int M = shape_numel(&v->shape);
    if (flat) {
        if (M == N && v->batched == loop_batched)
            ref_term(&r, CG_VAR_I, 1, 0);
        return r;
    }
    r.batched = v->batched;
    if (M > 1)
        ref_term(&r, CG_VAR_I, 1, M == N ? 0 : M);
    return r;
}

/* Element (row, col) of op(X) for a stored operand o of value id, the row
 * and the column the variables r and c (-1: 0); a term whose variable is
 * always 0 is left out. */
static CgRef ref_operand(int id, const CgOperand *o, int r, int c)
{
    CgRef ref = {.kind = CG_REF_ELEM, .id = id, .batched = o->batched};
    int row = o->t ? c : r, col = o->t ? r : c;
    if (o->cols == 1) {
        if (row >= 0)
            ref_term(&ref, row, 1, 0);
    } else if (o->rows == 1 || row < 0) {
        if (col >= 0)
            ref_term(&ref, col, 1, 0);
    } else {
        ref_term(&ref, row, o->cols, 0);
        if (col >= 0)
            ref_term(&ref, col, 1, 0);
    }
    return ref;
}

static CgStoreOp store_op(CgStore st) { return st == CG_ASSIGN ? CG_OP_SET : CG_OP_ADD; }

/*
 * An elementwise op with a stretched operand or target (CG_MAP_STRETCHED).
 * The iteration's axes of more than one element form runs of adjacent axes
 * along which the same operands (and the target) are stretched; a run is
 * one loop, and an operand's element is the sum, over the runs along which
 * it is not stretched, of the run's variable times its stride there.  For
 * [O, H, W] + [O, 1, 1]: i over O, j over H W, the map's element at
 * i * H W + j and the bias's at i.  When the target is stretched and not
 * batched (a shared operand's gradient), or only not batched, the runs it
 * keeps are the outer loops, and the ones it is stretched along and the
 * samples the inner ones, summed into a local and added once:
 *
 *   for i < O:  s = 0;  for j < H W, each sample b:  s += dy[i * H W + j];  db[i] += s
 *
 * A batched target adds each element where it belongs, the samples innermost.
 */
static void nest_stretched(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    const Value *v = &p->v[id];
    const Shape *it = &v->shape;
    int ids[4], nids = 0, dst = cg_dest(p, id);
    for (int k = 0; k < v->nargs; k++)
        ids[nids++] = v->arg[k];
    ids[nids++] = dst;
    /* the runs: which operands each keeps (bit a: ids[a]), its count and last axis */
    unsigned kept[IR_MAXRANK];
    int count[IR_MAXRANK], last[IR_MAXRANK], nruns = 0;
    for (int d = 0; d < it->rank; d++) {
        if (it->dim[d] == 1)
            continue;
        unsigned k = 0;
        for (int a = 0; a < nids; a++) {
            const Shape *s = &p->v[ids[a]].shape;
            int off = it->rank - s->rank;
            if (d >= off && s->dim[d - off] == it->dim[d])
                k |= 1u << a;
        }
        if (!nruns || k != kept[nruns - 1]) {
            kept[nruns] = k;
            count[nruns++] = 1;
        }
        count[nruns - 1] *= it->dim[d];
        last[nruns - 1] = d;
    }
    /* the loops' order: the target's runs first when it sums */
    unsigned dbit = 1u << (nids - 1);
    int dstretched = 0;
    for (int r = 0; r < nruns; r++)
        dstretched |= !(kept[r] & dbit);
    int sum = !p->v[dst].batched && (dstretched || v->batched), order[IR_MAXRANK], nouter = 0, var[IR_MAXRANK];
    for (int r = 0; r < nruns; r++)
        if (!sum || (kept[r] & dbit))
            order[nouter++] = r;
    int nl = nouter;
    for (int r = 0; r < nruns; r++)
        if (sum && !(kept[r] & dbit))
            order[nl++] = r;
    for (int l = 0; l < nruns; l++)
        var[order[l]] = CG_VAR_I + l;
    CgRef ref[4];
    for (int a = 0; a < nids; a++) {
        const Value *x = &p->v[ids[a]];
        if (x->op == OP_CONST || x->op == OP_SEED) {
            ref[a] = ref_elem(p, ids[a], 1, 0, 0);
            continue;
        }
        ref[a] = (CgRef){.kind = CG_REF_ELEM, .id = ids[a], .batched = x->batched};
        int off = it->rank - x->shape.rank;
        for (int r = 0; r < nruns; r++) {   /* (the terms in the axes' order) */
            if (!(kept[r] & (1u << a)))
                continue;
            int stride = 1;
            for (int d = last[r] + 1; d < it->rank; d++)
                stride *= d >= off ? x->shape.dim[d - off] : 1;
            ref_term(&ref[a], var[r], stride, 0);
        }
    }
    CgNestStep *s;
    if (sum) {
        for (int l = 0; l < nouter; l++)
            nest_loop(n, (CgVar)var[order[l]], CG_COUNT_CONST, count[order[l]], l == nouter - 1);
        if (!nouter)
            nest_step(n, CG_N_BLOCK);
        n->local = "s";
        nest_store(n, CG_OP_DECL, ref_local(), nest_expr(NE_ZERO));
        CgNestStep *inner = NULL;
        for (int l = nouter; l < nruns; l++)
            inner = nest_loop(n, (CgVar)var[order[l]], CG_COUNT_CONST, count[order[l]],
                              v->batched && l == nruns - 1);   /* (braces around a pragma) */
        if (v->batched)
            nest_sum_samples(n);
        else if (inner)
            inner->sum = 1;
        s = nest_store(n, CG_OP_ADD, ref_local(), ir_op_expr(v->op));
        for (int a = 0; a < v->nargs; a++)
            nest_arg(s, ref[a]);
        for (int l = nouter; l < nruns + v->batched; l++)
            nest_end(n);
        nest_arg(nest_store(n, store_op(st), ref[nids - 1], nest_expr(NE_COPY)), ref_local());
        for (int l = 0; l < (nouter ? nouter : 1); l++)
            nest_end(n);
        return;
    }
    for (int l = 0; l < nruns; l++)
        nest_loop(n, (CgVar)var[order[l]], CG_COUNT_CONST, count[order[l]], 0);
    if (v->batched)
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
    /* a stretched target adds each of its elements several times */
    s = nest_store(n, dstretched ? CG_OP_ADD : store_op(st), ref[nids - 1], ir_op_expr(v->op));
    for (int a = 0; a < v->nargs; a++)
        nest_arg(s, ref[a]);
    for (int l = 0; l < nruns + v->batched; l++)
        nest_end(n);
}

/* An elementwise op (cg_map_loops). */
static void nest_map(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    const Value *v = &p->v[id];
    int N = shape_numel(&v->shape);
    CgMapLoops loops = cg_map_loops(p, id);
    if (loops == CG_MAP_STRETCHED) {
        nest_stretched(p, id, st, n);
        return;
    }
    int flat = loops == CG_MAP_FLAT;
    CgRef d = ref_elem(p, cg_dest(p, id), N, flat, v->batched);
    CgNestStep *s = NULL;
    /* check's finite differences keep a stop_gradient's value as the pass
     * at the unperturbed parameters left it (docs/teaching.md) */
    int held = v->op == OP_STOP_GRADIENT;
    if (held)
        nest_step(n, CG_N_UNLESS_HELD);
    switch (loops) {
    case CG_MAP_FLAT:
        nest_loop(n, CG_VAR_I, v->batched ? CG_COUNT_FLAT : CG_COUNT_CONST, N, 0)->parallel = 1;
        s = nest_store(n, store_op(st), d, ir_op_expr(v->op));
        break;
    case CG_MAP_BATCH_SUM:
        /* for each element, a sum over the samples (vectorised) */
        if (N > 1)
            nest_loop(n, CG_VAR_I, CG_COUNT_CONST, N, 1);
        else
            nest_step(n, CG_N_BLOCK);
        n->local = "s";
        nest_store(n, CG_OP_DECL, ref_local(), nest_expr(NE_ZERO));
        nest_sum_samples(n);
        s = nest_store(n, CG_OP_ADD, ref_local(), ir_op_expr(v->op));
        for (int k = 0; k < v->nargs; k++)
            nest_arg(s, ref_elem(p, v->arg[k], N, 0, 1));
        nest_end(n);
        nest_arg(nest_store(n, store_op(st), d, nest_expr(NE_COPY)), ref_local());
        nest_end(n);
        if (held)
            nest_end(n);
        return;
    case CG_MAP_STRETCHED:   /* (nest_stretched) */
    case CG_MAP_NESTED:
        if (N > 1)
            nest_loop(n, CG_VAR_I, CG_COUNT_CONST, N, 0);
        if (v->batched)
            nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        s = nest_store(n, store_op(st), d, ir_op_expr(v->op));
        if (v->batched)
            nest_end(n);
        break;
    }
    for (int k = 0; k < v->nargs; k++)
        nest_arg(s, ref_elem(p, v->arg[k], N, flat, v->batched));
    if (flat || N > 1)
        nest_end(n);
    if (held)
        nest_end(n);
}

/*
 * C (=|+=) op(A) @ op(B) as loops with constant bounds, the batch
 * innermost (cg_matmul_plan's CgMatmulLoops):
 *
 *   for each row i, column j, k, sample b:  C[i, j] (+)= op(A)[i, k] op(B)[k, j]
 *
 * When C has no batch dimension but an operand has (a gradient of a
 * parameter), the sum over the samples is a reduction the vectoriser may
 * reorder.
 */
static void nest_matmul(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    const Value *v = &p->v[id];
    CgMatmul mm = cg_matmul_plan(p, id);
    int m = mm.m, k = mm.k, nn = mm.n;
    int vi = m > 1 ? CG_VAR_I : -1, vj = nn > 1 ? CG_VAR_J : -1, vk = k > 1 ? CG_VAR_K : -1;
    CgRef a = ref_operand(v->arg[0], &mm.A, vi, vk), b = ref_operand(v->arg[1], &mm.B, vk, vj);
    CgOperand C = {m, nn, 0, mm.dst_batched, m * nn};
    CgRef c = ref_operand(cg_dest(p, id), &C, vi, vj);
    CgNestStep *s;
    if (m > 1)
        nest_loop(n, CG_VAR_I, CG_COUNT_CONST, m, nn <= 1);
    if (nn > 1)
        nest_loop(n, CG_VAR_J, CG_COUNT_CONST, nn, 1);
    if (m == 1 && nn == 1)
        nest_step(n, CG_N_BLOCK);
    switch (mm.loops) {
    case CG_MML_SUM:
        n->local = "s";
        nest_store(n, CG_OP_DECL, ref_local(), nest_expr(NE_ZERO));
        if (k > 1 || !v->batched)   /* k > 1 unbatched: else C would be batched */
            nest_loop(n, CG_VAR_K, CG_COUNT_CONST, k, v->batched);
        if (v->batched)
            nest_sum_samples(n);
        s = nest_store(n, CG_OP_ADD, ref_local(), nest_expr(NE_PRODUCT));
        nest_arg(s, a);
        nest_arg(s, b);
        if (v->batched)
            nest_end(n);
        if (k > 1 || !v->batched)
            nest_end(n);
        nest_arg(nest_store(n, store_op(st), c, nest_expr(NE_COPY)), ref_local());
        break;
    case CG_MML_OUTER:
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        s = nest_store(n, store_op(st), c, nest_expr(NE_PRODUCT));
        nest_arg(s, a);
        nest_arg(s, b);
        nest_end(n);
        break;
    case CG_MML_ACCUM:
        if (st == CG_ASSIGN) {
            /* a first write: clear C, then accumulate */
            nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
            nest_store(n, CG_OP_SET, c, nest_expr(NE_ZERO));
            nest_end(n);
        }
        nest_loop(n, CG_VAR_K, CG_COUNT_CONST, k, 0);
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        s = nest_store(n, CG_OP_ADD, c, nest_expr(NE_PRODUCT));
        nest_arg(s, a);
        nest_arg(s, b);
        nest_end(n);
        nest_end(n);
        break;
    }
    if (nn > 1)
        nest_end(n);
    if (m > 1 || nn <= 1)
        nest_end(n);
}

static void nest_transpose(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    const Value *v = &p->v[id];
    int src = v->arg[0], dst = cg_dest(p, id);
    const Value *s = &p->v[src];
    int r = s->shape.dim[0], c = s->shape.dim[1];
    CgOperand so = {r, c, 0, s->batched, r * c}, dof = {c, r, 0, p->v[dst].batched, r * c};
    nest_loop(n, CG_VAR_I, CG_COUNT_CONST, r, 0);
    nest_loop(n, CG_VAR_J, CG_COUNT_CONST, c, 0);
    if (v->batched)
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
    CgNestStep *t = nest_store(n, store_op(st), ref_operand(dst, &dof, CG_VAR_J, CG_VAR_I),
                               nest_expr(NE_COPY));
    nest_arg(t, ref_operand(src, &so, CG_VAR_I, CG_VAR_J));
    if (v->batched)
        nest_end(n);
    nest_end(n);
    nest_end(n);
}

/* A view or a placement (cg_view_plan): loops over the smaller tensor's
 * elements, each moved between it and its place in the larger one (at the
 * offset plus the strides); summed over the samples into an unbatched
 * destination (a view's adjoint of a parameter), over the real samples
 * only. */
static void nest_view(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    CgView w = cg_view_plan(p, id);
    if (w.clear)
        nest_step(n, CG_N_CLEAR)->dst = (CgRef){.kind = CG_REF_ELEM, .id = w.dst};
    CgRef small = {.kind = CG_REF_ELEM}, big = {.kind = CG_REF_ELEM, .off = w.off};
    for (int l = 0; l < w.nloops; l++) {
        nest_loop(n, (CgVar)(CG_VAR_I + l), CG_COUNT_CONST, w.count[l], 0);
        ref_term(&small, CG_VAR_I + l, w.small_stride[l], 0);
        ref_term(&big, CG_VAR_I + l, w.big_stride[l], 0);
    }
    if (w.step)   /* x[t] in a rolled loop: off + t * step */
        ref_term(&big, CG_VAR_T, w.step, 0);
    CgRef src = w.gather ? big : small, dst = w.gather ? small : big;
    src.id = w.src;
    src.batched = p->v[w.src].batched;
    dst.id = w.dst;
    dst.batched = p->v[w.dst].batched;
    if (src.batched)
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0)->padded = !w.sum_batch;
    nest_arg(nest_store(n, store_op(st), dst, nest_expr(NE_COPY)), src);
    if (src.batched)
        nest_end(n);
    for (int l = 0; l < w.nloops; l++)
        nest_end(n);
}

/* A reduction (cg_reduce_loops): its term (cg_elem_expr) summed. */
static void nest_reduce(const IrProgram *p, int id, CgNest *n)
{
    const Value *v = &p->v[id];
    int src = v->arg[0], N = shape_numel(&p->v[src].shape);
    CgRef x = ref_elem(p, src, N, 0, 1);
    CgRef out = {.kind = CG_REF_ELEM, .id = id, .batched = v->batched};
    const IrExpr *t = cg_elem_expr(v->op);
    CgNestStep *s;
    switch (cg_reduce_loops(p, id)) {
    case CG_RED_COPY:
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        nest_arg(nest_store(n, CG_OP_SET, out, t), x);
        nest_end(n);
        break;
    case CG_RED_SAMPLES:
        /* every sample's sum at once, the samples innermost */
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        nest_arg(nest_store(n, CG_OP_SET, out, nest_expr(NE_COPY)), ref_num(0));
        nest_end(n);
        nest_loop(n, CG_VAR_I, CG_COUNT_CONST, N, 0);
        nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
        nest_arg(nest_store(n, CG_OP_ADD, out, t), x);
        nest_end(n);
        nest_end(n);
        if (cg_reduce_mean(v->op)) {
            nest_loop(n, CG_VAR_B, CG_COUNT_SAMPLES, 0, 0);
            nest_arg(nest_store(n, CG_OP_DIV, out, nest_expr(NE_COPY)), ref_num(N));
            nest_end(n);
        }
        break;
    case CG_RED_ONE:
        nest_step(n, CG_N_BLOCK);
        n->local = "sum";
        nest_arg(nest_store(n, CG_OP_DECL, ref_local(), nest_expr(NE_COPY)), ref_num(0));
        nest_loop(n, CG_VAR_I, CG_COUNT_CONST, N, 0)->sum = 1;
        nest_arg(nest_store(n, CG_OP_ADD, ref_local(), t), x);
        nest_end(n);
        s = nest_store(n, CG_OP_SET, out, nest_expr(cg_reduce_mean(v->op) ? NE_QUOTIENT : NE_COPY));
        nest_arg(s, ref_local());
        if (cg_reduce_mean(v->op))
            nest_arg(s, ref_num(N));
        nest_end(n);
        break;
    }
}

void cg_nest(const IrProgram *p, int id, CgStore st, CgNest *n)
{
    memset(n, 0, sizeof *n);
    switch (ir_ops[p->v[id].op].kind) {
    case K_MAP: nest_map(p, id, st, n); break;
    case K_MATMUL: nest_matmul(p, id, st, n); break;
    case K_TRANS: nest_transpose(p, id, st, n); break;
    case K_REDUCE: nest_reduce(p, id, n); break;
    case K_VIEW: nest_view(p, id, st, n); break;
    default: diag_internal("cg_nest: %s has no loop nest", ir_ops[p->v[id].op].name);
    }
}

/* ---- batch norm (K_BATCH) ---- */

int cg_holds(const IrProgram *p)
{
    for (int i = 0; i < p->nv; i++)
        if (p->v[i].op == OP_STOP_GRADIENT)
            return 1;
    return 0;
}

int cg_batch_model(const IrProgram *p)
{
    for (int i = 0; i < p->nv; i++)
        if (ir_ops[p->v[i].op].kind == K_BATCH)
            return 1;
    return 0;
}

int cg_halves(const IrProgram *p)
{
    if (cg_batch_model(p))
        return 0;
    if (p->nloops > 0)
        return 1;
    for (int i = 0; i < p->nv; i++)
        if (ir_ops[p->v[i].op].kind == K_CONV)
            return 1;
    return 0;
}

CgBatch cg_batch_plan(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    CgBatch bp;
    memset(&bp, 0, sizeof bp);
    for (int k = 0; k < 4; k++)
        bp.arg[k] = k < v->nargs ? v->arg[k] : -1;
    bp.rmean = bp.rvar = -1;
    switch (v->op) {
    case OP_BN_STATS:     /* (x, bnK_mean, bnK_var): the parameters are the running ones */
        bp.kernel = NNRT_BN_STATS;
        bp.rmean = p->v[v->arg[1]].index;
        bp.rvar = p->v[v->arg[2]].index;
        bp.arg[1] = bp.arg[2] = -1;
        break;
    case OP_BATCHNORM:    /* (x, s, gamma, beta) */
        bp.kernel = NNRT_BN_FORWARD;
        break;
    case OP_BN_BWD:       /* (dy, x, s, gamma) */
        bp.kernel = NNRT_BN_BACKWARD;
        break;
    case OP_BN_DGAMMA:    /* (dy, x, s) */
        bp.kernel = NNRT_BN_DGAMMA;
        break;
    case OP_BN_DBETA:     /* (dy) */
        bp.kernel = NNRT_BN_DBETA;
        break;
    default:
        diag_internal("cg_batch_plan: %s is not a batch op", ir_ops[v->op].name);
    }
    static const char *const names[] = {
        [NNRT_BN_STATS] = "NNRT_BN_STATS", [NNRT_BN_FORWARD] = "NNRT_BN_FORWARD",
        [NNRT_BN_BACKWARD] = "NNRT_BN_BACKWARD", [NNRT_BN_DGAMMA] = "NNRT_BN_DGAMMA",
        [NNRT_BN_DBETA] = "NNRT_BN_DBETA",
    };
    bp.name = names[bp.kernel];
    const Value *x = &p->v[v->arg[0]];
    bp.C = x->shape.rank ? x->shape.dim[0] : 1;
    bp.S = shape_numel(&x->shape) / bp.C;
    return bp;
}
