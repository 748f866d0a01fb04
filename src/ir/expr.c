/*
 * expr.c - ops.def's element expressions parsed once into trees (expr.h),
 * the one table of math functions, and what every backend shares about a
 * tree: its float64 value and its FLOPs.  Printing it as C is the C
 * backend's (emit_c.c), building it as LLVM instructions the JIT's
 * (jit_math.c).
 *
 * The parser is a recursive descent over expr.h's grammar; each function
 * below carries its rule.  Trees live for the process: an op's is parsed
 * on first use (once, also when compilations run in threads: nnc sweep).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"

static double math_exp(double a, double b) { (void)b; return exp(a); }
static double math_log(double a, double b) { (void)b; return log(a); }
static double math_log1p(double a, double b) { (void)b; return log1p(a); }
static double math_sqrt(double a, double b) { (void)b; return sqrt(a); }
static double math_tanh(double a, double b) { (void)b; return tanh(a); }
static double math_fabs(double a, double b) { (void)b; return fabs(a); }
static double math_pow(double a, double b) { return pow(a, b); }
static double math_erf(double a, double b) { (void)b; return erf(a); }

/* name, arity, float64, C float32, C float64, the JIT's intrinsic, inlined in float32 */
const MathInfo ir_math[MATH_COUNT] = {
    [MATH_EXP] = {"EXP", 1, math_exp, "nnrt_expf", "exp", "llvm.exp", 1},
    [MATH_LOG] = {"LOG", 1, math_log, "logf", "log", "llvm.log", 0},
    [MATH_LOG1P] = {"LOG1P", 1, math_log1p, "nnrt_log1pf", "log1p", NULL, 1},
    [MATH_SQRT] = {"SQRT", 1, math_sqrt, "sqrtf", "sqrt", "llvm.sqrt", 0},
    [MATH_TANH] = {"TANH", 1, math_tanh, "nnrt_tanhf", "tanh", NULL, 1},
    [MATH_FABS] = {"FABS", 1, math_fabs, "fabsf", "fabs", "llvm.fabs", 0},
    [MATH_POW] = {"POW", 2, math_pow, "powf", "pow", "llvm.pow", 0},
    [MATH_ERF] = {"ERF", 1, math_erf, "erff", "erf", NULL, 0},   /* gelu's; libm in both */
};

/* ---- the parser ---- */

typedef struct Parser {
    const char *s;          /* what is left of the template */
    const char *tmpl, *what;
} Parser;

static IrExpr *node(IrExprKind kind)
{
    IrExpr *e = calloc(1, sizeof *e);
    if (!e)
        diag_internal("out of memory");
    e->kind = kind;
    return e;
}

static IrExpr *node2(IrExprKind kind, const IrExpr *a, const IrExpr *b)
{
    IrExpr *e = node(kind);
    e->nkids = 2;
    e->kid[0] = a;
    e->kid[1] = b;
    return e;
}

static _Noreturn void parse_error(const Parser *ps, const char *msg)
{
    diag_internal("%s: the element expression \"%s\": %s at \"%s\"", ps->what, ps->tmpl, msg, ps->s);
}

static void skip_space(Parser *ps)
{
    while (*ps->s == ' ')
        ps->s++;
}

/* Whether the next token is tok (then taken). */
static int eat(Parser *ps, const char *tok)
{
    skip_space(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->s, tok, n) != 0)
        return 0;
    ps->s += n;
    return 1;
}

static void expect(Parser *ps, const char *tok)
{
    if (!eat(ps, tok)) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%s'", tok);
        parse_error(ps, msg);
    }
}

static const IrExpr *parse_expr(Parser *ps);

/* NUMBER, as C reads it; kept as written for the C backend */
static const IrExpr *parse_number(Parser *ps)
{
    char *end;
    IrExpr *e = node(E_NUM);
    e->num = strtod(ps->s, &end);
    e->numf = strtof(ps->s, NULL);
    e->integer = 1;
    for (const char *c = ps->s; c < end; c++)
        e->integer &= *c >= '0' && *c <= '9';
    size_t n = (size_t)(end - ps->s);
    char *text = malloc(n + 1);
    if (!text)
        diag_internal("out of memory");
    memcpy(text, ps->s, n);
    text[n] = '\0';
    e->text = text;
    ps->s = end;
    return e;
}

/* FUNC "(" expr ("," expr)* ")", FUNC one of ir_math */
static const IrExpr *parse_call(Parser *ps)
{
    for (int f = 0; f < MATH_COUNT; f++) {
        size_t len = strlen(ir_math[f].name);
        if (strncmp(ps->s, ir_math[f].name, len) != 0 || ps->s[len] != '(')
            continue;
        ps->s += len + 1;
        IrExpr *e = node(E_CALL);
        e->fn = (MathFn)f;
        do {
            if (e->nkids == 3)
                parse_error(ps, "too many arguments");
            e->kid[e->nkids++] = parse_expr(ps);
        } while (eat(ps, ","));
        expect(ps, ")");
        if (e->nkids != ir_math[f].arity)
            parse_error(ps, "a math function with the wrong number of arguments");
        return e;
    }
    parse_error(ps, "unexpected text");
}

/* primary = "$" DIGIT | NUMBER | FUNC "(" expr ("," expr)* ")" | "(" expr ")" */
static const IrExpr *parse_primary(Parser *ps)
{
    skip_space(ps);
    if (ps->s[0] == '$' && ps->s[1] >= '0' && ps->s[1] <= '9') {
        IrExpr *e = node(E_ARG);
        e->arg = ps->s[1] - '0';
        ps->s += 2;
        return e;
    }
    if ((*ps->s >= '0' && *ps->s <= '9') || *ps->s == '.')
        return parse_number(ps);
    if (eat(ps, "(")) {
        IrExpr *e = (IrExpr *)parse_expr(ps);
        expect(ps, ")");
        e->paren = 1;
        return e;
    }
    return parse_call(ps);
}

