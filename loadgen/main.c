/* main.c - fraglab-loadgen: the subcommands, `run`'s steps (cmd_run) and
 * its coordinator; the flags are flags.c's tables.
 *
 * The coordinator sleeps to each tick (every interval, phase boundary and
 * the warm-up's end), waits for every thread to publish that tick, merges
 * their tallies, samples the server and writes the row; the threads never
 * wait for it. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "flags.h"
#include "fromlog.h"
#include "manifest.h"
#include "matrix.h"
#include "matrix_report.h"
#include "monitor.h"
#include "paths.h"
#include "report.h"
#include "uring.h"
#include "request.h"
#include "scenario.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define PROG "fraglab-loadgen"

static void usage(FILE *f)
{
    fl_lg_flags_usage(&fl_lg_run_command, f);
}

/* Resolves "host:port" or "[v6]:port"; 0, or -1 with the message printed. */
static int resolve(const char *flag, const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[FL_SCENARIO_STR_MAX];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1] || (size_t)(colon - text) >= sizeof(host)) {
        fprintf(stderr, PROG ": %s %s: expected HOST:PORT\n", flag, text);
        return -1;
    }
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || errno || port == 0 || port > 65535) {
        fprintf(stderr, PROG ": %s %s: bad port\n", flag, text);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc) {
        fprintf(stderr, PROG ": %s %s: %s\n", flag, text, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* config/quick.ini of the tree this binary was built in (build/bin/..). */
static const char *default_scenario(char *buf, size_t len)
{
    static const char *const tries[] = {"../../config/quick.ini", "../config/quick.ini",
                                        "../share/fraglab/quick.ini"};
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
        if (fl_lg_beside_exe(tries[i], buf, len) && access(buf, R_OK) == 0)
            return buf;
    return NULL;
}

/* With --path and no --scenario, wherever the binary is (the tree, an
 * installed or copied binary, the Docker image): the [scenario] settings
 * quick.ini had when this was written, the only part of a scenario --path
 * uses (its requests are GET PATH, with no populations). Flags override them. */
static const char path_scenario[] = "[scenario]\n"
                                    "name = path\n"
                                    "seed = 42\n"
                                    "duration = 30s\n"
                                    "warmup = 2s\n"
                                    "connections = 512\n"
                                    "threads = 2\n"
                                    "rate = 24000\n"
                                    "timeout = 5s\n"
                                    "error_stop = 0.05\n"
                                    "interval = 500ms\n"
                                    "[population all]\n"
                                    "share = 1\n"
                                    "[request get]\n"
                                    "weight = 1\n"
                                    "kind = get\n"
                                    "path = /\n";

/* Loads path_scenario through the file loader (an in-memory file). */
static int load_path_scenario(struct fl_scenario *s, char *err, size_t errlen)
{
    int fd = memfd_create("fraglab-path-scenario", MFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "memfd_create: %s", strerror(e));
        return -e;
    }
    char file[64];
    snprintf(file, sizeof(file), "/proc/self/fd/%d", fd);
    int rc = -EIO;
    if (write(fd, path_scenario, sizeof(path_scenario) - 1) == sizeof(path_scenario) - 1)
        rc = fl_scenario_load(file, s, err, errlen);
    else
        snprintf(err, errlen, "writing the built-in --path scenario failed");
    close(fd);
    return rc;
}

/* The run's length and warm-up from the flags; false with the message printed. */
static bool apply_times(const struct fl_lg_run_opts *o, struct fl_scenario *s)
{
    if (o->duration.text) {
        fl_scenario_scale_duration(s, o->duration.n);
        if (!o->warmup.text && s->warmup > o->duration.n / 10)
            s->warmup = o->duration.n / 10;
    }
    if (o->warmup.text)
        s->warmup = o->warmup.n;
    if (s->warmup >= s->duration) {
        fprintf(stderr, PROG ": the warm-up (%.3f s) must be shorter than the run (%.3f s)\n",
                (double)s->warmup / 1e9, (double)s->duration / 1e9);
        return false;
    }
    if (o->timeout.text)
        s->timeout = o->timeout.n;
    if (o->interval.text)
        s->interval = o->interval.n;
    return true;
}

/* Applies the flags (checked by the parser) to the scenario; false with
 * the message printed. */
static bool apply(const struct fl_lg_run_opts *o, struct fl_scenario *s)
{
    if (!apply_times(o, s))
        return false;
    if (o->connections.text)
        fl_scenario_set_connections(s, (uint32_t)o->connections.n);
    if (o->threads.text)
        s->threads = (uint32_t)o->threads.n;
    if (s->threads > s->connections) {
        if (o->threads.text) {
            fprintf(stderr, PROG ": %u threads for %u connections: at most one thread each\n",
                    s->threads, s->connections);
            return false;
        }
        s->threads = s->connections;
    }
    if (o->rate.text)
        fl_scenario_set_rate(s, o->rate.x);
    if (o->max_requests.text)
        s->max_requests = o->max_requests.n;
    if (o->path && (o->path[0] != '/' || strlen(o->path) >= FL_SCENARIO_STR_MAX ||
                    strpbrk(o->path, " \r\n\t"))) {
        fprintf(stderr,
                PROG ": --path %s: expected an absolute path without spaces, below %d "
                     "bytes\n",
                o->path, FL_SCENARIO_STR_MAX);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- signals */

/* SIGINT and SIGTERM stop a run the same way: the interval is finished and
 * the results written; the exit is 128 + the signal (130, 143). */
static volatile sig_atomic_t g_sigint, g_signo;

static void on_sigint(int sig)
{
    g_signo = sig;
    if (++g_sigint >= 2) {
        static const char msg[] = "\n" PROG ": second interrupt: exiting now\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(128 + sig);
    }
}

/* ------------------------------------------------------------- the output */

static FILE *open_out(const char *dir, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
    return f;
}

/* --------------------------------------------------------------- the run */

struct coord {
    struct fl_lg_run run;
    struct fl_lg_monitor mon;
    struct fl_lg_server_info info;
    struct fl_lg_sample last;
    bool sampled, no_sample;
    int64_t rss_peak;
    FILE *csv;
    bool tty, quiet;
    uint64_t verify_failures; /* status, length, mismatch, protocol, warm-up included */
    uint64_t intervals;
    size_t npop;                                      /* populations in the CSV (0 under --path) */
    double pop_open_sum[FL_SCENARIO_MAX_POPULATIONS]; /* over the measured load rows */
    uint64_t pop_rows;

    /* Set up by cmd_run's steps, in their order. */
    const struct fl_lg_run_opts *o;
    struct fl_scenario s;
    const char *file; /* the scenario file; NULL: the built-in --path one */
    char defpath[PATH_MAX];
    const char *target, *echo;
    uint64_t idle; /* ns of idle tail */
    pid_t pid;     /* the server's, 0 if not read */
    char outdir[PATH_MAX], started_at[32];
    char *text; /* the normalised scenario */
    struct fl_noise noise;
    struct fl_lg_tally total, iv;
    pthread_t *tids;
    unsigned started; /* threads running */
    bool ok;          /* every thread set up its ring */
    bool no_uring;

    /* How the load ended. */
    enum fl_lg_stop reason;
    bool interrupted;
    uint64_t prev;       /* end of the last row */
    uint64_t stopped_at; /* when the load stopped */
};

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: the caller looks */
}

/* Waits until every thread has published tick k or finished, then takes
 * what they published. Returns whether all have finished. */
static bool collect(struct coord *co, uint64_t k, struct fl_lg_tally *iv)
{
    struct fl_lg_run *run = &co->run;
    bool all_done;
    pthread_mutex_lock(&run->mu);
    for (;;) {
        bool ready = true;
        all_done = true;
        for (unsigned i = 0; i < run->nthreads; i++) {
            bool done = fl_lg_thread_done(run->threads[i]);
            ready &= done || fl_lg_thread_tick(run->threads[i]) >= k;
            all_done &= done;
        }
        if (ready)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&run->cv, &run->mu, &ts);
    }
    for (unsigned i = 0; i < run->nthreads; i++)
        fl_lg_thread_take(run->threads[i], iv);
    pthread_mutex_unlock(&run->mu);
    return all_done;
}

/* phase: NULL for the scenario's phase of the row, which ticks keep in one. */
static void emit_row(struct coord *co, struct fl_lg_tally *iv, uint64_t at, uint64_t prev,
                     const char *phase)
{
    struct fl_lg_run *run = &co->run;
    if (co->no_sample) {
        fl_lg_sample_clear(&co->last);
    } else {
        fl_lg_monitor_sample(&co->mon, &co->last, &co->info);
        co->sampled = true;
    }
    if (co->last.rss != FL_NA && co->last.rss > co->rss_peak)
        co->rss_peak = co->last.rss;
    const struct fl_scenario_phase *ph =
        fl_scenario_phase_at(run->s, at > run->start ? at - run->start - 1 : 0);
    struct fl_lg_row row = {
        .t_s = (double)(at - run->start) / 1e9,
        .seconds = (double)(at - prev) / 1e9,
        .phase = phase ? phase
                 : ph  ? ph->name
                       : run->s->phases[run->s->nphases - 1].name,
        .warmup = at <= run->warmup_end,
        .tally = iv,
        .sample = &co->last,
        .npop = co->npop,
    };
    if (!row.warmup && !phase) {
        for (size_t i = 0; i < co->npop; i++)
            co->pop_open_sum[i] += (double)iv->pop_open[i];
        co->pop_rows++;
    }
    if (fl_lg_csv_row(co->csv, &row) != 0)
        fprintf(stderr, PROG ": writing timeseries.csv failed\n");
    if (!co->quiet)
        fl_lg_progress(stderr, co->tty, &row, (double)run->s->duration / 1e9);
    co->verify_failures += iv->c.errors[FL_LG_ERR_status] + iv->c.errors[FL_LG_ERR_length] +
                           iv->c.errors[FL_LG_ERR_mismatch] + iv->c.errors[FL_LG_ERR_protocol];
    co->intervals++;
}

/* Whether the interval's errors pass the scenario's error_stop. */
static bool over_threshold(const struct fl_scenario *s, const struct fl_lg_tally *iv)
{
    uint64_t errs = fl_lg_counts_errors(&iv->c);
    uint64_t tries = iv->c.requests + iv->c.errors[FL_LG_ERR_connect];
    if (s->error_stop <= 0 || !tries || !errs)
        return false;
    double share = (double)errs / (double)tries;
    if (share <= s->error_stop)
        return false;
    fprintf(stderr, "\n" PROG ": stopping: %.1f%% of the interval's requests failed (",
            share * 100);
    const char *sep = "";
    for (int i = 0; i < FL_LG_NERR; i++)
        if (iv->c.errors[i]) {
            fprintf(stderr, "%s%s %" PRIu64, sep, fl_lg_err_names[i], iv->c.errors[i]);
            sep = ", ";
        }
    fprintf(stderr, "), above error_stop %.1f%%\n", s->error_stop * 100);
    return true;
}

static bool preflight(const struct fl_lg_run *run, const char *target)
{
    char *body = NULL;
    int rc = fl_lg_http_get((const struct sockaddr *)&run->target, run->target_len, run->host, "/",
                            2000, &body);
    free(body);
    if (rc == 0 || rc == -EPROTO)
        return true; /* something answered HTTP, or at least accepted and spoke */
    fprintf(stderr, PROG ": cannot reach %s: %s\n", target, strerror(-rc));
    return false;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *scenario_text(const struct fl_scenario *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fl_scenario_print(f, s);
    fclose(f);
    return text;
}

/* ------------------------------------------------------ cmd_run's steps */

/* The scenario (--scenario; else with --path the built-in one; else this
 * tree's quick.ini) with the flags applied; 0 or EXIT_USAGE. */
static int load_scenario(struct coord *co)
{
    const struct fl_lg_run_opts *o = co->o;
    char err[512];
    co->file = o->scenario ? o->scenario
               : o->path   ? NULL
                           : default_scenario(co->defpath, sizeof(co->defpath));
    int rc;
    if (co->file) {
        rc = fl_scenario_load(co->file, &co->s, err, sizeof(err));
    } else if (o->path) {
        rc = load_path_scenario(&co->s, err, sizeof(err));
    } else {
        fprintf(stderr, PROG ": no scenario: give --scenario FILE\n");
        return EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    return apply(o, &co->s) ? 0 : EXIT_USAGE;
}

/* --target and --echo-target (or the scenario's) into the run; tcp
 * requests left out without an echo target. 0 or EXIT_USAGE. */
static int resolve_targets(struct coord *co)
{
    const struct fl_lg_run_opts *o = co->o;
    struct fl_lg_run *run = &co->run;
    struct fl_scenario *s = &co->s;
    co->target = o->target ? o->target : s->target[0] ? s->target : NULL;
    co->echo = o->echo_target ? o->echo_target : s->echo_target[0] ? s->echo_target : NULL;
    if (!co->target) {
        fprintf(stderr, PROG ": no target: give --target HOST:PORT\n");
        return EXIT_USAGE;
    }
    if (resolve("--target", co->target, &run->target, &run->target_len))
        return EXIT_USAGE;
    snprintf(run->host, sizeof(run->host), "%s", co->target);
    if (o->path) {
        co->echo = NULL;
    } else if (co->echo) {
        if (resolve("--echo-target", co->echo, &run->echo, &run->echo_len))
            return EXIT_USAGE;
    } else {
        double gone = fl_scenario_drop_kind(s, FL_SCENARIO_TCP);
        if (gone >= 1) {
            fprintf(stderr, PROG ": every request is kind = tcp: give --echo-target HOST:PORT\n");
            return EXIT_USAGE;
        }
        if (gone > 0 && !o->quiet)
            fprintf(stderr,
                    PROG ": note: no --echo-target: tcp requests (%.1f%% of the mix) left "
                         "out\n",
                    gone * 100);
    }
    return 0;
}

/* --idle and --server-pid; 0 or EXIT_USAGE. */
static int check_server_flags(struct coord *co)
{
    const struct fl_lg_run_opts *o = co->o;
    co->idle = o->idle.text ? o->idle.n : 0;
    if (o->server_pid.text && o->no_sample) {
        fprintf(stderr, PROG ": --server-pid and --no-sample contradict each other\n");
        return EXIT_USAGE;
    }
    if (o->server_pid.text) {
        co->pid = (pid_t)o->server_pid.n;
        struct fl_procmem m;
        if (fl_procmem_read(co->pid, &m) != 0) {
            fprintf(stderr, PROG ": --server-pid %d: cannot read /proc/%d/smaps_rollup\n", co->pid,
                    co->pid);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Fills the run from the scenario, checks the target answers and asks its
 * /stats once: its pid (when it is on this machine), mode and allocator.
 * 0 or EXIT_FAILED. */
static int ask_server(struct coord *co)
{
    const struct fl_lg_run_opts *o = co->o;
    struct fl_lg_run *run = &co->run;
    run->s = &co->s;
    run->path = o->path;
    run->nthreads = co->s.threads;
    run->interval = co->s.interval;
    run->max_requests = co->s.max_requests;
    if (!preflight(run, co->target))
        return EXIT_FAILED;
    co->mon.addr = run->target;
    co->mon.addr_len = run->target_len;
    snprintf(co->mon.host, sizeof(co->mon.host), "%s", co->target);
    co->no_sample = o->no_sample;
    if (o->no_sample)
        fl_lg_sample_clear(&co->last);
    else
        fl_lg_monitor_sample(&co->mon, &co->last, &co->info);
    if (!co->pid && !o->no_sample && co->info.known && co->info.pid > 0 &&
        fl_lg_is_loopback((const struct sockaddr *)&run->target)) {
        /* The pid is only this machine's if that process owns the listener
         * we talk to: a server in another pid namespace would have us
         * sample whatever process has its number here. */
        struct fl_procmem m;
        if (fl_procmem_read((pid_t)co->info.pid, &m) == 0 &&
            fl_lg_pid_listens((pid_t)co->info.pid, (const struct sockaddr *)&run->target))
            co->pid = (pid_t)co->info.pid;
    }
    co->mon.pid = co->pid;
    co->rss_peak = FL_NA;
    return 0;
}

/* The results folder, scenario.ini and timeseries.csv's header; 0 or
 * EXIT_FAILED. */
static int open_results(struct coord *co)
{
    const struct fl_lg_run_opts *o = co->o;
    char path[PATH_MAX + 32];
    iso_now(co->started_at, sizeof(co->started_at));
    if (o->out) {
        snprintf(co->outdir, sizeof(co->outdir), "%s", o->out);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(co->outdir, sizeof(co->outdir), "results/run-%Y%m%d-%H%M%S", &tm);
    }
    int rc = fl_lg_make_dirs(co->outdir);
    if (rc) {
        fprintf(stderr, PROG ": --out %s: %s\n", co->outdir, strerror(-rc));
        return EXIT_FAILED;
    }
    co->text = scenario_text(&co->s);
    FILE *sf = open_out(co->outdir, "scenario.ini", path, sizeof(path));
    if (!sf || !co->text) {
        if (sf)
            fclose(sf);
        return EXIT_FAILED;
    }
    fputs(co->text, sf);
    fclose(sf);
    if (!(co->csv = open_out(co->outdir, "timeseries.csv", path, sizeof(path))))
        return EXIT_FAILED;
    co->npop = o->path ? 0 : co->s.npopulations;
    fl_lg_csv_header(co->csv, o->path ? NULL : &co->s);
    co->tty = isatty(2);
    co->quiet = o->quiet;
    return 0;
}

/* The shared noise block, the tallies and every thread's state; 0 or
 * EXIT_FAILED. */
static int create_threads(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    if (fl_noise_init(&co->noise, fl_req_max_body(&co->s), co->s.seed) ||
        fl_lg_tally_init(&co->total) || fl_lg_tally_init(&co->iv)) {
        fprintf(stderr, PROG ": out of memory\n");
        return EXIT_FAILED;
    }
    run->noise = &co->noise;
    pthread_mutex_init(&run->mu, NULL);
    pthread_cond_init(&run->cv, NULL);
    atomic_store(&run->stop_at, UINT64_MAX);
    run->threads = calloc(run->nthreads, sizeof(*run->threads));
    if (!run->threads)
        return EXIT_FAILED;
    for (unsigned i = 0; i < run->nthreads; i++) {
        if (fl_lg_thread_create(run, i, &run->threads[i]) != 0) {
            fprintf(stderr, PROG ": out of memory\n");
            return EXIT_FAILED;
        }
    }
    return 0;
}

/* Under run->mu: waits for every started thread's ring set-up; whether all
 * succeeded (the first failure is printed). */
static bool wait_ready(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    bool ok = co->started == run->nthreads;
    for (unsigned i = 0; i < co->started; i++) {
        const char *what;
        int rc;
        enum fl_lg_init_stage stage;
        while (!fl_lg_thread_ready(run->threads[i], &rc, &stage, &what))
            pthread_cond_wait(&run->cv, &run->mu);
        char why[400];
        if (rc && ok && stage == FL_LG_INIT_RING && fl_uring_unavailable(-rc, why, sizeof(why))) {
            fprintf(stderr, PROG ": %s\n", why);
            co->no_uring = true;
            ok = false;
        } else if (rc && ok) {
            fprintf(stderr, PROG ": %s: %s\n", what, strerror(-rc));
            ok = false;
        }
    }
    return ok;
}

/* Starts the threads; once each has set up its ring, all start at once
 * (or all abort). Sets co->ok. */
static void start_threads(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    /* Threads take no signals: SIGINT reaches the coordinator's sleep. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    co->tids = calloc(run->nthreads, sizeof(*co->tids));
    for (; co->tids && co->started < run->nthreads; co->started++)
        if (pthread_create(&co->tids[co->started], NULL, fl_lg_thread_main,
                           run->threads[co->started]) != 0)
            break;
    if (co->started < run->nthreads)
        fprintf(stderr, PROG ": cannot start thread %u\n", co->started);
    pthread_mutex_lock(&run->mu);
    co->ok = wait_ready(co);
    run->start = fl_lg_now() + 1000000;
    run->warmup_end = run->start + co->s.warmup;
    run->end = run->start + co->s.duration;
    run->abort = !co->ok;
    run->go = true;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Sleeps to `at`; a first SIGINT moves the end to `at` (this row is the
 * last). Returns whether this row is the last. */
static bool sleep_to_tick(struct coord *co, uint64_t at, bool last)
{
    while (fl_lg_now() < at) {
        if (g_sigint && !co->interrupted) {
            co->interrupted = true;
            co->reason = FL_LG_STOP_INTERRUPTED;
            atomic_store(&co->run.stop_at, at); /* finish this interval */
            co->stopped_at = at;
            last = true;
            if (!co->o->quiet)
                fprintf(stderr, "\n" PROG ": interrupted: finishing this interval (again "
                                "to exit at once)\n");
        }
        sleep_until(at);
    }
    return last;
}

/* The coordinator under load: one row per tick (every interval, every
 * phase boundary and the end of the warm-up: fl_scenario_next_tick, the
 * same ticks the threads publish on), until the end, SIGINT, the error
 * threshold or max_requests. */
static void coordinate(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    co->reason = FL_LG_STOP_DURATION;
    co->prev = run->start;
    co->stopped_at = run->end;
    for (uint64_t k = 1; co->ok; k++) {
        uint64_t at = run->start + fl_scenario_next_tick(&co->s, co->prev - run->start);
        bool last = at >= run->end;
        if (last)
            at = run->end;
        last = sleep_to_tick(co, at, last);
        bool all_done = collect(co, k, &co->iv);
        emit_row(co, &co->iv, at, co->prev, NULL);
        co->prev = at;
        if (!co->interrupted && over_threshold(&co->s, &co->iv)) {
            co->reason = FL_LG_STOP_ERROR_THRESHOLD;
            co->stopped_at = fl_lg_now();
            atomic_store(&run->stop_at, co->stopped_at);
            last = true;
        } else if (all_done && !last && run->max_requests) {
            /* Threads also end at run->end: a coordinator that ran late
             * (a slow /stats, a sanitizer build) must not call that a
             * max_requests stop and drop the rows still due. */
            co->reason = FL_LG_STOP_MAX_REQUESTS;
            co->stopped_at = fl_lg_now();
            last = true;
        }
        fl_lg_tally_reset(&co->iv);
        if (last)
            break;
    }
}

/* Joins the threads and writes what they measured after the last row (a
 * stop between ticks). */
static void join_threads(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    for (unsigned i = 0; i < co->started; i++)
        pthread_join(co->tids[i], NULL);
    free(co->tids);
    co->tids = NULL;
    if (!co->ok)
        return;
    pthread_mutex_lock(&run->mu);
    for (unsigned i = 0; i < run->nthreads; i++)
        fl_lg_thread_take(run->threads[i], &co->iv);
    pthread_mutex_unlock(&run->mu);
    if (co->iv.c.requests || fl_lg_counts_errors(&co->iv.c))
        emit_row(co, &co->iv, co->stopped_at > co->prev ? co->stopped_at : co->prev + 1, co->prev,
                 NULL);
    if (co->stopped_at > co->prev)
        co->prev = co->stopped_at;
}

/* The idle tail: no load, connections closed, the server's memory sampled
 * on the same ticks to see what returns to the OS. */
static void idle_tail(struct coord *co)
{
    if (!co->idle || co->interrupted)
        return;
    fl_lg_tally_reset(&co->iv);
    uint64_t idle_end = co->prev + co->idle;
    for (uint64_t at = co->prev + co->run.interval;; at += co->run.interval) {
        if (at > idle_end)
            at = idle_end;
        while (fl_lg_now() < at && !g_sigint)
            sleep_until(at);
        if (g_sigint) {
            co->interrupted = true;
            co->reason = FL_LG_STOP_INTERRUPTED;
            break;
        }
        emit_row(co, &co->iv, at, co->prev, "idle-tail");
        co->prev = at;
        if (at >= idle_end)
            break;
    }
}

/* latency.hgrm and summary.json from the threads' whole-run tallies, and
 * the summary on the terminal; the exit status. */
static int write_outputs(struct coord *co, int all_argc, char **all_argv)
{
    struct fl_lg_run *run = &co->run;
    char path[PATH_MAX + 32];
    uint64_t unfinished = 0;
    for (unsigned i = 0; i < run->nthreads; i++) {
        fl_lg_tally_add(&co->total, fl_lg_thread_total(run->threads[i]));
        unfinished += fl_lg_thread_unfinished(run->threads[i]);
    }
    FILE *hgrm = open_out(co->outdir, "latency.hgrm", path, sizeof(path));
    if (!hgrm)
        return EXIT_FAILED;
    fl_hist_write_percentiles(&co->total.lat, hgrm, 5, 1000.0);
    fclose(hgrm);
    if (co->s.rate > 0 &&
        fl_lg_hgrm_write(co->outdir, "latency-uncorrected.hgrm", &co->total.lat_unc) != 0)
        return EXIT_FAILED;
    uint64_t stop = co->stopped_at < run->end ? co->stopped_at : run->end;
    double pop_open_mean[FL_SCENARIO_MAX_POPULATIONS] = {0};
    for (size_t i = 0; i < co->npop && co->pop_rows; i++)
        pop_open_mean[i] = co->pop_open_sum[i] / (double)co->pop_rows;
    struct fl_lg_result res = {
        .s = &co->s,
        .scenario_file = co->file,
        .scenario_text = co->text,
        .target = co->target,
        .echo_target = co->echo,
        .path = co->o->path,
        .argc = all_argc,
        .argv = all_argv,
        .started_at = co->started_at,
        .total = &co->total,
        .elapsed_s = (double)(stop - run->start) / 1e9,
        .measured_s = stop > run->warmup_end ? (double)(stop - run->warmup_end) / 1e9 : 0,
        .open_loop = co->s.rate > 0,
        .interrupted = co->interrupted,
        .stop_reason = co->reason,
        .unfinished = unfinished,
        .intervals = co->intervals,
        .info = &co->info,
        .server_pid = co->pid,
        .rss_peak = co->rss_peak,
        .last = co->sampled ? &co->last : NULL,
        .npop = co->npop,
        .pop_open_mean = pop_open_mean,
    };
    snprintf(path, sizeof(path), "%s/summary.json", co->outdir);
    int rc = fl_lg_summary_write(path, &res);
    if (rc) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
        return EXIT_FAILED;
    }
    if (fl_lg_manifest_write(co->outdir, &res, &co->mon) != 0)
        return EXIT_FAILED;
    if (!co->o->quiet) {
        fl_lg_summary_print(stdout, &res);
        printf("  results: %s/\n", co->outdir);
    }
    if (co->verify_failures)
        fprintf(stderr, PROG ": %" PRIu64 " responses failed verification (see %s)\n",
                co->verify_failures, path);
    return co->interrupted                                                   ? 128 + g_signo
           : co->reason == FL_LG_STOP_ERROR_THRESHOLD || co->verify_failures ? EXIT_FAILED
                                                                             : 0;
}

static void release(struct coord *co)
{
    struct fl_lg_run *run = &co->run;
    if (co->csv)
        fclose(co->csv);
    if (run->threads)
        for (unsigned i = 0; i < run->nthreads; i++)
            fl_lg_thread_destroy(run->threads[i]);
    free(run->threads);
    fl_lg_tally_destroy(&co->total);
    fl_lg_tally_destroy(&co->iv);
    fl_noise_free(&co->noise);
    free(co->text);
    fl_scenario_free(&co->s);
}

/* `run`: the steps in order; the first that fails gives the exit status. */
static int cmd_run(int argc, char **argv, int all_argc, char **all_argv)
{
    static struct fl_lg_run_opts o;
    int prc = fl_lg_flags_parse(&fl_lg_run_command, argc, argv, &o);
    if (prc)
        return prc > 0 ? 0 : EXIT_USAGE;
    static struct coord co;
    co.o = &o;
    int status = load_scenario(&co);
    if (status) {
        fl_scenario_free(&co.s);
        return status;
    }
    if (!(status = resolve_targets(&co)) && !(status = check_server_flags(&co)) &&
        !(status = ask_server(&co)) && !(status = open_results(&co)) &&
        !(status = create_threads(&co))) {
        start_threads(&co);
        coordinate(&co);
        join_threads(&co);
        if (co.ok) {
            idle_tail(&co);
            if (!o.quiet && co.tty)
                fputc('\n', stderr);
            status = write_outputs(&co, all_argc, all_argv);
        } else {
            status = EXIT_FAILED;
        }
    }
    release(&co);
    return co.no_uring ? FL_EXIT_NO_URING : status;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf(PROG " %s\n", FRAGLAB_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1, argc, argv);
    if (!strcmp(argv[1], "matrix")) {
        char buf[PATH_MAX];
        return fl_lg_cmd_matrix(argc - 1, argv + 1, default_scenario(buf, sizeof(buf)));
    }
    if (!strcmp(argv[1], "report"))
        return fl_lg_cmd_report(argc - 1, argv + 1);
    if (!strcmp(argv[1], "scenario"))
        return fl_lg_cmd_scenario(argc - 1, argv + 1);
    fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", argv[1]);
    return EXIT_USAGE;
}
