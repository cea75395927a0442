/* test_scenario.c - the load generator's scenario files: the shipped
 * quick.ini and soak.ini load (paths in argv), the normalised dump loads
 * back into the same scenario, every distribution form parses and samples
 * within its range, drift moves from the first range to the second, one
 * seed gives one sequence, picks follow the weights, and every kind of
 * error names its line and key.
 *
 *   test_scenario config/quick.ini config/soak.ini */
#include "rand.h"
#include "scenario.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

static const char *quick_path, *soak_path, *cross_path;
static char tmp_path[64];
static char err[512];

/* Writes `text` to a fresh temporary file; its path is tmp_path. */
static const char *write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/fl_scenario_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return tmp_path;
}

static int load_text(const char *text, struct fl_scenario *s)
{
    int rc = fl_scenario_load(write_tmp(text), s, err, sizeof(err));
    unlink(tmp_path);
    return rc;
}

static void load_ok(const char *text, struct fl_scenario *s)
{
    if (load_text(text, s) != 0)
        fail_msg("refused: %s\n%s", err, text);
}

/* Enough to make a file valid, after [scenario]. */
#define TAIL "[population p]\nshare = 1\n[request r]\nweight = 1\nkind = get\npath = /healthz\n"
#define HEAD "[scenario]\nconnections = 4\nduration = 10s\n"

/* --- the shipped files --------------------------------------------------- */

