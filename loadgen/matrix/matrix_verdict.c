/* matrix_verdict.c - what to run for this traffic. Of the pairings that
 * carried the same load (throughput within 2 % of the busiest, no request
 * refused for want of memory) and whose p99 is
 * within a stated tolerance of the best, the one with the lowest steady RSS;
 * what it saves against glibc under ws and under tpc (a work-stealing
 * runtime or a thread-per-core one: which the user's server resembles) and
 * what it costs in throughput and p99; and how sure that is: the range of
 * each figure over repeated matrices, or "one run, no spread". When fewer
 * than two pairings carried the same load the verdict says so instead.
 *
 * Steady RSS is the median RSS over the second half of the load (the
 * table's "steady"), as the overhead figures take it. */
#include "matrix_verdict.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"

#define MIB (1024.0 * 1024.0)

static const char *const base_modes[2] = {"ws", "tpc"};
static const char *const base_what[2] = {"a work-stealing runtime: Tokio, Go, Java's pools",
                                         "thread-per-core: nginx workers, Seastar, Glommio"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const struct fl__mr_run *named(const struct fl__mr_report *r, const char *name)
{
    for (int i = 0; name && i < r->n; i++)
        if (r->runs[i].name && strcmp(r->runs[i].name, name) == 0)
            return &r->runs[i];
    return NULL;
}

/* Why a run gives no figures to judge; "" when it does. */
static void unusable(const struct fl__mr_run *run, char *b, size_t n)
{
    b[0] = '\0';
    if (!run->status || strcmp(run->status, "ok") != 0)
        snprintf(b, n, "%s", run->status ? run->status : "no status");
    else if (isnan(run->rss_steady) || isnan(run->p99_us) || !(run->rps > 0))
        snprintf(b, n, "no steady figures");
    else if (run->alloc_failures > 0)
        snprintf(b, n, "refused %.0f requests for want of memory", run->alloc_failures);
}

/* Pairing i's figures over the folders: medians and ranges. */
static void gather(const struct fl__mr_report *reps, int nreps, struct fl__mv_pair *p)
{
    double rss[FL__MV_MAX_FOLDERS], rps[FL__MV_MAX_FOLDERS], p99[FL__MV_MAX_FOLDERS],
        live[FL__MV_MAX_FOLDERS];
    int k = 0, nlive = 0;
    for (int f = 0; f < nreps; f++) {
        const struct fl__mr_run *run = f ? named(&reps[f], p->run->name) : p->run;
        char why[96] = "not in this run";
        if (run)
            unusable(run, why, sizeof(why));
        if (why[0]) {
            if (!p->why[0] && nreps > 1)
                snprintf(p->why, sizeof(p->why), "run %d: %s", f + 1, why);
            else if (!p->why[0])
                snprintf(p->why, sizeof(p->why), "%s", why);
            continue;
        }
        rss[k] = run->rss_steady;
        rps[k] = run->rps;
        p99[k++] = run->p99_us;
        if (!isnan(run->live))
            live[nlive++] = run->live;
    }
    p->nruns = k;
    if (!k)
        return;
    p->rps = median_of(rps, k);
    p->rss = median_of(rss, k);
    p->rss_lo = rss[0];
    p->rss_hi = rss[k - 1];
    p->p99 = median_of(p99, k);
    p->p99_lo = p99[0];
    p->p99_hi = p99[k - 1];
    p->live = nlive ? median_of(live, nlive) : NAN;
}

/* The equal-load rule, then the p99 tolerance; the pairings that pass both
 * are candidates. Live data is not compared here: under one schedule and
 * seed every pairing serves the same requests, and each allocator counts
 * its allocated bytes its own way (size classes, caches), so across
 * allocators a small heap's live data differs by a quarter or more (the
 * ratios compare it within one allocator). Returns how many carried the
 * same load. */
static int sort_out(struct fl__mr_verdict *v)
{
    v->best_rps = 0;
    for (int i = 0; i < v->npairs; i++)
        if (!v->pairs[i].why[0] && v->pairs[i].rps > v->best_rps)
            v->best_rps = v->pairs[i].rps;
    int same = 0;
    v->best_p99 = INFINITY;
    for (int i = 0; i < v->npairs; i++) {
        struct fl__mv_pair *p = &v->pairs[i];
        if (p->why[0])
            continue;
        if (p->rps < v->best_rps * (1 - FL__MR_SAME_RPS)) {
            snprintf(p->why, sizeof(p->why),
                     "carried %.1f %% less than the busiest pairing: not the same load",
                     100 * (1 - p->rps / v->best_rps));
            continue;
        }
        same++;
        p->equal = true;
        v->best_p99 = fmin(v->best_p99, p->p99);
    }
    v->p99_limit = fmax(v->best_p99 * (1 + FL__MV_P99_SHARE), v->best_p99 + FL__MV_P99_SLACK_US);
    for (int i = 0; i < v->npairs; i++) {
        struct fl__mv_pair *p = &v->pairs[i];
        if (p->why[0])
            continue;
        if (p->p99 > v->p99_limit)
            snprintf(p->why, sizeof(p->why), "p99 %.1f ms, above the tolerance's %.1f ms",
                     p->p99 / 1000, v->p99_limit / 1000);
        else
            p->candidate = true;
    }
    return same;
}

/* glibc with its defaults under `mode`, in pairs[]; -1 when absent. */
static int base_of(const struct fl__mr_verdict *v, const char *mode)
{
    for (int i = 0; i < v->npairs; i++) {
        const struct fl__mr_run *run = v->pairs[i].run;
        if (run->mode && run->spec && strcmp(run->mode, mode) == 0 &&
            strcmp(run->spec, "glibc") == 0)
            return i;
    }
    return -1;
}

static void against(struct fl__mr_verdict *v, int m)
{
    struct fl__mv_against *a = &v->against[m];
    a->mode = base_modes[m];
    a->base = base_of(v, a->mode);
    if (a->base < 0 || v->pick < 0)
        return;
    const struct fl__mv_pair *b = &v->pairs[a->base], *p = &v->pairs[v->pick];
    a->same_load = b->equal;
    if (!a->same_load)
        return;
    a->saving = b->rss - p->rss;
    a->saving_share = b->rss > 0 ? a->saving / b->rss : NAN;
    a->rps_change = b->rps > 0 ? (p->rps - b->rps) / b->rps : NAN;
    a->p99_change_us = p->p99 - b->p99;
}

static void line(struct fl__mr_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void line(struct fl__mr_verdict *v, const char *fmt, ...)
{
    if (v->nlines >= FL__MV_MAX_LINES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->lines[v->nlines++], sizeof(v->lines[0]), fmt, ap);
    va_end(ap);
}

static const char *nm(const struct fl__mv_pair *p)
{
    return p->run->name ? p->run->name : "?";
}

static void against_line(struct fl__mr_verdict *v, int m)
{
    const struct fl__mv_against *a = &v->against[m];
    char head[96];
    snprintf(head, sizeof(head), "against glibc under %s (%s)", a->mode, base_what[m]);
    if (a->base < 0) {
        line(v, "  %s: not in this matrix", head);
        return;
    }
    const struct fl__mv_pair *b = &v->pairs[a->base], *p = &v->pairs[v->pick];
    if (a->base == v->pick)
        line(v, "  %s: it is that pairing", head);
    else if (!a->same_load)
        line(v, "  %s: %s (%s): no saving given", head, nm(b), b->why);
    else
        line(v,
             "  %s: %s %.1f MiB (%.0f %%) of its %.1f MiB%s; costs throughput %+.1f %%, p99 "
             "%+.1f ms (%.1f -> %.1f ms)",
             head, a->saving >= 0 ? "saves" : "uses more by", fabs(a->saving) / MIB,
             100 * fabs(a->saving_share), b->rss / MIB,
             fabs(a->saving) < fmax(FL__MR_STEP_MIN_BYTES, FL__MR_STEP_SHARE * b->rss)
                 ? " (under the stair-step rule's max(1 MiB, 5 %): no difference worth a change)"
                 : "",
             100 * a->rps_change, a->p99_change_us / 1000, b->p99 / 1000, p->p99 / 1000);
    /* Live data that differs is worth a word: the saving may be the
     * allocator's accounting of the same data, or the program holding
     * less; RSS is what the machine pays either way. */
    double live_d = fabs(p->live - b->live);
    if (a->base != v->pick && a->same_load && live_d > FL__MR_STEP_MIN_BYTES &&
        live_d > FL__MR_SAME_LIVE * fmax(p->live, b->live))
        line(v, "    (their live data differs: %.1f against %.1f MiB, as each allocator counts it)",
             p->live / MIB, b->live / MIB);
}

/* How sure: the ranges over repeated matrices, against the savings. */
static void sure_line(struct fl__mr_verdict *v)
{
    const struct fl__mv_pair *p = &v->pairs[v->pick];
    if (v->nfolders < 2) {
        line(v, "  how sure: one run, no spread (repeat the matrix and give the folders to "
                "`fraglab-loadgen report DIR --repeats DIR2,DIR3` for one)");
        return;
    }
    line(v, "  how sure: %d runs; %s's steady RSS ranged %.1f-%.1f MiB, its p99 %.1f-%.1f ms",
         p->nruns, nm(p), p->rss_lo / MIB, p->rss_hi / MIB, p->p99_lo / 1000, p->p99_hi / 1000);
    for (int m = 0; m < 2; m++) {
        const struct fl__mv_against *a = &v->against[m];
        if (a->base < 0 || a->base == v->pick || !a->same_load)
            continue;
        const struct fl__mv_pair *b = &v->pairs[a->base];
        /* Sure when the worst of the pick's runs still beats the best of
         * the base's. */
        bool sure = a->saving > 0 && p->rss_hi < b->rss_lo;
        line(v, "    %s ranged %.1f-%.1f MiB: %s", nm(b), b->rss_lo / MIB, b->rss_hi / MIB,
             sure ? "every run of the pick is below every run of it"
                  : "the ranges overlap: not a sure difference");
    }
}

static void write_lines(struct fl__mr_verdict *v, int same)
{
    if (v->pick < 0) {
        line(v, "verdict: none: %s", v->none);
    } else {
        const struct fl__mv_pair *p = &v->pairs[v->pick];
        const struct fl__mr_run *run = p->run;
        int ncand = 0;
        for (int i = 0; i < v->npairs; i++)
            ncand += v->pairs[i].candidate;
        line(v,
             "verdict: for this traffic run %s (mode %s%s, allocator %s): steady RSS %.1f MiB, "
             "the lowest of the %d pairing%s within tolerance",
             nm(p), run->mode ? run->mode : "?",
             run->free_policy && strcmp(run->free_policy, "owner") == 0
                 ? ", frees handed to the owning worker"
                 : "",
             run->spec ? run->spec : "?", p->rss / MIB, ncand, ncand == 1 ? "" : "s");
        line(v,
             "  tolerance: throughput within %.0f %% of the busiest (%.0f req/s; %d of %d "
             "pairings carried that load), p99 at most %.1f ms (the best %.1f ms + %.0f %%, at "
             "least %.0f ms)",
             100 * FL__MR_SAME_RPS, v->best_rps, same, v->npairs, v->p99_limit / 1000,
             v->best_p99 / 1000, 100 * FL__MV_P99_SHARE, FL__MV_P99_SLACK_US / 1000);
        for (int m = 0; m < 2; m++)
            against_line(v, m);
        sure_line(v);
        char note[160];
        fl__mr_drift_note(run, note, sizeof(note));
        if (note[0])
            line(v, "  note: %s: %s, so part of that RSS is the data, not the allocator", nm(p),
                 note);
    }
    for (int i = 0; i < v->npairs; i++)
        if (v->pairs[i].why[0])
            line(v, "  left out: %s (%s)", nm(&v->pairs[i]), v->pairs[i].why);
}

int fl__mv_judge(const struct fl__mr_report *reps, int nreps, struct fl__mr_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->pick = -1;
    v->nfolders = nreps;
    v->npairs = reps[0].n;
    v->pairs = calloc((size_t)v->npairs + 1, sizeof(*v->pairs));
    if (!v->pairs)
        return -ENOMEM;
    for (int i = 0; i < v->npairs; i++) {
        v->pairs[i].run = &reps[0].runs[i];
        gather(reps, nreps, &v->pairs[i]);
    }
    int same = sort_out(v);
    double low = INFINITY;
    for (int i = 0; i < v->npairs; i++)
        if (v->pairs[i].candidate && v->pairs[i].rss < low) {
            low = v->pairs[i].rss;
            v->pick = i;
        }
    if (same < 2) {
        const char *one = "?";
        for (int i = 0; i < v->npairs; i++)
            if (v->pairs[i].equal)
                one = nm(&v->pairs[i]);
        if (same)
            snprintf(v->none, sizeof(v->none),
                     "only %s carried the busiest load with figures; under the equal-load rule "
                     "(throughput within %.0f %%) nothing compares with it",
                     one, 100 * FL__MR_SAME_RPS);
        else
            snprintf(v->none, sizeof(v->none), "no pairing finished with figures");
        v->pick = -1;
        for (int i = 0; i < v->npairs; i++)
            v->pairs[i].candidate = v->pairs[i].equal = false;
    }
    for (int m = 0; m < 2; m++)
        against(v, m);
    write_lines(v, same);
    return 0;
}

void fl__mv_free(struct fl__mr_verdict *v)
{
    free(v->pairs);
    v->pairs = NULL;
}

void fl__mv_print(FILE *f, const struct fl__mr_verdict *v)
{
    fputc('\n', f);
    for (int i = 0; i < v->nlines; i++)
        fprintf(f, "%s\n", v->lines[i]);
}

static void add_num(cJSON *o, const char *k, double x)
{
    cJSON_AddItemToObject(o, k, isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull());
}

cJSON *fl__mv_json(const struct fl__mr_verdict *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "runs", v->nfolders);
    const struct fl__mv_pair *p = v->pick >= 0 ? &v->pairs[v->pick] : NULL;
    cJSON_AddItemToObject(o, "pick", p ? cJSON_CreateString(nm(p)) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "none", p ? cJSON_CreateNull() : cJSON_CreateString(v->none));
    cJSON *t = cJSON_AddObjectToObject(o, "tolerance");
    cJSON_AddNumberToObject(t, "rps_share", FL__MR_SAME_RPS);
    add_num(t, "best_rps", v->best_rps);
    add_num(t, "best_p99_us", v->best_p99);
    add_num(t, "p99_limit_us", v->p99_limit);
    cJSON *ag = cJSON_AddArrayToObject(o, "against");
    for (int m = 0; p && m < 2; m++) {
        const struct fl__mv_against *a = &v->against[m];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "mode", a->mode);
        cJSON_AddItemToObject(x, "pairing",
                              a->base >= 0 ? cJSON_CreateString(nm(&v->pairs[a->base]))
                                           : cJSON_CreateNull());
        cJSON_AddBoolToObject(x, "same_load", a->same_load);
        add_num(x, "saving_bytes", a->same_load ? a->saving : NAN);
        add_num(x, "saving_share", a->same_load ? a->saving_share : NAN);
        add_num(x, "rps_change_share", a->same_load ? a->rps_change : NAN);
        add_num(x, "p99_change_us", a->same_load ? a->p99_change_us : NAN);
        cJSON_AddItemToArray(ag, x);
    }
    cJSON *ps = cJSON_AddArrayToObject(o, "pairings");
    for (int i = 0; i < v->npairs; i++) {
        const struct fl__mv_pair *q = &v->pairs[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", nm(q));
        cJSON_AddNumberToObject(x, "runs", q->nruns);
        cJSON_AddBoolToObject(x, "candidate", q->candidate);
        add_num(x, "rss_steady_bytes", q->nruns ? q->rss : NAN);
        add_num(x, "rss_steady_low_bytes", q->nruns ? q->rss_lo : NAN);
        add_num(x, "rss_steady_high_bytes", q->nruns ? q->rss_hi : NAN);
        add_num(x, "p99_us", q->nruns ? q->p99 : NAN);
        add_num(x, "throughput_rps", q->nruns ? q->rps : NAN);
        cJSON_AddItemToObject(x, "left_out",
                              q->why[0] ? cJSON_CreateString(q->why) : cJSON_CreateNull());
        cJSON_AddItemToArray(ps, x);
    }
    cJSON *ls = cJSON_AddArrayToObject(o, "lines");
    for (int i = 0; i < v->nlines; i++)
        cJSON_AddItemToArray(ls, cJSON_CreateString(v->lines[i]));
    return o;
}

void fl__mv_html(FILE *f, const struct fl__mr_verdict *v)
{
    fputs("<h2>Verdict</h2>\n<div id=\"verdict\">\n", f);
    for (int i = 0; i < v->nlines; i++) {
        const char *s = v->lines[i];
        size_t indent = strspn(s, " ");
        fprintf(f, "<p%s>", indent ? " class=\"sub\"" : " class=\"head\"");
        fl__mr_esc(f, s + indent);
        fputs("</p>\n", f);
    }
    fputs("</div>\n", f);
}
