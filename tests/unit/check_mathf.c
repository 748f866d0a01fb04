/*
 * check_mathf.c - the runtime's float32 exp, log1p and tanh (nnrt_expf,
 * nnrt_log1pf, nnrt_tanhf in runtime/nnrt.h), which generated trainers and
 * the JIT use in place of libm's, against libm: the error in ulps against
 * double precision over a dense sweep of floats and over every float near
 * the seams of the approximations; overflow, underflow into the denormals,
 * zeros, infinities and NaN as libm; tanh's saturation to +-1 exactly where
 * glibc's tanhf saturates and its odd symmetry.  This file is compiled
 * without fused multiply-adds; tests/e2e/jit.sh checks a trainer built with
 * them (-march=native).
 */
#include "nnrt.h"

#include <check.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* The worst errors over every float, with or without fused multiply-adds
 * (docs/performance.md): exp 1.01 ulp, log1p 0.90, tanh 1.33 (glibc's
 * tanhf: 2.19). */
#define MAX_ULP_EXP 1.05
#define MAX_ULP_LOG1P 0.95
#define MAX_ULP 1.4

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* |got - want| in units of the float spacing at want (2^-149 below the
 * normal range). */
static double ulps(float got, double want)
{
    if (isinf((float)want) || isinf(got))
        return got == (float)want ? 0 : INFINITY;
    if (isnan(want))
        return isnan(got) ? 0 : INFINITY;
    int e = want == 0 ? -126 : ilogb(want);
    return fabs(got - want) / ldexp(1, (e < -126 ? -126 : e) - 23);
}

static float tanh_(float x) { return nnrt_tanhf(x); }
static float exp_(float x) { return nnrt_expf(x); }
static float log1p_(float x) { return nnrt_log1pf(x); }

/* The worst ulp error of f against ref over the floats from..to (bit
 * patterns of positive floats) in steps, each with its negative; *where
 * says at which x. */
static double worst_of(float (*f)(float), double (*ref)(double), uint32_t from, uint32_t to,
                       uint32_t step, float *where)
{
    double worst = 0;
    for (uint32_t u = from; u <= to && u >= from; u += step) {
        for (int neg = 0; neg < 2; neg++) {
            float x = neg ? -from_bits(u) : from_bits(u);
            double err = ulps(f(x), ref((double)x));
            if (err > worst) {
                worst = err;
                *where = x;
            }
        }
    }
    return worst;
}

