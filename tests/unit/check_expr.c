/*
 * check_expr.c - element expressions (src/ir/expr.h): ops.def's templates
 * parsed once, printed as C, evaluated in float64, their FLOPs counted.
 *
 * Every op's template must parse; printing it as C must give the template
 * back (with the dtype's math functions), which keeps the generated C of
 * every model as it was; a decimal is a literal of the dtype; evaluating
 * follows C (comparisons are 0 or 1, == included).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_loops.h"
#include "expr.h"

#define ck_assert_text(got, want)                                                  \
    ck_assert_msg(strcmp((got), (want)) == 0, "expected:\n%s\ngot:\n%s", (want), (got))

static const char *const operands[3] = {"a[i]", "b[i]", "c[i]"};

/* tmpl printed as C for dtype dt */
static const char *as_c(const char *tmpl, DType dt)
{
    static char buf[512];
    IrProgram p;
    memset(&p, 0, sizeof p);
    p.dtype = dt;
    cg_c_expr(&p, ir_expr_parse(tmpl, "test"), operands, buf, sizeof buf);
    return buf;
}

START_TEST(every_op_with_an_element_has_a_tree_and_the_others_none)
{
    for (int op = 0; op < OP_COUNT; op++)
        ck_assert_msg((ir_op_expr((Op)op) != NULL) == (ir_ops[op].kind == K_MAP),
                      "%s: a tree exactly when the op is elementwise", ir_ops[op].name);
}
END_TEST

START_TEST(printing_a_template_as_c_gives_it_back_with_the_dtypes_functions)
{
    ck_assert_text(as_c("($0 > 0 ? $0 : 0) - $0 * $1 + LOG1P(EXP(-FABS($0)))", DT_F64),
                   "(a[i] > 0 ? a[i] : 0) - a[i] * b[i] + log1p(exp(-fabs(a[i])))");
    ck_assert_text(as_c("($0 > 0 ? $0 : 0) - $0 * $1 + LOG1P(EXP(-FABS($0)))", DT_F32),
                   "(a[i] > 0 ? a[i] : 0) - a[i] * b[i] + nnrt_log1pf(nnrt_expf(-fabsf(a[i])))");
    ck_assert_text(as_c("$0 * (($1 > 0) - ($1 < 0))", DT_F32), "a[i] * ((b[i] > 0) - (b[i] < 0))");
    ck_assert_text(as_c("$0 * $2 * POW($1, $2 - 1)", DT_F32), "a[i] * c[i] * powf(b[i], c[i] - 1)");
    for (int op = 0; op < OP_COUNT; op++) {
        const char *t = ir_ops[op].cexpr;
        if (!t || strchr(t, '(') != strrchr(t, '(') || strstr(t, "EXP") || strstr(t, "LOG")
            || strstr(t, "SQRT") || strstr(t, "TANH") || strstr(t, "FABS") || strstr(t, "POW"))
            continue;
        /* without math functions the C is the template, $k replaced */
        char want[256];
        size_t n = 0;
        for (const char *s = t; *s; s++)
            if (*s == '$')
                n += (size_t)snprintf(want + n, sizeof want - n, "%s", operands[*++s - '0']);
            else
                want[n++] = *s;
        want[n] = '\0';
        ck_assert_text(as_c(t, DT_F32), want);
    }
}
END_TEST

START_TEST(a_decimal_is_a_literal_of_the_dtype_and_an_integer_stays_as_written)
{
    ck_assert_text(as_c("$0 > 0 ? $0 : 0.01 * $0", DT_F32), "a[i] > 0 ? a[i] : 0.01f * a[i]");
    ck_assert_text(as_c("$0 > 0 ? $0 : 0.01 * $0", DT_F64), "a[i] > 0 ? a[i] : 0.01 * a[i]");
    ck_assert_text(as_c("1 / (1 + EXP(-$0))", DT_F32), "1 / (1 + nnrt_expf(-a[i]))");
    const IrExpr *e = ir_expr_parse("0.01", "test");
    ck_assert(e->kind == E_NUM && !e->integer && e->num == 0.01 && e->numf == 0.01f);
}
END_TEST

