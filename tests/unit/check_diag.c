/*
 * check_diag.c - messages read exactly as intended.
 *
 * Each test captures what diag prints (diag_set_stream on an
 * open_memstream) and compares it with the exact expected text: the
 * format itself, then the parser's syntax errors, recovery and
 * suggestions.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"

#define ck_assert_text(got, want)                                                  \
    ck_assert_msg(strcmp((got), (want)) == 0, "expected:\n%s\ngot:\n%s", (want), (got))

static char *buf;
static size_t len;
static FILE *capture;

static void start(void)
{
    buf = NULL;
    len = 0;
    capture = open_memstream(&buf, &len);
    diag_set_stream(capture);
    diag_reset();
}

/* Stop capturing; the messages printed since start() (malloc'd). */
static char *stop(void)
{
    fclose(capture);
    diag_set_stream(NULL);
    return buf;
}

/* The messages parsing src produces. */
static char *messages_of(const char *src)
{
    start();
    Program *p = ast_parse("t.nn", src);
    char *got = stop();
    ast_free(p);
    return got;
}

static void expect_messages(const char *src, const char *want)
{
    char *got = messages_of(src);
    ck_assert_text(got, want);
    free(got);
}

static Loc at(int line, int col, int col0, int col1)
{
    Loc l = {"mlp.nn", line, col, col0, col1};
    return l;
}

static const char mlp[] =
    "input x[784]\n"
    "\n"
    "param W1[128, 784] = he_normal\n"
    "param W2[128, 10] = he_normal\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "  z1 = W2 @ x + b1\n";

/* ---- the format ---- */

START_TEST(an_error_quotes_its_line_with_an_underline_and_a_caret)
{
    diag_add_source("mlp.nn", mlp);
    start();
    diag_error(at(9, 11, 8, 13), "'@': inner dimensions differ (%d vs %d)", 784, 128);
    char *got = stop();
    ck_assert_text(got,
        "mlp.nn:9:11: error: '@': inner dimensions differ (784 vs 128)\n"
        "    9 |   z1 = W2 @ x + b1\n"
        "      |        ~~~^~~\n");
    ck_assert_int_eq(diag_error_count(), 1);
    free(got);
}
END_TEST

START_TEST(notes_and_warnings_use_the_same_format)
{
    diag_add_source("mlp.nn", mlp);
    start();
    diag_note(at(4, 7, 7, 8), "'W2' declared here as [%d, %d]", 128, 10);
    diag_warning(at(3, 1, 0, 0), "unused parameter");
    char *got = stop();
    ck_assert_text(got,
        "mlp.nn:4:7: note: 'W2' declared here as [128, 10]\n"
        "    4 | param W2[128, 10] = he_normal\n"
        "      |       ^~\n"
        "mlp.nn:3:1: warning: unused parameter\n"
        "    3 | param W1[128, 784] = he_normal\n"
        "      | ^\n");
    ck_assert_msg(diag_error_count() == 0, "expected 0 errors counted, got %d", diag_error_count());
    free(got);
}
END_TEST

START_TEST(a_message_without_a_location_starts_with_the_program_name)
{
    start();
    Loc none = {0};
    diag_error(none, "cannot open '%s'", "missing.nn");
    Loc file_only = {"mlp.nn", 0, 0, 0, 0};
    diag_error(file_only, "empty model");
    char *got = stop();
    ck_assert_text(got, "nnc: error: cannot open 'missing.nn'\nmlp.nn: error: empty model\n");
    ck_assert_int_eq(diag_error_count(), 2);
    free(got);
}
END_TEST

START_TEST(tabs_in_the_source_line_keep_the_caret_aligned)
{
    diag_add_source("tab.nn", "\tz = a\t@ b\n");
    start();
    Loc l = {"tab.nn", 1, 8, 6, 10};   /* the '@'; the span a..b */
    diag_error(l, "here");
    char *got = stop();
    ck_assert_text(got,
        "tab.nn:1:8: error: here\n"
        "    1 |         z = a   @ b\n"
        "      |             ~~~~^~~\n");
    free(got);
}
END_TEST

