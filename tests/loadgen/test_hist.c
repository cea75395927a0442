/* test_hist.c - the load generator's latency histogram: the precision promise
 * over a sweep of values, exact statistics on known data, HdrHistogram's
 * percentile semantics, merge, coordinated-omission correction, overflow
 * clamping, reset, the percentile-distribution text (golden lines produced by
 * HdrHistogram 2.1.11's outputPercentileDistribution on the same data) and
 * configuration errors. */
#include "hist.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define HOUR_US FL_HIST_DEFAULT_HIGHEST

static void init_ok(struct fl_hist *h, int64_t lowest, int64_t highest, int sigfigs)
{
    assert_int_equal(fl_hist_init(h, lowest, highest, sigfigs), 0);
}

/* Deterministic values for merge tests (xorshift64). */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_invalid_config(void **state)
{
    (void)state;
    struct fl_hist h;
    assert_int_equal(fl_hist_init(NULL, 1, HOUR_US, 3), -EINVAL);
    assert_int_equal(fl_hist_init(&h, 0, HOUR_US, 3), -EINVAL);
    assert_int_equal(fl_hist_init(&h, -1, HOUR_US, 3), -EINVAL);
    assert_int_equal(fl_hist_init(&h, 10, 19, 3), -EINVAL); /* highest < 2 * lowest */
    assert_int_equal(fl_hist_init(&h, 1, HOUR_US, 0), -EINVAL);
    assert_int_equal(fl_hist_init(&h, 1, HOUR_US, 6), -EINVAL);
    /* 2^60 as the unit leaves no room for 2048 sub-buckets below bit 63. */
    assert_int_equal(fl_hist_init(&h, INT64_C(1) << 60, INT64_MAX, 3), -EINVAL);
    init_ok(&h, 10, 20, 3);
    fl_hist_destroy(&h);
    init_ok(&h, 1, INT64_MAX, 5);
    fl_hist_record(&h, INT64_MAX);
    assert_int_equal(fl_hist_max(&h), INT64_MAX);
    assert_int_equal(fl_hist_overflow(&h), 0);
    fl_hist_destroy(&h);
    fl_hist_destroy(&h); /* safe twice */
}

/* The figure quoted in the report: 22 buckets of 1024 stored steps, plus
 * bucket 0's lower half, 8 bytes each. */
static void check_value_precision(struct fl_hist *h, int64_t v, double bound)
{
    int64_t lo = fl_hist_lowest_equivalent(h, v), hi = fl_hist_highest_equivalent(h, v);
    assert_true(lo <= v && v <= hi);
    /* any value of v's step stands for v within the bound */
    assert_true((double)(hi - lo) < bound * (double)v);
    /* steps tile the line: the next value starts the next step */
    assert_int_equal(fl_hist_lowest_equivalent(h, hi + 1), hi + 1);
    fl_hist_reset(h);
    fl_hist_record(h, v);
    assert_int_equal(fl_hist_min(h), lo);
    assert_int_equal(fl_hist_max(h), hi);
    assert_int_equal(fl_hist_value_at_percentile(h, 50.0), hi);
    assert_true(fabs(fl_hist_mean(h) - (double)v) < bound * (double)v);
}

static void sweep(int sigfigs)
{
    struct fl_hist h;
    double bound = pow(10.0, -sigfigs);
    init_ok(&h, 1, HOUR_US, sigfigs);
    for (double x = 1.0; x <= 1e9; x = x * 1.01 + 1.0)
        check_value_precision(&h, (int64_t)x, bound);
    for (int k = 1; k < 30; k++) { /* bucket edges */
        int64_t p = INT64_C(1) << k;
        check_value_precision(&h, p - 1, bound);
        check_value_precision(&h, p, bound);
        check_value_precision(&h, p + 1, bound);
    }
    check_value_precision(&h, 1000000000, bound);
    fl_hist_destroy(&h);
}

static void test_relative_error_sigfigs_2(void **state)
{
    (void)state;
    sweep(2);
}

static void test_relative_error_sigfigs_3(void **state)
{
    (void)state;
    sweep(3);
}

