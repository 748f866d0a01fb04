/*
 * plan.h - the lowering decisions every backend shares, made once here as
 * data (emit_c.c prints them as C, jit_ops.c builds them as LLVM IR,
 * emit_loops.c and explain.c use those that fit one sample at a time):
 * which values get a workspace buffer, where each parameter sits in the
 * flat buffer, when an adjoint step assigns and when it accumulates, an
 * elementwise op's loops, a reduction's term, how a matrix product maps
 * onto nnrt_gemm (and that call's arguments) or loops, which steps share a
 * fused loop, and the steps of the row algorithms (softmax and friends).
 * Keeping them here means the C trainer and `nnc run` agree on what each
 * step computes, and a new op kind is planned in one place (docs/ir.md,
 * "Adding an op kind").
 */
#ifndef NNC_PLAN_H
#define NNC_PLAN_H

#include "ir.h"
#include "expr.h"

/* Storage of a program, computed once per backend run. */
typedef struct CgLayout {
    long *param_off;      /* offset of each parameter in the flat buffer */
    long nparam_total;
    char *fwd_mark;       /* values the loss or the prediction needs */
    char *pen_mark;       /* values the penalty needs */
    char *needs_buf;      /* value has a workspace buffer */
    long per_sample;      /* workspace elements per sample of the batch */
    long fixed;           /* workspace elements independent of the batch */
    /* rolled loops (ir.h, IrLoop): a value of a step and its adjoint have
     * one slot per step in their buffer, step t's at slot t + shift, and
     * the code moves the value's pointer to it at the top of each step; a
     * carry and its source share one buffer of count + 1 slots (the carry
     * at step t in slot t, the source in slot t + 1), as do their
     * adjoints.  Outside the loop a pointer rests on the first step
     * (forward) or the last (backward), where the code before the loop
     * uses it, and stays on the step where the loop left it. */
    int *owner;           /* the value whose workspace buffer holds id's (id, or a
                           * carry's source, or its adjoint's); needs_buf is the owner's */
    int *slots;           /* an owner's buffer holds this many tensors of its shape */
    int *shift;           /* id at step t is in slot t + shift */
    int *loop;            /* the loop that moves id's pointer, or -1 */
} CgLayout;

void cg_layout_init(CgLayout *l, const IrProgram *p);

/* Value id's slot in its owner's buffer at step t (0 outside loops). */
int cg_slot(const CgLayout *l, int id, int t);
/* The slot a function's pointer to id starts on: backward functions begin
 * with a loop's last step. */
int cg_slot_start(const IrProgram *p, const CgLayout *l, int id, int backward);

/* Rolled loops in the code: the loop whose step (forward, or adjoint when
 * backward) begins at value id, or ends after it; -1 when none. */
int cg_loop_begins(const IrProgram *p, int id, int backward);
int cg_loop_ends(const IrProgram *p, int id, int backward);

/* The adjoint buffers of rolled loops' steps, cleared (every slot) at the
 * start of the loss's backward pass: every write to them adds.  Marks
 * them in written (cg_store); returns how many owners, ids in ids (room
 * for p->nv). */
int cg_pass_clears(const IrProgram *p, const CgLayout *l, char *written, int *ids);
/* The adjoint buffers outside loop l that its step's adjoint writes first:
 * cleared just before the loop, so that every step adds.  Likewise. */
int cg_loop_clears(const IrProgram *p, const CgLayout *l, int loop, char *written, int *ids);

void cg_layout_free(CgLayout *l);

/* Mark root and every value it depends on. */
void cg_mark_needed(const IrProgram *p, int root, char *mark);

/* The buffer an op writes: its own, or its accumulation target's. */
int cg_dest(const IrProgram *p, int id);

/* An accumulating op is the first write into an adjoint buffer and covers
 * all of it (no sum over batch or broadcast dimensions): it can assign.
 * written[] records the adjoint buffers already written in the function. */
int cg_first_full_write(const IrProgram *p, int id, const char *written);

/* How value id stores into its destination: CG_ASSIGN, CG_ADD, or
 * CG_ZERO_ADD (clear the whole target first, then add).  Updates written. */
