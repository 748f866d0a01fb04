/*
 * check_sema.c - names, constants, shapes and sema's messages.
 *
 * Each test parses a small model, lowers it with sema_lower() (with -D
 * overrides where the test says so) and looks either at the IR it built
 * (the shape of a named value, the parameters `dense` declared, what
 * `repeat` unrolled) or at the exact text of the messages, captured with
 * diag_set_stream: the whole message, its quoted source line and its
 * caret line, and any notes.
 *
 * The last test case, "known bugs", holds tests of behaviour that is
 * reported as wrong and not fixed yet; it runs only when the environment
 * has NNC_KNOWN_BUGS=1 (move a test into its topic's case once it passes).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "ir.h"
#include "sema.h"

#define ck_assert_text(got, want)                                                  \
    ck_assert_msg(strcmp((got), (want)) == 0, "expected:\n%s\ngot:\n%s", (want), (got))

/* A lowered model: the IR (NULL after errors), the messages, the count. */
typedef struct Lowered {
    Program *ast;
    IrProgram *p;
    char *msgs;
    int errors;
} Lowered;

/* Parse and lower src (file "t.nn"), capturing every message.  A syntax
 * error fails the test: these tests are about sema. */
static Lowered lower_with(const char *src, Define *defs, int ndefs)
{
    Lowered r;
    size_t n = 0;
    memset(&r, 0, sizeof r);
    FILE *f = open_memstream(&r.msgs, &n);
    diag_set_stream(f);
    diag_reset();
    r.ast = ast_parse("t.nn", src);
    int syntax = diag_error_count();
    if (r.ast && syntax == 0) {
        SemaOptions so = {defs, ndefs, DT_F32};
        r.p = sema_lower(r.ast, src, &so);
    }
    fclose(f);
    diag_set_stream(NULL);
    ck_assert_msg(r.ast && syntax == 0, "the test's model has syntax errors:\n%s", r.msgs);
    r.errors = diag_error_count();
    return r;
}

static Lowered lower(const char *src)
{
    return lower_with(src, NULL, 0);
}

static void done(Lowered *r)
{
    ir_free(r->p);
    ast_free(r->ast);
    free(r->msgs);
}

/* Lowering src prints exactly `want` (errors, notes, warnings). */
static void expect_messages_with(const char *src, Define *defs, int ndefs, const char *want)
{
    Lowered r = lower_with(src, defs, ndefs);
    ck_assert_text(r.msgs, want);
    ck_assert_msg(r.p == NULL, "expected sema_lower to fail (NULL), got a program");
    done(&r);
}

static void expect_messages(const char *src, const char *want)
{
    expect_messages_with(src, NULL, 0, want);
}

/* Lowering succeeds without errors (warnings are allowed). */
static Lowered lower_ok_with(const char *src, Define *defs, int ndefs)
{
    Lowered r = lower_with(src, defs, ndefs);
    ck_assert_msg(r.errors == 0 && r.p != NULL, "expected no errors for:\n%s\ngot:\n%s", src,
                  r.msgs);
    return r;
}

static Lowered lower_ok(const char *src)
{
    return lower_ok_with(src, NULL, 0);
}

/* The value the user bound to `name` (its first binding: later ones are
 * renamed name_2, ...), or -1. */
static int value_named(const IrProgram *p, const char *name)
{
    for (int i = p->fwd.begin; i < p->fwd.end; i++)
        if (p->v[i].name && strcmp(p->v[i].name, name) == 0)
            return i;
    return -1;
}

static const Value *must_find(const IrProgram *p, const char *name)
{
    int id = value_named(p, name);
    ck_assert_msg(id >= 0, "expected a value named '%s', found none", name);
    return &p->v[id];
}

static const IrParam *param_named(const IrProgram *p, const char *name)
{
    for (int i = 0; i < p->nparams; i++)
        if (strcmp(p->params[i].name, name) == 0)
            return &p->params[i];
    ck_abort_msg("expected a parameter named '%s', found none (%d parameters)", name, p->nparams);
    return NULL;
}

#define ck_assert_shape(shape, want)                                                \
    do {                                                                            \
        char sh_[64];                                                               \
        shape_str(&(shape), sh_, sizeof sh_);                                       \
        ck_assert_msg(strcmp(sh_, (want)) == 0, "expected shape %s, got %s", (want), sh_); \
    } while (0)

/* The shape of value `name` in the lowered src, e.g. "[3, 2]". */
static void expect_shape(const char *src, const char *name, const char *want)
{
    Lowered r = lower_ok(src);
    ck_assert_shape(must_find(r.p, name)->shape, want);
    done(&r);
}

/* A preamble most shape tests share: x is a vector input, W a matrix. */
#define PRE                         \
    "input x[2]\n"                  \
    "target y[1]\n"                 \
    "param W[3, 2] = zeros\n"       \
    "param u[3] = zeros\n"
#define LOSS "loss = sum(x) + sum(y)\n"

/* ---- names ---- */

START_TEST(an_unknown_name_suggests_the_closest_name_in_scope)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "param W1[3, 2] = zeros\n"
        "loss = sum(W1 @ xx) + sum(y)\n",
        "t.nn:4:17: error: unknown name 'xx' (did you mean 'x'?)\n"
        "    4 | loss = sum(W1 @ xx) + sum(y)\n"
        "      |                 ^~\n");
}
END_TEST

START_TEST(an_unknown_name_far_from_every_name_gets_no_suggestion)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "loss = sum(x) + zebra\n",
        "t.nn:3:17: error: unknown name 'zebra'\n"
        "    3 | loss = sum(x) + zebra\n"
        "      |                 ^~~~~\n");
}
END_TEST

START_TEST(the_loss_cannot_be_used_before_it_is_defined)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "z = 2 * loss\n"
        "loss = sum(x) + sum(y)\n",
        "t.nn:3:9: error: 'loss' is used before it is defined\n"
        "    3 | z = 2 * loss\n"
        "      |         ^~~~\n");
}
END_TEST

START_TEST(an_unknown_function_suggests_the_closest_builtin)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "loss = sum(rleu(x)) + sum(y)\n",
        "t.nn:3:12: error: unknown function 'rleu' (did you mean 'relu'?)\n"
        "    3 | loss = sum(rleu(x)) + sum(y)\n"
        "      |            ^~~~\n");
}
END_TEST

START_TEST(every_function_of_the_op_table_is_called_by_its_name_and_arity)
{
    /* ops.def's fn column is the language's functions: each is known,
     * and one argument too many is reported with its arity */
    int nfn = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const char *fn = ir_ops[op].fn;
        if (!fn)
            continue;
        nfn++;
        char src[256], want[128];
        snprintf(src, sizeof src, "input x[2]\ntarget y[1]\nloss = sum(%s(x, x, x, x)) + sum(y)\n", fn);
        /* (the language's arguments are fn_args': batchnorm's op has more operands,
         * a pool takes its window too) */
        if ((ir_ops[op].arity == 1 && ir_ops[op].kind != K_CONV) || !strchr(ir_ops[op].fn_args, ','))
            snprintf(want, sizeof want, "error: %s takes one argument, got 4", fn);
        else   /* "two arguments", "one or two arguments", ... */
            snprintf(want, sizeof want, "arguments: (%s)", ir_ops[op].fn_args);
        Lowered r = lower(src);
        char takes[64];
        snprintf(takes, sizeof takes, "error: %s takes ", fn);
        ck_assert_msg(strstr(r.msgs, takes) != NULL, "%s: expected \"%s\", got:\n%s", fn, takes, r.msgs);
        ck_assert_msg(strstr(r.msgs, want) != NULL, "%s: expected \"%s\", got:\n%s", fn, want, r.msgs);
        done(&r);
    }
    ck_assert_msg(nfn > 0, "ops.def names no function of the language");
}
END_TEST