static void test_quick_ini(void **state)
{
    (void)state;
    struct fl_scenario s;
    if (fl_scenario_load(quick_path, &s, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(s.name, "quick");
    assert_int_equal(s.duration, 30 * SEC);
    assert_int_equal(s.warmup, 2 * SEC);
    assert_int_equal(s.connections, 512);
    assert_true(s.rate == 24000);   /* open loop: every pairing serves the same requests */
    assert_int_equal(s.nphases, 1); /* no [phase]: one phase lasting duration */
    assert_string_equal(s.phases[0].name, "main");
    assert_int_equal(s.phases[0].duration, 30 * SEC);
    assert_int_equal(s.npopulations, 2);
    assert_true(fabs(s.populations[0].share - 0.7) < 1e-12);
    assert_int_equal(fl_dist_lowest(&s.populations[0].requests), 1);
    assert_int_equal(fl_dist_highest(&s.populations[0].requests), 20);
    assert_int_equal(fl_dist_lowest(&s.populations[1].requests), 100);
    assert_int_equal(fl_dist_highest(&s.populations[1].requests), 400);
    assert_true(s.nrequests >= 6);
    unsigned kinds = 0;
    double sum = 0;
    for (size_t i = 0; i < s.nrequests; i++) {
        kinds |= 1u << s.requests[i].kind;
        sum += s.requests[i].weight;
    }
    assert_int_equal(kinds, 0xf); /* echo, work, get and tcp */
    assert_true(fabs(sum - 1) < 1e-12);
    fl_scenario_free(&s);
}

static void test_soak_ini(void **state)
{
    (void)state;
    struct fl_scenario s;
    if (fl_scenario_load(soak_path, &s, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(s.duration, 4 * 3600 * SEC);
    assert_int_equal(s.nphases, 16);
    for (size_t i = 0; i < s.nphases; i++) {
        assert_int_equal(s.phases[i].idle, i % 2 == 1); /* load, idle, load, ... */
        assert_int_equal(s.phases[i].duration, (i % 2 ? 10 : 20) * 60 * SEC);
        assert_int_equal(s.phases[i].start, (i / 2) * 30 * 60 * SEC + (i % 2) * 20 * 60 * SEC);
    }
    assert_true(s.phases[3].close_idle && !s.phases[1].close_idle);
    bool drift = false;
    for (size_t i = 0; i < s.nrequests; i++)
        drift |= s.requests[i].resp.hi_end != s.requests[i].resp.hi;
    assert_true(drift);
    fl_scenario_free(&s);
}

/* The dump is a scenario file too: loading it gives the same dump. */
static void round_trip(const char *path)
{
    struct fl_scenario a, b;
    char *d1 = NULL, *d2 = NULL;
    size_t n1, n2;
    if (fl_scenario_load(path, &a, err, sizeof(err)))
        fail_msg("%s", err);
    FILE *f = open_memstream(&d1, &n1);
    fl_scenario_print(f, &a);
    fclose(f);
    if (load_text(d1, &b))
        fail_msg("dump refused: %s\n%s", err, d1);
    f = open_memstream(&d2, &n2);
    fl_scenario_print(f, &b);
    fclose(f);
    assert_string_equal(d1, d2);
    assert_int_equal(a.nphases, b.nphases);
    assert_int_equal(a.duration, b.duration);
    assert_memory_equal(&a.requests[0].resp, &b.requests[0].resp, sizeof(struct fl_dist));
    free(d1);
    free(d2);
    fl_scenario_free(&a);
    fl_scenario_free(&b);
}

static void test_print_round_trip(void **state)
{
    (void)state;
    round_trip(quick_path);
    round_trip(soak_path);
}

/* --- distributions ------------------------------------------------------- */

static struct fl_dist dist(enum fl_dist_unit unit, const char *text)
{
    struct fl_dist d;
    char why[128];
    if (fl_dist_parse(&d, unit, text, why, sizeof(why)))
        fail_msg("'%s' refused: %s", text, why);
    return d;
}

static void assert_dist_bad(enum fl_dist_unit unit, const char *text, const char *reason)
{
    struct fl_dist d;
    char why[128] = "";
    assert_int_equal(fl_dist_parse(&d, unit, text, why, sizeof(why)), -EINVAL);
    if (!strstr(why, reason))
        fail_msg("'%s': '%s' does not say '%s'", text, why, reason);
}

/* Draws n samples at `progress`: all within [lo, hi]; returns their mean. */
static double sample_range(const struct fl_dist *d, double progress, uint64_t lo, uint64_t hi)
{
    uint64_t rng = 1, min = UINT64_MAX, max = 0;
    double sum = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t v = fl_dist_sample(d, &rng, progress);
        if (v < lo || v > hi)
            fail_msg("sample %llu outside %llu-%llu", (unsigned long long)v, (unsigned long long)lo,
                     (unsigned long long)hi);
        min = v < min ? v : min;
        max = v > max ? v : max;
        sum += (double)v;
    }
    if (hi - lo <= 100) { /* both ends are reached, where they can be */
        assert_int_equal(min, lo);
        assert_int_equal(max, hi);
    }
    return sum / 20000;
}

static void test_dist_forms(void **state)
{
    (void)state;
    struct fl_dist d = dist(FL_DIST_BYTES, "4k");
    assert_false(d.log);
    assert_int_equal(d.lo, 4096);
    assert_int_equal(d.hi, 4096);
    sample_range(&d, 0.5, 4096, 4096);

    d = dist(FL_DIST_COUNT, "1 - 20");
    double mean = sample_range(&d, 0, 1, 20);
    assert_true(fabs(mean - 10.5) < 0.2);

    d = dist(FL_DIST_BYTES, "log:16-64k");
    assert_true(d.log);
    sample_range(&d, 0, 16, 65536);
    uint64_t rng = 9, below = 0; /* log-uniform: half the draws under sqrt(16 * 64k) = 1k */
    for (int i = 0; i < 100000; i++)
        below += fl_dist_sample(&d, &rng, 0) < 1024;
    assert_true(below > 48500 && below < 51500);

    d = dist(FL_DIST_TIME, "1ms-20ms");
    assert_int_equal(d.lo, MS);
    mean = sample_range(&d, 0, MS, 20 * MS);
    assert_true(fabs(mean - 10.5 * MS) < 0.2 * MS);

    struct fl_dist unset = {.unit = FL_DIST_BYTES};
    rng = 5;
    assert_int_equal(fl_dist_sample(&unset, &rng, 0), 0);
    assert_int_not_equal(rng, 5); /* one draw, set or not */

    char buf[64];
    const char *const forms[] = {
        "4k", "1-20", "log:16-64k", "1ms-20ms", "1k-2k~64k-128k", "log:64-4k~512-32k", "5~10"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        enum fl_dist_unit u = strchr(forms[i], 's') ? FL_DIST_TIME : FL_DIST_BYTES;
        d = dist(u, forms[i]);
        fl_dist_format(&d, buf, sizeof(buf));
        assert_string_equal(buf, forms[i]);
    }
    assert_dist_bad(FL_DIST_BYTES, "3g", "too large"); /* above 1g */
    assert_dist_bad(FL_DIST_BYTES, "10-5", "range start 10 is above its end 5");
    assert_dist_bad(FL_DIST_BYTES, "1k-2k~8k-4k", "range start 8k is above its end 4k");
    assert_dist_bad(FL_DIST_BYTES, "log:0-10", "at least 1");
    assert_dist_bad(FL_DIST_BYTES, "1-2-3", "more than one '-'");
    assert_dist_bad(FL_DIST_BYTES, "1~2~3", "more than one '~'");
    assert_dist_bad(FL_DIST_BYTES, "", "expected a number");
    assert_dist_bad(FL_DIST_BYTES, "-5", "expected a number");
}

static void test_suffixes(void **state)
{
    (void)state;
    static const struct {
        enum fl_dist_unit unit;
        const char *text;
        uint64_t want;
    } ok[] = {
        {FL_DIST_BYTES, "512", 512},
        {FL_DIST_BYTES, "4k", 4096},
        {FL_DIST_BYTES, "4K", 4096},
        {FL_DIST_BYTES, "2m", 2 << 20},
        {FL_DIST_BYTES, "1g", UINT64_C(1) << 30},
        {FL_DIST_COUNT, "1000", 1000},
        {FL_DIST_TIME, "250ns", 250},
        {FL_DIST_TIME, "250us", 250000},
        {FL_DIST_TIME, "500ms", 500 * MS},
        {FL_DIST_TIME, "30s", 30 * SEC},
        {FL_DIST_TIME, "1.5s", 1500 * MS},
        {FL_DIST_TIME, "5m", 300 * SEC},
        {FL_DIST_TIME, "4h", 14400 * SEC},
        {FL_DIST_TIME, "0", 0},
        {FL_DIST_TIME, "30", 30 * SEC}, /* a bare number is seconds, as in the server */
        {FL_DIST_TIME, "0.5", 500 * MS},
        {FL_DIST_TIME, " 2ms ", 2 * MS},
    };
    char why[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 1;
        if (fl_dist_parse_value(ok[i].unit, ok[i].text, &v, why, sizeof(why)))
            fail_msg("'%s': %s", ok[i].text, why);
        assert_int_equal(v, ok[i].want);
    }
    char buf[32];
    fl_dist_format_value(FL_DIST_TIME, 90 * SEC, buf, sizeof(buf));
    assert_string_equal(buf, "90s");
    fl_dist_format_value(FL_DIST_TIME, 7200 * SEC, buf, sizeof(buf));
    assert_string_equal(buf, "2h");
    fl_dist_format_value(FL_DIST_BYTES, 3 << 20, buf, sizeof(buf));
    assert_string_equal(buf, "3m");
    assert_dist_bad(FL_DIST_TIME, "", "empty duration");
    assert_dist_bad(FL_DIST_TIME, "s", "expected a duration");
    assert_dist_bad(FL_DIST_TIME, "1.s", "expected digits after '.'");
    assert_dist_bad(FL_DIST_TIME, "30x", "unknown time unit 'x'");
    assert_dist_bad(FL_DIST_TIME, "31d", "unknown time unit");
    assert_dist_bad(FL_DIST_TIME, "800h", "too long");
    assert_dist_bad(FL_DIST_BYTES, "5x", "unknown size suffix 'x'");
    assert_dist_bad(FL_DIST_BYTES, "1.5k", "whole number");
    assert_dist_bad(FL_DIST_COUNT, "2k", "a count is a plain number");
    assert_dist_bad(FL_DIST_COUNT, "99999999999999999999999", "too large");
}

static void test_drift(void **state)
{
    (void)state;
    struct fl_dist d = dist(FL_DIST_BYTES, "1k-2k~64k-128k");
    sample_range(&d, 0, 1024, 2048);
    sample_range(&d, 1, 65536, 131072);
    sample_range(&d, 0.5, 33280, 66560); /* halfway: 32.5k-65k */
    sample_range(&d, -1, 1024, 2048);    /* progress is clamped to 0..1 */
    sample_range(&d, 7, 65536, 131072);
    sample_range(&d, NAN, 1024, 2048);
    double prev = 0;
    for (int step = 0; step <= 10; step++) {
        uint64_t rng = 3;
        double sum = 0;
        for (int i = 0; i < 2000; i++)
            sum += (double)fl_dist_sample(&d, &rng, step / 10.0);
        assert_true(sum / 2000 > prev); /* the mean moves up at every step */
        prev = sum / 2000;
    }
    d = dist(FL_DIST_TIME, "10ms~1s"); /* a fixed value drifting */
    sample_range(&d, 0, 10 * MS, 10 * MS);
    sample_range(&d, 1, SEC, SEC);
    d = dist(FL_DIST_BYTES, "log:64-4k~512-32k");
    sample_range(&d, 1, 512, 32768);
    assert_int_equal(fl_dist_lowest(&d), 64);
    assert_int_equal(fl_dist_highest(&d), 32768);
}

static void assert_error(const char *text, const char *what);

/* --- the empirical form ("hist:") ---------------------------------------- */

static void test_hist_forms(void **state)
{
    (void)state;
    struct fl_dist d = dist(FL_DIST_BYTES, "hist:64:30,512:40,4k:20,64k:10");
    assert_true(d.hist && !d.log);
    assert_int_equal(d.h.n, 4);
    assert_int_equal(d.h.edge[2], 4096);
    assert_int_equal(d.h.weight[1], 40);
    assert_int_equal(fl_dist_lowest(&d), 0); /* sizes start at 0 */
    assert_int_equal(fl_dist_highest(&d), 65536);
    d = dist(FL_DIST_COUNT, "hist:1:50,10:30,100:20");
    assert_int_equal(fl_dist_lowest(&d), 1); /* counts start at 1 */
    d = dist(FL_DIST_COUNT, "hist:0:5,10:95");
    assert_int_equal(fl_dist_lowest(&d), 0); /* unless an edge of 0 says so */
    d = dist(FL_DIST_BYTES, "hist:1k:0,4k:1,16k:0");
    assert_int_equal(fl_dist_lowest(&d), 1025); /* empty buckets at the ends */
    assert_int_equal(fl_dist_highest(&d), 4096);
    d = dist(FL_DIST_TIME, " hist: 10ms : 3 , 1s:7 ");
    assert_int_equal(d.h.edge[1], SEC);

    char buf[256];
    const char *const forms[] = {"hist:64:30,512:40,4k:20,64k:10", "hist:0:1,1m:0,1g:5",
                                 "hist:10ms:3,1s:7,2m:1", "hist:64:1,4k:1~64:1,4k:9",
                                 "hist:1k:5~1m:5"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        enum fl_dist_unit u = strstr(forms[i], "ms") ? FL_DIST_TIME : FL_DIST_BYTES;
        d = dist(u, forms[i]);
        fl_dist_format(&d, buf, sizeof(buf));
        assert_string_equal(buf, forms[i]);
    }
    d = dist(FL_DIST_BYTES, "hist:1024:5~hist:1024:5"); /* the same list twice: no drift */
    fl_dist_format(&d, buf, sizeof(buf));
    assert_string_equal(buf, "hist:1k:5");

    assert_dist_bad(FL_DIST_BYTES, "hist:", "empty bucket");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1,", "empty bucket");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1,,128:1", "empty bucket");
    assert_dist_bad(FL_DIST_BYTES, "hist:64", "bucket '64': expected EDGE:WEIGHT");
    assert_dist_bad(FL_DIST_BYTES, "hist:512:1,64:1",
                    "edge 64 is not above the edge before it, 512");
    assert_dist_bad(FL_DIST_BYTES, "hist:4k:1,4096:1", "edge 4k is not above");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:0,128:0", "the weights add up to 0");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:-1", "weight '-1': expected a whole number");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1.5", "weight '1.5'");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:2000000000", "0..1000000000");
    assert_dist_bad(FL_DIST_BYTES, "hist:5x:1", "bucket '5x:1': unknown size suffix 'x'");
    assert_dist_bad(FL_DIST_BYTES, "hist:2g:1", "too large");
    assert_dist_bad(FL_DIST_COUNT, "hist:2k:1", "a count is a plain number");
    assert_dist_bad(FL_DIST_BYTES, "log:hist:64:1", "log: and hist: do not combine");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1~log:64:1", "not to log:");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1~1k-2k", "expected EDGE:WEIGHT");
    assert_dist_bad(FL_DIST_BYTES, "hist:64:1~128:1~256:1", "more than one '~'");
    assert_dist_bad(FL_DIST_BYTES,
                    "hist:1:1,2:1,3:1,4:1,5:1,6:1,7:1,8:1,9:1,10:1,11:1,12:1,13:1,14:1,15:1,16:1,"
                    "17:1",
                    "more than 16 buckets");
}