/* Below 2048 every step is one unit wide at 3 sigfigs, so figures are exact. */
static void test_known_data(void **state)
{
    (void)state;
    struct fl_hist h;
    init_ok(&h, 1, HOUR_US, 3);
    assert_int_equal(fl_hist_count(&h), 0);
    assert_int_equal(fl_hist_min(&h), 0);
    assert_int_equal(fl_hist_max(&h), 0);
    assert_true(fl_hist_mean(&h) == 0.0 && fl_hist_stddev(&h) == 0.0);
    assert_int_equal(fl_hist_value_at_percentile(&h, 50), 0);
    const int64_t vals[] = {10, 20, 30, 40, 50};
    for (size_t i = 0; i < 5; i++)
        fl_hist_record(&h, vals[i]);
    fl_hist_record_n(&h, 100, 5);
    fl_hist_record_n(&h, 7, 0); /* nothing */
    assert_int_equal(fl_hist_count(&h), 10);
    assert_int_equal(fl_hist_min(&h), 10);
    assert_int_equal(fl_hist_max(&h), 100);
    assert_true(fl_hist_mean(&h) == 65.0);
    /* population deviation: squares about 65 sum to 7125 + 5 * 35^2 = 13250 */
    assert_true(fabs(fl_hist_stddev(&h) - sqrt(1325.0)) < 1e-9);
    assert_int_equal(fl_hist_value_at_percentile(&h, 50), 50);
    assert_int_equal(fl_hist_value_at_percentile(&h, 50.1), 100);
    fl_hist_destroy(&h);
}

static void test_percentiles_uniform(void **state)
{
    (void)state;
    struct fl_hist h;
    init_ok(&h, 1, HOUR_US, 3);
    for (int64_t v = 1; v <= 10000; v++)
        fl_hist_record(&h, v);
    const double ps[] = {0, 0.01, 1, 10, 25, 33.3, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        int64_t want = (int64_t)ceil(ps[i] * 100.0 - 1e-9); /* rank = value here */
        if (want < 1)
            want = 1;
        int64_t got = fl_hist_value_at_percentile(&h, ps[i]);
        assert_true(got >= want);                        /* at least p% are <= got */
        assert_true((double)(got - want) < 1e-3 * want); /* within the precision */
        if (ps[i] > 0)
            assert_int_equal(got, fl_hist_highest_equivalent(&h, want));
    }
    assert_int_equal(fl_hist_value_at_percentile(&h, 0), 1);
    assert_int_equal(fl_hist_value_at_percentile(&h, 50), 5003);   /* 5000's step is 4 wide */
    assert_int_equal(fl_hist_value_at_percentile(&h, 100), 10007); /* 10000's step is 8 wide */
    assert_int_equal(fl_hist_max(&h), 10007);
    assert_int_equal(fl_hist_value_at_percentile(&h, -5), 1);
    assert_int_equal(fl_hist_value_at_percentile(&h, 150), 10007);
    assert_int_equal(fl_hist_value_at_percentile(&h, NAN), 1);
    fl_hist_destroy(&h);
}

static void assert_same(const struct fl_hist *a, const struct fl_hist *b)
{
    assert_int_equal(a->counts_len, b->counts_len);
    assert_memory_equal(a->counts, b->counts, (size_t)a->counts_len * sizeof(*a->counts));
    assert_int_equal(fl_hist_count(a), fl_hist_count(b));
    assert_int_equal(fl_hist_overflow(a), fl_hist_overflow(b));
    assert_int_equal(fl_hist_min(a), fl_hist_min(b));
    assert_int_equal(fl_hist_max(a), fl_hist_max(b));
    assert_true(fl_hist_mean(a) == fl_hist_mean(b));
}

