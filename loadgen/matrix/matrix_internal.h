/* matrix_internal.h - what matrix.c (the plan, one pairing's steps, the
 * sequential loop, runs.json) shares with matrix_parallel.c (every pairing
 * at once). Not part of the loadgen's API. */
#ifndef FL_LOADGEN_MATRIX_INTERNAL_H
#define FL_LOADGEN_MATRIX_INTERNAL_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scenario.h"

#define FL__MX_PROG "fraglab-loadgen matrix"
#define FL__MX_MAX_ITEMS 16

struct pairing {
    char name[128];
    const char *mode;       /* tpc, ws, ws-owner */
    const char *alloc_spec; /* as given: glibc, jemalloc:dirty_decay_ms:1000, /path/lib.so */
    char alloc_label[96];   /* filesystem-safe */
    const char *status;     /* "pending", "running", "ok", "failed", "interrupted", "skipped" */
    char error[256];
    /* --parallel only: the intervals (their t_s) in which this pairing fell
     * behind its schedule; one double per late sample, never per request. */
    double *behind_t;
    size_t nbehind, behind_cap;
    double first_sample_at; /* --parallel: wall clock (s) its first CSV row was seen */
    char cpus[128];         /* the CPUs its workers ran on, from its manifest ("" unknown) */
    bool pinned;            /* its server said its workers held their pinning */
};

struct mopts {
    const char *scenario, *out, *server, *duration, *idle, *interval, *connections, *rate;
    char *modes[FL__MX_MAX_ITEMS], *allocs[FL__MX_MAX_ITEMS];
    int nmodes, nallocs;
    double rate_x; /* --rate's value, when given */
    int threads;
    bool parallel, no_headroom_check;
};

/* --parallel's CPU estimate, for runs.json. */
struct fl__mx_headroom {
    bool checked;           /* a calibration ran */
    double cal_rate;        /* req/s of the calibration's second run (the first: a quarter) */
    double cpu_fixed;       /* CPUs (server + loadgen) a pairing keeps busy at any rate */
    double cpu_per_request; /* s of CPU (server + loadgen) per request on top */
    bool saturated;         /* one pairing alone fell short of cal_rate */
    int cpus;               /* sched_getaffinity's count */
    double margin;          /* share of those CPUs the pairings may use */
    double max_rate;        /* the largest --rate that fits (its busiest phase scaled) */
    int nruns;              /* calibration runs, in the order they ran: */
    double run_rate[8];     /* the rate each carried (req/s) */
    double run_cpu[8];      /* the CPUs it kept busy (median of its windows) */
};

/* --parallel's calibration line through its low point (c1 CPUs at r1
 * req/s) and high one (c2 at r2; `high_failed`: that run stopped on
 * errors): h->cpu_fixed, h->cpu_per_request and h->saturated (one pairing
 * alone fell short of h->cal_rate: all its CPU charged to the requests). */
void fl__mx_fit_cpu(struct fl__mx_headroom *h, double c1, double r1, double c2, double r2,
                    bool high_failed);

/* A matrix under way: what runs.json holds besides its manifest. */
struct matrix {
    const struct mopts *o;
    int argc;
    char **argv;
    char name[FL_SCENARIO_NAME_MAX];   /* the scenario's */
    uint64_t duration, idle, interval; /* ns, as `run` will apply them */
    double rate;                       /* req/s, as `run` will apply it; 0: closed loop */
    uint64_t timeout;                  /* ns per request, the scenario's */
    char dir[PATH_MAX], started_at[32], loadgen[PATH_MAX], server[PATH_MAX];
    struct pairing *pairs;
    int n;
    struct fl__mx_headroom headroom;
};

/* A pairing's server: its process, loopback ports and log. */
struct server {
    pid_t pid;
    int port, echo;
    char log[PATH_MAX + 16];
};

/* Set by SIGINT/SIGTERM: stop after what is under way. */
extern volatile sig_atomic_t fl__mx_stop;

/* fork + exec of argv[0] in its own process group, stdout and stderr to
 * `log` (NULL: inherited); the child dies with this process (SIGKILL
 * included). Its pid, or -1 with errno. Call from the main thread. */
pid_t fl__mx_spawn(char *const argv[], const char *log);

/* SIGTERM, then SIGKILL after 10 s; reaped. */
void fl__mx_stop_server(pid_t pid);

/* A file's text (NUL-terminated, malloc'd), or NULL. */
char *fl__mx_read_text(const char *path);

/* The last non-empty line of a file into `out` ("" when there is none). */
void fl__mx_last_line(const char *path, char *out, size_t len);

/* RDIR/FILE parsed; NULL if it cannot be read or parsed. */
cJSON *fl__mx_read_json(const char *rdir, const char *file);

/* DIR/runs.json, atomically. 0 or -errno. */
int fl__mx_write_runs(const struct matrix *mx);

/* DIR/runs/NAME/ into `rdir`; false with p->error. */
bool fl__mx_make_run_dir(struct pairing *p, const char *dir, char *rdir, size_t len);

/* Starts the pairing's server on free loopback ports, logging to
 * RDIR/server.log, without waiting for it; false with p->error. */
bool fl__mx_spawn_server(struct pairing *p, const struct mopts *o, const char *rdir,
                         struct server *sv);

/* Waits for a spawned server's /healthz; false with p->error (the server
 * then stopped). */
bool fl__mx_await_server(struct pairing *p, const struct mopts *o, struct server *sv);

/* Spawns `fraglab-loadgen run` against the server into RDIR, logging to
 * `llog`; `duration`, `rate` and `idle` (NULL: the matrix's) override the
 * matrix's. Its pid, or -1 with p->error. */
pid_t fl__mx_spawn_run(struct pairing *p, const struct mopts *o, const char *loadgen,
                       const char *rdir, const struct server *sv, const char *llog,
                       const char *duration, const char *rate, const char *idle);

/* p->status and p->error from the run's exit status and the logs. */
void fl__mx_judge(struct pairing *p, int code, bool server_alive, const char *log,
                  const char *llog);

/* The rest of the pairing's line on stderr, from RDIR/summary.json. */
void fl__mx_print_outcome(const struct pairing *p, const char *rdir);

/* p->cpus and p->pinned from RDIR/manifest.json (the server's /stats at the
 * end of its run); cpus left empty when unknown. */
void fl__mx_read_cpus(struct pairing *p, const char *rdir);

/* The number of CPUs this process may run on (sched_getaffinity), at least 1. */
int fl__mx_allowed_cpus(void);

/* Runs every pairing at once (matrix_parallel.c): open loop only, the CPU
 * headroom measured first. The number that failed, or -2 after one line on
 * stderr (refused: bad usage) or -1 (could not start). */
int fl__mx_run_parallel(struct matrix *mx);

#endif
