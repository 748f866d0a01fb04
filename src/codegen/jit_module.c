/*
 * jit_module.c - one model's LLVM module: the trainer's functions
 * forward(), backward() and penalty() with the signatures of NnrtModel's,
 * the workspace's create(), destroy() and output() (its layout:
 * jit_internal.h), nonfinite() for --trap-nan, and, for a model with
 * sample tiles, a copy of each pass for exactly the tile and the dispatch
 * between the copies (build_passes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/Analysis.h>
#include "jit_internal.h"

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
    memset(j->storage, 0, (size_t)j->p->nv * sizeof *j->storage);
    memset(j->written, 0, (size_t)j->p->nv);
    j->work = j->params = j->grads = j->n = j->n64 = j->nb = j->ld = j->seed = NULL;
}

static void fn_end(Jit *j)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(j->fn);
    LLVMBuildBr(j->eb, LLVMGetNextBasicBlock(entry));
}

static LLVMValueRef fn_param(Jit *j, int k) { return LLVMGetParam(j->fn, (unsigned)k); }

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
    if (tile) { j->n = const_i32(j, tile); j->n64 = const_i64(j, tile); }
    LLVMValueRef rows = tile ? const_i64(j, tile) : j->n64;
    j->nb = LLVMBuildAnd(j->eb, LLVMBuildNSWAdd(j->eb, rows, const_i64(j, ROW - 1), ""), const_i64(j, -ROW), "nb");
    LLVMValueRef bytes = LLVMBuildNSWMul(j->eb, j->nb, const_i64(j, j->p->dtype == DT_F32 ? 4 : 8), "");
    LLVMValueRef aliased = LLVMBuildICmp(j->eb, LLVMIntEQ, LLVMBuildAnd(j->eb, bytes, const_i64(j, 2047), ""), const_i64(j, 0), "");
    /* nb + SKEW when aliased, as arithmetic: LLVM still sees a multiple of ROW */
    LLVMValueRef skew = LLVMBuildShl(j->eb, LLVMBuildZExt(j->eb, aliased, j->i64, ""), const_i64(j, SKEW_LOG2), "");
    j->ld = LLVMBuildNUWAdd(j->eb, j->nb, skew, "ld");
}

/* dst[size, ld] = src[n, size]': the data in, exactly n samples (the
 * runtime's array holds no more): one number per sample copied, more
 * transposed by nnrt_transpose into rows of n, which then move to their
 * place in the padded rows, the last first. */
static void data_in(Jit *j, LLVMValueRef src, int size, LLVMValueRef dst)
{
    LLVMValueRef row = index_mul(j, j->n64, j->p->dtype == DT_F32 ? 4 : 8);
    if (size == 1) {
        LLVMBuildMemCpy(j->b, dst, 4, src, 4, row);
        return;
    }
    call_transpose(j, src, j->n, const_i32(j, size), dst);
    LLVMBasicBlockRef move = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, j->n64, j->ld, ""), done, move);
    LLVMPositionBuilderAtEnd(j->b, move);
    Loop lk;
    LLVMValueRef k = loop_open(j, &lk, const_i64(j, size - 1), "k");
    lk.scalar = 1;
    LLVMValueRef i = LLVMBuildNSWSub(j->b, const_i64(j, size - 1), k, "");
    LLVMBuildMemMove(j->b, offset_ptr(j, dst, LLVMBuildNSWMul(j->b, i, j->ld, "")), 4,
                     offset_ptr(j, dst, LLVMBuildNSWMul(j->b, i, j->n64, "")), 4, row);
    loop_close(j, &lk);
    LLVMBuildBr(j->b, done);
    LLVMPositionBuilderAtEnd(j->b, done);
}

/* Rolled loops (ir.h, IrLoop; plan.h, CgLayout): the step's values are
 * read and written through pointers moved to the step's slots at the top
 * of every step, as emit_c.c's for over t. */