typedef enum CgStore { CG_ASSIGN, CG_ADD, CG_ZERO_ADD } CgStore;
CgStore cg_store(const IrProgram *p, int id, char *written);

/* Op op's element as an expression over its operands' elements (expr.h):
 * an elementwise op's (ir_op_expr), and for a reduction (K_REDUCE) the
 * term it sums, $0 (sum, mean) or $0 * $0 (sumsq).  A mean then divides
 * the sum by the count (cg_reduce_mean). */
const IrExpr *cg_elem_expr(Op op);
int cg_reduce_mean(Op op);

/* The loops of a reduction (K_REDUCE value id): */
typedef enum CgReduceLoops {
    CG_RED_COPY,       /* one number per sample: each sample's term */
    CG_RED_SAMPLES,    /* every sample's sum at once, the samples innermost */
    CG_RED_ONE         /* one sum (no batch), a vectorised reduction */
} CgReduceLoops;

CgReduceLoops cg_reduce_loops(const IrProgram *p, int id);

/* An elementwise op runs as one flat loop when every operand is the whole
 * tensor or a plain scalar (no broadcasting by index arithmetic). */
int cg_map_flat(const IrProgram *p, int id);

/* The loops of an elementwise op over N elements per sample: */
typedef enum CgMapLoops {
    CG_MAP_FLAT,       /* one flat loop over every element (cg_map_flat) */
    CG_MAP_BATCH_SUM,  /* for each element (when N > 1), a sum over the samples added into
                        * an unbatched target (a gradient): a vectorised reduction */
    CG_MAP_NESTED,     /* for each element (when N > 1), then each sample innermost (when
                        * batched) */
    CG_MAP_STRETCHED   /* an operand or the target stretched (cg_map_stretched): a loop
                        * per run of axes, summed where the target is stretched */
} CgMapLoops;

CgMapLoops cg_map_loops(const IrProgram *p, int id);

/* numpy's broadcasting beyond a suffix or one number: an operand of shape
 * small stretched along its dimensions of 1 over the iteration shape big
 * ([O, 1, 1] over [O, H, W], [1, 4] over [3, 4]).  Such a map loops over
 * runs of the iteration's axes along which the same operands are stretched
 * (for [O, H, W] + [O, 1, 1]: i over O, j over H W, the bias at [i]); when
 * its target is stretched (the gradient of a stretched operand) the
 * stretched runs are inner loops summed into a local.  Such a map fuses
 * unless its target is stretched (cg_map_target_stretched). */
int cg_stretched(const Shape *small, const Shape *big);
/* Any operand or the target of map value id stretched (cg_stretched). */
int cg_map_stretched(const IrProgram *p, int id);
/* The target of map value id stretched: a gradient's sum, never fused.  A
 * map whose operands only are stretched fuses with the steps over its
 * elements (and reads them at cg_stretched_ref, below). */
int cg_map_target_stretched(const IrProgram *p, int id);

/* Inputs and targets of more than one number are copied into the
 * workspace with the samples innermost (transposed on entry to forward);
 * single numbers per sample are laid out the same either way and are read
 * where the runtime put them. */
int cg_slot_transposed(const IrProgram *p, int slot);

/* How one operand of a product is stored per sample: a row-major
 * rows x cols block, used transposed when t.  Vectors are stored as
 * [1, len]; on the left they are rows unless transposed, on the right
 * columns unless transposed (ir.h). */
typedef struct CgOperand { int rows, cols, t, batched, size; } CgOperand;

/* The operand v of a product: flag is its transpose flag, left says which side. */
CgOperand cg_operand(const Value *v, int flag, int left);

/* Per-sample products with at most this many multiply-adds per sample are
 * written out as loops with constant bounds, the batch innermost: the
 * compiler unrolls them and vectorises over the samples, where a GEMM call
 * would spend its time on call overhead and on packing thin matrices.
 * Larger ones over the batch go to nnrt_gemm (OpenBLAS).  NNC_GEMM_MIN in
 * the environment moves the bound (tests compare both forms of one model). */
