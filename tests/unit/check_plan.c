/*
 * check_plan.c - the row algorithms planned once (src/codegen/plan.h
 * cg_row_plan), which every backend lowers step by step: each plan must be
 * one the backends can follow, whatever op it is written for.
 *
 * A step reads only the op's operands, the row's index j inside a loop
 * over the row, the class label after the step that reads it, the row's
 * numbers (CgRow.scalar) after the step that loads them (the JIT loads them
 * there), and a local after the step that computed it (or, in a reduction,
 * its own running value); the last step stores the result.  Printed as C,
 * the softmax family's steps are the C they always were.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ad.h"
#include "ast.h"
#include "cg_loops.h"
#include "diag.h"
#include "plan.h"
#include "sema.h"

/* Does e read operand $k? */
static int reads(const IrExpr *e, int k)
{
    if (e->kind == E_ARG)
        return e->arg == k;
    for (int c = 0; c < e->nkids; c++)
        if (reads(e->kid[c], k))
            return 1;
    return 0;
}

START_TEST(every_row_plan_reads_only_what_its_earlier_steps_made)
{
    int nrow = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        if (ir_ops[op].kind != K_ROW)
            continue;
        nrow++;
        const CgRow *r = cg_row_plan((Op)op);
        const char *name = ir_ops[op].name;
        int arity = ir_ops[op].arity;
        ck_assert_msg(r->nsteps > 0, "%s: no steps", name);
        ck_assert_msg(r->x >= 0 && r->x < arity && !r->scalar[r->x], "%s: x is not a row", name);
        char made[CG_ROW_NOPS] = {0}, declared[CG_ROW_NOPS] = {0};
        int numbers = 0;
        for (int k = 0; k < r->nsteps; k++) {
            const CgRowStep *s = &r->step[k];
            int loop = s->kind == CG_ROW_REDUCE || s->kind == CG_ROW_STORE;
            int last = k == r->nsteps - 1;
            ck_assert_msg(last == (s->kind == CG_ROW_STORE || s->kind == CG_ROW_STORE_ONE),
                          "%s step %d: the last step and only it stores", name, k);
            if (s->kind == CG_ROW_LOCALS) {
                ck_assert_msg(!s->e, "%s step %d: a declaration has no expression", name, k);
                for (int e = 0; e < 2 && s->local[e] >= 0; e++) {
                    ck_assert_msg(s->local[e] >= CG_ROW_MX && s->local[e] <= CG_ROW_DOT,
                                  "%s step %d: not a local", name, k);
                    declared[s->local[e]] = 1;
                }
                continue;
            }
            if (s->kind == CG_ROW_NUMBERS) {
                numbers = 1;
                if (s->cls >= 0) {
                    ck_assert_msg(s->cls < arity && r->scalar[s->cls],
                                  "%s step %d: the label is not a number of the row", name, k);
                    made[CG_ROW_CLS] = made[CG_ROW_XCLS] = 1;
                }
                continue;
            }
            ck_assert_msg(s->e != NULL, "%s step %d: no expression", name, k);
            for (int a = 0; a < CG_ROW_NOPS; a++) {
                if (!reads(s->e, a))
                    continue;
                if (a < 3)
                    ck_assert_msg(a < arity && (!r->scalar[a] || numbers),
                                  "%s step %d reads $%d before it is loaded", name, k, a);
                else if (a == CG_ROW_J)
                    ck_assert_msg(loop, "%s step %d reads j outside a loop over the row", name, k);
                else
                    ck_assert_msg(made[a] || (s->kind == CG_ROW_REDUCE && a == s->local[0]),
                                  "%s step %d reads %s before it is made", name, k,
                                  cg_row_name[a] ? cg_row_name[a] : "x[cls]");
            }
            if (s->kind == CG_ROW_REDUCE) {
                ck_assert_msg(declared[s->local[0]], "%s step %d: reduces into an undeclared local",
                              name, k);
                made[s->local[0]] = 1;
            } else if (s->kind == CG_ROW_LET) {
                ck_assert_msg(s->local[0] >= CG_ROW_MX && s->local[0] <= CG_ROW_DOT &&
                              !declared[s->local[0]], "%s step %d: not a new local", name, k);
                declared[s->local[0]] = made[s->local[0]] = 1;
            }
        }
    }
    ck_assert_int_eq(nrow, 6);
}
END_TEST

