/*
 * ast.c - the syntax tree's memory, the parser's driver, and its printer.
 *
 * Memory: every node of one parse lives in one arena (a list of zeroed
 * chunks) and ast_free() releases it at once.  ast_alloc() has no arena
 * argument, so there is a "current" arena: ast_parse() opens a fresh one
 * for its Program, and anything allocated later (sema may build nodes
 * too) joins the most recently parsed program's arena.
 *
 * Parsing: ast_parse() runs the reentrant flex scanner and bison parser of
 * grammar/ (nn.l, nn.y) over an in-memory text.  Their shared state is an
 * NnLexState on this function's stack.
 *
 * Printing: the S-expression form of `nnc --emit=ast`, one top-level
 * statement per line; docs/ast.md describes it.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "nn.tab.h"
#include "lex.yy.h"

/* ---- the arena ---- */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, size;
} Chunk;

typedef struct Arena {
    Chunk *chunks;
    const Program *owner;
    struct Arena *next;
} Arena;

enum { CHUNK_SIZE = 64 * 1024 };

#define ALIGN_UP(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))
#define CHUNK_HEADER ALIGN_UP(sizeof(Chunk))

static Arena *arenas;    /* every live arena */
static Arena *current;   /* where ast_alloc allocates */

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
    return p;
}

static Arena *new_arena(void)
{
    Arena *a = xcalloc(sizeof *a);
    a->next = arenas;
    arenas = a;
    current = a;
    return a;
}

void *ast_alloc(size_t n)
{
    if (!current)
        new_arena();
    n = ALIGN_UP(n ? n : 1);
    Chunk *c = current->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        c = xcalloc(CHUNK_HEADER + size);
        c->size = size;
        c->next = current->chunks;
        current->chunks = c;
    }
    void *p = (char *)c + CHUNK_HEADER + c->used;
    c->used += n;
    return p;
}

char *ast_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(ast_alloc(n), s, n);
}

void ast_free(Program *p)
{
    if (!p)
        return;
    for (Arena **ap = &arenas; *ap; ap = &(*ap)->next) {
        Arena *a = *ap;
        if (a->owner != p)
            continue;
        *ap = a->next;
        if (current == a)
            current = NULL;
        while (a->chunks) {
            Chunk *c = a->chunks;
            a->chunks = c->next;
            free(c);
        }
        free(a);
        return;
    }
}

/* ---- parsing ---- */

Program *ast_parse(const char *file, const char *text)
{
    if (!file)
        file = "<input>";
    if (!text)
        text = "";
    diag_add_source(file, text);

    Arena *arena = new_arena();
    Program *p = ast_alloc(sizeof *p);
    arena->owner = p;
    p->file = ast_strdup(file);

    NnLexState ls;
    nn_lex_init(&ls, p, p->file, text);
    yyscan_t scanner;
    if (yylex_init_extra(&ls, &scanner) != 0) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
    YY_BUFFER_STATE buf = yy_scan_string(text, scanner);
    yyparse(scanner, &ls);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);

    p->stmts = ls.top.v;
    p->nstmts = ls.top.n;
    return p;
}

/* ---- printing ---- */

/* A number as written, near enough: integers without a point (10), other
 * whole numbers with one (2.0), the rest in the shortest %g form that
 * reads back as the same double (0.1, not 0.10000000000000001). */
static void print_num(FILE *out, double v, int is_int)
{
    char buf[40];
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        fprintf(out, is_int ? "%.0f" : "%.1f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void print_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        switch (*s) {
        case '"':  fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        default:   fputc(*s, out);
        }
    }
    fputc('"', out);
}

const char *ast_op_text(int op)
{
    static const char one[][2] = {"+", "-", "*", "/", "^", "@", "<", ">"};
    const char *chars = "+-*/^@<>";
    switch (op) {
    case AST_LE: return "<=";
    case AST_GE: return ">=";
    case AST_EQ: return "==";
    }
    const char *c = op > 0 && op < 256 ? strchr(chars, op) : NULL;
    return c ? one[c - chars] : "?";
}

static void print_expr(FILE *out, const Expr *e);

/* " a b (= key c)": arguments of a call or elements of a list */
static void print_args(FILE *out, const Arg *args, int n)
{
    for (int i = 0; i < n; i++) {
        fputc(' ', out);
        if (args[i].name) {
            fprintf(out, "(= %s ", args[i].name);
            print_expr(out, args[i].value);
            fputc(')', out);
        } else {
            print_expr(out, args[i].value);
        }
    }
}