#define CG_SMALL_MATMUL 4096
long cg_small_matmul_bound(void);
/* In a rolled loop's step (ir.h IrLoop) the bound is lower: the step's
 * loops run T times per pass over a batch that the runtime halves
 * (NnrtModel.halves), and W7's input product (128 x 28 per sample) and its
 * weight gradient took 1.7 times the time of the rest of the step as loops,
 * and a third of it as GEMMs (OpenBLAS's kernels for small matrices). */
#define CG_SMALL_MATMUL_STEP 1024

/* How a MATMUL value runs.  Both backends store a per-sample tensor of S
 * elements for a batch of n samples as [S, n], samples innermost (element
 * i of sample b at i * n + b): a batched vector of k values is a [k, n]
 * matrix, so some products over the whole batch are one GEMM. */
typedef enum CgMatmulKind {
    CG_MM_SINGLE,      /* neither operand batched: one GEMM */
    CG_MM_COLUMNS,     /* op(A) times every sample at once: C[m, nn * n] = op(A) B[k, nn * n] */
    CG_MM_ROWS,        /* each sample's row vector times op(B): C[nn, n] = op(B)' A[k, n] */
    CG_MM_BATCH_SUM,   /* summed over the batch: sum_b a_b b_b' = A[m, n] B[nn, n]' */
    CG_MM_LOOPS        /* loops with constant bounds, the batch innermost */
} CgMatmulKind;

/* The loops of a CG_MM_LOOPS product, for each row i and column j: */
typedef enum CgMatmulLoops {
    CG_MML_SUM,        /* C has no batch: a sum over k (and over the samples, vectorised) */
    CG_MML_OUTER,      /* k == 1: per sample, C[i, j] (+)= A[i] B[j] */
    CG_MML_ACCUM       /* per sample, C[i, j] += A[i, k] B[k, j] over k (C cleared first
                        * when the product assigns) */
} CgMatmulLoops;

typedef struct CgMatmul {
    CgMatmulKind kind;
    CgMatmulLoops loops;   /* for CG_MM_LOOPS */
    CgOperand A, B;
    int m, k, n;       /* op(A) is m x k, op(B) k x n */
    int dst_batched;
} CgMatmul;

/* The plan for MATMUL value id: GEMM where the layout allows one and the
 * product is above cg_small_matmul_bound(), loops otherwise. */
CgMatmul cg_matmul_plan(const IrProgram *p, int id);

/*
 * Loop nests.  The loops of an elementwise op, a transpose, a reduction and
 * a product planned as loops, with the element statement inside, as data
 * (cg_nest): emit_c.c prints it as C, jit_ops.c builds it as LLVM IR, so
 * the two follow one nest, loop for loop and statement for statement.  A
 * nest is a sequence of steps: a loop opens (and CG_N_END closes it), a
 * statement stores an element expression (expr.h) over references to
 * elements, locals and numbers into an element or a local.
 *
 * An element of a value is a sum of terms over the loop variables (each
 * var * coef, or var % mod: an operand broadcast along the loop), of
 * sample b when batched: element e of sample b is at e * n + b (samples
 * innermost; the JIT's rows are ld long, padded).
 */
/* CG_VAR_T: a rolled loop's step (ir.h IrLoop), which the backends' loop over the steps sets */
typedef enum CgVar { CG_VAR_I, CG_VAR_J, CG_VAR_K, CG_VAR_M, CG_VAR_B, CG_VAR_T, CG_NVARS } CgVar;

/* The C names of the variables: "i", "j", "k", "m", "b". */
extern const char *const cg_var_name[CG_NVARS];

/* var / div (when div > 1), % mod (when mod > 0), * coef: i * 3, i % 4, or
 * i / 784 for a bias [6, 1, 1] stretched over a flat loop over [6, 28, 28] */
typedef struct CgTerm { CgVar var; int coef, mod, div; } CgTerm;

typedef enum CgRefKind {
    CG_REF_ELEM,       /* an element of value id */
    CG_REF_LOCAL,      /* the nest's local */
    CG_REF_NUM,        /* a number, of the dtype (C: a literal such as 0.0f) */
    CG_REF_SEED        /* the adjoint program's seed */
} CgRefKind;

