/*
 * jit_build.c - the JIT's building blocks: constants and index arithmetic,
 * loads and stores of reals, loops with the hints that the vectoriser
 * reads, calls (libm, the runtime's GEMM and transpose), multiply-adds
 * fused as gcc fuses them, and where each value lives (its storage in the
 * workspace, the parameters, the data or a literal table) and which
 * element of it an op reads inside a loop.  The other files of the JIT
 * (jit_internal.h) are written with these.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/IRReader.h>
#include "jit_internal.h"

void *xcalloc(size_t n, size_t size)
{
    void *q = calloc(n ? n : 1, size);
    if (!q)
        diag_internal("out of memory");
    return q;
}

const char *value_name(const Jit *j, int id, char *buf, size_t n)
{
    const Value *v = &j->p->v[id];
    if (v->name)
        snprintf(buf, n, "%s", v->name);
    else
        snprintf(buf, n, "t%d", id);
    return buf;
}

/* ---- index arithmetic, loads and stores ---- */

LLVMValueRef index_add(Jit *j, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(j->b, a, b, ""); }
LLVMValueRef index_mul(Jit *j, LLVMValueRef a, long k)
{
    return k == 1 ? a : LLVMBuildNSWMul(j->b, a, const_i64(j, k), "");
}

LLVMValueRef offset_ptr(Jit *j, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(j->b, j->real, base, &idx, 1, "");
}

LLVMValueRef load_at(Jit *j, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildLoad2(j->b, j->real, offset_ptr(j, base, idx), "");
}

void store_at(Jit *j, LLVMValueRef x, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMBuildStore(j->b, x, offset_ptr(j, base, idx));
}

/* A scalar local (sum, max), promoted to a register by the optimiser. */
LLVMValueRef stack_local(Jit *j, LLVMTypeRef t, const char *name)
{
    return LLVMBuildAlloca(j->eb, t, name);
}

/* Write x into *ptr; with accumulate, add it to what is there. */
void store_or_add(Jit *j, LLVMValueRef ptr, LLVMValueRef x, int accumulate)
{
    if (accumulate)
        x = real_add(j, LLVMBuildLoad2(j->b, j->real, ptr, ""), x);
    LLVMBuildStore(j->b, x, ptr);
}

/* A scalar accumulator, set to zero here. */
LLVMValueRef zeroed_local(Jit *j, const char *name)
{
    LLVMValueRef s = stack_local(j, j->real, name);
    LLVMBuildStore(j->b, const_real(j, 0), s);
    return s;
}

LLVMValueRef load_real(Jit *j, LLVMValueRef ptr)
{
    return LLVMBuildLoad2(j->b, j->real, ptr, "");
}

/* ---- loops ---- */


LLVMValueRef loop_open(Jit *j, Loop *l, LLVMValueRef count, const char *name)
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
 * padded, to nb (padded rows, above batch_index). */
LLVMValueRef samples_open(Jit *j, Loop *l, int padded)
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
        LLVMValueAsMetadata(const_i32(j, x)),
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

void loop_close(Jit *j, Loop *l)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(j->b);
    LLVMValueRef next = LLVMBuildNSWAdd(j->b, l->i, const_i64(j, 1), "");
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
    LLVMValueRef in[2] = {const_i64(j, 0), next};
    LLVMBasicBlockRef from[2] = {l->pre, latch};
    LLVMAddIncoming(l->i, in, from, 2);
    LLVMMoveBasicBlockAfter(l->exit, latch);
    LLVMPositionBuilderAtEnd(j->b, l->exit);
}

LLVMValueRef call_math(Jit *j, const char *name, LLVMValueRef *args, int nargs)
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
 * real_add and real_sub fuse when a side is a product just built and not used
 * elsewhere (the left one first, as gcc does). */
LLVMValueRef fmuladd(Jit *j, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return call_math(j, j->p->dtype == DT_F32 ? "llvm.fmuladd.f32" : "llvm.fmuladd.f64", args, 3);
}

/* x's first slot in the set of a fused loop's registers (j->regs). */
static size_t register_slot(const Jit *j, LLVMValueRef x)
{
    return (size_t)(((uintptr_t)x >> 4) * 0x9e3779b97f4a7c15ull >> 32) & j->regmask;
}

/* A fused loop's member kept in a register: fresh_product leaves it
 * alone.  Constant time, so that building a loop of thousands of members
 * stays linear in them. */
void keep_in_register(Jit *j, LLVMValueRef x)
{
    size_t h = register_slot(j, x);
    while (j->regs[h] && j->regs[h] != x)
        h = (h + 1) & j->regmask;
    j->regs[h] = x;
}

