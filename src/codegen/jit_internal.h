/*
 * jit_internal.h - what the files of the LLVM JIT share (private to them).
 *
 * The JIT is nnc's second backend: the IR (forward and adjoint programs)
 * to LLVM IR, optimised for the host CPU and run in memory by ORC LLJIT
 * (`nnc run`, --emit=llvm, nnc sweep).  It is built into nnc-jit.so, not
 * into nnc (Makefile, JIT_SRCS), from these files, in the order a value
 * goes through them:
 *
 *   jit_build.c   building blocks: constants, index arithmetic, loops and
 *                 their hints, multiply-adds, calls, each value's storage
 *                 and the element of an operand in a loop
 *   jit_math.c    the inlined float32 exp, log1p and tanh (the runtime's
 *                 bits) and ops.def's element expressions as instructions
 *   jit_ops.c     the lowering of each op kind: elementwise maps, matrix
 *                 products, transposes, reductions, row ops (softmax and
 *                 friends) and the fused loops
 *   jit_module.c  the trainer's functions of one model: forward,
 *                 backward, penalty, the workspace (create, destroy,
 *                 output), nonfinite() for --trap-nan and the dispatch to
 *                 a copy of a pass specialised for the tile
 *   jit_llvm.c    target machines, optimisation, the object cache,
 *                 linking, and the cg_jit_* entry points nnc calls
 *   jit_main.c    the hand-over to the runtime's nnrt_main()
 *
 * It makes the same decisions as the C backend (plan.h: workspace buffers,
 * when an adjoint step assigns or accumulates, which products go to
 * nnrt_gemm and which run as loops, which steps share a fused loop) over
 * the same layout (every per-sample tensor stored samples innermost,
 * [S, n]) and writes the same loops in the same order, so the numbers
 * match the generated trainer's (docs/jit.md says how closely).
 *
 * The functions have the signatures of NnrtModel's forward, backward and
 * penalty.  Their workspace is an array of pointers (create(),
 * jit_module.c):
 *
 *   work[0]            the one allocation
 *   work[1]            the prediction of the last forward (output())
 *   work[2 + s]        data slot s: its copy, transposed (data_in)
 *   work[2 + nslots + k]  the k-th buffer of the layout, in value order,
 *                      then the prediction transposed back (when it is
 *                      more than one number per sample)
 */
#ifndef NNC_JIT_INTERNAL_H
#define NNC_JIT_INTERNAL_H

#include <llvm-c/Core.h>
#include "codegen.h"
#include "expr.h"
#include "plan.h"

#define WORK_FIXED 2      /* work[0] allocation, work[1] prediction */
#define ROW 32            /* loops over the samples run to n rounded up to a multiple (padded rows) */
#define SKEW_LOG2 5       /* ... and a row is longer by 32 when its bytes are a multiple of 2048 */
#define SKEW (1 << SKEW_LOG2)

/* One model being built: its plan, the LLVM module, and the function
 * being built in it. */
typedef struct Jit {
    const IrProgram *p;
    CgLayout lay;
    CgFusion fu;          /* the C backend's fused loops (plan.h) */
    int *slot;            /* index of each value's buffer in the workspace, or -1 */
    int nslot;
    int pred_slot;        /* the prediction transposed back, or -1 */
    int trap;             /* for --trap-nan: every step stored (also the transient
                           * ones), and nonfinite() */
    int tile;             /* NnrtModel.tile (build_passes) */
    int width;            /* the vector width of the parallel loops (vector_width), 0: LLVM's choice */

    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;     /* the current position */
    LLVMBuilderRef eb;    /* the end of the entry block: pointers and accumulators */
    LLVMTypeRef real, i1, i8, i32, i64, rptr, rpptr, i8p;
    LLVMValueRef gemm, transpose, finite;   /* the runtime's, of the dtype */
    LLVMTypeRef gemm_ty, transpose_ty, finite_ty;

    /* the function being built */
    LLVMValueRef fn;
    LLVMValueRef work, params, grads, n, n64, seed;
    LLVMValueRef nb, ld;  /* n rounded up to ROW, a batched buffer's row (padded rows) */
    LLVMMetadataRef group;  /* the access group of the loops with independent iterations */
    /* the members of the fused loop being built kept in registers, which
     * later members may read (fresh_product): a set of regmask + 1 slots
     * (open addressing, NULL where free), NULL outside a fused loop */
    LLVMValueRef *regs;
    size_t regmask;
    LLVMValueRef *storage;  /* each value's storage in this function, made on first use */
    struct Loop *loop;    /* the innermost loop open */
    char *written;        /* adjoint buffers already written (plan.h, cg_store) */
    LLVMValueRef t;       /* the rolled loop's step being built (X[t]), or NULL */
    int backward;         /* building a backward pass: rolled loops' pointers start on
                           * the last step (plan.h, cg_slot_start) */
} Jit;

/* for (i = 0; i < count; i++): loop_open returns i; loop_close ends the body.
 * A loop with reassoc set is a sum that the vectoriser may reorder, as the
 * C backend's NNRT_SIMD_SUM (omp simd reduction) allows gcc: LLVM-C 14
 * cannot set fast-math flags, but the loop hint llvm.loop.vectorize.enable
 * lets the loop vectoriser reassociate.  A parallel loop's iterations are
 * independent: the loops over the samples (samples_open), whose iteration
 * b reads and writes sample b of the batched buffers and at most reads
 * the others, and the flat loops over elements, index i for index i. */
