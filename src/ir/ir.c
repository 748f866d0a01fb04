/*
 * ir.c - the op table, value construction, shapes and the IR's text forms.
 *
 * The text form printed by `nnc --emit=ir` (documented in docs/ir.md) is
 * one value per line:
 *
 *   %7 = matmul %5, %0 : [10] batch        ; h1_1  model.nn:9
 *   %21 = relu_bwd %19, %7 +-> %20 : [10] batch   ; d_h1_2 += d_h1 * (h1_2 > 0)
 *
 * `+-> %N` marks an accumulating value (added into %N's buffer); `batch`
 * marks a value that exists once per sample.
 */
#include <stdlib.h>
#include <string.h>
#include "ir.h"

const OpInfo ir_ops[OP_COUNT] = {
#define OP(code, name, arity, kind, notation, cexpr, rule, fn, fn_args) \
    [OP_##code] = {name, arity, kind, notation, cexpr, fn, fn_args},
#include "ops.def"
#undef OP
};

IrProgram *ir_new(const char *file, const char *source)
{
    IrProgram *p = calloc(1, sizeof *p);
    if (!p)
        diag_internal("out of memory");
    p->file = file;
    p->source = source;
    p->loss = p->penalty = p->output = p->out_slot = -1;
    return p;
}

int ir_data_slots(const IrProgram *p)
{
    int n = 0;
    while (n < p->nslots && p->slots[n].noise == IR_DATA)
        n++;
    return n;
}

void ir_free(IrProgram *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nparams; i++)
        free(p->params[i].values);
    for (int i = 0; i < p->nslots; i++)
        free(p->slots[i].example);
    for (int i = 0; i < p->nliterals; i++)
        free(p->literals[i]);
    free(p->literals);
    free(p->params);
    free(p->slots);
    free(p->settings);
    free(p->stmts);
    free(p->grad);
    for (int i = 0; i < p->nloops; i++) {
        free(p->loops[i].carry);
        free(p->loops[i].source);
    }
    free(p->loops);
    free(p->v);
    for (int i = 0; i < p->nstrs; i++)
        free(p->strs[i]);
    free(p->strs);
    free(p);
}

char *ir_strdup(IrProgram *p, const char *s)
{
    if (p->nstrs == p->capstrs) {
        p->capstrs = p->capstrs ? 2 * p->capstrs : 64;
        p->strs = realloc(p->strs, (size_t)p->capstrs * sizeof *p->strs);
        if (!p->strs)
            diag_internal("out of memory");
    }
    char *d = strdup(s);
    if (!d)
        diag_internal("out of memory");
    return p->strs[p->nstrs++] = d;
}

int ir_emit(IrProgram *p, Value v)
{
    if (p->nv == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = realloc(p->v, (size_t)p->cap * sizeof *p->v);
        if (!p->v)
            diag_internal("out of memory");
    }
    if (ir_ops[v.op].arity != v.nargs)
        diag_internal("op %s takes %d operands, got %d", ir_ops[v.op].name,
                      ir_ops[v.op].arity, v.nargs);
    for (int i = 0; i < v.nargs; i++)
        if (v.arg[i] < 0 || v.arg[i] >= p->nv)
            diag_internal("op %s: operand %d is %%%d, not an earlier value",
                          ir_ops[v.op].name, i, v.arg[i]);
    p->v[p->nv] = v;
    return p->nv++;
}

/* ---- shapes ---- */

int shape_fits(const Shape *s)
{
    long long n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dim[i] < 0 || s->dim[i] > IR_MAX_NUMEL)
            return 0;
        n *= s->dim[i];
        if (n > IR_MAX_NUMEL)
            return 0;
    }
    return 1;
}

int shape_numel(const Shape *s)
{
    if (!shape_fits(s))
        diag_internal("a shape of more than 2^28 elements reached the IR");
    int n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dim[i];
    return n;
}

int ir_sample_max(const IrProgram *p)
{
    int most = 0;
    for (int i = 0; i < p->nv; i++)
        if (p->v[i].batched && shape_numel(&p->v[i].shape) > most)
            most = shape_numel(&p->v[i].shape);
    for (int i = 0; i < p->nslots; i++)   /* an unused input has no value */
        if (shape_numel(&p->slots[i].shape) > most)
            most = shape_numel(&p->slots[i].shape);
    return most;
}

