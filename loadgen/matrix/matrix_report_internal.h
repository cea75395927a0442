/* matrix_report_internal.h - what the report of a matrix folder computes,
 * shared by its readers (matrix_report.c, and matrix_report_overhead.c for
 * the allocator's overhead, live data and comparability) and its writers (the table,
 * matrix.csv and matrix.json in matrix_report_write.c, index.html in
 * matrix_report_html.c, the gnuplot pictures in matrix_report_plot.c). */
#ifndef FL_LOADGEN_MATRIX_REPORT_INTERNAL_H
#define FL_LOADGEN_MATRIX_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "columns.h"

/* Steps kept with their times; more are counted, not listed. */
#define FL__MR_MAX_STEPS 32
/* A stair-step is a rise of at least max(1 MiB, 5 % of the level before it). */
#define FL__MR_STEP_MIN_BYTES (1024.0 * 1024.0)
#define FL__MR_STEP_SHARE 0.05

/* Live data that moves more than this share over the second half of the load
 * makes RSS follow it: the pairing is flagged (matrix-check.py's bound). */
#define FL__MR_DRIFT_SHARE 0.05
/* A ratio compares like with like only when both sides carried the same
 * load (throughput within 2 %, matrix-check.py's bound) with about the same
 * live data (within 10 %). */
#define FL__MR_SAME_RPS 0.02
#define FL__MR_SAME_LIVE 0.10

/* The allocator-specific CSV columns (bytes, empty where n/a): the fields
 * of the allocator layer's FL_ALLOC_STATS_FIELDS, each the column
 * <field>_bytes (columns.h), in matrix.json's order; `drawn` when
 * overhead.png draws it: resident memory or a heap's size, not address space
 * only (retained, unmapped). A field that is no column does not build. */
#define FL__MR_DETAIL(X)                                                                           \
    X(je_dirty, 1)                                                                                 \
    X(je_muzzy, 1)                                                                                 \
    X(je_tcache, 1)                                                                                \
    X(retained, 0)                                                                                 \
    X(tc_pageheap_free, 1)                                                                         \
    X(tc_pageheap_unmapped, 0)                                                                     \
    X(tc_central_free, 1)                                                                          \
    X(tc_transfer_free, 1)                                                                         \
    X(tc_thread_free, 1)                                                                           \
    X(glibc_arena, 1)                                                                              \
    X(glibc_arena_free, 1)                                                                         \
    X(glibc_releasable, 1)                                                                         \
    X(glibc_mmapped, 1)                                                                            \
    X(mi_committed, 1)                                                                             \
    X(mi_page_free, 1)
#define FL_X(field, drawn) +1
enum { FL__MR_NDETAIL = 0 FL__MR_DETAIL(FL_X) };
#undef FL_X

/* The columns the charts of index.html draw, kept from a run's series
 * (struct fl__mr_run's `keep`, FL__MR_K_* order). */
#define FL__MR_KEEP(X) X(t_s) X(rss_bytes) X(allocated_bytes) X(rps) X(p99_us)
#define FL_X(col) FL__MR_K_##col,
enum { FL__MR_KEEP(FL_X) FL__MR_NK };
#undef FL_X

/* The charts draw at most this many points per series: a four-hour run
 * sampled every 500 ms (28,800 rows) is drawn from 5,000 buckets of 2.9 s,
 * so the page stays near 2 MiB whatever the run's length. */
#define FL__MR_CHART_POINTS 5000
/* Seconds between the live page's reloads. */
#define FL__MR_LIVE_REFRESH_S 5

/* A run's series holds every fixed column of timeseries.csv (columns.h,
 * found by header name, FL_LG_COL_* order), then two that are no column:
 * IDLE is 1 for an idle-tail row, PHASE_ID the row's phase numbered in
 * order seen. The phase column itself, text, reads as NAN. */
enum { FL__MR_C_IDLE = FL_LG_NCOLS, FL__MR_C_PHASE_ID, FL__MR_NC };

#define FL__MR_MAX_PHASES 64

/* A run's timeseries.csv, one array per column (NAN: empty or absent). */
struct fl__mr_series {
    size_t n;
    double *v[FL__MR_NC];
    int col[FL__MR_NC]; /* 1-based place in the CSV; 0: absent */
    char phases[FL__MR_MAX_PHASES][32];
    int nphases; /* more phases share the last id */
};