START_TEST(a_tree_made_without_parentheses_is_printed_with_those_c_needs)
{
    /* (a - b) - (c - a): the right operand of a minus needs them */
    IrExpr a = {.kind = E_ARG, .arg = 0}, b = {.kind = E_ARG, .arg = 1}, c = {.kind = E_ARG, .arg = 2};
    IrExpr ab = {.kind = E_SUB, .nkids = 2, .kid = {&a, &b}};
    IrExpr ca = {.kind = E_SUB, .nkids = 2, .kid = {&c, &a}};
    IrExpr all = {.kind = E_SUB, .nkids = 2, .kid = {&ab, &ca}};
    IrExpr neg = {.kind = E_NEG, .nkids = 1, .kid = {&all}};
    IrExpr negneg = {.kind = E_NEG, .nkids = 1, .kid = {&neg}};
    IrProgram p;
    memset(&p, 0, sizeof p);
    char buf[128];
    cg_c_expr(&p, &all, operands, buf, sizeof buf);
    ck_assert_text(buf, "a[i] - b[i] - (c[i] - a[i])");
    cg_c_expr(&p, &negneg, operands, buf, sizeof buf);
    ck_assert_text(buf, "-(-(a[i] - b[i] - (c[i] - a[i])))");
}
END_TEST

START_TEST(evaluating_follows_c_comparisons_are_0_or_1)
{
    double x[3] = {-2, 3, 0.5};
    ck_assert(ir_expr_eval(ir_expr_parse("$0 * (($1 > 0) - ($1 < 0))", "t"), x) == -2);
    ck_assert(ir_expr_eval(ir_expr_parse("($0 == -2) + ($1 == 2)", "t"), x) == 1);
    ck_assert(ir_expr_eval(ir_expr_parse("$0 > 0 ? $0 : 0.01 * $0", "t"), x) == 0.01 * -2);
    ck_assert(ir_expr_eval(ir_expr_parse("-$0 * $1 / $2", "t"), x) == 12);
    ck_assert(ir_expr_eval(ir_expr_parse("1 - 2 - 3", "t"), x) == -4);
    ck_assert(ir_expr_eval(ir_expr_parse("POW($1, $2 - 1)", "t"), x) == pow(3, -0.5));
    ck_assert(ir_expr_eval(ir_op_expr(OP_SIGMOID), x) == 1 / (1 + exp(2.0)));
}
END_TEST

START_TEST(flops_count_operators_comparisons_and_math_functions)
{
    ck_assert_int_eq(ir_expr_flops(ir_op_expr(OP_SIGMOID)), 4);   /* 1 / (1 + EXP(-$0)) */
    ck_assert_int_eq(ir_expr_flops(ir_op_expr(OP_COPY)), 0);
    ck_assert_int_eq(ir_expr_flops(ir_op_expr(OP_RELU)), 1);      /* the comparison */
    ck_assert_int_eq(ir_expr_flops(ir_op_expr(OP_ABS_BWD)), 4);
    ck_assert_int_eq(ir_expr_flops(ir_expr_parse("$0 == 1.5e-3 ? 1 : 2", "t")), 1);
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("trees");
    tcase_add_test(tc, every_op_with_an_element_has_a_tree_and_the_others_none);
    tcase_add_test(tc, printing_a_template_as_c_gives_it_back_with_the_dtypes_functions);
    tcase_add_test(tc, a_decimal_is_a_literal_of_the_dtype_and_an_integer_stays_as_written);
    tcase_add_test(tc, a_tree_made_without_parentheses_is_printed_with_those_c_needs);
    tcase_add_test(tc, evaluating_follows_c_comparisons_are_0_or_1);
    tcase_add_test(tc, flops_count_operators_comparisons_and_math_functions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(expr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