static void print_expr(FILE *out, const Expr *e)
{
    if (!e) {
        fputs("()", out);
        return;
    }
    switch (e->kind) {
    case EX_NUM:
        print_num(out, e->num, e->is_int);
        break;
    case EX_STR:
        print_str(out, e->str);
        break;
    case EX_NAME:
        fputs(e->str, out);
        break;
    case EX_BINARY:
        fprintf(out, "(%s ", ast_op_text(e->op));
        print_expr(out, e->lhs);
        fputc(' ', out);
        print_expr(out, e->rhs);
        fputc(')', out);
        break;
    case EX_NEG:
    case EX_TRANSPOSE:
        fputs(e->kind == EX_NEG ? "(neg " : "(transpose ", out);
        print_expr(out, e->lhs);
        fputc(')', out);
        break;
    case EX_CALL:
        fprintf(out, "(call %s", e->str);
        print_args(out, e->args, e->nargs);
        fputc(')', out);
        break;
    case EX_LIST:
        fputs("(list", out);
        print_args(out, e->args, e->nargs);
        fputc(')', out);
        break;
    case EX_INDEX:
        fputs("(index ", out);
        print_expr(out, e->lhs);
        print_args(out, e->args, e->nargs);
        fputc(')', out);
        break;
    case EX_SLICE:
        fputs("(slice ", out);
        if (e->lhs)
            print_expr(out, e->lhs);
        else
            fputc('_', out);
        fputc(' ', out);
        if (e->rhs)
            print_expr(out, e->rhs);
        else
            fputc('_', out);
        fputc(')', out);
        break;
    }
}

static void print_dims(FILE *out, const Stmt *s)
{
    fputs(" [", out);
    for (int i = 0; i < s->ndims; i++) {
        if (i)
            fputc(' ', out);
        print_expr(out, s->dims[i]);
    }
    fputc(']', out);
}

static void print_items(FILE *out, const Stmt *s)
{
    for (int i = 0; i < s->nitems; i++) {
        fprintf(out, " (= %s ", s->items[i].key);
        print_expr(out, s->items[i].value);
        fputc(')', out);
    }
}

static void print_stmt(FILE *out, const Stmt *s)
{
    switch (s->kind) {
    case ST_MODEL:
        fprintf(out, "(model %s)", s->name);
        break;
    case ST_CONST:
    case ST_ASSIGN:
        fprintf(out, "(%s %s ", s->kind == ST_CONST ? "const" : "assign", s->name);
        print_expr(out, s->value);
        fputc(')', out);
        break;
    case ST_INPUT:
        fprintf(out, "(input %s", s->name);
        print_dims(out, s);
        fputc(')', out);
        break;
    case ST_TARGET:
        fprintf(out, "(target %s", s->name);
        if (s->value) {
            fputs(" (class ", out);
            print_expr(out, s->value);
            fputc(')', out);
        } else {
            print_dims(out, s);
        }
        fputc(')', out);
        break;
    case ST_PARAM:
        fprintf(out, "(param %s", s->name);
        print_dims(out, s);
        fputc(' ', out);
        print_expr(out, s->value);
        fputs(s->frozen ? " frozen)" : ")", out);
        break;
    case ST_NOISE:
        fprintf(out, "(noise %s", s->name);
        print_dims(out, s);
        fputc(' ', out);
        print_expr(out, s->value);
        fputc(')', out);
        break;
    case ST_TRAIN:
    case ST_EXAMPLE:
        fputs(s->kind == ST_TRAIN ? "(train" : "(example", out);
        print_items(out, s);
        fputc(')', out);
        break;
    case ST_REPEAT:
        fputs("(repeat ", out);
        if (s->name) {
            fprintf(out, "(= %s ", s->name);
            print_expr(out, s->value);
            fputc(')', out);
        } else {
            print_expr(out, s->value);
        }
        for (int i = 0; i < s->nbody; i++) {
            fputc(' ', out);
            print_stmt(out, s->body[i]);
        }
        fputc(')', out);
        break;
    }
}

void ast_print(FILE *out, const Program *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nstmts; i++) {
        print_stmt(out, p->stmts[i]);
        fputc('\n', out);
    }
}
