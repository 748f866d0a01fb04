/*
 * plan.h - the decisions both backends share (emit_c.c writes C from them,
 * jit_llvm.c LLVM IR): which values get a workspace buffer, where each
 * parameter sits in the flat buffer, when an adjoint step assigns and when
 * it accumulates, and how a matrix product maps onto nnrt_gemm (the JIT's
 * layout only, see cg_matmul_plan).  Keeping them here means the C trainer
 * and `nnc run` agree on what each step computes.
 */
#ifndef NNC_PLAN_H
#define NNC_PLAN_H

#include "ir.h"

/* Storage of a program, computed once per backend run. */
typedef struct CgLayout {
    long *param_off;      /* offset of each parameter in the flat buffer */
    long nparam_total;
    char *fwd_mark;       /* values the loss or the prediction needs */
    char *pen_mark;       /* values the penalty needs */
    char *needs_buf;      /* value has a workspace buffer */
    long per_sample;      /* workspace elements per sample of the batch */
    long fixed;           /* workspace elements independent of the batch */
} CgLayout;

void cg_layout_init(CgLayout *l, const IrProgram *p);
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

/* An elementwise op runs as one flat loop when every operand is the whole
 * tensor or a plain scalar (no broadcasting by index arithmetic). */
int cg_map_flat(const IrProgram *p, int id);

/* How one operand of a product is stored per sample: a row-major
 * rows x cols block, used transposed when t.  Vectors are stored as
 * [1, len]; on the left they are rows unless transposed, on the right
 * columns unless transposed (ir.h). */
typedef struct CgOperand { int rows, cols, t, batched, size; } CgOperand;

/* The operand v of a product: flag is its transpose flag, left says which side. */
CgOperand cg_operand(const Value *v, int flag, int left);

/* Per-sample products that do not fold into one GEMM over the batch and are
 * small enough to write out as loops with constant bounds: the compiler
 * unrolls and vectorises them, where a call to nnrt_gemm per sample would
 * spend its time on call and loop overhead.  The bound is in per-sample
 * multiply-adds. */
#define CG_SMALL_MATMUL 4096

/* How a MATMUL value runs in the sample-major layout ([n, S]: sample b of
 * a tensor of S elements at b * S) that the JIT uses; emit_c.c stores
 * samples innermost ([S, n]) and plans its products itself. */
typedef enum CgMatmulKind {
    CG_MM_SINGLE,      /* neither operand batched: one GEMM */
    CG_MM_STACK_ROWS,  /* the batch stacks A's rows: [n*m, k] @ op(B) */
    CG_MM_COLUMNS,     /* op(A) times each sample's column: C[n, m] = X[n, k] @ op(A)' */
    CG_MM_BATCH_SUM,   /* summed over the batch: sum_b A_b' B_b = A_stacked' B_stacked */
    CG_MM_LOOPS,       /* small per-sample products as loops */
    CG_MM_PER_SAMPLE   /* one GEMM per sample, summed when C has no batch */
} CgMatmulKind;

typedef struct CgMatmul {
    CgMatmulKind kind;
    CgOperand A, B;
    int m, k, n;       /* op(A) is m x k, op(B) k x n */
    int dst_batched;
} CgMatmul;

CgMatmul cg_matmul_plan(const IrProgram *p, int id);

/* FNV-1a of the source text: NnrtModel.source_hash. */
unsigned long long cg_source_hash(const char *s);

#endif