/* A product just built: not used yet, nor a fused loop's member in a
 * register (j->regs), which later members may read. */
static int fresh_product(const Jit *j, LLVMValueRef x)
{
    if (!LLVMIsAInstruction(x) || LLVMGetInstructionOpcode(x) != LLVMFMul || LLVMGetFirstUse(x))
        return 0;
    if (j->regs)
        for (size_t h = register_slot(j, x); j->regs[h]; h = (h + 1) & j->regmask)
            if (j->regs[h] == x)
                return 0;
    return 1;
}

/* a*b + c from the product x (erased) and c, negating the product when neg. */
static LLVMValueRef fuse_product(Jit *j, LLVMValueRef x, LLVMValueRef c, int neg)
{
    LLVMValueRef a = LLVMGetOperand(x, 0), b = LLVMGetOperand(x, 1);
    LLVMInstructionEraseFromParent(x);
    if (neg)
        a = LLVMBuildFNeg(j->b, a, "");
    return fmuladd(j, a, b, c);
}

LLVMValueRef real_add(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    if (fresh_product(j, a))
        return fuse_product(j, a, b, 0);
    if (fresh_product(j, b))
        return fuse_product(j, b, a, 0);
    return LLVMBuildFAdd(j->b, a, b, "");
}

LLVMValueRef real_sub(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    if (fresh_product(j, a))
        return fuse_product(j, a, LLVMBuildFNeg(j->b, b, ""), 0);
    if (fresh_product(j, b))
        return fuse_product(j, b, a, 1);
    return LLVMBuildFSub(j->b, a, b, "");
}

LLVMValueRef real_mul(Jit *j, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(j->b, a, b, "");
}

/* Horner's rule as multiply-adds: ((c[0] x + c[1]) x + ...) + c[n-1]. */
LLVMValueRef horner(Jit *j, const float *c, size_t n, LLVMValueRef x)
{
    LLVMValueRef p = const_real(j, c[0]);
    for (size_t k = 1; k < n; k++)
        p = fmuladd(j, p, x, const_real(j, c[k]));
    return p;
}

void call_gemm(Jit *j, int ta, int tb, LLVMValueRef M, LLVMValueRef N, LLVMValueRef K,
               LLVMValueRef A, LLVMValueRef lda, LLVMValueRef B, LLVMValueRef ldb,
               LLVMValueRef beta, LLVMValueRef C, LLVMValueRef ldc)
{
    LLVMValueRef args[13] = {
        const_i32(j, ta), const_i32(j, tb), M, N, K, const_real(j, 1), A, lda, B, ldb, beta, C, ldc,
    };
    LLVMBuildCall2(j->b, j->gemm_ty, j->gemm, args, 13, "");
}

/* dst[cols, rows] = src[rows, cols]' by nnrt_transpose (blocked): the data
 * into the samples-innermost layout, the prediction back. */
void call_transpose(Jit *j, LLVMValueRef src, LLVMValueRef rows, LLVMValueRef cols,
                    LLVMValueRef dst)
{
    LLVMValueRef args[4] = {src, rows, cols, dst};
    LLVMBuildCall2(j->b, j->transpose_ty, j->transpose, args, 4, "");
}

/* ---- storage ---- */

LLVMValueRef work_ptr(Jit *j, int k, const char *name)
{
    LLVMValueRef idx = const_i64(j, k);
    LLVMValueRef slotp = LLVMBuildInBoundsGEP2(j->eb, j->rptr, j->work, &idx, 1, "");
    return LLVMBuildLoad2(j->eb, j->rptr, slotp, name);
}

LLVMValueRef step_base(Jit *j, int id)
{
    char name[128];
    int o = j->lay.owner[id];
    if (j->slot[o] < 0)
        diag_internal("jit: rolled value %d has no buffer", id);
    return work_ptr(j, j->slot[o], value_name(j, o, name, sizeof name));
}

LLVMValueRef step_ptr(Jit *j, LLVMBuilderRef b, int id, LLVMValueRef slot)
{
    const Value *v = &j->p->v[id];
    LLVMValueRef size = const_i64(j, numel(v));
    if (v->batched)
        size = LLVMBuildNSWMul(b, size, j->ld, "");
    LLVMValueRef off = LLVMBuildNSWMul(b, slot, size, "");
    char name[128];
    return LLVMBuildInBoundsGEP2(b, j->real, step_base(j, id), &off, 1,
                                 value_name(j, id, name, sizeof name));
}

/* The storage of value id in the current function: a workspace buffer, a
 * slice of params or grads, a data slot or a literal table. */
