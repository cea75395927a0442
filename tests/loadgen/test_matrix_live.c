/* test_matrix_live.c - the page's charts and the live page: the time grid
 * stays within FL__MR_CHART_POINTS buckets and keeps each bucket's largest
 * value (a one-sample spike survives), throughput folds to the mean; the
 * pacing of fl_mr_write_live; the live page of a folder with no runs.json
 * (pairings found under runs/, mode from the folder's name) reloads itself
 * and the final one does not; a page replaces the last by a rename (a
 * reader holding the old page keeps all of it); a four-hour series gives a
 * bounded page that still holds its spike; dygraphs inlined from
 * FRAGLAB_DYGRAPHS_DIR, and one line instead when it is missing or cannot
 * be inlined.
 * `test_matrix_live --write-live DIR running|final` calls fl_mr_write_live
 * (for check_report_charts.sh). */
#include "matrix_report.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "matrix_report_internal.h"

#define MIB 1048576.0

static const char header[] = "t_s,phase,warmup,requests,rps,p99_us,rss_bytes,allocated_bytes\n";

static char root[256];

static void mkdirs(const char *p)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
    assert_int_equal(system(cmd), 0);
}

/* DIR/runs/NAME/timeseries.csv with `n` rows every 0.5 s: RSS 40 MiB, but
 * `spike` MiB at row `at`; the last tenth idle. */
