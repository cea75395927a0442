/* flags.c - fraglab-loadgen's command lines: one table per subcommand, one
 * parser, one --help.
 *
 * getopt_long does the scanning (so "--out=DIR", "-d5s", abbreviated long
 * flags and flags after positional arguments keep working); each table entry
 * says where its value goes and how it is checked, so a bad value is refused
 * while parsing, named as the user wrote it, before anything is loaded. */
#include "flags.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

#ifndef FRAGLAB_VERSION
#define FRAGLAB_VERSION "0"
#endif

#define LG "fraglab-loadgen"
#define MS UINT64_C(1000000)
#define MAXT FL_DIST_MAX_TIME

/* Entries of one table at most (the parser's getopt arrays are this big). */
#define MAX_FLAGS 32
#define NFLAGS(table) (sizeof(table) / sizeof(table[0]))

#define RUN(field) offsetof(struct fl_lg_run_opts, field)
#define MATRIX(field) offsetof(struct fl_lg_matrix_opts, field)

static const struct fl_lg_flag run_flags[] = {
    {"scenario", 0, FL_LG_FLAG_TEXT, RUN(scenario), "FILE",
     "scenario (default: config/quick.ini of this tree;\n"
     "with --path and no such file, built-in settings)",
     0, 0},
    {"target", 0, FL_LG_FLAG_TEXT, RUN(target), "HOST:PORT", "the HTTP server", 0, 0},
    {"echo-target", 0, FL_LG_FLAG_TEXT, RUN(echo_target), "HOST:PORT",
     "its raw TCP echo port (for kind = tcp requests)", 0, 0},
    {"duration", 'd', FL_LG_FLAG_TIME, RUN(duration), "T",
     "run length: 10s, 5m, 4h (phases are scaled)", MS, MAXT},
    {"warmup", 0, FL_LG_FLAG_TIME, RUN(warmup), "T", "excluded from the figures", 0, MAXT},
    {"connections", 'c', FL_LG_FLAG_COUNT, RUN(connections), "N", "connections in total", 1,
     FL_SCENARIO_MAX_CONNECTIONS},
    {"threads", 't', FL_LG_FLAG_COUNT, RUN(threads), "N", "event loops", 1,
     FL_SCENARIO_MAX_THREADS},
    {"rate", 'R', FL_LG_FLAG_RATE, RUN(rate), "R", "requests/s, open loop; 0 = closed loop", 0, 0},
    {"max-requests", 0, FL_LG_FLAG_COUNT, RUN(max_requests), "N", "stop after N requests", 0,
     FL_DIST_MAX_COUNT},
    {"timeout", 0, FL_LG_FLAG_TIME, RUN(timeout), "T", "per request", MS, MAXT},
    {"path", 0, FL_LG_FLAG_TEXT, RUN(path), "PATH", "every request is GET PATH (expects 200)", 0,
     0},
    {"server-pid", 0, FL_LG_FLAG_COUNT, RUN(server_pid), "PID",
     "read the server's /proc/PID/smaps_rollup", 1, INT_MAX},
    {"no-sample", 0, FL_LG_FLAG_SWITCH, RUN(no_sample), "",
     "no memory sampling (/proc and /stats): CSV memory\n"
     "columns empty (to measure what sampling costs)",
     0, 0},
    {"out", 0, FL_LG_FLAG_TEXT, RUN(out), "DIR", "results folder (default results/run-DATE-TIME)",
     0, 0},
    {"interval", 0, FL_LG_FLAG_TIME, RUN(interval), "T", "sampling interval", 10 * MS, MAXT},
    {"idle", 0, FL_LG_FLAG_TIME, RUN(idle), "T",
     "after the load, close the connections and keep\n"
     "sampling the server for T (rows 'idle-tail')",
     0, MAXT},
    {"quiet", 'q', FL_LG_FLAG_SWITCH, RUN(quiet), "", "no progress and no summary on the terminal",
     0, 0},
    {"help", 'h', FL_LG_FLAG_HELP, 0, "", "this text", 0, 0},
    {"version", 0, FL_LG_FLAG_VERSION, 0, "", "the version", 0, 0},
};

