/* matrix_parallel.c - `fraglab-loadgen matrix --parallel`: every pairing at
 * once, on one clock. Each pairing is what the sequential matrix runs (its
 * own fraglab-server on free loopback ports, a `fraglab-loadgen run` child
 * into DIR/runs/NAME/); here every server starts first, then every run is
 * spawned back to back, so their first samples land within a poll of each
 * other.
 *
 * Open loop only (matrix.c refuses a closed loop): all pairings then offer
 * the same requests on the same schedule, and a pairing that cannot keep up
 * shows as falling behind that schedule rather than as doing less work.
 *
 * Headroom is measured, not assumed. Before the pairings start, one pairing
 * (tpc under glibc) runs five times for a few seconds into
 * DIR/calibration/K-RATE/ (removed once measured, so DIR holds pairings
 * only; runs.json keeps each run's rate and CPUs), in turns at CAL_RATE / 4
 * (three runs, their median kept) and at CAL_RATE (two, their mean), and
 * the CPU
 * time its server and its loadgen spend (utime + stime from /proc/PID/stat,
 * the median of four 1 s windows once the load is under way) gives two points of CPU
 * against rate: what a pairing keeps busy at any rate (timers, sampling,
 * the connections' upkeep) and the CPU per request on top. A low rate costs
 * more per request than a high one (fewer requests per wake-up), so the
 * line errs on the safe side. N pairings at rate R need
 * N x (fixed + R x per request) CPUs; more than MARGIN of the CPUs this
 * process may use (sched_getaffinity) is refused with the largest rate that
 * fits. The margin leaves room for the kernel's network stack, the matrix
 * itself and the load's variance. A pairing that alone cannot carry
 * CAL_RATE (a sanitizer build) has its CPU charged to the requests instead
 * (fl__mx_fit_cpu).
 *
 * While they run, each pairing's timeseries.csv is read as it grows (from
 * where the last read stopped: memory grows with late samples, never with
 * requests). An interval is behind when its achieved rate is more than 1 %
 * under the phase's offered rate (less one request, the counting's
 * granularity) or its corrected p99 is above the scenario's timeout; it is
 * recorded in runs.json (behind_t_s, intervals_behind) and said on stderr
 * when a pairing starts falling behind. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "matrix_internal.h"
#include "matrix_prom.h"
#include "matrix_report.h"
#include "paths.h"
#include "scenario.h"

#define PROG FL__MX_PROG
#define CAL_RATE 8000.0   /* req/s: what one pairing carries on a loaded 2-core machine */
#define CAL_WARM_MS 1000  /* from the run's spawn to the window's start */
#define CAL_SLICE_MS 1000 /* CPU measured per slice; the median of CAL_SLICES */
#define CAL_SLICES 4
#define CAL_LOWS 3        /* runs at CAL_RATE / 4: their median */
#define CAL_HIGHS 2       /* runs at CAL_RATE: their mean */
#define MARGIN 0.70       /* share of the allowed CPUs the pairings may use */
#define BEHIND_SHARE 0.01 /* achieved more than 1 % under offered */
#define POLL_MS 50
#define REFRESH_EVERY 5 /* sampling intervals between page rewrites */
#define MAX_COLS 512

/* A pairing's timeseries.csv, read as it grows. */
struct tail {
    long off;        /* bytes consumed: whole lines only */
    int col[5];      /* t_s, phase, warmup, rps, p99_us; -1 before the header */
    double prev_t;   /* the previous row's t_s */
    bool late;       /* the last row checked was behind */
    double first_at; /* wall clock (s) the first row was seen; 0 before */
};
enum { C_T, C_PHASE, C_WARMUP, C_RPS, C_P99 };

/* One pairing under way. */
struct live {
    struct server sv;
    pid_t run; /* 0: not (or no longer) running */
    char rdir[PATH_MAX], llog[PATH_MAX + 16];
    struct tail tail;
};

/* The run being driven: the pairings, their phases' offered rates. */
struct par {
    struct matrix *mx;
    struct live *lv;
    struct fl_scenario sc; /* with --rate and --duration applied, for the phases' rates */
    int running;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* utime + stime of a process (all its threads), s; 0 when gone. */
static double cpu_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *text = fl__mx_read_text(path);
    double s = 0;
    /* Fields after the command name, which may hold spaces: from the last
     * ')'; utime and stime are fields 14 and 15 of the line. */
    char *p = text ? strrchr(text, ')') : NULL;
    unsigned long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    free(text);
    return s;
}

