/*
 * common_util.c - small helpers every part of the runtime uses: error
 * messages (with the control characters a file's names may hold escaped,
 * so a hostile .npz member name cannot drive the terminal), "did you mean"
 * suggestions, repeated names, input path resolution (with the
 * data set directories and wildcards), mkdir -p, checks of output paths, a
 * monotonic clock, flush-to-zero, and shape formatting.
 *
 * Built once (no nnrt_real).  Suggestions use the edit distance between the
 * misspelt word and each candidate, case-insensitively, and only propose a
 * candidate that is close enough that the user plausibly meant it.
 */
#include "nnrt_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define NNRT_HAVE_MXCSR 1
#endif

#ifdef NNRT_OPENBLAS
/* OpenBLAS (pthread build) starts its worker threads when the library is
 * loaded, before main(), so they never see a later MXCSR change.  This
 * exported OpenBLAS function stops them; the next BLAS call starts them
 * again from the calling thread, and new threads inherit its floating-point
 * environment (pthread_create(3)).  Weak: other BLAS builds may lack it. */
extern void blas_thread_shutdown_(void) __attribute__((weak));
#endif

/* The length of the valid UTF-8 sequence at s (at most n bytes) that is
 * printable text, or 0: C1 controls (U+0080..U+009F) and malformed bytes
 * are not. */
static size_t utf8_text(const unsigned char *s, size_t n)
{
    size_t k = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (s[0] == 0xc2 && s[1] < 0xa0)
        return 0;
    return k;
}

void nnrt_escape(char *out, size_t len, const char *in)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = strlen(in), o = 0;
    if (len == 0)
        return;
    for (size_t i = 0; i < n && o + 1 < len;) {
        size_t k = s[i] >= 0x80 ? utf8_text(s + i, n - i) : s[i] >= 0x20 && s[i] != 0x7f;
        if (k == 0) {
            if (o + 5 > len)
                break;
            snprintf(out + o, len - o, "\\x%02x", s[i]);
            o += 4;
            i++;
        } else {
            if (o + k + 1 > len)
                break;
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
}

int nnrt_err(NnrtErr *e, const char *fmt, ...)
{
    if (e) {
        char raw[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        nnrt_escape(e->msg, sizeof e->msg, raw);
    }
    return -1;
}

static int name_cmp(const void *a, const void *b)
{
    const NnrtName *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c || x->len != y->len)
        return c ? c : x->len < y->len ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

int nnrt_find_repeat(const NnrtName *names, int n)
{
    if (n < 2)
        return -1;
    NnrtName *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return -1;
    for (int i = 0; i < n; i++) {
        sorted[i] = names[i];
        sorted[i].at = i;
    }
    qsort(sorted, (size_t)n, sizeof *sorted, name_cmp);
    int found = -1;
    for (int i = 1; i < n; i++)
        if (sorted[i].len == sorted[i - 1].len &&
            memcmp(sorted[i].s, sorted[i - 1].s, sorted[i].len) == 0 &&
            (found < 0 || sorted[i].at < found))
            found = sorted[i].at;
    free(sorted);
    return found;
}

char *nnrt_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int nnrt_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbours ("adma" is one edit from "adam"). */
int nnrt_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63)
        return 1000;
    int d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ai != bj);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static int strncasecmp_ascii(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int d = tolower((unsigned char)a[i]) - tolower((unsigned char)b[i]);
        if (d != 0 || a[i] == '\0')
            return d;
    }
    return 0;
}

const char *nnrt_closest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 1000;
    int len = (int)strlen(word);
    for (int i = 0; i < n; i++) {
        int d = nnrt_edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    /* "epoch" -> "epochs" yes; "x" -> "lr" no: a suggestion must keep more
     * than half of the word. */
    if (best && bestd <= 2 && bestd * 2 < len + (len <= 3))
        return best;
    /* "batchsize" -> "batch", "optim" -> "optimizer": one is the start of the other. */
    for (int i = 0; i < n && len >= 3; i++) {
        size_t cl = strlen(cands[i]);
        size_t m = cl < (size_t)len ? cl : (size_t)len;
        if (m >= 3 && strncasecmp_ascii(word, cands[i], m) == 0)
            return cands[i];
    }
    return NULL;
}

