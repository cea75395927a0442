/* main.c - fraglab-loadgen: the command line and the run's coordinator.
 *
 * The coordinator sleeps to each interval's end, waits for every thread to
 * publish that interval, merges their tallies, samples the server and
 * writes the row; the threads never wait for it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
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

struct opts {
    const char *scenario, *target, *echo_target, *path, *out;
    const char *duration, *warmup, *connections, *threads, *rate, *max_requests, *timeout,
        *interval, *server_pid, *idle;
    bool quiet, no_sample;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " run [--scenario FILE] [--target HOST:PORT] [options]\n"
            "       " PROG " matrix [--scenario FILE] [--out DIR] [options]  (matrix --help)\n"
            "       " PROG " report DIR\n"
            "\n"
            "Drives one server with a scenario; writes DIR/timeseries.csv (one row per\n"
            "interval: throughput, latency, the server's memory), DIR/summary.json,\n"
            "DIR/latency.hgrm and DIR/scenario.ini. Flags override the scenario.\n"
            "\n"
            "  --scenario FILE        scenario (default: config/quick.ini of this tree)\n"
            "  --target HOST:PORT     the HTTP server\n"
            "  --echo-target HOST:PORT  its raw TCP echo port (for kind = tcp requests)\n"
            "  -d, --duration T       run length: 10s, 5m, 4h (phases are scaled)\n"
            "  --warmup T             excluded from the figures\n"
            "  -c, --connections N    connections in total\n"
            "  -t, --threads N        event loops\n"
            "  -R, --rate R           requests/s, open loop; 0 = closed loop\n"
            "  --max-requests N       stop after N requests\n"
            "  --timeout T            per request\n"
            "  --path PATH            every request is GET PATH (expects 200)\n"
            "  --server-pid PID       read the server's /proc/PID/smaps_rollup\n"
            "  --no-sample            no memory sampling (/proc and /stats): CSV memory\n"
            "                         columns empty (to measure what sampling costs)\n"
            "  --out DIR              results folder (default results/run-DATE-TIME)\n"
            "  --interval T           sampling interval\n"
            "  --idle T               after the load, close the connections and keep\n"
            "                         sampling the server for T (rows 'idle-tail')\n"
            "  -q, --quiet            no progress and no summary on the terminal\n"
            "  -h, --help             this text\n"
            "  --version              the version\n"
            "\n"
            "Exit: 0 done, 1 could not start, stopped by the error threshold or a\n"
            "response failed verification, 2 bad usage, 130/143 interrupted (SIGINT/SIGTERM).\n");
}

/* ------------------------------------------------------------- arguments */

