/*
 * ast.h - the syntax tree the parser (grammar/nn.y) builds.
 *
 * The tree is exactly what was written: names are not resolved, constants
 * not folded, `repeat` not unrolled and `dense` not expanded; sema.c does
 * all of that while lowering to IR.  Every node carries its source span.
 * Nodes are allocated from one arena and freed together (ast_free).
 */
#ifndef NNC_AST_H
#define NNC_AST_H

#include "diag.h"

typedef enum ExprKind {
    EX_NUM,        /* 0.5, 10, 1e-4 */
    EX_STR,        /* "train.npz" */
    EX_NAME,       /* W1, zeros, full, true */
    EX_BINARY,     /* a OP b, op one of + - * / ^ @ */
    EX_NEG,        /* -a */
    EX_TRANSPOSE,  /* a' */
    EX_CALL,       /* f(a, b, key = c) */
    EX_LIST,       /* [a, b, c]  (elements may be lists: [[1, 2], [3, 4]]) */
    EX_INDEX,      /* a[i, lo:hi]: lhs indexed by args (each an index or an EX_SLICE) */
    EX_SLICE       /* lo:hi in an index, lhs and rhs each NULL when left out */
} ExprKind;

typedef struct Expr Expr;

typedef struct Arg {
    const char *name;  /* keyword argument name, or NULL for positional */
    Loc name_loc;
    Expr *value;
} Arg;

struct Expr {
    ExprKind kind;
    Loc loc;           /* the whole expression; for EX_BINARY the caret is on the operator */
    double num;        /* EX_NUM */
    int is_int;        /* EX_NUM: written without '.', 'e' (a valid integer) */
    const char *str;   /* EX_STR (unescaped), EX_NAME, EX_CALL (callee name) */
    int op;            /* EX_BINARY: '+', '-', '*', '/', '^', '@', '<', '>', AST_LE, AST_GE, AST_EQ */
    Expr *lhs, *rhs;   /* EX_BINARY; EX_NEG and EX_TRANSPOSE use lhs */
    Arg *args;         /* EX_CALL arguments, EX_LIST elements, EX_INDEX indices (name NULL) */
    int nargs;
    Loc callee_loc;    /* EX_CALL: the callee name */
    int depth;         /* operators on the longest path down to a leaf (AST_MAX_DEPTH) */
};

/* The deepest expression the parser accepts: every later pass recurses
 * down expressions, and a sum of 20,000 terms overflowed the stack. */
#define AST_MAX_DEPTH 2000

/* The longest name the lexer accepts: the generated C derives names from
 * the user's (d_W1, h1_2_) and must never cut one short. */
#define NN_MAX_NAME 40

typedef enum StmtKind {
    ST_MODEL,      /* model NAME */
    ST_CONST,      /* const A = e, B = e   (one Stmt per name) */
    ST_INPUT,      /* input x[D] */
    ST_TARGET,     /* target y[1]  |  target c : class(K) */
    ST_PARAM,      /* param W[H, D] = init [frozen] */
    ST_NOISE,      /* noise eps[16] = normal(0, 1) | uniform(a, b) */
    ST_ASSIGN,     /* name = expr   (includes `loss` and `penalty`) */
    ST_TRAIN,      /* train { key = expr ... } */
    ST_EXAMPLE,    /* example { name = expr ... } */
    ST_REPEAT      /* repeat N { stmts }  |  repeat i = N { stmts } */
} StmtKind;

typedef struct Stmt Stmt;

/* One `key = value` line of a train or example block. */
typedef struct Item {
    const char *key;
    Loc key_loc;
    Expr *value;
} Item;

struct Stmt {
    StmtKind kind;
    Loc loc;            /* the whole statement's first line */
    const char *name;   /* MODEL, CONST, INPUT, TARGET, PARAM, ASSIGN; REPEAT: index name or NULL */
    Loc name_loc;
    Expr *value;        /* CONST, ASSIGN: the expression; PARAM, NOISE: the initialiser;
                           TARGET: K for class(K) (NULL for a real target);
                           INPUT: V for index(V) (NULL for real numbers);
                           REPEAT: the count */
    Expr **dims;        /* INPUT, TARGET, PARAM, NOISE: the shape's dimensions */
    int ndims;
    int frozen;         /* PARAM */
    Item *items;        /* TRAIN, EXAMPLE */
    int nitems;
    Stmt **body;        /* REPEAT */
    int nbody;
};

typedef struct Program {
    const char *file;   /* path as given */
    Stmt **stmts;
    int nstmts;
} Program;

/* Parse `text` (the contents of `file`).  Syntax errors are reported through
 * diag; the parser recovers at the next line, so several are found in one
 * run.  Returns NULL only when nothing could be parsed at all; check
 * diag_error_count() for success. */
/* EX_BINARY's two-character operators <= >= ==, and any operator as written */
enum { AST_LE = 256, AST_GE, AST_EQ };
const char *ast_op_text(int op);

Program *ast_parse(const char *file, const char *text);
void ast_free(Program *p);

/* Print the tree in the stable text form of `nnc --emit=ast` (docs/ast.md). */
void ast_print(FILE *out, const Program *p);

/* Arena allocation used by the parser (freed by ast_free). */
void *ast_alloc(size_t n);
char *ast_strdup(const char *s);

#endif
