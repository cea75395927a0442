/* matrix_report_overhead.c - the report's headline figures: the allocator's
 * overhead (RSS minus allocated bytes) at the RSS peak under load, steady
 * and after idle; live data and its drift; the allocator-specific columns;
 * and whether two pairings' ratios compare like with like.
 *
 * The steady rows and the drift are those of the team's independent
 * checker (shared/tools/matrix-check.py), so the two agree to the
 * byte: the load rows are the rows outside the idle tail, past the warm-up,
 * with rps > 0; the second half is load[n / 2 : -1], the last load row
 * left out because it is sampled as the load stops (connections closing,
 * little allocated). The drift is the least-squares slope of allocated
 * bytes over those rows, times their span, as a share of their mean. The
 * checker takes all load phases as one series; a phased scenario (soak.ini)
 * changes its rate from phase to phase, so each load phase's own second half
 * is checked too and the run is flagged when either moves. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"

#define FL_X(field, drawn) #field "_bytes",
const char *const fl__mr_detail_names[FL__MR_NDETAIL] = {FL__MR_DETAIL(FL_X)};
#undef FL_X
#define FL_X(field, drawn) FL_LG_COL_##field##_bytes,
const int fl__mr_detail_cols[FL__MR_NDETAIL] = {FL__MR_DETAIL(FL_X)};
#undef FL_X
#define FL_X(field, drawn) drawn,
static const bool detail_drawn[FL__MR_NDETAIL] = {FL__MR_DETAIL(FL_X)};
#undef FL_X

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of w[0..n), which it sorts; NAN when n = 0. */
static double median_of(double *w, size_t n)
{
    if (!n)
        return NAN;
    qsort(w, n, sizeof(double), cmp_double);
    return n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
}

/* A row matrix-check.py counts as under load. Without an rps column the
 * requests column stands for it (the checker would find no load rows). */
static bool serving(const struct fl__mr_series *s, size_t i)
{
    double *const *v = s->v;
    if (v[FL__MR_C_IDLE][i] > 0 || v[FL_LG_COL_warmup][i] > 0)
        return false;
    return s->col[FL_LG_COL_rps] ? v[FL_LG_COL_rps][i] > 0 : v[FL_LG_COL_requests][i] > 0;
}

/* The least-squares slope of the known values of y over rows[0..n), over
 * their span, as a share of their mean (matrix-check.py's drift). */
static double drift(const double *y, const size_t *rows, size_t n)
{
    double sum = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[rows[i]]))
            sum += y[rows[i]], m++;
    if (!m)
        return NAN;
    double xm = (m - 1) / 2, ym = sum / m, num = 0, den = 0, x = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[rows[i]])) {
            num += (x - xm) * (y[rows[i]] - ym);
            den += (x - xm) * (x - xm);
            x++;
        }
    double slope = num / fmax(1e-9, den);
    return slope * (m - 1) / fmax(1.0, ym);
}

/* Each load phase's own second half, the run's last load row left out:
 * the drift of the phase that moves most, if it moves more than the whole. */
static void phase_drifts(const struct fl__mr_series *s, struct fl__mr_run *run, const size_t *load,
                         size_t nload, size_t *rows)
{
    const double *alloc = s->v[FL_LG_COL_allocated_bytes], *pid = s->v[FL__MR_C_PHASE_ID];
    run->worst_drift = run->live_drift;
    for (int p = 0; p < s->nphases; p++) {
        size_t n = 0, m = 0;
        for (size_t i = 0; i < nload; i++)
            n += pid[load[i]] == p;
        if (n == nload || !n) /* one load phase: the whole load's figure */
            continue;
        for (size_t i = 0, k = 0; i < nload; i++)
            if (pid[load[i]] == p && k++ >= n / 2 && i != nload - 1)
                rows[m++] = load[i];
        double d = drift(alloc, rows, m);
        if (!isnan(d) && (isnan(run->worst_drift) || fabs(d) > fabs(run->worst_drift))) {
            run->worst_drift = d;
            snprintf(run->drift_phase, sizeof(run->drift_phase), "%s", s->phases[p]);
        }
    }
}

/* The medians over the steady rows: live data, overhead, RSS, each detail. */
static void steady(const struct fl__mr_series *s, struct fl__mr_run *run, const size_t *rows,
                   size_t n, double *w)
{
    double *const *v = s->v;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[FL_LG_COL_allocated_bytes][rows[i]]))
            w[m++] = v[FL_LG_COL_allocated_bytes][rows[i]];
    run->live = median_of(w, m);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[FL_LG_COL_allocated_bytes][rows[i]]) &&
            !isnan(v[FL_LG_COL_rss_bytes][rows[i]]))
            w[m++] = v[FL_LG_COL_rss_bytes][rows[i]] - v[FL_LG_COL_allocated_bytes][rows[i]];
    run->over_steady = median_of(w, m);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[FL_LG_COL_rss_bytes][rows[i]]))
            w[m++] = v[FL_LG_COL_rss_bytes][rows[i]];
    if (m) /* RSS steady over the same rows as the overhead it is read with */
        run->rss_steady = median_of(w, m);
    for (int k = 0; k < FL__MR_NDETAIL; k++) {
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(v[fl__mr_detail_cols[k]][rows[i]]))
                w[m++] = v[fl__mr_detail_cols[k]][rows[i]];
        run->detail[k] = median_of(w, m);
    }
}

static bool any(const struct fl__mr_series *s, int c)
{
    for (size_t i = 0; s->col[c] && i < s->n; i++)
        if (!isnan(s->v[c][i]))
            return true;
    return false;
}

