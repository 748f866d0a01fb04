/*
 * sema.c - names, constants, shapes; lowering the syntax tree to IR.
 *
 * Statements are processed in order, with one flat list of bindings (the
 * latest binding of a name wins, so `h = tanh(dense(h, w))` inside a
 * `repeat` rebinds h each time).  Expressions evaluate either to a number
 * known at compile time (constants fold completely, `-D` overrides applied)
 * or to an IR value with a static per-sample shape.  Every error is
 * reported with the span that caused it, and evaluation goes on with a
 * poisoned result, so one run reports several independent errors without
 * cascades.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "sema.h"
#include "nnrt.h"

const char *const sema_initialisers[] = {
    "zeros", "ones", "identity", "normal", "uniform", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "load", NULL,
};

/* B_POISON: a name whose definition had an error; using it is an error
 * already reported, so it evaluates silently to nothing. */
typedef enum BindKind { B_CONST, B_VALUE, B_POISON } BindKind;

typedef struct Binding {
    const char *name;
    BindKind kind;
    double num;        /* B_CONST */
    int value;         /* B_VALUE */
    const char *what;  /* "input", "target", "param", "const", "value" */
    Loc loc;
    int used;          /* an expression has read it (an overwritten value unread is warned about) */
    const char *str;   /* B_CONST holding a file name (const F = "w.pkl"), else NULL */
} Binding;

/* The result of evaluating an expression. */
typedef struct Ev {
    enum { EV_BAD, EV_NUM, EV_VAL } kind;
    double num;
    int v;
} Ev;

typedef struct Sema {
    IrProgram *p;
    const SemaOptions *opt;
    Binding *b;
    int nb, capb;
    int *bslot;         /* hash table over b: lookup() */
    size_t bmask;
    const char **line;  /* line[k]: where source line k + 1 starts */
    int nlines;
    int stmt;           /* current IrStmt */
    const char *bind_name;  /* the name being defined (for temporaries) */
    int ndense;
    int ndropout;
    int nbatchnorm;
    int nconv;          /* conv(h, n, k) calls so far: conv1_W, conv2_W, ... */
    int rolling;        /* inside the first steps of a repeat that may roll */
    int have_loss_stmt;
    Loc loss_loc, penalty_loc;
} Sema;

static const Ev BAD = {EV_BAD, 0, -1};

static int is_numeric(Sema *S, const Expr *e);

/* How a non-finite number reads in a message (printf's "-nan" varies). */
static const char *nonfinite_text(double x)
{
    return isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf";
}

/* ---- helpers ---- */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        diag_internal("out of memory");
    return p;
}


/* The bindings are found through a hash table of names, each slot the
 * index of the name's latest binding (or -1): a model of many constants or
 * statements looked each name up through all of them. */
static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The table slot of name: its binding's, or the empty one it would take. */
static int *binding_slot(Sema *S, const char *name)
{
    size_t i = name_hash(name) & S->bmask;
    while (S->bslot[i] >= 0 && strcmp(S->b[S->bslot[i]].name, name) != 0)
        i = (i + 1) & S->bmask;
    return &S->bslot[i];
}

static Binding *lookup(Sema *S, const char *name)
{
    if (!S->bslot)
        return NULL;
    int k = *binding_slot(S, name);
    return k >= 0 ? &S->b[k] : NULL;
}

static void bind(Sema *S, Binding b)
{
    if (S->nb == S->capb) {
        S->capb = S->capb ? 2 * S->capb : 32;
        S->b = xrealloc(S->b, (size_t)S->capb * sizeof *S->b);
        /* the table has twice as many slots as there can be bindings */
        free(S->bslot);
        size_t cap = 2 * (size_t)S->capb;
        S->bslot = xrealloc(NULL, cap * sizeof *S->bslot);
        memset(S->bslot, 0xff, cap * sizeof *S->bslot);   /* every slot -1 */
        S->bmask = cap - 1;
        for (int i = 0; i < S->nb; i++)
            *binding_slot(S, S->b[i].name) = i;
    }
    S->b[S->nb] = b;
    *binding_slot(S, b.name) = S->nb++;
}

/* "did you mean" over the bound names plus an optional extra list. */
static const char *closest_name(Sema *S, const char *word, const char *const *extra)
{
    int n = 0;
    for (const char *const *e = extra; e && *e; e++)
        n++;
    const char **cand = malloc((size_t)(S->nb + n + 1) * sizeof *cand);
    int k = 0;
    for (int i = 0; i < S->nb; i++)
        cand[k++] = S->b[i].name;
    for (int i = 0; i < n; i++)
        cand[k++] = extra[i];
    const char *r = diag_closest(word, cand, k);
    free(cand);
    return r;
}

static int emit(Sema *S, Op op, int nargs, const int *args, Shape shape, int batched, Loc loc)
{
    Value v;
    memset(&v, 0, sizeof v);
    v.op = op;
    v.nargs = nargs;
    for (int i = 0; i < nargs; i++)
        v.arg[i] = args[i];
    v.shape = shape;
    v.batched = batched;
    v.acc = -1;
    v.stmt = S->stmt;
    v.loc = loc;
    return ir_emit(S->p, v);
}

static Shape scalar_shape(void)
{
    Shape s = {0, {0}};
    return s;
}

static int const_value(Sema *S, double x, Loc loc)
{
    if (!isfinite(x))
        diag_error(loc, "this constant is %s; the model's numbers must be finite", nonfinite_text(x));
    int id = emit(S, OP_CONST, 0, NULL, scalar_shape(), 0, loc);
    S->p->v[id].num = x;
    return id;
}

static Value *V(Sema *S, int id) { return &S->p->v[id]; }

static int as_value(Sema *S, Ev e, Loc loc)
{
    if (e.kind == EV_NUM)
        return const_value(S, e.num, loc);
    return e.v;
}

static Ev num_ev(double x) { Ev e = {EV_NUM, x, -1}; return e; }
static Ev val_ev(int v) { Ev e = {EV_VAL, 0, v}; return e; }

static int is_integer(double x) { return x == floor(x) && fabs(x) < 1e9; }

static const char *shape_text(const Shape *s)
{
    static char buf[4][64];
    static int k;
    return shape_str(s, buf[k++ % 4], 64);
}

/* A note pointing at where the name an expression refers to was declared. */
static void note_decl(Sema *S, const Expr *e)
{
    if (!e || e->kind != EX_NAME)
        return;
    Binding *b = lookup(S, e->str);
    if (b && b->kind == B_VALUE && b->loc.file)
        diag_note(b->loc, "'%s' %s here as %s", e->str,
                  strcmp(b->what, "value") == 0 ? "defined" : "declared",
                  shape_text(&V(S, b->value)->shape));
}

/* ---- expressions ---- */

static Ev eval(Sema *S, const Expr *e);
static Ev eval_index(Sema *S, const Expr *e);
static Ev eval_reshape(Sema *S, const Expr *e);
static Ev eval_concat(Sema *S, const Expr *e);

/* An index input (`input tok : index(V)`) or a part of one (seq[t],
 * seq[1:3]): its V, or 0. */
static int index_input(Sema *S, int v)
{
    const Value *x = V(S, v);
    while (x->op == OP_VIEW)
        x = V(S, x->arg[0]);
    return x->op == OP_INPUT ? S->p->slots[x->index].nindex : 0;
}

/* Refuse class labels anywhere but as cross_entropy's target, and index
 * inputs anywhere but as an index (E[tok]). */
static int check_not_label(Sema *S, int v, const Expr *e, const char *what)
{
    if (v >= 0 && V(S, v)->label) {
        diag_error(e->loc, "%s: '%s' is a class label; it can only be the target of cross_entropy",
                   what, e->kind == EX_NAME ? e->str : "this");
        return 0;
    }
    if (v >= 0 && index_input(S, v)) {
        /* seq[t] is named by seq */
        const Expr *n = e;
        while (n->kind == EX_INDEX)
            n = n->lhs;
        const char *name = n->kind == EX_NAME ? n->str : NULL;
        if (n != e && name)
            diag_error(e->loc, "%s: this is part of the index input '%s' (index(%d)); it can only "
                       "pick rows, as in E[%s[t]]", what, name, index_input(S, v), name);
        else
            diag_error(e->loc, "%s: '%s' is an index input (index(%d)); it can only pick rows, as "
                       "in E[%s]", what, name ? name : "this", index_input(S, v), name ? name : "i");
        return 0;
    }
    return 1;
}

/* How the user wrote an elementwise op, for messages. */
static const char *map_word(Op op)
{
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_POW: return "^";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_EQ: return "==";
    default: return ir_ops[op].fn ? ir_ops[op].fn : ir_ops[op].name;
    }
}

/* Elementwise op with trailing-dimension broadcasting. */
static Ev map_op(Sema *S, Op op, int nargs, const int *args, const Expr *const *src, Loc loc)
{
    Shape sh = V(S, args[0])->shape;
    int batched = 0;
    for (int i = 0; i < nargs; i++) {
        const Shape *s = &V(S, args[i])->shape;
        if (!shape_broadcast(&sh, s, &sh)) {
            diag_error(loc, "'%s': shapes %s and %s do not broadcast (aligned from the right, "
                       "each dimension must equal the other's or be 1)",
                       map_word(op),
                       shape_text(&V(S, args[0])->shape), shape_text(s));
            if (src) {
                note_decl(S, src[0]);
                note_decl(S, src[i]);
            }
            return BAD;
        }
        batched |= V(S, args[i])->batched;
    }
    return val_ev(emit(S, op, nargs, args, sh, batched, loc));
}

/* The op of a binary operator of the language (but @). */
static Op binary_op(int op)
{
    switch (op) {
    case '+': return OP_ADD;
    case '-': return OP_SUB;
    case '*': return OP_MUL;
    case '/': return OP_DIV;
    case '<': return OP_LT;
    case '>': return OP_GT;
    case AST_LE: return OP_LE;
    case AST_GE: return OP_GE;
    case AST_EQ: return OP_EQ;
    }
    return OP_POW;
}

/* An elementwise op on numbers known at compile time: its element
 * expression (expr.h) in float64, as explain evaluates it. */
static Ev fold(Op op, double a, double b)
{
    double x[3] = {a, b, 0};
    return num_ev(ir_expr_eval(ir_op_expr(op), x));
}

static const char *op_word(int op)
{
    return ast_op_text(op);
}

/* The operand of '@', folding a transpose into the product's flags. */
static Ev matmul_operand(Sema *S, const Expr *e, int *trans, const Expr **named)
{
    *trans = 0;
    *named = e;
    if (e->kind == EX_TRANSPOSE) {
        Ev x = eval(S, e->lhs);
        *named = e->lhs;
        if (x.kind == EV_VAL && V(S, x.v)->shape.rank == 2)
            *trans = 1;
        return x;
    }
    return eval(S, e);
}

static Ev eval_matmul(Sema *S, const Expr *e)
{
    int ta, tb;
    const Expr *na, *nb;
    Ev a = matmul_operand(S, e->lhs, &ta, &na);
    Ev b = matmul_operand(S, e->rhs, &tb, &nb);
    if (a.kind == EV_BAD || b.kind == EV_BAD)
        return BAD;
    if (a.kind == EV_NUM || b.kind == EV_NUM || V(S, a.v)->shape.rank == 0 ||
        V(S, b.v)->shape.rank == 0) {
        diag_error(e->loc, "'@' needs vectors or matrices on both sides; use '*' to scale by a scalar");
        return BAD;
    }
    if (!check_not_label(S, a.v, e->lhs, "'@'") || !check_not_label(S, b.v, e->rhs, "'@'"))
        return BAD;
    Shape out;
    char err[128];
    if (!ir_matmul_shape(&V(S, a.v)->shape, ta, &V(S, b.v)->shape, tb, &out, err, sizeof err)) {
        diag_error(e->loc, "'@': %s: %s is %s%s, %s is %s%s", err,
                   na->kind == EX_NAME ? na->str : "the left side", shape_text(&V(S, a.v)->shape),
                   ta ? " (transposed)" : "",
                   nb->kind == EX_NAME ? nb->str : "the right side", shape_text(&V(S, b.v)->shape),
                   tb ? " (transposed)" : "");
        note_decl(S, na);
        note_decl(S, nb);
        return BAD;
    }
    if (V(S, a.v)->shape.rank > 2 || V(S, b.v)->shape.rank > 2)
        return BAD;
    int args[2] = {a.v, b.v};
    int id = emit(S, OP_MATMUL, 2, args, out, V(S, a.v)->batched || V(S, b.v)->batched, e->loc);
    V(S, id)->ta = ta;
    V(S, id)->tb = tb;
    return val_ev(id);
}

static Ev eval_binary(Sema *S, const Expr *e)
{
    if (e->op == '@')
        return eval_matmul(S, e);
    Ev a = eval(S, e->lhs), b = eval(S, e->rhs);
    if (a.kind == EV_BAD || b.kind == EV_BAD)
        return BAD;
    if (a.kind == EV_NUM && b.kind == EV_NUM)
        return fold(binary_op(e->op), a.num, b.num);
    if ((a.kind == EV_VAL && !check_not_label(S, a.v, e->lhs, op_word(e->op))) ||
        (b.kind == EV_VAL && !check_not_label(S, b.v, e->rhs, op_word(e->op))))
        return BAD;
    if (e->op == '^' && b.kind == EV_NUM && b.num == 2) {
        int args[1] = {a.v};
        return val_ev(emit(S, OP_SQUARE, 1, args, V(S, a.v)->shape, V(S, a.v)->batched, e->loc));
    }
    if (e->op == '^' && b.kind == EV_NUM && b.num == 1)
        return a;
    Op op = binary_op(e->op);
    int args[2] = {as_value(S, a, e->lhs->loc), as_value(S, b, e->rhs->loc)};
    const Expr *src[2] = {e->lhs, e->rhs};
    return map_op(S, op, 2, args, src, e->loc);
}

/* The value of a declaration: a leaf (an input or a parameter), number
 * index of the program's slots or parameters, named. */
static int declared(Sema *S, Op op, int index, const char *name, Shape sh, int batched, Loc loc)
{
    int id = emit(S, op, 0, NULL, sh, batched, loc);
    V(S, id)->index = index;
    V(S, id)->name = name;
    return id;
}

/* A new slot of the program (an input, a target or a tensor the runtime
 * draws), its batched input value made. */
