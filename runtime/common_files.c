/*
 * common_files.c - data files of every format as lists of named arrays.
 *
 * nnrt_file_open() looks at a file's first bytes and picks its reader:
 *
 *   "\x93NUMPY"                   .npy: one array, named "", read on demand (whole, or
 *                                 some rows only: nnrt_file_read_rows)
 *   "PK\x03\x04" / "PK\x05\x06"    .npz: members read on demand (common_npz.c)
 *   0x80 0x02..0x05               a Python pickle (common_pickle.c); protocols 0 and 1
 *                                 (Python 2's default: no PROTO opcode) by their first
 *                                 opcode ( } ] c and the STOP '.' that ends them
 *   0x00 0x00 type rank           IDX (MNIST, Fashion-MNIST): one array, named "",
 *                                 big-endian dimensions and data
 *   N * 3073 bytes, label < 10    CIFAR-10 binary batch: "data" [N, 3072] uint8 and
 *                                 "labels" [N] (one label byte, then 3072 pixels);
 *                                 before IDX when the name says so (data_batch_1.bin)
 *   text                          CSV with a header row: one float64 array per column
 *
 * A gzip file (0x1f 0x8b) is inflated first with zlib's gz* functions, so
 * train-images-idx3-ubyte.gz or data.pkl.gz read like their plain forms;
 * its first bytes are looked at before the rest is inflated (read_gzip).
 *
 * Bad input: the whole (inflated) file is read first, growing the buffer
 * only as bytes actually arrive, and every size a header states is checked
 * against the bytes that are really there before anything is allocated for
 * it.  Messages name the file and say what was expected and what was found.
 */
#include "nnrt_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zlib.h>

#define CIFAR_RECORD 3073
#define CIFAR_PIXELS 3072
#define MAX_GUNZIP ((uint64_t)1 << 34)   /* 16 GiB inflated: beyond any course data set */
#define MAX_COLUMNS 100000

int64_t nnrt_bytes_read;

struct NnrtFile {
    char *path;
    const char *format;
    NnrtNpz *npz;              /* npz: arrays read on demand */
    int npy;                   /* an .npy file: its array read on demand, whole or by rows */
    NnrtPickle *pk;
    unsigned char *buf;        /* the file's bytes (pickle and IDX arrays point in) */
    size_t len;
    void *owned;               /* npy data, CIFAR arrays, CSV columns */
    void *owned2;
    int n;
    NnrtEntry *e;
};

