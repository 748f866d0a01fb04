/*
 * explain.c - `nnc explain`: the forward pass and the chain rule, with numbers.
 *
 * Nothing here knows a derivative.  The program is the IR after reverse mode
 * (src/ad): the forward values, then the adjoint program whose every step is
 * an ordinary op of ops.def.  An interpreter runs all of it in float64 on
 * one sample (the `example { }` block or --NAME values): elementwise ops by
 * evaluating the op table's own element expression (expr.h, the tree the
 * backends print and build), the other kinds by their definition in ir.h.  The printer then walks the same values:
 *
 *   forward:   each value as `name = notation = numbers`;
 *   backward:  only the adjoint steps the asked-for gradient depends on (a
 *              backward slice), each as the symbolic rule (the op table's
 *              notation with dL/dv for adjoints), the rule with numbers, and
 *              its value; the last step also element by element for an entry.
 *
 * With one sample the seed of reverse mode is dL/dloss = 1 whether the batch
 * objective is a mean or a sum, so the numbers are those of a hand
 * derivation.  Text or LaTeX (amsmath's align*), from the same walk.
 */
#define NNRT_F64
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "plan.h"
#include "nnrt_internal.h"
#include "teach.h"

typedef struct Ex {
    const IrProgram *p;
    IrProgram q;              /* p with every name replaced by "#id", for templates */
    char (*hole)[16];
    const ExplainOptions *o;
    FILE *out;
    double **val;             /* each value's numbers; an accumulating step's own result */
    char *need;               /* adjoint steps on the path to the gradient asked for */
    int *ncontrib;            /* per adjoint buffer: needed steps adding into it */
    int param, entry;         /* the parameter asked about; its flat entry or -1 */
    int latex;
    CgLayout lay;             /* rolled loops' slots (plan.h) */
    double **store;           /* the buffer of a value with a slot per step (owners) */
    int t;                    /* the rolled loop's step being run (X[t]) */
    const Shape *it;          /* printing an entry of a map of this shape: an operand's
                               * entry is the one broadcast to it (else its own) */
} Ex;

/* ---- the interpreter ---- */

static int numel(const IrProgram *p, int id)
{
    return shape_numel(&p->v[id].shape);
}

/* Element (row, col) of op(X), X a matmul operand with transpose flag t,
 * under the vector conventions of ir.h: a vector is a row or a column, so
 * one of the two indices is 0 and its element is x[row + col]. */
static double mm_elem(const IrProgram *p, const double *x, int id, int t, int row, int col)
{
    const Shape *s = &p->v[id].shape;
    if (s->rank == 1)
        return x[row + col];
    int c = s->dim[1];
    return t ? x[col * c + row] : x[row * c + col];
}

static void mm_dims(const IrProgram *p, const Value *v, int *M, int *K, int *N)
{
    const Shape *a = &p->v[v->arg[0]].shape, *b = &p->v[v->arg[1]].shape;
    if (a->rank == 1) { *M = v->ta ? a->dim[0] : 1; *K = v->ta ? 1 : a->dim[0]; }
    else { *M = a->dim[v->ta ? 1 : 0]; *K = a->dim[v->ta ? 0 : 1]; }
    *N = b->rank == 1 ? (v->tb ? b->dim[0] : 1) : b->dim[v->tb ? 0 : 1];
}

/* Operand k's element j of the row (or its one number) into x[k]. */
static void row_operands(const Value *v, double **val, int row, int K, int j, double *x)
{
    const CgRow *rp = cg_row_plan(v->op);
    for (int k = 0; k < v->nargs; k++)
        x[k] = val[v->arg[k]][rp->scalar[k] ? row : row * K + j];
}

/* Softmax and friends: the steps of their plan (plan.h cg_row_plan),
 * evaluated in float64 row by row. */
static void run_row(const IrProgram *p, int id, double **val, double *r)
{
    const Value *v = &p->v[id];
    const CgRow *rp = cg_row_plan(v->op);
    int K, rows;
    cg_row_dims(p, id, &K, &rows);
    for (int row = 0; row < rows; row++) {
        double x[CG_ROW_NOPS] = {0};
        for (int k = 0; k < rp->nsteps; k++) {
            const CgRowStep *s = &rp->step[k];
            int l = s->local[0];
            switch (s->kind) {
            case CG_ROW_LOCALS:
                for (int e = 0; e < 2 && s->local[e] >= 0; e++)
                    x[s->local[e]] = s->first[e] ? val[v->arg[rp->x]][row * K] : 0;
                break;
            case CG_ROW_NUMBERS:
                if (s->cls >= 0) {
                    x[CG_ROW_CLS] = (int)val[v->arg[s->cls]][row];
                    x[CG_ROW_XCLS] = val[v->arg[rp->x]][row * K + (int)x[CG_ROW_CLS]];
                }
                break;
            case CG_ROW_REDUCE:
                for (int j = s->from; j < K; j++) {
                    row_operands(v, val, row, K, j, x);
                    x[CG_ROW_J] = j;
                    x[l] = (s->add ? x[l] : 0) + ir_expr_eval(s->e, x);
                }
                break;
            case CG_ROW_LET:
                x[l] = ir_expr_eval(s->e, x);
                break;
            case CG_ROW_STORE:
                for (int j = 0; j < K; j++) {
                    row_operands(v, val, row, K, j, x);
                    x[CG_ROW_J] = j;
                    r[row * K + j] = ir_expr_eval(s->e, x);
                }
                break;
            case CG_ROW_STORE_ONE:
                row_operands(v, val, row, K, 0, x);
                r[row] = ir_expr_eval(s->e, x);
                break;
            }
        }
    }
}

/* The input position (u, w) of output (i, j) under window term (ki, kj),
 * or 0 when it falls in the padding. */
static int window_at(const CgConv *c, int i, int j, int ki, int kj, int *u, int *w)
{
    *u = i * c->sh + ki - c->ph;
    *w = j * c->sw + kj - c->pw;
    return *u >= 0 && *u < c->H && *w >= 0 && *w < c->W;
}

/* A sliding window (plan.h cg_conv_plan) by its definition, one sample,
 * in float64: every output's window in turn, the adjoint steps adding
 * each term's share where it came from. */
static void run_conv(const IrProgram *p, int id, double **val, double *r)
{
    const Value *v = &p->v[id];
    CgConv c = cg_conv_plan(p, id);
    const double *x = c.x >= 0 && c.x != cg_dest(p, id) ? val[c.x] : NULL;
    const double *K = c.k >= 0 && c.k != cg_dest(p, id) ? val[c.k] : NULL;
    const double *y = c.y != cg_dest(p, id) ? val[c.y] : NULL;   /* an adjoint step's dy */
    int kk = c.KH * c.KW;
    for (int o = 0; o < c.O; o++)
        for (int i = 0; i < c.OH; i++)
            for (int j = 0; j < c.OW; j++) {
                int e = (o * c.OH + i) * c.OW + j, u, w;
                double s = c.call == CG_CONV && c.bias ? val[v->arg[2]][o] : 0;
                double best = 0;
                int arg = 0;
                for (int ch = 0; ch < (c.call >= CG_MAXPOOL ? 1 : c.C); ch++)
                    for (int ki = 0; ki < c.KH; ki++)
                        for (int kj = 0; kj < c.KW; kj++) {
                            if (!window_at(&c, i, j, ki, kj, &u, &w))
                                continue;
                            int xe = ((c.call >= CG_MAXPOOL ? o : ch) * c.H + u) * c.W + w;
                            int ke = (o * c.C + ch) * kk + ki * c.KW + kj;
                            switch (c.call) {
                            case CG_CONV: s += K[ke] * x[xe]; break;
                            case CG_CONV_BWD_X: r[xe] += K[ke] * y[e]; break;
                            case CG_CONV_BWD_K: r[ke] += y[e] * x[xe]; break;
                            case CG_AVGPOOL: s += x[xe] / kk; break;
                            case CG_AVGPOOL_BWD: r[xe] += y[e] / kk; break;
                            case CG_MAXPOOL: case CG_MAXPOOL_BWD:
                                if ((ki == 0 && kj == 0) || x[xe] > best) {
                                    best = x[xe];
                                    arg = xe;
                                }
                                break;
                            case CG_CONV_BWD_B: break;
                            }
                        }
                if (c.call == CG_CONV || c.call == CG_AVGPOOL)
                    r[e] = s;
                if (c.call == CG_MAXPOOL)
                    r[e] = best;
                if (c.call == CG_MAXPOOL_BWD)
                    r[arg] += y[e];
                if (c.call == CG_CONV_BWD_B)
                    r[o] += y[e];
            }
}