typedef struct CgRef {
    CgRefKind kind;
    int id;            /* CG_REF_ELEM */
    int nterms;        /* the element within the sample: the sum of term[] and off */
    CgTerm term[IR_MAXRANK + 1];   /* + 1: a rolled loop's step (CG_VAR_T) */
    int off;
    int batched;       /* of sample b */
    double num;        /* CG_REF_NUM */
} CgRef;

typedef enum CgNestKind {
    CG_N_LOOP,         /* for var in [0, count) */
    CG_N_BLOCK,        /* a block of its own (C's braces around a local) */
    CG_N_UNLESS_HELD,  /* a block that runs unless the runtime holds the stop_gradient
                        * values (nnrt_held(): check's finite differences) */
    CG_N_END,          /* the end of the innermost loop or block */
    CG_N_CLEAR,        /* set all of dst.id's buffer to 0 */
    CG_N_STORE         /* dst (op) e, e over arg[] as $0 $1 $2 */
} CgNestKind;

typedef enum CgCount {
    CG_COUNT_CONST,    /* k */
    CG_COUNT_SAMPLES,  /* the samples, n (the JIT: to its padded rows when padded) */
    CG_COUNT_FLAT      /* every element of k per sample, n * k (the JIT: its padded rows) */
} CgCount;

typedef enum CgStoreOp {
    CG_OP_DECL,        /* declare the local, = e */
    CG_OP_SET,         /* = e */
    CG_OP_ADD,         /* += e */
    CG_OP_DIV          /* /= e */
} CgStoreOp;

typedef struct CgNestStep {
    CgNestKind kind;
    /* CG_N_LOOP */
    CgVar var;
    CgCount count;
    int k;
    int brace;         /* C writes the body in braces (else it is one statement) */
    int sum;           /* a sum into the local the vectoriser may reorder (NNRT_SIMD_SUM) */
    int padded;        /* over the samples: the JIT runs to its padded rows */
    int parallel;      /* a flat loop: independent iterations (the JIT's hint) */
    /* CG_N_STORE */
    CgStoreOp op;
    CgRef dst;
    const IrExpr *e;
    int nargs;
    CgRef arg[3];
} CgNestStep;

typedef struct CgNest {
    const char *local;         /* the name of the local ("s", "sum"), or NULL */
    int nsteps;
    CgNestStep step[16];
} CgNest;

/* In a fused loop over element i of the iteration shape it, a stretched
 * operand x (cg_stretched) is read at its element: adjacent axes merged,
 * i / (H W) for [O, 1, 1] over [O, H, W], i / 8 * 2 + i % 2 for
 * [3, 1, 2] over [3, 4, 2]; of sample b when batched. */
CgRef cg_stretched_ref(const IrProgram *p, int x, const Shape *it);

/* The nest of value id (K_MAP, K_TRANS, K_REDUCE, K_VIEW, or K_MATMUL
 * planned as CG_MM_LOOPS), which stores into its destination as st says (cg_store:
 * the caller has cleared the destination for CG_ZERO_ADD). */
void cg_nest(const IrProgram *p, int id, CgStore st, CgNest *n);

/* For `predict --outputs`: the values the forward pass computes under a
 * name of the model (not temporaries, inputs, targets or parameters) and
 * stores in a workspace buffer (after keep_all(): fused steps too), in
 * value order.  Writes their ids to ids (room for p->nv) and returns how
 * many; NnrtModel.values in both backends. */
int cg_named_values(const IrProgram *p, const CgLayout *l, int *ids);
/* A named value of a rolled loop's step is written for every step: its
 * owner's whole buffer, S = this many slots (count, or count + 1 for a
 * carried h: the state before the first step, then each step's), as one
 * more first axis [S, ...].  0 for a value outside loops. */
int cg_value_steps(const CgLayout *l, int id);

/* The nnrt_gemm call (C = op(A) op(B) + beta C, row-major) of a product
 * planned as a GEMM (every kind but CG_MM_LOOPS): its operands and sizes.
 * A size or leading dimension is a constant, a count of samples (k of
 * them per sample: the C backend's n * k, the JIT's n, or its padded rows
 * ld * k when k > 1) or a batched buffer's row (n * k in C, ld * k in the
 * JIT). */
typedef enum CgDimKind { CG_DIM_CONST, CG_DIM_COUNT, CG_DIM_ROW } CgDimKind;
typedef struct CgDim { CgDimKind kind; int k; } CgDim;