static int machine_is_little(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The file name without a trailing .gz, lowercased, for extension hints. */
static void hint_name(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s", base_name(path));
    size_t n = strlen(buf);
    if (n > 3 && strcmp(buf + n - 3, ".gz") == 0)
        buf[n - 3] = '\0';
    for (char *c = buf; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

/* ---- reading a whole file, inflating gzip ---- */

/* Inflates from g into *b (capacity *cap, *n bytes so far) until *n is
 * `upto` or the data ends; the buffer grows only as bytes arrive. */
static int gz_fill(gzFile g, const char *path, unsigned char **b, size_t *cap, size_t *n,
                   size_t upto, NnrtErr *e)
{
    while (*n < upto) {
        if (*n == *cap) {
            size_t ncap = *cap > upto / 2 ? upto : *cap * 2;
            unsigned char *nb = realloc(*b, ncap + 1);
            if (!nb)
                return nnrt_err(e, "%s: out of memory (inflating %zu bytes)", path, ncap);
            *b = nb;
            *cap = ncap;
        }
        size_t want = *cap - *n > (1u << 30) ? (1u << 30) : *cap - *n;
        int r = gzread(g, *b + *n, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gzerror(g, &code);
            return nnrt_err(e, "%s: corrupt gzip data (zlib: %s)", path, msg ? msg : "error");
        }
        if (r == 0)
            break;
        *n += (size_t)r;
    }
    return 0;
}

/* The whole size a format states in its first bytes (IDX: the header and
 * the dimensions' elements), 0 when it does not say, or -1 (message set)
 * when the first bytes are no format nnc reads from inside gzip. */
static int64_t gz_stated_size(const char *path, const unsigned char *b, size_t n, int at_end,
                              NnrtErr *e)
{
    static const int idx_size[16] = { [0x08] = 1, [0x09] = 1, [0x0b] = 2, [0x0c] = 4,
                                       [0x0d] = 4, [0x0e] = 8 };
    if (n >= 4 && (memcmp(b, "PK\x03\x04", 4) == 0 || memcmp(b, "PK\x05\x06", 4) == 0))
        return nnrt_err(e, "%s: a zip archive inside gzip (expected a plain .npz)", path);
    int idx = n >= 4 && b[0] == 0 && b[1] == 0 && b[2] < 16 && idx_size[b[2]] && b[3] >= 1 &&
              b[3] <= NNRT_NPY_MAXRANK;
    if (idx && n < 4 + 4 * (size_t)b[3])
        return 0;                                   /* a short IDX header: parse_idx says so */
    if (idx) {
        uint64_t count = 1;
        for (int i = 0; i < b[3]; i++) {
            uint64_t d = be32(b + 4 + 4 * i);
            if (d != 0 && count > ((uint64_t)1 << 40) / d)
                return nnrt_err(e, "%s: absurd IDX dimensions (more than 2^40 elements)", path);
            count *= d;
        }
        return (int64_t)(4 + 4 * (uint64_t)b[3] + count * (uint64_t)idx_size[b[2]]);
    }
    if ((n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) || (n >= 2 && b[0] == 0x80) ||
        (n >= 1 && b[0] && strchr("(}]c", b[0])) || !memchr(b, '\0', n))
        return 0;                                   /* .npy, a pickle, text: read to the end */
    if (at_end && n < 4)
        return 0;                                   /* too short: the readers say why */
    return nnrt_err(e, "%s: not a data file nnc reads from inside gzip (binary content that "
                    "is no IDX, .npy or pickle)", path);
}

/* A gzip file, inflated.  The first 64 KiB are inflated first and looked
 * at: an IDX header states the file's whole size, so no more than that
 * (and one byte, to see extra data) is inflated or allocated; binary
 * content of no format is refused at once; the rest (pickles, text) is
 * inflated to the end, at most 1032 times the file's size, the best ratio
 * deflate reaches (more is not data but a bomb). */
static int read_gzip(const char *path, uint64_t flen, unsigned char **out, size_t *outlen,
                     NnrtErr *e)
{
    uint64_t limit = flen * 1032 + 4096;
    if (limit > MAX_GUNZIP)
        limit = MAX_GUNZIP;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return nnrt_err(e, "%s: cannot open (%s)", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap + 1);
    int r = b ? gz_fill(g, path, &b, &cap, &n, 1 << 16, e)
              : nnrt_err(e, "%s: out of memory", path);
    int64_t stated = r == 0 ? gz_stated_size(path, b, n, n < (1 << 16), e) : -1;
    if (stated < 0) {
        r = -1;
    } else if (stated > 0) {
        if ((uint64_t)stated > limit) {
            r = nnrt_err(e, "%s: the IDX header states %" PRId64 " bytes, more than %" PRIu64
                         " bytes of gzip can hold (corrupt header?)", path, stated, flen);
        } else {
            r = gz_fill(g, path, &b, &cap, &n, (size_t)stated + 1, e);
            if (r == 0 && n > (size_t)stated)
                r = nnrt_err(e, "%s: corrupt IDX file (its dimensions need %" PRId64 " bytes "
                             "with the header; the file has more)", path, stated);
        }
    } else {
        r = gz_fill(g, path, &b, &cap, &n, (size_t)limit, e);
        if (r == 0 && n == limit && gzread(g, (unsigned char[1]){ 0 }, 1) > 0)
            r = nnrt_err(e, "%s: corrupt gzip data (inflates to more than %" PRIu64
                         " bytes from %" PRIu64 ")", path, limit, flen);
    }
    if (r == 0) {
        int code = Z_OK;
        const char *msg = gzerror(g, &code);
        if (code != Z_OK && code != Z_STREAM_END)
            r = nnrt_err(e, "%s: truncated or corrupt gzip data (zlib: %s)", path,
                         msg ? msg : "error");
    }
    gzclose(g);
    if (r != 0) {
        free(b);
        return -1;
    }
    b[n] = '\0';
    *out = b;
    *outlen = n;
    return 0;
}

static int read_all(const char *path, unsigned char **out, size_t *outlen, NnrtErr *e)
{
    *out = NULL;
    *outlen = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nnrt_err(e, "%s: cannot open (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {   /* it opens; seeking says 2^63 */
        fclose(f);
        return nnrt_err(e, "%s: cannot open (%s)", path, strerror(EISDIR));
    }
    off_t flen;
    if (fseeko(f, 0, SEEK_END) != 0 || (flen = ftello(f)) < 0) {
        fclose(f);
        return nnrt_err(e, "%s: cannot read (not a regular file?)", path);
    }
    rewind(f);
    unsigned char magic[2] = { 0, 0 };
    size_t got = fread(magic, 1, 2, f);
    rewind(f);
    if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        if ((uint64_t)flen > SIZE_MAX - 1) {
            fclose(f);
            return nnrt_err(e, "%s: too large for this machine", path);
        }
        unsigned char *b = malloc((size_t)flen + 1);
        if (!b) {
            fclose(f);
            return nnrt_err(e, "%s: out of memory (%lld bytes)", path, (long long)flen);
        }
        if (fread(b, 1, (size_t)flen, f) != (size_t)flen) {
            free(b);
            fclose(f);
            return nnrt_err(e, "%s: cannot read", path);
        }
        fclose(f);
        nnrt_bytes_read += (int64_t)flen;
        b[flen] = '\0';
        *out = b;
        *outlen = (size_t)flen;
        return 0;
    }
    fclose(f);
    return read_gzip(path, (uint64_t)flen, out, outlen, e);
}

/* ---- entries ---- */

static NnrtEntry *add_entries(NnrtFile *f, int n, NnrtErr *e)
{
    f->e = calloc(n > 0 ? (size_t)n : 1, sizeof *f->e);
    if (!f->e) {
        nnrt_err(e, "%s: out of memory", f->path);
        return NULL;
    }
    f->n = n;
    return f->e;
}

static int set_name(NnrtFile *f, NnrtEntry *en, const char *name, NnrtErr *e)
{
    if (!(en->name = nnrt_strdup(name)))
        return nnrt_err(e, "%s: out of memory", f->path);
    return 0;
}

static void header_1d2d(NnrtNpyHeader *h, char kind, int itemsize, int rank, int64_t d0,
                        int64_t d1)
{
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->itemsize = itemsize;
    h->rank = rank;
    h->shape[0] = d0;
    h->shape[1] = d1;
    h->count = rank == 2 ? d0 * d1 : d0;
    nnrt_native_descr(h->descr, sizeof h->descr, kind, itemsize);
}

/* ---- IDX ---- */

/* 0 = an IDX file (parsed), 1 = not IDX, -1 = IDX but broken (message set). */
static int parse_idx(NnrtFile *f, int hinted, NnrtErr *e)
{
    const unsigned char *b = f->buf;
    size_t len = f->len;
    if (len == 0)
        return nnrt_err(e, "%s: an empty file (0 bytes)", f->path);
    if (len < 4 || b[0] != 0 || b[1] != 0)
        return hinted ? nnrt_err(e, "%s: not an IDX file (expected the magic bytes 00 00 TYPE "
                                 "RANK)", f->path) : 1;
    char kind;
    int size;
    switch (b[2]) {
    case 0x08: kind = 'u'; size = 1; break;
    case 0x09: kind = 'i'; size = 1; break;
    case 0x0b: kind = 'i'; size = 2; break;
    case 0x0c: kind = 'i'; size = 4; break;
    case 0x0d: kind = 'f'; size = 4; break;
    case 0x0e: kind = 'f'; size = 8; break;
    default:
        return hinted ? nnrt_err(e, "%s: IDX data type 0x%02x is not one of 08, 09, 0B, 0C, "
                                 "0D, 0E", f->path, b[2]) : 1;
    }
    int rank = b[3];
    if (rank < 1 || rank > NNRT_NPY_MAXRANK)
        return hinted ? nnrt_err(e, "%s: IDX file with %d dimensions (expected 1 to %d)", f->path,
                                 rank, NNRT_NPY_MAXRANK) : 1;
    size_t hdr = 4 + 4 * (size_t)rank;
    if (len < hdr)
        return hinted ? nnrt_err(e, "%s: truncated IDX header (expected %zu bytes, found %zu)",
                                 f->path, hdr, len) : 1;
    NnrtNpyHeader h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.itemsize = size;
    h.rank = rank;
    h.swap = size > 1 && machine_is_little();
    snprintf(h.descr, sizeof h.descr, "%c%c%d", size == 1 ? '|' : '>', kind, size);
    uint64_t count = 1;
    int absurd = 0;
    for (int i = 0; i < rank; i++) {
        h.shape[i] = be32(b + 4 + 4 * i);
        if (h.shape[i] != 0 && count > (uint64_t)INT64_MAX / 16 / (uint64_t)h.shape[i])
            absurd = 1;
        else
            count *= (uint64_t)h.shape[i];
    }
    char dims[256];
    nnrt_format_dims64(dims, sizeof dims, h.rank, h.shape);
    uint64_t need = count * (uint64_t)size, have = len - hdr;
    if (absurd || need != have) {
        /* a CIFAR batch can begin 00 00 08 01 (label 0, two black pixels) */
        if (!hinted && len % CIFAR_RECORD == 0)
            return 1;
        if (absurd)
            return nnrt_err(e, "%s: absurd IDX dimensions %s (more elements than any file can "
                            "hold; the file has %" PRIu64 " bytes of data)", f->path, dims, have);
        if (need > have)
            return nnrt_err(e, "%s: truncated IDX data (dimensions %s of %s need %" PRIu64
                            " bytes, found %" PRIu64 ")", f->path, dims, h.descr, need, have);
        return nnrt_err(e, "%s: corrupt IDX file (dimensions %s of %s need %" PRIu64 " bytes, "
                        "found %" PRIu64 ": %" PRIu64 " bytes too many)", f->path, dims, h.descr,
                        need, have, have - need);
    }
    h.count = (int64_t)count;
    NnrtEntry *en = add_entries(f, 1, e);
    if (!en || set_name(f, en, "", e) != 0)
        return -1;
    en->h = h;
    en->data = b + hdr;
    en->labels = rank == 1 && kind != 'f';
    f->format = "IDX";
    return 0;
}

/* ---- CIFAR-10 binary batches ---- */

static int looks_cifar(const unsigned char *b, size_t len)
{
    if (len == 0 || len % CIFAR_RECORD != 0)
        return 0;
    for (size_t i = 0; i < len; i += CIFAR_RECORD)
        if (b[i] > 9)
            return 0;
    return 1;
}

static int parse_cifar(NnrtFile *f, NnrtErr *e)
{
    size_t n = f->len / CIFAR_RECORD;
    unsigned char *px = malloc(n * CIFAR_PIXELS), *lab = malloc(n);
    if (!px || !lab) {
        free(px);
        free(lab);
        return nnrt_err(e, "%s: out of memory", f->path);
    }
    for (size_t i = 0; i < n; i++) {
        lab[i] = f->buf[i * CIFAR_RECORD];
        memcpy(px + i * CIFAR_PIXELS, f->buf + i * CIFAR_RECORD + 1, CIFAR_PIXELS);
    }
    f->owned = px;
    f->owned2 = lab;
    free(f->buf);
    f->buf = NULL;
    NnrtEntry *en = add_entries(f, 2, e);
    if (!en || set_name(f, &en[0], "data", e) != 0 || set_name(f, &en[1], "labels", e) != 0)
        return -1;
    header_1d2d(&en[0].h, 'u', 1, 2, (int64_t)n, CIFAR_PIXELS);
    en[0].data = px;
    header_1d2d(&en[1].h, 'u', 1, 1, (int64_t)n, 0);
    en[1].data = lab;
    en[1].labels = 1;
    f->format = "CIFAR-10 binary";
    return 0;
}

/* ---- CSV ---- */

/* Splits one line at sep into fields (trimmed, quotes removed), in place. */
static int split_line(char *line, char sep, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            if (*p == sep)
                break;
            else
                p++;
        char *start = p, *end;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"')
                p++;
            end = p;
            if (*p == '"')
                p++;
            while (*p && *p != sep)
                p++;
        } else {
            while (*p && *p != sep)
                p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        }
        char c = *p;
        *end = '\0';
        if (n < max)
            fields[n] = start;
        n++;
        if (c != sep)
            return n;
        p++;
    }
}

