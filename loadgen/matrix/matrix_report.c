/* matrix_report.c - `fraglab-loadgen report DIR` and the live page: reads
 * a matrix folder (its runs through matrix_report_runs.c, each run's
 * timeseries.csv through matrix_report_series.c and summary.json, any of
 * which may be partial while the matrix runs) and computes each run's
 * figures, its stair-steps and the ws/tpc ratios; the writers do the rest. */
#include "matrix_report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flags.h"
#include "matrix_report_internal.h"
#include "matrix_verdict.h"

#define PROG "fraglab-loadgen report"

const char fl__mr_step_rule[] =
    "A stair-step is an RSS rise that holds. Over the run's rows in time order (load, then "
    "idle tail), row i is a held rise when its RSS is at least T above the row before it, "
    "where T = max(1 MiB, 5 % of that earlier RSS), and no later row, idle tail included, "
    "falls back below that earlier RSS + T. The row before must be past the warm-up (the "
    "growth to the working set is not a step) and at least one row must follow (a rise "
    "needs a later row to show it held). Consecutive held rises are one step, timed at its "
    "first row.";

static void seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of the known values among v[from..to). */
static double median(const double *v, size_t from, size_t to)
{
    double *w = malloc((to - from + 1) * sizeof(double));
    size_t n = 0;
    for (size_t i = from; w && i < to; i++)
        if (!isnan(v[i]))
            w[n++] = v[i];
    double m = NAN;
    if (n) {
        qsort(w, n, sizeof(double), cmp_double);
        m = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
    }
    free(w);
    return m;
}

static double step_threshold(double level)
{
    double t = level * FL__MR_STEP_SHARE;
    return t > FL__MR_STEP_MIN_BYTES ? t : FL__MR_STEP_MIN_BYTES;
}

/* fl__mr_step_rule over the rows with an RSS. */
static void find_steps(const struct fl__mr_series *s, struct fl__mr_run *run)
{
    const double *rss = s->v[FL_LG_COL_rss_bytes];
    size_t prev = SIZE_MAX; /* the last row with an RSS */
    bool in_step = false;
    for (size_t i = 0; i < s->n; i++) {
        if (isnan(rss[i]))
            continue;
        bool held = false;
        if (prev != SIZE_MAX && !(s->v[FL_LG_COL_warmup][prev] > 0)) {
            double bar = rss[prev] + step_threshold(rss[prev]);
            bool later = false;
            held = rss[i] >= bar;
            for (size_t j = i + 1; held && j < s->n; j++)
                if (!isnan(rss[j])) {
                    later = true;
                    held = rss[j] >= bar;
                }
            held = held && later;
        }
        if (held && !in_step) {
            if (run->nsteps < FL__MR_MAX_STEPS)
                run->steps[run->nsteps] = (struct fl__mr_step){
                    .t_s = s->v[FL_LG_COL_t_s][i], .at = rss[i], .from = rss[prev], .to = rss[i]};
            run->nsteps++;
        } else if (held && run->nsteps <= FL__MR_MAX_STEPS) {
            run->steps[run->nsteps - 1].to = rss[i];
        }
        in_step = held;
        prev = i;
    }
}