/* Compute value id from its operands (already computed). */
static void run_value(Ex *ex, int id, const double *params, const double *const *slots)
{
    const IrProgram *p = ex->p;
    const Value *v = &p->v[id];
    int n = numel(p, id);
    /* a value of a rolled loop's step is its slot (run_steps) */
    double *r = ex->lay.loop[id] >= 0 ? ex->val[id] :
                (ex->val[id] = calloc((size_t)(n ? n : 1), sizeof *r));
    if (!r)
        diag_internal("out of memory");
    switch (ir_ops[v->op].kind) {
    case K_LEAF:
        if (v->op == OP_INPUT)
            memcpy(r, slots[v->index], (size_t)n * sizeof *r);
        if (v->op == OP_PARAM) {
            int off = 0;
            for (int k = 0; k < v->index; k++)
                off += shape_numel(&p->params[k].shape);
            memcpy(r, params + off, (size_t)n * sizeof *r);
        }
        if (v->op == OP_CONST || v->op == OP_SEED)
            r[0] = v->op == OP_CONST ? v->num : 1;
        if (v->op == OP_LITERAL)
            memcpy(r, p->literals[v->index], (size_t)n * sizeof *r);
        break;
    case K_ADJ:
        break;
    case K_MAP:
        for (int i = 0; i < n; i++) {
            double x[3];
            for (int a = 0; a < v->nargs; a++)
                x[a] = ex->val[v->arg[a]][shape_broadcast_elem(&p->v[v->arg[a]].shape,
                                                               &v->shape, i)];
            r[i] = ir_expr_eval(ir_op_expr(v->op), x);
        }
        break;
    case K_MATMUL: {
        int M, K, N;
        mm_dims(p, v, &M, &K, &N);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int k = 0; k < K; k++)
                    s += mm_elem(p, ex->val[v->arg[0]], v->arg[0], v->ta, i, k) *
                         mm_elem(p, ex->val[v->arg[1]], v->arg[1], v->tb, k, j);
                r[i * N + j] = s;
            }
        break;
    }
    case K_TRANS: {
        const Shape *s = &p->v[v->arg[0]].shape;
        int rows = s->rank == 2 ? s->dim[0] : 1, cols = s->rank == 2 ? s->dim[1] : n;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                r[j * rows + i] = ex->val[v->arg[0]][i * cols + j];
        break;
    }
    case K_REDUCE: {
        int m = numel(p, v->arg[0]);
        const double *x = ex->val[v->arg[0]];
        for (int i = 0; i < m; i++)
            r[0] += ir_expr_eval(cg_elem_expr(v->op), &x[i]);
        if (cg_reduce_mean(v->op))
            r[0] /= m;
        break;
    }
    case K_ROW:
        run_row(p, id, ex->val, r);
        break;
    case K_VIEW: {
        /* the smaller tensor's elements, each from or to its place in the
         * larger (a placement's other elements stay 0) */
        CgView w = cg_view_plan(p, id);
        const double *x = ex->val[v->arg[0]];
        int m = numel(p, ir_view_small(p, id));
        for (int e = 0; e < m; e++) {
            int big = w.off + ex->t * w.step, rest = e;
            for (int l = w.nloops - 1; l >= 0; l--) {
                big += rest % w.count[l] * w.big_stride[l];
                rest /= w.count[l];
            }
            if (w.gather)
                r[e] = x[big];
            else
                r[big] = x[e];
        }
        break;
    }
    case K_BATCH: {
        /* the runtime's kernel (in float64) over a batch of one, the
         * example; the running statistics moved in copies */
        CgBatch bp = cg_batch_plan(p, id);
        const double *a[4] = {NULL, NULL, NULL, NULL};
        for (int k = 0; k < 4; k++)
            if (bp.arg[k] >= 0)
                a[k] = ex->val[bp.arg[k]];
        double *run[2] = {NULL, NULL};
        if (bp.rmean >= 0) {
            run[0] = malloc((size_t)bp.C * sizeof *run[0]);
            run[1] = malloc((size_t)bp.C * sizeof *run[1]);
            memcpy(run[0], ex->val[v->arg[1]], (size_t)bp.C * sizeof *run[0]);
            memcpy(run[1], ex->val[v->arg[2]], (size_t)bp.C * sizeof *run[1]);
        }
        nnrt_batchnorm(bp.kernel, ex->o->train, 0, 1, 1, bp.C * bp.S, bp.C, bp.S, a[0], a[1],
                       a[2], a[3], r, run[0], run[1]);
        free(run[0]);
        free(run[1]);
        break;
    }
    case K_CONV:
        run_conv(p, id, ex->val, r);
        break;
    case K_GATHER: {
        /* row index[t] of the table for each t (a scatter adds into it) */
        CgGather g = cg_gather_plan(p, id);
        const double *x = ex->val[v->arg[0]], *ix = ex->val[v->arg[1]];
        for (int t = 0; t < g.T; t++)
            for (int j = 0; j < g.D; j++) {
                int row = (int)ix[t] * g.D + j;
                if (g.scatter)
                    r[row] += x[t * g.D + j];
                else
                    r[t * g.D + j] = x[row];
            }
        break;
    }
    }
    if (v->acc >= 0) {
        /* a map's target may be stretched (numpy): the sum over those axes */
        const Shape *t = &p->v[v->acc].shape;
        int m = numel(p, v->acc), map = ir_ops[v->op].kind == K_MAP;
        for (int i = 0; i < n; i++)
            ex->val[v->acc][map ? shape_broadcast_elem(t, &v->shape, i) : i % m] += r[i];
    }
}

/* Point the values of rolled loop l (every loop when l < 0) at step t's
 * slots (t < 0: the first step, or the last when backward). */
static void point_steps(Ex *ex, int l, int t, int backward)
{
    const IrProgram *p = ex->p;
    for (int i = 0; i < p->nv; i++) {
        int k = ex->lay.loop[i];
        if (k < 0 || (l >= 0 && k != l))
            continue;
        int o = ex->lay.owner[i], n = numel(p, i);
        if (!ex->store[o]) {
            ex->store[o] = calloc((size_t)(n ? n : 1) * ex->lay.slots[o], sizeof *ex->store[o]);
            if (!ex->store[o])
                diag_internal("out of memory");
        }
        int slot = t < 0 ? cg_slot_start(p, &ex->lay, i, backward) : cg_slot(&ex->lay, i, t);
        ex->val[i] = ex->store[o] + (size_t)slot * n;
    }
}

/* Run the values [begin, end), a rolled loop's step once per step (its
 * adjoint from the last step down), as the backends do. */
static void run_steps(Ex *ex, int begin, int end, int backward, const double *params,
                      const double *const *slots)
{
    const IrProgram *p = ex->p;
    point_steps(ex, -1, -1, backward);
    for (int i = begin; i < end; i++) {
        int l = cg_loop_begins(p, i, backward);
        if (l < 0) {
            run_value(ex, i, params, slots);
            continue;
        }
        const IrLoop *L = &p->loops[l];
        int last = backward ? L->bwd_end : L->end;
        for (int s = 0; s < L->count; s++) {
            ex->t = backward ? L->count - 1 - s : s;
            point_steps(ex, l, ex->t, backward);
            for (int j = i; j < last; j++)
                if (s == 0 || p->v[j].op != OP_ADJ)   /* a buffer, made once */
                    run_value(ex, j, params, slots);
        }
        i = last - 1;
    }
}

/* ---- numbers and names, as text or LaTeX ---- */

typedef struct Buf {
    char *s;
    size_t len, cap;
} Buf;

static void put(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(Buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 64) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            diag_internal("out of memory");
    }
}

/* significant digits of every number printed: 6 for reading, up to 17
 * (--digits) for a script comparing the interpreter with a trainer; set
 * once per explain_run */
static int num_digits = 6;

/* x to `digits` significant digits (num_digits in the equations; more
 * where a small change must show, as in an update's result). */
static void put_num_digits(Buf *b, double x, int latex, int digits)
{
    char t[40];
    snprintf(t, sizeof t, "%.*g", digits, x == 0 ? 0 : x);
    char *e = strchr(t, 'e');
    if (latex && e) {
        *e = '\0';
        put(b, "%s \\times 10^{%d}", t, atoi(e + 1));
    } else
        put(b, "%s", t);
}

static void put_num(Buf *b, double x, int latex)
{
    put_num_digits(b, x, latex, num_digits);
}

#define MAXSHOW 12    /* tensors with more entries are abbreviated */

/* A tensor's numbers: 0.5, [0.5, 0.2], [[0.1, 0.2], [0.3, 0.4]] (text);
 * amsmath bmatrix, vectors as columns (LaTeX); each to `digits`. */
/* The entries of x from axis `axis` of shape s on, nested as numpy prints
 * them ([[[0, 0.1], [0.2, 0.3]], [[0.4, 0.5], [0.6, 0.7]]] for [2, 2, 2]);
 * an axis of more than MAXSHOW entries shows its first two, "...", and its
 * last (the last axis: its first four, "...", its last two). */
