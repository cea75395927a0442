/* test_columns.c - timeseries.csv's one column list (loadgen/columns.h)
 * between its writer (`run`, report.c) and its reader (the matrix report):
 * the header `run` writes is byte for byte the one users' scripts know, and
 * the list's names in its order, with and without populations; a row's
 * cells are byte for byte today's (known and unknown figures); and the
 * report's reader finds every fixed column the writer writes, each value in
 * its place, with population columns after them. */
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

#include "columns.h"
#include "matrix_report_internal.h"
#include "report.h"

/* The header as of issue 17, before the list: changing it breaks users'
 * scripts, so a change here must be deliberate. */
#define HEADER_FIXED                                                                               \
    "t_s,phase,warmup,requests,rps,errors,unavailable,p50_us,p90_us,p99_us,max_us,rss_bytes,"      \
    "rss_anon_bytes,lazyfree_bytes,anon_huge_bytes,allocated_bytes,active_bytes,resident_bytes,"   \
    "mapped_bytes,retained_bytes,metadata_bytes,je_dirty_bytes,je_muzzy_bytes,je_tcache_bytes,"    \
    "tc_pageheap_free_bytes,tc_pageheap_unmapped_bytes,tc_central_free_bytes,"                     \
    "tc_transfer_free_bytes,tc_thread_free_bytes,glibc_arena_bytes,glibc_arena_free_bytes,"        \
    "glibc_releasable_bytes,glibc_mmapped_bytes,mi_committed_bytes,mi_page_free_bytes,"            \
    "frag_ratio,cross_thread_frees,task_migrations,server_connections,held_bytes,server_cpu_ms"
#define HEADER_POPS                                                                                \
    ",pop_short_open,pop_short_opened,pop_short_requests,pop_long_open,pop_long_opened,"           \
    "pop_long_requests"

/* Rows of the fixture, as the writer wrote them before the list. */
#define ROW_KNOWN                                                                                  \
    "2.500,ramp,1,1000,2000.0,3,3,500,900,990,1000,1000,1001,1002,1003,1004,1005,1006,1007,1008,"  \
    "1009,1010,,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,0.1235,11,12,13,14,"   \
    "15,5,7,600,6,8,400\n"
#define ROW_UNKNOWN                                                                                \
    "2.500,ramp,0,1000,2000.0,3,3,500,900,990,1000,1000,1001,1002,1003,1004,1005,1006,1007,1008,"  \
    "1009,1010,,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,,11,12,13,14,\n"

struct fixture {
    struct fl_scenario s;
    struct fl_scenario_population pops[2];
    struct fl_lg_tally t;
    struct fl_lg_sample sample;
    struct fl_lg_row row;
};

/* Two populations; 1000 requests, 3 of them 503s, latencies 10..1000 µs;
 * memory figures 1000, 1001, ... in list order with je_muzzy unknown. */
static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof(*x));
    if (!x || fl_lg_tally_init(&x->t) != 0)
        return -1;
    snprintf(x->pops[0].name, sizeof(x->pops[0].name), "short");
    snprintf(x->pops[1].name, sizeof(x->pops[1].name), "long");
    x->s.populations = x->pops;
    x->s.npopulations = 2;
    x->t.c.requests = 1000;
    x->t.c.errors[FL_LG_ERR_unavailable] = 3;
    for (int i = 1; i <= 100; i++)
        fl_hist_record(&x->t.lat, i * 10);
    const uint64_t open[] = {5, 6}, opened[] = {7, 8}, requests[] = {600, 400};
    for (int i = 0; i < 2; i++) {
        x->t.pop_open[i] = open[i];
        x->t.c.pop_opened[i] = opened[i];
        x->t.c.pop_requests[i] = requests[i];
    }
    struct fl_lg_sample *sm = &x->sample;
    fl_lg_sample_clear(sm);
    int64_t v = 1000;
#define FL_X(field, metric, help) sm->field = v++;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    sm->je_muzzy = FL_NA;
    sm->frag_ratio = 0.12345;
    sm->cross_thread_frees = 11;
    sm->task_migrations = 12;
    sm->connections_open = 13;
    sm->held_bytes = 14;
    sm->cpu_ms = 15;
    x->row = (struct fl_lg_row){.t_s = 2.5,
                                .seconds = 0.5,
                                .phase = "ramp",
                                .warmup = true,
                                .tally = &x->t,
                                .sample = sm,
                                .npop = 2};
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *x = *state;
    fl_lg_tally_destroy(&x->t);
    free(x);
    return 0;
}

/* What `write` puts in a memory stream, NUL-terminated (free it). */
static char *captured(void (*write)(FILE *, struct fixture *), struct fixture *x)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    write(f, x);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void header_plain(FILE *f, struct fixture *x)
{
    (void)x;
    fl_lg_csv_header(f, NULL);
}

static void header_pops(FILE *f, struct fixture *x)
{
    fl_lg_csv_header(f, &x->s);
}

