/* test_matrix_report.c - `fraglab-loadgen report` over a synthetic matrix
 * folder: tpc-glibc flat under load and returning in the idle tail,
 * ws-glibc with two stair-steps that hold, ws-owner-glibc flat, a failed
 * tpc-jemalloc whose error holds '<' and '&', and ws-jemalloc still running
 * (no summary, a half-written last CSV line). Checks matrix.csv's rows and
 * figures, the ratios in matrix.json, index.html (table, escaping) and
 * that no plots are made with plots = false.
 * A second folder checks the overhead figures (peak, steady, after idle),
 * live-data drift (whole load and per phase), comparability of ratios,
 * allocator_detail and overhead.png's script.
 * `test_matrix_report --write-fake DIR` only writes the first folder (for
 * check_report_html.sh), `--write-fake2 DIR` the second. */
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

#include <cjson/cJSON.h>
#include <cmocka.h>

#define MIB 1048576.0

static const char csv_header[] =
    "t_s,phase,warmup,requests,rps,errors,p50_us,p90_us,p99_us,max_us,rss_bytes,"
    "rss_anon_bytes,lazyfree_bytes,anon_huge_bytes,allocated_bytes,active_bytes,"
    "resident_bytes,mapped_bytes,retained_bytes,metadata_bytes,frag_ratio,"
    "cross_thread_frees,task_migrations,server_connections,held_bytes\n";

