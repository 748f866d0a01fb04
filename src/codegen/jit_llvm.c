/*
 * jit_llvm.c - the LLVM JIT's entry points (codegen.h: cg_jit_compile,
 * cg_jit_main, cg_jit_run, cg_emit_llvm ...) and what happens to a model's
 * module (jit_module.c) once built: the host's target machines, the
 * passes, the object code and the compile cache, and linking into the
 * process by ORC LLJIT, with the tables a generated trainer would have.
 *
 * The module is optimised and compiled to an ELF object here, which the
 * compile cache keeps (cache.h, docs/cache.md: the same IR for the same CPU
 * is compiled once), and LLJIT links that object into the process.
 * Runtime functions (nnrt_gemm_f32/f64) and libm are resolved from the
 * process: the JIT (jit_internal.h lists its files) is built into
 * nnc-jit.so with the whole runtime, which nnc loads (jit_load.c) with its
 * symbols global.  Built only with LLVM; without it (make LLVM=none) nnc
 * answers with the stubs of jit_load.c.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Error.h>
#include <llvm-c/ErrorHandling.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm/Config/llvm-config.h>
#include "cache.h"
#include "jit.h"
#include "jit_internal.h"
#include "nnrt.h"
#include "nnrt_internal.h"
#include "teach.h"

#define NNC_VERSION "0.1.0"

/* nnrt.h declares the kernels of one type (NNRT_FN); link_object needs both */
void nnrt_batchnorm_f64(int op, int train, int add, int n, int si, int sb, int C, int S,
                        const double *a, const double *b, const double *c, const double *d,
                        double *out, double *rmean, double *rvar);
#define NFN 7             /* the model's functions (link_object) */

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
int vector_width(DType dtype)
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

