/*
 * main.c - the nnc driver: parse, lower, differentiate, emit; every pass
 * called in order in compile().
 *
 *   nnc model.nn -o model.c [--lib] [-D NAME=VALUE] [--dtype f32|f64]
 *   nnc build model.nn -o model      emit C and compile it against libnnrt
 *   nnc check model.nn [flags]       finite-difference check in float64
 *   nnc explain model.nn --wrt W1    the chain rule with numbers (src/ad/explain.c)
 *   nnc --report model.nn            costs per line (src/ad/report.c)
 *   nnc run model.nn [train|init|grad|eval|check] [flags]
 *                                    compile in memory (LLVM JIT) and run the
 *                                    trainer's command (default train)
 *   nnc --emit=ast|ir|grad|llvm model.nn  print a stage
 *   nnc sweep ..., nnc compare ...   sweep.c, compare.c
 *   nnc help [COMMAND], nnc COMMAND --help   the usage (of one command)
 *
 * Output files are written to a temporary name and renamed into place, so a
 * failed compilation never leaves a half-written file behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ast.h"
#include "sema.h"
#include "ad.h"
#include "cache.h"
#include "codegen.h"
#include "compare.h"
#include "sweep.h"
#include "board.h"
#include "teach.h"

#define NNC_VERSION "0.1.0"

/* How `nnc build` compiles the generated C: optimised for this machine, or
 * (--portable) for any machine of the architecture.  -fopenmp-simd with
 * NNRT_SIMD lets the compiler vectorise sums over the batch (nnrt.h). */
#define NNC_CFLAGS_NATIVE "-O3 -march=native -fno-trapping-math -fopenmp-simd -DNNRT_SIMD"
#define NNC_CFLAGS_PORTABLE "-O3 -fno-trapping-math -fopenmp-simd -DNNRT_SIMD"

typedef struct Options {
    const char *cmd;        /* "compile", "build", "check", "explain", "run", "emit", "report" */
    const char *input;
    const char *output;
    const char *emit;       /* ast, ir, grad, llvm */
    int lib;
    int keep_c;
    int portable;           /* build: no -march=native */
    CgStyle style;          /* --style=fast|loops */
    DType dtype;
    Define defs[64];
    int ndefs;
    char **rest;            /* flags passed through to the trainer (check, run) */
    int nrest;
    ExplainOptions ex;      /* nnc explain */
    ExplainValue values[16];
} Options;

/* Where the documents are: docs/ of the build tree nnc runs from, or
 * PREFIX/share/doc/nnc after `make install` (found from the runtime's
 * directory, which is runtime/ or PREFIX/lib/nnc). */
static const char *docs_dir(char *buf, size_t len)
{
    const char *rt = cg_runtime_dir();
    size_t n = strlen(rt);
    if (n > 8 && strcmp(rt + n - 8, "/lib/nnc") == 0)
        snprintf(buf, len, "%.*s/share/doc/nnc", (int)(n - 8), rt);
    else if (n > 8 && strcmp(rt + n - 8, "/runtime") == 0)
        snprintf(buf, len, "%.*s/docs", (int)(n - 8), rt);
    else
        snprintf(buf, len, "docs");
    return buf;
}

/* The environment and the documents every usage names. */
static void usage_footer(FILE *f)
{
    char docs[PATH_MAX + 32];
    fprintf(f,
        "\n"
        "Environment:\n"
        "  CC               the C compiler of build and check (default cc)\n"
        "  NNC_CFLAGS       its flags; default (without -march=native with --portable):\n"
        "                   " NNC_CFLAGS_NATIVE "\n"
        "  NNC_RUNTIME      the directory of nnrt.h, libnnrt.a and nnc-jit.so (now %s)\n"
        "  NNC_CACHE_DIR    the compile cache (default $XDG_CACHE_HOME/nnc or ~/.cache/nnc);\n"
        "                   NNC_CACHE=off turns it off, NNC_CACHE_MAX_MB bounds it\n"
        "                   (default 1024; docs/cache.md)\n"
        "  NNC_DATASETS     directories (colon-separated) where the trainer looks for data\n"
        "                   files given by a relative name, before /usr/share/datasets\n"
        "  NNRT_THREADS     the trainer's threads (default: the CPUs; docs/trainer.md)\n"
        "\n"
        "Documentation in %s/:\n"
        "  tutorial.md (the course assignments step by step), language.md (the .nn\n"
        "  language), trainer.md (the trainer's commands, run directories, plots),\n"
        "  teaching.md (check, explain), readable.md (--style=loops, --emit=grad),\n"
        "  sweep.md, jit.md (nnc run), ir.md, ast.md, cache.md, performance.md\n",
        cg_runtime_dir(), docs_dir(docs, sizeof docs));
}