/* step k of op's plan printed as C in float32, with x[j] for $0 and $1 */
static const char *step_c(Op op, int k)
{
    static char buf[256];
    const char *ops[CG_ROW_NOPS] = {"x[j]", "x[j]", "c", "mx", "sum", "lse", "dot", "j", "cls",
                                    "x[cls]"};
    IrProgram p;
    memset(&p, 0, sizeof p);
    p.dtype = DT_F32;
    cg_c_expr(&p, cg_row_plan(op)->step[k].e, ops, buf, sizeof buf);
    return buf;
}

START_TEST(the_softmax_familys_steps_print_as_the_c_they_were)
{
    ck_assert_str_eq(step_c(OP_SOFTMAX, 1), "x[j] > mx ? x[j] : mx");
    ck_assert_str_eq(step_c(OP_SOFTMAX, 2), "nnrt_expf(x[j] - mx)");
    ck_assert_str_eq(step_c(OP_SOFTMAX, 3), "nnrt_expf(x[j] - mx) / sum");
    ck_assert_str_eq(step_c(OP_LOG_SOFTMAX, 3), "mx + logf(sum)");
    ck_assert_str_eq(step_c(OP_XENT, 4), "mx + logf(sum) - x[cls]");
    ck_assert_str_eq(step_c(OP_XENT_BWD, 4), "x[j] * (nnrt_expf(x[j] - mx) / sum - (j == cls))");
    ck_assert_str_eq(step_c(OP_LOG_SOFTMAX_BWD, 2), "x[j] - nnrt_expf(x[j]) * dot");
}
END_TEST

START_TEST(a_reductions_term_is_its_element_or_its_square)
{
    double x = 3;
    ck_assert(ir_expr_eval(cg_elem_expr(OP_SUM), &x) == 3);
    ck_assert(ir_expr_eval(cg_elem_expr(OP_MEAN), &x) == 3);
    ck_assert(ir_expr_eval(cg_elem_expr(OP_SUMSQ), &x) == 9);
    ck_assert(cg_reduce_mean(OP_MEAN) && !cg_reduce_mean(OP_SUM) && !cg_reduce_mean(OP_SUMSQ));
    ck_assert(cg_elem_expr(OP_RELU) == ir_op_expr(OP_RELU));
}
END_TEST

/* A model through the front end and reverse mode, as nnc compiles it. */
static IrProgram *compile(const char *src, Program **ast)
{
    diag_reset();
    *ast = ast_parse("t.nn", src);
    ck_assert_msg(*ast && diag_error_count() == 0, "the test's model does not parse");
    SemaOptions so = {NULL, 0, DT_F32};
    IrProgram *p = sema_lower(*ast, src, &so);
    ck_assert_msg(p != NULL, "the test's model does not lower");
    ad_differentiate(p);
    return p;
}

/* The fused loops' plans (cg_fused_plan: planned once, linear in the
 * loop) hold the members of their definition, every value whose head is
 * h, in order, and each operand read from the latest earlier member whose
 * local holds it, or else from memory. */
