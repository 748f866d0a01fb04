/*
 * common_npz.c - numpy's .npy arrays and .npz archives, read and written.
 *
 * An .npy file is a 10- or 12-byte prefix (magic "\x93NUMPY", version, header
 * length), a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), } and the raw elements.  An .npz file is a zip archive of
 * .npy members.  The reader finds the zip's end record, follows it (or its
 * zip64 twin) to the central directory, and reads each member through a
 * small stream that either copies stored bytes or inflates deflated ones
 * with zlib's raw inflate.  Sizes come from the central directory, where
 * zip64 extra fields replace 0xFFFFFFFF placeholders (np.savez writes every
 * member with force_zip64, so its local headers carry those placeholders).
 *
 * Every size a file states is checked against what the file can hold
 * before anything is allocated: a header that promises more elements than
 * follow, or a deflated member that claims a compression ratio deflate
 * cannot reach, is rejected with a message, never a crash or a huge malloc.
 * Members' CRC-32 values are verified.
 *
 * The writer stores members uncompressed (parameter files are small and
 * must be cheap to write) into PATH.part and renames it over PATH at the end.
 */
#include "nnrt_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#define MAX_HEADER (1u << 20)     /* numpy itself refuses headers over 10 kB */
#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u

/* ---- little-endian fields ---- */

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static void wr16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void wr32(unsigned char *p, uint32_t v)
{
    wr16(p, v & 0xffff);
    wr16(p + 2, v >> 16);
}

static int machine_is_little(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static int read_at(FILE *f, uint64_t off, void *buf, size_t n)
{
    if (off > (uint64_t)INT64_MAX || fseeko(f, (off_t)off, SEEK_SET) != 0)
        return -1;
    return fread(buf, 1, n, f) == n ? 0 : -1;
}

/* ---- a member's bytes, stored or deflated, from a file or from memory ---- */

typedef struct Stream {
    const char *what;          /* message prefix: "train.npz: array 'x'" */
    FILE *f;                   /* NULL: read from mem */
    const unsigned char *mem;
    uint64_t in_left;          /* file bytes of this member not read yet */
    uint64_t out_left;         /* uncompressed bytes not delivered yet */
    int deflated, z_open;
    z_stream z;
    uint32_t crc;
    unsigned char buf[1 << 16];
} Stream;

static int stream_read(Stream *s, void *dst, uint64_t n, NnrtErr *e)
{
    unsigned char *out = dst;
    if (n > s->out_left)
        return nnrt_err(e, "%s: truncated (needs %" PRIu64 " more bytes, the member has %" PRIu64 ")",
                        s->what, n, s->out_left);
    uint64_t want = n;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        if (!s->f) {
            memcpy(out, s->mem, chunk);
            s->mem += chunk;
        } else if (!s->deflated) {
            if (fread(out, 1, chunk, s->f) != chunk)
                return nnrt_err(e, "%s: truncated (the file ends inside the data)", s->what);
            s->in_left -= chunk;
            nnrt_bytes_read += (int64_t)chunk;
        } else {
            s->z.next_out = out;
            s->z.avail_out = (uInt)chunk;
            while (s->z.avail_out > 0) {
                if (s->z.avail_in == 0 && s->in_left > 0) {
                    size_t m = s->in_left < sizeof s->buf ? (size_t)s->in_left : sizeof s->buf;
                    if (fread(s->buf, 1, m, s->f) != m)
                        return nnrt_err(e, "%s: truncated (the file ends inside the compressed data)",
                                        s->what);
                    s->in_left -= m;
                    nnrt_bytes_read += (int64_t)m;
                    s->z.next_in = s->buf;
                    s->z.avail_in = (uInt)m;
                }
                int r = inflate(&s->z, Z_NO_FLUSH);
                if (r == Z_STREAM_END && s->z.avail_out > 0)
                    return nnrt_err(e, "%s: corrupt (the compressed data ends %u bytes early)",
                                    s->what, s->z.avail_out);
                if (r == Z_BUF_ERROR && s->in_left == 0 && s->z.avail_in == 0)
                    return nnrt_err(e, "%s: truncated (the compressed data ends early)", s->what);
                if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
                    return nnrt_err(e, "%s: corrupt compressed data (zlib: %s)", s->what,
                                    s->z.msg ? s->z.msg : "error");
            }
        }
        s->crc = (uint32_t)crc32(s->crc, out, (uInt)chunk);
        out += chunk;
        n -= chunk;
    }
    s->out_left -= want;
    return 0;
}

static void stream_close(Stream *s)
{
    if (s->z_open)
        inflateEnd(&s->z);
    s->z_open = 0;
}

/* ---- the .npy header ---- */

