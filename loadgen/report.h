/* report.h - what a run writes: the interval rows of timeseries.csv, the
 * progress display, summary.json and the human summary. */
#ifndef FL_LOADGEN_REPORT_H
#define FL_LOADGEN_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "monitor.h"

/* One interval as the coordinator merged it. */
struct fl_lg_row {
    double t_s;        /* end of the row, seconds from the start */
    double seconds;    /* its length: rows are cut at phase boundaries and the warm-up's end */
    const char *phase; /* the phase of the whole row */
    bool warmup;       /* the whole row is inside the warm-up */
    const struct fl_lg_tally *tally;
    const struct fl_lg_sample *sample;
    size_t npop; /* populations with columns of their own (0 under --path) */
};

/* The header: the fixed columns (columns.h), then open, opened and requests
 * of each of `pops`'s populations (none when `pops` is NULL). */
void fl_lg_csv_header(FILE *f, const struct fl_scenario *pops);
/* Writes and flushes one row; 0 or -EIO. */
int fl_lg_csv_row(FILE *f, const struct fl_lg_row *r);

/* The live display: one line rewritten in place on a terminal (`tty`),
 * else one plain line per call. */
void fl_lg_progress(FILE *f, bool tty, const struct fl_lg_row *r, double duration_s);

/* Everything summary.json and the human summary say. */
/* Why a run stopped; summary.json and the terminal name it (fl_lg_stop_name). */
enum fl_lg_stop {
    FL_LG_STOP_DURATION,
    FL_LG_STOP_MAX_REQUESTS,
    FL_LG_STOP_INTERRUPTED,
    FL_LG_STOP_ERROR_THRESHOLD,
};

/* "duration", "max_requests", "interrupted" or "error_threshold". */
const char *fl_lg_stop_name(enum fl_lg_stop why);

struct fl_lg_result {
    const struct fl_scenario *s;
    const char *scenario_file;
    const char *scenario_text; /* the normalised scenario */
    const char *target, *echo_target, *path;
    int argc;
    char **argv;
    const char *started_at; /* ISO 8601 UTC */
    const struct fl_lg_tally *total;
    double measured_s; /* after the warm-up */
    double elapsed_s;  /* from the start to the stop */
    bool open_loop;
    bool interrupted;
    enum fl_lg_stop stop_reason;
    uint64_t unfinished; /* requests in flight at the stop */
    uint64_t intervals;
    const struct fl_lg_server_info *info;
    pid_t server_pid; /* 0: not read */
    int64_t rss_peak;
    const struct fl_lg_sample *last; /* NULL: never sampled */
    size_t npop;                     /* populations reported (0 under --path) */
    const double *pop_open_mean;     /* per population: open, mean of the measured load rows */
};

/* Writes `h` to DIR/NAME as HdrHistogram's percentile text (milliseconds);
 * 0, or -errno after one line on stderr. An open loop writes its uncorrected
 * latencies (from the actual send) as latency-uncorrected.hgrm this way,
 * beside latency.hgrm's corrected ones (from the intended send). */
int fl_lg_hgrm_write(const char *dir, const char *name, const struct fl_hist *h);

/* Writes DIR/summary.json; 0 or -errno. */
int fl_lg_summary_write(const char *path, const struct fl_lg_result *r);
/* The human summary, wrk-like. */
void fl_lg_summary_print(FILE *f, const struct fl_lg_result *r);

#endif
