/*
 * jit_llvm.c - the second backend: IR (forward and adjoint programs) to LLVM
 * IR, optimised for the host CPU and run in memory by ORC LLJIT (`nnc run`).
 *
 * It makes the same decisions as the C backend (plan.h: workspace buffers,
 * when an adjoint step assigns or accumulates, which products go to
 * nnrt_gemm and which run as loops, which steps share a fused loop) over
 * the same layout (every per-sample tensor stored samples innermost,
 * [S, n]) and writes the same loops in the same order, so the numbers match the generated trainer's (docs/jit.md
 * says how closely).  An elementwise op's element expression is not written
 * twice: the c_expr template of ops.def is parsed here into LLVM
 * instructions.
 *
 * The functions have the signatures of NnrtModel's forward, backward and
 * penalty.  Their workspace is an array of pointers (create() below):
 *
 *   work[0]            the one allocation
 *   work[1]            the prediction of the last forward (output())
 *   work[2 + s]        data slot s: its copy, transposed (data_in)
 *   work[2 + nslots + k]  the k-th buffer of the layout, in value order,
 *                      then the prediction transposed back (when it is
 *                      more than one number per sample)
 *
 * The module is optimised and compiled to an ELF object here, which the
 * compile cache keeps (cache.h, docs/cache.md: the same IR for the same CPU
 * is compiled once), and LLJIT links that object into the process.
 * Runtime functions (nnrt_gemm_f32/f64) and libm are resolved from the
 * process: this file is built into nnc-jit.so with the whole runtime, which
 * nnc loads (jit_load.c) with its symbols global.
 * Built only with LLVM, into nnc-jit.so; without it (make LLVM=none) nnc
 * answers with the stubs of jit_load.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "codegen.h"
#include "nnrt_internal.h"
#include "plan.h"
#include "teach.h"

#ifdef NNC_LLVM

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Error.h>
#include <llvm-c/ErrorHandling.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm/Config/llvm-config.h>
#include "jit.h"
#include "nnrt.h"

#define NNC_VERSION "0.1.0"
#define WORK_FIXED 2      /* work[0] allocation, work[1] prediction */
#define NFN 7             /* the model's functions (link_object) */
#define ROW 32            /* loops over the samples run to n rounded up to a multiple (padded rows) */
#define SKEW_LOG2 5       /* ... and a row is longer by 32 when its bytes are a multiple of 2048 */
#define SKEW (1 << SKEW_LOG2)

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
    LLVMValueRef *regs;   /* the steps of the fused loop being built kept in registers */
    int nregs;
    LLVMValueRef *base;   /* each value's storage in this function, made on first use */
    struct Loop *loop;    /* the innermost loop open */
    char *written;        /* adjoint buffers already written (plan.h, cg_store) */
} Jit;

static void *xcalloc(size_t n, size_t size)
{
    void *q = calloc(n ? n : 1, size);
    if (!q)
        diag_internal("out of memory");
    return q;
}

static int numel(const Value *v) { return shape_numel(&v->shape); }

static const char *vname(const Jit *j, int id, char *buf, size_t n)
{
    const Value *v = &j->p->v[id];
    if (v->name)
        snprintf(buf, n, "%s", v->name);
    else
        snprintf(buf, n, "t%d", id);
    return buf;
}

/* ---- small builders ---- */

static LLVMValueRef i64c(const Jit *j, long x) { return LLVMConstInt(j->i64, (unsigned long long)x, 1); }
static LLVMValueRef i32c(const Jit *j, int x) { return LLVMConstInt(j->i32, (unsigned long long)x, 1); }
static LLVMValueRef realc(const Jit *j, double x) { return LLVMConstReal(j->real, x); }

static LLVMValueRef add(Jit *j, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(j->b, a, b, ""); }
static LLVMValueRef mul(Jit *j, LLVMValueRef a, long k)
{
    return k == 1 ? a : LLVMBuildNSWMul(j->b, a, i64c(j, k), "");
}

static LLVMValueRef at(Jit *j, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(j->b, j->real, base, &idx, 1, "");
}

static LLVMValueRef load(Jit *j, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildLoad2(j->b, j->real, at(j, base, idx), "");
}

static void store(Jit *j, LLVMValueRef x, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMBuildStore(j->b, x, at(j, base, idx));
}

/* A scalar local (sum, max), promoted to a register by the optimiser. */
static LLVMValueRef local(Jit *j, LLVMTypeRef t, const char *name)
{
    return LLVMBuildAlloca(j->eb, t, name);
}

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

static LLVMValueRef loop_open(Jit *j, Loop *l, LLVMValueRef count, const char *name)
{
    l->pre = LLVMGetInsertBlock(j->b);
    l->head = LLVMAppendBasicBlockInContext(j->ctx, j->fn, name);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    l->exit = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    l->count = count;
    l->reassoc = 0;
    l->parallel = 0;
    l->outer = 0;
    l->interleave = 0;
    l->scalar = 0;
    l->parent = j->loop;
    if (l->parent)
        l->parent->outer = 1;
    j->loop = l;
    LLVMBuildBr(j->b, l->head);
    LLVMPositionBuilderAtEnd(j->b, l->head);
    l->i = LLVMBuildPhi(j->b, j->i64, name);
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntSLT, l->i, count, ""), body, l->exit);
    LLVMPositionBuilderAtEnd(j->b, body);
    return l->i;
}

/* The loop over the samples of the batch: for (b = 0; b < n; b++), or with
 * padded, to nb (padded rows, above bidx). */
static LLVMValueRef samples_open(Jit *j, Loop *l, int padded)
{
    LLVMValueRef b = loop_open(j, l, padded ? j->nb : j->n64, "b");
    if (padded)
        l->interleave = 1;
    l->parallel = 1;
    return b;
}

/* A loop hint: name = true. */
static LLVMMetadataRef loop_hint(Jit *j, const char *name)
{
    LLVMMetadataRef kv[2] = {
        LLVMMDStringInContext2(j->ctx, name, strlen(name)),
        LLVMValueAsMetadata(LLVMConstInt(j->i1, 1, 0)),
    };
    return LLVMMDNodeInContext2(j->ctx, kv, 2);
}

/* A loop hint: name = x (an i32). */
static LLVMMetadataRef loop_hint_i(Jit *j, const char *name, int x)
{
    LLVMMetadataRef kv[2] = {
        LLVMMDStringInContext2(j->ctx, name, strlen(name)),
        LLVMValueAsMetadata(i32c(j, x)),
    };
    return LLVMMDNodeInContext2(j->ctx, kv, 2);
}

/* A loop's own (self-referencing) llvm.loop node with its n properties. */
#define LOOP_PROPS 4   /* interleave, width, enable or unroll.disable, parallel */

static LLVMValueRef loop_id(Jit *j, LLVMMetadataRef *props, int n)
{
    LLVMMetadataRef ops[1 + LOOP_PROPS] = {LLVMTemporaryMDNode(j->ctx, NULL, 0)};
    for (int k = 0; k < n; k++)
        ops[1 + k] = props[k];
    LLVMMetadataRef node = LLVMMDNodeInContext2(j->ctx, ops, (size_t)(1 + n));
    LLVMMetadataReplaceAllUsesWith(ops[0], node);
    return LLVMMetadataAsValue(j->ctx, node);
}

/* An empty distinct metadata node, which an access group must be and the
 * LLVM-C API cannot make: read from a line of IR text. */
static LLVMMetadataRef distinct_node(LLVMContextRef ctx)
{
    static const char text[] = "define void @f() {\n  ret void, !nnc !0\n}\n!0 = distinct !{}\n";
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(text, sizeof text - 1, "");
    LLVMModuleRef m = NULL;
    char *msg = NULL;
    if (LLVMParseIRInContext(ctx, buf, &m, &msg))
        diag_internal("LLVM cannot read an access group: %s", msg);
    LLVMValueRef ret = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(LLVMGetFirstFunction(m)));
    unsigned kind = LLVMGetMDKindIDInContext(ctx, "nnc", 3);
    LLVMMetadataRef node = LLVMValueAsMetadata(LLVMGetMetadata(ret, kind));
    LLVMDisposeModule(m);   /* the node belongs to the context */
    return node;
}

/* Loop l's iterations are independent (Loop): every load and store of its
 * body but those of locals (sums, promoted to registers) joins the access
 * group that the loop's llvm.loop.parallel_accesses names, so the
 * vectoriser needs no run-time checks that the workspace's buffers do not
 * overlap (nor a scalar copy of the loop for when they do). */
static LLVMMetadataRef parallel_accesses(Jit *j, Loop *l, LLVMBasicBlockRef latch)
{
    if (!j->group)
        j->group = distinct_node(j->ctx);
    unsigned kind = LLVMGetMDKindIDInContext(j->ctx, "llvm.access.group", 17);
    LLVMValueRef group = LLVMMetadataAsValue(j->ctx, j->group);
    for (LLVMBasicBlockRef bb = l->head;; bb = LLVMGetNextBasicBlock(bb)) {
        if (bb != l->exit)
            for (LLVMValueRef x = LLVMGetFirstInstruction(bb); x; x = LLVMGetNextInstruction(x))
                if ((LLVMIsALoadInst(x) && !LLVMIsAAllocaInst(LLVMGetOperand(x, 0)))
                    || (LLVMIsAStoreInst(x) && !LLVMIsAAllocaInst(LLVMGetOperand(x, 1))))
                    LLVMSetMetadata(x, kind, group);
        if (bb == latch)
            break;
    }
    LLVMMetadataRef kv[2] = {
        LLVMMDStringInContext2(j->ctx, "llvm.loop.parallel_accesses", 27), j->group,
    };
    return LLVMMDNodeInContext2(j->ctx, kv, 2);
}

/* Whether the vectoriser widens every operation of loop l's body as it is
 * (j->width): no calls but to the intrinsics that have vector forms.  A
 * call to libm (float64's exp, log, pow) would be made lane by lane, which
 * LLVM's cost model weighs against the width. */
static int widens(const Loop *l, LLVMBasicBlockRef latch)
{
    static const char *const vector[] = {"llvm.fmuladd.", "llvm.fabs.", "llvm.copysign."};
    for (LLVMBasicBlockRef bb = l->head;; bb = LLVMGetNextBasicBlock(bb)) {
        if (bb != l->exit)
            for (LLVMValueRef x = LLVMGetFirstInstruction(bb); x; x = LLVMGetNextInstruction(x)) {
                if (!LLVMIsACallInst(x))
                    continue;
                size_t len;
                const char *name = LLVMGetValueName2(LLVMGetCalledValue(x), &len);
                int ok = 0;
                for (size_t k = 0; k < sizeof vector / sizeof vector[0]; k++)
                    ok |= strncmp(name, vector[k], strlen(vector[k])) == 0;
                if (!ok)
                    return 0;
            }
        if (bb == latch)
            return 1;
    }
}

static void loop_close(Jit *j, Loop *l)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(j->b);
    LLVMValueRef next = LLVMBuildNSWAdd(j->b, l->i, i64c(j, 1), "");
    LLVMValueRef br = LLVMBuildBr(j->b, l->head);
    /* A loop around other loops (over rows, columns, k: constant bounds)
     * stays a loop, as gcc keeps it: unrolled, every copy of the inner loop
     * over the batch would be vectorised on its own, many times the code
     * and the compile time for no speed. */
    LLVMMetadataRef props[LOOP_PROPS];
    int np = 0;
    /* A sum's order is the vectoriser's lanes times its interleave count,
     * which LLVM chooses differently when it knows the trip count: a sum's
     * loop is not interleaved, so that the copy of a pass for exactly a
     * tile of samples (build_passes) sums as the other copy does. */
    int ic = l->interleave ? l->interleave : l->reassoc ? 1 : 0;
    if (ic)
        props[np++] = loop_hint_i(j, "llvm.loop.interleave.count", ic);
    /* The width of a parallel loop's vectors is stated (vector_width) when
     * it is LLVM's choice anyway, which spares the vectoriser costing every
     * other width: 15% of the passes' time (docs/performance.md, "Cheaper
     * compilations").  Not for a constant trip count (a sum over a
     * parameter's elements, a copy of a pass for tile samples), from which
     * LLVM may choose a narrower width (a sum of a few elements: 2). */
    if (l->scalar)
        props[np++] = loop_hint_i(j, "llvm.loop.vectorize.width", 1);
    else if ((l->reassoc || l->parallel) && !l->outer && !LLVMIsAConstant(l->count) && j->width
             && widens(l, latch))
        props[np++] = loop_hint_i(j, "llvm.loop.vectorize.width", j->width);
    if (l->reassoc)
        props[np++] = loop_hint(j, "llvm.loop.vectorize.enable");
    else if (l->outer)
        props[np++] = loop_hint(j, "llvm.loop.unroll.disable");
    if (l->reassoc || l->parallel)
        props[np++] = parallel_accesses(j, l, latch);
    if (np > 0)
        LLVMSetMetadata(br, LLVMGetMDKindIDInContext(j->ctx, "llvm.loop", 9), loop_id(j, props, np));
    j->loop = l->parent;
    LLVMValueRef in[2] = {i64c(j, 0), next};
    LLVMBasicBlockRef from[2] = {l->pre, latch};
    LLVMAddIncoming(l->i, in, from, 2);
    LLVMMoveBasicBlockAfter(l->exit, latch);
    LLVMPositionBuilderAtEnd(j->b, l->exit);
}

static LLVMValueRef call(Jit *j, const char *name, LLVMValueRef *args, int nargs)
{
    LLVMTypeRef pt[3] = {j->real, j->real, j->real};
    LLVMTypeRef ty = LLVMFunctionType(j->real, pt, (unsigned)nargs, 0);
    LLVMValueRef f = LLVMGetNamedFunction(j->mod, name);
    if (!f) {
        f = LLVMAddFunction(j->mod, name, ty);
        /* libm functions without errno side effects, so loops around them
         * can be optimised */
        unsigned kind = LLVMGetEnumAttributeKindForName("readnone", 8);
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(j->ctx, kind, 0));
        kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(j->ctx, kind, 0));
    }
    return LLVMBuildCall2(j->b, ty, f, args, (unsigned)nargs, "");
}

