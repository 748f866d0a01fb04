/*
 * ir.h - nnc's intermediate representation: a typed SSA list of tensor ops.
 *
 * A program is one array of values.  Each value is produced by one op (the
 * table in ops.def) from earlier values, and has a static per-sample shape,
 * a dtype and the source location it came from.  The batch dimension is
 * never part of a shape: a value is `batched` when it depends on an input or
 * target, and then holds one such tensor per sample of the batch; otherwise
 * (parameters, constants, the penalty) it exists once.
 *
 * Reverse mode (src/ad) appends the adjoint program to the same array.  Its
 * values are ordinary ops except for one thing: a value may have `acc` set,
 * meaning "add my result into the buffer of value acc" (an adjoint buffer,
 * OP_ADJ, or a parameter's gradient).  That is how adjoints are accumulated
 * with +=, so a value used twice gets both contributions by construction;
 * when such a value is batched and its target is not, the sum over the
 * batch happens in the same +=.  Broadcasting works the same way: an
 * operand whose shape is a suffix of the iteration shape is read at index
 * i mod its size, and an accumulation into a smaller target sums over the
 * broadcast dimensions.
 */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdio.h>
#include "diag.h"

#define IR_MAXRANK 4

typedef enum Op {
#define OP(code, name, arity, kind, notation, cexpr, rule, fn, fn_args) OP_##code,
#include "ops.def"
#undef OP
    OP_COUNT
} Op;

typedef enum IrKind { K_LEAF, K_MAP, K_MATMUL, K_TRANS, K_REDUCE, K_ROW, K_ADJ, K_VIEW, K_BATCH, K_CONV, K_GATHER } IrKind;

typedef struct OpInfo {
    const char *name;
    int arity;
    IrKind kind;
    const char *notation;
    const char *cexpr;
    const char *fn;          /* the language's function making it, or NULL */
    const char *fn_args;     /* ... its arguments' names ("logits, target") */
} OpInfo;

extern const OpInfo ir_ops[OP_COUNT];

typedef enum DType { DT_F32, DT_F64 } DType;

typedef struct Shape {
    int rank;
    int dim[IR_MAXRANK];
} Shape;

/* K_VIEW: element j = (j_0, .., j_r-1) of the smaller tensor (a view's
 * result, a placement's operand) is element off + sum_k j_k stride[k] of
 * the larger one, both counted row-major within one sample.  Indexing,
 * slices and reshapes are all such maps; the offset is the one number a
 * loop over time would vary. */
typedef struct IrView {
    int off;
    int stride[IR_MAXRANK];
    int step;   /* in a rolled loop's step (IrLoop): off + t * step at step t (X[t]) */
} IrView;

typedef struct Value {
    Op op;
    int nargs;
    int arg[4];        /* (four: batchnorm's operands; every other op has at most three) */
    Shape shape;       /* per sample; for an accumulating op, its iteration shape */
    int batched;
    int acc;           /* -1, or the value whose buffer this op adds into */
    int label;         /* class-label data (an input slot declared `class(K)`) */

    double num;        /* CONST: the number */
    int index;         /* INPUT: slot, PARAM: parameter, LITERAL: literal table entry */
    int ta, tb;        /* MATMUL: transpose flags of the operands */
    IrView view;       /* K_VIEW: where the smaller tensor sits in the larger */
    int stride, pad, window;   /* K_CONV: the step of the window, the zeros added on
                                * each side of the spatial axes, a pool's window */

    const char *name;  /* the user's name for it (h1, W1), or a derived one (h1_1, d_h1) */
    int temp;          /* a temporary inside a statement (h1_1), not a name the user bound */
    int stmt;          /* the statement it implements (index into IrProgram.stmts) */
    int from;          /* adjoint values: the forward value whose rule made it */
    Loc loc;
} Value;

/* A parameter of the model: `param W1[H, D] = xavier_uniform`. */
typedef enum InitKind {
    INIT_ZEROS, INIT_ONES, INIT_IDENTITY, INIT_NORMAL, INIT_UNIFORM,
    INIT_XAVIER_UNIFORM, INIT_XAVIER_NORMAL, INIT_HE_UNIFORM, INIT_HE_NORMAL,
    INIT_LITERAL, INIT_LOAD, INIT_FILL
} InitKind;

typedef struct IrParam {
    const char *name;
    Shape shape;
    int frozen;
    InitKind init;
    double a, b;          /* NORMAL (mean, std), UNIFORM (low, high), FILL (a: every element) */
    double *values;       /* LITERAL */
    const char *file, *key;   /* LOAD */
    Loc loc;
    int value;            /* its OP_PARAM value */
} IrParam;