typedef struct Loop {
    LLVMBasicBlockRef pre, head, exit;
    LLVMValueRef i, count;
    int reassoc;          /* also parallel (omp simd) */
    int parallel;
    int outer;            /* holds another loop: not unrolled (see loop_close) */
    int interleave;       /* the vectoriser's interleave count, 0 for its choice */
    int scalar;           /* not vectorised */
    struct Loop *parent;  /* the loop around this one */
} Loop;

static inline int numel(const Value *v) { return shape_numel(&v->shape); }

/* constants of the index and the real types */
static inline LLVMValueRef const_i64(const Jit *j, long x) { return LLVMConstInt(j->i64, (unsigned long long)x, 1); }
static inline LLVMValueRef const_i32(const Jit *j, int x) { return LLVMConstInt(j->i32, (unsigned long long)x, 1); }
static inline LLVMValueRef const_real(const Jit *j, double x) { return LLVMConstReal(j->real, x); }

/* the JIT's own functions stay inside nnc-jit.so (only cg_jit_* are its
 * interface, codegen.h) */
#pragma GCC visibility push(hidden)

/* jit_build.c: building blocks */
void *xcalloc(size_t n, size_t size);
const char *value_name(const Jit *j, int id, char *buf, size_t n);
LLVMValueRef index_add(Jit *j, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef index_mul(Jit *j, LLVMValueRef a, long k);
LLVMValueRef offset_ptr(Jit *j, LLVMValueRef base, LLVMValueRef idx);
LLVMValueRef load_real(Jit *j, LLVMValueRef ptr);
LLVMValueRef load_at(Jit *j, LLVMValueRef base, LLVMValueRef idx);
void store_at(Jit *j, LLVMValueRef x, LLVMValueRef base, LLVMValueRef idx);
void store_or_add(Jit *j, LLVMValueRef ptr, LLVMValueRef x, int accumulate);
LLVMValueRef stack_local(Jit *j, LLVMTypeRef t, const char *name);
LLVMValueRef zeroed_local(Jit *j, const char *name);
LLVMValueRef loop_open(Jit *j, Loop *l, LLVMValueRef count, const char *name);
LLVMValueRef samples_open(Jit *j, Loop *l, int padded);
void loop_close(Jit *j, Loop *l);
LLVMValueRef call_math(Jit *j, const char *name, LLVMValueRef *args, int nargs);
void call_gemm(Jit *j, int ta, int tb, LLVMValueRef M, LLVMValueRef N, LLVMValueRef K,
               LLVMValueRef A, LLVMValueRef lda, LLVMValueRef B, LLVMValueRef ldb,
               LLVMValueRef beta, LLVMValueRef C, LLVMValueRef ldc);
void call_transpose(Jit *j, LLVMValueRef src, LLVMValueRef rows, LLVMValueRef cols,
                    LLVMValueRef dst);
LLVMValueRef fmuladd(Jit *j, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
LLVMValueRef real_add(Jit *j, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef real_sub(Jit *j, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef real_mul(Jit *j, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef horner(Jit *j, const float *c, size_t n, LLVMValueRef x);
LLVMValueRef work_ptr(Jit *j, int k, const char *name);
LLVMValueRef storage(Jit *j, int id);
/* A rolled loop's value (plan.h, CgLayout.loop): its owner's whole buffer,
 * and the pointer to its slot (an i64) built where b builds. */
LLVMValueRef step_base(Jit *j, int id);
LLVMValueRef step_ptr(Jit *j, LLVMBuilderRef b, int id, LLVMValueRef slot);
LLVMValueRef batch_index(Jit *j, LLVMValueRef idx, int batched, LLVMValueRef b);
LLVMValueRef elem_ptr(Jit *j, int id, int N, int flat, int loop_batched, LLVMValueRef b,
                      LLVMValueRef i);
LLVMValueRef load_elem(Jit *j, int id, int N, int flat, int loop_batched, LLVMValueRef b,
                       LLVMValueRef i);
int begin_store(Jit *j, int id);
void keep_in_register(Jit *j, LLVMValueRef x);
void clear_dest(Jit *j, int id);

/* jit_math.c: math functions and element expressions */
LLVMValueRef jit_expf(Jit *j, LLVMValueRef x);
LLVMValueRef jit_log1pf(Jit *j, LLVMValueRef x);
LLVMValueRef jit_tanhf(Jit *j, LLVMValueRef x);
LLVMValueRef build_math(Jit *j, MathFn f, LLVMValueRef *args);
LLVMValueRef build_expr(Jit *j, const IrExpr *e, LLVMValueRef *ops);
/* build_expr, where an operand that is NULL in ops is made by make(j, arg,
 * ctx) at its first use (a load placed where the expression reads it). */
LLVMValueRef build_expr_lazy(Jit *j, const IrExpr *e, LLVMValueRef *ops,
                             LLVMValueRef (*make)(Jit *j, int arg, void *ctx), void *ctx);

/* jit_ops.c: the ops */
void emit_value(Jit *j, int id);

/* jit_module.c: a model's module */
LLVMModuleRef build_module(Jit *j, const IrProgram *p, LLVMContextRef ctx, int trap,
                           int specialise);
void jit_free(Jit *j);

/* jit_llvm.c: the host */
int vector_width(DType dtype);

#pragma GCC visibility pop

#endif
