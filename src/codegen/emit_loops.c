/*
 * emit_loops.c - the training step as explicit loops over indices, one
 * sample at a time (`nnc model.nn -o model.c --style=loops`).
 *
 * The default style (emit_c.c) computes each step for the whole batch at
 * once, with GEMM where it pays.  This one writes the per-sample form of a
 * course's derivation, from the same forward and adjoint IR:
 *
 *   for each sample s:
 *       z1[i] = sum_j W1[i][j] x[j]            forward, statement by statement
 *       ...
 *       d_z1[i] = d_h1[i] * (z1[i] > 0)        backward, in exactly reversed order
 *       d_W1[i][j] += d_z1[i] * x[j]           a gradient sums over the samples
 *
 * Every tensor is indexed by its own dimensions (a matrix parameter is a
 * pointer to rows, `W1[i][j]`), with the user's names; each statement is
 * preceded by its source line and each step by its equation.  Dimensions
 * of size 1 get the index 0 instead of a loop.  Values that do not depend
 * on the sample (computed from parameters only) are computed before the
 * sample loop; adjoint steps that do not depend on it run after it, when
 * the per-sample contributions are complete.
 *
 * The functions have the same signatures and the same workspace as the
 * default style's, so the trainer, its runtime and its tests are shared.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "cg_loops.h"
#include "plan.h"

enum { ARG_PARAMS = 1, ARG_GRADS = 2, ARG_SEED = 4, ARG_N = 8, ARG_WS = 16 };

typedef struct Lx {
    const CgLoops *c;
    const IrProgram *p;
    FILE *f;              /* the stream being written */
    int ind;              /* its base indentation */
    int last_stmt;        /* the statement whose comment was written last */
    int backward;
    char *used;           /* value referenced in the current function */
    char *written;        /* adjoint buffer already written (this sample, or once) */
    char *pre_zero;       /* unbatched adjoint that batched steps add into: zeroed first */
    int uses;             /* ARG_* the body used */
} Lx;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        diag_internal("out of memory");
    return p;
}