/* overhead.png's columns and the top of its stack (and of its lines). */
static void stack(const struct fl__mr_series *s, struct fl__mr_run *run)
{
    static const int basis[] = {FL_LG_COL_resident_bytes, FL_LG_COL_mapped_bytes,
                                FL_LG_COL_rss_anon_bytes};
    int h = -1;
    for (size_t b = 0; b < sizeof(basis) / sizeof(basis[0]) && h < 0; b++)
        if (any(s, basis[b]))
            h = basis[b];
    run->col_heap = h >= 0 ? s->col[h] : 0;
    run->heap_basis = h >= 0 ? fl_lg_csv_names[h] : NULL;
    for (int k = 0; k < FL__MR_NDETAIL; k++)
        run->col_detail[k] =
            detail_drawn[k] && any(s, fl__mr_detail_cols[k]) ? s->col[fl__mr_detail_cols[k]] : 0;
    run->stack_max = 0;
    for (size_t i = 0; i < s->n; i++) {
        double a = s->v[FL_LG_COL_allocated_bytes][i], r = s->v[FL_LG_COL_rss_bytes][i];
        double heap = h >= 0 ? fmin(s->v[h][i], r) : r; /* at most RSS, as drawn */
        if (isnan(a) || isnan(r) || isnan(heap))
            continue;
        run->stack_max = fmax(run->stack_max, a + fmax(0, heap - a) + fmax(0, r - heap));
        for (int k = 0; k < FL__MR_NDETAIL; k++)
            if (run->col_detail[k] && !isnan(s->v[fl__mr_detail_cols[k]][i]))
                run->stack_max = fmax(run->stack_max, s->v[fl__mr_detail_cols[k]][i]);
    }
}

void fl__mr_overhead(const struct fl__mr_series *s, struct fl__mr_run *run, size_t at, size_t idle)
{
    double *const *v = s->v;
    if (at != SIZE_MAX)
        run->over_peak = v[FL_LG_COL_rss_bytes][at] - v[FL_LG_COL_allocated_bytes][at];
    if (idle != SIZE_MAX)
        run->over_idle = v[FL_LG_COL_rss_bytes][idle] - v[FL_LG_COL_allocated_bytes][idle];
    stack(s, run);
    size_t *load = malloc((s->n + 1) * sizeof(size_t));
    size_t *rows = malloc((s->n + 1) * sizeof(size_t));
    double *w = malloc((s->n + 1) * sizeof(double));
    size_t nload = 0;
    for (size_t i = 0; load && rows && w && i < s->n; i++) /* else the figures stay unknown */
        if (serving(s, i))
            load[nload++] = i;
    if (nload) {
        size_t from = nload / 2, n = nload - from - 1;
        steady(s, run, load + from, n, w);
        run->live_drift = drift(v[FL_LG_COL_allocated_bytes], load + from, n);
        phase_drifts(s, run, load, nload, rows);
    }
    free(load);
    free(rows);
    free(w);
}

bool fl__mr_drifts(const struct fl__mr_run *run)
{
    return fabs(run->live_drift) > FL__MR_DRIFT_SHARE ||
           fabs(run->worst_drift) > FL__MR_DRIFT_SHARE;
}

void fl__mr_drift_note(const struct fl__mr_run *run, char *b, size_t n)
{
    b[0] = '\0';
    if (!fl__mr_drifts(run))
        return;
    bool whole = !(fabs(run->worst_drift) > fabs(run->live_drift)) || !run->drift_phase[0];
    double d = whole ? run->live_drift : run->worst_drift;
    snprintf(b, n, "RSS follows live data here (live data %+.0f %% over the second half%s%s)",
             100 * d, whole ? "" : " of phase ", whole ? "" : run->drift_phase);
}

/* |a - b| / max(a, b); NAN when a side is unknown. */
static double differs(double a, double b)
{
    double m = fmax(a, b);
    return isnan(a) || isnan(b) ? NAN : m > 0 ? fabs(a - b) / m : 0;
}

/* matrix-check.py's ratio: the denominator at least one byte. */
static double over_ratio(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : a / fmax(1.0, b);
}

void fl__mr_compare(const struct fl__mr_run *o, const struct fl__mr_run *t, struct fl__mr_ratio *x)
{
    x->over_peak = over_ratio(o->over_peak, t->over_peak);
    x->over_steady = over_ratio(o->over_steady, t->over_steady);
    x->over_idle = over_ratio(o->over_idle, t->over_idle);
    x->rps_diff = differs(o->rps, t->rps);
    x->live_diff = differs(o->live, t->live);
    char a[48] = "", b[48] = "";
    if (isnan(x->rps_diff))
        snprintf(a, sizeof(a), "throughput not known");
    else if (x->rps_diff > FL__MR_SAME_RPS)
        snprintf(a, sizeof(a), "throughput differs %.1f %%", 100 * x->rps_diff);
    if (isnan(x->live_diff))
        snprintf(b, sizeof(b), "live data not known");
    else if (x->live_diff > FL__MR_SAME_LIVE)
        snprintf(b, sizeof(b), "live data differs %.0f %%", 100 * x->live_diff);
    /* A side at its memory limit refused part of the load: its figures are
     * the limit's, whatever the throughput says. */
    if (o->alloc_failures > 0 || t->alloc_failures > 0)
        snprintf(b, sizeof(b), "the server refused requests for want of memory");
    x->comparable = !a[0] && !b[0];
    snprintf(x->why, sizeof(x->why), "%s%s%s", a, a[0] && b[0] ? ", " : "", b);
}
