/*
 * plan.c - decisions shared by the C backend and the LLVM JIT (plan.h).
 */
#include <stdlib.h>
#include <string.h>
#include "plan.h"

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
    if (v->batched != t->batched)
        return 0;
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
    return mm;
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

unsigned long long cg_source_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}
