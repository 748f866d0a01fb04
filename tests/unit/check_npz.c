/*
 * check_npz.c - unit tests of the runtime's common part: .npy/.npz reading
 * and writing, the other data formats (pickle, IDX, CSV, CIFAR-10) through
 * the fuzz targets' seeds and saved crashes, the random number generator,
 * and the settings parser.
 *
 * Fixture files are written byte by byte from C (every dtype in both byte
 * orders, Fortran order, hand-built zip archives with stored and deflated
 * members and zip64 fields), plus two archives numpy itself wrote
 * (numpy_fixtures.h).  Broken files check that each problem is reported
 * with the file's name and what was expected, never a crash.
 */
#include "nnrt_internal.h"

#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../fuzz/fuzz_harness.h"
#include "numpy_fixtures.h"

static char tmpdir[512];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create fixture %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

#define ASSERT_MSG_HAS(err, text)                                                      \
    ck_assert_msg(strstr((err).msg, (text)) != NULL,                                 \
                  "message was \"%s\", expected it to contain \"%s\"", (err).msg, (text))

/* ---- growing byte buffers and .npy fixture bytes ---- */

typedef struct Buf {
    unsigned char *b;
    size_t len, cap;
} Buf;

static void put(Buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->b = realloc(b->b, b->cap);
        ck_assert_ptr_nonnull(b->b);
    }
    memcpy(b->b + b->len, p, n);
    b->len += n;
}

static void put_le(Buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

/* Appends an .npy file: version `major`, a header dict built from the
 * arguments, then `n` data bytes. */
static void put_npy(Buf *b, int major, const char *descr, int fortran, const char *shape,
                    const void *data, size_t n)
{
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                      descr, fortran ? "True" : "False", shape);
    size_t prefix = major == 1 ? 10 : 12;
    size_t total = (prefix + (size_t)hl + 1 + 63) / 64 * 64;
    put(b, "\x93NUMPY", 6);
    unsigned char ver[2] = { (unsigned char)major, 0 };
    put(b, ver, 2);
    put_le(b, total - prefix, major == 1 ? 2 : 4);
    put(b, hdr, (size_t)hl);
    for (size_t i = prefix + (size_t)hl; i + 1 < total; i++)
        put(b, " ", 1);
    put(b, "\n", 1);
    put(b, data, n);
}

/* One element of value v as `size` bytes of kind k, big- or little-endian. */
static void put_elem(unsigned char *p, char k, int size, int big, double v)
{
    unsigned char tmp[8];
    uint64_t u = 0;
    if (k == 'f' && size == 2) {
        /* exactly representable test values only */
        static const struct { double v; uint16_t h; } halves[] = {
            { -1, 0xbc00 }, { -0.5, 0xb800 }, { 0, 0 }, { 0.5, 0x3800 }, { 1, 0x3c00 },
            { 1.5, 0x3e00 }, { 2, 0x4000 }, { 2.5, 0x4100 },
        };
        for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++)
            if (halves[i].v == v)
                u = halves[i].h;
    } else if (k == 'f' && size == 4) {
        float f = (float)v;
        uint32_t w;
        memcpy(&w, &f, 4);
        u = w;
    } else if (k == 'f') {
        memcpy(&u, &v, 8);
    } else if (k == 'i') {
        u = (uint64_t)(int64_t)v;
    } else {
        u = (uint64_t)v;
    }
    for (int i = 0; i < size; i++)
        tmp[i] = (unsigned char)(u >> (8 * i));      /* little-endian */
    for (int i = 0; i < size; i++)
        p[i] = big ? tmp[size - 1 - i] : tmp[i];
}

typedef struct DtypeCase {
    char kind;
    int size;
} DtypeCase;

static const DtypeCase dtypes[] = {
    { 'f', 2 }, { 'f', 4 }, { 'f', 8 }, { 'i', 1 }, { 'i', 2 }, { 'i', 4 }, { 'i', 8 },
    { 'u', 1 }, { 'u', 2 }, { 'u', 4 }, { 'u', 8 }, { 'b', 1 },
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* The six values element i of a test array of this kind holds. */
static double case_value(char kind, int i)
{
    switch (kind) {
    case 'f': return -1 + 0.5 * i;
    case 'i': return i - 2;
    case 'u': return 250 * (i > 4) + i;    /* 0..4, then 255 (still fits in uint8) */
    default: return i % 2;
    }
}

static void case_descr(char *buf, const DtypeCase *c, int big)
{
    snprintf(buf, 8, "%c%c%d", c->size == 1 ? '|' : big ? '>' : '<', c->kind, c->size);
}

static void check_values(const NnrtArray *a, char kind, const char *what)
{
    ck_assert_int_eq(a->h.count, 6);
    ck_assert_int_eq(a->h.rank, 2);
    ck_assert_int_eq(a->h.shape[0], 2);
    ck_assert_int_eq(a->h.shape[1], 3);
    for (int i = 0; i < 6; i++) {
        double got = nnrt_array_get(a, i), want = case_value(kind, i);
        ck_assert_msg(got == want, "%s: element %d is %g, expected %g", what, i, got, want);
    }
    NnrtArray copy = *a;
    NnrtErr e;
    double *d;
    copy.data = malloc((size_t)(a->h.count * a->h.itemsize));
    memcpy(copy.data, a->data, (size_t)(a->h.count * a->h.itemsize));
    ck_assert_int_eq(nnrt_array_to_f64(&copy, &d, &e), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(d[i] == case_value(kind, i), "%s: converted element %d is %g, expected %g",
                      what, i, d[i], case_value(kind, i));
    free(d);
    nnrt_array_free(&copy);
}

START_TEST(test_every_dtype_round_trips_through_npy_in_both_byte_orders)
{
    for (int c = 0; c < NDTYPES; c++)
        for (int big = 0; big < 2; big++) {
            const DtypeCase *dc = &dtypes[c];
            unsigned char data[48];
            char descr[8], path[600];
            for (int i = 0; i < 6; i++)
                put_elem(data + i * dc->size, dc->kind, dc->size, big, case_value(dc->kind, i));
            case_descr(descr, dc, big);
            Buf b = { 0 };
            put_npy(&b, 1, descr, 0, "(2, 3)", data, (size_t)(6 * dc->size));
            tmp_path(path, sizeof path, "dtype.npy");
            write_file(path, b.b, b.len);
            free(b.b);
            NnrtArray a;
            NnrtErr e;
            ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "%s: %s", descr, e.msg);
            ck_assert_int_eq(a.h.kind, dc->kind);
            ck_assert_int_eq(a.h.itemsize, dc->size);
            check_values(&a, dc->kind, descr);
            nnrt_array_free(&a);
        }
}
END_TEST

START_TEST(test_every_dtype_round_trips_through_the_npz_writer)
{
    char path[600];
    NnrtErr e;
    NnrtNpzWriter *w;
    tmp_path(path, sizeof path, "dtypes.npz");
    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    int64_t shape[2] = { 2, 3 };
    for (int c = 0; c < NDTYPES; c++)
        for (int big = 0; big < 2; big++) {
            unsigned char data[48];
            char descr[8], name[32];
            for (int i = 0; i < 6; i++)
                put_elem(data + i * dtypes[c].size, dtypes[c].kind, dtypes[c].size, big,
                         case_value(dtypes[c].kind, i));
            case_descr(descr, &dtypes[c], big);
            snprintf(name, sizeof name, "a%d_%d", c, big);
            ck_assert_msg(nnrt_npz_add(w, name, descr, 0, 2, shape, data, &e) == 0, "%s", e.msg);
        }
    ck_assert_msg(nnrt_npz_finish(w, &e) == 0, "%s", e.msg);
    ck_assert_msg(access(path, F_OK) == 0, "the writer left no %s", path);

    NnrtNpz *z;
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(nnrt_npz_count(z), 2 * NDTYPES);
    for (int c = 0; c < NDTYPES; c++)
        for (int big = 0; big < 2; big++) {
            char name[32];
            snprintf(name, sizeof name, "a%d_%d", c, big);
            int i = nnrt_npz_find(z, name);
            ck_assert_msg(i >= 0, "array %s missing from the archive", name);
            NnrtArray a;
            ck_assert_msg(nnrt_npz_read(z, i, &a, &e) == 0, "%s", e.msg);
            check_values(&a, dtypes[c].kind, name);
            nnrt_array_free(&a);
        }
    nnrt_npz_close(z);
}
END_TEST

START_TEST(test_fortran_order_arrays_are_read_in_c_order)
{
    /* a[i][j] = 10 i + j for shape (2, 3), stored column by column */
    double stored[6] = { 0, 10, 1, 11, 2, 12 };
    Buf b = { 0 };
    char path[600];
    put_npy(&b, 1, "<f8", 1, "(2, 3)", stored, sizeof stored);
    tmp_path(path, sizeof path, "fortran.npy");
    write_file(path, b.b, b.len);
    free(b.b);
    NnrtArray a;
    NnrtErr e;
    ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "%s", e.msg);
    double *d;
    ck_assert_int_eq(nnrt_array_to_f64(&a, &d, &e), 0);
    double want[6] = { 0, 1, 2, 10, 11, 12 };
    for (int i = 0; i < 6; i++)
        ck_assert_msg(d[i] == want[i], "element %d is %g, expected %g", i, d[i], want[i]);
    free(d);
    nnrt_array_free(&a);

    /* rank 3, shape (2, 3, 4): a[i][j][k] = 100 i + 10 j + k, as float32 */
    float st3[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                st3[i + 2 * j + 6 * k] = (float)(100 * i + 10 * j + k);
    Buf b3 = { 0 };
    put_npy(&b3, 1, "<f4", 1, "(2, 3, 4)", st3, sizeof st3);
    write_file(path, b3.b, b3.len);
    free(b3.b);
    ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "%s", e.msg);
    float *f;
    ck_assert_int_eq(nnrt_array_to_f32(&a, &f, &e), 0);
    for (int i = 0; i < 24; i++) {
        float w = (float)(100 * (i / 12) + 10 * (i / 4 % 3) + i % 4);
        ck_assert_msg(f[i] == w, "element %d is %g, expected %g", i, f[i], w);
        ck_assert_msg(nnrt_array_get(&a, i) == w, "get(%d) is %g, expected %g", i,
                      nnrt_array_get(&a, i), w);
    }
    free(f);
    nnrt_array_free(&a);
}
END_TEST

