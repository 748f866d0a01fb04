/*
 * report.c - `nnc --report`: what a model costs, per source statement
 * (a line, or one iteration of a `repeat`; a `dense` call is its statement)
 * and in total: parameters, floating-point operations per sample forward and
 * backward, and the activations the backward pass must keep.
 *
 * Everything is read off the IR after reverse mode, so the numbers are
 * those of the program nnc actually generates:
 *
 *   parameters   each parameter counts at the statement that first uses it;
 *   FLOPs        a matrix product (M x K) @ (K x N) is 2 M K N (a multiply
 *                and an add per term); an elementwise op costs, per element,
 *                one FLOP per arithmetic operator, comparison or math
 *                function of its element expression (expr.h, ops.def's
 *                c_expr: sigmoid's 1 / (1 + exp(-z)) is 4), plus 1 when it
 *                adds into a buffer;
 *                sum and mean are 1 per element, sumsq 2, the row ops
 *                (softmax, cross_entropy and their adjoints) 5; a
 *                convolution 2 per term of each output's window (C KH KW
 *                terms, padding included, as is usual), each of its adjoint
 *                steps as much, a pool 1 per term; a copy or a
 *                transpose is free.  Backward FLOPs are those of the adjoint
 *                steps, counted at the statement whose rule made them.  Only
 *                per-sample values count; the penalty runs once per batch
 *                and is reported on its own;
 *   kept         a forward value is kept when an adjoint step reads it: that
 *                is the memory reverse mode trades for not recomputing the
 *                forward pass.  The report names the first step reading each.
 */
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "plan.h"
#include "nnrt.h"   /* NNRT_BN_*: batch norm's kernel */
#include "teach.h"

/* How often value id runs: a rolled loop's step once per step. */
static long long steps(const IrProgram *p, int id)
{
    int l = ir_loop_of(p, id);
    return l >= 0 ? p->loops[l].count : 1;
}

static long long flops_once(const IrProgram *p, int id);

/* FLOPs of one value for one sample (or once, when unbatched). */
static long long flops(const IrProgram *p, int id)
{
    return steps(p, id) * flops_once(p, id);
}

static long long flops_once(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    long long n = shape_numel(&v->shape);
    switch (ir_ops[v->op].kind) {
    case K_MAP:   /* + 1 to add into a buffer */
        return n * (ir_expr_flops(ir_op_expr(v->op)) + (v->acc >= 0));
    case K_MATMUL: {
        const Shape *a = &p->v[v->arg[0]].shape;
        long long k = a->rank == 1 ? (v->ta ? 1 : a->dim[0]) : a->dim[v->ta ? 0 : 1];
        return 2 * n * k;
    }
    case K_REDUCE:   /* the term (plan.h cg_elem_expr) and its addition */
        return shape_numel(&p->v[v->arg[0]].shape) * (ir_expr_flops(cg_elem_expr(v->op)) + 1);
    case K_ROW: {
        int x = v->op == OP_XENT_BWD ? v->arg[1] : v->arg[0];
        return 5LL * shape_numel(&p->v[x].shape);
    }
    case K_GATHER:   /* rows only move; a scatter adds each element of its rows */
        return v->op == OP_SCATTER ? shape_numel(&p->v[v->arg[0]].shape) : 0;
    case K_VIEW:     /* elements only move; an adjoint's adds into its buffer count */
        return v->acc >= 0 ? shape_numel(&p->v[ir_view_small(p, id)].shape) : 0;
    case K_BATCH: {   /* per element of a sample: the statistics' sums, the
                       * normalisation and scale, the adjoint's two means */
        static const int per[] = {[NNRT_BN_STATS] = 4, [NNRT_BN_FORWARD] = 4,
                                  [NNRT_BN_BACKWARD] = 9, [NNRT_BN_DGAMMA] = 4,
                                  [NNRT_BN_DBETA] = 1};
        return (long long)per[cg_batch_plan(p, id).kernel] * shape_numel(&p->v[v->arg[0]].shape);
    }
    case K_CONV: {   /* a term of a window: 2 for a convolution's multiply-add, 1 for a pool's */
        CgConv c = cg_conv_plan(p, id);
        long long out = (long long)c.O * c.OH * c.OW, win = (long long)c.KH * c.KW;
        if (c.call == CG_CONV_BWD_B)
            return out;
        if (c.call >= CG_MAXPOOL)
            return out * win;
        return 2 * out * c.C * win;
    }
    default:
        return 0;
    }
}

void report_flops(const IrProgram *p, long long *fwd, long long *bwd)
{
    *fwd = *bwd = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (p->v[i].batched)
            *fwd += flops(p, i);
    const IrRange ranges[2] = {p->bwd_loss, p->bwd_penalty};
    for (int r = 0; r < 2; r++)
        for (int i = ranges[r].begin; i < ranges[r].end; i++)
            if (p->v[i].batched && p->v[i].op != OP_ADJ)
                *bwd += flops(p, i);
}

typedef struct Row {
    long long params, frozen, fwd, bwd, kept;
} Row;

