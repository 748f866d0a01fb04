/*
 * jit_load.c - the LLVM backend's functions of codegen.h, loaded on first
 * use from nnc-jit.so (jit_llvm.c and the whole runtime, linked against
 * libLLVM and the BLAS; see the Makefile).  Keeping LLVM out of nnc itself
 * keeps the plain compilation fast: loading libLLVM costs ~20 ms.
 *
 * Each function here calls the function of the same name in the shared
 * object, found with dlsym on the object's handle.  The object is opened
 * with RTLD_GLOBAL, so the JIT's code finds the runtime (nnrt_gemm_f32) in
 * the process; it takes the compiler's functions (plan.c, ir.c) from nnc,
 * which is linked with -rdynamic.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen.h"

const char *cg_runtime_dir(void)
{
    static char dir[PATH_MAX + 32];
    const char *env = getenv("NNC_RUNTIME");
    if (env && *env)
        return env;
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return "runtime";
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* the build tree's runtime/, else where `make install` puts it:
     * PREFIX/bin/nnc finds PREFIX/lib/nnc */
    snprintf(dir, sizeof dir, "%s/runtime", exe);
    slash = strrchr(exe, '/');
    if (access(dir, F_OK) != 0 && slash && strcmp(slash, "/bin") == 0)
        snprintf(dir, sizeof dir, "%.*s/lib/nnc", (int)(slash - exe), exe);
    return dir;
}

#ifdef NNC_LLVM

/* The shared object's handle; NULL until loaded or when it cannot be.
 * quiet: say nothing when it cannot be loaded (cg_jit_available). */
static void *jit_object(int quiet)
{
    static void *handle;
    static int tried;
    static char why[PATH_MAX + 512];
    if (!tried) {
        tried = 1;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/nnc-jit.so", cg_runtime_dir());
        handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!handle)
            snprintf(why, sizeof why, "%s", dlerror());
    }
    if (!handle && !quiet)
        fprintf(stderr, "nnc: error: cannot load the LLVM JIT: %s\n"
                "  (it is built by `make` beside the runtime; NNC_RUNTIME says where)\n", why);
    return handle;
}

static void *jit_fn(const char *name)
{
    void *h = jit_object(0);
    void *f = h ? dlsym(h, name) : NULL;
    if (h && !f)
        fprintf(stderr, "nnc: error: the LLVM JIT has no %s: %s\n", name, dlerror());
    return f;
}

/* A function pointer of the shared object's function of this name */
#define JIT_FN(type, name) ((type)(uintptr_t)jit_fn(name))

int cg_jit_available(void)
{
    return jit_object(1) != NULL;
}

int cg_emit_llvm(FILE *f, const IrProgram *p)
{
    int (*fn)(FILE *, const IrProgram *) = JIT_FN(int (*)(FILE *, const IrProgram *), "cg_emit_llvm");
    return fn ? fn(f, p) : -1;
}

int cg_jit_run(const IrProgram *p, int argc, char **argv)
{
    int (*fn)(const IrProgram *, int, char **) =
        JIT_FN(int (*)(const IrProgram *, int, char **), "cg_jit_run");
    return fn ? fn(p, argc, argv) : 1;
}

CgJit *cg_jit_compile(const IrProgram *p, int nflags, char **flags, double work)
{
    CgJit *(*fn)(const IrProgram *, int, char **, double) =
        JIT_FN(CgJit *(*)(const IrProgram *, int, char **, double), "cg_jit_compile");
    return fn ? fn(p, nflags, flags, work) : NULL;
}

double cg_jit_work(const IrProgram *p, int nflags, char **flags)
{
    double (*fn)(const IrProgram *, int, char **) =
        JIT_FN(double (*)(const IrProgram *, int, char **), "cg_jit_work");
    return fn ? fn(p, nflags, flags) : -1;
}

int cg_jit_main(CgJit *jit, int argc, char **argv)
{
    int (*fn)(CgJit *, int, char **) = JIT_FN(int (*)(CgJit *, int, char **), "cg_jit_main");
    return fn ? fn(jit, argc, argv) : 1;
}

void cg_jit_free(CgJit *jit)
{
    void (*fn)(CgJit *) = jit ? JIT_FN(void (*)(CgJit *), "cg_jit_free") : NULL;
    if (fn)
        fn(jit);
}

int cg_jit_cached(const CgJit *jit)
{
    int (*fn)(const CgJit *) = JIT_FN(int (*)(const CgJit *), "cg_jit_cached");
    return fn ? fn(jit) : 0;
}

int cg_jit_quick(const CgJit *jit)
{
    int (*fn)(const CgJit *) = JIT_FN(int (*)(const CgJit *), "cg_jit_quick");
    return fn ? fn(jit) : 0;
}

#else   /* built without LLVM */

static void no_llvm(void)
{
    fprintf(stderr, "nnc: error: this nnc was built without LLVM, which `nnc run` and "
            "--emit=llvm need.\n"
            "  Install it (Debian: apt-get install llvm-dev, or scripts/deps.sh) and rebuild "
            "with `make`;\n"
            "  or build a trainer with the C backend: nnc build MODEL.nn -o MODEL\n");
}

int cg_jit_available(void) { return 0; }

int cg_emit_llvm(FILE *f, const IrProgram *p)
{
    (void)f;
    (void)p;
    no_llvm();
    return -1;
}

int cg_jit_run(const IrProgram *p, int argc, char **argv)
{
    (void)p;
    (void)argc;
    (void)argv;
    no_llvm();
    return 1;
}

CgJit *cg_jit_compile(const IrProgram *p, int nflags, char **flags, double work)
{
    (void)p;
    (void)nflags;
    (void)flags;
    (void)work;
    no_llvm();
    return NULL;
}

double cg_jit_work(const IrProgram *p, int nflags, char **flags)
{
    (void)p;
    (void)nflags;
    (void)flags;
    return -1;
}

int cg_jit_main(CgJit *jit, int argc, char **argv)
{
    (void)jit;
    (void)argc;
    (void)argv;
    no_llvm();
    return 1;
}

void cg_jit_free(CgJit *jit)
{
    (void)jit;
}

int cg_jit_cached(const CgJit *jit)
{
    (void)jit;
    return 0;
}

int cg_jit_quick(const CgJit *jit)
{
    (void)jit;
    return 0;
}

#endif