typedef struct CgGemm {
    int ta, tb;
    CgDim M, N, K, lda, ldb, ldc;
    int a, b;          /* the values A and B (CG_MM_ROWS swaps the product's operands) */
} CgGemm;

CgGemm cg_gemm(const IrProgram *p, int id, const CgMatmul *mm);

/* For --trap-nan: the buffers the model's nonfinite() checks after a pass
 * over range r (only values marked, when mark is not NULL), in execution
 * order: one check per workspace buffer, labelled with the value that
 * first writes it (its statement names the model line).  Writes the
 * values' ids to ids (room for p->nv) and returns how many. */
int cg_nonfinite_checks(const IrProgram *p, const CgLayout *l, IrRange r, const char *mark,
                        int *ids);

/* A per-sample product op(A) @ op(B) whose result is a vector per sample
 * with at most this many terms per element is written with each element's
 * sum in a register ("s += A[i, k] * x[k, b]" over k, inside the loop over
 * the samples): gcc unrolls the sum and vectorises over the samples, and
 * the bias and activation that follow apply to the register (CgFusion).
 * Longer sums add row by row into the result instead. */
#define CG_REG_SUM_K 16

/* The product `id` is such a register sum (planned as CG_MM_LOOPS). */
int cg_matmul_reg_sum(const IrProgram *p, int id);

/* A product summed over the batch into a weight's gradient,
 * d_W += d_h @ x' ([m] x [nn] per sample, k = 1, small enough for loops),
 * joins a fused loop over the N elements of one operand: per element, one
 * sum over the samples for each value of the other operand, each its own
 * chain of vector adds, where the product's own loop (one sum per entry
 * of d_W) left the CPU waiting on one chain at a time (W1's epochs 1.5x
 * faster with d_W2 += d_h2_2 @ h1' in the loop beside d_b2).  At most
 * CG_FUSED_SUMS sums per loop, so that they stay in the 16 vector
 * registers of AVX2 beside the loop's other values.  Returns which
 * operand runs along the loop (0 = A: m == N, 1 = B: nn == N), -1 when
 * the product cannot join a loop over N elements. */
#define CG_FUSED_SUMS 12
int cg_batch_sum_side(const IrProgram *p, int id, int N);

/* The sums over the batch value id keeps in a fused loop over N elements:
 * a weight gradient's (above), 1 for a bias's, 0 for none. */
int cg_batch_sums(const IrProgram *p, int id, int N);

/*
 * Loop fusion (the C backend).  A run of consecutive steps over the same
 * elements of every sample ([N] x [n]) becomes one loop nest (i over the N
 * elements, b over the samples innermost), one statement per step:
 * register-sum products, elementwise ops, sums over the batch into a
 * vector of N (a bias's gradient) and small weight gradients
 * (cg_batch_sum_side).  A
 * step whose element is complete in the loop (not an accumulation among
 * several) is kept in a local that later steps of the loop read.  Members
 * read other members' results only at the same element, so fusing never
 * changes what a step reads.  A local that no other loop reads (and that
 * is neither the loss nor the prediction) is transient: its buffer is
 * stored only when the passes run for --trap-nan (Work.keep), so that
 * nonfinite() can still name the first statement whose buffer holds a
 * non-finite value, as the unfused code would.
 */
typedef struct CgFusion {
    int *head;       /* head[i]: the first value of i's fused loop, or -1 */
    int *size;       /* size[h]: the elements per sample the loop headed by h runs over */
    char *local;     /* i's element is complete in a local of its loop */
    char *transient; /* i's buffer is stored only for --trap-nan */
    int ntransient;  /* how many are */
    long transient_per_sample;   /* their buffers' elements per sample */
    int *next;       /* next[i]: the member after i in its loop, or -1 */
    int *arg_local;  /* arg_local[3 * i + a]: the member (its place in the loop) whose
                      * local holds i's operand a, or -1 (cg_fused_plan) */
} CgFusion;

/* Plan the fused loops of the forward program (values marked in
 * l->fwd_mark) and of the loss's adjoint program. */