static void test_merge(void **state)
{
    (void)state;
    struct fl_hist a, b, all, other;
    init_ok(&a, 1, 100000000, 3);
    init_ok(&b, 1, 100000000, 3);
    init_ok(&all, 1, 100000000, 3);
    uint64_t s = 42;
    for (int i = 0; i < 50000; i++) {
        int64_t v = (int64_t)(next_rand(&s) % 200000000); /* some overflow */
        fl_hist_record(i % 3 ? &a : &b, v);
        fl_hist_record(&all, v);
    }
    fl_hist_record(&b, 3); /* b holds the minimum */
    fl_hist_record(&all, 3);
    assert_int_equal(fl_hist_merge(&a, &b), 0);
    assert_same(&a, &all);
    assert_int_equal(fl_hist_min(&a), 3);
    assert_true(fl_hist_overflow(&a) > 0);

    init_ok(&other, 1, 100000000, 2);
    assert_int_equal(fl_hist_merge(&a, &other), -EINVAL);
    fl_hist_destroy(&other);
    init_ok(&other, 1, 200000000, 3);
    assert_int_equal(fl_hist_merge(&a, &other), -EINVAL);
    fl_hist_destroy(&other);
    init_ok(&other, 2, 100000000, 3);
    assert_int_equal(fl_hist_merge(&other, &a), -EINVAL);
    fl_hist_destroy(&other);
    assert_same(&a, &all); /* refused merges changed nothing */
    fl_hist_destroy(&a);
    fl_hist_destroy(&b);
    fl_hist_destroy(&all);
}

static void test_overflow_clamp(void **state)
{
    (void)state;
    struct fl_hist h;
    init_ok(&h, 1, HOUR_US, 3);
    int64_t top = fl_hist_highest_equivalent(&h, HOUR_US);
    fl_hist_record(&h, HOUR_US); /* the highest value itself is no overflow */
    assert_int_equal(fl_hist_overflow(&h), 0);
    fl_hist_record(&h, HOUR_US + 1);
    fl_hist_record(&h, INT64_MAX);
    fl_hist_record_n(&h, INT64_C(1000000000000), 3);
    assert_int_equal(fl_hist_count(&h), 6);
    assert_int_equal(fl_hist_overflow(&h), 5);
    assert_int_equal(fl_hist_max(&h), top);
    assert_int_equal(fl_hist_value_at_percentile(&h, 50), top);
    fl_hist_record(&h, -5);
    fl_hist_record(&h, INT64_MIN);
    assert_int_equal(fl_hist_count(&h), 8);
    assert_int_equal(fl_hist_overflow(&h), 5);
    assert_int_equal(fl_hist_min(&h), 0);
    assert_int_equal(fl_hist_value_at_percentile(&h, 0), 0);
    fl_hist_destroy(&h);
}

static void test_reset(void **state)
{
    (void)state;
    struct fl_hist h;
    init_ok(&h, 1, HOUR_US, 3);
    fl_hist_record(&h, 5);
    fl_hist_record(&h, HOUR_US * 2);
    fl_hist_reset(&h);
    assert_int_equal(fl_hist_count(&h), 0);
    assert_int_equal(fl_hist_overflow(&h), 0);
    assert_int_equal(fl_hist_min(&h), 0);
    assert_int_equal(fl_hist_max(&h), 0);
    assert_true(fl_hist_mean(&h) == 0.0);
    for (int32_t i = 0; i < h.counts_len; i++)
        assert_int_equal(h.counts[i], 0);
    fl_hist_record(&h, 500); /* old min and max must not survive */
    assert_int_equal(fl_hist_min(&h), 500);
    assert_int_equal(fl_hist_max(&h), 500);
    fl_hist_destroy(&h);
}

/* Lines of HdrHistogram 2.1.11 outputPercentileDistribution(out, 5, 1000.0)
 * for 1..10000 recorded once each into Histogram(1, 3600000000, 3): 74 lines
 * in all; lines 64 and 66 are rounding ties (Java rounds the shortest decimal
 * half up, where printf would print ...437 and ...562). */
static const struct {
    int line;
    const char *text;
} golden[] = {
    {1, "       Value     Percentile TotalCount 1/(1-Percentile)"},
    {2, ""},
    {3, "       0.001 0.000000000000          1           1.00"},
    {4, "       1.000 0.100000000000       1000           1.11"},
    {64, "       9.999 0.999780273438       9999        4551.11"},
    {66, "       9.999 0.999829101563       9999        5851.43"},
    {70, "      10.007 0.999902343750      10000       10240.00"},
    {71, "      10.007 1.000000000000      10000"},
    {72, "#[Mean    =        5.001, StdDeviation   =        2.887]"},
    {73, "#[Max     =       10.007, Total count    =        10000]"},
    {74, "#[Buckets =           22, SubBuckets     =         2048]"},
};

