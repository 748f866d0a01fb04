/*
 * fuzz_harness.h - what each fuzz target does with one input, shared by the
 * libFuzzer targets (tests/fuzz/fuzz_target.c, `make fuzz`) and by the unit
 * test that replays the seed corpus and every saved crash
 * (tests/unit/check_npz.c, `make test`).
 *
 * A target is a parser of the runtime and the file name it is handed, which
 * is the extension hint the format detection uses (common_files.c):
 *
 *   npy     x.npy                   in memory (nnrt_file_parse)
 *   npz     x.npz                   written to a file (nnrt_file_open: npz is read on demand)
 *   pickle  x.pkl                   in memory
 *   idx     x-idx3-ubyte.gz         written to a file (so gzip is undone first)
 *   csv     x.csv                   in memory
 *   cifar   data_batch_1.bin        in memory
 *   settings                        the first line a key, the rest its value
 *                                   (nnrt_config_set, then nnrt_source_spec for sources)
 *   nn      x.nn                    a model: parsed, checked, lowered and differentiated
 *                                   (ast_parse, sema_lower, ad_differentiate)
 *   cc      x.nn                    a model as nn; one the compiler accepts is then written
 *                                   as C in both styles (cg_emit_c) and given to cc
 *                                   -fsyntax-only against runtime/nnrt.h (under $ROOT,
 *                                   else the current directory): C that does not compile
 *                                   is a failure, as it is for `nnc build`
 *   bind    x.dat                   a data file of any format written to a file and bound
 *                                   to two small models the ways the trainer binds data
 *                                   (by name, files(...) with pick, a transpose, stack,
 *                                   scaling) and parameters (--params): shapes and counts
 *                                   stated by the file against the model's
 *
 * For the file targets every array found is then read and converted as the
 * trainer does (header, read, byte order, Fortran order, to double), and,
 * where the format allows, its middle third of samples read alone must give
 * the same values (nnrt_file_read_rows: an MPI rank's share).  An
 * input passes when it is read or refused with a message that begins with
 * the file's name; fuzz_one() returns 0 then, else -1 with why in e.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include "ad.h"
#include "ast.h"
#include "codegen.h"
#include "diag.h"
#include "ir.h"
#include "nnrt_internal.h"
#include "sema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum FuzzKind {
    FUZZ_MEMORY, FUZZ_DISK, FUZZ_SETTINGS, FUZZ_MODEL, FUZZ_MODEL_CC, FUZZ_BIND
} FuzzKind;

typedef struct FuzzTarget {
    const char *name;
    const char *file;       /* the name the bytes are given */
    FuzzKind kind;          /* DISK: written to a temporary file and opened */
} FuzzTarget;

static const FuzzTarget fuzz_targets[] = {
    { "npy", "x.npy", FUZZ_MEMORY },
    { "npz", "x.npz", FUZZ_DISK },
    { "pickle", "x.pkl", FUZZ_MEMORY },
    { "idx", "x-idx3-ubyte.gz", FUZZ_DISK },
    { "csv", "x.csv", FUZZ_MEMORY },
    { "cifar", "data_batch_1.bin", FUZZ_MEMORY },
    { "settings", "settings", FUZZ_SETTINGS },
    { "nn", "x.nn", FUZZ_MODEL },
    { "cc", "x.nn", FUZZ_MODEL_CC },
    { "bind", "x.dat", FUZZ_BIND },
};
#define FUZZ_NTARGETS ((int)(sizeof fuzz_targets / sizeof fuzz_targets[0]))

static volatile double fuzz_sink;   /* the values read, so no read is optimised away */