/* The figures of one run from its rows (summary figures come later). */
static void figures(const struct fl__mr_series *s, struct fl__mr_run *run)
{
    double **v = (double **)s->v;
    size_t nload = 0, peak = SIZE_MAX, last_idle = SIZE_MAX, last_load = SIZE_MAX;
    /* The highest RSS among rows sampled under load: rows that served
     * requests, but not the run's last load row, whose sample is taken once
     * the load has stopped and the connections are closing. */
    size_t busy_peak = SIZE_MAX, end_row = SIZE_MAX, busy_rows = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!(v[FL__MR_C_IDLE][i] > 0)) {
            end_row = i;
            busy_rows += v[FL_LG_COL_requests][i] > 0;
        }
    double req = 0, secs = 0, prev_t = 0;
    for (size_t i = 0; i < s->n; i++) {
        bool idle = v[FL__MR_C_IDLE][i] > 0;
        double t = v[FL_LG_COL_t_s][i];
        if (!isnan(v[FL_LG_COL_rss_bytes][i]) &&
            (peak == SIZE_MAX || v[FL_LG_COL_rss_bytes][i] > v[FL_LG_COL_rss_bytes][peak]))
            peak = i;
        if (!idle && v[FL_LG_COL_requests][i] > 0 && !isnan(v[FL_LG_COL_rss_bytes][i]) &&
            (i != end_row || busy_rows == 1) &&
            (busy_peak == SIZE_MAX ||
             v[FL_LG_COL_rss_bytes][i] > v[FL_LG_COL_rss_bytes][busy_peak]))
            busy_peak = i;
        if (idle) {
            run->idle_rows++;
            last_idle = i;
            if (isnan(run->idle_start))
                run->idle_start = prev_t;
        } else {
            run->load_rows++;
            nload = i + 1;
            last_load = i;
            if (!(v[FL_LG_COL_warmup][i] > 0) && !isnan(v[FL_LG_COL_requests][i]) && !isnan(t)) {
                req += v[FL_LG_COL_requests][i];
                secs += t - prev_t;
            }
            if (!isnan(v[FL_LG_COL_p99_us][i]) && !(v[FL_LG_COL_warmup][i] > 0) &&
                (isnan(run->p99_us) || v[FL_LG_COL_p99_us][i] > run->p99_us))
                run->p99_us = v[FL_LG_COL_p99_us][i];
        }
        static const int mem[] = {FL_LG_COL_rss_bytes, FL_LG_COL_allocated_bytes,
                                  FL_LG_COL_resident_bytes};
        for (size_t k = 0; k < sizeof(mem) / sizeof(mem[0]); k++)
            if (v[mem[k]][i] > run->mem_max)
                run->mem_max = v[mem[k]][i];
        if (!isnan(t))
            prev_t = run->t_end = t;
    }
    run->rps = secs > 0 ? req / secs : NAN;
    if (peak != SIZE_MAX)
        run->rss_peak = v[FL_LG_COL_rss_bytes][peak];
    /* The allocator's figures at the RSS peak under load, not at the end nor
     * at an RSS peak reached while idle (an allocator that keeps its pages
     * can creep up by a page or two after the load stops): once requests
     * stop, little stays allocated and RSS/allocated says nothing of the
     * load. */
    size_t at = busy_peak != SIZE_MAX ? busy_peak : peak;
    if (at != SIZE_MAX) {
        run->alloc_peak = v[FL_LG_COL_allocated_bytes][at];
        run->res_peak = v[FL_LG_COL_resident_bytes][at];
        run->frag_peak = v[FL_LG_COL_frag_ratio][at];
    }
    /* The last half of the load rows, the odd one in the later half. */
    if (run->load_rows)
        run->rss_steady =
            median(v[FL_LG_COL_rss_bytes], nload - (size_t)(run->load_rows + 1) / 2, nload);
    if (last_load != SIZE_MAX) {
        run->cross_frees = v[FL_LG_COL_cross_thread_frees][last_load];
    }
    if (last_idle != SIZE_MAX) {
        run->rss_idle = v[FL_LG_COL_rss_bytes][last_idle];
        run->alloc_idle = v[FL_LG_COL_allocated_bytes][last_idle];
        run->res_idle = v[FL_LG_COL_resident_bytes][last_idle];
        run->lazy_idle = v[FL_LG_COL_lazyfree_bytes][last_idle];
    }
    fl__mr_overhead(s, run, at, last_idle);
    find_steps(s, run);
}

/* Reads one run's files; a run without them keeps its NAN figures. */
static void load_run(struct fl__mr_report *r, struct fl__mr_run *run)
{
    double *figs[] = {&run->rps,         &run->p99_us,        &run->rss_peak,   &run->rss_steady,
                      &run->rss_idle,    &run->returned,      &run->alloc_peak, &run->res_peak,
                      &run->alloc_idle,  &run->res_idle,      &run->frag_peak,  &run->lazy_idle,
                      &run->cross_frees, &run->cross_share,   &run->idle_start, &run->live,
                      &run->live_drift,  &run->worst_drift,   &run->over_peak,  &run->over_steady,
                      &run->over_idle,   &run->alloc_failures};
    for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++)
        *figs[i] = NAN;
    for (int k = 0; k < FL__MR_NDETAIL; k++)
        run->detail[k] = NAN;
    if (!run->dir)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/timeseries.csv", r->dir, run->dir);
    struct fl__mr_series s = {0};
    if (fl__mr_read_series(path, &s, run) == 0 && s.n > 0) {
        run->has_csv = true;
        figures(&s, run);
        /* The charts' columns outlive the series: only these grow with the
         * run's length once it is read. */
        static const int keep[] = {
#define FL_X(col) FL_LG_COL_##col,
            FL__MR_KEEP(FL_X)
#undef FL_X
        };
        for (int k = 0; k < FL__MR_NK; k++) {
            run->keep[k] = s.v[keep[k]];
            s.v[keep[k]] = NULL;
        }
        run->nkeep = s.n;
    }
    fl__mr_series_free(&s);

    snprintf(path, sizeof(path), "%s/%s/summary.json", r->dir, run->dir);
    cJSON *sum = fl__mr_read_json(path);
    if (!sum)
        return;
    cJSON_AddItemToArray(r->summaries, sum); /* keeps the strings alive */
    run->has_summary = true;
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(sum, "latency_us");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(sum, "server");
    double rps = jnum(sum, "throughput_rps"), p99 = jnum(lat, "p99");
    if (!isnan(rps))
        run->rps = rps;
    if (!isnan(p99))
        run->p99_us = p99;
    if (isnan(run->rss_peak))
        run->rss_peak = jnum(sv, "rss_peak_bytes");
    if (isnan(run->cross_frees))
        run->cross_frees = jnum(sv, "cross_thread_frees");
    run->cross_share = jnum(sv, "cross_thread_free_share");
    run->alloc_failures = jnum(cJSON_GetObjectItemCaseSensitive(sum, "errors"), "unavailable");
    run->alloc_name = jstr(sv, "allocator");
    run->alloc_version = jstr(sv, "allocator_version");
}

