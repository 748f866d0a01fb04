/*
 * common_pickle.c - a restricted reader of Python pickles holding numpy
 * arrays, the format courses hand out (`images_train.pickle`, the CIFAR-10
 * python batches, `assignment-one-test-parameters.pkl`).
 *
 * A pickle is a program for a small stack machine.  This reader runs the
 * binary opcodes of protocols 1 to 5 that plain data needs (numbers,
 * strings, bytes, lists, tuples, dicts, the memo) and knows a short
 * whitelist of globals, each with a fixed meaning here:
 *
 *   numpy.core.multiarray._reconstruct   an empty ndarray, filled by BUILD
 *   numpy.core.numeric._frombuffer       ndarray from (bytes, dtype, shape, order)
 *   numpy.core.multiarray.scalar         a numpy scalar from (dtype, bytes)
 *   numpy.ndarray, numpy.dtype           the class and dtype(spec, align, copy)
 *   _codecs.encode                       protocol 2's way of writing bytes
 *   collections.OrderedDict              read as a dict
 *
 * (numpy 2.x writes numpy._core.* for numpy.core.*; both are accepted.)
 * Nothing is ever called or imported: a global is a tag, REDUCE and BUILD
 * on a tag do what that tag means above, and any other global is refused
 * by name ("pickle refers to os.system, which nnc will not load").
 *
 * Hostile files: every length is checked against the bytes that remain
 * before it is used, array data must have exactly the size its shape and
 * dtype need, and the number of objects, the memo, the stack, the marks
 * and the nesting depth have limits, so a small file cannot make the
 * reader allocate without bound or recurse deeply.  Objects live in one
 * list freed at the end, so reference cycles do no harm.
 *
 * The result is flat: every numeric array in the object tree, named by its
 * path of dict keys and list indices joined by '/' ("layer1/W", "data",
 * "0/1"); the whole pickle being one array gives the name "".  Lists of
 * numbers (also nested and rectangular) become arrays too, a flat list of
 * integers marked as labels (the CIFAR batches' b'labels').
 */
#include "nnrt_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJECTS (1 << 22)      /* objects created by one pickle */
#define MAX_STACK (1 << 22)
#define MAX_MARKS 4096
#define MAX_MEMO (1 << 22)
#define MAX_DEPTH 64               /* nesting of containers when flattening */
#define MAX_VISITS (1 << 24)       /* container and item visits when flattening: at most
                                      64 per byte of the file (a shared memo entry is
                                      visited once per reference) */
#define MAX_ENTRIES 100000         /* arrays in the result, or one per 64 bytes of a larger
                                      file (a list of 60000 (x, y) pairs has 120000) */
#define MAX_NAME 512

typedef enum OKind {
    O_NONE, O_BOOL, O_INT, O_FLOAT, O_STR, O_BYTES, O_LIST, O_TUPLE, O_DICT, O_GLOBAL,
    O_ARRAY, O_DTYPE
} OKind;

/* The whitelisted globals. */
typedef enum GFn {
    G_RECONSTRUCT, G_FROMBUFFER, G_SCALAR, G_NDARRAY, G_DTYPE, G_ENCODE, G_ODICT
} GFn;

/* What only arrays and dtypes carry, allocated for them alone: a pickle
 * of a million small objects must not cost a million array headers. */
typedef struct ArrayPart {
    NnrtNpyHeader h;            /* ARRAY, DTYPE (kind 0: unsupported dtype) */
    const unsigned char *data;  /* ARRAY: elements in file byte order */
    int filled;                 /* ARRAY: BUILD gave it shape, dtype and data */
    char why[96];               /* ARRAY, DTYPE: why it is not a plain numeric array */
} ArrayPart;

typedef struct Obj Obj;
struct Obj {
    OKind kind;
    int64_t i;                  /* INT, BOOL */
    double f;                   /* FLOAT */
    const unsigned char *s;     /* STR (UTF-8), BYTES: into the file or owned */
    size_t slen;
    int n, cap;                 /* LIST, TUPLE: n items; DICT: n pairs (2n items) */
    Obj **items;
    GFn fn;                     /* GLOBAL */
    ArrayPart *ap;              /* ARRAY, DTYPE only: the rest is small, as most objects are */
};

struct NnrtPickle {
    char *what;
    Obj **all;                  /* every object, freed together */
    int nall, capall;
    void **owned;               /* other allocations (decoded bytes, list arrays) */
    int nowned, capowned;
    NnrtEntry *entry;
    int n, cap;
    size_t len;
    int64_t visits, max_visits;   /* containers and list items seen when flattening */
};

typedef struct Machine {
    NnrtPickle *pk;
    const unsigned char *p, *end, *start;
    Obj **stack;
    int sp, scap;
    int marks[MAX_MARKS];
    int nmarks;
    Obj **memo;
    int64_t nmemo, capmemo;
    NnrtErr *e;
} Machine;

static int own(NnrtPickle *pk, void *p)
{
    if (pk->nowned == pk->capowned) {
        int cap = pk->capowned ? 2 * pk->capowned : 16;
        void **o = realloc(pk->owned, (size_t)cap * sizeof *o);
        if (!o)
            return -1;
        pk->owned = o;
        pk->capowned = cap;
    }
    pk->owned[pk->nowned++] = p;
    return 0;
}

static Obj *new_obj(Machine *m, OKind k)
{
    NnrtPickle *pk = m->pk;
    if (pk->nall >= MAX_OBJECTS) {
        nnrt_err(m->e, "%s: pickle holds more than %d objects (nnc's limit)", pk->what,
                 MAX_OBJECTS);
        return NULL;
    }
    if (pk->nall == pk->capall) {
        int cap = pk->capall ? 2 * pk->capall : 256;
        Obj **a = realloc(pk->all, (size_t)cap * sizeof *a);
        if (!a) {
            nnrt_err(m->e, "%s: out of memory", pk->what);
            return NULL;
        }
        pk->all = a;
        pk->capall = cap;
    }
    Obj *o = calloc(1, sizeof *o);
    if (o && (k == O_ARRAY || k == O_DTYPE) && !(o->ap = calloc(1, sizeof *o->ap))) {
        free(o);
        o = NULL;
    }
    if (!o) {
        nnrt_err(m->e, "%s: out of memory", pk->what);
        return NULL;
    }
    o->kind = k;
    pk->all[pk->nall++] = o;
    return o;
}

static int corrupt(Machine *m, const char *why)
{
    return nnrt_err(m->e, "%s: corrupt pickle at byte %lld (%s)", m->pk->what,
                    (long long)(m->p - m->start), why);
}