START_TEST(an_unknown_initialiser_suggests_the_closest_one)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "param W[2, 2] = xavier_unifrom\n"
        "param Q[2] = foo(1)\n"
        "loss = sum(W @ x + Q) + sum(y)\n",
        "t.nn:3:17: error: unknown initialiser 'xavier_unifrom' (did you mean 'xavier_uniform'?)\n"
        "    3 | param W[2, 2] = xavier_unifrom\n"
        "      |                 ^~~~~~~~~~~~~~\n"
        "t.nn:4:14: error: an initialiser is one of zeros, ones, identity, normal(mean, std), "
        "uniform(low, high), xavier_uniform, xavier_normal, he_uniform, he_normal, "
        "load(\"file\", \"key\"), a number or a literal list\n"
        "    4 | param Q[2] = foo(1)\n"
        "      |              ^~~~~~\n");
}
END_TEST

START_TEST(a_literal_initialiser_must_have_the_declared_shape)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "param V[2, 2] = [[1, 2], [3, 4], [5, 6]]\n"
        "loss = sum(V @ x) + sum(y)\n",
        "t.nn:3:17: error: the literal has shape [3, 2] but 'V' is declared as [2, 2]\n"
        "    3 | param V[2, 2] = [[1, 2], [3, 4], [5, 6]]\n"
        "      |                 ^~~~~~~~~~~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(a_literal_initialiser_gives_the_values_row_by_row_and_a_number_fills)
{
    Lowered r = lower_ok(
        "const A = 2\n"
        "input x[2]\n"
        "target y[1]\n"
        "param V[2, 2] = [[1, A], [3, -4]]\n"
        "param b[2] = 0.5\n"
        "loss = sum(V @ x + b) + sum(y)\n");
    const IrParam *v = param_named(r.p, "V"), *b = param_named(r.p, "b");
    ck_assert_int_eq(v->init, INIT_LITERAL);
    ck_assert_msg(v->values[0] == 1 && v->values[1] == 2 && v->values[2] == 3 &&
                  v->values[3] == -4, "expected V = [1, 2, 3, -4], got [%g, %g, %g, %g]",
                  v->values[0], v->values[1], v->values[2], v->values[3]);
    /* one number for every element: the runtime fills them */
    ck_assert_int_eq(b->init, INIT_FILL);
    ck_assert_msg(b->a == 0.5 && !b->values, "expected b filled with 0.5, got %g", b->a);
    done(&r);
}
END_TEST

START_TEST(initialisers_with_arguments_record_them)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[1]\n"
        "param A[2, 2] = normal(0, 0.1)\n"
        "param B[2, 2] = uniform(-1, 1) frozen\n"
        "param C[2, 2] frozen = identity\n"
        "loss = sum(A @ x + B @ x + C @ x) + sum(y)\n");
    const IrParam *a = param_named(r.p, "A"), *b = param_named(r.p, "B"), *c = param_named(r.p, "C");
    ck_assert_int_eq(a->init, INIT_NORMAL);
    ck_assert_msg(a->a == 0 && a->b == 0.1, "expected normal(0, 0.1), got (%g, %g)", a->a, a->b);
    ck_assert_int_eq(a->frozen, 0);
    ck_assert_int_eq(b->init, INIT_UNIFORM);
    ck_assert_msg(b->a == -1 && b->b == 1, "expected uniform(-1, 1), got (%g, %g)", b->a, b->b);
    ck_assert_int_eq(b->frozen, 1);
    ck_assert_int_eq(c->init, INIT_IDENTITY);
    ck_assert_int_eq(c->frozen, 1);
    done(&r);
}
END_TEST

START_TEST(redeclaring_a_name_points_at_the_first_declaration)
{
    expect_messages(
        "input x[2]\n"
        "input x[3]\n"
        "target y[1]\n"
        "param W[2, 2] = zeros\n"
        "param W[3] = zeros\n"
        "loss = sum(W @ x) + sum(y)\n",
        "t.nn:2:7: error: 'x' is already declared as an input\n"
        "    2 | input x[3]\n"
        "      |       ^\n"
        "t.nn:1:7: note: 'x' declared here\n"
        "    1 | input x[2]\n"
        "      |       ^\n"
        "t.nn:5:7: error: 'W' is already declared as a param\n"
        "    5 | param W[3] = zeros\n"
        "      |       ^\n"
        "t.nn:4:7: note: 'W' declared here\n"
        "    4 | param W[2, 2] = zeros\n"
        "      |       ^\n");
}
END_TEST

START_TEST(a_declaration_must_come_before_the_name_is_assigned)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "h = x\n"
        "param h[2] = zeros\n"
        "loss = sum(h) + sum(y)\n",
        "t.nn:4:7: error: 'h' is already defined; declarations must come before it is assigned\n"
        "    4 | param h[2] = zeros\n"
        "      |       ^\n");
}
END_TEST

START_TEST(assigning_to_a_param_or_an_input_is_an_error)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "param W[2, 2] = zeros\n"
        "W = 2 * W\n"
        "x = x + 1\n"
        "loss = sum(W @ x) + sum(y)\n",
        "t.nn:4:1: error: cannot assign to param 'W'\n"
        "    4 | W = 2 * W\n"
        "      | ^\n"
        "t.nn:3:7: note: 'W' declared here\n"
        "    3 | param W[2, 2] = zeros\n"
        "      |       ^\n"
        "t.nn:5:1: error: cannot assign to input 'x'\n"
        "    5 | x = x + 1\n"
        "      | ^\n"
        "t.nn:1:7: note: 'x' declared here\n"
        "    1 | input x[2]\n"
        "      |       ^\n");
}
END_TEST

START_TEST(a_later_assignment_rebinds_the_name)
{
    Lowered r = lower_ok(PRE
        "h = x\n"
        "first = h\n"
        "h = W @ h\n"
        "second = h\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "first")->shape, "[2]");
    ck_assert_shape(must_find(r.p, "second")->shape, "[3]");
    done(&r);
}
END_TEST

START_TEST(a_failed_definition_is_not_reported_again_where_it_is_used)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[4, 5] = zeros\n"
        "h = W @ x\n"
        "loss = sum(h) + sum(y)\n",
        "t.nn:4:7: error: '@': inner dimensions differ (5 vs 3): W is [4, 5], x is [3]\n"
        "    4 | h = W @ x\n"
        "      |     ~~^~~\n"
        "t.nn:3:7: note: 'W' declared here as [4, 5]\n"
        "    3 | param W[4, 5] = zeros\n"
        "      |       ^\n"
        "t.nn:1:7: note: 'x' declared here as [3]\n"
        "    1 | input x[3]\n"
        "      |       ^\n");
}
END_TEST

/* ---- constants ---- */

START_TEST(constants_fold_into_dimensions)
{
    Lowered r = lower_ok(
        "const H = 2 * 3 + 1, D = H - 5\n"
        "const A = sqrt(16), B = 2 ^ 3, C = relu(-1) + 1\n"
        "input x[D]\n"
        "target y[1]\n"
        "param W[H, D] = zeros\n"
        "param V[A, B, C] = zeros\n"
        "loss = sum(W @ x) + sum(V) + sum(y)\n");
    ck_assert_shape(must_find(r.p, "x")->shape, "[2]");
    ck_assert_shape(param_named(r.p, "W")->shape, "[7, 2]");
    ck_assert_shape(param_named(r.p, "V")->shape, "[4, 8, 1]");
    done(&r);
}
END_TEST

START_TEST(a_const_must_be_a_number_known_at_compile_time)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "const E = x\n"
        LOSS,
        "t.nn:3:11: error: a const must be a number known at compile time\n"
        "    3 | const E = x\n"
        "      |           ^\n");
}
END_TEST

START_TEST(a_dimension_must_be_a_positive_integer_constant)
{
    expect_messages(
        "input x[2]\n"
        "target y[1]\n"
        "input z[2.5]\n"
        "input w[0]\n"
        "input v[x]\n"
        LOSS,
        "t.nn:3:9: error: a dimension must be a positive integer, got 2.5\n"
        "    3 | input z[2.5]\n"
        "      |         ^~~\n"
        "t.nn:4:9: error: a dimension must be a positive integer, got 0\n"
        "    4 | input w[0]\n"
        "      |         ^\n"
        "t.nn:5:9: error: a dimension must be a constant, not a tensor\n"
        "    5 | input v[x]\n"
        "      |         ^\n");
}
END_TEST