/* `nnc --help` and `nnc help`: every command in one line or two. */
static void usage(FILE *f)
{
    fprintf(f,
        "usage: nnc MODEL.nn -o MODEL.c [--lib] [-D NAME=VALUE]... [--dtype f32|f64]\n"
        "                 [--style=fast|loops]\n"
        "       nnc build MODEL.nn -o MODEL [-D ...] [--dtype ...] [--style ...] [--keep-c]\n"
        "                 [--portable]\n"
        "       nnc check MODEL.nn [-D ...] [--data D [--batch N]] [--params P] [--eps H]\n"
        "                 [--print[=W1,b1]]   finite differences vs. the backward pass, f64\n"
        "       nnc explain MODEL.nn --wrt 'W1[0,0]' [--lr 0.1] [--latex] [--params P.npz]\n"
        "                 [--x 0.5,0.5 --y 0.9 ...] [--digits 17]   the chain rule with numbers\n"
        "       nnc --report MODEL.nn [-D ...]   parameters, FLOPs, what the backward keeps\n"
        "       nnc run MODEL.nn [-D ...] [--dtype ...] [train|init|grad|eval|check] [trainer flags]\n"
        "       nnc sweep MODEL.nn -D depth=0..3 --set lr=0.1,0.01 --repeat 5 --jobs 2\n"
        "                 [--out DIR] [-- trainer flags]   train a grid, tabulate (docs/sweep.md)\n"
        "       nnc board DIR... [-o FILE]   one HTML page over the runs and sweeps in DIR\n"
        "                 (docs/board.md)\n"
        "       nnc compare RUN_DIR RUN_DIR... -o OUT   runs of train --log side by side:\n"
        "                 their curves in one figure, a table of final metrics\n"
        "       nnc --emit=ast|ir|grad|llvm MODEL.nn [-D ...]\n"
        "       nnc help [COMMAND] | --version | --help\n"
        "\n"
        "  -o FILE          output file (C source; with build, the trainer executable)\n"
        "  --lib            library form: MODEL.h and MODEL.c without main()\n"
        "  -D NAME=VALUE    override `const NAME` (repeatable)\n"
        "  --dtype f32|f64  floating-point type of the trainer (default f32)\n"
        "  --style=STYLE    fast (default): whole batches, GEMM; loops: one sample at a\n"
        "                   time, explicit loops over indices, to read (docs/readable.md)\n"
        "  --emit=STAGE     print the syntax tree, the IR, the adjoint program or LLVM IR\n"
        "  --portable       build: a trainer for any x86-64 (no -march=native)\n"
        "\n"
        "`nnc COMMAND --help` (or `nnc help COMMAND`) shows one command's usage.\n");
    usage_footer(f);
}

/* One command's usage: `nnc build --help`, `nnc help build`. */
typedef struct Command {
    const char *name;
    const char *usage;
} Command;