void fl__mr_oom_note(const struct fl__mr_run *run, char *b, size_t n)
{
    b[0] = '\0';
    if (run->alloc_failures > 0)
        snprintf(b, n, "the server refused %.0f request%s for want of memory (503)",
                 run->alloc_failures, run->alloc_failures == 1 ? "" : "s");
}

static struct fl__mr_run *find(struct fl__mr_report *r, const char *mode, const char *alloc)
{
    for (int i = 0; i < r->n; i++)
        if (r->runs[i].mode && r->runs[i].allocator && !strcmp(r->runs[i].mode, mode) &&
            !strcmp(r->runs[i].allocator, alloc))
            return &r->runs[i];
    return NULL;
}

static double ratio(double a, double b)
{
    return !isnan(a) && !isnan(b) && b > 0 ? a / b : NAN;
}

/* ws/tpc and ws-owner/tpc for every allocator with figures under both. */
static int ratios(struct fl__mr_report *r)
{
    static const char *const modes[] = {"ws", "ws-owner"};
    r->ratios = calloc((size_t)r->n * 2 + 1, sizeof(*r->ratios));
    if (!r->ratios)
        return -ENOMEM;
    for (int i = 0; i < r->n; i++) {
        struct fl__mr_run *t = &r->runs[i];
        if (!t->mode || !t->allocator || strcmp(t->mode, "tpc") != 0)
            continue;
        for (int m = 0; m < 2; m++) {
            struct fl__mr_run *o = find(r, modes[m], t->allocator);
            if (!o)
                continue;
            struct fl__mr_ratio x = {
                .allocator = t->allocator,
                .mode = modes[m],
                .peak = ratio(o->rss_peak, t->rss_peak),
                .final = ratio(o->rss_idle, t->rss_idle),
                .o = o,
                .t = t,
            };
            fl__mr_compare(o, t, &x);
            /* A side without figures: no ratio. */
            if (!isnan(x.peak) || !isnan(x.final) || !isnan(x.over_steady))
                r->ratios[r->nratios++] = x;
        }
    }
    return 0;
}