/* Draws n values at `progress`; counts[i] is how many fell in bucket i of
 * `edges` (value <= edges[i], above edges[i-1]); fails on one outside. */
static void count_buckets(const struct fl_dist *d, double progress, const uint64_t *edges, size_t n,
                          uint64_t lo, unsigned *counts, int draws)
{
    uint64_t rng = 12345;
    memset(counts, 0, n * sizeof(*counts));
    for (int k = 0; k < draws; k++) {
        uint64_t v = fl_dist_sample(d, &rng, progress);
        size_t i = 0;
        while (i < n && v > edges[i])
            i++;
        if (v < lo || i == n)
            fail_msg("draw %llu outside %llu-%llu", (unsigned long long)v, (unsigned long long)lo,
                     (unsigned long long)edges[n - 1]);
        counts[i]++;
    }
}

static void assert_share(unsigned count, int draws, double want)
{
    double got = (double)count / draws;
    if (fabs(got - want) > 0.01) /* 100,000 draws: sigma at most 0.0016 */
        fail_msg("share %.4f, want %.4f", got, want);
}

static void test_hist_sampling(void **state)
{
    (void)state;
    const int n = 100000;
    unsigned c[4];
    struct fl_dist d = dist(FL_DIST_BYTES, "hist:64:30,512:40,4k:20,64k:10");
    const uint64_t edges[] = {64, 512, 4096, 65536};
    count_buckets(&d, 0, edges, 4, 0, c, n);
    assert_share(c[0], n, 0.3);
    assert_share(c[1], n, 0.4);
    assert_share(c[2], n, 0.2);
    assert_share(c[3], n, 0.1);
    /* Uniform inside a bucket: half of (512, 4k] lies below 2304. */
    uint64_t rng = 7;
    unsigned in = 0, below = 0;
    for (int k = 0; k < n; k++) {
        uint64_t v = fl_dist_sample(&d, &rng, 0);
        in += v > 512 && v <= 4096;
        below += v > 512 && v <= 2304;
    }
    assert_true(fabs((double)below / in - 0.5) < 0.02);

    /* Zero-weight buckets are never drawn; a 0 edge is exactly 0. */
    d = dist(FL_DIST_BYTES, "hist:0:25,100:0,200:75");
    const uint64_t e2[] = {0, 100, 200};
    count_buckets(&d, 0.5, e2, 3, 0, c, n);
    assert_share(c[0], n, 0.25);
    assert_int_equal(c[1], 0);
    assert_share(c[2], n, 0.75);

    /* A count's first bucket starts at 1 and reaches its edge. */
    d = dist(FL_DIST_COUNT, "hist:3:1");
    const uint64_t e3[] = {3};
    count_buckets(&d, 0, e3, 1, 1, c, 3000);
    sample_range(&d, 0, 1, 3);

    /* One word of the caller's generator per draw, as every form. */
    rng = 5;
    uint64_t twin = 5;
    fl_dist_sample(&d, &rng, 0.3);
    fl_rand_next(&twin);
    assert_int_equal(rng, twin);
}