/* The achieved rate of a finished run, from RDIR/summary.json; 0 unknown. */
static double summary_rps(const char *rdir)
{
    cJSON *s = fl__mx_read_json(rdir, "summary.json");
    const cJSON *rps = cJSON_GetObjectItemCaseSensitive(s, "throughput_rps");
    double v = cJSON_IsNumber(rps) ? rps->valuedouble : 0;
    cJSON_Delete(s);
    return v;
}

/* Waits for a run child, passing one SIGINT on if the matrix is stopped;
 * its exit code. */
static int wait_run(pid_t pid)
{
    int st = 0;
    bool forwarded = false;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        if (fl__mx_stop && !forwarded) {
            kill(pid, SIGINT);
            forwarded = true;
        }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One pairing, tpc under glibc, at `rate` into DIR/calibration/K-RATE/: the
 * CPUs its server and loadgen keep busy (CPU s per s) and the rate they
 * carried. 0; 1 when the run itself failed (it stopped on errors: one
 * pairing alone cannot carry `rate`), after one line on stderr naming its
 * log; -1 on anything else, after one line on stderr. */
static int calibrate(struct matrix *mx, int k, double rate, double *cpu, double *carried)
{
    struct pairing cal = {.name = "calibration", .mode = "tpc", .alloc_spec = "glibc"};
    char rdir[PATH_MAX], llog[PATH_MAX + 32], rate_s[32];
    if (snprintf(rdir, sizeof(rdir), "%s/calibration/%d-%.0f", mx->dir, k, rate) >=
        (int)sizeof(rdir)) {
        fprintf(stderr, PROG ": --out: the path is too long\n");
        return -1;
    }
    snprintf(llog, sizeof(llog), "%s/loadgen.log", rdir);
    snprintf(rate_s, sizeof(rate_s), "%.3f", rate);
    struct server sv;
    int mrc = fl_lg_make_dirs(rdir);
    if (mrc) {
        fprintf(stderr, PROG ": %s: %s\n", rdir, strerror(-mrc));
        return -1;
    }
    if (!fl__mx_spawn_server(&cal, mx->o, rdir, &sv) || !fl__mx_await_server(&cal, mx->o, &sv)) {
        fprintf(stderr, PROG ": --parallel: calibration server: %s\n", cal.error);
        return -1;
    }
    int secs = (CAL_WARM_MS + CAL_SLICES * CAL_SLICE_MS) / 1000 + 1;
    char dur_s[16];
    snprintf(dur_s, sizeof(dur_s), "%ds", secs);
    pid_t run = fl__mx_spawn_run(&cal, mx->o, mx->loadgen, rdir, &sv, llog, dur_s, rate_s, "0s");
    if (run < 0) {
        fl__mx_stop_server(sv.pid);
        fprintf(stderr, PROG ": --parallel: calibration: %s\n", cal.error);
        return -1;
    }
    sleep_ms(CAL_WARM_MS);
    /* CAL_SLICES windows of a second; their median, so one burst of the
     * machine's other work (or one stall of ours) does not move the line. */
    double use[CAL_SLICES];
    double c0 = cpu_of(sv.pid) + cpu_of(run), t0 = now_s();
    for (int i = 0; i < CAL_SLICES; i++) {
        sleep_ms(CAL_SLICE_MS);
        double c1 = cpu_of(sv.pid) + cpu_of(run), t1 = now_s();
        use[i] = t1 > t0 ? (c1 - c0) / (t1 - t0) : 0;
        c0 = c1;
        t0 = t1;
    }
    int code = wait_run(run);
    fl__mx_stop_server(sv.pid);
    /* The rate carried: the schedule's, or less if even this pairing fell
     * behind (then the CPU was short, and the cost per request must not
     * shrink with it). */
    double rps = summary_rps(rdir);
    *carried = rps > 0 && rps < rate ? rps : rate;
    if (fl__mx_stop) {
        fprintf(stderr, PROG ": interrupted during the calibration\n");
        return -1;
    }
    qsort(use, CAL_SLICES, sizeof(use[0]), cmp_double);
    *cpu = (use[(CAL_SLICES - 1) / 2] + use[CAL_SLICES / 2]) / 2;
    if (code != 0 || *cpu <= 0) {
        char why[256];
        fl__mx_last_line(llog, why, sizeof(why));
        fprintf(stderr,
                PROG ": --parallel: the calibration run at %.0f req/s failed (exit %d: %s)\n", rate,
                code, why);
        if (rate < mx->headroom.cal_rate) /* the matrix stops here: keep its files */
            fprintf(stderr, PROG ": --parallel: its files are in %s\n", rdir);
        else
            nftw(rdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    /* Its figures go to runs.json; its folder would read as one more
     * pairing to anything that looks for runs under DIR. */
    nftw(rdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The highest rate any loaded phase offers (the scenario's when it has no
 * phases). */
static double peak_rate(const struct fl_scenario *sc)
{
    double peak = sc->nphases ? 0 : sc->rate;
    for (size_t i = 0; i < sc->nphases; i++)
        if (!sc->phases[i].idle && sc->phases[i].rate > peak)
            peak = sc->phases[i].rate;
    return peak;
}

/* The line of CPU against rate through the low point (c1 CPUs carrying r1
 * req/s) and the high one (c2 at r2), into h->cpu_fixed and
 * h->cpu_per_request. A pairing alone that could not carry h->cal_rate (it
 * fell short, or `high_failed`: its run stopped on errors) ran out of CPU
 * (a sanitizer build, a slow or busy machine): both points then sit near
 * one carried rate and the line through them means nothing (a tiny slope,
 * a huge fixed part). Everything is then charged to the requests, at the
 * dearer point, and h->saturated says so. */
void fl__mx_fit_cpu(struct fl__mx_headroom *h, double c1, double r1, double c2, double r2,
                    bool high_failed)
{
    h->saturated = high_failed || r2 < h->cal_rate * 0.99;
    if (h->saturated) {
        h->cpu_per_request = high_failed ? c1 / r1 : fmax(c1 / r1, c2 / r2);
        h->cpu_fixed = 0;
        return;
    }
    h->cpu_per_request = r2 > r1 && c2 > c1 ? (c2 - c1) / (r2 - r1) : c2 / r2;
    h->cpu_fixed = c2 - h->cpu_per_request * r2;
    if (h->cpu_fixed < 0)
        h->cpu_fixed = 0;
}

/* Refuses a rate the machine cannot carry for every pairing at once: 0, or
 * -2 after one line naming the largest rate it can; -1 if it could not
 * measure. */
static int check_headroom(struct matrix *mx, const struct fl_scenario *sc)
{
    struct fl__mx_headroom *h = &mx->headroom;
    h->cpus = fl__mx_allowed_cpus();
    h->margin = MARGIN;
    if (mx->o->no_headroom_check)
        return 0;
    /* The same two points whatever the rate asked: the line through them,
     * and so the largest rate it prints, does not move with the rate. */
    h->cal_rate = CAL_RATE;
    fprintf(stderr,
            "matrix: measuring the CPU a pairing needs (tpc-glibc at %.0f and %.0f req/s)\n",
            h->cal_rate / 4, h->cal_rate);
    /* Two points: a pairing costs CPU per second (timers, sampling, the
     * connections' upkeep) plus CPU per request; one point would charge
     * the first to the second and refuse low rates for nothing. One
     * pairing's CPU moves by up to a half from one run to the next (where
     * the scheduler puts its threads), so each point is the median of
     * CAL_LOWS runs at CAL_RATE / 4 or the mean of CAL_HIGHS at CAL_RATE,
     * taken in turns. The low point weighs most: the largest rate a small
     * machine carries lies near it. */
    double lo[CAL_LOWS], c2 = 0, r1 = h->cal_rate / 4, r2 = h->cal_rate;
    int nlo = 0, nhi = 0;
    bool high_failed = false;
    while (nlo < CAL_LOWS || nhi < CAL_HIGHS) {
        bool low = nlo <= nhi || nhi == CAL_HIGHS;
        double c, r;
        int rc = calibrate(mx, nlo + nhi + 1, low ? h->cal_rate / 4 : h->cal_rate, &c, &r);
        if (rc < 0 || (rc && low))
            return -1;
        if (rc) { /* the low point alone then says what a request costs */
            high_failed = true;
            nhi = CAL_HIGHS;
            continue;
        }
        h->run_rate[h->nruns] = r;
        h->run_cpu[h->nruns++] = c;
        if (low) {
            lo[nlo++] = c;
            r1 = r < r1 ? r : r1;
        } else {
            c2 += c / CAL_HIGHS;
            nhi++;
            r2 = r < r2 ? r : r2;
        }
    }
    char cdir[PATH_MAX + 16];
    snprintf(cdir, sizeof(cdir), "%s/calibration", mx->dir);
    rmdir(cdir); /* empty once every run was measured */
    qsort(lo, CAL_LOWS, sizeof(lo[0]), cmp_double);
    double c1 = lo[CAL_LOWS / 2];
    h->checked = true;
    fl__mx_fit_cpu(h, c1, r1, c2, r2, high_failed);
    /* The busiest phase is what must fit: a phase at twice the base rate
     * (soak.ini's load-4) doubles its share. */
    double peak = peak_rate(sc), scale = mx->rate > 0 && peak > 0 ? peak / mx->rate : 1;
    double capacity = h->cpus * MARGIN;
    h->max_rate = floor((capacity / mx->n - h->cpu_fixed) / h->cpu_per_request / scale);
    if (h->max_rate < 0)
        h->max_rate = 0;
    double need = mx->n * (h->cpu_fixed + peak * h->cpu_per_request);
    char at[64] = "";
    if (scale != 1)
        snprintf(at, sizeof(at), " (%.0f in the busiest phase)", peak);
    if (h->saturated)
        fprintf(stderr,
                "matrix: one pairing alone carried %.0f of %.0f req/s: its CPU is charged to "
                "the requests (%.1f us each)\n",
                high_failed ? 0 : r2, h->cal_rate, h->cpu_per_request * 1e6);
    if (need > capacity) {
        fprintf(stderr,
                PROG ": --parallel: %d pairings at %.0f req/s%s need about %.1f CPUs (measured: "
                     "%.2f each plus %.1f us per request), more than %.0f %% of the %d CPUs "
                     "allowed; the largest rate they can carry is %.0f req/s (--rate %.0f)\n",
                mx->n, mx->rate, at, need, h->cpu_fixed, h->cpu_per_request * 1e6, MARGIN * 100,
                h->cpus, h->max_rate, h->max_rate);
        return -2;
    }
    fprintf(stderr,
            "matrix: a pairing needs %.2f CPUs plus %.1f us per request: %d at %.0f "
            "req/s%s need %.2f of %d CPUs (largest rate %.0f req/s)\n",
            h->cpu_fixed, h->cpu_per_request * 1e6, mx->n, mx->rate, at, need, h->cpus,
            h->max_rate);
    return 0;
}

/* The offered rate of the phase named `name`; 0 for idle phases, the idle
 * tail and unknown names (nothing to check). */
static double offered_rate(const struct fl_scenario *sc, const char *name)
{
    for (size_t i = 0; i < sc->nphases; i++)
        if (strcmp(sc->phases[i].name, name) == 0)
            return sc->phases[i].idle ? 0 : sc->phases[i].rate;
    return 0;
}

/* Splits a CSV line in place into at most `max` cells; their number. */
static int cells(char *line, char **cell, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        cell[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

static void header(struct tail *t, char **cell, int n)
{
    static const char *const want[] = {"t_s", "phase", "warmup", "rps", "p99_us"};
    for (int k = 0; k < 5; k++) {
        t->col[k] = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(cell[i], want[k]) == 0)
                t->col[k] = i;
    }
}

static void add_behind(struct pairing *p, double t)
{
    if (p->nbehind == p->behind_cap) {
        size_t cap = p->behind_cap ? 2 * p->behind_cap : 16;
        double *nb = realloc(p->behind_t, cap * sizeof(*nb));
        if (!nb)
            abort(); /* a few doubles per sample: no sane recovery */
        p->behind_t = nb;
        p->behind_cap = cap;
    }
    p->behind_t[p->nbehind++] = t;
}

/* One data row: is the pairing on schedule? true if it was behind (and
 * newly recorded). */
static bool check_row(struct par *pr, struct pairing *p, struct tail *t, char **cell, int n)
{
    for (int k = 0; k < 5; k++)
        if (t->col[k] < 0 || t->col[k] >= n)
            return false;
    double ts = atof(cell[t->col[C_T]]), dt = ts - t->prev_t;
    t->prev_t = ts;
    double rate = offered_rate(&pr->sc, cell[t->col[C_PHASE]]);
    /* The warm-up, and rows cut short at a phase's end, are too short or
     * too early to judge a schedule by. */
    if (rate <= 0 || strcmp(cell[t->col[C_WARMUP]], "1") == 0 ||
        dt < (double)pr->mx->interval / 2e9)
        return false;
    double rps = atof(cell[t->col[C_RPS]]);
    const char *p99s = cell[t->col[C_P99]];
    double p99 = *p99s ? atof(p99s) : 0;
    bool slow = rps * dt < rate * dt * (1 - BEHIND_SHARE) - 1;
    bool late = p99 > (double)pr->mx->timeout / 1e3;
    bool was = t->late;
    t->late = slow || late;
    if (!t->late)
        return false;
    add_behind(p, ts);
    if (!was)
        fprintf(stderr,
                "matrix: %s is behind its schedule at %.1f s: %.0f of %.0f req/s, p99 %.0f "
                "us (timeout %.0f us)\n",
                p->name, ts, rps, rate, p99, (double)pr->mx->timeout / 1e3);
    return true;
}

/* Reads the new whole lines of pairing i's timeseries.csv; whether any row
 * put it behind. */
static bool poll_tail(struct par *pr, int i)
{
    struct live *l = &pr->lv[i];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/timeseries.csv", l->rdir);
    FILE *f = fopen(path, "r");
    if (!f || fseek(f, l->tail.off, SEEK_SET) != 0) {
        if (f)
            fclose(f);
        return false;
    }
    char *line = NULL, *cell[MAX_COLS];
    size_t cap = 0;
    ssize_t len;
    bool behind = false;
    while ((len = getline(&line, &cap, f)) > 0 && line[len - 1] == '\n') {
        l->tail.off += len; /* a line still being written waits for the next poll */
        int n = cells(line, cell, MAX_COLS);
        if (l->tail.col[C_T] < 0) {
            header(&l->tail, cell, n);
            continue;
        }
        if (!l->tail.first_at)
            l->tail.first_at = pr->mx->pairs[i].first_sample_at = now_s();
        behind |= check_row(pr, &pr->mx->pairs[i], &l->tail, cell, n);
    }
    free(line);
    fclose(f);
    return behind;
}

/* The page's single call site in the loop: the live index.html (charts,
 * table so far, reloading itself) rebuilt from disk every REFRESH_EVERY
 * sampling intervals; the report after the loop writes the final one. */
static void refresh_page(const struct matrix *mx)
{
    int rc = fl_mr_write_live(mx->dir, true);
    if (rc && rc != -ENOENT)
        fprintf(stderr, PROG ": live page: %s\n", strerror(-rc));
}

/* Spawns every server, then waits for each: false ones get p->error. */
static void start_servers(struct par *pr)
{
    struct matrix *mx = pr->mx;
    bool up[FL__MX_MAX_ITEMS * FL__MX_MAX_ITEMS] = {false};
    for (int i = 0; i < mx->n; i++) {
        struct pairing *p = &mx->pairs[i];
        p->status = "failed";
        up[i] = fl__mx_make_run_dir(p, mx->dir, pr->lv[i].rdir, sizeof(pr->lv[i].rdir)) &&
                fl__mx_spawn_server(p, mx->o, pr->lv[i].rdir, &pr->lv[i].sv);
    }
    for (int i = 0; i < mx->n; i++) {
        struct pairing *p = &mx->pairs[i];
        if (up[i] && fl__mx_await_server(p, mx->o, &pr->lv[i].sv)) {
            p->status = "starting";
            fl_matrix_prom_add(mx->dir, p->name, pr->lv[i].sv.port);
        } else
            fprintf(stderr, "[%d/%d] %s %s: failed: %s\n", i + 1, mx->n, p->mode, p->alloc_spec,
                    p->error);
    }
}

/* Spawns every run whose server is up, back to back: one clock. */
static void start_runs(struct par *pr)
{
    struct matrix *mx = pr->mx;
    for (int i = 0; i < mx->n; i++) {
        struct pairing *p = &mx->pairs[i];
        struct live *l = &pr->lv[i];
        if (strcmp(p->status, "starting") != 0)
            continue;
        snprintf(l->llog, sizeof(l->llog), "%s/loadgen.log", l->rdir);
        l->run =
            fl__mx_spawn_run(p, mx->o, mx->loadgen, l->rdir, &l->sv, l->llog, NULL, NULL, NULL);
        if (l->run < 0) {
            l->run = 0;
            p->status = "failed";
            fl__mx_stop_server(l->sv.pid);
            fl_matrix_prom_remove(mx->dir, p->name);
            continue;
        }
        p->status = "running";
        pr->running++;
    }
}

/* Pairing i's run ended with `st`: its last rows, its server stopped, its
 * status, CPUs and line. */
static void finish(struct par *pr, int i, int st)
{
    struct matrix *mx = pr->mx;
    struct pairing *p = &mx->pairs[i];
    struct live *l = &pr->lv[i];
    l->run = 0;
    pr->running--;
    poll_tail(pr, i);
    bool server_alive = waitpid(l->sv.pid, NULL, WNOHANG) == 0;
    fl__mx_stop_server(l->sv.pid);
    fl_matrix_prom_remove(mx->dir, p->name);
    p->status = "failed";
    fl__mx_judge(p, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), server_alive, l->sv.log,
                 l->llog);
    fl__mx_read_cpus(p, l->rdir);
    fprintf(stderr, "[%d/%d] %s %s (cpus %s, %zu intervals behind): ", i + 1, mx->n, p->mode,
            p->alloc_spec, p->cpus[0] ? p->cpus : "?", p->nbehind);
    fl__mx_print_outcome(p, l->rdir);
}

/* Until every run has ended: reaps, reads the CSVs, passes a stop on. */
static void drive(struct par *pr)
{
    struct matrix *mx = pr->mx;
    bool forwarded = false;
    double refreshed = now_s(), every = REFRESH_EVERY * (double)mx->interval / 1e9;
    while (pr->running > 0) {
        if (fl__mx_stop && !forwarded) {
            for (int i = 0; i < mx->n; i++)
                if (pr->lv[i].run > 0)
                    kill(pr->lv[i].run, SIGINT); /* each finishes its interval */
            forwarded = true;
        }
        bool changed = false;
        for (int i = 0; i < mx->n; i++) {
            int st;
            if (pr->lv[i].run <= 0)
                continue;
            changed |= poll_tail(pr, i);
            if (waitpid(pr->lv[i].run, &st, WNOHANG) == pr->lv[i].run) {
                finish(pr, i, st);
                changed = true;
            }
        }
        if (changed)
            fl__mx_write_runs(mx);
        if (now_s() - refreshed >= every) {
            refreshed = now_s();
            refresh_page(mx);
        }
        sleep_ms(POLL_MS);
    }
}

/* The first rows' skew, for the closing line: max - min of first_at. */
static double first_sample_skew(const struct par *pr)
{
    double lo = 0, hi = 0;
    for (int i = 0; i < pr->mx->n; i++) {
        double t = pr->lv[i].tail.first_at;
        if (!t)
            continue;
        lo = !lo || t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    return hi - lo;
}

/* The scenario again, with what `run` applies, for the phases' rates. */
static int load_phases(struct par *pr)
{
    struct matrix *mx = pr->mx;
    char err[512];
    if (fl_scenario_load(mx->o->scenario, &pr->sc, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    if (mx->o->rate)
        fl_scenario_set_rate(&pr->sc, mx->o->rate_x);
    if (mx->o->duration)
        fl_scenario_scale_duration(&pr->sc, mx->duration);
    return 0;
}

int fl__mx_run_parallel(struct matrix *mx)
{
    struct par pr = {.mx = mx, .lv = calloc((size_t)mx->n, sizeof(struct live))};
    if (!pr.lv || load_phases(&pr)) {
        free(pr.lv);
        return -1;
    }
    int rc = check_headroom(mx, &pr.sc);
    if (rc) {
        fl_scenario_free(&pr.sc);
        free(pr.lv);
        return rc;
    }
    for (int i = 0; i < mx->n; i++)
        pr.lv[i].tail.col[C_T] = -1;
    fl__mx_write_runs(mx);
    start_servers(&pr);
    start_runs(&pr);
    fl__mx_write_runs(mx);
    drive(&pr);
    int failed = 0, behind = 0;
    for (int i = 0; i < mx->n; i++) {
        failed += strcmp(mx->pairs[i].status, "ok") != 0;
        behind += mx->pairs[i].nbehind > 0;
    }
    fl__mx_write_runs(mx);
    fprintf(stderr,
            "matrix: first samples within %.2f s of each other; %d of %d pairings fell "
            "behind in some interval\n",
            first_sample_skew(&pr), behind, mx->n);
    for (int i = 0; i < mx->n; i++)
        free(mx->pairs[i].behind_t);
    fl_scenario_free(&pr.sc);
    free(pr.lv);
    return failed;
}