static int load(struct fl__mr_report *r, char *err, size_t errlen)
{
    int rc = fl__mr_read_runs(r->dir, &r->runs_json, err, errlen);
    if (rc)
        return rc;
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(r->runs_json, "runs");
    r->manifest = cJSON_GetObjectItemCaseSensitive(r->runs_json, "manifest");
    r->summaries = cJSON_CreateArray();
    r->runs = calloc((size_t)cJSON_GetArraySize(runs) + 1, sizeof(*r->runs));
    if (!r->summaries || !r->runs) {
        seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, runs)
    {
        struct fl__mr_run *run = &r->runs[r->n++];
        run->name = jstr(it, "name");
        run->mode = jstr(it, "mode");
        run->free_policy = jstr(it, "free_policy");
        run->allocator = jstr(it, "allocator");
        run->spec = jstr(it, "allocator_spec");
        run->dir = jstr(it, "dir");
        run->status = jstr(it, "status");
        run->error = jstr(it, "error");
        run->cpus = jstr(it, "cpus");
        run->pinned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "pinned"));
        const cJSON *behind = cJSON_GetObjectItemCaseSensitive(it, "intervals_behind");
        run->intervals_behind = cJSON_IsNumber(behind) ? behind->valuedouble : NAN;
        /* A dir that climbs out of the folder is not followed. */
        if (run->dir && (run->dir[0] == '/' || strstr(run->dir, "..")))
            run->dir = NULL;
        load_run(r, run);
        run->returned = !isnan(run->rss_peak) && run->rss_peak > 0 && !isnan(run->rss_idle)
                            ? (run->rss_peak - run->rss_idle) / run->rss_peak
                            : NAN;
    }
    if (ratios(r)) {
        seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static void release(struct fl__mr_report *r)
{
    for (int i = 0; i < r->n; i++)
        for (int k = 0; k < FL__MR_NK; k++)
            free(r->runs[i].keep[k]);
    cJSON_Delete(r->runs_json);
    cJSON_Delete(r->summaries);
    free(r->runs);
    free(r->ratios);
}

/* The repeats' folders (a comma list) loaded into reps[1..]; their count,
 * or -1 with one line in `err`. */
static int load_repeats(struct fl__mr_report *reps, char *list, char *err, size_t errlen)
{
    const cJSON *sc0 = cJSON_GetObjectItemCaseSensitive(reps[0].runs_json, "scenario");
    int n = 1;
    for (char *save = NULL, *d = list ? strtok_r(list, ",", &save) : NULL; d;
         d = strtok_r(NULL, ",", &save)) {
        if (n == FL__MV_MAX_FOLDERS) {
            seterr(err, errlen, "--repeats: at most %d folders", FL__MV_MAX_FOLDERS - 1);
            return -1;
        }
        reps[n].dir = d;
        int rc = load(&reps[n++], err, errlen);
        if (rc)
            return -1;
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(reps[n - 1].runs_json, "scenario");
        if (!cJSON_IsString(sc) || !cJSON_IsString(sc0) ||
            strcmp(sc->valuestring, sc0->valuestring) != 0) {
            seterr(err, errlen, "--repeats: %s ran scenario %s, %s ran %s: not the same traffic", d,
                   cJSON_IsString(sc) ? sc->valuestring : "?", reps[0].dir,
                   cJSON_IsString(sc0) ? sc0->valuestring : "?");
            return -1;
        }
    }
    return n;
}

int fl_lg_report_dir(const char *dir, bool plots, FILE *table_out, const char *repeats, char *err,
                     size_t errlen)
{
    struct fl__mr_report reps[FL__MV_MAX_FOLDERS] = {{.dir = dir}}, *r = &reps[0];
    struct fl__mr_verdict v = {.pairs = NULL};
    char *list = repeats ? strdup(repeats) : NULL;
    int nreps = 0, rc = repeats && !list ? -ENOMEM : load(r, err, errlen);
    if (rc == 0 && (nreps = load_repeats(reps, list, err, errlen)) < 0)
        rc = -EINVAL;
    if (rc == 0 && (rc = fl__mv_judge(reps, nreps, &v)) != 0)
        seterr(err, errlen, "out of memory");
    r->verdict = rc == 0 ? &v : NULL;
    if (rc == 0)
        rc = fl__mr_write_csv(r, err, errlen);
    if (rc == 0)
        rc = fl__mr_write_json(r, err, errlen);
    if (rc == 0 && table_out) {
        fl__mr_print_table(table_out, r);
        fl__mv_print(table_out, &v);
    }
    if (rc == 0 && plots)
        r->plots = fl__mr_plot(r);
    if (rc == 0)
        rc = fl__mr_write_html(r, err, errlen);
    fl__mv_free(&v);
    for (int i = 0; i < FL__MV_MAX_FOLDERS; i++)
        release(&reps[i]);
    free(list);
    return rc;
}

bool fl__mr_live_due(double now, double last_end, double last_cost)
{
    return !(last_cost > 0) || now - last_end >= 9 * last_cost;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fl_mr_write_live(const char *dir, bool running)
{
    /* When the last live page was done and what it cost: the matrix calls
     * this often, and a page built from hours of rows is not free. */
    static double last_end, last_cost;
    double start = mono_s();
    if (running && !fl__mr_live_due(start, last_end, last_cost))
        return 0;
    struct fl__mr_report r = {.dir = dir, .live = true, .running = running};
    char err[512];
    int rc = load(&r, err, sizeof(err));
    if (rc == 0)
        rc = fl__mr_write_html(&r, err, sizeof(err));
    release(&r);
    last_end = mono_s();
    last_cost = last_end - start;
    return rc;
}

int fl_lg_cmd_report(int argc, char **argv)
{
    struct fl_lg_report_opts o = {0};
    int prc = fl_lg_flags_parse(&fl_lg_report_command, argc, argv, &o);
    if (prc)
        return prc > 0 ? 0 : 2;
    const char *dir = o.dir;
    bool plots = !o.no_plots;
    if (!dir) {
        fprintf(stderr,
                PROG ": no folder given (usage: " PROG " DIR [--no-plots] [--repeats DIR2,...])\n");
        return 2;
    }
    char err[512];
    if (fl_lg_report_dir(dir, plots, stdout, o.repeats, err, sizeof(err))) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    printf("report: %s/index.html (table: %s/matrix.csv)\n", dir, dir);
    return 0;
}