static void test_hist_drift(void **state)
{
    (void)state;
    const int n = 100000;
    unsigned c[2];
    const uint64_t edges[] = {1024, 65536};
    struct fl_dist d = dist(FL_DIST_BYTES, "hist:1k:90,64k:10~hist:1k:10,64k:90");
    assert_int_equal(fl_dist_lowest(&d), 0);
    assert_int_equal(fl_dist_highest(&d), 65536);
    count_buckets(&d, 0, edges, 2, 0, c, n); /* the first list at the start */
    assert_share(c[0], n, 0.9);
    count_buckets(&d, 1, edges, 2, 0, c, n); /* the second at the end */
    assert_share(c[0], n, 0.1);
    count_buckets(&d, 0.5, edges, 2, 0, c, n); /* an even mix halfway */
    assert_share(c[0], n, 0.5);
    count_buckets(&d, 7, edges, 2, 0, c, n); /* progress is clamped */
    assert_share(c[0], n, 0.1);

    /* Different edges at each end: the end's values only at the end. */
    d = dist(FL_DIST_BYTES, "hist:100:1~200:0,300:1");
    sample_range(&d, 0, 0, 100);
    sample_range(&d, 1, 201, 300);
    assert_int_equal(fl_dist_lowest(&d), 0);
    assert_int_equal(fl_dist_highest(&d), 300);
}

static void test_hist_in_file(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok(HEAD "[population p]\nshare = 1\nrequests = hist:1:60,20:40\n"
                 "lifetime = hist:1s:50,1m:50\n"
                 "[request w]\nweight = 1\nkind = work\nresp = hist:64:30,512:40,4k:20,64k:10\n",
            &s);
    assert_true(s.requests[0].resp.hist);
    assert_int_equal(fl_dist_highest(&s.requests[0].resp), 65536);
    assert_int_equal(fl_dist_highest(&s.populations[0].lifetime), 60 * SEC);
    assert_int_equal(fl_dist_lowest(&s.populations[0].lifetime), 1); /* a time starts at 1 ns */
    char *dump = NULL;
    size_t len;
    FILE *f = open_memstream(&dump, &len);
    fl_scenario_print(f, &s);
    fclose(f);
    assert_non_null(strstr(dump, "resp = hist:64:30,512:40,4k:20,64k:10\n"));
    assert_non_null(strstr(dump, "requests = hist:1:60,20:40\n"));
    assert_non_null(strstr(dump, "lifetime = hist:1s:50,1m:50\n"));
    struct fl_scenario b;
    if (load_text(dump, &b))
        fail_msg("dump refused: %s\n%s", err, dump);
    assert_memory_equal(&s.requests[0].resp.h, &b.requests[0].resp.h, sizeof(struct fl_dist_hist));
    free(dump);
    fl_scenario_free(&s);
    fl_scenario_free(&b);

    /* Errors name the file, the line and the key, as for every form. */
    assert_error(HEAD "[population p]\nshare = 1\n[request w]\nweight = 1\nkind = work\n"
                      "resp = hist:4k:1,1k:1 # <-\n",
                 "resp 'hist:4k:1,1k:1': edge 1k is not above the edge before it, 4k");
    assert_error(HEAD "[population p]\nshare = 1\nrequests = hist:0:1,9:1 # <-\n" TAIL,
                 "requests hist:0:1,9:1: a connection makes at least 1");
    assert_error(HEAD "[population p]\nshare = 1\nlifetime = hist:1s:0 # <-\n" TAIL,
                 "lifetime 'hist:1s:0': the weights add up to 0");
}