const struct fl_lg_command fl_lg_run_command = {
    .prog = LG,
    .synopsis = "usage: " LG " run [--scenario FILE] [--target HOST:PORT] [options]\n"
                "       " LG " matrix [--scenario FILE] [--out DIR] [options]  (matrix --help)\n"
                "       " LG " report DIR [--no-plots] [--repeats DIR2,...]\n"
                "       " LG " scenario --from-log FILE [--format combined|json] [--out FILE.ini]\n"
                "\n"
                "Drives one server with a scenario; writes DIR/timeseries.csv (one row per\n"
                "interval, split at phase boundaries and at the end of the warm-up:\n"
                "throughput, latency, the server's memory), DIR/summary.json,\n"
                "DIR/latency.hgrm and DIR/scenario.ini. Flags override the scenario.\n",
    .epilog = "Exit: 0 done, 1 could not start, stopped by the error threshold or a\n"
              "response failed verification, 2 bad usage, 130/143 interrupted "
              "(SIGINT/SIGTERM).\n",
    .flags = run_flags,
    .nflags = NFLAGS(run_flags),
    .pos_off = SIZE_MAX,
};

static const struct fl_lg_flag matrix_flags[] = {
    {"scenario", 0, FL_LG_FLAG_TEXT, MATRIX(scenario), "FILE",
     "scenario (default: config/quick.ini of this tree)", 0, 0},
    {"modes", 0, FL_LG_FLAG_TEXT, MATRIX(modes), "LIST", "tpc,ws,ws-owner (default tpc,ws)", 0, 0},
    {"allocators", 0, FL_LG_FLAG_TEXT, MATRIX(allocators), "LIST",
     "glibc,jemalloc,mimalloc,tcmalloc (default), any\n"
     ".so path, settings as NAME:SETTINGS\n"
     "(e.g. jemalloc:dirty_decay_ms:1000); ';' also separates",
     0, 0},
    {"duration", 'd', FL_LG_FLAG_TIME, MATRIX(duration), "T",
     "load per pairing (default: the scenario's)", MS, MAXT},
    {"idle", 0, FL_LG_FLAG_TIME, MATRIX(idle), "T", "idle tail per pairing (default 10s)", 0, MAXT},
    {"interval", 0, FL_LG_FLAG_TIME, MATRIX(interval), "T",
     "sampling interval (default: the scenario's)", 10 * MS, MAXT},
    {"connections", 'c', FL_LG_FLAG_COUNT, MATRIX(connections), "N",
     "connections (default: the scenario's)", 1, FL_SCENARIO_MAX_CONNECTIONS},
    {"rate", 'R', FL_LG_FLAG_RATE, MATRIX(rate), "R", "requests/s (default: the scenario's)", 0, 0},
    {"threads", 0, FL_LG_FLAG_COUNT, MATRIX(threads), "N",
     "server threads (default: the CPUs this process may run on)", 1, 256},
    {"parallel", 0, FL_LG_FLAG_SWITCH, MATRIX(parallel), "",
     "every pairing at once on one clock (open loop only;\n"
     "the CPU it needs is measured first)",
     0, 0},
    {"no-headroom-check", 0, FL_LG_FLAG_SWITCH, MATRIX(no_headroom_check), "",
     "--parallel without the CPU calibration and refusal", 0, 0},
    {"server", 0, FL_LG_FLAG_TEXT, MATRIX(server), "PATH",
     "fraglab-server (default: beside this binary)", 0, 0},
    {"out", 0, FL_LG_FLAG_TEXT, MATRIX(out), "DIR", "results (default results/matrix-DATE-TIME)", 0,
     0},
    {"help", 'h', FL_LG_FLAG_HELP, 0, "", "this text", 0, 0},
};

const struct fl_lg_command fl_lg_matrix_command = {
    .prog = LG " matrix",
    .synopsis = "usage: " LG " matrix [--scenario FILE] [--out DIR] [options]\n"
                "\n"
                "For each mode and allocator: start fraglab-server on free loopback ports,\n"
                "run the scenario against it, keep sampling it through an idle tail, stop it.\n"
                "Then DIR/matrix.csv, DIR/matrix.json, plots and DIR/index.html.\n",
    .epilog = "Exit: 0 every pairing ran, 1 one or more failed (the rest still ran), 2 bad\n"
              "usage, 130 interrupted (what ran is reported).\n",
    .flags = matrix_flags,
    .nflags = NFLAGS(matrix_flags),
    .pos_off = SIZE_MAX,
};

