/* fromlog_write.c - the scenario INI from a log's aggregates (fromlog.c),
 * every choice written into it as a comment:
 *   - phases: the time bins cut where the rate changes and where nothing
 *     came for a while (split_idle, split_rates), at most MAX_PHASES;
 *   - connections from $connection (Little's law), else from
 *     $request_time, else a stated guess;
 *   - the populations and requests: fromlog_mix.c.
 * It only writes keys fl_scenario_load reads; tests load what it writes. */
#include "fromlog_internal.h"
#include "scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PHASES 64 /* of the 256 a scenario may have: enough to read */
#define WINDOWS 100   /* rate windows over the whole log */
#define IDLE_MIN_S 10.0
#define IDLE_EXPECTED 20.0 /* requests the mean rate would have sent */

/* A stretch of bins [b0, b0 + nb) holding n requests. */
struct seg {
    uint32_t b0, nb;
    uint64_t n;
    bool idle;
};

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (whylen)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static double bin_s(const struct fl_fromlog *c)
{
    return (double)c->bin_ms / 1000;
}

/* --- phases ------------------------------------------------------------- */

/* The length of the run of empty bins from i. */
static uint32_t zeros_from(const struct fl_fromlog *c, uint32_t i)
{
    uint32_t j = i;
    while (j < c->nbins && c->bins[j] == 0)
        j++;
    return j - i;
}

/* Active stretches and idle gaps (runs of at least idle_bins empty bins). */
static size_t split_idle(const struct fl_fromlog *c, uint32_t idle_bins, struct seg *out)
{
    size_t k = 0;
    for (uint32_t i = 0; i < c->nbins;) {
        uint32_t z = zeros_from(c, i);
        if (z && z >= idle_bins) {
            out[k++] = (struct seg){.b0 = i, .nb = z, .idle = true};
            i += z;
            continue;
        }
        struct seg s = {.b0 = i};
        uint32_t j = i;
        while (j < c->nbins) {
            z = zeros_from(c, j);
            if (z >= idle_bins && z)
                break;
            j += z;
            if (j < c->nbins)
                s.n += c->bins[j++];
        }
        s.nb = j - i;
        out[k++] = s;
        i = j;
    }
    return k;
}

/* Cuts each active stretch where a window's count leaves the phase's rate
 * so far by more than a quarter (and more than 3 standard deviations of a
 * Poisson count, so noise at low rates does not cut). */
static size_t split_rates(const struct fl_fromlog *c, const struct seg *in, size_t nin,
                          uint32_t win, struct seg *out)
{
    size_t k = 0;
    for (size_t i = 0; i < nin; i++) {
        if (in[i].idle) {
            out[k++] = in[i];
            continue;
        }
        struct seg cur = {.b0 = in[i].b0};
        uint32_t end = in[i].b0 + in[i].nb;
        for (uint32_t b = in[i].b0; b < end; b += win) {
            uint32_t w = end - b < win ? end - b : win;
            uint64_t n = 0;
            for (uint32_t j = b; j < b + w; j++)
                n += c->bins[j];
            double e = cur.nb ? (double)cur.n * w / cur.nb : 0;
            if (cur.nb && fabs((double)n - e) > fmax(0.25 * e, 3 * sqrt(e) + 1)) {
                out[k++] = cur;
                cur = (struct seg){.b0 = b};
            }
            cur.nb += w;
            cur.n += n;
        }
        out[k++] = cur;
    }
    return k;
}

static double seg_rate(const struct fl_fromlog *c, const struct seg *s)
{
    return (double)s->n / (s->nb * bin_s(c));
}

/* One step towards MAX_PHASES: merges the two neighbouring active phases
 * of the closest rates or, with none, makes the shortest gap active. */
static size_t merge_one(const struct fl_fromlog *c, struct seg *s, size_t n)
{
    size_t best = n, shortest = n;
    double diff = INFINITY;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i].idle || s[i + 1].idle)
            continue;
        double d = fabs(log((seg_rate(c, &s[i]) + 1e-9) / (seg_rate(c, &s[i + 1]) + 1e-9)));
        if (d < diff)
            diff = d, best = i;
    }
    if (best == n) {
        for (size_t i = 0; i < n; i++)
            if (s[i].idle && (shortest == n || s[i].nb < s[shortest].nb))
                shortest = i;
        s[shortest].idle = false; /* there is one: n > 1 and no two active neighbours */
        return n;
    }
    s[best].nb += s[best + 1].nb;
    s[best].n += s[best + 1].n;
    memmove(&s[best + 1], &s[best + 2], (n - best - 2) * sizeof(*s));
    return n - 1;
}