START_TEST(minus_D_overrides_a_const_and_is_marked_used)
{
    Define defs[] = {{"H", 5, 0}};
    Lowered r = lower_ok_with(
        "const H = 10\n"
        "input x[H]\n"
        "target y[1]\n"
        LOSS, defs, 1);
    ck_assert_shape(must_find(r.p, "x")->shape, "[5]");
    ck_assert_msg(defs[0].used == 1, "expected -D H to be marked used");
    done(&r);
}
END_TEST

START_TEST(minus_D_overrides_feed_the_constants_declared_after_them)
{
    Define defs[] = {{"H", 4, 0}};
    Lowered r = lower_ok_with(
        "const H = 2, W = H * 3\n"
        "input x[W]\n"
        "target y[1]\n"
        LOSS, defs, 1);
    ck_assert_shape(must_find(r.p, "x")->shape, "[12]");
    done(&r);
}
END_TEST

START_TEST(minus_D_of_an_unknown_name_suggests_a_const)
{
    Define defs[] = {{"widht", 4, 0}, {"depth", 2, 0}};
    expect_messages_with(
        "const width = 3\n"
        "input x[width]\n"
        "target y[1]\n"
        LOSS, defs, 2,
        "nnc: error: -D widht: the model has no const 'widht' (did you mean 'width'?)\n"
        "nnc: error: -D depth: the model has no const 'depth'\n");
}
END_TEST

START_TEST(minus_D_with_a_fraction_is_reported_where_it_is_used_as_a_dimension)
{
    Define defs[] = {{"H", 2.5, 0}};
    expect_messages_with(
        "const H = 10\n"
        "input x[H]\n"
        "target y[1]\n"
        LOSS, defs, 1,
        "t.nn:2:9: error: a dimension must be a positive integer, got 2.5\n"
        "    2 | input x[H]\n"
        "      |         ^\n");
}
END_TEST

/* ---- matrix products ---- */

START_TEST(matrix_at_vector_is_a_vector)
{
    Lowered r = lower_ok(PRE "z = W @ x\n" LOSS);
    const Value *z = must_find(r.p, "z");
    ck_assert_shape(z->shape, "[3]");
    ck_assert_int_eq(z->op, OP_MATMUL);
    ck_assert_msg(z->batched, "W @ x depends on the input: expected it batched");
    done(&r);
}
END_TEST

START_TEST(vector_at_matrix_is_a_vector)
{
    Lowered r = lower_ok(PRE "z = u @ W\n" LOSS);
    const Value *z = must_find(r.p, "z");
    ck_assert_shape(z->shape, "[2]");
    ck_assert_msg(!z->batched, "u @ W depends on parameters only: expected it unbatched");
    done(&r);
}
END_TEST

START_TEST(vector_at_vector_is_a_scalar)
{
    expect_shape(PRE "z = u @ u\n" LOSS, "z", "[]");
}
END_TEST

START_TEST(matrix_at_matrix_is_a_matrix)
{
    expect_shape(PRE "param V[2, 4] = zeros\n" "z = W @ V\n" LOSS, "z", "[3, 4]");
}
END_TEST

START_TEST(a_transposed_operand_swaps_its_dimensions)
{
    Lowered r = lower_ok(PRE
        "a = W' @ u\n"
        "b = W @ W'\n"
        "c = W' @ W\n"
        "d = x' @ x\n"
        LOSS);
    const Value *a = must_find(r.p, "a"), *b = must_find(r.p, "b"), *c = must_find(r.p, "c");
    ck_assert_shape(a->shape, "[2]");
    ck_assert_msg(a->op == OP_MATMUL && a->ta == 1 && a->tb == 0,
                  "W' @ u: expected a matmul with ta = 1, tb = 0, got op %s ta %d tb %d",
                  ir_ops[a->op].name, a->ta, a->tb);
    ck_assert_shape(b->shape, "[3, 3]");
    ck_assert_msg(b->ta == 0 && b->tb == 1, "W @ W': expected ta 0 tb 1, got %d %d", b->ta, b->tb);
    ck_assert_shape(c->shape, "[2, 2]");
    /* a vector is its own transpose */
    ck_assert_shape(must_find(r.p, "d")->shape, "[]");
    done(&r);
}
END_TEST

START_TEST(a_transpose_outside_a_product_is_its_own_op)
{
    Lowered r = lower_ok(PRE "T = W'\n" LOSS);
    const Value *t = must_find(r.p, "T");
    ck_assert_shape(t->shape, "[2, 3]");
    ck_assert_int_eq(t->op, OP_TRANSPOSE);
    done(&r);
}
END_TEST

START_TEST(inner_dimensions_that_differ_are_reported_with_both_declarations)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W1[4, 3] = zeros\n"
        "param W2[4, 5] = zeros\n"
        "z1 = W2 @ x + W1 @ x\n"
        "loss = sum(z1) + sum(y)\n",
        "t.nn:5:9: error: '@': inner dimensions differ (5 vs 3): W2 is [4, 5], x is [3]\n"
        "    5 | z1 = W2 @ x + W1 @ x\n"
        "      |      ~~~^~~\n"
        "t.nn:4:7: note: 'W2' declared here as [4, 5]\n"
        "    4 | param W2[4, 5] = zeros\n"
        "      |       ^~\n"
        "t.nn:1:7: note: 'x' declared here as [3]\n"
        "    1 | input x[3]\n"
        "      |       ^\n");
}
END_TEST

START_TEST(a_transposed_operand_is_marked_in_the_message)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[4, 3] = zeros\n"
        "z = W' @ x\n"
        "loss = sum(z) + sum(y)\n",
        "t.nn:4:8: error: '@': inner dimensions differ (4 vs 3): W is [4, 3] (transposed), x is [3]\n"
        "    4 | z = W' @ x\n"
        "      |     ~~~^~~\n"
        "t.nn:3:7: note: 'W' declared here as [4, 3]\n"
        "    3 | param W[4, 3] = zeros\n"
        "      |       ^\n"
        "t.nn:1:7: note: 'x' declared here as [3]\n"
        "    1 | input x[3]\n"
        "      |       ^\n");
}
END_TEST

START_TEST(an_operand_without_a_name_is_called_the_left_or_right_side)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[4, 3] = zeros\n"
        "param V[3, 4] = zeros\n"
        "z = (W @ x) @ V\n"
        "loss = sum(z) + sum(y)\n",
        "t.nn:5:13: error: '@': inner dimensions differ (4 vs 3): the left side is [4], V is [3, 4]\n"
        "    5 | z = (W @ x) @ V\n"
        "      |     ~~~~~~~~^~~\n"
        "t.nn:4:7: note: 'V' declared here as [3, 4]\n"
        "    4 | param V[3, 4] = zeros\n"
        "      |       ^\n");
}
END_TEST

START_TEST(at_needs_a_vector_or_matrix_on_both_sides)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "a = 2 @ x\n"
        "loss = sum(x) + sum(y)\n",
        "t.nn:3:7: error: '@' needs vectors or matrices on both sides; use '*' to scale by a scalar\n"
        "    3 | a = 2 @ x\n"
        "      |     ~~^~~\n");
}
END_TEST

START_TEST(at_refuses_tensors_of_rank_three)
{
    expect_messages(
        "input T[2, 3, 4]\n"
        "target y[1]\n"
        "param W[5, 2] = zeros\n"
        "A = W @ T\n"
        "loss = sum(A) + sum(y)\n",
        "t.nn:4:7: error: '@': operands must be vectors or matrices: W is [5, 2], T is [2, 3, 4]\n"
        "    4 | A = W @ T\n"
        "      |     ~~^~~\n"
        "t.nn:3:7: note: 'W' declared here as [5, 2]\n"
        "    3 | param W[5, 2] = zeros\n"
        "      |       ^\n"
        "t.nn:1:7: note: 'T' declared here as [2, 3, 4]\n"
        "    1 | input T[2, 3, 4]\n"
        "      |       ^\n");
}
END_TEST

/* ---- elementwise operations and broadcasting ---- */

