/*
 * nn.y - the grammar of .nn files: a pure, reentrant bison parser that
 * builds the syntax tree of ast.h (the language: docs/language.md).
 *
 * The scanner (nn.l) decides which newlines reach the grammar: none inside
 * ( ) and [ ], one per run of blank and comment lines elsewhere, and always
 * one before end of file.  So the grammar can treat NEWLINE (or ';') as a
 * plain statement separator, and a block as "separators and statements,
 * the last one possibly without a separator before its '}'".
 *
 * Expressions are written as one rule per precedence level, lowest first,
 * instead of with %left/%right declarations: the levels read in order and
 * the odd ones (unary minus binding looser than '^', but allowed as the
 * exponent) say what they do.
 *
 * Errors.  parse.error is custom: yyreport_syntax_error() turns bison's
 * list of expected tokens into a compiler-like message ("expected ',' or
 * ')' before 'x'"), grouping "an expression" and "a statement".  LAC makes
 * that list exact.  Recovery is per line: `error sep` skips to the end of
 * the line, and nn_error() drops a second message for a line that already
 * has one.  Unclosed brackets are the scanner's business (see nn.l).
 */
%require "3.6"
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {NnLexState *ls}

%code requires {
#include "ast.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

typedef struct NnLexState NnLexState;

typedef struct NumLit { double v; int is_int; } NumLit;

/* Growable arrays in the AST arena, for the lists the rules collect. */
typedef struct StmtVec { Stmt **v; int n, cap; } StmtVec;
typedef struct ExprVec { Expr **v; int n, cap; } ExprVec;
typedef struct ArgVec { Arg *v; int n, cap; } ArgVec;
typedef struct ItemVec { Item *v; int n, cap; } ItemVec;
}

%union {
    char *str;
    NumLit num;
    Expr *expr;
    StmtVec stmts;
    ExprVec exprs;
    ArgVec args;
    Arg arg;
    ItemVec items;
    Item item;
    int flag;
}