static const struct fl_lg_flag report_flags[] = {
    {"no-plots", 0, FL_LG_FLAG_SWITCH, offsetof(struct fl_lg_report_opts, no_plots), "",
     "no gnuplot pictures", 0, 0},
    {"repeats", 0, FL_LG_FLAG_TEXT, offsetof(struct fl_lg_report_opts, repeats), "DIR,...",
     "folders where the same matrix ran again: the verdict's spread", 0, 0},
    {"help", 'h', FL_LG_FLAG_HELP, 0, "", "this text", 0, 0},
};

const struct fl_lg_command fl_lg_report_command = {
    .prog = LG " report",
    .synopsis = "usage: " LG " report DIR [--no-plots] [--repeats DIR2,...]\n"
                "Rebuilds DIR/matrix.csv, matrix.json, index.html and the plots of a\n"
                "`fraglab-loadgen matrix` folder from what is on disk (runs may be partial),\n"
                "and says what to run for its traffic (the verdict).\n",
    .epilog = NULL,
    .flags = report_flags,
    .nflags = NFLAGS(report_flags),
    .pos_off = offsetof(struct fl_lg_report_opts, dir),
};

#define SCEN(field) offsetof(struct fl_lg_scenario_opts, field)

static const struct fl_lg_flag scenario_flags[] = {
    {"from-log", 0, FL_LG_FLAG_TEXT, SCEN(from_log), "FILE",
     "an nginx or Apache access log ('-': stdin)", 0, 0},
    {"format", 0, FL_LG_FLAG_TEXT, SCEN(format), "F",
     "combined (default; common too) or json (nginx's\n"
     "escape=json format of loadgen/README.md)",
     0, 0},
    {"out", 0, FL_LG_FLAG_TEXT, SCEN(out), "FILE.ini", "write here (default: stdout)", 0, 0},
    {"help", 'h', FL_LG_FLAG_HELP, 0, "", "this text", 0, 0},
};

const struct fl_lg_command fl_lg_scenario_command = {
    .prog = LG " scenario",
    .synopsis = "usage: " LG " scenario --from-log FILE [--format combined|json] [--out FILE.ini]\n"
                "\n"
                "Reads an access log line by line (memory does not grow with it) and writes a\n"
                "scenario that models it: phases from the rate over time and its idle gaps,\n"
                "request kinds (static, api, upload) with their shares and answer sizes,\n"
                "and, from nginx's extra fields, bodies, connections and populations. Every\n"
                "choice is a comment in the file. Bad lines are counted by kind and left out.\n",
    .epilog = "Exit: 0 written (a line on stderr counts the lines and the bad ones), 1 the\n"
              "log could not be read or held no request, 2 bad usage.\n",
    .flags = scenario_flags,
    .nflags = NFLAGS(scenario_flags),
    .pos_off = SIZE_MAX,
};

_Static_assert(NFLAGS(run_flags) <= MAX_FLAGS && NFLAGS(matrix_flags) <= MAX_FLAGS &&
                   NFLAGS(report_flags) <= MAX_FLAGS,
               "raise MAX_FLAGS");

/* ------------------------------------------------------------------ --help */

static int left_width(const struct fl_lg_flag *f)
{
    return 2 + (f->letter ? 4 : 0) + 2 + (int)strlen(f->name) + (f->arg[0] ? 1 : 0) +
           (int)strlen(f->arg);
}

void fl_lg_flags_usage(const struct fl_lg_command *cmd, FILE *f)
{
    int width = 0;
    for (size_t i = 0; i < cmd->nflags; i++)
        if (left_width(&cmd->flags[i]) > width)
            width = left_width(&cmd->flags[i]);
    width += 2;
    fprintf(f, "%s\n", cmd->synopsis);
    for (size_t i = 0; i < cmd->nflags; i++) {
        const struct fl_lg_flag *o = &cmd->flags[i];
        char left[96];
        if (o->letter)
            snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->letter, o->name,
                     o->arg[0] ? " " : "", o->arg);
        else
            snprintf(left, sizeof(left), "  --%s%s%s", o->name, o->arg[0] ? " " : "", o->arg);
        fprintf(f, "%-*s", width, left);
        for (const char *h = o->help;;) {
            size_t n = strcspn(h, "\n");
            fprintf(f, "%.*s\n", (int)n, h);
            if (!h[n])
                break;
            h += n + 1;
            fprintf(f, "%*s", width, "");
        }
    }
    if (cmd->epilog)
        fprintf(f, "\n%s", cmd->epilog);
}