START_TEST(a_scalar_broadcasts_over_any_shape)
{
    Lowered r = lower_ok(PRE
        "input s\n"
        "a = x * 2\n"
        "b = s + W\n"
        "c = 1 - x / 4\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "a")->shape, "[2]");
    const Value *b = must_find(r.p, "b");
    ck_assert_shape(b->shape, "[3, 2]");
    ck_assert_msg(b->batched, "s + W uses the input s: expected it batched");
    ck_assert_shape(must_find(r.p, "c")->shape, "[2]");
    done(&r);
}
END_TEST

START_TEST(a_shape_broadcasts_over_a_larger_one_ending_in_it)
{
    Lowered r = lower_ok(PRE
        "a = W + x\n"
        "b = x * W\n"
        "param T[4, 3, 2] = zeros\n"
        "c = T - W\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "a")->shape, "[3, 2]");
    ck_assert_shape(must_find(r.p, "b")->shape, "[3, 2]");
    ck_assert_shape(must_find(r.p, "c")->shape, "[4, 3, 2]");
    done(&r);
}
END_TEST

/* numpy's rule: aligned from the right, a dimension of 1 stretches */
START_TEST(a_dimension_of_one_stretches_over_the_others)
{
    Lowered r = lower_ok(PRE
        "param A[3, 1] = zeros\n"
        "param B[1, 4] = zeros\n"
        "param M[2, 3, 4] = zeros\n"
        "param b[2, 1, 1] = zeros\n"
        "param s[1, 1] = zeros\n"
        "a = A * B\n"
        "c = M + b\n"
        "d = s - u\n"
        "e = M / A\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "a")->shape, "[3, 4]");
    ck_assert_shape(must_find(r.p, "c")->shape, "[2, 3, 4]");
    ck_assert_shape(must_find(r.p, "d")->shape, "[1, 3]");
    ck_assert_shape(must_find(r.p, "e")->shape, "[2, 3, 4]");
    done(&r);
}
END_TEST

START_TEST(shapes_that_do_not_broadcast_are_an_error)
{
    expect_messages(
        "input x[3]\n"
        "target y[4]\n"
        "loss = sum(x + y)\n",
        "t.nn:3:14: error: '+': shapes [3] and [4] do not broadcast (aligned from the right, "
        "each dimension must equal the other's or be 1)\n"
        "    3 | loss = sum(x + y)\n"
        "      |            ~~^~~\n"
        "t.nn:1:7: note: 'x' declared here as [3]\n"
        "    1 | input x[3]\n"
        "      |       ^\n"
        "t.nn:2:8: note: 'y' declared here as [4]\n"
        "    2 | target y[4]\n"
        "      |        ^\n");
}
END_TEST

START_TEST(square_and_power_keep_the_shape)
{
    Lowered r = lower_ok(PRE
        "a = x ^ 2\n"
        "b = x ^ 3\n"
        "c = 2 ^ x\n"
        "d = -x\n"
        LOSS);
    const Value *a = must_find(r.p, "a"), *b = must_find(r.p, "b");
    ck_assert_shape(a->shape, "[2]");
    ck_assert_msg(a->op == OP_SQUARE, "x ^ 2: expected op square, got %s", ir_ops[a->op].name);
    ck_assert_shape(b->shape, "[2]");
    ck_assert_msg(b->op == OP_POW, "x ^ 3: expected op pow, got %s", ir_ops[b->op].name);
    ck_assert_shape(must_find(r.p, "c")->shape, "[2]");
    ck_assert_shape(must_find(r.p, "d")->shape, "[2]");
    done(&r);
}
END_TEST

START_TEST(elementwise_functions_keep_the_shape)
{
    static const char *const fns[] = {"relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs"};
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        char src[256];
        snprintf(src, sizeof src, PRE "z = %s(W)\n" LOSS, fns[i]);
        expect_shape(src, "z", "[3, 2]");
    }
}
END_TEST

/* ---- reductions, softmax, losses ---- */

START_TEST(reductions_give_a_scalar)
{
    Lowered r = lower_ok(PRE
        "a = sum(W)\n"
        "b = mean(x)\n"
        "c = sumsq(W @ x)\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "a")->shape, "[]");
    ck_assert_shape(must_find(r.p, "b")->shape, "[]");
    ck_assert_shape(must_find(r.p, "c")->shape, "[]");
    ck_assert_int_eq(must_find(r.p, "c")->op, OP_SUMSQ);
    done(&r);
}
END_TEST

START_TEST(softmax_and_log_softmax_keep_the_shape)
{
    Lowered r = lower_ok(PRE
        "a = softmax(W @ x)\n"
        "b = log_softmax(W)\n"
        LOSS);
    ck_assert_shape(must_find(r.p, "a")->shape, "[3]");
    ck_assert_shape(must_find(r.p, "b")->shape, "[3, 2]");
    done(&r);
}
END_TEST

START_TEST(softmax_of_a_scalar_is_an_error)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "s = softmax(sum(x))\n"
        "loss = sum(x) + sum(y)\n",
        "t.nn:3:5: error: softmax needs a vector (it works along the last axis), not a scalar\n"
        "    3 | s = softmax(sum(x))\n"
        "      |     ^~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(cross_entropy_gives_a_scalar_and_makes_its_logits_the_prediction)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target c : class(3)\n"
        "param W[3, 2] = zeros\n"
        "logits = W @ x\n"
        "loss = cross_entropy(logits, c)\n");
    const Value *loss = must_find(r.p, "loss");
    ck_assert_shape(loss->shape, "[]");
    ck_assert_msg(r.p->loss == loss - r.p->v, "expected the program's loss to be %%%d, got %%%d",
                  (int)(loss - r.p->v), r.p->loss);
    ck_assert_int_eq(r.p->output, value_named(r.p, "logits"));
    ck_assert_str_eq(r.p->slots[r.p->out_slot].name, "c");
    ck_assert_int_eq(r.p->slots[r.p->out_slot].nclass, 3);
    done(&r);
}
END_TEST

START_TEST(cross_entropy_needs_a_class_target)
{
    expect_messages(
        "input x[3]\n"
        "target y[3]\n"
        "loss = cross_entropy(x, y)\n",
        "t.nn:3:25: error: cross_entropy: the target must be a class label (declare it as "
        "`target y : class(K)`); for real-valued targets write the loss out, e.g. "
        "0.5 * sum((yhat - y)^2)\n"
        "    3 | loss = cross_entropy(x, y)\n"
        "      |                         ^\n");
}
END_TEST

START_TEST(cross_entropy_needs_as_many_logits_as_classes)
{
    expect_messages(
        "input x[3]\n"
        "target c : class(4)\n"
        "param W[3, 3] = zeros\n"
        "loss = cross_entropy(W @ x, c)\n",
        "t.nn:4:24: error: cross_entropy: the logits must be a vector of 4 entries (class(4)), "
        "but are [3]\n"
        "    4 | loss = cross_entropy(W @ x, c)\n"
        "      |                      ~~^~~\n");
}
END_TEST

START_TEST(bce_with_logits_sums_to_a_scalar_and_makes_its_logit_the_prediction)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[3]\n"
        "param W[3, 2] = zeros\n"
        "z = W @ x\n"
        "loss = bce_with_logits(z, y)\n");
    const Value *loss = must_find(r.p, "loss");
    ck_assert_shape(loss->shape, "[]");
    ck_assert_msg(loss->op == OP_SUM && r.p->v[loss->arg[0]].op == OP_BCE,
                  "expected loss = sum(bce(z, y)), got %s", ir_ops[loss->op].name);
    ck_assert_shape(r.p->v[loss->arg[0]].shape, "[3]");
    ck_assert_int_eq(r.p->output, value_named(r.p, "z"));
    ck_assert_str_eq(r.p->slots[r.p->out_slot].name, "y");
    done(&r);
}
END_TEST

START_TEST(a_class_label_cannot_be_used_in_arithmetic)
{
    expect_messages(
        "input x[3]\n"
        "target c : class(3)\n"
        "loss = sum(x) + c\n",
        "t.nn:3:17: error: +: 'c' is a class label; it can only be the target of cross_entropy\n"
        "    3 | loss = sum(x) + c\n"
        "      |                 ^\n");
}
END_TEST

/* ---- dense and repeat ---- */