/* One row: RSS and allocated in MiB; resident left empty (glibc-like). */
static void row(FILE *f, double t, bool idle, bool warm, int req, int p99, double rss_mib,
                double alloc_mib, int cross)
{
    fprintf(f, "%.3f,%s,%d,%d,%d,0,", t, idle ? "idle-tail" : "main", warm, req, req);
    if (idle)
        fputs(",,,,", f);
    else
        fprintf(f, "100,200,%d,%d,", p99, p99 * 2);
    fprintf(f, "%.0f,%.0f,%d,0,%.0f,,,,,,%.4f,%d,0,%d,0\n", rss_mib * MIB, rss_mib * MIB,
            idle ? 4096 : 0, alloc_mib * MIB, (rss_mib - alloc_mib) / alloc_mib, cross,
            idle ? 0 : 10);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load rows t = 1..8 (t = 1 is warm-up), idle-tail rows t = 9..12. The
 * summary has errors.unavailable = `unavailable` (none when negative). */
static void write_run(const char *root, const char *name, const double *rss, int nrows,
                      bool summary, double rps, int unavailable)
{
    char d[1024];
    snprintf(d, sizeof(d), "%s/runs/%s", root, name);
    assert_true(mkdir(d, 0777) == 0 || errno == EEXIST);
    char p[1100];
    snprintf(p, sizeof(p), "%s/timeseries.csv", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(csv_header, f);
    for (int i = 0; i < nrows; i++)
        /* The last load row (i = 7) is sampled as the load stops: little allocated. */
        row(f, i + 1, i >= 8, i == 0, i >= 8 ? 0 : 1000, 500 + 10 * i, rss[i], i >= 7 ? 2 : 10,
            100 * i);
    if (!summary)
        fputs("4.000,main,0,10", f); /* being written */
    fclose(f);
    if (!summary)
        return;
    char s[1024], errs[64] = "";
    if (unavailable >= 0)
        snprintf(errs, sizeof(errs), ", \"errors\": {\"unavailable\": %d}", unavailable);
    snprintf(s, sizeof(s),
             "{\"throughput_rps\": %.1f, \"latency_us\": {\"p99\": 777},"
             " \"server\": {\"allocator\": \"glibc\", \"allocator_version\": \"2.36\","
             " \"rss_peak_bytes\": 1, \"cross_thread_frees\": 5}%s}\n",
             rps, errs);
    write_file(d, "summary.json", s);
}

static const double tpc_glibc[] = {40, 50, 50, 51, 50, 50, 50, 50, 30, 20, 20, 20};
/* Peaks at the last load row, sampled as the load stopped. */
static const double ws_glibc[] = {40, 50, 50, 70, 70, 70, 90, 92, 88, 88, 88, 88};
/* Creeps up while idle, with little left allocated (as tcmalloc does). */
static const double owner_glibc[] = {40, 50, 50, 50, 50, 50, 50, 50, 51, 51, 52, 52};
static const double ws_jemalloc[] = {40, 60, 61};

static const char runs_json[] =
    "{\"scenario\": \"quick\", \"duration_s\": 8, \"idle_s\": 4, \"interval_s\": 1,"
    " \"started_at\": \"2026-01-01T00:00:00Z\", \"manifest\": {\"kernel\": \"6.1.0-test\","
    " \"glibc\": \"2.36\", \"thp\": \"always [madvise] never\", \"cpus\": 2,"
    " \"server_threads\": 2, \"command\": [\"matrix\", \"--idle\", \"4s\"]}, \"runs\": ["
    "{\"name\": \"tpc-glibc\", \"mode\": \"tpc\", \"free_policy\": \"local\","
    " \"allocator\": \"glibc\", \"allocator_spec\": \"glibc\", \"dir\": \"runs/tpc-glibc\","
    " \"status\": \"ok\", \"error\": null},"
    "{\"name\": \"ws-glibc\", \"mode\": \"ws\", \"free_policy\": \"local\","
    " \"allocator\": \"glibc\", \"allocator_spec\": \"glibc\", \"dir\": \"runs/ws-glibc\","
    " \"status\": \"ok\", \"error\": null},"
    "{\"name\": \"ws-owner-glibc\", \"mode\": \"ws-owner\", \"free_policy\": \"owner\","
    " \"allocator\": \"glibc\", \"allocator_spec\": \"glibc\", \"dir\": \"runs/ws-owner-glibc\","
    " \"status\": \"ok\", \"error\": null},"
    "{\"name\": \"tpc-jemalloc\", \"mode\": \"tpc\", \"free_policy\": \"local\","
    " \"allocator\": \"jemalloc\", \"allocator_spec\": \"jemalloc:dirty_decay_ms:0\","
    " \"dir\": \"runs/tpc-jemalloc\", \"status\": \"failed\","
    " \"error\": \"refused: <script>x</script> & gone\"},"
    "{\"name\": \"ws-jemalloc\", \"mode\": \"ws\", \"free_policy\": \"local\","
    " \"allocator\": \"jemalloc\", \"allocator_spec\": \"jemalloc\","
    " \"dir\": \"runs/ws-jemalloc\", \"status\": \"pending\", \"error\": null}]}\n";

static void write_fake(const char *root)
{
    char d[1024];
    assert_true(mkdir(root, 0777) == 0 || errno == EEXIST);
    snprintf(d, sizeof(d), "%s/runs", root);
    assert_true(mkdir(d, 0777) == 0 || errno == EEXIST);
    write_file(root, "runs.json", runs_json);
    write_run(root, "tpc-glibc", tpc_glibc, 12, true, 1000, 0);
    write_run(root, "ws-glibc", ws_glibc, 12, true, 2000, 12);
    write_run(root, "ws-owner-glibc", owner_glibc, 12, true, 1500, -1);
    write_run(root, "ws-jemalloc", ws_jemalloc, 3, false, 0, -1);
    snprintf(d, sizeof(d), "%s/runs/tpc-jemalloc", root);
    assert_true(mkdir(d, 0777) == 0 || errno == EEXIST);
}

/* The second folder, for the overhead figures: its own header, in another
 * column order, with allocator-specific columns (empty where n/a). */
static const char csv_header2[] =
    "t_s,phase,warmup,requests,rps,frag_ratio,rss_bytes,allocated_bytes,rss_anon_bytes,"
    "resident_bytes,mapped_bytes,retained_bytes,je_dirty_bytes,je_muzzy_bytes,"
    "tc_thread_free_bytes,mi_committed_bytes\n";

/* A byte figure given in MiB, or an empty cell for NAN. */
static void mib(FILE *f, double v)
{
    if (isnan(v))
        fputs(",", f);
    else
        fprintf(f, ",%.0f", v * MIB);
}

/* One row of csv_header2; v = rss, allocated, anon, resident, mapped,
 * retained, je_dirty, je_muzzy, tc_thread_free, mi_committed in MiB. */
static void row2(FILE *f, int t, const char *phase, bool warm, int rps, const double v[10])
{
    fprintf(f, "%d.000,%s,%d,%d,%d,", t, phase, warm, rps, rps);
    for (int k = 0; k < 10; k++)
        mib(f, v[k]);
    fputc('\n', f);
}

static FILE *open_run2(const char *root, const char *name, const char *mode, double rps)
{
    char d[1024], p[1100];
    snprintf(d, sizeof(d), "%s/runs/%s", root, name);
    assert_true(mkdir(d, 0777) == 0 || errno == EEXIST);
    snprintf(p, sizeof(p),
             "{\"throughput_rps\": %.1f, \"connections_opened\": 50000, \"measured_s\": 10,"
             " \"server\": {\"mode\": \"%s\", \"free_policy\": \"%s\"}}\n",
             rps, strncmp(mode, "ws", 2) ? "tpc" : "ws",
             strcmp(mode, "ws-owner") ? "local" : "owner");
    write_file(d, "summary.json", p);
    snprintf(p, sizeof(p), "%s/timeseries.csv", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(csv_header2, f);
    return f;
}

/* tpc-jemalloc by hand (MiB): t = 1 warm-up, 2..11 load, 12..13 idle tail.
 * Load rows t = 2..11, second half t = 7..10 (t = 11 is the last load row,
 * sampled as the load stops: its RSS is the highest, yet not the peak). */
static const double je_rows[13][3] = {{30, 8, 20},  {40, 10, 30}, {42, 10, 32}, {45, 10, 35},
                                      {50, 10, 40}, {60, 12, 45}, {55, 10, 44}, {54, 10, 43},
                                      {57, 11, 45}, {53, 10, 42}, {70, 2, 50},  {40, 2, 30},
                                      {35, 2, 28}};

static void write_tpc_jemalloc(const char *root)
{
    FILE *f = open_run2(root, "tpc-jemalloc", "tpc", 1005);
    for (int i = 0; i < 13; i++) {
        const double *r = je_rows[i];
        double v[10] = {r[0], r[1], r[0], r[2], NAN, 100, 4 + (i >= 6 ? i - 6 : 0), 1, NAN, NAN};
        row2(f, i + 1, i >= 11 ? "idle-tail" : "main", i == 0, i >= 11 ? 0 : 1000, v);
    }
    fclose(f);
}

/* A run with `live` MiB allocated under load (climbing by `climb` of it
 * over the second half, t = 7..10) and `over` MiB of overhead; the last
 * load row and the idle tail keep the RSS with 2 MiB allocated. The heap
 * is resident for jemalloc, mapped (and mi_committed) for mimalloc. */
static void write_gen(const char *root, const char *name, const char *mode, double rps, double live,
                      double over, double climb)
{
    bool mi = strstr(name, "mimalloc") != NULL;
    FILE *f = open_run2(root, name, mode, rps);
    double rss = 0;
    for (int i = 0; i < 13; i++) {
        double a = i >= 10 ? 2 : i >= 6 ? live * (1 + climb * (i - 6) / 3) : live;
        rss = i >= 10 ? rss : a + over;
        double heap = a + over * 0.8;
        double v[10] = {rss, a,   rss, mi ? NAN : heap, mi ? heap : NAN, NAN,
                        NAN, NAN, NAN, mi ? heap : NAN};
        row2(f, i + 1, i >= 11 ? "idle-tail" : "main", i == 0, i >= 11 ? 0 : 1000, v);
    }
    fclose(f);
}

/* Two load phases: `a` (t = 2..6) whose second half (t = 4..6) climbs,
 * `b` (t = 7..11) flat; the whole load's second half (t = 7..10) is flat. */
static void write_phased(const char *root)
{
    FILE *f = open_run2(root, "tpc-glibc", "tpc", 1000);
    for (int i = 0; i < 13; i++) {
        double a = i == 4 ? 11 : i == 5 ? 12 : 10;
        double v[10] = {a + 30, a, a + 30, NAN, a + 25, NAN, NAN, NAN, NAN, NAN};
        row2(f, i + 1, i >= 11 ? "idle-tail" : i >= 6 ? "b" : "a", i == 0, i >= 11 ? 0 : 1000, v);
    }
    fclose(f);
}

static const char runs_json2[] = "{\"scenario\": \"overhead\", \"runs\": ["
#define RUN2(name, mode, alloc)                                                                    \
    "{\"name\": \"" name "\", \"mode\": \"" mode "\", \"allocator\": \"" alloc "\","               \
    " \"allocator_spec\": \"" alloc "\", \"dir\": \"runs/" name "\", \"status\": \"ok\"}"
    RUN2("tpc-jemalloc", "tpc", "jemalloc") "," RUN2("ws-jemalloc", "ws", "jemalloc") "," RUN2(
        "tpc-mimalloc", "tpc",
        "mimalloc") "," RUN2("ws-mimalloc", "ws",
                             "mimalloc") "," RUN2("ws-owner-mimalloc", "ws-owner",
                                                  "mimalloc") "," RUN2("tpc-glibc", "tpc", "glibc")
#undef RUN2
        "]}\n";

/* jemalloc: ws within 1 % of tpc's throughput and 4 % of its live data
 * (comparable); mimalloc: ws 5 % faster than tpc (not comparable), and
 * ws-owner's live data climbs 20 % over the second half. */
static void write_fake2(const char *root)
{
    char d[1024];
    assert_true(mkdir(root, 0777) == 0 || errno == EEXIST);
    snprintf(d, sizeof(d), "%s/runs", root);
    assert_true(mkdir(d, 0777) == 0 || errno == EEXIST);
    write_file(root, "runs.json", runs_json2);
    write_tpc_jemalloc(root);
    write_gen(root, "ws-jemalloc", "ws", 1000, 10.4, 89, 0);
    write_gen(root, "tpc-mimalloc", "tpc", 950, 20, 30, 0);
    write_gen(root, "ws-mimalloc", "ws", 1000, 20, 45, 0);
    write_gen(root, "ws-owner-mimalloc", "ws-owner", 1000, 40, 5, 0.2);
    write_phased(root);
}

static char *slurp(const char *root, const char *name)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", root, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    /* Whole: the page inlines dygraphs (130 KiB) when it is installed. */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n += fread(buf + n, 1, cap - n - 1, f)) == cap - 1) {
        buf = realloc(buf, cap *= 2);
        assert_non_null(buf);
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The cell of matrix.csv in the row named `name` under column `col`
 * (no quoted commas in these rows). */
static bool csv_cell(const char *csv, const char *name, const char *col, char *out, size_t n)
{
    char *copy = strdup(csv), *save = NULL;
    int want = -1;
    bool found = false;
    char *hdr = strtok_r(copy, "\n", &save);
    char *f[64];
    int nf = 0;
    for (char *p = hdr; p && nf < 64; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        f[nf++] = p;
    for (int k = 0; k < nf; k++)
        if (!strncmp(f[k], col, strlen(col)) && (f[k][strlen(col)] == ',' || !f[k][strlen(col)]))
            want = k;
    for (char *line = strtok_r(NULL, "\n", &save); line && want >= 0 && !found;
         line = strtok_r(NULL, "\n", &save)) {
        nf = 0;
        for (char *p = line; p && nf < 64;) {
            f[nf++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
        if (nf > want && nf > 2 && !strcmp(f[2], name)) {
            snprintf(out, n, "%s", f[want]);
            found = true;
        }
    }
    free(copy);
    return found;
}

static double csv_num(const char *csv, const char *name, const char *col)
{
    char b[256];
    if (!csv_cell(csv, name, col, b, sizeof(b)))
        fail_msg("matrix.csv: no %s / %s", name, col);
    return b[0] ? strtod(b, NULL) : NAN;
}

static char root[256], root2[300];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/fraglab-test-report-%d", (int)getpid());
    snprintf(root2, sizeof(root2), "%s-overhead", root);
    write_fake(root);
    write_fake2(root2);
    char err[256] = "";
    FILE *devnull = fopen("/dev/null", "w");
    int rc = fl_lg_report_dir(root, false, devnull, NULL, err, sizeof(err));
    /* With plots: plots.gp is written even where gnuplot is missing. */
    if (rc == 0)
        rc = fl_lg_report_dir(root2, true, devnull, NULL, err, sizeof(err));
    fclose(devnull);
    if (rc)
        fprintf(stderr, "report: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, root2);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_csv_rows(void **state)
{
    (void)state;
    char *csv = slurp(root, "matrix.csv");
    assert_non_null(csv);
    assert_true(!strncmp(csv, "mode,allocator,", 15));
    int lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 5);
    char b[256];
    assert_true(csv_cell(csv, "tpc-jemalloc", "status", b, sizeof(b)));
    assert_string_equal(b, "failed");
    assert_true(csv_cell(csv, "ws-glibc", "mode", b, sizeof(b)));
    assert_string_equal(b, "ws");
    free(csv);
}

static void test_csv_figures(void **state)
{
    (void)state;
    char *csv = slurp(root, "matrix.csv");
    assert_non_null(csv);
    /* tpc-glibc: peak 51 MiB at t = 4, steady the median of t = 5..8, 20 MiB after idle. */
    assert_true(csv_num(csv, "tpc-glibc", "rss_peak_bytes") == 51 * MIB);
    assert_true(csv_num(csv, "tpc-glibc", "rss_steady_bytes") == 50 * MIB);
    assert_true(csv_num(csv, "tpc-glibc", "rss_after_idle_bytes") == 20 * MIB);
    assert_float_equal(csv_num(csv, "tpc-glibc", "returned_share"), 31.0 / 51, 1e-4);
    assert_true(csv_num(csv, "tpc-glibc", "stair_steps") == 0);
    assert_true(csv_num(csv, "tpc-glibc", "throughput_rps") == 1000); /* the summary's */
    assert_true(csv_num(csv, "tpc-glibc", "p99_us") == 777);
    assert_true(csv_num(csv, "tpc-glibc", "allocated_peak_bytes") == 10 * MIB);
    assert_true(csv_num(csv, "tpc-glibc", "lazyfree_after_idle_bytes") == 4096);
    assert_true(csv_num(csv, "tpc-glibc", "cross_thread_frees") == 700); /* last load row */
    assert_true(isnan(csv_num(csv, "tpc-glibc", "resident_peak_bytes")));
    /* ws-glibc: two steps (t = 4: 50 -> 70, t = 7: 70 -> 90) that hold through idle. */
    assert_true(csv_num(csv, "ws-glibc", "stair_steps") == 2);
    char b[256];
    assert_true(csv_cell(csv, "ws-glibc", "stair_step_times_s", b, sizeof(b)));
    assert_string_equal(b, "4.000;7.000");
    assert_true(csv_num(csv, "ws-glibc", "rss_peak_bytes") == 92 * MIB);
    /* The allocator's figures come from the highest row under load (t = 7),
     * not from the last one (t = 8), sampled once the load stopped. */
    assert_true(csv_num(csv, "ws-glibc", "allocated_peak_bytes") == 10 * MIB);
    assert_float_equal(csv_num(csv, "ws-glibc", "frag_ratio_at_peak"), 8.0, 1e-4);
    assert_true(csv_num(csv, "ws-glibc", "rss_after_idle_bytes") == 88 * MIB);
    assert_true(csv_num(csv, "ws-owner-glibc", "stair_steps") == 0);
    /* Its peak is idle; the allocator's figures are those of the peak under load. */
    assert_true(csv_num(csv, "ws-owner-glibc", "rss_peak_bytes") == 52 * MIB);
    assert_true(csv_num(csv, "ws-owner-glibc", "allocated_peak_bytes") == 10 * MIB);
    assert_float_equal(csv_num(csv, "ws-owner-glibc", "frag_ratio_at_peak"), 4.0, 1e-4);
    /* The failed run has no figures; the partial one has its rows' figures. */
    assert_true(isnan(csv_num(csv, "tpc-jemalloc", "rss_peak_bytes")));
    assert_true(isnan(csv_num(csv, "tpc-jemalloc", "stair_steps")));
    assert_true(csv_num(csv, "ws-jemalloc", "complete") == 0);
    assert_true(csv_num(csv, "ws-jemalloc", "load_rows") == 3); /* the half line left out */
    assert_true(csv_num(csv, "ws-jemalloc", "rss_peak_bytes") == 61 * MIB);
    assert_true(csv_num(csv, "ws-jemalloc", "throughput_rps") == 1000); /* rows after warm-up */
    assert_true(csv_num(csv, "ws-jemalloc", "p99_us") == 520);
    assert_true(isnan(csv_num(csv, "ws-jemalloc", "rss_after_idle_bytes")));
    free(csv);
}

static void test_ratios(void **state)
{
    (void)state;
    char *text = slurp(root, "matrix.json");
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    const cJSON *ratios = cJSON_GetObjectItemCaseSensitive(j, "ratios");
    assert_int_equal(cJSON_GetArraySize(ratios), 2); /* ws and ws-owner over tpc, glibc only */
    const cJSON *r = cJSON_GetArrayItem(ratios, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "ratio")->valuestring, "ws/tpc");
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "rss_peak")->valuedouble, 92.0 / 51,
                       1e-9);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "rss_after_idle")->valuedouble, 4.4,
                       1e-9);
    r = cJSON_GetArrayItem(ratios, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "ratio")->valuestring, "ws-owner/tpc");
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "rss_after_idle")->valuedouble, 2.6,
                       1e-9);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "manifest");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "kernel")->valuestring, "6.1.0-test");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "rows")), 5);
    cJSON_Delete(j);
}