static int need(Machine *m, uint64_t n)
{
    if ((uint64_t)(m->end - m->p) < n)
        return nnrt_err(m->e, "%s: truncated pickle (byte %lld needs %" PRIu64 " more bytes, "
                        "found %lld)", m->pk->what, (long long)(m->p - m->start), n,
                        (long long)(m->end - m->p));
    return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int push(Machine *m, Obj *o)
{
    if (!o)
        return -1;
    if (m->sp == m->scap) {
        if (m->scap >= MAX_STACK)
            return nnrt_err(m->e, "%s: pickle stack deeper than %d (nnc's limit)", m->pk->what,
                            MAX_STACK);
        int cap = m->scap ? 2 * m->scap : 64;
        Obj **s = realloc(m->stack, (size_t)cap * sizeof *s);
        if (!s)
            return nnrt_err(m->e, "%s: out of memory", m->pk->what);
        m->stack = s;
        m->scap = cap;
    }
    m->stack[m->sp++] = o;
    return 0;
}

static int push_int(Machine *m, int64_t v, OKind k)
{
    Obj *o = new_obj(m, k);
    if (!o)
        return -1;
    o->i = v;
    o->f = (double)v;
    return push(m, o);
}

static Obj *pop(Machine *m)
{
    int floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) {
        corrupt(m, "pop from an empty stack");
        return NULL;
    }
    return m->stack[--m->sp];
}

static Obj *top(Machine *m)
{
    int floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) {
        corrupt(m, "the stack is empty");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Removes the items above the last mark; *first indexes them in m->stack. */
static int pop_mark(Machine *m, int *first, int *count)
{
    if (m->nmarks == 0)
        return corrupt(m, "no MARK to pop to");
    *first = m->marks[--m->nmarks];
    *count = m->sp - *first;
    m->sp = *first;
    return 0;
}

static int add_items(Machine *m, Obj *c, Obj **items, int n)
{
    if (n <= 0)
        return 0;
    if (c->cap - c->n < n) {
        int64_t want = (int64_t)c->n + n;
        int64_t cap = c->cap ? c->cap : 4;
        while (cap < want)
            cap *= 2;
        if (cap > MAX_STACK * 2)
            return nnrt_err(m->e, "%s: a pickled container holds more than %d items (nnc's "
                            "limit)", m->pk->what, MAX_STACK);
        Obj **it = realloc(c->items, (size_t)cap * sizeof *it);
        if (!it)
            return nnrt_err(m->e, "%s: out of memory", m->pk->what);
        c->items = it;
        c->cap = (int)cap;
    }
    memcpy(c->items + c->n, items, (size_t)n * sizeof *items);
    c->n += n;
    return 0;
}

static Obj *make_seq(Machine *m, OKind k, Obj **items, int n)
{
    Obj *o = new_obj(m, k);
    if (o && add_items(m, o, items, n) != 0)
        return NULL;
    return o;
}

static int str_is(const Obj *o, const char *s)
{
    size_t n = strlen(s);
    return o && (o->kind == O_STR || o->kind == O_BYTES) && o->slen == n && memcmp(o->s, s, n) == 0;
}

/* ---- globals ---- */

static int find_global(Machine *m, const char *mod, size_t ml, const char *name, size_t nl)
{
    static const struct { const char *mod, *name; GFn fn; } ok[] = {
        { "numpy.core.multiarray", "_reconstruct", G_RECONSTRUCT },
        { "numpy._core.multiarray", "_reconstruct", G_RECONSTRUCT },
        { "numpy.core.numeric", "_frombuffer", G_FROMBUFFER },
        { "numpy._core.numeric", "_frombuffer", G_FROMBUFFER },
        { "numpy.core.multiarray", "scalar", G_SCALAR },
        { "numpy._core.multiarray", "scalar", G_SCALAR },
        { "numpy", "ndarray", G_NDARRAY },
        { "numpy", "dtype", G_DTYPE },
        { "_codecs", "encode", G_ENCODE },
        { "collections", "OrderedDict", G_ODICT },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i].mod) == ml && memcmp(ok[i].mod, mod, ml) == 0 &&
            strlen(ok[i].name) == nl && memcmp(ok[i].name, name, nl) == 0) {
            Obj *o = new_obj(m, O_GLOBAL);
            if (!o)
                return -1;
            o->fn = ok[i].fn;
            return push(m, o);
        }
    char shown[300];
    snprintf(shown, sizeof shown, "%.*s.%.*s", (int)(ml > 120 ? 120 : ml), mod,
             (int)(nl > 120 ? 120 : nl), name);
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 32 || (unsigned char)*c == 127)
            *c = '?';
    return nnrt_err(m->e, "%s: pickle refers to %s, which nnc will not load (it reads numpy "
                    "arrays, dicts, lists, tuples, strings and numbers only)", m->pk->what, shown);
}

/* A text line of the protocol 0 opcodes (GLOBAL, INST, INT, STRING, ...):
 * up to '\n', at most max bytes. */
static int read_line(Machine *m, const char **s, size_t *len, size_t max)
{
    const unsigned char *nl = memchr(m->p, '\n', (size_t)(m->end - m->p));
    if (!nl)
        return nnrt_err(m->e, "%s: truncated pickle (a %s at byte %lld has no end)",
                        m->pk->what, max == 256 ? "name" : "line", (long long)(m->p - m->start));
    *s = (const char *)m->p;
    *len = (size_t)(nl - m->p);
    if (*len > max)
        return corrupt(m, max == 256 ? "a global's name is longer than 256 bytes"
                                     : "a number's text is too long");
    m->p = nl + 1;
    return 0;
}

/* ---- protocol 0's text opcodes (Python 2's default protocol) ---- */