/* Multiply-add.  `cc -march=native` contracts the C backend's a * b + c
 * into one fused instruction on CPUs with FMA; llvm.fmuladd lets LLVM do
 * the same where the target has it (and multiply, then add, where not).
 * fadd and fsub fuse when a side is a product just built and not used
 * elsewhere (the left one first, as gcc does). */
static LLVMValueRef fmuladd(Jit *j, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return call(j, j->p->dtype == DT_F32 ? "llvm.fmuladd.f32" : "llvm.fmuladd.f64", args, 3);
}

/* A product just built: not used yet, nor a fused loop's step in a
 * register (j->regs), which later steps may read. */
static int fresh_product(const Jit *j, LLVMValueRef x)
{
    if (!LLVMIsAInstruction(x) || LLVMGetInstructionOpcode(x) != LLVMFMul || LLVMGetFirstUse(x))
        return 0;
    for (int k = 0; k < j->nregs; k++)
        if (j->regs[k] == x)
            return 0;
    return 1;
}

/* a*b + c from the product x (erased) and c, negating the product when neg. */
static LLVMValueRef fuse(Jit *j, LLVMValueRef x, LLVMValueRef c, int neg)
{
    LLVMValueRef a = LLVMGetOperand(x, 0), b = LLVMGetOperand(x, 1);
    LLVMInstructionEraseFromParent(x);
    if (neg)
        a = LLVMBuildFNeg(j->b, a, "");
    return fmuladd(j, a, b, c);
}

static LLVMValueRef fadd(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    if (fresh_product(j, a))
        return fuse(j, a, b, 0);
    if (fresh_product(j, b))
        return fuse(j, b, a, 0);
    return LLVMBuildFAdd(j->b, a, b, "");
}

static LLVMValueRef fsub(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    if (fresh_product(j, a))
        return fuse(j, a, LLVMBuildFNeg(j->b, b, ""), 0);
    if (fresh_product(j, b))
        return fuse(j, b, a, 1);
    return LLVMBuildFSub(j->b, a, b, "");
}

static LLVMValueRef fmul(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(j->b, a, b, "");
}

/* Horner's rule as multiply-adds: ((c[0] x + c[1]) x + ...) + c[n-1]. */
static LLVMValueRef horner(Jit *j, const float *c, size_t n, LLVMValueRef x)
{
    LLVMValueRef p = realc(j, c[0]);
    for (size_t k = 1; k < n; k++)
        p = fmuladd(j, p, x, realc(j, c[k]));
    return p;
}

/* ---- float32 exp, log1p and tanh: the runtime's nnrt_expf, nnrt_log1pf
 * and nnrt_tanhf (runtime/nnrt.h), the same operations in the same order
 * from the same constants, so that `nnc run` and the C trainer agree bit
 * for bit (tests/e2e/jit.sh); inline, so that the loops around them
 * vectorise.  A line of C there is a line here. */

static LLVMValueRef select_(Jit *j, LLVMRealPredicate pred, LLVMValueRef a, LLVMValueRef b,
                            LLVMValueRef yes, LLVMValueRef no)
{
    return LLVMBuildSelect(j->b, LLVMBuildFCmp(j->b, pred, a, b, ""), yes, no, "");
}

/* nnrt_pow2if: 2^n from the exponent bits */
static LLVMValueRef pow2i(Jit *j, LLVMValueRef n)
{
    LLVMValueRef bits = LLVMBuildShl(j->b, LLVMBuildAdd(j->b, n, i32c(j, 127), ""), i32c(j, 23), "");
    return LLVMBuildBitCast(j->b, bits, j->real, "");
}

static LLVMValueRef jit_expf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_EXPF_POLY;
    LLVMValueRef hi = realc(j, NNRT_EXPF_MAX), lo = realc(j, NNRT_EXPF_MIN);
    LLVMValueRef t = select_(j, LLVMRealOLT, x, hi, x, hi);
    t = select_(j, LLVMRealOGT, t, lo, t, lo);
    LLVMValueRef n = fsub(j, fadd(j, fmul(j, t, realc(j, NNRT_LOG2EF)), realc(j, NNRT_ROUNDF)),
                          realc(j, NNRT_ROUNDF));
    LLVMValueRef r = fsub(j, t, fmul(j, n, realc(j, NNRT_LN2F_HI)));
    r = fsub(j, r, fmul(j, n, realc(j, NNRT_LN2F_LO)));
    LLVMValueRef p = horner(j, c, sizeof c / sizeof c[0], r);
    LLVMValueRef ni = LLVMBuildFPToSI(j->b, n, j->i32, "");
    LLVMValueRef half = LLVMBuildSDiv(j->b, ni, i32c(j, 2), "");
    LLVMValueRef y = fadd(j, fadd(j, fmul(j, p, fmul(j, r, r)), r), realc(j, 1));
    y = fmul(j, fmul(j, y, pow2i(j, half)), pow2i(j, LLVMBuildSub(j->b, ni, half, "")));
    return select_(j, LLVMRealOEQ, x, x, y, x);
}

static LLVMValueRef jit_log1pf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_LOGF_POLY;
    LLVMValueRef one = realc(j, 1), sqrt2 = realc(j, NNRT_SQRT2F);
    LLVMValueRef w = fadd(j, one, x);
    LLVMValueRef lost = select_(j, LLVMRealOGT, x, one, fsub(j, one, fsub(j, w, x)),
                                fsub(j, x, fsub(j, w, one)));
    LLVMValueRef bits = LLVMBuildBitCast(j->b, w, j->i32, "");
    LLVMValueRef e = LLVMBuildSIToFP(j->b, LLVMBuildLShr(j->b, bits, i32c(j, 23), ""), j->real, "");
    e = fsub(j, e, realc(j, 127));
    bits = LLVMBuildOr(j->b, LLVMBuildAnd(j->b, bits, i32c(j, 0x007fffff), ""),
                       i32c(j, 0x3f800000), "");
    LLVMValueRef m = LLVMBuildBitCast(j->b, bits, j->real, "");
    e = select_(j, LLVMRealOGT, m, sqrt2, fadd(j, e, one), e);
    LLVMValueRef f = fsub(j, select_(j, LLVMRealOGT, m, sqrt2, fmul(j, m, realc(j, 0.5)), m), one);
    LLVMValueRef z = fmul(j, f, f), p = horner(j, c, sizeof c / sizeof c[0], f);
    LLVMValueRef y = fmul(j, fmul(j, p, f), z);
    y = fadd(j, y, fmul(j, e, realc(j, NNRT_LN2F_LO)));
    y = fsub(j, y, fmul(j, realc(j, 0.5), z));
    y = fadd(j, y, LLVMBuildFDiv(j->b, lost, w, ""));
    y = fadd(j, f, y);
    y = fadd(j, y, fmul(j, e, realc(j, NNRT_LN2F_HI)));
    y = select_(j, LLVMRealOLT, w, realc(j, INFINITY), y, w);
    LLVMValueRef special =
        select_(j, LLVMRealOEQ, w, realc(j, 0), realc(j, -INFINITY), realc(j, NAN));
    y = select_(j, LLVMRealOGT, w, realc(j, 0), y, special);
    return select_(j, LLVMRealOEQ, x, realc(j, 0), x, y);
}

static LLVMValueRef jit_tanhf(Jit *j, LLVMValueRef x)
{
    static const float c[] = NNRT_TANHF_POLY;
    LLVMValueRef z = fmul(j, x, x);
    LLVMValueRef s = horner(j, c, sizeof c / sizeof c[0], z);
    s = fadd(j, fmul(j, fmul(j, s, z), x), x);
    LLVMValueRef a = call(j, "llvm.fabs.f32", &x, 1);
    LLVMValueRef cap = realc(j, NNRT_TANHF_CAP);
    LLVMValueRef capped = select_(j, LLVMRealOLT, a, cap, a, cap);
    LLVMValueRef e = jit_expf(j, fadd(j, capped, capped));
    LLVMValueRef big =
        fsub(j, realc(j, 1), LLVMBuildFDiv(j->b, realc(j, 2), fadd(j, e, realc(j, 1)), ""));
    LLVMValueRef sign[2] = {
        select_(j, LLVMRealOGE, a, realc(j, NNRT_TANHF_SMALL), big, s), x};
    return call(j, "llvm.copysign.f32", sign, 2);
}

/* ---- storage ---- */

static LLVMValueRef work_ptr(Jit *j, int k, const char *name)
{
    LLVMValueRef idx = i64c(j, k);
    LLVMValueRef slotp = LLVMBuildInBoundsGEP2(j->eb, j->rptr, j->work, &idx, 1, "");
    return LLVMBuildLoad2(j->eb, j->rptr, slotp, name);
}

/* The storage of value id in the current function: a workspace buffer, a
 * slice of params or grads, a data slot or a literal table. */
static LLVMValueRef base(Jit *j, int id)
{
    if (j->base[id])
        return j->base[id];
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    char name[128];
    vname(j, id, name, sizeof name);
    LLVMValueRef r = NULL;
    if (v->op == OP_PARAM) {
        LLVMValueRef off = i64c(j, j->lay.param_off[v->index]);
        r = LLVMBuildInBoundsGEP2(j->eb, j->real, j->params, &off, 1, name);
    } else if (v->op == OP_ADJ && p->v[v->arg[0]].op == OP_PARAM) {
        LLVMValueRef off = i64c(j, j->lay.param_off[p->v[v->arg[0]].index]);
        r = LLVMBuildInBoundsGEP2(j->eb, j->real, j->grads, &off, 1, name);
    } else if (v->op == OP_INPUT) {
        r = work_ptr(j, WORK_FIXED + v->index, name);
    } else if (v->op == OP_LITERAL) {
        int n = numel(v);
        LLVMValueRef *x = xcalloc((size_t)n, sizeof *x);
        for (int k = 0; k < n; k++)
            x[k] = realc(j, p->literals[v->index][k]);
        LLVMTypeRef at = LLVMArrayType(j->real, (unsigned)n);
        char gname[32];
        snprintf(gname, sizeof gname, "literal_%d", v->index);
        LLVMValueRef g = LLVMGetNamedGlobal(j->mod, gname);
        if (!g) {
            g = LLVMAddGlobal(j->mod, at, gname);
            LLVMSetInitializer(g, LLVMConstArray(j->real, x, (unsigned)n));
            LLVMSetGlobalConstant(g, 1);
            LLVMSetLinkage(g, LLVMPrivateLinkage);
        }
        free(x);
        LLVMValueRef zero[2] = {i64c(j, 0), i64c(j, 0)};
        r = LLVMBuildInBoundsGEP2(j->eb, at, g, zero, 2, name);
    } else if (j->slot[id] >= 0) {
        r = work_ptr(j, j->slot[id], name);
    } else {
        diag_internal("jit: value %d (%s) has no storage", id, ir_ops[v->op].name);
    }
    j->base[id] = r;
    return r;
}

/* Padded rows: a loop over the samples whose iteration b only reads and
 * writes sample b runs to nb, n rounded up to a multiple of ROW (32), which
 * LLVM sees (n + 31 & -32): the vectoriser then adds no scalar loop for
 * the last samples, nor the checks choosing it (W5's code 40% smaller).
 * A batched buffer's row holds ld samples, nb, or nb + SKEW when nb
 * samples are a multiple of 2048 bytes (rows 4096 bytes apart slowed W1 by
 * a half: the loads of a register sum over k rows alias in the CPU's
 * store buffer); create() allocates rows of cap rounded up alike.  The
 * lanes n..nb-1 compute on stale data, harmless because nothing else reads
 * them: every sum over the samples (gradients of parameters: emit_map's,
 * emit_matmul_loops', nnrt_gemm's, the fused loops' terms masked by
 * sum_add), the data in (data_in) and the prediction out, the losses,
 * nonfinite() and cross_entropy's class labels use n.  These loops also
 * have an interleave count of 1: with the vectoriser's own choice W1's
 * training took 10% longer and W5's code was half as large again. */

/* The index of element idx of sample b in a tensor's storage: idx * ld + b
 * when it is batched (samples innermost, plan.h; padded rows), idx when
 * not. */
static LLVMValueRef bidx(Jit *j, LLVMValueRef idx, int batched, LLVMValueRef b)
{
    if (!batched)
        return idx;
    if (LLVMIsAConstantInt(idx) && LLVMConstIntGetSExtValue(idx) == 0)
        return b;
    return add(j, LLVMBuildNSWMul(j->b, idx, j->ld, ""), b);
}

/* Element of value id in an iteration space of N elements per sample, as
 * emit_c.c's elem(): in a flat loop (i over n * N elements) an operand is
 * the whole tensor or a single number; otherwise element i of sample b,
 * broadcasting by i mod its size. */
static LLVMValueRef elem_ptr(Jit *j, int id, int N, int flat, int loop_batched,
                             LLVMValueRef b, LLVMValueRef i)
{
    const Value *v = &j->p->v[id];
    int M = numel(v), bat = v->batched;
    LLVMValueRef idx;
    if (flat)
        idx = M == N && bat == loop_batched ? i : i64c(j, 0);
    else if (M == 1)
        idx = bat ? b : i64c(j, 0);
    else if (M == N)
        idx = bidx(j, i, bat, b);
    else
        idx = bidx(j, LLVMBuildSRem(j->b, i, i64c(j, M), ""), bat, b);
    return at(j, base(j, id), idx);
}

static LLVMValueRef elem(Jit *j, int id, int N, int flat, int loop_batched,
                         LLVMValueRef b, LLVMValueRef i)
{
    const Value *v = &j->p->v[id];
    if (v->op == OP_CONST)
        return realc(j, v->num);
    if (v->op == OP_SEED)
        return j->seed;
    return LLVMBuildLoad2(j->b, j->real, elem_ptr(j, id, N, flat, loop_batched, b, i), "");
}