/* ----------------------------------------------------------------- parsing */

static int check_number(const struct fl_lg_command *cmd, const struct fl_lg_flag *f,
                        const char *text, struct fl_lg_value *v)
{
    if (f->kind == FL_LG_FLAG_RATE) {
        char *end;
        errno = 0;
        double r = strtod(text, &end);
        if (!*text || *end || errno || !(r >= 0) || r > 1e9) {
            fprintf(stderr, "%s: --%s %s: expected requests/s, 0..1e9\n", cmd->prog, f->name, text);
            return -1;
        }
        v->x = r;
        return 0;
    }
    bool time = f->kind == FL_LG_FLAG_TIME;
    char why[160];
    if (fl_dist_parse_value(time ? FL_DIST_TIME : FL_DIST_COUNT, text, &v->n, why, sizeof(why))) {
        fprintf(stderr, "%s: --%s %s: %s\n", cmd->prog, f->name, text, why);
        return -1;
    }
    if (v->n < f->lo || v->n > f->hi) {
        fprintf(stderr, "%s: --%s %s: out of range (%" PRIu64 "..%" PRIu64 "%s)\n", cmd->prog,
                f->name, text, time ? f->lo / MS : f->lo, time ? f->hi / MS : f->hi,
                time ? " ms" : "");
        return -1;
    }
    return 0;
}

/* Stores one flag's value; 0, 1 (--help or --version printed) or -1. */
static int store(const struct fl_lg_command *cmd, const struct fl_lg_flag *f, const char *text,
                 void *opts)
{
    char *field = (char *)opts + f->off;
    switch (f->kind) {
    case FL_LG_FLAG_SWITCH:
        *(bool *)field = true;
        return 0;
    case FL_LG_FLAG_TEXT:
        *(const char **)field = text;
        return 0;
    case FL_LG_FLAG_HELP:
        fl_lg_flags_usage(cmd, stdout);
        return 1;
    case FL_LG_FLAG_VERSION:
        printf(LG " %s\n", FRAGLAB_VERSION);
        return 1;
    case FL_LG_FLAG_TIME:
    case FL_LG_FLAG_COUNT:
    case FL_LG_FLAG_RATE: {
        struct fl_lg_value v = {.text = text};
        if (check_number(cmd, f, text, &v))
            return -1;
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    }
    return -1;
}

int fl_lg_flags_parse(const struct fl_lg_command *cmd, int argc, char **argv, void *opts)
{
    struct option longs[MAX_FLAGS + 1] = {{0}};
    char shorts[2 * MAX_FLAGS + 2] = ":"; /* ':' first: a missing value is told apart */
    size_t ns = 1, n = cmd->nflags < MAX_FLAGS ? cmd->nflags : MAX_FLAGS;
    for (size_t i = 0; i < n; i++) {
        const struct fl_lg_flag *f = &cmd->flags[i];
        bool value = f->kind != FL_LG_FLAG_SWITCH && f->kind != FL_LG_FLAG_HELP &&
                     f->kind != FL_LG_FLAG_VERSION;
        longs[i] =
            (struct option){f->name, value ? required_argument : no_argument, NULL, 0x100 + (int)i};
        if (f->letter) {
            shorts[ns++] = f->letter;
            if (value)
                shorts[ns++] = ':';
        }
    }
    opterr = 0;
    optind = 0; /* glibc: start afresh, also after an earlier parse */
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        size_t i = (size_t)c - 0x100;
        if (c < 0x100)
            for (i = 0; i < n && cmd->flags[i].letter != c; i++)
                ;
        if (c == ':') {
            fprintf(stderr, "%s: %s needs a value (try --help)\n", cmd->prog, argv[optind - 1]);
            return -1;
        }
        if (c == '?' || i >= n) {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", cmd->prog, argv[optind - 1]);
            return -1;
        }
        int rc = store(cmd, &cmd->flags[i], optarg, opts);
        if (rc)
            return rc;
    }
    if (optind < argc && cmd->pos_off != SIZE_MAX) {
        *(const char **)((char *)opts + cmd->pos_off) = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", cmd->prog, argv[optind]);
        return -1;
    }
    return 0;
}