static void clear(Jit *j, LLVMValueRef ptr, int id, int slots)
{
    const Value *t = &j->p->v[id];
    LLVMValueRef count = const_i64(j, (long)numel(t) * slots);
    if (t->batched)
        count = index_mul(j, j->ld, (long)numel(t) * slots);
    LLVMValueRef bytes = index_mul(j, count, j->p->dtype == DT_F32 ? 4 : 8);
    LLVMBuildMemSet(j->b, ptr, LLVMConstInt(j->i8, 0, 0), bytes, 4);
}

static void point_steps(Jit *j, int l, LLVMValueRef t)
{
    for (int i = 0; i < j->p->nv; i++)
        if (j->lay.loop[i] == l && j->slot[j->lay.owner[i]] >= 0)
            j->storage[i] = step_ptr(j, j->b, i, index_add(j, t, const_i64(j, j->lay.shift[i])));
}

/* The values [begin, end) (those marked, when mark is given), a rolled
 * loop's step (or its adjoint, from the last step down) in a loop. */
static void emit_range(Jit *j, int begin, int end, const char *mark)
{
    const IrProgram *p = j->p;
    int *ids = xcalloc((size_t)p->nv, sizeof *ids);
    if (j->backward && begin == p->bwd_loss.begin) {
        int n = cg_pass_clears(p, &j->lay, j->written, ids);
        for (int k = 0; k < n; k++)
            clear(j, step_base(j, ids[k]), ids[k], j->lay.slots[ids[k]]);
    }
    for (int i = begin; i < end; i++) {
        int l = cg_loop_begins(p, i, j->backward);
        if (l < 0) {
            if (!mark || mark[i])
                emit_value(j, i);
            continue;
        }
        const IrLoop *L = &p->loops[l];
        if (j->backward) {
            int n = cg_loop_clears(p, &j->lay, l, j->written, ids);
            for (int k = 0; k < n; k++)
                clear(j, storage(j, ids[k]), ids[k], 1);
        }
        Loop lt;
        LLVMValueRef s = loop_open(j, &lt, const_i64(j, L->count), "t");
        lt.scalar = 1;
        LLVMValueRef t = j->backward ? LLVMBuildNSWSub(j->b, const_i64(j, L->count - 1), s, "") : s;
        point_steps(j, l, t);
        j->t = t;
        int last = j->backward ? L->bwd_end : L->end;
        for (; i < last; i++)
            if (!mark || mark[i])
                emit_value(j, i);
        i--;
        j->t = NULL;
        loop_close(j, &lt);
        /* after the loop, the step where it ended */
        point_steps(j, l, const_i64(j, j->backward ? 0 : L->count - 1));
    }
    free(ids);
}

/* forward(work, params, n, data, losses); with tile > 0, named so, for
 * exactly tile samples (build_passes) */
static void build_forward(Jit *j, const char *name, int tile)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[5] = {j->i8p, j->rptr, j->i32, LLVMPointerType(j->rptr, 0), j->rptr};
    const char *const pn[5] = {"work", "params", "n", "data", "losses"};
    fn_begin(j, name, LLVMVoidTypeInContext(j->ctx), pt, pn, 5);
    set_work(j, fn_param(j, 0));
    j->params = fn_param(j, 1);
    j->n = fn_param(j, 2);
    set_n(j, tile);
    /* the data: copied (transposed, samples innermost) into the workspace's
     * padded rows, also when a sample brings one number (which the C
     * trainer reads in place): the padding lanes stay inside the workspace */
    for (int s = 0; s < p->nslots; s++) {
        LLVMValueRef idx = const_i64(j, s);
        LLVMValueRef d = LLVMBuildLoad2(j->b, j->rptr,
                                        LLVMBuildInBoundsGEP2(j->b, j->rptr, fn_param(j, 3), &idx, 1, ""), "");
        data_in(j, d, shape_numel(&p->slots[s].shape), storage(j, p->slots[s].value));
    }
    j->backward = 0;
    emit_range(j, p->fwd.begin, p->fwd.end, j->lay.fwd_mark);
    /* the per-sample losses, for the runtime */
    LLVMValueRef bytes = index_mul(j, j->n64, p->dtype == DT_F32 ? 4 : 8);
    LLVMBuildMemCpy(j->b, fn_param(j, 4), 4, storage(j, p->loss), 4, bytes);
    if (p->output >= 0) {
        const Value *o = &p->v[p->output];
        LLVMValueRef out = storage(j, p->output);
        if (o->batched && numel(o) > 1) {
            /* the prediction, sample by sample, for the runtime (and the
             * padding lanes into the rest of its buffer: padded rows) */
            out = work_ptr(j, j->pred_slot, "pred");
            call_transpose(j, storage(j, p->output), const_i32(j, numel(o)), LLVMBuildTrunc(j->b, j->ld, j->i32, ""), out);
        }
        LLVMValueRef idx = const_i64(j, 1);
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
    set_work(j, fn_param(j, 0));
    j->params = fn_param(j, 1);
    j->n = fn_param(j, 2);
    set_n(j, tile);
    j->seed = fn_param(j, 3);
    j->grads = fn_param(j, 4);
    j->backward = 1;
    emit_range(j, p->bwd_loss.begin, p->bwd_loss.end, NULL);
    j->backward = 0;
    LLVMBuildRetVoid(j->b);
    fn_end(j);
}