/* The phases into `out` (FL__FL_BINS of them at most); their count. */
static size_t find_phases(const struct fl_fromlog *c, struct seg *tmp, struct seg *out,
                          double *idle_s)
{
    double span = c->nbins * bin_s(c), mean = (double)c->requests / span;
    *idle_s = fmax(IDLE_MIN_S, IDLE_EXPECTED / mean);
    uint32_t idle_bins = (uint32_t)ceil(*idle_s / bin_s(c));
    uint32_t win = (c->nbins + WINDOWS - 1) / WINDOWS;
    size_t n = split_idle(c, idle_bins ? idle_bins : 1, tmp);
    n = split_rates(c, tmp, n, win ? win : 1, out);
    while (n > MAX_PHASES)
        n = merge_one(c, out, n);
    return n;
}

/* --- values ------------------------------------------------------------- */

static void put_time(FILE *f, const char *key, uint64_t ns)
{
    char v[32];
    fl_dist_format_value(FL_DIST_TIME, ns, v, sizeof(v));
    fprintf(f, "%s = %s\n", key, v);
}

/* --- sections ----------------------------------------------------------- */

static void put_header(FILE *f, const struct fl_fromlog *c, const char *source)
{
    fprintf(f, "# Generated by `fraglab-loadgen scenario --from-log %s --format %s`.\n", source,
            c->fmt == FL_FROMLOG_JSON ? "json" : "combined");
    fprintf(f, "# Every choice the conversion made is a comment beside what it chose.\n#\n");
    fprintf(f, "# The log: %" PRIu64 " lines, %" PRIu64 " requests, %" PRIu64 " bad lines",
            c->lines, c->requests, c->lines - c->requests);
    const char *sep = " (";
    for (int k = 0; k < FL_FROMLOG_NBAD; k++) {
        if (c->bad[k]) {
            fprintf(f, "%s%" PRIu64 " %s", sep, c->bad[k], fl_fromlog_bad_name(k));
            sep = ", ";
        }
    }
    fprintf(f, "%s; bad lines are left out.\n", *sep == ',' ? ")" : "");
    fprintf(f,
            "# Fields it carried: $request_length on %.0f %%, $request_time on %.0f %%,\n"
            "# $connection on %.0f %%, $connection_requests on %.0f %% of the requests.\n",
            fl__fl_pct(c->with_len, c->requests), fl__fl_pct(c->with_rtime, c->requests),
            fl__fl_pct(c->with_conn, c->requests), fl__fl_pct(c->with_creq, c->requests));
    if (!c->with_len || !c->with_conn)
        fprintf(f, "# For what is missing, log nginx's json format (loadgen/README.md):\n"
                   "#   log_format fraglab escape=json '{\"msec\":\"$msec\",\"request\":"
                   "\"$request\",\"status\":\"$status\",'\n"
                   "#     '\"body_bytes_sent\":\"$body_bytes_sent\",\"request_length\":"
                   "\"$request_length\",'\n"
                   "#     '\"request_time\":\"$request_time\",\"connection\":\"$connection\","
                   "'\n"
                   "#     '\"connection_requests\":\"$connection_requests\"}';\n");
}

/* Connections: by Little's law from what the log has; the reason in `how`. */
static uint32_t pick_connections(const struct fl_fromlog *c, double active_s, char *how, size_t len)
{
    double n;
    if (c->conn_done) {
        n = ceil(c->life_sum_s / active_s);
        snprintf(how, len,
                 "the mean number open: the connections' lifetimes (first request's start\n"
                 "# to last one's end, %.3g s on average) over the active time; the idle\n"
                 "# keep-alive wait after a connection's last request is not in the log and\n"
                 "# not counted",
                 c->life_sum_s / (double)c->conn_done);
    } else if (c->with_rtime) {
        n = ceil(c->rtime_sum_s / active_s);
        snprintf(how, len,
                 "the mean number of requests in flight ($request_time over the active\n"
                 "# time), one connection each: the log has no $connection");
    } else {
        n = ceil((double)c->requests / active_s * 0.25);
        snprintf(how, len,
                 "ASSUMED: the rate x 0.25 s (each request keeping a connection a quarter\n"
                 "# second); the log has neither $connection nor $request_time. Edit it");
    }
    return n < 2 ? 2 : n > FL_SCENARIO_MAX_CONNECTIONS ? FL_SCENARIO_MAX_CONNECTIONS : (uint32_t)n;
}