static int parse_descr(const char *what, const char *d, NnrtNpyHeader *h, NnrtErr *e)
{
    const char *p = d;
    char order = '=';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=' || *p == '!')
        order = *p++;
    char t = *p++;
    int size = 0;
    if (t == '?' && *p == '\0') {
        t = 'b';
        size = 1;
    } else {
        while (*p >= '0' && *p <= '9' && size < 100)
            size = size * 10 + (*p++ - '0');
    }
    int ok = *p == '\0' &&
             ((t == 'f' && (size == 2 || size == 4 || size == 8)) ||
              ((t == 'i' || t == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
              (t == 'b' && size == 1));
    if (!ok)
        return nnrt_err(e, "%s: dtype '%s' is not supported (expected a float16/32/64, "
                        "(u)int8/16/32/64 or bool array)", what, d);
    h->kind = t;
    h->itemsize = size;
    int big = order == '>' || order == '!';
    int little = order == '<';
    h->swap = size > 1 && ((big && machine_is_little()) || (little && !machine_is_little()));
    snprintf(h->descr, sizeof h->descr, "%s", d);
    return 0;
}

typedef struct HdrParser {
    const char *p, *end;
} HdrParser;

static void hp_space(HdrParser *hp)
{
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r'))
        hp->p++;
}

static int hp_char(HdrParser *hp, char c)
{
    hp_space(hp);
    if (hp->p < hp->end && *hp->p == c) {
        hp->p++;
        return 1;
    }
    return 0;
}

static int hp_string(HdrParser *hp, char *out, size_t len)
{
    hp_space(hp);
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"'))
        return -1;
    char q = *hp->p++;
    size_t n = 0;
    while (hp->p < hp->end && *hp->p != q) {
        if (*hp->p == '\\' && hp->p + 1 < hp->end)
            hp->p++;
        if (n + 1 >= len)
            return -1;
        out[n++] = *hp->p++;
    }
    if (hp->p >= hp->end)
        return -1;
    hp->p++;
    out[n] = '\0';
    return 0;
}

static int hp_word(HdrParser *hp, const char *w)
{
    hp_space(hp);
    size_t n = strlen(w);
    if ((size_t)(hp->end - hp->p) >= n && memcmp(hp->p, w, n) == 0) {
        hp->p += n;
        return 1;
    }
    return 0;
}

static int parse_header(const char *what, const char *txt, size_t len, NnrtNpyHeader *h,
                        NnrtErr *e)
{
    HdrParser hp = { txt, txt + len };
    int have_descr = 0, have_order = 0, have_shape = 0;
    char key[64], descr[64];
    if (!hp_char(&hp, '{'))
        return nnrt_err(e, "%s: corrupt .npy header (expected a dict '{...}')", what);
    while (!hp_char(&hp, '}')) {
        if (hp_string(&hp, key, sizeof key) != 0 || !hp_char(&hp, ':'))
            return nnrt_err(e, "%s: corrupt .npy header (expected 'key': value)", what);
        if (strcmp(key, "descr") == 0) {
            hp_space(&hp);
            if (hp.p < hp.end && *hp.p == '[')
                return nnrt_err(e, "%s: structured (record) arrays are not supported "
                                "(expected a plain numeric dtype such as '<f4')", what);
            if (hp_string(&hp, descr, sizeof descr) != 0)
                return nnrt_err(e, "%s: corrupt .npy header (bad 'descr')", what);
            if (parse_descr(what, descr, h, e) != 0)
                return -1;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (hp_word(&hp, "True"))
                h->fortran = 1;
            else if (hp_word(&hp, "False"))
                h->fortran = 0;
            else
                return nnrt_err(e, "%s: corrupt .npy header (fortran_order is not True or False)",
                                what);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!hp_char(&hp, '('))
                return nnrt_err(e, "%s: corrupt .npy header (shape is not a tuple)", what);
            h->rank = 0;
            while (!hp_char(&hp, ')')) {
                hp_space(&hp);
                if (hp.p >= hp.end || *hp.p < '0' || *hp.p > '9')
                    return nnrt_err(e, "%s: corrupt .npy header (shape holds something other "
                                    "than non-negative integers)", what);
                int64_t v = 0;
                while (hp.p < hp.end && *hp.p >= '0' && *hp.p <= '9') {
                    if (v > (INT64_MAX - 9) / 10)
                        return nnrt_err(e, "%s: corrupt .npy header (absurd dimension in shape)",
                                        what);
                    v = v * 10 + (*hp.p++ - '0');
                }
                if (hp.p < hp.end && *hp.p == 'L')
                    hp.p++;
                if (h->rank == NNRT_NPY_MAXRANK)
                    return nnrt_err(e, "%s: array has more than %d dimensions", what,
                                    NNRT_NPY_MAXRANK);
                h->shape[h->rank++] = v;
                if (!hp_char(&hp, ',')) {
                    if (!hp_char(&hp, ')'))
                        return nnrt_err(e, "%s: corrupt .npy header (bad shape tuple)", what);
                    break;
                }
            }
            have_shape = 1;
        } else {
            return nnrt_err(e, "%s: corrupt .npy header (unexpected key '%s'; expected descr, "
                            "fortran_order, shape)", what, key);
        }
        if (!hp_char(&hp, ',')) {
            if (!hp_char(&hp, '}'))
                return nnrt_err(e, "%s: corrupt .npy header (expected ',' or '}')", what);
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return nnrt_err(e, "%s: corrupt .npy header (no '%s')", what,
                        !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    int64_t count = 1;
    for (int i = 0; i < h->rank; i++) {
        if (h->shape[i] != 0 && count > INT64_MAX / 16 / h->shape[i])
            return nnrt_err(e, "%s: absurd shape in the .npy header (more elements than "
                            "any file can hold)", what);
        count *= h->shape[i];
    }
    h->count = count;
    return 0;
}

/* Reads the prefix and header from s, which has `total` bytes; leaves s at
 * the first element. */
static int npy_read_header(Stream *s, NnrtNpyHeader *h, NnrtErr *e)
{
    const char *what = s->what;
    uint64_t total = s->out_left;
    unsigned char pre[12];
    memset(h, 0, sizeof *h);
    if (total < 10)
        return nnrt_err(e, "%s: not an .npy array (%" PRIu64 " bytes; expected at least a "
                        "10-byte prefix)", what, total);
    if (stream_read(s, pre, 8, e) != 0)
        return -1;
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return nnrt_err(e, "%s: not an .npy array (expected the magic bytes \\x93NUMPY)", what);
    int major = pre[6], minor = pre[7];
    uint64_t hlen, prefix;
    if (major == 1) {
        if (stream_read(s, pre + 8, 2, e) != 0)
            return -1;
        hlen = rd16(pre + 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (total < 12)
            return nnrt_err(e, "%s: truncated .npy prefix", what);
        if (stream_read(s, pre + 8, 4, e) != 0)
            return -1;
        hlen = rd32(pre + 8);
        prefix = 12;
    } else {
        return nnrt_err(e, "%s: unsupported .npy format version %d.%d (expected 1.0, 2.0 or 3.0)",
                        what, major, minor);
    }
    if (hlen > MAX_HEADER)
        return nnrt_err(e, "%s: absurd .npy header length %" PRIu64 " (expected at most %u bytes)",
                        what, hlen, MAX_HEADER);
    if (hlen > total - prefix)
        return nnrt_err(e, "%s: truncated (the header claims %" PRIu64 " bytes, only %" PRIu64
                        " follow)", what, hlen, total - prefix);
    char *txt = malloc(hlen + 1);
    if (!txt)
        return nnrt_err(e, "%s: out of memory", what);
    if (stream_read(s, txt, hlen, e) != 0) {
        free(txt);
        return -1;
    }
    txt[hlen] = '\0';
    int r = parse_header(what, txt, hlen, h, e);
    free(txt);
    if (r != 0)
        return -1;
    uint64_t need = (uint64_t)h->count * (uint64_t)h->itemsize;
    if (need > s->out_left) {
        char dims[256];
        nnrt_format_dims64(dims, sizeof dims, h->rank, h->shape);
        return nnrt_err(e, "%s: truncated (shape %s of %s needs %" PRIu64 " bytes of data, "
                        "found %" PRIu64 ")", what, dims, h->descr, need, s->out_left);
    }
    return 0;
}

void nnrt_byteswap(void *data, int64_t count, int size)
{
    unsigned char *p = data;
    if (size == 1)
        return;
    for (int64_t i = 0; i < count; i++, p += size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Reads header and elements; data byte-swapped into machine order. */
static int npy_read_stream(Stream *s, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    if (npy_read_header(s, &a->h, e) != 0)
        return -1;
    uint64_t bytes = (uint64_t)a->h.count * (uint64_t)a->h.itemsize;
    if (bytes > SIZE_MAX)
        return nnrt_err(e, "%s: too large for this machine", s->what);
    a->data = malloc(bytes ? (size_t)bytes : 1);
    if (!a->data) {
        return nnrt_err(e, "%s: out of memory (%" PRIu64 " bytes)", s->what, bytes);
    }
    if (stream_read(s, a->data, bytes, e) != 0) {
        free(a->data);
        a->data = NULL;
        return -1;
    }
    if (a->h.swap) {
        nnrt_byteswap(a->data, a->h.count, a->h.itemsize);
        a->h.swap = 0;
    }
    return 0;
}

/* Reads the header, then only samples lo..hi (rows of axis 0) of a C-order
 * array stored as is in a file (an .npy, a stored .npz member): a seek
 * past the rows before them, and the rows after them are never read.  The
 * result's first dimension is hi - lo.  1 when the array cannot be read
 * so (Fortran order: a row is spread over the file; a scalar), before its
 * data is read. */
static int npy_read_rows(Stream *s, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    if (npy_read_header(s, &a->h, e) != 0)
        return -1;
    if (!s->f || s->deflated || a->h.fortran || a->h.rank == 0)
        return 1;
    int64_t n = a->h.shape[0];
    if (lo < 0 || lo > hi || hi > n)
        return nnrt_err(e, "%s: samples %lld to %lld asked of %lld", s->what, (long long)lo,
                        (long long)hi, (long long)n);
    int64_t per = n ? a->h.count / n : 0;
    uint64_t row = (uint64_t)per * (uint64_t)a->h.itemsize;
    uint64_t bytes = (uint64_t)(hi - lo) * row;
    off_t here = ftello(s->f);
    if (bytes > SIZE_MAX)
        return nnrt_err(e, "%s: too large for this machine", s->what);
    if (here < 0 || fseeko(s->f, here + (off_t)((uint64_t)lo * row), SEEK_SET) != 0)
        return nnrt_err(e, "%s: cannot read (seeking to sample %lld)", s->what, (long long)lo);
    s->in_left -= (uint64_t)lo * row;
    s->out_left -= (uint64_t)lo * row;
    a->data = malloc(bytes ? (size_t)bytes : 1);
    if (!a->data)
        return nnrt_err(e, "%s: out of memory (%" PRIu64 " bytes)", s->what, bytes);
    if (stream_read(s, a->data, bytes, e) != 0) {
        nnrt_array_free(a);
        return -1;
    }
    a->h.shape[0] = hi - lo;
    a->h.count = (hi - lo) * per;
    if (a->h.swap) {
        nnrt_byteswap(a->data, a->h.count, a->h.itemsize);
        a->h.swap = 0;
    }
    return 0;
}

void nnrt_array_free(NnrtArray *a)
{
    free(a->data);
    a->data = NULL;
}

int nnrt_npy_parse(const char *what, const void *bytes, size_t len, NnrtArray *a, NnrtErr *e)
{
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", what);
    s->what = what;
    s->mem = bytes;
    s->out_left = len;
    int r = npy_read_stream(s, a, e);
    free(s);
    return r;
}

int nnrt_npy_read(const char *path, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nnrt_err(e, "%s: cannot open (%s)", path, strerror(errno));
    Stream *s = calloc(1, sizeof *s);
    if (!s) {
        fclose(f);
        return nnrt_err(e, "%s: out of memory", path);
    }
    int r = -1;
    if (fseeko(f, 0, SEEK_END) != 0) {
        nnrt_err(e, "%s: cannot read (not a regular file?)", path);
    } else {
        off_t len = ftello(f);
        rewind(f);
        s->what = path;
        s->f = f;
        s->in_left = s->out_left = (uint64_t)(len < 0 ? 0 : len);
        r = npy_read_stream(s, a, e);
    }
    free(s);
    fclose(f);
    return r;
}

/* An .npy file as a stream (s->f open, sizes set); -1 with a message. */
static int npy_file_stream(const char *path, Stream *s, NnrtErr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nnrt_err(e, "%s: cannot open (%s)", path, strerror(errno));
    off_t len;
    if (fseeko(f, 0, SEEK_END) != 0 || (len = ftello(f)) < 0) {
        fclose(f);
        return nnrt_err(e, "%s: cannot read (not a regular file?)", path);
    }
    rewind(f);
    s->what = path;
    s->f = f;
    s->in_left = s->out_left = (uint64_t)len;
    return 0;
}

int nnrt_npy_header_of(const char *path, NnrtNpyHeader *h, NnrtErr *e)
{
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", path);
    int r = npy_file_stream(path, s, e);
    if (r == 0) {
        r = npy_read_header(s, h, e);
        fclose(s->f);
    }
    free(s);
    return r;
}

int nnrt_npy_read_rows(const char *path, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e)
{
    a->data = NULL;
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", path);
    int r = npy_file_stream(path, s, e);
    if (r == 0) {
        r = npy_read_rows(s, lo, hi, a, e);
        fclose(s->f);
    }
    free(s);
    return r;
}

int nnrt_npy_descr(const char *what, const char *descr, NnrtNpyHeader *h, NnrtErr *e)
{
    return parse_descr(what, descr, h, e);
}

/* ---- reading .npz archives ---- */

typedef struct ZipEntry {
    char *name;               /* as stored: "x.npy" */
    char *key;                /* "x" */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local;
} ZipEntry;

struct NnrtNpz {
    FILE *f;
    char *path;
    uint64_t flen;
    int n;
    ZipEntry *e;
};

static int zip_fail(NnrtNpz *z, NnrtErr *e, const char *why)
{
    nnrt_err(e, "%s: not a valid .npz archive (%s)", z->path, why);
    return -1;
}

/* Finds the end-of-central-directory record (it ends the file, followed
 * only by a comment of at most 65535 bytes). */
static int find_directory(NnrtNpz *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count,
                          NnrtErr *e)
{
    uint64_t tail = z->flen < 22 + 65535 ? z->flen : 22 + 65535;
    unsigned char *buf = malloc(tail);
    if (!buf)
        return nnrt_err(e, "%s: out of memory", z->path);
    if (read_at(z->f, z->flen - tail, buf, tail) != 0) {
        free(buf);
        return nnrt_err(e, "%s: cannot read", z->path);
    }
    int64_t at = -1;
    for (int64_t i = (int64_t)tail - 22; i >= 0; i--)
        if (rd32(buf + i) == SIG_END && (uint64_t)i + 22 + rd16(buf + i + 20) <= tail) {
            at = i;
            break;
        }
    if (at < 0) {
        int npy = tail >= 6 && z->flen == tail && memcmp(buf, "\x93NUMPY", 6) == 0;
        free(buf);
        return zip_fail(z, e, npy ? "it is an .npy file, expected a zip of .npy files"
                                  : "no zip end-of-directory record");
    }
    const unsigned char *p = buf + at;
    uint64_t end_off = z->flen - tail + (uint64_t)at;
    *count = rd16(p + 10);
    *cd_size = rd32(p + 12);
    *cd_off = rd32(p + 16);
    free(buf);
    if (*count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        unsigned char loc[20], rec[56];
        if (end_off < 20 || read_at(z->f, end_off - 20, loc, 20) != 0 || rd32(loc) != SIG_LOC64)
            return zip_fail(z, e, "zip64 locator missing");
        uint64_t off64 = rd64(loc + 8);
        if (off64 > z->flen || z->flen - off64 < 56 || read_at(z->f, off64, rec, 56) != 0 ||
            rd32(rec) != SIG_END64)
            return zip_fail(z, e, "zip64 end record missing");
        *count = rd64(rec + 32);
        *cd_size = rd64(rec + 40);
        *cd_off = rd64(rec + 48);
    }
    if (*cd_off > z->flen || *cd_size > z->flen - *cd_off)
        return zip_fail(z, e, "the central directory lies outside the file (truncated?)");
    if (*count > *cd_size / 46)
        return zip_fail(z, e, "the directory claims more members than it can hold");
    return 0;
}

static int parse_directory(NnrtNpz *z, const unsigned char *cd, uint64_t size, uint64_t count,
                           NnrtErr *e)
{
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e)
        return nnrt_err(e, "%s: out of memory", z->path);
    uint64_t pos = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (size - pos < 46 || rd32(cd + pos) != SIG_CENTRAL)
            return zip_fail(z, e, "corrupt central directory");
        const unsigned char *p = cd + pos;
        ZipEntry *en = &z->e[z->n];
        en->flags = rd16(p + 8);
        en->method = rd16(p + 10);
        en->crc = rd32(p + 16);
        en->csize = rd32(p + 20);
        en->usize = rd32(p + 24);
        uint32_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
        en->local = rd32(p + 42);
        if (size - pos - 46 < (uint64_t)nlen + xlen + clen)
            return zip_fail(z, e, "corrupt central directory entry");
        en->name = malloc(nlen + 1);
        if (!en->name)
            return nnrt_err(e, "%s: out of memory", z->path);
        memcpy(en->name, p + 46, nlen);
        en->name[nlen] = '\0';
        z->n++;
        if (strlen(en->name) != nlen)
            return zip_fail(z, e, "a member name holds a NUL byte");
        /* zip64 extra field: the 64-bit values of the fields set to 0xFFFFFFFF,
         * in the order uncompressed size, compressed size, local offset. */
        const unsigned char *x = p + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if (xend - x - 4 < sz)
                return zip_fail(z, e, "corrupt extra field");
            if (id == 0x0001) {
                const unsigned char *q = x + 4, *qend = q + sz;
                if (en->usize == 0xffffffffu) {
                    if (qend - q < 8)
                        return zip_fail(z, e, "short zip64 extra field");
                    en->usize = rd64(q);
                    q += 8;
                }
                if (en->csize == 0xffffffffu) {
                    if (qend - q < 8)
                        return zip_fail(z, e, "short zip64 extra field");
                    en->csize = rd64(q);
                    q += 8;
                }
                if (en->local == 0xffffffffu) {
                    if (qend - q < 8)
                        return zip_fail(z, e, "short zip64 extra field");
                    en->local = rd64(q);
                }
            }
            x += 4 + sz;
        }
        if (en->local > z->flen || en->csize > z->flen)
            return zip_fail(z, e, "a member lies outside the file (truncated?)");
        size_t kl = nlen;
        if (nnrt_ends_with(en->name, ".npy"))
            kl -= 4;
        en->key = malloc(kl + 1);
        if (!en->key)
            return nnrt_err(e, "%s: out of memory", z->path);
        memcpy(en->key, en->name, kl);
        en->key[kl] = '\0';
        pos += 46 + (uint64_t)nlen + xlen + clen;
    }
    /* numpy reads the last of two members of one name, a zip tool the
     * first: refused rather than guessed ("x.npy" and "x" count as one) */
    NnrtName *names = malloc((size_t)(z->n ? z->n : 1) * sizeof *names);
    if (!names)
        return nnrt_err(e, "%s: out of memory", z->path);
    for (int i = 0; i < z->n; i++) {
        names[i].s = z->e[i].key;
        names[i].len = strlen(z->e[i].key);
    }
    int k = nnrt_find_repeat(names, z->n);
    free(names);
    if (k >= 0)
        return nnrt_err(e, "%s: the archive holds two members named '%s' (numpy would read the "
                        "last, nnc refuses to guess: write each array once)", z->path,
                        z->e[k].key);
    return 0;
}

int nnrt_npz_open(NnrtNpz **out, const char *path, NnrtErr *e)
{
    *out = NULL;
    NnrtNpz *z = calloc(1, sizeof *z);
    if (!z)
        return nnrt_err(e, "%s: out of memory", path);
    z->path = nnrt_strdup(path);
    z->f = fopen(path, "rb");
    if (!z->path || !z->f) {
        nnrt_err(e, "%s: cannot open (%s)", path, z->path ? strerror(errno) : "out of memory");
        nnrt_npz_close(z);
        return -1;
    }
    off_t len;
    if (fseeko(z->f, 0, SEEK_END) != 0 || (len = ftello(z->f)) < 0) {
        nnrt_err(e, "%s: cannot read (not a regular file?)", path);
        nnrt_npz_close(z);
        return -1;
    }
    z->flen = (uint64_t)len;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    if (z->flen < 22) {
        zip_fail(z, e, "too short for a zip file");
        nnrt_npz_close(z);
        return -1;
    }
    if (find_directory(z, &cd_off, &cd_size, &count, e) != 0) {
        nnrt_npz_close(z);
        return -1;
    }
    unsigned char *cd = malloc(cd_size ? cd_size : 1);
    int r = -1;
    if (!cd)
        nnrt_err(e, "%s: out of memory", path);
    else if (read_at(z->f, cd_off, cd, cd_size) != 0)
        zip_fail(z, e, "cannot read the central directory");
    else
        r = parse_directory(z, cd, cd_size, count, e);
    free(cd);
    if (r != 0) {
        nnrt_npz_close(z);
        return -1;
    }
    *out = z;
    return 0;
}

void nnrt_npz_close(NnrtNpz *z)
{
    if (!z)
        return;
    for (int i = 0; i < z->n; i++) {
        free(z->e[i].name);
        free(z->e[i].key);
    }
    free(z->e);
    if (z->f)
        fclose(z->f);
    free(z->path);
    free(z);
}

const char *nnrt_npz_path(const NnrtNpz *z)
{
    return z->path;
}

int nnrt_npz_count(const NnrtNpz *z)
{
    return z->n;
}

const char *nnrt_npz_name(const NnrtNpz *z, int i)
{
    return z->e[i].key;
}

int nnrt_npz_find(const NnrtNpz *z, const char *name)
{
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].key, name) == 0)
            return i;
    return -1;
}

void nnrt_npz_list(const NnrtNpz *z, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (z->n == 0)
        snprintf(buf, len, "(none)");
    for (int i = 0; i < z->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", z->e[i].key);
}

static int member_open(NnrtNpz *z, int i, Stream *s, char *what, size_t wlen, NnrtErr *e)
{
    ZipEntry *en = &z->e[i];
    snprintf(what, wlen, "%s: array '%s'", z->path, en->key);
    s->what = what;
    if (en->flags & 1)
        return nnrt_err(e, "%s: is encrypted (not supported)", what);
    if (en->method != 0 && en->method != 8)
        return nnrt_err(e, "%s: compression method %u is not supported (expected stored or "
                        "deflated)", what, en->method);
    unsigned char lh[30];
    if (z->flen - en->local < 30 || read_at(z->f, en->local, lh, 30) != 0 ||
        rd32(lh) != SIG_LOCAL)
        return nnrt_err(e, "%s: corrupt archive (bad local header)", what);
    uint64_t data = en->local + 30 + rd16(lh + 26) + rd16(lh + 28);
    if (data > z->flen || en->csize > z->flen - data)
        return nnrt_err(e, "%s: truncated (the member's %" PRIu64 " bytes run past the end "
                        "of the file)", what, en->csize);
    if (en->method == 0 && en->csize != en->usize)
        return nnrt_err(e, "%s: corrupt archive (stored member with different sizes)", what);
    /* Deflate cannot compress better than about 1032:1; a larger claimed
     * size is corruption, and must not turn into a huge allocation. */
    if (en->method == 8 && en->usize / 1032 > en->csize + 64)
        return nnrt_err(e, "%s: corrupt archive (claims %" PRIu64 " bytes from %" PRIu64
                        " compressed)", what, en->usize, en->csize);
    if (fseeko(z->f, (off_t)data, SEEK_SET) != 0)
        return nnrt_err(e, "%s: cannot read", what);
    s->f = z->f;
    s->in_left = en->csize;
    s->out_left = en->usize;
    s->crc = 0;
    if (en->method == 8) {
        s->deflated = 1;
        memset(&s->z, 0, sizeof s->z);
        if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK)
            return nnrt_err(e, "%s: zlib failed to start", what);
        s->z_open = 1;
    }
    return 0;
}

int nnrt_npz_header(NnrtNpz *z, int i, NnrtNpyHeader *h, NnrtErr *e)
{
    char what[1200];
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", z->path);
    int r = member_open(z, i, s, what, sizeof what, e);
    if (r == 0)
        r = npy_read_header(s, h, e);
    stream_close(s);
    free(s);
    return r;
}

int nnrt_npz_read(NnrtNpz *z, int i, NnrtArray *a, NnrtErr *e)
{
    char what[1200];
    a->data = NULL;
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", z->path);
    int r = member_open(z, i, s, what, sizeof what, e);
    if (r == 0)
        r = npy_read_stream(s, a, e);
    /* numpy writes nothing after the data; inflating what a member claims
     * beyond it (a zip bomb behind a small array) is not done */
    if (r == 0 && s->out_left > 0)
        r = nnrt_err(e, "%s: corrupt (%" PRIu64 " bytes after the array's data, which numpy "
                     "never writes)", what, s->out_left);
    if (r == 0 && s->crc != z->e[i].crc)
        r = nnrt_err(e, "%s: corrupt (CRC-32 mismatch: computed %08x, the archive says %08x)",
                     what, s->crc, z->e[i].crc);
    stream_close(s);
    free(s);
    if (r != 0)
        nnrt_array_free(a);
    return r;
}

/* Samples lo..hi of a stored member (npy_read_rows); 1 when it is deflated
 * (a deflate stream is read from its start) or cannot be read by rows.
 * The member's CRC-32 covers all of its bytes, so it is not checked here;
 * the sizes are. */
int nnrt_npz_read_rows(NnrtNpz *z, int i, int64_t lo, int64_t hi, NnrtArray *a, NnrtErr *e)
{
    char what[1200];
    a->data = NULL;
    if (z->e[i].method != 0)
        return 1;
    Stream *s = calloc(1, sizeof *s);
    if (!s)
        return nnrt_err(e, "%s: out of memory", z->path);
    int r = member_open(z, i, s, what, sizeof what, e);
    if (r == 0)
        r = npy_read_rows(s, lo, hi, a, e);
    stream_close(s);
    free(s);
    if (r != 0)
        nnrt_array_free(a);
    return r;
}

/* ---- element conversion ---- */

static double half_to_double(uint16_t h)
{
    int ex = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (ex == 0)
        v = ldexp(m, -24);
    else if (ex == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m + 1024, ex - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element at storage position i. */
static double raw_get(const NnrtNpyHeader *h, const void *data, int64_t i)
{
    const unsigned char *p = (const unsigned char *)data + i * h->itemsize;
    switch (h->kind) {
    case 'f':
        if (h->itemsize == 2) {
            uint16_t v;
            memcpy(&v, p, 2);
            return half_to_double(v);
        } else if (h->itemsize == 4) {
            float v;
            memcpy(&v, p, 4);
            return v;
        } else {
            double v;
            memcpy(&v, p, 8);
            return v;
        }
    case 'i':
        switch (h->itemsize) {
        case 1: { int8_t v; memcpy(&v, p, 1); return v; }
        case 2: { int16_t v; memcpy(&v, p, 2); return v; }
        case 4: { int32_t v; memcpy(&v, p, 4); return v; }
        default: { int64_t v; memcpy(&v, p, 8); return (double)v; }
        }
    case 'u':
        switch (h->itemsize) {
        case 1: return *p;
        case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
        default: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
        }
    default:
        return *p != 0;
    }
}

/* Storage position of C-order element i (differs only for Fortran order). */
static int64_t storage_index(const NnrtNpyHeader *h, int64_t i)
{
    if (!h->fortran || h->rank <= 1)
        return i;
    int64_t off = 0, stride = 1, idx[NNRT_NPY_MAXRANK];
    for (int k = h->rank - 1; k >= 0; k--) {
        idx[k] = i % h->shape[k];
        i /= h->shape[k];
    }
    for (int k = 0; k < h->rank; k++) {
        off += idx[k] * stride;
        stride *= h->shape[k];
    }
    return off;
}

double nnrt_array_get(const NnrtArray *a, int64_t i)
{
    return raw_get(&a->h, a->data, storage_index(&a->h, i));
}

/* Walks the array in C order, calling raw_get on the storage position, with
 * an odometer so Fortran order costs no division per element. */
#define CONVERT_BODY(T)                                                        \
    do {                                                                       \
        const NnrtNpyHeader *h = &a->h;                                        \
        if (!h->fortran || h->rank <= 1) {                                     \
            for (int64_t i = 0; i < h->count; i++)                             \
                dst[i] = (T)raw_get(h, a->data, i);                            \
        } else {                                                               \
            int64_t idx[NNRT_NPY_MAXRANK] = { 0 }, fs[NNRT_NPY_MAXRANK], off = 0; \
            fs[0] = 1;                                                         \
            for (int k = 1; k < h->rank; k++)                                  \
                fs[k] = fs[k - 1] * h->shape[k - 1];                           \
            for (int64_t i = 0; i < h->count; i++) {                           \
                dst[i] = (T)raw_get(h, a->data, off);                          \
                for (int k = h->rank - 1; k >= 0; k--) {                       \
                    off += fs[k];                                              \
                    if (++idx[k] < h->shape[k])                                \
                        break;                                                 \
                    off -= fs[k] * h->shape[k];                                \
                    idx[k] = 0;                                                \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

int nnrt_array_to_f32(NnrtArray *a, float **out, NnrtErr *e)
{
    if (a->h.kind == 'f' && a->h.itemsize == 4 && (!a->h.fortran || a->h.rank <= 1)) {
        *out = a->data;
        a->data = NULL;
        return 0;
    }
    float *dst = malloc(a->h.count ? (size_t)a->h.count * sizeof *dst : 1);
    if (!dst)
        return nnrt_err(e, "out of memory converting an array of %lld elements",
                        (long long)a->h.count);
    CONVERT_BODY(float);
    *out = dst;
    return 0;
}

int nnrt_array_to_f64(NnrtArray *a, double **out, NnrtErr *e)
{
    if (a->h.kind == 'f' && a->h.itemsize == 8 && (!a->h.fortran || a->h.rank <= 1)) {
        *out = a->data;
        a->data = NULL;
        return 0;
    }
    double *dst = malloc(a->h.count ? (size_t)a->h.count * sizeof *dst : 1);
    if (!dst)
        return nnrt_err(e, "out of memory converting an array of %lld elements",
                        (long long)a->h.count);
    CONVERT_BODY(double);
    *out = dst;
    return 0;
}

/* ---- writing .npz archives ---- */

typedef struct WMember {
    char *name;
    uint32_t crc, size;
    uint64_t off;
} WMember;

struct NnrtNpzWriter {
    FILE *f;
    char *path, *part;
    uint64_t pos;
    int n, cap;
    WMember *m;
};

void nnrt_native_descr(char *buf, size_t len, char kind, int itemsize)
{
    char order = itemsize == 1 ? '|' : machine_is_little() ? '<' : '>';
    snprintf(buf, len, "%c%c%d", order, kind, itemsize);
}

int nnrt_npz_create(NnrtNpzWriter **out, const char *path, NnrtErr *e)
{
    *out = NULL;
    NnrtNpzWriter *w = calloc(1, sizeof *w);
    if (!w)
        return nnrt_err(e, "%s: out of memory", path);
    size_t n = strlen(path);
    w->path = nnrt_strdup(path);
    w->part = malloc(n + 6);
    if (!w->path || !w->part) {
        nnrt_npz_abandon(w);
        return nnrt_err(e, "%s: out of memory", path);
    }
    snprintf(w->part, n + 6, "%s.part", path);
    if (nnrt_output_check(path, e) != 0 || !(w->f = nnrt_open_part(path, w->part, e))) {
        free(w->part);   /* not ours to remove */
        w->part = NULL;
        nnrt_npz_abandon(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int w_put(NnrtNpzWriter *w, const void *p, size_t n, NnrtErr *e)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return nnrt_err(e, "%s: write failed (%s)", w->path, strerror(errno));
    w->pos += n;
    return 0;
}

int nnrt_npz_add(NnrtNpzWriter *w, const char *name, const char *descr, int fortran,
                 int rank, const int64_t *shape, const void *data, NnrtErr *e)
{
    NnrtNpyHeader h;
    memset(&h, 0, sizeof h);
    if (parse_descr(w->path, descr, &h, e) != 0)
        return -1;
    if (rank < 0 || rank > NNRT_NPY_MAXRANK)
        return nnrt_err(e, "%s: array '%s' has bad rank %d", w->path, name, rank);
    /* The header: a dict literal padded with spaces so the data starts at a
     * multiple of 64 bytes, ending in '\n' (numpy's own layout). */
    char hdr[2048], dims[1024];
    size_t used = 0;
    uint64_t count = 1;
    dims[0] = '\0';
    for (int i = 0; i < rank; i++) {
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%lld,%s",
                                 (long long)shape[i], i + 1 < rank ? " " : "");
        count *= (uint64_t)shape[i];
    }
    if (rank > 1)
        dims[used - 1] = '\0';     /* (3, 4) but (3,) */
    int hl = snprintf(hdr + 10, sizeof hdr - 80, "{'descr': '%s', 'fortran_order': %s, "
                      "'shape': (%s), }", descr, fortran ? "True" : "False", dims);
    size_t total = 10 + (size_t)hl + 1;
    size_t padded = (total + 63) / 64 * 64;
    memset(hdr + 10 + hl, ' ', padded - total);
    hdr[padded - 1] = '\n';
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    wr16((unsigned char *)hdr + 8, (uint32_t)(padded - 10));
    uint64_t bytes = count * (uint64_t)h.itemsize;
    if (padded + bytes > 0xfffffffeu || w->pos > 0xfffffff0u)
        return nnrt_err(e, "%s: array '%s' is too large for this writer (4 GiB limit)",
                        w->path, name);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)hdr, (uInt)padded);
    if (bytes)
        crc = (uint32_t)crc32(crc, data, (uInt)bytes);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        WMember *m = realloc(w->m, (size_t)cap * sizeof *m);
        if (!m)
            return nnrt_err(e, "%s: out of memory", w->path);
        w->m = m;
        w->cap = cap;
    }
    size_t nlen = strlen(name) + 4;
    WMember *mem = &w->m[w->n];
    mem->name = malloc(nlen + 1);
    if (!mem->name)
        return nnrt_err(e, "%s: out of memory", w->path);
    snprintf(mem->name, nlen + 1, "%s.npy", name);
    mem->crc = crc;
    mem->size = (uint32_t)(padded + bytes);
    mem->off = w->pos;
    w->n++;
    unsigned char lh[30] = { 0 };
    wr32(lh, SIG_LOCAL);
    wr16(lh + 4, 20);             /* version needed: 2.0 */
    wr16(lh + 12, 0x21);          /* 1980-01-01: fixed, so files are reproducible */
    wr32(lh + 14, crc);
    wr32(lh + 18, mem->size);
    wr32(lh + 22, mem->size);
    wr16(lh + 26, (uint32_t)nlen);
    if (w_put(w, lh, 30, e) || w_put(w, mem->name, nlen, e) || w_put(w, hdr, padded, e) ||
        w_put(w, data, bytes, e))
        return -1;
    return 0;
}

int nnrt_npz_finish(NnrtNpzWriter *w, NnrtErr *e)
{
    uint64_t cd_off = w->pos;
    int r = 0;
    for (int i = 0; i < w->n && r == 0; i++) {
        unsigned char c[46] = { 0 };
        size_t nlen = strlen(w->m[i].name);
        wr32(c, SIG_CENTRAL);
        wr16(c + 4, 20);
        wr16(c + 6, 20);
        wr16(c + 14, 0x21);
        wr32(c + 16, w->m[i].crc);
        wr32(c + 20, w->m[i].size);
        wr32(c + 24, w->m[i].size);
        wr16(c + 28, (uint32_t)nlen);
        wr32(c + 42, (uint32_t)w->m[i].off);
        r = w_put(w, c, 46, e) || w_put(w, w->m[i].name, nlen, e) ? -1 : 0;
    }
    if (r == 0) {
        unsigned char end[22] = { 0 };
        wr32(end, SIG_END);
        wr16(end + 8, (uint32_t)w->n);
        wr16(end + 10, (uint32_t)w->n);
        wr32(end + 12, (uint32_t)(w->pos - cd_off));
        wr32(end + 16, (uint32_t)cd_off);
        if (w->n > 0xfffe)
            r = nnrt_err(e, "%s: too many arrays", w->path);
        else
            r = w_put(w, end, 22, e);
    }
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0 && r == 0)
        r = nnrt_err(e, "%s: write failed (%s)", w->path, strerror(errno));
    if (r == 0 && rename(w->part, w->path) != 0)
        r = nnrt_err(e, "%s: cannot write (%s)", w->path, strerror(errno));
    if (r != 0)
        remove(w->part);
    free(w->part);
    w->part = NULL;
    nnrt_npz_abandon(w);
    return r;
}

void nnrt_npz_abandon(NnrtNpzWriter *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->part)
        remove(w->part);
    for (int i = 0; i < w->n; i++)
        free(w->m[i].name);
    free(w->m);
    free(w->part);
    free(w->path);
    free(w);
}
