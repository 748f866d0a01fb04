/*
 * diag.c - one format for every message about a user's program.
 *
 *   model.nn:9:10: error: '@': inner dimensions differ (784 vs 128)
 *       9 |   z1 = W2 @ x + b1
 *         |        ~~~^~~
 *
 * The quoted line comes from the texts registered with diag_add_source().
 * Columns in a Loc count characters (a UTF-8 sequence is one column, a tab
 * is one column); when the line is printed, tabs are expanded to the next
 * multiple of 8 and the underline is laid out in the same display columns,
 * so the caret stays under the right character whatever the tabs.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

typedef struct Source {
    char *file, *text;
    struct Source *next;
} Source;

static Source *sources;
static FILE *stream;     /* NULL: stderr */
static int nerrors;

static FILE *out(void)
{
    return stream ? stream : stderr;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
    return memcpy(p, s, n);
}

void diag_add_source(const char *file, const char *text)
{
    if (!file || !text)
        return;
    for (Source *s = sources; s; s = s->next) {
        if (strcmp(s->file, file) == 0) {
            if (s->text != text) {   /* may be re-registering our own copy */
                char *t = xstrdup(text);
                free(s->text);
                s->text = t;
            }
            return;
        }
    }
    Source *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
    s->file = xstrdup(file);
    s->text = xstrdup(text);
    s->next = sources;
    sources = s;
}

/* Line `line` (1-based) of `file`, and its length in bytes without the
 * newline (and a '\r' before it); NULL when unknown. */
static const char *source_line(const char *file, int line, int *len)
{
    const Source *s = sources;
    while (s && file && strcmp(s->file, file) != 0)
        s = s->next;
    if (!s || line < 1)
        return NULL;
    const char *p = s->text;
    for (int l = 1; l < line; l++) {
        p = strchr(p, '\n');
        if (!p)
            return NULL;
        p++;
    }
    if (!*p && line > 1 && p[-1] == '\n')
        return NULL;   /* past the last line */
    const char *end = strchr(p, '\n');
    int n = end ? (int)(end - p) : (int)strlen(p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *len = n;
    return p;
}

/* Print the source line with tabs expanded, then the underline: '~' under
 * characters col0..col1, '^' under col.  Columns past the end of the line
 * (a caret just after the last token) are one display column each. */
static void quote(FILE *f, Loc loc)
{
    int len;
    const char *line = source_line(loc.file, loc.line, &len);
    if (!line)
        return;

    int last = loc.col > loc.col1 ? loc.col : loc.col1;
    int nchars = 0;
    for (int i = 0; i < len; i++)
        nchars += ((unsigned char)line[i] & 0xC0) != 0x80;
    if (last < nchars)
        last = nchars;
    int *start = malloc(((size_t)last + 2) * sizeof *start);   /* display column of each char */
    int *width = malloc(((size_t)last + 2) * sizeof *width);
    if (!start || !width) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }

    fprintf(f, "%5d | ", loc.line);
    int c = 0, d = 0;   /* characters and display columns so far */
    for (int i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch & 0xC0) == 0x80) {
            fputc(ch, f);
            continue;
        }
        c++;
        start[c] = d;
        if (ch == '\t') {
            width[c] = 8 - d % 8;
            for (int k = 0; k < width[c]; k++)
                fputc(' ', f);
        } else {
            width[c] = 1;
            fputc(ch, f);
        }
        d += width[c];
    }
    fputc('\n', f);
    for (c++; c <= last + 1; c++) {
        start[c] = d++;
        width[c] = 1;
    }

    if (loc.col > 0 || loc.col0 > 0) {
        fputs("      | ", f);
        int from = loc.col0 > 0 && (loc.col <= 0 || loc.col0 < loc.col) ? loc.col0 : loc.col;
        int pos = 0;
        for (int ch = from; ch <= last; ch++) {
            int in_span = loc.col0 > 0 && ch >= loc.col0 && ch <= loc.col1;
            int mark = ch == loc.col ? '^' : in_span ? '~' : ' ';
            if (mark == ' ' && ch > loc.col && ch > loc.col1)
                break;
            for (; pos < start[ch]; pos++)
                fputc(' ', f);
            for (int k = 0; k < width[ch]; k++, pos++)   /* a tab: several columns */
                fputc(k == 0 ? mark : mark != '^' ? mark : in_span ? '~' : ' ', f);
        }
        fputc('\n', f);
    }
    free(start);
    free(width);
}

static void emit(const char *kind, Loc loc, const char *fmt, va_list ap)
{
    FILE *f = out();
    if (!loc.file)
        fprintf(f, "nnc: ");
    else if (loc.line <= 0)
        fprintf(f, "%s: ", loc.file);
    else if (loc.col <= 0)
        fprintf(f, "%s:%d: ", loc.file, loc.line);
    else
        fprintf(f, "%s:%d:%d: ", loc.file, loc.line, loc.col);
    fprintf(f, "%s: ", kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    if (loc.file && loc.line > 0)
        quote(f, loc);
    fflush(f);
}

void diag_error(Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error", loc, fmt, ap);
    va_end(ap);
    nerrors++;
}

void diag_warning(Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("warning", loc, fmt, ap);
    va_end(ap);
}

void diag_note(Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("note", loc, fmt, ap);
    va_end(ap);
}

int diag_error_count(void)
{
    return nerrors;
}

void diag_reset(void)
{
    nerrors = 0;
}

void diag_set_stream(FILE *f)
{
    stream = f;
}

/* Optimal string alignment distance (Levenshtein plus the transposition of
 * two adjacent characters: "adma" -> "adam" costs 1), ignoring case. */
static int edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    int *d = malloc((size_t)(n + 1) * (size_t)(m + 1) * sizeof *d);
    if (!d) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
#define D(i, j) d[(i) * (m + 1) + (j)]
    for (int i = 0; i <= n; i++)
        D(i, 0) = i;
    for (int j = 0; j <= m; j++)
        D(0, j) = j;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int best = D(i - 1, j - 1) + (ai != bj);
            if (D(i - 1, j) + 1 < best)
                best = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < best)
                best = D(i, j - 1) + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && D(i - 2, j - 2) + 1 < best)
                best = D(i - 2, j - 2) + 1;
            D(i, j) = best;
        }
    }
    int r = D(n, m);
#undef D
    free(d);
    return r;
}

/* The first candidate at the smallest distance, if that distance is at
 * most max(1, strlen(word) / 3).  A negative n means "up to the first
 * NULL" (for NULL-terminated name tables). */
const char *diag_closest(const char *word, const char *const *candidates, int n)
{
    if (!word || !candidates)
        return NULL;
    int limit = (int)strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; n < 0 || i < n; i++) {
        const char *c = candidates[i];
        if (!c) {
            if (n < 0)
                break;
            continue;
        }
        int d = edit_distance(word, c);
        if (d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return best;
}

_Noreturn void diag_internal_at(const char *file, int line, const char *fmt, ...)
{
    FILE *f = out();
    fflush(f);
    fprintf(f, "nnc: internal error at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
    abort();
}