static const Command commands[] = {
    {"build",
     "usage: nnc build MODEL.nn -o MODEL [-D NAME=VALUE]... [--dtype f32|f64]\n"
     "                 [--style=fast|loops] [--keep-c] [--portable]\n"
     "\n"
     "Emits the C trainer of MODEL.nn and compiles it with $CC against the runtime\n"
     "(libnnrt.a); `./MODEL --help` then lists the trainer's commands (docs/trainer.md).\n"
     "\n"
     "  -o MODEL         the trainer executable\n"
     "  -D NAME=VALUE    override `const NAME` (repeatable)\n"
     "  --dtype f32|f64  floating-point type of the trainer (default f32)\n"
     "  --style=STYLE    fast (default) or loops: one sample at a time, to read\n"
     "  --keep-c         keep the generated C as MODEL.c\n"
     "  --portable       a trainer for any x86-64 (no -march=native)\n"},
    {"check",
     "usage: nnc check MODEL.nn [-D NAME=VALUE]... [--data D [--batch N]] [--params P.npz]\n"
     "                 [--eps H] [--entries N|all] [--print[=W1,b1]] [--style=fast|loops]\n"
     "\n"
     "Builds a float64 trainer of MODEL.nn and compares every gradient of the backward\n"
     "pass with central finite differences, on the model's `example` (or the samples of\n"
     "--data); a table of errors, exit status 1 when one is too large (docs/teaching.md).\n"
     "\n"
     "  --data D         the samples (a file or generator, as the trainer's --data)\n"
     "  --batch N        the first N samples of D\n"
     "  --params P.npz   at these parameters (default: the initialisers')\n"
     "  --eps H          the finite difference's step\n"
     "  --entries N|all  at most N entries of each larger parameter (default 2000)\n"
     "  --print[=W1,b1]  print every entry: backward, finite difference, relative error\n"
     "  --mode train     in train mode: noise and dropout drawn from --seed and each\n"
     "                   sample's index (default eval: their means)\n"},
    {"explain",
     "usage: nnc explain MODEL.nn --wrt PARAM|'PARAM[i,j]' [--lr RATE] [--latex]\n"
     "                 [--params P.npz] [--INPUT VALUES --TARGET VALUES ...] [-D ...]\n"
     "\n"
     "Prints the chain rule for the gradient of the loss with respect to PARAM (or one\n"
     "entry of it) on the model's `example`, with every number, in float64\n"
     "(docs/teaching.md).\n"
     "\n"
     "  --wrt W1[0,0]    the parameter, or one entry of it\n"
     "  --lr RATE        also show the SGD update of that entry\n"
     "  --latex          the same as LaTeX math\n"
     "  --params P.npz   at these parameters (default: the initialisers')\n"
     "  --x 0.5,0.5      a value for an input or target instead of the example's\n"
     "  --mode train     draw noise and dropout's masks (printed) as `./model predict\n"
     "                   --mode train` does for sample 0 (default eval: their means)\n"
     "  --seed N         the seed of those draws (default: the train block's)\n"},
    {"run",
     "usage: nnc run MODEL.nn [-D NAME=VALUE]... [--dtype f32|f64]\n"
     "               [train|init|grad|eval|check] [TRAINER FLAGS]\n"
     "\n"
     "Compiles MODEL.nn in memory with the LLVM JIT and runs the trainer's command\n"
     "(default train) with its flags, as `nnc build` and `./MODEL COMMAND` would\n"
     "(docs/jit.md).  `nnc run MODEL.nn --help` lists the trainer's commands and flags.\n"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

/* The usage of `nnc CMD`; sweep has its own (sweep.c). */
static int command_usage(FILE *f, const char *cmd)
{
    for (int k = 0; k < NCOMMANDS; k++)
        if (strcmp(commands[k].name, cmd) == 0) {
            fputs(commands[k].usage, f);
            usage_footer(f);
            return 0;
        }
    return -1;
}

/* `nnc help [COMMAND]`. */
static int help_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    /* the commands with a main of their own print their own usage */
    char *args[] = {argv[1], "--help", NULL};
    if (strcmp(argv[1], "sweep") == 0)
        return sweep_main(2, args);
    if (strcmp(argv[1], "compare") == 0)
        return compare_main(2, args);
    if (strcmp(argv[1], "board") == 0)
        return board_main(2, args);
    if (command_usage(stdout, argv[1]) == 0)
        return 0;
    fprintf(stderr, "nnc: error: no command '%s': the commands are build, check, explain, run, "
            "sweep, compare, board (and compiling, `nnc MODEL.nn -o MODEL.c`)\n", argv[1]);
    return 2;
}

/* A first argument that is no file but almost a command's name. */
static const char *misspelt_command(const char *a)
{
    static const char *const names[] = {"build", "check", "explain", "run", "sweep", "compare",
                                        "board", "help"};
    int n = (int)(sizeof names / sizeof names[0]);
    struct stat st;
    for (int k = 0; k < n; k++)
        if (strcmp(a, names[k]) == 0)
            return NULL;
    if (a[0] == '-' || strchr(a, '/') || strchr(a, '.') || stat(a, &st) == 0)
        return NULL;
    return diag_closest(a, names, n);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "nnc: error: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    int failed = ferror(f);   /* a directory opens, and its first read fails (EISDIR) */
    fclose(f);
    if (failed) {
        fprintf(stderr, "nnc: error: cannot read '%s': %s\n", path, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        fprintf(stderr, "nnc: error: '%s' is not a text file (it contains NUL bytes)\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int parse_define(Options *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *end;
    if (!eq || eq == arg) {
        fprintf(stderr, "nnc: error: -D expects NAME=VALUE, got '%s'\n", arg);
        return -1;
    }
    double x = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(x)) {
        fprintf(stderr, "nnc: error: -D %s: the value must be a finite number\n", arg);
        return -1;
    }
    if (o->ndefs == 64) {
        fprintf(stderr, "nnc: error: too many -D options\n");
        return -1;
    }
    o->defs[o->ndefs].name = strndup(arg, (size_t)(eq - arg));
    o->defs[o->ndefs].value = x;
    o->defs[o->ndefs].used = 0;
    o->ndefs++;
    return 0;
}

/* A flag of nnc explain: --wrt, --lr, --latex, --params, --digits, or --NAME VALUES
 * for an input or target of the model (checked against the model later). */
static int parse_explain_flag(Options *o, const char *a, const char *next, int *i)
{
    if (strcmp(a, "--latex") == 0) {
        o->ex.latex = 1;
        return 0;
    }
    if (!next) {
        fprintf(stderr, "nnc: error: %s needs a value\n", a);
        return -1;
    }
    ++*i;
    if (strcmp(a, "--wrt") == 0)
        o->ex.wrt = next;
    else if (strcmp(a, "--mode") == 0) {
        if (strcmp(next, "train") != 0 && strcmp(next, "eval") != 0) {
            fprintf(stderr, "nnc: error: --mode %s: expected train or eval\n", next);
            return -1;
        }
        o->ex.train = strcmp(next, "train") == 0;
    } else if (strcmp(a, "--seed") == 0)
        o->ex.seed = next;
    else if (strcmp(a, "--params") == 0)
        o->ex.params = next;
    else if (strcmp(a, "--lr") == 0) {
        char *end;
        o->ex.lr = strtod(next, &end);
        if (end == next || *end) {
            fprintf(stderr, "nnc: error: --lr %s: the learning rate must be a number\n", next);
            return -1;
        }
        o->ex.have_lr = 1;
    } else if (strcmp(a, "--digits") == 0) {
        char *end;
        long d = strtol(next, &end, 10);
        if (end == next || *end || d < 1 || d > 17) {
            fprintf(stderr, "nnc: error: --digits %s: a number of significant digits, 1 to 17\n",
                    next);
            return -1;
        }
        o->ex.digits = (int)d;
    } else if (o->ex.nvalues == 16) {
        fprintf(stderr, "nnc: error: too many sample values\n");
        return -1;
    } else {
        o->values[o->ex.nvalues].slot = a + 2;
        o->values[o->ex.nvalues].text = next;
        o->ex.nvalues++;
        o->ex.values = o->values;
    }
    return 0;
}

static int parse_args(Options *o, int argc, char **argv)
{
    int i = 1;
    o->cmd = "compile";
    if (argc > 1 && (strcmp(argv[1], "build") == 0 || strcmp(argv[1], "check") == 0 ||
                     strcmp(argv[1], "explain") == 0 || strcmp(argv[1], "run") == 0)) {
        o->cmd = argv[1];
        i = 2;
    }
    o->rest = malloc((size_t)argc * sizeof *o->rest);
    int run = strcmp(o->cmd, "run") == 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (run && o->input && strcmp(a, "-D") && strncmp(a, "-D", 2) && strcmp(a, "--dtype")) {
            /* nnc run: after the model, everything but -D and --dtype is the trainer's */
            if (strcmp(a, "--") != 0)
                o->rest[o->nrest++] = argv[i];
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc)
            o->output = argv[++i];
        else if (strcmp(a, "-D") == 0 && i + 1 < argc) {
            if (parse_define(o, argv[++i]) < 0)
                return -1;
        } else if (strncmp(a, "-D", 2) == 0 && a[2]) {
            if (parse_define(o, a + 2) < 0)
                return -1;
        } else if (strcmp(a, "--dtype") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "f32") == 0 || strcmp(t, "float32") == 0)
                o->dtype = DT_F32;
            else if (strcmp(t, "f64") == 0 || strcmp(t, "float64") == 0)
                o->dtype = DT_F64;
            else {
                fprintf(stderr, "nnc: error: --dtype is f32 or f64, not '%s'\n", t);
                return -1;
            }
        } else if (strncmp(a, "--emit=", 7) == 0) {
            o->emit = a + 7;
            if (strcmp(o->emit, "ast") && strcmp(o->emit, "ir") && strcmp(o->emit, "grad") &&
                strcmp(o->emit, "llvm")) {
                fprintf(stderr, "nnc: error: --emit takes ast, ir, grad or llvm, not '%s'\n",
                        o->emit);
                return -1;
            }
            o->cmd = "emit";
        } else if (strcmp(a, "--report") == 0) {
            o->cmd = "report";
        } else if (strncmp(a, "--style", 7) == 0 && (a[7] == '=' || (a[7] == '\0' && i + 1 < argc))) {
            const char *st = a[7] == '=' ? a + 8 : argv[++i];
            if (strcmp(st, "fast") == 0)
                o->style = CG_STYLE_FAST;
            else if (strcmp(st, "loops") == 0)
                o->style = CG_STYLE_LOOPS;
            else {
                fprintf(stderr, "nnc: error: --style is fast or loops, not '%s'\n", st);
                return -1;
            }
        } else if (i + 1 == argc && (strcmp(a, "-o") == 0 || strcmp(a, "-D") == 0 ||
                                     strcmp(a, "--dtype") == 0 || strcmp(a, "--style") == 0)) {
            fprintf(stderr, "nnc: error: %s needs a value\n", a);
            return -1;
        } else if (strcmp(a, "--lib") == 0)
            o->lib = 1;
        else if (strcmp(a, "--keep-c") == 0)
            o->keep_c = 1;
        else if (strcmp(a, "--portable") == 0)
            o->portable = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (command_usage(stdout, o->cmd) != 0)
                usage(stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("nnc %s\n", NNC_VERSION);
            exit(0);
        } else if (strcmp(o->cmd, "explain") == 0 && strncmp(a, "--", 2) == 0 && a[2]) {
            if (parse_explain_flag(o, a, i + 1 < argc ? argv[i + 1] : NULL, &i) < 0)
                return -1;
        } else if (a[0] == '-' && strcmp(o->cmd, "check") == 0) {
            /* the trainer's flags; all but these take a value, and --print
             * an optional one (--print W1,b1 as in `./model grad`), which
             * is never the model file */
            int bare = strcmp(a, "--print") == 0 || strcmp(a, "--quiet") == 0 ||
                       strcmp(a, "--no-ftz") == 0;
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            size_t len = next ? strlen(next) : 0;
            int is_model = len >= 3 && strcmp(next + len - 3, ".nn") == 0;
            int takes = strcmp(a, "--print") == 0 ? !is_model : !bare;
            o->rest[o->nrest++] = argv[i];
            if (takes && next && next[0] != '-' && !strchr(a, '='))
                o->rest[o->nrest++] = argv[++i];
        } else if (a[0] == '-') {
            static const char *const flags[] = {"-o", "-D", "--dtype", "--emit=ir", "--lib",
                                                "--keep-c", "--help", "--version", "--report",
                                                "--portable", "--style=loops"};
            const char *near = diag_closest(a, flags, (int)(sizeof flags / sizeof flags[0]));
            fprintf(stderr, "nnc: error: unknown option '%s'%s%s%s\n", a,
                    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            return -1;
        } else if (!o->input)
            o->input = a;
        else {
            fprintf(stderr, "nnc: error: more than one model file ('%s' and '%s')\n", o->input, a);
            return -1;
        }
    }
    if (!o->input) {
        if (command_usage(stderr, o->cmd) != 0)
            usage(stderr);
        return -1;
    }
    if (strcmp(o->cmd, "explain") == 0 && !o->ex.wrt) {
        fprintf(stderr, "nnc: error: nnc explain needs --wrt PARAM or --wrt 'PARAM[i,j]'\n");
        return -1;
    }
    /* (a model that cannot be read is reported as such, in main) */
    if ((strcmp(o->cmd, "compile") == 0 || strcmp(o->cmd, "build") == 0) && !o->output &&
        access(o->input, R_OK) == 0) {
        fprintf(stderr, "nnc: error: no output file: add -o %s\n",
                strcmp(o->cmd, "build") == 0 ? "MODEL" : "MODEL.c");
        return -1;
    }
    return 0;
}

/* Front to back: the IR with its adjoint programs, or NULL after errors. */
static IrProgram *compile(const Options *o, const char *src, Program **ast_out)
{
    Program *ast = ast_parse(o->input, src);
    *ast_out = ast;
    if (!ast || diag_error_count())
        return NULL;
    if (o->emit && strcmp(o->emit, "ast") == 0)
        return NULL;
    SemaOptions so = {(Define *)o->defs, o->ndefs, o->dtype};
    IrProgram *p = sema_lower(ast, src, &so);
    if (!p)
        return NULL;
    ad_differentiate(p);
    return p;
}

/* Write with `emit` to path via a temporary file, renamed on success. */
static int write_atomically(const char *path, void (*emit)(FILE *, const IrProgram *, const void *),
                            const IrProgram *p, const void *arg)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    emit(f, p, arg);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        fprintf(stderr, "nnc: error: writing '%s' failed: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void emit_c_file(FILE *f, const IrProgram *p, const void *arg)
{
    cg_emit_c(f, p, arg);
}

static void emit_h_file(FILE *f, const IrProgram *p, const void *arg)
{
    (void)arg;
    cg_emit_header(f, p);
}

/* Runs the program exe (found on PATH) with argv, whose argv[0] is the
 * name it goes by in its messages. */
static int run(const char *exe, char **argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(exe, argv);
        fprintf(stderr, "nnc: error: cannot run '%s': %s\n", exe, strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Adds to k the identity of the C compiler (the file PATH finds for cc:
 * its size and modification time) and of this CPU (/proc/cpuinfo's model
 * and flags, which -march=native compiles for). */
static void cc_identity(CgCacheKey *k, const char *cc)
{
    const char *path = strchr(cc, '/') ? "" : getenv("PATH");
    char exe[PATH_MAX + 256];
    struct stat st;
    int found = 0;
    if (!path)
        found = stat(cc, &st) == 0;
    for (const char *p = path; p && !found;) {
        size_t n = strcspn(p, ":");
        snprintf(exe, sizeof exe, "%.*s%s%s", (int)n, p, n ? "/" : "", cc);
        found = stat(exe, &st) == 0 && S_ISREG(st.st_mode);
        p = p[n] ? p + n + 1 : NULL;
    }
    cg_cache_add_str(k, cc);
    if (found) {
        long long id[2] = {(long long)st.st_size, (long long)st.st_mtime};
        cg_cache_add(k, id, sizeof id);
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    while (f && fgets(line, sizeof line, f) && line[0] != '\n')
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "flags", 5) == 0)
            cg_cache_add_str(k, line);
    if (f)
        fclose(f);
}

/* cc the generated C against the runtime, or take the trainer from the
 * compile cache (cache.h) when the same C was compiled before with the
 * same compiler, flags, runtime and CPU. */
static int cc_build(const char *csrc, const char *exe, int portable)
{
    const char *rt = cg_runtime_dir();
    char lib[PATH_MAX + 64], flagsfile[PATH_MAX + 64], inc[PATH_MAX + 64];
    snprintf(lib, sizeof lib, "%s/libnnrt.a", rt);
    snprintf(flagsfile, sizeof flagsfile, "%s/libnnrt.ldflags", rt);
    snprintf(inc, sizeof inc, "-I%s", rt);
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "nnc: error: the runtime library %s is missing (run make, or set "
                "NNC_RUNTIME)\n", lib);
        return -1;
    }
    char *argv[64];
    int n = 0;
    const char *cc = getenv("CC");
    argv[n++] = (char *)(cc && *cc ? cc : "cc");
    char *cflags = strdup(getenv("NNC_CFLAGS") ? getenv("NNC_CFLAGS")
                          : portable ? NNC_CFLAGS_PORTABLE : NNC_CFLAGS_NATIVE);
    for (char *t = strtok(cflags, " "); t && n < 40; t = strtok(NULL, " "))
        argv[n++] = t;
    argv[n++] = inc;
    argv[n++] = "-o";
    argv[n++] = (char *)exe;
    argv[n++] = (char *)csrc;
    argv[n++] = lib;
    static char ldflags[1024];
    FILE *f = fopen(flagsfile, "r");
    if (f) {
        if (!fgets(ldflags, sizeof ldflags, f))
            ldflags[0] = '\0';
        fclose(f);
    } else
        snprintf(ldflags, sizeof ldflags, "-lz -lm");
    for (char *t = strtok(ldflags, " \n"); t && n < 62; t = strtok(NULL, " \n"))
        argv[n++] = t;
    argv[n] = NULL;
    /* the key: every argument, with the files' contents for the temporary
     * C file's name and the runtime library's path, and nnrt.h */
    CgCacheKey k;
    int cache = cg_cache_dir() != NULL;
    if (cache) {
        char hdr[PATH_MAX + 64];
        snprintf(hdr, sizeof hdr, "%s/nnrt.h", rt);
        cg_cache_key(&k, "trainer");
        cc_identity(&k, argv[0]);
        for (int i = 1; i < n; i++)
            if (argv[i] == csrc || argv[i] == lib)
                cache &= cg_cache_add_file(&k, argv[i]) == 0;
            else if (argv[i] != exe)
                cg_cache_add_str(&k, argv[i]);
        cache &= cg_cache_add_file(&k, hdr) == 0;
    }
    if (cache && cg_cache_fetch(&k, "exe", exe) == 0) {
        free(cflags);
        return 0;
    }
    int rc = run(argv[0], argv);
    free(cflags);
    if (rc == 0 && cache)
        cg_cache_store(&k, "exe", exe);
    if (rc != 0) {
        /* with the user's own compiler or flags the fault may be theirs */
        int own = (cc && *cc) || getenv("NNC_CFLAGS");
        fprintf(stderr, "nnc: error: the C compiler failed on the generated code (status %d)%s\n",
                rc, rc == 127 ? "" : own ? "; check CC and NNC_CFLAGS, else this is a bug in nnc"
                : "; this is a bug in nnc, please report it");
        return -1;
    }
    return 0;
}

static int build(const IrProgram *p, const char *exe, int keep_c, int portable, CgStyle style)
{
    /* the C goes beside the trainer: a directory that cannot take it is
     * reported for the trainer asked for, not for a temporary file */
    const char *slash = strrchr(exe, '/');
    char *dir = slash ? strndup(exe, slash == exe ? 1 : (size_t)(slash - exe)) : strdup(".");
    int err = access(dir, W_OK | X_OK) == 0 ? 0 : errno;
    free(dir);
    struct stat st;
    if (!err && stat(exe, &st) == 0 && S_ISDIR(st.st_mode))
        err = EISDIR;   /* the linker's own message blamed nnc */
    if (err) {
        fprintf(stderr, "nnc: error: cannot write '%s': %s\n", exe, strerror(err));
        return -1;
    }
    size_t n = strlen(exe) + 32;
    char *csrc = malloc(n);
    if (keep_c)
        snprintf(csrc, n, "%s.c", exe);
    else
        snprintf(csrc, n, "%s.nnc%ld.c", exe, (long)getpid());
    CgOptions co = {0, NULL, style};
    int rc = write_atomically(csrc, emit_c_file, p, &co);
    if (rc == 0 && cc_build(csrc, exe, portable) != 0) {
        /* the compiler's messages name the C file: it stays */
        fprintf(stderr, "nnc: note: the generated C is kept in %s\n", csrc);
        keep_c = 1;
        rc = -1;
    }
    if (!keep_c)
        remove(csrc);
    free(csrc);
    return rc;
}

/* nnc check: build a float64 trainer in a temporary directory and run its
 * `check` command (finite differences against the adjoint program). */
static int check(const Options *o, const IrProgram *p)
{
    char dir[] = "/tmp/nnc-check-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "nnc: error: cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    char exe[sizeof dir + 16];
    snprintf(exe, sizeof exe, "%s/model", dir);
    int rc = build(p, exe, 0, 0, o->style) == 0 ? 0 : 1;
    if (rc == 0) {
        /* the trainer is named as the user called it, not by its
         * temporary path ("see nnc check m.nn --help") */
        char **argv = malloc((size_t)(o->nrest + 3) * sizeof *argv);
        char prog[PATH_MAX];
        int n = 0;
        snprintf(prog, sizeof prog, "nnc check %s", o->input);
        argv[n++] = prog;
        argv[n++] = "check";
        for (int i = 0; i < o->nrest; i++)
            argv[n++] = o->rest[i];
        argv[n] = NULL;
        rc = run(exe, argv);
        free(argv);
    }
    remove(exe);
    rmdir(dir);
    return rc;
}

/* nnc run: the trainer's command line on the JIT-compiled model.  The
 * command defaults to train; the program name in messages is the model's. */
static int jit_run(const Options *o, const IrProgram *p)
{
    char **argv = malloc((size_t)(o->nrest + 3) * sizeof *argv);
    int n = 0;
    char prog[256];
    snprintf(prog, sizeof prog, "nnc run %s", o->input);
    argv[n++] = prog;
    static const char *const cmds[] = {"train", "init", "grad", "eval", "check", "help",
                                       "--help", "-h", "--version"};
    int has_cmd = 0;
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0] && o->nrest > 0; k++)
        has_cmd |= strcmp(o->rest[0], cmds[k]) == 0;
    if (o->nrest > 0 && o->rest[0][0] != '-')
        has_cmd = 1;   /* a misspelt command: the runtime suggests the right one */
    if (!has_cmd)
        argv[n++] = "train";
    for (int i = 0; i < o->nrest; i++)
        argv[n++] = o->rest[i];
    argv[n] = NULL;
    int rc = cg_jit_run(p, n, argv);
    free(argv);
    return rc;
}

