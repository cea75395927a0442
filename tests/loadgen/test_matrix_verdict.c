/* test_matrix_verdict.c - what to run for this traffic (fl__mv_judge): the
 * lowest steady RSS among the pairings that carried the same load with a
 * p99 within the tolerance; what it saves and costs against glibc under ws
 * and tpc; a saving under the stair-step threshold said to be none worth a
 * change; "one run, no spread", or the ranges over repeats and whether they
 * overlap; no verdict when fewer than two pairings carried the same load;
 * failed, slower, memory-starved and p99-outlying pairings left out, each
 * with its reason (live data that differs only noted); matrix.json's verdict object. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "matrix_report_internal.h"
#include "matrix_verdict.h"

#define MIB (1024.0 * 1024.0)

static struct fl__mr_run mk(const char *name, const char *mode, const char *spec, double rps,
                            double p99_ms, double rss_mib)
{
    return (struct fl__mr_run){
        .name = name,
        .mode = mode,
        .free_policy = "local",
        .allocator = spec,
        .spec = spec,
        .status = "ok",
        .rps = rps,
        .p99_us = p99_ms * 1000,
        .rss_steady = rss_mib * MIB,
        .live = 20 * MIB,
        .live_drift = 0,
        .worst_drift = 0,
        .alloc_failures = 0,
    };
}

/* The matrix of a 2-core box: glibc and jemalloc under both modes, plus
 * tcmalloc under ws with a p99 far above the rest. */
static void four(struct fl__mr_run *runs)
{
    runs[0] = mk("tpc-glibc", "tpc", "glibc", 1000, 20, 60);
    runs[1] = mk("ws-glibc", "ws", "glibc", 1001, 21, 80);
    runs[2] = mk("tpc-jemalloc", "tpc", "jemalloc", 999, 22, 45);
    runs[3] = mk("ws-tcmalloc", "ws", "tcmalloc", 1000, 40, 30);
}

static bool has_line(const struct fl__mr_verdict *v, const char *part)
{
    for (int i = 0; i < v->nlines; i++)
        if (strstr(v->lines[i], part))
            return true;
    return false;
}

static void test_lowest_within_tolerance(void **state)
{
    (void)state;
    struct fl__mr_run runs[4];
    four(runs);
    struct fl__mr_report r = {.runs = runs, .n = 4};
    struct fl__mr_verdict v;
    assert_int_equal(fl__mv_judge(&r, 1, &v), 0);
    /* ws-tcmalloc holds least but its p99 (40 ms) is past 20 ms + 25 % */
    assert_int_equal(v.pick, 2);
    assert_true(fabs(v.p99_limit - 25000) < 1e-6);
    assert_false(v.pairs[3].candidate);
    assert_non_null(strstr(v.pairs[3].why, "p99 40.0 ms"));
    assert_true(has_line(&v, "verdict: for this traffic run tpc-jemalloc"));
    /* against glibc under ws: 80 - 45 MiB, 44 %; under tpc: 15 MiB */
    assert_int_equal(v.against[0].base, 1);
    assert_true(v.against[0].same_load);
    assert_true(fabs(v.against[0].saving - 35 * MIB) < 1);
    assert_true(fabs(v.against[0].saving_share - 35.0 / 80) < 1e-9);
    assert_true(fabs(v.against[0].p99_change_us - 1000) < 1e-6);
    assert_true(fabs(v.against[1].saving - 15 * MIB) < 1);
    assert_true(has_line(&v, "saves 35.0 MiB (44 %) of its 80.0 MiB; costs throughput -0.2 %"));
    assert_true(has_line(&v, "one run, no spread"));
    assert_true(has_line(&v, "left out: ws-tcmalloc (p99 40.0 ms"));
    cJSON *j = fl__mv_json(&v);
    assert_string_equal(cJSON_GetObjectItem(j, "pick")->valuestring, "tpc-jemalloc");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "against")), 2);
    cJSON_Delete(j);
    fl__mv_free(&v);
}

/* A closed loop's pairings each carried their own load: nothing compares. */
static void test_no_equal_load(void **state)
{
    (void)state;
    struct fl__mr_run runs[3] = {mk("tpc-glibc", "tpc", "glibc", 1000, 20, 60),
                                 mk("ws-glibc", "ws", "glibc", 900, 20, 50),
                                 mk("ws-jemalloc", "ws", "jemalloc", 800, 20, 40)};
    struct fl__mr_report r = {.runs = runs, .n = 3};
    struct fl__mr_verdict v;
    assert_int_equal(fl__mv_judge(&r, 1, &v), 0);
    assert_int_equal(v.pick, -1);
    assert_non_null(strstr(v.none, "only tpc-glibc carried the busiest load"));
    assert_true(has_line(&v, "verdict: none:"));
    assert_true(has_line(&v, "left out: ws-jemalloc (carried 20.0 % less"));
    cJSON *j = fl__mv_json(&v);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "pick")));
    cJSON_Delete(j);
    fl__mv_free(&v);
}

