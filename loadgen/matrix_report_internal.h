/* matrix_report_internal.h - what the report of a matrix folder computes,
 * shared by its readers (matrix_report.c) and its writers (the table,
 * matrix.csv and matrix.json in matrix_report_write.c, index.html in
 * matrix_report_html.c, the gnuplot pictures in matrix_report_plot.c). */
#ifndef FL_LOADGEN_MATRIX_REPORT_INTERNAL_H
#define FL_LOADGEN_MATRIX_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Steps kept with their times; more are counted, not listed. */
#define FL__MR_MAX_STEPS 32
/* A stair-step is a rise of at least max(1 MiB, 5 % of the level before it). */
#define FL__MR_STEP_MIN_BYTES (1024.0 * 1024.0)
#define FL__MR_STEP_SHARE 0.05

struct fl__mr_step {
    double t_s;      /* the row where the rise starts to show */
    double at;       /* RSS at that row */
    double from, to; /* RSS before the rise and at its top */
};

/* One pairing of runs.json with its figures; NAN = not known. */
struct fl__mr_run {
    const char *name, *mode, *free_policy, *allocator, *spec, *dir, *status, *error;
    const char *alloc_name, *alloc_version; /* from summary.json, may be NULL */
    bool has_csv, has_summary;
    int load_rows, idle_rows;
    double rps, p99_us;
    double rss_peak, rss_steady, rss_idle, returned;
    double alloc_peak, res_peak, alloc_idle, res_idle;
    double frag_peak, lazy_idle, cross_frees, cross_share;
    int nsteps;
    struct fl__mr_step steps[FL__MR_MAX_STEPS];
    /* For the pictures: the time axis, where the idle tail starts (NAN:
     * none), the largest memory figure, the CSV's 1-based columns (0: absent). */
    double t_end, idle_start, mem_max;
    int col_t, col_rss, col_alloc, col_res;
};

/* Memory of mode `num` over tpc under one allocator. */
struct fl__mr_ratio {
    const char *allocator, *mode;
    double peak, final; /* NAN when a side is unknown */
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
};

/* The stair-step rule, as the page, the README and matrix.json state it. */
extern const char fl__mr_step_rule[];

int fl__mr_write_csv(const struct fl__mr_report *r, char *err, size_t errlen);
int fl__mr_write_json(const struct fl__mr_report *r, char *err, size_t errlen);
void fl__mr_print_table(FILE *f, const struct fl__mr_report *r);
int fl__mr_write_html(const struct fl__mr_report *r, char *err, size_t errlen);
/* Writes DIR/plots.gp and runs gnuplot in DIR; true when the PNGs were made.
 * Failures are one warning line on stderr. */
bool fl__mr_plot(const struct fl__mr_report *r);

/* "12.3 MiB" or "n/a". */
void fl__mr_fmt_bytes(char *b, size_t n, double v);
/* "%.*f" or "" for NAN; into b. */
const char *fl__mr_num(char *b, size_t n, double v, int prec);

#endif