static void out(Lx *lx, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void out(Lx *lx, int indent, const char *fmt, ...)
{
    va_list ap;
    fprintf(lx->f, "%*s", 4 * (lx->ind + indent), "");
    va_start(ap, fmt);
    vfprintf(lx->f, fmt, ap);
    va_end(ap);
    fputc('\n', lx->f);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int numel(const Value *v) { return shape_numel(&v->shape); }

static const char *name_of(const Lx *lx, int id) { return lx->c->cname[id]; }

static int is_grad(const Lx *lx, int id)
{
    const Value *v = &lx->p->v[id];
    return v->op == OP_ADJ && lx->p->v[v->arg[0]].op == OP_PARAM;
}

/* ---- indexing ---- */

/* Element of value id in an iteration space of shape `it` whose indices are
 * idx[0..it->rank): the value's own dimensions are it's trailing ones
 * (broadcasting), or it has one element and is read at [0]; a dimension of
 * 1 stretched over one of the iteration's (numpy) is read at [0]: b[i][0][0]
 * for [O, 1, 1] over [O, H, W]. */
static void ref(Lx *lx, int id, const Shape *it, char idx[][8], char *buf, size_t n)
{
    const Value *v = &lx->p->v[id];
    if (v->op == OP_CONST) {
        cg_c_number(lx->p, v->num, buf, n);
        return;
    }
    if (v->op == OP_SEED) {
        lx->uses |= ARG_SEED;
        snprintf(buf, n, "seed");
        return;
    }
    lx->used[id] = 1;
    size_t len = (size_t)snprintf(buf, n, "%s", name_of(lx, id));
    if (v->shape.rank == 0) {
        snprintf(buf + len, n - len, "[0]");
        return;
    }
    int one = numel(v) == 1, off = it->rank - v->shape.rank;
    for (int d = 0; d < v->shape.rank && len < n; d++) {
        int stretched = off >= 0 && v->shape.dim[d] == 1;
        len += (size_t)snprintf(buf + len, n - len, "[%s]",
                                one || off < 0 || stretched ? "0" : idx[off + d]);
    }
}

/* Loop indices for an iteration shape: i, j, k, m, or 0 for a dimension of
 * size 1; returns how many loops that takes. */
static int loop_indices(const Shape *it, char idx[][8])
{
    static const char *const names[] = {"i", "j", "k", "m"};
    int nloops = 0;
    for (int d = 0; d < it->rank; d++)
        snprintf(idx[d], 8, "%s", it->dim[d] > 1 ? names[nloops++] : "0");
    return nloops;
}

/* Open the loops over it's dimensions of size > 1; with `block`, the
 * innermost opens a brace (a bare one when there is no loop) that the
 * caller closes.  Returns the indentation of the body. */
static int open_loops(Lx *lx, const Shape *it, char idx[][8], int block)
{
    int ind = 0, nloops = 0;
    for (int d = 0; d < it->rank; d++)
        nloops += it->dim[d] > 1;
    for (int d = 0, k = 0; d < it->rank; d++) {
        if (it->dim[d] <= 1)
            continue;
        k++;
        out(lx, ind++, "for (int %s = 0; %s < %d; %s++)%s", idx[d], idx[d], it->dim[d], idx[d],
            block && k == nloops ? " {" : "");
    }
    if (block && nloops == 0)
        out(lx, ind++, "{");
    return ind;
}

/* The pointer declaration of a tensor of shape s: "real *x" or, with more
 * dimensions, "real (*W1)[2]"; cast gets the matching cast "(real (*)[2])". */
static void declare(const Shape *s, int cnst, const char *name, char *decl, size_t n, char *cast,
                    size_t cn)
{
    const char *q = cnst ? "const " : "";
    if (s->rank <= 1) {
        snprintf(decl, n, "%sreal *%s", q, name);
        cast[0] = '\0';
        return;
    }
    char dims[64] = "";
    for (int d = 1; d < s->rank; d++)
        snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "[%d]", s->dim[d]);
    snprintf(decl, n, "%sreal (*%s)%s", q, name, dims);
    snprintf(cast, cn, "(%sreal (*)%s)", q, dims);
}

/* ---- the assignment of a step ---- */

/* "=" for a step that writes all of its target first (per sample), else
 * "+=", zeroing the target first when nothing was written into it yet.
 * Gradients always add: the runtime zeroes them once per batch. */
static const char *assign(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    if (v->acc < 0)
        return "=";
    const Value *t = &p->v[v->acc];
    lx->used[v->acc] = 1;
    if (is_grad(lx, v->acc)) {
        lx->uses |= ARG_GRADS;
        return "+=";
    }
    if (lx->pre_zero[v->acc] || lx->written[v->acc])
        return "+=";
    int first = cg_first_full_write(p, id, lx->written);
    lx->written[v->acc] = 1;
    if (first)
        return "=";
    out(lx, 0, "memset(%s, 0, %d * sizeof(real));", name_of(lx, v->acc), numel(t));
    return "+=";
}

/* ---- the ops ---- */

static void emit_map(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    int dst = cg_dest(p, id);
    char idx[IR_MAXRANK][8], ops[3][128], d[128], rhs[600];
    const char *opp[3] = {ops[0], ops[1], ops[2]};
    loop_indices(&v->shape, idx);
    const char *op = assign(lx, id);
    for (int k = 0; k < v->nargs; k++)
        ref(lx, v->arg[k], &v->shape, idx, ops[k], sizeof ops[k]);
    ref(lx, dst, &v->shape, idx, d, sizeof d);
    cg_c_expr(p, ir_op_expr(v->op), opp, rhs, sizeof rhs);
    /* check's finite differences hold a stop_gradient (plan.c's nest) */
    int held = v->op == OP_STOP_GRADIENT;
    if (held)
        out(lx, 0, "if (!nnrt_held()) {   /* else as nnc check holds it */");
    lx->ind += held;
    int ind = open_loops(lx, &v->shape, idx, 0);
    out(lx, ind, "%s %s %s;", d, op, rhs);
    lx->ind -= held;
    if (held)
        out(lx, 0, "}");
}

/* Element (r, c) of op(X) (plan.h cg_operand: a vector is a row on the left,
 * a column on the right, unless transposed): X[r][c], X[c][r] transposed,
 * or a vector's one index. */
static void op_elem(Lx *lx, int id, const CgOperand *o, const char *r, const char *c, char *buf,
                    size_t n)
{
    lx->used[id] = 1;
    const char *x = name_of(lx, id);
    if (lx->p->v[id].shape.rank == 2)
        snprintf(buf, n, o->t ? "%s[%s][%s]" : "%s[%s][%s]", x, o->t ? c : r, o->t ? r : c);
    else
        snprintf(buf, n, "%s[%s]", x, o->t ? r : c);
}

/*
 * C (=|+=) op(A) @ op(B), per sample:
 *
 *   C[i][j] (+)= sum_k op(A)[i][k] op(B)[k][j]
 *
 * with the indices named after what is left of them: a matrix-vector
 * product is z[i] = sum_j W[i][j] x[j], an outer product d_W[i][j] +=
 * d_z[i] * x[j] (no sum).
 */
static void emit_matmul(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    int ia = v->arg[0], ib = v->arg[1], dst = cg_dest(p, id);
    CgOperand A = cg_operand(&p->v[ia], v->ta, 1), B = cg_operand(&p->v[ib], v->tb, 0);
    int m = A.t ? A.cols : A.rows, K = A.t ? A.rows : A.cols, nn = B.t ? B.rows : B.cols;
    static const char *const letters[] = {"i", "j", "k"};
    int next = 0;
    const char *ri = m > 1 ? letters[next++] : "0";
    const char *cj = nn > 1 ? letters[next++] : "0";
    const char *sk = K > 1 ? letters[next++] : "0";
    const char *op = assign(lx, id);
    lx->used[dst] = 1;
    char a[128], b[128], c[128];
    op_elem(lx, ia, &A, ri, sk, a, sizeof a);
    op_elem(lx, ib, &B, sk, cj, b, sizeof b);
    const Value *cv = &p->v[dst];
    if (cv->shape.rank == 2)
        snprintf(c, sizeof c, "%s[%s][%s]", name_of(lx, dst), ri, cj);
    else
        snprintf(c, sizeof c, "%s[%s]", name_of(lx, dst), cv->shape.rank == 0 ? "0" : m > 1 ? ri : cj);
    int ind = 0;
    int zero_first = K > 1 && strcmp(op, "=") == 0;
    if (m > 1)
        out(lx, ind++, "for (int %s = 0; %s < %d; %s++)%s", ri, ri, m, ri,
            zero_first && nn <= 1 ? " {" : "");
    if (nn > 1)
        out(lx, ind++, "for (int %s = 0; %s < %d; %s++)%s", cj, cj, nn, cj, zero_first ? " {" : "");
    if (K > 1) {
        if (zero_first)
            out(lx, ind, "%s = 0;", c);
        out(lx, ind, "for (int %s = 0; %s < %d; %s++)", sk, sk, K, sk);
        out(lx, ind + 1, "%s += %s * %s;", c, a, b);
    } else {
        out(lx, ind, "%s %s %s * %s;", c, op, a, b);
    }
    if (zero_first && (m > 1 || nn > 1))
        out(lx, ind - 1, "}");
}

static void emit_transpose(Lx *lx, int id)
{
    const Value *v = &lx->p->v[id];
    int src = v->arg[0], dst = cg_dest(lx->p, id);
    const Shape *s = &lx->p->v[src].shape;
    char idx[IR_MAXRANK][8], sv[128], dv[128];
    loop_indices(s, idx);
    const char *op = assign(lx, id);
    ref(lx, src, s, idx, sv, sizeof sv);
    lx->used[dst] = 1;
    snprintf(dv, sizeof dv, "%s[%s][%s]", name_of(lx, dst), idx[1], idx[0]);
    int ind = open_loops(lx, s, idx, 0);
    out(lx, ind, "%s %s %s;", dv, op, sv);
}

/* A view or a placement: X[t], h[2:5] read axis by axis (ir_view_axes),
 *   x_t[i] = X[3][i]        d_X[3][i] += d_x_t[i]
 * and a reshape through the larger tensor's elements in a row,
 *   r[i][j] = ((const real *)x)[i * 7 + j]. */
static void emit_view(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    CgView w = cg_view_plan(p, id);
    /* the smaller tensor's buffer: a view's destination, a placement's operand */
    int small = w.gather ? w.dst : w.src, big = w.gather ? w.src : w.dst;
    const Shape *ss = &p->v[ir_view_small(p, id)].shape, *bs = ir_view_big_shape(p, id);
    char idx[IR_MAXRANK][8], se[128], be[160];
    int start[IR_MAXRANK], axis[IR_MAXRANK];
    loop_indices(ss, idx);
    if (w.clear) {
        lx->used[w.dst] = 1;
        out(lx, 0, "memset(%s, 0, %d * sizeof(real));", name_of(lx, w.dst), shape_numel(bs));
    }
    const char *op = assign(lx, id);
    ref(lx, small, ss, idx, se, sizeof se);
    lx->used[big] = 1;
    size_t len;
    int axes = ir_view_axes(p, id, start, axis);
    if (axes && w.step)   /* X[t] in a rolled loop: t indexes an axis */
        axes = ir_view_step_axis(p, id) >= 0 && axis[ir_view_step_axis(p, id)] < 0;
    if (axes) {
        len = (size_t)snprintf(be, sizeof be, "%s", name_of(lx, big));
        int ta = ir_view_step_axis(p, id);
        for (int a = 0; a < bs->rank && len < sizeof be; a++) {
            const char *i = axis[a] < 0 ? "0" : idx[axis[a]];
            if (a == ta && axis[a] < 0)   /* X[t] in a rolled loop */
                len += (size_t)snprintf(be + len, sizeof be - len, start[a] ? "[%d + t]" : "[t]",
                                        start[a]);
            else if (strcmp(i, "0") == 0)
                len += (size_t)snprintf(be + len, sizeof be - len, "[%d]", start[a]);
            else if (start[a] == 0)
                len += (size_t)snprintf(be + len, sizeof be - len, "[%s]", i);
            else
                len += (size_t)snprintf(be + len, sizeof be - len, "[%d + %s]", start[a], i);
        }
    } else {
        len = (size_t)snprintf(be, sizeof be, w.gather ? "((const real *)%s)[" : "((real *)%s)[",
                               name_of(lx, big));
        int any = 0;
        for (int k = 0; k < ss->rank && len < sizeof be; k++) {
            if (strcmp(idx[k], "0") == 0)
                continue;
            int st = p->v[id].view.stride[k];
            len += (size_t)snprintf(be + len, sizeof be - len, st == 1 ? "%s%s" : "%s%s * %d",
                                    any++ ? " + " : "", idx[k], st);
        }
        if (w.off || !any)
            len += (size_t)snprintf(be + len, sizeof be - len, any ? " + %d" : "%d", w.off);
        if (w.step)   /* in a rolled loop */
            len += (size_t)snprintf(be + len, sizeof be - len, " + t * %d", w.step);
        snprintf(be + len, sizeof be - len, "]");
    }
    int ind = open_loops(lx, ss, idx, 0);
    if (w.gather)
        out(lx, ind, "%s %s %s;", se, op, be);
    else
        out(lx, ind, "%s %s %s;", be, op, se);
}

/* A gather or a scatter-add, for one sample: row seq[t] of the table,
 *   e[t][j] = E[(int)seq[t]][j]        d_E[(int)seq[t]][j] += d_e[t][j]
 * (tensors of other ranks through their elements in a row). */
static void emit_gather(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    CgGather g = cg_gather_plan(p, id);
    const char *op = assign(lx, id);
    lx->used[g.table] = lx->used[g.index] = lx->used[g.rows] = 1;
    const Shape *ts = &p->v[g.table].shape, *rs = &p->v[g.rows].shape;
    char ix[64], te[160], re[160];
    snprintf(ix, sizeof ix, "(int)%s[%s]", name_of(lx, g.index), g.T > 1 ? "t" : "0");
    const char *j = g.D > 1 ? "j" : "0";
    if (ts->rank == 2 && rs->rank <= 2) {
        snprintf(te, sizeof te, "%s[%s][%s]", name_of(lx, g.table), ix, j);
        if (rs->rank == 2)
            snprintf(re, sizeof re, "%s[t][%s]", name_of(lx, g.rows), j);
        else
            snprintf(re, sizeof re, "%s[%s]", name_of(lx, g.rows), g.T > 1 ? "t" : j);
    } else {
        snprintf(te, sizeof te, g.scatter ? "((real *)%s)[%s * %d + %s]" : "((const real *)%s)[%s * %d + %s]",
                 name_of(lx, g.table), ix, g.D, j);
        snprintf(re, sizeof re, g.scatter ? "((const real *)%s)[t * %d + %s]" : "((real *)%s)[t * %d + %s]",
                 name_of(lx, g.rows), g.D, j);
        if (g.T == 1)
            snprintf(re, sizeof re, "%s[%s]", name_of(lx, g.rows), j);
    }
    int ind = 0;
    if (g.T > 1)
        out(lx, ind++, "for (int t = 0; t < %d; t++)", g.T);
    if (g.D > 1)
        out(lx, ind++, "for (int j = 0; j < %d; j++)", g.D);
    if (g.scatter)
        out(lx, ind, "%s %s %s;", te, op, re);
    else
        out(lx, ind, "%s %s %s;", re, op, te);
}

/* sum, mean, sumsq of one sample's tensor, added up in its own element. */
static void emit_reduce(Lx *lx, int id)
{
    const Value *v = &lx->p->v[id];
    if (v->acc >= 0)
        diag_internal("accumulating reductions are not generated");
    int src = v->arg[0];
    const Shape *s = &lx->p->v[src].shape;
    char idx[IR_MAXRANK][8], x[128], nb[32];
    loop_indices(s, idx);
    ref(lx, src, s, idx, x, sizeof x);
    lx->used[id] = 1;
    const char *r = name_of(lx, id);
    const char *opp[1] = {x};
    char t[300];
    cg_c_expr(lx->p, cg_elem_expr(v->op), opp, t, sizeof t);
    if (numel(&lx->p->v[src]) == 1) {
        out(lx, 0, "%s[0] = %s;", r, t);
        return;
    }
    out(lx, 0, "%s[0] = 0;", r);
    int ind = open_loops(lx, s, idx, 0);
    out(lx, ind, "%s[0] += %s;", r, t);
    if (cg_reduce_mean(v->op))
        out(lx, 0, "%s[0] /= %s;", r, cg_c_number(lx->p, numel(&lx->p->v[src]), nb, sizeof nb));
}

/* Element j of row r of a value over its last axis of length K. */
static void row_elem(Lx *lx, int id, int rows, int K, const char *j, char *buf, size_t n)
{
    const Value *v = &lx->p->v[id];
    const char *x = name_of(lx, id);
    lx->used[id] = 1;
    if (v->shape.rank <= 1)
        snprintf(buf, n, "%s[%s]", x, j);
    else if (v->shape.rank == 2)
        snprintf(buf, n, "%s[%s][%s]", x, rows > 1 ? "r" : "0", j);
    else
        snprintf(buf, n, "((real *)%s)[r * %d + %s]", x, K, j);
}

/* Softmax and friends along the last axis (plan.h cg_row_plan), a row at
 * a time: the plan's steps as C. */
static void emit_row(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    const CgRow *rp = cg_row_plan(v->op);
    int K, rows;
    cg_row_dims(p, id, &K, &rows);
    int xa = v->arg[rp->x], dst = cg_dest(p, id);
    const char *op = assign(lx, id);
    /* the steps' operands ($0 .. $9, plan.h) */
    char ops[CG_ROW_NOPS][128], x0[128], dj[128];
    const char *opp[CG_ROW_NOPS];
    Shape one = {0, {0}};
    char noidx[IR_MAXRANK][8];
    for (int k = 0; k < CG_ROW_NOPS; k++) {
        opp[k] = ops[k];
        snprintf(ops[k], sizeof ops[k], "%s", cg_row_name[k] ? cg_row_name[k] : "");
    }
    lx->used[dst] = 1;
    row_elem(lx, xa, rows, K, "0", x0, sizeof x0);
    row_elem(lx, dst, rows, K, "j", dj, sizeof dj);
    for (int k = 0; k < v->nargs; k++) {
        if (rp->scalar[k])
            ref(lx, v->arg[k], &one, noidx, ops[k], sizeof ops[k]);
        else
            row_elem(lx, v->arg[k], rows, K, "j", ops[k], sizeof ops[k]);
    }
    row_elem(lx, xa, rows, K, "cls", ops[CG_ROW_XCLS], sizeof ops[0]);
    if (rows > 1)
        out(lx, 0, "for (int r = 0; r < %d; r++) {", rows);
    else
        out(lx, 0, "{");
    char first[160];
    snprintf(first, sizeof first, "%s[0]", name_of(lx, id));
    CgRowC rc = {p, rp, K, opp, x0, "0", dj, op, first};
    cg_c_row(lx->f, lx->ind + 1, &rc);
    out(lx, 0, "}");
}

/* Value id's whole buffer, for a call over every sample (batch norm): a
 * parameter or its gradient in the flat buffers, else the workspace's (or
 * the data's) buffer, each sample's slice after the other. */
static void whole(Lx *lx, int id, char *buf, size_t n)
{
    const Value *v = &lx->p->v[id];
    if (v->op == OP_PARAM) {
        snprintf(buf, n, "params + %ld", lx->c->param_off[v->index]);
        lx->uses |= ARG_PARAMS;
    } else if (is_grad(lx, id)) {
        snprintf(buf, n, "grads + %ld", lx->c->param_off[lx->p->v[v->arg[0]].index]);
        lx->uses |= ARG_GRADS;
    } else {
        snprintf(buf, n, "ws->%s", name_of(lx, id));
        lx->uses |= ARG_WS;
    }
}

/* Batch norm: one call of the runtime's kernel over all n samples (plan.h
 * CgBatch), between the loops over the samples (forward_fn); each
 * sample's slice of a tensor follows the previous one: si = 1, sb = C S. */
static void emit_batch(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    CgBatch bp = cg_batch_plan(p, id);
    const Value *v = &p->v[id];
    int dst = cg_dest(p, id), add = 0;
    char arg[4][96], dbuf[96], run[2][96];
    whole(lx, dst, dbuf, sizeof dbuf);
    if (v->acc >= 0) {
        if (is_grad(lx, v->acc) || lx->pre_zero[v->acc] || lx->written[v->acc]) {
            add = 1;
        } else {
            add = !cg_first_full_write(p, id, lx->written);
            if (add)
                out(lx, 0, "memset(%s, 0, %s%d * sizeof(real));", dbuf,
                    p->v[v->acc].batched ? "(size_t)n * " : "", numel(&p->v[v->acc]));
            lx->written[v->acc] = 1;
        }
    }
    for (int k = 0; k < 4; k++) {
        if (bp.arg[k] >= 0)
            whole(lx, bp.arg[k], arg[k], sizeof arg[k]);
        else
            snprintf(arg[k], sizeof arg[k], "NULL");
    }
    int pi[2] = {bp.rmean, bp.rvar};
    for (int k = 0; k < 2; k++) {
        if (pi[k] >= 0)
            snprintf(run[k], sizeof run[k], "(real *)(params + %ld)", lx->c->param_off[pi[k]]);
        else
            snprintf(run[k], sizeof run[k], "NULL");
    }
    lx->uses |= ARG_N;
    out(lx, 0, "nnrt_batchnorm(%s, nnrt_pass_train(), %d, n, 1, %d, %d, %d,", bp.name, add,
        bp.C * bp.S, bp.C, bp.S);
    out(lx, 0, "               %s, %s, %s, %s,", arg[0], arg[1], arg[2], arg[3]);
    out(lx, 0, "               %s, %s, %s);", dbuf, run[0], run[1]);
}

/* One IR value: the statement's source line when it changes, the step's
 * equation, its loops. */
/* ---- sliding windows (plan.h cg_conv_plan) ---- */

/* A local name for a window's loops: want, or with '_' appended while a
 * value of the model has that name. */
static const char *win_name(Lx *lx, const char *want, char *buf, size_t n)
{
    snprintf(buf, n, "%s", want);
    for (int again = 1; again;) {
        again = 0;
        for (int i = 0; i < lx->p->nv && !again; i++)
            if (lx->c->cname[i] && strcmp(lx->c->cname[i], buf) == 0) {
                size_t len = strlen(buf);
                if (len + 1 < n) {
                    buf[len] = '_';
                    buf[len + 1] = '\0';
                }
                again = 1;
            }
    }
    return buf;
}

/* "name[a][b]" or, for a 1-d map (no rows), "name[a][b2]" */
static void win_ref(char *buf, size_t n, const char *name, const char *a, const char *r,
                    const char *col, int two)
{
    if (two)
        snprintf(buf, n, "%s[%s][%s][%s]", name, a, r, col);
    else
        snprintf(buf, n, "%s[%s][%s]", name, a, col);
}

/* "i * S + ki - P" with the parts that are 0 or 1 left out */
static void win_pos(char *buf, size_t n, const char *i, int s, const char *k, int pad)
{
    char st[16] = "";
    if (s != 1)
        snprintf(st, sizeof st, " * %d", s);
    if (pad)
        snprintf(buf, n, "%s%s + %s - %d", i, st, k, pad);
    else
        snprintf(buf, n, "%s%s + %s", i, st, k);
}

/*
 * A convolution as the seven nested loops of its definition, one sample:
 *
 *   for o, i, j:   y[o][i][j] = b[o] + sum over c, ki, kj of
 *                               K[o][c][ki][kj] * x[c][i S + ki - P][j S + kj - P]
 *
 * (the terms outside the map skipped: zero padding); its adjoint steps as
 * the same loops, adding each term's share into the input's or the
 * kernel's gradient; the pools as a loop over each window.
 */
static void emit_conv(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    CgConv c = cg_conv_plan(p, id);
    int dst = cg_dest(p, id), two = c.spatial == 2;
    const char *op = assign(lx, id);
    lx->used[dst] = 1;
    for (int a = 0; a < v->nargs; a++)
        if (p->v[v->arg[a]].op != OP_CONST)
            lx->used[v->arg[a]] = 1;
    if (strcmp(op, "=") == 0 && c.call != CG_CONV && c.call != CG_MAXPOOL && c.call != CG_AVGPOOL) {
        /* the steps below add term by term: start from 0 */
        out(lx, 0, "memset(%s, 0, %d * sizeof(real));", name_of(lx, dst), numel(&p->v[dst]));
        op = "+=";
    }
    char o[16], ch[16], ki[16], kj[16], acc[16];
    win_name(lx, c.call >= CG_MAXPOOL ? "c" : "o", o, sizeof o);
    win_name(lx, "c", ch, sizeof ch);
    win_name(lx, "ki", ki, sizeof ki);
    win_name(lx, "kj", kj, sizeof kj);
    win_name(lx, "acc", acc, sizeof acc);
    const char *x = c.x >= 0 ? name_of(lx, c.x) : "", *y = name_of(lx, c.y);
    const char *K = c.k >= 0 ? name_of(lx, c.k) : "";
    char u[64], w[64], xe[256], ye[256], ke[256], cond[400] = "";
    win_pos(u, sizeof u, "i", c.sh, ki, c.ph);
    win_pos(w, sizeof w, "j", c.sw, kj, c.pw);
    int padded = c.ph || c.pw;
    if (padded && two)
        snprintf(cond, sizeof cond, "%s >= 0 && %s < %d && %s >= 0 && %s < %d", u, u, c.H, w, w, c.W);
    else if (padded)
        snprintf(cond, sizeof cond, "%s >= 0 && %s < %d", w, w, c.W);
    int ind = 0;
    /* the loops over the output: channel, row, column */
    out(lx, ind++, "for (int %s = 0; %s < %d; %s++)", o, o, c.O, o);
    if (two)
        out(lx, ind++, "for (int i = 0; i < %d; i++)", c.OH);
    out(lx, ind++, "for (int j = 0; j < %d; j++) {", c.OW);
    win_ref(ye, sizeof ye, y, o, "i", "j", two);
    if (c.call == CG_CONV_BWD_B) {
        out(lx, ind, "%s[%s] %s %s;", name_of(lx, dst), o, op, ye);
    } else if (c.call >= CG_MAXPOOL) {
        /* a pool: the window of (i, j) in channel o */
        char wi[64], wj[64], first[256];
        win_pos(wi, sizeof wi, "i", c.sh, ki, 0);
        win_pos(wj, sizeof wj, "j", c.sw, kj, 0);
        win_ref(xe, sizeof xe, x, o, wi, wj, two);
        char r0[32], c0[32];
        snprintf(r0, sizeof r0, c.sh != 1 ? "i * %d" : "i", c.sh);
        snprintf(c0, sizeof c0, c.sw != 1 ? "j * %d" : "j", c.sw);
        win_ref(first, sizeof first, x, o, r0, c0, two);
        if (c.call == CG_MAXPOOL || c.call == CG_MAXPOOL_BWD) {
            char ai[16], aj[16], at[256], dxe[256];
            win_name(lx, "ai", ai, sizeof ai);
            win_name(lx, "aj", aj, sizeof aj);
            char pi[64], pj[64];
            win_pos(pi, sizeof pi, "i", c.sh, ai, 0);
            win_pos(pj, sizeof pj, "j", c.sw, aj, 0);
            win_ref(at, sizeof at, x, o, pi, pj, two);
            out(lx, ind, "int %s = 0, %s = 0;   /* the window's first maximum */", ai, aj);
            if (two)
                out(lx, ind, "for (int %s = 0; %s < %d; %s++)", ki, ki, c.KH, ki);
            out(lx, ind + two, "for (int %s = 0; %s < %d; %s++)", kj, kj, c.KW, kj);
            out(lx, ind + two + 1, "if (%s > %s)", xe, at);
            if (two)
                out(lx, ind + 3, "%s = %s, %s = %s;", ai, ki, aj, kj);
            else
                out(lx, ind + 2, "%s = %s;", aj, kj);
            if (c.call == CG_MAXPOOL) {
                out(lx, ind, "%s %s %s;", ye, op, at);
            } else {
                win_ref(dxe, sizeof dxe, name_of(lx, dst), o, pi, pj, two);
                out(lx, ind, "%s %s %s;", dxe, op, ye);
            }
        } else {
            char kk[32];
            cg_c_number(p, (double)(c.KH * c.KW), kk, sizeof kk);
            if (c.call == CG_AVGPOOL) {
                out(lx, ind, "real %s = 0;", acc);
                if (two)
                    out(lx, ind, "for (int %s = 0; %s < %d; %s++)", ki, ki, c.KH, ki);
                out(lx, ind + two, "for (int %s = 0; %s < %d; %s++)", kj, kj, c.KW, kj);
                out(lx, ind + two + 1, "%s += %s;", acc, xe);
                out(lx, ind, "%s %s %s / %s;", ye, op, acc, kk);
            } else {
                char dxe[256];
                win_ref(dxe, sizeof dxe, name_of(lx, dst), o, wi, wj, two);
                if (two)
                    out(lx, ind, "for (int %s = 0; %s < %d; %s++)", ki, ki, c.KH, ki);
                out(lx, ind + two, "for (int %s = 0; %s < %d; %s++)", kj, kj, c.KW, kj);
                out(lx, ind + two + 1, "%s %s %s / %s;", dxe, op, ye, kk);
            }
        }
    } else {
        /* a convolution or its adjoint: the terms over the input channels
         * and the window */
        char kref[256];
        snprintf(kref, sizeof kref, two ? "%s[%s][%s][%s][%s]" : "%s[%s][%s]%.0s[%s]", K, o, ch,
                 two ? ki : "", kj);
        win_ref(xe, sizeof xe, x, ch, u, w, two);
        (void)ke;
        if (c.call == CG_CONV)
            out(lx, ind, "real %s = %s;", acc, c.bias ? (snprintf(ke, sizeof ke, "%s[%s]",
                name_of(lx, v->arg[2]), o), ke) : (cg_c_number(p, 0, ke, sizeof ke), ke));
        int in = ind;
        out(lx, in++, "for (int %s = 0; %s < %d; %s++)", ch, ch, c.C, ch);
        if (two)
            out(lx, in++, "for (int %s = 0; %s < %d; %s++)", ki, ki, c.KH, ki);
        out(lx, in++, "for (int %s = 0; %s < %d; %s++)", kj, kj, c.KW, kj);
        if (padded)
            out(lx, in++, "if (%s)   /* inside the map: outside it x is 0 */", cond);
        if (c.call == CG_CONV)
            out(lx, in, "%s += %s * %s;", acc, kref, xe);
        else if (c.call == CG_CONV_BWD_X) {
            char dxe[256];
            win_ref(dxe, sizeof dxe, name_of(lx, dst), ch, u, w, two);
            out(lx, in, "%s %s %s * %s;", dxe, op, kref, ye);
        } else {
            out(lx, in, "%s %s %s * %s;", kref, op, ye, xe);
        }
        if (c.call == CG_CONV)
            out(lx, ind, "%s = %s;", ye, acc);
    }
    out(lx, ind - 1, "}");
}

static void emit_value(Lx *lx, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    IrKind kind = ir_ops[v->op].kind;
    if (kind == K_LEAF || kind == K_ADJ)
        return;
    if (v->stmt != lx->last_stmt && v->stmt < p->nstmts) {
        lx->last_stmt = v->stmt;
        const IrStmt *s = &p->stmts[v->stmt];
        fputc('\n', lx->f);
        out(lx, 0, "/* %s%s:%d  %s */", lx->backward ? "adjoint of " : "", base_name(p->file),
            s->line, s->text);
    }
    char note[300];
    ir_notation(p, id, note, sizeof note);
    for (char *c = note; (c = strstr(c, "*/")) != NULL; c++)
        c[1] = '\\';
    /* the equation as the step writes it: "=" where it assigns */
    int dst = cg_dest(p, id);
    char *pe = strstr(note, " += ");
    int first = v->acc >= 0 && !lx->pre_zero[dst] && cg_first_full_write(p, id, lx->written);
    if (pe && first)
        memmove(pe + 1, pe + 2, strlen(pe + 2) + 1);
    out(lx, 0, "/* %s */", note);
    switch (kind) {
    case K_MAP: emit_map(lx, id); break;
    case K_MATMUL: emit_matmul(lx, id); break;
    case K_TRANS: emit_transpose(lx, id); break;
    case K_REDUCE: emit_reduce(lx, id); break;
    case K_ROW: emit_row(lx, id); break;
    case K_VIEW: emit_view(lx, id); break;
    case K_BATCH: emit_batch(lx, id); break;
    case K_CONV: emit_conv(lx, id); break;
    case K_GATHER: emit_gather(lx, id); break;
    default: diag_internal("emit_loops: %s", ir_ops[v->op].name);
    }
}

/* ---- functions ---- */

/* The pointer to value id: a parameter or gradient in the flat buffers,
 * one sample's slice of a workspace buffer or the data (inside the sample
 * loop), or a whole unbatched buffer. */
static void emit_decl(Lx *lx, FILE *f, int indent, int id)
{
    const IrProgram *p = lx->p;
    const Value *v = &p->v[id];
    const char *nm = name_of(lx, id);
    char decl[256], cast[96], init[256], sh[64];
    int cnst = v->op == OP_PARAM || v->op == OP_INPUT || v->op == OP_LITERAL;
    if (v->op == OP_PARAM) {
        snprintf(init, sizeof init, "params + %ld", lx->c->param_off[v->index]);
        lx->uses |= ARG_PARAMS;
    } else if (is_grad(lx, id)) {
        snprintf(init, sizeof init, "grads + %ld", lx->c->param_off[p->v[v->arg[0]].index]);
        lx->uses |= ARG_GRADS;
    } else if (v->op == OP_LITERAL) {
        snprintf(init, sizeof init, "literal_%d", v->index);
    } else if (lx->c->lay->loop[id] >= 0) {
        /* a rolled loop's value: its slot, moved at each step (step_pointer) */
        const CgLayout *l = lx->c->lay;
        snprintf(init, sizeof init, "ws->%s + ((size_t)s * %d + %d) * %d", name_of(lx, l->owner[id]),
                 l->slots[l->owner[id]], cg_slot_start(p, l, id, lx->backward), numel(v));
    } else if (v->op == OP_INPUT || lx->c->needs_buf[id]) {
        if (v->batched && numel(v) == 1)
            snprintf(init, sizeof init, "ws->%s + s", nm);
        else if (v->batched)
            snprintf(init, sizeof init, "ws->%s + (size_t)s * %d", nm, numel(v));
        else
            snprintf(init, sizeof init, "ws->%s", nm);
    } else {
        return;
    }
    declare(&v->shape, cnst, nm, decl, sizeof decl, cast, sizeof cast);
    char line[600];
    int len = snprintf(line, sizeof line, "%s = %s%s%s%s;", decl, cast, cast[0] ? "(" : "", init,
                       cast[0] ? ")" : "");
    if (strncmp(init, "ws->", 4) == 0)
        lx->uses |= ARG_WS;
    fprintf(f, "%*s%s%*s/* %s */\n", 4 * indent, "", line, len < 56 ? 56 - len : 1, "",
            shape_str(&v->shape, sh, sizeof sh));
}

/* ---- rolled loops ---- */

/* A rolled loop (ir.h, IrLoop) inside the loop over the samples: a for
 * over the steps around the step's code, each value read and written
 * through a pointer to its slot of sample s's steps, moved at the top of
 * every step.  The step is written into memory first, so that the moves
 * name the pointers it uses. */
typedef struct Steps {
    FILE *outer;
    char *text;
    size_t len;
} Steps;

static void steps_open(Lx *lx, int l, Steps *st)
{
    const IrProgram *p = lx->p;
    const IrLoop *L = &p->loops[l];
    if (lx->backward) {
        int *ids = xcalloc((size_t)p->nv, sizeof *ids);
        int n = cg_loop_clears(p, lx->c->lay, l, lx->written, ids);
        for (int k = 0; k < n; k++) {
            if (!p->v[ids[k]].batched)
                continue;   /* zeroed before the samples (pre_zero) */
            lx->used[ids[k]] = 1;
            out(lx, 0, "memset(%s, 0, %d * sizeof(real));", name_of(lx, ids[k]),
                numel(&p->v[ids[k]]));
        }
        free(ids);
    }
    fputc('\n', lx->f);
    if (lx->backward)
        out(lx, 0, "/* adjoint of %s:%d  %s: the steps in reverse */", base_name(p->file),
            p->stmts[L->stmt].line, p->stmts[L->stmt].text);
    else
        out(lx, 0, "/* %s:%d  %s: the %d steps as a loop, step t's values in slot t */",
            base_name(p->file), p->stmts[L->stmt].line, p->stmts[L->stmt].text, L->count);
    st->outer = lx->f;
    lx->f = open_memstream(&st->text, &st->len);
    if (!lx->f)
        diag_internal("open_memstream failed");
    lx->ind++;
    lx->last_stmt = -1;
}

static void steps_close(Lx *lx, int l, Steps *st)
{
    const IrProgram *p = lx->p;
    const CgLayout *lay = lx->c->lay;
    const IrLoop *L = &p->loops[l];
    fclose(lx->f);
    lx->f = st->outer;
    lx->ind--;
    if (lx->backward)
        out(lx, 0, "for (int t = %d; t >= 0; t--) {", L->count - 1);
    else
        out(lx, 0, "for (int t = 0; t < %d; t++) {", L->count);
    for (int i = 0; i < p->nv; i++) {
        if (!lx->used[i] || lay->loop[i] != l)
            continue;
        char decl[256], cast[96], at[32] = "t";
        declare(&p->v[i].shape, 0, name_of(lx, i), decl, sizeof decl, cast, sizeof cast);
        if (lay->shift[i])
            snprintf(at, sizeof at, "t + %d", lay->shift[i]);
        out(lx, 1, "%s = %s%sws->%s + ((size_t)s * %d + %s) * %d%s;", name_of(lx, i), cast,
            cast[0] ? "(" : "", name_of(lx, lay->owner[i]), lay->slots[lay->owner[i]], at,
            numel(&p->v[i]), cast[0] ? ")" : "");
    }
    fwrite(st->text, 1, st->len, lx->f);
    free(st->text);
    out(lx, 0, "}");
    lx->last_stmt = -1;
}

/* emit_value for value i, opening or closing a rolled loop around it. */
static void emit_stepped(Lx *lx, int i, int emit, Steps *st, int *open)
{
    int l = cg_loop_begins(lx->p, i, lx->backward);
    if (l >= 0) {
        if (*open)
            diag_internal("emit_loops: nested rolled loops");
        steps_open(lx, l, st);
        *open = 1;
    }
    if (emit)
        emit_value(lx, i);
    l = cg_loop_ends(lx->p, i, lx->backward);
    if (l >= 0) {
        steps_close(lx, l, st);
        *open = 0;
    }
}

/* A piece of a function's body, written to memory while the values it
 * uses are recorded, so the declarations can go first. */
typedef struct Part {
    char *text;
    size_t len;
    FILE *f;
    int ind, last_stmt;
} Part;

static void part_open(Part *pt, int ind)
{
    pt->text = NULL;
    pt->len = 0;
    pt->f = open_memstream(&pt->text, &pt->len);
    if (!pt->f)
        diag_internal("open_memstream failed");
    pt->ind = ind;
    pt->last_stmt = -1;
}

/* Continue writing into pt (saving where the previous part was). */
static void part_use(Lx *lx, Part *pt, Part **cur)
{
    if (*cur == pt)
        return;
    if (*cur)
        (*cur)->last_stmt = lx->last_stmt;
    lx->f = pt->f;
    lx->ind = pt->ind;
    lx->last_stmt = pt->last_stmt;
    *cur = pt;
}

static void part_close(Part *pt)
{
    fclose(pt->f);
}

static void begin_function(Lx *lx)
{
    memset(lx->used, 0, (size_t)lx->p->nv);
    memset(lx->written, 0, (size_t)lx->p->nv);
    memset(lx->pre_zero, 0, (size_t)lx->p->nv);
    lx->uses = 0;
}

/* The declarations of the used values that are (batched = 1) or are not
 * (batched = 0) per sample, at indentation indent. */
static void decls(Lx *lx, FILE *f, int indent, int batched)
{
    for (int i = 0; i < lx->p->nv; i++)
        if (lx->used[i] && lx->p->v[i].batched == batched)
            emit_decl(lx, f, indent, i);
}

/* (void) for the arguments a body did not use. */
static void unused_args(Lx *lx, FILE *f, int args)
{
    static const char *const names[] = {"params", "grads", "seed", "n", "ws"};
    for (int k = 0; k < 5; k++)
        if ((args & (1 << k)) && !(lx->uses & (1 << k)))
            fprintf(f, "    (void)%s;\n", names[k]);
}

/* A function's body after its declarations: loops over the samples and,
 * with batch norm, calls over all of them between the loops, in order.
 * Each loop declares the per-sample pointers it uses (used). */
typedef struct Segs {
    Part part[2 * 64 + 1];
    char *used[2 * 64 + 1];   /* a loop's batched values, else NULL */
    int n;
    int open;                 /* the loop being written, or -1 */
    char *fn_used;            /* the function's own (lx->used outside the loops) */
} Segs;

static void segs_open(Segs *sg, Lx *lx)
{
    memset(sg, 0, sizeof *sg);
    sg->open = -1;
    sg->fn_used = lx->used;
}

/* Continue in the current loop over the samples (loop = 1, opening one
 * when a call came last) or after it (a call over the batch: loop = 0). */
static void segs_use(Segs *sg, Lx *lx, int loop, Part **cur)
{
    int k = sg->n - 1;
    if (k < 0 || (sg->used[k] != NULL) != loop) {
        if (sg->n == (int)(sizeof sg->part / sizeof sg->part[0]))
            diag_internal("emit_loops: more than 64 batch norms in a function");
        k = sg->n++;
        part_open(&sg->part[k], loop ? 2 : 1);
        sg->used[k] = loop ? xcalloc((size_t)lx->p->nv, 1) : NULL;
    }
    part_use(lx, &sg->part[k], cur);
    lx->used = loop ? sg->used[k] : sg->fn_used;
}

static void sample_loop(Lx *lx, FILE *f, Part *body);

/* The segments into f; lx->used becomes the function's again, with every
 * loop's values (for the declarations outside the loops). */
static void segs_close(Segs *sg, Lx *lx, FILE *f)
{
    for (int k = 0; k < sg->n; k++)
        part_close(&sg->part[k]);
    for (int k = 0; k < sg->n; k++) {
        if (sg->used[k]) {
            lx->used = sg->used[k];
            sample_loop(lx, f, &sg->part[k]);
        } else {
            fwrite(sg->part[k].text, 1, sg->part[k].len, f);
        }
    }
    lx->used = sg->fn_used;
    for (int k = 0; k < sg->n; k++) {
        for (int i = 0; sg->used[k] && i < lx->p->nv; i++)
            lx->used[i] |= sg->used[k][i];
        free(sg->used[k]);
        free(sg->part[k].text);
    }
}

/* The loop over the samples around a body (nothing for an empty one). */
static void sample_loop(Lx *lx, FILE *f, Part *body)
{
    if (!body->len)
        return;
    lx->uses |= ARG_N;
    char *d = NULL;
    size_t dl = 0;
    FILE *df = open_memstream(&d, &dl);
    if (!df)
        diag_internal("open_memstream failed");
    decls(lx, df, 2, 1);
    fclose(df);
    fprintf(f, "\n    for (int s = 0; s < n; s++) {   /* one sample at a time */\n");
    fwrite(d, 1, dl, f);
    fwrite(body->text, 1, body->len, f);
    fprintf(f, "    }\n");
    free(d);
}

static void forward_fn(Lx *lx, FILE *f)
{
    const IrProgram *p = lx->p;
    Part pre, *cur = NULL;
    Segs sg;
    begin_function(lx);
    segs_open(&sg, lx);
    lx->backward = 0;
    part_open(&pre, 1);
    Steps st;
    int open = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (lx->c->fwd_mark[i] || open || cg_loop_begins(p, i, 0) >= 0) {
            if (open) {
                /* the rest of a rolled loop's step: its segment */
            } else if (ir_ops[p->v[i].op].kind == K_BATCH) {
                segs_use(&sg, lx, 0, &cur);
            } else if (p->v[i].batched || cg_loop_begins(p, i, 0) >= 0) {
                segs_use(&sg, lx, 1, &cur);
            } else {
                part_use(lx, &pre, &cur);
                lx->used = sg.fn_used;
            }
            emit_stepped(lx, i, lx->c->fwd_mark[i], &st, &open);
        }
    segs_use(&sg, lx, 1, &cur);
    fputc('\n', lx->f);
    out(lx, 0, "losses[s] = %s[0];", name_of(lx, p->loss));
    lx->used[p->loss] = 1;
    part_close(&pre);

    fprintf(f, "/* The model on n samples, one at a time: every value, then the loss. */\n");
    fprintf(f, "static void forward(void *work, const real *params, int n,\n"
               "                    const real *const *data, real *losses)\n{\n");
    fprintf(f, "    Work *ws = work;\n");
    char *body = NULL;
    size_t bl = 0;
    FILE *bf = open_memstream(&body, &bl);
    if (!bf)
        diag_internal("open_memstream failed");
    segs_close(&sg, lx, bf);
    fclose(bf);
    decls(lx, f, 1, 0);
    unused_args(lx, f, ARG_PARAMS);
    /* the data pointers are kept for backward() */
    for (int i = 0; i < p->nslots; i++)
        fprintf(f, "    ws->%s = data[%d];\n", name_of(lx, p->slots[i].value), i);
    fwrite(pre.text, 1, pre.len, f);
    fwrite(body, 1, bl, f);
    const Value *o = p->output >= 0 ? &p->v[p->output] : NULL;
    if (o && o->op == OP_PARAM)   /* logits that are a parameter: no buffer of their own */
        fprintf(f, "    ws->out = params + %ld;\n", lx->c->param_off[o->index]);
    else if (o && o->op == OP_LITERAL)
        fprintf(f, "    ws->out = literal_%d;\n", o->index);
    else if (o)
        fprintf(f, "    ws->out = ws->%s;\n", name_of(lx, p->output));
    fprintf(f, "}\n\n");
    free(body);
    free(pre.text);
}

static void backward_fn(Lx *lx, FILE *f)
{
    const IrProgram *p = lx->p;
    IrRange r = p->bwd_loss;
    Part pre, post, *cur = NULL;
    Segs sg;
    begin_function(lx);
    segs_open(&sg, lx);
    lx->backward = 1;
    /* unbatched adjoints that per-sample steps add into start at zero */
    for (int i = r.begin; i < r.end; i++) {
        const Value *v = &p->v[i];
        if (v->acc >= 0 && v->batched && !p->v[v->acc].batched && !is_grad(lx, v->acc))
            lx->pre_zero[v->acc] = 1;
    }
    part_open(&pre, 1);
    part_open(&post, 1);
    part_use(lx, &pre, &cur);
    for (int i = 0; i < p->nv; i++)
        if (lx->pre_zero[i]) {
            lx->used[i] = 1;
            out(lx, 0, "memset(%s, 0, %d * sizeof(real));", name_of(lx, i), numel(&p->v[i]));
        }
    /* the adjoints of rolled loops' steps: sample s's slots from 0 */
    int *ids = xcalloc((size_t)p->nv, sizeof *ids);
    int nclear = p->nloops ? cg_pass_clears(p, lx->c->lay, lx->written, ids) : 0;
    if (nclear)
        segs_use(&sg, lx, 1, &cur);
    for (int k = 0; k < nclear; k++) {
        int id = ids[k], slots = lx->c->lay->slots[id];
        lx->uses |= ARG_WS;
        out(lx, 0, "memset(ws->%s + (size_t)s * %d, 0, %d * sizeof(real));", name_of(lx, id),
            slots * numel(&p->v[id]), slots * numel(&p->v[id]));
    }
    free(ids);
    Steps st;
    int open = 0;
    for (int i = r.begin; i < r.end; i++) {
        IrKind k = ir_ops[p->v[i].op].kind;
        int edge = cg_loop_begins(p, i, 1) >= 0 || cg_loop_ends(p, i, 1) >= 0;
        if ((k == K_LEAF || k == K_ADJ) && !edge)
            continue;
        if (open) {
            /* the rest of a rolled loop's step: its segment */
        } else if (k == K_BATCH) {
            segs_use(&sg, lx, 0, &cur);
        } else if (p->v[i].batched || edge) {
            segs_use(&sg, lx, 1, &cur);
        } else {
            part_use(lx, &post, &cur);
            lx->used = sg.fn_used;
        }
        emit_stepped(lx, i, k != K_LEAF && k != K_ADJ, &st, &open);
    }
    part_close(&pre);
    part_close(&post);

    fprintf(f, "/* The adjoint program, one sample at a time: adds seed * d(loss)/dparams\n"
               " * of every sample to grads, where seed is 1/B for a mean over the batch\n"
               " * and 1 for a sum. */\n");
    fprintf(f, "static void backward(void *work, const real *params, int n, real seed,\n"
               "                     real *grads)\n{\n");
    fprintf(f, "    Work *ws = work;\n");
    char *body = NULL;
    size_t bl = 0;
    FILE *bf = open_memstream(&body, &bl);
    if (!bf)
        diag_internal("open_memstream failed");
    segs_close(&sg, lx, bf);
    fclose(bf);
    char *d = NULL;
    size_t dl = 0;
    FILE *df = open_memstream(&d, &dl);
    if (!df)
        diag_internal("open_memstream failed");
    decls(lx, df, 1, 0);
    fclose(df);
    fwrite(d, 1, dl, f);
    unused_args(lx, f, ARG_PARAMS | ARG_GRADS | ARG_SEED | ARG_N | ARG_WS);
    fwrite(pre.text, 1, pre.len, f);
    fwrite(body, 1, bl, f);
    fwrite(post.text, 1, post.len, f);
    fprintf(f, "}\n\n");
    free(d);
    free(body);
    free(pre.text);
    free(post.text);
}

static void penalty_fn(Lx *lx, FILE *f)
{
    const IrProgram *p = lx->p;
    fprintf(f, "/* The penalty (parameters only, once per batch); with grads, its gradient too. */\n");
    if (p->penalty < 0) {
        fprintf(f, "static real penalty(void *work, const real *params, real *grads)\n{\n");
        fprintf(f, "    (void)work;\n    (void)params;\n    (void)grads;\n    return 0;\n}\n\n");
        return;
    }
    Part body, *cur = NULL;
    begin_function(lx);
    part_open(&body, 1);
    part_use(lx, &body, &cur);
    lx->backward = 0;
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (lx->c->pen_mark[i])
            emit_value(lx, i);
    lx->used[p->penalty] = 1;
    if (p->bwd_penalty.end > p->bwd_penalty.begin) {
        fputc('\n', lx->f);
        out(lx, 0, "if (!grads)");
        out(lx, 1, "return %s[0];", name_of(lx, p->penalty));
        lx->backward = 1;
        lx->last_stmt = -1;
        for (int i = p->bwd_penalty.begin; i < p->bwd_penalty.end; i++)
            emit_value(lx, i);
    }
    out(lx, 0, "return %s[0];", name_of(lx, p->penalty));
    part_close(&body);
    fprintf(f, "static real penalty(void *work, const real *params, real *grads)\n{\n");
    fprintf(f, "    Work *ws = work;\n");
    decls(lx, f, 1, 0);
    unused_args(lx, f, ARG_PARAMS | ARG_GRADS | ARG_WS);
    fwrite(body.text, 1, body.len, f);
    fprintf(f, "}\n\n");
    free(body.text);
}

/* The workspace: the data pointers, then a buffer for every forward value
 * the backward pass reads and every adjoint, each sample's slice of a
 * per-sample tensor contiguous ([cap] x [10] is cap slices of 10). */
static void workspace(Lx *lx, FILE *f)
{
    const IrProgram *p = lx->p;
    const char *const *name = (const char *const *)lx->c->cname;
    const char *buf = lx->c->needs_buf;
    long fixed = 0, per_sample = 0;
    fprintf(f, "\n/* Every intermediate tensor, for up to `cap` samples (one allocation). */\n");
    fprintf(f, "typedef struct Work {\n    real *mem;\n    const real *out;   /* the prediction */\n");
    for (int i = 0; i < p->nslots; i++) {
        const char *nm = name[p->slots[i].value];
        fprintf(f, "    const real *%s;%*s/* data: %s */\n", nm, (int)(20 - strlen(nm)), "",
                p->slots[i].name);
    }
    for (int i = 0; i < p->nv; i++) {
        if (!buf[i])
            continue;
        const Value *v = &p->v[i];
        char sh[64];
        shape_str(&v->shape, sh, sizeof sh);
        int slots = lx->c->lay->slots[i];
        char steps[32] = "";
        if (slots > 1)
            snprintf(steps, sizeof steps, "[%d] x ", slots);
        fprintf(f, "    real *%s;%*s/* %s%s%s%s */\n", name[i], (int)(26 - strlen(name[i])), "",
                v->batched ? "[cap] x " : "", steps, sh, i >= p->fwd.end ? "  adjoint" : "");
        if (v->batched)
            per_sample += numel(v) * slots;
        else
            fixed += numel(v) * slots;
    }
    fprintf(f, "} Work;\n\n");
    fprintf(f, "static void *create(int cap)\n{\n");
    fprintf(f, "    Work *ws = calloc(1, sizeof *ws);\n");
    fprintf(f, "    real *m = ws ? calloc((size_t)cap * %ld + %ld, sizeof *m) : NULL;\n",
            per_sample, fixed);
    fprintf(f, "    if (!m) {\n        free(ws);\n        return NULL;\n    }\n");
    fprintf(f, "    ws->mem = m;\n");
    for (int i = 0; i < p->nv; i++) {
        if (!buf[i])
            continue;
        const Value *v = &p->v[i];
        int size = numel(v) * lx->c->lay->slots[i];
        if (v->batched)
            fprintf(f, "    ws->%s = m;%*sm += (size_t)cap * %d;\n", name[i],
                    (int)(24 - strlen(name[i])), "", size);
        else
            fprintf(f, "    ws->%s = m;%*sm += %d;\n", name[i], (int)(24 - strlen(name[i])), "",
                    size);
    }
    fprintf(f, "    return ws;\n}\n\n");
    fprintf(f, "static void destroy(void *work)\n{\n    Work *ws = work;\n");
    fprintf(f, "    if (ws)\n        free(ws->mem);\n    free(ws);\n}\n\n");
}

void cg_loops_functions(FILE *f, const CgLoops *c)
{
    Lx lx;
    memset(&lx, 0, sizeof lx);
    lx.c = c;
    lx.p = c->p;
    lx.used = xcalloc((size_t)c->p->nv, 1);
    lx.written = xcalloc((size_t)c->p->nv, 1);
    lx.pre_zero = xcalloc((size_t)c->p->nv, 1);
    workspace(&lx, f);
    /* gcc 12 at -O3 with AVX2 or AVX-512 turns the select of a loop nest
     * three deep (relu over a [C, H, W] map: c[i][j][k] = a > 0 ? b : 0)
     * into masked vector code that computes garbage; clang and -O2 are
     * right.  These loops are for reading, not for speed: that pass is off
     * for the functions below (tests/e2e/loops.sh has the case). */
    fprintf(f, "#if defined(__GNUC__) && !defined(__clang__)\n"
               "#pragma GCC optimize(\"no-tree-loop-if-convert\")   /* around a gcc 12 bug */\n"
               "#endif\n\n");
    forward_fn(&lx, f);
    backward_fn(&lx, f);
    penalty_fn(&lx, f);
    fprintf(f, "static const real *output(void *work)\n{\n    return ((Work *)work)->out;\n}\n\n");
    free(lx.used);
    free(lx.written);
    free(lx.pre_zero);
}