/* A slot the runtime draws rather than reads from data (`noise eps[16] =
 * normal(0, 1)`, dropout's mask): for every pass, in train mode fresh
 * numbers from its counter-based generator, in eval mode the draw's mean
 * (nnrt.h, NnrtDraw).  Sema puts these slots after the data slots. */
typedef enum IrNoise { IR_DATA, IR_NOISE_NORMAL, IR_NOISE_UNIFORM, IR_NOISE_DROPOUT } IrNoise;

/* An input or target of the model. */
typedef struct IrSlot {
    const char *name;
    Shape shape;
    int target;           /* declared with `target` */
    int nclass;           /* > 0: `class(K)` */
    int nindex;           /* > 0: `index(V)`: an input of integers in [0, V) */
    Loc loc;
    int value;            /* its OP_INPUT value */
    double *example;      /* the example block's sample, or NULL */
    int unused;           /* the loss does not depend on it */
    IrNoise noise;        /* IR_DATA, or how the runtime draws it */
    double a, b;          /* NORMAL (mean, std), UNIFORM (low, high), DROPOUT (p) */
} IrSlot;

/* A train-block setting, its value written back as text (see nnrt.h). */
typedef struct IrSetting {
    const char *key, *value;
    Loc loc;
} IrSetting;

/* A source statement, for the comments of generated code. */
typedef struct IrStmt {
    int line;
    const char *text;     /* the statement's source line, trimmed */
} IrStmt;

/* A piece of the program: the values [begin, end) in order. */
typedef struct IrRange { int begin, end; } IrRange;

/* A rolled loop: `repeat t = T { ... }` whose steps all compute the same
 * values with the same shapes (sema tries the first two steps) is kept as
 * one step, run T times, instead of T copies.  The forward values [body,
 * end) are the step; each exists once per step t = 0 .. count - 1 (the
 * backends keep step t's in slot t of a buffer of count slots, so the
 * backward pass can read every step's).  A value the step reads from the
 * step before is a carry: the COPY value carry[k], placed just before
 * body, holds its operand (the value before the loop: h's first value) at
 * step 0 and source[k] (a body value: the new h) of step t - 1 at step t.
 * A value after the loop reading a body value reads its last step's.  The
 * loss's adjoint program holds the body's adjoint in [bwd_begin, bwd_end),
 * run for t = count - 1 down to 0; a carry's adjoint at step t is its
 * source's at step t - 1, and its own rule (a copy's) runs after the loop,
 * adding step 0's into the first value's adjoint. */
typedef struct IrLoop {
    const char *var;      /* the step's name in the source (t) */
    int count;            /* steps, >= 2 */
    int body, end;        /* the step's values */
    int ncarry;
    int *carry, *source;  /* carry[k] (a COPY before body) is source[k] of the step before */
    int bwd_begin, bwd_end;   /* the step's adjoint (empty when the loss has none) */
    int stmt;             /* the repeat's statement */
} IrLoop;

typedef struct IrProgram {
    const char *file;     /* the .nn file */
    const char *source;   /* its text */
    const char *name;     /* model name */
    DType dtype;

    Value *v;
    int nv, cap;

    IrParam *params;   int nparams;
    IrSlot *slots;     int nslots;
    IrSetting *settings; int nsettings;
    IrStmt *stmts;     int nstmts;
    double **literals; int nliterals;

    int loss;             /* per-sample scalar, batched */
    int penalty;          /* scalar, unbatched, or -1 */
    int output;           /* the model's prediction, or -1 */
    int out_slot;         /* the slot it is compared with, or -1 */
    int out_value;        /* 1: a value (regression, reconstruction); 0: logits */

    IrRange fwd;          /* the forward program */
    IrRange bwd_loss;     /* adjoint program of the loss (seeded with the weight) */
    IrRange bwd_penalty;  /* adjoint program of the penalty (seeded with 1) */
    int *grad;            /* grad[param] = value holding its gradient, or -1 */
    IrLoop *loops;        /* rolled loops, in program order (IrLoop) */
    int nloops;

    char **strs;          /* strings the program owns (ir_strdup), freed with it */
    int nstrs, capstrs;
} IrProgram;

/* The data slots (inputs and targets), which come first in p->slots; the
 * rest are drawn by the runtime (IrSlot.noise).  With none drawn, nslots. */
int ir_data_slots(const IrProgram *p);

IrProgram *ir_new(const char *file, const char *source);
void ir_free(IrProgram *p);
/* A copy of s owned by p: names and texts made by the passes live as long
 * as the program and are freed by ir_free. */
char *ir_strdup(IrProgram *p, const char *s);

/* Append a value; returns its index.  The shape is given by the caller
 * (sema and ad compute it with the helpers below). */
int ir_emit(IrProgram *p, Value v);

/* The most elements one tensor of one sample may have (sema refuses more):
 * counts and offsets within a tensor fit in an int with room to spare. */