static void put_nested(Buf *b, const Shape *s, const double *x, int axis, int digits)
{
    int n = s->dim[axis], last = axis == s->rank - 1;
    int head = last ? 4 : 2, tail = last ? 2 : 1;
    size_t stride = 1;
    for (int d = axis + 1; d < s->rank; d++)
        stride *= (size_t)s->dim[d];
    put(b, "[");
    for (int i = 0; i < n; i++) {
        if (n > MAXSHOW && i == head) {
            put(b, "..., ");
            i = n - tail;
        }
        if (last)
            put_num_digits(b, x[i], 0, digits);
        else
            put_nested(b, s, x + (size_t)i * stride, axis + 1, digits);
        put(b, "%s", i < n - 1 ? ", " : "");
    }
    put(b, "]");
}

static void put_tensor_digits(Buf *b, const Shape *s, const double *x, int latex, int digits)
{
    int n = shape_numel(s);
    int cols = s->rank ? s->dim[s->rank - 1] : 1, rows = n / (cols ? cols : 1);
    if (s->rank == 0 || n == 1) {
        put_num_digits(b, x[0], latex, digits);
        return;
    }
    if (latex) {
        put(b, "\\begin{bmatrix}");
        if (s->rank == 1) {
            for (int i = 0; i < n; i++) {
                if (n > MAXSHOW && i == 3) {
                    put(b, "\\vdots \\\\ ");
                    i = n - 2;
                }
                put_num_digits(b, x[i], 1, digits);
                put(b, "%s", i < n - 1 ? " \\\\ " : "");
            }
        } else {
            for (int i = 0; i < rows; i++) {
                if (rows > MAXSHOW && i == 3) {
                    put(b, "\\vdots \\\\ ");
                    i = rows - 1;
                }
                for (int j = 0; j < cols; j++) {
                    if (cols > MAXSHOW && j == 3) {
                        put(b, "\\cdots & ");
                        j = cols - 1;
                    }
                    put_num_digits(b, x[i * cols + j], 1, digits);
                    put(b, "%s", j < cols - 1 ? " & " : "");
                }
                put(b, "%s", i < rows - 1 ? " \\\\ " : "");
            }
        }
        put(b, "\\end{bmatrix}");
        return;
    }
    if (s->rank >= 3) {
        put_nested(b, s, x, 0, digits);
        return;
    }
    if (s->rank >= 2)
        put(b, "[");
    for (int i = 0; i < rows; i++) {
        if (rows > MAXSHOW && i == 2) {
            put(b, "..., ");
            i = rows - 1;
        }
        put(b, "[");
        for (int j = 0; j < cols; j++) {
            if (cols > MAXSHOW && j == 4) {
                put(b, "..., ");
                j = cols - 2;
            }
            put_num_digits(b, x[i * cols + j], 0, digits);
            put(b, "%s", j < cols - 1 ? ", " : "");
        }
        put(b, "]%s", i < rows - 1 ? ", " : "");
    }
    if (s->rank >= 2)
        put(b, "]");
}

static void put_tensor(Buf *b, const Shape *s, const double *x, int latex)
{
    put_tensor_digits(b, s, x, latex, num_digits);
}

/* Digits that show a step from w to w_new: 6 significant digits of the
 * change itself (0.1 - 0.1 * 0.00950088 = 0.0990499 hid it in the 4th
 * digit; 0.0990499121 shows it), at least num_digits; at most 17, a
 * double's. */
static int step_digits(const double *w, const double *w_new, int n)
{
    int digits = num_digits;
    for (int i = 0; i < n; i++) {
        double d = fabs(w_new[i] - w[i]), m = fabs(w_new[i]);
        if (d > 0 && m > d) {
            int k = 6 + (int)ceil(log10(m / d));
            digits = k > digits ? k : digits;
        }
    }
    return digits < 17 ? digits : 17;
}

