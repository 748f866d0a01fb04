/*
 * check_parser.c - the parser builds the tree the source describes.
 *
 * Most tests parse a snippet and compare the tree's printed form (the
 * S-expressions of `nnc --emit=ast`, docs/ast.md) with the exact expected
 * text; a few look at the source locations sema's messages will use.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

#define ck_assert_text(got, want)                                                  \
    ck_assert_msg(strcmp((got), (want)) == 0, "expected:\n%s\ngot:\n%s", (want), (got))

/* Parse src, failing the test on any diagnostic; the printed tree (malloc'd). */
static char *tree_of(const char *src)
{
    char *msgs = NULL, *out = NULL;
    size_t nmsgs = 0, nout = 0;
    FILE *m = open_memstream(&msgs, &nmsgs);
    diag_set_stream(m);
    diag_reset();
    Program *p = ast_parse("t.nn", src);
    fclose(m);
    diag_set_stream(NULL);
    ck_assert_msg(diag_error_count() == 0 && nmsgs == 0,
                  "expected no diagnostics for:\n%s\ngot:\n%s", src, msgs);
    ck_assert_msg(p != NULL, "ast_parse returned NULL");
    FILE *o = open_memstream(&out, &nout);
    ast_print(o, p);
    fclose(o);
    ast_free(p);
    free(msgs);
    return out;
}

static void expect_tree(const char *src, const char *want)
{
    char *got = tree_of(src);
    ck_assert_text(got, want);
    free(got);
}

/* The first statement's value of a one-statement program. */
static Program *parse_quiet(const char *src)
{
    char *msgs = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&msgs, &n);
    diag_set_stream(m);
    diag_reset();
    Program *p = ast_parse("t.nn", src);
    fclose(m);
    diag_set_stream(NULL);
    ck_assert_msg(diag_error_count() == 0, "unexpected diagnostics:\n%s", msgs);
    free(msgs);
    return p;
}

#define ck_assert_loc(l, LINE, COL, COL0, COL1)                                       \
    ck_assert_msg((l).line == (LINE) && (l).col == (COL) && (l).col0 == (COL0) &&     \
                      (l).col1 == (COL1),                                             \
                  "expected loc %d:%d [%d..%d], got %d:%d [%d..%d]", (LINE), (COL),   \
                  (COL0), (COL1), (l).line, (l).col, (l).col0, (l).col1)

/* ---- the design document's example ---- */

static const char design_example[] =
    "# comment to end of line\n"
    "model tiny_mlp                      # optional name (defaults to the file's stem)\n"
    "const H = 10, D = 2                 # compile-time integers/reals; `nnc -D H=20` overrides\n"
    "\n"
    "input  x[D]                         # one sample's input; shape excludes the batch\n"
    "target y[1]                         # real-valued target\n"
    "target c : class(10)                # integer class label in [0, 10)\n"
    "\n"
    "param W1[H, D] = xavier_uniform     # initialisers: zeros ones identity normal(m, s)\n"
    "param b1[H]    = zeros              #   uniform(a, b) xavier_uniform xavier_normal he_uniform\n"
    "param Wr[H, H] = identity frozen    #   he_normal, a literal [[..],[..]], load(\"file\", \"key\")\n"
    "                                    # `frozen`: used, never updated, no gradient emitted\n"
    "\n"
    "h1   = relu(W1 @ x + b1)            # @ is matrix product; + - * / ^ elementwise with scalar\n"
    "h2   = relu(W2 @ h1 + b2)           # and trailing-dimension broadcasting; unary minus\n"
    "yhat = W3 @ h2 + b3\n"
    "\n"
    "loss    = 0.5 * sum((yhat - y)^2)   # per-sample scalar; required\n"
    "penalty = 1e-4 * 0.5 * sumsq(W1)    # optional; depends on params only; added once per batch\n"
    "\n"
    "train {                             # optional; every key is also a flag of the trainer\n"
    "  data      = \"train.npz\"           # arrays named after the inputs/targets, axis 0 = sample\n"
    "  test      = \"test.npz\"            # optional held-out set, evaluated each epoch\n"
    "  optimizer = sgd(lr = 0.01)        # sgd(lr, momentum) adam(lr, beta1, beta2, eps)\n"
    "  schedule  = exp_decay(k = 0.1)    # lr_t = lr * exp(-k t), t = epoch; also step, cosine\n"
    "  batch     = 32                    # or `full` (one update per epoch, gradient averaged)\n"
    "  epochs    = 5                     # or steps = 1000\n"
    "  reduce    = mean                  # batch objective = reduce over samples of loss + penalty\n"
    "  shuffle   = true\n"
    "  seed      = 1\n"
    "  metrics   = accuracy              # loss is always reported\n"
    "  log       = \"runs/tiny\"           # run directory: metrics.csv, config, plots, checkpoints\n"
    "}\n"
    "\n"
    "example {                           # one concrete sample, for `nnc explain` and `nnc check`\n"
    "  x = [0.5, 0.5]\n"
    "  y = [0.9]\n"
    "}\n";

