/*
 * nnrt_internal.h - declarations shared between the runtime's own files.
 *
 * Generated code never includes this header; the unit tests do.  The first
 * half is built once (runtime/common_*.c: errors, paths, RNG, npy/npz,
 * settings) and never mentions nnrt_real.  The second half is built twice
 * (runtime/nnrt_*.c, once per nnrt_real) and every name in it is renamed per
 * variant with NNRT_FN, exactly as nnrt.h does for nnrt_main, so the float
 * and double copies live side by side in libnnrt.a.
 *
 * Errors travel as an NnrtErr filled by the function that failed, in the one
 * format the runtime uses: "FILE: what is wrong (expected ..., found ...)".
 * Functions return 0 on success and -1 after filling the NnrtErr.
 */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include "nnrt.h"

#include <stdio.h>

/* ===================== common part (no nnrt_real) ===================== */

/* ---- errors and small helpers (common_util.c) ---- */

typedef struct NnrtErr {
    char msg[2048];
} NnrtErr;

/* Fills e (when not NULL) and returns -1, so `return nnrt_err(e, ...)`. */
int nnrt_err(NnrtErr *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

char *nnrt_strdup(const char *s);

/* Copies in to out (len bytes with the NUL), control characters and bytes
 * that are not UTF-8 text written as \xHH.  nnrt_err() applies it to every
 * message, since names in data files (npz members, CSV headers, pickle
 * keys) reach the terminal through them. */
void nnrt_escape(char *out, size_t len, const char *in);

/* A name of len bytes (not NUL-terminated); at is set by nnrt_find_repeat. */
typedef struct NnrtName {
    const char *s;
    size_t len;
    int at;
} NnrtName;

/* The index of the first name that equals an earlier one in names[0..n),
 * or -1 (O(n log n), for files with many arrays). */
int nnrt_find_repeat(const NnrtName *names, int n);
int nnrt_ends_with(const char *s, const char *suffix);

/* The Levenshtein distance of a and b, ignoring case. */
int nnrt_edit_distance(const char *a, const char *b);

/* The candidate nearest to word when it is a plausible misspelling (at most
 * 2 edits, and fewer than half of word's letters), else NULL. */
const char *nnrt_closest(const char *word, const char *const *cands, int n);

/* Appends " (did you mean 'X'?)" to buf when a candidate is close. */
void nnrt_did_you_mean(char *buf, size_t len, const char *word,
                       const char *const *cands, int n);

/* An input file's path: as given when it exists relative to the current
 * directory (or is absolute), else relative to the directory of `source`
 * (the model's .nn file), else relative to a data set directory (each of
 * $NNC_DATASETS, colon-separated, then /usr/share/datasets, where Debian's
 * dataset-* packages install) when it exists there; otherwise as given. */
void nnrt_resolve_input(const char *path, const char *source, char *out, size_t outlen);

/* The files a name stands for: a name with wildcards (* ? [) expands, in
 * sorted order, within the first of the directories above where it matches
 * anything; a plain name resolves as nnrt_resolve_input does.  *paths and
 * each string in it are malloc'ed (free with nnrt_free_paths). */
int nnrt_resolve_glob(const char *pattern, const char *source, char ***paths, int *n,
                      NnrtErr *e);
void nnrt_free_paths(char **paths, int n);

/* mkdir -p. */
int nnrt_mkdir_p(const char *dir, NnrtErr *e);

/* 0 when an output file may be renamed over path: nothing is there, or a
 * regular file; else -1 (a device, a symbolic link, a directory, ...). */
int nnrt_output_check(const char *path, NnrtErr *e);
/* Opens part (PATH.part) for writing: a regular file (a stale one is
 * truncated), never through a symbolic link.  NULL and e (naming path)
 * on failure. */
FILE *nnrt_open_part(const char *path, const char *part, NnrtErr *e);

/* Seconds on a monotonic clock. */
double nnrt_now(void);

/* nnrt_num_text: in nnrt.h (the compiler writes numbers with it too) */
/* %.{digits}g of x (digits 1..17) into buf (at least 32 bytes), exactly as
 * printf would; -1 (buf undefined) where it cannot, and snprintf must. */
int nnrt_fmt_g(char *buf, double x, int digits);

/* Before a hot loop of the runtime (optimizers, GEMM kernel, transposes):
 * compiled twice, for AVX2 and for the baseline of the architecture, and
 * the version the CPU supports is chosen when the program starts (an
 * ifunc), so one libnnrt.a is fast on this machine and still runs on any
 * x86-64.  The loops compute element by element in the same order in
 * both, so both give the same bits (no FMA contraction: -std=c11). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define NNRT_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define NNRT_KERNEL
#endif
/* The same for the blocked GEMM's micro-kernel, with FMA: its sums are
 * rounded differently from the plain loops' anyway (nnrt_gemm.c is built
 * with -ffp-contract=fast). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define NNRT_KERNEL_FMA __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NNRT_KERNEL_FMA
#endif
/* A kernel's version for AVX-512 (x86-64-v4), where it differs from the
 * others by more than the instructions (nnrt_conv.c: more accumulators in
 * 32 registers), called where NNRT_HAS_WIDE(). */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(NNRT_NO_WIDE)
#define NNRT_WIDE __attribute__((target("arch=x86-64-v4")))
/* (x86-64-v4's AVX-512 parts by name: clang 14 knows no "x86-64-v4" here) */
#define NNRT_HAS_WIDE()                                                                  \
    (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&          \
     __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&         \
     __builtin_cpu_supports("avx512cd"))
#else
#define NNRT_WIDE
#define NNRT_HAS_WIDE() 0
#endif

/* Flush denormal results to zero and read denormal inputs as zero (x86
 * MXCSR FTZ and DAZ bits, aarch64 FPCR.FZ); on = 0 restores IEEE
 * behaviour.  Returns 1 when the machine has such a mode. */
int nnrt_set_ftz(int on);

/* ---- loops over many elements on every core (common_par.c) ----
 * nnrt_parallel calls fn(ctx, lo, hi) for consecutive ranges of `chunk`
 * elements covering [0, n), on the calling thread and helper threads
 * (docs/trainer.md, "Threads": NNRT_THREADS in all), and returns
 * when all are done; without helpers, or with fewer than two chunks, once
 * for all of [0, n).  fn must compute each element on its own (no sums
 * across the range; a matrix product's parts: nnrt_gemm.c), so that the
 * result is the same whoever runs a chunk. */
typedef void (*NnrtParFn)(void *ctx, int64_t lo, int64_t hi);
void nnrt_parallel(NnrtParFn fn, void *ctx, int64_t n, int64_t chunk);
/* The same in two halves: _begin hands the loop to the helpers and returns
 * at once, so that the caller can do other work meanwhile; _end computes
 * the chunks no helper has taken and returns when all are done (without
 * helpers, it computes the whole loop).  Another loop begun or run in
 * between (e.g. a matrix product in the penalty) first ends this one. */
void nnrt_parallel_begin(NnrtParFn fn, void *ctx, int64_t n, int64_t chunk);
void nnrt_parallel_end(void);
/* Announces a loop soon (within a few hundred microseconds): the helpers
 * wake now, so that they are running when it starts. */
void nnrt_parallel_wake(void);
void nnrt_parallel_stop(void);   /* helpers restart on next use (nnrt_set_ftz) */
/* The threads nnrt_parallel uses, the caller included (config.json's threads). */
int nnrt_parallel_threads(void);

/* ---- data-parallel runs on MPI (common_mpi.c, docs/distributed.md) ----
 * Without a launcher (mpirun, srun) with several ranks, nothing is loaded
 * and the process is rank 0 of 1; then every call below but
 * nnrt_mpi_start is free, and the sums leave their values alone. */

/* Started by mpirun or srun with more than one rank. */
int nnrt_mpi_launched(void);
/* Loads the MPI plugin and joins the job when nnrt_mpi_launched(); 0, or
 * -1 with a message (no plugin, MPI_Init failed). */
int nnrt_mpi_start(NnrtErr *e);
/* The process's exit status rc: 0 leaves MPI (MPI_Finalize); any other
 * ends the whole job (MPI_Abort), so that no rank waits for a failed one. */
int nnrt_mpi_end(int rc);
/* Unsets the launcher's variables, so that the processes this one starts
 * (a sweep's trainers) are not ranks of the job themselves. */
void nnrt_mpi_forget(void);
int nnrt_mpi_rank(void);
int nnrt_mpi_size(void);
/* This rank's (rank r's) contiguous share [lo, hi) of n items: n * r / size
 * to n * (r + 1) / size, so shares differ by one at most. */
void nnrt_mpi_share(int64_t n, int64_t *lo, int64_t *hi);
void nnrt_mpi_share_of(int64_t n, int r, int64_t *lo, int64_t *hi);
/* x[i] = the sum over the ranks of their x[i], added in rank order: the
 * same bits on every rank, run after run. */
void nnrt_mpi_sum_f32(float *x, int64_t n);
void nnrt_mpi_sum_f64(double *x, int64_t n);
/* all[r * n .. r * n + n) = rank r's, for every rank r: each rank passes its
 * own n values in its place of `all` and receives the others'. */
void nnrt_mpi_gather_f64(double *all, int64_t n);
/* 0 when every rank passes the same v; else -1 with a message naming the
 * first rank that differs and `what` differs ("settings or data"). */
int nnrt_mpi_same(uint64_t v, const char *what, NnrtErr *e);
/* Point-to-point messages of `bytes` bytes (a sweep's runs handed out):
 * recv from rank `from`, or any (-1), returns the sender; probe says
 * whether a message waits. */
void nnrt_mpi_send(const void *buf, int bytes, int to);
int nnrt_mpi_recv(void *buf, int bytes, int from);
int nnrt_mpi_probe(void);

/* ---- a run's CSV files (metrics.csv, steps.csv) as columns of numbers
 * (common_plot.c): the plots and nnc compare read them ---- */
#define NNRT_TABLE_MAXCOL 32
typedef struct NnrtTable {
    char names[NNRT_TABLE_MAXCOL][32];
    int ncol;
    double *col[NNRT_TABLE_MAXCOL];
    int nrow, cap;
} NnrtTable;

/* Reads a CSV file with a header row; -1 when it cannot be opened or is
 * empty (t is then empty, and nnrt_table_free may still be called). */
int nnrt_table_read(const char *path, NnrtTable *t);
/* The index of the column of this name, or -1. */
int nnrt_table_column(const NnrtTable *t, const char *name);
void nnrt_table_free(NnrtTable *t);

/* ---- plots (common_plot.c; docs/trainer.md, "Plots") ----
 * Each writes a gnuplot script NAME.gp into the run directory DIR beside its
 * data; nnrt_gnuplot renders the scripts to NAME.png and NAME.pdf. */

/* What DIR/curves.gp draws from DIR/metrics.csv (and steps.csv): with
 * reduce = sum each loss divided by its number of samples (n_train,
 * n_test, batch; 0 where unknown), so that the curves share one scale. */
typedef struct NnrtCurvesPlot {
    const char *dir, *model;
    int reduce_sum;
    int64_t n_train, n_test, batch;   /* batch 0: full batches */
} NnrtCurvesPlot;

/* The start of a script's loop over its formats: NAME.png of w x h pixels
 * and NAME.pdf of the same proportions (common_plot.c says how large); the
 * loop's body follows, then "    set output\n}\n". */
void nnrt_plot_formats(FILE *f, const char *name, int w, int h);

/* A tic step of 1, 2 or 5 times a power of ten for at most n intervals
 * over [lo, hi] (0 for an empty range). */
double nnrt_plot_tic_step(double lo, double hi, int n);

/* DIR/curves.gp; -1 when there is no metrics.csv. */
int nnrt_plot_curves(const NnrtCurvesPlot *c);

typedef enum NnrtBoundaryKind {
    NNRT_BOUNDARY_BINARY,     /* one logit: P(1) as colour, the 0.5 line */
    NNRT_BOUNDARY_CLASSES,    /* K logits: the predicted class as colour */
    NNRT_BOUNDARY_VALUE       /* regression: the output as a heat map */
} NnrtBoundaryKind;

/* What DIR/boundary.gp draws: the prediction on a grid x grid raster of
 * [x0, x1] x [y0, y1] (boundary_grid.dat), with the training points and,
 * when has_test, the test points in a second panel. */
typedef struct NnrtBoundaryPlot {
    NnrtBoundaryKind kind;
    const char *model, *input, *output;   /* names: the model, its input, its target */
    int nclass;                           /* CLASSES */
    int grid;
    double x0, x1, y0, y1;
    int has_test;
} NnrtBoundaryPlot;

int nnrt_plot_boundary_script(const char *dir, const NnrtBoundaryPlot *b);

/* DIR/reconstructions_figure.gp: the w x h image reconstructions.png of n
 * samples of the `set` ("test", "training") with a title, its rows of
 * inputs and of outputs labelled: `groups` pairs of rows, each row `cell`
 * pixels high, `gap` pixels between rows and around the image. */
typedef struct NnrtReconPlot {
    const char *model, *set;
    int n, w, h;
    int groups, cell, gap;
} NnrtReconPlot;

int nnrt_plot_recon_script(const char *dir, const NnrtReconPlot *r);

/* Runs gnuplot on DIR/NAME.gp for each name, in DIR (messages to
 * DIR/plots.log).  Without gnuplot on PATH prints one note (unless quiet)
 * and returns 1; -1 when a script failed, 0 when all were drawn. */
int nnrt_gnuplot(const char *dir, const char *const *names, int n, int quiet);

/* An 8-bit grey (channels 1) or RGB (3) image, rows top to bottom, via
 * libpng; written to PATH.part and renamed. */
int nnrt_png_write(const char *path, int w, int h, int channels, const unsigned char *pixels,
                   NnrtErr *e);

/* x (row-major, of shape dim[0..rank)) as numpy prints it: nested brackets,
 * one row per line, aligned columns, each number with `digits` significant
 * digits (common_print.c). */
void nnrt_print_array(FILE *f, const double *x, int rank, const int *dim, int digits);
/* The same with the format chosen: sci prints %e with a place for the sign;
 * width 0 means the widest element's (nnrt_array_width). */
void nnrt_print_array_fmt(FILE *f, const double *x, int rank, const int *dim, int digits, int sci,
                          int width);
int nnrt_array_width(const double *x, long n, int digits, int sci);
/* k <= 4 arrays of one shape next to each other, line by line, each under
 * its title, x[i] with digits[i] decimals in scientific notation (arrays
 * of the same digits in one common width; check --print).  -1 when out of
 * memory. */
int nnrt_print_side_by_side(FILE *f, int k, const double *const *x, const int *digits,
                            const char *const *titles, int rank, const int *dim);

/* "[100, 3]" */
void nnrt_format_dims64(char *buf, size_t len, int rank, const int64_t *dims);
void nnrt_format_dims(char *buf, size_t len, int rank, const int *dims);

/* ---- random numbers (common_rng.c) ----
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so every
 * seed, including 0, gives a well-mixed state; identical on every machine. */

typedef struct NnrtRng {
    uint64_t s[4];
} NnrtRng;

void nnrt_rng_seed(NnrtRng *r, uint64_t seed);
uint64_t nnrt_rng_next(NnrtRng *r);
double nnrt_rng_uniform(NnrtRng *r);            /* [0, 1), 53 random bits */
double nnrt_rng_normal(NnrtRng *r);             /* N(0, 1) */
uint64_t nnrt_rng_below(NnrtRng *r, uint64_t n); /* uniform in [0, n), unbiased */
uint64_t nnrt_splitmix64(uint64_t *state);
uint64_t nnrt_hash_name(const char *s);          /* FNV-1a, for per-name streams */

/* ---- .npy arrays and .npz archives (common_npz.c) ---- */

#define NNRT_NPY_MAXRANK 32

/* What an .npy header says.  `data` of an NnrtArray holds count * itemsize
 * bytes in the machine's byte order (swapped on reading), in the order the
 * file stored them (C or Fortran). */
typedef struct NnrtNpyHeader {
    char kind;          /* 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool */
    int itemsize;       /* bytes per element */
    int swap;           /* stored in the other byte order than the machine's */
    int fortran;        /* column-major */
    int rank;
    int64_t shape[NNRT_NPY_MAXRANK];
    int64_t count;      /* product of shape (1 for rank 0) */
    char descr[16];     /* as written, e.g. "<f4" */
} NnrtNpyHeader;

typedef struct NnrtArray {
    NnrtNpyHeader h;
    void *data;
} NnrtArray;

typedef struct NnrtNpz NnrtNpz;

int nnrt_npz_open(NnrtNpz **out, const char *path, NnrtErr *e);
void nnrt_npz_close(NnrtNpz *z);
const char *nnrt_npz_path(const NnrtNpz *z);
int nnrt_npz_count(const NnrtNpz *z);
const char *nnrt_npz_name(const NnrtNpz *z, int i);   /* member name less ".npy" */
int nnrt_npz_find(const NnrtNpz *z, const char *name); /* index or -1 */
void nnrt_npz_list(const NnrtNpz *z, char *buf, size_t len); /* "x, t" */
int nnrt_npz_header(NnrtNpz *z, int i, NnrtNpyHeader *h, NnrtErr *e);
int nnrt_npz_read(NnrtNpz *z, int i, NnrtArray *a, NnrtErr *e);

int nnrt_npy_read(const char *path, NnrtArray *a, NnrtErr *e);
/* Fills kind, itemsize, swap and descr from an .npy dtype string ("<f4"). */
int nnrt_npy_descr(const char *what, const char *descr, NnrtNpyHeader *h, NnrtErr *e);
void nnrt_byteswap(void *data, int64_t count, int size);
/* Samples lo..hi (rows of axis 0) of an .npy file or a stored .npz member,
 * read alone (a seek past the others): the array's first dimension is
 * hi - lo.  1, before any data is read, when the array cannot be read by
 * rows (Fortran order, a scalar, a deflated member). */
int nnrt_npy_read_rows(const char *path, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e);
int nnrt_npz_read_rows(NnrtNpz *z, int i, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e);
/* The header of an .npy file, checked against the file's size; no data read. */
int nnrt_npy_header_of(const char *path, NnrtNpyHeader *h, NnrtErr *e);
/* Bytes read from data files by this process (NNRT_MPI_STATS reports them). */
extern int64_t nnrt_bytes_read;

/* Parses an .npy file held in memory (used for tests and embedded data). */
int nnrt_npy_parse(const char *what, const void *bytes, size_t len, NnrtArray *a, NnrtErr *e);
void nnrt_array_free(NnrtArray *a);

/* The array's elements in C order as float or double.  When the array
 * already is one of those in C order its buffer is handed over (a->data
 * becomes NULL) instead of copied.  *out is malloc'ed; free() it. */
int nnrt_array_to_f32(NnrtArray *a, float **out, NnrtErr *e);
int nnrt_array_to_f64(NnrtArray *a, double **out, NnrtErr *e);
/* Element i (C order) as a double. */
double nnrt_array_get(const NnrtArray *a, int64_t i);

/* Writing: members are stored uncompressed into PATH.part, which becomes
 * PATH only when nnrt_npz_finish succeeds, so a failed write never leaves a
 * half-written PATH.  descr is an .npy dtype string such as "<f4". */
typedef struct NnrtNpzWriter NnrtNpzWriter;

int nnrt_npz_create(NnrtNpzWriter **out, const char *path, NnrtErr *e);
int nnrt_npz_add(NnrtNpzWriter *w, const char *name, const char *descr, int fortran,
                 int rank, const int64_t *shape, const void *data, NnrtErr *e);
int nnrt_npz_finish(NnrtNpzWriter *w, NnrtErr *e);   /* frees w, also on failure */
void nnrt_npz_abandon(NnrtNpzWriter *w);             /* removes PATH.part, frees w */
/* "<f4" or ">f4" for the machine's byte order; kind 'f', 'i', 'u', 'b'. */
void nnrt_native_descr(char *buf, size_t len, char kind, int itemsize);

/* ---- data files of every format (common_files.c, common_pickle.c) ----
 *
 * A data file, whatever its format, is a list of named arrays: the members
 * of an .npz, the arrays of a pickle named by their key path ("layer1/W"),
 * the columns of a CSV, the one array of an .npy or IDX file (named ""),
 * "data" and "labels" of a CIFAR-10 batch.  The format is chosen by the
 * file's content (its magic bytes; gzip is undone first), the extension
 * only breaking ties. */

typedef struct NnrtEntry {
    char *name;
    NnrtNpyHeader h;          /* h.swap: data is in the other byte order */
    const void *data;         /* h.count * h.itemsize bytes (NULL for npz: read on demand) */
    char why[112];            /* not "": why this is not a numeric array */
    int labels;               /* integer labels: IDX 1-d, CIFAR labels, a pickled list of ints */
} NnrtEntry;

typedef struct NnrtPickle NnrtPickle;

/* Runs the restricted unpickler over len bytes (which must outlive the
 * result: arrays point into them).  what names the file in messages. */
int nnrt_pickle_parse(const char *what, const void *bytes, size_t len, NnrtPickle **out,
                      NnrtErr *e);
int nnrt_pickle_entries(const NnrtPickle *pk, const NnrtEntry **list);
void nnrt_pickle_free(NnrtPickle *pk);

typedef struct NnrtFile NnrtFile;

int nnrt_file_open(NnrtFile **out, const char *path, NnrtErr *e);
/* The same from bytes in memory (any format but .npz); `name` is the file
 * name used as a hint and in messages.  The bytes are copied. */
int nnrt_file_parse(const char *name, const void *bytes, size_t len, NnrtFile **out, NnrtErr *e);
void nnrt_file_close(NnrtFile *f);
const char *nnrt_file_path(const NnrtFile *f);
const char *nnrt_file_format(const NnrtFile *f);   /* "IDX", "CSV", "pickle", ... */
int nnrt_file_count(const NnrtFile *f);
const char *nnrt_file_name(const NnrtFile *f, int i);
int nnrt_file_labels(const NnrtFile *f, int i);
int nnrt_file_usable(const NnrtFile *f, int i);   /* numeric (not an object array, text...) */
int nnrt_file_find(const NnrtFile *f, const char *name);  /* index or -1 */
/* "x, t" (usable arrays; the unnamed one as "(the whole file)") */
void nnrt_file_list(const NnrtFile *f, char *buf, size_t len);
/* "train.pkl: array 'W'" or, for the unnamed array, "train.idx: the array" */
void nnrt_file_what(const NnrtFile *f, int i, char *buf, size_t len);
int nnrt_file_header(NnrtFile *f, int i, NnrtNpyHeader *h, NnrtErr *e);
/* The array in machine byte order (a copy the caller frees). */
int nnrt_file_read(NnrtFile *f, int i, NnrtArray *a, NnrtErr *e);
/* Samples lo..hi of array i, the others not read (the array's first
 * dimension is hi - lo); 1, with nothing read, where the format does not
 * allow it: only .npy files and stored .npz members in C order do. */
int nnrt_file_read_rows(NnrtFile *f, int i, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e);

/* ---- settings: the train block's keys, which are also trainer flags
 * ---- (common_config.c) ---- */

typedef enum NnrtOptimKind { NNRT_SGD, NNRT_ADAM, NNRT_ADAMW, NNRT_RMSPROP } NnrtOptimKind;

typedef struct NnrtOptimSpec {
    NnrtOptimKind kind;
    double lr;
    double momentum;                /* sgd, rmsprop */
    double weight_decay;            /* all */
    int nesterov;                   /* sgd */
    double beta1, beta2;            /* adam, adamw */
    double eps;                     /* adam, adamw, rmsprop */
    double alpha;                   /* rmsprop */
    int centered;                   /* rmsprop */
} NnrtOptimSpec;

typedef enum NnrtSchedKind {
    NNRT_SCHED_CONSTANT, NNRT_SCHED_EXP_DECAY, NNRT_SCHED_STEP, NNRT_SCHED_COSINE
} NnrtSchedKind;

typedef struct NnrtSchedSpec {
    NnrtSchedKind kind;
    double k;                /* exp_decay */
    double every, gamma;     /* step */
    double min;              /* cosine */
    int64_t warmup;          /* all: epochs of linear warm-up (0 = none) */
} NnrtSchedSpec;

typedef enum NnrtSourceKind { NNRT_SRC_NONE, NNRT_SRC_FILE, NNRT_SRC_GEN } NnrtSourceKind;

/* A file source beyond one plain name, parsed (docs/trainer.md, "Data"):
 *   FILE   path (wildcards allowed): its arrays, or its only array
 *   PICK   pick(path, key...): arrays of a file, side by side
 *   LIST   [a, b, ...]: the samples of each, one after the other
 *   FILES  files(a, slot = b, ...): positional sources bind by name,
 *          keyword ones bind to that input or target
 *   STACK  stack(sub[0]): every array of a file or pick, one sample each
 * Every node's values become value * scale + shift; `transpose` (a ' after
 * it) takes the samples along an array's last axis instead of its first. */
typedef enum NnrtSpecKind {
    NNRT_SPEC_FILE, NNRT_SPEC_PICK, NNRT_SPEC_LIST, NNRT_SPEC_FILES, NNRT_SPEC_STACK
} NnrtSpecKind;

typedef struct NnrtSpec NnrtSpec;
struct NnrtSpec {
    NnrtSpecKind kind;
    char *path;               /* FILE, PICK */
    int nkeys;
    char **keys;              /* PICK */
    int n;
    NnrtSpec **sub;           /* LIST, FILES */
    char **bind;              /* FILES: slot name of sub[i], NULL when positional */
    double scale, shift;
    int transpose;
};

typedef enum NnrtGenKind {
    NNRT_GEN_NOISY_XOR, NNRT_GEN_SINE, NNRT_GEN_SPIRALS, NNRT_GEN_MOONS, NNRT_GEN_RANDOM, NNRT_GEN_RIPPLE
} NnrtGenKind;

/* Where data comes from: a file, or a built-in generator with its options. */
typedef struct NnrtSource {
    NnrtSourceKind kind;
    char path[1024];         /* FILE: one plain file name, or "" when spec is set */
    char spec[1024];         /* FILE: the source as written, when more than a name */
    NnrtGenKind gen;         /* GEN */
    int64_t n;
    double noise;            /* s of noisy_xor, noise of the others */
    int classes;             /* spirals */
    uint64_t seed;
} NnrtSource;

typedef struct NnrtConfig {
    NnrtSource data, test;
    NnrtOptimSpec opt;
    NnrtSchedSpec sched;
    int64_t batch;           /* 0 = full */
    int64_t epochs;
    int64_t steps;           /* > 0: this many updates, overriding epochs */
    int length_flag;         /* 5 or 6: --epochs or --steps was given as a flag */
    int reduce_sum;          /* 0 = mean */
    int shuffle;
    uint64_t seed;
    int accuracy;            /* metrics = accuracy */
    char log[1024];          /* run directory, "" = none */
    double clip;             /* > 0: clip the gradient to this global norm */
    int64_t patience;        /* > 0: stop after this many epochs without improvement */
    /* `lr` and `momentum` override the optimizer's option, including that of
     * an optimizer chosen later without that option. */
    int have_lr, have_momentum;
    double lr, momentum;
} NnrtConfig;

extern const char *const nnrt_setting_keys[];
extern const int nnrt_setting_nkeys;

void nnrt_config_default(NnrtConfig *c);

/* Applies one setting.  from_flag: the value came from the command line,
 * where data, test and log also take a bare path (--data train.npz) and
 * `epochs` cancels a train block's `steps`.  Returns 0 or -1 with a message
 * (no file position) in err. */
int nnrt_config_set(NnrtConfig *c, const char *key, const char *value, int from_flag,
                    char *err, size_t errlen);

/* A parameter source (--init, --params): a file name, or pick("FILE", "KEY")
 * for the arrays under a key path ("params": params/W1, params/b1, ...).
 * path and prefix get the two ("" when none). */
int nnrt_param_source(const char *text, char *path, size_t plen, char *prefix, size_t xlen,
                      char *err, size_t len);

/* The tree of a file source (also for a plain name); free with nnrt_spec_free. */
int nnrt_source_spec(const NnrtSource *s, NnrtSpec **out, char *err, size_t len);
void nnrt_spec_free(NnrtSpec *s);

/* The learning rate of 0-based epoch t of a run of `total` epochs
 * (warm-up included). */
double nnrt_schedule_lr(const NnrtSchedSpec *s, double lr0, int64_t t, int64_t total);

/* Writers of a setting in the language's syntax, e.g. "adam(lr = 0.001, ...)". */
void nnrt_optim_describe(const NnrtOptimSpec *o, char *buf, size_t len);
void nnrt_sched_describe(const NnrtSchedSpec *s, char *buf, size_t len);
void nnrt_source_describe(const NnrtSource *s, char *buf, size_t len);
/* Every effective setting as `key = value` lines. */
void nnrt_config_write(const NnrtConfig *c, FILE *f);

/* ---- tracked runs: the run directory's files (common_rundir.c) ---- */

/* One epoch's numbers: a row of metrics.csv and metrics.jsonl.  Absent
 * metrics (no test set, no accuracy) are NAN. */
typedef struct NnrtRow {
    int64_t epoch, step;
    double lr, loss, test_loss, accuracy, test_accuracy, seconds;
    double train_seconds;   /* the epoch's updates alone (metrics.csv/jsonl only) */
    double penalty;         /* the penalty in loss and test_loss (metrics.csv/jsonl only) */
} NnrtRow;

typedef struct NnrtRunLog {
    char dir[1024];
    FILE *csv, *jsonl;
    FILE *steps;              /* steps.csv, with mini-batches; NULL otherwise */
    int has_test, accuracy;
    int penalty;              /* the model has a penalty: a column of its own */
    int digits;               /* significant digits of losses (9 for float32, 17 for float64) */
    double flushed;           /* the row's seconds when the files were last flushed */
    double lr_last;           /* the learning rate lr_text holds */
    char lr_text[40];
} NnrtRunLog;

/* The log files are flushed at most this often (and before a checkpoint). */
#define NNRT_LOG_FLUSH_SECONDS 0.25

/* Every column metrics.csv can have (which ones a run has depends on its
 * test set and metrics). */
extern const char *const nnrt_metric_columns[];
extern const int nnrt_metric_ncolumns;

/* Creates dir and opens metrics.csv and metrics.jsonl.  keep < 0 starts
 * them afresh; keep >= 0 (resuming) keeps the rows of epochs 0..keep and
 * drops later ones, checking that the columns are the same. */
int nnrt_runlog_open(NnrtRunLog *l, const char *dir, int has_test, int accuracy, int penalty,
                     int digits, int64_t keep, NnrtErr *e);
/* Appends a row; the files are flushed when NNRT_LOG_FLUSH_SECONDS have
 * passed since they last were (the row's seconds). */
/* Both return -1 (e names the file) when a write to a log file failed,
 * in this call or since the last check. */
int nnrt_runlog_row(NnrtRunLog *l, const NnrtRow *row, NnrtErr *e);
int nnrt_runlog_flush(NnrtRunLog *l, NnrtErr *e);   /* metrics.csv, metrics.jsonl, steps.csv */
/* Opens DIR/steps.csv (the runlog's dir, keep as above): one row per update,
 * `epoch,step,batch_loss,lr`, for learning curves over updates. */
int nnrt_runlog_open_steps(NnrtRunLog *l, int64_t keep, NnrtErr *e);
/* A row of steps.csv: the objective of the mini-batch that update `step`
 * (1-based) used, before the update, and its learning rate. */
void nnrt_runlog_step(NnrtRunLog *l, int64_t epoch, int64_t step, double batch_loss, double lr);
void nnrt_runlog_close(NnrtRunLog *l);

/* May a new run be logged into dir?  Yes when it does not exist or is
 * empty; when it holds a run (settings.txt or metrics.csv), only with
 * overwrite, which removes that run's files; never when it holds other
 * files.  Returns 0 or -1. */
int nnrt_rundir_claim(const char *dir, int overwrite, NnrtErr *e);

/* DIR/config.json: every setting, the seed, versions, the source hash and
 * the command line.  DIR/settings.txt: the settings as `key = value` lines
 * in the flags' syntax, which --resume reads back. */
int nnrt_write_config(const char *dir, const NnrtModel *m, const NnrtConfig *c, int argc,
                      char **argv, NnrtErr *e);
/* Applies DIR/settings.txt to c (as flags), after checking that m (when
 * not NULL) is the model that wrote it (its source hash).  Returns 0 or -1. */
int nnrt_read_settings(const char *dir, const NnrtModel *m, NnrtConfig *c, NnrtErr *e);

/* DIR/summary.json: status ("finished", "early_stopped", "stopped",
 * "diverged", "interrupted"), message (or NULL), the final and best rows, wall time. */
typedef struct NnrtSummary {
    const char *status, *message, *monitor;
    NnrtRow final, best;
    int has_final;
    int has_params;            /* params.npz was written (else "params": null) */
    double wall_seconds;
} NnrtSummary;
int nnrt_write_summary(const NnrtRunLog *l, const NnrtSummary *s, NnrtErr *e);

/* ================= per-variant part (uses nnrt_real) ================= */

#define nnrt_data_load      NNRT_FN(nnrt_data_load)
#define nnrt_data_load_share NNRT_FN(nnrt_data_load_share)
#define nnrt_data_example   NNRT_FN(nnrt_data_example)
#define nnrt_data_free      NNRT_FN(nnrt_data_free)
#define nnrt_params_init    NNRT_FN(nnrt_params_init)
#define nnrt_params_load    NNRT_FN(nnrt_params_load)
#define nnrt_params_save    NNRT_FN(nnrt_params_save)
#define nnrt_npz_add_params NNRT_FN(nnrt_npz_add_params)
#define nnrt_real_from_array NNRT_FN(nnrt_real_from_array)
#define nnrt_describe_slot  NNRT_FN(nnrt_describe_slot)
#define nnrt_optim_init     NNRT_FN(nnrt_optim_init)
#define nnrt_optim_step     NNRT_FN(nnrt_optim_step)
#define nnrt_optim_free     NNRT_FN(nnrt_optim_free)
#define nnrt_clip_grad_norm NNRT_FN(nnrt_clip_grad_norm)
#define nnrt_gemm_naive     NNRT_FN(nnrt_gemm_naive)
#define nnrt_gemm_blocked   NNRT_FN(nnrt_gemm_blocked)
#define nnrt_gemm_serial    NNRT_FN(nnrt_gemm_serial)
#define nnrt_plot_run       NNRT_FN(nnrt_plot_run)

/* ---- data sets bound to the model's slots (nnrt_data.c) ---- */

/* n samples; slot[s] holds n * model->slots[s].size values, sample-major,
 * in the model's slot order.  Class labels are integers 0..K-1. */
typedef struct NnrtData {
    int64_t n;
    int nslots;
    nnrt_real **slot;
    char name[1100];         /* the file or generator, for messages */
} NnrtData;

/* Loads a source for model m: a file (relative paths: the current
 * directory, then the directory of m->source) or a generator. */
int nnrt_data_load(NnrtData *d, const NnrtModel *m, const NnrtSource *src, NnrtErr *e);
/* share: only this rank's share of the samples (nnrt_mpi_share: a set it
 * only evaluates) is wanted; .npy files and stored .npz members read no
 * other rows, which stay 0 (docs/distributed.md, "Data"). */
int nnrt_data_load_share(NnrtData *d, const NnrtModel *m, const NnrtSource *src, int share,
                         NnrtErr *e);
/* The model's example block as a one-sample data set. */
int nnrt_data_example(NnrtData *d, const NnrtModel *m, NnrtErr *e);
void nnrt_data_free(NnrtData *d);

/* "input x[2]", "target y[1]", "target c : class(10)" */
void nnrt_describe_slot(const NnrtSlot *s, char *buf, size_t len);

/* An array as nnrt_real (taking over its buffer when it can). */
int nnrt_real_from_array(NnrtArray *a, nnrt_real **out, NnrtErr *e);

/* ---- parameters (nnrt_data.c) ----
 * Each parameter's random initialiser draws from its own stream, seeded by
 * the run's seed and the parameter's name, so adding a parameter does not
 * change the others' initial values. */
int nnrt_params_init(const NnrtModel *m, nnrt_real *p, uint64_t seed, NnrtErr *e);
int nnrt_params_load(const NnrtModel *m, nnrt_real *p, const char *path, NnrtErr *e);
/* Writes every parameter (trainable_only: skips frozen ones). */
int nnrt_params_save(const NnrtModel *m, const nnrt_real *p, const char *path,
                     int trainable_only, NnrtErr *e);
/* Adds one array per parameter of the flat buffer base to w, named prefix
 * + the parameter's name (trainable_only: skips frozen ones). */
int nnrt_npz_add_params(NnrtNpzWriter *w, const NnrtModel *m, const char *prefix,
                        const nnrt_real *base, int trainable_only, NnrtErr *e);

/* ---- optimizers (nnrt_optim.c) ---- */

/* The optimizer's state: per-parameter buffers (NULL when the optimizer
 * does not use them), all of nparam_total values, and the update count. */
typedef struct NnrtOptim {
    NnrtOptimSpec spec;
    const NnrtModel *model;
    nnrt_real *m;            /* sgd, rmsprop: momentum buffer; adam(w): first moment */
    nnrt_real *v;            /* adam(w): second moment; rmsprop: square average */
    nnrt_real *a;            /* rmsprop centered: gradient average */
    int64_t t;               /* updates done */
} NnrtOptim;

int nnrt_optim_init(NnrtOptim *o, const NnrtOptimSpec *spec, const NnrtModel *model);
/* One update of every trainable parameter's slice with learning rate lr. */
void nnrt_optim_step(NnrtOptim *o, nnrt_real *params, const nnrt_real *grads, double lr);
void nnrt_optim_free(NnrtOptim *o);
/* Clips grads to global norm max_norm (torch.nn.utils.clip_grad_norm_);
 * returns the norm before clipping. */
double nnrt_clip_grad_norm(const NnrtModel *md, nnrt_real *grads, double max_norm);

/* ---- tracked runs: checkpoints (nnrt_checkpoint.c) ---- */

#define nnrt_checkpoint_save NNRT_FN(nnrt_checkpoint_save)
#define nnrt_checkpoint_load NNRT_FN(nnrt_checkpoint_load)

/* Where a training run is, besides parameters and optimizer: what a
 * checkpoint restores so that a resumed run ends with exactly the numbers
 * of an uninterrupted one. */
typedef struct NnrtTrainState {
    int64_t epoch, step;      /* epochs and updates done */
    NnrtRng rng;              /* the shuffling stream, after epoch `epoch` */
    double seconds;           /* wall time of the run so far */
    int64_t best_epoch, wait; /* early stopping: the best epoch, epochs since it */
    NnrtRow best;             /* the metrics of the best epoch */
    int64_t ranks;            /* MPI ranks that trained it (1: one process) */
} NnrtTrainState;

int nnrt_checkpoint_save(const char *path, const NnrtModel *m, const nnrt_real *params,
                         const NnrtOptim *o, const NnrtTrainState *s, NnrtErr *e);
/* o must be initialised (nnrt_optim_init) with the run's optimizer. */
int nnrt_checkpoint_load(const char *path, const NnrtModel *m, nnrt_real *params, NnrtOptim *o,
                         NnrtTrainState *s, NnrtErr *e);

/* ---- the plots of a run (nnrt_plot.c) ----
 * After `train --log DIR`: the learning curves; with params, also what the
 * trained model draws: for a 2-D input the decision boundary (or output
 * surface) over the training and test points, for an output shaped like an
 * input (an autoencoder) test inputs beside their reconstructions. */
typedef struct NnrtPlotRun {
    const NnrtModel *m;
    const nnrt_real *params;   /* NULL: learning curves only (a failed run) */
    void *work;                /* a workspace for cap samples */
    int cap;
    const NnrtData *train, *test;   /* test may be NULL */
    const char *dir;
    int quiet;
    int64_t recon_max;         /* reconstructions: at most this many (0: 16, -1: all) */
    const NnrtConfig *cfg;          /* the run's settings: reduce, batch */
} NnrtPlotRun;

/* Writes what applies and renders it; returns 0 (plots are never fatal). */
int nnrt_plot_run(const NnrtPlotRun *pr);

/* ---- GEMM (nnrt_gemm.c): the plain loops and the blocked kernel, which
 * nnrt_gemm chooses between (tests call each) ---- */
void nnrt_gemm_naive(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                     const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                     nnrt_real beta, nnrt_real *C, int ldc);
/* Returns -1, computing nothing, when its buffer cannot be allocated. */
int nnrt_gemm_blocked(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                      const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                      nnrt_real beta, nnrt_real *C, int ldc);
/* nnrt_gemm on the calling thread alone: for a caller that is itself one
 * of nnrt_parallel's chunks (nnrt_conv.c), which cannot start another. */
void nnrt_gemm_serial(int ta, int tb, int M, int N, int K, nnrt_real alpha,
                      const nnrt_real *A, int lda, const nnrt_real *B, int ldb,
                      nnrt_real beta, nnrt_real *C, int ldc);

#endif