/* "[0,1]" for flat entry i of a tensor of shape s ("" for a scalar). */
static void index_text(char *buf, size_t n, const Shape *s, int i)
{
    int idx[IR_MAXRANK];
    for (int d = s->rank - 1; d >= 0; d--) {
        idx[d] = i % s->dim[d];
        i /= s->dim[d];
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < s->rank && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d%s", d ? "," : "[", idx[d],
                                d == s->rank - 1 ? "]" : "");
}

/* The seed of the penalty's adjoint program: the constant 1 it starts with. */
static int is_penalty_seed(const IrProgram *p, int id)
{
    return p->penalty >= 0 && id == p->bwd_penalty.begin && p->v[id].op == OP_CONST;
}

/* The user's name of a value; for an adjoint buffer d_v, the v. */
static const char *base_name(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    if (v->op == OP_SEED)
        return p->v[p->loss].name;
    if (is_penalty_seed(p, id))
        return p->v[p->penalty].name;
    const char *n = ir_value_name(p, id);
    if (v->op == OP_ADJ && strncmp(n, "d_", 2) == 0)
        n += 2;
    return n;
}

/* A name in LaTeX: W1 -> W_{1}, b_in -> b_{in}, yhat -> \hat{y}, loss ->
 * \mathit{loss}.  A temporary, the k-th step of a line (h_2, loss_3), is
 * h^{\langle 2\rangle}: a subscript would read as a neuron's index. */
static void put_latex_name(Buf *b, const char *name, int temp)
{
    const char *us = temp ? strrchr(name, '_') : NULL;
    if (us && us > name && us[1] && strspn(us + 1, "0123456789") == strlen(us + 1)) {
        char *base = strndup(name, (size_t)(us - name));
        put_latex_name(b, base, 0);
        put(b, "^{\\langle %s\\rangle}", us + 1);
        free(base);
        return;
    }
    size_t n = strcspn(name, "_0123456789");
    const char *rest = name + n;
    if (n == 4 && strncmp(name, "yhat", 4) == 0)
        put(b, "\\hat{y}");
    else if (n == 1)
        put(b, "%c", name[0]);
    else
        put(b, "\\mathit{%.*s}", (int)n, name);
    if (*rest) {
        put(b, "_{");
        for (const char *c = *rest == '_' ? rest + 1 : rest; *c; c++)
            put(b, "%s", *c == '_' ? "," : (char[2]){*c, 0});
        put(b, "}");
    }
}

/* A temporary of a statement, or the adjoint of one. */
static int is_temporary(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    if (v->op == OP_ADJ)
        v = &p->v[v->arg[0]];
    return v->temp;
}

/* Value id by name ("dL/dh" for adjoints), optionally one entry of it. */
static void put_name(Ex *ex, Buf *b, int id, const char *index)
{
    const IrProgram *p = ex->p;
    const Value *v = &p->v[id];
    int adj = v->op == OP_ADJ || v->op == OP_SEED || is_penalty_seed(p, id);
    if (v->op == OP_CONST && !adj) {
        put_num(b, v->num, ex->latex);
        return;
    }
    if (!ex->latex) {
        put(b, "%s%s%s", adj ? "dL/d" : "", base_name(p, id), index ? index : "");
        return;
    }
    if (adj)
        put(b, "\\frac{\\partial L}{\\partial ");
    put_latex_name(b, base_name(p, id), is_temporary(p, id));
    if (index && *index)
        put(b, "%s", index);
    if (adj)
        put(b, "}");
}

/* How to render the operand holes of a template. */
typedef enum Fill { F_NAMES, F_NUMBERS, F_ENTRY_NAMES, F_ENTRY_NUMBERS } Fill;

/* Operand `id` of a step in the form `fill` asks for; for an entry of an
 * elementwise step, its element `elem` (broadcast: modulo its size). */
static void put_hole(Ex *ex, Buf *b, int id, Fill fill, int elem)
{
    const IrProgram *p = ex->p;
    const Value *v = &p->v[id];
    int m = numel(p, id);
    int at = ex->it ? shape_broadcast_elem(&v->shape, ex->it, elem) : elem % m;
    char idx[64] = "";
    if ((fill == F_ENTRY_NAMES || fill == F_ENTRY_NUMBERS) && m > 1)
        index_text(idx, sizeof idx, &v->shape, at);
    switch (fill) {
    case F_NAMES:
        put_name(ex, b, id, NULL);
        break;
    case F_ENTRY_NAMES:
        put_name(ex, b, id, idx);
        break;
    case F_NUMBERS:
    case F_ENTRY_NUMBERS: {
        double x = ex->val[id][fill == F_ENTRY_NUMBERS ? at : 0];
        int scalar = fill == F_ENTRY_NUMBERS || m == 1;
        if (scalar && x < 0 && !ex->latex)
            put(b, "(");
        if (scalar && x < 0 && ex->latex)
            put(b, "\\left(");
        if (scalar)
            put_num(b, x, ex->latex);
        else
            put_tensor(b, &v->shape, ex->val[id], ex->latex);
        if (scalar && x < 0)
            put(b, "%s", ex->latex ? "\\right)" : ")");
        break;
    }
    }
}

static const char *const latex_fns[][2] = {
    {"sigmoid", "\\sigma"}, {"tanh", "\\tanh"}, {"exp", "\\exp"}, {"log", "\\log"},
    {"sum", "\\textstyle\\sum"}, {"sqrt", "\\sqrt"},
};

static void put_template(Ex *ex, Buf *b, const char *t, Fill fill, int elem, int elementwise);

/* t[0, n) as a template of its own. */
static void put_part(Ex *ex, Buf *b, const char *t, size_t n, Fill fill, int elem, int elementwise)
{
    while (n > 0 && *t == ' ')
        t++, n--;
    while (n > 0 && t[n - 1] == ' ')
        n--;
    char *part = strndup(t, n);
    put_template(ex, b, part, fill, elem, elementwise);
    free(part);
}

/* LaTeX for a parenthesised comparison or select at t, C's notation in the
 * op table: (a > 0) is the indicator 1[a > 0], (c ? x : y) the cases x if
 * c, y otherwise.  Returns the end of the group, or NULL when it is
 * neither (an ordinary parenthesis). */
static const char *put_latex_group(Ex *ex, Buf *b, const char *t, Fill fill, int elem,
                                   int elementwise)
{
    const char *q = NULL, *c = NULL, *cmp = NULL, *end = t + 1;
    for (int depth = 0; *end && (depth > 0 || *end != ')'); end++) {
        depth += (*end == '(') - (*end == ')');
        if (depth == 0 && *end == '?' && !q)
            q = end;
        else if (depth == 0 && *end == ':' && q && !c)
            c = end;
        else if (depth == 0 && strchr("<>=", *end) && !cmp)
            cmp = end;
    }
    if (*end != ')' || (q ? !c : !cmp))
        return NULL;
    if (!q) {
        put(b, "\\mathbf{1}[");
        put_part(ex, b, t + 1, (size_t)(end - t - 1), fill, elem, elementwise);
        put(b, "]");
    } else {
        put(b, "\\begin{cases} ");
        put_part(ex, b, q + 1, (size_t)(c - q - 1), fill, elem, elementwise);
        put(b, " & \\text{if } ");
        put_part(ex, b, t + 1, (size_t)(q - t - 1), fill, elem, elementwise);
        put(b, " \\\\ ");
        put_part(ex, b, c + 1, (size_t)(end - c - 1), fill, elem, elementwise);
        put(b, " & \\text{otherwise} \\end{cases}");
    }
    return end + 1;
}

/* Render a template of the op table (operands as "#id") into b. */
static void put_template(Ex *ex, Buf *b, const char *t, Fill fill, int elem, int elementwise)
{
    int latex = ex->latex;
    const char *start = t, *group;
    while (*t) {
        if (*t == '#' && isdigit((unsigned char)t[1])) {
            char *end;
            int id = (int)strtol(t + 1, &end, 10);
            put_hole(ex, b, id, fill, elem);
            t = end;
        } else if (!latex) {
            put(b, "%c", *t++);
        } else if (isalpha((unsigned char)*t)) {
            size_t n = 0;
            while (isalnum((unsigned char)t[n]) || t[n] == '_')
                n++;
            const char *fn = NULL;
            for (size_t k = 0; k < sizeof latex_fns / sizeof latex_fns[0]; k++)
                if (strlen(latex_fns[k][0]) == n && strncmp(t, latex_fns[k][0], n) == 0)
                    fn = latex_fns[k][1];
            if (fn)
                put(b, "%s", fn);
            else {
                put(b, "\\operatorname{");
                for (size_t k = 0; k < n; k++)
                    put(b, "%s", t[k] == '_' ? "\\_" : (char[2]){t[k], 0});
                put(b, "}");
            }
            t += n;
        } else if (*t == '*') {
            /* elementwise product of tensors; a number times anything is \cdot */
            const char *prev = t - 1;
            while (prev > start && *prev == ' ')
                prev--;
            const char *q = prev;
            while (q > start && (isdigit((unsigned char)*q) || *q == '.'))
                q--;
            int number = isdigit((unsigned char)*prev) && *q != '#';
            put(b, "%s", elementwise && !number ? "\\odot" : "\\cdot");
            t++;
        } else if (*t == '(' && (group = put_latex_group(ex, b, t, fill, elem, elementwise))) {
            t = group;
        } else if (*t == '@') {
            put(b, "\\,");
            t++;
        } else if (*t == '\'') {
            /* transpose, or the derivative mark of f'(x) after a name */
            put(b, "%s", isalpha((unsigned char)t[-1]) && t[1] == '(' ? "'" : "^\\top");
            t++;
        } else if (*t == '^') {
            t++;
            while (*t == ' ')
                t++;
            put(b, "^{");
            if (*t == '(') {
                int depth = 0;
                do {
                    depth += (*t == '(') - (*t == ')');
                    put(b, "%c", *t++);
                } while (*t && depth > 0);
            } else
                while (isalnum((unsigned char)*t) || *t == '.')
                    put(b, "%c", *t++);
            put(b, "}");
        } else
            put(b, "%c", *t++);
    }
}

/* The right-hand side of step id in the op table's notation, with holes. */
static void rhs_template(Ex *ex, int id, char *buf, size_t n)
{
    ir_rhs_notation(&ex->q, id, buf, n);
}

/* ---- the printer ---- */

/* One equation: lhs = part[0] = part[1] ... (continuation lines aligned),
 * with an optional remark. */
static void equation(Ex *ex, const char *indent, const char *lhs, const char *op, Buf *parts,
                     int nparts, const char *remark)
{
    FILE *f = ex->out;
    if (ex->latex) {
        fprintf(f, "%s &%s %s", lhs, op, parts[0].s);
        if (remark)
            fprintf(f, " && \\text{%s}", remark);
        for (int i = 1; i < nparts; i++)
            fprintf(f, " \\\\\n  &= %s", parts[i].s);
        fprintf(f, " \\\\\n");
        return;
    }
    int col = fprintf(f, "%s%s %s ", indent, lhs, op);
    fprintf(f, "%s", parts[0].s);
    if (remark)
        fprintf(f, "%*s(%s)", (int)strlen(parts[0].s) + col < 52 ? 52 - col - (int)strlen(parts[0].s) : 3, "",
                remark);
    fputc('\n', f);
    for (int i = 1; i < nparts; i++)
        fprintf(f, "%*s= %s\n", col - 2, "", parts[i].s);
}

static void reset(Buf *parts, int n)
{
    for (int i = 0; i < n; i++) {
        parts[i].len = 0;
        put(&parts[i], "%s", "");
    }
}

static void section(Ex *ex, const char *title, int open)
{
    if (ex->latex) {
        if (!open)
            fprintf(ex->out, "\\end{align*}\n");
        if (title) {
            fprintf(ex->out, "\n\\paragraph{");
            for (const char *c = title; *c; c++)
                fprintf(ex->out, strchr("#$%&_{}", *c) ? "\\%c" : "%c", *c);
            fprintf(ex->out, "}\n\\begin{align*}\n");
        }
    } else if (title)
        fprintf(ex->out, "\n%s\n", title);
}

static void stmt_header(Ex *ex, int stmt, int *last)
{
    const IrProgram *p = ex->p;
    if (stmt == *last || stmt >= p->nstmts)
        return;
    *last = stmt;
    if (ex->latex)
        fprintf(ex->out, "  & \\text{line %d: \\texttt{", p->stmts[stmt].line);
    else
        fprintf(ex->out, "  line %d: ", p->stmts[stmt].line);
    for (const char *c = p->stmts[stmt].text; *c; c++) {
        if (ex->latex && strchr("#$%&_{}", *c))
            fprintf(ex->out, "\\%c", *c);
        else if (ex->latex && strchr("^~\\", *c))
            fprintf(ex->out, "%s", *c == '^' ? "\\textasciicircum{}" : *c == '~' ?
                    "\\textasciitilde{}" : "\\textbackslash{}");
        else
            fputc(*c, ex->out);
    }
    fprintf(ex->out, "%s\n", ex->latex ? "}} \\\\" : "");
}

static int is_unary_call(const char *notation)
{
    size_t n = strcspn(notation, "(");
    return n > 0 && strcmp(notation + n, "($0)") == 0;
}

/* A rolled loop's carried value (h_prev) is the step's h of step t - 1 (at
 * step 0 the value before the loop, h_init): said so, with the numbers of
 * the last step, those the step's equations below read.  0 when id is no
 * carry. */
static int print_carry(Ex *ex, int id, Buf *parts)
{
    const IrProgram *p = ex->p;
    for (int l = 0; l < p->nloops; l++)
        for (int k = 0; k < p->loops[l].ncarry; k++) {
            const IrLoop *L = &p->loops[l];
            if (L->carry[k] != id)
                continue;
            char remark[200];
            Buf lhs = {0};
            reset(parts, 2);
            put_name(ex, &lhs, id, NULL);
            put_name(ex, &parts[0], L->source[k], NULL);
            put(&parts[0], ex->latex ? " \\text{ of step } %s - 1" : " of step %s - 1", L->var);
            put_tensor(&parts[1], &p->v[id].shape, ex->val[id], ex->latex);
            Buf init = {0};
            put_name(ex, &init, p->v[id].arg[0], NULL);
            if (ex->latex)
                snprintf(remark, sizeof remark, "at $%s = 0$: $%s$; here $%s = %d$", L->var, init.s,
                         L->var, L->count - 1);
            else
                snprintf(remark, sizeof remark, "at %s = 0: %s; here %s = %d", L->var, init.s,
                         L->var, L->count - 1);
            free(init.s);
            equation(ex, "    ", lhs.s, "=", parts, 2, remark);
            free(lhs.s);
            return 1;
        }
    return 0;
}

static void print_forward(Ex *ex)
{
    const IrProgram *p = ex->p;
    Buf parts[3] = {{0}};
    char t[300];
    int last = -1;
    section(ex, "Forward pass", 0);
    for (int i = p->fwd.begin; i < p->fwd.end; i++) {
        const Value *v = &p->v[i];
        if (ir_ops[v->op].kind == K_LEAF)
            continue;
        stmt_header(ex, v->stmt, &last);
        for (int l = 0; l < p->nloops; l++)
            if (i == p->loops[l].body - p->loops[l].ncarry) {
                const IrLoop *L = &p->loops[l];
                if (ex->latex)
                    fprintf(ex->out, "  & \\text{(a loop of %d steps: the numbers of the last, "
                            "$%s = %d$)} \\\\\n", L->count, L->var, L->count - 1);
                else
                    fprintf(ex->out, "    (a loop of %d steps: the numbers of the last, %s = %d)\n",
                            L->count, L->var, L->count - 1);
            }
        if (print_carry(ex, i, parts))
            continue;
        reset(parts, 3);
        rhs_template(ex, i, t, sizeof t);
        int elementwise = ir_ops[v->op].kind == K_MAP && numel(p, i) > 1;
        put_template(ex, &parts[0], t, F_NAMES, 0, elementwise);
        put_template(ex, &parts[1], t, F_NUMBERS, 0, elementwise);
        put_tensor(&parts[2], &v->shape, ex->val[i], ex->latex);
        Buf lhs = {0};
        put_name(ex, &lhs, i, NULL);
        equation(ex, "    ", lhs.s, "=", parts, 3, NULL);
        free(lhs.s);
    }
    Buf lhs = {0};
    reset(parts, 1);
    put(&lhs, "%s", ex->latex ? "L" : "L");
    put_name(ex, &parts[0], p->loss, NULL);
    put(&parts[1], "%s", "");
    parts[1].len = 0;
    put_tensor(&parts[1], &p->v[p->loss].shape, ex->val[p->loss], ex->latex);
    int n = 2;
    if (p->penalty >= 0) {
        reset(parts, 3);
        put_name(ex, &parts[0], p->loss, NULL);
        put(&parts[0], " + ");
        put_name(ex, &parts[0], p->penalty, NULL);
        put_num(&parts[1], ex->val[p->loss][0], ex->latex);
        put(&parts[1], " + ");
        put_num(&parts[1], ex->val[p->penalty][0], ex->latex);
        put_num(&parts[2], ex->val[p->loss][0] + ex->val[p->penalty][0], ex->latex);
        n = 3;
    }
    equation(ex, "  ", lhs.s, "=", parts, n, "the objective for this sample");
    free(lhs.s);
    for (int i = 0; i < 3; i++)
        free(parts[i].s);
}

/* Contributions are counted per adjoint buffer, and per parameter: the
 * loss's and the penalty's programs each have a buffer for dL/dW. */
static int count_key(const IrProgram *p, int acc)
{
    const Value *a = &p->v[acc];
    return a->op == OP_ADJ && p->v[a->arg[0]].op == OP_PARAM ? a->arg[0] : acc;
}

/* The last step into the parameter's gradient, for one entry: elementwise
 * steps and matrix products element by element. */
static void print_entry_step(Ex *ex, int id, const char *lhs)
{
    const IrProgram *p = ex->p;
    const Value *v = &p->v[id];
    Buf parts[3] = {{0}};
    reset(parts, 3);
    int e = ex->entry;
    double x = ex->val[id][e % numel(p, id)];
    if (ir_ops[v->op].kind == K_MAP && shape_equal(&v->shape, &p->v[v->acc].shape)) {
        char t[300];
        rhs_template(ex, id, t, sizeof t);
        ex->it = &v->shape;
        put_template(ex, &parts[0], t, F_ENTRY_NAMES, e, 0);
        put_template(ex, &parts[1], t, F_ENTRY_NUMBERS, e, 0);
        ex->it = NULL;
    } else if (ir_ops[v->op].kind == K_MAP) {
        /* the target is broadcast (numpy): the sum of the map's elements
         * that were this entry */
        char t[300];
        rhs_template(ex, id, t, sizeof t);
        const Shape *ts = &p->v[v->acc].shape;
        int terms = 0;
        x = 0;
        ex->it = &v->shape;
        for (int i = 0; i < numel(p, id); i++) {
            if (shape_broadcast_elem(ts, &v->shape, i) != e)
                continue;
            x += ex->val[id][i];
            if (terms++ >= 8)
                continue;
            for (int f = 0; f < 2; f++) {
                put(&parts[f], "%s", terms > 1 ? " + " : "");
                put_template(ex, &parts[f], t, f ? F_ENTRY_NUMBERS : F_ENTRY_NAMES, i, 0);
            }
        }
        ex->it = NULL;
        if (terms > 8) {
            put(&parts[0], " + ... (%d terms)", terms);
            put(&parts[1], " + ...");
        }
    } else if (v->op == OP_MATMUL) {
        int M, K, N;
        mm_dims(p, v, &M, &K, &N);
        int i = e / N, j = e % N;
        for (int k = 0; k < K && k < 6; k++) {
            /* operand a's (i, k) and b's (k, j) as entries of their own shapes */
            int a = v->arg[0], b = v->arg[1];
            const Shape *sa = &p->v[a].shape, *sb = &p->v[b].shape;
            int ea = sa->rank == 1 ? (v->ta ? i : k) : (v->ta ? k * sa->dim[1] + i : i * sa->dim[1] + k);
            int eb = sb->rank == 1 ? (v->tb ? j : k) : (v->tb ? j * sb->dim[1] + k : k * sb->dim[1] + j);
            for (int f = 0; f < 2; f++) {
                Buf *o = &parts[f];
                put(o, "%s", k ? " + " : "");
                put_hole(ex, o, a, f ? F_ENTRY_NUMBERS : F_ENTRY_NAMES, ea);
                put(o, " %s ", ex->latex ? "\\cdot" : "*");
                put_hole(ex, o, b, f ? F_ENTRY_NUMBERS : F_ENTRY_NAMES, eb);
            }
        }
        if (K > 6) {
            put(&parts[0], " + ...");
            put(&parts[1], " + ...");
        }
    } else if (v->op == OP_CONV_BWD_K) {
        /* one kernel weight: the sum over the output positions of dy times
         * the input its window put under that weight (padding left out) */
        CgConv c = cg_conv_plan(p, id);
        int kk = c.KH * c.KW, o = e / (c.C * kk), ch = e / kk % c.C, ki = e % kk / c.KW, kj = e % c.KW;
        int terms = 0;
        for (int i = 0; i < c.OH; i++)
            for (int j = 0; j < c.OW; j++) {
                int u, w;
                if (!window_at(&c, i, j, ki, kj, &u, &w))
                    continue;
                if (terms++ >= 16)
                    continue;
                for (int f = 0; f < 2; f++) {
                    Buf *b = &parts[f];
                    put(b, "%s", terms > 1 ? " + " : "");
                    put_hole(ex, b, v->arg[0], f ? F_ENTRY_NUMBERS : F_ENTRY_NAMES, (o * c.OH + i) * c.OW + j);
                    put(b, " %s ", ex->latex ? "\\cdot" : "*");
                    put_hole(ex, b, v->arg[1], f ? F_ENTRY_NUMBERS : F_ENTRY_NAMES, (ch * c.H + u) * c.W + w);
                }
            }
        if (terms > 16) {
            put(&parts[0], " + ... (%d terms)", terms);
            put(&parts[1], " + ...");
        }
    } else {
        put_num(&parts[0], x, ex->latex);
        equation(ex, "    ", lhs, "+=", parts, 1, NULL);
        goto done;
    }
    put_num(&parts[2], x, ex->latex);
    equation(ex, "    ", lhs, ex->ncontrib[count_key(p, v->acc)] > 1 ? "+=" : "=", parts, 3, NULL);
done:
    for (int i = 0; i < 3; i++)
        free(parts[i].s);
}

/* Is v an elementwise adjoint step of a broadcast operand, whose values
 * (of the result's shape) are summed over the stretched axes into the
 * operand's adjoint? */
static int summed_to_acc(const IrProgram *p, const Value *v)
{
    return ir_ops[v->op].kind == K_MAP && v->acc >= 0 && numel(p, v->acc) > 1 &&
           !shape_equal(&v->shape, &p->v[v->acc].shape);
}

/* x of shape from summed over the axes that `to` stretches (numpy's
 * broadcasting, the shapes aligned at their last axes), as a new array of
 * shape to. */
static double *sum_to(const Shape *from, const double *x, const Shape *to)
{
    int n = shape_numel(from), lead = from->rank - to->rank;
    double *y = calloc((size_t)shape_numel(to), sizeof *y);
    if (!y)
        diag_internal("out of memory");
    for (int i = 0; i < n; i++) {
        int rest = i, j = 0, scale = 1;
        for (int d = from->rank - 1; d >= 0; d--) {
            int k = rest % from->dim[d];
            rest /= from->dim[d];
            if (d >= lead) {
                int t = to->dim[d - lead];
                j += (t == 1 ? 0 : k) * scale;
                scale *= t;
            }
        }
        y[j] += x[i];
    }
    return y;
}

static void print_step(Ex *ex, int id, int *count)
{
    const IrProgram *p = ex->p;
    const Value *v = &p->v[id];
    int acc = v->acc >= 0 ? v->acc : id, key = count_key(p, acc);
    Buf parts[5] = {{0}}, lhs = {0};
    reset(parts, 5);
    char t[300], remark[300] = "";
    int n = 0;
    put_name(ex, &lhs, acc, NULL);
    const char *op = v->acc >= 0 && count[key]++ > 0 ? "+=" : "=";
    /* the rule as the chain rule: dL/da = dL/dy * f'(a), for y = f(a) */
    const Value *y = &p->v[v->from];
    if (v->from < p->fwd.end && ir_ops[y->op].kind != K_LEAF) {
        char fwd[200];
        ir_rhs_notation(p, v->from, fwd, sizeof fwd);
        snprintf(remark, sizeof remark, "since %.60s = %s", y->name ? y->name : "y", fwd);
        if (ex->latex) {
            /* the remark in math mode, names as in the equations */
            Buf r = {0};
            put(&r, "since $");
            put_name(ex, &r, v->from, NULL);
            put(&r, " = ");
            char ft[300];
            rhs_template(ex, v->from, ft, sizeof ft);
            put_template(ex, &r, ft, F_NAMES, 0, numel(p, v->from) > 1);
            put(&r, "$");
            snprintf(remark, sizeof remark, "%s", r.s);
            free(r.s);
        }
        if (summed_to_acc(p, v)) {
            char sh[64];
            size_t len = strlen(remark);
            snprintf(remark + len, sizeof remark - len, ", summed to %s",
                     shape_str(&p->v[v->acc].shape, sh, sizeof sh));
        }
        int d = -1;
        for (int a = 0; a < v->nargs; a++)
            if (p->v[v->arg[a]].op == OP_ADJ || p->v[v->arg[a]].op == OP_SEED)
                d = v->arg[a];
        const char *nt = ir_ops[y->op].notation;
        if (d >= 0 && ir_ops[y->op].kind == K_MAP && is_unary_call(nt)) {
            put_name(ex, &parts[n], d, NULL);
            put(&parts[n], " %s %.*s'(", ex->latex ? "\\odot" : "*", (int)strcspn(nt, "("), nt);
            if (ex->latex) {
                Buf fn = {0};
                char tt[64];
                snprintf(tt, sizeof tt, "%.*s'(", (int)strcspn(nt, "("), nt);
                parts[n].len = 0;
                put_name(ex, &parts[n], d, NULL);
                put(&parts[n], " \\odot ");
                put_template(ex, &fn, tt, F_NAMES, 0, 0);
                put(&parts[n], "%s", fn.s);
                free(fn.s);
            }
            put_name(ex, &parts[n], y->arg[0], NULL);
            put(&parts[n++], ")");
        }
    }
    rhs_template(ex, id, t, sizeof t);
    int elementwise = ir_ops[v->op].kind == K_MAP && numel(p, id) > 1;
    put_template(ex, &parts[n++], t, F_NAMES, 0, elementwise);
    if (v->op != OP_COPY)
        put_template(ex, &parts[n++], t, F_NUMBERS, 0, elementwise);
    put_tensor(&parts[n++], &v->shape, ex->val[id], ex->latex);
    double *summed = NULL;
    if (summed_to_acc(p, v)) {   /* and then the sum, of the operand's shape */
        summed = sum_to(&v->shape, ex->val[id], &p->v[acc].shape);
        put_tensor(&parts[n++], &p->v[acc].shape, summed, ex->latex);
    }
    equation(ex, "    ", lhs.s, op, parts, n, remark[0] ? remark : NULL);
    free(summed);
    if (ex->entry >= 0 && v->acc >= 0 && p->v[acc].arg[0] == p->params[ex->param].value) {
        Buf el = {0};
        char idx[64];
        index_text(idx, sizeof idx, &p->params[ex->param].shape, ex->entry);
        put_name(ex, &el, acc, idx);
        print_entry_step(ex, id, el.s);
        free(el.s);
    }
    if (v->acc >= 0 && count[key] == ex->ncontrib[key] && count[key] > 1) {
        reset(parts, 1);
        int m = numel(p, acc);
        double *sum = calloc((size_t)m, sizeof *sum);
        for (int i = p->fwd.end; i < p->nv; i++)
            if (count_key(p, i) == key && p->v[i].op == OP_ADJ)
                for (int k = 0; k < m; k++)
                    sum[k] += ex->val[i][k];
        put_tensor(&parts[0], &p->v[acc].shape, sum, ex->latex);
        free(sum);
        equation(ex, "    ", lhs.s, "=", parts, 1, "the sum of its contributions");
    }
    free(lhs.s);
    for (int i = 0; i < 5; i++)
        free(parts[i].s);
}

static void print_backward(Ex *ex)
{
    const IrProgram *p = ex->p;
    int *count = calloc((size_t)p->nv, sizeof *count);
    const IrRange ranges[2] = {p->bwd_loss, p->bwd_penalty};
    char title[300];
    const IrParam *q = &p->params[ex->param];
    char idx[64] = "";
    if (ex->entry >= 0)
        index_text(idx, sizeof idx, &q->shape, ex->entry);
    snprintf(title, sizeof title, "Backward pass: the chain rule from %s down to %s%s",
             p->penalty >= 0 ? "L = loss + penalty" : "L = loss", q->name, idx);
    section(ex, title, 0);
    for (int r = 0; r < 2; r++) {
        int last = -1, any = 0;
        for (int i = ranges[r].begin; i < ranges[r].end; i++)
            any |= ex->need[i];
        if (!any)
            continue;
        Buf parts[1] = {{0}}, lhs = {0};
        reset(parts, 1);
        put(&parts[0], "1");
        if (r == 0) {
            put_name(ex, &lhs, ranges[0].begin, NULL);   /* the seed: dL/dloss */
            equation(ex, "  ", lhs.s, "=", parts, 1, "the seed of reverse mode, one sample");
        } else {
            put(&lhs, "%s", ex->latex ? "\\frac{\\partial L}{\\partial \\mathit{penalty}}" : "dL/dpenalty");
            equation(ex, "  ", lhs.s, "=", parts, 1, "the penalty is added once");
        }
        free(lhs.s);
        free(parts[0].s);
        for (int i = ranges[r].begin; i < ranges[r].end; i++) {
            const Value *v = &p->v[i];
            if (!ex->need[i] || ir_ops[v->op].kind == K_LEAF || v->op == OP_ADJ)
                continue;
            stmt_header(ex, v->stmt, &last);
            print_step(ex, i, count);
        }
    }
    free(count);
}

/* The gradient asked for, and with --lr the value after one step. */
static void print_result(Ex *ex, const double *grad, const double *params)
{
    const IrProgram *p = ex->p;
    const IrParam *q = &p->params[ex->param];
    int n = shape_numel(&q->shape);
    Buf parts[3] = {{0}}, lhs = {0};
    reset(parts, 3);
    char idx[64] = "";
    double *w = malloc((size_t)n * sizeof *w);
    if (ex->entry >= 0)
        index_text(idx, sizeof idx, &q->shape, ex->entry);
    section(ex, "Result", 0);
    put_name(ex, &lhs, p->grad[ex->param] >= 0 ? p->grad[ex->param] : q->value, idx);
    if (p->grad[ex->param] < 0) {
        lhs.len = 0;
        put(&lhs, "%s%s%s", ex->latex ? "\\frac{\\partial L}{\\partial " : "dL/d", q->name, ex->latex ? "}" : "");
    }
    Shape one = {0, {0}};
    if (ex->entry >= 0)
        put_num(&parts[0], grad[ex->entry], ex->latex);
    else
        put_tensor(&parts[0], &q->shape, grad, ex->latex);
    equation(ex, "  ", lhs.s, "=", parts, 1, NULL);
    if (ex->o->have_lr) {
        reset(parts, 3);
        Buf l2 = {0};
        for (int i = 0; i < n; i++)
            w[i] = params[i] - ex->o->lr * grad[i];
        if (ex->latex) {
            put_latex_name(&l2, q->name, 0);
            put(&l2, "%s^{\\text{new}}", idx);
            put_latex_name(&parts[0], q->name, 0);
            put(&parts[0], "%s - \\eta \\, %s", idx, lhs.s);
        } else {
            put(&l2, "%s%s after one step", q->name, idx);
            put(&parts[0], "%s%s - lr * %s", q->name, idx, lhs.s);
        }
        const Shape *s = ex->entry >= 0 ? &one : &q->shape;
        int e = ex->entry >= 0 ? ex->entry : 0;
        put_tensor(&parts[1], s, params + e, ex->latex);
        put(&parts[1], " - ");
        put_num(&parts[1], ex->o->lr, ex->latex);
        put(&parts[1], " %s ", ex->latex ? "\\cdot" : "*");
        if (ex->entry >= 0 && grad[e] < 0)
            put(&parts[1], "(");
        put_tensor(&parts[1], s, grad + e, ex->latex);
        if (ex->entry >= 0 && grad[e] < 0)
            put(&parts[1], ")");
        put_tensor_digits(&parts[2], s, w + e, ex->latex,
                          step_digits(params + e, w + e, ex->entry >= 0 ? 1 : n));
        char remark[64];
        snprintf(remark, sizeof remark, "gradient descent, %s = %g", ex->latex ? "$\\eta$" : "lr",
                 ex->o->lr);
        equation(ex, "  ", l2.s, "=", parts, 3, remark);
        free(l2.s);
    }
    section(ex, NULL, 0);
    free(w);
    free(lhs.s);
    for (int i = 0; i < 3; i++)
        free(parts[i].s);
}

/* ---- setup: what to explain, parameters, the sample ---- */

static int parse_wrt(Ex *ex, const char *wrt)
{
    const IrProgram *p = ex->p;
    size_t n = strcspn(wrt, "[");
    ex->param = -1;
    for (int k = 0; k < p->nparams; k++)
        if (strlen(p->params[k].name) == n && strncmp(p->params[k].name, wrt, n) == 0)
            ex->param = k;
    if (ex->param < 0) {
        const char **names = malloc((size_t)(p->nparams + 1) * sizeof *names);
        char list[1024] = "";
        for (int k = 0; k < p->nparams; k++) {
            names[k] = p->params[k].name;
            if (strlen(list) + strlen(names[k]) + 3 < sizeof list)
                strcat(strcat(list, k ? ", " : ""), names[k]);
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(n < 100 ? n : 100), wrt);
        const char *near = diag_closest(name, names, p->nparams);
        fprintf(stderr, "nnc: error: --wrt '%s': '%s' is no parameter of the model%s%s%s; "
                "the parameters are %s\n", wrt, name, near ? " (did you mean '" : "",
                near ? near : "", near ? "'?)" : "", list);
        free(names);
        return -1;
    }
    const IrParam *q = &p->params[ex->param];
    if (q->frozen) {
        fprintf(stderr, "nnc: error: --wrt '%s': %s is frozen, so it has no gradient\n", wrt, q->name);
        return -1;
    }
    ex->entry = -1;
    if (!wrt[n])
        return 0;
    const char *s = wrt + n + 1;
    int flat = 0, d = 0;
    char sh[64];
    shape_str(&q->shape, sh, sizeof sh);
    for (;; d++) {
        char *end;
        while (*s == ' ')
            s++;
        long i = strtol(s, &end, 10);
        if (end == s || d >= q->shape.rank || i < 0 || i >= q->shape.dim[d]) {
            fprintf(stderr, "nnc: error: --wrt '%s': %s is %s; an entry is %s[i%s] with "
                    "0-based indices inside the shape\n", wrt, q->name, sh, q->name,
                    q->shape.rank == 2 ? ", j" : q->shape.rank > 2 ? ", ..." : "");
            return -1;
        }
        flat = flat * q->shape.dim[d] + (int)i;
        s = end;
        while (*s == ' ')
            s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == ']' && s[1] == '\0' && d == q->shape.rank - 1)
            break;
        fprintf(stderr, "nnc: error: --wrt '%s': %s is %s, give all %d indices: %s[i%s]\n", wrt,
                q->name, sh, q->shape.rank, q->name, q->shape.rank == 2 ? ", j" : "");
        return -1;
    }
    ex->entry = flat;
    return 0;
}