static void put_scenario(FILE *f, const struct fl_fromlog *c, double active_s, uint64_t dur_ns)
{
    char how[512], v[32];
    uint32_t conns = pick_connections(c, active_s, how, sizeof(how));
    fl_dist_format_value(FL_DIST_TIME, dur_ns, v, sizeof(v));
    fprintf(f, "\n[scenario]\nname = fromlog\nseed = 1\n");
    fprintf(f, "# As long as the log (%s); `run --duration T` scales every phase.\n", v);
    put_time(f, "duration", dur_ns);
    fprintf(f, "# Open loop at the log's own rate: its requests over its active time (the\n"
               "# phases below set theirs), so every pairing serves the same requests.\n");
    fprintf(f, "rate = %.6g\n", (double)c->requests / active_s);
    fprintf(f, "# connections: %s.\nconnections = %" PRIu32 "\nthreads = 2\n", how, conns);
    fprintf(f, "timeout = 10s\ninterval = %s\n", dur_ns >= UINT64_C(3600000000000) ? "5s" : "1s");
}

static void put_phases(FILE *f, const struct fl_fromlog *c, const struct seg *ph, size_t n,
                       double idle_s, uint64_t dur_ns)
{
    fprintf(f,
            "\n# --- phases: the requests per %.3g s of the log, cut where a window of\n"
            "# %u bins leaves the phase's rate by more than 25 %% (and 3 Poisson standard\n"
            "# deviations); no request for %.3g s or more (10 s, or the time the mean\n"
            "# rate takes for 20 requests) is an idle phase, connections kept open.\n",
            bin_s(c), (c->nbins + WINDOWS - 1) / WINDOWS, idle_s);
    if (n == MAX_PHASES)
        fprintf(f, "# Cut to %d phases: the closest rates merged.\n", MAX_PHASES);
    uint64_t left = dur_ns, bin_ns = c->bin_ms * UINT64_C(1000000);
    unsigned nl = 0, ni = 0;
    for (size_t i = 0; i < n; i++) {
        bool idle = ph[i].idle || !ph[i].n;
        uint64_t d = i + 1 < n ? ph[i].nb * bin_ns : left;
        left -= d;
        fprintf(f, "\n# %.0f s to %.0f s of the log: %" PRIu64 " requests\n", ph[i].b0 * bin_s(c),
                (ph[i].b0 + ph[i].nb) * bin_s(c), ph[i].n);
        fprintf(f, "[phase %s-%u]\n", idle ? "idle" : "load", idle ? ++ni : ++nl);
        put_time(f, "duration", d);
        if (idle)
            fprintf(f, "idle = true\n");
        else
            fprintf(f, "rate = %.6g\n", seg_rate(c, &ph[i]));
    }
}

int fl_fromlog_write(struct fl_fromlog *c, FILE *out, const char *source, char *why, size_t whylen)
{
    if (!c->requests)
        return fail(why, whylen, "no line of %" PRIu64 " was a request in the %s format", c->lines,
                    c->fmt == FL_FROMLOG_JSON ? "json" : "combined");
    fl__fl_close_conns(c);
    struct seg *tmp = malloc(FL__FL_BINS * sizeof(*tmp)), *ph = malloc(FL__FL_BINS * sizeof(*ph));
    if (!tmp || !ph) {
        free(tmp);
        free(ph);
        return fail(why, whylen, "out of memory");
    }
    double idle_s;
    size_t n = find_phases(c, tmp, ph, &idle_s), active_bins = 0;
    for (size_t i = 0; i < n; i++)
        active_bins += ph[i].idle || !ph[i].n ? 0 : ph[i].nb;
    uint64_t dur = c->nbins * c->bin_ms * UINT64_C(1000000);
    dur = dur < FL_DIST_MAX_TIME ? dur : FL_DIST_MAX_TIME;
    put_header(out, c, source);
    put_scenario(out, c, active_bins * bin_s(c), dur);
    put_phases(out, c, ph, n, idle_s, dur);
    fl__fl_put_mix(out, c);
    free(tmp);
    free(ph);
    return 0;
}