/* The verdict after the table: in matrix.json and on the page; with
 * --repeats (here the folder again) it counts the runs, and a repeat of
 * other traffic is refused with one line. */
static void test_verdict(void **state)
{
    (void)state;
    char *text = slurp(root, "matrix.json");
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
    assert_non_null(v);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "runs")->valueint, 1);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "lines")) > 0);
    cJSON_Delete(j);
    char *html = slurp(root, "index.html");
    assert_non_null(strstr(html, "<h2>Verdict</h2>"));
    free(html);
    char err[512] = "";
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(fl_lg_report_dir(root, false, devnull, root, err, sizeof(err)), 0);
    text = slurp(root, "matrix.json");
    j = cJSON_Parse(text);
    free(text);
    v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "runs")->valueint, 2);
    cJSON_Delete(j);
    assert_true(fl_lg_report_dir(root, false, devnull, root2, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "ran scenario overhead"));
    assert_non_null(strstr(err, "not the same traffic"));
    fclose(devnull);
    /* back to the one-run folder the other tests read */
    assert_int_equal(fl_lg_report_dir(root, false, NULL, NULL, err, sizeof(err)), 0);
}

static void test_html(void **state)
{
    (void)state;
    char *html = slurp(root, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "<table id=\"matrix\">"));
    int rows = 0;
    for (const char *p = html; (p = strstr(p, "<tr class=\"run")); p++)
        rows++;
    assert_int_equal(rows, 5);
    assert_non_null(strstr(html, "refused: &lt;script&gt;x&lt;/script&gt; &amp; gone"));
    assert_null(strstr(html, "<script>x</script>"));
    assert_non_null(strstr(html, "always [madvise] never"));
    assert_non_null(strstr(html, "How to read this"));
    assert_null(strstr(html, "<img")); /* plots = false */
    /* Narrow enough for a 1400 px window: the unit in the headers, not in
     * every cell, and the allocator's own figures in a table of their own. */
    assert_non_null(strstr(html, "<th colspan=\"3\">RSS (MiB)</th>"));
    assert_null(strstr(html, " MiB</td>"));
    assert_non_null(strstr(html, "<table id=\"detail\">"));
    int detail = 0;
    for (const char *p = html; (p = strstr(p, "<tr class=\"detail")); p++)
        detail++;
    assert_int_equal(detail, 5);
    free(html);
    char p[400];
    snprintf(p, sizeof(p), "%s/rss.png", root);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/plots.gp", root);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_missing_dir(void **state)
{
    (void)state;
    char err[256] = "";
    assert_true(fl_lg_report_dir("/nonexistent/fraglab", false, NULL, NULL, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "runs.json"));
    char *argv[] = {"report", NULL};
    assert_int_equal(fl_lg_cmd_report(1, argv), 2);
    char *argv2[] = {"report", "/nonexistent/fraglab", "--no-plots", NULL};
    assert_int_equal(fl_lg_cmd_report(3, argv2), 1);
}