/* The parameters: --params P.npz, or the initialisers with the train
 * block's seed (the same numbers as `./model init`, in float64). */
static double *load_params(const IrProgram *p, const char *file)
{
    NnrtParam *np = calloc((size_t)(p->nparams ? p->nparams : 1), sizeof *np);
    int64_t total = 0;
    for (int k = 0; k < p->nparams; k++) {
        const IrParam *q = &p->params[k];
        NnrtParam *r = &np[k];
        r->name = q->name;
        r->rank = q->shape.rank;
        for (int d = 0; d < q->shape.rank; d++)
            r->dim[d] = q->shape.dim[d];
        r->size = shape_numel(&q->shape);
        r->offset = total;
        total += r->size;
        r->frozen = q->frozen;
        r->init.kind = (NnrtInitKind)q->init;    /* the same order (ir.h, nnrt.h) */
        r->init.a = q->a;
        r->init.b = q->b;
        r->init.values = q->values;
        r->init.file = q->file;
        r->init.key = q->key;
    }
    NnrtModel m;
    memset(&m, 0, sizeof m);
    m.name = p->name;
    m.source = p->file;
    m.nparams = p->nparams;
    m.params = np;
    m.nparam_total = total;
    NnrtConfig cfg;
    nnrt_config_default(&cfg);
    for (int i = 0; i < p->nsettings; i++)
        if (strcmp(p->settings[i].key, "seed") == 0) {
            char err[256];
            nnrt_config_set(&cfg, "seed", p->settings[i].value, 0, err, sizeof err);
        }
    double *w = calloc((size_t)(total ? total : 1), sizeof *w);
    NnrtErr e;
    int rc = file ? nnrt_params_load(&m, w, file, &e) : nnrt_params_init(&m, w, cfg.seed, &e);
    free(np);
    if (rc != 0) {
        fprintf(stderr, "nnc: error: %s\n", e.msg);
        free(w);
        return NULL;
    }
    return w;
}