struct fl__mr_step {
    double t_s;      /* the row where the rise starts to show */
    double at;       /* RSS at that row */
    double from, to; /* RSS before the rise and at its top */
};

/* One pairing of runs.json with its figures; NAN = not known. */
struct fl__mr_run {
    const char *name, *mode, *free_policy, *allocator, *spec, *dir, *status, *error;
    const char *alloc_name, *alloc_version; /* from summary.json, may be NULL */
    /* From runs.json: the CPUs its workers ran on (NULL: unknown) and, in a
     * --parallel matrix, the intervals it fell behind its schedule (NAN:
     * not recorded). */
    const char *cpus;
    bool pinned;
    double intervals_behind;
    bool has_csv, has_summary;
    int load_rows, idle_rows;
    double rps, p99_us;
    double rss_peak, rss_steady, rss_idle, returned;
    double alloc_peak, res_peak, alloc_idle, res_idle;
    double frag_peak, lazy_idle, cross_frees, cross_share;
    /* Requests the server refused for want of memory: the load generator's
     * 503s (summary.json errors.unavailable). Its memory figures then show
     * a server at its limit, not the load the scenario asked for. */
    double alloc_failures;
    int nsteps;
    struct fl__mr_step steps[FL__MR_MAX_STEPS];
    /* For the pictures: the time axis, where the idle tail starts (NAN:
     * none), the largest memory figure, the CSV's 1-based columns (0: absent). */
    double t_end, idle_start, mem_max;
    int col_t, col_rss, col_alloc, col_res;
    /* Overhead = RSS - allocated, and live data, as matrix-check.py takes
     * them: steady is the median over the second half of the load rows
     * (past the warm-up, serving, the last load row left out). */
    double live, live_drift, over_peak, over_steady, over_idle;
    /* The drift of the load phase that moves most, and its name; "" when
     * the run has one load phase (live_drift is then that phase's). */
    double worst_drift;
    char drift_phase[32];
    /* Each allocator-specific column's median over the steady rows. */
    double detail[FL__MR_NDETAIL];
    /* overhead.png: the heap's column (resident, else mapped, else anonymous
     * RSS; 0: none) and its name, each drawn detail column (0: empty), and
     * the top of the stack. */
    int col_heap, col_detail[FL__MR_NDETAIL];
    const char *heap_basis;
    double stack_max;
    /* The charts' columns, taken over from the series (NULL: no rows). */
    double *keep[FL__MR_NK];
    size_t nkeep;
};

/* Memory of mode `num` over tpc under one allocator. */
struct fl__mr_ratio {
    const char *allocator, *mode;
    double peak, final;                       /* NAN when a side is unknown */
    double over_peak, over_steady, over_idle; /* overhead, as matrix-check.py */
    double rps_diff, live_diff;               /* |a - b| / max(a, b) */
    bool comparable;                          /* same load, about the same live data */
    char why[96];                             /* when not: "throughput differs 7.3 %" */
    const struct fl__mr_run *o, *t;           /* the two runs, in the report's runs[] */
};

struct fl__mr_report {
    const char *dir;
    cJSON *runs_json;      /* owns every string of runs[] */
    const cJSON *manifest; /* inside runs_json, may be NULL */
    cJSON *summaries;      /* array, owns alloc_name/alloc_version */
    struct fl__mr_run *runs;
    int n;
    struct fl__mr_ratio *ratios;
    int nratios;
    bool plots; /* the PNGs were made this time */
    /* What to run (matrix_verdict.h); NULL on the live page, whose runs
     * have not ended. */
    const struct fl__mr_verdict *verdict;
    /* Written by fl_mr_write_live: `running` reloads itself every
     * FL__MR_LIVE_REFRESH_S; neither draws the PNGs. */
    bool live, running;
};

/* The stair-step rule, as the page, the README and matrix.json state it. */
extern const char fl__mr_step_rule[];

/* Whether fl_mr_write_live writes now: the last write (ended at
 * `last_end`, took `last_cost` s; 0: none yet) is past nine times its cost. */
bool fl__mr_live_due(double now, double last_end, double last_cost);

/* Whole file, NUL-terminated; NULL with errno. */
char *fl__mr_slurp(const char *path);
/* A JSON file parsed; NULL when missing or not JSON. */
cJSON *fl__mr_read_json(const char *path);
/* DIR/runs.json into *out; without one, the runs.json a matrix would have
 * written for DIR/runs/'s folders (a matrix under way or killed before its
 * first write), else for DIR as one run's folder. 0, or -errno with one
 * line in `err`. */