/* unary = "-" unary | primary */
static const IrExpr *parse_unary(Parser *ps)
{
    if (!eat(ps, "-"))
        return parse_primary(ps);
    IrExpr *e = node(E_NEG);
    e->nkids = 1;
    e->kid[0] = parse_unary(ps);
    return e;
}

/* product = unary (("*" | "/") unary)* */
static const IrExpr *parse_product(Parser *ps)
{
    const IrExpr *e = parse_unary(ps);
    for (;;) {
        if (eat(ps, "*"))
            e = node2(E_MUL, e, parse_unary(ps));
        else if (eat(ps, "/"))
            e = node2(E_DIV, e, parse_unary(ps));
        else
            return e;
    }
}

/* sum = product (("+" | "-") product)* */
static const IrExpr *parse_sum(Parser *ps)
{
    const IrExpr *e = parse_product(ps);
    for (;;) {
        if (eat(ps, "+"))
            e = node2(E_ADD, e, parse_product(ps));
        else if (eat(ps, "-"))
            e = node2(E_SUB, e, parse_product(ps));
        else
            return e;
    }
}

/* compare = sum ((">" | "<" | "==") sum)? */
static const IrExpr *parse_compare(Parser *ps)
{
    const IrExpr *e = parse_sum(ps);
    if (eat(ps, "=="))
        return node2(E_EQ, e, parse_sum(ps));
    if (eat(ps, ">"))
        return node2(E_GT, e, parse_sum(ps));
    if (eat(ps, "<"))
        return node2(E_LT, e, parse_sum(ps));
    return e;
}

/* expr = compare ("?" expr ":" expr)? */
static const IrExpr *parse_expr(Parser *ps)
{
    const IrExpr *c = parse_compare(ps);
    if (!eat(ps, "?"))
        return c;
    IrExpr *e = node(E_COND);
    e->nkids = 3;
    e->kid[0] = c;
    e->kid[1] = parse_expr(ps);
    expect(ps, ":");
    e->kid[2] = parse_expr(ps);
    return e;
}

const IrExpr *ir_expr_parse(const char *tmpl, const char *what)
{
    Parser ps = {tmpl, tmpl, what};
    const IrExpr *e = parse_expr(&ps);
    skip_space(&ps);
    if (*ps.s)
        parse_error(&ps, "trailing text");
    return e;
}

/* ---- every op's, parsed once ---- */

static struct {
    pthread_once_t once;
    const IrExpr *expr[OP_COUNT];
} parsed = {PTHREAD_ONCE_INIT, {NULL}};

static void parse_ops(void)
{
    /* NNC_TEST_OP_EXPR='NAME=TEMPLATE' */
    const char *over = getenv("NNC_TEST_OP_EXPR");
    const char *eq = over ? strchr(over, '=') : NULL;
    int found = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const char *tmpl = ir_ops[op].cexpr;
        if (eq && ir_ops[op].kind == K_MAP && strlen(ir_ops[op].name) == (size_t)(eq - over)
            && strncmp(over, ir_ops[op].name, (size_t)(eq - over)) == 0) {
            tmpl = eq + 1;
            found = 1;
        }
        if (tmpl)
            parsed.expr[op] = ir_expr_parse(tmpl, ir_ops[op].name);
    }
    if (over && *over && !found) {
        fprintf(stderr, "nnc: error: NNC_TEST_OP_EXPR='%s': not NAME=EXPRESSION with NAME an "
                "elementwise op of ops.def\n", over);
        exit(1);
    }
}

const IrExpr *ir_op_expr(Op op)
{
    pthread_once(&parsed.once, parse_ops);
    return parsed.expr[op];
}

/* ---- evaluation and FLOPs ---- */

double ir_expr_eval(const IrExpr *e, const double *x)
{
    double a = e->nkids > 0 ? ir_expr_eval(e->kid[0], x) : 0;
    double b = e->nkids > 1 && e->kind != E_COND ? ir_expr_eval(e->kid[1], x) : 0;
    switch (e->kind) {
    case E_NUM: return e->num;
    case E_ARG: return x[e->arg];
    case E_NEG: return -a;
    case E_ADD: return a + b;
    case E_SUB: return a - b;
    case E_MUL: return a * b;
    case E_DIV: return a / b;
    case E_GT: return a > b;
    case E_LT: return a < b;
    case E_EQ: return a == b;
    case E_COND: return ir_expr_eval(e->kid[a != 0 ? 1 : 2], x);
    case E_CALL: return ir_math[e->fn].eval(a, b);
    }
    diag_internal("ir_expr_eval: kind %d", (int)e->kind);
}

int ir_expr_flops(const IrExpr *e)
{
    int n = e->kind != E_NUM && e->kind != E_ARG && e->kind != E_COND;
    for (int k = 0; k < e->nkids; k++)
        n += ir_expr_flops(e->kid[k]);
    return n;
}

int ir_expr_prec(const IrExpr *e)
{
    switch (e->kind) {
    case E_COND: return 1;
    case E_GT: case E_LT: case E_EQ: return 2;
    case E_ADD: case E_SUB: return 3;
    case E_MUL: case E_DIV: return 4;
    case E_NEG: return 5;
    default: return 6;
    }
}
