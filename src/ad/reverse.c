/*
 * reverse.c - reverse mode: activity analysis, seeding, the reverse sweep.
 *
 * A value is active when it depends on a trainable parameter (through ops
 * with a derivative: not a comparison or stop_gradient, whose rule is
 * ad_nograd) and the root (loss or penalty) depends on it; only active values get adjoints, so
 * frozen parameters and everything that only flows from inputs cost
 * nothing.  The sweep visits the forward values from the root down; each
 * active value whose adjoint received a contribution applies its op's rule
 * (rules.c), which adds into the adjoints of its operands.  Because every
 * consumer of a value comes after it in the forward list, all contributions
 * to an adjoint are in place before the sweep reaches it.
 */
#include <stdlib.h>
#include <string.h>
#include "ad.h"

struct AdCtx {
    IrProgram *p;
    char *active;
    int *adj;          /* adj[v]: the value holding dL/dv, or -1 */
    int cur;           /* the forward value whose rule is running */
    int given;         /* the adjoint this rule already handed to an operand */
};

/* The rules, by op (rules.c, from ops.def), and the wrong one for tests. */
extern AdRule *const ad_rules[OP_COUNT];
AdRule ad_rule_wrong;
AdRule ad_nograd;          /* the rule of ops without a derivative (rules.c) */

/* Test only: with NNC_TEST_CORRUPT_RULE=OP (a unary elementwise op such as
 * relu or sigmoid) that op's adjoint rule is replaced by ad_rule_wrong, so
 * the tests can show that `nnc check` fails on a wrong gradient.  Returns
 * the op, or -1 when the variable is unset. */
static int corrupt_op(void)
{
    const char *name = getenv("NNC_TEST_CORRUPT_RULE");
    if (!name || !*name)
        return -1;
    for (int op = 0; op < OP_COUNT; op++)
        if (strcmp(ir_ops[op].name, name) == 0 && ir_ops[op].kind == K_MAP &&
            ir_ops[op].arity == 1 && ad_rules[op])
            return op;
    diag_internal("NNC_TEST_CORRUPT_RULE=%s: not a unary elementwise op with a rule", name);
    return -1;
}

const Value *ad_value(AdCtx *cx, int id) { return &cx->p->v[id]; }

static int emit_like(AdCtx *cx, Value v)
{
    const Value *src = &cx->p->v[cx->cur];
    v.stmt = src->stmt;
    v.loc = src->loc;
    v.from = cx->cur;
    return ir_emit(cx->p, v);
}

int ad_const(AdCtx *cx, double x)
{
    Value v;
    memset(&v, 0, sizeof v);
    v.op = OP_CONST;
    v.num = x;
    v.acc = -1;
    return emit_like(cx, v);
}

/* "d_" + name, owned by the program */
static char *adjoint_name(IrProgram *p, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof buf, "d_%s", name);
    return ir_strdup(p, buf);
}

static int adjoint_of(AdCtx *cx, int target)
{
    if (cx->adj[target] >= 0)
        return cx->adj[target];
    const Value *t = &cx->p->v[target];
    Value v;
    memset(&v, 0, sizeof v);
    v.op = OP_ADJ;
    v.nargs = 1;
    v.arg[0] = target;
    v.shape = t->shape;
    v.batched = t->batched;
    v.acc = -1;
    v.name = adjoint_name(cx->p, t->name ? t->name : "tmp");
    int id = emit_like(cx, v);
    cx->adj[target] = id;
    return id;
}

/* The iteration shape of an elementwise step: the largest of its operands'
 * and its target's shapes (they all broadcast to it). */
static Shape widest(const IrProgram *p, const int *ids, int n)
{
    Shape s = p->v[ids[0]].shape;
    for (int i = 1; i < n; i++) {
        const Shape *t = &p->v[ids[i]].shape;
        if (t->rank > s.rank || (t->rank == s.rank && shape_numel(t) > shape_numel(&s)))
            s = *t;
    }
    return s;
}

/* Are a's and b's adjoints stored alike, so that one may be the other's?
 * Outside rolled loops, or both values of one loop's step; not a carry or
 * its source, whose adjoints are one buffer a step apart (ir.h, IrLoop). */