/* ---- ops.def's c_expr templates as LLVM instructions ----
 *
 * The templates use a small part of C, parsed here by recursive descent:
 *
 *   expr    = compare ("?" expr ":" expr)?
 *   compare = sum ((">" | "<" | "==") sum)?
 *   sum     = product (("+" | "-") product)*
 *   product = unary (("*" | "/") unary)*
 *   unary   = "-" unary | primary
 *   primary = "$" DIGIT | NUMBER | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
 *
 * A comparison is an i1; used in arithmetic it becomes 0 or 1 of the real
 * type, as C's int would (the only integer arithmetic in the templates,
 * (x > 0) - (x < 0), is exact either way). */
typedef struct Tmpl {
    Jit *j;
    const char *s;
    LLVMValueRef ops[3];
} Tmpl;

static LLVMValueRef t_expr(Tmpl *t);

static void t_space(Tmpl *t)
{
    while (*t->s == ' ')
        t->s++;
}

static int t_eat(Tmpl *t, const char *tok)
{
    t_space(t);
    size_t n = strlen(tok);
    if (strncmp(t->s, tok, n) != 0)
        return 0;
    t->s += n;
    return 1;
}

static void t_expect(Tmpl *t, const char *tok)
{
    if (!t_eat(t, tok))
        diag_internal("jit: c_expr template: expected '%s' at '%s'", tok, t->s);
}

static LLVMValueRef t_real(Tmpl *t, LLVMValueRef x)
{
    if (LLVMTypeOf(x) == t->j->i1)
        return LLVMBuildUIToFP(t->j->b, x, t->j->real, "");
    return x;
}

static LLVMValueRef t_primary(Tmpl *t)
{
    Jit *j = t->j;
    t_space(t);
    if (*t->s == '$') {
        int k = t->s[1] - '0';
        t->s += 2;
        return t->ops[k];
    }
    if (*t->s >= '0' && *t->s <= '9') {
        char *end;
        double x = strtod(t->s, &end);
        t->s = end;
        return realc(j, x);
    }
    if (t_eat(t, "(")) {
        LLVMValueRef x = t_expr(t);
        t_expect(t, ")");
        return x;
    }
    /* FUNC(args): the dtype's libm function, or an LLVM intrinsic where
     * one exists (it becomes the same libm call, or one instruction);
     * EXP, LOG1P and TANH in float32 are the runtime's nnrt_expf etc.
     * (jit_expf, jit_log1pf, jit_tanhf) */
    static const char *const fns[][3] = {
        {"EXP", "llvm.exp"}, {"LOG1P", NULL, "log1p"}, {"LOG", "llvm.log"},
        {"SQRT", "llvm.sqrt"}, {"TANH", NULL, "tanh"}, {"FABS", "llvm.fabs"},
        {"POW", "llvm.pow"},
    };
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        size_t len = strlen(fns[k][0]);
        if (strncmp(t->s, fns[k][0], len) != 0 || t->s[len] != '(')
            continue;
        t->s += len + 1;
        LLVMValueRef args[3];
        int nargs = 0;
        do
            args[nargs++] = t_real(t, t_expr(t));
        while (nargs < 3 && t_eat(t, ","));
        t_expect(t, ")");
        int f32 = j->p->dtype == DT_F32;
        if (f32 && strcmp(fns[k][0], "EXP") == 0)
            return jit_expf(j, args[0]);
        if (f32 && strcmp(fns[k][0], "LOG1P") == 0)
            return jit_log1pf(j, args[0]);
        if (f32 && strcmp(fns[k][0], "TANH") == 0)
            return jit_tanhf(j, args[0]);
        char name[32];
        if (fns[k][1])
            snprintf(name, sizeof name, "%s.%s", fns[k][1], f32 ? "f32" : "f64");
        else
            snprintf(name, sizeof name, "%s%s", fns[k][2], f32 ? "f" : "");
        return call(j, name, args, nargs);
    }
    diag_internal("jit: c_expr template: unexpected '%s'", t->s);
}

static LLVMValueRef t_unary(Tmpl *t)
{
    if (t_eat(t, "-"))
        return LLVMBuildFNeg(t->j->b, t_real(t, t_unary(t)), "");
    return t_primary(t);
}

static LLVMValueRef t_product(Tmpl *t)
{
    LLVMValueRef x = t_unary(t);
    for (;;) {
        if (t_eat(t, "*"))
            x = LLVMBuildFMul(t->j->b, t_real(t, x), t_real(t, t_unary(t)), "");
        else if (t_eat(t, "/"))
            x = LLVMBuildFDiv(t->j->b, t_real(t, x), t_real(t, t_unary(t)), "");
        else
            return x;
    }
}

static LLVMValueRef t_sum(Tmpl *t)
{
    LLVMValueRef x = t_product(t);
    for (;;) {
        if (t_eat(t, "+"))
            x = fadd(t->j, t_real(t, x), t_real(t, t_product(t)));
        else if (t_eat(t, "-"))
            x = fsub(t->j, t_real(t, x), t_real(t, t_product(t)));
        else
            return x;
    }
}

static LLVMValueRef t_compare(Tmpl *t)
{
    LLVMValueRef x = t_sum(t);
    LLVMRealPredicate pred;
    if (t_eat(t, "=="))
        pred = LLVMRealOEQ;
    else if (t_eat(t, ">"))
        pred = LLVMRealOGT;
    else if (t_eat(t, "<"))
        pred = LLVMRealOLT;
    else
        return x;
    return LLVMBuildFCmp(t->j->b, pred, t_real(t, x), t_real(t, t_sum(t)), "");
}

static LLVMValueRef t_expr(Tmpl *t)
{
    LLVMValueRef c = t_compare(t);
    if (!t_eat(t, "?"))
        return c;
    LLVMValueRef a = t_real(t, t_expr(t));
    t_expect(t, ":");
    LLVMValueRef b = t_real(t, t_expr(t));
    if (LLVMTypeOf(c) != t->j->i1)
        c = LLVMBuildFCmp(t->j->b, LLVMRealUNE, c, realc(t->j, 0), "");
    return LLVMBuildSelect(t->j->b, c, a, b, "");
}

static LLVMValueRef expand(Jit *j, const char *tmpl, LLVMValueRef *ops, int nops)
{
    Tmpl t = {j, tmpl, {NULL, NULL, NULL}};
    for (int k = 0; k < nops; k++)
        t.ops[k] = ops[k];
    LLVMValueRef x = t_real(&t, t_expr(&t));
    t_space(&t);
    if (*t.s)
        diag_internal("jit: c_expr template: trailing '%s'", t.s);
    return x;
}

/* ---- the ops ----
 *
 * Each as emit_c.c writes it: the same loops, in the same order, over the
 * same layout (samples innermost, plan.h), so a value is computed by the
 * same formula in both backends. */

/* Write x into *ptr; with accumulate, add it to what is there. */
static void put(Jit *j, LLVMValueRef ptr, LLVMValueRef x, int accumulate)
{
    if (accumulate)
        x = fadd(j, LLVMBuildLoad2(j->b, j->real, ptr, ""), x);
    LLVMBuildStore(j->b, x, ptr);
}

/* cg_store for value id; clears the target when the plan says so.
 * Returns 1 when the op adds into its destination. */
static int begin_store(Jit *j, int id)
{
    const IrProgram *p = j->p;
    CgStore st = cg_store(p, id, j->written);
    if (st == CG_ZERO_ADD) {
        const Value *t = &p->v[p->v[id].acc];
        LLVMValueRef count = t->batched ? mul(j, j->ld, numel(t)) : i64c(j, numel(t));
        LLVMValueRef bytes = mul(j, count, p->dtype == DT_F32 ? 4 : 8);
        LLVMBuildMemSet(j->b, base(j, p->v[id].acc), LLVMConstInt(j->i8, 0, 0), bytes, 4);
    }
    return st != CG_ASSIGN;
}

/* A scalar accumulator, set to zero here. */
static LLVMValueRef zeroed_local(Jit *j, const char *name)
{
    LLVMValueRef s = local(j, j->real, name);
    LLVMBuildStore(j->b, realc(j, 0), s);
    return s;
}

static LLVMValueRef get(Jit *j, LLVMValueRef ptr)
{
    return LLVMBuildLoad2(j->b, j->real, ptr, "");
}

static void emit_map(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    int dst = cg_dest(p, id);
    const Value *d = &p->v[dst];
    int N = numel(v);
    int flat = cg_map_flat(p, id);
    int acc = begin_store(j, id);
    Loop lb, li;
    LLVMValueRef b = i64c(j, 0), i = i64c(j, 0), x, ops[3];
    if (flat) {
        LLVMValueRef count = v->batched ? mul(j, j->ld, N) : i64c(j, N);
        i = loop_open(j, &li, count, "i");
        li.parallel = 1;
    } else if (N > 1) {
        i = loop_open(j, &li, i64c(j, N), "i");
    }
    if (!flat && v->batched && !d->batched) {
        /* a sum over the batch (a gradient): a vectorised reduction */
        LLVMValueRef s = zeroed_local(j, "s");
        b = samples_open(j, &lb, 0);
        lb.reassoc = 1;
        for (int k = 0; k < v->nargs; k++)
            ops[k] = elem(j, v->arg[k], N, 0, 1, b, i);
        x = expand(j, ir_ops[v->op].cexpr, ops, v->nargs);
        put(j, s, x, 1);
        loop_close(j, &lb);
        put(j, elem_ptr(j, dst, N, 0, 1, b, i), get(j, s), acc);
    } else {
        if (!flat && v->batched)
            b = samples_open(j, &lb, 1);
        for (int k = 0; k < v->nargs; k++)
            ops[k] = elem(j, v->arg[k], N, flat, v->batched, b, i);
        x = expand(j, ir_ops[v->op].cexpr, ops, v->nargs);
        put(j, elem_ptr(j, dst, N, flat, v->batched, b, i), x, acc);
        if (!flat && v->batched)
            loop_close(j, &lb);
    }
    if (flat || N > 1)
        loop_close(j, &li);
}

static void gemm(Jit *j, int ta, int tb, LLVMValueRef M, LLVMValueRef N, LLVMValueRef K,
                 LLVMValueRef A, LLVMValueRef lda, LLVMValueRef B, LLVMValueRef ldb,
                 LLVMValueRef beta, LLVMValueRef C, LLVMValueRef ldc)
{
    LLVMValueRef args[13] = {
        i32c(j, ta), i32c(j, tb), M, N, K, realc(j, 1), A, lda, B, ldb, beta, C, ldc,
    };
    LLVMBuildCall2(j->b, j->gemm_ty, j->gemm, args, 13, "");
}

/* dst[cols, rows] = src[rows, cols]' by nnrt_transpose (blocked): the data
 * into the samples-innermost layout, the prediction back. */
static void transpose(Jit *j, LLVMValueRef src, LLVMValueRef rows, LLVMValueRef cols,
                      LLVMValueRef dst)
{
    LLVMValueRef args[4] = {src, rows, cols, dst};
    LLVMBuildCall2(j->b, j->transpose_ty, j->transpose, args, 4, "");
}

/* Element (r, c) of op(X) for a stored operand, of sample b when batched. */
static LLVMValueRef operand_elem(Jit *j, LLVMValueRef base_, const CgOperand *o,
                                 LLVMValueRef r, LLVMValueRef c, LLVMValueRef b)
{
    LLVMValueRef row = o->t ? c : r, col = o->t ? r : c;
    LLVMValueRef idx = o->cols == 1 ? row : add(j, mul(j, row, o->cols), col);
    return at(j, base_, bidx(j, idx, o->batched, b));
}

/* C (=|+=) op(A) @ op(B) as loops with constant bounds and the batch
 * innermost, as emit_c.c's emit_matmul_loops. */
static void emit_matmul_loops(Jit *j, int id, const CgMatmul *mm, int acc)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    int dst = cg_dest(p, id), bd = mm->dst_batched;
    LLVMValueRef a = base(j, v->arg[0]), bb = base(j, v->arg[1]), c = base(j, dst);
    CgOperand C = {mm->m, mm->n, 0, bd, mm->m * mm->n};
    Loop li, lj, lk, lb;
    LLVMValueRef i = i64c(j, 0), jj = i64c(j, 0), k = i64c(j, 0), b;
    if (mm->m > 1)
        i = loop_open(j, &li, i64c(j, mm->m), "i");
    if (mm->n > 1)
        jj = loop_open(j, &lj, i64c(j, mm->n), "j");
    if (!bd) {
        /* C has no batch: a sum over k (and over the batch, vectorised) */
        LLVMValueRef s = zeroed_local(j, "s");
        if (mm->k > 1)
            k = loop_open(j, &lk, i64c(j, mm->k), "k");
        b = i64c(j, 0);
        if (v->batched) {
            b = samples_open(j, &lb, 0);
            lb.reassoc = 1;
        }
        LLVMValueRef x = get(j, operand_elem(j, a, &mm->A, i, k, b));
        LLVMValueRef y = get(j, operand_elem(j, bb, &mm->B, k, jj, b));
        put(j, s, fmul(j, x, y), 1);
        if (v->batched)
            loop_close(j, &lb);
        if (mm->k > 1)
            loop_close(j, &lk);
        put(j, operand_elem(j, c, &C, i, jj, b), get(j, s), acc);
    } else if (mm->k == 1) {
        b = samples_open(j, &lb, 1);
        LLVMValueRef x = get(j, operand_elem(j, a, &mm->A, i, k, b));
        LLVMValueRef y = get(j, operand_elem(j, bb, &mm->B, k, jj, b));
        put(j, operand_elem(j, c, &C, i, jj, b), fmul(j, x, y), acc);
        loop_close(j, &lb);
    } else {
        if (!acc) {
            /* a first write: clear C, then accumulate */
            b = samples_open(j, &lb, 1);
            LLVMBuildStore(j->b, realc(j, 0), operand_elem(j, c, &C, i, jj, b));
            loop_close(j, &lb);
        }
        k = loop_open(j, &lk, i64c(j, mm->k), "k");
        b = samples_open(j, &lb, 1);
        LLVMValueRef x = get(j, operand_elem(j, a, &mm->A, i, k, b));
        LLVMValueRef y = get(j, operand_elem(j, bb, &mm->B, k, jj, b));
        put(j, operand_elem(j, c, &C, i, jj, b), fmul(j, x, y), 1);
        loop_close(j, &lb);
        loop_close(j, &lk);
    }
    if (mm->n > 1)
        loop_close(j, &lj);
    if (mm->m > 1)
        loop_close(j, &li);
}