static void build_penalty(Jit *j)
{
    const IrProgram *p = j->p;
    LLVMTypeRef pt[3] = {j->i8p, j->rptr, j->rptr};
    const char *const pn[3] = {"work", "params", "grads"};
    fn_begin(j, "penalty", j->real, pt, pn, 3);
    set_work(j, fn_param(j, 0));
    j->params = fn_param(j, 1);
    j->grads = fn_param(j, 2);
    j->n = const_i32(j, 1);
    j->n64 = j->nb = j->ld = const_i64(j, 1);
    j->seed = const_real(j, 1);
    if (p->penalty < 0) {
        LLVMBuildRet(j->b, const_real(j, 0));
        fn_end(j);
        return;
    }
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (j->lay.pen_mark[i])
            emit_value(j, i);
    LLVMValueRef pen = load_at(j, storage(j, p->penalty), const_i64(j, 0));
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
 * (its layout: jit_internal.h), as emit_c.c's create() writes it:
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
            w->size[w->n] = numel(&p->v[i]) * j->lay.slots[i];
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
    LLVMValueRef cap = LLVMBuildSExt(j->b, fn_param(j, 0), j->i64, "");
    cap = index_add(j, LLVMBuildAnd(j->b, index_add(j, cap, const_i64(j, ROW - 1)), const_i64(j, -ROW), ""), const_i64(j, SKEW));
    LLVMValueRef args[2] = {const_i64(j, j->nslot), const_i64(j, 8)};
    LLVMValueRef w = LLVMBuildCall2(j->b, calloc_ty, calloc_fn, args, 2, "w");
    args[0] = index_add(j, index_mul(j, cap, wb.per_sample), const_i64(j, wb.fixed + 1));
    args[1] = const_i64(j, p->dtype == DT_F32 ? 4 : 8);
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
    LLVMValueRef off = const_i64(j, 0);
    LLVMBuildStore(j->b, mr, LLVMBuildInBoundsGEP2(j->b, j->rptr, ws, &off, 1, ""));
    for (int k = 0; k < wb.n; k++) {
        LLVMValueRef idx = const_i64(j, wb.slot[k]);
        LLVMBuildStore(j->b, offset_ptr(j, mr, off), LLVMBuildInBoundsGEP2(j->b, j->rptr, ws, &idx, 1, ""));
        off = index_add(j, off, wb.bat[k] ? index_mul(j, cap, wb.size[k]) : const_i64(j, wb.size[k]));
    }
    LLVMBuildRet(j->b, w);
    fn_end(j);

    const char *const work_name = "work";
    fn_begin(j, "destroy", vt, &j->i8p, &work_name, 1);
    LLVMBasicBlockRef some = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
    LLVMBuildCondBr(j->b, LLVMBuildIsNull(j->b, fn_param(j, 0), ""), none, some);
    LLVMPositionBuilderAtEnd(j->b, some);
    LLVMValueRef mem = LLVMBuildLoad2(j->b, j->i8p,
                                      LLVMBuildBitCast(j->b, fn_param(j, 0), LLVMPointerType(j->i8p, 0), ""),
                                      "mem");
    LLVMBuildCall2(j->b, free_ty, free_fn, &mem, 1, "");
    w = fn_param(j, 0);
    LLVMBuildCall2(j->b, free_ty, free_fn, &w, 1, "");
    LLVMBuildRetVoid(j->b);
    LLVMPositionBuilderAtEnd(j->b, none);
    LLVMBuildRetVoid(j->b);
    fn_end(j);

    fn_begin(j, "output", j->rptr, &j->i8p, &work_name, 1);
    set_work(j, fn_param(j, 0));
    LLVMBuildRet(j->b, work_ptr(j, 1, "out"));
    fn_end(j);
    work_bufs_free(&wb);
}