/* A message is well formed when it starts with "PREFIX: " and is not empty after it. */
static int fuzz_msg_ok(const char *msg, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(msg, prefix, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ' && msg[n + 2];
}

/* The middle third of array i's samples read alone, where the format
 * allows (nnrt_file_read_rows: a seek past the others, as an MPI rank
 * reads its share): the same values as those rows of the whole array a;
 * -1 with why in e when not. */
static int fuzz_rows(NnrtFile *f, int i, const char *path, const NnrtArray *a, NnrtErr *e)
{
    if (a->h.rank == 0 || a->h.shape[0] == 0)
        return 0;
    int64_t lo = a->h.shape[0] / 3, hi = a->h.shape[0] - lo;
    NnrtArray part;
    int r = nnrt_file_read_rows(f, i, lo, hi, &part, e);
    if (r > 0)
        return 0;   /* the format reads whole */
    if (r < 0) {
        char got[300];
        snprintf(got, sizeof got, "%.280s", e->msg);
        return nnrt_err(e, "%s: read whole, but refused by rows: %s", path, got);
    }
    size_t row = (size_t)(a->h.count / a->h.shape[0]) * (size_t)a->h.itemsize;
    int same = part.h.shape[0] == hi - lo && part.h.count * a->h.shape[0] == a->h.count * (hi - lo) &&
               memcmp(part.data, (const char *)a->data + (size_t)lo * row, (size_t)(hi - lo) * row) == 0;
    nnrt_array_free(&part);
    if (!same)
        return nnrt_err(e, "%s: samples %lld to %lld read alone differ from the whole array's",
                        path, (long long)lo, (long long)hi);
    return 0;
}

/* Reads every array of an opened file the way the trainer does; -1 when
 * one is refused with a message that does not name the file.  *all_read
 * is cleared when an array is refused. */
static int fuzz_read_all(NnrtFile *f, const char *path, int *all_read, NnrtErr *e)
{
    char list[512], what[1200];
    nnrt_file_list(f, list, sizeof list);
    for (int i = 0; i < nnrt_file_count(f); i++) {
        nnrt_file_what(f, i, what, sizeof what);
        if (!nnrt_file_usable(f, i))
            continue;
        NnrtNpyHeader h;
        NnrtArray a;
        if (nnrt_file_header(f, i, &h, e) != 0 || nnrt_file_read(f, i, &a, e) != 0) {
            *all_read = 0;
            if (!fuzz_msg_ok(e->msg, path))
                return -1;
            continue;
        }
        if (fuzz_rows(f, i, path, &a, e) != 0) {
            nnrt_array_free(&a);
            return -1;
        }
        double *v = NULL;
        if (nnrt_array_to_f64(&a, &v, e) == 0) {
            for (int64_t k = 0; k < a.h.count; k++)
                fuzz_sink += v[k];
            free(v);
        }
        nnrt_array_free(&a);
    }
    return 0;
}

static int fuzz_settings(const uint8_t *data, size_t size, int *all_read, NnrtErr *e)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *key = text, *value = "";
    if (nl) {
        *nl = '\0';
        value = nl + 1;
    }
    NnrtConfig c;
    char err[512] = "";
    nnrt_config_default(&c);
    if (nnrt_config_set(&c, key, value, 1, err, sizeof err) == 0) {
        NnrtSpec *spec = NULL;
        NnrtSource *src = strcmp(key, "test") == 0 ? &c.test : &c.data;
        if (src->kind == NNRT_SRC_FILE && nnrt_source_spec(src, &spec, err, sizeof err) == 0)
            nnrt_spec_free(spec);
        char buf[2048];
        nnrt_source_describe(src, buf, sizeof buf);
    } else {
        *all_read = 0;
        if (!err[0]) {
            nnrt_err(e, "settings: '%.100s' refused without a message", key);
            free(text);
            return -1;
        }
        nnrt_err(e, "settings: %s", err);
    }
    free(text);
    return 0;
}

/* The C of p in both styles, each compiled by cc -fsyntax-only (as
 * `nnc build` compiles it, but only checked): 0 when both compile, else -1
 * with the compiler's first error in e. */