/* A product by its plan (plan.h), as emit_c.c's emit_matmul. */
static void emit_matmul(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    LLVMValueRef a = base(j, v->arg[0]), bn = base(j, v->arg[1]), c = base(j, cg_dest(p, id));
    CgMatmul mm = cg_matmul_plan(p, id);
    const CgOperand *A = &mm.A, *B = &mm.B;
    int acc = begin_store(j, id);
    /* n samples of rows of ld (padded rows) */
    LLVMValueRef beta = realc(j, acc ? 1 : 0), n = j->n;
    LLVMValueRef ld = LLVMBuildTrunc(j->b, j->ld, j->i32, "");
    LLVMValueRef m32 = i32c(j, mm.m), k32 = i32c(j, mm.k), nn32 = i32c(j, mm.n);
    switch (mm.kind) {
    case CG_MM_SINGLE:
        gemm(j, A->t, B->t, m32, nn32, k32, a, i32c(j, A->cols), bn, i32c(j, B->cols), beta, c,
             nn32);
        break;
    case CG_MM_COLUMNS: {
        /* op(A) times every sample at once: C[m, nn * ld] = op(A) B[k, nn * ld]
         * (the padding lanes too when nn > 1) */
        LLVMValueRef row = mm.n == 1 ? ld : LLVMBuildNSWMul(j->b, ld, nn32, "");
        gemm(j, A->t, 0, m32, mm.n == 1 ? n : row, k32, a, i32c(j, A->cols), bn, row, beta, c, row);
        break;
    }
    case CG_MM_ROWS:
        /* each sample's row vector times op(B): C[nn, n] = op(B)' A[k, n] */
        gemm(j, !B->t, 0, nn32, n, k32, bn, i32c(j, B->cols), a, ld, beta, c, ld);
        break;
    case CG_MM_BATCH_SUM:
        /* summed over the batch: sum_b a_b b_b' = A[m, n] B[nn, n]' */
        gemm(j, 0, 1, m32, nn32, n, a, ld, bn, ld, beta, c, nn32);
        break;
    case CG_MM_LOOPS:
        emit_matmul_loops(j, id, &mm, acc);
        break;
    }
}

static void emit_transpose(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    int src = v->arg[0], dst = cg_dest(p, id);
    const Value *s = &p->v[src];
    int r = s->shape.dim[0], c = s->shape.dim[1];
    int acc = begin_store(j, id);
    Loop li, lj, lb;
    LLVMValueRef i = loop_open(j, &li, i64c(j, r), "i");
    LLVMValueRef jj = loop_open(j, &lj, i64c(j, c), "j");
    LLVMValueRef b = i64c(j, 0);
    if (v->batched)
        b = samples_open(j, &lb, 1);
    LLVMValueRef x = get(j, at(j, base(j, src), bidx(j, add(j, mul(j, i, c), jj), s->batched, b)));
    LLVMValueRef dp = at(j, base(j, dst), bidx(j, add(j, mul(j, jj, r), i), p->v[dst].batched, b));
    put(j, dp, x, acc);
    if (v->batched)
        loop_close(j, &lb);
    loop_close(j, &lj);
    loop_close(j, &li);
}

static void emit_reduce(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    if (v->acc >= 0)
        diag_internal("accumulating reductions are not generated");
    int src = v->arg[0];
    int N = numel(&p->v[src]);
    LLVMValueRef out = base(j, id);
    Loop lb, li;
    if (v->batched && N == 1) {
        LLVMValueRef b = samples_open(j, &lb, 1);
        LLVMValueRef x = elem(j, src, N, 0, 1, b, i64c(j, 0));
        store(j, v->op == OP_SUMSQ ? fmul(j, x, x) : x, out, b);
        loop_close(j, &lb);
    } else if (v->batched) {
        /* every sample's sum at once, the samples innermost */
        LLVMValueRef b = samples_open(j, &lb, 1);
        store(j, realc(j, 0), out, b);
        loop_close(j, &lb);
        LLVMValueRef i = loop_open(j, &li, i64c(j, N), "i");
        b = samples_open(j, &lb, 1);
        LLVMValueRef x = elem(j, src, N, 0, 1, b, i);
        put(j, at(j, out, b), v->op == OP_SUMSQ ? fmul(j, x, x) : x, 1);
        loop_close(j, &lb);
        loop_close(j, &li);
        if (v->op == OP_MEAN) {
            b = samples_open(j, &lb, 1);
            store(j, LLVMBuildFDiv(j->b, load(j, out, b), realc(j, N), ""), out, b);
            loop_close(j, &lb);
        }
    } else {
        LLVMValueRef sum = zeroed_local(j, "sum");
        LLVMValueRef i = loop_open(j, &li, i64c(j, N), "i");
        li.reassoc = 1;   /* NNRT_SIMD_SUM in emit_c.c */
        LLVMValueRef x = elem(j, src, N, 0, 1, i64c(j, 0), i);
        put(j, sum, v->op == OP_SUMSQ ? fmul(j, x, x) : x, 1);
        loop_close(j, &li);
        LLVMValueRef t = get(j, sum);
        if (v->op == OP_MEAN)
            t = LLVMBuildFDiv(j->b, t, realc(j, N), "");
        store(j, t, out, i64c(j, 0));
    }
}

/* Element jj of row r (of K entries) of value id, of sample b when batched. */
static LLVMValueRef row_ptr(Jit *j, int id, int rows, int K, LLVMValueRef r, LLVMValueRef jj,
                            LLVMValueRef b)
{
    LLVMValueRef idx = rows > 1 ? add(j, mul(j, r, K), jj) : jj;
    return at(j, base(j, id), bidx(j, idx, j->p->v[id].batched, b));
}

/* exp in a row op, as in the elementwise ops: the runtime's nnrt_expf in
 * float32 (jit_expf, the C trainer's bits), libm's exp in float64. */
static LLVMValueRef row_exp(Jit *j, LLVMValueRef x)
{
    if (j->p->dtype == DT_F32)
        return jit_expf(j, x);
    return call(j, "llvm.exp.f64", &x, 1);
}

/* Softmax and friends, one row (the last axis) at a time, as emit_c.c's
 * emit_row: each subtracts the row's maximum before exp. */
static void emit_row(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    int x = v->op == OP_XENT || v->op == OP_XENT_BWD ? v->arg[v->op == OP_XENT ? 0 : 1] : v->arg[0];
    int K = p->v[x].shape.dim[p->v[x].shape.rank - 1];
    int rows = numel(&p->v[x]) / K;
    int dst = cg_dest(p, id);
    int f32 = p->dtype == DT_F32;
    const char *LOG = f32 ? "llvm.log.f32" : "llvm.log.f64";
    int acc = v->op == OP_XENT ? 0 : begin_store(j, id);
    Loop lb, lr, lj;
    LLVMValueRef b = i64c(j, 0), r = i64c(j, 0), jj;
    /* cross_entropy's class labels index the row: only real samples' */
    if (v->batched)
        b = samples_open(j, &lb, v->op != OP_XENT && v->op != OP_XENT_BWD);
    if (rows > 1)
        r = loop_open(j, &lr, i64c(j, rows), "r");
#define X(jj) get(j, row_ptr(j, x, rows, K, r, (jj), b))
#define D(jj) row_ptr(j, dst, rows, K, r, (jj), b)
    LLVMValueRef mx = NULL, sum = NULL;
    if (v->op != OP_SOFTMAX_BWD && v->op != OP_LOG_SOFTMAX_BWD) {
        LLVMValueRef mxv = local(j, j->real, "mx"), sumv = zeroed_local(j, "sum");
        LLVMBuildStore(j->b, X(i64c(j, 0)), mxv);
        /* for (j = 1; j < K; j++) mx = x[j] > mx ? x[j] : mx */
        jj = add(j, loop_open(j, &lj, i64c(j, K - 1), "j"), i64c(j, 1));
        LLVMValueRef e = X(jj), m = get(j, mxv);
        LLVMBuildStore(j->b, LLVMBuildSelect(j->b, LLVMBuildFCmp(j->b, LLVMRealOGT, e, m, ""), e, m, ""), mxv);
        loop_close(j, &lj);
        mx = LLVMBuildLoad2(j->b, j->real, mxv, "mx");
        jj = loop_open(j, &lj, i64c(j, K), "j");
        LLVMValueRef dd = LLVMBuildFSub(j->b, X(jj), mx, "");
        put(j, sumv, row_exp(j, dd), 1);
        loop_close(j, &lj);
        sum = LLVMBuildLoad2(j->b, j->real, sumv, "sum");
    }
    switch (v->op) {
    case OP_SOFTMAX: {
        jj = loop_open(j, &lj, i64c(j, K), "j");
        LLVMValueRef dd = LLVMBuildFSub(j->b, X(jj), mx, "");
        put(j, D(jj), LLVMBuildFDiv(j->b, row_exp(j, dd), sum, ""), acc);
        loop_close(j, &lj);
        break;
    }
    case OP_LOG_SOFTMAX: {
        LLVMValueRef lse = LLVMBuildFAdd(j->b, mx, call(j, LOG, &sum, 1), "lse");
        jj = loop_open(j, &lj, i64c(j, K), "j");
        put(j, D(jj), LLVMBuildFSub(j->b, X(jj), lse, ""), acc);
        loop_close(j, &lj);
        break;
    }
    case OP_XENT: {
        /* one class label per sample: rows == 1 */
        LLVMValueRef c = elem(j, v->arg[1], 1, 0, 1, b, i64c(j, 0));
        LLVMValueRef cls = LLVMBuildSExt(j->b, LLVMBuildFPToSI(j->b, c, j->i32, "cls"), j->i64, "");
        LLVMValueRef l = LLVMBuildFAdd(j->b, mx, call(j, LOG, &sum, 1), "");
        l = LLVMBuildFSub(j->b, l, X(cls), "");
        store(j, l, base(j, id), v->batched ? b : i64c(j, 0));
        break;
    }
    case OP_XENT_BWD: {
        LLVMValueRef d = elem(j, v->arg[0], 1, 0, 1, b, i64c(j, 0));
        LLVMValueRef c = elem(j, v->arg[2], 1, 0, 1, b, i64c(j, 0));
        LLVMValueRef cls = LLVMBuildSExt(j->b, LLVMBuildFPToSI(j->b, c, j->i32, "cls"), j->i64, "");
        jj = loop_open(j, &lj, i64c(j, K), "j");
        LLVMValueRef e = LLVMBuildFSub(j->b, X(jj), mx, "");
        LLVMValueRef sm = LLVMBuildFDiv(j->b, row_exp(j, e), sum, "");
        LLVMValueRef one = LLVMBuildUIToFP(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, jj, cls, ""), j->real, "");
        put(j, D(jj), fmul(j, d, LLVMBuildFSub(j->b, sm, one, "")), acc);
        loop_close(j, &lj);
        break;
    }
    case OP_SOFTMAX_BWD:
    case OP_LOG_SOFTMAX_BWD: {
        int dn = v->arg[0], yn = v->arg[1];
        LLVMValueRef dotv = zeroed_local(j, "dot");
        jj = loop_open(j, &lj, i64c(j, K), "j");
        LLVMValueRef t = get(j, row_ptr(j, dn, rows, K, r, jj, b));
        if (v->op == OP_SOFTMAX_BWD)
            t = fmul(j, t, get(j, row_ptr(j, yn, rows, K, r, jj, b)));
        put(j, dotv, t, 1);
        loop_close(j, &lj);
        LLVMValueRef dot = LLVMBuildLoad2(j->b, j->real, dotv, "dot");
        jj = loop_open(j, &lj, i64c(j, K), "j");
        LLVMValueRef dj = get(j, row_ptr(j, dn, rows, K, r, jj, b));
        LLVMValueRef yj = get(j, row_ptr(j, yn, rows, K, r, jj, b));
        LLVMValueRef y;
        if (v->op == OP_SOFTMAX_BWD)
            y = fmul(j, yj, LLVMBuildFSub(j->b, dj, dot, ""));
        else
            y = fsub(j, dj, fmul(j, row_exp(j, yj), dot));
        put(j, D(jj), y, acc);
        loop_close(j, &lj);
        break;
    }
    default:
        diag_internal("jit emit_row: %s", ir_ops[v->op].name);
    }
#undef X
#undef D
    if (rows > 1)
        loop_close(j, &lr);
    if (v->batched)
        loop_close(j, &lb);
}

/* The element of member e's operand x in a fused loop: another member's
 * result in a register, or the element from memory. */
static LLVMValueRef fused_operand(Jit *j, const int *g, LLVMValueRef *loc, int e, int x, int N,
                                  LLVMValueRef b, LLVMValueRef i)
{
    const IrProgram *p = j->p;
    LLVMValueRef r = NULL;
    for (int f = 0; f < e; f++)
        if (j->fu.local[g[f]] && cg_dest(p, g[f]) == x)
            r = loc[f];
    return r ? r : elem(j, x, N, 0, 1, b, i);
}

/* *s += x in a sum over the samples; in a loop over the padded rows
 * (real is b < n) the padding lanes add 0, whatever x holds there (NaN
 * included).  (A product then no longer fuses with the addition; a select
 * of the sum itself instead of the term is no reduction for LLVM 14's
 * vectoriser.) */
static void sum_add(Jit *j, LLVMValueRef s, LLVMValueRef x, LLVMValueRef real)
{
    put(j, s, real ? LLVMBuildSelect(j->b, real, x, realc(j, 0), "") : x, 1);
}

/* A fused loop (plan.h CgFusion), as emit_c.c's emit_fused: for each
 * element i of N and each sample b, every member's step, a step's element
 * kept in a register for the later ones; sums over the batch (a bias's
 * gradient, a small weight's) in accumulators added after the loop over
 * the samples.  A step no other loop reads (plan.h: transient) is stored
 * only in the variant compiled for --trap-nan (j->trap), whose nonfinite()
 * checks every buffer, as the C trainer's after keep_all(). */