/* The colour plots.gp gives the RSS line of run `name` in rss.png ("" if
 * none; overhead.png, drawn first, colours its layers, not its runs). */
static void line_colour(const char *gp, const char *name, char *out, size_t n)
{
    char key[256];
    snprintf(key, sizeof(key), "'runs/%s/timeseries.csv' using", name);
    const char *rss = strstr(gp, "set output 'rss.png'");
    const char *p = rss ? strstr(rss, key) : NULL, *c = p ? strstr(p, "lc rgb '") : NULL;
    out[0] = '\0';
    if (c)
        snprintf(out, n, "%.7s", c + 8);
}

/* An allocator keeps its colour in every panel, even where a mode lacks
 * one of the others (here ws-glibc, whose rows are gone). */
static void test_plot_colours(void **state)
{
    (void)state;
    char dir[300], p[400];
    snprintf(dir, sizeof(dir), "%s-colours", root);
    write_fake(dir);
    snprintf(p, sizeof(p), "%s/runs/ws-glibc/timeseries.csv", dir);
    assert_int_equal(unlink(p), 0);
    char err[256] = "";
    FILE *devnull = fopen("/dev/null", "w");
    /* Plots on: gnuplot itself may be missing; plots.gp is written first. */
    assert_int_equal(fl_lg_report_dir(dir, true, devnull, NULL, err, sizeof(err)), 0);
    fclose(devnull);
    char *gp = slurp(dir, "plots.gp");
    assert_non_null(gp);
    char tpc[16], owner[16], wsje[16];
    line_colour(gp, "tpc-glibc", tpc, sizeof(tpc));
    line_colour(gp, "ws-owner-glibc", owner, sizeof(owner));
    line_colour(gp, "ws-jemalloc", wsje, sizeof(wsje));
    assert_int_equal(strlen(tpc), 7);
    assert_string_equal(tpc, owner);
    assert_int_equal(strlen(wsje), 7);
    assert_string_not_equal(tpc, wsje); /* the first line of its panel, yet not glibc's */
    free(gp);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* bars.png: the key sits above the plot box (inside it covered the tallest
 * bars), and fixed margins leave the y label room beside six-digit tics
 * ("req/s" was clipped) and below for the rotated pairing names. */
static void test_bars_plot(void **state)
{
    (void)state;
    char dir[300];
    snprintf(dir, sizeof(dir), "%s-bars", root);
    write_fake(dir);
    char err[256] = "";
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(fl_lg_report_dir(dir, true, devnull, NULL, err, sizeof(err)), 0);
    fclose(devnull);
    char *gp = slurp(dir, "plots.gp");
    assert_non_null(gp);
    const char *bars = strstr(gp, "set output 'bars.png'");
    assert_non_null(bars);
    assert_null(strstr(bars, "set key inside"));
    const char *key = strstr(bars, "set key at graph ");
    assert_non_null(key);
    double x, y;
    char where[32];
    assert_int_equal(sscanf(key, "set key at graph %lf, graph %lf center %31s", &x, &y, where), 3);
    assert_true(y >= 1.0);                /* at or above the top of the plot box */
    assert_string_equal(where, "bottom"); /* the key's bottom edge there: all of it above */
    int lmargin = 0, bmargin = 0;
    const char *lm = strstr(bars, "set lmargin "), *bm = strstr(bars, "set bmargin ");
    assert_non_null(lm);
    assert_non_null(bm);
    assert_true(lm < strstr(bars, "plot $bars") && bm < strstr(bars, "plot $bars"));
    assert_int_equal(sscanf(lm, "set lmargin %d", &lmargin), 1);
    assert_int_equal(sscanf(bm, "set bmargin %d", &bmargin), 1);
    assert_true(lmargin >= 10); /* "250000" tics and the "req/s" label beside them */
    assert_true(bmargin >= 10); /* pairing names rotated by 30 degrees */
    /* Both panels' y labels are set, each before its plot. */
    const char *rss = strstr(bars, "set ylabel 'MiB'"), *rps = strstr(bars, "set ylabel 'req/s'");
    assert_non_null(rss);
    assert_non_null(rps);
    assert_true(rss < rps);
    free(gp);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static cJSON *read_json2(const char *dir)
{
    char *text = slurp(dir, "matrix.json");
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* The row of matrix.json named `name`. */
static const cJSON *json_row(const cJSON *j, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "rows"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return it;
    }
    fail_msg("matrix.json: no row %s", name);
    return NULL;
}

/* The ratio `what` ("ws/tpc") of `alloc` in matrix.json. */
static const cJSON *json_ratio(const cJSON *j, const char *alloc, const char *what)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "ratios"))
    {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(it, "allocator")->valuestring, alloc) &&
            !strcmp(cJSON_GetObjectItemCaseSensitive(it, "ratio")->valuestring, what))
            return it;
    }
    fail_msg("matrix.json: no ratio %s %s", what, alloc);
    return NULL;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Overhead = RSS - allocated at the RSS peak under load (t = 6: 60 - 12,
 * not the last load row's 70), steady (median over t = 7..10 of 45, 44,
 * 46, 43) and after idle (35 - 2); live data the median allocated there. */