void nnrt_did_you_mean(char *buf, size_t len, const char *word,
                       const char *const *cands, int n)
{
    const char *c = nnrt_closest(word, cands, n);
    if (c) {
        size_t used = strlen(buf);
        if (used < len)
            snprintf(buf + used, len - used, " (did you mean '%s'?)", c);
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#define MAX_BASES 16

/* The directories a relative input name is looked up in, in order: the
 * current directory (""), the model's directory, then $NNC_DATASETS
 * (colon-separated) and /usr/share/datasets.  Returns how many. */
static int input_bases(const char *source, char bases[MAX_BASES][1024])
{
    int n = 0;
    bases[n++][0] = '\0';
    const char *slash = source ? strrchr(source, '/') : NULL;
    if (slash)
        snprintf(bases[n++], 1024, "%.*s/", (int)(slash - source), source);
    const char *env = getenv("NNC_DATASETS");
    while (env && *env && n < MAX_BASES - 1) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if (len > 0 && len < 1000)
            snprintf(bases[n++], 1024, "%.*s/", (int)len, env);
        env = colon ? colon + 1 : NULL;
    }
    snprintf(bases[n++], 1024, "/usr/share/datasets/");
    return n;
}

void nnrt_resolve_input(const char *path, const char *source, char *out, size_t outlen)
{
    char bases[MAX_BASES][1024];
    snprintf(out, outlen, "%s", path);
    if (path[0] == '/' || file_exists(path))
        return;
    int nb = input_bases(source, bases);
    for (int i = 1; i < nb; i++) {
        char cand[4096];
        snprintf(cand, sizeof cand, "%.1023s%s", bases[i], path);
        if (file_exists(cand)) {
            snprintf(out, outlen, "%s", cand);
            return;
        }
    }
}

void nnrt_free_paths(char **paths, int n)
{
    for (int i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

int nnrt_resolve_glob(const char *pattern, const char *source, char ***paths, int *n, NnrtErr *e)
{
    *paths = NULL;
    *n = 0;
    if (!strpbrk(pattern, "*?[")) {
        char buf[4096];
        nnrt_resolve_input(pattern, source, buf, sizeof buf);
        char **p = malloc(sizeof *p);
        if (!p || !(p[0] = nnrt_strdup(buf))) {
            free(p);
            return nnrt_err(e, "%s: out of memory", pattern);
        }
        *paths = p;
        *n = 1;
        return 0;
    }
    char bases[MAX_BASES][1024];
    int nb = pattern[0] == '/' ? 1 : input_bases(source, bases);
    if (pattern[0] == '/')
        bases[0][0] = '\0';
    for (int i = 0; i < nb; i++) {
        char cand[4096];
        glob_t g;
        snprintf(cand, sizeof cand, "%.1023s%s", bases[i], pattern);
        if (glob(cand, 0, NULL, &g) != 0)
            continue;
        char **p = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof *p);
        if (!p) {
            globfree(&g);
            return nnrt_err(e, "%s: out of memory", pattern);
        }
        for (size_t k = 0; k < g.gl_pathc; k++)
            if (!(p[k] = nnrt_strdup(g.gl_pathv[k]))) {
                nnrt_free_paths(p, (int)k);
                globfree(&g);
                return nnrt_err(e, "%s: out of memory", pattern);
            }
        *paths = p;
        *n = (int)g.gl_pathc;
        globfree(&g);
        return 0;
    }
    return nnrt_err(e, "%s: no file matches (looked in the current directory%s, $NNC_DATASETS "
                    "and /usr/share/datasets)", pattern, source ? ", the model's directory" : "");
}

int nnrt_mkdir_p(const char *dir, NnrtErr *e)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return nnrt_err(e, "%s: bad directory name", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return nnrt_err(e, "%s: cannot create directory (%s)", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return nnrt_err(e, "%s: exists and is not a directory", dir);
    return 0;
}

/* Output files are written to PATH.part and renamed over PATH, so that a
 * reader never sees half a file.  A rename replaces whatever is at PATH:
 * right for a file of ours, wrong for a device (as root, `--save
 * /dev/full` replaced /dev/full by a regular file), a symbolic link
 * (replaced by a file, its target untouched) or anything else that is not
 * a regular file. */
int nnrt_output_check(const char *path, NnrtErr *e)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
    if (S_ISREG(st.st_mode))
        return 0;
    if (S_ISDIR(st.st_mode))
        return nnrt_err(e, "%s: cannot write (%s)", path, strerror(EISDIR));
    return nnrt_err(e, "%s: cannot write: it is %s, which the trainer does not replace (it "
                    "writes a new file and renames it into place); give the path of a regular "
                    "file", path, S_ISLNK(st.st_mode) ? "a symbolic link"
                    : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                    : S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file");
}

FILE *nnrt_open_part(const char *path, const char *part, NnrtErr *e)
{
    struct stat st;
    /* a stale PATH.part of a killed run is replaced; anything else there is
     * not ours (O_NOFOLLOW: a link is never followed, O_NONBLOCK: a FIFO
     * without a reader cannot block the open) */
    if (lstat(part, &st) == 0 && !S_ISREG(st.st_mode)) {
        nnrt_err(e, "%s: cannot write: it exists and is not a regular file", part);
        return NULL;
    }
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        nnrt_err(e, "%s: cannot write (%s)", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

/* ---- numbers as text, fast ---- */

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 U128;

static int bit_length(U128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    return hi ? 128 - __builtin_clzll(hi) : lo ? 64 - __builtin_clzll(lo) : 0;
}

static U128 pow10_u128(int n)   /* 0 <= n <= 38 */
{
    static const uint64_t p10[20] = {
        1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
        100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
        10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
        100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull
    };
    return n < 20 ? p10[n] : (U128)p10[19] * p10[n - 19];
}

/* round(ax * 10^s) to the nearest integer, ties to even, exactly, for
 * ax = m * 2^e; 0 when the integers needed do not fit in 127 bits. */
static U128 scaled_round(uint64_t m, int e, int s)
{
    if (s > 38 || s < -38 || e > 70 || e < -126)
        return 0;
    U128 num = m, den = 1;
    if (s >= 0) {
        if (bit_length(pow10_u128(s)) + 53 > 126)
            return 0;
        num *= pow10_u128(s);
    } else {
        den = pow10_u128(-s);
    }
    if (e >= 0) {
        if (bit_length(num) + e > 126)
            return 0;
        num <<= e;
    } else {
        if (bit_length(den) - e > 126)
            return 0;
        den <<= -e;
    }
    U128 q, rem;
    if (s >= 0) {   /* den is 2^-e: shifts, not a division */
        q = num >> -(e < 0 ? e : 0);
        rem = num - (q << -(e < 0 ? e : 0));
    } else {
        q = num / den;
        rem = num % den;
    }
    if (2 * rem > den || (2 * rem == den && (q & 1)))
        q++;
    return q;
}
#endif

/* %.{digits}g of x into buf (at least 32 bytes), exactly as printf prints
 * it (correct rounding, ties to even), without printf's cost: the logs
 * print thousands of numbers per run (W5's sweep spent a tenth of its CPU
 * there).  Returns the length, or -1 where it leaves it to snprintf (not
 * finite, or beyond the exact integer arithmetic's range). */
int nnrt_fmt_g(char *buf, double x, int digits)
{
#ifdef __SIZEOF_INT128__
    if (!isfinite(x) || digits < 1 || digits > 17)
        return -1;
    char *o = buf;
    if (signbit(x))
        *o++ = '-';
    double ax = fabs(x);
    if (ax == 0) {
        *o++ = '0';
        *o = '\0';
        return (int)(o - buf);
    }
    int e2;
    double fr = frexp(ax, &e2);
    uint64_t m = (uint64_t)ldexp(fr, 53);   /* ax = m * 2^(e2 - 53) exactly */
    U128 lo = pow10_u128(digits - 1), hi = lo * 10, q = 0;
    int X = (int)floor(log10(ax)), tries = 0;   /* the exponent, give or take one */
    for (;; tries++) {
        if (tries == 3 || (q = scaled_round(m, e2 - 53, digits - 1 - X)) == 0)
            return -1;
        if (q >= hi)
            X++;
        else if (q < lo)
            X--;
        else
            break;
    }
    char d[20];
    uint64_t q64 = (uint64_t)q;   /* < 10^17 */
    for (int i = digits - 1; i >= 0; i--, q64 /= 10)
        d[i] = (char)('0' + (int)(q64 % 10));
    int nd = digits;   /* without trailing zeros, as %g prints */
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    if (X < -4 || X >= digits) {
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = X < 0 ? '-' : '+';
        int ex = abs(X);
        if (ex >= 100)
            *o++ = (char)('0' + ex / 100);
        *o++ = (char)('0' + ex / 10 % 10);
        *o++ = (char)('0' + ex % 10);
    } else if (X >= 0) {
        memcpy(o, d, (size_t)X + 1);
        o += X + 1;
        if (nd > X + 1) {
            *o++ = '.';
            memcpy(o, d + X + 1, (size_t)(nd - X - 1));
            o += nd - X - 1;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -X - 1; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (int)(o - buf);
#else
    (void)buf, (void)x, (void)digits;
    return -1;
#endif
}

static void fmt_g(char *buf, size_t len, double x, int digits)
{
    if (len < 32 || nnrt_fmt_g(buf, x, digits) < 0)
        snprintf(buf, len, "%.*g", digits, x);
}

const char *nnrt_num_text(char *buf, size_t len, double x, int digits)
{
    int d = digits == 17 ? 15 : digits;
    do
        fmt_g(buf, len, x, d);
    while (digits == 17 && d++ < 17 && isfinite(x) && strtod(buf, NULL) != x);
    return buf;
}

double nnrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int nnrt_set_ftz(int on)
{
    nnrt_parallel_stop();   /* restarted by the next loop, with our MXCSR */
#ifdef NNRT_OPENBLAS
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();   /* restarted by the next BLAS call, with our MXCSR */
#endif
#if defined(NNRT_HAVE_MXCSR)
    /* MXCSR bit 15 = flush to zero (FTZ), bit 6 = denormals are zero (DAZ). */
    unsigned int csr = _mm_getcsr();
    csr = on ? (csr | 0x8040u) : (csr & ~0x8040u);
    _mm_setcsr(csr);
    return 1;
#elif defined(__aarch64__)
    /* FPCR bit 24 = FZ (flush denormal inputs and outputs to zero). */
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | (1ull << 24)) : (fpcr & ~(1ull << 24));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
    return 1;
#else
    (void)on;
    return 0;
#endif
}

void nnrt_format_dims64(char *buf, size_t len, int rank, const int64_t *dims)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

void nnrt_format_dims(char *buf, size_t len, int rank, const int *dims)
{
    int64_t d[NNRT_MAXRANK];
    if (rank > NNRT_MAXRANK)
        rank = NNRT_MAXRANK;
    for (int i = 0; i < rank; i++)
        d[i] = dims[i];
    nnrt_format_dims64(buf, len, rank, d);
}