int main(int argc, char **argv)
{
    Options o;
    memset(&o, 0, sizeof o);
    if (argc > 1 && strcmp(argv[1], "sweep") == 0)
        return sweep_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "board") == 0)
        return board_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "compare") == 0)
        return compare_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "help") == 0)
        return help_main(argc - 1, argv + 1);
    const char *near = argc > 1 ? misspelt_command(argv[1]) : NULL;
    if (near) {
        fprintf(stderr, "nnc: error: unknown command '%s' (did you mean '%s'?); see nnc --help\n",
                argv[1], near);
        return 2;
    }
    if (parse_args(&o, argc, argv) < 0)
        return 2;
    if (strcmp(o.cmd, "check") == 0 || strcmp(o.cmd, "explain") == 0)
        o.dtype = DT_F64;
    size_t len;
    char *src = read_file(o.input, &len);
    if (!src)
        return 1;
    Program *ast = NULL;
    IrProgram *p = compile(&o, src, &ast);
    int rc = 0;
    if (o.emit && strcmp(o.emit, "ast") == 0 && ast && diag_error_count() == 0)
        ast_print(stdout, ast);
    else if (!p)
        rc = 1;
    else if (strcmp(o.cmd, "emit") == 0) {
        if (strcmp(o.emit, "ir") == 0)
            ir_print(stdout, p);
        else if (strcmp(o.emit, "llvm") == 0)
            rc = cg_emit_llvm(stdout, p) == 0 ? 0 : 1;
        else
            ir_print_grad(stdout, p);
    } else if (strcmp(o.cmd, "build") == 0)
        rc = build(p, o.output, o.keep_c, o.portable, o.style) == 0 ? 0 : 1;
    else if (strcmp(o.cmd, "check") == 0)
        rc = check(&o, p);
    else if (strcmp(o.cmd, "explain") == 0)
        rc = explain_run(stdout, p, &o.ex);
    else if (strcmp(o.cmd, "report") == 0)
        report_print(stdout, p);
    else if (strcmp(o.cmd, "run") == 0)
        rc = jit_run(&o, p);
    else {
        CgOptions co = {o.lib, NULL, o.style};
        char *hdr = NULL;
        if (o.lib) {
            size_t n = strlen(o.output) + 3;
            hdr = malloc(n);
            snprintf(hdr, n, "%s", o.output);
            char *dot = strrchr(hdr, '.');
            if (dot && strcmp(dot, ".c") == 0)
                *dot = '\0';
            strcat(hdr, ".h");
            const char *slash = strrchr(hdr, '/');
            co.header = slash ? slash + 1 : hdr;
            if (write_atomically(hdr, emit_h_file, p, NULL) < 0)
                rc = 1;
        }
        if (rc == 0 && write_atomically(o.output, emit_c_file, p, &co) < 0)
            rc = 1;
        free(hdr);
    }
    if (rc != 0 && diag_error_count() > 0)
        fprintf(stderr, "%d error%s generated.\n", diag_error_count(),
                diag_error_count() == 1 ? "" : "s");
    ir_free(p);
    ast_free(ast);
    free(src);
    for (int i = 0; i < o.ndefs; i++)
        free((char *)o.defs[i].name);
    free(o.rest);
    return rc;
}