static IrSlot *add_slot(Sema *S, const char *name, Shape sh, Loc loc)
{
    IrProgram *p = S->p;
    p->slots = xrealloc(p->slots, (size_t)(p->nslots + 1) * sizeof *p->slots);
    IrSlot *s = &p->slots[p->nslots];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->shape = sh;
    s->loc = loc;
    s->value = declared(S, OP_INPUT, p->nslots, name, sh, 1, loc);
    p->nslots++;
    return s;
}

/* A slot the runtime draws (IrSlot.noise): a batched input value, bound to
 * name when bind_it (a `noise` declaration; dropout's mask is not a name
 * of the model).  finish() moves these slots after the data slots. */
static int noise_slot(Sema *S, const char *name, Shape sh, IrNoise kind, double a, double b,
                      Loc loc)
{
    IrSlot *s = add_slot(S, name, sh, loc);
    s->noise = kind;
    s->a = a;
    s->b = b;
    return s->value;
}

/* dropout(h, p): h * mask, the mask a slot the runtime draws: in train mode
 * 0 with probability p, else 1 / (1 - p) (inverted dropout), in eval mode
 * 1.  Front-end sugar over a product, so mul's adjoint rule is dropout's. */
static Ev eval_dropout(Sema *S, const Expr *e)
{
    if (e->nargs != 2 || e->args[0].name || e->args[1].name) {
        diag_error(e->loc, "dropout takes (input, p), e.g. dropout(h, 0.5)");
        return BAD;
    }
    Ev h = eval(S, e->args[0].value);
    Ev q = eval(S, e->args[1].value);
    if (h.kind == EV_BAD || q.kind == EV_BAD)
        return BAD;
    if (q.kind != EV_NUM || !(q.num >= 0 && q.num < 1)) {
        diag_error(e->args[1].value->loc, "dropout: p, the probability of zeroing an element, "
                   "must be a number known at compile time in [0, 1)");
        return BAD;
    }
    int hv = as_value(S, h, e->args[0].value->loc);
    if (!check_not_label(S, hv, e->args[0].value, "dropout"))
        return BAD;
    char mn[40];
    snprintf(mn, sizeof mn, "dropout%d_mask", ++S->ndropout);
    Shape sh = V(S, hv)->shape;
    int mask = noise_slot(S, ir_strdup(S->p, mn), sh, IR_NOISE_DROPOUT, q.num, 0, e->loc);
    int args[2] = {hv, mask};
    return val_ev(emit(S, OP_MUL, 2, args, sh, 1, e->loc));
}

static void declare_param(Sema *S, const char *name, Shape shape, InitKind init, Loc loc, int frozen);

/* batchnorm(h): PyTorch's BatchNorm over the first axis of h (its C
 * features: each element of a vector, the channels of [C, H, W]), with
 * fresh parameters bnK_gamma and bnK_beta (trained) and bnK_mean and
 * bnK_var (the running statistics: frozen, no gradient; the runtime
 * updates them in train mode), then the IR of ops.def's batch norm. */
static Ev eval_batchnorm(Sema *S, const Expr *e)
{
    if (e->nargs != 1 || e->args[0].name) {
        diag_error(e->loc, "batchnorm takes one argument, got %d: batchnorm(h)", e->nargs);
        return BAD;
    }
    Ev h = eval(S, e->args[0].value);
    if (h.kind == EV_BAD)
        return BAD;
    if (h.kind != EV_VAL || !V(S, h.v)->batched) {
        diag_error(e->args[0].value->loc, "batchnorm normalises a value of each sample over the "
                   "batch; this one is %s", h.kind == EV_VAL ? "the same for every sample" : "a number");
        return BAD;
    }
    if (!check_not_label(S, h.v, e->args[0].value, "batchnorm"))
        return BAD;
    Shape hs = V(S, h.v)->shape;
    int C = hs.rank ? hs.dim[0] : 1;
    int k = ++S->nbatchnorm;
    static const char *const part[4] = {"gamma", "beta", "mean", "var"};
    static const InitKind init[4] = {INIT_ONES, INIT_ZEROS, INIT_ZEROS, INIT_ONES};
    int pv[4];
    for (int i = 0; i < 4; i++) {
        char nm[40];
        snprintf(nm, sizeof nm, "bn%d_%s", k, part[i]);
        declare_param(S, ir_strdup(S->p, nm), shape_make(1, &C), init[i], e->loc, i >= 2);
        pv[i] = S->p->params[S->p->nparams - 1].value;
    }
    int sargs[3] = {h.v, pv[2], pv[3]};
    int stats = emit(S, OP_BN_STATS, 3, sargs, shape_make(2, (int[]){2, C}), 0, e->loc);
    int args[4] = {h.v, stats, pv[0], pv[1]};
    return val_ev(emit(S, OP_BATCHNORM, 4, args, hs, 1, e->loc));
}

/* dense(h, n [, init = NAME]): W @ h + b with fresh parameters. */
static Ev eval_dense(Sema *S, const Expr *e)
{
    if (e->nargs < 2 || e->nargs > 3 || e->args[0].name || e->args[1].name) {
        diag_error(e->loc, "dense takes (input, width [, init = NAME]), e.g. dense(h, 10)");
        return BAD;
    }
    Ev h = eval(S, e->args[0].value);
    Ev n = eval(S, e->args[1].value);
    if (h.kind == EV_BAD || n.kind == EV_BAD)
        return BAD;
    if (n.kind != EV_NUM || !is_integer(n.num) || n.num < 1) {
        diag_error(e->args[1].value->loc, "dense: the width must be a positive integer constant");
        return BAD;
    }
    if (h.kind != EV_VAL || V(S, h.v)->shape.rank != 1) {
        diag_error(e->args[0].value->loc, "dense: the input must be a vector, not %s",
                   h.kind == EV_VAL ? shape_text(&V(S, h.v)->shape) : "a number");
        return BAD;
    }
    InitKind init = INIT_XAVIER_UNIFORM;
    if (e->nargs == 3) {
        const Arg *a = &e->args[2];
        static const char *const kinds[] = {"xavier_uniform", "xavier_normal", "he_uniform",
                                            "he_normal", "zeros", NULL};
        static const InitKind kv[] = {INIT_XAVIER_UNIFORM, INIT_XAVIER_NORMAL, INIT_HE_UNIFORM,
                                      INIT_HE_NORMAL, INIT_ZEROS};
        int ok = 0;
        if (a->name && strcmp(a->name, "init") == 0 && a->value->kind == EX_NAME)
            for (int i = 0; kinds[i]; i++)
                if (strcmp(kinds[i], a->value->str) == 0) {
                    init = kv[i];
                    ok = 1;
                }
        if (!ok) {
            diag_error(a->value->loc, "dense: the third argument is init = one of xavier_uniform, "
                       "xavier_normal, he_uniform, he_normal, zeros");
            return BAD;
        }
    }
    Shape wshape = shape_make(2, (int[]){n.num > IR_MAX_NUMEL ? IR_MAX_NUMEL + 1 : (int)n.num,
                                         V(S, h.v)->shape.dim[0]});
    if (!shape_fits(&wshape)) {
        diag_error(e->args[1].value->loc, "dense: a width of %g makes a weight of %.0f elements, more than "
                   "the 2^28 (268435456) a tensor may have", n.num, n.num * V(S, h.v)->shape.dim[0]);
        return BAD;
    }
    int k = ++S->ndense;
    char wn[32], bn[32];
    snprintf(wn, sizeof wn, "dense%d_W", k);
    snprintf(bn, sizeof bn, "dense%d_b", k);
    int dims[2] = {(int)n.num, V(S, h.v)->shape.dim[0]};
    declare_param(S, ir_strdup(S->p, wn), shape_make(2, dims), init, e->loc, 0);
    int W = S->p->params[S->p->nparams - 1].value;
    declare_param(S, ir_strdup(S->p, bn), shape_make(1, dims), INIT_ZEROS, e->loc, 0);
    int B = S->p->params[S->p->nparams - 1].value;
    int margs[2] = {W, h.v};
    Shape out = shape_make(1, dims);
    int z = emit(S, OP_MATMUL, 2, margs, out, V(S, h.v)->batched, e->loc);
    int aargs[2] = {z, B};
    return val_ev(emit(S, OP_ADD, 2, aargs, out, V(S, h.v)->batched, e->loc));
}

/* ---- sliding windows: conv2d, conv1d and the pools (ops.def, K_CONV) ---- */

/* A named argument NAME = integer >= lo known at compile time into *out:
 * 1 when given and good, 0 when absent, -1 after an error. */
static int window_number(Sema *S, const Expr *e, const char *f, const char *name, int lo,
                         int *out)
{
    for (int k = 0; k < e->nargs; k++) {
        const Arg *a = &e->args[k];
        if (!a->name || strcmp(a->name, name) != 0)
            continue;
        Ev x = eval(S, a->value);
        if (x.kind == EV_BAD)
            return -1;
        if (x.kind != EV_NUM || !is_integer(x.num) || x.num < lo || x.num > 1 << 20) {
            diag_error(a->value->loc, "%s: %s must be an integer constant of at least %d", f,
                       name, lo);
            return -1;
        }
        *out = (int)x.num;
        return 1;
    }
    return 0;
}

/* Named arguments other than those in `names` are errors. */
static int window_names(const Expr *e, const char *f, const char *const *names, const char *usage)
{
    for (int k = 0; k < e->nargs; k++) {
        const Arg *a = &e->args[k];
        if (!a->name)
            continue;
        int ok = 0;
        for (const char *const *n = names; *n; n++)
            ok |= strcmp(*n, a->name) == 0;
        if (!ok) {
            diag_error(a->name_loc, "%s has no argument '%s': %s(%s)", f, a->name, f, usage);
            return 0;
        }
    }
    return 1;
}

/* The positional arguments' count (they come first). */
static int positional(const Expr *e)
{
    int n = 0;
    while (n < e->nargs && !e->args[n].name)
        n++;
    for (int k = n; k < e->nargs; k++)
        if (!e->args[k].name)
            return -1;
    return n;
}

/* The output length of a window of k sliding by s over n + 2 pad, floored
 * as PyTorch does; the positions left over get a warning naming both
 * shapes.  0 after an error (a window larger than the padded input). */
static int window_out(const Expr *e, const char *f, const char *what, const Shape *x,
                      const Shape *w, int spatial, int n, int k, int s, int pad, int axis)
{
    int len = n + 2 * pad;
    if (k > len) {
        diag_error(e->loc, "%s: the %s (%s) is larger than the input %s%s along axis %d (%d > "
                   "%d%s)", f, what, shape_text(w), shape_text(x), pad ? " padded" : "",
                   axis, k, len, pad ? ", with the padding" : "");
        return 0;
    }
    if ((len - k) % s != 0 && spatial)
        diag_warning(e->loc, "%s: stride %d does not fit the input %s along axis %d: the %s (%s) "
                     "leaves the last %d of %d%s positions out (as PyTorch does)", f, s,
                     shape_text(x), axis, what, shape_text(w), (len - k) % s, len,
                     pad ? " padded" : "");
    return (len - k) / s + 1;
}

/* conv2d(x, K [, b], stride = 1, pad = 0): x [C, H, W], K [O, C, KH, KW], b [O]
 * -> [O, (H + 2 pad - KH) / stride + 1, (W + 2 pad - KW) / stride + 1];
 * conv1d the same over [C, L] and K [O, C, KL]. */
static Ev conv_value(Sema *S, const Expr *e, Op op, int x, int K, int b, int stride, int pad)
{
    const char *f = ir_ops[op].fn;
    int sp = op == OP_CONV2D ? 2 : 1;
    const Value *xv = V(S, x), *kv = V(S, K);
    const char *xs = sp == 2 ? "[C, H, W]" : "[C, L]", *ks = sp == 2 ? "[O, C, KH, KW]" : "[O, C, KL]";
    if (xv->shape.rank != sp + 1) {
        diag_error(e->args[0].value->loc, "%s: the input must be %s, not %s", f, xs,
                   shape_text(&xv->shape));
        return BAD;
    }
    if (kv->shape.rank != sp + 2) {
        diag_error(e->args[1].value->loc, "%s: the kernel must be %s, not %s", f, ks,
                   shape_text(&kv->shape));
        return BAD;
    }
    if (kv->batched || (b >= 0 && V(S, b)->batched)) {
        diag_error(e->args[kv->batched ? 1 : 2].value->loc, "%s: the kernel and the bias must "
                   "not depend on the data (parameters, or values computed from them)", f);
        return BAD;
    }
    int O = kv->shape.dim[0], C = xv->shape.dim[0];
    if (kv->shape.dim[1] != C) {
        diag_error(e->loc, "%s: channels do not match: the input %s has %d, the kernel %s "
                   "takes %d (its second axis)", f, shape_text(&xv->shape), C,
                   shape_text(&kv->shape), kv->shape.dim[1]);
        note_decl(S, e->args[0].value);
        note_decl(S, e->args[1].value);
        return BAD;
    }
    if (b >= 0 && (V(S, b)->shape.rank != 1 || V(S, b)->shape.dim[0] != O)) {
        diag_error(e->args[2].value->loc, "%s: the bias must be [%d], one number per output "
                   "channel of the kernel %s, not %s", f, O, shape_text(&kv->shape),
                   shape_text(&V(S, b)->shape));
        return BAD;
    }
    Shape out = {sp + 1, {O}};
    for (int d = 0; d < sp; d++) {
        out.dim[1 + d] = window_out(e, f, "kernel", &xv->shape, &kv->shape, 1,
                                    xv->shape.dim[1 + d], kv->shape.dim[2 + d], stride, pad, 1 + d);
        if (!out.dim[1 + d])
            return BAD;
    }
    if (!shape_fits(&out)) {
        diag_error(e->loc, "%s: the result %s has more than the 2^28 elements a tensor may have",
                   f, shape_text(&out));
        return BAD;
    }
    int args[3] = {x, K, b >= 0 ? b : const_value(S, 0, e->loc)};
    int id = emit(S, op, 3, args, out, xv->batched, e->loc);
    V(S, id)->stride = stride;
    V(S, id)->pad = pad;
    return val_ev(id);
}