/* The seed of the train block, or --seed. */
static uint64_t run_seed(const IrProgram *p, const ExplainOptions *o)
{
    NnrtConfig cfg;
    char err[256];
    nnrt_config_default(&cfg);
    for (int i = 0; i < p->nsettings; i++)
        if (strcmp(p->settings[i].key, "seed") == 0)
            nnrt_config_set(&cfg, "seed", p->settings[i].value, 0, err, sizeof err);
    if (o->seed)
        nnrt_config_set(&cfg, "seed", o->seed, 0, err, sizeof err);
    return cfg.seed;
}

/* A slot the trainer draws (noise, a dropout's mask), for the example as
 * sample 0 of a data set at step 0: its mean in eval mode, else the
 * numbers the trainer's `--mode train` draws (nnrt_draw_value). */
static double *draw_values(const IrProgram *p, const ExplainOptions *o, int k)
{
    static const NnrtDrawKind kind[] = {NNRT_DRAW_NORMAL, NNRT_DRAW_NORMAL, NNRT_DRAW_UNIFORM,
                                        NNRT_DRAW_DROPOUT};
    const IrSlot *s = &p->slots[k];
    NnrtDraw d = {s->name, kind[s->noise], s->a, s->b, 0, {0}, shape_numel(&s->shape)};
    double *x = calloc((size_t)d.size + 1, sizeof *x);
    for (int64_t i = 0; i < d.size; i++)
        x[i] = nnrt_draw_value(&d, o->train, run_seed(p, o), 0, 0, k - ir_data_slots(p), i);
    return x;
}