/* INT "I42\n" ("I01"/"I00": True/False) and LONG "L42L\n": a decimal integer. */
static int text_int(Machine *m, int op)
{
    const char *s;
    size_t len;
    if (read_line(m, &s, &len, 64) != 0)
        return -1;
    if (op == 'I' && len == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1'))
        return push_int(m, s[1] == '1', O_BOOL);
    if (op == 'L' && len > 0 && s[len - 1] == 'L')
        len--;
    size_t i = len > 0 && (s[0] == '-' || s[0] == '+');
    if (i == len)
        return corrupt(m, "an INT or LONG line that is not a decimal number");
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return corrupt(m, "an INT or LONG line that is not a decimal number");
        if (v > (UINT64_MAX - 9) / 10)
            return nnrt_err(m->e, "%s: pickle holds an integer of more than 64 bits (nnc reads "
                            "integers of up to 64 bits)", m->pk->what);
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    int neg = s[0] == '-';
    if (v > (uint64_t)INT64_MAX + neg)
        return nnrt_err(m->e, "%s: pickle holds an integer of more than 64 bits (nnc reads "
                        "integers of up to 64 bits)", m->pk->what);
    return push_int(m, neg ? (int64_t)(0 - v) : (int64_t)v, O_INT);
}

/* FLOAT "F0.5\n": repr() of a float. */
static int text_float(Machine *m)
{
    const char *s;
    size_t len;
    char buf[80];
    if (read_line(m, &s, &len, sizeof buf - 1) != 0)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (len == 0 || *end != '\0')
        return corrupt(m, "a FLOAT line that is not a number");
    Obj *o = new_obj(m, O_FLOAT);
    if (!o)
        return -1;
    o->f = d;
    return push(m, o);
}

static int hex_digit(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* STRING "S'...'\n": a Python 2 str in repr() quoting, read as bytes
 * (\\ \' \" \n \t \r \a \b \f \v \xHH \OOO; another backslash stays). */
static int text_string(Machine *m)
{
    const char *s;
    size_t len;
    if (read_line(m, &s, &len, SIZE_MAX) != 0)
        return -1;
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (len < 2 || (s[0] != '\'' && s[0] != '"') || s[len - 1] != s[0])
        return corrupt(m, "a STRING line that is not quoted");
    unsigned char *out = malloc(len), *o = out;
    if (!out || own(m->pk, out) != 0) {
        free(out);
        return nnrt_err(m->e, "%s: out of memory", m->pk->what);
    }
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\' || i + 1 == len - 1) {
            *o++ = c;
            continue;
        }
        c = (unsigned char)s[++i];
        static const char esc_from[] = "ntrabfv", esc_to[] = "\n\t\r\a\b\f\v";
        const char *esc = c ? strchr(esc_from, c) : NULL;
        if (esc) {
            *o++ = (unsigned char)esc_to[esc - esc_from];
        } else if (c == 'x' && i + 2 < len - 1 && hex_digit(s[i + 1]) >= 0 &&
                   hex_digit(s[i + 2]) >= 0) {
            *o++ = (unsigned char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else if (c >= '0' && c <= '7') {
            int v = c - '0';
            for (int k = 0; k < 2 && i + 1 < len - 1 && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                v = v * 8 + (s[++i] - '0');
            *o++ = (unsigned char)v;
        } else if (c == '\\' || c == '\'' || c == '"') {
            *o++ = c;
        } else {
            *o++ = '\\';
            *o++ = c;
        }
    }
    Obj *ob = new_obj(m, O_BYTES);
    if (!ob)
        return -1;
    ob->s = out;
    ob->slen = (size_t)(o - out);
    return push(m, ob);
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* UNICODE "V...\n": raw-unicode-escape (bytes are Latin-1 code points,
 * \uXXXX and \UXXXXXXXX escapes), kept as UTF-8 text. */
static int text_unicode(Machine *m)
{
    const char *s;
    size_t len;
    if (read_line(m, &s, &len, SIZE_MAX) != 0)
        return -1;
    if (len > SIZE_MAX / 4)
        return nnrt_err(m->e, "%s: out of memory", m->pk->what);
    unsigned char *out = malloc(2 * len + 1), *o = out;   /* a byte: at most 2 bytes of UTF-8 */
    if (!out || own(m->pk, out) != 0) {
        free(out);
        return nnrt_err(m->e, "%s: out of memory", m->pk->what);
    }
    for (size_t i = 0; i < len; i++) {
        int n = s[i] == '\\' && i + 1 < len ? (s[i + 1] == 'u' ? 4 : s[i + 1] == 'U' ? 8 : 0) : 0;
        uint32_t cp = 0;
        for (int k = 0; k < n; k++) {
            int h = i + 2 + (size_t)k < len ? hex_digit(s[i + 2 + k]) : -1;
            if (h < 0 || cp > 0x10ffff) {
                n = 0;
                break;
            }
            cp = cp * 16 + (uint32_t)h;
        }
        if (n && cp <= 0x10ffff) {    /* an escape's 6 or 10 bytes give at most 4 */
            o += put_utf8(o, cp);
            i += 1 + (size_t)n;
        } else {
            o += put_utf8(o, (unsigned char)s[i]);
        }
    }
    Obj *ob = new_obj(m, O_STR);
    if (!ob)
        return -1;
    ob->s = out;
    ob->slen = (size_t)(o - out);
    return push(m, ob);
}

/* ---- numpy dtypes and arrays ---- */

/* dtype('f8', False, True): kind and size; the byte order comes with BUILD. */
static void dtype_from_spec(Obj *d, const Obj *spec)
{
    ArrayPart *dt = d->ap;
    char s[32];
    dt->h.kind = 0;
    /* Python 3 writes the spec as text, Python 2 as a str (BINSTRING): bytes here */
    if (!spec || (spec->kind != O_STR && spec->kind != O_BYTES) || spec->slen == 0 ||
        spec->slen >= sizeof s || memchr(spec->s, '\0', spec->slen)) {
        snprintf(dt->why, sizeof dt->why, "a dtype nnc does not know");
        return;
    }
    memcpy(s, spec->s, spec->slen);
    s[spec->slen] = '\0';
    const char *p = s;
    char order = '=';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=')
        order = *p++;
    char k = *p++;
    int size = 0;
    while (*p >= '0' && *p <= '9' && size < 1000)
        size = size * 10 + (*p++ - '0');
    int ok = *p == '\0' && ((k == 'f' && (size == 2 || size == 4 || size == 8)) ||
                            ((k == 'i' || k == 'u') && (size == 1 || size == 2 || size == 4 ||
                                                        size == 8)) ||
                            (k == 'b' && size == 1));
    if (!ok) {
        snprintf(dt->why, sizeof dt->why, "dtype '%s' is not numeric (expected float, int, "
                 "uint or bool)", s);
        return;
    }
    dt->h.kind = k;
    dt->h.itemsize = size;
    dt->h.descr[0] = order;
}

/* dtype.__setstate__((3, '<', None, names, fields, elsize, alignment, flags)) */
static int dtype_build(Machine *m, Obj *d, const Obj *st)
{
    if (!st || st->kind != O_TUPLE || st->n < 2)
        return corrupt(m, "a dtype's state is not a tuple");
    ArrayPart *dt = d->ap;
    const Obj *bo = st->items[1];
    if ((bo->kind == O_STR || bo->kind == O_BYTES) && bo->slen == 1 && bo->s[0] &&
        strchr("<>|=", bo->s[0]))
        dt->h.descr[0] = (char)bo->s[0];
    if (st->n >= 4 && st->items[3]->kind != O_NONE && dt->h.kind) {
        dt->h.kind = 0;
        snprintf(dt->why, sizeof dt->why, "a structured dtype (expected plain numbers)");
    }
    return 0;
}

static int machine_is_little(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* Gives array a the dtype d, the shape tuple and the data bytes. */
static int array_fill(Machine *m, Obj *a, const Obj *d, const Obj *shape, int fortran,
                      const Obj *data)
{
    if (!d || d->kind != O_DTYPE)
        return corrupt(m, "an array without a dtype");
    if (!shape || shape->kind != O_TUPLE)
        return corrupt(m, "an array's shape is not a tuple");
    if (shape->n > NNRT_NPY_MAXRANK)
        return nnrt_err(m->e, "%s: a pickled array has %d dimensions (nnc reads at most %d)",
                        m->pk->what, shape->n, NNRT_NPY_MAXRANK);
    ArrayPart *ar = a->ap;
    const ArrayPart *dt = d->ap;
    NnrtNpyHeader *h = &ar->h;
    ar->filled = 1;
    h->rank = shape->n;
    int64_t count = 1;
    for (int i = 0; i < shape->n; i++) {
        const Obj *s = shape->items[i];
        if (s->kind != O_INT || s->i < 0)
            return corrupt(m, "an array's shape holds something other than sizes");
        h->shape[i] = s->i;
        if (s->i != 0 && count > INT64_MAX / 16 / s->i)
            return nnrt_err(m->e, "%s: a pickled array has an absurd shape (more elements than "
                            "any file can hold)", m->pk->what);
        count *= s->i;
    }
    h->count = count;
    h->fortran = fortran && shape->n > 1;
    if (!dt->h.kind) {
        snprintf(ar->why, sizeof ar->why, "%s", dt->why);
        return 0;
    }
    if (!data || (data->kind != O_BYTES && data->kind != O_STR)) {
        snprintf(ar->why, sizeof ar->why, "an object array (expected plain numbers)");
        return 0;
    }
    h->kind = dt->h.kind;
    h->itemsize = dt->h.itemsize;
    char order = dt->h.descr[0];
    int big = order == '>', little = order == '<';
    h->swap = h->itemsize > 1 && ((big && machine_is_little()) || (little && !machine_is_little()));
    snprintf(h->descr, sizeof h->descr, "%c%c%d",
             h->itemsize == 1 ? '|' : (big || (!little && !machine_is_little())) ? '>' : '<',
             h->kind, h->itemsize);
    uint64_t bytes = (uint64_t)count * (uint64_t)h->itemsize;
    if (bytes != data->slen) {
        char dims[256];
        nnrt_format_dims64(dims, sizeof dims, h->rank, h->shape);
        return nnrt_err(m->e, "%s: corrupt pickle (an array of shape %s and dtype %s needs "
                        "%" PRIu64 " bytes of data, found %zu)", m->pk->what, dims, h->descr,
                        bytes, data->slen);
    }
    ar->data = data->s;
    return 0;
}

/* _codecs.encode(text, 'latin1'): the text's code points as bytes. */
static Obj *latin1_bytes(Machine *m, const Obj *args)
{
    if (args->n < 1 || args->items[0]->kind != O_STR ||
        (args->n > 1 && !str_is(args->items[1], "latin1") && !str_is(args->items[1], "latin-1") &&
         !str_is(args->items[1], "iso-8859-1"))) {
        corrupt(m, "_codecs.encode with arguments other than (text, 'latin1')");
        return NULL;
    }
    const Obj *t = args->items[0];
    unsigned char *out = malloc(t->slen ? t->slen : 1);
    if (!out || own(m->pk, out) != 0) {
        free(out);
        nnrt_err(m->e, "%s: out of memory", m->pk->what);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < t->slen; i++) {
        unsigned c = t->s[i];
        if (c < 0x80) {
            out[n++] = (unsigned char)c;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < t->slen && (t->s[i + 1] & 0xc0) == 0x80) {
            out[n++] = (unsigned char)(((c & 0x1f) << 6) | (t->s[i + 1] & 0x3f));
            i++;
        } else {
            corrupt(m, "_codecs.encode of text that is not latin-1");
            return NULL;
        }
    }
    Obj *o = new_obj(m, O_BYTES);
    if (o) {
        o->s = out;
        o->slen = n;
    }
    return o;
}

/* REDUCE: callable(*args) for the whitelisted callables. */
static int reduce(Machine *m)
{
    Obj *args = pop(m), *fn = args ? pop(m) : NULL;
    if (!fn)
        return -1;
    if (fn->kind != O_GLOBAL)
        return corrupt(m, "REDUCE on something that is not a known global");
    if (args->kind != O_TUPLE)
        return corrupt(m, "REDUCE with arguments that are not a tuple");
    Obj *o = NULL;
    switch (fn->fn) {
    case G_RECONSTRUCT:
        if (args->n < 1 || args->items[0]->kind != O_GLOBAL || args->items[0]->fn != G_NDARRAY)
            return corrupt(m, "_reconstruct of something other than numpy.ndarray");
        o = new_obj(m, O_ARRAY);
        break;
    case G_DTYPE:
        if (!(o = new_obj(m, O_DTYPE)))
            return -1;
        dtype_from_spec(o, args->n > 0 ? args->items[0] : NULL);
        break;
    case G_FROMBUFFER: {
        if (args->n != 4)
            return corrupt(m, "_frombuffer takes (buffer, dtype, shape, order)");
        if (!(o = new_obj(m, O_ARRAY)))
            return -1;
        const Obj *order = args->items[3];
        if (array_fill(m, o, args->items[1], args->items[2], str_is(order, "F"),
                       args->items[0]) != 0)
            return -1;
        break;
    }
    case G_SCALAR: {
        if (args->n != 2)
            return corrupt(m, "scalar takes (dtype, bytes)");
        if (!(o = new_obj(m, O_ARRAY)))
            return -1;
        Obj *shape = new_obj(m, O_TUPLE);
        if (!shape || array_fill(m, o, args->items[0], shape, 0, args->items[1]) != 0)
            return -1;
        break;
    }
    case G_ENCODE:
        o = latin1_bytes(m, args);
        break;
    case G_ODICT:
        if (args->n != 0)
            return corrupt(m, "OrderedDict with arguments");
        o = new_obj(m, O_DICT);
        break;
    case G_NDARRAY:
        return corrupt(m, "numpy.ndarray called directly");
    }
    return push(m, o);
}

static int build(Machine *m)
{
    Obj *st = pop(m), *o = st ? top(m) : NULL;
    if (!o)
        return -1;
    if (o->kind == O_DTYPE)
        return dtype_build(m, o, st);
    if (o->kind != O_ARRAY || o->ap->filled)
        return corrupt(m, "BUILD on something other than a new numpy array or dtype");
    if (st->kind != O_TUPLE || (st->n != 5 && st->n != 4))
        return corrupt(m, "an array's state is not (version, shape, dtype, fortran, data)");
    Obj **s = st->items + (st->n == 5);
    const Obj *f = s[2];
    if (f->kind != O_BOOL && f->kind != O_INT)
        return corrupt(m, "an array's fortran flag is not a bool");
    return array_fill(m, o, s[1], s[0], f->i != 0, s[3]);
}

/* ---- the machine ---- */

static int memo_put(Machine *m, int64_t idx)
{
    Obj *o = top(m);
    if (!o)
        return -1;
    if (idx < 0 || idx >= MAX_MEMO)
        return nnrt_err(m->e, "%s: pickle memo index %lld is out of range (nnc's limit is %d)",
                        m->pk->what, (long long)idx, MAX_MEMO);
    /* Picklers number memo entries from 0, one per object stored, so an
     * index past the objects made so far is corruption (and must not size
     * the memo: 5 bytes could ask for millions of slots). */
    if (idx > m->pk->nall)
        return nnrt_err(m->e, "%s: corrupt pickle at byte %lld (memo index %lld, expected at "
                        "most %d: the objects made so far)", m->pk->what,
                        (long long)(m->p - m->start), (long long)idx, m->pk->nall);
    if (idx >= m->capmemo) {
        int64_t cap = m->capmemo ? m->capmemo : 64;
        while (cap <= idx)
            cap *= 2;
        Obj **mm = realloc(m->memo, (size_t)cap * sizeof *mm);
        if (!mm)
            return nnrt_err(m->e, "%s: out of memory", m->pk->what);
        memset(mm + m->capmemo, 0, (size_t)(cap - m->capmemo) * sizeof *mm);
        m->memo = mm;
        m->capmemo = cap;
    }
    m->memo[idx] = o;
    if (idx >= m->nmemo)
        m->nmemo = idx + 1;
    return 0;
}

static int memo_get(Machine *m, int64_t idx)
{
    if (idx < 0 || idx >= m->nmemo || !m->memo[idx])
        return corrupt(m, "a memo reference to nothing");
    return push(m, m->memo[idx]);
}

static int push_string(Machine *m, OKind k, uint64_t n)
{
    if (need(m, n) != 0)
        return -1;
    Obj *o = new_obj(m, k);
    if (!o)
        return -1;
    o->s = m->p;
    o->slen = (size_t)n;
    m->p += n;
    return push(m, o);
}

static int refuse_op(Machine *m, int op, const char *what)
{
    return nnrt_err(m->e, "%s: pickle opcode 0x%02x at byte %lld (%s) is not supported by nnc",
                    m->pk->what, op, (long long)(m->p - 1 - m->start), what);
}

static int run(Machine *m, Obj **result)
{
    for (;;) {
        if (m->p >= m->end)
            return nnrt_err(m->e, "%s: truncated pickle (no STOP opcode before the end, byte %lld)",
                            m->pk->what, (long long)(m->p - m->start));
        int op = *m->p++;
        int first = 0, count = 0;
        uint64_t n;
        Obj *o, *c;
        switch (op) {
        case 0x80:                                  /* PROTO */
            if (need(m, 1) != 0)
                return -1;
            if (*m->p > 5)
                return nnrt_err(m->e, "%s: pickle protocol %d is not supported (expected 0 to 5)",
                                m->pk->what, *m->p);
            m->p++;
            break;
        case 0x95:                                  /* FRAME */
            if (need(m, 8) != 0)
                return -1;
            n = le(m->p, 8);
            m->p += 8;
            if (need(m, n) != 0)
                return -1;
            break;
        case '.':                                   /* STOP */
            if (!(*result = pop(m)))
                return -1;
            return 0;
        case '(':                                   /* MARK */
            if (m->nmarks == MAX_MARKS)
                return nnrt_err(m->e, "%s: pickle nests more than %d marks (nnc's limit)",
                                m->pk->what, MAX_MARKS);
            m->marks[m->nmarks++] = m->sp;
            break;
        case '0':                                   /* POP */
            if (!pop(m))
                return -1;
            break;
        case '1':                                   /* POP_MARK */
            if (pop_mark(m, &first, &count) != 0)
                return -1;
            break;
        case '2':                                   /* DUP */
            if (!(o = top(m)) || push(m, o) != 0)
                return -1;
            break;
        case 'N':
            if (push(m, new_obj(m, O_NONE)) != 0)
                return -1;
            break;
        case 0x88:                                  /* NEWTRUE, NEWFALSE */
        case 0x89:
            if (push_int(m, op == 0x88, O_BOOL) != 0)
                return -1;
            break;
        case 'J':                                   /* BININT */
            if (need(m, 4) != 0 || push_int(m, (int32_t)(uint32_t)le(m->p, 4), O_INT) != 0)
                return -1;
            m->p += 4;
            break;
        case 'K':                                   /* BININT1 */
            if (need(m, 1) != 0 || push_int(m, m->p[0], O_INT) != 0)
                return -1;
            m->p += 1;
            break;
        case 'M':                                   /* BININT2 */
            if (need(m, 2) != 0 || push_int(m, (int64_t)le(m->p, 2), O_INT) != 0)
                return -1;
            m->p += 2;
            break;
        case 0x8a:                                  /* LONG1 */
        case 0x8b: {                                /* LONG4 */
            int w = op == 0x8a ? 1 : 4;
            if (need(m, (uint64_t)w) != 0)
                return -1;
            n = le(m->p, w);
            m->p += w;
            if (need(m, n) != 0)
                return -1;
            if (n > 8)
                return nnrt_err(m->e, "%s: pickle holds an integer of %" PRIu64 " bytes (nnc "
                                "reads integers of up to 64 bits)", m->pk->what, n);
            uint64_t v = n ? le(m->p, (int)n) : 0;
            if (n > 0 && n < 8 && (m->p[n - 1] & 0x80))
                v |= ~(uint64_t)0 << (8 * n);     /* sign-extend */
            m->p += n;
            if (push_int(m, (int64_t)v, O_INT) != 0)
                return -1;
            break;
        }
        case 'G': {                                 /* BINFLOAT, big-endian */
            if (need(m, 8) != 0)
                return -1;
            uint64_t b = 0;
            for (int i = 0; i < 8; i++)
                b = (b << 8) | m->p[i];
            m->p += 8;
            double d;
            memcpy(&d, &b, 8);
            if (!(o = new_obj(m, O_FLOAT)))
                return -1;
            o->f = d;
            if (push(m, o) != 0)
                return -1;
            break;
        }
        case 0x8c:                                  /* SHORT_BINUNICODE */
        case 'C':                                   /* SHORT_BINBYTES */
        case 'U':                                   /* SHORT_BINSTRING (Python 2 str) */
            if (need(m, 1) != 0)
                return -1;
            n = *m->p++;
            if (push_string(m, op == 0x8c ? O_STR : O_BYTES, n) != 0)
                return -1;
            break;
        case 'X':                                   /* BINUNICODE */
        case 'B':                                   /* BINBYTES */
        case 'T':                                   /* BINSTRING */
            if (need(m, 4) != 0)
                return -1;
            n = le(m->p, 4);
            m->p += 4;
            if (op == 'T' && n > 0x7fffffffu)
                return corrupt(m, "negative string length");
            if (push_string(m, op == 'X' ? O_STR : O_BYTES, n) != 0)
                return -1;
            break;
        case 0x8d:                                  /* BINUNICODE8 */
        case 0x8e:                                  /* BINBYTES8 */
        case 0x96:                                  /* BYTEARRAY8 */
            if (need(m, 8) != 0)
                return -1;
            n = le(m->p, 8);
            m->p += 8;
            if (push_string(m, op == 0x8d ? O_STR : O_BYTES, n) != 0)
                return -1;
            break;
        case '}':                                   /* EMPTY_DICT */
            if (push(m, new_obj(m, O_DICT)) != 0)
                return -1;
            break;
        case ']':                                   /* EMPTY_LIST */
        case 0x8f:                                  /* EMPTY_SET: read as a list */
            if (push(m, new_obj(m, O_LIST)) != 0)
                return -1;
            break;
        case ')':                                   /* EMPTY_TUPLE */
            if (push(m, new_obj(m, O_TUPLE)) != 0)
                return -1;
            break;
        case 0x85:                                  /* TUPLE1..3 */
        case 0x86:
        case 0x87: {
            int k = op - 0x84;
            int floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
            if (m->sp - floor < k)
                return corrupt(m, "TUPLE with too few items on the stack");
            m->sp -= k;
            if (push(m, make_seq(m, O_TUPLE, m->stack + m->sp, k)) != 0)
                return -1;
            break;
        }
        case 't':                                   /* TUPLE, LIST, FROZENSET from the mark */
        case 'l':
        case 0x91:
            if (pop_mark(m, &first, &count) != 0 ||
                push(m, make_seq(m, op == 't' ? O_TUPLE : O_LIST, m->stack + first, count)) != 0)
                return -1;
            break;
        case 'd':                                   /* DICT from the mark */
            if (pop_mark(m, &first, &count) != 0)
                return -1;
            if (count % 2)
                return corrupt(m, "DICT with an odd number of items");
            if (!(o = make_seq(m, O_DICT, m->stack + first, count)))
                return -1;
            o->n = count / 2;
            if (push(m, o) != 0)
                return -1;
            break;
        case 'a':                                   /* APPEND */
            if (!(o = pop(m)) || !(c = top(m)))
                return -1;
            if (c->kind != O_LIST)
                return corrupt(m, "APPEND to something that is not a list");
            if (add_items(m, c, &o, 1) != 0)
                return -1;
            break;
        case 'e':                                   /* APPENDS, ADDITEMS */
        case 0x90:
            if (pop_mark(m, &first, &count) != 0 || !(c = top(m)))
                return -1;
            if (c->kind != O_LIST)
                return corrupt(m, "APPENDS to something that is not a list");
            if (add_items(m, c, m->stack + first, count) != 0)
                return -1;
            break;
        case 's':                                   /* SETITEM */
        case 'u': {                                 /* SETITEMS */
            Obj *pair[2];
            Obj **items = pair;
            if (op == 's') {
                if (!(pair[1] = pop(m)) || !(pair[0] = pop(m)))
                    return -1;
                count = 2;
            } else {
                if (pop_mark(m, &first, &count) != 0)
                    return -1;
                items = m->stack + first;
                if (count % 2)
                    return corrupt(m, "SETITEMS with an odd number of items");
            }
            if (!(c = top(m)))
                return -1;
            if (c->kind != O_DICT)
                return corrupt(m, "SETITEM on something that is not a dict");
            c->n *= 2;                          /* items counts keys and values here */
            int r = add_items(m, c, items, count);
            c->n /= 2;
            if (r != 0)
                return -1;
            break;
        }
        case 'q':                                   /* BINPUT */
            if (need(m, 1) != 0 || memo_put(m, m->p[0]) != 0)
                return -1;
            m->p += 1;
            break;
        case 'r':                                   /* LONG_BINPUT */
            if (need(m, 4) != 0 || memo_put(m, (int64_t)le(m->p, 4)) != 0)
                return -1;
            m->p += 4;
            break;
        case 0x94:                                  /* MEMOIZE */
            if (memo_put(m, m->nmemo) != 0)
                return -1;
            break;
        case 'h':                                   /* BINGET */
            if (need(m, 1) != 0 || memo_get(m, m->p[0]) != 0)
                return -1;
            m->p += 1;
            break;
        case 'j':                                   /* LONG_BINGET */
            if (need(m, 4) != 0 || memo_get(m, (int64_t)le(m->p, 4)) != 0)
                return -1;
            m->p += 4;
            break;
        case 'p':                                   /* PUT, GET: decimal index and newline */
        case 'g': {
            const char *s;
            size_t len;
            if (read_line(m, &s, &len, 256) != 0)
                return -1;
            int64_t idx = 0;
            if (len == 0 || len > 9)
                return corrupt(m, "bad memo index");
            for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                    return corrupt(m, "bad memo index");
                idx = idx * 10 + (s[i] - '0');
            }
            if ((op == 'p' ? memo_put(m, idx) : memo_get(m, idx)) != 0)
                return -1;
            break;
        }
        case 'c':                                   /* GLOBAL "module\nname\n" */
        case 'i': {                                 /* INST: refused by name as well */
            const char *mod, *name;
            size_t ml, nl;
            if (read_line(m, &mod, &ml, 256) != 0 || read_line(m, &name, &nl, 256) != 0)
                return -1;
            if (op == 'i') {
                char shown[300];
                snprintf(shown, sizeof shown, "%.*s.%.*s", (int)ml, mod, (int)nl, name);
                return nnrt_err(m->e, "%s: pickle refers to %s, which nnc will not load (it reads "
                                "numpy arrays, dicts, lists, tuples, strings and numbers only)",
                                m->pk->what, shown);
            }
            if (find_global(m, mod, ml, name, nl) != 0)
                return -1;
            break;
        }
        case 0x93: {                                /* STACK_GLOBAL */
            Obj *name = pop(m), *mod = name ? pop(m) : NULL;
            if (!mod)
                return -1;
            if (mod->kind != O_STR || name->kind != O_STR)
                return corrupt(m, "STACK_GLOBAL without two strings");
            if (find_global(m, (const char *)mod->s, mod->slen, (const char *)name->s,
                            name->slen) != 0)
                return -1;
            break;
        }
        case 'R':
            if (reduce(m) != 0)
                return -1;
            break;
        case 'b':
            if (build(m) != 0)
                return -1;
            break;
        case 0x97:
        case 0x98:
            return nnrt_err(m->e, "%s: pickle uses out-of-band buffers (protocol 5 with a "
                            "buffer_callback), whose data is not in the file", m->pk->what);
        case 'P':
        case 'Q':
            return nnrt_err(m->e, "%s: pickle uses persistent IDs (as PyTorch's torch.save "
                            "does), which nnc will not load; save numpy arrays instead",
                            m->pk->what);
        case 0x81:
        case 0x92:
            return refuse_op(m, op, "NEWOBJ: creating an object of a class");
        case 'o':
            return refuse_op(m, op, "OBJ: creating an object of a class");
        case 0x82:
        case 0x83:
        case 0x84:
            return refuse_op(m, op, "EXT: the extension registry");
        case 'I':                                   /* INT, LONG: decimal text */
        case 'L':
            if (text_int(m, op) != 0)
                return -1;
            break;
        case 'F':                                   /* FLOAT: repr() text */
            if (text_float(m) != 0)
                return -1;
            break;
        case 'S':                                   /* STRING: a Python 2 str, quoted */
            if (text_string(m) != 0)
                return -1;
            break;
        case 'V':                                   /* UNICODE: raw-unicode-escape text */
            if (text_unicode(m) != 0)
                return -1;
            break;
        default:
            return refuse_op(m, op, "unknown opcode");
        }
    }
}

/* ---- flattening the object tree into named arrays ---- */

static int add_entry(NnrtPickle *pk, const char *name, const NnrtNpyHeader *h,
                     const void *data, const char *why, int labels, NnrtErr *e)
{
    int64_t max = pk->len / 64 > MAX_ENTRIES ? (int64_t)(pk->len / 64) : MAX_ENTRIES;
    if (pk->n >= max || pk->n == INT32_MAX)
        return nnrt_err(e, "%s: pickle holds more than %" PRId64 " arrays (nnc's limit for its "
                        "size)", pk->what, max);
    if (pk->n == pk->cap) {
        int cap = pk->cap ? 2 * pk->cap : 16;
        NnrtEntry *en = realloc(pk->entry, (size_t)cap * sizeof *en);
        if (!en)
            return nnrt_err(e, "%s: out of memory", pk->what);
        pk->entry = en;
        pk->cap = cap;
    }
    NnrtEntry *en = &pk->entry[pk->n];
    memset(en, 0, sizeof *en);
    en->name = nnrt_strdup(name);
    if (!en->name)
        return nnrt_err(e, "%s: out of memory", pk->what);
    pk->n++;
    if (h)
        en->h = *h;
    en->data = data;
    en->labels = labels;
    if (why)
        snprintf(en->why, sizeof en->why, "%s", why);
    return 0;
}

static int is_number(const Obj *o)
{
    return o->kind == O_INT || o->kind == O_BOOL || o->kind == O_FLOAT;
}

/* The shape of a rectangular nest of lists/tuples of numbers; 0 if it is not one. */
static int list_shape(NnrtPickle *pk, const Obj *o, int depth, NnrtNpyHeader *h, int *all_int)
{
    if (depth >= NNRT_NPY_MAXRANK || (o->kind != O_LIST && o->kind != O_TUPLE))
        return 0;
    /* items count as visits too: a list shared through the memo a million
     * times costs a few bytes of file and a million times its length here */
    pk->visits += 1 + o->n;
    if (pk->visits > pk->max_visits)
        return 0;
    if (depth == 0) {
        /* the shape along the first items */
        const Obj *p = o;
        h->rank = 0;
        while ((p->kind == O_LIST || p->kind == O_TUPLE) && h->rank < NNRT_NPY_MAXRANK) {
            h->shape[h->rank++] = p->n;
            if (p->n == 0)
                break;
            p = p->items[0];
        }
        if (p->kind == O_LIST || p->kind == O_TUPLE ? p->n != 0 : !is_number(p))
            return 0;
    }
    if (o->n != h->shape[depth])
        return 0;
    for (int i = 0; i < o->n; i++) {
        const Obj *it = o->items[i];
        if (depth + 1 < h->rank) {
            if (!list_shape(pk, it, depth + 1, h, all_int))
                return 0;
        } else {
            if (!is_number(it))
                return 0;
            if (it->kind == O_FLOAT)
                *all_int = 0;
        }
    }
    return 1;
}

static void list_values(const Obj *o, int depth, int rank, double **dst)
{
    for (int i = 0; i < o->n; i++) {
        const Obj *it = o->items[i];
        if (depth + 1 < rank)
            list_values(it, depth + 1, rank, dst);
        else
            *(*dst)++ = it->kind == O_FLOAT ? it->f : (double)it->i;
    }
}

/* A dict whose pickle sets one key twice (SETITEM runs in any order) or
 * whose keys read the same here (b'x' and 'x', 1 and '1'): Python keeps
 * the last value, so taking either would guess.  Refused with the key. */
static int dict_repeats(NnrtPickle *pk, const Obj *o, const char *path, NnrtErr *e)
{
    if (o->n < 2)
        return 0;
    NnrtName *names = malloc((size_t)o->n * sizeof *names);
    char *nums = malloc((size_t)o->n * 24);
    if (!names || !nums) {
        free(names);
        free(nums);
        return nnrt_err(e, "%s: out of memory", pk->what);
    }
    int n = 0;
    for (int i = 0; i < o->n; i++) {
        const Obj *k = o->items[2 * i];
        if (k->kind == O_STR || k->kind == O_BYTES) {
            names[n].s = (const char *)k->s;
            names[n++].len = k->slen;
        } else if (k->kind == O_INT) {
            char *d = nums + 24 * (size_t)i;
            names[n].len = (size_t)snprintf(d, 24, "%lld", (long long)k->i);
            names[n++].s = d;
        }
    }
    int r = nnrt_find_repeat(names, n), bad = 0;
    if (r >= 0) {
        int l = names[r].len > 200 ? 200 : (int)names[r].len;
        bad = nnrt_err(e, "%s: pickle sets the key '%s%s%.*s' twice in one dict (Python keeps "
                       "the last value; nnc refuses to guess: save each key once)", pk->what,
                       path, path[0] ? "/" : "", l, names[r].s);
    }
    free(names);
    free(nums);
    return bad;
}

static int flatten(NnrtPickle *pk, const Obj *o, char *name, size_t nlen, int depth, NnrtErr *e)
{
    if (++pk->visits > pk->max_visits)
        return nnrt_err(e, "%s: pickle's object tree is too intricate for its size (more than "
                        "%" PRId64 " visits for %zu bytes; nnc's limit)", pk->what,
                        pk->max_visits, pk->len);
    if (depth > MAX_DEPTH)
        return nnrt_err(e, "%s: pickle nests containers more than %d deep (nnc's limit)",
                        pk->what, MAX_DEPTH);
    switch (o->kind) {
    case O_ARRAY:
        if (!o->ap->filled)
            return add_entry(pk, name, &o->ap->h, NULL, "an array without data", 0, e);
        return add_entry(pk, name, &o->ap->h, o->ap->data, o->ap->why[0] ? o->ap->why : NULL, 0,
                         e);
    case O_INT:
    case O_BOOL:
    case O_FLOAT: {
        NnrtNpyHeader h;
        memset(&h, 0, sizeof h);
        h.kind = 'f';
        h.itemsize = 8;
        h.count = 1;
        snprintf(h.descr, sizeof h.descr, "%s", machine_is_little() ? "<f8" : ">f8");
        double *v = malloc(sizeof *v);
        if (!v || own(pk, v) != 0) {
            free(v);
            return nnrt_err(e, "%s: out of memory", pk->what);
        }
        *v = o->kind == O_FLOAT ? o->f : (double)o->i;
        return add_entry(pk, name, &h, v, NULL, 0, e);
    }
    case O_LIST:
    case O_TUPLE: {
        NnrtNpyHeader h;
        int all_int = 1;
        memset(&h, 0, sizeof h);
        if (o->n > 0 && list_shape(pk, o, 0, &h, &all_int)) {
            int64_t count = 1;
            for (int i = 0; i < h.rank; i++)
                count *= h.shape[i];
            h.kind = 'f';
            h.itemsize = 8;
            h.count = count;
            snprintf(h.descr, sizeof h.descr, "%s", machine_is_little() ? "<f8" : ">f8");
            double *v = malloc((size_t)count * sizeof *v), *dst = v;
            if (!v || own(pk, v) != 0) {
                free(v);
                return nnrt_err(e, "%s: out of memory", pk->what);
            }
            list_values(o, 0, h.rank, &dst);
            return add_entry(pk, name, &h, v, NULL, all_int && h.rank == 1, e);
        }
        for (int i = 0; i < o->n; i++) {
            size_t l = strlen(name);
            snprintf(name + l, nlen - l, "%s%d", l ? "/" : "", i);
            int r = flatten(pk, o->items[i], name, nlen, depth + 1, e);
            name[l] = '\0';
            if (r != 0)
                return -1;
        }
        return 0;
    }
    case O_DICT:
        if (dict_repeats(pk, o, name, e) != 0)
            return -1;
        for (int i = 0; i < o->n; i++) {
            const Obj *k = o->items[2 * i];
            size_t l = strlen(name);
            if (k->kind == O_STR || k->kind == O_BYTES) {
                if (l + 1 + k->slen + 1 > nlen || memchr(k->s, '\0', k->slen))
                    continue;
                snprintf(name + l, nlen - l, "%s%.*s", l ? "/" : "", (int)k->slen,
                         (const char *)k->s);
            } else if (k->kind == O_INT) {
                snprintf(name + l, nlen - l, "%s%lld", l ? "/" : "", (long long)k->i);
            } else {
                continue;
            }
            int r = flatten(pk, o->items[2 * i + 1], name, nlen, depth + 1, e);
            name[l] = '\0';
            if (r != 0)
                return -1;
        }
        return 0;
    default:
        return 0;                              /* strings, None, globals: not data */
    }
}

int nnrt_pickle_parse(const char *what, const void *bytes, size_t len, NnrtPickle **out,
                      NnrtErr *e)
{
    *out = NULL;
    NnrtPickle *pk = calloc(1, sizeof *pk);
    if (!pk || !(pk->what = nnrt_strdup(what))) {
        free(pk);
        return nnrt_err(e, "%s: out of memory", what);
    }
    Machine m;
    memset(&m, 0, sizeof m);
    m.pk = pk;
    m.start = m.p = bytes;
    m.end = m.start + len;
    m.e = e;
    Obj *result = NULL;
    /* a stack from the start: MARK on an empty one must not index NULL */
    m.scap = 64;
    m.stack = malloc((size_t)m.scap * sizeof *m.stack);
    int r = m.stack ? run(&m, &result) : nnrt_err(e, "%s: out of memory", what);
    free(m.stack);
    free(m.memo);
    if (r == 0) {
        char name[MAX_NAME];
        pk->len = len;
        pk->max_visits = (int64_t)(len < MAX_VISITS / 64 ? 64 * len : MAX_VISITS) + (1 << 20);
        name[0] = '\0';
        r = flatten(pk, result, name, sizeof name, 0, e);
    }
    if (r == 0 && pk->n > 1) {
        NnrtName *names = malloc((size_t)pk->n * sizeof *names);
        if (!names) {
            r = nnrt_err(e, "%s: out of memory", what);
        } else {
            for (int i = 0; i < pk->n; i++) {
                names[i].s = pk->entry[i].name;
                names[i].len = strlen(pk->entry[i].name);
            }
            int k = nnrt_find_repeat(names, pk->n);
            if (k >= 0)
                r = nnrt_err(e, "%s: pickle holds two arrays named '%s' (key paths that read "
                             "the same, such as 'a/b' and 'a' -> 'b'; rename one)", what,
                             pk->entry[k].name);
            free(names);
        }
    }
    if (r != 0) {
        nnrt_pickle_free(pk);
        return -1;
    }
    *out = pk;
    return 0;
}

int nnrt_pickle_entries(const NnrtPickle *pk, const NnrtEntry **list)
{
    *list = pk->entry;
    return pk->n;
}

void nnrt_pickle_free(NnrtPickle *pk)
{
    if (!pk)
        return;
    for (int i = 0; i < pk->nall; i++) {
        free(pk->all[i]->items);
        free(pk->all[i]->ap);
        free(pk->all[i]);
    }
    free(pk->all);
    for (int i = 0; i < pk->nowned; i++)
        free(pk->owned[i]);
    free(pk->owned);
    for (int i = 0; i < pk->n; i++)
        free(pk->entry[i].name);
    free(pk->entry);
    free(pk->what);
    free(pk);
}