START_TEST(the_design_documents_example_parses_to_the_expected_tree)
{
    expect_tree(design_example,
        "(model tiny_mlp)\n"
        "(const H 10)\n"
        "(const D 2)\n"
        "(input x [D])\n"
        "(target y [1])\n"
        "(target c (class 10))\n"
        "(param W1 [H D] xavier_uniform)\n"
        "(param b1 [H] zeros)\n"
        "(param Wr [H H] identity frozen)\n"
        "(assign h1 (call relu (+ (@ W1 x) b1)))\n"
        "(assign h2 (call relu (+ (@ W2 h1) b2)))\n"
        "(assign yhat (+ (@ W3 h2) b3))\n"
        "(assign loss (* 0.5 (call sum (^ (- yhat y) 2))))\n"
        "(assign penalty (* (* 0.0001 0.5) (call sumsq W1)))\n"
        "(train (= data \"train.npz\") (= test \"test.npz\") (= optimizer (call sgd (= lr 0.01)))"
        " (= schedule (call exp_decay (= k 0.1))) (= batch 32) (= epochs 5) (= reduce mean)"
        " (= shuffle true) (= seed 1) (= metrics accuracy) (= log \"runs/tiny\"))\n"
        "(example (= x (list 0.5 0.5)) (= y (list 0.9)))\n");
}
END_TEST

START_TEST(the_design_example_keeps_the_statement_kinds_and_fields)
{
    Program *p = parse_quiet(design_example);
    ck_assert_int_eq(p->nstmts, 16);
    ck_assert_int_eq(p->stmts[0]->kind, ST_MODEL);
    ck_assert_int_eq(p->stmts[1]->kind, ST_CONST);
    ck_assert_int_eq(p->stmts[2]->kind, ST_CONST);
    const Stmt *c = p->stmts[5];
    ck_assert_int_eq(c->kind, ST_TARGET);
    ck_assert_ptr_nonnull(c->value);
    ck_assert_int_eq(c->ndims, 0);
    ck_assert_ptr_null(p->stmts[4]->value);
    const Stmt *wr = p->stmts[8];
    ck_assert_int_eq(wr->kind, ST_PARAM);
    ck_assert_int_eq(wr->frozen, 1);
    ck_assert_int_eq(wr->ndims, 2);
    ck_assert_int_eq(p->stmts[6]->frozen, 0);
    ck_assert_int_eq(p->stmts[14]->kind, ST_TRAIN);
    ck_assert_int_eq(p->stmts[14]->nitems, 11);
    ck_assert_int_eq(p->stmts[15]->kind, ST_EXAMPLE);
    ck_assert_str_eq(p->stmts[15]->items[1].key, "y");
    ck_assert_str_eq(p->file, "t.nn");
    ast_free(p);
}
END_TEST

/* ---- precedence ---- */

START_TEST(multiplication_binds_tighter_than_addition)
{
    expect_tree("z = a + b * c - d / e\n", "(assign z (- (+ a (* b c)) (/ d e)))\n");
}
END_TEST

START_TEST(matrix_product_shares_the_level_of_multiplication)
{
    expect_tree("z = a * B @ c + d\n", "(assign z (+ (@ (* a B) c) d))\n");
    expect_tree("z = W @ x @ y\n", "(assign z (@ (@ W x) y))\n");
}
END_TEST

START_TEST(subtraction_and_division_are_left_associative)
{
    expect_tree("z = a - b - c\n", "(assign z (- (- a b) c))\n");
    expect_tree("z = a / b / c\n", "(assign z (/ (/ a b) c))\n");
}
END_TEST

START_TEST(power_is_right_associative)
{
    expect_tree("z = 2 ^ 3 ^ 2\n", "(assign z (^ 2 (^ 3 2)))\n");
}
END_TEST

START_TEST(unary_minus_binds_looser_than_power)
{
    expect_tree("z = -x^2\n", "(assign z (neg (^ x 2)))\n");
    expect_tree("z = -a * b\n", "(assign z (* (neg a) b))\n");
    expect_tree("z = a - -b\n", "(assign z (- a (neg b)))\n");
}
END_TEST