enum {
    O_SCENARIO = 256,
    O_TARGET,
    O_ECHO,
    O_WARMUP,
    O_MAXREQ,
    O_TIMEOUT,
    O_REQPATH,
    O_PID,
    O_OUT,
    O_INTERVAL,
    O_VERSION,
    O_IDLE,
    O_NOSAMPLE
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"target", required_argument, NULL, O_TARGET},
        {"echo-target", required_argument, NULL, O_ECHO},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"connections", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'R'},
        {"max-requests", required_argument, NULL, O_MAXREQ},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"path", required_argument, NULL, O_REQPATH},
        {"server-pid", required_argument, NULL, O_PID},
        {"out", required_argument, NULL, O_OUT},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"idle", required_argument, NULL, O_IDLE},
        {"no-sample", no_argument, NULL, O_NOSAMPLE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:c:t:R:qh", longs, NULL)) != -1) {
        switch (c) {
        case O_SCENARIO:
            o->scenario = optarg;
            break;
        case O_TARGET:
            o->target = optarg;
            break;
        case O_ECHO:
            o->echo_target = optarg;
            break;
        case 'd':
            o->duration = optarg;
            break;
        case O_WARMUP:
            o->warmup = optarg;
            break;
        case 'c':
            o->connections = optarg;
            break;
        case 't':
            o->threads = optarg;
            break;
        case 'R':
            o->rate = optarg;
            break;
        case O_MAXREQ:
            o->max_requests = optarg;
            break;
        case O_TIMEOUT:
            o->timeout = optarg;
            break;
        case O_REQPATH:
            o->path = optarg;
            break;
        case O_PID:
            o->server_pid = optarg;
            break;
        case O_OUT:
            o->out = optarg;
            break;
        case O_INTERVAL:
            o->interval = optarg;
            break;
        case O_IDLE:
            o->idle = optarg;
            break;
        case O_NOSAMPLE:
            o->no_sample = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case O_VERSION:
            printf(PROG " %s\n", FRAGLAB_VERSION);
            return 1;
        case ':':
            fprintf(stderr, PROG ": %s needs a value (try --help)\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, PROG ": unknown option %s (try --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", argv[optind]);
        return -1;
    }
    return 0;
}

static bool parse_value(const char *flag, const char *text, enum fl_dist_unit unit, uint64_t lo,
                        uint64_t hi, uint64_t *out)
{
    char why[160];
    if (fl_dist_parse_value(unit, text, out, why, sizeof(why)) != 0) {
        fprintf(stderr, PROG ": %s %s: %s\n", flag, text, why);
        return false;
    }
    if (*out < lo || *out > hi) {
        fprintf(stderr, PROG ": %s %s: out of range (%" PRIu64 "..%" PRIu64 "%s)\n", flag, text,
                unit == FL_DIST_TIME ? lo / 1000000 : lo, unit == FL_DIST_TIME ? hi / 1000000 : hi,
                unit == FL_DIST_TIME ? " ms" : "");
        return false;
    }
    return true;
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

/* Applies the flags to the scenario; false with the message printed. */
static bool apply(const struct opts *o, struct fl_scenario *s)
{
    uint64_t v;
    if (o->duration) {
        if (!parse_value("--duration", o->duration, FL_DIST_TIME, 1000000, FL_DIST_MAX_TIME, &v))
            return false;
        fl_scenario_scale_duration(s, v);
        if (!o->warmup && s->warmup > v / 10)
            s->warmup = v / 10;
    }
    if (o->warmup) {
        if (!parse_value("--warmup", o->warmup, FL_DIST_TIME, 0, FL_DIST_MAX_TIME, &v))
            return false;
        s->warmup = v;
    }
    if (s->warmup >= s->duration) {
        fprintf(stderr, PROG ": the warm-up (%.3f s) must be shorter than the run (%.3f s)\n",
                (double)s->warmup / 1e9, (double)s->duration / 1e9);
        return false;
    }
    if (o->connections) {
        if (!parse_value("--connections", o->connections, FL_DIST_COUNT, 1,
                         FL_SCENARIO_MAX_CONNECTIONS, &v))
            return false;
        fl_scenario_set_connections(s, (uint32_t)v);
    }
    if (o->threads) {
        if (!parse_value("--threads", o->threads, FL_DIST_COUNT, 1, FL_SCENARIO_MAX_THREADS, &v))
            return false;
        s->threads = (uint32_t)v;
    }
    if (s->threads > s->connections) {
        if (o->threads) {
            fprintf(stderr, PROG ": %u threads for %u connections: at most one thread each\n",
                    s->threads, s->connections);
            return false;
        }
        s->threads = s->connections;
    }
    if (o->rate) {
        char *end;
        errno = 0;
        double r = strtod(o->rate, &end);
        if (*end || errno || !(r >= 0) || r > 1e9) {
            fprintf(stderr, PROG ": --rate %s: expected requests/s, 0..1e9\n", o->rate);
            return false;
        }
        fl_scenario_set_rate(s, r);
    }
    if (o->max_requests) {
        if (!parse_value("--max-requests", o->max_requests, FL_DIST_COUNT, 0, FL_DIST_MAX_COUNT,
                         &v))
            return false;
        s->max_requests = v;
    }
    if (o->timeout) {
        if (!parse_value("--timeout", o->timeout, FL_DIST_TIME, 1000000, FL_DIST_MAX_TIME, &v))
            return false;
        s->timeout = v;
    }
    if (o->interval) {
        if (!parse_value("--interval", o->interval, FL_DIST_TIME, 10000000, FL_DIST_MAX_TIME, &v))
            return false;
        s->interval = v;
    }
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

/* phase: NULL for the scenario's phase running at `at`. */
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

static int cmd_run(int argc, char **argv, int all_argc, char **all_argv)
{
    struct opts o = {0};
    int prc = parse_args(argc, argv, &o);
    if (prc)
        return prc > 0 ? 0 : EXIT_USAGE;

    char defpath[PATH_MAX], err[512];
    const char *file = o.scenario ? o.scenario : default_scenario(defpath, sizeof(defpath));
    if (!file) {
        fprintf(stderr, PROG ": no scenario: give --scenario FILE\n");
        return EXIT_USAGE;
    }
    static struct fl_scenario s;
    if (fl_scenario_load(file, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return EXIT_USAGE;
    }
    int status = EXIT_USAGE;
    static struct coord co;
    struct fl_lg_run *run = &co.run;
    struct fl_noise noise = {0};
    char *text = NULL;
    FILE *hgrm = NULL;
    unsigned started = 0;
    bool ok = false, no_uring = false;
    struct fl_lg_tally total = {0}, iv = {0};

    if (!apply(&o, &s))
        goto out;
    const char *target = o.target ? o.target : s.target[0] ? s.target : NULL;
    const char *echo = o.echo_target ? o.echo_target : s.echo_target[0] ? s.echo_target : NULL;
    if (!target) {
        fprintf(stderr, PROG ": no target: give --target HOST:PORT\n");
        goto out;
    }
    if (resolve("--target", target, &run->target, &run->target_len))
        goto out;
    snprintf(run->host, sizeof(run->host), "%s", target);
    if (o.path) {
        echo = NULL;
    } else if (echo) {
        if (resolve("--echo-target", echo, &run->echo, &run->echo_len))
            goto out;
    } else {
        double gone = fl_scenario_drop_kind(&s, FL_SCENARIO_TCP);
        if (gone >= 1) {
            fprintf(stderr, PROG ": every request is kind = tcp: give --echo-target HOST:PORT\n");
            goto out;
        }
        if (gone > 0 && !o.quiet)
            fprintf(stderr,
                    PROG ": note: no --echo-target: tcp requests (%.1f%% of the mix) left "
                         "out\n",
                    gone * 100);
    }
    uint64_t idle = 0;
    if (o.idle && !parse_value("--idle", o.idle, FL_DIST_TIME, 0, FL_DIST_MAX_TIME, &idle))
        goto out;
    pid_t pid = 0;
    if (o.server_pid && o.no_sample) {
        fprintf(stderr, PROG ": --server-pid and --no-sample contradict each other\n");
        goto out;
    }
    if (o.server_pid) {
        uint64_t v;
        if (!parse_value("--server-pid", o.server_pid, FL_DIST_COUNT, 1, INT_MAX, &v))
            goto out;
        pid = (pid_t)v;
        struct fl_procmem m;
        if (fl_procmem_read(pid, &m) != 0) {
            fprintf(stderr, PROG ": --server-pid %d: cannot read /proc/%d/smaps_rollup\n", pid,
                    pid);
            goto out;
        }
    }

    status = EXIT_FAILED;
    run->s = &s;
    run->path = o.path;
    run->nthreads = s.threads;
    run->interval = s.interval;
    run->max_requests = s.max_requests;
    if (!preflight(run, target))
        goto out;

    /* The server: its pid from /stats when it is on this machine. */
    co.mon.addr = run->target;
    co.mon.addr_len = run->target_len;
    snprintf(co.mon.host, sizeof(co.mon.host), "%s", target);
    co.no_sample = o.no_sample;
    if (o.no_sample)
        fl_lg_sample_clear(&co.last);
    else
        fl_lg_monitor_sample(&co.mon, &co.last, &co.info);
    if (!pid && !o.no_sample && co.info.known && co.info.pid > 0 &&
        fl_lg_is_loopback((const struct sockaddr *)&run->target)) {
        struct fl_procmem m;
        if (fl_procmem_read((pid_t)co.info.pid, &m) == 0)
            pid = (pid_t)co.info.pid;
    }
    co.mon.pid = pid;
    co.rss_peak = FL_NA;

    char outdir[PATH_MAX], path[PATH_MAX + 32], started_at[32];
    iso_now(started_at, sizeof(started_at));
    if (o.out) {
        snprintf(outdir, sizeof(outdir), "%s", o.out);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(outdir, sizeof(outdir), "results/run-%Y%m%d-%H%M%S", &tm);
    }
    int rc = fl_lg_make_dirs(outdir);
    if (rc) {
        fprintf(stderr, PROG ": --out %s: %s\n", outdir, strerror(-rc));
        goto out;
    }
    text = scenario_text(&s);
    FILE *sf = open_out(outdir, "scenario.ini", path, sizeof(path));
    if (!sf || !text)
        goto out;
    fputs(text, sf);
    fclose(sf);
    if (!(co.csv = open_out(outdir, "timeseries.csv", path, sizeof(path))))
        goto out;
    co.npop = o.path ? 0 : s.npopulations;
    fl_lg_csv_header(co.csv, o.path ? NULL : &s);
    co.tty = isatty(2);
    co.quiet = o.quiet;

    if (fl_noise_init(&noise, fl_req_max_body(&s), s.seed) || fl_lg_tally_init(&total) ||
        fl_lg_tally_init(&iv)) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    run->noise = &noise;
    pthread_mutex_init(&run->mu, NULL);
    pthread_cond_init(&run->cv, NULL);
    atomic_store(&run->stop_at, UINT64_MAX);
    run->threads = calloc(run->nthreads, sizeof(*run->threads));
    if (!run->threads)
        goto out;
    for (unsigned i = 0; i < run->nthreads; i++) {
        if (fl_lg_thread_create(run, i, &run->threads[i]) != 0) {
            fprintf(stderr, PROG ": out of memory\n");
            goto out;
        }
    }

    /* Threads take no signals: SIGINT reaches the coordinator's sleep. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    pthread_t *tids = calloc(run->nthreads, sizeof(*tids));
    for (; tids && started < run->nthreads; started++)
        if (pthread_create(&tids[started], NULL, fl_lg_thread_main, run->threads[started]) != 0)
            break;
    if (started < run->nthreads)
        fprintf(stderr, PROG ": cannot start thread %u\n", started);
    /* Every started thread sets up its ring; then all start at once. */
    pthread_mutex_lock(&run->mu);
    ok = started == run->nthreads;
    for (unsigned i = 0; i < started; i++) {
        const char *what;
        while (!fl_lg_thread_ready(run->threads[i], &rc, &what))
            pthread_cond_wait(&run->cv, &run->mu);
        char why[400];
        if (rc && ok && !strcmp(what, "io_uring_queue_init") &&
            fl_uring_unavailable(-rc, why, sizeof(why))) {
            fprintf(stderr, PROG ": %s\n", why);
            no_uring = true;
            ok = false;
        } else if (rc && ok) {
            fprintf(stderr, PROG ": %s: %s\n", what, strerror(-rc));
            ok = false;
        }
    }
    run->start = fl_lg_now() + 1000000;
    run->warmup_end = run->start + s.warmup;
    run->end = run->start + s.duration;
    run->abort = !ok;
    run->go = true;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    const char *reason = "duration";
    bool interrupted = false;
    uint64_t prev = run->start, stopped_at = run->end;
    for (uint64_t k = 1; ok; k++) {
        uint64_t at = run->start + k * run->interval;
        bool last = at >= run->end;
        if (last)
            at = run->end;
        while (fl_lg_now() < at) {
            if (g_sigint && !interrupted) {
                interrupted = true;
                reason = "interrupted";
                atomic_store(&run->stop_at, at); /* finish this interval */
                stopped_at = at;
                last = true;
                if (!o.quiet)
                    fprintf(stderr, "\n" PROG ": interrupted: finishing this interval (again "
                                    "to exit at once)\n");
            }
            sleep_until(at);
        }
        bool all_done = collect(&co, k, &iv);
        emit_row(&co, &iv, at, prev, NULL);
        prev = at;
        if (!interrupted && over_threshold(&s, &iv)) {
            reason = "error_threshold";
            stopped_at = fl_lg_now();
            atomic_store(&run->stop_at, stopped_at);
            last = true;
        } else if (all_done && !last && run->max_requests) {
            /* Threads also end at run->end: a coordinator that ran late
             * (a slow /stats, a sanitizer build) must not call that a
             * max_requests stop and drop the rows still due. */
            reason = "max_requests";
            stopped_at = fl_lg_now();
            last = true;
        }
        fl_lg_tally_reset(&iv);
        if (last)
            break;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    if (!ok)
        goto out;
    /* What the threads measured after the last row (a stop between ticks). */
    pthread_mutex_lock(&run->mu);
    for (unsigned i = 0; i < run->nthreads; i++)
        fl_lg_thread_take(run->threads[i], &iv);
    pthread_mutex_unlock(&run->mu);
    if (iv.c.requests || fl_lg_counts_errors(&iv.c))
        emit_row(&co, &iv, stopped_at > prev ? stopped_at : prev + 1, prev, NULL);
    if (stopped_at > prev)
        prev = stopped_at;

    /* The idle tail: no load, connections closed, the server's memory
     * sampled on the same ticks to see what returns to the OS. */
    if (idle && !interrupted) {
        fl_lg_tally_reset(&iv);
        uint64_t idle_end = prev + idle;
        for (uint64_t at = prev + run->interval;; at += run->interval) {
            if (at > idle_end)
                at = idle_end;
            while (fl_lg_now() < at && !g_sigint)
                sleep_until(at);
            if (g_sigint) {
                interrupted = true;
                reason = "interrupted";
                break;
            }
            emit_row(&co, &iv, at, prev, "idle-tail");
            prev = at;
            if (at >= idle_end)
                break;
        }
    }
    if (!o.quiet && co.tty)
        fputc('\n', stderr);

    uint64_t unfinished = 0;
    for (unsigned i = 0; i < run->nthreads; i++) {
        fl_lg_tally_add(&total, fl_lg_thread_total(run->threads[i]));
        unfinished += fl_lg_thread_unfinished(run->threads[i]);
    }
    if (!(hgrm = open_out(outdir, "latency.hgrm", path, sizeof(path))))
        goto out;
    fl_hist_write_percentiles(&total.lat, hgrm, 5, 1000.0);
    if (s.rate > 0 && fl_lg_hgrm_write(outdir, "latency-uncorrected.hgrm", &total.lat_unc) != 0)
        goto out;
    uint64_t stop = stopped_at < run->end ? stopped_at : run->end;
    double pop_open_mean[FL_SCENARIO_MAX_POPULATIONS] = {0};
    for (size_t i = 0; i < co.npop && co.pop_rows; i++)
        pop_open_mean[i] = co.pop_open_sum[i] / (double)co.pop_rows;
    struct fl_lg_result res = {
        .s = &s,
        .scenario_file = file,
        .scenario_text = text,
        .target = target,
        .echo_target = echo,
        .path = o.path,
        .argc = all_argc,
        .argv = all_argv,
        .started_at = started_at,
        .total = &total,
        .elapsed_s = (double)(stop - run->start) / 1e9,
        .measured_s = stop > run->warmup_end ? (double)(stop - run->warmup_end) / 1e9 : 0,
        .open_loop = s.rate > 0,
        .interrupted = interrupted,
        .stop_reason = reason,
        .unfinished = unfinished,
        .intervals = co.intervals,
        .info = &co.info,
        .server_pid = pid,
        .rss_peak = co.rss_peak,
        .last = co.sampled ? &co.last : NULL,
        .npop = co.npop,
        .pop_open_mean = pop_open_mean,
    };
    snprintf(path, sizeof(path), "%s/summary.json", outdir);
    rc = fl_lg_summary_write(path, &res);
    if (rc) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
        goto out;
    }
    if (fl_lg_manifest_write(outdir, &res, &co.mon) != 0)
        goto out;
    if (!o.quiet) {
        fl_lg_summary_print(stdout, &res);
        printf("  results: %s/\n", outdir);
    }
    if (co.verify_failures)
        fprintf(stderr, PROG ": %" PRIu64 " responses failed verification (see %s)\n",
                co.verify_failures, path);
    status = interrupted                                                    ? 128 + g_signo
             : strcmp(reason, "error_threshold") == 0 || co.verify_failures ? EXIT_FAILED
                                                                            : 0;
out:
    if (hgrm)
        fclose(hgrm);
    if (co.csv)
        fclose(co.csv);
    if (run->threads)
        for (unsigned i = 0; i < run->nthreads; i++)
            fl_lg_thread_destroy(run->threads[i]);
    free(run->threads);
    fl_lg_tally_destroy(&total);
    fl_lg_tally_destroy(&iv);
    fl_noise_free(&noise);
    free(text);
    fl_scenario_free(&s);
    return no_uring ? FL_EXIT_NO_URING : status;
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
    fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", argv[1]);
    return EXIT_USAGE;
}