static int fuzz_cc(const IrProgram *p, NnrtErr *e)
{
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    char c[256], log[300], cmd[2048];
    snprintf(c, sizeof c, "%s/nnc-fuzz-%ld.c", dir, (long)getpid());
    snprintf(log, sizeof log, "%s.log", c);
    static const CgStyle styles[] = { CG_STYLE_FAST, CG_STYLE_LOOPS };
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(c, "w");
        if (!f)
            return 0;              /* nothing to test without a file */
        CgOptions opt = { 0, NULL, styles[k] };
        cg_emit_c(f, p, &opt);
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s -fsyntax-only -std=c11 -I'%s/runtime' '%s' >'%s' 2>&1",
                 cc, root, c, log);
        int rc = system(cmd);
        if (rc != 0) {
            char first[400] = "";
            FILE *l = fopen(log, "r");
            while (l && fgets(first, sizeof first, l) && !strstr(first, "error"))
                ;
            if (l)
                fclose(l);
            first[strcspn(first, "\n")] = '\0';
            nnrt_err(e, "x.nn: accepted, but its C (%s) does not compile (status %d): %s",
                     k ? "--style=loops" : "the default style", rc, first);
            unlink(log);
            return -1;             /* the C is kept for a look */
        }
    }
    unlink(c);
    unlink(log);
    return 0;
}

/* A model through the compiler's front half; diagnostics go to /dev/null.
 * The compiler reports errors itself (and aborts on its own bugs), so any
 * return is a pass, unless cc is set and the C of a model the compiler
 * accepted does not compile (fuzz_cc); *all_read tells whether the model
 * compiled. */
static int fuzz_model(const uint8_t *data, size_t size, int *all_read, int cc, NnrtErr *e)
{
    static FILE *null;
    if (!null && !(null = fopen("/dev/null", "w")))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    diag_set_stream(null);
    diag_reset();
    Program *ast = ast_parse("x.nn", text);
    IrProgram *p = NULL;
    if (ast && diag_error_count() == 0) {
        SemaOptions so = { NULL, 0, DT_F32 };
        if ((p = sema_lower(ast, text, &so)))
            ad_differentiate(p);
    }
    *all_read = p != NULL && diag_error_count() == 0;
    int r = cc && *all_read ? fuzz_cc(p, e) : 0;
    if (p)
        ir_free(p);
    ast_free(ast);
    diag_set_stream(stderr);
    free(text);
    return r;
}

/* The models data is bound to: x[2], y[1] with parameters W[2, 2], b[2];
 * img[2, 3] and c : class(3). */
static const NnrtSlot fuzz_slots_xy[] = {
    { "x", NNRT_INPUT, 1, { 2 }, 2, 0, 0, 0 },
    { "y", NNRT_TARGET, 1, { 1 }, 1, 0, 0, 0 },
};
static const NnrtSlot fuzz_slots_img[] = {
    { "img", NNRT_INPUT, 2, { 2, 3 }, 6, 0, 0, 0 },
    { "c", NNRT_TARGET, 0, { 0 }, 1, 3, 0, 0 },
};
static const NnrtParam fuzz_params[] = {
    { "W", 2, { 2, 2 }, 4, 0, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, "x.nn:3" },
    { "b", 1, { 2 }, 2, 4, 0, 0, { NNRT_INIT_ZEROS, 0, 0, NULL, NULL, NULL }, "x.nn:4" },
};

/* Binds the file at path every way the trainer can; *all_read tells
 * whether the plain binding by name to x, y worked. */