START_TEST(dense_declares_a_weight_and_a_bias_named_after_its_call)
{
    Lowered r = lower_ok(
        "input x[3]\n"
        "target y[1]\n"
        "h = dense(x, 4)\n"
        "z = dense(h, 1)\n"
        "loss = sum((z - y)^2)\n");
    ck_assert_int_eq(r.p->nparams, 4);
    const IrParam *w1 = param_named(r.p, "dense1_W"), *b1 = param_named(r.p, "dense1_b");
    ck_assert_shape(w1->shape, "[4, 3]");
    ck_assert_int_eq(w1->init, INIT_XAVIER_UNIFORM);
    ck_assert_shape(b1->shape, "[4]");
    ck_assert_int_eq(b1->init, INIT_ZEROS);
    ck_assert_shape(param_named(r.p, "dense2_W")->shape, "[1, 4]");
    ck_assert_shape(param_named(r.p, "dense2_b")->shape, "[1]");
    ck_assert_shape(must_find(r.p, "h")->shape, "[4]");
    ck_assert_shape(must_find(r.p, "z")->shape, "[1]");
    done(&r);
}
END_TEST

START_TEST(dense_takes_an_init_option_for_its_weight)
{
    Lowered r = lower_ok(
        "input x[3]\n"
        "target y[1]\n"
        "z = dense(x, 1, init = he_normal)\n"
        "loss = sum((z - y)^2)\n");
    ck_assert_int_eq(param_named(r.p, "dense1_W")->init, INIT_HE_NORMAL);
    ck_assert_int_eq(param_named(r.p, "dense1_b")->init, INIT_ZEROS);
    done(&r);
}
END_TEST

START_TEST(dense_reports_a_bad_width_init_or_input)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "a = dense(x, 0)\n"
        "b = dense(x, 2, init = normal)\n"
        "c = dense(sum(x), 2)\n"
        "d = dense(x)\n"
        "loss = sum(x) + sum(y)\n",
        "t.nn:3:14: error: dense: the width must be a positive integer constant\n"
        "    3 | a = dense(x, 0)\n"
        "      |              ^\n"
        "t.nn:4:24: error: dense: the third argument is init = one of xavier_uniform, "
        "xavier_normal, he_uniform, he_normal, zeros\n"
        "    4 | b = dense(x, 2, init = normal)\n"
        "      |                        ^~~~~~\n"
        "t.nn:5:11: error: dense: the input must be a vector, not []\n"
        "    5 | c = dense(sum(x), 2)\n"
        "      |           ^~~~~~\n"
        "t.nn:6:5: error: dense takes (input, width [, init = NAME]), e.g. dense(h, 10)\n"
        "    6 | d = dense(x)\n"
        "      |     ^~~~~~~~\n");
}
END_TEST

static const char deep[] =
    "const depth = 3, width = 4\n"
    "input x[2]\n"
    "target y[1]\n"
    "h = x\n"
    "repeat depth {\n"
    "  h = tanh(dense(h, width))\n"
    "}\n"
    "out = h\n"
    "logit = dense(h, 1)\n"
    "loss = bce_with_logits(logit, y)\n";

START_TEST(repeat_unrolls_its_body_and_each_dense_gets_new_parameters)
{
    Lowered r = lower_ok(deep);
    ck_assert_int_eq(r.p->nparams, 8);
    ck_assert_shape(param_named(r.p, "dense1_W")->shape, "[4, 2]");
    ck_assert_shape(param_named(r.p, "dense2_W")->shape, "[4, 4]");
    ck_assert_shape(param_named(r.p, "dense3_W")->shape, "[4, 4]");
    ck_assert_shape(param_named(r.p, "dense4_W")->shape, "[1, 4]");
    /* h was rebound by each iteration: out is the last layer's */
    const Value *out = must_find(r.p, "out");
    ck_assert_shape(out->shape, "[4]");
    ck_assert_int_eq(r.p->v[out->arg[0]].op, OP_TANH);
    done(&r);
}
END_TEST

START_TEST(a_name_bound_again_gets_the_lowest_suffix_nothing_else_bears)
{
    /* h_2 and h_2_2 are the user's own names, h_3 a param's: the rebinding
     * of h skips them, and h_2's rebinding becomes h_2_3, h_2_4, ... */
    Lowered r = lower_ok(
        "input x[3]\n"
        "target y[3]\n"
        "param h_3[3] = ones\n"
        "h = x\n"
        "h_2 = tanh(h)\n"
        "repeat 3 { h = tanh(h) }\n"
        "h_2 = h * h_2\n"
        "h = h + h_2\n"
        "h_2_2 = h\n"
        "repeat 2 { h_2 = tanh(h_2_2) }\n"
        "loss = sum((h + h_2 + h_3 - y)^2)\n");
    char got[256] = "";
    for (int i = 0; i < r.p->nv; i++) {
        const Value *v = &r.p->v[i];
        if (v->name && !v->temp && v->op != OP_PARAM && v->op != OP_INPUT && v->name[0] == 'h') {
            strcat(got, v->name);
            strcat(got, " ");
        }
    }
    ck_assert_text(got, "h h_2 h_4 h_5 h_6 h_2_3 h_7 h_2_2 h_2_4 h_2_5 ");
    done(&r);
}
END_TEST

START_TEST(repeat_zero_times_leaves_the_names_as_they_were)
{
    Define defs[] = {{"depth", 0, 0}};
    Lowered r = lower_ok_with(deep, defs, 1);
    ck_assert_int_eq(r.p->nparams, 2);
    ck_assert_shape(param_named(r.p, "dense1_W")->shape, "[1, 2]");
    const Value *out = must_find(r.p, "out");
    ck_assert_shape(out->shape, "[2]");
    ck_assert_int_eq(r.p->v[out->arg[0]].op, OP_COPY);   /* out = h = x */
    done(&r);
}
END_TEST

START_TEST(repeat_counts_and_dense_widths_come_from_minus_D)
{
    Define defs[] = {{"depth", 2, 0}, {"width", 7, 0}};
    Lowered r = lower_ok_with(deep, defs, 2);
    ck_assert_int_eq(r.p->nparams, 6);
    ck_assert_shape(param_named(r.p, "dense2_W")->shape, "[7, 7]");
    ck_assert_shape(param_named(r.p, "dense3_W")->shape, "[1, 7]");
    done(&r);
}
END_TEST

START_TEST(nested_repeats_multiply)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[2]\n"
        "h = x\n"
        "repeat 2 {\n"
        "  repeat 3 { h = dense(h, 2) }\n"
        "  h = relu(h)\n"
        "}\n"
        "loss = sum((h - y)^2)\n");
    ck_assert_int_eq(r.p->nparams, 12);
    param_named(r.p, "dense6_b");
    done(&r);
}
END_TEST

START_TEST(the_index_of_repeat_counts_from_zero)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[2]\n"
        "h = x\n"
        "repeat i = 3 {\n"
        "  h = h + i\n"
        "}\n"
        "loss = sum((h - y)^2)\n");
    /* h + 0, h + 1, h + 2: the constants added, in order */
    double want = 0;
    for (int i = r.p->fwd.begin; i < r.p->fwd.end; i++)
        if (r.p->v[i].op == OP_ADD) {
            const Value *c = &r.p->v[r.p->v[i].arg[1]];
            ck_assert_msg(c->op == OP_CONST && c->num == want,
                          "expected h + %g, got h + %s %g", want, ir_ops[c->op].name, c->num);
            want++;
        }
    ck_assert_msg(want == 3, "expected 3 additions, got %g", want);
    done(&r);
}
END_TEST

START_TEST(repeat_holds_only_assignments_and_needs_a_constant_count)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "h = x\n"
        "repeat 2 {\n"
        "  param Q[2] = zeros\n"
        "  h = h + 1\n"
        "}\n"
        "repeat -1 { h = h }\n"
        "repeat x { h = h }\n"
        "loss = sum(h) + sum(y)\n",
        "t.nn:5:3: error: only assignments (and repeat) can appear inside repeat; declare "
        "parameters outside it or use dense(h, n)\n"
        "    5 |   param Q[2] = zeros\n"
        "      |   ^~~~~~~~~~~~~~~~~~\n"
        "t.nn:8:8: error: repeat needs a constant integer count in 0..10000\n"
        "    8 | repeat -1 { h = h }\n"
        "      |        ^~\n"
        "t.nn:9:8: error: repeat needs a constant integer count in 0..10000\n"
        "    9 | repeat x { h = h }\n"
        "      |        ^\n");
}
END_TEST