START_TEST(a_caret_just_past_the_end_of_the_line_is_shown)
{
    diag_add_source("e.nn", "x = 1 +\n");
    start();
    Loc l = {"e.nn", 1, 8, 0, 0};
    diag_error(l, "expected an expression at end of line");
    char *got = stop();
    ck_assert_text(got,
        "e.nn:1:8: error: expected an expression at end of line\n"
        "    1 | x = 1 +\n"
        "      |        ^\n");
    free(got);
}
END_TEST

START_TEST(internal_errors_abort)
{
    diag_set_stream(fopen("/dev/null", "w"));
    diag_internal("unknown op %d", 42);
}
END_TEST

/* ---- syntax errors ---- */

START_TEST(a_syntax_error_says_what_was_expected_before_what)
{
    expect_messages("x = (a + )\n",
        "t.nn:1:10: error: expected an expression before ')'\n"
        "    1 | x = (a + )\n"
        "      |          ^\n");
    expect_messages("h = relu(W1 x)\n",
        "t.nn:1:13: error: expected ',' or ')' before 'x'\n"
        "    1 | h = relu(W1 x)\n"
        "      |             ^\n");
    expect_messages("param W[2 3] = zeros\n",
        "t.nn:1:11: error: expected ',' or ']' before '3'\n"
        "    1 | param W[2 3] = zeros\n"
        "      |           ^\n");
    expect_messages("const = 3\n",
        "t.nn:1:7: error: expected a name before '='\n"
        "    1 | const = 3\n"
        "      |       ^\n");
}
END_TEST

START_TEST(an_error_at_the_end_of_a_line_points_just_after_its_last_token)
{
    expect_messages("loss = 0.5 *   # oops\n",
        "t.nn:1:13: error: expected an expression at end of line\n"
        "    1 | loss = 0.5 *   # oops\n"
        "      |             ^\n");
}
END_TEST

START_TEST(several_errors_are_reported_in_one_run)
{
    expect_messages("a = 1 2\nb = 2\nc = (\n  3 +)\nmodel\n",
        "t.nn:1:7: error: expected end of line before '2'\n"
        "    1 | a = 1 2\n"
        "      |       ^\n"
        "t.nn:4:6: error: expected an expression before ')'\n"
        "    4 |   3 +)\n"
        "      |      ^\n"
        "t.nn:5:6: error: expected a name at end of line\n"
        "    5 | model\n"
        "      |      ^\n");
    ck_assert_int_eq(diag_error_count(), 3);
}
END_TEST

START_TEST(follow_on_errors_on_the_same_line_are_suppressed)
{
    expect_messages("x = a $ b c ) ]\ny = 1\n",
        "t.nn:1:7: error: unexpected character '$'\n"
        "    1 | x = a $ b c ) ]\n"
        "      |       ^\n");
    ck_assert_int_eq(diag_error_count(), 1);
}
END_TEST

START_TEST(statements_after_an_error_are_still_parsed)
{
    start();
    Program *p = ast_parse("t.nn", "a = 1 2\nb = 2\n");
    char *got = stop();
    ck_assert_int_eq(diag_error_count(), 1);
    ck_assert_int_eq(p->nstmts, 1);
    ck_assert_str_eq(p->stmts[0]->name, "b");
    ast_free(p);
    free(got);
}
END_TEST

START_TEST(an_invalid_character_is_reported_and_parsing_continues)
{
    expect_messages("x = 1\ny = x $ 2\nz = 3 3\nw = a \xe2\x86\x92 b\n",
        "t.nn:2:7: error: unexpected character '$'\n"
        "    2 | y = x $ 2\n"
        "      |       ^\n"
        "t.nn:3:7: error: expected end of line before '3'\n"
        "    3 | z = 3 3\n"
        "      |       ^\n"
        "t.nn:4:7: error: unexpected character '\xe2\x86\x92'\n"
        "    4 | w = a \xe2\x86\x92 b\n"
        "      |       ^\n");
}
END_TEST

START_TEST(an_unclosed_bracket_at_end_of_file_gets_one_message)
{
    expect_messages("x = 1\ny = f([1, 2],\n      [3,\n",
        "t.nn:3:7: error: unclosed '['\n"
        "    3 |       [3,\n"
        "      |       ^\n");
    ck_assert_int_eq(diag_error_count(), 1);
}
END_TEST