#define IR_MAX_NUMEL (1 << 28)

/* Elements of a shape within IR_MAX_NUMEL (an internal error beyond). */
int shape_numel(const Shape *s);
/* Does s have at most IR_MAX_NUMEL elements?  Safe for any dimensions. */
int shape_fits(const Shape *s);
/* The most elements of one batched value for one sample (0 when none is
 * batched): the generated code indexes it for n samples as i * n + b in an
 * int, so n may be at most INT_MAX / this (NnrtModel.sample_max). */
int ir_sample_max(const IrProgram *p);
int shape_equal(const Shape *a, const Shape *b);
int shape_is_suffix(const Shape *small, const Shape *big);
/* `small` broadcasts to `big` as in numpy: aligned from the right, each of
 * its dimensions equals big's or is 1 (which stretches), and it has no more
 * dimensions.  A suffix of big (the common case: [H] to [O, H]) or one
 * element read at i mod its size; other operands stretched ([O, 1, 1] to
 * [O, H, W]) are indexed by plan.h's cg_bcast. */
int shape_broadcasts(const Shape *small, const Shape *big);
/* The element of small (broadcasting to big) that big's element i reads:
 * i mod its size for a suffix, 0 for one element, i / (H W) for [O, 1, 1]
 * over [O, H, W]. */
int shape_broadcast_elem(const Shape *small, const Shape *big, int i);
/* The shape a and b broadcast to (numpy); 0 when they do not. */
int shape_broadcast(const Shape *a, const Shape *b, Shape *out);
/* Writes "[10, 2]" (or "[]" for a scalar) into buf; returns buf. */
char *shape_str(const Shape *s, char *buf, size_t n);
Shape shape_make(int rank, const int *dims);

/* The per-sample result shape of a MATMUL of a and b with transpose flags,
 * following ir.h's vector conventions; returns 0 and writes a message when
 * the inner dimensions differ. */
int ir_matmul_shape(const Shape *a, int ta, const Shape *b, int tb, Shape *out,
                    char *err, size_t errlen);

/* Printing: the IR text form (docs/ir.md) and the language-like notation of
 * one value (`h1 = relu(h1_2)`, `d_W1 += outer(d_h1_2, x)`). */
void ir_print(FILE *out, const IrProgram *p);
void ir_print_range(FILE *out, const IrProgram *p, IrRange r);
char *ir_notation(const IrProgram *p, int id, char *buf, size_t n);
/* `nnc --emit=grad`: the forward values the backward pass reads and the
 * adjoint programs, in the language's notation under their source lines
 * (docs/ir.md). */
void ir_print_grad(FILE *out, const IrProgram *p);
char *ir_rhs_notation(const IrProgram *p, int id, char *buf, size_t n);
const char *ir_value_name(const IrProgram *p, int id);

/* A view (K_VIEW value id) read axis by axis: for each axis of the larger
 * tensor, either one index (axis[a] = -1, start[a] the index) or the range
 * [start[a], start[a] + its length) along axis axis[a] of the smaller one,
 * the smaller's axes in order.  Returns 0 when the view is no such thing
 * (a reshape).  Used for notation, `--style=loops` and messages. */
int ir_view_axes(const IrProgram *p, int id, int *start, int *axis);
/* The view's index as the language writes it ("[3]", "[2:5]", "[:, 0:3]"),
 * or, when it is a reshape, "" (the caller says reshape). */
char *ir_view_index(const IrProgram *p, int id, char *buf, size_t n);
/* The small and large tensors of K_VIEW value id (a view reads its operand,
 * a placement writes its own shape). */
int ir_view_small(const IrProgram *p, int id);
/* A view of a rolled loop's step that moves by one along an axis of the
 * larger tensor at each step (X[t]): that axis, else -1. */
int ir_view_step_axis(const IrProgram *p, int id);
const Shape *ir_view_big_shape(const IrProgram *p, int id);

/* The rolled loop (index into p->loops) whose step holds value id: a
 * forward value in [body, end) or an adjoint step in [bwd_begin,
 * bwd_end); -1 for any other value (a carry is before its loop). */
int ir_loop_of(const IrProgram *p, int id);
/* The loop of which value id is a carry (its index k there in *k), or -1. */
int ir_carry_of(const IrProgram *p, int id, int *k);
/* The loop of which value id is a carry's source (*k its index), or -1. */
int ir_source_of(const IrProgram *p, int id, int *k);
/* Mark root and everything it depends on, a carry's source too (the
 * carry holds it from the step before). */
void ir_mark_deps(const IrProgram *p, int root, char *mark);

/* Structural checks after every pass (debug builds): operands before uses,
 * arities, shapes consistent with the op's shape rule.  A failure is an
 * internal error. */
void ir_verify(const IrProgram *p);

#endif