START_TEST(an_error_inside_repeat_is_reported_once_not_per_iteration)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "h = x\n"
        "repeat 5 {\n"
        "  h = h + zz\n"
        "}\n"
        "loss = sum(h) + sum(y)\n",
        "t.nn:5:11: error: unknown name 'zz'\n"
        "    5 |   h = h + zz\n"
        "      |           ^~\n");
}
END_TEST

/* ---- the loss and the penalty ---- */

START_TEST(the_loss_and_the_penalty_are_recorded)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[1]\n"
        "param W[1, 2] = zeros\n"
        "loss = 0.5 * sum((W @ x - y)^2)\n"
        "penalty = 1e-4 * sumsq(W)\n");
    ck_assert_int_eq(r.p->loss, value_named(r.p, "loss"));
    ck_assert_int_eq(r.p->penalty, value_named(r.p, "penalty"));
    ck_assert_msg(r.p->v[r.p->loss].batched, "expected the loss batched");
    ck_assert_msg(!r.p->v[r.p->penalty].batched, "expected the penalty unbatched");
    done(&r);
}
END_TEST

START_TEST(a_regression_output_is_what_the_loss_compares_with_the_target)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target y[1]\n"
        "param W[1, 2] = zeros\n"
        "yhat = W @ x\n"
        "loss = 0.5 * sum((yhat - y)^2)\n");
    ck_assert_int_eq(r.p->output, value_named(r.p, "yhat"));
    ck_assert_str_eq(r.p->slots[r.p->out_slot].name, "y");
    ck_assert_int_eq(r.p->out_value, 1);
    done(&r);
}
END_TEST

START_TEST(an_autoencoder_output_is_compared_with_its_input)
{
    Lowered r = lower_ok(
        "input x[4]\n"
        "param W[4, 4] = zeros\n"
        "xhat = sigmoid(W @ x)\n"
        "loss = sum((x - xhat)^2)\n");
    ck_assert_int_eq(r.p->output, value_named(r.p, "xhat"));
    ck_assert_str_eq(r.p->slots[r.p->out_slot].name, "x");
    ck_assert_int_eq(r.p->out_value, 1);
    done(&r);
}
END_TEST

START_TEST(a_classifier_output_is_logits_not_a_value)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target c : class(3)\n"
        "logits = dense(x, 3)\n"
        "loss = cross_entropy(logits, c)\n");
    ck_assert_int_eq(r.p->output, value_named(r.p, "logits"));
    ck_assert_int_eq(r.p->out_value, 0);
    done(&r);
}
END_TEST

START_TEST(the_loss_must_be_a_scalar)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "loss = x\n",
        "t.nn:3:8: error: the loss must be a per-sample scalar, but has shape [3]; "
        "reduce it with sum(...) or mean(...)\n"
        "    3 | loss = x\n"
        "      |        ^\n");
}
END_TEST

START_TEST(the_loss_must_depend_on_an_input_or_target)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[2, 3] = zeros\n"
        "loss = sum(W)\n",
        "t.nn:4:8: error: the loss does not depend on any input or target\n"
        "    4 | loss = sum(W)\n"
        "      |        ^~~~~~\n");
}
END_TEST

START_TEST(the_penalty_must_not_depend_on_the_data)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[2, 3] = zeros\n"
        "loss = sum(W @ x) + sum(y)\n"
        "penalty = sumsq(W) * sum(x)\n",
        "t.nn:5:20: error: the penalty must depend on parameters only (it is added once per "
        "batch), but it uses an input or target\n"
        "    5 | penalty = sumsq(W) * sum(x)\n"
        "      |           ~~~~~~~~~^~~~~~~~\n");
}
END_TEST

START_TEST(the_penalty_must_be_a_scalar)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "param W[2, 3] = zeros\n"
        "loss = sum(W @ x) + sum(y)\n"
        "penalty = W\n",
        "t.nn:5:11: error: the penalty must be a scalar, but has shape [2, 3]\n"
        "    5 | penalty = W\n"
        "      |           ^\n");
}
END_TEST

START_TEST(a_model_without_a_loss_is_an_error_at_its_first_line)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "h = 2 * x\n",
        "t.nn:1:1: error: the model has no loss: add a line `loss = ...` (a per-sample scalar)\n"
        "    1 | input x[3]\n"
        "      | ^\n");
}
END_TEST

START_TEST(inputs_and_params_the_loss_does_not_use_are_warned_about)
{
    Lowered r = lower_ok(
        "input x[3]\n"
        "input unused[2]\n"
        "target y[1]\n"
        "param W[2, 3] = zeros\n"
        "param V[2] = zeros\n"
        "loss = sum(W @ x) + sum(y)\n");
    ck_assert_text(r.msgs,
        "t.nn:2:7: warning: input 'unused' does not affect the loss\n"
        "    2 | input unused[2]\n"
        "      |       ^~~~~~\n"
        "t.nn:5:7: warning: param 'V' does not affect the loss\n"
        "    5 | param V[2] = zeros\n"
        "      |       ^\n");
    done(&r);
}
END_TEST

START_TEST(a_value_assigned_again_before_any_use_is_warned_about)
{
    /* `loss` twice: the first is dead.  Rebinding a name that the new
     * value reads (h = 2 * h), or the same statement again in a repeat
     * block, is not. */
    Lowered r = lower_ok(
        "input x[3]\n"
        "target y[1]\n"
        "h = x\n"
        "h = 2 * h\n"
        "repeat 2 {\n"
        "  z = 3 * x\n"
        "}\n"
        "loss = sum(h)\n"
        "loss = sum(z) + sum(y)\n");
    ck_assert_text(r.msgs,
        "t.nn:8:1: warning: the value assigned to 'loss' here is never used\n"
        "    8 | loss = sum(h)\n"
        "      | ^~~~\n"
        "t.nn:9:1: note: 'loss' is assigned again here\n"
        "    9 | loss = sum(z) + sum(y)\n"
        "      | ^~~~\n");
    done(&r);
}
END_TEST

/* ---- the train block ---- */

START_TEST(an_unknown_setting_or_optimizer_suggests_the_closest)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "loss = sum(x) + sum(y)\n"
        "train {\n"
        "  optimiser = sgd\n"
        "  optimizer = adma(lr = 0.1)\n"
        "}\n",
        "t.nn:5:3: error: unknown setting 'optimiser' (did you mean 'optimizer'?); the settings "
        "are data, test, optimizer, schedule, batch, epochs, steps, reduce, shuffle, seed, "
        "metrics, log, lr, momentum, clip, patience\n"
        "    5 |   optimiser = sgd\n"
        "      |   ^~~~~~~~~\n"
        "t.nn:6:3: error: unknown optimizer 'adma' (did you mean 'adam'?); the optimizers are "
        "sgd, adam, adamw, rmsprop\n"
        "    6 |   optimizer = adma(lr = 0.1)\n"
        "      |   ^~~~~~~~~\n");
}
END_TEST

START_TEST(a_setting_given_twice_is_an_error)
{
    expect_messages(
        "input x[3]\n"
        "target y[1]\n"
        "loss = sum(x) + sum(y)\n"
        "train {\n"
        "  epochs = 3\n"
        "  epochs = 4\n"
        "}\n",
        "t.nn:6:3: error: 'epochs' is set twice in the train block\n"
        "    6 |   epochs = 4\n"
        "      |   ^~~~~~\n"
        "t.nn:5:3: note: first set here\n"
        "    5 |   epochs = 3\n"
        "      |   ^~~~~~\n");
}
END_TEST

START_TEST(settings_are_kept_as_text_with_constants_folded)
{
    Lowered r = lower_ok(
        "const E = 3\n"
        "input x[3]\n"
        "target y[1]\n"
        "loss = sum(x) + sum(y)\n"
        "train {\n"
        "  epochs = E * 2\n"
        "  data = \"train.npz\"\n"
        "  optimizer = adam(lr = 0.5)\n"
        "  batch = full\n"
        "}\n");
    ck_assert_int_eq(r.p->nsettings, 4);
    const char *want[4][2] = {
        {"epochs", "6"}, {"data", "\"train.npz\""}, {"optimizer", "adam(lr = 0.5)"},
        {"batch", "full"},
    };
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(r.p->settings[i].key, want[i][0]);
        ck_assert_msg(strcmp(r.p->settings[i].value, want[i][1]) == 0,
                      "setting %s: expected %s, got %s", want[i][0], want[i][1],
                      r.p->settings[i].value);
    }
    done(&r);
}
END_TEST