START_TEST(test_npy_format_versions_2_and_3_are_read)
{
    for (int major = 2; major <= 3; major++) {
        float v[3] = { 1.5f, -2, 4 };
        Buf b = { 0 };
        char path[600];
        put_npy(&b, major, "<f4", 0, "(3,)", v, sizeof v);
        tmp_path(path, sizeof path, "v2.npy");
        write_file(path, b.b, b.len);
        free(b.b);
        NnrtArray a;
        NnrtErr e;
        ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "version %d: %s", major, e.msg);
        ck_assert_int_eq(a.h.rank, 1);
        ck_assert_int_eq(a.h.shape[0], 3);
        ck_assert(nnrt_array_get(&a, 2) == 4);
        nnrt_array_free(&a);
    }
}
END_TEST

START_TEST(test_scalars_and_empty_arrays_are_read)
{
    double one = 3.25;
    Buf b = { 0 };
    char path[600];
    put_npy(&b, 1, "<f8", 0, "()", &one, 8);
    tmp_path(path, sizeof path, "scalar.npy");
    write_file(path, b.b, b.len);
    free(b.b);
    NnrtArray a;
    NnrtErr e;
    ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.rank, 0);
    ck_assert_int_eq(a.h.count, 1);
    ck_assert(nnrt_array_get(&a, 0) == 3.25);
    nnrt_array_free(&a);
    Buf b2 = { 0 };
    put_npy(&b2, 1, "<f4", 0, "(0, 5)", NULL, 0);
    write_file(path, b2.b, b2.len);
    free(b2.b);
    ck_assert_msg(nnrt_npy_read(path, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.count, 0);
    nnrt_array_free(&a);
}
END_TEST

/* ---- hand-built zip archives ---- */

enum { Z_DEFLATE = 1, Z_LOCAL64 = 2, Z_CENTRAL64 = 4, Z_END64 = 8 };

typedef struct Member {
    const char *name;
    const unsigned char *data;
    size_t len;
} Member;

static void build_zip(Buf *out, const Member *m, int n, int flags)
{
    Buf cd = { 0 };
    uint64_t offs[16];
    for (int i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
        unsigned char *comp = (unsigned char *)m[i].data;
        size_t clen = m[i].len;
        if (flags & Z_DEFLATE) {
            z_stream z;
            memset(&z, 0, sizeof z);
            ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
            clen = deflateBound(&z, (uLong)m[i].len);
            comp = malloc(clen);
            z.next_in = (Bytef *)m[i].data;
            z.avail_in = (uInt)m[i].len;
            z.next_out = comp;
            z.avail_out = (uInt)clen;
            ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
            clen = z.total_out;
            deflateEnd(&z);
        }
        size_t nlen = strlen(m[i].name);
        int method = (flags & Z_DEFLATE) ? 8 : 0;
        offs[i] = out->len;
        put_le(out, 0x04034b50, 4);
        put_le(out, 45, 2);
        put_le(out, 0, 2);
        put_le(out, (uint64_t)method, 2);
        put_le(out, 0, 2);
        put_le(out, 0x21, 2);
        put_le(out, crc, 4);
        put_le(out, (flags & Z_LOCAL64) ? 0xffffffffu : clen, 4);
        put_le(out, (flags & Z_LOCAL64) ? 0xffffffffu : m[i].len, 4);
        put_le(out, nlen, 2);
        put_le(out, (flags & Z_LOCAL64) ? 20 : 0, 2);
        put(out, m[i].name, nlen);
        if (flags & Z_LOCAL64) {
            put_le(out, 1, 2);
            put_le(out, 16, 2);
            put_le(out, m[i].len, 8);
            put_le(out, clen, 8);
        }
        put(out, comp, clen);
        /* central directory entry */
        int c64 = (flags & Z_CENTRAL64) != 0;
        put_le(&cd, 0x02014b50, 4);
        put_le(&cd, 45, 2);
        put_le(&cd, 45, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, (uint64_t)method, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0x21, 2);
        put_le(&cd, crc, 4);
        put_le(&cd, c64 ? 0xffffffffu : clen, 4);
        put_le(&cd, c64 ? 0xffffffffu : m[i].len, 4);
        put_le(&cd, nlen, 2);
        put_le(&cd, c64 ? 28 : 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 4);
        put_le(&cd, c64 ? 0xffffffffu : offs[i], 4);
        put(&cd, m[i].name, nlen);
        if (c64) {
            put_le(&cd, 1, 2);
            put_le(&cd, 24, 2);
            put_le(&cd, m[i].len, 8);
            put_le(&cd, clen, 8);
            put_le(&cd, offs[i], 8);
        }
        if (comp != m[i].data)
            free(comp);
    }
    uint64_t cd_off = out->len;
    put(out, cd.b, cd.len);
    if (flags & Z_END64) {
        uint64_t end64 = out->len;
        put_le(out, 0x06064b50, 4);
        put_le(out, 44, 8);
        put_le(out, 45, 2);
        put_le(out, 45, 2);
        put_le(out, 0, 4);
        put_le(out, 0, 4);
        put_le(out, (uint64_t)n, 8);
        put_le(out, (uint64_t)n, 8);
        put_le(out, cd.len, 8);
        put_le(out, cd_off, 8);
        put_le(out, 0x07064b50, 4);
        put_le(out, 0, 4);
        put_le(out, end64, 8);
        put_le(out, 1, 4);
    }
    int e64 = (flags & Z_END64) != 0;
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 4);
    put_le(out, e64 ? 0xffff : (uint64_t)n, 2);
    put_le(out, e64 ? 0xffff : (uint64_t)n, 2);
    put_le(out, e64 ? 0xffffffffu : cd.len, 4);
    put_le(out, e64 ? 0xffffffffu : cd_off, 4);
    put_le(out, 0, 2);
    free(cd.b);
}

/* Two members: x = float32 [[0, 1, 2], [3, 4, 5]] and a big int64 vector
 * t = 0..999 (so deflate has something to do). */
static void two_member_zip(Buf *zip, int flags)
{
    float x[6] = { 0, 1, 2, 3, 4, 5 };
    int64_t t[1000];
    for (int i = 0; i < 1000; i++)
        t[i] = i;
    Buf bx = { 0 }, bt = { 0 };
    put_npy(&bx, 1, "<f4", 0, "(2, 3)", x, sizeof x);
    put_npy(&bt, 1, "<i8", 0, "(1000,)", t, sizeof t);
    Member m[2] = { { "x.npy", bx.b, bx.len }, { "t.npy", bt.b, bt.len } };
    build_zip(zip, m, 2, flags);
    free(bx.b);
    free(bt.b);
}