START_TEST(power_accepts_a_negated_exponent)
{
    expect_tree("z = x ^ -1\n", "(assign z (^ x (neg 1)))\n");
    expect_tree("z = x ^ -y ^ 2\n", "(assign z (^ x (neg (^ y 2))))\n");
}
END_TEST

START_TEST(transpose_is_postfix_and_binds_tightest)
{
    expect_tree("z = W' @ x\n", "(assign z (@ (transpose W) x))\n");
    expect_tree("z = W'^2\n", "(assign z (^ (transpose W) 2))\n");
    expect_tree("z = -f(x)''\n", "(assign z (neg (transpose (transpose (call f x)))))\n");
    expect_tree("z = (a + b)'\n", "(assign z (transpose (+ a b)))\n");
}
END_TEST

START_TEST(parentheses_override_precedence)
{
    expect_tree("z = (a + b) * c\n", "(assign z (* (+ a b) c))\n");
    expect_tree("z = (-x)^2\n", "(assign z (^ (neg x) 2))\n");
}
END_TEST

/* ---- expressions ---- */

START_TEST(calls_take_positional_and_keyword_arguments)
{
    expect_tree("o = adam(lr = 0.001, beta1 = 0.9)\n",
                "(assign o (call adam (= lr 0.001) (= beta1 0.9)))\n");
    expect_tree("n = normal(0, 0.01)\n", "(assign n (call normal 0 0.01))\n");
    expect_tree("d = dense(h, 10, act = relu)\n", "(assign d (call dense h 10 (= act relu)))\n");
    expect_tree("e = f()\n", "(assign e (call f))\n");
}
END_TEST

START_TEST(lists_nest)
{
    expect_tree("param W[2, 2] = [[1, 2], [3, -4]]\n",
                "(param W [2 2] (list (list 1 2) (list 3 (neg 4))))\n");
    expect_tree("e = []\n", "(assign e (list))\n");
}
END_TEST

START_TEST(numbers_record_whether_they_were_written_as_integers)
{
    Program *p = parse_quiet("const A = 10, B = 0.5, C = .5, D = 1e-4, E = 2.5E+3, F = 3.\n");
    ck_assert_int_eq(p->nstmts, 6);
    static const double v[] = {10, 0.5, 0.5, 1e-4, 2.5e3, 3};
    static const int is_int[] = {1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 6; i++) {
        const Expr *e = p->stmts[i]->value;
        ck_assert_int_eq(e->kind, EX_NUM);
        ck_assert_msg(e->num == v[i], "%s: expected %g, got %g", p->stmts[i]->name, v[i], e->num);
        ck_assert_msg(e->is_int == is_int[i], "%s: expected is_int %d, got %d",
                      p->stmts[i]->name, is_int[i], e->is_int);
    }
    ast_free(p);
    expect_tree("const A = 10, B = 0.5, C = .5, D = 1e-4, E = 2.5E+3, F = 3., G = 0.1\n",
                "(const A 10)\n(const B 0.5)\n(const C 0.5)\n(const D 0.0001)\n"
                "(const E 2500.0)\n(const F 3.0)\n(const G 0.1)\n");
}
END_TEST

START_TEST(strings_are_unescaped)
{
    Program *p = parse_quiet("s = \"a\\\"b\\\\c\\nd\\te\"\n");
    ck_assert_str_eq(p->stmts[0]->value->str, "a\"b\\c\nd\te");
    ast_free(p);
    expect_tree("s = \"a\\\"b\\\\c\\nd\\te\"\n", "(assign s \"a\\\"b\\\\c\\nd\\te\")\n");
}
END_TEST

/* ---- statements ---- */

START_TEST(const_declares_one_statement_per_name)
{
    expect_tree("const H = 10, D = 2 * H, r = 0.5\n",
                "(const H 10)\n(const D (* 2 H))\n(const r 0.5)\n");
}
END_TEST

START_TEST(scalars_are_declared_without_brackets)
{
    expect_tree("param s = ones\ninput t\ntarget u\nparam v[] = zeros\n",
                "(param s [] ones)\n(input t [])\n(target u [])\n(param v [] zeros)\n");
}
END_TEST

START_TEST(frozen_may_come_before_the_initialiser)
{
    expect_tree("param W[2, 3] frozen = load(\"w.npz\", \"W\")\n",
                "(param W [2 3] (call load \"w.npz\" \"W\") frozen)\n");
}
END_TEST

START_TEST(dimensions_are_expressions)
{
    expect_tree("input x[2 * H, D + 1]\n", "(input x [(* 2 H) (+ D 1)])\n");
}
END_TEST