START_TEST(accuracy_without_a_classifier_is_warned_about)
{
    Lowered r = lower_ok(
        "input x[3]\n"
        "target y[1]\n"
        "loss = sum(x) + sum(y)\n"
        "train { metrics = accuracy }\n");
    ck_assert_text(r.msgs,
        "t.nn:4:9: warning: accuracy needs a classifier (a loss with cross_entropy(logits, c) or "
        "bce_with_logits(logit, y)); this model's trainer will not report it\n"
        "    4 | train { metrics = accuracy }\n"
        "      |         ^~~~~~~\n");
    ck_assert_int_eq(r.p->output, -1);
    done(&r);
}
END_TEST

START_TEST(accuracy_is_accepted_with_a_classifier)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target c : class(3)\n"
        "logits = dense(x, 3)\n"
        "loss = cross_entropy(logits, c)\n"
        "train { metrics = accuracy }\n");
    ck_assert_str_eq(r.p->settings[0].value, "accuracy");
    ck_assert_int_eq(r.p->output, value_named(r.p, "logits"));
    done(&r);
}
END_TEST

/* ---- the example block ---- */

START_TEST(the_example_gives_one_sample_of_each_slot)
{
    Lowered r = lower_ok(
        "input x[2]\n"
        "target c : class(3)\n"
        "loss = cross_entropy(dense(x, 3), c)\n"
        "example {\n"
        "  x = [0.5, -1]\n"
        "  c = 2\n"
        "}\n");
    const double *x = r.p->slots[0].example, *c = r.p->slots[1].example;
    ck_assert_msg(x && x[0] == 0.5 && x[1] == -1, "expected x = [0.5, -1]");
    ck_assert_msg(c && c[0] == 2, "expected c = 2");
    done(&r);
}
END_TEST

START_TEST(the_example_must_match_the_slots)
{
    expect_messages(
        "input x[3]\n"
        "target c : class(3)\n"
        "loss = cross_entropy(x, c)\n"
        "example {\n"
        "  x = [1, 2]\n"
        "  label = 1\n"
        "  c = 3\n"
        "}\n",
        "t.nn:5:7: error: 'x' is [3], but the example gives 2 values\n"
        "    5 |   x = [1, 2]\n"
        "      |       ^~~~~~\n"
        "t.nn:6:3: error: the example sets 'label', which is no input or target\n"
        "    6 |   label = 1\n"
        "      |   ^~~~~\n"
        "t.nn:7:7: error: 'c' is a class label in [0, 3), not 3\n"
        "    7 |   c = 3\n"
        "      |       ^\n");
}
END_TEST

/* ---- several errors ---- */

START_TEST(several_independent_errors_are_reported_in_one_run)
{
    Lowered r = lower(
        "const H = 4\n"
        "input x[3]\n"
        "target y[1]\n"
        "param W[H, 3] = xavier_unifrom\n"
        "param V[H, 5] = zeros\n"
        "h = relu(W @ x)\n"
        "g = V @ h\n"
        "k = tanhh(h)\n"
        "loss = sum(h) + sum(y)\n"
        "train { epoch = 3 }\n");
    ck_assert_text(r.msgs,
        "t.nn:4:17: error: unknown initialiser 'xavier_unifrom' (did you mean 'xavier_uniform'?)\n"
        "    4 | param W[H, 3] = xavier_unifrom\n"
        "      |                 ^~~~~~~~~~~~~~\n"
        "t.nn:7:7: error: '@': inner dimensions differ (5 vs 4): V is [4, 5], h is [4]\n"
        "    7 | g = V @ h\n"
        "      |     ~~^~~\n"
        "t.nn:5:7: note: 'V' declared here as [4, 5]\n"
        "    5 | param V[H, 5] = zeros\n"
        "      |       ^\n"
        "t.nn:6:1: note: 'h' defined here as [4]\n"
        "    6 | h = relu(W @ x)\n"
        "      | ^\n"
        "t.nn:8:5: error: unknown function 'tanhh' (did you mean 'tanh'?)\n"
        "    8 | k = tanhh(h)\n"
        "      |     ^~~~~\n"
        "t.nn:10:9: error: unknown setting 'epoch' (did you mean 'epochs'?); the settings are "
        "data, test, optimizer, schedule, batch, epochs, steps, reduce, shuffle, seed, metrics, "
        "log, lr, momentum, clip, patience\n"
        "   10 | train { epoch = 3 }\n"
        "      |         ^~~~~\n"
        "t.nn:5:7: warning: param 'V' does not affect the loss\n"
        "    5 | param V[H, 5] = zeros\n"
        "      |       ^\n");
    ck_assert_int_eq(r.errors, 4);
    ck_assert_ptr_null(r.p);
    done(&r);
}
END_TEST

/* ---- known bugs (NNC_KNOWN_BUGS=1) ---- */

START_TEST(minus_D_is_checked_even_when_the_loss_failed)
{
    Define defs[] = {{"widht", 4, 0}};
    expect_messages_with(
        "const width = 3\n"
        "input x[width]\n"
        "target y[1]\n"
        "loss = sum(x) + zz\n", defs, 1,
        "t.nn:4:17: error: unknown name 'zz'\n"
        "    4 | loss = sum(x) + zz\n"
        "      |                 ^~\n"
        "nnc: error: -D widht: the model has no const 'widht' (did you mean 'width'?)\n");
}
END_TEST

START_TEST(the_index_of_repeat_cannot_shadow_a_declared_name)
{
    Lowered r = lower(
        "input x[2]\n"
        "target y[2]\n"
        "h = x\n"
        "repeat x = 2 {\n"
        "  h = h + x\n"
        "}\n"
        "loss = sum((h - y)^2)\n");
    ck_assert_msg(r.errors > 0, "the index x silently shadows the input x:\n%s", r.msgs);
    done(&r);
}
END_TEST

START_TEST(the_index_of_repeat_is_not_visible_after_it)
{
    Lowered r = lower(
        "input x[2]\n"
        "target y[2]\n"
        "h = x\n"
        "repeat i = 2 { h = h + i }\n"
        "loss = sum((h - y)^2) + i\n");
    ck_assert_msg(r.errors > 0, "the index i is still bound after its repeat:\n%s", r.msgs);
    done(&r);
}
END_TEST

START_TEST(a_keyword_argument_to_a_function_is_reported_as_such)
{
    Lowered r = lower(
        "input x[2]\n"
        "target y[1]\n"
        "a = relu(x = 1)\n"
        "loss = sum(x) + sum(y)\n");
    ck_assert_msg(strstr(r.msgs, "takes one argument, got 1") == NULL,
                  "the message contradicts itself:\n%s", r.msgs);
    done(&r);
}
END_TEST

START_TEST(arithmetic_inside_a_settings_call_is_folded)
{
    Lowered r = lower_ok(
        "const E = 4\n"
        "input x[2]\n"
        "target y[1]\n"
        "loss = sum(x) + sum(y)\n"
        "train { optimizer = sgd(lr = 1 / E) }\n");
    ck_assert_str_eq(r.p->settings[0].value, "sgd(lr = 0.25)");
    done(&r);
}
END_TEST

START_TEST(a_const_can_initialise_a_param)
{
    Lowered r = lower_ok(
        "const A = 2\n"
        "input x[2]\n"
        "target y[1]\n"
        "param e[2] = A\n"
        "param f[2] = -A / 4\n"
        "loss = sum(x * e * f) + sum(y)\n");
    ck_assert_int_eq(param_named(r.p, "e")->init, INIT_LITERAL);
    done(&r);
}
END_TEST