/* The input of a window function: a value of rank sp + 1, no label. */
static int window_input(Sema *S, const Expr *a, const char *f, int sp)
{
    Ev x = eval(S, a);
    if (x.kind == EV_BAD)
        return -1;
    if (x.kind != EV_VAL || V(S, x.v)->shape.rank != sp + 1) {
        diag_error(a->loc, "%s: the input must be %s, not %s", f, sp == 2 ? "[C, H, W]" : "[C, L]",
                   x.kind == EV_VAL ? shape_text(&V(S, x.v)->shape) : "a number");
        return -1;
    }
    return check_not_label(S, x.v, a, f) ? x.v : -1;
}

/* conv2d(x, K [, b], stride = S, pad = P), conv1d(...) */
static Ev eval_conv(Sema *S, const Expr *e, Op op)
{
    const char *f = ir_ops[op].fn;
    static const char *const names[] = {"stride", "pad", NULL};
    int np = positional(e), stride = 1, pad = 0;
    if (np < 2 || np > 3) {
        diag_error(e->loc, "%s takes two or three arguments: (%s)", f, ir_ops[op].fn_args);
        return BAD;
    }
    if (!window_names(e, f, names, ir_ops[op].fn_args))
        return BAD;
    if (window_number(S, e, f, "stride", 1, &stride) < 0 || window_number(S, e, f, "pad", 0, &pad) < 0)
        return BAD;
    int sp = op == OP_CONV2D ? 2 : 1;
    int x = window_input(S, e->args[0].value, f, sp);
    Ev k = eval(S, e->args[1].value), b = np == 3 ? eval(S, e->args[2].value) : BAD;
    if (x < 0 || k.kind == EV_BAD || (np == 3 && b.kind == EV_BAD))
        return BAD;
    if (k.kind != EV_VAL || (np == 3 && b.kind != EV_VAL)) {
        diag_error(e->args[k.kind != EV_VAL ? 1 : 2].value->loc, "%s: the %s must be a tensor, "
                   "not a number", f, k.kind != EV_VAL ? "kernel" : "bias");
        return BAD;
    }
    return conv_value(S, e, op, x, k.v, np == 3 ? b.v : -1, stride, pad);
}

/* maxpool2d(x, window, stride = window), avgpool2d, maxpool1d, avgpool1d:
 * x [C, H, W] -> [C, (H - window) / stride + 1, (W - window) / stride + 1] */
static Ev eval_pool(Sema *S, const Expr *e, Op op)
{
    const char *f = ir_ops[op].fn;
    static const char *const names[] = {"stride", NULL};
    int np = positional(e);
    if (np != 2) {
        diag_error(e->loc, "%s takes two arguments: (%s), e.g. %s(h, 2)", f, ir_ops[op].fn_args, f);
        return BAD;
    }
    if (!window_names(e, f, names, ir_ops[op].fn_args))
        return BAD;
    int sp = op == OP_MAXPOOL2D || op == OP_AVGPOOL2D ? 2 : 1;
    int x = window_input(S, e->args[0].value, f, sp);
    Ev w = eval(S, e->args[1].value);
    if (x < 0 || w.kind == EV_BAD)
        return BAD;
    if (w.kind != EV_NUM || !is_integer(w.num) || w.num < 1 || w.num > 1 << 20) {
        diag_error(e->args[1].value->loc, "%s: the window must be a positive integer constant", f);
        return BAD;
    }
    int window = (int)w.num, stride = window;
    if (window_number(S, e, f, "stride", 1, &stride) < 0)
        return BAD;
    const Value *xv = V(S, x);
    Shape ws = {sp, {window, window}};
    Shape out = xv->shape;
    for (int d = 0; d < sp; d++) {
        out.dim[1 + d] = window_out(e, f, "window", &xv->shape, &ws, 1, xv->shape.dim[1 + d],
                                    window, stride, 0, 1 + d);
        if (!out.dim[1 + d])
            return BAD;
    }
    int id = emit(S, op, 1, &x, out, xv->batched, e->loc);
    V(S, id)->stride = stride;
    V(S, id)->window = window;
    return val_ev(id);
}

/* conv(h, n, k [, stride = S, pad = P]): conv2d (h [C, H, W]) or conv1d
 * (h [C, L]) with fresh parameters convK_W [n, C, k, k] (or [n, C, k]) and
 * convK_b [n], both uniform in +-1/sqrt(C k k) as PyTorch's Conv2d starts. */
static Ev eval_conv_sugar(Sema *S, const Expr *e)
{
    static const char *const names[] = {"stride", "pad", NULL};
    const char *usage = "input, channels, kernel size [, stride = 1, pad = 0]";
    int np = positional(e), stride = 1, pad = 0;
    if (np != 3) {
        diag_error(e->loc, "conv takes (%s), e.g. conv(img, 16, 5, pad = 2)", usage);
        return BAD;
    }
    if (!window_names(e, "conv", names, usage))
        return BAD;
    if (window_number(S, e, "conv", "stride", 1, &stride) < 0 ||
        window_number(S, e, "conv", "pad", 0, &pad) < 0)
        return BAD;
    Ev h = eval(S, e->args[0].value), n = eval(S, e->args[1].value), k = eval(S, e->args[2].value);
    if (h.kind == EV_BAD || n.kind == EV_BAD || k.kind == EV_BAD)
        return BAD;
    int rank = h.kind == EV_VAL ? V(S, h.v)->shape.rank : 0;
    if (rank != 2 && rank != 3) {
        diag_error(e->args[0].value->loc, "conv: the input must be [C, H, W] (conv2d) or [C, L] "
                   "(conv1d), not %s", h.kind == EV_VAL ? shape_text(&V(S, h.v)->shape) : "a number");
        return BAD;
    }
    for (int a = 1; a < 3; a++) {
        Ev c = a == 1 ? n : k;
        if (c.kind != EV_NUM || !is_integer(c.num) || c.num < 1 || c.num > 1 << 16) {
            diag_error(e->args[a].value->loc, "conv: the %s must be a positive integer constant",
                       a == 1 ? "number of channels" : "kernel size");
            return BAD;
        }
    }
    Op op = rank == 3 ? OP_CONV2D : OP_CONV1D;
    int C = V(S, h.v)->shape.dim[0], O = (int)n.num, ks = (int)k.num;
    Shape wshape = rank == 3 ? shape_make(4, (int[]){O, C, ks, ks}) : shape_make(3, (int[]){O, C, ks});
    if (!shape_fits(&wshape)) {
        diag_error(e->loc, "conv: the kernel %s would have more than the 2^28 elements a tensor "
                   "may have", shape_text(&wshape));
        return BAD;
    }
    int id = ++S->nconv;
    char wn[32], bn[32];
    snprintf(wn, sizeof wn, "conv%d_W", id);
    snprintf(bn, sizeof bn, "conv%d_b", id);
    double bound = 1 / sqrt((double)shape_numel(&wshape) / O);
    declare_param(S, ir_strdup(S->p, wn), wshape, INIT_UNIFORM, e->loc, 0);
    IrParam *q = &S->p->params[S->p->nparams - 1];
    q->a = -bound, q->b = bound;
    int W = q->value;
    declare_param(S, ir_strdup(S->p, bn), shape_make(1, &O), INIT_UNIFORM, e->loc, 0);
    q = &S->p->params[S->p->nparams - 1];
    q->a = -bound, q->b = bound;
    int B = q->value;
    if (!check_not_label(S, h.v, e->args[0].value, "conv"))
        return BAD;
    return conv_value(S, e, op, h.v, W, B, stride, pad);
}

/* The op that function f of the language makes (ops.def's fn column), or
 * OP_COUNT when there is none. */
static Op function_op(const char *f)
{
    for (int op = 0; op < OP_COUNT; op++)
        if (ir_ops[op].fn && strcmp(ir_ops[op].fn, f) == 0)
            return (Op)op;
    return OP_COUNT;
}

/* f(x) for a function of one argument: an elementwise function (folded
 * when x is a number), a reduction or a row op. */
static Ev eval_function(Sema *S, const Expr *e, Op op)
{
    const char *f = e->str;
    Ev x = eval(S, e->args[0].value);
    if (x.kind == EV_BAD)
        return BAD;
    IrKind kind = ir_ops[op].kind;
    if (x.kind == EV_NUM && kind == K_MAP)
        return fold(op, x.num, 0);
    int a = as_value(S, x, e->args[0].value->loc);
    if (!check_not_label(S, a, e->args[0].value, f))
        return BAD;
    const Value *av = V(S, a);
    if (kind == K_MAP)
        return val_ev(emit(S, op, 1, &a, av->shape, av->batched, e->loc));
    if (kind == K_REDUCE)
        return val_ev(emit(S, op, 1, &a, scalar_shape(), av->batched, e->loc));
    if (av->shape.rank == 0) {
        diag_error(e->loc, "%s needs a vector (it works along the last axis), not a scalar", f);
        return BAD;
    }
    return val_ev(emit(S, op, 1, &a, av->shape, av->batched, e->loc));
}

/* Argument k of function op as ops.def's fn_args writes it ("z, slope =
 * 0.01", "x, lo: number, ..."): its name into name; 1 when it has a default
 * (then *def), 2 when it is written NAME: number, else 0.  Either must be a
 * number known at compile time. */
static int function_arg(Op op, int k, char *name, size_t size, double *def)
{
    const char *a = ir_ops[op].fn_args;
    for (int i = 0; i < k && a; i++)
        a = strchr(a, ',') ? strchr(a, ',') + 1 : NULL;
    if (!a)
        diag_internal("ops.def: %s has no argument %d in fn_args", ir_ops[op].name, k);
    a += strspn(a, " ");
    size_t n = strcspn(a, " =:,");
    snprintf(name, size, "%.*s", (int)n, a);
    const char *eq = strchr(a, '='), *colon = strchr(a, ':'), *comma = strchr(a, ',');
    if (colon && (!comma || colon < comma))
        return 2;
    if (!eq || (comma && comma < eq))
        return 0;
    *def = strtod(eq + 1, NULL);
    return 1;
}

/* The arguments function op cannot do without: those before the first
 * with a default. */
static int function_required(Op op)
{
    char name[32];
    double def;
    int k = 0;
    while (k < ir_ops[op].arity && function_arg(op, k, name, sizeof name, &def) != 1)
        k++;
    return k;
}

/* f(a, b, ...) for an elementwise function of several arguments (max,
 * leaky_relu, ...): broadcast like the operators; an argument ops.def
 * gives a default must be a number (the default when left out); folded
 * when every argument is a number. */
static Ev eval_map_call(Sema *S, const Expr *e, Op op)
{
    const char *f = e->str;
    int n = ir_ops[op].arity, args[3], nums = 0, ok = 1;
    double num[3] = {0, 0, 0};
    Ev x[3];
    const Expr *src[3];
    for (int k = 0; k < n; k++) {
        char name[32];
        double def;
        int how = function_arg(op, k, name, sizeof name, &def);
        src[k] = k < e->nargs ? e->args[k].value : NULL;
        x[k] = src[k] ? eval(S, src[k]) : num_ev(def);
        int number = how != 0;
        if (x[k].kind == EV_BAD) {
            ok = 0;
            continue;
        }
        if (number && x[k].kind != EV_NUM) {
            diag_error(src[k]->loc, "%s: the %s must be a number known at compile time (a "
                       "constant expression), not a value", f, name);
            note_decl(S, src[k]);
            ok = 0;
            continue;
        }
        if (x[k].kind == EV_VAL && !check_not_label(S, x[k].v, src[k], f))
            ok = 0;
        nums += x[k].kind == EV_NUM;
        num[k] = x[k].num;
    }
    if (!ok)
        return BAD;
    if (op == OP_CLIP && num[1] > num[2]) {
        diag_error(e->loc, "clip: lo (%g) is more than hi (%g)", num[1], num[2]);
        return BAD;
    }
    if (nums == n)
        return num_ev(ir_expr_eval(ir_op_expr(op), num));
    for (int k = 0; k < n; k++)
        args[k] = as_value(S, x[k], src[k] ? src[k]->loc : e->loc);
    return map_op(S, op, n, args, src, e->loc);
}

/* cross_entropy(logits, target) with a class label, or
 * bce_with_logits(logits, target) with real targets, summed. */
static Ev eval_loss(Sema *S, const Expr *e, Op op)
{
    const char *f = e->str;
    Ev z = eval(S, e->args[0].value), t = eval(S, e->args[1].value);
    if (z.kind == EV_BAD || t.kind == EV_BAD)
        return BAD;
    int zv = as_value(S, z, e->args[0].value->loc);
    int tv = as_value(S, t, e->args[1].value->loc);
    if (!check_not_label(S, zv, e->args[0].value, f))
        return BAD;
    const Value *Z = V(S, zv), *T = V(S, tv);
    int args[2] = {zv, tv};
    if (op == OP_XENT) {
        if (!T->label) {
            diag_error(e->args[1].value->loc, "cross_entropy: the target must be a class label "
                       "(declare it as `target %s : class(K)`); for real-valued targets write "
                       "the loss out, e.g. 0.5 * sum((yhat - y)^2)",
                       e->args[1].value->kind == EX_NAME ? e->args[1].value->str : "c");
            return BAD;
        }
        int K = S->p->slots[T->index].nclass;
        if (Z->shape.rank != 1 || Z->shape.dim[0] != K) {
            diag_error(e->args[0].value->loc, "cross_entropy: the logits must be a vector of "
                       "%d entries (class(%d)), but are %s", K, K, shape_text(&Z->shape));
            note_decl(S, e->args[0].value);
            return BAD;
        }
        return val_ev(emit(S, OP_XENT, 2, args, scalar_shape(), 1, e->loc));
    }
    if (!check_not_label(S, tv, e->args[1].value, f))
        return BAD;
    const Expr *src[2] = {e->args[0].value, e->args[1].value};
    Ev m = map_op(S, op, 2, args, src, e->loc);
    if (m.kind == EV_BAD || V(S, m.v)->shape.rank == 0)
        return m;
    return val_ev(emit(S, OP_SUM, 1, &m.v, scalar_shape(), V(S, m.v)->batched, e->loc));
}

/* call = NAME "(" args ")": dense, or a function of ops.def (fn column),
 * with as many arguments as its op has operands */