/* --- draws ---------------------------------------------------------------- */

static uint64_t run_sequence(const struct fl_scenario *s, uint64_t seed)
{
    uint64_t rng = fl_dist_stream(seed, 0), h = 0;
    uint8_t pops[64];
    fl_scenario_assign_populations(s, 64, pops);
    for (int i = 0; i < 10000; i++) {
        const struct fl_scenario_population *p = &s->populations[pops[i % 64]];
        const struct fl_scenario_request *r = fl_scenario_pick_request(s, &rng);
        uint64_t v =
            fl_dist_sample(&r->resp, &rng, i / 10000.0) ^ fl_dist_sample(&p->think, &rng, 0);
        h = (h ^ (uint64_t)(p - s->populations) ^ (uint64_t)(r - s->requests) << 8 ^ v) *
            UINT64_C(0x100000001b3);
    }
    return h;
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    struct fl_scenario a, b;
    if (fl_scenario_load(quick_path, &a, err, sizeof(err)) ||
        fl_scenario_load(quick_path, &b, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(run_sequence(&a, a.seed), run_sequence(&b, b.seed));
    assert_int_not_equal(run_sequence(&a, a.seed), run_sequence(&a, a.seed + 1));
    assert_int_not_equal(fl_dist_stream(a.seed, 0), fl_dist_stream(a.seed, 1));
    uint64_t r1 = 42, r2 = 42;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fl_rand_next(&r1), fl_rand_next(&r2));
    fl_scenario_free(&a);
    fl_scenario_free(&b);
}

static void test_weights(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok(HEAD "[population a]\nshare = 70\n[population b]\nshare = 30\n"
                 "[request x]\nweight = 5\nkind = get\npath = /x\n"
                 "[request y]\nweight = 3\nkind = get\npath = /y\n"
                 "[request never]\nweight = 0\nkind = get\npath = /z\n"
                 "[request z]\nweight = 2\nkind = get\npath = /z\n",
            &s);
    const double want_req[] = {0.5, 0.3, 0, 0.2};
    unsigned req[4] = {0};
    uint64_t rng = 12345;
    for (int i = 0; i < 100000; i++)
        req[fl_scenario_pick_request(&s, &rng) - s.requests]++;
    assert_int_equal(req[2], 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(req[i] / 1e5 - want_req[i]) <= 0.03 * want_req[i]);
    fl_scenario_free(&s);
}

/* Deals n slots and checks the counts, and that every prefix of the slots
 * holds each population within one slot of its share. */
static void check_slots(const struct fl_scenario *s, uint32_t n, const uint32_t *want)
{
    uint8_t pops[1000];
    uint32_t got[FL_SCENARIO_MAX_POPULATIONS] = {0};
    fl_scenario_assign_populations(s, n, pops);
    for (uint32_t k = 0; k < n; k++) {
        assert_true(pops[k] < s->npopulations);
        got[pops[k]]++;
        for (size_t i = 0; i < s->npopulations; i++)
            assert_true(fabs(got[i] - (double)want[i] * (k + 1) / n) < 1.0 + 1e-9);
    }
    for (size_t i = 0; i < s->npopulations; i++)
        assert_int_equal(got[i], want[i]);
}

static void test_population_slots(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok(HEAD "[population a]\nshare = 70\n[population b]\nshare = 30\n"
                 "[request x]\nweight = 1\nkind = get\npath = /x\n",
            &s);
    check_slots(&s, 64, (const uint32_t[]){45, 19}); /* 44.8 / 19.2 */
    check_slots(&s, 1, (const uint32_t[]){1, 0});
    check_slots(&s, 10, (const uint32_t[]){7, 3});
    fl_scenario_free(&s);
    load_ok(HEAD "[population a]\nshare = 5\n[population b]\nshare = 3\n"
                 "[population none]\nshare = 0\n[population c]\nshare = 2\n"
                 "[request x]\nweight = 1\nkind = get\npath = /x\n",
            &s);
    check_slots(&s, 7, (const uint32_t[]){4, 2, 0, 1}); /* 3.5, 2.1, 0, 1.4 */
    check_slots(&s, 1000, (const uint32_t[]){500, 300, 0, 200});
    fl_scenario_free(&s);
}

/* --- phases and defaults ------------------------------------------------- */

/* The one duration grammar (common/duration.h): a bare number is seconds
 * in a scenario, as in the server's config; ranges and drift take it too. */
static void test_bare_seconds(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok("[scenario]\nconnections = 4\nduration = 30\nwarmup = 1.5\n"
            "[population p]\nshare = 1\nthink = 1-2~0.25\n"
            "[request r]\nweight = 1\nkind = get\npath = /healthz\n",
            &s);
    assert_int_equal(s.duration, 30 * SEC);
    assert_int_equal(s.phases[0].duration, 30 * SEC);
    assert_int_equal(s.warmup, 1500 * MS);
    const struct fl_dist *t = &s.populations[0].think;
    assert_int_equal(t->lo, SEC);
    assert_int_equal(t->hi, 2 * SEC);
    assert_int_equal(t->lo_end, 250 * MS);
    assert_int_equal(t->hi_end, 250 * MS);
    fl_scenario_free(&s);
}

static void test_phases(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok("[scenario]\nconnections = 100\nrate = 500\n"
            "[phase warm]\nduration = 1m\nconnections = 10\n"
            "[phase burst]\nduration = 2m\nrate = 0\n"
            "[phase rest]\nduration = 30s\nidle = true\n"
            "[phase gone]\nduration = 30s\nidle = true\nclose_idle = true\n"
            "[phase again]\nduration = 1m\n" TAIL,
            &s);
    assert_int_equal(s.nphases, 5);
    assert_int_equal(s.duration, 5 * 60 * SEC); /* the phases' sum */
    static const char *const names[] = {"warm", "burst", "rest", "gone", "again"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(s.phases[i].name, names[i]);
    assert_true(s.phases[0].rate == 500 && s.phases[1].rate == 0 && s.phases[4].rate == 500);
    assert_int_equal(s.phases[0].connections, 10);
    assert_int_equal(s.phases[1].connections, 100);
    assert_true(s.phases[2].idle && !s.phases[2].close_idle);
    assert_true(s.phases[2].rate == 0); /* not the inherited 500 */
    assert_true(s.phases[3].idle && s.phases[3].close_idle);
    assert_false(s.phases[4].idle);
    assert_int_equal(s.phases[3].start, 210 * SEC);
    assert_ptr_equal(fl_scenario_phase_at(&s, 0), &s.phases[0]);
    assert_ptr_equal(fl_scenario_phase_at(&s, 60 * SEC), &s.phases[1]);
    assert_ptr_equal(fl_scenario_phase_at(&s, 300 * SEC - 1), &s.phases[4]);
    assert_null(fl_scenario_phase_at(&s, 300 * SEC));
    fl_scenario_free(&s);
}

static void test_defaults_and_syntax(void **state)
{
    (void)state;
    struct fl_scenario s;
    /* indented keys, trailing comments, '-' for '_', CRLF, "key: value" */
    load_ok("; comment\r\n[scenario]   # the first\r\n  connections = 8 ; eight\r\n"
            "duration = 1m # a minute\r\n\tmax-requests: 1000\r\n" TAIL,
            &s);
    assert_string_equal(s.name, strrchr(tmp_path, '/') + 1); /* from the file's name */
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.threads, 1);
    assert_int_equal(s.connections, 8);
    assert_int_equal(s.max_requests, 1000);
    assert_int_equal(s.timeout, 10 * SEC);
    assert_int_equal(s.interval, SEC);
    assert_true(s.rate == 0 && s.error_stop == 0 && s.warmup == 0);
    assert_string_equal(s.target, "");
    assert_int_equal(s.nphases, 1);
    assert_int_equal(s.phases[0].duration, 60 * SEC);
    fl_scenario_free(&s);
    fl_scenario_free(&s);                  /* twice is harmless */
    load_ok("\xEF\xBB\xBF" HEAD TAIL, &s); /* a byte order mark */
    fl_scenario_free(&s);

    assert_int_equal(fl_scenario_load("/nonexistent/x.ini", &s, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.ini"));
}

/* --- errors --------------------------------------------------------------- */

/* The marker "# <-" ends the line the error must name (no marker: the
 * last line); `what` must appear in the message. */
static void assert_error(const char *text, const char *what)
{
    int want = 0, lines = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            lines++;
        if (strncmp(p, "# <-", 4) == 0)
            want = lines + 1;
    }
    struct fl_scenario s;
    memset(&s, 0xa5, sizeof(s));
    int rc = load_text(text, &s);
    if (rc != -EINVAL)
        fail_msg("rc %d, not -EINVAL, for:\n%s", rc, text);
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", tmp_path, want ? want : lines);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what) || strchr(err, '\n'))
        fail_msg("'%s' is not '%s...%s...'", err, prefix, what);
    assert_null(s.phases); /* freed on failure */
}

static void test_errors_sections(void **state)
{
    (void)state;
    assert_error(HEAD "[phases x] # <-\n" TAIL, "unknown section '[phases x]'");
    assert_error(HEAD "[phase.x] # <-\nduration = 1s\n" TAIL, "unknown section '[phase.x]'");
    assert_error("connections = 4 # <-\n" HEAD TAIL, "connections: outside a section");
    assert_error("[population p] # <-\nshare = 1\n[scenario]\n",
                 "[scenario] must be the first section");
    assert_error(HEAD "[scenario] # <-\n" TAIL, "second [scenario] section");
    assert_error(HEAD "[population p]\nshare = 1\n[population p] # <-\nshare = 1\n" TAIL,
                 "second [population p] section");
    assert_error(HEAD "[request a b] # <-\n" TAIL, "expected [request NAME]");
    assert_error(HEAD "[phase] # <-\nduration = 1s\n" TAIL, "expected [phase NAME]");
    assert_error(HEAD "[scenario x] # <-\n", "second [scenario]");
    assert_error(HEAD "[request r # <-\n", "section header without ']'");
    assert_error(HEAD "[phase p] x # <-\n", "text after ']'");
    assert_error(HEAD "[population p]\nshare = 1\n", "no [request NAME] section");
    assert_error(HEAD "[request r]\nweight = 1\nkind = get\npath = /\n",
                 "no [population NAME] section");
    assert_error("# nothing\n", "no [scenario] section");
}

static void test_errors_keys(void **state)
{
    (void)state;
    assert_error(HEAD "colour = red # <-\n" TAIL, "unknown key 'colour' in [scenario]");
    assert_error(HEAD TAIL "colour = red # <-\n", "unknown key 'colour' in [request r]");
    assert_error(HEAD "duration = 5s # <-\n" TAIL, "duration: given twice (first on line 3)");
    assert_error(HEAD "just words # <-\n" TAIL, "expected 'key = value' or '[section]'");
    char line[400];
    snprintf(line, sizeof(line), HEAD "name = %0250d\n", 0); /* the last line */
    assert_error(line, "line longer than 199 characters");
    /* a line of exactly inih's 199 characters is fine */
    snprintf(line, sizeof(line), "[scenario]\nconnections = 4\nduration = 10s\n# %0197d\n" TAIL, 0);
    struct fl_scenario s;
    load_ok(line, &s);
    fl_scenario_free(&s);
}

static void test_errors_values(void **state)
{
    (void)state;
    assert_error("[scenario]\nconnections = 4\nduration = 30x # <-\n" TAIL,
                 "duration '30x': unknown time unit 'x'");
    assert_error("[scenario]\nconnections = 4\nduration = 1s5 # <-\n" TAIL,
                 "duration '1s5': unexpected '5' after the unit 's'");
    assert_error(HEAD "warmup = soon # <-\n" TAIL, "warmup 'soon'");
    assert_error(HEAD "seed = -1 # <-\n" TAIL, "seed '-1': expected a whole number");
    assert_error("[scenario]\nconnections = 0 # <-\nduration = 1s\n" TAIL,
                 "connections '0': must be between 1 and 100000");
    assert_error("[scenario]\nconnections = 100001 # <-\nduration = 1s\n" TAIL,
                 "must be between 1 and 100000");
    assert_error(HEAD "threads = 65 # <-\n" TAIL, "threads '65': must be between 1 and 64");
    assert_error(HEAD "threads = 8 # <-\n" TAIL, "threads 8: more than connections 4");
    assert_error(HEAD "rate = -1 # <-\n" TAIL, "rate '-1': must not be negative");
    assert_error(HEAD "error_stop = 1.5 # <-\n" TAIL, "error_stop '1.5': must be between 0 and 1");
    assert_error(HEAD "timeout = 0 # <-\n" TAIL, "timeout '0': must be above 0");
    assert_error(HEAD "target = localhost # <-\n" TAIL, "target 'localhost': expected host:port");
    assert_error(HEAD "target = [::1]:70000 # <-\n" TAIL, "the port must be 1..65535");
    assert_error(HEAD "warmup = 10s # <-\n" TAIL, "warmup 10s: not shorter than the run (10s)");
    assert_error("[scenario] # <-\nconnections = 4\n" TAIL, "missing key 'duration'");
    assert_error("[scenario] # <-\nduration = 4s\n" TAIL, "[scenario]: missing key 'connections'");
    assert_error(HEAD "[population p]\nshare = 1\nrequests = 0-5 # <-\n" TAIL,
                 "requests 0-5: a connection makes at least 1");
    assert_error(HEAD "[population p]\nshare = 1\nthink = 5 s # <-\n" TAIL,
                 "think '5 s': unexpected ' s'");
    assert_error(HEAD "[population a] # <-\nshare = 0\n[population b]\nshare = 0\n"
                      "[request r]\nweight = 1\nkind = get\npath = /\n",
                 "share: the shares add up to 0");
    assert_error(HEAD "[population p]\nshare = 1\n[request a] # <-\nweight = 0\nkind = get\n"
                      "path = /\n",
                 "weight: the weights add up to 0");
    assert_error(HEAD "[population p] # <-\nthink = 1ms\n" TAIL,
                 "[population p]: missing key 'share'");
}

static void test_errors_requests(void **state)
{
    (void)state;
#define REQ(body) HEAD "[population p]\nshare = 1\n[request r] # <-\nweight = 1\n" body
    assert_error(REQ("kind = echo\n"), "[request r]: missing key 'body' (kind = echo needs it)");
    assert_error(REQ("kind = work\n"), "missing key 'resp' (kind = work needs it)");
    assert_error(REQ("kind = get\n"), "missing key 'path' (kind = get needs it)");
    assert_error(REQ("kind = tcp\n"), "missing key 'bytes' (kind = tcp needs it)");
    assert_error(REQ("path = /\n"), "[request r]: missing key 'kind'");
#undef REQ
#define REQ(body) HEAD "[population p]\nshare = 1\n[request r]\nweight = 1\n" body
    assert_error(REQ("kind = soap # <-\n"), "kind 'soap': expected echo, work, get or tcp");
    assert_error(REQ("path = /x # <-\nkind = work\nresp = 1k\n"),
                 "path: does not apply to kind = work");
    assert_error(REQ("kind = tcp\nbody = 1k # <-\nbytes = 1k\n"),
                 "body: does not apply to kind = tcp");
    assert_error(REQ("kind = work\nresp = 10-5 # <-\n"),
                 "resp '10-5': range start 10 is above its end 5");
    assert_error(REQ("kind = work\nresp = 5x # <-\n"), "resp '5x': unknown size suffix 'x'");
    assert_error(REQ("kind = work\nresp = 1k\nburst_min = 16 # <-\nburst_max = 1k\n"),
                 "burst_min without burst");
    assert_error(REQ("kind = work\nresp = 1k\nburst = 10\nburst_max = 1k # <-\n"),
                 "burst_max without burst_min");
    assert_error(REQ("kind = work\nresp = 1k\nburst = 10\nburst_min = 16-2k # <-\n"
                     "burst_max = 1k-4k\n"),
                 "burst_min 16-2k can exceed burst_max 1k-4k");
    assert_error(REQ("kind = work\nresp = 1k\nburst = 10\nburst_min = 0 # <-\nburst_max = 1k\n"),
                 "at least 1 byte");
    assert_error(REQ("kind = work\nresp = 1k\nhold_for = conn # <-\n"), "hold_for without hold");
    assert_error(REQ("kind = work\nresp = 1k\nbody = 1k # <-\n"), "body needs method = POST");
    assert_error(REQ("kind = work\nresp = 1k\nmethod = PUT # <-\n"), "expected GET or POST");
    assert_error(REQ("kind = get\npath = healthz # <-\n"), "a path starts with '/'");
    assert_error(REQ("kind = echo\nbody = log:0-1k # <-\n"), "log-uniform needs a lower bound");
#undef REQ
}

static void test_errors_phases(void **state)
{
    (void)state;
    assert_error("[scenario]\nconnections = 4\nduration = 10s # <-\n"
                 "[phase a]\nduration = 4s\n[phase b]\nduration = 5s\n" TAIL,
                 "duration 10s: the phases add up to 9s");
    assert_error(HEAD "[phase a]\nduration = 10s\nconnections = 5 # <-\n" TAIL,
                 "connections 5: more than the scenario's 4");
    assert_error(HEAD "[phase a]\nduration = 10s\nidle = true\nrate = 5 # <-\n" TAIL,
                 "rate: an idle phase sends no requests");
    assert_error(HEAD "[phase a]\nduration = 10s\nclose_idle = true # <-\n" TAIL,
                 "close_idle = true needs idle = true");
    assert_error(HEAD "[phase a]\nduration = 10s\nidle = maybe # <-\n" TAIL,
                 "idle 'maybe': expected true or false");
    assert_error(HEAD "[phase a] # <-\nidle = true\n" TAIL, "[phase a]: missing key 'duration'");
    /* bounded: the 257th phase is refused */
    size_t cap = 300 * 32 + 256, n = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    n += (size_t)snprintf(big + n, cap - n, "[scenario]\nconnections = 1\n");
    for (int i = 0; i < FL_SCENARIO_MAX_PHASES; i++)
        n += (size_t)snprintf(big + n, cap - n, "[phase p%d]\nduration = 1s\n", i);
    snprintf(big + n, cap - n, "[phase last] # <-\nduration = 1s\n" TAIL);
    assert_error(big, "more than 256 [phase] sections");
    free(big);
}

/* --- command-line overrides ------------------------------------------------ */

static void test_overrides(void **state)
{
    (void)state;
    struct fl_scenario s;
    load_ok("[scenario]\nconnections = 100\nrate = 500\n"
            "[phase a]\nduration = 1m\nconnections = 10\n"
            "[phase b]\nduration = 2m\nrate = 1000\n"
            "[phase c]\nduration = 1m\nidle = true\n"
            "[population p]\nshare = 1\n"
            "[request e]\nweight = 3\nkind = echo\nbody = 1k\n"
            "[request t]\nweight = 1\nkind = tcp\nbytes = 1k\n",
            &s);
    /* 4 minutes to 8 s: each phase keeps its share, back to back */
    fl_scenario_scale_duration(&s, 8 * SEC);
    assert_int_equal(s.duration, 8 * SEC);
    assert_int_equal(s.phases[0].start, 0);
    assert_int_equal(s.phases[0].duration, 2 * SEC);
    assert_int_equal(s.phases[1].start, 2 * SEC);
    assert_int_equal(s.phases[1].duration, 4 * SEC);
    assert_int_equal(s.phases[2].start, 6 * SEC);
    assert_int_equal(s.phases[2].duration, 2 * SEC);
    assert_ptr_equal(fl_scenario_phase_at(&s, 7 * SEC), &s.phases[2]);
    assert_null(fl_scenario_phase_at(&s, 8 * SEC));
    /* the rate: phases keep their proportion; 0 makes all closed loop */
    fl_scenario_set_rate(&s, 250);
    assert_true(s.rate == 250 && s.phases[0].rate == 250 && s.phases[1].rate == 500);
    assert_true(s.phases[2].rate == 0);
    fl_scenario_set_rate(&s, 0);
    assert_true(s.rate == 0 && s.phases[0].rate == 0 && s.phases[1].rate == 0);
    fl_scenario_set_rate(&s, 40);
    assert_true(s.phases[0].rate == 40 && s.phases[1].rate == 40);
    /* connections: proportional, at least one */
    fl_scenario_set_connections(&s, 20);
    assert_int_equal(s.connections, 20);
    assert_int_equal(s.phases[0].connections, 2);
    assert_int_equal(s.phases[1].connections, 20);
    fl_scenario_set_connections(&s, 1);
    assert_int_equal(s.phases[0].connections, 1);
    /* dropping tcp: a quarter of the mix, the rest renormalised */
    double gone = fl_scenario_drop_kind(&s, FL_SCENARIO_TCP);
    assert_true(gone > 0.2499 && gone < 0.2501);
    assert_int_equal(s.nrequests, 1);
    assert_true(s.requests[0].weight > 0.9999 && s.requests[0].weight < 1.0001);
    assert_true(fl_scenario_drop_kind(&s, FL_SCENARIO_ECHO) == 1); /* nothing left */
    fl_scenario_free(&s);
}

/* Every shipped scenario reaches a plateau of live data: every connection
 * ends (by its request count or lifetime), no hold lasts to the end of its
 * connection, and no hold's size drifts (transient sizes may: they are not
 * live data between requests). */
static void check_live_set_bounded(const char *path)
{
    struct fl_scenario s;
    if (fl_scenario_load(path, &s, err, sizeof(err)))
        fail_msg("%s", err);
    for (size_t i = 0; i < s.npopulations; i++) {
        const struct fl_scenario_population *p = &s.populations[i];
        if (!p->requests.set && !p->lifetime.set)
            fail_msg("%s: population %s never closes its connections", path, p->name);
    }
    for (size_t i = 0; i < s.nrequests; i++) {
        const struct fl_scenario_request *q = &s.requests[i];
        if (q->hold_for_conn)
            fail_msg("%s: request %s holds for the whole connection", path, q->name);
        if (q->hold.set && (q->hold.lo != q->hold.lo_end || q->hold.hi != q->hold.hi_end))
            fail_msg("%s: request %s's hold size drifts", path, q->name);
    }
    fl_scenario_free(&s);
}

static void test_live_set_bounded(void **state)
{
    (void)state;
    check_live_set_bounded(quick_path);
    check_live_set_bounded(soak_path);
    check_live_set_bounded(cross_path);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s QUICK_INI SOAK_INI CROSS_INI\n", argv[0]);
        return 2;
    }
    quick_path = argv[1];
    soak_path = argv[2];
    cross_path = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_ini),
        cmocka_unit_test(test_soak_ini),
        cmocka_unit_test(test_live_set_bounded),
        cmocka_unit_test(test_print_round_trip),
        cmocka_unit_test(test_dist_forms),
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_hist_forms),
        cmocka_unit_test(test_hist_sampling),
        cmocka_unit_test(test_hist_drift),
        cmocka_unit_test(test_hist_in_file),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_population_slots),
        cmocka_unit_test(test_bare_seconds),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_defaults_and_syntax),
        cmocka_unit_test(test_errors_sections),
        cmocka_unit_test(test_errors_keys),
        cmocka_unit_test(test_errors_values),
        cmocka_unit_test(test_errors_requests),
        cmocka_unit_test(test_errors_phases),
        cmocka_unit_test(test_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