static void test_overhead_figures(void **state)
{
    (void)state;
    char *csv = slurp(root2, "matrix.csv");
    assert_non_null(csv);
    assert_true(csv_num(csv, "tpc-jemalloc", "overhead_peak_bytes") == 48 * MIB);
    assert_true(csv_num(csv, "tpc-jemalloc", "overhead_steady_bytes") == 44.5 * MIB);
    assert_true(csv_num(csv, "tpc-jemalloc", "overhead_after_idle_bytes") == 33 * MIB);
    assert_true(csv_num(csv, "tpc-jemalloc", "live_bytes") == 10 * MIB);
    assert_true(csv_num(csv, "tpc-jemalloc", "rss_steady_bytes") == 54.5 * MIB); /* same rows */
    assert_true(csv_num(csv, "tpc-jemalloc", "rss_peak_bytes") == 70 * MIB);
    free(csv);
    cJSON *j = read_json2(root2);
    const cJSON *r = json_row(j, "tpc-jemalloc");
    assert_true(jnum(r, "overhead_peak_bytes") == 48 * MIB);
    assert_true(jnum(r, "overhead_steady_bytes") == 44.5 * MIB);
    assert_true(jnum(r, "overhead_after_idle_bytes") == 33 * MIB);
    assert_string_equal(jstr(r, "heap_basis"), "resident_bytes");
    assert_string_equal(jstr(json_row(j, "tpc-mimalloc"), "heap_basis"), "mapped_bytes");
    cJSON_Delete(j);
}