static Ev eval_call(Sema *S, const Expr *e)
{
    const char *f = e->str;
    if (strcmp(f, "dense") == 0)
        return eval_dense(S, e);
    if (strcmp(f, "reshape") == 0 || strcmp(f, "flatten") == 0)
        return eval_reshape(S, e);
    if (strcmp(f, "concat") == 0 || strcmp(f, "stack") == 0)
        return eval_concat(S, e);
    if (strcmp(f, "dropout") == 0)
        return eval_dropout(S, e);
    if (strcmp(f, "batchnorm") == 0)
        return eval_batchnorm(S, e);
    if (strcmp(f, "conv") == 0)
        return eval_conv_sugar(S, e);
    Op op = function_op(f);
    if (op != OP_COUNT && ir_ops[op].kind == K_CONV)
        return op == OP_CONV2D || op == OP_CONV1D ? eval_conv(S, e, op) : eval_pool(S, e, op);
    if (op == OP_COUNT) {
        /* the candidates: ops.def's functions, then dense */
        const char *names[OP_COUNT + 8];
        int n = 0;
        for (int k = 0; k < OP_COUNT; k++)
            if (ir_ops[k].fn)
                names[n++] = ir_ops[k].fn;
        names[n++] = "dense";
        names[n++] = "reshape";
        names[n++] = "flatten";
        names[n++] = "concat";
        names[n++] = "stack";
        names[n++] = "dropout";
        names[n++] = "conv";
        names[n] = NULL;
        const char *near = diag_closest(f, names, n);
        if (near)
            diag_error(e->callee_loc, "unknown function '%s' (did you mean '%s'?)", f, near);
        else
            diag_error(e->callee_loc, "unknown function '%s'", f);
        return BAD;
    }
    int arity = ir_ops[op].arity, required = function_required(op), named = 0;
    for (int k = 0; k < e->nargs && k < arity; k++)
        named |= e->args[k].name != NULL;
    if (e->nargs < required || e->nargs > arity || named) {
        static const char *const count[] = {"no", "one", "two", "three"};
        if (arity == 1)
            diag_error(e->loc, "%s takes one argument, got %d", f, e->nargs);
        else if (required < arity)
            diag_error(e->loc, "%s takes %s or %s arguments: (%s)", f, count[required],
                       count[arity], ir_ops[op].fn_args);
        else
            diag_error(e->loc, "%s takes %s arguments: (%s)", f, count[arity], ir_ops[op].fn_args);
        return BAD;
    }
    if (arity == 1)
        return eval_function(S, e, op);
    if (op == OP_XENT || op == OP_BCE)
        return eval_loss(S, e, op);
    return eval_map_call(S, e, op);
}

/* A literal list: flattened values and its shape. */
static int flatten_list(Sema *S, const Expr *e, double **vals, int *n, int *cap, Shape *sh, int depth)
{
    if (e->kind != EX_LIST) {
        Ev x = eval(S, e);
        if (x.kind != EV_NUM) {
            if (x.kind != EV_BAD)
                diag_error(e->loc, "list elements must be numbers known at compile time");
            return 0;
        }
        if (!isfinite(x.num)) {
            diag_error(e->loc, "this element is %s; a list's elements must be finite numbers",
                       nonfinite_text(x.num));
            return 0;
        }
        if (depth != sh->rank && sh->rank >= 0) {
            diag_error(e->loc, "ragged list: expected a nested list here");
            return 0;
        }
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *vals = xrealloc(*vals, (size_t)*cap * sizeof **vals);
        }
        (*vals)[(*n)++] = x.num;
        return 1;
    }
    if (depth >= IR_MAXRANK) {
        diag_error(e->loc, "lists nest at most %d deep", IR_MAXRANK);
        return 0;
    }
    if (sh->rank < 0) {
        /* first descent: record the shape */
        const Expr *x = e;
        int r = 0;
        while (x->kind == EX_LIST && r < IR_MAXRANK) {
            sh->dim[r++] = x->nargs;
            x = x->nargs ? x->args[0].value : x;
            if (x->kind == EX_LIST && x->nargs == 0)
                break;
        }
        sh->rank = r;
    }
    if (depth >= sh->rank || e->nargs != sh->dim[depth]) {
        diag_error(e->loc, "ragged list: expected %d elements here", depth < sh->rank ? sh->dim[depth] : 0);
        return 0;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!flatten_list(S, e->args[i].value, vals, n, cap, sh, depth + 1))
            return 0;
    return 1;
}

static Ev eval_list(Sema *S, const Expr *e)
{
    double *vals = NULL;
    int n = 0, cap = 0;
    Shape sh = {-1, {0}};
    if (!flatten_list(S, e, &vals, &n, &cap, &sh, 0) || n == 0) {
        if (n == 0 && vals == NULL)
            diag_error(e->loc, "an empty list has no shape");
        free(vals);
        return BAD;
    }
    IrProgram *p = S->p;
    p->literals = xrealloc(p->literals, (size_t)(p->nliterals + 1) * sizeof *p->literals);
    p->literals[p->nliterals] = vals;
    int id = emit(S, OP_LITERAL, 0, NULL, sh, 0, e->loc);
    V(S, id)->index = p->nliterals++;
    return val_ev(id);
}

static Ev eval(Sema *S, const Expr *e)
{
    switch (e->kind) {
    case EX_NUM:
        return num_ev(e->num);
    case EX_STR:
        diag_error(e->loc, "a string can only be a setting's value (train block) or a file name in load(...)");
        return BAD;
    case EX_NAME: {
        Binding *b = lookup(S, e->str);
        if (!b) {
            const char *near = closest_name(S, e->str, NULL);
            if (strcmp(e->str, "loss") == 0 || strcmp(e->str, "penalty") == 0)
                diag_error(e->loc, "'%s' is used before it is defined", e->str);
            else if (near)
                diag_error(e->loc, "unknown name '%s' (did you mean '%s'?)", e->str, near);
            else
                diag_error(e->loc, "unknown name '%s'", e->str);
            return BAD;
        }
        b->used = 1;
        if (b->kind == B_CONST && b->str) {
            diag_error(e->loc, "'%s' is a file name (a string const): it can name files in load(...) "
                       "and the train block only", e->str);
            return BAD;
        }
        if (b->kind == B_CONST)
            return num_ev(b->num);
        if (b->kind == B_POISON)
            return BAD;
        return val_ev(b->value);
    }
    case EX_BINARY:
        return eval_binary(S, e);
    case EX_NEG: {
        Ev x = eval(S, e->lhs);
        if (x.kind == EV_BAD)
            return BAD;
        if (x.kind == EV_NUM)
            return num_ev(-x.num);
        if (!check_not_label(S, x.v, e->lhs, "'-'"))
            return BAD;
        return val_ev(emit(S, OP_NEG, 1, &x.v, V(S, x.v)->shape, V(S, x.v)->batched, e->loc));
    }
    case EX_TRANSPOSE: {
        Ev x = eval(S, e->lhs);
        if (x.kind != EV_VAL || V(S, x.v)->shape.rank < 2)
            return x;   /* numbers and vectors are their own transpose */
        if (V(S, x.v)->shape.rank > 2) {
            diag_error(e->loc, "transpose (') works on matrices, not %s", shape_text(&V(S, x.v)->shape));
            return BAD;
        }
        Shape t = V(S, x.v)->shape;
        int d = t.dim[0];
        t.dim[0] = t.dim[1];
        t.dim[1] = d;
        return val_ev(emit(S, OP_TRANSPOSE, 1, &x.v, t, V(S, x.v)->batched, e->loc));
    }
    case EX_CALL:
        return eval_call(S, e);
    case EX_LIST:
        return eval_list(S, e);
    case EX_INDEX:
        return eval_index(S, e);
    case EX_SLICE:
        diag_error(e->loc, "a slice lo:hi can only be an index, as in h[2:5]");
        return BAD;
    }
    return BAD;
}

/* ---- structure: indexing, slices, reshape, flatten, concat, stack ----
 *
 * Each is a view (OP_VIEW: the result's element j is the operand's element
 * off + j . stride, ir.h IrView) or a sum of placements (OP_PLACE: concat,
 * stack).  Indices and bounds are integers known at compile time. */

/* How a message names the tensor expression e: "'X'" or "the value". */
static const char *tensor_word(const Expr *e, char *buf, size_t n)
{
    if (e->kind == EX_NAME)
        snprintf(buf, n, "'%s'", e->str);
    else
        snprintf(buf, n, "the value");
    return buf;
}

/* Row-major strides of a shape. */
static void row_strides(const Shape *s, int *st)
{
    for (int a = s->rank - 1, k = 1; a >= 0; a--) {
        st[a] = k;
        k *= s->dim[a];
    }
}

static int emit_view(Sema *S, Op op, int x, Shape shape, int off, const int *stride, Loc loc)
{
    int id = emit(S, op, 1, &x, shape, V(S, x)->batched, loc);
    V(S, id)->view.off = off;
    for (int k = 0; k < IR_MAXRANK; k++)
        V(S, id)->view.stride[k] = k < (op == OP_VIEW ? shape.rank : V(S, x)->shape.rank) ? stride[k] : 0;
    return id;
}

/* An integer known at compile time, for an index or a bound; 0 (with the
 * error said) when e is anything else. */
static int index_number(Sema *S, const Expr *e, const Ev *given, const char *what, int *out)
{
    Ev x = given ? *given : eval(S, e);
    if (x.kind == EV_BAD)
        return 0;
    if (x.kind != EV_NUM) {
        diag_error(e->loc, "%s must be an integer known at compile time (a constant expression), "
                   "not a tensor", what);
        note_decl(S, e);
        return 0;
    }
    if (!is_integer(x.num)) {
        diag_error(e->loc, "%s must be an integer, got %g", what, x.num);
        return 0;
    }
    *out = (int)x.num;
    return 1;
}

/* gather = E[tok] | E[seq]: row tok of E, or the rows seq[0], seq[1], ...
 * (an index input's integers) */
static Ev eval_gather(Sema *S, const Expr *e, int table, int ix)
{
    const Shape *ts = &V(S, table)->shape, *is = &V(S, ix)->shape;
    int nv = index_input(S, ix);
    char who[64], iw[64];
    tensor_word(e->lhs, who, sizeof who);
    tensor_word(e->args[0].value, iw, sizeof iw);
    if (ts->rank == 0) {
        diag_error(e->loc, "%s is a scalar: an index input picks rows of a matrix, as in E[%s]",
                   who, e->args[0].value->kind == EX_NAME ? e->args[0].value->str : "tok");
        return BAD;
    }
    if (ts->dim[0] < nv) {
        diag_error(e->loc, "%s is %s: %d rows, but %s is index(%d), which needs a row for each "
                   "of 0 to %d", who, shape_text(ts), ts->dim[0], iw, nv, nv - 1);
        note_decl(S, e->lhs);
        return BAD;
    }
    Shape out = *is;
    if (is->rank + ts->rank - 1 > IR_MAXRANK) {
        diag_error(e->loc, "%s[%s] would have more than %d axes", who, iw, IR_MAXRANK);
        return BAD;
    }
    for (int k = 1; k < ts->rank; k++)
        out.dim[out.rank++] = ts->dim[k];
    if (!shape_fits(&out)) {
        diag_error(e->loc, "%s[%s] would have more than the 2^28 elements a tensor may have", who, iw);
        return BAD;
    }
    int args[2] = {table, ix};
    return val_ev(emit(S, OP_GATHER, 2, args, out, 1, e->loc));
}

/* index = X[i, lo:hi, ...]: i picks one entry of its axis (negative counts
 * from the end), lo:hi a range (either left out: the start, the end); the
 * axes not mentioned are kept whole. */
static Ev eval_index(Sema *S, const Expr *e)
{
    Ev xe = eval(S, e->lhs);
    if (xe.kind == EV_BAD)
        return BAD;
    char who[64];
    tensor_word(e->lhs, who, sizeof who);
    if (xe.kind != EV_VAL) {
        diag_error(e->loc, "indexing needs a tensor; %s is a number", who);
        return BAD;
    }
    int x = xe.v;
    /* an index input's part (seq[t]) is an index input too, for a gather */
    if (!index_input(S, x) && !check_not_label(S, x, e->lhs, "indexing"))
        return BAD;
    /* one index that is an index input: a gather */
    Ev first, *given = NULL;
    if (e->nargs == 1 && e->args[0].value->kind != EX_SLICE) {
        first = eval(S, e->args[0].value);
        if (first.kind == EV_BAD)
            return BAD;
        if (first.kind == EV_VAL && index_input(S, first.v))
            return eval_gather(S, e, x, first.v);
        given = &first;
    }
    const Shape *xs = &V(S, x)->shape;
    if (e->nargs > xs->rank) {
        diag_error(e->loc, "%s is %s: %d %s, but %d %s given", who, shape_text(xs), xs->rank,
                   xs->rank == 1 ? "axis" : "axes", e->nargs, e->nargs == 1 ? "index is" : "indices are");
        note_decl(S, e->lhs);
        return BAD;
    }
    int bs[IR_MAXRANK], stride[IR_MAXRANK], off = 0, ok = 1, whole = 1;
    Shape out = {0, {0}};
    row_strides(xs, bs);
    for (int a = 0; a < xs->rank; a++) {
        const Expr *ix = a < e->nargs ? e->args[a].value : NULL;
        int n = xs->dim[a], lo = 0, hi = n;
        if (ix && ix->kind != EX_SLICE) {
            int i;
            if (!index_number(S, ix, a == 0 ? given : NULL, "an index", &i)) {
                ok = 0;
                continue;
            }
            if (i < -n || i >= n) {
                diag_error(ix->loc, "index %d is out of range for axis %d of %s, which is %s "
                           "(an index of that axis is in [%d, %d))", i, a, who, shape_text(xs), -n, n);
                note_decl(S, e->lhs);
                ok = 0;
                continue;
            }
            off += (i < 0 ? i + n : i) * bs[a];
            whole = 0;
            continue;
        }
        if (ix && ((ix->lhs && !index_number(S, ix->lhs, NULL, "a slice's bound", &lo)) ||
                   (ix->rhs && !index_number(S, ix->rhs, NULL, "a slice's bound", &hi)))) {
            ok = 0;
            continue;
        }
        int l = lo < 0 ? lo + n : lo, h = hi < 0 ? hi + n : hi;
        if (l < 0 || l > n || h < 0 || h > n) {
            diag_error(ix->loc, "slice %d:%d is out of range for axis %d of %s, which is %s "
                       "(a bound of that axis is in [%d, %d])", lo, hi, a, who, shape_text(xs), -n, n);
            note_decl(S, e->lhs);
            ok = 0;
            continue;
        }
        if (l >= h) {
            diag_error(ix->loc, "slice %d:%d of axis %d of %s (%s) is empty", lo, hi, a, who,
                       shape_text(xs));
            ok = 0;
            continue;
        }
        whole &= l == 0 && h == n;
        off += l * bs[a];
        stride[out.rank] = bs[a];
        out.dim[out.rank++] = h - l;
    }
    if (!ok)
        return BAD;
    if (whole)
        return xe;
    return val_ev(emit_view(S, OP_VIEW, x, out, off, stride, e->loc));
}