/* Failed and memory-starved pairings are left out with their reasons; a
 * base that is absent is said to be. */
static void test_left_out(void **state)
{
    (void)state;
    struct fl__mr_run runs[5] = {mk("tpc-glibc", "tpc", "glibc", 1000, 20, 60),
                                 mk("tpc-jemalloc", "tpc", "jemalloc", 1000, 20, 50),
                                 mk("tpc-mimalloc", "tpc", "mimalloc", 1000, 20, 10),
                                 mk("tpc-tcmalloc", "tpc", "tcmalloc", 1000, 20, 12),
                                 mk("tpc-x", "tpc", "/lib/x.so", 1000, 20, 11)};
    runs[2].status = "failed";
    runs[3].alloc_failures = 12;
    runs[4].live = 30 * MIB;
    struct fl__mr_report r = {.runs = runs, .n = 5};
    struct fl__mr_verdict v;
    assert_int_equal(fl__mv_judge(&r, 1, &v), 0);
    /* tpc-x counts its live data its own way: still the same load, and
     * the verdict says the live data differs */
    assert_int_equal(v.pick, 4);
    assert_true(has_line(&v, "left out: tpc-mimalloc (failed)"));
    assert_true(has_line(&v, "left out: tpc-tcmalloc (refused 12 requests for want of memory)"));
    assert_true(has_line(&v, "(their live data differs: 30.0 against 20.0 MiB"));
    assert_true(has_line(&v, "against glibc under ws (a work-stealing runtime: Tokio, Go, Java's "
                             "pools): not in this matrix"));
    fl__mv_free(&v);
}

/* A saving under max(1 MiB, 5 %) is said to be none worth a change. */
static void test_small_saving(void **state)
{
    (void)state;
    struct fl__mr_run runs[2] = {mk("tpc-glibc", "tpc", "glibc", 1000, 20, 60),
                                 mk("tpc-jemalloc", "tpc", "jemalloc", 1000, 20, 59.5)};
    struct fl__mr_report r = {.runs = runs, .n = 2};
    struct fl__mr_verdict v;
    assert_int_equal(fl__mv_judge(&r, 1, &v), 0);
    assert_int_equal(v.pick, 1);
    assert_true(has_line(&v, "saves 0.5 MiB (1 %) of its 60.0 MiB (under the stair-step rule"));
    fl__mv_free(&v);
}

/* Three matrices of the same traffic: medians, ranges, and whether the
 * pick's worst run still beats the base's best. */
static void test_repeats_spread(void **state)
{
    (void)state;
    struct fl__mr_run a[4], b[4], c[4];
    four(a);
    four(b);
    four(c);
    b[2].rss_steady = 50 * MIB; /* tpc-jemalloc: 45, 50, 44 */
    c[2].rss_steady = 44 * MIB;
    b[0].rss_steady = 48 * MIB; /* tpc-glibc: 60, 48, 62: overlaps jemalloc's */
    c[0].rss_steady = 62 * MIB;
    c[1].status = "failed"; /* ws-glibc in two of three runs */
    struct fl__mr_report r[3] = {{.runs = a, .n = 4}, {.runs = b, .n = 4}, {.runs = c, .n = 4}};
    struct fl__mr_verdict v;
    assert_int_equal(fl__mv_judge(r, 3, &v), 0);
    assert_int_equal(v.nfolders, 3);
    /* ws-glibc failed once: left out, named by its run */
    assert_non_null(strstr(v.pairs[1].why, "run 3: failed"));
    assert_int_equal(v.pick, 2);
    assert_true(fabs(v.pairs[2].rss - 45 * MIB) < 1);
    assert_true(fabs(v.pairs[2].rss_lo - 44 * MIB) < 1 && fabs(v.pairs[2].rss_hi - 50 * MIB) < 1);
    assert_true(has_line(&v, "how sure: 3 runs; tpc-jemalloc's steady RSS ranged 44.0-50.0 MiB"));
    assert_true(has_line(&v, "tpc-glibc ranged 48.0-62.0 MiB: the ranges overlap"));
    fl__mv_free(&v);
    c[1].status = "ok";
    b[0].rss_steady = 58 * MIB;
    assert_int_equal(fl__mv_judge(r, 3, &v), 0);
    assert_true(has_line(&v, "tpc-glibc ranged 58.0-62.0 MiB: every run of the pick is below"));
    assert_true(has_line(&v, "ws-glibc ranged 80.0-80.0 MiB: every run of the pick is below"));
    fl__mv_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_within_tolerance),
        cmocka_unit_test(test_no_equal_load),
        cmocka_unit_test(test_left_out),
        cmocka_unit_test(test_small_saving),
        cmocka_unit_test(test_repeats_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
