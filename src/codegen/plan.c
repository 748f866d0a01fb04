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
    if (root < 0)
        return;
    mark[root] = 1;
    for (int i = root; i >= 0; i--)
        if (mark[i])
            for (int a = 0; a < p->v[i].nargs; a++)
                mark[p->v[i].arg[a]] = 1;
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
    /* workspace buffers: computed forward values and adjoint buffers */
    for (int i = 0; i < p->nv; i++) {
        const Value *v = &p->v[i];
        IrKind k = ir_ops[v->op].kind;
        if (i < p->fwd.end && (l->fwd_mark[i] || l->pen_mark[i]) && k != K_LEAF)
            l->needs_buf[i] = 1;
        if (k == K_ADJ && p->v[v->arg[0]].op != OP_PARAM)
            l->needs_buf[i] = 1;
        if (!l->needs_buf[i])
            continue;
        if (v->batched)
            l->per_sample += shape_numel(&v->shape);
        else
            l->fixed += shape_numel(&v->shape);
    }
}

void cg_layout_free(CgLayout *l)
{
    free(l->param_off);
    free(l->fwd_mark);
    free(l->pen_mark);
    free(l->needs_buf);
}

int cg_named_values(const IrProgram *p, const CgLayout *l, int *ids)
{
    int n = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (l->needs_buf[i] && l->fwd_mark[i] && !p->v[i].temp && p->v[i].name)
            ids[n++] = i;
    return n;
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
    if (v->batched != t->batched || v->op == OP_PLACE)
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
    int big = (long)mm.m * mm.k * mm.n > cg_small_matmul_bound();
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
 * the loop runs over, or 0. */
static int fuse_head(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    const Value *d = &p->v[cg_dest(p, id)];
    if (v->op == OP_MATMUL && !d->batched) {   /* a weight's gradient: along the longer side */
        CgMatmul mm = cg_matmul_plan(p, id);
        int N = mm.m >= mm.n ? mm.m : mm.n;
        return cg_batch_sum_side(p, id, N) >= 0 ? N : 0;
    }
    if (!v->batched || !d->batched || shape_numel(&d->shape) != shape_numel(&v->shape))
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
    if (!v->batched || numel_of(p, id) != N || numel_of(p, d) != N)
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
 * writers[b] counts the steps that write buffer b. */
static void fuse_close(CgFusion *fu, const IrProgram *p, const Group *G, const int *writers)
{
    const int *g = G->g;
    if (G->ng == 0 || (G->ng == 1 && !cg_matmul_reg_sum(p, g[0])))
        return;
    fu->size[g[0]] = G->N;
    for (int e = 0; e < G->ng; e++) {
        int id = g[e], d = cg_dest(p, id);
        const Value *t = &p->v[d];
        fu->head[id] = g[0];
        fu->local[id] = p->v[id].acc < 0 ||
                        (t->batched && writers[d] == 1 && p->v[t->arg[0]].op != OP_PARAM);
    }
}

/* Group the values ids[0..nids) (in emission order). */
static void fuse_seq(CgFusion *fu, const IrProgram *p, const int *ids, int nids, const int *writers)
{
    Group G = {xcalloc((size_t)(nids ? nids : 1), sizeof *G.g), 0, 0,
               xcalloc((size_t)p->nv, 1), xcalloc((size_t)p->nv, 1), 0};
    for (int k = 0; k < nids; k++) {
        int id = ids[k];
        IrKind kind = ir_ops[p->v[id].op].kind;
        if (kind == K_LEAF || kind == K_ADJ)
            continue;   /* no code */
        if (G.ng > 0 && fuse_member(p, &G, id)) {
            group_add(&G, p, id);
            continue;
        }
        fuse_close(fu, p, &G, writers);
        group_clear(&G, p);
        if ((G.N = fuse_head(p, id)) > 0)
            group_add(&G, p, id);
    }
    fuse_close(fu, p, &G, writers);
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
    for (int i = 0; i < p->nv; i++)
        fu->head[i] = -1;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids), n = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (l->fwd_mark[i])
            ids[n++] = i;
    int *writers = xcalloc((size_t)p->nv, sizeof *writers);
    for (int j = 0; j < p->nv; j++)
        if (p->v[j].acc >= 0)
            writers[p->v[j].acc]++;
    fuse_seq(fu, p, ids, n, writers);
    n = 0;
    for (int i = p->bwd_loss.begin; i < p->bwd_loss.end; i++)
        ids[n++] = i;
    fuse_seq(fu, p, ids, n, writers);
    free(ids);
    free(writers);
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
}

int cg_fused_members(const CgFusion *fu, const IrProgram *p, int h, int *g)
{
    int ng = 0;
    for (int k = h; k < p->nv; k++)
        if (fu->head[k] == h)
            g[ng++] = k;
    return ng;
}

int cg_fused_local(const CgFusion *fu, const IrProgram *p, const int *g, int e, int x)
{
    int w = -1;
    for (int f = 0; f < e; f++)
        if (fu->local[g[f]] && cg_dest(p, g[f]) == x)
            w = f;
    return w;
}

void cg_batch_sum_elem(const IrProgram *p, int id, int N, int s, int *stride, int *off)
{
    CgMatmul mm = cg_matmul_plan(p, id);
    int side = cg_batch_sum_side(p, id, N);
    *stride = side == 0 ? mm.n : 1;
    *off = side == 0 ? s : s * mm.n;
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

unsigned long long cg_source_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
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

/* ---- batch norm (K_BATCH) ---- */

int cg_batch_model(const IrProgram *p)
{
    for (int i = 0; i < p->nv; i++)
        if (ir_ops[p->v[i].op].kind == K_BATCH)
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