/* A tensor argument of a structure function; BAD (said) for a number. */
static Ev tensor_arg(Sema *S, const Expr *call, int k)
{
    const Expr *a = call->args[k].value;
    Ev x = eval(S, a);
    if (x.kind == EV_NUM) {
        diag_error(a->loc, "%s: the argument must be a tensor, not a number", call->str);
        return BAD;
    }
    if (x.kind == EV_VAL && !check_not_label(S, x.v, a, call->str))
        return BAD;
    return x;
}

/* reshape(x, [d, ...]): x's elements in a new shape (one dimension may be
 * -1: what is left); flatten(x): a vector of them all. */
static Ev eval_reshape(Sema *S, const Expr *e)
{
    int flat = strcmp(e->str, "flatten") == 0, want = flat ? 1 : 2;
    if (e->nargs != want || e->args[0].name || (!flat && e->args[1].name)) {
        diag_error(e->loc, flat ? "flatten takes one argument: (x)"
                                : "reshape takes two arguments: (x, [d1, d2, ...])");
        return BAD;
    }
    Ev x = tensor_arg(S, e, 0);
    if (x.kind == EV_BAD)
        return BAD;
    const Shape *xs = &V(S, x.v)->shape;
    int n = shape_numel(xs);
    Shape out = {1, {n}};
    if (!flat) {
        const Expr *l = e->args[1].value;
        if (l->kind != EX_LIST || l->nargs < 1 || l->nargs > IR_MAXRANK) {
            diag_error(l->loc, "reshape: the shape must be a list of 1 to %d integers, e.g. [4, 7]",
                       IR_MAXRANK);
            return BAD;
        }
        int infer = -1, known = 1, ok = 1;
        out.rank = l->nargs;
        for (int k = 0; k < l->nargs; k++) {
            int d;
            if (!index_number(S, l->args[k].value, NULL, "a dimension", &d)) {
                ok = 0;
                continue;
            }
            if (d == -1 && infer < 0) {
                infer = k;
                continue;
            }
            if (d < 1) {
                diag_error(l->args[k].value->loc, "reshape: a dimension must be a positive integer "
                           "(or one -1), got %d", d);
                ok = 0;
                continue;
            }
            out.dim[k] = d;
            known = known > IR_MAX_NUMEL / d ? IR_MAX_NUMEL + 1 : known * d;
        }
        if (!ok)
            return BAD;
        if (infer >= 0)
            out.dim[infer] = n % known == 0 ? n / known : 0;
        if ((infer >= 0 && out.dim[infer] == 0) || (infer < 0 && known != n)) {
            char ws[64];
            diag_error(e->loc, "reshape: %s is %s, %d elements, which do not fill %s",
                       tensor_word(e->args[0].value, ws, sizeof ws), shape_text(xs), n,
                       infer >= 0 ? "a whole number of the other dimensions" : shape_text(&out));
            note_decl(S, e->args[0].value);
            return BAD;
        }
    }
    if (shape_equal(&out, xs))
        return x;
    int stride[IR_MAXRANK];
    row_strides(&out, stride);
    return val_ev(emit_view(S, OP_VIEW, x.v, out, 0, stride, e->loc));
}

/* concat(a, b, ...): along the first axis, the others equal; stack(a, b,
 * ...): a new first axis, the shapes equal.  Each operand is placed into
 * the result (zeros elsewhere) and the placements are added. */
static Ev eval_concat(Sema *S, const Expr *e)
{
    int stack = strcmp(e->str, "stack") == 0, ok = 1;
    if (e->nargs < 2) {
        diag_error(e->loc, "%s takes two or more arguments: (a, b, ...)", e->str);
        return BAD;
    }
    if (e->nargs > 64) {
        diag_error(e->loc, "%s takes at most 64 arguments", e->str);
        return BAD;
    }
    int x[64];
    for (int k = 0; k < e->nargs; k++) {
        Ev a = e->args[k].name ? BAD : tensor_arg(S, e, k);
        if (e->args[k].name)
            diag_error(e->args[k].name_loc, "%s takes no named arguments", e->str);
        ok &= a.kind == EV_VAL;
        x[k] = a.v;
    }
    if (!ok)
        return BAD;
    const Shape *first = &V(S, x[0])->shape;
    Shape out = *first;
    if (stack) {
        if (first->rank == IR_MAXRANK) {
            diag_error(e->loc, "stack: the result would have more than %d axes", IR_MAXRANK);
            return BAD;
        }
        memmove(out.dim + 1, out.dim, sizeof out.dim - sizeof *out.dim);
        out.dim[0] = e->nargs;
        out.rank++;
    } else if (first->rank == 0) {
        diag_error(e->args[0].value->loc, "concat joins along the first axis; a scalar has none "
                   "(stack(a, b) makes a vector of scalars)");
        return BAD;
    }
    for (int k = 1; k < e->nargs; k++) {
        const Shape *s = &V(S, x[k])->shape;
        int same = s->rank == first->rank;
        for (int a = stack ? 0 : 1; a < s->rank && same; a++)
            same = s->dim[a] == first->dim[a];
        if (!same) {
            char wa[64], wb[64];
            diag_error(e->loc, stack ? "stack: the shapes must be equal: %s is %s, %s is %s"
                                     : "concat: the shapes must be equal but for the first axis: "
                                       "%s is %s, %s is %s",
                       tensor_word(e->args[0].value, wa, sizeof wa), shape_text(first),
                       tensor_word(e->args[k].value, wb, sizeof wb), shape_text(s));
            note_decl(S, e->args[0].value);
            note_decl(S, e->args[k].value);
            return BAD;
        }
        if (!stack)
            out.dim[0] += s->dim[0];
    }
    if (!shape_fits(&out)) {
        diag_error(e->loc, "%s: the result would have more than the 2^28 elements a tensor may have",
                   e->str);
        return BAD;
    }
    int sum = -1, off = 0;
    for (int k = 0; k < e->nargs; k++) {
        int stride[IR_MAXRANK];
        row_strides(&V(S, x[k])->shape, stride);
        int pl = emit_view(S, OP_PLACE, x[k], out, off, stride, e->loc);
        off += shape_numel(&V(S, x[k])->shape);
        if (sum < 0) {
            sum = pl;
            continue;
        }
        int args[2] = {sum, pl};
        sum = emit(S, OP_ADD, 2, args, out, V(S, sum)->batched || V(S, pl)->batched, e->loc);
    }
    return val_ev(sum);
}

/* ---- declarations ---- */

static int check_new_name(Sema *S, const char *name, Loc loc)
{
    Binding *b = lookup(S, name);
    if (b && strcmp(b->what, "value") != 0) {
        diag_error(loc, "'%s' is already declared as %s %s", name,
                   strcmp(b->what, "input") == 0 ? "an" : "a", b->what);
        if (b->loc.file)
            diag_note(b->loc, "'%s' declared here", name);
        return 0;
    }
    if (b) {
        diag_error(loc, "'%s' is already defined; declarations must come before it is assigned", name);
        return 0;
    }
    return 1;
}

static int eval_dims(Sema *S, Expr **dims, int ndims, Shape *sh)
{
    if (ndims > IR_MAXRANK) {
        diag_error(dims[IR_MAXRANK]->loc, "at most %d dimensions are supported", IR_MAXRANK);
        return 0;
    }
    sh->rank = ndims;
    int ok = 1;
    for (int i = 0; i < ndims; i++) {
        Ev d = eval(S, dims[i]);
        if (d.kind == EV_BAD) {
            ok = 0;
            continue;
        }
        if (d.kind != EV_NUM || !is_integer(d.num) || d.num < 1) {
            if (d.kind == EV_NUM && d.num >= 1 && d.num == floor(d.num))
                diag_error(dims[i]->loc, "a dimension must be at most 2^28, got %g", d.num);
            else if (d.kind == EV_NUM)
                diag_error(dims[i]->loc, "a dimension must be a positive integer, got %g", d.num);
            else
                diag_error(dims[i]->loc, "a dimension must be a constant, not a tensor");
            ok = 0;
            continue;
        }
        sh->dim[i] = (int)d.num;
    }
    if (ok && !shape_fits(sh)) {
        double n = 1;
        for (int i = 0; i < ndims; i++)
            n *= sh->dim[i];
        diag_error(dims[0]->loc, "this tensor has %.0f elements, more than the 2^28 (268435456) "
                   "a tensor may have", n);
        return 0;
    }
    return ok;
}

static void declare_param(Sema *S, const char *name, Shape shape, InitKind init, Loc loc, int frozen)
{
    IrProgram *p = S->p;
    p->params = xrealloc(p->params, (size_t)(p->nparams + 1) * sizeof *p->params);
    IrParam *q = &p->params[p->nparams];
    memset(q, 0, sizeof *q);
    q->name = name;
    q->shape = shape;
    q->init = init;
    q->frozen = frozen;
    q->loc = loc;
    q->value = declared(S, OP_PARAM, p->nparams, name, shape, 0, loc);
    p->nparams++;
    Binding b = {name, B_VALUE, 0, q->value, "param", loc, 0, NULL};
    bind(S, b);
}

/* The initialiser of `param W[..] = INIT`. */
static void param_init(Sema *S, IrParam *q, const Expr *e)
{
    static const InitKind kinds[] = {INIT_ZEROS, INIT_ONES, INIT_IDENTITY, INIT_NORMAL,
                                     INIT_UNIFORM, INIT_XAVIER_UNIFORM, INIT_XAVIER_NORMAL,
                                     INIT_HE_UNIFORM, INIT_HE_NORMAL, INIT_LOAD};
    const char *fname = e->kind == EX_NAME ? e->str : e->kind == EX_CALL ? e->str : NULL;
    if (e->kind == EX_LIST || is_numeric(S, e)) {   /* a number, or constants folding to one */
        if (e->kind != EX_LIST) {
            /* one number for every element: the runtime fills them (a
             * literal of 2^28 copies took the compiler gigabytes) */
            q->a = eval(S, e).num;
            q->init = INIT_FILL;
            if (!isfinite(q->a))
                diag_error(e->loc, "'%s' would start as %s; an initialiser must be a finite number",
                           q->name, nonfinite_text(q->a));
            return;
        }
        double *vals = NULL;
        int cnt = 0, cap = 0;
        Shape sh = {-1, {0}};
        if (!flatten_list(S, e, &vals, &cnt, &cap, &sh, 0)) {
            free(vals);
            return;
        }
        if (!shape_equal(&sh, &q->shape)) {
            diag_error(e->loc, "the literal has shape %s but '%s' is declared as %s",
                       shape_text(&sh), q->name, shape_text(&q->shape));
            free(vals);
            return;
        }
        q->values = vals;   /* as many as the shape's elements */
        q->init = INIT_LITERAL;
        return;
    }
    int k = -1;
    for (int i = 0; fname && sema_initialisers[i]; i++)
        if (strcmp(fname, sema_initialisers[i]) == 0)
            k = i;
    if (k < 0) {
        const char *near = fname ? diag_closest(fname, (const char **)sema_initialisers, 10) : NULL;
        if (near)
            diag_error(e->kind == EX_CALL ? e->callee_loc : e->loc,
                       "unknown initialiser '%s' (did you mean '%s'?)", fname, near);
        else
            diag_error(e->loc, "an initialiser is one of zeros, ones, identity, normal(mean, std), "
                       "uniform(low, high), xavier_uniform, xavier_normal, he_uniform, he_normal, "
                       "load(\"file\", \"key\"), a number or a literal list");
        return;
    }
    q->init = kinds[k];
    int want = q->init == INIT_NORMAL || q->init == INIT_UNIFORM || q->init == INIT_LOAD ? 2 : 0;
    int nargs = e->kind == EX_CALL ? e->nargs : 0;
    if (q->init == INIT_LOAD && nargs == 1)
        want = 1;
    if (nargs != want) {
        diag_error(e->loc, "%s takes %s", fname,
                   q->init == INIT_NORMAL ? "(mean, std)" : q->init == INIT_UNIFORM ? "(low, high)"
                   : q->init == INIT_LOAD ? "(\"file\", \"key\")" : "no arguments");
        return;
    }
    if (q->init == INIT_LOAD) {
        const char *str[2] = { NULL, NULL };
        for (int i = 0; i < nargs; i++) {
            const Expr *a = e->args[i].value;
            Binding *b = a->kind == EX_NAME ? lookup(S, a->str) : NULL;
            if (b && b->kind == B_CONST && b->str)
                b->used = 1;
            str[i] = a->kind == EX_STR ? a->str : b && b->kind == B_CONST ? b->str : NULL;
            if (!str[i]) {
                diag_error(a->loc, "load takes strings or string consts: load(\"file.npz\", "
                           "\"key\")");
                return;
            }
        }
        q->file = str[0];
        q->key = nargs > 1 ? str[1] : q->name;
        return;
    }
    if (want == 2) {
        Ev a = eval(S, e->args[0].value), b = eval(S, e->args[1].value);
        if (a.kind != EV_NUM || b.kind != EV_NUM) {
            if (a.kind != EV_BAD && b.kind != EV_BAD)
                diag_error(e->loc, "%s takes numbers", fname);
            return;
        }
        q->a = a.num;
        q->b = b.num;
        if (q->init == INIT_NORMAL && q->b < 0)
            diag_error(e->args[1].value->loc, "normal: the standard deviation must not be negative");
        if (q->init == INIT_UNIFORM && q->b < q->a)
            diag_error(e->loc, "uniform(low, high): low must not exceed high");
    }
    if (q->init == INIT_IDENTITY && q->shape.rank != 2)
        diag_error(e->loc, "identity initialises a matrix, but '%s' is %s", q->name,
                   shape_text(&q->shape));
}