void report_print(FILE *out, const IrProgram *p)
{
    int ns = p->nstmts;
    Row *row = calloc((size_t)ns + 1, sizeof *row), total = {0, 0, 0, 0, 0};
    int *reader = malloc((size_t)p->nv * sizeof *reader);
    char *seen = calloc((size_t)p->nparams + 1, 1);
    long long penalty_fwd = 0, penalty_bwd = 0, data_kept = 0;
    for (int i = 0; i < p->nv; i++)
        reader[i] = -1;
    /* parameters at their first use; forward FLOPs */
    for (int i = p->fwd.begin; i < p->fwd.end; i++) {
        const Value *v = &p->v[i];
        int s = v->stmt < ns ? v->stmt : ns;
        for (int a = 0; a < v->nargs; a++) {
            const Value *o = &p->v[v->arg[a]];
            if (o->op == OP_PARAM && !seen[o->index]) {
                seen[o->index] = 1;
                long long n = shape_numel(&o->shape);
                row[s].params += n;
                row[s].frozen += p->params[o->index].frozen ? n : 0;
            }
        }
        if (v->batched)
            row[s].fwd += flops(p, i);
        else
            penalty_fwd += flops(p, i);
    }
    /* backward FLOPs (by the statement whose rule made the step) and the
     * forward values the adjoint program reads */
    const IrRange ranges[2] = {p->bwd_loss, p->bwd_penalty};
    for (int r = 0; r < 2; r++)
        for (int i = ranges[r].begin; i < ranges[r].end; i++) {
            const Value *v = &p->v[i];
            int s = v->stmt < ns ? v->stmt : ns;
            if (v->op == OP_ADJ)
                continue;   /* a buffer: its operand names what it is the adjoint of */
            if (v->batched)
                row[s].bwd += flops(p, i);
            else
                penalty_bwd += flops(p, i);
            for (int a = 0; a < v->nargs; a++) {
                int o = v->arg[a];
                if (o < p->fwd.end && p->v[o].batched && reader[o] < 0 &&
                    ir_ops[p->v[o].op].kind != K_LEAF)
                    reader[o] = i;
                if (o < p->fwd.end && p->v[o].op == OP_INPUT && reader[o] < 0)
                    reader[o] = i;
            }
        }
    for (int i = 0; i < p->fwd.end; i++)
        if (reader[i] >= 0) {
            const Value *v = &p->v[i];
            if (v->op == OP_INPUT)
                data_kept += shape_numel(&v->shape);
            else
                row[v->stmt < ns ? v->stmt : ns].kept += steps(p, i) * shape_numel(&v->shape);
        }

    fprintf(out, "cost report of model %s (%s)\n", p->name, p->file);
    fprintf(out, "per sample; FLOPs: 2 per multiply-add of a matrix product, 1 per operation of an\n"
                 "elementwise step (docs/teaching.md); kept = floats of forward values the backward\n"
                 "pass reads\n\n");
    fprintf(out, "%5s  %-46s %8s %11s %11s %8s\n", "line", "statement", "params", "fwd FLOPs",
            "bwd FLOPs", "kept");
    for (int s = 0; s <= ns; s++) {
        Row *w = &row[s];
        if (!w->params && !w->fwd && !w->bwd && !w->kept)
            continue;
        char text[48];
        snprintf(text, sizeof text, "%s", s < ns ? p->stmts[s].text : "(other)");
        if (s < ns && strlen(p->stmts[s].text) >= sizeof text)
            strcpy(text + sizeof text - 4, "...");
        if (s < ns)
            fprintf(out, "%5d  %-46s", p->stmts[s].line, text);
        else
            fprintf(out, "%5s  %-46s", "", text);
        fprintf(out, " %8lld %11lld %11lld %8lld%s\n", w->params, w->fwd, w->bwd, w->kept,
                w->frozen ? "  (frozen params included)" : "");
        total.params += w->params;
        total.frozen += w->frozen;
        total.fwd += w->fwd;
        total.bwd += w->bwd;
        total.kept += w->kept;
    }
    fprintf(out, "%5s  %-46s %8lld %11lld %11lld %8lld\n", "", "total", total.params, total.fwd,
            total.bwd, total.kept);
    fprintf(out, "\nparameters: %lld (%lld trainable", total.params, total.params - total.frozen);
    if (total.frozen)
        fprintf(out, ", %lld frozen", total.frozen);
    fprintf(out, ")\n");
    if (p->penalty >= 0)
        fprintf(out, "penalty: %lld FLOPs forward, %lld backward, once per batch\n", penalty_fwd,
                penalty_bwd);
    fprintf(out, "backward / forward FLOPs: %.2f\n", total.fwd ? (double)total.bwd / total.fwd : 0.0);

    fprintf(out, "\nkept for the backward pass (per sample: %lld floats of activations, %lld of "
            "input data)\n", total.kept, data_kept);
    for (int i = 0; i < p->fwd.end; i++) {
        if (reader[i] < 0)
            continue;
        char sh[64], why[300];
        const Value *v = &p->v[i];
        ir_notation(p, reader[i], why, sizeof why);
        fprintf(out, "  %-12s %-10s line %-4d read by  %s\n", ir_value_name(p, i),
                shape_str(&v->shape, sh, sizeof sh), v->loc.line, why);
    }
    if (p->nslots > ir_data_slots(p)) {
        /* (the generator's cost is the runtime's, not the model's FLOPs) */
        fprintf(out, "\ndrawn by the trainer for each sample (train mode; eval mode: the mean)\n");
        for (int k = ir_data_slots(p); k < p->nslots; k++) {
            const IrSlot *s = &p->slots[k];
            char sh[64], how[80];
            if (s->noise == IR_NOISE_DROPOUT)
                snprintf(how, sizeof how, "dropout mask: 0 with p = %g, else %g", s->a,
                         1 / (1 - s->a));
            else
                snprintf(how, sizeof how, "%s(%g, %g)",
                         s->noise == IR_NOISE_NORMAL ? "normal" : "uniform", s->a, s->b);
            fprintf(out, "  %-12s %-10s line %-4d %s\n", s->name,
                    shape_str(&s->shape, sh, sizeof sh), s->loc.line, how);
        }
    }
    free(row);
    free(reader);
    free(seen);
}