/* For --trap-nan, as emit_c.c's nonfinite(): after a forward (adjoint = 0)
 * or backward (adjoint = 1) pass on n samples, the first statement in
 * execution order whose buffer holds a NaN or an infinity, or NULL. */
static LLVMValueRef load_i32(Jit *j, LLVMValueRef ptr)
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
            LLVMValueRef all = stack_local(j, j->i32, "ok");
            LLVMBuildStore(j->b, const_i32(j, 1), all);
            Loop li;
            /* a rolled loop's buffer: every step's slot */
            LLVMValueRef base = j->lay.loop[d] >= 0 ? step_base(j, d) : storage(j, d);
            LLVMValueRef i = loop_open(j, &li, const_i64(j, numel(t) * j->lay.slots[d]), "i");
            LLVMValueRef args[2] = {offset_ptr(j, base, batch_index(j, i, 1, const_i64(j, 0))), j->n64};
            LLVMValueRef row = LLVMBuildCall2(j->b, j->finite_ty, j->finite, args, 2, "");
            LLVMBuildStore(j->b, LLVMBuildAnd(j->b, load_i32(j, all), row, ""), all);
            loop_close(j, &li);
            ok = load_i32(j, all);
        } else {
            LLVMValueRef args[2] = {j->lay.loop[d] >= 0 ? step_base(j, d) : storage(j, d),
                                    const_i64(j, numel(t) * j->lay.slots[d])};
            ok = LLVMBuildCall2(j->b, j->finite_ty, j->finite, args, 2, "");
        }
        LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "");
        LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, ok, const_i32(j, 0), ""), bad, next);
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
    set_work(j, fn_param(j, 0));
    j->n = fn_param(j, 1);
    set_n(j, 0);
    LLVMBasicBlockRef fwd = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "forward");
    LLVMBasicBlockRef bwd = LLVMAppendBasicBlockInContext(j->ctx, j->fn, "backward");
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntNE, fn_param(j, 2), const_i32(j, 0), ""), bwd, fwd);
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
    LLVMBuildCondBr(j->b, LLVMBuildICmp(j->b, LLVMIntEQ, args[2], const_i32(j, j->tile), ""), tile, any);
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
    if (cg_batch_model(j->p))
        j->tile = 0;   /* a batch in one pass (emit_c.c) */
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

/* The module for p in context ctx, for --trap-nan when trap is set (Jit);
 * NULL after a diagnostic. */
LLVMModuleRef build_module(Jit *j, const IrProgram *p, LLVMContextRef ctx, int trap,
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
    j->storage = xcalloc((size_t)p->nv, sizeof *j->storage);
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

void jit_free(Jit *j)
{
    cg_layout_free(&j->lay);
    cg_fusion_free(&j->fu);
    free(j->slot);
    free(j->storage);
    free(j->written);
    if (j->b)
        LLVMDisposeBuilder(j->b);
    if (j->eb)
        LLVMDisposeBuilder(j->eb);
}