START_TEST(the_class_label_message_quotes_the_operator)
{
    Lowered r = lower(
        "input x[3]\n"
        "target c : class(3)\n"
        "loss = sum(x) + c\n");
    ck_assert_msg(strstr(r.msgs, "error: '+': 'c' is a class label") != NULL,
                  "expected the operator quoted as '+', got:\n%s", r.msgs);
    done(&r);
}
END_TEST

static Suite *sema_suite(void)
{
    Suite *s = suite_create("sema");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, an_unknown_name_suggests_the_closest_name_in_scope);
    tcase_add_test(tc, an_unknown_name_far_from_every_name_gets_no_suggestion);
    tcase_add_test(tc, the_loss_cannot_be_used_before_it_is_defined);
    tcase_add_test(tc, an_unknown_function_suggests_the_closest_builtin);
    tcase_add_test(tc, every_function_of_the_op_table_is_called_by_its_name_and_arity);
    tcase_add_test(tc, an_unknown_initialiser_suggests_the_closest_one);
    tcase_add_test(tc, a_literal_initialiser_must_have_the_declared_shape);
    tcase_add_test(tc, a_literal_initialiser_gives_the_values_row_by_row_and_a_number_fills);
    tcase_add_test(tc, initialisers_with_arguments_record_them);
    tcase_add_test(tc, redeclaring_a_name_points_at_the_first_declaration);
    tcase_add_test(tc, a_declaration_must_come_before_the_name_is_assigned);
    tcase_add_test(tc, assigning_to_a_param_or_an_input_is_an_error);
    tcase_add_test(tc, a_later_assignment_rebinds_the_name);
    tcase_add_test(tc, a_failed_definition_is_not_reported_again_where_it_is_used);
    suite_add_tcase(s, tc);

    tc = tcase_create("constants");
    tcase_add_test(tc, constants_fold_into_dimensions);
    tcase_add_test(tc, a_const_must_be_a_number_known_at_compile_time);
    tcase_add_test(tc, a_dimension_must_be_a_positive_integer_constant);
    tcase_add_test(tc, minus_D_overrides_a_const_and_is_marked_used);
    tcase_add_test(tc, minus_D_overrides_feed_the_constants_declared_after_them);
    tcase_add_test(tc, minus_D_of_an_unknown_name_suggests_a_const);
    tcase_add_test(tc, minus_D_with_a_fraction_is_reported_where_it_is_used_as_a_dimension);
    suite_add_tcase(s, tc);

    tc = tcase_create("matrix products");
    tcase_add_test(tc, matrix_at_vector_is_a_vector);
    tcase_add_test(tc, vector_at_matrix_is_a_vector);
    tcase_add_test(tc, vector_at_vector_is_a_scalar);
    tcase_add_test(tc, matrix_at_matrix_is_a_matrix);
    tcase_add_test(tc, a_transposed_operand_swaps_its_dimensions);
    tcase_add_test(tc, a_transpose_outside_a_product_is_its_own_op);
    tcase_add_test(tc, inner_dimensions_that_differ_are_reported_with_both_declarations);
    tcase_add_test(tc, a_transposed_operand_is_marked_in_the_message);
    tcase_add_test(tc, an_operand_without_a_name_is_called_the_left_or_right_side);
    tcase_add_test(tc, at_needs_a_vector_or_matrix_on_both_sides);
    tcase_add_test(tc, at_refuses_tensors_of_rank_three);
    suite_add_tcase(s, tc);

    tc = tcase_create("broadcasting");
    tcase_add_test(tc, a_scalar_broadcasts_over_any_shape);
    tcase_add_test(tc, a_shape_broadcasts_over_a_larger_one_ending_in_it);
    tcase_add_test(tc, a_dimension_of_one_stretches_over_the_others);
    tcase_add_test(tc, shapes_that_do_not_broadcast_are_an_error);
    tcase_add_test(tc, square_and_power_keep_the_shape);
    tcase_add_test(tc, elementwise_functions_keep_the_shape);
    suite_add_tcase(s, tc);

    tc = tcase_create("reductions and losses");
    tcase_add_test(tc, reductions_give_a_scalar);
    tcase_add_test(tc, softmax_and_log_softmax_keep_the_shape);
    tcase_add_test(tc, softmax_of_a_scalar_is_an_error);
    tcase_add_test(tc, cross_entropy_gives_a_scalar_and_makes_its_logits_the_prediction);
    tcase_add_test(tc, cross_entropy_needs_a_class_target);
    tcase_add_test(tc, cross_entropy_needs_as_many_logits_as_classes);
    tcase_add_test(tc, bce_with_logits_sums_to_a_scalar_and_makes_its_logit_the_prediction);
    tcase_add_test(tc, a_class_label_cannot_be_used_in_arithmetic);
    suite_add_tcase(s, tc);

    tc = tcase_create("dense and repeat");
    tcase_add_test(tc, dense_declares_a_weight_and_a_bias_named_after_its_call);
    tcase_add_test(tc, dense_takes_an_init_option_for_its_weight);
    tcase_add_test(tc, dense_reports_a_bad_width_init_or_input);
    tcase_add_test(tc, repeat_unrolls_its_body_and_each_dense_gets_new_parameters);
    tcase_add_test(tc, repeat_zero_times_leaves_the_names_as_they_were);
    tcase_add_test(tc, repeat_counts_and_dense_widths_come_from_minus_D);
    tcase_add_test(tc, nested_repeats_multiply);
    tcase_add_test(tc, the_index_of_repeat_counts_from_zero);
    tcase_add_test(tc, repeat_holds_only_assignments_and_needs_a_constant_count);
    tcase_add_test(tc, an_error_inside_repeat_is_reported_once_not_per_iteration);
    tcase_add_test(tc, a_name_bound_again_gets_the_lowest_suffix_nothing_else_bears);
    suite_add_tcase(s, tc);

    tc = tcase_create("loss and penalty");
    tcase_add_test(tc, the_loss_and_the_penalty_are_recorded);
    tcase_add_test(tc, a_regression_output_is_what_the_loss_compares_with_the_target);
    tcase_add_test(tc, an_autoencoder_output_is_compared_with_its_input);
    tcase_add_test(tc, a_classifier_output_is_logits_not_a_value);
    tcase_add_test(tc, the_loss_must_be_a_scalar);
    tcase_add_test(tc, the_loss_must_depend_on_an_input_or_target);
    tcase_add_test(tc, the_penalty_must_not_depend_on_the_data);
    tcase_add_test(tc, the_penalty_must_be_a_scalar);
    tcase_add_test(tc, a_model_without_a_loss_is_an_error_at_its_first_line);
    tcase_add_test(tc, inputs_and_params_the_loss_does_not_use_are_warned_about);
    tcase_add_test(tc, a_value_assigned_again_before_any_use_is_warned_about);
    suite_add_tcase(s, tc);

    tc = tcase_create("train and example blocks");
    tcase_add_test(tc, an_unknown_setting_or_optimizer_suggests_the_closest);
    tcase_add_test(tc, a_setting_given_twice_is_an_error);
    tcase_add_test(tc, settings_are_kept_as_text_with_constants_folded);
    tcase_add_test(tc, accuracy_without_a_classifier_is_warned_about);
    tcase_add_test(tc, accuracy_is_accepted_with_a_classifier);
    tcase_add_test(tc, the_example_gives_one_sample_of_each_slot);
    tcase_add_test(tc, the_example_must_match_the_slots);
    suite_add_tcase(s, tc);

    tc = tcase_create("several errors");
    tcase_add_test(tc, several_independent_errors_are_reported_in_one_run);
    suite_add_tcase(s, tc);

    const char *kb = getenv("NNC_KNOWN_BUGS");
    if (kb && strcmp(kb, "1") == 0) {
        tc = tcase_create("known bugs");
        tcase_add_test(tc, minus_D_is_checked_even_when_the_loss_failed);
        tcase_add_test(tc, the_index_of_repeat_cannot_shadow_a_declared_name);
        tcase_add_test(tc, the_index_of_repeat_is_not_visible_after_it);
        tcase_add_test(tc, a_keyword_argument_to_a_function_is_reported_as_such);
        tcase_add_test(tc, arithmetic_inside_a_settings_call_is_folded);
        tcase_add_test(tc, a_const_can_initialise_a_param);
        tcase_add_test(tc, the_class_label_message_quotes_the_operator);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sema_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