START_TEST(repeat_blocks_nest)
{
    expect_tree("repeat depth {\n"
                "  h = dense(h, width)\n"
                "  repeat 2 {\n"
                "    h = relu(h)\n"
                "  }\n"
                "}\n"
                "repeat 0 {}\n",
                "(repeat depth (assign h (call dense h width)) (repeat 2 (assign h (call relu h))))\n"
                "(repeat 0)\n");
}
END_TEST

START_TEST(repeat_takes_an_optional_index_name)
{
    Program *p = parse_quiet("repeat i = n { h = h * i }\n");
    ck_assert_int_eq(p->stmts[0]->kind, ST_REPEAT);
    ck_assert_str_eq(p->stmts[0]->name, "i");
    ck_assert_int_eq(p->stmts[0]->nbody, 1);
    ast_free(p);
    expect_tree("repeat i = n { h = h * i }\nrepeat n { h = h * 2 }\n",
                "(repeat (= i n) (assign h (* h i)))\n(repeat n (assign h (* h 2)))\n");
}
END_TEST

START_TEST(blocks_may_stand_on_one_line)
{
    expect_tree("example { x = [1, 2]; y = 3 }\ntrain { }\n",
                "(example (= x (list 1 2)) (= y 3))\n(train)\n");
}
END_TEST

/* ---- newlines and comments ---- */

START_TEST(newlines_inside_brackets_are_ignored)
{
    expect_tree("param W[2,\n        2] = [[1, 2],   # first row\n\n"
                "                 [3, 4]]\n"
                "o = adam(\n  lr = 0.1,\n  eps = 1e-8\n)\n",
                "(param W [2 2] (list (list 1 2) (list 3 4)))\n"
                "(assign o (call adam (= lr 0.1) (= eps 1e-08)))\n");
}
END_TEST

START_TEST(newlines_inside_braces_separate_items)
{
    expect_tree("train {\n\n  batch = 32\n  # a comment\n\n  epochs = 5\n}\n",
                "(train (= batch 32) (= epochs 5))\n");
}
END_TEST

START_TEST(comments_and_blank_lines_are_skipped)
{
    expect_tree("\n\n# header\n   # indented comment\nx = 1 # trailing\n\n\n# between\ny = 2\n# end",
                "(assign x 1)\n(assign y 2)\n");
}
END_TEST

START_TEST(semicolons_separate_statements)
{
    expect_tree("a = 1; b = 2;; c = 3\n", "(assign a 1)\n(assign b 2)\n(assign c 3)\n");
}
END_TEST

START_TEST(a_file_without_a_final_newline_parses)
{
    expect_tree("x = 1\ny = f(x)", "(assign x 1)\n(assign y (call f x))\n");
}
END_TEST

START_TEST(an_empty_file_is_an_empty_program)
{
    expect_tree("", "");
    expect_tree("# nothing here\n\n", "");
    Program *p = parse_quiet("");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->nstmts, 0);
    ast_free(p);
}
END_TEST

/* ---- locations ---- */

START_TEST(binary_nodes_put_the_caret_on_the_operator)
{
    /*          123456789012345678 */
    Program *p = parse_quiet("  z1 = W2 @ x + b1\n");
    const Stmt *s = p->stmts[0];
    ck_assert_loc(s->loc, 1, 3, 3, 18);
    ck_assert_loc(s->name_loc, 1, 3, 3, 4);
    const Expr *add = s->value;
    ck_assert_int_eq(add->op, '+');
    ck_assert_loc(add->loc, 1, 15, 8, 18);
    ck_assert_loc(add->lhs->loc, 1, 11, 8, 13);
    ck_assert_loc(add->rhs->loc, 1, 17, 17, 18);
    ck_assert_str_eq(add->loc.file, "t.nn");
    ast_free(p);
}
END_TEST

START_TEST(calls_put_the_caret_on_the_callee)
{
    /*          1234567890123456789 */
    Program *p = parse_quiet("h = relu(W, a = 1)'\n");
    const Expr *t = p->stmts[0]->value;
    ck_assert_int_eq(t->kind, EX_TRANSPOSE);
    ck_assert_loc(t->loc, 1, 19, 5, 19);
    const Expr *c = t->lhs;
    ck_assert_int_eq(c->kind, EX_CALL);
    ck_assert_loc(c->loc, 1, 5, 5, 18);
    ck_assert_loc(c->callee_loc, 1, 5, 5, 8);
    ck_assert_int_eq(c->nargs, 2);
    ck_assert_ptr_null(c->args[0].name);
    ck_assert_str_eq(c->args[1].name, "a");
    ck_assert_loc(c->args[1].name_loc, 1, 13, 13, 13);
    ast_free(p);
}
END_TEST