static void emit_fused(Jit *j, int h)
{
    const IrProgram *p = j->p;
    const CgFusion *fu = &j->fu;
    int N = fu->size[h], ng = 0;
    int *g = xcalloc((size_t)p->nv, sizeof *g), *acc = xcalloc((size_t)p->nv, sizeof *acc);
    LLVMValueRef *loc = xcalloc((size_t)p->nv, sizeof *loc);
    LLVMValueRef (*sum)[CG_FUSED_SUMS] = xcalloc((size_t)p->nv, sizeof *sum);
    for (int k = h; k < p->nv; k++)
        if (fu->head[k] == h)
            g[ng++] = k;
    for (int e = 0; e < ng; e++)
        acc[e] = begin_store(j, g[e]);
    Loop li, lb;
    LLVMValueRef i = i64c(j, 0);
    if (N > 1)
        i = loop_open(j, &li, i64c(j, N), "i");
    for (int e = 0; e < ng; e++)
        if (!p->v[cg_dest(p, g[e])].batched)
            for (int s = 0; s < cg_batch_sums(p, g[e], N); s++)
                sum[e][s] = zeroed_local(j, "s");
    /* vectorised over the samples even where LLVM cannot prove that the
     * workspace's buffers do not overlap (NNRT_SIMD_LOOP in emit_c.c); over
     * the padded rows, the sums' terms of the padding lanes 0 (sum_add) */
    LLVMValueRef b = samples_open(j, &lb, 1);
    lb.reassoc = 1;
    /* compared in 32 bits: the vectoriser's vector of sample indices is
     * then one AVX register, not two of 64-bit lanes (W5's code generator
     * 6% faster); but in 64 in a copy for tile samples (build_passes),
     * where LLVM then finds the mask true throughout and drops it */
    LLVMValueRef real =
        LLVMIsAConstant(j->n)
            ? LLVMBuildICmp(j->b, LLVMIntSLT, b, j->n64, "real")
            : LLVMBuildICmp(j->b, LLVMIntSLT, LLVMBuildTrunc(j->b, b, j->i32, ""), j->n, "real");
    j->regs = loc;
    j->nregs = ng;
    for (int e = 0; e < ng; e++) {
        int id = g[e], d = cg_dest(p, id);
        const Value *v = &p->v[id];
        LLVMValueRef x;
        int side = cg_batch_sum_side(p, id, N);
        if (side >= 0) {
            /* a weight's gradient: its operand along the loop at element i
             * times each value of the other, summed over the samples */
            LLVMValueRef ex = fused_operand(j, g, loc, e, v->arg[side], N, b, i);
            LLVMValueRef ybase = base(j, v->arg[1 - side]);
            for (int s = 0; s < cg_batch_sums(p, id, N); s++) {
                LLVMValueRef ey = get(j, at(j, ybase, bidx(j, i64c(j, s), 1, b)));
                sum_add(j, sum[e][s], side == 0 ? fmul(j, ex, ey) : fmul(j, ey, ex), real);
            }
            continue;
        }
        if (v->op == OP_MATMUL) {
            /* a register sum, unrolled over its k terms */
            CgOperand A = cg_operand(&p->v[v->arg[0]], v->ta, 1);
            CgOperand B = cg_operand(&p->v[v->arg[1]], v->tb, 0);
            int m = A.t ? A.cols : A.rows, k = A.t ? A.rows : A.cols;
            LLVMValueRef a = base(j, v->arg[0]), bb = base(j, v->arg[1]);
            x = NULL;
            for (int kk = 0; kk < k; kk++) {
                LLVMValueRef t = fmul(j, get(j, operand_elem(j, a, &A, m > 1 ? i : i64c(j, 0), i64c(j, kk), b)),
                                      get(j, operand_elem(j, bb, &B, i64c(j, kk), i64c(j, 0), b)));
                x = x ? fadd(j, x, t) : t;
            }
        } else {
            LLVMValueRef ops[3];
            for (int a = 0; a < v->nargs; a++)
                ops[a] = fused_operand(j, g, loc, e, v->arg[a], N, b, i);
            if (ir_ops[v->op].kind == K_REDUCE)   /* of one number per sample */
                x = v->op == OP_SUMSQ ? fmul(j, ops[0], ops[0]) : ops[0];
            else
                x = expand(j, ir_ops[v->op].cexpr, ops, v->nargs);
            if (!p->v[d].batched) {
                sum_add(j, sum[e][0], x, real);
                continue;
            }
        }
        loc[e] = x;
        if (!fu->transient[id] || j->trap)
            put(j, elem_ptr(j, d, N, 0, 1, b, i), x, acc[e]);
    }
    j->nregs = 0;
    loop_close(j, &lb);
    for (int e = 0; e < ng; e++) {
        int d = cg_dest(p, g[e]);
        if (p->v[d].batched)
            continue;
        int side = cg_batch_sum_side(p, g[e], N);
        if (side < 0) {
            put(j, elem_ptr(j, d, N, 0, 1, b, i), get(j, sum[e][0]), acc[e]);
            continue;
        }
        /* the sums into the gradient [m, nn]: row i (side 0) or column i */
        CgMatmul mm = cg_matmul_plan(p, g[e]);
        for (int s = 0; s < cg_batch_sums(p, g[e], N); s++) {
            LLVMValueRef idx = side == 0 ? add(j, mul(j, i, mm.n), i64c(j, s)) : add(j, i, i64c(j, (long)s * mm.n));
            put(j, at(j, base(j, d), idx), get(j, sum[e][s]), acc[e]);
        }
    }
    if (N > 1)
        loop_close(j, &li);
    free(g);
    free(acc);
    free(loc);
    free(sum);
}

static void emit_value(Jit *j, int id)
{
    const Value *v = &j->p->v[id];
    if (j->fu.head[id] >= 0 && ir_ops[v->op].kind != K_LEAF && ir_ops[v->op].kind != K_ADJ) {
        if (j->fu.head[id] == id)
            emit_fused(j, id);
        return;
    }
    switch (ir_ops[v->op].kind) {
    case K_LEAF:
    case K_ADJ: break;
    case K_MAP: emit_map(j, id); break;
    case K_MATMUL: emit_matmul(j, id); break;
    case K_TRANS: emit_transpose(j, id); break;
    case K_REDUCE: emit_reduce(j, id); break;
    case K_ROW: emit_row(j, id); break;
    }
}

/* ---- functions ---- */

/* Start function `name`: parameters named, an entry block for pointers
 * (j->eb) and a body block (j->b). */
static void fn_begin(Jit *j, const char *name, LLVMTypeRef ret, LLVMTypeRef *pt,
                     const char *const *pnames, int np)
{
    LLVMTypeRef ty = LLVMFunctionType(ret, pt, (unsigned)np, 0);
    j->fn = LLVMAddFunction(j->mod, name, ty);
    for (int k = 0; k < np; k++)
        LLVMSetValueName2(LLVMGetParam(j->fn, (unsigned)k), pnames[k], strlen(pnames[k]));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "body");
    LLVMPositionBuilderAtEnd(j->eb, entry);
    LLVMPositionBuilderAtEnd(j->b, body);
    memset(j->base, 0, (size_t)j->p->nv * sizeof *j->base);
    memset(j->written, 0, (size_t)j->p->nv);
    j->work = j->params = j->grads = j->n = j->n64 = j->nb = j->ld = j->seed = NULL;
}

static void fn_end(Jit *j)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(j->fn);
    LLVMBuildBr(j->eb, LLVMGetNextBasicBlock(entry));
}

static LLVMValueRef param(Jit *j, int k) { return LLVMGetParam(j->fn, (unsigned)k); }

static void set_work(Jit *j, LLVMValueRef w)
{
    j->work = LLVMBuildBitCast(j->eb, w, j->rpptr, "ws");
}

/* n64 and ld (padded rows) from the function's n.  In a copy of a pass for
 * tile samples (build_passes) the rows' length comes from the constant
 * tile, and n stays the caller's (equal) value: every loop over exactly n
 * samples (the sums over the batch) then vectorises as in the other copy,
 * which gives the same bits. */
static void set_n(Jit *j, int tile)
{
    j->n64 = LLVMBuildSExt(j->eb, j->n, j->i64, "n64");
    if (tile) { j->n = i32c(j, tile); j->n64 = i64c(j, tile); }
    LLVMValueRef rows = tile ? i64c(j, tile) : j->n64;
    j->nb = LLVMBuildAnd(j->eb, LLVMBuildNSWAdd(j->eb, rows, i64c(j, ROW - 1), ""), i64c(j, -ROW), "nb");
    LLVMValueRef bytes = LLVMBuildNSWMul(j->eb, j->nb, i64c(j, j->p->dtype == DT_F32 ? 4 : 8), "");
    LLVMValueRef aliased = LLVMBuildICmp(j->eb, LLVMIntEQ, LLVMBuildAnd(j->eb, bytes, i64c(j, 2047), ""), i64c(j, 0), "");
    /* nb + SKEW when aliased, as arithmetic: LLVM still sees a multiple of ROW */
    LLVMValueRef skew = LLVMBuildShl(j->eb, LLVMBuildZExt(j->eb, aliased, j->i64, ""), i64c(j, SKEW_LOG2), "");
    j->ld = LLVMBuildNUWAdd(j->eb, j->nb, skew, "ld");
}

/* dst[size, ld] = src[n, size]': the data in, exactly n samples (the
 * runtime's array holds no more): one number per sample copied, more
 * transposed by nnrt_transpose into rows of n, which then move to their
 * place in the padded rows, the last first. */
static void data_in(Jit *j, LLVMValueRef src, int size, LLVMValueRef dst)
{
    LLVMValueRef row = mul(j, j->n64, j->p->dtype == DT_F32 ? 4 : 8);
    if (size == 1) {
        LLVMBuildMemCpy(j->b, dst, 4, src, 4, row);
        return;
    }
    transpose(j, src, j->n, i32c(j, size), dst);
    LLVMBasicBlockRef move = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, j->n64, j->ld, ""), done, move);
    LLVMPositionBuilderAtEnd(j->b, move);
    Loop lk;
    LLVMValueRef k = loop_open(j, &lk, i64c(j, size - 1), "k");
    lk.scalar = 1;
    LLVMValueRef i = LLVMBuildNSWSub(j->b, i64c(j, size - 1), k, "");
    LLVMBuildMemMove(j->b, at(j, dst, LLVMBuildNSWMul(j->b, i, j->ld, "")), 4,
                     at(j, dst, LLVMBuildNSWMul(j->b, i, j->n64, "")), 4, row);
    loop_close(j, &lk);
    LLVMBuildBr(j->b, done);
    LLVMPositionBuilderAtEnd(j->b, done);
}

/* forward(work, params, n, data, losses); with tile > 0, named so, for
 * exactly tile samples (build_passes) */
static void build_forward(Jit *j, const char *name, int tile)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[5] = {j->i8p, j->rptr, j->i32, LLVMPointerType(j->rptr, 0), j->rptr};
    const char *const pn[5] = {"work", "params", "n", "data", "losses"};
    fn_begin(j, name, LLVMVoidTypeInContext(j->ctx), pt, pn, 5);
    set_work(j, param(j, 0));
    j->params = param(j, 1);
    j->n = param(j, 2);
    set_n(j, tile);
    /* the data: copied (transposed, samples innermost) into the workspace's
     * padded rows, also when a sample brings one number (which the C
     * trainer reads in place): the padding lanes stay inside the workspace */
    for (int s = 0; s < p->nslots; s++) {
        LLVMValueRef idx = i64c(j, s);
        LLVMValueRef d = LLVMBuildLoad2(j->b, j->rptr,
                                        LLVMBuildInBoundsGEP2(j->b, j->rptr, param(j, 3), &idx, 1, ""), "");
        data_in(j, d, shape_numel(&p->slots[s].shape), base(j, p->slots[s].value));
    }
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (j->lay.fwd_mark[i])
            emit_value(j, i);
    /* the per-sample losses, for the runtime */
    LLVMValueRef bytes = mul(j, j->n64, p->dtype == DT_F32 ? 4 : 8);
    LLVMBuildMemCpy(j->b, param(j, 4), 4, base(j, p->loss), 4, bytes);
    if (p->output >= 0) {
        const Value *o = &p->v[p->output];
        LLVMValueRef out = base(j, p->output);
        if (o->batched && numel(o) > 1) {
            /* the prediction, sample by sample, for the runtime (and the
             * padding lanes into the rest of its buffer: padded rows) */
            out = work_ptr(j, j->pred_slot, "pred");
            transpose(j, base(j, p->output), i32c(j, numel(o)), LLVMBuildTrunc(j->b, j->ld, j->i32, ""), out);
        }
        LLVMValueRef idx = i64c(j, 1);
        LLVMBuildStore(j->b, out, LLVMBuildInBoundsGEP2(j->b, j->rptr, j->work, &idx, 1, ""));
    }
    LLVMBuildRetVoid(j->b);
    fn_end(j);
}

/* backward(work, params, n, seed, grads); with tile > 0 as build_forward */
static void build_backward(Jit *j, const char *name, int tile)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[5] = {j->i8p, j->rptr, j->i32, j->real, j->rptr};
    const char *const pn[5] = {"work", "params", "n", "seed", "grads"};
    fn_begin(j, name, LLVMVoidTypeInContext(j->ctx), pt, pn, 5);
    set_work(j, param(j, 0));
    j->params = param(j, 1);
    j->n = param(j, 2);
    set_n(j, tile);
    j->seed = param(j, 3);
    j->grads = param(j, 4);
    for (int i = p->bwd_loss.begin; i < p->bwd_loss.end; i++)
        emit_value(j, i);
    LLVMBuildRetVoid(j->b);
    fn_end(j);
}

