/*
 * diag.h - every message nnc prints about a user's program goes through here.
 *
 * One format (the one gcc and clang use), so editors can jump to it:
 *
 *   model.nn:9:10: error: '@': inner dimensions differ (784 vs 128)
 *       9 |   z1 = W2 @ x + b1
 *         |        ~~~^~~
 *   model.nn:4:7: note: 'W2' declared here as [128, 10]
 *
 * Errors are counted; the driver stops after the stage in which one
 * occurred, so one run reports several independent errors.  A bug in nnc
 * itself goes through diag_internal(), which names nnc's own source file and
 * aborts, so it is never mistaken for a mistake in the user's model.
 */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdarg.h>

/* A span of source text: first and last character, 1-based, inclusive.
 * `col` is the caret's column; the span [col0, col1] on line `line` is
 * underlined with '~'.  file == NULL means "no location". */
typedef struct Loc {
    const char *file;
    int line, col;     /* the caret */
    int col0, col1;    /* the underlined span on `line` (0 = just the caret) */
} Loc;

/* Register a source text so messages can quote its lines. */
void diag_add_source(const char *file, const char *text);

void diag_error(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_warning(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_note(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int diag_error_count(void);
void diag_reset(void);                 /* forget counts (unit tests) */

/* Where messages go: stderr by default; unit tests capture them. */
#include <stdio.h>
void diag_set_stream(FILE *f);

/* "did you mean 'adam'?" helper: the candidate closest to `word` in edit
 * distance if it is close enough to be a likely typo, else NULL. */
const char *diag_closest(const char *word, const char *const *candidates, int n);

_Noreturn void diag_internal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define diag_internal(...) diag_internal_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
