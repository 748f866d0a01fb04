/*
 * common_config.c - the trainer's settings: the train block's keys, which
 * are also its command-line flags (--epochs 10, --optimizer "adam(lr=0.01)").
 *
 * A value is written in the model language's syntax:
 *
 *   value = ["-"] NUMBER | STRING | NAME [ "(" [arg {"," arg}] ")" ]
 *         | "[" [value {"," value}] "]" | value "'"
 *   arg   = NAME "=" value | value
 *
 * parse_value() turns the text into a small tree; nnrt_config_set() checks
 * it against the tables below (optimizers, schedules and data generators
 * with their options, ranges and defaults) and stores it in an NnrtConfig.
 * The compiler calls nnrt_setting_check() on every train-block item, so a
 * misspelt key or optimizer is reported at compile time with the same words
 * the trainer uses for a flag.  Messages carry no file position (the caller
 * adds one) and suggest the nearest known name ("did you mean 'adam'?").
 */
#include "nnrt_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define INF ((double)INFINITY)

/* ---- the value parser ---- */

typedef enum VKind { V_NUM, V_STR, V_NAME, V_CALL, V_LIST, V_BIN, V_NEG, V_TRANSPOSE } VKind;

typedef struct Val Val;
typedef struct VArg {
    char *name;                /* keyword, or NULL */
    Val *v;
} VArg;

struct Val {
    VKind kind;
    double num;
    int is_int;
    char *s;                   /* STR contents, NAME, CALL callee */
    int nargs;
    VArg *args;                /* CALL arguments, LIST elements, BIN/NEG operands */
    char op;                   /* BIN: + - * / */
    char text[80];             /* the value as written (shortened), for messages */
};

typedef struct Parser {
    const char *src, *p;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static void val_free(Val *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->nargs; i++) {
        free(v->args[i].name);
        val_free(v->args[i].v);
    }
    free(v->args);
    free(v->s);
    free(v);
}