START_TEST(a_fused_loops_members_and_locals_are_those_of_their_definition)
{
    static const char *const models[] = {
        "input x[4]\ntarget y[4]\nparam W[4, 4] = xavier_uniform\nparam b[4] = zeros\n"
        "h = x\nrepeat 50 { h = tanh(W @ h + b) * 2 - h }\nloss = sum((h - y)^2)\n",
        "input x[3]\ntarget y[3]\nparam a[3] = ones\nh = x * a\ng = h * h + h\n"
        "loss = sum((g + h * a - y)^2)\n",
    };
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        Program *ast;
        IrProgram *p = compile(models[m], &ast);
        CgLayout l;
        CgFusion fu;
        cg_layout_init(&l, p);
        cg_fusion_init(&fu, p, &l);
        char *written = calloc((size_t)p->nv, 1);
        int loops = 0, reads = 0;
        for (int h = 0; h < p->nv; h++) {
            if (fu.head[h] != h)
                continue;
            loops++;
            CgFused f;
            cg_fused_plan(&fu, p, h, written, &f);
            int k = 0;
            for (int i = h; i < p->nv; i++)
                if (fu.head[i] == h) {
                    ck_assert_msg(k < f.nmembers && f.m[k].id == i, "model %zu: loop %d's member %d",
                                  m, h, k);
                    k++;
                }
            ck_assert_int_eq(k, f.nmembers);
            for (int e = 0; e < f.nmembers; e++) {
                const CgFusedMember *fm = &f.m[e];
                if (fm->kind != CG_FM_ELEM)
                    continue;
                for (int a = 0; a < p->v[fm->id].nargs; a++) {
                    int x = p->v[fm->id].arg[a], w = -1;
                    for (int g = 0; g < e; g++)
                        if (fu.local[f.m[g].id] && cg_dest(p, f.m[g].id) == x)
                            w = g;
                    const CgRef *r = &fm->arg[a];
                    if (w >= 0)
                        ck_assert(r->kind == CG_REF_LOCAL && r->id == w);
                    else
                        ck_assert(r->kind != CG_REF_LOCAL && (r->kind != CG_REF_ELEM || r->id == x));
                    reads += w >= 0;
                }
            }
            cg_fused_free(&f);
        }
        free(written);
        ck_assert_msg(loops > 0 && reads > 0, "model %zu: no fused loop reads a local", m);
        cg_fusion_free(&fu);
        cg_layout_free(&l);
        ir_free(p);
        ast_free(ast);
    }
}
END_TEST

/* The number of operands e reads: its largest $k, plus one. */
static int arity_of(const IrExpr *e)
{
    int n = e->kind == E_ARG ? e->arg + 1 : 0;
    for (int c = 0; c < e->nkids; c++) {
        int k = arity_of(e->kid[c]);
        n = k > n ? k : n;
    }
    return n;
}

/* A reference is to an element of a value (in bounds of its storage for
 * one sample, given the loops open) or to the local once declared. */
static void check_ref(const IrProgram *p, const CgNest *n, const CgRef *r, const int *open,
                      const int *count, int declared, int id)
{
    if (r->kind == CG_REF_LOCAL) {
        ck_assert_msg(declared, "value %d: the local is read before it is declared", id);
        return;
    }
    if (r->kind != CG_REF_ELEM)
        return;
    ck_assert_msg(r->id >= 0 && r->id < p->nv, "value %d: a reference to no value", id);
    ck_assert_msg(!r->batched || open[CG_VAR_B], "value %d: sample b outside its loop", id);
    long hi = r->off;
    for (int t = 0; t < r->nterms; t++) {
        const CgTerm *m = &r->term[t];
        ck_assert_msg(open[m->var], "value %d: %s outside its loop", id, cg_var_name[m->var]);
        hi += m->mod ? m->mod - 1 : (long)m->coef * (count[m->var] - 1);
    }
    int flat = 0;
    for (int k = 0; k < n->nsteps; k++)
        flat |= n->step[k].kind == CG_N_LOOP && n->step[k].count == CG_COUNT_FLAT;
    if (!flat)
        ck_assert_msg(hi < shape_numel(&p->v[r->id].shape),
                      "value %d: element %ld of %s, of %d", id, hi, p->v[r->id].name ?
                      p->v[r->id].name : "a temporary", shape_numel(&p->v[r->id].shape));
}

/* Every loop nest (cg_nest) is one both backends can follow: its loops
 * close in order, each variable is read inside its loop and within the
 * elements of the value it indexes, the local is declared before it is
 * used, and each statement gives its expression the operands it reads. */