/* ---- settings and the example ---- */

/* Write an expression back in the language's syntax, constants replaced
 * by their values, for the runtime's settings parser. */
static void expr_text(Sema *S, const Expr *e, char *buf, size_t n, size_t *len)
{
#define PUT(...) (*len += (size_t)snprintf(buf + *len, *len < n ? n - *len : 0, __VA_ARGS__))
    char num[40];
    switch (e->kind) {
    case EX_NUM:
        PUT("%s", nnrt_num_text(num, sizeof num, e->num, 17));
        break;
    case EX_STR:
        PUT("\"");
        for (const char *s = e->str; *s; s++)
            PUT(*s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
        PUT("\"");
        break;
    case EX_NAME: {
        Binding *b = lookup(S, e->str);
        if (b && b->kind == B_CONST && b->str) {
            Expr lit = *e;
            lit.kind = EX_STR;
            lit.str = (char *)b->str;
            expr_text(S, &lit, buf, n, len);
        } else if (b && b->kind == B_CONST) {
            PUT("%s", nnrt_num_text(num, sizeof num, b->num, 17));
        } else {
            PUT("%s", e->str);
        }
        break;
    }
    case EX_BINARY:
    case EX_NEG: {
        /* fold what is numeric */
        int nerr = diag_error_count();
        (void)nerr;
        if (e->kind == EX_NEG) {
            PUT("-(");
            expr_text(S, e->lhs, buf, n, len);
            PUT(")");
            break;
        }
        PUT("(");
        expr_text(S, e->lhs, buf, n, len);
        PUT(" %s ", ast_op_text(e->op));
        expr_text(S, e->rhs, buf, n, len);
        PUT(")");
        break;
    }
    case EX_TRANSPOSE:
        expr_text(S, e->lhs, buf, n, len);
        PUT("'");
        break;
    case EX_CALL:
    case EX_LIST:
        PUT(e->kind == EX_CALL ? "%s(" : "[", e->kind == EX_CALL ? e->str : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i)
                PUT(", ");
            if (e->args[i].name)
                PUT("%s = ", e->args[i].name);
            expr_text(S, e->args[i].value, buf, n, len);
        }
        PUT(e->kind == EX_CALL ? ")" : "]");
        break;
    case EX_INDEX:
    case EX_SLICE:
        PUT("(an index)");   /* no setting takes one: the runtime says so */
        break;
    }
#undef PUT
}

/* Numeric sub-expressions of settings fold to numbers first. */
static int is_numeric(Sema *S, const Expr *e)
{
    switch (e->kind) {
    case EX_NUM: return 1;
    case EX_NAME: { Binding *b = lookup(S, e->str); return b && b->kind == B_CONST && !b->str; }
    case EX_NEG: return is_numeric(S, e->lhs);
    case EX_BINARY: return e->op != '@' && is_numeric(S, e->lhs) && is_numeric(S, e->rhs);
    default: return 0;
    }
}

static void setting_text(Sema *S, const Expr *e, char *buf, size_t n)
{
    size_t len = 0;
    if (is_numeric(S, e))
        nnrt_num_text(buf, n, eval(S, e).num, 17);
    else
        expr_text(S, e, buf, n, &len);
}

static void do_train(Sema *S, const Stmt *st)
{
    IrProgram *p = S->p;
    for (int i = 0; i < st->nitems; i++) {
        const Item *it = &st->items[i];
        for (int j = 0; j < p->nsettings; j++)
            if (strcmp(p->settings[j].key, it->key) == 0) {
                diag_error(it->key_loc, "'%s' is set twice in the train block", it->key);
                diag_note(p->settings[j].loc, "first set here");
            }
        char text[1024], err[512];
        setting_text(S, it->value, text, sizeof text);
        if (nnrt_setting_check(it->key, text, err, sizeof err) != 0) {
            diag_error(it->key_loc, "%s", err);
            continue;
        }
        p->settings = xrealloc(p->settings, (size_t)(p->nsettings + 1) * sizeof *p->settings);
        p->settings[p->nsettings].key = it->key;
        p->settings[p->nsettings].value = ir_strdup(p, text);
        p->settings[p->nsettings].loc = it->key_loc;
        p->nsettings++;
    }
}

static void do_example(Sema *S, const Stmt *st)
{
    IrProgram *p = S->p;
    for (int i = 0; i < st->nitems; i++) {
        const Item *it = &st->items[i];
        IrSlot *slot = NULL;
        for (int j = 0; j < p->nslots; j++)
            if (strcmp(p->slots[j].name, it->key) == 0)
                slot = &p->slots[j];
        if (slot && slot->noise) {
            diag_error(it->key_loc, "the example sets '%s', a noise: the trainer draws it "
                       "(its mean in eval mode)", it->key);
            continue;
        }
        if (!slot) {
            const char **names = malloc((size_t)(p->nslots + 1) * sizeof *names);
            for (int j = 0; j < p->nslots; j++)
                names[j] = p->slots[j].name;
            const char *near = diag_closest(it->key, names, p->nslots);
            free(names);
            if (near)
                diag_error(it->key_loc, "the example sets '%s', which is no input or target "
                           "(did you mean '%s'?)", it->key, near);
            else
                diag_error(it->key_loc, "the example sets '%s', which is no input or target", it->key);
            continue;
        }
        int n = shape_numel(&slot->shape);
        double *vals = NULL;
        int cnt = 0, cap = 0;
        Shape sh = {-1, {0}};
        if (!flatten_list(S, it->value, &vals, &cnt, &cap, &sh, 0)) {
            free(vals);
            continue;
        }
        if (it->value->kind != EX_LIST)
            sh.rank = 0;
        if (cnt != n) {
            diag_error(it->value->loc, "'%s' is %s, but the example gives %d value%s",
                       slot->name, slot->nclass ? "one class label" : shape_text(&slot->shape),
                       cnt, cnt == 1 ? "" : "s");
            free(vals);
            continue;
        }
        int bad = -1;
        for (int k = 0; k < cnt && slot->nindex && bad < 0; k++)
            if (!is_integer(vals[k]) || vals[k] < 0 || vals[k] >= slot->nindex)
                bad = k;
        if (bad >= 0) {
            diag_error(it->value->loc, "'%s' is index(%d): integers in [0, %d), not %g", slot->name,
                       slot->nindex, slot->nindex, vals[bad]);
            free(vals);
            continue;
        }
        if (slot->nclass && (!is_integer(vals[0]) || vals[0] < 0 || vals[0] >= slot->nclass)) {
            diag_error(it->value->loc, "'%s' is a class label in [0, %d), not %g", slot->name,
                       slot->nclass, vals[0]);
            free(vals);
            continue;
        }
        free(slot->example);
        slot->example = vals;
    }
}

/* ---- statements ---- */

static void new_stmt(Sema *S, const Stmt *st, int iteration, int count)
{
    IrProgram *p = S->p;
    p->stmts = xrealloc(p->stmts, (size_t)(p->nstmts + 1) * sizeof *p->stmts);
    IrStmt *s = &p->stmts[p->nstmts];
    s->line = st->loc.line;
    /* the statement's first source line, trimmed */
    const char *src = st->loc.line >= 1 && st->loc.line <= S->nlines ? S->line[st->loc.line - 1] : NULL;
    char buf[512] = "";
    if (src) {
        while (*src == ' ' || *src == '\t')
            src++;
        size_t len = strcspn(src, "\n#");
        while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\t' || src[len - 1] == '\r'))
            len--;
        if (len > 300)
            len = 300;
        memcpy(buf, src, len);
        buf[len] = '\0';
        /* comments close with the two characters that end a C comment */
        for (char *c = buf; (c = strstr(c, "*/")) != NULL; c++)
            c[1] = '\\';
    }
    if (count > 0) {
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "   (repeat %d of %d)", iteration, count);
    }
    s->text = ir_strdup(p, buf);
    S->stmt = p->nstmts++;
}

static void run_stmts(Sema *S, Stmt **body, int n, int iteration, int count);
static double unrolled_stmts(Sema *S, Stmt **body, int n);
static int roll_steps(Sema *S, const Stmt *st, int count, int a0, int a1, int s0, int s1);

/* Names for the temporaries a statement created: h1_1, h1_2, ... */
static void name_temporaries(Sema *S, int first, int result, const char *name)
{
    int k = 0;
    for (int i = first; i < S->p->nv; i++) {
        Value *v = V(S, i);
        if (v->name || v->op == OP_CONST)
            continue;
        if (i == result) {
            v->name = name;
            continue;
        }
        char buf[128];
        snprintf(buf, sizeof buf, "%s_%d", name, ++k);
        v->name = ir_strdup(S->p, buf);
        v->temp = 1;
    }
}

static void do_assign(Sema *S, const Stmt *st)
{
    const char *name = st->name;
    Binding *old = lookup(S, name);
    if (old && strcmp(old->what, "value") != 0) {
        diag_error(st->name_loc, "cannot assign to %s '%s'", old->what, name);
        if (old->loc.file)
            diag_note(old->loc, "'%s' declared here", name);
        return;
    }
    int first = S->p->nv;
    Ev e = eval(S, st->value);
    /* `loss = a` then `loss = b`: the first value is dead, most likely a
     * slip (the same statement again in a repeat block is left alone) */
    old = lookup(S, name);
    if (old && old->kind == B_VALUE && !old->used && old->loc.file
        && (old->loc.line != st->name_loc.line || old->loc.col != st->name_loc.col)) {
        diag_warning(old->loc, "the value assigned to '%s' here is never used", name);
        diag_note(st->name_loc, "'%s' is assigned again here", name);
    }
    if (e.kind == EV_BAD) {
        Binding b = {name, B_POISON, 0, -1, "value", st->name_loc, 0, NULL};
        bind(S, b);
        return;
    }
    int v = as_value(S, e, st->value->loc);
    /* A binding names a value of its own: `h = x` or `penalty = 0` copy. */
    if (v < first || V(S, v)->op == OP_CONST || V(S, v)->op == OP_LITERAL)
        v = emit(S, OP_COPY, 1, &v, V(S, v)->shape, V(S, v)->batched, st->value->loc);
    name_temporaries(S, first, v, name);
    Binding b = {name, B_VALUE, 0, v, "value", st->name_loc, 0, NULL};
    bind(S, b);
    if (strcmp(name, "loss") == 0) {
        S->p->loss = v;
        S->loss_loc = st->value->loc;
    } else if (strcmp(name, "penalty") == 0) {
        S->p->penalty = v;
        S->penalty_loc = st->value->loc;
    }
}

static void poison(Sema *S, const Stmt *st)
{
    Binding b = {st->name, B_POISON, 0, -1, "value", st->name_loc, 0, NULL};
    bind(S, b);
}

/* The shape of a declaration (param, noise) of a new name: 0 when the name
 * or the shape is wrong (reported; a wrong shape poisons the name). */
static int declared_shape(Sema *S, const Stmt *st, Shape *sh)
{
    if (!check_new_name(S, st->name, st->name_loc))
        return 0;
    if (!eval_dims(S, st->dims, st->ndims, sh)) {
        poison(S, st);
        return 0;
    }
    return 1;
}