void cg_fusion_init(CgFusion *fu, const IrProgram *p, const CgLayout *l);
void cg_fusion_free(CgFusion *fu);

/*
 * A fused loop as data (cg_fused_plan), which emit_c.c prints and jit_ops.c
 * builds, member for member:
 *
 *   for i in [0, N)                      (when N > 1)
 *       every member's sums = 0
 *       for b over the samples
 *           each member in order: its element (kind), kept in its local
 *           when later members read it there, then stored into dst at
 *           (i, b) (always, or only for --trap-nan: keep_only), or added
 *           into its sums
 *       each member's sums stored into their destinations
 *
 * A member's operands are references (CgRef) to an element at (i, b), a
 * number, the seed, or CG_REF_LOCAL: the local of the earlier member
 * whose index in the loop is the reference's id.
 */
typedef enum CgFusedKind {
    CG_FM_ELEM,       /* e over arg[] (an elementwise op, or a reduction's term of
                       * one number per sample) */
    CG_FM_REG_SUM,    /* a product's element in a register (cg_matmul_reg_sum): the
                       * sum over k in [0, nk) of arg[0] * arg[1], refs over i, k, b */
    CG_FM_OUTER       /* a weight's gradient (cg_batch_sum_side): sum s += arg[0] *
                       * sum[s].y (side 0), or sum[s].y * arg[0] (side 1) */
} CgFusedKind;

/* A sum over the samples of a member (a bias's gradient's, or one of a
 * weight gradient's row or column), added into dst after the samples. */
typedef struct CgFusedSum { CgRef y, dst; } CgFusedSum;

typedef struct CgFusedMember {
    int id;                /* the value */
    CgFusedKind kind;
    CgStore store;         /* into its destination (cg_store; CG_ZERO_ADD: the
                            * backend clears it before the loop, in member order) */
    int nargs;
    CgRef arg[3];
    const IrExpr *e;       /* CG_FM_ELEM */
    int nk;                /* CG_FM_REG_SUM */
    int side;              /* CG_FM_OUTER */
    int local;             /* the element is declared a local (C: `real h_ = ...`) */
    int into_sums;         /* the element adds into the member's sums (its
                            * destination has no batch), else into dst */
    int keep_only;         /* dst is stored only for --trap-nan (CgFusion.transient) */
    CgRef dst;             /* the destination's element at (i, b) */
    int nsum;
    CgFusedSum *sum;       /* nsum of them, in CgFused.sums */
} CgFusedMember;

typedef struct CgFused {
    int N;                 /* elements per sample: i's count */
    int nmembers, nsums;   /* nsums: every member's sums */
    CgFusedMember *m;
    CgFusedSum *sums;
} CgFused;

/* The plan of the fused loop headed by h; written[] as cg_store's (the
 * members' stores are decided in order).  Linear in the loop's members. */
void cg_fused_plan(const CgFusion *fu, const IrProgram *p, int h, char *written, CgFused *f);
void cg_fused_free(CgFused *f);

/* Samples per forward/backward pass (NnrtModel.tile) for a model whose
 * per-sample workspace is tiny: the runtime runs a batch in chunks of that
 * many, so a chunk's activations and adjoints stay in the L1 cache from the
 * forward pass to the backward pass, and the gradients' sums over the
 * samples are short, independent chains the CPU overlaps.  A multiple of
 * 16 (whole SIMD vectors) with the chunk's buffers within CG_TILE_BYTES,
 * three quarters of a 32 KiB L1 cache (the parameters, their gradients and
 * the stack need the rest: W1's passes ran 3% faster in tiles of 96 or 128
 * samples, 17 and 23 KiB, than in 64, and 12% slower in 160, 29 KiB); 0
 * (chunks as large as the batch) when that leaves fewer than CG_TILE_MIN
 * samples: wide layers want the whole batch in one GEMM.  per_sample: the
 * workspace elements per sample the fast passes touch (the data they hold
 * included, transient buffers not). */
#define CG_TILE_BYTES (24 * 1024)
#define CG_TILE_MIN 32
int cg_tile(long per_sample, DType dt);