/* The sample: the example block, overridden by --NAME v,v,... */
static int sample_values(const IrProgram *p, const ExplainOptions *o, double **slots)
{
    for (int i = 0; i < o->nvalues; i++) {
        int s = -1;
        for (int k = 0; k < p->nslots; k++)
            if (strcmp(p->slots[k].name, o->values[i].slot) == 0)
                s = k;
        if (s < 0) {
            fprintf(stderr, "nnc: error: --%s: the model has no input or target '%s'\n",
                    o->values[i].slot, o->values[i].slot);
            return -1;
        }
        int n = shape_numel(&p->slots[s].shape), got = 0;
        double *x = calloc((size_t)(n ? n : 1), sizeof *x);
        for (const char *t = o->values[i].text; *t;) {
            char *end;
            double v = strtod(t, &end);
            if (end == t || got == n) {
                fprintf(stderr, "nnc: error: --%s %s: expected %d number%s separated by commas\n",
                        p->slots[s].name, o->values[i].text, n, n == 1 ? "" : "s");
                free(x);
                return -1;
            }
            x[got++] = v;
            t = end;
            while (*t == ' ' || *t == ',' || *t == '[' || *t == ']')
                t++;
        }
        if (got != n) {
            fprintf(stderr, "nnc: error: --%s: '%s' is %d value%s, the model's %s has %d\n",
                    p->slots[s].name, o->values[i].text, got, got == 1 ? "" : "s",
                    p->slots[s].name, n);
            free(x);
            return -1;
        }
        int k = p->slots[s].nclass;
        if (k > 0 && !(x[0] >= 0 && x[0] < k && x[0] == (double)(long long)x[0])) {
            fprintf(stderr, "nnc: error: --%s %s: '%s' is a class label in [0, %d)\n",
                    p->slots[s].name, o->values[i].text, p->slots[s].name, k);
            free(x);
            return -1;
        }
        free(slots[s]);
        slots[s] = x;
    }
    for (int k = 0; k < p->nslots; k++) {
        if (slots[k])
            continue;
        if (p->slots[k].noise) {
            slots[k] = draw_values(p, o, k);
        } else if (p->slots[k].example) {
            int n = shape_numel(&p->slots[k].shape);
            slots[k] = malloc((size_t)n * sizeof *slots[k]);
            memcpy(slots[k], p->slots[k].example, (size_t)n * sizeof *slots[k]);
        } else if (!p->slots[k].unused) {
            fprintf(stderr, "nnc: error: no value for %s '%s': add it to the example { } block "
                    "or give --%s v1,v2,...\n", p->slots[k].target ? "target" : "input",
                    p->slots[k].name, p->slots[k].name);
            return -1;
        } else
            slots[k] = calloc((size_t)shape_numel(&p->slots[k].shape) + 1, sizeof *slots[k]);
    }
    return 0;
}