/* Splits buf into lines in place; returns their number. */
static int split_lines(char *buf, char **lines, int max)
{
    int n = 0;
    for (char *p = buf; *p && n < max; n++) {
        lines[n] = p;
        p = strchr(p, '\n');
        if (!p)
            return n + 1;
        *p++ = '\0';
    }
    return n;
}

static void test_write_percentiles(void **state)
{
    (void)state;
    struct fl_hist h;
    char *buf = NULL, *lines[128];
    size_t len = 0;
    init_ok(&h, 1, HOUR_US, 3);
    for (int64_t v = 1; v <= 10000; v++)
        fl_hist_record(&h, v);
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fl_hist_write_percentiles(&h, f, 5, 1000.0), 0);
    assert_int_equal(fclose(f), 0);
    static const char head[] = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";
    assert_true(strncmp(buf, head, strlen(head)) == 0);
    int n = split_lines(buf, lines, 128);
    assert_int_equal(n, 74);
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++)
        assert_string_equal(lines[golden[i].line - 1], golden[i].text);

    /* the footer reads back as the histogram's own figures */
    double max;
    uint64_t count;
    int buckets, subs;
    assert_int_equal(
        sscanf(lines[n - 2], "#[Max     = %lf, Total count    = %" SCNu64 "]", &max, &count), 2);
    assert_int_equal(count, fl_hist_count(&h));
    assert_int_equal(llround(max * 1000.0), fl_hist_max(&h));
    assert_int_equal(sscanf(lines[n - 1], "#[Buckets = %d, SubBuckets     = %d]", &buckets, &subs),
                     2);
    assert_int_equal(buckets, 22);
    assert_int_equal(subs, 2048);

    /* body lines: four columns, never decreasing, up to the 100% line */
    double prev_v = 0, prev_p = -1, v, p, inv;
    uint64_t prev_c = 0, c;
    for (int i = 2; i < n - 4; i++) {
        assert_int_equal(sscanf(lines[i], "%lf %lf %" SCNu64 " %lf", &v, &p, &c, &inv), 4);
        assert_true(v >= prev_v && p > prev_p && c >= prev_c);
        prev_v = v, prev_p = p, prev_c = c;
    }
    fl_hist_destroy(&h);
    free(buf);
}

static void test_write_percentiles_edges(void **state)
{
    (void)state;
    struct fl_hist h;
    char *buf = NULL, *lines[16];
    size_t len = 0;
    init_ok(&h, 1, HOUR_US, 3);
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fl_hist_write_percentiles(&h, f, 0, 1.0), -EINVAL);
    assert_int_equal(fl_hist_write_percentiles(&h, f, 5, 0.0), -EINVAL);
    assert_int_equal(fl_hist_write_percentiles(&h, f, 5, NAN), -EINVAL);
    assert_int_equal(fl_hist_write_percentiles(&h, f, 5, 1.0), 0); /* empty: no body */
    assert_int_equal(fclose(f), 0);
    assert_int_equal(split_lines(buf, lines, 16), 5);
    assert_string_equal(lines[3], "#[Max     =        0.000, Total count    =            0]");
    free(buf);

    FILE *ro = fopen("/dev/null", "r"); /* writes fail: the error comes back */
    assert_non_null(ro);
    fl_hist_record(&h, 5);
    assert_true(fl_hist_write_percentiles(&h, ro, 5, 1.0) < 0);
    fclose(ro);
    fl_hist_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_config),
        cmocka_unit_test(test_relative_error_sigfigs_2),
        cmocka_unit_test(test_relative_error_sigfigs_3),
        cmocka_unit_test(test_known_data),
        cmocka_unit_test(test_percentiles_uniform),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_overflow_clamp),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_write_percentiles),
        cmocka_unit_test(test_write_percentiles_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