static void build_penalty(Jit *j)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[3] = {j->i8p, j->rptr, j->rptr};
    const char *const pn[3] = {"work", "params", "grads"};
    fn_begin(j, "penalty", j->real, pt, pn, 3);
    set_work(j, param(j, 0));
    j->params = param(j, 1);
    j->grads = param(j, 2);
    j->n = i32c(j, 1);
    j->n64 = j->nb = j->ld = i64c(j, 1);
    j->seed = realc(j, 1);
    if (p->penalty < 0) {
        LLVMBuildRet(j->b, realc(j, 0));
        fn_end(j);
        return;
    }
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (j->lay.pen_mark[i])
            emit_value(j, i);
    LLVMValueRef pen = load(j, base(j, p->penalty), i64c(j, 0));
    if (p->bwd_penalty.end > p->bwd_penalty.begin) {
        LLVMBasicBlockRef ret = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBasicBlockRef grad = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBuildCondBr(j->b, LLVMBuildIsNull(j->b, j->grads, ""), ret, grad);
        LLVMPositionBuilderAtEnd(j->b, ret);
        LLVMBuildRet(j->b, pen);
        LLVMPositionBuilderAtEnd(j->b, grad);
        for (int i = p->bwd_penalty.begin; i < p->bwd_penalty.end; i++)
            emit_value(j, i);
    }
    LLVMBuildRet(j->b, pen);
    fn_end(j);
}

/* create(cap), destroy(work), output(work): the workspace of this model
 * (the layout at the top of this file), as emit_c.c's create() writes it:
 * one calloc for every buffer, sliced in order. */
/* The workspace's buffers in order: the data slots, the prediction, then
 * every value's; their index in work[], their elements per sample (bat)
 * or in all, and the sums of both. */
typedef struct WorkBufs {
    int n;
    int *slot, *size;
    char *bat;
    long per_sample, fixed;
} WorkBufs;

static void work_bufs(const Jit *j, WorkBufs *w)
{
    const IrProgram *p = j->p;
    int nmax = p->nslots + 1 + p->nv;
    w->n = 0;
    w->slot = xcalloc((size_t)nmax, sizeof *w->slot);
    w->size = xcalloc((size_t)nmax, sizeof *w->size);
    w->bat = xcalloc((size_t)nmax, 1);
    w->per_sample = w->fixed = 0;
    for (int s = 0; s < p->nslots; s++) {
        w->slot[w->n] = WORK_FIXED + s;
        w->size[w->n] = shape_numel(&p->slots[s].shape);
        w->bat[w->n++] = 1;
    }
    if (j->pred_slot >= 0) {
        w->slot[w->n] = j->pred_slot;
        w->size[w->n] = numel(&p->v[p->output]);
        w->bat[w->n++] = 1;
    }
    for (int i = 0; i < p->nv; i++)
        if (j->slot[i] >= 0) {
            w->slot[w->n] = j->slot[i];
            w->size[w->n] = numel(&p->v[i]);
            w->bat[w->n++] = (char)p->v[i].batched;
        }
    for (int k = 0; k < w->n; k++) {
        if (w->bat[k])
            w->per_sample += w->size[k];
        else
            w->fixed += w->size[k];
    }
}

static void work_bufs_free(WorkBufs *w)
{
    free(w->slot);
    free(w->size);
    free(w->bat);
}

static void build_workspace(Jit *j)
{
    const IrProgram *p = j->p;
    WorkBufs wb;
    work_bufs(j, &wb);
    LLVMTypeRef vt = LLVMVoidTypeInContext(j->ctx);
    LLVMTypeRef ct[2] = {j->i64, j->i64};
    LLVMTypeRef calloc_ty = LLVMFunctionType(j->i8p, ct, 2, 0), free_ty = LLVMFunctionType(vt, &j->i8p, 1, 0);
    LLVMValueRef calloc_fn = LLVMAddFunction(j->mod, "calloc", calloc_ty);
    LLVMValueRef free_fn = LLVMAddFunction(j->mod, "free", free_ty);

    LLVMTypeRef pt = j->i32;
    const char *const cap_name = "cap";
    fn_begin(j, "create", j->i8p, &pt, &cap_name, 1);
    /* rows of cap rounded up to ROW samples, plus SKEW (padded rows) */
    LLVMValueRef cap = LLVMBuildSExt(j->b, param(j, 0), j->i64, "");
    cap = add(j, LLVMBuildAnd(j->b, add(j, cap, i64c(j, ROW - 1)), i64c(j, -ROW), ""), i64c(j, SKEW));
    LLVMValueRef args[2] = {i64c(j, j->nslot), i64c(j, 8)};
    LLVMValueRef w = LLVMBuildCall2(j->b, calloc_ty, calloc_fn, args, 2, "w");
    args[0] = add(j, mul(j, cap, wb.per_sample), i64c(j, wb.fixed + 1));
    args[1] = i64c(j, p->dtype == DT_F32 ? 4 : 8);
    LLVMValueRef m = LLVMBuildCall2(j->b, calloc_ty, calloc_fn, args, 2, "mem");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "ok");
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "fail");
    LLVMValueRef bad = LLVMBuildOr(j->b, LLVMBuildIsNull(j->b, w, ""), LLVMBuildIsNull(j->b, m, ""), "");
    LLVMBuildCondBr(j->b, bad, fail, ok);
    LLVMPositionBuilderAtEnd(j->b, fail);
    LLVMBuildCall2(j->b, free_ty, free_fn, &w, 1, "");
    LLVMBuildCall2(j->b, free_ty, free_fn, &m, 1, "");
    LLVMBuildRet(j->b, LLVMConstPointerNull(j->i8p));
    LLVMPositionBuilderAtEnd(j->b, ok);
    LLVMValueRef ws = LLVMBuildBitCast(j->b, w, j->rpptr, "");
    LLVMValueRef mr = LLVMBuildBitCast(j->b, m, j->rptr, "");
    LLVMValueRef off = i64c(j, 0);
    LLVMBuildStore(j->b, mr, LLVMBuildInBoundsGEP2(j->b, j->rptr, ws, &off, 1, ""));
    for (int k = 0; k < wb.n; k++) {
        LLVMValueRef idx = i64c(j, wb.slot[k]);
        LLVMBuildStore(j->b, at(j, mr, off), LLVMBuildInBoundsGEP2(j->b, j->rptr, ws, &idx, 1, ""));
        off = add(j, off, wb.bat[k] ? mul(j, cap, wb.size[k]) : i64c(j, wb.size[k]));
    }
    LLVMBuildRet(j->b, w);
    fn_end(j);

    const char *const work_name = "work";
    fn_begin(j, "destroy", vt, &j->i8p, &work_name, 1);
    LLVMBasicBlockRef some = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBuildCondBr(j->b, LLVMBuildIsNull(j->b, param(j, 0), ""), none, some);
    LLVMPositionBuilderAtEnd(j->b, some);
    LLVMValueRef mem = LLVMBuildLoad2(j->b, j->i8p,
                                      LLVMBuildBitCast(j->b, param(j, 0), LLVMPointerType(j->i8p, 0), ""),
                                      "mem");
    LLVMBuildCall2(j->b, free_ty, free_fn, &mem, 1, "");
    w = param(j, 0);
    LLVMBuildCall2(j->b, free_ty, free_fn, &w, 1, "");
    LLVMBuildRetVoid(j->b);
    LLVMPositionBuilderAtEnd(j->b, none);
    LLVMBuildRetVoid(j->b);
    fn_end(j);

    fn_begin(j, "output", j->rptr, &j->i8p, &work_name, 1);
    set_work(j, param(j, 0));
    LLVMBuildRet(j->b, work_ptr(j, 1, "out"));
    fn_end(j);
    work_bufs_free(&wb);
}

/* For --trap-nan, as emit_c.c's nonfinite(): after a forward (adjoint = 0)
 * or backward (adjoint = 1) pass on n samples, the first statement in
 * execution order whose buffer holds a NaN or an infinity, or NULL. */
static LLVMValueRef get_i32(Jit *j, LLVMValueRef ptr)
{
    return LLVMBuildLoad2(j->b, j->i32, ptr, "");
}

static void nonfinite_checks(Jit *j, IrRange r, const char *mark, int adjoint)
{
    const IrProgram *p = j->p;
    const char *file = strrchr(p->file, '/') ? strrchr(p->file, '/') + 1 : p->file;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids);
    int nids = cg_nonfinite_checks(p, &j->lay, r, mark, ids);
    for (int k = 0; k < nids; k++) {
        int d = cg_dest(p, ids[k]);
        const Value *t = &p->v[d];
        const IrStmt *st = &p->stmts[p->v[ids[k]].stmt];
        char where[512];
        snprintf(where, sizeof where, "%s%s:%d: %s", adjoint ? "adjoint of " : "", file, st->line,
                 st->text);
        LLVMValueRef ok;
        if (t->batched) {
            /* row by row, the n samples of each (padded rows) */
            LLVMValueRef all = local(j, j->i32, "ok");
            LLVMBuildStore(j->b, i32c(j, 1), all);
            Loop li;
            LLVMValueRef i = loop_open(j, &li, i64c(j, numel(t)), "i");
            LLVMValueRef args[2] = {at(j, base(j, d), bidx(j, i, 1, i64c(j, 0))), j->n64};
            LLVMValueRef row = LLVMBuildCall2(j->b, j->finite_ty, j->finite, args, 2, "");
            LLVMBuildStore(j->b, LLVMBuildAnd(j->b, get_i32(j, all), row, ""), all);
            loop_close(j, &li);
            ok = get_i32(j, all);
        } else {
            LLVMValueRef args[2] = {base(j, d), i64c(j, numel(t))};
            ok = LLVMBuildCall2(j->b, j->finite_ty, j->finite, args, 2, "");
        }
        LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, ok, i32c(j, 0), ""), bad, next);
        LLVMPositionBuilderAtEnd(j->b, bad);
        LLVMBuildRet(j->b, LLVMBuildGlobalStringPtr(j->b, where, "where"));
        LLVMPositionBuilderAtEnd(j->b, next);
    }
    LLVMBuildRet(j->b, LLVMConstPointerNull(j->i8p));
    free(ids);
}

static void build_nonfinite(Jit *j)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[3] = {j->i8p, j->i32, j->i32};
    const char *const pn[3] = {"work", "n", "adjoint"};
    fn_begin(j, "nonfinite", j->i8p, pt, pn, 3);
    set_work(j, param(j, 0));
    j->n = param(j, 1);
    set_n(j, 0);
    LLVMBasicBlockRef fwd = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "forward");
    LLVMBasicBlockRef bwd = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "backward");
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntNE, param(j, 2), i32c(j, 0), ""), bwd, fwd);
    LLVMPositionBuilderAtEnd(j->b, fwd);
    nonfinite_checks(j, p->fwd, j->lay.fwd_mark, 0);
    LLVMPositionBuilderAtEnd(j->b, bwd);
    nonfinite_checks(j, p->bwd_loss, NULL, 1);
    fn_end(j);
}

/* name(work, params, n, ...): name_tile(...) when n is the tile, else
 * name_any(...), both of which must exist. */
static void build_dispatch(Jit *j, const char *name)
{
    char tn[32], an[32];
    snprintf(tn, sizeof tn, "%s_tile", name);
    snprintf(an, sizeof an, "%s_any", name);
    LLVMValueRef ft = LLVMGetNamedFunction(j->mod, tn), fa = LLVMGetNamedFunction(j->mod, an);
    LLVMTypeRef ty = LLVMGlobalGetValueType(fa);
    LLVMSetLinkage(ft, LLVMInternalLinkage);
    LLVMSetLinkage(fa, LLVMInternalLinkage);
    LLVMValueRef fn = LLVMAddFunction(j->mod, name, ty);
    LLVMValueRef args[5];
    unsigned np = LLVMCountParams(fn);
    for (unsigned k = 0; k < np && k < 5; k++)
        args[k] = LLVMGetParam(fn, k);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(j->ctx, fn, "entry");
    LLVMBasicBlockRef tile = LLVMAppendBasicBlockInContext(j->ctx, fn, "tile");
    LLVMBasicBlockRef any = LLVMAppendBasicBlockInContext(j->ctx, fn, "any");
    LLVMPositionBuilderAtEnd(j->b, entry);
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, args[2], i32c(j, j->tile), ""), tile, any);
    LLVMPositionBuilderAtEnd(j->b, tile);
    LLVMBuildCall2(j->b, ty, ft, args, np, "");
    LLVMBuildRetVoid(j->b);
    LLVMPositionBuilderAtEnd(j->b, any);
    LLVMBuildCall2(j->b, ty, fa, args, np, "");
    LLVMBuildRetVoid(j->b);
}

/* forward() and backward().  A model whose per-sample workspace is tiny
 * has the C trainer's sample tiles (plan.h cg_tile: the runtime runs a
 * batch in chunks of j->tile samples, which stay in the L1 cache, and so
 * sums in the same order as the C trainer), and with specialise (optimised
 * code, not for --trap-nan), as the C trainer's forward_n(160) beside
 * forward_n(n), a copy of each pass for exactly that many samples: with n
 * a constant, so are the rows' length and every buffer's offset, and the
 * loops over the samples address all their rows from one register (W1,
 * chunks of 160: 0.29 s for 10000 epochs against 0.38 s with n unknown,
 * which kept ten row pointers, some on the stack; tiles alone changed
 * nothing).  The copy computes what the other would, bit for bit. */
static void build_passes(Jit *j, int specialise)
{
    WorkBufs wb;
    work_bufs(j, &wb);
    /* the elements per sample the passes touch, as emit_c.c counts them
     * (transient buffers are allocated, not used) */
    j->tile = cg_tile(wb.per_sample - j->fu.transient_per_sample, j->p->dtype);
    work_bufs_free(&wb);
    if (!j->tile || !specialise || j->trap) {
        build_forward(j, "forward", 0);
        build_backward(j, "backward", 0);
        return;
    }
    build_forward(j, "forward_tile", j->tile);
    build_forward(j, "forward_any", 0);
    build_dispatch(j, "forward");
    build_backward(j, "backward_tile", j->tile);
    build_backward(j, "backward_any", 0);
    build_dispatch(j, "backward");
}

static int vector_width(DType dtype);

/* The module for p in context ctx, for --trap-nan when trap is set (Jit);
 * NULL after a diagnostic. */