START_TEST(every_loop_nest_is_well_formed)
{
    static const char *const models[] = {
        "input x[3]\ntarget y[2]\nparam W[2, 3] = xavier_uniform\nparam b[2] = zeros\n"
        "param V[3, 2] = xavier_uniform\nh = tanh(W @ x + b)\nz = V @ h + x * 2\n"
        "loss = 0.5 * sum((W @ z - y)^2) + mean(z) + sumsq(h)\npenalty = sumsq(W) + sum(V')\n",
        "input x[4]\ntarget y[4]\nparam A[4, 4] = xavier_uniform\nparam c = 1\n"
        "h = relu(A' @ x) * c\nloss = sum((h - y)^2) / 4 + sum(stop_gradient(h) * x)\n",
        "input x[2, 3]\ntarget y[2]\nparam W[3, 2] = xavier_uniform\n"
        "h = x @ W\nloss = sum(h) + mean(y * sum(x))\n",
        "input x[12]\ntarget y[3]\nparam W[3, 4] = xavier_uniform\nX = reshape(x, [3, 4])\n"
        "h = X[1] * W[2] + X[:, 1:3][0, 0]\nloss = sum((concat(h[0:2], W[0, 0:1]) - y)^2)\n",
        /* numpy's broadcasting: operands and targets stretched, per sample and shared */
        "input x[2, 3]\ninput u[1, 3]\ntarget y[1]\nparam a[2, 1] = ones\nparam c[1, 3] = ones\n"
        "param T[4, 2, 3] = ones\nh = tanh(x * a) * (u + c)\nq = T * a\n"
        "loss = sum(h) + sum(q) * sum(y)\n",
    };
    static const char *const bounds[] = {"0", "1000000000"};
    int nests = 0;
    for (size_t g = 0; g < 2; g++) {
        setenv("NNC_GEMM_MIN", bounds[g], 1);
        for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
            Program *ast;
            IrProgram *p = compile(models[mi], &ast);
            for (int id = 0; id < p->nv; id++) {
                IrKind kind = ir_ops[p->v[id].op].kind;
                if (kind != K_MAP && kind != K_TRANS && kind != K_REDUCE && kind != K_MATMUL &&
                    kind != K_VIEW)
                    continue;
                if (kind == K_MATMUL && cg_matmul_plan(p, id).kind != CG_MM_LOOPS)
                    continue;
                for (int st = CG_ASSIGN; st <= CG_ADD; st++) {
                    CgNest n;
                    cg_nest(p, id, (CgStore)st, &n);
                    nests++;
                    int open[CG_NVARS] = {0}, count[CG_NVARS] = {0}, stack[16], depth = 0;
                    int declared = 0, stores = 0;
                    for (int k = 0; k < n.nsteps; k++) {
                        const CgNestStep *s = &n.step[k];
                        switch (s->kind) {
                        case CG_N_LOOP:
                            ck_assert_msg(!open[s->var], "value %d: %s opened twice", id,
                                          cg_var_name[s->var]);
                            open[s->var] = 1;
                            count[s->var] = s->count == CG_COUNT_SAMPLES ? 1 : s->k;
                            ck_assert_msg((s->var == CG_VAR_B) == (s->count == CG_COUNT_SAMPLES),
                                          "value %d: b and only b runs over the samples", id);
                            ck_assert_msg(!s->sum || n.local, "value %d: a sum without a local",
                                          id);
                            stack[depth++] = s->var;
                            break;
                        case CG_N_BLOCK:
                        case CG_N_UNLESS_HELD:
                            stack[depth++] = -1;
                            break;
                        case CG_N_CLEAR:
                            ck_assert_msg(s->dst.kind == CG_REF_ELEM && depth == 0,
                                          "value %d: a clear of no buffer, or inside a loop", id);
                            break;
                        case CG_N_END:
                            ck_assert_msg(depth > 0, "value %d: an end without a loop", id);
                            if (stack[--depth] >= 0)
                                open[stack[depth]] = 0;
                            break;
                        case CG_N_STORE:
                            ck_assert_int_eq(arity_of(s->e) <= s->nargs, 1);
                            for (int a = 0; a < s->nargs; a++)
                                check_ref(p, &n, &s->arg[a], open, count, declared, id);
                            if (s->op == CG_OP_DECL) {
                                ck_assert_msg(n.local && s->dst.kind == CG_REF_LOCAL,
                                              "value %d: a declaration of no local", id);
                                declared = 1;
                            } else {
                                check_ref(p, &n, &s->dst, open, count, declared, id);
                                stores += s->dst.kind == CG_REF_ELEM;
                            }
                            break;
                        }
                    }
                    ck_assert_msg(depth == 0, "value %d: %d loops left open", id, depth);
                    ck_assert_msg(stores > 0, "value %d: the nest stores nothing", id);
                }
            }
            ir_free(p);
            ast_free(ast);
        }
    }
    unsetenv("NNC_GEMM_MIN");
    ck_assert_int_gt(nests, 20);
}
END_TEST

