/* test_matrix_headroom.c - --parallel's calibration line (fl__mx_fit_cpu):
 * two points a pairing carried give its fixed CPU and its CPU per request;
 * when one pairing alone fell short of the calibration rate (a sanitizer
 * build, a busy machine) the two points sit at one rate and a line through
 * them would call nearly all of it fixed, refusing every rate; then the CPU
 * is charged to the requests instead, at the dearer point. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "matrix_internal.h"

/* Both rates carried: the line through the points. */
static void test_line_through_points(void **state)
{
    (void)state;
    struct fl__mx_headroom h = {.cal_rate = 8000};
    fl__mx_fit_cpu(&h, 0.30, 2000, 0.90, 8000, false);
    assert_false(h.saturated);
    assert_true(fabs(h.cpu_per_request - 100e-6) < 1e-9);
    assert_true(fabs(h.cpu_fixed - 0.10) < 1e-9);
}

/* A cheaper high point than the line allows (noise): no negative fixed part. */
static void test_no_negative_fixed(void **state)
{
    (void)state;
    struct fl__mx_headroom h = {.cal_rate = 8000};
    fl__mx_fit_cpu(&h, 0.05, 2000, 0.90, 8000, false);
    assert_false(h.saturated);
    assert_true(h.cpu_fixed == 0);
    assert_true(h.cpu_per_request > 0);
}

/* CI's ASan build: 2000 req/s asked, about 1,400 carried at either rate,
 * 0.94 CPUs both times. The line would say 1.9 CPUs fixed and 13 us per
 * request; charged to the requests it is 1 / 1,400 s each. */
static void test_saturated_charges_requests(void **state)
{
    (void)state;
    struct fl__mx_headroom h = {.cal_rate = 8000};
    fl__mx_fit_cpu(&h, 0.94, 1300, 0.95, 1480, false);
    assert_true(h.saturated);
    assert_true(h.cpu_fixed == 0);
    assert_true(fabs(h.cpu_per_request - 0.94 / 1300) < 1e-12);
    /* three pairings at 200 req/s then fit in 70 % of two CPUs */
    assert_true(3 * (h.cpu_fixed + 200 * h.cpu_per_request) < 1.4);
}

/* The high run stopped on errors: the low point alone prices a request. */
static void test_high_failed_uses_low_point(void **state)
{
    (void)state;
    struct fl__mx_headroom h = {.cal_rate = 8000};
    fl__mx_fit_cpu(&h, 0.50, 2000, 0, 8000, true);
    assert_true(h.saturated);
    assert_true(h.cpu_fixed == 0);
    assert_true(fabs(h.cpu_per_request - 0.50 / 2000) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_through_points),
        cmocka_unit_test(test_no_negative_fixed),
        cmocka_unit_test(test_saturated_charges_requests),
        cmocka_unit_test(test_high_failed_uses_low_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