static LLVMModuleRef build_module(Jit *j, const IrProgram *p, LLVMContextRef ctx, int trap,
                                  int specialise)
{
    memset(j, 0, sizeof *j);
    j->p = p;
    j->ctx = ctx;
    j->trap = trap;
    j->width = vector_width(p->dtype);
    cg_layout_init(&j->lay, p);
    cg_fusion_init(&j->fu, p, &j->lay);
    j->slot = xcalloc((size_t)p->nv, sizeof *j->slot);
    j->nslot = WORK_FIXED + p->nslots;
    for (int i = 0; i < p->nv; i++)
        j->slot[i] = j->lay.needs_buf[i] ? j->nslot++ : -1;
    j->pred_slot = -1;
    if (p->output >= 0 && p->v[p->output].batched && numel(&p->v[p->output]) > 1)
        j->pred_slot = j->nslot++;
    j->base = xcalloc((size_t)p->nv, sizeof *j->base);
    j->written = xcalloc((size_t)p->nv, 1);
    j->mod = LLVMModuleCreateWithNameInContext(p->name, ctx);
    j->b = LLVMCreateBuilderInContext(ctx);
    j->eb = LLVMCreateBuilderInContext(ctx);
    j->real = p->dtype == DT_F32 ? LLVMFloatTypeInContext(ctx) : LLVMDoubleTypeInContext(ctx);
    j->i1 = LLVMInt1TypeInContext(ctx);
    j->i8 = LLVMInt8TypeInContext(ctx);
    j->i32 = LLVMInt32TypeInContext(ctx);
    j->i64 = LLVMInt64TypeInContext(ctx);
    j->rptr = LLVMPointerType(j->real, 0);
    j->rpptr = LLVMPointerType(j->rptr, 0);
    j->i8p = LLVMPointerType(j->i8, 0);
    LLVMTypeRef gt[13] = {j->i32, j->i32, j->i32, j->i32, j->i32, j->real, j->rptr, j->i32,
                          j->rptr, j->i32, j->real, j->rptr, j->i32};
    j->gemm_ty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), gt, 13, 0);
    j->gemm = LLVMAddFunction(j->mod, p->dtype == DT_F32 ? "nnrt_gemm_f32" : "nnrt_gemm_f64",
                              j->gemm_ty);
    LLVMTypeRef tt[4] = {j->rptr, j->i32, j->i32, j->rptr};
    j->transpose_ty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), tt, 4, 0);
    j->transpose = LLVMAddFunction(j->mod, p->dtype == DT_F32 ? "nnrt_transpose_f32"
                                                             : "nnrt_transpose_f64", j->transpose_ty);
    LLVMTypeRef ft[2] = {j->rptr, j->i64};
    j->finite_ty = LLVMFunctionType(j->i32, ft, 2, 0);
    j->finite = LLVMAddFunction(j->mod, p->dtype == DT_F32 ? "nnrt_finite_f32" : "nnrt_finite_f64",
                                j->finite_ty);
    build_passes(j, specialise);
    build_penalty(j);
    if (trap)
        build_nonfinite(j);
    build_workspace(j);
    char *msg = NULL;
    if (LLVMVerifyModule(j->mod, LLVMReturnStatusAction, &msg)) {
        fprintf(stderr, "nnc: internal error: the LLVM IR for %s does not verify: %s\n",
                p->file, msg);
        LLVMDisposeMessage(msg);
        return NULL;
    }
    LLVMDisposeMessage(msg);
    return j->mod;
}

static void jit_free(Jit *j)
{
    cg_layout_free(&j->lay);
    cg_fusion_free(&j->fu);
    free(j->slot);
    free(j->base);
    free(j->written);
    if (j->b)
        LLVMDisposeBuilder(j->b);
    if (j->eb)
        LLVMDisposeBuilder(j->eb);
}

/* ---- optimisation and execution ---- */

static void fatal_handler(const char *reason)
{
    fprintf(stderr, "nnc: error: LLVM failed: %s\n", reason);
    exit(1);
}

/* LLVM's own diagnostics: errors are reported; warnings and remarks are
 * not the user's business (a loop the vectoriser was asked to vectorise
 * and could not, e.g. for lack of provable array bounds, stays a correct
 * scalar loop). */
static void diagnostic_handler(LLVMDiagnosticInfoRef di, void *unused)
{
    (void)unused;
    if (LLVMGetDiagInfoSeverity(di) != LLVMDSError)
        return;
    char *msg = LLVMGetDiagInfoDescription(di);
    fprintf(stderr, "nnc: error: LLVM: %s\n", msg);
    LLVMDisposeMessage(msg);
}

static LLVMContextRef new_context(void)
{
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMContextSetDiagnosticHandler(ctx, diagnostic_handler, NULL);
    return ctx;
}

/* Report an LLVM error as a diagnostic; returns -1. */
static int llvm_error(const char *what, LLVMErrorRef err)
{
    char *msg = LLVMGetErrorMessage(err);
    fprintf(stderr, "nnc: error: %s: %s\n", what, msg);
    LLVMDisposeErrorMessage(msg);
    return -1;
}

/* The host: LLVM's native target, the triple and the CPU's name and
 * features, set up once per process (compilations may run in threads). */
static struct {
    pthread_once_t once;
    char *triple, *cpu, *features;
} host = {PTHREAD_ONCE_INIT, NULL, NULL, NULL};

static void host_init(void)
{
    LLVMInstallFatalErrorHandler(fatal_handler);
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    host.triple = LLVMGetDefaultTargetTriple();
    host.cpu = LLVMGetHostCPUName();
    host.features = LLVMGetHostCPUFeatures();
    cg_cache_dir();   /* looked up once, before any thread asks */
}

/* The width of the vectors LLVM's cost model chooses for nnc's parallel
 * loops (loop_close), in elements of dtype, where nnc knows it: with AVX2
 * the widest, 256 bits, for every such loop whose operations all widen
 * (widens): unit strides along the samples, no calls (the same object code
 * with and without the hint for every model of examples/, bench/ and
 * tests/, in both float types, quick and optimised).  With AVX-512 the choice also depends on the CPU's
 * preferred width, which the C API does not tell, and below AVX2 on the
 * integer operations of exp; there it is left to LLVM (0). */
static int vector_width(DType dtype)
{
    if (!strstr(host.features, "+avx2") || strstr(host.features, "+avx512f"))
        return 0;
    return dtype == DT_F32 ? 8 : 4;
}

/* A target machine for the host.  The code generator's level is LLJIT's
 * own default (O2), or none for quick code (see quick_code); the code model
 * LLJIT's (large, so calls reach libm wherever it is mapped). */
static LLVMTargetMachineRef host_machine(int quick)
{
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(host.triple, &target, &msg)) {
        fprintf(stderr, "nnc: error: LLVM has no target for this machine (%s): %s\n", host.triple,
                msg);
        LLVMDisposeMessage(msg);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, host.triple, host.cpu, host.features,
                                   quick ? LLVMCodeGenLevelNone : LLVMCodeGenLevelDefault,
                                   LLVMRelocDefault, LLVMCodeModelJITDefault);
}

/* Target machines are kept for the next compilation (a sweep's): a
 * TargetMachine serves one compilation at a time, but one after the other
 * as many as it is given, and each new one set up its subtarget (the CPU's
 * features and costs) again, 1.5% of a W5 compilation.  Kept: one per
 * compilation running at once (nnc sweep --jobs), up to 8, and level. */
#define SPARE_MACHINES 8

static struct {
    pthread_mutex_t lock;
    LLVMTargetMachineRef tm[2][SPARE_MACHINES];   /* [quick] */
    int n[2];
} spare = {PTHREAD_MUTEX_INITIALIZER, {{NULL}}, {0, 0}};

static LLVMTargetMachineRef take_machine(int quick)
{
    LLVMTargetMachineRef tm = NULL;
    pthread_mutex_lock(&spare.lock);
    if (spare.n[quick] > 0)
        tm = spare.tm[quick][--spare.n[quick]];
    pthread_mutex_unlock(&spare.lock);
    return tm ? tm : host_machine(quick);
}

static void give_back_machine(LLVMTargetMachineRef tm, int quick)
{
    pthread_mutex_lock(&spare.lock);
    if (spare.n[quick] < SPARE_MACHINES) {
        spare.tm[quick][spare.n[quick]++] = tm;
        tm = NULL;
    }
    pthread_mutex_unlock(&spare.lock);
    if (tm)
        LLVMDisposeTargetMachine(tm);
}

/* The passes, for the host CPU.  nnc's IR is already what LLVM's O3
 * pipeline spends most of its time making: one function per entry point,
 * no calls to inline, the loops and their hints (Loop) stated.  So only
 * these run, in this order:
 *   sroa           the locals of the sums (allocas) into registers;
 *   early-cse      the index arithmetic the emitters repeat;
 *   loop-rotate    every loop bottom-tested, as the vectoriser needs;
 *   licm           the parameters' loads out of the loops over the samples;
 *   loop-vectorize the loops over the samples and the flat loops (SIMD);
 *   instcombine, simplifycfg  the vectoriser's output tidied.
 * Against default<O3> (without its unroller, which tripled the time to the
 * first step for no speed) the passes take a quarter of the time and the
 * whole compilation about two thirds, the vectoriser still vectorising the
 * same loops but for a few of the row ops' inner loops over classes, for
 * the same bits and the same training speed on W1, W3, W5 and
 * examples/spirals.nn (docs/performance.md, "A leaner pipeline"). */
#define PASSES "function(sroa,early-cse,loop-mssa(loop-rotate,licm),loop-vectorize,instcombine," \
               "simplifycfg)"

static int optimise(LLVMModuleRef mod, LLVMTargetMachineRef tm)
{
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef err = LLVMRunPasses(mod, PASSES, tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (err)
        return llvm_error("LLVM optimisation failed", err);
    return 0;
}

/* The compile cache's key of a module's object code: the IR before
 * optimisation and everything else the object depends on.  The IR is
 * hashed as bitcode, which holds all of it (every instruction, constant,
 * name and loop hint: LLVM reads a module back from it) in a sixth of the
 * text's bytes, written in a sixth of the time that printing the text took
 * (which was 8% of a W5 compilation; docs/performance.md, "Cheaper
 * compilations"). */
static void object_key(CgCacheKey *k, LLVMModuleRef mod, int quick)
{
    cg_cache_key(k, "llvm-object");
    cg_cache_add_str(k, "LLVM " LLVM_VERSION_STRING);
    cg_cache_add_str(k, host.triple);
    cg_cache_add_str(k, host.cpu);
    cg_cache_add_str(k, host.features);
    cg_cache_add_str(k, PASSES);
    cg_cache_add_str(k, quick ? "codegen none large" : "codegen O2 large");
    LLVMMemoryBufferRef bc = LLVMWriteBitcodeToMemoryBuffer(mod);
    cg_cache_add(k, LLVMGetBufferStart(bc), LLVMGetBufferSize(bc));
    LLVMDisposeMemoryBuffer(bc);
}

/* The objects compiled in this process, by key (object_key): a module
 * that another thread is compiling or compiled already (nnc sweep: two
 * architectures that differ in a -D value the model does not use, whose IR
 * is the same) is not compiled again; its compilation waits for the first
 * and takes a copy of its object.  Kept for the process's life (W5's
 * objects are 5-30 KB). */
typedef struct Flight {
    CgCacheKey k;
    int done;             /* data is set, or NULL after a failure */
    char *data;
    size_t n;
    struct Flight *next;
} Flight;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t done;
    Flight *list;
} flights = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL};

/* The module optimised and compiled: its object, or NULL after an error. */
static LLVMMemoryBufferRef compile_object(LLVMModuleRef mod, int quick)
{
    LLVMTargetMachineRef tm = take_machine(quick);
    if (!tm)
        return NULL;
    LLVMSetTarget(mod, host.triple);
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    if (optimise(mod, tm) == 0
        && LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &buf)) {
        fprintf(stderr, "nnc: error: LLVM code generation failed: %s\n", msg);
        buf = NULL;
    }
    LLVMDisposeMessage(msg);
    give_back_machine(tm, quick);
    return buf;
}

/* The module's machine code, an ELF object: *cached = 2 when the same
 * module was compiled in this process (flights), 1 when it comes from the
 * compile cache, else 0: optimised, compiled and stored in both.  With
 * refresh (the first object did not link), compiled afresh and replaced.
 * NULL after an error.  The module is left as it was only when *cached is
 * set. */
static LLVMMemoryBufferRef object_code(LLVMModuleRef mod, int quick, int refresh, int *cached)
{
    CgCacheKey k;
    object_key(&k, mod, quick);
    *cached = 0;
    pthread_mutex_lock(&flights.lock);
    Flight *f = flights.list;
    while (f && (f->k.a != k.a || f->k.b != k.b))
        f = f->next;
    if (f && !refresh) {
        while (!f->done)
            pthread_cond_wait(&flights.done, &flights.lock);
        LLVMMemoryBufferRef buf = NULL;
        if (f->data) {
            buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(f->data, f->n, "shared");
            *cached = 2;
        }
        pthread_mutex_unlock(&flights.lock);
        return buf ? buf : compile_object(mod, quick);
    }
    if (!f) {
        f = xcalloc(1, sizeof *f);
        f->k = k;
        f->next = flights.list;
        flights.list = f;
    }
    f->done = 0;
    pthread_mutex_unlock(&flights.lock);

    LLVMMemoryBufferRef buf = NULL;
    size_t n = 0;
    char *data = cg_cache_dir() && !refresh ? cg_cache_read(&k, "o", &n) : NULL;
    if (data) {
        buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(data, n, "cached");
        *cached = 1;
    } else if ((buf = compile_object(mod, quick)) != NULL) {
        n = LLVMGetBufferSize(buf);
        data = xcalloc(n, 1);
        memcpy(data, LLVMGetBufferStart(buf), n);
        if (cg_cache_dir())
            cg_cache_write(&k, "o", data, n);
    }
    pthread_mutex_lock(&flights.lock);
    free(f->data);
    f->data = data;
    f->n = n;
    f->done = 1;
    pthread_cond_broadcast(&flights.done);
    pthread_mutex_unlock(&flights.lock);
    return buf;
}

static char *where(const IrProgram *p, int line)
{
    const char *file = strrchr(p->file, '/') ? strrchr(p->file, '/') + 1 : p->file;
    size_t n = strlen(file) + 16;
    char *s = xcalloc(n, 1);
    snprintf(s, n, "%s:%d", file, line);
    return s;
}