static double worst_ulps(uint32_t from, uint32_t to, uint32_t step, float *where)
{
    return worst_of(tanh_, tanh, from, to, step, where);
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Every 509th float from 0 to 10 (denormals included): beyond 9.0109 tanh is
 * 1 in float32. */
START_TEST(error_is_within_ulps_over_a_dense_sweep)
{
    float x = 0;
    double worst = worst_ulps(0, bits_of(10.0f), 509, &x);
    ck_assert_msg(worst <= MAX_ULP, "%.3f ulp at x = %.9g", worst, x);
}
END_TEST

/* Every float where the small-argument polynomial hands over to the
 * exponential, and where the exponential's argument is capped. */
START_TEST(error_is_within_ulps_at_every_float_near_the_seams)
{
    float x = 0;
    double worst = worst_ulps(bits_of(0.6f), bits_of(0.65f), 1, &x);
    ck_assert_msg(worst <= MAX_ULP, "%.3f ulp at x = %.9g", worst, x);
    worst = worst_ulps(bits_of(9.3f), bits_of(9.7f), 1, &x);
    ck_assert_msg(worst <= MAX_ULP, "%.3f ulp at x = %.9g", worst, x);
}
END_TEST

/* The last floats below 1 (1 - 2^-24) reach up to |x| = 9.0109, where
 * glibc's tanhf reaches 1 too: 1 - tanh(x) (the backward pass's 1 - y^2)
 * is not zero before it should be. */
START_TEST(it_saturates_to_one_exactly_where_libm_does)
{
    /* (Check's assertions are system calls: one per loop, not per float) */
    float bad = 0;
    for (uint32_t u = bits_of(8.5f); u <= bits_of(9.5f) && bad == 0; u++) {
        float x = from_bits(u), got = nnrt_tanhf(x);
        if ((got == 1.0f) != (tanhf(x) == 1.0f) || nnrt_tanhf(-x) != -got)
            bad = x;
    }
    ck_assert_msg(bad == 0, "x = %.9g: %.9g, libm %.9g", bad, nnrt_tanhf(bad), tanhf(bad));
    ck_assert(nnrt_tanhf(9.0f) == 1.0f - 0x1p-24f);
    ck_assert(nnrt_tanhf(9.02f) == 1.0f && nnrt_tanhf(-9.02f) == -1.0f);
    ck_assert(nnrt_tanhf(1e30f) == 1.0f && nnrt_tanhf(-1e30f) == -1.0f);
    ck_assert(nnrt_tanhf(FLT_MAX) == 1.0f && nnrt_tanhf(-FLT_MAX) == -1.0f);
    ck_assert(nnrt_tanhf(INFINITY) == 1.0f && nnrt_tanhf(-INFINITY) == -1.0f);
}
END_TEST

/* Every 1021st float of either sign, NaNs, infinities, overflow (from
 * 88.7228) and results in the denormals included. */
START_TEST(exp_error_is_bounded_over_a_dense_sweep)
{
    float x = 0;
    double worst = worst_of(exp_, exp, 0, 0x7f800000u, 1021, &x);
    ck_assert_msg(worst <= MAX_ULP_EXP, "%.3f ulp at x = %.9g", worst, x);
    worst = worst_of(exp_, exp, bits_of(88.5f), bits_of(89.0f), 1, &x);
    ck_assert_msg(worst <= MAX_ULP_EXP, "%.3f ulp at x = %.9g", worst, x);
    worst = worst_of(exp_, exp, bits_of(103.5f), bits_of(104.5f), 1, &x);
    ck_assert_msg(worst <= MAX_ULP_EXP, "%.3f ulp at x = %.9g", worst, x);
}
END_TEST

START_TEST(exp_special_values)
{
    ck_assert(nnrt_expf(0.0f) == 1.0f && nnrt_expf(-0.0f) == 1.0f);
    ck_assert(nnrt_expf(INFINITY) == INFINITY && nnrt_expf(89.0f) == INFINITY);
    ck_assert(nnrt_expf(-INFINITY) == 0.0f && nnrt_expf(-200.0f) == 0.0f);
    ck_assert(nnrt_expf(-103.0f) == expf(-103.0f) && nnrt_expf(-103.0f) > 0);
    ck_assert(isnan(nnrt_expf(NAN)) && isnan(nnrt_expf(-NAN)));
}
END_TEST

/* Every 1021st float of either sign (log1p is NaN below -1), and every
 * float from -1 to -0.99 and around 0. */
START_TEST(log1p_error_is_bounded_over_a_dense_sweep)
{
    float x = 0;
    double worst = worst_of(log1p_, log1p, 0, 0x7f800000u, 1021, &x);
    ck_assert_msg(worst <= MAX_ULP_LOG1P, "%.3f ulp at x = %.9g", worst, x);
    worst = worst_of(log1p_, log1p, bits_of(0.99f), bits_of(1.0f), 1, &x);
    ck_assert_msg(worst <= MAX_ULP_LOG1P, "%.3f ulp at x = %.9g", worst, x);
    worst = worst_of(log1p_, log1p, bits_of(0x1p-30f), bits_of(0x1p-20f), 61, &x);
    ck_assert_msg(worst <= MAX_ULP_LOG1P, "%.3f ulp at x = %.9g", worst, x);
}
END_TEST

START_TEST(log1p_special_values)
{
    ck_assert(nnrt_log1pf(0.0f) == 0.0f && !signbit(nnrt_log1pf(0.0f)));
    ck_assert(nnrt_log1pf(-0.0f) == 0.0f && signbit(nnrt_log1pf(-0.0f)));
    ck_assert(nnrt_log1pf(0x1p-149f) == 0x1p-149f);
    ck_assert(nnrt_log1pf(-1.0f) == -INFINITY);
    ck_assert(isnan(nnrt_log1pf(-1.5f)) && isnan(nnrt_log1pf(-INFINITY)));
    ck_assert(nnrt_log1pf(INFINITY) == INFINITY);
    ck_assert(nnrt_log1pf(FLT_MAX) == log1pf(FLT_MAX));
    ck_assert(isnan(nnrt_log1pf(NAN)));
}
END_TEST

START_TEST(zeros_and_denormals_are_exact_and_keep_their_sign)
{
    ck_assert(nnrt_tanhf(0.0f) == 0.0f && !signbit(nnrt_tanhf(0.0f)));
    ck_assert(nnrt_tanhf(-0.0f) == 0.0f && signbit(nnrt_tanhf(-0.0f)));
    ck_assert(nnrt_tanhf(1e-30f) == 1e-30f);
    ck_assert(nnrt_tanhf(0x1p-149f) == 0x1p-149f && nnrt_tanhf(-0x1p-149f) == -0x1p-149f);
}
END_TEST

START_TEST(it_is_odd)
{
    float bad = 0;
    for (uint32_t u = 0; u < bits_of(20.0f) && bad == 0; u += 4099)
        if (nnrt_tanhf(-from_bits(u)) != -nnrt_tanhf(from_bits(u)))
            bad = from_bits(u);
    ck_assert_msg(bad == 0, "x = %.9g", bad);
}
END_TEST

START_TEST(nan_propagates)
{
    ck_assert(isnan(nnrt_tanhf(NAN)));
    ck_assert(isnan(nnrt_tanhf(-NAN)));
}
END_TEST

static Suite *tanh_suite(void)
{
    Suite *s = suite_create("mathf");
    TCase *tc = tcase_create("nnrt_expf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, exp_error_is_bounded_over_a_dense_sweep);
    tcase_add_test(tc, exp_special_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("nnrt_log1pf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, log1p_error_is_bounded_over_a_dense_sweep);
    tcase_add_test(tc, log1p_special_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("nnrt_tanhf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_is_within_ulps_over_a_dense_sweep);
    tcase_add_test(tc, error_is_within_ulps_at_every_float_near_the_seams);
    tcase_add_test(tc, it_saturates_to_one_exactly_where_libm_does);
    tcase_add_test(tc, zeros_and_denormals_are_exact_and_keep_their_sign);
    tcase_add_test(tc, it_is_odd);
    tcase_add_test(tc, nan_propagates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tanh_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