START_TEST(an_unclosed_brace_at_end_of_file_points_at_the_brace)
{
    start();
    Program *p = ast_parse("t.nn", "train {\n  epochs = 5\n  batch = 2");
    char *got = stop();
    ck_assert_text(got,
        "t.nn:1:7: error: unclosed '{'\n"
        "    1 | train {\n"
        "      |       ^\n");
    /* the block is still read */
    ck_assert_int_eq(p->nstmts, 1);
    ck_assert_int_eq(p->stmts[0]->nitems, 2);
    ast_free(p);
    free(got);
}
END_TEST

START_TEST(a_forgotten_parenthesis_does_not_swallow_the_next_lines)
{
    start();
    Program *p = ast_parse("t.nn", "h1 = relu(W1 @ x + b1\nh2 = relu(W2 @ h1)\nloss = sum(h2)\n");
    char *got = stop();
    ck_assert_text(got,
        "t.nn:1:10: error: unclosed '('\n"
        "    1 | h1 = relu(W1 @ x + b1\n"
        "      |          ^\n");
    ck_assert_int_eq(p->nstmts, 2);
    ck_assert_str_eq(p->stmts[0]->name, "h2");
    ck_assert_str_eq(p->stmts[1]->name, "loss");
    ast_free(p);
    free(got);
}
END_TEST

START_TEST(an_unclosed_list_is_found_at_the_next_assignment)
{
    start();
    Program *p = ast_parse("t.nn", "example {\n  x = [0.5,\n  y = [0.9]\n}\n");
    char *got = stop();
    ck_assert_text(got,
        "t.nn:2:7: error: unclosed '['\n"
        "    2 |   x = [0.5,\n"
        "      |       ^\n");
    ck_assert_int_eq(p->nstmts, 1);
    ck_assert_int_eq(p->stmts[0]->nitems, 1);
    ck_assert_str_eq(p->stmts[0]->items[0].key, "y");
    ast_free(p);
    free(got);
}
END_TEST

START_TEST(a_closing_brace_ends_its_block_despite_an_unclosed_parenthesis)
{
    expect_messages("train {\n  optimizer = adam(lr = 0.1,\n  batch = 32\n}\nloss = 1 1\n",
        "t.nn:2:19: error: unclosed '('\n"
        "    2 |   optimizer = adam(lr = 0.1,\n"
        "      |                   ^\n"
        "t.nn:5:10: error: expected end of line before '1'\n"
        "    5 | loss = 1 1\n"
        "      |          ^\n");
}
END_TEST

START_TEST(a_missing_closing_brace_is_found_at_the_next_statement)
{
    expect_messages("train {\n  epochs = 5\nexample {\n  x = 1\n}\n",
        "t.nn:3:1: error: expected '}' before 'example'\n"
        "    3 | example {\n"
        "      | ^~~~~~~\n"
        "t.nn:1:7: note: to close this '{'\n"
        "    1 | train {\n"
        "      |       ^\n");
}
END_TEST

START_TEST(an_unmatched_closing_bracket_is_reported)
{
    expect_messages("x = f(a))\ny = [1, 2)\n",
        "t.nn:1:9: error: unmatched ')'\n"
        "    1 | x = f(a))\n"
        "      |         ^\n"
        "t.nn:2:10: error: expected ']' before ')'\n"
        "    2 | y = [1, 2)\n"
        "      |          ^\n");
}
END_TEST

START_TEST(string_and_number_mistakes_are_reported)
{
    expect_messages("a = \"x\\q\"\nb = \"open\nc = 1e+\n",
        "t.nn:1:7: error: unknown escape sequence '\\q' (use \\\" \\\\ \\n or \\t)\n"
        "    1 | a = \"x\\q\"\n"
        "      |       ^~\n"
        "t.nn:2:5: error: missing terminating '\"' character\n"
        "    2 | b = \"open\n"
        "      |     ^~~~~\n"
        "t.nn:3:5: error: exponent has no digits in '1e+'\n"
        "    3 | c = 1e+\n"
        "      |     ^~~\n");
}
END_TEST