static void do_stmt(Sema *S, const Stmt *st)
{
    IrProgram *p = S->p;
    switch (st->kind) {
    case ST_MODEL:
        p->name = st->name;
        break;
    case ST_CONST: {
        if (!check_new_name(S, st->name, st->name_loc))
            break;
        double x = 0;
        Define *d = NULL;
        for (int i = 0; i < S->opt->ndefs; i++)
            if (strcmp(S->opt->defs[i].name, st->name) == 0)
                d = &S->opt->defs[i];
        if (st->value && st->value->kind == EX_STR) {
            /* a file name, written once: load(F, "W1"), data = files(x = pick(F, "x")) */
            if (d) {
                diag_error(st->name_loc, "-D %s: '%s' is a file name (a string const); -D sets "
                           "numbers", st->name, st->name);
                d->used = 1;
            }
            Binding b = {st->name, B_CONST, 0, -1, "const", st->name_loc, 0, st->value->str};
            bind(S, b);
            break;
        }
        if (d) {
            x = d->value;
            d->used = 1;
        } else {
            Ev e = eval(S, st->value);
            if (e.kind == EV_BAD)
                x = 1;
            else if (e.kind != EV_NUM)
                diag_error(st->value->loc, "a const must be a number known at compile time");
            else
                x = e.num;
        }
        Binding b = {st->name, B_CONST, x, -1, "const", st->name_loc, 0, NULL};
        bind(S, b);
        break;
    }
    case ST_INPUT:
    case ST_TARGET: {
        if (!check_new_name(S, st->name, st->name_loc))
            break;
        Shape sh = {0, {0}};
        int nclass = 0, nindex = 0;
        if (st->kind == ST_INPUT && st->value) {
            /* input seq[T] : index(V): integers, for picking rows (E[seq]) */
            Ev k = eval(S, st->value);
            if (k.kind != EV_BAD && (k.kind != EV_NUM || !is_integer(k.num) || k.num < 1))
                diag_error(st->value->loc, "index(V) needs an integer V >= 1");
            if (k.kind != EV_NUM || !is_integer(k.num) || k.num < 1 ||
                !eval_dims(S, st->dims, st->ndims, &sh)) {
                poison(S, st);
                break;
            }
            nindex = (int)k.num;
        } else if (st->kind == ST_TARGET && st->value) {
            Ev k = eval(S, st->value);
            if (k.kind != EV_BAD && (k.kind != EV_NUM || !is_integer(k.num) || k.num < 2))
                diag_error(st->value->loc, "class(K) needs an integer K >= 2");
            if (k.kind != EV_NUM || !is_integer(k.num) || k.num < 2) {
                poison(S, st);
                break;
            }
            nclass = (int)k.num;
        } else if (!eval_dims(S, st->dims, st->ndims, &sh)) {
            poison(S, st);
            break;
        }
        IrSlot *s = add_slot(S, st->name, sh, st->name_loc);
        s->target = st->kind == ST_TARGET;
        s->nclass = nclass;
        s->nindex = nindex;
        V(S, s->value)->label = nclass > 0;
        Binding b = {st->name, B_VALUE, 0, s->value, s->target ? "target" : "input", st->name_loc,
                     0, NULL};
        bind(S, b);
        break;
    }
    case ST_PARAM: {
        Shape sh;
        if (!declared_shape(S, st, &sh))
            break;
        declare_param(S, st->name, sh, INIT_ZEROS, st->name_loc, st->frozen);
        if (st->value)
            param_init(S, &p->params[p->nparams - 1], st->value);
        break;
    }
    case ST_NOISE: {
        Shape sh;
        if (!declared_shape(S, st, &sh))
            break;
        /* normal(mean, std) | uniform(low, high), numbers */
        const Expr *e = st->value;
        int normal = e->kind == EX_CALL && strcmp(e->str, "normal") == 0;
        int uniform = e->kind == EX_CALL && strcmp(e->str, "uniform") == 0;
        Ev a = BAD, b = BAD;
        if ((normal || uniform) && e->nargs == 2 && !e->args[0].name && !e->args[1].name) {
            a = eval(S, e->args[0].value);
            b = eval(S, e->args[1].value);
        }
        if (a.kind != EV_NUM || b.kind != EV_NUM) {
            diag_error(e->loc, "a noise is drawn from normal(mean, std) or uniform(low, high), "
                       "with numbers known at compile time");
            poison(S, st);
            break;
        }
        if (normal && b.num < 0)
            diag_error(e->args[1].value->loc, "normal: the standard deviation must not be negative");
        if (uniform && b.num < a.num)
            diag_error(e->loc, "uniform(low, high): low must not exceed high");
        int id = noise_slot(S, st->name, sh, normal ? IR_NOISE_NORMAL : IR_NOISE_UNIFORM, a.num,
                            b.num, st->name_loc);
        Binding bd = {st->name, B_VALUE, 0, id, "noise", st->name_loc, 0, NULL};
        bind(S, bd);
        break;
    }
    case ST_ASSIGN:
        do_assign(S, st);
        break;
    case ST_TRAIN:
        do_train(S, st);
        break;
    case ST_EXAMPLE:
        do_example(S, st);
        break;
    case ST_REPEAT: {
        Ev n = eval(S, st->value);
        if (n.kind == EV_BAD)
            break;
        if (n.kind != EV_NUM || !is_integer(n.num) || n.num < 0 || n.num > 10000) {
            diag_error(st->value->loc, "repeat needs a constant integer count in 0..10000");
            break;
        }
        for (int i = 0; i < st->nbody; i++) {
            StmtKind k = st->body[i]->kind;
            if (k != ST_ASSIGN && k != ST_REPEAT) {
                diag_error(st->body[i]->loc, "only assignments (and repeat) can appear inside "
                           "repeat; declare parameters outside it or use dense(h, n)");
                return;
            }
        }
        /* nested repeats multiply: refused before unrolling any, where the
         * counts are known now (else when the unrolled statements cross it) */
        if (S->p->nstmts + n.num * unrolled_stmts(S, st->body, st->nbody) > SEMA_MAX_STMTS) {
            diag_error(st->value->loc, "the model unrolls to more than %d statements; "
                       "fewer or shorter repeats", SEMA_MAX_STMTS);
            break;
        }
        /* repeat t = T: the first two steps, then the rest as a loop when
         * they are the same computation (roll_steps) */
        int roll = st->name && n.num >= 3 && S->rolling == 0;
        int a0 = p->nv, s0 = p->nstmts, a1 = -1, s1 = -1;
        if (roll)
            S->rolling++;
        for (int it = 0; it < (int)n.num; it++) {
            if (roll && it == 1) {
                a1 = p->nv;
                s1 = p->nstmts;
            }
            if (roll && it == 2) {
                S->rolling--;
                roll = 0;
                if (roll_steps(S, st, (int)n.num, a0, a1, s0, s1))
                    break;
            }
            int before = diag_error_count();
            if (S->p->nstmts > SEMA_MAX_STMTS) {
                diag_error(st->value->loc, "the model unrolls to more than %d statements; "
                           "fewer or shorter repeats", SEMA_MAX_STMTS);
                break;
            }
            if (st->name) {   /* repeat i = N: i is 0, 1, ..., N - 1, a constant in the body */
                Binding b = {st->name, B_CONST, it, -1, "const", st->name_loc, 0, NULL};
                bind(S, b);
            }
            run_stmts(S, st->body, st->nbody, it + 1, (int)n.num);
            if (diag_error_count() > before)
                break;   /* the same error again for each iteration helps nobody */
        }
        if (roll)
            S->rolling--;
        break;
    }
    }
}

/* The statements body[0..n) unrolls to, as far as the counts of the
 * repeats inside are constants already (one that is not counts once). */
static double unrolled_stmts(Sema *S, Stmt **body, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const Stmt *st = body[i];
        if (st->kind != ST_REPEAT) {
            total += 1;
            continue;
        }
        double count = 1;
        if (is_numeric(S, st->value)) {
            Ev c = eval(S, st->value);
            if (c.kind == EV_NUM && c.num >= 0)
                count = c.num;
        }
        total += count * unrolled_stmts(S, st->body, st->nbody);
    }
    return total;
}

/* Are step 0's value x0 and step 1's x1 the same computation?  Their
 * operands: both the same value of step 0's and 1's (internal), the same
 * value from before the loop (invariant), or a value from before the loop
 * in step 0 and one of step 0's in step 1: a carry, numbered in carry[],
 * source[] (step 0's ids) as it is met. */
static int same_step_value(Sema *S, int x0, int x1, int a0, int a1, int *carry, int *source,
                           int *ncarry)
{
    const Value *v0 = V(S, x0), *v1 = V(S, x1);
    if (v0->op != v1->op || v0->nargs != v1->nargs || !shape_equal(&v0->shape, &v1->shape) ||
        v0->batched > v1->batched || v0->acc != v1->acc || v0->label != v1->label ||
        v0->ta != v1->ta || v0->tb != v1->tb || v0->index != v1->index || v0->temp != v1->temp ||
        memcmp(&v0->num, &v1->num, sizeof v0->num) != 0 ||
        (v0->name != v1->name && (!v0->name || !v1->name || strcmp(v0->name, v1->name) != 0)))
        return 0;
    if (v0->op == OP_LITERAL || v0->op == OP_PARAM || v0->op == OP_INPUT)
        return 0;   /* a literal or a parameter made in the step: one per step */
    /* a view may move by the same amount each step (X[t]: roll_steps) */
    if (memcmp(v0->view.stride, v1->view.stride, sizeof v0->view.stride) != 0)
        return 0;
    /* step 0 may compute for every sample at once what step 1 computes per
     * sample (h starts as zeros): rolled, it is per sample (step 1's) */
    for (int k = 0; k < v0->nargs; k++) {
        int y0 = v0->arg[k], y1 = v1->arg[k];
        if (y0 >= a0) {
            if (y1 != y0 + (a1 - a0))
                return 0;
        } else if (y1 >= a0 && y1 < a1) {
            if (!shape_equal(&V(S, y0)->shape, &V(S, y1)->shape))
                return 0;
            int c = 0;
            while (c < *ncarry && !(carry[c] == y0 && source[c] == y1))
                c++;
            if (c == *ncarry) {
                carry[c] = y0;
                source[c] = y1;
                ++*ncarry;
            }
        } else if (y1 != y0) {
            return 0;
        }
    }
    return 1;
}

/* repeat t = count { body } after its first two steps: the values [a0, a1)
 * of step 0 and [a1, nv) of step 1 (statements from s0, s1).  When every
 * value of step 1 is step 0's again, reading step 0's where step 0 read a
 * value from before the loop (a carry: h), the loop is kept rolled (ir.h,
 * IrLoop): step 1 is dropped, a copy of each carry's first value is placed
 * before step 0, which becomes the step, and the names bound in the step
 * name its last step's values.  Returns 0 (nothing changed) when the steps
 * differ: in a shape, in a parameter made per step (dense), a number that
 * depends on t; the repeat then unrolls. */
static int roll_steps(Sema *S, const Stmt *st, int count, int a0, int a1, int s0, int s1)
{
    IrProgram *p = S->p;
    int n0 = a1 - a0, batched = 1;
    if (n0 == 0 || p->nv - a1 != n0)
        return 0;
    int *carry = xrealloc(NULL, (size_t)3 * n0 * sizeof *carry);
    int *source = xrealloc(NULL, (size_t)3 * n0 * sizeof *source);
    int ncarry = 0, same = 1;
    for (int i = 0; i < n0 && same; i++) {
        same = same_step_value(S, a0 + i, a1 + i, a0, a1, carry, source, &ncarry) &&
               V(S, a1 + i)->stmt - s1 == V(S, a0 + i)->stmt - s0;
        batched &= V(S, a1 + i)->batched || ir_ops[V(S, a1 + i)->op].kind == K_LEAF;
    }
    /* a view moving by some amount from step 0 to step 1 (X[t]) moves by
     * it at every step: it must stay within its tensor up to the last (else
     * the repeat unrolls, and says where it leaves it) */
    for (int i = 0; i < n0 && same; i++) {
        const Value *v0 = V(S, a0 + i), *v1 = V(S, a1 + i);
        if (ir_ops[v0->op].kind != K_VIEW || v0->view.off == v1->view.off)
            continue;
        long d = (long)v1->view.off - v0->view.off, first = v0->view.off, last = first;
        const Shape *small = &V(S, ir_view_small(p, a0 + i))->shape;
        for (int k = 0; k < small->rank; k++)
            last += (long)(small->dim[k] - 1) * v0->view.stride[k];
        long span = d * (count - 1);
        same = first + (span < 0 ? span : 0) >= 0 &&
               last + (span > 0 ? span : 0) < shape_numel(ir_view_big_shape(p, a0 + i));
    }
    /* a step computing something from parameters alone (the same for every
     * sample) stays unrolled: that part is cheap, the penalty's adjoint has
     * no loops, and every step value of a loop is then per sample (the
     * loops style runs a loop inside its loop over the samples) */
    if (!same || !batched || ncarry == 0) {
        free(carry);
        free(source);
        return 0;
    }
    Value *step = xrealloc(NULL, (size_t)2 * n0 * sizeof *step), *step1 = step + n0;
    memcpy(step, &p->v[a0], (size_t)2 * n0 * sizeof *step);
    p->nv = a0;
    p->nstmts = s1;
    /* the repeat's own line, for the carries */
    new_stmt(S, st, 0, 0);
    int stmt = S->stmt;
    for (int c = 0; c < ncarry; c++) {
        const Value *src = &step[source[c] - a0];
        int id = emit(S, OP_COPY, 1, &carry[c], src->shape, step1[source[c] - a0].batched,
                      st->loc);
        char name[160];
        snprintf(name, sizeof name, "%s_prev", src->name ? src->name : "carry");
        V(S, id)->name = ir_strdup(p, name);
        V(S, id)->stmt = stmt;
        /* h's first value is h_init: the name h is the loop's (the last step's) */
        Value *init = V(S, carry[c]);
        if (init->name && src->name && strcmp(init->name, src->name) == 0 &&
            init->op != OP_INPUT && init->op != OP_PARAM) {
            snprintf(name, sizeof name, "%s_init", src->name);
            init->name = ir_strdup(p, name);
        }
    }
    for (int i = 0; i < n0; i++) {
        Value v = step[i];
        v.batched = step1[i].batched;
        if (ir_ops[v.op].kind == K_VIEW)
            v.view.step = step1[i].view.off - v.view.off;
        for (int k = 0; k < v.nargs; k++) {
            int y0 = v.arg[k], y1 = step1[i].arg[k];
            if (y0 >= a0) {
                v.arg[k] = y0 + ncarry;
            } else if (y1 >= a0 && y1 < a1) {   /* step 1 read step 0's: the carry */
                int c = 0;
                while (carry[c] != y0 || source[c] != y1)
                    c++;
                v.arg[k] = a0 + c;
            }
        }
        ir_emit(p, v);
    }
    /* the step's statements say so */
    char suffix[64];
    snprintf(suffix, sizeof suffix, "   (repeat 1 of %d)", count);
    for (int k = s0; k < s1; k++) {
        const char *text = p->stmts[k].text;
        size_t len = strlen(text), sl = strlen(suffix);
        if (len >= sl && strcmp(text + len - sl, suffix) == 0) {
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s   (step %s of %d)", (int)(len - sl), text, st->name,
                     count);
            p->stmts[k].text = ir_strdup(p, buf);
        }
    }
    /* a name bound in the step names its last step's value */
    int body = a0 + ncarry;
    for (int k = 0; k < S->nb; k++) {
        Binding *b = &S->b[k];
        if (b->kind != B_VALUE)
            continue;
        if (b->value >= a1 && b->value < a1 + n0)
            b->value += body - a1;
        else if (b->value >= a0 && b->value < a1)
            b->value += ncarry;
    }
    int *roots[] = {&p->loss, &p->penalty};
    for (int k = 0; k < 2; k++) {
        if (*roots[k] >= a1 && *roots[k] < a1 + n0)
            *roots[k] += body - a1;
    }
    Binding tb = {st->name, B_CONST, count - 1, -1, "const", st->name_loc, 0, NULL};
    bind(S, tb);
    p->loops = xrealloc(p->loops, (size_t)(p->nloops + 1) * sizeof *p->loops);
    IrLoop *L = &p->loops[p->nloops++];
    memset(L, 0, sizeof *L);
    L->var = st->name;
    L->count = count;
    L->body = body;
    L->end = body + n0;
    L->ncarry = ncarry;
    L->carry = xrealloc(NULL, (size_t)ncarry * sizeof *L->carry);
    L->source = xrealloc(NULL, (size_t)ncarry * sizeof *L->source);
    for (int c = 0; c < ncarry; c++) {
        L->carry[c] = a0 + c;
        L->source[c] = source[c] + ncarry;
    }
    L->bwd_begin = L->bwd_end = -1;
    L->stmt = stmt;
    free(step);
    free(carry);
    free(source);
    return 1;
}

static void run_stmts(Sema *S, Stmt **body, int n, int iteration, int count)
{
    for (int i = 0; i < n; i++) {
        if (body[i]->kind != ST_REPEAT)
            new_stmt(S, body[i], iteration, count);
        do_stmt(S, body[i]);
    }
}

/* ---- after all statements ---- */

/* Mark what `root` depends on. */
static void mark_deps(const IrProgram *p, int root, char *mark)
{
    ir_mark_deps(p, root, mark);
}

