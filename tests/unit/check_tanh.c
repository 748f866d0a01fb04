/*
 * check_tanh.c - the runtime's float32 tanh (nnrt_tanhf in runtime/nnrt.h),
 * which generated trainers and the JIT use in place of libm's tanhf, against
 * libm: the error in ulps against double tanh over a dense sweep of floats
 * and over every float near the seams of the approximation, saturation to
 * +-1 exactly where glibc's tanhf saturates, odd symmetry, zeros, denormals,
 * infinities and NaN.  This file is compiled without fused multiply-adds;
 * tests/e2e/jit.sh checks a trainer built with them (-march=native).
 */
#include "nnrt.h"

#include <check.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* The worst error over every float, with or without fused multiply-adds,
 * is 1.33 ulp (glibc's tanhf: 2.19). */
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
    int e = want == 0 ? -126 : ilogb(want);
    return fabs(got - want) / ldexp(1, (e < -126 ? -126 : e) - 23);
}

/* The worst ulp error over the floats from..to (bit patterns of positive
 * floats) in steps, each with its negative; *where says at which x. */
static double worst_ulps(uint32_t from, uint32_t to, uint32_t step, float *where)
{
    double worst = 0;
    for (uint32_t u = from; u <= to; u += step) {
        for (int neg = 0; neg < 2; neg++) {
            float x = neg ? -from_bits(u) : from_bits(u);
            double err = ulps(nnrt_tanhf(x), tanh((double)x));
            if (err > worst) {
                worst = err;
                *where = x;
            }
        }
    }
    return worst;
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Every 127th float from 0 to 10 (denormals included): beyond 9.0109 tanh is
 * 1 in float32. */
START_TEST(error_is_within_ulps_over_a_dense_sweep)
{
    float x = 0;
    double worst = worst_ulps(0, bits_of(10.0f), 127, &x);
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
    for (uint32_t u = bits_of(8.5f); u <= bits_of(9.5f); u++) {
        float x = from_bits(u), got = nnrt_tanhf(x), want = tanhf(x);
        ck_assert_msg((got == 1.0f) == (want == 1.0f), "x = %.9g: %.9g, libm %.9g", x, got,
                      want);
        ck_assert_msg(nnrt_tanhf(-x) == -got, "x = %.9g", x);
    }
    ck_assert(nnrt_tanhf(9.0f) == 1.0f - 0x1p-24f);
    ck_assert(nnrt_tanhf(9.02f) == 1.0f && nnrt_tanhf(-9.02f) == -1.0f);
    ck_assert(nnrt_tanhf(1e30f) == 1.0f && nnrt_tanhf(-1e30f) == -1.0f);
    ck_assert(nnrt_tanhf(FLT_MAX) == 1.0f && nnrt_tanhf(-FLT_MAX) == -1.0f);
    ck_assert(nnrt_tanhf(INFINITY) == 1.0f && nnrt_tanhf(-INFINITY) == -1.0f);
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
    for (uint32_t u = 0; u < bits_of(20.0f); u += 4099) {
        float x = from_bits(u);
        ck_assert_msg(nnrt_tanhf(-x) == -nnrt_tanhf(x), "x = %.9g", x);
    }
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
    Suite *s = suite_create("tanh");
    TCase *tc = tcase_create("nnrt_tanhf");
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