/* ---- did you mean ---- */

START_TEST(a_misspelt_keyword_gets_a_suggestion)
{
    expect_messages("parm W[2] = zeros\nTrain { }\n",
        "t.nn:1:1: error: unknown keyword 'parm'; did you mean 'param'?\n"
        "    1 | parm W[2] = zeros\n"
        "      | ^~~~\n"
        "t.nn:2:1: error: unknown keyword 'Train'; did you mean 'train'?\n"
        "    2 | Train { }\n"
        "      | ^~~~~\n");
}
END_TEST

static const char *const optimizers[] = {"sgd", "adam", "adamw", "rmsprop", NULL};

START_TEST(closest_finds_a_typo_within_a_third_of_the_length)
{
    ck_assert_str_eq(diag_closest("rmsrop", optimizers, 4), "rmsprop");
    ck_assert_str_eq(diag_closest("sdg", optimizers, 4), "sgd");
    ck_assert_str_eq(diag_closest("adma", optimizers, 4), "adam");   /* a transposition */
}
END_TEST

START_TEST(closest_ignores_case)
{
    ck_assert_str_eq(diag_closest("ADAM", optimizers, 4), "adam");
    ck_assert_str_eq(diag_closest("RmsProp", optimizers, 4), "rmsprop");
}
END_TEST

START_TEST(closest_returns_null_when_nothing_is_close)
{
    ck_assert_ptr_null(diag_closest("lbfgs", optimizers, 4));
    ck_assert_ptr_null(diag_closest("xy", optimizers, 4));
    ck_assert_ptr_null(diag_closest("adam", optimizers, 0));
}
END_TEST

START_TEST(closest_reads_a_null_terminated_table_when_n_is_negative)
{
    ck_assert_str_eq(diag_closest("adamww", optimizers, -1), "adamw");
}
END_TEST

static Suite *diag_suite(void)
{
    Suite *s = suite_create("diag");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, an_error_quotes_its_line_with_an_underline_and_a_caret);
    tcase_add_test(tc, notes_and_warnings_use_the_same_format);
    tcase_add_test(tc, a_message_without_a_location_starts_with_the_program_name);
    tcase_add_test(tc, tabs_in_the_source_line_keep_the_caret_aligned);
    tcase_add_test(tc, a_caret_just_past_the_end_of_the_line_is_shown);
    tcase_add_test_raise_signal(tc, internal_errors_abort, SIGABRT);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_test(tc, a_syntax_error_says_what_was_expected_before_what);
    tcase_add_test(tc, an_error_at_the_end_of_a_line_points_just_after_its_last_token);
    tcase_add_test(tc, several_errors_are_reported_in_one_run);
    tcase_add_test(tc, follow_on_errors_on_the_same_line_are_suppressed);
    tcase_add_test(tc, statements_after_an_error_are_still_parsed);
    tcase_add_test(tc, an_invalid_character_is_reported_and_parsing_continues);
    tcase_add_test(tc, an_unclosed_bracket_at_end_of_file_gets_one_message);
    tcase_add_test(tc, an_unclosed_brace_at_end_of_file_points_at_the_brace);
    tcase_add_test(tc, a_forgotten_parenthesis_does_not_swallow_the_next_lines);
    tcase_add_test(tc, an_unclosed_list_is_found_at_the_next_assignment);
    tcase_add_test(tc, a_closing_brace_ends_its_block_despite_an_unclosed_parenthesis);
    tcase_add_test(tc, a_missing_closing_brace_is_found_at_the_next_statement);
    tcase_add_test(tc, an_unmatched_closing_bracket_is_reported);
    tcase_add_test(tc, string_and_number_mistakes_are_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("did you mean");
    tcase_add_test(tc, a_misspelt_keyword_gets_a_suggestion);
    tcase_add_test(tc, closest_finds_a_typo_within_a_third_of_the_length);
    tcase_add_test(tc, closest_ignores_case);
    tcase_add_test(tc, closest_returns_null_when_nothing_is_close);
    tcase_add_test(tc, closest_reads_a_null_terminated_table_when_n_is_negative);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(diag_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