int cg_jit_available(void) { return 1; }

static int quick_code(double work);

/* The module as nnc run compiles it with the model's own settings. */
int cg_emit_llvm(FILE *f, const IrProgram *p)
{
    pthread_once(&host.once, host_init);   /* vector_width */
    LLVMContextRef ctx = new_context();
    Jit j;
    LLVMModuleRef mod = build_module(&j, p, ctx, 0, !quick_code(cg_jit_work(p, 0, NULL)));
    int rc = -1;
    if (mod) {
        char *text = LLVMPrintModuleToString(mod);
        fputs(text, f);
        LLVMDisposeMessage(text);
        LLVMDisposeModule(mod);
        rc = 0;
    }
    jit_free(&j);
    LLVMContextDispose(ctx);
    return rc;
}

/* A compiled model: the LLJIT holding its code, and the tables a generated
 * trainer would have, ready for nnrt_main(). */
struct CgJit {
    const IrProgram *p;
    Jit j;
    LLVMContextRef ctx;
    LLVMOrcLLJITRef lljit;
    int cached;            /* the object code came from: 1 the compile cache, 2 another
                            * compilation of the same module in this process */
    int quick;             /* compiled by the code generator's quick level (quick_code) */
    JitModel m;
    NnrtParam *params;
    NnrtSlot *slots;
    const double **example;
    NnrtSetting *settings;
    char hash[32];
};

void cg_jit_free(CgJit *c)
{
    if (!c)
        return;
    if (c->lljit)
        LLVMOrcDisposeLLJIT(c->lljit);
    jit_free(&c->j);
    if (c->ctx)
        LLVMContextDispose(c->ctx);
    for (int i = 0; c->params && i < c->p->nparams; i++)
        free((char *)c->params[i].where);
    for (int i = 0; c->settings && i < c->p->nsettings; i++)
        free((char *)c->settings[i].where);
    free(c->params);
    free(c->slots);
    free(c->example);
    free(c->settings);
    free(c);
}

/* The runtime calls keep_all() for --trap-nan, which cg_jit_main() gives
 * a model compiled for it (every step stored: NULL keep_all): never this. */
static void keep_missing(void *work)
{
    (void)work;
    diag_internal("--trap-nan with a model not compiled for it");
}

/* The tables, as emit_c.c writes them, and the workspace layout. */
static void build_tables(CgJit *c, const LLVMOrcExecutorAddress *fn)
{
    const IrProgram *p = c->p;
    const Jit *j = &c->j;
    NnrtParam *params = xcalloc((size_t)p->nparams, sizeof *params);
    for (int i = 0; i < p->nparams; i++) {
        const IrParam *q = &p->params[i];
        NnrtParam *t = &params[i];
        t->name = q->name;
        t->rank = q->shape.rank;
        for (int d = 0; d < q->shape.rank; d++)
            t->dim[d] = q->shape.dim[d];
        t->size = shape_numel(&q->shape);
        t->offset = j->lay.param_off[i];
        t->frozen = q->frozen;
        t->init.kind = (NnrtInitKind)q->init;
        t->init.a = q->a;
        t->init.b = q->b;
        t->init.values = q->values;
        t->init.file = q->file;
        t->init.key = q->key;
        t->where = where(p, q->loc.line);
    }
    NnrtSlot *slots = xcalloc((size_t)p->nslots, sizeof *slots);
    const double **example = xcalloc((size_t)p->nslots, sizeof *example);
    int has_example = 0;
    for (int i = 0; i < p->nslots; i++) {
        const IrSlot *s = &p->slots[i];
        NnrtSlot *t = &slots[i];
        t->name = s->name;
        t->kind = s->target ? NNRT_TARGET : NNRT_INPUT;
        t->rank = s->shape.rank;
        for (int d = 0; d < s->shape.rank; d++)
            t->dim[d] = s->shape.dim[d];
        t->size = shape_numel(&s->shape);
        t->nclass = s->nclass;
        t->unused = s->unused;
        example[i] = s->example;
        has_example |= s->example != NULL;
    }
    NnrtSetting *settings = xcalloc((size_t)p->nsettings, sizeof *settings);
    for (int i = 0; i < p->nsettings; i++) {
        settings[i].key = p->settings[i].key;
        settings[i].value = p->settings[i].value;
        settings[i].where = where(p, p->settings[i].loc.line);
    }
    snprintf(c->hash, sizeof c->hash, "%016llx", cg_source_hash(p->source ? p->source : ""));
    c->params = params;
    c->slots = slots;
    c->example = example;
    c->settings = settings;
    c->m = (JitModel){
        .name = p->name, .source = p->file, .source_hash = c->hash, .nnc_version = NNC_VERSION,
        .dtype = p->dtype == DT_F32 ? "float32" : "float64",
        .nparams = p->nparams, .params = params, .nparam_total = j->lay.nparam_total,
        .nslots = p->nslots, .slots = slots,
        .nsettings = p->nsettings, .settings = settings,
        .example = has_example ? example : NULL,
        .out_slot = p->out_slot, .out_size = p->output >= 0 ? numel(&p->v[p->output]) : 0,
        .has_penalty = p->penalty >= 0,
        .tile = j->tile,
        .create = (void *(*)(int))(uintptr_t)fn[0],
        .destroy = (void (*)(void *))(uintptr_t)fn[1],
        .output = (const void *(*)(void *))(uintptr_t)fn[2],
        .forward = (JitFn *)(uintptr_t)fn[3], .backward = (JitFn *)(uintptr_t)fn[4],
        .penalty = (JitFn *)(uintptr_t)fn[5],
        .nonfinite = j->trap ? (const char *(*)(void *, int, int))(uintptr_t)fn[6] : NULL,
        .keep_all = j->trap ? NULL : keep_missing,
    };
}

/* A JIT holding the object code, its functions looked up into fn; -1
 * after an error (printed unless quiet). */
static int link_object(CgJit *c, LLVMMemoryBufferRef obj, LLVMOrcExecutorAddress *fn, int quiet)
{
    LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
    LLVMErrorRef err = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb);
    if (err) {
        LLVMDisposeMemoryBuffer(obj);
        return llvm_error("LLVM cannot target this machine", err);
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    if ((err = LLVMOrcCreateLLJIT(&c->lljit, builder))) {
        LLVMDisposeMemoryBuffer(obj);
        return llvm_error("cannot create the LLVM JIT", err);
    }
    /* nnrt_gemm_f32/f64 and libm from the process (nnc-jit.so holds the runtime) */
    LLVMOrcDefinitionGeneratorRef gen;
    if ((err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
             &gen, LLVMOrcLLJITGetGlobalPrefix(c->lljit), NULL, NULL))) {
        LLVMDisposeMemoryBuffer(obj);
        return llvm_error("cannot resolve symbols from the process", err);
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(c->lljit);
    LLVMOrcJITDylibAddGenerator(jd, gen);
    static const char *const names[NFN] = {
        "create", "destroy", "output", "forward", "backward", "penalty", "nonfinite",
    };
    int nfn = c->j.trap ? NFN : NFN - 1;   /* nonfinite() only for --trap-nan */
    err = LLVMOrcLLJITAddObjectFile(c->lljit, jd, obj);
    for (int k = 0; k < nfn && !err; k++)
        err = LLVMOrcLLJITLookup(c->lljit, &fn[k], names[k]);
    if (err && quiet) {
        LLVMConsumeError(err);
        return -1;
    }
    return err ? llvm_error("the LLVM JIT cannot link the model's code", err) : 0;
}

/* The model compiled, for --trap-nan when trap is set (Jit), with quick
 * code when quick is set (quick_code). */
static CgJit *compile(const IrProgram *p, int trap, int quick)
{
    pthread_once(&host.once, host_init);
    CgJit *c = xcalloc(1, sizeof *c);
    c->p = p;
    c->quick = quick;
    c->ctx = new_context();
    LLVMModuleRef mod = build_module(&c->j, p, c->ctx, trap, !quick);
    LLVMOrcExecutorAddress fn[NFN];
    int ok = 0;
    if (mod) {
        /* an entry of the cache that does not link (damaged on disk) is
         * compiled afresh, and replaced */
        LLVMMemoryBufferRef obj = object_code(mod, quick, 0, &c->cached);
        ok = obj && link_object(c, obj, fn, c->cached) == 0;
        if (!ok && c->cached) {
            if (c->lljit)
                LLVMOrcDisposeLLJIT(c->lljit);
            c->lljit = NULL;
            obj = object_code(mod, quick, 1, &c->cached);
            ok = obj && link_object(c, obj, fn, 0) == 0;
        }
        LLVMDisposeModule(mod);
    }
    if (!ok) {
        cg_jit_free(c);
        return NULL;
    }
    build_tables(c, fn);
    return c;
}

int cg_jit_cached(const CgJit *c)
{
    return c->cached;
}

int cg_jit_quick(const CgJit *c)
{
    return c->quick;
}

/* Do the trainer's flags ask for --trap-nan (a flag without a value,
 * runtime/nnrt_train.c)?  Counted in any position, as an argument of
 * another flag too: that only costs the stores. */
static int trap_nan(int nflags, char **flags)
{
    for (int k = 0; k < nflags; k++)
        if (strncmp(flags[k], "--trap-nan", 10) == 0 && (flags[k][10] == '\0' || flags[k][10] == '='))
            return 1;
    return 0;
}

/* Quick code: LLVM's code generator at its level none (fast instruction
 * selection, fast register allocation, no scheduling) takes about half the
 * time of its default level O2, which is three quarters of a compilation
 * after the passes (docs/performance.md, "Quick code for short
 * trainings").  Its code computes the same bits (the passes, which choose
 * the operations and their order, are the same; an llvm.fmuladd is fused
 * at either level) but runs up to 2.6 times as long (W1).  So it is
 * chosen when the training the code will do is short: the training FLOPs
 * (updates, and evaluating the training and test sets every epoch) of all
 * the runs sharing the code, each estimated by cg_jit_work from the model's
 * FLOPs per sample (nnc --report) and the train block's settings as the
 * run's flags change them, are under QUICK_FLOPS.  At about 35 GFLOP/s against 14 (W1, the densest of
 * the JIT's loops) that costs the code at most 13 ms, where quick code
 * saves 15-45 ms of compiling.  Data read from files has a size the
 * compiler does not know: optimised code.  NNC_JIT_CODE=quick or optimised
 * chooses for every model. */
#define QUICK_FLOPS 3e8

double cg_jit_work(const IrProgram *p, int nflags, char **flags)
{
    NnrtConfig c;
    char err[1024];
    nnrt_config_default(&c);
    for (int i = 0; i < p->nsettings; i++)
        nnrt_config_set(&c, p->settings[i].key, p->settings[i].value, 0, err, sizeof err);
    for (int k = 0; k < nflags; k++) {   /* --key value or --key=value, keys of settings */
        if (strncmp(flags[k], "--", 2) != 0)
            continue;
        const char *name = flags[k] + 2, *eq = strchr(name, '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq ? eq - name : (long)strlen(name)), name);
        int setting = 0;
        for (int i = 0; i < nnrt_setting_nkeys; i++)
            setting |= strcmp(key, nnrt_setting_keys[i]) == 0;
        const char *value = eq ? eq + 1 : k + 1 < nflags ? flags[k + 1] : NULL;
        if (setting && value) {
            nnrt_config_set(&c, key, value, 1, err, sizeof err);
            k += !eq;
        }
    }
    if (c.data.kind != NNRT_SRC_GEN || (c.test.kind != NNRT_SRC_GEN && c.test.kind != NNRT_SRC_NONE))
        return -1;
    long long fwd, bwd;
    report_flops(p, &fwd, &bwd);
    double n = (double)c.data.n, ntest = c.test.kind == NNRT_SRC_GEN ? (double)c.test.n : 0;
    double batch = c.batch > 0 && (double)c.batch < n ? (double)c.batch : n;
    double updates = c.steps > 0 ? (double)c.steps : (double)c.epochs * ceil(n / batch);
    double epochs = c.steps > 0 ? ceil(updates * batch / n) : (double)c.epochs;
    return updates * batch * (double)(fwd + bwd) + (epochs + 1) * (n + ntest) * (double)fwd;
}

static int quick_code(double work)
{
    const char *env = getenv("NNC_JIT_CODE");
    if (env && strcmp(env, "quick") == 0)
        return 1;
    if (env && strcmp(env, "optimised") == 0)
        return 0;
    if (env && *env && strcmp(env, "auto") != 0) {
        static int warned;
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            fprintf(stderr, "nnc: warning: NNC_JIT_CODE='%s' is not quick, optimised or auto; "
                    "using auto\n", env);
    }
    return work >= 0 && work < QUICK_FLOPS;
}

/* --trap-nan's nonfinite() checks every buffer, so the model's transient
 * steps (plan.h) must be stored for it: only a model compiled for it has
 * their stores and nonfinite(), so that the usual one has no code for them
 * (LLVM would otherwise unswitch the fused loops on a flag: twice their
 * code and compile time). */
CgJit *cg_jit_compile(const IrProgram *p, int nflags, char **flags, double work)
{
    return compile(p, trap_nan(nflags, flags), quick_code(work));
}

/* A command line asking for --trap-nan that the model was not compiled
 * for (cg_jit_compile's flags did not say) gets a second compilation. */
int cg_jit_main(CgJit *c, int argc, char **argv)
{
    if (!c->j.trap && trap_nan(argc - 1, argv + 1)) {
        CgJit *k = compile(c->p, 1, c->quick);
        int rc = k ? cg_jit_main(k, argc, argv) : 1;
        cg_jit_free(k);
        return rc;
    }
    return c->p->dtype == DT_F32 ? jit_main_f32(&c->m, argc, argv)
                                 : jit_main_f64(&c->m, argc, argv);
}

int cg_jit_run(const IrProgram *p, int argc, char **argv)
{
    CgJit *c = cg_jit_compile(p, argc - 1, argv + 1, cg_jit_work(p, argc - 1, argv + 1));
    if (!c)
        return 1;
    int rc = cg_jit_main(c, argc, argv);
    cg_jit_free(c);
    return rc;
}

#endif