/* Live data climbing 20 % over the second half is flagged (beside the
 * pairing and its stair-step); flat live data is not; a phase that climbs
 * is flagged even when the whole load's second half is flat. */
static void test_drift(void **state)
{
    (void)state;
    cJSON *j = read_json2(root2);
    const cJSON *r = json_row(j, "ws-owner-mimalloc");
    assert_float_equal(jnum(r, "live_drift_share"), 8.0 / 44, 1e-6);
    static const char note[] = "RSS follows live data here (live data +18 % over the second half)";
    assert_string_equal(jstr(r, "live_data_note"), note);
    assert_true(jnum(r, "stair_steps") >= 1);
    assert_string_equal(jstr(r, "stair_step_note"), note);
    r = json_row(j, "tpc-mimalloc");
    assert_float_equal(jnum(r, "live_drift_share"), 0, 1e-9);
    assert_null(jstr(r, "live_data_note"));
    assert_null(jstr(r, "stair_step_note"));
    r = json_row(j, "tpc-glibc");
    assert_float_equal(jnum(r, "live_drift_share"), 0, 1e-9); /* matrix-check.py's figure */
    assert_string_equal(jstr(r, "live_drift_phase"), "a");
    assert_float_equal(jnum(r, "live_drift_phase_share"), 2.0 / 11, 1e-6);
    assert_string_equal(jstr(r, "live_data_note"),
                        "RSS follows live data here (live data +18 % over the second half of "
                        "phase a)");
    cJSON_Delete(j);
    char *html = slurp(root2, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, note));
    assert_non_null(strstr(html, "not fragmentation alone: RSS follows live data"));
    free(html);
}