static void check_two_members(const char *path)
{
    NnrtNpz *z;
    NnrtErr e;
    NnrtArray a;
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(nnrt_npz_count(z), 2);
    int ix = nnrt_npz_find(z, "x"), it = nnrt_npz_find(z, "t");
    ck_assert_int_ge(ix, 0);
    ck_assert_int_ge(it, 0);
    ck_assert_msg(nnrt_npz_read(z, ix, &a, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(nnrt_array_get(&a, i) == i, "x[%d] is %g, expected %d", i,
                      nnrt_array_get(&a, i), i);
    nnrt_array_free(&a);
    NnrtNpyHeader h;
    ck_assert_msg(nnrt_npz_header(z, it, &h, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(h.shape[0], 1000);
    ck_assert_msg(nnrt_npz_read(z, it, &a, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 1000; i++)
        ck_assert_msg(nnrt_array_get(&a, i) == i, "t[%d] is %g", i, nnrt_array_get(&a, i));
    nnrt_array_free(&a);
    nnrt_npz_close(z);
}

START_TEST(test_stored_and_deflated_members_with_zip64_fields_are_read)
{
    static const int variants[] = {
        0, Z_DEFLATE, Z_LOCAL64, Z_DEFLATE | Z_LOCAL64, Z_CENTRAL64, Z_DEFLATE | Z_CENTRAL64,
        Z_END64, Z_DEFLATE | Z_LOCAL64 | Z_CENTRAL64 | Z_END64,
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        Buf zip = { 0 };
        char path[600];
        two_member_zip(&zip, variants[v]);
        tmp_path(path, sizeof path, "hand.npz");
        write_file(path, zip.b, zip.len);
        free(zip.b);
        check_two_members(path);
    }
}
END_TEST

START_TEST(test_an_archive_written_by_numpy_savez_loads)
{
    char path[600];
    NnrtNpz *z;
    NnrtErr e;
    NnrtArray a;
    tmp_path(path, sizeof path, "numpy.npz");
    write_file(path, numpy_savez, sizeof numpy_savez);
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(nnrt_npz_read(z, nnrt_npz_find(z, "x"), &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.shape[0], 2);
    ck_assert_int_eq(a.h.shape[1], 3);
    for (int i = 0; i < 6; i++)
        ck_assert(nnrt_array_get(&a, i) == i);
    nnrt_array_free(&a);
    ck_assert_msg(nnrt_npz_read(z, nnrt_npz_find(z, "y"), &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.kind, 'i');
    ck_assert(nnrt_array_get(&a, 0) == 1 && nnrt_array_get(&a, 1) == 0 &&
              nnrt_array_get(&a, 2) == 1);
    nnrt_array_free(&a);
    nnrt_npz_close(z);
}
END_TEST

START_TEST(test_an_archive_written_by_numpy_savez_compressed_loads)
{
    char path[600];
    NnrtNpz *z;
    NnrtErr e;
    NnrtArray a;
    tmp_path(path, sizeof path, "numpyc.npz");
    write_file(path, numpy_savez_compressed, sizeof numpy_savez_compressed);
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(nnrt_npz_read(z, nnrt_npz_find(z, "W"), &a, &e) == 0, "%s", e.msg);
    ck_assert(a.h.fortran);
    double *d;
    ck_assert_int_eq(nnrt_array_to_f64(&a, &d, &e), 0);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(d[i] == 0.25 * i, "W[%d] is %g, expected %g", i, d[i], 0.25 * i);
    free(d);
    nnrt_array_free(&a);
    ck_assert_msg(nnrt_npz_read(z, nnrt_npz_find(z, "c"), &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.kind, 'b');
    ck_assert(nnrt_array_get(&a, 0) == 1 && nnrt_array_get(&a, 1) == 0);
    nnrt_array_free(&a);
    nnrt_npz_close(z);
}
END_TEST

/* ---- broken files ---- */

static void expect_npy_error(const void *bytes, size_t n, const char *text)
{
    char path[600];
    NnrtArray a;
    NnrtErr e;
    tmp_path(path, sizeof path, "broken.npy");
    write_file(path, bytes, n);
    ck_assert_msg(nnrt_npy_read(path, &a, &e) != 0, "a broken file was accepted (%s)", text);
    ck_assert_ptr_null(a.data);
    ASSERT_MSG_HAS(e, path);
    ASSERT_MSG_HAS(e, text);
}

START_TEST(test_truncated_npy_files_are_rejected_with_a_message)
{
    float v[100] = { 0 };
    Buf b = { 0 };
    put_npy(&b, 1, "<f4", 0, "(100,)", v, sizeof v);
    expect_npy_error(b.b, b.len - 4, "truncated (shape [100] of <f4 needs 400 bytes of data, "
                     "found 396)");
    expect_npy_error(b.b, 40, "truncated (the header claims 118 bytes, only 30 follow)");
    expect_npy_error(b.b, 7, "not an .npy array");
    expect_npy_error(b.b, 0, "not an .npy array");
    free(b.b);
}
END_TEST

START_TEST(test_absurd_headers_are_rejected_before_allocating)
{
    Buf b = { 0 };
    put(&b, "\x93NUMPY\x02\x00", 8);
    put_le(&b, 0xfffffff0u, 4);
    put(&b, "{}", 2);
    expect_npy_error(b.b, b.len, "absurd .npy header length 4294967280");
    free(b.b);

    float v[4] = { 0 };
    Buf b2 = { 0 };
    put_npy(&b2, 1, "<f4", 0, "(4000000000, 4000000000, 4000000000)", v, sizeof v);
    expect_npy_error(b2.b, b2.len, "absurd shape");
    free(b2.b);

    Buf b3 = { 0 };
    put_npy(&b3, 1, "<f8", 0, "(100000000000,)", v, sizeof v);
    expect_npy_error(b3.b, b3.len, "needs 800000000000 bytes of data, found 16");
    free(b3.b);

    Buf b4 = { 0 };
    put_npy(&b4, 1, "<f4", 0, "(-3,)", v, sizeof v);
    expect_npy_error(b4.b, b4.len, "shape holds something other than non-negative integers");
    free(b4.b);
}
END_TEST

START_TEST(test_bad_magic_versions_and_dtypes_are_rejected)
{
    float v[4] = { 0 };
    Buf b = { 0 };
    put_npy(&b, 1, "<f4", 0, "(4,)", v, sizeof v);
    b.b[1] = 'X';
    expect_npy_error(b.b, b.len, "expected the magic bytes");
    b.b[1] = 'N';
    b.b[6] = 4;
    expect_npy_error(b.b, b.len, "unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)");
    free(b.b);
    const char *bad[] = { "<c8", "|O", "<U5", "|S3", "<f16", "<i3" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Buf d = { 0 };
        char want[80];
        put_npy(&d, 1, bad[i], 0, "(1,)", v, sizeof v);
        snprintf(want, sizeof want, "dtype '%s' is not supported", bad[i]);
        expect_npy_error(d.b, d.len, want);
        free(d.b);
    }
    Buf s = { 0 };
    char hdr[] = "\x93NUMPY\x01\x00\x36\x00{'descr': [('a', '<f4')], 'fortran_order': False, "
                 "'shape': (1,), }";
    put(&s, hdr, sizeof hdr - 1);
    put(&s, v, 4);
    s.b[8] = (unsigned char)(sizeof hdr - 1 - 10);
    expect_npy_error(s.b, s.len, "structured (record) arrays are not supported");
    free(s.b);
}
END_TEST

START_TEST(test_broken_archives_are_rejected_with_a_message)
{
    Buf zip = { 0 };
    char path[600];
    NnrtNpz *z;
    NnrtErr e;
    NnrtArray a;
    two_member_zip(&zip, Z_DEFLATE);
    tmp_path(path, sizeof path, "broken.npz");

    /* cut in half: the end record is gone */
    write_file(path, zip.b, zip.len / 2);
    ck_assert_int_ne(nnrt_npz_open(&z, path, &e), 0);
    ASSERT_MSG_HAS(e, path);
    ASSERT_MSG_HAS(e, "not a valid .npz archive (no zip end-of-directory record)");

    /* an .npy file where an .npz was expected */
    float v[2] = { 1, 2 };
    Buf npy = { 0 };
    put_npy(&npy, 1, "<f4", 0, "(2,)", v, sizeof v);
    write_file(path, npy.b, npy.len);
    free(npy.b);
    ck_assert_int_ne(nnrt_npz_open(&z, path, &e), 0);
    ASSERT_MSG_HAS(e, "it is an .npy file");

    /* a flipped bit inside a deflated member */
    Buf bad = { 0 };
    put(&bad, zip.b, zip.len);
    bad.b[60] ^= 0x10;
    write_file(path, bad.b, bad.len);
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_int_ne(nnrt_npz_read(z, nnrt_npz_find(z, "x"), &a, &e), 0);
    ASSERT_MSG_HAS(e, "array 'x'");
    nnrt_npz_close(z);
    free(bad.b);
    free(zip.b);

    /* a changed byte in a stored member's data fails its CRC */
    Buf st = { 0 };
    two_member_zip(&st, 0);
    st.b[30 + 5 + 128 + 4] ^= 0x01;    /* x.npy: local header, name, npy header, data */
    write_file(path, st.b, st.len);
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_int_ne(nnrt_npz_read(z, nnrt_npz_find(z, "x"), &a, &e), 0);
    ASSERT_MSG_HAS(e, "CRC-32 mismatch");
    nnrt_npz_close(z);
    free(st.b);

    /* a deflated member claiming 1 TB */
    Buf big = { 0 };
    two_member_zip(&big, Z_DEFLATE | Z_CENTRAL64);
    /* the first central entry's zip64 extra: usize is its first field */
    unsigned char *p = big.b;
    size_t i;
    for (i = 0; i + 4 < big.len; i++)
        if (p[i] == 0x50 && p[i + 1] == 0x4b && p[i + 2] == 1 && p[i + 3] == 2)
            break;
    uint64_t huge = 1ull << 40;
    for (int k = 0; k < 8; k++)
        p[i + 46 + 5 + 4 + k] = (unsigned char)(huge >> (8 * k));
    write_file(path, big.b, big.len);
    ck_assert_msg(nnrt_npz_open(&z, path, &e) == 0, "%s", e.msg);
    ck_assert_int_ne(nnrt_npz_read(z, nnrt_npz_find(z, "x"), &a, &e), 0);
    ASSERT_MSG_HAS(e, "corrupt archive (claims 1099511627776 bytes");
    nnrt_npz_close(z);
    free(big.b);

    /* a directory pointing past the end of the file */
    Buf far = { 0 };
    two_member_zip(&far, 0);
    far.b[far.len - 3] = 0x7f;         /* the directory offset's high byte */
    write_file(path, far.b, far.len);
    ck_assert_int_ne(nnrt_npz_open(&z, path, &e), 0);
    ASSERT_MSG_HAS(e, "outside the file");
    free(far.b);

    ck_assert_int_ne(nnrt_npz_open(&z, "/nonexistent/dir/x.npz", &e), 0);
    ASSERT_MSG_HAS(e, "/nonexistent/dir/x.npz: cannot open");
}
END_TEST

/* Random damage: every outcome is fine except a crash or a hang. */
START_TEST(test_randomly_damaged_archives_never_crash_the_reader)
{
    char path[600];
    NnrtRng r;
    nnrt_rng_seed(&r, 99);
    tmp_path(path, sizeof path, "fuzz.npz");
    for (int round = 0; round < 400; round++) {
        Buf zip = { 0 };
        two_member_zip(&zip, (int)nnrt_rng_below(&r, 16));
        size_t len = zip.len;
        if (round % 4 == 3) {
            len = (size_t)nnrt_rng_below(&r, zip.len);
        } else {
            int flips = 1 + (int)nnrt_rng_below(&r, 4);
            for (int f = 0; f < flips; f++)
                zip.b[nnrt_rng_below(&r, zip.len)] = (unsigned char)nnrt_rng_next(&r);
        }
        write_file(path, zip.b, len);
        free(zip.b);
        NnrtNpz *z;
        NnrtErr e;
        if (nnrt_npz_open(&z, path, &e) != 0) {
            ck_assert_msg(strstr(e.msg, path) != NULL, "message without the file: %s", e.msg);
            continue;
        }
        for (int i = 0; i < nnrt_npz_count(z); i++) {
            NnrtArray a;
            NnrtNpyHeader h;
            nnrt_npz_header(z, i, &h, &e);
            if (nnrt_npz_read(z, i, &a, &e) == 0) {
                float *f;
                if (nnrt_array_to_f32(&a, &f, &e) == 0)
                    free(f);
                nnrt_array_free(&a);
            }
        }
        nnrt_npz_close(z);
    }
}
END_TEST

START_TEST(test_a_failed_write_leaves_no_file)
{
    NnrtNpzWriter *w;
    NnrtErr e;
    ck_assert_int_ne(nnrt_npz_create(&w, "/nonexistent/dir/p.npz", &e), 0);
    ASSERT_MSG_HAS(e, "/nonexistent/dir/p.npz: cannot write");
    char path[600], part[700];
    tmp_path(path, sizeof path, "abandoned.npz");
    snprintf(part, sizeof part, "%s.part", path);
    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    ck_assert_int_eq(access(part, F_OK), 0);
    nnrt_npz_abandon(w);
    ck_assert_msg(access(part, F_OK) != 0 && access(path, F_OK) != 0,
                  "an abandoned write left a file behind");
}
END_TEST

START_TEST(test_numpy_reads_what_the_writer_writes)
{
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "note: /usr/bin/python3 with numpy not found; skipping the numpy check\n");
        return;
    }
    char path[600], cmd[2000];
    NnrtNpzWriter *w;
    NnrtErr e;
    tmp_path(path, sizeof path, "for_numpy.npz");
    ck_assert_int_eq(nnrt_npz_create(&w, path, &e), 0);
    float W[6] = { 1, 2, 3, 4, 5, 6 };
    double b[3] = { 0.5, -0.25, 1e-300 };
    float s = 7;
    int64_t sw[2] = { 2, 3 }, sb[1] = { 3 };
    char d4[8], d8[8];
    nnrt_native_descr(d4, sizeof d4, 'f', 4);
    nnrt_native_descr(d8, sizeof d8, 'f', 8);
    ck_assert_int_eq(nnrt_npz_add(w, "W1", d4, 0, 2, sw, W, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "b1", d8, 0, 1, sb, b, &e), 0);
    ck_assert_int_eq(nnrt_npz_add(w, "s", d4, 0, 0, NULL, &s, &e), 0);
    ck_assert_int_eq(nnrt_npz_finish(w, &e), 0);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; z = np.load('%s'); "
             "assert sorted(z.files) == ['W1', 'b1', 's'], z.files; "
             "assert z['W1'].dtype == np.float32 and z['W1'].shape == (2, 3); "
             "assert (z['W1'] == np.arange(1, 7).reshape(2, 3)).all(); "
             "assert z['b1'].dtype == np.float64 and list(z['b1']) == [0.5, -0.25, 1e-300]; "
             "assert z['s'].shape == () and z['s'] == 7\"", path);
    ck_assert_msg(system(cmd) == 0, "numpy could not read %s as written", path);
}
END_TEST

/* ---- random numbers ---- */

START_TEST(test_splitmix64_matches_its_reference_output)
{
    uint64_t s = 0;
    uint64_t got = nnrt_splitmix64(&s);
    ck_assert_msg(got == 0xe220a8397b1dcdafull, "splitmix64(0) gave %016llx, expected "
                  "e220a8397b1dcdaf", (unsigned long long)got);
}
END_TEST

START_TEST(test_the_same_seed_gives_the_same_numbers)
{
    NnrtRng a, b, c;
    nnrt_rng_seed(&a, 42);
    nnrt_rng_seed(&b, 42);
    nnrt_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = nnrt_rng_next(&a), y = nnrt_rng_next(&b), z = nnrt_rng_next(&c);
        ck_assert_msg(x == y, "draw %d differs between two streams seeded 42", i);
        differ += x != z;
    }
    ck_assert_msg(differ > 990, "seeds 42 and 43 agree on %d of 1000 draws", 1000 - differ);
}
END_TEST

START_TEST(test_uniform_and_normal_draws_have_the_right_moments)
{
    NnrtRng r;
    nnrt_rng_seed(&r, 7);
    int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; i++) {
        double u = nnrt_rng_uniform(&r);
        ck_assert(u >= 0 && u < 1);
        su += u;
        double g = nnrt_rng_normal(&r);
        ck_assert(isfinite(g));
        sn += g;
        sn2 += g * g;
    }
    ck_assert_msg(fabs(su / n - 0.5) < 0.005, "uniform mean %g, expected 0.5", su / n);
    ck_assert_msg(fabs(sn / n) < 0.01, "normal mean %g, expected 0", sn / n);
    ck_assert_msg(fabs(sn2 / n - 1) < 0.02, "normal variance %g, expected 1", sn2 / n);
    int counts[3] = { 0 };
    for (int i = 0; i < 30000; i++) {
        uint64_t k = nnrt_rng_below(&r, 3);
        ck_assert(k < 3);
        counts[k]++;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_msg(counts[k] > 9500 && counts[k] < 10500, "value %d drawn %d times of 30000",
                      k, counts[k]);
}
END_TEST

/* ---- settings ---- */

static void expect_ok(const char *key, const char *value)
{
    char err[512];
    ck_assert_msg(nnrt_setting_check(key, value, err, sizeof err) == 0,
                  "%s = %s was rejected: %s", key, value, err);
}

static void expect_bad(const char *key, const char *value, const char *text)
{
    char err[512];
    ck_assert_msg(nnrt_setting_check(key, value, err, sizeof err) != 0, "%s = %s was accepted",
                  key, value);
    ck_assert_msg(strstr(err, text) != NULL, "%s = %s: message was \"%s\", expected it to "
                  "contain \"%s\"", key, value, err, text);
}

/* ---- numbers as text (the logs' %.9g and %.17g, without printf) ---- */

static void expect_like_printf(double x, int digits)
{
    char want[64], got[64];
    snprintf(want, sizeof want, "%.*g", digits, x);
    if (nnrt_fmt_g(got, x, digits) >= 0)
        ck_assert_msg(strcmp(got, want) == 0, "%a with %d digits: printf '%s', nnrt_fmt_g '%s'",
                      x, digits, want, got);
    nnrt_num_text(got, sizeof got, x, digits);
    if (digits != 17)
        ck_assert_msg(strcmp(got, want) == 0, "%a with %d digits: printf '%s', nnrt_num_text '%s'",
                      x, digits, want, got);
}

START_TEST(test_numbers_are_written_exactly_as_printf_writes_them)
{
    /* where %g switches notation, rounds up to a new power of ten, or
     * meets an exact tie (rounded to even) */
    static const double edge[] = {
        0.0, -0.0, 1.0, -1.0, 0.5, 0.125, 0.375, 2.5, 3.5, 0.0001, 0.00001, 0.000099999999995,
        9.9999999995, 99999999.5, 999999999.5, 123456789.5, 123456788.5, 1e9, 1e16, 1e17, 1e-300,
        1e300, 5e-324, 1.7976931348623157e308, 0.1, 0.2, 0.3, 0.69314718055994531, 1.0 / 3,
        NAN, INFINITY, -INFINITY, 0.693147182, 1234.5, 0.01, 1e-3, 3e-4
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        for (int d = 1; d <= 17; d++)
            expect_like_printf(edge[i], d);
    /* random float32 and float64 values of every magnitude the logs see,
     * and halves of integers (ties at every precision) */
    NnrtRng r;
    nnrt_rng_seed(&r, 11);
    int fast = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t bits = nnrt_rng_next(&r);
        double x;
        if (i % 3 == 0) {
            float f = (float)ldexp(nnrt_rng_uniform(&r) + 0.5, (int)(bits % 60) - 40);
            x = bits & 1 ? -(double)f : (double)f;
        } else if (i % 3 == 1) {
            x = ldexp((double)(bits >> 11), (int)(bits % 120) - 100);
        } else {
            x = (double)(int64_t)(bits % 100000000000ull) * 0.5;
        }
        int d = 1 + (int)(nnrt_rng_next(&r) % 17);
        char tmp[64];
        fast += nnrt_fmt_g(tmp, x, d) >= 0;
        expect_like_printf(x, d);
        expect_like_printf(x, 9);
    }
#ifdef __SIZEOF_INT128__
    ck_assert_int_gt(fast, 25000);   /* the fast path is what runs */
#else
    ck_assert_int_eq(fast, 0);       /* printf does it all */
#endif
    /* 17 digits: the shortest text that reads back */
    char buf[64];
    ck_assert_str_eq(nnrt_num_text(buf, sizeof buf, 0.81, 17), "0.81");
    ck_assert_str_eq(nnrt_num_text(buf, sizeof buf, 1.0 / 3, 17), "0.3333333333333333");
    ck_assert_str_eq(nnrt_num_text(buf, sizeof buf, 0.1 + 0.2, 17), "0.30000000000000004");
}
END_TEST

START_TEST(test_settings_accept_the_design_examples)
{
    expect_ok("data", "\"train.npz\"");
    expect_ok("test", "\"test.npz\"");
    expect_ok("optimizer", "sgd(lr = 0.01)");
    expect_ok("optimizer", "sgd(lr = 0.01, momentum = 0.9)");
    expect_ok("optimizer", "sgd(0.1, 0.9, true)");
    expect_ok("optimizer", "adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)");
    expect_ok("optimizer", "adam");
    expect_ok("schedule", "exp_decay(k = 0.1)");
    expect_ok("schedule", "constant");
    expect_ok("schedule", "step(every = 10, gamma = 0.5)");
    expect_ok("schedule", "cosine(min = 0)");
    expect_ok("batch", "32");
    expect_ok("batch", "full");
    expect_ok("epochs", "5");
    expect_ok("epochs", "0");
    expect_ok("steps", "1000");
    expect_ok("steps", "1e3");
    expect_ok("reduce", "mean");
    expect_ok("reduce", "sum");
    expect_ok("shuffle", "true");
    expect_ok("shuffle", "false");
    expect_ok("seed", "1");
    expect_ok("metrics", "accuracy");
    expect_ok("metrics", "none");
    expect_ok("metrics", "[accuracy]");
    expect_ok("log", "\"runs/tiny\"");
    expect_ok("lr", "0.01");
    expect_ok("momentum", "0.9");
    expect_ok("data", "noisy_xor(n = 1000, s = 0.25, seed = 1)");
    expect_ok("data", "sine(n = 200, noise = 0.1, seed = 2)");
    expect_ok("data", "spirals(n = 300, classes = 3, noise = 0.1, seed = 1)");
    expect_ok("data", "moons(n = 100)");
    expect_ok("data", "random(n = 64, seed = 3)");
    expect_ok("data", "noisy_xor");
}
END_TEST

START_TEST(test_unknown_settings_and_names_suggest_the_nearest_one)
{
    expect_bad("epoch", "5", "unknown setting 'epoch' (did you mean 'epochs'?)");
    expect_bad("optimiser", "adam", "(did you mean 'optimizer'?)");
    expect_bad("optimizer", "adma(lr = 0.1)",
               "unknown optimizer 'adma' (did you mean 'adam'?); the optimizers are sgd, adam");
    expect_bad("optimizer", "sdg", "did you mean 'sgd'?");
    expect_bad("optimizer", "sgd(lr = 0.1, mometum = 0.9)",
               "sgd has no option 'mometum' (did you mean 'momentum'?); its options are lr, "
               "momentum, nesterov, weight_decay");
    expect_bad("schedule", "exp_decy(k = 0.1)", "unknown schedule 'exp_decy' (did you mean "
               "'exp_decay'?)");
    expect_bad("data", "noisy_xr(n = 10)", "unknown generator 'noisy_xr' (did you mean "
               "'noisy_xor'?)");
    expect_bad("batch", "fll", "(did you mean 'full'?)");
    expect_bad("reduce", "maen", "'reduce' must be mean or sum, found maen (did you mean 'mean'?)");
    expect_bad("metrics", "acuracy", "did you mean 'accuracy'?");
    expect_bad("shuffle", "True", "did you mean 'true'?");
    expect_bad("optimizer", "nadam", "unknown optimizer 'nadam' (did you mean 'adam'?); the "
               "optimizers are sgd, adam, adamw, rmsprop");
}
END_TEST

START_TEST(test_wrong_value_types_and_ranges_are_reported)
{
    expect_bad("epochs", "\"5\"", "'epochs' must be a non-negative integer, found \"5\"");
    expect_bad("epochs", "2.5", "'epochs' must be a non-negative integer, found 2.5");
    expect_bad("batch", "0", "'batch' must be a positive integer or full, found 0");
    expect_bad("steps", "-3", "'steps' must be a positive integer");
    expect_bad("data", "5", "'data' must be a file name in quotes");
    expect_bad("log", "runs", "'log' must be a directory name in quotes");
    expect_bad("optimizer", "sgd(momentum = 1.5)", "sgd: option 'momentum' must be in [0, 1), "
               "found 1.5");
    expect_bad("optimizer", "adam(eps = 0)", "adam: option 'eps' must be > 0, found 0");
    expect_bad("optimizer", "sgd(lr = \"fast\")", "sgd: option 'lr' must be a number");
    expect_bad("optimizer", "sgd(nesterov = 1)", "must be true or false");
    expect_bad("optimizer", "sgd(lr = 0.1, lr = 0.2)", "option 'lr' is given twice");
    expect_bad("optimizer", "sgd(1, 2, 3, 4, 5)", "sgd takes at most 4 options");
    expect_bad("optimizer", "sgd(lr = 0.1, 0.9)", "a positional value (0.9) follows keyword");
    expect_bad("optimizer", "\"adam\"", "expected an optimizer such as");
    expect_bad("schedule", "step(every = 2.5)", "must be an integer, found 2.5");
    expect_bad("data", "spirals(classes = 1)", "option 'classes' must be in [2, 1000]");
    expect_bad("momentum", "1", "'momentum' must be a number in [0, 1), found 1");
    expect_bad("lr", "-1", "'lr' must be a number >= 0, found -1");
}
END_TEST

START_TEST(test_syntax_errors_are_reported)
{
    expect_bad("optimizer", "sgd(lr = )", "expected a value");
    expect_bad("optimizer", "sgd(lr = 0.1", "expected ',' or ')', found the end");
    expect_bad("epochs", "5 6", "expected the end of the value, found '6'");
    expect_bad("data", "\"train.npz", "closing '\"'");
    expect_bad("lr", "1e", "exponent");
    expect_bad("epochs", "", "'epochs' needs a value");
}
END_TEST

START_TEST(test_flags_take_bare_paths_and_generator_calls)
{
    NnrtConfig c;
    char err[512];
    nnrt_config_default(&c);
    ck_assert_int_eq(nnrt_config_set(&c, "data", "dir/train.npz", 1, err, sizeof err), 0);
    ck_assert_int_eq(c.data.kind, NNRT_SRC_FILE);
    ck_assert_str_eq(c.data.path, "dir/train.npz");
    ck_assert_int_eq(nnrt_config_set(&c, "data", "\"quoted.npz\"", 1, err, sizeof err), 0);
    ck_assert_str_eq(c.data.path, "quoted.npz");
    ck_assert_int_eq(nnrt_config_set(&c, "test", "moons(n=50, seed=4)", 1, err, sizeof err), 0);
    ck_assert_int_eq(c.test.kind, NNRT_SRC_GEN);
    ck_assert_int_eq(c.test.gen, NNRT_GEN_MOONS);
    ck_assert_int_eq(c.test.n, 50);
    ck_assert_int_eq(c.test.seed, 4);
    ck_assert(c.test.noise == 0.1);
    ck_assert_int_ne(nnrt_config_set(&c, "data", "moon(n=50)", 1, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "did you mean 'moons'?") != NULL, "message was %s", err);
    ck_assert_int_eq(nnrt_config_set(&c, "test", "none", 1, err, sizeof err), 0);
    ck_assert_int_eq(c.test.kind, NNRT_SRC_NONE);
    ck_assert_int_eq(nnrt_config_set(&c, "log", "runs/a b", 1, err, sizeof err), 0);
    ck_assert_str_eq(c.log, "runs/a b");
    /* --epochs cancels a train block's steps; in the block both may stand */
    ck_assert_int_eq(nnrt_config_set(&c, "steps", "100", 0, err, sizeof err), 0);
    ck_assert_int_eq(nnrt_config_set(&c, "epochs", "3", 0, err, sizeof err), 0);
    ck_assert_int_eq(c.steps, 100);
    ck_assert_int_eq(nnrt_config_set(&c, "epochs", "3", 1, err, sizeof err), 0);
    ck_assert_int_eq(c.steps, 0);
    ck_assert_int_eq(c.epochs, 3);
    ck_assert_int_eq(nnrt_config_set(&c, "batch", "full", 1, err, sizeof err), 0);
    ck_assert_int_eq(c.batch, 0);
}
END_TEST

START_TEST(test_lr_and_momentum_override_the_optimizers_options)
{
    NnrtConfig c;
    char err[512];
    nnrt_config_default(&c);
    ck_assert_int_eq(nnrt_config_set(&c, "optimizer", "sgd(lr = 0.1, momentum = 0.5)", 0, err,
                                     sizeof err), 0);
    ck_assert_int_eq(nnrt_config_set(&c, "lr", "0.01", 1, err, sizeof err), 0);
    ck_assert(c.opt.lr == 0.01 && c.opt.momentum == 0.5);
    /* an optimizer chosen later keeps the lr flag unless it sets lr itself */
    ck_assert_int_eq(nnrt_config_set(&c, "optimizer", "adam", 1, err, sizeof err), 0);
    ck_assert(c.opt.kind == NNRT_ADAM && c.opt.lr == 0.01 && c.opt.beta2 == 0.999);
    ck_assert_int_eq(nnrt_config_set(&c, "optimizer", "adam(lr = 0.5)", 1, err, sizeof err), 0);
    ck_assert(c.opt.lr == 0.5);
    ck_assert_int_ne(nnrt_config_set(&c, "momentum", "0.9", 1, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "beta1") != NULL, "message was %s", err);
    ck_assert_int_eq(nnrt_config_set(&c, "optimizer", "sgd", 1, err, sizeof err), 0);
    ck_assert_int_eq(nnrt_config_set(&c, "momentum", "0.9", 1, err, sizeof err), 0);
    ck_assert(c.opt.kind == NNRT_SGD && c.opt.momentum == 0.9 && c.opt.lr == 0.01);
}
END_TEST

START_TEST(test_schedules_follow_their_formulas)
{
    NnrtSchedSpec s = { NNRT_SCHED_CONSTANT, 0, 0, 0, 0, 0 };
    ck_assert(nnrt_schedule_lr(&s, 0.1, 7, 10) == 0.1);
    s.kind = NNRT_SCHED_EXP_DECAY;
    s.k = 0.1;
    ck_assert_msg(fabs(nnrt_schedule_lr(&s, 0.1, 3, 10) - 0.1 * exp(-0.3)) < 1e-15,
                  "exp_decay at t = 3 gave %g", nnrt_schedule_lr(&s, 0.1, 3, 10));
    s.kind = NNRT_SCHED_STEP;
    s.every = 10;
    s.gamma = 0.5;
    ck_assert(nnrt_schedule_lr(&s, 1, 9, 30) == 1);
    ck_assert(nnrt_schedule_lr(&s, 1, 10, 30) == 0.5);
    ck_assert(nnrt_schedule_lr(&s, 1, 25, 30) == 0.25);
    s.kind = NNRT_SCHED_COSINE;
    s.min = 0.1;
    ck_assert(nnrt_schedule_lr(&s, 1, 0, 10) == 1);
    ck_assert_msg(fabs(nnrt_schedule_lr(&s, 1, 5, 10) - 0.55) < 1e-12, "cosine halfway gave %g",
                  nnrt_schedule_lr(&s, 1, 5, 10));
    /* warm-up over 3 epochs: factors 1/4, 2/4, 3/4, then the schedule itself */
    s.kind = NNRT_SCHED_EXP_DECAY;
    s.k = 0.1;
    s.warmup = 3;
    for (int t = 0; t < 6; t++) {
        double want = exp(-0.1 * t) * (t < 3 ? (t + 1) / 4.0 : 1.0);
        ck_assert_msg(fabs(nnrt_schedule_lr(&s, 1, t, 10) - want) < 1e-15,
                      "warm-up at t = %d gave %g, expected %g", t, nnrt_schedule_lr(&s, 1, t, 10),
                      want);
    }
}
END_TEST

START_TEST(test_new_settings_parse_and_print_back)
{
    NnrtConfig c;
    char err[512], buf[300];
    nnrt_config_default(&c);
    ck_assert_msg(nnrt_config_set(&c, "schedule", "cosine(min = 0.001, warmup = 5)", 0, err,
                                  sizeof err) == 0, "%s", err);
    nnrt_sched_describe(&c.sched, buf, sizeof buf);
    ck_assert_str_eq(buf, "cosine(min = 0.001, warmup = 5)");
    ck_assert(nnrt_config_set(&c, "schedule", "constant(warmup = 2)", 0, err, sizeof err) == 0);
    nnrt_sched_describe(&c.sched, buf, sizeof buf);
    ck_assert_str_eq(buf, "constant(warmup = 2)");
    ck_assert(nnrt_config_set(&c, "optimizer", "rmsprop(lr = 0.1, centered = true)", 0, err,
                              sizeof err) == 0);
    ck_assert(c.opt.kind == NNRT_RMSPROP && c.opt.centered && c.opt.alpha == 0.99);
    ck_assert(nnrt_config_set(&c, "momentum", "0.5", 1, err, sizeof err) == 0);
    ck_assert(c.opt.momentum == 0.5);
    ck_assert(nnrt_config_set(&c, "optimizer", "adamw", 0, err, sizeof err) == 0);
    ck_assert(c.opt.kind == NNRT_ADAMW && c.opt.weight_decay == 0.01);
    nnrt_optim_describe(&c.opt, buf, sizeof buf);
    ck_assert_str_eq(buf, "adamw(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-08, "
                     "weight_decay = 0.01)");
    ck_assert(nnrt_config_set(&c, "lr", "0.1", 1, err, sizeof err) == 0);
    ck_assert(nnrt_config_set(&c, "optimizer", "sgd", 0, err, sizeof err) == 0);
    nnrt_optim_describe(&c.opt, buf, sizeof buf);
    ck_assert_str_eq(buf, "sgd(lr = 0.1, momentum = 0.5, nesterov = false, weight_decay = 0)");
    c.opt.lr = 1.0 / 3;
    nnrt_optim_describe(&c.opt, buf, sizeof buf);
    ck_assert_str_eq(buf, "sgd(lr = 0.3333333333333333, momentum = 0.5, nesterov = false, "
                     "weight_decay = 0)");
    ck_assert(nnrt_config_set(&c, "clip", "1.5", 1, err, sizeof err) == 0 && c.clip == 1.5);
    ck_assert(nnrt_config_set(&c, "clip", "none", 1, err, sizeof err) == 0 && c.clip == 0);
    ck_assert(nnrt_config_set(&c, "clip", "-1", 1, err, sizeof err) != 0);
    ck_assert(nnrt_config_set(&c, "patience", "3", 1, err, sizeof err) == 0 && c.patience == 3);
    ck_assert(nnrt_config_set(&c, "patience", "0", 1, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "'patience' must be a positive number of epochs or none") != NULL,
                  "%s", err);
}
END_TEST

START_TEST(test_did_you_mean_only_suggests_close_names)
{
    const char *c[] = { "train", "init", "grad", "eval", "check" };
    ck_assert_str_eq(nnrt_closest("trian", c, 5), "train");
    ck_assert_str_eq(nnrt_closest("evl", c, 5), "eval");
    ck_assert_ptr_null(nnrt_closest("x", c, 5));
    ck_assert_ptr_null(nnrt_closest("banana", c, 5));
    ck_assert_int_eq(nnrt_edit_distance("adma", "adam"), 1);
    ck_assert_int_eq(nnrt_edit_distance("", "abc"), 3);
}
END_TEST

/* ---- every data format: the fuzz corpus, saved crashes, absurd sizes ---- */

/* Feeds each file in ROOT/tests/fuzz/SUB/TARGET/ to that fuzz target's
 * reader (fuzz_harness.h): seeds must read without an error, saved
 * crashes must be read or refused with a message naming the file.
 * Returns the number of files. */
static int replay_fuzz_dir(const char *sub, int must_read)
{
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    int files = 0;
    for (int t = 0; t < FUZZ_NTARGETS; t++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", root, sub, fuzz_targets[t].name);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            FILE *f = fopen(path, "rb");
            ck_assert_msg(f != NULL, "cannot open %s", path);
            static unsigned char buf[1 << 20];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            NnrtErr e = { "" };
            int all_read = 0;
            ck_assert_msg(fuzz_one(&fuzz_targets[t], buf, n, &all_read, &e) == 0, "%s: %s", path,
                          e.msg);
            ck_assert_msg(!must_read || all_read, "seed %s was refused: %s", path, e.msg);
            files++;
        }
        closedir(d);
    }
    return files;
}

START_TEST(test_every_fuzz_seed_reads_without_error)
{
    ck_assert_int_ge(replay_fuzz_dir("corpus", 1), 40);
}
END_TEST

START_TEST(test_every_input_the_fuzzers_broke_the_readers_with_is_refused_cleanly)
{
    ck_assert_int_ge(replay_fuzz_dir("regressions", 0), 5);
}
END_TEST

START_TEST(test_a_csv_without_a_header_names_its_columns_by_number)
{
    const char *text = "1;2;3\n4;5;6\n";
    NnrtFile *f = NULL;
    NnrtErr e = { "" };
    ck_assert_msg(nnrt_file_parse("d.csv", text, strlen(text), &f, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(nnrt_file_count(f), 3);
    for (int j = 0; j < 3; j++) {
        char name[16];
        snprintf(name, sizeof name, "%d", j);
        int i = nnrt_file_find(f, name);
        ck_assert_int_eq(i, j);
        NnrtArray a;
        ck_assert_msg(nnrt_file_read(f, i, &a, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(a.h.count, 2);
        ck_assert(nnrt_array_get(&a, 0) == j + 1 && nnrt_array_get(&a, 1) == j + 4);
        nnrt_array_free(&a);
    }
    nnrt_file_close(f);
}
END_TEST

static void expect_file_error(const char *name, const void *bytes, size_t len, const char *text)
{
    NnrtFile *f = NULL;
    NnrtErr e = { "" };
    ck_assert_msg(nnrt_file_parse(name, bytes, len, &f, &e) != 0, "%s was accepted", name);
    ck_assert_ptr_null(f);
    ck_assert_msg(fuzz_msg_ok(e.msg, name), "message \"%s\" does not begin with \"%s: \"", e.msg,
                  name);
    ASSERT_MSG_HAS(e, text);
}

START_TEST(test_absurd_sizes_in_data_files_are_refused_before_allocating)
{
    /* a CSV header of 100000 columns over 100000 one-field rows: 80 GB of
     * values if sized by the header alone */
    size_t cols = 100000, rows = 100000, len = (cols - 1) + 1 + 2 * rows;
    char *csv = malloc(len + 1), *p = csv;
    ck_assert_ptr_nonnull(csv);
    memset(p, ',', cols - 1);
    p += cols - 1;
    *p++ = '\n';
    for (size_t i = 0; i < rows; i++, p += 2)
        memcpy(p, "1\n", 2);
    expect_file_error("wide.csv", csv, len, "line 2 has 1 fields, the header has 100000");
    free(csv);

    /* a pickle memo index of 4194303 after one object */
    expect_file_error("memo.pkl", "\x80\x02Nr\xff\xff\x3f\x00.", 9,
                      "memo index 4194303, expected at most 1");

    /* a list of 2000 floats shared 2000 times, that list shared 2000 times:
     * 8e9 values from 24 kB */
    Buf b = { 0 };
    put(&b, "\x80\x02(", 3);
    for (int i = 0; i < 2000; i++)
        put(&b, "G\0\0\0\0\0\0\0\0", 9);
    put(&b, "lq\x01(", 4);
    for (int i = 0; i < 2000; i++)
        put(&b, "h\x01", 2);
    put(&b, "lq\x02(", 4);
    for (int i = 0; i < 2000; i++)
        put(&b, "h\x02", 2);
    put(&b, "l.", 2);
    expect_file_error("shared.pkl", b.b, b.len, "too intricate for its size");
    free(b.b);

    /* IDX dimensions of 2^32-1 cubed, and more elements than the file has */
    expect_file_error("x-idx3-ubyte", "\0\0\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                      "\xff\1", 17, "absurd IDX dimensions [4294967295, 4294967295, 4294967295]");
    expect_file_error("y-idx1-ubyte", "\0\0\x0d\x01\x40\0\0\0\1\2\3\4", 12,
                      "truncated IDX data (dimensions [1073741824] of >f4 need 4294967296 bytes, "
                      "found 4)");
}
END_TEST

/* A string literal and its length without the NUL (literals may hold \0). */
#define LIT(s) s, sizeof s - 1

/* A seed of the fuzz corpus, read whole. */
static unsigned char *read_seed(const char *target, const char *name, size_t *len)
{
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s/%s", root, target, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static unsigned char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

/* The values of array `name` of f, which must be usable, with its shape. */
static double *file_values(NnrtFile *f, const char *name, int rank, const int64_t *shape)
{
    NnrtErr e = { "" };
    int i = nnrt_file_find(f, name);
    ck_assert_msg(i >= 0, "no array '%s'", name);
    ck_assert_msg(nnrt_file_usable(f, i), "array '%s' is not usable", name);
    NnrtArray a;
    double *v = NULL;
    ck_assert_msg(nnrt_file_read(f, i, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.h.rank, rank);
    for (int k = 0; k < rank; k++)
        ck_assert_int_eq(a.h.shape[k], shape[k]);
    ck_assert_msg(nnrt_array_to_f64(&a, &v, &e) == 0, "%s", e.msg);
    nnrt_array_free(&a);
    return v;
}

/* tests/fuzz/make_corpus.py writes the py2-* seeds with the bytes Python 2's
 * pickle writes (tests/e2e/py2pickle.py): numpy's dtype spec and the dict
 * keys as BINSTRING (protocols 1, 2) or STRING (protocol 0), no PROTO
 * opcode in protocols 0 and 1. */
START_TEST(test_python2_pickles_of_protocols_0_1_and_2_read_alike)
{
    static const int64_t dshape[2] = { 3, 8 }, lshape[1] = { 3 };
    double *first = NULL;
    for (int p = 0; p <= 2; p++) {
        char name[64];
        size_t len;
        snprintf(name, sizeof name, "py2-cifar-proto%d", p);
        unsigned char *b = read_seed("pickle", name, &len);
        NnrtFile *f = NULL;
        NnrtErr e = { "" };
        ck_assert_msg(nnrt_file_parse(name, b, len, &f, &e) == 0, "%s", e.msg);
        double *data = file_values(f, "data", 2, dshape), *lab = file_values(f, "labels", 1, lshape);
        ck_assert(lab[0] == 3 && lab[1] == 0 && lab[2] == 9);
        ck_assert(nnrt_file_labels(f, nnrt_file_find(f, "labels")));
        if (!first)
            first = data;
        else {
            ck_assert_msg(memcmp(first, data, 24 * sizeof *data) == 0, "%s reads other data", name);
            free(data);
        }
        free(lab);
        nnrt_file_close(f);
    }
    free(first);
    /* Nielsen's mnist.pkl layout: ((x, y), (x, y), (x, y)) */
    size_t len;
    unsigned char *b = read_seed("pickle", "py2-mnist-tuples", &len);
    NnrtFile *f = NULL;
    NnrtErr e = { "" };
    ck_assert_msg(nnrt_file_parse("mnist.pkl", b, len, &f, &e) == 0, "%s", e.msg);
    static const int64_t xs[2] = { 4, 6 }, ys[1] = { 4 };
    double *x = file_values(f, "2/0", 2, xs), *y = file_values(f, "2/1", 1, ys);
    ck_assert(y[0] == 1 && y[1] == 0 && y[2] == 7 && y[3] == 2);
    ck_assert(x[0] >= 0 && x[0] < 1);
    free(x);
    free(y);
    nnrt_file_close(f);
}
END_TEST

START_TEST(test_protocol_0_text_opcodes_are_read)
{
    /* {'a\'b': 0.5, u'\xe9x': 12345678901L, 'x': True, 'n': -7} as protocol 0 */
    static const char pk[] = "(dp0\nS'a\\'b\\x41\\n'\np1\nF0.5\nsV\\u00e9x\np2\nL12345678901L\n"
                             "sS\"x\"\np3\nI01\nsS'n'\np4\nI-7\ns.";
    NnrtFile *f = NULL;
    NnrtErr e = { "" };
    ck_assert_msg(nnrt_file_parse("p0.pkl", pk, sizeof pk - 1, &f, &e) == 0, "%s", e.msg);
    static const int64_t none[1] = { 0 };
    const char *names[4] = { "a'bA\n", "\xc3\xa9x", "x", "n" };
    const double want[4] = { 0.5, 12345678901.0, 1, -7 };
    for (int k = 0; k < 4; k++) {
        double *v = file_values(f, names[k], 0, none);
        ck_assert_msg(v[0] == want[k], "'%s' is %g, expected %g", names[k], v[0], want[k]);
        free(v);
    }
    nnrt_file_close(f);
    expect_file_error("bad.pkl", LIT("(dp0\nS'unquoted\np1\n."), "not quoted");
    expect_file_error("big.pkl", LIT("(I99999999999999999999\nt."), "more than 64 bits");
}
END_TEST

START_TEST(test_repeated_names_in_a_file_are_refused_with_the_key)
{
    /* protocol 2: {'x': 1, 'x': 2} (SETITEMS sets the key twice) */
    expect_file_error("dup.pkl", LIT("\x80\x02}(X\x01\0\0\0xK\x01X\x01\0\0\0xK\x02u."),
                      "pickle sets the key 'x' twice in one dict");
    /* b'x' and 'x' read the same here */
    expect_file_error("dup2.pkl", LIT("\x80\x02}(C\x01xK\x01X\x01\0\0\0xK\x02u."),
                      "the key 'x' twice");
    /* {'a/b': 1, 'a': {'b': 2}}: two arrays named a/b */
    expect_file_error("dup3.pkl",
                      LIT("\x80\x02}(X\x03\0\0\0a/bK\x01X\x01\0\0\0a}X\x01\0\0\0bK\x02su."),
                      "two arrays named 'a/b'");
    expect_file_error("dup.csv", LIT("x,y,x\n1,2,3\n"),
                      "the header names column 'x' twice (columns 1 and 3");
    /* an archive with two members x.npy */
    char path[600];
    tmp_path(path, sizeof path, "dup.npz");
    NnrtNpzWriter *w;
    NnrtErr e = { "" };
    int64_t shape[1] = { 1 };
    float v = 1;
    ck_assert_msg(nnrt_npz_create(&w, path, &e) == 0, "%s", e.msg);
    ck_assert(nnrt_npz_add(w, "x", "<f4", 0, 1, shape, &v, &e) == 0);
    ck_assert(nnrt_npz_add(w, "x", "<f4", 0, 1, shape, &v, &e) == 0);
    ck_assert_msg(nnrt_npz_finish(w, &e) == 0, "%s", e.msg);
    NnrtNpz *z = NULL;
    ck_assert(nnrt_npz_open(&z, path, &e) != 0);
    ASSERT_MSG_HAS(e, "dup.npz: the archive holds two members named 'x'");
}
END_TEST

START_TEST(test_control_characters_in_messages_are_escaped)
{
    NnrtErr e = { "" };
    nnrt_err(&e, "%s: no array 'y'; arrays present: %s", "a.npz", "\x1b]0;PWNED\x07\x1b[2J\xc2\x9b\xff");
    ck_assert_str_eq(e.msg, "a.npz: no array 'y'; arrays present: \\x1b]0;PWNED\\x07\\x1b[2J"
                            "\\xc2\\x9b\\xff");
    nnrt_err(&e, "caf\xc3\xa9 \xe2\x82\xac ok");      /* UTF-8 text stays as it is */
    ck_assert_str_eq(e.msg, "caf\xc3\xa9 \xe2\x82\xac ok");
}
END_TEST

/* A CIFAR-10 batch whose first record reads as an IDX header that fits
 * the file: label 0, pixels 00 08 01 and the remaining length 6138. */
START_TEST(test_a_cifar_batch_that_looks_like_idx_is_read_as_cifar)
{
    size_t len = 2 * 3073;
    unsigned char *b = calloc(len, 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\0\0\x08\x01\0\0\x17\xfa", 8);
    b[3073] = 7;
    NnrtFile *f = NULL;
    NnrtErr e = { "" };
    ck_assert_msg(nnrt_file_parse("data_batch_1.bin", b, len, &f, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(nnrt_file_format(f), "CIFAR-10 binary");
    static const int64_t ls[1] = { 2 };
    double *lab = file_values(f, "labels", 1, ls);
    ck_assert(lab[0] == 0 && lab[1] == 7);
    free(lab);
    nnrt_file_close(f);
    /* named as IDX, or with no name to go by, the exact fit is IDX */
    ck_assert_msg(nnrt_file_parse("x-idx1-ubyte", b, len, &f, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(nnrt_file_format(f), "IDX");
    nnrt_file_close(f);
    free(b);
}
END_TEST

static Suite *npz_suite(void)
{
    Suite *s = suite_create("runtime common: npz, rng, settings");
    TCase *t = tcase_create("npy and npz");
    tcase_add_test(t, test_every_dtype_round_trips_through_npy_in_both_byte_orders);
    tcase_add_test(t, test_every_dtype_round_trips_through_the_npz_writer);
    tcase_add_test(t, test_fortran_order_arrays_are_read_in_c_order);
    tcase_add_test(t, test_npy_format_versions_2_and_3_are_read);
    tcase_add_test(t, test_scalars_and_empty_arrays_are_read);
    tcase_add_test(t, test_stored_and_deflated_members_with_zip64_fields_are_read);
    tcase_add_test(t, test_an_archive_written_by_numpy_savez_loads);
    tcase_add_test(t, test_an_archive_written_by_numpy_savez_compressed_loads);
    tcase_add_test(t, test_truncated_npy_files_are_rejected_with_a_message);
    tcase_add_test(t, test_absurd_headers_are_rejected_before_allocating);
    tcase_add_test(t, test_bad_magic_versions_and_dtypes_are_rejected);
    tcase_add_test(t, test_broken_archives_are_rejected_with_a_message);
    tcase_add_test(t, test_randomly_damaged_archives_never_crash_the_reader);
    tcase_add_test(t, test_a_failed_write_leaves_no_file);
    tcase_add_test(t, test_numpy_reads_what_the_writer_writes);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    TCase *d = tcase_create("data files");
    tcase_add_test(d, test_every_fuzz_seed_reads_without_error);
    tcase_add_test(d, test_every_input_the_fuzzers_broke_the_readers_with_is_refused_cleanly);
    tcase_add_test(d, test_absurd_sizes_in_data_files_are_refused_before_allocating);
    tcase_add_test(d, test_a_csv_without_a_header_names_its_columns_by_number);
    tcase_add_test(d, test_python2_pickles_of_protocols_0_1_and_2_read_alike);
    tcase_add_test(d, test_protocol_0_text_opcodes_are_read);
    tcase_add_test(d, test_repeated_names_in_a_file_are_refused_with_the_key);
    tcase_add_test(d, test_control_characters_in_messages_are_escaped);
    tcase_add_test(d, test_a_cifar_batch_that_looks_like_idx_is_read_as_cifar);
    tcase_set_timeout(d, 60);
    suite_add_tcase(s, d);
    TCase *r = tcase_create("rng");
    tcase_add_test(r, test_splitmix64_matches_its_reference_output);
    tcase_add_test(r, test_the_same_seed_gives_the_same_numbers);
    tcase_add_test(r, test_uniform_and_normal_draws_have_the_right_moments);
    tcase_set_timeout(r, 60);   /* millions of draws: slow under make asan on a busy machine */
    suite_add_tcase(s, r);
    TCase *c = tcase_create("settings");
    tcase_add_test(c, test_settings_accept_the_design_examples);
    tcase_add_test(c, test_unknown_settings_and_names_suggest_the_nearest_one);
    tcase_add_test(c, test_wrong_value_types_and_ranges_are_reported);
    tcase_add_test(c, test_syntax_errors_are_reported);
    tcase_add_test(c, test_flags_take_bare_paths_and_generator_calls);
    tcase_add_test(c, test_lr_and_momentum_override_the_optimizers_options);
    tcase_add_test(c, test_schedules_follow_their_formulas);
    tcase_add_test(c, test_new_settings_parse_and_print_back);
    tcase_add_test(c, test_did_you_mean_only_suggests_close_names);
    tcase_add_test(c, test_numbers_are_written_exactly_as_printf_writes_them);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/check_npz_XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(npz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