static char *source_place(const IrProgram *p, int line)
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
    NnrtDraw *draws;
    const double **example;
    NnrtSetting *settings;
    NnrtValue *values;
    int *value_buf;
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
    free(c->draws);
    free(c->example);
    free(c->settings);
    free(c->values);
    free(c->value_buf);
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
        t->where = source_place(p, q->loc.line);
    }
    NnrtSlot *slots = xcalloc((size_t)p->nslots, sizeof *slots);
    const double **example = xcalloc((size_t)p->nslots, sizeof *example);
    int has_example = 0;
    int ndata = ir_data_slots(p);
    NnrtDraw *draws = xcalloc((size_t)(p->nslots - ndata + 1), sizeof *draws);
    for (int i = ndata; i < p->nslots; i++) {   /* as emit_c.c's draw_table */
        const IrSlot *s = &p->slots[i];
        NnrtDraw *t = &draws[i - ndata];
        static const NnrtDrawKind kind[] = {NNRT_DRAW_NORMAL, NNRT_DRAW_NORMAL, NNRT_DRAW_UNIFORM,
                                            NNRT_DRAW_DROPOUT};
        t->name = s->name;
        t->kind = kind[s->noise];
        t->a = s->a;
        t->b = s->b;
        t->rank = s->shape.rank;
        for (int d = 0; d < s->shape.rank; d++)
            t->dim[d] = s->shape.dim[d];
        t->size = shape_numel(&s->shape);
    }
    for (int i = 0; i < ndata; i++) {
        const IrSlot *s = &p->slots[i];
        NnrtSlot *t = &slots[i];
        t->name = s->name;
        t->kind = s->target ? NNRT_TARGET : NNRT_INPUT;
        t->rank = s->shape.rank;
        for (int d = 0; d < s->shape.rank; d++)
            t->dim[d] = s->shape.dim[d];
        t->size = shape_numel(&s->shape);
        t->nclass = s->nclass;
        t->nindex = s->nindex;
        t->unused = s->unused;
        example[i] = s->example;
        has_example |= s->example != NULL;
    }
    NnrtSetting *settings = xcalloc((size_t)p->nsettings, sizeof *settings);
    for (int i = 0; i < p->nsettings; i++) {
        settings[i].key = p->settings[i].key;
        settings[i].value = p->settings[i].value;
        settings[i].where = source_place(p, p->settings[i].loc.line);
    }
    /* predict --outputs: the named values (as emit_c.c's value_table) and
     * their buffers' indices in work[] */
    int *ids = xcalloc((size_t)p->nv, sizeof *ids), nvalues = cg_named_values(p, &j->lay, ids);
    NnrtValue *values = xcalloc((size_t)nvalues, sizeof *values);
    int *value_buf = xcalloc((size_t)nvalues, sizeof *value_buf);
    for (int k = 0; k < nvalues; k++) {
        const Value *v = &p->v[ids[k]];
        int steps = cg_value_steps(&j->lay, ids[k]);   /* a step's: [S, ...] */
        values[k].name = v->name;
        values[k].rank = v->shape.rank + (steps > 0);
        if (steps)
            values[k].dim[0] = steps;
        for (int d = 0; d < v->shape.rank; d++)
            values[k].dim[d + (steps > 0)] = v->shape.dim[d];
        values[k].size = numel(v) * (steps ? steps : 1);
        values[k].batched = v->batched;
        value_buf[k] = j->slot[j->lay.owner[ids[k]]];
    }
    free(ids);
    c->values = values;
    c->value_buf = value_buf;
    snprintf(c->hash, sizeof c->hash, "%016llx", cg_source_hash(p->source ? p->source : ""));
    c->params = params;
    c->slots = slots;
    c->draws = draws;
    c->example = example;
    c->settings = settings;
    c->m = (JitModel){
        .name = p->name, .source = p->file, .source_hash = c->hash, .nnc_version = NNC_VERSION,
        .dtype = p->dtype == DT_F32 ? "float32" : "float64",
        .nparams = p->nparams, .params = params, .nparam_total = j->lay.nparam_total,
        .nslots = ndata, .slots = slots,
        .nsettings = p->nsettings, .settings = settings,
        .example = has_example ? example : NULL,
        .out_slot = p->out_slot, .out_size = p->output >= 0 ? numel(&p->v[p->output]) : 0,
        .out_value = p->out_value,
        .out_name = p->output >= 0 && !p->v[p->output].temp ? p->v[p->output].name : NULL,
        .has_penalty = p->penalty >= 0,
        .tile = j->tile,
        .halves = cg_halves(p),
        .sample_max = ir_sample_max(p) > INT_MAX / NNRT_PASS_MAX ? ir_sample_max(p) : 0,
        .create = (void *(*)(int))(uintptr_t)fn[0],
        .destroy = (void (*)(void *))(uintptr_t)fn[1],
        .output = (const void *(*)(void *))(uintptr_t)fn[2],
        .forward = (JitFn *)(uintptr_t)fn[3], .backward = (JitFn *)(uintptr_t)fn[4],
        .penalty = (JitFn *)(uintptr_t)fn[5],
        .nonfinite = j->trap ? (const char *(*)(void *, int, int))(uintptr_t)fn[6] : NULL,
        .keep_all = j->trap ? NULL : keep_missing,
        .nvalues = nvalues, .values = values, .value_buf = value_buf,
        .row_multiple = ROW, .row_skew = SKEW,
        .ndraws = p->nslots - ndata, .draws = draws,
        .batchnorm = cg_batch_model(p),
        .holds = cg_holds(p),
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
    /* ... but batch norm's kernel from this object: nnc links a copy of it
     * too (for explain), which the search of the process finds first, and
     * under MPI the kernel exchanges statistics through the MPI of this
     * object's runtime, the one nnrt_main (jit_main.c) started */
    LLVMJITSymbolFlags fl = { LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable, 0 };
    LLVMJITCSymbolMapPair own[] = {
        { LLVMOrcLLJITMangleAndIntern(c->lljit, "nnrt_batchnorm_f32"),
          { (LLVMOrcExecutorAddress)(uintptr_t)nnrt_batchnorm_f32, fl } },
        { LLVMOrcLLJITMangleAndIntern(c->lljit, "nnrt_batchnorm_f64"),
          { (LLVMOrcExecutorAddress)(uintptr_t)nnrt_batchnorm_f64, fl } },
    };
    if ((err = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(own, 2)))) {
        LLVMDisposeMemoryBuffer(obj);
        return llvm_error("cannot define the runtime's symbols", err);
    }
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
static CgJit *compile_model(const IrProgram *p, int trap, int quick)
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
        if ((strncmp(flags[k], "--trap-nan", 10) == 0 && (flags[k][10] == '\0' || flags[k][10] == '='))
            || strncmp(flags[k], "--outputs", 9) == 0)   /* predict: the values stored */
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
    return compile_model(p, trap_nan(nflags, flags), quick_code(work));
}

/* A command line asking for --trap-nan that the model was not compiled
 * for (cg_jit_compile's flags did not say) gets a second compilation. */
int cg_jit_main(CgJit *c, int argc, char **argv)
{
    if (!c->j.trap && trap_nan(argc - 1, argv + 1)) {
        CgJit *k = compile_model(c->p, 1, c->quick);
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