static void test_header_pinned(void **state)
{
    char *plain = captured(header_plain, *state);
    char *pops = captured(header_pops, *state);
    assert_string_equal(plain, HEADER_FIXED "\n");
    assert_string_equal(pops, HEADER_FIXED HEADER_POPS "\n");
    free(plain);
    free(pops);
}

/* The header is the list: its names, in its order, nothing else. */
static void test_header_is_the_list(void **state)
{
    char *h = captured(header_plain, *state);
    char joined[4096] = "";
    for (int c = 0; c < FL_LG_NCOLS; c++) {
        if (c)
            strcat(joined, ",");
        assert_true(strlen(joined) + strlen(fl_lg_csv_names[c]) + 2 < sizeof(joined));
        strcat(joined, fl_lg_csv_names[c]);
    }
    strcat(joined, "\n");
    assert_string_equal(h, joined);
    /* The allocator part is the allocator layer's list, by the same names. */
    int c = FL_LG_COL_rss_bytes;
#define FL_X(field, metric, help) assert_string_equal(fl_lg_csv_names[c++], #field "_bytes");
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    assert_string_equal(fl_lg_csv_names[c], "frag_ratio");
    free(h);
}

static void row_known(FILE *f, struct fixture *x)
{
    assert_int_equal(fl_lg_csv_row(f, &x->row), 0);
}

static void row_unknown(FILE *f, struct fixture *x)
{
    x->row.npop = 0;
    x->row.warmup = false;
    x->sample.frag_ratio = NAN;
    x->sample.cpu_ms = FL_NA;
    assert_int_equal(fl_lg_csv_row(f, &x->row), 0);
}

static void test_row_pinned(void **state)
{
    char *known = captured(row_known, *state);
    char *unknown = captured(row_unknown, *state);
    assert_string_equal(known, ROW_KNOWN);
    assert_string_equal(unknown, ROW_UNKNOWN);
    free(known);
    free(unknown);
}

/* The writer's file read back by the report: every fixed column found where
 * the writer put it, and its value. */
static void test_reader_finds_every_column(void **state)
{
    struct fixture *x = *state;
    char path[] = "/tmp/fl-columns-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fl_lg_csv_header(f, &x->s);
    assert_int_equal(fl_lg_csv_row(f, &x->row), 0);
    x->row.t_s = 3.0;
    x->row.phase = "idle-tail";
    assert_int_equal(fl_lg_csv_row(f, &x->row), 0);
    assert_int_equal(fclose(f), 0);

    struct fl__mr_series s = {0};
    struct fl__mr_run run = {0};
    int rc = fl__mr_read_series(path, &s, &run);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, 2);
    for (int c = 0; c < FL_LG_NCOLS; c++) {
        if (s.col[c] != c + 1)
            fail_msg("column %s: read at %d, written at %d", fl_lg_csv_names[c], s.col[c], c + 1);
    }
    assert_true(s.v[FL_LG_COL_t_s][0] == 2.5);
    assert_true(s.v[FL_LG_COL_warmup][0] == 1);
    assert_true(s.v[FL_LG_COL_requests][0] == 1000);
    assert_true(s.v[FL_LG_COL_unavailable][0] == 3);
    assert_true(s.v[FL_LG_COL_max_us][0] == 1000);
    int64_t v = 1000;
#define FL_X(field, metric, help)                                                                  \
    if (FL_LG_COL_##field##_bytes == FL_LG_COL_je_muzzy_bytes)                                     \
        assert_true(isnan(s.v[FL_LG_COL_je_muzzy_bytes][0]));                                      \
    else                                                                                           \
        assert_true(s.v[FL_LG_COL_##field##_bytes][0] == (double)v);                               \
    v++;
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    assert_true(fabs(s.v[FL_LG_COL_frag_ratio][0] - 0.1235) < 1e-9);
    assert_true(s.v[FL_LG_COL_server_cpu_ms][0] == 15);
    assert_true(s.v[FL__MR_C_IDLE][0] == 0 && s.v[FL__MR_C_IDLE][1] == 1);
    assert_true(s.v[FL__MR_C_PHASE_ID][0] == 0 && s.v[FL__MR_C_PHASE_ID][1] == 1);
    assert_int_equal(run.col_t, FL_LG_COL_t_s + 1);
    assert_int_equal(run.col_rss, FL_LG_COL_rss_bytes + 1);
    fl__mr_series_free(&s);
}

/* Every allocator-specific column the report shows is a column `run` writes. */
static void test_detail_columns_written(void **state)
{
    (void)state;
    for (int k = 0; k < FL__MR_NDETAIL; k++)
        assert_string_equal(fl__mr_detail_names[k], fl_lg_csv_names[fl__mr_detail_cols[k]]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_is_the_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_finds_every_column, setup, teardown),
        cmocka_unit_test(test_detail_columns_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