static int parse_number(const char *s, double *v)
{
    char *end;
    if (*s == '\0')
        return 0;
    *v = strtod(s, &end);
    return *end == '\0';
}

static int parse_csv(NnrtFile *f, NnrtErr *e)
{
    char *text = (char *)f->buf;
    if (memchr(text, '\0', f->len))
        return nnrt_err(e, "%s: not a data file nnc knows (binary content that is no .npy, .npz, "
                        "pickle, IDX or CIFAR-10 batch, and not CSV text)", f->path);
    /* lines: split in place */
    size_t nlines = 1;
    for (size_t i = 0; i < f->len; i++)
        nlines += text[i] == '\n';
    char **line = malloc(nlines * sizeof *line);
    if (!line)
        return nnrt_err(e, "%s: out of memory", f->path);
    size_t nl = 0;
    size_t *lineno = malloc(nlines * sizeof *lineno);
    if (!lineno) {
        free(line);
        return nnrt_err(e, "%s: out of memory", f->path);
    }
    char *p = text;
    if (f->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;   /* UTF-8's byte order mark, which spreadsheets write first */
    for (size_t ln = 1; p; ln++) {
        char *q = strchr(p, '\n');
        if (q)
            *q = '\0';
        char *t = p;
        while (*t == ' ' || *t == '\t' || *t == '\r')
            t++;
        if (*t != '\0' && *t != '#') {
            line[nl] = p;
            lineno[nl++] = ln;
        }
        p = q ? q + 1 : NULL;
    }
    int r = -1;
    char **fields = NULL;
    double *vals = NULL;
    if (nl == 0) {
        nnrt_err(e, "%s: empty CSV file (expected a header row and rows of numbers)", f->path);
        goto done;
    }
    /* the separator: whichever of , ; tab the header holds most of */
    char sep = ',';
    int best = 0;
    for (const char *s = ",;\t"; *s; s++) {
        int c = 0;
        for (const char *t = line[0]; *t; t++)
            c += *t == *s;
        if (c > best) {
            best = c;
            sep = *s;
        }
    }
    int ncol = best + 1;
    if (ncol > MAX_COLUMNS) {
        nnrt_err(e, "%s: CSV with %d columns (nnc reads at most %d)", f->path, ncol, MAX_COLUMNS);
        goto done;
    }
    fields = malloc((size_t)ncol * sizeof *fields);
    if (!fields) {
        nnrt_err(e, "%s: out of memory", f->path);
        goto done;
    }
    /* a quoted name may hold the separator: fewer columns than separators */
    ncol = split_line(line[0], sep, fields, ncol);
    int header = 0;
    for (int j = 0; j < ncol; j++) {
        double v;
        if (!parse_number(fields[j], &v))
            header = 1;
    }
    size_t nrows = nl - (size_t)header;
    NnrtEntry *en = add_entries(f, ncol, e);
    if (!en)
        goto done;
    for (int j = 0; j < ncol; j++) {
        char num[32];
        snprintf(num, sizeof num, "%d", j);
        if (set_name(f, &en[j], header ? fields[j] : num, e) != 0)
            goto done;
        if (header && en[j].name[0] == '\0') {
            free(en[j].name);
            if (set_name(f, &en[j], num, e) != 0)
                goto done;
        }
    }
    if (header) {
        NnrtName *names = malloc((size_t)ncol * sizeof *names);
        if (!names) {
            nnrt_err(e, "%s: out of memory", f->path);
            goto done;
        }
        for (int j = 0; j < ncol; j++) {
            names[j].s = en[j].name;
            names[j].len = strlen(en[j].name);
        }
        int k = nnrt_find_repeat(names, ncol);
        free(names);
        if (k >= 0) {
            nnrt_err(e, "%s: the header names column '%s' twice (columns %d and %d; rename one)",
                     f->path, en[k].name, nnrt_file_find(f, en[k].name) + 1, k + 1);
            goto done;
        }
    }
    /* Rows of ncol fields hold ncol - 1 separators each, so a file too
     * short for that has a short row, found below before anything is
     * stored: a wide header over many short lines allocates nothing. */
    int fits = nrows <= f->len / (size_t)(ncol > 1 ? ncol - 1 : 1);
    if (fits && !(vals = malloc((size_t)ncol * (nrows ? nrows : 1) * sizeof *vals))) {
        nnrt_err(e, "%s: out of memory (%zu rows of %d columns)", f->path, nrows, ncol);
        goto done;
    }
    for (size_t i = 0; i < nrows; i++) {
        size_t li = i + (size_t)header;
        /* without a header, line 0 is a row, already split into fields */
        int got = li == 0 ? ncol : split_line(line[li], sep, fields, ncol);
        if (got != ncol) {
            nnrt_err(e, "%s: line %zu has %d fields, the %s has %d (expected the same number "
                     "in every row)", f->path, lineno[li], got, header ? "header" : "first row",
                     ncol);
            goto done;
        }
        for (int j = 0; j < ncol; j++) {
            double v;
            if (!parse_number(fields[j], &v)) {
                v = NAN;
                if (!en[j].why[0])
                    snprintf(en[j].why, sizeof en[j].why, "column '%.20s' holds '%.20s' at line "
                             "%zu (expected numbers)", en[j].name, fields[j], lineno[li]);
            }
            if (vals)
                vals[(size_t)j * nrows + i] = v;
        }
    }
    if (!vals) {
        nnrt_err(e, "%s: internal error: rows of %d fields do not fit in %zu bytes", f->path,
                 ncol, f->len);
        goto done;
    }
    for (int j = 0; j < ncol; j++) {
        header_1d2d(&en[j].h, 'f', 8, 1, (int64_t)nrows, 0);
        en[j].data = vals + (size_t)j * nrows;
    }
    f->owned = vals;
    vals = NULL;
    f->format = "CSV";
    r = 0;
done:
    free(vals);
    free(fields);
    free(line);
    free(lineno);
    return r;
}

/* ---- opening ---- */

/* A pickle of protocol 0 or 1, which has no PROTO opcode: a dict, list,
 * tuple (MARK) or global first, the STOP opcode last. */
static int looks_pickle01(const unsigned char *b, size_t len)
{
    return len >= 2 && b[0] && strchr("(}]c", b[0]) && b[len - 1] == '.';
}

static int from_buffer(NnrtFile *f, NnrtErr *e)
{
    char hint[512];
    hint_name(f->path, hint, sizeof hint);
    const unsigned char *b = f->buf;
    size_t len = f->len;
    int ext_pickle = nnrt_ends_with(hint, ".pkl") || nnrt_ends_with(hint, ".pickle") ||
                     nnrt_ends_with(hint, ".p") || nnrt_ends_with(hint, ".pck");
    int ext_csv = nnrt_ends_with(hint, ".csv") || nnrt_ends_with(hint, ".tsv") ||
                  nnrt_ends_with(hint, ".txt");
    int ext_idx = strstr(hint, "idx") != NULL || strstr(hint, "ubyte") != NULL;
    if (len >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) {
        NnrtArray a;
        if (nnrt_npy_parse(f->path, b, len, &a, e) != 0)
            return -1;
        NnrtEntry *en = add_entries(f, 1, e);
        if (!en || set_name(f, en, "", e) != 0) {
            nnrt_array_free(&a);
            return -1;
        }
        en->h = a.h;
        en->data = a.data;
        f->owned = a.data;
        f->format = "npy";
        return 0;
    }
    if (len >= 4 && (memcmp(b, "PK\x03\x04", 4) == 0 || memcmp(b, "PK\x05\x06", 4) == 0))
        return nnrt_err(e, "%s: a zip archive inside gzip (expected a plain .npz)", f->path);
    if ((len >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) || looks_pickle01(b, len)) {
        const NnrtEntry *list;
        if (nnrt_pickle_parse(f->path, b, len, &f->pk, e) != 0)
            return -1;
        int n = nnrt_pickle_entries(f->pk, &list);
        f->e = (NnrtEntry *)list;    /* owned by the pickle */
        f->n = n;
        f->format = "pickle";
        return 0;
    }
    if (len >= 2 && b[0] == 0x80)
        return nnrt_err(e, "%s: pickle protocol %d is not supported (expected 0 to 5)", f->path,
                        b[1]);
    if (ext_pickle)
        return nnrt_err(e, "%s: not a pickle (expected the bytes 80 02..80 05 of protocols 2 "
                        "to 5, or a protocol 0 or 1 pickle: ( } ] or c first, '.' last)",
                        f->path);
    if (!ext_csv) {
        /* A CIFAR batch's first record can also read as an IDX header that
         * fits the file (label 0, pixels 00 08 01 and the length): a name
         * like data_batch_1.bin decides for CIFAR, one like *-idx3-ubyte
         * for IDX; without either, the exact fit of IDX's header wins. */
        int cifar_hint = nnrt_ends_with(hint, ".bin") || strstr(hint, "batch") != NULL;
        if (cifar_hint && !ext_idx && looks_cifar(b, len))
            return parse_cifar(f, e);
        int r = parse_idx(f, ext_idx && !looks_cifar(b, len), e);
        if (r <= 0)
            return r;
        if (looks_cifar(b, len))
            return parse_cifar(f, e);
        if (nnrt_ends_with(hint, ".bin"))
            return nnrt_err(e, "%s: not a CIFAR-10 batch (expected records of 3073 bytes, a "
                            "label 0..9 and 3072 pixels; the file has %zu bytes)", f->path, len);
    }
    return parse_csv(f, e);
}

int nnrt_file_parse(const char *name, const void *bytes, size_t len, NnrtFile **out, NnrtErr *e)
{
    *out = NULL;
    NnrtFile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = nnrt_strdup(name)) || !(f->buf = malloc(len + 1))) {
        nnrt_file_close(f);
        return nnrt_err(e, "%s: out of memory", name);
    }
    memcpy(f->buf, bytes, len);
    f->buf[len] = '\0';
    f->len = len;
    if (from_buffer(f, e) != 0) {
        nnrt_file_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int nnrt_file_open(NnrtFile **out, const char *path, NnrtErr *e)
{
    *out = NULL;
    NnrtFile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = nnrt_strdup(path))) {
        free(f);
        return nnrt_err(e, "%s: out of memory", path);
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        nnrt_err(e, "%s: cannot open (%s)", path, strerror(errno));
        nnrt_file_close(f);
        return -1;
    }
    unsigned char magic[6] = { 0 };
    size_t got = fread(magic, 1, 6, fp);
    fclose(fp);
    if (got == 6 && memcmp(magic, "\x93NUMPY", 6) == 0) {
        /* only the header now: the trainer may want some rows only
         * (nnrt_file_read_rows) */
        NnrtEntry *en = add_entries(f, 1, e);
        if (!en || set_name(f, en, "", e) != 0 || nnrt_npy_header_of(path, &en->h, e) != 0) {
            nnrt_file_close(f);
            return -1;
        }
        f->npy = 1;
        f->format = "npy";
        *out = f;
        return 0;
    }
    if (got >= 4 && (memcmp(magic, "PK\x03\x04", 4) == 0 || memcmp(magic, "PK\x05\x06", 4) == 0)) {
        if (nnrt_npz_open(&f->npz, path, e) != 0) {
            nnrt_file_close(f);
            return -1;
        }
        int n = nnrt_npz_count(f->npz);
        NnrtEntry *en = add_entries(f, n, e);
        for (int i = 0; en && i < n; i++)
            if (set_name(f, &en[i], nnrt_npz_name(f->npz, i), e) != 0)
                en = NULL;
        if (!en) {
            nnrt_file_close(f);
            return -1;
        }
        f->format = "npz";
        *out = f;
        return 0;
    }
    if (read_all(path, &f->buf, &f->len, e) != 0 || from_buffer(f, e) != 0) {
        nnrt_file_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void nnrt_file_close(NnrtFile *f)
{
    if (!f)
        return;
    if (f->pk) {
        nnrt_pickle_free(f->pk);
    } else {
        for (int i = 0; i < f->n; i++)
            free(f->e[i].name);
        free(f->e);
    }
    nnrt_npz_close(f->npz);
    free(f->buf);
    free(f->owned);
    free(f->owned2);
    free(f->path);
    free(f);
}

const char *nnrt_file_path(const NnrtFile *f)
{
    return f->path;
}

const char *nnrt_file_format(const NnrtFile *f)
{
    return f->format;
}

int nnrt_file_count(const NnrtFile *f)
{
    return f->n;
}

const char *nnrt_file_name(const NnrtFile *f, int i)
{
    return f->e[i].name;
}

int nnrt_file_labels(const NnrtFile *f, int i)
{
    return f->e[i].labels;
}

int nnrt_file_usable(const NnrtFile *f, int i)
{
    return f->e[i].why[0] == '\0';
}

int nnrt_file_find(const NnrtFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0)
            return i;
    return -1;
}