/* Throughput within 1 % and live data within 4 %: the ratio stands; 5 %
 * apart in throughput: not comparable, and why. */
static void test_comparable(void **state)
{
    (void)state;
    cJSON *j = read_json2(root2);
    const cJSON *x = json_ratio(j, "jemalloc", "ws/tpc");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "comparable")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(x, "not_comparable_reason")));
    assert_float_equal(jnum(x, "overhead_steady"), 89.0 / 44.5, 1e-9);
    assert_float_equal(jnum(x, "overhead_peak"), 89.0 / 48, 1e-9);
    x = json_ratio(j, "mimalloc", "ws/tpc");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "comparable")));
    assert_string_equal(jstr(x, "not_comparable_reason"), "throughput differs 5.0 %");
    assert_float_equal(jnum(x, "overhead_steady"), 1.5, 1e-9); /* still carried */
    x = json_ratio(j, "mimalloc", "ws-owner/tpc");
    assert_string_equal(jstr(x, "not_comparable_reason"),
                        "throughput differs 5.0 %, live data differs 55 %");
    cJSON_Delete(j);
    char *html = slurp(root2, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "not comparable: throughput differs 5.0 %"));
    free(html);
}

/* allocator_detail: the allocator-specific columns the CSV filled, at the
 * steady point; none for a CSV without them (the first folder). */
static void test_allocator_detail(void **state)
{
    (void)state;
    cJSON *j = read_json2(root2);
    const cJSON *d =
        cJSON_GetObjectItemCaseSensitive(json_row(j, "tpc-jemalloc"), "allocator_detail");
    assert_true(cJSON_IsObject(d));
    assert_true(jnum(d, "je_dirty_bytes") == 5.5 * MIB); /* median of 4, 5, 6, 7 */
    assert_true(jnum(d, "je_muzzy_bytes") == 1 * MIB);
    assert_true(jnum(d, "retained_bytes") == 100 * MIB);
    assert_null(cJSON_GetObjectItemCaseSensitive(d, "tc_thread_free_bytes")); /* empty cells */
    assert_null(cJSON_GetObjectItemCaseSensitive(d, "mi_committed_bytes"));
    d = cJSON_GetObjectItemCaseSensitive(json_row(j, "ws-mimalloc"), "allocator_detail");
    assert_true(jnum(d, "mi_committed_bytes") == (20 + 45 * 0.8) * MIB);
    cJSON_Delete(j);
    j = read_json2(root);
    d = cJSON_GetObjectItemCaseSensitive(json_row(j, "tpc-glibc"), "allocator_detail");
    assert_true(cJSON_IsObject(d));
    assert_int_equal(cJSON_GetArraySize(d), 0);
    cJSON_Delete(j);
}

/* overhead.png: one panel per pairing on one y scale, the three layers,
 * drawn detail columns as lines (not retained: address space only). */
static void test_overhead_plot(void **state)
{
    (void)state;
    char *gp = slurp(root2, "plots.gp");
    assert_non_null(gp);
    assert_non_null(strstr(gp, "set output 'overhead.png'"));
    assert_non_null(strstr(gp, "set multiplot layout 3,2"));
    const char *p = strstr(gp, "set title 'tpc-jemalloc (heap: resident_bytes)");
    assert_non_null(p);
    const char *end = strstr(p + 1, "set title");
    assert_non_null(end);
    char *panel = strndup(p, (size_t)(end - p));
    assert_non_null(strstr(panel, "title 'live'"));
    assert_non_null(strstr(panel, "title 'overhead in the heap'"));
    assert_non_null(strstr(panel, "title 'RSS outside the heap'"));
    assert_non_null(strstr(panel, "title 'je_dirty_bytes'"));
    assert_null(strstr(panel, "retained_bytes"));
    assert_null(strstr(panel, "tc_thread_free_bytes"));
    free(panel);
    /* One y scale for every panel: the highest stack, ws-jemalloc's 99.4 MiB
     * RSS, plus 5 % (retained's 100 MiB is not drawn, so not counted). */
    const char *fig = strstr(gp, "set output 'overhead.png'"),
               *stop = strstr(fig, "unset multiplot");
    const char *y = strstr(fig, "set yrange");
    assert_true(y && y < stop);
    assert_true(!strncmp(y, "set yrange [0:104.37]", 21));
    const char *y2 = strstr(y + 1, "set yrange");
    assert_true(!y2 || y2 > stop);
    free(gp);
}