static int same_slots(const IrProgram *p, int a, int b)
{
    if (ir_carry_of(p, a, NULL) >= 0 || ir_carry_of(p, b, NULL) >= 0 ||
        ir_source_of(p, a, NULL) >= 0 || ir_source_of(p, b, NULL) >= 0)
        return 0;
    return ir_loop_of(p, a) == ir_loop_of(p, b);
}

int ad_contrib(AdCtx *cx, int target, Op op, int nargs, const int *args, int ta, int tb)
{
    IrProgram *p = cx->p;
    if (!cx->active[target])
        return -1;
    /* dL/da += dL/dy where a has no adjoint yet and the same shape: a's
     * adjoint *is* dL/dy.  This is safe because dL/dy is complete and only
     * read within y's rule, so later contributions to a may add into it.
     * Only one operand may take it over: in y = a + b, a and b need their
     * own adjoints. */
    if (op == OP_COPY && cx->adj[target] < 0 && p->v[target].op != OP_PARAM &&
        cx->given != args[0] &&
        p->v[args[0]].op == OP_ADJ && p->v[args[0]].batched == p->v[target].batched &&
        shape_equal(&p->v[args[0]].shape, &p->v[target].shape) &&
        same_slots(p, target, p->v[args[0]].arg[0])) {
        cx->adj[target] = args[0];
        cx->given = args[0];
        /* the shared buffer takes the user's name over a temporary's */
        Value *d = &p->v[args[0]];
        if (p->v[d->arg[0]].temp && !p->v[target].temp && p->v[target].name) {
            d->name = adjoint_name(p, p->v[target].name);
        }
        return -1;
    }
    int acc = adjoint_of(cx, target);
    Value v;
    memset(&v, 0, sizeof v);
    v.op = op;
    v.nargs = nargs;
    for (int i = 0; i < nargs; i++) {
        v.arg[i] = args[i];
        v.batched |= p->v[args[i]].batched;
    }
    v.acc = acc;
    v.ta = ta;
    v.tb = tb;
    switch (ir_ops[op].kind) {
    case K_MAP: {
        int all[4];
        for (int i = 0; i < nargs; i++)
            all[i] = args[i];
        all[nargs] = acc;
        v.shape = widest(p, all, nargs + 1);
        v.batched |= p->v[acc].batched;
        break;
    }
    case K_MATMUL: {
        char err[128];
        if (!ir_matmul_shape(&p->v[args[0]].shape, ta, &p->v[args[1]].shape, tb, &v.shape,
                             err, sizeof err))
            diag_internal("adjoint matmul: %s", err);
        break;
    }
    case K_VIEW:
        /* a view's adjoint is the placement at the same offset and strides,
         * and the other way round */
        v.shape = p->v[acc].shape;
        v.view = p->v[cx->cur].view;
        break;
    case K_CONV: {
        /* a window op's step slides the forward op's window */
        const Value *y = &p->v[cx->cur];
        v.shape = p->v[acc].shape;
        v.stride = y->stride;
        v.pad = y->pad;
        v.window = y->window;
        break;
    }
    default:
        v.shape = p->v[acc].shape;
        break;
    }
    return emit_like(cx, v);
}

/* The sweep at forward value i, before (enter) or after its rule: at the
 * last value of a rolled loop's step the step's adjoint begins (the loss's
 * program only: the penalty depends on no sample, and sema rolls no loop
 * without one), with the adjoints of its active carries and their sources
 * (a source's adjoint at step t receives the carry's of step t + 1, so the
 * source's rule runs even when nothing in the step reads it); at the
 * step's first value it ends. */
static void loop_edge(AdCtx *cx, int i, int loss, int enter)
{
    IrProgram *p = cx->p;
    for (int l = 0; l < p->nloops; l++) {
        IrLoop *L = &p->loops[l];
        if (enter && i == L->end - 1) {
            if (!loss)
                diag_internal("a rolled loop in the penalty's adjoint");
            L->bwd_begin = p->nv;
            cx->cur = i;
            for (int c = 0; c < L->ncarry; c++)
                if (cx->active[L->carry[c]] && cx->active[L->source[c]]) {
                    adjoint_of(cx, L->source[c]);
                    adjoint_of(cx, L->carry[c]);
                }
        }
        if (!enter && i == L->body && L->bwd_begin >= 0)
            L->bwd_end = p->nv;
    }
}