static void write_run(const char *dir, const char *name, int n, int at, double spike)
{
    char d[1024], p[1100];
    snprintf(d, sizeof(d), "%s/runs/%s", dir, name);
    mkdirs(d);
    snprintf(p, sizeof(p), "%s/timeseries.csv", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(header, f);
    for (int i = 1; i <= n; i++) {
        bool idle = i > n - n / 10;
        fprintf(f, "%.3f,%s,%d,%d,%d,%d,%.0f,%.0f\n", i * 0.5, idle ? "idle-tail" : "main", i < 3,
                idle ? 0 : 500, idle ? 0 : 1000, idle ? 0 : 900 + i % 50,
                (i == at ? spike : 40) * MIB, 30 * MIB);
    }
    fclose(f);
}

static char *slurp(const char *dir, const char *name)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return fl__mr_slurp(p);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* A fake libjs-dygraphs in DIR/lib: a script that defines no Dygraph. */
static void fake_lib(const char *dir, const char *js)
{
    char d[1100];
    snprintf(d, sizeof(d), "%s/lib", dir);
    mkdirs(d);
    FILE *f = fopen(strcat(d, "/dygraph.min.js"), "w");
    assert_non_null(f);
    fputs(js, f);
    fclose(f);
    snprintf(d, sizeof(d), "%s/lib/dygraph.min.css", dir);
    f = fopen(d, "w");
    assert_non_null(f);
    fputs(".fake-dygraph-css{}\n/*# sourceMappingURL=dygraph.min.css.map */\n", f);
    fclose(f);
    snprintf(d, sizeof(d), "%s/lib", dir);
    setenv("FRAGLAB_DYGRAPHS_DIR", d, 1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/fraglab-test-live-%d", (int)getpid());
    return mkdir(root, 0777);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Four hours at 500 ms: 28,800 rows onto at most 5,000 buckets, every one
 * filled, each holding the largest of its rows; one spike survives. */
static void test_grid_bounded_max(void **state)
{
    (void)state;
    enum { N = 28800 };
    double *t = malloc(N * sizeof(double)), *v = malloc(N * sizeof(double));
    assert_non_null(t);
    assert_non_null(v);
    for (int i = 0; i < N; i++) {
        t[i] = (i + 1) * 0.5 + (i % 3) * 0.001; /* a tick's jitter */
        v[i] = i % 7;
    }
    v[12345] = 1e9;
    double w = fl__mr_bucket_width(t[N - 1], 0.5, FL__MR_CHART_POINTS);
    size_t nb = fl__mr_buckets(t[N - 1], w);
    assert_true(nb <= FL__MR_CHART_POINTS);
    assert_true(nb >= FL__MR_CHART_POINTS - 1);
    double *out = malloc(nb * sizeof(double));
    assert_non_null(out);
    assert_int_equal(fl__mr_downsample(t, v, N, w, FL__MR_FOLD_MAX, out, nb), 0);
    double top = 0;
    for (size_t k = 0; k < nb; k++) {
        assert_false(isnan(out[k]));
        top = out[k] > top ? out[k] : top;
    }
    assert_true(top == 1e9);
    assert_true(out[(size_t)round(t[12345] / w)] == 1e9);
    for (int i = 0; i < N; i++)
        assert_true(v[i] <= out[(size_t)round(t[i] / w)]);
    free(out);
    free(t);
    free(v);
}

/* A short run keeps its own spacing (one bucket per sample); the mean
 * fold averages, and a NAN cell or an empty bucket stays out. */
static void test_grid_short_and_mean(void **state)
{
    (void)state;
    double w = fl__mr_bucket_width(12, 1, FL__MR_CHART_POINTS);
    assert_true(w == 1);
    assert_int_equal(fl__mr_buckets(12, w), 13);
    double t[] = {0.9, 1.1, 2.0, 3.0, 5.0}, v[] = {10, 20, NAN, 30, 40}, out[6];
    assert_int_equal(fl__mr_downsample(t, v, 5, 1, FL__MR_FOLD_MEAN, out, 6), 0);
    assert_true(isnan(out[0]));
    assert_true(out[1] == 15);
    assert_true(isnan(out[2])); /* its one row had no value */
    assert_true(out[3] == 30);
    assert_true(isnan(out[4]));
    assert_true(out[5] == 40);
    /* Rows past the grid fold into its last bucket. */
    double t2[] = {99}, v2[] = {7};
    assert_int_equal(fl__mr_downsample(t2, v2, 1, 1, FL__MR_FOLD_MAX, out, 6), 0);
    assert_true(out[5] == 7);
}

/* The live page waits nine times its last write's cost, from its end. */
static void test_live_due(void **state)
{
    (void)state;
    assert_true(fl__mr_live_due(100, 0, 0)); /* none yet */
    assert_false(fl__mr_live_due(105, 100, 1));
    assert_true(fl__mr_live_due(109, 100, 1));
    assert_true(fl__mr_live_due(100.02, 100, 0.002));
}

/* No runs.json yet: the pairings under runs/ are read, named and moded by
 * their folder; the live page reloads, the final one does not, and no
 * temporary file is left beside them. */
static void test_live_without_runs_json(void **state)
{
    (void)state;
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/norunsjson", root);
    write_run(dir, "tpc-glibc", 40, 10, 90);
    write_run(dir, "ws-owner-jemalloc", 30, 5, 60);
    fake_lib(dir, "window.FakeDygraph=1;\n//# sourceMappingURL=dygraph.min.js.map\n");
    assert_int_equal(fl_mr_write_live(dir, true), 0);
    char *html = slurp(dir, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "<meta http-equiv=\"refresh\" content=\"5\">"));
    assert_non_null(strstr(html, "id=\"live\""));
    assert_non_null(strstr(html, "2 of 2 pairings with samples"));
    assert_non_null(strstr(html, "<td class=\"l\">ws-owner</td>"));
    assert_non_null(strstr(html, "jemalloc"));
    assert_non_null(strstr(html, "\"tpc-glibc\",\"ws-owner-jemalloc\""));
    /* Inlined, source-map comments cut (no map beside the page). */
    assert_non_null(strstr(html, "window.FakeDygraph=1;"));
    assert_non_null(strstr(html, ".fake-dygraph-css{}"));
    assert_null(strstr(html, "sourceMappingURL"));
    assert_int_equal(count(html, "<div class=\"chart\""), 5); /* no tpc/ws pair: no ratios */
    assert_non_null(strstr(html, "No ws/tpc ratio over time yet"));
    free(html);
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    html = slurp(dir, "index.html");
    assert_non_null(html);
    assert_null(strstr(html, "http-equiv=\"refresh\""));
    assert_null(strstr(html, "id=\"live\""));
    assert_non_null(strstr(html, "<div class=\"chart\" id=\"chart-rss\">"));
    free(html);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -q '^\\.index\\.html\\.'", dir);
    assert_int_not_equal(system(cmd), 0);
    /* A folder with no run at all: an error, not a page. */
    snprintf(cmd, sizeof(cmd), "%s/empty/runs", root);
    mkdirs(cmd);
    snprintf(cmd, sizeof(cmd), "%s/empty", root);
    assert_int_equal(fl_mr_write_live(cmd, false), -ENOENT);
    assert_true(fl_mr_write_live("/nonexistent/fraglab", false) < 0);
}

/* A page replaces the last by a rename: a reader that opened the old page
 * reads all of it, unchanged, after the new one is written. */
static void test_live_write_is_atomic(void **state)
{
    (void)state;
    char dir[400], path[500];
    snprintf(dir, sizeof(dir), "%s/atomic", root);
    write_run(dir, "tpc-glibc", 40, 10, 90);
    unsetenv("FRAGLAB_DYGRAPHS_DIR");
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    char *old = slurp(dir, "index.html");
    assert_non_null(old);
    snprintf(path, sizeof(path), "%s/index.html", dir);
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    FILE *reader = fopen(path, "r");
    assert_non_null(reader);
    write_run(dir, "ws-glibc", 40, 20, 120); /* the next page differs */
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino != b.st_ino);
    size_t len = strlen(old);
    char *seen = malloc(len + 2);
    assert_non_null(seen);
    size_t got = fread(seen, 1, len + 1, reader);
    fclose(reader);
    assert_int_equal(got, len);
    assert_memory_equal(seen, old, len);
    char *now = slurp(dir, "index.html");
    assert_non_null(now);
    assert_non_null(strstr(now, "ws-glibc"));
    assert_null(strstr(old, "ws-glibc"));
    assert_non_null(strstr(now, "</html>\n"));
    free(now);
    free(seen);
    free(old);
}

/* Four hours at 500 ms in two pairings: each chart has at most
 * FL__MR_CHART_POINTS rows, and the RSS spike of one sample is on it. */
static void test_page_bounded(void **state)
{
    (void)state;
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/long", root);
    write_run(dir, "tpc-glibc", 28800, 20001, 777);
    write_run(dir, "ws-glibc", 28800, 3, 40);
    fake_lib(dir, "window.FakeDygraph=1;\n");
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    char *html = slurp(dir, "index.html");
    assert_non_null(html);
    char *rss = strstr(html, "FL_CHARTS.push({id:\"rss\"");
    assert_non_null(rss);
    char *end = strstr(rss, "</script>");
    assert_non_null(end);
    *end = '\0';
    int rows = count(rss, "\n[") + 1;
    assert_true(rows <= FL__MR_CHART_POINTS);
    assert_true(rows > FL__MR_CHART_POINTS / 2);
    assert_non_null(strstr(rss, ",777,40]"));
    *end = '<';
    assert_int_equal(count(html, "<div class=\"chart\""), 6); /* with the ratios */
    assert_true(strlen(html) < 2 * 1024 * 1024);
    free(html);
}

/* Without dygraphs, or with a file that would close its element early: one
 * line naming it, no charts, the tables still there. */
static void test_no_dygraphs(void **state)
{
    (void)state;
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/nolib", root);
    write_run(dir, "tpc-glibc", 40, 10, 90);
    setenv("FRAGLAB_DYGRAPHS_DIR", "/nonexistent/dygraphs", 1);
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    char *html = slurp(dir, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "Interactive charts need Debian's libjs-dygraphs "
                                 "(/nonexistent/dygraphs/dygraph.min.css: No such file"));
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "<table id=\"matrix\">"));
    free(html);
    fake_lib(dir, "var s = '</SCRIPT>';\n");
    assert_int_equal(fl_mr_write_live(dir, false), 0);
    html = slurp(dir, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "dygraph.min.js holds &lt;/script and cannot be inlined"));
    assert_null(strstr(html, "</SCRIPT>"));
    free(html);
    unsetenv("FRAGLAB_DYGRAPHS_DIR");
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--write-live")) {
        int rc = fl_mr_write_live(argv[2], !strcmp(argv[3], "running"));
        if (rc)
            fprintf(stderr, "fl_mr_write_live %s: %s\n", argv[2], strerror(-rc));
        return rc ? 1 : 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_bounded_max),
        cmocka_unit_test(test_grid_short_and_mean),
        cmocka_unit_test(test_live_due),
        cmocka_unit_test(test_live_without_runs_json),
        cmocka_unit_test(test_live_write_is_atomic),
        cmocka_unit_test(test_page_bounded),
        cmocka_unit_test(test_no_dygraphs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