START_TEST(a_node_spanning_lines_is_underlined_on_its_caret_line_only)
{
    Program *p = parse_quiet("x = f(a,   # c\n      b) + [1,\n 2]\n");
    const Expr *add = p->stmts[0]->value;
    /* the '+' is on line 2; the span starts on line 1 and ends on line 3 */
    ck_assert_loc(add->loc, 2, 10, 7, 14);
    /* the call starts on line 1: clipped before the comment */
    ck_assert_loc(add->lhs->loc, 1, 5, 5, 8);
    ast_free(p);
}
END_TEST

START_TEST(columns_count_characters_not_bytes)
{
    Program *p = parse_quiet("s = \"\xc3\xa9t\xc3\xa9\" + x\n");
    const Expr *add = p->stmts[0]->value;
    ck_assert_loc(add->loc, 1, 11, 5, 13);
    ast_free(p);
}
END_TEST

START_TEST(items_record_their_keys_location)
{
    Program *p = parse_quiet("train {\n  epochs = 5\n}\n");
    const Stmt *s = p->stmts[0];
    ck_assert_int_eq(s->nitems, 1);
    ck_assert_loc(s->items[0].key_loc, 2, 3, 3, 8);
    ck_assert_loc(s->loc, 1, 1, 1, 7);
    ast_free(p);
}
END_TEST

/* ---- memory ---- */

START_TEST(programs_can_be_freed_in_any_order)
{
    Program *a = parse_quiet("x = 1\n");
    Program *b = parse_quiet("y = 2\n");
    ast_free(a);
    ck_assert_str_eq(b->stmts[0]->name, "y");
    ast_free(b);
    ast_free(NULL);
    char *s = ast_strdup("after");
    ck_assert_str_eq(s, "after");
}
END_TEST

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tc = tcase_create("design");
    tcase_add_test(tc, the_design_documents_example_parses_to_the_expected_tree);
    tcase_add_test(tc, the_design_example_keeps_the_statement_kinds_and_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("precedence");
    tcase_add_test(tc, multiplication_binds_tighter_than_addition);
    tcase_add_test(tc, matrix_product_shares_the_level_of_multiplication);
    tcase_add_test(tc, subtraction_and_division_are_left_associative);
    tcase_add_test(tc, power_is_right_associative);
    tcase_add_test(tc, unary_minus_binds_looser_than_power);
    tcase_add_test(tc, power_accepts_a_negated_exponent);
    tcase_add_test(tc, transpose_is_postfix_and_binds_tightest);
    tcase_add_test(tc, parentheses_override_precedence);
    suite_add_tcase(s, tc);

    tc = tcase_create("expressions");
    tcase_add_test(tc, calls_take_positional_and_keyword_arguments);
    tcase_add_test(tc, lists_nest);
    tcase_add_test(tc, numbers_record_whether_they_were_written_as_integers);
    tcase_add_test(tc, strings_are_unescaped);
    suite_add_tcase(s, tc);

    tc = tcase_create("statements");
    tcase_add_test(tc, const_declares_one_statement_per_name);
    tcase_add_test(tc, scalars_are_declared_without_brackets);
    tcase_add_test(tc, frozen_may_come_before_the_initialiser);
    tcase_add_test(tc, dimensions_are_expressions);
    tcase_add_test(tc, repeat_blocks_nest);
    tcase_add_test(tc, repeat_takes_an_optional_index_name);
    tcase_add_test(tc, blocks_may_stand_on_one_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_test(tc, newlines_inside_brackets_are_ignored);
    tcase_add_test(tc, newlines_inside_braces_separate_items);
    tcase_add_test(tc, comments_and_blank_lines_are_skipped);
    tcase_add_test(tc, semicolons_separate_statements);
    tcase_add_test(tc, a_file_without_a_final_newline_parses);
    tcase_add_test(tc, an_empty_file_is_an_empty_program);
    suite_add_tcase(s, tc);

    tc = tcase_create("locations");
    tcase_add_test(tc, binary_nodes_put_the_caret_on_the_operator);
    tcase_add_test(tc, calls_put_the_caret_on_the_callee);
    tcase_add_test(tc, a_node_spanning_lines_is_underlined_on_its_caret_line_only);
    tcase_add_test(tc, columns_count_characters_not_bytes);
    tcase_add_test(tc, items_record_their_keys_location);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_test(tc, programs_can_be_freed_in_any_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