int fl__mr_read_runs(const char *dir, cJSON **out, char *err, size_t errlen);
/* Reads a run's timeseries.csv into `s` and the run's 1-based columns that
 * gnuplot needs; 0 or -errno. */
int fl__mr_read_series(const char *path, struct fl__mr_series *s, struct fl__mr_run *run);
void fl__mr_series_free(struct fl__mr_series *s);

/* The overhead, live-data and allocator-detail figures of `run` from its
 * rows; `at` is the row of the RSS peak under load, `idle` the last
 * idle-tail row (SIZE_MAX: none). */
void fl__mr_overhead(const struct fl__mr_series *s, struct fl__mr_run *run, size_t at, size_t idle);
/* Fills x's overhead ratios of `o` over `t` and says whether they compare. */
void fl__mr_compare(const struct fl__mr_run *o, const struct fl__mr_run *t, struct fl__mr_ratio *x);
/* True when the run's live data drifts past FL__MR_DRIFT_SHARE. */
bool fl__mr_drifts(const struct fl__mr_run *run);
/* "RSS follows live data here (live data +12 % over the second half)". */
void fl__mr_drift_note(const struct fl__mr_run *run, char *b, size_t n);
/* "the server refused 12 requests for want of memory (503)", or "" when
 * it refused none (or it is not known). */
void fl__mr_oom_note(const struct fl__mr_run *run, char *b, size_t n);
/* The allocator-specific columns, FL__MR_DETAIL order: header name,
 * FL_LG_COL_* place. */
extern const char *const fl__mr_detail_names[FL__MR_NDETAIL];
extern const int fl__mr_detail_cols[FL__MR_NDETAIL];

int fl__mr_write_csv(const struct fl__mr_report *r, char *err, size_t errlen);
int fl__mr_write_json(const struct fl__mr_report *r, char *err, size_t errlen);
void fl__mr_print_table(FILE *f, const struct fl__mr_report *r);
/* DIR/index.html, written to a temporary file and renamed over it, so a
 * browser reloading the live page never reads half of one. */
int fl__mr_write_html(const struct fl__mr_report *r, char *err, size_t errlen);
/* The page's interactive charts (RSS, live data, overhead, ratios,
 * throughput, p99), with dygraphs inlined from FL__MR_DYGRAPHS_DIR; a
 * line saying what is missing when it is not installed. */
void fl__mr_write_charts(FILE *f, const struct fl__mr_report *r);

/* Where Debian's libjs-dygraphs puts dygraph.min.js and dygraph.min.css;
 * the environment variable FRAGLAB_DYGRAPHS_DIR overrides it. */
#define FL__MR_DYGRAPHS_DIR "/usr/share/javascript/dygraphs"

/* How a bucket folds its rows: the largest (memory, latency: a spike is
 * never averaged away) or their mean (throughput). */
enum fl__mr_fold { FL__MR_FOLD_MAX, FL__MR_FOLD_MEAN };
/* The charts' time grid: the sampling interval, widened so that [0, t_end]
 * takes at most `max_points` buckets. */
double fl__mr_bucket_width(double t_end, double interval, size_t max_points);
/* The number of buckets of width w over [0, t_end]. */
size_t fl__mr_buckets(double t_end, double w);
/* Folds rows (t[i], v[i]) into out[0..nb): bucket k holds the rows with
 * round(t / w) == k (clamped to the grid), NAN when it holds none; rows
 * with a NAN are skipped. 0 or -ENOMEM. */
int fl__mr_downsample(const double *t, const double *v, size_t n, double w, enum fl__mr_fold fold,
                      double *out, size_t nb);
/* Writes DIR/plots.gp and runs gnuplot in DIR; true when the PNGs were made.
 * Failures are one warning line on stderr. */
bool fl__mr_plot(const struct fl__mr_report *r);

/* `s` HTML-escaped into f (NULL: nothing). */
void fl__mr_esc(FILE *f, const char *s);
/* "12.3 MiB" or "n/a". */
void fl__mr_fmt_bytes(char *b, size_t n, double v);
/* "%.*f" or "" for NAN; into b. */
const char *fl__mr_num(char *b, size_t n, double v, int prec);

#endif