/* The arrays' names in the file's order, those that are no numeric array
 * with why ("data (not a numeric array: ...)"), so a message never hides
 * what is there. */
void nnrt_file_list(const NnrtFile *f, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < f->n && used < len; i++) {
        if (i == 12) {
            used += (size_t)snprintf(buf + used, len - used, ", ... (%d in all)", f->n);
            break;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 f->e[i].name[0] ? f->e[i].name : "(the whole file)");
        if (f->e[i].why[0] && used < len)
            used += (size_t)snprintf(buf + used, len - used, " (not a numeric array: %s)",
                                     f->e[i].why);
    }
    if (f->n == 0)
        snprintf(buf, len, "(none)");
}

void nnrt_file_what(const NnrtFile *f, int i, char *buf, size_t len)
{
    if (f->e[i].name[0])
        snprintf(buf, len, "%s: array '%s'", f->path, f->e[i].name);
    else
        snprintf(buf, len, "%s: the array", f->path);
}

int nnrt_file_header(NnrtFile *f, int i, NnrtNpyHeader *h, NnrtErr *e)
{
    char what[1200];
    nnrt_file_what(f, i, what, sizeof what);
    if (f->e[i].why[0])
        return nnrt_err(e, "%s is not a numeric array (%s)", what, f->e[i].why);
    if (f->npz)
        return nnrt_npz_header(f->npz, i, h, e);
    *h = f->e[i].h;
    return 0;
}

int nnrt_file_read(NnrtFile *f, int i, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    if (f->npz)
        return nnrt_npz_read(f->npz, i, a, e);
    if (f->npy)
        return nnrt_npy_read(f->path, a, e);
    if (nnrt_file_header(f, i, &a->h, e) != 0)
        return -1;
    size_t bytes = (size_t)a->h.count * (size_t)a->h.itemsize;
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data)
        return nnrt_err(e, "%s: out of memory (%zu bytes)", f->path, bytes);
    if (bytes)
        memcpy(a->data, f->e[i].data, bytes);
    if (a->h.swap) {
        nnrt_byteswap(a->data, a->h.count, a->h.itemsize);
        a->h.swap = 0;
    }
    return 0;
}

int nnrt_file_read_rows(NnrtFile *f, int i, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    if (f->npz)
        return nnrt_npz_read_rows(f->npz, i, lo, hi, a, e);
    if (f->npy)
        return nnrt_npy_read_rows(f->path, lo, hi, a, e);
    return 1;   /* read whole at opening (gzip, IDX, CSV, pickle, CIFAR) */
}
