/* matrix_verdict.h - what to run for this traffic: the verdict that ends a
 * matrix's table, its page and its matrix.json (matrix_verdict.c). */
#ifndef FL_LOADGEN_MATRIX_VERDICT_H
#define FL_LOADGEN_MATRIX_VERDICT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct fl__mr_report;
struct fl__mr_run;

/* A pairing is a candidate when its throughput is within FL__MR_SAME_RPS
 * (2 %) of the busiest pairing's (the equal-load rule) and its p99 at most
 * FL__MV_P99_SHARE above the best candidate's, or FL__MV_P99_SLACK_US when
 * that is more (a few hundred microseconds of p99 are noise). */
#define FL__MV_P99_SHARE 0.25
#define FL__MV_P99_SLACK_US 1000.0
/* Folders a verdict takes figures from: the matrix and its repeats. */
#define FL__MV_MAX_FOLDERS 8
#define FL__MV_MAX_LINES 24

/* One pairing's figures over the folders (medians), and their range. */
struct fl__mv_pair {
    const struct fl__mr_run *run; /* in the first folder */
    int nruns;                    /* folders in which it ran with figures */
    double rss, rps, p99, live;
    double rss_lo, rss_hi, p99_lo, p99_hi;
    bool equal;     /* it carried the same load as the busiest */
    bool candidate; /* and its p99 is within the tolerance */
    char why[128];  /* why it is not a candidate ("" when it is) */
};

/* Against glibc under one mode: what the pick saves and costs. */
struct fl__mv_against {
    const char *mode; /* "ws" or "tpc" */
    int base;         /* its pairing in pairs[], -1: not in this matrix */
    bool same_load;   /* it carried the pick's load (rps within 2 %) */
    double saving, saving_share, rps_change, p99_change_us;
};

struct fl__mr_verdict {
    int nfolders;
    int npairs;
    struct fl__mv_pair *pairs;
    int pick; /* -1: no verdict, `none` says why */
    char none[192];
    double best_rps, best_p99, p99_limit;
    struct fl__mv_against against[2];
    /* The verdict as lines of text, for the terminal, the page and JSON. */
    int nlines;
    char lines[FL__MV_MAX_LINES][320];
};

/* The verdict of `reps[0]`, its pairings' figures taken over it and its
 * repeats `reps[1..nreps)` (the same pairings, matched by name). 0, or
 * -ENOMEM. */
int fl__mv_judge(const struct fl__mr_report *reps, int nreps, struct fl__mr_verdict *v);
void fl__mv_free(struct fl__mr_verdict *v);
/* "verdict: ..." and its lines, after the table. */
void fl__mv_print(FILE *f, const struct fl__mr_verdict *v);
/* matrix.json's "verdict". */
cJSON *fl__mv_json(const struct fl__mr_verdict *v);
/* The page's section. */
void fl__mv_html(FILE *f, const struct fl__mr_verdict *v);

#endif