static void sweep(IrProgram *p, int root, int seed, IrRange *range)
{
    AdCtx cx;
    cx.p = p;
    int n = p->fwd.end;
    cx.active = calloc((size_t)n, 1);
    cx.adj = malloc((size_t)n * sizeof *cx.adj);
    char *needed = calloc((size_t)n, 1);
    if (!cx.active || !cx.adj || !needed)
        diag_internal("out of memory");
    for (int again = 1; again;) {
        again = 0;
        for (int i = 0; i < n; i++) {
            const Value *v = &p->v[i];
            cx.adj[i] = -1;
            if (v->op == OP_PARAM)
                cx.active[i] = !p->params[v->index].frozen;
            for (int a = 0; a < v->nargs && ad_rules[v->op] != ad_nograd; a++)
                cx.active[i] |= cx.active[v->arg[a]];
        }
        /* a carry is active when its source is (the step before's) */
        for (int l = 0; l < p->nloops; l++)
            for (int c = 0; c < p->loops[l].ncarry; c++)
                if (cx.active[p->loops[l].source[c]] && !cx.active[p->loops[l].carry[c]])
                    again = cx.active[p->loops[l].carry[c]] = 1;
    }
    ir_mark_deps(p, root, needed);
    for (int i = 0; i < n; i++)
        cx.active[i] &= needed[i];

    int corrupt = corrupt_op();
    range->begin = p->nv;
    if (cx.active[root]) {
        cx.cur = root;
        cx.adj[root] = seed >= 0 ? seed : ad_const(&cx, 1);
        if (seed >= 0) {
            /* the seed value was emitted before the sweep: move the range */
            range->begin = seed;
        }
        /* a loss inside a rolled loop's step: the sweep covers the whole
         * step (its later values feed the loss through the carries) */
        int top = root, l = ir_loop_of(p, root);
        if (l >= 0)
            top = p->loops[l].end - 1;
        for (int i = top; i >= 0; i--) {
            loop_edge(&cx, i, range == &p->bwd_loss, 1);
            if (!cx.active[i] || cx.adj[i] < 0 || p->v[i].op == OP_PARAM) {
                loop_edge(&cx, i, range == &p->bwd_loss, 0);
                continue;
            }
            AdRule *rule = (int)p->v[i].op == corrupt ? ad_rule_wrong : ad_rules[p->v[i].op];
            if (!rule)
                diag_internal("no adjoint rule for op %s", ir_ops[p->v[i].op].name);
            cx.cur = i;
            cx.given = -1;
            rule(&cx, i, cx.adj[i]);
            loop_edge(&cx, i, range == &p->bwd_loss, 0);
        }
        for (int i = 0; i < p->nparams; i++)
            if (cx.adj[p->params[i].value] >= 0 && p->grad[i] < 0)
                p->grad[i] = cx.adj[p->params[i].value];
    }
    range->end = p->nv;
    free(cx.active);
    free(cx.adj);
    free(needed);
}

void ad_differentiate(IrProgram *p)
{
    p->grad = malloc((size_t)(p->nparams ? p->nparams : 1) * sizeof *p->grad);
    for (int i = 0; i < p->nparams; i++)
        p->grad[i] = -1;
    Value s;
    memset(&s, 0, sizeof s);
    s.op = OP_SEED;
    s.acc = -1;
    s.name = "seed";
    /* w is dL/dloss for each sample: a term of the loss that is the same
     * for every sample (one on parameters alone) then receives the sum of
     * the samples' w, as a parameter's gradient does */
    s.batched = p->v[p->loss].batched;
    s.stmt = p->v[p->loss].stmt;
    s.loc = p->v[p->loss].loc;
    int seed = ir_emit(p, s);
    sweep(p, p->loss, seed, &p->bwd_loss);
    if (p->penalty >= 0)
        sweep(p, p->penalty, -1, &p->bwd_penalty);
    else
        p->bwd_penalty.begin = p->bwd_penalty.end = p->nv;
    ir_verify(p);
}