int shape_equal(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

/* `small` broadcasts to `big` when it equals big's trailing dimensions. */
int shape_is_suffix(const Shape *small, const Shape *big)
{
    if (small->rank > big->rank)
        return 0;
    int off = big->rank - small->rank;
    for (int i = 0; i < small->rank; i++)
        if (small->dim[i] != big->dim[off + i])
            return 0;
    return 1;
}

int shape_broadcasts(const Shape *small, const Shape *big)
{
    /* numpy's rule: aligned from the right, each dimension equal or 1 */
    if (small->rank > big->rank)
        return 0;
    int off = big->rank - small->rank;
    for (int i = 0; i < small->rank; i++)
        if (small->dim[i] != big->dim[off + i] && small->dim[i] != 1)
            return 0;
    return 1;
}

int shape_broadcast_elem(const Shape *small, const Shape *big, int i)
{
    int e = 0, stride = 1;
    for (int d = big->rank - 1, ds = small->rank - 1; d >= 0 && ds >= 0; d--, ds--) {
        int at = i % big->dim[d];
        i /= big->dim[d];
        if (small->dim[ds] > 1)
            e += at * stride;
        stride *= small->dim[ds];
    }
    return e;
}

int shape_broadcast(const Shape *a, const Shape *b, Shape *out)
{
    Shape sa = *a, sb = *b;   /* out may be a or b */
    const Shape *big = sa.rank >= sb.rank ? &sa : &sb, *small = big == &sa ? &sb : &sa;
    int off = big->rank - small->rank;
    *out = *big;
    for (int i = 0; i < small->rank; i++) {
        int x = small->dim[i], y = big->dim[off + i];
        if (x != y && x != 1 && y != 1)
            return 0;
        out->dim[off + i] = x > y ? x : y;
    }
    return 1;
}

char *shape_str(const Shape *s, char *buf, size_t n)
{
    size_t len = 0;
    len += (size_t)snprintf(buf + len, n - len, "[");
    for (int i = 0; i < s->rank && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? ", " : "", s->dim[i]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

Shape shape_make(int rank, const int *dims)
{
    Shape s = {rank, {0}};
    for (int i = 0; i < rank; i++)
        s.dim[i] = dims[i];
    return s;
}

/*
 * Matrix products follow the usual vector conventions: a vector on the left
 * is a row [1, k], on the right a column [k, 1], and the implied 1 is dropped
 * from the result (matrix @ vector is a vector, vector @ vector a scalar).
 * The transpose flags exist for reverse mode: a transposed vector on the left
 * is a column and on the right a row, which makes outer products
 * (d_W += outer(d_z, x)) ordinary matmuls.
 */
int ir_matmul_shape(const Shape *a, int ta, const Shape *b, int tb, Shape *out,
                    char *err, size_t errlen)
{
    if (a->rank < 1 || a->rank > 2 || b->rank < 1 || b->rank > 2) {
        snprintf(err, errlen, "operands must be vectors or matrices");
        return 0;
    }
    int am, ak, bk, bn;
    if (a->rank == 1) { am = ta ? a->dim[0] : 1; ak = ta ? 1 : a->dim[0]; }
    else              { am = a->dim[ta ? 1 : 0]; ak = a->dim[ta ? 0 : 1]; }
    if (b->rank == 1) { bk = tb ? 1 : b->dim[0]; bn = tb ? b->dim[0] : 1; }
    else              { bk = b->dim[tb ? 1 : 0]; bn = b->dim[tb ? 0 : 1]; }
    if (ak != bk) {
        snprintf(err, errlen, "inner dimensions differ (%d vs %d)", ak, bk);
        return 0;
    }
    out->rank = 0;
    if (!(a->rank == 1 && !ta))
        out->dim[out->rank++] = am;
    if (!(b->rank == 1 && !tb))
        out->dim[out->rank++] = bn;
    if (!shape_fits(out)) {
        snprintf(err, errlen, "the product would have %.0f elements, more than the 2^28 a tensor may have",
                 (double)am * bn);
        return 0;
    }
    return 1;
}

/* ---- names and notation ---- */

const char *ir_value_name(const IrProgram *p, int id)
{
    static char buf[8][64];
    static int k;
    const Value *v = &p->v[id];
    if (v->op == OP_CONST) {
        char *b = buf[k++ % 8];
        snprintf(b, 64, v->num < 0 ? "(%g)" : "%g", v->num);
        return b;
    }
    if (v->name)
        return v->name;
    char *b = buf[k++ % 8];
    snprintf(b, 64, "%%%d", id);
    return b;
}

/* Substitute operand names for $0 $1 $2 in a notation template. */
static void expand(const IrProgram *p, const Value *v, const char *tmpl, char *buf, size_t n)
{
    size_t len = 0;
    for (const char *s = tmpl; *s && len + 1 < n; s++) {
        if (*s == '$' && s[1] >= '0' && s[1] <= '3') {
            const char *name = ir_value_name(p, v->arg[s[1] - '0']);
            len += (size_t)snprintf(buf + len, n - len, "%s", name);
            s++;
        } else {
            buf[len++] = *s;
        }
    }
    buf[len < n ? len : n - 1] = '\0';
}

/* ---- views ---- */

int ir_view_small(const IrProgram *p, int id)
{
    return p->v[id].op == OP_PLACE ? p->v[id].arg[0] : id;
}

const Shape *ir_view_big_shape(const IrProgram *p, int id)
{
    return &p->v[p->v[id].op == OP_PLACE ? id : p->v[id].arg[0]].shape;
}

int ir_view_axes(const IrProgram *p, int id, int *start, int *axis)
{
    const Value *v = &p->v[id];
    const Shape *big = ir_view_big_shape(p, id), *small = &p->v[ir_view_small(p, id)].shape;
    int bs[IR_MAXRANK], k = 0;
    for (int a = big->rank - 1, s = 1; a >= 0; a--) {
        bs[a] = s;
        s *= big->dim[a];
    }
    for (int a = 0; a < big->rank; a++) {
        start[a] = v->view.off / bs[a] % big->dim[a];
        axis[a] = -1;
        if (k < small->rank && v->view.stride[k] == bs[a] &&
            start[a] + small->dim[k] <= big->dim[a])
            axis[a] = k++;
    }
    return k == small->rank;
}

int ir_view_step_axis(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    const Shape *big = ir_view_big_shape(p, id);
    if (!v->view.step)
        return -1;
    for (int a = big->rank - 1, s = 1; a >= 0; a--) {
        if (v->view.step == s)
            return a;
        s *= big->dim[a];
    }
    return -1;
}

char *ir_view_index(const IrProgram *p, int id, char *buf, size_t n)
{
    const Shape *big = ir_view_big_shape(p, id);
    int start[IR_MAXRANK], axis[IR_MAXRANK];
    buf[0] = '\0';
    if (!ir_view_axes(p, id, start, axis))
        return buf;
    const Shape *small = &p->v[ir_view_small(p, id)].shape;
    /* trailing whole axes go unsaid, as numpy's X[3] is X[3, :] */
    int last = big->rank;
    while (last > 1 && axis[last - 1] >= 0 && start[last - 1] == 0 &&
           small->dim[axis[last - 1]] == big->dim[last - 1])
        last--;
    size_t len = (size_t)snprintf(buf, n, "[");
    int ta = ir_view_step_axis(p, id), l = ir_loop_of(p, id);
    const char *tv = l >= 0 ? p->loops[l].var : "t";
    for (int a = 0; a < last && len < n; a++) {
        const char *sep = a ? ", " : "";
        if (axis[a] < 0 && a == ta)   /* X[t]: the loop's step */
            len += (size_t)snprintf(buf + len, n - len, start[a] ? "%s%s + %d" : "%s%s", sep, tv,
                                    start[a]);
        else if (axis[a] < 0)
            len += (size_t)snprintf(buf + len, n - len, "%s%d", sep, start[a]);
        else if (start[a] == 0 && small->dim[axis[a]] == big->dim[a])
            len += (size_t)snprintf(buf + len, n - len, "%s:", sep);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s%d:%d", sep, start[a],
                                    start[a] + small->dim[axis[a]]);
    }
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

/* A window op's notation as the language writes it: a convolution without
 * its bias when it has none (the constant 0), then the window and the
 * stride and padding where not the defaults: conv2d(x, K, stride = 2),
 * maxpool2d(h, 2). */
static void window_notation(const IrProgram *p, const Value *v, char *buf, size_t n)
{
    size_t len = strlen(buf);
    if (len == 0 || buf[len - 1] != ')')
        return;
    len--;
    if ((v->op == OP_CONV2D || v->op == OP_CONV1D) && p->v[v->arg[2]].op == OP_CONST) {
        char *c = strrchr(buf, ',');
        if (c)
            len = (size_t)(c - buf);
    }
    if (v->window)
        len += (size_t)snprintf(buf + len, len < n ? n - len : 0, ", %d", v->window);
    if (len < n && v->stride != (v->window ? v->window : 1))
        len += (size_t)snprintf(buf + len, n - len, ", stride = %d", v->stride);
    if (len < n && v->pad)
        len += (size_t)snprintf(buf + len, n - len, ", pad = %d", v->pad);
    if (len < n)
        snprintf(buf + len, n - len, ")");
}

char *ir_rhs_notation(const IrProgram *p, int id, char *buf, size_t n)
{
    const Value *v = &p->v[id];
    switch (v->op) {
    case OP_INPUT:
        snprintf(buf, n, "%s", p->slots[v->index].name);
        break;
    case OP_PARAM:
        snprintf(buf, n, "%s", p->params[v->index].name);
        break;
    case OP_CONST:
        snprintf(buf, n, "%g", v->num);
        break;
    case OP_LITERAL:
        snprintf(buf, n, "[...]");
        break;
    case OP_MATMUL: {
        const Value *a = &p->v[v->arg[0]], *b = &p->v[v->arg[1]];
        const char *an = ir_value_name(p, v->arg[0]), *bn = ir_value_name(p, v->arg[1]);
        if (a->shape.rank == 1 && v->ta && b->shape.rank == 1 && v->tb)
            snprintf(buf, n, "%s @ %s'", an, bn);   /* columns: the outer product */
        else
            snprintf(buf, n, "%s%s @ %s%s", an, v->ta && a->shape.rank == 2 ? "'" : "",
                     bn, v->tb && b->shape.rank == 2 ? "'" : "");
        break;
    }
    case OP_VIEW:
    case OP_PLACE: {
        /* a view: X[3], h[2:5]; a placement names its target's part
         * (ir_notation), so its right side is the operand itself */
        char ix[64], sh[64];
        const char *a = ir_value_name(p, v->arg[0]);
        ir_view_index(p, id, ix, sizeof ix);
        if (!ix[0])
            snprintf(buf, n, "reshape(%s, %s)", a, shape_str(&v->shape, sh, sizeof sh));
        else
            snprintf(buf, n, "%s%s", a, v->op == OP_VIEW ? ix : "");
        break;
    }
    case OP_SCATTER:   /* d_E[seq] += d_e: the rows are ir_notation's */
        snprintf(buf, n, "%s", ir_value_name(p, v->arg[0]));
        break;
    default:
        expand(p, v, ir_ops[v->op].notation, buf, n);
        if (ir_ops[v->op].kind == K_CONV)
            window_notation(p, v, buf, n);
    }
    return buf;
}

/* The part of value id's destination it writes, for notation: a
 * placement's "[3]" (empty for everything else). */
static const char *dest_part(const IrProgram *p, int id, char *buf, size_t n)
{
    buf[0] = '\0';
    if (p->v[id].op == OP_PLACE)
        ir_view_index(p, id, buf, n);
    if (p->v[id].op == OP_SCATTER)
        snprintf(buf, n, "[%s]", ir_value_name(p, p->v[id].arg[1]));
    return buf;
}

char *ir_notation(const IrProgram *p, int id, char *buf, size_t n)
{
    const Value *v = &p->v[id];
    char rhs[256], part[64];
    ir_rhs_notation(p, id, rhs, sizeof rhs);
    dest_part(p, id, part, sizeof part);
    if (v->acc >= 0)
        snprintf(buf, n, "%s%s += %s", ir_value_name(p, v->acc), part, rhs);
    else
        snprintf(buf, n, "%s%s = %s", ir_value_name(p, id), part, rhs);
    return buf;
}

/* ---- the text form ---- */

static void print_value(FILE *out, const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    char sh[64], note[300];
    int col = fprintf(out, "  %%%d = %s", id, ir_ops[v->op].name);
    switch (v->op) {
    case OP_INPUT:
        col += fprintf(out, " %s", p->slots[v->index].name);
        break;
    case OP_PARAM:
        col += fprintf(out, " %s", p->params[v->index].name);
        break;
    case OP_CONST:
        col += fprintf(out, " %.17g", v->num);
        break;
    case OP_LITERAL: {
        /* the values, row-major: the text form is complete */
        int n = shape_numel(&v->shape);
        col += fprintf(out, " [");
        for (int i = 0; i < n; i++)
            col += fprintf(out, "%s%.17g", i ? ", " : "", p->literals[v->index][i]);
        col += fprintf(out, "]");
        break;
    }
    default:
        for (int i = 0; i < v->nargs; i++)
            col += fprintf(out, "%s%%%d", i ? ", " : " ", v->arg[i]);
    }
    if (v->op == OP_MATMUL && (v->ta || v->tb))
        col += fprintf(out, " [%s%s]", v->ta ? "ta" : "", v->tb ? (v->ta ? ",tb" : "tb") : "");
    if (ir_ops[v->op].kind == K_VIEW) {
        const Shape *small = &p->v[ir_view_small(p, id)].shape;
        col += fprintf(out, " at %d", v->view.off);
        if (v->view.step)
            col += fprintf(out, " + %d t", v->view.step);
        col += fprintf(out, " by [");
        for (int k = 0; k < small->rank; k++)
            col += fprintf(out, "%s%d", k ? ", " : "", v->view.stride[k]);
        col += fprintf(out, "]");
    }
    if (ir_ops[v->op].kind == K_CONV) {
        if (v->window)
            col += fprintf(out, " [window=%d,stride=%d]", v->window, v->stride);
        else
            col += fprintf(out, " [stride=%d,pad=%d]", v->stride, v->pad);
    }
    if (v->acc >= 0)
        col += fprintf(out, " +-> %%%d", v->acc);
    col += fprintf(out, " : %s%s", shape_str(&v->shape, sh, sizeof sh), v->batched ? " batch" : "");
    if (v->label)
        col += fprintf(out, " label");
    fprintf(out, "%*s; ", col < 48 ? 48 - col : 1, "");
    if (ir_ops[v->op].kind == K_LEAF || v->op == OP_ADJ)
        fprintf(out, "%s", ir_value_name(p, id));
    else
        fprintf(out, "%s", ir_notation(p, id, note, sizeof note));
    if (v->loc.file && v->loc.line)
        fprintf(out, "   (line %d)", v->loc.line);
    fputc('\n', out);
}

/* A rolled loop's first and last lines in the text form: `loop t = 0 .. 27
 * {` above the step (with its carries: `%5 <- %12` reads %12 of the step
 * before), `loop t = 27 .. 0 {` above its adjoint, `}` below. */
static void print_loop_edge(FILE *out, const IrProgram *p, int id)
{
    for (int l = 0; l < p->nloops; l++) {
        const IrLoop *L = &p->loops[l];
        if (id == L->body || (id == L->bwd_begin && L->bwd_end > L->bwd_begin)) {
            int bwd = id != L->body;
            fprintf(out, "  loop %s = %d .. %d", L->var, bwd ? L->count - 1 : 0,
                    bwd ? 0 : L->count - 1);
            for (int k = 0; k < L->ncarry && !bwd; k++)
                fprintf(out, "%s%%%d <- %%%d", k ? ", " : ", carry ", L->carry[k], L->source[k]);
            fprintf(out, " {\n");
        }
    }
}

static void print_loop_close(FILE *out, const IrProgram *p, int id)
{
    for (int l = 0; l < p->nloops; l++)
        if (id + 1 == p->loops[l].end ||
            (id + 1 == p->loops[l].bwd_end && p->loops[l].bwd_end > p->loops[l].bwd_begin))
            fprintf(out, "  }\n");
}

void ir_print_range(FILE *out, const IrProgram *p, IrRange r)
{
    for (int i = r.begin; i < r.end; i++) {
        print_loop_edge(out, p, i);
        print_value(out, p, i);
        print_loop_close(out, p, i);
    }
}

static const char *init_names[] = {
    "zeros", "ones", "identity", "normal", "uniform", "xavier_uniform",
    "xavier_normal", "he_uniform", "he_normal", "literal", "load", "fill",
};

void ir_print(FILE *out, const IrProgram *p)
{
    char sh[64];
    fprintf(out, "; nnc IR of model %s (%s) from %s\n", p->name,
            p->dtype == DT_F64 ? "float64" : "float32", p->file);
    for (int i = 0; i < p->nslots; i++) {
        const IrSlot *s = &p->slots[i];
        if (s->noise == IR_NOISE_DROPOUT)
            fprintf(out, "noise %s %s dropout(%g)\n", s->name, shape_str(&s->shape, sh, sizeof sh),
                    s->a);
        else if (s->noise)
            fprintf(out, "noise %s %s %s(%g, %g)\n", s->name, shape_str(&s->shape, sh, sizeof sh),
                    s->noise == IR_NOISE_NORMAL ? "normal" : "uniform", s->a, s->b);
        else if (s->nclass)
            fprintf(out, "%s %s : class(%d)\n", s->target ? "target" : "input", s->name, s->nclass);
        else if (s->nindex)
            fprintf(out, "input %s %s : index(%d)\n", s->name, shape_str(&s->shape, sh, sizeof sh),
                    s->nindex);
        else
            fprintf(out, "%s %s %s\n", s->target ? "target" : "input", s->name,
                    shape_str(&s->shape, sh, sizeof sh));
    }
    for (int i = 0; i < p->nparams; i++) {
        const IrParam *q = &p->params[i];
        fprintf(out, "param %s %s %s", q->name, shape_str(&q->shape, sh, sizeof sh),
                init_names[q->init]);
        if (q->init == INIT_NORMAL || q->init == INIT_UNIFORM)
            fprintf(out, "(%g, %g)", q->a, q->b);
        if (q->init == INIT_FILL)
            fprintf(out, "(%g)", q->a);
        if (q->init == INIT_LOAD)
            fprintf(out, "(\"%s\", \"%s\")", q->file, q->key);
        fprintf(out, "%s\n", q->frozen ? " frozen" : "");
    }
    fprintf(out, "forward:\n");
    ir_print_range(out, p, p->fwd);
    fprintf(out, "loss %%%d\n", p->loss);
    if (p->penalty >= 0)
        fprintf(out, "penalty %%%d\n", p->penalty);
    if (p->output >= 0)
        fprintf(out, "output %%%d vs %s%s\n", p->output, p->slots[p->out_slot].name,
                p->out_value ? " (value)" : "");
    if (p->bwd_loss.end > p->bwd_loss.begin) {
        fprintf(out, "backward of loss (seed = w):\n");
        ir_print_range(out, p, p->bwd_loss);
    }
    if (p->bwd_penalty.end > p->bwd_penalty.begin) {
        fprintf(out, "backward of penalty (seed = 1):\n");
        ir_print_range(out, p, p->bwd_penalty);
    }
}

/* ---- the adjoint program in the language's notation ---- */

static const char grad_header[] =
    "# For one sample, d_v is dL/dv: the derivative of the loss with respect to v,\n"
    "# of v's shape.  Vectors are columns, so d_z @ x' is an outer product; * is\n"
    "# elementwise; (z > 0) is 1 where z > 0, else 0.  The first write to d_v is\n"
    "# '=', later ones add with '+='.  A parameter's gradient d_W adds '+=' over\n"
    "# the samples of a batch, from 0.  seed = dL/dloss for one sample: 1/B when\n"
    "# the batch objective is the mean over B samples (reduce = mean), 1 for sum.\n";

/* One step: "name = rhs", or "+=" where the target was written before (or is
 * a parameter's gradient, or only part of it is written), padded to a
 * column for the shape comment. */
static void print_step(FILE *out, const IrProgram *p, int id, char *written, int ind)
{
    const Value *v = &p->v[id];
    char expr[256], rhs[270], line[400], sh[64];
    ir_rhs_notation(p, id, expr, sizeof expr);
    if (v->op == OP_LITERAL) {
        /* a literal in an expression: its values, row-major */
        size_t len = (size_t)snprintf(expr, sizeof expr, "[");
        for (int i = 0; i < shape_numel(&v->shape) && len < sizeof expr - 40; i++)
            len += (size_t)snprintf(expr + len, sizeof expr - len, "%s%g", i ? ", " : "",
                                    p->literals[v->index][i]);
        snprintf(expr + len, sizeof expr - len, "]");
    }
    snprintf(rhs, sizeof rhs, "%s", expr);
    const Value *dst = v->acc >= 0 ? &p->v[v->acc] : v;
    const char *op = "=";
    if (v->acc >= 0) {
        int place = v->op == OP_PLACE || v->op == OP_SCATTER;   /* writes a part: always += */
        int full = v->op == OP_MATMUL || (shape_equal(&v->shape, &dst->shape) && !place);
        int scalar = !full && !place && shape_numel(&dst->shape) == 1;
        if (scalar)
            /* a broadcast scalar receives the sum of every element's adjoint */
            snprintf(rhs, sizeof rhs, "sum(%s)", expr);
        if (p->v[dst->arg[0]].op == OP_PARAM || written[v->acc] || !(full || scalar) ||
            v->batched != dst->batched)
            op = "+=";
        written[v->acc] = 1;
    }
    char part[64];
    dest_part(p, id, part, sizeof part);
    snprintf(line, sizeof line, "%*s%s%s %s %s", ind, "", ir_value_name(p, v->acc >= 0 ? v->acc : id),
             part,
             op, rhs);
    fprintf(out, "%-40s # %s%s\n", line, shape_str(&dst->shape, sh, sizeof sh),
            v->acc >= 0 && !(v->op == OP_MATMUL || shape_equal(&v->shape, &dst->shape)) &&
            shape_numel(&dst->shape) > 1 ? ", summed over the broadcast dimensions" : "");
}

/* A rolled loop's head (ir.h, IrLoop): its steps' order and what each
 * carry holds. */
static void print_loop_head(FILE *out, const IrProgram *p, const IrLoop *L, int bwd)
{
    fprintf(out, "repeat %s = %d .. %d {", L->var, bwd ? L->count - 1 : 0, bwd ? 0 : L->count - 1);
    for (int c = 0; c < L->ncarry; c++) {
        const char *cn = ir_value_name(p, L->carry[c]), *sn = ir_value_name(p, L->source[c]);
        if (bwd)
            fprintf(out, "%s d_%s of step %s is d_%s of step %s - 1", c ? ";" : "    #", cn,
                    L->var, sn, L->var);
        else
            fprintf(out, "%s %s is %s of step %s - 1 (from %s = 1)", c ? ";" : "    #", cn, sn,
                    L->var, L->var);
    }
    fputc('\n', out);
}

static void print_steps(FILE *out, const IrProgram *p, IrRange r, const char *mark, char *written,
                        int bwd)
{
    int last = -1, ind = 0;
    for (int i = r.begin; i < r.end; i++) {
        const Value *v = &p->v[i];
        for (int l = 0; l < p->nloops; l++)
            if (i == (bwd ? p->loops[l].bwd_begin : p->loops[l].body) &&
                (!bwd || p->loops[l].bwd_end > i)) {
                print_loop_head(out, p, &p->loops[l], bwd);
                ind = 4;
                last = -1;
            }
        if (!((ir_ops[v->op].kind == K_LEAF && v->op != OP_LITERAL) || v->op == OP_ADJ ||
              (mark && !mark[i]))) {
            if (v->stmt != last && v->stmt < p->nstmts) {
                last = v->stmt;
                fprintf(out, "%*s# %d: %s\n", ind, "", p->stmts[last].line, p->stmts[last].text);
            }
            print_step(out, p, i, written, ind);
        }
        for (int l = 0; l < p->nloops; l++)
            if (i + 1 == (bwd ? p->loops[l].bwd_end : p->loops[l].end) &&
                (!bwd || p->loops[l].bwd_end > p->loops[l].bwd_begin)) {
                fprintf(out, "}\n");
                ind = 0;
                last = -1;
            }
    }
}

void ir_print_grad(FILE *out, const IrProgram *p)
{
    char *written = calloc((size_t)p->nv + 1, 1), *mark = calloc((size_t)p->nv + 1, 1);
    if (!written || !mark)
        diag_internal("out of memory");
    /* the forward values the loss, the penalty and the adjoint programs use */
    int roots[2] = {p->loss, p->penalty};
    for (int k = 0; k < 2; k++)
        if (roots[k] >= 0)
            mark[roots[k]] = 1;
    for (int i = p->fwd.end; i < p->nv; i++)
        for (int a = 0; a < p->v[i].nargs; a++)
            mark[p->v[i].arg[a]] = 1;
    for (int i = p->fwd.end - 1; i >= p->fwd.begin; i--)
        if (mark[i])
            for (int a = 0; a < p->v[i].nargs; a++)
                mark[p->v[i].arg[a]] = 1;

    fprintf(out, "# the adjoint program of model %s (%s), written by nnc --emit=grad\n#\n%s",
            p->name, p->file, grad_header);
    fprintf(out, "\n# forward: the values the backward pass reads\n");
    print_steps(out, p, p->fwd, mark, written, 0);
    if (p->bwd_loss.end > p->bwd_loss.begin) {
        fprintf(out, "\n# backward: the adjoint of the loss, statements in reverse order\n");
        print_steps(out, p, p->bwd_loss, NULL, written, 1);
    }
    if (p->bwd_penalty.end > p->bwd_penalty.begin) {
        fprintf(out, "\n# backward: the adjoint of the penalty (once per batch, seed = 1)\n");
        memset(written, 0, (size_t)p->nv);
        print_steps(out, p, p->bwd_penalty, NULL, written, 1);
    }
    fprintf(out, "\n# gradients\n");
    for (int i = 0; i < p->nparams; i++) {
        const IrParam *q = &p->params[i];
        char sh[64];
        shape_str(&q->shape, sh, sizeof sh);
        if (q->frozen)
            fprintf(out, "# %s is frozen: no gradient\n", q->name);
        else if (p->grad[i] < 0)
            fprintf(out, "# %s does not affect the loss: its gradient is 0\n", q->name);
        else {
            char line[200];
            snprintf(line, sizeof line, "dL/d%s = d_%s", q->name, q->name);
            fprintf(out, "%-40s # %s\n", line, sh);
        }
    }
    free(written);
    free(mark);
}

/* ---- verifier ---- */

/* The result of sliding a window of kernel's spatial dimensions (kernel
 * [O, C, KH, KW] or [O, C, KL]; a pool: its window, O = C) over x
 * [C, H, W] or [C, L] (ops.def, K_CONV). */
static Shape window_shape(const Shape *x, const Shape *kernel, const Value *v)
{
    Shape out = *x;
    int sp = x->rank - 1;
    if (kernel)
        out.dim[0] = kernel->dim[0];
    for (int d = 0; d < sp; d++) {
        int k = kernel ? kernel->dim[2 + d] : v->window;
        out.dim[1 + d] = (x->dim[1 + d] + 2 * v->pad - k) / (v->stride ? v->stride : 1) + 1;
    }
    return out;
}

/* K_CONV's shape rules: each op's operands against the forward op it
 * implements or differentiates. */
static void verify_window(const IrProgram *p, int id)
{
    const Value *v = &p->v[id];
    const Shape *a0 = &p->v[v->arg[0]].shape, *a1 = v->nargs > 1 ? &p->v[v->arg[1]].shape : NULL;
    const Shape *x = NULL, *k = NULL, *y = NULL;
    switch (v->op) {
    case OP_CONV2D: case OP_CONV1D: x = a0; k = a1; y = &v->shape; break;
    case OP_CONV_BWD_X: y = a0; k = a1; x = &v->shape; break;
    case OP_CONV_BWD_K: y = a0; x = a1; k = &v->shape; break;
    case OP_MAXPOOL2D: case OP_MAXPOOL1D: case OP_AVGPOOL2D: case OP_AVGPOOL1D:
        x = a0; y = &v->shape; break;
    case OP_MAXPOOL_BWD: y = a0; x = a1; break;
    case OP_AVGPOOL_BWD: y = a0; x = &v->shape; break;
    case OP_CONV_BWD_B:
        if (v->shape.rank != 1 || a0->rank < 2 || v->shape.dim[0] != a0->dim[0])
            diag_internal("ir: %%%d (conv_bwd_b): bad shape", id);
        return;
    default:
        diag_internal("ir: %%%d (%s): not a window op", id, ir_ops[v->op].name);
    }
    int sp = x->rank - 1;
    if (sp < 1 || sp > 2 || v->stride < 1 || v->pad < 0 || (k && (k->rank != sp + 2 || k->dim[1] != x->dim[0])))
        diag_internal("ir: %%%d (%s): bad operands", id, ir_ops[v->op].name);
    Shape want = window_shape(x, k, v);
    if (!shape_equal(&want, y))
        diag_internal("ir: %%%d (%s): bad shape", id, ir_ops[v->op].name);
    if (v->op == OP_MAXPOOL_BWD && !shape_equal(x, &v->shape))
        diag_internal("ir: %%%d (maxpool_bwd): bad shape", id);
}

int ir_loop_of(const IrProgram *p, int id)
{
    for (int l = 0; l < p->nloops; l++) {
        const IrLoop *L = &p->loops[l];
        if ((id >= L->body && id < L->end) || (id >= L->bwd_begin && id < L->bwd_end))
            return l;
    }
    return -1;
}

int ir_carry_of(const IrProgram *p, int id, int *k)
{
    for (int l = 0; l < p->nloops; l++)
        for (int c = 0; c < p->loops[l].ncarry; c++)
            if (p->loops[l].carry[c] == id) {
                if (k)
                    *k = c;
                return l;
            }
    return -1;
}

int ir_source_of(const IrProgram *p, int id, int *k)
{
    for (int l = 0; l < p->nloops; l++)
        for (int c = 0; c < p->loops[l].ncarry; c++)
            if (p->loops[l].source[c] == id) {
                if (k)
                    *k = c;
                return l;
            }
    return -1;
}

void ir_mark_deps(const IrProgram *p, int root, char *mark)
{
    if (root < 0)
        return;
    mark[root] = 1;
    int hi = root;
    for (int again = 1; again;) {
        again = 0;
        for (int i = hi; i >= 0; i--)
            if (mark[i])
                for (int a = 0; a < p->v[i].nargs; a++)
                    mark[p->v[i].arg[a]] = 1;
        /* a carry read at step t is its source of step t - 1 */
        for (int l = 0; l < p->nloops; l++)
            for (int c = 0; c < p->loops[l].ncarry; c++)
                if (mark[p->loops[l].carry[c]] && !mark[p->loops[l].source[c]]) {
                    mark[p->loops[l].source[c]] = 1;
                    if (p->loops[l].source[c] > hi)
                        hi = p->loops[l].source[c];
                    again = 1;
                }
    }
}

/* A rolled loop's structure: carries are copies just before the step,
 * each source a step value of the same shape. */
static void verify_loops(const IrProgram *p)
{
    for (int l = 0; l < p->nloops; l++) {
        const IrLoop *L = &p->loops[l];
        if (L->count < 2 || L->body < L->ncarry || L->end <= L->body || L->end > p->fwd.end)
            diag_internal("ir: loop %d: bad range", l);
        for (int c = 0; c < L->ncarry; c++) {
            const Value *cv = &p->v[L->carry[c]], *sv = &p->v[L->source[c]];
            if (L->carry[c] != L->body - L->ncarry + c || cv->op != OP_COPY)
                diag_internal("ir: loop %d: carry %%%d is not a copy before the step", l,
                              L->carry[c]);
            if (L->source[c] < L->body || L->source[c] >= L->end ||
                !shape_equal(&cv->shape, &sv->shape) || cv->batched != sv->batched)
                diag_internal("ir: loop %d: carry %%%d's source %%%d", l, L->carry[c],
                              L->source[c]);
        }
    }
}

void ir_verify(const IrProgram *p)
{
    verify_loops(p);
    char err[128];
    for (int id = 0; id < p->nv; id++) {
        const Value *v = &p->v[id];
        const OpInfo *o = &ir_ops[v->op];
        if (v->nargs != o->arity)
            diag_internal("ir: %%%d (%s) has %d operands, wants %d", id, o->name, v->nargs, o->arity);
        for (int i = 0; i < v->nargs; i++)
            if (v->arg[i] < 0 || v->arg[i] >= id)
                diag_internal("ir: %%%d (%s) uses %%%d before it exists", id, o->name, v->arg[i]);
        if (v->acc >= id)
            diag_internal("ir: %%%d accumulates into later value %%%d", id, v->acc);
        Shape want;
        switch (o->kind) {
        case K_MAP:
            for (int i = 0; i < v->nargs; i++)
                if (!shape_broadcasts(&p->v[v->arg[i]].shape, &v->shape))
                    diag_internal("ir: %%%d (%s): operand %%%d does not broadcast to its shape",
                                  id, o->name, v->arg[i]);
            if (v->acc >= 0 && !shape_broadcasts(&p->v[v->acc].shape, &v->shape))
                diag_internal("ir: %%%d (%s): target %%%d does not broadcast", id, o->name, v->acc);
            break;
        case K_MATMUL:
            if (!ir_matmul_shape(&p->v[v->arg[0]].shape, v->ta, &p->v[v->arg[1]].shape, v->tb,
                                 &want, err, sizeof err) || !shape_equal(&want, &v->shape))
                diag_internal("ir: %%%d (matmul): bad shape (%s)", id, err);
            break;
        case K_REDUCE:
            if (v->shape.rank != 0)
                diag_internal("ir: %%%d (%s) must be a scalar", id, o->name);
            break;
        case K_VIEW: {
            /* every element of the smaller tensor within the larger */
            const Shape *small = &p->v[ir_view_small(p, id)].shape;
            long last = v->view.off, first = v->view.off;
            for (int k = 0; k < small->rank; k++)
                last += (long)(small->dim[k] - 1) * v->view.stride[k];
            if (v->view.step) {   /* every step's (rolled loops) */
                int l = ir_loop_of(p, id);
                if (l < 0)
                    diag_internal("ir: %%%d (%s) moves by step outside a loop", id, o->name);
                long span = (long)(p->loops[l].count - 1) * v->view.step;
                first += span < 0 ? span : 0;
                last += span > 0 ? span : 0;
            }
            if (first < 0 || last >= shape_numel(ir_view_big_shape(p, id)))
                diag_internal("ir: %%%d (%s) reaches outside its tensor", id, o->name);
            if (v->acc >= 0 && !shape_equal(&p->v[v->acc].shape, &v->shape))
                diag_internal("ir: %%%d (%s): target %%%d is not of its shape", id, o->name, v->acc);
            break;
        }
        case K_BATCH: {
            /* batch norm: x the normalised value ([C, ...]), s its statistics [2, C] */
            const Value *x = &p->v[v->arg[0]];
            int C = x->shape.rank ? x->shape.dim[0] : 1;
            int per_channel = v->op == OP_BN_DGAMMA || v->op == OP_BN_DBETA;
            int stats = v->op == OP_BN_STATS ? id : v->op == OP_BATCHNORM ? v->arg[1]
                        : v->op == OP_BN_DBETA ? -1 : v->arg[2];
            Shape sw = shape_make(2, (int[]){2, C}), cw = shape_make(1, &C);
            if (!x->batched || (stats >= 0 && !shape_equal(&p->v[stats].shape, &sw)))
                diag_internal("ir: %%%d (%s): statistics of other channels", id, o->name);
            if (v->op != OP_BN_STATS &&
                !shape_equal(&v->shape, per_channel ? &cw : &x->shape))
                diag_internal("ir: %%%d (%s): bad shape", id, o->name);
            break;
        }
        case K_CONV:
            verify_window(p, id);
            break;
        case K_GATHER: {
            /* [index's dims] + the table's but its first, the rows */
            const Shape *t = v->op == OP_GATHER ? &p->v[v->arg[0]].shape : &v->shape;
            const Shape *rows = v->op == OP_GATHER ? &v->shape : &p->v[v->arg[0]].shape;
            const Shape *ix = &p->v[v->arg[1]].shape;
            int ok = t->rank >= 1 && rows->rank == ix->rank + t->rank - 1;
            for (int k = 0; ok && k < rows->rank; k++)
                ok = rows->dim[k] == (k < ix->rank ? ix->dim[k] : t->dim[k - ix->rank + 1]);
            if (!ok || (v->acc >= 0 && !shape_equal(&p->v[v->acc].shape, &v->shape)))
                diag_internal("ir: %%%d (%s): bad shape", id, o->name);
            break;
        }
        default:
            break;
        }
        if (v->acc >= 0 && v->batched < p->v[v->acc].batched)
            diag_internal("ir: %%%d: unbatched value adds into batched %%%d", id, v->acc);
    }
}