/* A pairing whose server refused requests for want of memory (503s in its
 * summary) says so in every output, and its ratios do not compare. */
static void test_alloc_failures(void **state)
{
    (void)state;
    static const char note[] = "the server refused 12 requests for want of memory (503)";
    char *csv = slurp(root, "matrix.csv");
    assert_non_null(csv);
    assert_true(csv_num(csv, "ws-glibc", "alloc_failures") == 12);
    assert_true(csv_num(csv, "tpc-glibc", "alloc_failures") == 0);
    assert_true(isnan(csv_num(csv, "ws-owner-glibc", "alloc_failures"))); /* an older summary */
    free(csv);
    cJSON *j = read_json2(root);
    assert_string_equal(jstr(json_row(j, "ws-glibc"), "alloc_failure_note"), note);
    assert_null(jstr(json_row(j, "tpc-glibc"), "alloc_failure_note"));
    const cJSON *x = json_ratio(j, "glibc", "ws/tpc");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "comparable")));
    assert_non_null(strstr(jstr(x, "not_comparable_reason"), "for want of memory"));
    cJSON_Delete(j);
    char *html = slurp(root, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, note));
    free(html);
}

/* `report DIR` on one run's folder (no runs.json) reports that run; on a
 * folder that is neither kind it says what DIR should hold. */
static void test_single_run(void **state)
{
    (void)state;
    char dir[300], run[400], partial[400], cmd[1300], err[512] = "";
    snprintf(dir, sizeof(dir), "%s-single", root);
    write_fake(dir); /* its runs/ folder; runs.json is not read below */
    write_run(dir, "tpc-glibc", tpc_glibc, 12, true, 1000, -1);
    snprintf(run, sizeof(run), "%s/runs/tpc-glibc", dir);
    assert_int_equal(fl_lg_report_dir(run, false, NULL, NULL, err, sizeof(err)), 0);
    char *csv = slurp(run, "matrix.csv");
    assert_non_null(csv);
    char b[256];
    assert_true(csv_cell(csv, "tpc-glibc", "status", b, sizeof(b)));
    assert_string_equal(b, "ok");
    assert_true(csv_cell(csv, "tpc-glibc", "allocator", b, sizeof(b)));
    assert_string_equal(b, "glibc");
    assert_true(csv_num(csv, "tpc-glibc", "rss_peak_bytes") == 51 * MIB);
    assert_true(csv_num(csv, "tpc-glibc", "rss_after_idle_bytes") == 20 * MIB);
    assert_true(csv_num(csv, "tpc-glibc", "throughput_rps") == 1000);
    free(csv);
    char *html = slurp(run, "index.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "tpc-glibc"));
    free(html);
    char *argv[] = {"report", run, "--no-plots", NULL};
    assert_int_equal(fl_lg_cmd_report(3, argv), 0);

    /* A run still under way (no summary.json): its rows, marked partial. */
    write_run(dir, "ws-partial", ws_glibc, 8, false, 0, -1);
    snprintf(partial, sizeof(partial), "%s/runs/ws-partial", dir);
    assert_int_equal(fl_lg_report_dir(partial, false, NULL, NULL, err, sizeof(err)), 0);
    csv = slurp(partial, "matrix.csv");
    assert_non_null(csv);
    assert_true(csv_cell(csv, "ws-partial", "status", b, sizeof(b)));
    assert_string_equal(b, "partial");
    assert_true(csv_num(csv, "ws-partial", "rss_peak_bytes") == 92 * MIB);
    free(csv);

    /* Neither kind: one line saying what DIR should hold. */
    snprintf(run, sizeof(run), "%s/runs", dir);
    assert_true(fl_lg_report_dir(run, false, NULL, NULL, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "runs.json: No such file or directory"));
    assert_non_null(strstr(err, "timeseries.csv"));
    assert_null(strchr(err, '\n'));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-fake")) {
        write_fake(argv[2]);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--write-fake2")) {
        write_fake2(argv[2]);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_rows),         cmocka_unit_test(test_csv_figures),
        cmocka_unit_test(test_ratios),           cmocka_unit_test(test_html),
        cmocka_unit_test(test_missing_dir),      cmocka_unit_test(test_plot_colours),
        cmocka_unit_test(test_overhead_figures), cmocka_unit_test(test_drift),
        cmocka_unit_test(test_comparable),       cmocka_unit_test(test_allocator_detail),
        cmocka_unit_test(test_overhead_plot),    cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_single_run),       cmocka_unit_test(test_bars_plot),
        cmocka_unit_test(test_verdict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