/* Make value names unique: a name bound again gets _2, _3, ... (the lowest
 * suffix no value or param bears).  A name bound in a `repeat` of N steps
 * is renamed N times, so the names live in a hash table that knows, for
 * each base name, the lowest suffix that may still be free: scanning every
 * value for every value made `repeat 2000 { h = tanh(h) }` take seconds. */
typedef struct NameSlot {
    const char *name;
    size_t len;
    int used;          /* values and params named so */
    int seen;          /* a param, a slot or an earlier value is named so */
    int next;          /* as a base name: every NAME_k with 2 <= k < next is used */
} NameSlot;

typedef struct NameSet {
    NameSlot *slot;
    size_t mask;       /* capacity - 1, a power of two minus one */
} NameSet;

/* The slot of the name s[0..len), added when add is set, else NULL when absent. */
static NameSlot *name_slot(NameSet *ns, const char *s, size_t len, int add)
{
    size_t h = 1469598103934665603u;   /* FNV-1a, as name_hash */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    NameSlot *e;
    for (h &= ns->mask;; h = (h + 1) & ns->mask) {
        e = &ns->slot[h];
        if (!e->name || (e->len == len && memcmp(e->name, s, len) == 0))
            break;
    }
    if (!e->name && add)
        *e = (NameSlot){.name = s, .len = len, .next = 2};
    return e->name ? e : NULL;
}

static NameSlot *name_add(NameSet *ns, const char *s) { return name_slot(ns, s, strlen(s), 1); }

/* Nothing is named `name` any more: if it is some base's suffixed form
 * BASE_k, k is free again for BASE. */
static void name_released(NameSet *ns, const char *name)
{
    const char *us = strrchr(name, '_');
    if (!us || us[1] < '1' || us[1] > '9' || us[strspn(us + 1, "0123456789") + 1] != '\0')
        return;
    long k = strtol(us + 1, NULL, 10);
    NameSlot *b = name_slot(ns, name, (size_t)(us - name), 0);
    if (b && k >= 2 && k < b->next)
        b->next = (int)k;
}

static void uniquify_names(IrProgram *p)
{
    /* each value, param and slot adds at most one name, and each rename one */
    size_t cap = 16;
    while (cap < 4 * (size_t)(2 * p->nv + p->nparams + p->nslots))
        cap *= 2;
    NameSet ns = {xrealloc(NULL, cap * sizeof *ns.slot), cap - 1};
    memset(ns.slot, 0, cap * sizeof *ns.slot);
    for (int j = 0; j < p->nparams; j++) {
        NameSlot *e = name_add(&ns, p->params[j].name);
        e->used++;
        e->seen = 1;
    }
    for (int j = 0; j < p->nslots; j++)
        name_add(&ns, p->slots[j].name)->seen = 1;
    for (int j = 0; j < p->nv; j++)
        if (p->v[j].name)
            name_add(&ns, p->v[j].name)->used++;

    char *buf = NULL;
    size_t bufsize = 0;
    for (int i = 0; i < p->nv; i++) {
        Value *v = &p->v[i];
        if (!v->name)
            continue;
        NameSlot *e = name_add(&ns, v->name);
        if (e->seen && v->op != OP_PARAM && v->op != OP_INPUT) {
            size_t need = e->len + 16;
            if (need > bufsize)
                buf = xrealloc(buf, bufsize = need);
            int k = e->next;
            for (;; k++) {
                snprintf(buf, bufsize, "%s_%d", v->name, k);
                NameSlot *c = name_slot(&ns, buf, strlen(buf), 0);
                if (!c || c->used == 0)
                    break;
            }
            e->next = k + 1;
            if (--e->used == 0)
                name_released(&ns, v->name);
            v->name = ir_strdup(p, buf);
            e = name_add(&ns, v->name);
            e->used++;
        }
        e->seen = 1;
    }
    free(buf);
    free(ns.slot);
}

/* ---- lint: numerical traps ---- */

/* Does v hold a probability from softmax or sigmoid (or 1 - one)?  Returns
 * OP_SOFTMAX, OP_SIGMOID or 0; *logits is the value they were computed from. */
static int probability(const IrProgram *p, int v, int *logits)
{
    const Value *x = &p->v[v];
    if (x->op == OP_SOFTMAX || x->op == OP_SIGMOID) {
        *logits = x->arg[0];
        return x->op;
    }
    if (x->op == OP_SUB && p->v[x->arg[0]].op == OP_CONST && p->v[x->arg[0]].num == 1)
        return probability(p, x->arg[1], logits) == OP_SIGMOID ? OP_SIGMOID : 0;
    return 0;
}

/* The user's name for the logits in a suggestion, or "z". */
static const char *logit_name(const IrProgram *p, int v)
{
    const Value *x = &p->v[v];
    return x->name && !x->temp ? x->name : "z";
}

/*
 * log of a softmax or sigmoid is -inf as soon as the probability rounds to
 * 0 (a logit of -100 in float32), and its gradient then NaN; the fused ops
 * compute the same numbers from the logits with log-sum-exp and cannot
 * overflow.  Warn where a model writes log(softmax(z)), log(sigmoid(z)),
 * log(1 - sigmoid(z)), or a cross-entropy by hand (y * log(p) with p one of
 * these), with the rewrite.
 */
static void lint_numerics(IrProgram *p)
{
    /* the logs of probabilities that are factors of a product: cross-entropy */
    char *hand = calloc((size_t)p->nv, 1);
    int z, kind, last_stmt = -1, last_kind = 0;
    for (int i = 0; i < p->nv; i++)
        for (int k = 0; k < 2 && p->v[i].op == OP_MUL; k++) {
            const Value *lg = &p->v[p->v[i].arg[k]];
            hand[p->v[i].arg[k]] |= lg->op == OP_LOG && probability(p, lg->arg[0], &z);
        }
    for (int i = 0; i < p->nv; i++) {
        const Value *v = &p->v[i];
        for (int k = 0; k < 2 && v->op == OP_MUL; k++) {
            int lg = v->arg[k];
            if (!hand[lg] || !(kind = probability(p, p->v[lg].arg[0], &z)))
                continue;
            if (v->stmt == last_stmt && kind == last_kind)
                continue;   /* y log(p) + (1 - y) log(1 - p): one warning */
            last_stmt = v->stmt;
            last_kind = kind;
            if (kind == OP_SOFTMAX)
                diag_warning(v->loc, "hand-written cross-entropy: log(softmax(...)) is -inf once a "
                             "probability rounds to 0; write cross_entropy(%s, c) with a class "
                             "target (target c : class(K)), or -sum(y * log_softmax(%s)) for "
                             "soft targets", logit_name(p, z), logit_name(p, z));
            else
                diag_warning(v->loc, "hand-written cross-entropy: log(sigmoid(...)) is -inf once "
                             "a probability rounds to 0; write bce_with_logits(%s, y), which "
                             "computes -(y log(sigmoid(%s)) + (1 - y) log(1 - sigmoid(%s))) "
                             "stably", logit_name(p, z), logit_name(p, z), logit_name(p, z));
        }
        if (v->op != OP_LOG || hand[i] || !(kind = probability(p, v->arg[0], &z)))
            continue;
        const char *n = logit_name(p, z);
        if (kind == OP_SOFTMAX)
            diag_warning(v->loc, "log(softmax(%s)) is unstable (-inf once a probability rounds "
                         "to 0); write log_softmax(%s)", n, n);
        else if (p->v[v->arg[0]].op == OP_SIGMOID)
            diag_warning(v->loc, "log(sigmoid(%s)) is unstable (-inf once sigmoid rounds to 0); "
                         "write -bce_with_logits(%s, 1)", n, n);
        else
            diag_warning(v->loc, "log(1 - sigmoid(%s)) is unstable (-inf once sigmoid rounds "
                         "to 1); write -bce_with_logits(%s, 0)", n, n);
    }
    free(hand);
}

/* A model without a classifier loss predicts a value when its loss compares
 * something with a slot, as in `sum((yhat - y)^2)`: the prediction is yhat,
 * compared with target y, or with input x for an autoencoder's
 * `sum((xhat - x)^2)` (used only when no target is compared).  Plots draw it
 * (regression surfaces, reconstructions); accuracy never uses it. */
static void find_value_output(IrProgram *p, const char *mark)
{
    for (int want_target = 1; want_target >= 0 && p->output < 0; want_target--)
        for (int i = 0; i < p->nv && p->output < 0; i++) {
            const Value *v = &p->v[i];
            if (!mark[i] || v->op != OP_SUB)
                continue;
            for (int k = 0; k < 2; k++) {
                const Value *t = &p->v[v->arg[k]], *y = &p->v[v->arg[1 - k]];
                if (t->op != OP_INPUT || y->op == OP_INPUT || !y->batched
                    || !shape_equal(&t->shape, &y->shape)
                    || p->slots[t->index].target != want_target)
                    continue;
                p->output = v->arg[1 - k];
                p->out_slot = t->index;
                p->out_value = 1;
                break;
            }
        }
}

/* The slots the runtime draws after the data slots (ir_data_slots), each
 * group in declaration order, so that the trainer's data[s] of a data slot
 * is its index among the data (before the prediction's slot is chosen). */
static void noise_last(IrProgram *p)
{
    IrSlot *sorted = xrealloc(NULL, (size_t)(p->nslots ? p->nslots : 1) * sizeof *sorted);
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->nslots; i++)
            if ((p->slots[i].noise != IR_DATA) == pass) {
                sorted[n] = p->slots[i];
                p->v[sorted[n].value].index = n;
                n++;
            }
    free(p->slots);
    p->slots = sorted;
}

static void finish(Sema *S)
{
    IrProgram *p = S->p;
    Loc none = {0};
    if (p->loss < 0) {
        if (diag_error_count() == 0) {
            Loc at = {p->file, 1, 1, 0, 0};
            (void)none;
            diag_error(at, "the model has no loss: add a line `loss = ...` (a per-sample scalar)");
        }
        return;
    }
    const Value *L = &p->v[p->loss];
    if (shape_numel(&L->shape) != 1) {
        diag_error(S->loss_loc, "the loss must be a per-sample scalar, but has shape %s; "
                   "reduce it with sum(...) or mean(...)", shape_text(&L->shape));
        return;
    }
    if (!L->batched) {
        diag_error(S->loss_loc, "the loss does not depend on any input or target");
        return;
    }
    if (p->penalty >= 0) {
        const Value *P = &p->v[p->penalty];
        if (shape_numel(&P->shape) != 1)
            diag_error(S->penalty_loc, "the penalty must be a scalar, but has shape %s",
                       shape_text(&P->shape));
        else if (P->batched)
            diag_error(S->penalty_loc, "the penalty must depend on parameters only (it is added "
                       "once per batch), but it uses an input or target");
    }
    char *mark = calloc((size_t)p->nv, 1);
    mark_deps(p, p->loss, mark);
    mark_deps(p, p->penalty, mark);
    for (int i = 0; i < p->nslots; i++) {
        p->slots[i].unused = !mark[p->slots[i].value];
        if (p->slots[i].unused && !p->slots[i].target)
            diag_warning(p->slots[i].loc, "%s '%s' does not affect the loss",
                         p->slots[i].noise ? "noise" : "input", p->slots[i].name);
    }
    noise_last(p);
    for (int i = 0; i < p->nparams; i++)
        if (!mark[p->params[i].value])
            diag_warning(p->params[i].loc, "param '%s' does not affect the loss", p->params[i].name);
    /* the prediction for metrics: the logits of cross_entropy / bce_with_logits */
    memset(mark, 0, (size_t)p->nv);
    mark_deps(p, p->loss, mark);
    for (int i = 0; i < p->nv && p->output < 0; i++) {
        const Value *v = &p->v[i];
        if (!mark[i] || (v->op != OP_XENT && v->op != OP_BCE))
            continue;
        const Value *t = &p->v[v->arg[1]];
        if (t->op != OP_INPUT)
            continue;
        p->output = v->arg[0];
        p->out_slot = t->index;
    }
    if (p->output < 0)
        find_value_output(p, mark);
    free(mark);
    for (int i = 0; i < p->nsettings; i++)
        if (strcmp(p->settings[i].key, "metrics") == 0 && strstr(p->settings[i].value, "accuracy")
            && (p->output < 0 || p->out_value))
            diag_warning(p->settings[i].loc, "accuracy needs a classifier (a loss with "
                         "cross_entropy(logits, c) or bce_with_logits(logit, y)); this model's "
                         "trainer will not report it");
    for (int i = 0; i < S->opt->ndefs; i++) {
        Define *d = &S->opt->defs[i];
        if (d->used)
            continue;
        const char **names = malloc((size_t)(S->nb + 1) * sizeof *names);
        int k = 0;
        for (int j = 0; j < S->nb; j++)
            if (S->b[j].kind == B_CONST)
                names[k++] = S->b[j].name;
        const char *near = diag_closest(d->name, names, k);
        Loc at = {0};
        if (near)
            diag_error(at, "-D %s: the model has no const '%s' (did you mean '%s'?)", d->name,
                       d->name, near);
        else
            diag_error(at, "-D %s: the model has no const '%s'", d->name, d->name);
        free(names);
    }
    lint_numerics(p);
    uniquify_names(p);
}

static const char *file_stem(IrProgram *p, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = ir_strdup(p, base);
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = '\0';
    for (char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            *c = '_';
    return s;
}

IrProgram *sema_lower(const Program *ast, const char *source, const SemaOptions *opt)
{
    Sema S;
    memset(&S, 0, sizeof S);
    S.opt = opt;
    S.p = ir_new(ast->file, source);
    S.p->dtype = opt->dtype;
    for (const char *c = source; c; c = strchr(c, '\n'), c = c ? c + 1 : NULL) {
        if (S.nlines % 256 == 0)
            S.line = xrealloc(S.line, (size_t)(S.nlines + 256) * sizeof *S.line);
        S.line[S.nlines++] = c;
    }
    run_stmts(&S, ast->stmts, ast->nstmts, 0, 0);
    if (!S.p->name)
        S.p->name = file_stem(S.p, ast->file);
    finish(&S);
    free(S.b);
    free(S.bslot);
    free(S.line);
    S.p->fwd.begin = 0;
    S.p->fwd.end = S.p->nv;
    if (diag_error_count() > 0) {
        ir_free(S.p);
        return NULL;
    }
    ir_verify(S.p);
    return S.p;
}