static void skip_space(Parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static void describe_token(const char *p, char *buf, size_t len)
{
    if (*p == '\0')
        snprintf(buf, len, "the end");
    else
        snprintf(buf, len, "'%.*s'", isalnum((unsigned char)*p) ? 12 : 1, p);
}

static Val *syntax_error(Parser *ps, const char *expected)
{
    if (!ps->failed) {
        char tok[40];
        describe_token(ps->p, tok, sizeof tok);
        snprintf(ps->err, ps->errlen, "in '%s': expected %s, found %s", ps->src, expected, tok);
    }
    ps->failed = 1;
    return NULL;
}

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static int is_ident(int c)
{
    return isalnum(c) || c == '_';
}

static char *dup_range(const char *a, const char *b)
{
    char *s = malloc((size_t)(b - a) + 1);
    if (s) {
        memcpy(s, a, (size_t)(b - a));
        s[b - a] = '\0';
    }
    return s;
}

static Val *new_val(VKind k)
{
    Val *v = calloc(1, sizeof *v);
    if (v)
        v->kind = k;
    return v;
}

static int push_arg(Val *v, char *name, Val *a)
{
    VArg *args = realloc(v->args, (size_t)(v->nargs + 1) * sizeof *args);
    if (!args)
        return -1;
    v->args = args;
    v->args[v->nargs].name = name;
    v->args[v->nargs].v = a;
    v->nargs++;
    return 0;
}

static Val *parse_value(Parser *ps);
static Val *parse_primary(Parser *ps);

/* "(" [arg {"," arg}] ")"  or  "[" [value {"," value}] "]" */
static Val *parse_args(Parser *ps, Val *v, char close)
{
    skip_space(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        skip_space(ps);
        char *name = NULL;
        if (close == ')' && is_ident_start((unsigned char)*ps->p)) {
            const char *q = ps->p;
            while (is_ident((unsigned char)*q))
                q++;
            const char *r = q;
            while (isspace((unsigned char)*r))
                r++;
            if (*r == '=' && r[1] != '=') {
                name = dup_range(ps->p, q);
                ps->p = r + 1;
            }
        }
        Val *a = parse_value(ps);
        if (!a || push_arg(v, name, a) != 0) {
            free(name);
            val_free(a);
            val_free(v);
            return NULL;
        }
        skip_space(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        val_free(v);
        return syntax_error(ps, close == ')' ? "',' or ')'" : "',' or ']'");
    }
}

static Val *parse_primary(Parser *ps)
{
    skip_space(ps);
    const char *start = ps->p;
    Val *v = NULL;
    if (ps->failed)
        return NULL;
    if (*ps->p == '(') {
        ps->p++;
        v = parse_value(ps);
        if (!v)
            return NULL;
        skip_space(ps);
        if (*ps->p != ')') {
            val_free(v);
            return syntax_error(ps, "')'");
        }
        ps->p++;
    } else if ((*ps->p == '-' || *ps->p == '+') && !isdigit((unsigned char)ps->p[1]) &&
               ps->p[1] != '.') {
        char sign = *ps->p++;
        Val *a = parse_primary(ps);
        if (!a)
            return NULL;
        if (sign == '+') {
            v = a;
        } else if (a->kind == V_NUM) {
            a->num = -a->num;
            v = a;
        } else {
            if (!(v = new_val(V_NEG)) || push_arg(v, NULL, a) != 0) {
                val_free(v);
                val_free(a);
                return NULL;
            }
        }
    } else if (isdigit((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == '-' || *ps->p == '+') {
        const char *q = ps->p;
        if (*q == '-' || *q == '+')
            q++;
        while (isspace((unsigned char)*q))
            q++;
        const char *num = q;
        int is_int = 1, digits = 0;
        while (isdigit((unsigned char)*q))
            q++, digits++;
        if (*q == '.') {
            is_int = 0;
            q++;
            while (isdigit((unsigned char)*q))
                q++, digits++;
        }
        if (digits == 0) {
            ps->p = num;
            return syntax_error(ps, "a number");
        }
        if (*q == 'e' || *q == 'E') {
            const char *r = q + 1;
            if (*r == '+' || *r == '-')
                r++;
            if (!isdigit((unsigned char)*r)) {
                ps->p = r;
                return syntax_error(ps, "the exponent's digits");
            }
            while (isdigit((unsigned char)*r))
                r++;
            q = r;
            is_int = 0;
        }
        if (is_ident((unsigned char)*q)) {
            ps->p = q;
            return syntax_error(ps, "a number");
        }
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(q - num), num);
        if (!(v = new_val(V_NUM)))
            return NULL;
        v->num = strtod(buf, NULL);
        if (*start == '-')
            v->num = -v->num;
        v->is_int = is_int;
        ps->p = q;
    } else if (*ps->p == '"') {
        ps->p++;
        size_t cap = strlen(ps->p) + 1, n = 0;
        char *s = malloc(cap);
        if (!s)
            return NULL;
        while (*ps->p && *ps->p != '"') {
            char c = *ps->p++;
            if (c == '\\' && *ps->p) {
                c = *ps->p++;
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
            }
            s[n++] = c;
        }
        s[n] = '\0';
        if (*ps->p != '"') {
            free(s);
            return syntax_error(ps, "the closing '\"' of the string");
        }
        ps->p++;
        if (!(v = new_val(V_STR))) {
            free(s);
            return NULL;
        }
        v->s = s;
    } else if (is_ident_start((unsigned char)*ps->p)) {
        const char *q = ps->p;
        while (is_ident((unsigned char)*q))
            q++;
        if (!(v = new_val(V_NAME)))
            return NULL;
        v->s = dup_range(ps->p, q);
        ps->p = q;
        skip_space(ps);
        if (*ps->p == '(') {
            ps->p++;
            v->kind = V_CALL;
            v = parse_args(ps, v, ')');
        }
    } else if (*ps->p == '[') {
        ps->p++;
        if (!(v = new_val(V_LIST)))
            return NULL;
        v = parse_args(ps, v, ']');
    } else {
        return syntax_error(ps, "a value (a number, a \"string\", a name or a call)");
    }
    /* postfix transpose, as in the model language: "cols.npy"' */
    while (v && (skip_space(ps), *ps->p == '\'')) {
        ps->p++;
        Val *t = new_val(V_TRANSPOSE);
        if (!t || push_arg(t, NULL, v) != 0) {
            free(t);
            val_free(v);
            return NULL;
        }
        v = t;
    }
    if (v)
        snprintf(v->text, sizeof v->text, "%.*s%s", (int)(ps->p - start > 60 ? 60 : ps->p - start),
                 start, ps->p - start > 60 ? "..." : "");
    return v;
}

/* value = term {("+" | "-") term};  term = primary {("*" | "/") primary}
 * primary = NUMBER | STRING | NAME ["(" args ")"] | "[" list "]" | "(" value ")"
 *         | "-" primary
 * Arithmetic on numbers folds to a number; otherwise it stays a BIN node
 * (data sources: "images.gz" / 255). */
static Val *binary(Parser *ps, Val *a, char op, Val *b, const char *start)
{
    if (a->kind == V_NUM && b->kind == V_NUM) {
        double x = a->num, y = b->num;
        a->num = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
        a->is_int = a->is_int && b->is_int && op != '/';
        val_free(b);
    } else {
        Val *v = new_val(V_BIN);
        if (!v || push_arg(v, NULL, a) != 0 || push_arg(v, NULL, b) != 0) {
            val_free(v);
            return NULL;
        }
        v->op = op;
        a = v;
    }
    snprintf(a->text, sizeof a->text, "%.*s%s", (int)(ps->p - start > 60 ? 60 : ps->p - start),
             start, ps->p - start > 60 ? "..." : "");
    return a;
}

static Val *parse_term(Parser *ps)
{
    skip_space(ps);
    const char *start = ps->p;
    Val *a = parse_primary(ps);
    for (;;) {
        if (!a)
            return NULL;
        skip_space(ps);
        if (*ps->p != '*' && *ps->p != '/')
            return a;
        char op = *ps->p++;
        Val *b = parse_primary(ps);
        if (!b) {
            val_free(a);
            return NULL;
        }
        a = binary(ps, a, op, b, start);
    }
}

static Val *parse_value(Parser *ps)
{
    skip_space(ps);
    const char *start = ps->p;
    Val *a = parse_term(ps);
    for (;;) {
        if (!a)
            return NULL;
        skip_space(ps);
        if (*ps->p != '+' && *ps->p != '-')
            return a;
        char op = *ps->p++;
        Val *b = parse_term(ps);
        if (!b) {
            val_free(a);
            return NULL;
        }
        a = binary(ps, a, op, b, start);
    }
}

/* Parses all of text as one value. */
static Val *parse_all(const char *text, char *err, size_t errlen)
{
    Parser ps = { text, text, err, errlen, 0 };
    Val *v = parse_value(&ps);
    if (v) {
        skip_space(&ps);
        if (*ps.p != '\0') {
            syntax_error(&ps, "the end of the value");
            val_free(v);
            v = NULL;
        }
    } else if (!ps.failed) {
        snprintf(err, errlen, "out of memory");
    }
    return v;
}

/* ---- tables: every function a setting can name, with its options ---- */

typedef struct OptDef {
    const char *name;
    char type;                 /* 'r' real, 'i' integer, 'b' true/false */
    double lo, hi;
    int lo_open, hi_open;
    double def;
} OptDef;

typedef struct FnDef {
    const char *name;
    int nopt;
    OptDef opt[6];
} FnDef;

#define NONNEG(name, def) { name, 'r', 0, INF, 0, 1, def }
#define POS(name, def) { name, 'r', 0, INF, 1, 1, def }
#define UNIT(name, def) { name, 'r', 0, 1, 0, 1, def }
#define COUNT(name, lo, def) { name, 'i', lo, 9007199254740992.0, 0, 0, def }

/* Indices match NnrtOptimKind, NnrtSchedKind and NnrtGenKind. */
static const FnDef optimizers[] = {
    { "sgd", 4, { NONNEG("lr", 0.01), UNIT("momentum", 0), { "nesterov", 'b', 0, 1, 0, 0, 0 },
                  NONNEG("weight_decay", 0) } },
    { "adam", 5, { NONNEG("lr", 0.001), UNIT("beta1", 0.9), UNIT("beta2", 0.999),
                   POS("eps", 1e-8), NONNEG("weight_decay", 0) } },
    { "adamw", 5, { NONNEG("lr", 0.001), UNIT("beta1", 0.9), UNIT("beta2", 0.999),
                    POS("eps", 1e-8), NONNEG("weight_decay", 0.01) } },
    { "rmsprop", 6, { NONNEG("lr", 0.01), UNIT("alpha", 0.99), POS("eps", 1e-8),
                      NONNEG("weight_decay", 0), UNIT("momentum", 0),
                      { "centered", 'b', 0, 1, 0, 0, 0 } } },
};

/* Every schedule takes `warmup`, its last option. */
static const FnDef schedules[] = {
    { "constant", 1, { COUNT("warmup", 0, 0) } },
    { "exp_decay", 2, { NONNEG("k", 0.1), COUNT("warmup", 0, 0) } },
    { "step", 3, { COUNT("every", 1, 10), POS("gamma", 0.5), COUNT("warmup", 0, 0) } },
    { "cosine", 2, { NONNEG("min", 0), COUNT("warmup", 0, 0) } },
};

static const FnDef generators[] = {
    { "noisy_xor", 3, { COUNT("n", 1, 1000), NONNEG("s", 0.25), COUNT("seed", 0, 1) } },
    { "sine", 3, { COUNT("n", 1, 1000), NONNEG("noise", 0), COUNT("seed", 0, 1) } },
    { "spirals", 4, { COUNT("n", 1, 1000), { "classes", 'i', 2, 1000, 0, 0, 2 },
                      NONNEG("noise", 0.1), COUNT("seed", 0, 1) } },
    { "moons", 3, { COUNT("n", 1, 1000), NONNEG("noise", 0.1), COUNT("seed", 0, 1) } },
    { "random", 2, { COUNT("n", 1, 1000), COUNT("seed", 0, 1) } },
    { "ripple", 3, { COUNT("n", 1, 1000), NONNEG("noise", 0), COUNT("seed", 0, 1) } },
};

#define NFN(t) ((int)(sizeof t / sizeof t[0]))

const char *const nnrt_setting_keys[] = {
    "data", "test", "optimizer", "schedule", "batch", "epochs", "steps",
    "reduce", "shuffle", "seed", "metrics", "log", "lr", "momentum", "clip", "patience",
};
const int nnrt_setting_nkeys = (int)(sizeof nnrt_setting_keys / sizeof nnrt_setting_keys[0]);

static void list_names(char *buf, size_t len, const FnDef *t, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", t[i].name);
}

static void list_opts(char *buf, size_t len, const FnDef *f)
{
    size_t used = 0;
    buf[0] = '\0';
    if (f->nopt == 0)
        snprintf(buf, len, "none");
    for (int i = 0; i < f->nopt && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", f->opt[i].name);
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The range test comes first: converting inf, NaN or 1e300 to int64_t is undefined. */
static int is_integral(double x)
{
    return x > -9007199254740992.0 && x < 9007199254740992.0 && x == (double)(int64_t)x;
}

static void range_text(char *buf, size_t len, const OptDef *o)
{
    if (o->hi == INF)
        snprintf(buf, len, "%s %g", o->lo_open ? ">" : ">=", o->lo);
    else
        snprintf(buf, len, "in %c%g, %g%c", o->lo_open ? '(' : '[', o->lo, o->hi,
                 o->hi_open ? ')' : ']');
}

static int check_option(const FnDef *f, const OptDef *o, const Val *v, double *out, char *err,
                        size_t len)
{
    if (o->type == 'b') {
        if (v->kind == V_NAME && (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0)) {
            *out = strcmp(v->s, "true") == 0;
            return 0;
        }
        return fail(err, len, "%s: option '%s' must be true or false, found %s", f->name, o->name,
                    v->text);
    }
    if (v->kind != V_NUM)
        return fail(err, len, "%s: option '%s' must be %s, found %s", f->name, o->name,
                    o->type == 'i' ? "an integer" : "a number", v->text);
    double x = v->num;
    if (o->type == 'i' && !is_integral(x))
        return fail(err, len, "%s: option '%s' must be an integer, found %s", f->name, o->name,
                    v->text);
    if (!(x > o->lo || (!o->lo_open && x == o->lo)) || !(x < o->hi || (!o->hi_open && x == o->hi))) {
        char r[64];
        range_text(r, sizeof r, o);
        return fail(err, len, "%s: option '%s' must be %s, found %s", f->name, o->name, r, v->text);
    }
    *out = x;
    return 0;
}

/* Matches a NAME or CALL against table t; fills vals with the defaults and
 * the given options.  Returns the function's index or -1. */
static int parse_call(const Val *v, const FnDef *t, int n, const char *what, const char *expected,
                      double vals[6], int given[6], char *err, size_t len)
{
    if (v->kind != V_NAME && v->kind != V_CALL)
        return fail(err, len, "expected %s, found %s", expected, v->text);
    int fi = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, v->s) == 0)
            fi = i;
    if (fi < 0) {
        const char *names[8];
        char all[200];
        for (int i = 0; i < n; i++)
            names[i] = t[i].name;
        list_names(all, sizeof all, t, n);
        fail(err, len, "unknown %s '%s'", what, v->s);
        nnrt_did_you_mean(err, len, v->s, names, n);
        size_t used = strlen(err);
        snprintf(err + used, len - used, "; the %ss are %s", what, all);
        return -1;
    }
    const FnDef *f = &t[fi];
    for (int i = 0; i < f->nopt; i++) {
        vals[i] = f->opt[i].def;
        given[i] = 0;
    }
    int seen_keyword = 0, npos = 0;
    for (int a = 0; a < v->nargs; a++)
        npos += v->args[a].name == NULL;
    if (npos > f->nopt) {
        char opts[200];
        list_opts(opts, sizeof opts, f);
        return fail(err, len, "%s takes at most %d option%s (%s), found %d", f->name, f->nopt,
                    f->nopt == 1 ? "" : "s", opts, npos);
    }
    for (int a = 0; a < v->nargs; a++) {
        const VArg *arg = &v->args[a];
        int oi = -1;
        char opts[200];
        list_opts(opts, sizeof opts, f);
        if (arg->name) {
            seen_keyword = 1;
            for (int i = 0; i < f->nopt; i++)
                if (strcmp(f->opt[i].name, arg->name) == 0)
                    oi = i;
            if (oi < 0) {
                const char *names[6];
                for (int i = 0; i < f->nopt; i++)
                    names[i] = f->opt[i].name;
                fail(err, len, "%s has no option '%s'", f->name, arg->name);
                nnrt_did_you_mean(err, len, arg->name, names, f->nopt);
                size_t used = strlen(err);
                snprintf(err + used, len - used, "; its options are %s", opts);
                return -1;
            }
        } else {
            if (seen_keyword)
                return fail(err, len, "%s: a positional value (%s) follows keyword options",
                            f->name, arg->v->text);
            oi = a;
        }
        if (given[oi])
            return fail(err, len, "%s: option '%s' is given twice", f->name, f->opt[oi].name);
        given[oi] = 1;
        if (check_option(f, &f->opt[oi], arg->v, &vals[oi], err, len) != 0)
            return -1;
    }
    return fi;
}

/* A value that must be one of a few names. */
static int parse_choice(const Val *v, const char *key, const char *const *names, int n,
                        char *err, size_t len)
{
    if (v->kind == V_NAME)
        for (int i = 0; i < n; i++)
            if (strcmp(v->s, names[i]) == 0)
                return i;
    char all[120];
    size_t used = 0;
    all[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(all + used, sizeof all - used, "%s%s", i == 0 ? "" :
                                 i + 1 == n ? " or " : ", ", names[i]);
    fail(err, len, "'%s' must be %s, found %s", key, all, v->text);
    if (v->kind == V_NAME)
        nnrt_did_you_mean(err, len, v->s, names, n);
    return -1;
}

static int parse_count(const Val *v, const char *key, int64_t lo, int allow_full, int64_t *out,
                       char *err, size_t len)
{
    if (allow_full && v->kind == V_NAME && strcmp(v->s, "full") == 0) {
        *out = 0;
        return 0;
    }
    if (v->kind != V_NUM || !is_integral(v->num) || v->num < (double)lo) {
        const char *full[] = { "full" };
        fail(err, len, "'%s' must be %s integer%s, found %s", key,
             lo > 0 ? "a positive" : "a non-negative", allow_full ? " or full" : "", v->text);
        if (allow_full && v->kind == V_NAME)
            nnrt_did_you_mean(err, len, v->s, full, 1);
        return -1;
    }
    *out = (int64_t)v->num;
    return 0;
}

/* ---- data sources bound to slots: the spec tree ----
 *
 *   source = file | files(arg {, arg}) | generator
 *   file   = STRING | "[" file {"," file} "]" | file OP NUMBER | NUMBER OP file | "(" file ")"
 *   arg    = file                       (its arrays bound to slots by name)
 *          | SLOT "=" array             (explicit binding)
 *   array  = STRING | pick(STRING, KEY {, KEY}) | "[" array {, array} "]" | array OP NUMBER | ...
 *          | array "'"                (transposed: samples along the last axis)
 *          | stack(STRING | pick(STRING, KEY {, KEY}))   (each array one sample)
 *
 * OP is one of * / + -; a chain of them is folded into value * scale + shift. */

static void spec_init(NnrtSpec *s, NnrtSpecKind k)
{
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->scale = 1;
}

void nnrt_spec_free(NnrtSpec *s)
{
    if (!s)
        return;
    free(s->path);
    for (int i = 0; i < s->nkeys; i++)
        free(s->keys[i]);
    free(s->keys);
    for (int i = 0; i < s->n; i++) {
        nnrt_spec_free(s->sub[i]);
        if (s->bind)
            free(s->bind[i]);
    }
    free(s->sub);
    free(s->bind);
    free(s);
}

static const char *const source_fns[] = { "files", "pick", "stack", "noisy_xor", "sine",
                                          "spirals", "moons", "random", "ripple" };

/* ctx: 'T' top level, 'W' a file bound by name, 'A' an array bound to a slot */
static NnrtSpec *to_spec(const Val *v, char ctx, char *err, size_t len)
{
    NnrtSpec *s = calloc(1, sizeof *s);
    if (!s) {
        fail(err, len, "out of memory");
        return NULL;
    }
    spec_init(s, NNRT_SPEC_FILE);
    switch (v->kind) {
    case V_STR:
        if (v->s[0] == '\0') {
            fail(err, len, "the file name is empty");
            goto bad;
        }
        if (!(s->path = nnrt_strdup(v->s)))
            goto oom;
        return s;
    case V_LIST:
        s->kind = NNRT_SPEC_LIST;
        if (v->nargs == 0) {
            fail(err, len, "an empty list of files");
            goto bad;
        }
        if (!(s->sub = calloc((size_t)v->nargs, sizeof *s->sub)))
            goto oom;
        for (int i = 0; i < v->nargs; i++) {
            if (!(s->sub[i] = to_spec(v->args[i].v, ctx == 'A' ? 'A' : 'W', err, len)))
                goto bad;
            s->n++;
        }
        return s;
    case V_NEG:
    case V_BIN: {
        const Val *a = v->args[0].v, *b = v->kind == V_BIN ? v->args[1].v : NULL;
        char op = v->kind == V_NEG ? '*' : v->op;
        double k = v->kind == V_NEG ? -1 : 0;
        int num_left = 0;
        if (b && a->kind == V_NUM && b->kind != V_NUM) {
            num_left = 1;
            k = a->num;
            a = b;
        } else if (b) {
            if (b->kind != V_NUM) {
                fail(err, len, "in '%s': data can be scaled or shifted by a number "
                     "(\"images.gz\" / 255), not by %s", v->text, b->text);
                goto bad;
            }
            k = b->num;
        }
        free(s);
        if (!(s = to_spec(a, ctx == 'T' ? 'W' : ctx, err, len)))
            return NULL;
        if (num_left && op == '/') {
            fail(err, len, "in '%s': a number cannot be divided by data", v->text);
            goto bad;
        }
        if (op == '/' && k == 0) {
            fail(err, len, "in '%s': division by zero", v->text);
            goto bad;
        }
        if (op == '*' || op == '/') {
            double f = op == '*' ? k : 1 / k;
            s->scale *= f;
            s->shift *= f;
        } else if (op == '+') {
            s->shift += k;
        } else if (num_left) {          /* k - data */
            s->scale = -s->scale;
            s->shift = k - s->shift;
        } else {
            s->shift -= k;
        }
        if (!isfinite(s->scale) || !isfinite(s->shift)) {
            fail(err, len, "in '%s': the scale is not finite", v->text);
            goto bad;
        }
        return s;
    }
    case V_TRANSPOSE:
        free(s);
        if (ctx != 'A') {
            fail(err, len, "in '%s': a transpose (') applies to arrays bound to an input or "
                 "target, as in files(x = \"columns.npy\"')", v->text);
            return NULL;
        }
        if (!(s = to_spec(v->args[0].v, ctx, err, len)))
            return NULL;
        if (s->kind == NNRT_SPEC_STACK) {
            fail(err, len, "in '%s': stack(...) makes samples of whole arrays; it has no "
                 "transpose", v->text);
            goto bad;
        }
        s->transpose = !s->transpose;
        return s;
    case V_CALL:
        if (strcmp(v->s, "stack") == 0) {
            s->kind = NNRT_SPEC_STACK;
            if (ctx != 'A') {
                fail(err, len, "stack(...) makes the samples of one input or target: bind it with "
                     "files(x = %s)", v->text);
                goto bad;
            }
            const Val *a = v->nargs == 1 ? v->args[0].v : NULL;
            if (!a || v->args[0].name ||
                (a->kind != V_STR && !(a->kind == V_CALL && strcmp(a->s, "pick") == 0))) {
                fail(err, len, "stack takes one file or pick(...), each array of which is one "
                     "sample, as in stack(pick(\"pairs.pkl\", \"*/0\")), found %s", v->text);
                goto bad;
            }
            if (!(s->sub = calloc(1, sizeof *s->sub)) || !(s->sub[0] = to_spec(a, 'A', err, len)))
                goto bad;
            s->n = 1;
            return s;
        }
        if (strcmp(v->s, "pick") == 0) {
            s->kind = NNRT_SPEC_PICK;
            if (ctx != 'A') {
                fail(err, len, "pick(...) selects arrays for one input or target: bind it with "
                     "files(x = %s)", v->text);
                goto bad;
            }
            if (v->nargs < 2) {
                fail(err, len, "pick takes a file and one or more keys, as in pick(\"data.pkl\", "
                     "\"images\"), found %s", v->text);
                goto bad;
            }
            if (!(s->keys = calloc((size_t)v->nargs, sizeof *s->keys)))
                goto oom;
            for (int i = 0; i < v->nargs; i++) {
                const Val *a = v->args[i].v;
                if (v->args[i].name || a->kind != V_STR || a->s[0] == '\0') {
                    fail(err, len, "pick takes a file name and keys in quotes, as in "
                         "pick(\"data.pkl\", \"images\"), found %s", a->text);
                    goto bad;
                }
                if (i == 0) {
                    if (!(s->path = nnrt_strdup(a->s)))
                        goto oom;
                } else {
                    if (!(s->keys[s->nkeys] = nnrt_strdup(a->s)))
                        goto oom;
                    s->nkeys++;
                }
            }
            return s;
        }
        if (strcmp(v->s, "files") == 0) {
            s->kind = NNRT_SPEC_FILES;
            if (ctx != 'T') {
                fail(err, len, "files(...) binds a whole data set and cannot be nested, found %s",
                     v->text);
                goto bad;
            }
            if (v->nargs == 0) {
                fail(err, len, "files() needs bindings such as files(x = \"images.gz\" / 255, "
                     "c = \"labels.gz\")");
                goto bad;
            }
            if (!(s->sub = calloc((size_t)v->nargs, sizeof *s->sub)) ||
                !(s->bind = calloc((size_t)v->nargs, sizeof *s->bind)))
                goto oom;
            for (int i = 0; i < v->nargs; i++) {
                const char *name = v->args[i].name;
                for (int j = 0; name && j < i; j++)
                    if (s->bind[j] && strcmp(s->bind[j], name) == 0) {
                        fail(err, len, "files(...): '%s' is bound twice", name);
                        goto bad;
                    }
                if (!(s->sub[i] = to_spec(v->args[i].v, name ? 'A' : 'W', err, len)))
                    goto bad;
                s->n++;
                if (name && !(s->bind[i] = nnrt_strdup(name)))
                    goto oom;
            }
            return s;
        }
        /* fall through */
    case V_NAME:
    case V_NUM: {
        const char *what = ctx == 'A' ? "a file (\"labels.gz\"), pick(\"file\", \"key\") or a list "
                                         "of them"
                                       : "a file name in quotes (\"train.npz\"), a list of files, "
                                         "files(x = ..., y = ...) or a generator";
        fail(err, len, "expected %s, found %s", what, v->text);
        if (v->kind == V_CALL || v->kind == V_NAME)
            nnrt_did_you_mean(err, len, v->s, source_fns, (int)(sizeof source_fns / sizeof *source_fns));
        goto bad;
    }
    }
oom:
    fail(err, len, "out of memory");
bad:
    nnrt_spec_free(s);
    return NULL;
}

int nnrt_source_spec(const NnrtSource *src, NnrtSpec **out, char *err, size_t len)
{
    *out = NULL;
    if (src->kind != NNRT_SRC_FILE)
        return fail(err, len, "not a file source");
    if (!src->spec[0]) {
        NnrtSpec *s = calloc(1, sizeof *s);
        if (!s)
            return fail(err, len, "out of memory");
        spec_init(s, NNRT_SPEC_FILE);
        if (!(s->path = nnrt_strdup(src->path))) {
            free(s);
            return fail(err, len, "out of memory");
        }
        *out = s;
        return 0;
    }
    Val *v = parse_all(src->spec, err, len);
    if (!v)
        return -1;
    *out = to_spec(v, 'T', err, len);
    val_free(v);
    return *out ? 0 : -1;
}

int nnrt_param_source(const char *text, char *path, size_t plen, char *prefix, size_t xlen,
                      char *err, size_t len)
{
    const char *t = text;
    while (isspace((unsigned char)*t))
        t++;
    snprintf(path, plen, "%s", text);
    prefix[0] = '\0';
    if (strncmp(t, "pick", 4) != 0)
        return 0;                                   /* a plain file name */
    Val *v = parse_all(t, err, len);
    if (!v)
        return -1;
    int r = 0;
    if (v->kind != V_CALL || strcmp(v->s, "pick") != 0 || v->nargs != 2 || v->args[0].name ||
        v->args[1].name || v->args[0].v->kind != V_STR || v->args[1].v->kind != V_STR ||
        !v->args[0].v->s[0]) {
        r = fail(err, len, "expected a parameter file (\"P.npz\") or pick(\"FILE\", \"KEY\") "
                 "for the parameters under a key path, found %s", v->text);
    } else {
        snprintf(path, plen, "%s", v->args[0].v->s);
        snprintf(prefix, xlen, "%s", v->args[1].v->s);
    }
    val_free(v);
    return r;
}

static int set_source(NnrtSource *src, const Val *v, const char *key, const char *text,
                      char *err, size_t len)
{
    if (v->kind == V_STR) {
        if (v->s[0] == '\0')
            return fail(err, len, "'%s': the file name is empty", key);
        memset(src, 0, sizeof *src);
        src->kind = NNRT_SRC_FILE;
        snprintf(src->path, sizeof src->path, "%s", v->s);
        return 0;
    }
    if (v->kind == V_LIST || v->kind == V_BIN || v->kind == V_NEG || v->kind == V_TRANSPOSE ||
        (v->kind == V_CALL && (strcmp(v->s, "files") == 0 || strcmp(v->s, "pick") == 0 ||
                                 strcmp(v->s, "stack") == 0))) {
        NnrtSpec *s = to_spec(v, 'T', err, len);
        if (!s) {
            char inner[1024];
            snprintf(inner, sizeof inner, "%s", err);
            return fail(err, len, "'%s': %s", key, inner);
        }
        nnrt_spec_free(s);
        while (isspace((unsigned char)*text))
            text++;
        if (strlen(text) >= sizeof src->spec)
            return fail(err, len, "'%s': the value is longer than %zu characters", key,
                        sizeof src->spec - 1);
        memset(src, 0, sizeof *src);
        src->kind = NNRT_SRC_FILE;
        snprintf(src->spec, sizeof src->spec, "%s", text);
        return 0;
    }
    if (v->kind == V_NAME && strcmp(v->s, "none") == 0) {
        src->kind = NNRT_SRC_NONE;
        return 0;
    }
    double vals[6];
    int given[6];
    char expected[120];
    snprintf(expected, sizeof expected, "a file name in quotes (\"train.npz\"), files(...) or "
             "a generator such as noisy_xor(n = 1000)");
    if (v->kind != V_NAME && v->kind != V_CALL)
        return fail(err, len, "'%s' must be %s, found %s", key, expected, v->text);
    int g = parse_call(v, generators, NFN(generators), "generator", expected, vals, given, err, len);
    if (g < 0)
        return -1;
    memset(src, 0, sizeof *src);
    src->kind = NNRT_SRC_GEN;
    src->gen = (NnrtGenKind)g;
    src->n = (int64_t)vals[0];
    src->classes = 2;
    switch (src->gen) {
    case NNRT_GEN_NOISY_XOR:
    case NNRT_GEN_SINE:
    case NNRT_GEN_MOONS:
    case NNRT_GEN_RIPPLE:
        src->noise = vals[1];
        src->seed = (uint64_t)vals[2];
        break;
    case NNRT_GEN_SPIRALS:
        src->classes = (int)vals[1];
        src->noise = vals[2];
        src->seed = (uint64_t)vals[3];
        break;
    case NNRT_GEN_RANDOM:
        src->seed = (uint64_t)vals[1];
        break;
    }
    return 0;
}

void nnrt_config_default(NnrtConfig *c)
{
    memset(c, 0, sizeof *c);
    c->opt.kind = NNRT_SGD;
    c->opt.lr = 0.01;
    c->opt.beta1 = 0.9;
    c->opt.beta2 = 0.999;
    c->opt.eps = 1e-8;
    c->sched.kind = NNRT_SCHED_CONSTANT;
    c->batch = 32;
    c->epochs = 10;
    c->shuffle = 1;
    c->seed = 1;
}

static int is_generator_call_text(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    const char *q = s;
    while (is_ident((unsigned char)*q))
        q++;
    if (q == s || !is_ident_start((unsigned char)*s))
        return 0;
    const char *r = q;
    while (isspace((unsigned char)*r))
        r++;
    if (*r == '(')
        return 1;
    for (int i = 0; i < NFN(generators); i++)
        if (strlen(generators[i].name) == (size_t)(q - s) &&
            strncmp(generators[i].name, s, (size_t)(q - s)) == 0 && *r == '\0')
            return 1;
    return 0;
}

static int apply(NnrtConfig *c, int key, const Val *v, int from_flag, const char *text, char *err,
                 size_t len)
{
    const char *k = nnrt_setting_keys[key];
    double vals[6];
    int given[6];
    switch (key) {
    case 0:
        return set_source(&c->data, v, k, text, err, len);
    case 1:
        return set_source(&c->test, v, k, text, err, len);
    case 2: {
        int o = parse_call(v, optimizers, NFN(optimizers), "optimizer",
                           "an optimizer such as sgd(lr = 0.01) or adam(lr = 0.001)", vals,
                           given, err, len);
        if (o < 0)
            return -1;
        NnrtOptimSpec s;
        memset(&s, 0, sizeof s);
        s.kind = (NnrtOptimKind)o;
        s.lr = given[0] || !c->have_lr ? vals[0] : c->lr;
        s.beta1 = 0.9;
        s.beta2 = 0.999;
        s.eps = 1e-8;
        s.alpha = 0.99;
        switch (s.kind) {
        case NNRT_SGD:
            s.momentum = given[1] || !c->have_momentum ? vals[1] : c->momentum;
            s.nesterov = vals[2] != 0;
            s.weight_decay = vals[3];
            if (s.nesterov && s.momentum == 0)
                return fail(err, len, "sgd: nesterov = true needs a momentum > 0");
            break;
        case NNRT_ADAM:
        case NNRT_ADAMW:
            s.beta1 = vals[1];
            s.beta2 = vals[2];
            s.eps = vals[3];
            s.weight_decay = vals[4];
            break;
        case NNRT_RMSPROP:
            s.alpha = vals[1];
            s.eps = vals[2];
            s.weight_decay = vals[3];
            s.momentum = given[4] || !c->have_momentum ? vals[4] : c->momentum;
            s.centered = vals[5] != 0;
            break;
        }
        c->opt = s;
        return 0;
    }
    case 3: {
        int s = parse_call(v, schedules, NFN(schedules), "schedule",
                           "a schedule such as constant, exp_decay(k = 0.1), step(every = 10, "
                           "gamma = 0.5) or cosine(min = 0)", vals, given, err, len);
        if (s < 0)
            return -1;
        memset(&c->sched, 0, sizeof c->sched);
        c->sched.kind = (NnrtSchedKind)s;
        c->sched.warmup = (int64_t)vals[schedules[s].nopt - 1];
        if (s == NNRT_SCHED_EXP_DECAY)
            c->sched.k = vals[0];
        else if (s == NNRT_SCHED_STEP) {
            c->sched.every = vals[0];
            c->sched.gamma = vals[1];
        } else if (s == NNRT_SCHED_COSINE)
            c->sched.min = vals[0];
        return 0;
    }
    case 4:
        return parse_count(v, k, 1, 1, &c->batch, err, len);
    case 5:
    case 6:
        /* Either flag overrides the train block's length, but both at once
         * would leave one silently ignored. */
        if (from_flag && c->length_flag && c->length_flag != key)
            return fail(err, len, "--epochs and --steps both given: the run is either so many "
                        "epochs or so many updates; give one of them");
        if (from_flag)
            c->length_flag = key;
        if (key == 6)
            return parse_count(v, k, 1, 0, &c->steps, err, len);
        if (parse_count(v, k, 0, 0, &c->epochs, err, len) != 0)
            return -1;
        if (from_flag)
            c->steps = 0;
        return 0;
    case 7: {
        static const char *const names[] = { "mean", "sum" };
        int r = parse_choice(v, k, names, 2, err, len);
        if (r < 0)
            return -1;
        c->reduce_sum = r;
        return 0;
    }
    case 8: {
        static const char *const names[] = { "true", "false" };
        int r = parse_choice(v, k, names, 2, err, len);
        if (r < 0)
            return -1;
        c->shuffle = r == 0;
        return 0;
    }
    case 9: {
        int64_t s;
        if (parse_count(v, k, 0, 0, &s, err, len) != 0)
            return -1;
        c->seed = (uint64_t)s;
        return 0;
    }
    case 10: {
        static const char *const names[] = { "accuracy", "none" };
        if (v->kind == V_LIST) {
            c->accuracy = 0;
            for (int i = 0; i < v->nargs; i++) {
                int r = parse_choice(v->args[i].v, k, names, 2, err, len);
                if (r < 0)
                    return -1;
                if (r == 0)
                    c->accuracy = 1;
            }
            return 0;
        }
        int r = parse_choice(v, k, names, 2, err, len);
        if (r < 0)
            return -1;
        c->accuracy = r == 0;
        return 0;
    }
    case 11:
        if (v->kind == V_NAME && strcmp(v->s, "none") == 0) {
            c->log[0] = '\0';
            return 0;
        }
        if (v->kind != V_STR || v->s[0] == '\0')
            return fail(err, len, "'log' must be a directory name in quotes (\"runs/tiny\") or "
                        "none, found %s", v->text);
        snprintf(c->log, sizeof c->log, "%s", v->s);
        return 0;
    case 12:
        if (v->kind != V_NUM || !(v->num >= 0) || v->num == INF)
            return fail(err, len, "'lr' must be a number >= 0, found %s", v->text);
        c->have_lr = 1;
        c->lr = c->opt.lr = v->num;
        return 0;
    case 13:
        if (v->kind != V_NUM || !(v->num >= 0 && v->num < 1))
            return fail(err, len, "'momentum' must be a number in [0, 1), found %s", v->text);
        if (c->opt.kind != NNRT_SGD && c->opt.kind != NNRT_RMSPROP)
            return fail(err, len, "'momentum' applies to sgd and rmsprop; adam's counterpart "
                        "is beta1, as in adam(beta1 = 0.9)");
        c->have_momentum = 1;
        c->momentum = c->opt.momentum = v->num;
        return 0;
    case 14:
        if (v->kind == V_NAME && strcmp(v->s, "none") == 0) {
            c->clip = 0;
            return 0;
        }
        if (v->kind != V_NUM || !(v->num > 0) || v->num == INF)
            return fail(err, len, "'clip' must be a gradient norm > 0 or none, found %s",
                        v->text);
        c->clip = v->num;
        return 0;
    case 15:
        if (v->kind == V_NAME && strcmp(v->s, "none") == 0) {
            c->patience = 0;
            return 0;
        }
        if (v->kind != V_NUM || !is_integral(v->num) || v->num < 1)
            return fail(err, len, "'patience' must be a positive number of epochs or none, "
                        "found %s", v->text);
        c->patience = (int64_t)v->num;
        return 0;
    }
    return fail(err, len, "internal error: setting %d has no handler", key);
}

int nnrt_config_set(NnrtConfig *c, const char *key, const char *value, int from_flag,
                    char *err, size_t errlen)
{
    int k = -1;
    for (int i = 0; i < nnrt_setting_nkeys; i++)
        if (strcmp(key, nnrt_setting_keys[i]) == 0)
            k = i;
    if (k < 0) {
        fail(err, errlen, "unknown setting '%s'", key);
        nnrt_did_you_mean(err, errlen, key, nnrt_setting_keys, nnrt_setting_nkeys);
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, "; the settings are data, test, optimizer, schedule, "
                 "batch, epochs, steps, reduce, shuffle, seed, metrics, log, lr, momentum, "
                 "clip, patience");
        return -1;
    }
    const char *p = value;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return fail(err, errlen, "'%s' needs a value", key);
    /* On the command line a path needs no quotes: --data train.npz. */
    if (from_flag && (k == 0 || k == 1 || k == 11) && *p != '"' && *p != '[' && *p != '(' &&
        (k == 11 || !is_generator_call_text(p)) && strcmp(p, "none") != 0) {
        if (k == 11) {
            snprintf(c->log, sizeof c->log, "%s", value);
        } else {
            NnrtSource *s = k == 0 ? &c->data : &c->test;
            memset(s, 0, sizeof *s);
            s->kind = NNRT_SRC_FILE;
            snprintf(s->path, sizeof s->path, "%s", value);
        }
        return 0;
    }
    Val *v = parse_all(value, err, errlen);
    if (!v)
        return -1;
    int r = apply(c, k, v, from_flag, value, err, errlen);
    val_free(v);
    return r;
}

int nnrt_setting_check(const char *key, const char *value, char *err, size_t errlen)
{
    NnrtConfig c;
    char buf[1024];
    nnrt_config_default(&c);
    if (!err || errlen == 0) {
        err = buf;
        errlen = sizeof buf;
    }
    err[0] = '\0';
    return nnrt_config_set(&c, key, value, 0, err, errlen);
}

/* ---- schedules ---- */

static double schedule_base(const NnrtSchedSpec *s, double lr0, int64_t t, int64_t total)
{
    switch (s->kind) {
    case NNRT_SCHED_EXP_DECAY:         /* lr_t = lr exp(-k t) */
        return lr0 * exp(-s->k * (double)t);
    case NNRT_SCHED_STEP:              /* lr_t = lr gamma^floor(t / every) */
        return lr0 * pow(s->gamma, floor((double)t / s->every));
    case NNRT_SCHED_COSINE:            /* lr_t = min + (lr - min)(1 + cos(pi t / T)) / 2 */
        if (total <= 0)
            return lr0;
        return s->min + (lr0 - s->min) * 0.5 *
               (1.0 + cos(3.14159265358979323846 * (double)t / (double)total));
    case NNRT_SCHED_CONSTANT:
        break;
    }
    return lr0;
}

/* Linear warm-up multiplies the schedule by (t + 1) / (W + 1) for t < W:
 * torch's LinearLR(start_factor = 1 / (W + 1), total_iters = W). */
double nnrt_schedule_lr(const NnrtSchedSpec *s, double lr0, int64_t t, int64_t total)
{
    double lr = schedule_base(s, lr0, t, total);
    if (t < s->warmup)
        lr *= (double)(t + 1) / (double)(s->warmup + 1);
    return lr;
}

/* ---- writing settings back in the language's syntax ---- */

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly x, so a
 * setting written to a run directory means the same number when resumed. */
typedef struct NumText {
    char s[32];
} NumText;

static NumText num_text(double x)
{
    NumText t;
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(t.s, sizeof t.s, "%.*g", digits, x);
        if (strtod(t.s, NULL) == x)
            break;
    }
    return t;
}

#define R(x) (num_text(x).s)

void nnrt_optim_describe(const NnrtOptimSpec *o, char *buf, size_t len)
{
    switch (o->kind) {
    case NNRT_SGD:
        snprintf(buf, len, "sgd(lr = %s, momentum = %s, nesterov = %s, weight_decay = %s)",
                 R(o->lr), R(o->momentum), o->nesterov ? "true" : "false", R(o->weight_decay));
        break;
    case NNRT_ADAM:
    case NNRT_ADAMW:
        snprintf(buf, len, "%s(lr = %s, beta1 = %s, beta2 = %s, eps = %s, "
                 "weight_decay = %s)", o->kind == NNRT_ADAM ? "adam" : "adamw", R(o->lr),
                 R(o->beta1), R(o->beta2), R(o->eps), R(o->weight_decay));
        break;
    case NNRT_RMSPROP:
        snprintf(buf, len, "rmsprop(lr = %s, alpha = %s, eps = %s, weight_decay = %s, "
                 "momentum = %s, centered = %s)", R(o->lr), R(o->alpha), R(o->eps),
                 R(o->weight_decay), R(o->momentum), o->centered ? "true" : "false");
        break;
    }
}

void nnrt_sched_describe(const NnrtSchedSpec *s, char *buf, size_t len)
{
    switch (s->kind) {
    case NNRT_SCHED_CONSTANT:
        snprintf(buf, len, "constant");
        break;
    case NNRT_SCHED_EXP_DECAY:
        snprintf(buf, len, "exp_decay(k = %s)", R(s->k));
        break;
    case NNRT_SCHED_STEP:
        snprintf(buf, len, "step(every = %s, gamma = %s)", R(s->every), R(s->gamma));
        break;
    case NNRT_SCHED_COSINE:
        snprintf(buf, len, "cosine(min = %s)", R(s->min));
        break;
    }
    if (s->warmup > 0) {
        size_t used = strlen(buf);
        if (s->kind == NNRT_SCHED_CONSTANT)
            snprintf(buf + used, len - used, "(warmup = %lld)", (long long)s->warmup);
        else if (used > 0)
            snprintf(buf + used - 1, len - used + 1, ", warmup = %lld)", (long long)s->warmup);
    }
}

void nnrt_source_describe(const NnrtSource *s, char *buf, size_t len)
{
    unsigned long long n = (unsigned long long)s->n, seed = (unsigned long long)s->seed;
    if (s->kind == NNRT_SRC_NONE) {
        snprintf(buf, len, "none");
        return;
    }
    if (s->kind == NNRT_SRC_FILE) {
        if (s->spec[0])
            snprintf(buf, len, "%s", s->spec);
        else
            snprintf(buf, len, "\"%s\"", s->path);
        return;
    }
    switch (s->gen) {
    case NNRT_GEN_NOISY_XOR:
        snprintf(buf, len, "noisy_xor(n = %llu, s = %s, seed = %llu)", n, R(s->noise), seed);
        break;
    case NNRT_GEN_SINE:
        snprintf(buf, len, "sine(n = %llu, noise = %s, seed = %llu)", n, R(s->noise), seed);
        break;
    case NNRT_GEN_SPIRALS:
        snprintf(buf, len, "spirals(n = %llu, classes = %d, noise = %s, seed = %llu)", n,
                 s->classes, R(s->noise), seed);
        break;
    case NNRT_GEN_MOONS:
        snprintf(buf, len, "moons(n = %llu, noise = %s, seed = %llu)", n, R(s->noise), seed);
        break;
    case NNRT_GEN_RANDOM:
        snprintf(buf, len, "random(n = %llu, seed = %llu)", n, seed);
        break;
    case NNRT_GEN_RIPPLE:
        snprintf(buf, len, "ripple(n = %llu, noise = %s, seed = %llu)", n, R(s->noise), seed);
        break;
    }
}

void nnrt_config_write(const NnrtConfig *c, FILE *f)
{
    char buf[1200];
    nnrt_source_describe(&c->data, buf, sizeof buf);
    fprintf(f, "data = %s\n", buf);
    nnrt_source_describe(&c->test, buf, sizeof buf);
    fprintf(f, "test = %s\n", buf);
    nnrt_optim_describe(&c->opt, buf, sizeof buf);
    fprintf(f, "optimizer = %s\n", buf);
    nnrt_sched_describe(&c->sched, buf, sizeof buf);
    fprintf(f, "schedule = %s\n", buf);
    if (c->batch == 0)
        fprintf(f, "batch = full\n");
    else
        fprintf(f, "batch = %lld\n", (long long)c->batch);
    if (c->steps > 0)
        fprintf(f, "steps = %lld\n", (long long)c->steps);
    else
        fprintf(f, "epochs = %lld\n", (long long)c->epochs);
    fprintf(f, "reduce = %s\n", c->reduce_sum ? "sum" : "mean");
    fprintf(f, "shuffle = %s\n", c->shuffle ? "true" : "false");
    fprintf(f, "seed = %llu\n", (unsigned long long)c->seed);
    fprintf(f, "metrics = %s\n", c->accuracy ? "accuracy" : "none");
    if (c->log[0])
        fprintf(f, "log = \"%s\"\n", c->log);
    else
        fprintf(f, "log = none\n");
    if (c->clip > 0)
        fprintf(f, "clip = %s\n", R(c->clip));
    else
        fprintf(f, "clip = none\n");
    if (c->patience > 0)
        fprintf(f, "patience = %lld\n", (long long)c->patience);
    else
        fprintf(f, "patience = none\n");
}