static int fuzz_bind(const char *path, int *all_read, NnrtErr *e)
{
    static const struct { int img; const char *spec; } ways[] = {
        { 0, "\"%s\"" },
        { 1, "\"%s\"" },
        { 0, "files(x = \"%s\"', y = pick(\"%s\", \"y\"))" },
        { 0, "files(x = pick(\"%s\", \"x\") * 1e30 - 1, y = [\"%s\", \"%s\"])" },
        { 1, "files(img = stack(pick(\"%s\", \"*\")), c = pick(\"%s\", \"c\"))" },
        { 1, "files(img = stack(\"%s\") / 255, c = \"%s\")" },
    };
    NnrtModel m;
    memset(&m, 0, sizeof m);
    m.name = "x";
    m.dtype = NNRT_DTYPE_NAME;
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        char spec[1024], err[512] = "";
        snprintf(spec, sizeof spec, ways[w].spec, path, path, path);
        m.slots = ways[w].img ? fuzz_slots_img : fuzz_slots_xy;
        m.nslots = 2;
        NnrtConfig c;
        NnrtData d;
        nnrt_config_default(&c);
        if (nnrt_config_set(&c, "data", spec, 1, err, sizeof err) != 0)
            return nnrt_err(e, "bind: the harness's own spec %s was refused: %s", spec, err);
        e->msg[0] = '\0';
        int r = nnrt_data_load(&d, &m, &c.data, e);
        if (r == 0)
            nnrt_data_free(&d);
        else if (!fuzz_msg_ok(e->msg, path) && strncmp(e->msg, "files(", 6) != 0)
            return -1;
        if (w == 0)
            *all_read = r == 0;
    }
    nnrt_real params[6];
    m.params = fuzz_params;
    m.nparams = 2;
    m.nparam_total = 6;
    e->msg[0] = '\0';
    if (nnrt_params_load(&m, params, path, e) != 0 && !fuzz_msg_ok(e->msg, path))
        return -1;
    return 0;
}

/* Runs target t on one input; 0 when it was read or refused properly.
 * all_read (may be NULL) tells whether it was read without any error. */
static int fuzz_one(const FuzzTarget *t, const uint8_t *data, size_t size, int *all_read,
                    NnrtErr *e)
{
    int ignored;
    if (!all_read)
        all_read = &ignored;
    *all_read = 1;
    e->msg[0] = '\0';
    if (t->kind == FUZZ_SETTINGS)
        return fuzz_settings(data, size, all_read, e);
    if (t->kind == FUZZ_MODEL || t->kind == FUZZ_MODEL_CC)
        return fuzz_model(data, size, all_read, t->kind == FUZZ_MODEL_CC, e);
    NnrtFile *f = NULL;
    char path[256];
    int r;
    if (t->kind == FUZZ_DISK || t->kind == FUZZ_BIND) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/nnc-fuzz-%ld-%s", dir, (long)getpid(), t->file);
        FILE *fp = fopen(path, "wb");
        if (!fp) {
            *all_read = 0;
            return 0;              /* nothing to test without a file */
        }
        size_t put = fwrite(data, 1, size, fp);
        fclose(fp);
        if (put != size) {
            unlink(path);
            *all_read = 0;
            return 0;
        }
        if (t->kind == FUZZ_BIND) {
            r = fuzz_bind(path, all_read, e);
            unlink(path);
            if (r != 0) {
                char got[300];
                snprintf(got, sizeof got, "%.280s", e->msg);
                nnrt_err(e, "%s: refused without a message naming the file (found \"%s\")",
                         t->file, got);
            }
            return r;
        }
        r = nnrt_file_open(&f, path, e);
    } else {
        snprintf(path, sizeof path, "%s", t->file);
        r = nnrt_file_parse(path, data, size, &f, e);
    }
    if (r == 0) {
        r = fuzz_read_all(f, path, all_read, e);
        nnrt_file_close(f);
    } else {
        *all_read = 0;
        r = fuzz_msg_ok(e->msg, path) ? 0 : -1;
    }
    if (r != 0) {
        char got[300];
        snprintf(got, sizeof got, "%.280s", e->msg);
        nnrt_err(e, "%s: refused without a message naming the file (found \"%s\")",
                 t->file, got);
    }
    if (t->kind == FUZZ_DISK)
        unlink(path);
    return r;
}

#endif