/* A stretched operand's element in a fused loop (cg_stretched_ref: terms
 * with divisors) is numpy's, the element shape_broadcast_elem names, for
 * every element of the iteration: a middle axis, the outer ones, the
 * inner ones, two runs kept. */
START_TEST(a_stretched_operands_element_in_a_fused_loop_is_numpys)
{
    static const char *const shapes[][2] = {
        {"[3, 1, 2]", "[3, 4, 2]"}, {"[6, 1, 1]", "[6, 5, 7]"}, {"[1, 4]", "[3, 4]"},
        {"[2, 1, 3, 1]", "[2, 5, 3, 4]"}, {"[1, 3, 1]", "[2, 3, 4]"},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        char src[300];
        snprintf(src, sizeof src, "input x%s\nparam a%s = ones\nloss = sum(x * a)\n",
                 shapes[k][1], shapes[k][0]);
        Program *ast;
        IrProgram *p = compile(src, &ast);
        int a = -1, prod = -1;
        for (int id = 0; id < p->nv; id++) {
            if (p->v[id].op == OP_PARAM)
                a = id;
            if (p->v[id].op == OP_MUL && prod < 0)
                prod = id;
        }
        ck_assert_int_ge(a, 0);
        ck_assert_int_ge(prod, 0);
        const Shape *it = &p->v[prod].shape;
        ck_assert_msg(cg_stretched(&p->v[a].shape, it), "%s over %s is not stretched",
                      shapes[k][0], shapes[k][1]);
        CgRef r = cg_stretched_ref(p, a, it);
        for (int i = 0; i < shape_numel(it); i++) {
            long e = r.off;
            for (int t = 0; t < r.nterms; t++) {
                const CgTerm *m = &r.term[t];
                long x = m->div > 1 ? i / m->div : i;
                e += (m->mod ? x % m->mod : x) * m->coef;
            }
            ck_assert_msg(e == shape_broadcast_elem(&p->v[a].shape, it, i),
                          "%s over %s: element %d reads %ld, numpy's %d", shapes[k][0],
                          shapes[k][1], i, e, shape_broadcast_elem(&p->v[a].shape, it, i));
        }
        ir_free(p);
        ast_free(ast);
    }
}
END_TEST

static Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("rows");
    tcase_add_test(tc, every_row_plan_reads_only_what_its_earlier_steps_made);
    tcase_add_test(tc, the_softmax_familys_steps_print_as_the_c_they_were);
    tcase_add_test(tc, a_reductions_term_is_its_element_or_its_square);
    suite_add_tcase(s, tc);
    tc = tcase_create("fusion");
    tcase_add_test(tc, a_fused_loops_members_and_locals_are_those_of_their_definition);
    suite_add_tcase(s, tc);
    tc = tcase_create("nests");
    tcase_add_test(tc, every_loop_nest_is_well_formed);
    tcase_add_test(tc, a_stretched_operands_element_in_a_fused_loop_is_numpys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