/*
 * The row algorithms (K_ROW: softmax, log_softmax, cross_entropy and their
 * adjoints), planned once for every backend: each runs over the rows of
 * its operands (the last axis, K entries; one row per sample for
 * cross_entropy) as a few steps, each an element expression (expr.h) over
 * the row's operands:
 *
 *   $0 $1 $2   operand k's element j of the row, or its one number for the
 *              row (CgRow.scalar: cross_entropy's label, its adjoint's seed)
 *   $3 $4      mx (the row's maximum), sum (of exp(x[j] - mx))
 *   $5 $6      lse (mx + log(sum)), dot (a sum over the row of an adjoint)
 *   $7 $8 $9   j, cls (the class label, an integer), x[cls]
 *
 * and the backends lower the steps (emit_c.c and emit_loops.c print them
 * as C, jit_ops.c builds them, explain.c evaluates them), so the family is
 * written once, here.  Each subtracts the row's maximum before exp, so
 * large logits cannot overflow.
 */
enum { CG_ROW_MX = 3, CG_ROW_SUM, CG_ROW_LSE, CG_ROW_DOT, CG_ROW_J, CG_ROW_CLS, CG_ROW_XCLS,
       CG_ROW_NOPS };

/* The C names of the row's locals and indices ($3 .. $8): "mx", "sum", ... */
extern const char *const cg_row_name[CG_ROW_NOPS];

typedef enum CgRowStepKind {
    CG_ROW_LOCALS,    /* declare locals: local[0] (and local[1] when >= 0), each 0, or
                       * x[0] when first[k] */
    CG_ROW_NUMBERS,   /* the row's numbers are read (CgRow.scalar), and cls = (int)$cls
                       * when cls >= 0 */
    CG_ROW_REDUCE,    /* for j in [from, K): local[0] = e (or += e when add) */
    CG_ROW_LET,       /* local[0] = e, once per row */
    CG_ROW_STORE,     /* for j in [0, K): the destination's element j (=|+=) e */
    CG_ROW_STORE_ONE  /* the value's one number for the row = e */
} CgRowStepKind;

typedef struct CgRowStep {
    CgRowStepKind kind;
    int local[2], first[2];
    int from, add, cls;
    const IrExpr *e;
} CgRowStep;

typedef struct CgRow {
    int x;             /* the operand mx and sum run over, which x[cls] reads */
    char scalar[3];    /* operand k has one number per row (else K per row) */
    int labels;        /* reads class labels: only real samples may run (the JIT pads) */
    int nsteps;
    CgRowStep step[6];
} CgRow;

/* The algorithm of row op op (parsed once). */
const CgRow *cg_row_plan(Op op);

/* Row value id's entries per row (K) and rows per sample. */
void cg_row_dims(const IrProgram *p, int id, int *K, int *rows);

/*
 * Views and placements (K_VIEW: X[t], h[2:5], reshape, and the placements
 * of concat and of every view's adjoint).  Nothing is computed: elements
 * move between the smaller tensor and their places in the larger.  The
 * loops run over the smaller tensor's axes, merged where both tensors are
 * contiguous along them (X[t] of a [T, D] input is one loop over D), and
 * per sample (batched) each element is a run of n, samples innermost.
 */
typedef struct CgView {
    int src, dst;         /* the value read and the buffer written (cg_dest) */
    int gather;           /* 1: a view (dst is the smaller); 0: a placement */
    int clear;            /* a placement of its own (no accumulation): zero dst first */
    int sum_batch;        /* src batched, dst not: each element sums over the samples */
    int nloops;
    int count[IR_MAXRANK];
    int small_stride[IR_MAXRANK], big_stride[IR_MAXRANK];
    int off;              /* the larger tensor's first element */
    int step;             /* in a rolled loop's step: off + t * step at step t (X[t]) */
} CgView;

CgView cg_view_plan(const IrProgram *p, int id);

/*
 * The sliding windows (K_CONV: conv2d, conv1d, the pools and their
 * adjoint steps), planned once: the sizes of the runtime's NnrtConv
 * (nnrt.h) that every backend passes to the same runtime function (the C
 * trainer prints the call, the JIT builds it), and that --style=loops and
 * explain loop over.  A 1-d map [C, L] is H = KH = OH = 1.
 */