LLVMValueRef storage(Jit *j, int id)
{
    if (j->storage[id])
        return j->storage[id];
    const IrProgram *p = j->p;
    const Value *v = &p->v[id];
    char name[128];
    value_name(j, id, name, sizeof name);
    LLVMValueRef r = NULL;
    if (v->op == OP_PARAM) {
        LLVMValueRef off = const_i64(j, j->lay.param_off[v->index]);
        r = LLVMBuildInBoundsGEP2(j->eb, j->real, j->params, &off, 1, name);
    } else if (v->op == OP_ADJ && p->v[v->arg[0]].op == OP_PARAM) {
        LLVMValueRef off = const_i64(j, j->lay.param_off[p->v[v->arg[0]].index]);
        r = LLVMBuildInBoundsGEP2(j->eb, j->real, j->grads, &off, 1, name);
    } else if (v->op == OP_INPUT) {
        r = work_ptr(j, WORK_FIXED + v->index, name);
    } else if (v->op == OP_LITERAL) {
        int n = numel(v);
        LLVMValueRef *x = xcalloc((size_t)n, sizeof *x);
        for (int k = 0; k < n; k++)
            x[k] = const_real(j, p->literals[v->index][k]);
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
        LLVMValueRef zero[2] = {const_i64(j, 0), const_i64(j, 0)};
        r = LLVMBuildInBoundsGEP2(j->eb, at, g, zero, 2, name);
    } else if (j->lay.loop[id] >= 0) {
        r = step_ptr(j, j->eb, id, const_i64(j, cg_slot_start(p, &j->lay, id, j->backward)));
    } else if (j->slot[id] >= 0) {
        r = work_ptr(j, j->slot[id], name);
    } else {
        diag_internal("jit: value %d (%s) has no storage", id, ir_ops[v->op].name);
    }
    j->storage[id] = r;
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
LLVMValueRef batch_index(Jit *j, LLVMValueRef idx, int batched, LLVMValueRef b)
{
    if (!batched)
        return idx;
    if (LLVMIsAConstantInt(idx) && LLVMConstIntGetSExtValue(idx) == 0)
        return b;
    return index_add(j, LLVMBuildNSWMul(j->b, idx, j->ld, ""), b);
}

/* Element of value id in an iteration space of N elements per sample, as
 * emit_c.c's elem(): in a flat loop (i over n * N elements) an operand is
 * the whole tensor or a single number; otherwise element i of sample b,
 * broadcasting by i mod its size. */
LLVMValueRef elem_ptr(Jit *j, int id, int N, int flat, int loop_batched,
                      LLVMValueRef b, LLVMValueRef i)
{
    const Value *v = &j->p->v[id];
    int M = numel(v), bat = v->batched;
    LLVMValueRef idx;
    if (flat)
        idx = M == N && bat == loop_batched ? i : const_i64(j, 0);
    else if (M == 1)
        idx = bat ? b : const_i64(j, 0);
    else if (M == N)
        idx = batch_index(j, i, bat, b);
    else
        idx = batch_index(j, LLVMBuildSRem(j->b, i, const_i64(j, M), ""), bat, b);
    return offset_ptr(j, storage(j, id), idx);
}

LLVMValueRef load_elem(Jit *j, int id, int N, int flat, int loop_batched,
                       LLVMValueRef b, LLVMValueRef i)
{
    const Value *v = &j->p->v[id];
    if (v->op == OP_CONST)
        return const_real(j, v->num);
    if (v->op == OP_SEED)
        return j->seed;
    return LLVMBuildLoad2(j->b, j->real, elem_ptr(j, id, N, flat, loop_batched, b, i), "");
}

/* cg_store for value id; clears the target when the plan says so.
 * Returns 1 when the op adds into its destination. */
int begin_store(Jit *j, int id)
{
    CgStore st = cg_store(j->p, id, j->written);
    if (st == CG_ZERO_ADD)
        clear_dest(j, id);
    return st != CG_ASSIGN;
}

/* Set all of the buffer value id accumulates into to 0. */
void clear_dest(Jit *j, int id)
{
    const IrProgram *p = j->p;
    const Value *t = &p->v[p->v[id].acc];
    LLVMValueRef count = t->batched ? index_mul(j, j->ld, numel(t)) : const_i64(j, numel(t));
    LLVMValueRef bytes = index_mul(j, count, p->dtype == DT_F32 ? 4 : 8);
    LLVMBuildMemSet(j->b, storage(j, p->v[id].acc), LLVMConstInt(j->i8, 0, 0), bytes, 4);
}