static void print_given(Ex *ex, const double *params, double *const *slots, const char *from)
{
    const IrProgram *p = ex->p;
    Buf parts[1] = {{0}}, lhs = {0};
    char title[400];
    snprintf(title, sizeof title, "Given (%s)", from);
    section(ex, title, 1);
    int off = 0;
    for (int k = 0; k < p->nparams; k++) {
        const IrParam *q = &p->params[k];
        reset(parts, 1);
        lhs.len = 0;
        put(&lhs, "%s", "");
        put_name(ex, &lhs, q->value, NULL);
        put_tensor(&parts[0], &q->shape, params + off, ex->latex);
        equation(ex, "  ", lhs.s, "=", parts, 1, NULL);
        off += shape_numel(&q->shape);
    }
    for (int k = 0; k < p->nslots; k++) {
        reset(parts, 1);
        lhs.len = 0;
        put(&lhs, "%s", "");
        put_name(ex, &lhs, p->slots[k].value, NULL);
        put_tensor(&parts[0], &p->slots[k].shape, slots[k], ex->latex);
        const char *what = p->slots[k].nclass ? "a class label" : NULL;
        if (p->slots[k].noise)
            what = p->slots[k].noise == IR_NOISE_DROPOUT
                   ? (ex->o->train ? "train mode: the mask drawn" : "eval mode: no dropout")
                   : (ex->o->train ? "train mode: drawn" : "eval mode: its mean");
        equation(ex, "  ", lhs.s, "=", parts, 1, what);
    }
    free(lhs.s);
    free(parts[0].s);
}

/* The backward slice: the adjoint steps the gradient of the parameter
 * depends on, found from the end (a buffer's contributions come after it
 * and before its first reader). */
static void mark_needed(Ex *ex)
{
    const IrProgram *p = ex->p;
    int pv = p->params[ex->param].value;
    for (int i = p->fwd.end; i < p->nv; i++)
        if (p->v[i].op == OP_ADJ && p->v[i].arg[0] == pv)
            ex->need[i] = 1;
    for (int i = p->nv - 1; i >= p->fwd.end; i--) {
        const Value *v = &p->v[i];
        if (v->acc >= 0 && ex->need[v->acc]) {
            ex->need[i] = 1;
            ex->ncontrib[count_key(p, v->acc)]++;
        }
        if (ex->need[i])
            for (int a = 0; a < v->nargs; a++)
                ex->need[v->arg[a]] = 1;
    }
}

/* Whether the loss or the penalty is computed from forward value v. */
static int reaches_root(const IrProgram *p, int v)
{
    char *from = calloc((size_t)p->fwd.end, 1);
    if (!from)
        diag_internal("out of memory");
    from[v] = 1;
    for (int i = v + 1; i < p->fwd.end; i++)
        for (int a = 0; a < p->v[i].nargs; a++)
            from[i] |= from[p->v[i].arg[a]];
    int r = from[p->loss] || (p->penalty >= 0 && from[p->penalty]);
    free(from);
    return r;
}

int explain_run(FILE *out, const IrProgram *p, const ExplainOptions *o)
{
    Ex ex;
    memset(&ex, 0, sizeof ex);
    ex.p = p;
    ex.o = o;
    ex.out = out;
    ex.latex = o->latex;
    num_digits = o->digits ? o->digits : 6;
    if (parse_wrt(&ex, o->wrt ? o->wrt : "") < 0)
        return 1;
    double **slots = calloc((size_t)(p->nslots ? p->nslots : 1), sizeof *slots);
    double *params = NULL;
    int rc = 1;
    if (sample_values(p, o, slots) < 0 || !(params = load_params(p, o->params)))
        goto done;
    /* the templates: p's values named "#id" */
    ex.q = *p;
    ex.q.v = malloc((size_t)p->nv * sizeof *ex.q.v);
    ex.hole = malloc((size_t)p->nv * sizeof *ex.hole);
    memcpy(ex.q.v, p->v, (size_t)p->nv * sizeof *ex.q.v);
    for (int i = 0; i < p->nv; i++) {
        snprintf(ex.hole[i], sizeof ex.hole[i], "#%d", i);
        ex.q.v[i].name = ex.hole[i];
        if (is_penalty_seed(p, i))
            ex.q.v[i].op = OP_SEED;   /* a name, not the number 1 */
    }
    ex.val = calloc((size_t)p->nv, sizeof *ex.val);
    ex.need = calloc((size_t)p->nv, 1);
    ex.ncontrib = calloc((size_t)p->nv, sizeof *ex.ncontrib);
    cg_layout_init(&ex.lay, p);
    ex.store = calloc((size_t)p->nv, sizeof *ex.store);
    run_steps(&ex, 0, p->fwd.end, 0, params, (const double *const *)slots);
    run_steps(&ex, p->fwd.end, p->nv, 1, params, (const double *const *)slots);
    /* printed: a rolled loop's forward values at the last step, its
     * adjoints at the first (the last computed) */
    for (int l = 0; l < p->nloops; l++)
        for (int i = 0; i < p->nv; i++)
            if (ex.lay.loop[i] == l && i < p->fwd.end)
                ex.val[i] = ex.store[ex.lay.owner[i]] +
                            (size_t)cg_slot(&ex.lay, i, p->loops[l].count - 1) * numel(p, i);
    mark_needed(&ex);

    int n = shape_numel(&p->params[ex.param].shape);
    double *grad = calloc((size_t)n, sizeof *grad);
    int pv = p->params[ex.param].value;
    for (int i = p->fwd.end; i < p->nv; i++)
        if (p->v[i].op == OP_ADJ && p->v[i].arg[0] == pv)
            for (int k = 0; k < n; k++)
                grad[k] += ex.val[i][k];
    int off = 0;
    for (int k = 0; k < ex.param; k++)
        off += shape_numel(&p->params[k].shape);

    int from_cli = o->nvalues > 0;
    char from[300];
    snprintf(from, sizeof from, "%s%s; parameters %s%s%s", from_cli ? "the sample given on the "
             "command line" : "the example block", from_cli && p->nslots > o->nvalues ?
             " and the example block" : "", o->params ? "from " : "as initialised",
             o->params ? o->params : "", "");
    if (ex.latex)
        fprintf(out, "%% nnc explain %s --wrt '%s' (needs \\usepackage{amsmath})\n", p->file, o->wrt);
    else
        fprintf(out, "nnc explain: dL/d%s for model %s (%s), in float64\n", o->wrt, p->name, p->file);
    print_given(&ex, params, slots, from);
    print_forward(&ex);
    if (p->grad[ex.param] < 0 && !ex.need[pv]) {
        /* it may reach the loss, but only through ops without a gradient */
        const char *how = reaches_root(p, pv) ? "affects the loss only through comparisons or "
                          "stop_gradient" : "does not affect the loss";
        section(&ex, "Backward pass", 0);
        if (ex.latex)
            fprintf(out, "  & \\text{%s %s} \\\\\n", p->params[ex.param].name, how);
        else
            fprintf(out, "  %s %s: its gradient is 0\n", p->params[ex.param].name, how);
    } else
        print_backward(&ex);
    print_result(&ex, grad, params + off);
    free(grad);
    rc = 0;
done:
    for (int k = 0; k < p->nslots; k++)
        free(slots[k]);
    free(slots);
    free(params);
    if (ex.val)
        for (int i = 0; i < p->nv; i++)
            if (!ex.store || ex.lay.loop[i] < 0)
                free(ex.val[i]);
    if (ex.store) {
        for (int i = 0; i < p->nv; i++)
            free(ex.store[i]);
        cg_layout_free(&ex.lay);
    }
    free(ex.store);
    free(ex.val);
    free(ex.need);
    free(ex.ncontrib);
    free(ex.q.v);
    free(ex.hole);
    return rc;
}