typedef enum CgConvCall {
    CG_CONV, CG_CONV_BWD_X, CG_CONV_BWD_K, CG_CONV_BWD_B,
    CG_MAXPOOL, CG_AVGPOOL, CG_MAXPOOL_BWD, CG_AVGPOOL_BWD
} CgConvCall;

typedef struct CgConv {
    CgConvCall call;
    int C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw;   /* NnrtConv, in its order */
    int spatial;       /* 1 or 2 */
    int bias;          /* a convolution with a bias operand (not the constant 0) */
    int gemm;          /* NnrtConv.gemm: the step as matrix products (cg_conv_gemm) */
    int x, k, y;       /* the values holding x, K and y or their adjoints (the
                        * step's own destination among them), -1 where none */
} CgConv;

CgConv cg_conv_plan(const IrProgram *p, int id);

/* A convolution's step runs as matrix products over im2col's columns
 * (nnrt_conv.c) rather than the direct kernels when it is large: at least
 * CG_CONV_GEMM_MIN multiply-adds per sample (NNC_CONV_GEMM_MIN in nnc's
 * environment moves the bound, for tests).  Below it the copy into
 * columns costs more than the products save.  The input's gradient, a
 * product with as many rows as the input has channels, only from
 * CG_CONV_GEMM_ROWS of them: with fewer (an image's 1 or 3, LeNet's 6)
 * the direct kernel is faster (docs/performance.md). */
#define CG_CONV_GEMM_MIN 65536
#define CG_CONV_GEMM_ROWS 16
int cg_conv_gemm(const CgConv *c);

/* The runtime function of a window step (nnrt_conv, nnrt_conv_bwd_x, ...). */
extern const char *const cg_conv_fn[];

/*
 * Gathers and scatters (K_GATHER: E[tok], E[seq] and the adjoint's
 * scatter-add).  For each of the T indices of a sample, r = the index, and
 * the D elements of row r of the table move to (or add from) the T rows:
 *   gather:  rows[t, j] = table[r, j]      scatter: table[r, j] += rows[t, j]
 * The index is read per sample (an input); the table may be a parameter or
 * a value per sample.
 */
typedef struct CgGather {
    int table, index, rows;   /* buffers: a scatter's table is its destination */
    int scatter;
    int T, D;                 /* indices per sample, elements per row */
} CgGather;

CgGather cg_gather_plan(const IrProgram *p, int id);

/* FNV-1a of the source text: NnrtModel.source_hash. */
unsigned long long cg_source_hash(const char *s);

/*
 * Batch norm (K_BATCH, ops.def): each value is one call of the runtime's
 * nnrt_batchnorm (nnrt.h) over the n samples of a pass, the kernel's op,
 * its operands a, b, c, d (values, -1 for NULL), out the value's
 * destination (cg_dest; assigned or added as cg_store says) and the
 * running statistics (parameter indices, -1 for NULL: rmean and rvar are
 * updated in place in train mode).  Every backend prints or builds the
 * call with its own pointers and strides; the loops are the runtime's.
 */
typedef struct CgBatch {
    int kernel;          /* NNRT_BN_STATS ... */
    const char *name;    /* "NNRT_BN_STATS" ... */
    int C, S;            /* channels, elements per channel and sample */
    int arg[4];
    int rmean, rvar;
} CgBatch;

CgBatch cg_batch_plan(const IrProgram *p, int id);

/* Does the program have a stop_gradient, whose values check's finite
 * differences hold (the nest's CG_N_UNLESS_HELD)?  Its passes in check
 * then hold every sample (NnrtModel.holds). */
int cg_holds(const IrProgram *p);

/* Does the program have a K_BATCH op?  Its passes in train mode then hold
 * whole batches: no tile (NnrtModel.batchnorm). */
int cg_batch_model(const IrProgram *p);

/* Does the runtime cut a pass in two halves for its threads
 * (NnrtModel.halves)?  When the program has rolled loops, whose steps run
 * one after the other, each too small to be cut, or convolutions and
 * pools, whose many steps (a product per tile of positions, the pools, the
 * elementwise steps between them) would each cost a wait between the
 * threads; not with batch norm. */
int cg_halves(const IrProgram *p);

#endif