%code provides {
/* A token as the scanner hands it to the parser. */
typedef struct NnTok {
    int kind;
    YYSTYPE val;
    YYLTYPE loc;
    int after_swallow;   /* a newline inside brackets came just before it */
    char text[48];       /* its spelling, for messages (truncated) */
} NnTok;

/* An open bracket: ( [ or {. */
typedef struct NnOpen {
    int kind;
    YYLTYPE loc;
    int indent;          /* indentation of the line of the outermost ( [ */
} NnOpen;

/* Everything the scanner and the parser share (flex's "extra"). */
struct NnLexState {
    const char *file, *text;
    int *line_start, nlines;     /* byte offset of each line */
    int line, col;               /* where the next character is */
    NnOpen *open;                /* the bracket stack */
    int nopen, capopen;
    NnTok *q;                    /* tokens to hand out before reading on */
    int qhead, nq, capq;
    NnTok last, prev;            /* the last two tokens handed out */
    int swallowed;               /* a newline was swallowed since `last` */
    int eof;                     /* YYEOF was handed out */
    int recovering;              /* skipping the rest of an erroneous line */
    int eof_unclosed;            /* end of file closed open brackets */
    int last_error_line;
    StmtVec top;                 /* the program's statements */
    Program *prog;
};

int yylex(YYSTYPE *val, YYLTYPE *loc, yyscan_t scanner);
void nn_lex_init(NnLexState *ls, Program *prog, const char *file, const char *text);
int nn_lex_resync(NnLexState *ls);
int nn_lex_close_block(NnLexState *ls);
int nn_line_indent(const NnLexState *ls, int line);
int nn_line_end(const NnLexState *ls, int line);
void nn_error(NnLexState *ls, YYLTYPE at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
}

%code {
#include <stdio.h>
#include <string.h>

static void yyerror(YYLTYPE *loc, yyscan_t scanner, NnLexState *ls, const char *msg);

static Loc mkloc(const NnLexState *ls, YYLTYPE span, YYLTYPE caret);
static YYLTYPE join(YYLTYPE a, YYLTYPE b);
static Expr *new_expr(NnLexState *ls, ExprKind k, YYLTYPE span, YYLTYPE caret);
static Expr *unary_node(NnLexState *ls, ExprKind k, Expr *x, YYLTYPE span, YYLTYPE caret);
static void deepen(NnLexState *ls, Expr *e, const Expr *child);
static Expr *binary(NnLexState *ls, int op, Expr *l, Expr *r, YYLTYPE span, YYLTYPE caret);
static Stmt *new_stmt(NnLexState *ls, StmtKind k, YYLTYPE span, YYLTYPE caret);
static StmtVec one_stmt(Stmt *s);
static void misspelt_keyword(NnLexState *ls, const char *word, YYLTYPE at);
static void *grow(void *v, int *cap, size_t elem, int n);

#define PUSH(vec, x)                                                         \
    do {                                                                     \
        if ((vec).n == (vec).cap)                                            \
            (vec).v = grow((vec).v, &(vec).cap, sizeof *(vec).v, (vec).n);   \
        (vec).v[(vec).n++] = (x);                                            \
    } while (0)
}

%token <str> NAME "name"
%token <num> NUMBER "number"
%token <str> STRING "string"
%token NEWLINE "end of line"
%token KW_MODEL "model" KW_CONST "const" KW_INPUT "input" KW_TARGET "target"
%token KW_PARAM "param" KW_FROZEN "frozen" KW_TRAIN "train" KW_EXAMPLE "example"
%token KW_REPEAT "repeat" KW_CLASS "class"
%token LE "<=" GE ">=" EQ "=="

%type <expr> expr compare add mul unary pow powrhs postfix primary index
%type <stmts> stmt const_list stmt_lines body
%type <exprs> dims_opt
%type <args> exprs exprs_opt arglist args_opt indices
%type <arg> arg
%type <items> items block
%type <item> item
%type <flag> frozen_opt

%%

/* program = (stmt? sep)*      sep = NEWLINE | ";"
 * A line with a syntax error is skipped up to its separator. */
program:
    %empty
  | program stmt sep            { for (int i = 0; i < $2.n; i++) PUSH(ls->top, $2.v[i]); }
  | program sep
  | program error sep           { yyerrok; ls->recovering = 0; }
  ;

sep: NEWLINE | ';' ;

/* stmt = "model" NAME
 *      | "const" NAME "=" expr ("," NAME "=" expr)*
 *      | "input" NAME dims?
 *      | "target" NAME dims?  |  "target" NAME ":" "class" "(" expr ")"
 *      | "param" NAME dims? "=" expr "frozen"?  |  "param" NAME dims? "frozen" "=" expr
 *      | NAME "=" expr
 *      | "noise" NAME dims? "=" expr       ("noise" is a name, not a keyword)
 *      | "train" block  |  "example" block
 *      | "repeat" (NAME "=")? expr body
 * A statement's value is a list because `const` declares several names. */
stmt:
    KW_MODEL NAME {
        Stmt *s = new_stmt(ls, ST_MODEL, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        $$ = one_stmt(s);
    }
  | KW_CONST const_list         { $$ = $2; }
  | KW_INPUT NAME dims_opt {
        Stmt *s = new_stmt(ls, ST_INPUT, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        $$ = one_stmt(s);
    }
  | KW_INPUT NAME dims_opt ':' NAME '(' expr ')' {
        Stmt *s = new_stmt(ls, ST_INPUT, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        s->value = $7;
        if (strcmp($5, "index") != 0)
            nn_error(ls, @5, "an input is declared `: index(V)` (integers in [0, V)), not '%s'", $5);
        $$ = one_stmt(s);
    }
  | KW_TARGET NAME dims_opt {
        Stmt *s = new_stmt(ls, ST_TARGET, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        $$ = one_stmt(s);
    }
  | KW_TARGET NAME ':' KW_CLASS '(' expr ')' {
        Stmt *s = new_stmt(ls, ST_TARGET, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->value = $6;
        $$ = one_stmt(s);
    }
  | KW_PARAM NAME dims_opt '=' expr frozen_opt {
        Stmt *s = new_stmt(ls, ST_PARAM, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        s->value = $5;
        s->frozen = $6;
        $$ = one_stmt(s);
    }
  | KW_PARAM NAME dims_opt KW_FROZEN '=' expr {
        Stmt *s = new_stmt(ls, ST_PARAM, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        s->value = $6;
        s->frozen = 1;
        $$ = one_stmt(s);
    }
  | NAME '=' expr {
        Stmt *s = new_stmt(ls, ST_ASSIGN, @$, @1);
        s->name = $1;
        s->name_loc = mkloc(ls, @1, @1);
        s->value = $3;
        $$ = one_stmt(s);
    }
  | NAME NAME dims_opt '=' expr {
        /* `noise eps[16] = normal(0, 1)`: `noise` stays a name (the
         * generators' keyword argument `noise = 0.1` spells it too) */
        if (strcmp($1, "noise") != 0)
            misspelt_keyword(ls, $1, @1);
        Stmt *s = new_stmt(ls, ST_NOISE, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->dims = $3.v;
        s->ndims = $3.n;
        s->value = $5;
        $$ = one_stmt(s);
    }
  | KW_TRAIN block {
        Stmt *s = new_stmt(ls, ST_TRAIN, @$, @1);
        s->items = $2.v;
        s->nitems = $2.n;
        $$ = one_stmt(s);
    }
  | KW_EXAMPLE block {
        Stmt *s = new_stmt(ls, ST_EXAMPLE, @$, @1);
        s->items = $2.v;
        s->nitems = $2.n;
        $$ = one_stmt(s);
    }
  | KW_REPEAT expr body {
        Stmt *s = new_stmt(ls, ST_REPEAT, @$, @1);
        s->value = $2;
        s->body = $3.v;
        s->nbody = $3.n;
        $$ = one_stmt(s);
    }
  | KW_REPEAT NAME '=' expr body {
        Stmt *s = new_stmt(ls, ST_REPEAT, @$, @1);
        s->name = $2;
        s->name_loc = mkloc(ls, @2, @2);
        s->value = $4;
        s->body = $5.v;
        s->nbody = $5.n;
        $$ = one_stmt(s);
    }
  ;

/* const_list = NAME "=" expr ("," NAME "=" expr)*
 * One ST_CONST per name, located at its own `NAME = expr`. */
const_list:
    NAME '=' expr {
        Stmt *s = new_stmt(ls, ST_CONST, join(@1, @3), @1);
        s->name = $1;
        s->name_loc = mkloc(ls, @1, @1);
        s->value = $3;
        $$ = one_stmt(s);
    }
  | const_list ',' NAME '=' expr {
        Stmt *s = new_stmt(ls, ST_CONST, join(@3, @5), @3);
        s->name = $3;
        s->name_loc = mkloc(ls, @3, @3);
        s->value = $5;
        $$ = $1;
        PUSH($$, s);
    }
  ;

/* dims = "[" (expr ("," expr)* ","?)? "]"
 * Without brackets the shape is a scalar's (rank 0). */
dims_opt:
    %empty                      { memset(&$$, 0, sizeof $$); }
  | '[' exprs_opt ']' {
        memset(&$$, 0, sizeof $$);
        for (int i = 0; i < $2.n; i++)
            PUSH($$, $2.v[i].value);
    }
  ;

frozen_opt:
    %empty                      { $$ = 0; }
  | KW_FROZEN                   { $$ = 1; }
  ;

/* body = "{" (stmt? sep)* stmt? "}"      (the statements of a repeat) */
body:
    '{' stmt_lines '}'          { $$ = $2; }
  | '{' stmt_lines stmt '}'     { $$ = $2; for (int i = 0; i < $3.n; i++) PUSH($$, $3.v[i]); }
  | '{' stmt_lines error '}'    { $$ = $2; yyerrok; ls->recovering = 0; }
  ;

stmt_lines:
    %empty                      { memset(&$$, 0, sizeof $$); }
  | stmt_lines stmt sep         { $$ = $1; for (int i = 0; i < $2.n; i++) PUSH($$, $2.v[i]); }
  | stmt_lines sep              { $$ = $1; }
  | stmt_lines error sep        { $$ = $1; yyerrok; ls->recovering = 0; }
  ;

/* block = "{" (item? sep)* item? "}"      (train and example)
 * item  = NAME "=" expr */
block:
    '{' items '}'               { $$ = $2; }
  | '{' items item '}'          { $$ = $2; PUSH($$, $3); }
  | '{' items error '}'         { $$ = $2; yyerrok; ls->recovering = 0; }
  ;

items:
    %empty                      { memset(&$$, 0, sizeof $$); }
  | items item sep              { $$ = $1; PUSH($$, $2); }
  | items sep                   { $$ = $1; }
  | items error sep             { $$ = $1; yyerrok; ls->recovering = 0; }
  ;

item:
    NAME '=' expr               { $$.key = $1; $$.key_loc = mkloc(ls, @1, @1); $$.value = $3; }
  ;

/* expr    = compare
 * compare = add (("<" | "<=" | ">" | ">=" | "==") add)?
 * Comparisons bind loosest and do not chain: a < b < c is an error. */
expr: compare ;

compare:
    add
  | add '<' add                 { $$ = binary(ls, '<', $1, $3, @$, @2); }
  | add LE add                  { $$ = binary(ls, AST_LE, $1, $3, @$, @2); }
  | add '>' add                 { $$ = binary(ls, '>', $1, $3, @$, @2); }
  | add GE add                  { $$ = binary(ls, AST_GE, $1, $3, @$, @2); }
  | add EQ add                  { $$ = binary(ls, AST_EQ, $1, $3, @$, @2); }
  ;

/* add = mul (("+" | "-") mul)* */
add:
    mul
  | add '+' mul                 { $$ = binary(ls, '+', $1, $3, @$, @2); }
  | add '-' mul                 { $$ = binary(ls, '-', $1, $3, @$, @2); }
  ;

/* mul = unary (("*" | "/" | "@") unary)* */
mul:
    unary
  | mul '*' unary               { $$ = binary(ls, '*', $1, $3, @$, @2); }
  | mul '/' unary               { $$ = binary(ls, '/', $1, $3, @$, @2); }
  | mul '@' unary               { $$ = binary(ls, '@', $1, $3, @$, @2); }
  ;

/* unary = "-" unary | pow
 * Minus binds looser than '^': -x^2 is -(x^2). */
unary:
    pow
  | '-' unary                   { $$ = unary_node(ls, EX_NEG, $2, @$, @1); }
  ;

/* pow    = postfix ("^" powrhs)?
 * powrhs = "-" powrhs | pow
 * Right associative (a^b^c is a^(b^c)), and the exponent may be negated:
 * x ^ -1. */
pow:
    postfix
  | postfix '^' powrhs          { $$ = binary(ls, '^', $1, $3, @$, @2); }
  ;

powrhs:
    pow
  | '-' powrhs                  { $$ = unary_node(ls, EX_NEG, $2, @$, @1); }
  ;

/* postfix = primary ("'" | "[" index ("," index)* "]")*     (transpose, indexing) */
postfix:
    primary
  | postfix '\''                { $$ = unary_node(ls, EX_TRANSPOSE, $1, @$, @2); }
  | postfix '[' indices ']' {
        $$ = new_expr(ls, EX_INDEX, @$, @2);
        $$->lhs = $1;
        $$->args = $3.v;
        $$->nargs = $3.n;
        deepen(ls, $$, $1);
        for (int i = 0; i < $$->nargs; i++)
            deepen(ls, $$, $$->args[i].value);
    }
  ;

indices:
    index                       { memset(&$$, 0, sizeof $$); Arg a = {0}; a.value = $1; PUSH($$, a); }
  | indices ',' index           { $$ = $1; Arg a = {0}; a.value = $3; PUSH($$, a); }
  ;

/* index = expr | expr? ":" expr?      (one index, or a slice numpy style) */
index:
    expr
  | ':'                         { $$ = new_expr(ls, EX_SLICE, @$, @1); }
  | expr ':'                    { $$ = new_expr(ls, EX_SLICE, @$, @2); $$->lhs = $1; }
  | ':' expr                    { $$ = new_expr(ls, EX_SLICE, @$, @1); $$->rhs = $2; }
  | expr ':' expr               { $$ = new_expr(ls, EX_SLICE, @$, @2); $$->lhs = $1; $$->rhs = $3; }
  ;

/* primary = NUMBER | STRING | NAME
 *         | NAME "(" args? ")"
 *         | "(" expr ")"
 *         | "[" (expr ("," expr)* ","?)? "]" */
primary:
    NUMBER {
        $$ = new_expr(ls, EX_NUM, @$, @1);
        $$->num = $1.v;
        $$->is_int = $1.is_int;
    }
  | STRING                      { $$ = new_expr(ls, EX_STR, @$, @1); $$->str = $1; }
  | NAME                        { $$ = new_expr(ls, EX_NAME, @$, @1); $$->str = $1; }
  | NAME '(' args_opt ')' {
        $$ = new_expr(ls, EX_CALL, @$, @1);
        $$->str = $1;
        $$->callee_loc = mkloc(ls, @1, @1);
        $$->args = $3.v;
        $$->nargs = $3.n;
        for (int i = 0; i < $$->nargs; i++)
            deepen(ls, $$, $$->args[i].value);
    }
  | '(' expr ')'                { $$ = $2; }
  | '[' exprs_opt ']' {
        $$ = new_expr(ls, EX_LIST, @$, @1);
        $$->args = $2.v;
        $$->nargs = $2.n;
        for (int i = 0; i < $$->nargs; i++)
            deepen(ls, $$, $$->args[i].value);
    }
  ;

/* args = arg ("," arg)* ","?
 * arg  = NAME "=" expr | expr */
args_opt:
    %empty                      { memset(&$$, 0, sizeof $$); }
  | arglist
  | arglist ','
  ;

arglist:
    arg                         { memset(&$$, 0, sizeof $$); PUSH($$, $1); }
  | arglist ',' arg             { $$ = $1; PUSH($$, $3); }
  ;

arg:
    expr                        { memset(&$$, 0, sizeof $$); $$.value = $1; }
  | NAME '=' expr               { $$.name = $1; $$.name_loc = mkloc(ls, @1, @1); $$.value = $3; }
  ;

exprs_opt:
    %empty                      { memset(&$$, 0, sizeof $$); }
  | exprs
  | exprs ','
  ;

exprs:
    expr {
        Arg a;
        memset(&a, 0, sizeof a);
        a.value = $1;
        memset(&$$, 0, sizeof $$);
        PUSH($$, a);
    }
  | exprs ',' expr {
        Arg a;
        memset(&a, 0, sizeof a);
        a.value = $3;
        $$ = $1;
        PUSH($$, a);
    }
  ;

%%

/* ---- building nodes ---- */

/* A node's Loc: the caret where `caret` starts, the span underlined on
 * the caret's line only (clipped to that line when it runs over several). */
static Loc mkloc(const NnLexState *ls, YYLTYPE span, YYLTYPE caret)
{
    Loc l;
    l.file = ls->file;
    l.line = caret.first_line;
    l.col = caret.first_column;
    l.col0 = span.first_line == l.line ? span.first_column : nn_line_indent(ls, l.line);
    l.col1 = span.last_line == l.line ? span.last_column : nn_line_end(ls, l.line);
    if (l.col1 < l.col0)
        l.col1 = l.col0;
    return l;
}

static YYLTYPE join(YYLTYPE a, YYLTYPE b)
{
    a.last_line = b.last_line;
    a.last_column = b.last_column;
    return a;
}

static Expr *new_expr(NnLexState *ls, ExprKind k, YYLTYPE span, YYLTYPE caret)
{
    Expr *e = ast_alloc(sizeof *e);
    e->kind = k;
    e->loc = mkloc(ls, span, caret);
    return e;
}

/* e has child below it: e is one deeper than child, and too deep is said
 * once, at the operator that crosses AST_MAX_DEPTH. */
static void deepen(NnLexState *ls, Expr *e, const Expr *child)
{
    if (child->depth + 1 <= e->depth)
        return;
    e->depth = child->depth + 1;
    if (e->depth == AST_MAX_DEPTH + 1)
        diag_error(e->loc, "this expression is nested more than %d operators deep; split it into "
                   "several statements", AST_MAX_DEPTH);
    (void)ls;
}

static Expr *binary(NnLexState *ls, int op, Expr *l, Expr *r, YYLTYPE span, YYLTYPE caret)
{
    Expr *e = new_expr(ls, EX_BINARY, span, caret);
    e->op = op;
    e->lhs = l;
    e->rhs = r;
    deepen(ls, e, l);
    deepen(ls, e, r);
    return e;
}

static Expr *unary_node(NnLexState *ls, ExprKind k, Expr *x, YYLTYPE span, YYLTYPE caret)
{
    Expr *e = new_expr(ls, k, span, caret);
    e->lhs = x;
    deepen(ls, e, x);
    return e;
}

static Stmt *new_stmt(NnLexState *ls, StmtKind k, YYLTYPE span, YYLTYPE caret)
{
    Stmt *s = ast_alloc(sizeof *s);
    s->kind = k;
    s->loc = mkloc(ls, span, caret);
    return s;
}

static StmtVec one_stmt(Stmt *s)
{
    StmtVec v;
    memset(&v, 0, sizeof v);
    PUSH(v, s);
    return v;
}

/* Double an arena array of n elements (the old one stays in the arena). */
static void *grow(void *v, int *cap, size_t elem, int n)
{
    int ncap = *cap ? 2 * *cap : 4;
    void *nv = ast_alloc((size_t)ncap * elem);
    if (n)
        memcpy(nv, v, (size_t)n * elem);
    *cap = ncap;
    return nv;
}

/* ---- syntax errors ---- */

static void yyerror(YYLTYPE *loc, yyscan_t scanner, NnLexState *ls, const char *msg)
{
    (void)scanner;
    /* bison's only message of its own: its stack (YYMAXDEPTH) is full */
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "parentheses or brackets nested too deeply (more than the parser's 10000)";
    nn_error(ls, *loc, "%s", msg);
}

static const char *const stmt_keywords[] = {
    "model", "const", "input", "target", "param", "train", "example", "repeat", "noise",
};

/* `parm W[2] = zeros` read as `NAME NAME ...`, the shape of a noise
 * declaration: the message of a misspelt keyword (yyreport_syntax_error). */
static void misspelt_keyword(NnLexState *ls, const char *word, YYLTYPE at)
{
    const char *kw = diag_closest(word, stmt_keywords,
                                  (int)(sizeof stmt_keywords / sizeof *stmt_keywords));
    if (kw)
        nn_error(ls, at, "unknown keyword '%s'; did you mean '%s'?", word, kw);
    else
        nn_error(ls, at, "unexpected name '%s' (a statement starts with a name only in "
                 "`NAME = expr` or `noise NAME[dims] = ...`)", word);
}

/* How an expected token reads in "expected X before ...". */
static const char *expected_name(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF:      return "end of file";
    case YYSYMBOL_NAME:       return "a name";
    case YYSYMBOL_NUMBER:     return "a number";
    case YYSYMBOL_STRING:     return "a string";
    case YYSYMBOL_NEWLINE:    return "end of line";
    case YYSYMBOL_KW_MODEL:   return "'model'";
    case YYSYMBOL_KW_CONST:   return "'const'";
    case YYSYMBOL_KW_INPUT:   return "'input'";
    case YYSYMBOL_KW_TARGET:  return "'target'";
    case YYSYMBOL_KW_PARAM:   return "'param'";
    case YYSYMBOL_KW_FROZEN:  return "'frozen'";
    case YYSYMBOL_KW_TRAIN:   return "'train'";
    case YYSYMBOL_KW_EXAMPLE: return "'example'";
    case YYSYMBOL_KW_REPEAT:  return "'repeat'";
    case YYSYMBOL_KW_CLASS:   return "'class'";
    default:                  return yysymbol_name(k);   /* "'+'" */
    }
}

/* If every symbol of `group` is expected, take them out of `want`. */
static int take_group(char *want, const yysymbol_kind_t *group, int n)
{
    for (int i = 0; i < n; i++)
        if (!want[group[i]])
            return 0;
    for (int i = 0; i < n; i++)
        want[group[i]] = 0;
    return 1;
}

/* "expected ',' or ')' before 'x'": bison's expected tokens, grouped
 * ("an expression", "a statement"), operators left out when something
 * else could also come (they are always possible after an operand and
 * listing them helps nobody), a separator read as "end of line". */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, NnLexState *ls)
{
    (void)scanner;
    ls->recovering = 1;
    if (ls->eof_unclosed || nn_lex_resync(ls))
        return 0;

    YYLTYPE at = *yypcontext_location(ctx);
    yysymbol_kind_t tok = yypcontext_token(ctx);
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    char want[YYNTOKENS];
    memset(want, 0, sizeof want);
    for (int i = 0; i < n; i++)
        want[exp[i]] = 1;

    /* `train {` without its '}', then the next statement */
    if (tok >= YYSYMBOL_KW_MODEL && tok <= YYSYMBOL_KW_REPEAT && tok != YYSYMBOL_KW_FROZEN &&
        want[YYTRANSLATE('}')] &&
        ls->last.loc.first_column == nn_line_indent(ls, ls->last.loc.first_line) &&
        nn_lex_close_block(ls))
        return 0;

    /* `parm W[2] = zeros`: a misspelt keyword reads as a name, then the
     * parser wants '=' after it (or a second name: `noise eps[2] = ...`). */
    if (n >= 1 && n <= 2 && want[YYTRANSLATE('=')] && (n == 1 || want[YYSYMBOL_NAME]) &&
        ls->prev.kind == NAME &&
        ls->prev.loc.first_column == nn_line_indent(ls, ls->prev.loc.first_line)) {
        const char *kw = diag_closest(ls->prev.text, stmt_keywords,
                                      (int)(sizeof stmt_keywords / sizeof *stmt_keywords));
        if (kw) {
            nn_error(ls, ls->prev.loc, "unknown keyword '%s'; did you mean '%s'?",
                     ls->prev.text, kw);
            return 0;
        }
    }

    /* what was found, and where: "before 'x'", "at end of line" */
    char what[64];
    const char *where = "before ";
    if (tok == YYSYMBOL_NEWLINE || tok == YYSYMBOL_YYEOF) {
        snprintf(what, sizeof what, "%s", expected_name(tok));
        where = "at ";
    } else if (tok == YYSYMBOL_STRING) {
        snprintf(what, sizeof what, "%s", ls->last.text);
    } else {
        snprintf(what, sizeof what, "'%s'", ls->last.text);
    }

    static const yysymbol_kind_t stmt_group[] = {
        YYSYMBOL_NAME, YYSYMBOL_KW_MODEL, YYSYMBOL_KW_CONST, YYSYMBOL_KW_INPUT,
        YYSYMBOL_KW_TARGET, YYSYMBOL_KW_PARAM, YYSYMBOL_KW_TRAIN,
        YYSYMBOL_KW_EXAMPLE, YYSYMBOL_KW_REPEAT,
    };
    yysymbol_kind_t ops[] = {
        YYTRANSLATE('+'), YYTRANSLATE('-'), YYTRANSLATE('*'),
        YYTRANSLATE('/'), YYTRANSLATE('^'), YYTRANSLATE('@'),
        YYTRANSLATE('<'), YYTRANSLATE('>'), YYSYMBOL_LE, YYSYMBOL_GE, YYSYMBOL_EQ,
    };
    yysymbol_kind_t expr_group[] = {
        YYSYMBOL_NAME, YYSYMBOL_NUMBER, YYSYMBOL_STRING,
        YYTRANSLATE('('), YYTRANSLATE('['), YYTRANSLATE('-'),
    };
    int had_ops = take_group(want, ops, (int)(sizeof ops / sizeof *ops));
    if (had_ops) {
        /* after an operand: also the postfix "'", an index's "[", a call's
         * "(" and a keyword argument's "=" */
        want[YYTRANSLATE('\'')] = want[YYTRANSLATE('(')] = want[YYTRANSLATE('=')] = 0;
        want[YYTRANSLATE('[')] = 0;
    }
    if (want[YYTRANSLATE('=')])
        want[YYSYMBOL_KW_FROZEN] = 0;   /* `param W[2] frozen = ...` is the rarer form */
    int is_stmt = take_group(want, stmt_group, 9);
    int is_expr = take_group(want, expr_group, 6);
    if (is_stmt || want[YYSYMBOL_NAME]) {
        /* at the start of a statement or item: blank lines are allowed,
         * but saying so helps nobody */
        want[YYSYMBOL_NEWLINE] = want[YYTRANSLATE(';')] = want[YYSYMBOL_YYEOF] = 0;
    }
    if (want[YYSYMBOL_NEWLINE])
        want[YYTRANSLATE(';')] = want[YYSYMBOL_YYEOF] = 0;

    const char *phrase[YYNTOKENS + 3];
    int np = 0;
    if (is_stmt)
        phrase[np++] = "a statement";
    if (is_expr)
        phrase[np++] = "an expression";
    /* words first, then punctuation in reading order, then the line's end */
    yysymbol_kind_t last[] = {
        YYTRANSLATE('='), YYTRANSLATE(':'), YYTRANSLATE('('), YYTRANSLATE('['),
        YYTRANSLATE('{'), YYTRANSLATE(','), YYTRANSLATE(')'), YYTRANSLATE(']'),
        YYTRANSLATE('}'), YYSYMBOL_NEWLINE, YYSYMBOL_YYEOF,
    };
    int nlast = (int)(sizeof last / sizeof *last);
    for (int k = 0; k < YYNTOKENS; k++) {
        int later = 0;
        for (int i = 0; i < nlast; i++)
            later |= last[i] == k;
        if (want[k] && !later)
            phrase[np++] = expected_name((yysymbol_kind_t)k);
    }
    for (int i = 0; i < nlast; i++)
        if (want[last[i]])
            phrase[np++] = expected_name(last[i]);
    if (np == 0 && had_ops)
        phrase[np++] = "an operator";

    if (np == 0 || np > 4) {
        nn_error(ls, at, "unexpected %s", what);
        return 0;
    }
    char list[256] = "";
    for (int i = 0; i < np; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s",
                 i == 0 ? "" : i == np - 1 ? " or " : ", ", phrase[i]);
    }
    nn_error(ls, at, "expected %s %s%s", list, where, what);
    return 0;
}
